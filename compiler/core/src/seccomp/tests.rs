//! Back-end tests on whole policies: every stdlib profile compiles and verifies on
//! both architectures; targeted cases for widths, signs, masks and long jumps.

use super::bpf::*;
use super::interp::{run, SeccompData};
use super::*;
use crate::io::MemoryFs;
use crate::{check, Input};

fn policy(text: &str) -> crate::Policy {
    let input = Input::Text {
        name: "t.pfp".into(),
        text: text.into(),
        dir: "/".into(),
    };
    let checked = check(&input, &MemoryFs::new()).expect("in memory");
    assert!(!checked.has_errors(), "{:?}", checked.diagnostics);
    checked.policy.expect("no errors")
}

fn compile_text(text: &str, arch: Arch) -> Program {
    compile(&policy(text).syscalls, arch).unwrap_or_else(|e| panic!("{e}"))
}

fn ret(program: &Program, nr: u32, args: [u64; 6]) -> u32 {
    let data = SeccompData {
        nr,
        arch: program.arch.audit_arch(),
        args,
        ..Default::default()
    };
    run(&program.insns, &data).expect("runs").ret
}

#[test]
fn every_stdlib_profile_compiles_and_verifies() {
    for name in crate::stdlib::names() {
        let checked = check(&Input::Stdlib(name.into()), &MemoryFs::new()).expect("stdlib");
        let policy = checked.policy.expect("stdlib profiles check clean");
        for arch in Arch::ALL {
            let program =
                compile(&policy.syscalls, arch).unwrap_or_else(|e| panic!("{name} {arch:?}: {e}"));
            assert!(program.insns.len() < MAX_INSNS);
            assert!(
                program.measurements.cached > 100,
                "{name} {arch:?}: {:?}",
                program.measurements
            );
        }
    }
}

#[test]
fn int_arguments_compare_on_32_bits() {
    // libseccomp lets socket(0x1_0000_0028) through a `domain != 40` rule.
    let p = compile_text(
        "syscalls {\n default errno(EPERM)\n allow socket if domain != 40\n}",
        Arch::X86_64,
    );
    assert_eq!(ret(&p, 41, [40, 0, 0, 0, 0, 0]), RET_ERRNO | 1);
    assert_eq!(ret(&p, 41, [0x1_0000_0028, 0, 0, 0, 0, 0]), RET_ERRNO | 1);
    assert_eq!(ret(&p, 41, [2, 0, 0, 0, 0, 0]), RET_ALLOW);
}

#[test]
fn signed_ints_order_by_sign() {
    let p = compile_text("syscalls {\n allow kill if pid > 0\n}", Arch::X86_64);
    assert_eq!(ret(&p, 62, [1, 0, 0, 0, 0, 0]), RET_ALLOW);
    assert_eq!(
        ret(&p, 62, [0xffff_ffff, 0, 0, 0, 0, 0]),
        RET_KILL_PROCESS,
        "-1 is not > 0"
    );
    assert_eq!(
        ret(&p, 62, [0xffff_ffff_0000_0005, 0, 0, 0, 0, 0]),
        RET_ALLOW,
        "high word ignored"
    );
}

#[test]
fn sixty_four_bit_arguments_compare_both_words() {
    let p = compile_text(
        "syscalls {\n allow mmap if length <= 0x1_0000_0000 and flags & MAP_FIXED == 0\n}",
        Arch::X86_64,
    );
    assert_eq!(ret(&p, 9, [0, 0x1_0000_0000, 0, 0, 0, 0]), RET_ALLOW);
    assert_eq!(ret(&p, 9, [0, 0x1_0000_0001, 0, 0, 0, 0]), RET_KILL_PROCESS);
    assert_eq!(
        ret(&p, 9, [0, 0xffff_ffff, 0, 0x10, 0, 0]),
        RET_KILL_PROCESS,
        "MAP_FIXED"
    );
}

#[test]
fn foreign_architectures_and_x32_are_killed() {
    let p = compile_text("syscalls {\n default allow\n}", Arch::X86_64);
    let i386 = SeccompData {
        nr: 20,
        arch: verify::AUDIT_ARCH_I386,
        ..Default::default()
    };
    assert_eq!(run(&p.insns, &i386).expect("runs").ret, RET_KILL_PROCESS);
    assert_eq!(ret(&p, X32_SYSCALL_BIT | 39, [0; 6]), RET_KILL_PROCESS);
    assert_eq!(
        ret(&p, u32::MAX, [0; 6]),
        RET_ALLOW,
        "-1 is the default, not x32"
    );
}

#[test]
fn strictest_matching_rule_wins_and_errno_ties_go_to_the_smaller() {
    let p = compile_text(
        "syscalls {\n default allow\n errno(ENOSYS) openat if flags & O_CREAT != 0\n errno(EPERM) openat if flags & O_TRUNC != 0\n kill openat if flags == 0xdead\n}",
        Arch::X86_64,
    );
    assert_eq!(ret(&p, 257, [0, 0, 0o100, 0, 0, 0]), RET_ERRNO | 38);
    assert_eq!(ret(&p, 257, [0, 0, 0o1100, 0, 0, 0]), RET_ERRNO | 1);
    assert_eq!(ret(&p, 257, [0, 0, 0xdead, 0, 0, 0]), RET_KILL_PROCESS);
    assert_eq!(ret(&p, 257, [0, 0, 0, 0, 0, 0]), RET_ALLOW);
}

#[test]
fn long_argument_blocks_need_trampolines_and_still_verify() {
    let values: Vec<String> = (0..400).map(|i| (i * 3).to_string()).collect();
    let text = format!(
        "syscalls {{\n allow ioctl if request in [{}]\n allow read, write\n}}",
        values.join(", ")
    );
    let p = compile_text(&text, Arch::X86_64);
    assert!(
        p.insns.iter().any(|i| i.code == JMP_JA),
        "expected trampolines"
    );
    assert_eq!(ret(&p, 16, [0, 300, 0, 0, 0, 0]), RET_ALLOW);
    assert_eq!(ret(&p, 16, [0, 301, 0, 0, 0, 0]), RET_KILL_PROCESS);
}

#[test]
fn too_large_a_program_names_the_rules() {
    let values: Vec<String> = (0..5000).map(|i| (i * 7).to_string()).collect();
    let text = format!(
        "syscalls {{\n allow ioctl if request in [{}]\n}}",
        values.join(", ")
    );
    let err = compile(&policy(&text).syscalls, Arch::X86_64).expect_err("too large");
    let diag = err.to_diagnostic().expect("a located diagnostic");
    assert_eq!(diag.code, crate::Code::FilterTooLarge);
}

#[test]
fn unconditional_allows_return_exactly_allow_without_loading_arguments() {
    let p = compile_text(
        "syscalls {\n allow read, write\n errno(EPERM) socket if domain == 16\n}",
        Arch::Aarch64,
    );
    let data = SeccompData {
        nr: 63,
        arch: Arch::Aarch64.audit_arch(),
        ..Default::default()
    };
    let r = run(&p.insns, &data).expect("runs");
    assert_eq!((r.ret, r.read_args), (RET_ALLOW, false));
    assert_eq!(p.measurements.cached, 2);
}

#[test]
fn a_policy_without_rules_still_returns_its_default() {
    for default in ["allow", "log", "trap", "errno(EPERM)", "notify", "kill"] {
        for arch in Arch::ALL {
            let p = compile_text(&format!("syscalls {{\n default {default}\n}}"), arch);
            assert!(p.insns.len() <= 8, "{default} {arch:?}: {}", p.insns.len());
        }
    }
}
