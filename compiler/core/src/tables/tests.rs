#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::collections::{HashMap, HashSet};

use super::*;

const I32: ArgType = ArgType::Int32 { signed: true };
const U32: ArgType = ArgType::Int32 { signed: false };
const I64: ArgType = ArgType::Int64 { signed: true };
const U64: ArgType = ArgType::Int64 { signed: false };
const PTR: ArgType = ArgType::Pointer;

fn nr(arch: Arch, name: &str) -> Option<u32> {
    syscall(arch, name).map(|s| s.nr)
}

fn arg_names(arch: Arch, name: &str) -> Vec<&'static str> {
    syscall(arch, name)
        .unwrap()
        .args
        .iter()
        .map(|a| a.name)
        .collect()
}

fn arg_types(arch: Arch, name: &str) -> Vec<ArgType> {
    syscall(arch, name)
        .unwrap()
        .args
        .iter()
        .map(|a| a.ty)
        .collect()
}

#[test]
fn data_files_parse_cleanly() {
    assert_eq!(syscalls::parse_errors(), &[] as &[String]);
    assert_eq!(constants::parse_errors(), &[] as &[String]);
}

#[test]
fn table_sizes() {
    // x86_64: 0..=336 and 424..=469; aarch64: asm-generic's 0..=293 minus
    // the holes, and 424..=469.
    let x86 = syscalls(Arch::X86_64).len();
    let a64 = syscalls(Arch::Aarch64).len();
    assert_eq!(x86, 337 + 46, "x86_64 count");
    assert_eq!(a64, 279 + 46, "aarch64 count");
}

#[test]
fn tables_are_sorted_and_unique_per_arch() {
    for arch in Arch::ALL {
        let list = syscalls(arch);
        assert!(
            list.windows(2).all(|w| w[0].nr < w[1].nr),
            "{arch}: sorted, unique numbers"
        );
        let names: HashSet<_> = list.iter().map(|s| s.name).collect();
        assert_eq!(names.len(), list.len(), "{arch}: unique names");
        for s in list {
            assert_eq!(syscall(arch, s.name), Some(s));
            assert_eq!(syscall_by_nr(arch, s.nr), Some(s));
            assert!(s.args.len() <= 6, "{}", s.name);
            let arg_set: HashSet<_> = s.args.iter().map(|a| a.name).collect();
            assert_eq!(
                arg_set.len(),
                s.args.len(),
                "{}: duplicate argument names",
                s.name
            );
        }
    }
}

#[test]
fn every_data_line_is_in_the_tables() {
    // Each line of the data file lands in the tables of the arches it names
    // (this also catches a name listed twice for the same architecture).
    for (name, nrs) in syscalls::raw_entries() {
        for arch in Arch::ALL {
            if let Some(n) = nrs[arch.index()] {
                assert_eq!(nr(arch, name), Some(n), "{name} on {arch}");
            }
        }
    }
}

#[test]
fn well_known_numbers() {
    use Arch::*;
    for (name, n) in [
        ("read", 0),
        ("write", 1),
        ("open", 2),
        ("close", 3),
        ("mmap", 9),
        ("ioctl", 16),
        ("socket", 41),
        ("connect", 42),
        ("clone", 56),
        ("fork", 57),
        ("execve", 59),
        ("exit", 60),
        ("kill", 62),
        ("ptrace", 101),
        ("prctl", 157),
        ("arch_prctl", 158),
        ("mount", 165),
        ("exit_group", 231),
        ("openat", 257),
        ("newfstatat", 262),
        ("unshare", 272),
        ("seccomp", 317),
        ("bpf", 321),
        ("execveat", 322),
        ("pidfd_open", 434),
        ("clone3", 435),
        ("openat2", 437),
        ("landlock_create_ruleset", 444),
        ("mseal", 462),
    ] {
        assert_eq!(nr(X86_64, name), Some(n), "x86_64 {name}");
    }
    for (name, n) in [
        ("io_setup", 0),
        ("getcwd", 17),
        ("ioctl", 29),
        ("openat", 56),
        ("close", 57),
        ("read", 63),
        ("write", 64),
        ("newfstatat", 79),
        ("fstat", 80),
        ("exit", 93),
        ("exit_group", 94),
        ("kill", 129),
        ("prctl", 167),
        ("socket", 198),
        ("connect", 203),
        ("clone", 220),
        ("execve", 221),
        ("mmap", 222),
        ("seccomp", 277),
        ("clone3", 435),
    ] {
        assert_eq!(nr(Aarch64, name), Some(n), "aarch64 {name}");
    }
    for missing in [
        "open",
        "stat",
        "fork",
        "vfork",
        "pipe",
        "dup2",
        "poll",
        "arch_prctl",
    ] {
        assert_eq!(nr(Aarch64, missing), None, "{missing} is not on aarch64");
    }
    assert_eq!(syscall_by_nr(X86_64, 41).map(|s| s.name), Some("socket"));
    assert_eq!(syscall_by_nr(Aarch64, 198).map(|s| s.name), Some("socket"));
    assert_eq!(
        syscall_by_nr(Aarch64, 244),
        None,
        "arch_specific_syscall is no call"
    );
    assert_eq!(syscall_by_nr(X86_64, 400), None);
}

