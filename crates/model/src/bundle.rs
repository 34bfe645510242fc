//! Skill bundles: the files of one skill, loaded from a folder or an archive.
//!
//! Everything here reads attacker-controlled input. The loader never follows a symlink, never
//! opens anything but a regular file, refuses archive entries that would land outside the bundle,
//! and bounds entries, bytes, compression ratio and archive nesting. What it refuses it reports as
//! a [`LoadIssue`] so that G1 can turn it into a finding: nothing is dropped silently.

use sha2::{Digest, Sha256};
use std::fmt;
use std::fs;
use std::io::{self, Read};
use std::path::{Component, Path, PathBuf};

/// Bounds on what one bundle may hold.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Files in the bundle, counting members of nested archives.
    pub max_entries: usize,
    /// Bytes read for the whole bundle after decompression.
    pub max_total_bytes: u64,
    /// Bytes of one file kept for analysis; a larger file is hashed, recorded as too large and
    /// reported, never silently truncated.
    pub max_file_bytes: u64,
    /// Decompressed-to-compressed ratio above which an archive member is treated as a bomb.
    pub max_ratio: u64,
    /// How many archives deep a bundle may nest (the bundle's own archive counts as one).
    pub max_depth: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_entries: 10_000,
            max_total_bytes: 256 * 1024 * 1024,
            max_file_bytes: 16 * 1024 * 1024,
            max_ratio: 200,
            max_depth: 3,
        }
    }
}

/// Why a bundle could not be loaded at all.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BundleError {
    /// No `SKILL.md` (or `skill.md`) at the bundle root.
    #[error("no SKILL.md found in {0}")]
    NoSkillMd(String),
    /// `SKILL.md` exists but is a directory, symlink or special file.
    #[error("SKILL.md in {0} is not a regular file")]
    SkillMdNotAFile(String),
    /// The archive format could not be read.
    #[error("unreadable archive {path}: {reason}")]
    BadArchive { path: String, reason: String },
    /// A limit was exceeded (entries, total bytes, compression ratio).
    #[error("{path}: {what} exceeds the limit of {limit}")]
    LimitExceeded {
        path: String,
        what: &'static str,
        limit: u64,
    },
    /// An I/O error on the bundle itself.
    #[error("cannot read {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: io::Error,
    },
}

impl BundleError {
    fn io(path: &Path, source: io::Error) -> Self {
        Self::Io {
            path: path.display().to_string(),
            source,
        }
    }
}

/// What a file is, decided from its bytes rather than its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum FileKind {
    /// UTF-8 (or nearly) text.
    Text,
    /// Zip (also `.docx`, `.jar`, `.whl`), tar or gzip.
    Archive,
    /// Python bytecode.
    Bytecode,
    /// A native executable (ELF, PE, Mach-O).
    Executable,
    /// Anything else that is not text.
    Binary,
}

/// One file of a bundle.
#[derive(Clone)]
pub struct BundleFile {
    /// Path relative to the bundle root, `/`-separated. Members of nested archives read
    /// `outer.zip!/inner/path`.
    pub path: String,
    /// The whole content; empty when `too_large`.
    pub bytes: Vec<u8>,
    pub size: u64,
    pub sha256: [u8; 32],
    pub kind: FileKind,
    /// Larger than [`Limits::max_file_bytes`]: hashed but not analysed.
    pub too_large: bool,
    /// Set for members of an archive found inside the bundle.
    pub in_archive: bool,
}

impl fmt::Debug for BundleFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BundleFile")
            .field("path", &self.path)
            .field("size", &self.size)
            .field("kind", &self.kind)
            .field("too_large", &self.too_large)
            .finish_non_exhaustive()
    }
}

impl BundleFile {
    fn new(path: String, bytes: Vec<u8>, size: u64, sha256: [u8; 32], too_large: bool) -> Self {
        let kind = classify(&path, &bytes);
        Self {
            path,
            bytes,
            size,
            sha256,
            kind,
            too_large,
            in_archive: false,
        }
    }

    /// The content as text, lossily decoded; `None` for non-text files.
    pub fn text(&self) -> Option<std::borrow::Cow<'_, str>> {
        (self.kind == FileKind::Text && !self.too_large)
            .then(|| String::from_utf8_lossy(&self.bytes))
    }
}

/// Something the loader refused or could not fully analyse.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct LoadIssue {
    pub path: String,
    pub kind: IssueKind,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case", tag = "kind", content = "detail")]
