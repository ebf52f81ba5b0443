//! Resident sandboxes: one long-lived sandbox that runs many commands (the sandbox of
//! a persistent workspace, `phantom create` / `phantom exec --in`).
//!
//! Built exactly like `phantom exec`'s (clone into the namespaces, id maps, cgroup,
//! the root from the mount plan with the workspace bound, hostname, loopback), but its
//! init starts no workload. The process that started it (the keeper) listens on the
//! workspace's Unix socket, refuses any peer that is not the user's own process outside
//! every sandbox (a sandboxed process of theirs could reach the socket file: Landlock
//! does not govern `connect`), and hands each accepted connection to init over a
//! private socketpair. No process of the sandbox holds the socketpair's other end or the
//! listener (each workload closes every descriptor it inherits). Init stays out of the
//! seccomp filter and Landlock, as in `phantom exec`; each workload hardens itself after
//! the fork, as there.
//!
//! One connection is one run:
//! - client → init: a `u32` little-endian length, a [`StartMessage`], then three
//!   descriptors (the workload's stdin, stdout and stderr), each with one byte;
//!   afterwards, any number of `S` + signal-number byte pairs to signal the run.
//! - init → client: the report lines of the run (`E <code> <message>` when the workload
//!   could not start, `N <note>`), then `X <wait status>` when its first process ends.
//! - A connection closed before `X` kills the run's process group (a client that timed
//!   out or was killed). Processes the run started in sessions of their own may stay,
//!   as the workspace's processes persist until it is destroyed; init reaps them.
//!
//! The process that called [`start`] (a workspace's keeper) is init's parent: init
//! dies with it (PR_SET_PDEATHSIG), and with init the whole pid namespace.

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;
use std::time::{Duration, Instant};

use phantom_bundle::Bundle;

use super::exec::{self, ExecError, ExecOptions, Outcome, Prepared, EXIT_SETUP};
use super::sys;
use super::zygote::StartMessage;
use crate::cgroup::{CgroupOptions, CgroupSession, RealFs};

/// The first part of a resident sandbox's cgroup names, followed by the workspace's
/// name. Not `phantom-<pid>-…`: the sweep of stale `phantom exec` cgroups removes those
/// whose creator has exited, and a workspace outlives the command that created it. The
/// name keeps two workspaces' cgroups apart even when a keeper's pid is reused.
pub const CGROUP_PREFIX: &str = "phantom-ws";

/// Runs at once in one resident sandbox; more are refused until some end.
pub const MAX_RUNS: usize = 64;

/// The longest a connection may take to send its request; init serves one request at
/// a time, so a stalled client must not hold it up for long.
const REQUEST_DEADLINE: Duration = Duration::from_secs(2);

/// A resident sandbox, seen from the process that started it.
#[derive(Debug)]
pub struct Resident {
    child: sys::Child,
    /// The workspace's socket: the keeper accepts, checks who connected, and hands
    /// the connection to init over `handoff`.
    listener: UnixListener,
    handoff: UnixStream,
    report: io::PipeReader,
    cgroup: Option<CgroupSession<RealFs>>,
    not_enforced: Vec<String>,
}

/// Why a resident sandbox ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Ended {
    /// Stopped on request (a signal read from the stop descriptor).
    Stopped(i32),
    /// Its init ended by itself (with what it last reported).
    InitEnded(String),
}

