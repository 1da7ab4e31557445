//! `tica sampling …`: the review draw as an offline command an auditor runs without a server.
//!
//! `tica sampling draw --seed SEED --population FILE.csv --count K` reads a CSV whose first column
//! is `id` (other columns are ignored) and prints CSV `id,ticket` for the first K draws in draw
//! order, tickets exactly as the reference `consistent_sampler` prints them — so a third party
//! can check a draw with either tool (`tests/vectors/consistent_sampler/`).
//!
//! `tica sampling check-bundle FILE.zip` re-runs a round's draw from its reproducibility bundle
//! (ExportReviewRound, part BUNDLE) with this tool, as the bundle's `reproduce.py` does with the
//! reference: the population's and the plan's SHA-256 against the commitment the round logged
//! before its seed, then every stratum as `plan.json` says, compared with `expected_sample.csv`.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, anyhow, bail};
use clap::Subcommand;
use sha2::{Digest, Sha256};
use tica_domain::csv_cell;
use tica_domain::policy::Ratio;
use tica_domain::sampling::{IdList, Sampler, TicketSequence, stratum_size};

/// Offline sampling tools.
#[derive(Debug, Subcommand)]
pub enum SamplingCommand {
    /// Draw from a population with Rivest's consistent sampler (SHA-256 tickets).
    #[command(
        after_help = "Example (re-run a published draw from its population file and seed):
  tica sampling draw --seed 27431212040912348640 --population schools.csv --count 16"
    )]
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
    /// Re-run a review round's draw from its reproducibility bundle (the ZIP of
    /// `ExportReviewRound` part BUNDLE) and compare it with the sample it names; exits non-zero
    /// unless they agree.
    ///
    /// Example: tica sampling check-bundle 341324-2026-county-2-bundle.zip
    #[command(
        after_help = "Example (a round's bundle, from ExportReviewRound's BUNDLE part):
  tica sampling check-bundle 341324-2022-county-1-bundle.zip"
    )]
    CheckBundle {
        /// The bundle's ZIP.
        bundle: PathBuf,
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
            let ids = read_population_list(&population)?;
            let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
            let stdout = std::io::stdout();
            draw_list(&seed, &ids, skip, count, threads, stdout.lock())
        }
        SamplingCommand::CheckBundle { bundle } => {
            let bytes =
                std::fs::read(&bundle).with_context(|| format!("reading {}", bundle.display()))?;
            let files = tica_sampling::bundle::unzip(&bytes)
                .with_context(|| format!("{} is not a round's bundle", bundle.display()))?;
            let checked = check_bundle(&files)?;
            println!(
                "{}: reproduced ({} items, seed {:?}, log index {})",
                checked.round, checked.items, checked.seed, checked.log_index
            );
            Ok(())
        }
    }
}

/// What a bundle that reproduces says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckedBundle {
    /// `reviewRounds/{id}`.
    pub round: String,
    /// Items drawn (and expected).
    pub items: usize,
    /// The seed.
    pub seed: String,
    /// The commitment's log index.
    pub log_index: i64,
}

/// One drawn item as `expected_sample.csv` lists it: id, stage, stratum, position, ticket.
type Row = (String, String, String, u64, String);

