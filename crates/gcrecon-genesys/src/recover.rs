//! Creates under ambiguous failures.
//!
//! A create is a POST and not idempotent: when it ends in a 502, a 504, a
//! timeout or a connection dropped after sending, the service may have made
//! the object and only the answer was lost. The HTTP layer does not retry
//! it then (see [`crate::retry`]); [`create`] does, carefully: it looks the
//! object up by name (the cheapest name lookup the kind has, given by the
//! caller) and
//!
//! - finds exactly one made since the attempt began → that is the object
//!   the lost answer described ([`Posted::Found`]; the kind then does what
//!   the answer would have let it do, e.g. a new OAuth client secret);
//! - finds none → sends the POST again (bounded by the policy's transient
//!   attempts, after a back-off that also gives a lagging listing time);
//! - finds several → gives up with an error that names them, rather than
//!   guess or make one more.
//!
//! "Made since the attempt began": an object carrying `dateCreated` (OAuth
//! clients) must be no older than the first attempt, less [`CLOCK_SKEW`].
//! Roles, divisions, groups and integrations carry no creation time; for
//! them an object of that name is taken as this attempt's because the
//! engine plans a create only when no unclaimed object of that name exists
//! (the refresh just before found none), and roles, divisions and groups
//! cannot share a name at all.
//!
//! Listings may lag behind a create. If the lookup misses the object and
//! the POST is sent again, a kind with unique names answers "already
//! exists": after an earlier ambiguous attempt that means ours, so the
//! lookup is repeated a few times ([`CONFLICT_LOOKUPS`]) before the
//! conflict is reported.

use std::future::Future;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use gcrecon_core::provider::ProviderError;
use rand::Rng as _;
use serde_json::Value as Json;

use crate::http::{Api, Failure, Request};
use crate::retry;
use crate::wire::str_field;

/// How far the service's clock may be behind ours when comparing
/// `dateCreated` with the time of the first attempt.
pub const CLOCK_SKEW: Duration = Duration::from_secs(120);

/// Look-ups after a name conflict that followed an ambiguous attempt.
pub const CONFLICT_LOOKUPS: u32 = 5;

/// How a create ended.
#[derive(Debug)]
pub enum Posted {
    /// The service answered the POST: the created object.
    Answered(Json),
    /// An attempt's answer was lost and the object was found by name: its
    /// wire shape from the lookup (fields only the create answers, such as
    /// an OAuth client's secret, are missing).
    Found(Json),
}

impl Posted {
    /// The wire object, answered or found.
    pub fn into_wire(self) -> Json {
        match self {
            Posted::Answered(w) | Posted::Found(w) => w,
        }
    }

    pub fn was_found(&self) -> bool {
        matches!(self, Posted::Found(_))
    }
}

/// Send a create `request` for the object `name` (a `what`, for messages);
/// `find` answers the objects named exactly `name` now.
pub async fn create<F, Fut>(
    api: &Api,
    request: &Request,
    what: &str,
    name: &str,
    find: F,
) -> Result<Posted, ProviderError>
where
    F: Fn() -> Fut,
    Fut: Future<Output = Result<Vec<Json>, ProviderError>>,
{
    let started = SystemTime::now();
    let policy = api.policy().clone();
    let max_sends = policy.max_transient_attempts.max(1);
    let mut ambiguous_before = false;
    let mut sends = 0u32;
    loop {
        sends += 1;
        let error = match api.try_send(request).await {
            Ok(body) => return Ok(Posted::Answered(body)),
            Err(Failure {
                error,
                ambiguous: false,
            }) => {
                if ambiguous_before && is_name_conflict(&error) {
                    for n in 1..=CONFLICT_LOOKUPS {
                        if let Some(found) = made_since(find().await?, started, what, name)? {
                            tracing::info!(what, "found the object an earlier attempt created");
                            return Ok(Posted::Found(found));
                        }
                        tokio::time::sleep(retry::backoff(&policy, n, 0.5)).await;
                    }
                }
                return Err(error);
            }
            Err(Failure {
                error,
                ambiguous: true,
            }) => error,
        };
        ambiguous_before = true;
        // Wait first: the back-off a retry would take anyway also lets a
        // lagging listing show the object.
        let jitter = rand::thread_rng().gen::<f64>();
        tokio::time::sleep(retry::backoff(&policy, sends, jitter)).await;
        if let Some(found) = made_since(find().await?, started, what, name)? {
            tracing::info!(
                what,
                sends,
                "the create's answer was lost but it was applied; using the object found by name"
            );
            return Ok(Posted::Found(found));
        }
        if sends >= max_sends {
            return Err(ProviderError::Transport(format!(
                "creating {what} `{name}` got no clear answer after {sends} attempt(s) and no such {what} is found: {error}"
            )));
        }
        tracing::info!(
            what,
            sends,
            "the create got no clear answer and did not take effect; sending it again"
        );
    }
}