#[test]
fn aarch64_calls_all_exist_on_x86_64() {
    for s in syscalls(Arch::Aarch64) {
        assert!(syscall(Arch::X86_64, s.name).is_some(), "{}", s.name);
    }
}

#[test]
fn aliases() {
    assert_eq!(canonical_name("pread"), Some("pread64"));
    assert_eq!(canonical_name("pread64"), Some("pread64"));
    assert_eq!(canonical_name("fstatat"), Some("newfstatat"));
    assert_eq!(canonical_name("prlimit"), Some("prlimit64"));
    assert_eq!(canonical_name("newuname"), Some("uname"));
    assert_eq!(
        canonical_name("umount"),
        None,
        "umount is not an alias of umount2"
    );
    assert_eq!(canonical_name("_llseek"), None);
    assert_eq!(canonical_name("nosuchcall"), None);
    assert_eq!(syscall(Arch::Aarch64, "fstatat").map(|s| s.nr), Some(79));
    assert_eq!(
        syscall(Arch::X86_64, "pwrite").map(|s| s.name),
        Some("pwrite64")
    );
    assert_eq!(
        syscall(Arch::Aarch64, "stat64"),
        None,
        "stat is x86_64-only"
    );
    assert!(exists_anywhere("open"));
    assert!(exists_anywhere("open64"));
    assert!(!exists_anywhere("umount"));
    assert!(!exists_anywhere("OPEN"), "names are case-sensitive");

    let mut seen = HashSet::new();
    for (alias, canon) in ALIASES {
        assert!(seen.insert(*alias), "duplicate alias {alias}");
        assert!(
            syscalls(Arch::X86_64).iter().all(|s| s.name != *alias),
            "{alias} is canonical"
        );
        assert!(
            Arch::ALL
                .iter()
                .any(|a| syscall(*a, canon).map(|s| s.name) == Some(*canon)),
            "alias target {canon} must be canonical"
        );
    }
}

#[test]
fn suggestions() {
    assert_eq!(suggest("opne"), Some("open"));
    assert_eq!(suggest("sockt"), Some("socket"));
    assert_eq!(suggest("socket"), Some("socket"));
    assert_eq!(suggest("SOCKET"), Some("socket"));
    assert_eq!(suggest("exceve"), Some("execve"));
    assert_eq!(suggest("mproect"), Some("mprotect"));
    assert_eq!(suggest("clone_3"), Some("clone3"));
    assert_eq!(suggest("xyzzyplugh"), None);
    assert_eq!(suggest(""), None);
    assert_eq!(suggest_constant("AF_INTE"), Some("AF_INET"));
    assert_eq!(suggest_constant("af_inet"), Some("AF_INET"));
    assert_eq!(suggest_constant("CLONE_NEWUSR"), Some("CLONE_NEWUSER"));
    assert_eq!(suggest_constant("EPRM"), Some("EPERM"));
    assert_eq!(suggest_constant("O_DIRECTROY"), Some("O_DIRECTORY"));
    assert_eq!(suggest_constant("TOTALLY_UNKNOWN_THING"), None);
}

