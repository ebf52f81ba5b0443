//! `phantomc inspect`: everything in a bundle (or in the bundle a policy compiles to),
//! readable: header, seccomp summary, mount plan as a table, limits with units,
//! network, Landlock, process, run-time variables; `--json` for tools.

use std::fmt::Write as _;
use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;
use phantom_bundle::describe::hex;
use phantom_bundle::{self as pfb, Bundle};
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
    // A bundle or a policy: both are at most 16 MiB.
    let limit = pfb::MAX_BUNDLE_SIZE.max(phantom_compiler::resolve::MAX_FILE_SIZE);
    let raw =
        pfb::read_file(path, limit).with_context(|| format!("cannot read `{}`", path.display()))?;
    // A .pfb that does not start as a bundle (empty, cut off in its magic) is a broken
    // bundle, not a policy to compile (an empty one was shown as a policy `empty`).
    let named_bundle = path.extension().is_some_and(|e| e == "pfb");
    let (bundle, bytes) = if raw.starts_with(&pfb::MAGIC) || named_bundle {
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

fn to_text(bundle: &Bundle, bytes: &[u8], disassemble: bool) -> String {
    let mut out = pfb::describe::describe(bundle, bytes);
    let w = &mut out;
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
