//! `tica roster …`: an operator's client for the roster service, with tables and progress bars.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use clap::{Args, Subcommand, ValueEnum};
use comfy_table::{Table, presets::UTF8_FULL_CONDENSED};
use indicatif::{ProgressBar, ProgressStyle};
use tica_client::Roster as RosterClient;
use tica_client::files::{self as client, Kind};
use tica_proto::tica::common::v1 as common;
use tica_proto::tica::roster::v1 as pb;
use tica_sample::{CountySpec, SampleRoster, SampleSpec};
use tonic::transport::Channel;

pub mod api_clients;
pub mod log;

/// Where the server is and who is calling (shared by `tica roster …` and `tica certificates …`).
#[derive(Debug, Args)]
pub struct Connection {
    /// The gRPC endpoint.
    #[arg(
        long,
        env = "TICA_SERVER",
        default_value = "http://127.0.0.1:50051",
        global = true
    )]
    pub server: String,
    /// Bearer token (see `tica token mint`); verifying certificates and listing keys need none.
    #[arg(long, env = "TICA_TOKEN", hide_env_values = true, global = true)]
    pub token: Option<String>,
}

impl Connection {
    /// The token, or an error saying how to get one.
    pub fn required_token(&self) -> anyhow::Result<&str> {
        match self.token.as_deref().filter(|t| !t.is_empty()) {
            Some(token) => Ok(token),
            None => bail!(
                "no token: set TICA_TOKEN (e.g. `export TICA_TOKEN=$(tica token mint --role province_office --jurisdiction 340000)`) or pass --token"
            ),
        }
    }

    /// A connected channel to the server.
    pub async fn channel(&self) -> anyhow::Result<Channel> {
        Channel::from_shared(self.server.clone())
            .context("--server must be a URL such as http://127.0.0.1:50051")?
            .connect_timeout(Duration::from_secs(5))
            .connect()
            .await
            .with_context(|| format!("cannot reach {} (is `tica serve` running?)", self.server))
    }

    async fn client(&self) -> anyhow::Result<RosterClient> {
        let token = self.required_token()?;
        Ok(tica_client::roster(self.channel().await?, token))
    }
}

/// Prints a listed page and "N of TOTAL {noun}", pointing at `--all` when more pages follow.
pub(crate) fn print_page(table: &Table, noun: &str, total: i64, more: bool) {
    println!("{table}");
    println!(
        "{} of {total} {noun}{}",
        table.row_count(),
        if more { " (more: --all)" } else { "" }
    );
}

/// Roster commands.
#[derive(Debug, Subcommand)]
pub enum RosterCommand {
    /// Write a deterministic sample province (or, with `--county`, one county) as CSV and XLSX
    /// files (offline).
    #[command(
        after_help = "Example (泗县's 107 schools and 3,000 teachers, then import them):
  tica roster sample --county sixian --out sixian
  tica roster jurisdictions load sixian/jurisdictions.csv
  tica roster import schools sixian/schools.csv --parent jurisdictions/341324
  tica roster import teachers sixian/teachers.xlsx --parent jurisdictions/341324"
    )]
    Sample {
        /// Directory to write into.
        #[arg(long)]
        out: PathBuf,
        /// Teachers in all [default: 20000 for the province, 3000 for a county].
        #[arg(long)]
        teachers: Option<usize>,
        /// Seed.
        #[arg(long, default_value_t = 2022)]
        seed: u64,
        /// Write one county instead of the province: 泗县 2022 (341324) or 永宁县, Ningxia
        /// (640121), with 107 schools of real kinds per 3,000 teachers.
        #[arg(long, value_enum)]
        county: Option<SampleCounty>,
    },
    /// Jurisdictions.
    #[command(
        subcommand,
        after_help = "Example (a province office registers a county, then lists its city's counties):
  tica roster jurisdictions create 341324 泗县 --parent 341300
  tica roster jurisdictions list --parent jurisdictions/341300
  tica roster jurisdictions load divisions.csv   # code,name,parent; parents first"
    )]
    Jurisdictions(JurisdictionsCommand),
    /// Schools.
    #[command(
        subcommand,
        after_help = "Example (a county office lists every school of its county):
  tica roster schools list --parent jurisdictions/341324 --all"
    )]
    Schools(SchoolsCommand),
    /// Teachers.
    #[command(
        subcommand,
        after_help = "Example (a school office lists its teachers, ID numbers masked; one in full):
  tica roster teachers list --parent schools/3413240001 --all
  tica roster teachers get 34132400010001"
    )]
    Teachers(TeachersCommand),
    /// Import schools or teachers from a CSV or XLSX file.
    #[command(
        after_help = "Example (check first, then import; refused rows go to a file):
  tica roster import teachers 教师名单.xlsx --parent jurisdictions/341324 --dry-run
  tica roster import teachers 教师名单.csv --gbk --valid-rows --errors-out refused.csv"
    )]
    Import(ImportArgs),
    /// Export schools or teachers to a CSV or XLSX file.
    #[command(
        after_help = "Example (a county's teachers as a workbook, ID numbers masked):
  tica roster export teachers --parent jurisdictions/341324 --out 泗县教师.xlsx"
    )]
    Export(ExportArgs),
    /// API clients: other agencies' machines that fetch their own tokens at `POST
    /// /oauth/token` (OAuth 2.0 client credentials); offices register, list and revoke them.
    #[command(
        subcommand,
        after_help = "Example (a county office; the secret is printed once):
  tica roster api-clients create --jurisdiction 341324 --role county_office --display-name \"泗县人社局职称评审系统\"
  tica roster api-clients list --state active
  tica roster api-clients show apiClients/CLIENT_ID
  tica roster api-clients revoke CLIENT_ID --reason \"合同终止\""
    )]
    ApiClients(api_clients::ApiClientsCommand),
}

