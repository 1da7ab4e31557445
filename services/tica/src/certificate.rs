//! `tica certificates …`: an operator's client for the certificate service — issue a certified
//! batch with a progress bar, list, revoke, download PDFs and credentials, verify, list the
//! signing keys, and fetch a school's ZIP archive.
//!
//! Files are written atomically (a temporary file beside the target, renamed into place once its
//! SHA-256 matches what the service recorded), so an interrupted download never leaves a partial
//! certificate behind.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::cli::Connection;
use anyhow::{Context, anyhow, bail};
use clap::{Args, Subcommand, ValueEnum};
use comfy_table::{Table, presets::UTF8_FULL_CONDENSED};
use indicatif::{ProgressBar, ProgressStyle};
use sha2::{Digest, Sha256};
use tica_proto::prost_types;
use tica_proto::tica::certificate::v1 as pb;
use tica_proto::tica::common::v1 as common;

/// A certificate client; without a token it calls anonymously (verification and the keys need
/// none).
pub type CertificateClient = tica_client::Certificate;

/// A certificate client: with the token when there is one ([`Connection::client`] requires it).
trait CertificateConnection {
    async fn client(&self) -> anyhow::Result<CertificateClient>;
    async fn connect(&self) -> anyhow::Result<CertificateClient>;
}

impl CertificateConnection for Connection {
    async fn client(&self) -> anyhow::Result<CertificateClient> {
        self.required_token()?;
        self.connect().await
    }

    async fn connect(&self) -> anyhow::Result<CertificateClient> {
        let token = self.token.as_deref().unwrap_or_default();
        if !token.is_ascii() || token.contains(char::is_whitespace) {
            bail!("the token is not a JWT (non-ASCII characters or spaces)")
        }
        Ok(tica_client::certificate(self.channel().await?, token))
    }
}

/// `tica certificates …`.
#[derive(Debug, Args)]
pub struct CertificatesCommand {
    #[command(flatten)]
    connection: Connection,
    #[command(subcommand)]
    action: Action,
}

/// What to do.
#[derive(Debug, Subcommand)]
enum Action {
    /// Issue a certified batch's certificates (or follow its run in progress), with a progress
    /// bar; fails when the run fails.
    #[command(
        after_help = "Example (the county office, once its batch is CERTIFIED):
  tica certificates issue --batch batches/341324-2022"
    )]
    Issue {
        /// `batches/{batch_id}` (or the bare id), CERTIFIED in the assessment service.
        #[arg(long)]
        batch: String,
        /// Start the run and return at once.
        #[arg(long)]
        no_watch: bool,
    },
    /// Issuance runs.
    #[command(
        subcommand,
        after_help = "Example (follow, list, and see what a run set aside and why):
  tica certificates runs list
  tica certificates runs watch RUN_ID
  tica certificates runs parked RUN_ID"
    )]
    Runs(RunsCommand),
    /// List certificates (ID numbers masked).
    #[command(
        after_help = "Example (a school's revoked certificates; a teacher's own):
  tica certificates list --parent schools/3413240001 --status revoked
  tica certificates list --parent teachers/34132400010001"
    )]
    List {
        /// `teachers/{number}`, `schools/{code}`, `jurisdictions/{code}` or `batches/{id}`;
        /// default: yours.
        #[arg(long, default_value = "")]
        parent: String,
        /// Only this status.
        #[arg(long)]
        status: Option<Status>,
        /// Only this kind.
        #[arg(long)]
        kind: Option<Kind>,
        /// Only this micro-competency code, e.g. B2.
        #[arg(long)]
        micro_competency: Option<String>,
        /// Only this batch year.
        #[arg(long)]
        year: Option<i32>,
        /// Rows per page (at most 1000).
        #[arg(long, default_value_t = 50)]
        page_size: i32,
        /// Follow every page.
        #[arg(long)]
        all: bool,
    },
    /// Show one certificate.
    #[command(after_help = "Example:
  tica certificates get b2c4e1f07a9d4c3e8f615d2a9c")]
    Get {
        /// `certificates/{id}` or the bare id.
        name: String,
    },
    /// Revoke a certificate (final; appended to the log).
    #[command(after_help = "Example (the issuing office):
  tica certificates revoke b2c4e1f07a9d4c3e8f615d2a9c --reason issued-in-error --explanation \"姓名录入错误，已重新发证\"")]
    Revoke {
        /// `certificates/{id}` or the bare id.
        name: String,
        /// Why.
        #[arg(long)]
        reason: Reason,
        /// Shown on the verification page, e.g. "复核结果不合格，证书撤销".
        #[arg(long)]
        explanation: String,
    },
    /// Download a certificate's PDF, checked against the SHA-256 recorded at issuance.
    #[command(after_help = "Example (a teacher, with their own token):
  tica certificates download b2c4e1f07a9d4c3e8f615d2a9c --out 我的证书.pdf")]
    Download {
        /// `certificates/{id}` or the bare id.
        name: String,
        /// The file to write.
        #[arg(long)]
        out: PathBuf,
    },
    /// Write a certificate as a W3C Verifiable Credential (JSON, eddsa-jcs-2022 proof).
    #[command(after_help = "Example (then check it offline with the published keys):
  tica certificates credential b2c4e1f07a9d4c3e8f615d2a9c --out 证书.json
  tica certificates credential b2c4e1f07a9d4c3e8f615d2a9c --format open-badge --out badge.json
  tica certificates keys --jwks jwks.json
  tica credential verify 证书.json --keys jwks.json")]
    Credential {
        /// `certificates/{id}` or the bare id.
        name: String,
        /// The file to write.
        #[arg(long)]
        out: PathBuf,
        /// `vc` (TICA's VC 2.0, eddsa-jcs-2022, keys in jwks.json) or `open-badge` (an Open
        /// Badges 3.0 OpenBadgeCredential, eddsa-rdfc-2022 by the issuer's did:web, with a
        /// Bitstring Status List entry: what wallets and the DCC verifier read).
        #[arg(long, default_value = "vc", value_parser = ["vc", "open-badge"])]
        format: String,
    },
    /// Verification codes: a teacher makes one for their own certificate and gives it, with
    /// their name, to an HR office, which checks it at `/code` on the verification site.
    #[command(
        subcommand,
        after_help = "Example (a teacher, with their own token):
  tica certificates codes create b2c4e1f07a9d4c3e8f615d2a9c --ttl-days 90
  tica certificates codes list
  tica certificates codes revoke certificates/b2c4e1f07a9d4c3e8f615d2a9c/verificationCodes/CODE_ID"
    )]
    Codes(CodesCommand),
    /// Verify a certificate online, as an HR office does; exit status 1 unless VALID.
    #[command(
        after_help = "Example (no token needed; by id, by a PDF someone handed in):
  tica certificates verify --id b2c4e1f07a9d4c3e8f615d2a9c
  tica certificates verify --pdf 证书.pdf"
    )]
    Verify(VerifyArgs),
    /// List the public signing keys, active and retired.
    #[command(
        after_help = "Example (no token needed; keep the key set for offline checks):
  tica certificates keys --jwks jwks.json"
    )]
    Keys {
        /// Also write the key set as JWKS JSON to this file (for `tica verify --keys`).
        #[arg(long)]
        jwks: Option<PathBuf>,
    },
    /// Build a ZIP of a school's certificate PDFs and download it.
    #[command(after_help = "Example (a school office, one batch):
  tica certificates archive --school 3413240001 --batch batches/341324-2022 --out 泗县一中-2022-证书.zip")]
    Archive {
        /// `schools/{code}` or the bare code.
        #[arg(long)]
        school: String,
        /// Only this batch (`batches/{id}`).
        #[arg(long)]
        batch: Option<String>,
        /// Include revoked certificates (in a `revoked/` folder).
        #[arg(long)]
        include_revoked: bool,
        /// The ZIP file to write.
        #[arg(long)]
        out: PathBuf,
    },
}

