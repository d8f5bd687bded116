//! The HTTP layer: one `reqwest` client, login and token renewal, the rate
//! limiter, bounded concurrency, the retry loop, call counters and request
//! tracing. Every byte sent to Genesys Cloud goes through [`Api::send_as`]
//! ([`Api::send`] reads the answer as JSON; a listing's pages are read
//! straight from their bodies by a [`PageReader`]) or the login in
//! [`Api::renew_token`].
//!
//! Logging rules: a span per request with the method and the path
//! *template*; events carry status, attempt and duration. Bodies, tokens
//! and secrets are never logged, and error messages carry only what the
//! service's error body says plus the correlation id.

use std::collections::BTreeMap;
use std::sync::{Mutex, PoisonError, RwLock};
use std::time::Duration;

use base64::Engine as _;
use futures_util::stream::{self, StreamExt, TryStreamExt};
use gcrecon_core::provider::ProviderError;
use gcrecon_core::Secret;
use rand::Rng as _;
use reqwest::header::{HeaderMap, ACCEPT, AUTHORIZATION, CONTENT_TYPE};
use reqwest::Method;
use serde_json::Value;
use tokio::sync::Semaphore;
use tokio::time::Instant;
use tracing::Instrument as _;

use crate::connection::{Connection, Credentials};
use crate::ratelimit::RateLimiter;
use crate::retry::{self, Attempts, Decision, Outcome, RetryNotice, RetryPolicy, RetryReporter};

/// The correlation id header every Genesys answer carries.
pub const CORRELATION_HEADER: &str = "inin-correlation-id";

/// One API request: the path template (as in the contract, for counters and
/// logs) with its parameters filled in, query and body.
#[derive(Clone, Debug)]
pub struct Request {
    pub method: Method,
    /// `/api/v2/authorization/roles/{roleId}`.
    pub template: &'static str,
    /// The template with parameters substituted and percent-encoded.
    path: String,
    query: Vec<(String, String)>,
    body: Option<Value>,
    /// Sending it twice does what sending it once does (see [`retry`]).
    idempotent: bool,
}

impl Request {
    pub fn new(method: Method, template: &'static str) -> Request {
        Request {
            template,
            path: template.to_owned(),
            query: Vec::new(),
            body: None,
            // A POST makes something (a create) unless its call site says
            // otherwise with [`Request::idempotent`].
            idempotent: method != Method::POST,
            method,
        }
    }

    pub fn get(template: &'static str) -> Request {
        Request::new(Method::GET, template)
    }

    pub fn post(template: &'static str) -> Request {
        Request::new(Method::POST, template)
    }

    pub fn put(template: &'static str) -> Request {
        Request::new(Method::PUT, template)
    }

    pub fn patch(template: &'static str) -> Request {
        Request::new(Method::PATCH, template)
    }

    pub fn delete(template: &'static str) -> Request {
        Request::new(Method::DELETE, template)
    }

    /// Fill in the path parameter `{name}`.
    #[must_use]
    pub fn param(mut self, name: &str, value: &str) -> Request {
        self.path = self
            .path
            .replace(&format!("{{{name}}}"), &encode_path_segment(value));
        self
    }

    /// Add a query parameter.
    #[must_use]
    pub fn query(mut self, name: &str, value: impl std::fmt::Display) -> Request {
        self.query.push((name.to_owned(), value.to_string()));
        self
    }

    /// Add a list-valued query parameter, comma-joined as the SDKs send it.
    #[must_use]
    pub fn query_list(self, name: &str, values: &[String]) -> Request {
        let joined = values.join(",");
        self.query(name, joined)
    }

    /// Mark a POST as idempotent in effect (sending it twice leaves the
    /// service as sending it once does), so the retry layer may retry it
    /// after an ambiguous failure. Each call site says why.
    #[must_use]
    pub fn idempotent(mut self) -> Request {
        self.idempotent = true;
        self
    }

    /// Set the JSON body.
    #[must_use]
    pub fn json(mut self, body: Value) -> Request {
        self.body = Some(body);
        self
    }

    /// `GET /api/v2/authorization/roles/{roleId}`: the counter key.
    pub fn route(&self) -> String {
        format!("{} {}", self.method, self.template)
    }
}

