//! `tica report`: the reports an office hands upward, composed from the services' figures
//! (docs/design/issue7-demo-and-reports.md §4–5).
//!
//! - `tica report summary --county 341324 --year 2022 --out 泗县-2022-县级总结.pdf`: the county
//!   summary PDF. The client composes it (§5.3: no service calls another for it) from
//!   assessment (`GetBatch`, `GetPolicy`, `ListProgress`, `ListMicroCompetencyProgress`),
//!   sampling (`ListUnitAgreements`, `ListReviewRounds`), certificate (`ListCertificates`) and
//!   roster (`GetJurisdiction`), then renders it with [`tica_pdf::report`].
//! - `tica report workbook --unit jurisdictions/341324 --level school --year 2022 --out F.xlsx`:
//!   the progress workbook as the assessment service exports it (`ExportProgress`).
//!
//! Every call needs an office token (county, city or province office whose tree holds the
//! county): `ListUnitAgreements` admits offices only.
//!
//! The gathering ([`county_summary`]) and the mapping ([`compose_summary`], pure) are apart,
//! so the mapping is tested with hand-built responses.

use std::collections::HashMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use tica_domain::names::JurisdictionName;

use anyhow::{Context, anyhow, bail};
use clap::{Args, Subcommand, ValueEnum};
use tica_pdf::report::{
    AgreementRow, CodeRow, CountySummary, DrawNote, RoundFigures, RoundOutcome, SchoolRow, Totals,
};
use tica_proto::tica::assessment::v1 as assessment;
use tica_proto::tica::certificate::v1 as certificate;
use tica_proto::tica::common::v1 as common;
use tica_proto::tica::roster::v1 as roster;
use tica_proto::tica::sampling::v1 as sampling;
use tonic::transport::Channel;

use crate::cli::Connection;

/// The agreement threshold when neither the batch's pinned policy nor the agreements give one
/// (the presets' 80/100).
pub const DEFAULT_THRESHOLD_PERMILLE: i32 = 800;

/// Rows asked for per page of the list calls.
const PAGE_SIZE: i32 = 1000;

/// `tica report …`
#[derive(Debug, Subcommand)]
pub enum ReportCommand {
    /// The county summary PDF: key figures, popularity of the micro-competencies, pass rates
    /// and review agreement per school, and the review draw.
    #[command(after_help = "Example (the county office):
  tica report summary --county 341324 --year 2022 --out 泗县-2022-县级总结.pdf")]
    Summary(SummaryArgs),
    /// A progress workbook (XLSX, or CSV) as the assessment service exports it.
    #[command(
        after_help = "Example (a county office's workbook by school, with the micro-competency sheets):
  tica report workbook --unit jurisdictions/341324 --level school --year 2022 --micro-competencies --out 泗县-2022-进度.xlsx"
    )]
    Workbook(WorkbookArgs),
}

/// Arguments of `tica report summary`.
#[derive(Debug, Args)]
pub struct SummaryArgs {
    /// The county's division code, e.g. 341324 (or `jurisdictions/341324`).
    #[arg(long)]
    pub county: String,
    /// The batch year, e.g. 2022.
    #[arg(long)]
    pub year: i32,
    /// The PDF to write, e.g. 泗县-2022-县级总结.pdf.
    #[arg(long)]
    pub out: PathBuf,
    #[command(flatten)]
    pub connection: Connection,
}

/// Arguments of `tica report workbook`.
#[derive(Debug, Args)]
pub struct WorkbookArgs {
    /// `jurisdictions/{code}` whose units are listed (a bare code is read as a jurisdiction).
    #[arg(long)]
    pub unit: String,
    /// One row per unit of this level inside `--unit`.
    #[arg(long, value_enum, default_value_t = Level::School)]
    pub level: Level,
    /// The batch year; 0 for every year.
    #[arg(long)]
    pub year: i32,
    /// The file to write.
    #[arg(long)]
    pub out: PathBuf,
    /// Add the sheets 微能力 (per code) and 环境×维度 (XLSX only).
    #[arg(long)]
    pub micro_competencies: bool,
    /// Add one sheet per level from `--level` down to schools (XLSX only).
    #[arg(long)]
    pub lower_levels: bool,
    /// xlsx or csv; by default from the extension of `--out` (xlsx unless it ends in .csv).
    #[arg(long, value_enum)]
    pub format: Option<Format>,
    #[command(flatten)]
    pub connection: Connection,
}

/// The rows' level in a workbook.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Level {
    /// One row per school.
    School,
    /// One row per county or district.
    County,
    /// One row per city.
    City,
    /// One row per province-level unit.
    Province,
}

impl From<Level> for assessment::ProgressLevel {
    fn from(level: Level) -> Self {
        match level {
            Level::School => assessment::ProgressLevel::School,
            Level::County => assessment::ProgressLevel::County,
            Level::City => assessment::ProgressLevel::City,
            Level::Province => assessment::ProgressLevel::Province,
        }
    }
}

/// A workbook's file format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Office Open XML workbook.
    Xlsx,
    /// Comma-separated values (UTF-8 with a byte-order mark), the first sheet only.
    Csv,
}

impl Format {
    /// `--format`, else the extension of `out` (`.csv` is CSV, anything else XLSX).
    fn resolve(format: Option<Format>, out: &Path) -> Format {
        format.unwrap_or_else(|| {
            let csv = out
                .extension()
                .and_then(|e| e.to_str())
                .is_some_and(|e| e.eq_ignore_ascii_case("csv"));
            if csv { Format::Csv } else { Format::Xlsx }
        })
    }
}

impl From<Format> for common::FileFormat {
    fn from(format: Format) -> Self {
        match format {
            Format::Xlsx => common::FileFormat::Xlsx,
            Format::Csv => common::FileFormat::Csv,
        }
    }
}

