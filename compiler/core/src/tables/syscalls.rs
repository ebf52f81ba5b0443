//! The system call table: parsing of `syscalls.txt` and the lookups on it.

use std::collections::HashMap;
use std::sync::OnceLock;

use super::{closest, Arch, Arg, ArgType, Syscall};

/// The checked-in data; its format is documented at its top.
const DATA: &str = include_str!("syscalls.txt");

/// Names accepted for a system call besides its canonical name, as
/// `(alias, canonical)`. Each alias denotes the very same kernel entry point
/// with the same arguments on 64-bit architectures.
pub const ALIASES: &[(&str, &str)] = &[
    // C library large-file and wrapper names.
    ("creat64", "creat"),
    ("fallocate64", "fallocate"),
    ("lseek64", "lseek"),
    ("mmap64", "mmap"),
    ("open64", "open"),
    ("openat64", "openat"),
    ("pread", "pread64"),
    ("preadv64", "preadv"),
    ("preadv64v2", "preadv2"),
    ("prlimit", "prlimit64"),
    ("pwrite", "pwrite64"),
    ("pwritev64", "pwritev"),
    ("pwritev64v2", "pwritev2"),
    ("fstatat", "newfstatat"),
    // 32-bit ABI names that asm-generic maps to the same slot on 64-bit.
    ("fadvise64_64", "fadvise64"),
    ("fcntl64", "fcntl"),
    ("fstat64", "fstat"),
    ("fstatat64", "newfstatat"),
    ("fstatfs64", "fstatfs"),
    ("ftruncate64", "ftruncate"),
    ("lstat64", "lstat"),
    ("sendfile64", "sendfile"),
    ("stat64", "stat"),
    ("statfs64", "statfs"),
    ("truncate64", "truncate"),
    ("_newselect", "select"),
    // Kernel-internal names of the entry points.
    ("newfstat", "fstat"),
    ("newlstat", "lstat"),
    ("newstat", "stat"),
    ("newuname", "uname"),
    ("sysctl", "_sysctl"),
];

/// For a system call missing on some architecture, the calls to use instead,
/// in order of preference (the first one present on the architecture wins).
/// An empty list means there is no equivalent. Keys are canonical names, or
/// names of calls that exist on neither supported architecture (32-bit or
/// historic calls such as `umount` or `_llseek`).
const REPLACEMENTS: &[(&str, &[&str])] = &[
    // x86_64 calls that arm64 (asm-generic) dropped.
    ("_sysctl", &[]),
    ("access", &["faccessat", "faccessat2"]),
    ("afs_syscall", &[]),
    ("alarm", &["setitimer"]),
    ("arch_prctl", &[]),
    ("chmod", &["fchmodat"]),
    ("chown", &["fchownat"]),
    ("creat", &["openat"]),
    ("create_module", &[]),
    ("dup2", &["dup3"]),
    ("epoll_create", &["epoll_create1"]),
    ("epoll_ctl_old", &[]),
    ("epoll_wait", &["epoll_pwait"]),
    ("epoll_wait_old", &[]),
    ("eventfd", &["eventfd2"]),
    ("fork", &["clone"]),
    ("futimesat", &["utimensat"]),
    ("get_kernel_syms", &[]),
    ("get_thread_area", &[]),
    ("getdents", &["getdents64"]),
    ("getpgrp", &["getpgid"]),
    ("getpmsg", &[]),
    ("inotify_init", &["inotify_init1"]),
    ("ioperm", &[]),
    ("iopl", &[]),
    ("lchown", &["fchownat"]),
    ("link", &["linkat"]),
    ("lstat", &["newfstatat"]),
    ("mkdir", &["mkdirat"]),
    ("mknod", &["mknodat"]),
    ("modify_ldt", &[]),
    ("open", &["openat"]),
    ("pause", &["ppoll"]),
    ("pipe", &["pipe2"]),
    ("poll", &["ppoll"]),
    ("putpmsg", &[]),
    ("query_module", &[]),
    ("readlink", &["readlinkat"]),
    ("rename", &["renameat2", "renameat"]),
    ("rmdir", &["unlinkat"]),
    ("security", &[]),
    ("select", &["pselect6"]),
    ("set_thread_area", &[]),
    ("signalfd", &["signalfd4"]),
    ("stat", &["newfstatat"]),
    ("symlink", &["symlinkat"]),
    ("sysfs", &[]),
    ("time", &["clock_gettime"]),
    ("tuxcall", &[]),
    ("unlink", &["unlinkat"]),
    ("uprobe", &[]),
    ("uretprobe", &[]),
    ("uselib", &[]),
    ("ustat", &[]),
    ("utime", &["utimensat"]),
    ("utimes", &["utimensat"]),
    ("vfork", &["clone"]),
    ("vserver", &[]),
    // Calls of other (32-bit or historic) ABIs, unknown on both targets.
    ("_llseek", &["lseek"]),
    ("llseek", &["lseek"]),
    ("mmap2", &["mmap"]),
    ("nice", &["setpriority"]),
    ("oldfstat", &["fstat"]),
    ("oldlstat", &["lstat", "newfstatat"]),
    ("oldolduname", &["uname"]),
    ("oldstat", &["stat", "newfstatat"]),
    ("olduname", &["uname"]),
    ("recv", &["recvfrom"]),
    ("send", &["sendto"]),
    ("sigaction", &["rt_sigaction"]),
    ("signal", &["rt_sigaction"]),
    ("sigpending", &["rt_sigpending"]),
    ("sigprocmask", &["rt_sigprocmask"]),
    ("sigreturn", &["rt_sigreturn"]),
    ("sigsuspend", &["rt_sigsuspend"]),
    ("stime", &["clock_settime"]),
    ("ugetrlimit", &["getrlimit", "prlimit64"]),
    ("umount", &["umount2"]),
    ("waitpid", &["wait4"]),
];