/// Percent-encode one path segment (ids are UUIDs, but a client id or a
/// provider name is anything).
fn encode_path_segment(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The current access token.
#[derive(Debug)]
struct Token {
    value: Secret,
    /// When to log in again (some time before the real expiry); `None` for a
    /// token given as is.
    renew_at: Option<Instant>,
    /// Incremented at every login, so concurrent 401s renew only once.
    generation: u64,
}

/// Settings of the HTTP layer.
#[derive(Clone, Debug)]
pub struct HttpSettings {
    pub concurrency: usize,
    pub requests_per_minute: u32,
    pub timeout: Duration,
    pub retry: RetryPolicy,
    pub on_retry: Option<RetryReporter>,
}

/// The client for one organization.
#[derive(Debug)]
pub struct Api {
    http: reqwest::Client,
    api_url: String,
    login_url: String,
    credentials: Credentials,
    token: RwLock<Option<Token>>,
    login_lock: tokio::sync::Mutex<()>,
    limiter: RateLimiter,
    permits: Semaphore,
    concurrency: usize,
    counts: Mutex<BTreeMap<String, u64>>,
    policy: RetryPolicy,
    on_retry: Option<RetryReporter>,
}

/// A request that failed, and whether it may have been applied all the same.
#[derive(Debug)]
pub struct Failure {
    pub error: ProviderError,
    /// A request that is not idempotent got no clear answer (a 502, a 504,
    /// a timeout, or the connection dropped after it was sent): the service
    /// may have applied it. Never true for an idempotent request (those are
    /// retried instead).
    pub ambiguous: bool,
}

impl From<ProviderError> for Failure {
    fn from(error: ProviderError) -> Failure {
        Failure {
            error,
            ambiguous: false,
        }
    }
}

/// Why the body of a successful answer could not be read.
#[derive(Debug)]
pub enum BodyError {
    /// Not JSON, or JSON of another shape than the type read.
    Json(serde_json::Error),
    /// JSON, but not what the contract says (a listing without
    /// `entities`, an object without an `id`).
    Provider(ProviderError),
}

impl From<serde_json::Error> for BodyError {
    fn from(e: serde_json::Error) -> Self {
        BodyError::Json(e)
    }
}

impl From<ProviderError> for BodyError {
    fn from(e: ProviderError) -> Self {
        BodyError::Provider(e)
    }
}

/// A body as JSON; `Value::Null` when empty.
pub fn json_body(bytes: &[u8]) -> Result<Value, BodyError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(Value::Null);
    }
    Ok(serde_json::from_slice(bytes)?)
}

/// Reads one page of a listing from its body: `(bytes, page size)` to the
/// page with its entities decoded.
pub type PageReader<'a, T> = dyn Fn(&[u8], u32) -> Result<Page<T>, BodyError> + Sync + 'a;

/// A page whose entities stay wire JSON.
pub fn json_page(bytes: &[u8], page_size: u32) -> Result<Page, BodyError> {
    Page::from_slice(bytes, page_size, Ok)
}

impl Api {
    /// A client; logs in at once for client credentials, so that wrong
    /// credentials fail before anything else.
    pub async fn connect(conn: &Connection, settings: &HttpSettings) -> Result<Api, ProviderError> {
        let http = reqwest::Client::builder()
            .user_agent(concat!("gcrecon/", env!("CARGO_PKG_VERSION")))
            .timeout(settings.timeout)
            .connect_timeout(settings.timeout.min(Duration::from_secs(10)))
            .pool_max_idle_per_host(settings.concurrency.max(1))
            .gzip(true)
            .build()
            .map_err(|e| ProviderError::Transport(format!("cannot build the HTTP client: {e}")))?;
        let token = match &conn.credentials {
            Credentials::AccessToken(value) => Some(Token {
                value: value.clone(),
                renew_at: None,
                generation: 0,
            }),
            Credentials::ClientCredentials { .. } => None,
        };
        let api = Api {
            http,
            api_url: conn.api_url.clone(),
            login_url: conn.login_url.clone(),
            credentials: conn.credentials.clone(),
            token: RwLock::new(token),
            login_lock: tokio::sync::Mutex::new(()),
            limiter: RateLimiter::new(settings.requests_per_minute),
            permits: Semaphore::new(settings.concurrency.max(1)),
            concurrency: settings.concurrency.max(1),
            counts: Mutex::new(BTreeMap::new()),
            policy: settings.retry.clone(),
            on_retry: settings.on_retry.clone(),
        };
        if api.uses_client_credentials() {
            api.renew_token(None).await?;
        }
        Ok(api)
    }

    /// True when gcrecon logs in itself (and so can log in again).
    pub fn uses_client_credentials(&self) -> bool {
        matches!(self.credentials, Credentials::ClientCredentials { .. })
    }

    /// The client id of client credentials.
    pub fn client_id(&self) -> Option<&str> {
        match &self.credentials {
            Credentials::ClientCredentials { client_id, .. } => Some(client_id),
            Credentials::AccessToken(_) => None,
        }
    }

    /// How many requests may run at once.
    pub fn concurrency(&self) -> usize {
        self.concurrency
    }