/// Runs a `tica report` command.
pub async fn run(command: ReportCommand) -> anyhow::Result<()> {
    match command {
        ReportCommand::Summary(args) => {
            let token = args.connection.required_token()?;
            let county = bare_county(&args.county)?;
            let channel = args.connection.channel().await?;
            let summary = county_summary(channel, token, &county, args.year).await?;
            let bytes = write_summary(&summary, &args.out)?;
            let t = &summary.totals;
            println!(
                "{} {}年 县级总结: {} schools, {} participants, {} drawn schools ({} sent back), {} certificates",
                summary.county_name,
                summary.year,
                summary.schools.len(),
                t.participants,
                t.drawn_schools,
                t.sent_back_schools,
                t.certificates,
            );
            println!("wrote {} ({bytes} bytes)", args.out.display());
            Ok(())
        }
        ReportCommand::Workbook(args) => {
            let format = Format::resolve(args.format, &args.out);
            if format == Format::Csv && (args.micro_competencies || args.lower_levels) {
                bail!(
                    "--micro-competencies and --lower-levels add sheets, which only a workbook has: use --format xlsx (or an .xlsx file)"
                );
            }
            let token = args.connection.required_token()?;
            let channel = args.connection.channel().await?;
            let request = assessment::ExportProgressRequest {
                parent: jurisdiction_name(&args.unit),
                level: assessment::ProgressLevel::from(args.level) as i32,
                year: args.year,
                format: common::FileFormat::from(format) as i32,
                include_micro_competencies: args.micro_competencies,
                include_lower_levels: args.lower_levels,
            };
            let bytes = write_progress_file(channel, token, request, &args.out).await?;
            println!("wrote {} ({bytes} bytes)", args.out.display());
            Ok(())
        }
    }
}

type AssessmentClient = tica_client::Assessment;

/// `token`, refused if it cannot be a JWT (rather than panicking) or is missing.
fn bearer(token: &str) -> anyhow::Result<&str> {
    if token.is_empty() {
        bail!("no token: pass an office token (county, city or province office)");
    }
    if !token.is_ascii() || token.contains(char::is_whitespace) {
        bail!("the token is not a JWT (non-ASCII characters or spaces)");
    }
    Ok(token)
}

/// "the sampling service refused ListUnitAgreements: PERMISSION_DENIED: …".
fn refused(service: &str, method: &str, status: &tonic::Status) -> anyhow::Error {
    anyhow!(
        "the {service} service refused {method}: {}: {}",
        tica_server::http_errors::code_name(status.code()),
        status.message()
    )
}

/// "341324" from "341324" or "jurisdictions/341324".
fn bare_county(county: &str) -> anyhow::Result<String> {
    let code = county.trim();
    let code = JurisdictionName::id_of(code).unwrap_or(code);
    if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
        bail!("--county must be a 6-digit division code such as 341324 (got {county:?})");
    }
    Ok(code.to_owned())
}

/// `jurisdictions/{code}` for a bare code; a qualified name as given.
fn jurisdiction_name(unit: &str) -> String {
    let unit = unit.trim();
    if unit.is_empty() || unit.contains('/') {
        unit.to_owned()
    } else {
        format!("jurisdictions/{unit}")
    }
}

pub use tica_client::{Paged, all_pages};

/// What the services answered about a county's year: the input of [`compose_summary`].
#[derive(Debug, Clone, Default)]
pub struct CountyFigures {
    /// The county's name (roster), e.g. "泗县".
    pub county_name: String,
    /// The year.
    pub year: i32,
    /// The policy as printed (see [`policy_label`]).
    pub policy_label: String,
    /// The date printed as the figures' date, "YYYY年M月D日".
    pub as_of: String,
    /// The county's batch of the year (its pinned rules give the agreement threshold).
    pub batch: assessment::Batch,
    /// `ListProgress(parent county, level SCHOOL, year)`, every page.
    pub progress: Vec<assessment::ListProgressResponse>,
    /// `ListMicroCompetencyProgress(parent county, year, batch)`, every page.
    pub micro_competencies: Vec<assessment::ListMicroCompetencyProgressResponse>,
    /// `ListUnitAgreements(parent county, COUNTY_REVIEW, ONLINE_REGRADE, batch, drawn only)`,
    /// every page.
    pub agreements: Vec<sampling::ListUnitAgreementsResponse>,
    /// `ListReviewRounds(parent county, batch, COUNTY_REVIEW)`, every page (any order).
    pub rounds: Vec<sampling::ReviewRound>,
    /// The batch's certificates in force (`ListCertificates(parent batch, ACTIVE).total_size`:
    /// issued and not revoked).
    pub certificates: i64,
}

/// Gathers a county's summary for `year` from the assessment and sampling services.
///
/// `county` is a bare division code ("341324"); `token` an office token allowed to read it.
///
/// Calls, all over `channel` with `token` (paged calls followed to the end):
/// assessment `GetBatch(batches/{county}-{year})`, `GetPolicy` (the nearest pinned policy),
/// `ListProgress(SCHOOL)`, `ListMicroCompetencyProgress`; sampling `ListUnitAgreements
/// (COUNTY_REVIEW, drawn only)`, `ListReviewRounds(COUNTY_REVIEW)`; certificate
/// `ListCertificates(parent batch, ACTIVE)` (its `total_size`); roster `GetJurisdiction`.
pub async fn county_summary(
    channel: Channel,
    token: &str,
    county: &str,
    year: i32,
) -> anyhow::Result<tica_pdf::report::CountySummary> {
    let county = bare_county(county)?;
    let figures = gather(channel, token, &county, year).await?;
    Ok(compose_summary(&figures))
}

