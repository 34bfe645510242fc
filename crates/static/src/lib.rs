//! G1, the static gate: pattern rules, code rules and dependency checks over every file of a
//! bundle.
//!
//! The pipeline of this crate:
//!
//! 1. [`units`] cuts the bundle into analysis units: scripts, and SKILL.md and references split
//!    into prose and fenced code blocks, each block in its own language.
//! 2. [`engine`] runs the data rules (one YAML per rule under `rules/`, embedded at build time)
//!    over each unit: regexes, and tree-sitter queries for Python and Bash.
//! 3. [`code_rules`] run what needs logic: hidden text and encoded payloads (whose decoded text is
//!    fed back through step 2), bundle contents, dependencies, and the correlation of a
//!    capability with a threat indicator that raises severity.
//!
//! [`registry::Registry`] holds every rule of both kinds, with its documentation.

pub mod code_rules;
pub mod deps;
pub mod engine;
pub mod pattern;
pub mod registry;
pub mod rule;
pub mod units;

use registry::Registry;
use skillgate_model::{
    Bundle, Capability, Finding, Gate, GateReport, GateStatus, Severity, SkillDocument,
};
use std::collections::BTreeSet;

pub use deps::advisories::AdvisoryDb;
pub use rule::RuleError;

/// The static gate, built once and shared across threads.
pub struct StaticGate {
    registry: Registry,
    advisories: AdvisoryDb,
}

impl StaticGate {
    /// Builds the gate from the embedded rules and the given advisory database.
    pub fn new(advisories: AdvisoryDb) -> Result<Self, RuleError> {
        Ok(Self {
            registry: Registry::load()?,
            advisories,
        })
    }

    /// What G1's output depends on besides the bundle: rules and advisory data.
    pub fn fingerprint(&self) -> String {
        format!(
            "rules={} advisories={}",
            self.registry.fingerprint(),
            self.advisories.fingerprint()
        )
    }

    /// Documents another gate's rules in this gate's registry, so one registry lists them all.
    pub fn register_rules(&mut self, rules: &[registry::CodeRuleInfo]) {
        self.registry.register(rules);
    }

    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// Runs G1 over a bundle whose SKILL.md is already parsed.
    pub fn scan(&self, bundle: &Bundle, doc: &SkillDocument) -> GateReport {
        let mut findings = skillgate_model::lint::lint(bundle, doc);
        let mut units = units::units(bundle, doc);
        let derived = code_rules::hidden_text::check(&units, &mut findings);
        units.extend(derived);
        let mut raw = Vec::new();
        for unit in &units {
            if units::is_license(&unit.file) {
                continue;
            }
            engine::run_unit(self.registry.rule_set(), unit, &mut raw);
        }
        // Encoded payloads: decode, analyse what came out, and escalate when it is dangerous.
        let decoded = code_rules::encoded_payload::decode_units(&units);
        let mut decoded_findings = Vec::new();
        for unit in &decoded {
            engine::run_unit(self.registry.rule_set(), unit, &mut decoded_findings);
        }
        code_rules::encoded_payload::escalate(&decoded, &decoded_findings, &mut findings);
        raw.extend(decoded_findings);
        findings.extend(raw);
        code_rules::decoded_exec::check(&units, &mut findings);
        code_rules::injection_sinks::check(&units, &mut findings);
        code_rules::resource_exhaustion::check(&units, &mut findings);
        code_rules::bundle_contents::check(bundle, &mut findings);
        code_rules::companion_scripts::check(bundle, &units, &mut findings);
        deps::check(bundle, &units, &self.advisories, &mut findings);
        let purpose = skillgate_model::skill_md::stated_purpose(
            doc.name().unwrap_or(""),
            doc.description().unwrap_or(""),
            &doc.body,
        );
        code_rules::secret_flow::check(&units, &purpose, &mut findings);
        code_rules::correlation::check(&units, &mut findings);
        dedupe(&mut findings);
        report(findings)
    }
}

fn dedupe(findings: &mut Vec<Finding>) {
    let mut seen = BTreeSet::new();
    findings.retain(|f| seen.insert((f.code.clone(), f.file.clone(), f.line, f.evidence.clone())));
    findings.sort_by(|a, b| {
        b.severity
            .cmp(&a.severity)
            .then_with(|| a.file.cmp(&b.file))
            .then(a.line.cmp(&b.line))
    });
}

fn report(findings: Vec<Finding>) -> GateReport {
    let worst = findings
        .iter()
        .map(|f| f.severity)
        .max()
        .unwrap_or(Severity::Info);
    let status = match worst {
        Severity::Critical | Severity::High => GateStatus::Fail,
        Severity::Medium => GateStatus::Warn,
        _ => GateStatus::Pass,
    };
    let capabilities: BTreeSet<Capability> = findings.iter().filter_map(|f| f.capability).collect();
    GateReport {
        gate: Gate::G1,
        status,
        findings,
        capabilities: capabilities.into_iter().collect(),
        note: None,
    }
}
