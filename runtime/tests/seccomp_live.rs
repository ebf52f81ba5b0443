//! Compiled filters against the live kernel.
//!
//! Each case compiles a policy in-process (`phantom_compiler`), forks, installs the
//! filter in the child with `phantom_runtime::seccomp` and makes raw system calls
//! there. The child reports each result (the kernel's raw return value, `-errno` on
//! failure) as an `i64` on a pipe and exits; the parent reads the pipe, reaps the child
//! and checks how it ended. A child that outlives its deadline is killed with SIGKILL
//! and reaped, so no case can hang or leave a zombie.
//!
//! Children never allocate after installing a filter, and are made non-dumpable so a
//! SIGSYS kill leaves no core file behind.
//!
//! x86_64 only: the filters are compiled for x86_64, and two cases use the i386
//! (`int 0x80`) and x32 entry points.

#![cfg(all(target_os = "linux", target_arch = "x86_64"))]
#![allow(
    unsafe_code,
    reason = "fork, raw system calls and a signal handler are what these tests are about"
)]
#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failed expectation is a test failure"
)]

use std::arch::asm;
use std::ffi::{c_int, c_void, CString};
use std::sync::atomic::{AtomicI32, AtomicI64, AtomicU32, Ordering};
use std::time::{Duration, Instant};

use phantom_compiler::{check, io::MemoryFs, seccomp, tables::Arch, Input};
use phantom_runtime::seccomp::{Filter, SeccompError, Threads};

// ---------------------------------------------------------------------------------
// Policies

/// An allow-list: what the children need, one syscall per action, and an argument
/// condition. The default is EDOM, which no syscall used here returns by itself, so a
/// default verdict is told apart from the kernel's own errors.
const STRICT: &str = r#"
syscalls {
    default errno(EDOM)

    # What the test children themselves need.
    allow read, write, close, exit, exit_group, rt_sigreturn, getpid, gettid, tgkill, sched_yield, getsockopt

    errno(EPERM) getppid
    errno(ENOSYS) getuid
    errno(4095) getgid
    kill geteuid
    kill-thread getegid
    trap getpgrp
    log getpgid
    notify getpriority
    allow socket(domain) if domain == AF_UNIX
}
"#;

/// Everything allowed but one call: for the cases about threads and privileges.
const LENIENT: &str = r#"
syscalls {
    default allow
    errno(EPERM) getppid
}
"#;

fn filter(text: &str) -> Filter {
    let input = Input::Text {
        name: "live.pfp".into(),
        text: text.into(),
        dir: ".".into(),
    };
    program(&input)
}

fn profile(name: &str) -> Filter {
    program(&Input::Stdlib(name.into()))
}

fn program(input: &Input) -> Filter {
    let checked = check(input, &MemoryFs::new()).unwrap();
    assert!(!checked.has_errors(), "{:#?}", checked.diagnostics);
    let policy = checked.policy.unwrap();
    let program = seccomp::compile(&policy.syscalls, Arch::X86_64).unwrap();
    Filter::from_bytes(&program.to_bytes()).unwrap()
}

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
    /// The child's reports.
    fn values(&self) -> Vec<i64> {
        self.output
            .chunks_exact(8)
            .map(|c| i64::from_le_bytes(c.try_into().unwrap()))
            .collect()
    }
}

/// The child's end of the report pipe.
#[derive(Clone, Copy)]
struct Out(c_int);

impl Out {
    /// Reports one value. No allocation, one `write`.
    fn put(self, value: i64) {
        let bytes = value.to_le_bytes();
        // SAFETY: writes 8 bytes from a live local buffer to a descriptor we own.
        let _ = unsafe { libc::write(self.0, bytes.as_ptr().cast(), bytes.len()) };
    }
}

/// Exit status of a child whose filter could not be installed.
const INSTALL_FAILED: i32 = 99;
/// Exit status of a child that panicked.
const CHILD_PANICKED: i32 = 101;

/// Installs `filter` on the calling thread, or ends the child with `INSTALL_FAILED`.
fn install(filter: &Filter) {
    if filter.install(Threads::Calling).is_err() {
        exit(INSTALL_FAILED);
    }
}

fn exit(code: i32) -> ! {
    // SAFETY: _exit ends the process at once; it is async-signal-safe.
    unsafe { libc::_exit(code) }
}

