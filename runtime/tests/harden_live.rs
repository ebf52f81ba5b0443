//! The hardening steps against the live kernel.
//!
//! Every case forks; the child takes the steps (nothing is ever applied to the test
//! process itself), makes raw system calls and reports each result as an `i64` on a
//! pipe (the call's value, `-errno` on failure), then exits or execs; the parent reads
//! the pipe until every copy of its write end is closed, reaps the child and checks
//! the values and how the child ended. A child that outlives its deadline is killed
//! with its process group and reaped, so no case can hang or leave a zombie.
//!
//! Needs root (as the CI machine runs): the cases drop root's capabilities, switch to
//! nobody (65534), and need a kernel with Landlock ABI 5 or later.

#![cfg(target_os = "linux")]
#![allow(
    unsafe_code,
    reason = "fork, raw system calls and user switches are what these tests are about"
)]
#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failed expectation is a test failure"
)]

use std::ffi::{c_int, CStr, CString};
use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use phantom_bundle::{Access, Landlock, LandlockPath, Rlimit, RlimitResource};
use phantom_compiler::{check, io::MemoryFs, seccomp, tables::Arch, Input};
use phantom_runtime::harden::{
    apply_landlock, apply_rlimits, close_inherited_fds, drop_capabilities, landlock_abi,
    set_no_new_privs, Enforcement, HardenError, LandlockMode, LANDLOCK_FULL_ABI,
};
use phantom_runtime::seccomp::{Filter, Threads};

// ---------------------------------------------------------------------------------
// Forking and reporting

#[derive(Debug, PartialEq, Eq)]
enum Ended {
    Exited(i32),
    Signaled(i32),
    /// Still running at the deadline; it was killed and reaped.
    TimedOut,
}

#[derive(Debug)]
struct Outcome {
    ended: Ended,
    output: Vec<u8>,
}

impl Outcome {
    fn values(&self) -> Vec<i64> {
        self.output
            .chunks_exact(8)
            .map(|c| i64::from_le_bytes(c.try_into().unwrap()))
            .collect()
    }

    /// Checks that the child exited 0 and returns its reports.
    fn ok(&self) -> Vec<i64> {
        assert_eq!(self.ended, Ended::Exited(0), "reports: {:?}", self.values());
        self.values()
    }
}

/// The child's end of the report pipe (close-on-exec).
#[derive(Clone, Copy)]
struct Out(c_int);

impl Out {
    /// Reports one value: one `write`, no allocation.
    fn put(self, value: i64) {
        let bytes = value.to_le_bytes();
        // SAFETY: writes 8 bytes from a live local buffer to a descriptor we own.
        let _ = unsafe { libc::write(self.0, bytes.as_ptr().cast(), bytes.len()) };
    }

    /// Reports a step's outcome: 0, or the error's code (see `code`).
    fn step(self, result: Result<(), HardenError>) {
        self.put(match &result {
            Ok(()) => 0,
            Err(e) => code(e),
        });
    }
}

/// A number for each error variant (and its errno, where it has one), so that a child
/// reports which step failed without allocating.
fn code(e: &HardenError) -> i64 {
    let errno = |s: &std::io::Error| i64::from(s.raw_os_error().unwrap_or(0));
    match e {
        HardenError::Rlimit { source, .. } => 1000 + errno(source),
        HardenError::AmbientCapabilities(source) => 2000 + errno(source),
        HardenError::BoundingSet { source, .. } => 3000 + errno(source),
        HardenError::Securebits(source) => 4000 + errno(source),
        HardenError::Capset { source, .. } => 5000 + errno(source),
        HardenError::CapabilitiesRemain { .. } => 6000,
        HardenError::CloseFds { source, .. } => 7000 + errno(source),
        HardenError::NoNewPrivs(source) => 8000 + errno(source),
        HardenError::LandlockUnavailable { source } => 9000 + errno(source),
        HardenError::LandlockIncomplete { .. } => 10000,
        HardenError::LandlockPath { source, .. } => 11000 + errno(source),
        HardenError::LandlockRuleset { .. } => 12000,
        HardenError::LandlockRestrict(_) => 13000,
    }
}

/// Exit status of a child that panicked.
const CHILD_PANICKED: i32 = 101;

fn exit(code: i32) -> ! {
    // SAFETY: _exit ends the process at once; it is async-signal-safe.
    unsafe { libc::_exit(code) }
}

/// A system call's result as the child reports it: the value, or `-errno`.
fn ret(r: i64) -> i64 {
    if r < 0 {
        -i64::from(errno())
    } else {
        r
    }
}

