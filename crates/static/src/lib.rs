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

    /// The gate with custom YAML rules from `dirs` beside the embedded ones; what was refused,
    /// and why, is returned beside it.
    pub fn with_custom_rules(
        advisories: AdvisoryDb,
        dirs: &[std::path::PathBuf],
    ) -> Result<(Self, Vec<crate::registry::Refused>), RuleError> {
        let (registry, refused) = Registry::load_with_custom(dirs)?;
        Ok((
            Self {
                registry,
                advisories,
            },
            refused,
        ))
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
        let view = skillgate_content::ContentView::of(bundle);
        let mut units = units::units(&view, bundle, doc);
        self.run_rules(&mut units, &mut findings);
        code_rules::decoded_exec::check(&units, &mut findings);
        code_rules::injection_sinks::check(&units, &mut findings);
        code_rules::resource_exhaustion::check(&units, &mut findings);
        code_rules::bundle_contents::check(bundle, &view, &mut findings);
        code_rules::companion_scripts::check(bundle, &units, &mut findings);
        deps::check(bundle, &units, &self.advisories, &mut findings);
        let purpose = skillgate_model::skill_md::stated_purpose(
            doc.name().unwrap_or(""),
            doc.description().unwrap_or(""),
            &doc.body,
        );
        code_rules::secret_flow::check(&units, &purpose, &mut findings);
        code_rules::printed_secrets::check(&units, &purpose, &mut findings);
        code_rules::registry_redirect::check(&units, &mut findings);
        // The folder name too: a skill's install line names the folder it is published as.
        code_rules::skill_install::check(
            &units,
            &format!("{purpose}\n{}", bundle.dir_name),
            &mut findings,
        );
        code_rules::rendered_markup::check(&units, &bundle.skill_md, &mut findings);
        code_rules::security_edits::check(&units, &mut findings);
        code_rules::security_knowledge::check(&purpose, &mut findings);
        code_rules::security_knowledge::check_declared(
            &format!(
                "{}\n{}",
                doc.name().unwrap_or(""),
                doc.description().unwrap_or("")
            ),
            &purpose,
            self.registry.data_rules(),
            &mut findings,
        );
        code_rules::correlation::check(&units, &purpose, &mut findings);
        code_rules::vendor_installers::check(
            &code_rules::vendor_installers::vouching_text(doc),
            &mut findings,
        );
        dedupe(&mut findings);
        report(findings)
    }
}

impl StaticGate {
    /// G1's rules over texts a sandbox run revealed: each is `(label, path, how, text)`, and
    /// each finding's `file` is the label of the text it came from. Data rules, decoded
    /// payloads and decode-then-exec run; bundle-level checks (lint, dependencies, bundle
    /// contents) do not, since these texts are not files of the bundle.
    pub fn scan_revealed(
        &self,
        texts: &[(String, String, units::RevealedAs, String)],
    ) -> Vec<Finding> {
        let mut units: Vec<units::Unit> = texts
            .iter()
            .flat_map(|(label, path, how, text)| units::revealed_units(label, path, *how, text))
            .collect();
        let mut findings = Vec::new();
        self.run_rules(&mut units, &mut findings);
        code_rules::decoded_exec::check(&units, &mut findings);
        code_rules::correlation::check(&units, "", &mut findings);
        dedupe(&mut findings);
        findings
    }
}

impl StaticGate {
    /// Hidden text (whose decoded text joins `units`), the data rules over every unit but
    /// licence texts, and encoded payloads decoded, analysed and escalated when dangerous.
    fn run_rules(&self, units: &mut Vec<units::Unit>, findings: &mut Vec<Finding>) {
        let derived = code_rules::hidden_text::check(units, findings);
        units.extend(derived);
        let mut raw = Vec::new();
        for unit in units.iter() {
            if units::is_license(&unit.file) {
                continue;
            }
            engine::run_unit(self.registry.rule_set(), unit, &mut raw);
        }
        let decoded = code_rules::encoded_payload::decode_units(units);
        let mut decoded_findings = Vec::new();
        for unit in &decoded {
            engine::run_unit(self.registry.rule_set(), unit, &mut decoded_findings);
        }
        code_rules::encoded_payload::escalate(&decoded, &decoded_findings, findings);
        raw.extend(decoded_findings);
        findings.extend(raw);
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

/// Findings listed per rule and file. Real skills stay far below it (54 at most over the
/// corpora we measured); a file of 100,000 copies of one command would otherwise make a report
/// of hundreds of megabytes.
const MAX_FINDINGS_PER_RULE_AND_FILE: usize = 100;

/// Drops findings past [`MAX_FINDINGS_PER_RULE_AND_FILE`] and says how many went, per rule and
/// file.
fn cap_per_rule_and_file(findings: &mut Vec<Finding>) -> Option<String> {
    let mut counts: std::collections::HashMap<(String, Option<String>), usize> = Default::default();
    findings.retain(|f| {
        let n = counts.entry((f.code.clone(), f.file.clone())).or_default();
        *n += 1;
        *n <= MAX_FINDINGS_PER_RULE_AND_FILE
    });
    let mut dropped: Vec<String> = counts
        .into_iter()
        .filter(|(_, n)| *n > MAX_FINDINGS_PER_RULE_AND_FILE)
        .map(|((code, file), n)| {
            format!(
                "{code} in {}: {} more",
                file.as_deref().unwrap_or("the bundle"),
                n - MAX_FINDINGS_PER_RULE_AND_FILE
            )
        })
        .collect();
    dropped.sort();
    (!dropped.is_empty()).then(|| {
        format!(
            "only the first {MAX_FINDINGS_PER_RULE_AND_FILE} findings of a rule in one file are listed; not listed: {}",
            dropped.join(", ")
        )
    })
}

fn report(mut findings: Vec<Finding>) -> GateReport {
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
    let note = cap_per_rule_and_file(&mut findings);
    GateReport {
        gate: Gate::G1,
        status,
        findings,
        capabilities: capabilities.into_iter().collect(),
        note,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use skillgate_model::{Confidence, Gate};

    fn at(code: &str, file: &str, line: u32) -> Finding {
        Finding::new(code, Gate::G1, Severity::High, Confidence::High, "x", "m").at(
            file,
            Some(line),
            None,
        )
    }

    #[test]
    fn findings_past_the_cap_are_counted_not_listed() {
        let mut findings: Vec<Finding> = (1..=250).map(|l| at("SK201", "SKILL.md", l)).collect();
        findings.extend((1..=3).map(|l| at("SK201", "run.sh", l)));
        findings.push(at("SK105", "SKILL.md", 1));
        let note = cap_per_rule_and_file(&mut findings).expect("a note");
        assert_eq!(findings.len(), MAX_FINDINGS_PER_RULE_AND_FILE + 3 + 1);
        assert!(note.ends_with("SK201 in SKILL.md: 150 more"), "{note}");
        let mut few = vec![at("SK201", "SKILL.md", 1)];
        assert!(cap_per_rule_and_file(&mut few).is_none());
    }
}