/// Forks; runs `body` in the child, which exits 0 when it returns; collects what the
/// child wrote to its `Out` (and anything it wrote to that descriptor otherwise) until
/// every copy of it is closed; reaps the child. Past `timeout`, the child is killed.
fn run(timeout: Duration, body: impl FnOnce(Out)) -> Outcome {
    let mut fds = [0; 2];
    // SAFETY: `fds` is a valid array of two ints for pipe2 to fill.
    assert_eq!(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) }, 0);
    let [read_fd, write_fd] = fds;
    // SAFETY: the child only makes system calls, installs a filter with a program
    // prepared before the fork, and ends with _exit; it never returns into the harness.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork: {}", std::io::Error::last_os_error());
    if pid == 0 {
        // SAFETY: plain system calls on our own process: close our copy of the read
        // end; lead a process group of our own, so a timeout can kill whatever we
        // start; make sure a SIGSYS kill leaves no core file (core_pattern may be a
        // plain file name): non-dumpable, and a zero core limit, which survives exec.
        unsafe {
            libc::close(read_fd);
            libc::setpgid(0, 0);
            libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0);
            let zero = libc::rlimit {
                rlim_cur: 0,
                rlim_max: 0,
            };
            libc::setrlimit(libc::RLIMIT_CORE, &zero);
        }
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| body(Out(write_fd))));
        exit(if result.is_ok() { 0 } else { CHILD_PANICKED });
    }
    // SAFETY: the parent's copy of the write end is no longer needed; the child's
    // process group is set here too, so it exists before any kill below.
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
            // SAFETY: `pid` is our unreaped child, so neither it nor its process group
            // id can have been reused; the group holds whatever the child started.
            unsafe { libc::kill(-pid, libc::SIGKILL) };
            // SAFETY: as above; blocks until the killed child is reaped.
            let r = unsafe { libc::waitpid(pid, &mut status, 0) };
            assert_eq!(r, pid);
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
        let r = unsafe { libc::poll(&mut pfd, 1, ms) };
        if r <= 0 {
            continue; // EINTR or timeout: the deadline check decides
        }
        let mut buf = [0u8; 4096];
        // SAFETY: reads into a live local buffer of the given length.
        let n = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) };
        match n {
            0 => return true,
            n if n > 0 => output.extend_from_slice(&buf[..n as usize]),
            _ => {}
        }
    }
}

const TIMEOUT: Duration = Duration::from_secs(20);

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
// Raw system calls

/// A 64-bit system call through `syscall`: the kernel's return value as it is
/// (`-errno` on failure), and every bit of the number and arguments as given.
fn sys(nr: u64, args: &[u64]) -> i64 {
    let a = |i: usize| args.get(i).copied().unwrap_or(0);
    let ret: i64;
    // SAFETY: the calls made here take no pointers, or pointers to live locals; the
    // kernel clobbers only rcx and r11, declared.
    unsafe {
        asm!(
            "syscall",
            inlateout("rax") nr => ret,
            in("rdi") a(0), in("rsi") a(1), in("rdx") a(2),
            in("r10") a(3), in("r8") a(4), in("r9") a(5),
            lateout("rcx") _, lateout("r11") _,
            options(nostack),
        );
    }
    ret
}

/// i386 getpid through `int 0x80` (i386 number 20).
fn i386_getpid() -> i64 {
    let ret: u32;
    // SAFETY: getpid takes no arguments; the compat entry returns in eax and may
    // clobber r8-r11, declared.
    unsafe {
        asm!(
            "int 0x80",
            inlateout("eax") 20u32 => ret,
            lateout("r8") _, lateout("r9") _, lateout("r10") _, lateout("r11") _,
            options(nostack),
        );
    }
    i64::from(ret as i32)
}

fn nr(n: libc::c_long) -> u64 {
    n as u64
}

const GETPPID: u64 = libc::SYS_getppid as u64;
const AF_UNIX_HIGH: u64 = 0x1_0000_0000 | libc::AF_UNIX as u64;
const AF_INET_HIGH: u64 = 0x1_0000_0000 | libc::AF_INET as u64;
const X32_GETPID: u64 = 0x4000_0000 | libc::SYS_getpid as u64;

fn errno(e: c_int) -> i64 {
    -i64::from(e)
}

// ---------------------------------------------------------------------------------
// Actions

#[test]
fn allowed_calls_run() {
    let f = filter(STRICT);
    let o = run(TIMEOUT, |out| {
        let before = sys(nr(libc::SYS_getpid), &[]);
        install(&f);
        out.put(sys(nr(libc::SYS_getpid), &[]) - before);
        out.put(sys(nr(libc::SYS_gettid), &[]) - before);
    });
    assert_eq!(o.ended, Ended::Exited(0));
    assert_eq!(o.values(), [0, 0]);
}

