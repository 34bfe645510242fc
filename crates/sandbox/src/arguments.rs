//! Plausible arguments for a script, so that G3 exercises its code rather than its usage
//! message.
//!
//! A script that needs arguments and gets none prints its usage and exits: nothing it would
//! do for an agent ran. The arguments are read from the script itself — argparse's
//! `add_argument`, click's `@click.argument`/`@click.option(required=True)`, `sys.argv[N]`,
//! Bash's `$N` and `getopts` — and each gets a value of the kind its name suggests: a sample
//! file of the right type (written beside the skill, see [`SAMPLES`]), a URL, a number, a word.
//! The values are guesses and are reported as such in the step's label.

use regex::Regex;
use std::sync::LazyLock;

/// Folder, inside the skill's working copy, that holds the sample inputs.
pub const SAMPLE_DIR: &str = ".skillgate-samples";

/// Sample inputs of common kinds: small, valid of their type, and obviously fake.
pub const SAMPLES: &[(&str, &[u8])] = &[
    ("sample.txt", b"Sample text for skillgate.\nSecond line.\n"),
    ("sample.md", b"# Sample\n\nA paragraph of sample text.\n"),
    ("sample.csv", b"id,name,value\n1,alpha,10\n2,beta,20\n"),
    ("sample.json", b"{\"id\": 1, \"name\": \"sample\", \"items\": [1, 2, 3]}\n"),
    ("sample.yaml", b"name: sample\nitems:\n  - 1\n  - 2\n"),
    ("sample.html", b"<!doctype html><html><head><title>Sample</title></head><body><p>Sample</p></body></html>\n"),
    ("sample.xml", b"<?xml version=\"1.0\"?><root><item id=\"1\">sample</item></root>\n"),
    ("sample.log", b"2026-01-01T00:00:00Z INFO sample started\n2026-01-01T00:00:01Z WARN sample warning\n"),
    ("sample.py", b"print('sample')\n"),
    ("sample.pdf", MINIMAL_PDF),
    ("sample.png", MINIMAL_PNG),
];

const MINIMAL_PDF: &[u8] = b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 200 200]>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n";

const MINIMAL_PNG: &[u8] = &[
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52,
    0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1f, 0x15, 0xc4,
    0x89, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9c, 0x63, 0xf8, 0xcf, 0xc0, 0xf0,
    0x1f, 0x00, 0x05, 0x00, 0x01, 0xff, 0x89, 0x99, 0x3d, 0x1d, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45,
    0x4e, 0x44, 0xae, 0x42, 0x60, 0x82,
];

/// Extensions a sample exists for, and the sample.
fn sample_for_extension(ext: &str) -> Option<&'static str> {
    let ext = ext.to_ascii_lowercase();
    let name = match ext.as_str() {
        "txt" | "text" => "sample.txt",
        "md" | "markdown" => "sample.md",
        "csv" | "tsv" => "sample.csv",
        "json" | "jsonl" => "sample.json",
        "yaml" | "yml" => "sample.yaml",
        "html" | "htm" => "sample.html",
        "xml" | "svg" => "sample.xml",
        "log" => "sample.log",
        "py" => "sample.py",
        "pdf" => "sample.pdf",
        "png" | "jpg" | "jpeg" | "gif" | "webp" => "sample.png",
        _ => return None,
    };
    Some(name)
}

fn sample_path(name: &str) -> String {
    format!("{SAMPLE_DIR}/{name}")
}

/// A value for an argument called `name` (with its help text), of the kind the name suggests.
pub fn value_for(name: &str, hint: &str) -> String {
    let key = format!("{name} {hint}").to_ascii_lowercase();
    let has = |words: &[&str]| words.iter().any(|w| key.contains(w));
    for (words, ext) in [
        (&["csv", "tsv", "spreadsheet"][..], "csv"),
        (&["json"][..], "json"),
        (&["yaml", "yml"][..], "yaml"),
        (&["pdf"][..], "pdf"),
        (
            &["png", "jpg", "jpeg", "image", "img", "photo", "picture"][..],
            "png",
        ),
        (&["html"][..], "html"),
        (&["xml", "svg"][..], "xml"),
        (&["markdown", ".md"][..], "md"),
        (&["log"][..], "log"),
    ] {
        if has(words) {
            return sample_path(sample_for_extension(ext).unwrap_or("sample.txt"));
        }
    }
    if has(&["url", "endpoint", "link", "uri", "website"]) {
        "https://example.com/".into()
    } else if has(&["out", "dest", "target", "save"]) {
        "/tmp/scratch/skillgate-output".into()
    } else if has(&["dir", "folder", "root", "repo", "project"]) {
        SAMPLE_DIR.into()
    } else if has(&[
        "count", "num", "limit", "port", "size", "max", "min", "days", "top", "depth", "width",
        "height", "year", "int",
    ]) {
        "1".into()
    } else if has(&["file", "path", "input", "doc", "src", "source"]) {
        sample_path("sample.txt")
    } else {
        "sample".into()
    }
}

