//! Stable diagnostic codes.
//!
//! A code names one kind of mistake and never changes meaning once released: scripts,
//! editors and docs refer to it. Add new codes; never renumber or reuse one. Ranges:
//! `PFP00xx` syntax and files, `PFP01xx` syscalls, `PFP02xx` resources, `PFP03xx`
//! filesystem, `PFP04xx` composition, `PFP05xx` network, `PFP06xx` process, `PFP07xx`
//! back-ends.
//! `phantomc explain CODE` prints [`Code::explanation`].

use serde::{Serialize, Serializer};

use crate::diagnostic::Severity;

macro_rules! codes {
    ($($variant:ident = $code:literal, $severity:ident, $title:literal, $explanation:literal;)*) => {
        /// One kind of diagnostic; see the module docs.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum Code {
            $($variant,)*
        }

        impl Code {
            pub const ALL: &'static [Code] = &[$(Code::$variant,)*];

            /// `PFP0101` and so on.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Code::$variant => $code,)*
                }
            }

            pub fn severity(self) -> Severity {
                match self {
                    $(Code::$variant => Severity::$severity,)*
                }
            }

            /// A short name for the kind of mistake.
            pub fn title(self) -> &'static str {
                match self {
                    $(Code::$variant => $title,)*
                }
            }

            /// A longer explanation with an example and the fix.
            pub fn explanation(self) -> &'static str {
                match self {
                    $(Code::$variant => $explanation,)*
                }
            }
        }
    };
}

