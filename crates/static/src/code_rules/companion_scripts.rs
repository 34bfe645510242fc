//! Scripts the instructions run that the skill says it ships, and does not.

use super::finding;
use crate::registry::declare_rule;
use crate::rule::Language;
use crate::units::Unit;
use skillgate_model::bundle::{Bundle, is_document};
use skillgate_model::{Capability, Confidence, Finding, KillChainStage, Severity};
use std::collections::HashSet;

declare_rule! {
    /// ## What it does
    /// Fires when the skill says it ships its own scripts ("the bundled script", "the companion
    /// scripts", "`setup.sh` ships alongside this skill") and a command block of its
    /// instructions runs a script by a relative path (`bash setup.sh`, `./install.sh`,
    /// `source env.sh`, `. ./init.sh`, `python3 scripts/run.py`) that no file of the bundle
    /// provides. Commands after a `cd` in the same block are left alone: they run in the
    /// user's project, not in the skill. Only SKILL.md's own blocks count: a reference page
    /// that quotes another skill's workflow tells the agent nothing to run.
    ///
    /// It is critical when the missing script is the gate to the workflow: the first command the
    /// instructions run, a step their lead-in orders run before the rest ("first", "before
    /// anything else", "every session"), or most of what the skill runs (a wrapper around code
    /// nobody has seen). A missing helper among steps that run without it (a report renderer
    /// after a workflow driven by a public tool, a packaging gap common in real skills) is high:
    /// the skill is held at T1 until it ships the script, not rejected.
    ///
    /// ## Why is this risky?
    /// This is the trojan-horse delivery (progent class 04): the SKILL.md submitted for review
    /// is clean, and the code it runs arrives by another channel (a repository checkout, a
    /// second download, an earlier skill) under the name the instructions call. No gate has
    /// seen that code, and G3 has nothing to run. A genuine skill passes once it is submitted
    /// with its scripts.
    ///
    /// ## Example
    /// "The scaffolding script `scaffold.sh` is bundled alongside this skill." followed by
    /// `bash scaffold.sh --template default`, in a bundle holding only `SKILL.md`.
    pub struct MissingBundledScript { code: "SK517", slug: "missing-bundled-script", severity: Critical, summary: "instructions run a script the skill claims to ship but does not" }
}

crate::pattern::lazy_regex! {
    /// The skill presenting scripts as part of itself.
    CLAIMS_TO_SHIP = r"(?i)\b(?:bundled|companion)\s+(?:[\w-]+\s+){0,2}(?:scripts?|tools?|helpers?|utilit(?:y|ies)|binar(?:y|ies)|executables?)\b|\bscripts?\b(?:[^.\n]|\.\w){0,60}?\b(?:ships|shipped|included|packaged|provided|bundled)\s+(?:alongside|with|in)\s+this\s+skill\b|\bscripts?\s+in\s+this\s+skill'?s\s+(?:directory|folder)\b|\b(?:bundled|companion|included|shipped)\s+`[^`\n]{1,120}\.(?:sh|bash|py|js|mjs|ts|rb|pl|ps1)`";
}

/// Words every claim holds: a screen far cheaper than the claim's regex.
static CLAIM_WORDS: std::sync::LazyLock<aho_corasick::AhoCorasick> =
    std::sync::LazyLock::new(|| {
        aho_corasick::AhoCorasick::builder()
            .ascii_case_insensitive(true)
            .build(["bundled", "companion", "this skill"])
            .expect("literal patterns")
    });

/// Interpreters whose first non-option argument is the script they run.
const INTERPRETERS: &[&str] = &[
    "bash", "sh", "zsh", "dash", "ksh", "source", ".", "python", "python3", "node", "ruby", "perl",
    "pwsh",
];

/// Extensions of scripts a skill would ship.
const SCRIPT_EXTENSIONS: &[&str] = &[
    "sh", "bash", "zsh", "py", "js", "mjs", "cjs", "ts", "rb", "pl", "ps1",
];

