//! Checking `resources { }`, `network` and `process { }`: key–value settings.
//!
//! Each layer's settings are checked on their own, then applied over the inherited
//! ones setting by setting (the driver does that); a setting given twice in one layer
//! is an error.

use std::collections::{BTreeMap, HashMap};

use pfp_syntax::ast::{Ident, NetworkKind, PropValue, PropValueKind, Property};
use pfp_syntax::Span;

use super::filesystem::check_path;
use super::values::{
    duration_unit, duration_units_help, parse_int, parse_millis, scale, size_unit, size_units_help,
    split_quantity,
};
use crate::codes::Code;
use crate::diagnostic::{Diagnostic, Diagnostics};
use crate::policy::{Limit, Network, PathTemplate, Resources};
use crate::source::FileId;
use crate::suggest::closest;

pub const RESOURCE_SETTINGS: [&str; 9] = [
    "memory",
    "swap",
    "cpu",
    "pids",
    "timeout",
    "cpu-time",
    "open-files",
    "file-size",
    "tmp-size",
];
pub const PROCESS_SETTINGS: [&str; 7] = ["command", "cwd", "hostname", "uid", "gid", "env", "pass"];
const MIN_MEMORY: u64 = 1 << 20;
/// The kernel's default `fs.nr_open`; RLIMIT_NOFILE cannot go above it.
const MAX_OPEN_FILES: u64 = 1 << 20;
/// A million CPUs, in thousandths: far beyond any machine, far within the kernel's
/// largest quota.
const MAX_CPU_MILLIS: u64 = 1_000_000_000;

/// Reports a key given twice in one block; returns whether it is new.
fn first_time(
    file: FileId,
    key: &Ident,
    seen: &mut HashMap<String, (FileId, Span)>,
    code: Code,
    diags: &mut Diagnostics,
) -> bool {
    if let Some((first_file, first)) = seen.get(&key.name) {
        diags.push(
            Diagnostic::new(
                code,
                file,
                key.span,
                format!("`{}` is given twice", key.name),
            )
            .with_secondary(*first_file, *first, "first given here"),
        );
        return false;
    }
    seen.insert(key.name.clone(), (file, key.span));
    true
}

enum Kind {
    Size,
    Duration,
    Count,
    Cores,
}

pub fn resources(
    file: FileId,
    props: &[Property],
    out: &mut Resources,
    seen: &mut HashMap<String, (FileId, Span)>,
    diags: &mut Diagnostics,
) {
    for prop in props {
        let key = prop.key.name.as_str();
        let (kind, slot) = match key {
            "memory" => (Kind::Size, &mut out.memory),
            "swap" => (Kind::Size, &mut out.swap),
            "file-size" => (Kind::Size, &mut out.file_size),
            "tmp-size" => (Kind::Size, &mut out.tmp_size),
            "timeout" => (Kind::Duration, &mut out.timeout_ms),
            "cpu-time" => (Kind::Duration, &mut out.cpu_time_s),
            "pids" => (Kind::Count, &mut out.pids),
            "open-files" => (Kind::Count, &mut out.open_files),
            "cpu" => (Kind::Cores, &mut out.cpu_millis),
            _ => {
                diags.push(
                    Diagnostic::new(
                        Code::UnknownResource,
                        file,
                        prop.key.span,
                        format!("unknown resource setting `{key}`"),
                    )
                    .with_suggestion(closest(key, RESOURCE_SETTINGS))
                    .with_note(format!("settings: {}", RESOURCE_SETTINGS.join(", "))),
                );
                continue;
            }
        };
        if !first_time(file, &prop.key, seen, Code::DuplicateSetting, diags) {
            continue;
        }
        let Some(limit) = limit_value(file, key, &kind, &prop.value, diags) else {
            continue;
        };
        if let Limit::Value(v) = limit {
            let problem = match key {
                "memory" if v < MIN_MEMORY => {
                    Some("memory below 1 MiB: no program can start".to_string())
                }
                "pids" if v == 0 => Some("0 pids: not even the first process could run".into()),
                "open-files" if v == 0 => Some("0 open files: not even stdin could be open".into()),
                "open-files" if v > MAX_OPEN_FILES => Some(format!(
                    "more than {MAX_OPEN_FILES} open files, the kernel's maximum"
                )),
                "timeout" if v == 0 => Some("a timeout of 0 ends every run at once".into()),
                "cpu-time" if v == 0 => Some("0 s of CPU time ends every run at once".into()),
                "cpu" if v == 0 => Some("0 CPUs: the workload could never run".into()),
                // Thousandths of a CPU; the kernel's quota is at least 1 ms of each
                // 100 ms period.
                "cpu" if v < 10 => Some(
                    "under 0.01 CPU: the kernel's smallest quota is 1 ms of every 100 ms".into(),
                ),
                "cpu" if v > MAX_CPU_MILLIS => Some(format!(
                    "more than {} CPUs, beyond what the kernel's quota can express",
                    MAX_CPU_MILLIS / 1000
                )),
                "tmp-size" if v == 0 => Some("a /tmp of 0 bytes".into()),
                _ => None,
            };
            if let Some(problem) = problem {
                let help = if problem.starts_with("more than") {
                    "lower the limit"
                } else {
                    "raise the limit, or write `unlimited`"
                };
                diags.push(
                    Diagnostic::new(Code::ImpossibleValue, file, prop.value.span, problem)
                        .with_help(help),
                );
                continue;
            }
        }
        *slot = Some(limit);
    }
}

