//! The verdict policy: when to reject, and the tier to admit at.

use crate::selection::{RuleSelection, Selector};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use skillgate_model::{
    Confidence, Decision, Gate, GateReport, GateStatus, KillChainStage, Severity, Tier,
};
use std::collections::BTreeSet;

const DEFAULT: &str = include_str!("../default-policy.toml");

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RejectRules {
    pub critical_min_confidence: Confidence,
    pub chain_min_severity: Severity,
    pub chain_min_stages: usize,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdmitRules {
    pub t2_max_severity: Severity,
}

/// What promotion above T2 needs.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PromotionRules {
    pub clean_runs: u32,
    pub clean_window_days: u32,
    pub t4_max_severity: Severity,
}

/// Thresholds of the verdict, loaded from TOML.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    pub reject: RejectRules,
    pub admit: AdmitRules,
    pub promotion: PromotionRules,
    /// Which rules run, where, and at what severity (see [`crate::selection`]).
    #[serde(default, skip_serializing_if = "RuleSelection::is_default")]
    pub rules: RuleSelection,
    #[serde(skip)]
    selector: Selector,
    #[serde(skip)]
    hash: String,
}

/// A policy file that cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PolicyError {
    #[error("invalid policy: {0}")]
    Invalid(String),
}

/// One reason for a verdict, with the gate (and rule) that produced it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reason {
    pub gate: Option<Gate>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    pub reason: String,
}

/// What the policy decided.
#[derive(Debug, Clone)]
pub struct Verdict {
    pub decision: Decision,
    pub tier: Option<Tier>,
    pub reasons: Vec<Reason>,
}

impl Policy {
    pub fn from_toml(text: &str) -> Result<Self, PolicyError> {
        let mut p: Policy =
            toml::from_str(text).map_err(|e| PolicyError::Invalid(e.to_string()))?;
        if p.reject.chain_min_stages < 2 {
            return Err(PolicyError::Invalid(
                "reject.chain_min_stages must be at least 2".into(),
            ));
        }
        p.settle()?;
        Ok(p)
    }

    /// Compiles the rule selection and hashes the parsed policy, not the file: comments and
    /// layout do not change a verdict, rule selection does.
    fn settle(&mut self) -> Result<(), PolicyError> {
        self.selector = self
            .rules
            .compile()
            .map_err(|e| PolicyError::Invalid(e.to_string()))?;
        let canonical = toml::to_string(&*self).map_err(|e| PolicyError::Invalid(e.to_string()))?;
        self.hash = format!(
            "sha256:{}",
            hex::encode(Sha256::digest(canonical.as_bytes()))
        );
        Ok(())
    }

    /// This policy with rules selected, ignored and loaded from the command line, added to its
    /// own `[rules]` (and so to its hash).
    pub fn with_rules(
        mut self,
        select: &[String],
        ignore: &[String],
        paths: &[std::path::PathBuf],
    ) -> Result<Self, PolicyError> {
        self.rules.select.extend(select.iter().cloned());
        self.rules.ignore.extend(ignore.iter().cloned());
        self.rules.paths.extend(paths.iter().cloned());
        self.settle()?;
        Ok(self)
    }

    /// Which rules run under this policy.
    pub fn selector(&self) -> &Selector {
        &self.selector
    }

    pub fn hash(&self) -> &str {
        &self.hash
    }

