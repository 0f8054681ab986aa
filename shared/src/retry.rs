//! Bounded retries with backoff, for waiting on systems that accept a change after a delay (IAM
//! propagating a key, a database applying a password): never a fixed sleep, never unbounded.

use std::time::Duration;

/// The waits between attempts: doubling from 250 ms, at most 4 s each, adding up to no more
/// than `budget`.
pub fn backoff(budget: Duration) -> Vec<Duration> {
    let mut delays = Vec::new();
    let mut next = Duration::from_millis(250);
    let mut total = Duration::ZERO;
    while total + next <= budget {
        delays.push(next);
        total += next;
        next = (next * 2).min(Duration::from_secs(4));
    }
    delays
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_caps_and_stays_within_budget() {
        let ms = |d: &[Duration]| d.iter().map(|d| d.as_millis() as u64).collect::<Vec<_>>();
        assert_eq!(
            ms(&backoff(Duration::from_secs(20))),
            [250, 500, 1000, 2000, 4000, 4000, 4000, 4000]
        );
        assert!(backoff(Duration::from_millis(100)).is_empty());
        assert!(
            backoff(Duration::from_secs(60)).iter().sum::<Duration>() <= Duration::from_secs(60)
        );
    }
}
