//! Parked sandboxes: built ahead of time, started later with one command.
//!
//! [`park`] does everything `phantom exec` does before the workload exists — clone
//! into the namespaces, id maps, cgroup, the root from the mount plan, pivot — except
//! the binds from `${workspace}`, which is not known yet. The sandbox's init then waits
//! on a control socket. [`Parked::start`] sends it the command, its environment, the
//! workspace and three stdio descriptors; init attaches the workspace and forks the
//! workload, which hardens itself (Landlock after the attach: its rules name inodes)
//! and execs. A parked sandbox is used once.
//!
//! The workspace is captured by a *portal*: a process init forks before it builds its
//! root, left in a private copy of the host's mount tree (init moves on to a new mount
//! namespace of its own, so the pivot does not touch the portal). The portal has the
//! capabilities of the sandbox's user namespace, so it can clone a host directory as a
//! detached mount even when phantom is not root; init kills it before the workload
//! exists, so no process of the sandbox ever holds the host's tree while untrusted code
//! runs.

use std::ffi::CString;
use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use phantom_bundle::Bundle;

use super::exec::{self, mark, ExecError, ExecOptions, Prepared, Report, EXIT_SETUP};
use super::mounts::Deferred;
use super::sys;
use crate::cgroup::{CgroupSession, RealFs};

/// What a parked sandbox runs.
#[derive(Debug)]
pub struct Start {
    /// The command and its arguments (looked up on the sandbox's PATH).
    pub command: Vec<String>,
    /// Added to the bundle's environment.
    pub env: Vec<(String, String)>,
    /// The directory bound as `${workspace}`.
    pub workspace: Option<PathBuf>,
    /// The workload's stdin, stdout and stderr.
    pub stdio: [OwnedFd; 3],
}

/// A sandbox whose init waits for [`Parked::start`]. Dropping it kills the sandbox and
/// removes its cgroup.
#[derive(Debug)]
pub struct Parked {
    bundle: Bundle,
    child: sys::Child,
    control: UnixStream,
    report: io::PipeReader,
    cgroup: Option<CgroupSession<RealFs>>,
    not_enforced: Vec<String>,
    timing: Option<Instant>,
    parked_at: Instant,
}

/// What a parked sandbox holds ready besides the sandbox itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kind {
    /// Nothing: the run's command is executed when it comes.
    Plain,
    /// A Python interpreter with common modules imported, waiting for the run's code
    /// (`python3 -c CODE ARGS` or `python3 FILE ARGS`; see [`python_run`]).
    Python,
}

/// Whether a command can run in a warm Python interpreter: `python3 -c CODE [ARGS]` or
/// `python3 FILE [ARGS]`, with no interpreter options and none of the variables the
/// interpreter reads when it starts in the run's environment (`PYTHON*`, the locale,
/// which decides stdio's encoding, `TZ`, and `PATH`, which decides which `python3`).
pub fn python_run(command: &[String], env: &[(String, String)]) -> bool {
    let read_at_start = |k: &str| {
        k.starts_with("PYTHON")
            || k.starts_with("LC_")
            || matches!(k, "LANG" | "LANGUAGE" | "TZ" | "PATH")
    };
    let plain_env = !env.iter().any(|(k, _)| read_at_start(k));
    let shape = match command {
        [python, flag, _code, ..] if python == "python3" && flag == "-c" => true,
        [python, file, ..] if python == "python3" => !file.starts_with('-') && !file.is_empty(),
        _ => false,
    };
    plain_env && shape
}

/// Whether this profile's filter lets a process restrict itself with Landlock, as a
/// warm interpreter must once its workspace is bound (`landlock_add_rule` and
/// `landlock_restrict_self`, in the stdlib's `@sandbox` set). A profile without them
/// would have every warm run fail; its Python runs go to plain sandboxes instead.
pub fn can_warm_python(bundle: &Bundle) -> bool {
    use phantom_compiler::seccomp::{bpf::RET_ALLOW, interp, Insn};
    let Some(native) = phantom_bundle::Arch::native() else {
        return false;
    };
    let audit = match native {
        phantom_bundle::Arch::X86_64 => 0xC000_003E,
        phantom_bundle::Arch::Aarch64 => 0xC000_00B7,
    };
    let Some(filter) = bundle.seccomp.iter().find(|f| f.arch == native) else {
        return false;
    };
    let program: Vec<Insn> = filter
        .program
        .chunks_exact(8)
        .filter_map(|c| <[u8; 8]>::try_from(c).ok().map(Insn::from_bytes))
        .collect();
    // landlock_add_rule, landlock_restrict_self: the same numbers on both.
    [445u32, 446].into_iter().all(|nr| {
        let data = interp::SeccompData {
            nr,
            arch: audit,
            instruction_pointer: 0,
            args: [3, 1, 0, 0, 0, 0],
        };
        interp::run(&program, &data).is_ok_and(|r| r.ret == RET_ALLOW)
    })
}

