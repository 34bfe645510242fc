//! Opening the trust store for a command, and the clock every record is stamped with.

use anyhow::Context;
use skillgate_pipeline::{Policy, Trust};
use skillgate_store::Location;
use skillgate_store::Store;
use tokio::runtime::Runtime;

/// A store opened on its own small runtime, for synchronous commands.
pub struct Opened {
    pub rt: Runtime,
    pub trust: Trust,
    pub location: Location,
}

pub fn open(db: Option<&Location>, policy: &Policy) -> anyhow::Result<Opened> {
    let location = db.cloned().unwrap_or_default();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let store = rt
        .block_on(Store::connect(&location))
        .with_context(|| format!("opening the trust store {location}"))?;
    Ok(Opened {
        rt,
        trust: Trust::new(store, policy),
        location,
    })
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// Milliseconds since the epoch as RFC 3339 UTC, for people.
pub fn when(ms: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| ms.to_string())
}
