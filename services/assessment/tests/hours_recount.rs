//! A training provider's push stores its records, then recounts the teachers' hours in a second
//! step. Under load that recount can lose its race to gradings and other pushes of the same
//! teachers (issue 16's soak: pushes answered "changed concurrently; retry" after their records
//! were stored). The provider then retries, as told: the retry must finish the recount, though
//! every record it sends is now UNCHANGED. On SQLite and PostgreSQL.

mod support;

use support::{Suite, YONGNING};
use tica_assessment::store::{self, Work};
use tica_auth::Role;
use tica_proto::tica::assessment::v1 as pb;
use tica_storage::Backend;

tica_testkit::backend_tests!(a_retried_push_whose_records_were_stored_but_not_counted_counts_them,);

const PROVIDER: &str = "nx-online";

/// A record completed at `done` (one instant for the whole test, so a resent record is the
/// same content).
fn record(
    teacher: &str,
    id: &str,
    centihours: i64,
    done: std::time::SystemTime,
) -> pb::HoursRecord {
    pb::HoursRecord {
        name: format!("providers/{PROVIDER}/hoursRecords/{id}"),
        teacher: format!("teachers/{teacher}"),
        kind: pb::HoursKind::OnlineStudy as i32,
        course_id: id.into(),
        course_title: "信息技术应用能力提升".into(),
        centihours,
        revision: 1,
        complete_time: Some(prost_types::Timestamp::from(done)),
        ..Default::default()
    }
}

async fn a_retried_push_whose_records_were_stored_but_not_counted_counts_them(backend: Backend) {
    let Some(suite) = Suite::start(backend).await else {
        return;
    };
    let county = YONGNING.county.0;
    suite.register_county(&YONGNING).await;
    let school = format!("{county}0001");
    suite
        .register_school(county, &school, "永宁县第一小学")
        .await;
    let teacher = suite.register_teacher(county, &school, 1).await;
    let batch = suite.open_batch(county).await;
    let participant = format!("{batch}/participants/{teacher}");
    let done = std::time::SystemTime::now();
    let mut provider = suite.assessment(PROVIDER, Role::TrainingProvider, "640000", None);
    let push = |records: Vec<pb::HoursRecord>| pb::BatchPushHoursRecordsRequest {
        parent: format!("providers/{PROVIDER}"),
        records,
    };
    let mut office = suite.assessment("office", Role::CountyOffice, county, None);
    let counted = |p: pb::Participant| p.counted_centihours;

    provider
        .batch_push_hours_records(push(vec![record(&teacher, "c1", 500, done)]))
        .await
        .expect("a first push");
    let first = counted(
        office
            .get_participant(pb::GetParticipantRequest {
                name: participant.clone(),
            })
            .await
            .unwrap()
            .into_inner(),
    );
    assert_eq!(first, 500);

    // What a push whose recount lost leaves behind: its record stored, its hours not counted.
    let mut stored = store::hours_record(&suite.db, PROVIDER, "c1")
        .await
        .unwrap()
        .expect("stored");
    stored.record_id = "c2".into();
    stored.course_id = "c2".into();
    stored.centihours = 700;
    stored.loaded = None;
    store::commit(
        &suite.db,
        &Work {
            hours: vec![stored],
            ..Default::default()
        },
    )
    .await
    .unwrap();

    // The provider retries the push it was told to retry.
    let retried = provider
        .batch_push_hours_records(push(vec![record(&teacher, "c2", 700, done)]))
        .await
        .expect("the retry")
        .into_inner();
    assert_eq!(
        retried.results[0].outcome,
        pb::PushOutcome::Unchanged as i32,
        "{retried:?}"
    );
    let after = counted(
        office
            .get_participant(pb::GetParticipantRequest { name: participant })
            .await
            .unwrap()
            .into_inner(),
    );
    assert_eq!(
        after, 1200,
        "the retry finishes the recount the first try lost"
    );
    suite.db.close().await;
}
