//! Streaming a roster import up (in chunks, with progress) and an export down.

use tica_proto::tica::common::v1 as common;
use tica_proto::tica::roster::v1 as pb;
use tonic::Status;

use crate::Roster as RosterClient;

/// Bytes per uploaded chunk.
pub const CHUNK: usize = 1 << 20;

/// What an import answered.
#[derive(Clone, Debug, Default)]
pub struct ImportResult {
    /// Every refused row, in line order.
    pub errors: Vec<common::RowError>,
    /// The report.
    pub report: common::ImportReport,
    /// Progress messages seen.
    pub progress: Vec<common::ImportProgress>,
}

/// Which file kind to import.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Schools.
    Schools,
    /// Teachers.
    Teachers,
}

/// The request and response types of one import RPC.
trait ImportRpc: Sized + Send + 'static {
    type Response: Send + 'static;
    fn options(options: common::ImportOptions, parent: String) -> Self;
    fn chunk(bytes: Vec<u8>) -> Self;
    fn open(
        client: &mut RosterClient,
        requests: tokio_stream::wrappers::ReceiverStream<Self>,
    ) -> impl std::future::Future<Output = Result<tonic::Streaming<Self::Response>, Status>> + Send;
    /// Progress, errors and report of a response message.
    fn split(
        response: Self::Response,
    ) -> (
        Option<common::ImportProgress>,
        Vec<common::RowError>,
        Option<common::ImportReport>,
    );
}

macro_rules! import_rpc {
    ($request:ty, $response:ty, $method:ident, $inp:path, $outp:path) => {
        impl ImportRpc for $request {
            type Response = $response;
            fn options(options: common::ImportOptions, parent: String) -> Self {
                use $inp as In;
                Self {
                    payload: Some(In::Options(options)),
                    parent,
                }
            }
            fn chunk(bytes: Vec<u8>) -> Self {
                use $inp as In;
                Self {
                    payload: Some(In::Chunk(bytes)),
                    parent: String::new(),
                }
            }
            async fn open(
                client: &mut RosterClient,
                requests: tokio_stream::wrappers::ReceiverStream<Self>,
            ) -> Result<tonic::Streaming<$response>, Status> {
                Ok(client.$method(requests).await?.into_inner())
            }
            fn split(
                response: $response,
            ) -> (
                Option<common::ImportProgress>,
                Vec<common::RowError>,
                Option<common::ImportReport>,
            ) {
                use $outp as Out;
                match response.payload {
                    Some(Out::Progress(p)) => (Some(p), Vec::new(), None),
                    Some(Out::RowErrors(e)) => (None, e.errors, None),
                    Some(Out::Report(r)) => (None, Vec::new(), Some(r)),
                    None => (None, Vec::new(), None),
                }
            }
        }
    };
}
import_rpc!(
    pb::ImportTeachersRequest,
    pb::ImportTeachersResponse,
    import_teachers,
    pb::import_teachers_request::Payload,
    pb::import_teachers_response::Payload
);
import_rpc!(
    pb::ImportSchoolsRequest,
    pb::ImportSchoolsResponse,
    import_schools,
    pb::import_schools_request::Payload,
    pb::import_schools_response::Payload
);

/// Streams `bytes` as an import; `on_progress` sees bytes sent and the server's progress.
pub async fn import(
    client: &mut RosterClient,
    kind: Kind,
    parent: &str,
    options: common::ImportOptions,
    bytes: Vec<u8>,
    on_progress: impl FnMut(Progress),
) -> Result<ImportResult, Status> {
    match kind {
        Kind::Teachers => {
            import_with::<pb::ImportTeachersRequest>(client, parent, options, bytes, on_progress)
                .await
        }
        Kind::Schools => {
            import_with::<pb::ImportSchoolsRequest>(client, parent, options, bytes, on_progress)
                .await
        }
    }
}

async fn import_with<R: ImportRpc>(
    client: &mut RosterClient,
    parent: &str,
    options: common::ImportOptions,
    bytes: Vec<u8>,
    mut on_progress: impl FnMut(Progress),
) -> Result<ImportResult, Status> {
    let total = bytes.len();
    let sent = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let (tx, rx) = tokio::sync::mpsc::channel::<R>(4);
    let first = R::options(options, parent.to_owned());
    let counter = sent.clone();
    tokio::spawn(async move {
        if tx.send(first).await.is_err() {
            return;
        }
        for chunk in bytes.chunks(CHUNK) {
            if tx.send(R::chunk(chunk.to_vec())).await.is_err() {
                return;
            }
            counter.fetch_add(chunk.len(), std::sync::atomic::Ordering::Relaxed);
        }
    });
    let mut responses = R::open(client, tokio_stream::wrappers::ReceiverStream::new(rx)).await?;
    let mut result = ImportResult::default();
    let mut report = None;
    while let Some(message) = responses.message().await? {
        let (progress, errors, last) = R::split(message);
        if let Some(p) = progress {
            let bytes_sent = sent.load(std::sync::atomic::Ordering::Relaxed);
            on_progress(Progress {
                bytes_sent,
                bytes_total: total,
                server: Some(p.clone()),
            });
            result.progress.push(p);
        }
        result.errors.extend(errors);
        report = report.or(last);
    }
    result.report =
        report.ok_or_else(|| Status::internal("the import stream ended without a report"))?;
    on_progress(Progress {
        bytes_sent: total,
        bytes_total: total,
        server: None,
    });
    Ok(result)
}

/// Progress of an upload and its processing.
#[derive(Clone, Debug)]
pub struct Progress {
    /// Bytes handed to the transport.
    pub bytes_sent: usize,
    /// File size.
    pub bytes_total: usize,
    /// The server's latest progress message, if this update carries one.
    pub server: Option<common::ImportProgress>,
}

/// An exported file.
#[derive(Clone, Debug)]
pub struct Exported {
    /// Metadata.
    pub metadata: common::ExportMetadata,
    /// Bytes.
    pub bytes: Vec<u8>,
}

/// Downloads an export of `kind` under `parent`.
pub async fn export(
    client: &mut RosterClient,
    kind: Kind,
    parent: &str,
    format: common::FileFormat,
    full_ids: bool,
) -> Result<Exported, Status> {
    let mut metadata = None;
    let mut bytes = Vec::new();
    match kind {
        Kind::Teachers => {
            use pb::export_teachers_response::Payload;
            let request = pb::ExportTeachersRequest {
                parent: parent.to_owned(),
                format: format as i32,
                include_full_id_numbers: full_ids,
            };
            let mut stream = client.export_teachers(request).await?.into_inner();
            while let Some(message) = stream.message().await? {
                match message.payload {
                    Some(Payload::Metadata(m)) => metadata = Some(m),
                    Some(Payload::Chunk(c)) => bytes.extend_from_slice(&c),
                    None => {}
                }
            }
        }
        Kind::Schools => {
            use pb::export_schools_response::Payload;
            let request = pb::ExportSchoolsRequest {
                parent: parent.to_owned(),
                format: format as i32,
            };
            let mut stream = client.export_schools(request).await?.into_inner();
            while let Some(message) = stream.message().await? {
                match message.payload {
                    Some(Payload::Metadata(m)) => metadata = Some(m),
                    Some(Payload::Chunk(c)) => bytes.extend_from_slice(&c),
                    None => {}
                }
            }
        }
    }
    Ok(Exported {
        metadata: metadata.ok_or_else(|| Status::internal("the export stream had no metadata"))?,
        bytes,
    })
}
