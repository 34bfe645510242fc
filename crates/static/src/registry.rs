//! One registry for both kinds of rule: data rules (YAML) and code rules (Rust), each with a
//! stable code and user-facing documentation.

use crate::rule::{DataRule, RuleError};
use skillgate_model::Severity;

mod embedded {
    include!(concat!(env!("OUT_DIR"), "/embedded_rules.rs"));
}

pub(crate) use embedded::{PACKAGE_SOURCES, POPULAR_NPM, POPULAR_PYPI};

/// Identity and documentation of a rule implemented in Rust (shared by every gate).
pub use skillgate_model::RuleInfo as CodeRuleInfo;

/// Declares a code rule: the `///` docs become both rustdoc and the text of
/// `skillgate rules explain`.
macro_rules! declare_rule {
    ($(#[doc = $doc:literal])* $vis:vis struct $name:ident { code: $code:literal, slug: $slug:literal, severity: $sev:ident, summary: $summary:literal $(,)? }) => {
        $(#[doc = $doc])*
        $vis struct $name;
        impl $name {
            pub const INFO: $crate::registry::CodeRuleInfo = $crate::registry::CodeRuleInfo {
                code: $code,
                slug: $slug,
                severity: skillgate_model::Severity::$sev,
                summary: $summary,
                docs: concat!($($doc, "\n"),*),
            };
        }
    };
}
pub(crate) use declare_rule;

/// What `rules list` and `rules explain` show for one rule.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RuleDoc {
    pub code: String,
    pub slug: String,
    pub kind: &'static str,
    pub severity: Severity,
    pub summary: String,
    pub docs: String,
    pub help: Option<String>,
    pub source: Option<String>,
    pub examples: Option<(Vec<String>, Vec<String>)>,
}

/// Said in the docs of every rule marked `instructions: true`.
const REFERENCE_ENTRIES_NOTE: &str = "\nMatches in a Markdown table row, or in a list item defining a \
     backticked name, such as \"- `acceptEdits` - Auto-approve file edits\", document an option or an \
     endpoint rather than instruct the agent, and are not reported.";

pub struct Registry {
    data: crate::engine::RuleSet,
    /// Rules of the later gates (G2, G4), registered so that one registry documents them all.
    other_gates: Vec<CodeRuleInfo>,
    /// Custom rule files loaded beside the embedded ones (path, text): part of the fingerprint.
    custom: Vec<(String, String)>,
}

/// A custom rule that was not loaded, and why.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Refused {
    pub file: String,
    pub why: String,
}

/// Custom rule files read per folder at most, and the largest read.
const MAX_CUSTOM_FILES: usize = 500;
const MAX_CUSTOM_BYTES: u64 = 256 << 10;

/// The file a rule's examples are tried in: `SKILL.md`, or one ending in its first path suffix.
fn example_file(paths: &[String]) -> String {
    match paths.first() {
        Some(suffix) if suffix.starts_with('.') => format!("config{suffix}"),
        Some(name) => name.clone(),
        None => "SKILL.md".into(),
    }
}

/// The examples of rule `index` of `set` that do not behave as they say: each `match` example
/// must fire, each `no_match` must not.
pub fn example_failures(set: &crate::engine::RuleSet, index: usize) -> Vec<String> {
    use crate::rule::Language;
    let rule = &set.rules()[index];
    let file = example_file(&rule.spec.paths);
    // Rules for any code run over shell, the language most examples are written in.
    let lang = match rule
        .spec
        .languages
        .first()
        .copied()
        .unwrap_or(Language::Any)
    {
        Language::Code | Language::Any => Language::Shell,
        other => other,
    };
    let fires = |text: &str| {
        let unit = crate::units::Unit::new(&file, lang, format!("{text}\n"), 1);
        let mut out = Vec::new();
        crate::engine::run_rule(set, index, &unit, &mut out);
        !out.is_empty()
    };
    let mut failures = Vec::new();
    for ex in &rule.spec.examples.positive {
        if !fires(ex) {
            failures.push(format!("{} should match: {ex}", rule.spec.code));
        }
    }
    for ex in &rule.spec.examples.negative {
        if fires(ex) {
            failures.push(format!("{} should not match: {ex}", rule.spec.code));
        }
    }
    failures
}

