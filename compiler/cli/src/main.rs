//! `phantomc`: the policy compiler's command line. All I/O of the compiler happens
//! here (reading files, printing, exit codes); the work is done by `phantom-compiler`.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand, ValueEnum};
use codespan_reporting::term::termcolor::{ColorChoice, StandardStream};
use phantom_compiler::{check, io::NativeFs, render, Code, Input};

/// Exit status: the policy has errors (or a file is not formatted, for `fmt --check`).
const EXIT_POLICY_ERRORS: u8 = 1;
/// Exit status: the command line itself is wrong (clap uses it too).
const EXIT_USAGE: u8 = 2;

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
    /// Explain a diagnostic code, such as PFP0101.
    Explain {
        /// The code; `all` lists every code.
        code: String,
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
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("phantomc: {e:#}");
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
                    Format::Human => writeln!(stderr, "error[{}]: {e}", Code::FileUnreadable)?,
                    Format::Json => json.push(serde_json::json!({
                        "code": Code::FileUnreadable.as_str(),
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
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read `{}`", path.display()))?;
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
            std::fs::write(path, formatted)
                .with_context(|| format!("cannot write `{}`", path.display()))?;
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
