//! Rows of the trust service: scan jobs (uploads waiting for a verdict) and API keys.

use crate::{Result, Store};
use serde::Serialize;
use sqlx::Row;

/// Where a scan job is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum JobState {
    Queued,
    Running,
    Done,
    Failed,
}

impl JobState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Running => "running",
            Self::Done => "done",
            Self::Failed => "failed",
        }
    }

    fn parse(s: &str) -> Self {
        match s {
            "running" => Self::Running,
            "done" => Self::Done,
            "failed" => Self::Failed,
            _ => Self::Queued,
        }
    }
}

/// One upload to scan.
#[derive(Debug, Clone, Serialize)]
pub struct JobRow {
    pub id: String,
    /// SHA-256 of the uploaded bytes.
    pub upload_hash: String,
    /// Where the upload is kept until it is scanned.
    pub archive_path: String,
    pub state: JobState,
    pub skill_hash: Option<String>,
    /// The verdict: the report `scan --format json` gives for the skill.
    pub report: Option<String>,
    pub error: Option<String>,
    /// The name of the key that uploaded it.
    pub actor: String,
    pub created_at: i64,
    pub updated_at: i64,
}

fn job_from(row: &sqlx::any::AnyRow) -> JobRow {
    JobRow {
        id: row.get("id"),
        upload_hash: row.get("upload_hash"),
        archive_path: row.get("archive_path"),
        state: JobState::parse(&row.get::<String, _>("state")),
        skill_hash: row.get("skill_hash"),
        report: row.get("report"),
        error: row.get("error"),
        actor: row.get("actor"),
        created_at: row.get("created_at"),
        updated_at: row.get("updated_at"),
    }
}

/// A bearer API key, without its secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ApiKeyRow {
    pub id: String,
    pub name: String,
    pub role: String,
    /// SHA-256 of the secret, hex.
    #[serde(skip)]
    pub key_hash: String,
    pub created_at: i64,
    pub expires_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

fn key_from(row: &sqlx::any::AnyRow) -> ApiKeyRow {
    ApiKeyRow {
        id: row.get("id"),
        name: row.get("name"),
        role: row.get("role"),
        key_hash: row.get("key_hash"),
        created_at: row.get("created_at"),
        expires_at: row.get("expires_at"),
        revoked_at: row.get("revoked_at"),
    }
}

impl Store {
    pub async fn insert_job(&self, job: &JobRow) -> Result<()> {
        let mut tx = self.begin().await?;
        sqlx::query(
            "INSERT INTO scan_jobs (id, upload_hash, archive_path, state, skill_hash, report, \
             error, actor, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(&job.id)
        .bind(&job.upload_hash)
        .bind(&job.archive_path)
        .bind(job.state.as_str())
        .bind(&job.skill_hash)
        .bind(&job.report)
        .bind(&job.error)
        .bind(&job.actor)
        .bind(job.created_at)
        .bind(job.updated_at)
        .execute(&mut *tx.tx)
        .await?;
        tx.commit().await
    }

    pub async fn job(&self, id: &str) -> Result<Option<JobRow>> {
        let row = sqlx::query("SELECT * FROM scan_jobs WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.as_ref().map(job_from))
    }

    /// The newest finished job for the same uploaded bytes.
    pub async fn finished_job_for_upload(&self, upload_hash: &str) -> Result<Option<JobRow>> {
        let row = sqlx::query(
            "SELECT * FROM scan_jobs WHERE upload_hash = $1 AND state IN ('done', 'failed') \
             ORDER BY updated_at DESC LIMIT 1",
        )
        .bind(upload_hash)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.as_ref().map(job_from))
    }

    /// A job for the same uploaded bytes that is still waiting or running.
    pub async fn pending_job_for_upload(&self, upload_hash: &str) -> Result<Option<JobRow>> {
        let row = sqlx::query(
            "SELECT * FROM scan_jobs WHERE upload_hash = $1 AND state IN ('queued', 'running') \
             ORDER BY created_at LIMIT 1",
        )
        .bind(upload_hash)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.as_ref().map(job_from))
    }

    /// Jobs a restart must run again: queued, or running when the server stopped.
    pub async fn unfinished_jobs(&self) -> Result<Vec<JobRow>> {
        let rows = sqlx::query(
            "SELECT * FROM scan_jobs WHERE state IN ('queued', 'running') ORDER BY created_at",
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(job_from).collect())
    }

    pub async fn count_jobs(&self, state: JobState) -> Result<i64> {
        Ok(
            sqlx::query("SELECT COUNT(*) FROM scan_jobs WHERE state = $1")
                .bind(state.as_str())
                .fetch_one(&self.pool)
                .await?
                .get(0),
        )
    }

    /// Moves a job on; `report`, `skill_hash` and `error` are set when given.
    pub async fn update_job(
        &self,
        id: &str,
        state: JobState,
        skill_hash: Option<&str>,
        report: Option<&str>,
        error: Option<&str>,
        now: i64,
    ) -> Result<()> {
        let mut tx = self.begin().await?;
        sqlx::query(
            "UPDATE scan_jobs SET state = $1, skill_hash = COALESCE($2, skill_hash), \
             report = COALESCE($3, report), error = COALESCE($4, error), updated_at = $5 WHERE id = $6",
        )
        .bind(state.as_str())
        .bind(skill_hash)
        .bind(report)
        .bind(error)
        .bind(now)
        .bind(id)
        .execute(&mut *tx.tx)
        .await?;
        tx.commit().await
    }

    pub async fn insert_api_key(&self, key: &ApiKeyRow) -> Result<()> {
        let mut tx = self.begin().await?;
        sqlx::query(
            "INSERT INTO api_keys (id, name, role, key_hash, created_at, expires_at, revoked_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&key.id)
        .bind(&key.name)
        .bind(&key.role)
        .bind(&key.key_hash)
        .bind(key.created_at)
        .bind(key.expires_at)
        .bind(key.revoked_at)
        .execute(&mut *tx.tx)
        .await?;
        tx.commit().await
    }

    pub async fn api_key_by_hash(&self, key_hash: &str) -> Result<Option<ApiKeyRow>> {
        let row = sqlx::query("SELECT * FROM api_keys WHERE key_hash = $1")
            .bind(key_hash)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.as_ref().map(key_from))
    }

    pub async fn api_keys(&self) -> Result<Vec<ApiKeyRow>> {
        let rows = sqlx::query("SELECT * FROM api_keys ORDER BY created_at, id")
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.iter().map(key_from).collect())
    }

    /// Revokes a key; `false` when no unrevoked key has that id.
    pub async fn revoke_api_key(&self, id: &str, now: i64) -> Result<bool> {
        let mut tx = self.begin().await?;
        let done =
            sqlx::query("UPDATE api_keys SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
                .bind(now)
                .bind(id)
                .execute(&mut *tx.tx)
                .await?
                .rows_affected();
        tx.commit().await?;
        Ok(done == 1)
    }
}
