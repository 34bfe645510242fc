//! Data rules: one YAML file per rule under `rules/`, compiled once into a matcher.

use serde::Deserialize;
use skillgate_model::{Capability, Confidence, KillChainStage, Severity};

/// Where a rule looks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Language {
    /// Markdown prose of SKILL.md and references, and frontmatter.
    Prose,
    /// Python scripts and `python` code blocks.
    Python,
    /// Shell scripts and shell code blocks.
    Shell,
    /// Any code: scripts and code blocks in every language, including JavaScript and PowerShell.
    Code,
    /// Every text unit.
    Any,
}

/// A data rule as written in YAML.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleSpec {
    pub code: String,
    pub slug: String,
    pub summary: String,
    pub severity: Severity,
    pub confidence: Confidence,
    pub category: String,
    #[serde(default)]
    pub taxonomy: Vec<String>,
    pub kill_chain: KillChainStage,
    #[serde(default)]
    pub capability: Option<Capability>,
    pub languages: Vec<Language>,
    /// Only files whose bundle path matches one of these suffixes (e.g. `.md`); empty = all.
    #[serde(default)]
    pub paths: Vec<String>,
    #[serde(rename = "match")]
    pub matcher: MatchSpec,
    /// A regex over the skill's name and description naming the technique this rule finds
    /// (`reverse shells`). When a security-work skill declares the technique as what it is for,
    /// and the matched line reaches no public endpoint, the finding is a declared capability:
    /// high at most, with no kill-chain stage, so the skill is held at T1 rather than rejected.
    #[serde(default)]
    pub declared_by: Option<String>,
    pub message: String,
    pub help: String,
    pub docs: String,
    pub examples: Examples,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MatchSpec {
    #[serde(default)]
    pub regex: Option<String>,
    /// A tree-sitter query; the capture `@match` (or the first capture) is reported.
    #[serde(default)]
    pub tree_sitter: Option<TreeSitterSpec>,
    /// A match is dropped when the text around it (the matched line) matches this.
    #[serde(default)]
    pub unless: Option<String>,
    /// Strings (ASCII case-insensitive) of which every match contains at least one. A unit
    /// holding none is skipped without running the matcher: one literal search instead of a
    /// regex walk over every byte, for patterns the regex engine cannot prefilter itself.
    /// For a tree-sitter rule they are whole identifiers (`exec` is not found in `execute`), so
    /// a file is parsed only when one occurs.
    #[serde(default)]
    pub keywords: Vec<String>,
    /// The rule matches instructions to the agent. A Markdown table row, or a list item defining
    /// a backticked name (`` - `acceptEdits` - Auto-approve file edits ``), documents options and
    /// endpoints rather than instructing, and a match there is dropped. Used where reference
    /// tables caused false rejections (credential collection, approval bypass); the override and
    /// secrecy rules do without it, since a planted override works as well from a table cell.
    #[serde(default)]
    pub instructions: bool,
    /// How the words must be read to count (`skillgate_instructions`, the same reading G2
    /// gives directives):
    /// - `directive`: *used* as a directive to the agent, not only mentioned. A match in a
    ///   heading, a link's text, a negated or warning sentence ("never print API keys"), a step
    ///   for the user in a product's interface ("copy the key from the dashboard"), or a
    ///   sentence that describes rather than instructs ("a full export loses secrets") is dropped.
    /// - `secrecy`: hiding the skill's *own* actions from the user. Advice about what to tell
    ///   the user ("do not tell the user to increase RAM", "never tell the user it is deployed
    ///   before it is"), a tool's behaviour described ("instead of silently running"), and a
    ///   category of operation ("network calls without user consent") are dropped.
    #[serde(default)]
    pub reading: Option<RequiredReading>,
}

/// See [`MatchSpec::reading`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RequiredReading {
    Directive,
    Secrecy,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TreeSitterSpec {
    pub language: TsLanguage,
    pub query: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TsLanguage {
    Python,
    Bash,
}

/// Examples that must (and must not) match; one test runs them all.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Examples {
    #[serde(rename = "match")]
    pub positive: Vec<String>,
    #[serde(rename = "no_match")]
    pub negative: Vec<String>,
}

/// A compiled matcher.
pub enum Matcher {
    Regex {
        exact: regex::Regex,
        /// A superset of `exact` that is cheaper to search (see [`crate::pattern::screen`]):
        /// a window it does not match holds no match.
        screen: Option<regex::Regex>,
    },
    TreeSitter {
        language: TsLanguage,
        query: tree_sitter::Query,
    },
}

/// A data rule ready to run.
pub struct DataRule {
    pub spec: RuleSpec,
    pub matcher: Matcher,
    pub unless: Option<regex::Regex>,
    /// See [`RuleSpec::declared_by`].
    pub declared_by: Option<regex::Regex>,
    /// The matcher may be run on the lines around its keywords instead of the whole unit: it has
    /// keywords, and is a tree-sitter query or a regex without a `^`/`$` that would mean the
    /// unit's start or end rather than a line's.
    pub windowed: bool,
    /// File the rule came from, relative to `rules/`.
    pub source: String,
}

