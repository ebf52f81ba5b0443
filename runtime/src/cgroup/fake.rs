//! [`FakeFs`]: an in-memory model of the kernel's cgroup filesystems, for tests.
//!
//! It models what the session relies on, after the kernel's documentation
//! (Documentation/admin-guide/cgroup-v2.rst and cgroup-v1/*):
//!
//! - `/proc/self/cgroup` and `/proc/self/mountinfo` are generated from the mounts and
//!   from where this process is placed.
//! - v2: a new cgroup offers (`cgroup.controllers`) what its parent enables
//!   (`cgroup.subtree_control`), and has those controllers' interface files; the root
//!   has none of them, nor `cgroup.type`, `cgroup.kill`, `cgroup.freeze`. Writing
//!   `+c` to `cgroup.subtree_control` fails with ENOENT if `c` is not in
//!   `cgroup.controllers`, and with EBUSY in a non-root cgroup that holds processes
//!   (no internal processes); `-c` fails with EBUSY while a child enables `c`. Writing
//!   to `cgroup.procs` of a non-root cgroup that enables controllers for its children
//!   fails with EBUSY. `cgroup.kill` kills the subtree.
//! - v1: every cgroup has the hierarchy's controller files; `memory.limit_in_bytes`
//!   above `memory.memsw.limit_in_bytes` (and the reverse) is EINVAL; the freezer's
//!   `freezer.state`.
//! - both: `rmdir` of a cgroup with processes or children is EBUSY; writing a file that
//!   does not exist is ENOENT, a read-only file EACCES; values of limit files are
//!   checked (numbers, `max`, cpu quota and period ranges).
//! - permissions: [`FakeFs::deny`] makes writes, mkdir and rmdir beneath a path fail with
//!   EACCES, as for an unprivileged user; [`FakeFs::fail_write`] injects an errno.
//!
//! Every write, mkdir, rmdir and kill is recorded ([`FakeFs::ops`]).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use super::detect::Version;
use super::fs::CgroupFs;

/// One recorded operation, with the errno it failed with (`None`: it succeeded).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FakeOp {
    Write {
        path: PathBuf,
        data: String,
        errno: Option<i32>,
    },
    Mkdir {
        path: PathBuf,
        errno: Option<i32>,
    },
    Rmdir {
        path: PathBuf,
        errno: Option<i32>,
    },
    Kill {
        pid: i32,
    },
}

#[derive(Debug)]
struct Mount {
    version: Version,
    id: u32,
    mount_point: PathBuf,
    controllers: Vec<String>,
}

#[derive(Debug)]
struct Group {
    mount: usize,
    root: bool,
    /// Interface files of the controllers, by name.
    files: BTreeMap<String, String>,
    procs: BTreeSet<i32>,
    /// v2: offered by the parent.
    controllers: BTreeSet<String>,
    /// v2: enabled for the children.
    subtree: BTreeSet<String>,
    frozen: bool,
}

#[derive(Debug)]
struct State {
    mounts: Vec<Mount>,
    groups: BTreeMap<PathBuf, Group>,
    files: BTreeMap<PathBuf, String>,
    processes: BTreeSet<i32>,
    self_pid: i32,
    euid: u32,
    swap_accounting: bool,
    denied: Vec<PathBuf>,
    failures: BTreeMap<PathBuf, i32>,
    ops: Vec<FakeOp>,
    sleeps: u64,
    proc_hidden: bool,
}

/// An in-memory cgroup host. All methods take `&self`; share it by reference
/// (`CgroupSession<&FakeFs>`).
pub struct FakeFs {
    state: Mutex<State>,
}

impl fmt::Debug for FakeFs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FakeFs").finish_non_exhaustive()
    }
}

impl Default for FakeFs {
    fn default() -> Self {
        Self::new()
    }
}

fn err(errno: i32) -> io::Error {
    io::Error::from_raw_os_error(errno)
}

const UNLIMITED_V1: &str = "9223372036854771712";

/// Files that exist only to be read.
const READ_ONLY: &[&str] = &[
    "cgroup.controllers",
    "cgroup.events",
    "memory.events",
    "memory.current",
    "memory.usage_in_bytes",
    "memory.stat",
    "pids.events",
    "pids.current",
    "cpu.stat",
];

