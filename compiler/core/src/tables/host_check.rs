//! Cross-checks of the checked-in tables against the C headers of the host,
//! when the host has them (Linux with kernel headers, optionally a C
//! compiler and the arm64 cross headers of Debian's
//! `linux-libc-dev-arm64-cross`). Every check that lacks what it needs says
//! so on stderr and passes: the tables themselves never depend on the host.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use super::{constant, constant_names, syscall, Arch};

/// The highest syscall number the tables know; header entries above it are
/// newer than the tables and only reported.
const HIGHEST_KNOWN_NR: u32 = 469;

/// Where Debian's `linux-libc-dev-arm64-cross` installs the arm64 headers.
const ARM64_CROSS_INCLUDE: &str = "/usr/aarch64-linux-gnu/include";

fn skip(what: &str, why: &str) {
    eprintln!("host_check: skipping {what}: {why}");
}

/// `#define __NR_<name> <number>` lines of a header, in order.
fn nr_defines(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter_map(|line| {
            let mut words = line.split_whitespace();
            if words.next() != Some("#define") {
                return None;
            }
            let name = words.next()?.strip_prefix("__NR")?;
            let value = words.next()?;
            Some((name.to_string(), value.to_string()))
        })
        .collect()
}

fn compare_numbers(arch: Arch, header: &Path, found: &[(String, u32)]) {
    assert!(
        !found.is_empty(),
        "{}: no syscall numbers found",
        header.display()
    );
    let mut problems = Vec::new();
    for (name, nr) in found {
        match syscall(arch, name) {
            Some(s) if s.nr == *nr && s.name == name.as_str() => {}
            Some(s) => problems.push(format!("{name}: header {nr}, table {} ({})", s.nr, s.name)),
            None if *nr > HIGHEST_KNOWN_NR => {
                eprintln!("host_check: {arch}: header has newer syscall {name} = {nr}")
            }
            None => problems.push(format!("{name} = {nr} missing from the table")),
        }
    }
    assert!(
        problems.is_empty(),
        "{arch} syscall numbers differ from {}:\n{}",
        header.display(),
        problems.join("\n")
    );
    eprintln!(
        "host_check: {arch}: {} syscall numbers match {}",
        found.len(),
        header.display()
    );
}

#[test]
fn x86_64_numbers_match_host_header() {
    let candidates = [
        "/usr/include/x86_64-linux-gnu/asm/unistd_64.h",
        "/usr/include/asm/unistd_64.h",
    ];
    let Some(path) = candidates.iter().map(Path::new).find(|p| p.is_file()) else {
        return skip("x86_64 syscall numbers", "no asm/unistd_64.h");
    };
    let text = std::fs::read_to_string(path).unwrap();
    let found: Vec<(String, u32)> = nr_defines(&text)
        .into_iter()
        .filter_map(|(n, v)| Some((n.strip_prefix('_')?.to_string(), v.parse().ok()?)))
        .collect();
    compare_numbers(Arch::X86_64, path, &found);
}

/// Evaluates the few `#if` expressions that occur in asm-generic/unistd.h:
/// `defined(X)`, `!defined(X)`, `__BITS_PER_LONG ==/!= N`, joined by all
/// `||` or all `&&`. `None` for anything else.
fn eval_condition(expr: &str, defined: &HashSet<&str>) -> Option<bool> {
    let expr = expr.split("/*").next()?.trim();
    let term = |t: &str| -> Option<bool> {
        let t = t.trim();
        if let Some(inner) = t.strip_prefix("!defined(") {
            return Some(!defined.contains(inner.strip_suffix(')')?.trim()));
        }
        if let Some(inner) = t.strip_prefix("defined(") {
            return Some(defined.contains(inner.strip_suffix(')')?.trim()));
        }
        let rest = t.strip_prefix("__BITS_PER_LONG")?.trim();
        if let Some(n) = rest.strip_prefix("==") {
            return Some(n.trim() == "64");
        }
        if let Some(n) = rest.strip_prefix("!=") {
            return Some(n.trim() != "64");
        }
        None
    };
    match (expr.contains("||"), expr.contains("&&")) {
        (true, true) => None,
        (true, false) => expr
            .split("||")
            .map(term)
            .try_fold(false, |acc, t| Some(acc || t?)),
        (false, true) => expr
            .split("&&")
            .map(term)
            .try_fold(true, |acc, t| Some(acc && t?)),
        (false, false) => term(expr),
    }
}

