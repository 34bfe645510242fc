//! Coverage: which planned steps exercised the skill's code, and which did not, and why.
//!
//! A step *exercised* its code only when the program it names existed and started, and got
//! past the point where it would refuse to work. None of these did:
//! - the step could not be started at all;
//! - exit 127 or 126, `command not found`, or `No such file or directory` for the script or
//!   program itself (not for a file the script then tried to read);
//! - `ModuleNotFoundError` raised by a top-level import, before any of the script's code ran;
//! - a script that printed its usage and exited because it needs arguments.
//!
//! G3 says `pass` only when every planned step that holds code was exercised: a sandbox that
//! saw nothing because nothing ran has nothing to vouch for.

use crate::evidence::{Event, EventKind, StepOutcome};
use crate::plan::{Plan, Step};
use regex::Regex;
use serde::{Deserialize, Serialize};
use skillgate_model::bundle::Bundle;
use std::sync::LazyLock;

/// One planned step and whether it exercised its code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepCoverage {
    pub label: String,
    /// `--help` and the like: read, not counted.
    pub probe: bool,
    pub exercised: bool,
    /// Why not, when it was not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub why_not: Option<String>,
}

/// What a run exercised.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Coverage {
    pub steps: Vec<StepCoverage>,
    /// Bundled scripts that G3 can run, and whether any step ran them.
    pub scripts: Vec<(String, bool)>,
}

impl Coverage {
    /// Planned steps that count (not probes).
    pub fn planned(&self) -> usize {
        self.steps.iter().filter(|s| !s.probe).count()
    }

    pub fn exercised(&self) -> usize {
        self.steps
            .iter()
            .filter(|s| !s.probe && s.exercised)
            .count()
    }

    pub fn not_exercised(&self) -> impl Iterator<Item = &StepCoverage> {
        self.steps.iter().filter(|s| !s.probe && !s.exercised)
    }

    pub fn complete(&self) -> bool {
        self.not_exercised().next().is_none()
    }

    /// `exercised 3/5 steps, 2/2 bundled scripts ran`.
    pub fn summary(&self) -> String {
        let ran = self.scripts.iter().filter(|(_, r)| *r).count();
        let mut s = format!("exercised {}/{} steps", self.exercised(), self.planned());
        if !self.scripts.is_empty() {
            s.push_str(&format!(
                ", {ran}/{} bundled scripts ran",
                self.scripts.len()
            ));
        }
        s
    }

    /// The steps that were not exercised, the first few by name with why, then how many more.
    pub fn gaps(&self) -> String {
        const NAMED: usize = 8;
        let missing: Vec<&StepCoverage> = self.not_exercised().collect();
        let mut named: Vec<String> = missing
            .iter()
            .take(NAMED)
            .map(|s| format!("{}: {}", s.label, s.why_not.as_deref().unwrap_or("not run")))
            .collect();
        if missing.len() > NAMED {
            named.push(format!("{} more", missing.len() - NAMED));
        }
        named.join("; ")
    }
}

/// Coverage of `plan` by the outcomes of one runner (in plan order; a step with no outcome
/// did not run), with the events that show which bundled scripts ran.
pub fn measure(
    plan: &Plan,
    outcomes: &[StepOutcome],
    events: &[Event],
    bundle: &Bundle,
) -> Coverage {
    let steps: Vec<StepCoverage> = plan
        .steps
        .iter()
        .enumerate()
        .map(|(i, step)| {
            let why_not = match outcomes.get(i) {
                Some(outcome) => not_exercised(step, outcome, events, i),
                None => Some("not run: the run ended before it".into()),
            };
            StepCoverage {
                label: step.label.clone(),
                probe: step.probe,
                exercised: why_not.is_none(),
                why_not,
            }
        })
        .collect();
    let scripts = bundle
        .scripts()
        .filter(|s| {
            s.path.ends_with(".py")
                || s.path.ends_with(".sh")
                || s.path.ends_with(".bash")
                || s.bytes.starts_with(b"#!")
        })
        .map(|s| {
            let ran = plan.steps.iter().zip(&steps).any(|(step, cov)| {
                !cov.probe && cov.exercised && step.argv.iter().any(|a| names_script(a, &s.path))
            }) || events.iter().any(|e| match &e.kind {
                EventKind::Exec { argv, .. } => argv.iter().any(|a| names_script(a, &s.path)),
                _ => false,
            });
            (s.path.clone(), ran)
        })
        .collect();
    Coverage { steps, scripts }
}

/// Whether a word (an argv entry, a shell command line) names the bundled script `path`.
fn names_script(word: &str, path: &str) -> bool {
    word.contains(path)
        || word
            .split(|c: char| c.is_whitespace() || c == '/' || c == '"' || c == '\'')
            .any(|w| Some(w) == path.rsplit('/').next())
}

