//! Classic BPF as seccomp uses it: the instruction type, the opcodes we emit, the
//! byte encoding the kernel takes, and the `seccomp_data` layout.

use std::fmt;

/// One `struct sock_filter`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Insn {
    pub code: u16,
    pub jt: u8,
    pub jf: u8,
    pub k: u32,
}

impl Insn {
    pub const fn new(code: u16, jt: u8, jf: u8, k: u32) -> Self {
        Insn { code, jt, jf, k }
    }

    /// The 8 little-endian bytes of `struct sock_filter`.
    pub fn to_bytes(self) -> [u8; 8] {
        let [c0, c1] = self.code.to_le_bytes();
        let [k0, k1, k2, k3] = self.k.to_le_bytes();
        [c0, c1, self.jt, self.jf, k0, k1, k2, k3]
    }

    pub fn from_bytes(b: [u8; 8]) -> Self {
        let [c0, c1, jt, jf, k0, k1, k2, k3] = b;
        Insn {
            code: u16::from_le_bytes([c0, c1]),
            jt,
            jf,
            k: u32::from_le_bytes([k0, k1, k2, k3]),
        }
    }
}

// Opcodes (linux/bpf_common.h): class | size | mode, class | op | source, where
// BPF_LD = 0, BPF_ALU = 4, BPF_JMP = 5, BPF_RET = 6; BPF_W = 0, BPF_ABS = 0x20; BPF_K = 0.
pub const LD_W_ABS: u16 = 0x20;
pub const ALU_AND_K: u16 = 0x54;
pub const ALU_XOR_K: u16 = 0xa4;
pub const JMP_JA: u16 = 0x05;
pub const JMP_JEQ_K: u16 = 0x15;
pub const JMP_JGT_K: u16 = 0x25;
pub const JMP_JGE_K: u16 = 0x35;
pub const JMP_JSET_K: u16 = 0x45;
pub const RET_K: u16 = 0x06;

/// The kernel's limit on a filter's length (BPF_MAXINSNS).
pub const MAX_INSNS: usize = 4096;

// Offsets in `struct seccomp_data` (linux/seccomp.h).
pub const OFF_NR: u32 = 0;
pub const OFF_ARCH: u32 = 4;
/// Low 32 bits of argument `i` (little-endian, as on both our architectures).
pub const fn off_arg_lo(i: u8) -> u32 {
    16 + 8 * i as u32
}
pub const fn off_arg_hi(i: u8) -> u32 {
    16 + 8 * i as u32 + 4
}

// Return values (linux/seccomp.h).
pub const RET_KILL_PROCESS: u32 = 0x8000_0000;
pub const RET_KILL_THREAD: u32 = 0x0000_0000;
pub const RET_TRAP: u32 = 0x0003_0000;
pub const RET_ERRNO: u32 = 0x0005_0000;
pub const RET_USER_NOTIF: u32 = 0x7fc0_0000;
pub const RET_LOG: u32 = 0x7ffc_0000;
pub const RET_ALLOW: u32 = 0x7fff_0000;

/// `nr & X32_SYSCALL_BIT` marks the x32 ABI on x86_64.
pub const X32_SYSCALL_BIT: u32 = 0x4000_0000;

/// A return value in words (`ALLOW`, `ERRNO(1)`, `KILL_PROCESS`).
pub fn describe_ret(ret: u32) -> String {
    match ret & 0xffff_0000 {
        RET_KILL_PROCESS => "KILL_PROCESS".into(),
        RET_KILL_THREAD => "KILL_THREAD".into(),
        RET_TRAP => "TRAP".into(),
        RET_ERRNO => {
            let errno = ret & 0xffff;
            match crate::tables::errno_name(errno) {
                Some(name) => format!("ERRNO({name})"),
                None => format!("ERRNO({errno})"),
            }
        }
        RET_USER_NOTIF => "USER_NOTIF".into(),
        RET_LOG => "LOG".into(),
        RET_ALLOW => "ALLOW".into(),
        other => format!("{other:#x}"),
    }
}

impl fmt::Display for Insn {
    /// Disassembly in the style of `bpf_dbg`, with targets relative to the next insn.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let k = self.k;
        match self.code {
            LD_W_ABS => write!(f, "ld   [{k}]"),
            ALU_AND_K => write!(f, "and  #{k:#x}"),
            ALU_XOR_K => write!(f, "xor  #{k:#x}"),
            JMP_JA => write!(f, "ja   +{k}"),
            JMP_JEQ_K => write!(f, "jeq  #{k:#x}, +{}, +{}", self.jt, self.jf),
            JMP_JGT_K => write!(f, "jgt  #{k:#x}, +{}, +{}", self.jt, self.jf),
            JMP_JGE_K => write!(f, "jge  #{k:#x}, +{}, +{}", self.jt, self.jf),
            JMP_JSET_K => write!(f, "jset #{k:#x}, +{}, +{}", self.jt, self.jf),
            RET_K => write!(f, "ret  #{}", describe_ret(k)),
            code => write!(f, ".insn {code:#06x}, {}, {}, {k:#x}", self.jt, self.jf),
        }
    }
}
