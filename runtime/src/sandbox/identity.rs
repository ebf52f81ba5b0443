//! Who a sandbox's user is on the host.
//!
//! Rootless, the sandbox's user is the caller: its user namespace can map nobody else.
//! As root it could be anyone, and it must not be root. A process whose uid is 0 on the
//! host owns every root-owned file it can reach, with no capability at all: it could
//! leave a setuid-root program in the workspace for any host user to run, change the
//! modes of the host's device nodes bound into its `/dev`, change global `/proc`
//! entries, and read root-only kernel files. So as root the sandbox's user is the owner
//! of the workspace, whose files the workload works on (as if that user had run
//! phantom), unless root owns it; otherwise, and without a workspace (a parked
//! sandbox's is not known yet), nobody: 65534. A group of 0 becomes 65534 too: group
//! root is a privilege of its own (a setgid-root program, files readable by group 0).

use std::collections::VecDeque;
use std::ffi::OsString;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// The id of nobody (and of nogroup), which owns nothing.
pub const NOBODY: u32 = 65534;

/// The host's uid and gid of a sandbox's user.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HostIdentity {
    pub uid: u32,
    pub gid: u32,
}

impl HostIdentity {
    /// For a sandbox started by `caller` (uid, gid) whose workspace is owned by
    /// `workspace_owner` (uid, gid), if it has one (see the module's documentation).
    pub fn choose(caller: (u32, u32), workspace_owner: Option<(u32, u32)>) -> HostIdentity {
        let (uid, gid) = caller;
        if uid != 0 {
            return HostIdentity { uid, gid };
        }
        match workspace_owner {
            Some((uid, gid)) if uid != 0 => HostIdentity {
                uid,
                gid: if gid == 0 { NOBODY } else { gid },
            },
            _ => HostIdentity {
                uid: NOBODY,
                gid: NOBODY,
            },
        }
    }

    /// For a sandbox started by this process without a workspace.
    pub fn for_run_without_workspace() -> HostIdentity {
        HostIdentity::choose((super::sys::uid(), super::sys::gid()), None)
    }

    /// For a sandbox started by this process with the workspace `given` (as the caller
    /// gave it; one whose owner cannot be read counts as root's), and where that path
    /// leads, with no link in it (the one resolution of the path). As root, a path that
    /// reaches the workspace through a symbolic link of a third user's is refused: that
    /// user, not the caller, would have chosen whose identity the workload gets (a link
    /// in alice's directory to polkitd's would make it polkitd).
    pub fn for_workspace(given: &Path) -> std::io::Result<(PathBuf, HostIdentity)> {
        let caller = (super::sys::uid(), super::sys::gid());
        if caller.0 != 0 {
            return Ok((
                super::sys::canonicalize(given)?,
                HostIdentity::choose(caller, None),
            ));
        }
        let (directory, links) = walk(&std::path::absolute(given)?)?;
        let owner = std::fs::metadata(&directory)
            .ok()
            .map(|m| (m.uid(), m.gid()));
        let chosen = HostIdentity::choose(caller, owner);
        if let Some(other) = links.iter().find(|&&u| u != 0 && u != chosen.uid) {
            return Err(std::io::Error::other(format!(
                "it reaches `{}`, owned by uid {}, through a symbolic link of uid {other}: \
                 running as root, phantom runs the workload as the workspace's owner, and \
                 another user's link would choose who that is. Give the directory itself \
                 (`--workspace {}`) if that is the one meant",
                directory.display(),
                chosen.uid,
                directory.display()
            )));
        }
        Ok((directory, chosen))
    }
}

