//! Helpers shared by the live tests (each test file includes this module; not every
//! file uses every helper).

#![allow(dead_code, reason = "each test binary uses a different subset")]
#![allow(clippy::unwrap_used, reason = "test code")]

use std::path::PathBuf;
use std::process::Output;

pub fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status").is_ok_and(|s| {
        s.lines()
            .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some("0"))
    })
}

/// A user of the host's that owns a workspace, as a developer owns their project: as
/// root, phantom runs the workload as the workspace's owner (never as root).
pub const WORKSPACE_OWNER: u32 = 1000;
/// nobody: a parked sandbox's user as root, whose workspace is not known when it is
/// built.
pub const NOBODY: u32 = 65534;

/// As root, gives `dir` to `uid` (and the group of the same number), as a workspace of
/// that user's would be; elsewhere it is the caller's already.
pub fn give_to(dir: &std::path::Path, uid: u32) {
    if is_root() {
        std::os::unix::fs::chown(dir, Some(uid), Some(uid)).unwrap();
    }
}

/// [`give_to`] for `path` and everything beneath it (symbolic links themselves).
pub fn give_tree_to(path: &std::path::Path, uid: u32) {
    if !is_root() {
        return;
    }
    std::os::unix::fs::lchown(path, Some(uid), Some(uid)).unwrap();
    if path.symlink_metadata().unwrap().is_dir() {
        for entry in std::fs::read_dir(path).unwrap() {
            give_tree_to(&entry.unwrap().path(), uid);
        }
    }
}

pub fn out(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn err(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// The cgroup directories named `PREFIX…`, directly beneath this process's own cgroup
/// in every hierarchy it is in (where phantom creates its sessions).
pub fn cgroup_dirs_named(prefix: &str) -> Vec<PathBuf> {
    let own = std::fs::read_to_string("/proc/self/cgroup").unwrap();
    let mut found = Vec::new();
    for line in own.lines() {
        let mut parts = line.splitn(3, ':');
        let (_, controllers, path) = (parts.next(), parts.next().unwrap(), parts.next().unwrap());
        let mount = if controllers.is_empty() {
            PathBuf::from("/sys/fs/cgroup/unified")
        } else {
            PathBuf::from("/sys/fs/cgroup").join(controllers.trim_start_matches("name="))
        };
        let Ok(entries) = std::fs::read_dir(mount.join(path.trim_start_matches('/'))) else {
            continue;
        };
        found.extend(
            entries
                .flatten()
                .filter(|e| e.file_name().to_string_lossy().starts_with(prefix))
                .map(|e| e.path()),
        );
    }
    found
}

/// Running, not a zombie: a process killed a moment ago may wait to be reaped by
/// whatever reaps orphans here.
pub fn alive(pid: impl std::fmt::Display) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
        !matches!(
            s.rsplit(')')
                .next()
                .and_then(|r| r.split_whitespace().next()),
            Some("Z" | "X")
        )
    })
}
