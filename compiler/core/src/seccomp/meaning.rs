//! What a policy means for one syscall: the reference the compiled program is checked
//! against. Written for clarity, not speed; it shares no code with the lowering.

use super::bpf::{
    RET_ALLOW, RET_ERRNO, RET_KILL_PROCESS, RET_KILL_THREAD, RET_LOG, RET_TRAP, RET_USER_NOTIF,
    X32_SYSCALL_BIT,
};
use super::interp::SeccompData;
use crate::policy::{Action, ArgTest, Condition, Syscalls, Test};
use crate::tables::{Arch, ArgType};
use pfp_syntax::ast::CmpOp;

/// What a foreign architecture (i386 through `int 0x80`, x32) gets.
pub const FOREIGN_ACTION: Action = Action::Kill;

/// The seccomp return value of an action.
pub fn ret_value(action: Action) -> u32 {
    match action {
        Action::Allow => RET_ALLOW,
        Action::Log => RET_LOG,
        Action::Notify => RET_USER_NOTIF,
        Action::Errno(e) => RET_ERRNO | u32::from(e),
        Action::Trap => RET_TRAP,
        Action::KillThread => RET_KILL_THREAD,
        Action::Kill => RET_KILL_PROCESS,
    }
}

/// The verdict the policy gives `data` on a filter built for `arch`.
pub fn verdict(syscalls: &Syscalls, arch: Arch, data: &SeccompData) -> Action {
    if data.arch != arch.audit_arch() {
        return FOREIGN_ACTION;
    }
    // x32 numbers have bit 30 set; numbers at or above it are x32 or no syscall at all
    // (the kernel has none there), so they all get the foreign action, except -1,
    // which tools pass on purpose and which is simply unknown (as libseccomp does).
    if arch == Arch::X86_64 && data.nr >= X32_SYSCALL_BIT && data.nr != u32::MAX {
        return FOREIGN_ACTION;
    }
    let Some(rules) = syscalls
        .arches
        .get(&arch)
        .and_then(|a| a.syscalls.get(&data.nr))
    else {
        return syscalls.default;
    };
    rules
        .rules
        .iter()
        .filter(|r| r.condition.as_ref().is_none_or(|c| holds(c, &data.args)))
        .map(|r| r.action)
        .max_by_key(|a| a.rank())
        .unwrap_or(syscalls.default)
}

fn holds(condition: &Condition, args: &[u64; 6]) -> bool {
    match condition {
        Condition::Or(parts) => parts.iter().any(|p| holds(p, args)),
        Condition::And(parts) => parts.iter().all(|p| holds(p, args)),
        Condition::Not(inner) => !holds(inner, args),
        Condition::Test(test) => test_holds(test, args),
    }
}

/// The argument as the kernel hands it to the syscall: truncated to its width, then
/// masked, as a number that orders like the C type.
fn operand(test: &ArgTest, raw: u64) -> i128 {
    let truncated = match test.ty {
        ArgType::Int32 { .. } => raw & 0xffff_ffff,
        _ => raw,
    };
    typed(test.ty, truncated & test.mask.unwrap_or(u64::MAX))
}

fn typed(ty: ArgType, bits: u64) -> i128 {
    match ty {
        ArgType::Int32 { signed: true } => i128::from(bits as u32 as i32),
        ArgType::Int32 { signed: false } => i128::from(bits as u32),
        ArgType::Int64 { signed: true } => i128::from(bits as i64),
        ArgType::Int64 { signed: false } | ArgType::Pointer => i128::from(bits),
    }
}

fn test_holds(test: &ArgTest, args: &[u64; 6]) -> bool {
    let raw = args.get(usize::from(test.index)).copied().unwrap_or(0);
    let value = operand(test, raw);
    match &test.test {
        Test::Compare { op, value: k } => {
            let k = typed(test.ty, *k);
            match op {
                CmpOp::Eq => value == k,
                CmpOp::Ne => value != k,
                CmpOp::Lt => value < k,
                CmpOp::Le => value <= k,
                CmpOp::Gt => value > k,
                CmpOp::Ge => value >= k,
            }
        }
        Test::In { negated, values } => {
            values.iter().any(|v| typed(test.ty, *v) == value) != *negated
        }
    }
}
