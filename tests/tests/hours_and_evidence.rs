//! Hours and evidence at their edges, over the suite's gRPC API, in a Beijing district (the
//! preset with the 2/3-watched rule: 《北京试点方案》附件1 §五(二)): what a provider's
//! push does to each record, and which uploads are refused before anything is stored.

use sha2::{Digest, Sha256};
use tica_auth::Role;
use tica_e2e::{AssessmentClient, Cluster, upload_evidence};
use tica_proto::tica::assessment::v1 as pb;
use tica_server::errors::field_violations;
use tica_storage::Backend;
use tonic::Code;

tica_testkit::backend_tests!(
    a_course_counts_only_when_two_thirds_were_watched_and_pushes_follow_the_revision,
    a_record_named_twice_in_one_push_is_stored_once_as_it_ends_and_the_hours_are_recounted,
    uploads_that_break_the_policys_limits_are_refused_and_store_nothing,
);

const DISTRICT: &str = "110105"; // 朝阳区, directly under 北京市
const SCHOOL: &str = "1101050001";

/// The roster of one Beijing school with one teacher, and the district's open batch; returns
/// the cluster, the teacher's number and the participant's name.
async fn beijing(backend: Backend) -> Option<(Cluster, String, String)> {
    let cluster = Cluster::start(backend).await?;
    cluster
        .register_jurisdictions(&[("110000", "北京市", ""), (DISTRICT, "朝阳区", "110000")])
        .await;
    cluster
        .register_school(DISTRICT, SCHOOL, "朝阳区实验小学")
        .await;
    let number = cluster
        .register_teacher(
            DISTRICT,
            SCHOOL,
            "周萍",
            "语文",
            time::Date::from_calendar_date(1990, time::Month::June, 1).unwrap(),
            7,
        )
        .await;
    let batch = cluster.open_batch(DISTRICT, 2026, "朝阳区 2026").await;
    let participant = format!("{}/participants/{number}", batch.name);
    Some((cluster, number, participant))
}

fn course(teacher: &str, id: &str, watched: i32, revision: i64) -> pb::HoursRecord {
    pb::HoursRecord {
        name: format!("providers/bjedu/hoursRecords/{id}"),
        teacher: format!("teachers/{teacher}"),
        kind: pb::HoursKind::OnlineStudy as i32,
        course_id: id.into(),
        course_title: "教育大数据".into(),
        centihours: 300,
        watched_minutes: watched,
        course_minutes: 45,
        revision,
        complete_time: Some(prost_types::Timestamp::from(std::time::SystemTime::now())),
        ..Default::default()
    }
}

async fn push(
    provider: &mut AssessmentClient,
    records: Vec<pb::HoursRecord>,
) -> Vec<pb::PushResult> {
    provider
        .batch_push_hours_records(pb::BatchPushHoursRecordsRequest {
            parent: "providers/bjedu".into(),
            records,
        })
        .await
        .unwrap()
        .into_inner()
        .results
}