fn errno() -> c_int {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

const TIMEOUT: Duration = Duration::from_secs(20);

/// Forks; runs `body` in the child, which exits 0 when it returns; collects what the
/// child writes to its `Out` until every copy of it is closed (exit or exec); reaps the
/// child. Past `timeout`, the child's process group is killed.
fn run(timeout: Duration, body: impl FnOnce(Out)) -> Outcome {
    let mut fds = [0; 2];
    // SAFETY: `fds` is a valid array of two ints for pipe2 to fill.
    assert_eq!(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) }, 0);
    let [read_fd, write_fd] = fds;
    // SAFETY: the child runs `body`, which makes system calls and takes the steps under
    // test, and ends with _exit or execve; it never returns into the harness.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork: {}", std::io::Error::last_os_error());
    if pid == 0 {
        // SAFETY: plain system calls on our own process: close our copy of the read
        // end; lead a process group of our own so that a timeout kills whatever we
        // start; no core files.
        unsafe {
            libc::close(read_fd);
            libc::setpgid(0, 0);
            let zero = libc::rlimit {
                rlim_cur: 0,
                rlim_max: 0,
            };
            libc::setrlimit(libc::RLIMIT_CORE, &zero);
        }
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| body(Out(write_fd))));
        exit(if result.is_ok() { 0 } else { CHILD_PANICKED });
    }
    // SAFETY: the parent's copy of the write end is no longer needed; the child's process
    // group is set here too, so that it exists before any kill below.
    unsafe {
        libc::close(write_fd);
        libc::setpgid(pid, pid);
    }
    let deadline = Instant::now() + timeout;
    let mut output = Vec::new();
    let mut timed_out = !read_until_eof(read_fd, deadline, &mut output);
    // SAFETY: closing the read end we own.
    unsafe { libc::close(read_fd) };
    let mut status = 0;
    loop {
        // SAFETY: waiting for our own child, with a valid pointer for the status.
        let r = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
        if r == pid {
            break;
        }
        assert_eq!(r, 0, "waitpid: {}", std::io::Error::last_os_error());
        if timed_out || Instant::now() >= deadline {
            timed_out = true;
            // SAFETY: `pid` is our unreaped child, so its process group id cannot have
            // been reused; the group holds whatever the child started.
            unsafe { libc::kill(-pid, libc::SIGKILL) };
            // SAFETY: as above; blocks until the killed child is reaped.
            assert_eq!(unsafe { libc::waitpid(pid, &mut status, 0) }, pid);
            break;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    let ended = if timed_out {
        Ended::TimedOut
    } else if libc::WIFEXITED(status) {
        Ended::Exited(libc::WEXITSTATUS(status))
    } else if libc::WIFSIGNALED(status) {
        Ended::Signaled(libc::WTERMSIG(status))
    } else {
        panic!("unexpected wait status {status:#x}")
    };
    Outcome { ended, output }
}

/// Reads until end of file; false if `deadline` passed first.
fn read_until_eof(fd: c_int, deadline: Instant, output: &mut Vec<u8>) -> bool {
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return false;
        }
        let mut pfd = libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        };
        let ms = c_int::try_from(left.as_millis().max(1)).unwrap_or(c_int::MAX);
        // SAFETY: one valid pollfd.
        if unsafe { libc::poll(&mut pfd, 1, ms) } <= 0 {
            continue; // EINTR or timeout: the deadline check decides
        }
        let mut buf = [0u8; 4096];
        // SAFETY: reads into a live local buffer of the given length.
        let n = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) };
        match usize::try_from(n) {
            Ok(0) => return true,
            Ok(n) => output.extend_from_slice(&buf[..n]),
            Err(_) => {}
        }
    }
}

/// The harness itself: a child that never ends is killed at the deadline and reaped.
#[test]
fn a_hanging_child_is_killed_and_reaped() {
    let start = Instant::now();
    let o = run(Duration::from_millis(300), |out| {
        out.put(1);
        loop {
            // SAFETY: pause only waits for a signal.
            unsafe { libc::pause() };
        }
    });
    assert_eq!(o.ended, Ended::TimedOut);
    assert_eq!(o.values(), [1]);
    assert!(start.elapsed() < Duration::from_secs(5));
}

// ---------------------------------------------------------------------------------
// Helpers for the children (no allocation after forking)

fn cstr(s: impl AsRef<[u8]>) -> CString {
    CString::new(s.as_ref()).unwrap()
}

/// `open(path, flags, 0o644)`: the descriptor or `-errno`.
fn open(path: &CStr, flags: c_int) -> i64 {
    // SAFETY: `path` is NUL-terminated; the mode is used only with O_CREAT.
    ret(i64::from(unsafe {
        libc::open(path.as_ptr(), flags | libc::O_CLOEXEC, 0o644)
    }))
}

