//! `SKILL.md`: YAML frontmatter and a Markdown body, parsed without trusting either.
//!
//! The frontmatter parser bounds the YAML before handing it to a parser (size, nesting depth),
//! notices duplicate keys (YAML parsers keep the last one silently, so a reviewer and an agent
//! may read different values), and falls back to a line reading of `name:`/`description:` when
//! the YAML is broken, so the rest of the skill is still analysed. Problems are recorded as
//! [`FrontmatterProblem`]s that the spec lint reports.

use yaml_rust2::{Yaml, YamlLoader};

/// Frontmatter larger than this is not parsed as YAML.
pub const MAX_FRONTMATTER_BYTES: usize = 64 * 1024;
/// Nesting deeper than this is not parsed as YAML: deep nesting is an attack on the parser.
pub const MAX_FRONTMATTER_DEPTH: usize = 32;
/// Nodes the frontmatter may hold once its aliases are expanded: nine anchors of nine aliases
/// each ("billion laughs") fit in a few hundred bytes and expand to 387 million strings.
pub const MAX_FRONTMATTER_NODES: usize = 10_000;

/// What went wrong reading the frontmatter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FrontmatterProblem {
    /// The file does not start with a `---` line.
    Missing,
    /// The opening `---` has no closing `---`.
    Unclosed,
    /// The frontmatter is larger than [`MAX_FRONTMATTER_BYTES`].
    TooLarge(usize),
    /// Nesting is deeper than [`MAX_FRONTMATTER_DEPTH`].
    TooDeep(usize),
    /// Aliases expand the frontmatter past [`MAX_FRONTMATTER_NODES`] nodes.
    TooManyNodes,
    /// The YAML parser refused it.
    InvalidYaml(String),
    /// The top level is not a mapping.
    NotAMapping,
    /// A top-level key appears more than once (the value kept is the last).
    DuplicateKey { key: String, line: u32 },
}

/// A frontmatter value, reduced to what the lint and rules need.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    String(String),
    /// A mapping whose keys and values are all strings (what `metadata` must be).
    StringMap(Vec<(String, String)>),
    /// Anything else, by YAML kind, with its strings flattened for the prose rules.
    Other {
        kind: &'static str,
        text: String,
    },
}

impl Value {
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Self::String(s) => Some(s),
            _ => None,
        }
    }

    /// Every string inside, for rules that read frontmatter text.
    pub fn text(&self) -> String {
        match self {
            Self::String(s) => s.clone(),
            Self::StringMap(kv) => kv
                .iter()
                .map(|(k, v)| format!("{k}: {v}"))
                .collect::<Vec<_>>()
                .join("\n"),
            Self::Other { text, .. } => text.clone(),
        }
    }
}

/// One top-level frontmatter key.
#[derive(Debug, Clone, PartialEq)]
pub struct Field {
    pub key: String,
    pub value: Value,
    /// 1-based line in `SKILL.md`.
    pub line: u32,
}

/// A piece of the Markdown body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment {
    Prose {
        line: u32,
        text: String,
    },
    /// A fenced code block; `lang` is the info string's first word, lowercased (may be empty).
    Code {
        line: u32,
        lang: String,
        text: String,
    },
}

impl Segment {
    pub fn line(&self) -> u32 {
        match self {
            Self::Prose { line, .. } | Self::Code { line, .. } => *line,
        }
    }
}

/// A parsed `SKILL.md` (or any Markdown file, for references).
#[derive(Debug, Clone, PartialEq)]
pub struct SkillDocument {
    /// The whole file as text (lossily decoded).
    pub text: String,
    /// Byte offset of the first invalid UTF-8 sequence, if any.
    pub invalid_utf8_at: Option<usize>,
    pub fields: Vec<Field>,
    pub problems: Vec<FrontmatterProblem>,
    /// 1-based line where the body starts.
    pub body_line: u32,
    pub body: String,
    pub segments: Vec<Segment>,
}

