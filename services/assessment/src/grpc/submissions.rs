//! Submissions and their grading.

use super::*;

pub(super) async fn get_submission(
    grpc: &AssessmentGrpc,
    request: Request<pb::GetSubmissionRequest>,
) -> Reply<pb::Submission> {
    let c = ctx(&request)?;
    let (b, t, code) = convert::submission("name", &request.get_ref().name)?;
    let s = grpc.svc.get_submission(&c, &b, &t, &code).await?;
    let evidence = grpc
        .svc
        .list_evidence(&c, &b, &t, None)
        .await
        .unwrap_or_default();
    ok(convert::submission_to_proto(&s, &evidence, false))
}

pub(super) async fn list_submissions(
    grpc: &AssessmentGrpc,
    request: Request<pb::ListSubmissionsRequest>,
) -> Reply<pb::ListSubmissionsResponse> {
    let c = ctx(&request)?;
    let r = request.into_inner();
    let (batch_id, teacher) = if r.parent.contains("/participants/") {
        let (b, t) = convert::participant("parent", &r.parent)?;
        (b, t)
    } else {
        (
            convert::ids("parent", &r.parent, &["batches"])?[0].to_owned(),
            String::new(),
        )
    };
    let school = if r.school.is_empty() {
        None
    } else {
        Some(convert::ids("school", &r.school, &["schools"])?[0].to_owned())
    };
    let mut state = convert::filter("state", r.state, convert::submission_state_from)?
        .map(|s| s.key().to_owned())
        .unwrap_or_default();
    if r.gradable_by_caller && state.is_empty() {
        state = "submitted".into();
    }
    let filter = SubmissionFilter {
        teacher,
        state,
        code: r.micro_competency.clone(),
    };
    let (page, after) = page::<(String, String, String)>(
        r.page_size,
        &r.page_token,
        format!(
            "parent={};school={};state={};code={};gradable={}",
            r.parent, r.school, r.state, r.micro_competency, r.gradable_by_caller
        ),
    )?;
    let (rows, total) = grpc
        .svc
        .list_submissions(
            &c,
            &batch_id,
            school.as_deref(),
            &filter,
            &after.unwrap_or_default(),
            page.limit(),
        )
        .await?;
    let (rows, next_page_token) = page.finish(rows, |s| {
        (
            s.path.as_str().to_owned(),
            s.teacher_number.clone(),
            s.code.clone(),
        )
    });
    let mut out = Vec::with_capacity(rows.len());
    let mut evidence: HashMap<String, Vec<EvidenceRecord>> = HashMap::new();
    for s in &rows {
        if !evidence.contains_key(&s.teacher_number) {
            let e = grpc
                .svc
                .list_evidence(&c, &s.batch_id, &s.teacher_number, None)
                .await
                .unwrap_or_default();
            evidence.insert(s.teacher_number.clone(), e);
        }
        out.push(convert::submission_to_proto(
            s,
            &evidence[&s.teacher_number],
            false,
        ));
    }
    ok(pb::ListSubmissionsResponse {
        submissions: out,
        next_page_token,
        total_size: total,
    })
}

pub(super) async fn submit_submission(
    grpc: &AssessmentGrpc,
    request: Request<pb::SubmitSubmissionRequest>,
) -> Reply<pb::Submission> {
    let c = ctx(&request)?;
    let (b, t, code) = convert::submission("name", &request.get_ref().name)?;
    let s = grpc.svc.submit_submission(&c, &b, &t, &code).await?;
    let evidence = grpc
        .svc
        .list_evidence(&c, &b, &t, None)
        .await
        .unwrap_or_default();
    ok(convert::submission_to_proto(&s, &evidence, false))
}

pub(super) async fn return_submission(
    grpc: &AssessmentGrpc,
    request: Request<pb::ReturnSubmissionRequest>,
) -> Reply<pb::Submission> {
    let c = ctx(&request)?;
    let r = request.into_inner();
    let (b, t, code) = convert::submission("name", &r.name)?;
    let s = grpc
        .svc
        .return_submission(&c, &b, &t, &code, &r.reason)
        .await?;
    let evidence = grpc
        .svc
        .list_evidence(&c, &b, &t, None)
        .await
        .unwrap_or_default();
    ok(convert::submission_to_proto(&s, &evidence, false))
}

pub(super) async fn grade_submission(
    grpc: &AssessmentGrpc,
    request: Request<pb::GradeSubmissionRequest>,
) -> Reply<pb::Submission> {
    let c = ctx(&request)?;
    let r = request.into_inner();
    let (b, t, code) = convert::submission("name", &r.name)?;
    let mut problems = crate::error::Problems::new();
    let invalid_evidence = r
        .invalid_evidence
        .iter()
        .enumerate()
        .filter_map(|(i, e)| {
            let id = problems.check(
                &format!("invalid_evidence[{i}].evidence"),
                convert::ids(
                    "evidence",
                    &e.evidence,
                    &["batches", "participants", "evidence"],
                )
                .map(|v| v[2].to_owned())
                .map_err(|_| "expected an evidence name"),
            )?;
            let reason = problems.check(
                &format!("invalid_evidence[{i}].reason"),
                convert::invalid_reason_from(e.reason).ok_or("required"),
            )?;
            Some(InvalidEvidenceRecord {
                evidence: id,
                reason: reason.to_owned(),
                explanation: e.explanation.trim().to_owned(),
            })
        })
        .collect();
    let rubric_scores = r
        .rubric_scores
        .iter()
        .enumerate()
        .filter_map(|(i, s)| {
            problems
                .check(
                    &format!("rubric_scores[{i}].points"),
                    u32::try_from(s.points).map_err(|_| "points are not negative"),
                )
                .map(|p| (s.criterion_id.clone(), p))
        })
        .collect();
    problems.finish()?;
    let request = GradeRequest {
        assessor: r.assessor,
        grade: pconv::grade_from_proto(r.grade),
        rubric_scores,
        invalid_evidence,
        comment: r.comment,
    };
    let s = grpc
        .svc
        .grade_submission(&c, &b, &t, &code, request)
        .await?;
    let evidence = grpc
        .svc
        .list_evidence(&c, &b, &t, None)
        .await
        .unwrap_or_default();
    ok(convert::submission_to_proto(&s, &evidence, false))
}
