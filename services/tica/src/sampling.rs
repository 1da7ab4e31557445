//! `tica sampling …`: the review draw as an offline command an auditor runs without a server.
//!
//! `tica sampling draw --seed SEED --population FILE.csv --count K` reads a CSV whose first column
//! is `id` (other columns are ignored) and prints CSV `id,ticket` for the first K draws in draw
//! order, tickets exactly as the reference `consistent_sampler` prints them — so a third party
//! can check a draw with either tool (`tests/vectors/consistent_sampler/`).

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use clap::Subcommand;
use tica_domain::csv_cell;
use tica_domain::sampling::TicketSequence;

/// Offline sampling tools.
#[derive(Debug, Subcommand)]
pub enum SamplingCommand {
    /// Draw from a population with Rivest's consistent sampler (SHA-256 tickets).
    Draw {
        /// The public seed, exactly as entered (e.g. 20 dice digits).
        #[arg(long)]
        seed: String,
        /// CSV whose first column, headed `id`, holds the population's ids.
        #[arg(long)]
        population: PathBuf,
        /// How many draws to print (all when larger than the population).
        #[arg(long)]
        count: usize,
        /// Skip this many draws first: a later round continuing the same sequence.
        #[arg(long, default_value_t = 0)]
        skip: usize,
    },
}

/// Runs a sampling command, writing to stdout.
pub fn run(command: SamplingCommand) -> anyhow::Result<()> {
    match command {
        SamplingCommand::Draw {
            seed,
            population,
            count,
            skip,
        } => {
            let ids = read_population(&population)?;
            let stdout = std::io::stdout();
            draw(&seed, &ids, skip, count, stdout.lock())
        }
    }
}

/// Writes `id,ticket` for draws `skip..skip + count` of `ids` under `seed`.
pub fn draw(
    seed: &str,
    ids: &[String],
    skip: usize,
    count: usize,
    out: impl Write,
) -> anyhow::Result<()> {
    let duplicates = TicketSequence::duplicates(ids.iter().map(String::as_str));
    if !duplicates.is_empty() {
        bail!(
            "the population lists {} more than once (ids must be distinct)",
            duplicates.join(", ")
        );
    }
    let sequence = TicketSequence::new(seed, ids.iter().map(String::as_str));
    let mut writer = csv::WriterBuilder::new()
        .terminator(csv::Terminator::Any(b'\n'))
        .from_writer(out);
    writer.write_record(["id", "ticket"])?;
    for ticket in sequence.after(skip, count) {
        // An id that starts like a formula is written as text (`tica_domain::csv_cell`);
        // `read_population` reads such a cell back as the id it was.
        writer.write_record([
            csv_cell::neutralise(ticket.id.as_str()).as_ref(),
            ticket.display().as_str(),
        ])?;
    }
    writer.flush()?;
    Ok(())
}

/// The ids of a population CSV: the first column, which must be headed `id`.
pub fn read_population(path: &Path) -> anyhow::Result<Vec<String>> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let text =
        std::str::from_utf8(&bytes).with_context(|| format!("{} is not UTF-8", path.display()))?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .from_reader(text.as_bytes());
    let header = reader
        .headers()?
        .get(0)
        .unwrap_or_default()
        .trim()
        .to_owned();
    if header != "id" {
        bail!(
            "{}: the first column must be headed `id` (found `{header}`)",
            path.display()
        );
    }
    let mut ids = Vec::new();
    for (index, record) in reader.records().enumerate() {
        let record = record.with_context(|| format!("{}: row {}", path.display(), index + 2))?;
        let id = csv_cell::restore(record.get(0).unwrap_or_default());
        if id.is_empty() {
            bail!("{}: row {} has no id", path.display(), index + 2);
        }
        ids.push(id.to_owned());
    }
    Ok(ids)
}
