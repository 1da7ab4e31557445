//! Issue 16: one certified result whose certificate cannot be made (a name no font prints, a
//! school name too long for the QR code) no longer stops its county's certificates. The run
//! issues the rest, parks that result with its reason where offices list it, and a later run
//! issues it — once — after the data is fixed; a withdrawn result leaves the list. On SQLite
//! and PostgreSQL.

mod support;

use std::collections::HashMap;

use support::{Offline as Fixture, certified_event, withdrawn_event};
use tica_auth::{BearerToken, Caller, Role};
use tica_certificate::service::{Ctx, Numbers, Subject, Verdict};
use tica_certificate::store;
use tica_domain::division::DivisionCode;
use tica_proto::tica::certificate::v1 as pb;
use tica_storage::Backend;

tica_testkit::backend_tests!(
    a_result_no_certificate_can_be_made_of_is_parked_and_the_rest_of_the_run_is_issued,
    a_parked_result_is_issued_exactly_once_after_its_data_is_fixed,
    a_result_parked_for_its_schools_name_is_issued_under_the_name_corrected_since,
);

fn keys_for(n: usize) -> HashMap<String, String> {
    (0..n)
        .map(|i| (support::teacher_of(i), format!("key-{}", i / 3)))
        .collect()
}

/// A school name far beyond what a version-16 QR code at level Q holds.
fn overlong_school() -> String {
    format!("泗县{}小学", "第一实验".repeat(24))
}

/// Twelve results: result 4's teacher is named `张😀`, result 7's school has a 100-character
/// name (issue 16's two examples).
fn events_with_two_bad_ones() -> Vec<tica_proto::tica::assessment::v1::CertifiedResult> {
    let mut events: Vec<_> = (0..12).map(certified_event).collect();
    events[4].teacher_display_name = "张😀".into();
    events[7].school_display_name = overlong_school();
    events
}

/// Run 1 over [`events_with_two_bad_ones`]: ten issued, two parked (one result never fails the
/// run).
async fn first_run(
    db: &tica_storage::Database,
    svc: &tica_certificate::service::Certificates,
) -> tica_certificate::model::RunRecord {
    let mut run = support::stored_run(db, 1, 0).await.unwrap();
    svc.process(
        &mut run,
        events_with_two_bad_ones(),
        &keys_for(12),
        &mut Numbers::new(),
    )
    .await
    .expect("one result never fails the run");
    run
}

fn county_office() -> Ctx {
    Ctx::new(
        tica_certificate::service::SERVICE_NAME,
        Caller::new(
            "office-341324".into(),
            Role::CountyOffice,
            DivisionCode::parse("341324").unwrap(),
            None,
        ),
        BearerToken(String::new()),
    )
}

