//! Per-client rate limits: GCRA (governor) keyed by the client's address.

use std::net::{IpAddr, Ipv6Addr};
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

/// How often the limiter forgets clients whose bucket has refilled (`retain_recent`), at most.
const SWEEP_EVERY: Duration = Duration::from_secs(30);
/// With this many clients tracked, sweep as often as once a second (a flood of new addresses).
const SWEEP_EARLY_ABOVE: usize = 100_000;

/// A per-client budget: `per_minute` units refill steadily (one every `60 / per_minute` s), at
/// most `burst` are available at once. Cloning shares the budget.
///
/// Every request on the public front costs one unit (charged by the edge itself). A handler
/// whose request is worth more — `BatchVerify` checks many certificates in one call — charges
/// the rest itself with [`ClientLimiter::charge`], finding the limiter in the request's
/// extensions (`request.extensions().get::<ClientLimiter>()` in gRPC,
/// `Extension<ClientLimiter>` in axum) next to the [`super::ClientAddr`]:
///
/// ```ignore
/// let items = request.get_ref().subjects.len() as u32;
/// if let (Some(limiter), Some(client)) = (
///     request.extensions().get::<ClientLimiter>(),
///     request.extensions().get::<ClientAddr>(),
/// ) {
///     // One unit was charged for the call; a batch larger than the burst is refused.
///     limiter
///         .charge(client.ip(), items.saturating_sub(1))
///         .map_err(tica_server::edge::resource_exhausted)?;
/// }
/// ```
///
/// IPv6 clients are limited per /64 (what one subscriber is given), IPv4 clients per address.
/// Clients whose bucket has refilled are forgotten (governor's `retain_recent`, run by the
/// checks themselves at most every 30 s, or every second above 100,000 clients), so memory is
/// bounded by the clients seen in the last half minute or so.
#[derive(Clone)]
pub struct ClientLimiter {
    inner: Arc<Inner>,
}

struct Inner {
    limiter: DefaultKeyedRateLimiter<IpAddr>,
    clock: DefaultClock,
    per_minute: NonZeroU32,
    burst: NonZeroU32,
    last_sweep: Mutex<Instant>,
}

impl std::fmt::Debug for ClientLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientLimiter")
            .field("per_minute", &self.inner.per_minute)
            .field("burst", &self.inner.burst)
            .field("clients", &self.inner.limiter.len())
            .finish()
    }
}

impl ClientLimiter {
    /// `per_minute` units a minute per client, `burst` at once.
    pub fn new(per_minute: NonZeroU32, burst: NonZeroU32) -> ClientLimiter {
        let quota = Quota::per_minute(per_minute).allow_burst(burst);
        let clock = DefaultClock::default();
        ClientLimiter {
            inner: Arc::new(Inner {
                limiter: RateLimiter::dashmap_with_clock(quota, clock.clone()),
                clock,
                per_minute,
                burst,
                last_sweep: Mutex::new(Instant::now()),
            }),
        }
    }

    /// Charges `cost` units to `client`: `Ok(())` when its budget holds them (and they are
    /// spent), else `Err(wait)`, how long until it would (nothing is spent). A cost of 0 is
    /// free. A cost above [`ClientLimiter::burst`] can never be paid: it is refused with the time
    /// a whole budget takes to refill, so a handler should refuse such a request as too large
    /// itself (or cap its cost at the burst).
    pub fn charge(&self, client: IpAddr, cost: u32) -> Result<(), Duration> {
        let Some(cost) = NonZeroU32::new(cost) else {
            return Ok(());
        };
        self.sweep_if_due();
        match self.inner.limiter.check_key_n(&key(client), cost) {
            Ok(Ok(())) => Ok(()),
            Ok(Err(not_until)) => Err(not_until.wait_time_from(self.inner.clock.now())),
            Err(_insufficient) => Err(self.refill_time()),
        }
    }

    /// The most units a client may spend at once.
    pub fn burst(&self) -> u32 {
        self.inner.burst.get()
    }

    /// Units a client regains per minute.
    pub fn per_minute(&self) -> u32 {
        self.inner.per_minute.get()
    }

