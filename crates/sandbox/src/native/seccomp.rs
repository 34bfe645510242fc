//! The payload's seccomp filter and the supervisor that logs what it notifies.
//!
//! The filter does two jobs. It refuses outright what no script needs and what would weaken the
//! other layers (new namespaces, mounts, ptrace, bpf, io_uring, MPTCP, Unix sockets to the
//! host, making memory unreadable). And it sends file opens, exec, connect/bind/send and
//! unlink/rename to the supervisor, which reads their arguments from the payload's memory, logs
//! them, and lets them continue. The supervisor never enforces: Landlock, the namespaces and the
//! fixed denies do, because a notified syscall's memory can change after it was read
//! (seccomp_unotify(2)).

use super::capture::Capture;
use crate::evidence::{Destination, EventKind, Source};
use crate::recorder::{Recorder, sample};
use std::fs::File;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::fs::FileExt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

const AUDIT_ARCH_X86_64: u32 = 0xC000_003E;
const X32_SYSCALL_BIT: u32 = 0x4000_0000;
const IPPROTO_MPTCP: u32 = 262;
/// CLONE_NEWNS | NEWCGROUP | NEWUTS | NEWIPC | NEWUSER | NEWPID | NEWNET | NEWTIME.
const CLONE_NEW_ANY: u32 = 0x7E02_0080;

fn stmt(code: u32, k: u32) -> libc::sock_filter {
    libc::sock_filter {
        code: code as u16,
        jt: 0,
        jf: 0,
        k,
    }
}

fn jump(op: u32, k: u32, jt: u8, jf: u8) -> libc::sock_filter {
    libc::sock_filter {
        code: (libc::BPF_JMP | op | libc::BPF_K) as u16,
        jt,
        jf,
        k,
    }
}

const LOAD: u32 = libc::BPF_LD | libc::BPF_W | libc::BPF_ABS;
const RET: u32 = libc::BPF_RET | libc::BPF_K;
const NR: u32 = 0;
const ARCH: u32 = 4;
const fn arg(i: u32) -> u32 {
    16 + 8 * i
}

fn errno(e: i32) -> u32 {
    libc::SECCOMP_RET_ERRNO | (e as u32 & libc::SECCOMP_RET_DATA)
}

/// Syscalls the supervisor logs.
pub const NOTIFIED: &[libc::c_long] = &[
    libc::SYS_open,
    libc::SYS_openat,
    libc::SYS_openat2,
    libc::SYS_creat,
    libc::SYS_execve,
    libc::SYS_execveat,
    libc::SYS_connect,
    libc::SYS_bind,
    libc::SYS_sendto,
    libc::SYS_sendmsg,
    libc::SYS_sendmmsg,
    libc::SYS_unlink,
    libc::SYS_unlinkat,
    libc::SYS_rename,
    libc::SYS_renameat,
    libc::SYS_renameat2,
];

/// Appends "syscall `nr` fails with `error`" for each of `syscalls`.
fn deny(f: &mut Vec<libc::sock_filter>, error: i32, syscalls: &[libc::c_long]) {
    for &nr in syscalls {
        f.push(jump(libc::BPF_JEQ, nr as u32, 0, 1));
        f.push(stmt(RET, errno(error)));
    }
}

