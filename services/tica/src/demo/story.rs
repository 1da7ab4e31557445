//! The story the demo tells as it goes: one line (or a few) per step, the time it took on the
//! right, and the same lines and per-phase timings saved beside the outputs.

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use serde_json::json;

/// One timed phase.
#[derive(Debug, Clone)]
pub struct Phase {
    /// Short name, e.g. "grading".
    pub name: &'static str,
    /// Wall time.
    pub elapsed: Duration,
    /// gRPC calls the demo made in it (its own; not the services' calls to each other).
    pub calls: u64,
}

/// The story so far.
#[derive(Debug)]
pub struct Story {
    lines: Vec<String>,
    phases: Vec<Phase>,
    started: Instant,
    phase_started: Instant,
    quiet: bool,
    month: &'static str,
}

impl Story {
    /// A story that prints as it goes unless `quiet`.
    pub fn new(quiet: bool) -> Story {
        let now = Instant::now();
        Story {
            lines: Vec::new(),
            phases: Vec::new(),
            started: now,
            phase_started: now,
            quiet,
            month: "",
        }
    }

    /// A line of its own (a title, a note).
    pub fn say(&mut self, line: impl Into<String>) {
        let line = line.into();
        if !self.quiet {
            println!("{line}");
        }
        self.lines.push(line);
    }

    /// Starts the next month's chapter (printed in the left column of its first line).
    pub fn month(&mut self, month: &'static str) {
        self.month = month;
    }

    /// Ends the current phase: `what` happened, in `calls` calls; prints the line with its time.
    pub fn step(&mut self, name: &'static str, calls: u64, what: impl AsRef<str>) {
        let elapsed = self.phase_started.elapsed();
        self.phase_started = Instant::now();
        let mut text = what.as_ref().lines();
        let first = text.next().unwrap_or_default();
        let month = std::mem::take(&mut self.month);
        let mut line = format!(
            "{month:<6}{name:<13}{first:<64} {:>6.1} s",
            elapsed.as_secs_f64()
        );
        for more in text {
            let _ = write!(line, "\n{:<19}{more}", "");
        }
        self.say(line);
        self.phases.push(Phase {
            name,
            elapsed,
            calls,
        });
    }

    /// Time since the story began.
    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }

    /// The phases so far.
    pub fn phases(&self) -> &[Phase] {
        &self.phases
    }

    /// The story as text.
    pub fn text(&self) -> String {
        let mut text = self.lines.join("\n");
        text.push('\n');
        text
    }

    /// Per-phase timings as JSON: seconds, calls, calls per second.
    pub fn timings_json(&self) -> serde_json::Value {
        let phases: Vec<_> = self
            .phases
            .iter()
            .map(|p| {
                let seconds = p.elapsed.as_secs_f64();
                json!({
                    "phase": p.name,
                    "seconds": (seconds * 1000.0).round() / 1000.0,
                    "calls": p.calls,
                    "calls_per_second": if seconds > 0.0 { (p.calls as f64 / seconds).round() } else { 0.0 },
                })
            })
            .collect();
        json!({
            "total_seconds": (self.elapsed().as_secs_f64() * 1000.0).round() / 1000.0,
            "phases": phases,
        })
    }
}
