//! The gRPC adapter: one thin method per RPC — authenticate, convert, call the logic, convert.

use std::pin::Pin;
use std::sync::Arc;

use futures::Stream;
use tica_auth::{Caller, caller_from};
use tica_domain::AssessorAction;
use tica_domain::names::ApiClientName;
use tica_proto::tica::common::v1 as common;
use tica_proto::tica::roster::v1 as pb;
use tica_proto::tica::roster::v1::roster_service_server::RosterService;
use tica_server::paging::Page;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status, Streaming};

use crate::convert::{self, filter};
use crate::error::RosterError;
use crate::service::{
    ExportFile, ExportFormat, ImportOptions, ImportOutcome, ImportProgress, PageSpec, PlanDecision,
    ProgressSink, Roster,
};
use crate::store::assessors::AssessorFilter;
use crate::store::schools::SchoolFilter;
use crate::store::teachers::TeacherFilter;

/// Bytes per streamed export chunk.
const EXPORT_CHUNK: usize = 1 << 20;
/// Refused rows per RowErrors message.
const ERRORS_PER_MESSAGE: usize = 1000;

/// The tonic service.
#[derive(Clone, Debug)]
pub struct RosterGrpc {
    roster: Roster,
}

impl RosterGrpc {
    /// Serves `roster`.
    pub fn new(roster: Roster) -> RosterGrpc {
        RosterGrpc { roster }
    }
}

type Stream_<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send + 'static>>;
type Reply<T> = Result<Response<T>, Status>;

fn page<K: serde::Serialize + serde::de::DeserializeOwned>(
    size: i32,
    token: &str,
    filter: String,
) -> Result<(Page<K>, PageSpec<K>), Status> {
    let page: Page<K> = Page::from_request(size, token, &filter)?;
    let spec = PageSpec {
        limit: page.limit(),
        after: page.after.as_ref().map(|k| {
            serde_json::from_value(serde_json::to_value(k).expect("keys serialise"))
                .expect("keys deserialise")
        }),
    };
    Ok((page, spec))
}

fn export_format(value: i32) -> Result<ExportFormat, Status> {
    match common::FileFormat::try_from(value) {
        Ok(common::FileFormat::Unspecified | common::FileFormat::Csv) => Ok(ExportFormat::Csv),
        Ok(common::FileFormat::Xlsx) => Ok(ExportFormat::Xlsx),
        Err(_) => Err(RosterError::invalid("format", "unknown format").into()),
    }
}

/// Sends an export as metadata, then chunks.
fn export_stream<T: Send + 'static>(
    file: ExportFile,
    metadata: impl FnOnce(common::ExportMetadata) -> T,
    chunk: impl Fn(Vec<u8>) -> T + Send + 'static,
) -> Stream_<T> {
    let first = metadata(common::ExportMetadata {
        file_name: file.file_name,
        content_type: file.content_type.to_owned(),
        row_count: file.row_count,
    });
    let bytes = file.bytes;
    let chunks: Vec<T> = bytes
        .chunks(EXPORT_CHUNK)
        .map(|c| chunk(c.to_vec()))
        .collect();
    Box::pin(tokio_stream::iter(
        std::iter::once(first).chain(chunks).map(Ok),
    ))
}

/// What an import stream needs to know about its message types.
trait ImportMessages: Send + 'static {
    type Request: Send + 'static;
    fn split(request: Self::Request) -> (Option<common::ImportOptions>, Option<Vec<u8>>, String);
    fn progress(p: common::ImportProgress) -> Self;
    fn errors(e: common::RowErrors) -> Self;
    fn report(r: common::ImportReport) -> Self;
}

macro_rules! import_messages {
    ($response:ty, $request:ty, $req_payload:path, $resp_payload:path) => {
        impl ImportMessages for $response {
            type Request = $request;
            fn split(
                request: $request,
            ) -> (Option<common::ImportOptions>, Option<Vec<u8>>, String) {
                use $req_payload as P;
                match request.payload {
                    Some(P::Options(o)) => (Some(o), None, request.parent),
                    Some(P::Chunk(c)) => (None, Some(c), request.parent),
                    None => (None, None, request.parent),
                }
            }
            fn progress(p: common::ImportProgress) -> Self {
                Self {
                    payload: Some(<$resp_payload>::Progress(p)),
                }
            }
            fn errors(e: common::RowErrors) -> Self {
                Self {
                    payload: Some(<$resp_payload>::RowErrors(e)),
                }
            }
            fn report(r: common::ImportReport) -> Self {
                Self {
                    payload: Some(<$resp_payload>::Report(r)),
                }
            }
        }
    };
}
import_messages!(
    pb::ImportTeachersResponse,
    pb::ImportTeachersRequest,
    pb::import_teachers_request::Payload,
    pb::import_teachers_response::Payload
);
import_messages!(
    pb::ImportSchoolsResponse,
    pb::ImportSchoolsRequest,
    pb::import_schools_request::Payload,
    pb::import_schools_response::Payload
);

