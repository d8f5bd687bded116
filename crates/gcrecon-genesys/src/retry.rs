//! The one retry policy: what to do after each HTTP attempt.
//!
//! Every request of the provider goes through [`decide`]; nothing else in
//! the crate retries, except three rules that need the caller's knowledge,
//! so they cannot live in the HTTP layer:
//!
//! - [`on_conflict`] re-reads and retries a versioned update once after a
//!   version conflict (a 409, or a directory object's 400 "does not match
//!   the current version");
//! - [`while_authz_lags`] retries a grant that names a role or division
//!   created moments ago, which the authorization service answers with 404
//!   until it knows them, for at most [`AUTHZ_LAG_WAIT`];
//! - [`while_draining`] retries a division delete that the service refuses
//!   (400) while objects deleted from the division drain, for at most
//!   [`DRAIN_WAIT`].
//!
//! | answer | decision |
//! |---|---|
//! | 2xx | done |
//! | 429 | wait `Retry-After` (or the number in the message, or back-off), bounded attempts |
//! | 503, could not connect | jittered exponential back-off, bounded attempts |
//! | 502, 504, dropped after sending, timeout | idempotent request: back-off and retry as above; otherwise *ambiguous* (below) |
//! | 401 | log in again once and retry (client credentials only) |
//! | any other | fail at once with the Genesys error |
//!
//! **Idempotency.** Every request says whether sending it twice does what
//! sending it once does ([`crate::http::Request::idempotent`]: GET, PUT,
//! PATCH, DELETE are; a POST is not unless its call site says why it is in
//! effect). A request that is not is retried only when it provably never
//! took effect: the connection could not be made (`is_connect`), or the
//! service itself answered 429 or 503 (refused before doing anything). A
//! 502, a 504, a timeout or a connection dropped after the request was
//! sent is ambiguous — the service may have applied it and only the answer
//! was lost — so the decision is [`Decision::Ambiguous`]: the caller (a
//! kind's create, through [`crate::recover`]) looks for what the request
//! would have made before sending it again.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use gcrecon_core::provider::ProviderError;

/// Limits of the retry policy.
#[derive(Clone, Debug, PartialEq)]
pub struct RetryPolicy {
    /// Attempts in total for a request failing with 502/503/504 or a network error.
    pub max_transient_attempts: u32,
    /// Attempts in total for a request answered 429.
    pub max_rate_limited_attempts: u32,
    /// First back-off delay; doubled each further attempt.
    pub base_delay: Duration,
    /// Largest back-off delay.
    pub max_delay: Duration,
    /// Largest `Retry-After` honoured; a longer one is cut to this.
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_transient_attempts: 8,
            max_rate_limited_attempts: 12,
            base_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(10),
            max_retry_after: Duration::from_secs(120),
        }
    }
}

/// A failed attempt that is about to be retried, for the person waiting.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RetryNotice {
    /// The host the request goes to (`login.mypurecloud.com.au`).
    pub host: String,
    /// `POST /oauth/token`.
    pub request: String,
    /// What went wrong (`could not connect`, `answered 503`).
    pub reason: String,
    /// The attempt about to be made (2 after the first failure).
    pub next_attempt: u32,
    /// Attempts in all before giving up.
    pub max_attempts: u32,
    /// How long until the next attempt.
    pub wait: Duration,
}

/// Told about every retry after a failure with no answer or a 502/503/504
/// (not about 429 waits, which are the normal pace of a busy token).
#[derive(Clone)]
pub struct RetryReporter(pub Arc<dyn Fn(&RetryNotice) + Send + Sync>);

impl std::fmt::Debug for RetryReporter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RetryReporter")
    }
}

/// What one attempt ended with.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Outcome {
    /// An HTTP answer.
    Status {
        status: u16,
        /// `Retry-After`, or the delay a 429 message names.
        retry_after: Option<Duration>,
    },
    /// No answer: connection refused or dropped, timeout.
    Transport {
        /// False when the connection could not even be made, so the
        /// request provably never reached the service.
        sent: bool,
    },
}

/// Attempts made so far for one request.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Attempts {
    /// Failed with 502/503/504 or a network error.
    pub transient: u32,
    /// Answered 429.
    pub rate_limited: u32,
    /// The token was renewed after a 401.
    pub reauthenticated: bool,
}