#[test]
fn replacements() {
    use Arch::*;
    assert_eq!(replacement_on(Aarch64, "open"), Some("openat"));
    assert_eq!(replacement_on(Aarch64, "open64"), Some("openat"));
    assert_eq!(replacement_on(Aarch64, "stat"), Some("newfstatat"));
    assert_eq!(replacement_on(Aarch64, "lstat"), Some("newfstatat"));
    assert_eq!(
        replacement_on(Aarch64, "fstat"),
        None,
        "fstat exists on aarch64"
    );
    assert_eq!(replacement_on(Aarch64, "access"), Some("faccessat"));
    assert_eq!(replacement_on(Aarch64, "rename"), Some("renameat2"));
    assert_eq!(replacement_on(Aarch64, "fork"), Some("clone"));
    assert_eq!(replacement_on(Aarch64, "pipe"), Some("pipe2"));
    assert_eq!(replacement_on(Aarch64, "time"), Some("clock_gettime"));
    assert_eq!(replacement_on(Aarch64, "utimes"), Some("utimensat"));
    assert_eq!(replacement_on(Aarch64, "uselib"), None);
    assert_eq!(replacement_on(Aarch64, "arch_prctl"), None);
    assert_eq!(replacement_on(X86_64, "open"), None, "exists on x86_64");
    assert_eq!(replacement_on(X86_64, "umount"), Some("umount2"));
    assert_eq!(replacement_on(Aarch64, "_llseek"), Some("lseek"));
    assert_eq!(replacement_on(X86_64, "oldstat"), Some("stat"));
    assert_eq!(replacement_on(Aarch64, "oldstat"), Some("newfstatat"));
    assert_eq!(replacement_on(X86_64, "nosuchcall"), None);

    // Every x86_64 call missing on aarch64 is covered by the table, and
    // every replacement named there exists on aarch64.
    let table: HashMap<_, _> = syscalls::replacement_table().iter().copied().collect();
    assert_eq!(
        table.len(),
        syscalls::replacement_table().len(),
        "duplicate keys"
    );
    for s in syscalls(X86_64) {
        if syscall(Aarch64, s.name).is_none() {
            assert!(
                table.contains_key(s.name),
                "no replacement entry for {}",
                s.name
            );
        }
    }
    for (key, candidates) in &table {
        for c in *candidates {
            assert!(exists_anywhere(c), "{key} -> unknown {c}");
            assert_eq!(canonical_name(c), Some(*c), "{key} -> non-canonical {c}");
        }
        if !candidates.is_empty() {
            for arch in Arch::ALL {
                if syscall(arch, key).is_none() {
                    assert!(replacement_on(arch, key).is_some(), "{key} on {arch}");
                }
            }
        }
    }
}

#[test]
fn argument_names_and_types() {
    use Arch::*;
    assert_eq!(arg_names(X86_64, "socket"), ["domain", "type", "protocol"]);
    assert_eq!(arg_types(X86_64, "socket"), [I32, I32, I32]);
    assert_eq!(
        arg_names(X86_64, "mmap"),
        ["addr", "length", "prot", "flags", "fd", "offset"]
    );
    assert_eq!(arg_types(Aarch64, "mmap")[1], U64);
    assert_eq!(
        arg_names(X86_64, "clone"),
        ["flags", "stack", "parent_tid", "child_tid", "tls"]
    );
    assert_eq!(
        arg_names(Aarch64, "clone"),
        ["flags", "stack", "parent_tid", "tls", "child_tid"]
    );
    assert_eq!(arg_types(X86_64, "clone"), [U64, U64, PTR, PTR, U64]);
    assert_eq!(arg_types(Aarch64, "clone"), [U64, U64, PTR, U64, PTR]);
    assert_eq!(arg_names(X86_64, "ioctl"), ["fd", "request", "arg"]);
    assert_eq!(arg_types(X86_64, "ioctl"), [U32, U32, U64]);
    assert_eq!(
        arg_names(Aarch64, "openat"),
        ["dirfd", "pathname", "flags", "mode"]
    );
    assert_eq!(arg_types(Aarch64, "openat"), [I32, PTR, I32, U32]);
    assert_eq!(arg_types(X86_64, "lseek"), [U32, I64, U32]);
    assert_eq!(arg_types(X86_64, "kill"), [I32, I32]);
    assert_eq!(arg_types(X86_64, "setuid"), [U32]);
    assert_eq!(arg_types(X86_64, "ptrace"), [I64, I64, U64, U64]);
    assert_eq!(arg_types(X86_64, "capget"), [PTR, PTR]);
    assert_eq!(arg_types(X86_64, "execve"), [PTR, PTR, PTR]);
    assert_eq!(
        arg_names(X86_64, "prctl"),
        ["option", "arg2", "arg3", "arg4", "arg5"]
    );
    assert_eq!(arg_names(X86_64, "personality"), ["persona"]);
    assert_eq!(arg_names(X86_64, "fchmodat"), ["dirfd", "pathname", "mode"]);
    assert!(syscall(X86_64, "getpid").unwrap().args.is_empty());
    assert!(syscall(Aarch64, "rt_sigreturn").unwrap().args.is_empty());
    let mmap = syscall(X86_64, "mmap").unwrap();
    assert_eq!(mmap.arg("prot").map(|(i, a)| (i, a.ty)), Some((2, U64)));
    assert_eq!(mmap.arg("nope"), None);
    // Same signature on both arches for everything but clone.
    for s in syscalls(Aarch64) {
        if s.name != "clone" {
            assert_eq!(syscall(X86_64, s.name).unwrap().args, s.args, "{}", s.name);
        }
    }
}

