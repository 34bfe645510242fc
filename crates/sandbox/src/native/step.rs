//! Running one step: the payload process, its last layers of confinement, its supervisor.
//!
//! Inside `pre_exec` (after fork, before exec) only async-signal-safe calls are made, on data
//! prepared before the fork: setsid, a nested user namespace (the payload becomes uid 1000 with
//! no capabilities over the sandbox's namespaces), rlimits, no_new_privs, Landlock, and last the
//! seccomp filter, whose listener fd is handed to the supervisor through a pipe and then closed
//! in the payload so it cannot answer its own notifications.

use super::seccomp::Supervisor;
use crate::evidence::StepOutcome;
use crate::plan::Step;
use crate::profile::Limits;
use crate::recorder::output_text;
use std::io::{self, Read};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread;
use std::time::{Duration, Instant};

const SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV: libc::c_ulong = 1 << 5;
const CLOSE_RANGE_CLOEXEC: libc::c_uint = 1 << 2;

/// Everything the payload's confinement needs, built before the fork.
pub struct Confinement {
    pub landlock: OwnedFd,
    pub filter: Vec<libc::sock_filter>,
    pub env: Vec<(String, String)>,
    pub cwd: String,
    /// `skillgate run`: the command is the user's, not an experiment. It is never stopped for
    /// going quiet (it may wait on a slow API), and its output is kept as raw bytes to pass
    /// through unchanged.
    pub runtime: bool,
}

fn pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0 as RawFd; 2];
    // SAFETY: fds is a valid array of two ints.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: both fds are fresh and owned here.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// Writes `data` to the NUL-terminated `path`; async-signal-safe.