/// Opens for reading, reads up to 4 bytes, closes: the bytes read or `-errno`.
fn read_file(path: &CStr) -> i64 {
    let fd = open(path, libc::O_RDONLY);
    if fd < 0 {
        return fd;
    }
    let fd = fd as c_int;
    let mut buf = [0u8; 4];
    // SAFETY: reads into a live local buffer; closes the descriptor just opened.
    unsafe {
        let n = ret(libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) as i64);
        libc::close(fd);
        n
    }
}

/// Creates (or truncates) a file and writes 5 bytes: the bytes written or `-errno`.
fn write_file(path: &CStr) -> i64 {
    let fd = open(path, libc::O_WRONLY | libc::O_CREAT | libc::O_TRUNC);
    if fd < 0 {
        return fd;
    }
    let fd = fd as c_int;
    // SAFETY: writes from a static buffer; closes the descriptor just opened.
    unsafe {
        let n = ret(libc::write(fd, b"hello".as_ptr().cast(), 5) as i64);
        libc::close(fd);
        n
    }
}

/// `fcntl(fd, F_GETFD)`: the flags if the descriptor is open, `-EBADF` if not.
fn fd_flags(fd: c_int) -> i64 {
    // SAFETY: F_GETFD only reads the descriptor's flags.
    ret(i64::from(unsafe { libc::fcntl(fd, libc::F_GETFD) }))
}

/// Becomes nobody (uid and gid 65534, no supplementary groups), or panics.
/// capset(2): CAP_CHOWN alone, effective and permitted; the call's result.
fn keep_only_chown() -> i64 {
    #[repr(C)]
    struct Header {
        version: u32,
        pid: c_int,
    }
    #[repr(C)]
    #[derive(Clone, Copy)]
    struct Data {
        effective: u32,
        permitted: u32,
        inheritable: u32,
    }
    let header = Header {
        version: 0x2008_0522, // _LINUX_CAPABILITY_VERSION_3
        pid: 0,
    };
    let none = Data {
        effective: 0,
        permitted: 0,
        inheritable: 0,
    };
    let data = [
        Data {
            effective: 1,
            permitted: 1,
            ..none
        },
        none,
    ];
    // SAFETY: a valid header and two data structs, as version 3 takes.
    unsafe { libc::syscall(libc::SYS_capset, &header, data.as_ptr()) }
}

fn become_nobody() {
    // SAFETY: plain credential changes of this process.
    unsafe {
        assert_eq!(libc::setgroups(0, std::ptr::null()), 0);
        assert_eq!(libc::setresgid(65534, 65534, 65534), 0);
        assert_eq!(libc::setresuid(65534, 65534, 65534), 0);
    }
}

/// A fresh directory under the system's temporary directory, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(mode: u32) -> TempDir {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let path = std::env::temp_dir().join(format!(
            "phantom-harden-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir(&path).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
        TempDir(path)
    }

    fn join(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }

    fn c(&self, name: &str) -> CString {
        cstr(self.join(name).as_os_str().as_encoded_bytes())
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn path_string(path: &Path) -> String {
    path.to_str().unwrap().to_owned()
}

/// A seccomp filter that allows everything but refuses one system call with `errno`.
fn refusing(syscall: &str, errno: &str) -> Filter {
    let text = format!("syscalls {{\n    default allow\n    errno({errno}) {syscall}\n}}\n");
    let input = Input::Text {
        name: "refuse.pfp".into(),
        text,
        dir: ".".into(),
    };
    let checked = check(&input, &MemoryFs::new()).unwrap();
    assert!(!checked.has_errors(), "{:#?}", checked.diagnostics);
    let arch = match std::env::consts::ARCH {
        "x86_64" => Arch::X86_64,
        "aarch64" => Arch::Aarch64,
        other => panic!("no seccomp tables for {other}"),
    };
    let program = seccomp::compile(&checked.policy.unwrap().syscalls, arch).unwrap();
    Filter::from_bytes(&program.to_bytes()).unwrap()
}

// ---------------------------------------------------------------------------------
// Resource limits

#[allow(
    clippy::unnecessary_cast,
    reason = "glibc types the resources as u32, musl as i32; `as _` at the call fits either"
)]
const RLIMITS: [u32; 4] = [
    libc::RLIMIT_CPU as u32,
    libc::RLIMIT_FSIZE as u32,
    libc::RLIMIT_NOFILE as u32,
    libc::RLIMIT_CORE as u32,
];

/// Reports soft and hard limit of each of `RLIMITS`.
fn put_rlimits(out: Out) {
    for resource in RLIMITS {
        let mut limit = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: getrlimit fills a live local struct.
        assert_eq!(unsafe { libc::getrlimit(resource as _, &mut limit) }, 0);
        out.put(limit.rlim_cur as i64);
        out.put(limit.rlim_max as i64);
    }
}

