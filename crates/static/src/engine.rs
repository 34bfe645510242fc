//! Runs data rules over units: regexes directly, tree-sitter queries over a parse made once per
//! unit with a parser kept per thread.

use crate::rule::{DataRule, Matcher, RequiredReading, TsLanguage};
use crate::units::Unit;
use skillgate_model::{Finding, Gate};
use std::cell::RefCell;
use std::ops::Range;
use streaming_iterator::StreamingIterator;

/// At most this many findings per rule and unit: one proves the point, more is noise.
const MAX_HITS_PER_UNIT: usize = 3;

pub fn ts_language(lang: TsLanguage) -> tree_sitter::Language {
    match lang {
        TsLanguage::Python => tree_sitter_python::LANGUAGE.into(),
        TsLanguage::Bash => tree_sitter_bash::LANGUAGE.into(),
    }
}

thread_local! {
    static PARSERS: RefCell<Option<(tree_sitter::Parser, tree_sitter::Parser)>> = const { RefCell::new(None) };
}

/// Parses `text` with the thread's parser for `lang`.
pub fn parse(lang: TsLanguage, text: &str) -> Option<tree_sitter::Tree> {
    PARSERS.with(|cell| {
        let mut slot = cell.borrow_mut();
        let (py, sh) = slot.get_or_insert_with(|| {
            let mut py = tree_sitter::Parser::new();
            py.set_language(&ts_language(TsLanguage::Python))
                .expect("tree-sitter-python matches tree-sitter");
            let mut sh = tree_sitter::Parser::new();
            sh.set_language(&ts_language(TsLanguage::Bash))
                .expect("tree-sitter-bash matches tree-sitter");
            (py, sh)
        });
        let parser = match lang {
            TsLanguage::Python => py,
            TsLanguage::Bash => sh,
        };
        parser.parse(text, None)
    })
}

/// One match of a rule in a unit, as a byte range.
pub struct Hit {
    pub start: usize,
    pub end: usize,
}

/// Matches of one rule in one unit (before `unless` filtering), searched within `windows` when
/// given (byte ranges of whole lines), else over the whole unit.
pub fn matches(
    rule: &DataRule,
    unit: &Unit,
    tree: Option<&tree_sitter::Tree>,
    windows: Option<&[Range<usize>]>,
) -> Vec<Hit> {
    let mut hits = Vec::new();
    match &rule.matcher {
        Matcher::Regex { exact, screen } => {
            let whole = 0..unit.text.len();
            let windows = windows.unwrap_or(std::slice::from_ref(&whole));
            'windows: for window in windows {
                let text = &unit.text[window.clone()];
                if screen.as_ref().is_some_and(|s| !s.is_match(text)) {
                    continue;
                }
                for m in exact.find_iter(text) {
                    hits.push(Hit {
                        start: window.start + m.start(),
                        end: window.start + m.end(),
                    });
                    if hits.len() >= MAX_HITS_PER_UNIT * 4 {
                        break 'windows;
                    }
                }
            }
        }
        Matcher::TreeSitter { language, query } => {
            if unit.tree_sitter != Some(*language) {
                return hits;
            }
            let Some(tree) = tree else { return hits };
            let wanted = query.capture_index_for_name("match");
            let whole = 0..unit.text.len();
            let windows = windows.unwrap_or(std::slice::from_ref(&whole));
            let mut cursor = tree_sitter::QueryCursor::new();
            'windows: for window in windows {
                cursor.set_byte_range(window.clone());
                let mut it = cursor.matches(query, tree.root_node(), unit.text.as_bytes());
                while let Some(m) = it.next() {
                    let cap = m
                        .captures()
                        .iter()
                        .find(|c| Some(c.index) == wanted)
                        .or_else(|| m.captures().first());
                    // A node spanning two windows is met in both.
                    if let Some(c) =
                        cap.filter(|c| hits.iter().all(|h: &Hit| h.start != c.node.start_byte()))
                    {
                        hits.push(Hit {
                            start: c.node.start_byte(),
                            end: c.node.end_byte(),
                        });
                    }
                    if hits.len() >= MAX_HITS_PER_UNIT * 4 {
                        break 'windows;
                    }
                }
            }
        }
    }
    hits
}

/// The data rules with one keyword automaton over all of them: a unit is searched once for every
/// rule's keywords, instead of once per rule.
pub struct RuleSet {
    rules: Vec<DataRule>,
    keywords: aho_corasick::AhoCorasick,
    /// Rule index of each keyword pattern.
    keyword_owner: Vec<usize>,
}

