//! `tica soak`: a steady load on a running suite — the four service binaries apart, or `tica
//! serve` — for a set time, reporting every interval: calls answered per second and their 99th
//! percentile latency per kind (verifications, teachers' searches, hours pushes, gradings),
//! failed calls, and each service process's resident memory (`/proc/{pid}/status`).
//!
//! Setup, not measured: the demo's 泗县 year end to end (its certificates are what is verified
//! and searched), and 永宁县 up to grading with one teacher per school left ungraded (so no
//! school completes and its results stay open to re-grading; hours pushed there count towards
//! an open batch).
//!
//! With `--failover-after` the `--failover-command` (a PostgreSQL restart) runs mid-run. Every
//! call that fails is counted and retried — the same request, so retries must be idempotent —
//! until it succeeds; afterwards the run checks that no write was lost or applied twice: every
//! hours record acknowledged is stored, once, and nothing else under the soak's provider; every
//! submission graded holds the last grading acknowledged (each worker grades its own
//! submissions, one call at a time, each with a unique comment).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use clap::Args;
use tica_auth::{Role, TokenSigner};
use tica_proto::tica::assessment::v1 as pb;
use tica_proto::tica::certificate::v1 as cpb;
use tica_proto::tica::common::v1 as common;
use tonic::transport::{Channel, Endpoint};

use super::api::{Services, Target};
use super::model::{Model, Policy};
use super::year::Year;
use super::{Certificates, Options};

/// Arguments of `tica soak`.
#[derive(Debug, Args)]
pub struct SoakArgs {
    /// The roster service's gRPC URL.
    #[arg(long, default_value = "http://127.0.0.1:50051")]
    roster: String,
    /// The assessment service's gRPC URL.
    #[arg(long, default_value = "http://127.0.0.1:50051")]
    assessment: String,
    /// The sampling service's gRPC URL.
    #[arg(long, default_value = "http://127.0.0.1:50051")]
    sampling: String,
    /// The certificate service's gRPC URL.
    #[arg(long, default_value = "http://127.0.0.1:50051")]
    certificate: String,
    /// The certificate pages' base URL.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    http: String,
    /// Where the token signing key is (`keys/`), as for `tica token mint`; the services must
    /// trust its public half.
    #[arg(long, env = "TICA_DATA_DIR", default_value = "./data")]
    data_dir: PathBuf,
    /// Teachers in each of the two counties set up.
    #[arg(long, default_value_t = 60)]
    teachers: usize,
    /// Seconds of load.
    #[arg(long, default_value_t = 600)]
    duration: u64,
    /// Seconds between reports.
    #[arg(long, default_value_t = 10)]
    interval: u64,
    /// Calls in flight at once (workers).
    #[arg(long, default_value_t = 8)]
    concurrency: usize,
    /// Service processes to watch, `name=pid` (repeatable or comma-separated).
    #[arg(long, value_delimiter = ',')]
    pid: Vec<String>,
    /// Seconds into the load at which to run `--failover-command`.
    #[arg(long)]
    failover_after: Option<u64>,
    /// A shell command that restarts the database (e.g. `pg_ctl -D … restart`).
    #[arg(long)]
    failover_command: Option<String>,
    /// Hours records per push.
    #[arg(long, default_value_t = 5)]
    records_per_push: usize,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Kind {
    Verify,
    Search,
    Hours,
    Grading,
}

/// The courses one teacher takes in the soak (see `Worker::hours`).
const COURSES: u64 = 50;

const KINDS: [Kind; 4] = [Kind::Verify, Kind::Search, Kind::Hours, Kind::Grading];

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Verify => "verify",
            Kind::Search => "search",
            Kind::Hours => "hours",
            Kind::Grading => "grading",
        }
    }
}

/// What one interval saw of one kind.
#[derive(Default)]
struct Tally {
    latencies: Vec<Duration>,
    errors: u64,
    first_error: Option<String>,
}

#[derive(Default)]
struct Stats {
    interval: BTreeMap<Kind, Tally>,
    total: BTreeMap<Kind, Tally>,
    /// After the failover started: the first success of each kind.
    recovered: BTreeMap<Kind, Instant>,
    failover_started: Option<Instant>,
}

