//! Lower bounds the measurements are held against: the fewest API calls a
//! no-op plan can make (one call per list page of every kind it must read,
//! plus a few fixed calls), and the least wall time a given number of calls
//! can take at a given latency, rate limit and client parallelism.
//!
//! The bounds are deliberately those of an ideal client, not of gcrecon's
//! design: they know nothing of how gcrecon works, only of the API's list
//! endpoints and page sizes (as the provider declares them once, in
//! `gcrecon_genesys::list_endpoints`) and the simulator's settings.

use serde::Serialize;

/// Settings of the simulated service and of the client that bound time.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct Limits {
    /// Added by the simulator to every response.
    pub latency_ms: u64,
    /// Requests per minute per access token.
    pub rate_per_min: u64,
    /// Requests a client keeps in flight at once (gcrecon's default, and the
    /// baseline's).
    pub parallelism: u64,
}

/// Calls needed to list `objects` objects at `page_size` per page: an empty
/// listing still costs one call.
pub fn pages(objects: u64, page_size: u64) -> u64 {
    assert!(page_size > 0, "a page holds at least one object");
    objects.div_ceil(page_size).max(1)
}

/// How a kind's list endpoint pages.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum Paging {
    /// `pageSize` up to this many per page.
    PageSize(u64),
    /// Everything in one listing (`GET /api/v2/oauth/clients`).
    Single,
}

/// A list endpoint and its paging.
#[derive(Clone, Debug)]
pub struct ListEndpoint {
    /// The manifest kind the endpoint lists (`role`), or `permission` for
    /// the catalog.
    pub kind: &'static str,
    /// The route as the simulator's stats name it (`GET /api/v2/groups`).
    pub route: String,
    pub paging: Paging,
}

/// The list endpoints a refresh may page through, from the provider's
/// kind registry.
pub fn list_endpoints() -> Vec<ListEndpoint> {
    gcrecon_genesys::list_endpoints()
        .into_iter()
        .map(|e| ListEndpoint {
            kind: e.kind,
            route: format!("GET {}", e.path),
            paging: e
                .page_size
                .map_or(Paging::Single, |size| Paging::PageSize(u64::from(size))),
        })
        .collect()
}

/// The list endpoint of a kind.
pub fn endpoint(kind: &str) -> Option<ListEndpoint> {
    list_endpoints().into_iter().find(|e| e.kind == kind)
}

/// One line of a call bound: a route, how many calls it needs and why.
#[derive(Clone, Debug, Serialize)]
pub struct BoundLine {
    pub route: String,
    pub calls: u64,
    pub why: String,
}

/// The fewest calls of a no-op plan.
#[derive(Clone, Debug, Serialize)]
pub struct CallBound {
    pub lines: Vec<BoundLine>,
    /// Every call, the login included.
    pub total: u64,
    /// The calls made with the access token (all but the login): what the
    /// per-token rate limit counts.
    pub api_calls: u64,
}

/// The route of the client-credentials login.
pub const LOGIN_ROUTE: &str = "POST /oauth/token";

/// The fewest calls a no-op plan can make: log in, learn who the caller and
/// the org are (`subjects/me`, which also gives the caller's grants, and
/// `organizations/me`), page through the
/// permission catalog when roles are managed (permissions are checked
/// against it at plan time), and page through the listing of every managed
/// kind, which holds all of that kind's objects in the org (managed,
/// unmanaged and built-in). `org_objects` gives those counts by kind, the
/// catalog's size under `permission`.
pub fn noop_plan_calls(org_objects: &[(&str, u64)]) -> CallBound {
    let mut lines = vec![
        BoundLine {
            route: LOGIN_ROUTE.to_owned(),
            calls: 1,
            why: "client-credentials login".to_owned(),
        },
        BoundLine {
            route: "GET /api/v2/authorization/subjects/me".to_owned(),
            calls: 1,
            why: "who the caller is and what it holds".to_owned(),
        },
        BoundLine {
            route: "GET /api/v2/organizations/me".to_owned(),
            calls: 1,
            why: "the org (data.org)".to_owned(),
        },
    ];
    for (kind, objects) in org_objects {
        let Some(ep) = endpoint(kind) else { continue };
        let (calls, why) = match ep.paging {
            Paging::PageSize(size) => (
                pages(*objects, size),
                format!("{objects} {kind} objects at {size} a page"),
            ),
            Paging::Single => (1, format!("{objects} {kind} objects in one listing")),
        };
        lines.push(BoundLine {
            route: ep.route,
            calls,
            why,
        });
    }
    let total = lines.iter().map(|l| l.calls).sum();
    CallBound {
        lines,
        total,
        api_calls: total - 1,
    }
}

/// The least wall time of a run of calls, and what sets it.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct TimeBound {
    /// Round trips: the login, then the API calls `parallelism` at a time.
    pub latency_ms: u64,
    /// Waiting for the per-minute budget: a sliding window of one minute
    /// per token, so call `k` cannot start before `⌊(k−1)/rate⌋` minutes
    /// after the first, and the last still takes one round trip.
    pub rate_limit_ms: u64,
    /// The larger of the two, plus the login round trip when the rate limit
    /// dominates.
    pub total_ms: u64,
}

/// The least time `api_calls` calls made with one token (after one login
/// call, which the rate limit does not count) can take.
pub fn time_bound(api_calls: u64, limits: Limits) -> TimeBound {
    let login = limits.latency_ms;
    let rounds = api_calls.div_ceil(limits.parallelism.max(1));
    let latency = login + rounds * limits.latency_ms;
    let rate = if api_calls == 0 || limits.rate_per_min == 0 {
        0
    } else {
        ((api_calls - 1) / limits.rate_per_min) * 60_000 + limits.latency_ms
    };
    TimeBound {
        latency_ms: latency,
        rate_limit_ms: rate,
        total_ms: latency.max(login + rate),
    }
}

