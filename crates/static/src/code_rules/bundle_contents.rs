//! What the loader and the content view saw: files that are not text, entries refused, files
//! too large to read, documents with macros, bytecode that is not its source.

use super::finding;
use crate::registry::declare_rule;
use skillgate_content::{ContentView, ObservationKind};
use skillgate_model::bundle::{Bundle, FileKind, IssueKind};
use skillgate_model::{Capability, Confidence, Finding, KillChainStage, Severity};

declare_rule! {
    /// ## What it does
    /// Flags native executables (ELF, PE, Mach-O) shipped inside a skill.
    ///
    /// ## Why is this risky?
    /// A compiled binary cannot be reviewed and is the usual payload of fake-prerequisite
    /// campaigns. Skills are instructions and scripts; they rarely need one.
    ///
    /// ## Example
    /// `scripts/helper` starting with `\x7fELF`.
    pub struct BundledExecutable { code: "SK510", slug: "bundled-executable", severity: High, summary: "native executable inside the skill" }
}

declare_rule! {
    /// ## What it does
    /// Flags Python bytecode (`.pyc`) with no matching `.py` source in the bundle.
    ///
    /// ## Why is this risky?
    /// Bytecode runs like source but cannot be read by reviewers or pattern rules; shipping it
    /// without its source hides what it does.
    ///
    /// ## Example
    /// `scripts/__pycache__/util.cpython-312.pyc` with no `scripts/util.py`.
    pub struct BytecodeWithoutSource { code: "SK511", slug: "bytecode-without-source", severity: High, summary: "Python bytecode without its source" }
}

declare_rule! {
    /// ## What it does
    /// Flags symlinks whose target lies outside the skill folder (they are never followed).
    ///
    /// ## Why is this risky?
    /// An agent reading `references/config.md` that links to `~/.aws/credentials` or
    /// `/etc/passwd` reads and may repeat the target: exfiltration through the agent.
    ///
    /// ## Example
    /// `references/notes.md -> /etc/passwd`
    pub struct SymlinkOutsideBundle { code: "SK512", slug: "symlink-outside-bundle", severity: High, summary: "symlink pointing outside the skill" }
}

declare_rule! {
    /// ## What it does
    /// Flags archive entries whose path is absolute or climbs out with `..` (refused on load).
    ///
    /// ## Why is this risky?
    /// "Zip slip": extracting such an archive writes outside its folder, over shell rc files or
    /// agent settings. No archiver writes such an entry by accident: it is an attack on
    /// whoever unpacks the skill, so the skill is rejected.
    ///
    /// ## Example
    /// A zip entry named `../../.bashrc`.
    pub struct ArchiveEntryEscapes { code: "SK513", slug: "archive-path-traversal", severity: Critical, summary: "archive entry escapes its folder" }
}

declare_rule! {
    /// ## What it does
    /// Reports a file larger than the analysis limit (16 MiB by default). It is hashed but its
    /// content is not analysed.
    ///
    /// ## Why is this risky?
    /// Padding a file past a scanner's limit is a known evasion; skillgate says so instead of
    /// going quiet.
    ///
    /// ## Example
    /// A 40 MiB `scripts/data.py`.
    pub struct TooLargeToAnalyse { code: "SK514", slug: "too-large-to-analyse", severity: Medium, summary: "file too large to analyse" }
}

declare_rule! {
    /// ## What it does
    /// Reports an archive inside the bundle that could not be opened or is nested too deep.
    ///
    /// ## Why is this risky?
    /// Nested or corrupt archives hide content from analysis.
    ///
    /// ## Example
    /// `assets/a.zip` containing `b.zip` containing `c.zip` containing `d.zip`.
    pub struct NestedArchiveUnopened { code: "SK515", slug: "nested-archive-unopened", severity: Medium, summary: "archive inside the skill not analysed" }
}

declare_rule! {
    /// ## What it does
    /// Lists binary files that are neither images, fonts nor documents skillgate can read, and
    /// special files (FIFOs, devices).
    ///
    /// ## Why is this risky?
    /// Opaque content is not analysed; it is listed so nothing in a bundle goes unmentioned.
    ///
    /// ## Example
    /// `assets/blob.bin`
    pub struct OpaqueFile { code: "SK516", slug: "opaque-file", severity: Info, summary: "binary or special file not analysed" }
}

