//! System call and constant tables for the architectures phantom-compiler
//! targets (x86_64 and aarch64).
//!
//! Everything here is pure data checked into the repository, so the crate
//! builds and behaves the same on any host OS:
//!
//! * `syscalls.txt` — every system call of both architectures with its
//!   number per architecture and its kernel signature (argument names as in
//!   the man pages, argument widths and signedness as the kernel sees them).
//! * `constants.txt` — symbolic constants (`AF_*`, `O_*`, `CLONE_*`, ...)
//!   with per-architecture values.
//! * the errno table in `constants.rs`.
//!
//! The text files are parsed once, on first use, into sorted tables and hash
//! maps, so every lookup after the first is a hash or binary-search lookup.
//!
//! # Syscall name aliases
//!
//! [`syscall`] and [`canonical_name`] accept, besides the canonical kernel
//! table names, a few names that denote *the same system call* on 64-bit
//! architectures (see [`ALIASES`]): the C library's large-file names
//! (`pread` → `pread64`, `open64` → `open`, `lseek64` → `lseek`, ...), the
//! 32-bit ABI names that asm-generic maps onto the same slot on 64-bit
//! (`fcntl64` → `fcntl`, `statfs64` → `statfs`, `fstatat64` → `newfstatat`,
//! ...), the kernel's internal names (`newuname` → `uname`, `newfstat` →
//! `fstat`, ...), `prlimit` → `prlimit64`, `fstatat` → `newfstatat`,
//! `_newselect` → `select` and `sysctl` → `_sysctl`. Calls that merely do a
//! similar job with a different argument list (`umount` vs `umount2`,
//! `_llseek` vs `lseek`, `mmap2` vs `mmap`) are *not* aliases; for those
//! [`replacement_on`] suggests the call to use instead.

mod constants;
mod syscalls;

#[cfg(test)]
mod host_check;
#[cfg(test)]
mod tests;

pub use constants::{constant, constant_names, errno, errno_name, suggest_constant};
pub use syscalls::{
    canonical_name, exists_anywhere, replacement_on, suggest, syscall, syscall_by_nr, syscalls,
    ALIASES,
};

/// A target architecture.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub enum Arch {
    /// x86-64 (64-bit ABI; the x32 ABI is not covered).
    X86_64,
    /// AArch64 / arm64 (64-bit ABI).
    Aarch64,
}

impl Arch {
    /// All supported architectures.
    pub const ALL: [Arch; 2] = [Arch::X86_64, Arch::Aarch64];

    /// The canonical name: `"x86_64"` or `"aarch64"`.
    pub fn name(self) -> &'static str {
        match self {
            Arch::X86_64 => "x86_64",
            Arch::Aarch64 => "aarch64",
        }
    }

    /// Parses an architecture name; accepts `x86_64`/`amd64` and
    /// `aarch64`/`arm64` (ASCII case-insensitive, `-` for `_` accepted).
    pub fn from_name(name: &str) -> Option<Arch> {
        let lower = name.trim().to_ascii_lowercase().replace('-', "_");
        match lower.as_str() {
            "x86_64" | "amd64" | "x64" => Some(Arch::X86_64),
            "aarch64" | "arm64" => Some(Arch::Aarch64),
            _ => None,
        }
    }

    /// The `AUDIT_ARCH_*` value the kernel puts in `seccomp_data.arch`.
    pub fn audit_arch(self) -> u32 {
        match self {
            // EM_X86_64 (62) | __AUDIT_ARCH_64BIT | __AUDIT_ARCH_LE
            Arch::X86_64 => 0xC000_003E,
            // EM_AARCH64 (183) | __AUDIT_ARCH_64BIT | __AUDIT_ARCH_LE
            Arch::Aarch64 => 0xC000_00B7,
        }
    }

    /// Index of this architecture in per-architecture arrays.
    pub(crate) fn index(self) -> usize {
        match self {
            Arch::X86_64 => 0,
            Arch::Aarch64 => 1,
        }
    }
}

impl std::fmt::Display for Arch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// How the kernel reads a system call argument.
///
/// A seccomp filter sees every argument as a 64-bit register value; this
/// says which part of it is meaningful. `Int32` arguments are declared with
/// a 32-bit (or narrower) C type, so the kernel only looks at the low 32
/// bits; `Int64` arguments use all 64 bits; `Pointer` arguments are
/// user-space addresses the kernel dereferences, whose *contents* a seccomp
/// filter cannot inspect.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ArgType {
    /// A 32-bit integer (`int`, `unsigned int`, `pid_t`, `uid_t`, `umode_t`, ...).
    Int32 {
        /// Whether the C type is signed.
        signed: bool,
    },
    /// A 64-bit integer (`long`, `unsigned long`, `size_t`, `off_t`, `loff_t`, ...).
    Int64 {
        /// Whether the C type is signed.
        signed: bool,
    },
    /// A user-space pointer.
    Pointer,
}

/// One argument of a system call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Arg {
    /// The argument's name, as in the man page (e.g. `domain` for `socket`).
    pub name: &'static str,
    /// Its width and signedness as the kernel sees it.
    pub ty: ArgType,
}

/// A system call on one architecture.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Syscall {
    /// The canonical name (the kernel's syscall table name).
    pub name: &'static str,
    /// The system call number on this architecture.
    pub nr: u32,
    /// The arguments, in register order for this architecture.
    pub args: &'static [Arg],
}

impl Syscall {
    /// Looks an argument up by name.
    pub fn arg(&self, name: &str) -> Option<(usize, &'static Arg)> {
        self.args.iter().enumerate().find(|(_, a)| a.name == name)
    }
}

/// Edit-distance threshold for "did you mean" suggestions: `max(1, len / 3)`.
pub(crate) fn suggestion_threshold(len: usize) -> usize {
    (len / 3).max(1)
}

/// The closest candidate to `input` within the suggestion threshold, by
/// Damerau-Levenshtein distance over the ASCII-uppercased strings; ties go to
/// the first candidate in iteration order.
pub(crate) fn closest<I>(input: &str, candidates: I) -> Option<&'static str>
where
    I: IntoIterator<Item = &'static str>,
{
    let folded = input.to_ascii_uppercase();
    let limit = suggestion_threshold(folded.chars().count());
    let mut best: Option<(usize, &'static str)> = None;
    for cand in candidates {
        // Cheap pre-filter: the length difference bounds the distance.
        if cand.len().abs_diff(folded.len()) > limit {
            continue;
        }
        let d = strsim::damerau_levenshtein(&folded, &cand.to_ascii_uppercase());
        if d <= limit && best.is_none_or(|(bd, _)| d < bd) {
            best = Some((d, cand));
        }
    }
    best.map(|(_, c)| c)
}