/// The one candidate made since `started`; `None` when there is none; an
/// error when several are, since which one is ours cannot be told.
fn made_since(
    candidates: Vec<Json>,
    started: SystemTime,
    what: &str,
    name: &str,
) -> Result<Option<Json>, ProviderError> {
    let since = started.checked_sub(CLOCK_SKEW).unwrap_or(UNIX_EPOCH);
    let mut recent: Vec<Json> = candidates
        .into_iter()
        .filter(|c| {
            str_field(c, "dateCreated")
                .and_then(parse_timestamp)
                .is_none_or(|created| created >= since)
        })
        .collect();
    match recent.len() {
        0 => Ok(None),
        1 => Ok(recent.pop()),
        n => {
            let ids: Vec<&str> = recent.iter().filter_map(|c| str_field(c, "id")).collect();
            Err(ProviderError::Transport(format!(
                "creating {what} `{name}` got no clear answer, and {n} objects of that name made since exist ({}); gcrecon cannot tell which one this apply made. Delete the extra ones, then run plan again",
                ids.join(", ")
            )))
        }
    }
}

/// True for the service's answer to a name already taken: a 409, or a 400
/// whose message says it exists.
pub fn is_name_conflict(err: &ProviderError) -> bool {
    match err {
        ProviderError::Api { status: 409, .. } => true,
        ProviderError::Api {
            status: 400,
            message,
            ..
        } => message.to_ascii_lowercase().contains("exist"),
        _ => false,
    }
}

/// `2024-05-01T12:34:56.789Z` (or with `+00:00`, or without fraction) →
/// time; `None` for anything else.
pub fn parse_timestamp(text: &str) -> Option<SystemTime> {
    let text = text
        .strip_suffix('Z')
        .or_else(|| text.strip_suffix("+00:00"))?;
    let (date, time) = text.split_once('T')?;
    let mut d = date.splitn(3, '-').map(|p| p.parse::<i64>().ok());
    let (year, month, day) = (d.next()??, d.next()??, d.next()??);
    let (hms, fraction) = time.split_once('.').unwrap_or((time, ""));
    let mut t = hms.splitn(3, ':').map(|p| p.parse::<u64>().ok());
    let (hour, minute, second) = (t.next()??, t.next()??, t.next()??);
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || minute > 59 {
        return None;
    }
    let nanos = if fraction.is_empty() {
        0
    } else {
        let digits: String = fraction.chars().take(9).collect();
        let value = digits.parse::<u64>().ok()?;
        value * 10u64.pow(9 - u32::try_from(digits.len()).ok()?)
    };
    // Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's
    // days_from_civil).
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = u64::try_from(era * 146_097 + doe - 719_468).ok()?;
    let secs = days * 86_400 + hour * 3600 + minute * 60 + second;
    UNIX_EPOCH.checked_add(Duration::new(secs, u32::try_from(nanos).ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn timestamps_parse_as_genesys_writes_them() {
        let t = parse_timestamp("2024-05-01T12:34:56.789Z").unwrap();
        let d = t.duration_since(UNIX_EPOCH).unwrap();
        assert_eq!(d.as_secs(), 1_714_566_896);
        assert_eq!(d.subsec_millis(), 789);
        assert_eq!(parse_timestamp("1970-01-01T00:00:00Z"), Some(UNIX_EPOCH));
        assert_eq!(
            parse_timestamp("2000-03-01T00:00:00+00:00")
                .unwrap()
                .duration_since(UNIX_EPOCH)
                .unwrap()
                .as_secs(),
            951_868_800
        );
        for bad in [
            "",
            "yesterday",
            "2024-13-01T00:00:00Z",
            "2024-05-01 12:00:00",
        ] {
            assert_eq!(parse_timestamp(bad), None, "{bad}");
        }
    }

    #[test]
    fn only_objects_made_since_the_attempt_count() {
        let now = SystemTime::now();
        let old = json!({"id": "old", "name": "x", "dateCreated": "2020-01-01T00:00:00Z"});
        let undated = json!({"id": "u", "name": "x"});
        assert_eq!(
            made_since(vec![old.clone()], now, "client", "x").unwrap(),
            None
        );
        assert_eq!(
            made_since(vec![old, undated.clone()], now, "client", "x").unwrap(),
            Some(undated.clone())
        );
        let err = made_since(vec![undated.clone(), undated], now, "role", "x").unwrap_err();
        assert!(err.to_string().contains("cannot tell"), "{err}");
        assert_eq!(made_since(Vec::new(), now, "role", "x").unwrap(), None);
    }

    #[test]
    fn name_conflicts_are_told_from_other_refusals() {
        let api = |status, message: &str| ProviderError::Api {
            method: "POST".into(),
            path: "/x".into(),
            status,
            code: "bad.request".into(),
            message: message.into(),
            correlation_id: None,
        };
        assert!(is_name_conflict(&api(
            400,
            "A role named \"x\" already exists"
        )));
        assert!(is_name_conflict(&api(409, "conflict")));
        assert!(!is_name_conflict(&api(400, "name is required")));
        assert!(!is_name_conflict(&api(403, "exists")));
    }
}
