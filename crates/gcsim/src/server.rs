//! The HTTP side: the accept loop, the request pipeline and dispatch.
//!
//! Every `/api/v2` and `/oauth/token` request goes through, in order:
//! correlation id → stats → latency (+ jitter) → fault injection → bearer
//! authentication → per-token rate limit → the operation's handler, run
//! under the org mutex, then its changes recorded in the audit log
//! ([`crate::audit`]) → lost-response injection (the request was applied,
//! then its answer is lost). The route template of a request (for stats and path
//! parameters) comes from the contract's operations, so stats keys use the
//! contract's `{param}` names.
//!
//! The accept loop is hand-written on hyper so that a "dropped connection"
//! fault can close the TCP connection without any answer.

use crate::api::{self, Call, Reply};
use crate::auth::Caller;
use crate::contract::{self, Operation};
use crate::error::{ApiError, CORRELATION_ID};
use crate::model::{AdminCredentials, Org};
use crate::params::Query;
use crate::sim;
use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};
use tokio::net::TcpListener;
use tokio::sync::Notify;

/// Run-time injection settings (all changeable through `POST /_sim/faults`).
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq)]
pub struct Settings {
    /// Fraction of requests that fail (0.0..=1.0); a failed request is
    /// never applied.
    pub fault_rate: f64,
    /// Fraction of requests (0.0..=1.0) that are applied and whose answer
    /// is then lost: alternately a dropped connection and a 504.
    #[serde(default)]
    pub lost_response_rate: f64,
    /// Requests per minute per access token; 0 disables the limit.
    pub rate_limit: u64,
    /// Added to every response.
    pub latency_ms: u64,
    /// Random extra latency, 0..=jitter_ms.
    pub jitter_ms: u64,
    /// New objects stay out of listings this long.
    pub eventual_ms: u64,
    /// Grants reach existing tokens after this long.
    pub grant_delay_ms: u64,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            fault_rate: 0.0,
            lost_response_rate: 0.0,
            rate_limit: 300,
            latency_ms: 0,
            jitter_ms: 0,
            eventual_ms: 0,
            grant_delay_ms: 0,
        }
    }
}

/// Request counters (`GET /_sim/stats`).
#[derive(Debug, Default, Clone, Serialize)]
pub struct Stats {
    /// Every counted request.
    pub total: u64,
    /// Count by `"METHOD /path/{template}"`.
    pub by_route: BTreeMap<String, u64>,
    /// Requests answered 429.
    pub rate_limited: u64,
    /// Requests failed by fault injection.
    pub faults: u64,
    /// Requests applied whose answer was then lost (dropped or 504).
    pub lost_responses: u64,
    /// Sum of injected latency.
    pub latency_ms_total: u64,
}

#[derive(Debug)]
struct Window {
    start: Instant,
    count: u64,
}

/// Shared state of a running simulator.
pub struct App {
    /// The org.
    pub org: Mutex<Org>,
    /// Injection settings.
    pub settings: Mutex<Settings>,
    /// Counters.
    pub stats: Mutex<Stats>,
    /// Admin client printed on startup.
    pub admin: AdminCredentials,
    fault_rng: Mutex<StdRng>,
    jitter_rng: Mutex<StdRng>,
    /// Its own generator, so that `fault_rate` draws the same sequence
    /// whether or not lost responses are on.
    lost_rng: Mutex<StdRng>,
    /// Lost responses so far; even ones drop the connection, odd ones 504.
    lost_seq: AtomicU64,
    rate: Mutex<HashMap<String, Window>>,
}

/// Locks a mutex, recovering from poisoning (a panicking handler must not
/// wedge the simulator).
pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl App {
    /// A new app around an org.
    pub fn new(org: Org, admin: AdminCredentials, settings: Settings, seed: u64) -> App {
        App {
            org: Mutex::new(org),
            settings: Mutex::new(settings),
            stats: Mutex::new(Stats::default()),
            admin,
            fault_rng: Mutex::new(StdRng::seed_from_u64(seed)),
            jitter_rng: Mutex::new(StdRng::seed_from_u64(seed ^ 0x9e37_79b9_7f4a_7c15)),
            lost_rng: Mutex::new(StdRng::seed_from_u64(seed ^ 0x5851_f42d_4c95_7f2d)),
            lost_seq: AtomicU64::new(0),
            rate: Mutex::new(HashMap::new()),
        }
    }

    /// Current settings.
    pub fn settings(&self) -> Settings {
        *lock(&self.settings)
    }
}