pub enum IssueKind {
    /// An archive entry whose path is absolute or climbs out with `..`.
    PathTraversal(String),
    /// A symlink whose target resolves outside the bundle.
    SymlinkOutside(String),
    /// A symlink inside the bundle (not followed).
    SymlinkInside(String),
    /// A hard link, device, FIFO or socket.
    SpecialFile,
    /// A file above the per-file limit.
    TooLarge(u64),
    /// An archive inside the bundle that is nested too deep or cannot be read.
    NestedArchive(String),
    /// An I/O error on one file.
    Unreadable(String),
}

/// The identity of a bundle's content: SHA-256 over its canonical listing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ContentHash(pub [u8; 32]);

impl fmt::Display for ContentHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "sha256:{}", hex::encode(self.0))
    }
}

impl ContentHash {
    /// The canonical listing is one line per file, sorted by path: `path NUL hex(sha256) LF`.
    /// Members of nested archives are not listed: the archive's own hash covers them.
    pub fn of(files: &[BundleFile]) -> Self {
        let mut listing: Vec<(&str, &[u8; 32])> = files
            .iter()
            .filter(|f| !f.in_archive)
            .map(|f| (f.path.as_str(), &f.sha256))
            .collect();
        listing.sort();
        let mut hasher = Sha256::new();
        for (path, digest) in listing {
            hasher.update(path.as_bytes());
            hasher.update([0]);
            hasher.update(hex::encode(digest).as_bytes());
            hasher.update(b"\n");
        }
        Self(hasher.finalize().into())
    }

    /// [`ContentHash::of`], with what loading refused listed after the files (`!` path NUL
    /// issue, sorted): two uploads that differ only in an entry refused on load (a `../`
    /// entry, a link out) are different subjects with different findings, and one must never
    /// be answered with the other's stored verdict. A bundle loaded without issues keeps the
    /// hash of its files alone.
    pub fn of_loaded(files: &[BundleFile], issues: &[LoadIssue]) -> Self {
        if issues.is_empty() {
            return Self::of(files);
        }
        let files_hash = Self::of(files);
        let mut refused: Vec<String> = issues
            .iter()
            .map(|i| {
                format!(
                    "!{}\0{}",
                    i.path,
                    serde_json::to_string(&i.kind).unwrap_or_default()
                )
            })
            .collect();
        refused.sort();
        let mut hasher = Sha256::new();
        hasher.update(files_hash.0);
        for line in refused {
            hasher.update(line.as_bytes());
            hasher.update(b"\n");
        }
        Self(hasher.finalize().into())
    }
}

/// One skill's files.
#[derive(Debug, Clone)]
pub struct Bundle {
    /// The folder or archive as found.
    pub source: PathBuf,
    /// Name of the folder holding `SKILL.md` (the spec requires `name` to equal it).
    pub dir_name: String,
    /// Path of `SKILL.md` within the bundle (`SKILL.md` or `skill.md`).
    pub skill_md: String,
    /// Sorted by path.
    pub files: Vec<BundleFile>,
    pub hash: ContentHash,
    pub issues: Vec<LoadIssue>,
}

impl Bundle {
    /// Loads a bundle from a folder, or from a `.zip`, `.tar`, `.tar.gz`, `.tgz` or `.skill`
    /// archive.
    pub fn load(path: &Path, limits: &Limits) -> Result<Self, BundleError> {
        let meta = fs::symlink_metadata(path).map_err(|e| BundleError::io(path, e))?;
        if meta.is_dir() {
            load_dir(path, limits)
        } else if meta.is_file() {
            load_archive_file(path, limits)
        } else {
            Err(BundleError::NoSkillMd(path.display().to_string()))
        }
    }

    pub fn file(&self, path: &str) -> Option<&BundleFile> {
        self.files
            .binary_search_by(|f| f.path.as_str().cmp(path))
            .ok()
            .map(|i| &self.files[i])
    }

    /// Files an agent could execute: Python, shell, JavaScript/TypeScript, or anything with a
    /// shebang, excluding SKILL.md itself.
    pub fn scripts(&self) -> impl Iterator<Item = &BundleFile> {
        const EXTENSIONS: &[&str] = &[".py", ".sh", ".bash", ".js", ".mjs", ".cjs", ".ts"];
        self.files.iter().filter(|f| {
            f.path != self.skill_md
                && !f.in_archive
                && matches!(f.kind, FileKind::Text | FileKind::Executable)
                && (EXTENSIONS.iter().any(|e| f.path.ends_with(e)) || f.bytes.starts_with(b"#!"))
        })
    }

    pub fn skill_md_file(&self) -> &BundleFile {
        self.file(&self.skill_md)
            .expect("a loaded bundle always holds its SKILL.md")
    }

