//! The last steps a workload process takes before its seccomp filter and `execve`.
//!
//! Each step is one function with its own [`HardenError`] variant, which names the step
//! and what to do about its failure:
//!
//! | function | what it does |
//! |---|---|
//! | [`apply_rlimits`] | `setrlimit` with soft = hard for each of the bundle's limits; `RLIMIT_CORE` 0 |
//! | [`close_inherited_fds`] | closes every descriptor from 3 up, except those kept (`close_range(2)`) |
//! | [`apply_landlock`] | the bundle's Landlock rules: filesystem paths, and TCP ports if the network is filtered |
//! | [`drop_capabilities`] | empties the ambient, bounding, effective, permitted and inheritable sets, locks the securebits, and checks |
//! | [`set_no_new_privs`] | `prctl(PR_SET_NO_NEW_PRIVS)` |
//!
//! They act on the calling thread (Landlock, capabilities, no_new_privs) or the whole
//! process (limits, descriptors), and are meant for the single-threaded child between
//! `fork`/`clone` and `execve`, in this order:
//!
//! 1. [`apply_rlimits`], while the process may still have `CAP_SYS_RESOURCE` (raising a
//!    hard limit needs it);
//! 2. [`close_inherited_fds`], keeping only the descriptors the workload is meant to
//!    have (and the runtime's own status pipe);
//! 3. [`apply_landlock`], after `pivot_root` (the rules name paths inside the sandbox);
//! 4. the user and group switch, if any, under `PR_SET_KEEPCAPS`;
//! 5. [`drop_capabilities`], which needs `CAP_SETPCAP` to empty the bounding set (it first
//!    makes every permitted capability effective, so it works after a switch under
//!    `PR_SET_KEEPCAPS`);
//! 6. [`set_no_new_privs`], then the seccomp filter ([`crate::seccomp`]), then `execve`.
//!
//! Only the limits, capabilities, no_new_privs and the `close_range` path of
//! [`close_inherited_fds`] are free of allocation; Landlock (path names) and the
//! `/proc/self/fd` fallback allocate, which is sound after `fork` of a single-threaded
//! process and, with glibc, of a multi-threaded one.

#![allow(
    unsafe_code,
    reason = "setrlimit, prctl, capget/capset, close_range and the Landlock version query \
              have no safe wrapper among our dependencies; every block states why it is sound"
)]

use std::error::Error as _;
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::AsFd;

use landlock::{
    Access as _, AccessFs, AccessNet, NetPort, PathBeneath, PathFd, Ruleset, RulesetAttr,
    RulesetCreatedAttr, RulesetError, RulesetStatus, Scope, ABI,
};
use phantom_bundle::{Access, Landlock, Rlimit, RlimitResource};

/// The Landlock ABI whose filesystem rights are requested: ABI 5 (Linux 6.10), the first
/// with every right up to device `ioctl`. ABIs 5 to 8 have the same filesystem rights.
/// Rights of later ABIs (ABI 9 restricts connecting to pathname UNIX sockets) change
/// what workloads may do and are adopted deliberately, with tests, by raising this.
const TARGET_ABI: ABI = ABI::V5;

/// The lowest kernel Landlock ABI that enforces every rule [`apply_landlock`] makes (the
/// filesystem rights of ABI 5, and TCP ports, which need ABI 4). Below it,
/// [`LandlockMode::Required`] refuses, and [`LandlockMode::BestEffort`] enforces what the
/// kernel knows and reports [`Enforcement::PartiallyEnforced`].
pub const LANDLOCK_FULL_ABI: u8 = 5;

/// `_LINUX_CAPABILITY_VERSION_3`: 64-bit capability sets, as two 32-bit halves.
const CAPABILITY_VERSION_3: u32 = 0x2008_0522;

/// The highest capability number any kernel may define (the sets are 64 bits wide).
const MAX_CAP: u32 = 63;

/// `LANDLOCK_CREATE_RULESET_VERSION`: `landlock_create_ruleset` returns the ABI version.
const LANDLOCK_CREATE_RULESET_VERSION: libc::c_uint = 1;

/// A zero `prctl` argument, as the `unsigned long` the kernel reads.
const NO_ARG: libc::c_ulong = 0;

/// The capability sets, as `/proc/self/status` names them.
const CAP_SETS: [&str; 5] = ["CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"];

