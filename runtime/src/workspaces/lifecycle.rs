//! Creating, running in, restarting and destroying persistent workspaces: the store's
//! records kept in step with the keepers and their sandboxes.

use std::os::fd::OwnedFd;
use std::time::Duration;

use phantom_bundle::Bundle;

use super::{metrics, now_ms, CgroupRecord, Keeper, Record, Status, Store, WorkspaceError};
use crate::sandbox::exec::{humantime, Outcome, Report};
use crate::sandbox::keeper::{self, Place};
use crate::sandbox::resident;
use crate::sandbox::ExecError;

impl From<ExecError> for WorkspaceError {
    fn from(e: ExecError) -> Self {
        WorkspaceError::Sandbox(e.to_string())
    }
}

/// What `phantom create` asks for.
#[derive(Debug)]
pub struct CreateOptions<'a> {
    pub name: &'a str,
    /// The profile as the user named it (for `list` and `monitor`).
    pub profile: &'a str,
    pub bundle: &'a Bundle,
    pub allow_degraded: bool,
}

fn place(store: &Store, name: &str) -> Result<Place, WorkspaceError> {
    Ok(Place {
        dir: store.dir(name),
        files: store.files(name),
        socket: store.socket(name)?,
    })
}

/// Creates a workspace and starts its sandbox. Nothing is left behind on failure.
pub fn create(store: &Store, options: &CreateOptions) -> Result<Record, WorkspaceError> {
    let bundle = options.bundle;
    if let Some(var) = bundle
        .variables
        .iter()
        .find(|v| v.name == "cwd" || v.name == "home")
    {
        return Err(WorkspaceError::Sandbox(format!(
            "the profile uses `${{{}}}`, which has no meaning for a workspace that outlives this command; use a profile that binds only `${{workspace}}`",
            var.name
        )));
    }
    if !bundle.mode.uses_namespaces() {
        return Err(WorkspaceError::Sandbox(
            "a workspace needs a sandbox: create it in sandbox or hardened mode, not direct".into(),
        ));
    }
    let bytes = phantom_bundle::encode(bundle)
        .map_err(|e| WorkspaceError::Sandbox(format!("cannot store the bundle: {e}")))?;
    let _ = store.reconcile();
    let lock = store.lock()?;
    let dir = store.create_dir(&lock, options.name)?;
    let made = (|| -> Result<Record, WorkspaceError> {
        let path = dir.join("bundle.pfb");
        let write = || -> std::io::Result<()> {
            use std::io::Write;
            use std::os::unix::fs::OpenOptionsExt;
            std::fs::OpenOptions::new()
                .create_new(true)
                .write(true)
                .mode(0o600)
                .open(&path)?
                .write_all(&bytes)
        };
        write().map_err(|source| WorkspaceError::Io {
            what: "cannot write",
            path,
            source,
        })?;
        let mut record = Record::new(
            options.name,
            options.profile,
            bundle.mode.name(),
            options.allow_degraded,
        );
        start(store, &lock, &mut record, bundle)?;
        Ok(record)
    })();
    if made.is_err() {
        let _ = store.remove_dir(&lock, options.name);
    }
    made
}

/// Starts a stopped workspace's sandbox (under the store's lock) and records it.
fn start(
    store: &Store,
    lock: &super::Lock,
    record: &mut Record,
    bundle: &Bundle,
) -> Result<(), WorkspaceError> {
    let started = keeper::spawn(&place(store, &record.name)?, bundle, record.allow_degraded)?;
    let Some(start_ticks) = super::process_start_ticks(started.keeper_pid) else {
        return Err(WorkspaceError::Sandbox(format!(
            "the workspace's keeper ended at once (see {})",
            store.dir(&record.name).join("keeper.log").display()
        )));
    };
    record.keeper = Some(Keeper {
        pid: started.keeper_pid,
        start_ticks,
        init_pid: started.init_pid,
    });
    record.cgroup = Some(CgroupRecord {
        name: started.cgroup_name,
        dirs: started.cgroup_dirs,
    });
    record.limits = started.limits;
    record.not_enforced = started.not_enforced;
    record.started_ms = Some(now_ms());
    record.stopped = None;
    let saved = store.save(lock, record);
    if saved.is_err() {
        // Not recorded, so no one else could ever stop it.
        let _ = keeper::stop(started.keeper_pid, start_ticks);
    }
    saved
}

