//! The three processes of a run (see the module docs of `sandbox`).

use std::ffi::CString;
use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, IntoRawFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use phantom_bundle::{Bundle, MountStep, Network};

use super::listen_checks;
use super::mounts::{self, RealOps};
use super::netns;
use super::seccomp_agent;
use super::sys;
use super::vars::Vars;
use crate::cgroup::{CgroupOptions, CgroupSession, LimitEvents, RealFs};

use super::fallback;
use crate::harden;

/// Exit status when the sandbox itself could not be started.
pub const EXIT_SETUP: i32 = 125;
pub const EXIT_TIMEOUT: i32 = 124;
pub const EXIT_NOT_EXECUTABLE: i32 = 126;
pub const EXIT_NOT_FOUND: i32 = 127;

/// One run's changes to the bundle's limits and settings.
#[derive(Clone, Debug, Default)]
pub struct Overrides {
    pub memory: Option<u64>,
    pub cpu_millis: Option<u64>,
    pub pids: Option<u64>,
    pub timeout_ms: Option<u64>,
    pub tmp_size: Option<u64>,
    pub network_host: Option<bool>,
    pub env: Vec<(String, String)>,
    /// Allow overrides that loosen what the bundle allows.
    pub allow_loosen: bool,
}

impl Overrides {
    /// Whether these change nothing ([`apply_overrides`] would leave the bundle as it
    /// is; `allow_loosen` alone loosens nothing).
    pub fn is_empty(&self) -> bool {
        let Overrides {
            memory,
            cpu_millis,
            pids,
            timeout_ms,
            tmp_size,
            network_host,
            env,
            allow_loosen: _,
        } = self;
        memory.is_none()
            && cpu_millis.is_none()
            && pids.is_none()
            && timeout_ms.is_none()
            && tmp_size.is_none()
            && network_host.is_none()
            && env.is_empty()
    }
}

#[derive(Clone, Debug)]
pub struct ExecOptions {
    pub workspace: Option<PathBuf>,
    /// Replaces the bundle's command when not empty.
    pub command: Vec<String>,
    pub overrides: Overrides,
    /// Run even where a limit cannot be enforced, saying which.
    pub allow_degraded: bool,
    /// Give the workload a pseudo-terminal (interactive shells); phantom relays it.
    pub tty: bool,
    /// The supervisor of the calls the filter leaves to one (`notify` rules).
    pub seccomp_agent: Option<super::SeccompAgent>,
}

