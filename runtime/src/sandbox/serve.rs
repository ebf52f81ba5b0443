//! `phantom serve` and `phantom run --warm`: pools of parked sandboxes behind a Unix
//! socket of the user's own.
//!
//! The server is one thread around `poll` (it clones sandboxes, which a multi-threaded
//! process must not do). For each request it takes a parked sandbox of the profile and
//! mode asked for (parking one if the pool is empty), forks a supervisor that starts
//! and watches it and answers the client, and parks a replacement. The client passes
//! its own stdin, stdout and stderr, so the workload's output never goes through the
//! server; a client that goes away ends its run.
//!
//! Wire format, both ways: a 4-byte little-endian length and NUL-separated UTF-8
//! fields; the request is followed by the client's three descriptors (SCM_RIGHTS).

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use phantom_bundle::{Bundle, Mode};

use super::exec::{ExecOptions, Outcome, Overrides, Report};
use super::sys;
use super::zygote::{self, Kind, Parked, Start};

/// Requests larger than this are refused (a command line of the kernel's maximum and
/// an environment fit easily).
const MAX_MESSAGE: usize = 4 << 20;

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("no `phantom serve` is running for this user (no socket at `{0}`); start one with `phantom serve &`, or run without --warm")]
    NotRunning(PathBuf),
    #[error("the socket directory `{path}` is not private to this user ({why}): point PHANTOM_SOCKET at a path in a directory only this user may write (`chmod 700 DIR`), or, if phantom made this one, remove it")]
    UnsafeDirectory { path: PathBuf, why: &'static str },
    #[error("a `phantom serve` is already running on `{0}`")]
    AlreadyRunning(PathBuf),
    #[error("`phantom serve` broke off the run ({0})")]
    Protocol(String),
    #[error("{0}")]
    Io(#[from] io::Error),
}

/// `$PHANTOM_SOCKET`, else `$XDG_RUNTIME_DIR/phantom/serve.sock`, else
/// `/tmp/phantom-UID/serve.sock`. The directory is made 0700 and must be ours.
pub fn socket_path() -> Result<PathBuf, ServeError> {
    if let Some(path) = std::env::var_os("PHANTOM_SOCKET").filter(|p| !p.is_empty()) {
        return Ok(PathBuf::from(path));
    }
    let dir = match std::env::var_os("XDG_RUNTIME_DIR").map(PathBuf::from) {
        Some(runtime) if runtime.is_absolute() => runtime.join("phantom"),
        _ => std::env::temp_dir().join(format!("phantom-{}", sys::uid())),
    };
    private_dir(&dir)?;
    Ok(dir.join("serve.sock"))
}

fn private_dir(dir: &Path) -> Result<(), ServeError> {
    use std::os::unix::fs::{DirBuilderExt, MetadataExt};
    let _ = std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir);
    let meta = std::fs::symlink_metadata(dir)?;
    let unsafe_dir = |why| ServeError::UnsafeDirectory {
        path: dir.to_path_buf(),
        why,
    };
    if !meta.is_dir() {
        return Err(unsafe_dir("not a directory"));
    }
    if meta.uid() != sys::uid() {
        return Err(unsafe_dir("owned by another user"));
    }
    if meta.mode() & 0o077 != 0 {
        return Err(unsafe_dir("others may enter it"));
    }
    Ok(())
}

/// SIGTERM when the parent process ends (`phantom serve --die-with-parent`, as
/// `phantom-mcp` starts it), which stops the server cleanly.
pub fn stop_with_parent() -> io::Result<()> {
    let parent = std::os::unix::process::parent_id();
    sys::set_parent_death_signal(libc::SIGTERM)?;
    // The parent may have ended before the call.
    if std::os::unix::process::parent_id() != parent {
        return Err(io::Error::other("the parent process has already ended"));
    }
    Ok(())
}

/// What a client asks for.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Request {
    /// A profile reference as `phantom run --profile` takes it (paths absolute).
    pub profile: String,
    pub mode: Option<Mode>,
    pub workspace: Option<PathBuf>,
    pub timeout: Option<Duration>,
    pub command: Vec<String>,
    pub env: Vec<(String, String)>,
}