    /// Folders inside the bundle that hold their own `SKILL.md`: skills it carries, and may
    /// install or load. Only the shallowest are listed (a skill inside a bundled skill belongs to
    /// that one), at most [`MAX_NESTED`]; the second value counts those left out.
    pub fn nested_roots(&self) -> (Vec<String>, usize) {
        let mut roots: Vec<String> = Vec::new();
        let mut left_out = 0;
        for f in &self.files {
            let Some(prefix) = f
                .path
                .strip_suffix("/SKILL.md")
                .or_else(|| f.path.strip_suffix("/skill.md"))
            else {
                continue;
            };
            // `x.zip!/SKILL.md`: an archive at the root of which a skill sits.
            let prefix = prefix.trim_end_matches('!');
            if prefix.is_empty()
                || roots.iter().any(|r| {
                    prefix == r
                        || prefix
                            .strip_prefix(r.as_str())
                            .is_some_and(|rest| rest.starts_with('/') || rest.starts_with("!/"))
                })
            {
                continue;
            }
            if roots.len() >= MAX_NESTED {
                left_out += 1;
            } else {
                roots.push(prefix.to_string());
            }
        }
        (roots, left_out)
    }

    /// The skill rooted at `prefix` (one of [`Self::nested_roots`]) as a bundle of its own: its
    /// files with the prefix taken off, hashed as if it had been found alone.
    pub fn nested(&self, prefix: &str) -> Option<Bundle> {
        let mut files: Vec<BundleFile> = self
            .files
            .iter()
            .filter_map(|f| {
                let rest = f
                    .path
                    .strip_prefix(prefix)
                    .and_then(|r| r.strip_prefix("!/").or_else(|| r.strip_prefix('/')))?;
                let mut file = f.clone();
                file.in_archive = rest.contains("!/");
                file.path = rest.to_string();
                Some(file)
            })
            .collect();
        files.sort_by(|a, b| a.path.cmp(&b.path));
        let skill_md = ["SKILL.md", "skill.md"]
            .into_iter()
            .find(|n| files.iter().any(|f| f.path == *n))?
            .to_string();
        let dir_name = prefix
            .trim_end_matches('!')
            .rsplit(['/', '!'])
            .next()
            .unwrap_or(prefix)
            .to_string();
        Some(Bundle {
            source: self.source.join(prefix),
            dir_name,
            skill_md,
            hash: ContentHash::of(&files),
            files,
            issues: Vec::new(),
        })
    }
}

/// Bundled skills judged as subjects of their own, per bundle; more are counted, not judged.
pub const MAX_NESTED: usize = 16;

/// A skill found below a directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Candidate {
    Dir(PathBuf),
    Archive(PathBuf),
}

impl Candidate {
    pub fn path(&self) -> &Path {
        match self {
            Self::Dir(p) | Self::Archive(p) => p,
        }
    }
}

/// Whether a bundle path is a document (Markdown, reStructuredText, plain text): prose an agent
/// reads, as opposed to a script it runs.
pub fn is_document(path: &str) -> bool {
    let p = path.to_ascii_lowercase();
    [".md", ".markdown", ".mdx", ".txt", ".rst"]
        .iter()
        .any(|e| p.ends_with(e))
}

/// Finds every skill at or below `root`: folders holding `SKILL.md` or `skill.md` (at any depth,
/// hidden folders such as `.claude/skills/` included) and skill archives outside those folders.
/// A skill folder is not searched further: what lies below it belongs to that skill.
pub fn discover(root: &Path) -> Vec<Candidate> {
    let Ok(meta) = fs::metadata(root) else {
        return vec![Candidate::Dir(root.to_path_buf())];
    };
    if meta.is_file() {
        return vec![Candidate::Archive(root.to_path_buf())];
    }
    let mut out = Vec::new();
    let mut walker = walkdir::WalkDir::new(root)
        .follow_links(false)
        .sort_by_file_name()
        .into_iter();
    while let Some(entry) = walker.next() {
        let Ok(entry) = entry else { continue };
        let ft = entry.file_type();
        if ft.is_dir() {
            if skill_md_name(entry.path()).is_some() {
                out.push(Candidate::Dir(entry.path().to_path_buf()));
                walker.skip_current_dir();
            }
        } else if ft.is_file()
            && is_archive_name(&entry.file_name().to_string_lossy())
            && archive_has_skill_md(entry.path())
        {
            out.push(Candidate::Archive(entry.path().to_path_buf()));
        }
    }
    if out.is_empty() {
        // The caller asked about this folder; say there is no skill here rather than nothing.
        out.push(Candidate::Dir(root.to_path_buf()));
    }
    out
}

fn is_archive_name(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    [".zip", ".tar", ".tar.gz", ".tgz", ".skill"]
        .iter()
        .any(|ext| n.ends_with(ext))
}

