//! Entering the sandbox's namespaces, and the network inside them.
//!
//! Order matters: `unshare(CLONE_NEWUSER)` fails in a multi-threaded process, so this runs
//! first, in the fresh runner process, before any capture thread starts.

use std::ffi::CString;
use std::fs;
use std::io;

/// The uid a root-started runner drops to before it does anything else: `nobody`. Running
/// the sandbox as real root would let files owned by root on the host match the payload's
/// kernel uid; as `nobody` nothing on the host belongs to it.
pub const UNPRIVILEGED_UID: u32 = 65534;

fn check(ret: libc::c_long) -> io::Result<()> {
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// Drops real root to `uid`. Keeps the process dumpable, which writing our own uid_map after
/// the uid change needs.
pub fn drop_root(uid: u32) -> io::Result<()> {
    // SAFETY: plain syscalls on the calling process, no pointers held past the call.
    unsafe {
        check(libc::setgroups(0, std::ptr::null()) as libc::c_long)?;
        check(libc::setresgid(uid, uid, uid) as libc::c_long)?;
        check(libc::setresuid(uid, uid, uid) as libc::c_long)?;
        check(libc::prctl(libc::PR_SET_DUMPABLE, 1, 0, 0, 0) as libc::c_long)?;
    }
    Ok(())
}

/// Enters new user, mount, PID and UTS namespaces, as root inside them, and a new network
/// namespace unless `host_network` (a T4 skill at run time reaches what it declared).
pub fn enter(host_network: bool) -> io::Result<()> {
    // SAFETY: getuid/getgid cannot fail.
    let (uid, gid) = unsafe { (libc::getuid(), libc::getgid()) };
    let mut flags =
        libc::CLONE_NEWUSER | libc::CLONE_NEWNS | libc::CLONE_NEWPID | libc::CLONE_NEWUTS;
    if !host_network {
        flags |= libc::CLONE_NEWNET;
    }
    // SAFETY: unshare takes flags only.
    check(unsafe { libc::unshare(flags) } as libc::c_long)?;
    fs::write("/proc/self/setgroups", "deny")?;
    fs::write("/proc/self/uid_map", format!("0 {uid} 1"))?;
    fs::write("/proc/self/gid_map", format!("0 {gid} 1"))?;
    // The host's name would tell the payload where it runs; a developer machine's does not.
    let name = b"devbox";
    // SAFETY: name is a valid buffer of the given length.
    check(unsafe { libc::sethostname(name.as_ptr().cast(), name.len()) } as libc::c_long)?;
    Ok(())
}

/// Brings loopback up and makes every IPv4 and IPv6 address local (the AnyIP route), so any
/// destination the payload picks lands on a capture server in this namespace.
pub fn network_up() -> io::Result<()> {
    use netlink_packet_core::{
        NLM_F_ACK, NLM_F_CREATE, NLM_F_REPLACE, NLM_F_REQUEST, NetlinkHeader, NetlinkMessage,
        NetlinkPayload,
    };
    use netlink_packet_route::link::{LinkFlags, LinkMessage};
    use netlink_packet_route::route::{
        RouteAddress, RouteAttribute, RouteMessage, RouteProtocol, RouteScope, RouteType,
    };
    use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};
    use netlink_sys::{Socket, SocketAddr, protocols::NETLINK_ROUTE};

    let mut socket = Socket::new(NETLINK_ROUTE)?;
    socket.bind_auto()?;
    socket.connect(&SocketAddr::new(0, 0))?;
    let lo = nix_if_index("lo")?;

    let send = |payload: RouteNetlinkMessage, create: bool| -> io::Result<()> {
        let mut header = NetlinkHeader::default();
        header.flags = NLM_F_REQUEST | NLM_F_ACK;
        if create {
            header.flags |= NLM_F_CREATE | NLM_F_REPLACE;
        }
        let mut msg = NetlinkMessage::new(header, NetlinkPayload::from(payload));
        msg.finalize();
        let mut buf = vec![0; msg.buffer_len()];
        msg.serialize(&mut buf);
        socket.send(&buf, 0)?;
        let mut reply = vec![0; 8192];
        let n = socket.recv(&mut &mut reply[..], 0)?;
        let parsed = NetlinkMessage::<RouteNetlinkMessage>::deserialize(&reply[..n])
            .map_err(|e| io::Error::other(format!("netlink reply: {e}")))?;
        match parsed.payload {
            NetlinkPayload::Error(e) => match e.code {
                None => Ok(()),
                Some(code) => Err(io::Error::from_raw_os_error(-code.get())),
            },
            _ => Ok(()),
        }
    };

    let mut link = LinkMessage::default();
    link.header.index = lo;
    link.header.flags = LinkFlags::Up;
    link.header.change_mask = LinkFlags::Up;
    send(RouteNetlinkMessage::SetLink(link), false)?;

    for family in [AddressFamily::Inet, AddressFamily::Inet6] {
        let mut route = RouteMessage::default();
        route.header.address_family = family;
        route.header.table = 255; // RT_TABLE_LOCAL
        route.header.kind = RouteType::Local;
        route.header.scope = RouteScope::Host;
        route.header.protocol = RouteProtocol::Static;
        route.header.destination_prefix_length = 0;
        let any = match family {
            AddressFamily::Inet => RouteAddress::Inet(std::net::Ipv4Addr::UNSPECIFIED),
            _ => RouteAddress::Inet6(std::net::Ipv6Addr::UNSPECIFIED),
        };
        route.attributes = vec![RouteAttribute::Destination(any), RouteAttribute::Oif(lo)];
        let result = send(RouteNetlinkMessage::NewRoute(route), true);
        // IPv6 may be disabled on the host; IPv4 capture is what must work.
        if family == AddressFamily::Inet {
            result?;
        }
    }
    Ok(())
}

fn nix_if_index(name: &str) -> io::Result<u32> {
    let c = CString::new(name).map_err(io::Error::other)?;
    // SAFETY: c is a valid NUL-terminated string for the duration of the call.
    let index = unsafe { libc::if_nametoindex(c.as_ptr()) };
    if index == 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(index)
    }
}

/// MPTCP sockets bypass Landlock's TCP rules (landlock-lsm/linux#54); the seccomp filter also
/// refuses them, this is the second lock.
pub fn disable_mptcp() -> bool {
    match fs::write("/proc/sys/net/mptcp/enabled", "0") {
        Ok(()) => true,
        // No MPTCP in this kernel at all: nothing to bypass with.
        Err(e) => e.kind() == io::ErrorKind::NotFound,
    }
}

/// The Landlock ABI version the kernel offers, 0 when it has none.
pub fn landlock_abi() -> u32 {
    const LANDLOCK_CREATE_RULESET_VERSION: libc::c_uint = 1;
    // SAFETY: with a NULL attribute and size 0 this call only returns the ABI version.
    let v = unsafe {
        libc::syscall(
            libc::SYS_landlock_create_ruleset,
            std::ptr::null::<libc::c_void>(),
            0usize,
            LANDLOCK_CREATE_RULESET_VERSION,
        )
    };
    u32::try_from(v).unwrap_or(0)
}

pub fn kernel_release() -> String {
    fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "unknown".into())
}
