//! What a bundle holds: a plan the runtime executes without deciding anything.
//!
//! Every field is resolved by the compiler: paths are absolute and normalized (run-time
//! variables aside, listed in [`Bundle::variables`]), sizes are bytes, times are
//! microseconds or seconds as the kernel takes them, mounts are in execution order.
//! Maps are `BTreeMap`s so that encoding is deterministic.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bundle {
    pub name: String,
    pub description: Option<String>,
    /// blake3 of every source file of the policy (names and texts, in load order).
    pub source_hash: [u8; 32],
    /// `phantomc` version that wrote it (informative; the format version is in the header).
    pub compiler: String,
    /// How the sandbox is built; see [`Mode`].
    pub mode: Mode,
    pub seccomp: Vec<SeccompFilter>,
    pub mounts: Vec<MountStep>,
    pub cgroup: CgroupLimits,
    pub rlimits: Vec<Rlimit>,
    pub network: Network,
    pub landlock: Landlock,
    pub process: ProcessSpec,
    /// Run-time variables the plan still needs, and where each is used.
    pub variables: Vec<VariableUse>,
}

/// The isolation a bundle asks for; the seed's Direct / Sandbox / Hardened modes.
///
/// The compiler has already applied everything a mode means to the policy (see
/// docs/modes.md); the runtime only has to know whether to build namespaces.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
pub enum Mode {
    /// No namespaces: the host's filesystem view, writes limited by Landlock (which is
    /// the filesystem layer here, so it is required), seccomp, rlimits and cgroups.
    /// [`Bundle::mounts`] is empty; Landlock paths are host paths.
    Direct,
    /// Own user, mount, pid, ipc, uts, cgroup and (unless the network is shared)
    /// network namespaces, the mount plan, Landlock as defence in depth.
    #[default]
    Sandbox,
    /// As `Sandbox`; the policy was made stricter at compile time.
    Hardened,
}

impl Mode {
    pub const ALL: [Mode; 3] = [Mode::Direct, Mode::Sandbox, Mode::Hardened];

    pub fn name(self) -> &'static str {
        match self {
            Mode::Direct => "direct",
            Mode::Sandbox => "sandbox",
            Mode::Hardened => "hardened",
        }
    }

    pub fn from_name(name: &str) -> Option<Mode> {
        Mode::ALL.into_iter().find(|m| m.name() == name)
    }

    /// Whether the sandbox gets its own namespaces and mount plan.
    pub fn uses_namespaces(self) -> bool {
        !matches!(self, Mode::Direct)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Arch {
    X86_64,
    Aarch64,
}

impl Arch {
    pub fn name(self) -> &'static str {
        match self {
            Arch::X86_64 => "x86_64",
            Arch::Aarch64 => "aarch64",
        }
    }

    /// The architecture this program runs on, if it is one a bundle can target.
    pub fn native() -> Option<Arch> {
        match std::env::consts::ARCH {
            "x86_64" => Some(Arch::X86_64),
            "aarch64" => Some(Arch::Aarch64),
            _ => None,
        }
    }
}

/// A verified seccomp program for one architecture.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeccompFilter {
    pub arch: Arch,
    /// `struct sock_filter` array, little-endian, 8 bytes per instruction.
    #[serde(with = "serde_bytes")]
    pub program: Vec<u8>,
    /// Most instructions any syscall runs through.
    pub worst_path: u32,
    /// Syscalls the kernel's action cache allows without running the filter.
    pub cached_syscalls: u32,
    pub known_syscalls: u32,
    /// The policy's default action, for display (`errno(ENOSYS)`).
    pub default_action: String,
}

impl SeccompFilter {
    pub fn instructions(&self) -> usize {
        self.program.len() / 8
    }
}

