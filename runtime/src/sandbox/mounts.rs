//! Executing a bundle's mount plan, in one pass, behind a small trait so the sequence
//! is unit-tested with a recording fake (see the tests) and run for real on the kernel.
//!
//! Order: every bind source (and the device nodes) is captured as a detached mount tree
//! first, while the host's root is still in view; then the plan's steps run under the
//! new root in the bundle's order; finally the root is sealed read-only.

use std::collections::HashMap;
use std::io;
use std::path::{Path, PathBuf};

use phantom_bundle::{MountStep, Mountpoint};

use super::vars::Vars;

/// What the executor asks of the kernel.
pub trait MountOps {
    type Tree;
    /// A detached copy of the host path, or `None` if it does not exist.
    fn capture(&mut self, source: &Path) -> io::Result<Option<Self::Tree>>;
    /// [`capture`](Self::capture), with nosuid and nodev (and read-only if asked)
    /// already set on the detached tree, so attaching it is the last step.
    fn capture_restricted(
        &mut self,
        source: &Path,
        read_only: bool,
    ) -> io::Result<Option<Self::Tree>>;
    /// [`capture_restricted`](Self::capture_restricted) of `rel` resolved beneath the
    /// directory `base`, which the path may not leave (`..`, absolute or `/proc`
    /// symbolic links): a source inside the workspace, whose contents the workload
    /// controls, cannot lead to the rest of the host.
    fn capture_beneath(
        &mut self,
        base: &Path,
        rel: &Path,
        read_only: bool,
    ) -> io::Result<Option<Self::Tree>>;
    fn is_dir(&mut self, tree: &Self::Tree) -> io::Result<bool>;
    fn exists(&mut self, path: &Path) -> bool;
    /// `None` if the path does not exist, else whether it is a directory.
    fn kind(&mut self, path: &Path) -> Option<bool>;
    fn mkdir(&mut self, path: &Path, mode: u32) -> io::Result<()>;
    fn touch(&mut self, path: &Path) -> io::Result<()>;
    fn attach(&mut self, tree: Self::Tree, target: &Path) -> io::Result<()>;
    fn tmpfs(
        &mut self,
        target: &Path,
        size: Option<u64>,
        mode: u32,
        read_only: bool,
    ) -> io::Result<()>;
    fn proc(&mut self, target: &Path) -> io::Result<()>;
    fn devpts(&mut self, target: &Path) -> io::Result<()>;
    fn symlink(&mut self, to: &str, path: &Path) -> io::Result<()>;
    /// A read-only bind of a path over itself; `NotFound` if there is no such path.
    fn read_only_in_place(&mut self, path: &Path) -> io::Result<()>;
    /// Makes the mount at `target` itself read-only, not the mounts on top of it.
    fn seal(&mut self, target: &Path) -> io::Result<()>;
    /// Mounts the new root's empty tmpfs (after the sources are captured: it may hide them).
    fn make_root(&mut self, root: &Path) -> io::Result<()>;
}

#[derive(Debug, thiserror::Error)]
pub enum MountError {
    #[error("mount step {index} ({what} `{target}`): {source}")]
    Step {
        index: usize,
        what: &'static str,
        target: String,
        source: io::Error,
    },
    #[error("mount step {index}: the source `{source_path}` does not exist; create it, or mark the entry `optional` in the policy")]
    MissingSource { index: usize, source_path: String },
    #[error("mount step {index}: `{target}` must already exist inside the bound host directory (the sandbox never creates files on the host); create it on the host or mount elsewhere")]
    MissingMountpoint { index: usize, target: String },
    #[error("mount step {index}: {message}")]
    Variable { index: usize, message: String },
    #[error("mount step {index}: {}", leaves_workspace_message(source_path))]
    SourceLeavesWorkspace { index: usize, source_path: String },
    #[error("mount step {index}: the sandbox's user may not reach `{source_path}` ({source}): every directory above it must let that user search it (`x`), and the source itself let it read. That user is the caller, or, when phantom runs as root, the workspace's owner or nobody (uid 65534)")]
    SourceDenied {
        index: usize,
        source_path: String,
        source: io::Error,
    },
}

