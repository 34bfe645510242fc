//! The MCP server: the trust service's tools for agents, over stdio and streamable HTTP.
//!
//! Four tools, built with [`rmcp`] (the official Rust MCP SDK), each a thin layer over the
//! library calls the CLI and the `/v1` API make:
//!
//! - `skill_tier` {skill}: what [`Trust::tier_answer`] says (tier, decision, effective
//!   allowed-tools, sandbox profile, why, and the `ceiling`: what is missing for the next tier).
//! - `scan_skill`: over stdio {path} (a folder or archive on this host) or {archive_base64};
//!   over HTTP {archive_base64} only, through the same scan jobs as `POST /v1/scans`. A remote
//!   client may not make the server read host files: `path` is refused over HTTP.
//! - `report_skill_event` {skill, kind, severity?, capability?, detail}: a runtime report, as
//!   `POST /v1/skills/{hash}/events`; an anomaly may demote or revoke.
//! - `skill_history` {skill}: every tier change, with its actor.
//!
//! A skill the store does not know is a plain answer ("not scanned; no tier"), never a protocol
//! error; a refusal (a role, a bad argument, a full queue) is a tool result with `isError` set
//! and the RFC 9457 problem as its content.
//!
//! Over stdio ([`serve_stdio`]) the local user is trusted and recorded as `mcp (stdio)`. Over
//! HTTP ([`router`], mounted at `/mcp`) every request carries an API key: a middleware
//! authenticates it before rmcp sees the request (`401`/`403` as problem+json) and puts the
//! [`Caller`] in the request's extensions, which rmcp hands to the tools with the request's
//! [`Parts`]. The caller's name is the actor recorded; its role decides what it may call:
//! `skill_tier` and `skill_history` any role, `report_skill_event` agent, `scan_skill` uploader
//! (admins always).

use crate::auth::{self, Caller, Role};
use crate::jobs::{self, Submitted};
use crate::problem::Problem;
use crate::routes::EventBody;
use crate::{Service, now_ms};
use axum::Router;
use axum::extract::{Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{CallToolResult, Implementation, ServerCapabilities, ServerConfig};
use rmcp::service::{RequestContext, ServiceExt};
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use rmcp::{RoleServer, ServerHandler, tool, tool_handler, tool_router};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Value, json};
use skillgate_model::Bundle;
use skillgate_pipeline::{SkillReport, Trust, TrustError};
use skillgate_store::{JobRow, JobState};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// The actor recorded for changes made over stdio.
pub const STDIO_ACTOR: &str = "mcp (stdio)";

/// Longest a `scan_skill` call waits for its scan before answering with the pending job.
const SCAN_WAIT: Duration = Duration::from_secs(60);

/// Every role may ask a tier and read a history.
const READERS: &[Role] = &[Role::Uploader, Role::Agent, Role::Reviewer];

/// Why the stdio server stopped with an error.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum McpServeError {
    #[error("MCP handshake on stdio failed: {0}")]
    Initialize(#[source] Box<rmcp::service::ServerInitializeError>),
    #[error("the MCP service on stdio stopped abnormally: {0}")]
    Join(#[from] tokio::task::JoinError),
}

/// Where the tools are served from, which decides who the caller is and what `scan_skill`
/// accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// The local user, trusted: no keys; `scan_skill` may read host paths.
    Stdio,
    /// A remote client with an API key; `scan_skill` takes uploads only.
    Http,
}

/// `skill_tier`, `skill_history`: one skill.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct SkillArgs {
    /// The skill's name (the newest version answers) or its content hash (`sha256:…`, or a
    /// unique hex prefix of 8 digits or more).
    pub skill: String,
}

/// `scan_skill` over stdio.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct LocalScanArgs {
    /// A skill folder or archive (`.zip`, `.tar`, `.tar.gz`, `.tgz`, `.skill`) on this host.
    /// Give this or `archive_base64`.
    #[serde(default)]
    pub path: Option<String>,
    /// A skill archive, base64 (standard alphabet). Give this or `path`.
    #[serde(default)]
    pub archive_base64: Option<String>,
}