#[test]
fn errno_rules_return_exactly_their_errno() {
    let f = filter(STRICT);
    let o = run(TIMEOUT, |out| {
        install(&f);
        out.put(sys(GETPPID, &[]));
        out.put(sys(nr(libc::SYS_getuid), &[]));
        out.put(sys(nr(libc::SYS_getgid), &[]));
        // Not named: the default.
        out.put(sys(nr(libc::SYS_getrandom), &[0, 0, 0]));
    });
    assert_eq!(o.ended, Ended::Exited(0));
    assert_eq!(
        o.values(),
        [
            errno(libc::EPERM),
            errno(libc::ENOSYS),
            -4095,
            errno(libc::EDOM)
        ]
    );
}

#[test]
fn kill_ends_the_process_with_sigsys() {
    let f = filter(STRICT);
    let o = run(TIMEOUT, |out| {
        install(&f);
        out.put(1);
        out.put(sys(nr(libc::SYS_geteuid), &[]));
        out.put(2);
    });
    assert_eq!(o.ended, Ended::Signaled(libc::SIGSYS));
    assert_eq!(o.values(), [1]);
}

/// The only thread: the kernel kills the whole process, as for `kill`.
#[test]
fn kill_thread_in_a_single_threaded_process_ends_it() {
    let f = filter(STRICT);
    let o = run(TIMEOUT, |out| {
        install(&f);
        out.put(1);
        out.put(sys(nr(libc::SYS_getegid), &[]));
        out.put(2);
    });
    assert_eq!(o.ended, Ended::Signaled(libc::SIGSYS));
    assert_eq!(o.values(), [1]);
}

/// With two threads, only the caller dies; the process carries on and exits 0.
#[test]
fn kill_thread_kills_only_the_calling_thread() {
    static TID: AtomicI64 = AtomicI64::new(0);
    let f = filter(STRICT);
    let o = run(TIMEOUT, |out| {
        let mut go = [0; 2];
        // SAFETY: `go` is a valid array for pipe to fill.
        assert_eq!(unsafe { libc::pipe(go.as_mut_ptr()) }, 0);
        let thread = std::thread::spawn(move || {
            TID.store(sys(nr(libc::SYS_gettid), &[]), Ordering::SeqCst);
            let mut b = [0u8; 1];
            // SAFETY: reads one byte into a live local.
            unsafe { libc::read(go[0], b.as_mut_ptr().cast(), 1) };
            out.put(1);
            out.put(sys(nr(libc::SYS_getegid), &[]));
            out.put(2);
        });
        while TID.load(Ordering::SeqCst) == 0 {
            std::hint::spin_loop();
        }
        // Both threads get the filter; the other one is blocked in read meanwhile.
        if f.install(Threads::All).is_err() {
            exit(INSTALL_FAILED);
        }
        let tid = TID.load(Ordering::SeqCst) as u64;
        let pid = sys(nr(libc::SYS_getpid), &[]) as u64;
        // SAFETY: writes one byte from a live local.
        unsafe { libc::write(go[1], [1u8].as_ptr().cast(), 1) };
        // Wait (bounded; the parent's deadline is the backstop) until the thread is gone.
        let mut alive = 0;
        for _ in 0..50_000_000u64 {
            alive = sys(nr(libc::SYS_tgkill), &[pid, tid, 0]);
            if alive != 0 {
                break;
            }
            sys(nr(libc::SYS_sched_yield), &[]);
        }
        out.put(alive);
        out.put(3);
        std::mem::forget(thread);
    });
    assert_eq!(o.ended, Ended::Exited(0));
    assert_eq!(o.values(), [1, errno(libc::ESRCH), 3]);
}

static TRAPS: AtomicU32 = AtomicU32::new(0);
static TRAP_CODE: AtomicI32 = AtomicI32::new(0);
static TRAP_ERRNO: AtomicI32 = AtomicI32::new(-1);
static TRAP_SYSCALL: AtomicI32 = AtomicI32::new(0);
static TRAP_ARCH: AtomicU32 = AtomicU32::new(0);