/// Forwards progress into the response stream without ever blocking the import.
struct ChannelSink<M: ImportMessages> {
    tx: mpsc::Sender<Result<M, Status>>,
    bytes: i64,
}

impl<M: ImportMessages> ProgressSink for ChannelSink<M> {
    fn report(&self, p: ImportProgress) {
        let _ = self.tx.try_send(Ok(M::progress(common::ImportProgress {
            bytes_received: self.bytes,
            rows_checked: p.rows_checked,
            rows_written: p.rows_written,
            phase: p.phase.to_owned(),
        })));
    }
}

type ImportFn = dyn Fn(
        Roster,
        Caller,
        String,
        ImportOptions,
        Vec<u8>,
        Arc<dyn ProgressSink>,
    ) -> Pin<Box<dyn std::future::Future<Output = Result<ImportOutcome, RosterError>> + Send>>
    + Send
    + Sync;

/// Receives the file, runs `run`, and streams progress, refused rows and the report.
async fn import_stream<M: ImportMessages>(
    roster: Roster,
    caller: Caller,
    mut incoming: Streaming<M::Request>,
    run: Arc<ImportFn>,
) -> Result<Stream_<M>, Status>
where
    M::Request: tica_proto::prost::Message + Default,
{
    let first = incoming
        .message()
        .await?
        .ok_or_else(|| Status::from(RosterError::invalid("options", "the stream is empty")))?;
    let (options, chunk, parent) = M::split(first);
    let options = options.ok_or_else(|| {
        Status::from(RosterError::invalid(
            "options",
            "the first message must carry the import options",
        ))
    })?;
    let options = convert::import_options(options)?;
    let mut bytes = chunk.unwrap_or_default();
    // The upload cap (`TICA_IMPORT_MAX_BYTES`), checked as chunks arrive: a larger file is
    // refused before it is held.
    let max_bytes = roster.limits().max_file_bytes;
    let (tx, rx) = mpsc::channel::<Result<M, Status>>(64);
    tokio::spawn(tracing::Instrument::in_current_span(async move {
        let mut last_report = 0usize;
        loop {
            match incoming.message().await {
                Ok(Some(message)) => match M::split(message) {
                    (None, Some(chunk), _) => {
                        if bytes.len() + chunk.len() > max_bytes {
                            let _ = tx
                                .send(Err(Status::resource_exhausted(format!(
                                    "files larger than {} MiB are refused; split the file",
                                    max_bytes >> 20
                                ))))
                                .await;
                            return;
                        }
                        bytes.extend_from_slice(&chunk);
                        if bytes.len() - last_report >= 8 << 20 {
                            last_report = bytes.len();
                            let _ = tx.try_send(Ok(M::progress(common::ImportProgress {
                                bytes_received: bytes.len() as i64,
                                phase: "receiving".into(),
                                ..Default::default()
                            })));
                        }
                    }
                    _ => {
                        let _ = tx
                            .send(Err(RosterError::invalid(
                                "chunk",
                                "only the first message carries options",
                            )
                            .into()))
                            .await;
                        return;
                    }
                },
                Ok(None) => break,
                // The client went away or broke the stream: nothing was stored.
                Err(status) => {
                    let _ = tx.send(Err(status)).await;
                    return;
                }
            }
        }
        let sink: Arc<dyn ProgressSink> = Arc::new(ChannelSink::<M> {
            tx: tx.clone(),
            bytes: bytes.len() as i64,
        });
        match run(roster, caller, parent, options, bytes, sink).await {
            Ok(outcome) => {
                for batch in outcome.errors.chunks(ERRORS_PER_MESSAGE) {
                    let errors = common::RowErrors {
                        errors: batch.iter().map(convert::row_error_to_proto).collect(),
                    };
                    if tx.send(Ok(M::errors(errors))).await.is_err() {
                        return;
                    }
                }
                let report = common::ImportReport {
                    rows_total: outcome.rows_total,
                    rows_created: outcome.rows_created,
                    rows_updated: outcome.rows_updated,
                    rows_rejected: outcome.rows_rejected,
                    committed: outcome.committed,
                    file_error: outcome.file_error.unwrap_or_default(),
                    file_sha256: outcome.file_sha256,
                    elapsed_millis: outcome.elapsed_millis,
                };
                let _ = tx.send(Ok(M::report(report))).await;
            }
            Err(error) => {
                let _ = tx.send(Err(error.into())).await;
            }
        }
    }));
    Ok(Box::pin(ReceiverStream::new(rx)))
}