impl Stats {
    fn ok(&mut self, kind: Kind, took: Duration) {
        self.interval.entry(kind).or_default().latencies.push(took);
        self.total.entry(kind).or_default().latencies.push(took);
        if self.failover_started.is_some() {
            self.recovered.entry(kind).or_insert_with(Instant::now);
        }
    }

    fn error(&mut self, kind: Kind, error: &str) {
        for tally in [
            self.interval.entry(kind).or_default(),
            self.total.entry(kind).or_default(),
        ] {
            tally.errors += 1;
            tally.first_error.get_or_insert_with(|| error.to_owned());
        }
    }
}

fn p99(latencies: &mut [Duration]) -> Duration {
    if latencies.is_empty() {
        return Duration::ZERO;
    }
    latencies.sort_unstable();
    let rank = ((latencies.len() as f64) * 0.99).ceil() as usize;
    latencies[rank.clamp(1, latencies.len()) - 1]
}

/// Resident memory of `pid` in MB (`VmRSS`), None when the process is gone.
fn rss_mb(pid: u32) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

/// One submission a worker grades, who grades it, and the last comment acknowledged.
struct Gradable {
    name: String,
    grader: String,
    at: Option<String>,
    last: Option<String>,
}

/// Everything the workers need, set up before the load.
struct Fixture {
    /// QR texts of 泗县's certificates with the verdict each had at setup.
    qr: Vec<(String, i32)>,
    /// Name and full ID number of teachers holding certificates.
    holders: Vec<(String, String)>,
    /// 永宁县's teachers (numbers).
    nx_teachers: Vec<String>,
}