/// What the server answers: the exit status `phantom` returns, and its remarks
/// (`phantom: ...` lines for stderr).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Response {
    pub code: i32,
    pub remarks: Vec<String>,
}

fn encode(fields: &[String]) -> Vec<u8> {
    let mut body = Vec::new();
    for f in fields {
        body.extend_from_slice(f.as_bytes());
        body.push(0);
    }
    let mut out = (body.len() as u32).to_le_bytes().to_vec();
    out.extend(body);
    out
}

fn read_fields(stream: &mut UnixStream) -> Result<Vec<String>, ServeError> {
    let mut len = [0u8; 4];
    stream.read_exact(&mut len)?;
    let len = u32::from_le_bytes(len) as usize;
    if len > MAX_MESSAGE {
        return Err(ServeError::Protocol(format!("a message of {len} bytes")));
    }
    let mut body = vec![0u8; len];
    stream.read_exact(&mut body)?;
    split_fields(&body)
}

fn split_fields(body: &[u8]) -> Result<Vec<String>, ServeError> {
    let mut fields = Vec::new();
    for f in body.split(|&b| b == 0) {
        fields.push(
            String::from_utf8(f.to_vec())
                .map_err(|_| ServeError::Protocol("a message that is not UTF-8".into()))?,
        );
    }
    fields.pop(); // after the last NUL
    Ok(fields)
}

impl Request {
    fn fields(&self) -> Vec<String> {
        let mut f = vec![
            "1".to_string(),
            self.profile.clone(),
            self.mode.map(|m| m.name().to_string()).unwrap_or_default(),
            self.workspace
                .as_ref()
                .map(|w| w.display().to_string())
                .unwrap_or_default(),
            self.timeout
                .map(|t| t.as_millis().to_string())
                .unwrap_or_default(),
            self.command.len().to_string(),
        ];
        f.extend(self.command.iter().cloned());
        f.push(self.env.len().to_string());
        f.extend(self.env.iter().map(|(k, v)| format!("{k}={v}")));
        f
    }

    fn from_fields(fields: Vec<String>) -> Option<Request> {
        let mut it = fields.into_iter();
        if it.next()? != "1" {
            return None;
        }
        let profile = it.next()?;
        let mode = match it.next()? {
            m if m.is_empty() => None,
            m => Some(Mode::from_name(&m)?),
        };
        let workspace = Some(it.next()?)
            .filter(|w| !w.is_empty())
            .map(PathBuf::from);
        let timeout = match it.next()? {
            t if t.is_empty() => None,
            t => Some(Duration::from_millis(t.parse().ok()?)),
        };
        let n: usize = it.next()?.parse().ok()?;
        let command = it.by_ref().take(n).collect::<Vec<_>>();
        let m: usize = it.next()?.parse().ok()?;
        let env = it
            .take(m)
            .map(|kv| {
                kv.split_once('=')
                    .map(|(k, v)| (k.to_string(), v.to_string()))
            })
            .collect::<Option<Vec<_>>>()?;
        (command.len() == n && env.len() == m).then_some(Request {
            profile,
            mode,
            workspace,
            timeout,
            command,
            env,
        })
    }
}

/// The client's side: sends `request` with this process's stdin, stdout and stderr,
/// and waits for the run to end.
pub fn request(request: &Request) -> Result<Response, ServeError> {
    let timing = super::exec::timing_requested();
    if timing {
        eprintln!(
            "phantom timing: client connecting (clock {})",
            super::exec::wall_clock()
        );
    }
    let path = socket_path()?;
    let mut stream = match UnixStream::connect(&path) {
        Ok(s) => s,
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::NotFound | io::ErrorKind::ConnectionRefused
            ) =>
        {
            return Err(ServeError::NotRunning(path))
        }
        Err(e) => return Err(e.into()),
    };
    // Our stdio goes only to a server of our own user.
    let server = sys::peer_credentials(stream.as_raw_fd())?;
    if server.uid != sys::uid() {
        return Err(ServeError::Protocol(format!(
            "the socket `{}` belongs to a server of uid {}, not ours",
            path.display(),
            server.uid
        )));
    }
    stream.write_all(&encode(&request.fields()))?;
    for fd in 0..3 {
        sys::send_fd(stream.as_raw_fd(), fd)?;
    }
    let fields =
        read_fields(&mut stream).map_err(|e| ServeError::Protocol(format!("no answer: {e}")))?;
    let mut it = fields.into_iter();
    let code = it
        .next()
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| ServeError::Protocol("a malformed answer".into()))?;
    Ok(Response {
        code,
        remarks: it.collect(),
    })
}

