//! The keeper: the host process that owns a persistent workspace's resident sandbox.
//!
//! [`spawn`] forks twice, so the keeper is no child of the command that created the
//! workspace (which exits) and belongs to no terminal (its own session). The keeper
//! binds the workspace's control socket, starts the resident sandbox (whose init dies
//! with the keeper), tells its creator the sandbox's init pid and cgroups over a pipe,
//! and then waits: on SIGTERM, SIGINT or SIGHUP ([`stop`]) it kills the sandbox and
//! removes its cgroups; if the sandbox ends by itself it does the same and writes why
//! to the workspace's `ended` file. Either way it removes the socket and exits.

use std::io::{self, Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::net::UnixListener;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use phantom_bundle::Bundle;
use serde::{Deserialize, Serialize};

use super::exec::{ExecError, ExecOptions, Overrides};
use super::resident::{self, Ended};
use super::sys;
use crate::cgroup::SessionDir;

/// What the keeper reports once its sandbox stands.
#[derive(Debug, Serialize, Deserialize)]
pub struct Started {
    pub keeper_pid: i32,
    pub init_pid: i32,
    pub cgroup_name: String,
    pub cgroup_dirs: Vec<SessionDir>,
    /// The limits written (`memory limit 1 GiB`, ...).
    pub limits: Vec<String>,
    pub not_enforced: Vec<String>,
}

/// Where a keeper works: the workspace's directory, the directory bound as its
/// workspace, and the control socket's path.
#[derive(Clone, Debug)]
pub struct Place {
    pub dir: PathBuf,
    pub files: PathBuf,
    pub socket: PathBuf,
}

/// How long [`stop`] waits for a keeper to clean up before killing it.
const STOP_GRACE: Duration = Duration::from_secs(5);

/// Starts a keeper with a resident sandbox built from `bundle` for the workspace at
/// `place`, and waits until the sandbox stands (or says why it cannot). The caller
/// must be single-threaded (it forks).
pub fn spawn(place: &Place, bundle: &Bundle, allow_degraded: bool) -> Result<Started, ExecError> {
    let _ = std::fs::remove_file(&place.socket);
    let _ = std::fs::remove_file(place.dir.join("ended"));
    // Never open to others, not even for an instant.
    let listener = sys::with_umask(0o177, || UnixListener::bind(&place.socket))?;
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(place.dir.join("keeper.log"))?;
    let (mut ready_read, ready_write) = io::pipe()?;
    match sys::fork()? {
        0 => {
            drop(ready_read);
            // The intermediate: forks the keeper and ends, so the keeper is nobody's
            // child but init's (or a subreaper's).
            match sys::fork() {
                Ok(0) => keeper_main(place, bundle, allow_degraded, listener, log, ready_write),
                _ => sys::exit_now(0),
            }
        }
        intermediate => {
            drop(listener);
            drop(log);
            drop(ready_write);
            let _ = sys::waitpid(intermediate, 0);
        }
    }
    let mut said = String::new();
    ready_read.read_to_string(&mut said)?;
    let said = said.trim();
    if let Some(message) = said.strip_prefix("E ") {
        return Err(ExecError::Override(message.to_string()));
    }
    serde_json::from_str(said).map_err(|_| {
        ExecError::Override(format!(
            "the workspace's keeper ended before its sandbox stood (see {})",
            place.dir.join("keeper.log").display()
        ))
    })
}

/// The keeper process. Never returns.
fn keeper_main(
    place: &Place,
    bundle: &Bundle,
    allow_degraded: bool,
    listener: UnixListener,
    log: std::fs::File,
    ready: io::PipeWriter,
) -> ! {
    let _ = sys::setsid();
    // Who keeps this workspace, before anything else: if the command that started us
    // is interrupted before it records us, `phantom destroy` still finds us here.
    let me = i32::try_from(std::process::id()).unwrap_or(0);
    if let Some(ticks) = crate::workspaces::process_start_ticks(me) {
        let _ = std::fs::write(place.dir.join("keeper.pid"), format!("{me} {ticks}\n"));
    }
    // `ps` shows what it is, not the command that created it.
    let name = place
        .dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned());
    let _ = sys::set_cmdline(&format!("phantom-keeper {}", name.unwrap_or_default()));
    // Signals to stop are read, not acted on, from the start: a stop that comes while
    // the sandbox is being built waits until it can be done properly.
    let stop = match sys::signalfd_for(&[libc::SIGTERM, libc::SIGINT, libc::SIGHUP]) {
        Ok(fd) => fd,
        Err(e) => {
            let _ = (&ready).write_all(format!("E watching for stop signals: {e}").as_bytes());
            sys::exit_now(1)
        }
    };
    // No terminal, no pipe of the creator's: /dev/null in and out, the log as stderr.
    let stdio = std::fs::File::open("/dev/null").and_then(|null| {
        sys::dup2(null.as_raw_fd(), 0)?;
        sys::dup2(null.as_raw_fd(), 1)?;
        sys::dup2(log.as_raw_fd(), 2)
    });
    drop(log);
    let keep = [
        0,
        1,
        2,
        stop.as_raw_fd(),
        listener.as_raw_fd(),
        ready.as_raw_fd(),
    ];
    if stdio.is_err() || crate::harden::close_inherited_fds(&keep).is_err() {
        let _ = (&ready).write_all(b"E setting up the keeper's descriptors");
        sys::exit_now(1);
    }
    let options = ExecOptions {
        workspace: Some(place.files.clone()),
        command: Vec::new(),
        overrides: Overrides::default(),
        allow_degraded,
        tty: false,
        seccomp_agent: None,
    };
    let name = place
        .dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let sandbox = match resident::start(bundle, &options, listener, &name) {
        Ok(sandbox) => sandbox,
        Err(e) => {
            let _ = (&ready).write_all(format!("E {e}").as_bytes());
            sys::exit_now(1)
        }
    };
    let started = Started {
        keeper_pid: i32::try_from(std::process::id()).unwrap_or(0),
        init_pid: sandbox.init_pid(),
        cgroup_name: sandbox
            .cgroup()
            .map(|c| c.name().to_string())
            .unwrap_or_default(),
        cgroup_dirs: sandbox
            .cgroup()
            .map(|c| c.dirs().to_vec())
            .unwrap_or_default(),
        limits: sandbox
            .cgroup()
            .map(|c| c.enforced().to_vec())
            .unwrap_or_default(),
        not_enforced: sandbox.not_enforced().to_vec(),
    };
    let told = serde_json::to_string(&started)
        .map_err(io::Error::other)
        .and_then(|json| (&ready).write_all(json.as_bytes()));
    drop(ready);
    if told.is_err() {
        drop(sandbox);
        sys::exit_now(1);
    }
    let ended = sandbox.wait(&stop, &mut |line| {
        eprintln!("phantom keeper: sandbox: {line}")
    });
    if let Ended::InitEnded(why) = &ended {
        let _ = std::fs::write(place.dir.join("ended"), why);
    }
    eprintln!("phantom keeper: {ended:?}");
    let _ = std::fs::remove_file(&place.socket);
    sys::exit_now(0)
}

