//! Markdown prose split into sentences, each with where it sits (a paragraph, a list item, a
//! table cell, a heading, a quote, an HTML comment) and the line it starts on. Fenced code is
//! left out: it is G1's to read as code.

/// Where a sentence sits in the document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Place {
    Paragraph,
    ListItem,
    TableCell,
    Heading,
    /// A `>` block quote: somebody's words, quoted.
    Quote,
    /// Inside `<!-- … -->`: invisible when the Markdown is rendered, read by the agent.
    Comment,
}

/// One sentence of prose.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sentence {
    pub line: u32,
    pub text: String,
    pub place: Place,
    /// The heading level, for a heading.
    pub level: usize,
    /// Whether the sentence ends its block with a colon: it introduces what follows ("After any
    /// task, do the following:").
    pub introduces: bool,
    /// The fenced code right after a sentence that introduces it ("send it to the tracker:"
    /// then a `curl` block): where the sentence's command is spelled out.
    pub code_after: Option<String>,
    /// The whole block (paragraph, list item, cell) the sentence belongs to, up to
    /// `MAX_SENTENCE` bytes: what its neighbours say about it ("keep this subtle").
    pub block: String,
}

/// A block of consecutive lines of one kind, before it is split into sentences.
struct Block {
    line: u32,
    text: String,
    place: Place,
    level: usize,
    code_after: Option<String>,
}

/// Code kept after an introducing sentence.
const MAX_CODE_AFTER: usize = 4_096;

/// Longest sentence kept: a hostile one-line document must not make every later pass quadratic.
const MAX_SENTENCE: usize = 2_000;
/// Sentences kept per document.
const MAX_SENTENCES: usize = 20_000;

fn fence_marker(line: &str) -> Option<(char, usize)> {
    let stripped = line.trim_start_matches(' ');
    if line.len() - stripped.len() > 3 {
        return None;
    }
    let ch = stripped.chars().next().filter(|c| *c == '`' || *c == '~')?;
    let len = stripped.chars().take_while(|c| *c == ch).count();
    (len >= 3).then_some((ch, len))
}

fn list_item(line: &str) -> Option<&str> {
    let t = line.trim_start();
    for marker in ["- ", "* ", "+ "] {
        if let Some(rest) = t.strip_prefix(marker) {
            let rest = rest.trim_start();
            // A task box is part of the marker.
            let rest = rest
                .strip_prefix("[ ]")
                .or_else(|| rest.strip_prefix("[x]"))
                .or_else(|| rest.strip_prefix("[X]"))
                .unwrap_or(rest);
            return Some(rest.trim_start());
        }
    }
    let digits = t.chars().take_while(char::is_ascii_digit).count();
    if (1..=3).contains(&digits) {
        let rest = &t[digits..];
        if let Some(rest) = rest.strip_prefix(". ").or_else(|| rest.strip_prefix(") ")) {
            return Some(rest.trim_start());
        }
    }
    None
}

fn blocks(text: &str, first_line: u32) -> Vec<Block> {
    let mut out: Vec<Block> = Vec::new();
    let mut fence: Option<(char, usize)> = None;
    let mut code = String::new();
    let mut comment: Option<Block> = None;
    let mut paragraph: Option<Block> = None;
    let flush = |p: &mut Option<Block>, out: &mut Vec<Block>| {
        if let Some(b) = p.take() {
            out.push(b);
        }
    };
    for (i, raw) in text.lines().enumerate() {
        let line_no = first_line + i as u32;
        if let Some((ch, len)) = fence {
            let t = raw.trim();
            if t.chars().all(|c| c == ch) && t.chars().count() >= len {
                fence = None;
                if let Some(last) = out.last_mut().filter(|b| b.text.trim_end().ends_with(':')) {
                    last.code_after = Some(std::mem::take(&mut code));
                }
                code.clear();
            } else if code.len() < MAX_CODE_AFTER {
                code.push_str(raw);
                code.push('\n');
            }
            continue;
        }
        if let Some(c) = comment.as_mut() {
            match raw.find("-->") {
                Some(end) => {
                    c.text.push(' ');
                    c.text.push_str(&raw[..end]);
                    out.extend(comment.take());
                }
                None => {
                    c.text.push(' ');
                    c.text.push_str(raw);
                }
            }
            continue;
        }
        if let Some(marker) = fence_marker(raw) {
            flush(&mut paragraph, &mut out);
            fence = Some(marker);
            continue;
        }
        let trimmed = raw.trim();
        if let Some(start) = trimmed.find("<!--") {
            flush(&mut paragraph, &mut out);
            let inner = &trimmed[start + 4..];
            let before = trimmed[..start].trim();
            if !before.is_empty() {
                out.push(Block {
                    line: line_no,
                    text: before.to_string(),
                    place: Place::Paragraph,
                    level: 0,
                    code_after: None,
                });
            }
            match inner.find("-->") {
                Some(end) => out.push(Block {
                    line: line_no,
                    text: inner[..end].to_string(),
                    place: Place::Comment,
                    level: 0,
                    code_after: None,
                }),
                None => {
                    comment = Some(Block {
                        line: line_no,
                        text: inner.to_string(),
                        place: Place::Comment,
                        level: 0,
                        code_after: None,
                    })
                }
            }
            continue;
        }
        if trimmed.is_empty() {
            flush(&mut paragraph, &mut out);
            continue;
        }
        if trimmed.starts_with('#') {
            flush(&mut paragraph, &mut out);
            let level = trimmed.chars().take_while(|c| *c == '#').count();
            out.push(Block {
                line: line_no,
                text: trimmed[level..]
                    .trim()
                    .trim_end_matches('#')
                    .trim()
                    .to_string(),
                place: Place::Heading,
                level,
                code_after: None,
            });
            continue;
        }
        if trimmed.starts_with('|') {
            flush(&mut paragraph, &mut out);
            for cell in trimmed.trim_matches('|').split('|') {
                let cell = cell.trim();
                if !cell.is_empty() && !cell.chars().all(|c| matches!(c, '-' | ':' | ' ')) {
                    out.push(Block {
                        line: line_no,
                        text: cell.to_string(),
                        place: Place::TableCell,
                        level: 0,
                        code_after: None,
                    });
                }
            }
            continue;
        }
        if let Some(quoted) = trimmed.strip_prefix('>') {
            flush(&mut paragraph, &mut out);
            out.push(Block {
                line: line_no,
                text: quoted.trim().to_string(),
                place: Place::Quote,
                level: 0,
                code_after: None,
            });
            continue;
        }
        if let Some(item) = list_item(raw) {
            flush(&mut paragraph, &mut out);
            paragraph = Some(Block {
                line: line_no,
                text: item.to_string(),
                place: Place::ListItem,
                level: 0,
                code_after: None,
            });
            continue;
        }
        match paragraph.as_mut() {
            Some(p) => {
                p.text.push(' ');
                p.text.push_str(trimmed);
            }
            None => {
                paragraph = Some(Block {
                    line: line_no,
                    text: trimmed.to_string(),
                    place: Place::Paragraph,
                    level: 0,
                    code_after: None,
                })
            }
        }
    }
    flush(&mut paragraph, &mut out);
    out.extend(comment);
    out
}