/// `scan_skill` over HTTP.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct RemoteScanArgs {
    /// A skill archive (`.zip`, `.tar`, `.tar.gz`, `.tgz`), base64 (standard alphabet).
    // Required in the schema; optional here so that a call without it gets a tool error that
    // says what to send rather than a deserialisation failure.
    #[schemars(with = "String")]
    pub archive_base64: Option<String>,
    /// Not in the schema: a host path is never read for a remote client; it is refused with a
    /// tool error that says so.
    #[schemars(skip)]
    #[serde(default)]
    pub path: Option<String>,
}

/// What a skill did at run time.
#[derive(Debug, Clone, Copy, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum EventKind {
    /// It ran and did nothing it should not have.
    Clean,
    /// It did something it should not have.
    Anomaly,
}

/// How bad an anomaly is.
#[derive(Debug, Clone, Copy, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum EventSeverity {
    Info,
    Low,
    Medium,
    High,
    Critical,
}

impl EventSeverity {
    fn as_str(self) -> &'static str {
        match self {
            Self::Info => "info",
            Self::Low => "low",
            Self::Medium => "medium",
            Self::High => "high",
            Self::Critical => "critical",
        }
    }
}

/// `report_skill_event`.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct EventArgs {
    /// The skill's name or content hash.
    pub skill: String,
    /// `clean` or `anomaly`.
    pub kind: EventKind,
    /// For an anomaly: how bad it is (default `medium`).
    #[serde(default)]
    pub severity: Option<EventSeverity>,
    /// For an anomaly: the capability involved: fs.read, fs.write, fs.delete, net.egress,
    /// net.listen, proc.exec, env.read, secret.read, code.dynamic, persistence, privilege or
    /// agent.context.
    #[serde(default)]
    pub capability: Option<String>,
    /// What was observed, in a sentence.
    pub detail: String,
}

impl EventArgs {
    fn body(&self) -> EventBody {
        EventBody {
            kind: match self.kind {
                EventKind::Clean => "clean",
                EventKind::Anomaly => "anomaly",
            }
            .to_string(),
            severity: self.severity.map(|s| s.as_str().to_string()),
            capability: self.capability.clone(),
            detail: self.detail.clone(),
        }
    }
}

/// The tools over one service.
#[derive(Clone)]
pub struct SkillgateMcp {
    service: Arc<Service>,
    mode: Mode,
    tool_router: ToolRouter<Self>,
}

impl SkillgateMcp {
    /// The tools as `mode` serves them: over HTTP `scan_skill` takes uploads only.
    pub fn new(service: Arc<Service>, mode: Mode) -> Self {
        let scan = match mode {
            Mode::Stdio => Self::local_scan_router(),
            Mode::Http => Self::remote_scan_router(),
        };
        Self {
            service,
            mode,
            tool_router: Self::common_router() + scan,
        }
    }

    /// Who is calling, if `roles` may: over stdio the local user; over HTTP the API key the
    /// middleware authenticated (absent only if the route was mounted without it: refused).
    fn actor(&self, ctx: &RequestContext<RoleServer>, roles: &[Role]) -> Result<String, Problem> {
        match self.mode {
            Mode::Stdio => Ok(STDIO_ACTOR.to_string()),
            Mode::Http => {
                let caller = ctx
                    .extensions
                    .get::<Parts>()
                    .and_then(|parts| parts.extensions.get::<Caller>())
                    .ok_or_else(|| {
                        Problem::unauthorized(
                            "an API key is required: `Authorization: Bearer sg_…`",
                        )
                    })?;
                caller.require(roles)?;
                Ok(caller.name.clone())
            }
        }
    }

