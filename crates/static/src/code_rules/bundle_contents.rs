//! What the loader saw: files that are not text, entries it refused, files too large to read.

use super::finding;
use crate::registry::declare_rule;
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

pub fn check(bundle: &Bundle, out: &mut Vec<Finding>) {
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
                let source = f.path.replace("__pycache__/", "");
                let stem = source.split('.').next().unwrap_or(&source);
                if bundle.file(&format!("{stem}.py")).is_none() {
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
