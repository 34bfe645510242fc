//! Secrets printed into the agent's context: whatever a script prints, the agent reads, and
//! from there it reaches the model provider, transcripts and logs.

use super::finding;
use crate::registry::declare_rule;
use crate::rule::Language;
use crate::units::Unit;
use skillgate_model::{Capability, Confidence, Finding, KillChainStage};

declare_rule! {
    /// ## What it does
    /// Flags a script or a command the agent runs that prints the whole environment: a bare
    /// `env`, `printenv`, `set`, `export -p` or `declare -x`; `print(os.environ)`,
    /// `print(dict(os.environ))`, a loop over `os.environ.items()` that prints each value;
    /// `console.log(process.env)`. A filtered listing (`env | grep MYAPP_`) or one variable
    /// is not flagged, nor a skill whose stated purpose is inspecting the environment.
    ///
    /// ## Why is this risky?
    /// The environment holds API keys and tokens. Printed, they enter the agent's context,
    /// which goes to the model provider and into logs: credential exposure without any network
    /// call a scanner would look for. Placed after padding, it is the shape of a published
    /// attack on skill scanners. Stage: credential access.
    ///
    /// ## Example
    /// A status script whose last line, after 100,000 blank ones, is `env`.
    pub struct EnvironmentPrinted { code: "SK411", slug: "environment-printed", severity: High, summary: "the whole environment printed into the agent's context" }
}

crate::pattern::lazy_regex! {
    SHELL_DUMP = r"(?m)^[ \t]*(?:sudo\s+)?(?:env|printenv|set|export\s+-p|declare\s+-x|declare\s+-px|compgen\s+-e)[ \t]*(?:$|;|&&|\|\|?[ \t]*(?:sort|cat|tee|column|less|more|base64|xxd)\b[^\n|]*$)";
    PYTHON_DUMP = r"(?m)\b(?:print|pprint|pp)\s*\(\s*(?:json\.dumps\s*\(\s*)?(?:dict\s*\(\s*)?os\.environ\b(?:\.copy\(\))?\s*[,)]|(?m)^([ \t]*)for\s+\w+\s*,\s*(\w+)\s+in\s+(?:sorted\s*\(\s*)?os\.environ\.items\s*\(\s*\)";
    JS_DUMP = r"\bconsole\.(?:log|info|dir)\s*\(\s*(?:JSON\.stringify\s*\(\s*)?process\.env\s*[,)]";
    PURPOSE_EXPLAINS = r"(?i)\benv(?:ironment)?(?:\s+|-)?(?:var(?:iable)?s?|inspector|dump|debug\w*|diagnos\w*|check\w*|list\w*|viewer)\b|\bprintenv\b|\b(?:show|list|inspect|print|dump|debug)\w*\s+(?:the\s+|all\s+|your\s+)?(?:environment|env)\b";
}

pub fn check(units: &[Unit], purpose: &str, out: &mut Vec<Finding>) {
    if PURPOSE_EXPLAINS.is_match(purpose) {
        return;
    }
    for unit in units.iter().filter(|u| !u.quoted_example) {
        let hit = match unit.lang {
            Language::Shell => SHELL_DUMP.find(&unit.text).map(|m| m.start()),
            Language::Python => python_dump(&unit.text),
            Language::Code => JS_DUMP.find(&unit.text).map(|m| m.start()),
            _ => None,
        };
        let Some(at) = hit else { continue };
        let (line, col) = unit.position(at);
        out.push(
            finding(
                &EnvironmentPrinted::INFO,
                Confidence::High,
                "credential-access",
                "prints the whole environment, secrets included, into the agent's context",
            )
            .at(&unit.file, Some(line), Some(col))
            .with_evidence(unit.line_at(at).trim())
            .with_capability(Capability::SecretRead)
            .with_stage(KillChainStage::CredentialAccess),
        );
    }
}

/// `print(os.environ)`, or a loop over the environment's items whose body prints the value.
fn python_dump(text: &str) -> Option<usize> {
    for c in PYTHON_DUMP.captures_iter(text) {
        let whole = c.get(0)?;
        let (Some(indent), Some(value)) = (c.get(1), c.get(2)) else {
            return Some(whole.start());
        };
        let body = text[whole.end()..]
            .lines()
            .skip(1)
            .take_while(|l| {
                l.trim().is_empty() || l.len() - l.trim_start().len() > indent.as_str().len()
            })
            .take(6);
        if body
            .into_iter()
            .any(|l| l.contains("print") && l.contains(value.as_str()))
        {
            return Some(whole.start());
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fires(lang: Language, text: &str) -> bool {
        let mut out = Vec::new();
        check(
            &[Unit::new("s", lang, text, 1)],
            "Shows project status",
            &mut out,
        );
        !out.is_empty()
    }

    #[test]
    fn whole_environment_dumps_fire() {
        assert!(fires(Language::Shell, "echo status\nenv\n"));
        assert!(fires(Language::Shell, "printenv | sort\n"));
        assert!(fires(
            Language::Python,
            "import os\nprint(dict(os.environ))\n"
        ));
        assert!(fires(
            Language::Python,
            "for k, v in os.environ.items():\n    print(f'{k}={v}')\n"
        ));
        assert!(fires(Language::Code, "console.log(process.env);\n"));
    }

    #[test]
    fn filtered_or_single_variables_do_not() {
        assert!(!fires(
            Language::Shell,
            "env | grep MYAPP_\nset -euo pipefail\n"
        ));
        assert!(!fires(Language::Shell, "env FOO=1 make\nprintenv HOME\n"));
        assert!(!fires(
            Language::Python,
            "print(os.environ.get('MODE'))\nfor k, v in os.environ.items():\n    if k.startswith('APP_'):\n        cfg[k] = v\n"
        ));
        assert!(!fires(
            Language::Python,
            "print('API_TOKEN set:', 'API_TOKEN' in os.environ)\n"
        ));
    }

    #[test]
    fn a_purpose_about_the_environment_explains_it() {
        let mut out = Vec::new();
        check(
            &[Unit::new("s", Language::Shell, "env\n", 1)],
            "Environment variable inspector for debugging CI",
            &mut out,
        );
        assert!(out.is_empty());
    }
}
