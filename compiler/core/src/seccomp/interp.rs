//! A classic-BPF interpreter for seccomp programs, used to verify every compiled
//! program and to measure the instructions executed per syscall.
//!
//! It implements exactly the instructions seccomp accepts that we or other compilers
//! (libseccomp, seccompiler) emit: loads from `seccomp_data`, immediate loads, ALU with
//! constants, the scratch memory, and jumps. Anything else is an error, never a guess.

use super::bpf::Insn;

/// The `struct seccomp_data` a filter sees.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct SeccompData {
    pub nr: u32,
    pub arch: u32,
    pub instruction_pointer: u64,
    pub args: [u64; 6],
}

impl SeccompData {
    fn word(&self, offset: u32) -> Option<u32> {
        let lo = |v: u64| (v & 0xffff_ffff) as u32;
        let hi = |v: u64| (v >> 32) as u32;
        Some(match offset {
            0 => self.nr,
            4 => self.arch,
            8 => lo(self.instruction_pointer),
            12 => hi(self.instruction_pointer),
            16..=60 if offset.is_multiple_of(4) => {
                let index = ((offset - 16) / 8) as usize;
                let arg = *self.args.get(index)?;
                if (offset - 16).is_multiple_of(8) {
                    lo(arg)
                } else {
                    hi(arg)
                }
            }
            _ => return None,
        })
    }
}

/// The result of running a program on one input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Run {
    pub ret: u32,
    /// Instructions executed, the `ret` included.
    pub steps: u32,
    /// Whether an argument (or the instruction pointer) was read: if not, the kernel's
    /// action cache can decide this syscall without running the filter.
    pub read_args: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InterpError {
    #[error("instruction {pc}: unsupported opcode {code:#06x}")]
    Unsupported { pc: usize, code: u16 },
    #[error("instruction {pc}: load from invalid offset {offset}")]
    BadLoad { pc: usize, offset: u32 },
    #[error("instruction {pc}: jump out of the program")]
    OutOfBounds { pc: usize },
    #[error("the program ends without returning")]
    NoReturn,
}