#[derive(Debug, thiserror::Error)]
pub enum ExecError {
    #[error("this machine's architecture has no filter in the bundle (it has: {0})")]
    NoFilter(String),
    #[error("no command: the bundle has no default command; give one after `--`")]
    NoCommand,
    #[error("{0}")]
    Override(String),
    // `error`, not `source`: the message carries the cause once, alone or as a chain.
    #[error("the workspace `{path}`: {error}")]
    Workspace { path: String, error: io::Error },
    #[error("cgroup: {0}\n(to run anyway without the limits this host cannot enforce, pass --allow-degraded; phantom then names each one)")]
    Cgroup(String),
    #[error("creating the sandbox's namespaces failed: {0}; user namespaces may be disabled (sysctl kernel.unprivileged_userns_clone, or AppArmor's restriction on Ubuntu)")]
    Clone(io::Error),
    #[error("cannot create a user namespace ({0}): this host does not allow them (Ubuntu's AppArmor restriction `kernel.apparmor_restrict_unprivileged_userns`, `user.max_user_namespaces` = 0, or Debian's `kernel.unprivileged_userns_clone` = 0). Allow them, run as root, use direct mode (`phantom run --mode direct`, `phantomc compile --mode direct`), or pass --allow-degraded to run with Landlock as the filesystem layer (phantom then names what is not isolated)")]
    UserNamespaces(io::Error),
    #[error("giving up phantom's supplementary groups before the sandbox is cloned (as root, so that none follows the workload) failed: {0}")]
    Groups(io::Error),
    #[error("writing the sandbox's uid/gid maps failed: {0}. Its user is the caller, or, for root, the workspace's owner or nobody (uid/gid 65534), never root: that id must exist in phantom's own user namespace (inside a container, map it, or give the workspace to a user the container maps)")]
    IdMaps(io::Error),
    #[error("making the sandbox's network namespace failed: {0}")]
    Network(netns::NetnsError),
    #[error("the bundle's seccomp filter leaves some system calls to a supervisor (`notify` rules), and no seccomp agent was given: pass `--seccomp-agent SOCKET` to `phantom exec`, the socket of a program that answers them (docs/seccomp.md), or --allow-degraded to run with those calls failing (ENOSYS)")]
    NoSeccompAgent,
    #[error("the bundle's seccomp filter leaves some system calls to a supervisor (`notify` rules), and {0} takes no seccomp agent to give them to (its runs would fail them, ENOSYS): run the bundle with `phantom exec BUNDLE --seccomp-agent SOCKET`")]
    SeccompAgentUnavailable(&'static str),
    #[error("the bundle's seccomp filter leaves some system calls to a supervisor (`notify` rules), and its network lets it bind ports, whose `listen` calls phantom supervises itself: the kernel allows one supervisor, so a policy cannot have both; drop the `notify` rules or the ports to bind")]
    NotifyWithListenChecks,
    #[error("the bundle's network lets the workload bind ports, and {0} cannot check its `listen` calls (phantom does in a cold run, so that a socket never bound does not listen on a port no rule allows): run it cold, with `phantom exec`, or `phantom run` without `--warm`")]
    ListenChecksUnavailable(&'static str),
    #[error("--seccomp-agent: the bundle's seccomp filter leaves no system call to a supervisor (it has no `notify` rule), so there is nothing for an agent to answer; leave the option out")]
    SeccompAgentUnused,
    // `error`, not `source`: the message carries the cause once.
    #[error("the seccomp agent at `{socket}`: {error} (start the agent first; its socket must be a Unix stream socket this user may connect to)")]
    SeccompAgent { socket: String, error: io::Error },
    #[error("handing the seccomp listener to the agent at `{socket}` failed: {error} (the agent must read one message, the state with the listener, as OCI runtimes send it: docs/seccomp.md)")]
    SeccompAgentHandover { socket: String, error: io::Error },
    #[error("{0}")]
    Io(#[from] io::Error),
}

impl ExecError {
    /// Whether the error is about the bundle alone (what it asks, not this host's
    /// state), so that trying it again cannot succeed.
    pub fn refuses_the_bundle(&self) -> bool {
        matches!(
            self,
            ExecError::SeccompAgentUnavailable(_) | ExecError::ListenChecksUnavailable(_)
        )
    }
}

impl From<netns::NetnsError> for ExecError {
    fn from(e: netns::NetnsError) -> Self {
        // Not a `#[source]`: the message already carries the cause, once, whether it
        // is printed alone or as a chain.
        ExecError::Network(e)
    }
}

/// How a run ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    Exited(i32),
    Signaled(i32),
    Timeout(Duration),
    /// The sandbox could not start the workload (setup, not found, not executable).
    Failed {
        code: i32,
        message: String,
    },
}

impl Outcome {
    /// The exit status `phantom` itself returns, as a shell would.
    pub fn exit_code(&self) -> i32 {
        match self {
            Outcome::Exited(code) => *code,
            Outcome::Signaled(signal) => 128 + signal,
            Outcome::Timeout(_) => EXIT_TIMEOUT,
            Outcome::Failed { code, .. } => *code,
        }
    }
}

/// What the run did, for the caller to report.
#[derive(Clone, Debug)]
pub struct Report {
    pub outcome: Outcome,
    /// Limits that ended or hurt the run (`memory limit 256 MiB exceeded`).
    pub limits_hit: Vec<String>,
    /// Limits that were not enforced (with `--allow-degraded`).
    pub not_enforced: Vec<String>,
}

/// A size for people: `256 MiB`, `1 GiB`, `1234 B`.
pub fn size(bytes: u64) -> String {
    if bytes >= 1 << 30 && bytes.is_multiple_of(1 << 30) {
        format!("{} GiB", bytes >> 30)
    } else if bytes >= 1 << 20 {
        format!("{} MiB", bytes >> 20)
    } else {
        format!("{bytes} B")
    }
}

/// Applies one run's overrides to a copy of the bundle; refuses loosening unless allowed.
pub fn apply_overrides(bundle: &mut Bundle, o: &Overrides) -> Result<(), ExecError> {
    let tighten = |name: &str, current: Option<u64>, new: u64| -> Result<Option<u64>, ExecError> {
        match current {
            Some(c) if new > c && !o.allow_loosen => Err(ExecError::Override(format!(
                "--{name} {new} would loosen the bundle's limit of {c}; add --allow-loosen to allow it"
            ))),
            None if !o.allow_loosen && name != "timeout" && name != "cpu" => Ok(Some(new)),
            _ => Ok(Some(new)),
        }
    };
    // What the kernel would take for "no limit" or refuse at the start of every run.
    let unenforceable = [
        (
            o.memory.is_some_and(|m| m < 1 << 20),
            "--memory under 1 MiB",
        ),
        (
            o.tmp_size == Some(0),
            "--tmp-size 0 (a tmpfs takes it for no limit)",
        ),
        (o.pids == Some(0), "--pids 0"),
        (o.timeout_ms == Some(0), "--timeout 0"),
        (o.cpu_millis.is_some_and(|c| c < 10), "--cpu under 0.01"),
    ];
    if let Some((_, what)) = unenforceable.iter().find(|(bad, _)| *bad) {
        return Err(ExecError::Override(format!(
            "{what} is not a limit phantom can enforce: give a larger value"
        )));
    }
    if let Some(m) = o.memory {
        bundle.cgroup.memory_max = tighten("memory", bundle.cgroup.memory_max, m)?;
    }
    if let Some(p) = o.pids {
        bundle.cgroup.pids_max = tighten("pids", bundle.cgroup.pids_max, p)?;
    }
    if let Some(t) = o.timeout_ms {
        bundle.process.timeout_ms = tighten("timeout", bundle.process.timeout_ms, t)?;
    }
    if let Some(millis) = o.cpu_millis {
        let quota = millis.saturating_mul(100_000) / 1000;
        let current = bundle.cgroup.cpu.map(|c| c.quota_us);
        let quota = tighten("cpu", current, quota)?.unwrap_or(quota);
        bundle.cgroup.cpu = Some(phantom_bundle::CpuQuota {
            quota_us: quota,
            period_us: 100_000,
        });
    }
    if let Some(t) = o.tmp_size {
        for step in &mut bundle.mounts {
            if let MountStep::Tmpfs { target, size, .. } = step {
                if target == "/tmp" {
                    *size = tighten("tmp-size", *size, t)?;
                }
            }
        }
    }
    let direct = !bundle.mode.uses_namespaces();
    if direct && o.tmp_size.is_some() {
        return Err(ExecError::Override(
            "--tmp-size has no effect on a direct-mode bundle: it has no /tmp of its own".into(),
        ));
    }
    if let Some(host) = o.network_host {
        if direct && host != (bundle.network == Network::Host) {
            // No network namespace to add or remove, and the socket rule that makes
            // `none` hold in direct mode is part of the compiled filter.
            return Err(ExecError::Override(
                "a direct-mode bundle's network is fixed when it is compiled (there is no network namespace to change); compile it from a policy with the network you want, or use sandbox mode".into(),
            ));
        }
        let loosens = host && bundle.network != Network::Host;
        if loosens && !o.allow_loosen {
            return Err(ExecError::Override(
                "--network host would loosen the bundle's network; add --allow-loosen to allow it"
                    .into(),
            ));
        }
        bundle.network = if host { Network::Host } else { Network::None };
        // Landlock's port rules belonged to the filtered network replaced here. (A
        // filtered bundle's rule that IPv4/IPv6 sockets be TCP's is in its filter, and
        // stays.)
        bundle.landlock.restrict_net = false;
    }
    for (k, v) in &o.env {
        bundle.process.env.insert(k.clone(), v.clone());
    }
    Ok(())
}

/// Everything the sandbox's processes need, prepared before cloning (so they allocate
/// little and decide nothing).
pub(super) struct Prepared {
    /// `PHANTOM_TIMING=1`: every process prints when each setup step ends.
    pub(super) timing: Option<Instant>,
    /// With `--tty`: the workload's end of the console socket, over which it sends the
    /// master of a terminal it opens in the sandbox's own devpts.
    pub(super) console: Option<std::os::unix::net::UnixStream>,
    pub(super) filter: Vec<u8>,
    pub(super) argv: Vec<CString>,
    pub(super) env: Vec<CString>,
    pub(super) vars: Vars,
    pub(super) cwd: String,
    /// Required in direct mode, where Landlock is the filesystem layer.
    pub(super) landlock: harden::LandlockMode,
    /// Who the sandbox's user is on the host (never root).
    pub(super) host: super::identity::HostIdentity,
    /// With a seccomp agent, or phantom's own checks of `listen`: the workload's end of
    /// the socket over which it hands phantom a filter's listener ([`install_and_exec`]).
    pub(super) listener_to: Option<std::os::unix::net::UnixStream>,
    /// phantom supervises `listen` ([`listen_checks`]): the listener handed over is the
    /// small filter's that leaves `listen` to phantom, not the policy's.
    pub(super) checks_listen: bool,
    /// The filter has `notify` rules and no agent answers them (`--allow-degraded`):
    /// those calls fail, ENOSYS, which the run reports.
    pub(super) notify_unanswered: bool,
}

impl Prepared {
    /// The same preparation for another command and environment (each run of a
    /// resident sandbox); no terminal.
    pub(super) fn for_command(&self, argv: Vec<CString>, env: Vec<CString>) -> Prepared {
        Prepared {
            timing: self.timing,
            console: None,
            filter: self.filter.clone(),
            argv,
            env,
            vars: self.vars.clone(),
            cwd: self.cwd.clone(),
            landlock: self.landlock,
            host: self.host,
            listener_to: None,
            checks_listen: false,
            notify_unanswered: self.notify_unanswered,
        }
    }
}

pub(super) fn prepare(bundle: &Bundle, options: &ExecOptions) -> Result<Prepared, ExecError> {
    let filter = native_filter(bundle).map(<[u8]>::to_vec).ok_or_else(|| {
        ExecError::NoFilter(
            bundle
                .seccomp
                .iter()
                .map(|f| f.arch.name())
                .collect::<Vec<_>>()
                .join(", "),
        )
    })?;
    let checks_listen = listen_checks::wanted(bundle);
    let asks_supervisor = crate::seccomp::asks_supervisor(&filter);
    match (&options.seccomp_agent, asks_supervisor) {
        (_, true) if checks_listen => return Err(ExecError::NotifyWithListenChecks),
        (None, true) if !options.allow_degraded => return Err(ExecError::NoSeccompAgent),
        (Some(_), false) => return Err(ExecError::SeccompAgentUnused),
        _ => {}
    }
    let (workspace, host) = match &options.workspace {
        Some(w) => {
            let workspace_error = |error| ExecError::Workspace {
                path: w.display().to_string(),
                error,
            };
            let (canonical, host) =
                super::identity::HostIdentity::for_workspace(w).map_err(workspace_error)?;
            if !canonical.is_dir() {
                return Err(workspace_error(io::Error::other("not a directory")));
            }
            (Some(canonical.display().to_string()), host)
        }
        None => (
            None,
            super::identity::HostIdentity::for_run_without_workspace(),
        ),
    };
    let vars = Vars {
        workspace,
        cwd: std::env::current_dir()?.display().to_string(),
        home: std::env::var("HOME").ok(),
    };
    let command = if options.command.is_empty() {
        bundle.process.command.clone().unwrap_or_default()
    } else {
        options.command.clone()
    };
    if command.is_empty() {
        return Err(ExecError::NoCommand);
    }
    let cstring = |s: &str| {
        CString::new(s).map_err(|_| ExecError::Override(format!("`{s}` contains a NUL byte")))
    };
    let argv = command
        .iter()
        .map(|a| cstring(a))
        .collect::<Result<Vec<_>, _>>()?;
    let mut env_map = bundle.process.env.clone();
    for name in &bundle.process.pass {
        if let Ok(value) = std::env::var(name) {
            env_map.insert(name.clone(), value);
        }
    }
    let env = env_map
        .iter()
        .map(|(k, v)| cstring(&format!("{k}={v}")))
        .collect::<Result<Vec<_>, _>>()?;
    let cwd = vars
        .resolve(&bundle.process.cwd)
        .map_err(ExecError::Override)?;
    let timing = timing_requested().then(Instant::now);
    // In direct mode Landlock is the only filesystem layer, and with a filtered network
    // (the host's) the only thing that holds TCP to its ports: never optional then, not
    // even with --allow-degraded.
    let landlock = if bundle.mode.uses_namespaces() && !bundle.landlock.restrict_net {
        harden::LandlockMode::BestEffort
    } else {
        harden::LandlockMode::Required
    };
    Ok(Prepared {
        timing,
        console: None,
        filter,
        argv,
        env,
        vars,
        cwd,
        landlock,
        host,
        listener_to: None,
        checks_listen,
        notify_unanswered: asks_supervisor && options.seccomp_agent.is_none(),
    })
}

/// The bundle's filter for this machine's architecture.
fn native_filter(bundle: &Bundle) -> Option<&[u8]> {
    let native = phantom_bundle::Arch::native();
    bundle
        .seccomp
        .iter()
        .find(|f| Some(f.arch) == native)
        .map(|f| f.program.as_slice())
}

/// Refuses a bundle whose filter has `notify` rules where no seccomp agent can be given
/// (`what`: parked sandboxes, persistent workspaces): their runs would fail those
/// calls, ENOSYS, with nothing said to whoever asked for the run.
pub(super) fn refuse_notify_rules(bundle: &Bundle, what: &'static str) -> Result<(), ExecError> {
    if native_filter(bundle).is_some_and(crate::seccomp::asks_supervisor) {
        return Err(ExecError::SeccompAgentUnavailable(what));
    }
    if listen_checks::wanted(bundle) {
        return Err(ExecError::ListenChecksUnavailable(what));
    }
    Ok(())
}

/// The name of direct mode's private HOME: `phantom-home-<pid>-0.<pid namespace>-…`.
const HOME_PREFIX: &str = "phantom-home";

/// Removes private HOMEs that direct-mode runs left in `tmp` when their phantom was
/// killed (SIGKILL): directories of this user, named for a process of this pid
/// namespace that no longer exists. Anything else is left alone.
fn sweep_stale_homes(tmp: &Path) {
    use crate::cgroup::CgroupFs;
    use std::os::unix::fs::MetadataExt;
    // The directories alone, listed without libc's opendir (`RealFs::list`).
    let Ok(names) = RealFs.list(tmp) else {
        return;
    };
    let own = std::process::id();
    for name in names {
        let Some(pid) = crate::cgroup::stale_pid(&name, HOME_PREFIX) else {
            continue;
        };
        let ours = crate::cgroup::namespace_tag(&name, HOME_PREFIX)
            == Some(crate::cgroup::own_namespace_tag());
        let dead = u32::try_from(pid).is_ok_and(|p| p != own) && !RealFs.process_exists(pid);
        let path = tmp.join(&name);
        let mine =
            std::fs::symlink_metadata(&path).is_ok_and(|m| m.is_dir() && m.uid() == sys::uid());
        if ours && dead && mine {
            let _ = std::fs::remove_dir_all(path);
        }
    }
}

/// Points HOME (when it is in the shared /tmp) and TMPDIR at a fresh 0700 directory.
fn private_home(bundle: &mut Bundle) -> Result<Option<tempfile::TempDir>, ExecError> {
    let env = &mut bundle.process.env;
    let shared = |v: &String| v == "/tmp" || v.starts_with("/tmp/");
    if !env.get("HOME").is_some_and(shared) && env.contains_key("TMPDIR") {
        return Ok(None);
    }
    use std::os::unix::fs::PermissionsExt;
    sweep_stale_homes(&std::env::temp_dir());
    // Named for this process and its pid namespace, as cgroup directories are, so that
    // the next run can tell one a killed phantom left behind.
    let prefix = format!(
        "{HOME_PREFIX}-{}-0.{}-",
        std::process::id(),
        crate::cgroup::own_namespace_tag()
    );
    let dir = tempfile::Builder::new()
        .prefix(&prefix)
        .permissions(std::fs::Permissions::from_mode(0o700))
        .tempdir()?;
    let path = dir.path().display().to_string();
    if env.get("HOME").is_some_and(shared) {
        env.insert("HOME".into(), path.clone());
    }
    env.entry("TMPDIR".into()).or_insert(path);
    Ok(Some(dir))
}

/// `PHANTOM_TIMING=1` or `PHANTOM_DEBUG=true`: each setup step's time on stderr.
pub fn timing_requested() -> bool {
    let on = |name: &str| {
        std::env::var(name)
            .is_ok_and(|v| !matches!(v.to_ascii_lowercase().as_str(), "" | "0" | "false" | "no"))
    };
    on("PHANTOM_TIMING") || on("PHANTOM_DEBUG")
}

/// Blocks the signals a supervisor forwards to its workload (SIGINT, SIGTERM, SIGHUP,
/// SIGQUIT; and SIGWINCH, to resize a terminal) and returns a signalfd that reads them.
pub fn forwarded_signals() -> io::Result<OwnedFd> {
    sys::signalfd_for(&[
        libc::SIGINT,
        libc::SIGTERM,
        libc::SIGHUP,
        libc::SIGQUIT,
        libc::SIGWINCH,
    ])
}

/// Runs the bundle's workload; returns how it ended.
pub fn run(bundle: &Bundle, options: &ExecOptions) -> Result<Report, ExecError> {
    run_watching(bundle, options, None)
}

/// [`run`], ending the run early if `hangup` (a client's connection) is closed.
pub fn run_watching(
    bundle: &Bundle,
    options: &ExecOptions,
    hangup: Option<std::os::fd::RawFd>,
) -> Result<Report, ExecError> {
    // Copied only if this run changes it (a copy of every string of the bundle, and its
    // release, is work before and after every start).
    let mut bundle = std::borrow::Cow::Borrowed(bundle);
    if !options.overrides.is_empty() {
        apply_overrides(bundle.to_mut(), &options.overrides)?;
    }
    // Direct mode shares the host's /tmp with every local user: a HOME there could hold
    // dotfiles (.gitconfig, .npmrc, pip.conf) planted by someone else. The workload gets
    // a private directory of its own instead, removed after the run.
    let _private_home = if bundle.mode.uses_namespaces() {
        None
    } else {
        private_home(bundle.to_mut())?
    };
    let mut prepared = prepare(&bundle, options)?;
    if !bundle.mode.uses_namespaces() {
        // Direct mode's Landlock rules are host paths, some with run-time variables.
        for rule in &mut bundle.to_mut().landlock.paths {
            rule.path = prepared
                .vars
                .resolve(&rule.path)
                .map_err(ExecError::Override)?;
        }
    }
    let console = if options.tty {
        let (ours, theirs) = std::os::unix::net::UnixStream::pair()?;
        prepared.console = Some(theirs);
        Some(ours)
    } else {
        None
    };
    // A seccomp agent is reached before anything is made (one that is not there fails
    // the run here); the workload hands its filter's listener back over `listener_from`.
    let agent = match &options.seccomp_agent {
        Some(agent) => {
            let connection =
                seccomp_agent::connect(agent).map_err(|error| ExecError::SeccompAgent {
                    socket: agent.socket.display().to_string(),
                    error,
                })?;
            Some((agent, connection))
        }
        None => None,
    };
    // The socket over which the workload hands phantom a filter's listener: for the
    // agent, or for phantom's own checks of `listen` ([`listen_checks`]).
    let listener_from = if agent.is_some() || prepared.checks_listen {
        let (listener_from, listener_to) = std::os::unix::net::UnixStream::pair()?;
        // The workload's pid, as phantom (and the agent) see it, comes with its word.
        sys::pass_credentials(listener_from.as_raw_fd())?;
        prepared.listener_to = Some(listener_to);
        Some(listener_from)
    } else {
        None
    };

    mark(&prepared, "prepared");
    let (go_read, go_write) = io::pipe()?;
    // What phantom hands over before the go-ahead: the descriptors through which the
    // workload (direct mode's child) enters its cgroups, and its network namespace
    // (see `move_in`).
    let (move_in_ours, move_in_theirs) = std::os::unix::net::UnixStream::pair()?;
    // The network namespace again, for init (`init_main`), which joins it while the
    // workload waits for its word; only where the sandbox gets one of its own.
    let (net_ours, net_theirs) = (own_network(&bundle) && bundle.mode.uses_namespaces())
        .then(std::os::unix::net::UnixStream::pair)
        .transpose()?
        .unzip();
    let (report_read, report_write) = io::pipe()?;
    // Closed by the workload before its last steps (hardening, seccomp, execve): the
    // work of phantom's that the run does not wait for starts then, on a CPU the
    // sandbox's setup no longer needs, instead of competing with that setup. (Direct
    // mode's child, with next to no setup, closes it at once.)
    let (setup_done_read, setup_done_write) = io::pipe()?;
    // Signals for the supervisor are read from a signalfd, and blocked meanwhile; the
    // sandbox unblocks them in the workload.
    let signals = [
        libc::SIGINT,
        libc::SIGTERM,
        libc::SIGHUP,
        libc::SIGQUIT,
        libc::SIGWINCH,
    ];
    let sigfd = sys::signalfd_for(&signals)?;
    // Without --tty the workload shares phantom's stdio: what it changes there (a
    // terminal's settings, O_NONBLOCK) is put back after the run.
    let stdio = console.is_none().then(sys::StdioState::save);

    let mut direct = !bundle.mode.uses_namespaces();
    let mut flags = namespace_flags();
    if direct {
        // No namespaces: the child is the workload itself, on the host's view.
        flags = 0;
    }
    // On a host with cgroup v2 alone, the sandbox's cgroup is made first and init is
    // born in it: a move by pid waits for an RCU grace period after an idle moment
    // (10-17 ms, docs/benchmarks.md); being born there does not. Elsewhere (v1
    // controllers) the cgroups are made while init builds its root, and init moves
    // itself in, which waits for no grace period either (`cgroup_moved_in`).
    // Detected once for the run: which layout decides how init gets into its cgroup.
    // Where v1 controllers hold this process (two small reads say so), the full
    // detection waits until init is building its root: nothing before the clone needs it.
    let mut probe = crate::cgroup::Probe::read(&RealFs).ok();
    let detect_now = probe
        .as_ref()
        .is_none_or(crate::cgroup::Probe::may_be_unified);
    // (Where /proc could not be read, the full detection could not either.)
    let finish = |probe: Option<crate::cgroup::Probe>| {
        probe.and_then(|p| crate::cgroup::Detection::from_probe(&RealFs, p).ok())
    };
    let mut detection = detect_now.then(|| finish(probe.take())).flatten();
    let mut born_in = unified_session(&bundle, options.allow_degraded, detection.as_ref())?;
    let cgroup_fd = born_in
        .as_ref()
        .map(|(_, dir)| std::os::fd::AsFd::as_fd(dir));
    // SAFETY-relevant: `phantom exec` is single-threaded up to here (no thread is spawned
    // before this point), as `sys::clone_into` requires.
    let mut lost = Vec::new();
    // A kernel or host that refuses the clone into the cgroup (older than 5.7, say)
    // gets the usual clone and a move.
    if !direct {
        super::identity::before_clone().map_err(ExecError::Groups)?;
    }
    let mut first = super::identity::clone_sandbox(prepared.host, flags, cgroup_fd);
    let mut born_there = cgroup_fd.is_some();
    if first.is_err() && born_there {
        born_there = false;
        first = super::identity::clone_sandbox(prepared.host, flags, None);
    }
    let cloned = match first {
        Err(e) if !direct && fallback::is_userns_refusal(&e) => {
            if !options.allow_degraded {
                return Err(ExecError::UserNamespaces(e));
            }
            // Landlock becomes the filesystem layer; each thing lost is reported.
            lost = fallback::landlock_only(bundle.to_mut(), &prepared.vars)
                .map_err(ExecError::Override)?;
            prepared.cwd = bundle.process.cwd.clone();
            prepared.landlock = harden::LandlockMode::Required;
            direct = true;
            sys::clone_into(0, cgroup_fd.filter(|_| born_there))
        }
        other => other,
    };
    let child = match cloned.map_err(ExecError::Clone)? {
        None => {
            drop(go_write);
            drop(report_read);
            drop(sigfd);
            drop(move_in_ours);
            drop(net_ours);
            drop(setup_done_read);
            if direct {
                drop(net_theirs);
                drop(setup_done_write);
                direct_main(&bundle, &prepared, go_read, move_in_theirs, report_write)
            }
            init_main(
                &bundle,
                &prepared,
                go_read,
                move_in_theirs,
                net_theirs,
                report_write,
                setup_done_write,
            )
        }
        Some(child) => child,
    };
    drop(go_read);
    drop(move_in_theirs);
    drop(net_theirs);
    drop(report_write);
    drop(setup_done_write);
    prepared.console = None;
    prepared.listener_to = None;

    let started = Instant::now();
    let setup = hand_over(
        &child,
        &bundle,
        !direct,
        &prepared,
        &go_write,
        &move_in_ours,
        net_ours.as_ref(),
        |to| match born_in.take() {
            Some((cgroup, _)) if born_there => Ok(cgroup),
            // The clone into it was refused: whoever runs the workload enters it
            // itself, as on other hosts (init may have forked the workload already, and
            // a move of init by pid would leave it out).
            Some((cgroup, _)) => {
                send_entry_files(&cgroup, to)?;
                Ok(cgroup)
            }
            None => {
                if !detect_now {
                    detection = finish(probe.take());
                }
                cgroup_moved_in(
                    &bundle,
                    sandbox_cgroup_options(options.allow_degraded, !direct),
                    detection.as_ref(),
                    to,
                )
            }
        },
    );
    mark(&prepared, "cgroup created, sandbox let go");
    let cgroup = match setup {
        Ok(cgroup) => cgroup,
        Err(e) => {
            // Killed before its channels close, so init does not report their end as
            // a failure of its own.
            let _ = sys::pidfd_kill(&child.pidfd, libc::SIGKILL);
            let _ = sys::waitpid(child.pid, 0);
            drop((go_write, move_in_ours, net_ours));
            // A sandbox that failed by itself (a variable left unbound, say) closed
            // the go-ahead pipe before we wrote to it: its report says why, and the
            // broken pipe is only the symptom. Its processes are gone, so the report
            // pipe reads to its end at once.
            if matches!(&e, ExecError::Io(io) if io.kind() == io::ErrorKind::BrokenPipe) {
                let mut report = String::new();
                let _ = (&report_read).read_to_string(&mut report);
                if first_failure(&report).is_some() {
                    return Ok(Report {
                        outcome: parse_report(&report, 0),
                        limits_hit: Vec::new(),
                        not_enforced: lost,
                    });
                }
            }
            return Err(e);
        }
    };
    drop((go_write, move_in_ours, net_ours));
    let mut not_enforced = lost;
    not_enforced.extend_from_slice(cgroup.not_enforced());
    // Directories left by runs whose phantom was killed (SIGKILL) are removed once the
    // workload has set itself up, while it execs and runs and phantom would only wait.
    // (Before, the sweep competed with the setup for the CPUs; after the run, it would
    // be among the steps the caller waits for.)
    let mut sweep = || {
        if let Some(detection) = &detection {
            let _ = crate::cgroup::sweep_stale_detected(
                &crate::cgroup::RealFs,
                detection,
                crate::cgroup::DEFAULT_PREFIX,
            );
        }
        mark(&prepared, "swept stale cgroups");
    };

    let timeout = bundle.process.timeout_ms.map(Duration::from_millis);
    // The workload opens its terminal once the sandbox stands, and sends us the master.
    let tty_master = match &console {
        Some(socket) => match sys::recv_fd(socket.as_raw_fd()) {
            Ok(master) => {
                sys::copy_window_size(0, master.as_raw_fd());
                Some(master)
            }
            Err(_) => None, // the sandbox failed first; its report says why
        },
        None => None,
    };
    // The workload's word (its pid comes with it), then the listener from its courier,
    // just before its execve. A workload that failed first sends nothing (its report
    // says why) and the socket reads to its end.
    let handed_over = listener_from.as_ref().and_then(|from| {
        let from = from.as_raw_fd();
        let (pid, (listener, courier)) = sys::recv_sender(from)
            .and_then(|pid| Ok((pid, sys::recv_fd_and_sender(from)?)))
            .ok()?;
        // In direct mode the courier is phantom's own child (elsewhere init's, which
        // reaps it): it exits once it has sent the listener.
        if let Some(courier) = courier.filter(|_| direct) {
            let _ = sys::waitpid(courier, 0);
        }
        Some((pid, listener))
    });
    let mut supervised_listen = None;
    if let Some((pid, listener)) = handed_over {
        match &agent {
            Some((agent, connection)) => {
                let state = seccomp_agent::state(agent, &bundle.name, pid);
                if let Err(error) = seccomp_agent::hand_over(connection, &state, listener) {
                    let _ = sys::pidfd_kill(&child.pidfd, libc::SIGKILL);
                    let _ = sys::waitpid(child.pid, 0);
                    let _ = cgroup.destroy();
                    return Err(ExecError::SeccompAgentHandover {
                        socket: agent.socket.display().to_string(),
                        error,
                    });
                }
            }
            None => {
                supervised_listen = Some(listen_checks::ListenChecks::new(listener, prepared.host));
            }
        }
    }
    drop(agent);
    if prepared.notify_unanswered {
        not_enforced.push(
            "the filter's `notify` rules: no seccomp agent was given, so those system calls fail (ENOSYS)"
                .to_string(),
        );
    }
    let raw = tty_master.as_ref().and_then(|_| sys::make_raw(0));
    // Once init reports the status, every process of the workload is reaped: the
    // cgroups' events are read then, and, unless init was born in the cgroup (v2
    // alone), the cgroups removed, while init's namespaces are torn down.
    let init_outside = !born_there && !direct;
    let mut cgroup = Some(cgroup);
    let mut events = None;
    let (outcome, timed_out, notes) = supervise(
        &child,
        report_read,
        Some(&sigfd),
        timeout,
        started,
        tty_master.as_ref(),
        direct,
        hangup,
        Some((setup_done_read, &mut sweep)),
        Some(&mut || {
            events = cgroup.as_ref().map(|c| c.events().unwrap_or_default());
            mark(&prepared, "limit events read");
            if let Some(cgroup) = cgroup.take_if(|_| init_outside) {
                let _ = cgroup.destroy();
                mark(&prepared, "cgroup removed");
            }
        }),
        supervised_listen,
    );
    if let Some(settings) = &raw {
        sys::restore_terminal(0, settings);
    }
    if let Some(stdio) = &stdio {
        stdio.restore();
    }
    mark(&prepared, "sandbox ended");
    not_enforced.extend(notes);
    let events = events
        .or_else(|| cgroup.as_ref().map(|c| c.events().unwrap_or_default()))
        .unwrap_or_default();
    let limits_hit = limits_hit(&events, &bundle, &outcome, timed_out, timeout);
    if let Some(cgroup) = cgroup {
        let _ = cgroup.destroy();
        mark(&prepared, "cgroup removed");
    }
    Ok(Report {
        outcome,
        limits_hit,
        not_enforced,
    })
}

/// The namespaces a sandbox's init is cloned into: user, mount, pid, ipc, uts. Its
/// network namespace (for `network none`) is made beside it and joined before
/// the workload starts ([`own_network`], `netns`); its cgroup namespace once it is in
/// its cgroups.
pub(super) fn namespace_flags() -> u64 {
    (libc::CLONE_NEWUSER
        | libc::CLONE_NEWNS
        | libc::CLONE_NEWPID
        | libc::CLONE_NEWIPC
        | libc::CLONE_NEWUTS) as u64
}

/// Whether the sandbox gets a network namespace of its own: `network none`. A
/// filtered network is the host's, with Landlock's port rules.
pub(super) fn own_network(bundle: &Bundle) -> bool {
    bundle.network == Network::None
}

/// The message of the first `E <code> <message>` line of a sandbox's report.
pub(super) fn first_failure(report: &str) -> Option<String> {
    report.lines().find_map(|l| {
        l.strip_prefix("E ")
            .and_then(|r| r.split_once(' '))
            .map(|(_, m)| m.to_string())
    })
}

/// On a host with cgroup v2 alone, the sandbox's session made before its init exists,
/// with a descriptor of its one directory for `CLONE_INTO_CGROUP`; `None` elsewhere
/// (or where the session has no directory, degraded).
fn unified_session(
    bundle: &Bundle,
    allow_degraded: bool,
    detection: Option<&crate::cgroup::Detection>,
) -> Result<Option<(CgroupSession<RealFs>, OwnedFd)>, ExecError> {
    let Some(detection) = detection.filter(|d| d.layout == crate::cgroup::Layout::Unified) else {
        return Ok(None);
    };
    let session = CgroupSession::create_detected(
        RealFs,
        detection,
        &bundle.cgroup,
        &bundle.name,
        // (v2 has no freezer hierarchy of its own: the flag changes nothing here.)
        &sandbox_cgroup_options(allow_degraded, bundle.mode.uses_namespaces()),
    )
    .map_err(|e| ExecError::Cgroup(e.to_string()))?;
    let Some(dir) = session.dirs().first().map(|d| d.path.clone()) else {
        return Ok(None);
    };
    let fd = std::fs::File::open(&dir).map_err(|e| {
        ExecError::Cgroup(format!(
            "opening the sandbox's cgroup `{}`: {e}",
            dir.display()
        ))
    })?;
    Ok(Some((session, fd.into())))
}

/// The options of a sandbox's cgroup session; `pid_namespace`: its processes are in a
/// pid namespace of their own, all killed when its init ends.
pub(super) fn sandbox_cgroup_options(allow_degraded: bool, pid_namespace: bool) -> CgroupOptions {
    CgroupOptions {
        allow_degraded,
        // In a delegated systemd scope phantom's own process sits in the scope's
        // cgroup; v2 wants it in a leaf before the scope's controllers are enabled.
        move_self_to_leaf: crate::cgroup::scope::in_scope(),
        freezer_for_killing: !pid_namespace,
        ..CgroupOptions::default()
    }
}

/// The sandbox's cgroup session, created now: a descriptor of each directory's entry
/// file (v1 `tasks`, v2 `cgroup.procs`) is sent over `to`, through which the process
/// that is to be in the cgroups moves itself in ([`move_in`]: the workload for exec,
/// init for parked and resident sandboxes). Through v1 `tasks` that move waits for no
/// RCU grace period; on a hybrid host the session is therefore v1 alone where v2 has no
/// limit to hold (killing goes through the v1 freezer then, or, for a sandbox, through
/// the end of its init's pid namespace).
pub(super) fn cgroup_moved_in(
    bundle: &Bundle,
    mut options: CgroupOptions,
    detection: Option<&crate::cgroup::Detection>,
    to: &std::os::unix::net::UnixStream,
) -> Result<CgroupSession<RealFs>, ExecError> {
    let killing_needs_no_v2 = !options.freezer_for_killing
        || detection.is_some_and(|d| {
            d.hierarchies
                .iter()
                .any(|h| h.offers(crate::cgroup::Controller::Freezer))
        });
    options.unified_for_killing = !detection
        .is_some_and(|d| d.layout == crate::cgroup::Layout::Hybrid && killing_needs_no_v2);
    let created = match detection {
        Some(d) => {
            CgroupSession::create_detected(RealFs, d, &bundle.cgroup, &bundle.name, &options)
        }
        None => CgroupSession::create_with(RealFs, &bundle.cgroup, &bundle.name, &options),
    };
    let cgroup = created.map_err(|e| ExecError::Cgroup(e.to_string()))?;
    send_entry_files(&cgroup, to)?;
    Ok(cgroup)
}

/// Sends a descriptor of each of the session's entry files (v1 `tasks`, v2
/// `cgroup.procs`) over `to`, for [`move_in`].
fn send_entry_files(
    cgroup: &CgroupSession<RealFs>,
    to: &std::os::unix::net::UnixStream,
) -> Result<(), ExecError> {
    for path in cgroup.entry_files() {
        let file = std::fs::OpenOptions::new()
            .write(true)
            .open(&path)
            .map_err(|e| ExecError::Cgroup(format!("opening `{}`: {e}", path.display())))?;
        sys::send_fd(to.as_raw_fd(), file.as_raw_fd())?;
    }
    Ok(())
}

/// The parent's side of starting a sandbox once its init is cloned. With `namespaces`
/// (all but direct mode): its id maps written ("m" on `go`: it builds its root
/// meanwhile) and its network namespace made beside it (`netns`, unless the bundle says
/// host). Then its cgroups, from `cgroups`, which sends their entry files over
/// `move_in` ([`cgroup_moved_in`]); the network namespace after them; the end of what
/// is sent; "g". With `init_network`, the network namespace is sent over it too (exec's
/// init joins it from there).
#[allow(
    clippy::too_many_arguments,
    reason = "each is one channel or fact of the hand-over; a struct would only rename them"
)]
pub(super) fn hand_over(
    child: &sys::Child,
    bundle: &Bundle,
    namespaces: bool,
    p: &Prepared,
    go: &io::PipeWriter,
    move_in: &std::os::unix::net::UnixStream,
    init_network: Option<&std::os::unix::net::UnixStream>,
    cgroups: impl FnOnce(&std::os::unix::net::UnixStream) -> Result<CgroupSession<RealFs>, ExecError>,
) -> Result<CgroupSession<RealFs>, ExecError> {
    let mut network = None;
    if namespaces {
        // Opened while init may still be inspected: it makes itself non-dumpable once
        // it has its maps.
        let user_ns = own_network(bundle)
            .then(|| netns::user_namespace_of(child.pid))
            .transpose()?;
        write_id_maps(child.pid, bundle.process.uid, bundle.process.gid, p.host)
            .map_err(ExecError::IdMaps)?;
        (&*go).write_all(b"m")?;
        mark(p, "id maps written, sandbox building its root");
        network = user_ns.as_ref().map(netns::start).transpose()?;
    }
    let cgroup = cgroups(move_in)?;
    if let Some(network) = network {
        let namespace = network.finish()?;
        sys::send_fd_tagged(move_in.as_raw_fd(), TAG_NETWORK, namespace.as_raw_fd())?;
        if let Some(init) = init_network {
            sys::send_fd(init.as_raw_fd(), namespace.as_raw_fd())?;
        }
        mark(p, "network namespace made");
    }
    // The end of the descriptors (whoever else holds a copy), then the go-ahead.
    let _ = move_in.shutdown(std::net::Shutdown::Write);
    (&*go).write_all(b"g")?;
    Ok(cgroup)
}