/// The warm interpreter's program (see the file's header).
const WARM_PYTHON: &str = include_str!("warm_python.py");

/// The interpreter's command line: it reads its program from the control socket.
const BOOTSTRAP: &str =
    "import os, sys; exec(compile(os.read(int(sys.argv[1]), 1 << 20), '<phantom-warm>', 'exec'))";

/// Builds a sandbox from `bundle` up to the workload and parks it. `options.workspace`
/// and `options.command` are ignored (they come with [`Parked::start`]); `--tty` is
/// not supported; direct-mode bundles have nothing to park.
pub fn park(bundle: &Bundle, options: &ExecOptions) -> Result<Parked, ExecError> {
    park_kind(bundle, options, Kind::Plain)
}

/// [`park`] with a warm interpreter of `kind` waiting in the sandbox.
pub fn park_kind(bundle: &Bundle, options: &ExecOptions, kind: Kind) -> Result<Parked, ExecError> {
    if !bundle.mode.uses_namespaces() {
        return Err(ExecError::Override(
            "a direct-mode bundle has no sandbox to build ahead of time".into(),
        ));
    }
    exec::refuse_notify_rules(bundle, "a parked sandbox (`phantom serve`)")?;
    let mut bundle = bundle.clone();
    exec::apply_overrides(&mut bundle, &options.overrides)?;
    let parking = ExecOptions {
        workspace: None,
        // Replaced at start; `prepare` wants one.
        command: vec!["/bin/true".into()],
        tty: false,
        seccomp_agent: None,
        ..options.clone()
    };
    let prepared = exec::prepare(&bundle, &parking)?;
    mark(&prepared, "parking: prepared");

    let (go_read, go_write) = io::pipe()?;
    let (report_read, report_write) = io::pipe()?;
    let (control, control_theirs) = UnixStream::pair()?;
    let (move_in_ours, move_in_theirs) = UnixStream::pair()?;
    let flags = exec::namespace_flags();
    // The caller must be single-threaded here, as for `exec::run`.
    super::identity::before_clone().map_err(ExecError::Groups)?;
    let child = match super::identity::clone_sandbox(prepared.host, flags, None)
        .map_err(ExecError::Clone)?
    {
        None => {
            drop(go_write);
            drop(report_read);
            drop(control);
            drop(move_in_ours);
            parked_init_main(
                &bundle,
                prepared,
                go_read,
                move_in_theirs,
                control_theirs,
                report_write,
                kind,
            )
        }
        Some(child) => child,
    };
    drop(go_read);
    drop(report_write);
    drop(control_theirs);
    drop(move_in_theirs);
    let timing = prepared.timing;

    let setup = exec::let_go(
        &child,
        &bundle,
        &prepared,
        exec::sandbox_cgroup_options(options.allow_degraded, true),
        &go_write,
        &move_in_ours,
    );
    drop(go_write);
    drop(move_in_ours);
    let cgroup = match setup {
        Ok(cgroup) => cgroup,
        Err(e) => {
            // A broken pipe here means init failed first: its report says why.
            let mut said = String::new();
            let _ = sys::pidfd_kill(&child.pidfd, libc::SIGKILL);
            let _ = sys::wait_pidfd(&child.pidfd);
            let mut report = report_read;
            let _ = report.read_to_string(&mut said);
            return Err(exec::first_failure(&said).map_or(e, ExecError::Override));
        }
    };
    let mut parked = Parked {
        not_enforced: cgroup.not_enforced().to_vec(),
        bundle,
        child,
        control,
        report: report_read,
        cgroup: Some(cgroup),
        timing,
        parked_at: Instant::now(),
    };
    // Init says "P" once parked, or reports why it could not build the sandbox.
    let mut byte = [0u8; 1];
    match (&parked.control).read_exact(&mut byte) {
        Ok(()) if byte == *b"P" => Ok(parked),
        _ => {
            let mut said = String::new();
            let _ = sys::pidfd_kill(&parked.child.pidfd, libc::SIGKILL);
            let _ = parked.report.read_to_string(&mut said);
            let message = exec::first_failure(&said)
                .unwrap_or_else(|| "the parked sandbox's init ended without a report".to_string());
            parked.kill();
            Err(ExecError::Override(message))
        }
    }
}

