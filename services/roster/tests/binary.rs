//! The `tica-roster` binary as Kubernetes runs it: configured by environment variables alone,
//! answering health checks and the admin port, finishing an import under way when SIGTERM
//! arrives, migrating and exiting for the migration Job, refusing to start without its keys.
//! On SQLite, and on PostgreSQL with `DATABASE_URL`. The scenarios are
//! `tica_testkit::process::BinaryUnderTest`'s; the import is the roster's own.

use std::io::Write as _;

use tica_auth::Role;
use tica_client::files::Kind;
use tica_proto::tica::common::v1 as common;
use tica_proto::tica::roster::v1 as pb;
use tica_roster::files::teachers::TEACHER_COLUMNS;
use tica_sample::{SampleRoster, SampleSpec};
use tica_storage::Backend;
use tica_testkit::process::{
    BinaryUnderTest, Environment, ServiceProcess, TOKEN_PUBLIC_KEYS_VARIABLE,
};

mod support;

/// The roster needs no variables beyond the ones every binary takes.
const ROSTER: BinaryUnderTest = BinaryUnderTest {
    binary: env!("CARGO_BIN_EXE_tica-roster"),
    database: "roster",
    service: "tica.roster.v1.RosterService",
    migrations: tica_roster::startup::MIGRATIONS,
    more_listen: &[],
    env: |_| Vec::new(),
};

tica_testkit::backend_tests!(
    the_roster_binary_starts_from_environment_variables_alone_and_answers_health_and_the_admin_port,
    the_roster_binary_finishes_an_in_flight_import_after_sigterm_and_exits_cleanly,
    the_roster_binary_with_migrate_only_applies_its_migrations_and_exits_without_listening,
    the_roster_binary_stays_under_256_mib_of_memory_whatever_file_it_is_sent,
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
    tica_testkit::Keys::from_pair(env.token_keys.clone()).mint(
        "binary-test",
        Role::ProvinceOffice,
        &sample.province().to_string(),
        None,
    )
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
        let mut client = tica_client::roster(roster.connect().await.unwrap(), &token);
        support::register_sample_jurisdictions(&mut client, sample).await;

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
    let mut client = tica_client::roster(roster.connect().await.unwrap(), &token);
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

/// The process's peak resident memory (`VmHWM`), in MiB.
fn peak_mib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .expect("VmHWM in /proc/<pid>/status");
    let kib: u64 = line
        .split_whitespace()
        .nth(1)
        .and_then(|v| v.parse().ok())
        .unwrap();
    kib >> 10
}

/// `template` (an XLSX) with its first worksheet replaced by what `sheet` writes, deflated.
fn workbook_with_sheet(template: &[u8], sheet: impl FnOnce(&mut dyn std::io::Write)) -> Vec<u8> {
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(template)).unwrap();
    let mut out = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for i in 0..archive.len() {
        let part = archive.by_index_raw(i).unwrap();
        if part.name().unwrap() != "xl/worksheets/sheet1.xml" {
            out.raw_copy_file(part).unwrap();
        }
    }
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .large_file(true);
    out.start_file("xl/worksheets/sheet1.xml", options).unwrap();
    sheet(&mut out);
    out.finish().unwrap().into_inner()
}

const SHEET_HEAD: &str = r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>"#;
const SHEET_TAIL: &str = "</sheetData></worksheet>";