/// [`hand_over`] for a parked or resident sandbox: cgroups with `cgroup_options`.
pub(super) fn let_go(
    child: &sys::Child,
    bundle: &Bundle,
    p: &Prepared,
    cgroup_options: CgroupOptions,
    go: &io::PipeWriter,
    move_in: &std::os::unix::net::UnixStream,
) -> Result<CgroupSession<RealFs>, ExecError> {
    hand_over(child, bundle, true, p, go, move_in, None, |to| {
        let detection = crate::cgroup::detect().ok();
        cgroup_moved_in(bundle, cgroup_options, detection.as_ref(), to)
    })
}

/// Which limits ended or hurt a run, from the cgroup's events and the outcome.
pub(super) fn limits_hit(
    events: &LimitEvents,
    bundle: &Bundle,
    outcome: &Outcome,
    timed_out: bool,
    timeout: Option<Duration>,
) -> Vec<String> {
    let mut limits_hit = Vec::new();
    if events.oom_kills > 0 {
        limits_hit.push(format!(
            "memory limit {} exceeded",
            bundle.cgroup.memory_max.map_or("?".into(), size)
        ));
    }
    if events.pids_max_hits > 0 {
        limits_hit.push(format!(
            "pids limit {} reached",
            bundle.cgroup.pids_max.map_or("?".into(), |p| p.to_string())
        ));
    }
    if let (true, Some(t)) = (timed_out, timeout) {
        limits_hit.push(format!("timeout {}", humantime(t)));
    }
    if *outcome == Outcome::Signaled(libc::SIGSYS) {
        limits_hit.push("killed by seccomp: a syscall the policy forbids".into());
    }
    limits_hit
}

