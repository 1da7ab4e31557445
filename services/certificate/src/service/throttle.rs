//! Guess throttles: what keeps a visitor from confirming a secret by trying candidates.
//!
//! The teachers' search answers only to a name with the full resident ID number, and the
//! number lookup only to a certificate's number with its holder's name or printed code. What a
//! certificate page shows leaves few candidates for the rest — the birth date in the middle
//! of an ID number, about 1,500 of them once the check digit is used — so per-client limits
//! cannot protect it (an attacker has many addresses). Two limits that no attacker can spread:
//!
//! - **Per target**: keyed on what the attacker must keep fixed to aim at one person (the
//!   name and the printed part of the ID number; the certificate number), never on what they
//!   vary. The first [`GuessLimits::free`] failures cost nothing; from then on every failure
//!   locks the target for [`GuessLimits::base_lock`] doubled per failure. A guess is charged
//!   *before* it is evaluated (and refunded when it succeeds), so parallel guesses cannot slip
//!   in under one charge; while locked, nothing is evaluated — not even the right answer, so
//!   a lock reveals nothing. Locks never shorten: with `free` 3 and one minute, the k-th
//!   failure (k ≥ 4) waits 2^(k−3) − 1 minutes in all, so a year allows at most 22 failures
//!   ([`GuessLimits::most_failures_within`]) — 1.5 % of 1,500 candidates.
//! - **Overall**: at most [`GuessLimits::budget`] failures per [`GuessLimits::window`] across
//!   all targets; beyond it every guess is refused for [`GuessLimits::global_lock`], doubled
//!   each time the budget is exceeded again (up to a day) — breadth attacks on many targets at
//!   once stop, and the back-off forgives after a quiet window.
//!
//! State lives in the database (`guess_throttle`), shared by replicas and kept over restarts;
//! each change is a compare-and-set on the row's version.

use std::time::Duration;

use sha2::{Digest, Sha256};

use super::Certificates;
use crate::error::{CertificateError, Result};
use crate::store::{self, ThrottleRow};

/// The limits (see the module's documentation).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GuessLimits {
    /// Failures per target before locks begin.
    pub free: i64,
    /// The first lock; each further failure doubles it.
    pub base_lock: Duration,
    /// Failures across all targets per window before everything is refused.
    pub budget: i64,
    /// The overall budget's window.
    pub window: Duration,
    /// The first overall lock; each exceedance in a row doubles it, up to a day.
    pub global_lock: Duration,
}

impl Default for GuessLimits {
    fn default() -> Self {
        GuessLimits {
            free: 3,
            base_lock: Duration::from_secs(60),
            // A province's teachers mistype too: a thousand misses an hour is far above what
            // honest searching produces and far below what a harvest needs.
            budget: 1000,
            window: Duration::from_secs(3600),
            global_lock: Duration::from_secs(300),
        }
    }
}

impl GuessLimits {
    /// How long a target stays locked after its `failures`-th failure.
    pub fn lock_after(&self, failures: i64) -> Duration {
        if failures < self.free {
            return Duration::ZERO;
        }
        let doublings = u32::try_from(failures - self.free)
            .unwrap_or(u32::MAX)
            .min(100);
        let lock = self
            .base_lock
            .as_micros()
            .saturating_mul(1u128 << doublings);
        Duration::from_micros(u64::try_from(lock).unwrap_or(u64::MAX))
    }

    /// The most failures one target can be charged within `span`, however the guesses are
    /// timed: each must wait out the lock the previous one set.
    pub fn most_failures_within(&self, span: Duration) -> i64 {
        let mut failures = 0;
        let mut waited = Duration::ZERO;
        loop {
            // Before the next failure, the lock the last one set must pass.
            let wait = self.lock_after(failures);
            if waited.saturating_add(wait) > span {
                return failures;
            }
            waited = waited.saturating_add(wait);
            failures += 1;
        }
    }
}

/// The targets a guess was charged to, until it is known to be right or wrong.
#[derive(Debug)]
pub struct Charged {
    keys: Vec<String>,
}

fn micros(d: Duration) -> i64 {
    i64::try_from(d.as_micros()).unwrap_or(i64::MAX)
}

fn refused(until: i64, now: i64) -> CertificateError {
    let seconds = (until - now).max(0) / 1_000_000 + 1;
    let wait = match seconds {
        s if s < 120 => format!("{s} 秒 seconds"),
        s if s < 7200 => format!("{} 分钟 minutes", s / 60),
        s if s < 172_800 => format!("{} 小时 hours", s / 3600),
        s => format!("{} 天 days", s / 86_400),
    };
    CertificateError::ResourceExhausted(format!(
        "尝试次数过多，请 {wait} 后再试，或请学校管理员代为下载 Too many attempts: try again in {wait}, or ask your school office"
    ))
}

/// The throttle key of a target: a keyed hash of its parts (never stored in clear).
pub fn target_key(secret: &[u8], kind: &str, parts: &[&str]) -> String {
    let mut hash = Sha256::new();
    hash.update(secret);
    hash.update([0x1f]);
    hash.update(kind.as_bytes());
    for part in parts {
        hash.update([0x1f]);
        hash.update(part.as_bytes());
    }
    format!("{kind}:{}", hex::encode(&hash.finalize()[..20]))
}

const GLOBAL: &str = "global";

impl Certificates {
    fn now(&self) -> i64 {
        self.inner.config.clock.now()
    }