/// One parsed line of `syscalls.txt`.
#[derive(Debug)]
struct Entry {
    name: &'static str,
    nrs: [Option<u32>; 2],
    args: Vec<Arg>,
}

/// The parsed data file. Kept in its own static so that the lookup tables
/// can borrow the argument vectors for `'static`.
#[derive(Debug)]
struct Parsed {
    entries: Vec<Entry>,
    /// Parse problems; only the tests read them (the data is checked in,
    /// so a malformed line is skipped rather than failing at run time).
    #[cfg_attr(not(test), allow(dead_code))]
    errors: Vec<String>,
}

#[derive(Debug)]
struct Tables {
    /// Per architecture, sorted by number.
    by_nr: [Vec<Syscall>; 2],
    /// Per architecture, canonical name -> index into `by_nr`.
    by_name: [HashMap<&'static str, usize>; 2],
    /// All canonical names of all architectures, sorted and deduplicated.
    all_names: Vec<&'static str>,
    /// Alias -> canonical.
    aliases: HashMap<&'static str, &'static str>,
}

fn parsed() -> &'static Parsed {
    static PARSED: OnceLock<Parsed> = OnceLock::new();
    PARSED.get_or_init(|| parse(DATA))
}

fn tables() -> &'static Tables {
    static TABLES: OnceLock<Tables> = OnceLock::new();
    TABLES.get_or_init(|| build(parsed()))
}

fn build(parsed: &'static Parsed) -> Tables {
    let mut by_nr: [Vec<Syscall>; 2] = [Vec::new(), Vec::new()];
    for entry in &parsed.entries {
        for arch in Arch::ALL {
            let (Some(Some(nr)), Some(list)) =
                (entry.nrs.get(arch.index()), by_nr.get_mut(arch.index()))
            else {
                continue;
            };
            list.push(Syscall {
                name: entry.name,
                nr: *nr,
                args: &entry.args,
            });
        }
    }
    let mut by_name: [HashMap<&'static str, usize>; 2] = [HashMap::new(), HashMap::new()];
    let mut all_names = Vec::new();
    for (list, names) in by_nr.iter_mut().zip(by_name.iter_mut()) {
        list.sort_by_key(|s| s.nr);
        for (i, s) in list.iter().enumerate() {
            names.insert(s.name, i);
            all_names.push(s.name);
        }
    }
    all_names.sort_unstable();
    all_names.dedup();
    let aliases = ALIASES.iter().copied().collect();
    Tables {
        by_nr,
        by_name,
        all_names,
        aliases,
    }
}

fn parse(data: &'static str) -> Parsed {
    let mut entries = Vec::new();
    let mut errors = Vec::new();
    for (lineno, line) in data.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        match parse_line(line) {
            Ok(entry) => entries.push(entry),
            Err(e) => errors.push(format!("syscalls.txt:{}: {e}", lineno + 1)),
        }
    }
    Parsed { entries, errors }
}

