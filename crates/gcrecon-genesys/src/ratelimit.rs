//! A client-side token bucket that keeps requests under the per-token rate
//! limit, so a large refresh runs at the allowed pace instead of living in
//! 429s; and a shared pause, so that one 429 holds back every request on the
//! token until its `Retry-After` has passed.
//!
//! With a limit of `N` requests per minute the bucket holds `N/10` tokens
//! (a burst) and refills at `(N - N/10)` per minute: no 60-second window
//! ever sees more than `N` requests, whether the service counts in fixed
//! windows, sliding windows or a bucket of its own.

use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

/// The bucket's arithmetic, separate from the clock and the sleeping.
#[derive(Clone, Debug)]
pub struct Bucket {
    capacity: f64,
    per_second: f64,
    tokens: f64,
    updated: Instant,
    paused_until: Option<Instant>,
}

impl Bucket {
    /// A full bucket for `requests_per_minute`.
    pub fn new(requests_per_minute: u32, now: Instant) -> Bucket {
        let per_minute = f64::from(requests_per_minute.max(1));
        let capacity = (per_minute / 10.0).floor().max(1.0);
        let per_second = ((per_minute - capacity).max(1.0)) / 60.0;
        Bucket {
            capacity,
            per_second,
            tokens: capacity,
            updated: now,
            paused_until: None,
        }
    }

    /// Take a token at `now`, or say how long to wait before asking again.
    pub fn try_take(&mut self, now: Instant) -> Result<(), Duration> {
        if let Some(until) = self.paused_until {
            if now < until {
                return Err(until - now);
            }
            self.paused_until = None;
        }
        let elapsed = now.saturating_duration_since(self.updated).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.per_second).min(self.capacity);
        self.updated = now;
        // A hair under 1.0 counts as 1.0: floating point must not leave a
        // caller waiting zero nanoseconds forever.
        if self.tokens >= 1.0 - 1e-9 {
            self.tokens = (self.tokens - 1.0).max(0.0);
            Ok(())
        } else {
            let wait = Duration::from_secs_f64((1.0 - self.tokens) / self.per_second);
            Err(wait.max(Duration::from_millis(1)))
        }
    }

    /// Hold every request back until `until` (a 429's `Retry-After`); the
    /// bucket starts empty afterwards so the pace resumes gently.
    pub fn pause_until(&mut self, until: Instant) {
        if self.paused_until.is_none_or(|p| p < until) {
            self.paused_until = Some(until);
            self.tokens = 0.0;
            self.updated = until;
        }
    }
}

/// The bucket shared by every request of a provider.
#[derive(Debug)]
pub struct RateLimiter {
    bucket: Mutex<Bucket>,
}

impl RateLimiter {
    pub fn new(requests_per_minute: u32) -> RateLimiter {
        RateLimiter {
            bucket: Mutex::new(Bucket::new(requests_per_minute, Instant::now())),
        }
    }

    /// Wait for a token.
    pub async fn acquire(&self) {
        loop {
            let wait = {
                let mut bucket = self
                    .bucket
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                match bucket.try_take(Instant::now()) {
                    Ok(()) => return,
                    Err(wait) => wait,
                }
            };
            tokio::time::sleep(wait).await;
        }
    }

    /// Hold every request back for `wait`.
    pub fn pause_for(&self, wait: Duration) {
        let mut bucket = self
            .bucket
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        bucket.pause_until(Instant::now() + wait);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn burst_then_steady_pace_never_over_the_limit_in_a_minute() {
        let start = Instant::now();
        let mut bucket = Bucket::new(300, start);
        // The burst.
        for _ in 0..30 {
            bucket.try_take(start).unwrap();
        }
        let wait = bucket.try_take(start).unwrap_err();
        assert!(
            wait > Duration::from_millis(200) && wait < Duration::from_millis(250),
            "{wait:?}"
        );
        // Simulate a greedy client for two minutes, counting per 60-second window.
        let mut now = start;
        let mut sent = vec![start; 30];
        while now < start + Duration::from_secs(120) {
            match bucket.try_take(now) {
                Ok(()) => sent.push(now),
                Err(wait) => now += wait,
            }
        }
        for (i, t) in sent.iter().enumerate() {
            let in_window = sent[i..]
                .iter()
                .take_while(|u| **u < *t + Duration::from_secs(60))
                .count();
            assert!(in_window <= 300, "{in_window} requests within a minute");
        }
    }

    #[test]
    fn a_pause_holds_everything_back() {
        let start = Instant::now();
        let mut bucket = Bucket::new(300, start);
        bucket.pause_until(start + Duration::from_secs(5));
        assert_eq!(
            bucket.try_take(start + Duration::from_secs(1)).unwrap_err(),
            Duration::from_secs(4)
        );
        // A shorter pause does not shorten a longer one.
        bucket.pause_until(start + Duration::from_secs(2));
        assert!(bucket.try_take(start + Duration::from_secs(3)).is_err());
        assert!(bucket.try_take(start + Duration::from_secs(6)).is_ok());
    }
}
