//! Lowering one architecture's syscall rules to a classic-BPF program.
//!
//! The program has three parts, in this order:
//!
//! 1. The architecture check: `seccomp_data.arch` must be this architecture's audit
//!    value, else the foreign action (i386 through `int 0x80` lands here).
//! 2. A balanced search tree over the syscall number. Every number in `0..2^32` falls
//!    in one range; runs of numbers with the same unconditional verdict are one range.
//!    On x86_64 the x32 numbers (`0x4000_0000..=0xffff_fffe`) are a range of their own
//!    with the foreign action. A range's verdict is a shared `ret`, so syscalls allowed
//!    unconditionally return exactly `SECCOMP_RET_ALLOW` without any argument load,
//!    which is what the kernel's action cache needs to skip the filter for them.
//! 3. One block per syscall whose verdict depends on its arguments. Rules are grouped
//!    by action, strictest first; a group's conditions are or-ed; the first group that
//!    holds returns its action; if none does, the unconditional verdict (or the default).
//!    Arguments are compared at their declared width: a 32-bit argument on its low word
//!    only, a 64-bit one on both words; signed orderings flip the sign bit first so the
//!    unsigned BPF comparisons order them correctly.
//!
//! Returns are shared and placed last. All jumps go forward; the assembler adds
//! trampolines for the ones longer than 255 instructions.

use std::collections::BTreeMap;

use super::asm::{AsmError, Assembler, Label};
use super::bpf::*;
use super::meaning::{ret_value, FOREIGN_ACTION};
use crate::policy::{Action, ArgTest, Condition, Origin, Rule, Syscalls, Test};
use crate::tables::{self, Arch, ArgType};
use pfp_syntax::ast::CmpOp;

/// A compiled filter for one architecture, before verification.
#[derive(Clone, Debug, PartialEq)]
pub struct Lowered {
    pub insns: Vec<Insn>,
    /// A remark per instruction for the disassembly (syscall names, actions).
    pub comments: Vec<Option<String>>,
    /// Instructions of each syscall's argument block, with the rules that made it,
    /// to name the culprits when a program is too large.
    pub blocks: Vec<BlockSize>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct BlockSize {
    pub syscall: &'static str,
    pub insns: usize,
    pub origins: Vec<Origin>,
}

/// What a range of syscall numbers leads to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Leaf {
    Ret(u32),
    /// The argument block of this syscall number.
    Args(u32),
}

/// The rules of one syscall reduced to what can change its verdict.
struct Decision<'a> {
    /// Verdict when no conditional group holds.
    fallback: Action,
    /// Strictest first; each group is stricter than `fallback`.
    groups: Vec<(Action, Vec<&'a Condition>)>,
}

fn decide(rules: &[Rule], default: Action) -> Decision<'_> {
    let unconditional = rules
        .iter()
        .filter(|r| r.condition.is_none())
        .map(|r| r.action)
        .max_by_key(|a| a.rank());
    let fallback = unconditional.unwrap_or(default);
    let floor = unconditional.map(Action::rank);
    let mut groups: BTreeMap<(u8, u16), (Action, Vec<&Condition>)> = BTreeMap::new();
    for rule in rules {
        let Some(condition) = &rule.condition else {
            continue;
        };
        // A conditional rule no stricter than an unconditional one never decides.
        if floor.is_some_and(|f| rule.action.rank() <= f) {
            continue;
        }
        groups
            .entry(rule.action.rank())
            .or_insert((rule.action, Vec::new()))
            .1
            .push(condition);
    }
    Decision {
        fallback,
        groups: groups.into_values().rev().collect(),
    }
}

