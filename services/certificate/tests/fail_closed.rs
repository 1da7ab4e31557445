//! Stored paths and other counties, on both databases: a run or certificate whose stored scope
//! path is corrupt is refused to everyone (it never widens into the whole tree), and what lies
//! in another county answers exactly as what does not exist.

mod support;

use std::collections::HashMap;

use support::certified_event;
use tica_auth::{BearerToken, Caller, Role};
use tica_certificate::error::CertificateError;
use tica_certificate::service::{Ctx, Numbers};
use tica_domain::division::DivisionCode;
use tica_storage::{Backend, with_db};

tica_testkit::backend_tests!(
    a_run_or_certificate_whose_stored_path_is_corrupt_is_refused_not_granted,
    another_countys_runs_and_certificates_answer_as_missing_ones,
);

fn office(county: &str) -> Ctx {
    Ctx::new(
        tica_certificate::service::SERVICE_NAME,
        Caller::new(
            "office".into(),
            Role::CountyOffice,
            DivisionCode::parse(county).unwrap(),
            None,
        ),
        BearerToken(String::new()),
    )
}

/// Sixian's run 1 with three certificates issued: the service, its database and the first
/// certificate's id.
struct Fixture {
    offline: support::Offline,
    certificate: String,
}

impl std::ops::Deref for Fixture {
    type Target = support::Offline;

    fn deref(&self) -> &support::Offline {
        &self.offline
    }
}

async fn fixture(backend: Backend) -> Option<Fixture> {
    let offline = support::Offline::open(backend).await?;
    let (db, svc) = (&offline.db, &offline.svc);
    let keys: HashMap<String, String> = (0..3)
        .map(|i| (support::teacher_of(i), format!("key-{i}")))
        .collect();
    let mut run = support::stored_run(db, 1, 0).await.unwrap();
    svc.process(
        &mut run,
        (0..3).map(certified_event).collect(),
        &keys,
        &mut Numbers::new(),
    )
    .await
    .unwrap();
    let certificate = support::all_certificates(db).await[0].id.clone();
    Some(Fixture {
        offline,
        certificate,
    })
}

async fn a_run_or_certificate_whose_stored_path_is_corrupt_is_refused_not_granted(
    backend: Backend,
) {
    let Some(f) = fixture(backend).await else {
        return;
    };
    let own = office("341324");
    assert!(f.svc.run(&own, "341324-2022-1").await.is_ok());
    assert!(f.svc.certificate(&own.caller, &f.certificate).await.is_ok());
    with_db!(&f.db, pool => {
        let runs = sqlx::query(
            "UPDATE issuance_runs SET path = '/', \
             doc_json = REPLACE(doc_json, '\"/340000/341300/341324/\"', '\"/\"') \
             WHERE id = '341324-2022-1' AND doc_json LIKE '%/340000/341300/341324/%'",
        )
        .execute(pool)
        .await
        .unwrap();
        assert_eq!(runs.rows_affected(), 1);
        let certificates = sqlx::query("UPDATE certificates SET path = '/' WHERE id = $1")
            .bind(f.certificate.clone())
            .execute(pool)
            .await
            .unwrap();
        assert_eq!(certificates.rows_affected(), 1);
    });
    // The run's own office and an office of another county alike: refused, never served.
    let refused = f.svc.run(&own, "341324-2022-1").await.unwrap_err();
    assert!(
        matches!(refused, CertificateError::Internal(_)),
        "{refused:?}"
    );
    let nosy = office("341322");
    assert!(f.svc.run(&nosy, "341324-2022-1").await.is_err());
    let refused = f
        .svc
        .certificate(&own.caller, &f.certificate)
        .await
        .unwrap_err();
    assert!(
        matches!(refused, CertificateError::Internal(_)),
        "{refused:?}"
    );
}

async fn another_countys_runs_and_certificates_answer_as_missing_ones(backend: Backend) {
    let Some(f) = fixture(backend).await else {
        return;
    };
    let nosy = office("341322");
    let existing = f.svc.run(&nosy, "341324-2022-1").await.unwrap_err();
    let missing = f.svc.run(&nosy, "341324-2022-9").await.unwrap_err();
    assert!(
        matches!(existing, CertificateError::PermissionDenied(_)),
        "{existing:?}"
    );
    assert_eq!(format!("{existing:?}"), format!("{missing:?}"));

    let existing = f
        .svc
        .certificate(&nosy.caller, &f.certificate)
        .await
        .unwrap_err();
    let missing = f
        .svc
        .certificate(&nosy.caller, "0123456789abcdef0123456789abcdef")
        .await
        .unwrap_err();
    assert!(
        matches!(existing, CertificateError::NotFound(_)),
        "{existing:?}"
    );
    assert_eq!(
        format!("{existing:?}").replace(&f.certificate, "ID"),
        format!("{missing:?}").replace("0123456789abcdef0123456789abcdef", "ID")
    );
    // Revoking it is no different: the certificate is not there for this office.
    let revoke = f
        .svc
        .revoke(
            &nosy,
            &f.certificate,
            tica_certificate::model::Reason::Fraud,
            "冒名",
            "",
        )
        .await
        .unwrap_err();
    assert!(
        matches!(revoke, CertificateError::NotFound(_)),
        "{revoke:?}"
    );
}