/// Jurisdiction commands.
#[derive(Debug, Subcommand)]
pub enum JurisdictionsCommand {
    /// List the children of a jurisdiction (or the one you act for).
    List {
        /// `jurisdictions/{code}`.
        #[arg(long, default_value = "")]
        parent: String,
        #[command(flatten)]
        connection: Connection,
    },
    /// Register a jurisdiction.
    Create {
        /// GB/T 2260 code.
        code: String,
        /// Official name.
        name: String,
        /// Parent code (none for a province).
        #[arg(long)]
        parent: Option<String>,
        #[command(flatten)]
        connection: Connection,
    },
    /// Register every jurisdiction in a CSV of `code,name,parent` (parents first); existing
    /// ones are skipped.
    Load {
        /// The CSV file.
        file: PathBuf,
        #[command(flatten)]
        connection: Connection,
    },
}

/// School commands.
#[derive(Debug, Subcommand)]
pub enum SchoolsCommand {
    /// List schools.
    List {
        /// `jurisdictions/{code}`.
        #[arg(long, default_value = "")]
        parent: String,
        /// Rows per page (at most 1000).
        #[arg(long, default_value_t = 50)]
        page_size: i32,
        /// Follow every page.
        #[arg(long)]
        all: bool,
        #[command(flatten)]
        connection: Connection,
    },
}

/// Teacher commands.
#[derive(Debug, Subcommand)]
pub enum TeachersCommand {
    /// List teachers (ID numbers masked).
    List {
        /// `schools/{code}` or `jurisdictions/{code}`.
        #[arg(long, default_value = "")]
        parent: String,
        /// Rows per page (at most 1000).
        #[arg(long, default_value_t = 50)]
        page_size: i32,
        /// Follow every page.
        #[arg(long)]
        all: bool,
        #[command(flatten)]
        connection: Connection,
    },
    /// Show one teacher with their assignment history.
    Get {
        /// Teacher number.
        number: String,
        #[command(flatten)]
        connection: Connection,
    },
}

/// What to import or export.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum What {
    /// Schools.
    Schools,
    /// Teachers.
    Teachers,
}

impl From<What> for Kind {
    fn from(what: What) -> Kind {
        match what {
            What::Schools => Kind::Schools,
            What::Teachers => Kind::Teachers,
        }
    }
}

/// Arguments of `tica roster import`.
#[derive(Debug, Args)]
pub struct ImportArgs {
    /// schools or teachers.
    what: What,
    /// A .csv or .xlsx file.
    file: PathBuf,
    /// The jurisdiction (or school, for teachers) the rows must lie in; default: yours.
    #[arg(long, default_value = "")]
    parent: String,
    /// Import the good rows even if some are bad (default: all or nothing).
    #[arg(long)]
    valid_rows: bool,
    /// Update registered records instead of refusing them.
    #[arg(long)]
    update: bool,
    /// Check every row, store nothing.
    #[arg(long)]
    dry_run: bool,
    /// The CSV is GB18030/GBK (what Excel on Chinese Windows writes).
    #[arg(long)]
    gbk: bool,
    /// Write every refused row to this CSV file.
    #[arg(long)]
    errors_out: Option<PathBuf>,
    #[command(flatten)]
    connection: Connection,
}

