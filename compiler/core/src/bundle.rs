//! Stage 5: a checked policy to a bundle (`phantom_bundle::Bundle`).
//!
//! Everything the runtime needs is decided here: the seccomp programs (verified), the
//! mount plan in execution order, cgroup limits and rlimits with their defaults, the
//! network mode, Landlock rules derived from the plan, the process settings with the
//! secure defaults, and the run-time variables still to bind. The result depends only
//! on the policy's text, so the same sources give byte-identical bundles anywhere.

use std::collections::{BTreeMap, BTreeSet};

use phantom_bundle as pfb;

use crate::diagnostic::Diagnostic;
use crate::policy::{FsEntry, FsKind, Limit, Network, Policy};
use crate::seccomp::{self, CompileError};
use crate::source::SourceMap;
use crate::tables::Arch;

mod direct;

/// Limits a policy gets when no layer sets them (docs/language.md, "Defaults").
pub const DEFAULT_MEMORY: u64 = 1 << 30;
pub const DEFAULT_PIDS: u64 = 256;
pub const DEFAULT_OPEN_FILES: u64 = 1024;
pub const DEFAULT_TMP_SIZE: u64 = 64 << 20;
pub const DEFAULT_PATH: &str = "/usr/local/bin:/usr/bin:/bin";
pub const DEFAULT_HOME: &str = "/tmp";
pub const DEFAULT_HOSTNAME: &str = "sandbox";
/// cgroup v2's default `cpu.max` period.
pub const CPU_PERIOD_US: u64 = 100_000;
const DEFAULT_MODE: u32 = 0o755;

/// Files under a fresh /proc that would let the workload read or steer the host.
pub const PROC_MASKED: [&str; 9] = [
    "kcore",
    "keys",
    "timer_list",
    "timer_stats",
    "sched_debug",
    "latency_stats",
    "acpi",
    "scsi",
    "asound",
];
/// Under /proc, writable in a namespace but global in effect: read-only.
pub const PROC_READ_ONLY: [&str; 5] = ["sys", "sysrq-trigger", "irq", "bus", "fs"];
/// The device nodes of a minimal /dev, bound from the host.
pub const DEV_NODES: [&str; 6] = ["null", "zero", "full", "random", "urandom", "tty"];

#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// Located in the policy (a filter too large).
    #[error("the policy cannot be compiled")]
    Policy(Vec<Diagnostic>),
    /// A compiler bug.
    #[error("{0}")]
    Internal(String),
}

/// Builds the sandbox-mode bundle of a checked policy. `sources` are the files it was
/// read from.
pub fn build(policy: &Policy, sources: &SourceMap) -> Result<pfb::Bundle, BuildError> {
    build_for(policy, sources, pfb::Mode::Sandbox)
}