impl RuleSet {
    pub fn new(rules: Vec<DataRule>) -> Result<Self, aho_corasick::BuildError> {
        let mut patterns = Vec::new();
        let mut keyword_owner = Vec::new();
        for (i, rule) in rules.iter().enumerate() {
            for k in &rule.spec.matcher.keywords {
                patterns.push(k.as_str());
                keyword_owner.push(i);
            }
        }
        let keywords = aho_corasick::AhoCorasick::builder()
            .ascii_case_insensitive(true)
            .kind(Some(aho_corasick::AhoCorasickKind::DFA))
            .build(&patterns)?;
        Ok(Self {
            rules,
            keywords,
            keyword_owner,
        })
    }

    pub fn rules(&self) -> &[DataRule] {
        &self.rules
    }
}

/// Runs every applicable rule over one unit.
pub fn run_unit(set: &RuleSet, unit: &Unit, out: &mut Vec<Finding>) {
    run_selected(set, unit, |_| true, out);
}

/// Runs the rule at `index` of the set over one unit, screened by its keywords exactly as a
/// scan screens it (the rule-examples test).
pub fn run_rule(set: &RuleSet, index: usize, unit: &Unit, out: &mut Vec<Finding>) {
    run_selected(set, unit, |i| i == index, out);
}

fn run_selected(
    set: &RuleSet,
    unit: &Unit,
    selected: impl Fn(usize) -> bool,
    out: &mut Vec<Finding>,
) {
    // Where each rule's keywords occur, as windows of lines around them.
    let mut windows: Vec<Windows> = vec![Windows::default(); set.rules.len()];
    for m in set.keywords.find_overlapping_iter(&unit.text) {
        let owner = set.keyword_owner[m.pattern().as_usize()];
        let rule = &set.rules[owner];
        if matches!(rule.matcher, Matcher::TreeSitter { .. })
            && !is_identifier(&unit.text, m.range())
        {
            continue;
        }
        if rule.windowed {
            windows[owner].add(unit, m.start());
        } else {
            windows[owner].whole_unit();
        }
    }
    let applicable: Vec<(&DataRule, Option<&[Range<usize>]>)> = set
        .rules
        .iter()
        .zip(&windows)
        .enumerate()
        .filter(|(i, (r, w))| selected(*i) && (r.spec.matcher.keywords.is_empty() || w.present()))
        // A rule without keywords has no windows: it reads the whole unit.
        .map(|(_, (r, w))| (r, w.ranges().filter(|_| r.windowed)))
        .filter(|(r, _)| r.applies_to(unit.lang, &unit.file))
        .collect();
    run_applicable(&applicable, unit, out);
}

/// Whether `range` of `text` is a whole identifier, not part of a longer name.
fn is_identifier(text: &str, range: Range<usize>) -> bool {
    let word = |b: &u8| b.is_ascii_alphanumeric() || *b == b'_';
    let bytes = text.as_bytes();
    let before = range.start.checked_sub(1).and_then(|i| bytes.get(i));
    !before.is_some_and(word) && !bytes.get(range.end).is_some_and(word)
}

/// Lines around a rule's keyword hits: the line before (a sentence wrapped in a paragraph), the
/// line of, and `LINES_AFTER` lines after each hit (a call's arguments, a JSON block), merged.
/// Past `MAX_WINDOWS` hits the whole unit is searched.
#[derive(Clone, Default)]
struct Windows {
    ranges: Vec<Range<usize>>,
    /// Too many hits, or a rule that cannot be windowed: the whole unit.
    overflow: bool,
}

const MAX_WINDOWS: usize = 64;
const LINES_AFTER: usize = 8;
/// Windows this close are searched as one: a search has a fixed cost.
const MERGE_GAP: usize = 512;

impl Windows {
    fn add(&mut self, unit: &Unit, at: usize) {
        if self.overflow {
            return;
        }
        let Range { start, end } = unit.lines_around(at, 1, LINES_AFTER);
        if let Some(last) = self
            .ranges
            .last_mut()
            .filter(|last| start <= last.end + MERGE_GAP)
        {
            last.end = last.end.max(end);
        } else if self.ranges.len() >= MAX_WINDOWS {
            self.whole_unit();
        } else {
            self.ranges.push(start..end);
        }
    }

    /// Search the whole unit.
    fn whole_unit(&mut self) {
        self.overflow = true;
        self.ranges.clear();
    }

    fn present(&self) -> bool {
        self.overflow || !self.ranges.is_empty()
    }

    /// The windows, or `None` for the whole unit.
    fn ranges(&self) -> Option<&[Range<usize>]> {
        (!self.overflow).then_some(self.ranges.as_slice())
    }
}

