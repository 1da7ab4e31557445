//! Imports 1,000,000 generated teachers into PostgreSQL through the gRPC API and, in the same
//! run, times `psql \copy` loading the same data, interleaved, so the ratio is fair on a noisy
//! machine.
//!
//! ```sh
//! DATABASE_URL=postgres://postgres@127.0.0.1:5432/test cargo bench -p tica-roster --bench import
//! ```
//!
//! `TICA_BENCH_TEACHERS` changes the size, `TICA_BENCH_ROUNDS` the rounds (median reported).
//! Under `cargo test` (no `--bench` argument) it runs once with 2,000 teachers as a smoke test.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use tica_auth::Role;
use tica_client::Roster as RosterClient;
use tica_client::files::{self as client, Kind};
use tica_proto::tica::common::v1 as common;
use tica_sample::{SampleRoster, SampleSpec};
use tica_server::GrpcServer;
use tica_storage::{Backend, Database, with_db};
use tica_testkit::TestDatabase;

#[path = "../tests/support/mod.rs"]
mod support;

struct Setup {
    client: RosterClient,
    db: Database,
    schema: String,
    url: String,
    _location: TestDatabase,
}

async fn setup(sample: &SampleRoster) -> Setup {
    let location = TestDatabase::new(Backend::Postgres)
        .expect("set DATABASE_URL=postgres://… to run this benchmark");
    let db = location
        .connect("roster", tica_roster::MIGRATIONS)
        .await
        .expect("database");
    let keys = tica_testkit::Keys::generate();
    let mut server = GrpcServer::new();
    // The benchmark measures speed on a million rows, past the deployment's upload cap.
    let settings = tica_roster::startup::ImportSettings {
        max_file_bytes: 1 << 30,
        ..Default::default()
    };
    tica_roster::startup::register_with(&mut server, db.clone(), &settings);
    let (server, channel) = tica_testkit::grpc::serve(server, keys.verifier()).await;
    std::mem::forget(server); // serves until the process exits
    let token = keys.mint("bench", Role::ProvinceOffice, "340000", None);
    let mut client = tica_client::roster(channel, &token);
    support::register_sample_jurisdictions(&mut client, sample).await;
    let schools = client::import(
        &mut client,
        Kind::Schools,
        "",
        options(),
        sample.schools_csv(),
        |_| {},
    )
    .await
    .unwrap();
    assert!(
        schools.report.committed,
        "{:?}",
        &schools.errors[..schools.errors.len().min(3)]
    );
    let schema = location.config("roster").schema.unwrap();
    let url = location.url.clone();
    Setup {
        client,
        db,
        schema,
        url,
        _location: location,
    }
}

fn options() -> common::ImportOptions {
    common::ImportOptions {
        file_name: "bench.csv".into(),
        ..Default::default()
    }
}

async fn empty_teachers(db: &Database) {
    with_db!(db, pool => {
        sqlx::query("TRUNCATE teachers, teacher_assignments, assessors").execute(pool).await.unwrap();
    });
}

async fn sql(db: &Database, statement: &'static str) {
    with_db!(db, pool => {
        sqlx::query(statement).execute(pool).await.unwrap();
    });
}

/// `psql \copy` of `file` into `table` (in the bench's schema); returns the wall time.
fn psql_copy(
    url: &str,
    schema: &str,
    table: &str,
    columns: &str,
    file: &Path,
    header: bool,
) -> Duration {
    let command = format!(
        "\\copy {schema}.{table} ({columns}) FROM '{}' WITH (FORMAT csv{})",
        file.display(),
        if header { ", HEADER true" } else { "" }
    );
    let started = Instant::now();
    let out = Command::new("psql")
        .arg(url)
        .arg("-v")
        .arg("ON_ERROR_STOP=1")
        .arg("-qc")
        .arg(&command)
        .output()
        .expect("psql is installed");
    let elapsed = started.elapsed();
    assert!(
        out.status.success(),
        "psql failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    elapsed
}

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}

fn main() {
    let bench = std::env::args().any(|a| a == "--bench");
    if std::env::var("DATABASE_URL").map_or(true, |u| u.is_empty()) {
        if bench {
            eprintln!("the import benchmark needs PostgreSQL: set DATABASE_URL=postgres://…");
            std::process::exit(2);
        }
        eprintln!("skipped: DATABASE_URL is not set");
        return;
    }
    let teachers: usize = if bench {
        std::env::var("TICA_BENCH_TEACHERS")
            .ok()
            .and_then(|n| n.parse().ok())
            .unwrap_or(1_000_000)
    } else {
        2_000
    };
    let rounds: usize = if bench {
        std::env::var("TICA_BENCH_ROUNDS")
            .ok()
            .and_then(|n| n.parse().ok())
            .unwrap_or(3)
    } else {
        1
    };
    let _telemetry = tica_telemetry::init("import-bench", tica_telemetry::LogFormat::Pretty);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(run(teachers, rounds));
}

