//! One policy in `tests/bpf/` → one snapshot of its disassembled filter per
//! architecture. The disassembly shows the number tree with syscall names, the shared
//! returns, and the argument blocks, so a change in code generation is reviewed here.

#![allow(
    clippy::expect_used,
    reason = "test code: a failed expectation is a test failure"
)]

use phantom_compiler::seccomp::compile;
use phantom_compiler::tables::Arch;
use phantom_compiler::{check, io::NativeFs, Input};

#[test]
fn bpf_asm() {
    insta::glob!("../bpf", "*.pfp", |path| {
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("?");
        let checked = check(
            &Input::File(std::path::Path::new("bpf").join(name)),
            &NativeFs,
        )
        .expect("readable");
        let policy = checked.policy.expect("the snapshot policies are valid");
        let mut out = String::new();
        for arch in Arch::ALL {
            let program = compile(&policy.syscalls, arch).expect("compiles");
            out.push_str(&program.disassemble());
            out.push('\n');
        }
        insta::assert_snapshot!(out);
    });
}
