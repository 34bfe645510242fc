//! Waivers: a reviewer's acceptance of one finding, bound so that it never carries over to
//! content nobody reviewed.
//!
//! A waiver names three things: the skill's content hash, the finding's fingerprint (rule, file
//! and the text it fired on; [`skillgate_model::Finding::fingerprint`]) and the policy hash.
//! Change one byte of the skill, fire the same rule on other text, or change the policy, and it
//! no longer applies. A waived finding stays in the report, marked `waived` with who, why and
//! until when, and no longer counts toward the verdict. Waiving a critical finding needs two
//! different reviewers. A waiver past its date stops applying.
//!
//! The file lives in the repository (`.skillgate/waivers.toml`), for pre-commit and CI:
//!
//! ```toml
//! [[waiver]]
//! skill = "sha256:…"           # content hash
//! rule = "SK304"
//! fingerprint = "4f2a…"        # from the JSON report or `skillgate why`
//! policy = "sha256:…"          # the policy hash in force
//! reason = "pinned by the lock file next to it"
//! by = ["alice"]               # two different people for a critical finding
//! expires = "2027-06-30"       # optional
//! location = "SKILL.md:12"     # optional, for the reader
//! ```

use crate::policy::Policy;
use crate::report::SkillReport;
use serde::{Deserialize, Serialize};
use skillgate_model::{GateReport, Severity, Waived};

/// One entry of a waiver file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    pub skill: String,
    pub rule: String,
    pub fingerprint: String,
    pub policy: String,
    pub reason: String,
    pub by: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    waiver: Vec<Entry>,
}

/// A waiver file that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum WaiverError {
    #[error("{source_name}: {message}")]
    Syntax {
        source_name: String,
        message: String,
    },
    #[error("{source_name}: waiver {index} (line {line}): {message}")]
    Entry {
        source_name: String,
        index: usize,
        line: usize,
        message: String,
    },
}

/// What became of one waiver in a run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "status", content = "why")]
pub enum Status {
    /// Applied to at least one finding.
    Applied,
    /// Its skill was scanned, but no finding has its rule and fingerprint.
    Unused,
    /// No scanned skill has its content hash: the skill changed, or was not scanned.
    Stale,
    /// Past its date.
    Expired,
    /// Bound to another policy than the one in force.
    OtherPolicy,
    /// Not applicable as written (a critical finding with one reviewer).
    Refused(String),
}

/// A parsed waiver file.
#[derive(Debug, Clone)]
pub struct Waivers {
    source: String,
    entries: Vec<Entry>,
}