/// A duration for people: `30s`, `1500ms`.
pub fn humantime(d: Duration) -> String {
    let ms = d.as_millis();
    if ms.is_multiple_of(1000) {
        format!("{}s", ms / 1000)
    } else {
        format!("{ms}ms")
    }
}

/// Maps the sandbox's one user and group, `inside_uid`/`inside_gid`, to `host`'s.
pub(super) fn write_id_maps(
    pid: libc::pid_t,
    inside_uid: u32,
    inside_gid: u32,
    host: super::identity::HostIdentity,
) -> io::Result<()> {
    let proc = PathBuf::from(format!("/proc/{pid}"));
    std::fs::write(proc.join("setgroups"), "deny")?;
    std::fs::write(
        proc.join("uid_map"),
        format!("{inside_uid} {} 1\n", host.uid),
    )?;
    std::fs::write(
        proc.join("gid_map"),
        format!("{inside_gid} {} 1\n", host.gid),
    )?;
    Ok(())
}

/// Waits for the sandbox; forwards signals, enforces the timeout. Returns the outcome
/// and whether the timeout ended it. `setup_done`'s callback runs once, when every
/// writer of its pipe has closed it (the workload, past its setup, or the sandbox's end),
/// or at the end. `on_status` runs once, when init has reported the workload's status
/// (every other process of the sandbox is gone then) but before init itself has ended.
#[allow(
    clippy::too_many_arguments,
    reason = "each is one thing the supervision watches; a struct would only rename them"
)]
pub(super) fn supervise(
    child: &sys::Child,
    report: io::PipeReader,
    sigfd: Option<&OwnedFd>,
    timeout: Option<Duration>,
    started: Instant,
    tty: Option<&OwnedFd>,
    direct: bool,
    hangup: Option<RawFd>,
    mut setup_done: Option<(io::PipeReader, &mut dyn FnMut())>,
    mut on_status: Option<&mut dyn FnMut()>,
    supervised_listen: Option<listen_checks::ListenChecks>,
) -> (Outcome, bool, Vec<String>) {
    // `hangup`: a connection whose end (the client of `phantom serve` went away) ends
    // the run, as a signal to phantom would.
    let mut hangup = hangup;
    // The listener of the filter that leaves `listen` to phantom ([`listen_checks`]),
    // until no process under it is left.
    let mut supervised_listen = supervised_listen;
    let mut stdin_open = tty.is_some();
    let mut master_open = tty.is_some();
    let mut lines = String::new();
    let mut report = Some(report);
    let mut timed_out = false;
    let mut buf = [0u8; 4096];
    loop {
        let remaining = timeout.map(|t| t.saturating_sub(started.elapsed()));
        if remaining == Some(Duration::ZERO) && !timed_out {
            timed_out = true;
            let _ = sys::pidfd_kill(&child.pidfd, libc::SIGKILL);
        }
        let mut fds = vec![
            libc::pollfd {
                fd: child.pidfd.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            },
            libc::pollfd {
                fd: sigfd.map_or(-1, |f| f.as_raw_fd()),
                events: libc::POLLIN,
                revents: 0,
            },
        ];
        fds.push(libc::pollfd {
            fd: report.as_ref().map_or(-1, |r| r.as_raw_fd()),
            events: libc::POLLIN,
            revents: 0,
        });
        // With a terminal: our stdin to the master, the master to our stdout.
        if let Some(master) = tty {
            fds.push(libc::pollfd {
                fd: if stdin_open { 0 } else { -1 },
                events: libc::POLLIN,
                revents: 0,
            });
            fds.push(libc::pollfd {
                fd: if master_open { master.as_raw_fd() } else { -1 },
                events: libc::POLLIN,
                revents: 0,
            });
        }
        let hangup_index = fds.len();
        fds.push(libc::pollfd {
            fd: hangup.unwrap_or(-1),
            events: libc::POLLIN,
            revents: 0,
        });
        let setup_done_index = fds.len();
        fds.push(libc::pollfd {
            fd: setup_done.as_ref().map_or(-1, |(r, _)| r.as_raw_fd()),
            events: libc::POLLIN,
            revents: 0,
        });
        let listen_index = fds.len();
        fds.push(libc::pollfd {
            fd: supervised_listen
                .as_ref()
                .map_or(-1, |checks| checks.listener().as_raw_fd()),
            events: libc::POLLIN,
            revents: 0,
        });
        let wait_ms = match remaining {
            Some(r) if !timed_out => i32::try_from(r.as_millis()).unwrap_or(i32::MAX).max(1),
            _ => -1,
        };
        if sys_poll(&mut fds, wait_ms).is_err() {
            continue;
        }
        let revents = |i: usize| fds.get(i).map_or(0, |f| f.revents);
        if let Some(sigfd) = sigfd.filter(|_| revents(1) & libc::POLLIN != 0) {
            match (read_signal(sigfd), tty) {
                (Some(libc::SIGWINCH), Some(master)) => {
                    sys::copy_window_size(0, master.as_raw_fd())
                }
                (Some(libc::SIGWINCH), None) => {}
                // Init forwards it to the workload.
                (Some(signal), _) => {
                    let _ = sys::pidfd_kill(&child.pidfd, signal);
                }
                (None, _) => {}
            }
        }
        if let Some(master) = tty {
            if revents(3) != 0 {
                match sys::read_raw(0, &mut buf) {
                    Ok(n) if n > 0 => {
                        let _ = sys::write_fd(master.as_raw_fd(), buf.get(..n).unwrap_or_default());
                    }
                    _ => stdin_open = false,
                }
            }
            if revents(4) != 0 {
                match sys::read_raw(master.as_raw_fd(), &mut buf) {
                    Ok(n) if n > 0 => {
                        let _ = sys::write_fd(1, buf.get(..n).unwrap_or_default());
                    }
                    _ => master_open = false,
                }
            }
        }
        if revents(2) != 0 {
            if let Some(r) = report.as_mut() {
                match r.read(&mut buf) {
                    Ok(0) | Err(_) => report = None,
                    Ok(n) => {
                        lines.push_str(&String::from_utf8_lossy(buf.get(..n).unwrap_or_default()));
                        if on_status.is_some() && reports_status(&lines) {
                            if let Some(f) = on_status.take() {
                                f();
                            }
                        }
                    }
                }
            }
        }
        // Its end (nobody writes to it): the workload is past its setup, or gone.
        if revents(setup_done_index) != 0 {
            if let Some((_, f)) = setup_done.take() {
                f();
            }
        }
        if let Some(checks) = supervised_listen.as_mut() {
            let ready = revents(listen_index);
            if ready & libc::POLLIN != 0 {
                checks.answer();
            } else if ready != 0 {
                // POLLHUP: no process under the filter is left.
                supervised_listen = None;
            }
        }
        if hangup.is_some() && revents(hangup_index) != 0 {
            hangup = None;
            let _ = sys::pidfd_kill(&child.pidfd, libc::SIGKILL);
        }
        if revents(0) != 0 && report.is_none() {
            break;
        }
        if revents(0) != 0 {
            // Init is gone; drain what it said.
            if let Some(mut r) = report.take() {
                let mut rest = String::new();
                let _ = r.read_to_string(&mut rest);
                lines.push_str(&rest);
            }
            break;
        }
    }
    // What the workload wrote to its terminal just before it ended.
    if let Some(master) = tty.filter(|_| master_open) {
        let mut fds = [libc::pollfd {
            fd: master.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        }];
        while sys::poll(&mut fds, 0).unwrap_or(0) > 0 {
            match sys::read_raw(master.as_raw_fd(), &mut buf) {
                Ok(n) if n > 0 => {
                    let _ = sys::write_fd(1, buf.get(..n).unwrap_or_default());
                }
                _ => break,
            }
        }
    }
    if direct {
        // The workload's session goes with it (the cgroup, destroyed later, catches
        // the rest). Its id cannot have been reused: the workload is not reaped yet.
        let _ = sys::kill(-child.pid, libc::SIGKILL);
    }
    if let Some((_, f)) = setup_done.take() {
        f();
    }
    let status = sys::waitpid(child.pid, 0).map(|(_, s)| s).unwrap_or(0);
    // `N <text>`: something the sandbox could not enforce (reported, not fatal).
    let notes: Vec<String> = lines
        .lines()
        .filter_map(|l| l.strip_prefix("N "))
        .map(str::to_string)
        .collect();
    if timed_out {
        return (Outcome::Timeout(timeout.unwrap_or_default()), true, notes);
    }
    if direct {
        // The child was the workload, not an init that reports its status.
        lines.push_str(&format!("X {status}\n"));
    }
    (parse_report(&lines, status), false, notes)
}

