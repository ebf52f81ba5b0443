//! A sandbox's network namespace, made beside its init instead of by cloning init
//! into one.
//!
//! Creating a network namespace is the costliest single step of a cold start (about
//! 0.3 ms of the clone here: loopback's registration, the per-namespace sysctl tables),
//! and cloning init into one puts all of it before init can start building its root.
//! Instead phantom, once init exists and its id maps are written, starts a short-lived
//! helper that joins init's user namespace, creates the network namespace there (so it
//! is owned by the sandbox's user namespace, exactly as a clone would make it), brings
//! loopback up, and hands back a descriptor of it. That work runs on phantom's CPU
//! while init builds its root on the other. The process that is to be in it joins it
//! (`setns`) when it receives the descriptor with its cgroups' (`exec::move_in`):
//! exec's workload before it runs anything of its own (phantom sends init a copy too,
//! and init joins before it lets the workload go on, since `/proc/1/net` shows init's
//! namespace to the workload), a parked or resident sandbox's init before it forks
//! any workload. The sandbox's processes end up where a clone would have put them;
//! only the order of the work changes.
//!
//! The helper is phantom's own child in the host's pid namespace, sharing phantom's
//! memory and descriptor table (`sys::NetnsHelper`: no fork's copy of phantom, and the
//! descriptor it opens is phantom's at once); it exits as soon as the descriptor is
//! there (the descriptor keeps the namespace alive), and phantom reaps it before going
//! on, so it outlives nothing.

use std::io;
use std::os::fd::OwnedFd;

use super::sys;

/// Why the sandbox's network namespace could not be made.
#[derive(Debug, thiserror::Error)]
pub enum NetnsError {
    #[error("{step}: {error}")]
    Helper {
        step: &'static str,
        error: io::Error,
    },
    #[error("opening the sandbox's user namespace: {0}")]
    UserNamespace(io::Error),
    #[error("starting the helper that makes the network namespace: {0}")]
    Fork(io::Error),
    #[error("waiting for the helper that makes the network namespace: {0}")]
    Receive(io::Error),
}

/// What the helper was doing when it failed, in the words of the error.
fn describe(call: sys::NetnsCall) -> &'static str {
    match call {
        sys::NetnsCall::JoinUserNamespace => "joining the sandbox's user namespace",
        sys::NetnsCall::Create => "creating the network namespace",
        sys::NetnsCall::Loopback => "bringing loopback up in the new network namespace",
        sys::NetnsCall::Open => "opening the new network namespace",
    }
}

/// A helper at work on a network namespace; [`Pending::finish`] collects it. Dropped
/// unfinished (phantom gave up on the run), it kills and reaps the helper and closes
/// what it made.
#[must_use = "the helper must be finished or dropped (which kills it)"]
pub struct Pending(sys::NetnsHelper);

/// A descriptor of the user namespace of `pid` (the sandbox's init), for [`start`].
///
/// Opening it takes the right to inspect init (ptrace's read access), which init gives
/// up once it has its id maps (it makes itself non-dumpable), so this comes first.
pub fn user_namespace_of(pid: libc::pid_t) -> Result<OwnedFd, NetnsError> {
    std::fs::File::open(format!("/proc/{pid}/ns/user"))
        .map(OwnedFd::from)
        .map_err(NetnsError::UserNamespace)
}

/// Starts making a network namespace owned by the user namespace `owner` (the
/// sandbox's, id maps written), with loopback up.
pub fn start(owner: OwnedFd) -> Result<Pending, NetnsError> {
    sys::NetnsHelper::start(owner)
        .map(Pending)
        .map_err(NetnsError::Fork)
}

impl Pending {
    /// Waits for the helper: the namespace's descriptor, or why it could not be made.
    pub fn finish(self) -> Result<OwnedFd, NetnsError> {
        match self.0.finish().map_err(NetnsError::Receive)? {
            Ok(fd) => Ok(fd),
            Err((call, error)) => Err(NetnsError::Helper {
                step: describe(call),
                error,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic, reason = "test code")]
    use super::*;

    #[test]
    fn a_helper_that_cannot_join_says_which_step_failed() {
        // Not a user namespace: setns refuses it, and the helper reports that step.
        let owner = OwnedFd::from(std::fs::File::open("/dev/null").unwrap());
        match start(owner).unwrap().finish() {
            Err(NetnsError::Helper { step, error }) => {
                assert_eq!(step, "joining the sandbox's user namespace");
                assert_eq!(error.raw_os_error(), Some(libc::EINVAL), "{error}");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_helpers_failure_names_its_step_and_errno() {
        let error = NetnsError::Helper {
            step: describe(sys::NetnsCall::Loopback),
            error: io::Error::from_raw_os_error(libc::EPERM),
        }
        .to_string();
        assert!(
            error.starts_with("bringing loopback up in the new network namespace: "),
            "{error}"
        );
        assert!(error.contains("Operation not permitted"), "{error}");
    }
}
