//! The host side of a WASI run: the preview-1 imports the guest calls, with logging.
//!
//! wasmtime-wasi implements preview 1; this module shadows the calls that touch files or
//! sockets. Each wrapper reads the arguments out of guest memory, calls wasmtime-wasi's own
//! implementation (wiggle's generated ABI function, with the guest memory from *our* caller —
//! calling the original `Func` from inside a host function has no calling instance and fails),
//! and records what happened. Writes to the audit descriptor never reach a file: the host
//! reads each JSON line as it is written, so the script cannot hide events by truncating
//! anything afterwards.

use crate::evidence::{EventKind, Source};
use crate::recorder::{Recorder, sample};
use base64::Engine as _;
use std::collections::HashMap;
use std::sync::Arc;
use wasmtime::{Caller, Extern, Linker, StoreLimits};
use wasmtime_wasi::p1::WasiP1Ctx;
use wasmtime_wasi::p1::wasi_snapshot_preview1 as abi;

const MODULE: &str = "wasi_snapshot_preview1";
/// The guest directory whose one file receives the audit hook's lines.
pub const AUDIT_DIR: &str = "/.skillgate";
const AUDIT_FILE: &str = "audit";

// preview-1 constants.
const ERRNO_SUCCESS: i32 = 0;
const ERRNO_ACCES: i32 = 2;
const ERRNO_BADF: i32 = 8;
const ERRNO_FAULT: i32 = 21;
const RIGHT_FD_WRITE: i64 = 1 << 6;
const OFLAG_CREAT: i32 = 1;
const OFLAG_TRUNC: i32 = 8;
const FDFLAG_APPEND: i32 = 1;

/// Audit lines kept per step; the rest are counted.
const MAX_AUDIT_LINES: usize = 5_000;
/// A single audit line longer than this is cut before parsing.
const MAX_AUDIT_LINE: usize = 256 << 10;

pub struct Host {
    pub wasi: WasiP1Ctx,
    pub limits: StoreLimits,
    pub recorder: Arc<Recorder>,
    /// Guest path of each descriptor the host knows: preopens, then every successful open.
    pub fds: HashMap<i32, String>,
    /// (honeytoken id, guest path) of planted files.
    pub honeytokens: Vec<(String, String)>,
    audit_fd: Option<i32>,
    audit_lines: usize,
    audit_partial: Vec<u8>,
}

impl Host {
    pub fn new(
        wasi: WasiP1Ctx,
        limits: StoreLimits,
        recorder: Arc<Recorder>,
        preopens: &[&str],
        honeytokens: Vec<(String, String)>,
    ) -> Self {
        // Preopens are numbered from 3 in the order they were added.
        let fds = preopens
            .iter()
            .enumerate()
            .map(|(i, p)| (3 + i as i32, (*p).to_string()))
            .collect();
        Self {
            wasi,
            limits,
            recorder,
            fds,
            honeytokens,
            audit_fd: None,
            audit_lines: 0,
            audit_partial: Vec::new(),
        }
    }

    /// Audit lines beyond the per-step cap, and whether the audit log was ever opened.
    pub fn audit_summary(&self) -> (usize, bool) {
        (
            self.audit_lines.saturating_sub(MAX_AUDIT_LINES),
            self.audit_fd.is_some(),
        )
    }

    fn resolve(&self, dirfd: i32, path: &str) -> String {
        let base = self
            .fds
            .get(&dirfd)
            .cloned()
            .unwrap_or_else(|| format!("<fd {dirfd}>"));
        normalise(&format!("{base}/{path}"))
    }