/// One step of the mount plan, executed in order inside the new mount namespace, on
/// top of an empty tmpfs root (which the runtime makes first and seals read-only last).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum MountStep {
    /// Create a directory (and nothing above it: parents come as earlier steps).
    Mkdir {
        target: String,
        mode: u32,
    },
    /// Bind a host path. `mountpoint` says whether the target must already exist
    /// (inside another bind) or is created by the plan.
    Bind {
        source: String,
        target: String,
        writable: bool,
        optional: bool,
        mountpoint: Mountpoint,
    },
    Tmpfs {
        target: String,
        size: Option<u64>,
        mode: u32,
        mountpoint: Mountpoint,
    },
    /// A fresh procfs for the sandbox's pid namespace.
    Proc {
        target: String,
        mountpoint: Mountpoint,
    },
    /// A minimal /dev: a tmpfs with these device nodes bound from the host, `pts` and `shm`.
    Dev {
        target: String,
        nodes: Vec<String>,
        mountpoint: Mountpoint,
    },
    Symlink {
        target: String,
        to: String,
    },
    /// Hide a path: an empty read-only tmpfs over a directory, or /dev/null over a file;
    /// skipped if the path does not exist.
    Mask {
        target: String,
    },
    /// Make an existing path read-only (a read-only bind over itself).
    ReadOnly {
        target: String,
    },
}

impl MountStep {
    pub fn target(&self) -> &str {
        match self {
            MountStep::Mkdir { target, .. }
            | MountStep::Bind { target, .. }
            | MountStep::Tmpfs { target, .. }
            | MountStep::Proc { target, .. }
            | MountStep::Dev { target, .. }
            | MountStep::Symlink { target, .. }
            | MountStep::Mask { target }
            | MountStep::ReadOnly { target } => target,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Mountpoint {
    /// Created by an earlier `Mkdir` step in the plan's own tmpfs.
    Created,
    /// Inside a bound host directory: must exist there (the runtime refuses if not).
    MustExist,
}

/// cgroup limits; `None` leaves the controller unlimited.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CgroupLimits {
    /// memory.max, bytes.
    pub memory_max: Option<u64>,
    /// memory.swap.max, bytes (0 unless the policy allows swap).
    pub swap_max: Option<u64>,
    /// cpu.max: quota and period in microseconds.
    pub cpu: Option<CpuQuota>,
    /// pids.max.
    pub pids_max: Option<u64>,
    /// io.weight (1–10000).
    pub io_weight: Option<u16>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CpuQuota {
    pub quota_us: u64,
    pub period_us: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum RlimitResource {
    Cpu,
    Fsize,
    Nofile,
    Core,
}

impl RlimitResource {
    pub fn name(self) -> &'static str {
        match self {
            RlimitResource::Cpu => "RLIMIT_CPU",
            RlimitResource::Fsize => "RLIMIT_FSIZE",
            RlimitResource::Nofile => "RLIMIT_NOFILE",
            RlimitResource::Core => "RLIMIT_CORE",
        }
    }
}

/// Soft and hard limit are the same: the workload cannot raise it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rlimit {
    pub resource: RlimitResource,
    /// `None`: unlimited.
    pub value: Option<u64>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Network {
    /// A fresh network namespace with loopback up.
    None,
    Host,
    /// The host's network; TCP connect and bind only to these ports (Landlock).
    Filtered {
        connect: Vec<u16>,
        bind: Vec<u16>,
    },
}

/// Landlock rules derived from the mount plan and the network, applied as defence in
/// depth (and as the filesystem layer where namespaces are unavailable).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Landlock {
    pub paths: Vec<LandlockPath>,
    /// TCP ports for `connect`/`bind`; empty lists with `restrict_net` deny all.
    pub restrict_net: bool,
    pub connect_ports: Vec<u16>,
    pub bind_ports: Vec<u16>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LandlockPath {
    /// Path inside the sandbox (after pivot_root); in [`Mode::Direct`], a host path,
    /// possibly with run-time variables (`${workspace}`).
    pub path: String,
    pub access: Access,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Access {
    /// Read files, list directories, execute.
    ReadExecute,
    /// Everything: read, write, create, remove, execute.
    ReadWrite,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcessSpec {
    pub command: Option<Vec<String>>,
    pub cwd: String,
    /// The environment the workload starts with (host variables in `pass` are added at
    /// run time if set).
    pub env: BTreeMap<String, String>,
    pub pass: Vec<String>,
    pub hostname: String,
    pub uid: u32,
    pub gid: u32,
    /// Wall-clock limit, milliseconds.
    pub timeout_ms: Option<u64>,
    /// Always true; recorded so a reader never has to assume it.
    pub no_new_privs: bool,
    /// Capabilities kept (always empty today).
    pub capabilities: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VariableUse {
    pub name: String,
    /// Human-readable places (`mount 7 source`, `cwd`).
    pub used_in: Vec<String>,
}
