//! Findings: one piece of evidence a gate produced, with a stable rule code.

use crate::capability::Capability;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// How bad a finding is if it is true.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Info => "info",
            Self::Low => "low",
            Self::Medium => "medium",
            Self::High => "high",
            Self::Critical => "critical",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The severity name is not one of info, low, medium, high, critical.
#[derive(Debug, thiserror::Error)]
#[error("unknown severity `{0}` (expected info, low, medium, high or critical)")]
pub struct UnknownSeverity(pub String);

impl FromStr for Severity {
    type Err = UnknownSeverity;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "info" => Ok(Self::Info),
            "low" => Ok(Self::Low),
            "medium" => Ok(Self::Medium),
            "high" => Ok(Self::High),
            "critical" => Ok(Self::Critical),
            _ => Err(UnknownSeverity(s.to_string())),
        }
    }
}

/// How sure the rule is that a match means what it says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Confidence {
    Low,
    Medium,
    High,
}

impl fmt::Display for Confidence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Low => "low",
            Self::Medium => "medium",
            Self::High => "high",
        })
    }
}

/// The gate that produced a finding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Gate {
    G1,
    G2,
    G3,
    G4,
}

impl Gate {
    pub const ALL: [Gate; 4] = [Gate::G1, Gate::G2, Gate::G3, Gate::G4];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::G1 => "G1",
            Self::G2 => "G2",
            Self::G3 => "G3",
            Self::G4 => "G4",
        }
    }
}

impl fmt::Display for Gate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Attack stage a finding evidences. High findings in two or more distinct stages form a chain
/// (credential access plus exfiltration, say), which the policy treats as an attack.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum KillChainStage {
    Reconnaissance,
    CredentialAccess,
    Execution,
    Persistence,
    PrivilegeEscalation,
    DefenseEvasion,
    Exfiltration,
    Impact,
    /// Hygiene and specification findings that are not attack steps.
    None,
}

/// Identity and documentation of a rule implemented in Rust, in any gate.
#[derive(Debug, Clone, Copy)]
pub struct RuleInfo {
    pub code: &'static str,
    pub slug: &'static str,
    pub severity: Severity,
    pub summary: &'static str,
    /// What it does, why it is risky, an example: printed by `skillgate rules explain`.
    pub docs: &'static str,
}

/// One piece of evidence.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    /// Stable rule code, `SK` and three digits.
    pub code: String,
    pub gate: Gate,
    pub severity: Severity,
    pub confidence: Confidence,
    /// Threat family, e.g. `exfiltration`, `supply-chain`, `prompt-injection`, `spec`.
    pub category: String,
    pub message: String,
    /// Path relative to the bundle root, `/`-separated; `None` for whole-bundle findings.
    pub file: Option<String>,
    /// 1-based line, when the finding points into a file.
    pub line: Option<u32>,
    /// 1-based column in characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub column: Option<u32>,
    /// The matched text, cut to a readable length.
    pub evidence: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capability: Option<Capability>,
    pub kill_chain: KillChainStage,
    /// Taxonomy pattern codes (P1..SC3) this finding instantiates.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub taxonomy: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub help: Option<String>,
    /// The source line the finding points at, for display.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snippet: Option<String>,
    /// Outside parties the finding involves, by the names they go by (`azure`, `twilio` for the
    /// services whose secrets it handles): the intent gate asks whether the stated purpose
    /// names them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub parties: Vec<String>,
    /// Set when a waiver bound to this skill's content, this finding and the policy accepts it:
    /// it stays in the report and no longer counts toward the verdict.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub waived: Option<Waived>,
}

/// Who accepted a finding, why, and until when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Waived {
    pub by: Vec<String>,
    pub reason: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires: Option<String>,
    /// The waiver file it came from.
    pub source: String,
}

impl Finding {
    /// What a waiver names this finding by: its rule, its file and the text it fired on (not
    /// its line, which moves with unrelated edits; the content hash already pins the bytes).
    pub fn fingerprint(&self) -> String {
        use sha2::{Digest, Sha256};
        let mut h = Sha256::new();
        for part in [
            self.code.as_str(),
            self.file.as_deref().unwrap_or(""),
            self.evidence
                .as_deref()
                .or(self.snippet.as_deref())
                .unwrap_or(&self.message),
        ] {
            h.update(part.as_bytes());
            h.update([0]);
        }
        hex::encode(&h.finalize()[..8])
    }

    /// A finding with the required fields set and no location.
    pub fn new(
        code: impl Into<String>,
        gate: Gate,
        severity: Severity,
        confidence: Confidence,
        category: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Self {
            code: code.into(),
            gate,
            severity,
            confidence,
            category: category.into(),
            message: message.into(),
            file: None,
            line: None,
            column: None,
            evidence: None,
            capability: None,
            kill_chain: KillChainStage::None,
            taxonomy: Vec::new(),
            help: None,
            snippet: None,
            parties: Vec::new(),
            waived: None,
        }
    }

    pub fn at(mut self, file: impl Into<String>, line: Option<u32>, column: Option<u32>) -> Self {
        self.file = Some(file.into());
        self.line = line;
        self.column = column;
        self
    }

    pub fn with_evidence(mut self, evidence: &str) -> Self {
        self.evidence = Some(clip(evidence, 200));
        self
    }

    pub fn with_capability(mut self, capability: Capability) -> Self {
        self.capability = Some(capability);
        self
    }

    pub fn with_stage(mut self, stage: KillChainStage) -> Self {
        self.kill_chain = stage;
        self
    }

    pub fn with_parties(mut self, parties: Vec<String>) -> Self {
        self.parties = parties;
        self
    }

    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }
}

/// Cuts `text` to at most `max` characters on a character boundary, marking the cut, and makes
/// invisible characters visible so evidence can be read in a terminal.
pub fn clip(text: &str, max: usize) -> String {
    let mut out = String::new();
    for (count, c) in text.chars().enumerate() {
        if count >= max {
            out.push('…');
            break;
        }
        if c.is_control() && c != '\t' || is_invisible(c) {
            out.push_str(&format!("\\u{{{:x}}}", c as u32));
        } else {
            out.push(c);
        }
    }
    out
}

/// Characters that render as nothing and are used to hide text from a reader.
pub fn is_invisible(c: char) -> bool {
    matches!(c as u32,
        0x200B..=0x200F | 0x2060..=0x2064 | 0xFEFF | 0x202A..=0x202E | 0x2066..=0x2069 | 0xE0000..=0xE007F)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clip_marks_cut_and_invisible() {
        assert_eq!(clip("abcdef", 3), "abc…");
        assert_eq!(clip("a\u{200b}b", 10), "a\\u{200b}b");
        assert_eq!(clip("ééé", 2), "éé…");
    }

    #[test]
    fn severity_orders_and_parses() {
        assert!(Severity::Critical > Severity::High);
        assert_eq!("HIGH".parse::<Severity>().unwrap(), Severity::High);
        assert!("severe".parse::<Severity>().is_err());
    }
}
