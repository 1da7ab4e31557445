//! Safe retries (AIP-155), on both databases: an office whose RevokeCertificate timed out after
//! it went through retries with the same `request_id` and gets the first answer, with one
//! revocation in the log; a retry without it, with another id, or by someone else is still
//! refused as final.

mod support;

use std::collections::HashMap;

use support::certified_event;
use tica_auth::{BearerToken, Caller, Role};
use tica_certificate::error::CertificateError;
use tica_certificate::model::{Reason, Status};
use tica_certificate::service::{Ctx, Numbers};
use tica_domain::division::DivisionCode;
use tica_storage::Backend;

tica_testkit::backend_tests!(
    a_revocation_retried_with_its_request_id_answers_as_the_first_and_logs_once,
    a_bad_request_id_is_refused_before_anything_changes,
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
        assert!(
            matches!(refused, CertificateError::FailedPrecondition(_)),
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