/// Whether a report holds init's whole `X <status>` line.
fn reports_status(lines: &str) -> bool {
    lines
        .split_inclusive('\n')
        .any(|l| l.starts_with("X ") && l.ends_with('\n'))
}

fn sys_poll(fds: &mut [libc::pollfd], timeout_ms: i32) -> io::Result<usize> {
    sys::poll(fds, timeout_ms)
}

fn read_signal(sigfd: &OwnedFd) -> Option<i32> {
    let mut info = [0u8; 128];
    let n = sys::read_fd(sigfd, &mut info).ok()?;
    if n < 4 {
        return None;
    }
    let signo = u32::from_ne_bytes([info[0], info[1], info[2], info[3]]);
    i32::try_from(signo).ok()
}

/// Init's last line: `X <wait status>` for the workload, or `E <code> <message>`.
pub(super) fn parse_report(lines: &str, init_status: i32) -> Outcome {
    // A failure report (from init or from the workload before its execve) wins over
    // the status that follows it.
    for line in lines.lines() {
        let mut parts = line.splitn(3, ' ');
        if let (Some("E"), Some(code), message) = (parts.next(), parts.next(), parts.next()) {
            return Outcome::Failed {
                code: code.parse().unwrap_or(EXIT_SETUP),
                message: message.unwrap_or_default().to_string(),
            };
        }
    }
    for line in lines.lines().rev() {
        let mut parts = line.splitn(3, ' ');
        match (parts.next(), parts.next(), parts.next()) {
            (Some("X"), Some(status), _) => {
                let status: i32 = status.parse().unwrap_or(0);
                return if libc::WIFSIGNALED(status) {
                    Outcome::Signaled(libc::WTERMSIG(status))
                } else {
                    Outcome::Exited(libc::WEXITSTATUS(status))
                };
            }
            (Some("E"), Some(code), message) => {
                return Outcome::Failed {
                    code: code.parse().unwrap_or(EXIT_SETUP),
                    message: message.unwrap_or_default().to_string(),
                };
            }
            _ => {}
        }
    }
    if libc::WIFSIGNALED(init_status) {
        Outcome::Failed {
            code: EXIT_SETUP,
            message: format!(
                "the sandbox's init was killed by signal {}",
                libc::WTERMSIG(init_status)
            ),
        }
    } else {
        Outcome::Failed {
            code: EXIT_SETUP,
            message: "the sandbox's init ended without a report".into(),
        }
    }
}

