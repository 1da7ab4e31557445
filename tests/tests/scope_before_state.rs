//! Scope before state, played by another county's office over the suite's gRPC API: whatever
//! it asks about a batch of 泗县 — a batch that exists in some state, or one that does not —
//! it gets the same PERMISSION_DENIED naming only its own jurisdiction. No answer confirms that
//! the batch exists, says what state it is in, or names anything under it. The roster's records,
//! asked for by name, answer NOT_FOUND outside the caller's subtree exactly as when missing.

use tica_auth::Role;
use tica_e2e::{AssessmentClient, Cluster};
use tica_proto::tica::assessment::v1 as pb;
use tica_proto::tica::certificate::v1 as cpb;
use tica_proto::tica::roster::v1 as rpb;
use tica_proto::tica::sampling::v1 as sp;
use tica_storage::Backend;
use tonic::{Code, Status};

tica_testkit::backend_tests!(
    another_countys_batch_answers_alike_whether_it_exists_or_not,
    another_countys_rounds_and_runs_answer_alike_whether_they_exist_or_not,
    another_countys_schools_and_teachers_are_not_found_exactly_like_missing_ones,
);

const SIXIAN: &str = "341324";
const XIAOXIAN: &str = "341322";
/// 泗县's batch, left in DRAFT.
const DRAFT: &str = "341324-2026";
/// A batch 泗县 never created.
const NONE: &str = "341324-2031";
const TEACHER: &str = "34132400010001";

async fn suite(backend: Backend) -> Option<Cluster> {
    let cluster = Cluster::start(backend).await?;
    cluster
        .register_jurisdictions(&[
            ("340000", "安徽省", ""),
            ("341300", "宿州市", "340000"),
            (SIXIAN, "泗县", "341300"),
            (XIAOXIAN, "萧县", "341300"),
        ])
        .await;
    let mut sixian = cluster.assessment("sixian", Role::CountyOffice, SIXIAN, None);
    sixian
        .create_batch(pb::CreateBatchRequest {
            batch: Some(pb::Batch {
                county: format!("jurisdictions/{SIXIAN}"),
                year: 2026,
                display_name: "泗县 2026".into(),
                ..Default::default()
            }),
        })
        .await
        .expect("泗县's batch, in DRAFT");
    Some(cluster)
}

