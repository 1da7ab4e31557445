//! Hours records and evidence files, RPC by RPC, over real gRPC on SQLite and PostgreSQL: each
//! RPC's main success path and its most important refusals, and a refused write stores
//! nothing. In a Sixian year (`support/year.rs`): 60 hours, 30 online and 30 practice
//! (《泗县实施意见》一), certified by the provider (网络研修学时由培训机构认定, cf.
//! 《宁夏测评实施办法》§四); evidence under the preset's limits (PDF and office documents up to
//! 20 MiB for a design plan).

mod support;
#[path = "support/year.rs"]
mod year;

use sha2::{Digest, Sha256};
use tica_auth::Role;
use tica_proto::tica::assessment::v1 as pb;
use tica_storage::Backend;
use tokio_stream::StreamExt;
use tonic::Code;
use year::{SCHOOL_A, SCHOOL_B, Year, hours, refused, refused_on_field};

tica_testkit::backend_tests!(
    // BatchPushHoursRecords
    a_providers_push_creates_counted_records_and_each_bad_record_fails_on_its_own,
    a_push_is_refused_to_a_teacher_and_under_another_providers_name,
    a_school_office_pushes_the_hours_it_awards_under_its_own_provider_name,
    hours_pushed_after_certification_are_kept_but_said_not_to_count,
    a_retried_push_without_complete_times_is_unchanged_and_other_content_under_its_revision_is_not,
    // GetHoursRecord
    an_hours_record_is_read_by_its_provider_its_teacher_and_their_offices_only,
    // ListHoursRecords
    hours_records_are_listed_per_participant_and_per_provider_within_scope,
    a_listings_pages_are_full_and_its_total_counts_every_page_the_caller_may_read,
    a_batchs_hours_records_are_listed_to_its_offices_each_within_its_scope,
    // UploadEvidence
    an_upload_is_stored_with_its_hash_and_a_refused_one_stores_nothing,
    an_upload_is_refused_to_an_office_a_colleague_and_for_a_handed_in_code,
    // GetEvidence
    evidence_metadata_is_read_by_the_teacher_and_their_school_not_a_colleague,
    // ListEvidence
    evidence_is_listed_per_participant_and_per_micro_competency,
    // DownloadEvidence
    evidence_downloads_byte_for_byte_to_the_teacher_and_the_assessor_not_a_colleague,
    // DeleteEvidence
    evidence_is_deleted_while_its_submissions_are_drafts_and_frozen_once_handed_in,
);

const PROVIDER: &str = "providers/anhui-online";

fn push(records: Vec<pb::HoursRecord>) -> pb::BatchPushHoursRecordsRequest {
    pb::BatchPushHoursRecordsRequest {
        parent: PROVIDER.into(),
        records,
    }
}

fn record_name(teacher: &str, what: &str) -> String {
    format!("{PROVIDER}/hoursRecords/{teacher}-{what}")
}

async fn get_record(
    client: &mut support::AssessmentClient,
    name: &str,
) -> Result<pb::HoursRecord, tonic::Status> {
    client
        .get_hours_record(pb::GetHoursRecordRequest { name: name.into() })
        .await
        .map(|r| r.into_inner())
}

// ---------------------------------------------------------------------------------------------
// BatchPushHoursRecords

