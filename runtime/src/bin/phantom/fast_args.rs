//! The command lines of `exec` and `run`, read without clap, which would add about a
//! sixth to this binary (main.rs says why its size matters).
//!
//! It reads only what it is sure of and answers `None` to everything else (help,
//! version, another command, an unknown, repeated or malformed option, a value clap
//! would refuse, words that are not UTF-8): such a command line goes to
//! `phantom-full`, where clap reads it and answers as always. So this parser can be
//! incomplete but never different; the tests hold it to clap's reading of the same
//! words, and fail when an option of `exec` or `run` is added to `cli.rs` and not here.

use std::ffi::OsString;
use std::path::PathBuf;

use crate::cli::{ExecArgs, ModeArg, NetworkArg, RunArgs, RunSettings};

/// A command line this binary runs itself.
#[derive(Debug)]
pub enum Parsed {
    Exec(ExecArgs),
    Run(RunArgs),
}

/// Where an option's value goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Slot {
    Workspace,
    Memory,
    Cpu,
    Pids,
    Timeout,
    TmpSize,
    Network,
    Env,
    AllowLoosen,
    AllowDegraded,
    Tty,
    VerifyKey,
    SeccompAgent,
    Profile,
    Mode,
    Warm,
}

/// The long options of `exec` (`run` if `run`) and whether each takes a value. `--in`
/// is not here: workspaces are `phantom-full`'s.
fn long_option(run: bool, name: &str) -> Option<(Slot, bool)> {
    let found = match name {
        "workspace" => (Slot::Workspace, true),
        "memory" => (Slot::Memory, true),
        "cpu" => (Slot::Cpu, true),
        "pids" => (Slot::Pids, true),
        "timeout" => (Slot::Timeout, true),
        "tmp-size" => (Slot::TmpSize, true),
        "network" => (Slot::Network, true),
        "env" => (Slot::Env, true),
        "allow-loosen" => (Slot::AllowLoosen, false),
        "allow-degraded" => (Slot::AllowDegraded, false),
        "tty" => (Slot::Tty, false),
        "verify-key" if !run => (Slot::VerifyKey, true),
        "seccomp-agent" if !run => (Slot::SeccompAgent, true),
        "profile" if run => (Slot::Profile, true),
        "mode" if run => (Slot::Mode, true),
        "warm" if run => (Slot::Warm, false),
        _ => return None,
    };
    Some(found)
}

fn short_option(run: bool, c: char) -> Option<(Slot, bool)> {
    match c {
        't' => Some((Slot::Tty, false)),
        'p' if run => Some((Slot::Profile, true)),
        _ => None,
    }
}

/// What has been read so far.
#[derive(Default)]
struct Reading {
    s: RunSettings,
    bundle: Option<PathBuf>,
    verify_key: Option<PathBuf>,
    seccomp_agent: Option<PathBuf>,
    profile: Option<String>,
    mode: Option<ModeArg>,
    warm: bool,
}

impl Reading {
    /// Stores one option; `None` where clap would refuse it (a repeat, a bad value).
    fn set(&mut self, slot: Slot, value: String) -> Option<()> {
        fn once<T>(field: &mut Option<T>, value: T) -> Option<()> {
            field.is_none().then(|| *field = Some(value))
        }
        fn flag(field: &mut bool) -> Option<()> {
            (!*field).then(|| *field = true)
        }
        let s = &mut self.s;
        match slot {
            Slot::Workspace => once(&mut s.workspace, PathBuf::from(value)),
            Slot::Memory => once(&mut s.memory, value),
            Slot::Cpu => once(&mut s.cpu, value),
            // What clap's u64 parser takes: decimal digits, nothing else.
            Slot::Pids if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) => {
                once(&mut s.pids, value.parse().ok()?)
            }
            Slot::Pids => None,
            Slot::Timeout => once(&mut s.timeout, value),
            Slot::TmpSize => once(&mut s.tmp_size, value),
            Slot::Network => {
                let network = match value.as_str() {
                    "none" => NetworkArg::None,
                    "host" => NetworkArg::Host,
                    _ => return None,
                };
                once(&mut s.network, network)
            }
            Slot::Env => {
                s.env.push(value);
                Some(())
            }
            Slot::AllowLoosen => flag(&mut s.allow_loosen),
            Slot::AllowDegraded => flag(&mut s.allow_degraded),
            Slot::Tty => flag(&mut s.tty),
            Slot::VerifyKey => once(&mut self.verify_key, PathBuf::from(value)),
            Slot::SeccompAgent => once(&mut self.seccomp_agent, PathBuf::from(value)),
            Slot::Profile => once(&mut self.profile, value),
            Slot::Mode => {
                let mode = match value.as_str() {
                    "direct" => ModeArg::Direct,
                    "sandbox" => ModeArg::Sandbox,
                    "hardened" => ModeArg::Hardened,
                    _ => return None,
                };
                once(&mut self.mode, mode)
            }
            Slot::Warm => flag(&mut self.warm),
        }
    }
}