    /// Calls made so far by `METHOD /path/{template}`.
    pub fn call_counts(&self) -> BTreeMap<String, u64> {
        self.counts
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn count(&self, route: &str) {
        let mut counts = self.counts.lock().unwrap_or_else(PoisonError::into_inner);
        *counts.entry(route.to_owned()).or_default() += 1;
    }

    /// The token to send and its generation, logging in first when it is
    /// about to expire.
    async fn bearer(&self) -> Result<(Secret, u64), ProviderError> {
        let seen = {
            let guard = self.token.read().unwrap_or_else(PoisonError::into_inner);
            match guard.as_ref() {
                Some(t) if t.renew_at.is_none_or(|at| Instant::now() < at) => {
                    return Ok((t.value.clone(), t.generation))
                }
                Some(t) => Some(t.generation),
                None => None,
            }
        };
        self.renew_token(seen).await?;
        let guard = self.token.read().unwrap_or_else(PoisonError::into_inner);
        guard
            .as_ref()
            .map(|t| (t.value.clone(), t.generation))
            .ok_or_else(|| ProviderError::Auth("no access token after login".into()))
    }

    /// Log in again with the client credentials (a fresh token sees grants
    /// made since the last login). Does nothing for a given access token.
    pub async fn force_new_token(&self) -> Result<(), ProviderError> {
        if !self.uses_client_credentials() {
            return Ok(());
        }
        let seen = self
            .token
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
            .map(|t| t.generation);
        self.renew_token(seen).await
    }

    /// Log in with the client credentials, unless another task already did
    /// since the token of generation `seen` was handed out.
    async fn renew_token(&self, seen: Option<u64>) -> Result<(), ProviderError> {
        let Credentials::ClientCredentials {
            client_id,
            client_secret,
        } = &self.credentials
        else {
            return Err(ProviderError::Auth(
                "the access token was refused or has expired; get a new one (GENESYSCLOUD_ACCESS_TOKEN)".into(),
            ));
        };
        let _login = self.login_lock.lock().await;
        {
            let guard = self.token.read().unwrap_or_else(PoisonError::into_inner);
            if let Some(t) = guard.as_ref() {
                let fresh = t.renew_at.is_none_or(|at| Instant::now() < at);
                if Some(t.generation) != seen && fresh {
                    return Ok(());
                }
            }
        }
        let basic = base64::engine::general_purpose::STANDARD
            .encode(format!("{client_id}:{}", client_secret.expose()));
        // Idempotent in effect: a login whose answer was lost only issued a
        // token nobody uses (it expires on its own).
        let request = Request::post("/oauth/token").idempotent();
        // Boxed: the login runs inside the request loop that needed a token.
        let answer = Box::pin(self.execute(
            &request,
            Auth::Basic(Secret::new(format!("Basic {basic}"))),
            json_body,
        ))
        .await
        .map_err(|e| match e.error {
            // What to check is the error's hint (`provider_hint`): the
            // message says only what happened.
            ProviderError::Api {
                status,
                message,
                code,
                correlation_id,
                ..
            } => ProviderError::Auth(format!(
                "login to {} failed with {status}: {message} (code {code}{})",
                self.login_url,
                correlation_id
                    .map(|c| format!(", correlation id {c}"))
                    .unwrap_or_default()
            )),
            ProviderError::Forbidden { message, .. } | ProviderError::Auth(message) => {
                // A 401 already reads "POST /oauth/token was refused: ...".
                let prefix = format!("{} {} was refused: ", request.method, request.path);
                let reason = message.strip_prefix(&prefix).unwrap_or(&message);
                ProviderError::Auth(format!("login to {} was refused: {reason}", self.login_url))
            }
            other => other,
        })?;
        let access_token = answer
            .get("access_token")
            .and_then(Value::as_str)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| {
                ProviderError::Auth(format!(
                    "login to {} answered without an access_token",
                    self.login_url
                ))
            })?;
        let expires_in = answer
            .get("expires_in")
            .and_then(Value::as_u64)
            .unwrap_or(86_400);
        // Renew a minute early (or at 90% of a short lifetime).
        let margin = Duration::from_secs(60).min(Duration::from_secs(expires_in) / 10);
        let renew_at = Instant::now() + Duration::from_secs(expires_in).saturating_sub(margin);
        let mut guard = self.token.write().unwrap_or_else(PoisonError::into_inner);
        let generation = guard.as_ref().map_or(1, |t| t.generation + 1);
        *guard = Some(Token {
            value: Secret::new(access_token),
            renew_at: Some(renew_at),
            generation,
        });
        tracing::debug!(generation, expires_in, "logged in with client credentials");
        Ok(())
    }

