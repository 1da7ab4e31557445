//! Safe retries (AIP-155), on both databases: an office whose RevokeCertificate timed out after
//! it went through retries with the same `request_id` and gets the first answer, with one
//! revocation in the log; a retry without it, with another id, or by someone else is still
//! refused as final. Likewise StartIssuanceRun and CreateCertificateArchive: a retry with the
//! first call's `request_id` gets the run or archive job the first call made and makes none;
//! without it, with another id, or by someone else, the call is a new one as before.

mod support;

use std::collections::HashMap;
use std::time::Duration;

use support::certified_event;
use tica_auth::{BearerToken, Caller, Role};
use tica_certificate::error::CertificateError;
use tica_certificate::model::{Reason, RunRecord, Status};
use tica_certificate::service::{Certificates, Ctx, Numbers};
use tica_domain::division::DivisionCode;
use tica_server::errors::ErrorReason;
use tica_storage::{Backend, Database};

tica_testkit::backend_tests!(
    a_revocation_retried_with_its_request_id_answers_as_the_first_and_logs_once,
    a_bad_request_id_is_refused_before_anything_changes,
    a_run_started_again_with_its_request_id_is_the_first_run_even_ended_and_starts_no_other,
    a_run_started_without_the_first_request_id_or_by_another_caller_is_a_new_run,
    two_racing_starts_with_one_request_id_store_one_run,
    an_archive_asked_again_with_its_request_id_is_the_first_job_and_makes_no_other,
    an_archive_asked_without_the_first_request_id_or_by_another_caller_is_a_new_job,
);

fn office(subject: &str) -> Ctx {
    Ctx::new(
        tica_certificate::service::SERVICE_NAME,
        Caller::new(
            subject.into(),
            Role::CountyOffice,
            DivisionCode::parse("341324").unwrap(),
            None,
        ),
        BearerToken(String::new()),
    )
}

/// Two certificates issued by Sixian's run 1.
async fn issued(backend: Backend) -> Option<(support::Offline, Vec<String>)> {
    let f = support::Offline::open(backend).await?;
    let keys: HashMap<String, String> = (0..2)
        .map(|i| (support::teacher_of(i), format!("key-{i}")))
        .collect();
    let mut run = support::stored_run(&f.db, 1, 0).await.unwrap();
    f.svc
        .process(
            &mut run,
            (0..2).map(certified_event).collect(),
            &keys,
            &mut Numbers::new(),
        )
        .await
        .unwrap();
    let ids = support::all_certificates(&f.db)
        .await
        .into_iter()
        .map(|c| c.id)
        .collect();
    Some((f, ids))
}

async fn a_revocation_retried_with_its_request_id_answers_as_the_first_and_logs_once(
    backend: Backend,
) {
    let Some((f, ids)) = issued(backend).await else {
        return;
    };
    let id = &ids[0];
    let request = "7f1d2c1e-8a4b-4c55-9d0e-3b2a1f0e9c8d";
    let me = office("county-clerk");
    let first = f
        .svc
        .revoke(&me, id, Reason::IssuedInError, "证书信息有误", request)
        .await
        .unwrap();
    assert_eq!(first.status, Status::Revoked);
    let log_after_first = f.svc.log_checkpoint(0).await.unwrap().tree_size;
    // The answer was lost; the clerk's program retries, exactly as before.
    let again = f
        .svc
        .revoke(&me, id, Reason::IssuedInError, "证书信息有误", request)
        .await
        .expect("a retry with the same request_id gets the first answer");
    assert_eq!(again.doc.revocation, first.doc.revocation);
    assert_eq!(
        f.svc.log_checkpoint(0).await.unwrap().tree_size,
        log_after_first,
        "logged once"
    );
    // Anything else is still told that revocation is final.
    for (who, request_id) in [
        (office("county-clerk"), ""),
        (office("county-clerk"), "another-request"),
        (office("another-clerk"), request),
    ] {
        let refused = f
            .svc
            .revoke(&who, id, Reason::IssuedInError, "证书信息有误", request_id)
            .await
            .unwrap_err();
        assert_eq!(
            refused.reason(),
            ErrorReason::CertificateAlreadyRevoked,
            "{request_id:?}: {refused:?}"
        );
    }
}

