//! Dependency rules (SK301–SK307): what a skill installs, from manifests and from install
//! commands in its scripts and instructions, checked against OSV advisories, popular-package
//! lists (typosquats) and pinning hygiene.

pub mod advisories;
pub mod extract;

use crate::code_rules::finding;
use crate::registry::{CodeRuleInfo, declare_rule};
use crate::units::Unit;
use advisories::{AdvisoryDb, Ecosystem};
use extract::Pin;
use skillgate_model::remote_source::{RemoteSource, SourcePrefix};
use skillgate_model::{Bundle, Capability, Confidence, Finding, KillChainStage, Severity};
use std::collections::HashSet;
use std::sync::LazyLock;

declare_rule! {
    /// ## What it does
    /// Flags a dependency that an OSV `MAL-` record lists as malicious.
    ///
    /// ## Why is this risky?
    /// Installing it runs malware on the host; OSV guidance is to treat it as an incident.
    ///
    /// ## Example
    /// `pip install 0requests` where `MAL-…` lists `0requests`.
    pub struct KnownMaliciousPackage { code: "SK301", slug: "known-malicious-package", severity: Critical, summary: "dependency is a known malicious package" }
}

declare_rule! {
    /// ## What it does
    /// Flags a pinned dependency version that an imported OSV advisory marks as vulnerable
    /// (PEP 440 ranges for PyPI, semver for npm).
    ///
    /// ## Why is this risky?
    /// The skill installs code with a published vulnerability.
    ///
    /// ## Example
    /// `invenio-previewer==1.0.0a11` (PYSEC-2019-26, fixed in 1.0.0a12).
    pub struct KnownVulnerablePackage { code: "SK302", slug: "known-vulnerable-package", severity: Medium, summary: "dependency version has a known vulnerability" }
}

declare_rule! {
    /// ## What it does
    /// Flags a package name one edit away from a popular package (top PyPI names from GuardDog,
    /// npm-high-impact) that is not itself popular: medium, high when installed at run time
    /// unpinned. Critical when the name spells a popular package with look-alike characters
    /// (`react-devtooIs` with a capital I, `0` for `o`, `rn` for `m`).
    ///
    /// ## Why is this risky?
    /// Typosquats are the commonest malicious-package vector; an agent typing `reqeusts`
    /// installs whatever the squatter published. A look-alike spelling is no typo: nobody types
    /// it by accident, so the name exists to deceive a reader.
    ///
    /// ## Example
    /// `pip install reqeusts`, `npm install react-devtooIs`
    pub struct TyposquatPackage { code: "SK303", slug: "typosquat-package", severity: Medium, summary: "package name imitates a popular package" }
}

declare_rule! {
    /// ## What it does
    /// Flags dependencies installed without an exact version pin.
    ///
    /// ## Why is this risky?
    /// Whatever version is newest at install time runs: a compromised release reaches every
    /// user at once (pattern SC1).
    ///
    /// ## Example
    /// `requests>=2` in requirements.txt, `pip install requests` in a script.
    pub struct UnpinnedDependency { code: "SK304", slug: "unpinned-dependency", severity: Low, summary: "dependency without an exact version pin" }
}

declare_rule! {
    /// ## What it does
    /// Flags dependencies installed from a URL, a VCS repository or an archive path rather than
    /// a registry release. High when the URL's host is neither a public package index or mirror
    /// nor a public code host (`rules/data/package-sources.txt`).
    ///
    /// ## Why is this risky?
    /// The content behind a URL can change at any time and bypasses registry malware scanning.
    /// A server of the skill's own choosing decides what code the user installs.
    ///
    /// ## Example
    /// `pip install git+https://github.com/x/y`, `"dep": "https://host/x.tgz"`
    pub struct RemoteSourceDependency { code: "SK305", slug: "remote-source-dependency", severity: Medium, summary: "dependency installed from a URL or VCS" }
}