/// Marks the connection a request came on, so a fault can drop it.
#[derive(Clone)]
struct ConnKill(Arc<Notify>);

/// The router: `/_sim` hooks, everything else through [`entry`].
pub fn router(app: Arc<App>) -> Router {
    Router::new()
        .route("/_sim/stats", get(sim::stats))
        .route("/_sim/reset-stats", post(sim::reset_stats))
        .route("/_sim/faults", post(sim::faults).get(sim::get_faults))
        .route("/_sim/dump", get(sim::dump))
        .route("/_sim/mutate", post(sim::mutate))
        .route("/_sim/token", post(sim::token))
        .route("/_sim/populate", post(sim::populate))
        .fallback(entry)
        .layer(axum::middleware::map_response(ensure_correlation_id))
        .with_state(app)
}

/// Gives `/_sim` answers an `inin-correlation-id` too (API answers set
/// their own, matching the error body's `contextId`).
async fn ensure_correlation_id(mut resp: Response) -> Response {
    if !resp.headers().contains_key("inin-correlation-id") {
        if let Ok(v) = HeaderValue::from_str(&uuid::Uuid::new_v4().to_string()) {
            resp.headers_mut().insert("inin-correlation-id", v);
        }
    }
    resp
}

/// Serves until the listener fails.
pub async fn serve(listener: TcpListener, app: Arc<App>) -> std::io::Result<()> {
    let router = router(app);
    loop {
        let (stream, _) = match listener.accept().await {
            Ok(s) => s,
            Err(e) if is_transient(&e) => {
                tokio::time::sleep(Duration::from_millis(5)).await;
                continue;
            }
            Err(e) => return Err(e),
        };
        let _ = stream.set_nodelay(true);
        let router = router.clone();
        tokio::spawn(async move {
            let kill = Arc::new(Notify::new());
            let marker = ConnKill(kill.clone());
            let svc = hyper::service::service_fn(
                move |mut req: hyper::Request<hyper::body::Incoming>| {
                    req.extensions_mut().insert(marker.clone());
                    let mut r = router.clone();
                    async move {
                        use tower_service::Service;
                        r.call(req.map(Body::new)).await
                    }
                },
            );
            let conn = hyper::server::conn::http1::Builder::new()
                .keep_alive(true)
                .serve_connection(hyper_util::rt::TokioIo::new(stream), svc);
            tokio::select! {
                _ = conn => {}
                _ = kill.notified() => {}
            }
        });
    }
}

fn is_transient(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::ConnectionAborted
            | std::io::ErrorKind::ConnectionReset
            | std::io::ErrorKind::Interrupted
            | std::io::ErrorKind::WouldBlock
    ) || e.raw_os_error() == Some(24) // EMFILE: back off and retry
}

async fn entry(
    axum::extract::State(app): axum::extract::State<Arc<App>>,
    req: Request,
) -> Response {
    let cid = uuid::Uuid::new_v4().to_string();
    let mut resp = CORRELATION_ID.scope(cid.clone(), pipeline(app, req)).await;
    if let Ok(v) = HeaderValue::from_str(&cid) {
        resp.headers_mut().insert("inin-correlation-id", v);
    }
    resp
}

enum Fault {
    Status(StatusCode),
    Drop,
}

/// How the answer of an applied request is lost.
#[derive(Clone, Copy, Debug)]
enum Lost {
    /// The TCP connection is closed without an answer.
    Drop,
    /// A 504 `gateway.timeout`, as a gateway answers when the service was
    /// too slow (the change is made all the same).
    GatewayTimeout,
}

/// Draws whether this request's answer is lost (`None` at rate 0 without
/// drawing, so other generators are unaffected).
fn draw_lost(app: &App, rate: f64) -> Option<Lost> {
    if rate <= 0.0 {
        return None;
    }
    let draw: f64 = lock(&app.lost_rng).gen();
    if draw >= rate {
        return None;
    }
    let n = app.lost_seq.fetch_add(1, Ordering::Relaxed);
    Some(if n.is_multiple_of(2) {
        Lost::Drop
    } else {
        Lost::GatewayTimeout
    })
}

