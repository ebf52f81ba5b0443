//! `phantomc compile`: a policy to a bundle (default) or to one architecture's raw or
//! disassembled seccomp filter.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use codespan_reporting::term::termcolor::{ColorChoice, StandardStream};
use phantom_compiler::bundle::{self, BuildError};
use phantom_compiler::modes::{self, Mode};
use phantom_compiler::seccomp::{self, Program};
use phantom_compiler::tables::Arch;
use phantom_compiler::{io::NativeFs, render, Checked, Code, Input, Policy};

use crate::{Emit, EXIT_POLICY_ERRORS};

fn stderr() -> StandardStream {
    let choice = if std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none() {
        ColorChoice::Auto
    } else {
        ColorChoice::Never
    };
    StandardStream::stderr(choice)
}

/// Checks a policy for a command that needs it whole; diagnostics go to stderr.
/// `Err` carries the exit code when the policy cannot be used.
pub fn load_policy(path: &Path, mode: Mode) -> anyhow::Result<Result<(Policy, Checked), ExitCode>> {
    let checked = match modes::check(&Input::File(path.to_path_buf()), &NativeFs, mode) {
        Ok(checked) => checked,
        Err(e) => {
            eprintln!("error[{}]: {e}", Code::FileUnreadable);
            return Ok(Err(ExitCode::from(EXIT_POLICY_ERRORS)));
        }
    };
    render::emit(&mut stderr(), &checked.sources, &checked.diagnostics)?;
    match checked.policy.clone() {
        Some(policy) => Ok(Ok((policy, checked))),
        None => Ok(Err(ExitCode::from(EXIT_POLICY_ERRORS))),
    }
}

/// Compiles one architecture's filter; a failure is reported and turned into an exit code.
pub fn compile_filter(
    checked: &Checked,
    policy: &Policy,
    arch: Arch,
) -> anyhow::Result<Result<Program, ExitCode>> {
    match seccomp::compile(&policy.syscalls, arch) {
        Ok(program) => Ok(Ok(program)),
        Err(e) => {
            match e.to_diagnostic() {
                Some(diag) => render::emit(&mut stderr(), &checked.sources, &[diag])?,
                None => eprintln!("phantomc: {e}"),
            }
            Ok(Err(ExitCode::from(EXIT_POLICY_ERRORS)))
        }
    }
}

/// Builds and encodes the bundle; a failure is reported and turned into an exit code.
pub fn build_bundle(
    checked: &Checked,
    policy: &Policy,
    mode: Mode,
) -> anyhow::Result<Result<(phantom_bundle::Bundle, Vec<u8>), ExitCode>> {
    let built = bundle::build_for(policy, &checked.sources, mode)
        .and_then(|b| bundle::encode(&b).map(|bytes| (b, bytes)));
    match built {
        Ok(pair) => Ok(Ok(pair)),
        Err(BuildError::Policy(diags)) => {
            render::emit(&mut stderr(), &checked.sources, &diags)?;
            Ok(Err(ExitCode::from(EXIT_POLICY_ERRORS)))
        }
        Err(BuildError::Internal(msg)) => {
            eprintln!("phantomc: internal compiler error: {msg}; please report it with the policy");
            Ok(Err(ExitCode::from(EXIT_POLICY_ERRORS)))
        }
    }
}

pub fn run_compile(
    path: &Path,
    arch: Option<Arch>,
    emit: Emit,
    mode: Mode,
    output: Option<&Path>,
) -> anyhow::Result<ExitCode> {
    if arch.is_some() && matches!(emit, Emit::Bundle) {
        eprintln!("phantomc: `--arch` chooses the filter of `--emit bpf` and `--emit bpf-asm`; a bundle holds every architecture's");
        return Ok(ExitCode::from(crate::EXIT_USAGE));
    }
    let (policy, checked) = match load_policy(path, mode)? {
        Ok(p) => p,
        Err(code) => return Ok(code),
    };
    let bytes = match emit {
        Emit::Bundle => match build_bundle(&checked, &policy, mode)? {
            Ok((_, bytes)) => bytes,
            Err(code) => return Ok(code),
        },
        Emit::Bpf | Emit::BpfAsm => {
            let Some(arch) = arch else {
                eprintln!("phantomc: `--emit bpf` and `--emit bpf-asm` need `--arch x86_64` or `--arch aarch64`");
                return Ok(ExitCode::from(crate::EXIT_USAGE));
            };
            let program = match compile_filter(&checked, &policy, arch)? {
                Ok(p) => p,
                Err(code) => return Ok(code),
            };
            if matches!(emit, Emit::Bpf) {
                program.to_bytes()
            } else {
                program.disassemble().into_bytes()
            }
        }
    };
    let default_output;
    let output = match (output, emit) {
        (Some(out), _) => Some(out),
        (None, Emit::Bundle) => {
            default_output =
                PathBuf::from(path.file_stem().unwrap_or_default()).with_extension("pfb");
            Some(default_output.as_path())
        }
        (None, _) => None,
    };
    match output {
        Some(out) if out.as_os_str() != "-" => {
            let same = |a: &Path, b: &Path| match (a.canonicalize(), b.canonicalize()) {
                (Ok(a), Ok(b)) => a == b,
                _ => false,
            };
            if same(out, path) {
                anyhow::bail!(
                    "`-o {}` is the policy being compiled: writing the bundle there would replace it; give another file",
                    out.display()
                );
            }
            crate::output::write_replacing(out, &bytes)?;
            if matches!(emit, Emit::Bundle) {
                eprintln!("phantomc: wrote {} ({} bytes)", out.display(), bytes.len());
            }
        }
        _ => {
            if !matches!(emit, Emit::BpfAsm) && std::io::stdout().is_terminal() {
                anyhow::bail!("refusing to write binary output to a terminal; use `-o FILE`");
            }
            std::io::stdout().write_all(&bytes)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
