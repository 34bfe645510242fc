//! Gate reports, trust tiers and decisions.

use crate::capability::Capability;
use crate::finding::{Finding, Gate};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// How a gate's run ended. A gate that could not do its job is `Inconclusive`, never `Pass`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum GateStatus {
    Pass,
    Warn,
    Fail,
    Inconclusive,
    Skipped,
}

impl fmt::Display for GateStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Pass => "pass",
            Self::Warn => "warn",
            Self::Fail => "fail",
            Self::Inconclusive => "inconclusive",
            Self::Skipped => "skipped",
        })
    }
}

/// What one gate saw.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GateReport {
    pub gate: Gate,
    pub status: GateStatus,
    pub findings: Vec<Finding>,
    /// Capabilities this gate saw, deduplicated and sorted.
    #[serde(default)]
    pub capabilities: Vec<Capability>,
    /// Why the gate is inconclusive or skipped; which judge or runner ran.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

impl GateReport {
    /// A gate that was not asked to run.
    pub fn skipped(gate: Gate, why: impl Into<String>) -> Self {
        Self {
            gate,
            status: GateStatus::Skipped,
            findings: Vec::new(),
            capabilities: Vec::new(),
            note: Some(why.into()),
        }
    }

    /// A gate that could not do its job.
    pub fn inconclusive(gate: Gate, why: impl Into<String>) -> Self {
        Self {
            gate,
            status: GateStatus::Inconclusive,
            findings: Vec::new(),
            capabilities: Vec::new(),
            note: Some(why.into()),
        }
    }
}

/// Trust tier: a permission ceiling at activation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Tier {
    /// Unvetted: metadata and instructions only, no tools.
    T1,
    /// Read-only tools; scripts never run.
    T2,
    /// Declared allowed-tools within scope, scripts only in the runtime sandbox.
    T3,
    /// Vendor-certified: the full declared capabilities.
    T4,
}

impl Tier {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::T1 => "T1",
            Self::T2 => "T2",
            Self::T3 => "T3",
            Self::T4 => "T4",
        }
    }

    /// One tier down, saturating at T1.
    pub fn lower(self) -> Self {
        match self {
            Self::T4 => Self::T3,
            Self::T3 => Self::T2,
            _ => Self::T1,
        }
    }
}

impl fmt::Display for Tier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The tier name is not T1..T4.
#[derive(Debug, thiserror::Error)]
#[error("unknown tier `{0}` (expected T1, T2, T3 or T4)")]
pub struct UnknownTier(pub String);

impl FromStr for Tier {
    type Err = UnknownTier;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_uppercase().as_str() {
            "T1" => Ok(Self::T1),
            "T2" => Ok(Self::T2),
            "T3" => Ok(Self::T3),
            "T4" => Ok(Self::T4),
            _ => Err(UnknownTier(s.to_string())),
        }
    }
}

/// Reject, or admit at a tier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Decision {
    Reject,
    Admit,
}

impl fmt::Display for Decision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Reject => "reject",
            Self::Admit => "admit",
        })
    }
}

/// Where a skill stands in the trust lifecycle: admitted at a tier, rejected by a scan or a
/// review, or revoked after a critical runtime anomaly (until a review lifts it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TrustState {
    Revoked,
    Rejected,
    Admitted(Tier),
}

impl TrustState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Revoked => "revoked",
            Self::Rejected => "rejected",
            Self::Admitted(t) => t.as_str(),
        }
    }

    /// The tier an agent may use, if any.
    pub fn tier(self) -> Option<Tier> {
        match self {
            Self::Admitted(t) => Some(t),
            _ => None,
        }
    }
}

impl fmt::Display for TrustState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for TrustState {
    type Err = UnknownTier;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "revoked" => Ok(Self::Revoked),
            "rejected" => Ok(Self::Rejected),
            other => other.parse().map(Self::Admitted),
        }
    }
}

impl Serialize for TrustState {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tiers_order_and_lower() {
        assert!(Tier::T4 > Tier::T1);
        assert_eq!(Tier::T3.lower(), Tier::T2);
        assert_eq!(Tier::T1.lower(), Tier::T1);
        assert_eq!("t3".parse::<Tier>().unwrap(), Tier::T3);
    }
}