/// The directory `path` (absolute) leads to, and the owners of the symbolic links on
/// the way, each followed as the kernel follows it (a relative target from the link's
/// directory, an absolute one from the root); `ELOOP` after 40 of them.
fn walk(path: &Path) -> std::io::Result<(PathBuf, Vec<u32>)> {
    use std::path::Component;
    let mut pending: VecDeque<OsString> = VecDeque::new();
    let push_front = |pending: &mut VecDeque<OsString>, path: &Path| {
        for part in path.components().rev() {
            match part {
                Component::Normal(name) => pending.push_front(name.to_owned()),
                Component::ParentDir => pending.push_front("..".into()),
                Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
            }
        }
    };
    push_front(&mut pending, path);
    let mut current = PathBuf::from("/");
    let mut links = Vec::new();
    while let Some(name) = pending.pop_front() {
        if name == ".." {
            // `current` holds no link, so its parent is the real one.
            current.pop();
            continue;
        }
        let next = current.join(&name);
        let meta = std::fs::symlink_metadata(&next)?;
        if !meta.file_type().is_symlink() {
            current = next;
            continue;
        }
        links.push(meta.uid());
        if links.len() > 40 {
            return Err(std::io::Error::from_raw_os_error(libc::ELOOP));
        }
        let target = std::fs::read_link(&next)?;
        if target.is_absolute() {
            current = PathBuf::from("/");
        }
        push_front(&mut pending, &target);
    }
    Ok((current, links))
}

/// Before a sandbox's init is cloned: as root, phantom gives up its supplementary
/// groups, which the clone would inherit and could not drop in a user namespace that
/// denies `setgroups` (as the sandbox's does): group root would follow the workload.
/// Elsewhere the groups are the caller's own, as for any of its processes.
/// (A root whose user namespace denies `setgroups`, root only in name, keeps its
/// groups, as any of its processes would, unless group root is among them.)
pub(super) fn before_clone() -> std::io::Result<()> {
    if super::sys::uid() != 0 {
        return Ok(());
    }
    match super::sys::clear_supplementary_groups() {
        Err(e) if e.raw_os_error() == Some(libc::EPERM) => {
            if super::sys::supplementary_groups()?.contains(&0) {
                return Err(e);
            }
            Ok(())
        }
        other => other,
    }
}

/// Clones a sandbox's init into new namespaces (`flags`, [`super::sys::clone_into`]).
///
/// As root, its user namespace is made with the sandbox's host user as phantom's
/// effective uid, which makes that user the namespace's owner. What the kernel counts
/// per user for everything inside (inotify instances and watches, nested user
/// namespaces) is then charged to that user, as if they had run phantom, and not to
/// root, whose budget one sandbox could otherwise use up for all of root's processes
/// (a review took all 128 of root's inotify instances from a sandbox; systemd needs
/// them). Only the effective uid changes, and only for the clone: the filesystem uid
/// stays 0 (init captures the bind sources with root's file access, as before), and
/// phantom takes effective uid 0 back at once; init takes the mapped ids when it
/// builds the root. A namespace's owner has every capability in it: the sandbox's
/// user could enter it with those of init, which reach nothing of the host's that
/// the workload, running as that user, does not reach already. Where that user is
/// nobody (a root-owned workspace, a parked sandbox), root stays the owner: nobody is
/// every host process running as nobody, which could then enter the sandbox and change
/// its mounts (a parked sandbox's, before another client's run); those sandboxes'
/// workloads still count against root's budget.
pub(super) fn clone_sandbox(
    host: HostIdentity,
    flags: u64,
    cgroup: Option<std::os::fd::BorrowedFd<'_>>,
) -> std::io::Result<Option<super::sys::Child>> {
    use super::sys;
    // Where the sandbox's user is no id of phantom's own user namespace (EINVAL: phantom
    // is root of a namespace that maps root alone), root stays the owner: the clone
    // then says whether user namespaces may be made, and the id maps, which need that
    // id too, say what to do.
    // Nobody is left to root (see above).
    let owner = (sys::uid() == 0 && flags & libc::CLONE_NEWUSER as u64 != 0)
        .then_some(host.uid)
        .filter(|uid| *uid != NOBODY)
        .filter(|uid| sys::set_effective_uid_keeping_root_files(*uid).is_ok());
    let cloned = sys::clone_into(flags, cgroup);
    if owner.is_none() || matches!(cloned, Ok(None)) {
        return cloned; // rootless, or init, which takes its ids later
    }
    if let Err(e) = sys::take_back_effective_root() {
        if let Ok(Some(child)) = &cloned {
            let _ = sys::pidfd_kill(&child.pidfd, libc::SIGKILL);
            let _ = sys::waitpid(child.pid, 0);
        }
        return Err(std::io::Error::other(format!(
            "taking back phantom's effective uid 0 after the clone: {e}"
        )));
    }
    cloned
}

