//! Thin wrappers over the kernel calls the sandbox needs: each returns `io::Result`,
//! and this module is the only place in the sandbox with `unsafe`.

#![allow(
    unsafe_code,
    reason = "system calls without safe wrappers in std; each block states its contract"
)]

use std::ffi::{CStr, CString};
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::path::Path;

fn cstr(path: &Path) -> io::Result<CString> {
    use std::os::unix::ffi::OsStrExt;
    CString::new(path.as_os_str().as_bytes())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "path contains a NUL byte"))
}

fn check(ret: libc::c_long) -> io::Result<libc::c_long> {
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

pub const OPEN_TREE_CLONE: libc::c_uint = 1;
pub const MOVE_MOUNT_F_EMPTY_PATH: libc::c_uint = 0x4;
pub const MOUNT_ATTR_RDONLY: u64 = 0x1;
pub const MOUNT_ATTR_NOSUID: u64 = 0x2;
pub const MOUNT_ATTR_NODEV: u64 = 0x4;

#[repr(C)]
struct MountAttr {
    attr_set: u64,
    attr_clr: u64,
    propagation: u64,
    userns_fd: u64,
}

/// A detached copy of the mount at `path` (recursive), to attach elsewhere later.
pub fn open_tree_clone(path: &Path, recursive: bool) -> io::Result<OwnedFd> {
    let c = cstr(path)?;
    let flags = OPEN_TREE_CLONE
        | libc::O_CLOEXEC as libc::c_uint
        | if recursive {
            libc::AT_RECURSIVE as libc::c_uint
        } else {
            0
        };
    // SAFETY: `c` is a valid NUL-terminated path for the duration of the call; the
    // returned fd, if any, is owned by nobody else.
    let fd =
        check(unsafe { libc::syscall(libc::SYS_open_tree, libc::AT_FDCWD, c.as_ptr(), flags) })?;
    // SAFETY: the kernel just returned this fd to us; we own it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

/// `rel` opened (`O_PATH`) beneath the directory `base`, which it may not leave: no
/// `..` above `base`, no absolute symbolic link, no `/proc` magic link on the way
/// (`openat2`, `RESOLVE_BENEATH`; `EXDEV` where it would leave, `ELOOP` on a magic link).
fn open_beneath(base: &Path, rel: &Path) -> io::Result<OwnedFd> {
    let rel_c = cstr(rel)?;
    let dir = open_path_dir(base)?;
    // SAFETY: all-zero is a valid open_how; the fields that matter are set below.
    let mut how: libc::open_how = unsafe { std::mem::zeroed() };
    how.flags = (libc::O_PATH | libc::O_CLOEXEC) as u64;
    how.resolve = libc::RESOLVE_BENEATH | libc::RESOLVE_NO_MAGICLINKS;
    use std::os::fd::AsRawFd;
    // SAFETY: a valid directory fd, NUL-terminated path and open_how, with its size.
    let fd = check(unsafe {
        libc::syscall(
            libc::SYS_openat2,
            dir.as_raw_fd(),
            rel_c.as_ptr(),
            &how as *const libc::open_how,
            std::mem::size_of::<libc::open_how>(),
        )
    })?;
    // SAFETY: the kernel just returned this fd to us; we own it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

/// A detached copy (recursive) of what the `O_PATH` descriptor `at` refers to.
fn open_tree_clone_of(at: &OwnedFd) -> io::Result<OwnedFd> {
    use std::os::fd::AsRawFd;
    let flags = OPEN_TREE_CLONE
        | libc::O_CLOEXEC as libc::c_uint
        | libc::AT_RECURSIVE as libc::c_uint
        | libc::AT_EMPTY_PATH as libc::c_uint;
    let empty = c"";
    // SAFETY: a valid fd and an empty NUL-terminated path; the returned fd, if any, is
    // owned by nobody else.
    let fd = check(unsafe {
        libc::syscall(libc::SYS_open_tree, at.as_raw_fd(), empty.as_ptr(), flags)
    })?;
    // SAFETY: the kernel just returned this fd to us; we own it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

/// The attributes of a bind's detached tree: nosuid and nodev, read-only if asked.
pub fn bind_attrs(read_only: bool) -> u64 {
    let set = MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV;
    if read_only {
        set | MOUNT_ATTR_RDONLY
    } else {
        set
    }
}

/// [`open_tree_with_attrs`] of `rel` resolved beneath the directory `base`
/// ([`open_beneath`]: `EXDEV` or `ELOOP` where the path would leave it).
pub fn open_tree_beneath(base: &Path, rel: &Path, set: u64) -> io::Result<OwnedFd> {
    let at = open_beneath(base, rel)?;
    open_tree_attr(Tree::Fd(&at), set)
}

/// What `open_tree_attr` clones: a path, or what an `O_PATH` descriptor refers to.
enum Tree<'a> {
    Path(&'a Path),
    Fd(&'a OwnedFd),
}

/// `open_tree_attr(2)` (Linux 6.15): the same number on every architecture.
const SYS_OPEN_TREE_ATTR: libc::c_long = 467;

/// A detached copy of the mount at `path` (recursive) with `set` (`MOUNT_ATTR_*`)
/// applied to every mount in it: one call where the kernel has `open_tree_attr`, an
/// `open_tree` and a `mount_setattr` on the detached tree where it does not.
pub fn open_tree_with_attrs(path: &Path, set: u64) -> io::Result<OwnedFd> {
    open_tree_attr(Tree::Path(path), set)
}

fn open_tree_attr(tree: Tree<'_>, set: u64) -> io::Result<OwnedFd> {
    use std::os::fd::AsRawFd;
    let (dirfd, c, empty) = match tree {
        Tree::Path(path) => (libc::AT_FDCWD, cstr(path)?, 0),
        Tree::Fd(fd) => (
            fd.as_raw_fd(),
            CString::default(),
            libc::AT_EMPTY_PATH as libc::c_uint,
        ),
    };
    let attr = MountAttr {
        attr_set: set,
        attr_clr: 0,
        propagation: 0,
        userns_fd: 0,
    };
    use std::sync::atomic::{AtomicBool, Ordering};
    // Set once the kernel (or a seccomp filter phantom itself runs under) refuses the
    // call, so a plan does not try it again for every bind.
    static UNAVAILABLE: AtomicBool = AtomicBool::new(false);
    let flags = OPEN_TREE_CLONE
        | libc::O_CLOEXEC as libc::c_uint
        | libc::AT_RECURSIVE as libc::c_uint
        | empty;
    let fd = if UNAVAILABLE.load(Ordering::Relaxed) {
        Err(io::Error::from_raw_os_error(libc::ENOSYS))
    } else {
        // SAFETY: `c` and `attr` live across the call and the size passed is the
        // struct's; the returned fd, if any, is owned by nobody else.
        check(unsafe {
            libc::syscall(
                SYS_OPEN_TREE_ATTR,
                dirfd,
                c.as_ptr(),
                flags,
                &attr as *const MountAttr,
                std::mem::size_of::<MountAttr>(),
            )
        })
    };
    match fd {
        // SAFETY: the kernel just returned this fd to us; we own it.
        Ok(fd) => Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) }),
        // ENOSYS before Linux 6.15; EPERM from container runtimes' seccomp profiles
        // that refuse calls they do not know. The two-call path gives the same result.
        Err(e) if matches!(e.raw_os_error(), Some(libc::ENOSYS | libc::EPERM)) => {
            UNAVAILABLE.store(true, Ordering::Relaxed);
            let tree = match tree {
                Tree::Path(path) => open_tree_clone(path, true)?,
                Tree::Fd(fd) => open_tree_clone_of(fd)?,
            };
            let empty = c"";
            // SAFETY: valid fd, empty NUL-terminated path and `attr` for the call.
            check(unsafe {
                libc::syscall(
                    libc::SYS_mount_setattr,
                    tree.as_raw_fd(),
                    empty.as_ptr(),
                    (libc::AT_EMPTY_PATH | libc::AT_RECURSIVE) as libc::c_uint,
                    &attr as *const MountAttr,
                    std::mem::size_of::<MountAttr>(),
                )
            })?;
            Ok(tree)
        }
        Err(e) => Err(e),
    }
}

/// Attaches a detached tree at `target`.
pub fn move_mount(tree: &OwnedFd, target: &Path) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    let c = cstr(target)?;
    let empty = c"";
    // SAFETY: valid fd and NUL-terminated strings for the duration of the call.
    check(unsafe {
        libc::syscall(
            libc::SYS_move_mount,
            tree.as_raw_fd(),
            empty.as_ptr(),
            libc::AT_FDCWD,
            c.as_ptr(),
            MOVE_MOUNT_F_EMPTY_PATH,
        )
    })?;
    Ok(())
}

/// Sets mount attributes (`MOUNT_ATTR_*`) on the mount at `path`, recursively if asked.
pub fn mount_setattr(path: &Path, set: u64, recursive: bool) -> io::Result<()> {
    let c = cstr(path)?;
    let attr = MountAttr {
        attr_set: set,
        attr_clr: 0,
        propagation: 0,
        userns_fd: 0,
    };
    let flags = if recursive {
        libc::AT_RECURSIVE as libc::c_uint
    } else {
        0
    };
    // SAFETY: `c` and `attr` live across the call; the size passed is the struct's.
    check(unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            libc::AT_FDCWD,
            c.as_ptr(),
            flags,
            &attr as *const MountAttr,
            std::mem::size_of::<MountAttr>(),
        )
    })?;
    Ok(())
}

