//! `skillgate serve`, `skillgate mcp` and `skillgate keys api`: the trust service over the
//! same pipeline and store the CLI uses.

use crate::ExitStatus;
use crate::args::{ApiKeysCommand, ApiRoleArg, ServeArgs, ServiceArgs};
use crate::commands::scan::{build_pipeline, load_policy};
use crate::commands::store::{self, Opened, now_ms, when};
use skillgate_server::auth::{self, Role};
use skillgate_server::{Config, Service};
use skillgate_store::Location;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// The store and the pipeline a service runs on.
fn open_service(
    db: Option<&Location>,
    args: &ServiceArgs,
) -> anyhow::Result<(Opened, skillgate_pipeline::Pipeline)> {
    let policy = load_policy(args.engine.policy.as_deref())?;
    let st = store::open(db, &policy)?;
    let pipeline = build_pipeline(
        &args.engine.gates,
        policy,
        args.engine.osv.as_deref(),
        Some(&st),
        &args.engine.sandbox,
    )?;
    Ok((st, pipeline))
}

/// Uploads wait beside a SQLite store, or in the default data folder for a PostgreSQL one.
fn default_spool(location: &Location) -> std::path::PathBuf {
    let beside = match location {
        Location::Sqlite(path) => path.clone(),
        Location::Postgres(_) => skillgate_store::default_path(),
    };
    beside
        .parent()
        .map_or_else(|| Path::new("uploads").to_path_buf(), |p| p.join("uploads"))
}

async fn stop_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}

pub fn serve(db: Option<&Location>, args: &ServeArgs) -> anyhow::Result<ExitStatus> {
    skillgate_server::init_logging();
    let (st, pipeline) = open_service(db, &args.service)?;
    let spool = args
        .spool
        .clone()
        .unwrap_or_else(|| default_spool(&st.location));
    let config = Config {
        listen: args.listen,
        scan_workers: args.service.scan_workers,
        queue_limit: args.queue_limit,
        body_limit: args.body_limit,
        spool,
        rate_limit: args.rate_limit,
        read_timeout: Duration::from_secs(args.read_timeout.max(1)),
        idle_timeout: Duration::from_secs(args.idle_timeout.max(1)),
        ..Config::default()
    };
    let trust = st.trust.clone();
    st.rt.block_on(async move {
        let service = Service::start(config, pipeline, trust).await?;
        tracing::info!(listen = %service.config.listen, engine = %service.engine, "serving");
        skillgate_server::serve(service, stop_signal()).await?;
        anyhow::Ok(())
    })?;
    Ok(ExitStatus::Success)
}

pub fn mcp(db: Option<&Location>, args: &ServiceArgs) -> anyhow::Result<ExitStatus> {
    let (st, pipeline) = open_service(db, args)?;
    let spool = default_spool(&st.location);
    let config = Config {
        scan_workers: args.scan_workers,
        spool,
        ..Config::default()
    };
    let trust = st.trust.clone();
    st.rt.block_on(async move {
        let service: Arc<Service> = Service::start(config, pipeline, trust).await?;
        skillgate_server::mcp::serve_stdio(service).await?;
        anyhow::Ok(())
    })?;
    Ok(ExitStatus::Success)
}

pub fn api_keys(db: Option<&Location>, command: &ApiKeysCommand) -> anyhow::Result<ExitStatus> {
    let st = store::open(db, &skillgate_pipeline::Policy::default())?;
    let keys = st.trust.store();
    match command {
        ApiKeysCommand::Create {
            role,
            name,
            expires_days,
            json,
        } => {
            let role = match role {
                ApiRoleArg::Uploader => Role::Uploader,
                ApiRoleArg::Agent => Role::Agent,
                ApiRoleArg::Reviewer => Role::Reviewer,
                ApiRoleArg::Admin => Role::Admin,
            };
            let now = now_ms();
            let expires = expires_days.map(|d| now + i64::from(d) * 24 * 60 * 60 * 1000);
            let (row, secret) = auth::new_key(name, role, now, expires);
            st.rt.block_on(keys.insert_api_key(&row))?;
            if *json {
                println!(
                    "{}",
                    serde_json::json!({"id": row.id, "name": row.name, "role": row.role,
                        "key": secret, "expires_at": row.expires_at})
                );
            } else {
                println!("id    {}", row.id);
                println!("role  {}", row.role);
                println!("name  {}", row.name);
                println!("key   {secret}");
                println!("(the key is shown once; only its SHA-256 is stored)");
            }
        }
        ApiKeysCommand::Revoke { id } => {
            if !st.rt.block_on(keys.revoke_api_key(id, now_ms()))? {
                eprintln!("{id}: no such key, or already revoked");
                return Ok(ExitStatus::Failure);
            }
            println!("revoked {id}");
        }
        ApiKeysCommand::List { json } => {
            let rows = st.rt.block_on(keys.api_keys())?;
            if *json {
                println!("{}", serde_json::to_string_pretty(&rows)?);
            } else {
                for k in rows {
                    let state = match (k.revoked_at, k.expires_at) {
                        (Some(t), _) => format!("revoked {}", when(t)),
                        (None, Some(t)) => format!("expires {}", when(t)),
                        (None, None) => "active".into(),
                    };
                    println!("{}  {:<8} {:<24} {}", k.id, k.role, k.name, state);
                }
            }
        }
    }
    Ok(ExitStatus::Success)
}