/// Whether a route template addresses one object (`.../{roleId}`), as
/// opposed to a listing or a fixed call.
pub fn is_per_object(route: &str) -> bool {
    route.contains('{')
}

/// Why a refresh might read one object at a time on this route: the fields
/// its listing does not carry.
pub fn per_object_reason(route: &str) -> &'static str {
    const REASONS: &[(&str, &str)] = &[
        (
            "/api/v2/groups/{groupId}/members",
            "group members are not in the group listing; needed only for groups whose manifest sets `members` or `owners`",
        ),
        (
            "/api/v2/integrations/{integrationId}/config/current",
            "an integration's configuration is not in the integration listing",
        ),
        (
            "/api/v2/authorization/roles/{roleId}/subjectgrants",
            "which subjects hold a role is not in the role listing; needed for `role_grant`",
        ),
        (
            "/api/v2/authorization/subjects/{subjectId}",
            "the caller's own grants (caller-grant handling)",
        ),
        (
            "/api/v2/identityproviders/",
            "identity providers are singletons read by name",
        ),
        (
            "/api/v2/oauth/clients/{clientId}",
            "the OAuth client listing is complete; a per-client read is avoidable",
        ),
        (
            "/api/v2/authorization/roles/{roleId}",
            "the role listing carries permissions; a per-role read is avoidable",
        ),
        (
            "/api/v2/groups/{groupId}",
            "the group listing carries every managed field; a per-group read is avoidable",
        ),
        (
            "/api/v2/authorization/divisions/{divisionId}",
            "the division listing is complete; a per-division read is avoidable",
        ),
        (
            "/api/v2/integrations/{integrationId}",
            "the integration listing carries name and state; a per-integration read is avoidable",
        ),
    ];
    REASONS
        .iter()
        .find(|(pattern, _)| route.contains(pattern))
        .map_or("no known reason: investigate", |(_, why)| why)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_round_up_and_never_fall_below_one() {
        assert_eq!(pages(0, 100), 1);
        assert_eq!(pages(1, 100), 1);
        assert_eq!(pages(100, 100), 1);
        assert_eq!(pages(101, 100), 2);
        assert_eq!(pages(10_000, 500), 20);
        assert_eq!(pages(10_001, 500), 21);
    }

    #[test]
    fn noop_plan_bound_counts_fixed_calls_and_pages() {
        // 8,900 managed roles + 12 built-in, 1,000 groups, 100 divisions +
        // Home, a 600-permission catalog.
        let b = noop_plan_calls(&[
            ("role", 8_912),
            ("group", 1_000),
            ("division", 101),
            ("permission", 600),
        ]);
        // 3 fixed + 90 + 2 + 2 + 6
        assert_eq!(b.total, 103);
        assert_eq!(b.api_calls, 102);
        assert_eq!(b.lines[0].route, LOGIN_ROUTE);
        let roles = b
            .lines
            .iter()
            .find(|l| l.route == "GET /api/v2/authorization/roles")
            .unwrap();
        assert_eq!(roles.calls, 90);
    }

    #[test]
    fn oauth_clients_cost_one_listing_and_unknown_kinds_nothing() {
        let b = noop_plan_calls(&[("oauth_client", 5_000), ("identity_provider", 1)]);
        assert_eq!(b.total, 4);
    }

    #[test]
    fn time_bound_is_latency_rounds_below_the_rate_limit() {
        let limits = Limits {
            latency_ms: 100,
            rate_per_min: 300,
            parallelism: 10,
        };
        // 102 calls: 11 rounds + login = 1.2 s; the rate limit allows all
        // 102 at once.
        let t = time_bound(102, limits);
        assert_eq!(t.latency_ms, 1_200);
        assert_eq!(t.rate_limit_ms, 100);
        assert_eq!(t.total_ms, 1_200);
    }

    #[test]
    fn time_bound_waits_for_the_per_minute_budget() {
        let limits = Limits {
            latency_ms: 100,
            rate_per_min: 300,
            parallelism: 10,
        };
        // 1,000 calls: calls 901..1000 start no earlier than minute 3.
        let t = time_bound(1_000, limits);
        assert_eq!(t.rate_limit_ms, 180_100);
        assert_eq!(t.latency_ms, 10_100);
        assert_eq!(t.total_ms, 180_200);
        // Exactly one minute's budget needs no wait.
        assert_eq!(time_bound(300, limits).rate_limit_ms, 100);
        assert_eq!(time_bound(301, limits).rate_limit_ms, 60_100);
        // 10,000 calls: 33 minutes of waiting.
        assert_eq!(time_bound(10_000, limits).total_ms, 33 * 60_000 + 200);
    }

    #[test]
    fn zero_latency_zero_calls() {
        let limits = Limits {
            latency_ms: 0,
            rate_per_min: 300,
            parallelism: 10,
        };
        assert_eq!(time_bound(0, limits).total_ms, 0);
    }

    #[test]
    fn per_object_routes_are_recognised_and_explained() {
        assert!(is_per_object("GET /api/v2/groups/{groupId}/members"));
        assert!(!is_per_object("GET /api/v2/groups"));
        assert!(per_object_reason("GET /api/v2/groups/{groupId}/members").contains("members"));
        assert!(
            per_object_reason("GET /api/v2/authorization/roles/{roleId}").contains("avoidable")
        );
        assert!(per_object_reason("GET /api/v2/frobs/{frobId}").contains("investigate"));
    }
}