    pub fn decide(&self, reports: &[GateReport]) -> Verdict {
        let mut reject = Vec::new();
        // A waived finding stays in the report and counts for nothing here.
        let findings = || {
            reports
                .iter()
                .flat_map(|r| r.findings.iter())
                .filter(|f| f.waived.is_none())
        };
        for f in findings().filter(|f| {
            f.severity == Severity::Critical && f.confidence >= self.reject.critical_min_confidence
        }) {
            reject.push(Reason {
                gate: Some(f.gate),
                code: Some(f.code.clone()),
                reason: format!("critical: {}", f.message),
            });
        }
        let serious: Vec<_> = findings()
            .filter(|f| {
                f.severity >= self.reject.chain_min_severity && f.kill_chain != KillChainStage::None
            })
            .collect();
        let stages: BTreeSet<KillChainStage> = serious.iter().map(|f| f.kill_chain).collect();
        if stages.len() >= self.reject.chain_min_stages {
            for stage in &stages {
                let f = serious
                    .iter()
                    .find(|f| f.kill_chain == *stage)
                    .expect("stage came from a finding");
                reject.push(Reason {
                    gate: Some(f.gate),
                    code: Some(f.code.clone()),
                    reason: format!(
                        "kill chain ({} stages), {}: {}",
                        stages.len(),
                        serde_json::to_value(stage).unwrap().as_str().unwrap_or(""),
                        f.message
                    ),
                });
            }
        }
        if !reject.is_empty() {
            dedupe(&mut reject);
            return Verdict {
                decision: Decision::Reject,
                tier: None,
                reasons: reject,
            };
        }
        let mut t1 = Vec::new();
        for f in findings().filter(|f| f.severity >= Severity::High) {
            t1.push(Reason {
                gate: Some(f.gate),
                code: Some(f.code.clone()),
                reason: format!("{} finding remains: {}", f.severity, f.message),
            });
        }
        for r in reports
            .iter()
            .filter(|r| matches!(r.status, GateStatus::Inconclusive | GateStatus::Skipped))
        {
            t1.push(Reason {
                gate: Some(r.gate),
                code: None,
                reason: format!(
                    "{} {}: {}",
                    r.gate,
                    r.status,
                    r.note.as_deref().unwrap_or("no reason given")
                ),
            });
        }
        if !t1.is_empty() {
            dedupe(&mut t1);
            return Verdict {
                decision: Decision::Admit,
                tier: Some(Tier::T1),
                reasons: t1,
            };
        }
        let worst = findings()
            .map(|f| f.severity)
            .max()
            .unwrap_or(Severity::Info);
        if worst > self.admit.t2_max_severity {
            return Verdict {
                decision: Decision::Admit,
                tier: Some(Tier::T1),
                reasons: vec![Reason {
                    gate: None,
                    code: None,
                    reason: format!("worst finding is {worst}"),
                }],
            };
        }
        Verdict {
            decision: Decision::Admit,
            tier: Some(Tier::T2),
            reasons: vec![Reason {
                gate: None,
                code: None,
                reason: format!(
                    "all gates ran; nothing above {}",
                    self.admit.t2_max_severity
                ),
            }],
        }
    }
}

fn dedupe(reasons: &mut Vec<Reason>) {
    let mut seen = BTreeSet::new();
    reasons.retain(|r| seen.insert((r.code.clone(), r.reason.clone())));
}

impl Default for Policy {
    fn default() -> Self {
        Self::from_toml(DEFAULT).expect("the built-in policy is valid")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use skillgate_model::Finding;

    fn report(findings: Vec<Finding>) -> Vec<GateReport> {
        let mut all: Vec<GateReport> = Gate::ALL
            .iter()
            .map(|g| GateReport {
                gate: *g,
                status: GateStatus::Pass,
                findings: vec![],
                capabilities: vec![],
                note: None,
            })
            .collect();
        all[0].findings = findings;
        all
    }

    fn f(sev: Severity, conf: Confidence, stage: KillChainStage) -> Finding {
        Finding::new("SK999", Gate::G1, sev, conf, "test", "m").with_stage(stage)
    }

    #[test]
    fn critical_high_confidence_rejects() {
        let v = Policy::default().decide(&report(vec![f(
            Severity::Critical,
            Confidence::High,
            KillChainStage::Execution,
        )]));
        assert_eq!(v.decision, Decision::Reject);
        let v = Policy::default().decide(&report(vec![f(
            Severity::Critical,
            Confidence::Medium,
            KillChainStage::Execution,
        )]));
        assert_eq!((v.decision, v.tier), (Decision::Admit, Some(Tier::T1)));
    }

    #[test]
    fn two_high_stages_reject_one_does_not() {
        let two = vec![
            f(
                Severity::High,
                Confidence::Medium,
                KillChainStage::CredentialAccess,
            ),
            f(
                Severity::High,
                Confidence::Medium,
                KillChainStage::Exfiltration,
            ),
        ];
        assert_eq!(
            Policy::default().decide(&report(two)).decision,
            Decision::Reject
        );
        let one = vec![
            f(
                Severity::High,
                Confidence::Medium,
                KillChainStage::Exfiltration,
            ),
            f(
                Severity::High,
                Confidence::Medium,
                KillChainStage::Exfiltration,
            ),
        ];
        assert_eq!(Policy::default().decide(&report(one)).tier, Some(Tier::T1));
    }

    #[test]
    fn clean_is_t2_only_when_all_gates_ran() {
        assert_eq!(
            Policy::default().decide(&report(vec![])).tier,
            Some(Tier::T2)
        );
        let mut r = report(vec![]);
        r[2] = GateReport::inconclusive(Gate::G3, "no user namespaces");
        let v = Policy::default().decide(&r);
        assert_eq!(v.tier, Some(Tier::T1));
        assert!(v.reasons[0].reason.contains("no user namespaces"));
    }

    #[test]
    fn hash_ignores_comments_but_not_values() {
        let a = Policy::from_toml(DEFAULT).unwrap();
        let b = Policy::from_toml(&format!("# comment\n{DEFAULT}")).unwrap();
        let c = Policy::from_toml(&DEFAULT.replace("chain_min_stages = 2", "chain_min_stages = 3"))
            .unwrap();
        assert_eq!(a.hash(), b.hash());
        assert_ne!(a.hash(), c.hash());
        assert!(Policy::from_toml("[reject]\n").is_err());
    }
}
