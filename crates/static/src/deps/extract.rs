//! Extracting dependencies from manifests (requirements, pyproject, package.json) and from
//! install commands in scripts and code blocks.

use super::InstallTimeExecution;
use super::advisories::Ecosystem;
use crate::code_rules::finding;
use crate::rule::Language;
use crate::units::Unit;
use regex::Regex;
use skillgate_model::{Bundle, Confidence, Finding, KillChainStage};
use std::sync::LazyLock;

/// How a dependency's version is fixed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pin {
    Exact(String),
    Loose,
    None,
    Url(String),
}

#[derive(Debug, Clone)]
pub struct Dependency {
    pub ecosystem: Ecosystem,
    pub name: String,
    pub pin: Pin,
    pub file: String,
    pub line: u32,
    pub raw: String,
    /// Installed by a command at run time rather than declared in a manifest.
    pub inline: bool,
    /// `npx -y` (runs the package).
    pub npx: bool,
    /// Set for a custom index option rather than a package.
    pub index: Option<String>,
}

static REQ_NAME: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^([A-Za-z0-9][A-Za-z0-9._-]*)\s*(\[[^\]]*\])?\s*(.*)$").unwrap());
static INSTALL: LazyLock<Regex> = LazyLock::new(|| {
    // `pip download` resolves like `pip install`, and builds sdists (running their code) to
    // read their metadata.
    crate::pattern::compile(r"(?m)\b(?:(?:python[0-9.]*\s+-m\s+)?pip[0-9.]*\s+(?:install|download)|uv\s+pip\s+install|uv\s+add|pipx\s+(?:install|run)|(npm)\s+(?:i|install|add)|yarn\s+(?:global\s+)?add|pnpm\s+(?:add|i|install)|(npx)|bun\s+add)\b([^\n;&|`]*)").unwrap()
});

/// Parses one PEP 508 requirement or pip argument.
pub fn parse_requirement(spec: &str) -> Option<(String, Pin)> {
    let spec = spec.trim().trim_matches(['"', '\'']);
    if spec.is_empty() || spec.starts_with('-') || spec.starts_with('#') {
        return None;
    }
    if spec.contains("://") || spec.starts_with("git+") {
        let name = spec
            .split_once(" @ ")
            .map(|(n, _)| n.trim())
            .or_else(|| spec.split("#egg=").nth(1))
            .unwrap_or("")
            .to_string();
        return Some((name, Pin::Url(spec.to_string())));
    }
    if spec.ends_with(".whl")
        || spec.ends_with(".tar.gz")
        || spec.starts_with('.')
        || spec.starts_with('/')
    {
        return Some((String::new(), Pin::Url(spec.to_string())));
    }
    let caps = REQ_NAME.captures(spec)?;
    let name = caps[1].to_string();
    let rest = caps
        .get(3)
        .map_or("", |m| m.as_str())
        .split(';')
        .next()
        .unwrap_or("")
        .trim();
    let pin = if rest.is_empty() {
        Pin::None
    } else if let Some(v) = rest.strip_prefix("===").or_else(|| rest.strip_prefix("==")) {
        let v = v.trim();
        if v.contains('*') || v.contains(',') {
            Pin::Loose
        } else {
            Pin::Exact(v.to_string())
        }
    } else {
        Pin::Loose
    };
    Some((name, pin))
}

fn parse_npm(spec: &str) -> Option<(String, Pin)> {
    let spec = spec.trim().trim_matches(['"', '\'']);
    if spec.is_empty() || spec.starts_with('-') || spec.starts_with('.') || spec.starts_with('/') {
        return None;
    }
    if spec.contains("://") || spec.starts_with("git+") || spec.starts_with("github:") {
        return Some((String::new(), Pin::Url(spec.to_string())));
    }
    let (name, version) = match spec.rfind('@') {
        Some(i) if i > 0 => (&spec[..i], Some(&spec[i + 1..])),
        _ => (spec, None),
    };
    let pin = match version {
        None => Pin::None,
        Some(v) if semver::Version::parse(v).is_ok() => Pin::Exact(v.to_string()),
        Some(_) => Pin::Loose,
    };
    Some((name.to_string(), pin))
}