/// The wall clock in microseconds modulo 10 s: lines of different processes (the
/// client, the server, init, the workload) can be set side by side.
pub fn wall_clock() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    format!("{:.3} ms", (now.as_micros() % 10_000_000) as f64 / 1000.0)
}

pub(super) fn mark(p: &Prepared, what: &str) {
    if let Some(start) = p.timing {
        eprintln!(
            "phantom timing: {:8.3} ms {what} (clock {})",
            start.elapsed().as_secs_f64() * 1000.0,
            wall_clock()
        );
    }
}

pub(super) fn report_line(out: &io::PipeWriter, line: &str) {
    let mut w = out;
    let _ = w.write_all(format!("{line}\n").as_bytes());
}

/// A setup step of init failed: report it and end. Never returns.
pub(super) fn init_fail(report: &io::PipeWriter, step: &str, e: &dyn std::fmt::Display) -> ! {
    report_line(report, &format!("E {EXIT_SETUP} {step}: {e}"));
    sys::exit_now(EXIT_SETUP)
}

/// Init's first steps, for `exec` and parked sandboxes alike: die with phantom, wait
/// for the id maps ("m"), hide phantom's command line and memory from the workload.
pub(super) fn init_begin(go: &io::PipeReader, report: &io::PipeWriter) {
    if let Err(e) = sys::set_parent_death_signal(libc::SIGKILL) {
        init_fail(report, "setting the parent-death signal", &e);
    }
    let mut byte = [0u8; 1];
    if (&*go).read_exact(&mut byte).is_err() {
        // phantom died or gave up before letting us go.
        sys::exit_now(EXIT_SETUP);
    }
    // Not phantom's command line (host paths, --env values) in /proc/1/cmdline.
    let _ = sys::set_cmdline("phantom-init");
    // The workload runs as the same user as init: without this it could read init's
    // memory and its environment, which is phantom's, through /proc/1.
    if let Err(e) = sys::set_dumpable(false) {
        init_fail(report, "making the sandbox's init non-dumpable", &e);
    }
}

/// The sandbox's hostname. (Its network namespace, loopback up, comes with its
/// cgroups: [`move_in`].)
pub(super) fn init_identity(bundle: &Bundle, report: &io::PipeWriter) {
    if let Err(e) = sys::sethostname(&bundle.process.hostname) {
        init_fail(report, "setting the hostname", &e);
    }
}

/// Init: builds the sandbox, then supervises the workload. Never returns.
fn init_main(
    bundle: &Bundle,
    p: &Prepared,
    go: io::PipeReader,
    move_in_from: std::os::unix::net::UnixStream,
    network_from: Option<std::os::unix::net::UnixStream>,
    report: io::PipeWriter,
    setup_done: io::PipeWriter,
) -> ! {
    let fail = |step: &str, e: &dyn std::fmt::Display| -> ! { init_fail(&report, step, e) };
    // Nothing of phantom's caller but stdio: a pipe it passed would otherwise stay open
    // as long as the sandbox runs (the workload closes its own copies anyway).
    let mut keep = vec![
        0,
        1,
        2,
        go.as_raw_fd(),
        move_in_from.as_raw_fd(),
        report.as_raw_fd(),
        setup_done.as_raw_fd(),
    ];
    keep.extend(network_from.as_ref().map(AsRawFd::as_raw_fd));
    keep.extend(p.console.as_ref().map(AsRawFd::as_raw_fd));
    keep.extend(p.listener_to.as_ref().map(AsRawFd::as_raw_fd));
    if let Err(e) = harden::close_inherited_fds(&keep) {
        fail("closing the descriptors it inherited", &e);
    }
    init_begin(&go, &report);

    mark(p, "init: go");
    if let Err(e) = build_root(bundle, p, OldRoot::Stacked) {
        fail("building the sandbox's filesystem", &e);
    }
    mark(p, "init: root built");
    // The workload is forked now, while init detaches the host's root (which waits for
    // an RCU grace period): it waits for phantom's go-ahead and enters the cgroups and
    // the network namespace itself ([`exec_workload_main`]), then waits for init's word
    // ("j") that the host's root is gone and init is in the network namespace too.
    // Until then it resolves no path: a `..` reaching the new root's `/` would step
    // into the old root stacked on it. Init never enters the cgroups: they hold the
    // workload's processes alone and are empty once init has reaped them, so phantom
    // removes them while init's namespaces are torn down. Init joins the network
    // namespace, which phantom sends it with the go-ahead, because `/proc/1/net` shows
    // init's namespace to whoever can read `/proc`, and must not show the host's.
    let (ready_read, ready_write) = match io::pipe() {
        Ok(pair) => pair,
        Err(e) => fail("creating the pipe for init's word", &e),
    };
    let workload = match sys::fork() {
        Ok(0) => {
            drop(ready_write);
            drop(network_from);
            exec_workload_main(bundle, p, &report, go, move_in_from, ready_read, setup_done)
        }
        Ok(pid) => {
            drop(go);
            drop(move_in_from);
            drop(ready_read);
            drop(setup_done);
            // The workload's alone: it hands a filter's listener over through it.
            // (`p` is phantom's, whose destructors never run in init, which ends with
            // `exit_now`.)
            if let Some(to) = &p.listener_to {
                sys::close_raw(to.as_raw_fd());
            }
            pid
        }
        Err(e) => fail("starting the workload", &e),
    };
    // A failure from here on ends init, and with it (pid 1 of its namespace) the
    // workload, which has run nothing of its own yet.
    if let Err(e) = sys::detach_old_root() {
        fail("detaching the host's root", &e);
    }
    init_identity(bundle, &report);
    mark(p, "init: host's root detached");
    if let Some(network_from) = network_from {
        match sys::recv_fd(network_from.as_raw_fd()) {
            Ok(namespace) => {
                if let Err(e) = sys::setns(namespace.as_raw_fd(), libc::CLONE_NEWNET) {
                    fail("joining the sandbox's network namespace", &e);
                }
            }
            // phantom gave up before the go-ahead (it kills init then) or died (which
            // kills init too); the workload never runs.
            Err(e) => fail("receiving the sandbox's network namespace", &e),
        }
    }
    // A workload gone meanwhile has its status reaped below.
    let _ = (&ready_write).write_all(b"j");
    drop(ready_write);
    init_reap(p, workload, &report)
}