/// Whether an archive lists a `SKILL.md`, read from its entry names only: discovery must not
/// load (and hash) every archive a second time before the scan loads it.
fn archive_has_skill_md(path: &Path) -> bool {
    let is_skill_md = |name: &str| {
        let last = name.rsplit(['/', '\\']).next().unwrap_or("");
        last == "SKILL.md" || last == "skill.md"
    };
    let mut head = Vec::new();
    let Ok(file) = fs::File::open(path) else {
        return false;
    };
    if (&file).take(512).read_to_end(&mut head).is_err() {
        return false;
    }
    let Ok(file) = fs::File::open(path) else {
        return false;
    };
    let reader = io::BufReader::new(file);
    match sniff_format(&head) {
        Some(ArchiveFormat::Zip) => zip::ZipArchive::new(reader)
            .is_ok_and(|z| z.file_names().any(|n| n.is_ok_and(|n| is_skill_md(&n)))),
        Some(format @ (ArchiveFormat::Tar | ArchiveFormat::TarGz)) => {
            let inner: Box<dyn Read> = match format {
                ArchiveFormat::TarGz => Box::new(flate2::read::GzDecoder::new(reader)),
                _ => Box::new(reader),
            };
            let mut tar = tar::Archive::new(inner);
            let Ok(entries) = tar.entries() else {
                return false;
            };
            entries
                .flatten()
                .take(Limits::default().max_entries)
                .any(|e| is_skill_md(&String::from_utf8_lossy(&e.path_bytes())))
        }
        None => false,
    }
}

fn skill_md_name(dir: &Path) -> Option<&'static str> {
    ["SKILL.md", "skill.md"]
        .into_iter()
        .find(|n| fs::symlink_metadata(dir.join(n)).is_ok())
}

struct Collector<'a> {
    limits: &'a Limits,
    origin: String,
    files: Vec<BundleFile>,
    issues: Vec<LoadIssue>,
    total: u64,
}

impl<'a> Collector<'a> {
    fn new(limits: &'a Limits, origin: &Path) -> Self {
        Self {
            limits,
            origin: origin.display().to_string(),
            files: Vec::new(),
            issues: Vec::new(),
            total: 0,
        }
    }

    fn issue(&mut self, path: impl Into<String>, kind: IssueKind) {
        self.issues.push(LoadIssue {
            path: path.into(),
            kind,
        });
    }

    fn count_entry(&self) -> Result<(), BundleError> {
        if self.files.len() + self.issues.len() >= self.limits.max_entries {
            return Err(BundleError::LimitExceeded {
                path: self.origin.clone(),
                what: "number of entries",
                limit: self.limits.max_entries as u64,
            });
        }
        Ok(())
    }

    /// Reads one file's content from `reader`, whole if it fits, hashed either way.
    fn add(
        &mut self,
        path: String,
        reader: &mut dyn Read,
        compressed: Option<u64>,
    ) -> Result<(), BundleError> {
        self.count_entry()?;
        let mut hasher = Sha256::new();
        let mut kept = Vec::new();
        let mut size: u64 = 0;
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = match reader.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    self.issue(path, IssueKind::Unreadable(e.to_string()));
                    return Ok(());
                }
            };
            size += n as u64;
            self.total += n as u64;
            if self.total > self.limits.max_total_bytes {
                return Err(BundleError::LimitExceeded {
                    path: self.origin.clone(),
                    what: "total uncompressed size",
                    limit: self.limits.max_total_bytes,
                });
            }
            if let Some(c) = compressed
                && size > 1024 * 1024
                && size / c.max(1) > self.limits.max_ratio
            {
                return Err(BundleError::LimitExceeded {
                    path: format!("{}!/{path}", self.origin),
                    what: "compression ratio",
                    limit: self.limits.max_ratio,
                });
            }
            hasher.update(&buf[..n]);
            if size <= self.limits.max_file_bytes {
                kept.extend_from_slice(&buf[..n]);
            }
        }
        let too_large = size > self.limits.max_file_bytes;
        if too_large {
            kept = Vec::new();
            self.issue(path.clone(), IssueKind::TooLarge(size));
        }
        self.files.push(BundleFile::new(
            path,
            kept,
            size,
            hasher.finalize().into(),
            too_large,
        ));
        Ok(())
    }
}

