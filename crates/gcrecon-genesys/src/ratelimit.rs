//! A client-side token bucket that keeps requests under the per-token rate
//! limit, so a large refresh runs at the allowed pace instead of living in
//! 429s; and a shared pause, so that one 429 holds back every request on the
//! token until its `Retry-After` has passed.
//!
//! With a limit of `N` requests per minute the limiter keeps the send times
//! of the last `N` requests and lets a request go when fewer than `N` were
//! sent in the past minute (a sliding-window log). No 60-second window ever
//! sees more than `N` requests, whether the service counts in fixed
//! windows, sliding windows or a bucket of its own; and, unlike a slowly
//! refilling bucket, a plan of a hundred calls is not paced at all: the
//! whole minute's budget is there from the first request.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

/// The window the service counts in, plus a margin for the difference
/// between when a request leaves here and when it arrives there.
const WINDOW: Duration = Duration::from_millis(60_250);

/// The limiter's arithmetic, separate from the clock and the sleeping.
#[derive(Clone, Debug)]
pub struct Bucket {
    limit: usize,
    /// Send times of the most recent requests, oldest first (at most `limit`).
    sent: VecDeque<Instant>,
    paused_until: Option<Instant>,
}

impl Bucket {
    /// An empty log for `requests_per_minute`.
    pub fn new(requests_per_minute: u32, _now: Instant) -> Bucket {
        let limit = usize::try_from(requests_per_minute.max(1)).unwrap_or(usize::MAX);
        Bucket {
            limit,
            sent: VecDeque::with_capacity(limit.min(4096)),
            paused_until: None,
        }
    }

    /// Take a slot at `now`, or say how long to wait before asking again.
    pub fn try_take(&mut self, now: Instant) -> Result<(), Duration> {
        if let Some(until) = self.paused_until {
            if now < until {
                return Err(until - now);
            }
            self.paused_until = None;
        }
        while self
            .sent
            .front()
            .is_some_and(|t| now.saturating_duration_since(*t) >= WINDOW)
        {
            self.sent.pop_front();
        }
        if self.sent.len() < self.limit {
            self.sent.push_back(now);
            Ok(())
        } else {
            let oldest = self.sent.front().copied().unwrap_or(now);
            let wait = (oldest + WINDOW).saturating_duration_since(now);
            Err(wait.max(Duration::from_millis(1)))
        }
    }

    /// Hold every request back until `until` (a 429's `Retry-After`). The
    /// service's count for the token starts afresh then, and so does ours.
    pub fn pause_until(&mut self, until: Instant) {
        if self.paused_until.is_none_or(|p| p < until) {
            self.paused_until = Some(until);
            self.sent.clear();
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
    fn a_whole_minute_budget_at_once_then_never_over_the_limit_in_a_minute() {
        let start = Instant::now();
        let mut bucket = Bucket::new(300, start);
        // A plan of up to 300 calls is not paced at all.
        for _ in 0..300 {
            bucket.try_take(start).unwrap();
        }
        let wait = bucket.try_take(start).unwrap_err();
        assert_eq!(wait, WINDOW);
        // Simulate a greedy client for three minutes, counting per 60-second window.
        let mut now = start;
        let mut sent = vec![start; 300];
        while now < start + Duration::from_secs(180) {
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
        // And it does use the budget: 300 per window, three windows.
        assert!(sent.len() >= 900, "{}", sent.len());
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