/// Builds the bundle of a policy checked in `mode` (see `modes::check`).
pub fn build_for(
    policy: &Policy,
    sources: &SourceMap,
    mode: pfb::Mode,
) -> Result<pfb::Bundle, BuildError> {
    let mut seccomp_filters = Vec::new();
    for arch in Arch::ALL {
        let program = seccomp::compile(&policy.syscalls, arch).map_err(|e| match e {
            CompileError::TooLarge { .. } => {
                BuildError::Policy(e.to_diagnostic().into_iter().collect())
            }
            CompileError::Internal(msg) => BuildError::Internal(msg),
        })?;
        let m = &program.measurements;
        seccomp_filters.push(pfb::SeccompFilter {
            arch: bundle_arch(arch),
            program: program.to_bytes(),
            worst_path: m.worst_path,
            cached_syscalls: u32::try_from(m.cached).unwrap_or(u32::MAX),
            known_syscalls: u32::try_from(m.known_syscalls).unwrap_or(u32::MAX),
            default_action: policy.syscalls.default.describe(),
        });
    }

    let tmp_size = limit(policy.resources.tmp_size).unwrap_or(Some(DEFAULT_TMP_SIZE));
    let (mounts, landlock) = if mode.uses_namespaces() {
        let mounts = mount_plan(&policy.filesystem, tmp_size);
        let landlock = landlock(&mounts, &policy.network);
        (mounts, landlock)
    } else {
        (
            Vec::new(),
            direct::landlock(&policy.filesystem, &policy.network),
        )
    };
    let p = &policy.process;
    let mut env = p.env.clone();
    env.entry("PATH".into())
        .or_insert_with(|| DEFAULT_PATH.into());
    env.entry("HOME".into())
        .or_insert_with(|| DEFAULT_HOME.into());
    let process = pfb::ProcessSpec {
        command: p.command.clone(),
        cwd: match (&p.cwd, mode.uses_namespaces()) {
            (None, _) => "/".to_string(),
            (Some(cwd), true) => cwd.0.clone(),
            (Some(cwd), false) => direct::host_path(&policy.filesystem, &cwd.0),
        },
        env,
        pass: p.pass.clone(),
        hostname: p
            .hostname
            .clone()
            .unwrap_or_else(|| DEFAULT_HOSTNAME.into()),
        uid: p.uid,
        gid: p.gid,
        timeout_ms: limit(policy.resources.timeout_ms).flatten(),
        no_new_privs: true,
        capabilities: Vec::new(),
    };
    let variables = variables(&mounts, &landlock, &process);
    let r = &policy.resources;
    let cgroup = pfb::CgroupLimits {
        memory_max: limit(r.memory).unwrap_or(Some(DEFAULT_MEMORY)),
        swap_max: limit(r.swap).unwrap_or(Some(0)),
        cpu: limit(r.cpu_millis).flatten().map(|millis| pfb::CpuQuota {
            quota_us: millis.saturating_mul(CPU_PERIOD_US) / 1000,
            period_us: CPU_PERIOD_US,
        }),
        pids_max: limit(r.pids).unwrap_or(Some(DEFAULT_PIDS)),
        io_weight: None,
    };
    let mut rlimits = vec![
        // No core dumps: a killed workload must not write its memory to disk.
        pfb::Rlimit {
            resource: pfb::RlimitResource::Core,
            value: Some(0),
        },
        pfb::Rlimit {
            resource: pfb::RlimitResource::Nofile,
            value: limit(r.open_files).unwrap_or(Some(DEFAULT_OPEN_FILES)),
        },
    ];
    if let Some(v) = limit(r.file_size) {
        rlimits.push(pfb::Rlimit {
            resource: pfb::RlimitResource::Fsize,
            value: v,
        });
    }
    if let Some(v) = limit(r.cpu_time_s) {
        rlimits.push(pfb::Rlimit {
            resource: pfb::RlimitResource::Cpu,
            value: v,
        });
    }
    rlimits.sort_by_key(|l| l.resource);

    Ok(pfb::Bundle {
        name: policy.name.clone(),
        description: policy.description.clone(),
        source_hash: source_hash(sources),
        compiler: format!("phantomc {}", env!("CARGO_PKG_VERSION")),
        mode,
        seccomp: seccomp_filters,
        mounts,
        cgroup,
        rlimits,
        network: match &policy.network {
            Network::None => pfb::Network::None,
            Network::Host => pfb::Network::Host,
            Network::Filtered { connect, bind } => pfb::Network::Filtered {
                connect: connect.clone(),
                bind: bind.clone(),
            },
        },
        landlock,
        process,
        variables,
    })
}

pub fn bundle_arch(arch: Arch) -> pfb::Arch {
    match arch {
        Arch::X86_64 => pfb::Arch::X86_64,
        Arch::Aarch64 => pfb::Arch::Aarch64,
    }
}

/// `None`: not set; `Some(None)`: explicitly unlimited; `Some(Some(v))`: a limit.
fn limit(l: Option<Limit>) -> Option<Option<u64>> {
    l.map(|l| match l {
        Limit::Value(v) => Some(v),
        Limit::Unlimited => None,
    })
}

/// blake3 over the texts of the sources in load order (not their names, which depend
/// on how the compiler was invoked).
fn source_hash(sources: &SourceMap) -> [u8; 32] {
    let mut hasher = blake3::Hasher::new();
    for (_, file) in sources.files() {
        hasher.update(&(file.text.len() as u64).to_le_bytes());
        hasher.update(file.text.as_bytes());
    }
    *hasher.finalize().as_bytes()
}

fn depth(path: &str) -> usize {
    path.split('/').filter(|c| !c.is_empty()).count()
}

