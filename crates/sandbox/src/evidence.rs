//! What a sandbox run produced: the event timeline, each step's outcome, the isolation layers
//! that were active, and the canary hits. The runner writes it as JSON; the gate reads it.

use serde::{Deserialize, Serialize};

/// Where an event was seen. Syscall-log fields are claims the payload could race; sinks,
/// inotify and the scratch diff are ground truth.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    /// The runner itself (steps starting and ending, cleanup).
    Runner,
    /// seccomp user notification: the syscall and its arguments as the payload passed them.
    Seccomp,
    /// A capture server inside the sandbox's network namespace.
    Sink,
    /// The fake DNS server.
    Dns,
    /// inotify on a honeytoken file.
    Inotify,
    /// Files left in the writable directories after the run.
    Fsdiff,
    /// The WASI host: a preview-1 call the guest made, arguments read from its memory. Ground
    /// truth for files (the host performs the call).
    Wasi,
    /// The PEP 578 audit hook inside the interpreter: intent with its arguments (a URL, a
    /// request body, a command), including intents the sandbox cannot fulfil. A claim: code
    /// running in the same interpreter could tamper with it.
    Audit,
}

/// A network destination, as the payload addressed it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Destination {
    pub ip: String,
    pub port: u16,
    /// `tcp`, `udp` or `unix`.
    pub proto: String,
    /// The name the fake DNS handed this address out for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
}

impl std::fmt::Display for Destination {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.hostname {
            Some(h) => write!(f, "{h}:{} ({}/{})", self.port, self.ip, self.proto),
            None => write!(f, "{}:{} ({})", self.ip, self.port, self.proto),
        }
    }
}

/// Bytes of a written file's text kept for G1: a dropper's script is small; a file of
/// gigabytes is cut and the cut is said.
pub const WRITTEN_TEXT_BYTES: usize = 256 << 10;

/// What happened.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum EventKind {
    StepStarted {
        label: String,
        argv: Vec<String>,
    },
    StepEnded {
        label: String,
        exit_code: Option<i32>,
        signal: Option<i32>,
        timed_out: bool,
    },
    /// Processes still alive in the step's namespace after its main process ended.
    LingeringKilled {
        count: usize,
        commands: Vec<String>,
    },
    FileOpen {
        path: String,
        write: bool,
        create: bool,
    },
    FileUnlink {
        path: String,
    },
    FileRename {
        from: String,
        to: String,
    },
    Exec {
        path: String,
        argv: Vec<String>,
    },
    Connect {
        dst: Destination,
    },
    Bind {
        addr: String,
    },
    /// A send with an explicit or connected destination, sampled from the payload's memory.
    Send {
        dst: Option<Destination>,
        bytes: usize,
        sample: String,
    },
    DnsQuery {
        name: String,
        qtype: String,
        answer: Option<String>,
    },
    HttpRequest {
        dst: Destination,
        method: String,
        host: Option<String>,
        target: String,
        body: String,
        bytes: usize,
    },
    TlsClientHello {
        dst: Destination,
        sni: Option<String>,
    },
    RawPayload {
        dst: Destination,
        bytes: usize,
        sample: String,
    },
    HoneytokenOpened {
        honeytoken: String,
        path: String,
    },
    FileWritten {
        path: String,
        bytes: u64,
        sample: String,
        /// The file's text (lossy UTF-8, up to [`WRITTEN_TEXT_BYTES`]) for G1 to read: what a
        /// run writes is bundle content. Empty for binary files.
        #[serde(default, skip_serializing_if = "String::is_empty")]
        text: String,
    },
    /// An audit event raised inside the interpreter; `args` is JSON, long values cut.
    Audit {
        event: String,
        args: String,
    },
    /// Something the sandbox could not observe as it should have: the audit log closed by the
    /// script, a second attempt to open it.
    Tamper {
        what: String,
    },
}

/// A canary seen leaving.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CanaryHit {
    /// The honeytoken whose canary this is (`aws-credentials`, `env:GITHUB_TOKEN`, …).
    pub honeytoken: String,
    /// How it was encoded when found: `raw`, `lowercase`, `separators`, `url`, `base64`, `hex`, …
    pub transform: String,
    /// Where: `http-body`, `dns-name`, `tls-sni`, `argv`, `payload`, `file`.
    pub place: String,
}

/// One timeline entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// Milliseconds since the runner started.
    pub t_ms: u64,
    pub source: Source,
    /// Index of the step that was running.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pid: Option<i32>,
    #[serde(flatten)]
    pub kind: EventKind,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub canaries: Vec<CanaryHit>,
}