declare_rule! {
    /// ## What it does
    /// Flags an Office or OpenDocument file in the skill that carries a macro project
    /// (`vbaProject.bin`, a macro-enabled content type, OpenDocument `Basic/` scripts),
    /// whatever the file is named.
    ///
    /// ## Why is this risky?
    /// A skill's documents are read by an agent or opened by a user; a macro runs code on open
    /// and no reviewer of the skill's text sees it.
    ///
    /// ## Example
    /// `assets/.template` that is a `.docm` with `word/vbaProject.bin`.
    pub struct DocumentMacros { code: "SK524", slug: "document-macros", severity: High, summary: "document carries macros" }
}

declare_rule! {
    /// ## What it does
    /// Reports a document part (Office or OpenDocument XML) that was not read whole: a
    /// document type that declares entities (a billion laughs, an external entity), elements
    /// nested deeper than 256, XML that does not parse. The text before the fault is still
    /// analysed.
    ///
    /// ## Why is this risky?
    /// Office never writes entity declarations; a part built to expand or to break parsers is
    /// built to hide the rest of the document from analysis.
    ///
    /// ## Example
    /// `word/document.xml` opening with `<!DOCTYPE d [<!ENTITY a "&b;&b;…">]>`.
    pub struct DocumentPartRefused { code: "SK518", slug: "document-part-refused", severity: Medium, summary: "document part not read whole" }
}

declare_rule! {
    /// ## What it does
    /// Compares each Python bytecode file (`__pycache__/x.cpython-312.pyc`, `x.pyc`) with the
    /// source it names. Every name its code objects use must occur in the source's code, and
    /// the words of its string constants in the source; bytecode that uses a name the source
    /// never does, or several words it never holds, was compiled from another program. The
    /// bytecode's names and constants are then analysed as the file's content.
    ///
    /// ## Why is this risky?
    /// Python runs a `.pyc` in `__pycache__` instead of the `.py` when their stamps agree, and
    /// the stamps are in the attacker's hands: the code that runs is not the code a reviewer
    /// reads.
    ///
    /// ## Example
    /// `scripts/fmt.py` formats JSON; `scripts/__pycache__/fmt.cpython-312.pyc` calls
    /// `os.system` with a download.
    pub struct BytecodeSourceMismatch { code: "SK519", slug: "bytecode-source-mismatch", severity: Critical, summary: "bytecode is not its source compiled" }
}

declare_rule! {
    /// ## What it does
    /// Reports Python bytecode whose marshal stream cannot be read: truncated, corrupt, or not
    /// CPython 3.7 or later.
    ///
    /// ## Why is this risky?
    /// Code that cannot be read cannot be checked against its source or scanned.
    ///
    /// ## Example
    /// A `.pyc` cut short in the middle of its constants.
    pub struct UnreadableBytecode { code: "SK523", slug: "unreadable-bytecode", severity: Medium, summary: "bytecode cannot be read" }
}

fn is_media(bytes: &[u8], path: &str) -> bool {
    const MAGIC: &[&[u8]] = &[
        b"\x89PNG",
        b"\xff\xd8\xff",
        b"GIF8",
        b"%PDF",
        b"RIFF",
        b"wOFF",
        b"wOF2",
        b"\x00\x01\x00\x00",
        b"OTTO",
        b"ID3",
        b"fLaC",
        b"OggS",
        b"\x00\x00\x01\x00",
    ];
    let p = path.to_ascii_lowercase();
    MAGIC.iter().any(|m| bytes.starts_with(m))
        || [
            ".ico", ".webp", ".mp4", ".mp3", ".woff", ".ttf", ".otf", ".sqlite", ".db",
        ]
        .iter()
        .any(|e| p.ends_with(e))
}