extern "C" fn on_sigsys(_sig: c_int, info: *mut libc::siginfo_t, _ctx: *mut c_void) {
    // SAFETY: the kernel passes a valid siginfo for SA_SIGINFO handlers. For SIGSYS,
    // the union at offset 16 is `_sigsys { void *_call_addr; int _syscall; unsigned
    // int _arch; }` (asm-generic/siginfo.h), so _syscall is at 24 and _arch at 28.
    unsafe {
        let base = info.cast::<u8>();
        TRAP_CODE.store((*info).si_code, Ordering::SeqCst);
        TRAP_ERRNO.store((*info).si_errno, Ordering::SeqCst);
        TRAP_SYSCALL.store(base.add(24).cast::<i32>().read(), Ordering::SeqCst);
        TRAP_ARCH.store(base.add(28).cast::<u32>().read(), Ordering::SeqCst);
    }
    TRAPS.fetch_add(1, Ordering::SeqCst);
}

#[test]
fn trap_delivers_sigsys_to_the_thread() {
    let f = filter(STRICT);
    let o = run(TIMEOUT, |out| {
        // SAFETY: a zeroed sigaction is valid; we fill handler, flags and mask.
        let ok = unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = on_sigsys as *const () as usize;
            sa.sa_flags = libc::SA_SIGINFO;
            libc::sigemptyset(&mut sa.sa_mask);
            libc::sigaction(libc::SIGSYS, &sa, std::ptr::null_mut())
        };
        assert_eq!(ok, 0);
        install(&f);
        out.put(sys(nr(libc::SYS_getpgrp), &[]));
        out.put(i64::from(TRAPS.load(Ordering::SeqCst)));
        out.put(i64::from(TRAP_CODE.load(Ordering::SeqCst)));
        out.put(i64::from(TRAP_ERRNO.load(Ordering::SeqCst)));
        out.put(i64::from(TRAP_SYSCALL.load(Ordering::SeqCst)));
        out.put(i64::from(TRAP_ARCH.load(Ordering::SeqCst)));
    });
    assert_eq!(o.ended, Ended::Exited(0));
    const SYS_SECCOMP: i64 = 1;
    const AUDIT_ARCH_X86_64: i64 = 0xc000_003e;
    // The kernel skips the call and rolls the registers back for the handler, so the
    // "result" the caller sees is rax as it was at entry: the syscall number.
    assert_eq!(
        o.values(),
        [
            libc::SYS_getpgrp,
            1,
            SYS_SECCOMP,
            0,
            libc::SYS_getpgrp,
            AUDIT_ARCH_X86_64
        ]
    );
}

#[test]
fn log_runs_the_call() {
    let f = filter(STRICT);
    let o = run(TIMEOUT, |out| {
        // `run` makes the child lead its own process group, so the answer is known and
        // non-zero wherever the tests run (a session id can be 0 under CI: its leader
        // may sit outside our pid namespace, and a group leader cannot start a session).
        let pid = sys(nr(libc::SYS_getpid), &[]);
        install(&f);
        out.put(pid);
        out.put(sys(nr(libc::SYS_getpgid), &[0]));
    });
    assert_eq!(o.ended, Ended::Exited(0));
    let v = o.values();
    assert!(v[0] > 0, "{v:?}");
    assert_eq!(v[0], v[1]);
}

/// `notify` needs a supervisor holding the filter's listener descriptor; a filter
/// installed without one (as here) makes the kernel answer ENOSYS.
#[test]
fn notify_without_a_listener_is_enosys() {
    let f = filter(STRICT);
    let o = run(TIMEOUT, |out| {
        install(&f);
        out.put(sys(
            nr(libc::SYS_getpriority),
            &[libc::PRIO_PROCESS as u64, 0],
        ));
    });
    assert_eq!(o.ended, Ended::Exited(0));
    assert_eq!(o.values(), [errno(libc::ENOSYS)]);
}

// ---------------------------------------------------------------------------------
// Arguments

fn socket_domain(fd: i64) -> i64 {
    let mut domain: c_int = -1;
    let mut len = std::mem::size_of::<c_int>() as libc::socklen_t;
    let r = sys(
        nr(libc::SYS_getsockopt),
        &[
            fd as u64,
            libc::SOL_SOCKET as u64,
            libc::SO_DOMAIN as u64,
            std::ptr::addr_of_mut!(domain) as u64,
            std::ptr::addr_of_mut!(len) as u64,
        ],
    );
    if r < 0 {
        r
    } else {
        i64::from(domain)
    }
}

fn socket(domain: u64) -> i64 {
    sys(nr(libc::SYS_socket), &[domain, libc::SOCK_STREAM as u64, 0])
}

/// Without a filter: the kernel reads `domain` as an `int`, so high bits vanish.
#[test]
fn kernel_truncates_socket_domain_to_32_bits() {
    let o = run(TIMEOUT, |out| {
        out.put(socket_domain(socket(AF_UNIX_HIGH)));
        out.put(socket_domain(socket(AF_INET_HIGH)));
    });
    assert_eq!(o.ended, Ended::Exited(0));
    assert_eq!(
        o.values(),
        [i64::from(libc::AF_UNIX), i64::from(libc::AF_INET)]
    );
}