fn controller_files(version: Version, controller: &str, swap: bool) -> Vec<(&'static str, String)> {
    let s = String::from;
    match (version, controller) {
        (Version::V2, "memory") => {
            let mut f = vec![
                ("memory.max", s("max")),
                (
                    "memory.events",
                    s("low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\noom_group_kill 0\n"),
                ),
                ("memory.peak", s("0")),
                ("memory.current", s("0")),
            ];
            if swap {
                f.push(("memory.swap.max", s("max")));
            }
            f
        }
        (Version::V2, "cpu") => vec![("cpu.max", s("max 100000")), ("cpu.weight", s("100"))],
        (_, "pids") => vec![
            ("pids.max", s("max")),
            ("pids.events", s("max 0\n")),
            ("pids.current", s("0")),
        ],
        (Version::V2, "io") => vec![("io.weight", s("default 100\n"))],
        (Version::V1, "memory") => {
            let mut f = vec![
                ("memory.limit_in_bytes", s(UNLIMITED_V1)),
                ("memory.swappiness", s("60")),
                (
                    "memory.oom_control",
                    s("oom_kill_disable 0\nunder_oom 0\noom_kill 0\n"),
                ),
                ("memory.failcnt", s("0")),
                ("memory.max_usage_in_bytes", s("0")),
                ("memory.usage_in_bytes", s("0")),
            ];
            if swap {
                f.push(("memory.memsw.limit_in_bytes", s(UNLIMITED_V1)));
            }
            f
        }
        (Version::V1, "cpu") => vec![
            ("cpu.cfs_quota_us", s("-1")),
            ("cpu.cfs_period_us", s("100000")),
            ("cpu.shares", s("1024")),
        ],
        (Version::V1, "blkio") => vec![("blkio.bfq.weight", s("100"))],
        _ => Vec::new(),
    }
}

fn parse_v1_bytes(value: &str) -> Option<i64> {
    let v: i64 = value.trim().parse().ok()?;
    if v == -1 {
        Some(i64::MAX)
    } else if v >= 0 {
        Some(v)
    } else {
        None
    }
}

fn max_or_number(value: &str) -> bool {
    let v = value.trim();
    v == "max" || v.parse::<u64>().is_ok()
}