impl SkillDocument {
    pub fn parse(bytes: &[u8]) -> Self {
        let invalid_utf8_at = std::str::from_utf8(bytes).err().map(|e| e.valid_up_to());
        let text = String::from_utf8_lossy(bytes).into_owned();
        let text = text
            .strip_prefix('\u{feff}')
            .map(str::to_string)
            .unwrap_or(text);
        let mut problems = Vec::new();
        let mut fields = Vec::new();
        let (body_line, body) = match split_frontmatter(&text) {
            Split::None => {
                problems.push(FrontmatterProblem::Missing);
                (1, text.clone())
            }
            Split::Unclosed => {
                problems.push(FrontmatterProblem::Unclosed);
                (1, text.clone())
            }
            Split::Some {
                yaml,
                body_line,
                body,
            } => {
                fields = parse_fields(yaml, &mut problems);
                (body_line, body.to_string())
            }
        };
        let segments = split_body(&body, body_line);
        Self {
            text,
            invalid_utf8_at,
            fields,
            problems,
            body_line,
            body,
            segments,
        }
    }

    pub fn field(&self, key: &str) -> Option<&Field> {
        self.fields.iter().rev().find(|f| f.key == key)
    }

    pub fn str_field(&self, key: &str) -> Option<&str> {
        self.field(key).and_then(|f| f.value.as_str())
    }

    pub fn name(&self) -> Option<&str> {
        self.str_field("name")
    }

    pub fn description(&self) -> Option<&str> {
        self.str_field("description")
    }
}

enum Split<'a> {
    None,
    Unclosed,
    Some {
        yaml: &'a str,
        body_line: u32,
        body: &'a str,
    },
}

fn split_frontmatter(text: &str) -> Split<'_> {
    let mut lines = text.split_inclusive('\n');
    let Some(first) = lines.next() else {
        return Split::None;
    };
    if first.trim_end() != "---" {
        return Split::None;
    }
    let start = first.len();
    let mut offset = start;
    let mut line_no = 1u32;
    for line in lines {
        line_no += 1;
        let trimmed = line.trim_end();
        if trimmed == "---" || trimmed == "..." {
            return Split::Some {
                yaml: &text[start..offset],
                body_line: line_no + 1,
                body: &text[offset + line.len()..],
            };
        }
        offset += line.len();
    }
    Split::Unclosed
}

/// Deepest nesting by flow brackets or by indentation steps, computed without a parser.
/// Nodes `yaml` holds with its aliases expanded, counted from the parser's events without
/// building anything, stopping once past `limit`. A YAML error counts as within the limit: the
/// loader reports it.
fn expanded_nodes(yaml: &str, limit: usize) -> Option<usize> {
    use yaml_rust2::parser::{Event, Parser};
    let mut parser = Parser::new_from_str(yaml);
    let mut anchored: std::collections::HashMap<usize, usize> = Default::default();
    // Containers not yet closed: their anchor and the nodes counted in them so far.
    let mut open: Vec<(usize, usize)> = Vec::new();
    let mut total = 0usize;
    loop {
        let Ok((event, _)) = parser.next_token() else {
            return Some(total);
        };
        let (anchor, nodes) = match event {
            Event::StreamEnd => return Some(total),
            Event::Scalar(_, _, anchor, _) => (anchor, 1),
            Event::Alias(id) => (0, anchored.get(&id).copied().unwrap_or(1)),
            Event::SequenceStart(anchor, _) | Event::MappingStart(anchor, _) => {
                open.push((anchor, 1));
                continue;
            }
            Event::SequenceEnd | Event::MappingEnd => match open.pop() {
                Some(closed) => closed,
                None => return Some(total),
            },
            _ => continue,
        };
        if anchor != 0 {
            anchored.insert(anchor, nodes);
        }
        let count = match open.last_mut() {
            Some((_, count)) => count,
            None => &mut total,
        };
        *count = count.saturating_add(nodes);
        if *count > limit {
            return None;
        }
    }
}

fn nesting_depth(yaml: &str) -> usize {
    let mut flow: usize = 0;
    let mut max_flow = 0;
    let mut indents: Vec<usize> = Vec::new();
    let mut max_block = 0;
    for line in yaml.lines() {
        let trimmed = line.trim_start();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        // Block sequences nest with "- " as well as with spaces.
        let indent = line.len() - trimmed.len()
            + trimmed
                .chars()
                .take_while(|c| *c == '-' || *c == ' ')
                .count();
        while indents.last().is_some_and(|&i| i >= indent) {
            indents.pop();
        }
        indents.push(indent);
        max_block = max_block.max(indents.len());
        for c in line.chars() {
            match c {
                '[' | '{' => {
                    flow += 1;
                    max_flow = max_flow.max(flow);
                }
                ']' | '}' => flow = flow.saturating_sub(1),
                _ => {}
            }
        }
    }
    max_flow.max(max_block)
}

