//! skillgate's trust store: every scan, verdict and tier change, kept in SQL.
//!
//! The store is deliberately dumb: it persists rows and answers queries, and the lifecycle rules
//! (what an anomaly does to a tier, what a promotion needs) live in `skillgate-pipeline`. Enums
//! travel as their stable string forms (`"T2"`, `"high"`, `"reject"`) so that the schema reads on
//! its own and other tools can query it.
//!
//! - SQLite by default through sqlx, in WAL mode with a generous busy timeout, so several
//!   processes can scan into one file at once; or PostgreSQL (`postgres://…`), which many
//!   workers on many machines share. One set of queries runs on both through sqlx's `Any`
//!   driver; each backend has its own migrations (same tables, same append-only triggers),
//!   embedded and run on open.
//! - Corpus audits ([`audit`](crate::Store::submit_audit)) queue one job per content hash and
//!   lease them to workers; a verdict and the end of its job commit together.
//! - Each skill's scan is written in its own `BEGIN IMMEDIATE` transaction ([`Store::begin`]): a
//!   crash mid-corpus loses nothing already committed.
//! - History is append-only. Nothing in this crate updates or deletes a history, event, review,
//!   key or signature row, and triggers in the schema refuse it from anywhere else.

mod audit;
mod rows;
mod service;
#[doc(hidden)]
pub mod testing;

pub use audit::{
    AuditEntry, AuditJobRow, AuditProgress, AuditRow, AuditSkillRow, LeaseTerms, Submitted,
};
pub use rows::{
    EventRow, FindingRow, GateRow, HistoryRow, KeyRow, ReviewRow, ScanRow, SignatureRow, SkillRow,
    StoreCounts, VerdictRow,
};
pub use service::{ApiKeyRow, JobRow, JobState};

use sqlx::any::AnyPoolOptions;
use sqlx::{Any, AnyConnection, AnyPool, Executor, Row, Transaction};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

/// Why the store could not do what was asked.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    #[error("opening the store at {location}: {source}")]
    Open {
        location: String,
        #[source]
        source: sqlx::Error,
    },
    #[error("migrating the store: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("store query failed: {0}")]
    Query(#[from] sqlx::Error),
    #[error("creating the store's folder {path}: {source}")]
    Folder {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// How long a writer waits for another process's transaction before giving up. Generous: a
/// corpus scan in another process commits one skill at a time, so waits are short but frequent.
const BUSY_TIMEOUT: Duration = Duration::from_secs(60);

/// Where the store lives when neither `--db` nor `SKILLGATE_DB` says: the XDG data directory.
pub fn default_path() -> PathBuf {
    let base = std::env::var_os("XDG_DATA_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share")))
        .unwrap_or_else(|| PathBuf::from("."));
    base.join("skillgate").join("skillgate.db")
}

/// Which SQL engine a store runs on. Both hold the same schema (each in its own dialect,
/// `migrations/sqlite` and `migrations/postgres`) and answer the same queries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// A local file: the zero-set-up default for one machine.
    Sqlite,
    /// A shared server: many workers on many machines.
    Postgres,
}

/// Where a store is: a SQLite file path, or a `postgres://` / `postgresql://` URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    Sqlite(PathBuf),
    Postgres(String),
}

impl FromStr for Location {
    type Err = std::convert::Infallible;

    fn from_str(s: &str) -> std::result::Result<Self, Self::Err> {
        Ok(
            if s.starts_with("postgres://") || s.starts_with("postgresql://") {
                Self::Postgres(s.to_string())
            } else {
                Self::Sqlite(PathBuf::from(s.strip_prefix("sqlite://").unwrap_or(s)))
            },
        )
    }
}

impl Location {
    /// The text `--db` takes for this location, password included: for handing to a child
    /// process, never for printing (`Display` masks the password).
    pub fn to_arg(&self) -> String {
        match self {
            Self::Sqlite(path) => path.display().to_string(),
            Self::Postgres(url) => url.clone(),
        }
    }
}

impl Default for Location {
    fn default() -> Self {
        Self::Sqlite(default_path())
    }
}