impl FakeFs {
    /// A host with no cgroup mounts, running only this process, as root.
    pub fn new() -> FakeFs {
        let self_pid = i32::try_from(std::process::id()).unwrap_or(i32::MAX);
        FakeFs {
            state: Mutex::new(State {
                mounts: Vec::new(),
                groups: BTreeMap::new(),
                files: BTreeMap::new(),
                processes: BTreeSet::from([self_pid]),
                self_pid,
                euid: 0,
                swap_accounting: true,
                denied: Vec::new(),
                failures: BTreeMap::new(),
                ops: Vec::new(),
                sleeps: 0,
                proc_hidden: false,
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// This process's id (the one the session uses).
    pub fn self_pid(&self) -> i32 {
        self.lock().self_pid
    }

    /// Mounts a cgroup v1 hierarchy with `controllers` at `mount_point`; this process is
    /// in its root.
    pub fn mount_v1(&self, mount_point: &str, controllers: &[&str]) -> &Self {
        self.mount(Version::V1, mount_point, controllers)
    }

    /// Mounts the cgroup v2 hierarchy at `mount_point`, its root offering
    /// `controllers`; this process is in its root.
    pub fn mount_v2(&self, mount_point: &str, controllers: &[&str]) -> &Self {
        self.mount(Version::V2, mount_point, controllers)
    }

    fn mount(&self, version: Version, mount_point: &str, controllers: &[&str]) -> &Self {
        let mut s = self.lock();
        let id = match version {
            Version::V2 => 0,
            Version::V1 => u32::try_from(s.mounts.len()).unwrap_or(0) + 1,
        };
        let index = s.mounts.len();
        s.mounts.push(Mount {
            version,
            id,
            mount_point: PathBuf::from(mount_point),
            controllers: controllers.iter().map(|c| c.to_string()).collect(),
        });
        let mut files = BTreeMap::new();
        if version == Version::V1 {
            for c in controllers {
                for (name, value) in controller_files(version, c, s.swap_accounting) {
                    files.insert(name.to_owned(), value);
                }
            }
        }
        let self_pid = s.self_pid;
        s.groups.insert(
            PathBuf::from(mount_point),
            Group {
                mount: index,
                root: true,
                files,
                procs: BTreeSet::from([self_pid]),
                controllers: controllers.iter().map(|c| c.to_string()).collect(),
                subtree: BTreeSet::new(),
                frozen: false,
            },
        );
        self
    }

    /// Kernel without swap accounting: cgroups created from now on lack
    /// `memory.swap.max` / `memory.memsw.limit_in_bytes`, and existing ones lose them.
    pub fn without_swap_accounting(&self) -> &Self {
        let mut s = self.lock();
        s.swap_accounting = false;
        for g in s.groups.values_mut() {
            g.files.remove("memory.swap.max");
            g.files.remove("memory.memsw.limit_in_bytes");
        }
        self
    }

    /// Creates the cgroups along `path` that do not exist yet (setup, not recorded),
    /// enabling `enable` for the children of each ancestor on v2 (where offered).
    pub fn mkdir_p(&self, path: &str, enable: &[&str]) -> &Self {
        let path = PathBuf::from(path);
        let mut s = self.lock();
        let Some(mount_point) = s
            .mounts
            .iter()
            .map(|m| m.mount_point.clone())
            .filter(|m| path.starts_with(m))
            .max_by_key(|m| m.components().count())
        else {
            return self;
        };
        let mut current = mount_point;
        let rel: Vec<_> = path
            .strip_prefix(&current)
            .map(|r| r.components().map(|c| c.as_os_str().to_owned()).collect())
            .unwrap_or_default();
        for part in rel {
            if let Some(g) = s.groups.get_mut(&current) {
                let offered: Vec<String> = enable
                    .iter()
                    .map(|c| c.to_string())
                    .filter(|c| g.controllers.contains(c))
                    .collect();
                g.subtree.extend(offered);
            }
            let next = current.join(part);
            if !s.groups.contains_key(&next) {
                let _ = s.create_group(&next);
            }
            current = next;
        }
        self
    }

    /// Enables `controllers` for the children of `dir` (setup, no rules checked).
    pub fn enable(&self, dir: &str, controllers: &[&str]) -> &Self {
        let mut s = self.lock();
        if let Some(g) = s.groups.get_mut(Path::new(dir)) {
            g.subtree.extend(controllers.iter().map(|c| c.to_string()));
        }
        self
    }

    /// Starts a process `pid` in the cgroup `dir` (root cgroups in other hierarchies).
    pub fn spawn(&self, pid: i32, dir: &str) -> &Self {
        let mut s = self.lock();
        s.processes.insert(pid);
        let roots: Vec<PathBuf> = s.mounts.iter().map(|m| m.mount_point.clone()).collect();
        for root in roots {
            s.place(pid, &root);
        }
        s.place(pid, Path::new(dir));
        self
    }

    /// Puts this process into the cgroup `dir` (setup, not recorded, no rules checked).
    pub fn place_self(&self, dir: &str) -> &Self {
        let mut s = self.lock();
        let pid = s.self_pid;
        s.place(pid, Path::new(dir));
        self
    }

    /// Writes, mkdir and rmdir at or beneath `prefix` fail with EACCES.
    pub fn deny(&self, prefix: &str) -> &Self {
        self.lock().denied.push(PathBuf::from(prefix));
        self
    }

    /// Writes to exactly `path` fail with `errno`.
    pub fn fail_write(&self, path: &str, errno: i32) -> &Self {
        self.lock().failures.insert(PathBuf::from(path), errno);
        self
    }

    /// `/proc` is not mounted: its files cannot be read.
    pub fn hide_proc(&self) -> &Self {
        self.lock().proc_hidden = true;
        self
    }

    /// The effective uid reported.
    pub fn set_euid(&self, euid: u32) -> &Self {
        self.lock().euid = euid;
        self
    }

    /// Sets a file: an interface file of a cgroup (`memory.events`, ...) or any other
    /// file (`/run/systemd/system`, `/usr/bin/systemd-run`).
    pub fn set_file(&self, path: &str, contents: &str) -> &Self {
        let path = PathBuf::from(path);
        let mut s = self.lock();
        let name = path.file_name().and_then(|n| n.to_str()).map(String::from);
        match (path.parent().and_then(|p| s.groups.get_mut(p)), name) {
            (Some(g), Some(name)) => {
                g.files.insert(name, contents.to_owned());
            }
            _ => {
                s.files.insert(path, contents.to_owned());
            }
        }
        self
    }

    /// The recorded operations.
    pub fn ops(&self) -> Vec<FakeOp> {
        self.lock().ops.clone()
    }

    /// The recorded successful writes, as (path, data).
    pub fn writes(&self) -> Vec<(String, String)> {
        self.ops()
            .into_iter()
            .filter_map(|op| match op {
                FakeOp::Write {
                    path,
                    data,
                    errno: None,
                } => Some((path.display().to_string(), data)),
                _ => None,
            })
            .collect()
    }

    /// Forgets the recorded operations.
    pub fn clear_ops(&self) {
        self.lock().ops.clear();
    }

    /// Every cgroup directory.
    pub fn cgroups(&self) -> Vec<PathBuf> {
        self.lock().groups.keys().cloned().collect()
    }

    /// The processes in the cgroup `dir`.
    pub fn procs(&self, dir: &str) -> Vec<i32> {
        self.lock()
            .groups
            .get(Path::new(dir))
            .map(|g| g.procs.iter().copied().collect())
            .unwrap_or_default()
    }

    /// Whether process `pid` is alive.
    pub fn alive(&self, pid: i32) -> bool {
        self.lock().processes.contains(&pid)
    }

    /// How often `sleep` was called.
    pub fn sleeps(&self) -> u64 {
        self.lock().sleeps
    }

    /// Reads a file without recording anything.
    pub fn peek(&self, path: &str) -> Option<String> {
        self.lock().read(Path::new(path)).ok()
    }
}

impl State {
    fn denied(&self, path: &Path) -> bool {
        self.denied.iter().any(|d| path.starts_with(d))
    }

    fn version(&self, g: &Group) -> Version {
        self.mounts.get(g.mount).map_or(Version::V2, |m| m.version)
    }

    fn place(&mut self, pid: i32, dir: &Path) {
        let Some(mount) = self.groups.get(dir).map(|g| g.mount) else {
            return;
        };
        for g in self.groups.values_mut().filter(|g| g.mount == mount) {
            g.procs.remove(&pid);
        }
        if let Some(g) = self.groups.get_mut(dir) {
            g.procs.insert(pid);
        }
    }

    fn children(&self, dir: &Path) -> Vec<PathBuf> {
        self.groups
            .keys()
            .filter(|p| p.parent() == Some(dir))
            .cloned()
            .collect()
    }

    fn subtree_of(&self, dir: &Path) -> Vec<PathBuf> {
        self.groups
            .keys()
            .filter(|p| p.starts_with(dir))
            .cloned()
            .collect()
    }

    fn create_group(&mut self, path: &Path) -> io::Result<()> {
        let parent = path.parent().ok_or_else(|| err(libc::ENOENT))?;
        let (mount, offered) = match self.groups.get(parent) {
            Some(p) => (p.mount, p.subtree.clone()),
            None => return Err(err(libc::ENOENT)),
        };
        let (version, mount_controllers) = match self.mounts.get(mount) {
            Some(m) => (m.version, m.controllers.clone()),
            None => return Err(err(libc::ENOENT)),
        };
        let controllers: BTreeSet<String> = match version {
            Version::V2 => offered,
            Version::V1 => mount_controllers.into_iter().collect(),
        };
        let mut files = BTreeMap::new();
        for c in &controllers {
            for (name, value) in controller_files(version, c, self.swap_accounting) {
                files.insert(name.to_owned(), value);
            }
        }
        self.groups.insert(
            path.to_path_buf(),
            Group {
                mount,
                root: false,
                files,
                procs: BTreeSet::new(),
                controllers,
                subtree: BTreeSet::new(),
                frozen: false,
            },
        );
        Ok(())
    }

    fn proc_cgroup(&self) -> String {
        let mut lines = Vec::new();
        let mut mounts: Vec<(usize, &Mount)> = self.mounts.iter().enumerate().collect();
        mounts.sort_by_key(|(_, m)| std::cmp::Reverse(m.id));
        for (index, m) in mounts {
            let dir = self
                .groups
                .iter()
                .find(|(_, g)| g.mount == index && g.procs.contains(&self.self_pid))
                .map_or_else(|| m.mount_point.clone(), |(p, _)| p.clone());
            let rel = dir.strip_prefix(&m.mount_point).unwrap_or(Path::new(""));
            let path = Path::new("/").join(rel);
            let controllers = match m.version {
                Version::V1 => m.controllers.join(","),
                Version::V2 => String::new(),
            };
            lines.push(format!("{}:{controllers}:{}\n", m.id, path.display()));
        }
        lines.concat()
    }

    fn mountinfo(&self) -> String {
        let mut text = String::from("22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/vda rw\n");
        for (i, m) in self.mounts.iter().enumerate() {
            let (fstype, options) = match m.version {
                Version::V1 => ("cgroup", format!("rw,{}", m.controllers.join(","))),
                Version::V2 => ("cgroup2", String::from("rw,nsdelegate")),
            };
            text.push_str(&format!(
                "{} 22 0:{} / {} rw,nosuid,nodev,noexec,relatime shared:{} - {fstype} {fstype} {options}\n",
                30 + i,
                40 + i,
                m.mount_point.display().to_string().replace(' ', "\\040"),
                10 + i,
            ));
        }
        text
    }

    fn read(&self, path: &Path) -> io::Result<String> {
        if self.proc_hidden && path.starts_with("/proc") {
            return Err(err(libc::ENOENT));
        }
        // Set files first: a test may replace the generated /proc files.
        if let Some(text) = self.files.get(path) {
            return Ok(text.clone());
        }
        if path == Path::new("/proc/self/cgroup") {
            return Ok(self.proc_cgroup());
        }
        if path == Path::new("/proc/self/mountinfo") {
            return Ok(self.mountinfo());
        }
        let parent = path.parent().ok_or_else(|| err(libc::ENOENT))?;
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .ok_or_else(|| err(libc::ENOENT))?;
        let g = self.groups.get(parent).ok_or_else(|| err(libc::ENOENT))?;
        let v2 = self.version(g) == Version::V2;
        let join = |set: &BTreeSet<String>| {
            let words: Vec<&str> = set.iter().map(String::as_str).collect();
            format!("{}\n", words.join(" "))
        };
        match name {
            "cgroup.procs" | "tasks" => Ok(g.procs.iter().map(|p| format!("{p}\n")).collect()),
            "cgroup.controllers" if v2 => Ok(join(&g.controllers)),
            "cgroup.subtree_control" if v2 => Ok(join(&g.subtree)),
            "cgroup.type" if v2 && !g.root => Ok(String::from("domain\n")),
            "cgroup.freeze" if v2 && !g.root => Ok(format!("{}\n", u8::from(g.frozen))),
            "cgroup.kill" if v2 && !g.root => Err(err(libc::EINVAL)),
            "cgroup.events" if v2 && !g.root => {
                let populated = self
                    .subtree_of(parent)
                    .iter()
                    .any(|d| self.groups.get(d).is_some_and(|g| !g.procs.is_empty()));
                Ok(format!(
                    "populated {}\nfrozen {}\n",
                    u8::from(populated),
                    u8::from(g.frozen)
                ))
            }
            "freezer.state" if !v2 && !g.root && g.controllers.contains("freezer") => {
                Ok(String::from(if g.frozen { "FROZEN\n" } else { "THAWED\n" }))
            }
            _ => g.files.get(name).cloned().ok_or_else(|| err(libc::ENOENT)),
        }
    }

    fn write(&mut self, path: &Path, data: &str) -> io::Result<()> {
        if self.denied(path) {
            return Err(err(libc::EACCES));
        }
        if let Some(&errno) = self.failures.get(path) {
            return Err(err(errno));
        }
        // Existence first: writing a file that is not there is ENOENT.
        self.read(path).or_else(|e| {
            if e.raw_os_error() == Some(libc::EINVAL) {
                Ok(String::new()) // write-only files (cgroup.kill)
            } else {
                Err(e)
            }
        })?;
        let parent = path
            .parent()
            .ok_or_else(|| err(libc::ENOENT))?
            .to_path_buf();
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .ok_or_else(|| err(libc::ENOENT))?
            .to_owned();
        let Some(g) = self.groups.get(&parent) else {
            return Err(err(libc::EACCES)); // not a cgroup file
        };
        if READ_ONLY.contains(&name.as_str()) {
            return Err(err(libc::EACCES));
        }
        let v2 = self.version(g) == Version::V2;
        let root = g.root;
        let value = data.trim();
        match name.as_str() {
            "cgroup.procs" => {
                let pid: i32 = value.parse().map_err(|_| err(libc::EINVAL))?;
                let pid = if pid == 0 { self.self_pid } else { pid };
                if !self.processes.contains(&pid) {
                    return Err(err(libc::ESRCH));
                }
                if v2 && !root && !g.subtree.is_empty() {
                    return Err(err(libc::EBUSY));
                }
                self.place(pid, &parent);
                Ok(())
            }
            "cgroup.subtree_control" => {
                let mut add = Vec::new();
                let mut remove = Vec::new();
                for token in value.split_whitespace() {
                    if let Some(c) = token.strip_prefix('+') {
                        if !g.controllers.contains(c) {
                            return Err(err(libc::ENOENT));
                        }
                        if !root && !g.procs.is_empty() {
                            return Err(err(libc::EBUSY));
                        }
                        add.push(c.to_owned());
                    } else if let Some(c) = token.strip_prefix('-') {
                        let used = self.children(&parent).iter().any(|child| {
                            self.groups
                                .get(child)
                                .is_some_and(|g| g.subtree.contains(c))
                        });
                        if used {
                            return Err(err(libc::EBUSY));
                        }
                        remove.push(c.to_owned());
                    } else {
                        return Err(err(libc::EINVAL));
                    }
                }
                let swap = self.swap_accounting;
                for child in self.children(&parent) {
                    if let Some(cg) = self.groups.get_mut(&child) {
                        for c in &add {
                            if cg.controllers.insert(c.clone()) {
                                for (n, v) in controller_files(Version::V2, c, swap) {
                                    cg.files.insert(n.to_owned(), v);
                                }
                            }
                        }
                        for c in &remove {
                            cg.controllers.remove(c);
                            let names: Vec<&str> = controller_files(Version::V2, c, true)
                                .into_iter()
                                .map(|(n, _)| n)
                                .collect();
                            cg.files.retain(|n, _| !names.contains(&n.as_str()));
                        }
                    }
                }
                if let Some(g) = self.groups.get_mut(&parent) {
                    g.subtree.extend(add);
                    for c in remove {
                        g.subtree.remove(&c);
                    }
                }
                Ok(())
            }
            "cgroup.kill" => {
                if value != "1" {
                    return Err(err(libc::EINVAL));
                }
                let victims: Vec<i32> = self
                    .subtree_of(&parent)
                    .iter()
                    .filter_map(|d| self.groups.get(d))
                    .flat_map(|g| g.procs.iter().copied())
                    .collect();
                for pid in victims {
                    self.kill(pid);
                }
                Ok(())
            }
            "cgroup.freeze" | "freezer.state" => {
                let frozen = match value {
                    "1" | "FROZEN" => true,
                    "0" | "THAWED" => false,
                    _ => return Err(err(libc::EINVAL)),
                };
                for d in self.subtree_of(&parent) {
                    if let Some(g) = self.groups.get_mut(&d) {
                        g.frozen = frozen;
                    }
                }
                Ok(())
            }
            "memory.limit_in_bytes" | "memory.memsw.limit_in_bytes" => {
                let new = parse_v1_bytes(value).ok_or_else(|| err(libc::EINVAL))?;
                let other_name = if name == "memory.limit_in_bytes" {
                    "memory.memsw.limit_in_bytes"
                } else {
                    "memory.limit_in_bytes"
                };
                if let Some(other) = g.files.get(other_name).and_then(|v| parse_v1_bytes(v)) {
                    let bad = if name == "memory.limit_in_bytes" {
                        new > other
                    } else {
                        new < other
                    };
                    if bad {
                        return Err(err(libc::EINVAL));
                    }
                }
                self.store(&parent, &name, value)
            }
            "memory.max" | "memory.swap.max" | "pids.max" => {
                if !max_or_number(value) {
                    return Err(err(libc::EINVAL));
                }
                self.store(&parent, &name, value)
            }
            "cpu.max" => {
                let mut parts = value.split_whitespace();
                let quota = parts.next().ok_or_else(|| err(libc::EINVAL))?;
                let period: u64 = match parts.next() {
                    Some(p) => p.parse().map_err(|_| err(libc::EINVAL))?,
                    None => 100_000,
                };
                let quota_ok = quota == "max" || quota.parse::<u64>().is_ok_and(|q| q >= 1000);
                if !quota_ok || !(1000..=1_000_000).contains(&period) {
                    return Err(err(libc::EINVAL));
                }
                self.store(&parent, &name, &format!("{quota} {period}"))
            }
            "cpu.cfs_quota_us" => {
                let q: i64 = value.parse().map_err(|_| err(libc::EINVAL))?;
                if q != -1 && q < 1000 {
                    return Err(err(libc::EINVAL));
                }
                self.store(&parent, &name, value)
            }
            "cpu.cfs_period_us" => {
                let p: u64 = value.parse().map_err(|_| err(libc::EINVAL))?;
                if !(1000..=1_000_000).contains(&p) {
                    return Err(err(libc::EINVAL));
                }
                self.store(&parent, &name, value)
            }
            _ => self.store(&parent, &name, value),
        }
    }

    fn store(&mut self, dir: &Path, name: &str, value: &str) -> io::Result<()> {
        let g = self.groups.get_mut(dir).ok_or_else(|| err(libc::ENOENT))?;
        g.files.insert(name.to_owned(), value.to_owned());
        Ok(())
    }

    fn kill(&mut self, pid: i32) {
        self.processes.remove(&pid);
        for g in self.groups.values_mut() {
            g.procs.remove(&pid);
        }
    }

    fn exists(&self, path: &Path) -> bool {
        self.groups.contains_key(path)
            || match self.read(path) {
                Ok(_) => true,
                Err(e) => e.raw_os_error() == Some(libc::EINVAL),
            }
    }
}

impl CgroupFs for FakeFs {
    fn read(&self, path: &Path) -> io::Result<String> {
        self.lock().read(path)
    }

    fn write(&self, path: &Path, data: &str) -> io::Result<()> {
        let mut s = self.lock();
        let result = s.write(path, data);
        s.ops.push(FakeOp::Write {
            path: path.to_path_buf(),
            data: data.to_owned(),
            errno: result.as_ref().err().and_then(io::Error::raw_os_error),
        });
        result
    }

    fn mkdir(&self, path: &Path) -> io::Result<()> {
        let mut s = self.lock();
        let result = if s.denied(path) {
            Err(err(libc::EACCES))
        } else if s.exists(path) {
            Err(err(libc::EEXIST))
        } else {
            s.create_group(path)
        };
        s.ops.push(FakeOp::Mkdir {
            path: path.to_path_buf(),
            errno: result.as_ref().err().and_then(io::Error::raw_os_error),
        });
        result
    }

    fn rmdir(&self, path: &Path) -> io::Result<()> {
        let mut s = self.lock();
        let result = match s.groups.get(path) {
            _ if s.denied(path) => Err(err(libc::EACCES)),
            None => Err(err(libc::ENOENT)),
            Some(g) if g.root => Err(err(libc::EBUSY)),
            Some(g) if !g.procs.is_empty() => Err(err(libc::EBUSY)),
            Some(_) if !s.children(path).is_empty() => Err(err(libc::EBUSY)),
            Some(_) => {
                s.groups.remove(path);
                Ok(())
            }
        };
        s.ops.push(FakeOp::Rmdir {
            path: path.to_path_buf(),
            errno: result.as_ref().err().and_then(io::Error::raw_os_error),
        });
        result
    }

    fn list(&self, path: &Path) -> io::Result<Vec<String>> {
        let s = self.lock();
        if !s.groups.contains_key(path) {
            return Err(err(libc::ENOENT));
        }
        Ok(s.children(path)
            .iter()
            .filter_map(|c| c.file_name().and_then(|n| n.to_str()).map(String::from))
            .collect())
    }

    fn exists(&self, path: &Path) -> bool {
        self.lock().exists(path)
    }

    fn kill(&self, pid: i32) -> io::Result<()> {
        let mut s = self.lock();
        s.ops.push(FakeOp::Kill { pid });
        if pid <= 0 {
            return Err(err(libc::EINVAL));
        }
        s.kill(pid);
        Ok(())
    }

    fn process_exists(&self, pid: i32) -> bool {
        self.lock().processes.contains(&pid)
    }

    fn euid(&self) -> u32 {
        self.lock().euid
    }

    fn sleep(&self, _duration: Duration) {
        self.lock().sleeps += 1;
    }
}
