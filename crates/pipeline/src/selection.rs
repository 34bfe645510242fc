//! Rule selection in the policy, in the style of ruff's `select` and `ignore`: which rules run,
//! where they are ignored, and at what severity they report. All of it is part of the policy,
//! so it is part of the policy hash every verdict records.
//!
//! ```toml
//! [rules]
//! select = ["SK1", "SK2", "SK4"]          # codes or prefixes; empty = every rule
//! ignore = ["SK304"]
//! severity = { SK208 = "medium" }
//! paths = ["./team-rules"]                # YAML rules of our own, codes SKX…
//!
//! [rules.per_path_ignores]
//! "examples/**" = ["SK201", "SK212"]
//! ```

use serde::{Deserialize, Serialize};
use skillgate_model::{GateReport, Severity};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// The `[rules]` section of a policy.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleSelection {
    /// Rules that run: codes (`SK304`) or prefixes (`SK3`, `SKX`); empty or `ALL` means every
    /// rule.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub select: Vec<String>,
    /// Rules that do not run, whatever `select` says.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ignore: Vec<String>,
    /// Rules ignored in the files a glob (relative to the skill folder) matches.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub per_path_ignores: BTreeMap<String, Vec<String>>,
    /// A rule's severity, overridden.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub severity: BTreeMap<String, Severity>,
    /// Folders of custom YAML rules (codes `SKX` + three digits).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub paths: Vec<PathBuf>,
}

/// A selection that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum SelectionError {
    #[error("rules.per_path_ignores: `{glob}` is not a glob: {why}")]
    Glob { glob: String, why: String },
    #[error("rules: `{0}` is not a rule code or prefix (SK…, SKX…, or ALL)")]
    Selector(String),
}

fn matches(selector: &str, code: &str) -> bool {
    selector.eq_ignore_ascii_case("ALL") || code.starts_with(&selector.to_ascii_uppercase())
}

fn valid_selector(s: &str) -> bool {
    s.eq_ignore_ascii_case("ALL")
        || (s.len() >= 2
            && s.to_ascii_uppercase().starts_with("SK")
            && s[2..]
                .chars()
                .all(|c| c.is_ascii_digit() || c == 'X' || c == 'x'))
}

/// A selection ready to apply: globs compiled.
#[derive(Debug, Clone, Default)]
pub struct Selector {
    rules: RuleSelection,
    per_path: Vec<(globset::GlobMatcher, Vec<String>)>,
}

impl RuleSelection {
    pub fn compile(&self) -> Result<Selector, SelectionError> {
        for s in self
            .select
            .iter()
            .chain(&self.ignore)
            .chain(self.per_path_ignores.values().flatten())
            .chain(self.severity.keys())
        {
            if !valid_selector(s) {
                return Err(SelectionError::Selector(s.clone()));
            }
        }
        let per_path = self
            .per_path_ignores
            .iter()
            .map(|(glob, codes)| {
                globset::GlobBuilder::new(glob)
                    .literal_separator(true)
                    .build()
                    .map(|g| (g.compile_matcher(), codes.clone()))
                    .map_err(|e| SelectionError::Glob {
                        glob: glob.clone(),
                        why: e.to_string(),
                    })
            })
            .collect::<Result<_, _>>()?;
        Ok(Selector {
            rules: self.clone(),
            per_path,
        })
    }

    pub fn is_default(&self) -> bool {
        self == &Self::default()
    }
}

impl Selector {
    /// Whether rule `code` runs at all under this policy.
    pub fn enabled(&self, code: &str) -> bool {
        (self.rules.select.is_empty() || self.rules.select.iter().any(|s| matches(s, code)))
            && !self.rules.ignore.iter().any(|s| matches(s, code))
    }

    fn ignored_in(&self, code: &str, file: &str) -> bool {
        self.per_path
            .iter()
            .any(|(glob, codes)| glob.is_match(file) && codes.iter().any(|s| matches(s, code)))
    }

    /// Drops the findings of rules that do not run (or not in that file), and applies severity
    /// overrides. Capabilities a dropped finding alone gave are dropped with it.
    pub fn apply(&self, report: &mut GateReport) {
        if self.rules.is_default() {
            return;
        }
        let before = report.findings.len();
        report.findings.retain(|f| {
            self.enabled(&f.code)
                && !f
                    .file
                    .as_deref()
                    .is_some_and(|file| self.ignored_in(&f.code, file))
        });
        for f in &mut report.findings {
            if let Some(s) = self
                .rules
                .severity
                .iter()
                .find(|(code, _)| code.eq_ignore_ascii_case(&f.code))
                .map(|(_, s)| *s)
            {
                f.severity = s;
            }
        }
        if report.findings.len() != before && report.gate == skillgate_model::Gate::G1 {
            let mut caps: Vec<_> = report
                .findings
                .iter()
                .filter_map(|f| f.capability)
                .collect();
            caps.sort();
            caps.dedup();
            report.capabilities = caps;
        }
    }

    pub fn rules(&self) -> &RuleSelection {
        &self.rules
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use skillgate_model::{Confidence, Finding, Gate, GateStatus};

    fn report(codes: &[(&str, &str)]) -> GateReport {
        GateReport {
            gate: Gate::G1,
            status: GateStatus::Pass,
            findings: codes
                .iter()
                .map(|(c, file)| {
                    Finding::new(*c, Gate::G1, Severity::High, Confidence::High, "x", "m").at(
                        *file,
                        Some(1),
                        None,
                    )
                })
                .collect(),
            capabilities: vec![],
            note: None,
        }
    }

    #[test]
    fn select_ignore_per_path_and_severity() {
        let sel = RuleSelection {
            select: vec!["SK2".into(), "SK3".into()],
            ignore: vec!["SK304".into()],
            per_path_ignores: BTreeMap::from([("examples/**".into(), vec!["SK201".into()])]),
            severity: BTreeMap::from([("SK305".into(), Severity::Low)]),
            paths: vec![],
        }
        .compile()
        .unwrap();
        let mut r = report(&[
            ("SK101", "a.sh"),
            ("SK201", "examples/x/run.sh"),
            ("SK201", "scripts/run.sh"),
            ("SK304", "requirements.txt"),
            ("SK305", "requirements.txt"),
        ]);
        sel.apply(&mut r);
        let left: Vec<(&str, &str, Severity)> = r
            .findings
            .iter()
            .map(|f| (f.code.as_str(), f.file.as_deref().unwrap(), f.severity))
            .collect();
        assert_eq!(
            left,
            [
                ("SK201", "scripts/run.sh", Severity::High),
                ("SK305", "requirements.txt", Severity::Low)
            ]
        );
        assert!(!sel.enabled("SK304"));
        assert!(sel.enabled("SK399"));
    }

    #[test]
    fn bad_selectors_and_globs_are_named() {
        let bad = RuleSelection {
            ignore: vec!["rm-rf".into()],
            ..Default::default()
        };
        assert!(bad.compile().unwrap_err().to_string().contains("rm-rf"));
        let bad = RuleSelection {
            per_path_ignores: BTreeMap::from([("a/[".into(), vec!["SK1".into()])]),
            ..Default::default()
        };
        assert!(bad.compile().is_err());
    }
}
