//! `tica demo`: a county's whole year through the suite's gRPC APIs.
//!
//! The demo generates a county modelled on 泗县 2022 (《泗县实施意见》, its month-by-month plan) —
//! schools of the real kinds, teachers with valid ID numbers, the training team and assessors —
//! starts the suite in this process (or drives one already running), and plays the year as the
//! people in it would: offices import files, teachers pick micro-competencies (some are refused
//! and correct it), a training provider pushes hours, teachers upload evidence, schools grade,
//! the county draws its spot check with a public seed, sends one school back, certifies, and
//! the certificates are issued and verified — one of them revoked, one QR forged. It prints the
//! story with timings and leaves the outputs behind. The e2e test `tests/tests/demo.rs` runs the
//! same [`run_year`] at a small size on SQLite and PostgreSQL.
//!
//! Nothing here writes a table: every step is an RPC (and one HTTP GET of a verification
//! page). Layout: [`model`] (the county and its hidden truths), `year` (the chapters),
//! [`api`] (tokens, clients, multi-call steps), [`story`] (what is printed and saved).

pub mod api;
pub mod model;
mod ningxia;
pub mod soak;
pub mod story;
mod year;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use clap::Args;
use tica_auth::TokenSigner;
use tonic::transport::Channel;

pub use api::Target;
pub use model::Policy;
pub use year::YEAR;

use crate::serve::{ServeArgs, start};

/// Which certificates the demo downloads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Certificates {
    /// A dozen, of different schools (the rest stay in the service, downloadable later).
    Sample,
    /// Every one (slower: about 23 KB each).
    All,
}

/// What a run does.
#[derive(Debug, Clone)]
pub struct Options {
    /// Teachers in the county.
    pub teachers: usize,
    /// Everything random follows from it.
    pub seed: u64,
    /// Sixian or Ningxia.
    pub policy: Policy,
    /// Calls in flight at once.
    pub concurrency: usize,
    /// Where outputs go (none: nothing written).
    pub out: Option<PathBuf>,
    /// Which certificates to download.
    pub certificates: Certificates,
    /// Print nothing.
    pub quiet: bool,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            teachers: 3000,
            seed: 2022,
            policy: Policy::Sixian,
            concurrency: 12,
            out: None,
            certificates: Certificates::Sample,
            quiet: false,
        }
    }
}

/// One verification the demo made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verification {
    /// How: "QR", "PDF", "revoked", "forged QR".
    pub how: String,
    /// `Verdict` as answered.
    pub verdict: i32,
    /// `VerifyFailure` as answered.
    pub failure: i32,
    /// `Verdict` the demo expected.
    pub expected: i32,
}

/// What happened, for the caller to check.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    /// Schools and teachers imported.
    pub schools: usize,
    /// Teachers imported.
    pub teachers: usize,
    /// The batch.
    pub batch: String,
    /// Selections refused at first (and then corrected).
    pub refused_selections: usize,
    /// The verdict message of a refused selection.
    pub refusal_example: String,
    /// A retried hours push: (unchanged, records).
    pub repush: (usize, usize),
    /// Teachers short of practice hours.
    pub short_of_hours: usize,
    /// Submissions handed in.
    pub submissions: usize,
    /// Teachers whose evidence was marked invalid.
    pub invalid_evidence: usize,
    /// Teachers failed after school grading.
    pub failed_teachers: i64,
    /// Teachers passed at certification.
    pub passed_teachers: i64,
    /// County review rounds, in order.
    pub rounds: Vec<String>,
    /// Schools round 1 sent back (codes).
    pub first_round_sent_back: Vec<String>,
    /// The offline re-draw from the published population named the same sample.
    pub redraw_matches: bool,
    /// The batch ended certified.
    pub certified: bool,
    /// The region's audit rounds, in order (Ningxia: online, then visits).
    pub audit_rounds: Vec<String>,
    /// The batch's `BatchState` after each audit round was decided.
    pub audit_states: Vec<i32>,
    /// Times a school office called SubmitSchoolResults (Ningxia: only where the last grade
    /// did not move the results).
    pub schools_submitted_by_hand: usize,
    /// Level certificates listed after issuance (Ningxia).
    pub level_certificates: i64,
    /// Certificates the model expects.
    pub expected_certificates: i64,
    /// Certificates the first run issued.
    pub certificates_issued: i64,
    /// Certificates the second run issued.
    pub second_run_issued: i64,
    /// The verifications.
    pub verifications: Vec<Verification>,
    /// The revoked certificate's page says 已撤销.
    pub revoked_page_says_revoked: bool,
    /// The page opened from the forged QR code says 无法验证.
    pub forged_page_says_not_genuine: bool,
    /// The county workbook's sheet names.
    pub workbook_sheets: Vec<String>,
    /// Certificates in force as the county summary counts them (the revoked one left out).
    pub summary_certificates: i64,
    /// Report files written.
    pub reports: Vec<PathBuf>,
}