/// A rule file that cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RuleError {
    #[error("rules/{file}: invalid YAML: {message}")]
    Yaml { file: String, message: String },
    #[error("rules/{file}: {message}")]
    Invalid { file: String, message: String },
}

impl DataRule {
    pub fn compile(source: &str, yaml: &str) -> Result<Self, RuleError> {
        Self::compile_as(source, yaml, false)
    }

    /// A rule of the user's own: its code is `SKX` and three digits, a range skillgate never
    /// uses, so local rules never collide with ours.
    pub fn compile_custom(source: &str, yaml: &str) -> Result<Self, RuleError> {
        Self::compile_as(source, yaml, true)
    }

    fn compile_as(source: &str, yaml: &str, custom: bool) -> Result<Self, RuleError> {
        let spec: RuleSpec = serde_norway::from_str(yaml).map_err(|e| RuleError::Yaml {
            file: source.into(),
            message: e.to_string(),
        })?;
        let invalid = |message: String| RuleError::Invalid {
            file: source.into(),
            message,
        };
        if custom && !is_custom_code(&spec.code) {
            return Err(invalid(format!(
                "code `{}`: custom rules use SKX followed by three digits",
                spec.code
            )));
        }
        if !custom && !is_code(&spec.code) {
            return Err(invalid(format!(
                "code `{}` is not SK followed by three digits",
                spec.code
            )));
        }
        let matcher = match (&spec.matcher.regex, &spec.matcher.tree_sitter) {
            (Some(re), None) => Matcher::Regex {
                exact: crate::pattern::compile(re)
                    .map_err(|e| invalid(format!("bad regex: {e}")))?,
                screen: crate::pattern::screen(re),
            },
            (None, Some(ts)) => {
                let language = crate::engine::ts_language(ts.language);
                let query = tree_sitter::Query::new(&language, &ts.query)
                    .map_err(|e| invalid(format!("bad tree-sitter query: {e}")))?;
                Matcher::TreeSitter {
                    language: ts.language,
                    query,
                }
            }
            _ => {
                return Err(invalid(
                    "`match` needs exactly one of `regex` or `tree_sitter`".into(),
                ));
            }
        };
        let unless = spec
            .matcher
            .unless
            .as_deref()
            .map(crate::pattern::compile)
            .transpose()
            .map_err(|e| invalid(format!("bad `unless` regex: {e}")))?;
        let declared_by = spec
            .declared_by
            .as_deref()
            .map(crate::pattern::compile)
            .transpose()
            .map_err(|e| invalid(format!("bad `declared_by` regex: {e}")))?;
        if spec.examples.positive.is_empty() || spec.examples.negative.is_empty() {
            return Err(invalid(
                "every rule needs at least one `match` and one `no_match` example".into(),
            ));
        }
        // An empty keyword is in every text: the rule would look filtered and not be.
        if spec.matcher.keywords.iter().any(|k| k.is_empty()) {
            return Err(invalid("`keywords` holds an empty string".into()));
        }
        let windowed = !spec.matcher.keywords.is_empty()
            && spec
                .matcher
                .regex
                .as_deref()
                .is_none_or(|re| !anchored_to_text(re));
        Ok(Self {
            spec,
            matcher,
            unless,
            declared_by,
            windowed,
            source: source.into(),
        })
    }

    pub fn applies_to(&self, lang: Language, path: &str) -> bool {
        let lang_ok = self.spec.languages.iter().any(|l| match l {
            Language::Any => true,
            Language::Code => lang != Language::Prose,
            other => *other == lang,
        });
        let path_ok = self.spec.paths.is_empty()
            || self.spec.paths.iter().any(|p| path.ends_with(p.as_str()));
        lang_ok && path_ok
    }
}

/// Whether a pattern has `^`, `$`, `\\A` or `\\z` outside a class, without multi-line mode: then
/// it speaks of the whole text and cannot be run on a window of lines.
pub(crate) fn anchored_to_text(pattern: &str) -> bool {
    let multi_line = pattern.starts_with("(?")
        && pattern[2..]
            .split(')')
            .next()
            .is_some_and(|flags| flags.contains('m'));
    let bytes = pattern.as_bytes();
    let mut in_class = false;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => {
                if matches!(bytes.get(i + 1), Some(b'A' | b'z')) {
                    return true;
                }
                i += 1;
            }
            b'[' => in_class = true,
            b']' => in_class = false,
            b'^' | b'$' if !in_class && !multi_line => return true,
            _ => {}
        }
        i += 1;
    }
    false
}

/// `SKX` and three digits: the codes of custom rules.
pub fn is_custom_code(code: &str) -> bool {
    code.len() == 6 && code.starts_with("SKX") && code[3..].bytes().all(|b| b.is_ascii_digit())
}

pub fn is_code(code: &str) -> bool {
    code.len() == 5 && code.starts_with("SK") && code[2..].bytes().all(|b| b.is_ascii_digit())
}