/// Arguments of `tica roster export`.
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// schools or teachers.
    what: What,
    /// Output file; `.xlsx` writes a workbook, anything else CSV.
    #[arg(long)]
    out: PathBuf,
    /// `jurisdictions/{code}` or `schools/{code}`; default: yours.
    #[arg(long, default_value = "")]
    parent: String,
    /// Full resident ID numbers instead of masked ones (offices only; audited).
    #[arg(long)]
    full_id_numbers: bool,
    #[command(flatten)]
    connection: Connection,
}

/// Runs a roster command.
pub async fn run(command: RosterCommand) -> anyhow::Result<()> {
    match command {
        RosterCommand::Sample {
            out,
            teachers,
            seed,
            county,
        } => write_sample(&out, teachers, seed, county),
        RosterCommand::Jurisdictions(c) => jurisdictions(c).await,
        RosterCommand::Schools(SchoolsCommand::List {
            parent,
            page_size,
            all,
            connection,
        }) => {
            let mut client = connection.client().await?;
            let mut table = table(&[
                "学校标识码",
                "学校名称",
                "区县",
                "办学类型",
                "乡村",
                "专任教师",
                "已登记",
            ]);
            let mut token = String::new();
            loop {
                let page = client
                    .list_schools(pb::ListSchoolsRequest {
                        parent: parent.clone(),
                        page_size,
                        page_token: token,
                        ..Default::default()
                    })
                    .await?
                    .into_inner();
                for s in &page.schools {
                    let kind = pb::SchoolKind::try_from(s.kind)
                        .map(|k| {
                            k.as_str_name()
                                .trim_start_matches("SCHOOL_KIND_")
                                .to_lowercase()
                        })
                        .unwrap_or_default();
                    table.add_row(vec![
                        s.name.trim_start_matches("schools/").to_owned(),
                        s.display_name.clone(),
                        s.jurisdiction
                            .trim_start_matches("jurisdictions/")
                            .to_owned(),
                        kind,
                        if s.rural { "是" } else { "否" }.to_owned(),
                        s.full_time_teacher_count.to_string(),
                        s.registered_teacher_count.to_string(),
                    ]);
                }
                token = page.next_page_token;
                if !all || token.is_empty() {
                    println!("{table}");
                    println!(
                        "{} of {} schools{}",
                        table.row_count(),
                        page.total_size,
                        if token.is_empty() {
                            ""
                        } else {
                            " (more: --all)"
                        }
                    );
                    return Ok(());
                }
            }
        }
        RosterCommand::Teachers(TeachersCommand::List {
            parent,
            page_size,
            all,
            connection,
        }) => {
            let mut client = connection.client().await?;
            let mut table = table(&[
                "教师编号",
                "姓名",
                "身份证号",
                "学校",
                "学段",
                "学科",
                "类别",
            ]);
            let mut token = String::new();
            loop {
                let page = client
                    .list_teachers(pb::ListTeachersRequest {
                        parent: parent.clone(),
                        page_size,
                        page_token: token,
                        ..Default::default()
                    })
                    .await?
                    .into_inner();
                for t in &page.teachers {
                    table.add_row(teacher_row(t));
                }
                token = page.next_page_token;
                if !all || token.is_empty() {
                    crate::cli::print_page(&table, "teachers", page.total_size, !token.is_empty());
                    return Ok(());
                }
            }
        }
        RosterCommand::Teachers(TeachersCommand::Get { number, connection }) => {
            let mut client = connection.client().await?;
            let t = client
                .get_teacher(pb::GetTeacherRequest {
                    name: format!("teachers/{number}"),
                })
                .await?
                .into_inner();
            let mut table = table(&[
                "教师编号",
                "姓名",
                "身份证号",
                "学校",
                "学段",
                "学科",
                "类别",
            ]);
            table.add_row(teacher_row(&t));
            println!("{table}");
            let mut history = table_of(&["学校", "起", "止", "原因"]);
            for a in &t.assignments {
                history.add_row(vec![
                    a.school.trim_start_matches("schools/").to_owned(),
                    a.start_date.as_ref().map(date).unwrap_or_default(),
                    a.end_date
                        .as_ref()
                        .map(date)
                        .unwrap_or_else(|| "至今".into()),
                    a.end_reason.clone(),
                ]);
            }
            println!("{history}");
            Ok(())
        }
        RosterCommand::Import(args) => import(args).await,
        RosterCommand::ApiClients(command) => api_clients::run(command).await,
        RosterCommand::Export(args) => {
            let mut client = args.connection.client().await?;
            let format = if args.out.extension().is_some_and(|e| e == "xlsx") {
                common::FileFormat::Xlsx
            } else {
                common::FileFormat::Csv
            };
            let exported = client::export(
                &mut client,
                args.what.into(),
                &args.parent,
                format,
                args.full_id_numbers,
            )
            .await?;
            std::fs::write(&args.out, &exported.bytes)
                .with_context(|| format!("writing {}", args.out.display()))?;
            println!(
                "wrote {} rows to {} ({} bytes)",
                exported.metadata.row_count,
                args.out.display(),
                exported.bytes.len()
            );
            Ok(())
        }
    }
}