/// Issuance run commands.
#[derive(Debug, Subcommand)]
enum RunsCommand {
    /// List issuance runs, newest first.
    List {
        /// Only runs of this batch (`batches/{id}`).
        #[arg(long)]
        batch: Option<String>,
        /// `jurisdictions/{code}`; default: yours.
        #[arg(long, default_value = "")]
        parent: String,
        /// Rows (at most 1000).
        #[arg(long, default_value_t = 50)]
        page_size: i32,
    },
    /// Show one run.
    Get {
        /// `issuanceRuns/{id}` or the bare id.
        name: String,
    },
    /// Results issuance parked (no certificate could be made of them yet) and why; each is
    /// issued by the next run after its data is fixed.
    Parked {
        /// Only results of this batch (`batches/{id}`).
        #[arg(long)]
        batch: Option<String>,
        /// `jurisdictions/{code}`; default: yours.
        #[arg(long, default_value = "")]
        parent: String,
        /// Follow every page.
        #[arg(long)]
        all: bool,
    },
    /// Follow a run with a progress bar until it ends.
    Watch {
        /// `issuanceRuns/{id}` or the bare id.
        name: String,
    },
    /// Cancel a run under way: it stops at its next chunk of certificates and ends CANCELLED;
    /// a new `tica certificates issue` resumes after the last certificate stored.
    Cancel {
        /// `issuanceRuns/{id}` or the bare id.
        name: String,
    },
}

/// Verification code commands.
#[derive(Debug, Subcommand)]
enum CodesCommand {
    /// Make a code for one of your own certificates; prints it once (the service keeps only a
    /// keyed hash of it and lists it masked).
    #[command(after_help = "Example:
  tica certificates codes create b2c4e1f07a9d4c3e8f615d2a9c --ttl-days 60

Give the code and your name to the HR office: it types both at https://<verification site>/code
(or calls VerifyWithCode) and sees the certificate until the code expires or you revoke it.")]
    Create {
        /// `certificates/{id}` or the bare id: one of yours, not revoked.
        certificate: String,
        /// Days the code is valid, 30–180 [default: 90].
        #[arg(long, value_parser = clap::value_parser!(i32).range(30..=180))]
        ttl_days: Option<i32>,
    },
    /// List codes, newest first: state, expiry, uses and last use (every page).
    #[command(after_help = "Example:
  tica certificates codes list
  tica certificates codes list --certificate b2c4e1f07a9d4c3e8f615d2a9c")]
    List {
        /// Only this certificate's codes (`certificates/{id}` or the bare id); default: every
        /// code you may see (a teacher: their own; an office: its jurisdiction's).
        #[arg(long)]
        certificate: Option<String>,
    },
    /// Revoke a code at once: from then on it answers as an unknown code.
    #[command(after_help = "Example:
  tica certificates codes revoke certificates/b2c4e1f07a9d4c3e8f615d2a9c/verificationCodes/CODE_ID")]
    Revoke {
        /// `certificates/{id}/verificationCodes/{code_id}`, as `list` shows it.
        name: String,
    },
}

/// What to verify: exactly one of the three.
#[derive(Debug, Args)]
#[group(required = true, multiple = false)]
struct VerifyArgs {
    /// `certificates/{id}` or the bare id.
    #[arg(long)]
    id: Option<String>,
    /// A PDF file (at most 1 MiB).
    #[arg(long)]
    pdf: Option<PathBuf>,
    /// The text scanned from the QR code.
    #[arg(long)]
    qr: Option<String>,
}

/// Why a certificate is revoked.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Reason {
    /// The assessment service withdrew the result (a review overturned it).
    ResultWithdrawn,
    /// Issued by mistake (wrong teacher, wrong data).
    IssuedInError,
    /// Obtained by fraud.
    Fraud,
    /// Another reason, given in the explanation.
    Other,
}

impl From<Reason> for pb::RevocationReason {
    fn from(reason: Reason) -> pb::RevocationReason {
        match reason {
            Reason::ResultWithdrawn => pb::RevocationReason::ResultWithdrawn,
            Reason::IssuedInError => pb::RevocationReason::IssuedInError,
            Reason::Fraud => pb::RevocationReason::Fraud,
            Reason::Other => pb::RevocationReason::Other,
        }
    }
}

/// A certificate status filter.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Status {
    /// Valid.
    Active,
    /// Revoked.
    Revoked,
}

/// A certificate kind filter.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Kind {
    /// One micro-competency.
    MicroCompetency,
    /// The teacher's level.
    Level,
}

/// A gRPC error as an operator reads it: `NOT_FOUND: batches/… not found`.
fn rpc(status: tonic::Status) -> anyhow::Error {
    let code = format!("{:?}", status.code());
    let mut name = String::new();
    for (i, c) in code.chars().enumerate() {
        if c.is_uppercase() && i > 0 {
            name.push('_');
        }
        name.push(c.to_ascii_uppercase());
    }
    anyhow!("{name}: {}", status.message())
}