async fn a_result_no_certificate_can_be_made_of_is_parked_and_the_rest_of_the_run_is_issued(
    backend: Backend,
) {
    let Some(Fixture {
        test_db: _test_db,
        db,
        dir: _dir,
        svc,
    }) = Fixture::open(backend).await
    else {
        return;
    };
    let run = first_run(&db, &svc).await;
    assert_eq!(
        (run.certificates_issued, run.results_parked, run.cursor),
        (10, 2, 12),
        "{run:?}"
    );
    let issued = support::all_certificates(&db).await;
    let mut numbers: Vec<&str> = issued.iter().map(|c| c.number.as_str()).collect();
    numbers.sort();
    assert_eq!(numbers.len(), 10);
    assert_eq!(
        numbers[9], "341324-2022-000010",
        "the parked take no number"
    );
    // Offices see what is parked and why, naming the character and the field.
    let parked = svc
        .parked(&county_office(), None, "", "", 50)
        .await
        .unwrap();
    let reasons: Vec<(&str, &str)> = parked
        .iter()
        .map(|p| (p.result_key.as_str(), p.reason.as_str()))
        .collect();
    assert_eq!(reasons.len(), 2, "{reasons:?}");
    let of = |i: usize| certified_event(i).result_key;
    let name = parked.iter().find(|p| p.result_key == of(4)).unwrap();
    assert!(name.reason.contains("U+1F600"), "{}", name.reason);
    assert!(
        !name.reason.contains('张'),
        "no name in a reason: {}",
        name.reason
    );
    let school = parked.iter().find(|p| p.result_key == of(7)).unwrap();
    assert!(school.reason.contains("QR"), "{}", school.reason);
    assert_eq!((name.attempts, name.sequence), (1, 5));
    // An office elsewhere sees none of them.
    let elsewhere = Ctx::new(
        tica_certificate::service::SERVICE_NAME,
        Caller::new(
            "office-341322".into(),
            Role::CountyOffice,
            DivisionCode::parse("341322").unwrap(),
            None,
        ),
        BearerToken(String::new()),
    );
    assert!(
        svc.parked(&elsewhere, None, "", "", 50)
            .await
            .unwrap()
            .is_empty()
    );
    // The same over gRPC, as an office's dashboard lists it: a page at a time, another
    // county's office sees nothing, and a teacher may not ask.
    let grpc = Grpc::serve(svc.clone()).await;
    let mut office = grpc.client(Role::CountyOffice, "341324");
    let first = office
        .list_parked_results(pb::ListParkedResultsRequest {
            page_size: 1,
            batch: "batches/341324-2022".into(),
            ..Default::default()
        })
        .await
        .expect("a county office lists its parked results")
        .into_inner();
    assert_eq!(first.parked_results.len(), 1);
    assert!(!first.next_page_token.is_empty());
    let second = office
        .list_parked_results(pb::ListParkedResultsRequest {
            page_size: 1,
            page_token: first.next_page_token.clone(),
            batch: "batches/341324-2022".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let listed: Vec<&pb::ParkedResult> = first
        .parked_results
        .iter()
        .chain(&second.parked_results)
        .collect();
    let mut keys: Vec<&str> = listed.iter().map(|p| p.result_key.as_str()).collect();
    keys.sort();
    let mut expected = vec![of(4), of(7)];
    expected.sort();
    assert_eq!(keys, expected);
    let shown = listed.iter().find(|p| p.result_key == of(4)).unwrap();
    assert!(shown.reason.contains("U+1F600"), "{shown:?}");
    assert_eq!(
        shown.teacher,
        format!("teachers/{}", support::teacher_of(4))
    );
    assert_eq!(shown.issuance_run, format!("issuanceRuns/{}", run.id));
    assert!(shown.park_time.is_some() && shown.attempts == 1);
    let mut other = grpc.client(Role::CountyOffice, "341322");
    let none = other
        .list_parked_results(pb::ListParkedResultsRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert!(none.parked_results.is_empty(), "{none:?}");
    let teacher = grpc
        .client(Role::Teacher, "341324")
        .list_parked_results(pb::ListParkedResultsRequest::default())
        .await
        .unwrap_err();
    assert_eq!(teacher.code(), tonic::Code::PermissionDenied);
    db.close().await;
}

/// The certificate service served over gRPC behind the real auth layer.
struct Grpc {
    _server: tica_server::RunningServer,
    channel: tonic::transport::Channel,
    keys: tica_testkit::Keys,
}

impl Grpc {
    async fn serve(svc: tica_certificate::service::Certificates) -> Grpc {
        let keys = tica_testkit::Keys::generate();
        let mut server = tica_server::GrpcServer::new();
        tica_certificate::startup::register(&mut server, svc);
        let (server, channel) = tica_testkit::grpc::serve(server, keys.verifier()).await;
        Grpc {
            _server: server,
            channel,
            keys,
        }
    }

    fn client(&self, role: Role, jurisdiction: &str) -> tica_client::Certificate {
        let school = (role == Role::Teacher).then_some("3413240001");
        let token = self.keys.mint("office", role, jurisdiction, school);
        tica_client::certificate(self.channel.clone(), &token)
    }
}

async fn a_parked_result_is_issued_exactly_once_after_its_data_is_fixed(backend: Backend) {
    let Some(Fixture {
        test_db: _test_db,
        db,
        dir: _dir,
        svc,
    }) = Fixture::open(backend).await
    else {
        return;
    };
    let keys = keys_for(12);
    let first = first_run(&db, &svc).await;
    // The roster corrects the name; the next run retries what is parked first.
    let names: HashMap<String, String> = [(support::teacher_of(4), "张三".to_owned())].into();
    let mut second = support::stored_run(&db, 2, first.cursor).await.unwrap();
    let mut numbers = Numbers::new();
    svc.retry_parked(&mut second, &keys, &names, &HashMap::new(), &mut numbers)
        .await
        .unwrap();
    assert_eq!(
        (
            second.certificates_issued,
            second.parked_issued,
            second.results_parked
        ),
        (1, 1, 1),
        "{second:?}"
    );
    let issued = support::all_certificates(&db).await;
    assert_eq!(issued.len(), 11);
    let fixed = issued
        .iter()
        .find(|c| c.result_key == certified_event(4).result_key)
        .unwrap();
    assert_eq!(fixed.doc.facts.teacher_display_name, "张三");
    assert_eq!(
        fixed.number, "341324-2022-000011",
        "the next number, no gap"
    );
    let v = svc.verify(Subject::Id(fixed.id.clone())).await.unwrap();
    assert_eq!(v.verdict, Verdict::Valid);
    let v = svc
        .verify(Subject::Qr(fixed.doc.qr_text.clone()))
        .await
        .unwrap();
    assert_eq!(v.verdict, Verdict::Valid);
    // The school is still too long: still parked, tried twice.
    let parked = store::parked_of_batch(&db, "341324-2022").await.unwrap();
    assert_eq!(parked.len(), 1);
    assert_eq!(parked[0].result_key, certified_event(7).result_key);
    assert_eq!(parked[0].attempts, 2);
    // Another run, and the stream redelivering result 4: nothing is issued twice.
    let mut third = support::stored_run(&db, 3, second.cursor).await.unwrap();
    let mut numbers = Numbers::new();
    svc.retry_parked(&mut third, &keys, &names, &HashMap::new(), &mut numbers)
        .await
        .unwrap();
    let mut again = certified_event(4);
    again.sequence = 13;
    svc.process(&mut third, vec![again], &keys, &mut numbers)
        .await
        .unwrap();
    assert_eq!(third.already_issued, 1);
    assert_eq!(
        support::all_certificates(&db).await.len(),
        11,
        "exactly once"
    );
    // Withdrawing the parked result takes it off the list; there is nothing to revoke.
    svc.process(
        &mut third,
        vec![withdrawn_event(7, 14)],
        &keys,
        &mut numbers,
    )
    .await
    .unwrap();
    assert_eq!(third.certificates_revoked, 0);
    assert!(
        store::parked_of_batch(&db, "341324-2022")
            .await
            .unwrap()
            .is_empty()
    );
    db.close().await;
}

async fn a_result_parked_for_its_schools_name_is_issued_under_the_name_corrected_since(
    backend: Backend,
) {
    let Some(Fixture {
        test_db: _test_db,
        db,
        dir: _dir,
        svc,
    }) = Fixture::open(backend).await
    else {
        return;
    };
    let keys = keys_for(12);
    let first = first_run(&db, &svc).await;
    // The office renames the school in the roster; the event still carries the old name.
    let school = certified_event(7).school;
    let code = school.strip_prefix("schools/").unwrap().to_owned();
    let schools: HashMap<String, String> = [(code, "泗县第一实验小学".to_owned())].into();
    let mut second = support::stored_run(&db, 2, first.cursor).await.unwrap();
    svc.retry_parked(
        &mut second,
        &keys,
        &HashMap::new(),
        &schools,
        &mut Numbers::new(),
    )
    .await
    .unwrap();
    assert_eq!((second.parked_issued, second.results_parked), (1, 1));
    let issued = support::all_certificates(&db).await;
    let renamed = issued
        .iter()
        .find(|c| c.result_key == certified_event(7).result_key)
        .expect("issued under the corrected name");
    assert_eq!(renamed.doc.facts.school_display_name, "泗县第一实验小学");
    let parked = store::parked_of_batch(&db, "341324-2022").await.unwrap();
    assert_eq!(
        parked
            .iter()
            .map(|p| p.result_key.as_str())
            .collect::<Vec<_>>(),
        [certified_event(4).result_key.as_str()],
        "the unprintable name stays parked"
    );
    db.close().await;
}