fn table(header: &[&str]) -> Table {
    table_of(header)
}

fn table_of(header: &[&str]) -> Table {
    let mut table = Table::new();
    table
        .load_preset(UTF8_FULL_CONDENSED)
        .set_header(header.iter().map(|h| h.to_string()));
    table
}

fn date(d: &tica_proto::google::r#type::Date) -> String {
    format!("{:04}-{:02}-{:02}", d.year, d.month, d.day)
}

fn teacher_row(t: &pb::Teacher) -> Vec<String> {
    let stage = pb::Stage::try_from(t.stage)
        .map(|s| s.as_str_name().trim_start_matches("STAGE_").to_lowercase())
        .unwrap_or_default();
    let category = pb::TeacherCategory::try_from(t.category)
        .map(|c| {
            c.as_str_name()
                .trim_start_matches("TEACHER_CATEGORY_")
                .to_lowercase()
        })
        .unwrap_or_default();
    vec![
        t.name.trim_start_matches("teachers/").to_owned(),
        t.display_name.clone(),
        t.id_number.clone(),
        t.school.trim_start_matches("schools/").to_owned(),
        stage,
        t.subject.clone(),
        category,
    ]
}

async fn jurisdictions(command: JurisdictionsCommand) -> anyhow::Result<()> {
    let request = |code: &str, name: &str, parent: Option<&str>| pb::CreateJurisdictionRequest {
        jurisdiction: Some(pb::Jurisdiction {
            name: format!("jurisdictions/{code}"),
            display_name: name.to_owned(),
            parent: parent
                .filter(|p| !p.is_empty())
                .map(|p| format!("jurisdictions/{p}"))
                .unwrap_or_default(),
            ..Default::default()
        }),
    };
    match command {
        JurisdictionsCommand::List { parent, connection } => {
            let mut client = connection.client().await?;
            let page = client
                .list_jurisdictions(pb::ListJurisdictionsRequest {
                    parent,
                    page_size: 1000,
                    ..Default::default()
                })
                .await?
                .into_inner();
            let mut table = table(&["代码", "名称", "级别", "上级"]);
            for j in &page.jurisdictions {
                let level = pb::JurisdictionLevel::try_from(j.level)
                    .map(|l| {
                        l.as_str_name()
                            .trim_start_matches("JURISDICTION_LEVEL_")
                            .to_lowercase()
                    })
                    .unwrap_or_default();
                table.add_row(vec![
                    j.name.trim_start_matches("jurisdictions/").to_owned(),
                    j.display_name.clone(),
                    level,
                    j.parent.trim_start_matches("jurisdictions/").to_owned(),
                ]);
            }
            println!("{table}");
            Ok(())
        }
        JurisdictionsCommand::Create {
            code,
            name,
            parent,
            connection,
        } => {
            let mut client = connection.client().await?;
            let j = client
                .create_jurisdiction(request(&code, &name, parent.as_deref()))
                .await?
                .into_inner();
            println!("created {} {}", j.name, j.display_name);
            Ok(())
        }
        JurisdictionsCommand::Load { file, connection } => {
            let mut client = connection.client().await?;
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("reading {}", file.display()))?;
            let mut reader = csv_rows(&text);
            let (mut created, mut existing) = (0, 0);
            for (line, row) in reader.by_ref() {
                let [code, name, parent] = row.as_slice() else {
                    bail!("{}:{line}: expected code,name,parent", file.display());
                };
                match client
                    .create_jurisdiction(request(code, name, Some(parent)))
                    .await
                {
                    Ok(_) => created += 1,
                    Err(status) if status.code() == tonic::Code::AlreadyExists => existing += 1,
                    Err(status) => bail!("{}:{line}: {}", file.display(), status.message()),
                }
            }
            println!("{created} created, {existing} already registered");
            Ok(())
        }
    }
}

