//! The `tica-assessment` binary as Kubernetes runs it: configured by environment variables
//! alone, answering health checks and the admin port, finishing a call under way when SIGTERM
//! arrives, migrating and exiting for the migration Job, refusing to start without its keys.
//! On SQLite, and on PostgreSQL with `DATABASE_URL`. The scenarios are
//! `tica_testkit::process::BinaryUnderTest`'s.

use std::path::Path;

use tica_storage::Backend;
use tica_testkit::process::{BinaryUnderTest, TOKEN_PUBLIC_KEYS_VARIABLE};

const ASSESSMENT: BinaryUnderTest = BinaryUnderTest {
    binary: env!("CARGO_BIN_EXE_tica-assessment"),
    database: "assessment",
    service: "tica.assessment.v1.AssessmentService",
    migrations: tica_assessment::startup::MIGRATIONS,
    more_listen: &[],
    env: assessment_env,
};

/// An evidence directory, and the roster at an address where nothing listens (channels connect
/// on first use).
fn assessment_env(dir: &Path) -> Vec<(&'static str, String)> {
    vec![
        (
            "TICA_EVIDENCE_STORE",
            dir.join("evidence").display().to_string(),
        ),
        ("TICA_ROSTER_URL", "http://127.0.0.1:1".to_owned()),
    ]
}

tica_testkit::backend_tests!(
    the_assessment_binary_starts_from_environment_variables_alone_and_answers_health_and_the_admin_port,
    the_assessment_binary_finishes_an_in_flight_call_after_sigterm_and_exits_cleanly,
    the_assessment_binary_with_migrate_only_applies_its_migrations_and_exits_without_listening,
);

async fn the_assessment_binary_starts_from_environment_variables_alone_and_answers_health_and_the_admin_port(
    backend: Backend,
) {
    ASSESSMENT
        .assert_starts_from_environment_alone(backend)
        .await;
}

async fn the_assessment_binary_finishes_an_in_flight_call_after_sigterm_and_exits_cleanly(
    backend: Backend,
) {
    ASSESSMENT
        .assert_in_flight_reflection_call_survives_sigterm(backend)
        .await;
}

async fn the_assessment_binary_with_migrate_only_applies_its_migrations_and_exits_without_listening(
    backend: Backend,
) {
    ASSESSMENT
        .assert_migrate_only_applies_migrations_and_exits(backend)
        .await;
}

#[tokio::test]
async fn the_assessment_binary_without_token_public_keys_exits_with_a_message_naming_the_variable()
{
    ASSESSMENT
        .assert_missing_variable_is_named(TOKEN_PUBLIC_KEYS_VARIABLE)
        .await;
}