fn limit_value(
    file: FileId,
    key: &str,
    kind: &Kind,
    value: &PropValue,
    diags: &mut Diagnostics,
) -> Option<Limit> {
    let span = value.span;
    let fail = |diags: &mut Diagnostics, code: Code, message: String, help: String| {
        diags.push(Diagnostic::new(code, file, span, message).with_help(help));
        None
    };
    let expected = match kind {
        Kind::Size => size_units_help(),
        Kind::Duration => duration_units_help(),
        Kind::Count => format!("`{key}` is a count: a whole number without a unit"),
        Kind::Cores => "`cpu` is a number of CPUs, such as `2` or `0.5`".into(),
    };
    let (number, unit) = match &value.kind {
        PropValueKind::Ident(word) if word == "unlimited" && key == "open-files" => {
            return fail(
                diags,
                Code::ImpossibleValue,
                "`open-files` cannot be unlimited: the kernel caps it at fs.nr_open".into(),
                format!("give a number, at most {MAX_OPEN_FILES}"),
            );
        }
        PropValueKind::Ident(word) if word == "unlimited" => return Some(Limit::Unlimited),
        PropValueKind::Number(text) => (text.as_str(), ""),
        PropValueKind::Quantity(text) => split_quantity(text),
        _ => {
            return fail(
                diags,
                Code::WrongUnit,
                format!("`{key}` takes a number"),
                expected,
            );
        }
    };
    let result = match kind {
        Kind::Size => match if unit.is_empty() {
            Some(1)
        } else {
            size_unit(unit)
        } {
            Some(m) => scale(number, m),
            None => {
                return fail(
                    diags,
                    Code::WrongUnit,
                    format!("`{unit}` is not a size unit"),
                    expected,
                )
            }
        },
        Kind::Duration => match if unit.is_empty() {
            Some(1000)
        } else {
            duration_unit(unit)
        } {
            Some(m) => match scale(number, m) {
                // RLIMIT_CPU counts whole seconds: 1ms would have become 1 s, 1000 times
                // more than written.
                Ok(ms) if key == "cpu-time" && ms % 1000 != 0 => {
                    return fail(
                        diags,
                        Code::ImpossibleValue,
                        format!("`{number}{unit}` is not a whole number of seconds, which is all the kernel counts CPU time in"),
                        "write whole seconds (`cpu-time 2s`, `cpu-time 1m`)".into(),
                    )
                }
                Ok(ms) if key == "cpu-time" => Ok(ms / 1000),
                other => other,
            },
            None => {
                return fail(
                    diags,
                    Code::WrongUnit,
                    format!("`{unit}` is not a duration unit"),
                    expected,
                )
            }
        },
        Kind::Count => {
            if !unit.is_empty() {
                return fail(
                    diags,
                    Code::WrongUnit,
                    format!("`{key}` takes no unit"),
                    expected,
                );
            }
            match parse_int(number) {
                Ok(v) => u64::try_from(v).map_err(|_| super::values::LiteralError {
                    message: format!("`{number}` is negative"),
                    help: None,
                }),
                Err(e) => Err(e),
            }
        }
        Kind::Cores => {
            if !unit.is_empty() {
                return fail(
                    diags,
                    Code::WrongUnit,
                    format!("`{key}` takes no unit"),
                    expected,
                );
            }
            parse_millis(number)
        }
    };
    match result {
        Ok(v) => Some(Limit::Value(v)),
        Err(e) => {
            let mut diag = Diagnostic::new(Code::InvalidNumber, file, span, e.message);
            if let Some(help) = e.help {
                diag = diag.with_help(help);
            }
            diags.push(diag);
            None
        }
    }
}

