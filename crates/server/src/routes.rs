//! The `/v1` API, health, metrics and the OpenAPI document; and the connection loop that
//! bounds what one client can hold.

use crate::auth::{Caller, Role};
use crate::jobs::{self, Submitted};
use crate::problem::Problem;
use crate::{Config, ServerError, Service, now_ms};
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{
    DefaultBodyLimit, FromRequest, MatchedPath, Multipart, Path, Query, Request, State,
};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::{Value, json};
use skillgate_model::{Capability, Severity, Tier};
use skillgate_pipeline::RuntimeReport;
use skillgate_store::{JobRow, JobState};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tower_http::compression::CompressionLayer;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::timeout::{RequestBodyTimeoutLayer, TimeoutLayer};
use tower_http::trace::TraceLayer;
use utoipa::OpenApi;

/// The API's routes over the service.
pub fn router(service: Arc<Service>) -> Router {
    let limit = service.config.body_limit;
    let read_timeout = service.config.read_timeout;
    let handler_timeout = service.config.max_wait + Duration::from_secs(30);
    Router::new()
        .route("/v1/scans", post(create_scan))
        .route("/v1/scans/{id}", get(get_scan))
        .route("/v1/skills", get(find_skills))
        .route("/v1/skills/{hash}", get(get_skill))
        .route("/v1/skills/{hash}/history", get(get_history))
        .route("/v1/skills/{hash}/events", post(post_event))
        .route("/v1/skills/{hash}/reviews", post(post_review))
        .route("/v1/skills/{hash}/promote", post(post_promote))
        .route("/v1/skills/{hash}/demote", post(post_demote))
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .route("/openapi.json", get(openapi))
        .merge(crate::mcp::router(service.clone()))
        .fallback(|| async { Problem::not_found("no such route") })
        .layer(middleware::from_fn_with_state(service.clone(), observe))
        .layer(DefaultBodyLimit::max(limit))
        .layer(RequestBodyLimitLayer::new(limit))
        .layer(RequestBodyTimeoutLayer::new(read_timeout))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            handler_timeout,
        ))
        .layer(CompressionLayer::new())
        .layer(TraceLayer::new_for_http())
        .with_state(service)
}

/// Request latency by route and status; `413` from the body limit as problem+json.
async fn observe(State(service): State<Arc<Service>>, request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_string(), |p| p.as_str().to_string());
    let started = Instant::now();
    let response = next.run(request).await;
    let status = response.status();
    service
        .metrics
        .record_request(&route, status.as_u16(), started.elapsed());
    if status == StatusCode::PAYLOAD_TOO_LARGE && !is_problem(&response) {
        return Problem::new(
            status,
            "too-large",
            format!(
                "the upload is larger than the limit of {} bytes",
                service.config.body_limit
            ),
        )
        .into_response();
    }
    response
}

fn is_problem(response: &Response) -> bool {
    response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes() == b"application/problem+json")
}