pub fn lower(syscalls: &Syscalls, arch: Arch) -> Result<Lowered, AsmError> {
    let empty = Default::default();
    let rules = syscalls.arches.get(&arch).unwrap_or(&empty);
    let max_nr = tables::syscalls(arch)
        .iter()
        .map(|s| s.nr)
        .max()
        .unwrap_or(0);
    let foreign = ret_value(FOREIGN_ACTION);
    let default = ret_value(syscalls.default);

    // Ranges of syscall numbers: (first number, leaf), covering 0..2^32 in order.
    let mut ranges: Vec<(u32, Leaf)> = Vec::new();
    let mut push = |start: u32, leaf: Leaf| {
        let same_ret =
            matches!((ranges.last(), leaf), (Some((_, Leaf::Ret(a))), Leaf::Ret(b)) if *a == b);
        if !same_ret {
            ranges.push((start, leaf));
        }
    };
    let mut decisions = BTreeMap::new();
    for nr in 0..=max_nr {
        let leaf = match rules.syscalls.get(&nr) {
            None => Leaf::Ret(default),
            Some(list) => {
                let decision = decide(&list.rules, syscalls.default);
                let leaf = if decision.groups.is_empty() {
                    Leaf::Ret(ret_value(decision.fallback))
                } else {
                    Leaf::Args(nr)
                };
                decisions.insert(nr, (list, decision));
                leaf
            }
        };
        push(nr, leaf);
    }
    match arch {
        Arch::X86_64 => {
            if max_nr + 1 < X32_SYSCALL_BIT {
                push(max_nr + 1, Leaf::Ret(default));
            }
            push(X32_SYSCALL_BIT, Leaf::Ret(foreign));
            // -1 is no x32 call: like any unknown number it gets the default.
            push(u32::MAX, Leaf::Ret(default));
        }
        Arch::Aarch64 => push(max_nr.saturating_add(1), Leaf::Ret(default)),
    }

    let mut asm = Assembler::default();
    let mut rets: BTreeMap<u32, Label> = BTreeMap::new();
    let mut ret_label =
        |asm: &mut Assembler, ret: u32| *rets.entry(ret).or_insert_with(|| asm.label());
    let mut arg_labels: BTreeMap<u32, Label> = BTreeMap::new();
    for (_, leaf) in &ranges {
        if let Leaf::Args(nr) = leaf {
            let l = asm.label();
            arg_labels.insert(*nr, l);
        }
    }

    // 1. Architecture.
    let check_nr = asm.label();
    let foreign_label = ret_label(&mut asm, foreign);
    asm.insn(
        Insn::new(LD_W_ABS, 0, 0, OFF_ARCH),
        Some("architecture".into()),
    );
    asm.jump(
        JMP_JEQ_K,
        arch.audit_arch(),
        check_nr,
        foreign_label,
        Some(arch.name().into()),
    );
    asm.bind(check_nr);
    asm.insn(
        Insn::new(LD_W_ABS, 0, 0, OFF_NR),
        Some("syscall number".into()),
    );

    // 2. The search tree.
    let mut leaf_label = |asm: &mut Assembler, leaf: Leaf| match leaf {
        Leaf::Ret(ret) => ret_label(asm, ret),
        Leaf::Args(nr) => arg_labels.get(&nr).copied().unwrap_or_else(|| asm.label()),
    };
    tree(&mut asm, arch, &ranges, &mut leaf_label);

    // 3. Argument blocks.
    let mut blocks = Vec::new();
    for (nr, (list, decision)) in &decisions {
        let Some(&label) = arg_labels.get(nr) else {
            continue;
        };
        asm.bind(label);
        let before = asm.len();
        let count = decision.groups.len();
        for (i, (action, conditions)) in decision.groups.iter().enumerate() {
            let yes = ret_label(&mut asm, ret_value(*action));
            let no = if i + 1 == count {
                ret_label(&mut asm, ret_value(decision.fallback))
            } else {
                asm.label()
            };
            let comment = format!("{}: {}?", list.name, action.describe());
            any_of(&mut asm, conditions, yes, no, Some(comment));
            if i + 1 != count {
                asm.bind(no);
            }
        }
        blocks.push(BlockSize {
            syscall: list.name,
            insns: asm.len() - before,
            origins: list
                .rules
                .iter()
                .filter(|r| r.condition.is_some())
                .map(|r| r.origin)
                .collect(),
        });
    }

    // Shared returns.
    for (ret, label) in rets {
        asm.bind(label);
        asm.insn(Insn::new(RET_K, 0, 0, ret), None);
    }
    let (insns, comments) = asm.finish()?;
    Ok(Lowered {
        insns,
        comments,
        blocks,
    })
}

