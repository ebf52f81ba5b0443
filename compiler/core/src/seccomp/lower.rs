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
    // Leaf costs for the plan: a `ret`, or an argument block (its length bounds its
    // longest path) and its `ret`, emitted once on the side to be measured.
    let costs: Vec<u32> = ranges
        .iter()
        .map(|(_, leaf)| match leaf {
            Leaf::Ret(_) => 1,
            Leaf::Args(nr) => decisions.get(nr).map_or(1, |(list, decision)| {
                let mut scratch = Assembler::default();
                let mut scratch_ret = |a: &mut Assembler, _: u32| a.label();
                u32::try_from(emit_block(
                    &mut scratch,
                    list.name,
                    decision,
                    &mut scratch_ret,
                ))
                .unwrap_or(u32::MAX / 4)
                    + 1
            }),
        })
        .collect();
    let weights: Vec<u64> = ranges
        .iter()
        .enumerate()
        .map(|(i, (start, _))| {
            let end = ranges
                .get(i + 1)
                .map_or(u64::from(u32::MAX) + 1, |(next, _)| u64::from(*next));
            let known = tables::syscalls(arch)
                .iter()
                .filter(|s| u64::from(s.nr) >= u64::from(*start) && u64::from(s.nr) < end)
                .count();
            known.max(1) as u64
        })
        .collect();
    let splits = plan_tree(&costs, &weights);
    tree(&mut asm, &ranges, &splits, &mut leaf_label, &|nr| {
        nr_comment(arch, nr)
    });

    // 3. Argument blocks.
    let mut blocks = Vec::new();
    for (nr, (list, decision)) in &decisions {
        let Some(&label) = arg_labels.get(nr) else {
            continue;
        };
        asm.bind(label);
        let insns = emit_block(&mut asm, list.name, decision, &mut ret_label);
        blocks.push(BlockSize {
            syscall: list.name,
            insns,
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

/// Emits one syscall's argument block; returns its length in instructions.
///
/// When every test of the block reads the same 32-bit word, the verdict is a step
/// function of that word: it is emitted as a search over the word's intervals when
/// that runs fewer instructions than testing the rules one by one.
fn emit_block(
    asm: &mut Assembler,
    name: &str,
    decision: &Decision<'_>,
    ret_label: &mut impl FnMut(&mut Assembler, u32) -> Label,
) -> usize {
    if let Some(plan) = word_plan(decision) {
        let mut scratch = Assembler::default();
        let mut scratch_ret = |a: &mut Assembler, _: u32| a.label();
        let rule_by_rule = emit_rules(&mut scratch, name, decision, &mut scratch_ret);
        let ones = vec![1; plan.steps.len()];
        let splits = plan_tree(&ones, &ones.iter().map(|_| 1u64).collect::<Vec<_>>());
        let searched = splits.worst + plan.load_cost();
        if searched < rule_by_rule + 1 {
            let before = asm.len();
            prepare(asm, None, plan.acc, Some(format!("{name}: {}", plan.arg)));
            let mut leaf = |asm: &mut Assembler, action: Action| ret_label(asm, ret_value(action));
            let arg = plan.arg;
            tree(asm, &plan.steps, &splits, &mut leaf, &|v| {
                format!("{arg} >= {v:#x}")
            });
            return asm.len() - before;
        }
    }
    emit_rules(asm, name, decision, ret_label)
}

/// Emits the block rule group by rule group, strictest first.
fn emit_rules(
    asm: &mut Assembler,
    name: &str,
    decision: &Decision<'_>,
    ret_label: &mut impl FnMut(&mut Assembler, u32) -> Label,
) -> usize {
    let before = asm.len();
    let count = decision.groups.len();
    let mut acc = None;
    for (i, (action, conditions)) in decision.groups.iter().enumerate() {
        let yes = ret_label(asm, ret_value(*action));
        let no = if i + 1 == count {
            ret_label(asm, ret_value(decision.fallback))
        } else {
            asm.label()
        };
        let comment = format!("{name}: {}?", action.describe());
        // The next group is reached only from this one's `no` exits.
        acc = any_of(asm, conditions, yes, no, Some(comment), acc);
        if i + 1 != count {
            asm.bind(no);
        }
    }
    asm.len() - before
}

/// Emits the search over `ranges` (sorted, covering everything from the first start
/// up) planned by [`plan_tree`], ending at leaf labels.
fn tree<L: Copy>(
    asm: &mut Assembler,
    ranges: &[(u32, L)],
    splits: &Splits,
    leaf_label: &mut impl FnMut(&mut Assembler, L) -> Label,
    comment: &impl Fn(u32) -> String,
) {
    // Preorder with an explicit stack: a node, then its left subtree, then its right
    // one, so every jump goes forward.
    // One range: every number has the same verdict; jump straight to it.
    if let [(_, leaf)] = ranges {
        let target = leaf_label(asm, *leaf);
        asm.ja(target);
        return;
    }
    let mut work: Vec<(usize, usize, Option<Label>)> = vec![(0, ranges.len(), None)];
    while let Some((i, j, bind)) = work.pop() {
        if let Some(l) = bind {
            asm.bind(l);
        }
        if j - i < 2 {
            continue;
        }
        let k = splits.get(i, j);
        let Some(&(split, _)) = ranges.get(k) else {
            continue;
        };
        let mut side = |asm: &mut Assembler, from: usize, to: usize| -> (Label, Option<Label>) {
            match ranges.get(from..to) {
                Some([(_, leaf)]) => (leaf_label(asm, *leaf), None),
                _ => {
                    let l = asm.label();
                    (l, Some(l))
                }
            }
        };
        let (right_label, right_new) = side(asm, k, j);
        let (left_label, left_new) = side(asm, i, k);
        asm.jump(
            JMP_JGE_K,
            split,
            right_label,
            left_label,
            Some(comment(split)),
        );
        // Last in, first out: right is pushed first so that left comes next.
        if let Some(l) = right_new {
            work.push((k, j, Some(l)));
        }
        if let Some(l) = left_new {
            work.push((i, k, Some(l)));
        }
    }
}

/// For each span `i..j` of ranges, where to split it.
struct Splits {
    n: usize,
    table: Vec<usize>,
    /// Instructions on the longest path: tree nodes plus the leaf's own cost.
    worst: usize,
}

impl Splits {
    fn get(&self, i: usize, j: usize) -> usize {
        self.table
            .get(i * (self.n + 1) + j)
            .copied()
            .unwrap_or((i + j) / 2)
            .clamp(i + 1, j.saturating_sub(1).max(i + 1))
    }
}

/// Above this many ranges the tree is simply balanced: the exact plan costs n³.
const MAX_PLANNED_RANGES: usize = 512;

/// Plans the search tree: minimizes the most instructions any syscall runs (a node per
/// level plus its leaf's own cost: one `ret`, or the argument block), then the total
/// over the architecture's syscalls, so that common numbers are not pushed deep.
/// `cost[i]` is leaf `i`'s worst cost, `weight[i]` how many known syscalls it covers.
fn plan_tree(cost: &[u32], weight: &[u64]) -> Splits {
    let n = cost.len();
    let width = n + 1;
    let mut table = vec![0usize; width * width];
    if n > MAX_PLANNED_RANGES {
        for i in 0..n {
            for j in i + 2..=n {
                if let Some(slot) = table.get_mut(i * width + j) {
                    *slot = (i + j).div_ceil(2);
                }
            }
        }
        let depth = (usize::BITS - n.leading_zeros()) as usize;
        let leaf = cost.iter().copied().max().unwrap_or(1) as usize;
        return Splits {
            n,
            table,
            worst: depth + leaf,
        };
    }
    let mut prefix = vec![0u64; width];
    for (i, w) in weight.iter().enumerate() {
        if let (Some(&p), Some(next)) = (prefix.get(i), prefix.get(i + 1)) {
            let _ = next;
            if let Some(slot) = prefix.get_mut(i + 1) {
                *slot = p + w;
            }
        }
    }
    // (worst, total) per span, row-major on (i, j).
    let mut best = vec![(0u32, 0u64); width * width];
    for i in 0..n {
        if let Some(slot) = best.get_mut(i * width + i + 1) {
            *slot = (cost.get(i).copied().unwrap_or(1), 0);
        }
    }
    for len in 2..=n {
        for i in 0..=n - len {
            let j = i + len;
            let span_weight =
                prefix.get(j).copied().unwrap_or(0) - prefix.get(i).copied().unwrap_or(0);
            let mut choice = (u32::MAX, u64::MAX, i + 1);
            // Knuth's bound: the best split of i..j lies between those of i..j-1 and
            // i+1..j. It keeps planning quadratic; for a minimax cost it is a heuristic,
            // so the tree may be a little off the optimum, never wrong.
            let low = if len > 2 {
                table.get(i * width + j - 1).copied().unwrap_or(i + 1)
            } else {
                i + 1
            };
            let high = if len > 2 {
                table.get((i + 1) * width + j).copied().unwrap_or(j - 1)
            } else {
                j - 1
            };
            for k in low.max(i + 1)..=high.min(j - 1) {
                let (lw, lt) = best
                    .get(i * width + k)
                    .copied()
                    .unwrap_or((u32::MAX / 2, 0));
                let (rw, rt) = best
                    .get(k * width + j)
                    .copied()
                    .unwrap_or((u32::MAX / 2, 0));
                let worst = 1 + lw.max(rw);
                let total = lt + rt + span_weight;
                if (worst, total) < (choice.0, choice.1) {
                    choice = (worst, total, k);
                }
            }
            if let Some(slot) = best.get_mut(i * width + j) {
                *slot = (choice.0, choice.1);
            }
            if let Some(slot) = table.get_mut(i * width + j) {
                *slot = choice.2;
            }
        }
    }
    let worst = best.get(n).map_or(1, |(w, _)| *w as usize);
    Splits { n, table, worst }
}

fn nr_comment(arch: Arch, nr: u32) -> String {
    match tables::syscall_by_nr(arch, nr) {
        Some(s) => format!("{nr} {}", s.name),
        None if arch == Arch::X86_64 && nr == X32_SYSCALL_BIT => "x32".into(),
        None => nr.to_string(),
    }
}

/// What the accumulator holds: argument word at `offset`, masked, sign bit flipped.
/// Consecutive tests of one argument reuse it instead of loading it again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Acc {
    offset: u32,
    mask: Option<u32>,
    flipped: bool,
}

/// Jumps to `yes` if any condition holds, else to `no`. `entry` is what the
/// accumulator holds on entry; returns what it holds at every exit, if that is one thing.
fn any_of(
    asm: &mut Assembler,
    conditions: &[&Condition],
    yes: Label,
    no: Label,
    comment: Option<String>,
    entry: Option<Acc>,
) -> Option<Acc> {
    sequence(asm, conditions, comment, entry, |last, next| {
        if last {
            (yes, no)
        } else {
            (yes, next)
        }
    })
}

/// Emits `parts` one after the other; `exits(is_last, next)` gives each part's (yes, no)
/// targets, where `next` is the label of the following part. Each following part is
/// reached only from the previous part's exits, so it inherits its accumulator.
fn sequence(
    asm: &mut Assembler,
    parts: &[&Condition],
    comment: Option<String>,
    entry: Option<Acc>,
    exits: impl Fn(bool, Label) -> (Label, Label),
) -> Option<Acc> {
    let mut comment = comment;
    let mut state = entry;
    let mut common: Option<Option<Acc>> = None;
    for (i, part) in parts.iter().enumerate() {
        let last = i + 1 == parts.len();
        let next = if last { yes_placeholder() } else { asm.label() };
        let (yes, no) = exits(last, next);
        state = cond(asm, part, yes, no, comment.take(), state);
        common = Some(match common {
            None => state,
            Some(c) if c == state => c,
            Some(_) => None,
        });
        if !last {
            asm.bind(next);
        }
    }
    common.unwrap_or(entry)
}

/// A label never bound: `exits` ignores `next` for the last part.
fn yes_placeholder() -> Label {
    Label(0)
}

fn cond(
    asm: &mut Assembler,
    condition: &Condition,
    yes: Label,
    no: Label,
    comment: Option<String>,
    entry: Option<Acc>,
) -> Option<Acc> {
    match condition {
        Condition::Or(parts) => {
            let parts: Vec<&Condition> = parts.iter().collect();
            any_of(asm, &parts, yes, no, comment, entry)
        }
        Condition::And(parts) => {
            let parts: Vec<&Condition> = parts.iter().collect();
            sequence(asm, &parts, comment, entry, |last, next| {
                if last {
                    (yes, no)
                } else {
                    (next, no)
                }
            })
        }
        Condition::Not(inner) => cond(asm, inner, no, yes, comment, entry),
        Condition::Test(test) => arg_test(asm, test, yes, no, comment, entry),
    }
}

fn arg_test(
    asm: &mut Assembler,
    test: &ArgTest,
    yes: Label,
    no: Label,
    comment: Option<String>,
    entry: Option<Acc>,
) -> Option<Acc> {
    let note = comment
        .map(|c| format!("{c} {}", test.name))
        .or_else(|| Some(test.name.to_string()));
    match test.ty {
        ArgType::Int32 { signed } => {
            let mask = test.mask.map(|m| m as u32);
            word_test(
                asm, test.index, mask, signed, &test.test, yes, no, note, entry,
            )
        }
        ArgType::Int64 { signed } => wide_test(asm, test, signed, yes, no, note),
        ArgType::Pointer => wide_test(asm, test, false, yes, no, note),
    }
}

/// Brings the accumulator from `entry` to `want`, loading only what is missing.
fn prepare(asm: &mut Assembler, entry: Option<Acc>, want: Acc, note: Option<String>) {
    let reuse = entry.filter(|e| {
        e.offset == want.offset && (e.mask == want.mask || (e.mask.is_none() && !e.flipped))
    });
    let (mut mask_done, mut flipped) = match reuse {
        Some(e) => (e.mask.is_some() || want.mask.is_none(), e.flipped),
        None => {
            asm.insn(Insn::new(LD_W_ABS, 0, 0, want.offset), note);
            (want.mask.is_none(), false)
        }
    };
    if !mask_done {
        if let Some(m) = want.mask {
            asm.insn(Insn::new(ALU_AND_K, 0, 0, m), None);
        }
        mask_done = true;
    }
    debug_assert!(mask_done);
    if flipped != want.flipped {
        asm.insn(
            Insn::new(ALU_XOR_K, 0, 0, 0x8000_0000),
            Some("signed order".into()),
        );
        flipped = want.flipped;
    }
    debug_assert_eq!(flipped, want.flipped);
}

/// A test on the low word of an argument (a 32-bit argument, or a masked 64-bit one).
#[allow(
    clippy::too_many_arguments,
    reason = "the test's parts and its two exits; a struct would only rename them"
)]
fn word_test(
    asm: &mut Assembler,
    index: u8,
    mask: Option<u32>,
    signed: bool,
    test: &Test,
    yes: Label,
    no: Label,
    note: Option<String>,
    entry: Option<Acc>,
) -> Option<Acc> {
    let offset = off_arg_lo(index);
    // `a & m == 0` and `a & m != 0` are one `jset` on the unmasked word.
    if let (
        Some(m),
        Test::Compare {
            op: op @ (CmpOp::Eq | CmpOp::Ne),
            value: 0,
        },
    ) = (mask, test)
    {
        let want = Acc {
            offset,
            mask: None,
            flipped: false,
        };
        let reusable = entry
            .filter(|e| e.offset == offset && !e.flipped && e.mask.is_none_or(|em| em & m == m));
        let state = match reusable {
            Some(e) => e,
            None => {
                prepare(asm, entry, want, note);
                want
            }
        };
        let (t, f) = if *op == CmpOp::Eq {
            (no, yes)
        } else {
            (yes, no)
        };
        asm.jump(JMP_JSET_K, m, t, f, None);
        return Some(state);
    }
    match test {
        Test::Compare { op, value } => {
            let ordering = !matches!(op, CmpOp::Eq | CmpOp::Ne);
            let flipped = signed && ordering;
            let want = Acc {
                offset,
                mask,
                flipped,
            };
            prepare(asm, entry, want, note);
            let k = if flipped {
                (*value as u32) ^ 0x8000_0000
            } else {
                *value as u32
            };
            compare(asm, *op, k, yes, no);
            Some(want)
        }
        Test::In { negated, values } => {
            // Equality ignores the sign flip, so a flipped accumulator is reused flipped.
            let flipped = entry.is_some_and(|e| e.offset == offset && e.mask == mask && e.flipped);
            let want = Acc {
                offset,
                mask,
                flipped,
            };
            prepare(asm, entry, want, note);
            let flip = if flipped { 0x8000_0000 } else { 0 };
            let (t, f) = if *negated { (no, yes) } else { (yes, no) };
            for (i, v) in values.iter().enumerate() {
                let next = if i + 1 == values.len() {
                    f
                } else {
                    asm.label()
                };
                asm.jump(JMP_JEQ_K, (*v as u32) ^ flip, t, next, None);
                if i + 1 != values.len() {
                    asm.bind(next);
                }
            }
            if values.is_empty() {
                asm.ja(f);
            }
            Some(want)
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

#[derive(Clone, Copy, PartialEq, Eq)]
enum Width {
    Low,
    High,
}

/// A test on a 64-bit argument: high word first, then low.
fn wide_test(
    asm: &mut Assembler,
    test: &ArgTest,
    signed: bool,
    yes: Label,
    no: Label,
    note: Option<String>,
) -> Option<Acc> {
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
            word_test(asm, index, mask_lo, false, &lowered, yes, no, note, None);
            return None;
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
    None
}

/// The action a range of numbers returns when no argument matters (for statistics).
pub fn unconditional(rules: &[Rule], default: Action) -> Option<Action> {
    let decision = decide(rules, default);
    decision.groups.is_empty().then_some(decision.fallback)
}

/// A block decided by one 32-bit word: the step function of its verdict.
struct WordPlan {
    acc: Acc,
    arg: &'static str,
    /// (first value, verdict) of each interval, covering 0..2^32 in order.
    steps: Vec<(u32, Action)>,
}

impl WordPlan {
    fn load_cost(&self) -> usize {
        1 + usize::from(self.acc.mask.is_some())
    }
}

/// Interval searches pay off only for a handful of steps.
const MAX_WORD_STEPS: usize = 48;

fn word_plan(decision: &Decision<'_>) -> Option<WordPlan> {
    let mut tests = Vec::new();
    for (_, conditions) in &decision.groups {
        for c in conditions {
            collect(c, &mut tests);
        }
    }
    let first = *tests.first()?;
    let ArgType::Int32 { signed } = first.ty else {
        return None;
    };
    if tests
        .iter()
        .any(|t| t.index != first.index || t.mask != first.mask || t.ty != first.ty)
    {
        return None;
    }
    // Every test's truth is constant between consecutive boundaries.
    let mut bounds: Vec<u32> = vec![0, 0x8000_0000];
    for t in &tests {
        let values: Vec<u64> = match &t.test {
            Test::Compare { value, .. } => vec![*value],
            Test::In { values, .. } => values.clone(),
        };
        for v in values {
            let v = v as u32;
            bounds.push(v);
            if let Some(next) = v.checked_add(1) {
                bounds.push(next);
            }
        }
    }
    bounds.sort_unstable();
    bounds.dedup();
    let mut steps: Vec<(u32, Action)> = Vec::new();
    for start in bounds {
        let verdict = decision
            .groups
            .iter()
            .find(|(_, conditions)| conditions.iter().any(|c| holds_on_word(c, start, signed)))
            .map_or(decision.fallback, |(action, _)| *action);
        if steps.last().is_none_or(|(_, last)| *last != verdict) {
            steps.push((start, verdict));
        }
        if steps.len() > MAX_WORD_STEPS {
            return None;
        }
    }
    Some(WordPlan {
        acc: Acc {
            offset: off_arg_lo(first.index),
            mask: first.mask.map(|m| m as u32),
            flipped: false,
        },
        arg: first.name,
        steps,
    })
}

fn collect<'a>(condition: &'a Condition, out: &mut Vec<&'a ArgTest>) {
    match condition {
        Condition::Or(parts) | Condition::And(parts) => parts.iter().for_each(|p| collect(p, out)),
        Condition::Not(inner) => collect(inner, out),
        Condition::Test(t) => out.push(t),
    }
}

/// Whether `condition` holds when the tested word (already masked) is `word`.
fn holds_on_word(condition: &Condition, word: u32, signed: bool) -> bool {
    match condition {
        Condition::Or(parts) => parts.iter().any(|p| holds_on_word(p, word, signed)),
        Condition::And(parts) => parts.iter().all(|p| holds_on_word(p, word, signed)),
        Condition::Not(inner) => !holds_on_word(inner, word, signed),
        Condition::Test(test) => {
            let order = |v: u32| {
                if signed {
                    i64::from(v as i32)
                } else {
                    i64::from(v)
                }
            };
            let a = order(word);
            match &test.test {
                Test::Compare { op, value } => {
                    let k = order(*value as u32);
                    match op {
                        CmpOp::Eq => a == k,
                        CmpOp::Ne => a != k,
                        CmpOp::Lt => a < k,
                        CmpOp::Le => a <= k,
                        CmpOp::Gt => a > k,
                        CmpOp::Ge => a >= k,
                    }
                }
                Test::In { negated, values } => {
                    values.iter().any(|v| *v as u32 == word) != *negated
                }
            }
        }
    }
}