async fn a_providers_push_creates_counted_records_and_each_bad_record_fails_on_its_own(
    backend: Backend,
) {
    let Some(year) = Year::open(backend).await else {
        return;
    };
    let mut provider = year.provider();
    let mut broken = hours(&year.a1, pb::HoursKind::Practice, "broken");
    broken.centihours = 0;
    let results = provider
        .batch_push_hours_records(push(vec![
            hours(&year.a1, pb::HoursKind::OnlineStudy, "online"),
            broken,
            hours("34132419850301999X", pb::HoursKind::OnlineStudy, "stranger"),
        ]))
        .await
        .unwrap()
        .into_inner()
        .results;
    let outcomes: Vec<i32> = results.iter().map(|r| r.outcome).collect();
    assert_eq!(
        outcomes,
        [
            pb::PushOutcome::Created as i32,
            pb::PushOutcome::Rejected as i32,
            pb::PushOutcome::Rejected as i32,
        ],
        "{results:?}"
    );
    let created = results[0].record.as_ref().unwrap();
    assert_eq!(created.status, pb::HoursRecordStatus::Counted as i32);
    assert_eq!(created.counted_centihours, 3000);
    assert_eq!(created.participant, year.participant(&year.a1));
    assert!(
        results[1].error.contains("centihours"),
        "{}",
        results[1].error
    );
    assert!(!results[2].error.is_empty());
    // Only the good record was stored, and the participant recounted with it.
    refused(
        get_record(&mut provider, &record_name(&year.a1, "broken")).await,
        Code::NotFound,
    );
    let p = year.participant_record(&year.a1).await;
    assert_eq!(p.counted_centihours, 3000);
    assert!(!p.hours_complete, "30 of 60 hours");
    // The practice half completes the hours; the same push again changes nothing.
    let practice = push(vec![hours(&year.a1, pb::HoursKind::Practice, "practice")]);
    provider
        .batch_push_hours_records(practice.clone())
        .await
        .unwrap();
    let again = provider
        .batch_push_hours_records(practice)
        .await
        .unwrap()
        .into_inner()
        .results;
    assert_eq!(again[0].outcome, pb::PushOutcome::Unchanged as i32);
    let p = year.participant_record(&year.a1).await;
    assert_eq!(p.counted_centihours, 6000);
    assert!(p.hours_complete);
}

async fn a_push_is_refused_to_a_teacher_and_under_another_providers_name(backend: Backend) {
    let Some(year) = Year::open(backend).await else {
        return;
    };
    let record = || vec![hours(&year.a1, pb::HoursKind::OnlineStudy, "online")];
    refused(
        year.teacher(&year.a1, SCHOOL_A)
            .batch_push_hours_records(push(record()))
            .await,
        Code::PermissionDenied,
    );
    let mut other = year
        .suite
        .assessment("other-provider", Role::TrainingProvider, "340000", None);
    refused(
        other.batch_push_hours_records(push(record())).await,
        Code::PermissionDenied,
    );
    let mut provider = year.provider();
    refused_on_field(
        provider.batch_push_hours_records(push(Vec::new())).await,
        "records",
    );
    // A record named under another provider than the parent.
    let mut foreign = hours(&year.a1, pb::HoursKind::OnlineStudy, "online");
    foreign.name = "providers/other-provider/hoursRecords/x".into();
    refused_on_field(
        provider.batch_push_hours_records(push(vec![foreign])).await,
        "records[0].name",
    );
    // Nothing was stored.
    refused(
        get_record(&mut provider, &record_name(&year.a1, "online")).await,
        Code::NotFound,
    );
    assert_eq!(
        year.participant_record(&year.a1).await.counted_centihours,
        0
    );
}

async fn a_school_office_pushes_the_hours_it_awards_under_its_own_provider_name(backend: Backend) {
    let Some(year) = Year::open(backend).await else {
        return;
    };
    let own = format!("providers/school-{SCHOOL_A}");
    let mut record = hours(&year.a1, pb::HoursKind::Practice, "practice");
    record.name = format!("{own}/hoursRecords/a1-practice");
    let results = year
        .school_office(SCHOOL_A)
        .batch_push_hours_records(pb::BatchPushHoursRecordsRequest {
            parent: own.clone(),
            records: vec![record.clone()],
        })
        .await
        .unwrap()
        .into_inner()
        .results;
    assert_eq!(
        results[0].outcome,
        pb::PushOutcome::Created as i32,
        "{results:?}"
    );
    assert_eq!(
        year.participant_record(&year.a1).await.counted_centihours,
        3000
    );
    // School B's office pushes as its own school only.
    refused(
        year.school_office(SCHOOL_B)
            .batch_push_hours_records(pb::BatchPushHoursRecordsRequest {
                parent: own,
                records: vec![record],
            })
            .await,
        Code::PermissionDenied,
    );
}

