//! Capabilities: the one vocabulary every gate uses to say what a skill can do.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// A kind of power a skill exercises or requests.
///
/// Scopes (which host, which path) travel beside the capability in findings' evidence; the kind
/// is what policy and permission checks compare.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Capability {
    #[serde(rename = "fs.read")]
    FsRead,
    #[serde(rename = "fs.write")]
    FsWrite,
    #[serde(rename = "fs.delete")]
    FsDelete,
    #[serde(rename = "net.egress")]
    NetEgress,
    #[serde(rename = "net.listen")]
    NetListen,
    #[serde(rename = "proc.exec")]
    ProcExec,
    #[serde(rename = "env.read")]
    EnvRead,
    #[serde(rename = "secret.read")]
    SecretRead,
    #[serde(rename = "code.dynamic")]
    CodeDynamic,
    #[serde(rename = "persistence")]
    Persistence,
    #[serde(rename = "privilege")]
    Privilege,
    #[serde(rename = "agent.context")]
    AgentContext,
    /// Writing or installing skills, plugins, commands or MCP servers into any agent, the skill
    /// itself included: what a skill installs runs with the trust the agent gives it.
    #[serde(rename = "skill.install")]
    SkillInstall,
}

impl Capability {
    pub const ALL: [Capability; 13] = [
        Self::FsRead,
        Self::FsWrite,
        Self::FsDelete,
        Self::NetEgress,
        Self::NetListen,
        Self::ProcExec,
        Self::EnvRead,
        Self::SecretRead,
        Self::CodeDynamic,
        Self::Persistence,
        Self::Privilege,
        Self::AgentContext,
        Self::SkillInstall,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::FsRead => "fs.read",
            Self::FsWrite => "fs.write",
            Self::FsDelete => "fs.delete",
            Self::NetEgress => "net.egress",
            Self::NetListen => "net.listen",
            Self::ProcExec => "proc.exec",
            Self::EnvRead => "env.read",
            Self::SecretRead => "secret.read",
            Self::CodeDynamic => "code.dynamic",
            Self::Persistence => "persistence",
            Self::Privilege => "privilege",
            Self::AgentContext => "agent.context",
            Self::SkillInstall => "skill.install",
        }
    }
}

impl fmt::Display for Capability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The capability name is not one of the vocabulary's.
#[derive(Debug, thiserror::Error)]
#[error(
    "unknown capability `{0}` (expected one of fs.read, fs.write, fs.delete, net.egress, net.listen, proc.exec, env.read, secret.read, code.dynamic, persistence, privilege, agent.context, skill.install)"
)]
pub struct UnknownCapability(pub String);

impl FromStr for Capability {
    type Err = UnknownCapability;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|c| c.as_str() == s)
            .ok_or_else(|| UnknownCapability(s.to_string()))
    }
}

/// Where knowledge of a capability came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CapabilitySource {
    /// Requested in `allowed-tools` or stated in the purpose.
    Declared,
    /// Inferred by G1 from code and prose.
    Inferred,
    /// Observed by G3 during execution.
    Observed,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for c in Capability::ALL {
            assert_eq!(c.as_str().parse::<Capability>().unwrap(), c);
            assert_eq!(serde_json::to_string(&c).unwrap(), format!("\"{c}\""));
        }
        assert!("fs.everything".parse::<Capability>().is_err());
    }
}