fn parse_fields(yaml: &str, problems: &mut Vec<FrontmatterProblem>) -> Vec<Field> {
    let key_lines = top_level_keys(yaml);
    let mut seen = std::collections::HashSet::new();
    for (key, line) in &key_lines {
        if !seen.insert(key.clone()) {
            problems.push(FrontmatterProblem::DuplicateKey {
                key: key.clone(),
                line: *line,
            });
        }
    }
    let line_of = |key: &str| {
        key_lines
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map_or(2, |(_, l)| *l)
    };
    if yaml.len() > MAX_FRONTMATTER_BYTES {
        problems.push(FrontmatterProblem::TooLarge(yaml.len()));
        return fallback_fields(yaml);
    }
    let depth = nesting_depth(yaml);
    if depth > MAX_FRONTMATTER_DEPTH {
        problems.push(FrontmatterProblem::TooDeep(depth));
        return fallback_fields(yaml);
    }
    if expanded_nodes(yaml, MAX_FRONTMATTER_NODES).is_none_or(|n| n > MAX_FRONTMATTER_NODES) {
        problems.push(FrontmatterProblem::TooManyNodes);
        return fallback_fields(yaml);
    }
    let docs = match YamlLoader::load_from_str(yaml) {
        Ok(docs) => docs,
        Err(e) => {
            problems.push(FrontmatterProblem::InvalidYaml(e.to_string()));
            return fallback_fields(yaml);
        }
    };
    match docs.into_iter().next() {
        Some(Yaml::Hash(map)) => map
            .into_iter()
            .map(|(k, v)| {
                let key = scalar_text(&k).unwrap_or_else(|| flatten(&k));
                let line = line_of(&key);
                Field {
                    key,
                    value: to_value(v),
                    line,
                }
            })
            .collect(),
        None | Some(Yaml::Null) => Vec::new(),
        Some(_) => {
            problems.push(FrontmatterProblem::NotAMapping);
            Vec::new()
        }
    }
}

/// Top-level keys with their 1-based line in SKILL.md (frontmatter starts on line 2).
fn top_level_keys(yaml: &str) -> Vec<(String, u32)> {
    yaml.lines()
        .enumerate()
        .filter(|(_, l)| !l.starts_with([' ', '\t', '#', '-']) && !l.trim().is_empty())
        .filter_map(|(i, l)| {
            let (key, _) = l.split_once(':')?;
            let key = key.trim().trim_matches(['"', '\'']);
            (!key.is_empty()).then(|| (key.to_string(), i as u32 + 2))
        })
        .collect()
}

/// When the YAML cannot be parsed, read `key: value` lines so name and description are still
/// known to the lint and the judges.
fn fallback_fields(yaml: &str) -> Vec<Field> {
    top_level_keys(yaml)
        .into_iter()
        .filter_map(|(key, line)| {
            let raw = yaml.lines().nth(line as usize - 2)?;
            let value = raw
                .split_once(':')?
                .1
                .trim()
                .trim_matches(['"', '\''])
                .to_string();
            Some(Field {
                key,
                value: Value::String(value),
                line,
            })
        })
        .collect()
}

fn scalar_text(y: &Yaml) -> Option<String> {
    match y {
        Yaml::String(s) | Yaml::Real(s) => Some(s.clone()),
        Yaml::Integer(i) => Some(i.to_string()),
        Yaml::Boolean(b) => Some(b.to_string()),
        _ => None,
    }
}

fn flatten(y: &Yaml) -> String {
    let mut out = Vec::new();
    collect_strings(y, &mut out, 0);
    out.join("\n")
}

fn collect_strings(y: &Yaml, out: &mut Vec<String>, depth: usize) {
    if depth > MAX_FRONTMATTER_DEPTH {
        return;
    }
    match y {
        Yaml::Array(items) => items
            .iter()
            .for_each(|i| collect_strings(i, out, depth + 1)),
        Yaml::Hash(map) => map.iter().for_each(|(k, v)| {
            collect_strings(k, out, depth + 1);
            collect_strings(v, out, depth + 1);
        }),
        other => out.extend(scalar_text(other)),
    }
}

