//! Progress rows are named by the roster: every school of a page in one `BatchGetSchools`,
//! jurisdictions one by one. A refusal from the roster reaches the caller instead of leaving
//! the names empty. Over real gRPC, on SQLite and PostgreSQL.

mod support;

use std::collections::BTreeMap;

use support::{SIXIAN, Suite};
use tica_auth::{Role, TokenVerifier};
use tica_proto::tica::assessment::v1 as pb;
use tica_storage::Backend;
use tonic::Code;

tica_testkit::backend_tests!(
    school_and_county_rows_carry_the_names_the_roster_gives_them,
    a_roster_out_of_reach_fails_the_progress_call_instead_of_leaving_names_empty,
);

const COUNTY: &str = "341324";
const SCHOOL_A: &str = "3413240001";
const SCHOOL_B: &str = "3413240002";

async fn county_with_two_schools(backend: Backend) -> Option<Suite> {
    let suite = Suite::start(backend).await?;
    suite.register_county(&SIXIAN).await;
    suite
        .register_school(COUNTY, SCHOOL_A, "泗县第一小学")
        .await;
    suite
        .register_school(COUNTY, SCHOOL_B, "泗县第二小学")
        .await;
    suite.register_teacher(COUNTY, SCHOOL_A, 1).await;
    suite.register_teacher(COUNTY, SCHOOL_B, 2).await;
    suite.open_batch(COUNTY).await;
    Some(suite)
}

fn progress(level: pb::ProgressLevel) -> pb::ListProgressRequest {
    pb::ListProgressRequest {
        parent: format!("jurisdictions/{COUNTY}"),
        level: level as i32,
        year: 2026,
        ..Default::default()
    }
}

async fn school_and_county_rows_carry_the_names_the_roster_gives_them(backend: Backend) {
    let Some(suite) = county_with_two_schools(backend).await else {
        return;
    };
    let mut county = suite.assessment("county-office", Role::CountyOffice, COUNTY, None);
    let schools = county
        .list_progress(progress(pb::ProgressLevel::School))
        .await
        .unwrap()
        .into_inner();
    let named: Vec<(&str, &str)> = schools
        .rows
        .iter()
        .map(|r| (r.unit.as_str(), r.display_name.as_str()))
        .collect();
    assert_eq!(
        named,
        [
            ("schools/3413240001", "泗县第一小学"),
            ("schools/3413240002", "泗县第二小学"),
        ]
    );
    let counties = county
        .list_progress(progress(pb::ProgressLevel::County))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(counties.rows.len(), 1);
    assert_eq!(counties.rows[0].unit, format!("jurisdictions/{COUNTY}"));
    assert!(!counties.rows[0].display_name.is_empty());
}

async fn a_roster_out_of_reach_fails_the_progress_call_instead_of_leaving_names_empty(
    backend: Backend,
) {
    let Some(mut suite) = county_with_two_schools(backend).await else {
        return;
    };
    // The roster goes away (an empty server holds its place in the suite).
    let nothing = tica_server::GrpcServer::new()
        .spawn(
            "127.0.0.1:0".parse().unwrap(),
            TokenVerifier::new(&BTreeMap::new()),
        )
        .await
        .unwrap();
    let roster = std::mem::replace(&mut suite.roster_server, nothing);
    roster.shutdown().await.unwrap();
    let mut county = suite.assessment("county-office", Role::CountyOffice, COUNTY, None);
    let refused = county
        .list_progress(pb::ListProgressRequest {
            parent: String::new(),
            ..progress(pb::ProgressLevel::School)
        })
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::Unavailable, "{refused:?}");
}
