//! cgroup sessions on this machine's kernel.
//!
//! Each case creates a real session beneath the test process's own cgroups, forks
//! children that wait on a pipe until they have been added to it, and checks what the
//! kernel did: the limit files read back, a memory hog is OOM-killed, a fork bomb hits
//! pids.max, nothing is left behind. A creation as an unprivileged user (uid 65534, by
//! re-running this binary under `setpriv`) must fail with a clear error or report
//! degraded limits.
//!
//! Skipped (with a message) when not root, or when the host has no writable memory or
//! pids controller. Sessions and children are cleaned up by `Drop` even when a case
//! fails: sessions kill their processes and remove their directories, children are
//! killed and reaped.
//!
//! Children run after `fork` in a multi-threaded test process, so they only make
//! async-signal-safe calls (read, mmap, fork, pause, kill, waitpid, _exit).

#![cfg(target_os = "linux")]
#![allow(
    unsafe_code,
    reason = "fork, mmap and raw system calls in children are what these tests are about"
)]
#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failed expectation is a test failure"
)]

use std::ffi::c_void;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use phantom_bundle::{CgroupLimits, CpuQuota};
use phantom_runtime::cgroup::{
    self, CgroupError, CgroupOptions, CgroupSession, Controller, SessionDir, Version,
};

const MIB: u64 = 1 << 20;

