//! The story the demo tells as it goes: one line (or a few) per step, the time it took on the
//! right, and the same lines and per-phase timings saved beside the outputs.

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};
use serde_json::json;
use unicode_width::UnicodeWidthStr;

/// The story's columns, in terminal cells (a Chinese character takes two): the month, the
/// step's name, what happened; the time after them.
const MONTH: usize = 8;
const NAME: usize = 15;
const WHAT: usize = 64;

/// `text` padded to `width` terminal cells, and at least one space after it: a name wider than
/// its column pushes the rest right instead of running into it ("county reviewpopulation").
fn pad(text: &str, width: usize) -> String {
    let cells = text.width();
    format!("{text}{}", " ".repeat(width.saturating_sub(cells).max(1)))
}

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

/// The spinner a phase shows while it runs.
fn spinner() -> ProgressBar {
    let bar = ProgressBar::new_spinner();
    bar.set_style(
        ProgressStyle::with_template("{spinner} {elapsed:>4} {msg}").expect("a valid template"),
    );
    bar.enable_steady_tick(Duration::from_millis(120));
    bar
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
    /// While a phase runs, on a terminal: a spinner with the time so far, so that a long
    /// phase (grading, issuance) is not mistaken for a hang. Hidden when stderr is not a
    /// terminal.
    working: Option<ProgressBar>,
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
            working: (!quiet).then(spinner),
        }
    }

    /// A line of its own (a title, a note).
    pub fn say(&mut self, line: impl Into<String>) {
        let line = line.into();
        match &self.working {
            Some(bar) => bar.suspend(|| println!("{line}")),
            None if !self.quiet => println!("{line}"),
            None => {}
        }
        self.lines.push(line);
    }

    /// Names what the current phase is doing, beside its spinner (e.g. "grading 12469
    /// submissions").
    pub fn working(&self, what: impl Into<String>) {
        if let Some(bar) = &self.working {
            bar.set_message(what.into());
        }
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
            "{}{}{}{:>6.1} s",
            pad(month, MONTH),
            pad(name, NAME),
            pad(first, WHAT),
            elapsed.as_secs_f64()
        );
        for more in text {
            let _ = write!(line, "\n{}{more}", " ".repeat(MONTH + NAME));
        }
        self.say(line);
        if let Some(bar) = &self.working {
            bar.reset_elapsed();
            bar.set_message("");
        }
        self.phases.push(Phase {
            name,
            elapsed,
            calls,
        });
    }

    /// Clears the spinner (the story is told).
    pub fn finish(&self) {
        if let Some(bar) = &self.working {
            bar.finish_and_clear();
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_line_up_by_terminal_cells_and_a_long_name_never_runs_into_the_next() {
        let mut story = Story::new(true);
        story.month("十一月");
        story.step("county review", 0, "population 107 schools");
        story.month("六–九月");
        story.step("evidence", 0, "3000 files uploaded\nsecond line");
        story.step("grading", 0, "12469 submissions graded");
        let lines: Vec<&str> = story.lines.iter().flat_map(|l| l.lines()).collect();
        assert!(
            lines[0].starts_with("十一月  county review  population"),
            "{}",
            lines[0]
        );
        // "what happened" starts in the same terminal column on every line, continuations too.
        let column = |line: &str, what: &str| line[..line.find(what).unwrap()].width();
        assert_eq!(column(lines[0], "population"), MONTH + NAME);
        assert_eq!(column(lines[1], "3000"), MONTH + NAME);
        assert_eq!(column(lines[2], "second"), MONTH + NAME);
        assert_eq!(column(lines[3], "12469"), MONTH + NAME);
        // And the times line up on the right.
        let time_at = |line: &str| line[..line.rfind(" s").unwrap()].width();
        assert_eq!(time_at(lines[0]), time_at(lines[3]));
        let long = pad("a name wider than its column", NAME);
        assert!(long.ends_with(' '), "{long:?}");
    }
}
