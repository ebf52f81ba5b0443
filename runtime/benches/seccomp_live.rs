//! Cost of a system call under the compiled `python-dev` filter, live, against no filter
//! and against a filter that allows everything (`ret ALLOW`, every syscall cached).
//!
//! Run: `cargo bench -p phantom-runtime --bench seccomp_live`
//!
//! A filter cannot be taken off again, so each column is measured in a forked child:
//! it installs the filter (or none) and times 5 rounds of 200 000 calls of each kind
//! with `Instant`, writing ns per call of each round to a pipe. The columns are
//! measured in turn, three times over; the parent prints the best round (the one least
//! disturbed by the rest of the machine) and the median. The calls fail cheaply
//! without a filter, so the filter's share shows:
//!
//! - `getppid`: allowed without conditions, so the kernel's action cache answers
//!   without running the filter;
//! - `ioctl(-1, FIONREAD)`: allowed, but ioctl has an argument rule, so the filter
//!   runs (to its argument block) every time; the kernel then fails it with EBADF;
//! - `setns(-1, 0)`: a `deny` rule, EPERM from the filter (EBADF without one);
//! - number 1000: no such syscall; the default, ENOSYS, from the filter (from the
//!   kernel's table without one).
//!
//! Without `--bench` (as `cargo test --benches` runs it) it does a short smoke run.

#![allow(
    unsafe_code,
    reason = "fork, pipes and raw system calls in the measuring child"
)]

#[cfg(all(target_os = "linux", target_arch = "x86_64"))]
fn main() {
    live::main();
}

#[cfg(not(all(target_os = "linux", target_arch = "x86_64")))]
fn main() {
    eprintln!("seccomp_live: x86_64 Linux only");
}

#[cfg(all(target_os = "linux", target_arch = "x86_64"))]
mod live {
    use std::ffi::c_long;
    use std::hint::black_box;
    use std::time::Instant;

    use phantom_compiler::{check, io::MemoryFs, seccomp, tables::Arch, Input};
    use phantom_runtime::seccomp::{Filter, Threads};

    struct Case {
        name: &'static str,
        nr: c_long,
        args: [c_long; 2],
    }

    const CASES: [Case; 4] = [
        Case {
            name: "getppid (allowed, cached)",
            nr: libc::SYS_getppid,
            args: [0, 0],
        },
        Case {
            name: "ioctl(-1, FIONREAD) (allowed, filter runs)",
            nr: libc::SYS_ioctl,
            args: [-1, libc::FIONREAD as c_long],
        },
        Case {
            name: "setns(-1, 0) (deny: EPERM)",
            nr: libc::SYS_setns,
            args: [-1, 0],
        },
        Case {
            name: "nr 1000 (default: ENOSYS)",
            nr: 1000,
            args: [0, 0],
        },
    ];

    const ROUNDS: usize = 5;
    const PASSES: usize = 3;

    pub fn main() {
        let full = std::env::args().any(|a| a == "--bench");
        let calls: u32 = if full { 200_000 } else { 1_000 };

        let Some((filter, program)) = python_dev() else {
            eprintln!("seccomp_live: the python-dev profile did not compile");
            std::process::exit(1);
        };
        let m = &program.measurements;
        println!(
            "python-dev, x86_64: {} instructions, worst path {}, mean dispatch {:.1}, {} of {} syscalls cached by the kernel",
            program.insns.len(),
            m.worst_path,
            m.mean_dispatch,
            m.cached,
            m.known_syscalls
        );

        // `ret ALLOW`: every syscall is in the kernel's cache, so this column is the
        // cost of having a filter at all (the syscall entry's slow path).
        let allow_all = Filter::from_bytes(&[0x06, 0, 0, 0, 0, 0, 0xff, 0x7f]).ok();
        let columns = [None, allow_all.as_ref(), Some(&filter)];
        // rounds[column][case]: ns per call of every round, all passes.
        let mut rounds = vec![vec![Vec::new(); CASES.len()]; columns.len()];
        for _ in 0..PASSES {
            for (column, filter) in columns.iter().enumerate() {
                let Some(r) = measure(*filter, calls) else {
                    eprintln!("seccomp_live: a measuring child failed");
                    std::process::exit(1);
                };
                for (case, values) in r.chunks(ROUNDS).enumerate() {
                    if let Some(all) = rounds.get_mut(column).and_then(|c| c.get_mut(case)) {
                        all.extend_from_slice(values);
                    }
                }
            }
        }
        println!(
            "ns per call: best (median) of {} rounds of {calls} calls; columns measured \
             in turn, {PASSES} times, each time in a fresh child",
            PASSES * ROUNDS
        );
        println!(
            "{:<44} {:>16} {:>16} {:>16}",
            "call", "no filter", "allow-all", "python-dev"
        );
        for (i, case) in CASES.iter().enumerate() {
            let cell = |column: usize| {
                let mut v = rounds
                    .get(column)
                    .and_then(|c| c.get(i))
                    .cloned()
                    .unwrap_or_default();
                v.sort_by(f64::total_cmp);
                let best = v.first().copied().unwrap_or(f64::NAN);
                let median = v.get(v.len() / 2).copied().unwrap_or(f64::NAN);
                format!("{best:.0} ({median:.0})")
            };
            println!(
                "{:<44} {:>16} {:>16} {:>16}",
                case.name,
                cell(0),
                cell(1),
                cell(2)
            );
        }
    }

