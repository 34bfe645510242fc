//! Regex construction shared by data and code rules.
//!
//! A Unicode word boundary (`\b`) cannot be searched by the regex crate's DFAs once the text
//! holds a non-ASCII byte, so every search of such text fell back to the PikeVM (most of G1's
//! time on real corpora). Rules are written for ASCII keywords and code, so `\b` and `\B` are
//! compiled as ASCII boundaries, which the DFAs handle.

use regex::{Regex, RegexBuilder};
use regex_syntax::hir::{Capture, Hir, HirKind, Repetition};

/// `pattern` with each `\b` / `\B` outside a character class made ASCII-only.
pub fn ascii_word_boundaries(pattern: &str) -> String {
    let mut out = String::with_capacity(pattern.len() + 16);
    let mut chars = pattern.chars();
    let mut class_depth = 0usize;
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some(b @ ('b' | 'B')) if class_depth == 0 => {
                    out.push_str("(?-u:\\");
                    out.push(b);
                    out.push(')');
                }
                Some(next) => {
                    out.push('\\');
                    out.push(next);
                }
                None => out.push('\\'),
            },
            '[' => {
                class_depth += 1;
                out.push(c);
            }
            ']' if class_depth > 0 => {
                class_depth -= 1;
                out.push(c);
            }
            _ => out.push(c),
        }
    }
    out
}

/// Declares regexes compiled once, on first use, through [`compile`]; a pattern that does not
/// compile is a defect the tests catch on first use.
macro_rules! lazy_regex {
    ($($(#[$meta:meta])* $name:ident = $pattern:expr;)+) => {
        $(
            $(#[$meta])*
            static $name: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
                $crate::pattern::compile($pattern).expect("valid regex")
            });
        )+
    };
}
pub(crate) use lazy_regex;

/// Compiles a rule's regex with ASCII word boundaries and a bounded size.
pub fn compile(pattern: &str) -> Result<Regex, regex::Error> {
    RegexBuilder::new(&ascii_word_boundaries(pattern))
        .size_limit(16 << 20)
        .build()
}

/// Bounded repetitions at least this long are unbounded in a screen.
const SCREEN_REPETITION: u32 = 16;

/// A cheaper superset of `pattern` for deciding whether a text can match at all, or `None` when
/// the pattern has nothing to relax.
///
/// Rules bound their gaps (`send[^\n]{0,80}token`) so that the two words belong to one sentence.
/// A lazy DFA pays for that bound: after each `send` it must count, and with several counts live
/// at once nearly every byte reaches a state it has not built before, so the search spends its
/// time determinizing. With the gap unbounded (`[^\n]*`) the states collapse and are reused. Every
/// text the exact pattern matches, the screen matches too, so a text the screen rejects is
/// skipped without changing any result, and only the few texts it accepts are searched exactly.
pub fn screen(pattern: &str) -> Option<Regex> {
    let hir = regex_syntax::ParserBuilder::new()
        .build()
        .parse(&ascii_word_boundaries(pattern))
        .ok()?;
    let mut relaxed_any = false;
    let relaxed = unbound_repetitions(&hir, &mut relaxed_any);
    if !relaxed_any {
        return None;
    }
    RegexBuilder::new(&relaxed.to_string())
        .size_limit(16 << 20)
        .build()
        .ok()
}

/// `hir` with every repetition whose upper bound is [`SCREEN_REPETITION`] or more made unbounded.
fn unbound_repetitions(hir: &Hir, relaxed_any: &mut bool) -> Hir {
    match hir.kind() {
        HirKind::Repetition(rep) => {
            let max = match rep.max {
                Some(max) if max >= SCREEN_REPETITION => {
                    *relaxed_any = true;
                    None
                }
                max => max,
            };
            Hir::repetition(Repetition {
                min: rep.min,
                max,
                greedy: rep.greedy,
                sub: Box::new(unbound_repetitions(&rep.sub, relaxed_any)),
            })
        }
        HirKind::Capture(cap) => Hir::capture(Capture {
            index: cap.index,
            name: cap.name.clone(),
            sub: Box::new(unbound_repetitions(&cap.sub, relaxed_any)),
        }),
        HirKind::Concat(subs) => Hir::concat(
            subs.iter()
                .map(|h| unbound_repetitions(h, relaxed_any))
                .collect(),
        ),
        HirKind::Alternation(subs) => Hir::alternation(
            subs.iter()
                .map(|h| unbound_repetitions(h, relaxed_any))
                .collect(),
        ),
        HirKind::Empty | HirKind::Literal(_) | HirKind::Class(_) | HirKind::Look(_) => hir.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boundaries_become_ascii_and_meaning_is_kept() {
        assert_eq!(ascii_word_boundaries(r"\bcurl\b"), r"(?-u:\b)curl(?-u:\b)");
        assert_eq!(ascii_word_boundaries(r"[\b\w]\\b\B"), r"[\b\w]\\b(?-u:\B)");
        let re = compile(r"(?i)\bcurl\b").unwrap();
        assert!(re.is_match("é curl https://x"));
        assert!(!re.is_match("xcurl"));
    }

    #[test]
    fn screens_unbound_long_gaps_and_keep_short_ones() {
        let pattern = r"(?i)\bsend\b[^\n.]{0,20}\b(token|key)s?\s(\d{1,3}\.){3}";
        let exact = compile(pattern).unwrap();
        let screen = screen(pattern).expect("a gap of 20 is relaxed");
        let near = "Send the KEY 1.2.3.";
        let far = format!("send {} token 1.2.3.", "x".repeat(30));
        assert!(exact.is_match(near) && screen.is_match(near));
        assert!(!exact.is_match(&far) && screen.is_match(&far));
        // Only the bound goes: the class still stops at a newline or a full stop.
        assert!(!screen.is_match("send x\ntoken 1.2.3.") && !screen.is_match("send. token 1.2.3."));
        // `{3}` and `{1,3}` are left alone: nothing to relax.
        assert!(super::screen(r"(?i)\bsend\b(\d{1,3}\.){3}").is_none());
    }
}