/// Rows of a small `code,name,parent` CSV (header skipped), with line numbers.
fn csv_rows(text: &str) -> impl Iterator<Item = (usize, Vec<String>)> + '_ {
    text.trim_start_matches('\u{feff}')
        .lines()
        .enumerate()
        .skip(1)
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            let cells = l.split(',');
            let cells = cells.map(|c| tica_domain::csv_cell::restore(c.trim()).to_owned());
            (i + 1, cells.collect())
        })
}

async fn import(args: ImportArgs) -> anyhow::Result<()> {
    let bytes =
        std::fs::read(&args.file).with_context(|| format!("reading {}", args.file.display()))?;
    let mut client = args.connection.client().await?;
    let options = common::ImportOptions {
        format: common::FileFormat::Unspecified as i32,
        encoding: if args.gbk {
            common::TextEncoding::Gb18030
        } else {
            common::TextEncoding::Unspecified
        } as i32,
        mode: if args.valid_rows {
            common::ImportMode::ValidRows
        } else {
            common::ImportMode::AllOrNothing
        } as i32,
        existing: if args.update {
            common::ExistingRecords::Update
        } else {
            common::ExistingRecords::Reject
        } as i32,
        validate_only: args.dry_run,
        file_name: args
            .file
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
    };
    let bar = ProgressBar::new(bytes.len() as u64);
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} {msg:<28} [{bar:30}] {bytes}/{total_bytes} {elapsed}",
        )
        .expect("valid template")
        .progress_chars("=> "),
    );
    bar.set_message("uploading");
    bar.enable_steady_tick(Duration::from_millis(120));
    let result = client::import(
        &mut client,
        args.what.into(),
        &args.parent,
        options,
        bytes,
        |p| {
            bar.set_position(p.bytes_sent as u64);
            if let Some(server) = &p.server {
                let message = match server.phase.as_str() {
                    "writing" => format!("writing {} rows", server.rows_written),
                    "checking" => format!("checking {} rows", server.rows_checked),
                    other => other.to_owned(),
                };
                bar.set_message(message);
            }
        },
    )
    .await;
    bar.finish_and_clear();
    let result = result?;
    let report = &result.report;
    if !report.file_error.is_empty() {
        bail!("the file was refused: {}", report.file_error);
    }
    println!(
        "{} rows: {} created, {} updated, {} refused; {} ({} ms, sha256 {})",
        report.rows_total,
        report.rows_created,
        report.rows_updated,
        report.rows_rejected,
        if report.committed {
            "stored"
        } else {
            "nothing stored"
        },
        report.elapsed_millis,
        &report.file_sha256[..12.min(report.file_sha256.len())],
    );
    if !result.errors.is_empty() {
        let mut table = table(&["行", "列", "原因", "说明"]);
        for e in result.errors.iter().take(50) {
            let reason = common::RowErrorReason::try_from(e.reason)
                .map(|r| {
                    r.as_str_name()
                        .trim_start_matches("ROW_ERROR_REASON_")
                        .to_lowercase()
                })
                .unwrap_or_default();
            table.add_row(vec![
                e.line.to_string(),
                e.column.clone(),
                reason,
                e.message.clone(),
            ]);
        }
        println!("{table}");
        if result.errors.len() > 50 {
            println!(
                "… and {} more (--errors-out FILE writes them all)",
                result.errors.len() - 50
            );
        }
        if let Some(path) = &args.errors_out {
            write_errors(path, &result.errors)?;
            println!(
                "wrote {} refused rows to {}",
                result.errors.len(),
                path.display()
            );
        }
    }
    if !report.committed && !args.dry_run {
        bail!("nothing was imported");
    }
    Ok(())
}

fn write_errors(path: &Path, errors: &[common::RowError]) -> anyhow::Result<()> {
    let mut out = tica_roster::files::write::UTF8_BOM.to_vec();
    tica_roster::files::write::csv_record(&mut out, &["行", "列", "原因", "说明"]);
    for e in errors {
        let reason = common::RowErrorReason::try_from(e.reason)
            .map(|r| r.as_str_name())
            .unwrap_or("");
        tica_roster::files::write::csv_record(
            &mut out,
            &[&e.line.to_string(), &e.column, reason, &e.message],
        );
    }
    std::fs::write(path, out).with_context(|| format!("writing {}", path.display()))
}

