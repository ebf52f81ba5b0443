//! A systemd transient scope, for hosts that give phantom no cgroup it may write.
//!
//! On a systemd host an unprivileged user's shell usually sits in a `session-N.scope`
//! owned by root, where phantom may not create the sandbox's cgroups. systemd will
//! start a command in a transient scope of the user's own, delegated to them
//! (`systemd-run --user --scope -p Delegate=yes`): there phantom may. Before a run,
//! [`reexec_under_systemd`] says whether phantom should start itself again that way:
//! only when systemd runs here, `systemd-run` is installed, phantom is not already in
//! such a scope (`PHANTOM_IN_SCOPE`), is not root, and a probe session beneath its own
//! cgroup is refused for lack of access or of a controller. In the scope, sessions move phantom's own
//! process to a leaf first (cgroup v2's no-internal-processes rule).

use std::ffi::OsString;
use std::path::Path;

use phantom_bundle::CgroupLimits;

use super::{CgroupError, CgroupFs, CgroupOptions, CgroupSession, Detection};

/// Set in the environment of a phantom started in a transient scope.
pub const IN_SCOPE_ENV: &str = "PHANTOM_IN_SCOPE";

/// Whether this phantom was started in a transient scope by [`reexec_under_systemd`].
pub fn in_scope() -> bool {
    std::env::var_os(IN_SCOPE_ENV).is_some_and(|v| v == "1")
}

/// Whether a delegated scope would fix this cgroup error: the host refusing access
/// (not a limit value the kernel rejects), a controller not handed down to phantom's
/// cgroup (a user's session scope often has none; their own delegated scope gets those
/// of their manager), or a cgroup shared with other processes (the shell's session
/// scope), where v2 lets no controller be enabled for children.
pub fn scope_would_fix(e: &CgroupError) -> bool {
    let refused = matches!(e.errno(), Some(libc::EACCES | libc::EPERM | libc::EROFS))
        && !matches!(e, CgroupError::WriteLimit { .. });
    refused
        || matches!(
            e,
            CgroupError::ControllerUnavailable { .. } | CgroupError::InternalProcesses { .. }
        )
}

/// The command that starts phantom again in a transient scope: `systemd-run
/// [--user] --scope --quiet --collect -p Delegate=yes -- EXE ARGS...` (the user's
/// manager unless phantom runs as root). The scope runs the command in place:
/// environment, working directory and stdio are phantom's own.
pub fn systemd_run_argv(
    systemd_run: &Path,
    root: bool,
    exe: &Path,
    args: &[OsString],
) -> Vec<OsString> {
    let mut argv: Vec<OsString> = vec![systemd_run.into()];
    if !root {
        argv.push("--user".into());
    }
    for arg in [
        "--scope",
        "--quiet",
        "--collect",
        "-p",
        "Delegate=yes",
        "--",
    ] {
        argv.push(arg.into());
    }
    argv.push(exe.into());
    argv.extend(args.iter().cloned());
    argv
}

/// If this run should start again in a transient systemd scope, the command to do it
/// with (see the module's header); `None` to run here.
pub fn reexec_under_systemd<F: CgroupFs>(
    fs: F,
    detection: &Detection,
    limits: &CgroupLimits,
    exe: &Path,
    args: &[OsString],
) -> Option<Vec<OsString>> {
    let root = fs.euid() == 0;
    if in_scope() || root || !detection.systemd_scope_possible() {
        return None;
    }
    let systemd_run = detection.systemd_run.as_ref()?;
    match CgroupSession::create_detected(fs, detection, limits, "probe", &CgroupOptions::default())
    {
        Ok(probe) => {
            let _ = probe.destroy();
            None
        }
        Err(e) if scope_would_fix(&e) => Some(systemd_run_argv(systemd_run, root, exe, args)),
        Err(_) => None,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "test code")]
    use std::path::PathBuf;

    use super::*;
    use crate::cgroup::fake::FakeFs;

    fn limits() -> CgroupLimits {
        CgroupLimits {
            memory_max: Some(64 << 20),
            pids_max: Some(32),
            ..CgroupLimits::default()
        }
    }

    /// A systemd host on cgroup v2 where the user's shell is in a root-owned session
    /// scope.
    fn systemd_host() -> FakeFs {
        let fs = FakeFs::new();
        fs.mount_v2("/sys/fs/cgroup", &["cpu", "io", "memory", "pids"]);
        // systemd hands memory, pids and cpu down to the user's slice and session.
        fs.mkdir_p(
            "/sys/fs/cgroup/user.slice/user-1000.slice/session-3.scope",
            &["cpu", "memory", "pids"],
        );
        fs.place_self("/sys/fs/cgroup/user.slice/user-1000.slice/session-3.scope");
        fs.set_euid(1000);
        fs.set_file("/run/systemd/system", "");
        fs.set_file("/usr/bin/systemd-run", "");
        fs
    }

    #[test]
    fn a_refused_session_on_a_systemd_host_starts_phantom_again_in_a_scope() {
        let fs = systemd_host();
        fs.deny("/sys/fs/cgroup/user.slice");
        let detection = Detection::detect(&fs).unwrap();
        let args: Vec<OsString> = ["run", "--profile", "shell", "--", "true"]
            .map(OsString::from)
            .to_vec();
        let argv =
            reexec_under_systemd(&fs, &detection, &limits(), Path::new("/bin/phantom"), &args)
                .expect("a scope would help");
        let argv: Vec<String> = argv
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            argv,
            [
                "/usr/bin/systemd-run",
                "--user",
                "--scope",
                "--quiet",
                "--collect",
                "-p",
                "Delegate=yes",
                "--",
                "/bin/phantom",
                "run",
                "--profile",
                "shell",
                "--",
                "true"
            ]
        );
    }

    #[test]
    fn no_scope_where_sessions_can_be_made_or_systemd_is_absent() {
        // Writable (here: the root cgroup, which v2's no-internal-processes rule
        // exempts): the probe session is made and removed, nothing else happens.
        let fs = FakeFs::new();
        fs.mount_v2("/sys/fs/cgroup", &["cpu", "io", "memory", "pids"]);
        fs.set_euid(1000);
        fs.set_file("/run/systemd/system", "");
        fs.set_file("/usr/bin/systemd-run", "");
        let detection = Detection::detect(&fs).unwrap();
        assert!(reexec_under_systemd(&fs, &detection, &limits(), Path::new("/p"), &[]).is_none());
        assert!(fs
            .cgroups()
            .iter()
            .all(|c| !c.display().to_string().contains("probe")));
        // No systemd: the usual error (or --allow-degraded) decides.
        let fs = FakeFs::new();
        fs.mount_v2("/sys/fs/cgroup", &["memory", "pids"]);
        fs.set_euid(1000);
        fs.deny("/sys/fs/cgroup");
        let detection = Detection::detect(&fs).unwrap();
        assert!(reexec_under_systemd(&fs, &detection, &limits(), Path::new("/p"), &[]).is_none());
    }

    #[test]
    fn root_uses_the_system_manager() {
        let argv = systemd_run_argv(
            Path::new("/usr/bin/systemd-run"),
            true,
            &PathBuf::from("/p"),
            &[],
        );
        assert!(!argv.contains(&OsString::from("--user")));
    }
}