/// Profile reference and mode to bundle (the caller's profile settings and cache).
pub type LoadProfile = Box<dyn Fn(&str, Option<Mode>) -> Result<Bundle, String>>;

/// How the server runs.
pub struct ServeOptions {
    /// Parked sandboxes kept ready per profile and mode.
    pub pool_size: usize,
    /// Pools filled at start (profile reference, mode).
    pub preload: Vec<(String, Option<Mode>)>,
    /// Pools of sandboxes with a warm Python interpreter filled at start (others are
    /// made on the first run that can use one).
    pub preload_python: Vec<(String, Option<Mode>)>,
    pub load: LoadProfile,
    pub allow_degraded: bool,
}

impl std::fmt::Debug for ServeOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServeOptions")
            .field("pool_size", &self.pool_size)
            .field("preload", &self.preload)
            .finish_non_exhaustive()
    }
}

struct Pool {
    bundle: Bundle,
    kind: Kind,
    ready: Vec<Parked>,
    /// After a failure to park, no new try before this (no busy loop on a host that
    /// refuses sandboxes).
    retry_at: Option<Instant>,
    /// The bundle itself cannot be parked (its `notify` rules or checks of `listen`):
    /// no new try until the profile changes (which makes a new pool).
    refused: bool,
}

impl Pool {
    fn wants(&self, size: usize, now: Instant) -> bool {
        !self.refused && self.ready.len() < size && self.retry_at.is_none_or(|t| t <= now)
    }
}

/// At most this many pools (profile and mode pairs) are kept; a request for another
/// one is served by a sandbox parked for it alone.
const MAX_POOLS: usize = 16;
/// No parking for this long after a run was handed out (see the serve loop).
const REFILL_QUIET: Duration = Duration::from_millis(30);
/// A whole request must arrive within this, however slowly a client sends it.
const REQUEST_DEADLINE: Duration = Duration::from_secs(2);
/// Parked sandboxes older than this are replaced: their portal's view of the host's
/// mounts dates from when they were parked.
const MAX_PARKED_AGE: Duration = Duration::from_secs(300);

