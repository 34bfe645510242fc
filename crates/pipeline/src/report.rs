//! The per-skill report: the JSON contract other tools read. Fields listed in the README are
//! stable; new fields may be added.

pub use crate::policy::Reason;
use crate::policy::{Policy, Verdict};
use serde::{Deserialize, Serialize};
use skillgate_model::skill_md::Value;
use skillgate_model::{Bundle, Decision, Finding, GateReport, SkillDocument, Tier};
use std::collections::BTreeMap;
use std::path::Path;

/// One gate's part of the report.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct GateSummary {
    pub status: skillgate_model::GateStatus,
    pub findings: Vec<Finding>,
    pub capabilities: Vec<skillgate_model::Capability>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SkillReport {
    /// The skill folder or archive as found.
    pub path: String,
    pub name: Option<String>,
    pub hash: Option<String>,
    pub decision: Decision,
    pub tier: Option<Tier>,
    pub reasons: Vec<Reason>,
    pub gates: BTreeMap<String, GateSummary>,
    pub findings: Vec<Finding>,
    pub error: Option<String>,
    pub policy: String,
    /// Number of files in the bundle.
    pub files: usize,
    /// The frontmatter's `version` (or `metadata.version`), if any.
    #[serde(default)]
    pub version: Option<String>,
    /// The frontmatter's `allowed-tools` as written (list items one per line).
    #[serde(default)]
    pub allowed_tools: Option<String>,
    /// Served from the store: an identical earlier scan (same content, engine and policy).
    #[serde(default)]
    pub cached: bool,
    /// Other skills it loads, invokes, requires or installs, by name: its tier is capped by
    /// theirs (see `Trust::tier_answer`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub links: Vec<skillgate_model::composition::Link>,
    /// Links past the per-skill bound (`composition::MAX_LINKS`): counted, not recorded.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub links_left_out: usize,
    /// Skills this bundle carries, each judged as a subject of its own.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub nested: Vec<SkillReport>,
    /// Carried skills past the per-bundle bound (`bundle::MAX_NESTED`): counted, not judged.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub nested_left_out: usize,
    /// For a carried skill: whether its carrier installs or loads it, and so takes its verdict
    /// when worse.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub composed: bool,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

impl SkillReport {
    pub fn new(
        bundle: &Bundle,
        doc: &SkillDocument,
        reports: Vec<GateReport>,
        verdict: Verdict,
        policy: &Policy,
    ) -> Self {
        let gates = reports
            .iter()
            .map(|r| {
                (
                    r.gate.to_string(),
                    GateSummary {
                        status: r.status,
                        findings: r.findings.clone(),
                        capabilities: r.capabilities.clone(),
                        note: r.note.clone(),
                    },
                )
            })
            .collect();
        let composition = skillgate_model::composition::links(doc);
        Self {
            path: bundle.source.display().to_string(),
            name: doc.name().map(str::to_string),
            hash: Some(bundle.hash.to_string()),
            decision: verdict.decision,
            tier: verdict.tier,
            reasons: verdict.reasons,
            gates,
            findings: reports.into_iter().flat_map(|r| r.findings).collect(),
            error: None,
            policy: policy.hash().to_string(),
            files: bundle.files.len(),
            version: declared_version(doc),
            allowed_tools: doc.field("allowed-tools").map(|f| f.value.text()),
            cached: false,
            links: composition.links,
            links_left_out: composition.left_out,
            nested: Vec::new(),
            nested_left_out: 0,
            composed: false,
        }
    }

    /// A bundle that could not be loaded is rejected: nothing unread is admitted.
    pub fn unreadable(path: &Path, error: &str, policy: &Policy) -> Self {
        Self {
            path: path.display().to_string(),
            name: None,
            hash: None,
            decision: Decision::Reject,
            tier: None,
            reasons: vec![Reason {
                gate: None,
                code: None,
                reason: format!("bundle could not be loaded: {error}"),
            }],
            gates: BTreeMap::new(),
            findings: Vec::new(),
            error: Some(error.to_string()),
            policy: policy.hash().to_string(),
            files: 0,
            version: None,
            allowed_tools: None,
            cached: false,
            links: Vec::new(),
            links_left_out: 0,
            nested: Vec::new(),
            nested_left_out: 0,
            composed: false,
        }
    }
}

fn declared_version(doc: &SkillDocument) -> Option<String> {
    if let Some(v) = doc.str_field("version") {
        return Some(v.to_string());
    }
    match doc.field("metadata").map(|f| &f.value) {
        Some(Value::StringMap(kv)) => kv
            .iter()
            .find(|(k, _)| k == "version")
            .map(|(_, v)| v.clone()),
        _ => None,
    }
}
