//! A sandbox's network namespace, made beside its init instead of by cloning init
//! into one.
//!
//! Creating a network namespace is the costliest single step of a cold start (about
//! 0.3 ms of the clone here: loopback's registration, the per-namespace sysctl tables),
//! and cloning init into one puts all of it before init can start building its root.
//! Instead phantom, once init exists and its id maps are written, forks a short-lived
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
//! The helper is phantom's own child in the host's pid namespace; it exits as soon as
//! it has sent the descriptor (the descriptor keeps the namespace alive), and phantom
//! reaps it before going on, so it outlives nothing.

use std::io;
use std::os::fd::{AsRawFd, OwnedFd};

use super::sys;

/// The step of the helper that failed, sent back with its errno.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Step {
    JoinUserNamespace = 1,
    Create = 2,
    Loopback = 3,
    Open = 4,
    Budgets = 5,
}

impl Step {
    fn from_code(code: i32) -> Option<Step> {
        [
            Step::JoinUserNamespace,
            Step::Create,
            Step::Loopback,
            Step::Open,
            Step::Budgets,
        ]
        .into_iter()
        .find(|s| *s as i32 == code)
    }

    fn describe(self) -> &'static str {
        match self {
            Step::JoinUserNamespace => "joining the sandbox's user namespace",
            Step::Create => "creating the network namespace",
            Step::Loopback => "bringing loopback up in the new network namespace",
            Step::Open => "opening the new network namespace",
            Step::Budgets => crate::harden::LIMITING_BUDGETS,
        }
    }
}

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
    #[error("receiving the network namespace from its helper: {0}")]
    Receive(io::Error),
}

/// A helper's failure as the four bytes it sends first: step in the high half, errno
/// low: the error's own, or that of the error it wraps (one naming its file, say), or
/// EIO for one with none.
fn encode(step: Step, error: &io::Error) -> i32 {
    let wrapped = || {
        let inner = error.get_ref()?;
        std::error::Error::source(inner)?
            .downcast_ref::<io::Error>()?
            .raw_os_error()
    };
    let errno = error.raw_os_error().or_else(wrapped).unwrap_or(libc::EIO);
    ((step as i32) << 16) | (errno & 0xffff)
}

/// What follows the four bytes: nothing for a plain errno, which says it all; the
/// error's own words otherwise (which file, what was wrong with it).
fn detail(error: &io::Error) -> String {
    match error.raw_os_error() {
        Some(_) => String::new(),
        None => error.to_string(),
    }
}

fn decode(code: i32, detail: &str) -> NetnsError {
    let step = Step::from_code(code >> 16).map_or("the network namespace's helper", Step::describe);
    let errno = io::Error::from_raw_os_error(code & 0xffff);
    NetnsError::Helper {
        step,
        error: match detail {
            "" => errno,
            words => io::Error::new(errno.kind(), words.to_string()),
        },
    }
}

/// A helper at work on a network namespace; [`Pending::finish`] collects it. Dropped
/// unfinished (phantom gave up on the run), it kills and reaps the helper.
#[must_use = "the helper must be finished or dropped (which kills it)"]
pub struct Pending {
    pid: libc::pid_t,
    answer: std::os::unix::net::UnixStream,
    reaped: bool,
}

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
///
/// The caller must be single-threaded: the helper is a fork of it.
pub fn start(owner: &OwnedFd) -> Result<Pending, NetnsError> {
    let (ours, theirs) = std::os::unix::net::UnixStream::pair().map_err(NetnsError::Fork)?;
    let pid = sys::fork().map_err(NetnsError::Fork)?;
    if pid == 0 {
        drop(ours);
        helper(owner, &theirs)
    }
    Ok(Pending {
        pid,
        answer: ours,
        reaped: false,
    })
}