fn is_hash(s: &str) -> bool {
    s.strip_prefix("sha256:")
        .is_some_and(|h| h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// `YYYY-MM-DD`.
fn parse_date(s: &str) -> Option<time::Date> {
    let mut parts = s.split('-');
    let (y, m, d) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || y.len() != 4 || m.len() != 2 || d.len() != 2 {
        return None;
    }
    let month = time::Month::try_from(m.parse::<u8>().ok()?).ok()?;
    time::Date::from_calendar_date(y.parse().ok()?, month, d.parse().ok()?).ok()
}

impl Waivers {
    /// Parses a waiver file; an unknown key, a bad date or a malformed hash is an error naming
    /// the entry and its line.
    pub fn parse(text: &str, source_name: &str) -> Result<Self, WaiverError> {
        let file: File = toml::from_str(text).map_err(|e| WaiverError::Syntax {
            source_name: source_name.to_string(),
            message: e.to_string(),
        })?;
        // Where each `[[waiver]]` starts, for messages about its values.
        let starts: Vec<usize> = text
            .lines()
            .enumerate()
            .filter(|(_, l)| l.trim() == "[[waiver]]")
            .map(|(i, _)| i + 1)
            .collect();
        for (index, e) in file.waiver.iter().enumerate() {
            let fail = |message: String| WaiverError::Entry {
                source_name: source_name.to_string(),
                index: index + 1,
                line: starts.get(index).copied().unwrap_or(0),
                message,
            };
            if !is_hash(&e.skill) {
                return Err(fail(format!(
                    "`skill` must be a content hash (sha256: and 64 hex digits), not `{}`",
                    e.skill
                )));
            }
            if !is_hash(&e.policy) {
                return Err(fail(format!(
                    "`policy` must be a policy hash (sha256: and 64 hex digits), not `{}`",
                    e.policy
                )));
            }
            if e.fingerprint.len() != 16 || !e.fingerprint.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(fail(format!(
                    "`fingerprint` must be the 16 hex digits a report gives, not `{}`",
                    e.fingerprint
                )));
            }
            if e.reason.trim().is_empty() {
                return Err(fail("`reason` is empty".into()));
            }
            if e.by.iter().all(|b| b.trim().is_empty()) {
                return Err(fail("`by` names nobody".into()));
            }
            if let Some(d) = &e.expires
                && parse_date(d).is_none()
            {
                return Err(fail(format!(
                    "`expires` must be a date, YYYY-MM-DD, not `{d}`"
                )));
            }
        }
        Ok(Self {
            source: source_name.to_string(),
            entries: file.waiver,
        })
    }

    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// Applies the waivers bound to `report`'s skill, and recomputes its verdict from its gate
    /// reports. Returns the status of each entry that names this skill, by index.
    pub fn apply(
        &self,
        report: &mut SkillReport,
        policy: &Policy,
        today: time::Date,
    ) -> Vec<(usize, Status)> {
        let Some(hash) = report.hash.clone() else {
            return Vec::new();
        };
        let mut statuses = Vec::new();
        let mut changed = false;
        for (i, e) in self.entries.iter().enumerate() {
            if e.skill != hash {
                continue;
            }
            if e.policy != policy.hash() {
                statuses.push((i, Status::OtherPolicy));
                continue;
            }
            if e.expires
                .as_deref()
                .and_then(parse_date)
                .is_some_and(|d| d < today)
            {
                statuses.push((i, Status::Expired));
                continue;
            }
            let mut reviewers: Vec<&str> =
                e.by.iter()
                    .map(|b| b.trim())
                    .filter(|b| !b.is_empty())
                    .collect();
            reviewers.sort_unstable();
            reviewers.dedup();
            let mut status = Status::Unused;
            for g in report.gates.values_mut() {
                for f in g
                    .findings
                    .iter_mut()
                    .filter(|f| f.code == e.rule && f.fingerprint() == e.fingerprint)
                {
                    if f.severity == Severity::Critical && reviewers.len() < 2 {
                        status = Status::Refused(
                            "waiving a critical finding needs a second, different reviewer".into(),
                        );
                        continue;
                    }
                    f.waived = Some(Waived {
                        by: e.by.clone(),
                        reason: e.reason.clone(),
                        expires: e.expires.clone(),
                        source: self.source.clone(),
                    });
                    status = Status::Applied;
                    changed = true;
                }
            }
            statuses.push((i, status));
        }
        if changed {
            recompute(report, policy);
        }
        statuses
    }
}

/// The verdict again, from the report's own gate reports: what a waiver changes needs no rescan.
pub fn recompute(report: &mut SkillReport, policy: &Policy) {
    let gates: Vec<GateReport> = report
        .gates
        .iter()
        .filter_map(|(name, g)| {
            Some(GateReport {
                gate: skillgate_model::Gate::ALL
                    .into_iter()
                    .find(|g| g.as_str() == name)?,
                status: g.status,
                findings: g.findings.clone(),
                capabilities: g.capabilities.clone(),
                note: g.note.clone(),
            })
        })
        .collect();
    let verdict = policy.decide(&gates);
    report.decision = verdict.decision;
    report.tier = verdict.tier;
    report.reasons = verdict.reasons;
    report.findings = gates.into_iter().flat_map(|g| g.findings).collect();
    let nested = std::mem::take(&mut report.nested);
    for inner in &nested {
        if inner.composed {
            let prefix = inner
                .path
                .strip_prefix(&report.path)
                .unwrap_or(&inner.path)
                .trim_start_matches(['/', '!']);
            crate::nested::inherit(report, inner, prefix);
        }
    }
    report.nested = nested;
}

/// Today's date, UTC.
pub fn today() -> time::Date {
    time::OffsetDateTime::now_utc().date()
}

#[cfg(test)]
mod tests {
    use super::*;

    const HASH: &str = "sha256:0000000000000000000000000000000000000000000000000000000000000000";

    fn entry(extra: &str) -> String {
        format!(
            "[[waiver]]\nskill = \"{HASH}\"\nrule = \"SK304\"\nfingerprint = \"0123456789abcdef\"\npolicy = \"{HASH}\"\nreason = \"pinned elsewhere\"\nby = [\"alice\"]\n{extra}"
        )
    }

    #[test]
    fn bad_files_are_refused_with_where() {
        let e = Waivers::parse(&entry("colour = \"red\"\n"), "w.toml").unwrap_err();
        assert!(e.to_string().contains("colour"), "{e}");
        assert!(e.to_string().contains("line"), "{e}");
        let e = Waivers::parse(&entry("expires = \"30/06/2027\"\n"), "w.toml").unwrap_err();
        assert!(e.to_string().contains("waiver 1 (line 1)"), "{e}");
        let e = Waivers::parse(&entry("").replace(HASH, "sha256:abc"), "w.toml").unwrap_err();
        assert!(e.to_string().contains("content hash"), "{e}");
        assert!(Waivers::parse(&entry("expires = \"2027-06-30\"\n"), "w.toml").is_ok());
    }
}