fn to_value(y: Yaml) -> Value {
    match &y {
        Yaml::String(s) => Value::String(s.clone()),
        Yaml::Hash(map) => {
            let pairs: Option<Vec<(String, String)>> = map
                .iter()
                .map(|(k, v)| match (k, v) {
                    (Yaml::String(k), Yaml::String(v)) => Some((k.clone(), v.clone())),
                    _ => None,
                })
                .collect();
            match pairs {
                Some(p) => Value::StringMap(p),
                None => Value::Other {
                    kind: "mapping",
                    text: flatten(&y),
                },
            }
        }
        Yaml::Array(_) => Value::Other {
            kind: "list",
            text: flatten(&y),
        },
        Yaml::Integer(_) | Yaml::Real(_) => Value::Other {
            kind: "number",
            text: flatten(&y),
        },
        Yaml::Boolean(_) => Value::Other {
            kind: "boolean",
            text: flatten(&y),
        },
        Yaml::Null => Value::Other {
            kind: "null",
            text: String::new(),
        },
        _ => Value::Other {
            kind: "other",
            text: String::new(),
        },
    }
}

/// A skill's stated purpose: its name, description and Markdown headings, what a user reads
/// before installing it and an agent before activating it. The rest of the body is what the skill
/// does, so it does not get to explain itself; a `# comment` inside a code block is code, not a
/// heading.
pub fn stated_purpose(name: &str, description: &str, body: &str) -> String {
    let segments = split_body(body, 1);
    let headings: Vec<&str> = segments
        .iter()
        .filter_map(|s| match s {
            Segment::Prose { text, .. } => Some(text.lines()),
            Segment::Code { .. } => None,
        })
        .flatten()
        .filter(|l| l.starts_with('#'))
        .take(40)
        .collect();
    format!(
        "{}\n{}\n{}",
        name.replace(['-', '_'], " "),
        description,
        headings.join("\n")
    )
}

/// Splits Markdown into prose and fenced code blocks (``` or ~~~, three or more).
pub fn split_body(body: &str, first_line: u32) -> Vec<Segment> {
    let mut segments = Vec::new();
    let mut prose = String::new();
    let mut prose_line = first_line;
    let mut fence: Option<(char, usize, String, u32, String)> = None;
    for (i, line) in body.split_inclusive('\n').enumerate() {
        let line_no = first_line + i as u32;
        let stripped = line.trim_start_matches(' ');
        let indent_ok = line.len() - stripped.len() <= 3;
        if let Some((ch, len, lang, start, mut code)) = fence.take() {
            let closing = indent_ok
                && stripped.trim_end().chars().all(|c| c == ch)
                && stripped.trim_end().chars().count() >= len;
            if closing {
                segments.push(Segment::Code {
                    line: start,
                    lang,
                    text: code,
                });
                prose_line = line_no + 1;
            } else {
                code.push_str(line);
                fence = Some((ch, len, lang, start, code));
            }
            continue;
        }
        let marker = stripped.chars().next().filter(|c| *c == '`' || *c == '~');
        if let (Some(ch), true) = (marker, indent_ok) {
            let len = stripped.chars().take_while(|c| *c == ch).count();
            if len >= 3 {
                if !prose.is_empty() {
                    segments.push(Segment::Prose {
                        line: prose_line,
                        text: std::mem::take(&mut prose),
                    });
                }
                let info = stripped[len * ch.len_utf8()..].trim();
                let lang = info
                    .split(|c: char| c.is_whitespace() || c == '{' || c == ',')
                    .next()
                    .unwrap_or("")
                    .to_ascii_lowercase();
                fence = Some((ch, len, lang, line_no + 1, String::new()));
                continue;
            }
        }
        if prose.is_empty() {
            prose_line = line_no;
        }
        prose.push_str(line);
    }
    if let Some((_, _, lang, start, code)) = fence {
        segments.push(Segment::Code {
            line: start,
            lang,
            text: code,
        });
    }
    if !prose.is_empty() {
        segments.push(Segment::Prose {
            line: prose_line,
            text: prose,
        });
    }
    segments
}