#[tonic::async_trait]
impl RosterService for RosterGrpc {
    async fn get_jurisdiction(
        &self,
        request: Request<pb::GetJurisdictionRequest>,
    ) -> Reply<pb::Jurisdiction> {
        let caller = caller_from(&request)?;
        let code = convert::jurisdiction_code("name", &request.get_ref().name)?;
        let j = self.roster.get_jurisdiction(&caller, code).await?;
        Ok(Response::new(convert::jurisdiction_to_proto(&j)))
    }

    async fn list_jurisdictions(
        &self,
        request: Request<pb::ListJurisdictionsRequest>,
    ) -> Reply<pb::ListJurisdictionsResponse> {
        let caller = caller_from(&request)?;
        let r = request.into_inner();
        let parent = convert::optional_jurisdiction("parent", &r.parent)?;
        let (page, spec) =
            page::<String>(r.page_size, &r.page_token, format!("parent={}", r.parent))?;
        let (rows, total) = self
            .roster
            .list_jurisdictions(&caller, parent, spec)
            .await?;
        let (rows, next_page_token) = page.finish(rows, |j| j.code.to_string());
        Ok(Response::new(pb::ListJurisdictionsResponse {
            jurisdictions: rows.iter().map(convert::jurisdiction_to_proto).collect(),
            next_page_token,
            total_size: total,
        }))
    }

    async fn create_jurisdiction(
        &self,
        request: Request<pb::CreateJurisdictionRequest>,
    ) -> Reply<pb::Jurisdiction> {
        let caller = caller_from(&request)?;
        let new = convert::new_jurisdiction(request.into_inner())?;
        let j = self.roster.create_jurisdiction(&caller, new).await?;
        Ok(Response::new(convert::jurisdiction_to_proto(&j)))
    }

    async fn update_jurisdiction(
        &self,
        request: Request<pb::UpdateJurisdictionRequest>,
    ) -> Reply<pb::Jurisdiction> {
        let caller = caller_from(&request)?;
        let (code, update) = convert::jurisdiction_update(request.into_inner())?;
        let j = self
            .roster
            .update_jurisdiction(&caller, code, update)
            .await?;
        Ok(Response::new(convert::jurisdiction_to_proto(&j)))
    }

    async fn get_school(&self, request: Request<pb::GetSchoolRequest>) -> Reply<pb::School> {
        let caller = caller_from(&request)?;
        let code = convert::id_of("name", &request.get_ref().name, "schools")?;
        let s = self.roster.get_school(&caller, code).await?;
        Ok(Response::new(convert::school_to_proto(&s)))
    }

    async fn batch_get_schools(
        &self,
        request: Request<pb::BatchGetSchoolsRequest>,
    ) -> Reply<pb::BatchGetSchoolsResponse> {
        let caller = caller_from(&request)?;
        let r = request.into_inner();
        if r.names.len() > 1000 {
            return Err(RosterError::invalid("names", "at most 1000").into());
        }
        let codes = r
            .names
            .iter()
            .enumerate()
            .map(|(i, n)| convert::id_of(&format!("names[{i}]"), n, "schools").map(str::to_owned))
            .collect::<Result<Vec<_>, _>>()?;
        let schools = self.roster.batch_get_schools(&caller, &codes).await?;
        Ok(Response::new(pb::BatchGetSchoolsResponse {
            schools: schools.iter().map(convert::school_to_proto).collect(),
        }))
    }