fn load_dir(root: &Path, limits: &Limits) -> Result<Bundle, BundleError> {
    let skill_md = match skill_md_name(root) {
        Some(name) => name,
        None => return Err(BundleError::NoSkillMd(root.display().to_string())),
    };
    let md_meta =
        fs::symlink_metadata(root.join(skill_md)).map_err(|e| BundleError::io(root, e))?;
    if !md_meta.is_file() {
        return Err(BundleError::SkillMdNotAFile(root.display().to_string()));
    }
    let canonical_root = fs::canonicalize(root).map_err(|e| BundleError::io(root, e))?;
    let mut c = Collector::new(limits, root);
    for entry in walkdir::WalkDir::new(root)
        .follow_links(false)
        .sort_by_file_name()
        .min_depth(1)
    {
        let entry = match entry {
            Ok(e) => e,
            Err(e) => {
                let p = e.path().map(|p| rel_path(root, p)).unwrap_or_default();
                c.issue(p, IssueKind::Unreadable(e.to_string()));
                continue;
            }
        };
        let rel = rel_path(root, entry.path());
        let ft = entry.file_type();
        if ft.is_dir() {
            continue;
        }
        c.count_entry()?;
        if ft.is_symlink() {
            let target = fs::read_link(entry.path())
                .map(|t| t.display().to_string())
                .unwrap_or_default();
            let inside =
                fs::canonicalize(entry.path()).is_ok_and(|t| t.starts_with(&canonical_root));
            let kind = if inside {
                IssueKind::SymlinkInside(target)
            } else {
                IssueKind::SymlinkOutside(target)
            };
            c.issue(rel, kind);
        } else if ft.is_file() {
            match fs::File::open(entry.path()) {
                Ok(mut f) => c.add(rel, &mut f, None)?,
                Err(e) => c.issue(rel, IssueKind::Unreadable(e.to_string())),
            }
        } else {
            c.issue(rel, IssueKind::SpecialFile);
        }
    }
    let dir_name = canonical_root
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    finish(root, dir_name, skill_md.to_string(), c, limits)
}

fn rel_path(root: &Path, path: &Path) -> String {
    let rel = path.strip_prefix(root).unwrap_or(path);
    rel.components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}

#[derive(Clone, Copy)]
enum ArchiveFormat {
    Zip,
    Tar,
    TarGz,
}

fn sniff_format(bytes: &[u8]) -> Option<ArchiveFormat> {
    if bytes.starts_with(b"PK\x03\x04") || bytes.starts_with(b"PK\x05\x06") {
        Some(ArchiveFormat::Zip)
    } else if bytes.starts_with(&[0x1f, 0x8b]) {
        Some(ArchiveFormat::TarGz)
    } else if bytes.len() > 262 && &bytes[257..262] == b"ustar" {
        Some(ArchiveFormat::Tar)
    } else {
        None
    }
}

fn load_archive_file(path: &Path, limits: &Limits) -> Result<Bundle, BundleError> {
    let mut head = Vec::new();
    fs::File::open(path)
        .and_then(|f| f.take(512).read_to_end(&mut head))
        .map_err(|e| BundleError::io(path, e))?;
    let compressed = fs::metadata(path).map(|m| m.len()).unwrap_or(0);
    let file = fs::File::open(path).map_err(|e| BundleError::io(path, e))?;
    load_archive(
        path,
        &head,
        Box::new(io::BufReader::new(file)),
        compressed,
        limits,
    )
}

impl Bundle {
    /// Loads a bundle from an archive held in memory (an upload, say); `source` names it in
    /// reports and gives the skill folder's name when the archive has no top folder.
    pub fn from_archive_bytes(
        source: &Path,
        bytes: &[u8],
        limits: &Limits,
    ) -> Result<Self, BundleError> {
        let head = &bytes[..bytes.len().min(512)];
        load_archive(
            source,
            head,
            Box::new(io::Cursor::new(bytes)),
            bytes.len() as u64,
            limits,
        )
    }
}

fn load_archive(
    path: &Path,
    head: &[u8],
    reader: Box<dyn Read + '_>,
    compressed: u64,
    limits: &Limits,
) -> Result<Bundle, BundleError> {
    let format = sniff_format(head).ok_or_else(|| BundleError::BadArchive {
        path: path.display().to_string(),
        reason: "not a zip, tar or gzip archive".into(),
    })?;
    let mut c = Collector::new(limits, path);
    read_archive(format, reader, compressed, "", &mut c)?;
    // The skill root is the shallowest folder holding SKILL.md; when it is not the archive root,
    // strip it so paths read as they would in a folder.
    let root = c
        .files
        .iter()
        .filter(|f| {
            let name = f.path.rsplit('/').next().unwrap_or("");
            name == "SKILL.md" || name == "skill.md"
        })
        .map(|f| f.path.clone())
        .min_by_key(|p| (p.matches('/').count(), p.clone()))
        .ok_or_else(|| BundleError::NoSkillMd(path.display().to_string()))?;
    let (prefix, skill_md) = match root.rfind('/') {
        Some(i) => (root[..=i].to_string(), root[i + 1..].to_string()),
        None => (String::new(), root.clone()),
    };
    if !prefix.is_empty() {
        for f in &mut c.files {
            match f.path.strip_prefix(&prefix) {
                Some(rest) => f.path = rest.to_string(),
                // Kept and visible: a file beside the skill folder is still part of what was shipped.
                None => f.path = format!("../{}", f.path),
            }
        }
    }
    let dir_name = if prefix.is_empty() {
        let stem = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        strip_archive_ext(&stem).to_string()
    } else {
        prefix
            .trim_end_matches('/')
            .rsplit('/')
            .next()
            .unwrap_or("")
            .to_string()
    };
    finish(path, dir_name, skill_md, c, limits)
}