/// Builds a resident sandbox from `bundle`, with `options.workspace` bound, whose init
/// serves runs on `listener`. The caller must be single-threaded (as for `exec::run`).
pub fn start(
    bundle: &Bundle,
    options: &ExecOptions,
    listener: UnixListener,
    workspace: &str,
) -> Result<Resident, ExecError> {
    if !bundle.mode.uses_namespaces() {
        return Err(ExecError::Override(
            "a direct-mode bundle has no sandbox to keep: create the workspace in sandbox or hardened mode".into(),
        ));
    }
    exec::refuse_notify_rules(bundle, "a persistent workspace")?;
    let mut bundle = bundle.clone();
    exec::apply_overrides(&mut bundle, &options.overrides)?;
    let resident_options = ExecOptions {
        // Replaced by each run's command; `prepare` wants one.
        command: vec!["/bin/true".into()],
        tty: false,
        seccomp_agent: None,
        ..options.clone()
    };
    let prepared = exec::prepare(&bundle, &resident_options)?;
    listener.set_nonblocking(true)?;

    let (go_read, go_write) = io::pipe()?;
    let (report_read, report_write) = io::pipe()?;
    let (handoff, handoff_init) = UnixStream::pair()?;
    let (move_in_ours, move_in_theirs) = UnixStream::pair()?;
    let flags = exec::namespace_flags();
    super::identity::before_clone().map_err(ExecError::Groups)?;
    let child = match super::identity::clone_sandbox(prepared.host, flags, None)
        .map_err(ExecError::Clone)?
    {
        None => {
            drop(go_write);
            drop(report_read);
            drop(listener);
            drop(handoff);
            drop(move_in_ours);
            init_main(
                &bundle,
                prepared,
                go_read,
                move_in_theirs,
                handoff_init,
                report_write,
            )
        }
        Some(child) => child,
    };
    drop(go_read);
    drop(report_write);
    drop(handoff_init);
    drop(move_in_theirs);

    let cgroup_options = CgroupOptions {
        allow_degraded: options.allow_degraded,
        prefix: format!("{CGROUP_PREFIX}-{workspace}"),
        account: true,
        ..CgroupOptions::default()
    };
    let setup = exec::let_go(
        &child,
        &bundle,
        &prepared,
        cgroup_options,
        &go_write,
        &move_in_ours,
    );
    drop(go_write);
    drop(move_in_ours);
    let mut report = report_read;
    let cgroup = match setup {
        Ok(cgroup) => cgroup,
        Err(e) => {
            let _ = sys::pidfd_kill(&child.pidfd, libc::SIGKILL);
            let _ = sys::wait_pidfd(&child.pidfd);
            let said = read_all(&mut report);
            return Err(exec::first_failure(&said).map_or(e, ExecError::Override));
        }
    };
    let mut resident = Resident {
        not_enforced: cgroup.not_enforced().to_vec(),
        child,
        listener,
        handoff,
        report,
        cgroup: Some(cgroup),
    };
    // Init says "R" once it serves, or why it could not build the sandbox.
    let mut line = Vec::new();
    let mut byte = [0u8; 1];
    while (&resident.report).read_exact(&mut byte).is_ok() && byte[0] != b'\n' {
        line.push(byte[0]);
    }
    if line == b"R" {
        return Ok(resident);
    }
    let mut said = String::from_utf8_lossy(&line).into_owned();
    said.push('\n');
    said.push_str(&read_all(&mut resident.report));
    resident.kill();
    Err(ExecError::Override(
        exec::first_failure(&said)
            .unwrap_or_else(|| "the sandbox's init ended without a report".to_string()),
    ))
}

fn read_all(report: &mut io::PipeReader) -> String {
    let mut said = String::new();
    let _ = report.read_to_string(&mut said);
    said
}

impl Resident {
    /// The process id of the sandbox's init, on the host.
    pub fn init_pid(&self) -> i32 {
        self.child.pid
    }

    /// The sandbox's cgroups (to record them for monitoring and cleanup).
    pub fn cgroup(&self) -> Option<&CgroupSession<RealFs>> {
        self.cgroup.as_ref()
    }

    /// Limits this host could not enforce (with `allow_degraded`).
    pub fn not_enforced(&self) -> &[String] {
        &self.not_enforced
    }