/// Which isolation layers were active, as the kernel reported them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Layers {
    pub kernel: String,
    pub user_namespace: bool,
    pub network_namespace: bool,
    pub mount_namespace: bool,
    pub pid_namespace: bool,
    /// The payload ran in a second user namespace as an unprivileged uid with no capabilities.
    pub nested_user_namespace: bool,
    pub no_new_privs: bool,
    /// Landlock ABI the kernel offers (0: none).
    pub landlock_abi: u32,
    pub landlock_enforced: bool,
    pub seccomp_notify: bool,
    /// Every address local, fake DNS answering.
    pub network_capture: bool,
    pub mptcp_disabled: bool,
    /// Real uid the sandbox ran under on the host.
    pub host_uid: u32,
}

impl Layers {
    /// The layers without which a clean result would mean nothing.
    pub fn missing(&self) -> Vec<&'static str> {
        let mut missing = Vec::new();
        for (on, name) in [
            (self.user_namespace, "user namespace"),
            (self.network_namespace, "network namespace"),
            (self.mount_namespace, "mount namespace"),
            (self.nested_user_namespace, "nested user namespace"),
            (self.no_new_privs, "no_new_privs"),
            (self.landlock_enforced, "Landlock"),
            (self.seccomp_notify, "seccomp user notification"),
            (self.network_capture, "network capture"),
        ] {
            if !on {
                missing.push(name);
            }
        }
        missing
    }
}

/// How one step ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepOutcome {
    pub label: String,
    pub argv: Vec<String>,
    pub exit_code: Option<i32>,
    pub signal: Option<i32>,
    pub timed_out: bool,
    /// Stopped before its time limit: it had printed nothing and caused no event for a while,
    /// with every process waiting, without a deadline, on something outside it (a server
    /// waiting for a connection, a prompt waiting for input). `timed_out` is set too.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub went_quiet: bool,
    pub duration_ms: u64,
    /// What the step printed, as text (lossy UTF-8), up to the profile's `output_bytes`.
    pub stdout: String,
    pub stderr: String,
    /// Bytes the step printed in all, kept or not: more than was kept means the output was
    /// cut at the profile's limit.
    #[serde(default)]
    pub stdout_bytes: u64,
    #[serde(default)]
    pub stderr_bytes: u64,
    /// Why the step could not start, when it could not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// At run time: the bytes printed (up to the limit), unaltered, base64.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub raw: Option<RawOutput>,
}

/// A step's output as printed, for `skillgate run` to pass through.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RawOutput {
    pub stdout: String,
    pub stderr: String,
}

/// Which runner produced evidence.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RunnerKind {
    /// Real interpreters and tools under namespaces, Landlock and seccomp.
    #[default]
    Native,
    /// CPython compiled to WebAssembly, in wasmtime: pure Python only.
    Wasi,
}

impl StepOutcome {
    /// Whether the step printed more than was kept.
    pub fn output_truncated(&self) -> bool {
        self.stdout_bytes > self.stdout.len() as u64 || self.stderr_bytes > self.stderr.len() as u64
    }

    /// A step about to run: nothing known yet but what it is.
    pub fn new(label: String, argv: Vec<String>) -> Self {
        Self {
            label,
            argv,
            exit_code: None,
            signal: None,
            timed_out: false,
            went_quiet: false,
            duration_ms: 0,
            stdout: String::new(),
            stderr: String::new(),
            stdout_bytes: 0,
            stderr_bytes: 0,
            error: None,
            raw: None,
        }
    }
}

/// Everything one run produced.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Evidence {
    #[serde(default)]
    pub runner: RunnerKind,
    /// The native runner's isolation layers (unused by the WASI runner).
    pub layers: Layers,
    pub steps: Vec<StepOutcome>,
    pub events: Vec<Event>,
    /// Honeytokens planted for this run (ids, not values).
    pub honeytokens: Vec<String>,
    /// Problems of the runner itself; any of them makes the gate inconclusive.
    pub errors: Vec<String>,
    /// What the run chose not to do, and why (for the gate's note; not a problem).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    pub duration_ms: u64,
}

impl Evidence {
    /// Appends another run's evidence (the WASI run after the native one): its steps follow
    /// ours and its events keep pointing at them.
    pub fn merge(&mut self, other: Evidence) {
        let offset = self.steps.len();
        self.steps.extend(other.steps);
        self.events.extend(other.events.into_iter().map(|mut e| {
            e.step = e.step.map(|s| s + offset);
            e
        }));
        for token in other.honeytokens {
            if !self.honeytokens.contains(&token) {
                self.honeytokens.push(token);
            }
        }
        self.errors.extend(other.errors);
        self.notes.extend(other.notes);
        self.duration_ms += other.duration_ms;
    }

    pub fn canary_hits(&self) -> impl Iterator<Item = (&Event, &CanaryHit)> {
        self.events
            .iter()
            .flat_map(|e| e.canaries.iter().map(move |c| (e, c)))
    }
}