#[test]
fn rlimits_are_set_with_soft_equal_to_hard() {
    let limits = [
        Rlimit {
            resource: RlimitResource::Cpu,
            value: Some(100),
        },
        Rlimit {
            resource: RlimitResource::Fsize,
            value: Some(1 << 20),
        },
        Rlimit {
            resource: RlimitResource::Nofile,
            value: Some(64),
        },
    ];
    let o = run(TIMEOUT, |out| {
        out.step(apply_rlimits(&limits));
        put_rlimits(out);
    });
    // RLIMIT_CORE, not in the list, is 0.
    assert_eq!(o.ok(), [0, 100, 100, 1 << 20, 1 << 20, 64, 64, 0, 0]);

    // `None` is unlimited (the hard limits here are, so no privilege is needed).
    let limits = [
        Rlimit {
            resource: RlimitResource::Fsize,
            value: None,
        },
        Rlimit {
            resource: RlimitResource::Cpu,
            value: None,
        },
    ];
    let o = run(TIMEOUT, |out| {
        out.step(apply_rlimits(&limits));
        put_rlimits(out);
    });
    let v = o.ok();
    let infinity = libc::RLIM_INFINITY as i64;
    assert_eq!(v[..5], [0, infinity, infinity, infinity, infinity]);
    assert_eq!(v[7..], [0, 0]);
}

#[test]
fn an_unlimited_open_files_limit_is_refused_with_the_fix() {
    // RLIMIT_NOFILE can never exceed /proc/sys/fs/nr_open, even for root.
    let limits = [Rlimit {
        resource: RlimitResource::Nofile,
        value: None,
    }];
    let o = run(TIMEOUT, |out| out.step(apply_rlimits(&limits)));
    assert_eq!(o.ok(), [1000 + i64::from(libc::EPERM)]);
    let e = HardenError::Rlimit {
        resource: RlimitResource::Nofile,
        value: None,
        source: std::io::Error::from_raw_os_error(libc::EPERM),
    };
    assert!(e.to_string().contains("nr_open"), "{e}");
}

#[test]
fn raising_a_hard_limit_unprivileged_fails() {
    let limits = [Rlimit {
        resource: RlimitResource::Cpu,
        value: Some(100),
    }];
    let o = run(TIMEOUT, |out| {
        // SAFETY: lowers this child's own limit.
        unsafe {
            let low = libc::rlimit {
                rlim_cur: 10,
                rlim_max: 10,
            };
            assert_eq!(libc::setrlimit(libc::RLIMIT_CPU, &low), 0);
        }
        become_nobody();
        out.step(apply_rlimits(&limits));
    });
    assert_eq!(o.ok(), [1000 + i64::from(libc::EPERM)]);
}

// ---------------------------------------------------------------------------------
// Capabilities

/// The capability sets in `/proc/self/status` text: CapInh, CapPrm, CapEff, CapBnd,
/// CapAmb.
fn cap_sets(status: &[u8]) -> Vec<u64> {
    let text = std::str::from_utf8(status).unwrap();
    ["CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"]
        .iter()
        .map(|name| {
            let line = text
                .lines()
                .find_map(|l| l.strip_prefix(&format!("{name}:")))
                .unwrap_or_else(|| panic!("no {name} in {text}"));
            u64::from_str_radix(line.trim(), 16).unwrap()
        })
        .collect()
}

/// Reports the five capability sets of `/proc/self/status`, as the kernel shows them.
fn put_cap_sets(out: Out) {
    let mut buf = [0u8; 8192];
    let fd = open(c"/proc/self/status", libc::O_RDONLY);
    assert!(fd >= 0);
    // SAFETY: reads into a live local buffer; closes the descriptor just opened.
    let n = unsafe {
        let n = libc::read(fd as c_int, buf.as_mut_ptr().cast(), buf.len());
        libc::close(fd as c_int);
        n
    };
    let text = &buf[..usize::try_from(n).unwrap()];
    for name in [
        &b"CapInh:"[..],
        b"CapPrm:",
        b"CapEff:",
        b"CapBnd:",
        b"CapAmb:",
    ] {
        let line = text
            .split(|&b| b == b'\n')
            .find_map(|l| l.strip_prefix(name))
            .unwrap();
        let hex = std::str::from_utf8(line).unwrap().trim();
        out.put(u64::from_str_radix(hex, 16).unwrap() as i64);
    }
}

