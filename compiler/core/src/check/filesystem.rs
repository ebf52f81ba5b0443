//! Checking `filesystem { }`: entry kinds, paths, options.
//!
//! Paths are checked as text; nothing here looks at the host (a policy is compiled on
//! one machine and run on another). Whether sources exist is the runtime's question.

use std::collections::HashMap;

use pfp_syntax::ast::{self, FsOptionKind, PathLit, Scalar};
use pfp_syntax::Span;

use super::values::{parse_int, scale, size_unit, size_units_help, split_quantity};
use crate::codes::Code;
use crate::diagnostic::{Diagnostic, Diagnostics};
use crate::policy::{FsEntry, FsKind, Origin, PathTemplate};
use crate::source::FileId;
use crate::suggest::closest;

pub const KINDS: [&str; 8] = ["ro", "rw", "tmpfs", "proc", "dev", "dir", "symlink", "mask"];
pub const VARIABLES: [&str; 3] = ["workspace", "cwd", "home"];
const DEFAULT_MODE: u32 = 0o755;

/// Checks the entries of one layer; a target given twice in the layer is an error.
pub fn check_block(
    file: FileId,
    entries: &[ast::FsEntry],
    out: &mut Vec<FsEntry>,
    seen: &mut HashMap<String, (FileId, Span)>,
    diags: &mut Diagnostics,
) {
    for entry in entries {
        let Some(checked) = check_entry(file, entry, diags) else {
            continue;
        };
        if let Some((first_file, first)) = seen.get(&checked.target.0) {
            diags.push(
                Diagnostic::new(
                    Code::DuplicateTarget,
                    file,
                    entry.target.span,
                    format!("`{}` is given twice", checked.target.0),
                )
                .with_secondary(*first_file, *first, "first given here")
                .with_help(
                    "keep one entry per target; a policy that extends this one may replace it",
                ),
            );
            continue;
        }
        seen.insert(checked.target.0.clone(), (file, entry.target.span));
        out.push(checked);
    }
}

fn check_entry(file: FileId, entry: &ast::FsEntry, diags: &mut Diagnostics) -> Option<FsEntry> {
    let kind = entry.kind.name.as_str();
    if !KINDS.contains(&kind) {
        diags.push(
            Diagnostic::new(
                Code::UnknownEntryKind,
                file,
                entry.kind.span,
                format!("unknown filesystem entry `{kind}`"),
            )
            .with_suggestion(closest(kind, KINDS))
            .with_note("entries: ro, rw, tmpfs, proc, dev, dir, symlink, mask"),
        );
        return None;
    }
    let target = check_path(file, &entry.target, "target", diags);
    if let Some(t) = &target {
        if t.0 == "/" {
            diags.push(
                Diagnostic::new(Code::ImpossiblePlacement, file, entry.target.span, "an entry cannot replace the root")
                    .with_note("the sandbox's root is an empty read-only directory; mount what it needs beneath it"),
            );
        }
    }

    let mut from = None;
    let mut to = None;
    let mut size = None;
    let mut mode = None;
    let mut optional = false;
    let mut seen: Vec<&'static str> = Vec::new();
    let mut ok = true;
    for option in &entry.options {
        let name = match option.kind {
            FsOptionKind::From(_) => "from",
            FsOptionKind::To(_) => "to",
            FsOptionKind::Size(_) => "size",
            FsOptionKind::Mode(_) => "mode",
            FsOptionKind::Optional => "optional",
        };
        let allowed: &[&str] = match kind {
            "ro" | "rw" => &["from", "optional"],
            "tmpfs" => &["size", "mode"],
            "dir" => &["mode"],
            "symlink" => &["to"],
            _ => &[],
        };
        if !allowed.contains(&name) {
            let help = if allowed.is_empty() {
                format!("`{kind}` takes no options")
            } else {
                format!("`{kind}` takes: {}", allowed.join(", "))
            };
            diags.push(
                Diagnostic::new(
                    Code::InvalidOption,
                    file,
                    option.span,
                    format!("`{name}` does not apply to `{kind}`"),
                )
                .with_help(help),
            );
            ok = false;
            continue;
        }
        if seen.contains(&name) {
            diags.push(Diagnostic::new(
                Code::InvalidOption,
                file,
                option.span,
                format!("`{name}` is given twice"),
            ));
            ok = false;
            continue;
        }
        seen.push(name);
        match &option.kind {
            FsOptionKind::From(path) => {
                from = check_path(file, path, "source", diags).or_else(|| {
                    ok = false;
                    None
                })
            }
            FsOptionKind::To(path) => {
                if path.value.is_empty() {
                    diags.push(Diagnostic::new(
                        Code::InvalidOption,
                        file,
                        path.span,
                        "a symlink needs a non-empty `to`",
                    ));
                    ok = false;
                }
                to = Some(path.value.clone());
            }
            FsOptionKind::Size(scalar) => {
                size = check_size(file, scalar, diags).or_else(|| {
                    ok = false;
                    None
                })
            }
            FsOptionKind::Mode(number) => {
                mode = check_mode(file, number, diags).or_else(|| {
                    ok = false;
                    None
                })
            }
            FsOptionKind::Optional => optional = true,
        }
    }
    let target = target?;
    if !ok {
        return None;
    }
    let kind = match kind {
        "ro" | "rw" => FsKind::Bind {
            source: from.unwrap_or_else(|| target.clone()),
            writable: kind == "rw",
            optional,
        },
        "tmpfs" => FsKind::Tmpfs {
            size,
            mode: mode.unwrap_or(DEFAULT_MODE),
        },
        "proc" => FsKind::Proc,
        "dev" => FsKind::Dev,
        "dir" => FsKind::Dir {
            mode: mode.unwrap_or(DEFAULT_MODE),
        },
        "symlink" => match to {
            Some(to) => FsKind::Symlink { to },
            None => {
                diags.push(
                    Diagnostic::new(
                        Code::InvalidOption,
                        file,
                        entry.span,
                        "a symlink needs `to`",
                    )
                    .with_help(format!("write `symlink {} to \"LINK\"`", target.0)),
                );
                return None;
            }
        },
        _ => FsKind::Mask,
    };
    Some(FsEntry {
        target,
        kind,
        origin: Origin {
            file,
            span: entry.span,
        },
    })
}