/// The workspace's record with its sandbox running: a stopped one (its keeper died, or
/// it was never restarted since) is started again, its files as they were. Returns
/// the record and, if it was restarted, why it had stopped.
pub fn ensure_running(
    store: &Store,
    name: &str,
) -> Result<(Record, Option<String>), WorkspaceError> {
    let record = store.load(name)?;
    if record.status() == Status::Running {
        return Ok((record, None));
    }
    restart(store, name, None)
}

/// Starts a workspace's sandbox again unless (under the lock) it runs; with
/// `unanswered`, the keeper that was running when its sandbox refused a run is stopped
/// first (only that one: another command may have started a new one meanwhile).
fn restart(
    store: &Store,
    name: &str,
    unanswered: Option<(&std::io::Error, Option<&Keeper>)>,
) -> Result<(Record, Option<String>), WorkspaceError> {
    let lock = store.lock()?;
    let mut record = store.load(name)?;
    let why = match (record.status(), unanswered) {
        (Status::Running, None) => return Ok((record, None)),
        (Status::Running, Some((_, refused))) if record.keeper.as_ref() != refused => {
            return Ok((record, None));
        }
        (Status::Running, Some((e, _))) => {
            if let Some(k) = &record.keeper {
                keeper::stop(k.pid, k.start_ticks).map_err(|source| WorkspaceError::Io {
                    what: "cannot stop the keeper of",
                    path: store.dir(name),
                    source,
                })?;
            }
            format!("its sandbox did not answer: {e}")
        }
        (Status::Stopped(why), _) => why,
    };
    if record.keeper.is_some() {
        store.mark_stopped(&lock, &mut record)?;
    }
    let bundle = load_bundle(store, name)?;
    start(store, &lock, &mut record, &bundle)?;
    Ok((record, Some(why)))
}

/// The bundle a workspace was created from.
pub fn load_bundle(store: &Store, name: &str) -> Result<Bundle, WorkspaceError> {
    let path = store.dir(name).join("bundle.pfb");
    let bytes =
        phantom_bundle::read_file(&path, phantom_bundle::MAX_BUNDLE_SIZE).map_err(|source| {
            WorkspaceError::Io {
                what: "cannot read",
                path: path.clone(),
                source,
            }
        })?;
    phantom_bundle::decode(&bytes, None).map_err(|e| WorkspaceError::Damaged {
        path,
        why: e.to_string(),
    })
}

/// One run in a workspace.
#[derive(Debug)]
pub struct RunOptions<'a> {
    pub command: Vec<String>,
    pub env: Vec<(String, String)>,
    /// Shortens the profile's timeout, never lengthens it.
    pub timeout: Option<Duration>,
    /// A signalfd whose signals are forwarded to the run (SIGWINCH resizes its
    /// terminal).
    pub signals: Option<&'a OwnedFd>,
    /// Give the run a terminal of its own in the sandbox, relayed to stdin and stdout.
    pub tty: bool,
}