    /// Waits until init ends or a signal arrives on `stop` (a signalfd); then kills
    /// the sandbox, removes its cgroups and says why it ended. Lines init reports
    /// meanwhile are passed to `log`.
    pub fn wait(mut self, stop: &OwnedFd, log: &mut dyn FnMut(&str)) -> Ended {
        let mut pending = Vec::new();
        let mut last = String::new();
        let mut report_open = true;
        let ended = loop {
            let mut fds = [
                pollfd(self.child.pidfd.as_raw_fd()),
                pollfd(stop.as_raw_fd()),
                pollfd(if report_open {
                    self.report.as_raw_fd()
                } else {
                    -1
                }),
                pollfd(self.listener.as_raw_fd()),
            ];
            if sys::poll(&mut fds, -1).is_err() {
                continue; // EINTR
            }
            if fds[3].revents != 0 {
                self.hand_over_a_connection();
            }
            if fds[2].revents != 0 {
                let mut buf = [0u8; 4096];
                match (&self.report).read(&mut buf) {
                    Ok(0) | Err(_) => report_open = false,
                    Ok(n) => {
                        pending.extend_from_slice(buf.get(..n).unwrap_or_default());
                        while let Some(at) = pending.iter().position(|&b| b == b'\n') {
                            let line: Vec<u8> = pending.drain(..=at).collect();
                            let line = String::from_utf8_lossy(&line).trim_end().to_string();
                            log(&line);
                            last = line;
                        }
                    }
                }
            }
            if fds[1].revents != 0 {
                let mut info = [0u8; 128];
                let signal = match sys::read_fd(stop, &mut info) {
                    Ok(n) if n >= 4 => i32::from_ne_bytes([info[0], info[1], info[2], info[3]]),
                    _ => libc::SIGTERM,
                };
                break Ended::Stopped(signal);
            }
            if fds[0].revents != 0 {
                break Ended::InitEnded(if last.is_empty() {
                    "the sandbox's init ended".to_string()
                } else {
                    format!("the sandbox's init ended: {last}")
                });
            }
        };
        self.kill();
        ended
    }

    /// Accepts one connection and, if it comes from one of the user's own processes
    /// outside any sandbox, hands it to init. The socket's file is private to the user,
    /// but a sandboxed process of theirs (direct mode, a degraded run, a workspace
    /// holding the state directory) could still reach it: Landlock does not govern
    /// `connect` to a socket file.
    fn hand_over_a_connection(&self) {
        let connection = match self.listener.accept() {
            Ok((connection, _)) => connection,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
            Err(_) => {
                // Out of descriptors, say: not a reason to spin.
                std::thread::sleep(Duration::from_millis(10));
                return;
            }
        };
        match super::serve::check_peer(&connection) {
            Ok(()) => {
                let _ = sys::send_fd(self.handoff.as_raw_fd(), connection.as_raw_fd());
            }
            Err(why) => {
                let _ = send_line(&connection, &format!("E {EXIT_SETUP} refused: {why}"));
            }
        }
    }

    fn kill(&mut self) {
        let _ = sys::pidfd_kill(&self.child.pidfd, libc::SIGKILL);
        let _ = sys::wait_pidfd(&self.child.pidfd);
        if let Some(cgroup) = self.cgroup.take() {
            let _ = cgroup.destroy();
        }
    }
}

impl Drop for Resident {
    fn drop(&mut self) {
        if self.cgroup.is_some() {
            self.kill();
        }
    }
}

fn pollfd(fd: RawFd) -> libc::pollfd {
    libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    }
}

/// One run in progress, seen from init.
struct Run {
    /// The run's connection; `None` once the client has gone.
    connection: Option<UnixStream>,
}

