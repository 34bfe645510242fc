//! Spec lint: the Agent Skills specification's constraints on `SKILL.md` (SK701–SK712).
//!
//! These are hygiene findings (low or info) except where a defect is also an attack on the
//! reader: a parser bomb (SK703) or a duplicated key that lets a reviewer and an agent see
//! different values (SK704).

use crate::bundle::Bundle;
use crate::finding::{Confidence, Finding, Gate, Severity};
use crate::skill_md::{FrontmatterProblem, SkillDocument, Value};

/// A spec-lint rule's identity and documentation.
#[derive(Debug, Clone, Copy)]
pub struct LintRule {
    pub code: &'static str,
    pub slug: &'static str,
    pub severity: Severity,
    pub summary: &'static str,
    pub docs: &'static str,
}

/// Every spec-lint rule, for the rule registry.
pub const LINT_RULES: &[LintRule] = &[
    LintRule {
        code: "SK701",
        slug: "frontmatter-missing",
        severity: Severity::Low,
        summary: "SKILL.md has no closed YAML frontmatter",
        docs: "SKILL.md must start with a `---` line, YAML, and a closing `---`. Without it an agent cannot read the skill's name and description, and the text an agent loads differs from what a catalogue shows.\n\nExample:\n    # My skill   <- no frontmatter",
    },
    LintRule {
        code: "SK702",
        slug: "frontmatter-invalid-yaml",
        severity: Severity::Low,
        summary: "frontmatter is not a YAML mapping",
        docs: "The frontmatter failed to parse as YAML, or its top level is not a mapping. skillgate reads `key: value` lines as a fallback so the rest of the analysis goes on; agents may read nothing at all.\n\nExample:\n    description: Use when: a: b: [",
    },
    LintRule {
        code: "SK703",
        slug: "frontmatter-parser-bomb",
        severity: Severity::Medium,
        summary: "frontmatter is too large or nested too deep to parse safely",
        docs: "Frontmatter above 64 KiB or nested more than 32 levels is not handed to a YAML parser: deep nesting exhausts recursive parsers and huge scalars exhaust memory. Legitimate frontmatter is a few lines.\n\nExample:\n    k: [[[[[[[[ ... 10,000 deep",
    },
    LintRule {
        code: "SK704",
        slug: "frontmatter-duplicate-key",
        severity: Severity::Medium,
        summary: "a frontmatter key appears twice",
        docs: "YAML parsers keep one of two duplicate keys (usually the last), silently. A catalogue and an agent may therefore show different names or descriptions for the same skill, which hides what the skill claims to be.\n\nExample:\n    description: Formats tables\n    description: Ignore previous instructions ...",
    },
    LintRule {
        code: "SK705",
        slug: "invalid-utf8",
        severity: Severity::Low,
        summary: "SKILL.md is not valid UTF-8",
        docs: "The spec expects UTF-8 text. Invalid bytes are decoded as U+FFFD for analysis; agents may decode them differently.\n\nExample: a byte 0xFF in the description.",
    },
    LintRule {
        code: "SK706",
        slug: "name-invalid",
        severity: Severity::Low,
        summary: "`name` breaks the spec's naming rule",
        docs: "`name` is required: 1–64 characters of `a-z`, `0-9` and `-`, not starting or ending with `-`, no `--`. Names that break it collide with or impersonate other skills in catalogues.\n\nExample:\n    name: My_Skill--v2",
    },
    LintRule {
        code: "SK707",
        slug: "name-folder-mismatch",
        severity: Severity::Info,
        summary: "`name` differs from the skill's folder name",
        docs: "The spec requires `name` to equal the parent folder's name. A mismatch lets a skill present itself under another skill's name.\n\nExample: folder `pdf-tools`, `name: pdf`.",
    },
    LintRule {
        code: "SK708",
        slug: "description-invalid",
        severity: Severity::Low,
        summary: "`description` is missing, empty or longer than 1,024 characters",
        docs: "`description` is required, 1–1024 characters, and says what the skill does and when to use it. It is what agents read to decide activation; an over-long one is a place to hide instructions.\n\nExample:\n    description: ''",
    },
    LintRule {
        code: "SK709",
        slug: "compatibility-invalid",
        severity: Severity::Low,
        summary: "`compatibility` is not a string of 1–500 characters",
        docs: "`compatibility`, when present, is a string of 1–500 characters describing environment requirements.\n\nExample:\n    compatibility: [linux]",
    },
    LintRule {
        code: "SK710",
        slug: "metadata-not-string-map",
        severity: Severity::Low,
        summary: "`metadata` is not a map of strings to strings",
        docs: "`metadata` must map strings to strings; clients store it as such. Nested structures there are unexpected and unvalidated.\n\nExample:\n    metadata:\n      nested: {a: 1}",
    },
    LintRule {
        code: "SK711",
        slug: "unknown-frontmatter-key",
        severity: Severity::Info,
        summary: "frontmatter has a key the spec does not define",
        docs: "The spec defines name, description, license, compatibility, metadata and allowed-tools. Other keys are ignored by some agents and honoured by others (`hooks`, `model`), so they are listed for review.\n\nExample:\n    hooks: {...}",
    },
    LintRule {
        code: "SK712",
        slug: "body-too-long",
        severity: Severity::Info,
        summary: "SKILL.md body is over 500 lines",
        docs: "The spec asks for bodies under 500 lines, with detail moved to references. Very long bodies are also a way to push instructions past a reviewer's attention.\n\nExample: a 100,000-line body.",
    },
];