fn inline(text: &str) -> String {
    format!(r#"<c t="inlineStr"><is><t>{text}</t></is></c>"#)
}

/// Issue 16 §2: a 2.4 MB XLSX grew the server by 2.1 GB and answered five million row errors;
/// a 200 MB CSV peaked at 2.5 GB, over the pods' 1 GiB limit. Whatever arrives, the process
/// stays under 256 MiB.
async fn the_roster_binary_stays_under_256_mib_of_memory_whatever_file_it_is_sent(
    backend: Backend,
) {
    let Some(mut env) = ROSTER.environment(backend) else {
        return;
    };
    // Room for the 40 MB CSV below (the default cap is 12 MiB).
    env.envs
        .push(("TICA_IMPORT_MAX_BYTES", (48usize << 20).to_string()));
    let roster = ROSTER.spawn(&env).await;
    let sample = sample();
    let token = province_token(&env, &sample);
    let mut client = tica_client::roster(roster.connect().await.unwrap(), &token);
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
    let options = common::ImportOptions {
        file_name: "attack".into(),
        ..Default::default()
    };
    let schools = tica_client::files::import(
        &mut client,
        Kind::Schools,
        "",
        options.clone(),
        sample.schools_csv(),
        |_| {},
    )
    .await
    .unwrap();
    assert!(schools.report.committed, "{:?}", schools.errors);
    let pid = roster.pid();
    let mut figures = vec![("started", peak_mib(pid))];
    let template = sample.teachers_xlsx();
    let header: String = TEACHER_COLUMNS
        .iter()
        .map(|c| inline(c.header_zh))
        .collect();

    // A zip bomb: five million rows of a bad ID number, a few hundred kilobytes deflated.
    let bomb = workbook_with_sheet(&template, |w| {
        let row = format!(
            "<row>{}{}</row>",
            inline("张三"),
            inline("110101199001011235")
        );
        write!(w, "{SHEET_HEAD}<row>{header}</row>").unwrap();
        for _ in 0..5_000_000 {
            w.write_all(row.as_bytes()).unwrap();
        }
        w.write_all(SHEET_TAIL.as_bytes()).unwrap();
    });
    assert!(bomb.len() < 4 << 20, "{} bytes", bomb.len());
    let result = tica_client::files::import(
        &mut client,
        Kind::Teachers,
        "",
        options.clone(),
        bomb,
        |_| {},
    )
    .await
    .unwrap();
    assert!(!result.report.committed);
    assert!(
        result.report.file_error.contains("decompressed"),
        "{:?}",
        result.report
    );
    assert!(result.errors.is_empty());
    figures.push(("zip bomb", peak_mib(pid)));

    // A sheet whose two cells are a whole worksheet apart (A1 and XFD1048576): tiny, but a
    // dense range of it would have 17 billion cells.
    let far = workbook_with_sheet(&template, |w| {
        write!(
            w,
            r#"{SHEET_HEAD}<row r="1">{header}</row><row r="1048576"><c r="XFD1048576" t="inlineStr"><is><t>x</t></is></c></row>{SHEET_TAIL}"#
        )
        .unwrap();
    });
    let result = tica_client::files::import(
        &mut client,
        Kind::Teachers,
        "",
        options.clone(),
        far,
        |_| {},
    )
    .await
    .unwrap();
    assert!(!result.report.committed);
    assert_eq!(result.report.rows_total, 1, "{:?}", result.report);
    figures.push(("far cells", peak_mib(pid)));

    // 40 MB of CSV rows that all fail: the first 1,000 errors and a count of the rest.
    let school = &sample.schools[0].code;
    let mut csv = "姓名,身份证号,学校标识码,学段\n".as_bytes().to_vec();
    let mut rows = 0i64;
    while csv.len() < 40_000_000 {
        // A valid number with its check character changed.
        let id = tica_domain::ResidentId::generate(
            "341324",
            time::macros::date!(1980 - 01 - 01) + time::Duration::days(rows / 900),
            (rows % 900) as u16,
        );
        let mut id = id.as_str().to_owned();
        let last = if id.ends_with('1') { '2' } else { '1' };
        id.pop();
        id.push(last);
        writeln!(csv, "教师{rows},{id},{school},小学").unwrap();
        rows += 1;
    }
    let result = tica_client::files::import(
        &mut client,
        Kind::Teachers,
        "",
        options.clone(),
        csv,
        |_| {},
    )
    .await
    .unwrap();
    assert_eq!(result.report.rows_total, rows);
    assert_eq!(result.report.rows_rejected, rows);
    assert_eq!(result.errors.len(), 1_001);
    let more = result.errors.last().unwrap();
    assert_eq!(more.reason, common::RowErrorReason::MoreErrors as i32);
    assert!(
        more.message.contains(&format!("and {} more", rows - 1_000)),
        "{more:?}"
    );
    figures.push(("40 MB of bad rows", peak_mib(pid)));

    // Valid rows up to the default cap (12 MiB, in the shortest rows a file can have, so the
    // most rows): checked in a dry run, then stored.
    let mut csv = "姓名,身份证号,学校标识码,学段\n".as_bytes().to_vec();
    let mut rows = 0i64;
    while csv.len() < (12 << 20) - 64 {
        let id = tica_domain::ResidentId::generate(
            "341324",
            time::macros::date!(1970 - 01 - 01) + time::Duration::days(rows / 999),
            (rows % 999) as u16,
        );
        let school = &sample.schools[(rows % 10) as usize].code;
        writeln!(csv, "教师{rows},{},{school},小学", id.as_str()).unwrap();
        rows += 1;
    }
    // Stored in VALID_ROWS mode: generated numbers run out at 9,999 a school (10 schools), so
    // the rows past 99,990 are refused and counted, the rest stored.
    for validate_only in [true, false] {
        let result = tica_client::files::import(
            &mut client,
            Kind::Teachers,
            "",
            common::ImportOptions {
                validate_only,
                mode: if validate_only {
                    common::ImportMode::AllOrNothing
                } else {
                    common::ImportMode::ValidRows
                } as i32,
                ..options.clone()
            },
            csv.clone(),
            |_| {},
        )
        .await
        .unwrap();
        assert_eq!(result.report.rows_total, rows);
        assert_eq!(
            result.report.committed, !validate_only,
            "{:?}",
            result.report
        );
        if validate_only {
            assert!(result.errors.is_empty(), "{:?}", &result.errors[..1]);
        } else {
            assert_eq!(result.report.rows_created, 99_990, "{:?}", result.report);
            assert_eq!(result.report.rows_rejected, rows - 99_990);
        }
        let what = if validate_only {
            "12 MiB of valid rows checked"
        } else {
            "12 MiB of valid rows stored"
        };
        figures.push((what, peak_mib(pid)));
    }

    // A file over the cap is refused as it arrives.
    let huge = vec![b'x'; 49 << 20];
    let refused = tica_client::files::import(
        &mut client,
        Kind::Teachers,
        "",
        options.clone(),
        huge,
        |_| {},
    )
    .await
    .unwrap_err();
    assert_eq!(
        refused.code(),
        tonic::Code::ResourceExhausted,
        "{refused:?}"
    );
    figures.push(("49 MiB refused", peak_mib(pid)));

    eprintln!("peak resident memory (MiB): {figures:?}");
    for (what, mib) in &figures {
        assert!(
            *mib < 256,
            "after {what} the roster peaked at {mib} MiB: {figures:?}"
        );
    }
}
