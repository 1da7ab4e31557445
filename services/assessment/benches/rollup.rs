//! Rolls up grades for 1,000,000 teachers in 10,000 schools in 100 counties: the province's
//! progress by county, with every school's and county's grade by the Ningxia rules (the preset
//! that grades schools and counties), through the service layer that `ListProgress` calls.
//!
//! ```sh
//! cargo bench -p tica-assessment --bench rollup                 # SQLite (the embedded default)
//! DATABASE_URL=postgres://postgres@127.0.0.1:5432/test \
//!   cargo bench -p tica-assessment --bench rollup                 # and PostgreSQL
//! ```
//!
//! In the same run, interleaved, it times two references on the same table: the grouped
//! aggregate alone (the one SQL statement the roll-up issues, rows fetched, nothing computed on
//! them) and a bare `SELECT path, COUNT(*) … GROUP BY path` (the engine's grouping cost). `TICA_BENCH_TEACHERS`
//! changes the size (a multiple of 10,000), `TICA_BENCH_ROUNDS` the rounds (median reported).
//! Under `cargo test --benches` it runs once on 20,000 teachers as a smoke test.

use std::time::{Duration, Instant};

use tica_assessment::model::{BatchRecord, BatchState};
use tica_assessment::objects::EvidenceStore;
use tica_assessment::roster::Roster;
use tica_assessment::service::{Assessment, Ctx, Level};
use tica_assessment::store::{self, Work};
use tica_auth::{BearerToken, Caller, Role};
use tica_domain::ScopePath;
use tica_domain::division::DivisionCode;
use tica_domain::policy::{Preset, preset};
use tica_storage::{Backend, Database, with_db};
use tica_testkit::TestDatabase;

const COUNTIES: i64 = 100;
const SCHOOLS_PER_COUNTY: i64 = 100;

/// The county code of county `c` (0-based): ten cities 341100…342000 of ten counties each.
fn county_code(c: i64) -> String {
    let city = 3411 + c / 10;
    format!("{}", city * 100 + c % 10 + 1)
}

/// Fills the participants table with `teachers` rows in one statement: teacher `g` sits in
/// school `g / per_school` of county `g / per_county`; grades vary by school so that school
/// grades come out excellent, pass and fail.
async fn fill(db: &Database, teachers: i64) {
    let per_county = teachers / COUNTIES;
    let per_school = per_county / SCHOOLS_PER_COUNTY;
    let rules = store::to_json(&preset(Preset::Ningxia));
    let mut work = Work::default();
    for c in 0..COUNTIES {
        let county = DivisionCode::parse(&county_code(c)).unwrap();
        work.batches.push(BatchRecord {
            id: format!("{county}-2026"),
            county,
            path: ScopePath::for_jurisdiction(county),
            year: 2026,
            display_name: format!("{county} 2026"),
            schools: Vec::new(),
            selection_deadline: None,
            submission_deadline: None,
            grading_deadline: None,
            state: BatchState::Open,
            open_date: None,
            policy_versions: vec!["policies/640000/versions/1".into()],
            rules_json: rules.clone(),
            last_sequence: 0,
            certificate_date: None,
            transitions: Vec::new(),
            create_micros: 0,
            update_micros: 0,
            loaded: None,
        });
    }
    store::commit(db, &work).await.expect("batches stored");
    // One INSERT … SELECT over a recursive counter: the same text runs on both engines.
    // Excellent shares 40 %, 35 %, …, 10 % by school; 2 % failures in one school in seven of
    // every fourth county.
    let fails = format!("(g / {per_county}) % 4 = 0 AND mix = 6 AND k * 100 < 2 * {per_school}");
    let grade = format!(
        "CASE WHEN {fails} THEN 'fail' WHEN k * 100 >= (60 + mix * 5) * {per_school} \
         THEN 'excellent' ELSE 'pass' END"
    );
    let statement = format!(
        "WITH RECURSIVE seq(g) AS (SELECT CAST(0 AS BIGINT) UNION ALL SELECT g + 1 FROM seq WHERE g < {last}), \
         q AS (SELECT g, \
                 (3411 + (g / {per_county}) / 10) * 100 AS city, \
                 (3411 + (g / {per_county}) / 10) * 100 + (g / {per_county}) % 10 + 1 AS county, \
                 ((3411 + (g / {per_county}) / 10) * 100 + (g / {per_county}) % 10 + 1) * 10000 \
                   + (g / {per_school}) % {SCHOOLS_PER_COUNTY} + 1 AS school, \
                 (g / {per_school}) % 7 AS mix, g % {per_school} AS k \
               FROM seq) \
         INSERT INTO participants (batch_id, teacher_number, school_code, path, state, category, \
             roles, subject, birth_date, selection_json, selection_state, hours_complete, \
             submissions_expected, submissions_submitted, submissions_graded, submissions_passed, \
             online_grade, grade, create_micros, update_micros) \
         SELECT CAST(county AS TEXT) || '-2026', CAST(school * 10000 + k + 1 AS TEXT), \
             CAST(school AS TEXT), \
             '/340000/' || CAST(city AS TEXT) || '/' || CAST(county AS TEXT) || '/s' || CAST(school AS TEXT) || '/', \
             'enrolled', 'ordinary', 'teacher', '数学', '1985-03-01', '[\"A1\",\"B2\",\"C1\"]', 'accepted', \
             (k % 17 <> 3), 3, 3, 3, CASE WHEN {fails} THEN 2 ELSE 3 END, {grade}, {grade}, 0, 0 \
         FROM q",
        last = teachers - 1,
    );
    with_db!(db, pool => {
        sqlx::query(sqlx::AssertSqlSafe(statement.clone())).execute(pool).await.expect("participants stored");
    });
    with_db!(db, pool => {
        sqlx::query("ANALYZE").execute(pool).await.expect("analyze");
    });
}