/// `prefix/{id}` for a bare id; the name itself when it already has the prefix.
fn qualified(collection: &str, id: &str) -> String {
    let id = id.trim();
    if id.starts_with(&format!("{collection}/")) {
        id.to_owned()
    } else {
        format!("{collection}/{id}")
    }
}

/// A run's progress bar position and length: events after the run's start, up to the target.
pub fn run_progress(run: &pb::IssuanceRun) -> (u64, u64) {
    let length = (run.target_sequence - run.start_after_sequence).max(0) as u64;
    let position = (run.cursor - run.start_after_sequence).max(0) as u64;
    (position.min(length), length)
}

fn run_state(run: &pb::IssuanceRun) -> pb::IssuanceRunState {
    pb::IssuanceRunState::try_from(run.state).unwrap_or(pb::IssuanceRunState::Unspecified)
}

fn state_name(name: &str, prefix: &str) -> String {
    name.trim_start_matches(prefix).to_owned()
}

fn run_counts(run: &pb::IssuanceRun) -> String {
    let mut counts = format!(
        "{} issued, {} revoked, {} already issued",
        run.certificates_issued, run.certificates_revoked, run.already_issued
    );
    if run.results_parked > 0 || run.parked_issued > 0 {
        counts.push_str(&format!(
            ", {} parked (see ListParkedResults), {} issued of those parked earlier",
            run.results_parked, run.parked_issued
        ));
    }
    counts
}

/// An RFC 3339 time to the second; empty when unset.
pub(crate) fn timestamp(t: Option<&prost_types::Timestamp>) -> String {
    t.map(|t| {
        let mut t = *t;
        t.nanos = 0;
        t.to_string()
    })
    .unwrap_or_default()
}

fn date(d: Option<&tica_proto::google::r#type::Date>) -> String {
    d.map(|d| format!("{:04}-{:02}-{:02}", d.year, d.month, d.day))
        .unwrap_or_default()
}

fn grade(g: i32) -> &'static str {
    match common::Grade::try_from(g) {
        Ok(common::Grade::Pass) => "合格",
        Ok(common::Grade::Excellent) => "优秀",
        Ok(common::Grade::Fail) => "不合格",
        _ => "",
    }
}

fn status(s: i32) -> &'static str {
    match pb::CertificateStatus::try_from(s) {
        Ok(pb::CertificateStatus::Active) => "有效",
        Ok(pb::CertificateStatus::Revoked) => "已撤销",
        _ => "",
    }
}

fn reason_name(r: i32) -> String {
    pb::RevocationReason::try_from(r)
        .map(|r| {
            r.as_str_name()
                .trim_start_matches("REVOCATION_REASON_")
                .to_lowercase()
                .replace('_', "-")
        })
        .unwrap_or_default()
}

/// What a certificate certifies, in a table cell: the micro-competency code, or "等级 level".
fn achievement(f: &pb::CertificateFacts) -> String {
    match pb::CertificateKind::try_from(f.kind) {
        Ok(pb::CertificateKind::Level) => "等级 level".to_owned(),
        _ => f.micro_competency.clone(),
    }
}

fn table(header: &[&str]) -> Table {
    let mut table = Table::new();
    table
        .load_preset(UTF8_FULL_CONDENSED)
        .set_header(header.iter().map(|h| h.to_string()));
    table
}

fn bar_style(template: &str) -> ProgressStyle {
    ProgressStyle::with_template(template)
        .expect("valid template")
        .progress_chars("=> ")
}

