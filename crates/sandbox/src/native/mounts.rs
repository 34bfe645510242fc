//! The filesystem the payload sees, built in the sandbox's mount namespace.
//!
//! tmpfs over `/tmp`, `/run`, `/var/run`, `/var/tmp`, `/dev/shm` and `/home` hides the host's
//! sockets (docker.sock, D-Bus: not restricted by Landlock below ABI 9) and the host's users.
//! The skill is bound read-only at `/tmp/skill`; its working copy at `/tmp/work` and `TMPDIR`
//! at `/tmp/scratch` are size-limited tmpfs; the fake HOME carries the honeytokens.

use std::ffi::CString;
use std::fs;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

pub const SKILL: &str = "/tmp/skill";
pub const WORK: &str = "/tmp/work";
pub const SCRATCH: &str = "/tmp/scratch";

/// Paths inside the sandbox.
#[derive(Debug, Clone)]
pub struct View {
    pub home: PathBuf,
}

fn cstr(s: &str) -> io::Result<CString> {
    CString::new(s).map_err(io::Error::other)
}

fn mount(
    source: Option<&str>,
    target: &str,
    fstype: Option<&str>,
    flags: libc::c_ulong,
    data: Option<&str>,
) -> io::Result<()> {
    let source = source.map(cstr).transpose()?;
    let target_c = cstr(target)?;
    let fstype = fstype.map(cstr).transpose()?;
    let data = data.map(cstr).transpose()?;
    // SAFETY: every pointer is a valid C string or NULL for the duration of the call.
    let r = unsafe {
        libc::mount(
            source.as_ref().map_or(std::ptr::null(), |s| s.as_ptr()),
            target_c.as_ptr(),
            fstype.as_ref().map_or(std::ptr::null(), |s| s.as_ptr()),
            flags,
            data.as_ref()
                .map_or(std::ptr::null(), |s| s.as_ptr().cast()),
        )
    };
    if r != 0 {
        let e = io::Error::last_os_error();
        return Err(io::Error::new(e.kind(), format!("mount {target}: {e}")));
    }
    Ok(())
}

fn tmpfs(target: &str, size_mb: u64) -> io::Result<()> {
    mount(
        Some("tmpfs"),
        target,
        Some("tmpfs"),
        libc::MS_NOSUID | libc::MS_NODEV,
        Some(&format!("mode=0755,size={size_mb}m")),
    )
}

/// Re-mounts a bind read-only, keeping the flags the kernel locked on it (a bind from a
/// `nosuid` mount must stay `nosuid` in a user namespace, or the remount is refused).
fn remount_read_only(target: &str) -> io::Result<()> {
    let c = cstr(target)?;
    // SAFETY: statvfs fills the zeroed struct; c is a valid C string.
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    if unsafe { libc::statvfs(c.as_ptr(), &mut st) } != 0 {
        return Err(io::Error::last_os_error());
    }
    let mut flags = libc::MS_REMOUNT | libc::MS_BIND | libc::MS_RDONLY;
    for (st_flag, ms_flag) in [
        (libc::ST_NOSUID, libc::MS_NOSUID),
        (libc::ST_NODEV, libc::MS_NODEV),
        (libc::ST_NOEXEC, libc::MS_NOEXEC),
        (libc::ST_NOATIME, libc::MS_NOATIME),
        (libc::ST_NODIRATIME, libc::MS_NODIRATIME),
        (libc::ST_RELATIME, libc::MS_RELATIME),
    ] {
        if st.f_flag & st_flag != 0 {
            flags |= ms_flag;
        }
    }
    mount(None, target, None, flags, None)
}

fn is_real_dir(path: &str) -> bool {
    fs::symlink_metadata(path).is_ok_and(|m| m.is_dir())
}

/// Builds the view. `skill_dir` is a host path readable by the runner.
pub fn build(skill_dir: &Path, scratch_mb: u64, home: &str) -> io::Result<View> {
    mount(None, "/", None, libc::MS_REC | libc::MS_PRIVATE, None)?;
    // Opened before /tmp is covered: the skill usually lives in a host temporary directory.
    let path = CString::new(skill_dir.as_os_str().as_bytes()).map_err(io::Error::other)?;
    // SAFETY: path is a valid C string; the returned fd is owned below.
    let raw = unsafe {
        libc::open(
            path.as_ptr(),
            libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC,
        )
    };
    if raw < 0 {
        let e = io::Error::last_os_error();
        return Err(io::Error::new(
            e.kind(),
            format!("open {}: {e}", skill_dir.display()),
        ));
    }
    // SAFETY: raw is a fresh fd we own.
    let skill_fd = unsafe { OwnedFd::from_raw_fd(raw) };

    tmpfs("/tmp", 16)?;
    for hidden in ["/run", "/var/run", "/var/tmp", "/dev/shm", "/home"] {
        if is_real_dir(hidden) {
            tmpfs(hidden, 16)?;
        }
    }
    for dir in [SKILL, WORK, SCRATCH] {
        fs::create_dir(dir)?;
    }
    mount(
        Some(&format!("/proc/self/fd/{}", skill_fd.as_raw_fd())),
        SKILL,
        None,
        libc::MS_BIND | libc::MS_REC,
        None,
    )?;
    remount_read_only(SKILL)?;
    drop(skill_fd);
    tmpfs(WORK, scratch_mb)?;
    tmpfs(SCRATCH, scratch_mb)?;
    copy_tree(Path::new(SKILL), Path::new(WORK))?;

    let home = if home.starts_with("/home/") && is_real_dir("/home") {
        PathBuf::from(home)
    } else {
        PathBuf::from("/tmp/home")
    };
    fs::create_dir_all(&home)?;
    Ok(View { home })
}

/// Mounts a procfs for the current PID namespace over /proc.
pub fn proc() -> io::Result<()> {
    mount(
        Some("proc"),
        "/proc",
        Some("proc"),
        libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC,
        None,
    )
}

/// Copies regular files and directories; symlinks were refused when the bundle was loaded and
/// are not materialised, so there are none to follow.
fn copy_tree(from: &Path, to: &Path) -> io::Result<()> {
    for entry in fs::read_dir(from)? {
        let entry = entry?;
        let kind = entry.file_type()?;
        let target = to.join(entry.file_name());
        if kind.is_dir() {
            fs::create_dir(&target)?;
            copy_tree(&entry.path(), &target)?;
        } else if kind.is_file() {
            fs::copy(entry.path(), &target)?;
        }
    }
    Ok(())
}
