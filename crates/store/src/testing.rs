//! Stores for tests, on every backend: SQLite always, and PostgreSQL when
//! `SKILLGATE_TEST_POSTGRES` names a server (a URL whose role may `CREATE DATABASE`). Each call
//! makes a database of its own, so tests never see each other's rows.

use crate::{Location, Store};
use std::sync::atomic::{AtomicU64, Ordering};

/// The PostgreSQL server tests may create databases on.
pub const POSTGRES_ENV: &str = "SKILLGATE_TEST_POSTGRES";
/// Set (as CI does) to make a missing server a failure instead of a skip.
pub const REQUIRE_POSTGRES_ENV: &str = "SKILLGATE_TEST_REQUIRE_POSTGRES";

/// A fresh, empty PostgreSQL database, as a `--db` location; `None` (and a line on stderr
/// saying the PostgreSQL half was skipped) when no server is configured.
pub async fn fresh_postgres(label: &str) -> Option<Location> {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let Ok(admin) = std::env::var(POSTGRES_ENV) else {
        assert!(
            std::env::var_os(REQUIRE_POSTGRES_ENV).is_none(),
            "{REQUIRE_POSTGRES_ENV} is set but {POSTGRES_ENV} is not"
        );
        #[allow(clippy::print_stderr)] // the test's own output: saying what it did not run
        {
            eprintln!("{label}: skipped on PostgreSQL ({POSTGRES_ENV} is not set)");
        }
        return None;
    };
    let clean: String = label
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .take(30)
        .collect();
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let name = format!(
        "sg_{clean}_{}_{nanos}_{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    );
    let location = Store::create_postgres_database(&admin, &name)
        .await
        .unwrap_or_else(|e| panic!("creating database {name} on {POSTGRES_ENV}: {e}"));
    Some(location)
}

/// One fresh store per backend available: SQLite in memory, then PostgreSQL if configured.
pub async fn stores(label: &str) -> Vec<Store> {
    let mut stores = vec![Store::open_in_memory().await.expect("an in-memory store")];
    if let Some(location) = fresh_postgres(label).await {
        stores.push(
            Store::connect(&location)
                .await
                .expect("a fresh PostgreSQL store"),
        );
    }
    stores
}
