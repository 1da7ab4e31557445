//! `tica demo`'s year at a small size, on both databases: the same code the command runs, then
//! its claims read back over the API and from the files it leaves (issue 7).

use calamine::Reader;
use tica::demo::{Certificates, Options, Policy, run_year};
use tica_auth::Role;
use tica_e2e::Cluster;
use tica_proto::tica::assessment::v1 as pb;
use tica_proto::tica::certificate::v1 as cpb;
use tica_proto::tica::sampling::v1 as sp;
use tica_storage::Backend;

tica_testkit::backend_tests!(
    a_sixian_year_runs_through_the_api_and_leaves_its_outputs,
    the_ningxia_chain_ends_in_level_certificates,
);

const TEACHERS: usize = 80;

/// Runs the demo's year for `policy` at [`TEACHERS`] against `cluster`; its output folder and
/// outcome.
async fn play(cluster: &Cluster, policy: Policy) -> (std::path::PathBuf, tica::demo::Outcome) {
    let out = cluster.data_dir().join("demo-out");
    std::fs::create_dir_all(&out).unwrap();
    let options = Options {
        teachers: TEACHERS,
        seed: 2022,
        policy,
        concurrency: 8,
        out: Some(out.clone()),
        certificates: Certificates::Sample,
        quiet: true,
    };
    let outcome = run_year(&cluster.target(), &options)
        .await
        .expect("the year runs to its end");
    (out, outcome)
}

/// The demo's four verifications (QR and PDF valid, the revoked one revoked, the forged QR not
/// genuine by its signature), the revoked page, and the summary's count of certificates in force.
fn assert_verified_and_counted(outcome: &tica::demo::Outcome) {
    let verdicts: Vec<(String, i32)> = outcome
        .verifications
        .iter()
        .map(|v| (v.how.clone(), v.verdict))
        .collect();
    assert_eq!(
        verdicts,
        [
            ("QR".to_owned(), cpb::Verdict::Valid as i32),
            ("PDF".to_owned(), cpb::Verdict::Valid as i32),
            ("revoked".to_owned(), cpb::Verdict::Revoked as i32),
            ("forged QR".to_owned(), cpb::Verdict::NotGenuine as i32),
        ]
    );
    assert_eq!(
        outcome.verifications[3].failure,
        cpb::VerifyFailure::BadSignature as i32
    );
    assert!(outcome.revoked_page_says_revoked);
    assert!(
        outcome.forged_page_says_not_genuine,
        "the page opened from the forged QR says 无法验证"
    );
    assert_eq!(
        outcome.summary_certificates,
        outcome.expected_certificates - 1,
        "the county summary counts the certificates in force, not the revoked one"
    );
}