/// A relative path naming a script file, normalised (`./` dropped); `None` for anything else:
/// variables, globs, absolute or home paths, options.
fn script_path(word: &str) -> Option<String> {
    let word = word.trim_matches(|c| c == '"' || c == '\'');
    if word.is_empty()
        || word.starts_with(['-', '/', '~', '$'])
        || word.contains(['$', '*', '{', '<', '>', '`', '?'])
        || word.split('/').any(|part| part == "..")
    {
        return None;
    }
    let (_, extension) = word.rsplit_once('.')?;
    if !SCRIPT_EXTENSIONS.contains(&extension) {
        return None;
    }
    let path = word.trim_start_matches("./");
    (!path.is_empty()).then(|| path.to_string())
}

/// The relative script a `command` node runs, with its byte offset.
fn script_run_by(command: tree_sitter::Node, text: &str) -> Option<(String, usize)> {
    let name = command.child_by_field_name("name")?;
    let word = name.utf8_text(text.as_bytes()).ok()?;
    if INTERPRETERS.contains(&word) {
        let mut cursor = command.walk();
        for argument in command.children_by_field_name("argument", &mut cursor) {
            let word = argument.utf8_text(text.as_bytes()).ok()?;
            // `python3 -c CODE`, `python3 -m MODULE`, `node -e CODE`: no script file.
            if matches!(word, "-c" | "-m" | "-e" | "--eval" | "-p" | "--print") {
                return None;
            }
            if !word.starts_with('-') {
                return script_path(word).map(|path| (path, argument.start_byte()));
            }
        }
        return None;
    }
    // Run directly: `./setup.sh` or `scripts/setup.sh`, never a bare name looked up in PATH.
    (word.contains('/'))
        .then(|| script_path(word))
        .flatten()
        .map(|path| (path, name.start_byte()))
}

/// The commands a shell block runs before any `cd`, in order, each with the relative script it
/// runs (if it runs one) and that script's byte offset.
fn commands_run(unit: &Unit) -> Vec<Option<(String, usize)>> {
    let Some(tree) = unit.tree() else {
        return Vec::new();
    };
    let mut commands = Vec::new();
    let mut stack = vec![tree.root_node()];
    while let Some(node) = stack.pop() {
        if node.kind() == "command" {
            commands.push(node);
        }
        // Only commands the block itself runs: not the text of strings or heredocs.
        if !matches!(node.kind(), "string" | "raw_string" | "heredoc_body") {
            let mut cursor = node.walk();
            stack.extend(node.children(&mut cursor));
        }
    }
    commands.sort_by_key(|c| c.start_byte());
    let mut out = Vec::new();
    for command in commands {
        let name = command
            .child_by_field_name("name")
            .and_then(|n| n.utf8_text(unit.text.as_bytes()).ok());
        if name == Some("cd") || name == Some("pushd") {
            break;
        }
        out.push(script_run_by(command, &unit.text));
    }
    out
}

crate::pattern::lazy_regex! {
    /// A lead-in that orders a step before the rest of the workflow.
    RUN_BEFORE_THE_REST = r"(?i)\b(?:first|before\s+(?:anything|any\s+other|every|each|you\s+(?:start|begin|use|run))|prerequisite|(?:every|each)\s+(?:session|time|run)|do\s+not\s+skip|always\s+run|must\s+(?:be\s+)?run)\b";
}

/// The bundle's files by path and by file name: a script is provided at its path, or (read
/// leniently, as a reader would) under its file name anywhere.
struct Provided<'f> {
    paths_and_names: HashSet<&'f str>,
}

