//! Least privilege for machines, over the suite's gRPC API: a training provider's token pushes
//! and reads its own hours records and nothing else — it cannot rename a school, certify a
//! batch or approve a school's results. The retired catch-all `service` role, which could, is
//! no longer a role at all (the services forward their caller's token and hold none of their
//! own: issue 16, point 6).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tica_auth::{Claims, Role};
use tica_e2e::{Cluster, hours};
use tica_proto::tica::assessment::v1 as pb;
use tica_proto::tica::roster::v1 as roster;
use tica_storage::Backend;
use tonic::Code;

tica_testkit::backend_tests!(
    a_training_provider_pushes_its_hours_and_can_do_nothing_else,
    a_token_of_the_retired_catch_all_service_role_is_refused,
);

const PROVINCE: &str = "340000";
const COUNTY: &str = "341324";
const SCHOOL: &str = "3413240001";

/// 泗县 with one school, one teacher and an open batch; the teacher's number.
async fn county(backend: Backend) -> Option<(Cluster, String)> {
    let cluster = Cluster::start(backend).await?;
    cluster
        .register_jurisdictions(&[
            (PROVINCE, "安徽省", ""),
            ("341300", "宿州市", PROVINCE),
            (COUNTY, "泗县", "341300"),
        ])
        .await;
    cluster
        .register_school(COUNTY, SCHOOL, "泗县实验小学")
        .await;
    let number = cluster
        .register_teacher(
            COUNTY,
            SCHOOL,
            "王芳",
            "数学",
            time::Date::from_calendar_date(1988, time::Month::March, 3).unwrap(),
            5,
        )
        .await;
    cluster.open_batch(COUNTY, 2026, "泗县 2026").await;
    Some((cluster, number))
}

async fn a_training_provider_pushes_its_hours_and_can_do_nothing_else(backend: Backend) {
    let Some((cluster, teacher)) = county(backend).await else {
        return;
    };
    let token = cluster.token_as("anhui-online", Role::TrainingProvider, PROVINCE, None);
    let mut provider = cluster.assessment("anhui-online", Role::TrainingProvider, PROVINCE, None);

    // Its job: push hours, read back its own records.
    let pushed = provider
        .batch_push_hours_records(pb::BatchPushHoursRecordsRequest {
            parent: "providers/anhui-online".into(),
            records: vec![hours(&teacher, pb::HoursKind::OnlineStudy, "online")],
        })
        .await
        .expect("a provider pushes its hours")
        .into_inner();
    let record = pushed.results[0].record.clone().expect("stored");
    provider
        .get_hours_record(pb::GetHoursRecordRequest {
            name: record.name.clone(),
        })
        .await
        .expect("and reads its own record");

    // Another provider's records are not its own, even in its province.
    let school_pushed = cluster
        .assessment("admin", Role::SchoolAdmin, COUNTY, Some(SCHOOL))
        .batch_push_hours_records(pb::BatchPushHoursRecordsRequest {
            parent: format!("providers/school-{SCHOOL}"),
            records: vec![pb::HoursRecord {
                name: format!("providers/school-{SCHOOL}/hoursRecords/{teacher}-practice"),
                ..hours(&teacher, pb::HoursKind::Practice, "practice")
            }],
        })
        .await
        .expect("the school pushes its practice hours")
        .into_inner();
    let theirs = school_pushed.results[0].record.clone().unwrap().name;
    let refused = provider
        .get_hours_record(pb::GetHoursRecordRequest { name: theirs })
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::NotFound, "{refused:?}");
    let listed: Vec<String> = provider
        .list_hours_records(pb::ListHoursRecordsRequest {
            parent: format!("batches/{COUNTY}-2026/participants/{teacher}"),
            ..Default::default()
        })
        .await
        .expect("a provider lists a teacher's records it pushed")
        .into_inner()
        .hours_records
        .into_iter()
        .map(|r| r.name)
        .collect();
    assert_eq!(listed, vec![record.name.clone()], "its own records only");
    let by_school = provider
        .list_hours_records(pb::ListHoursRecordsRequest {
            parent: format!("providers/school-{SCHOOL}"),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(by_school.code(), Code::PermissionDenied, "{by_school:?}");

    // Not its job: rename a school, certify a batch, approve a school's results.
    let mut roster = tica_client::roster(cluster.channel.clone(), &token);
    let rename = roster
        .update_school(roster::UpdateSchoolRequest {
            school: Some(roster::School {
                name: format!("schools/{SCHOOL}"),
                display_name: "改名小学".into(),
                ..Default::default()
            }),
            update_mask: Some(prost_types::FieldMask {
                paths: vec!["display_name".into()],
            }),
        })
        .await
        .unwrap_err();
    assert_eq!(rename.code(), Code::PermissionDenied, "{rename:?}");
    let listing = roster
        .list_teachers(roster::ListTeachersRequest {
            parent: format!("jurisdictions/{COUNTY}"),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(
        listing.code(),
        Code::PermissionDenied,
        "a provider does not list the roster: {listing:?}"
    );
    let certify = provider
        .certify_batch(pb::CertifyBatchRequest {
            name: format!("batches/{COUNTY}-2026"),
            review_round: String::new(),
            reason: "抽测合格".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(certify.code(), Code::PermissionDenied, "{certify:?}");
    let approve = provider
        .approve_school_results(pb::ApproveSchoolResultsRequest {
            name: format!("batches/{COUNTY}-2026/schoolResults/{SCHOOL}"),
            review_round: String::new(),
            reason: "合格".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(approve.code(), Code::PermissionDenied, "{approve:?}");
    cluster.stop().await;
}

async fn a_token_of_the_retired_catch_all_service_role_is_refused(backend: Backend) {
    let Some((cluster, _teacher)) = county(backend).await else {
        return;
    };
    // A token of the retired catch-all role is not a token of any role.
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let old = cluster
        .signer()
        .sign(&Claims {
            iss: "tica".into(),
            aud: "tica".into(),
            sub: "anhui-online".into(),
            role: "service".into(),
            jur: PROVINCE.into(),
            school: None,
            iat: now,
            nbf: None,
            exp: now + Duration::from_secs(600).as_secs(),
            jti: "old".into(),
            client_id: None,
        })
        .unwrap();
    let mut roster = tica_client::roster(cluster.channel.clone(), &old);
    let refused = roster
        .get_school(roster::GetSchoolRequest {
            name: format!("schools/{SCHOOL}"),
        })
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::Unauthenticated, "{refused:?}");
    cluster.stop().await;
}