pub fn check(bundle: &Bundle, view: &ContentView<'_>, out: &mut Vec<Finding>) {
    observations(view, out);
    for f in &bundle.files {
        match f.kind {
            FileKind::Executable => out.push(
                finding(
                    &BundledExecutable::INFO,
                    Confidence::High,
                    "malware-delivery",
                    format!("native executable ({} bytes) cannot be reviewed", f.size),
                )
                .at(&f.path, None, None)
                .with_capability(Capability::ProcExec)
                .with_stage(KillChainStage::Execution),
            ),
            FileKind::Bytecode => {
                let source = skillgate_content::source_of(&f.path);
                if source.is_none_or(|s| bundle.file(&s).is_none()) {
                    out.push(
                        finding(
                            &BytecodeWithoutSource::INFO,
                            Confidence::Medium,
                            "obfuscation",
                            "bytecode without source cannot be reviewed",
                        )
                        .at(&f.path, None, None)
                        .with_capability(Capability::CodeDynamic)
                        .with_stage(KillChainStage::DefenseEvasion),
                    );
                }
            }
            FileKind::Binary if !is_media(&f.bytes, &f.path) => {
                out.push(
                    finding(
                        &OpaqueFile::INFO,
                        Confidence::Low,
                        "opaque",
                        format!("binary file ({} bytes) not analysed", f.size),
                    )
                    .at(&f.path, None, None),
                );
            }
            _ => {}
        }
    }
    for issue in &bundle.issues {
        let f = match &issue.kind {
            IssueKind::SymlinkOutside(target) => finding(
                &SymlinkOutsideBundle::INFO,
                Confidence::High,
                "credential-access",
                format!("symlink to `{target}` outside the skill (not followed)"),
            )
            .with_capability(Capability::SecretRead)
            .with_stage(KillChainStage::CredentialAccess)
            .with_evidence(target),
            IssueKind::SymlinkInside(target) => {
                let mut f = finding(
                    &OpaqueFile::INFO,
                    Confidence::High,
                    "opaque",
                    format!("symlink to `{target}` (not followed)"),
                );
                f.severity = Severity::Info;
                f
            }
            IssueKind::PathTraversal(raw) => finding(
                &ArchiveEntryEscapes::INFO,
                Confidence::High,
                "defense-evasion",
                format!("archive entry `{raw}` would land outside the skill"),
            )
            .with_stage(KillChainStage::DefenseEvasion)
            .with_evidence(raw),
            IssueKind::TooLarge(size) => finding(
                &TooLargeToAnalyse::INFO,
                Confidence::High,
                "coverage",
                format!("{size} bytes: too large to analyse"),
            ),
            IssueKind::NestedArchive(why) => finding(
                &NestedArchiveUnopened::INFO,
                Confidence::High,
                "coverage",
                why.clone(),
            ),
            IssueKind::SpecialFile => finding(
                &OpaqueFile::INFO,
                Confidence::High,
                "opaque",
                "special file (device, FIFO, socket or link) not read",
            ),
            IssueKind::Unreadable(e) => finding(
                &OpaqueFile::INFO,
                Confidence::High,
                "coverage",
                format!("unreadable: {e}"),
            ),
        };
        out.push(f.at(&issue.path, None, None));
    }
}

/// What the content view noticed beside the text.
fn observations(view: &ContentView<'_>, out: &mut Vec<Finding>) {
    for observation in &view.observations {
        let f = match &observation.kind {
            ObservationKind::Macros { document } => finding(
                &DocumentMacros::INFO,
                Confidence::High,
                "malware-delivery",
                format!("the document `{document}` carries macros"),
            )
            .with_capability(Capability::CodeDynamic)
            .with_stage(KillChainStage::Execution),
            ObservationKind::EmbeddedObject { document } => {
                let mut f = finding(
                    &OpaqueFile::INFO,
                    Confidence::High,
                    "opaque",
                    format!("object embedded in the document `{document}`"),
                );
                f.severity = Severity::Info;
                f
            }
            ObservationKind::DocumentPartRefused(why) => finding(
                &DocumentPartRefused::INFO,
                Confidence::High,
                "coverage",
                format!("document part not read whole: {why}"),
            ),
            ObservationKind::UnreadableBytecode(why) => finding(
                &UnreadableBytecode::INFO,
                Confidence::High,
                "coverage",
                format!("unreadable bytecode: {why}"),
            ),
            ObservationKind::BytecodeMismatch {
                source,
                unexplained,
                recorded_size,
                actual_size,
            } => {
                let mut shown = unexplained.all();
                shown.truncate(12);
                let stamp = match recorded_size {
                    Some(size) if u64::from(*size) == *actual_size => {
                        format!(
                            "; its header claims the source's size ({size} bytes), so Python runs it instead"
                        )
                    }
                    Some(size) => format!(
                        "; its header records a {size}-byte source, `{source}` has {actual_size}"
                    ),
                    None => String::new(),
                };
                finding(
                    &BytecodeSourceMismatch::INFO,
                    Confidence::High,
                    "obfuscation",
                    format!(
                        "bytecode is not `{source}` compiled: it uses {} that the source never does{stamp}",
                        shown
                            .iter()
                            .map(|w| format!("`{w}`"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                )
                .with_capability(Capability::CodeDynamic)
                .with_stage(KillChainStage::DefenseEvasion)
                .with_evidence(&shown.join(" "))
            }
        };
        out.push(f.at(&observation.path, None, None));
    }
}