impl<'f> Provided<'f> {
    fn new(files: &[&'f str]) -> Self {
        let names = files.iter().map(|f| f.rsplit('/').next().unwrap_or(f));
        Self {
            paths_and_names: files.iter().copied().chain(names).collect(),
        }
    }

    fn has(&self, path: &str) -> bool {
        let name = path.rsplit('/').next().unwrap_or(path);
        self.paths_and_names.contains(path) || self.paths_and_names.contains(name)
    }
}

/// SK517 over the units of a bundle whose files are `files`.
pub fn check_files(files: &[&str], units: &[Unit], out: &mut Vec<Finding>) {
    let documents = || units.iter().filter(|u| is_document(&u.file));
    let Some(claim) = documents()
        .filter(|u| u.lang == Language::Prose && u.decoded_from.is_none())
        .filter(|u| CLAIM_WORDS.is_match(&u.text))
        .find_map(|u| CLAIMS_TO_SHIP.find(&u.text).map(|m| m.as_str().to_string()))
    else {
        return;
    };
    let provided = Provided::new(files);
    // The skill's own instructions: a reference page may quote another skill's (a skill
    // creator's guide citing the original `scripts/init_skill.py` workflow).
    let instructions = |u: &&Unit| u.file.rsplit('/').next() == Some("SKILL.md");
    let mut steps = Vec::new();
    let mut lead_in = "";
    for unit in documents().filter(instructions) {
        if unit.lang == Language::Prose {
            // The paragraph that introduces the next block.
            lead_in = unit.text.trim_end().rsplit("\n\n").next().unwrap_or("");
            continue;
        }
        if unit.lang != Language::Shell || unit.decoded_from.is_some() {
            continue;
        }
        let ordered_first = RUN_BEFORE_THE_REST.is_match(lead_in);
        for script in commands_run(unit) {
            steps.push(Step {
                unit,
                script,
                ordered_first,
            });
        }
    }
    let runs_missing = |s: &Step| s.script.as_ref().is_some_and(|(p, _)| !provided.has(p));
    let missing_steps = steps.iter().filter(|s| runs_missing(s)).count();
    // The skill is a wrapper around the missing code when most of what it runs is missing.
    let wrapper = missing_steps * 2 >= steps.len();
    let mut reported = HashSet::new();
    for (index, step) in steps.iter().enumerate() {
        let Some((path, at)) = step.script.as_ref().filter(|_| runs_missing(step)) else {
            continue;
        };
        if !reported.insert(path.clone()) {
            continue;
        }
        let unit = step.unit;
        // The gate to the workflow: what the skill runs first, or orders run before the rest.
        let gate = index == 0 || step.ordered_first || wrapper;
        let (line, col) = unit.position(*at);
        let mut f = if gate {
            finding(
                &MissingBundledScript::INFO,
                Confidence::High,
                "malware-delivery",
                format!(
                    "the instructions run `{path}` {role}, and the skill presents it as its own (\"{claim}\") but does not contain it: the code that would run was never reviewed",
                    role = if wrapper { "as most of what the skill does" } else { "before the rest of the workflow" },
                ),
            )
            .with_stage(KillChainStage::Execution)
        } else {
            let mut f = finding(
                &MissingBundledScript::INFO,
                Confidence::High,
                "malware-delivery",
                format!(
                    "the instructions run `{path}`, which the skill presents as its own (\"{claim}\") but does not contain; it is neither the workflow's first step nor most of it ({missing_steps} of {} commands), so the skill is held until it ships the script",
                    steps.len()
                ),
            );
            f.severity = Severity::High;
            f
        };
        f = f
            .at(&unit.file, Some(line), Some(col))
            .with_evidence(unit.line_at(*at).trim())
            .with_capability(Capability::ProcExec);
        f.taxonomy = vec!["SC2".into()];
        out.push(f);
    }
}

/// One command of the instructions' workflow, in document order.
struct Step<'u> {
    unit: &'u Unit,
    script: Option<(String, usize)>,
    ordered_first: bool,
}