/// Runs a `tica certificates` command.
pub async fn run(command: CertificatesCommand) -> anyhow::Result<()> {
    let connection = &command.connection;
    match command.action {
        Action::Issue { batch, no_watch } => {
            let mut client = connection.client().await?;
            let run = client
                .start_issuance_run(pb::StartIssuanceRunRequest {
                    batch: qualified("batches", &batch),
                    request_id: String::new(),
                })
                .await
                .map_err(rpc)?
                .into_inner();
            println!(
                "{} for {} ({})",
                run.name,
                run.batch,
                state_name(run_state(&run).as_str_name(), "ISSUANCE_RUN_STATE_")
            );
            if no_watch {
                println!("follow it with `tica certificates runs watch {}`", run.name);
                return Ok(());
            }
            watch_run(&mut client, &run.name).await
        }
        Action::Runs(RunsCommand::List {
            batch,
            parent,
            page_size,
        }) => {
            let mut client = connection.client().await?;
            let page = client
                .list_issuance_runs(pb::ListIssuanceRunsRequest {
                    parent,
                    page_size,
                    batch: batch.map(|b| qualified("batches", &b)).unwrap_or_default(),
                    ..Default::default()
                })
                .await
                .map_err(rpc)?
                .into_inner();
            let mut table = table(&[
                "run", "batch", "state", "progress", "issued", "revoked", "already", "started",
                "ended", "error",
            ]);
            for r in &page.issuance_runs {
                let (position, length) = run_progress(r);
                table.add_row(vec![
                    state_name(&r.name, "issuanceRuns/"),
                    state_name(&r.batch, "batches/"),
                    state_name(run_state(r).as_str_name(), "ISSUANCE_RUN_STATE_").to_lowercase(),
                    format!("{position}/{length}"),
                    r.certificates_issued.to_string(),
                    r.certificates_revoked.to_string(),
                    r.already_issued.to_string(),
                    timestamp(r.start_time.as_ref()),
                    timestamp(r.end_time.as_ref()),
                    if r.error.is_empty() {
                        String::new()
                    } else {
                        format!("#{}: {}", r.error_sequence, r.error)
                    },
                ]);
            }
            println!("{table}");
            if !page.next_page_token.is_empty() {
                println!("(more runs: raise --page-size)");
            }
            Ok(())
        }
        Action::Runs(RunsCommand::Parked { batch, parent, all }) => {
            let mut client = connection.client().await?;
            let mut table = table(&[
                "result", "teacher", "school", "reason", "attempts", "run", "parked", "tried",
            ]);
            let mut page_token = String::new();
            let mut rows = 0;
            loop {
                let page = client
                    .list_parked_results(pb::ListParkedResultsRequest {
                        parent: parent.clone(),
                        page_size: 1000,
                        page_token,
                        batch: batch
                            .as_deref()
                            .map(|b| qualified("batches", b))
                            .unwrap_or_default(),
                    })
                    .await
                    .map_err(rpc)?
                    .into_inner();
                for r in &page.parked_results {
                    rows += 1;
                    table.add_row(vec![
                        r.result_key.clone(),
                        state_name(&r.teacher, "teachers/"),
                        state_name(&r.school, "schools/"),
                        r.reason.clone(),
                        r.attempts.to_string(),
                        state_name(&r.issuance_run, "issuanceRuns/"),
                        timestamp(r.park_time.as_ref()),
                        timestamp(r.update_time.as_ref()),
                    ]);
                }
                page_token = page.next_page_token;
                if page_token.is_empty() || !all {
                    break;
                }
            }
            if rows == 0 {
                println!("nothing parked");
            } else {
                println!("{table}");
                if !page_token.is_empty() {
                    println!("(more parked results: --all)");
                }
            }
            Ok(())
        }
        Action::Runs(RunsCommand::Get { name }) => {
            let mut client = connection.client().await?;
            let run = client
                .get_issuance_run(pb::GetIssuanceRunRequest {
                    name: qualified("issuanceRuns", &name),
                })
                .await
                .map_err(rpc)?
                .into_inner();
            print_run(&run);
            Ok(())
        }
        Action::Runs(RunsCommand::Watch { name }) => {
            let mut client = connection.client().await?;
            watch_run(&mut client, &qualified("issuanceRuns", &name)).await
        }
        Action::Runs(RunsCommand::Cancel { name }) => {
            let mut client = connection.client().await?;
            let run = client
                .cancel_issuance_run(pb::CancelIssuanceRunRequest {
                    name: qualified("issuanceRuns", &name),
                })
                .await
                .map_err(rpc)?
                .into_inner();
            print_run(&run);
            Ok(())
        }
        Action::List {
            parent,
            status,
            kind,
            micro_competency,
            year,
            page_size,
            all,
        } => {
            let mut client = connection.client().await?;
            let mut table = table(&[
                "证书 id",
                "编号 number",
                "教师 teacher",
                "身份证号 ID",
                "学校 school",
                "微能力/等级",
                "成绩 grade",
                "状态 status",
            ]);
            let mut token = String::new();
            loop {
                let page = client
                    .list_certificates(pb::ListCertificatesRequest {
                        parent: parent.clone(),
                        page_size,
                        page_token: token,
                        status: status.map_or(pb::CertificateStatus::Unspecified, |s| match s {
                            Status::Active => pb::CertificateStatus::Active,
                            Status::Revoked => pb::CertificateStatus::Revoked,
                        }) as i32,
                        kind: kind.map_or(pb::CertificateKind::Unspecified, |k| match k {
                            Kind::MicroCompetency => pb::CertificateKind::MicroCompetency,
                            Kind::Level => pb::CertificateKind::Level,
                        }) as i32,
                        micro_competency: micro_competency.clone().unwrap_or_default(),
                        year: year.unwrap_or(0),
                    })
                    .await
                    .map_err(rpc)?
                    .into_inner();
                for c in &page.certificates {
                    table.add_row(certificate_row(c));
                }
                token = page.next_page_token;
                if !all || token.is_empty() {
                    crate::cli::print_page(
                        &table,
                        "certificates",
                        page.total_size,
                        !token.is_empty(),
                    );
                    return Ok(());
                }
            }
        }
        Action::Get { name } => {
            let mut client = connection.client().await?;
            let c = client
                .get_certificate(pb::GetCertificateRequest {
                    name: qualified("certificates", &name),
                })
                .await
                .map_err(rpc)?
                .into_inner();
            print_certificate(&c);
            Ok(())
        }
        Action::Revoke {
            name,
            reason,
            explanation,
        } => {
            if explanation.trim().is_empty() {
                bail!("--explanation is shown on the verification page: it must not be empty");
            }
            let mut client = connection.client().await?;
            let c = client
                .revoke_certificate(pb::RevokeCertificateRequest {
                    name: qualified("certificates", &name),
                    reason: pb::RevocationReason::from(reason) as i32,
                    explanation,
                    request_id: String::new(),
                })
                .await
                .map_err(rpc)?
                .into_inner();
            let log_index = c.revocation.as_ref().map_or(-1, |r| r.log_index);
            println!(
                "revoked {} ({}): {} (log entry {log_index})",
                c.name,
                c.number,
                status(c.status)
            );
            Ok(())
        }
        Action::Download { name, out } => {
            let mut client = connection.client().await?;
            let name = qualified("certificates", &name);
            let certificate = client
                .get_certificate(pb::GetCertificateRequest { name: name.clone() })
                .await
                .map_err(rpc)?
                .into_inner();
            let stream = client
                .download_certificate_pdf(pb::DownloadCertificatePdfRequest { name })
                .await
                .map_err(rpc)?
                .into_inner();
            let received = receive(stream, pdf_part, &out, &certificate.pdf_sha256).await?;
            println!(
                "wrote {} ({} bytes, sha256 {}) — {} {}",
                out.display(),
                received.size,
                &received.sha256[..16],
                certificate.number,
                status(certificate.status)
            );
            Ok(())
        }
        Action::Credential { name, out, format } => {
            let mut client = connection.client().await?;
            let format = match format.as_str() {
                "open-badge" => pb::CredentialFormat::OpenBadge,
                _ => pb::CredentialFormat::VcJcs,
            };
            let credential = client
                .get_certificate_credential(pb::GetCertificateCredentialRequest {
                    name: qualified("certificates", &name),
                    format: format as i32,
                })
                .await
                .map_err(rpc)?
                .into_inner();
            write_atomically(&out, credential.credential_json.as_bytes())?;
            println!(
                "wrote {} (verificationMethod {}); check it offline with `tica credential verify {}`",
                out.display(),
                credential.verification_method,
                out.display()
            );
            Ok(())
        }
        Action::Codes(command) => codes(connection, command).await,
        Action::Verify(args) => {
            let subject = if let Some(id) = args.id {
                pb::verify_request::Subject::Certificate(qualified("certificates", &id))
            } else if let Some(path) = args.pdf {
                let bytes =
                    std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
                if bytes.len() > 1 << 20 {
                    bail!(
                        "{} is {} bytes: Verify takes PDFs of at most 1 MiB",
                        path.display(),
                        bytes.len()
                    );
                }
                pb::verify_request::Subject::Pdf(bytes)
            } else if let Some(qr) = args.qr {
                pb::verify_request::Subject::QrText(qr)
            } else {
                bail!("give one of --id, --pdf, --qr");
            };
            let mut client = connection.connect().await?;
            let answer = client
                .verify(pb::VerifyRequest {
                    subject: Some(subject),
                })
                .await
                .map_err(rpc)?
                .into_inner();
            print_verdict(&answer);
            match pb::Verdict::try_from(answer.verdict) {
                Ok(pb::Verdict::Valid) => Ok(()),
                _ => Err(anyhow!("not valid: {}", answer.message)),
            }
        }
        Action::Keys { jwks } => {
            let mut client = connection.connect().await?;
            let keys = client
                .list_signing_keys(pb::ListSigningKeysRequest {})
                .await
                .map_err(rpc)?
                .into_inner();
            let mut table = table(&["kid", "state", "algorithm", "activated", "retired", "key"]);
            for k in &keys.signing_keys {
                let state = pb::SigningKeyState::try_from(k.state)
                    .map(|s| {
                        s.as_str_name()
                            .trim_start_matches("SIGNING_KEY_STATE_")
                            .to_lowercase()
                    })
                    .unwrap_or_default();
                table.add_row(vec![
                    k.key_id.clone(),
                    state,
                    k.algorithm.clone(),
                    timestamp(k.activate_time.as_ref()),
                    timestamp(k.retire_time.as_ref()),
                    k.public_key_multibase.clone(),
                ]);
            }
            println!("{table}");
            if let Some(path) = jwks {
                write_atomically(&path, keys.jwks_json.as_bytes())?;
                println!(
                    "wrote the key set to {} (for `tica verify --keys`)",
                    path.display()
                );
            }
            Ok(())
        }
        Action::Archive {
            school,
            batch,
            include_revoked,
            out,
        } => {
            let mut client = connection.client().await?;
            let archive = client
                .create_certificate_archive(pb::CreateCertificateArchiveRequest {
                    certificate_archive: Some(pb::CertificateArchive {
                        school: qualified("schools", &school),
                        batch: batch.map(|b| qualified("batches", &b)).unwrap_or_default(),
                        include_revoked,
                        ..Default::default()
                    }),
                    request_id: String::new(),
                })
                .await
                .map_err(rpc)?
                .into_inner();
            let archive = watch_archive(&mut client, archive).await?;
            let stream = client
                .download_certificate_archive(pb::DownloadCertificateArchiveRequest {
                    name: archive.name.clone(),
                })
                .await
                .map_err(rpc)?
                .into_inner();
            let received = receive(stream, archive_part, &out, &archive.sha256).await?;
            println!(
                "wrote {} ({} certificates, {} bytes, sha256 {}); {} expires {}",
                out.display(),
                archive.certificates_added,
                received.size,
                &received.sha256[..16],
                archive.name,
                timestamp(archive.expire_time.as_ref())
            );
            Ok(())
        }
    }
}