/// `tica soak`.
pub async fn run(args: SoakArgs) -> anyhow::Result<()> {
    let channel = |url: &str| -> anyhow::Result<Channel> {
        Ok(Endpoint::from_shared(url.to_owned())?
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(60))
            .connect_lazy())
    };
    let services = Services {
        roster: channel(&args.roster)?,
        assessment: channel(&args.assessment)?,
        sampling: channel(&args.sampling)?,
        certificate: channel(&args.certificate)?,
    };
    let signer = TokenSigner::new(&crate::token::dev_key(&args.data_dir)?);
    let target = Target::apart(services, signer, args.http.clone());
    let pids: Vec<(String, u32)> = args
        .pid
        .iter()
        .map(|p| {
            let (name, pid) = p.split_once('=').context("--pid takes name=pid")?;
            Ok((
                name.to_owned(),
                pid.parse().context("--pid takes name=pid")?,
            ))
        })
        .collect::<anyhow::Result<_>>()?;

    // Setup: 泗县's year (certificates), then 永宁县 up to grading.
    let started = Instant::now();
    let options = Options {
        teachers: args.teachers,
        seed: 2022,
        policy: Policy::Sixian,
        concurrency: args.concurrency,
        out: None,
        certificates: Certificates::Sample,
        quiet: true,
    };
    let sixian = super::run_year(&target, &options)
        .await
        .context("setting up 泗县's year")?;
    println!(
        "setup: 泗县 {} teachers, {} certificates issued ({:.0} s)",
        sixian.teachers,
        sixian.certificates_issued,
        started.elapsed().as_secs_f64()
    );
    let sx_model = Model::build(Policy::Sixian, args.teachers, 2022);
    let nx_options = Options {
        policy: Policy::Ningxia,
        ..options.clone()
    };
    let nx_model = Model::build(Policy::Ningxia, args.teachers, 2022);
    let mut year = Year::new(&target, &nx_model, &nx_options);
    year.roster().await.context("永宁县: roster")?;
    year.teams_and_assessors().await.context("永宁县: teams")?;
    year.open_batch().await.context("永宁县: batch")?;
    year.selections().await.context("永宁县: selections")?;
    year.hours().await.context("永宁县: hours")?;
    year.evidence().await.context("永宁县: evidence")?;
    let mut gradables = Vec::new();
    for (s, school) in nx_model.schools.iter().enumerate() {
        // The last teacher stays ungraded: the school never completes, its results stay open.
        let Some((_, graded)) = school.teachers.split_last() else {
            continue;
        };
        for &t in graded {
            let (grader, at) = year.grader_of(s, t);
            let teacher = &nx_model.teachers[t];
            year.grade_pieces(t, &grader, at.as_deref(), false, &teacher.handed)
                .await
                .with_context(|| format!("永宁县: grading teacher {}", teacher.number))?;
            for code in &teacher.handed {
                gradables.push(Gradable {
                    name: format!(
                        "{}/participants/{}/submissions/{code}",
                        year.batch, teacher.number
                    ),
                    grader: grader.clone(),
                    at: at.clone(),
                    last: None,
                });
            }
        }
    }
    ensure!(!gradables.is_empty(), "永宁县 has nothing to grade");
    println!(
        "setup: 永宁县 {} teachers, {} submissions to re-grade ({:.0} s)",
        nx_model.teachers.len(),
        gradables.len(),
        started.elapsed().as_secs_f64()
    );

    // The certificates and their holders.
    let sx_county = &sx_model.county.0;
    let mut office = target.certificates("county-office", Role::CountyOffice, sx_county, None);
    let mut certificates = Vec::new();
    let mut page_token = String::new();
    loop {
        let page = office
            .list_certificates(cpb::ListCertificatesRequest {
                parent: format!("jurisdictions/{sx_county}"),
                page_size: 1000,
                page_token,
                ..Default::default()
            })
            .await
            .context("ListCertificates")?
            .into_inner();
        certificates.extend(page.certificates);
        if page.next_page_token.is_empty() {
            break;
        }
        page_token = page.next_page_token;
    }
    ensure!(!certificates.is_empty(), "泗县 has no certificates");
    let mut public = target.public_certificates();
    let mut qr = Vec::new();
    for c in &certificates {
        let verdict = public
            .verify(cpb::VerifyRequest {
                subject: Some(cpb::verify_request::Subject::QrText(c.qr_text.clone())),
            })
            .await
            .context("Verify")?
            .into_inner()
            .verdict;
        qr.push((c.qr_text.clone(), verdict));
    }
    let by_number: HashMap<&str, _> = sx_model
        .roster
        .teachers
        .iter()
        .map(|t| (t.number.as_str(), t))
        .collect();
    let holders: Vec<(String, String)> = certificates
        .iter()
        .filter_map(|c| by_number.get(c.teacher.trim_start_matches("teachers/")))
        .map(|t| (t.name.clone(), t.id.as_str().to_owned()))
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    let fixture = Arc::new(Fixture {
        qr,
        holders,
        nx_teachers: nx_model.teachers.iter().map(|t| t.number.clone()).collect(),
    });
    println!(
        "setup done in {:.0} s: {} certificates, {} holders; load for {} s, {} workers, report every {} s",
        started.elapsed().as_secs_f64(),
        fixture.qr.len(),
        fixture.holders.len(),
        args.duration,
        args.concurrency,
        args.interval
    );

    // The load.
    let stats = Arc::new(Mutex::new(Stats::default()));
    let load_start = Instant::now();
    let deadline = load_start + Duration::from_secs(args.duration);
    let provider = format!("soak-{}", std::process::id());
    let pushed = Arc::new(Mutex::new(PushLedger::default()));
    let sequence = Arc::new(AtomicU64::new(0));
    let courses: Arc<Vec<AtomicU64>> = Arc::new(
        (0..fixture.nx_teachers.len())
            .map(|_| AtomicU64::new(0))
            .collect(),
    );
    // One kind per worker, so a slow kind does not hold the others back. Each grading worker
    // owns its share of the submissions: its gradings of one submission are one at a time, so
    // the last acknowledged is the one stored.
    ensure!(
        args.concurrency >= KINDS.len(),
        "--concurrency: at least one worker per kind ({})",
        KINDS.len()
    );
    let graders: Vec<usize> = (0..args.concurrency)
        .filter(|w| KINDS[w % KINDS.len()] == Kind::Grading)
        .collect();
    let mut shares: Vec<Vec<Gradable>> = (0..args.concurrency).map(|_| Vec::new()).collect();
    for (i, g) in gradables.into_iter().enumerate() {
        shares[graders[i % graders.len()]].push(g);
    }
    let failover = match (args.failover_after, &args.failover_command) {
        (Some(after), Some(command)) => {
            let command = command.clone();
            let stats = stats.clone();
            Some(tokio::spawn(async move {
                tokio::time::sleep(Duration::from_secs(after)).await;
                stats.lock().unwrap().failover_started = Some(Instant::now());
                let at = load_start.elapsed().as_secs_f64();
                println!("failover: at {at:.0} s: {command}");
                let status = tokio::task::spawn_blocking(move || {
                    std::process::Command::new("sh")
                        .arg("-c")
                        .arg(&command)
                        .status()
                })
                .await;
                println!(
                    "failover: command ended at {:.0} s ({status:?})",
                    load_start.elapsed().as_secs_f64()
                );
                at
            }))
        }
        (None, None) => None,
        _ => bail!("--failover-after and --failover-command go together"),
    };

    let reporter = {
        let stats = stats.clone();
        let pids = pids.clone();
        let interval = Duration::from_secs(args.interval);
        tokio::spawn(async move {
            let mut rows = Vec::new();
            let mut next = load_start + interval;
            loop {
                tokio::time::sleep_until(next.into()).await;
                let t = load_start.elapsed().as_secs_f64();
                let mut tallies = std::mem::take(&mut stats.lock().unwrap().interval);
                let mut line = format!("t={t:5.0}s");
                let mut row = Row::default();
                for kind in KINDS {
                    let tally = tallies.entry(kind).or_default();
                    let rate = tally.latencies.len() as f64 / interval.as_secs_f64();
                    let p = p99(&mut tally.latencies);
                    line.push_str(&format!(
                        " | {} {rate:6.1}/s p99 {:6.1} ms err {}",
                        kind.name(),
                        p.as_secs_f64() * 1e3,
                        tally.errors
                    ));
                }
                line.push_str(" | rss MB");
                for (name, pid) in &pids {
                    let rss = rss_mb(*pid);
                    match rss {
                        Some(mb) => line.push_str(&format!(" {name} {mb:.1}")),
                        None => line.push_str(&format!(" {name} gone")),
                    }
                    row.rss.push(rss.unwrap_or(f64::NAN));
                }
                println!("{line}");
                rows.push(row);
                if next >= deadline {
                    return rows;
                }
                next += interval;
            }
        })
    };

    let mut workers = Vec::new();
    for (w, share) in shares.into_iter().enumerate() {
        let worker = Worker {
            id: w,
            target: &target,
            fixture: fixture.clone(),
            stats: stats.clone(),
            pushed: pushed.clone(),
            sequence: sequence.clone(),
            courses: courses.clone(),
            provider: provider.clone(),
            records_per_push: args.records_per_push,
            share,
            nx_model: &nx_model,
            rng: 0x9E37_79B9_7F4A_7C15 ^ (w as u64 + 1),
        };
        workers.push(worker.run(deadline));
    }
    let shares: Vec<Vec<Gradable>> = futures::future::join_all(workers).await;
    let rows = reporter.await?;
    let failover_at = match failover {
        Some(handle) => Some(handle.await?),
        None => None,
    };

    // Totals.
    let mut stats = std::mem::take(&mut *stats.lock().unwrap());
    let elapsed = load_start.elapsed().as_secs_f64();
    println!("\nsummary over {elapsed:.0} s of load:");
    let mut errors = 0;
    for kind in KINDS {
        let tally = stats.total.entry(kind).or_default();
        errors += tally.errors;
        let n = tally.latencies.len();
        let p = p99(&mut tally.latencies);
        println!(
            "  {:8} {n:7} calls, {:6.1}/s, p99 {:6.1} ms, {} failed attempts (retried){}",
            kind.name(),
            n as f64 / elapsed,
            p.as_secs_f64() * 1e3,
            tally.errors,
            tally
                .first_error
                .as_deref()
                .map(|e| format!("; first: {e}"))
                .unwrap_or_default()
        );
    }
    for (i, (name, _)) in pids.iter().enumerate() {
        let series: Vec<f64> = rows
            .iter()
            .map(|r| r.rss[i])
            .filter(|v| !v.is_nan())
            .collect();
        if series.is_empty() {
            continue;
        }
        let max = series.iter().copied().fold(f64::MIN, f64::max);
        let half = series.len() / 2;
        let mean = |s: &[f64]| s.iter().sum::<f64>() / s.len().max(1) as f64;
        println!(
            "  rss {name:11} first {:6.1} MB, last {:6.1} MB, max {max:6.1} MB, mean 1st half {:6.1}, 2nd half {:6.1}",
            series[0],
            series[series.len() - 1],
            mean(&series[..half.max(1)]),
            mean(&series[half..]),
        );
    }
    if let Some(at) = failover_at {
        let started = stats.failover_started.expect("the failover ran");
        for kind in KINDS {
            match stats.recovered.get(&kind) {
                Some(when) => println!(
                    "  failover at {at:.0} s: {} answered again {:.1} s after the restart began",
                    kind.name(),
                    when.duration_since(started).as_secs_f64()
                ),
                None => println!("  failover: {} never answered again", kind.name()),
            }
        }
    }

    // No write lost or applied twice.
    let ledger = std::mem::take(&mut *pushed.lock().unwrap());
    let stored = stored_records(&target, &provider, &nx_model).await?;
    let acknowledged: HashSet<&String> = ledger.acknowledged.iter().collect();
    let lost: Vec<_> = acknowledged
        .iter()
        .filter(|n| !stored.contains(n.as_str()))
        .collect();
    let unexpected: Vec<_> = stored
        .iter()
        .filter(|n| !ledger.sent.contains(n.as_str()))
        .collect();
    println!(
        "  hours: {} records sent, {} acknowledged ({} created, {} updated, {} unchanged: retried or overtaken), {} stored; lost {}, stored but never sent {}, created twice {}",
        ledger.sent.len(),
        acknowledged.len(),
        ledger.created,
        ledger.updated,
        ledger.unchanged,
        stored.len(),
        lost.len(),
        unexpected.len(),
        ledger.created_twice
    );
    let mut grading_lost = 0;
    let mut graded = 0;
    for g in shares.iter().flatten() {
        let Some(last) = &g.last else {
            continue;
        };
        graded += 1;
        let mut client = target.assessment(
            &g.grader,
            Role::Assessor,
            &nx_model.county.0,
            g.at.as_deref(),
        );
        let submission = client
            .get_submission(pb::GetSubmissionRequest {
                name: g.name.clone(),
            })
            .await
            .with_context(|| format!("GetSubmission {}", g.name))?
            .into_inner();
        let stored = submission.grading.map(|g| g.comment).unwrap_or_default();
        if &stored != last {
            grading_lost += 1;
        }
    }
    println!(
        "  gradings: {graded} submissions re-graded; {grading_lost} do not hold their last acknowledged grading"
    );
    ensure!(
        lost.is_empty() && unexpected.is_empty() && ledger.created_twice == 0 && grading_lost == 0,
        "writes lost or applied twice"
    );
    if failover_at.is_none() {
        ensure!(errors == 0, "{errors} calls failed without a failover");
    }
    println!("  no write lost, none applied twice");
    Ok(())
}

