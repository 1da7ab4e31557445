//! Hours records pushed by training providers.

use super::*;

pub(super) async fn batch_push_hours_records(
    grpc: &AssessmentGrpc,
    request: Request<pb::BatchPushHoursRecordsRequest>,
) -> Reply<pb::BatchPushHoursRecordsResponse> {
    let c = ctx(&request)?;
    let r = request.into_inner();
    let provider = convert::ids("parent", &r.parent, &["providers"])?[0].to_owned();
    let mut pushes = Vec::with_capacity(r.records.len());
    for (i, rec) in r.records.iter().enumerate() {
        let record_id = if rec.name.is_empty() {
            String::new()
        } else {
            let v = convert::ids(
                &format!("records[{i}].name"),
                &rec.name,
                &["providers", "hoursRecords"],
            )?;
            if v[0] != provider {
                return Err(AssessmentError::invalid(
                    format!("records[{i}].name"),
                    "a record belongs to the parent provider",
                )
                .into());
            }
            v[1].to_owned()
        };
        pushes.push(HoursPush {
            record_id,
            teacher: rec.teacher.clone(),
            id_number: rec.id_number.clone(),
            kind: pconv::hours_kind_from_proto(rec.kind)
                .map(service::hours_kind_key)
                .unwrap_or("")
                .to_owned(),
            course_id: rec.course_id.clone(),
            course_title: rec.course_title.clone(),
            centihours: rec.centihours,
            watched_minutes: i64::from(rec.watched_minutes),
            course_minutes: i64::from(rec.course_minutes),
            // Absent: the service stamps the time the record is stored (service::hours).
            complete_micros: rec
                .complete_time
                .as_ref()
                .map(|t| t.seconds * 1_000_000 + i64::from(t.nanos) / 1000),
            revision: rec.revision,
        });
    }
    let results = grpc.svc.push_hours(&c, &provider, pushes).await?;
    let mut out = Vec::with_capacity(results.len());
    for res in results {
        let record = match &res.record {
            Some(row) => {
                let (participant, counted) = grpc.svc.count_in_current_batch(row).await?;
                Some(convert::hours_record_to_proto(
                    row,
                    participant.as_ref(),
                    &counted,
                ))
            }
            None => None,
        };
        out.push(pb::PushResult {
            name: res.name,
            outcome: (match res.outcome {
                PushOutcome::Created => pb::PushOutcome::Created,
                PushOutcome::Updated => pb::PushOutcome::Updated,
                PushOutcome::Unchanged => pb::PushOutcome::Unchanged,
                PushOutcome::Rejected => pb::PushOutcome::Rejected,
            }) as i32,
            record,
            error: res.error,
        });
    }
    ok(pb::BatchPushHoursRecordsResponse { results: out })
}

pub(super) async fn get_hours_record(
    grpc: &AssessmentGrpc,
    request: Request<pb::GetHoursRecordRequest>,
) -> Reply<pb::HoursRecord> {
    let c = ctx(&request)?;
    let v = convert::ids(
        "name",
        &request.get_ref().name,
        &["providers", "hoursRecords"],
    )?;
    let (row, participant, counted) = grpc.svc.get_hours_record(&c, v[0], v[1]).await?;
    ok(convert::hours_record_to_proto(
        &row,
        participant.as_ref(),
        &counted,
    ))
}

pub(super) async fn list_hours_records(
    grpc: &AssessmentGrpc,
    request: Request<pb::ListHoursRecordsRequest>,
) -> Reply<pb::ListHoursRecordsResponse> {
    let c = ctx(&request)?;
    let r = request.into_inner();
    let kind =
        convert::filter("kind", r.kind, pconv::hours_kind_from_proto)?.map(service::hours_kind_key);
    let (page, after) = page::<(String, String)>(
        r.page_size,
        &r.page_token,
        format!("parent={};kind={};status={}", r.parent, r.kind, r.status),
    )?;
    let after = after.unwrap_or_default();
    let parent = if r.parent.starts_with("providers/") {
        service::HoursParent::Provider(
            convert::ids("parent", &r.parent, &["providers"])?[0].to_owned(),
        )
    } else if r.parent.contains("/participants/") {
        let (b, t) = convert::participant("parent", &r.parent)?;
        grpc.svc.get_participant(&c, &b, &t).await?;
        service::HoursParent::Teacher(t)
    } else {
        service::HoursParent::Batch(convert::ids("parent", &r.parent, &["batches"])?[0].to_owned())
    };
    let (rows, total) = grpc
        .svc
        .list_hours_records(&c, parent, kind, &after, page.limit())
        .await?;
    let (rows, next_page_token) =
        page.finish(rows, |h| (h.provider_id.clone(), h.record_id.clone()));
    let mut records = Vec::with_capacity(rows.len());
    for row in &rows {
        let (participant, counted) = grpc.svc.count_in_current_batch(row).await?;
        let record = convert::hours_record_to_proto(row, participant.as_ref(), &counted);
        // A status is derived, not stored: it is filtered here, so a page may come back short.
        if r.status == 0 || record.status == r.status {
            records.push(record);
        }
    }
    ok(pb::ListHoursRecordsResponse {
        hours_records: records,
        next_page_token,
        total_size: total,
    })
}