    fn python_dev() -> Option<(Filter, seccomp::Program)> {
        let checked = check(&Input::Stdlib("python-dev".into()), &MemoryFs::new()).ok()?;
        let program = seccomp::compile(&checked.policy?.syscalls, Arch::X86_64).ok()?;
        let filter = Filter::from_bytes(&program.to_bytes()).ok()?;
        Some((filter, program))
    }

    /// Forks a child that installs `filter` (if any) and times every case; returns
    /// ns per call of each round, case by case, or `None` if the child failed.
    fn measure(filter: Option<&Filter>, calls: u32) -> Option<Vec<f64>> {
        let mut fds = [0; 2];
        // SAFETY: `fds` is a valid array for pipe to fill.
        if unsafe { libc::pipe(fds.as_mut_ptr()) } != 0 {
            return None;
        }
        let [read_fd, write_fd] = fds;
        // SAFETY: this process has one thread; the child only makes system calls and
        // ends with _exit.
        let pid = unsafe { libc::fork() };
        if pid < 0 {
            return None;
        }
        if pid == 0 {
            child(filter, calls, write_fd);
        }
        // SAFETY: closing the parent's copy of the write end.
        unsafe { libc::close(write_fd) };
        let mut bytes = Vec::new();
        let mut buf = [0u8; 256];
        loop {
            // SAFETY: reads into a live local buffer of the given length.
            let n = unsafe { libc::read(read_fd, buf.as_mut_ptr().cast(), buf.len()) };
            let Ok(n) = usize::try_from(n) else { break };
            if n == 0 {
                break;
            }
            bytes.extend_from_slice(buf.get(..n)?);
        }
        let mut status = 0;
        // SAFETY: closing our descriptor; reaping our own child.
        unsafe {
            libc::close(read_fd);
            libc::waitpid(pid, &mut status, 0);
        }
        if !libc::WIFEXITED(status) || libc::WEXITSTATUS(status) != 0 {
            return None;
        }
        let values: Vec<f64> = bytes
            .chunks_exact(8)
            .filter_map(|c| c.try_into().ok().map(f64::from_le_bytes))
            .collect();
        (values.len() == CASES.len() * ROUNDS).then_some(values)
    }

    fn child(filter: Option<&Filter>, calls: u32, out: libc::c_int) -> ! {
        if let Some(filter) = filter {
            if filter.install(Threads::Calling).is_err() {
                // SAFETY: ends the child at once.
                unsafe { libc::_exit(2) };
            }
        }
        for case in &CASES {
            // One short round to warm up, then the measured ones.
            time(case, calls / 10);
            for _ in 0..ROUNDS {
                let bytes = time(case, calls).to_le_bytes();
                // SAFETY: writes 8 bytes from a live local buffer.
                unsafe { libc::write(out, bytes.as_ptr().cast(), bytes.len()) };
            }
        }
        // SAFETY: ends the child at once, without running the parent's exit handlers.
        unsafe { libc::_exit(0) }
    }

    /// Nanoseconds per call over `calls` calls.
    fn time(case: &Case, calls: u32) -> f64 {
        let start = Instant::now();
        for _ in 0..calls {
            // SAFETY: none of the cases takes a pointer.
            black_box(unsafe { libc::syscall(black_box(case.nr), case.args[0], case.args[1]) });
        }
        start.elapsed().as_nanos() as f64 / f64::from(calls.max(1))
    }
}