/// The grouped aggregate alone (the statement `store::school_sums` issues), rows fetched.
async fn aggregate_only(db: &Database, scope: &ScopePath) -> usize {
    store::school_sums(db, scope, 2026, "").await.unwrap().len()
}

/// Grouping alone: the participants counted per school path, nothing else summed or joined.
async fn group_only(db: &Database) -> usize {
    with_db!(db, pool => {
        sqlx::query_as::<_, (String, i64)>("SELECT path, COUNT(*) FROM participants GROUP BY path")
            .fetch_all(pool)
            .await
            .unwrap()
            .len()
    })
}

/// The engine's plan for the roll-up's statement over the province.
async fn plan(db: &Database, scope: &ScopePath) -> String {
    let (lo, hi) = scope.range();
    let lines: Vec<String> = match db.pool() {
        tica_storage::Pool::Sqlite(pool) => {
            let rows: Vec<(i64, i64, i64, String)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "EXPLAIN QUERY PLAN {}",
                store::SCHOOL_SUMS_SQL
            )))
            .bind(lo)
            .bind(hi)
            .bind(2026_i64)
            .bind("")
            .fetch_all(pool)
            .await
            .unwrap();
            rows.into_iter().map(|r| r.3).collect()
        }
        tica_storage::Pool::Postgres(pool) => {
            let rows: Vec<(String,)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "EXPLAIN {}",
                store::SCHOOL_SUMS_SQL
            )))
            .bind(lo)
            .bind(hi)
            .bind(2026_i64)
            .bind("")
            .fetch_all(pool)
            .await
            .unwrap();
            rows.into_iter().map(|r| r.0).collect()
        }
    };
    lines
        .iter()
        .map(|l| format!("    {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}

async fn run(backend: Backend, teachers: i64, rounds: usize) {
    let Some(location) = TestDatabase::new(backend) else {
        eprintln!("{}: skipped (DATABASE_URL is not set)", backend.as_str());
        return;
    };
    let db = location
        .connect("assessment", tica_assessment::startup::MIGRATIONS)
        .await
        .expect("database");
    let started = Instant::now();
    fill(&db, teachers).await;
    let filled = started.elapsed();
    let objects = EvidenceStore::open(
        &std::env::temp_dir()
            .join("tica-rollup-bench")
            .display()
            .to_string(),
    )
    .expect("evidence store");
    // The roll-up never calls the roster; the channel is never connected.
    let roster =
        Roster::new(tonic::transport::Channel::from_static("http://127.0.0.1:9").connect_lazy());
    let service = Assessment::new(db.clone(), roster, objects);
    let province = DivisionCode::parse("340000").unwrap();
    let ctx = Ctx::new(
        tica_assessment::service::SERVICE_NAME,
        Caller::new("bench".into(), Role::ProvinceOffice, province, None),
        BearerToken(String::new()),
    );
    let scope = ScopePath::for_jurisdiction(province);

    let (mut rollup, mut schools, mut aggregate, mut count) = (vec![], vec![], vec![], vec![]);
    let mut summary = String::new();
    for round in 0..rounds {
        let t = Instant::now();
        let (rows, total) = service
            .list_progress(&ctx, None, Level::County, 2026)
            .await
            .expect("roll-up");
        rollup.push(t.elapsed());
        assert_eq!(rows.len() as i64, COUNTIES);
        assert_eq!(total.sums.participants, teachers);
        assert_eq!(total.schools[0], COUNTIES * SCHOOLS_PER_COUNTY);
        if round == 0 {
            summary = format!(
                "schools excellent/pass/fail {}/{}/{}; counties excellent/pass/fail {}/{}/{}",
                total.schools[1],
                total.schools[2],
                total.schools[3],
                total.counties[1],
                total.counties[2],
                total.counties[3]
            );
        }
        let t = Instant::now();
        let (rows, _) = service
            .list_progress(&ctx, None, Level::School, 2026)
            .await
            .expect("roll-up by school");
        schools.push(t.elapsed());
        assert_eq!(rows.len() as i64, COUNTIES * SCHOOLS_PER_COUNTY);
        let t = Instant::now();
        assert_eq!(
            aggregate_only(&db, &scope).await as i64,
            COUNTIES * SCHOOLS_PER_COUNTY
        );
        aggregate.push(t.elapsed());
        let t = Instant::now();
        assert_eq!(group_only(&db).await as i64, COUNTIES * SCHOOLS_PER_COUNTY);
        count.push(t.elapsed());
    }
    let (rollup, schools, aggregate, count) = (
        median(rollup),
        median(schools),
        median(aggregate),
        median(count),
    );
    println!(
        "{backend}: {teachers} teachers, {} schools, {COUNTIES} counties (filled in {:.1} s); {summary}",
        COUNTIES * SCHOOLS_PER_COUNTY,
        filled.as_secs_f64(),
        backend = backend.as_str(),
    );
    println!(
        "  ListProgress by county (roll-up + school and county grades)  {:>7.3} s   goal < 2 s",
        rollup.as_secs_f64()
    );
    println!(
        "  ListProgress by school (10,000 rows)                           {:>7.3} s",
        schools.as_secs_f64()
    );
    println!(
        "  reference: the grouped aggregate alone                         {:>7.3} s   roll-up ÷ this = {:.2}",
        aggregate.as_secs_f64(),
        rollup.as_secs_f64() / aggregate.as_secs_f64()
    );
    println!(
        "  reference: SELECT path, COUNT(*) … GROUP BY path               {:>7.3} s   roll-up ÷ this = {:.2}",
        count.as_secs_f64(),
        rollup.as_secs_f64() / count.as_secs_f64()
    );
    println!("  plan:\n{}", plan(&db, &scope).await);
    db.close().await;
}

fn main() {
    let bench = std::env::args().any(|a| a == "--bench");
    let env = |name: &str, default: i64| {
        std::env::var(name)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let (teachers, rounds) = if bench {
        (
            env("TICA_BENCH_TEACHERS", 1_000_000),
            env("TICA_BENCH_ROUNDS", 5) as usize,
        )
    } else {
        (20_000, 1)
    };
    assert!(
        teachers % (COUNTIES * SCHOOLS_PER_COUNTY) == 0,
        "TICA_BENCH_TEACHERS must be a multiple of 10,000"
    );
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        run(Backend::Sqlite, teachers, rounds).await;
        run(Backend::Postgres, teachers, rounds).await;
    });
}