/// Parents first (by depth, then by path), so one pass mounts everything and no mount
/// can hide a later one; a `mask` sorts after the mount it masks.
fn plan_order(entries: &[FsEntry]) -> Vec<&FsEntry> {
    let mut sorted: Vec<&FsEntry> = entries.iter().collect();
    sorted
        .sort_by(|a, b| (depth(&a.target.0), &a.target.0).cmp(&(depth(&b.target.0), &b.target.0)));
    sorted
}

/// The mount plan, in execution order, on top of an empty tmpfs root.
pub fn mount_plan(entries: &[FsEntry], tmp_size: Option<u64>) -> Vec<pfb::MountStep> {
    let mut all: Vec<FsEntry> = entries.to_vec();
    if !all.iter().any(|e| e.target.0 == "/tmp") {
        all.push(FsEntry {
            target: crate::policy::PathTemplate("/tmp".into()),
            kind: FsKind::Tmpfs {
                size: tmp_size,
                mode: 0o1777,
            },
            origin: crate::policy::Origin {
                file: crate::source::FileId(0),
                span: pfp_syntax::Span::default(),
            },
        });
    }
    let ordered = plan_order(&all);
    // What owns each mounted target: plan-owned (tmpfs, dir, dev) or a host bind.
    let mut owners: BTreeMap<String, bool> = BTreeMap::new();
    let mut created: BTreeSet<String> = BTreeSet::new();
    let mut steps = Vec::new();
    for entry in ordered {
        let target = entry.target.0.clone();
        // The nearest mounted ancestor decides whether parents can be created.
        let inside_bind = ancestors(&target)
            .find_map(|a| owners.get(a).copied())
            .unwrap_or(false);
        if !inside_bind {
            for parent in ancestors(&target).collect::<Vec<_>>().into_iter().rev() {
                if parent != "/"
                    && !owners.contains_key(parent)
                    && created.insert(parent.to_string())
                {
                    steps.push(pfb::MountStep::Mkdir {
                        target: parent.to_string(),
                        mode: DEFAULT_MODE,
                    });
                }
            }
        }
        let mountpoint = if inside_bind {
            pfb::Mountpoint::MustExist
        } else {
            pfb::Mountpoint::Created
        };
        match &entry.kind {
            FsKind::Bind {
                source,
                writable,
                optional,
            } => {
                owners.insert(target.clone(), true);
                steps.push(pfb::MountStep::Bind {
                    source: source.0.clone(),
                    target,
                    writable: *writable,
                    optional: *optional,
                    mountpoint,
                });
            }
            FsKind::Tmpfs { size, mode } => {
                owners.insert(target.clone(), false);
                let size = if target == "/tmp" && size.is_none() {
                    tmp_size
                } else {
                    *size
                };
                steps.push(pfb::MountStep::Tmpfs {
                    target,
                    size,
                    mode: *mode,
                    mountpoint,
                });
            }
            FsKind::Proc => {
                owners.insert(target.clone(), true);
                steps.push(pfb::MountStep::Proc {
                    target: target.clone(),
                    mountpoint,
                });
                for name in PROC_MASKED {
                    steps.push(pfb::MountStep::Mask {
                        target: format!("{target}/{name}"),
                    });
                }
                for name in PROC_READ_ONLY {
                    steps.push(pfb::MountStep::ReadOnly {
                        target: format!("{target}/{name}"),
                    });
                }
            }
            FsKind::Dev => {
                owners.insert(target.clone(), false);
                steps.push(pfb::MountStep::Dev {
                    target,
                    nodes: DEV_NODES.iter().map(|s| s.to_string()).collect(),
                    mountpoint,
                });
            }
            FsKind::Dir { mode } => {
                owners.insert(target.clone(), false);
                created.insert(target.clone());
                steps.push(pfb::MountStep::Mkdir {
                    target,
                    mode: *mode,
                });
            }
            FsKind::Symlink { to } => steps.push(pfb::MountStep::Symlink {
                target,
                to: to.clone(),
            }),
            FsKind::Mask => steps.push(pfb::MountStep::Mask { target }),
        }
    }
    steps
}

/// `/a/b/c` → `/a/b`, `/a`, `/` (nearest first).
fn ancestors(path: &str) -> impl Iterator<Item = &str> {
    let mut current = path;
    std::iter::from_fn(move || {
        if current == "/" || current.is_empty() {
            return None;
        }
        let cut = current.rfind('/')?;
        current = if cut == 0 { "/" } else { current.get(..cut)? };
        Some(current)
    })
}

