//! The figures offices hand upward (issue 7): popularity per micro-competency by environment and
//! dimension (《安徽指导意见》§四(一)), each school's micro-competency pass rate and results
//! state (the principal's appraisal figures, 《泗县实施意见》§三 3),
//! and the `grade` column of submissions that migration 0002 adds — over real gRPC, on SQLite
//! and PostgreSQL.

mod support;

use std::collections::BTreeMap;

use support::{SIXIAN, Suite, grade, hand_in, select};
use tica_auth::Role;
use tica_proto::tica::assessment::v1 as pb;
use tica_proto::tica::common::v1 as common;
use tica_proto::tica::roster::v1 as roster;
use tica_storage::{Backend, with_db};
use tonic::Code;

tica_testkit::backend_tests!(
    popularity_counts_each_micro_competencys_selections_hand_ins_and_grades_in_catalogue_order,
    a_returned_or_regraded_submission_moves_out_of_the_popularity_figures_it_left,
    popularity_is_scoped_to_the_callers_jurisdiction_or_school_and_refused_to_teachers,
    school_rows_carry_the_micro_competency_pass_rate_and_the_schools_results_state,
    the_migrations_backfill_sets_the_grade_column_from_the_stored_grading,
    the_workbook_has_the_appraisal_columns_the_results_state_and_the_micro_competency_sheets,
);

const COUNTY: &str = "341324";
const SCHOOL_A: &str = "3413240001";
const SCHOOL_B: &str = "3413240002";

/// A Sixian batch: school A has teachers `a1` (B2, C1, C4) and `a2` (A1, A5, B2, C1); school B
/// has `b1` (B2, C1, C4) and the county assessor's own teacher record (no selection). `a1`
/// hands in everything: B2 excellent, C1 pass, C4 fail; `a2` hands in B2: pass. Sixian lets
/// county assessors grade (或委托县级培训团队, 《泗县实施意见》附件2 §四(二)4; preset
/// `county_assessors_may_grade`).
struct Year {
    suite: Suite,
    batch: String,
    a1: String,
    a2: String,
    b1: String,
    assessor: String,
}

impl Year {
    fn participant(&self, teacher: &str) -> String {
        format!("{}/participants/{teacher}", self.batch)
    }

    fn county(&self) -> support::AssessmentClient {
        self.suite
            .assessment("county-office", Role::CountyOffice, COUNTY, None)
    }

    fn grader(&self) -> support::AssessmentClient {
        self.suite
            .assessment(&self.assessor, Role::Assessor, COUNTY, None)
    }

    async fn popularity(
        &self,
        client: &mut support::AssessmentClient,
        parent: &str,
    ) -> Result<pb::ListMicroCompetencyProgressResponse, tonic::Status> {
        client
            .list_micro_competency_progress(pb::ListMicroCompetencyProgressRequest {
                parent: parent.into(),
                year: 2026,
                ..Default::default()
            })
            .await
            .map(|r| r.into_inner())
    }
}

fn by_code(
    r: &pb::ListMicroCompetencyProgressResponse,
) -> BTreeMap<String, pb::MicroCompetencyProgress> {
    r.micro_competencies
        .iter()
        .map(|m| (m.code.clone(), m.clone()))
        .collect()
}