fn json_bytes(body: Bytes) -> Response {
    let mut response = (StatusCode::OK, body).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

fn json_response(status: StatusCode, body: &Value) -> Response {
    (status, axum::Json(body)).into_response()
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
struct ScanQuery {
    /// Seconds to wait for the verdict before answering `202`.
    wait: Option<u64>,
}

/// The job as `GET /v1/scans/{id}` shows it.
fn job_json(job: &JobRow) -> Value {
    let report: Option<Value> = job
        .report
        .as_deref()
        .and_then(|r| serde_json::from_str(r).ok());
    json!({
        "id": job.id,
        "state": job.state,
        "skill_hash": job.skill_hash,
        "report": report,
        "error": job.error,
        "uploaded_by": job.actor,
        "created_at": job.created_at,
        "updated_at": job.updated_at,
    })
}

fn location(id: &str) -> HeaderValue {
    HeaderValue::from_str(&format!("/v1/scans/{id}")).unwrap_or(HeaderValue::from_static("/"))
}

/// A finished job's verdict (`200`), or where to ask for it (`202`).
fn scan_answer(job: &JobRow) -> Response {
    let mut response = match (job.state, &job.report) {
        (JobState::Done, Some(report)) => json_bytes(Bytes::from(report.clone())),
        (JobState::Failed, _) => json_response(StatusCode::OK, &job_json(job)),
        _ => json_response(StatusCode::ACCEPTED, &job_json(job)),
    };
    let headers = response.headers_mut();
    headers.insert(header::LOCATION, location(&job.id));
    if let Ok(v) = HeaderValue::from_str(&job.id) {
        headers.insert("skillgate-scan-id", v);
    }
    response
}

/// The archive in a request: the raw body, or the first file part of a multipart form.
async fn upload_bytes(request: Request, service: &Arc<Service>) -> Result<Bytes, Problem> {
    let multipart = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("multipart/form-data"));
    if !multipart {
        return Bytes::from_request(request, service)
            .await
            .map_err(|e| body_problem(e.status(), e.body_text()));
    }
    let mut form = Multipart::from_request(request, service)
        .await
        .map_err(|e| body_problem(e.status(), e.body_text()))?;
    while let Some(field) = form
        .next_field()
        .await
        .map_err(|e| body_problem(e.status(), e.body_text()))?
    {
        if field.file_name().is_some() || field.name() == Some("archive") {
            return field
                .bytes()
                .await
                .map_err(|e| body_problem(e.status(), e.body_text()));
        }
    }
    Err(Problem::bad_request("the form holds no file part").field("archive"))
}

fn body_problem(status: StatusCode, text: String) -> Problem {
    match status {
        StatusCode::PAYLOAD_TOO_LARGE => Problem::new(status, "too-large", text),
        StatusCode::REQUEST_TIMEOUT => Problem::new(status, "timeout", text),
        _ => Problem::bad_request(text),
    }
}

#[utoipa::path(post, path = "/v1/scans", params(ScanQuery),
    request_body(content = Vec<u8>, description = "a skill archive (zip, tar, tar.gz), raw or as a multipart file", content_type = "application/octet-stream"),
    responses((status = 200, description = "the verdict: the object `skillgate scan --format json` gives"),
        (status = 202, description = "accepted; ask `Location`"),
        (status = 403, description = "the key's role may not upload"),
        (status = 413, description = "larger than the body limit"),
        (status = 503, description = "the queue is full; `Retry-After` says when to retry")),
    security(("bearer" = [])))]
async fn create_scan(
    State(service): State<Arc<Service>>,
    caller: Caller,
    Query(query): Query<ScanQuery>,
    request: Request,
) -> Result<Response, Problem> {
    caller.require(&[Role::Uploader])?;
    let bytes = upload_bytes(request, &service).await?;
    if bytes.is_empty() {
        return Err(Problem::bad_request("the upload is empty").field("body"));
    }
    let job = match jobs::submit(&service, &bytes, &caller.name).await? {
        Submitted::Known(job) => return Ok(scan_answer(&job)),
        Submitted::Pending(job) => job,
    };
    let wait = Duration::from_secs(query.wait.unwrap_or(0)).min(service.config.max_wait);
    if !wait.is_zero() && service.jobs.wait_for(&service, &job.id, wait).await {
        let done = service.trust.store().job(&job.id).await?;
        if let Some(done) = done {
            return Ok(scan_answer(&done));
        }
    }
    Ok(scan_answer(&job))
}

#[utoipa::path(get, path = "/v1/scans/{id}",
    params(("id" = String, Path, description = "the scan id `POST /v1/scans` gave")),
    responses((status = 200, description = "queued, running, done (with the report) or failed (with why)"),
        (status = 404, description = "no such scan")),
    security(("bearer" = [])))]
async fn get_scan(
    State(service): State<Arc<Service>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, Problem> {
    caller.require(&[Role::Uploader, Role::Reviewer])?;
    let job = service
        .trust
        .store()
        .job(&id)
        .await?
        .ok_or_else(|| Problem::not_found(format!("no scan `{id}`")))?;
    Ok(json_response(StatusCode::OK, &job_json(&job)))
}

/// Every role may ask a tier.
const READERS: &[Role] = &[Role::Uploader, Role::Agent, Role::Reviewer];

async fn tier_of(service: &Service, query: &str) -> Result<Response, Problem> {
    if let Some(body) = service.tiers.get(query) {
        return Ok(json_bytes(body));
    }
    match service.trust.tier_answer(query, now_ms()).await? {
        Some(answer) => {
            let body = Bytes::from(serde_json::to_vec(&answer).unwrap_or_default());
            service.tiers.put(query, body.clone());
            Ok(json_bytes(body))
        }
        None => Err(Problem::not_found(format!(
            "{query}: not scanned; no tier (upload it to /v1/scans first)"
        ))),
    }
}

#[utoipa::path(get, path = "/v1/skills/{hash}",
    params(("hash" = String, Path, description = "content hash `sha256:…` (or a unique prefix) or name")),
    responses((status = 200, description = "tier, decision, effective allowed-tools, sandbox profile, why (as `tier --json`)"),
        (status = 404, description = "not scanned; no tier")),
    security(("bearer" = [])))]
