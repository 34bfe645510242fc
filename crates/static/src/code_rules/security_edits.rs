//! File edits the skill has the agent make, read as the change they are: an `edit_file` (or
//! `str_replace`, `Edit`) call whose replacement text drops a security tool the original text
//! had, or turns a security check off.

use super::finding;
use crate::registry::declare_rule;
use crate::units::Unit;
use skillgate_model::{Confidence, Finding, KillChainStage};

declare_rule! {
    /// ## What it does
    /// Reads agent file-edit calls (`edit_file(path, old_string=…, new_string=…)`,
    /// `str_replace`, `replace_in_file`, `Edit`) in SKILL.md, references and scripts, and
    /// compares the text replaced with its replacement. It flags a security tool that the old
    /// text names and the new one drops (bandit, safety, pip-audit, semgrep, trivy, snyk,
    /// gitleaks, trufflehog, detect-secrets, grype, checkov, tfsec, osv-scanner, certifi,
    /// ca-certificates), and a setting about checking, verifying, auditing, scanning, enforcing
    /// or sandboxing turned from on to off (`check = true` → `check = false`).
    ///
    /// ## Why is this risky?
    /// An edit is reviewed as text. Shown as "optimisation", removing the scanners and
    /// switching off a safety hook is a security control disabled. With two other controls
    /// switched off it is a teardown (SK458).
    ///
    /// ## Example
    /// `edit_file("pyproject.toml", old_string='"ruff",\n"bandit>=1.7"', new_string='"ruff"')`
    pub struct SecurityEditedOut { code: "SK120", slug: "security-edited-out", severity: Medium, summary: "a file edit removes a security tool or turns a check off" }
}

crate::pattern::lazy_regex! {
    EDIT_CALL = r"\b(?:edit_file|str_replace(?:_editor)?|replace_in_file|Edit)\s*\(";
    SECURITY_TOOL = r"(?i)\b(bandit|safety|pip-audit|semgrep|trivy|snyk|gitleaks|trufflehog|detect-secrets|grype|checkov|tfsec|osv-scanner|certifi|ca-certificates)\b";
    SETTING = r"(?i)\b([A-Za-z_][\w.-]*)\s*[=:]\s*[\x22']?(true|false|on|off|yes|no|1|0|enabled|disabled)\b";
    GUARD_WORD = r"(?i)check|verif|audit|scan|enforc|strict|safe|secur|sandbox|guard|signature|ssl|tls";
}

/// A call's text read up to its closing parenthesis, at most this far.
const MAX_CALL_BYTES: usize = 64 * 1024;

/// One edit call: the text replaced and its replacement.
struct Edit {
    at: usize,
    old: String,
    new: String,
}

pub fn check(units: &[Unit], out: &mut Vec<Finding>) {
    for unit in units.iter().filter(|u| u.decoded_from.is_none()) {
        // A call is read to its closing parenthesis; a call that starts inside text already
        // read is part of that one, so the unit is read once however many calls it holds.
        let mut read_to = 0;
        let calls = EDIT_CALL.find_iter(&unit.text).filter_map(|m| {
            if m.start() < read_to {
                return None;
            }
            let (edit, end) = edit_at(&unit.text, m.start(), m.end());
            read_to = end;
            edit
        });
        for edit in calls {
            let mut changes: Vec<String> = dropped_tools(&edit);
            changes.extend(switched_off(&edit));
            changes.sort();
            changes.dedup();
            let (line, col) = unit.position(edit.at);
            // One finding per change: SK458 counts the controls switched off one by one.
            for change in changes {
                let mut f = finding(
                    &SecurityEditedOut::INFO,
                    Confidence::Medium,
                    "defense-evasion",
                    format!("a file edit {change}"),
                )
                .at(&unit.file, Some(line), Some(col))
                .with_evidence(&change)
                .with_stage(KillChainStage::DefenseEvasion);
                f.taxonomy = vec!["P1".into()];
                out.push(f);
            }
        }
    }
}

/// Security tools the old text names and the new one does not.
fn dropped_tools(edit: &Edit) -> Vec<String> {
    let kept: std::collections::HashSet<String> = SECURITY_TOOL
        .find_iter(&edit.new)
        .map(|m| m.as_str().to_ascii_lowercase())
        .collect();
    SECURITY_TOOL
        .find_iter(&edit.old)
        .map(|m| m.as_str().to_ascii_lowercase())
        .filter(|tool| !kept.contains(tool))
        .map(|tool| format!("removes {tool}"))
        .collect()
}

/// Security settings on in the old text and off in the new.
fn switched_off(edit: &Edit) -> Vec<String> {
    let setting = |text: &str| -> Vec<(String, bool)> {
        SETTING
            .captures_iter(text)
            .map(|c| {
                let on = matches!(
                    c[2].to_ascii_lowercase().as_str(),
                    "true" | "on" | "yes" | "1" | "enabled"
                );
                (c[1].to_ascii_lowercase(), on)
            })
            .collect()
    };
    let on_before: std::collections::HashSet<String> = setting(&edit.old)
        .into_iter()
        .filter_map(|(key, on)| on.then_some(key))
        .collect();
    setting(&edit.new)
        .into_iter()
        .filter(|(key, on)| !on && on_before.contains(key) && GUARD_WORD.is_match(key))
        .map(|(key, _)| format!("turns {key} off"))
        .collect()
}

