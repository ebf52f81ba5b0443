//! Installing a compiled seccomp filter.
//!
//! The input is the program exactly as `phantomc compile --emit bpf` writes it (and as
//! `phantom_compiler::seccomp::Program::to_bytes` returns it): an array of
//! `struct sock_filter`, 8 little-endian bytes each. Nothing here parses or compiles a
//! policy; the program is checked for shape only and handed to the kernel as it is.
//!
//! Installing is two steps, both done by [`seccompiler::apply_filter`]: set
//! `no_new_privs` (which lets an unprivileged process install a filter, and keeps
//! set-user-ID programs from gaining privileges under it), then
//! `seccomp(SECCOMP_SET_MODE_FILTER)`. Each step has its own [`SeccompError`] variant.
//!
//! Typical use, in a child between `fork` and `exec`: [`Filter::from_bytes`] before
//! forking (it allocates), [`Filter::install`] in the child (it does not allocate, so
//! it is safe after `fork` in a multi-threaded parent).
//!
//! ```no_run
//! use phantom_runtime::seccomp::{Filter, SeccompError, Threads};
//!
//! fn confine(program: &[u8]) -> Result<(), SeccompError> {
//!     let filter = Filter::from_bytes(program)?; // before fork
//!     // ... fork; in the child:
//!     filter.install(Threads::Calling)
//! }
//! ```

use std::io;
use std::os::fd::{FromRawFd, OwnedFd};

use phantom_compiler::seccomp::bpf::{RET_K, RET_USER_NOTIF};
use seccompiler::{sock_filter, BpfProgram};

/// Bytes of one `struct sock_filter`.
pub const INSN_SIZE: usize = 8;

/// The kernel's limit on the length of one filter (`BPF_MAXINSNS`).
pub const MAX_INSNS: usize = 4096;

/// Which threads the filter applies to.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Threads {
    /// The calling thread only, and the threads and processes it creates afterwards.
    #[default]
    Calling,
    /// Every thread of the process (`SECCOMP_FILTER_FLAG_TSYNC`). Fails with
    /// [`SeccompError::ThreadSync`] if another thread has a filter the calling thread
    /// does not share.
    All,
}

/// A seccomp program checked for shape and ready to install.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Filter {
    program: BpfProgram,
}

/// Why a filter could not be installed: one variant per step (checking the bytes,
/// no_new_privs, the `seccomp` call), and one for the `seccomp` call refused because of
/// another thread under [`Threads::All`].
#[derive(Debug, thiserror::Error)]
pub enum SeccompError {
    /// The bytes are not a seccomp program (checked before anything else is done).
    #[error(
        "invalid seccomp program: {reason}; it must be the output of \
         `phantomc compile --emit bpf` (an array of 8-byte instructions, 1 to {MAX_INSNS} \
         of them): recompile the policy and check that the file was not truncated"
    )]
    InvalidProgram { reason: String },

    /// `prctl(PR_SET_NO_NEW_PRIVS)` failed.
    #[error(
        "could not set no_new_privs (prctl PR_SET_NO_NEW_PRIVS): {0}; \
         the kernel needs it before an unprivileged process may install a seccomp \
         filter, and every Linux since 3.5 supports it: check that the runtime is not \
         itself confined by a filter that refuses prctl"
    )]
    NoNewPrivs(#[source] io::Error),

    /// `seccomp(SECCOMP_SET_MODE_FILTER)` failed.
    #[error(
        "the kernel refused the seccomp filter ({threads}): {source}; {hint}",
        threads = match .threads {
            Threads::Calling => "calling thread",
            Threads::All => "all threads",
        },
        hint = install_hint(.source)
    )]
    Install {
        threads: Threads,
        #[source]
        source: io::Error,
    },

    /// With [`Threads::All`]: another thread could not be given the filter.
    #[error(
        "thread {thread} of this process has a seccomp filter that the calling thread \
         does not have, so the kernel cannot give every thread the new one \
         (SECCOMP_FILTER_FLAG_TSYNC); install filters from one thread, before starting \
         others, or use `Threads::Calling`"
    )]
    ThreadSync { thread: libc::c_long },
}

