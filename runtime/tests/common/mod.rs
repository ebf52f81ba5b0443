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