/// Why a hardening step failed: one variant per step, each saying what to do.
#[derive(Debug, thiserror::Error)]
pub enum HardenError {
    /// `setrlimit` refused a limit.
    #[error(
        "could not set {resource} to {value} (setrlimit, soft = hard): {source}; {hint}",
        resource = .resource.name(),
        value = match .value {
            Some(v) => v.to_string(),
            None => String::from("unlimited"),
        },
        hint = rlimit_hint(*.resource, .source)
    )]
    Rlimit {
        resource: RlimitResource,
        value: Option<u64>,
        #[source]
        source: io::Error,
    },

    /// `prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL)` failed.
    #[error(
        "could not clear the ambient capability set (prctl PR_CAP_AMBIENT_CLEAR_ALL): \
         {0}; every Linux since 4.3 allows it to any process: check that the runtime is not \
         confined by a seccomp filter that refuses prctl"
    )]
    AmbientCapabilities(#[source] io::Error),

    /// `prctl(PR_CAPBSET_DROP)` failed for one capability.
    #[error(
        "could not drop capability {cap} from the bounding set (prctl PR_CAPBSET_DROP): \
         {source}; {hint}",
        hint = bounding_hint(.source)
    )]
    BoundingSet {
        cap: u32,
        #[source]
        source: io::Error,
    },

    /// `prctl(PR_SET_SECUREBITS)` failed with something other than `EPERM` (which is
    /// skipped: the bits are defence in depth once every set is empty).
    #[error(
        "could not lock the securebits SECBIT_NOROOT and SECBIT_NO_SETUID_FIXUP \
         (prctl PR_SET_SECUREBITS): {0}; this kernel refuses bits it has known since 2.6.26: \
         check that the runtime is not confined by a seccomp filter that refuses prctl"
    )]
    Securebits(#[source] io::Error),

    /// `capget` or `capset` failed.
    #[error(
        "could not {op} the capability sets ({op}, version 3): {source}; \
         this is a bug in the runtime (the call names the calling thread with the \
         current header version) or a seccomp filter on the runtime refuses {op}: \
         please report it",
        op = .call
    )]
    Capset {
        call: &'static str,
        #[source]
        source: io::Error,
    },

    /// A capability set is not empty after every step succeeded.
    #[error(
        "capabilities remain after dropping them: {set} is {mask:#018x} ({how}); the \
         process must not run a workload like this: this is a bug in the runtime or a \
         kernel with capability rules it does not know, please report it with the output \
         of `grep Cap /proc/self/status`"
    )]
    CapabilitiesRemain {
        /// `CapInh`, `CapPrm`, `CapEff`, `CapBnd` or `CapAmb`.
        set: &'static str,
        mask: u64,
        /// How it was read: `/proc/self/status` or the system calls.
        how: &'static str,
    },

    /// `close_range` failed, or it is missing and `/proc/self/fd` could not be listed.
    #[error(
        "could not close the inherited file descriptors ({call}): {source}; {hint}",
        hint = if *.call == "close_range" {
            "the kernel refused the descriptor range: this is a bug in the runtime, please \
             report it"
        } else {
            "this kernel has no close_range (Linux 5.9), so the open descriptors are listed \
             from /proc/self/fd: mount /proc in the sandbox before this step, or use \
             Linux 5.9 or later"
        }
    )]
    CloseFds {
        call: &'static str,
        #[source]
        source: io::Error,
    },

    /// `prctl(PR_SET_NO_NEW_PRIVS)` failed.
    #[error(
        "could not set no_new_privs (prctl PR_SET_NO_NEW_PRIVS): {0}; every Linux since \
         3.5 supports it: check that the runtime is not confined by a seccomp filter that \
         refuses prctl"
    )]
    NoNewPrivs(#[source] io::Error),

    /// [`LandlockMode::Required`], and the kernel has no Landlock.
    #[error(
        "Landlock is required but unavailable (landlock_create_ruleset): {source}; {hint}",
        hint = landlock_unavailable_hint(.source)
    )]
    LandlockUnavailable {
        #[source]
        source: io::Error,
    },

    /// [`LandlockMode::Required`], and the kernel's Landlock enforces only part of the
    /// rules.
    #[error(
        "Landlock is required but the kernel's Landlock ABI {abi} enforces only part of \
         the rules (all of them need ABI {needed}: Linux 6.10 or later, with Landlock \
         enabled, `lsm=landlock,...`); run the sandbox on such a kernel, or choose \
         best-effort Landlock to run with what this kernel enforces"
    )]
    LandlockIncomplete { abi: u8, needed: u8 },

    /// A rule's path exists but cannot be opened (`O_PATH`). Missing paths are skipped
    /// and reported in [`LandlockStatus::skipped_paths`], not errors.
    #[error(
        "could not open {path} for its Landlock rule (O_PATH): {source}; the path must be \
         reachable by the workload's user inside the sandbox: check the permissions of its \
         parent directories in the mount plan"
    )]
    LandlockPath {
        path: String,
        #[source]
        source: io::Error,
    },

    /// Building the Landlock ruleset failed.
    #[error(
        "could not build the Landlock ruleset ({step}): {source}; the kernel refused a \
         rule the runtime made from the bundle: check that the bundle was compiled by a \
         matching phantomc, and report it if it was"
    )]
    LandlockRuleset {
        /// `create`, or the rule (`/usr (read-execute)`, `TCP connect 443`).
        step: String,
        #[source]
        source: RulesetError,
    },

    /// `landlock_restrict_self` failed.
    #[error(
        "could not enforce the Landlock ruleset (landlock_restrict_self): {0}; the kernel \
         refuses it when the thread has neither no_new_privs nor CAP_SYS_ADMIN, or when it \
         is already under 16 stacked rulesets: start the sandbox from a less confined \
         process"
    )]
    LandlockRestrict(#[source] RulesetError),
}

fn rlimit_hint(resource: RlimitResource, error: &io::Error) -> &'static str {
    match (resource, error.raw_os_error()) {
        (RlimitResource::Nofile, Some(libc::EPERM)) => {
            "RLIMIT_NOFILE can never exceed /proc/sys/fs/nr_open (so `unlimited` open files \
             is refused even to root), and raising its hard limit above the current one \
             needs CAP_SYS_RESOURCE: lower the limit in the policy, or start the runtime with \
             that capability"
        }
        (_, Some(libc::EPERM)) => {
            "raising a hard limit above the current one needs CAP_SYS_RESOURCE, which the \
             runtime lacks here: lower the limit in the policy, raise it where the runtime is \
             started (ulimit -H), or start the runtime with that capability"
        }
        (_, Some(libc::EINVAL)) => {
            "the kernel refused the value: this is a bug in the runtime, please report it"
        }
        _ => "see setrlimit(2) for what this error means here",
    }
}

fn bounding_hint(error: &io::Error) -> &'static str {
    match error.raw_os_error() {
        Some(libc::EPERM) => {
            "emptying the bounding set needs CAP_SETPCAP: drop capabilities while the \
             process still has it (as root in the sandbox's user namespace, or after a user \
             switch under PR_SET_KEEPCAPS), not after becoming an unprivileged user"
        }
        _ => "see prctl(2), PR_CAPBSET_DROP, for what this error means here",
    }
}

fn landlock_unavailable_hint(error: &io::Error) -> &'static str {
    match error.raw_os_error() {
        Some(libc::EOPNOTSUPP) => {
            "the kernel has Landlock but it was not enabled at boot: add `landlock` to the \
             `lsm=` boot parameter (for instance `lsm=landlock,lockdown,yama,integrity,\
             apparmor,bpf`) or to CONFIG_LSM, or choose best-effort Landlock"
        }
        Some(libc::ENOSYS) => {
            "the kernel was built without Landlock (CONFIG_SECURITY_LANDLOCK), or a seccomp \
             filter on the runtime refuses landlock_create_ruleset: use a kernel with Landlock \
             enabled (Linux 6.10 or later, `lsm=landlock,...`), or choose best-effort Landlock"
        }
        _ => "see landlock_create_ruleset(2) for what this error means here",
    }
}

