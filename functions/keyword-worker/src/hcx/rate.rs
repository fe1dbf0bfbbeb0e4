//! This execution environment's share of the account's HCX request rate.
//!
//! CLOVA Studio limits requests per minute (QPM) per account. The worker runs up to
//! `max_concurrency` execution environments at once, each with its own [`RequestRate`], so
//! each sends at most `requests_per_minute / max_concurrency` requests a minute (at least
//! one): together they stay under the account's limit without coordinating.
//!
//! The limiter is governor's GCRA with a burst of 1: permits are spaced evenly, one every
//! `60 s / rate`, and an idle minute does not save up permits for a burst. A burst would let
//! every environment fire at once after a quiet spell, which is exactly when the account's
//! per-minute window is most likely to be shared unevenly; evenly spaced requests also make
//! 429s rare, which matters more than a little latency on the first requests.
//!
//! Time comes from tokio ([`TokioClock`]) and waiting is `tokio::time::sleep`, not
//! governor's `until_ready` (which sleeps on futures-timer), so the limiter follows tokio's
//! paused clock in tests and its sleeps are ordinary tokio timers in production.

use std::num::NonZeroU32;
use std::time::Duration;

use governor::clock::Clock;
use governor::middleware::NoOpMiddleware;
use governor::nanos::Nanos;
use governor::state::{InMemoryState, NotKeyed};
use governor::{Quota, RateLimiter};

/// governor's clock on tokio's time: nanoseconds since the clock was made.
///
/// A newtype over `tokio::time::Instant` cannot implement governor's `Reference` (both are
/// foreign), so the instants are governor's own [`Nanos`], measured from an origin.
#[derive(Debug, Clone)]
pub struct TokioClock {
    origin: tokio::time::Instant,
}

impl TokioClock {
    /// A clock whose zero is now.
    pub fn new() -> Self {
        Self {
            origin: tokio::time::Instant::now(),
        }
    }
}

impl Default for TokioClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for TokioClock {
    type Instant = Nanos;

    fn now(&self) -> Nanos {
        Nanos::from(self.origin.elapsed())
    }
}

type Limiter = RateLimiter<NotKeyed, InMemoryState, TokioClock, NoOpMiddleware<Nanos>>;

/// At most `per_minute` permits a minute, evenly spaced (burst 1).
pub struct RequestRate {
    limiter: Limiter,
    per_minute: NonZeroU32,
}

impl std::fmt::Debug for RequestRate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RequestRate")
            .field("per_minute", &self.per_minute)
            .finish_non_exhaustive()
    }
}

impl RequestRate {
    /// This environment's rate: the account's `requests_per_minute` shared by
    /// `max_concurrency` environments, rounded down, at least 1 a minute.
    pub fn for_environment(requests_per_minute: u32, max_concurrency: u32) -> Self {
        let share = requests_per_minute / max_concurrency.max(1);
        Self::per_minute(NonZeroU32::new(share).unwrap_or(NonZeroU32::MIN))
    }

    /// `per_minute` permits a minute, one every `60 s / per_minute`.
    pub fn per_minute(per_minute: NonZeroU32) -> Self {
        // Rounded up, so rounding can only make the rate lower, never above the share.
        let period_ns = 60_000_000_000_u64.div_ceil(u64::from(per_minute.get()));
        let period = Duration::from_nanos(period_ns);
        // `with_period` is None only for a zero period; 60 s / u32::MAX is still 14 ns.
        let quota = Quota::with_period(period)
            .unwrap_or_else(|| Quota::per_minute(per_minute).allow_burst(NonZeroU32::MIN));
        Self {
            limiter: RateLimiter::direct_with_clock(quota, TokioClock::new()),
            per_minute,
        }
    }

    /// The permits a minute.
    pub fn per_minute_limit(&self) -> u32 {
        self.per_minute.get()
    }

    /// Waits (tokio time) until a permit is granted and takes it; returns how long it waited.
    pub async fn acquire(&self) -> Duration {
        let started = tokio::time::Instant::now();
        let clock = self.limiter.clock();
        loop {
            match self.limiter.check() {
                Ok(()) => return started.elapsed(),
                // Another task may take the permit first; then check again and wait more.
                Err(not_until) => {
                    tokio::time::sleep(not_until.wait_time_from(clock.now())).await;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};
    use tokio::time::Instant;

    /// 120 QPM shared by 2 environments is 60 a minute, one a second: 10 permits take at
    /// least 9 s of virtual time (the first is immediate) and no two come within a second.
    #[tokio::test(start_paused = true)]
    async fn ten_permits_at_sixty_a_minute_take_nine_seconds() {
        let rate = RequestRate::for_environment(120, 2);
        assert_eq!(rate.per_minute_limit(), 60);
        let start = Instant::now();
        let mut granted = Vec::new();
        for _ in 0..10 {
            rate.acquire().await;
            granted.push(start.elapsed());
        }
        let total = start.elapsed();
        assert!(total >= Duration::from_secs(9), "took {total:?}");
        // And the steady rate is reached, not something slower.
        assert!(total < Duration::from_secs(10), "took {total:?}");
        for pair in granted.windows(2) {
            assert!(pair[1] - pair[0] >= Duration::from_secs(1), "{granted:?}");
        }
    }

    /// Many tasks contending: in any window of a minute no more than 60 permits, in any
    /// window of a second no more than 1, and the steady rate is still reached.
    #[tokio::test(start_paused = true)]
    async fn contending_tasks_never_exceed_the_rate_in_any_window() {
        let rate = Arc::new(RequestRate::for_environment(300, 5));
        let times = Arc::new(Mutex::new(Vec::new()));
        let start = Instant::now();
        let mut tasks = Vec::new();
        for _ in 0..6 {
            let rate = Arc::clone(&rate);
            let times = Arc::clone(&times);
            tasks.push(tokio::spawn(async move {
                for _ in 0..25 {
                    rate.acquire().await;
                    times.lock().expect("lock").push(start.elapsed());
                }
            }));
        }
        for task in tasks {
            task.await.expect("task");
        }
        let mut times = times.lock().expect("lock").clone();
        times.sort();
        assert_eq!(times.len(), 150);
        let within = |from: Duration, window: Duration| {
            times
                .iter()
                .filter(|t| **t >= from && **t < from + window)
                .count()
        };
        for t in &times {
            assert!(
                within(*t, Duration::from_secs(60)) <= 60,
                "minute from {t:?}"
            );
            assert!(within(*t, Duration::from_secs(1)) <= 1, "second from {t:?}");
        }
        let last = times[149];
        assert!(last >= Duration::from_secs(149), "last at {last:?}");
        assert!(last < Duration::from_secs(150), "last at {last:?}");
    }

    #[test]
    fn the_share_is_at_least_one_a_minute() {
        assert_eq!(RequestRate::for_environment(10, 20).per_minute_limit(), 1);
        assert_eq!(RequestRate::for_environment(0, 0).per_minute_limit(), 1);
        assert_eq!(RequestRate::for_environment(100, 3).per_minute_limit(), 33);
    }
}
