//! A small seeded fuzz driver for the parsers fed from outside, run by `cargo test` on stable
//! Rust (no nightly, no libFuzzer): each target draws inputs from a deterministic generator —
//! arbitrary bytes, and valid inputs flipped, truncated, extended, spliced and sprinkled with
//! the format's own tokens — and checks that the parser returns (no panic) within a bounded
//! time per case.
//!
//! Knobs, all environment variables, so CI runs the defaults and a long run is one command:
//! - `TICA_FUZZ_CASES`: cases per target (default: the target's own, chosen so that every
//!   target of the workspace together takes well under two minutes in a debug build);
//! - `TICA_FUZZ_SEED`: the generator's seed (default fixed, so a failure reproduces);
//! - `TICA_FUZZ_CASE_MS`: the time one case may take (default 2000 ms: a generous bound on a
//!   busy 2-core machine for inputs of at most a few hundred KB; a hang never returns).
//!
//! A failing case prints its seed, case number and input (escaped), so it can be kept as a
//! regression input.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::{Duration, Instant};

/// SplitMix64: small, fast, and good enough to drive mutations; the suite's one seeded
/// generator (`tica-sample` draws its rosters, and `tica demo` its year, with it), so its
/// stream from a seed never changes.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// A generator from `seed`.
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (`n > 0`).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    /// True with probability `1/n`.
    pub fn one_in(&mut self, n: usize) -> bool {
        self.below(n) == 0
    }

    /// One of `items` (not empty).
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }

    /// `len` random bytes.
    pub fn bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| self.next_u64() as u8).collect()
    }

    /// Random bytes of a length below `max`, most of them short.
    pub fn arbitrary_bytes(&mut self, max: usize) -> Vec<u8> {
        let len = match self.below(4) {
            0 => self.below(16.min(max).max(1)),
            1 => self.below(256.min(max).max(1)),
            _ => self.below(max.max(1)),
        };
        if self.one_in(3) {
            // Printable ASCII: gets further into text parsers than raw bytes do.
            (0..len).map(|_| 0x20 + self.below(0x5f) as u8).collect()
        } else {
            self.bytes(len)
        }
    }

    /// A random string of a length below `max` chars: ASCII, digits, CJK, full-width forms,
    /// control and invisible characters.
    pub fn arbitrary_text(&mut self, max: usize) -> String {
        let len = self.below(max.max(1));
        (0..len).map(|_| self.char()).collect()
    }

    /// One character from a mix of the ranges parsers meet.
    pub fn char(&mut self) -> char {
        const SPECIAL: &[char] = &[
            '\0',
            '\t',
            '\n',
            '\r',
            ' ',
            '"',
            '\'',
            ',',
            ';',
            '#',
            '/',
            '\\',
            '%',
            '=',
            '.',
            '-',
            '+',
            'x',
            'X',
            '\u{feff}',
            '\u{200b}',
            '\u{3000}',
            'Ｘ',
            'ｘ',
            '０',
            '９',
            '\u{fffd}',
            '\u{10ffff}',
            '😀',
            'é',
        ];
        let c = match self.below(6) {
            0 => '0' as u32 + self.below(10) as u32,
            1 => 0x20 + self.below(0x5f) as u32,
            2 => 0x4e00 + self.below(0x5000) as u32,
            3 => 0xff10 + self.below(0x40) as u32,
            4 => return *self.pick(SPECIAL),
            _ => self.below(0x11_0000) as u32,
        };
        char::from_u32(c).unwrap_or('?')
    }

    /// `valid` changed by one to four mutations: bytes flipped, set to an interesting value,
    /// removed, inserted or duplicated; a tail cut off or appended; a piece of another valid
    /// input or one of `tokens` (the format's own words) spliced in.
    pub fn mutate(&mut self, valid: &[u8], others: &[&[u8]], tokens: &[&[u8]]) -> Vec<u8> {
        let mut out = valid.to_vec();
        for _ in 0..1 + self.below(4) {
            self.mutate_once(&mut out, others, tokens);
        }
        out
    }

    fn mutate_once(&mut self, out: &mut Vec<u8>, others: &[&[u8]], tokens: &[&[u8]]) {
        const INTERESTING: &[u8] = &[0, 1, 0x7f, 0x80, 0xff, b'0', b'9', b'"', b',', b'\n', b'#'];
        let len = out.len();
        match self.below(10) {
            0 | 1 if len > 0 => {
                let i = self.below(len);
                out[i] ^= 1 << self.below(8);
            }
            2 if len > 0 => {
                let i = self.below(len);
                out[i] = *self.pick(INTERESTING);
            }
            3 if len > 0 => {
                let cut = self.below(len);
                out.truncate(cut);
            }
            4 if len > 0 => {
                let start = self.below(len);
                let end = (start + 1 + self.below(16)).min(len);
                out.drain(start..end);
            }
            5 => {
                let extra = self.arbitrary_bytes(64);
                let at = self.below(len + 1);
                out.splice(at..at, extra);
            }
            6 if len > 0 => {
                let start = self.below(len);
                let end = (start + 1 + self.below(64)).min(len);
                let piece = out[start..end].to_vec();
                let at = self.below(len + 1);
                out.splice(
                    at..at,
                    piece
                        .iter()
                        .copied()
                        .cycle()
                        .take(piece.len() * (1 + self.below(4))),
                );
            }
            7 if !tokens.is_empty() => {
                let token = *self.pick(tokens);
                let at = self.below(len + 1);
                out.splice(at..at, token.iter().copied());
            }
            8 if !others.is_empty() => {
                let other = *self.pick(others);
                if !other.is_empty() {
                    let start = self.below(other.len());
                    let end = (start + 1 + self.below(256)).min(other.len());
                    let at = self.below(len + 1);
                    out.splice(at..at, other[start..end].iter().copied());
                }
            }
            _ => {
                let extra = self.arbitrary_bytes(32);
                out.extend(extra);
            }
        }
    }

    /// [`Rng::mutate`] for text, kept valid UTF-8 (invalid sequences replaced).
    pub fn mutate_text(&mut self, valid: &str, others: &[&str], tokens: &[&str]) -> String {
        let others: Vec<&[u8]> = others.iter().map(|s| s.as_bytes()).collect();
        let tokens: Vec<&[u8]> = tokens.iter().map(|s| s.as_bytes()).collect();
        let bytes = self.mutate(valid.as_bytes(), &others, &tokens);
        String::from_utf8_lossy(&bytes).into_owned()
    }
}