/// Landlock rules from the plan: the root and read-only mounts readable, plan-owned
/// scratch space and read-write binds writable; TCP ports from a filtered network.
fn landlock(mounts: &[pfb::MountStep], network: &Network) -> pfb::Landlock {
    let mut paths = vec![pfb::LandlockPath {
        path: "/".into(),
        access: pfb::Access::ReadExecute,
    }];
    for step in mounts {
        let (path, access) = match step {
            pfb::MountStep::Bind {
                target, writable, ..
            } => (
                target,
                if *writable {
                    pfb::Access::ReadWrite
                } else {
                    pfb::Access::ReadExecute
                },
            ),
            pfb::MountStep::Tmpfs { target, .. } => (target, pfb::Access::ReadWrite),
            // /dev itself is sealed read-only; its devices, pts and shm are writable.
            pfb::MountStep::Dev { target, nodes, .. } => {
                for name in nodes.iter().map(String::as_str).chain(["pts", "shm"]) {
                    paths.push(pfb::LandlockPath {
                        path: format!("{}/{name}", target.trim_end_matches('/')),
                        access: pfb::Access::ReadWrite,
                    });
                }
                (target, pfb::Access::ReadExecute)
            }
            pfb::MountStep::Proc { target, .. } => (target, pfb::Access::ReadExecute),
            _ => continue,
        };
        paths.push(pfb::LandlockPath {
            path: path.clone(),
            access,
        });
    }
    let (restrict_net, connect_ports, bind_ports) = match network {
        Network::Filtered { connect, bind } => (true, connect.clone(), bind.clone()),
        Network::None | Network::Host => (false, Vec::new(), Vec::new()),
    };
    pfb::Landlock {
        paths: without_redundant(paths),
        restrict_net,
        connect_ports,
        bind_ports,
    }
}

/// The rules that grant something: Landlock allows on a path the union of what the
/// rules on it and on its ancestors allow (across mount points, up to the root), so a
/// rule whose access an ancestor's rule already grants — every read-execute rule beneath
/// the root's, a read-write one beneath another read-write one — changes nothing and
/// would only cost each start a path lookup and a few system calls. Paths with run-time
/// variables are kept as they are.
fn without_redundant(paths: Vec<pfb::LandlockPath>) -> Vec<pfb::LandlockPath> {
    let covers = |have: pfb::Access, want: pfb::Access| {
        have == pfb::Access::ReadWrite || want == pfb::Access::ReadExecute
    };
    let granted = |path: &str, want: pfb::Access| {
        paths
            .iter()
            .any(|rule| rule.path == path && covers(rule.access, want))
    };
    paths
        .iter()
        .filter(|rule| {
            rule.path.contains("${") || !ancestors(&rule.path).any(|a| granted(a, rule.access))
        })
        .cloned()
        .collect()
}

fn variables(
    mounts: &[pfb::MountStep],
    landlock: &pfb::Landlock,
    process: &pfb::ProcessSpec,
) -> Vec<pfb::VariableUse> {
    let mut uses: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut note = |text: &str, place: String| {
        for var in crate::policy::PathTemplate(text.to_string()).variables() {
            uses.entry(var.to_string()).or_default().push(place.clone());
        }
    };
    for (i, step) in mounts.iter().enumerate() {
        if let pfb::MountStep::Bind { source, .. } = step {
            note(source, format!("mount {i} source"));
        }
        note(step.target(), format!("mount {i} target"));
    }
    for (i, rule) in landlock.paths.iter().enumerate() {
        note(&rule.path, format!("landlock rule {i}"));
    }
    note(&process.cwd, "cwd".into());
    uses.into_iter()
        .map(|(name, used_in)| pfb::VariableUse { name, used_in })
        .collect()
}