pub fn network(file: FileId, kind: &NetworkKind, diags: &mut Diagnostics) -> Option<Network> {
    match kind {
        NetworkKind::Mode(mode) => match mode.name.as_str() {
            "none" => Some(Network::None),
            "host" => Some(Network::Host),
            other => {
                diags.push(
                    Diagnostic::new(
                        Code::UnknownNetworkMode,
                        file,
                        mode.span,
                        format!("unknown network mode `{other}`"),
                    )
                    .with_suggestion(closest(other, ["none", "host"]))
                    .with_note("network is `none`, `host` or `{ connect [PORTS] bind [PORTS] }`"),
                );
                None
            }
        },
        NetworkKind::Rules(rules) => {
            let mut connect = Vec::new();
            let mut bind = Vec::new();
            let mut seen = HashMap::new();
            let mut ok = true;
            for rule in rules {
                let list = match rule.key.name.as_str() {
                    "connect" => &mut connect,
                    "bind" => &mut bind,
                    other => {
                        diags.push(
                            Diagnostic::new(
                                Code::InvalidPort,
                                file,
                                rule.key.span,
                                format!("unknown network rule `{other}`"),
                            )
                            .with_suggestion(closest(other, ["connect", "bind"])),
                        );
                        ok = false;
                        continue;
                    }
                };
                if !first_time(file, &rule.key, &mut seen, Code::InvalidPort, diags) {
                    ok = false;
                    continue;
                }
                let items: Vec<&PropValue> = match &rule.value.kind {
                    PropValueKind::List(items) => items.iter().collect(),
                    _ => vec![&rule.value],
                };
                for item in items {
                    let port = match &item.kind {
                        PropValueKind::Number(text) => parse_int(text)
                            .ok()
                            .and_then(|v| u16::try_from(v).ok())
                            .filter(|p| *p > 0),
                        _ => None,
                    };
                    match port {
                        Some(p) => list.push(p),
                        None => {
                            diags.push(
                                Diagnostic::new(
                                    Code::InvalidPort,
                                    file,
                                    item.span,
                                    "not a TCP port",
                                )
                                .with_note("ports are numbers from 1 to 65535"),
                            );
                            ok = false;
                        }
                    }
                }
                list.sort_unstable();
                list.dedup();
            }
            ok.then_some(Network::Filtered { connect, bind })
        }
    }
}

/// Process settings of one layer; `None` fields were not given.
#[derive(Default)]
pub struct ProcessLayer {
    pub command: Option<Vec<String>>,
    pub cwd: Option<PathTemplate>,
    pub hostname: Option<String>,
    pub uid: Option<u32>,
    pub gid: Option<u32>,
    pub env: BTreeMap<String, String>,
    pub pass: Option<Vec<String>>,
}