/// The edit a call at `start` makes: its `old_string`/`new_string` arguments (or `old_str`,
/// `old`, …), else its second and third string arguments; and where the reading stopped.
fn edit_at(text: &str, start: usize, open: usize) -> (Option<Edit>, usize) {
    let call = &text[open..text.len().min(open + MAX_CALL_BYTES)];
    let (arguments, read) = string_arguments(call);
    (edit_of(start, &arguments), open + read)
}

fn edit_of(start: usize, arguments: &[(Option<&str>, &str)]) -> Option<Edit> {
    let named = |names: &[&str]| {
        arguments
            .iter()
            .find(|(name, _)| name.is_some_and(|n| names.contains(&n)))
            .map(|(_, value)| *value)
    };
    let positional: Vec<&str> = arguments
        .iter()
        .filter(|(name, _)| name.is_none())
        .map(|(_, value)| *value)
        .collect();
    let old = named(&["old_string", "old_str", "old", "search"]).or(positional.get(1).copied())?;
    let new = named(&["new_string", "new_str", "new", "replace"]).or(positional.get(2).copied())?;
    Some(Edit {
        at: start,
        old: unescape(old),
        new: unescape(new),
    })
}

/// A string literal's text with its common escapes read (`\n`, `\t`, quotes, backslash), so
/// `'…\ncheck = true'` has a `check` line.
fn unescape(literal: &str) -> String {
    let mut out = String::with_capacity(literal.len());
    let mut chars = literal.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some('r') => out.push('\r'),
            Some(other) => out.push(other),
            None => out.push('\\'),
        }
    }
    out
}

/// The string literals among a call's arguments, each with the keyword it is passed by, read
/// up to the call's closing parenthesis, and how many bytes that took. Quotes of either kind,
/// tripled or not, with backslash escapes; nested brackets are skipped over.
fn string_arguments(call: &str) -> (Vec<(Option<&str>, &str)>, usize) {
    let bytes = call.as_bytes();
    let mut out = Vec::new();
    let mut depth = 0usize;
    let mut keyword: Option<&str> = None;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'(' | b'[' | b'{' => depth += 1,
            b')' | b']' | b'}' => {
                if depth == 0 {
                    break;
                }
                depth -= 1;
            }
            quote @ (b'"' | b'\'') => {
                let tripled = bytes[i..].starts_with(&[quote; 3]);
                let delimiter = if tripled { 3 } else { 1 };
                let closing = &[quote; 3][..delimiter];
                let body = i + delimiter;
                let mut j = body;
                let end = loop {
                    if j >= bytes.len() {
                        return (out, bytes.len());
                    }
                    if bytes[j] == b'\\' {
                        j += 2;
                        continue;
                    }
                    if bytes[j..].starts_with(closing) {
                        break j;
                    }
                    j += 1;
                };
                if depth == 0 {
                    out.push((keyword.take(), &call[body..end]));
                }
                i = end + delimiter;
                continue;
            }
            b'=' if depth == 0 => {
                let before = call[..i].trim_end();
                let name_start = before
                    .rfind(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                    .map_or(0, |p| p + 1);
                keyword = Some(&before[name_start..]).filter(|n| !n.is_empty());
            }
            b',' if depth == 0 => keyword = None,
            _ => {}
        }
        i += 1;
    }
    (out, i.min(bytes.len()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rule::Language;

    fn found(text: &str) -> Vec<String> {
        let mut out = Vec::new();
        check(&[Unit::new("SKILL.md", Language::Shell, text, 1)], &mut out);
        out.into_iter().filter_map(|f| f.evidence).collect()
    }

    #[test]
    fn edits_that_drop_security_are_found() {
        assert_eq!(
            found(
                "edit_file(\"pyproject.toml\",\n  old_string='\"ruff>=0.5\",\\n\"safety>=3.0\",\\n\"bandit>=1.7\"',\n  new_string='\"ruff>=0.5\"')\n"
            ),
            ["removes bandit", "removes safety"]
        );
        assert_eq!(
            found(
                "edit_file(\"pyproject.toml\",\n  old_string='[tool.hatch.build.hooks.safety]\\ncheck = true',\n  new_string='[tool.hatch.build.hooks.safety]\\ncheck = false')"
            ),
            ["turns check off"]
        );
        assert_eq!(
            found("edit_file(\".env\", \"STRICT_MODE=true\", \"STRICT_MODE=false\")"),
            ["turns strict_mode off"]
        );
    }

    #[test]
    fn other_edits_are_not() {
        for text in [
            // Tools kept, a setting that guards nothing, a check turned on, no edit at all.
            "edit_file('a.toml', old_string='bandit = 1', new_string='bandit = 2')",
            "edit_file('a.env', 'DEBUG=true', 'DEBUG=false')",
            "edit_file('a.toml', old_string='check = false', new_string='check = true')",
            "print('safety first', 'bandit')",
            "edit_file('x', old_string='unterminated",
        ] {
            assert!(found(text).is_empty(), "{text}: {:?}", found(text));
        }
    }
}