fn npm_value_pin(value: &str) -> Pin {
    let v = value.trim();
    if v.contains("://")
        || v.starts_with("git")
        || v.starts_with("github:")
        || (v.contains('/') && !v.starts_with("npm:") && !v.starts_with("file:"))
    {
        Pin::Url(v.to_string())
    } else if semver::Version::parse(v).is_ok() {
        Pin::Exact(v.to_string())
    } else {
        Pin::Loose
    }
}

fn dep(
    eco: Ecosystem,
    name: String,
    pin: Pin,
    file: &str,
    line: u32,
    raw: &str,
    inline: bool,
) -> Dependency {
    Dependency {
        ecosystem: eco,
        name,
        pin,
        file: file.to_string(),
        line,
        raw: raw.trim().to_string(),
        inline,
        npx: false,
        index: None,
    }
}

pub fn extract(bundle: &Bundle, units: &[Unit]) -> Vec<Dependency> {
    let mut out = Vec::new();
    for f in &bundle.files {
        let Some(text) = f.text() else { continue };
        let name = f.path.rsplit('/').next().unwrap_or("").to_ascii_lowercase();
        if name.starts_with("requirements") && name.ends_with(".txt") {
            requirements(&f.path, &text, &mut out);
        } else if name == "pyproject.toml" {
            pyproject(&f.path, &text, &mut out);
        } else if name == "package.json" {
            package_json(&f.path, &text, &mut out);
        }
    }
    for unit in units
        .iter()
        .filter(|u| u.lang != Language::Prose || u.text.contains('`'))
    {
        inline_installs(unit, &mut out);
    }
    out
}

fn requirements(file: &str, text: &str, out: &mut Vec<Dependency>) {
    for (i, line) in text.lines().enumerate() {
        let line_no = i as u32 + 1;
        let l = line.split(" #").next().unwrap_or("").trim();
        for opt in [
            "--index-url",
            "--extra-index-url",
            "--trusted-host",
            "-i ",
            "--find-links",
            "-f ",
        ] {
            if let Some(rest) = l.strip_prefix(opt) {
                let mut d = dep(
                    Ecosystem::PyPI,
                    String::new(),
                    Pin::None,
                    file,
                    line_no,
                    line,
                    false,
                );
                d.index = Some(format!(
                    "{} {}",
                    opt.trim(),
                    rest.trim_start_matches('=').trim()
                ));
                out.push(d);
            }
        }
        if let Some(rest) = l
            .strip_prefix("-r ")
            .or_else(|| l.strip_prefix("--requirement "))
        {
            if rest.contains("://") {
                out.push(dep(
                    Ecosystem::PyPI,
                    String::new(),
                    Pin::Url(rest.trim().into()),
                    file,
                    line_no,
                    line,
                    false,
                ));
            }
            continue;
        }
        let l = l.strip_prefix("-e ").unwrap_or(l);
        let l = l.split(" --hash").next().unwrap_or(l);
        if let Some((name, pin)) = parse_requirement(l) {
            out.push(dep(Ecosystem::PyPI, name, pin, file, line_no, line, false));
        }
    }
}

