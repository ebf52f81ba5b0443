//! Persistent workspaces: named, long-lived sandboxes with files of their own
//! (`phantom create`, `phantom exec --in`, `phantom list`, `phantom monitor`,
//! `phantom destroy`). This module keeps their state; the sandbox and the process that
//! keeps it (the *keeper*) are `sandbox::resident` and `sandbox::keeper`.
//!
//! The store is `$PHANTOM_STATE_DIR`, else `$XDG_STATE_HOME/phantom`, else
//! `~/.local/state/phantom`, with `workspaces/` beneath it (mode 0700), one directory
//! per workspace:
//!
//! | file           | what it holds                                                   |
//! |----------------|-----------------------------------------------------------------|
//! | `record.json`  | the [`Record`]: written whole to a temporary file, then renamed  |
//! | `bundle.pfb`   | the bundle it was created from (a restart looks nothing up)      |
//! | `files/`       | the workspace directory, bound as `${workspace}`                 |
//! | `control.sock` | where the sandbox's init takes runs, while it runs               |
//! | `keeper.log`   | the keeper's stderr                                              |
//! | `ended`        | why the sandbox ended, written by its keeper                     |
//!
//! Every command that changes the store holds `workspaces/.lock` (an exclusive
//! `flock`), so two commands racing (two creates of one name, create and destroy)
//! serialize; readers need no lock, as records are replaced by rename. A workspace is
//! running while its keeper lives (its pid *and* start time match the record, so a
//! reused pid is not mistaken for it); [`Store::reconcile`] finds those whose keeper
//! died (a crash, a reboot, `kill -9`), removes what their sandbox left (cgroups, the
//! socket) and marks them stopped. Their files stay: the next run restarts the sandbox.

pub mod lifecycle;
pub mod metrics;
pub mod show;

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::cgroup::{CgroupSession, RealFs, SessionDir};

/// The longest workspace name.
pub const MAX_NAME: usize = 64;

#[derive(Debug, thiserror::Error)]
pub enum WorkspaceError {
    #[error("no state directory: set PHANTOM_STATE_DIR or XDG_STATE_HOME, or HOME to a directory of yours")]
    NoStateDir,
    #[error("`{name}` is not a workspace name: {why}")]
    BadName { name: String, why: &'static str },
    #[error("there is no workspace named `{name}` (`phantom list` shows them)")]
    NotFound { name: String },
    #[error("a workspace named `{name}` exists already (`phantom destroy {name}` removes it)")]
    Exists { name: String },
    #[error(
        "the workspace record `{path}` is damaged ({why}); `phantom destroy` removes the workspace"
    )]
    Damaged { path: PathBuf, why: String },
    #[error("the socket path `{path}` is longer than a Unix socket address allows (108 bytes): set PHANTOM_STATE_DIR to a shorter directory")]
    SocketPathTooLong { path: PathBuf },
    #[error("{0}")]
    Sandbox(String),
    #[error("{what} `{path}`: {source}")]
    Io {
        what: &'static str,
        path: PathBuf,
        source: io::Error,
    },
}

fn io_error(what: &'static str, path: &Path) -> impl FnOnce(io::Error) -> WorkspaceError {
    let path = path.to_path_buf();
    move |source| WorkspaceError::Io { what, path, source }
}

/// What a workspace is, as `record.json` holds it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    pub name: String,
    /// The profile it was created from, as given.
    pub profile: String,
    pub mode: String,
    pub created_ms: u64,
    /// The keeper of its running sandbox; `None` once stopped.
    pub keeper: Option<Keeper>,
    /// The running sandbox's cgroups.
    pub cgroup: Option<CgroupRecord>,
    /// Limits written to the cgroups (`memory limit 1 GiB`, ...).
    pub limits: Vec<String>,
    /// Limits this host could not enforce (with --allow-degraded).
    pub not_enforced: Vec<String>,
    /// Created with --allow-degraded (a restart may degrade likewise).
    pub allow_degraded: bool,
    /// When the running sandbox started.
    pub started_ms: Option<u64>,
    pub runs: u64,
    pub last_exit: Option<i32>,
    pub last_run_ms: Option<u64>,
    /// Why its sandbox is not running, once it stopped.
    pub stopped: Option<String>,
}