/// `mount(2)` with a filesystem type and data.
pub fn mount_fs(
    fstype: &CStr,
    target: &Path,
    flags: libc::c_ulong,
    data: Option<&str>,
) -> io::Result<()> {
    let t = cstr(target)?;
    let data = data
        .map(CString::new)
        .transpose()
        .map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    let data_ptr = data
        .as_ref()
        .map_or(std::ptr::null(), |d| d.as_ptr().cast());
    // SAFETY: all pointers are valid NUL-terminated strings (or null for data) for the call.
    let ret = unsafe {
        libc::mount(
            fstype.as_ptr(),
            t.as_ptr(),
            fstype.as_ptr(),
            flags,
            data_ptr,
        )
    };
    check(ret.into())?;
    Ok(())
}

/// Creates an empty regular file with `mode` (under the caller's umask), failing with
/// `AlreadyExists` if something is there.
pub fn make_file(path: &Path, mode: u32) -> io::Result<()> {
    let c = cstr(path)?;
    // SAFETY: `c` is a valid NUL-terminated path for the duration of the call; a
    // regular file needs no device number.
    check(unsafe { libc::mknod(c.as_ptr(), libc::S_IFREG | mode, 0) }.into())?;
    Ok(())
}

/// Makes every mount below `/` private, so nothing we do propagates to the host.
pub fn make_rprivate_root() -> io::Result<()> {
    // SAFETY: static strings; a null source and fstype are allowed for propagation changes.
    let ret = unsafe {
        libc::mount(
            std::ptr::null(),
            c"/".as_ptr(),
            std::ptr::null(),
            libc::MS_REC | libc::MS_PRIVATE,
            std::ptr::null(),
        )
    };
    check(ret.into())?;
    Ok(())
}

/// `pivot_root(".", ".")` in `new_root`, then detach the old root: the classic way to
/// swap roots without a spare directory.
pub fn pivot_into(new_root: &Path) -> io::Result<()> {
    pivot_stacked(new_root)?;
    detach_old_root()
}

/// `pivot_root` into `new_root` with the old root stacked on top of it, where
/// [`detach_old_root`] finds it. Every process of the mount namespace has the new root
/// as its root and working directory then, but the old root is still reachable: a `..`
/// that reaches `/` steps up into the mount stacked there. Until the detach, resolve
/// no path that could hold a `..` (`phantom exec`'s workload resolves none at all).
pub fn pivot_stacked(new_root: &Path) -> io::Result<()> {
    std::env::set_current_dir(new_root)?;
    // SAFETY: static NUL-terminated strings.
    check(unsafe { libc::syscall(libc::SYS_pivot_root, c".".as_ptr(), c".".as_ptr()) })?;
    Ok(())
}

/// Detaches the old root [`pivot_stacked`] left on the working directory (which must
/// still be the new root), then enters `/`. The kernel waits for an RCU grace period
/// before it returns (0.03-0.4 ms here), which is why `phantom exec`'s init does this
/// while the workload gets ready.
pub fn detach_old_root() -> io::Result<()> {
    // SAFETY: static NUL-terminated string.
    check(unsafe { libc::umount2(c".".as_ptr(), libc::MNT_DETACH) }.into())?;
    std::env::set_current_dir("/")
}

pub fn sethostname(name: &str) -> io::Result<()> {
    // SAFETY: pointer and length describe `name`'s bytes.
    check(unsafe { libc::sethostname(name.as_ptr().cast(), name.len()) }.into())?;
    Ok(())
}

/// Brings the loopback interface up (in a fresh network namespace it starts down).
pub fn loopback_up() -> io::Result<()> {
    // SAFETY: plain socket creation.
    let fd = check(
        unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) }.into(),
    )?;
    // SAFETY: we own the fd just created.
    let sock = unsafe { OwnedFd::from_raw_fd(fd as RawFd) };
    // SAFETY: ifreq is plain old data; zeroed is a valid value.
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    for (slot, byte) in req.ifr_name.iter_mut().zip(b"lo\0") {
        *slot = *byte as libc::c_char;
    }
    req.ifr_ifru.ifru_flags = (libc::IFF_UP | libc::IFF_RUNNING) as libc::c_short;
    use std::os::fd::AsRawFd;
    // SAFETY: `req` is a valid ifreq for SIOCSIFFLAGS; the fd is a socket.
    check(unsafe { libc::ioctl(sock.as_raw_fd(), libc::SIOCSIFFLAGS as _, &req) }.into())?;
    Ok(())
}

pub fn set_parent_death_signal(signal: libc::c_int) -> io::Result<()> {
    // SAFETY: prctl with integer arguments.
    check(unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, signal as libc::c_ulong, 0, 0, 0) }.into())?;
    Ok(())
}

/// Arguments of clone3(2).
#[repr(C)]
#[derive(Default)]
struct CloneArgs {
    flags: u64,
    pidfd: u64,
    child_tid: u64,
    parent_tid: u64,
    exit_signal: u64,
    stack: u64,
    stack_size: u64,
    tls: u64,
    set_tid: u64,
    set_tid_size: u64,
    cgroup: u64,
}

/// The result of [`clone_into`] in the parent.
#[derive(Debug)]
pub struct Child {
    pub pid: libc::pid_t,
    pub pidfd: OwnedFd,
}

/// `CLONE_INTO_CGROUP` (Linux 5.7): the child starts in this cgroup v2 directory.
const CLONE_INTO_CGROUP: u64 = 0x2_0000_0000;

/// Forks into new namespaces (`flags`: `CLONE_NEW*`), fork-style (no new stack), the
/// child born in the cgroup v2 directory `cgroup` (a descriptor of it) when given: no
/// move afterwards, so no wait for the kernel's cgroup migration lock (which waits for
/// an RCU grace period after an idle moment). Returns `Ok(None)` in the child and
/// `Ok(Some(child))` in the parent.
///
/// The caller must be single-threaded: the child is a copy of this thread only. The
/// child is not made by the C library's `fork`, which musl needs to learn the new
/// thread's id: there `raise` and `abort` in the child would signal the parent's id
/// (in direct mode, phantom itself). The child's code never calls them; an abort
/// (allocation failure) there is the one way left.
pub fn clone_into(
    flags: u64,
    cgroup: Option<std::os::fd::BorrowedFd<'_>>,
) -> io::Result<Option<Child>> {
    let mut pidfd: libc::c_int = -1;
    let mut args = CloneArgs {
        flags: flags | libc::CLONE_PIDFD as u64,
        pidfd: &mut pidfd as *mut libc::c_int as u64,
        exit_signal: libc::SIGCHLD as u64,
        ..CloneArgs::default()
    };
    if let Some(fd) = cgroup {
        args.flags |= CLONE_INTO_CGROUP;
        args.cgroup = fd.as_raw_fd() as u64;
    }
    // SAFETY: `args` is a valid clone_args for the duration of the call; with no stack
    // given, clone3 behaves like fork, and the caller guarantees a single thread.
    let pid = check(unsafe {
        libc::syscall(
            libc::SYS_clone3,
            &mut args as *mut CloneArgs,
            std::mem::size_of::<CloneArgs>(),
        )
    })?;
    if pid == 0 {
        return Ok(None);
    }
    // SAFETY: the kernel wrote a fresh pidfd that we now own.
    let pidfd = unsafe { OwnedFd::from_raw_fd(pidfd) };
    Ok(Some(Child {
        pid: pid as libc::pid_t,
        pidfd,
    }))
}

/// Gives up every supplementary group of this process (`setgroups(0, NULL)`).
pub fn clear_supplementary_groups() -> io::Result<()> {
    // SAFETY: an empty list; the pointer is not read.
    check(unsafe { libc::setgroups(0, std::ptr::null()) }.into())?;
    Ok(())
}

/// This process's supplementary groups.
pub fn supplementary_groups() -> io::Result<Vec<libc::gid_t>> {
    // SAFETY: a count of 0 only asks how many there are.
    let n = check(unsafe { libc::getgroups(0, std::ptr::null_mut()) }.into())?;
    let mut groups = vec![0; usize::try_from(n).unwrap_or(0)];
    let len = libc::c_int::try_from(groups.len()).unwrap_or(0);
    // SAFETY: `groups` has room for `len` ids.
    let n = check(unsafe { libc::getgroups(len, groups.as_mut_ptr()) }.into())?;
    groups.truncate(usize::try_from(n).unwrap_or(0));
    Ok(groups)
}

/// Takes `uid` and `gid` as real, effective and saved ids (group first, while the
/// user may still change it).
pub fn become_user(uid: u32, gid: u32) -> io::Result<()> {
    // SAFETY: integer arguments only.
    check(unsafe { libc::setresgid(gid, gid, gid) }.into())?;
    // SAFETY: integer arguments only.
    check(unsafe { libc::setresuid(uid, uid, uid) }.into())?;
    Ok(())
}

/// An id argument of setresuid and setfsuid that changes nothing (-1).
const UNCHANGED: libc::uid_t = libc::uid_t::MAX;