/// `unshare(CLONE_NEWNS)`: 0 or `-errno`.
fn unshare_mount_ns() -> i64 {
    // SAFETY: a new mount namespace for this child only.
    ret(i64::from(unsafe { libc::unshare(libc::CLONE_NEWNS) }))
}

#[test]
fn root_without_capabilities_cannot_mount() {
    let dir = TempDir::new(0o700);
    let target = cstr(dir.0.as_os_str().as_encoded_bytes());

    // Control: root may make a mount namespace here.
    let o = run(TIMEOUT, |out| out.put(unshare_mount_ns()));
    assert_eq!(o.ok(), [0], "the control child could not unshare");

    let o = run(TIMEOUT, |out| {
        out.step(drop_capabilities());
        put_cap_sets(out);
        out.put(ret(i64::from(prctl(libc::PR_GET_SECUREBITS, 0))));
        out.put(unshare_mount_ns());
        // SAFETY: mounts a tmpfs over an empty directory of ours (in the test's own mount
        // namespace, if the kernel allowed it; the parent then unmounts it).
        let r = unsafe {
            libc::mount(
                c"none".as_ptr(),
                target.as_ptr(),
                c"tmpfs".as_ptr(),
                0,
                std::ptr::null(),
            )
        };
        out.put(ret(i64::from(r)));
        // SAFETY: plain system call.
        out.put(ret(i64::from(unsafe { libc::setuid(0) })));
    });
    // SAFETY: undoes a mount the child should not have been able to make.
    unsafe { libc::umount2(target.as_ptr(), libc::MNT_DETACH) };
    let v = o.ok();
    assert_eq!(v[0], 0, "drop_capabilities failed: code {}", v[0]);
    assert_eq!(v[1..6], [0; 5], "capability sets left: {:x?}", &v[1..6]);
    let locked = i64::from(
        libc::SECBIT_NOROOT
            | libc::SECBIT_NOROOT_LOCKED
            | libc::SECBIT_NO_SETUID_FIXUP
            | libc::SECBIT_NO_SETUID_FIXUP_LOCKED,
    );
    assert_eq!(v[6] & locked, locked, "securebits {:#x}", v[6]);
    assert_eq!(v[7], -i64::from(libc::EPERM), "unshare(CLONE_NEWNS)");
    assert_eq!(v[8], -i64::from(libc::EPERM), "mount");
    // Still uid 0, so setuid(0) is no change and allowed.
    assert_eq!(v[9], 0);
}

/// `prctl` with one integer argument.
fn prctl(option: c_int, arg: libc::c_ulong) -> c_int {
    const ZERO: libc::c_ulong = 0;
    // SAFETY: the options used here take integer arguments only.
    unsafe { libc::prctl(option, arg, ZERO, ZERO, ZERO) }
}

#[test]
fn a_program_run_as_root_after_dropping_gets_no_capabilities() {
    let o = run(TIMEOUT, |out| {
        if drop_capabilities().is_err() {
            exit(3);
        }
        // SAFETY: makes the report pipe the standard output of `cat`, which prints its
        // own /proc/self/status; execv gets NUL-terminated strings and a null-terminated
        // argument array; _exit if it fails.
        unsafe {
            libc::dup2(out.0, 1);
            let argv = [
                c"cat".as_ptr(),
                c"/proc/self/status".as_ptr(),
                std::ptr::null(),
            ];
            libc::execv(c"/bin/cat".as_ptr(), argv.as_ptr());
        }
        exit(4);
    });
    assert_eq!(o.ended, Ended::Exited(0));
    assert_eq!(cap_sets(&o.output), [0; 5]);
    let text = String::from_utf8(o.output).unwrap();
    assert!(text.contains("Uid:\t0\t0\t0\t0"), "{text}");
}

#[test]
fn dropping_after_a_switch_under_keepcaps_works() {
    let o = run(TIMEOUT, |out| {
        // Keep the permitted set across the switch to nobody (which clears the
        // effective set).
        assert_eq!(prctl(libc::PR_SET_KEEPCAPS, 1), 0);
        become_nobody();
        out.step(drop_capabilities());
        put_cap_sets(out);
    });
    assert_eq!(o.ok(), [0, 0, 0, 0, 0, 0]);
}

/// An ordinary user's process (direct mode's workload) holds no capability, and may
/// not empty its bounding set: it keeps it, which bounds only what a program it runs
/// could gain, and no_new_privs, set next, lets none gain any. (Direct mode as a user
/// once failed at every start here.)
#[test]
fn a_process_holding_no_capability_keeps_its_bounding_set() {
    let o = run(TIMEOUT, |out| {
        become_nobody();
        out.step(drop_capabilities());
        put_cap_sets(out);
    });
    let got = o.ok();
    assert_eq!(got.len(), 6, "{got:?}");
    assert_eq!(got[..4], [0, 0, 0, 0], "{got:?}");
    assert_ne!(got[4], 0, "the bounding set: {got:?}");
    assert_eq!(got[5], 0, "{got:?}");
}