async fn get_skill(
    State(service): State<Arc<Service>>,
    caller: Caller,
    Path(hash): Path<String>,
) -> Result<Response, Problem> {
    caller.require(READERS)?;
    tier_of(&service, &hash).await
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
struct NameQuery {
    /// The skill's name; the newest version answers.
    name: String,
}

#[utoipa::path(get, path = "/v1/skills", params(NameQuery),
    responses((status = 200, description = "the newest version's tier (as `tier --json`)"),
        (status = 404, description = "not scanned; no tier")),
    security(("bearer" = [])))]
async fn find_skills(
    State(service): State<Arc<Service>>,
    caller: Caller,
    query: Result<Query<NameQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, Problem> {
    caller.require(READERS)?;
    let Query(query) = query.map_err(|e| Problem::bad_request(e.body_text()).field("name"))?;
    tier_of(&service, &query.name).await
}

async fn resolve_hash(service: &Service, query: &str) -> Result<String, Problem> {
    Ok(service.trust.resolve(query).await?.skill.hash)
}

#[utoipa::path(get, path = "/v1/skills/{hash}/history",
    params(("hash" = String, Path, description = "content hash or name")),
    responses((status = 200, description = "every tier change: from, to, reason, actor, evidence, time")),
    security(("bearer" = [])))]
async fn get_history(
    State(service): State<Arc<Service>>,
    caller: Caller,
    Path(hash): Path<String>,
) -> Result<Response, Problem> {
    caller.require(READERS)?;
    let hash = resolve_hash(&service, &hash).await?;
    let rows = service.trust.store().history(&hash).await?;
    Ok(json_response(
        StatusCode::OK,
        &json!({"hash": hash, "history": rows}),
    ))
}

/// Parses a JSON body strictly: a malformed body or an unknown field is a `400` naming it.
fn strict_json<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, Problem> {
    serde_json::from_slice(body).map_err(|e| {
        let text = e.to_string();
        let field = text
            .split('`')
            .nth(1)
            .filter(|_| text.contains("field"))
            .map(str::to_string);
        let mut problem = Problem::bad_request(format!("the JSON body is not accepted: {text}"));
        problem.field = field;
        problem
    })
}

/// A runtime report from an agent.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EventBody {
    /// `clean` or `anomaly`.
    pub kind: String,
    /// For an anomaly: info, low, medium, high or critical.
    pub severity: Option<String>,
    /// For an anomaly: the capability involved (`net.egress`, `fs.write`, …).
    pub capability: Option<String>,
    #[serde(default)]
    pub detail: String,
}

impl EventBody {
    pub fn report(&self) -> Result<RuntimeReport, Problem> {
        match self.kind.as_str() {
            "clean" => Ok(RuntimeReport::Clean {
                detail: self.detail.clone(),
            }),
            "anomaly" => {
                let severity = match self.severity.as_deref() {
                    None => Severity::Medium,
                    Some(s) => s.parse::<Severity>().map_err(|_| {
                        Problem::bad_request(format!("unknown severity `{s}`")).field("severity")
                    })?,
                };
                let capability = self
                    .capability
                    .as_deref()
                    .map(|c| {
                        c.parse::<Capability>().map_err(|_| {
                            Problem::bad_request(format!("unknown capability `{c}`"))
                                .field("capability")
                        })
                    })
                    .transpose()?;
                Ok(RuntimeReport::Anomaly {
                    severity,
                    capability,
                    detail: self.detail.clone(),
                })
            }
            other => Err(Problem::bad_request(format!(
                "`kind` must be `clean` or `anomaly`, not `{other}`"
            ))
            .field("kind")),
        }
    }
}

#[utoipa::path(post, path = "/v1/skills/{hash}/events", request_body = EventBody,
    params(("hash" = String, Path, description = "content hash or name")),
    responses((status = 200, description = "the state before and after, and the history row appended"),
        (status = 400, description = "malformed JSON or an unknown field, named")),
    security(("bearer" = [])))]
async fn post_event(
    State(service): State<Arc<Service>>,
    caller: Caller,
    Path(hash): Path<String>,
    body: Bytes,
) -> Result<Response, Problem> {
    caller.require(&[Role::Agent])?;
    let event: EventBody = strict_json(&body)?;
    let report = event.report()?;
    let hash = resolve_hash(&service, &hash).await?;
    let outcome = service
        .trust
        .event(&hash, &report, &caller.name, now_ms())
        .await?;
    service.tiers.clear();
    Ok(json_response(StatusCode::OK, &json!(outcome)))
}