/// The arm64 syscall numbers according to asm-generic/unistd.h, with the
/// `__ARCH_WANT_*` switches arm64's asm/unistd.h sets. `None` if the header
/// uses a construct this little evaluator does not know.
fn arm64_numbers(text: &str) -> Option<Vec<(String, u32)>> {
    let defined: HashSet<&str> = [
        "__ARCH_WANT_RENAMEAT",
        "__ARCH_WANT_NEW_STAT",
        "__ARCH_WANT_SET_GET_RLIMIT",
        "__ARCH_WANT_TIME32_SYSCALLS",
        "__ARCH_WANT_SYS_CLONE3",
        "__ARCH_WANT_MEMFD_SECRET",
        "__SYSCALL", // defined to nothing by the header itself
    ]
    .into_iter()
    .collect();
    // Stack of (this branch active, some branch of this #if was taken).
    let mut stack: Vec<(bool, bool)> = Vec::new();
    let mut values: HashMap<String, String> = HashMap::new();
    let mut order = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        let active = stack.iter().all(|(a, _)| *a);
        if let Some(rest) = line.strip_prefix("#ifdef") {
            let c = defined.contains(rest.trim());
            stack.push((c, c));
        } else if let Some(rest) = line.strip_prefix("#ifndef") {
            let c = !defined.contains(rest.trim());
            stack.push((c, c));
        } else if let Some(rest) = line.strip_prefix("#if") {
            let c = eval_condition(rest, &defined)?;
            stack.push((c, c));
        } else if line.starts_with("#elif") {
            return None;
        } else if line.starts_with("#else") {
            let (_, taken) = stack.pop()?;
            stack.push((!taken, true));
        } else if line.starts_with("#endif") {
            stack.pop()?;
        } else if active && line.starts_with("#define") {
            if let [(name, value)] = nr_defines(line).as_slice() {
                if !values.contains_key(name) {
                    order.push(name.clone());
                }
                values.insert(name.clone(), value.clone());
            }
        }
    }
    let resolve = |start: &String| -> Option<u32> {
        let mut v = start.clone();
        for _ in 0..4 {
            if let Ok(n) = v.parse() {
                return Some(n);
            }
            v = values.get(v.strip_prefix("__NR")?)?.clone();
        }
        None
    };
    Some(
        order
            .iter()
            .filter_map(|n| {
                let name = n.strip_prefix('_')?; // `__NR_x` -> `x`; `__NR3264_x` dropped
                if matches!(name, "syscalls" | "arch_specific_syscall") {
                    return None;
                }
                Some((name.to_string(), resolve(values.get(n)?)?))
            })
            .collect(),
    )
}

#[test]
fn aarch64_numbers_match_host_header() {
    let candidates = [
        format!("{ARM64_CROSS_INCLUDE}/asm-generic/unistd.h"),
        "/usr/include/asm-generic/unistd.h".to_string(),
    ];
    let Some(path) = candidates.iter().map(Path::new).find(|p| p.is_file()) else {
        return skip("aarch64 syscall numbers", "no asm-generic/unistd.h");
    };
    let text = std::fs::read_to_string(path).unwrap();
    if !text.contains("__NR3264_") {
        return skip(
            "aarch64 syscall numbers",
            "asm-generic/unistd.h has an unknown layout",
        );
    }
    let Some(found) = arm64_numbers(&text) else {
        return skip("aarch64 syscall numbers", "unknown preprocessor construct");
    };
    compare_numbers(Arch::Aarch64, path, &found);
}

