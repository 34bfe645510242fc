//! One struct per table row. Enum-valued columns hold their stable string forms; JSON-valued
//! columns (evidence, reasons, capabilities) hold JSON text.

use serde::Serialize;
use sqlx::Row;
use sqlx::any::AnyRow;

/// A skill: one content hash. The name links versions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct SkillRow {
    pub hash: String,
    pub name: Option<String>,
    pub version: Option<String>,
    pub publisher: Option<String>,
    /// Where it was first found (folder or archive path, URL).
    pub source: String,
    /// The frontmatter's `allowed-tools`, as written.
    pub allowed_tools: Option<String>,
    pub first_seen: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct ScanRow {
    pub skill_hash: String,
    pub tool_version: String,
    /// What else decides a report besides content and policy: tool version, rules, gates,
    /// judge and advisory data. Scans are served from the store only when this matches.
    pub engine: String,
    pub policy_hash: String,
    pub started_at: i64,
    pub finished_at: i64,
    /// The full JSON report.
    pub report: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct GateRow {
    pub gate: String,
    pub status: String,
    pub note: Option<String>,
    /// JSON array of capabilities.
    pub capabilities: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct FindingRow {
    pub gate: String,
    pub code: String,
    pub severity: String,
    pub confidence: String,
    pub category: String,
    pub message: String,
    pub file: Option<String>,
    pub line: Option<i64>,
    pub evidence: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct VerdictRow {
    pub scan_id: i64,
    pub skill_hash: String,
    pub decision: String,
    pub tier: Option<String>,
    /// The most severe finding's severity (`info` when none).
    pub worst: String,
    /// JSON array of reasons.
    pub reasons: String,
    pub policy_hash: String,
    pub created_at: i64,
}

/// One change of a skill's trust state. `to_state` is `T1`..`T4`, `rejected` or `revoked`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct HistoryRow {
    pub id: i64,
    pub skill_hash: String,
    pub from_state: Option<String>,
    pub to_state: String,
    pub reason: String,
    pub actor: String,
    /// JSON object: what the change rests on.
    pub evidence: String,
    pub created_at: i64,
}

/// What an agent reported after running a skill: `clean` or `anomaly`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct EventRow {
    pub id: i64,
    pub skill_hash: String,
    pub kind: String,
    pub severity: Option<String>,
    pub capability: Option<String>,
    pub detail: String,
    pub created_at: i64,
}

/// A semantic review: by a human or by the LLM judge (`kind`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReviewRow {
    pub id: i64,
    pub skill_hash: String,
    pub approved: bool,
    pub reviewer: String,
    pub kind: String,
    pub note: String,
    pub created_at: i64,
}

/// A public key's current standing. `role` is `vendor` or `publisher`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KeyRow {
    pub key_id: String,
    /// Hex of the 32-byte ed25519 public key.
    pub public_key: String,
    pub role: String,
    pub label: String,
    pub trusted: bool,
    pub created_at: i64,
}

/// An ed25519 signature over a skill's content hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct SignatureRow {
    pub id: i64,
    pub skill_hash: String,
    pub key_id: String,
    /// Hex of the 64-byte signature.
    pub signature: String,
    pub created_at: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct StoreCounts {
    pub skills: i64,
    pub scans: i64,
    pub findings: i64,
    pub history: i64,
    pub events: i64,
    pub advisories: i64,
}

// Flags are stored as BIGINT 0/1 on every backend (portable, and what SQLite has anyway); the
// `Any` driver decodes a bool only from a boolean column, so these rows convert by hand.
impl sqlx::FromRow<'_, AnyRow> for ReviewRow {
    fn from_row(row: &AnyRow) -> Result<Self, sqlx::Error> {
        Ok(Self {
            id: row.try_get("id")?,
            skill_hash: row.try_get("skill_hash")?,
            approved: row.try_get::<i64, _>("approved")? != 0,
            reviewer: row.try_get("reviewer")?,
            kind: row.try_get("kind")?,
            note: row.try_get("note")?,
            created_at: row.try_get("created_at")?,
        })
    }
}

impl sqlx::FromRow<'_, AnyRow> for KeyRow {
    fn from_row(row: &AnyRow) -> Result<Self, sqlx::Error> {
        Ok(Self {
            key_id: row.try_get("key_id")?,
            public_key: row.try_get("public_key")?,
            role: row.try_get("role")?,
            label: row.try_get("label")?,
            trusted: row.try_get::<i64, _>("trusted")? != 0,
            created_at: row.try_get("created_at")?,
        })
    }
}