/// What to do about an error of the `seccomp` system call.
fn install_hint(error: &io::Error) -> &'static str {
    match error.raw_os_error() {
        Some(libc::EINVAL) => {
            "the program is malformed (an unknown instruction, a jump past its end, a load \
             outside `struct seccomp_data`, no final `ret`) or the kernel lacks seccomp \
             filters (CONFIG_SECCOMP_FILTER): recompile the policy with this version of \
             phantomc, and check the kernel's configuration"
        }
        Some(libc::ENOMEM) => {
            "the filters already on this process and this one together exceed the kernel's \
             limit of 32768 instructions: start the sandbox from a less confined process, \
             or simplify the policy"
        }
        Some(libc::EACCES) => {
            "the process has neither no_new_privs nor CAP_SYS_ADMIN; this is a bug in the \
             runtime, which sets no_new_privs first: please report it"
        }
        Some(libc::ENOSYS) => {
            "this kernel has no seccomp (CONFIG_SECCOMP), or a filter on the runtime itself \
             refuses the seccomp system call: the sandbox cannot run here"
        }
        Some(libc::EFAULT) => "the runtime passed a bad pointer: this is a bug, please report it",
        Some(libc::EBUSY) => {
            "a filter already on this process has a supervisor of its own (seccomp user \
             notification), and the kernel allows one: start phantom from a process no \
             supervisor watches"
        }
        _ => "see seccomp(2) for what this error means here",
    }
}

impl Filter {
    /// Checks the shape of a program in `struct sock_filter` layout (little-endian, 8
    /// bytes per instruction, 1 to [`MAX_INSNS`] instructions) and converts it.
    ///
    /// The instructions themselves are checked by the kernel when installing.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, SeccompError> {
        let invalid = |reason: String| SeccompError::InvalidProgram { reason };
        if bytes.is_empty() {
            return Err(invalid("the program is empty".into()));
        }
        let chunks = bytes.chunks_exact(INSN_SIZE);
        if !chunks.remainder().is_empty() {
            return Err(invalid(format!(
                "its length, {} bytes, is not a multiple of {INSN_SIZE}",
                bytes.len()
            )));
        }
        let count = bytes.len() / INSN_SIZE;
        if count > MAX_INSNS {
            return Err(invalid(format!(
                "it has {count} instructions; the kernel accepts at most {MAX_INSNS}"
            )));
        }
        let program = chunks
            .map(|b| match *b {
                [c0, c1, jt, jf, k0, k1, k2, k3] => sock_filter {
                    code: u16::from_le_bytes([c0, c1]),
                    jt,
                    jf,
                    k: u32::from_le_bytes([k0, k1, k2, k3]),
                },
                // chunks_exact yields only INSN_SIZE-byte chunks.
                _ => sock_filter {
                    code: 0,
                    jt: 0,
                    jf: 0,
                    k: 0,
                },
            })
            .collect();
        Ok(Filter { program })
    }

    /// Number of instructions.
    pub fn len(&self) -> usize {
        self.program.len()
    }

    /// Always false: a `Filter` has at least one instruction.
    pub fn is_empty(&self) -> bool {
        self.program.is_empty()
    }

    /// The instructions, as `seccompiler` takes them.
    pub fn program(&self) -> &[sock_filter] {
        &self.program
    }

    /// Sets `no_new_privs` and installs the filter on the calling thread, or on every
    /// thread of the process. Filters stack: one installed later can only restrict
    /// further, never undo this one.
    ///
    /// Does not allocate on success, so it may be called between `fork` and `exec`.
    pub fn install(&self, threads: Threads) -> Result<(), SeccompError> {
        let result = match threads {
            Threads::Calling => seccompiler::apply_filter(&self.program),
            Threads::All => seccompiler::apply_filter_all_threads(&self.program),
        };
        result.map_err(|e| match e {
            seccompiler::Error::Prctl(source) => SeccompError::NoNewPrivs(source),
            seccompiler::Error::Seccomp(source) => SeccompError::Install { threads, source },
            seccompiler::Error::ThreadSync(thread) => SeccompError::ThreadSync { thread },
            // An empty program is refused by `from_bytes`; nothing else is compiled here.
            other => SeccompError::Install {
                threads,
                source: io::Error::other(other.to_string()),
            },
        })
    }
}

