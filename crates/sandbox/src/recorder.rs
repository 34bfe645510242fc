//! The timeline every observer writes to. Canary matching happens here, on the raw bytes, as
//! each event arrives: a compressed or binary payload cannot be matched after it was turned
//! into a printable sample.

use crate::canary::Matcher;
use crate::evidence::{CanaryHit, Event, EventKind, Source};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

/// Events kept per run; a payload that floods the log cannot exhaust the runner.
const MAX_EVENTS: usize = 20_000;
pub const NO_STEP: usize = usize::MAX;

pub struct Recorder {
    start: Instant,
    events: Mutex<Vec<Event>>,
    dropped: AtomicUsize,
    step: AtomicUsize,
    matcher: Matcher,
}

impl Recorder {
    pub fn new(start: Instant, matcher: Matcher) -> Self {
        Self {
            start,
            events: Mutex::new(Vec::new()),
            dropped: AtomicUsize::new(0),
            step: AtomicUsize::new(NO_STEP),
            matcher,
        }
    }

    pub fn set_step(&self, step: usize) {
        self.step.store(step, Ordering::SeqCst);
    }

    /// Records an event; `scan` lists the raw bytes to search for canaries and where they are.
    pub fn record(
        &self,
        source: Source,
        pid: Option<i32>,
        kind: EventKind,
        scan: &[(&[u8], &'static str)],
    ) {
        let mut canaries = Vec::new();
        for (data, place) in scan {
            for m in self.matcher.find(data) {
                canaries.push(CanaryHit {
                    honeytoken: m.honeytoken,
                    transform: m.transform.to_string(),
                    place: (*place).to_string(),
                });
            }
        }
        let step = self.step.load(Ordering::SeqCst);
        let event = Event {
            t_ms: self.start.elapsed().as_millis() as u64,
            source,
            step: (step != NO_STEP).then_some(step),
            pid,
            kind,
            canaries,
        };
        let mut events = self.events.lock().unwrap_or_else(|p| p.into_inner());
        if events.len() < MAX_EVENTS || !event.canaries.is_empty() {
            events.push(event);
        } else {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Events recorded so far, kept or dropped: it grows while anything happens.
    pub fn activity(&self) -> u64 {
        let kept = self.events.lock().unwrap_or_else(|p| p.into_inner()).len();
        (kept + self.dropped.load(Ordering::Relaxed)) as u64
    }

    pub fn take(&self) -> (Vec<Event>, usize) {
        let mut events = self.events.lock().unwrap_or_else(|p| p.into_inner());
        let mut out = std::mem::take(&mut *events);
        out.sort_by_key(|e| e.t_ms);
        (out, self.dropped.load(Ordering::Relaxed))
    }
}

/// A printable sample of captured bytes: text as is, other bytes escaped, cut to `max`.
pub fn sample(data: &[u8], max: usize) -> String {
    let mut out = String::new();
    for &b in data.iter().take(max) {
        match b {
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b'\t' => out.push_str("\\t"),
            0x20..=0x7e => out.push(b as char),
            _ => out.push_str(&format!("\\x{b:02x}")),
        }
    }
    if data.len() > max {
        out.push('…');
    }
    out
}

/// Captured bytes as text for the rules to read: lossy UTF-8 with newlines and tabs kept and
/// every other control character (NUL, escape sequences, binary noise) made a space, so a
/// terminal escape cannot hide a line and noise cannot make a rule's line endless.
pub fn output_text(data: &[u8]) -> String {
    String::from_utf8_lossy(data)
        .chars()
        .map(|c| {
            if c.is_control() && c != '\n' && c != '\t' {
                ' '
            } else {
                c
            }
        })
        .collect()
}

/// Whether bytes read as text: valid UTF-8 (a cut at the end aside) with few control bytes.
pub fn looks_textual(data: &[u8]) -> bool {
    let head = &data[..data.len().min(8192)];
    let controls = head
        .iter()
        .filter(|&&b| b < 0x20 && !matches!(b, b'\n' | b'\r' | b'\t' | 0x0c | 0x1b))
        .count();
    let valid = match std::str::from_utf8(head) {
        Ok(_) => true,
        Err(e) => e.error_len().is_none(),
    };
    valid && controls * 100 <= head.len().max(1)
}

/// A writable directory whose files are reported after a run.
pub struct WrittenRoot {
    pub dir: PathBuf,
    /// How the payload saw `dir` (reports use the payload's paths).
    pub shown_as: String,
    /// The directory `dir` started as a copy of: files still equal to their original are
    /// not reported.
    pub original: Option<PathBuf>,
}

/// Records each new or changed file under `roots` as written (canaries searched in its
/// content); `unchanged` lists (shown path, content) pairs planted by the runner itself.
pub fn record_written_files(
    recorder: &Recorder,
    roots: &[WrittenRoot],
    unchanged: &[(String, Vec<u8>)],
) {
    let mut budget = 5_000usize;
    for root in roots {
        let mut stack = vec![root.dir.clone()];
        while let Some(dir) = stack.pop() {
            let Ok(entries) = std::fs::read_dir(&dir) else {
                continue;
            };
            for entry in entries.flatten() {
                if budget == 0 {
                    return;
                }
                budget -= 1;
                let path = entry.path();
                let Ok(kind) = entry.file_type() else {
                    continue;
                };
                if kind.is_dir() {
                    stack.push(path);
                    continue;
                }
                if !kind.is_file() {
                    continue;
                }
                let Ok(rel) = path.strip_prefix(&root.dir) else {
                    continue;
                };
                let mut content = Vec::new();
                let Ok(file) = std::fs::File::open(&path) else {
                    continue;
                };
                let size = file.metadata().map(|m| m.len()).unwrap_or(0);
                let _ = file.take(4 << 20).read_to_end(&mut content);
                let text = if looks_textual(&content) {
                    output_text(&content[..content.len().min(crate::evidence::WRITTEN_TEXT_BYTES)])
                } else {
                    String::new()
                };
                let shown = Path::new(&root.shown_as).join(rel).display().to_string();
                if let Some(original) = &root.original
                    && std::fs::read(original.join(rel)).is_ok_and(|o| o == content)
                {
                    continue;
                }
                if unchanged.iter().any(|(p, c)| *p == shown && *c == content) {
                    continue;
                }
                recorder.record(
                    Source::Fsdiff,
                    None,
                    EventKind::FileWritten {
                        path: shown,
                        bytes: size,
                        sample: sample(&content, 512),
                        text,
                    },
                    &[(&content, "file")],
                );
            }
        }
    }
}