fn code_state(s: i32) -> &'static str {
    match pb::VerificationCodeState::try_from(s) {
        Ok(pb::VerificationCodeState::Active) => "有效 active",
        Ok(pb::VerificationCodeState::Expired) => "已过期 expired",
        Ok(pb::VerificationCodeState::Revoked) => "已撤销 revoked",
        _ => "",
    }
}

/// Runs a `tica certificates codes` command.
async fn codes(connection: &Connection, command: CodesCommand) -> anyhow::Result<()> {
    let mut client = connection.client().await?;
    match command {
        CodesCommand::Create {
            certificate,
            ttl_days,
        } => {
            let code = client
                .create_verification_code(pb::CreateVerificationCodeRequest {
                    parent: qualified("certificates", &certificate),
                    ttl_days: ttl_days.unwrap_or_default(),
                })
                .await
                .map_err(rpc)?
                .into_inner();
            println!("{}", code.code);
            println!(
                "for {} ({}), valid until {}; shown only now — {}",
                code.certificate_number,
                code.certificate,
                timestamp(code.expire_time.as_ref()),
                code.name
            );
        }
        CodesCommand::List { certificate } => {
            let parent = certificate
                .map(|c| qualified("certificates", &c))
                .unwrap_or_else(|| "certificates/-".to_owned());
            let mut table = table(&[
                "code",
                "certificate",
                "state",
                "created",
                "expires",
                "uses",
                "last use",
                "name",
            ]);
            let mut token = String::new();
            loop {
                let page = client
                    .list_verification_codes(pb::ListVerificationCodesRequest {
                        parent: parent.clone(),
                        page_size: 1000,
                        page_token: token,
                    })
                    .await
                    .map_err(rpc)?
                    .into_inner();
                for c in &page.verification_codes {
                    table.add_row(vec![
                        c.masked_code.clone(),
                        c.certificate_number.clone(),
                        code_state(c.state).to_owned(),
                        timestamp(c.create_time.as_ref()),
                        timestamp(c.expire_time.as_ref()),
                        c.use_count.to_string(),
                        timestamp(c.last_use_time.as_ref()),
                        c.name.clone(),
                    ]);
                }
                token = page.next_page_token;
                if token.is_empty() {
                    break;
                }
            }
            println!("{table}");
            println!("{} verification codes", table.row_count());
        }
        CodesCommand::Revoke { name } => {
            let code = client
                .revoke_verification_code(pb::RevokeVerificationCodeRequest { name })
                .await
                .map_err(rpc)?
                .into_inner();
            println!(
                "{} {} of {}: {}",
                code.masked_code,
                code.name,
                code.certificate_number,
                code_state(code.state)
            );
        }
    }
    Ok(())
}

fn certificate_row(c: &pb::Certificate) -> Vec<String> {
    let facts = c.facts.clone().unwrap_or_default();
    vec![
        c.name.trim_start_matches("certificates/").to_owned(),
        c.number.clone(),
        facts.teacher_display_name.clone(),
        facts.teacher_id_number_masked.clone(),
        facts.school_display_name.clone(),
        achievement(&facts),
        grade(facts.grade).to_owned(),
        status(c.status).to_owned(),
    ]
}

fn print_fields(fields: &[(&str, String)]) {
    for (label, value) in fields {
        if !value.is_empty() {
            println!("  {label}: {value}");
        }
    }
}