async fn run(teachers: usize, rounds: usize) {
    let started = Instant::now();
    let sample = SampleRoster::generate(SampleSpec {
        seed: 1,
        cities: 16,
        counties: 100,
        schools: 3000,
        teachers,
        with_numbers: true,
    });
    let csv = sample.teachers_csv();
    eprintln!(
        "generated {teachers} teachers ({:.1} MB CSV) in {:.1?}",
        csv.len() as f64 / 1e6,
        started.elapsed()
    );
    let mut s = setup(&sample).await;
    let dir = tempfile::tempdir().unwrap();
    let office_csv = dir.path().join("teachers.csv");
    std::fs::write(&office_csv, &csv).unwrap();

    // Reference 1: the office's CSV as it is, into a table of its columns (text, no indexes).
    sql(
        &s.db,
        "CREATE TABLE bench_office_csv (teacher_number TEXT, name TEXT, id_number TEXT, sex TEXT, birth_date TEXT, \
         school_code TEXT, stage TEXT, subject TEXT, category TEXT, roles TEXT)",
    )
    .await;
    let office_columns = "teacher_number, name, id_number, sex, birth_date, school_code, stage, subject, category, roles";

    // Reference 2: the same rows in the roster's own layout, into the roster's real teachers table
    // (its primary key, unique ID-number index, path index and school foreign key). Made by
    // running our import once and dumping the table, so the data are byte-identical.
    let first = client::import(
        &mut s.client,
        Kind::Teachers,
        "",
        options(),
        csv.clone(),
        |_| {},
    )
    .await
    .unwrap();
    assert!(
        first.report.committed && first.report.rows_created == teachers as i64,
        "{:?}",
        first.report
    );
    let table_csv = dir.path().join("teachers-table.csv");
    let columns = "number, display_name, id_number, birth_date, sex, school_code, path, stage, subject, category, roles, since_date, create_micros, update_micros";
    let out = Command::new("psql")
        .arg(&s.url)
        .arg("-qc")
        .arg(format!(
            "\\copy {}.teachers ({columns}) TO '{}' WITH (FORMAT csv)",
            s.schema,
            table_csv.display()
        ))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let (mut ours, mut office, mut table) = (Vec::new(), Vec::new(), Vec::new());
    for round in 0..rounds {
        empty_teachers(&s.db).await;
        let t = Instant::now();
        let result = client::import(
            &mut s.client,
            Kind::Teachers,
            "",
            options(),
            csv.clone(),
            |_| {},
        )
        .await
        .unwrap();
        let elapsed = t.elapsed();
        assert!(
            result.report.committed && result.report.rows_created == teachers as i64,
            "{:?}",
            result.report
        );
        ours.push(elapsed);

        sql(&s.db, "TRUNCATE bench_office_csv").await;
        office.push(psql_copy(
            &s.url,
            &s.schema,
            "bench_office_csv",
            office_columns,
            &office_csv,
            true,
        ));

        empty_teachers(&s.db).await;
        table.push(psql_copy(
            &s.url, &s.schema, "teachers", columns, &table_csv, false,
        ));
        eprintln!(
            "round {}: TICA import {:.2?}, psql \\copy office CSV {:.2?}, psql \\copy into teachers {:.2?}",
            round + 1,
            ours[round],
            office[round],
            table[round]
        );
    }
    let (ours, office, table) = (median(ours), median(office), median(table));
    println!(
        "\nimport of {teachers} teachers into PostgreSQL (median of {rounds} rounds, interleaved)"
    );
    println!(
        "  TICA ImportTeachers over gRPC (parse, check, COPY, commit)   {:>8.2} s",
        ours.as_secs_f64()
    );
    println!(
        "  psql \\copy of the same CSV into a plain text table           {:>8.2} s   ratio {:.2}",
        office.as_secs_f64(),
        ours.as_secs_f64() / office.as_secs_f64()
    );
    println!(
        "  psql \\copy of the same rows into the roster's teachers table {:>8.2} s   ratio {:.2}",
        table.as_secs_f64(),
        ours.as_secs_f64() / table.as_secs_f64()
    );
    println!(
        "  throughput: {:.0} teachers/s",
        teachers as f64 / ours.as_secs_f64()
    );
}