impl Parked {
    /// Whether it can still be started: its init is alive and it was parked less than
    /// `max_age` ago (the portal's view of the host's mounts dates from then).
    pub fn is_usable(&self, max_age: Duration) -> bool {
        self.parked_at.elapsed() < max_age && !sys::pidfd_exited(&self.child.pidfd)
    }

    /// Runs `start` in this sandbox and waits for it: the same outcome and reports as
    /// `phantom exec`. The timeout (the bundle's, or `timeout`) starts now.
    pub fn start(self, start: Start, timeout: Option<Duration>) -> Result<Report, ExecError> {
        self.start_watching(start, timeout, None)
    }

    /// [`start`](Self::start), ending the run early if `hangup` (a client's
    /// connection) is closed.
    pub fn start_watching(
        mut self,
        start: Start,
        timeout: Option<Duration>,
        hangup: Option<std::os::fd::RawFd>,
    ) -> Result<Report, ExecError> {
        self.run_watching(start, timeout, hangup)
        // Dropped here: the sandbox's cgroups are removed.
    }

    /// [`start_watching`](Self::start_watching) without removing the sandbox's cgroups
    /// at the end: they go when the parked sandbox is dropped, so a caller can answer
    /// its client first (removing a cgroup can wait for the kernel).
    pub fn run_watching(
        &mut self,
        start: Start,
        timeout: Option<Duration>,
        hangup: Option<std::os::fd::RawFd>,
    ) -> Result<Report, ExecError> {
        let started = Instant::now();
        let message = StartMessage {
            command: start.command,
            env: start.env,
            workspace: start
                .workspace
                .map(|w| {
                    w.canonicalize()
                        .map_err(|error| ExecError::Workspace {
                            path: w.display().to_string(),
                            error,
                        })
                        .map(|c| c.display().to_string())
                })
                .transpose()?,
            tty: false,
        }
        .encode();
        let sent = (|| -> io::Result<()> {
            (&self.control).write_all(&(message.len() as u32).to_le_bytes())?;
            (&self.control).write_all(&message)?;
            for fd in &start.stdio {
                sys::send_fd(self.control.as_raw_fd(), fd.as_raw_fd())?;
            }
            Ok(())
        })();
        drop(start.stdio);
        if let Err(e) = sent {
            self.kill();
            return Err(ExecError::Io(e));
        }
        if let Some(t) = self.timing {
            eprintln!(
                "phantom timing: {:8.3} ms start sent (clock {})",
                t.elapsed().as_secs_f64() * 1000.0,
                exec::wall_clock()
            );
        }
        // A run's timeout may only shorten the profile's, as `phantom exec` allows
        // without --allow-loosen.
        let profile_timeout = self.bundle.process.timeout_ms.map(Duration::from_millis);
        let timeout = match (timeout, profile_timeout) {
            (Some(asked), Some(limit)) => Some(asked.min(limit)),
            (asked, limit) => asked.or(limit),
        };
        let report = std::mem::replace(&mut self.report, io::pipe()?.0);
        let (outcome, timed_out, notes) = exec::supervise(
            &self.child,
            report,
            None,
            timeout,
            started,
            None,
            false,
            hangup,
            None,
            None,
            None,
        );
        let mut not_enforced = std::mem::take(&mut self.not_enforced);
        not_enforced.extend(notes);
        let limits_hit = match &self.cgroup {
            Some(cgroup) => exec::limits_hit(
                &cgroup.events().unwrap_or_default(),
                &self.bundle,
                &outcome,
                timed_out,
                timeout,
            ),
            None => Vec::new(),
        };
        Ok(Report {
            outcome,
            limits_hit,
            not_enforced,
        })
    }

    /// The process id of the sandbox's init (its parent must reap it).
    pub fn pid(&self) -> i32 {
        self.child.pid
    }

    /// In a process that forked a supervisor to run this sandbox: lets go of it
    /// without killing it (the supervisor owns it, its cgroup included; the caller
    /// still reaps init, whose parent it is).
    pub fn hand_over(mut self) {
        if let Some(cgroup) = self.cgroup.take() {
            cgroup.hand_over();
        }
    }