    async fn list_schools(
        &self,
        request: Request<pb::ListSchoolsRequest>,
    ) -> Reply<pb::ListSchoolsResponse> {
        let caller = caller_from(&request)?;
        let r = request.into_inner();
        let parent = convert::optional_jurisdiction("parent", &r.parent)?;
        let filter = SchoolFilter {
            kind: filter("kind", r.kind, convert::school_kind_from_proto)?,
            rural: r.rural,
        };
        let (page, spec) = page::<String>(
            r.page_size,
            &r.page_token,
            format!("parent={};kind={};rural={:?}", r.parent, r.kind, r.rural),
        )?;
        let (rows, total) = self
            .roster
            .list_schools(&caller, parent, filter, spec)
            .await?;
        let (rows, next_page_token) = page.finish(rows, |s| s.path.as_str().to_owned());
        Ok(Response::new(pb::ListSchoolsResponse {
            schools: rows.iter().map(convert::school_to_proto).collect(),
            next_page_token,
            total_size: total,
        }))
    }

    async fn create_school(&self, request: Request<pb::CreateSchoolRequest>) -> Reply<pb::School> {
        let caller = caller_from(&request)?;
        let new = convert::new_school(request.into_inner())?;
        let s = self.roster.create_school(&caller, new).await?;
        Ok(Response::new(convert::school_to_proto(&s)))
    }

    async fn update_school(&self, request: Request<pb::UpdateSchoolRequest>) -> Reply<pb::School> {
        let caller = caller_from(&request)?;
        let (code, update) = convert::school_update(request.into_inner())?;
        let s = self.roster.update_school(&caller, &code, update).await?;
        Ok(Response::new(convert::school_to_proto(&s)))
    }

    async fn review_school_ict_plan(
        &self,
        request: Request<pb::ReviewSchoolIctPlanRequest>,
    ) -> Reply<pb::School> {
        let caller = caller_from(&request)?;
        let r = request.into_inner();
        let code = convert::id_of("name", &r.name, "schools")?;
        let decision = match pb::IctPlanDecision::try_from(r.decision) {
            Ok(pb::IctPlanDecision::File) => PlanDecision::File,
            Ok(pb::IctPlanDecision::Return) => PlanDecision::Return,
            _ => return Err(RosterError::invalid("decision", "FILE or RETURN").into()),
        };
        let s = self
            .roster
            .review_ict_plan(&caller, code, decision, r.comment)
            .await?;
        Ok(Response::new(convert::school_to_proto(&s)))
    }

    type ImportSchoolsStream = Stream_<pb::ImportSchoolsResponse>;

    async fn import_schools(
        &self,
        request: Request<Streaming<pb::ImportSchoolsRequest>>,
    ) -> Reply<Self::ImportSchoolsStream> {
        let caller = caller_from(&request)?;
        let run: Arc<ImportFn> = Arc::new(|roster, caller, parent, options, bytes, sink| {
            Box::pin(async move {
                let parent = convert::optional_jurisdiction("parent", &parent)?;
                roster
                    .import_schools(&caller, parent, options, bytes, sink)
                    .await
            })
        });
        let stream = import_stream::<pb::ImportSchoolsResponse>(
            self.roster.clone(),
            caller,
            request.into_inner(),
            run,
        )
        .await?;
        Ok(Response::new(stream))
    }

    type ExportSchoolsStream = Stream_<pb::ExportSchoolsResponse>;

    async fn export_schools(
        &self,
        request: Request<pb::ExportSchoolsRequest>,
    ) -> Reply<Self::ExportSchoolsStream> {
        use pb::export_schools_response::Payload;
        let caller = caller_from(&request)?;
        let r = request.into_inner();
        let parent = convert::optional_jurisdiction("parent", &r.parent)?;
        let file = self
            .roster
            .export_schools(&caller, parent, export_format(r.format)?)
            .await?;
        Ok(Response::new(export_stream(
            file,
            |m| pb::ExportSchoolsResponse {
                payload: Some(Payload::Metadata(m)),
            },
            |c| pb::ExportSchoolsResponse {
                payload: Some(Payload::Chunk(c)),
            },
        )))
    }

    async fn get_teacher(&self, request: Request<pb::GetTeacherRequest>) -> Reply<pb::Teacher> {
        let caller = caller_from(&request)?;
        let number = convert::id_of("name", &request.get_ref().name, "teachers")?;
        let t = self.roster.get_teacher(&caller, number).await?;
        Ok(Response::new(convert::teacher_to_proto(&t)))
    }