static COMMAND_NOT_FOUND: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?m)^(?:.*: )?(?:line \d+: )?([^\s:]+): (?:command not found|not found)\s*$")
        .expect("valid regex")
});
/// The script or program itself missing: bash's `line 3: ./x.sh: No such file or directory`
/// (a command it could not execute), `bash: x.sh: No such file…` (a script argument), Python's
/// `can't open file`, sh's `cannot open`, `source`'s `file not found`.
static PROGRAM_MISSING: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?m)^(?:(?:/usr)?(?:/bin/)?(?:ba|da|z)?sh: (?:line \d+: )?(\S+): (?:No such file or directory|Permission denied|cannot execute))|(?:python[\d.]*: can't open file '([^']+)')|(?:sh: \d+: cannot open (\S+))|(?:(?:source|\.): (\S+): file not found)",
    )
    .expect("valid regex")
});
static MODULE_NOT_FOUND: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?m)^(?:ModuleNotFoundError|ImportError): (.*)$").expect("valid regex")
});
static TRACEBACK_FRAME: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"(?m)^\s+File "[^"]*", line \d+, in (.+)$"#).expect("valid regex")
});
static USAGE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?im)^\s*usage:|error: the following arguments are required|error: (?:missing|no) (?:required )?argument|^Error: Missing (?:argument|option)|\bmissing (?:required )?(?:argument|operand|parameter)s?\b",
    )
    .expect("valid regex")
});

/// Why a step did not exercise its code, or `None` when it did.
pub fn not_exercised(
    step: &Step,
    outcome: &StepOutcome,
    events: &[Event],
    index: usize,
) -> Option<String> {
    if let Some(e) = &outcome.error {
        return Some(format!("could not start: {e}"));
    }
    if outcome.timed_out {
        return None; // it ran until the limit stopped it
    }
    let stderr = &outcome.stderr;
    let mut users_own = false;
    for c in PROGRAM_MISSING.captures_iter(stderr) {
        let what = (1..=4).find_map(|i| c.get(i)).map_or("", |m| m.as_str());
        if !in_users_project(step, what) {
            return Some(format!(
                "`{}`: No such file or directory",
                what.trim_end_matches(':')
            ));
        }
        users_own = true;
    }
    if let Some(c) = COMMAND_NOT_FOUND.captures(stderr) {
        return Some(format!("`{}`: command not found", &c[1]));
    }
    match outcome.exit_code {
        Some(127) if !users_own => return Some("exit 127: a command was not found".into()),
        Some(126) => return Some("exit 126: a command could not be executed".into()),
        _ => {}
    }
    if let Some(c) = MODULE_NOT_FOUND.captures(stderr) {
        let frames: Vec<&str> = TRACEBACK_FRAME
            .captures_iter(stderr)
            .map(|f| f.get(1).map_or("", |m| m.as_str()).trim())
            .collect();
        let only_module_level = frames.iter().all(|f| *f == "<module>");
        let did_something = !outcome.stdout.trim().is_empty()
            || events.iter().any(|e| {
                e.step == Some(index)
                    && matches!(
                        e.kind,
                        EventKind::Connect { .. }
                            | EventKind::DnsQuery { .. }
                            | EventKind::HttpRequest { .. }
                            | EventKind::HoneytokenOpened { .. }
                            | EventKind::FileUnlink { .. }
                    )
            });
        if only_module_level && !did_something {
            return Some(format!(
                "stopped at a top-level import before its own code ran ({})",
                skillgate_model::finding::clip(c[1].trim(), 80)
            ));
        }
    }
    let printed_usage = USAGE.is_match(stderr) || USAGE.is_match(&outcome.stdout);
    let failed = outcome.exit_code.is_some_and(|c| c != 0);
    if !step.probe && printed_usage && (failed || takes_no_arguments(step)) && little_else(outcome)
    {
        return Some("printed its usage and exited: it needs arguments".into());
    }
    None
}

/// Whether a missing program is the user's own project's (`cd "$PROJECT_ROOT" && ./build.sh`):
/// a relative path run after the step left the skill's folder is not the skill's code, so
/// its absence is no gap in what G3 saw of the skill.
fn in_users_project(step: &Step, missing: &str) -> bool {
    let relative = !missing.starts_with('/') && !missing.contains("scripts/");
    let left_the_skill = step.argv.iter().skip(2).any(|code| {
        code.split(['\n', ';', '&', '|'])
            .filter_map(|part| part.trim().strip_prefix("cd "))
            .any(|dir| {
                let dir = dir.trim().trim_matches(['"', '\'']);
                !matches!(
                    dir,
                    "." | "./" | "$SKILL_DIR" | "${SKILL_DIR}" | "$CLAUDE_SKILL_DIR"
                ) && !dir.starts_with("scripts")
            })
    });
    relative && left_the_skill
}

