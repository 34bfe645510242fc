//! Sandbox profiles: paths, limits, honeytokens and network capture, as data.
//!
//! `sandbox-profiles/analysis.toml` is the profile G3 runs skills under; it is compiled in and
//! can be replaced with `--profile FILE`. The runtime profiles (`runtime-t3.toml`,
//! `runtime-t4.toml`) describe what an admitted skill may do when an agent activates it; they
//! share this schema and are validated by the same code.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

/// The analysis profile shipped with skillgate.
pub const ANALYSIS: &str = include_str!("../../../sandbox-profiles/analysis.toml");
/// The runtime profiles `skillgate run` confines T3 and T4 skills with.
pub const RUNTIME_T3: &str = include_str!("../../../sandbox-profiles/runtime-t3.toml");
pub const RUNTIME_T4: &str = include_str!("../../../sandbox-profiles/runtime-t4.toml");

#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    #[error("cannot read profile {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("profile {origin}: {message}")]
    Parse { origin: String, message: String },
    #[error("profile {origin}: {field}: {message}")]
    Invalid {
        origin: String,
        field: &'static str,
        message: String,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Purpose {
    /// G3: observe everything, contain everything.
    Analysis,
    /// Activation of an admitted skill at a tier.
    Runtime,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    pub name: String,
    pub purpose: Purpose,
    pub limits: Limits,
    pub filesystem: Filesystem,
    pub network: Network,
    pub honeytokens: Honeytokens,
    /// The payload's environment, besides HOME, TMPDIR, the skill directory and honeytokens.
    #[serde(default)]
    pub environment: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    /// Wall time of one step (one script or code block), in milliseconds.
    pub step_timeout_ms: u64,
    /// Wall time of the whole run.
    pub total_timeout_ms: u64,
    /// Address space of each process (RLIMIT_AS), MiB.
    pub memory_mb: u64,
    /// Processes and threads the payload may have at once.
    pub max_processes: u64,
    /// stdout and stderr kept per step; the rest is read and dropped.
    pub output_bytes: usize,
    /// Size of each writable tmpfs (working copy, TMPDIR), MiB.
    pub scratch_mb: u64,
    /// Largest file the payload may write (RLIMIT_FSIZE), MiB.
    pub max_file_mb: u64,
    /// Steps run per skill at most.
    pub max_steps: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Filesystem {
    /// Host paths the payload may read and execute (Landlock); missing ones are skipped.
    pub read_only: Vec<String>,
    /// Host paths the payload may also write; the working copy and TMPDIR always are.
    pub read_write: Vec<String>,
    /// The fake HOME, on a tmpfs.
    pub home: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Network {
    /// Every address local, fake DNS, capture servers. Analysis profiles must capture.
    pub capture: bool,
    /// TCP ports with a capture server from the start; HTTP, TLS and raw are told apart by
    /// the first bytes, not the port.
    pub tcp_ports: Vec<u16>,
    /// Open a capture server on any other port the payload connects or sends to.
    pub lazy_listeners: bool,
    /// Bytes kept per connection.
    pub capture_bytes: usize,
    /// Runtime profiles: hosts the skill may reach (its declared domains).
    #[serde(default)]
    pub allow: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Honeytokens {
    /// Ids from [`crate::canary::CATALOGUE`].
    pub plant: Vec<String>,
}

impl Profile {
    /// The analysis profile compiled into skillgate.
    pub fn analysis() -> Self {
        Self::parse(ANALYSIS, "sandbox-profiles/analysis.toml")
            .expect("the bundled analysis profile is valid")
    }

    /// A bundled runtime profile by name (`runtime-t3`, `runtime-t4`).
    pub fn runtime(name: &str) -> Option<Self> {
        let text = match name {
            "runtime-t3" => RUNTIME_T3,
            "runtime-t4" => RUNTIME_T4,
            _ => return None,
        };
        Some(Self::parse(text, name).expect("the bundled runtime profiles are valid"))
    }

    /// Short hash of the profile's content: a stored G3 result is reused only under the same one.
    pub fn fingerprint(&self) -> String {
        use sha2::Digest;
        let json = serde_json::to_vec(self).expect("a profile serialises");
        hex::encode(&sha2::Sha256::digest(&json)[..6])
    }

    pub fn load(path: &Path) -> Result<Self, ProfileError> {
        let text = std::fs::read_to_string(path).map_err(|source| ProfileError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Self::parse(&text, &path.display().to_string())
    }

    pub fn parse(text: &str, origin: &str) -> Result<Self, ProfileError> {
        let profile: Self = toml::from_str(text).map_err(|e| ProfileError::Parse {
            origin: origin.to_string(),
            message: e.to_string(),
        })?;
        profile.validate(origin)?;
        Ok(profile)
    }

    fn validate(&self, origin: &str) -> Result<(), ProfileError> {
        let invalid = |field: &'static str, message: String| ProfileError::Invalid {
            origin: origin.to_string(),
            field,
            message,
        };
        let l = &self.limits;
        if !(100..=600_000).contains(&l.step_timeout_ms) {
            return Err(invalid(
                "limits.step_timeout_ms",
                "must be 100..=600000".into(),
            ));
        }
        if l.total_timeout_ms < l.step_timeout_ms || l.total_timeout_ms > 3_600_000 {
            return Err(invalid(
                "limits.total_timeout_ms",
                "must be at least step_timeout_ms and at most 3600000".into(),
            ));
        }
        if !(64..=65_536).contains(&l.memory_mb) {
            return Err(invalid("limits.memory_mb", "must be 64..=65536".into()));
        }
        if !(4..=4096).contains(&l.max_processes) {
            return Err(invalid("limits.max_processes", "must be 4..=4096".into()));
        }
        if !(1..=4096).contains(&l.scratch_mb) || l.max_file_mb == 0 {
            return Err(invalid(
                "limits.scratch_mb",
                "scratch_mb must be 1..=4096 and max_file_mb positive".into(),
            ));
        }
        if l.max_steps == 0 || l.output_bytes == 0 {
            return Err(invalid(
                "limits.max_steps",
                "max_steps and output_bytes must be positive".into(),
            ));
        }
        for p in self
            .filesystem
            .read_only
            .iter()
            .chain(&self.filesystem.read_write)
            .chain([&self.filesystem.home])
        {
            if !p.starts_with('/') || p.split('/').any(|c| c == "..") {
                return Err(invalid(
                    "filesystem",
                    format!("{p:?} is not an absolute path without `..`"),
                ));
            }
        }
        for p in &self.filesystem.read_write {
            if p == "/" || p.starts_with("/proc") || p.starts_with("/sys") || p.starts_with("/etc")
            {
                return Err(invalid(
                    "filesystem.read_write",
                    format!("{p:?} may not be writable"),
                ));
            }
        }
        if !self.filesystem.home.starts_with("/home/") && !self.filesystem.home.starts_with("/tmp/")
        {
            return Err(invalid(
                "filesystem.home",
                "must lie under /home or /tmp (a tmpfs)".into(),
            ));
        }
        let mut ports = self.network.tcp_ports.clone();
        ports.sort_unstable();
        ports.dedup();
        if ports.len() != self.network.tcp_ports.len() || ports.contains(&0) {
            return Err(invalid(
                "network.tcp_ports",
                "ports must be non-zero and unique".into(),
            ));
        }
        if self.purpose == Purpose::Analysis && !self.network.capture {
            return Err(invalid(
                "network.capture",
                "an analysis profile must capture the network".into(),
            ));
        }
        if self.network.capture_bytes == 0 {
            return Err(invalid("network.capture_bytes", "must be positive".into()));
        }
        for id in &self.honeytokens.plant {
            if !crate::canary::CATALOGUE.contains(&id.as_str()) {
                return Err(invalid(
                    "honeytokens.plant",
                    format!(
                        "unknown honeytoken {id:?}; known: {}",
                        crate::canary::CATALOGUE.join(", ")
                    ),
                ));
            }
        }
        for key in self.environment.keys() {
            if key.is_empty() || key.contains('=') || key.contains('\0') {
                return Err(invalid("environment", format!("bad variable name {key:?}")));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bundled_profiles_are_valid() {
        let analysis = Profile::analysis();
        assert_eq!(analysis.purpose, Purpose::Analysis);
        assert!(analysis.honeytokens.plant.len() >= 10);
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../sandbox-profiles");
        for name in ["runtime-t3.toml", "runtime-t4.toml"] {
            let p = Profile::load(&root.join(name)).unwrap();
            assert_eq!(p.purpose, Purpose::Runtime, "{name}");
        }
    }

    #[test]
    fn invalid_profiles_name_the_field() {
        let cases = [
            (
                "step_timeout_ms = 10000",
                "step_timeout_ms = 0",
                "step_timeout_ms",
            ),
            ("capture = true", "capture = false", "network.capture"),
            (
                "\"aws-credentials\",",
                "\"aws-credentialz\",",
                "unknown honeytoken",
            ),
            (
                "home = \"/home/user\"",
                "home = \"/etc/x\"",
                "filesystem.home",
            ),
            (
                "read_write = [\"/dev/null\"]",
                "read_write = [\"/\"]",
                "may not be writable",
            ),
            (
                "name = \"analysis\"",
                "name = \"analysis\"\nsurprise = 1",
                "unknown field",
            ),
        ];
        for (from, to, expect) in cases {
            assert!(ANALYSIS.contains(from), "{from}");
            let text = ANALYSIS.replacen(from, to, 1);
            let err = Profile::parse(&text, "test").unwrap_err().to_string();
            assert!(err.contains(expect), "{err} lacks {expect}");
        }
    }
}