/// Makes `uid` this process's effective uid, keeping its real and saved uids (0, so
/// that [`take_back_effective_root`] may return) and a filesystem uid of 0 (files are
/// still opened with root's access).
pub fn set_effective_uid_keeping_root_files(uid: u32) -> io::Result<()> {
    // SAFETY: integer arguments only.
    check(unsafe { libc::setresuid(UNCHANGED, uid, UNCHANGED) }.into())?;
    // SAFETY: integer arguments only. setfsuid reports no error: -1 (invalid) changes
    // nothing and returns the current value, which says whether 0 took.
    let fsuid = unsafe {
        libc::setfsuid(0);
        libc::setfsuid(UNCHANGED)
    };
    if fsuid != 0 {
        return Err(io::Error::other(format!(
            "the filesystem uid stayed {fsuid}"
        )));
    }
    Ok(())
}

/// Runs `f` with `uid` and `gid` as this thread's effective ids (phantom, as root,
/// acting for the sandbox's user: what `f` creates records them), then takes root's
/// back. Raw system calls: on Linux credentials are each thread's, and only this
/// thread's are to change (the C library's wrappers change every thread's).
pub fn as_effective_ids<T>(uid: u32, gid: u32, f: impl FnOnce() -> T) -> io::Result<T> {
    let set_gid = |gid: libc::gid_t| {
        // SAFETY: integer arguments only; -1 leaves an id unchanged.
        check(unsafe { libc::syscall(libc::SYS_setresgid, UNCHANGED, gid, UNCHANGED) })
    };
    // SAFETY: no arguments.
    let (own_uid, own_gid) = unsafe { (libc::geteuid(), libc::getegid()) };
    set_gid(gid)?;
    // SAFETY: integer arguments only.
    if let Err(e) = check(unsafe { libc::syscall(libc::SYS_setresuid, UNCHANGED, uid, UNCHANGED) })
    {
        set_gid(own_gid)?;
        return Err(e);
    }
    let result = f();
    // The euid first: root's is what may set the gid back.
    // SAFETY: integer arguments only.
    check(unsafe { libc::syscall(libc::SYS_setresuid, UNCHANGED, own_uid, UNCHANGED) })?;
    set_gid(own_gid)?;
    Ok(result)
}

/// Takes effective uid 0 back after [`set_effective_uid_keeping_root_files`].
pub fn take_back_effective_root() -> io::Result<()> {
    // SAFETY: integer arguments only.
    check(unsafe { libc::setresuid(UNCHANGED, 0, UNCHANGED) }.into())?;
    Ok(())
}

/// Plain fork (the sandbox's init forks the workload).
pub fn fork() -> io::Result<libc::pid_t> {
    // SAFETY: the caller (the sandbox init) is single-threaded.
    Ok(check(unsafe { libc::fork() }.into())? as libc::pid_t)
}

pub fn exit_now(code: i32) -> ! {
    // SAFETY: _exit is always safe to call; it does not run destructors or atexit.
    unsafe { libc::_exit(code) }
}

pub fn kill(pid: libc::pid_t, signal: libc::c_int) -> io::Result<()> {
    // SAFETY: plain kill(2).
    check(unsafe { libc::kill(pid, signal) }.into())?;
    Ok(())
}

/// `setns(2)`: joins the namespace `fd` refers to (a namespace file, or a pidfd with
/// `kind` naming which of its process's namespaces).
pub fn setns(fd: RawFd, kind: libc::c_int) -> io::Result<()> {
    // SAFETY: integer arguments only; the kernel checks the descriptor.
    check(i64::from(unsafe { libc::setns(fd, kind) }))?;
    Ok(())
}

/// `unshare(2)` with `flags` (`CLONE_NEW*`).
pub fn unshare(flags: libc::c_int) -> io::Result<()> {
    // SAFETY: integer argument only.
    check(i64::from(unsafe { libc::unshare(flags) }))?;
    Ok(())
}

pub fn setsid() -> io::Result<()> {
    // SAFETY: plain setsid(2).
    check(unsafe { libc::setsid() }.into())?;
    Ok(())
}

/// `waitpid`, retrying on EINTR. Returns (pid, raw status).
pub fn waitpid(pid: libc::pid_t, flags: libc::c_int) -> io::Result<(libc::pid_t, libc::c_int)> {
    loop {
        let mut status = 0;
        // SAFETY: `status` is a valid out-pointer.
        let r = unsafe { libc::waitpid(pid, &mut status, flags) };
        if r >= 0 {
            return Ok((r, status));
        }
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
}

/// `execvpe`: replaces the process, searching `PATH` from `env`. Returns only on error.
pub fn execvpe(argv: &[CString], env: &[CString]) -> io::Error {
    let mut argv_ptrs: Vec<*const libc::c_char> = argv.iter().map(|a| a.as_ptr()).collect();
    argv_ptrs.push(std::ptr::null());
    let mut env_ptrs: Vec<*const libc::c_char> = env.iter().map(|e| e.as_ptr()).collect();
    env_ptrs.push(std::ptr::null());
    let Some(program) = argv.first() else {
        return io::Error::from(io::ErrorKind::InvalidInput);
    };
    let execve = |path: &std::ffi::CStr| -> io::Error {
        // SAFETY: both arrays are NUL-terminated arrays of valid C strings that outlive
        // the call; on success it does not return.
        unsafe { libc::execve(path.as_ptr(), argv_ptrs.as_ptr(), env_ptrs.as_ptr()) };
        io::Error::last_os_error()
    };
    let name = program.to_bytes();
    if name.contains(&b'/') {
        return execve(program);
    }
    // The workload's PATH, not ours (glibc's execvpe would search phantom's), looked up
    // in the sandbox's own filesystem, with execvp's rules: keep looking past missing
    // and inaccessible entries, report EACCES if that is all there was.
    let path = env
        .iter()
        .find_map(|e| e.to_bytes().strip_prefix(b"PATH="))
        .unwrap_or(b"/usr/local/bin:/usr/bin:/bin");
    let mut denied = false;
    for dir in path.split(|&b| b == b':') {
        let dir: &[u8] = if dir.is_empty() { b"." } else { dir };
        let mut full = Vec::with_capacity(dir.len() + 1 + name.len());
        full.extend_from_slice(dir);
        full.push(b'/');
        full.extend_from_slice(name);
        let Ok(full) = CString::new(full) else {
            continue;
        };
        let error = execve(&full);
        match error.raw_os_error() {
            // A script without `#!`: run it with /bin/sh, as execvp does.
            Some(libc::ENOEXEC) => {
                let mut sh_argv: Vec<*const libc::c_char> =
                    vec![c"/bin/sh".as_ptr(), full.as_ptr()];
                sh_argv.extend(argv.iter().skip(1).map(|a| a.as_ptr()));
                sh_argv.push(std::ptr::null());
                // SAFETY: NUL-terminated arrays of C strings that outlive the call.
                unsafe { libc::execve(c"/bin/sh".as_ptr(), sh_argv.as_ptr(), env_ptrs.as_ptr()) };
                return io::Error::last_os_error();
            }
            Some(libc::EACCES) => denied = true,
            Some(libc::ENOENT | libc::ENOTDIR | libc::ESTALE | libc::ENODEV | libc::ETIMEDOUT) => {}
            _ => return error,
        }
    }
    io::Error::from_raw_os_error(if denied { libc::EACCES } else { libc::ENOENT })
}

/// Installs a handler that forwards these signals to `pid` (stored in a static: a
/// signal handler can take no context).
pub fn forward_signals_to(pid: libc::pid_t, signals: &[libc::c_int]) -> io::Result<()> {
    FORWARD_TO.store(pid, std::sync::atomic::Ordering::SeqCst);
    for &signal in signals {
        // SAFETY: sigaction with a valid handler that only calls async-signal-safe kill().
        let mut action: libc::sigaction = unsafe { std::mem::zeroed() };
        action.sa_sigaction = forward as *const () as usize;
        action.sa_flags = libc::SA_RESTART;
        // SAFETY: `action` is initialized; the old action is not needed.
        check(unsafe { libc::sigaction(signal, &action, std::ptr::null_mut()) }.into())?;
    }
    Ok(())
}

static FORWARD_TO: std::sync::atomic::AtomicI32 = std::sync::atomic::AtomicI32::new(0);

extern "C" fn forward(signal: libc::c_int) {
    let pid = FORWARD_TO.load(std::sync::atomic::Ordering::SeqCst);
    if pid > 0 {
        // SAFETY: kill is async-signal-safe.
        unsafe { libc::kill(pid, signal) };
    }
}

/// Sends a signal through a pidfd (no pid reuse races).
pub fn pidfd_kill(pidfd: &OwnedFd, signal: libc::c_int) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    // SAFETY: valid pidfd; null siginfo is allowed.
    check(unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            pidfd.as_raw_fd(),
            signal,
            std::ptr::null::<libc::siginfo_t>(),
            0,
        )
    })?;
    Ok(())
}

/// Blocks these signals in this thread and returns a signalfd that reads them.
pub fn signalfd_for(signals: &[libc::c_int]) -> io::Result<OwnedFd> {
    // SAFETY: sigset_t is plain data; sigemptyset initializes it.
    let mut set: libc::sigset_t = unsafe { std::mem::zeroed() };
    // SAFETY: `set` is a valid sigset_t.
    unsafe { libc::sigemptyset(&mut set) };
    for &s in signals {
        // SAFETY: `set` is initialized; `s` is a signal number.
        unsafe { libc::sigaddset(&mut set, s) };
    }
    // SAFETY: valid set; the old mask is not needed.
    check(unsafe { libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) }.into())?;
    // SAFETY: valid set; -1 creates a new fd.
    let fd = check(unsafe { libc::signalfd(-1, &set, libc::SFD_CLOEXEC) }.into())?;
    // SAFETY: we own the new fd.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