/// `args` as from `std::env::args_os()`, the program's name first.
pub fn parse(args: impl IntoIterator<Item = OsString>) -> Option<Parsed> {
    let words = args
        .into_iter()
        .skip(1)
        .map(|w| w.into_string().ok())
        .collect::<Option<Vec<String>>>()?;
    let (command, rest) = words.split_first()?;
    let run = match command.as_str() {
        "exec" => false,
        "run" => true,
        _ => return None,
    };
    let mut r = Reading::default();
    let mut i = 0;
    while let Some(word) = rest.get(i) {
        i += 1;
        if word == "--" {
            // Everything after is positional: the bundle's slot first (`exec`), then
            // the command, verbatim.
            let mut tail = rest.get(i..).unwrap_or_default().iter().cloned();
            if !run && r.bundle.is_none() {
                r.bundle = tail.next().map(PathBuf::from);
            }
            r.s.command.extend(tail);
            break;
        }
        if let Some(long) = word.strip_prefix("--") {
            let (name, inline) = match long.split_once('=') {
                Some((name, value)) => (name, Some(value.to_string())),
                None => (long, None),
            };
            let (slot, takes_value) = long_option(run, name)?;
            let value = match (takes_value, inline) {
                (true, Some(value)) => value,
                (true, None) => {
                    i += 1;
                    rest.get(i - 1)?.clone()
                }
                (false, None) => String::new(),
                (false, Some(_)) => return None,
            };
            r.set(slot, value)?;
        } else if let Some(short) = word.strip_prefix('-').filter(|s| !s.is_empty()) {
            let mut chars = short.chars();
            let c = chars.next()?;
            let (slot, takes_value) = short_option(run, c)?;
            // Anything attached (`-pNAME`, `-tx`) clap may read as the command's
            // first word (the command takes words that start with `-`): its to read.
            if !chars.as_str().is_empty() {
                return None;
            }
            let value = if takes_value {
                i += 1;
                rest.get(i - 1)?.clone()
            } else {
                String::new()
            };
            r.set(slot, value)?;
        } else if !run && r.bundle.is_none() {
            r.bundle = Some(PathBuf::from(word));
        } else {
            // The command: it and every word after it, as they are (clap's trailing
            // arguments), unless a `--` follows, which clap may read otherwise.
            let tail = rest.get(i - 1..).unwrap_or_default();
            if tail.iter().skip(1).any(|w| w == "--") {
                return None;
            }
            r.s.command.extend(tail.iter().cloned());
            break;
        }
    }
    // A value that is itself an option name (`--workspace --tty`) clap reads otherwise.
    let looks_like_option = |v: &Option<String>| v.as_deref().is_some_and(|v| v.starts_with('-'));
    if [
        &r.s.memory,
        &r.s.cpu,
        &r.s.timeout,
        &r.s.tmp_size,
        &r.profile,
    ]
    .into_iter()
    .any(looks_like_option)
        || [&r.s.workspace, &r.verify_key, &r.seccomp_agent, &r.bundle]
            .into_iter()
            .flatten()
            .any(|p| {
                // clap refuses an empty path.
                let p = p.as_os_str().as_encoded_bytes();
                p.is_empty() || p.starts_with(b"-")
            })
        || r.s.env.iter().any(|e| e.starts_with('-'))
    {
        return None;
    }
    Some(if run {
        Parsed::Run(RunArgs {
            profile: r.profile,
            mode: r.mode,
            warm: r.warm,
            settings: r.s,
        })
    } else {
        Parsed::Exec(ExecArgs {
            bundle: r.bundle,
            in_workspace: None,
            verify_key: r.verify_key,
            seccomp_agent: r.seccomp_agent,
            settings: r.s,
        })
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic, reason = "test code")]
    use super::*;
    use crate::cli::{Cli, Command};
    use clap::{CommandFactory, Parser};

    fn words(line: &[&str]) -> Vec<OsString> {
        std::iter::once("phantom")
            .chain(line.iter().copied())
            .map(OsString::from)
            .collect()
    }

    /// What clap makes of `line`, in the fast parser's terms (`None`: an error, help,
    /// or a command the fast parser leaves to phantom-full).
    fn by_clap(line: &[&str]) -> Option<String> {
        match Cli::try_parse_from(words(line)).ok()?.command {
            Command::Exec(a) if a.in_workspace.is_none() => Some(format!("{:?}", Parsed::Exec(a))),
            Command::Run(a) => Some(format!("{:?}", Parsed::Run(a))),
            _ => None,
        }
    }

    const LINES: &[&[&str]] = &[
        &["exec", "b.pfb"],
        &["exec", "b.pfb", "--", "/bin/true"],
        &["exec", "b.pfb", "/bin/echo", "-n", "--tty", "x"],
        &[
            "exec",
            "--workspace",
            "/w",
            "b.pfb",
            "--",
            "sh",
            "-c",
            "echo",
        ],
        &[
            "exec",
            "b.pfb",
            "--workspace=/w",
            "--memory",
            "1GiB",
            "--cpu=0.5",
            "--",
            "x",
        ],
        &[
            "exec",
            "--pids",
            "10",
            "--timeout",
            "1s",
            "--tmp-size",
            "5M",
            "b.pfb",
        ],
        &[
            "exec",
            "--network",
            "host",
            "--env",
            "A=1",
            "--env=B=2",
            "b.pfb",
            "--",
            "env",
        ],
        &[
            "exec",
            "--allow-loosen",
            "--allow-degraded",
            "-t",
            "b.pfb",
            "--",
            "sh",
        ],
        &["exec", "--verify-key", "k.pub", "b.pfb"],
        &[
            "exec",
            "--seccomp-agent",
            "/run/agent.sock",
            "b.pfb",
            "--",
            "x",
        ],
        &["exec", "--seccomp-agent=-a", "b.pfb"],
        &["run", "--seccomp-agent", "a", "-p", "shell"],
        &["exec", ""],
        &["exec", "--workspace=", "b.pfb"],
        &["exec", "--", "b.pfb", "x", "y"],
        &["exec", "b.pfb", "--", "--", "x"],
        &["exec", "b.pfb", "x", "--", "y"],
        &["exec", "--in", "ws", "--", "x"],
        &["exec", "--tty", "--tty", "b.pfb"],
        &["exec", "--memory", "1", "--memory", "2", "b.pfb"],
        &["exec", "--pids", "-1", "b.pfb"],
        &["exec", "--pids", "+1", "b.pfb"],
        &["exec", "--pids", "", "b.pfb"],
        &["exec", "--network", "HOST", "b.pfb"],
        &["exec", "--memory"],
        &["exec", "--memory", "--tty", "b.pfb"],
        &["exec", "--workspace", "-x", "b.pfb"],
        &["exec", "--tty=yes", "b.pfb"],
        &["exec", "--help"],
        &["exec", "-h"],
        &["exec", "-tx", "b.pfb"],
        &["exec", "--bogus", "b.pfb"],
        &["exec", "--profile", "p", "b.pfb"],
        &["exec", "-p", "p", "b.pfb"],
        &[
            "run",
            "--profile",
            "python-dev",
            "--",
            "python3",
            "-c",
            "pass",
        ],
        &["run", "-p", "python-dev", "python3", "-c", "pass"],
        &["run", "-ppython-dev", "--", "x"],
        &["run", "-p=python-dev", "--", "x"],
        &[
            "run",
            "--profile=shell",
            "--mode",
            "hardened",
            "--warm",
            "--",
            "sh",
        ],
        &["run", "--mode=direct", "-p", "shell", "-t", "--", "sh"],
        &["run", "--mode", "Direct", "-p", "shell"],
        &["run", "--warm", "--warm", "-p", "shell"],
        &["run", "-p", "shell", "--verify-key", "k", "--", "x"],
        &[
            "run",
            "-p",
            "shell",
            "--workspace",
            "/w",
            "--timeout=5s",
            "--",
            "x",
        ],
        &["run", "-p", "shell", "sh", "-c", "x", "--", "y"],
        &["run", "-p", "shell", "--", "-x"],
        &["run", "-p", "shell", "-x"],
        &["run", "-p", "--tty"],
        &["run"],
        &["run", "--", "x"],
        &["run", "--version"],
        &["--version"],
        &["serve"],
        &[],
    ];

    #[test]
    fn reads_every_accepted_line_as_clap_does() {
        let differ: Vec<_> = LINES
            .iter()
            .filter_map(|line| {
                let fast = parse(words(line)).map(|p| format!("{p:?}"))?;
                let clap = by_clap(line);
                (Some(&fast) != clap.as_ref())
                    .then(|| format!("{line:?}\n  fast {fast}\n  clap {clap:?}"))
            })
            .collect();
        assert!(differ.is_empty(), "{}", differ.join("\n"));
    }

    #[test]
    fn leaves_nothing_it_could_read_to_phantom_full() {
        // Not a correctness matter (phantom-full reads them alike) but a speed one:
        // the everyday command lines stay in this binary. (clap also takes some odd
        // ones, such as an unknown option read as the command's first word; those go.)
        let left: Vec<_> = LINES
            .iter()
            .filter(|line| by_clap(line).is_some() && parse(words(line)).is_none())
            .collect();
        let odd: &[&[&str]] = &[
            &["exec", "--seccomp-agent=-a", "b.pfb"],
            &["run", "--seccomp-agent", "a", "-p", "shell"],
            &["exec", "b.pfb", "x", "--", "y"],
            &["exec", "--pids", "+1", "b.pfb"],
            &["run", "-ppython-dev", "--", "x"],
            &["run", "-p=python-dev", "--", "x"],
            &["run", "-p", "shell", "--verify-key", "k", "--", "x"],
            &["run", "-p", "shell", "sh", "-c", "x", "--", "y"],
            &["run", "-p", "shell", "-x"],
            &["run", "--version"],
        ];
        assert_eq!(left, odd.iter().collect::<Vec<_>>());
    }

    #[test]
    fn knows_every_option_of_exec_and_run() {
        let cli = Cli::command();
        for (name, run) in [("exec", false), ("run", true)] {
            let sub = cli.find_subcommand(name).unwrap();
            for arg in sub.get_arguments() {
                let Some(long) = arg.get_long() else { continue };
                if long == "in" || long == "help" {
                    continue;
                }
                let takes_value = arg.get_action().takes_values();
                assert_eq!(
                    long_option(run, long).map(|(_, v)| v),
                    Some(takes_value),
                    "`{name} --{long}` unknown to fast_args or read with the wrong arity"
                );
                if let Some(short) = arg.get_short() {
                    assert_eq!(
                        short_option(run, short).map(|(_, v)| v),
                        Some(takes_value),
                        "`{name} -{short}`"
                    );
                }
            }
        }
    }

    /// Command lines drawn from the words both parsers care about: wherever the fast
    /// parser gives an answer, it is clap's.
    mod generated {
        use super::*;
        use proptest::prelude::*;

        const WORDS: &[&str] = &[
            "--",
            "-",
            "-t",
            "-p",
            "-x",
            "-tp",
            "--tty",
            "--tty=x",
            "--warm",
            "--in",
            "ws",
            "--workspace",
            "--workspace=/w",
            "/w",
            "--memory",
            "--memory=1G",
            "1G",
            "--cpu",
            "0.5",
            "--pids",
            "7",
            "+7",
            "-7",
            "--timeout",
            "1s",
            "--tmp-size",
            "--network",
            "none",
            "host",
            "--env",
            "A=1",
            "--env=B",
            "--allow-loosen",
            "--allow-degraded",
            "--verify-key",
            "k",
            "--seccomp-agent",
            "--profile",
            "--profile=shell",
            "shell",
            "--mode",
            "sandbox",
            "--mode=direct",
            "Sandbox",
            "b.pfb",
            "/bin/sh",
            "-c",
            "echo",
            "--help",
            "-h",
            "--version",
            "",
            "=",
            "--=",
        ];

        fn line() -> impl Strategy<Value = Vec<&'static str>> {
            (
                prop::sample::select(&["exec", "run"][..]),
                prop::collection::vec(prop::sample::select(WORDS), 0..8),
            )
                .prop_map(|(command, rest)| std::iter::once(command).chain(rest).collect())
        }

        proptest! {
            #![proptest_config(ProptestConfig {
                cases: 20_000,
                failure_persistence: None,
                ..ProptestConfig::default()
            })]
            #[test]
            fn agrees_with_clap_wherever_it_answers(line in line()) {
                if let Some(fast) = parse(words(&line)) {
                    prop_assert_eq!(Some(format!("{fast:?}")), by_clap(&line), "{:?}", line);
                }
            }
        }
    }
}