/// Emits a balanced search over `ranges` (sorted, covering everything from the first
/// start up), ending at leaf labels.
fn tree(
    asm: &mut Assembler,
    arch: Arch,
    ranges: &[(u32, Leaf)],
    leaf_label: &mut impl FnMut(&mut Assembler, Leaf) -> Label,
) {
    // Preorder with an explicit stack: a node, then its left subtree, then its right one;
    // every jump goes forward.
    let mut work: Vec<(&[(u32, Leaf)], Option<Label>)> = vec![(ranges, None)];
    while let Some((slice, bind)) = work.pop() {
        if let Some(l) = bind {
            asm.bind(l);
        }
        let mid = slice.len() / 2;
        let (left, right) = slice.split_at(mid);
        let Some(&(split, _)) = right.first() else {
            continue;
        };
        let mut side = |asm: &mut Assembler, part: &'_ [(u32, Leaf)]| -> (Label, Option<Label>) {
            match part {
                [(_, leaf)] => (leaf_label(asm, *leaf), None),
                _ => {
                    let l = asm.label();
                    (l, Some(l))
                }
            }
        };
        let (right_label, right_new) = side(asm, right);
        let (left_label, left_new) = side(asm, left);
        asm.jump(
            JMP_JGE_K,
            split,
            right_label,
            left_label,
            Some(nr_comment(arch, split)),
        );
        // The stack is last in, first out: right is pushed first so left comes next.
        if let Some(l) = right_new {
            work.push((right, Some(l)));
        }
        if let Some(l) = left_new {
            work.push((left, Some(l)));
        }
    }
}

fn nr_comment(arch: Arch, nr: u32) -> String {
    match tables::syscall_by_nr(arch, nr) {
        Some(s) => format!("{nr} {}", s.name),
        None if arch == Arch::X86_64 && nr == X32_SYSCALL_BIT => "x32".into(),
        None => nr.to_string(),
    }
}

/// Jumps to `yes` if any condition holds, else to `no`.
fn any_of(
    asm: &mut Assembler,
    conditions: &[&Condition],
    yes: Label,
    no: Label,
    comment: Option<String>,
) {
    let mut comment = comment;
    for (i, condition) in conditions.iter().enumerate() {
        let next = if i + 1 == conditions.len() {
            no
        } else {
            asm.label()
        };
        cond(asm, condition, yes, next, comment.take());
        if i + 1 != conditions.len() {
            asm.bind(next);
        }
    }
}

fn cond(
    asm: &mut Assembler,
    condition: &Condition,
    yes: Label,
    no: Label,
    comment: Option<String>,
) {
    match condition {
        Condition::Or(parts) => {
            let parts: Vec<&Condition> = parts.iter().collect();
            any_of(asm, &parts, yes, no, comment);
        }
        Condition::And(parts) => {
            let mut comment = comment;
            for (i, part) in parts.iter().enumerate() {
                let next = if i + 1 == parts.len() {
                    yes
                } else {
                    asm.label()
                };
                cond(asm, part, next, no, comment.take());
                if i + 1 != parts.len() {
                    asm.bind(next);
                }
            }
        }
        Condition::Not(inner) => cond(asm, inner, no, yes, comment),
        Condition::Test(test) => arg_test(asm, test, yes, no, comment),
    }
}