/// Calls the services for [`county_summary`].
async fn gather(
    channel: Channel,
    token: &str,
    county: &str,
    year: i32,
) -> anyhow::Result<CountyFigures> {
    let token = bearer(token)?;
    let assessment = tica_client::assessment(channel.clone(), token);
    let sampling = tica_client::sampling(channel.clone(), token);
    let certificates = tica_client::certificate(channel.clone(), token);
    let mut roster = tica_client::roster(channel, token);
    let parent = format!("jurisdictions/{county}");

    let batch = county_batch(&assessment, county, year).await?;

    let county_name = async {
        let j = roster
            .get_jurisdiction(roster::GetJurisdictionRequest {
                name: parent.clone(),
            })
            .await
            .map_err(|s| refused("roster", "GetJurisdiction", &s))?
            .into_inner();
        anyhow::Ok(if j.display_name.is_empty() {
            county.to_owned()
        } else {
            j.display_name
        })
    };
    let label = async {
        let Some(version) = batch.policy_versions.first() else {
            return anyhow::Ok(batch.display_name.clone());
        };
        let policy = version.split("/versions/").next().unwrap_or(version);
        let found = assessment
            .clone()
            .get_policy(assessment::GetPolicyRequest {
                name: policy.to_owned(),
            })
            .await
            .map_err(|s| refused("assessment", "GetPolicy", &s))?
            .into_inner();
        Ok(policy_label(&found.display_name, version))
    };
    let progress = all_pages("ListProgress", |page_token| {
        let mut client = assessment.clone();
        let request = assessment::ListProgressRequest {
            parent: parent.clone(),
            level: assessment::ProgressLevel::School as i32,
            year,
            page_size: PAGE_SIZE,
            page_token,
        };
        async move {
            client
                .list_progress(request)
                .await
                .map(tonic::Response::into_inner)
                .map_err(|s| refused("assessment", "ListProgress", &s))
        }
    });
    let micro_competencies = all_pages("ListMicroCompetencyProgress", |page_token| {
        let mut client = assessment.clone();
        let request = assessment::ListMicroCompetencyProgressRequest {
            parent: parent.clone(),
            year,
            batch: batch.name.clone(),
            page_size: PAGE_SIZE,
            page_token,
        };
        async move {
            client
                .list_micro_competency_progress(request)
                .await
                .map(tonic::Response::into_inner)
                .map_err(|s| refused("assessment", "ListMicroCompetencyProgress", &s))
        }
    });
    let agreements = all_pages("ListUnitAgreements", |page_token| {
        let mut client = sampling.clone();
        let request = sampling::ListUnitAgreementsRequest {
            parent: parent.clone(),
            level: sampling::RoundLevel::CountyReview as i32,
            kind: sampling::RoundKind::OnlineRegrade as i32,
            batch: batch.name.clone(),
            year,
            drawn_only: true,
            page_size: PAGE_SIZE,
            page_token,
        };
        async move {
            client
                .list_unit_agreements(request)
                .await
                .map(tonic::Response::into_inner)
                .map_err(|s| refused("sampling", "ListUnitAgreements", &s))
        }
    });
    let rounds = all_pages("ListReviewRounds", |page_token| {
        let mut client = sampling.clone();
        let request = sampling::ListReviewRoundsRequest {
            parent: parent.clone(),
            page_size: PAGE_SIZE,
            page_token,
            batch: batch.name.clone(),
            level: sampling::RoundLevel::CountyReview as i32,
            kind: sampling::RoundKind::OnlineRegrade as i32,
            state: sampling::RoundState::Unspecified as i32,
        };
        async move {
            client
                .list_review_rounds(request)
                .await
                .map(tonic::Response::into_inner)
                .map_err(|s| refused("sampling", "ListReviewRounds", &s))
        }
    });
    let issued = async {
        let page = certificates
            .clone()
            .list_certificates(certificate::ListCertificatesRequest {
                parent: batch.name.clone(),
                page_size: 1,
                // In force: a revoked certificate no longer counts.
                status: certificate::CertificateStatus::Active as i32,
                ..Default::default()
            })
            .await
            .map_err(|s| refused("certificate", "ListCertificates", &s))?
            .into_inner();
        anyhow::Ok(page.total_size)
    };

    let (county_name, policy_label, progress, micro_competencies, agreements, rounds, issued) = tokio::try_join!(
        county_name,
        label,
        progress,
        micro_competencies,
        agreements,
        rounds,
        issued
    )?;
    Ok(CountyFigures {
        county_name,
        year,
        policy_label,
        as_of: china_date(unix_now()),
        batch,
        progress,
        micro_competencies,
        agreements,
        rounds: rounds.into_iter().flat_map(|p| p.review_rounds).collect(),
        certificates: issued,
    })
}

/// The county's batch of `year`: `batches/{county}-{year}` (the name the service assigns), else
/// the one `ListBatches` finds for the county and year.
async fn county_batch(
    client: &AssessmentClient,
    county: &str,
    year: i32,
) -> anyhow::Result<assessment::Batch> {
    let name = format!("batches/{county}-{year}");
    match client
        .clone()
        .get_batch(assessment::GetBatchRequest { name: name.clone() })
        .await
    {
        Ok(batch) => return Ok(batch.into_inner()),
        Err(s) if s.code() == tonic::Code::NotFound => {}
        Err(s) => return Err(refused("assessment", "GetBatch", &s)),
    }
    let parent = format!("jurisdictions/{county}");
    let pages = all_pages("ListBatches", |page_token| {
        let mut client = client.clone();
        let request = assessment::ListBatchesRequest {
            parent: parent.clone(),
            page_size: PAGE_SIZE,
            page_token,
            year,
            state: assessment::BatchState::Unspecified as i32,
        };
        async move {
            client
                .list_batches(request)
                .await
                .map(tonic::Response::into_inner)
                .map_err(|s| refused("assessment", "ListBatches", &s))
        }
    })
    .await?;
    pages
        .into_iter()
        .flat_map(|p| p.batches)
        .find(|b| b.county == parent && b.year == year)
        .ok_or_else(|| {
            anyhow!(
                "county {county} has no batch for {year} ({name} does not exist): create and open it first (CreateBatch, OpenBatch)"
            )
        })
}

