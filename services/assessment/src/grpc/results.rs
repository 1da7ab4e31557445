//! School results, offline checks, certification and the certified-results stream.

use super::*;

pub(super) async fn get_school_result(
    grpc: &AssessmentGrpc,
    request: Request<pb::GetSchoolResultRequest>,
) -> Reply<pb::SchoolResult> {
    let c = ctx(&request)?;
    let v = convert::ids(
        "name",
        &request.get_ref().name,
        &["batches", "schoolResults"],
    )?;
    let (r, f) = grpc.svc.get_school_result(&c, v[0], v[1]).await?;
    ok(convert::school_result_to_proto(&r, &f))
}

pub(super) async fn list_school_results(
    grpc: &AssessmentGrpc,
    request: Request<pb::ListSchoolResultsRequest>,
) -> Reply<pb::ListSchoolResultsResponse> {
    let c = ctx(&request)?;
    let r = request.into_inner();
    let id = convert::ids("parent", &r.parent, &["batches"])?[0].to_owned();
    let state = convert::filter("state", r.state, convert::school_state_from)?;
    let (page, after) = page::<String>(
        r.page_size,
        &r.page_token,
        format!("parent={};state={}", r.parent, r.state),
    )?;
    let rows = grpc
        .svc
        .list_school_results(&c, &id, state, after.as_deref().unwrap_or(""), page.limit())
        .await?;
    let total = rows.len() as i64;
    let (rows, next_page_token) = page.finish(rows, |(r, _)| r.path.as_str().to_owned());
    ok(pb::ListSchoolResultsResponse {
        school_results: rows
            .iter()
            .map(|(r, f)| convert::school_result_to_proto(r, f))
            .collect(),
        next_page_token,
        total_size: total,
    })
}

pub(super) async fn submit_school_results(
    grpc: &AssessmentGrpc,
    request: Request<pb::SubmitSchoolResultsRequest>,
) -> Reply<pb::SchoolResult> {
    let c = ctx(&request)?;
    let r = request.into_inner();
    let v = convert::ids("name", &r.name, &["batches", "schoolResults"])?;
    let result = grpc
        .svc
        .submit_school_results(&c, v[0], v[1], &r.reason)
        .await?;
    grpc.school_result_reply(result).await
}

pub(super) async fn approve_school_results(
    grpc: &AssessmentGrpc,
    request: Request<pb::ApproveSchoolResultsRequest>,
) -> Reply<pb::SchoolResult> {
    let c = ctx(&request)?;
    let r = request.into_inner();
    let v = convert::ids("name", &r.name, &["batches", "schoolResults"])?;
    let result = grpc
        .svc
        .approve_school_results(&c, v[0], v[1], &r.review_round, &r.reason)
        .await?;
    grpc.school_result_reply(result).await
}

pub(super) async fn return_school_results(
    grpc: &AssessmentGrpc,
    request: Request<pb::ReturnSchoolResultsRequest>,
) -> Reply<pb::SchoolResult> {
    let c = ctx(&request)?;
    let r = request.into_inner();
    let v = convert::ids("name", &r.name, &["batches", "schoolResults"])?;
    let result = grpc
        .svc
        .return_school_results(&c, v[0], v[1], &r.review_round, &r.reason)
        .await?;
    grpc.school_result_reply(result).await
}

pub(super) async fn record_offline_check(
    grpc: &AssessmentGrpc,
    request: Request<pb::RecordOfflineCheckRequest>,
) -> Reply<pb::Participant> {
    let c = ctx(&request)?;
    let r = request.into_inner();
    let (b, t) = convert::participant("participant", &r.participant)?;
    let outcome = match pb::OfflineCheck::try_from(r.outcome) {
        Ok(pb::OfflineCheck::Pending) => "pending",
        Ok(pb::OfflineCheck::Passed) => "passed",
        Ok(pb::OfflineCheck::Failed) => "failed",
        _ => {
            return Err(AssessmentError::invalid("outcome", "PENDING, PASSED or FAILED").into());
        }
    };
    let p = grpc
        .svc
        .record_offline_check(&c, &b, &t, outcome, &r.review_round, &r.reason)
        .await?;
    let batch = grpc.svc.get_batch(&c, &b).await?;
    ok(grpc.participant_proto(&p, &batch))
}