/// What to do next.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Decision {
    /// A success: hand the answer over.
    Done,
    /// Wait, then send again.
    RetryAfter(Duration),
    /// A 429: every request on this token waits, then this one is sent again.
    RateLimited(Duration),
    /// Get a new token, then send again.
    Reauthenticate,
    /// Give up: the answer (or the last network error) is the result.
    Fail,
    /// Give up without retrying: a request that is not idempotent may have
    /// been applied although no answer says so.
    Ambiguous,
}

/// True for an outcome after which the request may have been applied
/// although it did not succeed: 502, 504, or no answer once sent.
pub fn is_ambiguous(outcome: Outcome) -> bool {
    matches!(
        outcome,
        Outcome::Status {
            status: 502 | 504,
            ..
        } | Outcome::Transport { sent: true }
    )
}

/// Decide after an attempt. `attempts` already counts this attempt's
/// failure; `can_reauthenticate` is true for client credentials;
/// `idempotent` is true when sending the request again is harmless;
/// `jitter` is a random number in `[0, 1)`.
pub fn decide(
    policy: &RetryPolicy,
    outcome: Outcome,
    attempts: Attempts,
    can_reauthenticate: bool,
    idempotent: bool,
    jitter: f64,
) -> Decision {
    match outcome {
        Outcome::Status { status, .. } if (200..300).contains(&status) => Decision::Done,
        _ if !idempotent && is_ambiguous(outcome) => Decision::Ambiguous,
        Outcome::Status {
            status: 429,
            retry_after,
        } => {
            if attempts.rate_limited >= policy.max_rate_limited_attempts {
                return Decision::Fail;
            }
            let wait = match retry_after {
                Some(d) => d.min(policy.max_retry_after),
                None => backoff(policy, attempts.rate_limited, jitter),
            };
            Decision::RateLimited(wait)
        }
        Outcome::Status {
            status: 502..=504, ..
        }
        | Outcome::Transport { .. } => {
            if attempts.transient >= policy.max_transient_attempts {
                Decision::Fail
            } else {
                Decision::RetryAfter(backoff(policy, attempts.transient, jitter))
            }
        }
        Outcome::Status { status: 401, .. } if can_reauthenticate && !attempts.reauthenticated => {
            Decision::Reauthenticate
        }
        Outcome::Status { .. } => Decision::Fail,
    }
}

/// Exponential back-off with "equal jitter": half the delay fixed, half
/// random, so that many clients retrying at once spread out. `failures` is
/// the number of failures so far (1 for the first retry).
pub fn backoff(policy: &RetryPolicy, failures: u32, jitter: f64) -> Duration {
    let exp = failures.saturating_sub(1).min(20);
    let full = policy
        .base_delay
        .saturating_mul(1u32 << exp)
        .min(policy.max_delay);
    let half = full / 2;
    half + half.mul_f64(jitter.clamp(0.0, 1.0))
}

/// The delay a 429 asks for: the `Retry-After` header (whole seconds), or
/// else the `[42]` in the Genesys message `Retry the request in [42] seconds`.
pub fn retry_after(header: Option<&str>, message: Option<&str>) -> Option<Duration> {
    if let Some(secs) = header.and_then(|h| h.trim().parse::<u64>().ok()) {
        return Some(Duration::from_secs(secs));
    }
    let message = message?;
    let start = message.find("in [")? + 4;
    let end = start + message[start..].find(']')?;
    message[start..end]
        .trim()
        .parse::<u64>()
        .ok()
        .map(Duration::from_secs)
}

/// True for the error a stale `version` gets: a 409, or the 400 whose
/// message says the version `does not match the current version`, which is
/// how directory objects (groups, users) answer it.
pub fn is_conflict(err: &ProviderError) -> bool {
    match err {
        ProviderError::Api { status: 409, .. } => true,
        ProviderError::Api {
            status: 400,
            message,
            ..
        } => message.contains("does not match the current version"),
        _ => false,
    }
}

