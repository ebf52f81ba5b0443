//! Docker/OCI seccomp profiles to `.pfp`: `phantomc import docker-seccomp`.
//!
//! The input is the JSON that runc, containerd, Docker and Kubernetes load
//! (`defaultAction`, `syscalls[]` with `names`, `action`, `errnoRet`, `args`,
//! `includes`/`excludes`). The output reproduces what runc and libseccomp make of it
//! on x86_64 and aarch64, written the way a person would write it:
//!
//! * `includes`/`excludes` are decided at import time, as Docker decides them when it
//!   starts a container: capabilities come from the options (`--with-cap`), the
//!   architecture picks the `arch` block, and a current kernel is assumed for
//!   `minKernel`.
//! * Rule by rule, libseccomp's own resolution is applied where `.pfp` would decide
//!   differently: a rule with the default action is skipped (runc does), an
//!   unconditional rule for a syscall is the only one that counts (libseccomp drops
//!   the others), several arguments with the same index become alternatives (runc
//!   splits such a rule). What is left is a set of rules whose verdict does not depend
//!   on rule order, which is the `.pfp` model.
//! * Argument indices become the syscall's parameter names; values are written for the
//!   argument's width and signedness, so the `.pfp` condition means what libseccomp's
//!   unsigned 64-bit comparison means, except that a 32-bit argument is compared on its
//!   low 32 bits (the deliberate difference, stated in the output's header).
//!
//! Whatever cannot be carried over is left out and listed in [`Imported::notes`] and
//! in the header comment; nothing is dropped silently.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use serde::Deserialize;

use super::Imported;
use crate::tables::{self, Arch, Arg, ArgType, Syscall};

/// How to import: the container's capabilities and the policy's name.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DockerImportOptions {
    /// Capabilities the container has, for `includes.caps`/`excludes.caps`
    /// (`CAP_SYS_ADMIN`; the `CAP_` prefix and case are optional).
    pub caps: Vec<String>,
    /// The policy's name (`policy "NAME"`); without one, the file name decides.
    pub name: Option<String>,
    /// The profile's file name, for the header comment and the description.
    pub source: Option<String>,
}

/// Why a profile could not be imported at all.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// Not JSON, or not the shape of a seccomp profile; the message has the line and column.
    #[error("not a Docker/OCI seccomp profile: {0}")]
    Json(#[from] serde_json::Error),
    #[error("{location}: unknown action `{action}` (expected SCMP_ACT_ALLOW, SCMP_ACT_ERRNO, SCMP_ACT_KILL, SCMP_ACT_KILL_THREAD, SCMP_ACT_KILL_PROCESS, SCMP_ACT_TRAP, SCMP_ACT_TRACE, SCMP_ACT_LOG or SCMP_ACT_NOTIFY)")]
    UnknownAction { location: String, action: String },
    #[error("{location}: unknown operator `{op}` (expected SCMP_CMP_EQ, SCMP_CMP_NE, SCMP_CMP_LT, SCMP_CMP_LE, SCMP_CMP_GT, SCMP_CMP_GE or SCMP_CMP_MASKED_EQ)")]
    UnknownOp { location: String, op: String },
    #[error(
        "{location}: argument index {index} is out of range (a system call has arguments 0 to 5)"
    )]
    BadArgIndex { location: String, index: u64 },
    #[error(
        "{location}: errnoRet {value} is out of range (the kernel takes errno values 0 to 4095)"
    )]
    ErrnoOutOfRange { location: String, value: u64 },
    #[error("{location}: errnoRet is only allowed with SCMP_ACT_ERRNO and SCMP_ACT_TRACE, not `{action}`")]
    ErrnoRetNotAllowed { location: String, action: String },
    #[error("{location}: has both `name` and `names`; use one of them")]
    NameAndNames { location: String },
    /// A bug of the importer: the text it generated does not parse.
    #[error("internal error: the generated policy does not parse ({0}); please report it with the profile")]
    Internal(String),
}