/// The classic-BPF program (x86_64).
pub fn filter() -> Vec<libc::sock_filter> {
    let mut f = vec![
        stmt(LOAD, ARCH),
        jump(libc::BPF_JEQ, AUDIT_ARCH_X86_64, 1, 0),
        stmt(RET, libc::SECCOMP_RET_KILL_PROCESS),
        stmt(LOAD, NR),
        // x32 syscall numbers would slip past the per-number checks below.
        jump(libc::BPF_JGE, X32_SYSCALL_BIT, 0, 1),
        stmt(RET, errno(libc::EPERM)),
    ];
    // clone with any CLONE_NEW* flag: EPERM. clone3 hides its flags behind a pointer, so it
    // answers ENOSYS and libc falls back to clone.
    f.extend([
        jump(libc::BPF_JEQ, libc::SYS_clone as u32, 0, 4),
        stmt(LOAD, arg(0)),
        jump(libc::BPF_JSET, CLONE_NEW_ANY, 0, 1),
        stmt(RET, errno(libc::EPERM)),
        stmt(LOAD, NR),
    ]);
    deny(
        &mut f,
        libc::EPERM,
        &[
            libc::SYS_unshare,
            libc::SYS_setns,
            libc::SYS_mount,
            libc::SYS_umount2,
            libc::SYS_pivot_root,
            libc::SYS_chroot,
            libc::SYS_keyctl,
            libc::SYS_add_key,
            libc::SYS_request_key,
            libc::SYS_perf_event_open,
            libc::SYS_userfaultfd,
            libc::SYS_open_tree,
            libc::SYS_move_mount,
            libc::SYS_fsopen,
            libc::SYS_fsconfig,
            libc::SYS_fsmount,
            libc::SYS_fspick,
            libc::SYS_mount_setattr,
            libc::SYS_init_module,
            libc::SYS_finit_module,
            libc::SYS_kexec_load,
            libc::SYS_ioperm,
            libc::SYS_iopl,
        ],
    );
    deny(
        &mut f,
        libc::ENOSYS,
        &[
            libc::SYS_clone3,
            libc::SYS_io_uring_setup,
            libc::SYS_io_uring_enter,
            libc::SYS_io_uring_register,
            libc::SYS_ptrace,
            libc::SYS_bpf,
            libc::SYS_process_vm_writev,
            libc::SYS_pidfd_getfd,
        ],
    );
    // socket(): MPTCP bypasses Landlock's TCP rules; AF_UNIX would reach host sockets that
    // Landlock below ABI 9 does not cover. socketpair stays allowed.
    f.extend([
        jump(libc::BPF_JEQ, libc::SYS_socket as u32, 0, 6),
        stmt(LOAD, arg(2)),
        jump(libc::BPF_JEQ, IPPROTO_MPTCP, 0, 1),
        stmt(RET, errno(libc::EPROTONOSUPPORT)),
        stmt(LOAD, arg(0)),
        jump(libc::BPF_JEQ, libc::AF_UNIX as u32, 0, 1),
        stmt(RET, errno(libc::EACCES)),
        stmt(LOAD, NR),
    ]);
    // prctl(PR_SET_DUMPABLE, 0) would hide the payload's memory from the supervisor.
    f.extend([
        jump(libc::BPF_JEQ, libc::SYS_prctl as u32, 0, 3),
        stmt(LOAD, arg(0)),
        jump(libc::BPF_JEQ, libc::PR_SET_DUMPABLE as u32, 0, 1),
        stmt(RET, errno(libc::EPERM)),
        stmt(LOAD, NR),
    ]);
    for &nr in NOTIFIED {
        f.push(jump(libc::BPF_JEQ, nr as u32, 0, 1));
        f.push(stmt(RET, libc::SECCOMP_RET_USER_NOTIF));
    }
    f.push(stmt(RET, libc::SECCOMP_RET_ALLOW));
    f
}

/// Reads the payload's memory through `/proc/<tid>/mem`.
struct Memory(File);

impl Memory {
    fn open(tid: u32) -> io::Result<Self> {
        File::open(format!("/proc/{tid}/mem")).map(Self)
    }

    /// Up to `len` bytes, in page-bounded chunks: a string may end just before an unmapped page.
    fn bytes(&self, addr: u64, len: usize) -> Vec<u8> {
        let mut out = Vec::new();
        let mut at = addr;
        while out.len() < len && at != 0 {
            let chunk = (4096 - (at as usize % 4096)).min(len - out.len());
            let mut buf = vec![0u8; chunk];
            match self.0.read_at(&mut buf, at) {
                Ok(n) if n > 0 => {
                    out.extend_from_slice(&buf[..n]);
                    at += n as u64;
                    if n < chunk {
                        break;
                    }
                }
                _ => break,
            }
        }
        out
    }

    fn c_string(&self, addr: u64) -> String {
        if addr == 0 {
            return String::new();
        }
        let mut out = Vec::new();
        let mut at = addr;
        while out.len() < 4096 {
            let chunk = self.bytes(at, 4096 - (at as usize % 4096));
            if chunk.is_empty() {
                break;
            }
            if let Some(end) = chunk.iter().position(|&b| b == 0) {
                out.extend_from_slice(&chunk[..end]);
                return String::from_utf8_lossy(&out).into_owned();
            }
            at += chunk.len() as u64;
            out.extend_from_slice(&chunk);
        }
        String::from_utf8_lossy(&out).into_owned()
    }