fn parse_nr(field: &str) -> Result<Option<u32>, String> {
    if field == "-" {
        return Ok(None);
    }
    field
        .parse::<u32>()
        .map(Some)
        .map_err(|_| format!("bad syscall number `{field}`"))
}

fn parse_line(line: &'static str) -> Result<Entry, String> {
    let (x86_field, rest) = line
        .split_once(char::is_whitespace)
        .ok_or_else(|| "missing aarch64 number and signature".to_string())?;
    let (a64_field, sig) = rest
        .trim_start()
        .split_once(char::is_whitespace)
        .ok_or_else(|| "missing signature".to_string())?;
    let x86 = parse_nr(x86_field)?;
    let aarch64 = parse_nr(a64_field)?;
    let sig = sig.trim();
    let (name, params) = sig
        .split_once('(')
        .ok_or_else(|| format!("signature `{sig}` has no `(`"))?;
    let name = name.trim();
    if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        return Err(format!("bad syscall name `{name}`"));
    }
    let params = params
        .strip_suffix(')')
        .ok_or_else(|| format!("signature of `{name}` does not end with `)`"))?
        .trim();
    let mut args = Vec::new();
    if !params.is_empty() && params != "void" {
        for param in params.split(',') {
            args.push(parse_param(param.trim()).map_err(|e| format!("{name}: {e}"))?);
        }
    }
    if args.len() > 6 {
        return Err(format!("{name}: more than 6 arguments"));
    }
    if x86.is_none() && aarch64.is_none() {
        return Err(format!("{name}: exists on no architecture"));
    }
    Ok(Entry {
        name,
        nrs: [x86, aarch64],
        args,
    })
}

/// Parses `const char *pathname`, `unsigned long flags`, ...
fn parse_param(param: &'static str) -> Result<Arg, String> {
    let name_start = param
        .rfind(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .map_or(0, |i| i + 1);
    let (ty, name) = param.split_at(name_start);
    let ty = ty.trim();
    if name.is_empty() || ty.is_empty() || name.starts_with(|c: char| c.is_ascii_digit()) {
        return Err(format!("parameter `{param}` needs a type and a name"));
    }
    Ok(Arg {
        name,
        ty: parse_type(ty).ok_or_else(|| format!("unknown type `{ty}` in `{param}`"))?,
    })
}

/// Maps a C type, as written in `syscalls.txt`, to what the kernel reads.
fn parse_type(ty: &str) -> Option<ArgType> {
    if ty.contains('*') || ty.contains('[') {
        return Some(ArgType::Pointer);
    }
    let words: Vec<&str> = ty
        .split_whitespace()
        .filter(|w| *w != "const" && *w != "volatile")
        .collect();
    let base = words.join(" ");
    let int32 = |signed| Some(ArgType::Int32 { signed });
    let int64 = |signed| Some(ArgType::Int64 { signed });
    match base.as_str() {
        "int" | "signed int" | "pid_t" | "key_t" | "key_serial_t" | "mqd_t" | "clockid_t"
        | "timer_t" | "rwf_t" | "s32" | "__s32" | "int32_t" => int32(true),
        "unsigned int" | "unsigned" | "uid_t" | "gid_t" | "qid_t" | "umode_t" | "mode_t"
        | "u32" | "__u32" | "uint32_t" => int32(false),
        "long" | "long long" | "off_t" | "loff_t" | "ssize_t" | "s64" | "__s64" | "int64_t" => {
            int64(true)
        }
        "unsigned long" | "unsigned long long" | "size_t" | "aio_context_t" | "u64" | "__u64"
        | "uint64_t" => int64(false),
        // Typedefs of pointer types.
        "cap_user_header_t" | "cap_user_data_t" => Some(ArgType::Pointer),
        _ => None,
    }
}

/// Resolves an alias to its canonical name; returns `name` itself otherwise.
fn resolve(t: &'static Tables, name: &str) -> Option<&'static str> {
    if let Some(canon) = t.aliases.get(name) {
        return Some(canon);
    }
    t.all_names
        .binary_search(&name)
        .ok()
        .and_then(|i| t.all_names.get(i).copied())
}

/// The system call `name` (canonical name or alias, see
/// [`ALIASES`](super::ALIASES)) on `arch`, or `None` if it does not exist
/// there.
pub fn syscall(arch: Arch, name: &str) -> Option<&'static Syscall> {
    let t = tables();
    let canon = resolve(t, name)?;
    let idx = *t.by_name.get(arch.index())?.get(canon)?;
    t.by_nr.get(arch.index())?.get(idx)
}

/// The system call with number `nr` on `arch`.
pub fn syscall_by_nr(arch: Arch, nr: u32) -> Option<&'static Syscall> {
    let list = tables().by_nr.get(arch.index())?;
    let i = list.binary_search_by_key(&nr, |s| s.nr).ok()?;
    list.get(i)
}