    fn record(&self, kind: EventKind, scan: &[(&[u8], &'static str)]) {
        self.recorder.record(Source::Wasi, None, kind, scan);
    }

    fn audit_bytes(&mut self, data: &[u8]) {
        self.audit_partial.extend_from_slice(data);
        while let Some(end) = self.audit_partial.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = self.audit_partial.drain(..=end).collect();
            self.audit_lines += 1;
            if self.audit_lines > MAX_AUDIT_LINES {
                continue;
            }
            self.audit_line(&line[..line.len().min(MAX_AUDIT_LINE)]);
        }
        if self.audit_partial.len() > MAX_AUDIT_LINE {
            self.audit_partial.clear();
        }
    }

    fn audit_line(&self, line: &[u8]) {
        let Ok(value) = serde_json::from_slice::<serde_json::Value>(line) else {
            self.recorder.record(
                Source::Audit,
                None,
                EventKind::Tamper {
                    what: format!("unreadable audit line: {}", sample(line, 200)),
                },
                &[(line, "intent")],
            );
            return;
        };
        let event = value["e"].as_str().unwrap_or("?").to_string();
        let args = &value["a"];
        // Canaries are searched in every string and every decoded byte string, whole.
        let mut blobs = Vec::new();
        collect_blobs(args, &mut blobs, 0);
        let scan: Vec<(&[u8], &'static str)> =
            blobs.iter().map(|b| (b.as_slice(), "intent")).collect();
        // Code compiled and command lines run are read by G1 whole (the prelude caps each
        // string); everything else is shown cut.
        let shown = if matches!(
            event.as_str(),
            "compile" | "os.system" | "subprocess.Popen" | "marshal.loads"
        ) {
            program_args(args)
        } else {
            display_args(args)
        };
        self.recorder.record(
            Source::Audit,
            None,
            EventKind::Audit { event, args: shown },
            &scan,
        );
    }
}

/// Every string in an audit argument tree, with `{"b64": …}` byte strings decoded.
fn collect_blobs(value: &serde_json::Value, out: &mut Vec<Vec<u8>>, depth: usize) {
    use serde_json::Value;
    if depth > 8 {
        return;
    }
    match value {
        Value::String(s) => out.push(s.as_bytes().to_vec()),
        Value::Array(items) => items.iter().for_each(|v| collect_blobs(v, out, depth + 1)),
        Value::Object(map) => {
            if let Some(Value::String(b64)) = map.get("b64")
                && let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(b64)
            {
                out.push(bytes);
                return;
            }
            for (k, v) in map {
                out.push(k.as_bytes().to_vec());
                collect_blobs(v, out, depth + 1);
            }
        }
        _ => {}
    }
}

/// The arguments as compact JSON, byte strings shown decoded where printable, cut to 4 KiB.
/// Audit arguments that carry a program (source compiled, a command line) as JSON, byte
/// strings decoded as text, nothing cut beyond the prelude's own cap.
pub fn program_args(value: &serde_json::Value) -> String {
    fn text(value: &serde_json::Value) -> serde_json::Value {
        use serde_json::Value;
        match value {
            Value::Object(map) => {
                if let Some(Value::String(b64)) = map.get("b64")
                    && let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(b64)
                {
                    return Value::String(crate::recorder::output_text(&bytes));
                }
                Value::Object(map.iter().map(|(k, v)| (k.clone(), text(v))).collect())
            }
            Value::Array(items) => Value::Array(items.iter().map(text).collect()),
            other => other.clone(),
        }
    }
    text(value).to_string()
}

pub fn display_args(value: &serde_json::Value) -> String {
    fn readable(value: &serde_json::Value) -> serde_json::Value {
        use serde_json::Value;
        match value {
            Value::Object(map) => {
                if let Some(Value::String(b64)) = map.get("b64")
                    && let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(b64)
                {
                    return Value::String(format!("b'{}'", sample(&bytes, 2048)));
                }
                Value::Object(map.iter().map(|(k, v)| (k.clone(), readable(v))).collect())
            }
            Value::Array(items) => Value::Array(items.iter().map(readable).collect()),
            other => other.clone(),
        }
    }
    skillgate_model::finding::clip(&readable(value).to_string(), 4096)
}

/// `a/./b/../c` → `a/c`, without touching the file system.
fn normalise(path: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            p => parts.push(p),
        }
    }
    format!("/{}", parts.join("/"))
}