/// Whether the text ends a sentence at byte `i` (a `.`, `!` or `?` followed by a space, or a
/// `;`), and not inside an abbreviation (`e.g.`, `i.e.`) or a file name (`.env`).
fn ends_sentence(bytes: &[u8], i: usize) -> bool {
    let c = bytes[i];
    let next_space = bytes.get(i + 1).is_none_or(|b| *b == b' ');
    match c {
        b'!' | b'?' => next_space,
        b';' => true,
        b'.' => {
            if !next_space {
                return false;
            }
            // `e.g.`, `i.e.`, `etc.`, `vs.`: one letter between dots, or a known abbreviation.
            let word_start = bytes[..i]
                .iter()
                .rposition(|b| *b == b' ')
                .map_or(0, |p| p + 1);
            let word = &bytes[word_start..i];
            let initials = word.len() <= 5
                && word.iter().enumerate().all(|(k, b)| {
                    if k % 2 == 0 {
                        b.is_ascii_alphabetic()
                    } else {
                        *b == b'.'
                    }
                });
            let abbreviation = initials
                || matches!(
                    word.to_ascii_lowercase().as_slice(),
                    b"etc" | b"vs" | b"eg" | b"ie" | b"approx" | b"incl"
                );
            !abbreviation
        }
        _ => false,
    }
}

/// Splits a block into sentences; backticked spans are never split.
fn split(block: &Block) -> Vec<Sentence> {
    let text = block.text.trim();
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut start = 0;
    let mut in_code = false;
    for i in 0..bytes.len() {
        if bytes[i] == b'`' {
            in_code = !in_code;
            continue;
        }
        if !in_code && ends_sentence(bytes, i) {
            push(&mut out, block, &text[start..=i]);
            start = i + 1;
        }
    }
    push(&mut out, block, &text[start..]);
    if let Some(last) = out.last_mut() {
        last.introduces = text.ends_with(':');
        last.code_after.clone_from(&block.code_after);
    }
    out
}

fn clip(text: &str) -> String {
    let mut end = text.len().min(MAX_SENTENCE);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].to_string()
}

fn push(out: &mut Vec<Sentence>, block: &Block, text: &str) {
    let text = text.trim();
    if text.is_empty() {
        return;
    }
    let mut end = text.len().min(MAX_SENTENCE);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    out.push(Sentence {
        line: block.line,
        text: text[..end].to_string(),
        place: block.place,
        level: block.level,
        introduces: false,
        code_after: None,
        block: clip(&block.text),
    });
}

/// The sentences of Markdown `text` whose first line is `first_line`.
pub fn sentences(text: &str, first_line: u32) -> Vec<Sentence> {
    let mut out = Vec::new();
    for block in blocks(text, first_line) {
        out.extend(split(&block));
        if out.len() >= MAX_SENTENCES {
            out.truncate(MAX_SENTENCES);
            break;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_become_sentences_with_their_place() {
        let md = "# Title\n\nFirst one. Second\none, e.g. this.\n\n- item `a. b` here\n\n| cell one | two |\n|---|---|\n\n```bash\nrm -rf /\n```\n<!-- hidden note -->\n> quoted words\n";
        let s = sentences(md, 1);
        let texts: Vec<(&str, Place, u32)> = s
            .iter()
            .map(|s| (s.text.as_str(), s.place, s.line))
            .collect();
        assert_eq!(
            texts,
            vec![
                ("Title", Place::Heading, 1),
                ("First one.", Place::Paragraph, 3),
                ("Second one, e.g. this.", Place::Paragraph, 3),
                ("item `a. b` here", Place::ListItem, 6),
                ("cell one", Place::TableCell, 8),
                ("two", Place::TableCell, 8),
                ("hidden note", Place::Comment, 14),
                ("quoted words", Place::Quote, 15),
            ]
        );
    }

    #[test]
    fn a_multi_line_comment_is_one_block_and_a_colon_introduces() {
        let s = sentences("<!--\nAfter any task,\nupload it\n-->\nDo this:\n", 1);
        assert_eq!(s[0].text, "After any task, upload it");
        assert_eq!(s[0].place, Place::Comment);
        assert!(s[1].introduces);
    }
}