fn facts_fields(f: &pb::CertificateFacts) -> Vec<(&'static str, String)> {
    let competency = if f.micro_competency.is_empty() {
        String::new()
    } else {
        format!("{} {}", f.micro_competency, f.micro_competency_display_name)
    };
    vec![
        ("证书 title", f.title.clone()),
        ("编号 number", f.number.clone()),
        ("姓名 name", f.teacher_display_name.clone()),
        ("身份证号 ID", f.teacher_id_number_masked.clone()),
        ("学校 school", f.school_display_name.clone()),
        ("区县 county", f.county_display_name.clone()),
        ("微能力 competency", competency),
        ("成绩 grade", grade(f.grade).to_owned()),
        (
            "学分 credits",
            if f.credits > 0 {
                f.credits.to_string()
            } else {
                String::new()
            },
        ),
        (
            "学时 hours",
            if f.counted_centihours > 0 {
                format!(
                    "{}.{:02}",
                    f.counted_centihours / 100,
                    f.counted_centihours % 100
                )
            } else {
                String::new()
            },
        ),
        ("发证机关 issuer", f.issuing_authority.clone()),
        (
            "发证日期 issued",
            date(f.certificate_date.as_ref().or(f.issue_date.as_ref())),
        ),
        ("签发日期 signed", date(f.issue_date.as_ref())),
        (
            "年度 year",
            if f.year > 0 {
                f.year.to_string()
            } else {
                String::new()
            },
        ),
        ("密钥 key", f.key_id.clone()),
    ]
}

fn revocation_fields(r: &pb::Revocation) -> Vec<(&'static str, String)> {
    vec![
        ("撤销原因 reason", reason_name(r.reason)),
        ("撤销说明 explanation", r.explanation.clone()),
        ("撤销时间 revoked", timestamp(r.revoke_time.as_ref())),
        ("撤销日志 log entry", r.log_index.to_string()),
    ]
}

fn print_certificate(c: &pb::Certificate) {
    println!("{} {} {}", c.name, c.number, status(c.status));
    if let Some(facts) = &c.facts {
        print_fields(&facts_fields(facts));
    }
    print_fields(&[
        ("teacher", c.teacher.clone()),
        ("school", c.school.clone()),
        ("county", c.county.clone()),
        ("batch", c.batch.clone()),
        ("result", c.result_key.clone()),
        ("issuance run", c.issuance_run.clone()),
        ("verification", c.verification_url.clone()),
        (
            "pdf",
            format!("{} bytes, sha256 {}", c.pdf_size_bytes, c.pdf_sha256),
        ),
        ("log entry", c.log_index.to_string()),
        ("issued at", timestamp(c.create_time.as_ref())),
    ]);
    if let Some(r) = &c.revocation {
        print_fields(&revocation_fields(r));
    }
}

fn print_verdict(answer: &pb::VerifyResponse) {
    println!("{}", answer.message);
    if let Some(facts) = &answer.facts {
        print_fields(&facts_fields(facts));
    }
    print_fields(&[("certificate", answer.certificate.clone())]);
    if let Some(r) = &answer.revocation {
        print_fields(&revocation_fields(r));
    }
    if matches!(
        pb::Verdict::try_from(answer.verdict),
        Ok(pb::Verdict::Valid | pb::Verdict::Revoked)
    ) {
        print_fields(&[("log entry", answer.log_index.to_string())]);
    }
    if let Ok(failure) = pb::VerifyFailure::try_from(answer.failure)
        && failure != pb::VerifyFailure::Unspecified
    {
        print_fields(&[(
            "failure",
            failure
                .as_str_name()
                .trim_start_matches("VERIFY_FAILURE_")
                .to_lowercase(),
        )]);
    }
    if answer.pdf_matches {
        println!("  pdf: exactly the bytes issued");
    }
}

fn print_run(run: &pb::IssuanceRun) {
    let (position, length) = run_progress(run);
    println!(
        "{} for {}: {}",
        run.name,
        run.batch,
        state_name(run_state(run).as_str_name(), "ISSUANCE_RUN_STATE_")
    );
    print_fields(&[
        ("county", run.county.clone()),
        (
            "progress",
            format!(
                "{position}/{length} events (sequences {}..={}, cursor {})",
                run.start_after_sequence + 1,
                run.target_sequence,
                run.cursor
            ),
        ),
        ("events", run.events_processed.to_string()),
        ("certificates", run_counts(run)),
        ("created", timestamp(run.create_time.as_ref())),
        ("started", timestamp(run.start_time.as_ref())),
        ("ended", timestamp(run.end_time.as_ref())),
    ]);
    if !run.error.is_empty() {
        print_fields(&[(
            "error",
            format!("at sequence {}: {}", run.error_sequence, run.error),
        )]);
    }
}

/// Follows a run with a progress bar until it ends; an error when it FAILED.
async fn watch_run(client: &mut CertificateClient, name: &str) -> anyhow::Result<()> {
    let started = Instant::now();
    let bar = ProgressBar::new(0);
    bar.set_style(bar_style(
        "{spinner} {msg} [{bar:30}] {pos}/{len} events {elapsed}",
    ));
    bar.enable_steady_tick(Duration::from_millis(120));
    let mut stream = client
        .watch_issuance_run(pb::WatchIssuanceRunRequest {
            name: name.to_owned(),
        })
        .await
        .map_err(rpc)?
        .into_inner();
    let mut last = None;
    loop {
        let message = match stream.message().await {
            Ok(Some(message)) => message,
            Ok(None) => break,
            Err(status) => {
                bar.abandon();
                return Err(rpc(status)).with_context(|| format!("watching {name}"));
            }
        };
        let (position, length) = run_progress(&message);
        bar.set_length(length);
        bar.set_position(position);
        bar.set_message(run_counts(&message));
        last = Some(message);
    }
    bar.finish_and_clear();
    // The stream ends after a terminal state; if it ended early, ask for the run as it stands.
    let run = match last {
        Some(run)
            if matches!(
                run_state(&run),
                pb::IssuanceRunState::Succeeded
                    | pb::IssuanceRunState::Failed
                    | pb::IssuanceRunState::Cancelled
            ) =>
        {
            run
        }
        _ => client
            .get_issuance_run(pb::GetIssuanceRunRequest {
                name: name.to_owned(),
            })
            .await
            .map_err(rpc)?
            .into_inner(),
    };
    let summary = format!(
        "{}: {} events, {} in {:.1} s (cursor {})",
        run.name,
        run.events_processed,
        run_counts(&run),
        started.elapsed().as_secs_f64(),
        run.cursor
    );
    match run_state(&run) {
        pb::IssuanceRunState::Succeeded => {
            println!("SUCCEEDED {summary}");
            Ok(())
        }
        pb::IssuanceRunState::Failed => {
            println!("FAILED {summary}");
            bail!(
                "{} failed at sequence {}: {} (a new `tica certificates issue` retries from there)",
                run.name,
                run.error_sequence,
                run.error
            )
        }
        pb::IssuanceRunState::Cancelled => {
            println!("CANCELLED {summary}");
            bail!(
                "{} was cancelled after sequence {} (a new `tica certificates issue` resumes after it)",
                run.name,
                run.cursor
            )
        }
        state => bail!(
            "{} is still {} (the watch ended early; see `tica certificates runs get {}`)",
            run.name,
            state.as_str_name(),
            run.name
        ),
    }
}

