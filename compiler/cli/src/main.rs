//! `phantomc`: the policy compiler's command line. All I/O of the compiler happens
//! here (reading files, printing, exit codes); the work is done by `phantom-compiler`.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand, ValueEnum};
use codespan_reporting::term::termcolor::{ColorChoice, StandardStream};
use phantom_compiler::tables::Arch;
use phantom_compiler::{check, io::NativeFs, render, Code, Input};

mod compile;
mod inspect;
mod keys;
mod output;

/// Exit status: the policy has errors (or a file is not formatted, for `fmt --check`).
pub(crate) const EXIT_POLICY_ERRORS: u8 = 1;
/// Exit status: the command line itself is wrong (clap uses it too).
pub(crate) const EXIT_USAGE: u8 = 2;

#[derive(Parser, Debug)]
#[command(
    name = "phantomc",
    version,
    about = "Checks and compiles Phantom Fragment .pfp policies"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Parse and check policies; report every error and warning.
    ///
    /// Exits 0 when there is no error (warnings allowed unless --deny-warnings),
    /// 1 when a policy has errors, 2 on a usage error.
    Check {
        /// Policy files (.pfp). `extends` and `include` paths are relative to each file.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Output format of the diagnostics.
        #[arg(long, value_enum, default_value_t = Format::Human)]
        format: Format,
        /// Treat warnings as errors.
        #[arg(long)]
        deny_warnings: bool,
        /// When to colour the output.
        #[arg(long, value_enum, default_value_t = Color::Auto)]
        color: Color,
    },
    /// Print policies in the canonical style (in place), keeping comments.
    Fmt {
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Change nothing; list the files that are not in canonical style and exit 1 if any.
        #[arg(long)]
        check: bool,
    },
    /// Compile a policy's syscall rules into a verified seccomp filter.
    ///
    /// Every program is checked, in an interpreter, against the policy's meaning on
    /// every syscall number and on boundary argument values before it is written.
    Compile {
        /// The policy (.pfp).
        file: PathBuf,
        /// What to write: the bundle (default), or one architecture's raw
        /// `struct sock_filter` array (little-endian) or its disassembly.
        #[arg(long, value_enum, default_value_t = Emit::Bundle)]
        emit: Emit,
        /// Target architecture, for `--emit bpf` and `--emit bpf-asm`.
        #[arg(long, value_enum)]
        arch: Option<ArchArg>,
        /// Output file (`-` for standard output). Default: the bundle next to the
        /// current directory as NAME.pfb; filters to standard output.
        #[arg(short, long)]
        output: Option<PathBuf>,
        /// The mode to compile for (see docs/modes.md).
        #[arg(long, value_enum, default_value_t = ModeArg::Sandbox)]
        mode: ModeArg,
    },
    /// Show everything in a bundle, or in the bundle a policy compiles to.
    Inspect {
        /// A bundle (.pfb) or a policy (.pfp).
        file: PathBuf,
        /// Print JSON instead of tables.
        #[arg(long)]
        json: bool,
        /// Add the disassembly of each seccomp filter.
        #[arg(long)]
        disassemble: bool,
        /// Require the bundle to be signed by this public key (a `.pub` file).
        #[arg(long)]
        verify_key: Option<PathBuf>,
        /// For a policy: the mode to compile it for.
        #[arg(long, value_enum, default_value_t = ModeArg::Sandbox)]
        mode: ModeArg,
    },
    /// Sign a bundle with an ed25519 key, for pipelines that ship bundles between machines.
    Sign {
        /// The bundle (.pfb); signed in place unless `-o` is given.
        bundle: PathBuf,
        /// The signing key (from `phantomc key generate`).
        #[arg(long)]
        key: PathBuf,
        #[arg(short, long)]
        output: Option<PathBuf>,
    },
    /// Manage signing keys.
    #[command(subcommand)]
    Key(KeyCommand),
    /// Convert a profile written for another sandbox into a .pfp policy.
    Import {
        #[command(subcommand)]
        from: ImportSource,
    },
    /// Explain a diagnostic code, such as PFP0101.
    Explain {
        /// The code; `all` lists every code.
        code: String,
    },
}