/// `allow socket(domain) if domain == AF_UNIX` under a default of EDOM; the filter
/// compares the low 32 bits, as the kernel reads them, so high bits change nothing.
#[test]
fn socket_domain_allow_list() {
    let f = filter(STRICT);
    let o = run(TIMEOUT, |out| {
        install(&f);
        out.put(socket_domain(socket(libc::AF_UNIX as u64)));
        out.put(socket(libc::AF_INET as u64));
        out.put(socket(libc::AF_INET6 as u64));
        out.put(socket_domain(socket(AF_UNIX_HIGH)));
        out.put(socket(AF_INET_HIGH));
    });
    assert_eq!(o.ended, Ended::Exited(0));
    let unix = i64::from(libc::AF_UNIX);
    let edom = errno(libc::EDOM);
    assert_eq!(o.values(), [unix, edom, edom, unix, edom]);
}

// ---------------------------------------------------------------------------------
// Numbers and architectures

/// Without a filter: i386 works, x32 is off, unknown numbers are ENOSYS, and the
/// kernel reads the number as 32 bits (getppid with high bits set runs getppid).
#[test]
fn kernel_entry_points_without_a_filter() {
    let o = run(TIMEOUT, |out| {
        let pid = sys(nr(libc::SYS_getpid), &[]);
        out.put(i386_getpid() - pid);
        out.put(sys(X32_GETPID, &[]));
        out.put(sys(1000, &[]));
        out.put(sys(u64::MAX, &[]));
        out.put(sys(0x1_0000_0000 | GETPPID, &[]) - sys(GETPPID, &[]));
    });
    assert_eq!(o.ended, Ended::Exited(0));
    let enosys = errno(libc::ENOSYS);
    assert_eq!(o.values(), [0, enosys, enosys, enosys, 0]);
}

/// The architecture check: i386 getpid is number 20, which on x86_64 is writev, and
/// STRICT gives writev the default (EDOM). Only the `arch` test makes it a kill.
#[test]
fn int80_from_a_64_bit_process_is_killed() {
    let f = filter(STRICT);
    let o = run(TIMEOUT, |out| {
        install(&f);
        out.put(1);
        out.put(i386_getpid());
    });
    assert_eq!(o.ended, Ended::Signaled(libc::SIGSYS));
    assert_eq!(o.values(), [1]);
}

/// Numbers with bit 30 set (x32, and everything above it but -1) are killed; without
/// that range, x32 getpid would get the default.
#[test]
fn x32_numbers_are_killed() {
    let f = filter(STRICT);
    for number in [X32_GETPID, 0x4000_0000, 0x8000_0000, 0xffff_fffe] {
        let o = run(TIMEOUT, |out| {
            install(&f);
            out.put(1);
            out.put(sys(number, &[]));
        });
        assert_eq!(o.ended, Ended::Signaled(libc::SIGSYS), "{number:#x}");
        assert_eq!(o.values(), [1], "{number:#x}");
    }
}

#[test]
fn unknown_numbers_get_the_default() {
    let f = filter(STRICT);
    let o = run(TIMEOUT, |out| {
        install(&f);
        out.put(sys(1000, &[]));
        out.put(sys(0x3fff_ffff, &[]));
        // -1: what tools pass on purpose; unknown, not x32.
        out.put(sys(u64::MAX, &[]));
    });
    assert_eq!(o.ended, Ended::Exited(0));
    assert_eq!(o.values(), [errno(libc::EDOM); 3]);
}

/// The kernel and the filter both read the number's low 32 bits.
#[test]
fn high_bits_of_the_number_do_not_escape_a_rule() {
    let f = filter(STRICT);
    let o = run(TIMEOUT, |out| {
        install(&f);
        out.put(sys(0x1_0000_0000 | GETPPID, &[]));
        out.put(sys(0xffff_ffff_0000_0000 | GETPPID, &[]));
    });
    assert_eq!(o.ended, Ended::Exited(0));
    assert_eq!(o.values(), [errno(libc::EPERM); 2]);
}

// ---------------------------------------------------------------------------------
// Threads, privileges, install errors

