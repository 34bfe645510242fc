//! Runs data rules over units: regexes directly, tree-sitter queries over a parse made once per
//! unit with a parser kept per thread.

use crate::rule::{DataRule, Matcher, TsLanguage};
use crate::units::Unit;
use skillgate_model::{Finding, Gate};
use std::cell::RefCell;
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

/// Matches of one rule in one unit (before `unless` filtering).
pub fn matches(rule: &DataRule, unit: &Unit, tree: Option<&tree_sitter::Tree>) -> Vec<Hit> {
    let mut hits = Vec::new();
    match &rule.matcher {
        Matcher::Regex(re) => {
            for m in re.find_iter(&unit.text) {
                hits.push(Hit {
                    start: m.start(),
                    end: m.end(),
                });
                if hits.len() >= MAX_HITS_PER_UNIT * 4 {
                    break;
                }
            }
        }
        Matcher::TreeSitter { language, query } => {
            if unit.tree_sitter != Some(*language) {
                return hits;
            }
            let Some(tree) = tree else { return hits };
            let wanted = query.capture_index_for_name("match");
            let mut cursor = tree_sitter::QueryCursor::new();
            let mut it = cursor.matches(query, tree.root_node(), unit.text.as_bytes());
            while let Some(m) = it.next() {
                let cap = m
                    .captures()
                    .iter()
                    .find(|c| Some(c.index) == wanted)
                    .or_else(|| m.captures().first());
                if let Some(c) = cap {
                    hits.push(Hit {
                        start: c.node.start_byte(),
                        end: c.node.end_byte(),
                    });
                }
                if hits.len() >= MAX_HITS_PER_UNIT * 4 {
                    break;
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
    let mut present = vec![false; set.rules.len()];
    for m in set.keywords.find_overlapping_iter(&unit.text) {
        present[set.keyword_owner[m.pattern().as_usize()]] = true;
    }
    let applicable: Vec<&DataRule> = set
        .rules
        .iter()
        .enumerate()
        .filter(|(i, r)| selected(*i) && (r.spec.matcher.keywords.is_empty() || present[*i]))
        .map(|(_, r)| r)
        .filter(|r| r.applies_to(unit.lang, &unit.file))
        .collect();
    run_applicable(&applicable, unit, out);
}

fn run_applicable(applicable: &[&DataRule], unit: &Unit, out: &mut Vec<Finding>) {
    if applicable.is_empty() {
        return;
    }
    let needs_tree = applicable
        .iter()
        .any(|r| matches!(r.matcher, Matcher::TreeSitter { .. }));
    let tree = match (needs_tree, unit.tree_sitter) {
        (true, Some(lang)) => parse(lang, &unit.text),
        _ => None,
    };
    for rule in applicable {
        let mut reported = 0;
        for hit in matches(rule, unit, tree.as_ref()) {
            if rule
                .unless
                .as_ref()
                .is_some_and(|u| u.is_match(sentence_around(unit, hit.start, hit.end)))
            {
                continue;
            }
            out.push(finding_for(rule, unit, &hit));
            reported += 1;
            if reported >= MAX_HITS_PER_UNIT {
                break;
            }
        }
    }
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