/// The seed's modes; see docs/modes.md.
#[derive(Clone, Copy, Debug, ValueEnum)]
enum ModeArg {
    /// The host's filesystem view; Landlock limits writes; no namespaces.
    Direct,
    /// Full isolation (the default).
    Sandbox,
    /// Sandbox, plus fewer syscalls, no network, tighter limits, read-only but the workspace.
    Hardened,
}

impl ModeArg {
    fn mode(self) -> phantom_compiler::modes::Mode {
        use phantom_compiler::modes::Mode;
        match self {
            ModeArg::Direct => Mode::Direct,
            ModeArg::Sandbox => Mode::Sandbox,
            ModeArg::Hardened => Mode::Hardened,
        }
    }
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum ArchArg {
    #[value(name = "x86_64", alias = "amd64")]
    X86_64,
    #[value(name = "aarch64", alias = "arm64")]
    Aarch64,
}

impl ArchArg {
    fn arch(self) -> Arch {
        match self {
            ArchArg::X86_64 => Arch::X86_64,
            ArchArg::Aarch64 => Arch::Aarch64,
        }
    }
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub(crate) enum Emit {
    Bundle,
    Bpf,
    BpfAsm,
}

#[derive(Subcommand, Debug)]
enum KeyCommand {
    /// Write a new signing key to FILE (mode 0600) and its public key to FILE.pub.
    Generate {
        /// Where to write the signing key.
        file: PathBuf,
    },
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum Format {
    Human,
    Json,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum Color {
    Auto,
    Always,
    Never,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Check {
            files,
            format,
            deny_warnings,
            color,
        } => run_check(&files, format, deny_warnings, color),
        Command::Fmt { files, check } => run_fmt(&files, check),
        Command::Explain { code } => run_explain(&code),
        Command::Compile {
            file,
            emit,
            arch,
            output,
            mode,
        } => compile::run_compile(
            &file,
            arch.map(ArchArg::arch),
            emit,
            mode.mode(),
            output.as_deref(),
        ),
        Command::Inspect {
            file,
            json,
            disassemble,
            verify_key,
            mode,
        } => inspect::run_inspect(&file, json, disassemble, verify_key.as_deref(), mode.mode()),
        Command::Sign {
            bundle,
            key,
            output,
        } => keys::run_sign(&bundle, &key, output.as_deref()),
        Command::Key(KeyCommand::Generate { file }) => keys::run_generate(&file),
        Command::Import { from } => run_import(from),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            // Output cut off by its reader (`phantomc check … | head`) is not worth a
            // message, and a message to a closed stderr must not panic (eprintln! would).
            let broken_pipe = e.chain().any(|cause| {
                cause
                    .downcast_ref::<std::io::Error>()
                    .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            });
            if !broken_pipe {
                let _ = writeln!(std::io::stderr(), "phantomc: {e:#}");
            }
            ExitCode::from(EXIT_USAGE)
        }
    }
}

fn run_check(
    files: &[PathBuf],
    format: Format,
    deny_warnings: bool,
    color: Color,
) -> anyhow::Result<ExitCode> {
    let choice = match color {
        Color::Always => ColorChoice::Always,
        Color::Never => ColorChoice::Never,
        Color::Auto
            if std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none() =>
        {
            ColorChoice::Auto
        }
        Color::Auto => ColorChoice::Never,
    };
    let mut stderr = StandardStream::stderr(choice);
    let mut json = Vec::new();
    let mut failed = false;
    for path in files {
        let checked = match check(&Input::File(path.clone()), &NativeFs) {
            Ok(checked) => checked,
            Err(e) => {
                failed = true;
                match format {
                    Format::Human => writeln!(stderr, "error[{}]: {e}", e.code())?,
                    Format::Json => json.push(serde_json::json!({
                        "code": e.code().as_str(),
                        "severity": "error",
                        "message": e.to_string(),
                        "file": path.display().to_string(),
                    })),
                }
                continue;
            }
        };
        let errors = checked.diagnostics.iter().filter(|d| d.is_error()).count();
        let warnings = checked.diagnostics.len() - errors;
        if errors > 0 || (deny_warnings && warnings > 0) {
            failed = true;
        }
        match format {
            Format::Human => {
                render::emit(&mut stderr, &checked.sources, &checked.diagnostics)?;
                if errors > 0 {
                    writeln!(
                        stderr,
                        "{}: {errors} error(s), {warnings} warning(s)",
                        path.display()
                    )?;
                }
            }
            Format::Json => {
                if let serde_json::Value::Array(list) =
                    render::to_json(&checked.sources, &checked.diagnostics)
                {
                    json.extend(list);
                }
            }
        }
    }
    if let Format::Json = format {
        println!("{}", serde_json::to_string_pretty(&json)?);
    }
    Ok(if failed {
        ExitCode::from(EXIT_POLICY_ERRORS)
    } else {
        ExitCode::SUCCESS
    })
}

fn run_fmt(files: &[PathBuf], check_only: bool) -> anyhow::Result<ExitCode> {
    let mut failed = false;
    for path in files {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) => {
                // One unreadable file does not stop the others.
                eprintln!("phantomc: cannot read `{}`: {e}", path.display());
                failed = true;
                continue;
            }
        };
        let formatted = match pfp_syntax::format::format(&text) {
            Ok(formatted) => formatted,
            Err(errors) => {
                failed = true;
                let count = errors.len();
                eprintln!(
                    "phantomc: `{}` has {count} syntax error(s) and was not formatted; run `phantomc check {}`",
                    path.display(),
                    path.display()
                );
                continue;
            }
        };
        if formatted == text {
            continue;
        }
        if check_only {
            failed = true;
            println!("{}", path.display());
        } else {
            output::write_replacing(path, formatted.as_bytes())?;
        }
    }
    Ok(if failed {
        ExitCode::from(EXIT_POLICY_ERRORS)
    } else {
        ExitCode::SUCCESS
    })
}