fn strip_archive_ext(name: &str) -> &str {
    for ext in [".tar.gz", ".tgz", ".tar", ".zip", ".skill"] {
        if name.len() > ext.len() && name.to_ascii_lowercase().ends_with(ext) {
            return &name[..name.len() - ext.len()];
        }
    }
    name
}

/// Validates an archive member path: relative, no `..`, no root or drive prefix.
fn safe_member_path(raw: &str) -> Option<String> {
    let raw = raw.replace('\\', "/");
    let p = Path::new(&raw);
    let mut parts = Vec::new();
    for comp in p.components() {
        match comp {
            Component::Normal(s) => parts.push(s.to_string_lossy().into_owned()),
            Component::CurDir => {}
            _ => return None,
        }
    }
    (!parts.is_empty()).then(|| parts.join("/"))
}

fn read_archive(
    format: ArchiveFormat,
    reader: Box<dyn Read + '_>,
    compressed: u64,
    prefix: &str,
    c: &mut Collector<'_>,
) -> Result<(), BundleError> {
    let bad = |reason: String| BundleError::BadArchive {
        path: c_origin(prefix),
        reason,
    };
    match format {
        ArchiveFormat::Zip => {
            // zip needs Seek; members are bounded by the limits before this point.
            let mut buf = Vec::new();
            reader
                .take(c.limits.max_total_bytes + 1)
                .read_to_end(&mut buf)
                .map_err(|e| bad(e.to_string()))?;
            let mut zip =
                zip::ZipArchive::new(io::Cursor::new(buf)).map_err(|e| bad(e.to_string()))?;
            if zip.len() > c.limits.max_entries {
                return Err(BundleError::LimitExceeded {
                    path: c.origin.clone(),
                    what: "number of entries",
                    limit: c.limits.max_entries as u64,
                });
            }
            for i in 0..zip.len() {
                let mut entry = zip.by_index(i).map_err(|e| bad(e.to_string()))?;
                let raw = entry
                    .name()
                    .map(|n| n.into_owned())
                    .unwrap_or_else(|_| String::from_utf8_lossy(entry.name_raw()).into_owned());
                let Some(name) = safe_member_path(&raw) else {
                    c.count_entry()?;
                    c.issue(format!("{prefix}{raw}"), IssueKind::PathTraversal(raw));
                    continue;
                };
                if entry.is_dir() {
                    continue;
                }
                if entry.is_symlink() {
                    c.count_entry()?;
                    let mut target = String::new();
                    let _ = (&mut entry).take(4096).read_to_string(&mut target);
                    c.issue(format!("{prefix}{name}"), IssueKind::SymlinkOutside(target));
                    continue;
                }
                let csize = entry.compressed_size();
                c.add(format!("{prefix}{name}"), &mut entry, Some(csize))?;
            }
        }
        // A gzip inside the bundle may hold one file rather than a tar: the file is a member.
        ArchiveFormat::TarGz if !prefix.is_empty() => {
            let mut gz = flate2::read::GzDecoder::new(reader);
            let mut data = Vec::new();
            (&mut gz)
                .take(c.limits.max_total_bytes + 1)
                .read_to_end(&mut data)
                .map_err(|e| bad(e.to_string()))?;
            if data.len() as u64 > 1024 * 1024
                && data.len() as u64 / compressed.max(1) > c.limits.max_ratio
            {
                return Err(BundleError::LimitExceeded {
                    path: c.origin.clone(),
                    what: "compression ratio",
                    limit: c.limits.max_ratio,
                });
            }
            if data.len() > 262 && &data[257..262] == b"ustar" {
                return read_archive(
                    ArchiveFormat::Tar,
                    Box::new(io::Cursor::new(data)),
                    compressed,
                    prefix,
                    c,
                );
            }
            let name = gz
                .header()
                .and_then(|h| h.filename())
                .and_then(|n| safe_member_path(&String::from_utf8_lossy(n)))
                .unwrap_or_else(|| {
                    let outer = prefix.trim_end_matches("!/");
                    let last = outer.rsplit('/').next().unwrap_or(outer);
                    last.strip_suffix(".gz").unwrap_or("content").to_string()
                });
            c.add(
                format!("{prefix}{name}"),
                &mut io::Cursor::new(data),
                Some(compressed),
            )?;
        }
        ArchiveFormat::Tar | ArchiveFormat::TarGz => {
            let inner: Box<dyn Read + '_> = match format {
                ArchiveFormat::TarGz => Box::new(flate2::read::GzDecoder::new(reader)),
                _ => reader,
            };
            let mut tar = tar::Archive::new(inner);
            let entries = tar.entries().map_err(|e| bad(e.to_string()))?;
            let before = c.total;
            for entry in entries {
                let mut entry = entry.map_err(|e| bad(e.to_string()))?;
                let raw = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
                let kind = entry.header().entry_type();
                if kind.is_dir() {
                    continue;
                }
                let Some(name) = safe_member_path(&raw) else {
                    c.count_entry()?;
                    c.issue(format!("{prefix}{raw}"), IssueKind::PathTraversal(raw));
                    continue;
                };
                if kind.is_symlink() || kind.is_hard_link() {
                    c.count_entry()?;
                    let target = entry
                        .link_name_bytes()
                        .map(|b| String::from_utf8_lossy(&b).into_owned())
                        .unwrap_or_default();
                    c.issue(format!("{prefix}{name}"), IssueKind::SymlinkOutside(target));
                    continue;
                }
                if !kind.is_file() {
                    if !kind.is_pax_global_extensions()
                        && !kind.is_pax_local_extensions()
                        && !kind.is_gnu_longname()
                    {
                        c.count_entry()?;
                        c.issue(format!("{prefix}{name}"), IssueKind::SpecialFile);
                    }
                    continue;
                }
                c.add(format!("{prefix}{name}"), &mut entry, None)?;
                if let ArchiveFormat::TarGz = format {
                    let expanded = c.total - before;
                    if expanded > 1024 * 1024 && expanded / compressed.max(1) > c.limits.max_ratio {
                        return Err(BundleError::LimitExceeded {
                            path: c.origin.clone(),
                            what: "compression ratio",
                            limit: c.limits.max_ratio,
                        });
                    }
                }
            }
        }
    }
    Ok(())
}