///
/// # Safety
/// `path` must end with a NUL byte.
unsafe fn write_file(path: &[u8], data: &[u8]) -> io::Result<()> {
    // SAFETY: path is NUL-terminated (caller contract); data is a valid buffer.
    unsafe {
        let fd = libc::open(path.as_ptr().cast(), libc::O_WRONLY | libc::O_CLOEXEC);
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        let n = libc::write(fd, data.as_ptr().cast(), data.len());
        libc::close(fd);
        if n != data.len() as isize {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

/// Runs one step to its end (or its deadline), kills whatever it left running, and returns the
/// outcome. Events go to the supervisor's recorder as they happen.
pub fn run(
    step: &Step,
    confinement: &Confinement,
    limits: &Limits,
    deadline: Instant,
    supervisor: Arc<Supervisor>,
) -> (StepOutcome, Vec<String>) {
    let started = Instant::now();
    let mut outcome = StepOutcome::new(step.label.clone(), step.argv.clone());
    let mut lingering = Vec::new();
    if let Err(e) = run_inner(
        step,
        confinement,
        limits,
        deadline,
        supervisor,
        &mut outcome,
        &mut lingering,
    ) {
        outcome.error = Some(e.to_string());
    }
    outcome.duration_ms = started.elapsed().as_millis() as u64;
    (outcome, lingering)
}

fn run_inner(
    step: &Step,
    confinement: &Confinement,
    limits: &Limits,
    deadline: Instant,
    supervisor: Arc<Supervisor>,
    outcome: &mut StepOutcome,
    lingering: &mut Vec<String>,
) -> io::Result<()> {
    let (ready_r, ready_w) = pipe()?;
    let (ack_r, ack_w) = pipe()?;
    let stop = Arc::new(AtomicBool::new(false));
    let recorder = supervisor.recorder.clone();

    let supervisor_thread = {
        let stop = stop.clone();
        thread::spawn(move || -> Option<u64> {
            let mut msg = [0u8; 16];
            let mut ready = std::fs::File::from(ready_r);
            ready.read_exact(&mut msg).ok()?;
            let pid = i32::from_ne_bytes(msg[0..4].try_into().ok()?);
            let child_fd = i32::from_ne_bytes(msg[4..8].try_into().ok()?);
            let userns = u64::from_ne_bytes(msg[8..16].try_into().ok()?);
            // SAFETY: plain syscalls; the returned fds are owned below.
            let listener = unsafe {
                let pidfd = libc::syscall(libc::SYS_pidfd_open, pid, 0) as RawFd;
                if pidfd < 0 {
                    return Some(userns);
                }
                let pidfd = OwnedFd::from_raw_fd(pidfd);
                let fd =
                    libc::syscall(libc::SYS_pidfd_getfd, pidfd.as_raw_fd(), child_fd, 0) as RawFd;
                if fd < 0 {
                    return Some(userns);
                }
                OwnedFd::from_raw_fd(fd)
            };
            // SAFETY: writing one byte from a valid buffer.
            unsafe { libc::write(ack_w.as_raw_fd(), [1u8].as_ptr().cast(), 1) };
            drop(ack_w);
            supervisor.run(listener, &stop);
            Some(userns)
        })
    };

    let mut command = Command::new(&step.argv[0]);
    command
        .args(&step.argv[1..])
        .env_clear()
        .envs(confinement.env.iter().map(|(k, v)| (k, v)))
        .current_dir(&confinement.cwd)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());

    let landlock = confinement.landlock.as_raw_fd();
    let ready_w_raw = ready_w.as_raw_fd();
    let ack_r_raw = ack_r.as_raw_fd();
    let filter_ptr = confinement.filter.as_ptr() as usize;
    let filter_len = confinement.filter.len() as u16;
    let rlimits: [(libc::__rlimit_resource_t, u64); 4] = [
        (libc::RLIMIT_AS, limits.memory_mb << 20),
        (libc::RLIMIT_NPROC, limits.max_processes),
        (libc::RLIMIT_FSIZE, limits.max_file_mb << 20),
        (libc::RLIMIT_CORE, 0),
    ];
    // SAFETY: the closure only makes async-signal-safe syscalls on data captured by value or
    // kept alive by this function (the filter, the fds) until spawn returns.
    unsafe {
        command.pre_exec(move || {
            libc::syscall(libc::SYS_close_range, 3u32, u32::MAX, CLOSE_RANGE_CLOEXEC);
            if libc::setsid() < 0 {
                return Err(io::Error::last_os_error());
            }
            if libc::unshare(libc::CLONE_NEWUSER) != 0 {
                return Err(io::Error::last_os_error());
            }
            write_file(b"/proc/self/setgroups\0", b"deny")?;
            write_file(b"/proc/self/uid_map\0", b"1000 0 1")?;
            write_file(b"/proc/self/gid_map\0", b"1000 0 1")?;
            let mut st: libc::stat = std::mem::zeroed();
            if libc::stat(c"/proc/self/ns/user".as_ptr(), &mut st) != 0 {
                return Err(io::Error::last_os_error());
            }
            for (resource, value) in rlimits {
                let limit = libc::rlimit {
                    rlim_cur: value,
                    rlim_max: value,
                };
                if libc::setrlimit(resource, &limit) != 0 {
                    return Err(io::Error::last_os_error());
                }
            }
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0);
            if libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 {
                return Err(io::Error::last_os_error());
            }
            if libc::syscall(libc::SYS_landlock_restrict_self, landlock, 0) != 0 {
                return Err(io::Error::last_os_error());
            }
            let program = libc::sock_fprog {
                len: filter_len,
                filter: filter_ptr as *mut libc::sock_filter,
            };
            let mut listener = libc::syscall(
                libc::SYS_seccomp,
                libc::SECCOMP_SET_MODE_FILTER,
                libc::SECCOMP_FILTER_FLAG_NEW_LISTENER | SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV,
                &program as *const libc::sock_fprog,
            );
            if listener < 0 {
                // Kernels before 5.19 lack WAIT_KILLABLE_RECV.
                listener = libc::syscall(
                    libc::SYS_seccomp,
                    libc::SECCOMP_SET_MODE_FILTER,
                    libc::SECCOMP_FILTER_FLAG_NEW_LISTENER,
                    &program as *const libc::sock_fprog,
                );
            }
            if listener < 0 {
                return Err(io::Error::last_os_error());
            }
            let mut msg = [0u8; 16];
            msg[0..4].copy_from_slice(&libc::getpid().to_ne_bytes());
            msg[4..8].copy_from_slice(&(listener as i32).to_ne_bytes());
            msg[8..16].copy_from_slice(&st.st_ino.to_ne_bytes());
            libc::write(ready_w_raw, msg.as_ptr().cast(), msg.len());
            let mut ack = [0u8; 1];
            libc::read(ack_r_raw, ack.as_mut_ptr().cast(), 1);
            libc::close(listener as i32);
            Ok(())
        });
    }

    let spawned = command.spawn();
    drop(ready_w);
    drop(ack_r);
    let mut child = match spawned {
        Ok(child) => child,
        Err(e) => {
            stop.store(true, Ordering::SeqCst);
            let _ = supervisor_thread.join();
            return Err(e);
        }
    };
    let cap = limits.output_bytes;
    let printed = Arc::new(AtomicU64::new(0));
    let stdout = child
        .stdout
        .take()
        .map(|s| read_capped(s, cap, printed.clone()));
    let stderr = child
        .stderr
        .take()
        .map(|s| read_capped(s, cap, printed.clone()));

    let started = Instant::now();
    let mut activity = (0, 0);
    let mut last_activity = started;
    let mut last_look = started;
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        let now = Instant::now();
        let mut stop_now = now >= deadline;
        if !stop_now && !confinement.runtime && now.duration_since(last_look) >= QUIET_LOOK {
            last_look = now;
            let seen = (printed.load(Ordering::Relaxed), recorder.activity());
            if seen != activity {
                activity = seen;
                last_activity = now;
            } else if now.duration_since(last_activity) >= QUIET
                && namespace_of(child.id()).is_some_and(waiting_on_others_only)
            {
                outcome.went_quiet = true;
                stop_now = true;
            }
        }
        if stop_now {
            outcome.timed_out = true;
            // Kill the whole tree: the main process and everything it started.
            if let Some(ns) = namespace_of(child.id()) {
                kill_namespace(ns);
            }
            let _ = child.kill();
            break child.wait()?;
        }
        thread::sleep(Duration::from_millis(5));
    };
    outcome.exit_code = status.code();
    outcome.signal = status.signal();

    stop.store(true, Ordering::SeqCst);
    let userns = supervisor_thread.join().ok().flatten();
    if let Some(ns) = userns {
        *lingering = kill_namespace(ns);
    }
    let (out, out_bytes): (Vec<u8>, u64) = stdout
        .map(|h| h.join().unwrap_or_default())
        .unwrap_or_default();
    let (err, err_bytes): (Vec<u8>, u64) = stderr
        .map(|h| h.join().unwrap_or_default())
        .unwrap_or_default();
    (outcome.stdout, outcome.stdout_bytes) = (output_text(&out), out_bytes);
    (outcome.stderr, outcome.stderr_bytes) = (output_text(&err), err_bytes);
    if confinement.runtime {
        use base64::Engine as _;
        let b64 = base64::engine::general_purpose::STANDARD;
        outcome.raw = Some(crate::evidence::RawOutput {
            stdout: b64.encode(&out),
            stderr: b64.encode(&err),
        });
    }
    Ok(())
}