fn run_applicable(
    applicable: &[(&DataRule, Option<&[Range<usize>]>)],
    unit: &Unit,
    out: &mut Vec<Finding>,
) {
    if applicable.is_empty() {
        return;
    }
    let needs_tree = applicable
        .iter()
        .any(|(r, _)| matches!(r.matcher, Matcher::TreeSitter { .. }));
    let tree = if needs_tree { unit.tree() } else { None };
    for (rule, windows) in applicable {
        let mut reported = 0;
        let mut distinct: Vec<&str> = Vec::new();
        for hit in matches(rule, unit, tree, *windows) {
            // Past the cap, only a text not reported yet is still news: the same `sudo` three
            // times must not hide a different match further on.
            let text = &unit.text[hit.start..hit.end];
            let new = !distinct.contains(&text);
            if reported >= MAX_HITS_PER_UNIT && !new {
                continue;
            }
            if rule
                .unless
                .as_ref()
                .is_some_and(|u| u.is_match(sentence_around(unit, hit.start, hit.end)))
            {
                continue;
            }
            if rule.spec.matcher.instructions && is_reference_entry(unit.line_at(hit.start)) {
                continue;
            }
            // Instructions quoted as an example to recognise are mentioned, not given.
            if unit.quoted_example
                && (rule.spec.matcher.instructions || rule.spec.matcher.reading.is_some())
            {
                continue;
            }
            if let Some(reading) = rule.spec.matcher.reading
                && mentioned(unit, hit.start, reading)
            {
                continue;
            }
            out.push(finding_for(rule, unit, &hit));
            reported += 1;
            if new {
                distinct.push(text);
            }
            if distinct.len() >= MAX_HITS_PER_UNIT {
                break;
            }
        }
    }
}

/// Whether the words at `at` are only mentioned, not read as the rule requires.
fn mentioned(unit: &Unit, at: usize, reading: RequiredReading) -> bool {
    let span = unit.line_span(at);
    let line = &unit.text[span.clone()];
    let at = at.saturating_sub(span.start);
    let reader = skillgate_instructions::Reader::shared();
    let found = match reading {
        RequiredReading::Directive => reader.reading_at(line, at),
        RequiredReading::Secrecy => reader.secrecy_at(line, at),
    };
    matches!(found, skillgate_instructions::Reading::Mentioned(_))
}

/// A Markdown table row, or a list item that defines a backticked name (`` - `-y` - Skip the
/// prompt ``): reference material describing what an option or endpoint does.
fn is_reference_entry(line: &str) -> bool {
    crate::pattern::lazy_regex! {
        NAME_DEFINITION = r"^\s*[-*+]\s+`[^`\n]{1,80}`\s*(?:[-–—:|]|\(\w+\)\s*[-–—:])\s";
    }
    let trimmed = line.trim();
    (trimmed.starts_with('|') && trimmed.ends_with('|') && trimmed.len() > 1)
        || NAME_DEFINITION.is_match(line)
}

/// The sentence holding a match, within its line: what an `unless` filter may read. A whole
/// paragraph is one Markdown line, and a "never" three sentences away must not excuse it.
fn sentence_around(unit: &Unit, start: usize, end: usize) -> &str {
    let span = unit.line_span(start);
    let (line, line_start) = (&unit.text[span.clone()], span.start);
    let (from, to) = (
        start.saturating_sub(line_start).min(line.len()),
        end.saturating_sub(line_start).min(line.len()),
    );
    let stop = |w: &[u8]| matches!(w[0], b'.' | b'!' | b'?') && w[1] == b' ';
    let bytes = line.as_bytes();
    let begin = bytes[..from]
        .windows(2)
        .rposition(stop)
        .map_or(0, |i| i + 2);
    let finish = bytes[to.max(begin)..]
        .windows(2)
        .position(stop)
        .map_or(line.len(), |i| to.max(begin) + i + 1);
    let begin = line.floor_char_boundary(begin);
    let finish = line.ceil_char_boundary(finish);
    &line[begin..finish]
}

/// The line of a match, or on a long line (a Markdown paragraph) a window that keeps the match
/// and what surrounds it in view.
fn snippet_around(unit: &Unit, at: usize) -> String {
    let span = unit.line_span(at);
    let (line, line_start) = (&unit.text[span.clone()], span.start);
    let in_line = at.saturating_sub(line_start).min(line.len());
    let from = line.floor_char_boundary(in_line.saturating_sub(100));
    let prefix = if from > 0 { "…" } else { "" };
    format!(
        "{prefix}{}",
        skillgate_model::finding::clip(&line[from..], 240)
    )
}

