//! The purposes lexicon (`rules/data/intent-lexicon.yaml`): which capabilities a stated purpose
//! explains (G2), which purposes are security work whose reference material is knowledge (G1),
//! and which installers are a widely used toolchain's own (G1, G2). One parse, shared by the
//! gates through [`Lexicon::shared`].

use crate::Capability;
use crate::remote_source::{RemoteSource, SourcePrefix};
use regex::Regex;
use serde::Deserialize;
use std::collections::BTreeSet;
use std::sync::LazyLock;

const LEXICON: &str = include_str!("../../../rules/data/intent-lexicon.yaml");

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PurposeSpec {
    id: String,
    keywords: Vec<String>,
    capabilities: Vec<Capability>,
}

/// A list of keywords recognising one kind of purpose.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct KeywordsSpec {
    keywords: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LexiconSpec {
    purposes: Vec<PurposeSpec>,
    dual_use: KeywordsSpec,
    secret_custody: KeywordsSpec,
    toolchain_installers: Vec<String>,
    security_work: KeywordsSpec,
}

/// One recognised purpose.
pub struct Purpose {
    pub id: String,
    pattern: Regex,
    pub capabilities: Vec<Capability>,
}

/// The compiled lexicon.
pub struct Lexicon {
    pub purposes: Vec<Purpose>,
    dual_use: Regex,
    /// Dual-use and security-work keywords together.
    security_work: Regex,
    secret_custody: Regex,
    /// Official toolchain installers.
    toolchain_installers: Vec<SourcePrefix>,
}

fn keyword_regex(words: &[String]) -> Regex {
    let alternatives: Vec<String> = words
        .iter()
        .map(|w| {
            regex::escape(w)
                .replace("\\ ", "[\\s_-]+")
                .replace(' ', "[\\s_-]+")
        })
        .collect();
    // Whole words or word prefixes ("deploy" matches "deployment"); `_` and `-` separate words
    // in skill names.
    Regex::new(&format!(
        "(?i)(?:^|[^a-z0-9])(?:{})",
        alternatives.join("|")
    ))
    .expect("lexicon keywords are escaped")
}

impl Lexicon {
    /// The embedded lexicon. A malformed lexicon is a build defect caught by the tests.
    pub fn embedded() -> Self {
        let spec: LexiconSpec =
            serde_norway::from_str(LEXICON).expect("intent-lexicon.yaml is valid");
        Self {
            purposes: spec
                .purposes
                .into_iter()
                .map(|p| Purpose {
                    pattern: keyword_regex(&p.keywords),
                    id: p.id,
                    capabilities: p.capabilities,
                })
                .collect(),
            security_work: keyword_regex(
                &[
                    spec.dual_use.keywords.as_slice(),
                    spec.security_work.keywords.as_slice(),
                ]
                .concat(),
            ),
            dual_use: keyword_regex(&spec.dual_use.keywords),
            secret_custody: keyword_regex(&spec.secret_custody.keywords),
            toolchain_installers: spec
                .toolchain_installers
                .iter()
                .map(|entry| SourcePrefix::parse(entry))
                .collect(),
        }
    }

    /// The embedded lexicon, parsed on first use and shared.
    pub fn shared() -> &'static Self {
        static SHARED: LazyLock<Lexicon> = LazyLock::new(Lexicon::embedded);
        &SHARED
    }

    /// Whether the purpose is security work: dual use, or reviews, audits, detection and
    /// incident response, whose references quote attacks to find them.
    pub fn is_security_work(&self, purpose_text: &str) -> bool {
        self.security_work.is_match(purpose_text)
    }

    /// Purposes the text states, with the capabilities they explain.
    pub fn explained(&self, purpose_text: &str) -> (Vec<&str>, BTreeSet<Capability>) {
        let mut ids = Vec::new();
        let mut caps = BTreeSet::new();
        for p in &self.purposes {
            if p.pattern.is_match(purpose_text) {
                ids.push(p.id.as_str());
                caps.extend(p.capabilities.iter().copied());
            }
        }
        (ids, caps)
    }

    /// Whether the purpose is to keep other services' secrets (a vault, a password manager).
    pub fn keeps_secrets(&self, purpose_text: &str) -> bool {
        self.secret_custody.is_match(purpose_text)
    }

    /// Whether `source` is the official installer of a widely used toolchain.
    pub fn is_toolchain_installer(&self, source: &RemoteSource) -> bool {
        self.toolchain_installers
            .iter()
            .any(|prefix| prefix.contains(source))
    }

    /// The dual-use keyword the text announces, if any.
    pub fn dual_use<'t>(&self, purpose_text: &'t str) -> Option<&'t str> {
        self.dual_use.find(purpose_text).map(|m| {
            m.as_str()
                .trim_start_matches(|c: char| !c.is_alphanumeric())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lexicon_loads_and_matches_word_prefixes() {
        let lx = Lexicon::embedded();
        let (ids, caps) = lx.explained("Deploys the site to Vercel");
        assert!(ids.contains(&"web-and-apis"), "{ids:?}");
        assert!(caps.contains(&Capability::NetEgress));
        let (_, caps) = lx.explained("Formats markdown tables");
        assert!(!caps.contains(&Capability::NetEgress));
        assert!(!caps.contains(&Capability::SecretRead));
        assert_eq!(
            lx.dual_use("A red-team C2 beacon for authorised tests"),
            Some("red-team")
        );
        assert_eq!(lx.dual_use("Formats markdown"), None);
        assert!(lx.keeps_secrets("Exports deployment secrets into HashiCorp Vault"));
        assert!(!lx.keeps_secrets("Verifies cluster certificate expiry"));
        let bun = RemoteSource::parse("https://bun.sh/install").unwrap();
        assert!(lx.is_toolchain_installer(&bun));
        let stranger = RemoteSource::parse("https://bun.example/install").unwrap();
        assert!(!lx.is_toolchain_installer(&stranger));
        assert!(lx.is_security_work("Incident response hunts with Velociraptor"));
        assert!(!lx.is_security_work("Formats markdown tables"));
    }
}