/// Follows an archive job with a progress bar until it ends; the SUCCEEDED job.
async fn watch_archive(
    client: &mut CertificateClient,
    archive: pb::CertificateArchive,
) -> anyhow::Result<pb::CertificateArchive> {
    let bar = ProgressBar::new(archive.certificates_total.max(0) as u64);
    bar.set_style(bar_style(
        "{spinner} {msg} [{bar:30}] {pos}/{len} certificates {elapsed}",
    ));
    bar.set_message("archiving");
    bar.enable_steady_tick(Duration::from_millis(120));
    let mut stream = client
        .watch_certificate_archive(pb::WatchCertificateArchiveRequest {
            name: archive.name.clone(),
        })
        .await
        .map_err(rpc)?
        .into_inner();
    let mut last = archive;
    loop {
        match stream.message().await {
            Ok(Some(message)) => {
                bar.set_length(message.certificates_total.max(0) as u64);
                bar.set_position(message.certificates_added.max(0) as u64);
                last = message;
            }
            Ok(None) => break,
            Err(status) => {
                bar.abandon();
                return Err(rpc(status)).with_context(|| format!("watching {}", last.name));
            }
        }
    }
    bar.finish_and_clear();
    let state = pb::ArchiveState::try_from(last.state).unwrap_or(pb::ArchiveState::Unspecified);
    let last = if matches!(
        state,
        pb::ArchiveState::Succeeded | pb::ArchiveState::Failed | pb::ArchiveState::Cancelled
    ) {
        last
    } else {
        client
            .get_certificate_archive(pb::GetCertificateArchiveRequest {
                name: last.name.clone(),
            })
            .await
            .map_err(rpc)?
            .into_inner()
    };
    match pb::ArchiveState::try_from(last.state) {
        Ok(pb::ArchiveState::Succeeded) => Ok(last),
        Ok(pb::ArchiveState::Failed) => bail!("{} failed: {}", last.name, last.error),
        Ok(pb::ArchiveState::Cancelled) => bail!("{} was cancelled", last.name),
        _ => bail!(
            "{} is not finished (the watch ended early); try again later",
            last.name
        ),
    }
}

/// One message of a download stream.
enum Part {
    Metadata(common::FileMetadata),
    Chunk(Vec<u8>),
}

fn pdf_part(m: pb::DownloadCertificatePdfResponse) -> Option<Part> {
    use pb::download_certificate_pdf_response::Payload;
    match m.payload? {
        Payload::Metadata(m) => Some(Part::Metadata(m)),
        Payload::Chunk(c) => Some(Part::Chunk(c)),
    }
}

fn archive_part(m: pb::DownloadCertificateArchiveResponse) -> Option<Part> {
    use pb::download_certificate_archive_response::Payload;
    match m.payload? {
        Payload::Metadata(m) => Some(Part::Metadata(m)),
        Payload::Chunk(c) => Some(Part::Chunk(c)),
    }
}

/// What a download wrote.
#[derive(Debug)]
struct Received {
    size: u64,
    sha256: String,
}

/// Streams a download (metadata, then chunks) into `out` through a temporary file, checked
/// against the metadata's size and SHA-256 and against `expected_sha256` (what the service
/// recorded; skipped when empty), then renamed into place.
async fn receive<M>(
    mut stream: tonic::Streaming<M>,
    split: fn(M) -> Option<Part>,
    out: &Path,
    expected_sha256: &str,
) -> anyhow::Result<Received> {
    let metadata = match stream.message().await.map_err(rpc)? {
        Some(first) => match split(first) {
            Some(Part::Metadata(metadata)) => metadata,
            _ => bail!("the download did not start with its metadata"),
        },
        None => bail!("the download was empty"),
    };
    let bar = ProgressBar::new(metadata.size_bytes.max(0) as u64);
    bar.set_style(bar_style(
        "{spinner} {msg} [{bar:30}] {bytes}/{total_bytes} {elapsed}",
    ));
    bar.set_message(metadata.file_name.clone());
    let mut part = PartFile::create(out)?;
    loop {
        let message = match stream.message().await {
            Ok(Some(message)) => message,
            Ok(None) => break,
            Err(status) => {
                bar.abandon();
                return Err(rpc(status)).context("the download broke off");
            }
        };
        match split(message) {
            Some(Part::Chunk(chunk)) => {
                part.write(&chunk)?;
                bar.set_position(part.size);
            }
            Some(Part::Metadata(_)) => bail!("the download sent its metadata twice"),
            None => {}
        }
    }
    bar.finish_and_clear();
    let sha256 = part.sha256();
    if metadata.size_bytes >= 0 && part.size != metadata.size_bytes as u64 {
        bail!(
            "the download ended after {} of {} bytes; nothing written",
            part.size,
            metadata.size_bytes
        );
    }
    for (what, expected) in [
        ("the download's metadata", metadata.sha256.as_str()),
        ("the service's record", expected_sha256),
    ] {
        if !expected.is_empty() && !expected.eq_ignore_ascii_case(&sha256) {
            bail!("SHA-256 {sha256} differs from {what} ({expected}); nothing written");
        }
    }
    let size = part.size;
    part.commit()?;
    Ok(Received { size, sha256 })
}

/// A temporary file beside its target, hashed as written; removed unless committed.
#[derive(Debug)]
struct PartFile {
    target: PathBuf,
    temp: PathBuf,
    file: Option<std::fs::File>,
    hasher: Sha256,
    size: u64,
}