async fn year(backend: Backend) -> Option<Year> {
    let suite = Suite::start(backend).await?;
    suite.register_county(&SIXIAN).await;
    suite
        .register_school(COUNTY, SCHOOL_A, "泗县第一小学")
        .await;
    suite
        .register_school(COUNTY, SCHOOL_B, "泗县第二小学")
        .await;
    let a1 = suite.register_teacher(COUNTY, SCHOOL_A, 1).await;
    let a2 = suite.register_teacher(COUNTY, SCHOOL_A, 2).await;
    let b1 = suite.register_teacher(COUNTY, SCHOOL_B, 3).await;
    let grader_teacher = suite.register_teacher(COUNTY, SCHOOL_B, 4).await;
    let assessor = suite
        .register_assessor(
            COUNTY,
            &grader_teacher,
            roster::AssessorLevel::County,
            &format!("jurisdictions/{COUNTY}"),
        )
        .await;
    let batch = suite.open_batch(COUNTY).await;
    let year = Year {
        suite,
        batch,
        a1,
        a2,
        b1,
        assessor,
    };
    let mut county = year.county();
    // Sixian: 合计不少于 20 学分 — B2 5 + C1 8 + C4 9; A1 4 + A5 5 + B2 5 + C1 8.
    select(
        &mut county,
        &year.participant(&year.a1),
        &["B2", "C1", "C4"],
    )
    .await;
    select(
        &mut county,
        &year.participant(&year.a2),
        &["A1", "A5", "B2", "C1"],
    )
    .await;
    select(
        &mut county,
        &year.participant(&year.b1),
        &["B2", "C1", "C4"],
    )
    .await;
    for code in ["B2", "C1", "C4"] {
        hand_in(&mut county, &year.participant(&year.a1), code).await;
    }
    hand_in(&mut county, &year.participant(&year.a2), "B2").await;
    let mut grader = year.grader();
    for (teacher, code, g) in [
        (&year.a1, "B2", common::Grade::Excellent),
        (&year.a1, "C1", common::Grade::Pass),
        (&year.a1, "C4", common::Grade::Fail),
        (&year.a2, "B2", common::Grade::Pass),
    ] {
        grade(
            &mut grader,
            &year.assessor,
            &year.participant(teacher),
            code,
            g,
        )
        .await
        .expect("graded");
    }
    Some(year)
}