fn guest_bytes(caller: &mut Caller<'_, Host>, ptr: i32, len: i32) -> Option<Vec<u8>> {
    let Some(Extern::Memory(memory)) = caller.get_export("memory") else {
        return None;
    };
    let data = memory.data(&caller);
    let start = ptr as u32 as usize;
    let end = start.checked_add(len as u32 as usize)?;
    data.get(start..end).map(<[u8]>::to_vec)
}

fn guest_string(caller: &mut Caller<'_, Host>, ptr: i32, len: i32) -> Option<String> {
    // Paths are short; a guest passing a huge length is cut rather than copied.
    guest_bytes(caller, ptr, len.clamp(0, 4096)).map(|b| String::from_utf8_lossy(&b).into_owned())
}

fn guest_u32(caller: &mut Caller<'_, Host>, ptr: i32) -> Option<u32> {
    guest_bytes(caller, ptr, 4).map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
}

/// The bytes an iovec array points at, up to `max`.
fn gather(caller: &mut Caller<'_, Host>, iovs: i32, count: i32, max: usize) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    for i in 0..count.clamp(0, 1024) {
        let entry = iovs.checked_add(i * 8)?;
        let base = guest_u32(caller, entry)? as i32;
        let len = guest_u32(caller, entry + 4)? as usize;
        let take = len.min(max.saturating_sub(out.len()));
        out.extend(guest_bytes(caller, base, take as i32)?);
        if out.len() >= max {
            break;
        }
    }
    Some(out)
}

/// Runs wasmtime-wasi's implementation of a call with the guest's memory.
macro_rules! delegate {
    ($caller:ident, |$memory:ident, $ctx:ident| $call:expr) => {{
        let Some(Extern::Memory(memory)) = $caller.get_export("memory") else {
            return Ok(ERRNO_BADF);
        };
        let (data, host) = memory.data_and_store_mut(&mut $caller);
        let mut $memory = wiggle::GuestMemory::Unshared(data);
        let $ctx = &mut host.wasi;
        $call
    }};
}

/// The preview-1 imports this module replaces with logging versions.
pub const SHADOWED: &[&str] = &[
    "path_open",
    "fd_write",
    "fd_close",
    "path_unlink_file",
    "path_remove_directory",
    "path_rename",
    "sock_send",
];

/// Checks that every shadowed import is still imported by `module` with exactly the type our
/// wrapper has: the guard against wasmtime-wasi or the interpreter moving under the pins.
pub fn verify_abi(engine: &wasmtime::Engine, module: &wasmtime::Module) -> Result<(), String> {
    let mut linker: Linker<Host> = Linker::new(engine);
    link(&mut linker).map_err(|e| format!("{e:#}"))?;
    let recorder = Arc::new(Recorder::new(
        std::time::Instant::now(),
        crate::canary::Matcher::new(&[]),
    ));
    let host = Host::new(
        wasmtime_wasi::WasiCtxBuilder::new().build_p1(),
        StoreLimits::default(),
        recorder,
        &[],
        Vec::new(),
    );
    let mut store = wasmtime::Store::new(engine, host);
    let signature = |ty: &wasmtime::FuncType| {
        let params: Vec<String> = ty.params().map(|t| t.to_string()).collect();
        let results: Vec<String> = ty.results().map(|t| t.to_string()).collect();
        format!("({}) -> ({})", params.join(", "), results.join(", "))
    };
    for name in SHADOWED {
        let import = module
            .imports()
            .find(|i| i.module() == MODULE && i.name() == *name)
            .ok_or_else(|| format!("the interpreter no longer imports {MODULE}::{name}"))?;
        let wasmtime::ExternType::Func(wanted) = import.ty() else {
            return Err(format!("{MODULE}::{name} is not a function import"));
        };
        let Ok(Extern::Func(ours)) = linker.get(&mut store, MODULE, name) else {
            return Err(format!("no host function for {MODULE}::{name}"));
        };
        let (wanted, ours) = (signature(&wanted), signature(&ours.ty(&store)));
        if wanted != ours {
            return Err(format!(
                "{MODULE}::{name}: the interpreter imports {wanted}, the wrapper is {ours}"
            ));
        }
    }
    Ok(())
}