impl PartFile {
    fn create(target: &Path) -> anyhow::Result<PartFile> {
        let file_name = target
            .file_name()
            .ok_or_else(|| anyhow!("{} is not a file name", target.display()))?;
        let mut temp_name = std::ffi::OsString::from(".");
        temp_name.push(file_name);
        temp_name.push(format!(".{}.part", std::process::id()));
        let temp = target.with_file_name(temp_name);
        let file =
            std::fs::File::create(&temp).with_context(|| format!("creating {}", temp.display()))?;
        Ok(PartFile {
            target: target.to_owned(),
            temp,
            file: Some(file),
            hasher: Sha256::new(),
            size: 0,
        })
    }

    fn write(&mut self, bytes: &[u8]) -> anyhow::Result<()> {
        self.file
            .as_mut()
            .expect("open until committed")
            .write_all(bytes)
            .with_context(|| format!("writing {}", self.temp.display()))?;
        self.hasher.update(bytes);
        self.size += bytes.len() as u64;
        Ok(())
    }

    fn sha256(&self) -> String {
        hex::encode(self.hasher.clone().finalize())
    }

    /// Flushes to disk and renames into place.
    fn commit(mut self) -> anyhow::Result<()> {
        let file = self.file.take().expect("open until committed");
        file.sync_all()
            .with_context(|| format!("writing {}", self.temp.display()))?;
        drop(file);
        std::fs::rename(&self.temp, &self.target)
            .with_context(|| format!("renaming into {}", self.target.display()))
    }
}

impl Drop for PartFile {
    fn drop(&mut self) {
        if self.file.take().is_some() {
            let _ = std::fs::remove_file(&self.temp);
        }
    }
}

/// Writes `bytes` to `path` through a temporary file and a rename.
fn write_atomically(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let mut part = PartFile::create(path)?;
    part.write(bytes)?;
    part.commit()
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        command: CertificatesCommand,
    }

    fn parse(args: &[&str]) -> Result<CertificatesCommand, clap::Error> {
        Cli::try_parse_from(std::iter::once("certificates").chain(args.iter().copied()))
            .map(|c| c.command)
    }

    #[test]
    fn revocation_reasons_parse_in_kebab_case() {
        for (arg, reason) in [
            ("result-withdrawn", pb::RevocationReason::ResultWithdrawn),
            ("issued-in-error", pb::RevocationReason::IssuedInError),
            ("fraud", pb::RevocationReason::Fraud),
            ("other", pb::RevocationReason::Other),
        ] {
            let command = parse(&[
                "revoke",
                "abc",
                "--reason",
                arg,
                "--explanation",
                "复核不合格",
            ])
            .unwrap_or_else(|e| panic!("{arg}: {e}"));
            let Action::Revoke {
                reason: parsed,
                explanation,
                ..
            } = command.action
            else {
                panic!("a revoke command");
            };
            assert_eq!(pb::RevocationReason::from(parsed), reason);
            assert_eq!(explanation, "复核不合格");
            // The names the CLI accepts are the proto's, minus the prefix.
            assert_eq!(reason_name(reason as i32), arg);
        }
        assert!(parse(&["revoke", "abc", "--reason", "lost", "--explanation", "x"]).is_err());
        assert!(parse(&["revoke", "abc", "--reason", "fraud"]).is_err());
    }

    #[test]
    fn verify_takes_exactly_one_subject() {
        assert!(parse(&["verify", "--id", "abc"]).is_ok());
        assert!(parse(&["verify", "--qr", "HTTPS://X/C/ABC#DEF"]).is_ok());
        assert!(parse(&["verify"]).is_err());
        assert!(parse(&["verify", "--id", "abc", "--qr", "x"]).is_err());
    }

    #[test]
    fn connection_flags_go_anywhere() {
        let command = parse(&["list", "--server", "http://10.0.0.1:50051", "--all"]).unwrap();
        assert_eq!(command.connection.server, "http://10.0.0.1:50051");
        let command = parse(&["--server", "http://10.0.0.2:50051", "keys"]).unwrap();
        assert_eq!(command.connection.server, "http://10.0.0.2:50051");
    }

    #[test]
    fn progress_counts_events_after_the_start() {
        let run = |start, cursor, target| pb::IssuanceRun {
            start_after_sequence: start,
            cursor,
            target_sequence: target,
            ..Default::default()
        };
        assert_eq!(run_progress(&run(100, 100, 250)), (0, 150));
        assert_eq!(run_progress(&run(100, 175, 250)), (75, 150));
        assert_eq!(run_progress(&run(100, 250, 250)), (150, 150));
        // Nothing to do yet, and a cursor ahead of a stale target: never past the end.
        assert_eq!(run_progress(&run(0, 0, 0)), (0, 0));
        assert_eq!(run_progress(&run(10, 30, 20)), (10, 10));
        assert_eq!(run_progress(&run(10, 5, 20)), (0, 10));
    }

    #[test]
    fn rpc_errors_read_like_grpc_codes() {
        let error = rpc(tonic::Status::not_found("batches/341324-2022 not found"));
        assert_eq!(
            error.to_string(),
            "NOT_FOUND: batches/341324-2022 not found"
        );
        let error = rpc(tonic::Status::failed_precondition("not CERTIFIED"));
        assert_eq!(error.to_string(), "FAILED_PRECONDITION: not CERTIFIED");
    }

    #[test]
    fn names_are_qualified_once() {
        assert_eq!(qualified("batches", "341324-2022"), "batches/341324-2022");
        assert_eq!(
            qualified("batches", "batches/341324-2022"),
            "batches/341324-2022"
        );
        assert_eq!(qualified("schools", " 3134001234 "), "schools/3134001234");
    }

    #[test]
    fn files_are_written_whole_or_not_at_all() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("证书.pdf");
        let mut part = PartFile::create(&out).unwrap();
        part.write(b"%PDF-").unwrap();
        part.write(b"1.7").unwrap();
        assert_eq!(part.sha256(), hex::encode(Sha256::digest(b"%PDF-1.7")));
        assert!(!out.exists(), "nothing at the target before the rename");
        part.commit().unwrap();
        assert_eq!(std::fs::read(&out).unwrap(), b"%PDF-1.7");

        let other = dir.path().join("other.pdf");
        let mut part = PartFile::create(&other).unwrap();
        part.write(b"partial").unwrap();
        drop(part);
        assert!(!other.exists());
        let left: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(left, vec![std::ffi::OsString::from("证书.pdf")]);
    }
}
