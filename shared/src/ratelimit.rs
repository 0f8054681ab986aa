//! A client-side request rate limit. AWS request quotas are per account and region and shared
//! with every other caller, production traffic included: a scan must stay well under them
//! instead of spending the quota and leaning on throttling retries.

use std::sync::Mutex;
use std::time::Duration;
use tokio::time::Instant;

/// Spaces requests evenly at most `per_second` apart, without bursts: each caller is given the
/// next free slot and sleeps until it.
#[derive(Debug)]
pub struct RateLimit {
    interval: Duration,
    next_slot: Mutex<Option<Instant>>,
}

impl RateLimit {
    /// `per_second` below one is taken as one.
    pub fn per_second(per_second: f64) -> Self {
        Self {
            interval: Duration::from_secs_f64(1.0 / per_second.max(1.0)),
            next_slot: Mutex::new(None),
        }
    }

    pub fn requests_per_second(&self) -> f64 {
        1.0 / self.interval.as_secs_f64()
    }

    /// Waits for this caller's slot.
    pub async fn acquire(&self) {
        let now = Instant::now();
        let slot = {
            // A poisoned lock only means another caller panicked while holding it; the slot it
            // guards is still a valid instant.
            let mut next = self
                .next_slot
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            let slot = next.map_or(now, |next| next.max(now));
            *next = Some(slot + self.interval);
            slot
        };
        tokio::time::sleep_until(slot).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn requests_are_spaced_by_the_interval_and_never_burst() {
        let limit = RateLimit::per_second(10.0);
        let start = Instant::now();
        for _ in 0..21 {
            limit.acquire().await;
        }
        // The first goes at once, then one every 100 ms.
        assert_eq!(start.elapsed(), Duration::from_millis(2000));
    }

    #[tokio::test(start_paused = true)]
    async fn concurrent_callers_share_one_limit() {
        let limit = RateLimit::per_second(5.0);
        let start = Instant::now();
        futures_util::future::join_all((0..6).map(|_| limit.acquire())).await;
        assert_eq!(start.elapsed(), Duration::from_millis(1000));
    }

    #[tokio::test(start_paused = true)]
    async fn an_idle_limit_does_not_save_up_requests() {
        let limit = RateLimit::per_second(2.0);
        limit.acquire().await;
        tokio::time::sleep(Duration::from_secs(10)).await;
        let start = Instant::now();
        limit.acquire().await;
        limit.acquire().await;
        assert_eq!(start.elapsed(), Duration::from_millis(500));
        assert_eq!(RateLimit::per_second(0.1).requests_per_second(), 1.0);
    }
}