/// Loses the answer of a request that has been applied.
async fn lose(app: &App, kill: Option<ConnKill>, lost: Lost) -> Response {
    lock(&app.stats).lost_responses += 1;
    if let (Lost::Drop, Some(k)) = (lost, kill) {
        k.0.notify_one();
        std::future::pending::<()>().await;
    }
    ApiError::new(
        StatusCode::GATEWAY_TIMEOUT,
        "gateway.timeout",
        "The request timed out. Retry the request.",
    )
    .into_response()
}

async fn pipeline(app: Arc<App>, req: Request) -> Response {
    let method = req.method().as_str().to_string();
    let path = req.uri().path().to_string();
    let is_login = path == "/oauth/token";
    if !is_login && !path.starts_with("/api/v2/") {
        return ApiError::no_route(&method, &path).into_response();
    }
    let op = if is_login {
        None
    } else {
        contract::match_operation(&method, &path)
    };
    let settings = app.settings();
    {
        let mut stats = lock(&app.stats);
        stats.total += 1;
        let template = if is_login {
            Some("/oauth/token")
        } else {
            op.map(|o| o.path.as_str())
        };
        if let Some(t) = template {
            *stats.by_route.entry(format!("{method} {t}")).or_default() += 1;
        }
    }
    let delay = settings.latency_ms
        + if settings.jitter_ms > 0 {
            lock(&app.jitter_rng).gen_range(0..=settings.jitter_ms)
        } else {
            0
        };
    if delay > 0 {
        tokio::time::sleep(Duration::from_millis(delay)).await;
        lock(&app.stats).latency_ms_total += delay;
    }
    let fault = {
        let mut rng = lock(&app.fault_rng);
        let draw: f64 = rng.gen();
        if draw < settings.fault_rate {
            Some(match rng.gen_range(0..4) {
                0 => Fault::Status(StatusCode::BAD_GATEWAY),
                1 => Fault::Status(StatusCode::SERVICE_UNAVAILABLE),
                2 => Fault::Status(StatusCode::GATEWAY_TIMEOUT),
                _ => Fault::Drop,
            })
        } else {
            None
        }
    };
    if let Some(f) = fault {
        lock(&app.stats).faults += 1;
        match f {
            Fault::Status(s) => {
                let (code, msg) = match s {
                    StatusCode::BAD_GATEWAY => (
                        "bad.gateway",
                        "The upstream service answered badly. Retry the request.",
                    ),
                    StatusCode::SERVICE_UNAVAILABLE => (
                        "service.unavailable",
                        "The service is currently unavailable. Retry the request.",
                    ),
                    _ => (
                        "gateway.timeout",
                        "The request timed out. Retry the request.",
                    ),
                };
                return ApiError::new(s, code, msg).into_response();
            }
            Fault::Drop => {
                if let Some(k) = req.extensions().get::<ConnKill>() {
                    k.0.notify_one();
                    std::future::pending::<()>().await;
                }
                return ApiError::new(
                    StatusCode::BAD_GATEWAY,
                    "bad.gateway",
                    "Connection dropped.",
                )
                .into_response();
            }
        }
    }
    let kill = req.extensions().get::<ConnKill>().cloned();
    if is_login {
        let lost = draw_lost(&app, settings.lost_response_rate);
        let resp = match api::login::token(&app, req).await {
            Ok(r) => r,
            Err(e) => e.into_response(),
        };
        return match lost {
            Some(l) => lose(&app, kill, l).await,
            None => resp,
        };
    }
    let Some(op) = op else {
        let other = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"]
            .iter()
            .any(|m| contract::match_operation(m, &path).is_some());
        if other {
            return ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "method.not.allowed",
                format!("HTTP method {method} is not supported by {path}"),
            )
            .into_response();
        }
        return ApiError::no_route(&method, &path).into_response();
    };
    let now = Instant::now();
    let caller = match authenticate(&app, &req, now) {
        Ok(c) => c,
        Err(e) => return e.into_response(),
    };
    if let Err(e) = rate_limit(&app, &caller.token, settings.rate_limit, now) {
        lock(&app.stats).rate_limited += 1;
        return e.into_response();
    }
    // Drawn before the handler runs, so that the sequence does not depend
    // on how long handlers take.
    let lost = draw_lost(&app, settings.lost_response_rate);
    let resp = match run(&app, op, caller, settings, req, now).await {
        Ok(r) => r.into_response(),
        Err(e) => e.into_response(),
    };
    match lost {
        Some(l) => lose(&app, kill, l).await,
        None => resp,
    }
}