/// Run a versioned update (`op` reads the current version, then writes);
/// after a version conflict ([`is_conflict`]) run it once more, so a
/// concurrent change between read and write does not fail the apply. A
/// second conflict is returned.
pub async fn on_conflict<T, F, Fut>(mut op: F) -> Result<T, ProviderError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, ProviderError>>,
{
    match op().await {
        Err(e) if is_conflict(&e) => {
            tracing::debug!("version conflict; reading again and retrying once");
            op().await
        }
        other => other,
    }
}

/// How long a grant naming a new role or division is retried while the
/// authorization service answers 404 (the Terraform provider retries the
/// same 404 up to 10 times).
pub const AUTHZ_LAG_WAIT: Duration = Duration::from_secs(60);

/// How long a division delete is retried while the service refuses it
/// because objects deleted from the division are still draining.
pub const DRAIN_WAIT: Duration = Duration::from_secs(60);

/// Run `op` again while `retryable` says its error is a passing state of
/// the service, with back-off from 250 ms to 4 s, for at most `bound`.
async fn retry_while<T, F, Fut>(
    what: &str,
    bound: Duration,
    retryable: impl Fn(&ProviderError) -> bool,
    mut op: F,
) -> Result<T, ProviderError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, ProviderError>>,
{
    let deadline = tokio::time::Instant::now() + bound;
    let mut delay = Duration::from_millis(250);
    loop {
        match op().await {
            Err(e) if retryable(&e) && tokio::time::Instant::now() + delay <= deadline => {
                tracing::debug!(error = %e, "{what}; retrying in {} ms", delay.as_millis());
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(4));
            }
            other => return other,
        }
    }
}

/// A grant request (`bulkadd`, a role granted to subjects): retried while
/// it answers 404, since the authorization service does not know a role or
/// division for a while after its creation.
pub async fn while_authz_lags<T, F, Fut>(op: F) -> Result<T, ProviderError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, ProviderError>>,
{
    retry_while(
        "the authorization service does not know a new role or division yet",
        AUTHZ_LAG_WAIT,
        |e| matches!(e, ProviderError::Api { status: 404, .. }),
        op,
    )
    .await
}