/// A scratch directory for the C probes, removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new(tag: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!(
            "phantom-tables-{}-{}-{tag}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or_default()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn have_cc() -> bool {
    Command::new("cc")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Compiles and runs a C program printing `name value` for each name the
/// headers declare; names the headers do not know are dropped (compiler
/// errors of the form "'NAME' undeclared"). Returns the values read, or
/// `None` when the program cannot be built for another reason.
fn probe(
    prelude: &str,
    cc_args: &[&str],
    names: &[&str],
    tag: &str,
) -> Option<HashMap<String, i64>> {
    let scratch = Scratch::new(tag);
    let src = scratch.0.join("probe.c");
    let exe = scratch.0.join("probe");
    let mut todo: Vec<&str> = names.to_vec();
    let mut dropped = Vec::new();
    for _ in 0..8 {
        let mut program = String::from(prelude);
        program.push_str("\nint main(void) {\n");
        for n in &todo {
            program.push_str(&format!(
                "  printf(\"%s %lld\\n\", \"{n}\", (long long)({n}));\n"
            ));
        }
        program.push_str("  return 0;\n}\n");
        std::fs::write(&src, program).unwrap();
        let out = Command::new("cc")
            .args(cc_args)
            .arg("-w")
            .arg("-o")
            .arg(&exe)
            .arg(&src)
            .env("LC_ALL", "C")
            .output()
            .ok()?;
        if out.status.success() {
            let run = Command::new(&exe).output().ok()?;
            let text = String::from_utf8(run.stdout).ok()?;
            if !dropped.is_empty() {
                eprintln!(
                    "host_check: {tag}: not in these headers: {}",
                    dropped.join(" ")
                );
            }
            return Some(
                text.lines()
                    .filter_map(|l| {
                        let (n, v) = l.split_once(' ')?;
                        Some((n.to_string(), v.parse().ok()?))
                    })
                    .collect(),
            );
        }
        let stderr = String::from_utf8_lossy(&out.stderr);
        let undeclared: HashSet<&str> = stderr
            .split('\'')
            .collect::<Vec<_>>()
            .windows(2)
            .filter(|w| w[1].starts_with(" undeclared"))
            .map(|w| w[0])
            .collect();
        if undeclared.is_empty() {
            eprintln!("host_check: {tag}: probe does not build:\n{stderr}");
            return None;
        }
        dropped.extend(undeclared.iter().map(|s| s.to_string()));
        todo.retain(|n| !undeclared.contains(n));
    }
    None
}

/// Kernel UAPI headers that declare most of the table's constants; they
/// work for the host's own headers and for the arm64 cross headers alike.
const UAPI_PRELUDE: &str = r#"
int printf(const char *, ...);
#include <linux/types.h>
#include <linux/fcntl.h>
#include <asm/mman.h>
#include <asm/signal.h>
#include <asm/socket.h>
#include <asm/sockios.h>
#include <asm/ioctls.h>
#include <asm/termbits.h>
#include <asm/resource.h>
#include <asm/ptrace.h>
#include <linux/ptrace.h>
#include <linux/sched.h>
#include <linux/futex.h>
#include <asm/errno.h>
#include <linux/prctl.h>
#include <linux/personality.h>
#include <linux/seccomp.h>
#include <linux/capability.h>
#include <linux/netlink.h>
#include <linux/in.h>
#include <linux/in6.h>
#include <linux/eventpoll.h>
#include <linux/memfd.h>
#include <linux/random.h>
#include <linux/wait.h>
#include <linux/time.h>
#include <linux/fs.h>
#include <linux/mount.h>
#include <linux/stat.h>
#include <linux/mman.h>
#include <linux/inotify.h>
#include <linux/signalfd.h>
#include <linux/close_range.h>
#include <linux/sockios.h>
#include <linux/net.h>
"#;