impl Pending {
    /// Waits for the helper: the namespace's descriptor, or why it could not be made.
    pub fn finish(mut self) -> Result<OwnedFd, NetnsError> {
        let answer = sys::recv_fd_or_bytes(self.answer.as_raw_fd());
        // A failure's words, if it sent any, up to its end of the socket.
        let mut words = Vec::new();
        if matches!(answer, Ok(Err(_))) {
            use std::io::Read;
            let _ = (&self.answer).take(1024).read_to_end(&mut words);
        }
        let words = String::from_utf8_lossy(&words);
        // The helper exits right after answering (or has died); either way it is
        // reaped here, before anything else can go wrong.
        let _ = sys::waitpid(self.pid, 0);
        self.reaped = true;
        match answer {
            Ok(Ok(fd)) => Ok(fd),
            Ok(Err(code)) => Err(decode(code, &words)),
            Err(e) => Err(NetnsError::Receive(e)),
        }
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        if !self.reaped {
            // Our own unreaped child: its pid cannot have been reused.
            let _ = sys::kill(self.pid, libc::SIGKILL);
            let _ = sys::waitpid(self.pid, 0);
        }
    }
}

/// The helper: in the sandbox's user namespace, a new network namespace with loopback
/// up, its descriptor sent back. Never returns.
fn helper(owner: &OwnedFd, answer: &std::os::unix::net::UnixStream) -> ! {
    let made = (|| -> Result<OwnedFd, (Step, io::Error)> {
        sys::setns(owner.as_raw_fd(), libc::CLONE_NEWUSER)
            .map_err(|e| (Step::JoinUserNamespace, e))?;
        // In the sandbox's user namespace and still in view of the host's `/proc`: the
        // place to set that namespace's own limits, off init's path.
        crate::harden::limit_user_budgets().map_err(|e| (Step::Budgets, e))?;
        sys::unshare(libc::CLONE_NEWNET).map_err(|e| (Step::Create, e))?;
        sys::loopback_up().map_err(|e| (Step::Loopback, e))?;
        std::fs::File::open("/proc/self/ns/net")
            .map(OwnedFd::from)
            .map_err(|e| (Step::Open, e))
    })();
    let sent = match made {
        Ok(fd) => sys::send_fd(answer.as_raw_fd(), fd.as_raw_fd()),
        Err((step, e)) => {
            let mut message = encode(step, &e).to_le_bytes().to_vec();
            message.extend_from_slice(detail(&e).as_bytes());
            sys::send_nosignal(answer.as_raw_fd(), &message)
        }
    };
    sys::exit_now(i32::from(sent.is_err()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_helpers_failure_names_its_step_and_errno() {
        let e = io::Error::from_raw_os_error(libc::EPERM);
        let error = decode(encode(Step::Loopback, &e), &detail(&e)).to_string();
        assert!(
            error.starts_with("bringing loopback up in the new network namespace: "),
            "{error}"
        );
        assert!(error.contains("Operation not permitted"), "{error}");
    }

    #[test]
    fn an_unknown_step_is_still_reported() {
        let error = decode((9 << 16) | libc::EINVAL, "").to_string();
        assert!(
            error.starts_with("the network namespace's helper: "),
            "{error}"
        );
    }

    #[test]
    fn a_helpers_failure_without_an_errno_keeps_its_words() {
        let e = io::Error::new(
            io::ErrorKind::InvalidData,
            "`/proc/sys/fs/inotify/max_user_watches`: not a number",
        );
        let error = decode(encode(Step::Budgets, &e), &detail(&e));
        let text = error.to_string();
        assert!(text.starts_with("limiting the sandbox's share"), "{text}");
        assert!(
            text.ends_with("`/proc/sys/fs/inotify/max_user_watches`: not a number"),
            "{text}"
        );
        let NetnsError::Helper { error, .. } = error else {
            panic!("{text}")
        };
        let eio = io::Error::from_raw_os_error(libc::EIO).kind();
        assert_eq!(error.kind(), eio, "EIO's kind, as before");
    }

    #[test]
    fn a_wrapped_errno_is_sent_with_the_words() {
        let e = crate::harden::in_file(
            "/proc/sys/user/max_inotify_watches".into(),
            io::Error::from_raw_os_error(libc::EROFS),
        );
        let error = decode(encode(Step::Budgets, &e), &detail(&e));
        let NetnsError::Helper { error, .. } = error else {
            panic!("not the helper's")
        };
        assert_eq!(error.kind(), io::ErrorKind::ReadOnlyFilesystem);
        assert!(
            error
                .to_string()
                .starts_with("`/proc/sys/user/max_inotify_watches`: "),
            "{error}"
        );
    }
}
