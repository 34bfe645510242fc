//! G4, the permission gate: is a skill's `allowed-tools` request honest and minimal?
//!
//! `allowed-tools` is a request for privilege, not a sandbox. This crate parses it in the syntax
//! agents use ([`grammar`]), maps each grant to capabilities ([`tools`]), and compares what is
//! declared with what G1 inferred and G3 observed ([`check`]). It also computes the effective
//! grant set at a tier (declared ∩ the tier's ceiling) that `skillgate tier` returns.

pub mod check;
pub mod grammar;
pub mod tools;

pub use check::check;
pub use grammar::{AllowedTools, Grant, Malformed, parse};
pub use tools::{capabilities, effective, sandbox_profile};

use skillgate_model::{RuleInfo, Severity};

/// G4's rules, documented for `skillgate rules explain` and SARIF.
pub const RULES: &[RuleInfo] = &[
    RuleInfo {
        code: "SK801",
        slug: "malformed-allowed-tools",
        severity: Severity::Low,
        summary: "an allowed-tools entry that does not parse, with its exact position",
        docs: "What: entries must be `Tool` or `Tool(scope)` with balanced parentheses and a \
non-empty scope, separated by spaces or commas.\n\
Why: an agent may read a malformed grant more broadly than the author meant, or not at all.\n\
Example: `allowed-tools: Read Bash(git diff:*` (unclosed).",
    },
    RuleInfo {
        code: "SK802",
        slug: "unknown-tool",
        severity: Severity::Info,
        summary: "a tool name skillgate does not know",
        docs: "What: a grant naming a tool outside the known set (Read, Write, Edit, Grep, Glob, \
WebFetch, WebSearch, Bash, mcp__…).\n\
Why: typos and invented tools are worth a look; they grant nothing skillgate can check.\n\
Example: `allowed-tools: Reed`.",
    },
    RuleInfo {
        code: "SK803",
        slug: "undeclared-capability",
        severity: Severity::High,
        summary: "the skill exercises a capability no allowed-tools grant covers",
        docs: "What: with allowed-tools declared, any network, secret, persistence, privilege, \
deletion or listening capability seen by G1 or G3 must be covered by a grant.\n\
Why: a skill whose scripts reach the network while it asks only for `Read` is not honest about \
what it needs; the policy keeps it at T1.\n\
Example: `allowed-tools: Read Grep` with `requests.post(...)` in scripts/.",
    },
    RuleInfo {
        code: "SK804",
        slug: "unbounded-shell-grant",
        severity: Severity::Medium,
        summary: "an unscoped shell or interpreter grant: far broader than a skill needs",
        docs: "What: `Bash`, `Bash(*)`, `Bash(python3:*)` and the like pre-approve any command.\n\
Why: allowed-tools is a request for privilege; a minimal request names the commands it runs.\n\
Example: write `Bash(git diff:*)` instead of `Bash`.",
    },
    RuleInfo {
        code: "SK805",
        slug: "risky-pre-approval",
        severity: Severity::High,
        summary: "pre-approval of sudo, rm, curl/wget, chmod, or writes to credential or agent-config paths",
        docs: "What: grants that let the agent escalate, delete, transfer or rewrite sensitive \
files without asking (sudo is high, the others medium; writes to ~/.ssh, ~/.aws, agent \
settings and shell rc files are high).\n\
Why: these are the steps of an attack; a user should confirm each one.\n\
Example: `allowed-tools: Bash(sudo:*) Write(~/.ssh/**)`.",
    },
    RuleInfo {
        code: "SK806",
        slug: "scripts-without-allowed-tools",
        severity: Severity::Low,
        summary: "the skill ships scripts but declares no allowed-tools",
        docs: "What: executable files in the bundle and no allowed-tools in the frontmatter.\n\
Why: agents then ask for each command or run under a broad default; declaring the commands \
documents intent. Not a rejection.\n\
Example: scripts/run.py with no `allowed-tools:` line.",
    },
];