/// Serves until SIGTERM or SIGINT; then kills every parked sandbox (running ones end
/// with their supervisors, which die with the server) and removes the socket.
pub fn serve(options: ServeOptions) -> Result<(), ServeError> {
    let path = socket_path()?;
    if let Some(dir) = path.parent() {
        private_dir(dir)?;
    }
    if UnixStream::connect(&path).is_ok() {
        return Err(ServeError::AlreadyRunning(path));
    }
    // A dead server's socket, and nothing else, is replaced.
    if let Ok(meta) = std::fs::symlink_metadata(&path) {
        use std::os::unix::fs::FileTypeExt;
        if !meta.file_type().is_socket() {
            return Err(ServeError::Protocol(format!(
                "`{}` exists and is not a socket; remove it or choose another PHANTOM_SOCKET",
                path.display()
            )));
        }
        std::fs::remove_file(&path)?;
    }
    let listener = sys::with_umask(0o177, || UnixListener::bind(&path))?;
    // Cgroups of a server that was killed with runs in flight.
    let _ = crate::cgroup::sweep_stale(crate::cgroup::DEFAULT_PREFIX);
    let sigfd = sys::signalfd_for(&[libc::SIGCHLD, libc::SIGTERM, libc::SIGINT])?;
    let exec_options = ExecOptions {
        workspace: None,
        command: Vec::new(),
        overrides: Overrides::default(),
        allow_degraded: options.allow_degraded,
        tty: false,
        seccomp_agent: None,
    };
    let mut pools: HashMap<PoolKey, Pool> = HashMap::new();
    let preload = (options.preload.iter().map(|(p, m)| (p, *m, Kind::Plain))).chain(
        options
            .preload_python
            .iter()
            .map(|(p, m)| (p, *m, Kind::Python)),
    );
    for (profile, mode, kind) in preload {
        if kind == Kind::Python {
            match (options.load)(profile, mode) {
                Ok(bundle) if !zygote::can_warm_python(&bundle) => {
                    eprintln!("phantom serve: `{profile}`: no warm interpreters: its filter does not let a process restrict itself with Landlock (landlock_add_rule, landlock_restrict_self), which they must; its Python runs use plain sandboxes");
                    continue;
                }
                _ => {}
            }
        }
        match pool_for(&mut pools, &options, profile, mode, kind) {
            Ok(Some(pool)) => refill(pool, options.pool_size, &exec_options),
            Ok(None) => {}
            Err(e) => eprintln!("phantom serve: `{profile}`: {e}"),
        }
    }
    eprintln!(
        "phantom serve: listening on {} ({} parked per profile)",
        path.display(),
        options.pool_size
    );
    let mut last_dispatch: Option<Instant> = None;
    let result = loop {
        let mut fds = [
            libc::pollfd {
                fd: listener.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            },
            libc::pollfd {
                fd: sigfd.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            },
        ];
        // Pools are refilled when nothing else is waiting, one sandbox at a time, and
        // not in the first moments of a run just started: parking (a warm interpreter
        // above all) takes tens of milliseconds of CPU, which on a small machine would
        // be taken from the run's own start.
        let now = Instant::now();
        let short = pools.values().any(|p| p.wants(options.pool_size, now));
        // An empty pool is refilled at once: its runs are cold until then.
        let starving = pools
            .values()
            .any(|p| p.ready.is_empty() && p.wants(options.pool_size, now));
        let quiet = last_dispatch
            .map(|t| t + REFILL_QUIET)
            .filter(|&t| t > now && !starving);
        // Otherwise wake for the next retry of a pool that failed, if any.
        let wait = if let (true, Some(until)) = (short, quiet) {
            i32::try_from(until.saturating_duration_since(now).as_millis())
                .unwrap_or(i32::MAX)
                .max(1)
        } else if short {
            0
        } else {
            pools
                .values()
                .filter(|p| p.ready.len() < options.pool_size)
                .filter_map(|p| p.retry_at)
                .min()
                .map_or(-1, |t| {
                    i32::try_from(t.saturating_duration_since(now).as_millis())
                        .unwrap_or(i32::MAX)
                        .max(1)
                })
        };
        let ready = match sys::poll(&mut fds, wait) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => break Err(e.into()),
        };
        if ready == 0 {
            if quiet.is_some_and(|t| t > Instant::now()) {
                continue;
            }
            if let Some(pool) = pools
                .values_mut()
                .filter(|p| p.wants(options.pool_size, now))
                .min_by_key(|p| p.ready.len())
            {
                let target = pool.ready.len() + 1;
                refill(pool, target, &exec_options);
            }
            continue;
        }
        if fds[1].revents != 0 {
            let mut info = [0u8; 128];
            let signal = sys::read_fd(&sigfd, &mut info)
                .ok()
                .filter(|&n| n >= 4)
                .map(|_| i32::from_ne_bytes([info[0], info[1], info[2], info[3]]));
            // Reap supervisors and the inits of finished runs.
            while let Ok((pid, _)) = sys::waitpid(-1, libc::WNOHANG) {
                if pid <= 0 {
                    break;
                }
            }
            if matches!(signal, Some(libc::SIGTERM | libc::SIGINT)) {
                break Ok(());
            }
        }
        if fds[0].revents != 0 {
            if let Ok((stream, _)) = listener.accept() {
                let server_fds = [listener.as_raw_fd(), sigfd.as_raw_fd()];
                if let Err(e) = handle(stream, &mut pools, &options, &exec_options, server_fds) {
                    eprintln!("phantom serve: {e}");
                }
                last_dispatch = Some(Instant::now());
            }
        }
    };
    drop(pools); // kills what is parked
    let _ = std::fs::remove_file(&path);
    result
}

/// A pool's profile, mode and kind of parked sandbox.
type PoolKey = (String, Option<Mode>, Kind);

