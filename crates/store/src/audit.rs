//! Corpus audits shared by many workers: submissions, the skills they found, and a job queue
//! leased with the `FOR UPDATE SKIP LOCKED` pattern.
//!
//! Why a lease table of our own and not a job-queue crate: a verdict and the end of its job
//! must commit in one transaction ([`StoreTx::finish_job`] beside `record_scan`), so that a
//! worker killed between the two can neither lose a verdict nor record a second one, and the
//! queue must be keyed by content hash, engine and policy so that a skill already judged is not
//! queued again. A queue crate keeps its own tables and acknowledges in its own transaction;
//! this is about a hundred lines of SQL that run the same on SQLite (where `BEGIN IMMEDIATE`
//! serialises leasing) and PostgreSQL (where `SKIP LOCKED` lets many workers lease at once).

use crate::{Backend, Result, Store, StoreTx};
use serde::Serialize;
use sqlx::Row;

/// One submission of paths to audit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct AuditRow {
    pub id: String,
    pub engine: String,
    pub policy_hash: String,
    /// JSON array of the paths given to `audit submit`.
    pub roots: String,
    pub created_at: i64,
}

/// A skill a submission found. Exactly one of `skill_hash` and `error` is set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct AuditSkillRow {
    pub audit_id: String,
    pub path: String,
    pub skill_hash: Option<String>,
    pub error: Option<String>,
}

/// A job: judge one content hash under one engine and policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct AuditJobRow {
    pub id: i64,
    pub skill_hash: String,
    pub engine: String,
    pub policy_hash: String,
    /// Where the submitter found the skill; workers read it there (a shared filesystem).
    pub path: String,
    /// `queued`, `running`, `done` or `failed`.
    pub state: String,
    pub attempts: i64,
    pub ready_at: i64,
    pub lease_owner: Option<String>,
    pub lease_until: Option<i64>,
    pub error: Option<String>,
    pub created_at: i64,
    pub finished_at: Option<i64>,
}

/// What a submission queued.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Submitted {
    /// Skills found under the paths.
    pub skills: usize,
    /// Skills that could not be read at submission (reported, never queued).
    pub unreadable: usize,
    /// New jobs (and failed ones queued again).
    pub queued: usize,
    /// Hashes already judged under this engine and policy: not queued again.
    pub already_judged: usize,
    /// Hashes already waiting or running for another submission.
    pub already_queued: usize,
}

/// Where an audit stands.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct AuditProgress {
    pub skills: i64,
    pub unreadable: i64,
    /// Distinct content hashes among the skills.
    pub hashes: i64,
    pub queued: i64,
    pub running: i64,
    pub done: i64,
    pub failed: i64,
    /// Hashes judged before this audit (no job of this engine and policy).
    pub judged_before: i64,
    /// Jobs finished in the last minute, and the first finish time of this audit's jobs: the
    /// recent rate and the overall one.
    pub finished_last_minute: i64,
    pub first_finished: Option<i64>,
    pub last_finished: Option<i64>,
}

/// One line of an audit's report: the skill, its job, and the stored report if judged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    pub path: String,
    pub skill_hash: Option<String>,
    /// Why the skill could not be read at submission.
    pub error: Option<String>,
    pub job_state: Option<String>,
    pub job_error: Option<String>,
    /// The stored scan report (JSON) for this hash, engine and policy.
    pub report: Option<String>,
}

/// How a worker leases.
#[derive(Debug, Clone)]
pub struct LeaseTerms {
    /// Who holds the lease (host, pid and a random part: unique per worker process).
    pub owner: String,
    /// How long a lease lasts unless renewed.
    pub lease_ms: i64,
    /// A job leased this many times without finishing ends failed.
    pub max_attempts: i64,
}