/// A file name an agent's command refers to that the skill does not ship (`report.pdf` in
/// `python3 scripts/x.py report.pdf`): the sample of its kind stands in, under that name.
pub fn sample_for_file_name(name: &str) -> Option<&'static [u8]> {
    let ext = name.rsplit_once('.')?.1;
    let sample = sample_for_extension(ext)?;
    SAMPLES.iter().find(|(n, _)| *n == sample).map(|(_, b)| *b)
}

static ARGPARSE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"\.add_argument\(\s*((?:['"][^'"\n]+['"]\s*,?\s*)*)([^)]*)\)"#)
        .expect("valid regex")
});
static CLICK: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"@click\.(argument|option)\(\s*((?:['"][^'"\n]+['"]\s*,?\s*)+)([^)]*)\)"#)
        .expect("valid regex")
});
static QUOTED: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r#"['"]([^'"\n]+)['"]"#).expect("valid regex"));
static CHOICES: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"choices\s*=\s*[\[(]\s*['"]?([^'",\])]+)"#).expect("valid regex")
});
static HELP: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r#"help\s*=\s*['"]([^'"]*)"#).expect("valid regex"));
static SYS_ARGV: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"sys\.argv\[(\d)\]").expect("valid regex"));
static SHELL_POSITIONAL: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r#"(?:(\w+)=)?["']?\$(?:\{)?([1-9])\b"#).expect("valid regex"));

/// Arguments that get a script past its argument parsing, or `None` when it reads none.
pub fn plausible_args(path: &str, text: &str) -> Option<Vec<String>> {
    let python =
        path.ends_with(".py") || text.starts_with("#!") && text.lines().next()?.contains("python");
    let args = if python {
        python_args(text)
    } else {
        shell_args(text)
    };
    (!args.is_empty()).then_some(args)
}

fn python_args(text: &str) -> Vec<String> {
    let mut positional = Vec::new();
    let mut options = Vec::new();
    // argparse: a name without dashes is positional. click: `@click.argument` is.
    let declared = ARGPARSE
        .captures_iter(text)
        .map(|c| (c.get(1), c.get(2), None))
        .chain(CLICK.captures_iter(text).map(|c| {
            (
                c.get(2),
                c.get(3),
                c.get(1).map(|k| k.as_str() == "argument"),
            )
        }));
    for (names, rest, click_positional) in declared {
        let names: Vec<String> = QUOTED
            .captures_iter(names.map_or("", |m| m.as_str()))
            .map(|c| c[1].to_string())
            .collect();
        let rest = rest.map_or("", |m| m.as_str());
        let Some(first) = names.first() else { continue };
        if click_positional.unwrap_or(!first.starts_with('-')) {
            positional.push(value_of(first, rest));
        } else if rest.contains("required=True") {
            let long = names
                .iter()
                .find(|n| n.starts_with("--"))
                .unwrap_or(first)
                .clone();
            let value = value_of(&long, rest);
            options.push(long);
            let flag = ["store_true", "store_false", "is_flag=True"]
                .iter()
                .any(|f| rest.contains(f));
            if !flag {
                options.push(value);
            }
        }
    }
    if positional.is_empty() && options.is_empty() {
        let highest = SYS_ARGV
            .captures_iter(text)
            .filter_map(|c| c[1].parse::<usize>().ok())
            .max()
            .unwrap_or(0);
        for i in 1..=highest {
            positional.push(argv_value(text, &format!("sys.argv[{i}]")));
        }
    }
    positional.extend(options);
    positional
}

/// The value for an argparse/click argument: its first choice, a number for numeric types,
/// else a value of the kind its name and help suggest.
fn value_of(name: &str, rest: &str) -> String {
    if let Some(c) = CHOICES.captures(rest) {
        return c[1].trim().to_string();
    }
    if rest.contains("type=int") || rest.contains("type=float") {
        return "1".into();
    }
    let help = HELP
        .captures(rest)
        .map(|c| c[1].to_string())
        .unwrap_or_default();
    value_for(name.trim_start_matches('-'), &help)
}

/// The value for `sys.argv[N]` (or `$N`): named by the variable it is assigned to, if any.
fn argv_value(text: &str, reference: &str) -> String {
    let name = text
        .lines()
        .find(|l| l.contains(reference))
        .and_then(|l| l.split('=').next())
        .map(|n| n.trim().trim_start_matches("local ").to_string())
        .filter(|n| !n.contains(reference) && !n.is_empty())
        .unwrap_or_default();
    value_for(&name, "")
}