async fn a_bad_request_id_is_refused_before_anything_changes(backend: Backend) {
    let Some((f, ids)) = issued(backend).await else {
        return;
    };
    for bad in ["有中文", "a b", &"x".repeat(65)] {
        let refused = f
            .svc
            .revoke(&office("clerk"), &ids[1], Reason::Fraud, "冒名", bad)
            .await
            .unwrap_err();
        assert!(
            matches!(refused, CertificateError::Invalid(_)),
            "{bad:?}: {refused:?}"
        );
    }
    let still = support::all_certificates(&f.db).await;
    assert!(still.iter().all(|c| c.status == Status::Active));
}

// ---------------------------------------------------------------------------------------------
// StartIssuanceRun

const BATCH: &str = "341324-2022";

/// A stand-in assessment service: GetBatch answers every batch as Sixian's and CERTIFIED; every
/// other method (and the roster, served by it too) is UNIMPLEMENTED, so a run started over it
/// ends FAILED at once, which is all these tests need: a run that has ended.
mod assessment {
    use std::convert::Infallible;
    use std::future::Future;
    use std::pin::Pin;
    use std::task::{Context, Poll};

    use tica_proto::tica::assessment::v1 as apb;
    use tonic::body::Body;
    use tonic::codegen::http;

    #[derive(Clone, Debug)]
    pub struct Certified;

    impl tonic::server::NamedService for Certified {
        const NAME: &'static str = "tica.assessment.v1.AssessmentService";
    }

    struct GetBatch;

    impl tonic::server::UnaryService<apb::GetBatchRequest> for GetBatch {
        type Response = apb::Batch;
        type Future = std::future::Ready<Result<tonic::Response<apb::Batch>, tonic::Status>>;

        fn call(&mut self, request: tonic::Request<apb::GetBatchRequest>) -> Self::Future {
            std::future::ready(Ok(tonic::Response::new(apb::Batch {
                name: request.into_inner().name,
                county: "jurisdictions/341324".into(),
                state: apb::BatchState::Certified as i32,
                ..Default::default()
            })))
        }
    }

    impl tower::Service<http::Request<Body>> for Certified {
        type Response = http::Response<Body>;
        type Error = Infallible;
        type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Infallible>> + Send>>;

        fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
            Poll::Ready(Ok(()))
        }

        fn call(&mut self, request: http::Request<Body>) -> Self::Future {
            Box::pin(async move {
                if request.uri().path() == "/tica.assessment.v1.AssessmentService/GetBatch" {
                    let mut grpc = tonic::server::Grpc::new(tonic_prost::ProstCodec::default());
                    Ok(grpc.unary(GetBatch, request).await)
                } else {
                    Ok(tonic::Status::unimplemented("not in this stand-in").into_http())
                }
            })
        }
    }

    /// Serves the stand-in on a free loopback port; its URL.
    pub async fn serve() -> String {
        let incoming =
            tonic::transport::server::TcpIncoming::bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let url = format!("http://{}", incoming.local_addr().unwrap());
        tokio::spawn(
            tonic::transport::Server::builder()
                .add_service(Certified)
                .serve_with_incoming(incoming),
        );
        url
    }
}

/// The certificate service over a fresh database whose assessment service is the stand-in.
async fn issuing(backend: Backend) -> Option<(support::Offline, Certificates)> {
    let f = support::Offline::open(backend).await?;
    let upstream = tica_certificate::startup::channel(&assessment::serve().await).unwrap();
    let keys = tica_certificate::keys::read_key_dir(&f.dir.path().join("keys"), None).unwrap();
    let svc = Certificates::new(
        f.db.clone(),
        tica_certificate::upstream::Upstream::new(upstream.clone(), upstream),
        keys,
        support::test_config(f.dir.path()),
    )
    .await
    .unwrap();
    Some((f, svc))
}