/// An absolute, normalized path, possibly starting with or containing variables.
pub fn check_path(
    file: FileId,
    path: &PathLit,
    role: &str,
    diags: &mut Diagnostics,
) -> Option<PathTemplate> {
    let value = path.value.as_str();
    let template = PathTemplate(value.to_string());
    let mut ok = true;
    for variable in template.variables() {
        if !VARIABLES.contains(&variable) {
            diags.push(
                Diagnostic::new(
                    Code::UnknownVariable,
                    file,
                    path.span,
                    format!("unknown variable `${{{variable}}}`"),
                )
                .with_suggestion(closest(variable, VARIABLES).map(|v| format!("${{{v}}}")))
                .with_note("variables: ${workspace}, ${cwd}, ${home}"),
            );
            ok = false;
        }
    }
    if !(value.starts_with('/') || value.starts_with("${")) {
        diags.push(
            Diagnostic::new(
                Code::RelativePath,
                file,
                path.span,
                format!("the {role} `{value}` is not an absolute path"),
            )
            .with_help(format!("write `/{}`", value.trim_start_matches("./"))),
        );
        return None;
    }
    if value != "/" {
        let body = value.strip_prefix('/').unwrap_or(value);
        let bad = body
            .split('/')
            .find(|c| c.is_empty() || *c == "." || *c == "..");
        if let Some(component) = bad {
            let what = if component.is_empty() {
                "an empty component (`//` or a trailing `/`)".to_string()
            } else {
                format!("`{component}`")
            };
            diags.push(
                Diagnostic::new(
                    Code::UnnormalizedPath,
                    file,
                    path.span,
                    format!("the {role} `{value}` contains {what}"),
                )
                .with_help(format!("write `{}`", normalized(value))),
            );
            return None;
        }
    }
    ok.then_some(template)
}

fn normalized(path: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for component in path.split('/') {
        match component {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            c => parts.push(c),
        }
    }
    if path.starts_with("${") {
        parts.join("/")
    } else {
        format!("/{}", parts.join("/"))
    }
}

