//! Connections to declared domains, carried out of the sandbox's network namespace.
//!
//! At run time (T3) the payload's network namespace reaches nothing. Before the runner enters
//! its namespaces it forks a helper that stays on the host's network, holding one end of a Unix
//! socket pair. When the payload connects to a name the skill declared (the fake DNS handed the
//! name a private address, so the connection maps back to it), the runner's listener asks the
//! helper for a connection to `name:port`; the helper checks the name against the same list,
//! connects, and passes the socket back (SCM_RIGHTS). The runner then copies bytes both ways.
//! Every other destination is refused. The helper never reads what the payload sends: TLS stays
//! end to end.

use std::collections::BTreeMap;
use std::io::{self, BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixStream;
use std::sync::Mutex;
use std::time::Duration;

/// Whether `host` is one of the `allowed` domains or a subdomain of one.
pub fn allowed(host: &str, allowed: &[String]) -> bool {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    allowed.iter().any(|d| {
        let d = d
            .trim_start_matches("*.")
            .trim_end_matches('.')
            .to_ascii_lowercase();
        !d.is_empty() && (host == d || host.ends_with(&format!(".{d}")))
    })
}

/// The runner's end: asks the helper for connections.
pub struct Forwarder {
    sock: Mutex<UnixStream>,
    pub allowed: Vec<String>,
}

impl Forwarder {
    /// Forks the helper. Call while single-threaded, before entering the namespaces.
    /// `resolve` maps names to addresses the helper uses instead of the host's resolver.
    pub fn spawn(allowed: Vec<String>, resolve: BTreeMap<String, String>) -> io::Result<Self> {
        let (ours, theirs) = UnixStream::pair()?;
        // SAFETY: the runner is single-threaded here; the child only runs `helper` and exits.
        let pid = unsafe { libc::fork() };
        if pid < 0 {
            return Err(io::Error::last_os_error());
        }
        if pid == 0 {
            drop(ours);
            // SAFETY: prctl takes plain integers.
            unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0) };
            helper(theirs, &allowed, &resolve);
            // SAFETY: _exit ends the helper without running the runner's exit handlers.
            unsafe { libc::_exit(0) };
        }
        drop(theirs);
        Ok(Self {
            sock: Mutex::new(ours),
            allowed,
        })
    }

    /// A connection to `host:port` on the host's network, if `host` is declared.
    pub fn connect(&self, host: &str, port: u16) -> io::Result<TcpStream> {
        if !allowed(host, &self.allowed) || host.contains(char::is_whitespace) {
            return Err(io::Error::new(
                io::ErrorKind::PermissionDenied,
                format!("{host} is not declared"),
            ));
        }
        let sock = self
            .sock
            .lock()
            .map_err(|_| io::Error::other("forwarder poisoned"))?;
        (&*sock).write_all(format!("{host} {port}\n").as_bytes())?;
        match recv_fd(sock.as_raw_fd())? {
            Some(fd) => Ok(TcpStream::from(fd)),
            None => Err(io::Error::new(
                io::ErrorKind::ConnectionRefused,
                format!("{host}:{port} could not be reached"),
            )),
        }
    }
}

/// The helper's loop: one request per line, one answer (a socket, or none) per request.
fn helper(sock: UnixStream, allowed_domains: &[String], resolve: &BTreeMap<String, String>) {
    let Ok(reader) = sock.try_clone() else { return };
    for line in BufReader::new(reader).lines() {
        let Ok(line) = line else { return };
        let mut parts = line.split(' ');
        let (Some(host), Some(port)) = (
            parts.next(),
            parts.next().and_then(|p| p.parse::<u16>().ok()),
        ) else {
            let _ = send_fd(sock.as_raw_fd(), None);
            continue;
        };
        let stream = if allowed(host, allowed_domains) {
            let addrs: Vec<SocketAddr> = match resolve.get(host) {
                Some(ip) => format!("{ip}:{port}")
                    .parse::<SocketAddr>()
                    .map(|a| vec![a])
                    .unwrap_or_default(),
                None => (host, port)
                    .to_socket_addrs()
                    .map(Iterator::collect)
                    .unwrap_or_default(),
            };
            addrs
                .iter()
                .find_map(|a| TcpStream::connect_timeout(a, Duration::from_secs(10)).ok())
        } else {
            None
        };
        let fd = stream.as_ref().map(AsRawFd::as_raw_fd);
        if send_fd(sock.as_raw_fd(), fd).is_err() {
            return;
        }
    }
}