fn run_explain(code: &str) -> anyhow::Result<ExitCode> {
    if code == "all" {
        for c in Code::ALL {
            println!(
                "{}  {:<8} {}",
                c.as_str(),
                format!("{:?}", c.severity()).to_lowercase(),
                c.title()
            );
        }
        return Ok(ExitCode::SUCCESS);
    }
    match Code::from_str_lenient(code) {
        Some(c) => {
            println!(
                "{} ({}): {}\n\n{}",
                c.as_str(),
                format!("{:?}", c.severity()).to_lowercase(),
                c.title(),
                c.explanation()
            );
            Ok(ExitCode::SUCCESS)
        }
        None => {
            eprintln!("phantomc: no diagnostic code `{code}`; `phantomc explain all` lists them");
            Ok(ExitCode::from(EXIT_USAGE))
        }
    }
}

#[derive(Subcommand, Debug)]
enum ImportSource {
    /// A Docker/OCI seccomp profile (the JSON that runc, containerd and Kubernetes load).
    ///
    /// Writes canonical .pfp text; what could not be carried over is listed in the
    /// file's header and printed as notes. Exits 1 when the profile cannot be read or
    /// is not a seccomp profile.
    #[command(name = "docker-seccomp")]
    DockerSeccomp {
        /// The profile (.json).
        profile: PathBuf,
        /// Output file; standard output if absent.
        #[arg(short, long)]
        output: Option<PathBuf>,
        /// A capability the container has (CAP_SYS_ADMIN), for the profile's
        /// `includes`/`excludes`; repeat it for several.
        #[arg(long = "with-cap", value_name = "CAP")]
        with_cap: Vec<String>,
        /// The policy's name (`policy "NAME"`); without it, the file name decides.
        #[arg(long)]
        name: Option<String>,
    },
    /// The profiles of phantom's YAML configuration file (`profiles:`, as in the file
    /// PHANTOM_CONFIG_PATH names).
    ///
    /// Each profile becomes a canonical .pfp policy that extends the stdlib profile
    /// `base`; the runtime settings in the file are accepted and left out. Relative
    /// mount sources are relative to the configuration file. Every policy is checked
    /// before anything is written. Exits 1 when the file cannot be read, is not a valid
    /// configuration, or a converted policy does not check; 2 when --profile names no
    /// profile of the file, or several profiles would go to standard output.
    #[command(name = "config-yaml")]
    ConfigYaml {
        /// The configuration file (.yaml).
        config: PathBuf,
        /// Convert only this profile (its key under `profiles:`); all of them without it.
        #[arg(long)]
        profile: Option<String>,
        /// Output: a file for one profile, or a directory (existing, or ending in `/`)
        /// that receives NAME.pfp for each profile. Standard output if absent, which
        /// takes one profile only.
        #[arg(short, long)]
        output: Option<PathBuf>,
    },
}