pub fn check_size(file: FileId, scalar: &Scalar, diags: &mut Diagnostics) -> Option<u64> {
    let (text, span) = match scalar {
        Scalar::Number(n) | Scalar::Quantity(n) => (n.text.as_str(), n.span),
    };
    let (number, unit) = split_quantity(text);
    let multiplier = if unit.is_empty() {
        Some(1)
    } else {
        size_unit(unit)
    };
    let Some(multiplier) = multiplier else {
        diags.push(
            Diagnostic::new(
                Code::WrongUnit,
                file,
                span,
                format!("`{unit}` is not a size unit"),
            )
            .with_help(size_units_help()),
        );
        return None;
    };
    match scale(number, multiplier) {
        Ok(v) => Some(v),
        Err(e) => {
            diags.push(Diagnostic::new(Code::InvalidNumber, file, span, e.message));
            None
        }
    }
}

fn check_mode(file: FileId, number: &ast::Number, diags: &mut Diagnostics) -> Option<u32> {
    match parse_int(&number.text) {
        Ok(v) if (0..=0o7777).contains(&v) => u32::try_from(v).ok(),
        Ok(v) => {
            let octal = if number.text.starts_with("0o") {
                String::new()
            } else {
                format!(" ({v:#o})")
            };
            diags.push(
                Diagnostic::new(
                    Code::InvalidMode,
                    file,
                    number.span,
                    format!("mode `{}`{octal} is larger than 0o7777", number.text),
                )
                .with_help("modes are best written in octal, such as `0o755`"),
            );
            None
        }
        Err(e) => {
            let mut diag = Diagnostic::new(Code::InvalidMode, file, number.span, e.message);
            if let Some(help) = e.help {
                diag = diag.with_help(help);
            }
            diags.push(diag);
            None
        }
    }
}

/// Checks the merged plan for entries the mount plan could not place.
pub fn check_placement(entries: &[FsEntry], diags: &mut Diagnostics) {
    let by_target: HashMap<&str, &FsEntry> =
        entries.iter().map(|e| (e.target.0.as_str(), e)).collect();
    for entry in entries {
        // Walk up the target's ancestors: linear in the number of entries.
        let mut ancestor = entry.target.0.as_str();
        // A mask is as durable as the nearest bind above it is read-only.
        let mut under_read_only_bind = false;
        while let Some(cut) = ancestor.rfind('/').filter(|&i| i > 0) {
            ancestor = ancestor.get(..cut).unwrap_or_default();
            let Some(parent) = by_target.get(ancestor).copied() else {
                continue;
            };
            if matches!(
                parent.kind,
                FsKind::Bind {
                    writable: false,
                    ..
                }
            ) {
                under_read_only_bind = true;
            }
            if matches!(entry.kind, FsKind::Mask)
                && !under_read_only_bind
                && matches!(parent.kind, FsKind::Bind { writable: true, .. })
            {
                diags.push(
                    Diagnostic::new(
                        Code::MaskInWritableBind,
                        entry.origin.file,
                        entry.origin.span,
                        format!(
                            "`{}` is masked inside `{}`, which the sandbox may write",
                            entry.target.0, parent.target.0
                        ),
                    )
                    .with_secondary(parent.origin.file, parent.origin.span, "writable here")
                    .with_help("the workload can move what the mask hides and read it under another name; keep it out of the writable directory"),
                );
                continue;
            }
            let creates_on_host = matches!(entry.kind, FsKind::Dir { .. } | FsKind::Symlink { .. });
            let blocked = match parent.kind {
                FsKind::Symlink { .. } => "a symlink",
                FsKind::Mask => "a masked path",
                FsKind::Proc if !matches!(entry.kind, FsKind::Mask) => "`proc`",
                // Creating it would write into the host directory behind the bind.
                FsKind::Bind { .. } if creates_on_host => "a bind mount of a host directory",
                _ => continue,
            };
            diags.push(
                Diagnostic::new(
                    Code::ImpossiblePlacement,
                    entry.origin.file,
                    entry.origin.span,
                    format!("`{}` lies under {blocked} at `{}`", entry.target.0, parent.target.0),
                )
                .with_secondary(parent.origin.file, parent.origin.span, "this entry")
                .with_note("the mount plan cannot create it there: only `mask` may go under `proc`, nothing under a symlink or a mask, and no `dir` or `symlink` inside a bind (it would be created on the host)"),
            );
        }
    }
}