    /// Send an API request under the retry policy; the JSON body of a
    /// success, `Value::Null` when empty.
    pub async fn send(&self, request: Request) -> Result<Value, ProviderError> {
        self.send_as(request, json_body).await
    }

    /// As [`Api::send`], the body read by `read` straight from its bytes.
    pub async fn send_as<T>(
        &self,
        request: Request,
        read: impl FnOnce(&[u8]) -> Result<T, BodyError> + Send,
    ) -> Result<T, ProviderError> {
        self.execute(&request, Auth::Bearer, read)
            .await
            .map_err(|failure| failure.error)
    }

    /// As [`Api::send`], telling an ambiguous failure (the request may have
    /// been applied) from a plain one; for creates, see [`crate::recover`].
    pub async fn try_send(&self, request: &Request) -> Result<Value, Failure> {
        self.execute(request, Auth::Bearer, json_body).await
    }

    /// The retry policy in force.
    pub fn policy(&self) -> &RetryPolicy {
        &self.policy
    }

    /// Send a `DELETE`; a 404 counts as done, since an object already gone
    /// is what a delete is for.
    pub async fn delete_if_present(&self, request: Request) -> Result<(), ProviderError> {
        self.send_opt(request).await.map(|_| ())
    }

    /// As [`Api::send`], with a 404 as `None`.
    ///
    /// An object that reads back `state: "deleted"` is gone too: the real
    /// service answers a group or OAuth client that way for a while after
    /// its delete.
    pub async fn send_opt(&self, request: Request) -> Result<Option<Value>, ProviderError> {
        match self.send(request).await {
            Ok(v) if crate::wire::is_deleted(&v) => Ok(None),
            Ok(v) => Ok(Some(v)),
            Err(e) if is_not_found(&e) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Send `request` under the retry policy and read the body of its
    /// success with `read`.
    async fn execute<T>(
        &self,
        request: &Request,
        auth: Auth,
        read: impl FnOnce(&[u8]) -> Result<T, BodyError> + Send,
    ) -> Result<T, Failure> {
        let route = request.route();
        let span = tracing::debug_span!("genesys_request", method = %request.method, path = request.template);
        async {
            let base = if matches!(auth, Auth::Basic(_)) { &self.login_url } else { &self.api_url };
            let mut url = reqwest::Url::parse(&format!("{base}{}", request.path))
                .map_err(|e| ProviderError::Invalid(format!("cannot build a URL for {}: {e}", request.path)))?;
            if !request.query.is_empty() {
                url.query_pairs_mut().extend_pairs(request.query.iter());
            }
            let mut attempts = Attempts::default();
            let mut attempt: u32 = 0;
            loop {
                attempt += 1;
                let authorization = match &auth {
                    Auth::Bearer => {
                        let (token, generation) = self.bearer().await?;
                        self.limiter.acquire().await;
                        (Secret::new(format!("Bearer {}", token.expose())), Some(generation))
                    }
                    Auth::Basic(header) => (header.clone(), None),
                };
                let mut builder = self
                    .http
                    .request(request.method.clone(), url.clone())
                    .header(AUTHORIZATION, authorization.0.expose())
                    .header(ACCEPT, "application/json");
                builder = match (&auth, &request.body) {
                    (Auth::Basic(_), _) => builder
                        .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
                        .body("grant_type=client_credentials"),
                    (Auth::Bearer, Some(body)) => builder.header(CONTENT_TYPE, "application/json").body(body.to_string()),
                    (Auth::Bearer, None) => builder,
                };
                let started = Instant::now();
                let result = {
                    let _permit = self
                        .permits
                        .acquire()
                        .await
                        .map_err(|_| ProviderError::Transport("the request queue was closed".into()))?;
                    self.count(&route);
                    match builder.send().await {
                        Ok(resp) => {
                            let status = resp.status().as_u16();
                            let headers = resp.headers().clone();
                            resp.bytes().await.map(|bytes| (status, headers, bytes))
                        }
                        Err(e) => Err(e),
                    }
                };
                let duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
                let jitter = rand::thread_rng().gen::<f64>();
                let (outcome, failure) = match result {
                    Ok((status, headers, bytes)) => {
                        tracing::debug!(status, attempt, duration_ms, "answered");
                        if (200..300).contains(&status) {
                            return read(&bytes).map_err(|e| {
                                let error = match e {
                                    BodyError::Provider(e) => e,
                                    BodyError::Json(e) => {
                                        let what = if e.is_data() {
                                            "a body of another shape than the contract's"
                                        } else {
                                            "a body that is not JSON"
                                        };
                                        ProviderError::Transport(format!(
                                            "{} {} answered {status} with {what}: {e}",
                                            request.method, request.path
                                        ))
                                    }
                                };
                                error.into()
                            });
                        }
                        let error_body: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
                        let correlation = correlation_id(&headers, &error_body);
                        let retry_after = (status == 429)
                            .then(|| {
                                retry::retry_after(
                                    headers.get("retry-after").and_then(|v| v.to_str().ok()),
                                    error_body.get("message").and_then(Value::as_str),
                                )
                            })
                            .flatten();
                        match status {
                            429 => attempts.rate_limited += 1,
                            502..=504 => attempts.transient += 1,
                            _ => {}
                        }
                        let err = error_from_answer(&request.method, &request.path, status, &error_body, correlation);
                        (Outcome::Status { status, retry_after }, err)
                    }
                    Err(e) => {
                        tracing::debug!(attempt, duration_ms, error = %e.without_url_ref(), "no answer");
                        attempts.transient += 1;
                        let kind = if e.is_timeout() { "timed out" } else if e.is_connect() { "could not connect" } else { "failed" };
                        let err = ProviderError::Transport(format!(
                            "{} {} {kind} after {attempt} attempt(s): {}",
                            request.method,
                            request.path,
                            e.without_url_ref()
                        ));
                        // A connect error means the request never left;
                        // anything later may have reached the service.
                        (Outcome::Transport { sent: !e.is_connect() }, err)
                    }
                };
                let can_reauthenticate = matches!(auth, Auth::Bearer) && self.uses_client_credentials();
                match retry::decide(&self.policy, outcome, attempts, can_reauthenticate, request.idempotent, jitter) {
                    // `Done` is only decided for a 2xx, which returned above.
                    Decision::Done | Decision::Fail => return Err(failure.into()),
                    Decision::Ambiguous => {
                        tracing::info!(attempt, "no clear answer to a request that is not idempotent; not retrying blindly");
                        return Err(Failure { error: failure, ambiguous: true });
                    }
                    Decision::RetryAfter(wait) => {
                        tracing::info!(attempt, wait_ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX), "transient failure; retrying");
                        if let Some(report) = &self.on_retry {
                            let reason = match outcome {
                                Outcome::Status { status, .. } => format!("answered {status}"),
                                Outcome::Transport { sent: false } => "could not connect".to_owned(),
                                Outcome::Transport { sent: true } => "got no answer".to_owned(),
                            };
                            (report.0)(&RetryNotice {
                                host: url.host_str().unwrap_or_default().to_owned(),
                                request: format!("{} {}", request.method, request.template),
                                reason,
                                next_attempt: attempts.transient + 1,
                                max_attempts: self.policy.max_transient_attempts,
                                wait,
                            });
                        }
                        tokio::time::sleep(wait).await;
                    }
                    Decision::RateLimited(wait) => {
                        tracing::info!(attempt, wait_ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX), "rate limited; waiting");
                        self.limiter.pause_for(wait);
                        if matches!(auth, Auth::Basic(_)) {
                            tokio::time::sleep(wait).await;
                        }
                    }
                    Decision::Reauthenticate => {
                        tracing::info!(attempt, "token refused; logging in again");
                        attempts.reauthenticated = true;
                        self.renew_token(authorization.1).await?;
                    }
                }
            }
        }
        .instrument(span)
        .await
    }