/// `phantom exec`'s workload: once phantom lets it go ("g"), into the cgroups and the
/// network namespace ([`move_in`]); once init says the host's root is detached ("j"),
/// its session and terminal, its working directory, Landlock, its own cgroup namespace
/// (so it sees its cgroup as the root, `0::/`, not the host's path), the rest of the
/// hardening, seccomp and execve. Never returns.
fn exec_workload_main(
    bundle: &Bundle,
    p: &Prepared,
    report: &io::PipeWriter,
    go: io::PipeReader,
    move_in_from: std::os::unix::net::UnixStream,
    init_ready: io::PipeReader,
    setup_done: io::PipeWriter,
) -> ! {
    let mut byte = [0u8; 1];
    if (&go).read_exact(&mut byte).is_err() {
        // phantom died or gave up before letting us go.
        sys::exit_now(EXIT_SETUP);
    }
    drop(go);
    move_in(&move_in_from, report, own_network(bundle));
    drop(move_in_from);
    mark(p, "workload: in the cgroup and the network");
    // Until init has detached the host's root, this process resolves no path at all:
    // the old root is mounted on the new root's `/`, and a `..` that reaches `/` (a
    // working directory through a symlink in the workspace, say) steps up into it —
    // onto the host's root filesystem, a working directory the detach would not take
    // back. Init's word comes once the root is detached and init has joined the
    // network namespace.
    if (&init_ready).read_exact(&mut byte).is_err() {
        // Init is gone (killed, or failed and said why); the run's report says which.
        sys::exit_now(EXIT_SETUP);
    }
    drop(init_ready);
    mark(p, "workload: init ready");
    workload_session(p, report);
    if let Err(e) = std::env::set_current_dir(&p.cwd) {
        workload_fail(
            report,
            EXIT_SETUP,
            &format!("entering the working directory `{}`", p.cwd),
            &e,
        );
    }
    // Built on the sandbox's own paths (rules name inodes).
    let landlock = match harden::prepare_landlock(&bundle.landlock, p.landlock, &[]) {
        Ok((ruleset, _)) => ruleset,
        Err(e) => workload_fail(report, EXIT_SETUP, "preparing Landlock", &e),
    };
    match landlock.restrict() {
        Err(e) => workload_fail(report, EXIT_SETUP, "Landlock", &e),
        Ok(status) => note_landlock(bundle, report, &status),
    }
    mark(p, "workload: Landlock");
    if let Err(e) = sys::unshare(libc::CLONE_NEWCGROUP) {
        workload_fail(report, EXIT_SETUP, "creating the cgroup namespace", &e);
    }
    drop(setup_done);
    workload_harden(bundle, p, report, &[]);
    install_and_exec(p, report)
}

/// Init once the workload runs: forwards signals to it, reaps every process, and when
/// the workload ends kills what it left and reports its status. Never returns.
pub(super) fn init_reap(p: &Prepared, workload: libc::pid_t, report: &io::PipeWriter) -> ! {
    let _ = sys::unblock_all_signals();
    if let Err(e) = sys::forward_signals_to(
        workload,
        &[
            libc::SIGINT,
            libc::SIGTERM,
            libc::SIGHUP,
            libc::SIGQUIT,
            libc::SIGUSR1,
            libc::SIGUSR2,
        ],
    ) {
        report_line(report, &format!("E {EXIT_SETUP} forwarding signals: {e}"));
        let _ = sys::kill(-1, libc::SIGKILL);
        sys::exit_now(EXIT_SETUP)
    }
    // Reap everything; the workload's status is the run's.
    let mut workload_status = None;
    loop {
        match sys::waitpid(-1, 0) {
            Ok((pid, status)) if pid == workload => {
                workload_status = Some(status);
                mark(p, "init: workload ended");
                // Whatever the workload left behind goes with it.
                let _ = sys::kill(-1, libc::SIGKILL);
            }
            Ok(_) => {}
            Err(_) => break, // no children left
        }
    }
    report_line(report, &format!("X {}", workload_status.unwrap_or(0)));
    mark(p, "init: reaped all, exiting");
    sys::exit_now(0)
}

/// Direct mode's child: no init, no namespaces; waits to be let go (it is in the
/// cgroup then), enters the working directory and becomes the workload. Never returns.
fn direct_main(
    bundle: &Bundle,
    p: &Prepared,
    go: io::PipeReader,
    move_in_from: std::os::unix::net::UnixStream,
    report: io::PipeWriter,
) -> ! {
    if let Err(e) = sys::set_parent_death_signal(libc::SIGKILL) {
        report_line(
            &report,
            &format!("E {EXIT_SETUP} setting the parent-death signal: {e}"),
        );
        sys::exit_now(EXIT_SETUP)
    }
    let mut byte = [0u8; 1];
    if (&go).read_exact(&mut byte).is_err() {
        sys::exit_now(EXIT_SETUP);
    }
    drop(go);
    move_in(&move_in_from, &report, false);
    drop(move_in_from);
    if let Err(e) = std::env::set_current_dir(&p.cwd) {
        report_line(
            &report,
            &format!(
                "E {EXIT_SETUP} entering the working directory `{}`: {e}",
                p.cwd
            ),
        );
        sys::exit_now(EXIT_SETUP)
    }
    workload_main(bundle, p, &report)
}

/// The tag of the network namespace's descriptor on the move-in socket (each cgroup
/// entry file's descriptor comes with 0).
pub(super) const TAG_NETWORK: u8 = b'n';

/// The child's side of what phantom sends before the go-ahead, until phantom closes its
/// end:
/// - each cgroup entry file's descriptor (v1 `tasks`, v2 `cgroup.procs`; opened by
///   phantom, whose credentials the kernel checks): write `0`, which moves this process
///   in. Through v1 `tasks` a single thread moving itself does not take the kernel's
///   global migration lock, which a move by pid takes and which, after an idle moment,
///   waits for an RCU grace period (10-17 ms on this kind of host, against about 40 µs
///   this way: docs/benchmarks.md);
/// - the sandbox's network namespace (`netns`), joined.
///
/// With `network`, a run whose namespace never came fails here: the workload must not
/// start in the host's network.
pub(super) fn move_in(
    from: &std::os::unix::net::UnixStream,
    report: &io::PipeWriter,
    network: bool,
) {
    let mut byte = [0u8; 1];
    let mut joined = false;
    loop {
        match sys::recv_bytes_and_fd(from.as_raw_fd(), &mut byte) {
            Ok((0, _)) => break,
            Ok((_, Some(namespace))) if byte == [TAG_NETWORK] => {
                if let Err(e) = sys::setns(namespace.as_raw_fd(), libc::CLONE_NEWNET) {
                    init_fail(report, "joining the sandbox's network namespace", &e);
                }
                joined = true;
            }
            Ok((_, Some(entry))) => {
                if let Err(e) = std::fs::File::from(entry).write_all(b"0") {
                    init_fail(
                        report,
                        "moving into the sandbox's cgroup (writing 0 to its `tasks` or \
                         `cgroup.procs`, opened by phantom; on cgroup v2 that needs write \
                         access to `cgroup.procs` of the common ancestor of phantom's \
                         cgroup and the sandbox's: run phantom as root, or keep both in \
                         one delegated subtree)",
                        &e,
                    );
                }
            }
            // Every message carries one descriptor: one that did not arrive (refused on
            // the way, or cut off) would leave a cgroup unentered.
            Ok((_, None)) => init_fail(
                report,
                "receiving the sandbox's cgroups",
                &"a descriptor phantom sent did not arrive",
            ),
            Err(e) => init_fail(report, "receiving the sandbox's cgroups", &e),
        }
    }
    if network && !joined {
        init_fail(
            report,
            "joining the sandbox's network namespace",
            &"phantom sent none",
        );
    }
}

pub(super) fn build_root(bundle: &Bundle, p: &Prepared, old: OldRoot) -> Result<(), String> {
    sys::make_rprivate_root().map_err(|e| format!("making mounts private: {e}"))?;
    mark(p, "init: mounts private");
    build_private_root(bundle, p, None, old)
}

/// The sandbox's share of its user's budgets ([`harden::limit_user_budgets`]), set by
/// init while the host's `/proc` is in view, where no network helper (which sets it
/// otherwise, `netns.rs`) joins the sandbox's user namespace.
fn limit_user_budgets_here(bundle: &Bundle) -> Result<(), String> {
    if own_network(bundle) {
        return Ok(());
    }
    harden::limit_user_budgets().map_err(|e| format!("{}: {e}", harden::LIMITING_BUDGETS))
}

/// What becomes of the host's root once the sandbox's is pivoted into.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum OldRoot {
    /// Detached at once.
    Detach,
    /// Left stacked on the new root for the caller to detach
    /// ([`sys::detach_old_root`]) before anything of the workload's runs.
    Stacked,
}

/// The root from the plan (mounts already private), sealed, pivoted into. With
/// `deferred`, binds from an unbound `${workspace}` are left for later and listed
/// there; without, an unbound variable is an error.
pub(super) fn build_private_root(
    bundle: &Bundle,
    p: &Prepared,
    deferred: Option<&mut Vec<mounts::Deferred>>,
    old: OldRoot,
) -> Result<(), String> {
    limit_user_budgets_here(bundle)?;
    let root = Path::new("/tmp");
    // The sources are captured with init's first ids, phantom's, which reach what the
    // caller may reach; then init takes the ids phantom mapped (its own are unmapped
    // when phantom is root), which own what it and the workload create from then on.
    let mut ops = RealOps {
        become_user: Some((bundle.process.uid, bundle.process.gid)),
    };
    // Under umask 0 each directory gets the plan's mode as it is made (`RealOps`).
    sys::with_umask(0, || match deferred {
        Some(deferred) => {
            mounts::execute_deferring(&bundle.mounts, &p.vars, root, &mut ops, deferred)
        }
        None => mounts::execute_with_root(&bundle.mounts, &p.vars, root, &mut ops),
    })
    .map_err(|e| e.to_string())?;
    mark(p, "init: plan executed");
    // The root itself is read-only; the mounts on it keep their own modes.
    sys::mount_setattr(
        root,
        sys::MOUNT_ATTR_RDONLY | sys::MOUNT_ATTR_NOSUID | sys::MOUNT_ATTR_NODEV,
        false,
    )
    .map_err(|e| format!("sealing the root read-only: {e}"))?;
    match old {
        OldRoot::Detach => sys::pivot_into(root),
        OldRoot::Stacked => sys::pivot_stacked(root),
    }
    .map_err(|e| format!("pivot_root: {e}"))
}

