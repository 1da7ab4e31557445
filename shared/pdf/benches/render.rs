//! Certificates per second on one core: tica-pdf against Python's reportlab drawing the same
//! certificate (`reportlab_certificate.py`: same layout, text, shipped font, QR at level Q).
//!
//! `cargo bench -p tica-pdf --bench render` renders `TICA_BENCH_N` (default 2,000) pages;
//! under `cargo test --benches` (no `--bench` argument) only a handful. Rates are given per
//! CPU second of the rendering thread (so per core) and per wall-clock second.

use std::time::{Duration, Instant};

use tica_pdf::{CertificatePage, Renderer, sample_page};

/// CPU time this thread has run, from `/proc/thread-self/schedstat` (Linux); None elsewhere.
fn thread_cpu() -> Option<Duration> {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let ns: u64 = s.split_whitespace().next()?.parse().ok()?;
    Some(Duration::from_nanos(ns))
}

const NAMES: [&str; 12] = [
    "张喆",
    "李明",
    "王堃",
    "陈燊",
    "刘昇",
    "杨珺",
    "赵玥",
    "黄犇",
    "周淼",
    "吴鑫",
    "徐垚",
    "欧阳晓华",
];
const SCHOOLS: [&str; 4] = [
    "泗县第一中学",
    "泗县大路口乡中心小学",
    "泗县实验小学",
    "泗县屏山镇初级中学",
];

fn main() {
    let benching = std::env::args().any(|a| a == "--bench");
    let n: usize = std::env::var("TICA_BENCH_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if benching { 2_000 } else { 5 });

    let started = Instant::now();
    let renderer = Renderer::new().expect("the renderer");
    println!("tica-pdf: Renderer::new {:.1} ms", ms(started.elapsed()));

    let numbers: Vec<String> = (0..n).map(|i| format!("341324-2022-{i:06}")).collect();
    let page = |i: usize| CertificatePage {
        teacher_name: NAMES[i % NAMES.len()],
        school: SCHOOLS[i % SCHOOLS.len()],
        number: &numbers[i],
        ..sample_page()
    };
    for i in 0..n.min(20) {
        renderer.render(&page(i)).expect("warm-up");
    }

    let mut sizes = Vec::with_capacity(n);
    let cpu0 = thread_cpu();
    let wall0 = Instant::now();
    for i in 0..n {
        let pdf = renderer.render(&page(i)).expect("a certificate");
        sizes.push(pdf.len());
    }
    let wall = wall0.elapsed();
    let cpu = thread_cpu().zip(cpu0).map(|(b, a)| b - a).unwrap_or(wall);
    let rust_rate = n as f64 / cpu.as_secs_f64();
    let mean = sizes.iter().sum::<usize>() as f64 / n as f64;
    let max = sizes.iter().max().copied().unwrap_or(0);
    println!(
        "tica-pdf: {n} certificates, {:.0}/s per core (CPU {:.3} s; wall {:.3} s = {:.0}/s), \
         {:.3} ms each; PDF size mean {:.1} KB, max {:.1} KB",
        rust_rate,
        cpu.as_secs_f64(),
        wall.as_secs_f64(),
        n as f64 / wall.as_secs_f64(),
        ms(cpu) / n as f64,
        mean / 1024.0,
        max as f64 / 1024.0,
    );

    match tica_pdf::reference::reportlab(n) {
        Ok(rate) => println!(
            "reportlab: {rate:.1}/s per core; tica-pdf is {:.1}× faster",
            rust_rate / rate
        ),
        Err(why) => println!("reportlab reference skipped: {why}"),
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}
