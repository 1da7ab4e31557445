//! Evidence uploads and downloads.

use super::*;

pub(super) async fn upload_evidence(
    grpc: &AssessmentGrpc,
    request: Request<Streaming<pb::UploadEvidenceRequest>>,
) -> Reply<pb::Evidence> {
    use pb::upload_evidence_request::Payload;
    let c = ctx(&request)?;
    let mut incoming = request.into_inner();
    let first = incoming
        .message()
        .await?
        .ok_or_else(|| err(AssessmentError::invalid("evidence", "the stream is empty")))?;
    let Some(Payload::Evidence(meta)) = first.payload else {
        return Err(AssessmentError::invalid(
            "evidence",
            "the first message carries the evidence's metadata",
        )
        .into());
    };
    let (b, t) = convert::participant("parent", &first.parent)?;
    let upload = EvidenceUpload {
        codes: meta.micro_competencies,
        kind: pconv::evidence_kind_from_proto(meta.kind)
            .map(service::evidence_kind_key)
            .unwrap_or("")
            .to_owned(),
        file_name: meta.file_name,
        content_type: meta.content_type,
        size_bytes: meta.size_bytes,
        sha256: meta.sha256,
        duration_seconds: i64::from(meta.duration_seconds),
        description: meta.description,
    };
    let chunks = incoming.map(|m| match m {
        Ok(pb::UploadEvidenceRequest {
            payload: Some(Payload::Chunk(bytes)),
            ..
        }) => Ok(bytes),
        Ok(_) => Err(AssessmentError::invalid(
            "chunk",
            "only the first message carries metadata",
        )),
        Err(status) => Err(AssessmentError::FailedPrecondition(format!(
            "the upload broke off: {}",
            status.message()
        ))),
    });
    let e = grpc
        .svc
        .upload_evidence(&c, &b, &t, upload, Box::pin(chunks))
        .await?;
    ok(convert::evidence_to_proto(&e))
}

pub(super) async fn get_evidence(
    grpc: &AssessmentGrpc,
    request: Request<pb::GetEvidenceRequest>,
) -> Reply<pb::Evidence> {
    let c = ctx(&request)?;
    let v = convert::ids(
        "name",
        &request.get_ref().name,
        &["batches", "participants", "evidence"],
    )?;
    ok(convert::evidence_to_proto(
        &grpc.svc.get_evidence(&c, v[0], v[1], v[2]).await?,
    ))
}

pub(super) async fn list_evidence(
    grpc: &AssessmentGrpc,
    request: Request<pb::ListEvidenceRequest>,
) -> Reply<pb::ListEvidenceResponse> {
    let c = ctx(&request)?;
    let r = request.into_inner();
    let (b, t) = convert::participant("parent", &r.parent)?;
    let code = if r.micro_competency.is_empty() {
        None
    } else {
        Some(r.micro_competency.as_str())
    };
    let (page, after) = page::<String>(
        r.page_size,
        &r.page_token,
        format!("parent={};code={}", r.parent, r.micro_competency),
    )?;
    let rows: Vec<EvidenceRecord> = grpc
        .svc
        .list_evidence(&c, &b, &t, code)
        .await?
        .into_iter()
        .filter(|e| after.as_ref().is_none_or(|a| &e.id > a))
        .take(page.limit() as usize)
        .collect();
    let (rows, next_page_token) = page.finish(rows, |e| e.id.clone());
    ok(pb::ListEvidenceResponse {
        evidence: rows.iter().map(convert::evidence_to_proto).collect(),
        next_page_token,
    })
}

pub(super) async fn download_evidence(
    grpc: &AssessmentGrpc,
    request: Request<pb::DownloadEvidenceRequest>,
) -> Reply<Stream_<pb::DownloadEvidenceResponse>> {
    use pb::download_evidence_response::Payload;
    let c = ctx(&request)?;
    let v = convert::ids(
        "name",
        &request.get_ref().name,
        &["batches", "participants", "evidence"],
    )?;
    let (e, bytes) = grpc.svc.download_evidence(&c, v[0], v[1], v[2]).await?;
    let metadata = pb::DownloadEvidenceResponse {
        payload: Some(Payload::Metadata(common::FileMetadata {
            file_name: e.file_name,
            content_type: e.content_type,
            size_bytes: e.size_bytes,
            sha256: e.sha256,
        })),
    };
    let chunks = bytes.flat_map(|chunk| {
        let messages: Vec<Result<pb::DownloadEvidenceResponse, Status>> = match chunk {
            Ok(b) => b
                .chunks(1 << 20)
                .map(|c| {
                    Ok(pb::DownloadEvidenceResponse {
                        payload: Some(Payload::Chunk(c.to_vec())),
                    })
                })
                .collect(),
            Err(e) => vec![Err(Status::from(e))],
        };
        futures::stream::iter(messages)
    });
    ok(Box::pin(
        futures::stream::once(async { Ok(metadata) }).chain(chunks),
    ))
}

pub(super) async fn delete_evidence(
    grpc: &AssessmentGrpc,
    request: Request<pb::DeleteEvidenceRequest>,
) -> Reply<()> {
    let c = ctx(&request)?;
    let v = convert::ids(
        "name",
        &request.get_ref().name,
        &["batches", "participants", "evidence"],
    )?;
    grpc.svc.delete_evidence(&c, v[0], v[1], v[2]).await?;
    ok(())
}