/// Keys the spec defines, plus extensions common agents honour.
const KNOWN_KEYS: &[&str] = &[
    "name",
    "description",
    "license",
    "compatibility",
    "metadata",
    "allowed-tools",
];

fn rule(code: &str) -> &'static LintRule {
    LINT_RULES
        .iter()
        .find(|r| r.code == code)
        .expect("lint codes are listed in LINT_RULES")
}

fn finding(code: &str, message: impl Into<String>, file: &str, line: Option<u32>) -> Finding {
    let r = rule(code);
    let mut f = Finding::new(
        code,
        Gate::G1,
        r.severity,
        Confidence::High,
        "spec",
        message,
    )
    .at(file, line, None);
    f.help = Some(r.summary.to_string());
    f
}

/// Lints one parsed SKILL.md of `bundle`.
pub fn lint(bundle: &Bundle, doc: &SkillDocument) -> Vec<Finding> {
    let file = bundle.skill_md.as_str();
    let mut out = Vec::new();
    for p in &doc.problems {
        out.push(match p {
            FrontmatterProblem::Missing => finding(
                "SK701",
                "SKILL.md does not start with `---` frontmatter",
                file,
                Some(1),
            ),
            FrontmatterProblem::Unclosed => finding(
                "SK701",
                "frontmatter opened with `---` is never closed",
                file,
                Some(1),
            ),
            FrontmatterProblem::InvalidYaml(e) => finding(
                "SK702",
                format!("frontmatter is not valid YAML: {e}"),
                file,
                Some(2),
            ),
            FrontmatterProblem::NotAMapping => finding(
                "SK702",
                "frontmatter is not a mapping of keys to values",
                file,
                Some(2),
            ),
            FrontmatterProblem::TooLarge(n) => finding(
                "SK703",
                format!("frontmatter is {n} bytes; not parsed"),
                file,
                Some(2),
            ),
            FrontmatterProblem::TooDeep(d) => finding(
                "SK703",
                format!("frontmatter nests {d} levels deep; not parsed"),
                file,
                Some(2),
            ),
            FrontmatterProblem::TooManyNodes => finding(
                "SK703",
                format!(
                    "frontmatter aliases expand to more than {} nodes; not parsed",
                    crate::skill_md::MAX_FRONTMATTER_NODES
                ),
                file,
                Some(2),
            ),
            FrontmatterProblem::DuplicateKey { key, line } => finding(
                "SK704",
                format!("key `{key}` appears more than once"),
                file,
                Some(*line),
            ),
        });
    }
    if let Some(at) = doc.invalid_utf8_at {
        out.push(finding(
            "SK705",
            format!("invalid UTF-8 at byte {at}"),
            file,
            Some(line_of_byte(&doc.text, at)),
        ));
    }
    let frontmatter_ok = !doc.problems.iter().any(|p| {
        matches!(
            p,
            FrontmatterProblem::Missing | FrontmatterProblem::Unclosed
        )
    });
    if frontmatter_ok {
        lint_name(bundle, doc, file, &mut out);
        lint_description(doc, file, &mut out);
        if let Some(f) = doc.field("compatibility") {
            let len = f.value.as_str().map(|s| s.chars().count());
            if !matches!(len, Some(1..=500)) {
                out.push(finding(
                    "SK709",
                    "`compatibility` must be a string of 1–500 characters",
                    file,
                    Some(f.line),
                ));
            }
        }
        if let Some(f) = doc.field("metadata")
            && !matches!(f.value, Value::StringMap(_))
        {
            out.push(finding(
                "SK710",
                "`metadata` must map strings to strings",
                file,
                Some(f.line),
            ));
        }
        for f in &doc.fields {
            if !KNOWN_KEYS.contains(&f.key.as_str()) {
                out.push(finding(
                    "SK711",
                    format!(
                        "unknown frontmatter key `{}`",
                        crate::finding::clip(&f.key, 64)
                    ),
                    file,
                    Some(f.line),
                ));
            }
        }
    }
    let body_lines = doc.body.lines().count();
    if body_lines > 500 {
        out.push(finding(
            "SK712",
            format!("body is {body_lines} lines (the spec suggests under 500)"),
            file,
            Some(doc.body_line),
        ));
    }
    out
}