    async fn batch_get_teachers(
        &self,
        request: Request<pb::BatchGetTeachersRequest>,
    ) -> Reply<pb::BatchGetTeachersResponse> {
        let caller = caller_from(&request)?;
        let r = request.into_inner();
        if r.names.len() > 1000 {
            return Err(RosterError::invalid("names", "at most 1000").into());
        }
        let numbers = r
            .names
            .iter()
            .enumerate()
            .map(|(i, n)| convert::id_of(&format!("names[{i}]"), n, "teachers").map(str::to_owned))
            .collect::<Result<Vec<_>, _>>()?;
        let teachers = self.roster.batch_get_teachers(&caller, &numbers).await?;
        Ok(Response::new(pb::BatchGetTeachersResponse {
            teachers: teachers.iter().map(convert::teacher_to_proto).collect(),
        }))
    }

    async fn list_teachers(
        &self,
        request: Request<pb::ListTeachersRequest>,
    ) -> Reply<pb::ListTeachersResponse> {
        let caller = caller_from(&request)?;
        let r = request.into_inner();
        let parent = convert::optional_unit("parent", &r.parent)?;
        let id_number = if r.id_number.is_empty() {
            None
        } else {
            Some(
                tica_domain::ResidentId::parse(&r.id_number, crate::service::today())
                    .map_err(|e| Status::from(RosterError::invalid("id_number", e.to_string())))?,
            )
        };
        let filter = TeacherFilter {
            stage: filter("stage", r.stage, convert::stage_from_proto)?,
            category: filter("category", r.category, convert::category_from_proto)?,
            role: filter("role", r.role, convert::role_from_proto)?,
            id_number,
        };
        // The ID number shapes the result, but it must not sit in a token in clear: hash it.
        let id_key = if r.id_number.is_empty() {
            String::new()
        } else {
            hex::encode(<sha2::Sha256 as sha2::Digest>::digest(
                r.id_number.as_bytes(),
            ))
        };
        let (page, spec) = page::<(String, String)>(
            r.page_size,
            &r.page_token,
            format!(
                "parent={};stage={};category={};role={};id={}",
                r.parent, r.stage, r.category, r.role, id_key
            ),
        )?;
        let (rows, total) = self
            .roster
            .list_teachers(&caller, parent, filter, spec)
            .await?;
        let (rows, next_page_token) =
            page.finish(rows, |t| (t.path.as_str().to_owned(), t.number.clone()));
        Ok(Response::new(pb::ListTeachersResponse {
            teachers: rows.iter().map(convert::teacher_to_proto).collect(),
            next_page_token,
            total_size: total,
        }))
    }

    async fn list_teacher_identities(
        &self,
        request: Request<pb::ListTeacherIdentitiesRequest>,
    ) -> Reply<pb::ListTeacherIdentitiesResponse> {
        let caller = caller_from(&request)?;
        let r = request.into_inner();
        let parent = convert::optional_unit("parent", &r.parent)?;
        let (page, spec) = page::<(String, String)>(
            r.page_size,
            &r.page_token,
            format!("identities;parent={}", r.parent),
        )?;
        let rows = self
            .roster
            .list_teacher_identities(&caller, parent, spec)
            .await?;
        let (rows, next_page_token) =
            page.finish(rows, |t| (t.path.as_str().to_owned(), t.number.clone()));
        Ok(Response::new(pb::ListTeacherIdentitiesResponse {
            identities: rows
                .iter()
                .map(convert::teacher_identity_to_proto)
                .collect(),
            next_page_token,
        }))
    }

    async fn create_teacher(
        &self,
        request: Request<pb::CreateTeacherRequest>,
    ) -> Reply<pb::Teacher> {
        let caller = caller_from(&request)?;
        let new = convert::new_teacher(request.into_inner())?;
        let t = self.roster.create_teacher(&caller, new).await?;
        Ok(Response::new(convert::teacher_to_proto(&t)))
    }

    async fn update_teacher(
        &self,
        request: Request<pb::UpdateTeacherRequest>,
    ) -> Reply<pb::Teacher> {
        let caller = caller_from(&request)?;
        let (number, update) = convert::teacher_update(request.into_inner())?;
        let t = self.roster.update_teacher(&caller, &number, update).await?;
        Ok(Response::new(convert::teacher_to_proto(&t)))
    }