fn arg_test(asm: &mut Assembler, test: &ArgTest, yes: Label, no: Label, comment: Option<String>) {
    let note = comment
        .map(|c| format!("{c} {}", test.name))
        .or_else(|| Some(test.name.to_string()));
    match test.ty {
        ArgType::Int32 { signed } => {
            let mask = test.mask.map(|m| m as u32);
            word_test(
                asm,
                test.index,
                mask,
                signed,
                &test.test,
                Width::Low,
                yes,
                no,
                note,
            );
        }
        ArgType::Int64 { signed } => wide_test(asm, test, signed, yes, no, note),
        ArgType::Pointer => wide_test(asm, test, false, yes, no, note),
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Width {
    Low,
    High,
}

/// A test on one 32-bit word of an argument.
#[allow(
    clippy::too_many_arguments,
    reason = "one call site per width; a struct would only rename the arguments"
)]
fn word_test(
    asm: &mut Assembler,
    index: u8,
    mask: Option<u32>,
    signed: bool,
    test: &Test,
    width: Width,
    yes: Label,
    no: Label,
    note: Option<String>,
) {
    let offset = match width {
        Width::Low => off_arg_lo(index),
        Width::High => off_arg_hi(index),
    };
    // `a & m == 0` and `a & m != 0` are one `jset`.
    if let (
        Some(m),
        Test::Compare {
            op: op @ (CmpOp::Eq | CmpOp::Ne),
            value: 0,
        },
    ) = (mask, test)
    {
        asm.insn(Insn::new(LD_W_ABS, 0, 0, offset), note);
        let (t, f) = if *op == CmpOp::Eq {
            (no, yes)
        } else {
            (yes, no)
        };
        asm.jump(JMP_JSET_K, m, t, f, None);
        return;
    }
    asm.insn(Insn::new(LD_W_ABS, 0, 0, offset), note);
    if let Some(m) = mask {
        asm.insn(Insn::new(ALU_AND_K, 0, 0, m), None);
    }
    match test {
        Test::Compare { op, value } => {
            let mut k = *value as u32;
            let ordering = !matches!(op, CmpOp::Eq | CmpOp::Ne);
            if signed && ordering {
                asm.insn(
                    Insn::new(ALU_XOR_K, 0, 0, 0x8000_0000),
                    Some("signed order".into()),
                );
                k ^= 0x8000_0000;
            }
            compare(asm, *op, k, yes, no);
        }
        Test::In { negated, values } => {
            let (t, f) = if *negated { (no, yes) } else { (yes, no) };
            for (i, v) in values.iter().enumerate() {
                let next = if i + 1 == values.len() {
                    f
                } else {
                    asm.label()
                };
                asm.jump(JMP_JEQ_K, *v as u32, t, next, None);
                if i + 1 != values.len() {
                    asm.bind(next);
                }
            }
            if values.is_empty() {
                asm.ja(f);
            }
        }
    }
}

/// `A op k` with unsigned BPF jumps.
fn compare(asm: &mut Assembler, op: CmpOp, k: u32, yes: Label, no: Label) {
    match op {
        CmpOp::Eq => asm.jump(JMP_JEQ_K, k, yes, no, None),
        CmpOp::Ne => asm.jump(JMP_JEQ_K, k, no, yes, None),
        CmpOp::Gt => asm.jump(JMP_JGT_K, k, yes, no, None),
        CmpOp::Ge => asm.jump(JMP_JGE_K, k, yes, no, None),
        CmpOp::Lt => asm.jump(JMP_JGE_K, k, no, yes, None),
        CmpOp::Le => asm.jump(JMP_JGT_K, k, no, yes, None),
    }
}

