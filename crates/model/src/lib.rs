//! The shared vocabulary of skillgate.
//!
//! Every gate speaks in the types defined here, and nothing here decides anything:
//!
//! - [`bundle`]: a skill as a set of files, loaded from a folder or an archive with limits that
//!   hold against hostile input, and identified by a [`ContentHash`](bundle::ContentHash).
//! - [`skill_md`]: the `SKILL.md` document, frontmatter parsed defensively, body split into prose
//!   and fenced code blocks.
//! - [`lint`]: the Agent Skills specification checks (SK7xx findings).
//! - [`remote_source`]: who serves a URL a skill talks to, and whether its stated purpose names
//!   them.
//! - [`capability`]: what a skill can do, and where that knowledge came from.
//! - [`finding`]: one piece of evidence, with a stable rule code, severity and location.
//! - [`verdict`]: gate reports, tiers and the final decision.

pub mod bundle;
pub mod capability;
pub mod composition;
pub mod finding;
pub mod lint;
pub mod party;
pub mod purposes;
pub mod remote_source;
pub mod skill_md;
pub mod verdict;

pub use bundle::{Bundle, BundleError, BundleFile, ContentHash, FileKind, Limits};
pub use capability::{Capability, CapabilitySource};
pub use finding::{Confidence, Finding, Gate, KillChainStage, RuleInfo, Severity, Waived};
pub use skill_md::SkillDocument;
pub use verdict::{Decision, GateReport, GateStatus, Tier, TrustState};