/// The error of step `index`; the target is formatted only if there is one (the plan
/// runs before every start).
fn step_err<'a>(
    index: usize,
    what: &'static str,
    target: &'a Path,
) -> impl FnOnce(io::Error) -> MountError + 'a {
    move |source| MountError::Step {
        index,
        what,
        target: target.display().to_string(),
        source,
    }
}

/// Runs the plan: captures the sources, mounts a fresh tmpfs at `root`, builds the
/// sandbox's tree on it.
pub fn execute_with_root<O: MountOps>(
    plan: &[MountStep],
    vars: &Vars,
    root: &Path,
    ops: &mut O,
) -> Result<(), MountError> {
    execute(plan, vars, root, ops, None)
}

/// A bind whose source is only known when a parked sandbox is started (it uses
/// `${workspace}`, unbound when the sandbox was built): its mount point is made, and
/// the bind is attached later, at `target` (a path inside the sandbox).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Deferred {
    pub source: String,
    pub target: String,
    pub writable: bool,
    pub optional: bool,
}

/// [`execute_with_root`], except that where `vars` has no workspace, binds from
/// `${workspace}` get their mount points only and are listed in `deferred`.
pub fn execute_deferring<O: MountOps>(
    plan: &[MountStep],
    vars: &Vars,
    root: &Path,
    ops: &mut O,
    deferred: &mut Vec<Deferred>,
) -> Result<(), MountError> {
    execute(plan, vars, root, ops, Some(deferred))
}