    /// Every entity of a listing: the first page, then the others
    /// concurrently (bounded by the shared semaphore).
    pub async fn list_all(
        &self,
        request: Request,
        page_size: u32,
    ) -> Result<Vec<Value>, ProviderError> {
        self.list_all_as(request, page_size, &json_page).await
    }

    /// As [`Api::list_all`], each page read by `read` straight from its
    /// body as it arrives, so that no more than the pages in flight are
    /// held undecoded.
    pub async fn list_all_as<T: Send>(
        &self,
        request: Request,
        page_size: u32,
        read: &PageReader<'_, T>,
    ) -> Result<Vec<T>, ProviderError> {
        let first = self.first_page_as(request.clone(), page_size, read).await?;
        self.rest_pages(request, page_size, first, read).await
    }

    /// The first page of a listing, with the total it reports.
    pub async fn first_page(
        &self,
        request: Request,
        page_size: u32,
    ) -> Result<Page, ProviderError> {
        self.first_page_as(request, page_size, &json_page).await
    }

    /// As [`Api::first_page`], read by `read`.
    pub async fn first_page_as<T>(
        &self,
        request: Request,
        page_size: u32,
        read: &PageReader<'_, T>,
    ) -> Result<Page<T>, ProviderError> {
        self.page(request, page_size, 1, read).await
    }