/// A division delete: retried while the service refuses it with 400, as it
/// does while objects deleted from the division drain.
pub async fn while_draining<T, F, Fut>(op: F) -> Result<T, ProviderError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, ProviderError>>,
{
    retry_while(
        "the division still drains deleted objects",
        DRAIN_WAIT,
        |e| matches!(e, ProviderError::Api { status: 400, .. }),
        op,
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(status: u16) -> Outcome {
        Outcome::Status {
            status,
            retry_after: None,
        }
    }

    fn attempts(transient: u32, rate_limited: u32) -> Attempts {
        Attempts {
            transient,
            rate_limited,
            reauthenticated: false,
        }
    }

    #[test]
    fn success_and_plain_client_errors_are_final() {
        let p = RetryPolicy::default();
        assert_eq!(
            decide(&p, status(200), Attempts::default(), true, true, 0.5),
            Decision::Done
        );
        assert_eq!(
            decide(&p, status(204), Attempts::default(), true, true, 0.5),
            Decision::Done
        );
        for s in [400, 403, 404, 409, 500] {
            assert_eq!(
                decide(&p, status(s), attempts(0, 0), true, true, 0.5),
                Decision::Fail,
                "{s}"
            );
        }
    }

    #[test]
    fn rate_limits_honour_retry_after_within_bounds() {
        let p = RetryPolicy::default();
        let with = |secs| Outcome::Status {
            status: 429,
            retry_after: Some(Duration::from_secs(secs)),
        };
        assert_eq!(
            decide(&p, with(3), attempts(0, 1), false, true, 0.9),
            Decision::RateLimited(Duration::from_secs(3))
        );
        assert_eq!(
            decide(&p, with(3600), attempts(0, 1), false, true, 0.9),
            Decision::RateLimited(p.max_retry_after)
        );
        assert!(
            matches!(decide(&p, status(429), attempts(0, 2), false, true, 0.0), Decision::RateLimited(d) if d > Duration::ZERO)
        );
        assert_eq!(
            decide(
                &p,
                with(1),
                attempts(0, p.max_rate_limited_attempts),
                false,
                true,
                0.0
            ),
            Decision::Fail
        );
    }

    #[test]
    fn transient_failures_back_off_then_give_up() {
        let p = RetryPolicy::default();
        for outcome in [
            status(502),
            status(503),
            status(504),
            Outcome::Transport { sent: true },
            Outcome::Transport { sent: false },
        ] {
            assert!(matches!(
                decide(&p, outcome, attempts(1, 0), false, true, 0.0),
                Decision::RetryAfter(_)
            ));
            assert_eq!(
                decide(
                    &p,
                    outcome,
                    attempts(p.max_transient_attempts, 0),
                    false,
                    true,
                    0.0
                ),
                Decision::Fail
            );
        }
    }

    #[test]
    fn requests_that_are_not_idempotent_retry_only_what_never_took_effect() {
        let p = RetryPolicy::default();
        // Maybe applied: no retry, the caller must look first.
        for outcome in [status(502), status(504), Outcome::Transport { sent: true }] {
            assert_eq!(
                decide(&p, outcome, attempts(1, 0), true, false, 0.0),
                Decision::Ambiguous,
                "{outcome:?}"
            );
        }
        // Provably not applied: retried as for any request.
        for outcome in [status(503), Outcome::Transport { sent: false }] {
            assert!(
                matches!(
                    decide(&p, outcome, attempts(1, 0), true, false, 0.0),
                    Decision::RetryAfter(_)
                ),
                "{outcome:?}"
            );
        }
        assert!(matches!(
            decide(&p, status(429), attempts(0, 1), true, false, 0.0),
            Decision::RateLimited(_)
        ));
        assert_eq!(
            decide(&p, status(201), attempts(1, 0), true, false, 0.0),
            Decision::Done
        );
        assert_eq!(
            decide(&p, status(400), attempts(1, 0), true, false, 0.0),
            Decision::Fail
        );
    }

    #[test]
    fn unauthorized_reauthenticates_once_for_client_credentials() {
        let p = RetryPolicy::default();
        assert_eq!(
            decide(&p, status(401), Attempts::default(), true, true, 0.0),
            Decision::Reauthenticate
        );
        let again = Attempts {
            reauthenticated: true,
            ..Attempts::default()
        };
        assert_eq!(
            decide(&p, status(401), again, true, true, 0.0),
            Decision::Fail
        );
        assert_eq!(
            decide(&p, status(401), Attempts::default(), false, true, 0.0),
            Decision::Fail
        );
    }

    #[test]
    fn backoff_grows_is_jittered_and_capped() {
        let p = RetryPolicy::default();
        assert_eq!(backoff(&p, 1, 0.0), Duration::from_millis(100));
        assert_eq!(backoff(&p, 1, 1.0), Duration::from_millis(200));
        assert_eq!(backoff(&p, 3, 0.0), Duration::from_millis(400));
        assert_eq!(backoff(&p, 30, 1.0), p.max_delay);
        assert!(backoff(&p, 30, 0.0) >= p.max_delay / 2);
    }

    #[test]
    fn retry_after_from_header_or_message() {
        assert_eq!(retry_after(Some("7"), None), Some(Duration::from_secs(7)));
        let msg = "Rate limit exceeded the maximum. Retry the request in [42] seconds";
        assert_eq!(retry_after(None, Some(msg)), Some(Duration::from_secs(42)));
        assert_eq!(retry_after(Some("soon"), Some("no number")), None);
    }

    #[tokio::test]
    async fn conflicts_are_retried_once() {
        let conflict = || ProviderError::Api {
            method: "PUT".into(),
            path: "/x".into(),
            status: 409,
            code: "general.conflict".into(),
            message: "stale".into(),
            correlation_id: None,
        };
        let mut calls = 0;
        let r = on_conflict(|| {
            calls += 1;
            let n = calls;
            async move {
                if n == 1 {
                    Err(conflict())
                } else {
                    Ok(n)
                }
            }
        })
        .await;
        assert_eq!(r.unwrap(), 2);
        let mut calls = 0;
        let r: Result<(), _> = on_conflict(|| {
            calls += 1;
            async { Err(conflict()) }
        })
        .await;
        assert!(is_conflict(&r.unwrap_err()));
        assert_eq!(calls, 2);
    }
}