/// Puts SIGPIPE back to its default action. Rust's runtime ignores it in phantom's
/// `main`, and an ignored signal stays ignored across execve: `yes | head -1` in the
/// sandbox would complain of a broken pipe instead of ending quietly.
pub fn default_sigpipe() -> io::Result<()> {
    // SAFETY: SIG_DFL is a valid disposition for SIGPIPE.
    if unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) } == libc::SIG_ERR {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Unblocks every signal (the workload must not inherit our mask).
pub fn unblock_all_signals() -> io::Result<()> {
    // SAFETY: as in signalfd_for.
    let mut set: libc::sigset_t = unsafe { std::mem::zeroed() };
    // SAFETY: `set` is valid.
    unsafe { libc::sigfillset(&mut set) };
    // SAFETY: valid set.
    check(unsafe { libc::pthread_sigmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut()) }.into())?;
    Ok(())
}

pub fn poll(fds: &mut [libc::pollfd], timeout_ms: i32) -> io::Result<usize> {
    // SAFETY: `fds` is a valid slice of pollfd for the call.
    let n = check(
        unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, timeout_ms) }.into(),
    )?;
    Ok(n as usize)
}

pub fn read_fd(fd: &OwnedFd, buf: &mut [u8]) -> io::Result<usize> {
    use std::os::fd::AsRawFd;
    // SAFETY: `buf` is valid for `buf.len()` bytes.
    let n = check(
        unsafe { libc::read(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) } as libc::c_long,
    )?;
    Ok(n as usize)
}

pub fn uid() -> u32 {
    // SAFETY: getuid cannot fail.
    unsafe { libc::getuid() }
}

pub fn gid() -> u32 {
    // SAFETY: getgid cannot fail.
    unsafe { libc::getgid() }
}

/// Makes `fd` the process's stdin, stdout and stderr and its controlling terminal
/// (after `setsid`).
pub fn take_terminal(fd: RawFd) -> io::Result<()> {
    for target in 0..3 {
        // SAFETY: dup2 on valid fds.
        check(unsafe { libc::dup2(fd, target) }.into())?;
    }
    // SAFETY: TIOCSCTTY with argument 0 on our stdin, a terminal.
    check(unsafe { libc::ioctl(0, libc::TIOCSCTTY, 0) }.into())?;
    Ok(())
}

/// Copies the window size of terminal `from` to `to`.
pub fn copy_window_size(from: RawFd, to: RawFd) {
    // SAFETY: winsize is plain data; the ioctls only read/write it.
    let mut size: libc::winsize = unsafe { std::mem::zeroed() };
    // SAFETY: as above.
    if unsafe { libc::ioctl(from, libc::TIOCGWINSZ, &mut size) } == 0 {
        // SAFETY: as above.
        unsafe { libc::ioctl(to, libc::TIOCSWINSZ, &size) };
    }
}

/// Puts terminal `fd` in raw mode; returns the previous settings to restore.
pub fn make_raw(fd: RawFd) -> Option<libc::termios> {
    // SAFETY: termios is plain data filled by tcgetattr.
    let mut old: libc::termios = unsafe { std::mem::zeroed() };
    // SAFETY: valid out-pointer.
    if unsafe { libc::tcgetattr(fd, &mut old) } != 0 {
        return None;
    }
    let mut raw = old;
    // SAFETY: valid termios.
    unsafe { libc::cfmakeraw(&mut raw) };
    // SAFETY: valid termios.
    unsafe { libc::tcsetattr(fd, libc::TCSANOW, &raw) };
    Some(old)
}

pub fn restore_terminal(fd: RawFd, settings: &libc::termios) {
    // SAFETY: valid termios from make_raw.
    unsafe { libc::tcsetattr(fd, libc::TCSANOW, settings) };
}

/// What a workload that shares phantom's stdin, stdout and stderr could leave changed
/// for the user after its run: each one's file status flags (`O_NONBLOCK`, which
/// Node.js sets, lives in the open file description the workload shares) and, for a
/// terminal, its settings (echo, canonical mode, as `stty` shows them), window size,
/// exclusive use and stopped output (base refuses the last two to the workload).
pub struct StdioState {
    saved: Vec<(RawFd, libc::c_int, Option<Terminal>)>,
}

/// A terminal's state that outlasts a process: its settings and its window size.
struct Terminal {
    settings: libc::termios,
    size: Option<libc::winsize>,
    exclusive: bool,
}

impl StdioState {
    /// The state of descriptors 0–2 now; those that are not open are left out.
    pub fn save() -> StdioState {
        let saved = (0..=2)
            .filter_map(|fd| {
                // SAFETY: F_GETFL takes no argument and only reads.
                let flags = unsafe { libc::fcntl(fd, libc::F_GETFL) };
                (flags >= 0).then(|| {
                    // SAFETY: termios is plain data filled by tcgetattr.
                    let mut settings: libc::termios = unsafe { std::mem::zeroed() };
                    // SAFETY: valid out-pointer; fails with ENOTTY off a terminal.
                    let tty = unsafe { libc::tcgetattr(fd, &mut settings) } == 0;
                    let terminal = tty.then(|| {
                        // SAFETY: winsize is plain data filled by the ioctl.
                        let mut size: libc::winsize = unsafe { std::mem::zeroed() };
                        // SAFETY: valid out-pointer for TIOCGWINSZ.
                        let sized = unsafe { libc::ioctl(fd, libc::TIOCGWINSZ, &mut size) } == 0;
                        let mut exclusive: libc::c_int = 0;
                        // SAFETY: valid out-pointer for TIOCGEXCL (an int).
                        unsafe { libc::ioctl(fd, libc::TIOCGEXCL, &mut exclusive) };
                        Terminal {
                            settings,
                            size: sized.then_some(size),
                            exclusive: exclusive != 0,
                        }
                    });
                    (fd, flags, terminal)
                })
            })
            .collect();
        StdioState { saved }
    }

    /// Puts back what [`save`](Self::save) saw. Changing a terminal's settings from a
    /// background process group raises SIGTTOU, which would stop phantom: it is
    /// blocked meanwhile, which lets the change through.
    pub fn restore(&self) {
        // SAFETY: sigset_t is plain data, initialised by sigemptyset.
        let mut ttou: libc::sigset_t = unsafe { std::mem::zeroed() };
        // SAFETY: valid sigset pointers throughout; the old mask is restored below.
        let mut old: libc::sigset_t = unsafe { std::mem::zeroed() };
        // SAFETY: as above.
        unsafe {
            libc::sigemptyset(&mut ttou);
            libc::sigaddset(&mut ttou, libc::SIGTTOU);
            libc::sigprocmask(libc::SIG_BLOCK, &ttou, &mut old);
        }
        for (fd, flags, settings) in &self.saved {
            // SAFETY: F_GETFL/F_SETFL take an int; descriptors 0–2 stay phantom's.
            if unsafe { libc::fcntl(*fd, libc::F_GETFL) } != *flags {
                // SAFETY: as above.
                unsafe { libc::fcntl(*fd, libc::F_SETFL, *flags) };
            }
            if let Some(terminal) = settings {
                restore_terminal(*fd, &terminal.settings);
                // SAFETY: plain ioctls on phantom's own stdio with valid arguments:
                // output resumed (a workload's TCOOFF would block phantom's last words),
                // exclusive use ended unless it was so before, the window size put back.
                unsafe {
                    libc::tcflow(*fd, libc::TCOON);
                    if !terminal.exclusive {
                        libc::ioctl(*fd, libc::TIOCNXCL);
                    }
                    if let Some(size) = &terminal.size {
                        libc::ioctl(*fd, libc::TIOCSWINSZ, size);
                    }
                }
            }
        }
        // SAFETY: the mask saved above.
        unsafe { libc::sigprocmask(libc::SIG_SETMASK, &old, std::ptr::null_mut()) };
    }
}

pub fn write_fd(fd: RawFd, buf: &[u8]) -> io::Result<usize> {
    // SAFETY: `buf` is valid for its length.
    let n = check(unsafe { libc::write(fd, buf.as_ptr().cast(), buf.len()) } as libc::c_long)?;
    Ok(n as usize)
}

pub fn read_raw(fd: RawFd, buf: &mut [u8]) -> io::Result<usize> {
    // SAFETY: `buf` is valid for its length.
    let n = check(unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) } as libc::c_long)?;
    Ok(n as usize)
}

