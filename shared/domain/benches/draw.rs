//! Draws a stratified province-audit sample (Ningxia's 5 % of each county's schools, 5 % of each
//! drawn school's teachers) from 1,000,000 graded teachers in 10,000 schools of 100 counties,
//! and, in the same run, the same draw with the reference Python sampler (`consistent_sampler`
//! from PyPI) through `reference_draw.py` — checking that both draw the same sample with the same
//! printed tickets.
//!
//! ```sh
//! pip install consistent_sampler==1.0.10
//! cargo bench -p tica-domain --bench draw
//! ```
//!
//! `TICA_BENCH_ROUNDS` changes the rounds (median reported). Under `cargo test --benches` it draws
//! once from 10,000 teachers without the reference.

use std::process::Command;
use std::time::{Duration, Instant};

use tica_domain::policy::{Preset, preset};
use tica_domain::sampling::{CountyStratum, SchoolStratum, StagePlan, stratified_draw};

const SEED: &str = "79512035641283460917";

fn population(counties: u64, schools: u64, teachers: u64) -> Vec<CountyStratum> {
    (0..counties)
        .map(|c| {
            let county = (3411 + c / 10) * 100 + c % 10 + 1;
            CountyStratum {
                code: county.to_string(),
                schools: (0..schools)
                    .map(|s| {
                        let school = county * 10_000 + s + 1;
                        SchoolStratum {
                            code: school.to_string(),
                            teachers: (0..teachers)
                                .map(|t| (school * 10_000 + t + 1).to_string())
                                .collect(),
                        }
                    })
                    .collect(),
            }
        })
        .collect()
}

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}

fn percent(r: tica_domain::policy::Ratio) -> u32 {
    assert_eq!(
        100 % r.denominator,
        0,
        "the reference script takes whole percents"
    );
    r.numerator * (100 / r.denominator)
}

fn main() {
    let bench = std::env::args().any(|a| a == "--bench");
    let (counties, schools, teachers) = if bench {
        (100, 100, 100)
    } else {
        (10, 10, 100)
    };
    let rounds: usize = std::env::var("TICA_BENCH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if bench { 11 } else { 1 });
    let audit = preset(Preset::Ningxia).sampling.unwrap().province_audit;
    let plan = StagePlan {
        school_rate: audit.school_rate,
        teacher_rate: audit.teacher_rate,
        minimum: audit.minimum_per_stratum as u64,
    };
    let threads = std::env::var("TICA_BENCH_THREADS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let built = Instant::now();
    let province = population(counties, schools, teachers);
    let built = built.elapsed();

    let mut times = Vec::new();
    let mut sample = Vec::new();
    for _ in 0..rounds {
        let started = Instant::now();
        sample = stratified_draw(SEED, &province, &plan, threads);
        times.push(started.elapsed());
    }
    let rust = median(times.clone());
    let mut all_times = times;
    let lines: Vec<String> = sample
        .iter()
        .flat_map(|county| {
            county.schools.iter().flat_map(move |school| {
                school.teachers.iter().map(move |teacher| {
                    format!(
                        "{},{},{},{},{}",
                        county.code,
                        school.school.id,
                        school.school.ticket,
                        teacher.id,
                        teacher.ticket
                    )
                })
            })
        })
        .collect();
    let drawn_schools: usize = sample.iter().map(|c| c.schools.len()).sum();
    println!(
        "population: {} teachers in {} schools of {counties} counties (built in {:.2} s); \
         plan {}/{} % (Ningxia province audit), {threads} threads",
        counties * schools * teachers,
        counties * schools,
        built.as_secs_f64(),
        percent(plan.school_rate),
        percent(plan.teacher_rate),
    );
    println!("sample: {drawn_schools} schools, {} teachers", lines.len());
    println!(
        "TICA stratified_draw          {:>9.4} s  (median of {rounds}; goal < 1 s)",
        rust.as_secs_f64()
    );
    if !bench {
        return;
    }
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/benches/reference_draw.py");
    let reference_rounds = 3;
    let mut python_times = Vec::new();
    for _ in 0..reference_rounds {
        let out = Command::new("python3")
            .arg(script)
            .args([
                SEED.to_owned(),
                counties.to_string(),
                schools.to_string(),
                teachers.to_string(),
                percent(plan.school_rate).to_string(),
                percent(plan.teacher_rate).to_string(),
            ])
            .output();
        let out = match out {
            Ok(out) if out.status.success() => out,
            Ok(out) => {
                eprintln!(
                    "the reference did not run (pip install consistent_sampler==1.0.10): {}",
                    String::from_utf8_lossy(&out.stderr)
                );
                std::process::exit(2);
            }
            Err(e) => {
                eprintln!("python3 is needed for the reference: {e}");
                std::process::exit(2);
            }
        };
        let text = String::from_utf8(out.stdout).unwrap();
        let mut reference: Vec<&str> = text.lines().collect();
        let seconds: f64 = reference.pop().unwrap().parse().unwrap();
        assert_eq!(
            reference,
            lines.iter().map(String::as_str).collect::<Vec<_>>(),
            "TICA and the reference draw different samples"
        );
        python_times.push(Duration::from_secs_f64(seconds));
        // Interleave: as many TICA rounds again after each reference round, so that both are
        // timed across the same stretch of a shared, noisy machine.
        for _ in 0..rounds {
            let started = Instant::now();
            stratified_draw(SEED, &province, &plan, threads);
            all_times.push(started.elapsed());
        }
    }
    let python = median(python_times).as_secs_f64();
    let all_rounds = all_times.len();
    let rust = median(all_times);
    println!(
        "reference consistent_sampler  {python:>9.4} s  (median of {reference_rounds}; same draw, same printed tickets)"
    );
    println!(
        "TICA {:.4} s (median of all {all_rounds} rounds, interleaved with the reference's) → {:.0}× faster than the reference (goal ≥ 50×)",
        rust.as_secs_f64(),
        python / rust.as_secs_f64()
    );
}
