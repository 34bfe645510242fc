//! The trust lifecycle as pure rules: given where a skill stands, what just happened and the
//! evidence on record, what (if anything) its state becomes.
//!
//! No I/O here: [`crate::trust::Trust`] reads the evidence from the store, asks these rules, and
//! appends the answer to the skill's history. Keeping the rules pure is what lets property tests
//! drive thousands of sequences through them.
//!
//! - A scan sets the state to its verdict, except that it never lifts a revocation or a
//!   reviewer's rejection, and a clean rescan keeps a promotion the evidence still supports.
//! - Runtime anomalies only ever lower: medium one tier, high to T1, critical revokes.
//! - T3 and T4 are reached only by promotion (or certification for T4), and only when
//!   [`Lifecycle::ceiling`] says the evidence allows it.

use crate::policy::PromotionRules;
use skillgate_model::{Severity, Tier, TrustState};

const DAY_MS: i64 = 24 * 60 * 60 * 1000;

/// A key's role in the trust store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum KeyRole {
    /// May certify a skill to T4.
    Vendor,
    /// Stands in for clean runtime history on the way to T3.
    Publisher,
}

impl KeyRole {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Vendor => "vendor",
            Self::Publisher => "publisher",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "vendor" => Some(Self::Vendor),
            "publisher" => Some(Self::Publisher),
            _ => None,
        }
    }
}

/// The latest scan's outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScanFacts {
    /// `Rejected` or `Admitted(T1|T2)`.
    pub state: TrustState,
    pub worst: Severity,
}

/// A review on record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReviewFact {
    pub approved: bool,
    pub at: i64,
}

/// A runtime report on record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuntimeFact {
    Clean { at: i64 },
    Anomaly { severity: Severity, at: i64 },
}

/// Everything on record about one skill that the rules weigh. Signatures are listed only once
/// verified against a key the store currently trusts.
#[derive(Debug, Clone, Default)]
pub struct Evidence {
    pub scan: Option<ScanFacts>,
    pub reviews: Vec<ReviewFact>,
    pub runtime: Vec<RuntimeFact>,
    pub verified_signatures: Vec<KeyRole>,
}

/// What happened to the skill.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Scan(ScanFacts),
    Clean,
    Anomaly(Severity),
    Review { approved: bool },
    Certified,
    Promote(Tier),
    Demote(Tier),
}

/// A state change to append to history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub to: TrustState,
    pub reason: String,
}

/// Why an explicit promotion or demotion was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LifecycleError {
    #[error("skill has no verdict yet; scan it first")]
    NotScanned,
    #[error("cannot promote a skill that is {0}; a review must lift it first")]
    NotAdmitted(TrustState),
    #[error("{target} is not above the current tier {current}")]
    NotAbove { current: Tier, target: Tier },
    #[error("{target} is not below the current tier {current}")]
    NotBelow { current: TrustState, target: Tier },
    #[error("only a T2 (or higher) skill can be promoted; it is {0}")]
    BelowT2(Tier),
    #[error("the evidence allows at most {ceiling}; missing for {target}: {}", missing.join("; "))]
    Insufficient {
        target: Tier,
        ceiling: Tier,
        missing: Vec<String>,
    },
}

/// The highest tier the evidence supports, and what is missing for the next ones.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Ceiling {
    pub tier: Tier,
    pub missing_for_t3: Vec<String>,
    pub missing_for_t4: Vec<String>,
}

/// The lifecycle rules under one policy.
#[derive(Debug, Clone)]
pub struct Lifecycle {
    rules: PromotionRules,
}

impl Lifecycle {
    pub fn new(rules: PromotionRules) -> Self {
        Self { rules }
    }

    /// Clean runs since the last medium-or-worse anomaly, oldest first.
    fn clean_runs_since_anomaly(&self, ev: &Evidence) -> Vec<i64> {
        let mut runs = Vec::new();
        for fact in &ev.runtime {
            match *fact {
                RuntimeFact::Clean { at } => runs.push(at),
                RuntimeFact::Anomaly { severity, .. } if severity >= Severity::Medium => {
                    runs.clear()
                }
                RuntimeFact::Anomaly { .. } => {}
            }
        }
        runs
    }