fn pyproject(file: &str, text: &str, out: &mut Vec<Dependency>) {
    let Ok(doc) = text.parse::<toml::Table>() else {
        return;
    };
    let mut reqs: Vec<String> = Vec::new();
    if let Some(project) = doc.get("project").and_then(|p| p.as_table()) {
        if let Some(list) = project.get("dependencies").and_then(|d| d.as_array()) {
            reqs.extend(list.iter().filter_map(|v| v.as_str().map(String::from)));
        }
        if let Some(opt) = project
            .get("optional-dependencies")
            .and_then(|d| d.as_table())
        {
            for list in opt.values().filter_map(|v| v.as_array()) {
                reqs.extend(list.iter().filter_map(|v| v.as_str().map(String::from)));
            }
        }
    }
    let poetry = doc
        .get("tool")
        .and_then(|t| t.get("poetry"))
        .and_then(|p| p.get("dependencies"))
        .and_then(|d| d.as_table());
    let needles: Vec<&str> = reqs
        .iter()
        .map(String::as_str)
        .chain(
            poetry
                .into_iter()
                .flat_map(|t| t.keys().map(String::as_str)),
        )
        .collect();
    let lines = first_lines(text, &needles);
    for (r, &line) in reqs.iter().zip(&lines) {
        if let Some((name, pin)) = parse_requirement(r) {
            out.push(dep(Ecosystem::PyPI, name, pin, file, line, r, false));
        }
    }
    if let Some(poetry) = poetry {
        for ((name, v), &line) in poetry.iter().zip(&lines[reqs.len()..]) {
            if name == "python" {
                continue;
            }
            let pin = match v {
                toml::Value::String(s) if s.parse::<pep440_rs::Version>().is_ok() => {
                    Pin::Exact(s.clone())
                }
                toml::Value::Table(t) if t.contains_key("git") || t.contains_key("url") => {
                    Pin::Url(format!("{}", t.get("git").or(t.get("url")).unwrap()))
                }
                _ => Pin::Loose,
            };
            out.push(dep(
                Ecosystem::PyPI,
                name.clone(),
                pin,
                file,
                line,
                name,
                false,
            ));
        }
    }
}

fn package_json(file: &str, text: &str, out: &mut Vec<Dependency>) {
    let Ok(serde_json::Value::Object(doc)) = serde_json::from_str::<serde_json::Value>(text) else {
        return;
    };
    let sections: Vec<&serde_json::Map<String, serde_json::Value>> =
        ["dependencies", "devDependencies", "optionalDependencies"]
            .iter()
            .filter_map(|section| doc.get(*section).and_then(|d| d.as_object()))
            .collect();
    let quoted: Vec<String> = sections
        .iter()
        .flat_map(|deps| deps.keys().map(|name| format!("\"{name}\"")))
        .collect();
    let needles: Vec<&str> = quoted.iter().map(String::as_str).collect();
    let lines = first_lines(text, &needles);
    let entries = sections.iter().flat_map(|deps| deps.iter());
    for ((name, v), &line) in entries.zip(&lines) {
        let value = v.as_str().unwrap_or("");
        out.push(dep(
            Ecosystem::Npm,
            name.clone(),
            npm_value_pin(value),
            file,
            line,
            &format!("\"{name}\": \"{value}\""),
            false,
        ));
    }
}

/// For each needle, the first line (1-based) of `text` that contains it, or 1. One pass over
/// the text for all of them: a manifest of 100,000 dependencies must not be read 100,000 times.
fn first_lines(text: &str, needles: &[&str]) -> Vec<u32> {
    let mut lines = vec![1; needles.len()];
    let Ok(searcher) = aho_corasick::AhoCorasick::new(needles) else {
        return lines;
    };
    let newlines: Vec<usize> = memchr::memchr_iter(b'\n', text.as_bytes()).collect();
    let mut found = vec![false; needles.len()];
    for m in searcher.find_overlapping_iter(text) {
        let i = m.pattern().as_usize();
        // A needle spanning a line break is not on one line.
        if found[i] || text[m.range()].contains('\n') {
            continue;
        }
        found[i] = true;
        lines[i] = newlines.partition_point(|&nl| nl < m.start()) as u32 + 1;
    }
    lines
}