/// "安徽省宿州市泗县 2022年方案 · 第1版": the policy as an office names it, never an API name
/// (issue 21). A preset's name ends with the year of the document it transcribes, "(2020)",
/// which under a 2022 title read as a wrong year: it is printed as the plan's year. The version
/// the batch pinned, `policies/{code}/versions/{n}`, is printed as its number.
pub fn policy_label(display_name: &str, version: &str) -> String {
    let name = display_name.trim();
    let name = match name.strip_suffix(')').and_then(|n| n.rsplit_once(" (")) {
        Some((n, year)) if year.len() == 4 && year.bytes().all(|b| b.is_ascii_digit()) => {
            format!("{n} {year}年方案")
        }
        _ => name.to_owned(),
    };
    let version = version
        .trim()
        .rsplit_once("/versions/")
        .filter(|(_, n)| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
        .map(|(_, n)| format!("第{n}版"));
    match (name.is_empty(), version) {
        (true, Some(v)) => v,
        (false, Some(v)) => format!("{name} · {v}"),
        (_, None) => name,
    }
}

/// Maps what the services answered to the summary the PDF shows (pure).
///
/// - Totals come from `ListProgress`'s `total` (the county as a whole; the school rows summed
///   when it is missing); certificates as given.
/// - One [`SchoolRow`] per school with participants, named from its progress row (its code
///   when the roster gave no name), graded 优秀/合格/不合格 when the policy grades schools.
/// - One [`CodeRow`] per micro-competency in catalogue order, environment and dimension in
///   Chinese.
/// - One [`AgreementRow`] per drawn school with the rounds that drew it, oldest first; its
///   totals (compared, agreeing, sent back) over every round.
/// - The draw: the first drawn round of the county review's chain (no `extends`), whose drawn
///   schools and teachers are the totals'.
/// - The threshold: the batch's pinned `sampling.agreement_threshold`, else the agreements',
///   else [`DEFAULT_THRESHOLD_PERMILLE`].
pub fn compose_summary(f: &CountyFigures) -> CountySummary {
    let school_rows: Vec<&assessment::ProgressRow> =
        f.progress.iter().flat_map(|p| &p.rows).collect();
    let names: HashMap<&str, &str> = school_rows
        .iter()
        .filter(|r| !r.display_name.is_empty())
        .map(|r| (r.unit.as_str(), r.display_name.as_str()))
        .collect();
    let name_of = |unit: &str| -> String {
        names
            .get(unit)
            .map(|n| (*n).to_owned())
            .unwrap_or_else(|| unit_code(unit).to_owned())
    };

    let schools: Vec<SchoolRow> = school_rows
        .iter()
        .filter(|r| r.participants > 0)
        .map(|r| SchoolRow {
            code: unit_code(&r.unit).to_owned(),
            name: name_of(&r.unit),
            participants: r.participants,
            graded: r.graded,
            passed: r.passed,
            excellent: r.excellent,
            grade_label: grade_label(r.grade()).to_owned(),
        })
        .collect();

    let codes: Vec<CodeRow> = f
        .micro_competencies
        .iter()
        .flat_map(|p| &p.micro_competencies)
        .map(|m| CodeRow {
            code: m.code.clone(),
            name: m.display_name.clone(),
            environment: environment_label(m.environment()).to_owned(),
            dimension: dimension_label(m.dimension()).to_owned(),
            selected: m.selected,
            passed: m.passed,
        })
        .collect();

    let units: Vec<&sampling::UnitAgreement> = f
        .agreements
        .iter()
        .flat_map(|p| &p.unit_agreements)
        .collect();
    let agreement: Vec<AgreementRow> = units
        .iter()
        .filter_map(|u| {
            let rounds: Vec<RoundFigures> = u
                .rounds
                .iter()
                .filter(|r| drew_the_unit(r))
                .map(|r| RoundFigures {
                    compared: r.compared,
                    agreements: r.agreements,
                    outcome: round_outcome(r.outcome()),
                })
                .collect();
            (!rounds.is_empty()).then(|| AgreementRow {
                code: unit_code(&u.unit).to_owned(),
                name: name_of(&u.unit),
                rounds,
            })
        })
        .collect();

    let first = first_drawn_round(&f.rounds);
    let draw = first.map(|r| DrawNote {
        seed: r.seed.clone(),
        seed_note: r.seed_note.clone(),
        population_sha256: r.population_sha256.clone(),
        round: r.name.clone(),
    });

    let total = f.progress.iter().find_map(|p| p.total.as_ref());
    let sum = |field: fn(&assessment::ProgressRow) -> i64| -> i64 {
        match total {
            Some(t) => field(t),
            None => school_rows.iter().map(|r| field(r)).sum(),
        }
    };
    let totals = Totals {
        participants: sum(|r| r.participants),
        selected: sum(|r| r.selected),
        hours_met: sum(|r| r.hours_completed),
        submitted: sum(|r| r.submitted),
        graded: sum(|r| r.graded),
        passed: sum(|r| r.passed),
        excellent: sum(|r| r.excellent),
        certificates: f.certificates,
        drawn_schools: first.map_or(0, |r| r.schools_drawn),
        drawn_teachers: first.map_or(0, |r| r.teachers_drawn),
        sent_back_schools: units.iter().filter(|u| u.sent_back > 0).count() as i64,
        compared: units.iter().map(|u| u.pooled_compared).sum(),
        agreements: units.iter().map(|u| u.pooled_agreements).sum(),
    };

    let threshold_permille = f
        .batch
        .effective_rules
        .as_ref()
        .and_then(|r| r.sampling.as_ref())
        .and_then(|s| s.agreement_threshold.as_ref())
        .and_then(permille)
        .or_else(|| {
            units
                .iter()
                .find_map(|u| u.threshold.as_ref().and_then(permille))
        })
        .unwrap_or(DEFAULT_THRESHOLD_PERMILLE);

    CountySummary {
        county_name: f.county_name.clone(),
        year: f.year,
        policy_label: f.policy_label.clone(),
        as_of: f.as_of.clone(),
        totals,
        schools,
        codes,
        agreement,
        threshold_permille,
        draw,
    }
}

/// "341324001" from "schools/341324001"; the name itself when it has no collection.
fn unit_code(unit: &str) -> &str {
    unit.rsplit_once('/').map_or(unit, |(_, code)| code)
}

/// A round that drew the unit: not "passed, nothing drawn", and not an undecided round in
/// which nothing of the unit was compared or is pending.
fn drew_the_unit(r: &sampling::RoundAgreement) -> bool {
    match r.outcome() {
        sampling::UnitOutcome::PassedNotDrawn => false,
        sampling::UnitOutcome::Unspecified => r.compared > 0 || r.pending > 0,
        sampling::UnitOutcome::Passed | sampling::UnitOutcome::SentBack => true,
    }
}

fn round_outcome(outcome: sampling::UnitOutcome) -> RoundOutcome {
    match outcome {
        sampling::UnitOutcome::Unspecified => RoundOutcome::Undecided,
        sampling::UnitOutcome::Passed => RoundOutcome::Passed,
        sampling::UnitOutcome::SentBack => RoundOutcome::SentBack,
        sampling::UnitOutcome::PassedNotDrawn => RoundOutcome::PassedNotDrawn,
    }
}

/// The first round of the county review's chain that has been drawn: no `extends`, a seed, not
/// cancelled; the oldest when there are several chains.
fn first_drawn_round(rounds: &[sampling::ReviewRound]) -> Option<&sampling::ReviewRound> {
    rounds
        .iter()
        .filter(|r| {
            r.level() == sampling::RoundLevel::CountyReview
                && matches!(
                    r.kind(),
                    sampling::RoundKind::OnlineRegrade | sampling::RoundKind::Unspecified
                )
                && r.state() != sampling::RoundState::Cancelled
                && r.extends.is_empty()
                && !r.seed.is_empty()
        })
        .min_by(|a, b| {
            let key = |r: &sampling::ReviewRound| {
                (
                    r.create_time.as_ref().map(|t| (t.seconds, t.nanos)),
                    round_number(&r.name),
                    r.name.clone(),
                )
            };
            key(a).cmp(&key(b))
        })
}

/// The trailing number of `reviewRounds/341324-2022-county-2` (2), so that round 10 follows 9.
fn round_number(name: &str) -> u64 {
    name.rsplit('-')
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or(u64::MAX)
}

/// A ratio in ‰, rounded half up; None for a zero or negative denominator.
fn permille(ratio: &common::Ratio) -> Option<i32> {
    if ratio.denominator <= 0 || ratio.numerator < 0 {
        return None;
    }
    let value = (i128::from(ratio.numerator) * 2000 + i128::from(ratio.denominator))
        / (2 * i128::from(ratio.denominator));
    i32::try_from(value).ok()
}

fn grade_label(grade: common::Grade) -> &'static str {
    match grade {
        common::Grade::Unspecified => "",
        common::Grade::Fail => "不合格",
        common::Grade::Pass => "合格",
        common::Grade::Excellent => "优秀",
    }
}

