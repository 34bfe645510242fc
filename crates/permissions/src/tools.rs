//! What each tool grant lets a skill do, and what each tier lets it keep.

use crate::grammar::Grant;
use skillgate_model::{Capability, Tier};

/// Tools that only read.
const READ_ONLY: &[&str] = &["Read", "Grep", "Glob", "LS", "NotebookRead"];
const WRITERS: &[&str] = &["Write", "Edit", "MultiEdit", "NotebookEdit"];
const NETWORK: &[&str] = &["WebFetch", "WebSearch"];
/// Agent bookkeeping tools: no capability over the machine.
const NEUTRAL: &[&str] = &[
    "TodoWrite",
    "TodoRead",
    "Task",
    "Agent",
    "Skill",
    "ExitPlanMode",
];

/// Whether skillgate knows this tool name.
pub fn is_known(tool: &str) -> bool {
    tool.starts_with("mcp__")
        || tool == "Bash"
        || [READ_ONLY, WRITERS, NETWORK, NEUTRAL]
            .iter()
            .any(|set| set.contains(&tool))
}

/// The program a `Bash(...)` scope allows: `git diff:*` → `git`, `npm run *` → `npm`.
pub fn bash_program(scope: &str) -> Option<&str> {
    let head = scope.split([':', ' ']).next()?.trim();
    (!head.is_empty() && head != "*").then_some(head)
}

/// Programs that reach the network.
const NET_PROGRAMS: &[&str] = &[
    "curl", "wget", "nc", "ncat", "ssh", "scp", "rsync", "ftp", "telnet",
];
/// Programs that run arbitrary code given to them.
const INTERPRETERS: &[&str] = &[
    "python", "python3", "node", "bash", "sh", "zsh", "perl", "ruby", "eval", "exec", "deno", "bun",
];

/// Capabilities a grant confers.
pub fn capabilities(grant: &Grant) -> Vec<Capability> {
    let tool = grant.tool.as_str();
    if READ_ONLY.contains(&tool) {
        return vec![Capability::FsRead];
    }
    if WRITERS.contains(&tool) {
        return vec![Capability::FsWrite];
    }
    if NETWORK.contains(&tool) {
        return vec![Capability::NetEgress];
    }
    if tool != "Bash" {
        return Vec::new();
    }
    let Some(program) = grant.scope.as_deref().and_then(bash_program) else {
        // Unscoped shell: everything a shell can do.
        return Capability::ALL
            .into_iter()
            .filter(|c| *c != Capability::AgentContext)
            .collect();
    };
    let mut caps = vec![Capability::ProcExec];
    match program {
        p if NET_PROGRAMS.contains(&p) => caps.push(Capability::NetEgress),
        "rm" | "shred" | "rmdir" | "unlink" => caps.push(Capability::FsDelete),
        "sudo" | "su" | "doas" | "chmod" | "chown" => caps.push(Capability::Privilege),
        "crontab" | "systemctl" | "launchctl" => caps.push(Capability::Persistence),
        "env" | "printenv" => caps.push(Capability::EnvRead),
        "git" | "npm" | "pnpm" | "yarn" | "pip" | "pip3" | "uv" | "cargo" | "docker" | "gh" => {
            caps.extend([Capability::NetEgress, Capability::FsWrite])
        }
        p if INTERPRETERS.contains(&p) => caps.push(Capability::CodeDynamic),
        _ => {}
    }
    caps
}

/// Whether the grant is as broad as a shell: `Bash`, `Bash(*)`, an interpreter with any
/// arguments.
pub fn is_unbounded_shell(grant: &Grant) -> bool {
    grant.tool == "Bash"
        && grant
            .scope
            .as_deref()
            .and_then(bash_program)
            .is_none_or(|p| {
                INTERPRETERS.contains(&p) && grant.scope.as_deref().is_some_and(|s| s.contains('*'))
            })
}

/// The grants a tier lets an agent use: T1 none, T2 the read-only tools, T3 and T4 the
/// declared grants within their scopes (T3 additionally runs scripts only inside the runtime
/// sandbox profile, which is the runtime's job, not the grant list's).
pub fn effective(grants: &[Grant], tier: Option<Tier>) -> Vec<Grant> {
    match tier {
        None | Some(Tier::T1) => Vec::new(),
        Some(Tier::T2) => grants
            .iter()
            .filter(|g| READ_ONLY.contains(&g.tool.as_str()))
            .cloned()
            .collect(),
        Some(Tier::T3 | Tier::T4) => grants.to_vec(),
    }
}

/// The runtime sandbox profile (under `sandbox-profiles/`) an agent applies at a tier.
pub fn sandbox_profile(tier: Option<Tier>) -> &'static str {
    match tier {
        None => "none: the skill may not be activated",
        Some(Tier::T1 | Tier::T2) => "none: scripts never run at this tier",
        Some(Tier::T3) => "runtime-t3",
        Some(Tier::T4) => "runtime-t4",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::grammar::parse;

    #[test]
    fn ceilings_cut_grants() {
        let g = parse("Read Write Bash(git diff:*) WebFetch").grants;
        assert!(effective(&g, Some(Tier::T1)).is_empty());
        let t2: Vec<_> = effective(&g, Some(Tier::T2))
            .iter()
            .map(Grant::text)
            .collect();
        assert_eq!(t2, ["Read"]);
        assert_eq!(effective(&g, Some(Tier::T3)).len(), 4);
    }

    #[test]
    fn shell_grants() {
        let g = parse("Bash Bash(*) Bash(git diff:*) Bash(python3:*) Bash(curl:*)").grants;
        let unbounded: Vec<bool> = g.iter().map(is_unbounded_shell).collect();
        assert_eq!(unbounded, [true, true, false, true, false]);
        assert!(capabilities(&g[4]).contains(&Capability::NetEgress));
        assert!(capabilities(&g[0]).contains(&Capability::SecretRead));
    }
}