/// Re-runs the draw of a bundle's files ([`tica_sampling::bundle::unzip`]) with this tool and
/// compares it with its `expected_sample.csv`; an error naming every difference otherwise.
pub fn check_bundle(files: &BTreeMap<String, Vec<u8>>) -> anyhow::Result<CheckedBundle> {
    let file = |name: &str| {
        files
            .get(name)
            .map(Vec::as_slice)
            .with_context(|| format!("the bundle has no {name}"))
    };
    let json = |name: &str| -> anyhow::Result<serde_json::Value> {
        serde_json::from_slice(file(name)?).with_context(|| format!("{name} is not JSON"))
    };
    let commitment = json("commitment.json")?;
    let plan = json("plan.json")?;
    let text = |v: &serde_json::Value, key: &str| v[key].as_str().unwrap_or_default().to_owned();
    let mut problems = Vec::new();
    for (name, key) in [
        ("population.csv", "population_sha256"),
        ("plan.json", "plan_sha256"),
    ] {
        let digest = hex::encode(Sha256::digest(file(name)?));
        if digest != text(&commitment, key) {
            problems.push(format!(
                "{name} has SHA-256 {digest}, the commitment says {}",
                text(&commitment, key)
            ));
        }
    }
    let seed = std::str::from_utf8(file("seed.txt")?)
        .context("seed.txt is not UTF-8")?
        .to_owned();
    let mut strata: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut population = csv::Reader::from_reader(file("population.csv")?);
    for record in population.records() {
        let record = record.context("population.csv")?;
        strata
            .entry(record.get(2).unwrap_or_default().to_owned())
            .or_default()
            .push(csv_cell::restore(record.get(0).unwrap_or_default()).to_owned());
    }
    let ids_of = |v: &serde_json::Value| -> BTreeSet<String> {
        v.as_array()
            .into_iter()
            .flatten()
            .filter_map(|id| id.as_str().map(str::to_owned))
            .collect()
    };
    let first = ids_of(&plan["re_examined_first"]);
    let none = BTreeSet::new();
    let draw = |stratum: &str, rate: &serde_json::Value, minimum: u64, first: &BTreeSet<String>| {
        let ids = strata.get(stratum).cloned().unwrap_or_default();
        let order: Vec<(u64, String, String)> =
            TicketSequence::new(&seed, ids.iter().map(String::as_str))
                .tickets()
                .iter()
                .enumerate()
                .map(|(i, t)| (i as u64 + 1, t.id.clone(), t.display()))
                .collect();
        let ratio = Ratio::new(
            u32::try_from(rate[0].as_u64().unwrap_or(0)).unwrap_or(0),
            u32::try_from(rate[1].as_u64().unwrap_or(0)).unwrap_or(0),
        );
        let size = stratum_size(ratio, ids.len() as u64, minimum) as usize;
        // Re-examined first, in ticket order; then the ids not drawn before, up to the size;
        // when too few are left, the ids skipped fill it (none twice).
        let mut picks: Vec<(u64, String, String)> = order
            .iter()
            .filter(|e| first.contains(&e.1))
            .cloned()
            .collect();
        let mut skip = ids_of(&plan["drawn_before"][stratum]);
        skip.extend(picks.iter().map(|e| e.1.clone()));
        let wanted = size.saturating_sub(picks.len()).min(ids.len());
        let mut rest: Vec<&(u64, String, String)> = order
            .iter()
            .filter(|e| !skip.contains(&e.1))
            .take(wanted)
            .collect();
        if rest.len() < wanted {
            let missing = wanted - rest.len();
            rest.extend(order.iter().filter(|e| skip.contains(&e.1)).take(missing));
        }
        for e in rest {
            if !picks.iter().any(|p| p.1 == e.1) {
                picks.push(e.clone());
            }
        }
        picks
    };
    let mut computed: BTreeSet<Row> = BTreeSet::new();
    for batch in plan["batches"].as_array().into_iter().flatten() {
        let county = text(batch, "school_stratum");
        let minimum = batch["minimum_per_stratum"].as_u64().unwrap_or(1);
        for (position, school, ticket) in draw(&county, &batch["school_rate"], minimum, &first) {
            let teachers = format!("school-{school}");
            for (p, teacher, t) in draw(&teachers, &batch["teacher_rate"], minimum, &none) {
                computed.insert((teacher, "teacher".into(), teachers.clone(), p, t));
            }
            computed.insert((school, "school".into(), county.clone(), position, ticket));
        }
    }
    let mut expected: BTreeSet<Row> = BTreeSet::new();
    let mut sample = csv::Reader::from_reader(file("expected_sample.csv")?);
    for record in sample.records() {
        let r = record.context("expected_sample.csv")?;
        let cell = |i: usize| csv_cell::restore(r.get(i).unwrap_or_default()).to_owned();
        expected.insert((
            cell(0),
            cell(1),
            cell(2),
            cell(3).parse().context("expected_sample.csv: a position")?,
            cell(4),
        ));
    }
    for row in expected.difference(&computed) {
        problems.push(format!("expected but not drawn: {row:?}"));
    }
    for row in computed.difference(&expected) {
        problems.push(format!("drawn but not expected: {row:?}"));
    }
    let round = text(&plan, "review_round");
    if !problems.is_empty() {
        bail!("{round}: NOT reproduced\n  {}", problems.join("\n  "));
    }
    Ok(CheckedBundle {
        round,
        items: computed.len(),
        seed,
        log_index: commitment["log_index"].as_i64().unwrap_or(-1),
    })
}