    /// Charges a guess to each of its targets `keys` before it is evaluated: refused while any
    /// of them or the overall budget is locked; otherwise counted as a failure of each (with
    /// the lock a failure sets) until [`Certificates::guess_succeeded`] refunds it.
    pub(super) async fn charge_guess(&self, keys: Vec<String>) -> Result<Charged> {
        let now = self.now();
        let mut locked_until = 0;
        for key in keys.iter().map(String::as_str).chain([GLOBAL]) {
            if let Some(row) = store::throttle(self.db(), key).await? {
                locked_until = locked_until.max(row.locked_until_micros);
            }
        }
        if locked_until > now {
            return Err(refused(locked_until, now));
        }
        for key in &keys {
            self.charge_one(key, now).await?;
        }
        Ok(Charged { keys })
    }

    async fn charge_one(&self, key: &str, now: i64) -> Result<()> {
        let limits = self.inner.config.guesses;
        for _ in 0..20 {
            let old = store::throttle(self.db(), key).await?;
            let current = old.unwrap_or_default();
            if current.locked_until_micros > now {
                return Err(refused(current.locked_until_micros, now));
            }
            let failures = current.failures + 1;
            let lock = limits.lock_after(failures);
            let new = ThrottleRow {
                failures,
                // A free failure sets no lock. Writing `now` would lock out a concurrent search
                // for the same person whose clock was read a moment earlier (seen in the soak:
                // correct searches refused "try again in 1 秒"); here locked_until <= now.
                locked_until_micros: if lock.is_zero() {
                    current.locked_until_micros
                } else {
                    now.saturating_add(micros(lock))
                },
                update_micros: now.max(current.update_micros + 1),
                ..current
            };
            if store::set_throttle(self.db(), key, old.as_ref(), &new).await? {
                return Ok(());
            }
        }
        Err(CertificateError::Conflict(
            "too many guesses at once: try again".into(),
        ))
    }

    /// The guess was right: its targets' failures are forgiven.
    pub(super) async fn guess_succeeded(&self, charged: Charged) -> Result<()> {
        for key in &charged.keys {
            for _ in 0..20 {
                let Some(old) = store::throttle(self.db(), key).await? else {
                    break;
                };
                let new = ThrottleRow {
                    failures: 0,
                    locked_until_micros: 0,
                    update_micros: self.now().max(old.update_micros + 1),
                    ..old
                };
                if store::set_throttle(self.db(), key, Some(&old), &new).await? {
                    break;
                }
            }
        }
        Ok(())
    }

    /// The guess was wrong: it stays charged to its target and counts against the overall
    /// budget.
    pub(super) async fn guess_failed(&self, _charged: Charged) -> Result<()> {
        let limits = self.inner.config.guesses;
        for _ in 0..50 {
            let now = self.now();
            let old = store::throttle(self.db(), GLOBAL).await?;
            let mut row = old.unwrap_or(ThrottleRow {
                window_start_micros: now,
                ..ThrottleRow::default()
            });
            let window = micros(limits.window);
            if now >= row.window_start_micros.saturating_add(window) {
                // A new window; a quiet one (no lock for a whole window) forgives the strikes.
                if now >= row.locked_until_micros.saturating_add(window) {
                    row.strikes = 0;
                }
                row.failures = 0;
                row.window_start_micros = now;
            }
            row.failures += 1;
            if row.failures > limits.budget {
                row.strikes += 1;
                let doublings = u32::try_from(row.strikes - 1).unwrap_or(u32::MAX).min(16);
                let lock = limits
                    .global_lock
                    .saturating_mul(1 << doublings)
                    .min(Duration::from_secs(86_400));
                row.locked_until_micros = now.saturating_add(micros(lock));
                row.failures = 0;
                row.window_start_micros = now;
                tracing::warn!(
                    strikes = row.strikes,
                    lock_seconds = lock.as_secs(),
                    "the public lookups' failure budget is spent: every guess is refused for a while"
                );
            }
            row.update_micros = now.max(old.map_or(0, |o| o.update_micros) + 1);
            if store::set_throttle(self.db(), GLOBAL, old.as_ref(), &row).await? {
                return Ok(());
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locks_double_after_the_free_failures() {
        let limits = GuessLimits::default();
        assert_eq!(limits.lock_after(2), Duration::ZERO);
        assert_eq!(limits.lock_after(3), Duration::from_secs(60));
        assert_eq!(limits.lock_after(4), Duration::from_secs(120));
        assert_eq!(limits.lock_after(13), Duration::from_secs(60 << 10));
        // Far beyond a lifetime, without overflowing.
        assert!(limits.lock_after(80) > Duration::from_secs(100 * 365 * 86_400));
    }

    #[test]
    fn a_year_allows_one_target_at_most_22_failed_guesses() {
        // Before the k-th failure (k ≥ 4) the locks of failures 3 … k−1 must pass:
        // 1 + 2 + … + 2^(k−4) = 2^(k−3) − 1 minutes. A year is 525,600 minutes: 2^19 − 1 fits,
        // 2^20 − 1 does not, so the 23rd failure cannot come within it.
        let limits = GuessLimits::default();
        let year = Duration::from_secs(365 * 86_400);
        assert_eq!(limits.most_failures_within(year), 22);
        assert_eq!(limits.most_failures_within(Duration::from_secs(1)), 3);
    }
}
