//! A bundle described for people: what `phantomc inspect` and `phantom profile show`
//! print (the seccomp disassembly aside, which needs the compiler).

use std::fmt::Write as _;

use crate::{Bundle, MountStep};

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// `1.0 GiB`, `512 MiB`, `4096 B`.
pub fn size(bytes: u64) -> String {
    const UNITS: [(&str, u64); 4] = [
        ("TiB", 1 << 40),
        ("GiB", 1 << 30),
        ("MiB", 1 << 20),
        ("KiB", 1 << 10),
    ];
    for (unit, scale) in UNITS {
        if bytes >= scale {
            return if bytes.is_multiple_of(scale) {
                format!("{} {unit}", bytes / scale)
            } else {
                format!("{:.1} {unit}", bytes as f64 / scale as f64)
            };
        }
    }
    format!("{bytes} B")
}

fn duration_ms(ms: u64) -> String {
    match ms {
        ms if ms % 3_600_000 == 0 => format!("{} h", ms / 3_600_000),
        ms if ms % 60_000 == 0 => format!("{} min", ms / 60_000),
        ms if ms % 1000 == 0 => format!("{} s", ms / 1000),
        ms => format!("{ms} ms"),
    }
}

fn or_unlimited(v: Option<u64>, f: impl Fn(u64) -> String) -> String {
    v.map_or_else(|| "unlimited".to_string(), f)
}