/// `Threads::Calling` leaves a thread that already exists unfiltered; `Threads::All`
/// (TSYNC) filters it too.
#[test]
fn threads_option() {
    let f = filter(LENIENT);
    for (threads, expected) in [(Threads::Calling, false), (Threads::All, true)] {
        let f = f.clone();
        let o = run(TIMEOUT, move |out| {
            let mut go = [0; 2];
            // SAFETY: `go` is a valid array for pipe to fill.
            assert_eq!(unsafe { libc::pipe(go.as_mut_ptr()) }, 0);
            let thread = std::thread::spawn(move || {
                let mut b = [0u8; 1];
                // SAFETY: reads one byte into a live local.
                unsafe { libc::read(go[0], b.as_mut_ptr().cast(), 1) };
                sys(GETPPID, &[])
            });
            if f.install(threads).is_err() {
                exit(INSTALL_FAILED);
            }
            // SAFETY: writes one byte from a live local.
            unsafe { libc::write(go[1], [1u8].as_ptr().cast(), 1) };
            out.put(thread.join().unwrap());
            out.put(sys(GETPPID, &[]));
        });
        assert_eq!(o.ended, Ended::Exited(0), "{threads:?}");
        let v = o.values();
        assert_eq!(v[0] == errno(libc::EPERM), expected, "{threads:?}: {v:?}");
        assert_eq!(v[1], errno(libc::EPERM), "{threads:?}");
    }
}

/// TSYNC fails when another live thread has a filter the caller lacks; the error
/// names that thread.
#[test]
fn thread_sync_conflict_names_the_thread() {
    static TID: AtomicI64 = AtomicI64::new(0);
    let f = filter(LENIENT);
    let o = run(TIMEOUT, move |out| {
        let mut go = [0; 2];
        // SAFETY: `go` is a valid array for pipe to fill.
        assert_eq!(unsafe { libc::pipe(go.as_mut_ptr()) }, 0);
        let g = f.clone();
        let thread = std::thread::spawn(move || {
            let tid = sys(nr(libc::SYS_gettid), &[]);
            TID.store(
                if g.install(Threads::Calling).is_ok() {
                    tid
                } else {
                    -1
                },
                Ordering::SeqCst,
            );
            let mut b = [0u8; 1];
            // SAFETY: reads one byte into a live local.
            unsafe { libc::read(go[0], b.as_mut_ptr().cast(), 1) };
        });
        while TID.load(Ordering::SeqCst) == 0 {
            std::hint::spin_loop();
        }
        let tid = TID.load(Ordering::SeqCst);
        match f.install(Threads::All) {
            Err(SeccompError::ThreadSync { thread }) => out.put(i64::from(thread == tid)),
            _ => out.put(-1),
        }
        // SAFETY: writes one byte from a live local.
        unsafe { libc::write(go[1], [1u8].as_ptr().cast(), 1) };
        thread.join().unwrap();
        out.put(i64::from(tid > 0));
    });
    assert_eq!(o.ended, Ended::Exited(0));
    assert_eq!(o.values(), [1, 1]);
}

#[test]
fn install_sets_no_new_privs() {
    let f = filter(LENIENT);
    let o = run(TIMEOUT, |out| {
        out.put(sys(
            nr(libc::SYS_prctl),
            &[libc::PR_GET_NO_NEW_PRIVS as u64],
        ));
        install(&f);
        out.put(sys(
            nr(libc::SYS_prctl),
            &[libc::PR_GET_NO_NEW_PRIVS as u64],
        ));
    });
    assert_eq!(o.ended, Ended::Exited(0));
    assert_eq!(o.values(), [0, 1]);
}

/// no_new_privs lets an unprivileged process install the filter; the verdicts are the
/// same.
#[test]
fn unprivileged_process() {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("skipped: dropping to nobody needs root (the other cases run unprivileged)");
        return;
    }
    let f = filter(STRICT);
    for kill in [false, true] {
        let o = run(TIMEOUT, |out| {
            let nobody = 65534u64;
            let dropped = [
                sys(nr(libc::SYS_setgroups), &[0, 0]),
                sys(nr(libc::SYS_setresgid), &[nobody, nobody, nobody]),
                sys(nr(libc::SYS_setresuid), &[nobody, nobody, nobody]),
            ];
            if dropped != [0; 3] {
                exit(98);
            }
            out.put(sys(nr(libc::SYS_geteuid), &[]));
            install(&f);
            out.put(i64::from(sys(nr(libc::SYS_getpid), &[]) > 0));
            out.put(sys(GETPPID, &[]));
            out.put(socket_domain(socket(libc::AF_UNIX as u64)));
            out.put(socket(libc::AF_INET as u64));
            if kill {
                sys(nr(libc::SYS_geteuid), &[]);
                out.put(2);
            }
        });
        let expected_end = if kill {
            Ended::Signaled(libc::SIGSYS)
        } else {
            Ended::Exited(0)
        };
        assert_eq!(o.ended, expected_end);
        assert_eq!(
            o.values(),
            [
                65534,
                1,
                errno(libc::EPERM),
                i64::from(libc::AF_UNIX),
                errno(libc::EDOM)
            ]
        );
    }
}