#[test]
fn signatures_match_man_page_argument_counts() {
    // Spot checks of argument counts that are easy to get wrong.
    for (name, n) in [
        ("read", 3),
        ("pread64", 4),
        ("sendto", 6),
        ("recvfrom", 6),
        ("futex", 6),
        ("ppoll", 5),
        ("pselect6", 6),
        ("epoll_pwait", 6),
        ("epoll_pwait2", 6),
        ("rt_sigaction", 4),
        ("rt_sigprocmask", 4),
        ("preadv2", 6),
        ("waitid", 5),
        ("wait4", 4),
        ("mremap", 5),
        ("faccessat", 3),
        ("faccessat2", 4),
        ("fchmodat2", 4),
        ("copy_file_range", 6),
        ("process_vm_readv", 6),
        ("io_uring_enter", 6),
        ("statx", 5),
        ("setxattrat", 6),
        ("futex_wait", 6),
    ] {
        assert_eq!(syscall(Arch::X86_64, name).unwrap().args.len(), n, "{name}");
    }
}

#[test]
fn constants() {
    use Arch::*;
    for arch in Arch::ALL {
        assert_eq!(constant(arch, "AF_VSOCK"), Some(40));
        assert_eq!(constant(arch, "AF_INET6"), Some(10));
        assert_eq!(constant(arch, "PF_NETLINK"), Some(16));
        assert_eq!(constant(arch, "SOCK_NONBLOCK"), Some(0o4000));
        assert_eq!(constant(arch, "SOCK_CLOEXEC"), Some(0o2000000));
        assert_eq!(constant(arch, "AT_FDCWD"), Some(0xffff_ffff_ffff_ff9c));
        assert_eq!(constant(arch, "AT_EMPTY_PATH"), Some(0x1000));
        assert_eq!(constant(arch, "AT_REMOVEDIR"), Some(0x200));
        assert_eq!(constant(arch, "CLONE_NEWUSER"), Some(0x1000_0000));
        assert_eq!(constant(arch, "CLONE_NEWNS"), Some(0x20000));
        assert_eq!(constant(arch, "CLONE_NEWTIME"), Some(0x80));
        assert_eq!(constant(arch, "CLONE_INTO_CGROUP"), Some(0x2_0000_0000));
        assert_eq!(constant(arch, "TIOCSTI"), Some(0x5412));
        assert_eq!(constant(arch, "TIOCGPTN"), Some(0x8004_5430));
        assert_eq!(constant(arch, "PROT_EXEC"), Some(4));
        assert_eq!(constant(arch, "MAP_FIXED"), Some(0x10));
        assert_eq!(constant(arch, "PR_SET_NO_NEW_PRIVS"), Some(38));
        assert_eq!(constant(arch, "SIGKILL"), Some(9));
        assert_eq!(constant(arch, "SIGSYS"), Some(31));
        assert_eq!(constant(arch, "F_DUPFD_CLOEXEC"), Some(1030));
        assert_eq!(constant(arch, "FUTEX_PRIVATE_FLAG"), Some(128));
        assert_eq!(constant(arch, "RLIM_INFINITY"), Some(u64::MAX));
        assert_eq!(
            constant(arch, "SECCOMP_RET_KILL_PROCESS"),
            Some(0x8000_0000)
        );
        assert_eq!(constant(arch, "ADDR_NO_RANDOMIZE"), Some(0x0040000));
        assert_eq!(
            constant(arch, "EPERM"),
            Some(1),
            "errno names are constants"
        );
        assert_eq!(constant(arch, "EWOULDBLOCK"), Some(11));
        assert_eq!(constant(arch, "af_inet"), None, "case-sensitive");
        assert_eq!(constant(arch, "NO_SUCH_CONSTANT"), None);
    }
    assert_eq!(constant(X86_64, "O_DIRECTORY"), Some(0o200000));
    assert_eq!(constant(Aarch64, "O_DIRECTORY"), Some(0o40000));
    assert_eq!(constant(X86_64, "O_NOFOLLOW"), Some(0o400000));
    assert_eq!(constant(Aarch64, "O_NOFOLLOW"), Some(0o100000));
    assert_eq!(constant(X86_64, "O_DIRECT"), Some(0o40000));
    assert_eq!(constant(Aarch64, "O_DIRECT"), Some(0o200000));
    assert_eq!(constant(X86_64, "O_LARGEFILE"), Some(0o100000));
    assert_eq!(constant(Aarch64, "O_LARGEFILE"), Some(0o400000));
    assert_eq!(constant(X86_64, "O_TMPFILE"), Some(0o20000000 | 0o200000));
    assert_eq!(constant(Aarch64, "O_TMPFILE"), Some(0o20000000 | 0o40000));
    assert_eq!(constant(X86_64, "MAP_32BIT"), Some(0x40));
    assert_eq!(constant(Aarch64, "MAP_32BIT"), None);
    assert_eq!(constant(Aarch64, "PROT_BTI"), Some(0x10));
    assert_eq!(constant(X86_64, "PROT_BTI"), None);

    let names: Vec<_> = constant_names().collect();
    assert!(names.windows(2).all(|w| w[0] < w[1]), "sorted and unique");
    assert!(names.contains(&"AF_INET") && names.contains(&"EPERM") && names.contains(&"PROT_BTI"));
    for name in &names {
        assert!(
            Arch::ALL.iter().any(|a| constant(*a, name).is_some()),
            "{name}"
        );
    }
    // Errno names and constants.txt names do not collide.
    let table: HashSet<_> = constants::raw_values().map(|(n, _)| n).collect();
    for (name, _) in constants::errno_table() {
        assert!(!table.contains(name), "{name} in both tables");
    }
}

