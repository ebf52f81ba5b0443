//! Stage 4's output: the checked policy, the single input of every back-end.
//!
//! Everything here is resolved and valid: layers are merged, sets expanded, syscall
//! names turned into per-architecture numbers, argument names into indices and widths,
//! constants into numbers, units into bytes and milliseconds, defaults filled in. A
//! back-end never needs the syntax tree, and never has to re-check anything. Each rule
//! and entry keeps its [`Origin`] so later stages can point at the source.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::source::FileId;
use crate::tables::{Arch, ArgType};
use pfp_syntax::ast::CmpOp;
use pfp_syntax::Span;

/// Where a rule or entry was written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Origin {
    pub file: FileId,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Policy {
    pub name: String,
    pub description: Option<String>,
    pub syscalls: Syscalls,
    /// In source order of the winning entries, base layers first.
    pub filesystem: Vec<FsEntry>,
    pub resources: Resources,
    pub network: Network,
    pub process: Process,
}

/// A seccomp verdict.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case", tag = "action", content = "errno")]
pub enum Action {
    Allow,
    Log,
    Notify,
    Errno(u16),
    Trap,
    KillThread,
    Kill,
}

impl Action {
    /// Higher is stricter; for one syscall the strictest matching rule wins.
    pub fn strictness(self) -> u8 {
        match self {
            Action::Allow => 0,
            Action::Log => 1,
            Action::Notify => 2,
            Action::Errno(_) => 3,
            Action::Trap => 4,
            Action::KillThread => 5,
            Action::Kill => 6,
        }
    }

    /// A total order for choosing among matching rules: strictness first, and among
    /// `errno` actions the smaller errno, so the verdict never depends on rule order.
    pub fn rank(self) -> (u8, u16) {
        match self {
            Action::Errno(e) => (self.strictness(), u16::MAX - e),
            _ => (self.strictness(), 0),
        }
    }

    pub fn describe(self) -> String {
        match self {
            Action::Allow => "allow".into(),
            Action::Log => "log".into(),
            Action::Notify => "notify".into(),
            Action::Errno(e) => match crate::tables::errno_name(u32::from(e)) {
                Some(name) => format!("errno({name})"),
                None => format!("errno({e})"),
            },
            Action::Trap => "trap".into(),
            Action::KillThread => "kill-thread".into(),
            Action::Kill => "kill".into(),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Syscalls {
    /// For syscalls no rule names (and for rules whose conditions all fail).
    pub default: Action,
    pub default_origin: Option<Origin>,
    pub arches: BTreeMap<Arch, ArchRules>,
}

/// The rules of one architecture, by syscall number.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct ArchRules {
    pub syscalls: BTreeMap<u32, SyscallRules>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SyscallRules {
    pub name: &'static str,
    /// Never empty. Order carries no meaning (see [`Action::strictness`]).
    pub rules: Vec<Rule>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Rule {
    pub action: Action,
    /// `None`: the rule always applies.
    pub condition: Option<Condition>,
    pub origin: Origin,
}

/// A condition on the arguments of one syscall on one architecture.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub enum Condition {
    /// At least two operands.
    Or(Vec<Condition>),
    /// At least two operands.
    And(Vec<Condition>),
    Not(Box<Condition>),
    Test(ArgTest),
}

/// `(arg & mask) OP value` or membership, at the argument's width.
///
/// INVARIANT (fits-width): `mask` and every value fit the argument's width: for a
/// 32-bit argument they are below 2^32 (negative numbers stored as their 32-bit two's
/// complement), so a back-end compares the low word only.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ArgTest {
    /// 0-based argument index.
    pub index: u8,
    pub name: &'static str,
    #[serde(serialize_with = "serialize_arg_type")]
    pub ty: ArgType,
    pub mask: Option<u64>,
    pub test: Test,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub enum Test {
    Compare {
        #[serde(serialize_with = "serialize_op")]
        op: CmpOp,
        value: u64,
    },
    In {
        negated: bool,
        values: Vec<u64>,
    },
}

fn serialize_arg_type<S: serde::Serializer>(ty: &ArgType, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(match ty {
        ArgType::Int32 { signed: true } => "int32",
        ArgType::Int32 { signed: false } => "uint32",
        ArgType::Int64 { signed: true } => "int64",
        ArgType::Int64 { signed: false } => "uint64",
        ArgType::Pointer => "pointer",
    })
}

fn serialize_op<S: serde::Serializer>(op: &CmpOp, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(op.as_str())
}

/// A path as written, possibly with run-time variables (`${workspace}/out`).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct PathTemplate(pub String);

impl PathTemplate {
    /// The variables it uses, in order, without `${}`.
    pub fn variables(&self) -> Vec<&str> {
        let mut out = Vec::new();
        let mut rest = self.0.as_str();
        while let Some(start) = rest.find("${") {
            let after = rest.get(start + 2..).unwrap_or_default();
            let Some(end) = after.find('}') else { break };
            out.push(after.get(..end).unwrap_or_default());
            rest = after.get(end + 1..).unwrap_or_default();
        }
        out
    }
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FsEntry {
    pub target: PathTemplate,
    pub kind: FsKind,
    pub origin: Origin,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "kind")]
pub enum FsKind {
    Bind {
        source: PathTemplate,
        writable: bool,
        optional: bool,
    },
    Tmpfs {
        size: Option<u64>,
        mode: u32,
    },
    Proc,
    Dev,
    Dir {
        mode: u32,
    },
    Symlink {
        to: String,
    },
    Mask,
}

/// A limit: a value or explicitly none.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Limit {
    Value(u64),
    Unlimited,
}

/// `None` everywhere means "not set by any layer"; back-ends apply their defaults.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Resources {
    /// Bytes.
    pub memory: Option<Limit>,
    /// Bytes of swap beyond `memory`; a checked policy always has it (default 0).
    pub swap: Option<Limit>,
    /// Thousandths of a CPU.
    pub cpu_millis: Option<Limit>,
    pub pids: Option<Limit>,
    /// Milliseconds.
    pub timeout_ms: Option<Limit>,
    /// Seconds (RLIMIT_CPU's unit).
    pub cpu_time_s: Option<Limit>,
    pub open_files: Option<Limit>,
    /// Bytes.
    pub file_size: Option<Limit>,
    /// Bytes.
    pub tmp_size: Option<Limit>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase", tag = "mode")]
pub enum Network {
    /// A fresh network namespace with loopback only.
    None,
    Host,
    /// The host's network, TCP connect/bind limited to these ports.
    Filtered {
        connect: Vec<u16>,
        bind: Vec<u16>,
    },
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Process {
    pub command: Option<Vec<String>>,
    pub cwd: Option<PathTemplate>,
    pub hostname: Option<String>,
    pub uid: u32,
    pub gid: u32,
    pub env: BTreeMap<String, String>,
    pub pass: Vec<String>,
}

/// The identity inside the sandbox when the policy gives none.
pub const DEFAULT_ID: u32 = 1000;