/// A program of the right shape that the kernel's checker refuses: an install error
/// carrying EINVAL, with the hint to recompile.
#[test]
fn kernel_refuses_a_malformed_program() {
    // ld [4]; ld [64] (past struct seccomp_data); ret ALLOW
    let cases: [&[u8]; 2] = [
        &[0x20, 0, 0, 0, 4, 0, 0, 0],
        &[
            0x20, 0, 0, 0, 64, 0, 0, 0, //
            0x06, 0, 0, 0, 0, 0, 0xff, 0x7f,
        ],
    ];
    for bytes in cases {
        let f = Filter::from_bytes(bytes).unwrap();
        let o = run(TIMEOUT, |out| match f.install(Threads::Calling) {
            Err(e) => {
                if let SeccompError::Install { source, .. } = &e {
                    out.put(i64::from(source.raw_os_error().unwrap_or(-1)));
                }
                out.put(i64::from(e.to_string().contains("recompile the policy")));
            }
            Ok(()) => out.put(-1),
        });
        assert_eq!(o.ended, Ended::Exited(0));
        assert_eq!(o.values(), [i64::from(libc::EINVAL), 1]);
    }
}

/// Filters stack, and the kernel caps their total length (32768 instructions, plus 4
/// per filter): the eighth 4096-instruction filter is refused with ENOMEM.
#[test]
fn stacked_filters_hit_the_kernels_total_limit() {
    // 4095 × `ld [0]`, then ret ALLOW.
    let mut bytes = [0x20u8, 0, 0, 0, 0, 0, 0, 0].repeat(4095);
    bytes.extend_from_slice(&[0x06, 0, 0, 0, 0, 0, 0xff, 0x7f]);
    let f = Filter::from_bytes(&bytes).unwrap();
    assert_eq!(f.len(), 4096);
    let o = run(TIMEOUT, |out| {
        for i in 1..=8 {
            if let Err(e) = f.install(Threads::Calling) {
                out.put(i);
                if let SeccompError::Install { source, .. } = &e {
                    out.put(i64::from(source.raw_os_error().unwrap_or(-1)));
                }
                out.put(i64::from(e.to_string().contains("32768")));
                return;
            }
        }
    });
    assert_eq!(o.ended, Ended::Exited(0));
    assert_eq!(o.values(), [8, i64::from(libc::ENOMEM), 1]);
}

// ---------------------------------------------------------------------------------
// A stdlib profile

fn cstrings(items: &[&str]) -> (Vec<CString>, Vec<*const libc::c_char>) {
    let owned: Vec<CString> = items.iter().map(|s| CString::new(*s).unwrap()).collect();
    let mut ptrs: Vec<*const libc::c_char> = owned.iter().map(|c| c.as_ptr()).collect();
    ptrs.push(std::ptr::null());
    (owned, ptrs)
}

/// Runs `argv` under `filter`, stdout and stderr to the report pipe, and ends as it
/// ended. The forked child is a subreaper: it execs the program in a child of its own
/// and reaps every descendant (multiprocessing's helpers outlive the interpreter), so
/// none is left to init.
fn exec_under(filter: &Filter, argv: &[&str], timeout: Duration) -> Outcome {
    let (_argv_owned, argv) = cstrings(argv);
    let (_env_owned, envp) = cstrings(&["PATH=/usr/bin:/bin", "LANG=C.UTF-8", "HOME=/tmp"]);
    run(timeout, |out| {
        // SAFETY: plain system calls; the grandchild only duplicates descriptors,
        // installs the prepared filter and calls execve with null-terminated arrays of
        // pointers to strings that outlive the call.
        let pid = unsafe {
            libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
            libc::fork()
        };
        if pid == 0 {
            // SAFETY: see above.
            unsafe {
                libc::dup2(out.0, 1);
                libc::dup2(out.0, 2);
            }
            install(filter);
            // SAFETY: see above.
            unsafe { libc::execve(argv[0], argv.as_ptr(), envp.as_ptr()) };
            exit(127);
        }
        let mut program = None;
        loop {
            let mut status = 0;
            // SAFETY: waiting for any of our children, with a valid status pointer.
            let r = unsafe { libc::waitpid(-1, &mut status, 0) };
            if r == pid {
                program = Some(status);
            } else if r < 0 && std::io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
                break; // ECHILD: every descendant is reaped
            }
        }
        match program {
            Some(s) if libc::WIFEXITED(s) => exit(libc::WEXITSTATUS(s)),
            Some(s) if libc::WIFSIGNALED(s) => {
                // SAFETY: ends this process with the same signal, default action.
                unsafe {
                    libc::signal(libc::WTERMSIG(s), libc::SIG_DFL);
                    libc::kill(libc::getpid(), libc::WTERMSIG(s));
                }
                exit(126)
            }
            _ => exit(125),
        }
    })
}