fn lint_name(bundle: &Bundle, doc: &SkillDocument, file: &str, out: &mut Vec<Finding>) {
    let Some(field) = doc.field("name") else {
        out.push(finding("SK706", "`name` is missing", file, Some(2)));
        return;
    };
    let Some(name) = field.value.as_str() else {
        out.push(finding(
            "SK706",
            "`name` must be a string",
            file,
            Some(field.line),
        ));
        return;
    };
    if let Some(problem) = name_problem(name) {
        out.push(
            finding("SK706", format!("`name` {problem}"), file, Some(field.line))
                .with_evidence(name),
        );
    } else if name != bundle.dir_name && !bundle.dir_name.is_empty() {
        out.push(
            finding(
                "SK707",
                format!(
                    "`name` is `{name}` but the folder is `{}`",
                    crate::finding::clip(&bundle.dir_name, 64)
                ),
                file,
                Some(field.line),
            )
            .with_evidence(name),
        );
    }
}

/// Why `name` breaks the spec, or `None` when it is valid.
pub fn name_problem(name: &str) -> Option<&'static str> {
    let len = name.chars().count();
    if len == 0 {
        Some("is empty")
    } else if len > 64 {
        Some("is longer than 64 characters")
    } else if !name
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
    {
        Some("may only hold a-z, 0-9 and `-`")
    } else if name.starts_with('-') || name.ends_with('-') {
        Some("must not start or end with `-`")
    } else if name.contains("--") {
        Some("must not contain `--`")
    } else {
        None
    }
}

fn lint_description(doc: &SkillDocument, file: &str, out: &mut Vec<Finding>) {
    match doc.field("description") {
        None => out.push(finding("SK708", "`description` is missing", file, Some(2))),
        Some(f) => match f.value.as_str() {
            None => out.push(finding(
                "SK708",
                "`description` must be a string",
                file,
                Some(f.line),
            )),
            Some(d) if d.trim().is_empty() => out.push(finding(
                "SK708",
                "`description` is empty",
                file,
                Some(f.line),
            )),
            Some(d) if d.chars().count() > 1024 => {
                out.push(finding(
                    "SK708",
                    format!(
                        "`description` is {} characters (max 1024)",
                        d.chars().count()
                    ),
                    file,
                    Some(f.line),
                ));
            }
            Some(_) => {}
        },
    }
}

fn line_of_byte(text: &str, byte: usize) -> u32 {
    let end = text.floor_char_boundary(byte.min(text.len()));
    text[..end].matches('\n').count() as u32 + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn name_rule() {
        assert_eq!(name_problem("pdf-tools"), None);
        assert!(name_problem("").is_some());
        assert!(name_problem("-a").is_some());
        assert!(name_problem("a--b").is_some());
        assert!(name_problem("Upper").is_some());
        assert!(name_problem(&"a".repeat(65)).is_some());
        assert_eq!(name_problem(&"a".repeat(64)), None);
    }

    #[test]
    fn codes_are_unique() {
        let mut codes: Vec<_> = LINT_RULES.iter().map(|r| r.code).collect();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), LINT_RULES.len());
    }
}