/// A test on a 64-bit argument: high word first, then low.
fn wide_test(
    asm: &mut Assembler,
    test: &ArgTest,
    signed: bool,
    yes: Label,
    no: Label,
    note: Option<String>,
) {
    let (mask_hi, mask_lo) = match test.mask {
        Some(m) => (Some((m >> 32) as u32), Some(m as u32)),
        None => (None, None),
    };
    let hi_of = |v: u64| (v >> 32) as u32;
    let lo_of = |v: u64| v as u32;
    let index = test.index;
    // A mask with an empty high word leaves it 0: compare the low word alone when the
    // value's high word is 0 too (unsigned on the low word is then exact).
    if mask_hi == Some(0) {
        let high_zero = match &test.test {
            Test::Compare { value, .. } => hi_of(*value) == 0,
            Test::In { values, .. } => values.iter().all(|v| hi_of(*v) == 0),
        };
        if high_zero {
            let lowered = match &test.test {
                Test::Compare { op, value } => Test::Compare {
                    op: *op,
                    value: u64::from(lo_of(*value)),
                },
                Test::In { negated, values } => Test::In {
                    negated: *negated,
                    values: values.iter().map(|v| u64::from(lo_of(*v))).collect(),
                },
            };
            word_test(
                asm,
                index,
                mask_lo,
                false,
                &lowered,
                Width::Low,
                yes,
                no,
                note,
            );
            return;
        }
    }
    let load = |asm: &mut Assembler, width: Width, note: Option<String>| {
        let (offset, mask) = match width {
            Width::High => (off_arg_hi(index), mask_hi),
            Width::Low => (off_arg_lo(index), mask_lo),
        };
        asm.insn(Insn::new(LD_W_ABS, 0, 0, offset), note);
        if let Some(m) = mask {
            asm.insn(Insn::new(ALU_AND_K, 0, 0, m), None);
        }
    };
    let eq64 = |asm: &mut Assembler, v: u64, yes: Label, no: Label, note: Option<String>| {
        let low = asm.label();
        load(asm, Width::High, note);
        asm.jump(JMP_JEQ_K, hi_of(v), low, no, None);
        asm.bind(low);
        load(asm, Width::Low, None);
        asm.jump(JMP_JEQ_K, lo_of(v), yes, no, None);
    };
    match &test.test {
        Test::Compare {
            op: CmpOp::Eq,
            value,
        } => eq64(asm, *value, yes, no, note),
        Test::Compare {
            op: CmpOp::Ne,
            value,
        } => eq64(asm, *value, no, yes, note),
        Test::Compare { op, value } => {
            // Strict order on the high word decides; equal high words defer to the
            // low word, which is always unsigned.
            let flip = if signed { 0x8000_0000 } else { 0 };
            let hi = hi_of(*value) ^ flip;
            let lo = lo_of(*value);
            let (above, below) = match op {
                CmpOp::Gt | CmpOp::Ge => (yes, no),
                _ => (no, yes),
            };
            load(asm, Width::High, note);
            if signed {
                asm.insn(
                    Insn::new(ALU_XOR_K, 0, 0, flip),
                    Some("signed order".into()),
                );
            }
            let equal_check = asm.label();
            let low = asm.label();
            asm.jump(JMP_JGT_K, hi, above, equal_check, None);
            asm.bind(equal_check);
            asm.jump(JMP_JEQ_K, hi, low, below, None);
            asm.bind(low);
            load(asm, Width::Low, None);
            compare(asm, *op, lo, yes, no);
        }
        Test::In { negated, values } => {
            let (t, f) = if *negated { (no, yes) } else { (yes, no) };
            let mut note = note;
            for (i, v) in values.iter().enumerate() {
                let next = if i + 1 == values.len() {
                    f
                } else {
                    asm.label()
                };
                eq64(asm, *v, t, next, note.take());
                if i + 1 != values.len() {
                    asm.bind(next);
                }
            }
            if values.is_empty() {
                asm.ja(f);
            }
        }
    }
}

/// The action a range of numbers returns when no argument matters (for statistics).
pub fn unconditional(rules: &[Rule], default: Action) -> Option<Action> {
    let decision = decide(rules, default);
    decision.groups.is_empty().then_some(decision.fallback)
}
