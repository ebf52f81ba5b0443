//! `phantomc inspect`: everything in a bundle (or in the bundle a policy compiles to),
//! readable: header, seccomp summary, mount plan as a table, limits with units,
//! network, Landlock, process, run-time variables; `--json` for tools.

use std::fmt::Write as _;
use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;
use phantom_bundle::{self as pfb, Bundle, MountStep};
use phantom_compiler::seccomp::{self, Insn};
use phantom_compiler::tables::Arch;

use crate::compile::{build_bundle, load_policy};
use crate::EXIT_POLICY_ERRORS;
use phantom_compiler::modes::Mode;

pub fn run_inspect(
    path: &Path,
    json: bool,
    disassemble: bool,
    verify_key: Option<&Path>,
    mode: Mode,
) -> anyhow::Result<ExitCode> {
    let raw = std::fs::read(path).with_context(|| format!("cannot read `{}`", path.display()))?;
    let (bundle, bytes) = if raw.starts_with(&pfb::MAGIC) {
        let key = verify_key
            .map(crate::keys::read_verifying_key)
            .transpose()?;
        match pfb::decode(&raw, key.as_ref()) {
            Ok(b) => (b, raw),
            Err(e) => {
                eprintln!("phantomc: `{}`: {e}", path.display());
                return Ok(ExitCode::from(EXIT_POLICY_ERRORS));
            }
        }
    } else {
        let (policy, checked) = match load_policy(path, mode)? {
            Ok(p) => p,
            Err(code) => return Ok(code),
        };
        match build_bundle(&checked, &policy, mode)? {
            Ok(pair) => pair,
            Err(code) => return Ok(code),
        }
    };
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&to_json(&bundle, &bytes))?
        );
    } else {
        print!("{}", to_text(&bundle, &bytes, disassemble));
    }
    Ok(ExitCode::SUCCESS)
}

fn to_json(bundle: &Bundle, bytes: &[u8]) -> serde_json::Value {
    let mut value = serde_json::to_value(bundle).unwrap_or(serde_json::Value::Null);
    if let Some(obj) = value.as_object_mut() {
        let seccomp: Vec<serde_json::Value> = bundle
            .seccomp
            .iter()
            .map(|f| {
                serde_json::json!({
                    "arch": f.arch.name(),
                    "instructions": f.instructions(),
                    "worst_path": f.worst_path,
                    "cached_syscalls": f.cached_syscalls,
                    "known_syscalls": f.known_syscalls,
                    "default_action": f.default_action,
                })
            })
            .collect();
        obj.insert("seccomp".into(), seccomp.into());
        obj.insert("source_hash".into(), hex(&bundle.source_hash).into());
        obj.insert(
            "bundle".into(),
            serde_json::json!({
                "format_version": pfb::FORMAT_VERSION,
                "size": bytes.len(),
                "content_hash": pfb::content_hash(bytes),
                "signed": pfb::is_signed(bytes),
            }),
        );
    }
    value
}

fn hex(bytes: &[u8]) -> String {
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

fn to_text(bundle: &Bundle, bytes: &[u8], disassemble: bool) -> String {
    let mut out = String::new();
    let w = &mut out;
    let _ = writeln!(w, "bundle {} ({} mode)", bundle.name, bundle.mode.name());
    if let Some(d) = &bundle.description {
        let _ = writeln!(w, "  {d}");
    }
    let _ = writeln!(
        w,
        "  format v{}, {} bytes, {}, content {}",
        pfb::FORMAT_VERSION,
        bytes.len(),
        if pfb::is_signed(bytes) {
            "signed"
        } else {
            "unsigned"
        },
        pfb::content_hash(bytes).unwrap_or_default()
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

    let _ = writeln!(
        w,
        "\nmounts (in order, on an empty tmpfs root made read-only at the end)"
    );
    let _ = writeln!(w, "  {:>3}  {:<9} {:<28} details", "#", "step", "target");
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
                    if *mountpoint == pfb::Mountpoint::MustExist {
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
            pfb::RlimitResource::Fsize => or_unlimited(r.value, size),
            pfb::RlimitResource::Cpu => or_unlimited(r.value, |s| format!("{s} s")),
            _ => or_unlimited(r.value, |v| v.to_string()),
        };
        let _ = writeln!(w, "  {:<11} {value}", r.resource.name());
    }

    let _ = writeln!(w, "\nnetwork");
    let _ = match &bundle.network {
        pfb::Network::None => writeln!(w, "  none: own network namespace, loopback only"),
        pfb::Network::Host => writeln!(w, "  host"),
        pfb::Network::Filtered { connect, bind } => writeln!(
            w,
            "  host network; TCP connect to {connect:?}, bind to {bind:?} (Landlock)"
        ),
    };
    let _ = writeln!(w, "\nlandlock");
    for p in &bundle.landlock.paths {
        let access = match p.access {
            pfb::Access::ReadExecute => "read, execute",
            pfb::Access::ReadWrite => "read, write, execute",
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
    let _ = writeln!(
        w,
        "  user        uid {}, gid {}; no_new_privs; no capabilities",
        p.uid, p.gid
    );
    let _ = writeln!(w, "  hostname    {}", p.hostname);
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
    if disassemble {
        for f in &bundle.seccomp {
            let arch = match f.arch {
                pfb::Arch::X86_64 => Arch::X86_64,
                pfb::Arch::Aarch64 => Arch::Aarch64,
            };
            let insns: Vec<Insn> = f
                .program
                .chunks_exact(8)
                .map(|c| {
                    let mut b = [0u8; 8];
                    b.copy_from_slice(c);
                    Insn::from_bytes(b)
                })
                .collect();
            let _ = writeln!(w);
            w.push_str(&seccomp::disassemble_raw(arch, &insns));
        }
    }
    out
}