/// The resident sandbox's init: builds the sandbox, then serves runs. Never returns.
fn init_main(
    bundle: &Bundle,
    p: Prepared,
    go: io::PipeReader,
    move_in_from: UnixStream,
    handoff: UnixStream,
    report: io::PipeWriter,
) -> ! {
    let fail = |step: &str, e: &dyn std::fmt::Display| -> ! { exec::init_fail(&report, step, e) };
    let keep = [
        0,
        1,
        2,
        go.as_raw_fd(),
        move_in_from.as_raw_fd(),
        handoff.as_raw_fd(),
        report.as_raw_fd(),
    ];
    if let Err(e) = crate::harden::close_inherited_fds(&keep) {
        fail("closing the descriptors it inherited", &e);
    }
    exec::init_begin(&go, &report);
    if let Err(e) = exec::build_root(bundle, &p, exec::OldRoot::Detach) {
        fail("building the sandbox's filesystem", &e);
    }
    exec::init_identity(bundle, &report);
    let mut byte = [0u8; 1];
    if (&go).read_exact(&mut byte).is_err() {
        sys::exit_now(EXIT_SETUP);
    }
    drop(go);
    exec::move_in(&move_in_from, &report, exec::own_network(bundle));
    drop(move_in_from);
    if let Err(e) = sys::unshare(libc::CLONE_NEWCGROUP) {
        fail("creating the cgroup namespace", &e);
    }
    let children = match sys::signalfd_for(&[libc::SIGCHLD]) {
        Ok(fd) => fd,
        Err(e) => fail("watching for ended processes", &e),
    };
    if let Err(e) = std::env::set_current_dir("/") {
        fail("entering the sandbox's root", &e);
    }
    exec::report_line(&report, "R");

    let mut runs: HashMap<libc::pid_t, Run> = HashMap::new();
    loop {
        let mut fds = vec![pollfd(handoff.as_raw_fd()), pollfd(children.as_raw_fd())];
        let watched: Vec<libc::pid_t> = runs
            .iter()
            .filter_map(|(&pid, run)| run.connection.as_ref().map(|_| pid))
            .collect();
        for pid in &watched {
            if let Some(c) = runs.get(pid).and_then(|r| r.connection.as_ref()) {
                fds.push(pollfd(c.as_raw_fd()));
            }
        }
        if sys::poll(&mut fds, -1).is_err() {
            continue; // EINTR
        }
        for (fd, pid) in fds.iter().skip(2).zip(&watched) {
            if fd.revents != 0 {
                serve_client_bytes(&mut runs, *pid);
            }
        }
        if fds.get(1).is_some_and(|f| f.revents != 0) {
            let mut info = [0u8; 128];
            let _ = sys::read_fd(&children, &mut info);
            reap(&mut runs);
        }
        if fds.first().is_some_and(|f| f.revents != 0) {
            match sys::recv_fd(handoff.as_raw_fd()) {
                Ok(fd) => {
                    let connection = UnixStream::from(fd);
                    accept_run(bundle, &p, &handoff, &children, &mut runs, connection);
                }
                // The keeper is gone (init follows it: its parent-death signal).
                Err(_) => sys::exit_now(0),
            }
        }
    }
}

/// A run's client sent bytes (signals) or went away (kill the run).
fn serve_client_bytes(runs: &mut HashMap<libc::pid_t, Run>, pid: libc::pid_t) {
    let Some(run) = runs.get_mut(&pid) else {
        return;
    };
    let Some(connection) = run.connection.as_ref() else {
        return;
    };
    let mut buf = [0u8; 64];
    match (&*connection).read(&mut buf) {
        Ok(0) | Err(_) => {
            // The client is gone (timed out, killed): so is its run.
            let _ = sys::kill(-pid, libc::SIGKILL);
            let _ = sys::kill(pid, libc::SIGKILL);
            run.connection = None;
        }
        Ok(n) => {
            for pair in buf.get(..n).unwrap_or_default().chunks(2) {
                if let [b'S', signal] = pair {
                    let _ = sys::kill(pid, i32::from(*signal));
                }
            }
        }
    }
}

/// Reaps every ended process; a run's first process ending ends the run.
fn reap(runs: &mut HashMap<libc::pid_t, Run>) {
    while let Ok((pid, status)) = sys::waitpid(-1, libc::WNOHANG) {
        if pid <= 0 {
            break;
        }
        if let Some(run) = runs.remove(&pid) {
            if let Some(connection) = run.connection {
                let _ = send_line(&connection, &format!("X {status}"));
            }
        }
    }
}

fn send_line(connection: &UnixStream, line: &str) -> io::Result<()> {
    // Not a SIGPIPE when the client is gone: init must not die of it.
    sys::send_nosignal(connection.as_raw_fd(), format!("{line}\n").as_bytes())
}

