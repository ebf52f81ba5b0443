//! Workspaces: directories under the server's state directory that runs mount at
//! `/workspace`, and the file tools' confined access to them.
//!
//! Every path from the model is resolved beneath its workspace by cap-std (openat2
//! with RESOLVE_BENEATH where the kernel has it, a component-by-component walk
//! otherwise): `..`, absolute paths and symlinks pointing out are refused by the
//! kernel's resolution, not by string checks alone. The workload itself can create
//! such symlinks, which is why the checks must hold at resolution time.

use std::collections::HashMap;
use std::io::Read;
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use cap_std::fs::Dir;
use schemars::JsonSchema;
use serde::Serialize;

/// Why a workspace or file operation was refused.
#[derive(Debug, thiserror::Error)]
pub enum WorkspaceError {
    #[error("no workspace `{0}` (list_workspaces shows them; idle ones expire)")]
    Unknown(String),
    #[error("a workspace named `{0}` exists already")]
    Taken(String),
    #[error("`{0}` is not a workspace name: use 1-64 letters, digits, `-`, `_` or `.`, not starting with `.`")]
    BadName(String),
    #[error("`{path}` is not a path inside the workspace: {why}")]
    BadPath { path: String, why: &'static str },
    #[error("`{path}` is {size} bytes; the limit is {limit} bytes")]
    TooLarge { path: String, size: u64, limit: u64 },
    #[error("`{path}`: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
}

fn io(path: &str) -> impl FnOnce(std::io::Error) -> WorkspaceError + '_ {
    move |source| WorkspaceError::Io {
        path: path.to_string(),
        source,
    }
}

/// A workspace as list_workspaces shows it.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct WorkspaceInfo {
    pub workspace: String,
    pub profile: String,
    /// Seconds since the Unix epoch.
    pub created_at: u64,
    pub idle_s: u64,
    /// Runs using it right now.
    pub active_runs: usize,
}

/// An entry of list_files.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct FileEntry {
    pub name: String,
    /// file, dir, symlink or other.
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub size: u64,
}

#[derive(Debug)]
struct Entry {
    path: PathBuf,
    profile: String,
    created_at: u64,
    last_used: Instant,
    active: usize,
}

/// The server's workspaces.
#[derive(Debug)]
pub struct Workspaces {
    root: PathBuf,
    idle: Duration,
    entries: Mutex<HashMap<String, Entry>>,
    counter: AtomicU64,
}

/// A workspace held by a running call: it does not expire while held.
#[derive(Debug)]
pub struct Lease {
    workspaces: Arc<Workspaces>,
    id: String,
    pub path: PathBuf,
}

impl Drop for Lease {
    fn drop(&mut self) {
        if let Some(entry) = self.workspaces.lock().get_mut(&self.id) {
            entry.active = entry.active.saturating_sub(1);
            entry.last_used = Instant::now();
        }
    }
}