impl std::fmt::Display for Location {
    /// The path, or the URL without its password: this text goes into logs and errors.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Sqlite(path) => write!(f, "{}", path.display()),
            Self::Postgres(url) => match url::Url::parse(url) {
                Ok(mut parsed) if parsed.password().is_some() => {
                    let _ = parsed.set_password(Some("***"));
                    f.write_str(parsed.as_str())
                }
                Ok(_) => f.write_str(url),
                Err(_) => f.write_str("postgres://(unparsable URL)"),
            },
        }
    }
}

/// A handle on the store; cheap to clone.
#[derive(Debug, Clone)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
}

/// A write transaction. On SQLite it is begun `IMMEDIATE`, so that it holds the write lock
/// from its first statement: a deferred transaction that reads and then writes can fail with
/// "database is locked" without waiting, which is exactly what concurrent scanners must never
/// see. On PostgreSQL, rows are locked where a transaction reads what it will change
/// ([`StoreTx::lock_skill`], the job lease's `FOR UPDATE SKIP LOCKED`).
pub struct StoreTx {
    tx: Transaction<'static, Any>,
    backend: Backend,
}

/// Characters a SQLite path keeps as they are inside a `sqlite://` URL; the rest are
/// percent-encoded (sqlx decodes them), so that `?` or `#` in a folder name stays in the path.
const PATH_IN_URL: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'/')
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

impl Store {
    /// Opens (creating if needed) the store at `location` and brings its schema up to date.
    pub async fn connect(location: &Location) -> Result<Self> {
        match location {
            Location::Sqlite(path) => Self::open(path).await,
            Location::Postgres(url) => Self::open_postgres(url).await,
        }
    }