/// Opens a new terminal in the current mount namespace's `/dev/ptmx` (the sandbox's
/// own devpts), so the workload's `ttyname` resolves inside the sandbox.
pub fn open_pty_here() -> io::Result<(OwnedFd, OwnedFd)> {
    use std::os::fd::AsRawFd;
    // SAFETY: static path; the fd is ours.
    let master = check(
        unsafe {
            libc::open(
                c"/dev/ptmx".as_ptr(),
                libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC,
            )
        }
        .into(),
    )? as RawFd;
    // SAFETY: we own it.
    let master = unsafe { OwnedFd::from_raw_fd(master) };
    // SAFETY: valid master fd.
    check(unsafe { libc::unlockpt(master.as_raw_fd()) }.into())?;
    // TIOCGPTPEER opens the slave from the master without a path lookup.
    // SAFETY: valid master fd; the flags are open(2) flags.
    let slave = check(
        unsafe {
            libc::ioctl(
                master.as_raw_fd(),
                libc::TIOCGPTPEER,
                libc::O_RDWR | libc::O_NOCTTY,
            )
        }
        .into(),
    )? as RawFd;
    // SAFETY: we own the new fd.
    Ok((master, unsafe { OwnedFd::from_raw_fd(slave) }))
}

/// `send(2)` of all of `bytes` with MSG_NOSIGNAL: a peer that is gone is EPIPE, not
/// a SIGPIPE.
pub fn send_nosignal(socket: RawFd, mut bytes: &[u8]) -> io::Result<()> {
    while !bytes.is_empty() {
        // SAFETY: `bytes` is valid for its length for the call.
        let n = unsafe {
            libc::send(
                socket,
                bytes.as_ptr().cast(),
                bytes.len(),
                libc::MSG_NOSIGNAL,
            )
        };
        if n < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        bytes = bytes.get(n as usize..).unwrap_or_default();
    }
    Ok(())
}

/// Sets O_NONBLOCK on a descriptor.
pub fn set_nonblocking(fd: RawFd) -> io::Result<()> {
    // SAFETY: F_GETFL/F_SETFL only read and change the descriptor's status flags.
    let flags = check(unsafe { libc::fcntl(fd, libc::F_GETFL) }.into())?;
    let flags = flags as libc::c_int | libc::O_NONBLOCK;
    // SAFETY: as above.
    let set = unsafe { libc::fcntl(fd, libc::F_SETFL, flags) };
    check(set.into())?;
    Ok(())
}

/// `pidfd_open(2)`: a descriptor for process `pid`, which stays valid (and refers to
/// that process only) even if the pid is reused.
/// `PIDFD_THREAD` (Linux 6.9): a pidfd for a thread that need not lead its group.
const PIDFD_THREAD: libc::c_long = libc::O_EXCL as libc::c_long;

/// A pidfd for the thread `tid`, which may be any thread of its process: with
/// `PIDFD_THREAD` where the kernel has it, else (older kernels) a plain pidfd, which
/// only a thread group's leader has.
pub fn pidfd_open_thread(tid: libc::pid_t) -> io::Result<OwnedFd> {
    // SAFETY: plain syscall with integer arguments.
    match check(unsafe { libc::syscall(libc::SYS_pidfd_open, tid, PIDFD_THREAD) }) {
        // SAFETY: the kernel returned a fresh descriptor we now own.
        Ok(fd) => Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) }),
        Err(e) if e.raw_os_error() == Some(libc::EINVAL) => pidfd_open(tid),
        Err(e) => Err(e),
    }
}

pub fn pidfd_open(pid: libc::pid_t) -> io::Result<OwnedFd> {
    // SAFETY: plain syscall with integer arguments.
    let fd = check(unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) })?;
    // SAFETY: the kernel returned a fresh descriptor we now own.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

/// Sends `data` with `fds` in one message (SCM_RIGHTS): on a SOCK_SEQPACKET socket the
/// receiver gets both whole, in one `recvmsg`.
pub fn send_with_fds(socket: RawFd, data: &[u8], fds: &[RawFd]) -> io::Result<()> {
    const MAX_FDS: usize = 16;
    if fds.len() > MAX_FDS || data.is_empty() {
        return Err(io::Error::from_raw_os_error(libc::EINVAL));
    }
    let mut iov = libc::iovec {
        iov_base: data.as_ptr() as *mut libc::c_void,
        iov_len: data.len(),
    };
    // Room for MAX_FDS descriptors, aligned for cmsghdr.
    let mut space = [0u64; 16];
    // SAFETY: msghdr is plain data; zeroed is valid.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    if !fds.is_empty() {
        let bytes = std::mem::size_of_val(fds) as u32;
        msg.msg_control = space.as_mut_ptr().cast();
        // SAFETY: CMSG_SPACE is a pure size computation.
        msg.msg_controllen = unsafe { libc::CMSG_SPACE(bytes) } as _;
        // SAFETY: the control buffer (128 bytes) holds one cmsg with up to MAX_FDS
        // descriptors, and CMSG_FIRSTHDR of a msghdr with that buffer is non-null.
        unsafe {
            let cmsg = libc::CMSG_FIRSTHDR(&msg);
            (*cmsg).cmsg_level = libc::SOL_SOCKET;
            (*cmsg).cmsg_type = libc::SCM_RIGHTS;
            (*cmsg).cmsg_len = libc::CMSG_LEN(bytes) as _;
            std::ptr::copy_nonoverlapping(
                fds.as_ptr(),
                libc::CMSG_DATA(cmsg).cast::<RawFd>(),
                fds.len(),
            );
        }
    }
    // SAFETY: `msg` points at live buffers for the call; the data is only read.
    check(unsafe { libc::sendmsg(socket, &msg, libc::MSG_NOSIGNAL) } as libc::c_long)?;
    Ok(())
}

/// A connected pair of SOCK_SEQPACKET Unix sockets (message boundaries kept), both
/// close-on-exec.
pub fn seqpacket_pair() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0 as libc::c_int; 2];
    let kind = libc::SOCK_SEQPACKET | libc::SOCK_CLOEXEC;
    // SAFETY: `fds` has room for the two descriptors the kernel writes.
    let made = unsafe { libc::socketpair(libc::AF_UNIX, kind, 0, fds.as_mut_ptr()) };
    check(made.into())?;
    // SAFETY: the kernel returned two fresh descriptors we now own.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// Lets `fd` survive execve (clears FD_CLOEXEC): for descriptors a program is handed
/// by number.
pub fn keep_across_exec(fd: RawFd) -> io::Result<()> {
    // SAFETY: F_SETFD with 0 only changes the descriptor's flags.
    check(unsafe { libc::fcntl(fd, libc::F_SETFD, 0) }.into())?;
    Ok(())
}

/// Opens `path` as an O_PATH directory descriptor (for a Landlock rule on it).
pub fn open_path_dir(path: &Path) -> io::Result<OwnedFd> {
    use std::os::unix::ffi::OsStrExt;
    let c = CString::new(path.as_os_str().as_bytes())
        .map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
    // SAFETY: `c` is a valid NUL-terminated path for the call.
    let fd = check(
        unsafe {
            libc::open(
                c.as_ptr(),
                libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC,
            )
        }
        .into(),
    )?;
    // SAFETY: the kernel returned a fresh descriptor we now own.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

/// Sends one fd over a unix socket (SCM_RIGHTS).
pub fn send_fd(socket: RawFd, fd: RawFd) -> io::Result<()> {
    send_fd_tagged(socket, 0, fd)
}

/// [`send_fd`], the descriptor's one byte set to `tag` (what the receiver is to do
/// with it).
pub fn send_fd_tagged(socket: RawFd, tag: u8, fd: RawFd) -> io::Result<()> {
    let mut byte = [tag];
    let mut iov = libc::iovec {
        iov_base: byte.as_mut_ptr().cast(),
        iov_len: 1,
    };
    let mut space = [0u8; 64];
    // SAFETY: msghdr is plain data; zeroed is valid.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = space.as_mut_ptr().cast();
    // SAFETY: CMSG_SPACE is a pure size computation.
    msg.msg_controllen = unsafe { libc::CMSG_SPACE(std::mem::size_of::<RawFd>() as u32) } as _;
    // SAFETY: the control buffer is large enough for one cmsg with one fd, and
    // CMSG_FIRSTHDR of a msghdr with that buffer is non-null.
    unsafe {
        let cmsg = libc::CMSG_FIRSTHDR(&msg);
        (*cmsg).cmsg_level = libc::SOL_SOCKET;
        (*cmsg).cmsg_type = libc::SCM_RIGHTS;
        (*cmsg).cmsg_len = libc::CMSG_LEN(std::mem::size_of::<RawFd>() as u32) as _;
        std::ptr::write_unaligned(libc::CMSG_DATA(cmsg).cast::<RawFd>(), fd);
    }
    // SAFETY: `msg` points at live buffers for the call.
    check(unsafe { libc::sendmsg(socket, &msg, 0) } as libc::c_long)?;
    Ok(())
}

/// What one `recvmsg` brought.
struct Received {
    /// Bytes read into the buffer.
    len: usize,
    /// The descriptors that came with them (close-on-exec).
    fds: Vec<OwnedFd>,
    /// Whether the kernel had to drop some control data (MSG_CTRUNC).
    truncated: bool,
    /// The sender's pid, where the socket has [`pass_credentials`] on.
    sender: Option<libc::pid_t>,
}

fn recv_message(socket: RawFd, buf: &mut [u8]) -> io::Result<Received> {
    let mut iov = libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: buf.len(),
    };
    // Room for the credentials and a few descriptors, aligned for cmsghdr.
    let mut space = [0u64; 16];
    // SAFETY: msghdr is plain data; zeroed is valid.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = space.as_mut_ptr().cast();
    msg.msg_controllen = std::mem::size_of_val(&space) as _;
    // SAFETY: `msg` points at live buffers; MSG_CMSG_CLOEXEC marks the fds close-on-exec.
    let n =
        check(unsafe { libc::recvmsg(socket, &mut msg, libc::MSG_CMSG_CLOEXEC) } as libc::c_long)?;
    let mut sender = None;
    // SAFETY: as in `take_fds`: the control buffer is alive, and CMSG_FIRSTHDR and
    // CMSG_NXTHDR stay within it; an SCM_CREDENTIALS entry holds one `ucred`.
    unsafe {
        let mut cmsg = libc::CMSG_FIRSTHDR(&msg);
        while !cmsg.is_null() {
            if (*cmsg).cmsg_level == libc::SOL_SOCKET && (*cmsg).cmsg_type == libc::SCM_CREDENTIALS
            {
                let cred = std::ptr::read_unaligned(libc::CMSG_DATA(cmsg).cast::<libc::ucred>());
                sender = Some(cred.pid).filter(|p| *p > 0);
            }
            cmsg = libc::CMSG_NXTHDR(&msg, cmsg);
        }
    }
    Ok(Received {
        len: n as usize,
        fds: take_fds(&msg),
        truncated: msg.msg_flags & libc::MSG_CTRUNC != 0,
        sender,
    })
}