/// Runs `program` on `data`.
pub fn run(program: &[Insn], data: &SeccompData) -> Result<Run, InterpError> {
    let mut a: u32 = 0;
    let mut x: u32 = 0;
    let mut mem = [0u32; 16];
    let mut pc = 0usize;
    let mut steps = 0u32;
    let mut read_args = false;
    loop {
        let insn = *program.get(pc).ok_or(if pc == program.len() {
            InterpError::NoReturn
        } else {
            InterpError::OutOfBounds { pc }
        })?;
        steps += 1;
        let k = insn.k;
        let class = insn.code & 0x07;
        let mut next = pc + 1;
        match class {
            // BPF_LD
            0x00 => match insn.code {
                0x20 => {
                    a = data.word(k).ok_or(InterpError::BadLoad { pc, offset: k })?;
                    if k >= 8 {
                        read_args = true;
                    }
                }
                0x00 => a = k, // ld #k
                0x60 => {
                    a = *mem
                        .get(k as usize)
                        .ok_or(InterpError::BadLoad { pc, offset: k })?
                } // ld M[k]
                0x80 => a = 64, // ld #len (sizeof seccomp_data)
                code => return Err(InterpError::Unsupported { pc, code }),
            },
            // BPF_LDX
            0x01 => match insn.code {
                0x01 => x = k,
                0x61 => {
                    x = *mem
                        .get(k as usize)
                        .ok_or(InterpError::BadLoad { pc, offset: k })?
                }
                0x81 => x = 64,
                code => return Err(InterpError::Unsupported { pc, code }),
            },
            // BPF_ST, BPF_STX
            0x02 => {
                *mem.get_mut(k as usize)
                    .ok_or(InterpError::BadLoad { pc, offset: k })? = a
            }
            0x03 => {
                *mem.get_mut(k as usize)
                    .ok_or(InterpError::BadLoad { pc, offset: k })? = x
            }
            // BPF_ALU
            0x04 => {
                let operand = if insn.code & 0x08 != 0 { x } else { k };
                a = match insn.code & 0xf0 {
                    0x00 => a.wrapping_add(operand),
                    0x10 => a.wrapping_sub(operand),
                    0x20 => a.wrapping_mul(operand),
                    0x30 if operand != 0 => a / operand,
                    0x40 => a | operand,
                    0x50 => a & operand,
                    0x60 => a.checked_shl(operand).unwrap_or(0),
                    0x70 => a.checked_shr(operand).unwrap_or(0),
                    0x80 => a.wrapping_neg(),
                    0x90 if operand != 0 => a % operand,
                    0xa0 => a ^ operand,
                    _ => {
                        return Err(InterpError::Unsupported {
                            pc,
                            code: insn.code,
                        })
                    }
                };
            }
            // BPF_JMP
            0x05 => {
                let operand = if insn.code & 0x08 != 0 { x } else { k };
                let taken = match insn.code & 0xf0 {
                    0x00 => {
                        next = pc + 1 + k as usize;
                        None
                    }
                    0x10 => Some(a == operand),
                    0x20 => Some(a > operand),
                    0x30 => Some(a >= operand),
                    0x40 => Some(a & operand != 0),
                    _ => {
                        return Err(InterpError::Unsupported {
                            pc,
                            code: insn.code,
                        })
                    }
                };
                if let Some(taken) = taken {
                    next = pc + 1 + usize::from(if taken { insn.jt } else { insn.jf });
                }
            }
            // BPF_RET
            0x06 => {
                let ret = match insn.code & 0x18 {
                    0x00 => k,
                    0x10 => a,
                    _ => {
                        return Err(InterpError::Unsupported {
                            pc,
                            code: insn.code,
                        })
                    }
                };
                return Ok(Run {
                    ret,
                    steps,
                    read_args,
                });
            }
            // BPF_MISC: tax, txa
            0x07 => match insn.code {
                0x07 => x = a,
                0x87 => a = x,
                code => return Err(InterpError::Unsupported { pc, code }),
            },
            _ => {
                return Err(InterpError::Unsupported {
                    pc,
                    code: insn.code,
                })
            }
        }
        if next > program.len() {
            return Err(InterpError::OutOfBounds { pc });
        }
        pc = next;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::seccomp::bpf::*;

    #[test]
    fn runs_a_tiny_filter() {
        let program = [
            Insn::new(LD_W_ABS, 0, 0, OFF_NR),
            Insn::new(JMP_JEQ_K, 0, 1, 39),
            Insn::new(RET_K, 0, 0, RET_ALLOW),
            Insn::new(LD_W_ABS, 0, 0, off_arg_hi(0)),
            Insn::new(RET_K, 0, 0, RET_KILL_PROCESS),
        ];
        let run = |nr, arg0| {
            super::run(
                &program,
                &SeccompData {
                    nr,
                    args: [arg0, 0, 0, 0, 0, 0],
                    ..Default::default()
                },
            )
        };
        assert_eq!(
            run(39, 0),
            Ok(Run {
                ret: RET_ALLOW,
                steps: 3,
                read_args: false
            })
        );
        assert_eq!(
            run(1, 0),
            Ok(Run {
                ret: RET_KILL_PROCESS,
                steps: 4,
                read_args: true
            })
        );
    }

    #[test]
    fn refuses_bad_programs() {
        assert_eq!(
            super::run(&[], &SeccompData::default()),
            Err(InterpError::NoReturn)
        );
        let jump_out = [Insn::new(JMP_JA, 0, 0, 5)];
        assert!(super::run(&jump_out, &SeccompData::default()).is_err());
        let bad_load = [Insn::new(LD_W_ABS, 0, 0, 64), Insn::new(RET_K, 0, 0, 0)];
        assert!(super::run(&bad_load, &SeccompData::default()).is_err());
    }
}