/// The pool for a profile, mode and kind, made (and its bundle loaded) on first use;
/// `None` when there are already [`MAX_POOLS`] others.
fn pool_for<'a>(
    pools: &'a mut HashMap<PoolKey, Pool>,
    options: &ServeOptions,
    profile: &str,
    mode: Option<Mode>,
    kind: Kind,
) -> Result<Option<&'a mut Pool>, String> {
    let key = (profile.to_string(), mode, kind);
    if !pools.contains_key(&key) {
        if pools.len() >= MAX_POOLS {
            return Ok(None);
        }
        let bundle = (options.load)(profile, mode)?;
        pools.insert(
            key.clone(),
            Pool {
                bundle,
                kind,
                ready: Vec::new(),
                retry_at: None,
                refused: false,
            },
        );
    }
    Ok(pools.get_mut(&key))
}

fn refill(pool: &mut Pool, size: usize, options: &ExecOptions) {
    while pool.ready.len() < size {
        match zygote::park_kind(&pool.bundle, options, pool.kind) {
            Ok(parked) => {
                pool.ready.push(parked);
                pool.retry_at = None;
            }
            Err(e) => {
                pool.refused = e.refuses_the_bundle();
                let again = if pool.refused {
                    " (not tried again until the profile changes)"
                } else {
                    ""
                };
                eprintln!(
                    "phantom serve: parking a `{}` sandbox: {e}{again}",
                    pool.bundle.name
                );
                pool.retry_at = Some(Instant::now() + Duration::from_secs(1));
                break;
            }
        }
    }
}

fn answer(stream: &mut UnixStream, code: i32, remarks: &[String]) {
    let mut fields = vec![code.to_string()];
    fields.extend(remarks.iter().cloned());
    let _ = stream.write_all(&encode(&fields));
}

/// Only the user's own processes outside any sandbox may use the server: a workload
/// runs as the same user and could otherwise reach the socket (through a workspace
/// that holds it, or in direct mode, where Landlock does not govern `connect`) and
/// ask for a sandbox with another workspace.
pub(super) fn check_peer(stream: &UnixStream) -> Result<(), String> {
    let peer = sys::peer_credentials(stream.as_raw_fd())
        .map_err(|e| format!("cannot tell who connected: {e}"))?;
    // The peer's namespaces and cgroups are read through /proc by pid; its pidfd, taken
    // first, says afterwards whether that pid still named the peer then (it did if the
    // peer is still alive: a pid is not reused while its process lives).
    let pidfd = sys::peer_pidfd(stream.as_raw_fd())
        .map_err(|e| format!("cannot tell who connected: {e}"))?;
    check_peer_by_pid(&peer)?;
    if pidfd.as_ref().is_some_and(sys::pidfd_exited) {
        return Err("the client exited while it was being checked".into());
    }
    Ok(())
}

fn check_peer_by_pid(peer: &sys::PeerCredentials) -> Result<(), String> {
    if peer.uid != sys::uid() {
        return Err(format!("uid {} is not this server's user", peer.uid));
    }
    for ns in ["user", "pid", "mnt"] {
        let theirs = std::fs::read_link(format!("/proc/{}/ns/{ns}", peer.pid));
        let ours = std::fs::read_link(format!("/proc/self/ns/{ns}"));
        match (theirs, ours) {
            (Ok(a), Ok(b)) if a == b => {}
            _ => {
                return Err(
                    "a sandboxed process may not start runs (phantom serve, workspaces)".into(),
                )
            }
        }
    }
    let cgroups = std::fs::read_to_string(format!("/proc/{}/cgroup", peer.pid))
        .map_err(|e| format!("cannot read the client's cgroups: {e}"))?;
    if cgroups
        .lines()
        .any(|l| l.contains(&format!("/{}-", crate::cgroup::DEFAULT_PREFIX)))
    {
        return Err("a sandboxed process may not start runs (phantom serve, workspaces)".into());
    }
    Ok(())
}