    /// The highest tier the evidence on record supports at `now`.
    pub fn ceiling(&self, ev: &Evidence, now: i64) -> Ceiling {
        let scan_tier = match ev.scan.map(|s| s.state) {
            Some(TrustState::Admitted(t)) => t,
            _ => Tier::T1,
        };
        let mut missing_for_t3 = Vec::new();
        let mut missing_for_t4 = Vec::new();
        if scan_tier < Tier::T2 {
            let why =
                "the latest scan did not admit it at T2 (every gate run, nothing above medium)"
                    .to_string();
            missing_for_t3.push(why.clone());
            missing_for_t4.push(why);
        }
        match ev.reviews.last() {
            Some(r) if r.approved => {}
            Some(_) => missing_for_t3.push("the latest review rejected it".into()),
            None => missing_for_t3.push("no semantic review (LLM judge or human)".into()),
        }
        let publisher = ev.verified_signatures.contains(&KeyRole::Publisher);
        let runs = self.clean_runs_since_anomaly(ev);
        let window = i64::from(self.rules.clean_window_days) * DAY_MS;
        let enough_runs = runs.len() >= self.rules.clean_runs as usize
            && runs.first().is_some_and(|first| now - first >= window);
        if !publisher && !enough_runs {
            missing_for_t3.push(format!(
                "no trusted publisher signature, and {} of {} clean runs over {} days since the \
                 last anomaly",
                runs.len(),
                self.rules.clean_runs,
                self.rules.clean_window_days
            ));
        }
        if !ev.verified_signatures.contains(&KeyRole::Vendor) {
            missing_for_t4.push("no valid signature by a trusted vendor key".into());
        }
        if let Some(scan) = ev.scan
            && scan.worst > self.rules.t4_max_severity
        {
            missing_for_t4.push(format!(
                "the latest scan has a {} finding (T4 allows at most {})",
                scan.worst, self.rules.t4_max_severity
            ));
        }
        let tier = if missing_for_t4.is_empty() {
            Tier::T4
        } else if missing_for_t3.is_empty() {
            Tier::T3
        } else {
            scan_tier
        };
        Ceiling {
            tier,
            missing_for_t3,
            missing_for_t4,
        }
    }