/// Writes `id,ticket` for draws `skip..skip + count` of `ids` under `seed`, as [`draw`] does,
/// without a ticket or a `String` for every id: `tica sampling draw` over a population of a
/// million ids ([`IdList::draw`]: hashing shared by `threads`, only the first `skip + count`
/// ordered).
pub fn draw_list(
    seed: &str,
    ids: &IdList,
    skip: usize,
    count: usize,
    threads: usize,
    out: impl Write,
) -> anyhow::Result<()> {
    let sampler = Sampler::new(seed);
    let drawn = ids
        .draw(&sampler, skip, count, threads)
        .map_err(|duplicates| {
            anyhow!(
                "the population lists {} more than once (ids must be distinct)",
                duplicates.join(", ")
            )
        })?;
    let mut writer = csv::WriterBuilder::new()
        .terminator(csv::Terminator::Any(b'\n'))
        .from_writer(out);
    writer.write_record(["id", "ticket"])?;
    let mut ticket = String::new();
    for index in drawn {
        let id = ids.get(index);
        ticket.clear();
        sampler.display_into(id, &mut ticket);
        // As in `draw`: an id that starts like a formula is written as text.
        writer.write_record([csv_cell::neutralise(id).as_ref(), ticket.as_str()])?;
    }
    writer.flush()?;
    Ok(())
}

/// Writes `id,ticket` for draws `skip..skip + count` of `ids` under `seed`: every id's full
/// ticket, in order ([`TicketSequence`]). The plain form of [`draw_list`], which the command
/// runs; the two print the same bytes (`tests/sampling_draw.rs`).
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

/// The ids of a population CSV, as [`read_population`] reads them and with the same errors,
/// streamed from the file into one buffer: the file is never held whole, nor its ids one
/// `String` each.
pub fn read_population_list(path: &Path) -> anyhow::Result<IdList> {
    let reading = || format!("reading {}", path.display());
    // Only when a byte is not UTF-8: the whole file's check, for the same message as
    // `read_population`'s (where in the file).
    let not_utf8 = || match std::fs::read(path) {
        Ok(bytes) => match std::str::from_utf8(&bytes) {
            Err(e) => anyhow::Error::new(e).context(format!("{} is not UTF-8", path.display())),
            Ok(_) => anyhow!("{} changed while it was read", path.display()),
        },
        Err(e) => anyhow::Error::new(e).context(reading()),
    };
    let mut file = std::fs::File::open(path).with_context(reading)?;
    // A byte-order mark before the header is not part of it.
    let mut head = Vec::with_capacity(3);
    (&mut file)
        .take(3)
        .read_to_end(&mut head)
        .with_context(reading)?;
    let start: &[u8] = if head == b"\xEF\xBB\xBF" { &[] } else { &head };
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .buffer_capacity(1 << 16)
        .from_reader(start.chain(file));
    // As `read_population`: a file that is not UTF-8 is refused as such whatever else is wrong
    // with it, so the first other problem waits until the whole file has been read.
    let mut problem: Option<anyhow::Error> = None;
    let header = reader.byte_headers().with_context(reading)?;
    let valid = |record: &csv::ByteRecord| record.iter().all(|f| std::str::from_utf8(f).is_ok());
    if !valid(header) {
        return Err(not_utf8());
    }
    let first = std::str::from_utf8(header.get(0).unwrap_or_default())
        .map_err(|_| not_utf8())?
        .trim();
    if first != "id" {
        problem = Some(anyhow!(
            "{}: the first column must be headed `id` (found `{first}`)",
            path.display()
        ));
    }
    let mut ids = IdList::new();
    let mut record = csv::ByteRecord::new();
    let mut row = 1;
    while reader
        .read_byte_record(&mut record)
        .with_context(|| format!("{}: row {}", path.display(), row + 1))?
    {
        row += 1;
        if !valid(&record) {
            return Err(not_utf8());
        }
        if problem.is_some() {
            continue;
        }
        let cell =
            std::str::from_utf8(record.get(0).unwrap_or_default()).map_err(|_| not_utf8())?;
        let id = csv_cell::restore(cell);
        if id.is_empty() {
            problem = Some(anyhow!("{}: row {row} has no id", path.display()));
            continue;
        }
        ids.push(id);
    }
    match problem {
        Some(problem) => Err(problem),
        None => Ok(ids),
    }
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