/// The workload: the last hardening steps, then execve. Never returns.
pub(super) fn workload_main(bundle: &Bundle, p: &Prepared, report: &io::PipeWriter) -> ! {
    workload_main_with(bundle, p, report, None)
}

/// [`workload_main`] with a Landlock ruleset prepared ahead (a parked sandbox's, built
/// while it waited) and the rules it still needs. Never returns.
pub(super) fn workload_main_with(
    bundle: &Bundle,
    p: &Prepared,
    report: &io::PipeWriter,
    landlock: Option<(harden::PreparedLandlock, Vec<harden::DeferredRule>)>,
) -> ! {
    // A prepared ruleset is completed and enforced first: its descriptor would not
    // survive the prologue, which closes every inherited descriptor.
    let early =
        landlock.map(|(ruleset, rules)| ruleset.complete(&rules).and_then(|r| r.restrict()));
    workload_prologue(bundle, p, report, &[]);
    let enforced = match early {
        Some(done) => done,
        None => harden::apply_landlock(&bundle.landlock, p.landlock),
    };
    match enforced {
        Err(e) => workload_fail(report, EXIT_SETUP, "Landlock", &e),
        Ok(status) => note_landlock(bundle, report, &status),
    }
    mark(p, "workload: landlock");
    install_and_exec(p, report)
}

/// Ends a workload that could not start, reporting why. Never returns.
pub(super) fn workload_fail(
    report: &io::PipeWriter,
    code: i32,
    step: &str,
    e: &dyn std::fmt::Display,
) -> ! {
    report_line(report, &format!("E {code} {step}: {e}"));
    sys::exit_now(code)
}

/// A workload's hardening up to Landlock: [`workload_session`], then
/// [`workload_harden`]. Ends the process on failure.
pub(super) fn workload_prologue(
    bundle: &Bundle,
    p: &Prepared,
    report: &io::PipeWriter,
    keep: &[std::os::fd::RawFd],
) {
    workload_session(p, report);
    workload_harden(bundle, p, report, keep);
}

/// A workload's first steps: signals, session, terminal. Ends the process on failure.
fn workload_session(p: &Prepared, report: &io::PipeWriter) {
    let fail =
        |step: &str, e: &dyn std::fmt::Display| -> ! { workload_fail(report, EXIT_SETUP, step, e) };
    let _ = sys::unblock_all_signals();
    if let Err(e) = sys::default_sigpipe() {
        fail("restoring SIGPIPE's default action", &e);
    }
    if let Err(e) = sys::setsid() {
        fail("starting a session", &e);
    }
    if let Some(console) = &p.console {
        let attached = sys::open_pty_here().and_then(|(master, slave)| {
            // The size of the user's terminal (still our stdin) from the start: phantom
            // copies it too, but only once it has the master, which races the command.
            sys::copy_window_size(0, slave.as_raw_fd());
            sys::send_fd(console.as_raw_fd(), master.as_raw_fd())?;
            sys::take_terminal(slave.as_raw_fd())
        });
        if let Err(e) = attached {
            fail("opening the terminal", &e);
        }
    }
    mark(p, "workload: start");
}

/// A workload's hardening: rlimits, every inherited descriptor but stdio, the report
/// and `keep` closed, capabilities dropped, no_new_privs. Ends the process on failure.
fn workload_harden(
    bundle: &Bundle,
    p: &Prepared,
    report: &io::PipeWriter,
    keep: &[std::os::fd::RawFd],
) {
    let fail =
        |step: &str, e: &dyn std::fmt::Display| -> ! { workload_fail(report, EXIT_SETUP, step, e) };
    if let Err(e) = harden::apply_rlimits(&bundle.rlimits) {
        fail("rlimits", &e);
    }
    let mut kept = vec![0, 1, 2, report.as_raw_fd()];
    kept.extend_from_slice(keep);
    kept.extend(p.listener_to.as_ref().map(AsRawFd::as_raw_fd));
    if let Err(e) = harden::close_inherited_fds(&kept) {
        fail("closing inherited file descriptors", &e);
    }
    mark(p, "workload: fds closed");
    if let Err(e) = harden::drop_capabilities() {
        fail("dropping capabilities", &e);
    }
    if let Err(e) = harden::set_no_new_privs() {
        fail("no_new_privs", &e);
    }
    mark(p, "workload: capabilities dropped");
}

/// Reports (`N` lines) what this kernel's Landlock leaves out.
pub(super) fn note_landlock(
    bundle: &Bundle,
    report: &io::PipeWriter,
    status: &harden::LandlockStatus,
) {
    if status.enforced != harden::Enforcement::FullyEnforced {
        let abi = status.abi.map_or("none".to_string(), |a| a.to_string());
        report_line(
            report,
            &format!(
                "N Landlock (defence in depth) is {:?} on this kernel (ABI {abi})",
                status.enforced
            ),
        );
    }
    if !bundle.mode.uses_namespaces() && status.abi.is_none_or(|a| a < 6) {
        report_line(
            report,
            "N signals and abstract Unix sockets to the host's processes (Landlock scoping needs ABI 6)",
        );
    }
}

/// The seccomp filter, last, then execve of the prepared command. Never returns.
pub(super) fn install_and_exec(p: &Prepared, report: &io::PipeWriter) -> ! {
    // Last: after this, only what the policy allows.
    match &p.listener_to {
        None => {
            if let Err(e) = crate::seccomp::install(&p.filter, crate::seccomp::Threads::Calling) {
                workload_fail(report, EXIT_SETUP, "installing the seccomp filter", &e);
            }
        }
        Some(to) => install_handing_over(p, to, report),
    }
    mark(p, "workload: seccomp, exec");
    let e = sys::execvpe(&p.argv, &p.env);
    let program = p
        .argv
        .first()
        .map(|a| a.to_string_lossy().into_owned())
        .unwrap_or_default();
    let code = match e.kind() {
        io::ErrorKind::NotFound => EXIT_NOT_FOUND,
        _ => EXIT_NOT_EXECUTABLE,
    };
    // A script that is there, whose interpreter is not, fails with ENOENT too: name
    // what is missing.
    if let Some(interpreter) = (e.kind() == io::ErrorKind::NotFound)
        .then(|| missing_interpreter(Path::new(&program)))
        .flatten()
    {
        let step =
            format!("cannot run `{program}`: its interpreter `{interpreter}` (its `#!` line)");
        workload_fail(report, code, &step, &e)
    }
    workload_fail(report, code, &format!("cannot run `{program}`"), &e)
}

/// The filter with a listener, which a courier outside the filter hands to phantom
/// (for the seccomp agent, or for phantom's own checks of `listen`): under the filter, any call of this thread's own may
/// be one the agent is to answer, and it has not got the listener yet. Ends the
/// process on failure.
fn install_handing_over(
    p: &Prepared,
    to: &std::os::unix::net::UnixStream,
    report: &io::PipeWriter,
) {
    let policy = match crate::seccomp::Filter::from_bytes(&p.filter) {
        Ok(filter) => filter,
        Err(e) => workload_fail(report, EXIT_SETUP, "installing the seccomp filter", &e),
    };
    // The filter whose listener is handed over: the policy's for an agent, or, for
    // phantom's checks of `listen`, a small one stacked under the policy's.
    let (supervised, rest) = if p.checks_listen {
        (crate::seccomp::listen_supervision(), Some(policy))
    } else {
        (policy, None)
    };
    // A word of the workload's own first, before the filter: the pid the kernel
    // attaches to it is the one the state names (the courier's would be its own).
    if let Err(e) = sys::send_nosignal(to.as_raw_fd(), b"w") {
        workload_fail(
            report,
            EXIT_SETUP,
            "telling phantom the seccomp listener comes",
            &e,
        );
    }
    let courier = match sys::Courier::start(to.as_raw_fd()) {
        Ok(courier) => courier,
        Err(e) => workload_fail(
            report,
            EXIT_SETUP,
            "starting the process that hands the seccomp listener over",
            &e,
        ),
    };
    let listener = match supervised.install_with_listener() {
        Ok(listener) => listener,
        Err(e) => {
            courier.abandon();
            workload_fail(report, EXIT_SETUP, "installing the seccomp filter", &e)
        }
    };
    if let Some(policy) = rest {
        // Only `listen` is supervised so far, and phantom answers it: reporting waits
        // for nothing.
        if let Err(e) = policy.install(crate::seccomp::Threads::Calling) {
            courier.abandon();
            workload_fail(report, EXIT_SETUP, "installing the seccomp filter", &e);
        }
    }
    // The courier closes it once sent: a close here could wait for the agent, and a
    // copy kept until execve would keep a supervised execve waiting after the agent
    // went away.
    if courier.deliver(listener.into_raw_fd()).is_err() {
        // phantom is gone (it kills the sandbox when it gives up); reporting could wait
        // for the agent too.
        sys::exit_now(EXIT_SETUP);
    }
}

/// The interpreter named by the `#!` line of the script at `program` (a path), if the
/// script is there and that interpreter is not.
fn missing_interpreter(program: &Path) -> Option<String> {
    if !program.is_absolute() && program.components().count() < 2 {
        return None; // a bare name: searched in PATH, and not found there
    }
    let mut head = [0u8; 256];
    let n = std::fs::File::open(program).ok()?.read(&mut head).ok()?;
    let line = head.get(..n)?.strip_prefix(b"#!")?;
    let line = line.split(|&b| b == b'\n').next()?;
    let interpreter = std::str::from_utf8(line).ok()?.split_whitespace().next()?;
    (!Path::new(interpreter).exists()).then(|| interpreter.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_status_counts_only_once_its_line_is_whole() {
        assert!(!reports_status(""));
        assert!(!reports_status("N Landlock is PartiallyEnforced\n"));
        assert!(!reports_status("X 0"), "half a line: more may follow");
        assert!(reports_status("X 0\n"));
        assert!(reports_status("N something\nX 256\n"));
        assert!(!reports_status("E 125 setting the hostname: X 0\n"));
    }
}