/// Issue 17 §4, a retry returns the first answer: a provider whose push timed out sends the very
/// same records again. Records without `complete_time` are stamped with the time they were first
/// stored; that stamp is the service's, not the provider's content, so the retry is UNCHANGED and
/// stores nothing. Other content under the same revision is still refused, a completion time the
/// first push did not carry included.
async fn a_retried_push_without_complete_times_is_unchanged_and_other_content_under_its_revision_is_not(
    backend: Backend,
) {
    let Some(year) = Year::open(backend).await else {
        return;
    };
    let mut provider = year.provider();
    let undated = |kind, what| pb::HoursRecord {
        complete_time: None,
        ..hours(&year.a1, kind, what)
    };
    let first = push(vec![
        undated(pb::HoursKind::OnlineStudy, "online"),
        undated(pb::HoursKind::Practice, "practice"),
    ]);
    let created = provider
        .batch_push_hours_records(first.clone())
        .await
        .unwrap()
        .into_inner()
        .results;
    let outcomes: Vec<i32> = created.iter().map(|r| r.outcome).collect();
    assert_eq!(
        outcomes,
        [pb::PushOutcome::Created as i32; 2],
        "{created:?}"
    );
    let online = record_name(&year.a1, "online");
    let stored = get_record(&mut provider, &online).await.unwrap();
    assert!(stored.complete_time.is_some(), "stamped when first stored");
    let participant = year.participant_record(&year.a1).await;
    assert_eq!(participant.counted_centihours, 6000);

    let again = provider
        .batch_push_hours_records(first)
        .await
        .unwrap()
        .into_inner()
        .results;
    let outcomes: Vec<i32> = again.iter().map(|r| r.outcome).collect();
    assert_eq!(
        outcomes,
        [pb::PushOutcome::Unchanged as i32; 2],
        "{again:?}"
    );
    assert_eq!(again[0].record.as_ref(), Some(&stored), "the first answer");
    assert_eq!(get_record(&mut provider, &online).await.unwrap(), stored);
    assert_eq!(year.participant_record(&year.a1).await, participant);

    // The same revision with other content: refused, whether or not it carries a time.
    let mut fewer = undated(pb::HoursKind::OnlineStudy, "online");
    fewer.centihours = 2000;
    let mut dated = undated(pb::HoursKind::OnlineStudy, "online");
    dated.complete_time = stored.complete_time;
    dated.complete_time.as_mut().unwrap().seconds -= 3600;
    let conflicting = provider
        .batch_push_hours_records(push(vec![fewer, dated]))
        .await
        .unwrap()
        .into_inner()
        .results;
    for result in &conflicting {
        assert_eq!(
            result.outcome,
            pb::PushOutcome::Rejected as i32,
            "{conflicting:?}"
        );
        assert!(result.error.contains("revision 1"), "{}", result.error);
    }
    assert_eq!(get_record(&mut provider, &online).await.unwrap(), stored);
    assert_eq!(year.participant_record(&year.a1).await, participant);
}

// ---------------------------------------------------------------------------------------------
// GetHoursRecord

async fn an_hours_record_is_read_by_its_provider_its_teacher_and_their_offices_only(
    backend: Backend,
) {
    let Some(year) = Year::open(backend).await else {
        return;
    };
    year.push_hours(&year.a1).await;
    let name = record_name(&year.a1, "online");
    let by_provider = get_record(&mut year.provider(), &name).await.unwrap();
    assert_eq!(by_provider.name, name);
    assert_eq!(by_provider.teacher, format!("teachers/{}", year.a1));
    assert_eq!(by_provider.kind, pb::HoursKind::OnlineStudy as i32);
    assert_eq!(by_provider.centihours, 3000);
    let by_teacher = get_record(&mut year.teacher(&year.a1, SCHOOL_A), &name)
        .await
        .unwrap();
    assert_eq!(by_teacher.counted_centihours, 3000);
    get_record(&mut year.school_office(SCHOOL_A), &name)
        .await
        .unwrap();
    get_record(&mut year.county(), &name).await.unwrap();
    refused(
        get_record(&mut year.teacher(&year.a2, SCHOOL_A), &name).await,
        Code::PermissionDenied,
    );
    refused(
        get_record(&mut year.school_office(SCHOOL_B), &name).await,
        Code::PermissionDenied,
    );
    // Another provider's records are not there for a provider.
    let mut other = year
        .suite
        .assessment("other-provider", Role::TrainingProvider, "340000", None);
    refused(get_record(&mut other, &name).await, Code::NotFound);
    refused(
        get_record(&mut year.provider(), &record_name(&year.a1, "never")).await,
        Code::NotFound,
    );
    refused_on_field(
        get_record(&mut year.provider(), "hoursRecords/x").await,
        "name",
    );
}