/// Plays the year against `target`.
pub async fn run_year(target: &Target, options: &Options) -> anyhow::Result<Outcome> {
    let model = model::Model::build(options.policy, options.teachers, options.seed);
    let mut year = year::Year::new(target, &model, options);
    year.story.say(format!(
        "TICA demo · {} {YEAR} · {} teachers · seed {} · preset {}",
        model.county.1,
        model.teachers.len(),
        options.seed,
        match options.policy {
            Policy::Sixian => "泗县 (seeds/004)",
            Policy::Ningxia => "宁夏 (seeds/001)",
        }
    ));
    // Each phase names itself beside the spinner while it runs (a terminal only).
    let teachers = model.teachers.len();
    year.story.working("the offices import the roster");
    year.roster().await?;
    year.story.working("teams and assessors");
    year.teams_and_assessors().await?;
    year.story.working("the county opens its batch");
    year.open_batch().await?;
    year.story
        .working(format!("{teachers} teachers pick micro-competencies"));
    year.selections().await?;
    year.story.working("the training provider pushes hours");
    year.hours().await?;
    year.story
        .working(format!("{teachers} teachers upload evidence"));
    year.evidence().await?;
    year.story.working("schools grade every submission");
    year.grading().await?;
    year.story
        .working("the county freezes, draws and re-grades its spot check");
    year.county_review().await?;
    match options.policy {
        Policy::Sixian => {
            year.story.working("the county certifies");
            year.certify().await?;
            year.story.working("issuing and verifying certificates");
            year.certificates().await?;
        }
        Policy::Ningxia => {
            year.story
                .working("the region audits online and visits classrooms");
            year.ningxia_audit().await?;
            year.story.working("issuing and verifying certificates");
            year.ningxia_certificates().await?;
        }
    }
    year.story.working("workbooks and the county summary");
    year.reports().await?;
    let total = year.story.elapsed();
    year.story.finish();
    year.story
        .say(format!("done in {:.1} s", total.as_secs_f64()));
    if let Some(out) = &options.out {
        std::fs::write(out.join("story.txt"), year.story.text())?;
        std::fs::write(
            out.join("timings.json"),
            serde_json::to_string_pretty(&year.story.timings_json())?,
        )?;
    }
    Ok(year.outcome)
}

/// Arguments of `tica demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Teachers in the generated county.
    #[arg(long, default_value_t = 3000)]
    teachers: usize,
    /// Everything random (people, picks, grades, the public seed) follows from it.
    #[arg(long, default_value_t = 2022)]
    seed: u64,
    /// Which county and policy: 泗县 (Anhui) or 永宁县 (Ningxia).
    #[arg(long, value_enum, default_value_t = Policy::Sixian)]
    policy: Policy,
    /// Where the outputs (and the suite's data) go; must be empty or absent unless --force.
    #[arg(long, default_value = "./tica-demo")]
    out: PathBuf,
    /// Delete --out first.
    #[arg(long)]
    force: bool,
    /// Calls in flight at once.
    #[arg(long, default_value_t = 12)]
    concurrency: usize,
    /// Which certificates to download into the outputs.
    #[arg(long, value_enum, default_value_t = Certificates::Sample)]
    certificates: Certificates,
    /// `postgres://…` to run the suite on PostgreSQL instead of SQLite files under --out.
    #[arg(long, env = "TICA_DATABASE_URL")]
    database_url: Option<String>,
    /// gRPC address of the embedded suite (another free port if taken).
    #[arg(long, default_value = "127.0.0.1:50051")]
    grpc: SocketAddr,
    /// HTTP address of the embedded suite: the verification pages (another free port if taken).
    #[arg(long, default_value = "127.0.0.1:8080")]
    http: SocketAddr,
    /// After the story, keep serving until Ctrl-C so the verification URLs open.
    #[arg(long)]
    keep_serving: bool,
}

