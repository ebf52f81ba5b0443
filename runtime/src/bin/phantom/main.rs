//! `phantom`: the command users type, and the process that supervises each cold run.
//!
//! Kept small on purpose: its own memory is part of every sandbox's cost (the peak RSS
//! target in docs/benchmarks.md), and on kernels that map whole large folios of a
//! cached binary, a process's resident size follows the size of its binary, not the
//! code it runs. So this binary does only what a run needs — a bundle (`exec`), a
//! profile whose bundle is at hand without compiling (`run` of a stdlib profile, built
//! in; of a `.pfb`; of a policy in the cache), a warm run (the client of `phantom
//! serve`) —
//! and hands everything else to `phantom-full` beside it, with the same arguments: the
//! other commands, runs governed by a configuration file (`PHANTOM_CONFIG_PATH`), and
//! runs whose profile must first be compiled. Invariant: the compiler is not linked in
//! here (`profiles::load_without_compiling` is the only way in to profiles).

use std::process::ExitCode;

mod cli;
mod fast_args;
mod runs;

use cli::{ModeArg, RunArgs};
use fast_args::Parsed;

fn main() -> ExitCode {
    runs::mark_client_start();
    let result = match fast_args::parse(std::env::args_os()) {
        Some(Parsed::Exec(args)) => runs::exec(args),
        Some(Parsed::Run(args)) => run(args).unwrap_or_else(|| Err(delegate())),
        None => Err(delegate()),
    };
    match result {
        Ok(code) => ExitCode::from(u8::try_from(code).unwrap_or(255)),
        Err(e) => {
            eprintln!("phantom: {e:#}");
            ExitCode::from(125)
        }
    }
}

/// `phantom run`, when it needs neither the configuration nor the compiler; `None`
/// hands it to `phantom-full` (which also words every error about the profile).
fn run(args: RunArgs) -> Option<anyhow::Result<i32>> {
    use phantom_runtime::profiles::{self, Cache};
    if std::env::var_os("PHANTOM_CONFIG_PATH").is_some_and(|p| !p.is_empty()) {
        return None;
    }
    let name = args.profile.clone().or_else(|| {
        std::env::var("PHANTOM_DEFAULT_PROFILE")
            .ok()
            .filter(|p| !p.is_empty())
    })?;
    let mode = args.mode.map(ModeArg::mode);
    if args.warm {
        return Some(runs::run_warm(&name, mode, args.settings));
    }
    let reference = profiles::resolve_path_or_stdlib(&name).ok()??;
    // The stdlib is built in: no cache to open (or create) for it.
    let cache = if std::env::var_os("PHANTOM_NO_CACHE").is_some()
        || matches!(reference, profiles::ProfileRef::Stdlib(_))
    {
        Cache::disabled()
    } else {
        Cache::at(std::env::var_os("PHANTOM_CACHE_DIR").map(std::path::PathBuf::from))
    };
    let started = std::time::Instant::now();
    let (bundle, source, files) =
        profiles::load_without_compiling(&reference, mode, &cache).ok()??;
    runs::mark_profile_loaded(started, &reference, &bundle, source, "");
    let code = runs::run_profile(&bundle, args, &files);
    // As in `runs::exec`: the process ends next.
    std::mem::forget(bundle);
    Some(code)
}

/// Continues this command in `phantom-full`; returns only if it cannot be started.
fn delegate() -> anyhow::Error {
    use std::os::unix::process::CommandExt;
    let full = match std::env::current_exe() {
        Ok(exe) => exe.with_file_name("phantom-full"),
        Err(e) => return anyhow::anyhow!("cannot tell where phantom is ({e}), so cannot start phantom-full, which runs this command"),
    };
    let e = std::process::Command::new(&full)
        .arg0("phantom")
        .args(std::env::args_os().skip(1))
        .exec();
    anyhow::anyhow!(
        "cannot start `{}` ({e}), which runs this command: it is built with phantom (`cargo build --release` builds both) and must sit in the same directory",
        full.display()
    )
}

// In a musl build (the static release build of scripts/build-release.sh) the allocator
// is dlmalloc's: with musl's own, this program's many small allocations make a start
// slower than glibc's (docs/benchmarks.md, "Cold start"). It suits a
// single-threaded process, as this one is: one global spin lock (`allocator.rs`), and
// no `fork` handlers.
#[cfg(target_env = "musl")]
#[global_allocator]
static ALLOCATOR: phantom_runtime::allocator::SpinDlmalloc =
    phantom_runtime::allocator::SpinDlmalloc::new();