// ---------------------------------------------------------------------------------------------
// ListHoursRecords

async fn hours_records_are_listed_per_participant_and_per_provider_within_scope(backend: Backend) {
    let Some(year) = Year::open(backend).await else {
        return;
    };
    year.push_hours(&year.a1).await;
    year.push_hours(&year.b1).await;
    let list = |parent: &str, kind: pb::HoursKind| pb::ListHoursRecordsRequest {
        parent: parent.into(),
        kind: kind as i32,
        ..Default::default()
    };
    let names = |r: pb::ListHoursRecordsResponse| -> Vec<String> {
        let mut n: Vec<String> = r.hours_records.into_iter().map(|h| h.name).collect();
        n.sort();
        n
    };
    let of_a1 = year
        .teacher(&year.a1, SCHOOL_A)
        .list_hours_records(list(
            &year.participant(&year.a1),
            pb::HoursKind::Unspecified,
        ))
        .await
        .unwrap()
        .into_inner();
    let mut expected = vec![
        record_name(&year.a1, "online"),
        record_name(&year.a1, "practice"),
    ];
    expected.sort();
    assert_eq!(names(of_a1), expected);
    let practice = year
        .county()
        .list_hours_records(list(&year.participant(&year.a1), pb::HoursKind::Practice))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(names(practice), [record_name(&year.a1, "practice")]);
    let of_provider = year
        .provider()
        .list_hours_records(list(PROVIDER, pb::HoursKind::Unspecified))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(of_provider.hours_records.len(), 4);
    // A school office sees, of the provider's records, its own teachers'.
    let from_school_b = year
        .school_office(SCHOOL_B)
        .list_hours_records(list(PROVIDER, pb::HoursKind::Unspecified))
        .await
        .unwrap()
        .into_inner();
    assert!(
        from_school_b
            .hours_records
            .iter()
            .all(|h| h.teacher == format!("teachers/{}", year.b1)),
        "{from_school_b:?}"
    );
    assert_eq!(from_school_b.hours_records.len(), 2);
    refused(
        year.teacher(&year.a2, SCHOOL_A)
            .list_hours_records(list(
                &year.participant(&year.a1),
                pb::HoursKind::Unspecified,
            ))
            .await,
        Code::PermissionDenied,
    );
    let mut other = year
        .suite
        .assessment("other-provider", Role::TrainingProvider, "340000", None);
    refused(
        other
            .list_hours_records(list(PROVIDER, pb::HoursKind::Unspecified))
            .await,
        Code::PermissionDenied,
    );
    refused_on_field(
        year.county()
            .list_hours_records(list(
                &format!("teachers/{}", year.a1),
                pb::HoursKind::Unspecified,
            ))
            .await,
        "parent",
    );
}

// ---------------------------------------------------------------------------------------------
// Evidence

/// A PDF of `size` bytes.
fn pdf(size: usize) -> Vec<u8> {
    let mut b = b"%PDF-1.7\n".to_vec();
    b.resize(size, b'x');
    b
}

/// A design plan for `codes`, as a PDF of `bytes`.
fn plan(participant: &str, codes: &[&str], bytes: &[u8]) -> pb::UploadEvidenceRequest {
    pb::UploadEvidenceRequest {
        parent: participant.into(),
        payload: Some(pb::upload_evidence_request::Payload::Evidence(
            pb::Evidence {
                micro_competencies: codes.iter().map(|c| c.to_string()).collect(),
                kind: pb::EvidenceKind::DesignPlan as i32,
                file_name: "教学设计.pdf".into(),
                content_type: "application/pdf".into(),
                size_bytes: bytes.len() as i64,
                ..Default::default()
            },
        )),
    }
}