fn execute<O: MountOps>(
    plan: &[MountStep],
    vars: &Vars,
    root: &Path,
    ops: &mut O,
    mut deferred: Option<&mut Vec<Deferred>>,
) -> Result<(), MountError> {
    let deferring = deferred.is_some() && vars.workspace.is_none();
    let defer = |step: &MountStep| {
        deferring
            && matches!(step, MountStep::Bind { source, .. } if source.contains("${workspace}"))
    };
    // Phase 1: capture every source while the host is in view.
    let mut trees: HashMap<usize, O::Tree> = HashMap::new();
    let mut nodes: HashMap<(usize, String), O::Tree> = HashMap::new();
    for (index, step) in plan.iter().enumerate() {
        match step {
            MountStep::Bind { .. } if defer(step) => {}
            MountStep::Bind {
                source,
                optional,
                writable,
                ..
            } => {
                let source = vars
                    .resolve(source)
                    .map_err(|message| MountError::Variable { index, message })?;
                let inside = inside_workspace(vars, &source);
                let captured = match inside {
                    Some((base, rel)) => {
                        ops.capture_beneath(Path::new(base), Path::new(rel), !writable)
                    }
                    None => ops.capture_restricted(Path::new(&source), !writable),
                };
                let captured = captured.map_err(|e| match e.raw_os_error() {
                    Some(libc::EACCES) => MountError::SourceDenied {
                        index,
                        source_path: source.clone(),
                        source: e,
                    },
                    _ if inside.is_some() && leaves_workspace(&e) => {
                        MountError::SourceLeavesWorkspace {
                            index,
                            source_path: source.clone(),
                        }
                    }
                    _ => step_err(index, "open source", Path::new(&source))(e),
                });
                match captured? {
                    Some(tree) => {
                        trees.insert(index, tree);
                    }
                    None if *optional => {}
                    None => {
                        return Err(MountError::MissingSource {
                            index,
                            source_path: source,
                        })
                    }
                }
            }
            MountStep::Dev { nodes: names, .. } => {
                for name in names {
                    let host = PathBuf::from("/dev").join(name);
                    if let Some(tree) =
                        ops.capture(&host)
                            .map_err(step_err(index, "open device", &host))?
                    {
                        nodes.insert((index, name.clone()), tree);
                    }
                }
            }
            _ => {}
        }
    }

    ops.make_root(root).map_err(|source| MountError::Step {
        index: 0,
        what: "new root",
        target: root.display().to_string(),
        source,
    })?;

    // Phase 2: the steps, in order.
    for (index, step) in plan.iter().enumerate() {
        let target_text = vars
            .resolve(step.target())
            .map_err(|message| MountError::Variable { index, message })?;
        let target = under(root, &target_text);
        let mountpoint = |ops: &mut O, mp: Mountpoint, dir: bool| -> Result<(), MountError> {
            // `mkdir` and `touch` accept what exists already: one call, not two.
            match mp {
                Mountpoint::MustExist if ops.exists(&target) => Ok(()),
                Mountpoint::MustExist => Err(MountError::MissingMountpoint {
                    index,
                    target: target_text.clone(),
                }),
                Mountpoint::Created if dir => ops.mkdir(&target, 0o755).map_err(step_err(
                    index,
                    "create mount point",
                    &target,
                )),
                Mountpoint::Created => {
                    ops.touch(&target)
                        .map_err(step_err(index, "create mount point", &target))
                }
            }
        };
        match step {
            // What exists already is accepted by `mkdir` itself: one call, not two.
            MountStep::Mkdir { mode, .. } => ops
                .mkdir(&target, *mode)
                .map_err(step_err(index, "mkdir", &target))?,
            MountStep::Bind {
                source,
                writable,
                optional,
                mountpoint: mp,
                ..
            } if defer(step) => {
                // A directory: workspaces are directories.
                mountpoint(ops, *mp, true)?;
                deferred.iter_mut().for_each(|d| {
                    d.push(Deferred {
                        source: source.clone(),
                        target: target_text.clone(),
                        writable: *writable,
                        optional: *optional,
                    })
                });
            }
            MountStep::Bind { mountpoint: mp, .. } => {
                let Some(tree) = trees.remove(&index) else {
                    continue;
                }; // optional and absent
                let dir = ops
                    .is_dir(&tree)
                    .map_err(step_err(index, "inspect source", &target))?;
                mountpoint(ops, *mp, dir)?;
                ops.attach(tree, &target)
                    .map_err(step_err(index, "bind", &target))?;
            }
            MountStep::Tmpfs {
                size,
                mode,
                mountpoint: mp,
                ..
            } => {
                mountpoint(ops, *mp, true)?;
                ops.tmpfs(&target, *size, *mode, false)
                    .map_err(step_err(index, "tmpfs", &target))?;
            }
            MountStep::Proc { mountpoint: mp, .. } => {
                mountpoint(ops, *mp, true)?;
                ops.proc(&target)
                    .map_err(step_err(index, "proc", &target))?;
            }
            MountStep::Dev {
                nodes: names,
                mountpoint: mp,
                ..
            } => {
                mountpoint(ops, *mp, true)?;
                ops.tmpfs(&target, Some(64 << 10), 0o755, false)
                    .map_err(step_err(index, "dev tmpfs", &target))?;
                for name in names {
                    let Some(tree) = nodes.remove(&(index, name.clone())) else {
                        continue;
                    };
                    let node = target.join(name);
                    ops.touch(&node)
                        .map_err(step_err(index, "create device node", &node))?;
                    ops.attach(tree, &node)
                        .map_err(step_err(index, "bind device node", &node))?;
                }
                let pts = target.join("pts");
                ops.mkdir(&pts, 0o755)
                    .map_err(step_err(index, "mkdir", &pts))?;
                ops.devpts(&pts).map_err(step_err(index, "devpts", &pts))?;
                let shm = target.join("shm");
                ops.mkdir(&shm, 0o1777)
                    .map_err(step_err(index, "mkdir", &shm))?;
                ops.tmpfs(&shm, None, 0o1777, false)
                    .map_err(step_err(index, "shm", &shm))?;
                for (link, to) in [
                    ("ptmx", "pts/ptmx"),
                    ("fd", "/proc/self/fd"),
                    ("stdin", "/proc/self/fd/0"),
                    ("stdout", "/proc/self/fd/1"),
                    ("stderr", "/proc/self/fd/2"),
                ] {
                    let path = target.join(link);
                    ops.symlink(to, &path)
                        .map_err(step_err(index, "symlink", &path))?;
                }
                // Only the devices, pts and shm are writable; /dev itself is not.
                ops.seal(&target)
                    .map_err(step_err(index, "seal /dev read-only", &target))?;
            }
            MountStep::Symlink { to, .. } => ops
                .symlink(to, &target)
                .map_err(step_err(index, "symlink", &target))?,
            MountStep::Mask { .. } => {
                let Some(is_dir) = ops.kind(&target) else {
                    continue;
                };
                if is_dir {
                    ops.tmpfs(&target, Some(0), 0o000, true)
                        .map_err(step_err(index, "mask", &target))?;
                } else if let Some(null) = ops
                    .capture_restricted(Path::new("/dev/null"), true)
                    .ok()
                    .flatten()
                {
                    // Read-only, nosuid and nodev before it is attached (one step less
                    // per mask): opening the mask fails.
                    ops.attach(null, &target)
                        .map_err(step_err(index, "mask", &target))?;
                } else {
                    ops.tmpfs(&target, Some(0), 0o000, true)
                        .map_err(step_err(index, "mask", &target))?;
                }
            }
            // A path that is not there has nothing to protect.
            MountStep::ReadOnly { .. } => match ops.read_only_in_place(&target) {
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                done => done.map_err(step_err(index, "read-only", &target))?,
            },
        }
    }
    Ok(())
}