/// One that still holds a capability, but not CAP_SETPCAP, cannot empty its bounding
/// set, and fails.
#[test]
fn a_process_holding_capabilities_but_not_setpcap_fails_on_the_bounding_set() {
    let o = run(TIMEOUT, |out| {
        assert_eq!(prctl(libc::PR_SET_KEEPCAPS, 1), 0);
        become_nobody();
        // Keep CAP_CHOWN alone in the permitted set.
        out.put(keep_only_chown());
        out.step(drop_capabilities());
    });
    // The first capability in the bounding set, CAP_CHOWN, cannot be dropped.
    assert_eq!(o.ok(), [0, 3000 + i64::from(libc::EPERM)]);
}

// ---------------------------------------------------------------------------------
// no_new_privs

#[test]
fn no_new_privs_is_set() {
    let o = run(TIMEOUT, |out| {
        out.step(set_no_new_privs());
        out.put(i64::from(prctl(libc::PR_GET_NO_NEW_PRIVS, 0)));
    });
    assert_eq!(o.ok(), [0, 1]);
}

// ---------------------------------------------------------------------------------
// File descriptors

/// Opens a pipe and /dev/null, copies the pipe's read end to 900 and /dev/null to 700,
/// closes all but /dev/null (its first copy and 700) and the report pipe, and reports
/// which are still open.
fn close_fds_case(out: Out) {
    let mut pipe = [0; 2];
    // SAFETY: `pipe` is a valid array for pipe() to fill (without close-on-exec).
    assert_eq!(unsafe { libc::pipe(pipe.as_mut_ptr()) }, 0);
    let null = open(c"/dev/null", libc::O_RDONLY) as c_int;
    assert!(null >= 3);
    // SAFETY: copies of descriptors we just opened.
    unsafe {
        assert_eq!(libc::dup2(pipe[0], 900), 900);
        assert_eq!(libc::dup2(null, 700), 700);
    }
    // Unsorted, with a negative, a standard and a never-opened number.
    out.step(close_inherited_fds(&[700, -1, out.0, 2, 5000, null]));
    for fd in [pipe[0], pipe[1], 900] {
        out.put(fd_flags(fd));
    }
    for fd in [null, 700, 0, 1, 2] {
        out.put(i64::from(fd_flags(fd) >= 0));
    }
}

#[test]
fn inherited_descriptors_are_closed_and_kept_ones_stay() {
    let o = run(TIMEOUT, close_fds_case);
    let ebadf = -i64::from(libc::EBADF);
    assert_eq!(o.ok(), [0, ebadf, ebadf, ebadf, 1, 1, 1, 1, 1]);
}

#[test]
fn without_close_range_descriptors_are_closed_from_the_proc_listing() {
    let filter = refusing("close_range", "ENOSYS");
    let o = run(TIMEOUT, |out| {
        filter.install(Threads::Calling).unwrap();
        // SAFETY: checks that the filter refuses close_range (a range of no descriptor).
        let r = unsafe { libc::syscall(libc::SYS_close_range, 4000u32, 4000u32, 0u32) };
        out.put(ret(r));
        close_fds_case(out);
    });
    let ebadf = -i64::from(libc::EBADF);
    let enosys = -i64::from(libc::ENOSYS);
    assert_eq!(o.ok(), [enosys, 0, ebadf, ebadf, ebadf, 1, 1, 1, 1, 1]);
}

// ---------------------------------------------------------------------------------
// Landlock

fn rule(path: impl Into<String>, access: Access) -> LandlockPath {
    LandlockPath {
        path: path.into(),
        access,
    }
}

fn enforcement_code(e: Enforcement) -> i64 {
    match e {
        Enforcement::FullyEnforced => 0,
        Enforcement::PartiallyEnforced => 1,
        Enforcement::NotEnforced => 2,
    }
}

#[test]
fn the_kernel_has_landlock() {
    let abi = landlock_abi();
    println!("Landlock ABI of this kernel: {abi:?}");
    assert!(
        abi.is_some_and(|v| v >= LANDLOCK_FULL_ABI),
        "the live Landlock tests need ABI {LANDLOCK_FULL_ABI} or later; this kernel has {abi:?}"
    );
}