    /// Opens (creating if needed) the SQLite store at `path` and brings its schema up to date.
    pub async fn open(path: &Path) -> Result<Self> {
        sqlx::any::install_default_drivers();
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|source| StoreError::Folder {
                path: parent.to_path_buf(),
                source,
            })?;
        }
        let open_error = |source| StoreError::Open {
            location: path.display().to_string(),
            source,
        };
        // Opening is serialised across processes by an OS file lock beside the database. The
        // first connection switches a fresh file to WAL, which needs the database to itself and
        // answers "database is locked" at once, busy timeout or not, when another process is
        // doing the same; and sqlx's migration lock is a no-op on SQLite, so two processes
        // would both try to create the schema. Behind the lock, the second process finds WAL
        // set and the migrations applied.
        let lock_path = path.with_extension("migrate.lock");
        let lock = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|source| StoreError::Folder {
                path: lock_path.clone(),
                source,
            })?;
        lock.lock().map_err(|source| StoreError::Folder {
            path: lock_path,
            source,
        })?;
        let absolute = std::path::absolute(path).map_err(|source| StoreError::Folder {
            path: path.to_path_buf(),
            source,
        })?;
        // Bytes, not a lossy string: a path that is not UTF-8 is refused by sqlx, never
        // silently replaced by a different file.
        let encoded = percent_encoding::percent_encode(
            std::os::unix::ffi::OsStrExt::as_bytes(absolute.as_os_str()),
            PATH_IN_URL,
        )
        .to_string();
        let url = format!("sqlite://{encoded}?mode=rwc");
        let pool = AnyPoolOptions::new()
            .max_connections(4)
            .acquire_timeout(BUSY_TIMEOUT)
            .after_connect(|conn, _| Box::pin(async move { sqlite_session(conn).await }))
            .connect(&url)
            .await
            .map_err(open_error)?;
        // WAL persists in the file: set once here, behind the lock, not per connection.
        pool.execute("PRAGMA journal_mode = WAL")
            .await
            .map_err(open_error)?;
        let store = Self::migrated(pool, Backend::Sqlite).await;
        drop(lock);
        store
    }

    /// Connects to a PostgreSQL store and brings its schema up to date (sqlx's migrator holds
    /// an advisory lock, so workers starting together migrate once).
    pub async fn open_postgres(url: &str) -> Result<Self> {
        sqlx::any::install_default_drivers();
        let pool = AnyPoolOptions::new()
            .max_connections(8)
            .acquire_timeout(BUSY_TIMEOUT)
            .connect(url)
            .await
            .map_err(|source| StoreError::Open {
                location: Location::Postgres(url.to_string()).to_string(),
                source,
            })?;
        Self::migrated(pool, Backend::Postgres).await
    }

    /// A private in-memory store, for tests and one-off runs.
    pub async fn open_in_memory() -> Result<Self> {
        sqlx::any::install_default_drivers();
        // One connection, never recycled: every connection to `:memory:` is a database of its
        // own, so a replaced connection would be an empty store.
        let pool = AnyPoolOptions::new()
            .max_connections(1)
            .idle_timeout(None)
            .max_lifetime(None)
            .after_connect(|conn, _| Box::pin(async move { sqlite_session(conn).await }))
            .connect("sqlite::memory:")
            .await
            .map_err(|source| StoreError::Open {
                location: ":memory:".into(),
                source,
            })?;
        Self::migrated(pool, Backend::Sqlite).await
    }

    async fn migrated(pool: AnyPool, backend: Backend) -> Result<Self> {
        match backend {
            Backend::Sqlite => sqlx::migrate!("./migrations/sqlite").run(&pool).await?,
            Backend::Postgres => sqlx::migrate!("./migrations/postgres").run(&pool).await?,
        }
        Ok(Self { pool, backend })
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Creates the empty database `name` on the PostgreSQL server `admin_url` points at (its
    /// role needs `CREATEDB`) and returns its location: fresh stores for tests and benchmarks.
    pub async fn create_postgres_database(admin_url: &str, name: &str) -> Result<Location> {
        use sqlx::Connection;
        let safe = !name.is_empty()
            && name.len() <= 63
            && name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        let open_error = |source| StoreError::Open {
            location: Location::Postgres(admin_url.to_string()).to_string(),
            source,
        };
        if !safe {
            return Err(open_error(sqlx::Error::Configuration(
                format!("{name:?} is not a plain database name (a-z, 0-9, _)").into(),
            )));
        }
        let mut url = url::Url::parse(admin_url)
            .map_err(|e| open_error(sqlx::Error::Configuration(e.into())))?;
        let mut conn = sqlx::postgres::PgConnection::connect(admin_url)
            .await
            .map_err(open_error)?;
        conn.execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .await?;
        let _ = conn.close().await;
        url.set_path(&format!("/{name}"));
        Ok(Location::Postgres(url.to_string()))
    }

    /// How long each stored scan took, in milliseconds (benchmarks).
    pub async fn scan_durations(&self) -> Result<Vec<i64>> {
        let rows = sqlx::query("SELECT finished_at - started_at FROM scans ORDER BY id")
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.into_iter().map(|r| r.get(0)).collect())
    }

    /// Begins a write transaction holding the write lock.
    pub async fn begin(&self) -> Result<StoreTx> {
        Ok(StoreTx {
            tx: match self.backend {
                Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await?,
                Backend::Postgres => self.pool.begin().await?,
            },
            backend: self.backend,
        })
    }

    /// Begins a read transaction: a consistent view for several reads, taking no write lock.
    pub async fn begin_read(&self) -> Result<StoreTx> {
        Ok(StoreTx {
            tx: self.pool.begin().await?,
            backend: self.backend,
        })
    }

    /// The stored report of an identical earlier scan: same content, engine and policy.
    pub async fn cached_report(
        &self,
        skill_hash: &str,
        engine: &str,
        policy_hash: &str,
    ) -> Result<Option<String>> {
        let row = sqlx::query(
            "SELECT report FROM scans WHERE skill_hash = $1 AND engine = $2 AND policy_hash = $3 \
             ORDER BY id DESC LIMIT 1",
        )
        .bind(skill_hash)
        .bind(engine)
        .bind(policy_hash)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|r| r.get(0)))
    }

    pub async fn skill(&self, hash: &str) -> Result<Option<SkillRow>> {
        Ok(
            sqlx::query_as::<_, SkillRow>("SELECT * FROM skills WHERE hash = $1")
                .bind(hash)
                .fetch_optional(&self.pool)
                .await?,
        )
    }

    /// Skills whose hash starts with `prefix` (at most `limit`).
    pub async fn skills_by_hash_prefix(&self, prefix: &str, limit: i64) -> Result<Vec<SkillRow>> {
        // A range on the primary key rather than LIKE: it uses the index, and a hostile prefix
        // carries no wildcards. Every character after the prefix sorts below U+10FFFF.
        let upper = format!("{prefix}\u{10FFFF}");
        Ok(sqlx::query_as::<_, SkillRow>(
            "SELECT * FROM skills WHERE hash >= $1 AND hash < $2 ORDER BY hash LIMIT $3",
        )
        .bind(prefix)
        .bind(upper)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?)
    }

    /// Every version of a named skill, newest first.
    pub async fn skills_by_name(&self, name: &str) -> Result<Vec<SkillRow>> {
        Ok(sqlx::query_as::<_, SkillRow>(
            "SELECT * FROM skills WHERE name = $1 ORDER BY first_seen DESC, hash",
        )
        .bind(name)
        .fetch_all(&self.pool)
        .await?)
    }

    /// The skills `hash` links to, by name, with how (`requires`, `invokes`, `installs`).
    pub async fn links_of(&self, hash: &str) -> Result<Vec<(String, String)>> {
        let rows = sqlx::query(
            "SELECT to_name, kind FROM skill_links WHERE from_hash = $1 ORDER BY to_name, kind",
        )
        .bind(hash)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| Ok((r.try_get("to_name")?, r.try_get("kind")?)))
            .collect()
    }

    /// Every stored skill, oldest first.
    pub async fn all_skills(&self) -> Result<Vec<SkillRow>> {
        Ok(
            sqlx::query_as::<_, SkillRow>("SELECT * FROM skills ORDER BY first_seen, hash")
                .fetch_all(&self.pool)
                .await?,
        )
    }

    pub async fn history(&self, hash: &str) -> Result<Vec<HistoryRow>> {
        let mut conn = self.pool.acquire().await?;
        history(&mut conn, hash).await
    }

    pub async fn events(&self, hash: &str) -> Result<Vec<EventRow>> {
        let mut conn = self.pool.acquire().await?;
        events(&mut conn, hash).await
    }

    pub async fn reviews(&self, hash: &str) -> Result<Vec<ReviewRow>> {
        let mut conn = self.pool.acquire().await?;
        reviews(&mut conn, hash).await
    }

    pub async fn signatures(&self, hash: &str) -> Result<Vec<SignatureRow>> {
        let mut conn = self.pool.acquire().await?;
        signatures(&mut conn, hash).await
    }

    /// The current row of every key (a key's newest row says whether it is trusted).
    pub async fn keys(&self) -> Result<Vec<KeyRow>> {
        let mut conn = self.pool.acquire().await?;
        keys(&mut conn).await
    }

    pub async fn latest_verdict(&self, hash: &str) -> Result<Option<VerdictRow>> {
        let mut conn = self.pool.acquire().await?;
        latest_verdict(&mut conn, hash).await
    }

    pub async fn findings(&self, scan_id: i64) -> Result<Vec<FindingRow>> {
        Ok(sqlx::query_as::<_, FindingRow>(
            "SELECT gate, code, severity, confidence, category, message, file, line, evidence \
             FROM findings WHERE scan_id = $1 ORDER BY id",
        )
        .bind(scan_id)
        .fetch_all(&self.pool)
        .await?)
    }

    pub async fn counts(&self) -> Result<StoreCounts> {
        let row = sqlx::query(
            "SELECT (SELECT COUNT(*) FROM skills), (SELECT COUNT(*) FROM scans), \
             (SELECT COUNT(*) FROM findings), (SELECT COUNT(*) FROM tier_history), \
             (SELECT COUNT(*) FROM runtime_events), (SELECT COUNT(*) FROM advisories)",
        )
        .fetch_one(&self.pool)
        .await?;
        Ok(StoreCounts {
            skills: row.get(0),
            scans: row.get(1),
            findings: row.get(2),
            history: row.get(3),
            events: row.get(4),
            advisories: row.get(5),
        })
    }

    /// SQLite's `PRAGMA integrity_check`: `ok`, or what it found wrong. PostgreSQL checks its
    /// own pages as it reads them; there, `ok` means the server answers and the schema is whole.
    pub async fn integrity_check(&self) -> Result<String> {
        match self.backend {
            Backend::Sqlite => {
                let row = sqlx::query("PRAGMA integrity_check")
                    .fetch_one(&self.pool)
                    .await?;
                Ok(row.get(0))
            }
            Backend::Postgres => {
                let row = sqlx::query(
                    "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = \
                     current_schema() AND table_name IN ('skills', 'scans', 'tier_history', \
                     'audit_jobs')",
                )
                .fetch_one(&self.pool)
                .await?;
                let tables: i64 = row.get(0);
                Ok(if tables == 4 {
                    "ok".into()
                } else {
                    format!("{tables} of 4 core tables found")
                })
            }
        }
    }

    /// Every stored OSV record, as JSON text.
    pub async fn advisories(&self) -> Result<Vec<String>> {
        let rows = sqlx::query("SELECT record FROM advisories ORDER BY id")
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.into_iter().map(|r| r.get(0)).collect())
    }

    pub async fn judge_answer(
        &self,
        skill_hash: &str,
        model: &str,
        prompt_version: &str,
    ) -> Result<Option<String>> {
        let row = sqlx::query(
            "SELECT answer FROM judge_cache WHERE skill_hash = $1 AND model = $2 AND prompt_version = $3",
        )
        .bind(skill_hash)
        .bind(model)
        .bind(prompt_version)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|r| r.get(0)))
    }

    pub async fn put_judge_answer(
        &self,
        skill_hash: &str,
        model: &str,
        prompt_version: &str,
        answer: &str,
        now: i64,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO judge_cache (skill_hash, model, prompt_version, answer, created_at) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (skill_hash, model, prompt_version) DO NOTHING",
        )
        .bind(skill_hash)
        .bind(model)
        .bind(prompt_version)
        .bind(answer)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Closes the pool, checkpointing the WAL.
    pub async fn close(self) {
        self.pool.close().await;
    }
}