/// The C library's view on x86_64 (socket families, SOCK_*, MSG_*, P_*, ...
/// are not in the UAPI headers).
const LIBC_PRELUDE: &str = r#"
#define _GNU_SOURCE
#include <stdio.h>
#include <errno.h>
#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <netinet/udp.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/personality.h>
#include <signal.h>
#include <linux/futex.h>
#include <sys/eventfd.h>
#include <sys/random.h>
#include <sys/epoll.h>
#include <sys/inotify.h>
#include <sys/timerfd.h>
#include <sys/signalfd.h>
#include <sys/ioctl.h>
#include <asm/termbits.h>
#include <linux/fs.h>
#include <linux/sockios.h>
#include <linux/seccomp.h>
#include <sys/resource.h>
#include <time.h>
#include <sys/wait.h>
#include <sys/ptrace.h>
#include <linux/capability.h>
#include <linux/netlink.h>
#include <linux/close_range.h>
#include <sched.h>
#include <linux/sched.h>
"#;

/// Compares probed values with the table. `ignore` lists names whose header
/// value is known to differ from the kernel ABI value the table holds.
/// Returns how many values matched.
fn compare_constants(
    arch: Arch,
    tag: &str,
    found: &HashMap<String, i64>,
    ignore: &[&str],
) -> usize {
    let mut problems = Vec::new();
    let mut matched = 0;
    for (name, value) in found {
        if ignore.contains(&name.as_str()) {
            continue;
        }
        let header = u64::from_ne_bytes(value.to_ne_bytes());
        match constant(arch, name) {
            Some(v) if v == header => matched += 1,
            Some(v) => problems.push(format!("{name}: header {header:#x}, table {v:#x}")),
            None => problems.push(format!("{name}: header {header:#x}, table has none")),
        }
    }
    assert!(
        problems.is_empty(),
        "{arch} constants differ from the {tag} headers:\n{}",
        problems.join("\n")
    );
    eprintln!("host_check: {arch}: {matched} constants match the {tag} headers");
    matched
}

fn table_names() -> Vec<&'static str> {
    // Mixed-case names such as AF_DECnet are fine for C; skip nothing.
    constant_names().collect()
}

#[test]
fn x86_64_constants_match_host_headers() {
    if !cfg!(all(target_os = "linux", target_arch = "x86_64")) {
        return skip("x86_64 constants", "host is not Linux on x86_64");
    }
    if !have_cc() {
        return skip("x86_64 constants", "no C compiler (cc)");
    }
    let names = table_names();
    let mut total = 0;
    if let Some(found) = probe(LIBC_PRELUDE, &[], &names, "libc-x86_64") {
        // glibc defines O_LARGEFILE as 0 on 64-bit targets.
        total += compare_constants(Arch::X86_64, "C library", &found, &["O_LARGEFILE"]);
    }
    if let Some(found) = probe(UAPI_PRELUDE, &[], &names, "uapi-x86_64") {
        total += compare_constants(Arch::X86_64, "kernel UAPI", &found, &[]);
    }
    if total == 0 {
        skip("x86_64 constants", "no probe could be built");
    }
}

#[test]
fn aarch64_constants_match_cross_headers() {
    if !cfg!(target_os = "linux") {
        return skip("aarch64 constants", "host is not Linux");
    }
    if !Path::new(ARM64_CROSS_INCLUDE)
        .join("asm/unistd.h")
        .is_file()
    {
        return skip(
            "aarch64 constants",
            "no arm64 cross headers (linux-libc-dev-arm64-cross)",
        );
    }
    if !have_cc() {
        return skip("aarch64 constants", "no C compiler (cc)");
    }
    let include = format!("-I{ARM64_CROSS_INCLUDE}");
    let args = ["-nostdinc", include.as_str(), "-D__aarch64__"];
    match probe(UAPI_PRELUDE, &args, &table_names(), "uapi-aarch64") {
        Some(found) => {
            compare_constants(Arch::Aarch64, "arm64 kernel UAPI", &found, &[]);
        }
        None => skip("aarch64 constants", "probe could not be built"),
    }
}
