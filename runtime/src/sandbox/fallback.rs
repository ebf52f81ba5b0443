//! Landlock as the filesystem layer, for hosts where user namespaces are unavailable
//! (Ubuntu's AppArmor restriction on unprivileged user namespaces,
//! `user.max_user_namespaces = 0`, Debian's `kernel.unprivileged_userns_clone = 0`).
//!
//! Without a user namespace there is no mount namespace, so the mount plan cannot be
//! built. The plan is turned into Landlock rules on the host's paths instead: each
//! bind's source readable (or writable, if the bind is), a tmpfs's host path writable,
//! the device files of a `dev` entry, `/proc` readable; nothing else at all. The
//! workload then runs as in direct mode. It is weaker isolation (no pid, network,
//! ipc or uts namespace; the identity is the caller's), so phantom does this only
//! with `--allow-degraded`, and names each part that is lost.

use phantom_bundle::{paths, Access, Bundle, LandlockPath, Mode, MountStep, Network};

use super::vars::Vars;

/// Rewrites a namespaced `bundle` to run without namespaces, its filesystem confined
/// by Landlock to what its plan shows. Returns what is not enforced any more, one
/// line each, for the report.
pub fn landlock_only(bundle: &mut Bundle, vars: &Vars) -> Result<Vec<String>, String> {
    let mut rules: Vec<LandlockPath> = Vec::new();
    let mut add = |path: String, access: Access| match rules.iter_mut().find(|r| r.path == path) {
        Some(existing) if access == Access::ReadWrite => existing.access = access,
        Some(_) => {}
        None => rules.push(LandlockPath { path, access }),
    };
    let mut scratch = Vec::new();
    for step in &bundle.mounts {
        match step {
            MountStep::Bind {
                source, writable, ..
            } => add(
                vars.resolve(source)?,
                if *writable {
                    Access::ReadWrite
                } else {
                    Access::ReadExecute
                },
            ),
            MountStep::Tmpfs { target, .. } => {
                scratch.push(target.clone());
                add(target.clone(), Access::ReadWrite);
            }
            MountStep::Dev { .. } => {
                for device in paths::DEVICES {
                    add((*device).to_string(), Access::ReadWrite);
                }
            }
            MountStep::Proc { target, .. } => add(target.clone(), Access::ReadExecute),
            _ => {}
        }
    }
    let binds = bundle.mounts.iter().filter_map(|s| match s {
        MountStep::Bind { source, target, .. } => Some((target.as_str(), source.as_str())),
        _ => None,
    });
    let cwd = vars.resolve(&paths::host_path(binds, &bundle.process.cwd))?;

    let mut lost = vec![
        "mount, pid, ipc, uts, cgroup and network namespaces (user namespaces are unavailable on this host): Landlock confines the filesystem to the mount plan's sources instead".to_string(),
        format!(
            "identity: the workload runs as the invoking user, not uid {} / gid {}",
            bundle.process.uid, bundle.process.gid
        ),
        "host processes are visible in /proc".to_string(),
        format!("hostname: the host's, not `{}`", bundle.process.hostname),
    ];
    if !scratch.is_empty() {
        lost.push(format!(
            "scratch space: the host's own {}, not a private tmpfs",
            scratch.join(", ")
        ));
    }
    if bundle.network == Network::None {
        // TCP connect and bind are refused by Landlock below; other protocols are not.
        bundle.landlock.restrict_net = true;
        bundle.landlock.connect_ports.clear();
        bundle.landlock.bind_ports.clear();
        lost.push(
            "network none: only TCP is refused (by Landlock); UDP and ICMP reach the host's network"
                .to_string(),
        );
    }
    bundle.landlock.paths = rules;
    bundle.mode = Mode::Direct;
    bundle.mounts.clear();
    bundle.process.cwd = cwd;
    Ok(lost)
}

/// Whether a failed clone means user namespaces are unavailable (rather than a bug).
pub fn is_userns_refusal(error: &std::io::Error) -> bool {
    matches!(
        error.raw_os_error(),
        Some(libc::EPERM | libc::EACCES | libc::ENOSPC | libc::EUSERS)
    )
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, reason = "test code")]
    use super::*;
    use phantom_bundle::Mountpoint;

    fn bundle() -> Bundle {
        let mut b = sample();
        b.mounts = vec![
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
            MountStep::Tmpfs {
                target: "/tmp".into(),
                size: None,
                mode: 0o1777,
                mountpoint: Mountpoint::Created,
            },
        ];
        b.process.cwd = "/workspace/src".into();
        b
    }

    fn sample() -> Bundle {
        let policy = phantom_compiler::check(
            &phantom_compiler::Input::Stdlib("base".into()),
            &phantom_compiler::io::MemoryFs::new(),
        )
        .unwrap()
        .policy
        .unwrap();
        phantom_compiler::bundle::build(&policy, &phantom_compiler::SourceMap::default()).unwrap()
    }

    #[test]
    fn the_plan_becomes_landlock_rules_on_host_paths() {
        let mut b = bundle();
        let vars = Vars {
            workspace: Some("/home/me/project".into()),
            cwd: "/".into(),
            home: None,
        };
        let lost = landlock_only(&mut b, &vars).unwrap();
        assert_eq!(b.mode, Mode::Direct);
        assert!(b.mounts.is_empty());
        assert_eq!(b.process.cwd, "/home/me/project/src");
        let rule = |p: &str| {
            b.landlock
                .paths
                .iter()
                .find(|r| r.path == p)
                .map(|r| r.access)
        };
        assert_eq!(rule("/usr"), Some(Access::ReadExecute));
        assert_eq!(rule("/home/me/project"), Some(Access::ReadWrite));
        assert_eq!(rule("/tmp"), Some(Access::ReadWrite));
        assert_eq!(rule("/"), None, "nothing outside the plan is readable");
        assert!(b.landlock.restrict_net);
        assert!(lost.iter().any(|l| l.contains("UDP")));
        assert!(lost.iter().any(|l| l.contains("namespaces")));
    }

    #[test]
    fn a_missing_workspace_is_an_error_not_a_guess() {
        let mut b = bundle();
        let vars = Vars {
            workspace: None,
            cwd: "/".into(),
            home: None,
        };
        assert!(landlock_only(&mut b, &vars).is_err());
    }
}
