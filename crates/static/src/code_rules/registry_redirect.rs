//! A package registry pointed at another host, in configuration rather than on one install
//! command: every later install, by the user or the agent, fetches from it.

use super::finding;
use crate::deps::on_public_source;
use crate::registry::declare_rule;
use crate::units::Unit;
use skillgate_model::{Capability, Confidence, Finding, KillChainStage};

declare_rule! {
    /// ## What it does
    /// Flags configuration that redirects a package manager's registry to a server that is not
    /// a public index or mirror, for every ecosystem and however it is written: `npm`, `pnpm`
    /// or `yarn config set registry`, a `registry=` line for `.npmrc`, `npmRegistryServer`,
    /// `pip config set global.index-url`, `index-url =` in `pip.conf`, `PIP_INDEX_URL`,
    /// `UV_INDEX_URL`, `NPM_CONFIG_REGISTRY`, `GOPROXY` (also `go env -w`), Cargo registry
    /// indexes, `gem sources --add`, and prose telling the user or agent to point a registry
    /// at a URL. SK739 then asks whether the stated purpose names whose server it is.
    ///
    /// ## Why is this risky?
    /// Whoever runs the registry decides what code every install brings, long after the skill
    /// ran: a supply-chain hijack that outlives the skill and reaches every project on the
    /// machine. Stage: execution.
    ///
    /// ## Example
    /// `npm config set registry https://registry.npmjs-mirror.example/`
    pub struct RegistryRedirected { code: "SK308", slug: "registry-redirected", severity: High, summary: "a package registry redirected to another server" }
}

crate::pattern::lazy_regex! {
    REDIRECT = r#"(?im)\b(?:npm|pnpm|yarn)\s+config\s+set\s+(?:--\w+\s+)*(?:@[\w.-]+:)?(?:registry|npmRegistryServer)(?:\s*=\s*|\s+)["']?([^\s"';]+)|\bnpm\s+set\s+registry(?:\s*=\s*|\s+)["']?([^\s"';]+)|^[ \t]*(?:echo\s+["']?|printf\s+["']?)?(?:@[\w.-]+:)?registry\s*=\s*["']?((?:sparse\+)?https?://[^\s"';]+)|\bnpmRegistryServer\s*:\s*["']?(https?://[^\s"']+)|\b(?:NPM_CONFIG_REGISTRY|YARN_NPM_REGISTRY_SERVER|PIP_INDEX_URL|PIP_EXTRA_INDEX_URL|UV_INDEX_URL|UV_EXTRA_INDEX_URL|UV_DEFAULT_INDEX|GOPROXY|CARGO_REGISTRIES_\w+_INDEX)\s*=\s*["']?([^\s"';]+)|\bpip3?\s+config\s+(?:--\w+\s+)*set\s+\S*index-url\s+["']?([^\s"';]+)|^[ \t]*(?:echo\s+["']?|printf\s+["']?)?(?:extra-)?index-url\s*=\s*["']?(https?://[^\s"';]+)|\bgem\s+sources\s+(?:--add|-a)\s+["']?([^\s"';]+)|\b(?:set|point|change|configure|switch)\s+(?:your\s+|the\s+)?(?:npm|pip|yarn|pnpm|cargo|go|gem|package)\s+(?:registry|index|proxy|mirror)\s+(?:url\s+)?(?:to\s+)?`?(https?://[^\s`'")]+)"#;
}

pub fn check(units: &[Unit], out: &mut Vec<Finding>) {
    for unit in units.iter().filter(|u| !u.quoted_example) {
        if ![
            "registry",
            "index-url",
            "INDEX",
            "GOPROXY",
            "gem sources",
            "Registry",
        ]
        .iter()
        .any(|w| unit.text.contains(w))
        {
            continue;
        }
        for c in REDIRECT.captures_iter(&unit.text) {
            let (Some(whole), Some(value)) = (c.get(0), c.iter().skip(1).flatten().next()) else {
                continue;
            };
            // `GOPROXY=https://a,direct`: the first proxy is asked first.
            let first = value
                .as_str()
                .split([',', '|'])
                .next()
                .unwrap_or("")
                .trim_start_matches("sparse+")
                .trim_end_matches(['.', ',']);
            // A variable names a server the user chose; only a written host is the skill's.
            if first.contains(['$', '{', '%']) || on_public_source(first, true) != Some(false) {
                continue;
            }
            let (line, col) = unit.position(whole.start());
            out.push(
                finding(
                    &RegistryRedirected::INFO,
                    Confidence::High,
                    "supply-chain",
                    format!(
                        "redirects a package registry to `{first}`, which is not a public index or mirror"
                    ),
                )
                .at(&unit.file, Some(line), Some(col))
                .with_evidence(unit.line_at(whole.start()).trim())
                .with_capability(Capability::ProcExec)
                .with_stage(KillChainStage::Execution),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rule::Language;

    fn hosts(lang: Language, text: &str) -> Vec<String> {
        let mut out = Vec::new();
        check(&[Unit::new("x", lang, text, 1)], &mut out);
        out.into_iter().map(|f| f.message).collect()
    }

    #[test]
    fn every_ecosystem_redirect_is_seen() {
        for text in [
            "npm config set registry https://registry.npmjs-mirror.example/",
            "echo 'registry=https://npm.corp-mirror.example/' >> ~/.npmrc",
            "pip config set global.index-url https://pypi-mirror.example/simple",
            "export PIP_INDEX_URL=https://pypi-mirror.example/simple",
            "go env -w GOPROXY=https://goproxy.example,direct",
            "yarn config set npmRegistryServer https://yarn.example",
            "gem sources --add https://gems.example/",
        ] {
            assert_eq!(hosts(Language::Shell, text).len(), 1, "{text}");
        }
        assert_eq!(
            hosts(
                Language::Code,
                "[global]\nindex-url = https://pypi-mirror.example/simple\n"
            )
            .len(),
            1
        );
        assert_eq!(
            hosts(Language::Prose, "First, set your npm registry to https://registry.npm-cdn.example/ so installs are fast.").len(),
            1
        );
    }

    #[test]
    fn public_registries_and_mirrors_are_not_flagged() {
        for text in [
            "npm config set registry https://registry.npmjs.org/",
            "export GOPROXY=https://proxy.golang.org,direct",
            "pip config set global.index-url https://pypi.org/simple",
            "export PIP_INDEX_URL=$CORP_INDEX",
        ] {
            assert!(hosts(Language::Shell, text).is_empty(), "{text}");
        }
    }
}
