//! The seccomp back-end: a checked policy's syscall rules to a verified classic-BPF
//! program per architecture.
//!
//! `lower` emits the program, `asm` resolves its jumps, `verify` runs it through the
//! in-repo interpreter (`interp`) against the policy's meaning (`meaning`) and measures
//! it. Nothing here loads a filter: the runtime installs the bytes as they are.
//! See docs/seccomp.md for the design and the deliberate differences from libseccomp.

pub mod asm;
pub mod bpf;
pub mod interp;
pub mod lower;
pub mod meaning;
pub mod verify;

#[cfg(test)]
mod tests;

use std::fmt::Write as _;

use crate::codes::Code;
use crate::diagnostic::Diagnostic;
use crate::policy::Syscalls;
use crate::tables::Arch;
pub use bpf::Insn;
pub use verify::Measurements;

/// A verified filter for one architecture.
#[derive(Clone, Debug, PartialEq)]
pub struct Program {
    pub arch: Arch,
    pub insns: Vec<Insn>,
    comments: Vec<Option<String>>,
    pub measurements: Measurements,
}

#[derive(Debug, Clone, thiserror::Error)]
pub enum CompileError {
    /// The policy needs more instructions than the kernel accepts.
    #[error("the {arch} filter needs {insns} instructions; the kernel accepts at most {max}", max = bpf::MAX_INSNS)]
    TooLarge {
        arch: &'static str,
        insns: usize,
        blocks: Vec<lower::BlockSize>,
    },
    /// A bug in this compiler: code generation failed or the program disagrees with
    /// the policy. Never a policy author's mistake.
    #[error("internal compiler error: {0}; please report it with the policy")]
    Internal(String),
}

impl CompileError {
    /// The error as a diagnostic at the policy lines responsible (too large), or
    /// `None` for an internal error, which has no place in the policy.
    pub fn to_diagnostic(&self) -> Option<Diagnostic> {
        let CompileError::TooLarge {
            arch,
            insns,
            blocks,
        } = self
        else {
            return None;
        };
        let mut blocks = blocks.clone();
        blocks.sort_by_key(|b| std::cmp::Reverse(b.insns));
        let first = blocks.iter().flat_map(|b| b.origins.first()).next()?;
        let mut diag = Diagnostic::new(
            Code::FilterTooLarge,
            first.file,
            first.span,
            format!(
                "the {arch} filter needs {insns} instructions; the kernel accepts at most {}",
                bpf::MAX_INSNS
            ),
        )
        .with_label("the largest argument block starts here");
        for block in blocks.iter().take(5) {
            for origin in block.origins.iter().take(3) {
                diag = diag.with_secondary(
                    origin.file,
                    origin.span,
                    format!("`{}`: {} instructions", block.syscall, block.insns),
                );
            }
        }
        Some(diag.with_help(
            "simplify the conditions of these rules, or split long `in [...]` lists into ranges",
        ))
    }
}

/// Compiles and verifies the filter for `arch`.
pub fn compile(syscalls: &Syscalls, arch: Arch) -> Result<Program, CompileError> {
    let lowered =
        lower::lower(syscalls, arch).map_err(|e| CompileError::Internal(e.to_string()))?;
    if lowered.insns.len() > bpf::MAX_INSNS {
        return Err(CompileError::TooLarge {
            arch: arch.name(),
            insns: lowered.insns.len(),
            blocks: lowered.blocks,
        });
    }
    let measurements = verify::verify(syscalls, arch, &lowered.insns)
        .map_err(|e| CompileError::Internal(e.to_string()))?;
    Ok(Program {
        arch,
        insns: lowered.insns,
        comments: lowered.comments,
        measurements,
    })
}

