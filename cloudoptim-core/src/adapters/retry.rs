//! Bounded retries with exponential backoff and full jitter, shared by every adapter.

use std::time::Duration;

/// How often and how long to retry a transient failure (HTTP 429, 5xx, a reset connection).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetryPolicy {
    /// Retries after the first attempt (default 3).
    pub max_retries: u32,
    /// Delay before the first retry (default 200 ms); doubled each time.
    pub base: Duration,
    /// Cap on one delay (default 5 s).
    pub max_delay: Duration,
    /// Cap on the whole operation, attempts and delays included (default 30 s).
    pub timeout: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_retries: 3,
            base: Duration::from_millis(200),
            max_delay: Duration::from_secs(5),
            timeout: Duration::from_secs(30),
        }
    }
}

impl RetryPolicy {
    /// The delay before retry number `attempt` (1-based), with full jitter from `unit` in
    /// `[0, 1)`: uniform in `[0, min(max_delay, base·2^(attempt-1))]`. A server's
    /// `Retry-After` wins when given and not longer than `max_delay`.
    pub fn delay(&self, attempt: u32, unit: f64, retry_after: Option<Duration>) -> Duration {
        if let Some(ra) = retry_after {
            return ra.min(self.max_delay);
        }
        let exp = self
            .base
            .saturating_mul(
                1u32.checked_shl(attempt.saturating_sub(1))
                    .unwrap_or(u32::MAX),
            )
            .min(self.max_delay);
        exp.mul_f64(unit.clamp(0.0, 1.0))
    }

    /// Whether an HTTP status is worth retrying: 429, 500, 502, 503, 504.
    pub fn retryable_status(status: u16) -> bool {
        matches!(status, 429 | 500 | 502 | 503 | 504)
    }
}

/// A jitter source in `[0, 1)` without a global RNG: a hash of the time and a counter.
pub fn jitter() -> f64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0x9E37_79B9_7F4A_7C15);
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    let mut z = t ^ N.fetch_add(0x9E37_79B9_7F4A_7C15, Ordering::Relaxed);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_are_capped_and_honour_retry_after() {
        let p = RetryPolicy::default();
        assert_eq!(
            p.delay(1, 0.999_999, None),
            Duration::from_millis(200).mul_f64(0.999_999)
        );
        assert!(p.delay(3, 0.5, None) == Duration::from_millis(400));
        assert_eq!(p.delay(40, 1.0, None), p.max_delay);
        assert_eq!(p.delay(1, 0.0, None), Duration::ZERO);
        assert_eq!(
            p.delay(1, 0.5, Some(Duration::from_secs(2))),
            Duration::from_secs(2)
        );
        assert_eq!(p.delay(1, 0.5, Some(Duration::from_secs(60))), p.max_delay);
        assert!(RetryPolicy::retryable_status(429) && !RetryPolicy::retryable_status(404));
        let j: Vec<f64> = (0..100).map(|_| jitter()).collect();
        assert!(j.iter().all(|x| (0.0..1.0).contains(x)));
        assert!(j.windows(2).any(|w| w[0] != w[1]));
    }
}