/// Per-connection SQLite settings (they do not persist in the file).
async fn sqlite_session(conn: &mut AnyConnection) -> std::result::Result<(), sqlx::Error> {
    // The busy timeout is BUSY_TIMEOUT, in milliseconds.
    conn.execute(
        "PRAGMA busy_timeout = 60000; PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL;",
    )
    .await
    .map(|_| ())
}

impl StoreTx {
    pub async fn commit(self) -> Result<()> {
        Ok(self.tx.commit().await?)
    }

    /// Serialises writers of one skill's history. SQLite's `BEGIN IMMEDIATE` already holds the
    /// database's write lock; on PostgreSQL two transactions could otherwise read the same
    /// current tier and both append a change from it.
    pub async fn lock_skill(&mut self, hash: &str) -> Result<()> {
        if self.backend == Backend::Postgres {
            sqlx::query("SELECT hash FROM skills WHERE hash = $1 FOR UPDATE")
                .bind(hash)
                .fetch_optional(self.conn())
                .await?;
        }
        Ok(())
    }

    fn conn(&mut self) -> &mut AnyConnection {
        &mut self.tx
    }

    /// Inserts the skill unless its hash is already known (content is identity; the first
    /// sighting's name and source stand).
    pub async fn ensure_skill(&mut self, skill: &SkillRow) -> Result<()> {
        sqlx::query(
            "INSERT INTO skills (hash, name, version, publisher, source, allowed_tools, first_seen) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (hash) DO NOTHING",
        )
        .bind(&skill.hash)
        .bind(&skill.name)
        .bind(&skill.version)
        .bind(&skill.publisher)
        .bind(&skill.source)
        .bind(&skill.allowed_tools)
        .bind(skill.first_seen)
        .execute(self.conn())
        .await?;
        Ok(())
    }

