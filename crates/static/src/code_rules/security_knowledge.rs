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

use skillgate_model::bundle::is_document;
use skillgate_model::purposes::Lexicon;
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