fn run_import(from: ImportSource) -> anyhow::Result<ExitCode> {
    match from {
        ImportSource::DockerSeccomp {
            profile,
            output,
            with_cap,
            name,
        } => run_import_docker(profile, output, with_cap, name),
        ImportSource::ConfigYaml {
            config,
            profile,
            output,
        } => run_import_config(&config, profile.as_deref(), output),
    }
}

fn run_import_docker(
    profile: PathBuf,
    output: Option<PathBuf>,
    with_cap: Vec<String>,
    name: Option<String>,
) -> anyhow::Result<ExitCode> {
    use phantom_compiler::import::{docker_to_pfp, DockerImportOptions};
    let json = match std::fs::read_to_string(&profile) {
        Ok(json) => json,
        Err(e) => {
            eprintln!("phantomc: cannot read `{}`: {e}", profile.display());
            return Ok(ExitCode::from(EXIT_POLICY_ERRORS));
        }
    };
    let options = DockerImportOptions {
        caps: with_cap,
        name,
        source: profile
            .file_name()
            .map(|n| n.to_string_lossy().into_owned()),
    };
    let imported = match docker_to_pfp(&json, &options) {
        Ok(imported) => imported,
        Err(e) => {
            eprintln!("phantomc: `{}`: {e}", profile.display());
            return Ok(ExitCode::from(EXIT_POLICY_ERRORS));
        }
    };
    for note in &imported.notes {
        eprintln!("phantomc: note: {note}");
    }
    match output {
        Some(out) => std::fs::write(&out, &imported.text)
            .with_context(|| format!("cannot write `{}`", out.display()))?,
        None => std::io::stdout().write_all(imported.text.as_bytes())?,
    }
    Ok(ExitCode::SUCCESS)
}

/// Where `import config-yaml` writes.
enum Destination {
    Stdout,
    File(PathBuf),
    Dir(PathBuf),
}