    fn kill(&mut self) {
        let _ = sys::pidfd_kill(&self.child.pidfd, libc::SIGKILL);
        // By pidfd: a server's waitpid(-1) may already have reaped it, and its pid may
        // belong to another process now.
        let _ = sys::wait_pidfd(&self.child.pidfd);
        if let Some(cgroup) = self.cgroup.take() {
            let _ = cgroup.destroy();
        }
    }
}

impl Drop for Parked {
    fn drop(&mut self) {
        if self.cgroup.is_some() {
            self.kill();
        }
    }
}

/// The command init receives: NUL-separated fields, lists counted.
#[derive(Debug, Default, PartialEq, Eq)]
pub(super) struct StartMessage {
    pub(super) command: Vec<String>,
    pub(super) env: Vec<(String, String)>,
    pub(super) workspace: Option<String>,
    /// The workload gets a terminal of its own, whose master it sends back.
    pub(super) tty: bool,
}

impl StartMessage {
    pub(super) fn encode(&self) -> Vec<u8> {
        let mut fields: Vec<String> = vec![self.command.len().to_string()];
        fields.extend(self.command.iter().cloned());
        fields.push(self.env.len().to_string());
        fields.extend(self.env.iter().map(|(k, v)| format!("{k}={v}")));
        fields.push(self.workspace.clone().unwrap_or_default());
        fields.push(if self.tty { "t" } else { "" }.to_string());
        let mut out = Vec::new();
        for f in fields {
            out.extend_from_slice(f.as_bytes());
            out.push(0);
        }
        out
    }

    pub(super) fn decode(bytes: &[u8]) -> Option<StartMessage> {
        let mut fields = bytes
            .split(|&b| b == 0)
            .map(|f| std::str::from_utf8(f).ok().map(str::to_string));
        let mut next = || fields.next().flatten();
        let n: usize = next()?.parse().ok()?;
        let command = (0..n).map(|_| next()).collect::<Option<Vec<_>>>()?;
        let m: usize = next()?.parse().ok()?;
        let env = (0..m)
            .map(|_| {
                next().and_then(|kv| {
                    kv.split_once('=')
                        .map(|(k, v)| (k.to_string(), v.to_string()))
                })
            })
            .collect::<Option<Vec<_>>>()?;
        let workspace = next().filter(|w| !w.is_empty());
        let tty = next().as_deref() == Some("t");
        Some(StartMessage {
            command,
            env,
            workspace,
            tty,
        })
    }
}