// ---------------------------------------------------------------------------------
// Resource limits

/// Sets each limit with soft = hard = its value (`None`: `RLIM_INFINITY`), in order, and
/// `RLIMIT_CORE` to 0 unless `limits` sets it (bundles always do, to 0).
///
/// Lowering a limit always works; raising a hard limit needs `CAP_SYS_RESOURCE`, so call
/// this before [`drop_capabilities`]. Does not allocate on success.
pub fn apply_rlimits(limits: &[Rlimit]) -> Result<(), HardenError> {
    if !limits.iter().any(|l| l.resource == RlimitResource::Core) {
        set_rlimit(RlimitResource::Core, Some(0))?;
    }
    for limit in limits {
        set_rlimit(limit.resource, limit.value)?;
    }
    Ok(())
}

fn set_rlimit(resource: RlimitResource, value: Option<u64>) -> Result<(), HardenError> {
    // `rlim_t` is 64 bits on every target the runtime supports (x86_64, aarch64), and its
    // largest value is RLIM_INFINITY.
    let raw: libc::rlim_t = value.unwrap_or(libc::RLIM_INFINITY);
    let limit = libc::rlimit {
        rlim_cur: raw,
        rlim_max: raw,
    };
    let which = match resource {
        RlimitResource::Cpu => libc::RLIMIT_CPU,
        RlimitResource::Fsize => libc::RLIMIT_FSIZE,
        RlimitResource::Nofile => libc::RLIMIT_NOFILE,
        RlimitResource::Core => libc::RLIMIT_CORE,
    };
    // SAFETY: `limit` is a live, initialized `struct rlimit`; the kernel only reads it.
    if unsafe { libc::setrlimit(which, &limit) } != 0 {
        return Err(HardenError::Rlimit {
            resource,
            value,
            source: io::Error::last_os_error(),
        });
    }
    Ok(())
}

// ---------------------------------------------------------------------------------
// Capabilities

/// `struct __user_cap_header_struct`.
#[repr(C)]
#[derive(Debug)]
struct CapHeader {
    version: u32,
    pid: libc::c_int,
}

/// `struct __user_cap_data_struct`: one 32-bit half of each set.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
struct CapData {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

/// `prctl` with integer arguments; the kernel's return value, or the error.
fn prctl(option: libc::c_int, arg2: libc::c_ulong) -> io::Result<libc::c_int> {
    // SAFETY: every option used here takes integer arguments only (no pointers), and the
    // unused ones are passed as zero `unsigned long`s, as the kernel requires.
    let r = unsafe { libc::prctl(option, arg2, NO_ARG, NO_ARG, NO_ARG) };
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r)
    }
}

/// Reads the calling thread's effective, permitted and inheritable sets.
fn capget() -> Result<[CapData; 2], HardenError> {
    let mut header = CapHeader {
        version: CAPABILITY_VERSION_3,
        pid: 0,
    };
    let mut data = [CapData::default(); 2];
    // SAFETY: version 3 takes a header and an array of two data structs, both live and
    // writable for the duration of the call.
    let r = unsafe {
        libc::syscall(
            libc::SYS_capget,
            &mut header as *mut CapHeader,
            data.as_mut_ptr(),
        )
    };
    if r != 0 {
        return Err(HardenError::Capset {
            call: "capget",
            source: io::Error::last_os_error(),
        });
    }
    Ok(data)
}

/// Sets the calling thread's effective, permitted and inheritable sets.
fn capset(data: &[CapData; 2]) -> Result<(), HardenError> {
    let mut header = CapHeader {
        version: CAPABILITY_VERSION_3,
        pid: 0,
    };
    // SAFETY: version 3 takes a header (which the kernel may rewrite with its preferred
    // version) and an array of two data structs, which it only reads; both are live.
    let r = unsafe {
        libc::syscall(
            libc::SYS_capset,
            &mut header as *mut CapHeader,
            data.as_ptr(),
        )
    };
    if r != 0 {
        return Err(HardenError::Capset {
            call: "capset",
            source: io::Error::last_os_error(),
        });
    }
    Ok(())
}