impl Store {
    /// Records a submission and queues one job per content hash not yet judged under its engine
    /// and policy, in one transaction. A hash whose earlier job failed is queued again.
    pub async fn submit_audit(
        &self,
        audit: &AuditRow,
        skills: &[AuditSkillRow],
    ) -> Result<Submitted> {
        let mut tx = self.begin().await?;
        sqlx::query(
            "INSERT INTO audits (id, engine, policy_hash, roots, created_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&audit.id)
        .bind(&audit.engine)
        .bind(&audit.policy_hash)
        .bind(&audit.roots)
        .bind(audit.created_at)
        .execute(tx.conn())
        .await?;
        let mut submitted = Submitted {
            skills: skills.len(),
            ..Submitted::default()
        };
        let mut seen = std::collections::HashSet::new();
        for skill in skills {
            sqlx::query(
                "INSERT INTO audit_skills (audit_id, path, skill_hash, error) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (audit_id, path) DO NOTHING",
            )
            .bind(&audit.id)
            .bind(&skill.path)
            .bind(&skill.skill_hash)
            .bind(&skill.error)
            .execute(tx.conn())
            .await?;
            let Some(hash) = &skill.skill_hash else {
                submitted.unreadable += 1;
                continue;
            };
            if !seen.insert(hash.clone()) {
                continue;
            }
            let judged = sqlx::query(
                "SELECT 1 FROM scans WHERE skill_hash = $1 AND engine = $2 AND policy_hash = $3 LIMIT 1",
            )
            .bind(hash)
            .bind(&audit.engine)
            .bind(&audit.policy_hash)
            .fetch_optional(tx.conn())
            .await?
            .is_some();
            if judged {
                submitted.already_judged += 1;
                continue;
            }
            let queued = sqlx::query(
                "INSERT INTO audit_jobs (skill_hash, engine, policy_hash, path, state, attempts, \
                 ready_at, created_at) VALUES ($1, $2, $3, $4, 'queued', 0, $5, $5) \
                 ON CONFLICT (skill_hash, engine, policy_hash) DO UPDATE SET state = 'queued', \
                 path = excluded.path, attempts = 0, ready_at = excluded.ready_at, error = NULL, \
                 lease_owner = NULL, lease_until = NULL, finished_at = NULL \
                 WHERE audit_jobs.state = 'failed'",
            )
            .bind(hash)
            .bind(&audit.engine)
            .bind(&audit.policy_hash)
            .bind(&skill.path)
            .bind(audit.created_at)
            .execute(tx.conn())
            .await?
            .rows_affected();
            if queued == 1 {
                submitted.queued += 1;
            } else {
                submitted.already_queued += 1;
            }
        }
        tx.commit().await?;
        Ok(submitted)
    }

    pub async fn audit(&self, id: &str) -> Result<Option<AuditRow>> {
        Ok(
            sqlx::query_as::<_, AuditRow>("SELECT * FROM audits WHERE id = $1")
                .bind(id)
                .fetch_optional(&self.pool)
                .await?,
        )
    }

    /// The newest submission.
    pub async fn latest_audit(&self) -> Result<Option<AuditRow>> {
        Ok(sqlx::query_as::<_, AuditRow>(
            "SELECT * FROM audits ORDER BY created_at DESC, id DESC LIMIT 1",
        )
        .fetch_optional(&self.pool)
        .await?)
    }

    pub async fn audit_progress(&self, audit: &AuditRow, now: i64) -> Result<AuditProgress> {
        let skills = sqlx::query(
            "SELECT COUNT(*), COUNT(error), COUNT(DISTINCT skill_hash) FROM audit_skills \
             WHERE audit_id = $1",
        )
        .bind(&audit.id)
        .fetch_one(&self.pool)
        .await?;
        let mut progress = AuditProgress {
            skills: skills.get(0),
            unreadable: skills.get(1),
            hashes: skills.get(2),
            ..AuditProgress::default()
        };
        let jobs = sqlx::query(
            "SELECT j.state, COUNT(*), MIN(j.finished_at), MAX(j.finished_at), \
             SUM(CASE WHEN j.finished_at >= $4 THEN 1 ELSE 0 END) \
             FROM audit_jobs j WHERE j.engine = $2 AND j.policy_hash = $3 AND j.skill_hash IN \
             (SELECT skill_hash FROM audit_skills WHERE audit_id = $1) GROUP BY j.state",
        )
        .bind(&audit.id)
        .bind(&audit.engine)
        .bind(&audit.policy_hash)
        .bind(now - 60_000)
        .fetch_all(&self.pool)
        .await?;
        let mut with_job = 0;
        for row in jobs {
            let state: String = row.get(0);
            let count: i64 = row.get(1);
            with_job += count;
            match state.as_str() {
                "queued" => progress.queued = count,
                "running" => progress.running = count,
                "done" => progress.done = count,
                _ => progress.failed += count,
            }
            if state == "done" {
                progress.first_finished = row.get(2);
                progress.last_finished = row.get(3);
                // SUM over no rows is NULL, and PostgreSQL sums integers as NUMERIC: cast.
                progress.finished_last_minute = row.try_get::<i64, _>(4).unwrap_or(0);
            }
        }
        progress.judged_before = progress.hashes - with_job;
        Ok(progress)
    }

    /// Every skill of an audit with its job and stored report, by path.
    pub async fn audit_entries(&self, audit: &AuditRow) -> Result<Vec<AuditEntry>> {
        let rows = sqlx::query(
            "SELECT s.path, s.skill_hash, s.error, j.state, j.error, \
             (SELECT c.report FROM scans c WHERE c.skill_hash = s.skill_hash AND c.engine = $2 \
              AND c.policy_hash = $3 ORDER BY c.id DESC LIMIT 1) \
             FROM audit_skills s LEFT JOIN audit_jobs j ON j.skill_hash = s.skill_hash \
             AND j.engine = $2 AND j.policy_hash = $3 WHERE s.audit_id = $1 ORDER BY s.path",
        )
        .bind(&audit.id)
        .bind(&audit.engine)
        .bind(&audit.policy_hash)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|r| AuditEntry {
                path: r.get(0),
                skill_hash: r.get(1),
                error: r.get(2),
                job_state: r.get(3),
                job_error: r.get(4),
                report: r.get(5),
            })
            .collect())
    }

    /// Leases up to `limit` jobs of this engine and policy to `terms.owner`. First, jobs whose
    /// lease ran out (their worker died) go back to the queue, or end failed after
    /// `terms.max_attempts` leases.
    pub async fn lease_jobs(
        &self,
        engine: &str,
        policy_hash: &str,
        terms: &LeaseTerms,
        limit: i64,
        now: i64,
    ) -> Result<Vec<AuditJobRow>> {
        let mut tx = self.begin().await?;
        sqlx::query(
            "UPDATE audit_jobs SET \
             state = CASE WHEN attempts >= $1 THEN 'failed' ELSE 'queued' END, \
             error = 'attempt ' || attempts || ': the lease of worker ' || lease_owner || \
             ' ran out (the worker stopped or lost the store)', \
             finished_at = CASE WHEN attempts >= $1 THEN $2 ELSE NULL END, \
             lease_owner = NULL, lease_until = NULL \
             WHERE state = 'running' AND lease_until < $2",
        )
        .bind(terms.max_attempts)
        .bind(now)
        .execute(tx.conn())
        .await?;
        let pick = match tx.backend {
            Backend::Sqlite => {
                "SELECT id FROM audit_jobs WHERE engine = $3 AND policy_hash = $4 \
                 AND state = 'queued' AND ready_at <= $5 ORDER BY id LIMIT $6"
            }
            Backend::Postgres => {
                "SELECT id FROM audit_jobs WHERE engine = $3 AND policy_hash = $4 \
                 AND state = 'queued' AND ready_at <= $5 ORDER BY id LIMIT $6 \
                 FOR UPDATE SKIP LOCKED"
            }
        };
        let sql = format!(
            "UPDATE audit_jobs SET state = 'running', lease_owner = $1, lease_until = $2, \
             attempts = attempts + 1 WHERE id IN ({pick}) RETURNING *"
        );
        let leased = sqlx::query_as::<_, AuditJobRow>(sqlx::AssertSqlSafe(sql))
            .bind(&terms.owner)
            .bind(now + terms.lease_ms)
            .bind(engine)
            .bind(policy_hash)
            .bind(now)
            .bind(limit)
            .fetch_all(tx.conn())
            .await?;
        tx.commit().await?;
        Ok(leased)
    }

    /// Extends every lease `owner` holds; returns how many it still holds.
    pub async fn renew_leases(&self, owner: &str, until: i64) -> Result<u64> {
        Ok(sqlx::query(
            "UPDATE audit_jobs SET lease_until = $1 WHERE lease_owner = $2 AND state = 'running'",
        )
        .bind(until)
        .bind(owner)
        .execute(&self.pool)
        .await?
        .rows_affected())
    }

    /// Gives a job back after a failed attempt: queued again after `retry_after_ms`, or failed
    /// for good once it has had `max_attempts` (at once when `permanent`). Nothing happens when
    /// the lease is no longer `owner`'s.
    pub async fn job_attempt_failed(
        &self,
        id: i64,
        terms: &LeaseTerms,
        error: &str,
        permanent: bool,
        retry_after_ms: i64,
        now: i64,
    ) -> Result<bool> {
        let max = if permanent { 0 } else { terms.max_attempts };
        Ok(sqlx::query(
            "UPDATE audit_jobs SET \
             state = CASE WHEN attempts >= $1 THEN 'failed' ELSE 'queued' END, \
             finished_at = CASE WHEN attempts >= $1 THEN $2 ELSE NULL END, \
             ready_at = $3, error = $4, lease_until = NULL \
             WHERE id = $5 AND lease_owner = $6 AND state = 'running'",
        )
        .bind(max)
        .bind(now)
        .bind(now + retry_after_ms)
        .bind(error)
        .bind(id)
        .bind(&terms.owner)
        .execute(&self.pool)
        .await?
        .rows_affected()
            == 1)
    }

    /// Jobs of this engine and policy not yet ended (queued or running).
    pub async fn open_jobs(&self, engine: &str, policy_hash: &str) -> Result<i64> {
        Ok(sqlx::query(
            "SELECT COUNT(*) FROM audit_jobs WHERE engine = $1 AND policy_hash = $2 \
             AND state IN ('queued', 'running')",
        )
        .bind(engine)
        .bind(policy_hash)
        .fetch_one(&self.pool)
        .await?
        .get(0))
    }

    pub async fn audit_job(&self, id: i64) -> Result<Option<AuditJobRow>> {
        Ok(
            sqlx::query_as::<_, AuditJobRow>("SELECT * FROM audit_jobs WHERE id = $1")
                .bind(id)
                .fetch_optional(&self.pool)
                .await?,
        )
    }

    /// Queues `count` synthetic jobs in batches, for the leasing benchmark.
    #[doc(hidden)]
    pub async fn queue_synthetic_jobs(
        &self,
        engine: &str,
        policy_hash: &str,
        first: usize,
        count: usize,
        now: i64,
    ) -> Result<()> {
        const BATCH: usize = 500;
        let mut next = first;
        while next < first + count {
            let end = (next + BATCH).min(first + count);
            // Numbered placeholders by hand: the `Any` driver's query builder writes `?`,
            // which PostgreSQL does not read.
            let rows: Vec<String> = (0..end - next)
                .map(|r| {
                    let p = r * 2;
                    format!("(${}, $1, $2, ${}, 'queued', 0, $3, $3)", p + 4, p + 5)
                })
                .collect();
            let sql = format!(
                "INSERT INTO audit_jobs (skill_hash, engine, policy_hash, path, state, attempts, \
                 ready_at, created_at) VALUES {}",
                rows.join(", ")
            );
            let mut query = sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(engine)
                .bind(policy_hash)
                .bind(now);
            for i in next..end {
                query = query
                    .bind(format!("sha256:{i:064x}"))
                    .bind(format!("/synthetic/{i}"));
            }
            let mut tx = self.begin().await?;
            query.execute(tx.conn()).await?;
            tx.commit().await?;
            next = end;
        }
        Ok(())
    }
}

impl StoreTx {
    /// Ends a job as done inside the transaction that records its verdict. False when the
    /// lease is no longer `owner`'s (it ran out and another worker took the job): the caller
    /// must then roll back, so that the job gets one verdict, not two.
    pub async fn finish_job(&mut self, id: i64, owner: &str, now: i64) -> Result<bool> {
        Ok(sqlx::query(
            "UPDATE audit_jobs SET state = 'done', finished_at = $1, lease_until = NULL, error = NULL \
             WHERE id = $2 AND lease_owner = $3 AND state = 'running'",
        )
        .bind(now)
        .bind(id)
        .bind(owner)
        .execute(self.conn())
        .await?
        .rows_affected()
            == 1)
    }
}