/// All system calls of `arch`, sorted by number.
pub fn syscalls(arch: Arch) -> &'static [Syscall] {
    tables()
        .by_nr
        .get(arch.index())
        .map(Vec::as_slice)
        .unwrap_or_default()
}

/// The canonical name of a system call known on any architecture, resolving
/// aliases (`pread` → `pread64`).
pub fn canonical_name(name: &str) -> Option<&'static str> {
    resolve(tables(), name)
}

/// Whether `name` (or the call it is an alias of) exists on any architecture.
pub fn exists_anywhere(name: &str) -> bool {
    canonical_name(name).is_some()
}

/// "Did you mean": the known system call name (canonical names and aliases)
/// closest to `name` within an edit distance of `max(1, len / 3)`.
pub fn suggest(name: &str) -> Option<&'static str> {
    let t = tables();
    let aliases = ALIASES.iter().map(|(alias, _)| *alias);
    closest(name, t.all_names.iter().copied().chain(aliases))
}

/// For a system call that does not exist on `arch`, the call to use there
/// instead (`open` → `openat` on aarch64). Returns `None` if `name` exists
/// on `arch` (nothing to replace), or if there is no equivalent (`uselib`,
/// `ustat`, `arch_prctl`, ...). Also knows calls that exist on neither
/// supported architecture (`umount` → `umount2`, `_llseek` → `lseek`,
/// `sigaction` → `rt_sigaction`, ...).
pub fn replacement_on(arch: Arch, name: &str) -> Option<&'static str> {
    let t = tables();
    let key = match resolve(t, name) {
        Some(canon) => {
            if syscall(arch, canon).is_some() {
                return None;
            }
            canon
        }
        None => name,
    };
    let (_, candidates) = REPLACEMENTS.iter().find(|(k, _)| *k == key)?;
    candidates
        .iter()
        .find_map(|c| syscall(arch, c).map(|s| s.name))
}

/// Problems found while parsing the data file (for tests).
#[cfg(test)]
pub(super) fn parse_errors() -> &'static [String] {
    &parsed().errors
}

/// The raw `(name, numbers)` of every line (for tests).
#[cfg(test)]
pub(super) fn raw_entries() -> impl Iterator<Item = (&'static str, [Option<u32>; 2])> {
    parsed().entries.iter().map(|e| (e.name, e.nrs))
}

/// The replacement table's keys and candidates (for tests).
#[cfg(test)]
pub(super) fn replacement_table() -> &'static [(&'static str, &'static [&'static str])] {
    REPLACEMENTS
}