fn limits() -> CgroupLimits {
    CgroupLimits {
        memory_max: Some(64 * MIB),
        swap_max: Some(0),
        cpu: Some(CpuQuota {
            quota_us: 50_000,
            period_us: 100_000,
        }),
        pids_max: Some(16),
        io_weight: None,
    }
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// A strict session, or `None` (with the reason printed) where the host cannot give one.
fn session(hint: &str) -> Option<CgroupSession> {
    if !is_root() {
        eprintln!("skipped: cgroup live tests need root");
        return None;
    }
    let detection = cgroup::detect().expect("detect");
    for c in [Controller::Memory, Controller::Pids] {
        if detection.hierarchy_for(c).is_none() {
            eprintln!("skipped: {}", detection.why_missing(c));
            return None;
        }
    }
    match CgroupSession::create(&limits(), hint) {
        Ok(s) => Some(s),
        Err(e)
            if matches!(
                e.errno(),
                Some(libc::EACCES) | Some(libc::EPERM) | Some(libc::EROFS)
            ) || matches!(
                e,
                CgroupError::ControllerUnavailable { .. } | CgroupError::InternalProcesses { .. }
            ) =>
        {
            eprintln!("skipped: no writable cgroup here: {e}");
            None
        }
        Err(e) => panic!("creating a session failed: {e}"),
    }
}

fn read(dir: &SessionDir, file: &str) -> String {
    let path = dir.path.join(file);
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .trim()
        .to_owned()
}

// ---------------------------------------------------------------------------------
// Children

/// A forked child waiting for a byte on a pipe before it runs its body.
struct Child {
    pid: i32,
    go: i32,
    reaped: bool,
}

fn exit(code: i32) -> ! {
    // SAFETY: _exit ends the process without running the harness's destructors.
    unsafe { libc::_exit(code) }
}

impl Child {
    fn spawn(body: fn() -> !) -> Child {
        let mut fds = [0i32; 2];
        // SAFETY: fds has room for the two descriptors.
        assert_eq!(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) }, 0);
        // SAFETY: the child makes only async-signal-safe calls and ends with _exit.
        let pid = unsafe { libc::fork() };
        assert!(pid >= 0, "fork: {}", std::io::Error::last_os_error());
        if pid == 0 {
            let mut byte = 0u8;
            // SAFETY: reading one byte into a local from our pipe.
            unsafe {
                libc::close(fds[1]);
                if libc::read(fds[0], (&raw mut byte).cast::<c_void>(), 1) != 1 {
                    exit(111);
                }
            }
            body();
        }
        // SAFETY: closing the parent's copy of the read end.
        unsafe { libc::close(fds[0]) };
        Child {
            pid,
            go: fds[1],
            reaped: false,
        }
    }

    /// Lets the child run its body.
    fn start(&self) {
        let byte = 1u8;
        // SAFETY: writing one byte from a local to our pipe.
        let n = unsafe { libc::write(self.go, (&raw const byte).cast::<c_void>(), 1) };
        assert_eq!(n, 1, "write: {}", std::io::Error::last_os_error());
    }

    /// Waits for the child's end (killing it after `timeout`): its wait status.
    fn wait(&mut self, timeout: Duration) -> i32 {
        let deadline = Instant::now() + timeout;
        let mut status = 0;
        loop {
            // SAFETY: status is a valid out-pointer; pid is our child.
            let r = unsafe { libc::waitpid(self.pid, &mut status, libc::WNOHANG) };
            if r == self.pid {
                self.reaped = true;
                return status;
            }
            assert_eq!(r, 0, "waitpid: {}", std::io::Error::last_os_error());
            if Instant::now() > deadline {
                // SAFETY: signalling our own child.
                unsafe { libc::kill(self.pid, libc::SIGKILL) };
                // SAFETY: as above, blocking until it is gone.
                unsafe { libc::waitpid(self.pid, &mut status, 0) };
                self.reaped = true;
                panic!("child {} still running after {timeout:?}", self.pid);
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        // SAFETY: closing our descriptor; signalling and reaping our own child.
        unsafe {
            libc::close(self.go);
            if !self.reaped {
                libc::kill(self.pid, libc::SIGKILL);
                let mut status = 0;
                libc::waitpid(self.pid, &mut status, 0);
            }
        }
    }
}

fn killed_by(status: i32) -> Option<i32> {
    libc::WIFSIGNALED(status).then(|| libc::WTERMSIG(status))
}

fn exit_code(status: i32) -> Option<i32> {
    libc::WIFEXITED(status).then(|| libc::WEXITSTATUS(status))
}

fn idle() -> ! {
    loop {
        // SAFETY: pause only waits for a signal.
        unsafe { libc::pause() };
    }
}

/// Maps 200 MiB and touches every page.
fn memory_hog() -> ! {
    const SIZE: usize = 200 << 20;
    // SAFETY: a fresh private anonymous mapping; every write is inside it.
    unsafe {
        let p = libc::mmap(
            std::ptr::null_mut(),
            SIZE,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        );
        if p == libc::MAP_FAILED {
            exit(2);
        }
        let bytes = p.cast::<u8>();
        let mut i = 0;
        while i < SIZE {
            std::ptr::write_volatile(bytes.add(i), 1);
            i += 4096;
        }
    }
    exit(0)
}

/// Forks idle grandchildren until fork fails; exit 0 if it failed with EAGAIN (the
/// pids limit), 1 if 64 forks succeeded, 3 on another error. Kills and reaps them.
fn fork_bomb() -> ! {
    let mut pids = [0i32; 64];
    let mut made = 0;
    let mut code = 1;
    while made < pids.len() {
        // SAFETY: the grandchild only pauses.
        let pid = unsafe { libc::fork() };
        if pid == 0 {
            idle();
        }
        if pid < 0 {
            // SAFETY: reading this thread's errno.
            let errno = unsafe { *libc::__errno_location() };
            code = if errno == libc::EAGAIN { 0 } else { 3 };
            break;
        }
        pids[made] = pid;
        made += 1;
    }
    for &pid in &pids[..made] {
        let mut status = 0;
        // SAFETY: signalling and reaping our own children.
        unsafe {
            libc::kill(pid, libc::SIGKILL);
            libc::waitpid(pid, &mut status, 0);
        }
    }
    exit(code)
}

// ---------------------------------------------------------------------------------
// Cases

#[test]
fn detection_report() {
    let detection = cgroup::detect().expect("detect");
    eprintln!("{detection}");
    // Every usable hierarchy's directory is where /proc says we are.
    for h in &detection.hierarchies {
        assert!(h.own_dir.is_dir(), "{}", h.own_dir.display());
    }
}

#[test]
fn limits_read_back_and_a_child_joins_every_hierarchy() {
    let Some(session) = session("readback") else {
        return;
    };
    eprintln!("enforced: {:?}", session.enforced());
    eprintln!("notes: {:?}", session.notes());
    assert!(session.not_enforced().is_empty());

    let memory = session.dir_for(Controller::Memory).expect("memory dir");
    match memory.version {
        Version::V1 => {
            assert_eq!(
                read(memory, "memory.limit_in_bytes"),
                (64 * MIB).to_string()
            );
            assert_eq!(
                read(memory, "memory.memsw.limit_in_bytes"),
                (64 * MIB).to_string()
            );
        }
        Version::V2 => {
            assert_eq!(read(memory, "memory.max"), (64 * MIB).to_string());
            assert_eq!(read(memory, "memory.swap.max"), "0");
        }
    }
    let pids = session.dir_for(Controller::Pids).expect("pids dir");
    assert_eq!(read(pids, "pids.max"), "16");
    if let Some(cpu) = session.dir_for(Controller::Cpu) {
        match cpu.version {
            Version::V1 => {
                assert_eq!(read(cpu, "cpu.cfs_quota_us"), "50000");
                assert_eq!(read(cpu, "cpu.cfs_period_us"), "100000");
            }
            Version::V2 => assert_eq!(read(cpu, "cpu.max"), "50000 100000"),
        }
    }

    let mut child = Child::spawn(idle);
    session.add(child.pid).expect("add");
    let proc_cgroup = std::fs::read_to_string(format!("/proc/{}/cgroup", child.pid)).unwrap();
    for dir in session.dirs() {
        assert_eq!(
            read(dir, "cgroup.procs"),
            child.pid.to_string(),
            "{}",
            dir.path.display()
        );
    }
    let lines = proc_cgroup
        .lines()
        .filter(|l| l.ends_with(&format!("/{}", session.name())))
        .count();
    assert_eq!(lines, session.dirs().len(), "{proc_cgroup}");
    assert_eq!(session.pids().unwrap(), vec![child.pid]);
    child.start();

    let paths: Vec<_> = session.dirs().iter().map(|d| d.path.clone()).collect();
    session.destroy().expect("destroy");
    assert_eq!(
        killed_by(child.wait(Duration::from_secs(10))),
        Some(libc::SIGKILL)
    );
    for p in paths {
        assert!(!p.exists(), "{} left behind", p.display());
    }
}

#[test]
fn a_memory_hog_is_oom_killed() {
    let Some(session) = session("oom") else {
        return;
    };
    let mut child = Child::spawn(memory_hog);
    session.add(child.pid).expect("add");
    child.start();
    let status = child.wait(Duration::from_secs(60));
    assert_eq!(
        killed_by(status),
        Some(libc::SIGKILL),
        "the hog ended with status {status:#x}, not by the OOM killer"
    );
    let events = session.events().expect("events");
    eprintln!("{events:?}");
    assert!(events.oom_kills >= 1, "{events:?}");
    // The kernel's high-water mark of the cgroup's memory, where it keeps one.
    let peak = session
        .dirs()
        .iter()
        .filter(|d| d.controllers.contains(&Controller::Memory))
        .find_map(|d| {
            let file = match d.version {
                Version::V1 => "memory.max_usage_in_bytes",
                Version::V2 => "memory.peak",
            };
            std::fs::read_to_string(d.path.join(file))
                .ok()?
                .trim()
                .parse::<u64>()
                .ok()
        });
    if let Some(peak) = peak {
        assert!(peak <= 64 * MIB, "peak {peak} above the limit");
        assert!(peak >= 32 * MIB, "peak {peak}: the hog hardly ran");
    }
    let paths: Vec<_> = session.dirs().iter().map(|d| d.path.clone()).collect();
    session.destroy().expect("destroy");
    for p in paths {
        assert!(!p.exists(), "{} left behind", p.display());
    }
}

#[test]
fn a_fork_bomb_hits_pids_max() {
    let Some(session) = session("forkbomb") else {
        return;
    };
    let mut child = Child::spawn(fork_bomb);
    session.add(child.pid).expect("add");
    child.start();
    let status = child.wait(Duration::from_secs(30));
    assert_eq!(
        exit_code(status),
        Some(0),
        "the bomb was not stopped by EAGAIN (status {status:#x})"
    );
    let events = session.events().expect("events");
    eprintln!("{events:?}");
    assert!(events.pids_max_hits >= 1, "{events:?}");
    assert_eq!(events.oom_kills, 0);
    session.destroy().expect("destroy");
}

#[test]
fn dropping_a_session_kills_its_processes_and_removes_it() {
    let Some(session) = session("drop") else {
        return;
    };
    let mut children: Vec<Child> = (0..3).map(|_| Child::spawn(idle)).collect();
    for c in &children {
        session.add(c.pid).expect("add");
    }
    let paths: Vec<_> = session.dirs().iter().map(|d| d.path.clone()).collect();
    drop(session);
    for c in &mut children {
        assert_eq!(
            killed_by(c.wait(Duration::from_secs(10))),
            Some(libc::SIGKILL)
        );
    }
    for p in paths {
        assert!(!p.exists(), "{} left behind", p.display());
    }
}

#[test]
fn sweep_removes_a_dead_runtimes_leftovers_only() {
    let Some(session) = session("sweep-keep") else {
        return;
    };
    // A pid that no longer exists: a child that has exited and been reaped.
    let mut gone = Child::spawn(|| exit(0));
    gone.start();
    assert_eq!(exit_code(gone.wait(Duration::from_secs(10))), Some(0));
    let dead = gone.pid;
    let detection = cgroup::detect().unwrap();
    let mut made = Vec::new();
    for c in [Controller::Memory, Controller::Pids] {
        let h = detection.hierarchy_for(c).unwrap();
        let dir = h.own_dir.join(format!("phantom-{dead}-0-stale"));
        if !made.contains(&dir) {
            std::fs::create_dir(&dir).unwrap();
            made.push(dir);
        }
    }
    let report = cgroup::sweep_stale("phantom").expect("sweep");
    eprintln!("{report:?}");
    for dir in &made {
        assert!(!dir.exists(), "{} not swept", dir.display());
        assert!(report.removed.contains(dir));
    }
    // Our own live session is untouched.
    for d in session.dirs() {
        assert!(d.path.exists(), "{} swept", d.path.display());
    }
    session.destroy().unwrap();
}

/// Run by `unprivileged_creation_is_refused_or_degraded` as uid 65534; a no-op
/// otherwise.
#[test]
fn unprivileged_probe() {
    if std::env::var_os("PHANTOM_CGROUP_PROBE").is_none() {
        return;
    }
    match CgroupSession::create(&limits(), "probe") {
        Ok(s) => println!("STRICT-OK enforced={:?}", s.enforced()),
        Err(e) => println!("STRICT-ERR {e}"),
    }
    let options = CgroupOptions {
        allow_degraded: true,
        ..CgroupOptions::default()
    };
    let s = CgroupSession::create_with(cgroup::RealFs, &limits(), "probe", &options)
        .expect("a degraded session never fails for permissions");
    println!("DEGRADED-DIRS {}", s.dirs().len());
    for n in s.not_enforced() {
        println!("NOT-ENFORCED {n}");
    }
    for n in s.enforced() {
        println!("ENFORCED {n}");
    }
    s.destroy().expect("destroy");
}

#[test]
fn unprivileged_creation_is_refused_or_degraded() {
    if !is_root() {
        eprintln!("skipped: needs root to switch to uid 65534");
        return;
    }
    let Some(setpriv) = ["/usr/bin/setpriv", "/bin/setpriv"]
        .into_iter()
        .find(|p| Path::new(p).exists())
    else {
        eprintln!("skipped: setpriv is not installed");
        return;
    };
    let exe = std::env::current_exe().unwrap();
    let output = Command::new(setpriv)
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
        .arg(&exe)
        .args([
            "--exact",
            "unprivileged_probe",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("PHANTOM_CGROUP_PROBE", "1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    eprintln!("{stdout}\n{stderr}");
    assert!(output.status.success(), "the probe failed or panicked");
    // The harness prints `test unprivileged_probe ... ` before the probe's first line.
    let strict = stdout
        .lines()
        .find_map(|l| l.find("STRICT-").map(|i| &l[i..]))
        .expect("the probe ran");
    let not_enforced: Vec<&str> = stdout
        .lines()
        .filter_map(|l| l.strip_prefix("NOT-ENFORCED "))
        .collect();
    if let Some(message) = strict.strip_prefix("STRICT-ERR ") {
        // Refused: the error names a limit and the fix; degraded names every limit.
        assert!(message.starts_with("cannot enforce "), "{message}");
        assert!(message.contains("limit"), "{message}");
        assert!(
            message.contains("uid 65534") || message.contains("root"),
            "{message}"
        );
        assert!(!not_enforced.is_empty());
        for limit in ["memory limit 64 MiB", "swap limit 0 B", "pids limit 16"] {
            assert!(
                not_enforced.iter().any(|n| n.starts_with(limit)),
                "{limit} not reported: {not_enforced:#?}"
            );
        }
    } else {
        // A delegated, writable subtree: then everything is enforced.
        assert!(not_enforced.is_empty(), "{not_enforced:#?}");
    }
}

/// The descriptors a self-moving child writes `0` to (`exec::move_in`), opened by the
/// test process before the fork; read by the child with async-signal-safe loads.
static MOVE_IN_FDS: [std::sync::atomic::AtomicI32; 16] =
    [const { std::sync::atomic::AtomicI32::new(-1) }; 16];

fn move_in_then_idle() -> ! {
    for fd in &MOVE_IN_FDS {
        let fd = fd.load(std::sync::atomic::Ordering::Relaxed);
        if fd < 0 {
            break;
        }
        // SAFETY: writing one byte from a static to a descriptor the parent opened.
        if unsafe { libc::write(fd, b"0".as_ptr().cast::<c_void>(), 1) } != 1 {
            exit(112);
        }
    }
    idle()
}

/// How a sandbox's process enters its cgroups (`exec::cgroup_moved_in`): phantom
/// opens each directory's entry file (v1 `tasks`, v2 `cgroup.procs`), and the process
/// writes `0` to each, moving itself in with phantom's permission. A session that uses
/// the v2 hierarchy too (for killing), on this hybrid host, shows both kinds.
#[test]
fn a_child_moves_itself_in_through_descriptors_its_creator_opened() {
    if session("probe").is_none() {
        return;
    }
    let options = CgroupOptions {
        unified_for_killing: true,
        ..CgroupOptions::default()
    };
    let session = CgroupSession::create_with(cgroup::RealFs, &limits(), "selfmove", &options)
        .expect("session");
    let files = session.entry_files();
    assert_eq!(files.len(), session.dirs().len());
    let opened: Vec<std::fs::File> = files
        .iter()
        .map(|p| {
            std::fs::OpenOptions::new()
                .write(true)
                .open(p)
                .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
        })
        .collect();
    for (slot, file) in MOVE_IN_FDS.iter().zip(&opened) {
        use std::os::fd::AsRawFd;
        slot.store(file.as_raw_fd(), std::sync::atomic::Ordering::Relaxed);
    }
    let mut child = Child::spawn(move_in_then_idle);
    child.start();
    // Every hierarchy, not just one: a v2 move waits for the kernel's migration lock.
    let everywhere = || {
        session.dirs().iter().all(|d| {
            std::fs::read_to_string(d.path.join("cgroup.procs"))
                .is_ok_and(|procs| procs.trim() == child.pid.to_string())
        })
    };
    let deadline = Instant::now() + Duration::from_secs(5);
    while !everywhere() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    for dir in session.dirs() {
        assert_eq!(
            read(dir, "cgroup.procs"),
            child.pid.to_string(),
            "{} ({:?})",
            dir.path.display(),
            dir.version
        );
    }
    drop(opened);
    session.destroy().expect("destroy");
    assert_eq!(
        killed_by(child.wait(Duration::from_secs(10))),
        Some(libc::SIGKILL)
    );
}
