//! The timeline every observer writes to. Canary matching happens here, on the raw bytes, as
//! each event arrives: a compressed or binary payload cannot be matched after it was turned
//! into a printable sample.

use crate::canary::Matcher;
use crate::evidence::{CanaryHit, Event, EventKind, Source};
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
