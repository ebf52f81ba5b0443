//! The seccomp agent: the supervisor that answers the system calls a bundle's filter
//! leaves to one (`notify` rules), a program of the user's own reached over a Unix
//! socket (`phantom exec --seccomp-agent SOCKET`).
//!
//! The handover is the OCI runtimes' (runtime-spec, `linux.seccomp.listenerPath`), so
//! an agent written for runc or crun should serve phantom too: phantom connects before
//! the sandbox is made (an agent that is not there fails the run before anything
//! starts);
//! the workload installs its filter with a listener and hands the listener to phantom
//! (through a process started before the filter and so outside it,
//! [`super::sys::Courier`]); phantom sends the agent one message, the state as JSON
//! (`ContainerProcessState`) with the listener (SCM_RIGHTS), and closes the connection. From then on the agent alone holds the
//! listener: the calls it is asked about wait for its answers, and if it goes away the
//! kernel fails them (ENOSYS). Nothing is ever let through for want of an agent.
//!
//! Deliberately not here: answering notifications. phantom has no policy of its own
//! for them, and an agent can do what phantom cannot know to do (emulate a call,
//! inject a descriptor, ask a person).

use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;

use super::sys;

/// Where the agent listens, and what the state names as the sandbox's bundle.
#[derive(Clone, Debug)]
pub struct SeccompAgent {
    /// The agent's Unix socket (stream).
    pub socket: PathBuf,
    /// The bundle file the run comes from (the state's `bundle`).
    pub bundle: PathBuf,
}

/// The OCI runtime-spec version whose state format is sent.
const OCI_VERSION: &str = "1.0.2";

/// How long the handover may wait for the agent to take the message (a few hundred
/// bytes, which a connection just made takes at once).
const HANDOVER_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// Connects to the agent; done before the sandbox is made. An agent that does not
/// accept is an error at once.
pub(super) fn connect(agent: &SeccompAgent) -> io::Result<UnixStream> {
    let connection = sys::connect_unix_now(&agent.socket)?;
    connection.set_write_timeout(Some(HANDOVER_TIMEOUT))?;
    Ok(connection)
}

/// The state sent with the listener: OCI's `ContainerProcessState`. `pid` is the
/// workload's as the agent sees it (phantom's pid namespace, normally the host's).
pub(super) fn state(agent: &SeccompAgent, policy: &str, pid: Option<libc::pid_t>) -> String {
    let pid = pid.unwrap_or(0);
    serde_json::json!({
        "ociVersion": OCI_VERSION,
        "fds": ["seccompFd"],
        "pid": pid,
        "metadata": "",
        "state": {
            "ociVersion": OCI_VERSION,
            "id": format!("phantom-{}", std::process::id()),
            "status": "running",
            "pid": pid,
            "bundle": agent.bundle.display().to_string(),
            "annotations": { "org.phantom.policy": policy },
        },
    })
    .to_string()
}

/// Sends the agent the state and the listener, in one message.
pub(super) fn hand_over(connection: &UnixStream, state: &str, listener: OwnedFd) -> io::Result<()> {
    sys::send_with_fds(
        connection.as_raw_fd(),
        state.as_bytes(),
        &[listener.as_raw_fd()],
    )
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "test code")]
    use super::*;

    #[test]
    fn the_state_is_ocis_container_process_state() {
        let agent = SeccompAgent {
            socket: "/run/agent.sock".into(),
            bundle: "/srv/p.pfb".into(),
        };
        let state: serde_json::Value =
            serde_json::from_str(&state(&agent, "python-dev", Some(4242))).unwrap();
        assert_eq!(state["ociVersion"], "1.0.2");
        assert_eq!(state["fds"], serde_json::json!(["seccompFd"]));
        assert_eq!(state["pid"], 4242);
        assert_eq!(state["state"]["pid"], 4242);
        assert_eq!(state["state"]["bundle"], "/srv/p.pfb");
        assert_eq!(state["state"]["status"], "running");
        assert_eq!(
            state["state"]["annotations"]["org.phantom.policy"],
            "python-dev"
        );
    }
}