/// A semantic review.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReviewBody {
    pub approve: bool,
    /// `human` (default) or `llm`.
    pub kind: Option<String>,
    #[serde(default)]
    pub note: String,
}

#[utoipa::path(post, path = "/v1/skills/{hash}/reviews", request_body = ReviewBody,
    params(("hash" = String, Path, description = "content hash or name")),
    responses((status = 200, description = "the outcome")), security(("bearer" = [])))]
async fn post_review(
    State(service): State<Arc<Service>>,
    caller: Caller,
    Path(hash): Path<String>,
    body: Bytes,
) -> Result<Response, Problem> {
    caller.require(&[Role::Reviewer])?;
    let review: ReviewBody = strict_json(&body)?;
    let kind = review.kind.as_deref().unwrap_or("human");
    if kind != "human" && kind != "llm" {
        return Err(Problem::bad_request("`kind` must be `human` or `llm`").field("kind"));
    }
    let hash = resolve_hash(&service, &hash).await?;
    let outcome = service
        .trust
        .review(
            &hash,
            review.approve,
            &caller.name,
            kind,
            &review.note,
            now_ms(),
        )
        .await?;
    service.tiers.clear();
    Ok(json_response(StatusCode::OK, &json!(outcome)))
}

/// A move to a tier.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MoveBody {
    /// T1, T2, T3 or T4.
    pub to: String,
    pub reason: String,
}

async fn move_tier(
    service: Arc<Service>,
    caller: Caller,
    hash: String,
    body: Bytes,
    up: bool,
) -> Result<Response, Problem> {
    caller.require(&[Role::Reviewer])?;
    let body: MoveBody = strict_json(&body)?;
    let to: Tier = body
        .to
        .parse()
        .map_err(|_| Problem::bad_request(format!("unknown tier `{}`", body.to)).field("to"))?;
    let hash = resolve_hash(&service, &hash).await?;
    let now = now_ms();
    let outcome = if up {
        service
            .trust
            .promote(&hash, to, &caller.name, &body.reason, now)
            .await?
    } else {
        service
            .trust
            .demote(&hash, to, &caller.name, &body.reason, now)
            .await?
    };
    service.tiers.clear();
    Ok(json_response(StatusCode::OK, &json!(outcome)))
}

#[utoipa::path(post, path = "/v1/skills/{hash}/promote", request_body = MoveBody,
    params(("hash" = String, Path, description = "content hash or name")),
    responses((status = 200, description = "the outcome"), (status = 409, description = "refused: what the evidence lacks")),
    security(("bearer" = [])))]
async fn post_promote(
    State(service): State<Arc<Service>>,
    caller: Caller,
    Path(hash): Path<String>,
    body: Bytes,
) -> Result<Response, Problem> {
    move_tier(service, caller, hash, body, true).await
}

#[utoipa::path(post, path = "/v1/skills/{hash}/demote", request_body = MoveBody,
    params(("hash" = String, Path, description = "content hash or name")),
    responses((status = 200, description = "the outcome")), security(("bearer" = [])))]
async fn post_demote(
    State(service): State<Arc<Service>>,
    caller: Caller,
    Path(hash): Path<String>,
    body: Bytes,
) -> Result<Response, Problem> {
    move_tier(service, caller, hash, body, false).await
}

#[utoipa::path(get, path = "/healthz", responses((status = 200, description = "the store answers")))]
async fn healthz(State(service): State<Arc<Service>>) -> Result<Response, Problem> {
    let queued = service.trust.store().count_jobs(JobState::Queued).await?;
    Ok(json_response(
        StatusCode::OK,
        &json!({"status": "ok", "queued": queued, "engine": service.engine}),
    ))
}

#[utoipa::path(get, path = "/metrics", responses((status = 200, description = "Prometheus text")))]
async fn metrics(State(service): State<Arc<Service>>) -> Response {
    let mut response = service.metrics.render().into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4"),
    );
    response
}

/// The API's OpenAPI document, generated from the handlers' annotations.
#[derive(OpenApi)]
#[openapi(
    info(title = "skillgate", description = "Trust verdicts for agent skills"),
    paths(create_scan, get_scan, find_skills, get_skill, get_history, post_event, post_review,
        post_promote, post_demote, healthz, metrics),
    components(schemas(EventBody, ReviewBody, MoveBody)),
    modifiers(&BearerAuth)
)]
pub struct ApiDoc;

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

