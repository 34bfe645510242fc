//! The content view: every text a skill bundle holds, each with where it came from.
//!
//! G1's rules, G2's judges and G3's rescans all read a bundle through this view, so what one
//! gate can see the others can too, and no rule decides by a file's name whether to look. Each
//! file yields one or more [`Text`]s:
//! - a text file (hidden dotfiles included) is one text;
//! - a member of an archive inside the bundle (zip, tar, gzip; the loader opens them within its
//!   limits) is a file of its own, labelled `outer.zip!/inner/path`;
//! - an Office Open XML or OpenDocument file, whatever it is named, yields the text of each XML
//!   part instead of the XML ([`document`]), read as prose whose fenced blocks are code;
//! - Python bytecode yields its names and string constants when there is no source beside it,
//!   or when it is not what that source compiles to ([`bytecode`]);
//! - text a sandbox run printed or wrote is a text too ([`Origin::RunOutput`]), made by G3.
//!
//! What the view found beside the text (macros, embedded objects, XML it refused, bytecode it
//! could not read or that does not match its source) is an [`Observation`], which G1 reports.

pub mod bytecode;
pub mod document;

use document::DocumentKind;
use skillgate_model::bundle::{Bundle, BundleFile, FileKind, is_document};
use std::borrow::Cow;
use std::collections::BTreeMap;

/// Where a text came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// A file of the bundle.
    File,
    /// A member of an archive found inside the bundle.
    ArchiveMember { archive: String },
    /// A part of an Office or OpenDocument file.
    DocumentPart { document: String, part: String },
    /// The names and string constants of Python bytecode.
    BytecodeConstants { bytecode: String },
    /// Printed or written by a script during a sandbox run.
    RunOutput { step: String },
}

impl Origin {
    /// A short phrase for messages: "document part word/document.xml of `.notes`".
    pub fn describe(&self) -> Option<String> {
        match self {
            Origin::File => None,
            Origin::ArchiveMember { archive } => Some(format!("inside the archive `{archive}`")),
            Origin::DocumentPart { document, part } => {
                Some(format!("in part `{part}` of the document `{document}`"))
            }
            Origin::BytecodeConstants { bytecode } => {
                Some(format!("among the constants of the bytecode `{bytecode}`"))
            }
            Origin::RunOutput { step } => Some(format!("in the output of `{step}`")),
        }
    }
}

/// How a text is to be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Form {
    /// Prose whose fenced blocks are code: Markdown, and the text of documents.
    Markdown,
    /// A script or other plain file: its language comes from its name or first line.
    Script,
    /// Names and string constants, one per line.
    Constants,
}

/// One text of the bundle.
#[derive(Debug, Clone)]
pub struct Text<'b> {
    /// What findings name as the file: the bundle path, `outer!/member` for archive members
    /// and document parts.
    pub label: String,
    pub origin: Origin,
    pub form: Form,
    pub body: Cow<'b, str>,
}

/// What the view noticed that is not text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observation {
    /// The bundle path it is about.
    pub path: String,
    pub kind: ObservationKind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ObservationKind {
    /// An Office or OpenDocument file carries a macro project or scripts.
    Macros { document: String },
    /// A document embeds another object (an OLE package, a second document).
    EmbeddedObject { document: String },
    /// A document part was not read whole: why.
    DocumentPartRefused(String),
    /// Bytecode that could not be read: why.
    UnreadableBytecode(String),
    /// Bytecode whose names and constants its source does not explain.
    BytecodeMismatch {
        source: String,
        unexplained: bytecode::Unexplained,
        /// The source size the bytecode's header records, and the source's actual size.
        recorded_size: Option<u32>,
        actual_size: u64,
    },
}

/// The texts and observations of a bundle.
#[derive(Debug, Default)]
pub struct ContentView<'b> {
    pub texts: Vec<Text<'b>>,
    pub observations: Vec<Observation>,
}

impl<'b> ContentView<'b> {
    /// The view of `bundle`. SKILL.md is among the texts: callers that read it through its
    /// parsed form skip the text labelled `bundle.skill_md`.
    pub fn of(bundle: &'b Bundle) -> Self {
        let mut view = ContentView::default();
        let documents = documents(bundle);
        for file in &bundle.files {
            let container = container_of(&file.path);
            if let Some((container, member)) = container
                && let Some(kind) = documents.get(container)
            {
                view.document_member(container, member, *kind, file);
                continue;
            }
            match file.kind {
                FileKind::Text if !file.too_large => {
                    let origin = match container {
                        Some((archive, _)) => Origin::ArchiveMember {
                            archive: archive.to_string(),
                        },
                        None => Origin::File,
                    };
                    let form = if is_document(&file.path) {
                        Form::Markdown
                    } else {
                        Form::Script
                    };
                    view.texts.push(Text {
                        label: file.path.clone(),
                        origin,
                        form,
                        body: String::from_utf8_lossy(&file.bytes),
                    });
                }
                FileKind::Bytecode if !file.too_large => view.bytecode(bundle, file),
                _ => {}
            }
        }
        view
    }

