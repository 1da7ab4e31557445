//! Participants, enrolment and selections.

use super::*;

pub(super) async fn carry_over_participants(
    grpc: &AssessmentGrpc,
    request: Request<pb::CarryOverParticipantsRequest>,
) -> Reply<pb::CarryOverParticipantsResponse> {
    let c = ctx(&request)?;
    let r = request.into_inner();
    let id = convert::ids("batch", &r.batch, &["batches"])?[0].to_owned();
    let source = convert::ids("source_batch", &r.source_batch, &["batches"])?[0].to_owned();
    let (participants, skipped) = grpc.svc.carry_over(&c, &id, &source).await?;
    let batch = grpc.svc.get_batch(&c, &id).await?;
    ok(pb::CarryOverParticipantsResponse {
        participants: participants
            .iter()
            .map(|p| grpc.participant_proto(p, &batch))
            .collect(),
        skipped_count: skipped,
    })
}

pub(super) async fn get_participant(
    grpc: &AssessmentGrpc,
    request: Request<pb::GetParticipantRequest>,
) -> Reply<pb::Participant> {
    let c = ctx(&request)?;
    let (b, t) = convert::participant("name", &request.get_ref().name)?;
    let (p, batch) = grpc.svc.get_participant(&c, &b, &t).await?;
    ok(grpc.participant_proto(&p, &batch))
}

pub(super) async fn list_participants(
    grpc: &AssessmentGrpc,
    request: Request<pb::ListParticipantsRequest>,
) -> Reply<pb::ListParticipantsResponse> {
    let c = ctx(&request)?;
    let r = request.into_inner();
    let id = convert::ids("parent", &r.parent, &["batches"])?[0].to_owned();
    let school = if r.school.is_empty() {
        None
    } else {
        Some(convert::ids("school", &r.school, &["schools"])?[0].to_owned())
    };
    let grade = convert::filter("grade", r.grade, pconv::grade_from_proto)?;
    let state = match pb::ParticipantState::try_from(r.state) {
        Ok(pb::ParticipantState::Enrolled) => "enrolled",
        Ok(pb::ParticipantState::Withdrawn) => "withdrawn",
        Ok(pb::ParticipantState::Unspecified) => "",
        Err(_) => return Err(AssessmentError::invalid("state", "unknown").into()),
    };
    let filter = ParticipantFilter {
        grade: grade.map(|g| g.key().to_owned()).unwrap_or_default(),
        state: state.into(),
    };
    let (page, after) = page::<(String, String)>(
        r.page_size,
        &r.page_token,
        format!(
            "parent={};school={};grade={};state={}",
            r.parent, r.school, r.grade, r.state
        ),
    )?;
    let (rows, total, batch) = grpc
        .svc
        .list_participants(
            &c,
            &id,
            school.as_deref(),
            &filter,
            &after.unwrap_or_default(),
            page.limit(),
        )
        .await?;
    let (rows, next_page_token) = page.finish(rows, |p| {
        (p.path.as_str().to_owned(), p.teacher_number.clone())
    });
    ok(pb::ListParticipantsResponse {
        participants: rows
            .iter()
            .map(|p| grpc.participant_proto(p, &batch))
            .collect(),
        next_page_token,
        total_size: total,
    })
}

pub(super) async fn enrol_participants(
    grpc: &AssessmentGrpc,
    request: Request<pb::EnrolParticipantsRequest>,
) -> Reply<pb::EnrolParticipantsResponse> {
    let c = ctx(&request)?;
    let r = request.into_inner();
    let id = convert::ids("batch", &r.batch, &["batches"])?[0].to_owned();
    let teachers = r
        .teachers
        .iter()
        .enumerate()
        .map(|(i, t)| {
            convert::ids(&format!("teachers[{i}]"), t, &["teachers"]).map(|v| v[0].to_owned())
        })
        .collect::<Result<Vec<_>, _>>()?;
    let enrolled = grpc.svc.enrol(&c, &id, &teachers).await?;
    let batch = grpc.svc.get_batch(&c, &id).await?;
    ok(pb::EnrolParticipantsResponse {
        participants: enrolled
            .iter()
            .map(|p| grpc.participant_proto(p, &batch))
            .collect(),
    })
}

pub(super) async fn withdraw_participant(
    grpc: &AssessmentGrpc,
    request: Request<pb::WithdrawParticipantRequest>,
) -> Reply<pb::Participant> {
    let c = ctx(&request)?;
    let r = request.into_inner();
    let (b, t) = convert::participant("name", &r.name)?;
    let p = grpc.svc.withdraw(&c, &b, &t, &r.reason).await?;
    let batch = grpc.svc.get_batch(&c, &b).await?;
    ok(grpc.participant_proto(&p, &batch))
}

pub(super) async fn get_selection(
    grpc: &AssessmentGrpc,
    request: Request<pb::GetSelectionRequest>,
) -> Reply<pb::Selection> {
    let c = ctx(&request)?;
    let v = convert::ids_with_suffix(
        "name",
        &request.get_ref().name,
        &["batches", "participants"],
        "selection",
    )?;
    let (p, batch) = grpc.svc.get_participant(&c, v[0], v[1]).await?;
    ok(convert::selection_to_proto(
        &p,
        batch
            .policy_versions
            .first()
            .map(String::as_str)
            .unwrap_or(""),
    ))
}

pub(super) async fn check_selection(
    grpc: &AssessmentGrpc,
    request: Request<pb::CheckSelectionRequest>,
) -> Reply<pb::SelectionVerdict> {
    let c = ctx(&request)?;
    let r = request.into_inner();
    let (b, t) = convert::participant("participant", &r.participant)?;
    let (verdict, batch) = grpc
        .svc
        .check_selection(&c, &b, &t, &r.micro_competencies)
        .await?;
    ok(pconv::verdict_to_proto(
        &verdict,
        batch
            .policy_versions
            .first()
            .map(String::as_str)
            .unwrap_or(""),
    ))
}

pub(super) async fn submit_selection(
    grpc: &AssessmentGrpc,
    request: Request<pb::SubmitSelectionRequest>,
) -> Reply<pb::Selection> {
    let c = ctx(&request)?;
    let r = request.into_inner();
    let v = convert::ids_with_suffix("name", &r.name, &["batches", "participants"], "selection")?;
    let (p, _, batch) = grpc
        .svc
        .submit_selection(&c, v[0], v[1], &r.micro_competencies, r.validate_only)
        .await?;
    ok(convert::selection_to_proto(
        &p,
        batch
            .policy_versions
            .first()
            .map(String::as_str)
            .unwrap_or(""),
    ))
}
