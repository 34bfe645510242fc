//! Regex construction shared by data and code rules.
//!
//! A Unicode word boundary (`\b`) cannot be searched by the regex crate's DFAs once the text
//! holds a non-ASCII byte, so every search of such text fell back to the PikeVM (most of G1's
//! time on real corpora). Rules are written for ASCII keywords and code, so `\b` and `\B` are
//! compiled as ASCII boundaries, which the DFAs handle.

use regex::{Regex, RegexBuilder};

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
}