/// Sends one byte (0 with a descriptor, 1 without) and, with 0, the descriptor.
fn send_fd(sock: RawFd, fd: Option<RawFd>) -> io::Result<()> {
    let mut byte = [u8::from(fd.is_none())];
    let mut iov = libc::iovec {
        iov_base: byte.as_mut_ptr().cast(),
        iov_len: 1,
    };
    let size = std::mem::size_of::<RawFd>() as u32;
    // SAFETY: CMSG_SPACE is a pure computation.
    let space = unsafe { libc::CMSG_SPACE(size) } as usize;
    let mut control = vec![0u8; space];
    // SAFETY: a zeroed msghdr is valid; its pointers are set below to live buffers.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    if let Some(fd) = fd {
        msg.msg_control = control.as_mut_ptr().cast();
        msg.msg_controllen = space as _;
        // SAFETY: the control buffer holds one cmsg of the right size.
        unsafe {
            let cmsg = libc::CMSG_FIRSTHDR(&msg);
            (*cmsg).cmsg_level = libc::SOL_SOCKET;
            (*cmsg).cmsg_type = libc::SCM_RIGHTS;
            (*cmsg).cmsg_len = libc::CMSG_LEN(size) as _;
            std::ptr::write_unaligned(libc::CMSG_DATA(cmsg).cast::<RawFd>(), fd);
        }
    }
    // SAFETY: msg points at live buffers for the duration of the call.
    if unsafe { libc::sendmsg(sock, &msg, 0) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Receives what [`send_fd`] sent.
fn recv_fd(sock: RawFd) -> io::Result<Option<OwnedFd>> {
    let mut byte = [0u8; 1];
    let mut iov = libc::iovec {
        iov_base: byte.as_mut_ptr().cast(),
        iov_len: 1,
    };
    let size = std::mem::size_of::<RawFd>() as u32;
    // SAFETY: CMSG_SPACE is a pure computation.
    let space = unsafe { libc::CMSG_SPACE(size) } as usize;
    let mut control = vec![0u8; space];
    // SAFETY: a zeroed msghdr is valid; its pointers are set to live buffers.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.as_mut_ptr().cast();
    msg.msg_controllen = space as _;
    // SAFETY: msg points at live buffers; MSG_CMSG_CLOEXEC keeps the fd from the payload.
    let n = unsafe { libc::recvmsg(sock, &mut msg, libc::MSG_CMSG_CLOEXEC) };
    if n <= 0 {
        return Err(io::Error::new(
            io::ErrorKind::BrokenPipe,
            "the network helper is gone",
        ));
    }
    if byte[0] != 0 {
        return Ok(None);
    }
    // SAFETY: the kernel filled the control buffer; CMSG_FIRSTHDR checks its length.
    unsafe {
        let cmsg = libc::CMSG_FIRSTHDR(&msg);
        if cmsg.is_null()
            || (*cmsg).cmsg_level != libc::SOL_SOCKET
            || (*cmsg).cmsg_type != libc::SCM_RIGHTS
        {
            return Ok(None);
        }
        let fd = std::ptr::read_unaligned(libc::CMSG_DATA(cmsg).cast::<RawFd>());
        Ok(Some(OwnedFd::from_raw_fd(fd)))
    }
}

/// Copies bytes both ways until either side closes.
pub fn splice(inside: TcpStream, outside: TcpStream) {
    let (Ok(inside_r), Ok(outside_r)) = (inside.try_clone(), outside.try_clone()) else {
        return;
    };
    let up = std::thread::spawn(move || {
        let mut from = inside_r;
        let mut to = outside;
        let _ = io::copy(&mut from, &mut to);
        let _ = to.shutdown(std::net::Shutdown::Write);
    });
    let mut from = outside_r;
    let mut to = inside;
    let _ = io::copy(&mut from, &mut to);
    let _ = to.shutdown(std::net::Shutdown::Write);
    let _ = up.join();
}

#[cfg(test)]
mod tests {
    use super::allowed;

    #[test]
    fn declared_domains_cover_their_subdomains_only() {
        let d = vec![
            "api.notesly.example".to_string(),
            "*.cdn.example".to_string(),
        ];
        assert!(allowed("api.notesly.example", &d));
        assert!(allowed("API.notesly.example.", &d));
        assert!(allowed("eu.api.notesly.example", &d));
        assert!(allowed("img.cdn.example", &d));
        assert!(!allowed("notesly.example", &d));
        assert!(!allowed("api.notesly.example.evil.example", &d));
        assert!(!allowed("evilapi.notesly.example", &d));
    }
}