/// The counties `tica roster sample --county` can write.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum SampleCounty {
    /// 泗县, 宿州市, 安徽省, as in 2022 (《泗县实施意见》).
    Sixian,
    /// 永宁县, 银川市, 宁夏回族自治区.
    Ningxia,
}

fn write_sample(
    out: &Path,
    teachers: Option<usize>,
    seed: u64,
    county: Option<SampleCounty>,
) -> anyhow::Result<()> {
    let sample = match county {
        None => SampleRoster::generate(SampleSpec {
            seed,
            teachers: teachers.unwrap_or(20_000),
            ..SampleSpec::province()
        }),
        Some(county) => {
            let teachers = teachers.unwrap_or(3_000);
            if teachers < CountySpec::MIN_TEACHERS {
                bail!(
                    "a county needs at least {} teachers (--teachers {teachers})",
                    CountySpec::MIN_TEACHERS
                );
            }
            SampleRoster::county(&match county {
                SampleCounty::Sixian => CountySpec::sixian(teachers, seed),
                SampleCounty::Ningxia => CountySpec::ningxia(teachers, seed),
            })
        }
    };
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    let mut jurisdictions = Vec::new();
    tica_domain::csv_cell::write_record(&mut jurisdictions, &["code", "name", "parent"], "\n");
    for j in &sample.jurisdictions {
        tica_domain::csv_cell::write_record(
            &mut jurisdictions,
            &[
                j.code.to_string(),
                j.name.clone(),
                j.parent.map(|p| p.to_string()).unwrap_or_default(),
            ],
            "\n",
        );
    }
    std::fs::write(out.join("jurisdictions.csv"), jurisdictions)?;
    std::fs::write(out.join("schools.csv"), sample.schools_csv())?;
    std::fs::write(out.join("teachers.csv"), sample.teachers_csv())?;
    std::fs::write(out.join("teachers.xlsx"), sample.teachers_xlsx())?;
    let county = match county {
        Some(_) => sample
            .jurisdictions
            .last()
            .map(|c| format!("{} ({}), seed {seed}: ", c.name, c.code))
            .unwrap_or_default(),
        None => String::new(),
    };
    println!(
        "wrote {county}{} jurisdictions, {} schools and {} teachers to {} (jurisdictions.csv, schools.csv, teachers.csv, teachers.xlsx)",
        sample.jurisdictions.len(),
        sample.schools.len(),
        sample.teachers.len(),
        out.display()
    );
    Ok(())
}

#[cfg(test)]
mod help_tests {
    use clap::{Args, Command, Subcommand};

    /// The commands that have none of their own or their group's, named by path.
    fn without_example(command: &Command, path: &str, group_has: bool, out: &mut Vec<String>) {
        let has = group_has
            || command
                .get_after_help()
                .is_some_and(|h| h.to_string().contains("  tica "));
        let mut children = command
            .get_subcommands()
            .filter(|c| c.get_name() != "help")
            .peekable();
        if children.peek().is_none() {
            if !has {
                out.push(path.to_owned());
            }
            return;
        }
        for child in children {
            let name = format!("{path} {}", child.get_name());
            without_example(child, &name, has, out);
        }
    }

    #[test]
    fn every_command_shows_an_example_in_its_help_or_its_groups() {
        let trees = [
            super::RosterCommand::augment_subcommands(Command::new("tica roster")),
            crate::certificate::CertificatesCommand::augment_args(Command::new(
                "tica certificates",
            )),
            crate::report::ReportCommand::augment_subcommands(Command::new("tica report")),
            crate::sampling::SamplingCommand::augment_subcommands(Command::new("tica sampling")),
            crate::token::TokenCommand::augment_subcommands(Command::new("tica token")),
            crate::credential::CredentialCommand::augment_subcommands(Command::new(
                "tica credential",
            )),
            super::log::LogCommand::augment_subcommands(Command::new("tica log")),
        ];
        let mut missing = Vec::new();
        for tree in &trees {
            without_example(tree, tree.get_name(), false, &mut missing);
        }
        assert!(missing.is_empty(), "no example in --help: {missing:#?}");
    }
}