/// Reads a pipe to its end, keeping the first `cap` bytes and counting the rest: a
/// step that prints gigabytes is drained (so it is not blocked) but costs `cap` of memory.
fn read_capped(
    mut from: impl Read + Send + 'static,
    cap: usize,
    printed: Arc<AtomicU64>,
) -> thread::JoinHandle<(Vec<u8>, u64)> {
    thread::spawn(move || {
        let mut kept = Vec::new();
        let mut total = 0u64;
        let mut buf = [0u8; 8192];
        while let Ok(n) = from.read(&mut buf) {
            if n == 0 {
                break;
            }
            total += n as u64;
            printed.fetch_add(n as u64, Ordering::Relaxed);
            let room = cap.saturating_sub(kept.len());
            kept.extend_from_slice(&buf[..n.min(room)]);
        }
        (kept, total)
    })
}

/// How long a step may print nothing and cause no event while every process in it waits, with
/// no deadline, on something outside it (a connection, input, a child) before it is stopped:
/// such a step is a server or a prompt, and would otherwise sit until the time limit.
const QUIET: Duration = Duration::from_millis(2000);
/// How often the runner looks for quiet.
const QUIET_LOOK: Duration = Duration::from_millis(100);

/// Whether every thread of every process in user namespace `ns` is blocked, without a timeout,
/// in a call that only another party can end: a read, an accept, a poll or wait with no
/// deadline. A thread that sleeps or waits with a deadline is waiting on time, and a payload
/// on a timer is exactly what must run to its limit; a running thread, or one we cannot read,
/// counts as busy.
fn waiting_on_others_only(ns: u64) -> bool {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return false;
    };
    let mut threads = 0;
    for entry in entries.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        if namespace_of(pid) != Some(ns) {
            continue;
        }
        let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
            return false;
        };
        for task in tasks.flatten() {
            let Ok(line) = std::fs::read_to_string(task.path().join("syscall")) else {
                return false;
            };
            if !blocked_without_deadline(&line) {
                return false;
            }
            threads += 1;
        }
    }
    threads > 0
}