/// npm lifecycle hooks that run at install time.
pub fn install_hooks(bundle: &Bundle, out: &mut Vec<Finding>) {
    for f in bundle
        .files
        .iter()
        .filter(|f| f.path.ends_with("package.json"))
    {
        let Some(text) = f.text() else { continue };
        let Ok(doc) = serde_json::from_str::<serde_json::Value>(&text) else {
            continue;
        };
        let Some(scripts) = doc.get("scripts").and_then(|s| s.as_object()) else {
            continue;
        };
        for hook in ["preinstall", "install", "postinstall"] {
            if let Some(cmd) = scripts.get(hook).and_then(|c| c.as_str()) {
                let line = text
                    .lines()
                    .position(|l| l.contains(&format!("\"{hook}\"")))
                    .map_or(1, |i| i as u32 + 1);
                out.push(
                    finding(
                        &InstallTimeExecution::INFO,
                        Confidence::High,
                        "supply-chain",
                        format!(
                            "`{hook}` hook runs `{}` at install time",
                            skillgate_model::finding::clip(cmd, 80)
                        ),
                    )
                    .at(&f.path, Some(line), None)
                    .with_evidence(cmd)
                    .with_stage(KillChainStage::Execution),
                );
            }
        }
    }
}

/// Options of pip and npm that take a value (so the value is not a package).
const VALUE_OPTIONS: &[&str] = &[
    "-r",
    "--requirement",
    "-c",
    "--constraint",
    "-t",
    "--target",
    "--prefix",
    "--root",
    "-e",
    "--editable",
    "--python",
    "-p",
    "--registry",
    "--cache",
    // pip download
    "-d",
    "--dest",
    "--platform",
    "--python-version",
    "--implementation",
    "--abi",
    "--only-binary",
    "--no-binary",
];
const INDEX_OPTIONS: &[&str] = &[
    "-i",
    "--index-url",
    "--extra-index-url",
    "--trusted-host",
    "--registry",
    "-f",
    "--find-links",
];

/// The install command's own words: a trailing comment (`# Python`) and the text after a
/// closing parenthesis the command did not open (`(pip install pyyaml) if not installed`) are
/// prose, not packages.
fn command_arguments(args: &str) -> &str {
    let args = args
        .find(" #")
        .or_else(|| args.find("\t#"))
        .map_or(args, |i| &args[..i]);
    match args.find(')') {
        Some(i) if !args[..i].contains('(') => &args[..i],
        _ => args,
    }
}

/// Whether byte `at` of `line` lies inside a backticked span.
fn inside_inline_code(line: &str, at: usize) -> bool {
    line.as_bytes()[..at.min(line.len())]
        .iter()
        .filter(|b| **b == b'`')
        .count()
        % 2
        == 1
}

/// The arguments of an install command (`head`: the command and subcommand, `args`: the rest of
/// its line), as the Bash grammar reads them: words and strings, not redirections, not what
/// follows a pipe or `&&`. Falls back to splitting on whitespace when the line does not parse.
fn command_words(head: &str, args: &str) -> Vec<String> {
    let line = format!("{head}{args}");
    let fallback = || args.split_whitespace().map(str::to_string).collect();
    let Some(tree) = crate::engine::parse(crate::rule::TsLanguage::Bash, &line) else {
        return fallback();
    };
    let mut stack = vec![tree.root_node()];
    let command = loop {
        let Some(node) = stack.pop() else {
            return fallback();
        };
        if node.kind() == "command" {
            break node;
        }
        let mut cursor = node.walk();
        let children: Vec<_> = node.children(&mut cursor).collect();
        stack.extend(children.into_iter().rev());
    };
    let mut cursor = command.walk();
    let words: Vec<String> = command
        .children_by_field_name("argument", &mut cursor)
        .filter_map(|a| a.utf8_text(line.as_bytes()).ok())
        // A quote the line never closes (the command sits inside a string of other code:
        // `print("… --index-url https://x/whl\", file=sys.stderr)`) ends the word.
        .map(|w| {
            let inner = w.trim_matches(['"', '\'']);
            inner
                .split(['"', '\''])
                .next()
                .unwrap_or(inner)
                .split_whitespace()
                .next()
                .unwrap_or("")
                .to_string()
        })
        .collect();
    // Drop the subcommand words the regex already read (`-m pip install`, `install`, `add`).
    let skip = head.split_whitespace().count().saturating_sub(1);
    words.into_iter().skip(skip).collect()
}