/// One report's resident memory per watched process (NaN when gone).
#[derive(Default)]
struct Row {
    rss: Vec<f64>,
}

#[derive(Default)]
struct PushLedger {
    sent: HashSet<String>,
    acknowledged: Vec<String>,
    created: u64,
    updated: u64,
    unchanged: u64,
    created_twice: u64,
    created_names: HashSet<String>,
}

struct Worker<'a> {
    id: usize,
    target: &'a Target,
    fixture: Arc<Fixture>,
    stats: Arc<Mutex<Stats>>,
    pushed: Arc<Mutex<PushLedger>>,
    sequence: Arc<AtomicU64>,
    /// Per 永宁县 teacher, how many records were pushed for them (course and revision).
    courses: Arc<Vec<AtomicU64>>,
    provider: String,
    records_per_push: usize,
    share: Vec<Gradable>,
    nx_model: &'a Model,
    rng: u64,
}

impl Worker<'_> {
    fn below(&mut self, n: usize) -> usize {
        // xorshift64*
        self.rng ^= self.rng >> 12;
        self.rng ^= self.rng << 25;
        self.rng ^= self.rng >> 27;
        (self.rng.wrapping_mul(0x2545_F491_4F6C_DD1D) % n.max(1) as u64) as usize
    }

    /// Runs its one kind (worker `id` runs `KINDS[id % 4]`) until `deadline`; every failed
    /// call is counted and retried until it succeeds (a call begun before the deadline finishes,
    /// for a minute more at most).
    async fn run(mut self, deadline: Instant) -> Vec<Gradable> {
        let kind = KINDS[self.id % KINDS.len()];
        if kind == Kind::Grading && self.share.is_empty() {
            return self.share;
        }
        while Instant::now() < deadline {
            let give_up = deadline.max(Instant::now()) + Duration::from_secs(60);
            match kind {
                Kind::Verify => self.verify(give_up).await,
                Kind::Search => self.search(give_up).await,
                Kind::Hours => self.hours(give_up).await,
                Kind::Grading => self.grade(give_up).await,
            }
        }
        self.share
    }

    async fn retry<T, F, Fut>(&self, kind: Kind, give_up: Instant, mut call: F) -> Option<T>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = anyhow::Result<T>>,
    {
        loop {
            let began = Instant::now();
            match call().await {
                Ok(value) => {
                    self.stats.lock().unwrap().ok(kind, began.elapsed());
                    return Some(value);
                }
                Err(error) => {
                    self.stats
                        .lock()
                        .unwrap()
                        .error(kind, &format!("{error:#}"));
                    if Instant::now() > give_up {
                        return None;
                    }
                    tokio::time::sleep(Duration::from_millis(250)).await;
                }
            }
        }
    }

    async fn verify(&mut self, give_up: Instant) {
        let i = self.below(self.fixture.qr.len());
        let (text, expected) = self.fixture.qr[i].clone();
        let client = self.target.public_certificates();
        self.retry(Kind::Verify, give_up, || {
            let mut client = client.clone();
            let text = text.clone();
            async move {
                let answer = client
                    .verify(cpb::VerifyRequest {
                        subject: Some(cpb::verify_request::Subject::QrText(text)),
                    })
                    .await?
                    .into_inner();
                ensure!(
                    answer.verdict == expected,
                    "verdict {} where setup saw {expected}",
                    answer.verdict
                );
                Ok(())
            }
        })
        .await;
    }

    async fn search(&mut self, give_up: Instant) {
        let i = self.below(self.fixture.holders.len());
        let (name, id) = self.fixture.holders[i].clone();
        // HR offices search from many addresses, each limited to a few searches a minute: the
        // soak's searches come through a trusted proxy (the script sets TICA_TRUSTED_PROXIES)
        // from one of 4,096 documentation addresses.
        let n = self.below(4096);
        let client_addr = format!("198.18.{}.{}", n / 256, n % 256);
        let client = self.target.public_certificates();
        self.retry(Kind::Search, give_up, || {
            let mut client = client.clone();
            let (name, id, client_addr) = (name.clone(), id.clone(), client_addr.clone());
            async move {
                let mut request = tonic::Request::new(cpb::SearchCertificatesRequest {
                    teacher_display_name: name,
                    id_number: id,
                });
                request
                    .metadata_mut()
                    .insert("x-forwarded-for", client_addr.parse()?);
                let answer = client.search_certificates(request).await?.into_inner();
                ensure!(!answer.certificates.is_empty(), "a holder found nothing");
                Ok(())
            }
        })
        .await;
    }

    async fn hours(&mut self, give_up: Instant) {
        let m = self.nx_model;
        let client =
            self.target
                .assessment(&self.provider, Role::TrainingProvider, &m.province.0, None);
        // A provider's catalogue is bounded: each teacher takes at most COURSES courses, and
        // further pushes for them are new revisions of those (progress updates). A year holds
        // tens of records per teacher; an unbounded soak put ~900 on each of 60 teachers, and
        // every push and grading recounts all of a teacher's records.
        let records: Vec<pb::HoursRecord> = (0..self.records_per_push)
            .map(|_| {
                let i = self.below(self.fixture.nx_teachers.len());
                let pushed = self.courses[i].fetch_add(1, Ordering::Relaxed);
                let (course, revision) = (pushed % COURSES, pushed / COURSES + 1);
                let teacher = &self.fixture.nx_teachers[i];
                pb::HoursRecord {
                    name: format!("providers/{}/hoursRecords/t{i}-c{course}", self.provider),
                    teacher: format!("teachers/{teacher}"),
                    kind: pb::HoursKind::Practice as i32,
                    course_id: format!("soak-c{course}"),
                    course_title: "校本研修实践（压测）".into(),
                    centihours: 100,
                    revision: revision as i64,
                    complete_time: Some(prost_types::Timestamp::from(std::time::SystemTime::now())),
                    ..Default::default()
                }
            })
            .collect();
        {
            let mut ledger = self.pushed.lock().unwrap();
            ledger.sent.extend(records.iter().map(|r| r.name.clone()));
        }
        let parent = format!("providers/{}", self.provider);
        let results = self
            .retry(Kind::Hours, give_up, || {
                let mut client = client.clone();
                let request = pb::BatchPushHoursRecordsRequest {
                    parent: parent.clone(),
                    records: records.clone(),
                };
                async move {
                    let answer = client.batch_push_hours_records(request).await?.into_inner();
                    // Unchanged: a retry of what was stored, or a revision another worker
                    // overtook.
                    if let Some(bad) = answer.results.iter().find(|r| {
                        r.outcome == pb::PushOutcome::Rejected as i32
                            || r.outcome == pb::PushOutcome::Unspecified as i32
                    }) {
                        bail!("record {} refused: {}", bad.name, bad.error);
                    }
                    Ok(answer.results)
                }
            })
            .await;
        if let Some(results) = results {
            let mut ledger = self.pushed.lock().unwrap();
            for r in results {
                if r.outcome == pb::PushOutcome::Created as i32 {
                    ledger.created += 1;
                    if !ledger.created_names.insert(r.name.clone()) {
                        ledger.created_twice += 1;
                    }
                } else if r.outcome == pb::PushOutcome::Updated as i32 {
                    ledger.updated += 1;
                } else {
                    ledger.unchanged += 1;
                }
                ledger.acknowledged.push(r.name);
            }
        }
    }

    async fn grade(&mut self, give_up: Instant) {
        let i = self.below(self.share.len());
        let m = self.nx_model;
        let comment = format!(
            "压测 {}-{}",
            self.id,
            self.sequence.fetch_add(1, Ordering::Relaxed)
        );
        let grade = if self.below(2) == 0 {
            common::Grade::Pass
        } else {
            common::Grade::Fail
        };
        let g = &self.share[i];
        let (name, grader, at) = (g.name.clone(), g.grader.clone(), g.at.clone());
        let client = self
            .target
            .assessment(&grader, Role::Assessor, &m.county.0, at.as_deref());
        let done = self
            .retry(Kind::Grading, give_up, || {
                let mut client = client.clone();
                let request = pb::GradeSubmissionRequest {
                    name: name.clone(),
                    assessor: format!("assessors/{grader}"),
                    grade: grade as i32,
                    rubric_scores: Vec::new(),
                    invalid_evidence: Vec::new(),
                    comment: comment.clone(),
                };
                async move {
                    client.grade_submission(request).await?;
                    Ok(())
                }
            })
            .await;
        if done.is_some() {
            self.share[i].last = Some(comment);
        }
    }
}