fn environment_label(environment: assessment::Environment) -> &'static str {
    use tica_domain::micro_competency::Environment as E;
    match environment {
        assessment::Environment::Unspecified => "",
        assessment::Environment::Multimedia => E::Multimedia.label_zh(),
        assessment::Environment::Blended => E::Blended.label_zh(),
        assessment::Environment::Smart => E::Smart.label_zh(),
    }
}

fn dimension_label(dimension: assessment::Dimension) -> &'static str {
    use tica_domain::micro_competency::Dimension as D;
    match dimension {
        assessment::Dimension::Unspecified => "",
        assessment::Dimension::LearningAnalysis => D::LearningAnalysis.label_zh(),
        assessment::Dimension::InstructionalDesign => D::InstructionalDesign.label_zh(),
        assessment::Dimension::LearningGuidance => D::LearningGuidance.label_zh(),
        assessment::Dimension::AcademicAssessment => D::AcademicAssessment.label_zh(),
    }
}

/// Seconds since the Unix epoch, now.
fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// The date in China (UTC+8) at `unix_seconds`, as "2022年12月30日".
pub fn china_date(unix_seconds: i64) -> String {
    let days = (unix_seconds + 8 * 3600).div_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!("{y}年{m}月{d}日")
}

/// (year, month, day) of the proleptic Gregorian calendar for days since 1970-01-01
/// (H. Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// Renders and writes the summary; returns the PDF's byte count.
pub fn write_summary(summary: &CountySummary, out: &Path) -> anyhow::Result<u64> {
    let pdf = tica_pdf::report::render_county_summary(summary).with_context(|| {
        format!(
            "rendering the county summary of {} {}",
            summary.county_name, summary.year
        )
    })?;
    let mut part = PartFile::create(out)?;
    part.write(&pdf)?;
    part.commit()?;
    Ok(pdf.len() as u64)
}

/// Gathers ExportProgress's chunks for `unit` (e.g. "jurisdictions/341324") at `level` and
/// writes the workbook (XLSX); returns the byte count.
#[allow(clippy::too_many_arguments)]
pub async fn write_workbook(
    channel: Channel,
    token: &str,
    unit: &str,
    level: assessment::ProgressLevel,
    year: i32,
    micro_competencies: bool,
    lower_levels: bool,
    out: &Path,
) -> anyhow::Result<u64> {
    let request = assessment::ExportProgressRequest {
        parent: jurisdiction_name(unit),
        level: level as i32,
        year,
        format: common::FileFormat::Xlsx as i32,
        include_micro_competencies: micro_competencies,
        include_lower_levels: lower_levels,
    };
    write_progress_file(channel, token, request, out).await
}

/// Streams `ExportProgress` into `out` (through a temporary file beside it, renamed into place
/// once complete); returns the byte count.
pub async fn write_progress_file(
    channel: Channel,
    token: &str,
    request: assessment::ExportProgressRequest,
    out: &Path,
) -> anyhow::Result<u64> {
    use assessment::export_progress_response::Payload;

    if request.level == assessment::ProgressLevel::Unspecified as i32 {
        bail!("ExportProgress needs a level (school, county, city or province)");
    }
    let mut client = tica_client::assessment(channel, bearer(token)?);
    let mut stream = client
        .export_progress(request)
        .await
        .map_err(|s| refused("assessment", "ExportProgress", &s))?
        .into_inner();
    let mut part = PartFile::create(out)?;
    let mut written = 0u64;
    while let Some(message) = stream
        .message()
        .await
        .map_err(|s| refused("assessment", "ExportProgress", &s))?
    {
        match message.payload {
            Some(Payload::Chunk(bytes)) => {
                part.write(&bytes)?;
                written += bytes.len() as u64;
            }
            Some(Payload::Metadata(_)) | None => {}
        }
    }
    if written == 0 {
        bail!("the assessment service's ExportProgress ended without sending the file");
    }
    part.commit()?;
    Ok(written)
}

/// A file written beside its target and renamed into place on [`PartFile::commit`]; removed
/// when dropped uncommitted, so a failure never leaves a partial report behind.
#[derive(Debug)]
struct PartFile {
    temp: PathBuf,
    target: PathBuf,
    file: Option<std::fs::File>,
}

impl PartFile {
    fn create(target: &Path) -> anyhow::Result<PartFile> {
        let name = target
            .file_name()
            .with_context(|| format!("{} is not a file name", target.display()))?;
        let dir = target
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let mut temp_name = std::ffi::OsString::from(".");
        temp_name.push(name);
        temp_name.push(format!(".part-{}", std::process::id()));
        let temp = dir.join(temp_name);
        let file =
            std::fs::File::create(&temp).with_context(|| format!("creating {}", temp.display()))?;
        Ok(PartFile {
            temp,
            target: target.to_owned(),
            file: Some(file),
        })
    }

    fn write(&mut self, bytes: &[u8]) -> anyhow::Result<()> {
        let file = self.file.as_mut().context("the file is already closed")?;
        file.write_all(bytes)
            .with_context(|| format!("writing {}", self.temp.display()))
    }

    fn commit(mut self) -> anyhow::Result<()> {
        let file = self.file.take().context("the file is already closed")?;
        let result = file
            .sync_all()
            .with_context(|| format!("writing {}", self.temp.display()))
            .and_then(|()| {
                drop(file);
                std::fs::rename(&self.temp, &self.target).with_context(|| {
                    format!(
                        "moving {} to {}",
                        self.temp.display(),
                        self.target.display()
                    )
                })
            });
        if result.is_err() {
            let _ = std::fs::remove_file(&self.temp);
        }
        result
    }
}