    async fn move_teacher(&self, request: Request<pb::MoveTeacherRequest>) -> Reply<pb::Teacher> {
        let caller = caller_from(&request)?;
        let r = request.into_inner();
        let number = convert::id_of("name", &r.name, "teachers")?;
        let school = convert::id_of("school", &r.school, "schools")?;
        let effective = match &r.effective_date {
            Some(d) => Some(
                tica_server::proto_time::date_from_proto(d)
                    .map_err(|e| Status::from(RosterError::invalid("effective_date", e)))?,
            ),
            None => None,
        };
        let t = self
            .roster
            .move_teacher(&caller, number, school, effective, r.reason)
            .await?;
        Ok(Response::new(convert::teacher_to_proto(&t)))
    }

    type ImportTeachersStream = Stream_<pb::ImportTeachersResponse>;

    async fn import_teachers(
        &self,
        request: Request<Streaming<pb::ImportTeachersRequest>>,
    ) -> Reply<Self::ImportTeachersStream> {
        let caller = caller_from(&request)?;
        let run: Arc<ImportFn> = Arc::new(|roster, caller, parent, options, bytes, sink| {
            Box::pin(async move {
                let parent = convert::optional_unit("parent", &parent)?;
                roster
                    .import_teachers(&caller, parent, options, bytes, sink)
                    .await
            })
        });
        let stream = import_stream::<pb::ImportTeachersResponse>(
            self.roster.clone(),
            caller,
            request.into_inner(),
            run,
        )
        .await?;
        Ok(Response::new(stream))
    }

    type ExportTeachersStream = Stream_<pb::ExportTeachersResponse>;

    async fn export_teachers(
        &self,
        request: Request<pb::ExportTeachersRequest>,
    ) -> Reply<Self::ExportTeachersStream> {
        use pb::export_teachers_response::Payload;
        let caller = caller_from(&request)?;
        let r = request.into_inner();
        let parent = convert::optional_unit("parent", &r.parent)?;
        let file = self
            .roster
            .export_teachers(
                &caller,
                parent,
                export_format(r.format)?,
                r.include_full_id_numbers,
            )
            .await?;
        Ok(Response::new(export_stream(
            file,
            |m| pb::ExportTeachersResponse {
                payload: Some(Payload::Metadata(m)),
            },
            |c| pb::ExportTeachersResponse {
                payload: Some(Payload::Chunk(c)),
            },
        )))
    }

    async fn get_team(&self, request: Request<pb::GetTeamRequest>) -> Reply<pb::Team> {
        let caller = caller_from(&request)?;
        let id = convert::id_of("name", &request.get_ref().name, "teams")?;
        let t = self.roster.get_team(&caller, id).await?;
        Ok(Response::new(convert::team_to_proto(&t)))
    }

    async fn list_teams(
        &self,
        request: Request<pb::ListTeamsRequest>,
    ) -> Reply<pb::ListTeamsResponse> {
        let caller = caller_from(&request)?;
        let r = request.into_inner();
        let parent = convert::optional_unit("parent", &r.parent)?;
        let kind = filter("kind", r.kind, convert::team_kind_from_proto)?;
        let (page, spec) = page::<(String, String)>(
            r.page_size,
            &r.page_token,
            format!("parent={};kind={}", r.parent, r.kind),
        )?;
        let (rows, total) = self.roster.list_teams(&caller, parent, kind, spec).await?;
        let (rows, next_page_token) =
            page.finish(rows, |t| (t.owner_path.as_str().to_owned(), t.id.clone()));
        Ok(Response::new(pb::ListTeamsResponse {
            teams: rows.iter().map(convert::team_to_proto).collect(),
            next_page_token,
            total_size: total,
        }))
    }

    async fn create_team(&self, request: Request<pb::CreateTeamRequest>) -> Reply<pb::Team> {
        let caller = caller_from(&request)?;
        let new = convert::new_team(request.into_inner())?;
        let t = self.roster.create_team(&caller, new).await?;
        Ok(Response::new(convert::team_to_proto(&t)))
    }

    async fn update_team(&self, request: Request<pb::UpdateTeamRequest>) -> Reply<pb::Team> {
        let caller = caller_from(&request)?;
        let (id, update) = convert::team_update(request.into_inner())?;
        let t = self.roster.update_team(&caller, &id, update).await?;
        Ok(Response::new(convert::team_to_proto(&t)))
    }