#[test]
fn landlock_confines_the_filesystem() {
    let dir = TempDir::new(0o755);
    std::fs::create_dir(dir.join("rw")).unwrap();
    std::fs::write(dir.join("ro.txt"), "read only").unwrap();
    let probe = format!("/usr/phantom-harden-probe-{}", std::process::id());
    let rules = Landlock {
        paths: vec![
            rule("/usr", Access::ReadExecute),
            rule(path_string(&dir.join("rw")), Access::ReadWrite),
            // A file: gets only the rights that apply to files.
            rule(path_string(&dir.join("ro.txt")), Access::ReadExecute),
            rule("/nonexistent/phantom", Access::ReadWrite),
            rule("/etc/hostname/below-a-file", Access::ReadExecute),
        ],
        ..Landlock::default()
    };
    let (rw_new, ro, base) = (dir.c("rw/new.txt"), dir.c("ro.txt"), dir.c(""));
    let probe_c = cstr(&probe);
    let o = run(TIMEOUT, |out| {
        let status = match apply_landlock(&rules, LandlockMode::Required) {
            Ok(status) => status,
            Err(e) => {
                out.put(code(&e));
                exit(2);
            }
        };
        out.put(enforcement_code(status.enforced));
        out.put(i64::from(status.abi.unwrap_or(0)));
        out.put(i64::from(
            status.skipped_paths == ["/nonexistent/phantom", "/etc/hostname/below-a-file"],
        ));
        out.put(read_file(c"/usr/bin/true"));
        out.put(write_file(&rw_new));
        out.put(read_file(&ro));
        out.put(open(&ro, libc::O_WRONLY));
        out.put(read_file(c"/etc/hostname"));
        out.put(open(c"/usr/bin/true", libc::O_WRONLY));
        // SAFETY: NUL-terminated path; the parent removes it should it be made.
        out.put(ret(i64::from(unsafe {
            libc::mkdir(probe_c.as_ptr(), 0o700)
        })));
        out.put(open(&base, libc::O_RDONLY | libc::O_DIRECTORY));
        // Executing under /usr works (the loader reads libraries there; /etc/ld.so.cache
        // is denied, and it falls back to its default paths).
        // SAFETY: NUL-terminated strings, null-terminated array; _exit if execv fails.
        unsafe {
            let argv = [c"true".as_ptr(), std::ptr::null()];
            libc::execv(c"/usr/bin/true".as_ptr(), argv.as_ptr());
        }
        exit(3);
    });
    let _ = std::fs::remove_dir(&probe);
    let eacces = -i64::from(libc::EACCES);
    let v = o.ok();
    assert_eq!(v[0], 0, "not fully enforced");
    assert_eq!(v[1], i64::from(landlock_abi().unwrap()));
    assert_eq!(v[2], 1, "skipped paths");
    assert_eq!(v[3..], [4, 5, 4, eacces, eacces, eacces, eacces, eacces]);
    assert_eq!(
        std::fs::read_to_string(dir.join("rw/new.txt")).unwrap(),
        "hello"
    );
}

#[test]
fn landlock_confines_tcp_ports() {
    let allowed = TcpListener::bind("127.0.0.1:0").unwrap();
    let other = TcpListener::bind("127.0.0.1:0").unwrap();
    let free_port = || {
        TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port()
    };
    let (bind_ok, bind_denied) = (free_port(), free_port());
    let port = |l: &TcpListener| l.local_addr().unwrap().port();
    let rules = Landlock {
        paths: vec![],
        restrict_net: true,
        connect_ports: vec![port(&allowed)],
        bind_ports: vec![bind_ok],
    };
    let (connect_ok, connect_denied) = (port(&allowed), port(&other));
    let o = run(TIMEOUT, |out| {
        match apply_landlock(&rules, LandlockMode::Required) {
            Ok(status) => out.put(enforcement_code(status.enforced)),
            Err(e) => {
                out.put(code(&e));
                exit(2);
            }
        }
        out.put(tcp(connect_ok, false));
        out.put(tcp(connect_denied, false));
        out.put(tcp(bind_ok, true));
        out.put(tcp(bind_denied, true));
    });
    let eacces = -i64::from(libc::EACCES);
    assert_eq!(o.ok(), [0, 0, eacces, 0, eacces]);
    drop((allowed, other));
}

/// A new TCP socket connected to, or bound to, 127.0.0.1:`port`: 0 or `-errno`.
fn tcp(port: u16, bind: bool) -> i64 {
    // SAFETY: a new socket of our own; the address is a live, initialized sockaddr_in
    // of the given length; the socket is closed before returning.
    unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0);
        assert!(fd >= 0);
        let addr = libc::sockaddr_in {
            sin_family: libc::AF_INET as libc::sa_family_t,
            sin_port: port.to_be(),
            sin_addr: libc::in_addr {
                s_addr: u32::from(std::net::Ipv4Addr::LOCALHOST).to_be(),
            },
            sin_zero: [0; 8],
        };
        let ptr = (&addr as *const libc::sockaddr_in).cast::<libc::sockaddr>();
        let len = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
        let r = if bind {
            libc::bind(fd, ptr, len)
        } else {
            libc::connect(fd, ptr, len)
        };
        let r = ret(i64::from(r));
        libc::close(fd);
        r
    }
}