/// A parked sandbox's init. Never returns.
fn parked_init_main(
    bundle: &Bundle,
    mut p: Prepared,
    go: io::PipeReader,
    move_in_from: UnixStream,
    control: UnixStream,
    report: io::PipeWriter,
    kind: Kind,
) -> ! {
    let fail = |step: &str, e: &dyn std::fmt::Display| -> ! { exec::init_fail(&report, step, e) };
    // Nothing of the parker's: a server's listening socket or another sandbox's
    // control socket held here would outlive the server in this sandbox.
    let keep = [
        0,
        1,
        2,
        go.as_raw_fd(),
        move_in_from.as_raw_fd(),
        control.as_raw_fd(),
        report.as_raw_fd(),
    ];
    if let Err(e) = crate::harden::close_inherited_fds(&keep) {
        fail("closing the descriptors it inherited", &e);
    }
    exec::init_begin(&go, &report);
    let mut byte = [0u8; 1];
    if let Err(e) = sys::make_rprivate_root() {
        fail("making mounts private", &e);
    }
    // The portal keeps this mount namespace (the host's tree); init takes a copy.
    let (portal_ours, portal_theirs) = match UnixStream::pair() {
        Ok(pair) => pair,
        Err(e) => fail("creating the portal's socket", &e),
    };
    let portal = match sys::fork() {
        Ok(0) => {
            drop(portal_ours);
            drop(control);
            drop(move_in_from);
            portal_main(portal_theirs)
        }
        Ok(pid) => pid,
        Err(e) => fail("starting the portal", &e),
    };
    drop(portal_theirs);
    if let Err(e) = sys::unshare(libc::CLONE_NEWNS) {
        fail("entering a mount namespace of the sandbox's own", &e);
    }
    let mut deferred: Vec<Deferred> = Vec::new();
    if let Err(e) = exec::build_private_root(bundle, &p, Some(&mut deferred), exec::OldRoot::Detach)
    {
        fail("building the sandbox's filesystem", &e);
    }
    exec::init_identity(bundle, &report);
    if (&go).read_exact(&mut byte).is_err() {
        sys::exit_now(EXIT_SETUP);
    }
    drop(go);
    exec::move_in(&move_in_from, &report, exec::own_network(bundle));
    drop(move_in_from);
    if let Err(e) = sys::unshare(libc::CLONE_NEWCGROUP) {
        fail("creating the cgroup namespace", &e);
    }
    // A plain sandbox's Landlock ruleset is built now, all but the workspace's rules
    // (which need the workspace bound: rules name inodes); the workload adds those.
    let mut landlock = None;
    // A warm interpreter starts now, inside the cgroup, and waits for the run.
    let interpreter = match kind {
        Kind::Plain => {
            let targets: Vec<String> = deferred.iter().map(|d| d.target.clone()).collect();
            match crate::harden::prepare_landlock(&bundle.landlock, p.landlock, &targets) {
                Ok(prepared) => landlock = Some(prepared),
                Err(e) => fail("preparing Landlock", &e),
            }
            None
        }
        Kind::Python => {
            let targets: Vec<String> = deferred.iter().map(|d| d.target.clone()).collect();
            let (ours, theirs) = match sys::seqpacket_pair() {
                Ok(pair) => pair,
                Err(e) => fail("creating the warm interpreter's socket", &e),
            };
            match sys::fork() {
                Ok(0) => {
                    drop(ours);
                    drop(control);
                    interpreter_main(bundle, &p, theirs, &report, &targets)
                }
                Ok(pid) => {
                    // The interpreter's program, its first message (not its command
                    // line, which `ps` would show).
                    if let Err(e) =
                        sys::send_with_fds(ours.as_raw_fd(), WARM_PYTHON.as_bytes(), &[])
                    {
                        fail("starting the warm interpreter", &e);
                    }
                    Some((pid, ours, targets))
                }
                Err(e) => fail("starting the warm interpreter", &e),
            }
        }
    };
    mark(&p, "init: parked");
    if (&control).write_all(b"P").is_err() {
        sys::exit_now(EXIT_SETUP);
    }

    // Parked until the command comes.
    let mut len = [0u8; 4];
    if (&control).read_exact(&mut len).is_err() {
        sys::exit_now(0); // dropped unused
    }
    let mut buf = vec![0u8; u32::from_le_bytes(len) as usize];
    if (&control).read_exact(&mut buf).is_err() {
        sys::exit_now(EXIT_SETUP);
    }
    let Some(message) = StartMessage::decode(&buf) else {
        fail("reading the command", &"malformed message");
    };
    let mut stdio = Vec::with_capacity(3);
    for _ in 0..3 {
        match sys::recv_fd(control.as_raw_fd()) {
            Ok(fd) => stdio.push(fd),
            Err(e) => fail("receiving the workload's stdio", &e),
        }
    }
    drop(control);
    mark(&p, "init: start received");

    // The workspace, through the portal, then the portal is gone.
    p.vars.workspace = message.workspace.clone();
    for d in &deferred {
        let source = match p.vars.resolve(&d.source) {
            Ok(s) => s,
            Err(e) => fail("binding the workspace", &e),
        };
        let captured = match super::mounts::inside_workspace(&p.vars, &source) {
            // Beneath the workspace: the portal gets both, NUL between them (no path
            // holds one).
            Some((base, rel)) => {
                portal_capture(&portal_ours, &format!("{base}\0{rel}"), !d.writable).map_err(|e| {
                    if super::mounts::leaves_workspace(&e) {
                        io::Error::other(super::mounts::leaves_workspace_message(&source))
                    } else {
                        e
                    }
                })
            }
            None => portal_capture(&portal_ours, &source, !d.writable),
        };
        mark(&p, "init: workspace captured");
        match captured {
            Ok(Some(tree)) => {
                if let Err(e) = sys::move_mount(&tree, Path::new(&d.target)) {
                    fail(&format!("binding `{source}` at `{}`", d.target), &e);
                }
            }
            Ok(None) if d.optional => {}
            Ok(None) => fail(&format!("binding `{source}`"), &"no such directory"),
            Err(e) => fail(&format!("binding `{source}`"), &e),
        }
    }
    drop(portal_ours);
    // Gone, and reaped, before the workload exists: even a dying portal's
    // /proc/PID/mountinfo would show the host's mount table.
    mark(&p, "init: workspace attached");
    if let Err(e) = sys::kill(portal, libc::SIGKILL) {
        fail("ending the portal", &e);
    }
    if let Err(e) = sys::waitpid(portal, 0) {
        fail("reaping the portal", &e);
    }
    mark(&p, "init: workspace bound");

    // The command and environment of this run.
    p.env = merged_env(&p.env, &message.env);
    if let Some((pid, socket, targets)) = interpreter {
        drop(stdio_for_interpreter(
            &p,
            &message.command,
            &socket,
            &targets,
            stdio,
            &report,
        ));
        exec::init_reap(&p, pid, &report)
    }
    p.argv = cstrings(message.command);
    if p.argv.is_empty() {
        fail("starting the workload", &"no command");
    }
    if let Err(e) = std::env::set_current_dir(&p.cwd) {
        fail(&format!("entering the working directory `{}`", p.cwd), &e);
    }
    let workload = match sys::fork() {
        Ok(0) => {
            for (target, fd) in (0..).zip(&stdio) {
                if sys::dup2(fd.as_raw_fd(), target).is_err() {
                    sys::exit_now(EXIT_SETUP);
                }
            }
            drop(stdio);
            exec::workload_main_with(bundle, &p, &report, landlock)
        }
        Ok(pid) => pid,
        Err(e) => fail("starting the workload", &e),
    };
    drop(stdio);
    exec::init_reap(&p, workload, &report)
}