impl Drop for PartFile {
    fn drop(&mut self) {
        if self.file.take().is_some() {
            let _ = std::fs::remove_file(&self.temp);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;

    use clap::Parser;
    use tica_proto::prost_types::Timestamp;

    use super::*;

    fn school(code: &str, name: &str, participants: i64, passed: i64) -> assessment::ProgressRow {
        assessment::ProgressRow {
            unit: format!("schools/{code}"),
            display_name: name.to_owned(),
            level: assessment::ProgressLevel::School as i32,
            year: 2022,
            participants,
            selected: participants,
            hours_completed: participants,
            submitted: participants,
            graded: participants,
            passed,
            excellent: passed / 4,
            failed: participants - passed,
            ..Default::default()
        }
    }

    fn round(
        outcome: sampling::UnitOutcome,
        compared: i64,
        agreements: i64,
    ) -> sampling::RoundAgreement {
        sampling::RoundAgreement {
            compared,
            agreements,
            outcome: outcome as i32,
            ..Default::default()
        }
    }

    fn unit(code: &str, rounds: Vec<sampling::RoundAgreement>) -> sampling::UnitAgreement {
        let sent_back = rounds
            .iter()
            .filter(|r| r.outcome() == sampling::UnitOutcome::SentBack)
            .count() as i32;
        sampling::UnitAgreement {
            unit: format!("schools/{code}"),
            batch: "batches/341324-2022".into(),
            pooled_compared: rounds.iter().map(|r| r.compared).sum(),
            pooled_agreements: rounds.iter().map(|r| r.agreements).sum(),
            latest_outcome: rounds.last().map_or(0, |r| r.outcome),
            sent_back,
            rounds,
            threshold: Some(common::Ratio {
                numerator: 80,
                denominator: 100,
            }),
            ..Default::default()
        }
    }

    fn review_round(n: u32, extends: &str, seconds: i64) -> sampling::ReviewRound {
        sampling::ReviewRound {
            name: format!("reviewRounds/341324-2022-county-{n}"),
            level: sampling::RoundLevel::CountyReview as i32,
            kind: sampling::RoundKind::OnlineRegrade as i32,
            state: sampling::RoundState::Decided as i32,
            extends: extends.to_owned(),
            seed: "20221201-58213".into(),
            seed_note: "2022年12月1日 体彩排列5 开奖号码".into(),
            population_sha256: format!("{n:064}"),
            schools_drawn: if extends.is_empty() { 3 } else { 1 },
            teachers_drawn: if extends.is_empty() { 18 } else { 6 },
            create_time: Some(Timestamp { seconds, nanos: 0 }),
            ..Default::default()
        }
    }

    /// Sixian's year in miniature: three schools, two drawn, one of them sent back once and
    /// passed on its second round; a fourth school with nobody taking part.
    fn sixian() -> CountyFigures {
        use sampling::UnitOutcome::{Passed, PassedNotDrawn, SentBack};
        CountyFigures {
            county_name: "泗县".into(),
            year: 2022,
            policy_label: policy_label("安徽省宿州市泗县 (2022)", "policies/341324/versions/1"),
            as_of: "2022年12月30日".into(),
            batch: assessment::Batch {
                name: "batches/341324-2022".into(),
                county: "jurisdictions/341324".into(),
                year: 2022,
                effective_rules: Some(assessment::PolicyRules {
                    sampling: Some(assessment::SamplingRule {
                        agreement_threshold: Some(common::Ratio {
                            numerator: 4,
                            denominator: 5,
                        }),
                        ..Default::default()
                    }),
                    ..Default::default()
                }),
                ..Default::default()
            },
            progress: vec![
                assessment::ListProgressResponse {
                    rows: vec![
                        school("341324001", "泗县第一中学", 40, 36),
                        school("341324002", "草沟镇中心小学", 20, 19),
                    ],
                    next_page_token: "p2".into(),
                    total_size: 4,
                    total: Some(assessment::ProgressRow {
                        unit: "jurisdictions/341324".into(),
                        participants: 70,
                        selected: 69,
                        hours_completed: 65,
                        submitted: 64,
                        graded: 70,
                        passed: 63,
                        excellent: 15,
                        ..Default::default()
                    }),
                },
                assessment::ListProgressResponse {
                    rows: vec![
                        assessment::ProgressRow {
                            grade: common::Grade::Excellent as i32,
                            ..school("341324003", "黄圩镇喆堃小学", 10, 8)
                        },
                        school("341324004", "墩集镇中心幼儿园", 0, 0),
                    ],
                    total_size: 4,
                    ..Default::default()
                },
            ],
            micro_competencies: vec![assessment::ListMicroCompetencyProgressResponse {
                micro_competencies: vec![
                    assessment::MicroCompetencyProgress {
                        code: "A1".into(),
                        display_name: "技术支持的学情分析".into(),
                        dimension: assessment::Dimension::LearningAnalysis as i32,
                        environment: assessment::Environment::Multimedia as i32,
                        selected: 31,
                        passed: 29,
                        ..Default::default()
                    },
                    assessment::MicroCompetencyProgress {
                        code: "C7".into(),
                        display_name: "基于数据的个别化指导".into(),
                        dimension: assessment::Dimension::AcademicAssessment as i32,
                        environment: assessment::Environment::Smart as i32,
                        selected: 2,
                        passed: 1,
                        ..Default::default()
                    },
                ],
                participants: 70,
                total_size: 2,
                ..Default::default()
            }],
            agreements: vec![
                sampling::ListUnitAgreementsResponse {
                    unit_agreements: vec![unit(
                        "341324001",
                        vec![
                            round(Passed, 12, 11),
                            // Not drawn again when round 2 re-drew the sent-back school.
                            round(PassedNotDrawn, 0, 0),
                        ],
                    )],
                    next_page_token: "a2".into(),
                    total_size: 2,
                    ..Default::default()
                },
                sampling::ListUnitAgreementsResponse {
                    unit_agreements: vec![unit(
                        "341324003",
                        vec![round(SentBack, 10, 6), round(Passed, 10, 9)],
                    )],
                    total_size: 2,
                    ..Default::default()
                },
            ],
            rounds: vec![
                // Newest first, as ListReviewRounds answers.
                review_round(2, "reviewRounds/341324-2022-county-1", 2_000),
                review_round(1, "", 1_000),
            ],
            certificates: 150,
        }
    }

    #[test]
    fn a_school_sent_back_keeps_both_rounds_and_the_first_is_sent_back() {
        let summary = compose_summary(&sixian());
        let disputed = summary
            .agreement
            .iter()
            .find(|a| a.code == "341324003")
            .expect("the disputed school is in the agreement rows");
        assert_eq!(disputed.name, "黄圩镇喆堃小学");
        assert_eq!(
            disputed.rounds,
            vec![
                RoundFigures {
                    compared: 10,
                    agreements: 6,
                    outcome: RoundOutcome::SentBack
                },
                RoundFigures {
                    compared: 10,
                    agreements: 9,
                    outcome: RoundOutcome::Passed
                },
            ]
        );
        assert_eq!(summary.totals.sent_back_schools, 1);
    }

    #[test]
    fn a_round_that_did_not_draw_the_school_is_left_out() {
        let summary = compose_summary(&sixian());
        let first = &summary.agreement[0];
        assert_eq!(first.code, "341324001");
        assert_eq!(first.rounds.len(), 1, "round 2 did not draw it");
        assert_eq!(first.rounds[0].outcome, RoundOutcome::Passed);
    }

    #[test]
    fn totals_are_the_county_total_and_the_agreement_is_pooled_over_every_round() {
        let t = compose_summary(&sixian()).totals;
        assert_eq!(
            t,
            Totals {
                participants: 70,
                selected: 69,
                hours_met: 65,
                submitted: 64,
                graded: 70,
                passed: 63,
                excellent: 15,
                certificates: 150,
                drawn_schools: 3,
                drawn_teachers: 18,
                sent_back_schools: 1,
                compared: 12 + 10 + 10,
                agreements: 11 + 6 + 9,
            }
        );
        // The pass rate the PDF prints: 63 of 70 graded.
        assert_eq!(t.passed * 1000 / t.graded, 900);
    }

    #[test]
    fn without_a_county_total_the_schools_are_summed() {
        let mut figures = sixian();
        figures.progress[0].total = None;
        let t = compose_summary(&figures).totals;
        assert_eq!(t.participants, 70);
        assert_eq!(t.passed, 36 + 19 + 8);
        assert_eq!(t.graded, 70);
    }

    #[test]
    fn schools_on_every_page_are_named_and_graded_from_their_progress_rows() {
        let summary = compose_summary(&sixian());
        let names: Vec<&str> = summary.schools.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["泗县第一中学", "草沟镇中心小学", "黄圩镇喆堃小学"]);
        let graded: Vec<&str> = summary
            .schools
            .iter()
            .map(|s| s.grade_label.as_str())
            .collect();
        assert_eq!(
            graded,
            ["", "", "优秀"],
            "only the graded school has a label"
        );
        let first = &summary.schools[0];
        assert_eq!(
            (
                first.code.as_str(),
                first.participants,
                first.graded,
                first.passed,
                first.excellent
            ),
            ("341324001", 40, 40, 36, 9)
        );
    }

    #[test]
    fn a_school_the_roster_did_not_name_is_shown_by_its_code() {
        let mut figures = sixian();
        figures.progress[0].rows[0].display_name.clear();
        let summary = compose_summary(&figures);
        assert_eq!(summary.schools[0].name, "341324001");
        assert_eq!(summary.agreement[0].name, "341324001");
    }

    #[test]
    fn codes_carry_their_environment_and_dimension_in_chinese() {
        let summary = compose_summary(&sixian());
        assert_eq!(
            summary.codes,
            vec![
                CodeRow {
                    code: "A1".into(),
                    name: "技术支持的学情分析".into(),
                    environment: "多媒体教学环境".into(),
                    dimension: "学情分析".into(),
                    selected: 31,
                    passed: 29,
                },
                CodeRow {
                    code: "C7".into(),
                    name: "基于数据的个别化指导".into(),
                    environment: "智慧学习环境".into(),
                    dimension: "学业评价".into(),
                    selected: 2,
                    passed: 1,
                },
            ]
        );
    }

    #[test]
    fn the_draw_note_is_the_first_round_of_the_chain() {
        let summary = compose_summary(&sixian());
        assert_eq!(
            summary.draw,
            Some(DrawNote {
                seed: "20221201-58213".into(),
                seed_note: "2022年12月1日 体彩排列5 开奖号码".into(),
                population_sha256: format!("{:064}", 1),
                round: "reviewRounds/341324-2022-county-1".into(),
            })
        );
    }

    #[test]
    fn a_review_not_yet_drawn_has_no_draw_note_and_no_drawn_schools() {
        let mut figures = sixian();
        figures.rounds = vec![sampling::ReviewRound {
            seed: String::new(),
            state: sampling::RoundState::PopulationFrozen as i32,
            ..review_round(1, "", 1_000)
        }];
        figures.agreements.clear();
        let summary = compose_summary(&figures);
        assert_eq!(summary.draw, None);
        assert_eq!(summary.totals.drawn_schools, 0);
        assert_eq!(summary.totals.compared, 0);
        assert!(summary.agreement.is_empty());
    }

    #[test]
    fn the_threshold_is_the_pinned_policy_s_then_the_agreements_then_800() {
        let mut figures = sixian();
        figures.batch.effective_rules = Some(assessment::PolicyRules {
            sampling: Some(assessment::SamplingRule {
                agreement_threshold: Some(common::Ratio {
                    numerator: 9,
                    denominator: 10,
                }),
                ..Default::default()
            }),
            ..Default::default()
        });
        assert_eq!(compose_summary(&figures).threshold_permille, 900);
        figures.batch.effective_rules = None;
        assert_eq!(compose_summary(&figures).threshold_permille, 800);
        figures.agreements[0].unit_agreements[0].threshold = Some(common::Ratio {
            numerator: 2,
            denominator: 3,
        });
        assert_eq!(
            compose_summary(&figures).threshold_permille,
            667,
            "rounded half up"
        );
        figures.agreements.clear();
        assert_eq!(
            compose_summary(&figures).threshold_permille,
            DEFAULT_THRESHOLD_PERMILLE
        );
    }

    #[test]
    fn the_summary_carries_the_county_policy_and_date_as_given() {
        let summary = compose_summary(&sixian());
        assert_eq!(summary.county_name, "泗县");
        assert_eq!(summary.year, 2022);
        assert_eq!(summary.policy_label, "安徽省宿州市泗县 2022年方案 · 第1版");
        assert_eq!(summary.as_of, "2022年12月30日");
    }

    #[test]
    fn a_policy_label_does_without_a_missing_half() {
        assert_eq!(policy_label("", "policies/640000/versions/2"), "第2版");
        assert_eq!(
            policy_label("宁夏回族自治区 (2020)", ""),
            "宁夏回族自治区 2020年方案"
        );
    }

    #[test]
    fn a_policy_label_names_no_api_resource_and_no_year_but_the_plans() {
        // A 2022 summary of a county under Ningxia's 2020 plan: the year is the plan's.
        assert_eq!(
            policy_label("宁夏回族自治区 (2020)", "policies/640000/versions/3"),
            "宁夏回族自治区 2020年方案 · 第3版"
        );
        // An office's own policy name is printed as it is; an odd version is left out.
        assert_eq!(
            policy_label("永宁县细则", "policies/640121/versions/x"),
            "永宁县细则"
        );
        for label in [
            policy_label("安徽省宿州市泗县 (2022)", "policies/341324/versions/1"),
            policy_label("", "policies/640000/versions/2"),
        ] {
            assert!(!label.contains("policies/"), "{label}");
        }
    }

    #[tokio::test]
    async fn every_page_is_followed_until_the_token_is_empty() {
        let asked = RefCell::new(Vec::new());
        let pages = (all_pages("ListProgress", |token| {
            asked.borrow_mut().push(token.clone());
            async move {
                let next = match token.as_str() {
                    "" => "p2",
                    "p2" => "p3",
                    _ => "",
                };
                anyhow::Ok(assessment::ListProgressResponse {
                    next_page_token: next.into(),
                    total_size: 3,
                    ..Default::default()
                })
            }
        }))
        .await
        .expect("three pages");
        assert_eq!(pages.len(), 3);
        assert_eq!(*asked.borrow(), ["", "p2", "p3"]);
    }

    #[tokio::test]
    async fn a_page_token_given_twice_is_an_error_not_a_loop() {
        let error = (all_pages("ListUnitAgreements", |_| async {
            anyhow::Ok(sampling::ListUnitAgreementsResponse {
                next_page_token: "again".into(),
                ..Default::default()
            })
        }))
        .await
        .expect_err("the loop stops");
        assert!(
            error
                .to_string()
                .starts_with("ListUnitAgreements: the server gave the page token"),
            "{error}"
        );
    }

    #[tokio::test]
    async fn a_failing_page_stops_the_loop_with_its_error() {
        let error = (all_pages("ListReviewRounds", |token| async move {
            if token.is_empty() {
                anyhow::Ok(sampling::ListReviewRoundsResponse {
                    next_page_token: "r2".into(),
                    ..Default::default()
                })
            } else {
                Err(refused(
                    "sampling",
                    "ListReviewRounds",
                    &tonic::Status::permission_denied("jurisdictions/341324 is outside your tree"),
                ))
            }
        }))
        .await
        .expect_err("page 2 fails");
        assert_eq!(
            error.to_string(),
            "the sampling service refused ListReviewRounds: PERMISSION_DENIED: jurisdictions/341324 is outside your tree"
        );
    }

    #[test]
    fn refusals_name_the_service_the_call_and_the_code() {
        let error = refused(
            "assessment",
            "GetBatch",
            &tonic::Status::failed_precondition("not open"),
        );
        assert_eq!(
            error.to_string(),
            "the assessment service refused GetBatch: FAILED_PRECONDITION: not open"
        );
    }

    #[test]
    fn dates_are_printed_as_the_day_in_china() {
        // 2022-12-30 00:00 in Beijing is 2022-12-29 16:00 UTC.
        assert_eq!(china_date(1_672_329_600), "2022年12月30日");
        assert_eq!(china_date(1_672_329_599), "2022年12月29日");
        assert_eq!(china_date(0), "1970年1月1日");
        // A leap day.
        assert_eq!(china_date(1_709_136_000), "2024年2月29日");
    }

    #[test]
    fn counties_are_read_bare_or_qualified_and_anything_else_is_refused() {
        assert_eq!(bare_county("341324").unwrap(), "341324");
        assert_eq!(bare_county(" jurisdictions/341324 ").unwrap(), "341324");
        assert!(bare_county("泗县").is_err());
        assert!(bare_county("3413240").is_err());
        assert_eq!(jurisdiction_name("341324"), "jurisdictions/341324");
        assert_eq!(
            jurisdiction_name("jurisdictions/341300"),
            "jurisdictions/341300"
        );
    }

    #[test]
    fn tokens_that_cannot_be_sent_are_refused_before_any_call() {
        assert!(bearer("").is_err());
        assert!(bearer("a b").is_err());
        assert!(bearer("令牌").is_err());
        assert!(bearer("eyJhbGciOiJFZERTQSJ9.e30.sig").is_ok());
    }

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(subcommand)]
        command: ReportCommand,
    }

    fn parse(args: &[&str]) -> ReportCommand {
        Cli::try_parse_from(std::iter::once("report").chain(args.iter().copied()))
            .unwrap_or_else(|e| panic!("{args:?}: {e}"))
            .command
    }

    #[test]
    fn the_summary_command_reads_county_year_out_and_token() {
        let ReportCommand::Summary(args) = parse(&[
            "summary",
            "--county",
            "341324",
            "--year",
            "2022",
            "--out",
            "泗县-2022-县级总结.pdf",
            "--server",
            "http://127.0.0.1:50099",
            "--token",
            "t",
        ]) else {
            panic!("not the summary command");
        };
        assert_eq!(args.county, "341324");
        assert_eq!(args.year, 2022);
        assert_eq!(args.out, PathBuf::from("泗县-2022-县级总结.pdf"));
        assert_eq!(args.connection.server, "http://127.0.0.1:50099");
        assert_eq!(args.connection.token.as_deref(), Some("t"));
    }

    #[test]
    fn the_workbook_command_reads_its_flags_and_the_format_follows_the_file() {
        let ReportCommand::Workbook(args) = parse(&[
            "workbook",
            "--unit",
            "jurisdictions/341300",
            "--level",
            "county",
            "--year",
            "2022",
            "--out",
            "宿州市-2022.xlsx",
            "--micro-competencies",
            "--lower-levels",
        ]) else {
            panic!("not the workbook command");
        };
        assert_eq!(args.level, Level::County);
        assert!(args.micro_competencies && args.lower_levels);
        assert_eq!(Format::resolve(args.format, &args.out), Format::Xlsx);
        assert_eq!(Format::resolve(None, Path::new("泗县.CSV")), Format::Csv);
        assert_eq!(
            Format::resolve(Some(Format::Xlsx), Path::new("泗县.csv")),
            Format::Xlsx
        );
        assert_eq!(
            assessment::ProgressLevel::from(Level::City),
            assessment::ProgressLevel::City
        );
    }

    #[test]
    fn the_summary_is_written_whole_and_its_size_returned() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let out = dir.path().join("报告").join("泗县-2022-县级总结.pdf");
        let bytes = write_summary(&compose_summary(&sixian()), &out).expect("written");
        let written = std::fs::read(&out).expect("the PDF");
        assert_eq!(written.len() as u64, bytes);
        assert!(written.starts_with(b"%PDF-"));
        let leftovers: Vec<_> = std::fs::read_dir(out.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .filter(|n| n.to_string_lossy().contains(".part-"))
            .collect();
        assert!(leftovers.is_empty(), "{leftovers:?}");
    }

    #[test]
    fn an_abandoned_file_leaves_nothing_behind() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let out = dir.path().join("workbook.xlsx");
        {
            let mut part = PartFile::create(&out).expect("created");
            part.write(b"PK").expect("written");
        }
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }
}
