//! What tests set up over gRPC, through `tica-client` only (no service crate): jurisdictions,
//! schools, teachers and assessors registered with the roster, a county's batch opened, and
//! the assessment steps tests repeat (a selection, a hand-in, a grade, an evidence upload, a
//! provider's hours). Each function takes a client already holding the caller's token, so
//! every harness keeps its own subjects and roles; a refused call panics with what failed.

use tica_client::{Assessment, Roster};
use tica_domain::names::{AssessorName, TeacherName};
use tica_proto::tica::assessment::v1 as pb;
use tica_proto::tica::common::v1 as common;
use tica_proto::tica::roster::v1 as roster;

/// Registers jurisdictions `(code, name, parent code or "")` in order, parents first, as
/// `office` (the province office of the first).
pub async fn register_jurisdictions(office: &mut Roster, list: &[(&str, &str, &str)]) {
    for (code, name, parent) in list {
        office
            .create_jurisdiction(roster::CreateJurisdictionRequest {
                jurisdiction: Some(roster::Jurisdiction {
                    name: format!("jurisdictions/{code}"),
                    display_name: (*name).into(),
                    parent: if parent.is_empty() {
                        String::new()
                    } else {
                        format!("jurisdictions/{parent}")
                    },
                    ..Default::default()
                }),
            })
            .await
            .expect("jurisdiction registered");
    }
}

/// Registers primary school `code` (`name`, `full_time_teachers` teachers, `rural` or not) in
/// `county`, as `office` (its county office).
pub async fn register_school(
    office: &mut Roster,
    county: &str,
    code: &str,
    name: &str,
    full_time_teachers: i32,
    rural: bool,
) {
    office
        .create_school(roster::CreateSchoolRequest {
            school: Some(roster::School {
                name: format!("schools/{code}"),
                display_name: name.into(),
                jurisdiction: format!("jurisdictions/{county}"),
                kind: roster::SchoolKind::Primary as i32,
                rural,
                full_time_teacher_count: full_time_teachers,
                ..Default::default()
            }),
        })
        .await
        .expect("school registered");
}

/// Registers an ordinary primary teacher of `subject` at `school` in `county`, born on `birth`
/// (their ID number's sequence `sequence`), as `office`; their teacher number.
pub async fn register_teacher(
    office: &mut Roster,
    county: &str,
    school: &str,
    display_name: &str,
    subject: &str,
    birth: time::Date,
    sequence: u16,
) -> String {
    let id = tica_domain::ResidentId::generate(county, birth, sequence);
    let teacher = office
        .create_teacher(roster::CreateTeacherRequest {
            teacher: Some(roster::Teacher {
                display_name: display_name.into(),
                id_number: id.as_str().into(),
                school: format!("schools/{school}"),
                stage: roster::Stage::Primary as i32,
                subject: subject.into(),
                category: roster::TeacherCategory::Ordinary as i32,
                ..Default::default()
            }),
            teacher_id: String::new(),
        })
        .await
        .expect("teacher registered")
        .into_inner();
    TeacherName::id_of(&teacher.name)
        .expect("a teacher's name")
        .to_owned()
}

/// Creates `teacher` as an assessor of `level` at `at` (`schools/{code}` or
/// `jurisdictions/{code}`), certifies it (certificate `CP-{year}-{teacher}`, exam on 20 April
/// of `year`, issued by `issued_by`) and registers it, as `office`; the assessor's id (the
/// subject of its tokens).
pub async fn register_assessor(
    office: &mut Roster,
    teacher: &str,
    level: roster::AssessorLevel,
    at: &str,
    year: i32,
    issued_by: &str,
) -> String {
    let created = office
        .create_assessor(roster::CreateAssessorRequest {
            assessor: Some(roster::Assessor {
                teacher: format!("teachers/{teacher}"),
                level: level as i32,
                registered_at: at.into(),
                ..Default::default()
            }),
        })
        .await
        .expect("assessor created")
        .into_inner();
    office
        .certify_assessor(roster::CertifyAssessorRequest {
            name: created.name.clone(),
            certification: Some(roster::AssessorCertification {
                certificate_number: format!("CP-{year}-{teacher}"),
                exam_date: Some(tica_proto::google::r#type::Date {
                    year,
                    month: 4,
                    day: 20,
                }),
                issued_by: issued_by.into(),
            }),
        })
        .await
        .expect("assessor certified");
    office
        .register_assessor(roster::RegisterAssessorRequest {
            name: created.name.clone(),
        })
        .await
        .expect("assessor registered");
    AssessorName::id_of(&created.name)
        .expect("an assessor's name")
        .to_owned()
}