// ---------------------------------------------------------------------------------
// The JSON, as runc and moby read it. Missing lists and `null` are the same thing.

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Profile {
    default_action: String,
    #[serde(default)]
    default_errno_ret: Option<u64>,
    #[serde(default)]
    architectures: Option<Vec<String>>,
    #[serde(default)]
    arch_map: Option<Vec<ArchMap>>,
    #[serde(default)]
    flags: Option<Vec<String>>,
    #[serde(default)]
    listener_path: Option<String>,
    #[serde(default)]
    syscalls: Option<Vec<JsonRule>>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ArchMap {
    architecture: String,
    #[serde(default)]
    sub_architectures: Option<Vec<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct JsonRule {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    names: Option<Vec<String>>,
    action: String,
    #[serde(default)]
    errno_ret: Option<u64>,
    #[serde(default)]
    args: Option<Vec<JsonArg>>,
    #[serde(default)]
    comment: Option<String>,
    #[serde(default)]
    includes: Option<Filter>,
    #[serde(default)]
    excludes: Option<Filter>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Filter {
    #[serde(default)]
    caps: Option<Vec<String>>,
    #[serde(default)]
    arches: Option<Vec<String>>,
    #[serde(default)]
    min_kernel: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct JsonArg {
    index: u64,
    #[serde(default)]
    value: u64,
    #[serde(default)]
    value_two: u64,
    op: String,
}

// ---------------------------------------------------------------------------------
// The validated profile.

/// A libseccomp action; equal values are the same `scmp_filter_action` (runc compares
/// a rule's action with the default this way, errno included).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Action {
    Allow,
    Errno(u16),
    KillThread,
    KillProcess,
    Trap,
    /// `SCMP_ACT_TRACE` with its message for the tracer.
    Trace(u16),
    Log,
    Notify,
}

impl Action {
    /// The `.pfp` action. Without a tracer the kernel fails a `SECCOMP_RET_TRACE`
    /// syscall with ENOSYS, which is what `.pfp` can say.
    fn pfp(self) -> String {
        match self {
            Action::Allow => "allow".into(),
            Action::Errno(n) => match tables::errno_name(u32::from(n)) {
                Some(name) => format!("errno({name})"),
                None => format!("errno({n})"),
            },
            Action::KillThread => "kill-thread".into(),
            Action::KillProcess => "kill".into(),
            Action::Trap => "trap".into(),
            Action::Trace(_) => "errno(ENOSYS)".into(),
            Action::Log => "log".into(),
            Action::Notify => "notify".into(),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    MaskedEq,
}

impl Op {
    fn parse(op: &str) -> Option<Op> {
        Some(match op {
            "SCMP_CMP_EQ" => Op::Eq,
            "SCMP_CMP_NE" => Op::Ne,
            "SCMP_CMP_LT" => Op::Lt,
            "SCMP_CMP_LE" => Op::Le,
            "SCMP_CMP_GT" => Op::Gt,
            "SCMP_CMP_GE" => Op::Ge,
            "SCMP_CMP_MASKED_EQ" => Op::MaskedEq,
            _ => return None,
        })
    }

    fn symbol(self) -> &'static str {
        match self {
            Op::Eq | Op::MaskedEq => "==",
            Op::Ne => "!=",
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Gt => ">",
            Op::Ge => ">=",
        }
    }
}

/// One `args[]` entry: `args[index] OP value` (for MASKED_EQ, `value` is the mask and
/// `value_two` the datum).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Cmp {
    index: u8,
    op: Op,
    value: u64,
    value_two: u64,
}

#[derive(Debug)]
struct Rule<'a> {
    names: Vec<&'a str>,
    action: Action,
    /// The raw action name, for notes.
    action_name: &'a str,
    cmps: Vec<Cmp>,
    json: &'a JsonRule,
}

const EPERM: u16 = 1;

fn parse_action(name: &str, errno_ret: Option<u64>, location: &str) -> Result<Action, ImportError> {
    let needs_ret = matches!(name, "SCMP_ACT_ERRNO" | "SCMP_ACT_TRACE");
    let action = match name {
        "SCMP_ACT_ALLOW" => Action::Allow,
        "SCMP_ACT_ERRNO" => {
            // runc: a missing errnoRet is EPERM (for a rule, not `defaultErrnoRet`).
            let value = errno_ret.unwrap_or(u64::from(EPERM));
            match u16::try_from(value) {
                Ok(n) if n <= 4095 => Action::Errno(n),
                _ => {
                    return Err(ImportError::ErrnoOutOfRange {
                        location: location.into(),
                        value,
                    })
                }
            }
        }
        "SCMP_ACT_KILL" | "SCMP_ACT_KILL_THREAD" => Action::KillThread,
        "SCMP_ACT_KILL_PROCESS" => Action::KillProcess,
        "SCMP_ACT_TRAP" => Action::Trap,
        "SCMP_ACT_TRACE" => {
            let value = errno_ret.unwrap_or(u64::from(EPERM));
            match u16::try_from(value) {
                Ok(n) => Action::Trace(n),
                Err(_) => {
                    return Err(ImportError::ErrnoOutOfRange {
                        location: location.into(),
                        value,
                    })
                }
            }
        }
        "SCMP_ACT_LOG" => Action::Log,
        "SCMP_ACT_NOTIFY" => Action::Notify,
        _ => {
            return Err(ImportError::UnknownAction {
                location: location.into(),
                action: name.into(),
            })
        }
    };
    if errno_ret.is_some() && !needs_ret {
        return Err(ImportError::ErrnoRetNotAllowed {
            location: location.into(),
            action: name.into(),
        });
    }
    Ok(action)
}

fn validate(profile: &Profile) -> Result<Vec<Rule<'_>>, ImportError> {
    let mut rules = Vec::new();
    for (i, json) in profile.syscalls.iter().flatten().enumerate() {
        let location = format!("syscalls[{i}]");
        let names: Vec<&str> = match (&json.name, &json.names) {
            (Some(_), Some(names)) if !names.is_empty() => {
                return Err(ImportError::NameAndNames { location })
            }
            (Some(name), _) => vec![name.as_str()],
            (None, names) => names.iter().flatten().map(String::as_str).collect(),
        };
        let action = parse_action(&json.action, json.errno_ret, &location)?;
        let mut cmps = Vec::new();
        for (j, arg) in json.args.iter().flatten().enumerate() {
            let location = format!("{location}.args[{j}]");
            let op = Op::parse(&arg.op).ok_or_else(|| ImportError::UnknownOp {
                location: location.clone(),
                op: arg.op.clone(),
            })?;
            let index = u8::try_from(arg.index).ok().filter(|i| *i < 6).ok_or(
                ImportError::BadArgIndex {
                    location,
                    index: arg.index,
                },
            )?;
            cmps.push(Cmp {
                index,
                op,
                value: arg.value,
                value_two: arg.value_two,
            });
        }
        rules.push(Rule {
            names,
            action,
            action_name: &json.action,
            cmps,
            json,
        });
    }
    Ok(rules)
}

// ---------------------------------------------------------------------------------
// Architectures and capabilities.

/// One of our architectures by any of the names Docker profiles use (Go's
/// `runtime.GOARCH`, the kernel's, libseccomp's `SCMP_ARCH_*`); `None` for the others.
fn our_arch(name: &str) -> Option<Arch> {
    let lower = name.trim().to_ascii_lowercase();
    let bare = lower.strip_prefix("scmp_arch_").unwrap_or(&lower);
    match bare {
        "amd64" | "x86_64" => Some(Arch::X86_64),
        "arm64" | "aarch64" => Some(Arch::Aarch64),
        _ => None,
    }
}

/// `CAP_SYS_ADMIN` from `sys_admin`, `SYS_ADMIN` or `CAP_SYS_ADMIN`.
fn normalize_cap(cap: &str) -> String {
    let upper = cap.trim().to_ascii_uppercase();
    if upper.starts_with("CAP_") {
        upper
    } else {
        format!("CAP_{upper}")
    }
}

// ---------------------------------------------------------------------------------
// Conditions.

/// One comparison written in `.pfp`, or why it cannot be.
#[derive(Debug)]
enum Piece {
    Always,
    Never,
    Expr {
        text: String,
        or: bool,
    },
    /// Cannot be written for this argument; the reason.
    Unfit(String),
}

fn expr(text: String) -> Piece {
    Piece::Expr { text, or: false }
}

fn expr_and(a: String, b: String) -> Piece {
    Piece::Expr {
        text: format!("{a} and {b}"),
        or: false,
    }
}

fn expr_or(a: String, b: String) -> Piece {
    Piece::Expr {
        text: format!("{a} or {b}"),
        or: true,
    }
}

/// A value: small numbers in decimal, large ones (flags, addresses) in hex.
fn number(v: u64) -> String {
    if v < 0x1_0000 {
        v.to_string()
    } else {
        format!("{v:#x}")
    }
}

/// A value for an argument: small negative numbers of signed arguments as such (`-1`).
fn value_text(v: u64, bits: u32, signed: bool) -> String {
    if signed {
        let s = if bits == 32 {
            i64::from((v & 0xffff_ffff) as u32 as i32)
        } else {
            v as i64
        };
        if (-4096..0).contains(&s) {
            return s.to_string();
        }
    }
    number(v)
}

/// The datum of a masked comparison: bits, so hex unless tiny.
fn datum_text(v: u64) -> String {
    if v < 10 {
        v.to_string()
    } else {
        format!("{v:#x}")
    }
}

/// Width and signedness of an argument as the kernel (and `.pfp`) reads it.
fn width(ty: ArgType) -> (u32, bool) {
    match ty {
        ArgType::Int32 { signed } => (32, signed),
        ArgType::Int64 { signed } => (64, signed),
        ArgType::Pointer => (64, false),
    }
}

/// A profile value (64 bits) for an argument of `bits`: as it is, as the low half of a
/// sign-extended 32-bit value, or not at all.
enum Fit {
    Exact(u64),
    SignExtended(u64),
    No,
}

fn fit(v: u64, bits: u32) -> Fit {
    if bits == 64 || v <= u64::from(u32::MAX) {
        Fit::Exact(v)
    } else if v >= 0xffff_ffff_8000_0000 {
        Fit::SignExtended(v & 0xffff_ffff)
    } else {
        Fit::No
    }
}

/// `args[i] OP v`, libseccomp's unsigned comparison, for an argument `name` of `bits`.
///
/// On an unsigned argument it is written as it is. `.pfp` orders a signed argument as
/// a signed number, so there the unsigned range is split at the sign: unsigned
/// `x < 38` is signed `x >= 0 and x < 38`, unsigned `x > 40` is `x > 40 or x < 0`.
fn ordered(name: &str, op: Op, v: u64, bits: u32, signed: bool) -> Piece {
    let max: u128 = (1u128 << bits) - 1;
    let v = u128::from(v);
    let shown = |x: u128| number(u64::try_from(x).unwrap_or(u64::MAX));
    if !signed {
        return match op {
            Op::Lt if v == 0 => Piece::Never,
            Op::Le if v == max => Piece::Always,
            Op::Gt if v == max => Piece::Never,
            Op::Ge if v == 0 => Piece::Always,
            _ => expr(format!("{name} {} {}", op.symbol(), shown(v))),
        };
    }
    let half: u128 = 1u128 << (bits - 1);
    // The signed number with the same bits (v >= half).
    let neg = |x: u128| (i128::try_from(x).unwrap_or(0) - (1i128 << bits)).to_string();
    let non_negative = format!("{name} >= 0");
    let negative = format!("{name} < 0");
    match op {
        Op::Lt if v == 0 => Piece::Never,
        Op::Lt if v < half => expr_and(non_negative, format!("{name} < {}", shown(v))),
        Op::Lt if v == half => expr(non_negative),
        Op::Lt => expr_or(non_negative, format!("{name} < {}", neg(v))),
        Op::Le if v == max => Piece::Always,
        Op::Le if v + 1 < half => expr_and(non_negative, format!("{name} <= {}", shown(v))),
        Op::Le if v + 1 == half => expr(non_negative),
        Op::Le => expr_or(non_negative, format!("{name} <= {}", neg(v))),
        Op::Gt if v == max => Piece::Never,
        Op::Gt if v + 1 < half => expr_or(format!("{name} > {}", shown(v)), negative),
        Op::Gt if v + 1 == half => expr(negative),
        Op::Gt => expr_and(negative, format!("{name} > {}", neg(v))),
        Op::Ge if v == 0 => Piece::Always,
        Op::Ge if v < half => expr_or(format!("{name} >= {}", shown(v)), negative),
        Op::Ge if v == half => expr(negative),
        Op::Ge => expr_and(negative, format!("{name} >= {}", neg(v))),
        Op::Eq | Op::Ne | Op::MaskedEq => Piece::Never,
    }
}

/// The notes of an import, each once, in the order they arose.
#[derive(Debug, Default)]
struct Notes {
    list: Vec<String>,
    seen: HashSet<String>,
}

impl Notes {
    fn push(&mut self, note: String) {
        let note = clean(&note);
        if self.seen.insert(note.clone()) {
            self.list.push(note);
        }
    }
}

/// One comparison of a rule for `syscall`'s argument `arg`.
fn piece(syscall: &Syscall, arg: &Arg, cmp: &Cmp, notes: &mut Notes) -> Piece {
    let (bits, signed) = width(arg.ty);
    let name = arg.name;
    let sc = syscall.name;
    if cmp.op == Op::MaskedEq {
        let mask = cmp.value;
        // libseccomp compares (arg & mask) == (datum & mask).
        let datum = cmp.value_two & mask;
        if mask == 0 {
            notes.push(format!(
                "{sc}: a MASKED_EQ test with mask 0 always holds (libseccomp compares \
                 (arg & mask) == (datum & mask)), so it is left out of the condition"
            ));
        } else if cmp.value_two != datum {
            notes.push(format!(
                "{sc}: the datum {:#x} has bits outside the mask {mask:#x}; libseccomp compares \
                 (arg & mask) == (datum & mask), so it is written {}",
                cmp.value_two,
                datum_text(datum)
            ));
        }
        let (mask, full) = if bits == 32 {
            if datum >> 32 != 0 {
                return Piece::Unfit(format!(
                    "the masked comparison wants bits above the 32 bits of `{name}` set \
                     (mask {mask:#x}, datum {datum:#x})"
                ));
            }
            if mask >> 32 != 0 {
                notes.push(format!(
                    "{sc}: `{name}` is 32 bits wide, so the mask {mask:#x} is written as its \
                     low 32 bits"
                ));
            }
            (mask & 0xffff_ffff, 0xffff_ffff)
        } else {
            (mask, u64::MAX)
        };
        return if mask == 0 {
            Piece::Always
        } else if mask == full {
            expr(format!("{name} == {}", value_text(datum, bits, signed)))
        } else {
            expr(format!("{name} & {mask:#x} == {}", datum_text(datum)))
        };
    }
    let value = match fit(cmp.value, bits) {
        Fit::Exact(v) => v,
        Fit::SignExtended(v) => {
            notes.push(format!(
                "{sc}: `{name}` is 32 bits wide; the value {:#x} is compared as its low 32 bits \
                 ({}), as the kernel reads the argument",
                cmp.value,
                value_text(v, bits, signed)
            ));
            v
        }
        Fit::No => {
            return Piece::Unfit(format!(
                "the value {:#x} does not fit `{name}`, a 32-bit argument",
                cmp.value
            ))
        }
    };
    match cmp.op {
        Op::Eq | Op::Ne => expr(format!(
            "{name} {} {}",
            cmp.op.symbol(),
            value_text(value, bits, signed)
        )),
        op => {
            let piece = ordered(name, op, value, bits, signed);
            if signed && matches!(piece, Piece::Expr { .. }) {
                notes.push(format!(
                    "{sc}: `{name}` is signed and libseccomp compares arguments as unsigned \
                     numbers, so its ordered comparisons also test the sign (`{name} >= 0 and …`, \
                     `… or {name} < 0`)"
                ));
            }
            piece
        }
    }
}

/// The condition of one conjunction of comparisons for `syscall`.
enum Condition {
    Always,
    Expr(String),
    Never,
    /// Tests arguments the syscall does not have (indices).
    Beyond(BTreeSet<u8>),
    Unfit(String),
}

fn condition(syscall: &Syscall, cmps: &[Cmp], notes: &mut Notes) -> Condition {
    let mut parts = Vec::new();
    let mut beyond = BTreeSet::new();
    let mut unfit = None;
    let mut never = false;
    for cmp in cmps {
        let Some(arg) = syscall.args.get(usize::from(cmp.index)) else {
            beyond.insert(cmp.index);
            continue;
        };
        match piece(syscall, arg, cmp, notes) {
            Piece::Always => {}
            Piece::Never => never = true,
            Piece::Expr { text, or } => parts.push((text, or)),
            Piece::Unfit(reason) => unfit = Some(reason),
        }
    }
    if never {
        return Condition::Never;
    }
    if !beyond.is_empty() {
        return Condition::Beyond(beyond);
    }
    if let Some(reason) = unfit {
        return Condition::Unfit(reason);
    }
    match parts.as_slice() {
        [] => Condition::Always,
        [(text, _)] => Condition::Expr(text.clone()),
        _ => Condition::Expr(
            parts
                .iter()
                .map(|(text, or)| {
                    if *or {
                        format!("({text})")
                    } else {
                        text.clone()
                    }
                })
                .collect::<Vec<_>>()
                .join(" and "),
        ),
    }
}

/// The values of a comparison as inclusive ranges over u64 (libseccomp's view), or
/// `None` when it is not a plain range test (MASKED_EQ).
fn ranges(cmp: &Cmp) -> Option<Vec<(u64, u64)>> {
    let v = cmp.value;
    Some(match cmp.op {
        Op::Eq => vec![(v, v)],
        Op::Ne => {
            let mut r = Vec::new();
            if v > 0 {
                r.push((0, v - 1));
            }
            if v < u64::MAX {
                r.push((v + 1, u64::MAX));
            }
            r
        }
        Op::Lt if v == 0 => Vec::new(),
        Op::Lt => vec![(0, v - 1)],
        Op::Le => vec![(0, v)],
        Op::Gt if v == u64::MAX => Vec::new(),
        Op::Gt => vec![(v + 1, u64::MAX)],
        Op::Ge => vec![(v, u64::MAX)],
        Op::MaskedEq => return None,
    })
}

fn intersect(a: &[(u64, u64)], b: &[(u64, u64)]) -> Vec<(u64, u64)> {
    let mut out = Vec::new();
    for &(alo, ahi) in a {
        for &(blo, bhi) in b {
            let (lo, hi) = (alo.max(blo), ahi.min(bhi));
            if lo <= hi {
                out.push((lo, hi));
            }
        }
    }
    out
}

/// Whether no arguments satisfy both conjunctions (a sufficient test: some argument
/// whose range tests exclude each other).
fn disjoint(a: &[Cmp], b: &[Cmp]) -> bool {
    (0u8..6).any(|index| {
        let mut set = vec![(0, u64::MAX)];
        for cmp in a.iter().chain(b).filter(|c| c.index == index) {
            if let Some(r) = ranges(cmp) {
                set = intersect(&set, &r);
            }
        }
        set.is_empty()
    })
}

// ---------------------------------------------------------------------------------
// The import.

/// A rule for one syscall on one architecture.
#[derive(Clone, Debug)]
struct Entry {
    action: Action,
    /// `None`: unconditional.
    cond: Option<String>,
    /// Source rule (index in `syscalls[]`) and the name's position in it.
    rule: usize,
    pos: usize,
    cmps: Vec<Cmp>,
}

/// Rules of the output, each for one scope.
#[derive(Debug)]
struct Item {
    scope: Option<Arch>,
    rule: usize,
    pos: usize,
    action: String,
    cond: Option<String>,
    syscalls: Vec<(usize, &'static str)>,
}

#[derive(Debug, Default)]
struct Importer {
    caps: BTreeSet<String>,
    notes: Notes,
    /// Names no supported architecture has.
    unknown: BTreeSet<String>,
    /// Rules left out because they test arguments beyond the syscall's parameters:
    /// syscall → (signature, indices, rules).
    beyond: BTreeMap<&'static str, (String, BTreeSet<u8>, BTreeSet<usize>)>,
    /// Rules with the default action (runc skips them).
    same_as_default: Vec<usize>,
    entries: BTreeMap<(Arch, &'static str), Vec<Entry>>,
    /// Comment lines to print above the rules of a source rule.
    annotations: BTreeMap<usize, Vec<String>>,
}

/// `syscalls[3] (socket)`, `syscalls[0] (accept, accept4, access, … 361 names)`.
fn describe(index: usize, names: &[&str]) -> String {
    let shown: Vec<&str> = names.iter().copied().take(3).collect();
    let list = match names.len() {
        0 => "no names".to_string(),
        1..=3 => shown.join(", "),
        n => format!("{}, … {n} names", shown.join(", ")),
    };
    format!("syscalls[{index}] ({list})")
}

fn arch_list(arches: &[String]) -> String {
    arches.join(", ")
}

impl Importer {
    fn applies_on(json: &JsonRule, arch: Arch) -> bool {
        let matches = |list: &[String]| list.iter().any(|name| our_arch(name) == Some(arch));
        let included = match json.includes.as_ref().and_then(|f| f.arches.as_deref()) {
            Some(list) if !list.is_empty() => matches(list),
            _ => true,
        };
        let excluded = json
            .excludes
            .as_ref()
            .and_then(|f| f.arches.as_deref())
            .is_some_and(matches);
        included && !excluded
    }

    /// Decides `includes`/`excludes`; `None` when the rule is left out (noted).
    fn arches_of(&mut self, index: usize, rule: &Rule<'_>) -> Option<Vec<Arch>> {
        let what = describe(index, &rule.names);
        let json = rule.json;
        let arches: Vec<Arch> = Arch::ALL
            .into_iter()
            .filter(|a| Self::applies_on(json, *a))
            .collect();
        if arches.is_empty() {
            let only = json
                .includes
                .as_ref()
                .and_then(|f| f.arches.clone())
                .unwrap_or_default();
            let not = json
                .excludes
                .as_ref()
                .and_then(|f| f.arches.clone())
                .unwrap_or_default();
            let why = if only.is_empty() {
                format!("not for {}", arch_list(&not))
            } else {
                format!("only for {}", arch_list(&only))
            };
            self.notes.push(format!("{what}: {why}; left out"));
            return None;
        }
        let mut annotation = Vec::new();
        let inc_caps: Vec<String> = json
            .includes
            .as_ref()
            .and_then(|f| f.caps.as_ref())
            .map(|c| c.iter().map(|c| normalize_cap(c)).collect())
            .unwrap_or_default();
        if !inc_caps.is_empty() {
            let missing: Vec<&String> = inc_caps
                .iter()
                .filter(|c| !self.caps.contains(*c))
                .collect();
            if !missing.is_empty() {
                let missing: Vec<&str> = missing.iter().map(|s| s.as_str()).collect();
                let flags: Vec<String> =
                    missing.iter().map(|c| format!("--with-cap {c}")).collect();
                self.notes.push(format!(
                    "{what}: needs {}; left out ({} keeps it)",
                    missing.join(" and "),
                    flags.join(" ")
                ));
                return None;
            }
            annotation.push(format!("with {}", inc_caps.join(", ")));
        }
        let exc_caps: Vec<String> = json
            .excludes
            .as_ref()
            .and_then(|f| f.caps.as_ref())
            .map(|c| c.iter().map(|c| normalize_cap(c)).collect())
            .unwrap_or_default();
        if !exc_caps.is_empty() {
            let present: Vec<&str> = exc_caps
                .iter()
                .filter(|c| self.caps.contains(*c))
                .map(String::as_str)
                .collect();
            if !present.is_empty() {
                self.notes.push(format!(
                    "{what}: only for containers without {}; left out",
                    present.join(" or ")
                ));
                return None;
            }
            annotation.push(format!("without {}", exc_caps.join(", ")));
        }
        if let Some(version) = json.excludes.as_ref().and_then(|f| f.min_kernel.as_ref()) {
            self.notes.push(format!(
                "{what}: only for kernels older than {version}; left out (the import assumes a \
                 current kernel)"
            ));
            return None;
        }
        if let Some(version) = json.includes.as_ref().and_then(|f| f.min_kernel.as_ref()) {
            self.notes.push(format!(
                "{what}: for kernel {version} and later; kept (the import assumes a current kernel)"
            ));
            annotation.push(format!("kernel {version} or later"));
        }
        let mut lines: Vec<String> = json
            .comment
            .iter()
            .flat_map(|c| c.lines())
            .map(|l| clean(l).trim().to_string())
            .filter(|l| !l.is_empty())
            .collect();
        if !annotation.is_empty() {
            lines.push(annotation.join("; "));
        }
        if !lines.is_empty() {
            self.annotations.insert(index, lines);
        }
        Some(arches)
    }

    fn rule(
        &mut self,
        index: usize,
        rule: &Rule<'_>,
        default: Action,
        default_errno_ret: Option<u64>,
    ) {
        if rule.action == default {
            self.same_as_default.push(index);
            return;
        }
        let Some(arches) = self.arches_of(index, rule) else {
            return;
        };
        let what = describe(index, &rule.names);
        if let Action::Trace(_) = rule.action {
            self.notes.push(format!(
                "{what}: SCMP_ACT_TRACE is written errno(ENOSYS), what the kernel returns when \
                 no tracer is attached (.pfp has no trace action)"
            ));
        }
        if rule.action_name == "SCMP_ACT_ERRNO" && rule.json.errno_ret.is_none() {
            if let Some(n) = default_errno_ret.filter(|n| *n != u64::from(EPERM)) {
                self.notes.push(format!(
                    "{what}: has no errnoRet, so it fails with EPERM as runc makes it \
                     (defaultErrnoRet {n} is for the default action only)"
                ));
            }
        }
        let conjunctions: Vec<Vec<Cmp>> = if repeats_index(&rule.cmps) {
            self.notes.push(format!(
                "{what}: tests one argument more than once; runc then adds each test as a rule \
                 of its own, so they are alternatives (or), and so are the rules written here"
            ));
            rule.cmps.iter().map(|c| vec![*c]).collect()
        } else {
            vec![rule.cmps.clone()]
        };
        for (pos, name) in rule.names.iter().enumerate() {
            let mut found = false;
            for &arch in &arches {
                let Some(syscall) = tables::syscall(arch, name) else {
                    continue;
                };
                found = true;
                for cmps in &conjunctions {
                    self.add(arch, syscall, rule, index, pos, cmps);
                }
            }
            if !found {
                if tables::exists_anywhere(name) {
                    let names: Vec<&str> = arches.iter().map(|a| a.name()).collect();
                    self.notes.push(format!(
                        "{what}: `{name}` does not exist on {}; left out",
                        names.join(" or ")
                    ));
                } else {
                    self.unknown.insert((*name).to_string());
                }
            }
        }
    }

    fn add(
        &mut self,
        arch: Arch,
        syscall: &'static Syscall,
        rule: &Rule<'_>,
        index: usize,
        pos: usize,
        cmps: &[Cmp],
    ) {
        let what = describe(index, &rule.names);
        let cond = match condition(syscall, cmps, &mut self.notes) {
            Condition::Always => None,
            Condition::Expr(text) => Some(text),
            Condition::Never => {
                self.notes.push(format!(
                    "{what}: the condition for `{}` can never hold on its argument's width; left out",
                    syscall.name
                ));
                return;
            }
            Condition::Beyond(indices) => {
                let params: Vec<&str> = syscall.args.iter().map(|a| a.name).collect();
                let entry = self.beyond.entry(syscall.name).or_insert_with(|| {
                    (
                        format!("{}({})", syscall.name, params.join(", ")),
                        BTreeSet::new(),
                        BTreeSet::new(),
                    )
                });
                entry.1.extend(indices);
                entry.2.insert(index);
                return;
            }
            Condition::Unfit(reason) => {
                self.notes.push(format!(
                    "{what}: for `{}`, {reason}; left out",
                    syscall.name
                ));
                return;
            }
        };
        self.entries
            .entry((arch, syscall.name))
            .or_default()
            .push(Entry {
                action: rule.action,
                cond,
                rule: index,
                pos,
                cmps: cmps.to_vec(),
            });
    }

    /// libseccomp's resolution per syscall: an unconditional rule is the only one that
    /// counts; duplicates go; overlapping rules with different actions are noted.
    fn resolve(&mut self) -> Vec<(Arch, &'static str, Entry)> {
        let mut out = Vec::new();
        let entries = std::mem::take(&mut self.entries);
        for ((arch, syscall), list) in entries {
            let mut unique: Vec<Entry> = Vec::new();
            for entry in list {
                if !unique
                    .iter()
                    .any(|u| u.action == entry.action && u.cond == entry.cond)
                {
                    unique.push(entry);
                }
            }
            if let Some(winner) = unique.iter().find(|e| e.cond.is_none()).cloned() {
                for other in &unique {
                    if other.action != winner.action {
                        self.notes.push(format!(
                            "{syscall}: the unconditional `{}` of syscalls[{}] decides it, as in \
                             libseccomp; the `{}` rule of syscalls[{}] is left out",
                            winner.action.pfp(),
                            winner.rule,
                            other.action.pfp(),
                            other.rule
                        ));
                    }
                }
                out.push((arch, syscall, winner));
                continue;
            }
            let mut overlapping = BTreeSet::new();
            for (i, a) in unique.iter().enumerate() {
                for b in unique.iter().skip(i + 1) {
                    if a.action != b.action && !disjoint(&a.cmps, &b.cmps) {
                        overlapping.insert(a.rule);
                        overlapping.insert(b.rule);
                    }
                }
            }
            if !overlapping.is_empty() {
                let rules: Vec<String> = overlapping
                    .iter()
                    .map(|r| format!("syscalls[{r}]"))
                    .collect();
                self.notes.push(format!(
                    "{syscall}: rules with different actions can hold at once ({}); .pfp then \
                     takes the strictest action, libseccomp the first rule in its own argument \
                     order, so the verdicts may differ there",
                    rules.join(", ")
                ));
            }
            out.extend(unique.into_iter().map(|e| (arch, syscall, e)));
        }
        out
    }
}

fn repeats_index(cmps: &[Cmp]) -> bool {
    let mut seen = [false; 6];
    cmps.iter()
        .any(|c| match seen.get_mut(usize::from(c.index)) {
            Some(s) => std::mem::replace(s, true),
            None => false,
        })
}

/// Groups the resolved rules into output items: a rule is written once outside the
/// `arch` blocks when every architecture that has the syscall has it; otherwise in the
/// blocks of the architectures that have it.
fn items(resolved: Vec<(Arch, &'static str, Entry)>) -> Vec<Item> {
    // (syscall, action, condition) → (arches, first source position)
    type Key = (&'static str, String, Option<String>);
    let mut keys: BTreeMap<Key, (BTreeSet<Arch>, (usize, usize))> = BTreeMap::new();
    for (arch, syscall, entry) in resolved {
        let key = (syscall, entry.action.pfp(), entry.cond);
        let slot = keys
            .entry(key)
            .or_insert_with(|| (BTreeSet::new(), (entry.rule, entry.pos)));
        slot.0.insert(arch);
        slot.1 = slot.1.min((entry.rule, entry.pos));
    }
    let mut groups: BTreeMap<(Option<Arch>, usize, String, Option<String>), Item> = BTreeMap::new();
    for ((syscall, action, cond), (arches, (rule, pos))) in keys {
        let everywhere = Arch::ALL
            .into_iter()
            .filter(|a| tables::syscall(*a, syscall).is_some())
            .all(|a| arches.contains(&a));
        let scopes: Vec<Option<Arch>> = if everywhere {
            vec![None]
        } else {
            arches.iter().copied().map(Some).collect()
        };
        for scope in scopes {
            let item = groups
                .entry((scope, rule, action.clone(), cond.clone()))
                .or_insert_with(|| Item {
                    scope,
                    rule,
                    pos,
                    action: action.clone(),
                    cond: cond.clone(),
                    syscalls: Vec::new(),
                });
            item.pos = item.pos.min(pos);
            item.syscalls.push((pos, syscall));
        }
    }
    let mut items: Vec<Item> = groups.into_values().collect();
    for item in &mut items {
        item.syscalls.sort_unstable();
        item.syscalls.dedup_by(|a, b| a.1 == b.1);
    }
    items.sort_by_key(|i| (i.scope, i.rule, i.pos));
    items
}

/// Longest line of an unconditional rule before it is split into several rules.
const LINE_WIDTH: usize = 92;

fn print_items(
    out: &mut String,
    items: &[&Item],
    indent: &str,
    annotations: &BTreeMap<usize, Vec<String>>,
) {
    let mut previous: Option<&Item> = None;
    let mut annotated = HashSet::new();
    for item in items {
        let header: &[String] = if annotated.insert(item.rule) {
            annotations
                .get(&item.rule)
                .map(Vec::as_slice)
                .unwrap_or_default()
        } else {
            &[]
        };
        if let Some(prev) = previous {
            let same_family = prev.cond.is_some()
                && item.cond.is_some()
                && prev
                    .syscalls
                    .iter()
                    .map(|s| s.1)
                    .eq(item.syscalls.iter().map(|s| s.1));
            if !header.is_empty() || !same_family {
                out.push('\n');
            }
        }
        for line in header {
            let line = clean(line);
            if !line.trim().is_empty() {
                out.push_str(&format!("{indent}# {}\n", line.trim()));
            }
        }
        let names: Vec<&str> = item.syscalls.iter().map(|s| s.1).collect();
        match &item.cond {
            Some(cond) => out.push_str(&format!(
                "{indent}{} {} if {cond}\n",
                item.action,
                names.join(", ")
            )),
            None => {
                let start = format!("{indent}{} ", item.action);
                let mut line = start.clone();
                let mut count = 0;
                for name in names {
                    if count > 0 && line.len() + name.len() + 2 > LINE_WIDTH {
                        out.push_str(&line);
                        out.push('\n');
                        line = start.clone();
                        count = 0;
                    }
                    if count > 0 {
                        line.push_str(", ");
                    }
                    line.push_str(name);
                    count += 1;
                }
                out.push_str(&line);
                out.push('\n');
            }
        }
        previous = Some(item);
    }
}

/// `text` as `# ` comment lines of at most about 90 columns; `first` starts the first
/// line, `rest` the others.
fn comment_lines(out: &mut String, text: &str, first: &str, rest: &str) {
    let mut line = format!("# {first}");
    let mut empty = true;
    for word in clean(text).split_whitespace() {
        if !empty && line.len() + word.len() + 1 > 90 {
            out.push_str(line.trim_end());
            out.push('\n');
            line = format!("# {rest}");
            empty = true;
        }
        if !empty {
            line.push(' ');
        }
        line.push_str(word);
        empty = false;
    }
    out.push_str(line.trim_end());
    out.push('\n');
}

/// Text from the profile made safe for a one-line comment: control characters and
/// Unicode line separators become spaces.
fn clean(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_control() || matches!(c, '\u{2028}' | '\u{2029}') {
                ' '
            } else {
                c
            }
        })
        .collect()
}

fn quote(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() || matches!(c, '\u{2028}' | '\u{2029}') => {}
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Converts a Docker/OCI seccomp profile to canonical `.pfp` text.
///
/// Fails only on input that is not a seccomp profile (malformed JSON, an unknown action
/// or operator, an argument index above 5, an errno out of range); everything that is
/// valid but cannot be expressed is left out and explained in [`Imported::notes`].
pub fn docker_to_pfp(json: &str, options: &DockerImportOptions) -> Result<Imported, ImportError> {
    let profile: Profile = serde_json::from_str(json)?;
    // A missing defaultErrnoRet is EPERM.
    let default = parse_action(
        &profile.default_action,
        profile.default_errno_ret,
        "defaultAction",
    )?;
    let rules = validate(&profile)?;

    let mut importer = Importer {
        caps: options.caps.iter().map(|c| normalize_cap(c)).collect(),
        ..Importer::default()
    };

    let mut foreign: Vec<String> = Vec::new();
    let listed = profile.architectures.iter().flatten().cloned().chain(
        profile.arch_map.iter().flatten().flat_map(|m| {
            std::iter::once(m.architecture.clone())
                .chain(m.sub_architectures.iter().flatten().cloned())
        }),
    );
    for arch in listed {
        if our_arch(&arch).is_none() && !foreign.contains(&arch) {
            foreign.push(arch);
        }
    }
    if !foreign.is_empty() {
        importer.notes.push(format!(
            "architectures not covered: {}; a .pfp policy compiles for x86_64 and aarch64, \
             and system calls through any other ABI are killed",
            foreign.join(", ")
        ));
    }
    if profile.flags.as_ref().is_some_and(|f| !f.is_empty()) {
        importer.notes.push(format!(
            "flags {} are ignored (the phantom runtime installs the filter its own way)",
            profile
                .flags
                .iter()
                .flatten()
                .cloned()
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    if profile.listener_path.is_some() {
        importer.notes.push(
            "listenerPath is ignored: `notify` verdicts go to the phantom runtime's supervisor"
                .into(),
        );
    }
    if let Action::Trace(_) = default {
        importer.notes.push(
            "defaultAction SCMP_ACT_TRACE is written errno(ENOSYS), what the kernel returns \
             when no tracer is attached (.pfp has no trace action)"
                .into(),
        );
    }
    let uses_kill = profile.default_action == "SCMP_ACT_KILL"
        || rules.iter().any(|r| r.action_name == "SCMP_ACT_KILL");
    if uses_kill {
        importer.notes.push(
            "SCMP_ACT_KILL kills only the calling thread (libseccomp's meaning), so it is \
             written `kill-thread`; `kill` would end the whole process"
                .into(),
        );
    }
    // Names read as another name's syscall, which libseccomp would not do.
    let all_names: HashSet<&str> = rules.iter().flat_map(|r| r.names.iter().copied()).collect();
    let mut aliased = BTreeSet::new();
    for name in &all_names {
        if let Some(canonical) = tables::canonical_name(name) {
            if canonical != *name && !all_names.contains(canonical) {
                aliased.insert(format!("{name} → {canonical}"));
            }
        }
    }
    if !aliased.is_empty() {
        importer.notes.push(format!(
            "names taken as the same system call on 64-bit architectures (libseccomp would \
             skip them there): {}",
            aliased.into_iter().collect::<Vec<_>>().join(", ")
        ));
    }

    for (index, rule) in rules.iter().enumerate() {
        importer.rule(index, rule, default, profile.default_errno_ret);
    }
    let resolved = importer.resolve();
    let items = items(resolved);

    if !importer.same_as_default.is_empty() {
        let list: Vec<String> = importer
            .same_as_default
            .iter()
            .map(|i| format!("syscalls[{i}]"))
            .collect();
        importer.notes.push(format!(
            "rules with the default action are skipped, as runc skips them: {}",
            list.join(", ")
        ));
    }
    for (signature, indices, rules) in std::mem::take(&mut importer.beyond).into_values() {
        let indices: Vec<String> = indices.iter().map(u8::to_string).collect();
        importer.notes.push(format!(
            "{} rule(s) test argument {} of {signature}, which it does not have (.pfp names \
             arguments by parameter); left out",
            rules.len(),
            indices.join(" and ")
        ));
    }
    if !importer.unknown.is_empty() {
        importer.notes.push(format!(
            "not on x86_64 or aarch64: {}",
            importer
                .unknown
                .iter()
                .cloned()
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }

    let text = render(options, default, &items, &importer);
    let text = pfp_syntax::format::format(&text).map_err(|errors| {
        ImportError::Internal(
            errors
                .first()
                .map(pfp_syntax::SyntaxError::message)
                .unwrap_or_default(),
        )
    })?;
    Ok(Imported {
        text,
        notes: importer.notes.list,
    })
}

fn render(
    options: &DockerImportOptions,
    default: Action,
    items: &[Item],
    importer: &Importer,
) -> String {
    let mut out = String::new();
    let source = options
        .source
        .as_deref()
        .unwrap_or("a Docker/OCI seccomp profile");
    comment_lines(
        &mut out,
        &format!("Imported from {source} by `phantomc import docker-seccomp`."),
        "",
        "",
    );
    let caps: Vec<&str> = importer.caps.iter().map(String::as_str).collect();
    if caps.is_empty() {
        out.push_str(
            "# Capabilities assumed: none (--with-cap CAP keeps the rules that need one).\n",
        );
    } else {
        comment_lines(
            &mut out,
            &format!("Capabilities assumed: {}.", caps.join(", ")),
            "",
            "",
        );
    }
    out.push_str("#\n");
    comment_lines(
        &mut out,
        "Deliberate difference from runc/libseccomp: a condition compares a 32-bit argument \
         (an `int`) on its low 32 bits, as the kernel reads it; libseccomp compares all 64 \
         bits of the register. Rules do not depend on their order: for one syscall the \
         strictest matching rule wins.",
        "",
        "",
    );
    if !importer.notes.list.is_empty() {
        out.push_str("#\n# Left out or written differently:\n");
        for note in &importer.notes.list {
            comment_lines(&mut out, note, "- ", "  ");
        }
    }
    out.push('\n');
    if let Some(name) = &options.name {
        out.push_str(&format!("policy {}\n", quote(name)));
    }
    let description = match &options.source {
        Some(source) => format!("imported from the Docker/OCI seccomp profile {source}"),
        None => "imported from a Docker/OCI seccomp profile".into(),
    };
    out.push_str(&format!("description {}\n\n", quote(&description)));
    out.push_str("syscalls {\n");
    out.push_str(&format!("    default {}\n", default.pfp()));
    let global: Vec<&Item> = items.iter().filter(|i| i.scope.is_none()).collect();
    if !global.is_empty() {
        out.push('\n');
        print_items(&mut out, &global, "    ", &importer.annotations);
    }
    for arch in Arch::ALL {
        let scoped: Vec<&Item> = items.iter().filter(|i| i.scope == Some(arch)).collect();
        if scoped.is_empty() {
            continue;
        }
        out.push_str(&format!("\n    arch {} {{\n", arch.name()));
        print_items(&mut out, &scoped, "        ", &importer.annotations);
        out.push_str("    }\n");
    }
    out.push_str("}\n");
    out
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;
    use crate::policy::{Action as Verdict, Policy};
    use crate::seccomp::{self, interp, meaning};

    /// `shared/corpus` beside the repository, if it is there.
    fn corpus() -> Option<PathBuf> {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus");
        if dir.is_dir() {
            Some(dir)
        } else {
            println!("skipped: no corpus at {}", dir.display());
            None
        }
    }

    fn import(json: &str, caps: &[&str]) -> Imported {
        import_named(json, caps, "profile.json")
    }

    fn import_named(json: &str, caps: &[&str], source: &str) -> Imported {
        let options = DockerImportOptions {
            caps: caps.iter().map(|c| (*c).to_string()).collect(),
            name: None,
            source: Some(source.into()),
        };
        docker_to_pfp(json, &options).unwrap_or_else(|e| panic!("{e}\n{json}"))
    }

    /// Checks imported text: no error and no warning, and it is in canonical style.
    fn checked(text: &str) -> Policy {
        super::super::checked_clean(text, "/")
    }

    fn verdict(policy: &Policy, arch: Arch, name: &str, args: [u64; 6]) -> Verdict {
        let nr = tables::syscall(arch, name).expect("known syscall").nr;
        let data = interp::SeccompData {
            nr,
            arch: arch.audit_arch(),
            args,
            ..Default::default()
        };
        meaning::verdict(&policy.syscalls, arch, &data)
    }

    /// The rules of the output (lines inside `syscalls { }`), without comments.
    fn rules(text: &str) -> Vec<&str> {
        text.lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .collect()
    }

    // --- Docker's default profile -------------------------------------------------

    fn docker_default() -> Option<String> {
        let path = corpus()?.join("docker-default-seccomp.json");
        match std::fs::read_to_string(&path) {
            Ok(json) => Some(json),
            Err(e) => {
                println!("skipped: {}: {e}", path.display());
                None
            }
        }
    }

    #[test]
    fn docker_default_imports_and_checks() {
        let Some(json) = docker_default() else { return };
        let imported = import_named(&json, &[], "docker-default-seccomp.json");
        let policy = checked(&imported.text);
        insta::assert_snapshot!("docker_default", imported.text);
        let text = &imported.text;
        let rules = rules(text);
        assert!(rules.contains(&"default errno(EPERM)"));
        for rule in [
            "allow socket if domain >= 0 and domain < 38",
            "allow socket if domain == 39",
            "allow socket if domain > 40 or domain < 0",
            "allow personality if persona == 0",
            "allow personality if persona == 8",
            "allow personality if persona == 0x20000",
            "allow personality if persona == 0x20008",
            "allow personality if persona == 0xffffffff",
            "allow clone if flags & 0x7e020000 == 0",
            "errno(ENOSYS) clone3",
            "allow arch_prctl",
            "allow process_vm_readv, process_vm_writev, ptrace",
        ] {
            assert!(rules.contains(&rule), "missing `{rule}`");
        }
        assert!(
            !rules.iter().any(|r| r.contains("bpf")),
            "bpf needs CAP_SYS_ADMIN or CAP_BPF"
        );
        // The dropped names are listed in the header.
        assert!(text.contains("# - not on x86_64 or aarch64: _llseek, arm_fadvise64_64,"));
        assert!(text.contains("chown32"));
        assert!(text.contains("socketcall"));
        assert!(text.contains("32-bit argument"));
        assert!(imported
            .notes
            .iter()
            .any(|n| n.contains("needs CAP_SYS_ADMIN")));

        // What the rules mean, on both architectures.
        let x86 = Arch::X86_64;
        let new_user = 0x1000_0000; // CLONE_NEWUSER
        for arch in Arch::ALL {
            let v = |name: &str, args| verdict(&policy, arch, name, args);
            assert_eq!(v("read", [0; 6]), Verdict::Allow);
            assert_eq!(v("socket", [1, 1, 0, 0, 0, 0]), Verdict::Allow);
            assert_eq!(v("socket", [40, 1, 0, 0, 0, 0]), Verdict::Errno(1)); // AF_VSOCK
            assert_eq!(v("socket", [38, 1, 0, 0, 0, 0]), Verdict::Errno(1));
            assert_eq!(v("socket", [41, 1, 0, 0, 0, 0]), Verdict::Allow);
            // On 32 bits: the high word of `domain` is not looked at.
            assert_eq!(
                v("socket", [0x1_0000_0028, 1, 0, 0, 0, 0]),
                Verdict::Errno(1)
            );
            assert_eq!(
                v("personality", [0xffff_ffff, 0, 0, 0, 0, 0]),
                Verdict::Allow
            );
            assert_eq!(v("personality", [1, 0, 0, 0, 0, 0]), Verdict::Errno(1));
            assert_eq!(v("clone", [0x11, 0, 0, 0, 0, 0]), Verdict::Allow);
            assert_eq!(v("clone", [new_user, 0, 0, 0, 0, 0]), Verdict::Errno(1));
            assert_eq!(v("clone3", [0; 6]), Verdict::Errno(38));
            assert_eq!(v("bpf", [0; 6]), Verdict::Errno(1));
            assert_eq!(v("mount", [0; 6]), Verdict::Errno(1));
        }
        assert_eq!(verdict(&policy, x86, "arch_prctl", [0; 6]), Verdict::Allow);
        // The filters compile (and verify) for both architectures.
        for arch in Arch::ALL {
            seccomp::compile(&policy.syscalls, arch).unwrap_or_else(|e| panic!("{arch}: {e}"));
        }
    }

    #[test]
    fn docker_default_with_cap_sys_admin() {
        let Some(json) = docker_default() else { return };
        let imported = import(&json, &["CAP_SYS_ADMIN"]);
        let policy = checked(&imported.text);
        let listed = rules(&imported.text);
        assert!(
            listed
                .iter()
                .any(|r| r.starts_with("allow bpf, clone, clone3,")),
            "{}",
            imported.text
        );
        assert!(!listed.iter().any(|r| r.contains(" if flags &")));
        assert!(!listed
            .iter()
            .any(|r| r.contains("clone3") && r.starts_with("errno")));
        assert!(imported.text.contains("# with CAP_SYS_ADMIN"));
        for arch in Arch::ALL {
            let v = |name: &str, args| verdict(&policy, arch, name, args);
            assert_eq!(v("clone", [0x1000_0000, 0, 0, 0, 0, 0]), Verdict::Allow);
            assert_eq!(v("clone3", [0; 6]), Verdict::Allow);
            assert_eq!(v("bpf", [0; 6]), Verdict::Allow);
            assert_eq!(v("mount", [0; 6]), Verdict::Allow);
        }
        // A name of 32-bit ABIs only, in a rule that needs a capability.
        let time = import(&json, &["CAP_SYS_TIME"]);
        assert!(time
            .notes
            .iter()
            .any(|n| n.starts_with("not on x86_64 or aarch64:") && n.contains("clock_settime64")));
        assert!(rules(&time.text).contains(&"allow settimeofday, clock_settime"));
        // Capabilities may be written without `CAP_` and in any case.
        assert_eq!(import(&json, &["sys_admin"]).text, imported.text);
    }

    // --- libseccomp's own tests, as profiles ----------------------------------------

    /// Vectors of each libseccomp test whose verdict differs after the import, and why.
    /// Every other vector (5,983 in all) gets libseccomp's verdict.
    const DIFFERENCES: &[(&str, usize, &str)] = &[
        (
            "05-sim-long_jumps",
            11,
            "the 100 chdir rules also test arguments 1 and 2, which chdir(path) does not \
             have, so they are left out; the 11 vectors they allowed get the default (KILL)",
        ),
        (
            "06-sim-actions",
            1,
            "SCMP_ACT_TRACE (TRACE(1234)) becomes errno(ENOSYS), the verdict without a tracer",
        ),
        (
            "43-sim-a2_order",
            13,
            "read's errno rules overlap (count > 128, > 256, …): where several hold, .pfp \
             takes the smallest errno, libseccomp the narrowest range",
        ),
        (
            "53-sim-binary_tree",
            1,
            "close's errno(3) rule also tests argument 1, which close(fd) does not have, so \
             it is left out and close(100, 101) is allowed",
        ),
    ];

    fn expect_string(action: Verdict) -> String {
        match action {
            Verdict::Allow => "ALLOW".into(),
            Verdict::Log => "LOG".into(),
            Verdict::Notify => "NOTIFY".into(),
            Verdict::Errno(n) => format!("ERRNO({n})"),
            Verdict::Trap => "TRAP".into(),
            Verdict::KillThread => "KILL".into(),
            Verdict::Kill => "KILL_PROCESS".into(),
        }
    }

    #[test]
    fn libseccomp_vectors_import_check_and_agree() {
        let Some(dir) = corpus().map(|c| c.join("libseccomp-vectors")) else {
            return;
        };
        let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
            .map(|d| d.flatten().map(|e| e.path()).collect())
            .unwrap_or_default();
        files.retain(|p| p.extension().is_some_and(|e| e == "json"));
        files.sort();
        if files.is_empty() {
            println!("skipped: no vectors in {}", dir.display());
            return;
        }
        assert_eq!(files.len(), 35);
        let mut report = Vec::new();
        let mut total = 0;
        for path in &files {
            let stem = path
                .file_stem()
                .and_then(|s| s.to_str())
                .unwrap_or_default();
            let file: serde_json::Value =
                serde_json::from_str(&std::fs::read_to_string(path).expect("readable"))
                    .expect("JSON");
            let profile = serde_json::to_string(&file["profile"]).expect("profile");
            let imported = import(&profile, &[]);
            let policy = checked(&imported.text);
            let program = seccomp::compile(&policy.syscalls, Arch::X86_64)
                .unwrap_or_else(|e| panic!("{stem}: {e}"));
            let mut differ = 0;
            let mut examples = Vec::new();
            let vectors = file["vectors"].as_array().expect("vectors");
            for vector in vectors {
                let nr = match vector["syscall"].as_str() {
                    Some(name) => tables::syscall(Arch::X86_64, name).expect("x86_64 name").nr,
                    None => u32::try_from(vector["nr"].as_u64().expect("nr")).expect("u32"),
                };
                let mut args = [0u64; 6];
                for (slot, v) in args
                    .iter_mut()
                    .zip(vector["args"].as_array().expect("args"))
                {
                    *slot = v.as_u64().expect("u64");
                }
                let data = interp::SeccompData {
                    nr,
                    arch: Arch::X86_64.audit_arch(),
                    args,
                    ..Default::default()
                };
                let ours = meaning::verdict(&policy.syscalls, Arch::X86_64, &data);
                // The compiled filter says the same.
                let run = interp::run(&program.insns, &data).expect("runs");
                assert_eq!(run.ret, meaning::ret_value(ours), "{stem}: {vector}");
                if expect_string(ours) != vector["expect"].as_str().expect("expect") {
                    differ += 1;
                    if examples.len() < 30 {
                        examples.push(format!("{vector} -> {}", expect_string(ours)));
                    }
                }
            }
            total += vectors.len();
            let expected = DIFFERENCES
                .iter()
                .find(|(name, ..)| *name == stem)
                .map_or(0, |(_, n, _)| *n);
            if differ != expected {
                report.push(format!(
                    "{stem}: {differ} vectors differ from libseccomp, {expected} expected\n{}\n{}",
                    examples.join("\n"),
                    imported.text
                ));
            }
            // Anything changed is in the notes.
            let why = DIFFERENCES.iter().find(|(name, ..)| *name == stem);
            if why.is_some() {
                assert!(!imported.notes.is_empty(), "{stem}: no notes");
            }
        }
        assert_eq!(total, 5983);
        assert!(report.is_empty(), "{}", report.join("\n"));
    }

    #[test]
    fn libseccomp_vector_notes_explain_the_differences() {
        let Some(dir) = corpus().map(|c| c.join("libseccomp-vectors")) else {
            return;
        };
        let notes = |stem: &str| -> Vec<String> {
            let Ok(text) = std::fs::read_to_string(dir.join(format!("{stem}.json"))) else {
                return Vec::new();
            };
            let file: serde_json::Value = serde_json::from_str(&text).expect("JSON");
            import(
                &serde_json::to_string(&file["profile"]).expect("profile"),
                &[],
            )
            .notes
        };
        let has = |stem: &str, needle: &str| {
            let notes = notes(stem);
            assert!(
                notes.iter().any(|n| n.contains(needle)),
                "{stem}: no note with `{needle}`: {notes:#?}"
            );
        };
        has("05-sim-long_jumps", "test argument 1 and 2 of chdir(path)");
        has("06-sim-actions", "SCMP_ACT_TRACE is written errno(ENOSYS)");
        has(
            "43-sim-a2_order",
            "read: rules with different actions can hold at once",
        );
        has("53-sim-binary_tree", "test argument 1 of close(fd)");
        has(
            "30-sim-socket_syscalls",
            "not on x86_64 or aarch64: recv, send",
        );
        has("12-sim-basic_masked_ops", "written 0x300");
        has("02-sim-basic", "written `kill-thread`");
    }

    // --- Small profiles ---------------------------------------------------------------

    fn rules_of(json: &str) -> Vec<String> {
        let imported = import(json, &[]);
        checked(&imported.text);
        let text = imported.text;
        let start = text.find("syscalls {").expect("syscalls block");
        rules(&text[start..])
            .into_iter()
            .map(str::to_string)
            .collect()
    }

    #[test]
    fn actions() {
        let json = r#"{"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 38, "syscalls": [
            {"names": ["read"], "action": "SCMP_ACT_ALLOW"},
            {"names": ["write"], "action": "SCMP_ACT_ERRNO"},
            {"names": ["close"], "action": "SCMP_ACT_ERRNO", "errnoRet": 0},
            {"names": ["ptrace"], "action": "SCMP_ACT_KILL"},
            {"names": ["mount"], "action": "SCMP_ACT_KILL_THREAD"},
            {"names": ["reboot"], "action": "SCMP_ACT_KILL_PROCESS"},
            {"names": ["uname"], "action": "SCMP_ACT_TRAP"},
            {"names": ["getpid"], "action": "SCMP_ACT_LOG"},
            {"names": ["openat"], "action": "SCMP_ACT_NOTIFY"},
            {"names": ["bpf"], "action": "SCMP_ACT_TRACE", "errnoRet": 7},
            {"names": ["umask"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38}
        ]}"#;
        assert_eq!(
            rules_of(json),
            [
                "syscalls {",
                "default errno(ENOSYS)",
                "allow read",
                "errno(EPERM) write",
                "errno(0) close",
                "kill-thread ptrace",
                "kill-thread mount",
                "kill reboot",
                "trap uname",
                "log getpid",
                "notify openat",
                "errno(ENOSYS) bpf",
                "}",
            ]
        );
        let notes = import(json, &[]).notes;
        assert!(notes
            .iter()
            .any(|n| n.contains("syscalls[1] (write): has no errnoRet")));
        assert!(notes
            .iter()
            .any(|n| n.contains("skipped, as runc skips them: syscalls[10]")));
    }

    #[test]
    fn signed_and_unsigned_comparisons() {
        // kill(pid_t pid, int sig); lseek(unsigned int fd, off_t offset, unsigned int whence)
        let json = r#"{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [
            {"names": ["kill"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 1, "value": 10, "op": "SCMP_CMP_LE"}]},
            {"names": ["kill"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 2147483648, "op": "SCMP_CMP_GE"}]},
            {"names": ["lseek"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 3, "op": "SCMP_CMP_GT"}, {"index": 1, "value": 100, "op": "SCMP_CMP_LT"}]},
            {"names": ["lseek"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 1, "value": 18446744073709551615, "op": "SCMP_CMP_EQ"}]},
            {"names": ["fcntl"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 18446744073709551615, "op": "SCMP_CMP_EQ"}]},
            {"names": ["dup"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 4294967296, "op": "SCMP_CMP_EQ"}]},
            {"names": ["socket"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 0, "op": "SCMP_CMP_LT"}]}
        ]}"#;
        assert_eq!(
            rules_of(json),
            [
                "syscalls {",
                "default errno(EPERM)",
                "allow kill if sig >= 0 and sig <= 10",
                "allow kill if pid < 0",
                "allow lseek if fd > 3 and (offset >= 0 and offset < 100)",
                "allow lseek if offset == -1",
                "allow fcntl if fd == 0xffffffff",
                "}",
            ]
            .map(|s| s.replace(
                "(offset >= 0 and offset < 100)",
                "offset >= 0 and offset < 100"
            ))
        );
        let notes = import(json, &[]).notes;
        assert!(notes
            .iter()
            .any(|n| n.contains("the value 0x100000000 does not fit `oldfd`")
                || n.contains("the value 0x100000000 does not fit `fildes`")
                || n.contains("the value 0x100000000 does not fit")));
        assert!(notes.iter().any(|n| n.contains("can never hold")));
        assert!(notes
            .iter()
            .any(|n| n.contains("compared as its low 32 bits")));
    }

    #[test]
    fn masked_comparisons() {
        let json = r#"{"defaultAction": "SCMP_ACT_KILL_PROCESS", "syscalls": [
            {"names": ["clone"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 2114060288, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"}]},
            {"names": ["openat"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 2, "value": 65280, "valueTwo": 1000, "op": "SCMP_CMP_MASKED_EQ"}]},
            {"names": ["socket"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 1, "value": 4294967295, "valueTwo": 1, "op": "SCMP_CMP_MASKED_EQ"}]},
            {"names": ["readv"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 0, "valueTwo": 1, "op": "SCMP_CMP_MASKED_EQ"}]}
        ]}"#;
        assert_eq!(
            rules_of(json),
            [
                "syscalls {",
                "default kill",
                "allow clone if flags & 0x7e020000 == 0",
                "allow openat if flags & 0xff00 == 0x300",
                "allow socket if type == 1",
                "allow readv",
                "}",
            ]
        );
    }

    #[test]
    fn arches_caps_and_kernels() {
        let json = r#"{"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"], "syscalls": [
            {"names": ["arch_prctl", "open"], "action": "SCMP_ACT_ALLOW", "includes": {"arches": ["amd64"]}},
            {"names": ["read"], "action": "SCMP_ACT_ALLOW", "includes": {"arches": ["x86_64"]}},
            {"names": ["write"], "action": "SCMP_ACT_ALLOW", "excludes": {"arches": ["amd64"]}},
            {"names": ["swapcontext"], "action": "SCMP_ACT_ALLOW", "includes": {"arches": ["ppc64le"]}},
            {"names": ["close"], "action": "SCMP_ACT_ALLOW", "includes": {"arches": ["SCMP_ARCH_X86_64", "arm64"]}},
            {"names": ["mount"], "action": "SCMP_ACT_ALLOW", "includes": {"caps": ["CAP_SYS_ADMIN"]}},
            {"names": ["umount2"], "action": "SCMP_ACT_ALLOW", "excludes": {"caps": ["CAP_SYS_ADMIN"]}},
            {"names": ["getpid"], "action": "SCMP_ACT_ALLOW", "includes": {"minKernel": "4.8"}},
            {"names": ["gettid"], "action": "SCMP_ACT_ALLOW", "excludes": {"minKernel": "4.8"}},
            {"names": ["chown32", "fchown"], "action": "SCMP_ACT_ALLOW"},
            {"names": ["clone"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 3, "value": 0, "op": "SCMP_CMP_EQ"}]},
            {"name": "dup", "action": "SCMP_ACT_ALLOW", "comment": "one name, with a comment"}
        ]}"#;
        assert_eq!(
            rules_of(json),
            [
                "syscalls {",
                "default errno(EPERM)",
                "allow arch_prctl, open",
                "allow close",
                "allow umount2",
                "allow getpid",
                "allow fchown",
                "allow dup",
                "arch x86_64 {",
                "allow read",
                "allow clone if child_tid == 0",
                "}",
                "arch aarch64 {",
                "allow write",
                "allow clone if tls == 0",
                "}",
                "}",
            ]
        );
        let imported = import(json, &[]);
        for needle in [
            "# without CAP_SYS_ADMIN",
            "# kernel 4.8 or later",
            "# one name, with a comment",
        ] {
            assert!(
                imported.text.contains(needle),
                "{needle}\n{}",
                imported.text
            );
        }
        let notes = imported.notes.join("\n");
        for needle in [
            "architectures not covered: SCMP_ARCH_X86;",
            "syscalls[3] (swapcontext): only for ppc64le; left out",
            "syscalls[5] (mount): needs CAP_SYS_ADMIN; left out (--with-cap CAP_SYS_ADMIN keeps it)",
            "syscalls[8] (gettid): only for kernels older than 4.8; left out",
            "not on x86_64 or aarch64: chown32",
        ] {
            assert!(notes.contains(needle), "{needle}\n{notes}");
        }
        let with_admin = rules_of_caps(json, &["CAP_SYS_ADMIN"]);
        assert!(with_admin.contains(&"allow mount".to_string()));
        assert!(!with_admin.contains(&"allow umount2".to_string()));
    }

    fn rules_of_caps(json: &str, caps: &[&str]) -> Vec<String> {
        let imported = import(json, caps);
        checked(&imported.text);
        rules(&imported.text)
            .into_iter()
            .map(str::to_string)
            .collect()
    }

    #[test]
    fn libseccomp_resolution() {
        let json = r#"{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [
            {"names": ["read"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_EQ"}]},
            {"names": ["read"], "action": "SCMP_ACT_KILL_PROCESS"},
            {"names": ["read", "write"], "action": "SCMP_ACT_ALLOW"},
            {"names": ["write"], "action": "SCMP_ACT_ALLOW"},
            {"names": ["openat"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 2, "value": 1, "op": "SCMP_CMP_EQ"}, {"index": 2, "value": 2, "op": "SCMP_CMP_EQ"}]},
            {"names": ["close"], "action": "SCMP_ACT_ERRNO"},
            {"names": ["mmap"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 10, "op": "SCMP_CMP_GT"}]},
            {"names": ["mmap"], "action": "SCMP_ACT_TRAP", "args": [{"index": 0, "value": 5, "op": "SCMP_CMP_LT"}]},
            {"names": ["munmap"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 10, "op": "SCMP_CMP_GT"}]},
            {"names": ["munmap"], "action": "SCMP_ACT_TRAP", "args": [{"index": 0, "value": 50, "op": "SCMP_CMP_LT"}]}
        ]}"#;
        assert_eq!(
            rules_of(json),
            [
                "syscalls {",
                "default errno(EPERM)",
                "kill read",
                "allow write",
                "allow openat if flags == 1",
                "allow openat if flags == 2",
                "allow mmap if addr > 10",
                "trap mmap if addr < 5",
                "allow munmap if addr > 10",
                "trap munmap if addr < 50",
                "}",
            ]
        );
        let notes = import(json, &[]).notes.join("\n");
        for needle in [
            "read: the unconditional `kill` of syscalls[1] decides it, as in libseccomp; the `allow` rule of syscalls[0] is left out",
            "syscalls[4] (openat): tests one argument more than once",
            "rules with the default action are skipped, as runc skips them: syscalls[5]",
            "munmap: rules with different actions can hold at once (syscalls[8], syscalls[9])",
        ] {
            assert!(notes.contains(needle), "{needle}\n{notes}");
        }
        assert!(
            !notes.contains("mmap: rules with different actions"),
            "{notes}"
        );
    }

    #[test]
    fn output_header_and_name() {
        let options = DockerImportOptions {
            caps: vec!["net_admin".into()],
            name: Some("my \"docker\"".into()),
            source: Some("default.json".into()),
        };
        let imported =
            docker_to_pfp(r#"{"defaultAction": "SCMP_ACT_ALLOW"}"#, &options).expect("imports");
        let policy = checked(&imported.text);
        assert_eq!(policy.name, "my \"docker\"");
        assert!(imported
            .text
            .starts_with("# Imported from default.json by `phantomc import docker-seccomp`.\n"));
        assert!(imported
            .text
            .contains("# Capabilities assumed: CAP_NET_ADMIN."));
        assert!(imported.text.contains("syscalls {\n    default allow\n}\n"));
        assert!(imported.notes.is_empty());
    }

    // --- Malformed input ------------------------------------------------------------------

    fn error(json: &str) -> String {
        match docker_to_pfp(json, &DockerImportOptions::default()) {
            Ok(imported) => panic!("accepted:\n{}", imported.text),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn malformed_profiles_are_clean_errors() {
        let cases = [
            ("", "not a Docker/OCI seccomp profile: EOF while parsing a value at line 1 column 0"),
            ("{\"defaultAction\": \"SCMP_ACT_ALLOW\",\n \"syscalls\": [", "line 2 column"),
            ("[]", "expected struct Profile"),
            ("{}", "missing field `defaultAction`"),
            (r#"{"defaultAction": 5}"#, "invalid type: integer `5`, expected a string at line 1"),
            (r#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": {}}"#, "invalid type: map, expected a sequence"),
            (r#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": "read", "action": "SCMP_ACT_KILL"}]}"#, "expected a sequence"),
            (r#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_KILL", "args": [{"index": "0", "value": 1, "op": "SCMP_CMP_EQ"}]}]}"#, "invalid type: string \"0\", expected u64"),
            (r#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_KILL", "args": [{"index": 0, "value": -1, "op": "SCMP_CMP_EQ"}]}]}"#, "invalid value: integer `-1`, expected u64"),
            (r#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_KILL", "args": [{"index": 0, "value": 18446744073709551616, "op": "SCMP_CMP_EQ"}]}]}"#, "line 1 column"),
            (r#"{"defaultAction": "SCMP_ACT_ALOW"}"#, "defaultAction: unknown action `SCMP_ACT_ALOW`"),
            (r#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["read"], "action": "kill"}]}"#, "syscalls[0]: unknown action `kill`"),
            (r#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_KILL", "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_EQ"}, {"index": 1, "value": 1, "op": "SCMP_CMP_MASKED_NE"}]}]}"#, "syscalls[0].args[1]: unknown operator `SCMP_CMP_MASKED_NE`"),
            (r#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_KILL", "args": [{"index": 6, "value": 1, "op": "SCMP_CMP_EQ"}]}]}"#, "syscalls[0].args[0]: argument index 6 is out of range"),
            (r#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_KILL", "args": [{"index": 4294967296, "value": 1, "op": "SCMP_CMP_EQ"}]}]}"#, "argument index 4294967296 is out of range"),
            (r#"{"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 4096}"#, "defaultAction: errnoRet 4096 is out of range"),
            (r#"{"defaultAction": "SCMP_ACT_KILL", "defaultErrnoRet": 1}"#, "defaultAction: errnoRet is only allowed with SCMP_ACT_ERRNO and SCMP_ACT_TRACE, not `SCMP_ACT_KILL`"),
            (r#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_TRACE", "errnoRet": 70000}]}"#, "syscalls[0]: errnoRet 70000 is out of range"),
            (r#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"name": "read", "names": ["write"], "action": "SCMP_ACT_KILL"}]}"#, "syscalls[0]: has both `name` and `names`"),
        ];
        for (json, needle) in cases {
            let message = error(json);
            assert!(
                message.contains(needle),
                "{json}\n{message}\nwanted: {needle}"
            );
        }
    }

    #[test]
    fn truncated_profiles_never_panic() {
        let Some(json) = docker_default() else { return };
        for cut in (0..json.len()).step_by(37) {
            let Some(prefix) = json.get(..cut) else {
                continue;
            };
            let result = docker_to_pfp(prefix, &DockerImportOptions::default());
            assert!(
                matches!(result, Err(ImportError::Json(_))),
                "cut at {cut}: {result:?}"
            );
        }
    }

    // --- Generated profiles: they check, and mean what libseccomp means ---------------------

    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }
        fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
            &items[self.below(items.len())]
        }
    }

    /// Syscalls with every kind of argument: signed and unsigned, 32 and 64 bits, pointers.
    const SYSCALLS: [&str; 7] = [
        "socket",
        "kill",
        "lseek",
        "read",
        "mmap",
        "personality",
        "prctl",
    ];
    const OPS: [&str; 7] = [
        "SCMP_CMP_EQ",
        "SCMP_CMP_NE",
        "SCMP_CMP_LT",
        "SCMP_CMP_LE",
        "SCMP_CMP_GT",
        "SCMP_CMP_GE",
        "SCMP_CMP_MASKED_EQ",
    ];

    fn interesting(rng: &mut Rng, bits: u32) -> u64 {
        let max = if bits == 32 {
            u64::from(u32::MAX)
        } else {
            u64::MAX
        };
        let half = 1u64 << (bits - 1);
        let v = match rng.below(8) {
            0 => 0,
            1 => max,
            2 => half,
            3 => half - 1,
            4 => rng.next() % 64,
            5 => max - rng.next() % 64,
            6 => half + rng.next() % 64 - 32,
            _ => rng.next(),
        };
        v & max
    }

    /// libseccomp's reading of one `args[]` test: unsigned, all 64 bits.
    fn libseccomp_holds(op: &str, arg: u64, value: u64, value_two: u64) -> bool {
        match op {
            "SCMP_CMP_EQ" => arg == value,
            "SCMP_CMP_NE" => arg != value,
            "SCMP_CMP_LT" => arg < value,
            "SCMP_CMP_LE" => arg <= value,
            "SCMP_CMP_GT" => arg > value,
            "SCMP_CMP_GE" => arg >= value,
            _ => arg & value == value_two & value,
        }
    }

    #[test]
    fn generated_profiles_check_and_agree_with_libseccomp() {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        for round in 0..300 {
            let name = *rng.pick(&SYSCALLS);
            let syscall = tables::syscall(Arch::X86_64, name).expect("x86_64");
            // One action, conditional rules only: libseccomp then allows when any holds.
            let mut rules_json = Vec::new();
            let mut model: Vec<Vec<(usize, &str, u64, u64)>> = Vec::new();
            for _ in 0..1 + rng.below(3) {
                let mut used = Vec::new();
                let mut tests = Vec::new();
                for _ in 0..1 + rng.below(3) {
                    let index = rng.below(syscall.args.len());
                    if used.contains(&index) {
                        continue;
                    }
                    used.push(index);
                    let (bits, _) = width(syscall.args[index].ty);
                    let op = *rng.pick(&OPS);
                    let value = interesting(&mut rng, bits);
                    let value_two = interesting(&mut rng, bits);
                    tests.push((index, op, value, value_two));
                }
                let args: Vec<String> = tests
                    .iter()
                    .map(|(i, op, v, v2)| {
                        format!(r#"{{"index": {i}, "value": {v}, "valueTwo": {v2}, "op": "{op}"}}"#)
                    })
                    .collect();
                rules_json.push(format!(
                    r#"{{"names": ["{name}"], "action": "SCMP_ACT_ALLOW", "args": [{}]}}"#,
                    args.join(", ")
                ));
                model.push(tests);
            }
            let json = format!(
                r#"{{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{}]}}"#,
                rules_json.join(", ")
            );
            let imported = import(&json, &[]);
            let policy = checked(&imported.text);
            // Argument values around every compared value, zero-extended (32-bit
            // arguments hold values below 2^32).
            let mut candidates: Vec<Vec<u64>> = vec![vec![0, 1]; 6];
            for tests in &model {
                for &(i, _, v, v2) in tests {
                    let (bits, _) = width(syscall.args[i].ty);
                    let max = if bits == 32 {
                        u64::from(u32::MAX)
                    } else {
                        u64::MAX
                    };
                    let half = 1u64 << (bits - 1);
                    candidates[i].extend([
                        v,
                        v.wrapping_sub(1) & max,
                        v.wrapping_add(1) & max,
                        v2,
                        v & v2,
                        max,
                        half,
                        half - 1,
                    ]);
                }
            }
            for _ in 0..60 {
                let mut args = [0u64; 6];
                for (i, slot) in args.iter_mut().enumerate() {
                    *slot = *rng.pick(&candidates[i]);
                }
                let expected = if model.iter().any(|tests| {
                    tests
                        .iter()
                        .all(|&(i, op, v, v2)| libseccomp_holds(op, args[i], v, v2))
                }) {
                    Verdict::Allow
                } else {
                    Verdict::Errno(1)
                };
                let ours = verdict(&policy, Arch::X86_64, name, args);
                assert_eq!(
                    ours, expected,
                    "round {round}, args {args:x?}\n{json}\n{}",
                    imported.text
                );
            }
        }
    }

    #[test]
    fn any_valid_profile_checks() {
        // Wild values, repeated indices, several actions, caps and arches: whatever the
        // import accepts, `phantomc check` accepts with no warning.
        let names = [
            "read",
            "clone",
            "open",
            "arch_prctl",
            "_llseek",
            "fstat64",
            "socket",
            "kill",
            "lseek",
            "personality",
            "futex",
            "ipc",
            "getpid",
            r#"we\"ird\nname # }"#,
            r#"line\u2028sep\u0085x"#,
        ];
        let actions = [
            "SCMP_ACT_ALLOW",
            "SCMP_ACT_ERRNO",
            "SCMP_ACT_KILL",
            "SCMP_ACT_KILL_PROCESS",
            "SCMP_ACT_TRAP",
            "SCMP_ACT_TRACE",
            "SCMP_ACT_LOG",
            "SCMP_ACT_NOTIFY",
        ];
        let filters = [
            "",
            r#", "includes": {"arches": ["amd64"]}"#,
            r#", "includes": {"arches": ["arm64"]}"#,
            r#", "excludes": {"arches": ["amd64"]}"#,
            r#", "includes": {"caps": ["CAP_SYS_ADMIN"]}"#,
            r#", "excludes": {"caps": ["CAP_SYS_ADMIN"]}"#,
            r#", "comment": "two\nlines \u2028 } allow ptrace", "includes": {"minKernel": "5.1\n"}"#,
        ];
        let mut rng = Rng(0x2545_f491_4f6c_dd1d);
        for _ in 0..400 {
            let mut rules_json = Vec::new();
            for _ in 0..rng.below(6) {
                let mut args = Vec::new();
                for _ in 0..rng.below(4) {
                    args.push(format!(
                        r#"{{"index": {}, "value": {}, "valueTwo": {}, "op": "{}"}}"#,
                        rng.below(6),
                        interesting(&mut rng, 64),
                        interesting(&mut rng, 64),
                        rng.pick(&OPS)
                    ));
                }
                let mut picked = Vec::new();
                for _ in 0..1 + rng.below(3) {
                    picked.push(format!("\"{}\"", rng.pick(&names)));
                }
                let action = *rng.pick(&actions);
                let errno = if action == "SCMP_ACT_ERRNO" {
                    format!(r#", "errnoRet": {}"#, rng.below(40))
                } else {
                    String::new()
                };
                rules_json.push(format!(
                    r#"{{"names": [{}], "action": "{action}"{errno}, "args": [{}]{}}}"#,
                    picked.join(", "),
                    args.join(", "),
                    rng.pick(&filters)
                ));
            }
            let default = *rng.pick(&actions);
            let json = format!(
                r#"{{"defaultAction": "{default}", "syscalls": [{}]}}"#,
                rules_json.join(", ")
            );
            let caps: &[&str] = if rng.below(2) == 0 {
                &[]
            } else {
                &["CAP_SYS_ADMIN"]
            };
            let imported = import(&json, caps);
            checked(&imported.text);
        }
    }
}