/// Encodes a built bundle.
pub fn encode(bundle: &pfb::Bundle) -> Result<Vec<u8>, BuildError> {
    pfb::encode(bundle).map_err(|e| BuildError::Internal(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::io::MemoryFs;
    use crate::{check, stdlib, Input};

    fn compile(input: Input) -> Vec<u8> {
        let checked = check(&input, &MemoryFs::new()).expect("readable");
        let policy = checked.policy.expect("valid");
        encode(&build(&policy, &checked.sources).expect("builds")).expect("encodes")
    }

    #[test]
    fn every_stdlib_profile_builds_reproducibly() {
        for name in stdlib::names() {
            let a = compile(Input::Stdlib(name.into()));
            let b = compile(Input::Stdlib(name.into()));
            assert_eq!(a, b, "{name}: two compiles differ");
            let bundle = pfb::decode(&a, None).expect("loads");
            assert_eq!(bundle.seccomp.len(), 2);
            assert!(bundle
                .mounts
                .iter()
                .any(|m| matches!(m, pfb::MountStep::Proc { .. })));
        }
    }

    #[test]
    fn mount_plan_creates_parents_first_and_marks_mountpoints_inside_binds() {
        let text = "filesystem {\n    tmpfs /a/b/c\n    ro /usr\n    ro /usr/lib/x from /srv/x\n    dir /a/b/c/d mode 0o700\n}\n";
        let bytes = compile(Input::Text {
            name: "t.pfp".into(),
            text: text.into(),
            dir: "/".into(),
        });
        let bundle = pfb::decode(&bytes, None).expect("loads");
        let targets: Vec<&str> = bundle.mounts.iter().map(pfb::MountStep::target).collect();
        // By depth, parents made just before the first entry that needs them.
        assert_eq!(
            targets,
            [
                "/tmp",
                "/usr",
                "/a",
                "/a/b",
                "/a/b/c",
                "/usr/lib/x",
                "/a/b/c/d"
            ]
        );
        let inside_bind = bundle.mounts.iter().find(|m| m.target() == "/usr/lib/x");
        assert!(matches!(
            inside_bind,
            Some(pfb::MountStep::Bind {
                mountpoint: pfb::Mountpoint::MustExist,
                ..
            })
        ));
        assert_eq!(bundle.cgroup.memory_max, Some(DEFAULT_MEMORY));
        assert_eq!(bundle.cgroup.swap_max, Some(0));
        assert_eq!(
            bundle.process.env.get("PATH").map(String::as_str),
            Some(DEFAULT_PATH)
        );
    }

    #[test]
    fn landlock_rules_that_an_ancestor_already_grants_are_left_out() {
        let text = "filesystem {\n    ro /usr\n    ro /etc/hosts\n    tmpfs /scratch\n    rw /scratch/inner from /srv/inner\n    rw /data from /srv/data\n    ro /data/readonly from /srv/ro\n}\n";
        let bytes = compile(Input::Text {
            name: "t.pfp".into(),
            text: text.into(),
            dir: "/".into(),
        });
        let bundle = pfb::decode(&bytes, None).expect("loads");
        let rules: Vec<(&str, pfb::Access)> = bundle
            .landlock
            .paths
            .iter()
            .map(|r| (r.path.as_str(), r.access))
            .collect();
        // Read-execute everywhere beneath the root's rule adds nothing, nor does
        // read-write beneath a read-write rule; a read-write rule beneath a read-only
        // one does.
        assert!(
            rules.contains(&("/", pfb::Access::ReadExecute)),
            "{rules:?}"
        );
        assert!(
            rules.contains(&("/scratch", pfb::Access::ReadWrite)),
            "{rules:?}"
        );
        assert!(
            rules.contains(&("/data", pfb::Access::ReadWrite)),
            "{rules:?}"
        );
        for gone in ["/usr", "/etc/hosts", "/scratch/inner", "/data/readonly"] {
            assert!(!rules.iter().any(|(p, _)| *p == gone), "{gone}: {rules:?}");
        }
    }

    #[test]
    fn proc_gets_its_dangerous_files_masked() {
        let text = "filesystem {\n    proc /proc\n}\n";
        let bytes = compile(Input::Text {
            name: "t.pfp".into(),
            text: text.into(),
            dir: "/".into(),
        });
        let bundle = pfb::decode(&bytes, None).expect("loads");
        assert!(bundle.mounts.contains(&pfb::MountStep::Mask {
            target: "/proc/kcore".into()
        }));
        assert!(bundle.mounts.contains(&pfb::MountStep::ReadOnly {
            target: "/proc/sys".into()
        }));
    }
}