/// One `recvmsg` into `buf`: the bytes read, the descriptors that came with them
/// (close-on-exec), and whether the kernel had to drop some (MSG_CTRUNC).
fn recv_with_fds(socket: RawFd, buf: &mut [u8]) -> io::Result<(usize, Vec<OwnedFd>, bool)> {
    let received = recv_message(socket, buf)?;
    Ok((received.len, received.fds, received.truncated))
}

/// Reads bytes from a Unix stream socket, and a descriptor if one came with them (one
/// sent with [`send_fd`] arrives with its one byte).
pub fn recv_bytes_and_fd(socket: RawFd, buf: &mut [u8]) -> io::Result<(usize, Option<OwnedFd>)> {
    let (n, fds, truncated) = recv_with_fds(socket, buf)?;
    if truncated {
        // The kernel dropped descriptors (no room, or refused on the way).
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "descriptors sent were dropped on the way (MSG_CTRUNC)",
        ));
    }
    Ok((n, fds.into_iter().next()))
}

/// [`recv_fd`], and the sender's pid where the socket has [`pass_credentials`] on.
pub fn recv_fd_and_sender(socket: RawFd) -> io::Result<(OwnedFd, Option<libc::pid_t>)> {
    let mut byte = [0u8; 1];
    let mut received = recv_message(socket, &mut byte)?;
    if received.len == 0 {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "the other end closed the socket without sending a descriptor",
        ));
    }
    if received.truncated || received.fds.len() != 1 {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "expected exactly one descriptor",
        ));
    }
    let fd = received
        .fds
        .pop()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "no descriptor received"))?;
    Ok((fd, received.sender))
}

/// Receives one fd sent with [`send_fd`].
pub fn recv_fd(socket: RawFd) -> io::Result<OwnedFd> {
    recv_fd_and_sender(socket).map(|(fd, _)| fd)
}

/// Every descriptor in a received message's SCM_RIGHTS, owned (so those not kept are
/// closed when dropped, never leaked).
fn take_fds(msg: &libc::msghdr) -> Vec<OwnedFd> {
    let mut out = Vec::new();
    // SAFETY: `msg` was filled by recvmsg with a control buffer that is still alive;
    // CMSG_FIRSTHDR/CMSG_NXTHDR stay within it and return null at its end; each
    // SCM_RIGHTS entry holds `(cmsg_len - CMSG_LEN(0)) / 4` descriptors the kernel
    // just installed for this process, which nothing else owns.
    unsafe {
        let mut cmsg = libc::CMSG_FIRSTHDR(msg);
        while !cmsg.is_null() {
            if (*cmsg).cmsg_level == libc::SOL_SOCKET && (*cmsg).cmsg_type == libc::SCM_RIGHTS {
                let header = libc::CMSG_LEN(0) as usize;
                let count = ((*cmsg).cmsg_len as usize).saturating_sub(header)
                    / std::mem::size_of::<RawFd>();
                let data = libc::CMSG_DATA(cmsg).cast::<RawFd>();
                for i in 0..count {
                    out.push(OwnedFd::from_raw_fd(std::ptr::read_unaligned(data.add(i))));
                }
            }
            cmsg = libc::CMSG_NXTHDR(msg, cmsg);
        }
    }
    out
}

/// Receives either a descriptor (sent with [`send_fd`]) or, instead, four bytes
/// holding an errno: `Ok(Ok(fd))`, `Ok(Err(errno))`.
pub fn recv_fd_or_bytes(socket: RawFd) -> io::Result<Result<OwnedFd, i32>> {
    let mut data = [0u8; 4];
    let (n, mut fds, truncated) = recv_with_fds(socket, &mut data)?;
    if fds.len() == 1 && !truncated {
        if let Some(fd) = fds.pop() {
            return Ok(Ok(fd));
        }
    }
    if !fds.is_empty() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "expected exactly one descriptor",
        ));
    }
    if n == 4 {
        Ok(Err(i32::from_le_bytes(data)))
    } else {
        Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "the other end closed without an answer",
        ))
    }
}

/// The peer of a connected Unix socket (`SO_PEERCRED`).
#[derive(Clone, Copy, Debug)]
pub struct PeerCredentials {
    pub pid: libc::pid_t,
    pub uid: u32,
}

pub fn peer_credentials(socket: RawFd) -> io::Result<PeerCredentials> {
    let mut cred = libc::ucred {
        pid: 0,
        uid: 0,
        gid: 0,
    };
    let mut len = std::mem::size_of::<libc::ucred>() as libc::socklen_t;
    // SAFETY: `cred` and `len` are valid out-pointers of the sizes given.
    check(libc::c_long::from(unsafe {
        libc::getsockopt(
            socket,
            libc::SOL_SOCKET,
            libc::SO_PEERCRED,
            (&mut cred as *mut libc::ucred).cast(),
            &mut len,
        )
    }))?;
    Ok(PeerCredentials {
        pid: cred.pid,
        uid: cred.uid,
    })
}

/// `SO_PEERPIDFD` (Linux 6.5): a pidfd for the process that connected.
const SO_PEERPIDFD: libc::c_int = 77;

/// A pidfd for the peer of a connected Unix socket, where the kernel has
/// `SO_PEERPIDFD` (`Ok(None)` on older kernels): with it, what is read about the peer
/// by pid can be checked to be about that process and not one that took its pid.
pub fn peer_pidfd(socket: RawFd) -> io::Result<Option<OwnedFd>> {
    let mut fd: libc::c_int = -1;
    let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: `fd` and `len` are valid out-pointers of the sizes given.
    let r = unsafe {
        libc::getsockopt(
            socket,
            libc::SOL_SOCKET,
            SO_PEERPIDFD,
            (&mut fd as *mut libc::c_int).cast(),
            &mut len,
        )
    };
    if r != 0 {
        let e = io::Error::last_os_error();
        return match e.raw_os_error() {
            Some(libc::ENOPROTOOPT) => Ok(None),
            _ => Err(e),
        };
    }
    // SAFETY: the kernel returned a fresh pidfd that we now own.
    Ok(Some(unsafe { OwnedFd::from_raw_fd(fd) }))
}

/// Runs `f` with the process's umask set to `mask` (then restored): for creating a
/// socket file that is never, even for an instant, open to others.
pub fn with_umask<T>(mask: libc::mode_t, f: impl FnOnce() -> T) -> T {
    // SAFETY: umask cannot fail; single-threaded callers only (the umask is per
    // process).
    let old = unsafe { libc::umask(mask) };
    let out = f();
    // SAFETY: as above.
    unsafe { libc::umask(old) };
    out
}