    /// The prose texts besides SKILL.md: Markdown files and the text of documents.
    pub fn prose(&self, skill_md: &str) -> impl Iterator<Item = &Text<'b>> {
        self.texts
            .iter()
            .filter(move |t| t.form == Form::Markdown && t.label != skill_md)
    }

    fn document_member(
        &mut self,
        container: &str,
        member: &str,
        kind: DocumentKind,
        file: &BundleFile,
    ) {
        let observe = |kind| Observation {
            path: file.path.clone(),
            kind,
        };
        if kind.is_macro(member) {
            self.observations.push(observe(ObservationKind::Macros {
                document: container.to_string(),
            }));
            return;
        }
        if kind.is_embedded_object(member) {
            self.observations
                .push(observe(ObservationKind::EmbeddedObject {
                    document: container.to_string(),
                }));
        }
        let xml = member.ends_with(".xml") || member.ends_with(".rels");
        if !xml || file.kind != FileKind::Text || file.too_large {
            return;
        }
        if member == "[Content_Types].xml" {
            if file
                .bytes
                .windows(12)
                .any(|w| w.eq_ignore_ascii_case(b"macroenabled"))
            {
                self.observations.push(observe(ObservationKind::Macros {
                    document: container.to_string(),
                }));
            }
            return;
        }
        let part = document::part_text(&file.bytes);
        if let Some(why) = part.refused {
            self.observations
                .push(observe(ObservationKind::DocumentPartRefused(why)));
        }
        if part.text.trim().is_empty() {
            return;
        }
        self.texts.push(Text {
            label: file.path.clone(),
            origin: Origin::DocumentPart {
                document: container.to_string(),
                part: member.to_string(),
            },
            form: Form::Markdown,
            body: Cow::Owned(part.text),
        });
    }

    fn bytecode(&mut self, bundle: &Bundle, file: &BundleFile) {
        let pyc = match bytecode::Pyc::parse(&file.bytes) {
            Ok(pyc) => pyc,
            Err(why) => {
                self.observations.push(Observation {
                    path: file.path.clone(),
                    kind: ObservationKind::UnreadableBytecode(why.to_string()),
                });
                return;
            }
        };
        let source = source_of(&file.path).and_then(|p| bundle.file(&p));
        if let Some(source) = source
            && source.kind == FileKind::Text
            && !source.too_large
        {
            let unexplained = pyc.unexplained_by(&String::from_utf8_lossy(&source.bytes));
            if !unexplained.is_other_program() {
                return;
            }
            self.observations.push(Observation {
                path: file.path.clone(),
                kind: ObservationKind::BytecodeMismatch {
                    source: source.path.clone(),
                    unexplained,
                    recorded_size: pyc.source_size,
                    actual_size: source.size,
                },
            });
        }
        self.texts.push(Text {
            label: file.path.clone(),
            origin: Origin::BytecodeConstants {
                bytecode: file.path.clone(),
            },
            form: Form::Constants,
            body: Cow::Owned(pyc.constants_text()),
        });
    }
}

/// The source a bytecode file names: `pkg/__pycache__/mod.cpython-312.pyc` and `pkg/mod.pyc`
/// both name `pkg/mod.py`.
pub fn source_of(pyc: &str) -> Option<String> {
    let (dir, name) = pyc.rsplit_once('/').unwrap_or(("", pyc));
    let stem = name.split('.').next().filter(|s| !s.is_empty())?;
    let dir = dir
        .strip_suffix("__pycache__")
        .map(|d| d.trim_end_matches('/'))
        .unwrap_or(dir);
    Some(if dir.is_empty() {
        format!("{stem}.py")
    } else {
        format!("{dir}/{stem}.py")
    })
}

/// The innermost archive a member path lies in, and its name inside it.
fn container_of(path: &str) -> Option<(&str, &str)> {
    path.rsplit_once("!/")
}

/// The containers among a bundle's archives that are documents.
fn documents(bundle: &Bundle) -> BTreeMap<&str, DocumentKind> {
    let mut members: BTreeMap<&str, Vec<(&str, &BundleFile)>> = BTreeMap::new();
    for file in &bundle.files {
        if let Some((container, member)) = container_of(&file.path) {
            members.entry(container).or_default().push((member, file));
        }
    }
    members
        .into_iter()
        .filter_map(|(container, files)| {
            let names: Vec<&str> = files.iter().map(|(n, _)| *n).collect();
            let kind = DocumentKind::recognise(&names, |name| {
                files
                    .iter()
                    .find(|(n, _)| *n == name)
                    .map(|(_, f)| f.bytes.as_slice())
            })?;
            Some((container, kind))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytecode_names_its_source() {
        assert_eq!(
            source_of("scripts/__pycache__/run.cpython-312.pyc").as_deref(),
            Some("scripts/run.py")
        );
        assert_eq!(source_of("run.pyc").as_deref(), Some("run.py"));
        assert_eq!(
            source_of("__pycache__/run.cpython-311.opt-1.pyc").as_deref(),
            Some("run.py")
        );
    }
}