/// One fuzz target: a name, a case count and the knobs above.
#[derive(Debug)]
pub struct Fuzz {
    name: &'static str,
    cases: u64,
    seed: u64,
    case_limit: Duration,
}

fn env_u64(name: &str) -> Option<u64> {
    std::env::var(name).ok().and_then(|v| v.trim().parse().ok())
}

/// The summary of a finished target.
#[derive(Clone, Copy, Debug)]
pub struct Report {
    /// Cases run.
    pub cases: u64,
    /// The slowest case.
    pub slowest: Duration,
    /// All cases together.
    pub total: Duration,
}

impl Fuzz {
    /// Target `name` with `default_cases` unless `TICA_FUZZ_CASES` says otherwise.
    pub fn new(name: &'static str, default_cases: u64) -> Fuzz {
        // Each target gets its own stream, so targets do not all try the same mutations.
        let salt = name.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
        });
        Fuzz {
            name,
            cases: env_u64("TICA_FUZZ_CASES").unwrap_or(default_cases),
            seed: env_u64("TICA_FUZZ_SEED").unwrap_or(16) ^ salt,
            case_limit: Duration::from_millis(env_u64("TICA_FUZZ_CASE_MS").unwrap_or(2000)),
        }
    }

    /// Runs the target: for every case, `generate` draws an input and `check` feeds it to the
    /// parser. A panic or a case slower than the limit fails the test with the input printed
    /// (`show` renders it).
    pub fn run<I>(
        &self,
        mut generate: impl FnMut(&mut Rng) -> I,
        show: impl Fn(&I) -> String,
        mut check: impl FnMut(&I),
    ) -> Report {
        let started = Instant::now();
        let mut slowest = Duration::ZERO;
        for case in 0..self.cases {
            let mut rng = Rng::new(
                self.seed
                    .wrapping_add(case.wrapping_mul(0x2545_F491_4F6C_DD1D)),
            );
            let input = generate(&mut rng);
            let began = Instant::now();
            let outcome = catch_unwind(AssertUnwindSafe(|| check(&input)));
            let took = began.elapsed();
            slowest = slowest.max(took);
            if let Err(panic) = outcome {
                let why = panic
                    .downcast_ref::<String>()
                    .map(String::as_str)
                    .or_else(|| panic.downcast_ref::<&str>().copied())
                    .unwrap_or("?");
                panic!(
                    "fuzz target {} panicked on case {case} (seed {}): {why}\ninput: {}",
                    self.name,
                    self.seed,
                    show(&input)
                );
            }
            assert!(
                took <= self.case_limit,
                "fuzz target {} took {took:?} (limit {:?}) on case {case} (seed {})\ninput: {}",
                self.name,
                self.case_limit,
                self.seed,
                show(&input)
            );
        }
        let report = Report {
            cases: self.cases,
            slowest,
            total: started.elapsed(),
        };
        eprintln!(
            "fuzz {}: {} cases in {:?}, slowest {:?}",
            self.name, report.cases, report.total, report.slowest
        );
        report
    }
}

/// Bytes shown escaped (and cut at 4 KB), for failure messages.
pub fn show_bytes(bytes: &[u8]) -> String {
    let shown: String = bytes
        .iter()
        .take(4096)
        .flat_map(|b| std::ascii::escape_default(*b))
        .map(char::from)
        .collect();
    format!("({} bytes) b\"{shown}\"", bytes.len())
}

/// Text shown escaped (and cut at 4 KB), for failure messages.
pub fn show_text(text: &str) -> String {
    let shown: String = text
        .chars()
        .take(4096)
        .flat_map(char::escape_debug)
        .collect();
    format!("({} bytes) \"{shown}\"", text.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_gives_the_same_cases() {
        let draw = |seed| {
            let mut rng = Rng::new(seed);
            rng.mutate(b"hello, world", &[b"other"], &[b"tok"])
        };
        assert_eq!(draw(7), draw(7));
        assert_ne!(draw(7), draw(8));
    }

    #[test]
    #[should_panic(expected = "panicked on case")]
    fn a_panicking_parser_fails_with_its_input() {
        Fuzz::new("panics", 50).run(
            |rng| rng.bytes(4),
            |b| show_bytes(b),
            |b| {
                assert!(b[0] < 200, "too big");
            },
        );
    }
}