/// Runs a command in a workspace (restarting its sandbox if it had stopped) and
/// records the run. The report names limits the run hit, as `phantom exec`'s does;
/// `restarted` says why the sandbox had to be started again, if it had.
pub fn exec_in(
    store: &Store,
    name: &str,
    run: RunOptions,
) -> Result<(Report, Option<String>), WorkspaceError> {
    let (running, mut restarted) = ensure_running(store, name)?;
    let bundle = load_bundle(store, name)?;
    let socket = store.socket(name)?;
    // The keeper may have died a moment ago (its socket then refuses): once, the
    // sandbox is started again and the run goes there.
    let connection = match resident::connect(&socket) {
        Ok(c) => c,
        Err(e) => {
            restarted = restart(store, name, Some((&e, running.keeper.as_ref())))?
                .1
                .or(restarted);
            resident::connect(&socket).map_err(|source| WorkspaceError::Io {
                what: "the workspace's sandbox does not answer at",
                path: socket.clone(),
                source,
            })?
        }
    };
    let profile_timeout = bundle.process.timeout_ms.map(Duration::from_millis);
    let timeout = match (run.timeout, profile_timeout) {
        (Some(asked), Some(limit)) => Some(asked.min(limit)),
        (asked, limit) => asked.or(limit),
    };
    // The record as it is now (a restart gave the sandbox new cgroups).
    let record = store.load(name)?;
    let dirs = record.cgroup.map(|c| c.dirs).unwrap_or_default();
    let before = metrics::read(&dirs);
    let end = resident::run_in(
        connection,
        run.command,
        run.env,
        timeout,
        run.signals,
        run.tty,
    )?;
    let after = metrics::read(&dirs);
    let mut limits_hit = Vec::new();
    let grew = |a: Option<u64>, b: Option<u64>| b.unwrap_or(0) > a.unwrap_or(0);
    if grew(before.oom_kills, after.oom_kills) {
        limits_hit.push(format!(
            "memory limit {} exceeded",
            bundle
                .cgroup
                .memory_max
                .map_or("?".into(), crate::sandbox::exec::size)
        ));
    }
    if grew(before.pids_limit_hits, after.pids_limit_hits) {
        limits_hit.push(format!(
            "pids limit {} reached",
            bundle.cgroup.pids_max.map_or("?".into(), |p| p.to_string())
        ));
    }
    if let (true, Some(t)) = (end.timed_out, timeout) {
        limits_hit.push(format!("timeout {}", humantime(t)));
    }
    if end.outcome == Outcome::Signaled(libc::SIGSYS) {
        limits_hit.push("killed by seccomp: a syscall the policy forbids".into());
    }
    // The run is recorded even if the record changed meanwhile (another run).
    let lock = store.lock()?;
    if let Ok(mut latest) = store.load(name) {
        latest.runs += 1;
        latest.last_exit = Some(end.outcome.exit_code());
        latest.last_run_ms = Some(now_ms());
        store.save(&lock, &latest)?;
    }
    Ok((
        Report {
            outcome: end.outcome,
            limits_hit,
            not_enforced: end.notes,
        },
        restarted,
    ))
}

/// Stops a workspace's sandbox and removes everything of it: processes, cgroups, the
/// socket, its state and its files.
pub fn destroy(store: &Store, name: &str) -> Result<(), WorkspaceError> {
    let lock = store.lock()?;
    let mut record = store.load(name).or_else(|e| match e {
        // A damaged record, or none in a directory that exists (its creator was
        // interrupted), still names a directory to remove.
        WorkspaceError::Damaged { .. } | WorkspaceError::NotFound { .. }
            if store.dir(name).is_dir() =>
        {
            Ok(Record::new(name, "", "", false))
        }
        other => Err(other),
    })?;
    // The recorded keeper, or one that started without being recorded (its creator
    // was interrupted): it wrote who it is first thing.
    let unrecorded = std::fs::read_to_string(store.dir(name).join("keeper.pid"))
        .ok()
        .and_then(|t| {
            let mut parts = t.split_whitespace().map(str::parse::<u64>);
            match (parts.next(), parts.next()) {
                (Some(Ok(pid)), Some(Ok(ticks))) => Some((i32::try_from(pid).ok()?, ticks)),
                _ => None,
            }
        });
    let keepers = record
        .keeper
        .as_ref()
        .map(|k| (k.pid, k.start_ticks))
        .into_iter()
        .chain(unrecorded);
    for (pid, ticks) in keepers {
        keeper::stop(pid, ticks).map_err(|source| WorkspaceError::Io {
            what: "cannot stop the keeper of",
            path: store.dir(name),
            source,
        })?;
    }
    if record.cgroup.is_some() {
        // Whatever the keeper did not remove (it was killed, or is gone).
        store.mark_stopped(&lock, &mut record)?;
    }
    store.remove_dir(&lock, name)
}

/// How long a workspace's sandbox has run, for people.
pub fn uptime(record: &Record) -> Option<String> {
    let started = record.started_ms?;
    Some(humantime(Duration::from_millis(
        now_ms().saturating_sub(started) / 1000 * 1000,
    )))
}