declare_rule! {
    /// ## What it does
    /// Flags custom package indexes: `--index-url`, `--extra-index-url`, `--trusted-host`,
    /// `--registry`. High when the index is not a public index or one of its long-standing
    /// mirrors (`rules/data/package-sources.txt`: PyPI, npm, their mirrors, the PyTorch and
    /// NVIDIA wheel indexes).
    ///
    /// ## Why is this risky?
    /// An extra index lets an attacker win dependency confusion by publishing a higher version
    /// of an internal name; `--trusted-host` disables TLS checks. An index on a server of the
    /// skill's own choosing decides what code every install brings.
    ///
    /// ## Example
    /// `pip install --extra-index-url http://pkgs.example/simple corp-utils`
    pub struct CustomPackageIndex { code: "SK306", slug: "custom-package-index", severity: Medium, summary: "install from a custom package index" }
}

declare_rule! {
    /// ## What it does
    /// Flags npm install-time hooks (`preinstall`, `install`, `postinstall`) in a bundled
    /// `package.json`, and `npx -y` runs of remote packages.
    ///
    /// ## Why is this risky?
    /// Install hooks and `npx -y` run registry code with no review and no prompt.
    ///
    /// ## Example
    /// `"postinstall": "node setup.js"`, `npx -y some-cli`
    pub struct InstallTimeExecution { code: "SK307", slug: "install-time-execution", severity: Low, summary: "package code runs at install time" }
}

pub const RULES: &[CodeRuleInfo] = &[
    KnownMaliciousPackage::INFO,
    KnownVulnerablePackage::INFO,
    TyposquatPackage::INFO,
    UnpinnedDependency::INFO,
    RemoteSourceDependency::INFO,
    CustomPackageIndex::INFO,
    InstallTimeExecution::INFO,
];

struct Popular {
    pypi: HashSet<String>,
    npm: HashSet<String>,
    /// Typosquat targets: the most popular names only (a smaller list than the exemptions).
    pypi_targets: Vec<String>,
    npm_targets: Vec<String>,
}

static POPULAR: LazyLock<Popular> = LazyLock::new(|| {
    let pypi_all: Vec<String> = crate::registry::POPULAR_PYPI
        .lines()
        .map(|l| Ecosystem::PyPI.normalize(l.trim()))
        .filter(|l| !l.is_empty())
        .collect();
    let npm_all: Vec<String> = crate::registry::POPULAR_NPM
        .lines()
        .map(|l| l.trim().to_ascii_lowercase())
        .filter(|l| !l.is_empty())
        .collect();
    Popular {
        pypi_targets: pypi_all.iter().take(3000).cloned().collect(),
        npm_targets: npm_all.iter().take(3000).cloned().collect(),
        pypi: pypi_all.into_iter().collect(),
        npm: npm_all.into_iter().collect(),
    }
});

/// The popular package a name imitates, if any.
pub fn typosquat_of(eco: Ecosystem, name: &str) -> Option<String> {
    let p = &*POPULAR;
    let norm = eco.normalize(name);
    let (all, targets) = match eco {
        Ecosystem::PyPI => (&p.pypi, &p.pypi_targets),
        Ecosystem::Npm => (&p.npm, &p.npm_targets),
    };
    // Look-alike characters (`react-devtooIs` with a capital I): any popular name counts, not
    // only the typosquat targets, since nobody types these by accident.
    let skeleton = confusable_skeleton(name);
    if skeleton != norm && all.contains(&skeleton) {
        return Some(skeleton);
    }
    if norm.len() < 5 || all.contains(&norm) || norm.starts_with('@') {
        return None;
    }
    targets
        .iter()
        .find(|t| {
            t.len() >= 5
                && t.len().abs_diff(norm.len()) <= 1
                && one_edit_apart(t.as_bytes(), norm.as_bytes())
        })
        .cloned()
}

/// `name` with characters that pass for others in most fonts replaced (capital `I` and `1` for
/// `l`, `0` for `o`, `rn` for `m`), lowercased.
fn confusable_skeleton(name: &str) -> String {
    name.chars()
        .map(|c| match c {
            'I' | '1' | '|' => 'l',
            '0' => 'o',
            c => c.to_ascii_lowercase(),
        })
        .collect::<String>()
        .replace("rn", "m")
}

