//! [`CgroupError`]: one variant per step, each naming what failed (the path, the
//! limit) and how to fix it.

use std::io;
use std::path::PathBuf;

/// Why a cgroup step failed.
///
/// The variants of the creation steps (from [`CgroupError::ControllerUnavailable`] to
/// [`CgroupError::Unsupported`]) mean a limit cannot be enforced; with
/// `CgroupOptions::allow_degraded` they become entries of
/// `CgroupSession::not_enforced` instead (see [`CgroupError::reason`]).
#[derive(Debug, thiserror::Error)]
pub enum CgroupError {
    /// `/proc/self/cgroup` or `/proc/self/mountinfo` could not be read.
    #[error(
        "could not read {} to find this process's cgroups: {source}; the runtime needs \
         /proc mounted (is it running in a chroot or a container without /proc?)",
        path.display()
    )]
    Detect { path: PathBuf, source: io::Error },

    /// No hierarchy provides the controller beneath our cgroup.
    #[error("cannot enforce {limits}: {reason}; {fix}")]
    ControllerUnavailable {
        limits: String,
        controller: &'static str,
        reason: String,
        fix: String,
    },

    /// cgroup v2: controllers would have to be enabled for the children of a cgroup that
    /// holds processes, which v2 forbids (the no-internal-processes rule).
    #[error(
        "cannot enforce {limits}: cgroup v2 cannot enable {controllers} for the children \
         of {} because that cgroup holds processes ({pids}) and controllers may only be \
         enabled for the children of a cgroup without processes (the no-internal-processes \
         rule); phantom does not move other processes; {fix}",
        dir.display()
    )]
    InternalProcesses {
        limits: String,
        controllers: String,
        dir: PathBuf,
        pids: String,
        fix: String,
    },

    /// cgroup v2: moving phantom's own process into a leaf of its cgroup failed
    /// (`CgroupOptions::move_self_to_leaf`).
    #[error(
        "cannot enforce {limits}: could not move phantom's own process into the leaf \
         cgroup {}: {source}; {fix}",
        path.display()
    )]
    MoveSelf {
        limits: String,
        path: PathBuf,
        source: io::Error,
        fix: String,
    },

    /// cgroup v2: writing `+controller` to our cgroup's `cgroup.subtree_control` failed.
    #[error(
        "cannot enforce {limits}: could not enable the {controller} controller in {}: \
         {source}; {fix}",
        path.display()
    )]
    EnableController {
        limits: String,
        controller: &'static str,
        path: PathBuf,
        source: io::Error,
        fix: String,
    },

    /// The session's directory could not be created in a hierarchy.
    #[error(
        "cannot enforce {limits}: could not create the cgroup directory {}: {source}; {fix}",
        path.display()
    )]
    CreateDir {
        limits: String,
        path: PathBuf,
        source: io::Error,
        fix: String,
    },

    /// A limit file exists but the value could not be written.
    #[error(
        "cannot enforce {limit}: could not write {value:?} to {}: {source}; {fix}",
        path.display()
    )]
    WriteLimit {
        limit: String,
        path: PathBuf,
        value: String,
        source: io::Error,
        fix: String,
    },

    /// The file for a limit does not exist (the kernel lacks the feature).
    #[error("cannot enforce {limit}: {} does not exist; {fix}", path.display())]
    LimitFileMissing {
        limit: String,
        path: PathBuf,
        fix: String,
    },

    /// The limit cannot be expressed with this cgroup version.
    #[error("cannot enforce {limit}: {reason}")]
    Unsupported { limit: String, reason: String },

    /// A process could not be moved into the session's cgroup.
    #[error(
        "could not add process {pid} to the cgroup {}: {source}; {fix}",
        path.display()
    )]
    AddProcess {
        pid: i32,
        path: PathBuf,
        source: io::Error,
        fix: String,
    },

    /// An events or statistics file could not be read.
    #[error("could not read the cgroup events file {}: {source}", path.display())]
    ReadEvents { path: PathBuf, source: io::Error },

    /// The processes of a cgroup could not be listed, frozen or signalled.
    #[error(
        "could not kill the processes of the cgroup {}: {source}; the runtime can only \
         kill processes it may signal (same user, or root)",
        path.display()
    )]
    Kill { path: PathBuf, source: io::Error },

    /// A cgroup directory could not be removed.
    #[error("could not remove the cgroup directory {}: {source}; {fix}", path.display())]
    Remove {
        path: PathBuf,
        source: io::Error,
        fix: String,
    },
}

impl CgroupError {
    /// What went wrong and how to fix it, without the names of the limits: the text of
    /// a `not_enforced` entry, after the limit.
    pub fn reason(&self) -> String {
        match self {
            CgroupError::ControllerUnavailable { reason, fix, .. } => format!("{reason}; {fix}"),
            CgroupError::InternalProcesses {
                controllers,
                dir,
                pids,
                fix,
                ..
            } => format!(
                "cgroup v2 cannot enable {controllers} below {}, which holds processes \
                 ({pids}); {fix}",
                dir.display()
            ),
            CgroupError::MoveSelf {
                path, source, fix, ..
            } => format!(
                "could not move phantom's own process into {}: {source}; {fix}",
                path.display()
            ),
            CgroupError::EnableController {
                controller,
                path,
                source,
                fix,
                ..
            } => format!(
                "could not enable {controller} in {}: {source}; {fix}",
                path.display()
            ),
            CgroupError::CreateDir {
                path, source, fix, ..
            } => format!("could not create {}: {source}; {fix}", path.display()),
            CgroupError::WriteLimit {
                path,
                value,
                source,
                fix,
                ..
            } => format!(
                "could not write {value:?} to {}: {source}; {fix}",
                path.display()
            ),
            CgroupError::LimitFileMissing { path, fix, .. } => {
                format!("{} does not exist; {fix}", path.display())
            }
            CgroupError::Unsupported { reason, .. } => reason.clone(),
            other => other.to_string(),
        }
    }

    /// The kernel's error number behind this error, if there is one.
    pub fn errno(&self) -> Option<i32> {
        match self {
            CgroupError::Detect { source, .. }
            | CgroupError::MoveSelf { source, .. }
            | CgroupError::EnableController { source, .. }
            | CgroupError::CreateDir { source, .. }
            | CgroupError::WriteLimit { source, .. }
            | CgroupError::AddProcess { source, .. }
            | CgroupError::ReadEvents { source, .. }
            | CgroupError::Kill { source, .. }
            | CgroupError::Remove { source, .. } => source.raw_os_error(),
            _ => None,
        }
    }
}