#[test]
fn errno_lookup() {
    assert_eq!(errno("EPERM"), Some(1));
    assert_eq!(errno("ENOSYS"), Some(38));
    assert_eq!(errno("EAGAIN"), Some(11));
    assert_eq!(errno("EWOULDBLOCK"), Some(11));
    assert_eq!(errno("ENOTSUP"), Some(95));
    assert_eq!(errno("EHWPOISON"), Some(133));
    assert_eq!(errno("EFOO"), None);
    assert_eq!(errno_name(1), Some("EPERM"));
    assert_eq!(errno_name(38), Some("ENOSYS"));
    assert_eq!(errno_name(11), Some("EAGAIN"));
    assert_eq!(errno_name(35), Some("EDEADLK"));
    assert_eq!(errno_name(95), Some("EOPNOTSUPP"));
    assert_eq!(errno_name(41), None);
    assert_eq!(errno_name(0), None);
    assert_eq!(errno_name(134), None);
    let table = constants::errno_table();
    assert!(table.windows(2).all(|w| w[0].1 < w[1].1));
    for (name, value) in table {
        assert_eq!(errno(name), Some(*value));
        assert_eq!(errno_name(*value), Some(*name));
    }
}

#[test]
fn arch_names() {
    assert_eq!(Arch::X86_64.name(), "x86_64");
    assert_eq!(Arch::Aarch64.name(), "aarch64");
    assert_eq!(Arch::from_name("x86_64"), Some(Arch::X86_64));
    assert_eq!(Arch::from_name("amd64"), Some(Arch::X86_64));
    assert_eq!(Arch::from_name("aarch64"), Some(Arch::Aarch64));
    assert_eq!(Arch::from_name("arm64"), Some(Arch::Aarch64));
    assert_eq!(Arch::from_name("ARM64"), Some(Arch::Aarch64));
    assert_eq!(Arch::from_name("riscv64"), None);
    assert_eq!(Arch::X86_64.audit_arch(), 0xC000_003E);
    assert_eq!(Arch::Aarch64.audit_arch(), 0xC000_00B7);
    for arch in Arch::ALL {
        assert_eq!(Arch::from_name(arch.name()), Some(arch));
        assert_eq!(arch.to_string(), arch.name());
        assert_eq!(Arch::ALL[arch.index()], arch);
    }
    let json = serde_json::to_string(&Arch::Aarch64).unwrap();
    assert_eq!(serde_json::from_str::<Arch>(&json).unwrap(), Arch::Aarch64);
}