/// For a bind source strictly inside the workspace: the workspace and the rest of the
/// path, which is resolved beneath it (`MountOps::capture_beneath`), since the workload
/// may have left a symbolic link where the policy names a directory.
pub fn inside_workspace<'a>(vars: &'a Vars, source: &'a str) -> Option<(&'a str, &'a str)> {
    let workspace = vars.workspace.as_deref()?.trim_end_matches('/');
    let rel = source.strip_prefix(workspace)?.strip_prefix('/')?;
    (!rel.is_empty()).then_some((workspace, rel))
}

/// A captured tree, or `None` for a source that does not exist.
fn found(tree: io::Result<std::os::fd::OwnedFd>) -> io::Result<Option<std::os::fd::OwnedFd>> {
    match tree {
        Ok(fd) => Ok(Some(fd)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// Whether `e`, from a source resolved beneath the workspace, says the path leads out
/// of it (`RESOLVE_BENEATH`'s `EXDEV`, a magic link's `ELOOP`).
pub fn leaves_workspace(e: &io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::EXDEV | libc::ELOOP))
}

/// Why a source inside the workspace that leads out of it is refused, and the fix.
pub fn leaves_workspace_message(source_path: &str) -> String {
    format!(
        "the source `{source_path}` is inside the workspace but leads out of it (through          `..` or a symbolic link the workspace holds, which a workload may have left          there): remove the link, or name the source outside the workspace"
    )
}

/// `root` + an absolute path inside the sandbox.
pub fn under(root: &Path, target: &str) -> PathBuf {
    root.join(target.trim_start_matches('/'))
}

/// The kernel. `become_user`: the (uid, gid) this process takes once every source is
/// captured, before it makes the root (whose files must belong to mapped ids).
#[derive(Debug, Default)]
pub struct RealOps {
    pub become_user: Option<(u32, u32)>,
}

impl MountOps for RealOps {
    type Tree = std::os::fd::OwnedFd;

    fn make_root(&mut self, root: &Path) -> io::Result<()> {
        if let Some((uid, gid)) = self.become_user.take() {
            super::sys::become_user(uid, gid)?;
            // A change of ids clears the parent-death signal: armed again. (Should
            // phantom die in between, init still stops at the go-ahead it waits for.)
            super::sys::set_parent_death_signal(libc::SIGKILL)?;
        }
        super::sys::mount_fs(
            c"tmpfs",
            root,
            libc::MS_NOSUID | libc::MS_NODEV,
            Some("mode=755,size=1m"),
        )
    }

    fn capture(&mut self, source: &Path) -> io::Result<Option<Self::Tree>> {
        match super::sys::open_tree_clone(source, true) {
            Ok(fd) => Ok(Some(fd)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn capture_restricted(
        &mut self,
        source: &Path,
        read_only: bool,
    ) -> io::Result<Option<Self::Tree>> {
        let set = super::sys::bind_attrs(read_only);
        found(super::sys::open_tree_with_attrs(source, set))
    }

    fn capture_beneath(
        &mut self,
        base: &Path,
        rel: &Path,
        read_only: bool,
    ) -> io::Result<Option<Self::Tree>> {
        let set = super::sys::bind_attrs(read_only);
        found(super::sys::open_tree_beneath(base, rel, set))
    }

    fn is_dir(&mut self, tree: &Self::Tree) -> io::Result<bool> {
        super::sys::fd_is_dir(tree)
    }

    fn exists(&mut self, path: &Path) -> bool {
        path.symlink_metadata().is_ok()
    }

    fn kind(&mut self, path: &Path) -> Option<bool> {
        path.symlink_metadata().ok().map(|m| m.is_dir())
    }

    /// The mode is exact: the plan runs under umask 0 (`exec::build_private_root`),
    /// so no `chmod` follows.
    fn mkdir(&mut self, path: &Path, mode: u32) -> io::Result<()> {
        use std::os::unix::fs::DirBuilderExt;
        match std::fs::DirBuilder::new().mode(mode).create(path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// `mknod` of a regular file: one system call, no descriptor to open and close.
    fn touch(&mut self, path: &Path) -> io::Result<()> {
        match super::sys::make_file(path, 0o644) {
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(()),
            done => done,
        }
    }

    fn attach(&mut self, tree: Self::Tree, target: &Path) -> io::Result<()> {
        super::sys::move_mount(&tree, target)
    }

    fn tmpfs(
        &mut self,
        target: &Path,
        size: Option<u64>,
        mode: u32,
        read_only: bool,
    ) -> io::Result<()> {
        let mut data = format!("mode={mode:o}");
        if let Some(size) = size {
            data.push_str(&format!(",size={size}"));
        }
        let mut flags = libc::MS_NOSUID | libc::MS_NODEV;
        if read_only {
            flags |= libc::MS_RDONLY;
        }
        super::sys::mount_fs(c"tmpfs", target, flags, Some(&data))
    }

    fn proc(&mut self, target: &Path) -> io::Result<()> {
        super::sys::mount_fs(
            c"proc",
            target,
            libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC,
            None,
        )
    }

    fn devpts(&mut self, target: &Path) -> io::Result<()> {
        super::sys::mount_fs(
            c"devpts",
            target,
            libc::MS_NOSUID | libc::MS_NOEXEC,
            Some("newinstance,ptmxmode=0666,mode=0620"),
        )
    }

    fn symlink(&mut self, to: &str, path: &Path) -> io::Result<()> {
        std::os::unix::fs::symlink(to, path)
    }

    fn read_only_in_place(&mut self, path: &Path) -> io::Result<()> {
        use super::sys::*;
        let tree = open_tree_with_attrs(
            path,
            MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV,
        )?;
        move_mount(&tree, path)
    }

    fn seal(&mut self, target: &Path) -> io::Result<()> {
        use super::sys::*;
        mount_setattr(
            target,
            MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV,
            false,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    /// Records the calls; pretends every host path in `host` exists.
    #[derive(Default)]
    struct Fake {
        host: BTreeSet<String>,
        made: BTreeSet<PathBuf>,
        calls: Vec<String>,
    }

    impl MountOps for Fake {
        type Tree = (String, bool);
        fn make_root(&mut self, root: &Path) -> io::Result<()> {
            self.calls.push(format!("root {}", root.display()));
            Ok(())
        }
        fn capture(&mut self, source: &Path) -> io::Result<Option<Self::Tree>> {
            let s = source.display().to_string();
            self.calls.push(format!("capture {s}"));
            Ok(self
                .host
                .contains(&s)
                .then(|| (s.clone(), !s.contains('.'))))
        }
        fn capture_restricted(
            &mut self,
            source: &Path,
            ro: bool,
        ) -> io::Result<Option<Self::Tree>> {
            let s = source.display().to_string();
            self.calls.push(format!("capture {s} ro={ro}"));
            Ok(self
                .host
                .contains(&s)
                .then(|| (s.clone(), !s.contains('.'))))
        }
        fn capture_beneath(
            &mut self,
            base: &Path,
            rel: &Path,
            ro: bool,
        ) -> io::Result<Option<Self::Tree>> {
            let s = base.join(rel).display().to_string();
            self.calls
                .push(format!("capture {s} beneath {} ro={ro}", base.display()));
            Ok(self
                .host
                .contains(&s)
                .then(|| (s.clone(), !s.contains('.'))))
        }
        fn is_dir(&mut self, tree: &Self::Tree) -> io::Result<bool> {
            Ok(tree.1)
        }
        fn exists(&mut self, path: &Path) -> bool {
            self.made.contains(path)
        }
        fn kind(&mut self, path: &Path) -> Option<bool> {
            self.made.contains(path).then_some(true)
        }
        fn mkdir(&mut self, path: &Path, mode: u32) -> io::Result<()> {
            self.calls
                .push(format!("mkdir {} {mode:o}", path.display()));
            self.made.insert(path.to_path_buf());
            Ok(())
        }
        fn touch(&mut self, path: &Path) -> io::Result<()> {
            self.calls.push(format!("touch {}", path.display()));
            self.made.insert(path.to_path_buf());
            Ok(())
        }
        fn attach(&mut self, tree: Self::Tree, target: &Path) -> io::Result<()> {
            self.calls
                .push(format!("attach {} {}", tree.0, target.display()));
            Ok(())
        }
        fn tmpfs(
            &mut self,
            target: &Path,
            size: Option<u64>,
            mode: u32,
            ro: bool,
        ) -> io::Result<()> {
            self.calls.push(format!(
                "tmpfs {} {size:?} {mode:o} ro={ro}",
                target.display()
            ));
            self.made.insert(target.to_path_buf());
            Ok(())
        }
        fn proc(&mut self, target: &Path) -> io::Result<()> {
            self.calls.push(format!("proc {}", target.display()));
            Ok(())
        }
        fn devpts(&mut self, target: &Path) -> io::Result<()> {
            self.calls.push(format!("devpts {}", target.display()));
            Ok(())
        }
        fn symlink(&mut self, to: &str, path: &Path) -> io::Result<()> {
            self.calls
                .push(format!("symlink {} -> {to}", path.display()));
            Ok(())
        }
        fn seal(&mut self, target: &Path) -> io::Result<()> {
            self.calls.push(format!("seal {}", target.display()));
            Ok(())
        }
        fn read_only_in_place(&mut self, path: &Path) -> io::Result<()> {
            if !self.made.contains(path) {
                return Err(io::ErrorKind::NotFound.into());
            }
            self.calls.push(format!("readonly {}", path.display()));
            Ok(())
        }
    }

    fn vars() -> Vars {
        Vars {
            workspace: Some("/home/u/work".into()),
            cwd: "/home/u".into(),
            home: Some("/home/u".into()),
        }
    }

    #[test]
    fn sources_are_captured_before_anything_is_mounted_and_steps_run_in_order() {
        let plan = vec![
            MountStep::Tmpfs {
                target: "/tmp".into(),
                size: Some(1024),
                mode: 0o1777,
                mountpoint: Mountpoint::Created,
            },
            MountStep::Bind {
                source: "/usr".into(),
                target: "/usr".into(),
                writable: false,
                optional: false,
                mountpoint: Mountpoint::Created,
            },
            MountStep::Bind {
                source: "${workspace}".into(),
                target: "/workspace".into(),
                writable: true,
                optional: false,
                mountpoint: Mountpoint::Created,
            },
            MountStep::Bind {
                source: "/opt/none".into(),
                target: "/opt".into(),
                writable: false,
                optional: true,
                mountpoint: Mountpoint::Created,
            },
            MountStep::Mkdir {
                target: "/etc".into(),
                mode: 0o755,
            },
            MountStep::Bind {
                source: "/etc/hosts.x".into(),
                target: "/etc/hosts".into(),
                writable: false,
                optional: false,
                mountpoint: Mountpoint::Created,
            },
        ];
        let mut fake = Fake {
            host: ["/usr", "/home/u/work", "/etc/hosts.x"]
                .iter()
                .map(|s| s.to_string())
                .collect(),
            ..Fake::default()
        };
        execute_with_root(&plan, &vars(), Path::new("/r"), &mut fake).expect("runs");
        assert_eq!(
            fake.calls,
            [
                "capture /usr ro=true",
                "capture /home/u/work ro=false",
                "capture /opt/none ro=true",
                "capture /etc/hosts.x ro=true",
                "root /r",
                "mkdir /r/tmp 755",
                "tmpfs /r/tmp Some(1024) 1777 ro=false",
                "mkdir /r/usr 755",
                "attach /usr /r/usr",
                "mkdir /r/workspace 755",
                "attach /home/u/work /r/workspace",
                "mkdir /r/etc 755",
                "touch /r/etc/hosts",
                "attach /etc/hosts.x /r/etc/hosts",
            ]
        );
    }

    #[test]
    fn sources_inside_the_workspace_are_resolved_beneath_it() {
        let bind = |source: &str, target: &str| MountStep::Bind {
            source: source.into(),
            target: target.into(),
            writable: false,
            optional: true,
            mountpoint: Mountpoint::Created,
        };
        let plan = vec![
            bind("${workspace}", "/workspace"),
            bind("${workspace}/data", "/data"),
            bind("${workspace}/../up", "/up"),
            bind("/home/u/projectx/other", "/other"),
            bind("/usr", "/usr"),
        ];
        let mut vars = vars();
        vars.workspace = Some("/home/u/project/".into());
        let mut ops = Fake::default();
        execute_with_root(&plan, &vars, Path::new("/r"), &mut ops).expect("runs");
        let captures: Vec<&String> = ops
            .calls
            .iter()
            .filter(|c| c.starts_with("capture"))
            .collect();
        assert_eq!(
            captures,
            [
                "capture /home/u/project ro=true",
                "capture /home/u/project/data beneath /home/u/project ro=true",
                "capture /home/u/project/../up beneath /home/u/project ro=true",
                "capture /home/u/projectx/other ro=true",
                "capture /usr ro=true",
            ]
        );
    }

    #[test]
    fn missing_required_source_and_missing_mountpoint_are_clear_errors() {
        let plan = vec![MountStep::Bind {
            source: "/nope".into(),
            target: "/x".into(),
            writable: false,
            optional: false,
            mountpoint: Mountpoint::Created,
        }];
        let err = execute_with_root(&plan, &vars(), Path::new("/r"), &mut Fake::default())
            .expect_err("missing");
        assert!(err.to_string().contains("`/nope` does not exist"), "{err}");
        let plan = vec![MountStep::Bind {
            source: "/usr".into(),
            target: "/usr/x".into(),
            writable: false,
            optional: false,
            mountpoint: Mountpoint::MustExist,
        }];
        let mut fake = Fake {
            host: ["/usr".to_string()].into_iter().collect(),
            ..Fake::default()
        };
        let err =
            execute_with_root(&plan, &vars(), Path::new("/r"), &mut fake).expect_err("mount point");
        assert!(err.to_string().contains("must already exist"), "{err}");
    }

    #[test]
    fn an_unbound_variable_names_the_fix() {
        let plan = vec![MountStep::Bind {
            source: "${workspace}".into(),
            target: "/w".into(),
            writable: true,
            optional: false,
            mountpoint: Mountpoint::Created,
        }];
        let vars = Vars {
            workspace: None,
            cwd: "/".into(),
            home: None,
        };
        let err = execute_with_root(&plan, &vars, Path::new("/r"), &mut Fake::default())
            .expect_err("unbound");
        assert!(err.to_string().contains("--workspace"), "{err}");
    }
}
