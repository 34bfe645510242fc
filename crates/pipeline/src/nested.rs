//! Bundled skills: a skill folder carrying another skill's folder (or an archive of one) is
//! judged with what it carries. Each carried skill is a subject of its own, with its own report;
//! one the carrier installs or loads is a link in its composition, so the carrier is only as
//! trusted as it (a carrier that holds a rejected skill it installs is rejected).
//!
//! A carried skill the carrier never names and never installs (a scanner's test fixtures, an
//! example kept for documentation) is still reported, but does not lower the carrier.

use crate::report::{Reason, SkillReport};
use skillgate_model::bundle::Bundle;
use skillgate_model::composition::{Link, LinkKind};
use skillgate_model::{Capability, Decision, FileKind};

/// Whether the carrier installs or loads the skill it carries at `prefix`: it installs skills
/// at all (any gate saw `skill.install`), it links the carried skill's name, or its own text
/// names the carried folder's path.
pub(crate) fn composed_by(
    carrier: &Bundle,
    prefix: &str,
    report: &SkillReport,
    name: Option<&str>,
) -> bool {
    // An install seen in the carried skill's own files is the carried skill's, not the
    // carrier's (a scanner's fixture that installs is still only a fixture).
    let installs = report.findings.iter().any(|f| {
        f.capability == Some(Capability::SkillInstall)
            && !f.file.as_deref().is_some_and(|file| under(file, prefix))
    });
    let linked = name.is_some_and(|n| report.links.iter().any(|l| l.name.eq_ignore_ascii_case(n)));
    installs || linked || names_path(carrier, prefix)
}

/// Whether a text file of the carrier outside `prefix` names `prefix` as a path: `helper/`,
/// `./helper`, `skills/helper/SKILL.md`, `cp -r helper ~/...`.
fn names_path(carrier: &Bundle, prefix: &str) -> bool {
    let needle = prefix.trim_end_matches('!').as_bytes();
    carrier
        .files
        .iter()
        .filter(|f| matches!(f.kind, FileKind::Text | FileKind::Executable))
        .filter(|f| !under(&f.path, prefix))
        .any(|f| contains_path(&f.bytes, needle))
}

/// Whether bundle path `path` lies inside the carried skill at `prefix`.
fn under(path: &str, prefix: &str) -> bool {
    path.strip_prefix(prefix)
        .is_some_and(|r| r.starts_with('/') || r.starts_with('!'))
}

fn contains_path(hay: &[u8], needle: &[u8]) -> bool {
    let is_name = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.');
    let mut from = 0;
    while let Some(at) = find(&hay[from..], needle).map(|i| i + from) {
        let before = at.checked_sub(1).map(|i| hay[i]);
        let after = hay.get(at + needle.len()).copied();
        // `.` after the path ends a sentence ("copy helper.") but also starts an extension.
        let after_ok = match after {
            None => true,
            Some(b'.') => !hay
                .get(at + needle.len() + 1)
                .is_some_and(|b| b.is_ascii_alphanumeric()),
            Some(b) => !is_name(b),
        };
        if !before.is_some_and(is_name) && after_ok {
            return true;
        }
        from = at + 1;
    }
    false
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() || needle.len() > hay.len() {
        return None;
    }
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Lowers the carrier's verdict to the carried skill's when that is worse, with the reason, and
/// records the link so a later demotion of the carried skill caps the carrier too.
pub(crate) fn inherit(carrier: &mut SkillReport, carried: &SkillReport, prefix: &str) {
    let who = match &carried.name {
        Some(n) => format!("bundled skill `{n}` ({prefix})"),
        None => format!("bundled skill at {prefix}"),
    };
    if let Some(name) = &carried.name {
        let name = name.to_ascii_lowercase();
        let own = carrier.name.as_deref().map(str::to_ascii_lowercase);
        if own.as_deref() != Some(name.as_str())
            && !carrier
                .links
                .iter()
                .any(|l| l.name == name && l.kind == LinkKind::Bundles)
        {
            carrier.links.push(Link {
                name,
                kind: LinkKind::Bundles,
            });
            carrier.links.sort();
        }
    }
    let first = carried
        .reasons
        .first()
        .map_or_else(String::new, |r| format!(": {}", r.reason));
    match (carried.decision, carrier.decision) {
        (Decision::Reject, Decision::Admit) => {
            carrier.decision = Decision::Reject;
            carrier.tier = None;
            carrier.reasons.insert(
                0,
                Reason {
                    gate: None,
                    code: None,
                    reason: format!(
                        "{who}, which this skill installs or loads, is rejected{first}"
                    ),
                },
            );
        }
        (Decision::Reject, Decision::Reject) => carrier.reasons.push(Reason {
            gate: None,
            code: None,
            reason: format!("{who}, which this skill installs or loads, is rejected too{first}"),
        }),
        (Decision::Admit, Decision::Admit) => {
            if let (Some(inner), Some(outer)) = (carried.tier, carrier.tier)
                && inner < outer
            {
                carrier.tier = Some(inner);
                carrier.reasons.push(Reason {
                    gate: None,
                    code: None,
                    reason: format!(
                        "capped at {inner} by {who}, which this skill installs or loads{first}"
                    ),
                });
            }
        }
        (Decision::Admit, Decision::Reject) => {}
    }
}

#[cfg(test)]
mod tests {
    use super::contains_path;

    #[test]
    fn a_path_is_named_only_as_a_whole() {
        assert!(contains_path(b"cp -r helper ~/.claude/skills/", b"helper"));
        assert!(contains_path(
            b"see skills/helper/SKILL.md",
            b"skills/helper"
        ));
        assert!(contains_path(b"copy helper.", b"helper"));
        assert!(!contains_path(b"the helpers run", b"helper"));
        assert!(!contains_path(b"my-helper", b"helper"));
        assert!(!contains_path(b"helper.py", b"helper"));
    }
}