    /// The state after `action`, given the state before it and the evidence on record
    /// (including the action's own record). `Ok(None)`: no change.
    ///
    /// Whatever the action, a state above T2 is never entered without the evidence for it: a
    /// medium anomaly on a T4 skill whose vendor key was since distrusted lands on T2, not T3.
    pub fn apply(
        &self,
        current: Option<TrustState>,
        action: Action,
        ev: &Evidence,
        now: i64,
    ) -> Result<Option<Change>, LifecycleError> {
        let change = |to: TrustState, reason: String| {
            let to = match to {
                TrustState::Admitted(t) if t > Tier::T2 => {
                    TrustState::Admitted(t.min(self.ceiling(ev, now).tier.max(Tier::T2)))
                }
                other => other,
            };
            Ok((Some(to) != current).then_some(Change { to, reason }))
        };
        match action {
            Action::Scan(scan) => {
                let Some(current) = current else {
                    return change(scan.state, "first scan".into());
                };
                if current == TrustState::Revoked {
                    return Ok(None);
                }
                let reviewer_rejected = ev.reviews.last().is_some_and(|r| !r.approved);
                if current == TrustState::Rejected && reviewer_rejected {
                    return Ok(None);
                }
                if let (TrustState::Admitted(t), TrustState::Admitted(Tier::T2)) =
                    (current, scan.state)
                    && t > Tier::T2
                {
                    let ceiling = self.ceiling(ev, now).tier;
                    return change(
                        TrustState::Admitted(t.min(ceiling)),
                        format!("rescan: the evidence now supports at most {ceiling}"),
                    );
                }
                change(scan.state, "rescan changed the verdict".into())
            }
            Action::Clean => Ok(None),
            Action::Anomaly(severity) => {
                let to = match (severity, current) {
                    (Severity::Critical, Some(s)) if s != TrustState::Revoked => {
                        TrustState::Revoked
                    }
                    (Severity::High, Some(TrustState::Admitted(t))) => {
                        TrustState::Admitted(t.min(Tier::T1))
                    }
                    (Severity::Medium, Some(TrustState::Admitted(t))) => {
                        TrustState::Admitted(t.lower())
                    }
                    _ => return Ok(None),
                };
                change(to, format!("{severity} runtime anomaly"))
            }
            Action::Review { approved: false } => {
                change(TrustState::Rejected, "rejected by review".into())
            }
            Action::Review { approved: true } => match current {
                Some(TrustState::Revoked | TrustState::Rejected) => {
                    let to = match ev.scan.map(|s| s.state) {
                        Some(TrustState::Admitted(t)) => TrustState::Admitted(t),
                        _ => TrustState::Admitted(Tier::T1),
                    };
                    change(to, "review approved it; back to its scan's tier".into())
                }
                _ => Ok(None),
            },
            Action::Certified => match current {
                Some(TrustState::Admitted(t)) if t >= Tier::T2 && t < Tier::T4 => {
                    if self.ceiling(ev, now).tier == Tier::T4 {
                        change(
                            TrustState::Admitted(Tier::T4),
                            "certified by a trusted vendor".into(),
                        )
                    } else {
                        Ok(None)
                    }
                }
                _ => Ok(None),
            },
            Action::Promote(target) => {
                let Some(current) = current else {
                    return Err(LifecycleError::NotScanned);
                };
                let TrustState::Admitted(tier) = current else {
                    return Err(LifecycleError::NotAdmitted(current));
                };
                if target <= tier {
                    return Err(LifecycleError::NotAbove {
                        current: tier,
                        target,
                    });
                }
                if tier < Tier::T2 {
                    return Err(LifecycleError::BelowT2(tier));
                }
                let ceiling = self.ceiling(ev, now);
                if ceiling.tier < target {
                    let missing = if target == Tier::T4 {
                        ceiling.missing_for_t4
                    } else {
                        ceiling.missing_for_t3
                    };
                    return Err(LifecycleError::Insufficient {
                        target,
                        ceiling: ceiling.tier,
                        missing,
                    });
                }
                change(
                    TrustState::Admitted(target),
                    format!("promoted to {target}"),
                )
            }
            Action::Demote(target) => match current {
                Some(TrustState::Admitted(t)) if target < t => {
                    change(TrustState::Admitted(target), format!("demoted to {target}"))
                }
                Some(s) => Err(LifecycleError::NotBelow { current: s, target }),
                None => Err(LifecycleError::NotScanned),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Policy;

    fn lc() -> Lifecycle {
        Lifecycle::new(Policy::default().promotion)
    }

    fn t(tier: Tier) -> TrustState {
        TrustState::Admitted(tier)
    }

    fn clean_t2() -> ScanFacts {
        ScanFacts {
            state: t(Tier::T2),
            worst: Severity::Low,
        }
    }

    #[test]
    fn t3_needs_review_and_runs_over_the_window() {
        let mut ev = Evidence {
            scan: Some(clean_t2()),
            ..Default::default()
        };
        assert_eq!(lc().ceiling(&ev, 0).tier, Tier::T2);
        ev.reviews.push(ReviewFact {
            approved: true,
            at: 0,
        });
        for i in 0..20 {
            ev.runtime.push(RuntimeFact::Clean { at: i * 1000 });
        }
        // Twenty runs, but all within seconds: not yet seven days.
        assert_eq!(lc().ceiling(&ev, 20_000).tier, Tier::T2);
        assert_eq!(lc().ceiling(&ev, 8 * DAY_MS).tier, Tier::T3);
        // A medium anomaly resets the count.
        ev.runtime.push(RuntimeFact::Anomaly {
            severity: Severity::Medium,
            at: 8 * DAY_MS,
        });
        assert_eq!(lc().ceiling(&ev, 9 * DAY_MS).tier, Tier::T2);
    }

    #[test]
    fn anomalies_demote_and_critical_revokes() {
        let ev = Evidence::default();
        let apply = |cur, sev| {
            lc().apply(Some(cur), Action::Anomaly(sev), &ev, 0)
                .unwrap()
                .map(|c| c.to)
        };
        assert_eq!(apply(t(Tier::T3), Severity::Medium), Some(t(Tier::T2)));
        assert_eq!(apply(t(Tier::T4), Severity::High), Some(t(Tier::T1)));
        assert_eq!(
            apply(t(Tier::T2), Severity::Critical),
            Some(TrustState::Revoked)
        );
        assert_eq!(apply(t(Tier::T1), Severity::Medium), None);
        assert_eq!(apply(t(Tier::T2), Severity::Low), None);
    }

    #[test]
    fn revoked_ignores_scans_until_review() {
        let ev = Evidence {
            scan: Some(clean_t2()),
            ..Default::default()
        };
        let scan = lc()
            .apply(Some(TrustState::Revoked), Action::Scan(clean_t2()), &ev, 0)
            .unwrap();
        assert_eq!(scan, None);
        let review = lc()
            .apply(
                Some(TrustState::Revoked),
                Action::Review { approved: true },
                &ev,
                0,
            )
            .unwrap();
        assert_eq!(review.map(|c| c.to), Some(t(Tier::T2)));
    }

    #[test]
    fn promotion_without_evidence_is_refused_with_what_is_missing() {
        let ev = Evidence {
            scan: Some(clean_t2()),
            ..Default::default()
        };
        let err = lc()
            .apply(Some(t(Tier::T2)), Action::Promote(Tier::T3), &ev, 0)
            .unwrap_err();
        assert!(err.to_string().contains("no semantic review"), "{err}");
        let err = lc()
            .apply(Some(t(Tier::T2)), Action::Promote(Tier::T4), &ev, 0)
            .unwrap_err();
        assert!(err.to_string().contains("vendor"), "{err}");
    }
}
