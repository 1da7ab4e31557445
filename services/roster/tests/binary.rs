//! The `tica-roster` binary as Kubernetes runs it: configured by environment variables alone,
//! answering health checks and the admin port, finishing an import under way when SIGTERM
//! arrives, migrating and exiting for the migration Job, refusing to start without its keys.
//! On SQLite, and on PostgreSQL with `DATABASE_URL`. The scenarios are
//! `tica_server::testing::BinaryUnderTest`'s; the import is the roster's own.

use std::time::Duration;

use tica_auth::{Role, TokenSigner};
use tica_proto::tica::common::v1 as common;
use tica_proto::tica::roster::v1 as pb;
use tica_roster::sample::{SampleRoster, SampleSpec};
use tica_server::testing::{
    BinaryUnderTest, Environment, ServiceProcess, TOKEN_PUBLIC_KEYS_VARIABLE,
};
use tica_storage::Backend;

/// The roster needs no variables beyond the ones every binary takes.
const ROSTER: BinaryUnderTest = BinaryUnderTest {
    binary: env!("CARGO_BIN_EXE_tica-roster"),
    database: "roster",
    service: "tica.roster.v1.RosterService",
    migrations: tica_roster::startup::MIGRATIONS,
    more_listen: &[],
    env: |_| Vec::new(),
};

tica_storage::backend_tests!(
    the_roster_binary_starts_from_environment_variables_alone_and_answers_health_and_the_admin_port,
    the_roster_binary_finishes_an_in_flight_import_after_sigterm_and_exits_cleanly,
    the_roster_binary_with_migrate_only_applies_its_migrations_and_exits_without_listening,
);

async fn the_roster_binary_starts_from_environment_variables_alone_and_answers_health_and_the_admin_port(
    backend: Backend,
) {
    ROSTER
        .assert_starts_from_environment_alone_checking(backend, async |roster| {
            let log = roster.stderr();
            assert!(
                log.contains(&roster.grpc_addr().to_string())
                    && log.contains(&roster.admin_addr().to_string()),
                "the start is logged with its addresses: {log}"
            );
        })
        .await;
}

/// A small province: one city, two counties, ten schools.
fn sample() -> SampleRoster {
    SampleRoster::generate(SampleSpec {
        seed: 6,
        cities: 1,
        counties: 2,
        schools: 10,
        teachers: 20,
        with_numbers: true,
    })
}

/// A province office's token for the sample's province, signed with the environment's key.
fn province_token(env: &Environment, sample: &SampleRoster) -> String {
    TokenSigner::new(&env.token_keys)
        .mint(
            "binary-test",
            Role::ProvinceOffice,
            sample.province(),
            None,
            Duration::from_secs(600),
        )
        .unwrap()
}

fn chunk(bytes: &[u8]) -> pb::ImportSchoolsRequest {
    pb::ImportSchoolsRequest {
        payload: Some(pb::import_schools_request::Payload::Chunk(bytes.to_vec())),
        parent: String::new(),
    }
}

/// An ImportSchools call whose file is half uploaded.
struct HalfUploadedImport {
    upload: tokio::sync::mpsc::Sender<pb::ImportSchoolsRequest>,
    tail: Vec<u8>,
    answers: tonic::Streaming<pb::ImportSchoolsResponse>,
}

impl HalfUploadedImport {
    /// Creates the sample's jurisdictions on `roster`, then starts importing its schools and
    /// sends half of the file.
    async fn start(
        sample: &SampleRoster,
        env: &Environment,
        roster: &ServiceProcess,
    ) -> HalfUploadedImport {
        let token = province_token(env, sample);
        let mut client = tica_roster::client::client(roster.connect().await.unwrap(), &token);
        for j in &sample.jurisdictions {
            client
                .create_jurisdiction(pb::CreateJurisdictionRequest {
                    jurisdiction: Some(pb::Jurisdiction {
                        name: format!("jurisdictions/{}", j.code),
                        display_name: j.name.clone(),
                        parent: j
                            .parent
                            .map(|p| format!("jurisdictions/{p}"))
                            .unwrap_or_default(),
                        ..Default::default()
                    }),
                })
                .await
                .unwrap();
        }

        let csv = sample.schools_csv();
        let (head, tail) = csv.split_at(csv.len() / 2);
        let (upload, requests) = tokio::sync::mpsc::channel(4);
        upload
            .send(pb::ImportSchoolsRequest {
                payload: Some(pb::import_schools_request::Payload::Options(
                    common::ImportOptions {
                        file_name: "schools.csv".into(),
                        ..Default::default()
                    },
                )),
                parent: String::new(),
            })
            .await
            .unwrap();
        upload.send(chunk(head)).await.unwrap();
        let answers = client
            .import_schools(tokio_stream::wrappers::ReceiverStream::new(requests))
            .await
            .unwrap()
            .into_inner();
        HalfUploadedImport {
            upload,
            tail: tail.to_vec(),
            answers,
        }
    }

    /// Sends the rest of the file and reads the answers to the end: the import is committed,
    /// all ten schools created, no row refused.
    async fn finish(self) {
        let HalfUploadedImport {
            upload,
            tail,
            mut answers,
        } = self;
        upload.send(chunk(&tail)).await.unwrap();
        drop(upload);
        let mut report = None;
        let mut refused_rows = Vec::new();
        while let Some(answer) = answers.message().await.unwrap() {
            match answer.payload {
                Some(pb::import_schools_response::Payload::Report(r)) => report = Some(r),
                Some(pb::import_schools_response::Payload::RowErrors(e)) => {
                    refused_rows.extend(e.errors)
                }
                _ => {}
            }
        }
        let report = report.expect("the import ends with its report");
        assert!(refused_rows.is_empty(), "{refused_rows:?}");
        assert!(report.committed, "{report:?}");
        assert_eq!(
            (report.rows_total, report.rows_created),
            (10, 10),
            "{report:?}"
        );
    }
}

async fn the_roster_binary_finishes_an_in_flight_import_after_sigterm_and_exits_cleanly(
    backend: Backend,
) {
    let sample = sample();
    // An import whose file is half uploaded when SIGTERM arrives; the rest of the file arrives
    // after the listener closed, and the import completes.
    let Some((env, roster)) = ROSTER
        .assert_work_in_flight_survives_sigterm(
            backend,
            async |env, roster| HalfUploadedImport::start(&sample, env, roster).await,
            HalfUploadedImport::finish,
            "the import's last answer",
        )
        .await
    else {
        return;
    };
    let log = roster.stderr();
    assert!(log.contains("received SIGTERM"), "{log}");
    assert!(log.contains("stopped"), "{log}");

    // The import was committed: a new process on the same database lists the ten schools.
    drop(roster);
    let roster = ROSTER.spawn(&env).await;
    let token = province_token(&env, &sample);
    let mut client = tica_roster::client::client(roster.connect().await.unwrap(), &token);
    let schools = client
        .list_schools(pb::ListSchoolsRequest {
            page_size: 100,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(schools.total_size, 10);
}

async fn the_roster_binary_with_migrate_only_applies_its_migrations_and_exits_without_listening(
    backend: Backend,
) {
    ROSTER
        .assert_migrate_only_applies_migrations_and_exits(backend)
        .await;
}

#[tokio::test]
async fn the_roster_binary_without_token_public_keys_exits_with_a_message_naming_the_variable() {
    ROSTER
        .assert_missing_variable_is_named(TOKEN_PUBLIC_KEYS_VARIABLE)
        .await;
}