    /// The stored hash a name or hash stands for; `Ok(None)` when the store does not know it.
    async fn resolve(&self, query: &str) -> Result<Option<String>, Problem> {
        match self.service.trust.resolve(query).await {
            Ok(found) => Ok(Some(found.skill.hash)),
            Err(TrustError::Unknown(_)) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// A scan of a folder or archive on this host (stdio only): a stored identical scan is
    /// reused, otherwise the pipeline runs on a blocking thread and the verdict is recorded.
    async fn scan_path(&self, path: &str) -> Result<Value, Problem> {
        let service = &self.service;
        let path = PathBuf::from(path);
        let loaded = {
            let path = path.clone();
            let pipeline = service.pipeline.clone();
            tokio::task::spawn_blocking(move || Bundle::load(&path, pipeline.limits()))
                .await
                .map_err(|e| Problem::internal(format!("loading the skill panicked: {e}")))?
        };
        let report = jobs::verdict(service, &path, loaded)
            .await
            .map_err(Problem::internal)?;
        report_json(&report)
    }

    /// A scan of an uploaded archive, through the scan jobs: the verdict if it comes within
    /// [`SCAN_WAIT`], otherwise the job's id and state.
    async fn scan_upload(
        &self,
        encoded: &str,
        actor: &str,
        ctx: &RequestContext<RoleServer>,
    ) -> Result<CallToolResult, Problem> {
        let compact: String = encoded
            .chars()
            .filter(|c| !c.is_ascii_whitespace())
            .collect();
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(compact.as_bytes())
            .map_err(|e| {
                Problem::bad_request(format!("`archive_base64` is not base64: {e}"))
                    .field("archive_base64")
            })?;
        if bytes.is_empty() {
            return Err(Problem::bad_request("the archive is empty").field("archive_base64"));
        }
        let service = &self.service;
        let job = match jobs::submit(service, &bytes, actor).await? {
            Submitted::Known(job) => return job_answer(&job),
            Submitted::Pending(job) => job,
        };
        let wait = SCAN_WAIT.min(service.config.max_wait);
        if !wait.is_zero() {
            // Until it finishes, the wait runs out, or the client cancels the call.
            tokio::select! {
                _ = service.jobs.wait_for(service, &job.id, wait) => {}
                () = ctx.ct.cancelled() => {}
            }
        }
        // Finished, or still queued or running: as the store has it now.
        let current = service.trust.store().job(&job.id).await?.unwrap_or(job);
        job_answer(&current)
    }
}

/// A successful answer: the JSON as structured content (and as text, for older clients).
fn answer(value: Value) -> CallToolResult {
    CallToolResult::structured(value)
}

/// A refusal: a tool result with `isError` and the problem (type, title, status, detail).
fn refuse(problem: &Problem) -> CallToolResult {
    CallToolResult::structured_error(json!(problem))
}

fn respond(result: Result<Value, Problem>) -> CallToolResult {
    result.map_or_else(|problem| refuse(&problem), answer)
}

fn report_json(report: &SkillReport) -> Result<Value, Problem> {
    serde_json::to_value(report)
        .map_err(|e| Problem::internal(format!("serialising the report: {e}")))
}

/// A job's answer: its report when done, why when it failed, its id and state otherwise.
fn job_answer(job: &JobRow) -> Result<CallToolResult, Problem> {
    match (job.state, &job.report) {
        (JobState::Done, Some(report)) => serde_json::from_str::<Value>(report)
            .map(answer)
            .map_err(|e| Problem::internal(format!("the stored report is unreadable: {e}"))),
        (JobState::Failed, _) => Ok(CallToolResult::structured_error(json!({
            "id": job.id,
            "state": job.state,
            "error": job.error,
        }))),
        _ => Ok(answer(json!({
            "id": job.id,
            "state": job.state,
            "note": "still scanning: call scan_skill again with the same archive to wait for \
                     the same scan, or ask skill_tier later",
        }))),
    }
}

#[tool_router(router = common_router)]
impl SkillgateMcp {
    #[tool(
        description = "The trust tier of a skill by name or content hash: tier, decision, effective allowed-tools, sandbox profile, why, and what is missing for the next tier.",
        annotations(read_only_hint = true, open_world_hint = false)
    )]
    async fn skill_tier(
        &self,
        Parameters(args): Parameters<SkillArgs>,
        ctx: RequestContext<RoleServer>,
    ) -> CallToolResult {
        if let Err(problem) = self.actor(&ctx, READERS) {
            return refuse(&problem);
        }
        respond(
            match self.service.trust.tier_answer(&args.skill, now_ms()).await {
                Ok(Some(found)) => Ok(json!(found)),
                Ok(None) => Ok(Trust::unknown_answer(&args.skill)),
                Err(e) => Err(e.into()),
            },
        )
    }