/// Creates and opens `county`'s batch for `year` as `office` (its county office); the opened
/// batch.
pub async fn open_batch(
    office: &mut Assessment,
    county: &str,
    year: i32,
    display_name: &str,
) -> pb::Batch {
    let batch = office
        .create_batch(pb::CreateBatchRequest {
            batch: Some(pb::Batch {
                county: format!("jurisdictions/{county}"),
                year,
                display_name: display_name.into(),
                ..Default::default()
            }),
        })
        .await
        .expect("batch created")
        .into_inner();
    office
        .open_batch(pb::OpenBatchRequest {
            name: batch.name,
            open_date: None,
        })
        .await
        .expect("batch opened")
        .into_inner()
}

/// Submits an accepted selection of `codes` for `participant`.
pub async fn select(client: &mut Assessment, participant: &str, codes: &[&str]) {
    let selection = client
        .submit_selection(pb::SubmitSelectionRequest {
            name: format!("{participant}/selection"),
            micro_competencies: codes.iter().map(|c| c.to_string()).collect(),
            validate_only: false,
        })
        .await
        .expect("selection submitted")
        .into_inner();
    assert!(selection.verdict.unwrap().accepted);
}

/// Hands in `participant`'s submission of `code`.
pub async fn hand_in(client: &mut Assessment, participant: &str, code: &str) {
    client
        .submit_submission(pb::SubmitSubmissionRequest {
            name: format!("{participant}/submissions/{code}"),
        })
        .await
        .expect("submission handed in");
}

/// Grades `participant`'s submission of `code` as `assessor` (comment 符合要求); the graded
/// submission or the refusal.
pub async fn grade(
    client: &mut Assessment,
    assessor: &str,
    participant: &str,
    code: &str,
    grade: common::Grade,
) -> Result<pb::Submission, tonic::Status> {
    client
        .grade_submission(pb::GradeSubmissionRequest {
            name: format!("{participant}/submissions/{code}"),
            assessor: format!("assessors/{assessor}"),
            grade: grade as i32,
            rubric_scores: Vec::new(),
            invalid_evidence: Vec::new(),
            comment: "符合要求".into(),
        })
        .await
        .map(|r| r.into_inner())
}

/// Streams an evidence upload: `first` (the metadata message, with `parent`), then `bytes` in
/// 64 KiB chunks; with `stop_after`, the stream ends after that many bytes, as a dropped
/// connection looks to the server.
pub async fn upload_evidence(
    client: &mut Assessment,
    first: pb::UploadEvidenceRequest,
    bytes: &[u8],
    stop_after: Option<usize>,
) -> Result<pb::Evidence, tonic::Status> {
    let mut messages = vec![first];
    for chunk in bytes[..stop_after.unwrap_or(bytes.len())].chunks(64 << 10) {
        messages.push(pb::UploadEvidenceRequest {
            parent: String::new(),
            payload: Some(pb::upload_evidence_request::Payload::Chunk(chunk.to_vec())),
        });
    }
    client
        .upload_evidence(tokio_stream::iter(messages))
        .await
        .map(|r| r.into_inner())
}

/// 30 hours of `kind` for `teacher`, completed now, as the provider `anhui-online` reports
/// them (record id `{teacher}-{what}`, course `what`).
pub fn hours(teacher: &str, kind: pb::HoursKind, what: &str) -> pb::HoursRecord {
    pb::HoursRecord {
        name: format!("providers/anhui-online/hoursRecords/{teacher}-{what}"),
        teacher: format!("teachers/{teacher}"),
        kind: kind as i32,
        course_id: what.into(),
        course_title: "信息技术应用能力提升".into(),
        centihours: 3000,
        revision: 1,
        complete_time: Some(tica_proto::prost_types::Timestamp::from(
            std::time::SystemTime::now(),
        )),
        ..Default::default()
    }
}