/// The process keeping a workspace's sandbox.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Keeper {
    pub pid: i32,
    /// Its start time (`/proc/PID/stat` field 22), against pid reuse.
    pub start_ticks: u64,
    /// The sandbox's init, on the host.
    pub init_pid: i32,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CgroupRecord {
    pub name: String,
    pub dirs: Vec<SessionDir>,
}

/// Whether a workspace's sandbox runs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Status {
    Running,
    /// Stopped, with the reason.
    Stopped(String),
}

impl Record {
    /// A workspace's record before its sandbox first starts.
    pub fn new(name: &str, profile: &str, mode: &str, allow_degraded: bool) -> Record {
        Record {
            name: name.to_string(),
            profile: profile.to_string(),
            mode: mode.to_string(),
            created_ms: now_ms(),
            keeper: None,
            cgroup: None,
            limits: Vec::new(),
            not_enforced: Vec::new(),
            allow_degraded,
            started_ms: None,
            runs: 0,
            last_exit: None,
            last_run_ms: None,
            stopped: None,
        }
    }

    pub fn status(&self) -> Status {
        match &self.keeper {
            Some(k) if keeper_alive(k) => Status::Running,
            Some(_) => Status::Stopped("its keeper process is gone".into()),
            None => Status::Stopped(
                self.stopped
                    .clone()
                    .unwrap_or_else(|| "not started".to_string()),
            ),
        }
    }
}

/// Whether the keeper recorded is the process with that pid now, and not a zombie
/// (a keeper killed a moment ago, not yet reaped by its parent).
pub fn keeper_alive(k: &Keeper) -> bool {
    read_stat(k.pid)
        .is_some_and(|(state, ticks)| ticks == k.start_ticks && !matches!(state, 'Z' | 'X'))
}

/// A process's start time in clock ticks since boot (`/proc/PID/stat` field 22).
pub fn process_start_ticks(pid: i32) -> Option<u64> {
    read_stat(pid).map(|(_, ticks)| ticks)
}

fn read_stat(pid: i32) -> Option<(char, u64)> {
    if pid <= 0 {
        return None;
    }
    parse_stat(&fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)
}

/// The state (field 3) and start time (field 22) of a `/proc/PID/stat` line. The
/// command (field 2) is in parentheses and may hold spaces and parentheses itself:
/// fields are counted after its last `)`.
fn parse_stat(stat: &str) -> Option<(char, u64)> {
    let after = stat.get(stat.rfind(')')? + 1..)?;
    let mut fields = after.split_whitespace();
    let state = fields.next()?.chars().next()?;
    // Field 22 is the 19th after the state.
    Some((state, fields.nth(18)?.parse().ok()?))
}

pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// Checks a workspace name: letters, digits, `_`, `-`, `.`, starting with a letter or
/// digit, at most [`MAX_NAME`] characters (it names a directory and a cgroup).
pub fn validate_name(name: &str) -> Result<(), WorkspaceError> {
    let bad = |why| {
        Err(WorkspaceError::BadName {
            name: name.to_string(),
            why,
        })
    };
    if name.is_empty() {
        return bad("it is empty");
    }
    if name.len() > MAX_NAME {
        return bad("it is longer than 64 characters");
    }
    if !name.starts_with(|c: char| c.is_ascii_alphanumeric()) {
        return bad("it must start with a letter or a digit");
    }
    if !name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
    {
        return bad("use letters, digits, `_`, `-` and `.` only");
    }
    Ok(())
}

/// The workspaces of this user.
#[derive(Clone, Debug)]
pub struct Store {
    root: PathBuf,
}

/// Held while the store changes (an exclusive `flock` on `workspaces/.lock`).
#[derive(Debug)]
pub struct Lock {
    _file: File,
}