/// Whether the keeper `pid` (started at `start_ticks`) is that process and alive,
/// with a descriptor for it if so.
fn open_keeper(pid: i32, start_ticks: u64) -> Option<std::os::fd::OwnedFd> {
    let pidfd = sys::pidfd_open(pid).ok()?;
    // Checked after opening: the descriptor now refers to this process whatever
    // happens to the pid.
    (crate::workspaces::process_start_ticks(pid) == Some(start_ticks)).then_some(pidfd)
}

/// Stops a keeper: SIGTERM, then (after a grace period) SIGKILL; waits for it to end.
/// A keeper that is already gone is not an error.
pub fn stop(pid: i32, start_ticks: u64) -> io::Result<()> {
    let Some(pidfd) = open_keeper(pid, start_ticks) else {
        return Ok(());
    };
    sys::pidfd_kill(&pidfd, libc::SIGTERM)?;
    if !exits_within(&pidfd, STOP_GRACE) {
        sys::pidfd_kill(&pidfd, libc::SIGKILL)?;
        exits_within(&pidfd, Duration::from_secs(1));
    }
    Ok(())
}

/// Waits up to `limit` for the process behind `pidfd` to end; whether it did.
fn exits_within(pidfd: &std::os::fd::OwnedFd, limit: Duration) -> bool {
    let started = Instant::now();
    while let Some(left) = limit.checked_sub(started.elapsed()) {
        let mut fds = [libc::pollfd {
            fd: pidfd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        }];
        let ms = i32::try_from(left.as_millis()).unwrap_or(i32::MAX).max(1);
        if let Ok(n) = sys::poll(&mut fds, ms) {
            if n > 0 {
                return true;
            }
        }
    }
    sys::pidfd_exited(pidfd)
}
