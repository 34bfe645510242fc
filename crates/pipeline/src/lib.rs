//! The gates in sequence, and the policy that turns their reports into a verdict.
//!
//! [`Pipeline::evaluate`] loads a bundle, runs each selected gate with the evidence gathered so
//! far, and hands every report to [`Policy::decide`]. No gate decides a tier: the policy does,
//! from all reports together, and records every reason with the gate that produced it.

pub mod keys;
pub mod lifecycle;
mod nested;
pub mod policy;
pub mod report;
pub mod selection;
pub mod trust;
pub mod waivers;

pub use policy::{Policy, PolicyError};
pub use report::{Reason, SkillReport};
pub use trust::{
    AllowedToolsAnswer, Outcome, Resolved, RuntimeReport, Standing, TierAnswer, Trust, TrustError,
};

use skillgate_intent::IntentGate;
use skillgate_model::bundle::{Bundle, Limits};
use skillgate_model::{Gate, GateReport, SkillDocument};
use skillgate_sandbox::Sandbox;
use skillgate_static::StaticGate;
use std::collections::BTreeSet;
use std::path::Path;

/// Every rule of every gate, documented: G1's registry with G2's and G4's rules added.
pub fn registry() -> Result<skillgate_static::registry::Registry, skillgate_static::RuleError> {
    let mut r = skillgate_static::registry::Registry::load()?;
    r.register(skillgate_intent::RULES);
    r.register(skillgate_sandbox::RULES);
    r.register(skillgate_permissions::RULES);
    Ok(r)
}

/// Runs the gates and the policy over skills.
pub struct Pipeline {
    g1: StaticGate,
    g2: IntentGate,
    policy: Policy,
    gates: BTreeSet<Gate>,
    limits: Limits,
    llm_judge: Option<String>,
    g3: Option<Sandbox>,
}

impl Pipeline {
    pub fn new(mut g1: StaticGate, policy: Policy, gates: BTreeSet<Gate>) -> Self {
        g1.register_rules(skillgate_intent::RULES);
        g1.register_rules(skillgate_sandbox::RULES);
        g1.register_rules(skillgate_permissions::RULES);
        Self {
            g1,
            g2: IntentGate::new(None),
            policy,
            gates,
            limits: Limits::default(),
            llm_judge: None,
            g3: None,
        }
    }

    /// Runs G3 in this sandbox. Without one, G3 passes skills with nothing to execute and is
    /// inconclusive for the rest.
    pub fn with_sandbox(mut self, sandbox: Sandbox) -> Self {
        self.g3 = Some(sandbox);
        self
    }

    /// Adds an LLM judge after the embedded one.
    pub fn with_llm_judge(mut self, judge: Box<dyn skillgate_intent::Judge>) -> Self {
        self.llm_judge = Some(judge.name());
        self.g2 = IntentGate::new(Some(judge));
        self
    }

    /// What a report depends on besides the bundle and the policy: tool version, gates, rules
    /// and data. A stored scan is reused only when this matches exactly.
    pub fn engine(&self) -> String {
        let gates: Vec<String> = self.gates.iter().map(ToString::to_string).collect();
        format!(
            "skillgate {} gates={} {} judge={} g3={}",
            env!("CARGO_PKG_VERSION"),
            gates.join(","),
            self.g1.fingerprint(),
            self.llm_judge.as_deref().unwrap_or("embedded"),
            self.g3.as_ref().map_or("none".to_string(), |s| format!(
                "{}:{}:{}",
                match s.runners() {
                    skillgate_sandbox::Runners::Native => "native".to_string(),
                    skillgate_sandbox::Runners::Wasi =>
                        format!("wasi-{}", &skillgate_sandbox::wasi::runtime::SHA256[..12]),
                    skillgate_sandbox::Runners::Both => format!(
                        "native+wasi-{}",
                        &skillgate_sandbox::wasi::runtime::SHA256[..12]
                    ),
                },
                s.profile().name,
                s.profile().fingerprint()
            ))
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
            // A defect of ours met on one skill's content fails that skill, closed, and the run
            // goes on with the rest.
            Ok(bundle) => std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                self.evaluate_bundle(&bundle)
            }))
            .unwrap_or_else(|panic| {
                let why = panic
                    .downcast_ref::<String>()
                    .map(String::as_str)
                    .or_else(|| panic.downcast_ref::<&str>().copied())
                    .unwrap_or("unknown panic");
                SkillReport::unreadable(
                    path,
                    &format!("skillgate failed on this skill's content (a defect; please report it): {why}"),
                    &self.policy,
                )
            }),
            Err(e) => SkillReport::unreadable(path, &e.to_string(), &self.policy),
        }
    }

    /// Evaluates a loaded bundle, and every skill it carries as a subject of its own: a bundled
    /// skill the bundle installs or loads lowers the bundle's verdict to its own when worse.
    pub fn evaluate_bundle(&self, bundle: &Bundle) -> SkillReport {
        self.evaluate_subject(bundle, 0)
    }

    fn evaluate_subject(&self, bundle: &Bundle, depth: usize) -> SkillReport {
        let mut report = self.evaluate_alone(bundle);
        if depth >= MAX_NESTING {
            return report;
        }
        let (roots, left_out) = bundle.nested_roots();
        report.nested_left_out = left_out;
        for prefix in roots {
            let Some(inner) = bundle.nested(&prefix) else {
                continue;
            };
            let mut sub = self.evaluate_subject(&inner, depth + 1);
            sub.composed = nested::composed_by(bundle, &prefix, &report, sub.name.as_deref());
            if sub.composed {
                nested::inherit(&mut report, &sub, &prefix);
            }
            report.nested.push(sub);
        }
        if left_out > 0 {
            report.reasons.push(Reason {
                gate: None,
                code: None,
                reason: format!(
                    "{left_out} more bundled skills were not judged (at most {} per bundle)",
                    skillgate_model::bundle::MAX_NESTED
                ),
            });
        }
        report
    }

    fn evaluate_alone(&self, bundle: &Bundle) -> SkillReport {
        let doc = SkillDocument::parse(&bundle.skill_md_file().bytes);
        let mut reports = Vec::new();
        for gate in Gate::ALL {
            let report = if !self.gates.contains(&gate) {
                GateReport::skipped(gate, "not selected with --gates")
            } else {
                match gate {
                    Gate::G1 => self.g1.scan(bundle, &doc),
                    Gate::G2 => self.g2.scan(
                        &bundle.hash.to_string(),
                        &doc,
                        &skillgate_intent::Document::side_documents(bundle),
                        &reports,
                    ),
                    Gate::G3 => match &self.g3 {
                        Some(sandbox) => self.behaviour(sandbox, bundle, &doc, &reports),
                        None => no_sandbox(bundle, &doc),
                    },
                    Gate::G4 => skillgate_permissions::check(bundle, &doc, &reports),
                }
            };
            // A rule the policy turns off does not reach the later gates either.
            let mut report = report;
            self.policy.selector().apply(&mut report);
            reports.push(report);
        }
        let verdict = self.policy.decide(&reports);
        SkillReport::new(bundle, &doc, reports, verdict, &self.policy)
    }
}