/// Streams `first` and then `bytes` in chunks of 64 KiB.
async fn upload(
    client: &mut support::AssessmentClient,
    first: pb::UploadEvidenceRequest,
    bytes: &[u8],
) -> Result<pb::Evidence, tonic::Status> {
    let mut messages = vec![first];
    for chunk in bytes.chunks(64 << 10) {
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

async fn list_evidence(
    client: &mut support::AssessmentClient,
    participant: &str,
    code: &str,
) -> Result<Vec<String>, tonic::Status> {
    client
        .list_evidence(pb::ListEvidenceRequest {
            parent: participant.into(),
            micro_competency: code.into(),
            ..Default::default()
        })
        .await
        .map(|r| {
            r.into_inner()
                .evidence
                .into_iter()
                .map(|e| e.name)
                .collect()
        })
}

async fn download(
    client: &mut support::AssessmentClient,
    name: &str,
) -> Result<Vec<u8>, tonic::Status> {
    let mut stream = client
        .download_evidence(pb::DownloadEvidenceRequest { name: name.into() })
        .await?
        .into_inner();
    let mut bytes = Vec::new();
    while let Some(message) = stream.next().await {
        if let Some(pb::download_evidence_response::Payload::Chunk(c)) = message?.payload {
            bytes.extend_from_slice(&c);
        }
    }
    Ok(bytes)
}

/// The year with `a1`'s selection made.
async fn selected(backend: Backend) -> Option<Year> {
    let year = Year::open(backend).await?;
    year.select(&year.a1).await;
    Some(year)
}

// ---------------------------------------------------------------------------------------------
// UploadEvidence

async fn an_upload_is_stored_with_its_hash_and_a_refused_one_stores_nothing(backend: Backend) {
    let Some(year) = selected(backend).await else {
        return;
    };
    let participant = year.participant(&year.a1);
    let mut own = year.teacher(&year.a1, SCHOOL_A);
    let bytes = pdf(200_000);
    // A video that is a PDF by type: a design plan takes documents, not video.
    let mut wrong_type = plan(&participant, &["B2"], &bytes);
    if let Some(pb::upload_evidence_request::Payload::Evidence(e)) = &mut wrong_type.payload {
        e.content_type = "video/mp4".into();
    }
    refused_on_field(
        upload(&mut own, wrong_type, &bytes).await,
        "evidence.content_type",
    );
    // A code the teacher did not select.
    refused_on_field(
        upload(&mut own, plan(&participant, &["A1"], &bytes), &bytes).await,
        "evidence.micro_competencies[0]",
    );
    // Fewer bytes than declared: the upload broke off.
    refused_on_field(
        upload(
            &mut own,
            plan(&participant, &["B2"], &bytes),
            &bytes[..100_000],
        )
        .await,
        "evidence.size_bytes",
    );
    assert!(
        list_evidence(&mut own, &participant, "")
            .await
            .unwrap()
            .is_empty(),
        "nothing refused was stored"
    );
    let stored = upload(&mut own, plan(&participant, &["B2", "C1"], &bytes), &bytes)
        .await
        .unwrap();
    assert!(stored.name.starts_with(&format!("{participant}/evidence/")));
    assert_eq!(stored.size_bytes, 200_000);
    assert_eq!(stored.sha256, hex::encode(Sha256::digest(&bytes)));
    assert_eq!(stored.micro_competencies, ["B2", "C1"]);
    assert_eq!(stored.uploaded_by.unwrap().subject, year.a1);
    // The school office uploads for its teacher too.
    let by_office = upload(
        &mut year.school_office(SCHOOL_A),
        plan(&participant, &["C4"], &bytes),
        &bytes,
    )
    .await
    .unwrap();
    assert_eq!(by_office.micro_competencies, ["C4"]);
}

async fn an_upload_is_refused_to_an_office_a_colleague_and_for_a_handed_in_code(backend: Backend) {
    let Some(year) = selected(backend).await else {
        return;
    };
    let participant = year.participant(&year.a1);
    let bytes = pdf(10_000);
    refused(
        upload(
            &mut year.county(),
            plan(&participant, &["B2"], &bytes),
            &bytes,
        )
        .await,
        Code::PermissionDenied,
    );
    refused(
        upload(
            &mut year.teacher(&year.a2, SCHOOL_A),
            plan(&participant, &["B2"], &bytes),
            &bytes,
        )
        .await,
        Code::PermissionDenied,
    );
    refused(
        upload(
            &mut year.school_office(SCHOOL_B),
            plan(&participant, &["B2"], &bytes),
            &bytes,
        )
        .await,
        Code::PermissionDenied,
    );
    // Handed in, a submission's evidence is frozen.
    support::hand_in(&mut year.county(), &participant, "B2").await;
    let frozen = refused_on_field(
        upload(
            &mut year.teacher(&year.a1, SCHOOL_A),
            plan(&participant, &["B2"], &bytes),
            &bytes,
        )
        .await,
        "evidence.micro_competencies[0]",
    );
    assert!(format!("{frozen:?}").contains("frozen"), "{frozen:?}");
    assert!(
        list_evidence(&mut year.county(), &participant, "")
            .await
            .unwrap()
            .is_empty()
    );
}

// ---------------------------------------------------------------------------------------------
// GetEvidence

async fn evidence_metadata_is_read_by_the_teacher_and_their_school_not_a_colleague(
    backend: Backend,
) {
    let Some(year) = selected(backend).await else {
        return;
    };
    let participant = year.participant(&year.a1);
    let bytes = pdf(10_000);
    let stored = upload(
        &mut year.teacher(&year.a1, SCHOOL_A),
        plan(&participant, &["B2"], &bytes),
        &bytes,
    )
    .await
    .unwrap();
    let get = |name: &str| pb::GetEvidenceRequest { name: name.into() };
    for mut reader in [
        year.teacher(&year.a1, SCHOOL_A),
        year.school_office(SCHOOL_A),
        year.county(),
    ] {
        let got = reader
            .get_evidence(get(&stored.name))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(got, stored);
    }
    refused(
        year.teacher(&year.a2, SCHOOL_A)
            .get_evidence(get(&stored.name))
            .await,
        Code::PermissionDenied,
    );
    refused(
        year.school_office(SCHOOL_B)
            .get_evidence(get(&stored.name))
            .await,
        Code::PermissionDenied,
    );
    refused(
        year.county()
            .get_evidence(get(&format!("{participant}/evidence/0000")))
            .await,
        Code::NotFound,
    );
    refused_on_field(year.county().get_evidence(get(&participant)).await, "name");
}

// ---------------------------------------------------------------------------------------------
// ListEvidence

async fn evidence_is_listed_per_participant_and_per_micro_competency(backend: Backend) {
    let Some(year) = selected(backend).await else {
        return;
    };
    let participant = year.participant(&year.a1);
    let bytes = pdf(10_000);
    let mut own = year.teacher(&year.a1, SCHOOL_A);
    let b2 = upload(&mut own, plan(&participant, &["B2"], &bytes), &bytes)
        .await
        .unwrap();
    let both = upload(&mut own, plan(&participant, &["C1", "C4"], &bytes), &bytes)
        .await
        .unwrap();
    let mut all = list_evidence(&mut own, &participant, "").await.unwrap();
    all.sort();
    let mut expected = vec![b2.name.clone(), both.name.clone()];
    expected.sort();
    assert_eq!(all, expected);
    assert_eq!(
        list_evidence(&mut year.county(), &participant, "C4")
            .await
            .unwrap(),
        [both.name.as_str()]
    );
    assert!(
        list_evidence(&mut own, &participant, "A1")
            .await
            .unwrap()
            .is_empty()
    );
    refused(
        list_evidence(&mut year.teacher(&year.a2, SCHOOL_A), &participant, "").await,
        Code::PermissionDenied,
    );
    refused(
        list_evidence(
            &mut year.county(),
            &year.participant("34132419850301999X"),
            "",
        )
        .await,
        Code::NotFound,
    );
}

// ---------------------------------------------------------------------------------------------
// DownloadEvidence

async fn evidence_downloads_byte_for_byte_to_the_teacher_and_the_assessor_not_a_colleague(
    backend: Backend,
) {
    let Some(year) = selected(backend).await else {
        return;
    };
    let participant = year.participant(&year.a1);
    // More than one 1 MiB chunk on the way out.
    let bytes = pdf((1 << 20) + 4096);
    let stored = upload(
        &mut year.teacher(&year.a1, SCHOOL_A),
        plan(&participant, &["B2"], &bytes),
        &bytes,
    )
    .await
    .unwrap();
    assert_eq!(
        download(&mut year.teacher(&year.a1, SCHOOL_A), &stored.name)
            .await
            .unwrap(),
        bytes
    );
    // The county's assessor, who grades the school's work (《泗县实施意见》附件2 §四(二)4).
    assert_eq!(
        download(&mut year.grader(), &stored.name).await.unwrap(),
        bytes
    );
    refused(
        download(&mut year.teacher(&year.a2, SCHOOL_A), &stored.name).await,
        Code::PermissionDenied,
    );
    refused(
        download(&mut year.county(), &format!("{participant}/evidence/0000")).await,
        Code::NotFound,
    );
}

// ---------------------------------------------------------------------------------------------
// DeleteEvidence

async fn evidence_is_deleted_while_its_submissions_are_drafts_and_frozen_once_handed_in(
    backend: Backend,
) {
    let Some(year) = selected(backend).await else {
        return;
    };
    let participant = year.participant(&year.a1);
    let bytes = pdf(10_000);
    let mut own = year.teacher(&year.a1, SCHOOL_A);
    let draft = upload(&mut own, plan(&participant, &["C1"], &bytes), &bytes)
        .await
        .unwrap();
    let frozen = upload(&mut own, plan(&participant, &["B2"], &bytes), &bytes)
        .await
        .unwrap();
    let delete = |name: &str| pb::DeleteEvidenceRequest { name: name.into() };
    refused(
        year.county().delete_evidence(delete(&draft.name)).await,
        Code::PermissionDenied,
    );
    refused(
        year.teacher(&year.a2, SCHOOL_A)
            .delete_evidence(delete(&draft.name))
            .await,
        Code::PermissionDenied,
    );
    own.delete_evidence(delete(&draft.name)).await.unwrap();
    refused(
        own.get_evidence(pb::GetEvidenceRequest {
            name: draft.name.clone(),
        })
        .await,
        Code::NotFound,
    );
    refused(
        own.delete_evidence(delete(&draft.name)).await,
        Code::NotFound,
    );
    // B2 handed in: its evidence stays, and still downloads.
    support::hand_in(&mut year.county(), &participant, "B2").await;
    refused(
        own.delete_evidence(delete(&frozen.name)).await,
        Code::FailedPrecondition,
    );
    assert_eq!(
        list_evidence(&mut own, &participant, "").await.unwrap(),
        [frozen.name.as_str()]
    );
    assert_eq!(download(&mut own, &frozen.name).await.unwrap(), bytes);
}

/// A certified batch's results are final (《安徽指导意见》§四(二)5 验收): hours a provider pushes
/// afterwards are kept, and the answer says they do not count, rather than COUNTED for hours
/// that change nothing. Hours received before certification still read as counted.
async fn hours_pushed_after_certification_are_kept_but_said_not_to_count(backend: Backend) {
    let Some(year) = Year::open(backend).await else {
        return;
    };
    year.certified().await;
    let teacher = year.a1.clone();
    let before = year.participant_record(&teacher).await;
    let late = year
        .provider()
        .batch_push_hours_records(pb::BatchPushHoursRecordsRequest {
            parent: "providers/anhui-online".into(),
            records: vec![hours(&teacher, pb::HoursKind::OnlineStudy, "late")],
        })
        .await
        .unwrap()
        .into_inner()
        .results
        .remove(0);
    assert_eq!(late.outcome, pb::PushOutcome::Created as i32, "{late:?}");
    let record = late.record.expect("the stored record");
    assert_eq!(
        record.status,
        pb::HoursRecordStatus::NotCounted as i32,
        "{record:?}"
    );
    assert_eq!(record.counted_centihours, 0);
    assert!(record.status_reason.contains("certified"), "{record:?}");
    let after = year.participant_record(&teacher).await;
    assert_eq!(after.counted_centihours, before.counted_centihours);
    // What was received before certification reads as it counted.
    let listed = year
        .provider()
        .list_hours_records(pb::ListHoursRecordsRequest {
            parent: year.participant(&teacher),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .hours_records;
    let status = |what: &str| {
        listed
            .iter()
            .find(|r| r.name.ends_with(&format!("{teacher}-{what}")))
            .map(|r| r.status)
    };
    assert_eq!(
        status("online"),
        Some(pb::HoursRecordStatus::Counted as i32)
    );
    assert_eq!(
        status("late"),
        Some(pb::HoursRecordStatus::NotCounted as i32)
    );
}

/// `total_size` is "matching records in all pages" (AIP-158), not the page's length, and it
/// counts only what the caller may read: a school office learns nothing of how many records a
/// provider holds elsewhere.
async fn a_listings_pages_are_full_and_its_total_counts_every_page_the_caller_may_read(
    backend: Backend,
) {
    let Some(year) = Year::open(backend).await else {
        return;
    };
    for teacher in [&year.a1, &year.a2, &year.b1] {
        year.push_hours(teacher).await;
    }
    let page = |parent: &str, token: String| pb::ListHoursRecordsRequest {
        parent: parent.into(),
        page_size: 2,
        page_token: token,
        ..Default::default()
    };
    // The provider's 6 records, 2 a page: every page full but the last, each with the total.
    let mut provider = year.provider();
    let (mut token, mut seen) = (String::new(), 0);
    loop {
        let r = provider
            .list_hours_records(page(PROVIDER, token))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(r.total_size, 6, "{r:?}");
        seen += r.hours_records.len();
        if r.next_page_token.is_empty() {
            break;
        }
        assert_eq!(r.hours_records.len(), 2);
        token = r.next_page_token;
    }
    assert_eq!(seen, 6);
    // School B's office sees b1's two, on a full first page, and a total of two.
    let from_b = year
        .school_office(SCHOOL_B)
        .list_hours_records(page(PROVIDER, String::new()))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(from_b.hours_records.len(), 2, "{from_b:?}");
    assert_eq!(from_b.total_size, 2);
    assert!(from_b.next_page_token.is_empty());
}

/// The contract's third parent, `batches/{id}`: the records of the batch's participants, to the
/// county office whole and to a school office its own school's.
async fn a_batchs_hours_records_are_listed_to_its_offices_each_within_its_scope(backend: Backend) {
    let Some(year) = Year::open(backend).await else {
        return;
    };
    for teacher in [&year.a1, &year.b1] {
        year.push_hours(teacher).await;
    }
    let of_batch = pb::ListHoursRecordsRequest {
        parent: year.batch.clone(),
        ..Default::default()
    };
    let county = year
        .county()
        .list_hours_records(of_batch.clone())
        .await
        .expect("a batch parent is listed")
        .into_inner();
    assert_eq!((county.hours_records.len(), county.total_size), (4, 4));
    let school_a = year
        .school_office(SCHOOL_A)
        .list_hours_records(of_batch.clone())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(school_a.total_size, 2);
    assert!(
        school_a
            .hours_records
            .iter()
            .all(|h| h.teacher == format!("teachers/{}", year.a1)),
        "{school_a:?}"
    );
    // Another county's office is refused before anything is read.
    let mut elsewhere = year
        .suite
        .assessment("office", Role::CountyOffice, "341302", None);
    let refused_elsewhere = elsewhere.list_hours_records(of_batch).await.unwrap_err();
    assert!(
        matches!(
            refused_elsewhere.code(),
            Code::PermissionDenied | Code::NotFound
        ),
        "{refused_elsewhere:?}"
    );
}