fn c_origin(prefix: &str) -> String {
    if prefix.is_empty() {
        "archive".into()
    } else {
        prefix.trim_end_matches("!/").to_string()
    }
}

/// Opens archives found inside the bundle (a `.zip` of scripts, a `.docx`) so their members are
/// analysed too, up to the nesting limit.
fn expand_nested(c: &mut Collector<'_>, depth: u32) -> Result<(), BundleError> {
    let mut start = 0;
    for level in depth..c.limits.max_depth + 1 {
        let end = c.files.len();
        let archives: Vec<(String, Vec<u8>)> = c.files[start..end]
            .iter()
            .filter(|f| f.kind == FileKind::Archive && !f.too_large)
            .map(|f| (f.path.clone(), f.bytes.clone()))
            .collect();
        start = end;
        for (path, bytes) in archives {
            if level >= c.limits.max_depth {
                c.issue(
                    path,
                    IssueKind::NestedArchive(format!(
                        "nested deeper than {} archives; not opened",
                        c.limits.max_depth
                    )),
                );
                continue;
            }
            let Some(format) = sniff_format(&bytes) else {
                continue;
            };
            let first_new = c.files.len();
            let compressed = bytes.len() as u64;
            let prefix = format!("{path}!/");
            match read_archive(
                format,
                Box::new(io::Cursor::new(bytes)),
                compressed,
                &prefix,
                c,
            ) {
                Ok(()) => {}
                Err(e @ BundleError::LimitExceeded { .. }) => return Err(e),
                Err(e) => c.issue(path, IssueKind::NestedArchive(e.to_string())),
            }
            for f in &mut c.files[first_new..] {
                f.in_archive = true;
            }
        }
        if start == c.files.len() {
            break;
        }
    }
    Ok(())
}

fn finish(
    source: &Path,
    dir_name: String,
    skill_md: String,
    mut c: Collector<'_>,
    limits: &Limits,
) -> Result<Bundle, BundleError> {
    let own_depth = u32::from(fs::metadata(source).is_ok_and(|m| m.is_file()));
    expand_nested(&mut c, own_depth + 1)?;
    c.files.sort_by(|a, b| a.path.cmp(&b.path));
    c.files.dedup_by(|a, b| a.path == b.path);
    let md = c
        .files
        .iter()
        .find(|f| f.path == skill_md)
        .ok_or_else(|| BundleError::SkillMdNotAFile(source.display().to_string()))?;
    if md.too_large {
        return Err(BundleError::LimitExceeded {
            path: format!("{}/{skill_md}", source.display()),
            what: "SKILL.md size",
            limit: limits.max_file_bytes,
        });
    }
    let hash = ContentHash::of_loaded(&c.files, &c.issues);
    Ok(Bundle {
        source: source.to_path_buf(),
        dir_name,
        skill_md,
        files: c.files,
        hash,
        issues: c.issues,
    })
}

