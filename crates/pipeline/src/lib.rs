//! The gates in sequence, and the policy that turns their reports into a verdict.
//!
//! [`Pipeline::evaluate`] loads a bundle, runs each selected gate with the evidence gathered so
//! far, and hands every report to [`Policy::decide`]. No gate decides a tier: the policy does,
//! from all reports together, and records every reason with the gate that produced it.

pub mod keys;
pub mod lifecycle;
pub mod policy;
pub mod report;
pub mod trust;

pub use policy::{Policy, PolicyError};
pub use report::{Reason, SkillReport};
pub use trust::{Outcome, Resolved, RuntimeReport, Standing, Trust, TrustError};

use skillgate_model::bundle::{Bundle, Limits};
use skillgate_model::{Gate, GateReport, SkillDocument};
use skillgate_static::StaticGate;
use std::collections::BTreeSet;
use std::path::Path;

/// Runs the gates and the policy over skills.
pub struct Pipeline {
    g1: StaticGate,
    policy: Policy,
    gates: BTreeSet<Gate>,
    limits: Limits,
}

impl Pipeline {
    pub fn new(g1: StaticGate, policy: Policy, gates: BTreeSet<Gate>) -> Self {
        Self {
            g1,
            policy,
            gates,
            limits: Limits::default(),
        }
    }

    /// What a report depends on besides the bundle and the policy: tool version, gates, rules
    /// and data. A stored scan is reused only when this matches exactly.
    pub fn engine(&self) -> String {
        let gates: Vec<String> = self.gates.iter().map(ToString::to_string).collect();
        format!(
            "skillgate {} gates={} {}",
            env!("CARGO_PKG_VERSION"),
            gates.join(","),
            self.g1.fingerprint()
        )
    }

    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    pub fn static_gate(&self) -> &StaticGate {
        &self.g1
    }

    /// Evaluates the skill at `path` (folder or archive). Never fails: a bundle that cannot be
    /// loaded yields a report with `error` set and a reject decision.
    pub fn evaluate(&self, path: &Path) -> SkillReport {
        match Bundle::load(path, &self.limits) {
            Ok(bundle) => self.evaluate_bundle(&bundle),
            Err(e) => SkillReport::unreadable(path, &e.to_string(), &self.policy),
        }
    }

    pub fn evaluate_bundle(&self, bundle: &Bundle) -> SkillReport {
        let doc = SkillDocument::parse(&bundle.skill_md_file().bytes);
        let mut reports = Vec::new();
        for gate in Gate::ALL {
            let report = if !self.gates.contains(&gate) {
                GateReport::skipped(gate, "not selected with --gates")
            } else {
                match gate {
                    Gate::G1 => self.g1.scan(bundle, &doc),
                    // The intent, behaviour and permission gates plug in here as they land.
                    Gate::G2 => GateReport::skipped(gate, "G2 (intent judge) is not built yet"),
                    Gate::G3 => {
                        GateReport::skipped(gate, "G3 (behavioural sandbox) is not built yet")
                    }
                    Gate::G4 => {
                        GateReport::skipped(gate, "G4 (allowed-tools validation) is not built yet")
                    }
                }
            };
            reports.push(report);
        }
        let verdict = self.policy.decide(&reports);
        SkillReport::new(bundle, &doc, reports, verdict, &self.policy)
    }
}