/// Reads one run's request and forks its workload.
fn accept_run(
    bundle: &Bundle,
    p: &Prepared,
    handoff: &UnixStream,
    children: &OwnedFd,
    runs: &mut HashMap<libc::pid_t, Run>,
    connection: UnixStream,
) {
    let request = (|| -> Result<(StartMessage, Vec<OwnedFd>), String> {
        connection
            .set_nonblocking(false)
            .and_then(|()| connection.set_read_timeout(Some(REQUEST_DEADLINE)))
            .map_err(|e| e.to_string())?;
        let mut len = [0u8; 4];
        (&connection)
            .read_exact(&mut len)
            .map_err(|e| format!("reading the request: {e}"))?;
        let len = u32::from_le_bytes(len) as usize;
        if len > 1 << 20 {
            return Err(format!("a request of {len} bytes (at most 1 MiB)"));
        }
        let mut body = vec![0u8; len];
        (&connection)
            .read_exact(&mut body)
            .map_err(|e| format!("reading the request: {e}"))?;
        let message = StartMessage::decode(&body).ok_or("a malformed request")?;
        let mut stdio = Vec::with_capacity(3);
        for _ in 0..3 {
            stdio.push(
                sys::recv_fd(connection.as_raw_fd())
                    .map_err(|e| format!("receiving the run's stdio: {e}"))?,
            );
        }
        connection
            .set_read_timeout(None)
            .map_err(|e| e.to_string())?;
        Ok((message, stdio))
    })();
    let (message, stdio) = match request {
        Ok(r) => r,
        Err(e) => {
            let _ = send_line(&connection, &format!("E {EXIT_SETUP} {e}"));
            return;
        }
    };
    if runs.len() >= MAX_RUNS {
        let _ = send_line(
            &connection,
            &format!("E {EXIT_SETUP} {MAX_RUNS} runs are in progress in this workspace; try again when some end"),
        );
        return;
    }
    if message.command.is_empty() {
        let _ = send_line(&connection, &format!("E {EXIT_SETUP} no command"));
        return;
    }
    match sys::fork() {
        Ok(0) => {
            // The workload: never back in init's loop.
            sys::close_raw(handoff.as_raw_fd());
            sys::close_raw(children.as_raw_fd());
            workload(bundle, p, message, stdio, &connection)
        }
        Ok(pid) => {
            runs.insert(
                pid,
                Run {
                    connection: Some(connection),
                },
            );
        }
        Err(e) => {
            let _ = send_line(
                &connection,
                &format!("E {EXIT_SETUP} starting the workload: {e}"),
            );
        }
    }
}

/// A run's workload: its stdio, command and environment, then the same hardening as
/// `phantom exec`'s. Never returns.
fn workload(
    bundle: &Bundle,
    p: &Prepared,
    message: StartMessage,
    stdio: Vec<OwnedFd>,
    connection: &UnixStream,
) -> ! {
    for (target, fd) in (0..).zip(&stdio) {
        if sys::dup2(fd.as_raw_fd(), target).is_err() {
            sys::exit_now(EXIT_SETUP);
        }
    }
    drop(stdio);
    // The run's report goes straight to its client (closed on execve).
    let Ok(copy) = connection.try_clone() else {
        sys::exit_now(EXIT_SETUP);
    };
    let report = io::PipeWriter::from(OwnedFd::from(copy));
    let env = super::zygote::merged_env(&p.env, &message.env);
    let mut p = p.for_command(super::zygote::cstrings(message.command), env);
    if message.tty {
        // The workload opens a terminal in the sandbox's devpts and sends its master
        // back over the run's connection, which the client then relays.
        match connection.try_clone() {
            Ok(socket) => p.console = Some(socket),
            Err(e) => exec::init_fail(&report, "opening the terminal", &e),
        }
    }
    if let Err(e) = std::env::set_current_dir(&p.cwd) {
        exec::init_fail(
            &report,
            &format!("entering the working directory `{}`", p.cwd),
            &e,
        );
    }
    exec::workload_main(bundle, &p, &report)
}

/// How a run in a resident sandbox ended, seen from its client.
#[derive(Debug)]
pub struct RunEnd {
    pub outcome: Outcome,
    pub timed_out: bool,
    /// `N` lines: hardening this kernel could only partly apply.
    pub notes: Vec<String>,
}

/// Connects to the resident sandbox listening on `socket`.
pub fn connect(socket: &Path) -> io::Result<UnixStream> {
    UnixStream::connect(socket)
}