/// Decides what a file is from its leading bytes (and, for bytecode, its name).
fn classify(path: &str, bytes: &[u8]) -> FileKind {
    let lower = path.to_ascii_lowercase();
    if sniff_format(bytes).is_some() {
        return FileKind::Archive;
    }
    if lower.ends_with(".pyc")
        || lower.ends_with(".pyo")
        || (bytes.len() >= 4
            && bytes[2..4] == *b"\r\n"
            && bytes[..2] != *b"\r\n"
            && !bytes[..2].iter().all(u8::is_ascii))
    {
        return FileKind::Bytecode;
    }
    if bytes.starts_with(b"\x7fELF")
        || bytes.starts_with(b"MZ")
            && bytes.len() > 64
            && !bytes.iter().take(512).all(|b| b.is_ascii())
        || [
            [0xfe, 0xed, 0xfa, 0xce],
            [0xfe, 0xed, 0xfa, 0xcf],
            [0xce, 0xfa, 0xed, 0xfe],
            [0xcf, 0xfa, 0xed, 0xfe],
            [0xca, 0xfe, 0xba, 0xbe],
        ]
        .iter()
        .any(|m| bytes.starts_with(m))
    {
        return FileKind::Executable;
    }
    if looks_like_text(bytes) {
        FileKind::Text
    } else {
        FileKind::Binary
    }
}

fn looks_like_text(bytes: &[u8]) -> bool {
    let sample = &bytes[..bytes.len().min(8192)];
    if sample.contains(&0) {
        return false;
    }
    match std::str::from_utf8(sample) {
        Ok(_) => true,
        // A multi-byte character cut at the sample boundary is still text.
        Err(e) if e.error_len().is_none() => true,
        Err(_) => {
            let odd = sample
                .iter()
                .filter(|&&b| b < 0x09 || (0x0e..0x20).contains(&b))
                .count();
            odd * 20 < sample.len()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn member_paths_refuse_escape() {
        assert_eq!(safe_member_path("a/b.txt").as_deref(), Some("a/b.txt"));
        assert_eq!(safe_member_path("./a/./b").as_deref(), Some("a/b"));
        assert_eq!(safe_member_path("../evil"), None);
        assert_eq!(safe_member_path("a/../../evil"), None);
        assert_eq!(safe_member_path("/etc/passwd"), None);
        assert_eq!(safe_member_path("..\\..\\evil"), None);
    }

    #[test]
    fn classifies_by_content() {
        assert_eq!(classify("x.txt", b"hello"), FileKind::Text);
        assert_eq!(classify("x.bin", b"\x7fELF\x02\x01"), FileKind::Executable);
        assert_eq!(classify("x.png", b"PK\x03\x04rest"), FileKind::Archive);
        assert_eq!(classify("x.pyc", b"\xcb\x0d\x0d\x0a"), FileKind::Bytecode);
        assert_eq!(classify("x.dat", b"\x00\x01\x02"), FileKind::Binary);
    }

    #[test]
    fn entries_refused_on_load_are_part_of_the_subject() {
        let files = [BundleFile::new(
            "SKILL.md".into(),
            b"x".to_vec(),
            1,
            Sha256::digest(b"x").into(),
            false,
        )];
        let issue = |path: &str, kind: IssueKind| LoadIssue {
            path: path.into(),
            kind,
        };
        let slip = [issue("../x", IssueKind::PathTraversal("../x".into()))];
        let link = [issue(
            "link",
            IssueKind::SymlinkOutside("/etc/passwd".into()),
        )];
        assert_eq!(ContentHash::of_loaded(&files, &[]), ContentHash::of(&files));
        assert_ne!(
            ContentHash::of_loaded(&files, &slip),
            ContentHash::of_loaded(&files, &link)
        );
        assert_ne!(
            ContentHash::of_loaded(&files, &slip),
            ContentHash::of(&files)
        );
    }

    #[test]
    fn hash_depends_on_paths_and_content() {
        let f = |p: &str, b: &[u8]| {
            BundleFile::new(
                p.into(),
                b.to_vec(),
                b.len() as u64,
                Sha256::digest(b).into(),
                false,
            )
        };
        let a = ContentHash::of(&[f("SKILL.md", b"x"), f("a.py", b"y")]);
        let b = ContentHash::of(&[f("a.py", b"y"), f("SKILL.md", b"x")]);
        let c = ContentHash::of(&[f("SKILL.md", b"x"), f("b.py", b"y")]);
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert!(a.to_string().starts_with("sha256:"));
    }
}