/// The action bits of a `ret`'s value.
const RET_ACTION_FULL: u32 = 0xffff_0000;
/// `BPF_RET | BPF_A` (phantomc never writes one; `RET_K` and `RET_USER_NOTIF`, the
/// call waiting for a supervisor, are the compiler's).
const RET_A: u16 = 0x16;
/// `seccomp(2)`'s operation and flag for a filter with a listener.
const SECCOMP_SET_MODE_FILTER: libc::c_ulong = 1;
const SECCOMP_FILTER_FLAG_NEW_LISTENER: libc::c_ulong = 1 << 3;

/// Whether the program (bytes as [`Filter::from_bytes`] takes them) may leave a call
/// to a supervisor: a `ret` of `SECCOMP_RET_USER_NOTIF` (a `notify` rule), or a `ret A`,
/// whose action is computed (phantomc never writes one). Without a supervisor the
/// kernel answers such calls ENOSYS, which is not what the policy says.
pub fn asks_supervisor(bytes: &[u8]) -> bool {
    bytes.chunks_exact(INSN_SIZE).any(|insn| match *insn {
        [c0, c1, _, _, k0, k1, k2, k3] => {
            let code = u16::from_le_bytes([c0, c1]);
            let k = u32::from_le_bytes([k0, k1, k2, k3]);
            (code == RET_K && k & RET_ACTION_FULL == RET_USER_NOTIF) || code == RET_A
        }
        _ => false,
    })
}

impl Filter {
    /// [`Filter::install`] on the calling thread, with a listener
    /// (`SECCOMP_FILTER_FLAG_NEW_LISTENER`): the descriptor (close-on-exec) on which a
    /// supervisor receives and answers the calls the filter leaves to it. Until one
    /// does, those calls wait.
    ///
    /// Does not allocate, so it may be called between `fork` and `exec`.
    #[allow(
        unsafe_code,
        reason = "seccompiler installs no filter with a listener: the seccomp system call itself"
    )]
    pub fn install_with_listener(&self) -> Result<OwnedFd, SeccompError> {
        // SAFETY: prctl with integer arguments only.
        if unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) } != 0 {
            return Err(SeccompError::NoNewPrivs(io::Error::last_os_error()));
        }
        let install_error = |source| SeccompError::Install {
            threads: Threads::Calling,
            source,
        };
        let len = u16::try_from(self.program.len())
            .map_err(|_| install_error(io::Error::from_raw_os_error(libc::EINVAL)))?;
        let program = libc::sock_fprog {
            len,
            // `sock_filter` is the kernel's `struct sock_filter` in both crates; the
            // kernel only reads the program.
            filter: self.program.as_ptr().cast_mut().cast::<libc::sock_filter>(),
        };
        // SAFETY: `program` points at `len` live instructions for the duration of the
        // call; the kernel copies them.
        let fd = unsafe {
            libc::syscall(
                libc::SYS_seccomp,
                SECCOMP_SET_MODE_FILTER,
                SECCOMP_FILTER_FLAG_NEW_LISTENER,
                &program as *const libc::sock_fprog,
            )
        };
        if fd < 0 {
            return Err(install_error(io::Error::last_os_error()));
        }
        let fd = i32::try_from(fd)
            .map_err(|_| install_error(io::Error::from_raw_os_error(libc::EBADF)))?;
        // SAFETY: the kernel returned a fresh descriptor that nothing else owns.
        Ok(unsafe { OwnedFd::from_raw_fd(fd) })
    }
}