fn handle(
    mut stream: UnixStream,
    pools: &mut HashMap<PoolKey, Pool>,
    options: &ServeOptions,
    exec_options: &ExecOptions,
    server_fds: [std::os::fd::RawFd; 2],
) -> Result<(), ServeError> {
    let timing = super::exec::timing_requested();
    if timing {
        eprintln!(
            "phantom timing: server accepted (clock {})",
            super::exec::wall_clock()
        );
    }
    if let Err(why) = check_peer(&stream) {
        answer(&mut stream, 125, &[format!("refused: {why}")]);
        return Ok(());
    }
    // A client that stalls mid-request must not hold the server up: one deadline for
    // the whole request, however slowly it arrives.
    let deadline = Instant::now() + REQUEST_DEADLINE;
    let request = Request::from_fields(read_fields_by(&mut stream, deadline)?)
        .ok_or_else(|| ServeError::Protocol("a malformed request".into()))?;
    let mut stdio: Vec<OwnedFd> = Vec::with_capacity(3);
    for _ in 0..3 {
        stream.set_read_timeout(Some(remaining(deadline)?))?;
        stdio.push(sys::recv_fd(stream.as_raw_fd())?);
    }
    let stdio: [OwnedFd; 3] = stdio
        .try_into()
        .map_err(|_| ServeError::Protocol("not three descriptors".into()))?;
    stream.set_read_timeout(None)?;

    // The profile as it is now (a cache hit when unchanged): a pool parked from an
    // older version is emptied.
    let bundle = match (options.load)(&request.profile, request.mode) {
        Ok(bundle) => bundle,
        Err(e) => {
            answer(&mut stream, 125, &[e]);
            return Ok(());
        }
    };
    if let Some(var) = bundle
        .variables
        .iter()
        .find(|v| v.name == "cwd" || v.name == "home")
    {
        answer(
            &mut stream,
            125,
            &[format!(
                "the profile uses `${{{}}}`, which a sandbox parked ahead of time cannot know; run it without --warm",
                var.name
            )],
        );
        return Ok(());
    }
    // A run a warm interpreter can take goes to one; while that pool fills (it is made
    // on the first such run), a plain parked sandbox serves it.
    let kinds: &[Kind] =
        if zygote::python_run(&request.command, &request.env) && zygote::can_warm_python(&bundle) {
            &[Kind::Python, Kind::Plain]
        } else {
            &[Kind::Plain]
        };
    let mut ready = None;
    for &kind in kinds {
        let pool = match pool_for(pools, options, &request.profile, request.mode, kind) {
            Ok(pool) => pool,
            Err(e) => {
                answer(&mut stream, 125, &[e]);
                return Ok(());
            }
        };
        if let Some(pool) = pool {
            if pool.bundle != bundle {
                pool.ready.clear();
                pool.bundle = bundle.clone();
                pool.refused = false;
                pool.retry_at = None;
            }
            while let Some(parked) = pool.ready.pop() {
                if parked.is_usable(MAX_PARKED_AGE) {
                    ready = Some(parked);
                    break;
                }
            }
        }
        if ready.is_some() {
            break;
        }
    }
    if timing {
        eprintln!(
            "phantom timing: server forks the supervisor (clock {})",
            super::exec::wall_clock()
        );
    }
    match sys::fork()? {
        0 => {
            // The supervisor: dies with the server, runs this one sandbox, answers,
            // and ends without running any destructor (it shares the server's pools:
            // dropping them would kill the other parked sandboxes).
            // Not the server's listening socket or signals: a supervisor that outlives
            // the server (briefly, until its parent-death signal) must not keep the
            // socket accepting connections no one serves.
            for fd in server_fds {
                sys::close_raw(fd);
            }
            let supervise = std::panic::AssertUnwindSafe(|| {
                let _ = sys::set_parent_death_signal(libc::SIGKILL);
                let hangup = stream.as_raw_fd();
                let (code, lines) = match ready {
                    Some(mut parked) => {
                        let start = Start {
                            command: request.command,
                            env: request.env,
                            workspace: request.workspace,
                            stdio,
                        };
                        let result = parked.run_watching(start, request.timeout, Some(hangup));
                        let answered = match result {
                            Ok(report) => remarks(&report),
                            Err(e) => (125, vec![e.to_string()]),
                        };
                        answer(&mut stream, answered.0, &answered.1);
                        // The client has its answer; the sandbox's cgroups go now.
                        drop(parked);
                        return;
                    }
                    // Nothing parked (the pool is refilling): a cold run here, which
                    // is quicker than parking a sandbox first, and never holds up the
                    // server.
                    None => match cold_run(&bundle, exec_options, request, stdio, hangup) {
                        Ok(report) => remarks(&report),
                        Err(e) => (125, vec![e.to_string()]),
                    },
                };
                answer(&mut stream, code, &lines);
            });
            let status = i32::from(std::panic::catch_unwind(supervise).is_err());
            sys::exit_now(status)
        }
        _ => {
            if let Some(parked) = ready {
                parked.hand_over();
            }
            drop(stdio);
            drop(stream);
            Ok(())
        }
    }
}