    /// How many clients the limiter currently remembers.
    pub fn tracked_clients(&self) -> usize {
        self.inner.limiter.len()
    }

    /// Forgets every client whose budget has refilled (done by [`ClientLimiter::charge`] on its
    /// own, periodically).
    pub fn sweep(&self) {
        self.inner.limiter.retain_recent();
        self.inner.limiter.shrink_to_fit();
    }

    fn sweep_if_due(&self) {
        // One sweeper at a time; the others carry on without waiting.
        let Ok(mut last) = self.inner.last_sweep.try_lock() else {
            return;
        };
        let since = last.elapsed();
        let due = since >= SWEEP_EVERY
            || (since >= Duration::from_secs(1) && self.inner.limiter.len() > SWEEP_EARLY_ABOVE);
        if due {
            self.sweep();
            *last = Instant::now();
        }
    }

    fn refill_time(&self) -> Duration {
        Duration::from_secs(60) * self.inner.burst.get() / self.inner.per_minute.get()
    }
}

/// The key a client is limited by: an IPv4 address, or an IPv6 address's /64.
pub(crate) fn key(client: IpAddr) -> IpAddr {
    match client.to_canonical() {
        IpAddr::V6(v6) => {
            let bits = u128::from(v6) & !((1u128 << 64) - 1);
            IpAddr::V6(Ipv6Addr::from(bits))
        }
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(v: u32) -> NonZeroU32 {
        NonZeroU32::new(v).unwrap()
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn a_client_gets_its_burst_then_waits_while_another_is_served() {
        let limiter = ClientLimiter::new(n(60), n(3));
        for _ in 0..3 {
            limiter.charge(ip("192.0.2.1"), 1).unwrap();
        }
        let wait = limiter.charge(ip("192.0.2.1"), 1).unwrap_err();
        assert!(
            wait > Duration::from_millis(900) && wait <= Duration::from_secs(1),
            "{wait:?}"
        );
        limiter.charge(ip("192.0.2.2"), 1).unwrap();
    }

    #[test]
    fn a_handler_charges_several_units_and_a_cost_above_the_burst_is_refused() {
        let limiter = ClientLimiter::new(n(120), n(10));
        limiter.charge(ip("192.0.2.1"), 0).unwrap();
        limiter.charge(ip("192.0.2.1"), 8).unwrap();
        // 2 left: 3 would need one more to refill (0.5 s).
        let wait = limiter.charge(ip("192.0.2.1"), 3).unwrap_err();
        assert!(wait <= Duration::from_millis(500), "{wait:?}");
        limiter.charge(ip("192.0.2.1"), 2).unwrap();
        assert_eq!(
            limiter.charge(ip("192.0.2.9"), 11),
            Err(Duration::from_secs(5))
        );
    }

    #[test]
    fn ipv6_clients_share_a_budget_per_64_and_mapped_addresses_are_ipv4() {
        let limiter = ClientLimiter::new(n(60), n(2));
        limiter.charge(ip("2001:db8:1:2::1"), 1).unwrap();
        limiter.charge(ip("2001:db8:1:2:ffff::9"), 1).unwrap();
        assert!(limiter.charge(ip("2001:db8:1:2::77"), 1).is_err());
        limiter.charge(ip("2001:db8:1:3::1"), 1).unwrap();
        limiter.charge(ip("198.51.100.1"), 2).unwrap();
        assert!(limiter.charge(ip("::ffff:198.51.100.1"), 1).is_err());
    }

    #[test]
    fn clients_whose_budget_refilled_are_forgotten() {
        // One unit every 10 ms: a bucket of 1 is full again 10 ms after its last use.
        let limiter = ClientLimiter::new(n(6_000), n(1));
        for i in 0..1_000u32 {
            limiter.charge(IpAddr::from(i.to_be_bytes()), 1).unwrap();
        }
        assert_eq!(limiter.tracked_clients(), 1_000);
        std::thread::sleep(Duration::from_millis(50));
        limiter.sweep();
        assert_eq!(limiter.tracked_clients(), 0);
    }
}
