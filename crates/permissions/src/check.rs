//! G4's comparison of what a skill asks for with what it does.
//!
//! | code  | severity | what it says |
//! |-------|----------|--------------|
//! | SK801 | low      | malformed `allowed-tools` entry, with its exact position |
//! | SK802 | info     | a tool name skillgate does not know |
//! | SK803 | high     | undeclared capability: the skill does something no grant covers (caps the tier at T1) |
//! | SK804 | medium   | grant far broader than use: an unscoped shell or interpreter |
//! | SK805 | medium–high | risky pre-approval: sudo, rm, curl/wget, writes to credential or agent-config paths |
//! | SK806 | low      | the skill ships scripts but declares no `allowed-tools` |

use crate::grammar::{self, Grant};
use crate::tools::{bash_program, capabilities, is_known, is_unbounded_shell};
use skillgate_model::{
    Bundle, Capability, Confidence, Finding, Gate, GateReport, GateStatus, KillChainStage,
    Severity, SkillDocument,
};
use std::collections::{BTreeMap, BTreeSet};

/// Capabilities a grant must cover when the skill exercises them.
const MUST_DECLARE: &[Capability] = &[
    Capability::NetEgress,
    Capability::NetListen,
    Capability::SecretRead,
    Capability::Persistence,
    Capability::Privilege,
    Capability::FsDelete,
];

/// Paths whose pre-approved writes hand over credentials or the agent's own configuration.
const SENSITIVE_PATHS: &[&str] = &[
    ".ssh",
    ".aws",
    ".gnupg",
    ".kube",
    ".docker/config",
    ".netrc",
    ".env",
    ".claude",
    ".cursor",
    ".codex",
    "mcp.json",
    "settings.json",
    ".bashrc",
    ".zshrc",
    ".profile",
    "authorized_keys",
    ".git/hooks",
    "/etc/",
];

/// Where an entry of the value sits in SKILL.md.
fn locate(doc: &SkillDocument, field_line: u32, entry: &grammar::Malformed) -> (u32, u32) {
    let line = field_line + entry.line - 1;
    let column = doc
        .text
        .lines()
        .nth(line as usize - 1)
        .and_then(|l| {
            l.find(&entry.text)
                .map(|b| l[..b].chars().count() as u32 + 1)
        })
        .unwrap_or(entry.column);
    (line, column)
}

fn finding(code: &str, severity: Severity, message: String) -> Finding {
    Finding::new(
        code,
        Gate::G4,
        severity,
        Confidence::High,
        "permissions",
        message,
    )
}

/// Runs G4 over a skill, given the reports of the gates before it.
pub fn check(bundle: &Bundle, doc: &SkillDocument, prior: &[GateReport]) -> GateReport {
    let mut findings = Vec::new();
    let field = doc.field("allowed-tools");
    let parsed = field
        .map(|f| grammar::parse(&f.value.text()))
        .unwrap_or_default();
    if let Some(f) = field {
        for m in &parsed.malformed {
            let (line, column) = locate(doc, f.line, m);
            findings.push(
                finding(
                    "SK801",
                    Severity::Low,
                    format!("malformed allowed-tools entry `{}`: {}", m.text, m.problem),
                )
                .at("SKILL.md", Some(line), Some(column))
                .with_evidence(&m.text),
            );
        }
    }
    let at_field = |f: Finding| match field {
        Some(fl) => f.at("SKILL.md", Some(fl.line), None),
        None => f,
    };
    for g in parsed.grants.iter().filter(|g| !is_known(&g.tool)) {
        findings.push(at_field(finding(
            "SK802",
            Severity::Info,
            format!("unknown tool `{}` in allowed-tools", g.tool),
        )));
    }
    let declared: BTreeSet<Capability> = parsed.grants.iter().flat_map(capabilities).collect();
    // What the skill does, by capability, from the gates before this one.
    let mut used: BTreeMap<Capability, Vec<&Finding>> = BTreeMap::new();
    for f in prior.iter().flat_map(|r| &r.findings).filter(|f| {
        f.severity >= Severity::Low && f.kill_chain != KillChainStage::None && f.gate != Gate::G2
    }) {
        if let Some(c) = f.capability {
            used.entry(c).or_default().push(f);
        }
    }
    if parsed.grants.is_empty() {
        if bundle.scripts().next().is_some() && parsed.malformed.is_empty() {
            findings.push(finding(
                "SK806",
                Severity::Low,
                "the skill ships scripts but declares no allowed-tools; agents will ask for \
                 each command, or run them under a broad default"
                    .into(),
            ));
        }
    } else {
        for (cap, evidence) in used
            .iter()
            .filter(|(c, _)| MUST_DECLARE.contains(c) && !declared.contains(c))
        {
            let first = evidence[0];
            let mut f = finding(
                "SK803",
                Severity::High,
                format!(
                    "undeclared capability: the skill exercises {cap} ({} at {}:{}), but no \
                     allowed-tools grant covers it",
                    first.code,
                    first.file.as_deref().unwrap_or("?"),
                    first.line.unwrap_or(0)
                ),
            )
            .with_capability(*cap)
            .with_help("Declare the tool the skill needs (e.g. WebFetch(domain:…)), or remove the behaviour.");
            if let Some(fl) = field {
                f = f.at("SKILL.md", Some(fl.line), None);
            }
            f.confidence = Confidence::Medium;
            findings.push(f);
        }
    }
    for g in &parsed.grants {
        if let Some(f) = risky(g) {
            findings.push(at_field(f));
        }
    }
    let worst = findings.iter().map(|f| f.severity).max();
    let status = match worst {
        Some(s) if s >= Severity::High => GateStatus::Fail,
        Some(s) if s >= Severity::Medium => GateStatus::Warn,
        _ => GateStatus::Pass,
    };
    GateReport {
        gate: Gate::G4,
        status,
        findings,
        capabilities: declared.into_iter().collect(),
        note: Some(match field {
            None => "no allowed-tools declared".into(),
            Some(_) => format!(
                "{} grants, {} malformed",
                parsed.grants.len(),
                parsed.malformed.len()
            ),
        }),
    }
}

fn risky(g: &Grant) -> Option<Finding> {
    let text = g.text();
    if is_unbounded_shell(g) {
        return Some(finding(
            "SK804",
            Severity::Medium,
            format!("`{text}` pre-approves any command: far broader than a skill needs"),
        ));
    }
    if g.tool == "Bash" {
        let program = g.scope.as_deref().and_then(bash_program)?;
        let (severity, why) = match program {
            "sudo" | "su" | "doas" => (Severity::High, "runs anything as root"),
            "rm" | "shred" => (Severity::Medium, "deletes without asking"),
            "curl" | "wget" | "nc" | "ncat" => (
                Severity::Medium,
                "sends and fetches anything without asking",
            ),
            "chmod" | "chown" => (Severity::Medium, "changes permissions without asking"),
            _ => return None,
        };
        return Some(finding(
            "SK805",
            severity,
            format!("risky pre-approval `{text}`: {why}"),
        ));
    }
    if matches!(g.tool.as_str(), "Write" | "Edit" | "MultiEdit")
        && let Some(scope) = &g.scope
        && let Some(path) = SENSITIVE_PATHS.iter().find(|p| scope.contains(*p))
    {
        return Some(finding(
            "SK805",
            Severity::High,
            format!(
                "risky pre-approval `{text}`: writes to `{path}`, a credential or agent-config path"
            ),
        ));
    }
    None
}