/// A directory phantom made for a workload to write (a scratch or persistent
/// workspace): as root, given to nobody, who will be the workload's user there; the
/// caller's already elsewhere.
pub fn give_to_sandbox(dir: &Path) -> std::io::Result<()> {
    if super::sys::uid() == 0 {
        std::os::unix::fs::chown(dir, Some(NOBODY), Some(NOBODY))?;
    }
    Ok(())
}

/// What a root caller should know before a run whose workspace root owns: the workload
/// runs as nobody, so it can read what all may read there and write nothing. `None`
/// where that is not so.
pub fn root_workspace_notice(workspace: &Path) -> Option<String> {
    let root_owns_it = std::fs::metadata(workspace).is_ok_and(|m| m.uid() == 0);
    (super::sys::uid() == 0 && root_owns_it).then(|| {
        format!(
            "running as root, phantom runs the workload as nobody (uid {NOBODY}) on the host, \
             never as root; root owns the workspace `{}`, so the workload can only read it. \
             Give it to the user the results are for (`chown -R USER {}`): the workload then \
             runs as that user",
            workspace.display(),
            workspace.display()
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_walk_follows_links_as_the_kernel_does_and_names_their_owners() {
        use std::os::unix::fs::symlink;
        let dir = tempfile::tempdir().unwrap();
        let base = dir.path().canonicalize().unwrap();
        std::fs::create_dir_all(base.join("real/sub")).unwrap();
        symlink("real", base.join("rel")).unwrap();
        symlink(base.join("real/sub"), base.join("abs")).unwrap();
        symlink("../rel/sub", base.join("real/up")).unwrap();
        symlink("loop", base.join("loop")).unwrap();
        let me = std::fs::symlink_metadata(base.join("rel")).unwrap().uid();
        let (to, links) = walk(&base.join("rel/sub")).unwrap();
        assert_eq!((to, links), (base.join("real/sub"), vec![me]));
        let (to, links) = walk(&base.join("abs")).unwrap();
        assert_eq!((to, links.len()), (base.join("real/sub"), 1));
        let (to, links) = walk(&base.join("real/up/../sub")).unwrap();
        assert_eq!((to, links.len()), (base.join("real/sub"), 2));
        assert_eq!(
            walk(&base.join("loop")).unwrap_err().raw_os_error(),
            Some(libc::ELOOP)
        );
        assert_eq!(
            walk(&base.join("real")).unwrap(),
            (base.join("real"), vec![])
        );
    }

    #[test]
    fn a_rootless_caller_is_the_sandboxs_user_whoever_owns_the_workspace() {
        for owner in [None, Some((0, 0)), Some((1000, 1000)), Some((2000, 0))] {
            assert_eq!(
                HostIdentity::choose((1000, 100), owner),
                HostIdentity {
                    uid: 1000,
                    gid: 100
                }
            );
        }
    }

    #[test]
    fn as_root_the_workspaces_owner_is_the_sandboxs_user() {
        assert_eq!(
            HostIdentity::choose((0, 0), Some((1000, 1001))),
            HostIdentity {
                uid: 1000,
                gid: 1001
            }
        );
    }

    #[test]
    fn as_root_the_sandboxs_user_is_never_root_nor_group_root() {
        let nobody = HostIdentity {
            uid: NOBODY,
            gid: NOBODY,
        };
        assert_eq!(HostIdentity::choose((0, 0), None), nobody);
        assert_eq!(HostIdentity::choose((0, 0), Some((0, 0))), nobody);
        assert_eq!(HostIdentity::choose((0, 0), Some((0, 1000))), nobody);
        assert_eq!(
            HostIdentity::choose((0, 0), Some((1000, 0))),
            HostIdentity {
                uid: 1000,
                gid: NOBODY
            }
        );
        for owner in [None, Some((0, 0)), Some((1000, 0)), Some((7, 7))] {
            let chosen = HostIdentity::choose((0, 0), owner);
            assert_ne!(chosen.uid, 0);
            assert_ne!(chosen.gid, 0);
        }
    }
}