codes! {
    UnexpectedToken = "PFP0001", Error, "unexpected token",
        "The parser met a token where the grammar allows none. The message lists what\nwould have been accepted there.\n\n    syscalls { allow read write }   # a `,` is missing between targets\n\nFix: compare the line with the examples in docs/language.md.";
    UnclosedDelimiter = "PFP0002", Error, "unclosed bracket",
        "A `{`, `[` or `(` is never closed. The error points at the opening bracket.\n\n    syscalls {\n        allow read\n    # the closing `}` is missing";
    InvalidCharacter = "PFP0003", Error, "invalid character",
        "A character that no token of the language contains. Paths with unusual\ncharacters can be written as strings: `ro \"/srv/a b\"`.";
    UnterminatedString = "PFP0004", Error, "unterminated string",
        "A string literal has no closing `\"` on its line. Strings cannot span lines;\nwrite a line break as `\\n`.";
    InvalidEscape = "PFP0005", Error, "invalid escape in string",
        "Strings know the escapes `\\\"`, `\\\\`, `\\n` and `\\t` only.";
    NestingTooDeep = "PFP0006", Error, "brackets nest too deep",
        "Brackets nest deeper than the parser allows (64 levels). No sensible policy\ncomes close; the limit protects the compiler from hostile input.";
    FileUnreadable = "PFP0010", Error, "file cannot be read",
        "A policy, fragment or base file could not be read: it is missing, a directory,\nor not readable. Paths in `include` and `extends` are relative to the file that\nnames them.";
    FileNotUtf8 = "PFP0011", Error, "file is not UTF-8",
        "Policy files are UTF-8 text. The file is binary or in another encoding.";
    FileTooLarge = "PFP0012", Error, "file too large",
        "A policy file is larger than the compiler accepts (16 MiB). Policies are small;\na file this size is almost certainly not one.";

    UnknownSyscall = "PFP0101", Error, "unknown syscall",
        "The name is not a system call of any supported architecture (x86_64, aarch64).\nNames are the kernel's (`man 2 syscalls`), e.g. `openat`, `clone3`, `pread64`.";
    SyscallNotOnArch = "PFP0102", Error, "syscall missing on architecture",
        "Inside `arch NAME { … }` a syscall must exist on that architecture. aarch64\nlacks the old calls that take paths without a directory fd: use `openat` for\n`open`, `newfstatat` for `stat`, and so on. Outside an `arch` block such a\nsyscall simply applies where it exists.";
    UnknownArgument = "PFP0103", Error, "unknown syscall argument",
        "Conditions use the syscall's own parameter names, as in its man page:\n`socket(domain, type, protocol)`, `clone(flags, …)`.\n\n    allow socket(family) if family == AF_UNIX   # the parameter is `domain`";
    UnknownConstant = "PFP0104", Error, "unknown constant",
        "A symbolic constant the compiler does not know for this architecture. Use a\nnumber, or a known name (AF_*, SOCK_*, O_*, CLONE_*, …; see docs/language.md).";
    ValueOutOfRange = "PFP0105", Error, "value does not fit the argument",
        "An argument is compared at the width the kernel gives it: an `int` on 32 bits.\nA value outside that range can never match (the kernel truncates the argument),\nso it is refused rather than silently never matching.\n\n    allow socket if domain == 0x100000028   # `domain` is an int";
    UnknownSet = "PFP0106", Error, "unknown syscall set",
        "The `@name` is not defined by the stdlib (see stdlib-profiles/syscall-sets.pfp)\nor by a `set` item of this policy.";
    DuplicateSet = "PFP0107", Error, "set defined twice",
        "Syscall sets are shared by every layer of a policy, so a name can be defined\nonce only. Choose another name.";
    ConflictingRules = "PFP0108", Warning, "conflicting rules",
        "Two unconditional rules give one syscall different actions. The strictest\nwins (kill > kill-thread > trap > errno > notify > log > allow), whatever their\norder; the other rule has no effect. Remove one of them, or use a layer\n(`extends`) to override an inherited verdict.";
    ShadowedRule = "PFP0109", Warning, "shadowed rule",
        "A rule can never decide the verdict: an unconditional rule for the same\nsyscall is at least as strict. Remove it, or make the other rule conditional.";
    UnknownAction = "PFP0110", Error, "unknown action",
        "Actions are `allow`, `deny`, `errno(E)`, `kill`, `kill-thread`, `trap`, `log`\nand `notify`. A syscall name in action position usually means a `,` is missing\nat the end of the previous rule's targets.";
    InvalidErrno = "PFP0111", Error, "invalid errno",
        "`errno(E)` takes an errno name (`EPERM`, `ENOSYS`, …) or a number from 0 to\n4095, the range the kernel accepts for SECCOMP_RET_ERRNO.";
    UnknownArch = "PFP0112", Error, "unknown architecture",
        "Policies compile for `x86_64` and `aarch64`.";
    InvalidNumber = "PFP0113", Error, "invalid number",
        "A number that cannot be read or does not fit. Octal needs `0o`: a decimal with a\nleading zero (`0755`) is ambiguous, so it is refused; write `0o755`. Fractions\nare allowed only where a setting takes one (`cpu 1.5`).";
    MisplacedSyscallItem = "PFP0114", Error, "misplaced item",
        "`set` and `default` belong at the top of a `syscalls` block, and `arch` blocks\ndo not nest.";
    SetCycle = "PFP0115", Error, "set contains itself",
        "A syscall set includes itself, directly or through other sets.";
    ConditionOnUnconditional = "PFP0116", Error, "invalid condition",
        "A condition must use arguments every syscall of the rule has, with values of\nthe right kind.";
    DuplicateDefault = "PFP0117", Error, "default given twice",
        "A layer may set the default action once.";

    UnknownResource = "PFP0201", Error, "unknown resource setting",
        "Settings are memory, swap, cpu, pids, timeout, cpu-time, open-files, file-size\nand tmp-size.";
    WrongUnit = "PFP0202", Error, "wrong unit",
        "The value's unit does not fit the setting: sizes take B, KiB, MiB, GiB, TiB\n(or k, m, g, t); durations take ms, s, m, h; counts take none.\n\n    timeout 5MiB   # a duration was meant: `timeout 5m`";
    ImpossibleValue = "PFP0203", Error, "impossible limit",
        "A limit that would stop any workload from running (0 pids, a timeout of 0,\nless than 1 MiB of memory) or that the kernel cannot represent.";
    DuplicateSetting = "PFP0204", Error, "setting given twice",
        "A layer may give each setting once. Layers (`extends`) override settings.";

    RelativePath = "PFP0301", Error, "path is not absolute",
        "Targets and sources are absolute paths (`/usr`), or start with a variable\n(`${workspace}/out`). Symlink contents (`to`) may be relative.";
    UnnormalizedPath = "PFP0302", Error, "path is not normalized",
        "Paths may not contain `.` or `..` components, repeated or trailing slashes:\nthe mount plan is decided at compile time and must be unambiguous.";
    UnknownVariable = "PFP0303", Error, "unknown variable",
        "The run-time variables are `${workspace}`, `${cwd}` and `${home}`.";
    UnknownEntryKind = "PFP0304", Error, "unknown filesystem entry",
        "Entries are ro, rw, tmpfs, proc, dev, dir, symlink and mask.";
    InvalidOption = "PFP0305", Error, "invalid option",
        "The option does not apply to this kind of entry, is given twice, or a required\noption is missing (`symlink` needs `to`). See the table in docs/language.md.";
    DuplicateTarget = "PFP0306", Error, "target given twice",
        "Two entries of one layer mount on the same target. Layers (`extends`) may\nreplace an inherited entry; within a layer, keep one.";
    ImpossiblePlacement = "PFP0307", Error, "entry cannot be placed there",
        "An entry lies under a `proc`, `dev`, `mask` or `symlink` target, where the\nmount plan cannot create its mount point.";
    InvalidMode = "PFP0308", Error, "invalid mode",
        "A mode is a permission number up to 0o7777, best written in octal (`0o755`).";
    MaskInWritableBind = "PFP0309", Warning, "mask inside a writable bind",
        "A `mask` under a `rw` bind hides that path of the host directory for one run,
but the workload may write the directory: it can move what the mask hides
(rename a directory above it) and read it under the new name, in this run or the
next. Keep what must stay hidden out of directories the sandbox may write.";

    ExtendsNotFound = "PFP0401", Error, "base not found",
        "`extends` names a stdlib profile (`\"python-dev\"`) or a file path\n(`\"./base.pfp\"`, relative to this file). `phantom profile list` shows the\nprofiles.";
    CompositionCycle = "PFP0402", Error, "cycle",
        "Files include or extend each other in a circle. The message shows the chain.";
    IncludeTooDeep = "PFP0403", Error, "includes nest too deep",
        "Includes and extends nest deeper than 16 files.";
    NotInFragment = "PFP0404", Error, "not allowed in a fragment",
        "A fragment (a file spliced in by `include`) may not say `policy` or `extends`:\nthose belong to the file that includes it.";
    DuplicateItem = "PFP0405", Error, "item given twice",
        "`policy`, `description`, `extends` and `network` may appear once per layer.";
    EmptyName = "PFP0406", Error, "empty name",
        "`policy \"\"` gives the policy no name. Write a name, or leave the item out: the\nname then defaults to the file's name.";
    IncludedTwice = "PFP0407", Error, "fragment included twice",
        "A layer includes the same fragment twice (perhaps through different spellings of\nits path). Everything it defines would be defined twice; include it once.";

    UnknownNetworkMode = "PFP0501", Error, "unknown network mode",
        "Network is `none`, `host` or `{ connect [PORTS] bind [PORTS] }`.";
    InvalidPort = "PFP0502", Error, "invalid network rule",
        "Network rules are `connect [PORT, …]` and `bind [PORT, …]`, with TCP ports\nfrom 1 to 65535.";
    NotifyWithPortsToBind = "PFP0503", Error, "`notify` rules with ports to bind",
        "Where the network lets a workload bind ports (`network { bind [8080] }`), phantom\nanswers every `listen` itself, refusing it on a socket never bound (which would\nlisten on a port no Landlock rule sees). The kernel allows one supervisor of a\nprocess's system calls, so a policy with such a network cannot also leave calls to\na seccomp agent: drop the `notify` rules, or the ports to bind.";

    FilterTooLarge = "PFP0701", Error, "filter too large",
        "The seccomp program for one architecture needs more than the 4096 instructions the\nkernel accepts. The diagnostic points at the rules whose argument checks are the\nlargest: simplify their conditions, use ranges (`<`, `>=`) instead of long `in`\nlists, or move rarely needed syscalls to a stricter layer.";

    UnknownProcessSetting = "PFP0601", Error, "unknown process setting",
        "Settings are command, cwd, hostname, uid, gid, env and pass.";
    InvalidProcessValue = "PFP0602", Error, "invalid process setting",
        "The value does not fit the setting: `command` is a non-empty list of strings,\n`cwd` an absolute path, `hostname` a host name, `uid`/`gid` numbers, `env` a map\nof `NAME = \"value\"`, `pass` a list of variable names.";
}

impl Code {
    /// The code with this text (`PFP0101`), case-insensitive, `PFP` optional.
    pub fn from_str_lenient(text: &str) -> Option<Code> {
        let text = text.trim().to_ascii_uppercase();
        let text = if text.starts_with("PFP") {
            text
        } else {
            format!("PFP{text}")
        };
        Code::ALL.iter().copied().find(|c| c.as_str() == text)
    }
}

impl std::fmt::Display for Code {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Code {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::Code;
    use std::collections::HashSet;

    #[test]
    fn codes_are_unique_and_well_formed() {
        let mut seen = HashSet::new();
        for code in Code::ALL {
            assert!(seen.insert(code.as_str()), "{code} used twice");
            assert_eq!(code.as_str().len(), 7);
            assert!(!code.explanation().is_empty());
        }
    }

    #[test]
    fn lookup_is_lenient() {
        assert_eq!(
            Code::from_str_lenient("pfp0101"),
            Some(Code::UnknownSyscall)
        );
        assert_eq!(Code::from_str_lenient("0101"), Some(Code::UnknownSyscall));
        assert_eq!(Code::from_str_lenient("PFP9999"), None);
    }
}