    #[tool(
        description = "Reports what a skill did at run time, clean or an anomaly with its severity and capability; an anomaly may demote or revoke the skill.",
        annotations(
            read_only_hint = false,
            destructive_hint = false,
            open_world_hint = false
        )
    )]
    async fn report_skill_event(
        &self,
        Parameters(args): Parameters<EventArgs>,
        ctx: RequestContext<RoleServer>,
    ) -> CallToolResult {
        let actor = match self.actor(&ctx, &[Role::Agent]) {
            Ok(actor) => actor,
            Err(problem) => return refuse(&problem),
        };
        let report = match args.body().report() {
            Ok(report) => report,
            Err(problem) => return refuse(&problem),
        };
        let hash = match self.resolve(&args.skill).await {
            Ok(Some(hash)) => hash,
            Ok(None) => return answer(Trust::unknown_answer(&args.skill)),
            Err(problem) => return refuse(&problem),
        };
        let outcome = self
            .service
            .trust
            .event(&hash, &report, &actor, now_ms())
            .await;
        self.service.tiers.clear();
        respond(outcome.map(|outcome| json!(outcome)).map_err(Problem::from))
    }

    #[tool(
        description = "Every tier change of a skill by name or content hash: from, to, reason, actor, evidence and time.",
        annotations(read_only_hint = true, open_world_hint = false)
    )]
    async fn skill_history(
        &self,
        Parameters(args): Parameters<SkillArgs>,
        ctx: RequestContext<RoleServer>,
    ) -> CallToolResult {
        if let Err(problem) = self.actor(&ctx, READERS) {
            return refuse(&problem);
        }
        let hash = match self.resolve(&args.skill).await {
            Ok(Some(hash)) => hash,
            Ok(None) => return answer(Trust::unknown_answer(&args.skill)),
            Err(problem) => return refuse(&problem),
        };
        respond(
            self.service
                .trust
                .store()
                .history(&hash)
                .await
                .map(|rows| json!({"hash": hash, "history": rows}))
                .map_err(Problem::from),
        )
    }
}

#[tool_router(router = local_scan_router)]
impl SkillgateMcp {
    #[tool(
        name = "scan_skill",
        description = "Scans a skill, a folder or archive on this host or a base64 archive, and returns the verdict: decision, tier and reasons.",
        annotations(
            read_only_hint = false,
            destructive_hint = false,
            open_world_hint = false
        )
    )]
    async fn scan_local(
        &self,
        Parameters(args): Parameters<LocalScanArgs>,
        ctx: RequestContext<RoleServer>,
    ) -> CallToolResult {
        let actor = match self.actor(&ctx, &[Role::Uploader]) {
            Ok(actor) => actor,
            Err(problem) => return refuse(&problem),
        };
        match (args.path.as_deref(), args.archive_base64.as_deref()) {
            (Some(path), None) => respond(self.scan_path(path).await),
            (None, Some(encoded)) => self
                .scan_upload(encoded, &actor, &ctx)
                .await
                .unwrap_or_else(|problem| refuse(&problem)),
            _ => refuse(&Problem::bad_request(
                "give exactly one of `path` (a folder or archive on this host) and \
                 `archive_base64`",
            )),
        }
    }
}