    async fn get_assessor(&self, request: Request<pb::GetAssessorRequest>) -> Reply<pb::Assessor> {
        let caller = caller_from(&request)?;
        let id = convert::id_of("name", &request.get_ref().name, "assessors")?;
        let a = self.roster.get_assessor(&caller, id).await?;
        Ok(Response::new(convert::assessor_to_proto(&a)))
    }

    async fn list_assessors(
        &self,
        request: Request<pb::ListAssessorsRequest>,
    ) -> Reply<pb::ListAssessorsResponse> {
        let caller = caller_from(&request)?;
        let r = request.into_inner();
        let parent = convert::optional_unit("parent", &r.parent)?;
        let teacher_number = if r.teacher.is_empty() {
            None
        } else {
            Some(convert::id_of("teacher", &r.teacher, "teachers")?.to_owned())
        };
        let filter = AssessorFilter {
            level: filter("level", r.level, convert::assessor_level_from_proto)?,
            state: filter("state", r.state, convert::assessor_state_from_proto)?,
            teacher_number,
        };
        let (page, spec) = page::<(String, String)>(
            r.page_size,
            &r.page_token,
            format!(
                "parent={};level={};state={};teacher={}",
                r.parent, r.level, r.state, r.teacher
            ),
        )?;
        let (rows, total) = self
            .roster
            .list_assessors(&caller, parent, filter, spec)
            .await?;
        let (rows, next_page_token) =
            page.finish(rows, |a| (a.path.as_str().to_owned(), a.id.clone()));
        Ok(Response::new(pb::ListAssessorsResponse {
            assessors: rows.iter().map(convert::assessor_to_proto).collect(),
            next_page_token,
            total_size: total,
        }))
    }

    async fn create_assessor(
        &self,
        request: Request<pb::CreateAssessorRequest>,
    ) -> Reply<pb::Assessor> {
        let caller = caller_from(&request)?;
        let new = convert::new_assessor(request.into_inner())?;
        let a = self.roster.create_assessor(&caller, new).await?;
        Ok(Response::new(convert::assessor_to_proto(&a)))
    }

    async fn update_assessor(
        &self,
        request: Request<pb::UpdateAssessorRequest>,
    ) -> Reply<pb::Assessor> {
        let caller = caller_from(&request)?;
        let r = request.into_inner();
        let a = r
            .assessor
            .ok_or_else(|| Status::from(RosterError::invalid("assessor", "required")))?;
        let id = convert::id_of("assessor.name", &a.name, "assessors")?.to_owned();
        convert::mask_paths(r.update_mask.as_ref(), &["subjects"])?;
        let a = self
            .roster
            .update_assessor_subjects(
                &caller,
                &id,
                a.subjects,
                convert::etag_sent(&a.etag).as_deref(),
            )
            .await?;
        Ok(Response::new(convert::assessor_to_proto(&a)))
    }

    async fn certify_assessor(
        &self,
        request: Request<pb::CertifyAssessorRequest>,
    ) -> Reply<pb::Assessor> {
        let caller = caller_from(&request)?;
        let r = request.into_inner();
        let id = convert::id_of("name", &r.name, "assessors")?;
        let certification = convert::certification(r.certification)?;
        let a = self
            .roster
            .transition_assessor(
                &caller,
                id,
                AssessorAction::Certify,
                String::new(),
                Some(certification),
            )
            .await?;
        Ok(Response::new(convert::assessor_to_proto(&a)))
    }

    async fn register_assessor(
        &self,
        request: Request<pb::RegisterAssessorRequest>,
    ) -> Reply<pb::Assessor> {
        let caller = caller_from(&request)?;
        let id = convert::id_of("name", &request.get_ref().name, "assessors")?;
        let a = self
            .roster
            .transition_assessor(&caller, id, AssessorAction::Register, String::new(), None)
            .await?;
        Ok(Response::new(convert::assessor_to_proto(&a)))
    }

    async fn reprimand_assessor(
        &self,
        request: Request<pb::ReprimandAssessorRequest>,
    ) -> Reply<pb::Assessor> {
        let caller = caller_from(&request)?;
        let r = request.into_inner();
        let id = convert::id_of("name", &r.name, "assessors")?;
        let a = self
            .roster
            .transition_assessor(&caller, id, AssessorAction::Reprimand, r.reason, None)
            .await?;
        Ok(Response::new(convert::assessor_to_proto(&a)))
    }