fn inline_installs(unit: &Unit, out: &mut Vec<Dependency>) {
    for caps in INSTALL.captures_iter(&unit.text) {
        let whole = caps.get(0).unwrap();
        let npm = caps.get(1).is_some()
            || whole.as_str().starts_with("yarn")
            || whole.as_str().starts_with("pnpm")
            || whole.as_str().starts_with("bun");
        let npx = caps.get(2).is_some();
        let eco = if npm || npx {
            Ecosystem::Npm
        } else {
            Ecosystem::PyPI
        };
        // In prose, only a command in inline code is a command: "the pip install goes" is a
        // sentence. A comment line is not a command either.
        let line_start = unit.line_span(whole.start()).start;
        let line_text = unit.line_at(whole.start());
        if (unit.lang == Language::Prose
            && !inside_inline_code(line_text, whole.start() - line_start))
            || line_text.trim_start().starts_with('#')
        {
            continue;
        }
        let args = command_arguments(caps.get(3).map_or("", |m| m.as_str()));
        let (line, _) = unit.position(whole.start());
        let raw = unit.line_at(whole.start());
        // The install command read with the Bash grammar: its arguments, without redirections
        // (`2>/tmp/pip.log`, `> /dev/null`) or what a pipe feeds.
        let head_end = caps.get(3).map_or(whole.end(), |m| m.start()) - whole.start();
        let words = command_words(&whole.as_str()[..head_end], args);
        let mut tokens = words
            .iter()
            .map(|t| t.trim_matches(['"', '\'', ',', ')', '(', '[', ']']))
            .peekable();
        let mut npx_yes = false;
        while let Some(tok) = tokens.next() {
            // A command substitution (`$(pip freeze)`) computes the packages at run time: what
            // follows is its own command line, not package names.
            if tok.starts_with("$(") || tok.starts_with('`') {
                break;
            }
            if tok.starts_with('<')
                || tok.starts_with('$')
                || tok.starts_with('{')
                || tok.contains('\\')
                || tok.is_empty()
            {
                continue;
            }
            if let Some((opt, val)) = tok.split_once('=')
                && INDEX_OPTIONS.contains(&opt)
            {
                let mut d = dep(eco, String::new(), Pin::None, &unit.file, line, raw, true);
                d.index = Some(format!("{opt} {val}"));
                out.push(d);
                continue;
            }
            if INDEX_OPTIONS.contains(&tok) {
                let val = tokens.next().unwrap_or("");
                let mut d = dep(eco, String::new(), Pin::None, &unit.file, line, raw, true);
                d.index = Some(format!("{tok} {val}"));
                out.push(d);
                continue;
            }
            if VALUE_OPTIONS.contains(&tok) {
                tokens.next();
                continue;
            }
            if tok == "-y" || tok == "--yes" {
                npx_yes = true;
                continue;
            }
            if tok.starts_with('-') {
                continue;
            }
            let parsed = if eco == Ecosystem::Npm {
                parse_npm(tok)
            } else {
                parse_requirement(tok)
            };
            if let Some((name, pin)) = parsed {
                let mut d = dep(eco, name, pin, &unit.file, line, raw, true);
                d.npx = npx && npx_yes;
                out.push(d);
            }
            // npx runs one package; the rest are its arguments.
            if npx {
                break;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_lines_finds_each_needle_once_in_one_pass() {
        let text = "{\n  \"a\": \"1\",\n  \"ab\": \"2\",\n  \"a\": \"3\"\n}";
        assert_eq!(
            first_lines(text, &["\"a\"", "\"ab\"", "\"a\"", "\"zz\"", "b"]),
            [2, 3, 2, 1, 3]
        );
    }

    #[test]
    fn requirement_pins() {
        assert_eq!(
            parse_requirement("requests==2.31.0"),
            Some(("requests".into(), Pin::Exact("2.31.0".into())))
        );
        assert_eq!(
            parse_requirement("requests>=2"),
            Some(("requests".into(), Pin::Loose))
        );
        assert_eq!(
            parse_requirement("requests[socks]"),
            Some(("requests".into(), Pin::None))
        );
        assert!(
            matches!(parse_requirement("git+https://github.com/x/y#egg=y"), Some((n, Pin::Url(_))) if n == "y")
        );
        assert_eq!(
            parse_npm("left-pad@1.3.0"),
            Some(("left-pad".into(), Pin::Exact("1.3.0".into())))
        );
        assert_eq!(
            parse_npm("@scope/pkg@^1"),
            Some(("@scope/pkg".into(), Pin::Loose))
        );
    }

    #[test]
    fn comments_and_prose_after_an_install_are_not_packages() {
        let unit = Unit::new(
            "SKILL.md",
            Language::Shell,
            "pip install audiopod  # Python\nprint(\"Tip: Install PyYAML (pip install pyyaml) if not installed\")\n",
            1,
        );
        let mut out = Vec::new();
        inline_installs(&unit, &mut out);
        let names: Vec<&str> = out.iter().map(|d| d.name.as_str()).collect();
        assert_eq!(names, vec!["audiopod", "pyyaml"]);
    }

    #[test]
    fn redirections_and_sentences_are_not_packages() {
        let names = |lang: Language, text: &str| {
            let unit = Unit::new("SKILL.md", lang, text, 1);
            let mut out = Vec::new();
            inline_installs(&unit, &mut out);
            out.into_iter().map(|d| d.name).collect::<Vec<_>>()
        };
        assert_eq!(
            names(
                Language::Shell,
                "python3 -m pip install -r requirements.txt 2>/tmp/pip.log\nnpm install --save-exact prettier@3.3.3 > /dev/null 2>&1\n"
            ),
            vec!["prettier"]
        );
        assert!(
            names(
                Language::Prose,
                "Tell the user to use it, so the pip install goes to the right place.\n"
            )
            .is_empty()
        );
        assert_eq!(
            names(Language::Prose, "Run `pip install rich` first.\n"),
            vec!["rich"]
        );
        assert!(names(Language::Shell, "# pip install had skills to\n").is_empty());
    }

    #[test]
    fn inline_commands() {
        let unit = Unit::new(
            "s.sh",
            Language::Shell,
            "pip install --extra-index-url http://x/simple reqeusts==1.0 flask\nnpx -y evil-cli --flag\n",
            1,
        );
        let mut out = Vec::new();
        inline_installs(&unit, &mut out);
        let names: Vec<_> = out
            .iter()
            .map(|d| (d.name.as_str(), d.index.is_some(), d.npx))
            .collect();
        assert_eq!(
            names,
            vec![
                ("", true, false),
                ("reqeusts", false, false),
                ("flask", false, false),
                ("evil-cli", false, true)
            ]
        );
        // `pip download` resolves from the index too; its destination and a command
        // substitution are not packages.
        let unit = Unit::new(
            "s.sh",
            Language::Shell,
            "pip download --no-deps -d /tmp/stubs -q --index-url https://stubs.example/simple/ $(pip freeze | tr x y)\n",
            1,
        );
        let mut out = Vec::new();
        inline_installs(&unit, &mut out);
        let found: Vec<_> = out
            .iter()
            .map(|d| (d.name.as_str(), d.index.as_deref()))
            .collect();
        assert_eq!(
            found,
            vec![("", Some("--index-url https://stubs.example/simple/"))]
        );
    }
}