/// Hands the run to the warm interpreter: its command, environment and working
/// directory, its stdio, and a descriptor of each deferred rule's path, now bound.
/// Returns what the interpreter holds copies of (dropped by the caller).
fn stdio_for_interpreter(
    p: &Prepared,
    command: &[String],
    socket: &OwnedFd,
    targets: &[String],
    stdio: Vec<OwnedFd>,
    report: &io::PipeWriter,
) -> Vec<OwnedFd> {
    let fail = |step: &str, e: &dyn std::fmt::Display| -> ! { exec::init_fail(report, step, e) };
    let mut fds = stdio;
    for target in targets {
        match sys::open_path_dir(Path::new(target)) {
            Ok(fd) => fds.push(fd),
            Err(e) => fail(&format!("opening `{target}` for its Landlock rule"), &e),
        }
    }
    let run = serde_json::json!({
        "argv": command,
        "env": p.env.iter().map(|e| e.to_string_lossy().into_owned()).collect::<Vec<_>>(),
        "cwd": p.cwd,
    });
    let raw: Vec<std::os::fd::RawFd> = fds.iter().map(AsRawFd::as_raw_fd).collect();
    if let Err(e) = sys::send_with_fds(socket.as_raw_fd(), run.to_string().as_bytes(), &raw) {
        fail(
            "handing the run to the warm interpreter (it has ended?)",
            &e,
        );
    }
    fds
}

/// The warm interpreter's process: a workload's hardening with Landlock prepared but
/// not enforced (the workspace's rules are added once it is bound), then the
/// interpreter. Never returns.
fn interpreter_main(
    bundle: &Bundle,
    p: &Prepared,
    socket: OwnedFd,
    report: &io::PipeWriter,
    deferred: &[String],
) -> ! {
    exec::workload_prologue(bundle, p, report, &[socket.as_raw_fd()]);
    let fail = |step: &str, e: &dyn std::fmt::Display| -> ! {
        exec::workload_fail(report, EXIT_SETUP, step, e)
    };
    let (ruleset, rules) =
        match crate::harden::prepare_landlock(&bundle.landlock, p.landlock, deferred) {
            Ok(prepared) => prepared,
            Err(e) => fail("Landlock", &e),
        };
    let (ruleset, status) = ruleset.defer();
    exec::note_landlock(bundle, report, &status);
    let ruleset_fd = ruleset.as_ref().map_or(-1, AsRawFd::as_raw_fd);
    for fd in [socket.as_raw_fd(), ruleset_fd, report.as_raw_fd()] {
        if fd >= 0 {
            if let Err(e) = sys::keep_across_exec(fd) {
                fail("handing descriptors to the warm interpreter", &e);
            }
        }
    }
    // The program comes as the control socket's first message.
    let mut argv = vec![
        "python3".to_string(),
        "-c".to_string(),
        BOOTSTRAP.to_string(),
        socket.as_raw_fd().to_string(),
        ruleset_fd.to_string(),
        report.as_raw_fd().to_string(),
    ];
    // One mask per deferred path, in order (0: no rule for it, only its descriptor).
    argv.extend(deferred.iter().map(|path| {
        rules
            .iter()
            .find(|r| &r.path == path)
            .map_or(0, |r| r.access)
            .to_string()
    }));
    let p = p.for_command(cstrings(argv), p.env.clone());
    exec::install_and_exec(&p, report)
}

