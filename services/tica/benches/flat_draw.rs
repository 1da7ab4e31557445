//! The auditor's offline draw over a flat population (issue 20 §3): `tica sampling draw` over a
//! CSV of 1,000,000 teacher numbers, and, in the same run, the same draw with the reference
//! Python sampler (`consistent_sampler` from PyPI) through `reference_flat_draw.py` — both as
//! the processes an auditor runs, each timed end to end (start, reading the CSV, the draw,
//! printing) with its peak resident memory, and their outputs compared byte for byte.
//!
//! ```sh
//! pip install consistent_sampler==1.0.10     # python3 on PATH must import it
//! cargo bench -p tica --bench flat_draw
//! ```
//!
//! `TICA_BENCH_COUNT` sets how many are drawn (default 50,000: 5 %, the Ningxia province audit's
//! rate), `TICA_BENCH_ROUNDS` the rounds of `tica` (median reported; the reference runs 3),
//! `TICA_BENCH_BASELINE` another `tica` binary (say, a build of an older commit) to time in the
//! same run and check against the same output. Peak memory comes from GNU time
//! (`/usr/bin/time`); without it only times are shown. Under `cargo test --benches` it draws
//! once from 10,000 ids without the reference.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

const SEED: &str = "79512035641283460917";

/// 100 counties × 100 schools × `teachers` teacher numbers, as `shared/domain/benches/draw.rs`
/// numbers them, one a line under the header `id`.
fn write_population(path: &Path, teachers: u64) {
    let mut text = String::from("id\n");
    for c in 0..100u64 {
        let county = (3411 + c / 10) * 100 + c % 10 + 1;
        for s in 0..100 {
            let school = county * 10_000 + s + 1;
            for t in 0..teachers {
                text.push_str(&(school * 10_000 + t + 1).to_string());
                text.push('\n');
            }
        }
    }
    std::fs::write(path, text).expect("the population is written");
}

/// One run of a command: its output, wall time and (with GNU time) peak resident memory in MB.
struct Run {
    stdout: Vec<u8>,
    seconds: f64,
    peak_mb: Option<f64>,
}

fn run(program: &str, args: &[&str], dir: &Path) -> Run {
    let gnu_time = Path::new("/usr/bin/time");
    let report = dir.join("time.txt");
    let mut command = if gnu_time.exists() {
        let mut c = Command::new(gnu_time);
        c.arg("-f").arg("%e %M").arg("-o").arg(&report).arg(program);
        c
    } else {
        Command::new(program)
    };
    command.args(args);
    let started = Instant::now();
    let out = command
        .output()
        .unwrap_or_else(|e| panic!("{program} runs: {e}"));
    let seconds = started.elapsed().as_secs_f64();
    if !out.status.success() {
        eprintln!(
            "{program} failed (the reference needs: pip install consistent_sampler==1.0.10): {}",
            String::from_utf8_lossy(&out.stderr)
        );
        std::process::exit(2);
    }
    let peak_mb = std::fs::read_to_string(&report).ok().and_then(|text| {
        let kb: f64 = text.split_whitespace().nth(1)?.parse().ok()?;
        Some(kb / 1024.0)
    });
    Run {
        stdout: out.stdout,
        seconds,
        peak_mb,
    }
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn peak(runs: &[Run]) -> String {
    runs.iter()
        .filter_map(|r| r.peak_mb)
        .max_by(f64::total_cmp)
        .map_or_else(
            || "peak memory not measured".to_owned(),
            |mb| format!("peak {mb:.0} MB"),
        )
}

fn main() {
    let bench = std::env::args().any(|a| a == "--bench");
    let teachers = if bench { 100 } else { 1 };
    let count: usize = std::env::var("TICA_BENCH_COUNT")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if bench { 50_000 } else { 500 });
    let rounds: usize = std::env::var("TICA_BENCH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if bench { 7 } else { 1 });
    let baseline: Option<PathBuf> = std::env::var_os("TICA_BENCH_BASELINE").map(PathBuf::from);
    let dir = tempfile::tempdir().expect("a temporary directory");
    let population = dir.path().join("population.csv");
    write_population(&population, teachers);
    let population = population.to_str().expect("a UTF-8 path");
    let count_text = count.to_string();
    let tica_args = [
        "sampling",
        "draw",
        "--seed",
        SEED,
        "--population",
        population,
        "--count",
        &count_text,
    ];
    let tica = env!("CARGO_BIN_EXE_tica");
    println!(
        "population: {} ids (teacher numbers), one column; draw {count} with seed {SEED}",
        100 * 100 * teachers
    );

    let mut ours: Vec<Run> = (0..rounds)
        .map(|_| run(tica, &tica_args, dir.path()))
        .collect();
    let expected = ours[0].stdout.clone();
    assert_eq!(
        expected.iter().filter(|&&b| b == b'\n').count(),
        count.min(10_000 * teachers as usize) + 1,
        "tica prints a header and one line per draw"
    );
    if !bench {
        println!(
            "tica sampling draw   {:>8.3} s  {}",
            ours[0].seconds,
            peak(&ours)
        );
        return;
    }
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/benches/reference_flat_draw.py"
    );
    let mut reference = Vec::new();
    let mut older = Vec::new();
    for _ in 0..3 {
        let theirs = run(
            "python3",
            &[script, SEED, population, &count_text],
            dir.path(),
        );
        assert!(
            theirs.stdout == expected,
            "tica and the reference print different draws"
        );
        reference.push(theirs);
        if let Some(baseline) = &baseline {
            let before = run(
                baseline.to_str().expect("a UTF-8 path"),
                &tica_args,
                dir.path(),
            );
            assert!(
                before.stdout == expected,
                "{} prints a different draw",
                baseline.display()
            );
            older.push(before);
        }
        // Interleaved, so that both are timed across the same stretch of a shared machine.
        ours.extend((0..rounds).map(|_| run(tica, &tica_args, dir.path())));
    }
    for r in &ours {
        assert!(r.stdout == expected, "tica prints the same draw every time");
    }
    let time = |runs: &[Run]| median(runs.iter().map(|r| r.seconds).collect());
    println!(
        "reference consistent_sampler {:>8.3} s  {}  (median of {}; byte for byte the same output)",
        time(&reference),
        peak(&reference),
        reference.len()
    );
    if let Some(baseline) = &baseline {
        println!(
            "baseline {:<19} {:>8.3} s  {}  (median of {}; the same output)",
            baseline.display(),
            time(&older),
            peak(&older),
            older.len()
        );
    }
    let tica_time = time(&ours);
    println!(
        "tica sampling draw           {tica_time:>8.3} s  {}  (median of {}, interleaved) → {:.0}× faster than the reference (goal < 0.3 s, < 100 MB)",
        peak(&ours),
        ours.len(),
        time(&reference) / tica_time
    );
}