/// Reads one `/proc/PID/task/TID/syscall` line: `NR ARG1 … ARG6 SP PC` while in a call.
fn blocked_without_deadline(line: &str) -> bool {
    let mut fields = line.split_whitespace();
    let Some(nr) = fields.next().and_then(|f| f.parse::<i64>().ok()) else {
        return false; // "running", or not in a call
    };
    let args: Vec<u64> = fields
        .take(6)
        .filter_map(|f| u64::from_str_radix(f.trim_start_matches("0x"), 16).ok())
        .collect();
    if args.len() < 6 {
        return false;
    }
    let infinite_ms = |a: u64| a as u32 as i32 == -1;
    match nr {
        libc::SYS_read
        | libc::SYS_readv
        | libc::SYS_recvfrom
        | libc::SYS_recvmsg
        | libc::SYS_accept
        | libc::SYS_accept4
        | libc::SYS_wait4
        | libc::SYS_waitid
        | libc::SYS_pause
        | libc::SYS_rt_sigsuspend => true,
        libc::SYS_poll => infinite_ms(args[2]),
        libc::SYS_epoll_wait | libc::SYS_epoll_pwait => infinite_ms(args[3]),
        libc::SYS_ppoll | libc::SYS_epoll_pwait2 => {
            args[if nr == libc::SYS_ppoll { 2 } else { 3 }] == 0
        }
        libc::SYS_select | libc::SYS_pselect6 => args[4] == 0,
        libc::SYS_futex => {
            let op = args[1] & 0x7f; // without FUTEX_PRIVATE_FLAG and FUTEX_CLOCK_REALTIME
            (op == libc::FUTEX_WAIT as u64 || op == libc::FUTEX_WAIT_BITSET as u64) && args[3] == 0
        }
        _ => false,
    }
}

fn namespace_of(pid: u32) -> Option<u64> {
    std::fs::metadata(format!("/proc/{pid}/ns/user"))
        .ok()
        .map(|m| std::os::unix::fs::MetadataExt::ino(&m))
}

/// Kills every process in the user namespace `ns` until none is left; returns their commands.
pub fn kill_namespace(ns: u64) -> Vec<String> {
    let mut killed = Vec::new();
    for _ in 0..200 {
        let mut found = 0;
        let Ok(entries) = std::fs::read_dir("/proc") else {
            break;
        };
        for entry in entries.flatten() {
            let Some(pid) = entry
                .file_name()
                .to_str()
                .and_then(|s| s.parse::<i32>().ok())
            else {
                continue;
            };
            if namespace_of(pid as u32) != Some(ns) {
                continue;
            }
            found += 1;
            if killed.len() < 64 {
                let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
                killed.push(
                    String::from_utf8_lossy(&cmdline)
                        .replace('\0', " ")
                        .trim()
                        .to_string(),
                );
            }
            // SAFETY: kill takes plain integers.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
        if found == 0 {
            break;
        }
        thread::sleep(Duration::from_millis(5));
    }
    killed.sort();
    killed.dedup();
    killed
}