pub fn finding_for(rule: &DataRule, unit: &Unit, hit: &Hit) -> Finding {
    let s = &rule.spec;
    let (line, col) = unit.position(hit.start);
    let matched = &unit.text[unit.text.floor_char_boundary(hit.start)
        ..unit.text.floor_char_boundary(hit.end.min(unit.text.len()))];
    let mut message = s.message.clone();
    if let Some(enc) = unit.decoded_from {
        message = format!("{message} (inside {enc}-encoded text)");
    }
    let mut f = Finding::new(
        &s.code,
        Gate::G1,
        s.severity,
        s.confidence,
        &s.category,
        message,
    )
    .at(&unit.file, Some(line), Some(col))
    .with_evidence(matched.trim())
    .with_stage(s.kill_chain)
    .with_help(&s.help);
    f.capability = s.capability;
    if unit.decoded_from.is_none() {
        f.snippet = Some(snippet_around(unit, hit.start));
    }
    f.taxonomy = s.taxonomy.clone();
    f
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_rows_and_name_definitions_are_reference_entries() {
        for line in [
            "| `acceptEdits` | Auto-approve file edits | Trusted refactoring |",
            "  | Write any code | Retrieve secrets from third-party systems |",
            "- `bypassPermissions` - Skip ALL checks (use in CI/CD only)",
            "* `-y` — skip the confirmation prompt",
            "- `wallet_backup`: Retrieve mnemonic",
        ] {
            assert!(is_reference_entry(line), "{line}");
        }
        for line in [
            "Auto-approve every command from now on.",
            "- Auto-approve every command from now on.",
            "- Run `deploy` and auto-approve the prompts.",
            "| an unterminated pipe starts this line",
            "|",
        ] {
            assert!(!is_reference_entry(line), "{line}");
        }
    }

    #[test]
    fn windows_cover_the_line_before_and_the_lines_after_a_keyword() {
        let text = "a\nb\nkey\nc\nd\ne\nf\ng\nh\ni\nj\nk\n";
        let lines = Unit::new("SKILL.md", crate::rule::Language::Prose, text, 1);
        let at = text.find("key").unwrap();
        let window = lines.lines_around(at, 1, LINES_AFTER);
        assert_eq!(&text[window], "b\nkey\nc\nd\ne\nf\ng\nh\ni\nj");
        // At the edges of the text.
        assert_eq!(&text[lines.lines_around(0, 1, 1)], "a\nb");
        assert_eq!(&text[lines.lines_around(text.len(), 1, 1)], "k\n");
    }

    #[test]
    fn text_anchors_are_told_from_line_anchors() {
        use crate::rule::anchored_to_text;
        assert!(anchored_to_text(r"crontab\s+-\s*$"));
        assert!(anchored_to_text(r"\Aimport"));
        assert!(!anchored_to_text(r"(?m)^hooks\s*:"));
        assert!(!anchored_to_text(r"(?im)^\s*system"));
        assert!(!anchored_to_text(r"[^\n$]+\$HOME"));
    }

    fn python_unit(text: String) -> Unit {
        Unit::new("scripts/run.py", crate::rule::Language::Python, text, 1)
    }

    fn codes(unit: &Unit) -> Vec<(String, Option<u32>)> {
        let registry = crate::registry::Registry::load().unwrap();
        let mut out = Vec::new();
        run_unit(registry.rule_set(), unit, &mut out);
        out.into_iter().map(|f| (f.code, f.line)).collect()
    }

    #[test]
    fn tree_sitter_keywords_are_whole_identifiers() {
        assert!(is_identifier("x = exec(code)", 4..8));
        assert!(!is_identifier("executor.submit(job)", 0..4));
        assert!(!is_identifier("pre_exec(code)", 4..8));
        let calls_named_like_exec = "executor.submit(job)\nre_eval(code)\n".to_string();
        assert!(
            !codes(&python_unit(calls_named_like_exec))
                .iter()
                .any(|(c, _)| c == "SK101")
        );
    }

    #[test]
    fn tree_sitter_queries_run_on_the_windows_and_find_each_call_once() {
        // `exec` far down a long file, inside a call spanning several lines.
        let mut text = "import os\n".repeat(200);
        text.push_str("exec(\n    compile(\n        payload,\n        'x',\n        'exec'))\n");
        let hits: Vec<_> = codes(&python_unit(text))
            .into_iter()
            .filter(|(c, _)| c == "SK101")
            .collect();
        assert_eq!(hits, vec![("SK101".to_string(), Some(201))]);
    }

    #[test]
    fn repeats_do_not_use_up_the_cap_before_a_different_match() {
        let mut text = "--trusted-host a.example\n".repeat(5);
        text.push_str("apt-get purge -y ca-certificates\n");
        let unit = Unit::new("Dockerfile", crate::rule::Language::Shell, text, 1);
        let lines: Vec<Option<u32>> = codes(&unit)
            .into_iter()
            .filter(|(code, _)| code == "SK106")
            .map(|(_, line)| line)
            .collect();
        // The first three as before, then only what is new.
        assert_eq!(lines, [Some(1), Some(2), Some(3), Some(6)]);
    }
}