/// Adds wasmtime-wasi's preview 1 to `linker`, then shadows the calls that are logged.
pub fn link(linker: &mut Linker<Host>) -> wasmtime::Result<()> {
    use wasmtime_wasi::runtime::in_tokio;
    wasmtime_wasi::p1::add_to_linker_sync(linker, |h: &mut Host| &mut h.wasi)?;
    linker.allow_shadowing(true);

    linker.func_wrap(
        MODULE,
        "path_open",
        |mut c: Caller<'_, Host>,
         fd: i32,
         dirflags: i32,
         path_ptr: i32,
         path_len: i32,
         oflags: i32,
         rights_base: i64,
         rights_inheriting: i64,
         fdflags: i32,
         opened: i32|
         -> wasmtime::Result<i32> {
            let Some(rel) = guest_string(&mut c, path_ptr, path_len) else {
                return Ok(ERRNO_FAULT);
            };
            let path = c.data().resolve(fd, &rel);
            let in_audit_dir = path.starts_with(&format!("{AUDIT_DIR}/")) || path == AUDIT_DIR;
            if in_audit_dir {
                // One open, by the prelude; any other is the script reaching for the log.
                let first =
                    c.data().audit_fd.is_none() && path == format!("{AUDIT_DIR}/{AUDIT_FILE}");
                if !first {
                    c.data().record(
                        EventKind::Tamper {
                            what: format!("open of the audit log directory: {path}"),
                        },
                        &[],
                    );
                    return Ok(ERRNO_ACCES);
                }
            }
            let errno = delegate!(c, |memory, ctx| in_tokio(abi::path_open(
                ctx,
                &mut memory,
                fd,
                dirflags,
                path_ptr,
                path_len,
                oflags,
                rights_base,
                rights_inheriting,
                fdflags,
                opened,
            )))?;
            let new_fd = (errno == ERRNO_SUCCESS)
                .then(|| guest_u32(&mut c, opened))
                .flatten()
                .map(|fd| fd as i32);
            if in_audit_dir {
                c.data_mut().audit_fd = new_fd;
                return Ok(errno);
            }
            if let Some(new_fd) = new_fd {
                c.data_mut().fds.insert(new_fd, path.clone());
            }
            let write = rights_base & RIGHT_FD_WRITE != 0
                || oflags & (OFLAG_CREAT | OFLAG_TRUNC) != 0
                || fdflags & FDFLAG_APPEND != 0;
            let host = c.data();
            if let Some((id, _)) = host.honeytokens.iter().find(|(_, p)| *p == path) {
                host.record(
                    EventKind::HoneytokenOpened {
                        honeytoken: id.clone(),
                        path: path.clone(),
                    },
                    &[],
                );
            }
            host.record(
                EventKind::FileOpen {
                    path,
                    write,
                    create: oflags & OFLAG_CREAT != 0,
                },
                &[],
            );
            Ok(errno)
        },
    )?;

    linker.func_wrap(
        MODULE,
        "fd_write",
        |mut c: Caller<'_, Host>,
         fd: i32,
         iovs: i32,
         count: i32,
         written: i32|
         -> wasmtime::Result<i32> {
            if c.data().audit_fd == Some(fd) {
                let Some(data) = gather(&mut c, iovs, count, 1 << 20) else {
                    return Ok(ERRNO_FAULT);
                };
                c.data_mut().audit_bytes(&data);
                let Some(Extern::Memory(memory)) = c.get_export("memory") else {
                    return Ok(ERRNO_BADF);
                };
                let at = written as u32 as usize;
                let len = (data.len() as u32).to_le_bytes();
                return Ok(match memory.data_mut(&mut c).get_mut(at..at + 4) {
                    Some(slot) => {
                        slot.copy_from_slice(&len);
                        ERRNO_SUCCESS
                    }
                    None => ERRNO_FAULT,
                });
            }
            delegate!(c, |memory, ctx| in_tokio(abi::fd_write(
                ctx,
                &mut memory,
                fd,
                iovs,
                count,
                written
            )))
        },
    )?;

    linker.func_wrap(
        MODULE,
        "fd_close",
        |mut c: Caller<'_, Host>, fd: i32| -> wasmtime::Result<i32> {
            if c.data().audit_fd == Some(fd) {
                c.data().record(
                    EventKind::Tamper {
                        what: "the script closed the audit log".into(),
                    },
                    &[],
                );
            }
            c.data_mut().fds.remove(&fd);
            delegate!(c, |memory, ctx| in_tokio(abi::fd_close(
                ctx,
                &mut memory,
                fd
            )))
        },
    )?;

    // Removing a file and removing a directory are logged alike: something was deleted.
    macro_rules! removal {
        ($name:literal, $call:path) => {
            linker.func_wrap(
                MODULE,
                $name,
                |mut c: Caller<'_, Host>, fd: i32, ptr: i32, len: i32| -> wasmtime::Result<i32> {
                    let rel = guest_string(&mut c, ptr, len).unwrap_or_default();
                    let path = c.data().resolve(fd, &rel);
                    c.data().record(EventKind::FileUnlink { path }, &[]);
                    delegate!(c, |memory, ctx| in_tokio($call(
                        ctx,
                        &mut memory,
                        fd,
                        ptr,
                        len
                    )))
                },
            )?;
        };
    }
    removal!("path_unlink_file", abi::path_unlink_file);
    removal!("path_remove_directory", abi::path_remove_directory);

    linker.func_wrap(
        MODULE,
        "path_rename",
        |mut c: Caller<'_, Host>,
         fd: i32,
         old_ptr: i32,
         old_len: i32,
         new_fd: i32,
         new_ptr: i32,
         new_len: i32|
         -> wasmtime::Result<i32> {
            let old = guest_string(&mut c, old_ptr, old_len).unwrap_or_default();
            let new = guest_string(&mut c, new_ptr, new_len).unwrap_or_default();
            let (from, to) = (c.data().resolve(fd, &old), c.data().resolve(new_fd, &new));
            c.data().record(EventKind::FileRename { from, to }, &[]);
            delegate!(c, |memory, ctx| in_tokio(abi::path_rename(
                ctx,
                &mut memory,
                fd,
                old_ptr,
                old_len,
                new_fd,
                new_ptr,
                new_len
            )))
        },
    )?;

    // No socket is ever preopened, so these can only fail; a guest trying them is noted.
    linker.func_wrap(
        MODULE,
        "sock_send",
        |mut c: Caller<'_, Host>,
         fd: i32,
         iovs: i32,
         count: i32,
         flags: i32,
         sent: i32|
         -> wasmtime::Result<i32> {
            let data = gather(&mut c, iovs, count, 64 << 10).unwrap_or_default();
            c.data().record(
                EventKind::Send {
                    dst: None,
                    bytes: data.len(),
                    sample: sample(&data, 512),
                },
                &[(&data, "payload")],
            );
            delegate!(c, |memory, ctx| abi::sock_send(
                ctx,
                &mut memory,
                fd,
                iovs,
                count,
                flags,
                sent
            ))
        },
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_normalised_without_the_file_system() {
        assert_eq!(
            normalise("/home/user/./.ssh/../.ssh/id_rsa"),
            "/home/user/.ssh/id_rsa"
        );
        assert_eq!(normalise("/skill/../../etc/passwd"), "/etc/passwd");
        assert_eq!(normalise("/tmp//x"), "/tmp/x");
    }

    #[test]
    fn audit_arguments_decode_byte_strings_for_matching_and_display() {
        let value = serde_json::json!(["https://x.example/u", {"b64": "c2VjcmV0"}, {"k": "v"}]);
        let mut blobs = Vec::new();
        collect_blobs(&value, &mut blobs, 0);
        assert!(blobs.contains(&b"secret".to_vec()));
        assert!(blobs.contains(&b"https://x.example/u".to_vec()));
        assert_eq!(
            display_args(&value),
            r#"["https://x.example/u","b'secret'",{"k":"v"}]"#
        );
    }
}
