//! Resource limits through cgroups: a bundle's [`phantom_bundle::CgroupLimits`] applied
//! to the processes of one sandbox.
//!
//! - [`detect`]: which layout the host has (v2 unified, v1 legacy, or a hybrid of both),
//!   where each controller lives, and where our own process is in each hierarchy,
//!   from `/proc/self/cgroup` and `/proc/self/mountinfo` (no path is assumed).
//! - [`CgroupSession`]: creates `phantom-<pid>-<n>` beneath our own cgroup in every
//!   hierarchy needed, writes the limits (v2 `memory.max`, `memory.swap.max`, `cpu.max`,
//!   `pids.max`, `io.weight`; v1 `memory.limit_in_bytes`, `memory.memsw.limit_in_bytes`
//!   = memory + swap, `cpu.cfs_period_us`/`cpu.cfs_quota_us`, `pids.max`,
//!   `blkio.weight`), adds processes, reads what the limits did ([`LimitEvents`]), kills
//!   everything inside and removes itself (also on drop).
//! - [`sweep_stale`]: removes the directories of runtimes that died without cleaning up.
//!
//! Rules kept throughout: cgroups are created only beneath our own cgroup (per
//! hierarchy) and removed again; nothing else is changed except, on cgroup v2,
//! `+controller` in our own cgroup's `cgroup.subtree_control` when the kernel's rules
//! allow it (our cgroup is the root, or holds no processes), and, only if asked
//! ([`CgroupOptions::move_self_to_leaf`]), moving phantom's own process into a leaf.
//! Other processes are never moved or signalled: `kill_all` signals only the processes
//! in the session's own directories.
//!
//! Where a limit cannot be enforced (no such controller, no permission, no swap
//! accounting, ...), creation fails with a [`CgroupError`] that names the limit and the
//! fix, or, with [`CgroupOptions::allow_degraded`], goes on and lists the limit in
//! [`CgroupSession::not_enforced`].
//!
//! All kernel access goes through [`CgroupFs`]; [`fake::FakeFs`] models the kernel's
//! cgroup rules in memory for tests.
//!
//! ```no_run
//! use phantom_bundle::{CgroupLimits, CpuQuota};
//! use phantom_runtime::cgroup::CgroupSession;
//!
//! # fn main() -> Result<(), phantom_runtime::cgroup::CgroupError> {
//! let limits = CgroupLimits {
//!     memory_max: Some(64 << 20),
//!     swap_max: Some(0),
//!     cpu: Some(CpuQuota { quota_us: 50_000, period_us: 100_000 }),
//!     pids_max: Some(16),
//!     io_weight: None,
//! };
//! let session = CgroupSession::create(&limits, "build")?;
//! # let child_pid = 1;
//! session.add(child_pid)?; // before the child execs the workload
//! // ... wait for the workload ...
//! let events = session.events()?;
//! session.destroy()?; // kills what is left, removes the directories
//! # let _ = events;
//! # Ok(())
//! # }
//! ```

mod detect;
mod error;
pub mod fake;
mod fs;
pub mod scope;
mod session;

#[cfg(test)]
mod tests;

pub use detect::{Controller, Detection, Hierarchy, Layout, Probe, Version};
pub use error::CgroupError;
pub use fs::{CgroupFs, RealFs};
pub use session::{
    sweep_stale, sweep_stale_detected, sweep_stale_with, CgroupOptions, CgroupSession, LimitEvents,
    SessionDir, SweepReport, DEFAULT_PREFIX,
};
// How names made by a runtime process (`<prefix>-<pid>-<n>.<pid namespace>…`) are read,
// for other leftovers swept the same way (direct mode's private HOME).
pub(crate) use session::{namespace_tag, own_namespace_tag, stale_pid};

/// What this host offers, from the real `/proc` (see [`Detection::detect`]).
pub fn detect() -> Result<Detection, CgroupError> {
    Detection::detect(&RealFs)
}