/// Waits (at most 10 s) until `run` has ended; the run as it ended.
async fn ended(svc: &Certificates, run: &RunRecord) -> RunRecord {
    for _ in 0..200 {
        let now = svc.run(&office("county-clerk"), &run.id).await.unwrap();
        if now.state.is_terminal() {
            return now;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("issuanceRuns/{} did not end", run.id)
}

/// The ids of Sixian's runs as ListIssuanceRuns lists them to its office, newest first.
async fn listed_runs(svc: &Certificates) -> Vec<String> {
    svc.runs(&office("county-clerk"), None, "", "", None, 100)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.id)
        .collect()
}

async fn a_run_started_again_with_its_request_id_is_the_first_run_even_ended_and_starts_no_other(
    backend: Backend,
) {
    let Some((_f, svc)) = issuing(backend).await else {
        return;
    };
    let me = office("county-clerk");
    let request = "0b9f4c1a-6d2e-4f8a-9c3b-7e5d1a2f4b6c";
    let first = svc.start_run(&me, BATCH, request).await.unwrap();
    let first = ended(&svc, &first).await;
    let before = listed_runs(&svc).await;
    assert_eq!(before, vec![first.id.clone()]);
    // The answer was lost; the clerk's program retries after the run has ended.
    let again = svc
        .start_run(&me, BATCH, request)
        .await
        .expect("a retry with the same request_id gets the first run");
    assert_eq!(again.id, first.id);
    assert_eq!(again.state, first.state, "as it stands now: ended");
    assert_eq!(listed_runs(&svc).await, before, "no second run");
    // The same id for another batch is a mistake the client must hear of.
    let reused = svc
        .start_run(&me, "341324-2023", request)
        .await
        .unwrap_err();
    assert!(
        matches!(reused, CertificateError::AlreadyExists(_)),
        "{reused:?}"
    );
    for bad in ["有中文", "a b", &"x".repeat(65)] {
        let refused = svc.start_run(&me, BATCH, bad).await.unwrap_err();
        assert!(
            matches!(refused, CertificateError::Invalid(_)),
            "{bad:?}: {refused:?}"
        );
    }
    assert_eq!(listed_runs(&svc).await, before);
}

async fn a_run_started_without_the_first_request_id_or_by_another_caller_is_a_new_run(
    backend: Backend,
) {
    let Some((_f, svc)) = issuing(backend).await else {
        return;
    };
    let request = "5c2e8f1d-3b4a-4e6f-8a9d-1c7b2e5f3a8d";
    let first = svc
        .start_run(&office("county-clerk"), BATCH, request)
        .await
        .unwrap();
    ended(&svc, &first).await;
    let mut started = vec![first.id.clone()];
    for (who, request_id) in [
        (office("county-clerk"), ""),
        (
            office("county-clerk"),
            "9e8d7c6b-5a4f-4e3d-8c2b-1a0f9e8d7c6b",
        ),
        (office("another-clerk"), request),
    ] {
        let run = svc.start_run(&who, BATCH, request_id).await.unwrap();
        assert!(!started.contains(&run.id), "{request_id:?}: a new run");
        ended(&svc, &run).await;
        started.push(run.id);
    }
    started.reverse();
    assert_eq!(listed_runs(&svc).await, started);
    // Each caller's retry still finds their own run.
    let mine = svc
        .start_run(&office("county-clerk"), BATCH, request)
        .await
        .unwrap();
    assert_eq!(mine.id, first.id);
    let theirs = svc
        .start_run(&office("another-clerk"), BATCH, request)
        .await
        .unwrap();
    assert_eq!(theirs.id, started[0]);
}

async fn two_racing_starts_with_one_request_id_store_one_run(backend: Backend) {
    let Some((_f, svc)) = issuing(backend).await else {
        return;
    };
    let me = office("county-clerk");
    let request = "d4c3b2a1-0f9e-4d8c-b7a6-f5e4d3c2b1a0";
    let (one, two) = tokio::join!(
        svc.start_run(&me, BATCH, request),
        svc.start_run(&me, BATCH, request)
    );
    let (one, two) = (one.unwrap(), two.unwrap());
    assert_eq!(one.id, two.id);
    ended(&svc, &one).await;
    assert_eq!(listed_runs(&svc).await, [one.id]);
}

// ---------------------------------------------------------------------------------------------
// CreateCertificateArchive

/// How many archive jobs are stored (there is no list of them).
async fn stored_archives(db: &Database) -> i64 {
    let (n,): (i64,) = tica_storage::with_db!(db, pool => {
        sqlx::query_as("SELECT COUNT(*) FROM archives")
            .fetch_one(pool)
            .await
            .unwrap()
    });
    n
}

async fn an_archive_asked_again_with_its_request_id_is_the_first_job_and_makes_no_other(
    backend: Backend,
) {
    let Some((f, _)) = issued(backend).await else {
        return;
    };
    let me = office("county-clerk");
    let school = f.svc.school_path(&me.caller, "3413240001").await.unwrap();
    let request = "2a4c6e8f-1b3d-4f5a-8c7e-9d0b2f4a6c8e";
    let first = f
        .svc
        .create_archive(&me, school.clone(), "", false, request)
        .await
        .unwrap();
    assert_eq!(stored_archives(&f.db).await, 1);
    // The answer was lost; the clerk's program retries.
    let again = f
        .svc
        .create_archive(&me, school.clone(), "", false, request)
        .await
        .expect("a retry with the same request_id gets the first job");
    assert_eq!(again.id, first.id);
    assert_eq!(stored_archives(&f.db).await, 1, "no second job");
    // The same id with other contents is a mistake the client must hear of.
    for (batch, include_revoked) in [(BATCH, false), ("", true)] {
        let reused = f
            .svc
            .create_archive(&me, school.clone(), batch, include_revoked, request)
            .await
            .unwrap_err();
        assert!(
            matches!(reused, CertificateError::AlreadyExists(_)),
            "{reused:?}"
        );
    }
    let refused = f
        .svc
        .create_archive(&me, school, "", false, "a b")
        .await
        .unwrap_err();
    assert!(
        matches!(refused, CertificateError::Invalid(_)),
        "{refused:?}"
    );
    assert_eq!(stored_archives(&f.db).await, 1);
}

async fn an_archive_asked_without_the_first_request_id_or_by_another_caller_is_a_new_job(
    backend: Backend,
) {
    let Some((f, _)) = issued(backend).await else {
        return;
    };
    let me = office("county-clerk");
    let school = f.svc.school_path(&me.caller, "3413240001").await.unwrap();
    let request = "7e6d5c4b-3a2f-4e1d-9c8b-a7f6e5d4c3b2";
    let first = f
        .svc
        .create_archive(&me, school.clone(), "", false, request)
        .await
        .unwrap();
    let mut made = vec![first.id.clone()];
    for (who, request_id) in [
        (office("county-clerk"), ""),
        (office("county-clerk"), ""),
        (
            office("county-clerk"),
            "1f2e3d4c-5b6a-4978-8a7b-6c5d4e3f2a1b",
        ),
        (office("another-clerk"), request),
    ] {
        let archive = f
            .svc
            .create_archive(&who, school.clone(), "", false, request_id)
            .await
            .unwrap();
        assert!(!made.contains(&archive.id), "{request_id:?}: a new job");
        made.push(archive.id);
    }
    assert_eq!(stored_archives(&f.db).await, 5);
    let theirs = f
        .svc
        .create_archive(&office("another-clerk"), school, "", false, request)
        .await
        .unwrap();
    assert_eq!(
        theirs.id, made[4],
        "each caller's retry finds their own job"
    );
}
