//! Composition: the other skills a skill loads, invokes, requires or installs. Trust does not
//! leak through these links: the tier an agent is told is the lowest along the chain.

use crate::skill_md::{Segment, SkillDocument};
use regex::Regex;
use std::collections::BTreeSet;
use std::sync::LazyLock;

/// Links read per skill at most; more are counted, not stored (a skill naming 10,000 others
/// stays linear, and says so).
pub const MAX_LINKS: usize = 64;

/// How a skill reaches another.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum LinkKind {
    /// Named in metadata (`requires:`, `dependencies:`, `skills:`).
    Requires,
    /// Told to the agent: "use the `pdf` skill", "invoke skill `deploy`".
    Invokes,
    /// Installed by command (`npx skills add owner/name`, `clawhub install name`).
    Installs,
    /// Carried inside the bundle and installed or loaded by it: judged as a nested subject.
    Bundles,
}

impl LinkKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Requires => "requires",
            Self::Invokes => "invokes",
            Self::Installs => "installs",
            Self::Bundles => "bundles",
        }
    }
}

/// One link to another skill, by name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
pub struct Link {
    pub name: String,
    pub kind: LinkKind,
}

/// The links of a skill and how many were left out past [`MAX_LINKS`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Links {
    pub links: Vec<Link>,
    pub left_out: usize,
}

static NAME: &str = r"[a-z0-9][a-z0-9._-]{1,63}";

static INVOKES: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(&format!(
        r#"(?i)\b(?:use|using|invoke|invoking|load|loading|call|calling|activate|trigger|run|requires?|with|then)\s+(?:the\s+)?[`"']?({NAME})[`"']?\s+skill\b"#
    ))
    .expect("valid regex")
});
static SKILL_NAMED: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(&format!(r#"(?i)\bskill\s+[`"']({NAME})[`"']"#)).expect("valid regex")
});
static INSTALLS: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"(?i)\b(?:(?:npx|pnpx|bunx)\s+(?:-y\s+)?(?:skills|add-skill)\s+(?:add|install|i)|clawhub\s+(?:install|add)|claude\s+plugins?\s+install|openclaw\s+skills?\s+(?:install|add))\s+["']?([^\s"';|&]+)"#)
        .expect("valid regex")
});

/// Words the phrasing puts where a name would be ("then invoke skill", "use this skill").
const NOT_NAMES: &[&str] = &[
    "this",
    "that",
    "the",
    "a",
    "an",
    "same",
    "following",
    "appropriate",
    "right",
    "correct",
    "relevant",
    "new",
    "other",
    "another",
    "your",
    "my",
    "each",
    "every",
    "any",
    "which",
    "its",
    "our",
    "invoke",
    "use",
    "load",
    "call",
    "run",
    "activate",
    "trigger",
    "then",
    "with",
    "requires",
    "require",
    "using",
    "calling",
    "loading",
    "invoking",
    "skill",
    "skills",
];

/// Metadata keys whose values name skills this one needs.
const REQUIRES_KEYS: &[&str] = &[
    "requires",
    "dependencies",
    "depends-on",
    "depends_on",
    "skills",
];

/// The skills `doc` links to, its own name left out.
pub fn links(doc: &SkillDocument) -> Links {
    let own = doc.name().unwrap_or("").to_ascii_lowercase();
    let mut found: BTreeSet<Link> = BTreeSet::new();
    let mut left_out = 0usize;
    let mut add = |name: &str, kind: LinkKind| {
        let name = name
            .trim_matches(|c: char| !c.is_ascii_alphanumeric())
            .to_ascii_lowercase();
        if name.len() < 2 || name == own || NOT_NAMES.contains(&name.as_str()) {
            return;
        }
        let link = Link { name, kind };
        if found.contains(&link) {
            return;
        }
        if found.len() >= MAX_LINKS {
            left_out += 1;
        } else {
            found.insert(link);
        }
    };
    for field in &doc.fields {
        if REQUIRES_KEYS.contains(&field.key.to_ascii_lowercase().as_str()) {
            for name in field
                .value
                .text()
                .split(|c: char| c == ',' || c.is_whitespace())
                .filter(|n| !n.is_empty())
            {
                add(name, LinkKind::Requires);
            }
        }
    }
    for segment in &doc.segments {
        let text = match segment {
            Segment::Prose { text, .. } | Segment::Code { text, .. } => text,
        };
        if let Segment::Prose { .. } = segment {
            for c in INVOKES
                .captures_iter(text)
                .chain(SKILL_NAMED.captures_iter(text))
            {
                if let Some(m) = c.get(1) {
                    add(m.as_str(), LinkKind::Invokes);
                }
            }
        }
        for c in INSTALLS.captures_iter(text) {
            // `owner/repo`, `name@marketplace`, a URL: the skill is its last name.
            let target = c.get(1).map_or("", |m| m.as_str());
            let name = target
                .split('@')
                .next()
                .unwrap_or(target)
                .trim_end_matches('/')
                .rsplit('/')
                .next()
                .unwrap_or(target)
                .trim_end_matches(".git");
            add(name, LinkKind::Installs);
        }
    }
    Links {
        links: found.into_iter().collect(),
        left_out,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn of(md: &str) -> Links {
        links(&SkillDocument::parse(md.as_bytes()))
    }

    #[test]
    fn metadata_prose_and_installs_are_links() {
        let l = of(
            "---\nname: release\ndescription: d\nrequires: changelog, semver-check\n---\nFirst use the `git-tag` skill, then invoke skill \"publish\".\n\n```bash\nnpx skills add acme/deploy-helper\n```\n",
        );
        let names: Vec<(&str, LinkKind)> =
            l.links.iter().map(|l| (l.name.as_str(), l.kind)).collect();
        assert_eq!(
            names,
            [
                ("changelog", LinkKind::Requires),
                ("deploy-helper", LinkKind::Installs),
                ("git-tag", LinkKind::Invokes),
                ("publish", LinkKind::Invokes),
                ("semver-check", LinkKind::Requires),
            ]
        );
    }

    #[test]
    fn ten_thousand_names_are_bounded_and_counted() {
        let names: Vec<String> = (0..10_000).map(|i| format!("s{i}")).collect();
        let md = format!(
            "---\nname: many\ndescription: d\nrequires: {}\n---\nbody\n",
            names.join(", ")
        );
        let l = of(&md);
        assert_eq!(l.links.len(), MAX_LINKS);
        assert_eq!(l.left_out, 10_000 - MAX_LINKS);
    }

    #[test]
    fn its_own_name_is_not_a_link() {
        assert!(
            of("---\nname: pdf\ndescription: d\n---\nUse the pdf skill to fill forms.\n")
                .links
                .is_empty()
        );
    }
}