/// A run as `phantom exec` would do it, with the client's stdio as the workload's.
fn cold_run(
    bundle: &Bundle,
    exec_options: &ExecOptions,
    request: Request,
    stdio: [OwnedFd; 3],
    hangup: std::os::fd::RawFd,
) -> Result<Report, super::ExecError> {
    super::exec::refuse_notify_rules(bundle, "`phantom serve`")?;
    for (target, fd) in (0..).zip(&stdio) {
        sys::dup2(fd.as_raw_fd(), target)?;
    }
    drop(stdio);
    // As for a parked sandbox: a run's timeout may only shorten the profile's.
    let limit = bundle.process.timeout_ms.map(Duration::from_millis);
    let timeout = match (request.timeout, limit) {
        (Some(asked), Some(limit)) => Some(asked.min(limit)),
        (asked, limit) => asked.or(limit),
    };
    let options = ExecOptions {
        workspace: request.workspace,
        command: request.command,
        overrides: Overrides {
            timeout_ms: timeout.map(|t| u64::try_from(t.as_millis()).unwrap_or(u64::MAX)),
            env: request.env,
            ..Overrides::default()
        },
        ..exec_options.clone()
    };
    super::exec::run_watching(bundle, &options, Some(hangup))
}

fn remaining(deadline: Instant) -> Result<Duration, ServeError> {
    let left = deadline.saturating_duration_since(Instant::now());
    if left.is_zero() {
        return Err(ServeError::Protocol(
            "the request took too long to arrive".into(),
        ));
    }
    Ok(left)
}

/// [`read_fields`] with one deadline for all of it.
fn read_fields_by(stream: &mut UnixStream, deadline: Instant) -> Result<Vec<String>, ServeError> {
    let mut read_all = |buf: &mut [u8]| -> Result<(), ServeError> {
        let mut done = 0;
        while done < buf.len() {
            stream.set_read_timeout(Some(remaining(deadline)?))?;
            match stream.read(buf.get_mut(done..).unwrap_or_default()) {
                Ok(0) => return Err(ServeError::Protocol("the client hung up".into())),
                Ok(n) => done += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    };
    let mut len = [0u8; 4];
    read_all(&mut len)?;
    let len = u32::from_le_bytes(len) as usize;
    if len > MAX_MESSAGE {
        return Err(ServeError::Protocol(format!("a message of {len} bytes")));
    }
    let mut body = vec![0u8; len];
    read_all(&mut body)?;
    split_fields(&body)
}

/// The exit status and the lines `phantom exec` would print.
fn remarks(report: &Report) -> (i32, Vec<String>) {
    let mut lines: Vec<String> = report
        .not_enforced
        .iter()
        .map(|w| format!("warning: not enforced on this host: {w}"))
        .collect();
    lines.extend(report.limits_hit.iter().cloned());
    if let Outcome::Failed { message, .. } = &report.outcome {
        lines.push(message.clone());
    }
    (report.outcome.exit_code(), lines)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "test code")]
    use super::*;

    #[test]
    fn requests_round_trip() {
        let r = Request {
            profile: "python-dev".into(),
            mode: Some(Mode::Hardened),
            workspace: Some("/home/u/p".into()),
            timeout: Some(Duration::from_millis(1500)),
            command: vec!["python3".into(), "-c".into(), "print('=')".into()],
            env: vec![("A".into(), "b=c".into())],
        };
        let bytes = encode(&r.fields());
        let body = bytes.get(4..).unwrap();
        let mut fields: Vec<String> = body
            .split(|&b| b == 0)
            .map(|f| String::from_utf8(f.to_vec()).unwrap())
            .collect();
        fields.pop();
        assert_eq!(Request::from_fields(fields).unwrap(), r);
        assert!(Request::from_fields(vec!["2".into()]).is_none());
    }
}