/// Empties every capability set of the calling thread and checks that they are empty.
///
/// In order: every permitted capability is made effective (so that `CAP_SETPCAP` is, if
/// the thread has it at all); the ambient set is cleared; every capability up to
/// `/proc/sys/kernel/cap_last_cap` (or until the kernel says a number is unknown) is
/// dropped from the bounding set; the securebits `SECBIT_NOROOT` and
/// `SECBIT_NO_SETUID_FIXUP` are set and locked, so that running a program as uid 0 grants
/// nothing (skipped if the kernel answers `EPERM`: without `CAP_SETPCAP`, or with other
/// bits already locked; an empty bounding set already ensures it); then the effective,
/// permitted and inheritable sets are emptied. Finally every set is read back, from
/// `/proc/self/status` when it can be read and always through the system calls, and
/// any capability left is an error ([`HardenError::CapabilitiesRemain`]).
///
/// Emptying the bounding set needs `CAP_SETPCAP`. A process that holds no capability
/// at all (an ordinary user's, as in direct mode) keeps its bounding set when the
/// kernel refuses: the set only bounds what a program it executes could gain, and
/// no_new_privs, which the caller sets next, lets no program gain any. A process that
/// holds some fails with [`HardenError::BoundingSet`]. Does not allocate on success.
pub fn drop_capabilities() -> Result<(), HardenError> {
    // Every permitted capability effective: CAP_SETPCAP is needed below.
    let mut data = capget()?;
    let holds_none = data.iter().all(|d| d.permitted == 0);
    let mut bounding_kept = false;
    let raise = data.iter().any(|d| d.effective != d.permitted);
    for half in &mut data {
        half.effective = half.permitted;
    }
    if raise {
        capset(&data)?;
    }

    // Ambient. EINVAL: a kernel before 4.3, which has no ambient set.
    if let Err(e) = prctl(
        libc::PR_CAP_AMBIENT,
        libc::PR_CAP_AMBIENT_CLEAR_ALL as libc::c_ulong,
    ) {
        if e.raw_os_error() != Some(libc::EINVAL) {
            return Err(HardenError::AmbientCapabilities(e));
        }
    }

    // Bounding, up to the kernel's last capability (the first it calls invalid). A
    // drop refused for want of CAP_SETPCAP is fine where the capability is already
    // out: an unprivileged process whose bounding set is empty succeeds.
    for cap in 0..=MAX_CAP {
        match prctl(libc::PR_CAPBSET_DROP, libc::c_ulong::from(cap)) {
            Ok(_) => {}
            Err(e) if e.raw_os_error() == Some(libc::EINVAL) => break,
            Err(source) => match prctl(libc::PR_CAPBSET_READ, libc::c_ulong::from(cap)) {
                Ok(0) => {}
                _ if holds_none && source.raw_os_error() == Some(libc::EPERM) => {
                    bounding_kept = true;
                    break;
                }
                _ => return Err(HardenError::BoundingSet { cap, source }),
            },
        }
    }

    // Securebits, if this process may set them.
    let wanted = libc::SECBIT_NOROOT
        | libc::SECBIT_NOROOT_LOCKED
        | libc::SECBIT_NO_SETUID_FIXUP
        | libc::SECBIT_NO_SETUID_FIXUP_LOCKED;
    let current = prctl(libc::PR_GET_SECUREBITS, 0).unwrap_or(0);
    if current & wanted != wanted {
        let bits = libc::c_ulong::try_from(current | wanted).unwrap_or(0);
        match prctl(libc::PR_SET_SECUREBITS, bits) {
            Ok(_) => {}
            Err(e) if e.raw_os_error() == Some(libc::EPERM) => {}
            Err(e) => return Err(HardenError::Securebits(e)),
        }
    }

    // Effective, permitted, inheritable.
    capset(&[CapData::default(); 2])?;

    verify_no_capabilities(bounding_kept)
}

/// The kernel's per-user budgets that a sandbox shares with every other process of the
/// user owning its user namespace (the caller; root, where phantom runs as root and the
/// workload as nobody), each as the host's limit (beneath [`HOST_LIMITS`]) and the file
/// of the same limit for the writer's own user namespace (beneath [`OWN_LIMITS`]).
/// Counted per user: without a limit of its own, one sandbox could take them all (a
/// workload opening 128 inotify instances left root none, and systemd needs them).
const USER_BUDGETS: [(&str, &str); 4] = [
    ("inotify/max_user_instances", "max_inotify_instances"),
    ("inotify/max_user_watches", "max_inotify_watches"),
    ("fanotify/max_user_groups", "max_fanotify_groups"),
    ("fanotify/max_user_marks", "max_fanotify_marks"),
];

/// Where the host's limits of [`USER_BUDGETS`] are.
const HOST_LIMITS: &str = "/proc/sys/fs";
/// Where the limits of the reader's own user namespace are.
const OWN_LIMITS: &str = "/proc/sys/user";

/// The step of [`limit_user_budgets`], as errors name it.
pub(crate) const LIMITING_BUDGETS: &str =
    "limiting the sandbox's share of its user's inotify and fanotify budgets";

/// What one sandbox may take of each of [`USER_BUDGETS`]: a quarter.
pub const USER_BUDGET_SHARE: u64 = 4;

/// A sandbox's limit for a budget whose host limit is `host`.
pub fn budget_share(host: u64) -> u64 {
    (host / USER_BUDGET_SHARE).max(1)
}

/// The inode of the initial user namespace (`PROC_USER_INIT_INO`): there the files of
/// [`USER_BUDGETS`] are the host's limits themselves, for every user.
const INITIAL_USER_NAMESPACE: u64 = 0xEFFF_FFFD;

/// Gives the caller's user namespace (the sandbox's, joined or created, with
/// `CAP_SYS_RESOURCE` in it) a quarter of each of its owner's [`USER_BUDGETS`]. Reads
/// and writes the host's `/proc`, which must be in view. A budget the kernel does not
/// have (no fanotify) is skipped. Refused in the initial user namespace, where it would
/// lower the host's limits for every user.
pub(crate) fn limit_user_budgets() -> io::Result<()> {
    use rustix::fs::{Mode, OFlags};
    if rustix::fs::stat("/proc/self/ns/user")?.st_ino == INITIAL_USER_NAMESPACE {
        return Err(io::Error::from_raw_os_error(libc::EPERM));
    }
    // The two directories once, the files relative to them: every path walk through
    // /proc/sys looks each name up in the sysctl tables.
    let directory = |path| {
        rustix::fs::open(
            path,
            OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )
    };
    let host_dir = directory(HOST_LIMITS).map_err(|e| in_file(HOST_LIMITS.into(), e.into()))?;
    let own_dir = directory(OWN_LIMITS).map_err(|e| in_file(OWN_LIMITS.into(), e.into()))?;
    let missing = |e: &io::Error| e.kind() == io::ErrorKind::NotFound;
    for (host, own) in USER_BUDGETS {
        let limit = match read_limit(&host_dir, host) {
            Ok(limit) => limit,
            Err(e) if missing(&e) => continue,
            Err(e) => return Err(in_file(format!("{HOST_LIMITS}/{host}"), e)),
        };
        let written = rustix::fs::openat(
            &own_dir,
            own,
            OFlags::WRONLY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(io::Error::from)
        .and_then(|fd| File::from(fd).write_all(budget_share(limit).to_string().as_bytes()));
        match written {
            Err(e) if missing(&e) => {}
            Err(e) => return Err(in_file(format!("{OWN_LIMITS}/{own}"), e)),
            Ok(()) => {}
        }
    }
    Ok(())
}

/// `error`, of the file `file`: named in the message, kept (its kind, and its errno as
/// the source, which `netns` sends on).
pub(crate) fn in_file(file: String, error: io::Error) -> io::Error {
    io::Error::new(
        error.kind(),
        InFile {
            file,
            source: error,
        },
    )
}

/// An error of one file's: its path, then the error itself.
#[derive(Debug)]
struct InFile {
    file: String,
    source: io::Error,
}

impl std::fmt::Display for InFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "`{}`: {}", self.file, self.source)
    }
}

