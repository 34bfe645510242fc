//! skillgate's trust service: the HTTP API marketplaces upload to and agents ask, and the MCP
//! server agents speak.
//!
//! It is a thin layer over the library calls the CLI makes: an upload is loaded with
//! [`Bundle::from_archive_bytes`](skillgate_model::Bundle), evaluated by the same
//! [`Pipeline`], recorded by the same [`Trust`], and a tier is answered by
//! [`Trust::tier_answer`], so a verdict over HTTP is the verdict `skillgate scan` gives.
//!
//! - [`jobs`]: uploads are persisted as scan jobs before they are accepted, run in a bounded
//!   pool (G3 is expensive), and run again after a restart. Past the queue limit the answer is
//!   `503` with `Retry-After`: the server refuses rather than slows down.
//! - [`auth`]: bearer API keys with a role (uploader, agent, reviewer, admin), stored as a
//!   SHA-256 only, compared in constant time, rate-limited per key.
//! - [`routes`]: `/v1` handlers; errors are `application/problem+json` (RFC 9457).
//! - [`mcp`]: the MCP tools (`skill_tier`, `scan_skill`, `report_skill_event`,
//!   `skill_history`) over stdio and over streamable HTTP at `/mcp`.
//!
//! Hostile clients are bounded at the connection: a body limit (`413`), a time limit on
//! reading headers and body (`408`), a cap on open connections, and an idle timeout.

pub mod auth;
pub mod cache;
pub mod jobs;
pub mod mcp;
pub mod metrics;
pub mod problem;
pub mod routes;

use skillgate_pipeline::{Pipeline, Trust};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// How the server is set up.
#[derive(Debug, Clone)]
pub struct Config {
    pub listen: SocketAddr,
    /// Scans run at once.
    pub scan_workers: usize,
    /// Scans waiting beyond the running ones before uploads are refused with `503`.
    pub queue_limit: usize,
    /// Largest request body accepted.
    pub body_limit: usize,
    /// Where uploads are kept (beside the store): a rescan reloads a skill from here.
    pub spool: PathBuf,
    /// Requests per second per API key (`0`: unlimited).
    pub rate_limit: u32,
    /// Time to send a request's headers, and its body.
    pub read_timeout: Duration,
    /// A connection with nothing in flight and no byte moved for this long is closed.
    pub idle_timeout: Duration,
    /// Open connections at most; past it new ones are closed at once.
    pub max_connections: usize,
    /// Longest `?wait=` honoured.
    pub max_wait: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8470)),
            scan_workers: 2,
            queue_limit: 64,
            body_limit: 50 * 1024 * 1024,
            spool: PathBuf::from("uploads"),
            rate_limit: 10_000,
            read_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(30),
            max_connections: 4096,
            max_wait: Duration::from_secs(120),
        }
    }
}

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServerError {
    #[error("listening on {addr}: {source}")]
    Listen {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("creating the upload spool {path}: {source}")]
    Spool {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("trust store: {0}")]
    Store(#[from] skillgate_store::StoreError),
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// What every handler shares.
pub struct Service {
    pub config: Config,
    pub pipeline: Arc<Pipeline>,
    /// The pipeline's engine string: a stored scan is reused only when it matches.
    pub engine: String,
    pub trust: Trust,
    pub jobs: jobs::Queue,
    pub keys: auth::Keys,
    pub metrics: metrics::Metrics,
    /// Tier answers, for a second: agents ask far more often than anything changes.
    pub tiers: cache::TierCache,
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

impl Service {
    /// Builds the service over a pipeline and a store, and starts the scan workers (which
    /// first take up the jobs a previous run left queued or running).
    pub async fn start(
        config: Config,
        pipeline: Pipeline,
        trust: Trust,
    ) -> Result<Arc<Self>, ServerError> {
        std::fs::create_dir_all(&config.spool).map_err(|source| ServerError::Spool {
            path: config.spool.clone(),
            source,
        })?;
        let engine = pipeline.engine();
        let (queue, receiver) = jobs::Queue::new(config.queue_limit);
        let service = Arc::new(Self {
            keys: auth::Keys::new(trust.store().clone(), config.rate_limit),
            metrics: metrics::Metrics::default(),
            tiers: cache::TierCache::default(),
            config,
            pipeline: Arc::new(pipeline),
            engine,
            trust,
            jobs: queue,
        });
        jobs::start_workers(service.clone(), receiver).await?;
        Ok(service)
    }
}

/// Serves the API on `config.listen` until `shutdown` resolves.
pub async fn serve(
    service: Arc<Service>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), ServerError> {
    let addr = service.config.listen;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| ServerError::Listen { addr, source })?;
    serve_on(service, listener, shutdown).await
}

/// Serves the API on a listener already bound (tests bind port 0).
pub async fn serve_on(
    service: Arc<Service>,
    listener: tokio::net::TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), ServerError> {
    let app = routes::router(service.clone());
    routes::accept_loop(listener, app, &service.config, shutdown).await
}

/// Structured (JSON) logs to stderr; `RUST_LOG` filters them (default `info`).
pub fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}