    fn u64(&self, addr: u64) -> u64 {
        let b = self.bytes(addr, 8);
        b.try_into().map(u64::from_le_bytes).unwrap_or(0)
    }

    /// A NULL-terminated array of string pointers (argv), at most 256 entries.
    fn string_array(&self, addr: u64) -> Vec<String> {
        let mut out = Vec::new();
        if addr == 0 {
            return out;
        }
        for i in 0..256 {
            let p = self.u64(addr + 8 * i);
            if p == 0 {
                break;
            }
            out.push(self.c_string(p));
        }
        out
    }

    fn sockaddr(&self, addr: u64, len: u64) -> Option<Address> {
        if addr == 0 {
            return None;
        }
        let b = self.bytes(addr, (len as usize).min(128));
        if b.len() < 2 {
            return None;
        }
        match i32::from(u16::from_ne_bytes([b[0], b[1]])) {
            libc::AF_INET if b.len() >= 8 => Some(Address::Ip(SocketAddr::new(
                IpAddr::V4(Ipv4Addr::new(b[4], b[5], b[6], b[7])),
                u16::from_be_bytes([b[2], b[3]]),
            ))),
            libc::AF_INET6 if b.len() >= 24 => {
                let octets: [u8; 16] = b[8..24].try_into().ok()?;
                Some(Address::Ip(SocketAddr::new(
                    IpAddr::V6(Ipv6Addr::from(octets)),
                    u16::from_be_bytes([b[2], b[3]]),
                )))
            }
            libc::AF_UNIX => {
                let path = &b[2..];
                Some(Address::Unix(if path.first() == Some(&0) {
                    let end = path[1..]
                        .iter()
                        .position(|&c| c == 0)
                        .map_or(path.len(), |e| e + 1);
                    format!("@{}", String::from_utf8_lossy(&path[1..end]))
                } else {
                    let end = path.iter().position(|&c| c == 0).unwrap_or(path.len());
                    String::from_utf8_lossy(&path[..end]).into_owned()
                }))
            }
            _ => Some(Address::Other),
        }
    }
}