/// Whether `a` and `b` differ by exactly one insertion, deletion, substitution or swap of
/// adjacent characters (Damerau-Levenshtein distance 1). Checked against thousands of popular
/// names per dependency, so it stops at the second difference instead of filling a matrix.
fn one_edit_apart(a: &[u8], b: &[u8]) -> bool {
    let (a, b) = if a.len() <= b.len() { (a, b) } else { (b, a) };
    let prefix = a.iter().zip(b).take_while(|(x, y)| x == y).count();
    if a.len() == b.len() {
        if prefix == a.len() {
            return false;
        }
        let rest = prefix + 1;
        // One substitution, or a swap of this character with the next.
        a[rest..] == b[rest..]
            || (rest < a.len()
                && a[prefix] == b[rest]
                && a[rest] == b[prefix]
                && a[rest + 1..] == b[rest + 1..])
    } else {
        // `b` is one longer: skipping its character at the first difference must align them.
        b.len() == a.len() + 1 && a[prefix..] == b[prefix + 1..]
    }
}

/// Hosts that legitimately serve package archives.
const OFFICIAL_HOSTS: &[&str] = &[
    "pypi.org",
    "files.pythonhosted.org",
    "registry.npmjs.org",
    "github.com",
    "codeload.github.com",
    "gitlab.com",
    "download.pytorch.org",
];

/// A URL install whose archive is named like a popular package but served from elsewhere: a
/// "patched numpy" from a private host is the classic masquerade.
fn masquerading_popular(eco: Ecosystem, url: &str) -> Option<String> {
    let rest = url.split("://").nth(1)?;
    let host = rest.split('/').next()?.to_ascii_lowercase();
    if OFFICIAL_HOSTS
        .iter()
        .any(|h| host == *h || host.ends_with(&format!(".{h}")))
    {
        return None;
    }
    let p = &*POPULAR;
    let popular = |name: &str| match eco {
        Ecosystem::PyPI => p.pypi_targets.iter().any(|t| t == name),
        Ecosystem::Npm => p.npm_targets.iter().any(|t| t == name),
    };
    // A repository: `git+https://host/x/django.git@tag`, `…#egg=fastapi`.
    if url.starts_with("git+") || url.contains(".git@") || url.contains(".git#") {
        let egg = url
            .split("#egg=")
            .nth(1)
            .map(|e| e.split('&').next().unwrap_or(e));
        let repo = rest
            .split(['@', '#'])
            .next()?
            .trim_end_matches('/')
            .rsplit('/')
            .next()?
            .trim_end_matches(".git");
        let name = eco.normalize(egg.unwrap_or(repo));
        return popular(&name).then_some(name);
    }
    let file = rest.rsplit('/').next()?;
    let stem = file.split(['-', '_']).next()?;
    let name = eco.normalize(stem);
    (popular(&name)
        && (file.ends_with(".whl")
            || file.ends_with(".tar.gz")
            || file.ends_with(".tgz")
            || file.ends_with(".zip")))
    .then_some(name)
}

/// Public indexes, mirrors and code hosts.
static PUBLIC_SOURCES: LazyLock<Vec<SourcePrefix>> = LazyLock::new(|| {
    crate::registry::PACKAGE_SOURCES
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(SourcePrefix::parse)
        .collect()
});

/// Whether a package location is on a public index, mirror or code host; `None` for a local
/// path, which names no one else's server. `bare_host` reads `pkgs.example` as a host (an
/// index given by `--trusted-host`), not as a path.
pub(crate) fn on_public_source(location: &str, bare_host: bool) -> Option<bool> {
    // `--index-url https://…`, `--registry=https://…`: the location is the flag's value.
    let token = location.split_whitespace().last()?;
    let value = match token.strip_prefix('-') {
        Some(flag) => flag.split_once('=')?.1,
        None => token,
    };
    let location = value.trim_matches(['"', '\'']).trim_start_matches("git+");
    let has_scheme = location.split_once("://").is_some_and(|(scheme, _)| {
        !scheme.is_empty() && scheme.chars().all(|c| c.is_ascii_alphanumeric())
    });
    let url = if has_scheme {
        location.to_string()
    } else if bare_host && !location.contains('/') {
        format!("https://{location}")
    } else {
        return None;
    };
    let source = RemoteSource::parse(&url)?;
    Some(PUBLIC_SOURCES.iter().any(|prefix| prefix.contains(&source)))
}