    /// Page `number` of a listing.
    async fn page<T>(
        &self,
        request: Request,
        page_size: u32,
        number: u64,
        read: &PageReader<'_, T>,
    ) -> Result<Page<T>, ProviderError> {
        let request = request
            .query("pageSize", page_size)
            .query("pageNumber", number);
        self.send_as(request, |bytes| read(bytes, page_size)).await
    }

    /// The first page's entities followed by those of every further page,
    /// each page read by `read` as it arrives.
    pub async fn rest_pages<T: Send>(
        &self,
        request: Request,
        page_size: u32,
        first: Page<T>,
        read: &PageReader<'_, T>,
    ) -> Result<Vec<T>, ProviderError> {
        let mut all = first.entities;
        let page = |n: u64| self.page(request.clone(), page_size, n, read);
        match first.page_count {
            Some(count) if count > 1 => {
                all.reserve(
                    first
                        .total
                        .map_or(0, |t| t as usize)
                        .saturating_sub(all.len()),
                );
                for p in for_each_bounded(2..=count, self.concurrency, page).await? {
                    all.extend(p.entities);
                }
            }
            Some(_) => {}
            None => {
                // No pageCount: follow pages until a short or empty one.
                let mut last_len = all.len();
                let mut n = 1u64;
                while first.has_next && last_len >= page_size as usize && last_len > 0 {
                    n += 1;
                    let p = page(n).await?;
                    last_len = p.entities.len();
                    all.extend(p.entities);
                    if !p.has_next {
                        break;
                    }
                }
            }
        }
        Ok(all)
    }
}

/// One page of a listing: its entities (as JSON, or decoded).
#[derive(Debug)]
pub struct Page<T = Value> {
    pub entities: Vec<T>,
    pub total: Option<u64>,
    /// Pages in all, from `pageCount` or `total`.
    pub page_count: Option<u64>,
    pub has_next: bool,
}

impl<T> Default for Page<T> {
    fn default() -> Self {
        Page {
            entities: Vec::new(),
            total: None,
            page_count: None,
            has_next: false,
        }
    }
}

/// An entity of a listing as read from the wire: JSON, or a kind's typed
/// view of it.
pub trait WireEntity {
    /// The service shows it as deleted (`state: "deleted"`): a listing may
    /// still show objects deleted moments ago.
    fn is_deleted(&self) -> bool;
}

impl WireEntity for Value {
    fn is_deleted(&self) -> bool {
        crate::wire::is_deleted(self)
    }
}

/// The envelope of a listing's page; the links and sizes gcrecon does not
/// read are skipped unparsed.
#[derive(serde::Deserialize)]
struct Envelope<E> {
    entities: Option<Vec<E>>,
    total: Option<u64>,
    #[serde(rename = "pageCount")]
    page_count: Option<u64>,
    #[serde(rename = "nextUri")]
    next_uri: Option<String>,
}

impl<T> Page<T> {
    /// A page from its body: each entity read as `E` (JSON, or a kind's
    /// typed view), deleted ones dropped, the others mapped by `map`.
    pub fn from_slice<'de, E>(
        bytes: &'de [u8],
        page_size: u32,
        map: impl Fn(E) -> Result<T, ProviderError>,
    ) -> Result<Page<T>, BodyError>
    where
        E: serde::Deserialize<'de> + WireEntity,
    {
        let envelope: Envelope<E> = serde_json::from_slice(bytes)?;
        let Some(entities) = envelope.entities else {
            return Err(crate::wire::malformed("a listing without `entities`").into());
        };
        let entities = entities
            .into_iter()
            .filter(|e| !e.is_deleted())
            .map(map)
            .collect::<Result<Vec<T>, ProviderError>>()?;
        let page_count = envelope.page_count.or_else(|| {
            envelope
                .total
                .map(|t| t.div_ceil(u64::from(page_size.max(1))))
        });
        Ok(Page {
            entities,
            total: envelope.total,
            page_count,
            has_next: envelope.next_uri.is_some_and(|s| !s.is_empty()),
        })
    }
}

/// How a request authenticates.
enum Auth {
    Bearer,
    /// The login request: `Authorization: Basic ...`.
    Basic(Secret),
}

trait WithoutUrlRef {
    fn without_url_ref(&self) -> String;
}

impl WithoutUrlRef for reqwest::Error {
    /// The error text without the URL (it may carry query values).
    fn without_url_ref(&self) -> String {
        let mut text = self.to_string();
        if let Some(url) = self.url() {
            text = text.replace(url.as_str(), "");
            text = text.replace(" for url ()", "");
        }
        let mut source = std::error::Error::source(self);
        while let Some(s) = source {
            text.push_str(": ");
            text.push_str(&s.to_string());
            source = s.source();
        }
        text
    }
}