/// What a notification logs, with the raw bytes to search for canaries and where they were.
type Observed = Option<(EventKind, Vec<(Vec<u8>, &'static str)>)>;

enum Address {
    Ip(SocketAddr),
    Unix(String),
    Other,
}

fn resolve(tid: u32, dirfd: i64, path: &str) -> String {
    if path.starts_with('/') {
        return path.to_string();
    }
    let base = if dirfd as i32 == libc::AT_FDCWD {
        format!("/proc/{tid}/cwd")
    } else {
        format!("/proc/{tid}/fd/{dirfd}")
    };
    match std::fs::read_link(base) {
        Ok(dir) if path.is_empty() => dir.display().to_string(),
        Ok(dir) => format!("{}/{path}", dir.display()),
        Err(_) => path.to_string(),
    }
}

/// Read-only opens of the system's own files are the interpreter starting, not the skill.
fn is_noise(path: &str) -> bool {
    const PREFIXES: &[&str] = &[
        "/usr/",
        "/lib/",
        "/lib64/",
        "/lib32/",
        "/etc/ld.so",
        "/dev/",
        "/proc/self/",
        "/sys/",
        "/etc/localtime",
        "/etc/nsswitch.conf",
        "/etc/host.conf",
        "/etc/gai.conf",
    ];
    PREFIXES.iter().any(|p| path.starts_with(p)) || path.contains("__pycache__")
}

pub struct Supervisor {
    pub recorder: Arc<Recorder>,
    pub capture: Capture,
    pub honeytokens: Vec<(String, String)>,
    /// At run time nothing answers a connection: it is logged, and refused because no server
    /// listens. In analysis a capture server is started first, to see what is sent.
    pub refuse_connections: bool,
}

impl Supervisor {
    /// Logs notifications until every task under the filter has exited, or `stop` is set.
    pub fn run(&self, listener: OwnedFd, stop: &AtomicBool) {
        let fd = listener.as_raw_fd();
        loop {
            let mut pfd = libc::pollfd {
                fd,
                events: libc::POLLIN,
                revents: 0,
            };
            // SAFETY: pfd is a valid pollfd for the duration of the call.
            let ready = unsafe { libc::poll(&mut pfd, 1, 100) };
            if ready < 0 {
                if io::Error::last_os_error().kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                break;
            }
            if pfd.revents & libc::POLLHUP != 0 || pfd.revents & libc::POLLERR != 0 {
                break; // every filtered task is gone
            }
            if ready == 0 {
                if stop.load(Ordering::SeqCst) {
                    break;
                }
                continue;
            }
            // SAFETY: a zeroed seccomp_notif is the documented input to NOTIF_RECV.
            let mut req: libc::seccomp_notif = unsafe { std::mem::zeroed() };
            // SAFETY: req is a valid out-pointer of the right type.
            if unsafe { libc::ioctl(fd, libc::SECCOMP_IOCTL_NOTIF_RECV as _, &mut req) } != 0 {
                continue; // the target died before we received it
            }
            let observed = self.decode(&req);
            // Only trust what was read if the request is still live: the tid was not recycled.
            // SAFETY: req.id is a plain u64 read by the kernel.
            let valid =
                unsafe { libc::ioctl(fd, libc::SECCOMP_IOCTL_NOTIF_ID_VALID as _, &req.id) } == 0;
            if valid && let Some((kind, scan)) = observed {
                let scan_refs: Vec<(&[u8], &'static str)> =
                    scan.iter().map(|(d, p)| (d.as_slice(), *p)).collect();
                self.recorder
                    .record(Source::Seccomp, Some(req.pid as i32), kind, &scan_refs);
            }
            // SAFETY: a zeroed response with id and CONTINUE set is a valid NOTIF_SEND input.
            let mut resp: libc::seccomp_notif_resp = unsafe { std::mem::zeroed() };
            resp.id = req.id;
            resp.flags = libc::SECCOMP_USER_NOTIF_FLAG_CONTINUE as u32;
            // ENOENT: the target died meanwhile; nothing to do.
            // SAFETY: resp is a valid seccomp_notif_resp.
            unsafe { libc::ioctl(fd, libc::SECCOMP_IOCTL_NOTIF_SEND as _, &mut resp) };
        }
    }

    /// A connect's socket type is not in its arguments: `ip` stands for TCP or UDP.
    fn destination(&self, addr: &SocketAddr) -> Destination {
        self.capture.destination(*addr, "ip")
    }

    fn decode(&self, req: &libc::seccomp_notif) -> Observed {
        let tid = req.pid;
        let a = req.data.args;
        let nr = libc::c_long::from(req.data.nr);
        let mem = Memory::open(tid).ok()?;
        let open = |dirfd: i64, path_ptr: u64, flags: u64| {
            let path = resolve(tid, dirfd, &mem.c_string(path_ptr));
            let access = flags & libc::O_ACCMODE as u64;
            let write = access != libc::O_RDONLY as u64;
            let create = flags & libc::O_CREAT as u64 != 0;
            // Terminals and /dev/null are opened for writing by every shell.
            if path.starts_with("/dev/") || (!write && is_noise(&path)) {
                return None;
            }
            if let Some((id, _)) = self.honeytokens.iter().find(|(_, p)| *p == path) {
                return Some((
                    EventKind::HoneytokenOpened {
                        honeytoken: id.clone(),
                        path,
                    },
                    Vec::new(),
                ));
            }
            Some((
                EventKind::FileOpen {
                    path,
                    write,
                    create,
                },
                Vec::new(),
            ))
        };
        match nr {
            libc::SYS_openat => open(a[0] as i64, a[1], a[2]),
            libc::SYS_openat2 => open(a[0] as i64, a[1], mem.u64(a[2])),
            libc::SYS_open => open(i64::from(libc::AT_FDCWD), a[0], a[1]),
            libc::SYS_creat => open(
                i64::from(libc::AT_FDCWD),
                a[0],
                (libc::O_CREAT | libc::O_WRONLY | libc::O_TRUNC) as u64,
            ),
            libc::SYS_unlink => Some((
                EventKind::FileUnlink {
                    path: resolve(tid, i64::from(libc::AT_FDCWD), &mem.c_string(a[0])),
                },
                Vec::new(),
            )),
            libc::SYS_unlinkat => Some((
                EventKind::FileUnlink {
                    path: resolve(tid, a[0] as i64, &mem.c_string(a[1])),
                },
                Vec::new(),
            )),
            libc::SYS_rename => Some((
                EventKind::FileRename {
                    from: resolve(tid, i64::from(libc::AT_FDCWD), &mem.c_string(a[0])),
                    to: resolve(tid, i64::from(libc::AT_FDCWD), &mem.c_string(a[1])),
                },
                Vec::new(),
            )),
            libc::SYS_renameat | libc::SYS_renameat2 => Some((
                EventKind::FileRename {
                    from: resolve(tid, a[0] as i64, &mem.c_string(a[1])),
                    to: resolve(tid, a[2] as i64, &mem.c_string(a[3])),
                },
                Vec::new(),
            )),
            libc::SYS_execve | libc::SYS_execveat => {
                let (path, argv) = if nr == libc::SYS_execve {
                    (mem.c_string(a[0]), mem.string_array(a[1]))
                } else {
                    (
                        resolve(tid, a[0] as i64, &mem.c_string(a[1])),
                        mem.string_array(a[2]),
                    )
                };
                let joined = argv.join(" ").into_bytes();
                Some((EventKind::Exec { path, argv }, vec![(joined, "argv")]))
            }
            libc::SYS_connect | libc::SYS_bind => match mem.sockaddr(a[1], a[2])? {
                Address::Ip(addr) => {
                    if nr == libc::SYS_connect {
                        // A capture server must listen before the connect continues.
                        if !self.refuse_connections {
                            let _ = self.capture.ensure_tcp(addr.port());
                            let _ = self.capture.ensure_udp(addr.port());
                        } else if self.capture.forwards(addr) {
                            let _ = self.capture.ensure_tcp(addr.port());
                        }
                        Some((
                            EventKind::Connect {
                                dst: self.destination(&addr),
                            },
                            Vec::new(),
                        ))
                    } else {
                        Some((
                            EventKind::Bind {
                                addr: addr.to_string(),
                            },
                            Vec::new(),
                        ))
                    }
                }
                Address::Unix(path) if nr == libc::SYS_connect => Some((
                    EventKind::Connect {
                        dst: Destination {
                            ip: path,
                            port: 0,
                            proto: "unix".into(),
                            hostname: None,
                        },
                    },
                    Vec::new(),
                )),
                Address::Unix(path) => Some((EventKind::Bind { addr: path }, Vec::new())),
                Address::Other => None,
            },
            libc::SYS_sendto => {
                let data = mem.bytes(a[1], (a[2] as usize).min(65536));
                let dst = match mem.sockaddr(a[4], a[5]) {
                    Some(Address::Ip(addr)) => {
                        let _ = self.capture.ensure_udp(addr.port());
                        Some(self.capture.destination(addr, "udp"))
                    }
                    _ => None,
                };
                self.send_event(dst, data)
            }
            libc::SYS_sendmsg | libc::SYS_sendmmsg => {
                // struct msghdr { name@0, namelen@8, iov@16, iovlen@24, ... }; sendmmsg's
                // mmsghdr starts with one. The first message is enough for evidence.
                let header = a[1];
                let name = mem.u64(header);
                let name_len = mem.u64(header + 8) & 0xffff_ffff;
                let iov = mem.u64(header + 16);
                let iov_len = mem.u64(header + 24).min(16);
                let mut data = Vec::new();
                for i in 0..iov_len {
                    let base = mem.u64(iov + 16 * i);
                    let len = mem.u64(iov + 16 * i + 8) as usize;
                    data.extend(mem.bytes(base, len.min(65536 - data.len().min(65536))));
                    if data.len() >= 65536 {
                        break;
                    }
                }
                let dst = match mem.sockaddr(name, name_len) {
                    Some(Address::Ip(addr)) => {
                        let _ = self.capture.ensure_udp(addr.port());
                        Some(self.capture.destination(addr, "udp"))
                    }
                    _ => None,
                };
                self.send_event(dst, data)
            }
            _ => None,
        }
    }

    fn send_event(&self, dst: Option<Destination>, data: Vec<u8>) -> Observed {
        Some((
            EventKind::Send {
                dst,
                bytes: data.len(),
                sample: sample(&data, 512),
            },
            vec![(data, "payload")],
        ))
    }
}