/// The same call about the existing batch and about the missing one: the same refusal.
async fn alike<F, Fut, T>(what: &str, mut call: F)
where
    F: FnMut(&'static str) -> Fut,
    Fut: std::future::Future<Output = Result<T, Status>>,
    T: std::fmt::Debug,
{
    let existing = call(DRAFT).await.expect_err(what);
    let missing = call(NONE).await.expect_err(what);
    assert_eq!(
        existing.code(),
        Code::PermissionDenied,
        "{what}: {existing:?}"
    );
    assert_eq!(
        (existing.code(), existing.message()),
        (missing.code(), missing.message()),
        "{what} tells an existing batch from a missing one"
    );
    assert!(
        existing.message().contains(XIAOXIAN) && !existing.message().contains(SIXIAN),
        "{what} names only the caller's own jurisdiction: {existing:?}"
    );
}

async fn another_countys_batch_answers_alike_whether_it_exists_or_not(backend: Backend) {
    let Some(cluster) = suite(backend).await else {
        return;
    };
    let nosy: AssessmentClient = cluster.assessment("xiaoxian", Role::CountyOffice, XIAOXIAN, None);

    alike("GetBatch", |b| {
        let mut c = nosy.clone();
        async move {
            c.get_batch(pb::GetBatchRequest {
                name: format!("batches/{b}"),
            })
            .await
        }
    })
    .await;
    alike("EnrolParticipants", |b| {
        let mut c = nosy.clone();
        async move {
            c.enrol_participants(pb::EnrolParticipantsRequest {
                batch: format!("batches/{b}"),
                teachers: vec![format!("teachers/{TEACHER}")],
            })
            .await
        }
    })
    .await;
    alike("RecordOfflineCheck", |b| {
        let mut c = nosy.clone();
        async move {
            c.record_offline_check(pb::RecordOfflineCheckRequest {
                participant: format!("batches/{b}/participants/{TEACHER}"),
                outcome: pb::OfflineCheck::Passed as i32,
                review_round: String::new(),
                reason: "线下测评".into(),
            })
            .await
        }
    })
    .await;
    alike("OpenBatch", |b| {
        let mut c = nosy.clone();
        async move {
            c.open_batch(pb::OpenBatchRequest {
                name: format!("batches/{b}"),
                open_date: None,
            })
            .await
        }
    })
    .await;
    alike("CertifyBatch", |b| {
        let mut c = nosy.clone();
        async move {
            c.certify_batch(pb::CertifyBatchRequest {
                name: format!("batches/{b}"),
                review_round: String::new(),
                reason: "抽测合格".into(),
            })
            .await
        }
    })
    .await;
    alike("GetParticipant", |b| {
        let mut c = nosy.clone();
        async move {
            c.get_participant(pb::GetParticipantRequest {
                name: format!("batches/{b}/participants/{TEACHER}"),
            })
            .await
        }
    })
    .await;
    alike("GetSubmission", |b| {
        let mut c = nosy.clone();
        async move {
            c.get_submission(pb::GetSubmissionRequest {
                name: format!("batches/{b}/participants/{TEACHER}/submissions/B2"),
            })
            .await
        }
    })
    .await;
    alike("ListEvidence", |b| {
        let mut c = nosy.clone();
        async move {
            c.list_evidence(pb::ListEvidenceRequest {
                parent: format!("batches/{b}/participants/{TEACHER}"),
                ..Default::default()
            })
            .await
        }
    })
    .await;
    alike("GetSchoolResult", |b| {
        let mut c = nosy.clone();
        async move {
            c.get_school_result(pb::GetSchoolResultRequest {
                name: format!("batches/{b}/schoolResults/3413240001"),
            })
            .await
        }
    })
    .await;
    alike("ApproveSchoolResults", |b| {
        let mut c = nosy.clone();
        async move {
            c.approve_school_results(pb::ApproveSchoolResultsRequest {
                name: format!("batches/{b}/schoolResults/3413240001"),
                review_round: String::new(),
                reason: "合格".into(),
            })
            .await
        }
    })
    .await;
    alike("StreamCertifiedResults", |b| {
        let mut c = nosy.clone();
        async move {
            c.stream_certified_results(pb::StreamCertifiedResultsRequest {
                batch: format!("batches/{b}"),
                after_sequence: 0,
                follow: false,
            })
            .await
            .map(|_| ())
        }
    })
    .await;

    // 泗县's own office still sees its batch, and a batch it never made is NOT_FOUND.
    let mut sixian = cluster.assessment("sixian", Role::CountyOffice, SIXIAN, None);
    let own = sixian
        .get_batch(pb::GetBatchRequest {
            name: format!("batches/{DRAFT}"),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(own.state, pb::BatchState::Draft as i32);
    let missing = sixian
        .get_batch(pb::GetBatchRequest {
            name: format!("batches/{NONE}"),
        })
        .await
        .unwrap_err();
    assert_eq!(missing.code(), Code::NotFound);
    cluster.stop().await;
}

async fn another_countys_rounds_and_runs_answer_alike_whether_they_exist_or_not(backend: Backend) {
    let Some(cluster) = suite(backend).await else {
        return;
    };
    let token = cluster.token(Role::CountyOffice, XIAOXIAN, None);
    let mut sampling = tica_client::sampling(cluster.channel.clone(), &token);
    let mut certificates = tica_client::certificate(cluster.channel.clone(), &token);
    // No round or run exists in 泗县; each answer is the one an existing one gets from the
    // service tests (`services/{sampling,certificate}/tests/fail_closed.rs`): refused by scope.
    for name in [
        "reviewRounds/341324-2026-county-1",
        "reviewRounds/341324-2026-county-2",
    ] {
        let refused = sampling
            .get_review_round(sp::GetReviewRoundRequest { name: name.into() })
            .await
            .unwrap_err();
        assert_eq!(refused.code(), Code::PermissionDenied, "{refused:?}");
    }
    for name in ["issuanceRuns/341324-2026-1", "issuanceRuns/341324-2026-2"] {
        let refused = certificates
            .get_issuance_run(cpb::GetIssuanceRunRequest { name: name.into() })
            .await
            .unwrap_err();
        assert_eq!(refused.code(), Code::PermissionDenied, "{refused:?}");
    }
    cluster.stop().await;
}

async fn another_countys_schools_and_teachers_are_not_found_exactly_like_missing_ones(
    backend: Backend,
) {
    let Some(cluster) = suite(backend).await else {
        return;
    };
    let mut sixian = cluster.roster(Role::CountyOffice, SIXIAN);
    cluster
        .register_school(SIXIAN, "3413240001", "泗县实验小学")
        .await;
    let number = cluster
        .register_teacher(
            SIXIAN,
            "3413240001",
            "王芳",
            "数学",
            time::Date::from_calendar_date(1988, time::Month::March, 3).unwrap(),
            5,
        )
        .await;
    let mut nosy = cluster.roster(Role::CountyOffice, XIAOXIAN);
    let school = |code: &str| rpb::GetSchoolRequest {
        name: format!("schools/{code}"),
    };
    let there = nosy.get_school(school("3413240001")).await.unwrap_err();
    let not_there = nosy.get_school(school("3413240099")).await.unwrap_err();
    assert_eq!(there.code(), Code::NotFound, "{there:?}");
    assert_eq!(
        there.message().replace("3413240001", "?"),
        not_there.message().replace("3413240099", "?"),
        "GetSchool tells another county's school from a missing one"
    );
    let number = number.as_str();
    let missing_number = "34132400019999";
    let teacher = |n: &str| rpb::GetTeacherRequest {
        name: format!("teachers/{n}"),
    };
    let there = nosy.get_teacher(teacher(number)).await.unwrap_err();
    let not_there = nosy.get_teacher(teacher(missing_number)).await.unwrap_err();
    assert_eq!(there.code(), Code::NotFound, "{there:?}");
    assert_eq!(
        there.message().replace(number, "?"),
        not_there.message().replace(missing_number, "?"),
        "GetTeacher tells another county's teacher from a missing one"
    );
    let batch = nosy
        .batch_get_teachers(rpb::BatchGetTeachersRequest {
            names: vec![format!("teachers/{number}")],
        })
        .await
        .unwrap_err();
    assert_eq!(batch.code(), Code::NotFound, "{batch:?}");
    // 泗县's office still reads its own.
    sixian.get_school(school("3413240001")).await.unwrap();
    cluster.stop().await;
}