impl Registry {
    /// Compiles every embedded data rule. Fails on the first bad rule file: a broken rule set is
    /// a build defect, caught by the tests.
    pub fn load() -> Result<Self, RuleError> {
        let data = embedded::DATA_RULES
            .iter()
            .map(|(path, yaml)| DataRule::compile(path, yaml))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            data: crate::engine::RuleSet::new(data).map_err(|e| RuleError::Invalid {
                file: "*".into(),
                message: format!("the rules' keywords do not build one automaton: {e}"),
            })?,
            other_gates: Vec::new(),
            custom: Vec::new(),
        })
    }

    /// The embedded rules and the custom YAML rules in `dirs` (codes `SKX` + three digits, the
    /// same format as `rules/`). A custom rule that does not compile, reuses a code, or fails one
    /// of its own examples is refused, with why; the others load.
    pub fn load_with_custom(
        dirs: &[std::path::PathBuf],
    ) -> Result<(Self, Vec<Refused>), RuleError> {
        let mut rules = embedded::DATA_RULES
            .iter()
            .map(|(path, yaml)| DataRule::compile(path, yaml))
            .collect::<Result<Vec<_>, _>>()?;
        let mut refused = Vec::new();
        let mut custom = Vec::new();
        for dir in dirs {
            let mut files: Vec<std::path::PathBuf> = match std::fs::read_dir(dir) {
                Ok(entries) => entries
                    .flatten()
                    .map(|e| e.path())
                    .filter(|p| p.extension().is_some_and(|e| e == "yaml" || e == "yml"))
                    .collect(),
                Err(e) => {
                    refused.push(Refused {
                        file: dir.display().to_string(),
                        why: format!("cannot read the folder: {e}"),
                    });
                    continue;
                }
            };
            files.sort();
            if files.len() > MAX_CUSTOM_FILES {
                refused.push(Refused {
                    file: dir.display().to_string(),
                    why: format!(
                        "{} rule files; only the first {MAX_CUSTOM_FILES} are read",
                        files.len()
                    ),
                });
                files.truncate(MAX_CUSTOM_FILES);
            }
            for path in files {
                let name = path.display().to_string();
                let text = match std::fs::metadata(&path) {
                    Ok(m) if m.len() > MAX_CUSTOM_BYTES => Err(format!(
                        "{} bytes; a rule file is at most {MAX_CUSTOM_BYTES}",
                        m.len()
                    )),
                    _ => std::fs::read_to_string(&path).map_err(|e| e.to_string()),
                };
                let checked = text.and_then(|text| {
                    let rule = DataRule::compile_custom(&name, &text).map_err(|e| e.to_string())?;
                    let code = rule.spec.code.clone();
                    if rules.iter().any(|r| r.spec.code == code) {
                        return Err(format!("code {code} is already taken"));
                    }
                    // Its examples, run alone before it joins the set.
                    let alone = crate::engine::RuleSet::new(vec![rule])
                        .map_err(|e| format!("its keywords do not build: {e}"))?;
                    let failures = example_failures(&alone, 0);
                    if !failures.is_empty() {
                        return Err(format!("its examples fail: {}", failures.join("; ")));
                    }
                    let rule = DataRule::compile_custom(&name, &text).map_err(|e| e.to_string())?;
                    Ok((rule, text))
                });
                match checked {
                    Ok((rule, text)) => {
                        rules.push(rule);
                        custom.push((name, text));
                    }
                    Err(why) => refused.push(Refused { file: name, why }),
                }
            }
        }
        let data = crate::engine::RuleSet::new(rules).map_err(|e| RuleError::Invalid {
            file: "*".into(),
            message: format!("the rules' keywords do not build one automaton: {e}"),
        })?;
        Ok((
            Self {
                data,
                other_gates: Vec::new(),
                custom,
            },
            refused,
        ))
    }

    /// SHA-256 over everything that shapes G1's findings besides the code itself: every data
    /// rule file, the popular-package lists, the public package sources, and the code rules'
    /// identities.
    pub fn fingerprint(&self) -> String {
        use sha2::{Digest, Sha256};
        let mut h = Sha256::new();
        for (path, yaml) in embedded::DATA_RULES {
            h.update(path.as_bytes());
            h.update([0]);
            h.update(yaml.as_bytes());
            h.update([0]);
        }
        for (path, text) in &self.custom {
            h.update(path.as_bytes());
            h.update([0]);
            h.update(text.as_bytes());
            h.update([0]);
        }
        h.update(POPULAR_PYPI.as_bytes());
        h.update(POPULAR_NPM.as_bytes());
        h.update(PACKAGE_SOURCES.as_bytes());
        for info in crate::code_rules::ALL.iter().chain(crate::deps::RULES) {
            h.update(info.code.as_bytes());
            h.update([info.severity as u8]);
        }
        format!("sha256:{}", hex::encode(h.finalize()))
    }

    /// Adds the documented rules of another gate.
    pub fn register(&mut self, rules: &[CodeRuleInfo]) {
        self.other_gates.extend_from_slice(rules);
    }

    pub fn data_rules(&self) -> &[DataRule] {
        self.data.rules()
    }

    pub fn rule_set(&self) -> &crate::engine::RuleSet {
        &self.data
    }

    /// Every rule of every kind, sorted by code.
    pub fn docs(&self) -> Vec<RuleDoc> {
        let mut out: Vec<RuleDoc> = self
            .data_rules()
            .iter()
            .map(|r| RuleDoc {
                code: r.spec.code.clone(),
                slug: r.spec.slug.clone(),
                kind: "data",
                severity: r.spec.severity,
                summary: r.spec.summary.clone(),
                docs: if r.spec.matcher.instructions {
                    format!("{}\n{REFERENCE_ENTRIES_NOTE}", r.spec.docs.trim_end())
                } else {
                    r.spec.docs.clone()
                },
                help: Some(r.spec.help.clone()),
                source: Some(format!("rules/{}", r.source)),
                examples: Some((
                    r.spec.examples.positive.clone(),
                    r.spec.examples.negative.clone(),
                )),
            })
            .collect();
        for info in crate::code_rules::ALL
            .iter()
            .chain(crate::deps::RULES)
            .chain(&self.other_gates)
        {
            out.push(RuleDoc {
                code: info.code.into(),
                slug: info.slug.into(),
                kind: "code",
                severity: info.severity,
                summary: info.summary.into(),
                docs: info
                    .docs
                    .lines()
                    .map(|l| l.strip_prefix(' ').unwrap_or(l))
                    .collect::<Vec<_>>()
                    .join("\n"),
                help: None,
                source: None,
                examples: None,
            });
        }
        for lint in skillgate_model::lint::LINT_RULES {
            out.push(RuleDoc {
                code: lint.code.into(),
                slug: lint.slug.into(),
                kind: "spec",
                severity: lint.severity,
                summary: lint.summary.into(),
                docs: lint.docs.into(),
                help: None,
                source: None,
                examples: None,
            });
        }
        out.sort_by(|a, b| a.code.cmp(&b.code));
        out
    }

    pub fn explain(&self, code: &str) -> Option<RuleDoc> {
        let code = code.to_ascii_uppercase();
        self.docs()
            .into_iter()
            .find(|d| d.code == code || d.slug == code.to_ascii_lowercase())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_slugs_are_unique() {
        let reg = Registry::load().unwrap();
        let docs = reg.docs();
        let mut codes: Vec<_> = docs.iter().map(|d| d.code.clone()).collect();
        codes.dedup();
        assert_eq!(codes.len(), docs.len(), "duplicate rule code");
        let mut slugs: Vec<_> = docs.iter().map(|d| d.slug.clone()).collect();
        slugs.sort();
        slugs.dedup();
        assert_eq!(slugs.len(), docs.len(), "duplicate rule slug");
        assert!(docs.iter().all(|d| crate::rule::is_code(&d.code)));
        assert!(
            docs.iter().all(|d| !d.docs.trim().is_empty()),
            "every rule has docs"
        );
    }
}