/// Arguments as C strings (a NUL byte cannot be sent: the message separates fields
/// with it).
pub(super) fn cstrings(items: Vec<String>) -> Vec<CString> {
    items
        .into_iter()
        .filter_map(|s| CString::new(s).ok())
        .collect()
}

/// The bundle's environment with a run's variables added, replacing any of the same
/// name.
pub(super) fn merged_env(base: &[CString], run: &[(String, String)]) -> Vec<CString> {
    let mut env: Vec<String> = base
        .iter()
        .map(|e| e.to_string_lossy().into_owned())
        .filter(|kv| {
            let key = kv.split('=').next().unwrap_or_default();
            !run.iter().any(|(k, _)| k == key)
        })
        .collect();
    env.extend(run.iter().map(|(k, v)| format!("{k}={v}")));
    cstrings(env)
}

/// The portal: clones host directories as detached mounts for init. Never returns.
fn portal_main(socket: UnixStream) -> ! {
    let mut len = [0u8; 2];
    loop {
        if (&socket).read_exact(&mut len).is_err() {
            sys::exit_now(0);
        }
        let mut request = vec![0u8; usize::from(u16::from_le_bytes(len))];
        if (&socket).read_exact(&mut request).is_err() {
            sys::exit_now(0);
        }
        let Some((&read_only, path)) = request.split_first() else {
            sys::exit_now(0);
        };
        let os = |b: &[u8]| -> std::path::PathBuf {
            <std::ffi::OsStr as std::os::unix::ffi::OsStrExt>::from_bytes(b).into()
        };
        let set = sys::bind_attrs(read_only == 1);
        // `BASE\0REL`: REL resolved beneath the directory BASE.
        let tree = match path.iter().position(|&b| b == 0) {
            Some(nul) => sys::open_tree_beneath(
                &os(path.get(..nul).unwrap_or_default()),
                &os(path.get(nul + 1..).unwrap_or_default()),
                set,
            ),
            None => sys::open_tree_with_attrs(&os(path), set),
        };
        let answer = match tree {
            Ok(tree) => sys::send_fd(socket.as_raw_fd(), tree.as_raw_fd()),
            Err(e) => {
                let code = e.raw_os_error().unwrap_or(libc::EIO);
                (&socket).write_all(&code.to_le_bytes()).and(Ok(()))
            }
        };
        if answer.is_err() {
            sys::exit_now(0);
        }
    }
}

/// Asks the portal for a detached clone of `path`; `None` if it does not exist.
fn portal_capture(portal: &UnixStream, path: &str, read_only: bool) -> io::Result<Option<OwnedFd>> {
    let bytes = path.as_bytes();
    let len = u16::try_from(bytes.len() + 1)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "path too long"))?;
    let mut request = Vec::with_capacity(2 + bytes.len() + 1);
    request.extend_from_slice(&len.to_le_bytes());
    request.push(u8::from(read_only));
    request.extend_from_slice(bytes);
    (&*portal).write_all(&request)?;
    // A descriptor (with one byte), or four bytes of errno.
    match sys::recv_fd_or_bytes(portal.as_raw_fd())? {
        Ok(fd) => Ok(Some(fd)),
        Err(errno) if errno == libc::ENOENT => Ok(None),
        Err(errno) => Err(io::Error::from_raw_os_error(errno)),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "test code")]
    use super::*;

    #[test]
    fn start_messages_round_trip() {
        let m = StartMessage {
            command: vec!["python3".into(), "-c".into(), "print('a=b')".into()],
            env: vec![("A".into(), "1=2".into())],
            workspace: Some("/home/u/p".into()),
            tty: true,
        };
        assert_eq!(StartMessage::decode(&m.encode()).unwrap(), m);
        let empty = StartMessage::default();
        assert_eq!(StartMessage::decode(&empty.encode()).unwrap(), empty);
        assert!(StartMessage::decode(b"3\0a\0").is_none());
    }
}