    async fn suspend_assessor(
        &self,
        request: Request<pb::SuspendAssessorRequest>,
    ) -> Reply<pb::Assessor> {
        let caller = caller_from(&request)?;
        let r = request.into_inner();
        let id = convert::id_of("name", &r.name, "assessors")?;
        let a = self
            .roster
            .transition_assessor(&caller, id, AssessorAction::Suspend, r.reason, None)
            .await?;
        Ok(Response::new(convert::assessor_to_proto(&a)))
    }

    async fn strike_off_assessor(
        &self,
        request: Request<pb::StrikeOffAssessorRequest>,
    ) -> Reply<pb::Assessor> {
        let caller = caller_from(&request)?;
        let r = request.into_inner();
        let id = convert::id_of("name", &r.name, "assessors")?;
        let a = self
            .roster
            .transition_assessor(&caller, id, AssessorAction::StrikeOff, r.reason, None)
            .await?;
        Ok(Response::new(convert::assessor_to_proto(&a)))
    }

    async fn create_api_client(
        &self,
        request: Request<pb::CreateApiClientRequest>,
    ) -> Reply<pb::ApiClient> {
        let caller = caller_from(&request)?;
        let new = convert::new_api_client(request.into_inner())?;
        let (client, secret) = self.roster.create_api_client(&caller, new).await?;
        Ok(Response::new(pb::ApiClient {
            client_secret: secret,
            ..convert::api_client_to_proto(&client)
        }))
    }

    async fn get_api_client(
        &self,
        request: Request<pb::GetApiClientRequest>,
    ) -> Reply<pb::ApiClient> {
        let caller = caller_from(&request)?;
        let id = convert::id_of("name", &request.get_ref().name, ApiClientName::COLLECTION)?;
        let client = self.roster.get_api_client(&caller, id).await?;
        Ok(Response::new(convert::api_client_to_proto(&client)))
    }

    async fn list_api_clients(
        &self,
        request: Request<pb::ListApiClientsRequest>,
    ) -> Reply<pb::ListApiClientsResponse> {
        let caller = caller_from(&request)?;
        let r = request.into_inner();
        let parent = convert::optional_jurisdiction("parent", &r.parent)?;
        let revoked = convert::api_client_revoked_filter(r.state)?;
        let (page, spec) = page::<(i64, String)>(
            r.page_size,
            &r.page_token,
            format!("parent={};state={}", r.parent, r.state),
        )?;
        let (rows, total) = self
            .roster
            .list_api_clients(&caller, parent, revoked, spec)
            .await?;
        let (rows, next_page_token) = page.finish(rows, |c| (c.create_micros, c.id.clone()));
        Ok(Response::new(pb::ListApiClientsResponse {
            api_clients: rows.iter().map(convert::api_client_to_proto).collect(),
            next_page_token,
            total_size: total,
        }))
    }

    async fn revoke_api_client(
        &self,
        request: Request<pb::RevokeApiClientRequest>,
    ) -> Reply<pb::ApiClient> {
        let caller = caller_from(&request)?;
        let r = request.get_ref();
        let id = convert::id_of("name", &r.name, ApiClientName::COLLECTION)?;
        let client = self
            .roster
            .revoke_api_client(&caller, id, &r.reason)
            .await?;
        Ok(Response::new(convert::api_client_to_proto(&client)))
    }

    async fn list_audit_events(
        &self,
        request: Request<pb::ListAuditEventsRequest>,
    ) -> Reply<pb::ListAuditEventsResponse> {
        let caller = caller_from(&request)?;
        let r = request.into_inner();
        let parent = convert::optional_unit("parent", &r.parent)?;
        let (page, spec) = page::<i64>(
            r.page_size,
            &r.page_token,
            format!("parent={};resource={}", r.parent, r.resource),
        )?;
        let rows = self
            .roster
            .list_audit_events(&caller, parent, &r.resource, spec)
            .await?;
        let (rows, next_page_token) = page.finish(rows, |e| e.id);
        Ok(Response::new(pb::ListAuditEventsResponse {
            audit_events: rows.iter().map(tica_server::audit_to_proto).collect(),
            next_page_token,
        }))
    }
}
