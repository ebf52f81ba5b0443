//! Stage 4: checking. Gives the layers meaning and merges them into one [`Policy`].
//!
//! Each layer is checked on its own (so duplicates and shadowed rules are reported
//! where the author wrote them), then laid over the layers beneath it as
//! docs/language.md specifies: syscall rules replaced per syscall, filesystem entries
//! per target, settings one by one, `env` per variable, `default` and `network` whole.
//! Checking goes on after an error, so one run reports every mistake; a policy is
//! produced only when there is no error.

mod filesystem;
mod settings;
mod syscalls;
pub mod values;

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use pfp_syntax::ast::Item;
use pfp_syntax::Span;

use crate::codes::Code;
use crate::diagnostic::{Diagnostic, Diagnostics};
use crate::policy::{
    Action, ArchRules, FsEntry, Limit, Network, Origin, Policy, Process, Resources, Rule,
    SyscallRules, Syscalls, DEFAULT_ID,
};
use crate::resolve::{Layer, Resolved};
use crate::source::{FileId, SourceMap};
use crate::tables::{self, Arch};

pub use filesystem::{KINDS as FS_KINDS, VARIABLES};
pub use settings::{PROCESS_SETTINGS, RESOURCE_SETTINGS};
pub use syscalls::ACTIONS;

/// Checks resolved layers; returns the merged policy (meaningful only without errors).
pub fn check_layers(resolved: &Resolved, sources: &SourceMap, diags: &mut Diagnostics) -> Policy {
    let mut sets = syscalls::Sets::new();
    let all_items = resolved
        .prelude
        .items
        .iter()
        .chain(resolved.layers.iter().flat_map(|l| l.items.iter()));
    for (file, item) in all_items {
        if let Item::Syscalls(block) = item {
            sets.collect(*file, &block.items, diags);
        }
    }

    let mut merged = Merged::default();
    for layer in &resolved.layers {
        // A policy's name is its own, never its base's.
        merged.name = None;
        check_layer(layer, &mut sets, &mut merged, diags);
    }
    sets.check_all(diags);
    filesystem::check_placement(&merged.filesystem, diags);

    let root = resolved.layers.last().map(|l| l.file);
    let name = merged
        .name
        .clone()
        .unwrap_or_else(|| root.map_or_else(|| "policy".into(), |f| default_name(sources, f)));
    let mut resources = merged.resources;
    if resources.swap.is_none() {
        // A memory limit is only a limit if the workload cannot swap past it.
        resources.swap = Some(Limit::Value(0));
    }
    let mut arches: BTreeMap<Arch, ArchRules> = Arch::ALL
        .iter()
        .map(|a| (*a, ArchRules::default()))
        .collect();
    for ((arch, nr), rules) in merged.rules {
        let name = tables::syscall_by_nr(arch, nr).map_or("?", |s| s.name);
        arches
            .entry(arch)
            .or_default()
            .syscalls
            .insert(nr, SyscallRules { name, rules });
    }
    let (default, default_origin) = match merged.default {
        Some((action, origin)) => (action, Some(origin)),
        None => (Action::Kill, None),
    };
    let policy = Policy {
        name,
        description: merged.description,
        syscalls: Syscalls {
            default,
            default_origin,
            arches,
        },
        filesystem: merged.filesystem,
        resources,
        network: merged.network.unwrap_or(Network::None),
        process: Process {
            command: merged.process.command,
            cwd: merged.process.cwd,
            hostname: merged.process.hostname,
            uid: merged.process.uid.unwrap_or(DEFAULT_ID),
            gid: merged.process.gid.unwrap_or(DEFAULT_ID),
            env: merged.process.env,
            pass: merged.process.pass.unwrap_or_default(),
        },
    };
    notify_with_ports_to_bind(&policy, diags);
    policy
}

/// `notify` rules cannot come with ports to bind: phantom supervises `listen` there,
/// and a process has one supervisor (`Code::NotifyWithPortsToBind`).
fn notify_with_ports_to_bind(policy: &Policy, diags: &mut Diagnostics) {
    let Network::Filtered { bind, .. } = &policy.network else {
        return;
    };
    if bind.is_empty() {
        return;
    }
    let default = (policy.syscalls.default == Action::Notify)
        .then_some(policy.syscalls.default_origin)
        .flatten();
    let rule = policy
        .syscalls
        .arches
        .values()
        .flat_map(|a| a.syscalls.values())
        .flat_map(|s| s.rules.iter())
        .find(|r| r.action == Action::Notify)
        .map(|r| r.origin);
    if let Some(origin) = rule.or(default) {
        diags.push(
            Diagnostic::new(
                Code::NotifyWithPortsToBind,
                origin.file,
                origin.span,
                "a `notify` rule in a policy whose network has ports to bind",
            )
            .with_note(
                "phantom answers `listen` itself there, and a process has one supervisor: drop the `notify` rules or the ports to bind",
            ),
        );
    }
}

/// The name of a policy that has no `policy` item: its file's stem.
fn default_name(sources: &SourceMap, file: FileId) -> String {
    let name = sources.name(file);
    let base = name.rsplit('/').next().unwrap_or(name);
    Path::new(base)
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or(base)
        .to_string()
}