/// The correlation id of an answer: the header, else the body's `contextId`.
fn correlation_id(headers: &HeaderMap, body: &Value) -> Option<String> {
    headers
        .get(CORRELATION_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .or_else(|| {
            body.get("contextId")
                .and_then(Value::as_str)
                .map(str::to_owned)
        })
}

/// True for a 404.
pub fn is_not_found(err: &ProviderError) -> bool {
    matches!(
        err,
        ProviderError::Api { status: 404, .. } | ProviderError::NotFound { .. }
    )
}

/// The error for a refused request, from the Genesys error body.
pub fn error_from_answer(
    method: &Method,
    path: &str,
    status: u16,
    body: &Value,
    correlation_id: Option<String>,
) -> ProviderError {
    // The Genesys error body; the login host answers OAuth's own shape.
    let message = ["message", "error_description", "description", "error"]
        .iter()
        .find_map(|k| body.get(*k).and_then(Value::as_str))
        .map(str::to_owned)
        .unwrap_or_else(|| format!("HTTP {status} without a Genesys error body"));
    let code = body
        .get("code")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_owned();
    let correlation_id = correlation_id.or_else(|| {
        body.get("contextId")
            .and_then(Value::as_str)
            .map(str::to_owned)
    });
    match status {
        403 => ProviderError::Forbidden {
            permissions: permissions_named(body),
            message,
            correlation_id,
        },
        401 => ProviderError::Auth(format!(
            "{method} {path} was refused: {message}{}",
            correlation_id
                .map(|c| format!(" (correlation id {c})"))
                .unwrap_or_default()
        )),
        _ => ProviderError::Api {
            method: method.to_string(),
            path: path.to_owned(),
            status,
            code,
            message,
            correlation_id,
        },
    }
}

/// The permissions a 403 names: from `messageParams` (a list, or a
/// `[a, b]` string), else from the `[...]` at the end of the message.
pub fn permissions_named(body: &Value) -> Vec<String> {
    fn from_bracketed(text: &str) -> Vec<String> {
        let Some(start) = text.rfind('[') else {
            return Vec::new();
        };
        let Some(len) = text[start..].find(']') else {
            return Vec::new();
        };
        text[start + 1..start + len]
            .split(',')
            .map(|p| p.trim().trim_matches('"').to_owned())
            .filter(|p| !p.is_empty())
            .collect()
    }
    let mut found = Vec::new();
    if let Some(params) = body.get("messageParams").and_then(Value::as_object) {
        for value in params.values() {
            match value {
                Value::Array(items) => {
                    found.extend(items.iter().filter_map(Value::as_str).map(str::to_owned));
                }
                Value::String(s) if s.contains(':') => {
                    let listed = from_bracketed(s);
                    if listed.is_empty() {
                        found.extend(
                            s.split(',')
                                .map(|p| p.trim().to_owned())
                                .filter(|p| !p.is_empty()),
                        );
                    } else {
                        found.extend(listed);
                    }
                }
                _ => {}
            }
        }
    }
    if found.is_empty() {
        if let Some(message) = body.get("message").and_then(Value::as_str) {
            found = from_bracketed(message)
                .into_iter()
                .filter(|p| p.contains(':'))
                .collect();
        }
    }
    found.sort();
    found.dedup();
    found
}

/// Run `f` over `items` with at most `concurrency` at once; the results in
/// the items' order. A call that is slow to answer holds only its own
/// slot: the next item starts as soon as any call ends. (Buffering in
/// order would start none until the oldest call ended, so one slow answer
/// left the other slots idle.)
pub async fn for_each_bounded<T, R, F, Fut>(
    items: impl IntoIterator<Item = T>,
    concurrency: usize,
    mut f: F,
) -> Result<Vec<R>, ProviderError>
where
    F: FnMut(T) -> Fut,
    Fut: std::future::Future<Output = Result<R, ProviderError>>,
{
    let mut done: Vec<(usize, R)> = stream::iter(items.into_iter().enumerate())
        .map(|(i, item)| {
            let call = f(item);
            async move { call.await.map(|r| (i, r)) }
        })
        .buffer_unordered(concurrency.max(1))
        .try_collect()
        .await?;
    done.sort_unstable_by_key(|(i, _)| *i);
    Ok(done.into_iter().map(|(_, r)| r).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[tokio::test(start_paused = true)]
    async fn a_slow_call_does_not_hold_back_the_next_ones() {
        // Two slots, four items: item 0 ends only once item 3 has started,
        // which needs items 1 and 2 to end while 0 is still in flight.
        let last_started = std::sync::Arc::new(tokio::sync::Notify::new());
        let run = for_each_bounded(0..4u32, 2, |i| {
            let last_started = last_started.clone();
            async move {
                if i == 3 {
                    last_started.notify_one();
                }
                if i == 0 {
                    last_started.notified().await;
                }
                Ok::<_, ProviderError>(i * 10)
            }
        });
        let got = tokio::time::timeout(std::time::Duration::from_secs(60), run)
            .await
            .expect("item 0 waited for an item that never started")
            .unwrap();
        assert_eq!(got, [0, 10, 20, 30], "in the items' order");
    }

    #[test]
    fn requests_fill_templates_and_count_by_template() {
        let r = Request::get("/api/v2/authorization/roles/{roleId}").param("roleId", "a b/c");
        assert_eq!(r.path, "/api/v2/authorization/roles/a%20b%2Fc");
        assert_eq!(r.route(), "GET /api/v2/authorization/roles/{roleId}");
    }

    #[test]
    fn only_posts_are_not_idempotent_unless_marked() {
        for r in [
            Request::get("/x"),
            Request::put("/x"),
            Request::patch("/x"),
            Request::delete("/x"),
            Request::post("/x/search").idempotent(),
        ] {
            assert!(r.idempotent, "{}", r.route());
        }
        assert!(!Request::post("/api/v2/authorization/roles").idempotent);
    }

    #[test]
    fn forbidden_names_the_permissions() {
        let body = json!({
            "message": "Unable to perform the requested action. You must have at least one of the following permissions assigned: [routing:queue:view, routing:queue:edit]",
            "code": "missing.any.permissions",
            "status": 403,
            "messageParams": {"permissions": "[routing:queue:view, routing:queue:edit]"},
        });
        let err = error_from_answer(
            &Method::GET,
            "/api/v2/routing/queues",
            403,
            &body,
            Some("corr-1".into()),
        );
        let ProviderError::Forbidden {
            permissions,
            correlation_id,
            message,
        } = err
        else {
            panic!("not forbidden")
        };
        assert_eq!(permissions, ["routing:queue:edit", "routing:queue:view"]);
        assert_eq!(correlation_id.as_deref(), Some("corr-1"));
        assert!(message.contains("routing:queue:view"));
        // From the message alone, and from a list.
        let body = json!({"message": "You must have at least one of the following permissions assigned: [a:b:c]"});
        assert_eq!(permissions_named(&body), ["a:b:c"]);
        let body = json!({"message": "no", "messageParams": {"perms": ["x:y:z"]}});
        assert_eq!(permissions_named(&body), ["x:y:z"]);
    }

    #[test]
    fn other_errors_carry_the_genesys_body_and_correlation_id() {
        let body = json!({"message": "Role name already exists", "code": "bad.request", "status": 400, "contextId": "ctx-9"});
        let err = error_from_answer(
            &Method::POST,
            "/api/v2/authorization/roles",
            400,
            &body,
            None,
        );
        let text = err.to_string();
        assert!(
            text.contains("Role name already exists")
                && text.contains("bad.request")
                && text.contains("ctx-9"),
            "{text}"
        );
    }

    #[test]
    fn pages_know_their_count() {
        let page = |body: Value| json_page(body.to_string().as_bytes(), 100);
        let p = page(json!({"entities": [1, 2], "total": 250, "pageSize": 100})).unwrap();
        assert_eq!(p.page_count, Some(3));
        assert_eq!(p.entities, [json!(1), json!(2)]);
        let p = page(json!({"entities": [], "pageCount": 0, "nextUri": null})).unwrap();
        assert_eq!(p.page_count, Some(0));
        assert!(!p.has_next);
        assert!(matches!(
            page(json!({"oops": 1})),
            Err(BodyError::Provider(_))
        ));
        assert!(matches!(
            page(json!({"entities": 3})),
            Err(BodyError::Json(_))
        ));
    }

    #[test]
    fn pages_drop_deleted_entities_and_follow_next() {
        let p = page_of(&json!({
            "entities": [{"id": "a"}, {"id": "b", "state": "deleted"}, {"id": "c", "state": "active"}],
            "nextUri": "/api/v2/x?pageNumber=2",
            "selfUri": "/api/v2/x?pageNumber=1",
        }));
        let ids: Vec<_> = p.entities.iter().map(|e| e["id"].clone()).collect();
        assert_eq!(ids, [json!("a"), json!("c")]);
        assert!(p.has_next);
        assert_eq!(p.page_count, None);
    }

    fn page_of(body: &Value) -> Page {
        json_page(body.to_string().as_bytes(), 100).unwrap()
    }
}