#[test]
fn python_dev_runs_bin_true() {
    let f = profile("python-dev");
    let o = exec_under(&f, &["/bin/true"], TIMEOUT);
    assert_eq!(
        o.ended,
        Ended::Exited(0),
        "{}",
        String::from_utf8_lossy(&o.output)
    );
}

const PYTHON: &str = "/usr/bin/python3";

/// What the profile promises for CPython: threads, subprocess (clone3 answers ENOSYS
/// and glibc falls back to clone), ssl, sqlite3 and a multiprocessing pool.
#[test]
fn python_dev_runs_python() {
    if !std::path::Path::new(PYTHON).exists() {
        eprintln!("skipped: no {PYTHON}");
        return;
    }
    let script = "\
import threading, subprocess, ssl, sqlite3, multiprocessing
t = threading.Thread(target=lambda: None); t.start(); t.join()
rc = subprocess.run(['/bin/true']).returncode
ssl.create_default_context()
db = sqlite3.connect(':memory:'); db.execute('create table t (x)'); db.execute('insert into t values (7)')
with multiprocessing.get_context('spawn').Pool(1) as pool: sq = pool.map(abs, [-3])
print('ok', rc, db.execute('select x from t').fetchone()[0], sq[0])
";
    let f = profile("python-dev");
    let o = exec_under(&f, &[PYTHON, "-c", script], Duration::from_secs(60));
    let text = String::from_utf8_lossy(&o.output);
    assert_eq!(o.ended, Ended::Exited(0), "{text}");
    assert_eq!(text, "ok 0 7 3\n");
}

/// A few of the profile's verdicts, live.
#[test]
fn python_dev_verdicts() {
    let f = profile("python-dev");
    let o = run(TIMEOUT, |out| {
        install(&f);
        out.put(sys(nr(libc::SYS_clone3), &[0, 0]));
        out.put(sys(nr(libc::SYS_unshare), &[0]));
        out.put(sys(nr(libc::SYS_setuid), &[0]));
        out.put(sys(
            nr(libc::SYS_socket),
            &[libc::AF_NETLINK as u64, libc::SOCK_RAW as u64, 0],
        ));
        #[allow(
            clippy::unnecessary_cast,
            reason = "TIOCSTI is a u64 in glibc's libc, an i32 in musl's"
        )]
        let tiocsti = libc::TIOCSTI as u64;
        out.put(sys(nr(libc::SYS_ioctl), &[0, tiocsti, 0]));
        out.put(sys(1000, &[]));
        out.put(1);
        sys(nr(libc::SYS_ptrace), &[libc::PTRACE_TRACEME as u64]);
        out.put(2);
    });
    assert_eq!(o.ended, Ended::Signaled(libc::SIGSYS));
    let eperm = errno(libc::EPERM);
    assert_eq!(
        o.values(),
        [
            errno(libc::ENOSYS),
            eperm,
            eperm,
            errno(libc::EAFNOSUPPORT),
            eperm,
            errno(libc::ENOSYS),
            1
        ]
    );
}

/// A killed call inside a real program: ctypes calls ptrace, which the profile kills.
#[test]
fn python_dev_kills_ptrace_from_python() {
    if !std::path::Path::new(PYTHON).exists() {
        eprintln!("skipped: no {PYTHON}");
        return;
    }
    let script = "import ctypes; print('before', flush=True); ctypes.CDLL(None).ptrace(0, 0, 0, 0); print('after')";
    let f = profile("python-dev");
    let o = exec_under(&f, &[PYTHON, "-c", script], Duration::from_secs(60));
    let text = String::from_utf8_lossy(&o.output);
    assert_eq!(o.ended, Ended::Signaled(libc::SIGSYS), "{text}");
    assert_eq!(text, "before\n");
}