/// A filter that leaves `listen` to a supervisor and lets everything else through,
/// stacked under a policy's own (which decides every other call, and may still refuse
/// `listen`: the strictest of the filters' verdicts is the kernel's). Calls of another
/// architecture are the policy filter's to kill.
pub fn listen_supervision() -> Filter {
    use phantom_compiler::seccomp::bpf::{Insn, JMP_JEQ_K, LD_W_ABS, OFF_ARCH, OFF_NR, RET_ALLOW};
    let native = phantom_compiler::tables::Arch::from_name(std::env::consts::ARCH)
        .map_or(0, phantom_compiler::tables::Arch::audit_arch);
    let listen = u32::try_from(libc::SYS_listen).unwrap_or(u32::MAX);
    let program = [
        Insn::new(LD_W_ABS, 0, 0, OFF_ARCH),
        Insn::new(JMP_JEQ_K, 0, 3, native),
        Insn::new(LD_W_ABS, 0, 0, OFF_NR),
        Insn::new(JMP_JEQ_K, 0, 1, listen),
        Insn::new(RET_K, 0, 0, RET_USER_NOTIF),
        Insn::new(RET_K, 0, 0, RET_ALLOW),
    ];
    Filter {
        program: program
            .iter()
            .map(|i| sock_filter {
                code: i.code,
                jt: i.jt,
                jf: i.jf,
                k: i.k,
            })
            .collect(),
    }
}

/// [`Filter::from_bytes`] then [`Filter::install`].
pub fn install(bytes: &[u8], threads: Threads) -> Result<(), SeccompError> {
    Filter::from_bytes(bytes)?.install(threads)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "test code")]

    use super::*;

    fn error(bytes: &[u8]) -> String {
        match Filter::from_bytes(bytes) {
            Ok(_) => String::from("accepted"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn a_program_that_may_notify_asks_for_a_supervisor() {
        let ret = |k: u32| {
            let mut insn = vec![0x06, 0x00, 0, 0];
            insn.extend_from_slice(&k.to_le_bytes());
            insn
        };
        // ret ALLOW; ret ERRNO(EPERM); ret KILL_PROCESS
        let plain = [ret(0x7fff_0000), ret(0x0005_0001), ret(0x8000_0000)].concat();
        assert!(!asks_supervisor(&plain));
        assert!(asks_supervisor(&[plain.clone(), ret(0x7fc0_0000)].concat()));
        // A `ret A` computes its action: it may be a notification.
        assert!(asks_supervisor(
            &[plain, vec![0x16, 0, 0, 0, 0, 0, 0, 0]].concat()
        ));
        // A load whose constant looks like USER_NOTIF is no return.
        assert!(!asks_supervisor(&[0x20, 0, 0, 0, 0x00, 0x00, 0xc0, 0x7f]));
    }

    #[test]
    fn shape_is_checked() {
        assert!(
            error(&[]).contains("the program is empty"),
            "{}",
            error(&[])
        );
        let e = error(&[0; 12]);
        assert!(e.contains("12 bytes, is not a multiple of 8"), "{e}");
        let e = error(&vec![0; 8 * (MAX_INSNS + 1)]);
        assert!(e.contains("4097 instructions"), "{e}");
        assert!(e.contains("phantomc compile --emit bpf"), "{e}");
        assert_eq!(
            Filter::from_bytes(&vec![0; 8 * MAX_INSNS]).unwrap().len(),
            MAX_INSNS
        );
    }

    #[test]
    fn little_endian_layout() {
        // ret #ALLOW, then jeq #0x12345678, +1, +2
        let bytes = [
            0x06, 0x00, 0, 0, 0x00, 0x00, 0xff, 0x7f, //
            0x15, 0x00, 1, 2, 0x78, 0x56, 0x34, 0x12,
        ];
        let filter = Filter::from_bytes(&bytes).unwrap();
        assert_eq!(
            filter.program(),
            [
                sock_filter {
                    code: 0x06,
                    jt: 0,
                    jf: 0,
                    k: 0x7fff_0000
                },
                sock_filter {
                    code: 0x15,
                    jt: 1,
                    jf: 2,
                    k: 0x1234_5678
                },
            ]
        );
    }

    #[test]
    fn install_errors_say_what_to_do() {
        let e = SeccompError::Install {
            threads: Threads::All,
            source: io::Error::from_raw_os_error(libc::ENOMEM),
        };
        let text = e.to_string();
        assert!(text.contains("all threads"), "{text}");
        assert!(text.contains("32768 instructions"), "{text}");
        let e = SeccompError::ThreadSync { thread: 42 };
        assert!(e.to_string().contains("thread 42"));
    }
}