/// Waits for the process behind `pidfd` to end (`waitid(P_PIDFD)`): unlike waitpid
/// on a pid, it cannot wait for another process that reused the pid.
pub fn wait_pidfd(pidfd: &OwnedFd) -> io::Result<()> {
    loop {
        // SAFETY: siginfo_t is plain data; zeroed is valid, and the kernel writes it.
        let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
        // SAFETY: a valid pidfd and out-pointer.
        let r = unsafe {
            libc::waitid(
                libc::P_PIDFD,
                pidfd.as_raw_fd() as libc::id_t,
                &mut info,
                libc::WEXITED,
            )
        };
        if r == 0 {
            return Ok(());
        }
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
}

/// Whether the process behind `pidfd` has ended (without waiting).
pub fn pidfd_exited(pidfd: &OwnedFd) -> bool {
    let mut fds = [libc::pollfd {
        fd: pidfd.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    }];
    poll(&mut fds, 0).map_or(true, |n| n > 0)
}

/// Closes a descriptor this process holds through a copy it must not drop (a forked
/// child's copy of its parent's listening socket); errors are of no use here.
pub fn close_raw(fd: RawFd) {
    // SAFETY: closing an fd number has no memory effects; the caller guarantees no
    // owner in this process uses it afterwards (the owners' destructors never run in
    // the forked child, which ends with `exit_now`).
    unsafe { libc::close(fd) };
}

/// `dup2(2)`: makes `target` a copy of `fd`.
pub fn dup2(fd: RawFd, target: RawFd) -> io::Result<()> {
    // SAFETY: integer arguments only; the caller owns `target`'s slot.
    check(libc::c_long::from(unsafe { libc::dup2(fd, target) }))?;
    Ok(())
}

pub fn set_dumpable(dumpable: bool) -> io::Result<()> {
    // SAFETY: prctl with integer arguments.
    let ret = unsafe {
        libc::prctl(
            libc::PR_SET_DUMPABLE,
            libc::c_ulong::from(dumpable),
            0,
            0,
            0,
        )
    };
    check(ret.into())?;
    Ok(())
}

/// Whether the object behind `fd` is a directory (`fstat`, one call).
pub fn fd_is_dir(fd: &OwnedFd) -> io::Result<bool> {
    use std::os::fd::AsRawFd;
    // SAFETY: stat is plain data filled by fstat.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: valid fd and out-pointer.
    let ret = unsafe { libc::fstat(fd.as_raw_fd(), &mut st) };
    check(ret.into())?;
    Ok(st.st_mode & libc::S_IFMT == libc::S_IFDIR)
}

/// Replaces what `/proc/<pid>/cmdline` shows for this process with `name`: init is a
/// fork of phantom, and the workload must not read phantom's command line (host paths,
/// `--env` values) through `/proc/1/cmdline`. Best effort; fails only if
/// `/proc/self/stat` cannot be read or parsed.
pub fn set_cmdline(name: &str) -> io::Result<()> {
    let stat = std::fs::read_to_string("/proc/self/stat")?;
    let invalid = || io::Error::new(io::ErrorKind::InvalidData, "unexpected /proc/self/stat");
    // Fields after the command name (which may hold spaces) start with field 3;
    // arg_start and arg_end are fields 48 and 49.
    let after = stat.rsplit_once(')').ok_or_else(invalid)?.1;
    let mut fields = after.split_whitespace().skip(45);
    let mut next = || -> io::Result<usize> {
        fields
            .next()
            .and_then(|f| f.parse().ok())
            .ok_or_else(invalid)
    };
    let (start, end) = (next()?, next()?);
    let len = end
        .checked_sub(start)
        .filter(|&l| l > 0)
        .ok_or_else(invalid)?;
    let bytes = name.as_bytes();
    let keep = bytes.len().min(len - 1);
    // SAFETY: [start, end) is this process's argument area, set up by the kernel at
    // exec in the process's own writable stack mapping; nothing else of ours points
    // into it (phantom's argument strings were read before this fork, and this process
    // never reads them again), and the write stays inside it.
    unsafe {
        let area = start as *mut u8;
        std::ptr::write_bytes(area, 0, len);
        std::ptr::copy_nonoverlapping(bytes.as_ptr(), area, keep);
    }
    Ok(())
}

/// What a [`Courier`] and the thread that started it share.
struct CourierState {
    socket: RawFd,
    /// The descriptor to send, once there; `COURIER_PENDING` until then.
    fd: std::sync::atomic::AtomicI32,
    /// `COURIER_PENDING`, then 0 once sent, or the errno of the failed send.
    done: std::sync::atomic::AtomicI32,
}

const COURIER_PENDING: i32 = -1;
const COURIER_ABANDONED: i32 = -2;
const COURIER_STACK: usize = 64 * 1024;

/// A helper that sends, over `socket`, a descriptor its starter has yet to create, and
/// then closes the starter's copy.
///
/// For the seccomp listener: the workload installs a filter that may leave any call
/// (`sendmsg`, `close`, `execve`) to the very supervisor the listener is for, so once
/// the filter is on it cannot send the listener itself without waiting on that
/// supervisor for ever (runc and crun hung on exactly this), nor close its own copy,
/// which, held across a supervised `execve`, would keep the call waiting even after
/// the agent went away (the kernel fails such calls only once no listener is open).
/// The courier, started before the filter, is not under it: a process sharing the
/// workload's memory and descriptor table (`clone(CLONE_VM | CLONE_FILES)`; not a
/// thread, which musl's `clone` refuses to make), a child of the workload's parent
/// (`CLONE_PARENT`: init, or phantom in direct mode, reaps it, not the command the
/// workload becomes). It sends the descriptor, closes it, says so through memory and
/// exits; it runs nothing else, and the memory it shares (the workload's before
/// `execve`) is not dumpable, so nothing in the sandbox can take it over in the moment
/// it may outlive the workload's `execve`. Its stack and state are never freed: the
/// process execs or exits right after.
pub struct Courier {
    state: &'static CourierState,
}

extern "C" fn courier_main(arg: *mut libc::c_void) -> libc::c_int {
    use std::sync::atomic::Ordering;
    // SAFETY: `arg` is the leaked `CourierState` of `Courier::start`, alive for as long
    // as this process is.
    let state = unsafe { &*arg.cast::<CourierState>() };
    let fd = loop {
        let fd = state.fd.load(Ordering::Acquire);
        if fd != COURIER_PENDING {
            break fd;
        }
        // SAFETY: no arguments; this thread runs under no filter.
        unsafe { libc::sched_yield() };
    };
    if fd == COURIER_ABANDONED {
        return 0;
    }
    let code = match send_fd(state.socket, fd) {
        Ok(()) => 0,
        Err(e) => e.raw_os_error().unwrap_or(libc::EIO).max(1),
    };
    // SAFETY: the starter's descriptor, which it handed over and never closes itself.
    unsafe { libc::close(fd) };
    state.done.store(code, Ordering::Release);
    0
}

impl Courier {
    /// Starts the courier for `socket`. The caller must end with [`Courier::deliver`]
    /// or [`Courier::abandon`].
    pub fn start(socket: RawFd) -> io::Result<Courier> {
        use std::sync::atomic::AtomicI32;
        let state: &'static CourierState = Box::leak(Box::new(CourierState {
            socket,
            fd: AtomicI32::new(COURIER_PENDING),
            done: AtomicI32::new(COURIER_PENDING),
        }));
        // SAFETY: a fresh anonymous mapping; nothing else refers to it.
        let stack = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                COURIER_STACK,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_STACK,
                -1,
                0,
            )
        };
        if stack == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        // The exit signal is the caller's own (CLONE_PARENT), for its parent.
        let flags = libc::CLONE_VM | libc::CLONE_FILES | libc::CLONE_PARENT;
        // SAFETY: the stack is COURIER_STACK bytes, its top page-aligned (stacks grow
        // down); `courier_main` uses only the state passed (leaked, so it outlives the
        // courier) and system calls that allocate nothing. It shares the caller's
        // thread pointer, so errno is the caller's: the caller reads none while it
        // waits in `deliver`.
        let tid = unsafe {
            libc::clone(
                courier_main,
                stack.cast::<u8>().add(COURIER_STACK).cast(),
                flags,
                std::ptr::from_ref(state).cast_mut().cast(),
            )
        };
        if tid < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(Courier { state })
    }

    /// Gives the courier `fd` to send and close, and waits, spinning (a system call
    /// could be left to the supervisor that has not got the descriptor yet), until it
    /// is sent. `fd` is the courier's from then on.
    pub fn deliver(self, fd: RawFd) -> io::Result<()> {
        use std::sync::atomic::Ordering;
        self.state.fd.store(fd, Ordering::Release);
        loop {
            match self.state.done.load(Ordering::Acquire) {
                COURIER_PENDING => std::hint::spin_loop(),
                0 => return Ok(()),
                errno => return Err(io::Error::from_raw_os_error(errno)),
            }
        }
    }

    /// Tells the courier there is nothing to send; it exits.
    pub fn abandon(self) {
        self.state
            .fd
            .store(COURIER_ABANDONED, std::sync::atomic::Ordering::Release);
    }
}

/// Lets the kernel attach the sender's credentials to what `socket` receives
/// (`SO_PASSCRED`), for [`recv_sender`].
pub fn pass_credentials(socket: RawFd) -> io::Result<()> {
    let on: libc::c_int = 1;
    // SAFETY: `on` is a valid int for the call's duration.
    check(libc::c_long::from(unsafe {
        libc::setsockopt(
            socket,
            libc::SOL_SOCKET,
            libc::SO_PASSCRED,
            std::ptr::from_ref(&on).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    }))?;
    Ok(())
}

/// Receives one byte over a socket with [`pass_credentials`] on, and the sending
/// process's pid as this process sees it (the kernel translates it from the sender's
/// pid namespace), if the kernel attached it. A descriptor that came with it is closed.
pub fn recv_sender(socket: RawFd) -> io::Result<Option<libc::pid_t>> {
    let mut byte = [0u8; 1];
    let received = recv_message(socket, &mut byte)?;
    if received.len == 0 {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "the other end closed the socket without a word",
        ));
    }
    Ok(received.sender)
}