async fn popularity_counts_each_micro_competencys_selections_hand_ins_and_grades_in_catalogue_order(
    backend: Backend,
) {
    let Some(year) = year(backend).await else {
        return;
    };
    let mut county = year.county();
    let r = year
        .popularity(&mut county, &format!("jurisdictions/{COUNTY}"))
        .await
        .unwrap();
    assert_eq!(r.participants, 4, "every enrolled teacher, selected or not");
    assert_eq!(r.total_size, 30);
    let codes: Vec<&str> = r
        .micro_competencies
        .iter()
        .map(|m| m.code.as_str())
        .collect();
    assert_eq!(codes.len(), 30, "all 30 codes, zeros included");
    assert_eq!(&codes[..3], ["A1", "A2", "A3"]);
    assert_eq!(
        &codes[12..14],
        ["A13", "B1"],
        "catalogue order, not text order"
    );
    assert_eq!(codes[29], "C7");
    let m = by_code(&r);
    let b2 = &m["B2"];
    assert_eq!(
        (
            b2.selected,
            b2.submitted,
            b2.graded,
            b2.passed,
            b2.excellent
        ),
        (3, 2, 2, 2, 1)
    );
    assert_eq!(b2.selected_permille, 750, "3 of 4 participants");
    assert_eq!(b2.pass_permille, 1000);
    assert_eq!(b2.micro_competency, "microCompetencies/B2");
    assert_eq!(b2.environment, pb::Environment::Blended as i32);
    assert_eq!(b2.credits, 5);
    let c4 = &m["C4"];
    assert_eq!((c4.selected, c4.graded, c4.passed), (2, 1, 0));
    assert_eq!(c4.pass_permille, 0);
    assert_eq!((m["A1"].selected, m["A1"].submitted), (1, 0));
    assert_eq!(
        m["A3"],
        pb::MicroCompetencyProgress {
            selected: 0,
            ..m["A3"].clone()
        }
    );
    assert_eq!(m["A3"].selected, 0);

    // Twelve cells, environment first; they add up to the codes' selections (10 picks).
    assert_eq!(r.cells.len(), 12);
    assert_eq!(r.cells[0].environment, pb::Environment::Multimedia as i32);
    assert_eq!(r.cells[0].dimension, pb::Dimension::LearningAnalysis as i32);
    assert_eq!(r.cells[11].environment, pb::Environment::Smart as i32);
    assert_eq!(r.cells.iter().map(|c| c.selected).sum::<i64>(), 10);
    assert_eq!(r.cells.iter().map(|c| c.passed).sum::<i64>(), 3);
    for cell in &r.cells {
        let expected: i64 = r
            .micro_competencies
            .iter()
            .filter(|m| m.environment == cell.environment && m.dimension == cell.dimension)
            .map(|m| m.selected)
            .sum();
        assert_eq!(cell.selected, expected, "{cell:?}");
    }

    // Paginated like the other lists: 12 + 12 + 6, the figures the same on every page.
    let mut token = String::new();
    let mut paged = Vec::new();
    loop {
        let page = county
            .list_micro_competency_progress(pb::ListMicroCompetencyProgressRequest {
                parent: format!("jurisdictions/{COUNTY}"),
                year: 2026,
                batch: year.batch.clone(),
                page_size: 12,
                page_token: token,
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(page.cells.len(), 12);
        paged.extend(page.micro_competencies);
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    assert_eq!(paged, r.micro_competencies);
    let other_year = year
        .county()
        .list_micro_competency_progress(pb::ListMicroCompetencyProgressRequest {
            parent: format!("jurisdictions/{COUNTY}"),
            year: 2025,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(other_year.participants, 0);
    assert!(
        other_year
            .micro_competencies
            .iter()
            .all(|m| m.selected == 0)
    );
}

async fn a_returned_or_regraded_submission_moves_out_of_the_popularity_figures_it_left(
    backend: Backend,
) {
    let Some(year) = year(backend).await else {
        return;
    };
    let parent = format!("jurisdictions/{COUNTY}");
    let mut county = year.county();
    let mut grader = year.grader();
    // Re-graded in place: B2 excellent → pass.
    grade(
        &mut grader,
        &year.assessor,
        &year.participant(&year.a1),
        "B2",
        common::Grade::Pass,
    )
    .await
    .unwrap();
    // Returned to the teacher: C4 is a draft again, its grading moved to the history.
    county
        .return_submission(pb::ReturnSubmissionRequest {
            name: format!("{}/submissions/C4", year.participant(&year.a1)),
            reason: "请补充教学视频".into(),
        })
        .await
        .unwrap();
    let m = by_code(&year.popularity(&mut county, &parent).await.unwrap());
    assert_eq!(
        (m["B2"].graded, m["B2"].passed, m["B2"].excellent),
        (2, 2, 0)
    );
    assert_eq!(
        (m["C4"].submitted, m["C4"].graded, m["C4"].passed),
        (0, 0, 0)
    );
    // Handed in again and passed.
    hand_in(&mut county, &year.participant(&year.a1), "C4").await;
    grade(
        &mut grader,
        &year.assessor,
        &year.participant(&year.a1),
        "C4",
        common::Grade::Pass,
    )
    .await
    .unwrap();
    let m = by_code(&year.popularity(&mut county, &parent).await.unwrap());
    assert_eq!(
        (m["C4"].submitted, m["C4"].graded, m["C4"].passed),
        (1, 1, 1)
    );
    let grades: Vec<(String, String)> = with_db!(&year.suite.db, pool => {
        sqlx::query_as("SELECT code, grade FROM submissions WHERE teacher_number = $1 ORDER BY code")
            .bind(year.a1.clone())
            .fetch_all(pool)
            .await
            .unwrap()
    });
    assert_eq!(
        grades,
        [("B2", "pass"), ("C1", "pass"), ("C4", "pass")].map(|(c, g)| (c.to_owned(), g.to_owned()))
    );
    let _ = &year.b1;
}

async fn popularity_is_scoped_to_the_callers_jurisdiction_or_school_and_refused_to_teachers(
    backend: Backend,
) {
    let Some(year) = year(backend).await else {
        return;
    };
    let mut office_a = year
        .suite
        .assessment("office-a", Role::SchoolAdmin, COUNTY, Some(SCHOOL_A));
    let own = year.popularity(&mut office_a, "").await.unwrap();
    assert_eq!(own.participants, 2, "school A's own teachers");
    assert_eq!(by_code(&own)["B2"].selected, 2);
    let named = year
        .popularity(&mut office_a, &format!("schools/{SCHOOL_A}"))
        .await
        .unwrap();
    assert_eq!(named.micro_competencies, own.micro_competencies);
    let county_wide = year
        .popularity(&mut office_a, &format!("jurisdictions/{COUNTY}"))
        .await
        .unwrap_err();
    assert_eq!(county_wide.code(), Code::PermissionDenied);
    let other_school = year
        .popularity(&mut office_a, &format!("schools/{SCHOOL_B}"))
        .await
        .unwrap_err();
    // Another school is not there for a school's office: NOT_FOUND, as for a missing school.
    assert_eq!(other_school.code(), Code::NotFound, "{other_school:?}");
    let mut city = year
        .suite
        .assessment("city", Role::CityOffice, "341300", None);
    assert_eq!(
        year.popularity(&mut city, "").await.unwrap().participants,
        4
    );
    let mut teacher = year
        .suite
        .assessment(&year.a1, Role::Teacher, COUNTY, Some(SCHOOL_A));
    let refused = year.popularity(&mut teacher, "").await.unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied, "{refused:?}");
    let bad_batch = year
        .county()
        .list_micro_competency_progress(pb::ListMicroCompetencyProgressRequest {
            batch: "cohorts/1".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(bad_batch.code(), Code::InvalidArgument);
}

async fn school_rows_carry_the_micro_competency_pass_rate_and_the_schools_results_state(
    backend: Backend,
) {
    let Some(year) = year(backend).await else {
        return;
    };
    // School A finishes: a2's other three pass.
    let mut county = year.county();
    let mut grader = year.grader();
    for code in ["A1", "A5", "C1"] {
        hand_in(&mut county, &year.participant(&year.a2), code).await;
        grade(
            &mut grader,
            &year.assessor,
            &year.participant(&year.a2),
            code,
            common::Grade::Pass,
        )
        .await
        .unwrap();
    }
    let mut office_a = year
        .suite
        .assessment("office-a", Role::SchoolAdmin, COUNTY, Some(SCHOOL_A));
    office_a
        .submit_school_results(pb::SubmitSchoolResultsRequest {
            name: format!("{}/schoolResults/{SCHOOL_A}", year.batch),
            reason: String::new(),
        })
        .await
        .unwrap();
    let list = year
        .county()
        .list_progress(pb::ListProgressRequest {
            parent: format!("jurisdictions/{COUNTY}"),
            level: pb::ProgressLevel::School as i32,
            year: 2026,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let a = &list.rows[0];
    let b = &list.rows[1];
    assert_eq!(a.unit, format!("schools/{SCHOOL_A}"));
    // School A: 7 submissions graded, 6 passed → 857 ‰ (教师微能力通过率).
    assert_eq!((a.submissions_graded, a.submissions_passed), (7, 6));
    assert_eq!(a.micro_competency_pass_permille, 857);
    assert_eq!(
        a.school_result_state,
        pb::SchoolResultState::InCountyReview as i32
    );
    assert_eq!(b.micro_competency_pass_permille, 0, "nothing graded yet");
    assert_eq!(b.school_result_state, pb::SchoolResultState::Open as i32);
    let total = list.total.unwrap();
    assert_eq!(total.micro_competency_pass_permille, 857);
    assert_eq!(
        total.school_result_state,
        pb::SchoolResultState::Unspecified as i32,
        "only school rows have a results state"
    );
    assert_eq!(
        total.grade,
        common::Grade::Unspecified as i32,
        "Sixian grades no counties (the preset's county_grade is disabled)"
    );
    let one = year
        .county()
        .get_progress(pb::GetProgressRequest {
            unit: format!("schools/{SCHOOL_A}"),
            year: 2026,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(one.micro_competency_pass_permille, 857);
    assert_eq!(
        one.school_result_state,
        pb::SchoolResultState::InCountyReview as i32
    );
}

async fn the_migrations_backfill_sets_the_grade_column_from_the_stored_grading(backend: Backend) {
    let Some(year) = year(backend).await else {
        return;
    };
    // A row as it was before migration 0002: grading stored, the column at its default.
    with_db!(&year.suite.db, pool => {
        sqlx::query("UPDATE submissions SET grade = ''").execute(pool).await.unwrap();
    });
    let backfill = match backend {
        Backend::Sqlite => include_str!("../migrations/sqlite/0002_submission_grade.sql"),
        Backend::Postgres => include_str!("../migrations/postgres/0002_submission_grade.sql"),
    };
    let update = backfill
        .lines()
        .find(|l| l.starts_with("UPDATE"))
        .expect("the migration backfills");
    with_db!(&year.suite.db, pool => {
        sqlx::query(sqlx::AssertSqlSafe(update.to_owned())).execute(pool).await.unwrap();
    });
    let grades: Vec<(String, String, String)> = with_db!(&year.suite.db, pool => {
        sqlx::query_as("SELECT teacher_number, code, grade FROM submissions WHERE grade <> '' ORDER BY teacher_number, code")
            .fetch_all(pool)
            .await
            .unwrap()
    });
    let expected: Vec<(String, String, String)> = [
        (&year.a1, "B2", "excellent"),
        (&year.a1, "C1", "pass"),
        (&year.a1, "C4", "fail"),
        (&year.a2, "B2", "pass"),
    ]
    .map(|(t, c, g)| (t.clone(), c.to_owned(), g.to_owned()))
    .into_iter()
    .collect();
    let mut expected = expected;
    expected.sort();
    assert_eq!(grades, expected);
}

/// The county's workbook by school with the micro-competency sheets (read back with calamine):
/// the 17 columns of before, then the principal's appraisal figures (《泗县实施意见》
/// §三 3) and the results state; 不评定 where the Sixian preset grades no schools.
async fn the_workbook_has_the_appraisal_columns_the_results_state_and_the_micro_competency_sheets(
    backend: Backend,
) {
    use calamine::{Data, DataType, Reader};
    use tokio_stream::StreamExt;
    let Some(year) = year(backend).await else {
        return;
    };
    let mut stream = year
        .county()
        .export_progress(pb::ExportProgressRequest {
            parent: format!("jurisdictions/{COUNTY}"),
            level: pb::ProgressLevel::School as i32,
            year: 2026,
            format: 0,
            include_micro_competencies: true,
            include_lower_levels: true,
        })
        .await
        .unwrap()
        .into_inner();
    let mut bytes = Vec::new();
    let mut file_name = String::new();
    while let Some(message) = stream.next().await {
        match message.unwrap().payload {
            Some(pb::export_progress_response::Payload::Chunk(chunk)) => {
                bytes.extend_from_slice(&chunk)
            }
            Some(pb::export_progress_response::Payload::Metadata(m)) => file_name = m.file_name,
            None => {}
        }
    }
    assert_eq!(file_name, "能力提升工程2.0进度-按学校-2026.xlsx");
    let mut book: calamine::Xlsx<_> =
        calamine::open_workbook_from_rs(std::io::Cursor::new(bytes)).expect("opens");
    assert_eq!(book.sheet_names(), ["学校进度", "微能力", "环境×维度"]);
    let schools = book.worksheet_range("学校进度").unwrap();
    let rows: Vec<&[Data]> = schools.rows().collect();
    let text = |d: &Data| d.to_string();
    // A title row an office prints (issue 21), then the headers, then the schools.
    assert_eq!(
        text(&rows[0][0]),
        "泗县 2026年 能力提升工程2.0 进度（按学校）"
    );
    assert_eq!(text(&rows[1][0]), "单位代码", "row 1 is the header");
    assert_eq!(text(&rows[1][16]), "等级");
    assert_eq!(text(&rows[1][20]), "微能力通过率");
    assert_eq!(text(&rows[1][22]), "校本考核状态");
    assert_eq!(text(&rows[2][0]), SCHOOL_A);
    assert_eq!(text(&rows[2][1]), "泗县第一小学");
    assert_eq!(text(&rows[2][16]), "不评定");
    assert_eq!(text(&rows[2][22]), "校内评审中");
    // School A: 3 of 4 graded submissions passed.
    assert_eq!(rows[2][20].get_float(), Some(0.75));
    assert_eq!(text(&rows[4][1]), "合计");
    for row in &rows[2..] {
        for c in [4, 6, 8, 10, 12, 14, 20, 21] {
            let rate = row[c].get_float().unwrap();
            assert!((0.0..=1.0).contains(&rate), "a rate is a fraction: {rate}");
        }
    }
    let codes = book.worksheet_range("微能力").unwrap();
    let codes: Vec<&[Data]> = codes.rows().collect();
    assert_eq!(text(&codes[1][0]), "编号");
    assert_eq!(codes.len(), 33, "title, header, 30 codes, 合计");
    let b2 = codes.iter().find(|r| text(&r[0]) == "B2").unwrap();
    assert_eq!(text(&b2[3]), "混合学习环境");
    assert_eq!(b2[5].get_float(), Some(3.0));
    assert_eq!(
        b2[6].get_float(),
        Some(0.75),
        "3 of 4 participants chose B2"
    );
    let cells = book.worksheet_range("环境×维度").unwrap();
    let cells: Vec<&[Data]> = cells.rows().collect();
    assert_eq!(text(&cells[1][1]), "学情分析");
    assert_eq!(text(&cells[5][0]), "合计");
    assert_eq!(cells[5][5].get_float(), Some(10.0), "ten selections in all");
    assert_eq!(text(&cells[7][0]), "占全部选择的比例");
    assert_eq!(cells[11][5].get_float(), Some(1.0));
}