/// A one-shot call's empty workspace, removed when the call ends.
#[derive(Debug)]
pub struct Scratch {
    pub path: PathBuf,
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

impl Workspaces {
    /// Workspaces under `root` (created here), expiring after `idle` unused.
    pub fn new(root: PathBuf, idle: Duration) -> std::io::Result<Arc<Self>> {
        std::fs::create_dir_all(root.join("workspaces"))?;
        std::fs::create_dir_all(root.join("oneshot"))?;
        Ok(Arc::new(Workspaces {
            root,
            idle,
            entries: Mutex::new(HashMap::new()),
            counter: AtomicU64::new(0),
        }))
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, Entry>> {
        self.entries
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The state directory all of it lives in.
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn unique(&self) -> String {
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let hash = blake3::hash(format!("{}:{nanos}:{n}", std::process::id()).as_bytes());
        hash.to_hex().get(..10).unwrap_or("0").to_string()
    }

    /// Creates a workspace for `profile`, named `name` or a fresh id.
    pub fn create(
        &self,
        name: Option<&str>,
        profile: &str,
    ) -> Result<WorkspaceInfo, WorkspaceError> {
        let id = match name {
            Some(name) => {
                let valid = !name.is_empty()
                    && name.len() <= 64
                    && !name.starts_with('.')
                    && name
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
                if !valid {
                    return Err(WorkspaceError::BadName(name.to_string()));
                }
                name.to_string()
            }
            None => format!("ws-{}", self.unique()),
        };
        let mut entries = self.lock();
        if entries.contains_key(&id) {
            return Err(WorkspaceError::Taken(id));
        }
        let path = self.root.join("workspaces").join(&id);
        std::fs::create_dir(&path).map_err(io(&id))?;
        crate::sandbox::identity::give_to_sandbox(&path).map_err(io(&id))?;
        let created_at = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        entries.insert(
            id.clone(),
            Entry {
                path,
                profile: profile.to_string(),
                created_at,
                last_used: Instant::now(),
                active: 0,
            },
        );
        Ok(WorkspaceInfo {
            workspace: id,
            profile: profile.to_string(),
            created_at,
            idle_s: 0,
            active_runs: 0,
        })
    }

    /// Removes a workspace and everything in it.
    pub fn destroy(&self, id: &str) -> Result<(), WorkspaceError> {
        let entry = self
            .lock()
            .remove(id)
            .ok_or_else(|| WorkspaceError::Unknown(id.to_string()))?;
        std::fs::remove_dir_all(&entry.path).map_err(io(id))
    }

    pub fn list(&self) -> Vec<WorkspaceInfo> {
        let mut list: Vec<WorkspaceInfo> = self
            .lock()
            .iter()
            .map(|(id, e)| WorkspaceInfo {
                workspace: id.clone(),
                profile: e.profile.clone(),
                created_at: e.created_at,
                idle_s: e.last_used.elapsed().as_secs(),
                active_runs: e.active,
            })
            .collect();
        list.sort_by(|a, b| a.workspace.cmp(&b.workspace));
        list
    }

    /// Holds a workspace for the length of a call.
    pub fn lease(self: &Arc<Self>, id: &str) -> Result<Lease, WorkspaceError> {
        let mut entries = self.lock();
        let entry = entries
            .get_mut(id)
            .ok_or_else(|| WorkspaceError::Unknown(id.to_string()))?;
        entry.active += 1;
        entry.last_used = Instant::now();
        Ok(Lease {
            workspaces: Arc::clone(self),
            id: id.to_string(),
            path: entry.path.clone(),
        })
    }

    /// The profile a workspace was created for.
    pub fn profile(&self, id: &str) -> Option<String> {
        self.lock().get(id).map(|e| e.profile.clone())
    }

    /// A fresh empty directory for a one-shot call.
    pub fn scratch(&self) -> Result<Scratch, WorkspaceError> {
        let path = self.root.join("oneshot").join(self.unique());
        std::fs::create_dir(&path).map_err(io("scratch workspace"))?;
        crate::sandbox::identity::give_to_sandbox(&path).map_err(io("scratch workspace"))?;
        Ok(Scratch { path })
    }

    /// Removes workspaces unused for longer than the idle time (none in use); returns
    /// their ids.
    pub fn expire_idle(&self) -> Vec<String> {
        let expired: Vec<(String, PathBuf)> = {
            let mut entries = self.lock();
            let ids: Vec<String> = entries
                .iter()
                .filter(|(_, e)| e.active == 0 && e.last_used.elapsed() >= self.idle)
                .map(|(id, _)| id.clone())
                .collect();
            ids.into_iter()
                .filter_map(|id| entries.remove(&id).map(|e| (id, e.path)))
                .collect()
        };
        for (_, path) in &expired {
            let _ = std::fs::remove_dir_all(path);
        }
        expired.into_iter().map(|(id, _)| id).collect()
    }

    /// Removes the state directory and everything in it (shutdown).
    pub fn remove_all(&self) -> std::io::Result<()> {
        self.lock().clear();
        std::fs::remove_dir_all(&self.root)
    }
}

/// Checks a model-given path before resolution: relative, no `..`, no NUL. (The
/// resolution beneath the workspace is the real guard; this gives clear messages.)
pub fn check_relative(path: &str) -> Result<&Path, WorkspaceError> {
    let bad = |why| WorkspaceError::BadPath {
        path: path.to_string(),
        why,
    };
    if path.is_empty() {
        return Err(bad("it is empty"));
    }
    if path.contains('\0') {
        return Err(bad("it contains a NUL byte"));
    }
    let p = Path::new(path);
    for component in p.components() {
        match component {
            Component::RootDir | Component::Prefix(_) => {
                return Err(bad(
                    "absolute paths are refused; give it relative to the workspace",
                ))
            }
            Component::ParentDir => return Err(bad("`..` is refused")),
            Component::CurDir | Component::Normal(_) => {}
        }
    }
    Ok(p)
}

fn open_root(workspace: &Path) -> Result<Dir, WorkspaceError> {
    Dir::open_ambient_dir(workspace, cap_std::ambient_authority()).map_err(io("workspace"))
}

/// Maps cap-std's refusal of an escaping path to a clear message.
fn resolve_error(path: &str) -> impl FnOnce(std::io::Error) -> WorkspaceError + '_ {
    move |source| {
        // cap-std reports a resolution leaving the directory as PermissionDenied
        // ("a path led outside of the filesystem") or, from openat2, EXDEV.
        if source.kind() == std::io::ErrorKind::PermissionDenied
            || source.raw_os_error() == Some(libc::EXDEV)
            || source.raw_os_error() == Some(libc::ELOOP)
        {
            WorkspaceError::BadPath {
                path: path.to_string(),
                why: "it resolves outside the workspace (a symlink pointing out?)",
            }
        } else {
            WorkspaceError::Io {
                path: path.to_string(),
                source,
            }
        }
    }
}

/// Writes `content` to `path` in the workspace, creating parent directories.
pub fn write_file(
    workspace: &Path,
    path: &str,
    content: &[u8],
    limit: u64,
) -> Result<u64, WorkspaceError> {
    let rel = check_relative(path)?;
    if content.len() as u64 > limit {
        return Err(WorkspaceError::TooLarge {
            path: path.to_string(),
            size: content.len() as u64,
            limit,
        });
    }
    let dir = open_root(workspace)?;
    if let Some(parent) = rel.parent().filter(|p| !p.as_os_str().is_empty()) {
        dir.create_dir_all(parent).map_err(resolve_error(path))?;
    }
    let mut options = cap_std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    let mut file = open_regular(&dir, rel, path, &mut options)?;
    std::io::Write::write_all(&mut file, content).map_err(io(path))?;
    Ok(content.len() as u64)
}

/// Opens `rel` with `options`, without waiting (a FIFO the workload left would block
/// the server until someone opened its other end), and only if it is a regular file
/// or a directory.
fn open_regular(
    dir: &Dir,
    rel: &Path,
    path: &str,
    options: &mut cap_std::fs::OpenOptions,
) -> Result<cap_std::fs::File, WorkspaceError> {
    use cap_std::fs::OpenOptionsExt;
    let file = dir
        .open_with(rel, options.custom_flags(libc::O_NONBLOCK))
        .map_err(|e| match e.raw_os_error() {
            // A FIFO opened for writing with no reader.
            Some(libc::ENXIO) => not_a_file(path),
            _ => resolve_error(path)(e),
        })?;
    let meta = file.metadata().map_err(io(path))?;
    if !meta.is_file() && !meta.is_dir() {
        return Err(not_a_file(path));
    }
    Ok(file)
}

fn not_a_file(path: &str) -> WorkspaceError {
    WorkspaceError::BadPath {
        path: path.to_string(),
        why: "it is not a regular file (a FIFO, socket or device)",
    }
}

/// Reads a file of the workspace, at most `limit` bytes.
pub fn read_file(workspace: &Path, path: &str, limit: u64) -> Result<Vec<u8>, WorkspaceError> {
    let rel = check_relative(path)?;
    let dir = open_root(workspace)?;
    let file = open_regular(&dir, rel, path, cap_std::fs::OpenOptions::new().read(true))?;
    let meta = file.metadata().map_err(io(path))?;
    if meta.is_dir() {
        return Err(WorkspaceError::BadPath {
            path: path.to_string(),
            why: "it is a directory (use list_files)",
        });
    }
    if meta.len() > limit {
        return Err(WorkspaceError::TooLarge {
            path: path.to_string(),
            size: meta.len(),
            limit,
        });
    }
    let mut bytes = Vec::new();
    // The size can grow while it is read (a run writing it): read no more than the cap.
    file.take(limit + 1)
        .read_to_end(&mut bytes)
        .map_err(io(path))?;
    if bytes.len() as u64 > limit {
        return Err(WorkspaceError::TooLarge {
            path: path.to_string(),
            size: bytes.len() as u64,
            limit,
        });
    }
    Ok(bytes)
}

/// Lists a directory of the workspace, sorted by name, at most `limit` entries.
pub fn list_files(
    workspace: &Path,
    path: &str,
    limit: usize,
) -> Result<(Vec<FileEntry>, bool), WorkspaceError> {
    let rel = check_relative(path)?;
    let dir = open_root(workspace)?;
    let mut entries = Vec::new();
    let mut more = false;
    for entry in dir.read_dir(rel).map_err(resolve_error(path))? {
        let entry = entry.map_err(io(path))?;
        if entries.len() >= limit {
            more = true;
            break;
        }
        let file_type = entry.file_type().map_err(io(path))?;
        let kind = if file_type.is_symlink() {
            "symlink"
        } else if file_type.is_dir() {
            "dir"
        } else if file_type.is_file() {
            "file"
        } else {
            "other"
        };
        let size = if file_type.is_file() {
            entry.metadata().map(|m| m.len()).unwrap_or(0)
        } else {
            0
        };
        entries.push(FileEntry {
            name: entry.file_name().to_string_lossy().into_owned(),
            kind,
            size,
        });
    }
    entries.sort_by(|a, b| a.name.cmp(&b.name));
    Ok((entries, more))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests fail loudly")]
    use super::*;

    #[test]
    fn paths_are_checked() {
        assert!(check_relative("a/b.txt").is_ok());
        assert!(check_relative("./a").is_ok());
        assert!(check_relative("../a").is_err());
        assert!(check_relative("a/../../b").is_err());
        assert!(check_relative("/etc/passwd").is_err());
        assert!(check_relative("").is_err());
    }

    #[test]
    fn files_stay_beneath_the_workspace() {
        let ws = tempfile::tempdir().unwrap();
        write_file(ws.path(), "sub/x.txt", b"hi", 10).unwrap();
        assert_eq!(read_file(ws.path(), "sub/x.txt", 10).unwrap(), b"hi");
        assert!(write_file(ws.path(), "big", b"0123456789ab", 10).is_err());
        std::os::unix::fs::symlink("/etc", ws.path().join("out")).unwrap();
        assert!(read_file(ws.path(), "out/hostname", 1 << 20).is_err());
        assert!(write_file(ws.path(), "out/planted", b"x", 10).is_err());
        std::os::unix::fs::symlink("/etc/hostname", ws.path().join("link")).unwrap();
        assert!(read_file(ws.path(), "link", 1 << 20).is_err());
        let (entries, more) = list_files(ws.path(), ".", 100).unwrap();
        assert!(!more);
        let names: Vec<_> = entries.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(names, ["link", "out", "sub"]);
        assert!(list_files(ws.path(), "out", 100).is_err());
    }

    #[test]
    fn a_fifo_left_in_the_workspace_is_refused_without_waiting() {
        let ws = tempfile::tempdir().unwrap();
        let fifo = ws.path().join("out.txt");
        assert!(std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success());
        // Neither call may block on the FIFO's other end, which nobody opens.
        for error in [
            read_file(ws.path(), "out.txt", 1 << 20).unwrap_err(),
            write_file(ws.path(), "out.txt", b"x", 10).unwrap_err(),
        ] {
            assert!(error.to_string().contains("not a regular file"), "{error}");
        }
    }

    #[test]
    fn workspaces_expire_only_when_idle_and_unheld() {
        let root = tempfile::tempdir().unwrap();
        let spaces = Workspaces::new(root.path().join("s"), Duration::ZERO).unwrap();
        let a = spaces.create(Some("a"), "python-dev").unwrap();
        assert!(spaces.create(Some("a"), "python-dev").is_err());
        assert!(spaces.create(Some("../x"), "python-dev").is_err());
        let lease = spaces.lease(&a.workspace).unwrap();
        assert!(spaces.expire_idle().is_empty());
        drop(lease);
        assert_eq!(spaces.expire_idle(), ["a"]);
        assert!(spaces.list().is_empty());
    }
}