/// Connects a Unix stream socket to `path` without waiting: a listener whose queue is
/// full (one that never accepts) is an error at once (`WouldBlock`), not a wait with no
/// end. The socket returned blocks, and is close-on-exec.
pub fn connect_unix_now(path: &Path) -> io::Result<std::os::unix::net::UnixStream> {
    use std::os::unix::ffi::OsStrExt;
    // SAFETY: sockaddr_un is plain data; zeroed is valid.
    let mut address: libc::sockaddr_un = unsafe { std::mem::zeroed() };
    address.sun_family = libc::AF_UNIX as libc::sa_family_t;
    let bytes = path.as_os_str().as_bytes();
    // Room for the terminating NUL.
    if bytes.is_empty() || bytes.len() >= address.sun_path.len() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "a socket path must be 1 to {} bytes long",
                address.sun_path.len() - 1
            ),
        ));
    }
    for (slot, byte) in address.sun_path.iter_mut().zip(bytes) {
        *slot = *byte as libc::c_char;
    }
    let kind = libc::SOCK_STREAM | libc::SOCK_CLOEXEC | libc::SOCK_NONBLOCK;
    // SAFETY: plain socket creation.
    let fd = check(unsafe { libc::socket(libc::AF_UNIX, kind, 0) }.into())?;
    // SAFETY: the kernel returned a fresh descriptor we now own.
    let socket = unsafe { OwnedFd::from_raw_fd(fd as RawFd) };
    // SAFETY: `address` is a valid sockaddr_un of the length given.
    let connected = check(libc::c_long::from(unsafe {
        libc::connect(
            socket.as_raw_fd(),
            std::ptr::from_ref(&address).cast(),
            std::mem::size_of::<libc::sockaddr_un>() as libc::socklen_t,
        )
    }));
    match connected {
        Err(e) if e.raw_os_error() == Some(libc::EAGAIN) => {
            return Err(io::Error::new(
                io::ErrorKind::WouldBlock,
                "it is not accepting connections (its queue of them is full)",
            ))
        }
        other => other?,
    };
    let stream = std::os::unix::net::UnixStream::from(socket);
    stream.set_nonblocking(false)?;
    Ok(stream)
}

/// One system call left to phantom by a seccomp filter (`struct seccomp_notif`).
#[derive(Clone, Copy, Debug)]
pub struct Notification {
    pub id: u64,
    /// The caller, in phantom's pid namespace.
    pub pid: libc::pid_t,
    pub args: [u64; 6],
}

/// The next notification on a seccomp listener (`SECCOMP_IOCTL_NOTIF_RECV`).
/// `ENOENT`: its caller was gone before it could be read.
pub fn seccomp_notif_recv(listener: RawFd) -> io::Result<Notification> {
    // SAFETY: seccomp_notif is plain data; zeroed is what the kernel requires.
    let mut notif: libc::seccomp_notif = unsafe { std::mem::zeroed() };
    // SAFETY: `notif` is a valid, zeroed seccomp_notif for the kernel to fill.
    check(libc::c_long::from(unsafe {
        libc::ioctl(listener, libc::SECCOMP_IOCTL_NOTIF_RECV as _, &mut notif)
    }))?;
    Ok(Notification {
        id: notif.id,
        pid: libc::pid_t::try_from(notif.pid).unwrap_or(0),
        args: notif.data.args,
    })
}

/// Whether the notification `id` still waits (its caller alive, the call not
/// interrupted): checked after reading about the caller by pid, which it makes sure
/// was the caller's (`SECCOMP_IOCTL_NOTIF_ID_VALID`).
pub fn seccomp_notif_valid(listener: RawFd, id: u64) -> bool {
    // SAFETY: the ioctl reads the u64 the pointer points at.
    unsafe { libc::ioctl(listener, libc::SECCOMP_IOCTL_NOTIF_ID_VALID as _, &id) == 0 }
}

/// Answers the notification `id`: the call returns `value`, or fails with `errno`
/// where it is not 0 (`SECCOMP_IOCTL_NOTIF_SEND`). `ENOENT`: the caller is gone.
pub fn seccomp_notif_answer(listener: RawFd, id: u64, value: i64, errno: i32) -> io::Result<()> {
    let mut answer = libc::seccomp_notif_resp {
        id,
        val: value,
        error: -errno,
        flags: 0,
    };
    // SAFETY: `answer` is a valid seccomp_notif_resp for the kernel to read.
    check(libc::c_long::from(unsafe {
        libc::ioctl(listener, libc::SECCOMP_IOCTL_NOTIF_SEND as _, &mut answer)
    }))?;
    Ok(())
}

/// A copy of another process's descriptor `fd` (`pidfd_getfd`, Linux 5.6), close-on-exec.
pub fn pidfd_getfd(pidfd: &OwnedFd, fd: RawFd) -> io::Result<OwnedFd> {
    // SAFETY: integer arguments only.
    let copy = check(unsafe { libc::syscall(libc::SYS_pidfd_getfd, pidfd.as_raw_fd(), fd, 0) })?;
    // SAFETY: the kernel returned a fresh descriptor we now own.
    Ok(unsafe { OwnedFd::from_raw_fd(copy as RawFd) })
}

/// Whether `socket` is an IPv4 or IPv6 socket bound to no port yet (`getsockname`
/// says port 0), on which `listen` would take an ephemeral port.
pub fn inet_socket_unbound(socket: &OwnedFd) -> io::Result<bool> {
    let address = rustix::net::getsockname(socket)?;
    // Anything but IPv4 and IPv6 (a Unix socket, say) has no port.
    Ok(std::net::SocketAddr::try_from(address).is_ok_and(|a| a.port() == 0))
}

/// `listen(2)` on `socket`.
pub fn listen(socket: &OwnedFd, backlog: libc::c_int) -> io::Result<()> {
    // SAFETY: integer arguments only.
    check(libc::c_long::from(unsafe {
        libc::listen(socket.as_raw_fd(), backlog)
    }))?;
    Ok(())
}

/// `realpath(3)` into a buffer of ours: `std::fs::canonicalize` passes none, and musl
/// then returns the path in memory from its own malloc, which maps a fresh page for it
/// and unmaps it when freed (a page fault and two system calls, before the clone).
pub fn canonicalize(path: &Path) -> io::Result<std::path::PathBuf> {
    use std::os::unix::ffi::OsStringExt;
    let path = cstr(path)?;
    let mut resolved = [0u8; libc::PATH_MAX as usize + 1];
    // SAFETY: `path` is NUL-terminated; `resolved` has the PATH_MAX + 1 bytes realpath
    // may write, and outlives the call.
    let done = unsafe { libc::realpath(path.as_ptr(), resolved.as_mut_ptr().cast()) };
    if done.is_null() {
        return Err(io::Error::last_os_error());
    }
    // realpath NUL-terminated what it wrote; a buffer without one is not a path.
    let resolved = CStr::from_bytes_until_nul(&resolved)
        .map_err(|_| io::Error::from_raw_os_error(libc::ENAMETOOLONG))?;
    Ok(std::ffi::OsString::from_vec(resolved.to_bytes().to_vec()).into())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic, reason = "test code")]
    use super::*;

    /// Our own cgroup in the v2 hierarchy, if it is mounted where we may create
    /// cgroups (as root on this machine: /sys/fs/cgroup/unified).
    fn own_v2_dir() -> Option<std::path::PathBuf> {
        let own = std::fs::read_to_string("/proc/self/cgroup").ok()?;
        let path = own.lines().find_map(|l| l.strip_prefix("0::"))?;
        let mounts = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
        let mount = mounts.lines().find_map(|l| {
            let (left, right) = l.split_once(" - ")?;
            right
                .starts_with("cgroup2 ")
                .then(|| left.split_whitespace().nth(4).map(str::to_string))?
        })?;
        Some(std::path::Path::new(&mount).join(path.trim_start_matches('/')))
    }

    #[test]
    fn a_child_cloned_into_a_cgroup_starts_there() {
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } != 0 {
            return; // creating a cgroup needs root here
        }
        let Some(own) = own_v2_dir() else {
            eprintln!("skipped: no cgroup v2 hierarchy");
            return;
        };
        let dir = own.join(format!("phantom-clone-test-{}", std::process::id()));
        if std::fs::create_dir(&dir).is_err() {
            eprintln!("skipped: {} is not writable", own.display());
            return;
        }
        let fd = std::fs::File::open(&dir).unwrap();
        let (read, write) = std::io::pipe().unwrap();
        match clone_into(0, Some(std::os::fd::AsFd::as_fd(&fd))).unwrap() {
            None => {
                // The child: wait until the parent has looked, then go.
                drop(write);
                let mut byte = [0u8; 1];
                let _ = std::io::Read::read(&mut &read, &mut byte);
                exit_now(0)
            }
            Some(child) => {
                drop(read);
                let theirs =
                    std::fs::read_to_string(format!("/proc/{}/cgroup", child.pid)).unwrap();
                drop(write);
                wait_pidfd(&child.pidfd).unwrap();
                std::fs::remove_dir(&dir).unwrap();
                let name = dir.file_name().unwrap().to_string_lossy().into_owned();
                assert!(
                    theirs
                        .lines()
                        .any(|l| l.starts_with("0::") && l.ends_with(&name)),
                    "{theirs}"
                );
            }
        }
    }

    #[test]
    fn canonicalize_resolves_as_the_standard_library_does() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("real");
        std::fs::create_dir(&real).unwrap();
        std::os::unix::fs::symlink(&real, dir.path().join("link")).unwrap();
        let through = dir.path().join("link/../link/.");
        assert_eq!(
            canonicalize(&through).unwrap(),
            through.canonicalize().unwrap()
        );
        let missing = canonicalize(&dir.path().join("gone")).unwrap_err();
        assert_eq!(missing.kind(), io::ErrorKind::NotFound);
    }
}