/// Bundled skills inside bundled skills are judged this deep; deeper ones are part of their
/// carrier's files only.
const MAX_NESTING: usize = 2;

impl Pipeline {
    /// G3: the sandbox's own report, with what the run revealed read by G1's rules.
    fn behaviour(
        &self,
        sandbox: &Sandbox,
        bundle: &Bundle,
        doc: &SkillDocument,
        earlier: &[GateReport],
    ) -> GateReport {
        let observation = sandbox.observe(bundle, doc);
        let static_findings: Vec<_> = earlier
            .iter()
            .filter(|r| r.gate == Gate::G1)
            .flat_map(|r| r.findings.iter().cloned())
            .collect();
        let mut report = reveal(
            &self.g1,
            &observation,
            bundle,
            &static_findings,
            &sandbox.profile().filesystem.home,
        );
        // The vendor's own installer seen running is what G1 read: an installer, held at high.
        skillgate_static::code_rules::vendor_installers::check(
            &skillgate_static::code_rules::vendor_installers::vouching_text(doc),
            &mut report.findings,
        );
        report
    }
}

/// G3's report for an observation, with what the run revealed (output, written files, decoded
/// code) read by G1's rules (`home`: the run's fake HOME), and kept where the bundle does not hold it as written and G1 did
/// not already report it (`static_findings`).
pub fn reveal(
    g1: &StaticGate,
    observation: &skillgate_sandbox::Observation,
    bundle: &Bundle,
    static_findings: &[skillgate_model::Finding],
    home: &str,
) -> GateReport {
    let mut report = observation.report.clone();
    let (revealed, notes) =
        skillgate_sandbox::revealed::collect(&observation.plan, &observation.evidence, home);
    if revealed.is_empty() && notes.is_empty() {
        return report;
    }
    let texts: Vec<_> = revealed
        .iter()
        .map(|r| {
            use skillgate_sandbox::revealed::ReadAs;
            use skillgate_static::units::RevealedAs;
            let how = match r.read_as {
                ReadAs::Instructions => RevealedAs::Instructions,
                ReadAs::Shell => RevealedAs::Shell,
                ReadAs::Python => RevealedAs::Python,
                ReadAs::File => RevealedAs::File,
            };
            (r.label.clone(), r.path.clone(), how, r.text.clone())
        })
        .collect();
    let found = skillgate_sandbox::revealed::judge(
        &revealed,
        g1.scan_revealed(&texts),
        static_findings,
        &skillgate_sandbox::revealed::BundleText::new(bundle),
    );
    let mut note = report.note.take().unwrap_or_default();
    note.push_str(&format!(
        "; run-time content read by G1: {} texts, {} findings kept",
        revealed.len(),
        found.len()
    ));
    for n in notes {
        note.push_str(&format!("; {n}"));
    }
    report.note = Some(note);
    for f in &found {
        if let Some(c) = f.capability
            && !report.capabilities.contains(&c)
        {
            report.capabilities.push(c);
        }
    }
    report.findings.extend(found);
    skillgate_sandbox::findings::restate(&mut report);
    report
}

/// G3 without a sandbox: a skill with nothing to execute has nothing to observe; anything
/// runnable makes the gate inconclusive, never clean. "Runnable" is the sandbox's own plan.
fn no_sandbox(bundle: &Bundle, doc: &SkillDocument) -> GateReport {
    let plan = skillgate_sandbox::plan::plan(bundle, doc, usize::MAX);
    if plan.is_empty() {
        return skillgate_sandbox::nothing_to_execute();
    }
    GateReport::inconclusive(
        Gate::G3,
        format!(
            "no sandbox was configured; {} steps were not run",
            plan.steps.len() + plan.not_run.len()
        ),
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_gate_documents_its_rules_under_unique_codes() {
        let docs = super::registry().unwrap().docs();
        let mut codes: Vec<&str> = docs.iter().map(|d| d.code.as_str()).collect();
        let n = codes.len();
        codes.sort();
        codes.dedup();
        assert_eq!(codes.len(), n, "duplicate rule codes");
        for code in ["SK730", "SK733", "SK803", "SK806"] {
            let d = docs.iter().find(|d| d.code == code).unwrap();
            assert!(d.docs.contains("Why:"), "{code} lacks docs");
        }
    }
}
