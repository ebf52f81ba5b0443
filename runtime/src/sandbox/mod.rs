//! `phantom exec`: runs a bundle's workload in a fresh sandbox.
//!
//! Three processes, set up in this order (each failure names its step):
//!
//! 1. **phantom** (the caller): loads the bundle, binds the run-time variables, clones
//!    the sandbox's init into new user, mount, pid, ipc and uts namespaces, writes its
//!    uid/gid maps (to the caller's ids, or as root to an unprivileged user's:
//!    `identity`) and lets it build its root; meanwhile it has the sandbox's network
//!    namespace made (for `network none`; `netns`) and creates the cgroups,
//!    sends the workload both, and only then lets it go (so every workload process is
//!    in the cgroups and the network namespace before it runs anything of its own). It
//!    then supervises: forwards SIGINT/SIGTERM/SIGHUP, enforces the timeout, reads the
//!    result, reports which limit ended the run, and removes the cgroups.
//! 2. **init** (pid 1 of the new pid namespace; dies with phantom through
//!    PR_SET_PDEATHSIG; waits for its id maps): makes every mount private, captures the
//!    bind sources, builds the new root from the mount plan on an empty tmpfs, seals it
//!    read-only and pivots into it, the host's root left stacked on it; forks the
//!    workload without waiting for phantom, then detaches the host's root (the umount
//!    waits for an RCU grace period, now beside the workload's wait), sets the
//!    hostname, joins the network namespace phantom sends it with the go-ahead
//!    (`/proc/1/net` is readable to the workload) and tells the workload. It reaps
//!    zombies, forwards signals, and when the workload ends kills whatever is left in
//!    the namespace and reports the status. It never enters the cgroups (but on a
//!    cgroup-v2-only host, where it is born in them), so these empty with the workload.
//! 3. **workload**: once phantom lets it go, into the cgroups and the network
//!    namespace; once init has said the host's root is gone (until then it resolves no
//!    path: a `..` reaching `/` would step into the old root stacked there), new
//!    session, terminal, working directory, Landlock (built and enforced), its own
//!    cgroup namespace; rlimits, inherited fds closed, capabilities dropped,
//!    no_new_privs, the seccomp filter last, then execve. (Direct mode's workload
//!    builds and enforces its ruleset after no_new_privs.)
//!
//! In direct mode (no namespaces) there is no init: phantom's child waits until it is
//! in the cgroup and becomes the workload itself.

mod fallback;
mod listen_checks;
mod mounts;
mod netns;
mod seccomp_agent;
mod sys;
mod vars;

pub mod exec;
pub mod identity;
pub mod keeper;
pub mod resident;
pub mod serve;
pub mod zygote;

pub use exec::{run, ExecError, ExecOptions, Outcome, Overrides};
pub use seccomp_agent::SeccompAgent;
pub use sys::canonicalize;
pub use vars::Vars;