#[derive(Default)]
struct Merged {
    name: Option<String>,
    description: Option<String>,
    default: Option<(Action, Origin)>,
    rules: BTreeMap<(Arch, u32), Vec<Rule>>,
    filesystem: Vec<FsEntry>,
    /// Position of each target in `filesystem`.
    fs_index: HashMap<String, usize>,
    resources: Resources,
    network: Option<Network>,
    process: settings::ProcessLayer,
}

fn check_layer<'a>(
    layer: &'a Layer,
    sets: &mut syscalls::Sets<'a>,
    merged: &mut Merged,
    diags: &mut Diagnostics,
) {
    let mut once: HashMap<&str, (FileId, Span)> = HashMap::new();
    let mut only_once =
        |diags: &mut Diagnostics, what: &'static str, file: FileId, span: Span| -> bool {
            if let Some((first_file, first)) = once.get(what) {
                diags.push(
                    Diagnostic::new(
                        Code::DuplicateItem,
                        file,
                        span,
                        format!("`{what}` is given twice"),
                    )
                    .with_secondary(*first_file, *first, "first given here"),
                );
                return false;
            }
            once.insert(what, (file, span));
            true
        };

    let mut rules = syscalls::LayerSyscalls::default();
    let mut filesystem = Vec::new();
    let mut fs_seen = HashMap::new();
    let mut resources = Resources::default();
    let mut resources_seen = HashMap::new();
    let mut process = settings::ProcessLayer::default();
    let mut process_seen = HashMap::new();
    let mut network = None;

    for (file, item) in &layer.items {
        let file = *file;
        match item {
            Item::Policy { name, .. } => {
                if only_once(diags, "policy", file, item.span()) {
                    if name.value.trim().is_empty() {
                        diags.push(Diagnostic::new(
                            Code::EmptyName,
                            file,
                            name.span,
                            "the policy name is empty",
                        ));
                    }
                    merged.name = Some(name.value.clone());
                }
            }
            Item::Description { text, .. } => {
                if only_once(diags, "description", file, item.span()) {
                    merged.description = Some(text.value.clone());
                }
            }
            Item::Syscalls(block) => {
                let mut checker = syscalls::Checker {
                    sets,
                    diags,
                    out: std::mem::take(&mut rules),
                };
                checker.block(file, &block.items, None);
                rules = checker.out;
            }
            Item::Filesystem(block) => {
                filesystem::check_block(file, &block.items, &mut filesystem, &mut fs_seen, diags)
            }
            Item::Resources(block) => settings::resources(
                file,
                &block.items,
                &mut resources,
                &mut resources_seen,
                diags,
            ),
            Item::Process(block) => {
                settings::process(file, &block.items, &mut process, &mut process_seen, diags)
            }
            Item::Network(n) => {
                if only_once(diags, "network", file, n.span) {
                    network = settings::network(file, &n.kind, diags);
                }
            }
            // Composition items were handled by `resolve`; error items were reported.
            Item::Extends { .. } | Item::Include { .. } | Item::Error(_) => {}
        }
    }

    syscalls::diagnose_shadowing(&rules.rules, diags);
    if rules.default.is_some() {
        merged.default = rules.default;
    }
    for (key, list) in rules.rules {
        let list = list.into_iter().map(|r| r.rule);
        if layer.restrict_only {
            // A mode's overlay adds refusals next to the inherited rules (the strictest
            // matching rule wins), so it can never let through what the policy refused.
            let added = merged.rules.entry(key).or_default();
            for rule in list {
                if rule.action == crate::policy::Action::Allow {
                    diags.push(Diagnostic::new(
                        Code::DuplicateItem,
                        rule.origin.file,
                        rule.origin.span,
                        "a mode's overlay may only refuse, never allow",
                    ));
                } else {
                    added.push(rule);
                }
            }
        } else {
            merged.rules.insert(key, list.collect());
        }
    }
    for entry in filesystem {
        match merged.fs_index.get(&entry.target.0).copied() {
            Some(i) => {
                if let Some(slot) = merged.filesystem.get_mut(i) {
                    *slot = entry;
                }
            }
            None => {
                merged
                    .fs_index
                    .insert(entry.target.0.clone(), merged.filesystem.len());
                merged.filesystem.push(entry);
            }
        }
    }
    overlay_resources(&mut merged.resources, resources);
    if network.is_some() {
        merged.network = network;
    }
    let p = &mut merged.process;
    p.command = process.command.or(p.command.take());
    p.cwd = process.cwd.or(p.cwd.take());
    p.hostname = process.hostname.or(p.hostname.take());
    p.uid = process.uid.or(p.uid);
    p.gid = process.gid.or(p.gid);
    p.env.extend(process.env);
    p.pass = process.pass.or(p.pass.take());
}

fn overlay_resources(base: &mut Resources, layer: Resources) {
    let Resources {
        memory,
        swap,
        cpu_millis,
        pids,
        timeout_ms,
        cpu_time_s,
        open_files,
        file_size,
        tmp_size,
    } = layer;
    for (slot, value) in [
        (&mut base.memory, memory),
        (&mut base.swap, swap),
        (&mut base.cpu_millis, cpu_millis),
        (&mut base.pids, pids),
        (&mut base.timeout_ms, timeout_ms),
        (&mut base.cpu_time_s, cpu_time_s),
        (&mut base.open_files, open_files),
        (&mut base.file_size, file_size),
        (&mut base.tmp_size, tmp_size),
    ] {
        if value.is_some() {
            *slot = value;
        }
    }
}