#[test]
fn landlock_works_for_an_unprivileged_user() {
    let dir = TempDir::new(0o777);
    // Readable by nobody without Landlock.
    let hostname = std::fs::metadata("/etc/hostname").unwrap();
    assert_ne!(hostname.permissions().mode() & 0o004, 0);
    let rules = Landlock {
        paths: vec![
            rule("/usr", Access::ReadExecute),
            rule(path_string(&dir.0), Access::ReadWrite),
        ],
        ..Landlock::default()
    };
    let file = dir.c("by-nobody.txt");
    let o = run(TIMEOUT, |out| {
        become_nobody();
        // SAFETY: plain system call.
        out.put(i64::from(unsafe { libc::geteuid() }));
        // Reads before: nobody may read it.
        out.put(read_file(c"/etc/hostname").min(1));
        match apply_landlock(&rules, LandlockMode::Required) {
            Ok(status) => out.put(enforcement_code(status.enforced)),
            Err(e) => {
                out.put(code(&e));
                exit(2);
            }
        }
        out.put(read_file(c"/usr/bin/true"));
        out.put(write_file(&file));
        out.put(read_file(c"/etc/hostname"));
        out.put(read_file(c"/etc/passwd"));
    });
    let eacces = -i64::from(libc::EACCES);
    assert_eq!(o.ok(), [65534, 1, 0, 4, 5, eacces, eacces]);
    let meta = std::fs::metadata(dir.join("by-nobody.txt")).unwrap();
    assert_eq!(std::os::unix::fs::MetadataExt::uid(&meta), 65534);
}

#[test]
fn required_landlock_refuses_a_kernel_without_it() {
    let rules = Landlock {
        paths: vec![rule("/usr", Access::ReadExecute)],
        ..Landlock::default()
    };
    for (errno, value) in [("ENOSYS", libc::ENOSYS), ("EOPNOTSUPP", libc::EOPNOTSUPP)] {
        let filter = refusing("landlock_create_ruleset", errno);
        let o = run(TIMEOUT, |out| {
            filter.install(Threads::Calling).unwrap();
            match apply_landlock(&rules, LandlockMode::Required) {
                Ok(_) => out.put(0),
                Err(e) => {
                    out.put(code(&e));
                    let hint = e.to_string();
                    out.put(i64::from(hint.contains("lsm=landlock")));
                }
            }
            // Nothing was restricted.
            out.put(read_file(c"/etc/hostname").min(1));
        });
        assert_eq!(o.ok(), [9000 + i64::from(value), 1, 1], "{errno}");
    }
}

#[test]
fn best_effort_landlock_reports_a_kernel_without_it() {
    let filter = refusing("landlock_create_ruleset", "EOPNOTSUPP");
    let rules = Landlock {
        paths: vec![
            rule("/usr", Access::ReadExecute),
            rule("/nonexistent/phantom", Access::ReadExecute),
        ],
        restrict_net: true,
        connect_ports: vec![443],
        bind_ports: vec![],
    };
    let o = run(TIMEOUT, |out| {
        filter.install(Threads::Calling).unwrap();
        match apply_landlock(&rules, LandlockMode::BestEffort) {
            Ok(status) => {
                out.put(enforcement_code(status.enforced));
                out.put(i64::from(status.abi.is_none()));
                out.put(i64::from(status.skipped_paths == ["/nonexistent/phantom"]));
            }
            Err(e) => out.put(code(&e)),
        }
        out.put(read_file(c"/etc/hostname").min(1));
    });
    assert_eq!(o.ok(), [2, 1, 1, 1]);
}

#[test]
fn best_effort_landlock_on_this_kernel_is_fully_enforced() {
    let rules = Landlock {
        paths: vec![rule("/usr", Access::ReadExecute)],
        restrict_net: true,
        connect_ports: vec![],
        bind_ports: vec![],
    };
    let o = run(TIMEOUT, |out| {
        match apply_landlock(&rules, LandlockMode::BestEffort) {
            Ok(status) => out.put(enforcement_code(status.enforced)),
            Err(e) => out.put(code(&e)),
        }
        out.put(read_file(c"/etc/hostname"));
        // With no allowed port, every TCP connect is denied.
        out.put(tcp(9, false));
    });
    let eacces = -i64::from(libc::EACCES);
    assert_eq!(o.ok(), [0, eacces, eacces]);
}