impl std::error::Error for InFile {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.source)
    }
}

/// The number in the sysctl file `name` beneath `dir`.
fn read_limit(dir: &std::os::fd::OwnedFd, name: &str) -> io::Result<u64> {
    use rustix::fs::{Mode, OFlags};
    let file = File::from(rustix::fs::openat(
        dir,
        name,
        OFlags::RDONLY | OFlags::CLOEXEC,
        Mode::empty(),
    )?);
    let mut buf = [0u8; 24];
    let text = read_small_from(file, &mut buf)?;
    std::str::from_utf8(text)
        .ok()
        .and_then(|t| t.trim().parse::<u64>().ok())
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "not a number"))
}

/// Reads a small file into `buf` without allocating; the bytes read.
fn read_small<'a>(path: &str, buf: &'a mut [u8]) -> io::Result<&'a [u8]> {
    read_small_from(File::open(path)?, buf)
}

/// [`read_small`] of an open file. The files read so here (sysctls, `/proc/self/status`)
/// are made whole at the first read, so a short read that ends a line is their end (not
/// so for a proc file made a record at a time, mountinfo say: never read here).
fn read_small_from(mut file: File, buf: &mut [u8]) -> io::Result<&[u8]> {
    let mut len = 0;
    while let Some(rest) = buf.get_mut(len..) {
        if rest.is_empty() {
            break;
        }
        let room = rest.len();
        match file.read(rest) {
            Ok(0) => break,
            Ok(n) => {
                len += n;
                if n < room && buf.get(len - 1) == Some(&b'\n') {
                    break;
                }
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(buf.get(..len).unwrap_or_default())
}

/// The value of `name:` in `/proc/self/status` text, a hexadecimal mask.
fn status_mask(status: &[u8], name: &str) -> Option<u64> {
    status.split(|&b| b == b'\n').find_map(|line| {
        let rest = line.strip_prefix(name.as_bytes())?.strip_prefix(b":")?;
        u64::from_str_radix(std::str::from_utf8(rest).ok()?.trim(), 16).ok()
    })
}

/// Checks that every capability set is empty: from `/proc/self/status`, the kernel's
/// own account of all five sets, if it can be read (it may not be mounted in the
/// sandbox) and names them all; otherwise through the system calls, one capability at
/// a time.
fn verify_no_capabilities(bounding_kept: bool) -> Result<(), HardenError> {
    let mut buf = [0u8; 8192];
    if let Ok(status) = read_small("/proc/self/status", &mut buf) {
        let mut all_read = true;
        for set in CAP_SETS
            .into_iter()
            .filter(|s| !(bounding_kept && *s == "CapBnd"))
        {
            match status_mask(status, set) {
                Some(0) => {}
                Some(mask) => {
                    return Err(HardenError::CapabilitiesRemain {
                        set,
                        mask,
                        how: "/proc/self/status",
                    })
                }
                None => all_read = false,
            }
        }
        if all_read {
            return Ok(());
        }
    }

    let how = "capget, PR_CAPBSET_READ, PR_CAP_AMBIENT_IS_SET";
    let data = capget()?;
    let join = |f: fn(&CapData) -> u32| {
        let [low, high] = data;
        u64::from(f(&low)) | (u64::from(f(&high)) << 32)
    };
    for (set, mask) in [
        ("CapInh", join(|d| d.inheritable)),
        ("CapPrm", join(|d| d.permitted)),
        ("CapEff", join(|d| d.effective)),
    ] {
        if mask != 0 {
            return Err(HardenError::CapabilitiesRemain { set, mask, how });
        }
    }
    let mut bounding = 0u64;
    let mut ambient = 0u64;
    for cap in 0..=MAX_CAP {
        match prctl(libc::PR_CAPBSET_READ, libc::c_ulong::from(cap)) {
            Ok(0) => {}
            Ok(_) => bounding |= 1 << cap,
            Err(_) => break,
        }
        let is_set = libc::PR_CAP_AMBIENT_IS_SET as libc::c_ulong;
        // SAFETY: integer arguments only; the fourth is the capability number.
        let r = unsafe {
            libc::prctl(
                libc::PR_CAP_AMBIENT,
                is_set,
                libc::c_ulong::from(cap),
                NO_ARG,
                NO_ARG,
            )
        };
        if r > 0 {
            ambient |= 1 << cap;
        }
    }
    for (set, mask) in [("CapBnd", bounding), ("CapAmb", ambient)] {
        if mask != 0 && !(bounding_kept && set == "CapBnd") {
            return Err(HardenError::CapabilitiesRemain { set, mask, how });
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------
// File descriptors

/// Closes every file descriptor from 3 up except those in `keep` (negative numbers and
/// 0–2 in it are ignored; 0–2 always stay open).
///
/// Uses `close_range(2)` on the ranges between kept descriptors (no allocation); on a
/// kernel without it (`ENOSYS`, before 5.9), lists `/proc/self/fd` instead.
pub fn close_inherited_fds(keep: &[i32]) -> Result<(), HardenError> {
    match close_ranges(keep) {
        Ok(()) => Ok(()),
        Err(e) if e.raw_os_error() == Some(libc::ENOSYS) => close_listed(keep),
        Err(source) => Err(HardenError::CloseFds {
            call: "close_range",
            source,
        }),
    }
}

fn close_ranges(keep: &[i32]) -> io::Result<()> {
    let mut first: u32 = 3;
    loop {
        let next_kept = keep
            .iter()
            .filter_map(|&fd| u32::try_from(fd).ok())
            .filter(|&fd| fd >= first)
            .min();
        let last = match next_kept {
            Some(kept) if kept == first => None,
            Some(kept) => Some(kept - 1),
            None => Some(u32::MAX),
        };
        if let Some(last) = last {
            // SAFETY: close_range takes two descriptor numbers and flags; it closes the
            // descriptors of this process in that range, which nothing in this process
            // uses any more (the caller keeps what it needs).
            let r = unsafe {
                libc::syscall(
                    libc::SYS_close_range,
                    libc::c_uint::from(first),
                    libc::c_uint::from(last),
                    libc::c_uint::from(0u8),
                )
            };
            if r != 0 {
                return Err(io::Error::last_os_error());
            }
        }
        match next_kept.and_then(|kept| kept.checked_add(1)) {
            Some(next) => first = next,
            None => return Ok(()),
        }
    }
}

fn close_listed(keep: &[i32]) -> Result<(), HardenError> {
    let listing = |source| HardenError::CloseFds {
        call: "listing /proc/self/fd",
        source,
    };
    let mut open = Vec::new();
    for entry in std::fs::read_dir("/proc/self/fd").map_err(listing)? {
        let entry = entry.map_err(listing)?;
        if let Some(fd) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<i32>().ok())
        {
            if fd >= 3 && !keep.contains(&fd) {
                open.push(fd);
            }
        }
    }
    // The listing's own descriptor is closed by now; closing it again gives EBADF, and so
    // does any other that is already gone: nothing to do about either.
    for fd in open {
        // SAFETY: closes a descriptor of this process that the caller does not keep.
        unsafe { libc::close(fd) };
    }
    Ok(())
}

// ---------------------------------------------------------------------------------
// no_new_privs

/// Sets `no_new_privs` on the calling thread: from here on, `execve` grants no
/// privileges (set-user-ID bits and file capabilities are ignored). Inherited by every
/// child; cannot be unset. Needed by seccomp and Landlock for unprivileged processes.
pub fn set_no_new_privs() -> Result<(), HardenError> {
    prctl(libc::PR_SET_NO_NEW_PRIVS, 1)
        .map(|_| ())
        .map_err(HardenError::NoNewPrivs)
}

// ---------------------------------------------------------------------------------
// Landlock

/// What [`apply_landlock`] does where the kernel cannot enforce every rule.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum LandlockMode {
    /// Refuse ([`HardenError::LandlockUnavailable`], [`HardenError::LandlockIncomplete`])
    /// unless the kernel enforces every rule (ABI [`LANDLOCK_FULL_ABI`] or later).
    #[default]
    Required,
    /// Enforce what the kernel can, and say how much in [`LandlockStatus::enforced`].
    BestEffort,
}

/// How much of the ruleset the kernel enforces.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Enforcement {
    FullyEnforced,
    /// The kernel's Landlock is older than [`LANDLOCK_FULL_ABI`]: some rights (truncate,
    /// device ioctl, cross-directory rename, TCP ports, by age) are not restricted.
    PartiallyEnforced,
    /// The kernel has no Landlock: nothing is restricted by it.
    NotEnforced,
}

/// What [`apply_landlock`] did, for the caller to report.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LandlockStatus {
    /// The kernel's Landlock ABI version; `None` without Landlock.
    pub abi: Option<u8>,
    pub enforced: Enforcement,
    /// Rule paths that do not exist in the sandbox (their rules were left out, which
    /// only denies more).
    pub skipped_paths: Vec<String>,
}

/// The running kernel's Landlock ABI version, or `None` if it has no Landlock (not built
/// in, or not enabled at boot). Creates nothing.
pub fn landlock_abi() -> Option<u8> {
    probe_landlock().ok()
}

fn probe_landlock() -> io::Result<u8> {
    // SAFETY: with LANDLOCK_CREATE_RULESET_VERSION, a null attribute and a size of 0, the
    // kernel only returns its ABI version; it reads no memory and creates nothing.
    let v = unsafe {
        libc::syscall(
            libc::SYS_landlock_create_ruleset,
            std::ptr::null::<libc::c_void>(),
            0usize,
            LANDLOCK_CREATE_RULESET_VERSION,
        )
    };
    if v > 0 {
        Ok(u8::try_from(v).unwrap_or(u8::MAX))
    } else if v == 0 {
        Err(io::Error::from_raw_os_error(libc::ENOSYS))
    } else {
        Err(io::Error::last_os_error())
    }
}

/// A ruleset built and not yet enforced: [`PreparedLandlock::restrict`] enforces it on
/// the calling thread; [`PreparedLandlock::defer`] hands its descriptor to a process that
/// enforces it later (a warm interpreter, once its workspace is attached).
#[derive(Debug)]
pub struct PreparedLandlock {
    ruleset: landlock::RulesetCreated,
    mode: LandlockMode,
    abi: Option<u8>,
    skipped_paths: Vec<String>,
}

/// A rule left out of a prepared ruleset, to be added once its path exists: the path and
/// the access rights, as the kernel's bit mask for this ruleset.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeferredRule {
    pub path: String,
    pub access: u64,
}

fn abi_of(version: u8) -> ABI {
    match version {
        0 => ABI::Unsupported,
        1 => ABI::V1,
        2 => ABI::V2,
        3 => ABI::V3,
        4 => ABI::V4,
        _ => ABI::V5,
    }
}

/// Restricts the calling thread (and everything it starts afterwards) with the bundle's
/// Landlock rules.
///
/// Every filesystem right of Landlock ABI 5 is handled (denied unless a rule allows it),
/// reduced by the crate's best-effort compatibility to what the running kernel knows.
/// Each [`LandlockPath`](phantom_bundle::LandlockPath) is a path inside the sandbox,
/// opened with `O_PATH`: [`Access::ReadExecute`] allows reading files, listing
/// directories and executing beneath it; [`Access::ReadWrite`] allows every right. A
/// rule on a file gets only the rights that apply to files. A path that does not exist
/// is left out and listed in [`LandlockStatus::skipped_paths`]. With `restrict_net`, TCP
/// `bind` and `connect` are handled too, and allowed only to the listed ports (an empty
/// list denies all).
///
/// With [`LandlockMode::Required`], the kernel's ABI is checked before anything is
/// enforced. Sets `no_new_privs`, which Landlock needs. Allocates (path names).
pub fn apply_landlock(rules: &Landlock, mode: LandlockMode) -> Result<LandlockStatus, HardenError> {
    prepare_landlock(rules, mode, &[])?.0.restrict()
}

/// Builds the ruleset for `rules` without enforcing it, leaving out the rules for the
/// paths in `defer` (a workspace not bound yet: Landlock rules name inodes, and a rule
/// on an empty mount point does not cover what is mounted there later). Returns the
/// rules left out, with their access masks.
pub fn prepare_landlock(
    rules: &Landlock,
    mode: LandlockMode,
    defer: &[String],
) -> Result<(PreparedLandlock, Vec<DeferredRule>), HardenError> {
    let probed = probe_landlock();
    let abi = probed.as_ref().ok().copied();
    if mode == LandlockMode::Required {
        match probed {
            Err(source) => return Err(HardenError::LandlockUnavailable { source }),
            Ok(abi) if abi < LANDLOCK_FULL_ABI => {
                return Err(HardenError::LandlockIncomplete {
                    abi,
                    needed: LANDLOCK_FULL_ABI,
                })
            }
            Ok(_) => {}
        }
    }

    let ruleset_error = |step: String| move |source| HardenError::LandlockRuleset { step, source };
    let all = AccessFs::from_all(TARGET_ABI);
    let tcp = AccessNet::BindTcp | AccessNet::ConnectTcp;
    let mut ruleset = Ruleset::default()
        .handle_access(all)
        .map_err(ruleset_error("handling filesystem access".into()))?;
    if rules.restrict_net {
        ruleset = ruleset
            .handle_access(tcp)
            .map_err(ruleset_error("handling TCP bind and connect".into()))?;
    }
    // ABI 6: signals and abstract Unix sockets stay within the sandbox's own
    // processes. In direct mode that is what keeps the workload from signalling or
    // connecting to the host's other processes.
    if abi.is_some_and(|abi| abi >= 6) {
        ruleset = ruleset
            .scope(Scope::from_all(ABI::V6))
            .map_err(ruleset_error(
                "scoping signals and abstract Unix sockets".into(),
            ))?;
    }
    let mut ruleset = ruleset.create().map_err(ruleset_error("create".into()))?;

    // What the kernel handles of what we ask (the crate downgrades to its ABI): the
    // masks of deferred rules must stay within it.
    let effective = abi_of(abi.unwrap_or(0).min(LANDLOCK_FULL_ABI));
    let mut deferred = Vec::new();
    let mut skipped_paths = Vec::new();
    for rule in &rules.paths {
        if defer.contains(&rule.path) {
            let access = match rule.access {
                Access::ReadExecute => AccessFs::from_read(effective),
                Access::ReadWrite => AccessFs::from_all(effective),
            };
            deferred.push(DeferredRule {
                path: rule.path.clone(),
                access: access.bits(),
            });
            continue;
        }
        let fd = match PathFd::new(&rule.path) {
            Ok(fd) => fd,
            Err(e) => {
                let source = match e.source().and_then(|s| s.downcast_ref::<io::Error>()) {
                    Some(io) => match io.raw_os_error() {
                        Some(libc::ENOENT | libc::ENOTDIR) => {
                            skipped_paths.push(rule.path.clone());
                            continue;
                        }
                        Some(errno) => io::Error::from_raw_os_error(errno),
                        None => io::Error::new(io.kind(), io.to_string()),
                    },
                    None => io::Error::other(e.to_string()),
                };
                return Err(HardenError::LandlockPath {
                    path: rule.path.clone(),
                    source,
                });
            }
        };
        let (mut access, name) = match rule.access {
            Access::ReadExecute => (AccessFs::from_read(TARGET_ABI), "read-execute"),
            Access::ReadWrite => (all, "read-write"),
        };
        if !is_directory(&fd) {
            access &= AccessFs::from_file(TARGET_ABI);
        }
        ruleset = ruleset
            .add_rule(PathBeneath::new(fd, access))
            .map_err(ruleset_error(format!("{} ({name})", rule.path)))?;
    }
    if rules.restrict_net {
        let ports = rules
            .connect_ports
            .iter()
            .map(|&p| (p, AccessNet::ConnectTcp, "connect"))
            .chain(
                rules
                    .bind_ports
                    .iter()
                    .map(|&p| (p, AccessNet::BindTcp, "bind")),
            );
        for (port, access, name) in ports {
            ruleset = ruleset
                .add_rule(NetPort::new(port, access))
                .map_err(ruleset_error(format!("TCP {name} {port}")))?;
        }
    }
    Ok((
        PreparedLandlock {
            ruleset,
            mode,
            abi,
            skipped_paths,
        },
        deferred,
    ))
}

impl PreparedLandlock {
    /// Adds the rules left out by [`prepare_landlock`], now that their paths exist (a
    /// path that still does not is left out, which only denies more).
    pub fn complete(mut self, deferred: &[DeferredRule]) -> Result<PreparedLandlock, HardenError> {
        for rule in deferred {
            let fd = match PathFd::new(&rule.path) {
                Ok(fd) => fd,
                Err(_) => {
                    self.skipped_paths.push(rule.path.clone());
                    continue;
                }
            };
            let access = landlock::BitFlags::<AccessFs>::from_bits_truncate(rule.access);
            self.ruleset = self
                .ruleset
                .add_rule(PathBeneath::new(fd, access))
                .map_err(|source| HardenError::LandlockRuleset {
                    step: rule.path.clone(),
                    source,
                })?;
        }
        Ok(self)
    }

    /// Enforces the ruleset on the calling thread.
    pub fn restrict(self) -> Result<LandlockStatus, HardenError> {
        let status = self
            .ruleset
            .restrict_self()
            .map_err(HardenError::LandlockRestrict)?;
        let enforced = match status.ruleset {
            RulesetStatus::FullyEnforced => Enforcement::FullyEnforced,
            RulesetStatus::PartiallyEnforced => Enforcement::PartiallyEnforced,
            RulesetStatus::NotEnforced => Enforcement::NotEnforced,
        };
        if self.mode == LandlockMode::Required && enforced != Enforcement::FullyEnforced {
            // Not expected after the check above; the thread is restricted as far as the
            // kernel could, and the caller must not run the workload.
            return Err(HardenError::LandlockIncomplete {
                abi: self.abi.unwrap_or(0),
                needed: LANDLOCK_FULL_ABI,
            });
        }
        Ok(LandlockStatus {
            abi: self.abi,
            enforced,
            skipped_paths: self.skipped_paths,
        })
    }

    /// The ruleset's descriptor, for a process that adds the deferred rules and
    /// enforces it itself (`None` where the kernel has no Landlock), and how much of it
    /// the kernel will enforce.
    pub fn defer(self) -> (Option<std::os::fd::OwnedFd>, LandlockStatus) {
        let enforced = match self.abi {
            None => Enforcement::NotEnforced,
            Some(abi) if abi < LANDLOCK_FULL_ABI => Enforcement::PartiallyEnforced,
            Some(_) => Enforcement::FullyEnforced,
        };
        let status = LandlockStatus {
            abi: self.abi,
            enforced,
            skipped_paths: self.skipped_paths,
        };
        (self.ruleset.into(), status)
    }
}

/// Whether an `O_PATH` descriptor is a directory; true if it cannot be told (the
/// crate then checks again, and reports the error). One `fstat` on the descriptor
/// itself (which `O_PATH` allows), not a duplicate to read metadata through.
fn is_directory(fd: &PathFd) -> bool {
    use std::os::fd::AsRawFd;
    // SAFETY: `stat` is plain old data, zeroed is a valid value, and fstat writes only
    // into it; the descriptor is borrowed from `fd` for the call.
    let mut stat: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: as above.
    if unsafe { libc::fstat(fd.as_fd().as_raw_fd(), &mut stat) } != 0 {
        return true;
    }
    stat.st_mode & libc::S_IFMT == libc::S_IFDIR
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "test code")]

    use super::*;

    #[test]
    fn an_error_of_a_file_names_it_and_keeps_the_kernels_error() {
        let e = in_file(
            "/proc/sys/user/max_inotify_instances".into(),
            io::Error::from_raw_os_error(libc::EACCES),
        );
        assert_eq!(e.kind(), io::ErrorKind::PermissionDenied);
        assert!(
            e.to_string()
                .starts_with("`/proc/sys/user/max_inotify_instances`: "),
            "{e}"
        );
        let inner = e.get_ref().and_then(std::error::Error::source);
        let errno = inner
            .and_then(|s| s.downcast_ref::<io::Error>())
            .and_then(io::Error::raw_os_error);
        assert_eq!(errno, Some(libc::EACCES));
    }

    #[test]
    fn the_budgets_are_never_lowered_in_the_initial_user_namespace() {
        use std::os::unix::fs::MetadataExt;
        let here = std::fs::metadata("/proc/self/ns/user").unwrap().ino();
        if here != INITIAL_USER_NAMESPACE {
            return; // in some other namespace the call would change that one's limits
        }
        let host = || std::fs::read_to_string("/proc/sys/fs/inotify/max_user_instances").unwrap();
        let before = host();
        let e = limit_user_budgets().unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::EPERM));
        assert_eq!(host(), before);
    }

    #[test]
    fn a_sandbox_gets_a_quarter_of_each_budget_and_never_none() {
        assert_eq!(budget_share(128), 32);
        assert_eq!(budget_share(192_546), 48_136);
        assert_eq!(budget_share(3), 1);
        assert_eq!(budget_share(0), 1);
    }

    #[test]
    fn status_masks_are_parsed() {
        let status = b"Name:\tcat\nCapInh:\t0000000000000000\nCapPrm:\t000001ffffffffff\n\
                       CapBnd:\t0000000000000000\n";
        assert_eq!(status_mask(status, "CapInh"), Some(0));
        assert_eq!(status_mask(status, "CapPrm"), Some(0x1ff_ffff_ffff));
        assert_eq!(status_mask(status, "CapBnd"), Some(0));
        assert_eq!(status_mask(status, "CapAmb"), None);
        assert_eq!(status_mask(status, "Cap"), None);
    }

    #[test]
    fn errors_name_the_step_and_the_fix() {
        let e = HardenError::Rlimit {
            resource: RlimitResource::Nofile,
            value: None,
            source: io::Error::from_raw_os_error(libc::EPERM),
        };
        let text = e.to_string();
        assert!(text.contains("RLIMIT_NOFILE to unlimited"), "{text}");
        assert!(text.contains("nr_open"), "{text}");

        let e = HardenError::BoundingSet {
            cap: 21,
            source: io::Error::from_raw_os_error(libc::EPERM),
        };
        let text = e.to_string();
        assert!(text.contains("capability 21"), "{text}");
        assert!(text.contains("CAP_SETPCAP"), "{text}");

        let e = HardenError::LandlockUnavailable {
            source: io::Error::from_raw_os_error(libc::EOPNOTSUPP),
        };
        assert!(e.to_string().contains("lsm="), "{e}");
        let e = HardenError::LandlockIncomplete { abi: 3, needed: 5 };
        assert!(e.to_string().contains("ABI 3"), "{e}");

        let e = HardenError::CapabilitiesRemain {
            set: "CapBnd",
            mask: 1 << 21,
            how: "/proc/self/status",
        };
        assert!(
            e.to_string().contains("CapBnd is 0x0000000000200000"),
            "{e}"
        );
    }
}