pub fn check(bundle: &Bundle, units: &[Unit], db: &AdvisoryDb, out: &mut Vec<Finding>) {
    let deps = extract::extract(bundle, units);
    let mut seen = HashSet::new();
    for dep in deps {
        if !seen.insert((dep.ecosystem, dep.name.clone(), dep.file.clone(), dep.line)) {
            continue;
        }
        let at = |f: Finding| {
            f.at(&dep.file, Some(dep.line), None)
                .with_evidence(&dep.raw)
                .with_capability(Capability::ProcExec)
        };
        if let Some(idx) = &dep.index {
            let mut f = at(finding(
                &CustomPackageIndex::INFO,
                Confidence::High,
                "supply-chain",
                format!("installs from custom index `{idx}`"),
            ))
            .with_stage(KillChainStage::Execution);
            if on_public_source(idx, true) == Some(false) {
                f.severity = Severity::High;
                f.confidence = Confidence::Medium;
                f.message = format!(
                    "installs from custom index `{idx}`, which is not a public index or mirror"
                );
            }
            out.push(f);
            continue;
        }
        if dep.name.is_empty() && !matches!(dep.pin, Pin::Url(_)) {
            continue;
        }
        for a in db.malicious(dep.ecosystem, &dep.name) {
            let mut f = at(finding(
                &KnownMaliciousPackage::INFO,
                Confidence::High,
                "supply-chain",
                format!("`{}` is known malware ({}): {}", dep.name, a.id, a.summary),
            ))
            .with_stage(KillChainStage::Execution);
            f.taxonomy = vec!["SC1".into()];
            out.push(f);
        }
        match &dep.pin {
            Pin::Exact(v) => {
                for a in db
                    .affecting(dep.ecosystem, &dep.name, v)
                    .into_iter()
                    .filter(|a| !a.malicious)
                {
                    out.push(at(finding(
                        &KnownVulnerablePackage::INFO,
                        Confidence::High,
                        "supply-chain",
                        format!(
                            "`{}=={v}` is affected by {}: {}",
                            dep.name,
                            a.id,
                            skillgate_model::finding::clip(&a.summary, 120)
                        ),
                    )));
                }
            }
            Pin::Url(u) => {
                let mut f = at(finding(
                    &RemoteSourceDependency::INFO,
                    Confidence::High,
                    "supply-chain",
                    format!(
                        "`{}` installed from `{}`",
                        dep.name,
                        skillgate_model::finding::clip(u, 100)
                    ),
                ))
                .with_stage(KillChainStage::Execution);
                if on_public_source(u, false) == Some(false) {
                    f.severity = Severity::High;
                    f.confidence = Confidence::Medium;
                    f.message
                        .push_str(", a server that is not a public index or code host");
                }
                if let Some(popular) = masquerading_popular(dep.ecosystem, u) {
                    f.severity = Severity::Critical;
                    f.confidence = Confidence::High;
                    f.message = format!(
                        "popular package `{popular}` installed from an unofficial source `{}`",
                        skillgate_model::finding::clip(u, 100)
                    );
                }
                out.push(f);
            }
            Pin::Loose | Pin::None => {
                let mut f = at(finding(
                    &UnpinnedDependency::INFO,
                    Confidence::High,
                    "supply-chain",
                    format!("`{}` is not pinned to an exact version", dep.name),
                ));
                f.taxonomy = vec!["SC1".into()];
                out.push(f);
            }
        }
        if let Some(target) = typosquat_of(dep.ecosystem, &dep.name) {
            let look_alike = confusable_skeleton(&dep.name) == target;
            let mut f = at(finding(
                &TyposquatPackage::INFO,
                Confidence::Medium,
                "supply-chain",
                if look_alike {
                    format!(
                        "`{}` spells popular package `{target}` with look-alike characters",
                        dep.name
                    )
                } else {
                    format!("`{}` is one edit from popular package `{target}`", dep.name)
                },
            ));
            if look_alike {
                // Nobody types a capital I for an l by accident: the name is built to deceive.
                f.severity = Severity::Critical;
                f.confidence = Confidence::High;
                f.kill_chain = KillChainStage::Execution;
            } else if dep.inline && !matches!(dep.pin, Pin::Exact(_)) {
                // A squatted name installed at run time and unpinned is how the attack lands.
                f.severity = Severity::High;
                f.kill_chain = KillChainStage::Execution;
            }
            out.push(f);
        }
        if dep.npx {
            out.push(at(finding(
                &InstallTimeExecution::INFO,
                Confidence::High,
                "supply-chain",
                format!(
                    "`npx -y {}` runs a registry package without review",
                    dep.name
                ),
            )));
        }
    }
    extract::install_hooks(bundle, out);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_sources_are_indexes_mirrors_and_code_hosts() {
        let public = |location: &str, bare: bool| on_public_source(location, bare);
        assert_eq!(
            public("--index-url https://download.pytorch.org/whl/cu121", false),
            Some(true)
        );
        assert_eq!(public("-i https://pypi.org/simple/", false), Some(true));
        assert_eq!(
            public("--registry=https://registry.npmjs.org/", false),
            Some(true)
        );
        assert_eq!(public("--trusted-host pypi.org", true), Some(true));
        assert_eq!(public("git+https://github.com/o/r.git", false), Some(true));
        assert_eq!(
            public(
                "--extra-index-url https://internal-packages.dev/simple/",
                false
            ),
            Some(false)
        );
        assert_eq!(
            public("--trusted-host internal-packages.dev", true),
            Some(false)
        );
        assert_eq!(
            public("https://custom-registry.dev/tools/x-1.0.tar.gz", false),
            Some(false)
        );
        // A look-alike of a public host is not it.
        assert_eq!(
            public("https://pypi.org.mirror-cdn.example/simple", false),
            Some(false)
        );
        // Local paths and text that only contains a URL name nobody's server.
        assert_eq!(public("/tmp/stubs/x.whl", false), None);
        assert_eq!(
            public("@nuxt/ui',High,https://ui.nuxt.com/docs", false),
            None
        );
    }

    #[test]
    fn one_edit_apart_agrees_with_damerau_levenshtein() {
        let words = [
            "requests",
            "reqeusts",
            "request",
            "requestss",
            "rquests",
            "requests2",
            "numpy",
            "nunpy",
            "mnupy",
            "numpyy",
            "nupmy",
            "pandas",
            "pandsa",
            "padnas",
            "",
            "a",
            "ab",
            "ba",
            "abc",
            "acb",
            "bac",
            "abcd",
        ];
        for a in words {
            for b in words {
                assert_eq!(
                    one_edit_apart(a.as_bytes(), b.as_bytes()),
                    strsim::damerau_levenshtein(a, b) == 1,
                    "{a} / {b}"
                );
            }
        }
    }

    #[test]
    fn look_alike_characters_imitate_popular_names() {
        assert_eq!(
            typosquat_of(Ecosystem::Npm, "react-devtooIs").as_deref(),
            Some("react-devtools")
        );
        assert_eq!(typosquat_of(Ecosystem::Npm, "react-devtools"), None);
        assert_eq!(typosquat_of(Ecosystem::PyPI, "requests"), None);
    }

    #[test]
    fn popular_names_from_unofficial_sources() {
        let m = |u| masquerading_popular(Ecosystem::PyPI, u);
        assert_eq!(
            m("https://pkgs.example.dev/numpy-1.26.0.tar.gz").as_deref(),
            Some("numpy")
        );
        assert_eq!(
            m("git+https://evil.example/frameworks/django.git@stable-patched").as_deref(),
            Some("django")
        );
        assert_eq!(
            m("git+https://x.example/fw/fast.git@main#egg=fastapi").as_deref(),
            Some("fastapi")
        );
        assert_eq!(m("git+https://github.com/django/django.git@main"), None);
        assert_eq!(
            m("git+https://git.example.dev/team/internal-tool.git@v1"),
            None
        );
    }
}