/// A prose line that quotes a command as an example of what not to do ("attackers use `curl x |
/// bash`"), rather than telling the agent to run it.
pub fn quoted_as_example(line: &str) -> bool {
    const MARKERS: &[&str] = &[
        "such as",
        "attacker",
        "malicious",
        "dangerous",
        "never ",
        "do not run",
        "don't run",
        "avoid running",
        "e.g.",
        "for example",
        "indicator",
        "ioc",
    ];
    let line = line.to_lowercase();
    MARKERS.iter().any(|m| line.contains(m))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_frontmatter_and_segments() {
        let doc = SkillDocument::parse(b"---\nname: pdf\ndescription: Read PDFs\nmetadata:\n  a: b\n---\n# Title\ntext\n```bash\necho hi\n```\nmore\n");
        assert!(doc.problems.is_empty(), "{:?}", doc.problems);
        assert_eq!(doc.name(), Some("pdf"));
        assert_eq!(
            doc.field("metadata").unwrap().value,
            Value::StringMap(vec![("a".into(), "b".into())])
        );
        assert_eq!(doc.field("description").unwrap().line, 3);
        assert_eq!(doc.body_line, 7);
        assert_eq!(
            doc.segments,
            vec![
                Segment::Prose {
                    line: 7,
                    text: "# Title\ntext\n".into()
                },
                Segment::Code {
                    line: 10,
                    lang: "bash".into(),
                    text: "echo hi\n".into()
                },
                Segment::Prose {
                    line: 12,
                    text: "more\n".into()
                },
            ]
        );
    }

    #[test]
    fn missing_and_unclosed_frontmatter() {
        assert_eq!(
            SkillDocument::parse(b"# hi\n").problems,
            vec![FrontmatterProblem::Missing]
        );
        let doc = SkillDocument::parse(b"---\nname: x\n");
        assert_eq!(doc.problems, vec![FrontmatterProblem::Unclosed]);
        assert!(doc.body.contains("name: x"));
    }

    #[test]
    fn deep_nesting_is_refused_before_parsing() {
        let yaml = format!(
            "---\nname: x\nk: {}{}\n---\nbody\n",
            "[".repeat(10_000),
            "]".repeat(10_000)
        );
        let doc = SkillDocument::parse(yaml.as_bytes());
        assert!(matches!(
            doc.problems[0],
            FrontmatterProblem::TooDeep(10_000)
        ));
        assert_eq!(doc.name(), Some("x"));
        let block: String = (0..10_000)
            .map(|i| format!("{}k{i}:\n", " ".repeat(i)))
            .collect();
        let doc = SkillDocument::parse(format!("---\n{block}---\n").as_bytes());
        assert!(doc.problems.iter().any(|p| matches!(
            p,
            FrontmatterProblem::TooLarge(_) | FrontmatterProblem::TooDeep(_)
        )));
    }

    #[test]
    fn alias_bombs_are_not_expanded() {
        let mut yaml = String::from("---\nname: laughs\ndescription: x\na0: &a0 [\"lol\"]\n");
        for i in 1..10 {
            let refs = vec![format!("*a{}", i - 1); 9].join(", ");
            yaml.push_str(&format!("a{i}: &a{i} [{refs}]\n"));
        }
        yaml.push_str("---\nbody\n");
        let doc = SkillDocument::parse(yaml.as_bytes());
        assert!(doc.problems.contains(&FrontmatterProblem::TooManyNodes));
        assert_eq!(doc.name(), Some("laughs"));
        // A few aliases are still YAML.
        let doc = SkillDocument::parse(
            b"---\nname: a\ndescription: x\nmetadata: &m {k: v}\nother: *m\n---\n",
        );
        assert!(doc.problems.is_empty(), "{:?}", doc.problems);
    }

    #[test]
    fn duplicate_keys_and_invalid_utf8_are_noticed() {
        let doc = SkillDocument::parse(b"---\nname: a\nname: b\ndescription: \xff\xfe\n---\n");
        assert_eq!(doc.invalid_utf8_at, Some(33));
        assert!(doc.problems.contains(&FrontmatterProblem::DuplicateKey {
            key: "name".into(),
            line: 3
        }));
    }

    #[test]
    fn broken_yaml_falls_back_to_lines() {
        let doc = SkillDocument::parse(b"---\nname: x\ndescription: a: b: [\n---\n");
        assert!(matches!(
            doc.problems[0],
            FrontmatterProblem::InvalidYaml(_)
        ));
        assert_eq!(doc.name(), Some("x"));
    }

    #[test]
    fn unclosed_fence_runs_to_end() {
        let segs = split_body("a\n```python\nimport os\n", 5);
        assert_eq!(
            segs[1],
            Segment::Code {
                line: 7,
                lang: "python".into(),
                text: "import os\n".into()
            }
        );
    }
}