    /// Records the skills `hash` links to (`(name, kind)`); a link already known is kept as is.
    pub async fn record_links(&mut self, hash: &str, links: &[(&str, &str)]) -> Result<()> {
        for (name, kind) in links {
            sqlx::query(
                "INSERT INTO skill_links (from_hash, to_name, kind) VALUES ($1, $2, $3) \
                 ON CONFLICT (from_hash, to_name, kind) DO NOTHING",
            )
            .bind(hash)
            .bind(*name)
            .bind(*kind)
            .execute(self.conn())
            .await?;
        }
        Ok(())
    }

    /// Stores one scan with its gate reports, findings and verdict; returns the scan id.
    pub async fn insert_scan(
        &mut self,
        scan: &ScanRow,
        gates: &[GateRow],
        findings: &[FindingRow],
        verdict: &VerdictRow,
    ) -> Result<i64> {
        let id: i64 = sqlx::query(
            "INSERT INTO scans (skill_hash, tool_version, engine, policy_hash, started_at, \
             finished_at, report) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
        )
        .bind(&scan.skill_hash)
        .bind(&scan.tool_version)
        .bind(&scan.engine)
        .bind(&scan.policy_hash)
        .bind(scan.started_at)
        .bind(scan.finished_at)
        .bind(&scan.report)
        .fetch_one(self.conn())
        .await?
        .get(0);
        for g in gates {
            sqlx::query(
                "INSERT INTO gate_reports (scan_id, gate, status, note, capabilities) \
                 VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(id)
            .bind(&g.gate)
            .bind(&g.status)
            .bind(&g.note)
            .bind(&g.capabilities)
            .execute(self.conn())
            .await?;
        }
        for f in findings {
            sqlx::query(
                "INSERT INTO findings (scan_id, gate, code, severity, confidence, category, \
                 message, file, line, evidence) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
            )
            .bind(id)
            .bind(&f.gate)
            .bind(&f.code)
            .bind(&f.severity)
            .bind(&f.confidence)
            .bind(&f.category)
            .bind(&f.message)
            .bind(&f.file)
            .bind(f.line)
            .bind(&f.evidence)
            .execute(self.conn())
            .await?;
        }
        sqlx::query(
            "INSERT INTO verdicts (scan_id, skill_hash, decision, tier, worst, reasons, \
             policy_hash, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(id)
        .bind(&verdict.skill_hash)
        .bind(&verdict.decision)
        .bind(&verdict.tier)
        .bind(&verdict.worst)
        .bind(&verdict.reasons)
        .bind(&verdict.policy_hash)
        .bind(verdict.created_at)
        .execute(self.conn())
        .await?;
        Ok(id)
    }

    /// The newest history row of a skill, if any.
    pub async fn current_state(&mut self, hash: &str) -> Result<Option<HistoryRow>> {
        Ok(sqlx::query_as::<_, HistoryRow>(
            "SELECT * FROM tier_history WHERE skill_hash = $1 ORDER BY id DESC LIMIT 1",
        )
        .bind(hash)
        .fetch_optional(self.conn())
        .await?)
    }

    /// Appends a tier change. There is no way to change or remove one.
    pub async fn append_history(&mut self, row: &HistoryRow) -> Result<i64> {
        Ok(sqlx::query(
            "INSERT INTO tier_history (skill_hash, from_state, to_state, reason, actor, evidence, \
             created_at) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
        )
        .bind(&row.skill_hash)
        .bind(&row.from_state)
        .bind(&row.to_state)
        .bind(&row.reason)
        .bind(&row.actor)
        .bind(&row.evidence)
        .bind(row.created_at)
        .fetch_one(self.conn())
        .await?
        .get(0))
    }

    pub async fn append_event(&mut self, row: &EventRow) -> Result<i64> {
        Ok(sqlx::query(
            "INSERT INTO runtime_events (skill_hash, kind, severity, capability, detail, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        )
        .bind(&row.skill_hash)
        .bind(&row.kind)
        .bind(&row.severity)
        .bind(&row.capability)
        .bind(&row.detail)
        .bind(row.created_at)
        .fetch_one(self.conn())
        .await?
        .get(0))
    }

    pub async fn append_review(&mut self, row: &ReviewRow) -> Result<i64> {
        Ok(sqlx::query(
            "INSERT INTO reviews (skill_hash, approved, reviewer, kind, note, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        )
        .bind(&row.skill_hash)
        .bind(i64::from(row.approved))
        .bind(&row.reviewer)
        .bind(&row.kind)
        .bind(&row.note)
        .bind(row.created_at)
        .fetch_one(self.conn())
        .await?
        .get(0))
    }

    pub async fn append_key(&mut self, row: &KeyRow) -> Result<()> {
        sqlx::query(
            "INSERT INTO keys (key_id, public_key, role, label, trusted, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&row.key_id)
        .bind(&row.public_key)
        .bind(&row.role)
        .bind(&row.label)
        .bind(i64::from(row.trusted))
        .bind(row.created_at)
        .execute(self.conn())
        .await?;
        Ok(())
    }

    pub async fn append_signature(&mut self, row: &SignatureRow) -> Result<i64> {
        Ok(sqlx::query(
            "INSERT INTO signatures (skill_hash, key_id, signature, created_at) \
             VALUES ($1, $2, $3, $4) RETURNING id",
        )
        .bind(&row.skill_hash)
        .bind(&row.key_id)
        .bind(&row.signature)
        .bind(row.created_at)
        .fetch_one(self.conn())
        .await?
        .get(0))
    }

    /// Stores (or replaces) an OSV record. Advisories are reference data, not history.
    pub async fn put_advisory(
        &mut self,
        id: &str,
        ecosystem: &str,
        packages: &str,
        record: &str,
        now: i64,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO advisories (id, ecosystem, packages, record, imported_at) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (id) DO UPDATE SET ecosystem = excluded.ecosystem, \
             packages = excluded.packages, record = excluded.record, imported_at = excluded.imported_at",
        )
        .bind(id)
        .bind(ecosystem)
        .bind(packages)
        .bind(record)
        .bind(now)
        .execute(self.conn())
        .await?;
        Ok(())
    }

    pub async fn history(&mut self, hash: &str) -> Result<Vec<HistoryRow>> {
        history(self.conn(), hash).await
    }

    pub async fn events(&mut self, hash: &str) -> Result<Vec<EventRow>> {
        events(self.conn(), hash).await
    }

    pub async fn reviews(&mut self, hash: &str) -> Result<Vec<ReviewRow>> {
        reviews(self.conn(), hash).await
    }

    pub async fn signatures(&mut self, hash: &str) -> Result<Vec<SignatureRow>> {
        signatures(self.conn(), hash).await
    }

    pub async fn keys(&mut self) -> Result<Vec<KeyRow>> {
        keys(self.conn()).await
    }

    pub async fn latest_verdict(&mut self, hash: &str) -> Result<Option<VerdictRow>> {
        latest_verdict(self.conn(), hash).await
    }

    pub async fn skill(&mut self, hash: &str) -> Result<Option<SkillRow>> {
        Ok(
            sqlx::query_as::<_, SkillRow>("SELECT * FROM skills WHERE hash = $1")
                .bind(hash)
                .fetch_optional(self.conn())
                .await?,
        )
    }
}

async fn history(conn: &mut AnyConnection, hash: &str) -> Result<Vec<HistoryRow>> {
    Ok(sqlx::query_as::<_, HistoryRow>(
        "SELECT * FROM tier_history WHERE skill_hash = $1 ORDER BY id",
    )
    .bind(hash)
    .fetch_all(conn)
    .await?)
}

async fn events(conn: &mut AnyConnection, hash: &str) -> Result<Vec<EventRow>> {
    Ok(sqlx::query_as::<_, EventRow>(
        "SELECT * FROM runtime_events WHERE skill_hash = $1 ORDER BY id",
    )
    .bind(hash)
    .fetch_all(conn)
    .await?)
}

async fn reviews(conn: &mut AnyConnection, hash: &str) -> Result<Vec<ReviewRow>> {
    Ok(
        sqlx::query_as::<_, ReviewRow>("SELECT * FROM reviews WHERE skill_hash = $1 ORDER BY id")
            .bind(hash)
            .fetch_all(conn)
            .await?,
    )
}

async fn signatures(conn: &mut AnyConnection, hash: &str) -> Result<Vec<SignatureRow>> {
    Ok(sqlx::query_as::<_, SignatureRow>(
        "SELECT * FROM signatures WHERE skill_hash = $1 ORDER BY id",
    )
    .bind(hash)
    .fetch_all(conn)
    .await?)
}

async fn keys(conn: &mut AnyConnection) -> Result<Vec<KeyRow>> {
    Ok(sqlx::query_as::<_, KeyRow>(
        "SELECT key_id, public_key, role, label, trusted, created_at FROM keys k \
         WHERE id = (SELECT MAX(id) FROM keys WHERE key_id = k.key_id) ORDER BY key_id",
    )
    .fetch_all(conn)
    .await?)
}

async fn latest_verdict(conn: &mut AnyConnection, hash: &str) -> Result<Option<VerdictRow>> {
    Ok(sqlx::query_as::<_, VerdictRow>(
        "SELECT * FROM verdicts WHERE skill_hash = $1 ORDER BY scan_id DESC LIMIT 1",
    )
    .bind(hash)
    .fetch_optional(conn)
    .await?)
}

#[doc(hidden)]
impl StoreTx {
    /// Runs a literal statement. Only the store's tests use it, to prove the schema refuses
    /// changes to history that this crate's API never offers.
    pub async fn raw_execute_for_tests(&mut self, sql: &'static str) -> Result<u64> {
        Ok(sqlx::query(sql).execute(self.conn()).await?.rows_affected())
    }
}