#[tool_router(router = remote_scan_router)]
impl SkillgateMcp {
    #[tool(
        name = "scan_skill",
        description = "Scans a skill archive sent as base64 and returns the verdict (decision, tier, reasons), or the scan's id and state if it takes longer than a minute.",
        annotations(
            read_only_hint = false,
            destructive_hint = false,
            open_world_hint = false
        )
    )]
    async fn scan_remote(
        &self,
        Parameters(args): Parameters<RemoteScanArgs>,
        ctx: RequestContext<RoleServer>,
    ) -> CallToolResult {
        let actor = match self.actor(&ctx, &[Role::Uploader]) {
            Ok(actor) => actor,
            Err(problem) => return refuse(&problem),
        };
        if args.path.is_some() {
            return refuse(
                &Problem::bad_request(
                    "`path` is not accepted over HTTP: this server reads no host files for a \
                     remote client; send the skill as `archive_base64`",
                )
                .field("path"),
            );
        }
        let Some(encoded) = args.archive_base64.as_deref() else {
            return refuse(
                &Problem::bad_request("`archive_base64` is required: the skill archive, base64")
                    .field("archive_base64"),
            );
        };
        self.scan_upload(encoded, &actor, &ctx)
            .await
            .unwrap_or_else(|problem| refuse(&problem))
    }
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for SkillgateMcp {
    fn get_info(&self) -> ServerConfig {
        let scan = match self.mode {
            Mode::Stdio => {
                "scan_skill scans a folder or archive on this host (`path`) or a base64 archive"
            }
            Mode::Http => "scan_skill scans a base64 archive",
        };
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new("skillgate", env!("CARGO_PKG_VERSION")))
            .with_instructions(format!(
                "skillgate decides whether an agent skill may be trusted, and how far (tiers T1 \
                 to T4). Ask skill_tier before activating a skill and honour its effective \
                 allowed-tools and sandbox profile; {scan}; report what a skill did at run time \
                 with report_skill_event; skill_history shows every tier change."
            ))
    }
}

/// Serves the tools on stdin/stdout until the client closes them. The caller must keep stdout
/// for MCP alone (logs go to stderr).
pub async fn serve_stdio(service: Arc<Service>) -> Result<(), McpServeError> {
    let running = SkillgateMcp::new(service, Mode::Stdio)
        .serve(rmcp::transport::stdio())
        .await
        .map_err(|e| McpServeError::Initialize(Box::new(e)))?;
    match running.waiting().await? {
        rmcp::service::QuitReason::JoinError(e) => Err(e.into()),
        _ => Ok(()),
    }
}

/// `/mcp`: the MCP tools over streamable HTTP, behind the API keys.
pub fn router(service: Arc<Service>) -> Router<Arc<Service>> {
    // Every request needs an API key, which a page rebinding DNS to this host cannot present,
    // so the `Host` allow-list (loopback only by default) would only refuse real deployments.
    let config = StreamableHttpServerConfig::default()
        .disable_allowed_hosts()
        .with_max_request_body_bytes(service.config.body_limit);
    let tools = service.clone();
    let mcp = StreamableHttpService::new(
        move || Ok(SkillgateMcp::new(tools.clone(), Mode::Http)),
        Arc::new(LocalSessionManager::default()),
        config,
    );
    Router::new()
        .nest_service("/mcp", mcp)
        .layer(middleware::from_fn_with_state(service, authenticate))
}

/// Refuses a request without a valid key before rmcp sees it; otherwise puts the [`Caller`] in
/// its extensions for the tools.
async fn authenticate(
    State(service): State<Arc<Service>>,
    request: Request,
    next: Next,
) -> Response {
    let (mut parts, body) = request.into_parts();
    match service
        .keys
        .authenticate(auth::bearer(&parts), now_ms())
        .await
    {
        Ok(caller) => {
            parts.extensions.insert(caller);
            next.run(Request::from_parts(parts, body)).await
        }
        Err(problem) => {
            let unauthorized = problem.status == 401;
            let mut response = problem.into_response();
            if unauthorized {
                response.headers_mut().insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Bearer realm=\"skillgate\""),
                );
            }
            response
        }
    }
}