fn shell_args(text: &str) -> Vec<String> {
    let mut by_index: std::collections::BTreeMap<usize, String> = Default::default();
    for cap in SHELL_POSITIONAL.captures_iter(text) {
        let Ok(i) = cap[2].parse::<usize>() else {
            continue;
        };
        let name = cap.get(1).map_or("", |m| m.as_str());
        let entry = by_index.entry(i).or_default();
        if entry.is_empty() || !name.is_empty() {
            *entry = value_for(name, "");
        }
    }
    let highest = by_index.keys().max().copied().unwrap_or(0);
    (1..=highest)
        .map(|i| by_index.get(&i).cloned().unwrap_or_else(|| "sample".into()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argparse_positionals_and_required_options_get_values_of_their_kind() {
        let src = r#"
import argparse
p = argparse.ArgumentParser()
p.add_argument("input_pdf", help="the PDF to read")
p.add_argument("--format", choices=["md", "txt"], required=True)
p.add_argument("--limit", type=int, default=3)
p.add_argument('mode')
p.add_argument("-o", "--output", required=True)
"#;
        assert_eq!(
            plausible_args("scripts/x.py", src).unwrap(),
            [
                ".skillgate-samples/sample.pdf",
                "sample",
                "--format",
                "md",
                "--output",
                "/tmp/scratch/skillgate-output"
            ]
        );
    }

    #[test]
    fn click_sys_argv_and_shell_positionals() {
        let click = "@click.command()\n@click.argument('csv_file')\n@click.option('--url', required=True)\ndef main(csv_file, url): pass\n";
        assert_eq!(
            plausible_args("a.py", click).unwrap(),
            [
                ".skillgate-samples/sample.csv",
                "--url",
                "https://example.com/"
            ]
        );
        let argv = "import sys\nsrc = sys.argv[1]\ncount = int(sys.argv[2])\n";
        assert_eq!(
            plausible_args("a.py", argv).unwrap(),
            [".skillgate-samples/sample.txt", "1"]
        );
        let sh = "#!/bin/bash\nurl=\"$1\"\nout=${2:-x}\necho $3\n";
        assert_eq!(
            plausible_args("a.sh", sh).unwrap(),
            [
                "https://example.com/",
                "/tmp/scratch/skillgate-output",
                "sample"
            ]
        );
        assert!(plausible_args("a.py", "print(1)\n").is_none());
    }

    #[test]
    fn file_names_map_to_samples_of_their_kind() {
        assert_eq!(sample_for_file_name("report.pdf"), Some(MINIMAL_PDF));
        assert!(sample_for_file_name("data.parquet").is_none());
    }
}

static PHRASE_COMPARED: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r#"["']([^"'\n\\]{3,60})["']\s+(?:not\s+)?in\s+[A-Za-z_][\w.]*|\b[A-Za-z_][\w.]*(?:\.lower\(\)|\.casefold\(\)|\.strip\(\))*\s*[!=]=\s*["']([^"'\n\\]{3,60})["']|\.(?:startswith|endswith|__contains__)\(\s*["']([^"'\n\\]{3,60})["']|\[\[?\s*"?\$\{?\w+\}?"?\s*!?==?\s*"?([^"\]\n]{3,60}?)"?\s*\]|\bgrep\s+(?:-\w+\s+)*["']([^"'\n]{3,60})["']"#,
    )
    .expect("valid regex")
});

static PHRASE_NAMED: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"(?i)\b(?:says?|types?|writes?|mentions?|trigger(?:ed)?(?:\s+(?:by|word|phrase))?|phrase|keyword|code\s*word|passphrase)\s*:?\s*["“'`]([^"”'`\n]{3,60})["”'`]"#)
        .expect("valid regex")
});

/// Phrases a script compares its input with (`if "quarterly sync" in title`, `[[ "$1" ==
/// "go" ]]`) and phrases the skill's text names as triggers ("when the user says 'ship it'"):
/// a payload gated on a phrase runs only when the phrase comes, so G3 brings it. At most
/// three, those with a space first (a phrase, not a format name).
pub fn trigger_phrases(script: &str, skill_text: &str) -> Vec<String> {
    let mut phrases: Vec<String> = PHRASE_COMPARED
        .captures_iter(script)
        .chain(PHRASE_NAMED.captures_iter(skill_text))
        .filter_map(|c| c.iter().skip(1).flatten().next())
        .map(|m| m.as_str().trim().to_string())
        .filter(|p| {
            p.len() >= 3
                && p.chars().any(|c| c.is_alphabetic())
                && !p.starts_with('-')
                && !p.starts_with('$')
                && !(p.starts_with("__") && p.ends_with("__"))
        })
        .collect();
    phrases.sort_by_key(|p| !p.contains(' '));
    let mut seen = std::collections::BTreeSet::new();
    phrases.retain(|p| seen.insert(p.to_lowercase()));
    phrases.truncate(3);
    phrases
}

#[cfg(test)]
mod trigger_tests {
    use super::trigger_phrases;

    #[test]
    fn phrases_compared_with_input_and_named_in_the_text_are_found() {
        let script = "title = ' '.join(sys.argv[1:])\nif \"quarterly sync\" not in title.lower():\n    return\nif __name__ == \"__main__\":\n    main()\n";
        assert_eq!(trigger_phrases(script, ""), ["quarterly sync"]);
        let shell = "if [[ \"$1\" == \"deploy now\" ]]; then\n  run\nfi\n";
        assert_eq!(trigger_phrases(shell, ""), ["deploy now"]);
        assert_eq!(
            trigger_phrases("", "When the user says \"ship it\", run the script."),
            ["ship it"]
        );
        assert!(trigger_phrases("if args.verbose:\n    pass\n", "").is_empty());
    }
}