fn valid_env_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn valid_hostname(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name.split('.').all(|label| {
            !label.is_empty()
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
}

pub fn process(
    file: FileId,
    props: &[Property],
    out: &mut ProcessLayer,
    seen: &mut HashMap<String, (FileId, Span)>,
    diags: &mut Diagnostics,
) {
    for prop in props {
        let key = prop.key.name.as_str();
        if !PROCESS_SETTINGS.contains(&key) {
            diags.push(
                Diagnostic::new(
                    Code::UnknownProcessSetting,
                    file,
                    prop.key.span,
                    format!("unknown process setting `{key}`"),
                )
                .with_suggestion(closest(key, PROCESS_SETTINGS))
                .with_note(format!("settings: {}", PROCESS_SETTINGS.join(", "))),
            );
            continue;
        }
        if !first_time(file, &prop.key, seen, Code::DuplicateSetting, diags) {
            continue;
        }
        let value = &prop.value;
        let invalid = |diags: &mut Diagnostics, message: &str, help: &str| {
            diags.push(
                Diagnostic::new(Code::InvalidProcessValue, file, value.span, message)
                    .with_help(help),
            );
        };
        match (key, &value.kind) {
            ("command", PropValueKind::List(items)) => {
                let words: Option<Vec<String>> = items
                    .iter()
                    .map(|i| match &i.kind {
                        PropValueKind::Str(s) => Some(s.clone()),
                        _ => None,
                    })
                    .collect();
                match words {
                    Some(words) if words.first().is_some_and(|w| !w.is_empty()) => {
                        out.command = Some(words)
                    }
                    Some(_) => invalid(
                        diags,
                        "`command` is empty",
                        "name the program: `command [\"python3\"]`",
                    ),
                    None => invalid(
                        diags,
                        "`command` is a list of strings",
                        "quote each word: `command [\"python3\", \"-I\"]`",
                    ),
                }
            }
            ("command", _) => invalid(
                diags,
                "`command` is a list of strings",
                "write `command [\"python3\", \"-I\"]`",
            ),
            ("cwd", PropValueKind::Path(p) | PropValueKind::Str(p)) => {
                let lit = pfp_syntax::ast::PathLit {
                    value: p.clone(),
                    quoted: false,
                    span: value.span,
                };
                out.cwd = check_path(file, &lit, "working directory", diags);
            }
            ("cwd", _) => invalid(diags, "`cwd` is a path", "write `cwd /workspace`"),
            ("hostname", PropValueKind::Str(name)) if valid_hostname(name) => {
                out.hostname = Some(name.clone())
            }
            ("hostname", _) => invalid(
                diags,
                "not a valid host name",
                "write a quoted name of letters, digits, `-` and `.`, at most 64 characters",
            ),
            ("uid" | "gid", PropValueKind::Number(text)) => match parse_int(text)
                .ok()
                .and_then(|v| u32::try_from(v).ok())
                .filter(|v| *v != u32::MAX)
            {
                Some(id) if key == "uid" => out.uid = Some(id),
                Some(id) => out.gid = Some(id),
                None => invalid(
                    diags,
                    &format!("`{key}` is out of range"),
                    "ids go from 0 to 4294967294",
                ),
            },
            ("uid" | "gid", _) => invalid(
                diags,
                &format!("`{key}` is a number"),
                &format!("write `{key} 1000`"),
            ),
            ("env", PropValueKind::Map(entries)) => {
                let mut seen_vars: HashMap<String, (FileId, Span)> = HashMap::new();
                for (name, v) in entries {
                    if !valid_env_name(&name.name) {
                        diags.push(
                            Diagnostic::new(
                                Code::InvalidProcessValue,
                                file,
                                name.span,
                                format!("`{}` is not a valid variable name", name.name),
                            )
                            .with_help(
                                "names are letters, digits and `_`, not starting with a digit",
                            ),
                        );
                        continue;
                    }
                    if !first_time(file, name, &mut seen_vars, Code::DuplicateSetting, diags) {
                        continue;
                    }
                    match &v.kind {
                        PropValueKind::Str(s) => {
                            out.env.insert(name.name.clone(), s.clone());
                        }
                        _ => diags.push(
                            Diagnostic::new(
                                Code::InvalidProcessValue,
                                file,
                                v.span,
                                "environment values are strings",
                            )
                            .with_help(format!("write `{} = \"…\"`", name.name)),
                        ),
                    }
                }
            }
            ("env", _) => invalid(diags, "`env` is a map", "write `env { NAME = \"value\" }`"),
            ("pass", PropValueKind::List(items)) => {
                let mut names = Vec::new();
                for item in items {
                    match &item.kind {
                        PropValueKind::Ident(n) | PropValueKind::Str(n) if valid_env_name(n) => {
                            names.push(n.clone())
                        }
                        _ => diags.push(
                            Diagnostic::new(
                                Code::InvalidProcessValue,
                                file,
                                item.span,
                                "not a variable name",
                            )
                            .with_help("write `pass [TERM, LANG]`"),
                        ),
                    }
                }
                out.pass = Some(names);
            }
            (_, _) => invalid(
                diags,
                "`pass` is a list of variable names",
                "write `pass [TERM, LANG]`",
            ),
        }
    }
}