/// `tica demo`.
pub async fn run(args: DemoArgs) -> anyhow::Result<()> {
    prepare_out(&args.out, args.force)?;
    let data_dir = args.out.join("data");
    let grpc = free_or_any(args.grpc);
    let http = free_or_any(args.http);
    let serve = ServeArgs {
        grpc,
        http,
        // The demo's suite is not for scraping; a free port keeps it off a running `tica serve`'s.
        admin: "127.0.0.1:0".parse()?,
        data_dir: data_dir.clone(),
        database_url: args.database_url.clone(),
        token_public_keys: None,
        database_schema_prefix: args.database_url.as_ref().map(|_| "demo".to_owned()),
        evidence_store: None,
        verify_base_url: None,
        cert_keys: None,
        cert_active_key: None,
        certificate_public: Default::default(),
        imports: Default::default(),
        edge: tica_server::edge::EdgeConfig::default(),
        tls: Default::default(),
    };
    let suite = start(&serve).await.context("starting the suite")?;
    let channel = Channel::from_shared(format!("http://{}", suite.grpc_addr))?
        .connect()
        .await
        .context("connecting to the suite")?;
    let signer = TokenSigner::new(&crate::token::dev_key(&data_dir)?);
    let target = Target::new(channel, signer, format!("http://{}", suite.http_addr));
    let options = Options {
        teachers: args.teachers,
        seed: args.seed,
        policy: args.policy,
        concurrency: args.concurrency,
        out: Some(args.out.clone()),
        certificates: args.certificates,
        quiet: false,
    };
    let outcome = run_year(&target, &options).await;
    let outcome = match outcome {
        Ok(outcome) => outcome,
        Err(error) => {
            let _ = suite.shutdown().await;
            return Err(error);
        }
    };
    let size = dir_size(&data_dir);
    println!(
        "outputs in {} (story.txt, timings.json, reports/, sampling/, certificates/, verification-urls.txt; data {:.0} MB)",
        args.out.display(),
        size as f64 / 1e6
    );
    let failed: Vec<_> = outcome
        .verifications
        .iter()
        .filter(|v| v.verdict != v.expected)
        .collect();
    if args.keep_serving {
        println!(
            "serving: gRPC {}, pages {} — Ctrl-C to stop",
            suite.grpc_addr, suite.verify_base_url
        );
        tica_server::shutdown_signal().await;
    } else {
        println!(
            "browse later: tica serve --data-dir {} --http {} then open the URLs in verification-urls.txt",
            data_dir.display(),
            suite.http_addr
        );
    }
    suite.shutdown().await?;
    if !failed.is_empty()
        || !outcome.redraw_matches
        || !outcome.revoked_page_says_revoked
        || !outcome.forged_page_says_not_genuine
    {
        bail!("the year did not end as expected: {failed:?}");
    }
    Ok(())
}

/// Refuses a non-empty output directory unless `force` (which empties it): the demo's codes are
/// fixed, so a second year in the same data would collide.
fn prepare_out(out: &Path, force: bool) -> anyhow::Result<()> {
    let non_empty = std::fs::read_dir(out)
        .map(|mut d| d.next().is_some())
        .unwrap_or(false);
    if non_empty {
        if !force {
            bail!(
                "{} is not empty (a previous demo?); pass --force to replace it, or --out elsewhere",
                out.display()
            );
        }
        std::fs::remove_dir_all(out).with_context(|| format!("removing {}", out.display()))?;
    }
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))
}

/// `addr` if it can be bound now, else the same host with port 0 (any free port).
fn free_or_any(addr: SocketAddr) -> SocketAddr {
    match std::net::TcpListener::bind(addr) {
        Ok(_) => addr,
        Err(_) => SocketAddr::new(addr.ip(), 0),
    }
}

fn dir_size(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .map(|e| match e.metadata() {
                    Ok(m) if m.is_dir() => dir_size(&e.path()),
                    Ok(m) => m.len(),
                    Err(_) => 0,
                })
                .sum()
        })
        .unwrap_or(0)
}