/// The names of every hours record stored under `provider`.
async fn stored_records(
    target: &Target,
    provider: &str,
    m: &Model,
) -> anyhow::Result<HashSet<String>> {
    let mut client = target.assessment(provider, Role::TrainingProvider, &m.province.0, None);
    let mut names = HashSet::new();
    let mut page_token = String::new();
    loop {
        let page = client
            .list_hours_records(pb::ListHoursRecordsRequest {
                parent: format!("providers/{provider}"),
                page_size: 1000,
                page_token,
                ..Default::default()
            })
            .await
            .context("ListHoursRecords")?
            .into_inner();
        names.extend(page.hours_records.into_iter().map(|r| r.name));
        if page.next_page_token.is_empty() {
            return Ok(names);
        }
        page_token = page.next_page_token;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_99th_percentile_is_the_nearest_rank() {
        let ms = |n: u64| Duration::from_millis(n);
        let mut hundred: Vec<Duration> = (1..=100).rev().map(ms).collect();
        assert_eq!(p99(&mut hundred), ms(99));
        let mut ten: Vec<Duration> = (1..=10).map(ms).collect();
        assert_eq!(p99(&mut ten), ms(10));
        assert_eq!(p99(&mut []), Duration::ZERO);
    }

    #[test]
    fn resident_memory_is_read_from_proc() {
        let mb = rss_mb(std::process::id()).expect("this process has a VmRSS");
        assert!(mb > 0.0);
        assert_eq!(rss_mb(u32::MAX), None);
    }
}