/// A script step run with no arguments at all.
fn takes_no_arguments(step: &Step) -> bool {
    step.argv.len() == 2
}

/// Output that is a usage message and not much more (a tool that ran and then complained
/// about one option printed far more).
fn little_else(outcome: &StepOutcome) -> bool {
    outcome.stdout.lines().count() + outcome.stderr.lines().count() <= 60
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(argv: &[&str]) -> Step {
        Step {
            label: "s".into(),
            argv: argv.iter().map(|s| s.to_string()).collect(),
            probe: false,
        }
    }

    fn outcome(code: i32, stdout: &str, stderr: &str) -> StepOutcome {
        let mut o = StepOutcome::new("s".into(), vec![]);
        o.exit_code = Some(code);
        o.stdout = stdout.into();
        o.stderr = stderr.into();
        o
    }

    fn why(argv: &[&str], code: i32, stdout: &str, stderr: &str) -> Option<String> {
        not_exercised(&step(argv), &outcome(code, stdout, stderr), &[], 0)
    }

    #[test]
    fn each_kind_of_not_starting_is_named() {
        let block = ["bash", "-c", "./scripts/x.sh --fast"];
        assert!(
            why(
                &block,
                127,
                "",
                "bash: line 1: ./scripts/x.sh: No such file or directory\n"
            )
            .unwrap()
            .contains("./scripts/x.sh")
        );
        assert!(
            why(&block, 127, "", "bash: line 1: node: command not found\n")
                .unwrap()
                .contains("node")
        );
        assert!(
            why(
                &["bash", "scripts/x.sh"],
                127,
                "",
                "bash: scripts/x.sh: No such file or directory\n"
            )
            .is_some()
        );
        assert!(
            why(
                &["python3", "x.py"],
                2,
                "",
                "python3: can't open file '/tmp/work/x.py': [Errno 2] No such file or directory\n"
            )
            .is_some()
        );
        assert!(why(&block, 126, "", "").unwrap().contains("126"));
        // The user's own project's script, after the step left the skill's folder, is not.
        let project = ["bash", "-c", "cd \"$PROJECT_ROOT\" && ./build.sh --release"];
        assert!(
            why(
                &project,
                0,
                "",
                "bash: line 1: ./build.sh: No such file or directory\n"
            )
            .is_none()
        );
        let mut o = outcome(0, "", "");
        o.error = Some("exec failed".into());
        assert!(
            not_exercised(&step(&block), &o, &[], 0)
                .unwrap()
                .contains("could not start")
        );
    }

    #[test]
    fn a_failed_top_level_import_is_not_exercised_but_a_late_one_is() {
        let top = "Traceback (most recent call last):\n  File \"/tmp/work/x.py\", line 3, in <module>\n    import pandas\nModuleNotFoundError: No module named 'pandas'\n";
        assert!(
            why(&["python3", "x.py"], 1, "", top)
                .unwrap()
                .contains("pandas")
        );
        let late = "Traceback (most recent call last):\n  File \"/tmp/work/x.py\", line 9, in <module>\n    main()\n  File \"/tmp/work/x.py\", line 5, in main\n    import pandas\nModuleNotFoundError: No module named 'pandas'\n";
        assert!(why(&["python3", "x.py"], 1, "", late).is_none());
    }

    #[test]
    fn usage_and_exit_is_not_exercised_but_a_data_error_is() {
        let argparse =
            "usage: x.py [-h] input\nx.py: error: the following arguments are required: input\n";
        assert!(
            why(&["python3", "x.py"], 2, "", argparse)
                .unwrap()
                .contains("usage")
        );
        assert!(
            why(&["python3", "x.py"], 0, "Usage: x.py FILE\n", "")
                .unwrap()
                .contains("usage")
        );
        // A script given its input that then fails on the data did run.
        let data = "Traceback (most recent call last):\n  File \"x.py\", line 4, in <module>\nFileNotFoundError: [Errno 2] No such file or directory: 'in.pdf'\n";
        assert!(why(&["python3", "x.py", "in.pdf"], 1, "", data).is_none());
        // A probe's usage is what it was for.
        let probe = Step {
            probe: true,
            ..step(&["python3", "x.py", "--help"])
        };
        assert!(not_exercised(&probe, &outcome(0, "usage: x.py\n", ""), &[], 0).is_none());
        assert!(why(&["python3", "x.py"], 0, "done\n", "").is_none());
    }
}
