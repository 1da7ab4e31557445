//! Batches and their review chain.

use super::*;

pub(super) async fn get_batch(
    grpc: &AssessmentGrpc,
    request: Request<pb::GetBatchRequest>,
) -> Reply<pb::Batch> {
    let c = ctx(&request)?;
    let id = convert::ids("name", &request.get_ref().name, &["batches"])?[0].to_owned();
    let b = grpc.svc.get_batch(&c, &id).await?;
    ok(grpc.batch_proto(&b).await?)
}

pub(super) async fn list_batches(
    grpc: &AssessmentGrpc,
    request: Request<pb::ListBatchesRequest>,
) -> Reply<pb::ListBatchesResponse> {
    let c = ctx(&request)?;
    let r = request.into_inner();
    let parent = if r.parent.is_empty() {
        None
    } else {
        Some(convert::code_in("parent", &r.parent, "jurisdictions")?)
    };
    let state = convert::filter("state", r.state, convert::batch_state_from)?;
    let (page, after) = page::<(String, String)>(
        r.page_size,
        &r.page_token,
        format!("parent={};year={};state={}", r.parent, r.year, r.state),
    )?;
    let (rows, total) = grpc
        .svc
        .list_batches(
            &c,
            parent,
            r.year,
            state,
            &after.unwrap_or_default(),
            page.limit(),
        )
        .await?;
    let (rows, next_page_token) = page.finish(rows, |b| (b.path.as_str().to_owned(), b.id.clone()));
    let mut batches = Vec::with_capacity(rows.len());
    for b in &rows {
        batches.push(grpc.batch_proto(b).await?);
    }
    ok(pb::ListBatchesResponse {
        batches,
        next_page_token,
        total_size: total,
    })
}

pub(super) async fn create_batch(
    grpc: &AssessmentGrpc,
    request: Request<pb::CreateBatchRequest>,
) -> Reply<pb::Batch> {
    let c = ctx(&request)?;
    let b = request
        .into_inner()
        .batch
        .ok_or_else(|| err(AssessmentError::invalid("batch", "required")))?;
    let county = convert::code_in("batch.county", &b.county, "jurisdictions")?;
    let schools = b
        .schools
        .iter()
        .enumerate()
        .map(|(i, s)| {
            convert::ids(&format!("batch.schools[{i}]"), s, &["schools"]).map(|v| v[0].to_owned())
        })
        .collect::<Result<Vec<_>, _>>()?;
    let new = NewBatch {
        county,
        year: b.year,
        display_name: b.display_name,
        schools,
        selection_deadline: convert::date(
            "batch.selection_deadline",
            b.selection_deadline.as_ref(),
        )?,
        submission_deadline: convert::date(
            "batch.submission_deadline",
            b.submission_deadline.as_ref(),
        )?,
        grading_deadline: convert::date("batch.grading_deadline", b.grading_deadline.as_ref())?,
        certificate_date: convert::date("batch.certificate_date", b.certificate_date.as_ref())?,
    };
    let batch = grpc.svc.create_batch(&c, new).await?;
    ok(grpc.batch_proto(&batch).await?)
}

pub(super) async fn update_batch(
    grpc: &AssessmentGrpc,
    request: Request<pb::UpdateBatchRequest>,
) -> Reply<pb::Batch> {
    let c = ctx(&request)?;
    let r = request.into_inner();
    let b = r
        .batch
        .ok_or_else(|| err(AssessmentError::invalid("batch", "required")))?;
    let id = convert::ids("batch.name", &b.name, &["batches"])?[0].to_owned();
    let mut update = BatchUpdate {
        etag: (!b.etag.is_empty()).then(|| b.etag.clone()),
        ..Default::default()
    };
    for path in mask_paths(
        r.update_mask.as_ref(),
        &[
            "display_name",
            "schools",
            "selection_deadline",
            "submission_deadline",
            "grading_deadline",
            "certificate_date",
        ],
    )? {
        match path {
            "display_name" => update.display_name = Some(b.display_name.clone()),
            "schools" => {
                update.schools = Some(
                    b.schools
                        .iter()
                        .enumerate()
                        .map(|(i, s)| {
                            convert::ids(&format!("batch.schools[{i}]"), s, &["schools"])
                                .map(|v| v[0].to_owned())
                        })
                        .collect::<Result<Vec<_>, _>>()?,
                )
            }
            "selection_deadline" => {
                update.selection_deadline = Some(convert::date(
                    "batch.selection_deadline",
                    b.selection_deadline.as_ref(),
                )?)
            }
            "submission_deadline" => {
                update.submission_deadline = Some(convert::date(
                    "batch.submission_deadline",
                    b.submission_deadline.as_ref(),
                )?)
            }
            "grading_deadline" => {
                update.grading_deadline = Some(convert::date(
                    "batch.grading_deadline",
                    b.grading_deadline.as_ref(),
                )?)
            }
            _ => {
                update.certificate_date = Some(convert::date(
                    "batch.certificate_date",
                    b.certificate_date.as_ref(),
                )?)
            }
        }
    }
    let batch = grpc.svc.update_batch(&c, &id, update).await?;
    ok(grpc.batch_proto(&batch).await?)
}

pub(super) async fn open_batch(
    grpc: &AssessmentGrpc,
    request: Request<pb::OpenBatchRequest>,
) -> Reply<pb::Batch> {
    let c = ctx(&request)?;
    let r = request.into_inner();
    let id = convert::ids("name", &r.name, &["batches"])?[0].to_owned();
    let open = convert::date("open_date", r.open_date.as_ref())?;
    let batch = grpc.svc.open_batch(&c, &id, open).await?;
    ok(grpc.batch_proto(&batch).await?)
}

pub(super) async fn begin_province_audit(
    grpc: &AssessmentGrpc,
    request: Request<pb::BeginProvinceAuditRequest>,
) -> Reply<pb::Batch> {
    let c = ctx(&request)?;
    let r = request.into_inner();
    let id = convert::ids("name", &r.name, &["batches"])?[0].to_owned();
    let b = grpc
        .svc
        .begin_province_audit(&c, &id, &r.review_round, &r.reason)
        .await?;
    ok(grpc.batch_proto(&b).await?)
}

pub(super) async fn certify_batch(
    grpc: &AssessmentGrpc,
    request: Request<pb::CertifyBatchRequest>,
) -> Reply<pb::Batch> {
    let c = ctx(&request)?;
    let r = request.into_inner();
    let id = convert::ids("name", &r.name, &["batches"])?[0].to_owned();
    let b = grpc
        .svc
        .certify_batch(&c, &id, &r.review_round, &r.reason)
        .await?;
    ok(grpc.batch_proto(&b).await?)
}

pub(super) async fn return_batch(
    grpc: &AssessmentGrpc,
    request: Request<pb::ReturnBatchRequest>,
) -> Reply<pb::Batch> {
    let c = ctx(&request)?;
    let r = request.into_inner();
    let id = convert::ids("name", &r.name, &["batches"])?[0].to_owned();
    let b = grpc
        .svc
        .return_batch(&c, &id, &r.review_round, &r.reason)
        .await?;
    ok(grpc.batch_proto(&b).await?)
}