fn authenticate(app: &App, req: &Request, now: Instant) -> Result<Caller, ApiError> {
    let header = req
        .headers()
        .get("authorization")
        .and_then(|h| h.to_str().ok())
        .ok_or_else(ApiError::no_token)?;
    let token = header
        .strip_prefix("Bearer ")
        .or_else(|| header.strip_prefix("bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or_else(ApiError::no_token)?;
    lock(&app.org).authenticate(token, now)
}

fn rate_limit(app: &App, token: &str, limit: u64, now: Instant) -> Result<(), ApiError> {
    if limit == 0 {
        return Ok(());
    }
    let mut rate = lock(&app.rate);
    if rate.len() > 10_000 {
        rate.retain(|_, w| now.duration_since(w.start) < Duration::from_secs(60));
    }
    let w = rate.entry(token.to_string()).or_insert(Window {
        start: now,
        count: 0,
    });
    if now.duration_since(w.start) >= Duration::from_secs(60) {
        w.start = now;
        w.count = 0;
    }
    if w.count >= limit {
        let left = Duration::from_secs(60).saturating_sub(now.duration_since(w.start));
        let secs = left.as_secs() + u64::from(left.subsec_nanos() > 0);
        return Err(ApiError::rate_limited(secs.max(1)));
    }
    w.count += 1;
    Ok(())
}

async fn run(
    app: &App,
    op: &'static Operation,
    caller: Caller,
    settings: Settings,
    req: Request,
    now: Instant,
) -> Result<Reply, ApiError> {
    let handler = api::handler(&op.operation).ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_IMPLEMENTED,
            "not.implemented",
            format!("gcsim does not model {} {}", op.method, op.path),
        )
    })?;
    let path = req.uri().path().to_string();
    let query = Query::parse(req.uri().query());
    let params = path_params(&op.path, &path);
    let method = req.method().clone();
    let bytes = axum::body::to_bytes(req.into_body(), 16 * 1024 * 1024)
        .await
        .map_err(|_| ApiError::bad_request("Unable to read the request body"))?;
    let body = parse_body(&bytes, &method)?;
    let call = Call {
        op,
        path,
        params,
        query,
        body,
        caller,
        now,
        settings,
    };
    let actor = match &call.caller.subject {
        crate::model::Subject::User(id) => crate::audit::Actor::User {
            id: id.clone(),
            client_id: call.caller.client_id.clone(),
        },
        crate::model::Subject::Client(id) => crate::audit::Actor::Client(id.clone()),
    };
    let mut org = lock(&app.org);
    let reply = handler(&mut org, &call);
    org.record_changes(&actor);
    reply
}

fn parse_body(bytes: &[u8], method: &Method) -> Result<Option<Value>, ApiError> {
    if method == Method::GET || method == Method::HEAD {
        return Ok(None);
    }
    let text = std::str::from_utf8(bytes)
        .map_err(|_| ApiError::bad_request("The request body is not UTF-8"))?
        .trim();
    if text.is_empty() {
        return Ok(None);
    }
    let v: Value = serde_json::from_str(text).map_err(|e| {
        ApiError::bad_request(format!("Unable to parse the request body as JSON: {e}"))
    })?;
    Ok(if v.is_null() { None } else { Some(v) })
}

/// Path parameters of a concrete path, by the template's `{names}`.
pub fn path_params(template: &str, path: &str) -> HashMap<String, String> {
    template
        .split('/')
        .zip(path.split('/'))
        .filter_map(|(t, s)| {
            let name = t.strip_prefix('{')?.strip_suffix('}')?;
            Some((name.to_string(), crate::wire::percent_decode(s)))
        })
        .collect()
}

impl IntoResponse for Reply {
    fn into_response(self) -> Response {
        match self {
            Reply::Json(status, mut v) => {
                crate::wire::strip_nulls(&mut v);
                (status, axum::Json(v)).into_response()
            }
            Reply::Empty(status) => status.into_response(),
            Reply::Raw(r) => r,
        }
    }
}
