//! Issue 16: a value a certificate prints (a teacher's, school's or county's name) is refused
//! when no certificate could print it, naming the character — through the API and in an
//! import's row-by-row report — so that it never reaches an issuance run. Rare name characters
//! the fallback font has (CJK Extension B: 𠀀) are accepted.

mod support;

use support::{TestApp, default_options, import};
use tica_client::files::Kind;
use tica_proto::prost_types::FieldMask;
use tica_proto::tica::common::v1 as common;
use tica_proto::tica::roster::v1 as pb;
use tica_sample::{SampleRoster, SampleSpec, teachers_csv};
use tica_server::errors::field_violations;
use tica_storage::Backend;
use tonic::Code;

tica_testkit::backend_tests!(
    a_teacher_whose_name_no_certificate_can_print_is_refused_naming_the_character,
    a_school_whose_name_no_certificate_can_print_is_refused_naming_the_character,
    an_import_reports_the_row_whose_name_no_certificate_can_print,
    a_name_longer_than_the_certificates_qr_code_holds_is_refused,
);

async fn small(backend: Backend) -> Option<(TestApp, SampleRoster)> {
    let app = TestApp::spawn(backend).await?;
    let sample = SampleRoster::generate(SampleSpec {
        seed: 3,
        cities: 1,
        counties: 2,
        schools: 6,
        teachers: 40,
        with_numbers: true,
    });
    app.setup_sample(&sample).await;
    Some((app, sample))
}

/// The one violation of `status`: (field, message).
fn violation(status: &tonic::Status) -> (String, String) {
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    let mut v = field_violations(status);
    assert_eq!(v.len(), 1, "{v:?}");
    v.remove(0)
}

async fn a_teacher_whose_name_no_certificate_can_print_is_refused_naming_the_character(
    backend: Backend,
) {
    let Some((app, sample)) = small(backend).await else {
        return;
    };
    let mut county = app.office("341324");
    let school = sample
        .schools
        .iter()
        .find(|s| s.county.to_string() == "341324")
        .unwrap();
    let request = |name: &str, seq: u16| pb::CreateTeacherRequest {
        teacher: Some(pb::Teacher {
            display_name: name.into(),
            id_number: tica_domain::ResidentId::generate(
                "341324",
                time::macros::date!(1988 - 08 - 08),
                seq,
            )
            .as_str()
            .into(),
            school: format!("schools/{}", school.code),
            stage: pb::Stage::Primary as i32,
            category: pb::TeacherCategory::Ordinary as i32,
            ..Default::default()
        }),
        teacher_id: String::new(),
    };
    let status = county
        .create_teacher(request("张😀", 31))
        .await
        .unwrap_err();
    let (field, message) = violation(&status);
    assert_eq!(field, "teacher.display_name");
    assert!(message.contains("U+1F600"), "{message}");
    // A rare but real name character prints (the fallback font): accepted.
    let created = county
        .create_teacher(request("𠀀明", 33))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(created.display_name, "𠀀明");
    // Nor can a correction introduce one.
    let status = county
        .update_teacher(pb::UpdateTeacherRequest {
            teacher: Some(pb::Teacher {
                name: created.name.clone(),
                display_name: "王\u{2A6A5}".into(),
                ..Default::default()
            }),
            update_mask: Some(FieldMask {
                paths: vec!["display_name".into()],
            }),
        })
        .await
        .unwrap_err();
    let (field, message) = violation(&status);
    assert_eq!(field, "teacher.display_name");
    assert!(message.contains("U+2A6A5"), "{message}");
}

async fn a_school_whose_name_no_certificate_can_print_is_refused_naming_the_character(
    backend: Backend,
) {
    let Some((app, _)) = small(backend).await else {
        return;
    };
    let mut county = app.office("341324");
    let status = county
        .create_school(pb::CreateSchoolRequest {
            school: Some(pb::School {
                name: "schools/3413240901".into(),
                display_name: "泗县🏫小学".into(),
                jurisdiction: "jurisdictions/341324".into(),
                kind: pb::SchoolKind::Primary as i32,
                full_time_teacher_count: 25,
                ..Default::default()
            }),
        })
        .await
        .unwrap_err();
    let (field, message) = violation(&status);
    assert_eq!(field, "school.display_name");
    assert!(message.contains("U+1F3EB"), "{message}");
}

async fn an_import_reports_the_row_whose_name_no_certificate_can_print(backend: Backend) {
    let Some((app, sample)) = small(backend).await else {
        return;
    };
    let mut rows = sample.teacher_rows();
    rows[4][1] = "张😀".into();
    rows[7][1] = "𠀀明".into();
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
    // The header is line 1: row 4 is line 6.
    assert_eq!(
        reported,
        vec![(6, "姓名", common::RowErrorReason::InvalidValue as i32)]
    );
    assert!(
        result.errors[0].message.contains("U+1F600"),
        "{}",
        result.errors[0].message
    );
    assert!(!result.report.committed);
}

async fn a_name_longer_than_the_certificates_qr_code_holds_is_refused(backend: Backend) {
    let Some((app, sample)) = small(backend).await else {
        return;
    };
    let mut county = app.office("341324");
    let school = |code: &str, name: String| pb::CreateSchoolRequest {
        school: Some(pb::School {
            name: format!("schools/{code}"),
            display_name: name,
            jurisdiction: "jurisdictions/341324".into(),
            kind: pb::SchoolKind::Primary as i32,
            full_time_teacher_count: 25,
            ..Default::default()
        }),
    };
    // tica_credential::qr::MAX_SCHOOL_BYTES: 32 common characters fit (the credential's test
    // proves the longest accepted texts encode), 33 do not; nor does the 100.
    let longest = format!("泗县{}小学", "第一实验".repeat(7));
    assert_eq!(longest.chars().count(), 32);
    county
        .create_school(school("3413240902", longest))
        .await
        .unwrap();
    for name in [
        format!("泗县{}小学", "第一实验".repeat(7) + "甲"),
        format!("泗县{}小学", "第一实验".repeat(24)),
    ] {
        let status = county
            .create_school(school("3413240903", name))
            .await
            .unwrap_err();
        let (field, message) = violation(&status);
        assert_eq!(field, "school.display_name");
        assert!(message.contains("at most 64"), "{message}");
    }
    // A teacher's name: 14 common characters at most, and 7 of Extension B.
    let home = sample
        .schools
        .iter()
        .find(|s| s.county.to_string() == "341324")
        .unwrap();
    let id = |seq: u16| {
        tica_domain::ResidentId::generate("341324", time::macros::date!(1990 - 01 - 02), seq)
            .as_str()
            .to_owned()
    };
    let teacher = |name: &str, seq: u16| pb::CreateTeacherRequest {
        teacher: Some(pb::Teacher {
            display_name: name.into(),
            id_number: id(seq),
            school: format!("schools/{}", home.code),
            stage: pb::Stage::Primary as i32,
            category: pb::TeacherCategory::Ordinary as i32,
            ..Default::default()
        }),
        teacher_id: String::new(),
    };
    let status = county
        .create_teacher(teacher(&"𠀀".repeat(8), 41))
        .await
        .unwrap_err();
    let (field, message) = violation(&status);
    assert_eq!(field, "teacher.display_name");
    assert!(message.contains("at most 28"), "{message}");
    let status = county
        .create_teacher(teacher(&"阿".repeat(15), 43))
        .await
        .unwrap_err();
    assert_eq!(violation(&status).0, "teacher.display_name");
    county
        .create_teacher(teacher(&"阿".repeat(14), 45))
        .await
        .unwrap();
}