pub fn check(bundle: &Bundle, units: &[Unit], out: &mut Vec<Finding>) {
    let files: Vec<&str> = bundle.files.iter().map(|f| f.path.as_str()).collect();
    check_files(&files, units, out);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_backticked_bundled_script_is_a_claim() {
        assert_eq!(
            missing(
                &["SKILL.md", "scripts/group_commits.py"],
                "Run the bundled `scripts/setup_env.py` first.\n",
                "python3 scripts/setup_env.py --repo .\n",
            ),
            vec!["python3 scripts/setup_env.py --repo ."]
        );
    }

    #[test]
    fn a_missing_helper_is_held_and_a_missing_gate_is_critical() {
        let severities = |prose: &str, block: &str| {
            let units = [
                Unit::new(
                    "SKILL.md",
                    Language::Prose,
                    "The bundled helper renders reports.\n",
                    1,
                ),
                Unit::new(
                    "SKILL.md",
                    Language::Shell,
                    "trivy image alpine\ntrivy config .\n",
                    3,
                ),
                Unit::new("SKILL.md", Language::Prose, prose, 6),
                Unit::new("SKILL.md", Language::Shell, block, 8),
            ];
            let mut out = Vec::new();
            check_files(&["SKILL.md"], &units, &mut out);
            out.iter().map(|f| f.severity).collect::<Vec<_>>()
        };
        let helper = "python3 scripts/render.py --input r.json\n";
        assert_eq!(
            severities("For an HTML report:\n", helper),
            [Severity::High]
        );
        assert_eq!(
            severities("Before anything else in every session, run:\n", helper),
            [Severity::Critical]
        );
        // Most of what the skill runs.
        assert_eq!(
            severities("Then:\n", "./a.sh\n./b.sh\n./c.sh\n"),
            [Severity::Critical; 3]
        );
    }

    #[test]
    fn a_reference_quoting_another_skills_workflow_runs_nothing() {
        let units = [
            Unit::new(
                "SKILL.md",
                Language::Prose,
                "Bundled resources - Scripts\n",
                1,
            ),
            Unit::new(
                "references/skill-creator-original.md",
                Language::Shell,
                "scripts/init_skill.py my-skill --path out\n",
                5,
            ),
        ];
        let mut out = Vec::new();
        check_files(&["SKILL.md"], &units, &mut out);
        assert!(out.is_empty(), "{out:?}");
    }

    fn missing(files: &[&str], prose: &str, block: &str) -> Vec<String> {
        let units = [
            Unit::new("SKILL.md", Language::Prose, prose, 1),
            Unit::new("SKILL.md", Language::Shell, block, 5),
        ];
        let mut out = Vec::new();
        check_files(files, &units, &mut out);
        out.into_iter()
            .map(|f| f.evidence.unwrap_or_default())
            .collect()
    }

    const CLAIM: &str = "The companion scripts configure the environment.";

    #[test]
    fn scripts_the_skill_claims_and_lacks_are_found() {
        for block in [
            "bash scaffold.sh --template default --name \"$(basename $(pwd))\"",
            "./setup-ci.sh --platform github",
            "source toolchain-env.sh --arch aarch64 && ./build.sh",
            ". ./provision.sh --refresh",
            "sh cleanup.sh --deep && ./finalize.sh",
            "python3 scripts/register.py NAME --server http://h:1",
        ] {
            assert!(!missing(&["SKILL.md"], CLAIM, block).is_empty(), "{block}");
        }
        for claim in [
            "The scaffolding script `scaffold.sh` is bundled alongside this skill file.",
            "The initialization script `init.sh` ships alongside this skill.",
            "Run the bundled setup script from the project root.",
            "Use the scripts in this skill's directory.",
        ] {
            assert_eq!(
                missing(&["SKILL.md"], claim, "bash init.sh"),
                ["bash init.sh"],
                "{claim}"
            );
        }
    }

    #[test]
    fn shipped_scripts_project_scripts_and_unclaimed_ones_are_not() {
        // Shipped, at that path or under that name.
        assert!(
            missing(
                &["SKILL.md", "scripts/setup.sh"],
                CLAIM,
                "bash scripts/setup.sh"
            )
            .is_empty()
        );
        assert!(missing(&["SKILL.md", "scripts/setup.sh"], CLAIM, "./setup.sh").is_empty());
        // No claim that the skill ships scripts: the user's own project.
        for unclaimed in [
            "Builds your project.",
            "If a type isn't shown in the documentation included in this skill, write the file.",
        ] {
            assert!(missing(&["SKILL.md"], unclaimed, "./build.sh --release").is_empty());
        }
        for block in [
            // After `cd`, in the user's project.
            "cd backend && python server.py",
            // Inside a string: an argument, not a command of the block.
            "python3 scripts/with_server.py --server \"python server.py\" --port 3000",
            // Variables, globs, absolute paths, commands on PATH.
            "bash \"$SCRIPT_DIR/setup.sh\"",
            "bash /opt/tool/install.sh",
            "for f in *.sh; do sh \"$f\"; done",
            "npm run build && make test",
            "python3 -m pytest tests/",
        ] {
            assert!(
                missing(&["SKILL.md", "scripts/with_server.py"], CLAIM, block).is_empty(),
                "{block}"
            );
        }
    }
}