/// Disassembles a program read back from a bundle (no compiler remarks there): jump
/// targets absolute, the syscall name at comparisons against the syscall number, and
/// every return's action.
pub fn disassemble_raw(arch: Arch, insns: &[Insn]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "; seccomp filter for {}: {} instructions",
        arch.name(),
        insns.len()
    );
    // Which word the accumulator holds, to name syscall numbers at comparisons.
    let mut holds_nr = false;
    for (pc, insn) in insns.iter().enumerate() {
        let mut remark = None;
        let text = match insn.code {
            bpf::JMP_JEQ_K | bpf::JMP_JGT_K | bpf::JMP_JGE_K | bpf::JMP_JSET_K => {
                let op = match insn.code {
                    bpf::JMP_JEQ_K => "jeq",
                    bpf::JMP_JGT_K => "jgt",
                    bpf::JMP_JGE_K => "jge",
                    _ => "jset",
                };
                if holds_nr {
                    remark = crate::tables::syscall_by_nr(arch, insn.k).map(|s| s.name.to_string());
                }
                format!(
                    "{op:<4} #{:#x}, {:04}, {:04}",
                    insn.k,
                    pc + 1 + usize::from(insn.jt),
                    pc + 1 + usize::from(insn.jf)
                )
            }
            bpf::JMP_JA => format!("ja   {:04}", pc + 1 + insn.k as usize),
            bpf::LD_W_ABS => {
                holds_nr = insn.k == bpf::OFF_NR;
                remark = Some(match insn.k {
                    bpf::OFF_NR => "syscall number".to_string(),
                    bpf::OFF_ARCH => "architecture".to_string(),
                    k if k >= 16 => format!(
                        "argument {} {}",
                        (k - 16) / 8,
                        if (k - 16) % 8 == 0 { "low" } else { "high" }
                    ),
                    _ => "instruction pointer".to_string(),
                });
                insn.to_string()
            }
            _ => {
                if insn.code & 0x07 == 0x04 {
                    holds_nr = false;
                }
                insn.to_string()
            }
        };
        match remark {
            Some(r) => {
                let _ = writeln!(out, "{pc:04}: {text:<32} ; {r}");
            }
            None => {
                let _ = writeln!(out, "{pc:04}: {text}");
            }
        }
    }
    out
}

impl Program {
    /// The raw `struct sock_filter` array, little-endian, as `SECCOMP_SET_MODE_FILTER` takes it.
    pub fn to_bytes(&self) -> Vec<u8> {
        self.insns.iter().flat_map(|i| i.to_bytes()).collect()
    }

    /// Readable disassembly with absolute jump targets, syscall names at each branch of
    /// the number search, and the action of each return.
    pub fn disassemble(&self) -> String {
        let mut out = String::new();
        let m = &self.measurements;
        let _ = writeln!(
            out,
            "; seccomp filter for {}: {} instructions",
            self.arch.name(),
            self.insns.len()
        );
        let _ = writeln!(
            out,
            "; worst path {} instructions, mean per syscall {:.1}; {} of {} syscalls cached by the kernel",
            m.worst_path, m.mean_dispatch, m.cached, m.known_syscalls
        );
        for (pc, insn) in self.insns.iter().enumerate() {
            let text = match insn.code {
                bpf::JMP_JEQ_K | bpf::JMP_JGT_K | bpf::JMP_JGE_K | bpf::JMP_JSET_K => {
                    let op = match insn.code {
                        bpf::JMP_JEQ_K => "jeq",
                        bpf::JMP_JGT_K => "jgt",
                        bpf::JMP_JGE_K => "jge",
                        _ => "jset",
                    };
                    format!(
                        "{op:<4} #{:#x}, {:04}, {:04}",
                        insn.k,
                        pc + 1 + usize::from(insn.jt),
                        pc + 1 + usize::from(insn.jf)
                    )
                }
                bpf::JMP_JA => format!("ja   {:04}", pc + 1 + insn.k as usize),
                _ => insn.to_string(),
            };
            let comment = self.comments.get(pc).cloned().flatten();
            match comment {
                Some(c) => {
                    let _ = writeln!(out, "{pc:04}: {text:<32} ; {c}");
                }
                None => {
                    let _ = writeln!(out, "{pc:04}: {text}");
                }
            }
        }
        out
    }
}