async fn openapi() -> Response {
    axum::Json(ApiDoc::openapi()).into_response()
}

/// Accepts connections until `shutdown`: at most `max_connections` open (the rest are closed
/// at once), headers within `read_timeout`, and a connection with no request in flight and no
/// byte read or written for `idle_timeout` closed (a client that opens a connection and sends
/// nothing holds a slot, and `header_read_timeout` only starts at the first byte).
pub async fn accept_loop(
    listener: tokio::net::TcpListener,
    app: Router,
    config: &Config,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), ServerError> {
    use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
    use tower::ServiceExt;
    let permits = Arc::new(tokio::sync::Semaphore::new(config.max_connections));
    let read_timeout = config.read_timeout;
    let idle_timeout = config.idle_timeout;
    tokio::pin!(shutdown);
    loop {
        let (stream, _) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    // Out of descriptors and the like: wait, do not spin or die.
                    tracing::warn!(error = %e, "accept");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => return Ok(()),
        };
        let Ok(permit) = permits.clone().try_acquire_owned() else {
            drop(stream);
            continue;
        };
        let _ = stream.set_nodelay(true);
        let app = app.clone();
        tokio::spawn(async move {
            let _permit = permit;
            let activity = Arc::new(Activity::default());
            let in_service = activity.clone();
            let service = hyper::service::service_fn(
                move |request: hyper::Request<hyper::body::Incoming>| {
                    let guard = InFlight::new(in_service.clone());
                    let app = app.clone();
                    async move {
                        let response = app.oneshot(request.map(Body::new)).await;
                        drop(guard);
                        response
                    }
                },
            );
            let mut builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
            builder
                .http1()
                .timer(TokioTimer::new())
                .header_read_timeout(read_timeout)
                .keep_alive(true);
            let io = TokioIo::new(Watched {
                inner: stream,
                activity: activity.clone(),
            });
            let connection = builder.serve_connection_with_upgrades(io, service);
            tokio::pin!(connection);
            let mut closing = false;
            loop {
                tokio::select! {
                    _ = connection.as_mut() => break,
                    () = tokio::time::sleep(idle_timeout / 4), if !closing => {
                        if activity.idle_for() >= idle_timeout {
                            connection.as_mut().graceful_shutdown();
                            closing = true;
                        }
                    }
                }
            }
        });
    }
}

/// What a connection is doing: requests in flight, and when a byte last moved.
struct Activity {
    born: Instant,
    last_ms: std::sync::atomic::AtomicU64,
    in_flight: std::sync::atomic::AtomicUsize,
}

impl Default for Activity {
    fn default() -> Self {
        Self {
            born: Instant::now(),
            last_ms: std::sync::atomic::AtomicU64::new(0),
            in_flight: std::sync::atomic::AtomicUsize::new(0),
        }
    }
}

impl Activity {
    fn touch(&self) {
        let now = self.born.elapsed().as_millis() as u64;
        self.last_ms
            .store(now, std::sync::atomic::Ordering::Relaxed);
    }

    /// How long nothing has happened; zero while a request is being answered.
    fn idle_for(&self) -> Duration {
        if self.in_flight.load(std::sync::atomic::Ordering::Relaxed) > 0 {
            return Duration::ZERO;
        }
        let last = self.last_ms.load(std::sync::atomic::Ordering::Relaxed);
        self.born
            .elapsed()
            .saturating_sub(Duration::from_millis(last))
    }
}

/// A request being answered on a connection.
struct InFlight(Arc<Activity>);

impl InFlight {
    fn new(activity: Arc<Activity>) -> Self {
        activity
            .in_flight
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Self(activity)
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.touch();
        self.0
            .in_flight
            .fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
    }
}

/// A socket that records when bytes move.
struct Watched {
    inner: tokio::net::TcpStream,
    activity: Arc<Activity>,
}

impl tokio::io::AsyncRead for Watched {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let polled = std::pin::Pin::new(&mut self.inner).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.activity.touch();
        }
        polled
    }
}

impl tokio::io::AsyncWrite for Watched {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        data: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        let polled = std::pin::Pin::new(&mut self.inner).poll_write(cx, data);
        if matches!(polled, std::task::Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        polled
    }

    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> std::task::Poll<std::io::Result<usize>> {
        let polled = std::pin::Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if matches!(polled, std::task::Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        polled
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}
