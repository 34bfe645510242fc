//! The `allowed-tools` grammar as agents write it.
//!
//! ```text
//! value   := entry (sep entry)*         sep: spaces, commas or newlines outside parentheses
//! entry   := tool ( "(" scope ")" )?
//! tool    := [A-Za-z][A-Za-z0-9_-]*     incl. mcp__server__tool and mcp__server__*
//! scope   := any text with balanced parentheses, not empty
//! ```
//!
//! Parsing never fails as a whole: each malformed entry becomes a [`Malformed`] with its exact
//! byte offset and column, and the rest still parse.

use serde::Serialize;

/// One granted tool, with its scope if any: `Bash(git diff:*)` is tool `Bash`, scope
/// `git diff:*`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Grant {
    pub tool: String,
    pub scope: Option<String>,
    /// Byte offset of the entry in the value.
    pub offset: usize,
}

impl Grant {
    /// The entry as an agent would write it.
    pub fn text(&self) -> String {
        match &self.scope {
            Some(s) => format!("{}({s})", self.tool),
            None => self.tool.clone(),
        }
    }

    pub fn is_mcp(&self) -> bool {
        self.tool.starts_with("mcp__")
    }
}

/// An entry that is not a valid grant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Malformed {
    pub text: String,
    pub offset: usize,
    /// 1-based line and column within the value.
    pub line: u32,
    pub column: u32,
    pub problem: String,
}

/// A parsed `allowed-tools` value.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct AllowedTools {
    pub grants: Vec<Grant>,
    pub malformed: Vec<Malformed>,
}

fn position(value: &str, offset: usize) -> (u32, u32) {
    let before = &value[..offset];
    let line = before.matches('\n').count() as u32 + 1;
    let column = before.rfind('\n').map_or(before.chars().count(), |nl| {
        before[nl + 1..].chars().count()
    }) as u32
        + 1;
    (line, column)
}

fn is_separator(c: char) -> bool {
    c.is_whitespace() || c == ','
}

/// Splits at separators outside parentheses. Returns (offset, entry) pairs.
fn entries(value: &str) -> Vec<(usize, &str)> {
    let mut out = Vec::new();
    let mut depth = 0usize;
    let mut start: Option<usize> = None;
    for (i, c) in value.char_indices() {
        match c {
            '(' => {
                depth += 1;
                start.get_or_insert(i);
            }
            ')' => {
                depth = depth.saturating_sub(1);
                start.get_or_insert(i);
            }
            c if is_separator(c) && depth == 0 => {
                if let Some(s) = start.take() {
                    out.push((s, &value[s..i]));
                }
            }
            _ => {
                start.get_or_insert(i);
            }
        }
    }
    if let Some(s) = start {
        out.push((s, &value[s..]));
    }
    out
}

fn valid_tool(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '*')
        && (!name.contains('*') || name.starts_with("mcp__") && name.ends_with('*'))
}

fn parse_entry(entry: &str) -> Result<(String, Option<String>), String> {
    let Some(open) = entry.find('(') else {
        if entry.contains(')') {
            return Err("`)` without a matching `(`".into());
        }
        return if valid_tool(entry) {
            Ok((entry.to_string(), None))
        } else {
            Err("not a tool name (letters, digits, `_`, `-`; `*` only ending an mcp__ name)".into())
        };
    };
    let tool = &entry[..open];
    if !valid_tool(tool) {
        return Err(format!("`{tool}` is not a tool name"));
    }
    let Some(rest) = entry.strip_suffix(')') else {
        return Err(if entry.matches('(').count() > entry.matches(')').count() {
            "unclosed `(`".into()
        } else {
            "text after the closing `)`".into()
        });
    };
    let scope = &rest[open + 1..];
    let mut depth = 0i32;
    for c in scope.chars() {
        depth += match c {
            '(' => 1,
            ')' => -1,
            _ => 0,
        };
        if depth < 0 {
            return Err("text after the closing `)`".into());
        }
    }
    if depth != 0 {
        return Err("unbalanced parentheses in the scope".into());
    }
    if scope.trim().is_empty() {
        return Err(format!("empty scope: write `{tool}` or `{tool}(…)`"));
    }
    Ok((tool.to_string(), Some(scope.to_string())))
}

/// Parses an `allowed-tools` value (a YAML list arrives one item per line).
pub fn parse(value: &str) -> AllowedTools {
    let mut out = AllowedTools::default();
    for (offset, entry) in entries(value) {
        match parse_entry(entry) {
            Ok((tool, scope)) => out.grants.push(Grant {
                tool,
                scope,
                offset,
            }),
            Err(problem) => {
                let (line, column) = position(value, offset);
                out.malformed.push(Malformed {
                    text: entry.chars().take(200).collect(),
                    offset,
                    line,
                    column,
                    problem,
                })
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(v: &str) -> Vec<String> {
        parse(v).grants.iter().map(Grant::text).collect()
    }

    #[test]
    fn the_forms_agents_write() {
        assert_eq!(
            texts("Read, Write Edit Grep Glob WebFetch(domain:docs.rs) WebSearch"),
            [
                "Read",
                "Write",
                "Edit",
                "Grep",
                "Glob",
                "WebFetch(domain:docs.rs)",
                "WebSearch"
            ]
        );
        assert_eq!(
            texts("Bash(git diff:*) Bash(npm run *) Read(./docs/**)"),
            ["Bash(git diff:*)", "Bash(npm run *)", "Read(./docs/**)"]
        );
        assert_eq!(
            texts("mcp__github__create_issue\nmcp__fs__*"),
            ["mcp__github__create_issue", "mcp__fs__*"]
        );
        assert!(parse("").grants.is_empty());
    }

    #[test]
    fn malformed_entries_have_positions() {
        let p = parse("Read Bash(git diff:* Write");
        assert_eq!(texts("Read"), ["Read"]);
        assert_eq!(p.grants.len(), 1);
        assert_eq!(p.malformed.len(), 1);
        assert_eq!((p.malformed[0].offset, p.malformed[0].column), (5, 6));
        assert!(p.malformed[0].problem.contains("unclosed"));
        let p = parse("Read\nBash() Wr!te Bash(ls)x");
        let problems: Vec<_> = p.malformed.iter().map(|m| (m.line, m.column)).collect();
        assert_eq!(problems, [(2, 1), (2, 8), (2, 14)]);
    }

    proptest::proptest! {
        #[test]
        fn never_panics_and_offsets_point_into_the_value(v in "\\PC{0,80}") {
            let p = parse(&v);
            for g in &p.grants {
                proptest::prop_assert!(v[g.offset..].starts_with(&g.tool));
            }
            for m in &p.malformed {
                proptest::prop_assert!(m.offset < v.len());
            }
        }
    }
}