async fn a_course_counts_only_when_two_thirds_were_watched_and_pushes_follow_the_revision(
    backend: Backend,
) {
    let Some((cluster, teacher, _)) = beijing(backend).await else {
        return;
    };
    let mut provider = cluster.assessment("bjedu", Role::TrainingProvider, "110000", None);
    let results = push(
        &mut provider,
        vec![
            course(&teacher, "c-short", 29, 1),
            course(&teacher, "c-enough", 30, 1),
            course("11010500019999", "c-stranger", 45, 1),
        ],
    )
    .await;
    let short = results[0].record.as_ref().unwrap();
    assert_eq!(short.status, pb::HoursRecordStatus::NotCounted as i32);
    assert_eq!(short.counted_centihours, 0);
    assert!(
        short.status_reason.contains("2/3"),
        "{}",
        short.status_reason
    );
    let enough = results[1].record.as_ref().unwrap();
    assert_eq!(
        (enough.status, enough.counted_centihours),
        (pb::HoursRecordStatus::Counted as i32, 300),
        "30 of 45 minutes is exactly 2/3"
    );
    assert_eq!(results[2].outcome, pb::PushOutcome::Rejected as i32);
    assert!(!results[2].error.is_empty());
    // Revisions: the same revision with other content is refused; a lower one is ignored; a
    // higher one replaces the record — here, the teacher finished watching.
    let results = push(
        &mut provider,
        vec![
            course(&teacher, "c-short", 31, 1),
            course(&teacher, "c-enough", 10, 0),
        ],
    )
    .await;
    assert_eq!(results[0].outcome, pb::PushOutcome::Rejected as i32);
    assert_eq!(results[1].outcome, pb::PushOutcome::Unchanged as i32);
    let results = push(&mut provider, vec![course(&teacher, "c-short", 44, 2)]).await;
    assert_eq!(results[0].outcome, pb::PushOutcome::Updated as i32);
    assert_eq!(results[0].record.as_ref().unwrap().counted_centihours, 300);
    // Another provider cannot push under this provider's name.
    let mut other = cluster.assessment("someone-else", Role::TrainingProvider, "110000", None);
    let status = other
        .batch_push_hours_records(pb::BatchPushHoursRecordsRequest {
            parent: "providers/bjedu".into(),
            records: vec![course(&teacher, "c-forged", 45, 1)],
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied);
    cluster.stop().await;
}

async fn a_record_named_twice_in_one_push_is_stored_once_as_it_ends_and_the_hours_are_recounted(
    backend: Backend,
) {
    let Some((cluster, teacher, participant)) = beijing(backend).await else {
        return;
    };
    let mut provider = cluster.assessment("bjedu", Role::TrainingProvider, "110000", None);
    // One push: a course first reported short of 2/3, then again (revision 2) finished; a
    // stale revision 1 after it; a record with a broken kind; and one for a stranger. The
    // stranger fails the roster's batch lookup, and only their record is refused for it.
    let mut broken = course(&teacher, "c-broken", 45, 1);
    broken.kind = pb::HoursKind::Unspecified as i32;
    let finished = course(&teacher, "c-twice", 44, 2);
    let other = course(&teacher, "c-other", 45, 1);
    let results = push(
        &mut provider,
        vec![
            course(&teacher, "c-twice", 10, 1),
            finished.clone(),
            course(&teacher, "c-twice", 20, 1),
            broken,
            course("11010500019999", "c-stranger", 45, 1),
            other.clone(),
        ],
    )
    .await;
    let outcomes: Vec<i32> = results.iter().map(|r| r.outcome).collect();
    assert_eq!(
        outcomes,
        [
            pb::PushOutcome::Created as i32,
            pb::PushOutcome::Updated as i32,
            pb::PushOutcome::Unchanged as i32,
            pb::PushOutcome::Rejected as i32,
            pb::PushOutcome::Rejected as i32,
            pb::PushOutcome::Created as i32,
        ],
        "{results:#?}"
    );
    assert!(results[3].error.contains("kind"), "{}", results[3].error);
    assert!(
        results[4].error.contains("11010500019999"),
        "{}",
        results[4].error
    );
    let stored = provider
        .get_hours_record(pb::GetHoursRecordRequest {
            name: "providers/bjedu/hoursRecords/c-twice".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        stored.revision, 2,
        "the record ends as its last higher revision"
    );
    assert_eq!(stored.watched_minutes, 44);
    assert_eq!(stored.counted_centihours, 300);
    // The participant was recounted after the push: both finished courses count.
    let mut district = cluster.assessment("district", Role::CountyOffice, DISTRICT, None);
    let p = district
        .get_participant(pb::GetParticipantRequest {
            name: participant.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(p.counted_centihours, 600);
    // Pushing the same again changes nothing.
    let again = push(&mut provider, vec![finished, other]).await;
    assert!(
        again
            .iter()
            .all(|r| r.outcome == pb::PushOutcome::Unchanged as i32),
        "{again:#?}"
    );
    cluster.stop().await;
}

fn metadata(
    participant: &str,
    kind: pb::EvidenceKind,
    content_type: &str,
    size: usize,
) -> pb::UploadEvidenceRequest {
    with_evidence(participant, kind, content_type, size, |_| {})
}

/// Metadata for a design plan of `size` PDF bytes, changed by `edit`.
fn plan(
    participant: &str,
    size: usize,
    edit: impl FnOnce(&mut pb::Evidence),
) -> pb::UploadEvidenceRequest {
    with_evidence(
        participant,
        pb::EvidenceKind::DesignPlan,
        "application/pdf",
        size,
        edit,
    )
}

fn with_evidence(
    participant: &str,
    kind: pb::EvidenceKind,
    content_type: &str,
    size: usize,
    edit: impl FnOnce(&mut pb::Evidence),
) -> pb::UploadEvidenceRequest {
    let mut evidence = pb::Evidence {
        micro_competencies: vec!["A1".into()],
        kind: kind as i32,
        file_name: "evidence".into(),
        content_type: content_type.into(),
        size_bytes: size as i64,
        ..Default::default()
    };
    edit(&mut evidence);
    pb::UploadEvidenceRequest {
        parent: participant.into(),
        payload: Some(pb::upload_evidence_request::Payload::Evidence(evidence)),
    }
}

async fn uploads_that_break_the_policys_limits_are_refused_and_store_nothing(backend: Backend) {
    let Some((cluster, teacher, participant)) = beijing(backend).await else {
        return;
    };
    let mut own = cluster.assessment(&teacher, Role::Teacher, DISTRICT, Some(SCHOOL));
    own.submit_selection(pb::SubmitSelectionRequest {
        name: format!("{participant}/selection"),
        micro_competencies: vec!["A1".into(), "A3".into()],
        validate_only: false,
    })
    .await
    .unwrap();
    let pdf = {
        let mut b = b"%PDF-1.7\n".to_vec();
        b.resize(5000, b'x');
        b
    };
    let png = {
        let mut b = b"\x89PNG\r\n\x1a\n".to_vec();
        b.resize(5000, 0);
        b
    };
    // A video that is a PDF by type: the kind does not take that type.
    let wrong_type = upload_evidence(
        &mut own,
        metadata(
            &participant,
            pb::EvidenceKind::Video,
            "application/pdf",
            pdf.len(),
        ),
        &pdf,
        None,
    )
    .await
    .unwrap_err();
    assert!(
        field_violations(&wrong_type)
            .iter()
            .any(|(f, _)| f == "evidence.content_type"),
        "{wrong_type:?}"
    );
    // Declared a PDF, the bytes are a PNG.
    let disguised = upload_evidence(
        &mut own,
        metadata(
            &participant,
            pb::EvidenceKind::DesignPlan,
            "application/pdf",
            png.len(),
        ),
        &png,
        None,
    )
    .await
    .unwrap_err();
    assert_eq!(disguised.code(), Code::InvalidArgument, "{disguised:?}");
    // More bytes than declared.
    let oversized = upload_evidence(
        &mut own,
        metadata(
            &participant,
            pb::EvidenceKind::DesignPlan,
            "application/pdf",
            100,
        ),
        &pdf,
        None,
    )
    .await
    .unwrap_err();
    assert_eq!(oversized.code(), Code::InvalidArgument, "{oversized:?}");
    // A hash that does not match the bytes.
    let first = plan(&participant, pdf.len(), |e| {
        e.sha256 = hex::encode(Sha256::digest(b"something else"))
    });
    let tampered = upload_evidence(&mut own, first, &pdf, None)
        .await
        .unwrap_err();
    assert_eq!(tampered.code(), Code::InvalidArgument, "{tampered:?}");
    // Evidence for a code the teacher did not select.
    let first = plan(&participant, pdf.len(), |e| {
        e.micro_competencies = vec!["C7".into()]
    });
    let unselected = upload_evidence(&mut own, first, &pdf, None)
        .await
        .unwrap_err();
    assert_eq!(unselected.code(), Code::InvalidArgument, "{unselected:?}");
    // One message of more than the contract's 1 MiB, within the declared size: refused as such.
    let big = {
        let mut b = b"%PDF-1.7\n".to_vec();
        b.resize((1 << 20) + 1, b'x');
        b
    };
    let one_big_chunk = own
        .upload_evidence(tokio_stream::iter(vec![
            plan(&participant, big.len(), |_| {}),
            pb::UploadEvidenceRequest {
                parent: String::new(),
                payload: Some(pb::upload_evidence_request::Payload::Chunk(big)),
            },
        ]))
        .await
        .unwrap_err();
    assert!(
        field_violations(&one_big_chunk)
            .iter()
            .any(|(f, d)| f == "chunk" && d.contains("1 MiB")),
        "{one_big_chunk:?}"
    );
    let listed = own
        .list_evidence(pb::ListEvidenceRequest {
            parent: participant.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert!(listed.evidence.is_empty(), "nothing refused was stored");
    // The same file, declared honestly, with its hash: stored, and downloads byte for byte.
    let first = plan(&participant, pdf.len(), |e| {
        e.sha256 = hex::encode(Sha256::digest(&pdf))
    });
    let stored = upload_evidence(&mut own, first, &pdf, None).await.unwrap();
    let mut download = own
        .download_evidence(pb::DownloadEvidenceRequest {
            name: stored.name.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    let mut bytes = Vec::new();
    while let Some(message) = tokio_stream::StreamExt::next(&mut download).await {
        if let Some(pb::download_evidence_response::Payload::Chunk(c)) = message.unwrap().payload {
            bytes.extend_from_slice(&c);
        }
    }
    assert_eq!(bytes, pdf);
    cluster.stop().await;
}
