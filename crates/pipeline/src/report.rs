//! The per-skill report: the JSON contract other tools read. Fields listed in the README are
//! stable; new fields may be added.

pub use crate::policy::Reason;
use crate::policy::{Policy, Verdict};
use serde::Serialize;
use skillgate_model::{Bundle, Decision, Finding, GateReport, Tier};
use std::collections::BTreeMap;
use std::path::Path;

/// One gate's part of the report.
#[derive(Debug, Clone, Serialize)]
pub struct GateSummary {
    pub status: skillgate_model::GateStatus,
    pub findings: Vec<Finding>,
    pub capabilities: Vec<skillgate_model::Capability>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
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
}

impl SkillReport {
    pub fn new(
        bundle: &Bundle,
        name: Option<String>,
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
        Self {
            path: bundle.source.display().to_string(),
            name,
            hash: Some(bundle.hash.to_string()),
            decision: verdict.decision,
            tier: verdict.tier,
            reasons: verdict.reasons,
            gates,
            findings: reports.into_iter().flat_map(|r| r.findings).collect(),
            error: None,
            policy: policy.hash().to_string(),
            files: bundle.files.len(),
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
        }
    }
}