/// Runs `command` in the resident sandbox on `connection` (from [`connect`]), relaying
/// this process's stdin, stdout and stderr through pipes (or a terminal with `tty`),
/// and waits for it. Signals read from `signals` (a signalfd) are forwarded; after
/// `timeout` the run is killed.
pub fn run_in(
    connection: UnixStream,
    command: Vec<String>,
    env: Vec<(String, String)>,
    timeout: Option<Duration>,
    signals: Option<&OwnedFd>,
    tty: bool,
) -> Result<RunEnd, ExecError> {
    let message = StartMessage {
        command,
        env,
        workspace: None,
        tty,
    }
    .encode();
    // The run gets pipes, never our own stdin, stdout or stderr: a workspace's
    // processes outlive the run, and one left in the background must not keep reading
    // the user's terminal or hold a caller's pipe open. We relay until the run ends.
    let (stdin_read, stdin_write) = io::pipe()?;
    let (stdout_read, stdout_write) = io::pipe()?;
    let (stderr_read, stderr_write) = io::pipe()?;
    (&connection).write_all(&(message.len() as u32).to_le_bytes())?;
    (&connection).write_all(&message)?;
    for fd in [
        stdin_read.as_raw_fd(),
        stdout_write.as_raw_fd(),
        stderr_write.as_raw_fd(),
    ] {
        sys::send_fd(connection.as_raw_fd(), fd)?;
    }
    drop((stdin_read, stdout_write, stderr_write));
    sys::set_nonblocking(stdin_write.as_raw_fd())?;
    let mut stdin_write = Some(stdin_write);
    let started = Instant::now();
    let mut said = Vec::new();
    let mut timed_out = false;
    // With a terminal: its master comes over the connection; our terminal is raw while
    // we relay (restored on every way out).
    let mut master: Option<OwnedFd> = None;
    let mut raw: Option<libc::termios> = None;
    let mut stdin_open = true;
    let mut outputs_open = [true, true];
    let mut master_open = tty;
    // Input read but not yet taken by the run (its pipe was full).
    let mut pending: Vec<u8> = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let left = match timeout {
            Some(t) => match t.checked_sub(started.elapsed()) {
                Some(left) => i32::try_from(left.as_millis().max(1)).unwrap_or(i32::MAX),
                None => {
                    timed_out = true;
                    break;
                }
            },
            None => -1,
        };
        let master_fd = master.as_ref().map_or(-1, AsRawFd::as_raw_fd);
        // Where our stdin goes: the terminal, or the run's stdin pipe.
        let input_fd = if tty {
            master_fd
        } else {
            stdin_write.as_ref().map_or(-1, AsRawFd::as_raw_fd)
        };
        let reading_stdin = stdin_open && input_fd >= 0 && pending.is_empty();
        let mut fds = [
            pollfd(connection.as_raw_fd()),
            pollfd(signals.map_or(-1, AsRawFd::as_raw_fd)),
            pollfd(if reading_stdin { 0 } else { -1 }),
            pollfd(if master_open { master_fd } else { -1 }),
            pollfd(if outputs_open[0] {
                stdout_read.as_raw_fd()
            } else {
                -1
            }),
            pollfd(if outputs_open[1] {
                stderr_read.as_raw_fd()
            } else {
                -1
            }),
            libc::pollfd {
                fd: if pending.is_empty() { -1 } else { input_fd },
                events: libc::POLLOUT,
                revents: 0,
            },
        ];
        if sys::poll(&mut fds, left).is_err() {
            continue;
        }
        if fds[1].revents != 0 {
            if let Some(signals) = signals {
                let mut info = [0u8; 128];
                if let Ok(n) = sys::read_fd(signals, &mut info) {
                    if n >= 4 {
                        let signal = u32::from_ne_bytes([info[0], info[1], info[2], info[3]]);
                        match (signal as i32, master_fd) {
                            (libc::SIGWINCH, fd) if fd >= 0 => sys::copy_window_size(0, fd),
                            (libc::SIGWINCH, _) => {}
                            _ => {
                                let _ = (&connection).write_all(&[b'S', signal as u8]);
                            }
                        }
                    }
                }
            }
        }
        if fds[2].revents != 0 {
            match sys::read_raw(0, &mut buf) {
                Ok(n) if n > 0 => pending.extend_from_slice(buf.get(..n).unwrap_or_default()),
                _ => {
                    stdin_open = false;
                    // End of our input: the run's stdin ends too (a terminal has none).
                    stdin_write = None;
                }
            }
        }
        if !pending.is_empty() && (fds[2].revents != 0 || fds[6].revents != 0) {
            match sys::write_fd(input_fd, &pending) {
                Ok(n) => {
                    pending.drain(..n.min(pending.len()));
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(_) => {
                    // The run closed its stdin: what we read is of no use to it.
                    pending.clear();
                    stdin_open = false;
                    stdin_write = None;
                }
            }
        }
        if fds[3].revents != 0 {
            match sys::read_raw(master_fd, &mut buf) {
                Ok(n) if n > 0 => {
                    let _ = sys::write_fd(1, buf.get(..n).unwrap_or_default());
                }
                _ => master_open = false,
            }
        }
        for (i, (from, to)) in [(stdout_read.as_raw_fd(), 1), (stderr_read.as_raw_fd(), 2)]
            .into_iter()
            .enumerate()
        {
            if fds.get(4 + i).is_some_and(|f| f.revents != 0) {
                match sys::read_raw(from, &mut buf) {
                    Ok(n) if n > 0 => {
                        let _ = sys::write_fd(to, buf.get(..n).unwrap_or_default());
                    }
                    _ => {
                        if let Some(open) = outputs_open.get_mut(i) {
                            *open = false;
                        }
                    }
                }
            }
        }
        if fds[0].revents != 0 {
            match sys::recv_bytes_and_fd(connection.as_raw_fd(), &mut buf) {
                Ok((0, _)) | Err(_) => break,
                Ok((n, fd)) => match fd {
                    // The terminal's master, with its one byte.
                    Some(fd) if tty && master.is_none() => {
                        sys::copy_window_size(0, fd.as_raw_fd());
                        raw = sys::make_raw(0);
                        master = Some(fd);
                        said.extend_from_slice(buf.get(1..n).unwrap_or_default());
                    }
                    _ => said.extend_from_slice(buf.get(..n).unwrap_or_default()),
                },
            }
        }
    }
    // What the run wrote just before it ended; then nothing more (processes it left
    // behind may hold these pipes, and are cut off from us now).
    let sources = [
        (
            master
                .as_ref()
                .filter(|_| master_open)
                .map(AsRawFd::as_raw_fd),
            1,
        ),
        (Some(stdout_read.as_raw_fd()).filter(|_| outputs_open[0]), 1),
        (Some(stderr_read.as_raw_fd()).filter(|_| outputs_open[1]), 2),
    ];
    for (from, to) in sources {
        let Some(from) = from else { continue };
        let mut fds = [pollfd(from)];
        while sys::poll(&mut fds, 0).unwrap_or(0) > 0 {
            match sys::read_raw(from, &mut buf) {
                Ok(n) if n > 0 => {
                    let _ = sys::write_fd(to, buf.get(..n).unwrap_or_default());
                }
                _ => break,
            }
        }
    }
    if let Some(settings) = &raw {
        sys::restore_terminal(0, settings);
    }
    // Closing the connection kills a run still going (the timeout).
    drop(connection);
    let said = String::from_utf8_lossy(&said);
    let notes = said
        .lines()
        .filter_map(|l| l.strip_prefix("N "))
        .map(str::to_string)
        .collect();
    let outcome = match (timed_out, timeout) {
        (true, Some(t)) => Outcome::Timeout(t),
        _ if !said
            .lines()
            .any(|l| l.starts_with("X ") || l.starts_with("E ")) =>
        {
            Outcome::Failed {
                code: EXIT_SETUP,
                message: "the workspace's sandbox ended during the run".into(),
            }
        }
        _ => exec::parse_report(&said, 0),
    };
    Ok(RunEnd {
        outcome,
        timed_out,
        notes,
    })
}