fn run_import_config(
    config: &std::path::Path,
    only: Option<&str>,
    output: Option<PathBuf>,
) -> anyhow::Result<ExitCode> {
    use phantom_compiler::import::config_yaml;
    let shown = config.display().to_string();
    let text = match std::fs::read_to_string(config) {
        Ok(text) => text,
        Err(e) => {
            eprintln!("phantomc: cannot read `{shown}`: {e}");
            return Ok(ExitCode::from(EXIT_POLICY_ERRORS));
        }
    };
    let parsed = match config_yaml::parse(&text) {
        Ok(parsed) => parsed,
        Err(e) => {
            eprintln!("phantomc: {}", e.render(&shown));
            return Ok(ExitCode::from(EXIT_POLICY_ERRORS));
        }
    };
    let names: Vec<&str> = parsed.profile_names().collect();
    let selected: Vec<&config_yaml::ProfileSpec> = match only {
        Some(name) => match parsed.profile(name) {
            Some(profile) => vec![profile],
            None => {
                let hint = match phantom_compiler::suggest::closest(name, names.iter().copied()) {
                    Some(s) => format!("; did you mean `{s}`?"),
                    None => String::new(),
                };
                let list = if names.is_empty() {
                    "it has none".to_string()
                } else {
                    format!("it has {}", names.join(", "))
                };
                eprintln!("phantomc: `{shown}` has no profile `{name}`{hint} ({list})");
                return Ok(ExitCode::from(EXIT_USAGE));
            }
        },
        None => parsed.profiles.iter().collect(),
    };
    if selected.is_empty() {
        eprintln!(
            "phantomc: `{shown}` has no profiles (nothing under `profiles:`); nothing to convert"
        );
        return Ok(ExitCode::from(EXIT_POLICY_ERRORS));
    }
    let destination = match output {
        None if selected.len() == 1 => Destination::Stdout,
        None => {
            eprintln!(
                "phantomc: `{shown}` has {} profiles ({}); choose one with --profile NAME, \
                 or give a directory with -o DIR",
                selected.len(),
                names.join(", ")
            );
            return Ok(ExitCode::from(EXIT_USAGE));
        }
        Some(path) => {
            let names_dir = path.is_dir() || path.as_os_str().to_string_lossy().ends_with('/');
            if names_dir {
                Destination::Dir(path)
            } else if selected.len() > 1 {
                if path.extension().is_some_and(|e| e == "pfp") {
                    eprintln!(
                        "phantomc: {} profiles cannot go into one file `{}`; give a directory \
                         with -o DIR, or one profile with --profile NAME",
                        selected.len(),
                        path.display()
                    );
                    return Ok(ExitCode::from(EXIT_USAGE));
                }
                Destination::Dir(path)
            } else {
                Destination::File(path)
            }
        }
    };

    // Relative sources resolve against the file's directory, so it must be absolute.
    let config_path = std::path::absolute(config)
        .with_context(|| format!("cannot make `{shown}` an absolute path"))?;
    let config_dir = config_path
        .parent()
        .map(std::path::Path::to_path_buf)
        .unwrap_or_default();
    let mut converted = Vec::with_capacity(selected.len());
    let mut failed = false;
    let mut stderr = StandardStream::stderr(ColorChoice::Never);
    for profile in selected {
        let text = match config_yaml::to_pfp(profile, &config_path) {
            Ok(text) => text,
            Err(e) => {
                eprintln!("phantomc: {}", e.render(&shown));
                return Ok(ExitCode::from(EXIT_POLICY_ERRORS));
            }
        };
        // The text is generated; check it before anyone relies on it (a mount can land
        // where the base profile's plan cannot take it, such as under a symlink).
        let input = Input::Text {
            name: format!("{}.pfp", profile.name),
            text: text.clone(),
            dir: config_dir.clone(),
        };
        let checked = check(&input, &phantom_compiler::io::MemoryFs::new())?;
        if !checked.diagnostics.is_empty() {
            render::emit(&mut stderr, &checked.sources, &checked.diagnostics)?;
        }
        if checked.has_errors() {
            eprintln!(
                "phantomc: the policy converted from profile `{}` (line {} of `{shown}`) does \
                 not check; change the profile",
                profile.name, profile.line
            );
            failed = true;
        }
        converted.push((profile.name.clone(), text));
    }
    if failed {
        return Ok(ExitCode::from(EXIT_POLICY_ERRORS));
    }
    match destination {
        Destination::Stdout => {
            for (_, text) in &converted {
                std::io::stdout().write_all(text.as_bytes())?;
            }
        }
        Destination::File(path) => {
            for (_, text) in &converted {
                std::fs::write(&path, text)
                    .with_context(|| format!("cannot write `{}`", path.display()))?;
            }
        }
        Destination::Dir(dir) => {
            std::fs::create_dir_all(&dir)
                .with_context(|| format!("cannot create the directory `{}`", dir.display()))?;
            for (name, text) in &converted {
                let path = dir.join(format!("{name}.pfp"));
                std::fs::write(&path, text)
                    .with_context(|| format!("cannot write `{}`", path.display()))?;
                eprintln!("phantomc: wrote {}", path.display());
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

// In a musl build (the static release build of scripts/build-release.sh) the allocator
// is dlmalloc's: with musl's own, this program's many small allocations make a start
// slower than glibc's (docs/benchmarks.md, "Cold start"). It suits a
// single-threaded process, as this one is: one global lock, and no `fork` handlers.
#[cfg(target_env = "musl")]
#[global_allocator]
static ALLOCATOR: dlmalloc::GlobalDlmalloc = dlmalloc::GlobalDlmalloc;