pub(super) async fn withdraw_certified_result(
    grpc: &AssessmentGrpc,
    request: Request<pb::WithdrawCertifiedResultRequest>,
) -> Reply<pb::Participant> {
    let c = ctx(&request)?;
    let r = request.into_inner();
    let (b, t) = convert::participant("participant", &r.participant)?;
    let p = grpc
        .svc
        .withdraw_certified_result(&c, &b, &t, &r.micro_competency, &r.reason)
        .await?;
    let batch = grpc.svc.get_batch(&c, &b).await?;
    ok(grpc.participant_proto(&p, &batch))
}

pub(super) async fn get_principal_appraisal(
    grpc: &AssessmentGrpc,
    request: Request<pb::GetPrincipalAppraisalRequest>,
) -> Reply<pb::PrincipalAppraisal> {
    let c = ctx(&request)?;
    let r = request.into_inner();
    let v = convert::ids(
        "school_result",
        &r.school_result,
        &["batches", "schoolResults"],
    )?;
    let a = grpc.svc.principal_appraisal(&c, v[0], v[1]).await?;
    ok(convert::appraisal_to_proto(r.school_result.clone(), &a))
}

pub(super) async fn stream_certified_results(
    grpc: &AssessmentGrpc,
    request: Request<pb::StreamCertifiedResultsRequest>,
) -> Reply<Stream_<pb::StreamCertifiedResultsResponse>> {
    use pb::stream_certified_results_response::Payload;
    let c = ctx(&request)?;
    let r = request.into_inner();
    let id = convert::ids("batch", &r.batch, &["batches"])?[0].to_owned();
    if r.after_sequence < 0 {
        return Err(AssessmentError::invalid("after_sequence", "not negative").into());
    }
    let (batch, _) = grpc
        .svc
        .certified_events(&c, &id, r.after_sequence, 0)
        .await?;
    let header = pb::StreamCertifiedResultsResponse {
        payload: Some(Payload::Header(pb::CertifiedResultsHeader {
            batch: r.batch.clone(),
            batch_state: convert::batch_state(batch.state),
            last_sequence: batch.last_sequence,
        })),
    };
    let svc = grpc.svc.clone();
    let (tx, rx) = tokio::sync::mpsc::channel(256);
    tokio::spawn(tracing::Instrument::in_current_span(async move {
        if tx.send(Ok(header)).await.is_err() {
            return;
        }
        let mut after = r.after_sequence;
        loop {
            match svc.certified_events(&c, &id, after, 500).await {
                Ok((_, events)) if events.is_empty() => {
                    if !r.follow {
                        return;
                    }
                    // Until the consumer hangs up: new events arrive when a batch is certified
                    // or a result withdrawn.
                    tokio::select! {
                        _ = tx.closed() => return,
                        _ = tokio::time::sleep(std::time::Duration::from_millis(500)) => {}
                    }
                }
                Ok((_, events)) => {
                    for e in events {
                        after = e.sequence;
                        let message = convert::certified_to_proto(&e)
                            .map(|result| pb::StreamCertifiedResultsResponse {
                                payload: Some(Payload::Result(result)),
                            })
                            .map_err(Status::from);
                        if tx.send(message).await.is_err() {
                            return;
                        }
                    }
                }
                Err(e) => {
                    let _ = tx.send(Err(e.into())).await;
                    return;
                }
            }
        }
    }));
    ok(Box::pin(tokio_stream::wrappers::ReceiverStream::new(rx)))
}