impl Store {
    /// The store in this user's state directory, created if missing.
    pub fn open() -> Result<Store, WorkspaceError> {
        let env = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty());
        let base = if let Some(dir) = env("PHANTOM_STATE_DIR") {
            PathBuf::from(dir)
        } else if let Some(dir) = env("XDG_STATE_HOME") {
            PathBuf::from(dir).join("phantom")
        } else if let Some(home) = env("HOME") {
            PathBuf::from(home).join(".local/state/phantom")
        } else {
            return Err(WorkspaceError::NoStateDir);
        };
        Store::open_at(&base.join("workspaces"))
    }

    /// The store at `root` (its `workspaces` directory), created if missing.
    pub fn open_at(root: &Path) -> Result<Store, WorkspaceError> {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(root)
            .map_err(io_error("cannot create the workspace store", root))?;
        Ok(Store {
            root: root.to_path_buf(),
        })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Waits for, then holds, the store's lock.
    pub fn lock(&self) -> Result<Lock, WorkspaceError> {
        let path = self.root.join(".lock");
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .mode(0o600)
            .open(&path)
            .map_err(io_error("cannot open the store's lock", &path))?;
        file.lock().map_err(io_error("cannot lock", &path))?;
        Ok(Lock { _file: file })
    }

    pub fn dir(&self, name: &str) -> PathBuf {
        self.root.join(name)
    }

    /// The directory bound as the workspace.
    pub fn files(&self, name: &str) -> PathBuf {
        self.dir(name).join("files")
    }

    /// Where the sandbox's init listens; an error if the path is too long for a
    /// socket address.
    pub fn socket(&self, name: &str) -> Result<PathBuf, WorkspaceError> {
        let path = self.dir(name).join("control.sock");
        if path.as_os_str().len() >= 108 {
            return Err(WorkspaceError::SocketPathTooLong { path });
        }
        Ok(path)
    }

    /// The names of the workspaces, sorted.
    pub fn names(&self) -> Result<Vec<String>, WorkspaceError> {
        let mut names: Vec<String> = fs::read_dir(&self.root)
            .map_err(io_error("cannot list the workspaces in", &self.root))?
            .filter_map(Result::ok)
            .filter(|e| e.path().join("record.json").exists())
            .filter_map(|e| e.file_name().into_string().ok())
            .filter(|n| validate_name(n).is_ok())
            .collect();
        names.sort();
        Ok(names)
    }

    pub fn load(&self, name: &str) -> Result<Record, WorkspaceError> {
        validate_name(name)?;
        let path = self.dir(name).join("record.json");
        let text = match fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(WorkspaceError::NotFound {
                    name: name.to_string(),
                })
            }
            Err(source) => {
                return Err(WorkspaceError::Io {
                    what: "cannot read",
                    path,
                    source,
                })
            }
        };
        serde_json::from_str(&text).map_err(|e| WorkspaceError::Damaged {
            path,
            why: e.to_string(),
        })
    }

    /// Writes `record` whole (temporary file, fsync, rename): a reader sees the old
    /// record or the new one, never a mix.
    pub fn save(&self, _lock: &Lock, record: &Record) -> Result<(), WorkspaceError> {
        let dir = self.dir(&record.name);
        let path = dir.join("record.json");
        let partial = dir.join(".record.json.partial");
        let text = serde_json::to_string_pretty(record).map_err(|e| WorkspaceError::Damaged {
            path: path.clone(),
            why: e.to_string(),
        })?;
        let write = || -> io::Result<()> {
            let mut file = OpenOptions::new()
                .create(true)
                .truncate(true)
                .write(true)
                .mode(0o600)
                .open(&partial)?;
            file.write_all(text.as_bytes())?;
            file.sync_all()?;
            fs::rename(&partial, &path)
        };
        write().map_err(io_error("cannot write", &path))
    }

    /// Creates the directory of a new workspace (and its `files/`); an error if the
    /// name is taken.
    pub fn create_dir(&self, _lock: &Lock, name: &str) -> Result<PathBuf, WorkspaceError> {
        validate_name(name)?;
        let dir = self.dir(name);
        match fs::DirBuilder::new().mode(0o700).create(&dir) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                return Err(WorkspaceError::Exists {
                    name: name.to_string(),
                })
            }
            Err(source) => {
                return Err(WorkspaceError::Io {
                    what: "cannot create",
                    path: dir,
                    source,
                })
            }
        }
        let files = self.files(name);
        fs::DirBuilder::new()
            .mode(0o755)
            .create(&files)
            .map_err(io_error("cannot create", &files))?;
        crate::sandbox::identity::give_to_sandbox(&files)
            .map_err(io_error("cannot give to the sandbox's user", &files))?;
        Ok(dir)
    }

    /// Removes a workspace's directory, its files included.
    pub fn remove_dir(&self, _lock: &Lock, name: &str) -> Result<(), WorkspaceError> {
        validate_name(name)?;
        let dir = self.dir(name);
        match fs::remove_dir_all(&dir) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(source) => Err(WorkspaceError::Io {
                what: "cannot remove",
                path: dir,
                source,
            }),
        }
    }

    /// Finds the workspaces whose keeper died without stopping them (a crash, `kill
    /// -9`, a reboot), removes what their sandbox left (cgroups, the socket) and marks
    /// them stopped. Their files stay. Returns their names.
    pub fn reconcile(&self) -> Result<Vec<String>, WorkspaceError> {
        let lock = self.lock()?;
        let mut cleaned = Vec::new();
        for name in self.names()? {
            let Ok(mut record) = self.load(&name) else {
                continue;
            };
            if record.keeper.as_ref().is_some_and(|k| !keeper_alive(k)) {
                self.mark_stopped(&lock, &mut record)?;
                cleaned.push(name);
            }
        }
        Ok(cleaned)
    }

    /// Records that a workspace's sandbox is gone, after removing its cgroups (killing
    /// anything still in them) and its socket.
    pub fn mark_stopped(&self, lock: &Lock, record: &mut Record) -> Result<(), WorkspaceError> {
        if let Some(cgroup) = record.cgroup.take() {
            let session = CgroupSession::adopt(RealFs, cgroup.name, cgroup.dirs);
            if let Err(e) = session.destroy() {
                record.stopped = Some(format!("its cgroups could not all be removed: {e}"));
            }
        }
        if let Ok(socket) = self.socket(&record.name) {
            let _ = fs::remove_file(socket);
        }
        record.keeper = None;
        record.started_ms = None;
        if record.stopped.is_none() {
            record.stopped = Some(self.ended_reason(&record.name).unwrap_or_else(|| {
                "its keeper process ended without saying why (killed?)".to_string()
            }));
        }
        self.save(lock, record)
    }

    /// Why the keeper said the sandbox ended (its `ended` file), if it said.
    pub fn ended_reason(&self, name: &str) -> Option<String> {
        fs::read_to_string(self.dir(name).join("ended"))
            .ok()
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "test code")]
    use super::*;

    #[test]
    fn start_time_is_field_22_even_with_parentheses_in_the_command() {
        let stat =
            "1234 (a) b (c) S 1 1234 1234 0 -1 4194560 100 0 0 0 5 3 0 0 20 0 1 0 987654 1000 100";
        assert_eq!(parse_stat(stat), Some(('S', 987654)));
        assert_eq!(parse_stat("garbage"), None);
        let own = process_start_ticks(std::process::id() as i32);
        assert!(own.is_some_and(|t| t > 0));
        assert_eq!(process_start_ticks(0), None);
    }

    #[test]
    fn names_are_checked() {
        for good in ["a", "proj-1", "A.b_c", &"x".repeat(64)] {
            assert!(validate_name(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "-a",
            ".hidden",
            "a/b",
            "..",
            "a b",
            &"x".repeat(65),
            "é",
        ] {
            assert!(validate_name(bad).is_err(), "{bad}");
        }
    }

    fn record(name: &str) -> Record {
        Record::new(name, "shell", "sandbox", false)
    }

    #[test]
    fn records_round_trip_and_names_are_exclusive() {
        let tmp = tempfile::tempdir().unwrap();
        let store = Store::open_at(&tmp.path().join("workspaces")).unwrap();
        let lock = store.lock().unwrap();
        store.create_dir(&lock, "one").unwrap();
        assert!(matches!(
            store.create_dir(&lock, "one"),
            Err(WorkspaceError::Exists { .. })
        ));
        let mut r = record("one");
        r.runs = 3;
        store.save(&lock, &r).unwrap();
        assert_eq!(store.load("one").unwrap(), r);
        assert_eq!(store.names().unwrap(), ["one"]);
        assert!(matches!(
            store.load("two"),
            Err(WorkspaceError::NotFound { .. })
        ));
        fs::write(store.dir("one").join("record.json"), "{").unwrap();
        assert!(matches!(
            store.load("one"),
            Err(WorkspaceError::Damaged { .. })
        ));
        store.remove_dir(&lock, "one").unwrap();
        assert!(store.names().unwrap().is_empty());
        assert_eq!(r.status(), Status::Stopped("not started".into()));
    }

    #[test]
    fn a_keeper_whose_pid_was_reused_is_not_alive() {
        let me = std::process::id() as i32;
        let ticks = process_start_ticks(me).unwrap();
        let alive = Keeper {
            pid: me,
            start_ticks: ticks,
            init_pid: 0,
        };
        assert!(keeper_alive(&alive));
        let reused = Keeper {
            start_ticks: ticks + 1,
            ..alive
        };
        assert!(!keeper_alive(&reused));
    }
}