pub fn describe(bundle: &Bundle, bytes: &[u8]) -> String {
    let mut out = String::new();
    let w = &mut out;
    let _ = writeln!(w, "bundle {} ({} mode)", bundle.name, bundle.mode.name());
    if let Some(d) = &bundle.description {
        let _ = writeln!(w, "  {d}");
    }
    let _ = writeln!(
        w,
        "  format v{}, {} bytes, {}, content {}",
        crate::FORMAT_VERSION,
        bytes.len(),
        if crate::is_signed(bytes) {
            "signed"
        } else {
            "unsigned"
        },
        crate::content_hash(bytes).unwrap_or_default()
    );
    let _ = writeln!(
        w,
        "  source {}, compiled by {}",
        hex(&bundle.source_hash),
        bundle.compiler
    );

    let _ = writeln!(w, "\nseccomp");
    let _ = writeln!(
        w,
        "  {:<8} {:>6} {:>6} {:>14}  default",
        "arch", "insns", "worst", "kernel-cached"
    );
    for f in &bundle.seccomp {
        let _ = writeln!(
            w,
            "  {:<8} {:>6} {:>6} {:>14}  {}",
            f.arch.name(),
            f.instructions(),
            f.worst_path,
            format!("{}/{}", f.cached_syscalls, f.known_syscalls),
            f.default_action
        );
    }

    let direct = !bundle.mode.uses_namespaces();
    if direct {
        let _ = writeln!(
            w,
            "\nmounts\n  none: direct mode shows the host's filesystem (see landlock below)"
        );
    } else {
        let _ = writeln!(
            w,
            "\nmounts (in order, on an empty tmpfs root made read-only at the end)"
        );
        let _ = writeln!(w, "  {:>3}  {:<9} {:<28} details", "#", "step", "target");
    }
    for (i, step) in bundle.mounts.iter().enumerate() {
        let (kind, details) = match step {
            MountStep::Mkdir { mode, .. } => ("mkdir", format!("mode {mode:#o}")),
            MountStep::Bind {
                source,
                writable,
                optional,
                mountpoint,
                ..
            } => (
                if *writable { "bind-rw" } else { "bind-ro" },
                format!(
                    "from {source}{}{}",
                    if *optional { ", optional" } else { "" },
                    if *mountpoint == crate::Mountpoint::MustExist {
                        ", mount point must exist"
                    } else {
                        ""
                    }
                ),
            ),
            MountStep::Tmpfs { size: s, mode, .. } => (
                "tmpfs",
                format!("size {}, mode {mode:#o}", or_unlimited(*s, size)),
            ),
            MountStep::Proc { .. } => ("proc", "fresh, for the sandbox's pid namespace".into()),
            MountStep::Dev { nodes, .. } => ("dev", format!("{}, pts, shm", nodes.join(", "))),
            MountStep::Symlink { to, .. } => ("symlink", format!("→ {to}")),
            MountStep::Mask { .. } => ("mask", "hidden if present".into()),
            MountStep::ReadOnly { .. } => ("readonly", "remounted read-only".into()),
        };
        let _ = writeln!(w, "  {i:>3}  {kind:<9} {:<28} {details}", step.target());
    }

    let c = &bundle.cgroup;
    let _ = writeln!(w, "\nlimits");
    let _ = writeln!(w, "  memory      {}", or_unlimited(c.memory_max, size));
    let _ = writeln!(w, "  swap        {}", or_unlimited(c.swap_max, size));
    let _ = writeln!(
        w,
        "  cpu         {}",
        c.cpu.map_or_else(
            || "unlimited".into(),
            |q| format!(
                "{:.2} CPUs ({} µs per {} µs)",
                q.quota_us as f64 / q.period_us as f64,
                q.quota_us,
                q.period_us
            )
        )
    );
    let _ = writeln!(
        w,
        "  pids        {}",
        or_unlimited(c.pids_max, |v| v.to_string())
    );
    let _ = writeln!(
        w,
        "  timeout     {}",
        or_unlimited(bundle.process.timeout_ms, duration_ms)
    );
    for r in &bundle.rlimits {
        let value = match r.resource {
            crate::RlimitResource::Fsize => or_unlimited(r.value, size),
            crate::RlimitResource::Cpu => or_unlimited(r.value, |s| format!("{s} s")),
            _ => or_unlimited(r.value, |v| v.to_string()),
        };
        let _ = writeln!(w, "  {:<11} {value}", r.resource.name());
    }

    let _ = writeln!(w, "\nnetwork");
    let _ = match &bundle.network {
        crate::Network::None if direct => writeln!(
            w,
            "  none: the host's network namespace, but Unix sockets only (seccomp) and no TCP connect or bind (Landlock)"
        ),
        crate::Network::None => writeln!(w, "  none: own network namespace, loopback only"),
        crate::Network::Host => writeln!(w, "  host"),
        crate::Network::Filtered { connect, bind } => writeln!(
            w,
            "  host network; TCP connect to {connect:?}, bind to {bind:?} (Landlock)"
        ),
    };
    let _ = writeln!(
        w,
        "\nlandlock{}",
        if direct {
            " (the filesystem layer in direct mode: host paths)"
        } else {
            " (defence in depth, paths inside the sandbox)"
        }
    );
    for p in &bundle.landlock.paths {
        let access = match p.access {
            crate::Access::ReadExecute => "read, execute",
            crate::Access::ReadWrite => "read, write, execute",
        };
        let _ = writeln!(w, "  {:<28} {access}", p.path);
    }

    let p = &bundle.process;
    let _ = writeln!(w, "\nprocess");
    let _ = writeln!(
        w,
        "  command     {}",
        p.command
            .as_ref()
            .map_or_else(|| "(given at run time)".into(), |c| format!("{c:?}"))
    );
    let _ = writeln!(w, "  cwd         {}", p.cwd);
    if direct {
        let _ = writeln!(
            w,
            "  user        the invoking user (direct mode); no_new_privs; no capabilities"
        );
        let _ = writeln!(w, "  hostname    the host's (direct mode)");
    } else {
        let _ = writeln!(
            w,
            "  user        uid {}, gid {}; no_new_privs; no capabilities",
            p.uid, p.gid
        );
        let _ = writeln!(w, "  hostname    {}", p.hostname);
    }
    for (k, v) in &p.env {
        let _ = writeln!(w, "  env         {k}={v}");
    }
    if !p.pass.is_empty() {
        let _ = writeln!(w, "  pass        {}", p.pass.join(", "));
    }
    if !bundle.variables.is_empty() {
        let _ = writeln!(w, "\nrun-time variables");
        for v in &bundle.variables {
            let _ = writeln!(w, "  ${{{}}}  used in {}", v.name, v.used_in.join(", "));
        }
    }
    out
}