async fn a_sixian_year_runs_through_the_api_and_leaves_its_outputs(backend: Backend) {
    let Some(cluster) = Cluster::start(backend).await else {
        return;
    };
    let (out, outcome) = play(&cluster, Policy::Sixian).await;

    // The county as generated: every teacher imported and enrolled.
    assert_eq!(outcome.teachers, TEACHERS);
    assert!(outcome.schools >= 6, "{outcome:?}");
    assert!(
        outcome.refused_selections >= 1 && outcome.refusal_example.contains("20"),
        "a selection under 20 credits is refused with a reason: {outcome:?}"
    );
    assert_eq!(
        outcome.repush.0, outcome.repush.1,
        "a retried hours push changes nothing"
    );
    // School grading failed someone, and the county's figures agree with the story.
    let county = "341324";
    let mut office = cluster.assessment("county-office", Role::CountyOffice, county, None);
    let progress = office
        .get_progress(pb::GetProgressRequest {
            unit: format!("jurisdictions/{county}"),
            year: tica::demo::YEAR,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(progress.participants, TEACHERS as i64);
    assert_eq!(progress.selected, TEACHERS as i64);
    assert_eq!(
        progress.hours_completed,
        (TEACHERS - outcome.short_of_hours) as i64
    );
    assert_eq!(progress.passed, outcome.passed_teachers);
    assert!(progress.failed >= 1, "{progress:?}");

    // The review: round 1 sent exactly one school back, round 2 extends it and passed it.
    assert_eq!(outcome.first_round_sent_back.len(), 1);
    assert_eq!(outcome.rounds.len(), 2);
    assert!(
        outcome.redraw_matches,
        "the offline re-draw names the same sample"
    );
    let mut sampling = tica_client::sampling(
        cluster.channel.clone(),
        &cluster.token_as("county-office", Role::CountyOffice, county, None),
    );
    let second = sampling
        .get_review_round(sp::GetReviewRoundRequest {
            name: outcome.rounds[1].clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(second.extends, outcome.rounds[0]);
    let disputed = &outcome.first_round_sent_back[0];
    let agreements = sampling
        .list_unit_agreements(sp::ListUnitAgreementsRequest {
            parent: format!("jurisdictions/{county}"),
            level: sp::RoundLevel::CountyReview as i32,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let unit = agreements
        .unit_agreements
        .iter()
        .find(|u| u.unit == format!("schools/{disputed}"))
        .expect("the disputed school has agreement figures");
    assert_eq!(unit.rounds.len(), 2, "{unit:?}");
    assert_eq!(unit.sent_back, 1, "{unit:?}");

    // Certification and certificates: one per passed micro-competency, nothing twice.
    assert!(outcome.certified);
    assert_eq!(outcome.certificates_issued, outcome.expected_certificates);
    assert_eq!(outcome.second_run_issued, 0);
    let mut certificates =
        tica_e2e::certificates::client(&cluster, "county-office", Role::CountyOffice, county, None);
    let listed = certificates
        .list_certificates(cpb::ListCertificatesRequest {
            parent: format!("jurisdictions/{county}"),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.total_size, outcome.expected_certificates);
    assert_verified_and_counted(&outcome);

    // The files it leaves: certificates, URLs, sampling files, workbooks, the summary.
    for file in [
        "story.txt",
        "timings.json",
        "verification-urls.txt",
        "roster/teachers.csv",
    ] {
        assert!(out.join(file).is_file(), "{file} is missing");
    }
    let pdfs: Vec<_> = std::fs::read_dir(out.join("certificates"))
        .unwrap()
        .flatten()
        .filter(|e| e.path().extension().is_some_and(|x| x == "pdf"))
        .collect();
    assert!(pdfs.len() >= 2, "certificates kept: {}", pdfs.len());
    for pdf in &pdfs {
        assert!(std::fs::read(pdf.path()).unwrap().starts_with(b"%PDF-"));
    }
    let sampling_files: Vec<String> = std::fs::read_dir(out.join("sampling"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        sampling_files
            .iter()
            .filter(|f| f.ends_with(".xlsx"))
            .count()
            == 2,
        "{sampling_files:?}"
    );
    let book_path = out
        .join("reports")
        .join(format!("泗县-{}-进度-按学校.xlsx", tica::demo::YEAR));
    let mut book: calamine::Xlsx<_> =
        calamine::open_workbook(&book_path).expect("the workbook opens");
    let names = book.sheet_names();
    assert!(names.iter().any(|n| n == "学校进度"), "{names:?}");
    assert!(names.iter().any(|n| n == "微能力"), "{names:?}");
    let schools = book.worksheet_range("学校进度").unwrap();
    assert_eq!(schools.get((1, 0)).unwrap().to_string(), "单位代码");
    let summary = std::fs::read(
        out.join("reports")
            .join(format!("泗县-{}-县级总结.pdf", tica::demo::YEAR)),
    )
    .unwrap();
    assert!(
        summary.starts_with(b"%PDF-") && summary.len() > 10_000,
        "{} bytes",
        summary.len()
    );
    cluster.stop().await;
}

async fn the_ningxia_chain_ends_in_level_certificates(backend: Backend) {
    let Some(cluster) = Cluster::start(backend).await else {
        return;
    };
    let (out, outcome) = play(&cluster, Policy::Ningxia).await;
    assert_eq!(outcome.teachers, TEACHERS);
    assert!(
        outcome.refused_selections >= 2 && outcome.refusal_example.contains("50岁以上"),
        "an over-50 teacher picking three is refused with a reason: {outcome:?}"
    );
    // The school's last grade sent its results on: no school office had to.
    assert_eq!(outcome.schools_submitted_by_hand, 0, "{outcome:?}");

    // The county review: the disputed school sent back once, round 2 passed it.
    let county = "640121";
    assert_eq!(outcome.first_round_sent_back.len(), 1);
    assert_eq!(outcome.rounds.len(), 2);
    assert!(outcome.redraw_matches);
    let mut sampling = tica_client::sampling(
        cluster.channel.clone(),
        &cluster.token_as("county-office", Role::CountyOffice, county, None),
    );
    let agreements = sampling
        .list_unit_agreements(sp::ListUnitAgreementsRequest {
            parent: format!("jurisdictions/{county}"),
            level: sp::RoundLevel::CountyReview as i32,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let unit = agreements
        .unit_agreements
        .iter()
        .find(|u| u.unit == format!("schools/{}", outcome.first_round_sent_back[0]))
        .expect("the disputed school has agreement figures");
    assert_eq!(unit.sent_back, 1, "{unit:?}");

    // The region's audit: online, then visits; certified only after the visits.
    assert_eq!(outcome.audit_rounds.len(), 2, "{outcome:?}");
    assert!(outcome.audit_rounds[1].contains("offline"), "{outcome:?}");
    assert_eq!(
        outcome.audit_states,
        [
            pb::BatchState::InProvinceAudit as i32,
            pb::BatchState::Certified as i32
        ]
    );
    assert!(outcome.certified);
    let mut office = cluster.assessment("county-office", Role::CountyOffice, county, None);
    let progress = office
        .get_progress(pb::GetProgressRequest {
            unit: format!("jurisdictions/{county}"),
            year: tica::demo::YEAR,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(progress.participants, TEACHERS as i64);
    assert_eq!(progress.passed, outcome.passed_teachers);
    assert_eq!(outcome.expected_certificates, outcome.passed_teachers);

    // School and county grades (测评实施办法 六(二)(三)).
    let city = cluster.assessment("city-office", Role::CityOffice, "640100", None);
    for (mut client, parent, level) in [
        (
            office.clone(),
            format!("jurisdictions/{county}"),
            pb::ProgressLevel::School,
        ),
        (
            city,
            "jurisdictions/640100".to_owned(),
            pb::ProgressLevel::County,
        ),
    ] {
        let rows = client
            .list_progress(pb::ListProgressRequest {
                parent: parent.clone(),
                level: level as i32,
                year: tica::demo::YEAR,
                page_size: 1000,
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner()
            .rows;
        assert!(!rows.is_empty(), "{parent}");
        assert!(
            rows.iter().all(|r| r.grade != 0),
            "every {level:?} has a grade: {rows:?}"
        );
    }

    // Level certificates, issued by the region: one per passing teacher.
    assert_eq!(outcome.certificates_issued, outcome.passed_teachers);
    assert_eq!(outcome.level_certificates, outcome.passed_teachers);
    assert_eq!(outcome.second_run_issued, 0);
    assert_verified_and_counted(&outcome);

    // Sampling exports of all four rounds, the workbook and the summary.
    let books = std::fs::read_dir(out.join("sampling"))
        .unwrap()
        .flatten()
        .filter(|e| e.path().extension().is_some_and(|x| x == "xlsx"))
        .count();
    assert_eq!(books, 4);
    let summary = std::fs::read(
        out.join("reports")
            .join(format!("永宁县-{}-县级总结.pdf", tica::demo::YEAR)),
    )
    .unwrap();
    assert!(summary.starts_with(b"%PDF-"));
    cluster.stop().await;
}
