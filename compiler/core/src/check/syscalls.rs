//! Checking `syscalls { }`: actions, targets, sets, conditions, per architecture.
//!
//! The output of one layer is a map from (architecture, syscall number) to rules; the
//! driver merges layers (a layer replaces inherited rules for every syscall it names).
//! Shadowed and conflicting rules are diagnosed here, within one layer, where the
//! author can act on them.

use std::collections::{BTreeMap, HashMap};
use std::rc::Rc;
use std::sync::OnceLock;

use pfp_syntax::ast::{self, CmpOp, ConditionKind, ErrnoValue, SyscallItem, Target, ValueKind};
use pfp_syntax::Span;

use super::values::parse_int;
use crate::codes::Code;
use crate::diagnostic::{Diagnostic, Diagnostics};
use crate::policy::{Action, ArgTest, Condition, Origin, Rule, Test};
use crate::source::FileId;
use crate::suggest::closest;
use crate::tables::{self, Arch, ArgType, Syscall};

/// Sets may contain sets this deep; expansion recurses once per level.
const MAX_SET_NESTING: usize = 64;

pub const ACTIONS: [&str; 8] = [
    "allow",
    "deny",
    "errno",
    "kill",
    "kill-thread",
    "trap",
    "log",
    "notify",
];

/// A set definition, from any layer or the prelude.
struct SetDef<'a> {
    file: FileId,
    name_span: Span,
    targets: &'a [Target],
}

/// The syscall sets of a whole policy, expanded on demand.
pub struct Sets<'a> {
    defs: BTreeMap<String, SetDef<'a>>,
    /// Expanded sets: canonical names of the syscalls they contain.
    expanded: HashMap<String, Rc<[Member]>>,
    expanding: Vec<String>,
}

impl<'a> Sets<'a> {
    pub fn new() -> Self {
        Sets {
            defs: BTreeMap::new(),
            expanded: HashMap::new(),
            expanding: Vec::new(),
        }
    }

    /// Registers the `set` items of a syscalls block (and reports misplaced ones).
    pub fn collect(&mut self, file: FileId, items: &'a [SyscallItem], diags: &mut Diagnostics) {
        for item in items {
            match item {
                SyscallItem::Set { name, targets, .. } => {
                    if let Some(first) = self.defs.get(&name.name) {
                        diags.push(
                            Diagnostic::new(
                                Code::DuplicateSet,
                                file,
                                name.span,
                                format!("set `@{}` is defined twice", name.name),
                            )
                            .with_secondary(first.file, first.name_span, "first defined here")
                            .with_help("choose another name; sets are shared by all layers"),
                        );
                        continue;
                    }
                    self.defs.insert(
                        name.name.clone(),
                        SetDef {
                            file,
                            name_span: name.span,
                            targets,
                        },
                    );
                }
                SyscallItem::Arch { items, .. } => {
                    for inner in items {
                        if let SyscallItem::Set { keyword, span, .. } = inner {
                            diags.push(
                                Diagnostic::new(Code::MisplacedSyscallItem, file, keyword.to(*span), "`set` inside an `arch` block")
                                    .with_help("define sets at the top of the `syscalls` block; a set may name syscalls only one architecture has"),
                            );
                        }
                    }
                }
                _ => {}
            }
        }
    }

    /// Expands every set once, so mistakes in sets no rule uses are reported too.
    pub fn check_all(&mut self, diags: &mut Diagnostics) {
        let names: Vec<(FileId, ast::Ident)> = self
            .defs
            .iter()
            .map(|(name, def)| {
                (
                    def.file,
                    ast::Ident {
                        name: name.clone(),
                        span: def.name_span,
                    },
                )
            })
            .collect();
        for (file, ident) in names {
            self.expand(file, &ident, diags);
        }
    }

    /// The syscalls of `@name`, or `None` (reported) if there is no such set.
    fn expand(
        &mut self,
        file: FileId,
        ident: &ast::Ident,
        diags: &mut Diagnostics,
    ) -> Option<Rc<[Member]>> {
        if let Some(members) = self.expanded.get(&ident.name) {
            return Some(Rc::clone(members));
        }
        if self.expanding.len() >= MAX_SET_NESTING {
            diags.push(
                Diagnostic::new(
                    Code::SetCycle,
                    file,
                    ident.span,
                    format!(
                        "sets nest deeper than {MAX_SET_NESTING} levels at `@{}`",
                        ident.name
                    ),
                )
                .with_help(
                    "flatten the chain: a set may list the syscalls of its sub-sets directly",
                ),
            );
            return None;
        }
        if self.expanding.contains(&ident.name) {
            let mut cycle: Vec<String> = self.expanding.iter().map(|n| format!("@{n}")).collect();
            cycle.push(format!("@{}", ident.name));
            diags.push(
                Diagnostic::new(
                    Code::SetCycle,
                    file,
                    ident.span,
                    format!("set `@{}` contains itself", ident.name),
                )
                .with_note(format!("the cycle: {}", cycle.join(" → "))),
            );
            return None;
        }
        let Some(def) = self.defs.get(&ident.name) else {
            let names: Vec<String> = self.defs.keys().cloned().collect();
            diags.push(
                Diagnostic::new(
                    Code::UnknownSet,
                    file,
                    ident.span,
                    format!("unknown syscall set `@{}`", ident.name),
                )
                .with_suggestion(
                    closest(&ident.name, names.iter().map(String::as_str)).map(|s| format!("@{s}")),
                ),
            );
            return None;
        };
        let (def_file, targets) = (def.file, def.targets);
        self.expanding.push(ident.name.clone());
        let mut names = Vec::new();
        for target in targets {
            match target {
                Target::Set(inner) => names.extend(
                    self.expand(def_file, inner, diags)
                        .iter()
                        .flat_map(|m| m.iter().map(|(n, _)| *n)),
                ),
                Target::Syscall { name, params, span } => {
                    if params.is_some() {
                        diags.push(
                            Diagnostic::new(
                                Code::ConditionOnUnconditional,
                                def_file,
                                *span,
                                "a set lists syscalls, not arguments",
                            )
                            .with_help(format!("write `{}`", name.name)),
                        );
                    }
                    match lookup(&name.name) {
                        Some((canonical, _)) => names.push(canonical),
                        None => diags.push(unknown_syscall(def_file, name)),
                    }
                }
            }
        }
        self.expanding.pop();
        names.sort_unstable();
        names.dedup();
        let members: Rc<[Member]> = names.into_iter().filter_map(lookup).collect();
        self.expanded
            .insert(ident.name.clone(), Rc::clone(&members));
        Some(members)
    }
}

fn unknown_syscall(file: FileId, name: &ast::Ident) -> Diagnostic {
    let diag = Diagnostic::new(
        Code::UnknownSyscall,
        file,
        name.span,
        format!("unknown syscall `{}`", name.name),
    )
    .with_label("not a syscall of x86_64 or aarch64");
    // An old or 32-bit name has a known successor; that beats a spelling guess
    // (`umount` is `umount2`, not `mount`).
    let successor = Arch::ALL
        .iter()
        .find_map(|a| tables::replacement_on(*a, &name.name));
    let diag = match successor {
        Some(s) => diag.with_help(format!("`{}` is `{s}` on x86_64 and aarch64", name.name)),
        None => diag.with_suggestion(tables::suggest(&name.name)),
    };
    if ACTIONS.contains(&name.name.as_str()) {
        return diag.with_note(format!(
            "`{}` is an action: the rule before it is probably missing its targets",
            name.name
        ));
    }
    diag
}

/// A syscall by canonical name, with its entry on each architecture (by `Arch::index`),
/// looked up once.
type Member = (&'static str, [Option<&'static Syscall>; 2]);

/// A syscall by any of its names (canonical or alias), with one hash lookup: the
/// checker resolves thousands of names per policy, and the general table lookups
/// (alias, then name, then architecture) dominated its profile.
fn lookup(name: &str) -> Option<Member> {
    static MEMBERS: OnceLock<HashMap<&'static str, Member>> = OnceLock::new();
    let members = MEMBERS.get_or_init(|| {
        let mut map = HashMap::new();
        for arch in Arch::ALL {
            for syscall in tables::syscalls(arch) {
                map.entry(syscall.name).or_insert_with(|| {
                    (
                        syscall.name,
                        Arch::ALL.map(|a| tables::syscall(a, syscall.name)),
                    )
                });
            }
        }
        for (alias, canonical) in tables::ALIASES {
            if let Some(member) = map.get(canonical).copied() {
                map.insert(alias, member);
            }
        }
        map
    });
    members.get(name).copied()
}

/// A rule of one layer with what the shadowing analysis needs.
#[derive(Clone, Debug)]
pub struct LayerRule {
    pub rule: Rule,
    /// Named directly (not only through a set): only such rules are worth a warning,
    /// since "allow a set, but kill one of its members" is the intended idiom.
    pub direct: bool,
}

/// The checked syscall part of one layer.
#[derive(Default)]
pub struct LayerSyscalls {
    pub default: Option<(Action, Origin)>,
    pub rules: BTreeMap<(Arch, u32), Vec<LayerRule>>,
}

pub struct Checker<'s, 'a> {
    pub sets: &'s mut Sets<'a>,
    pub diags: &'s mut Diagnostics,
    pub out: LayerSyscalls,
}

impl Checker<'_, '_> {
    pub fn block(&mut self, file: FileId, items: &[SyscallItem], scope: Option<Arch>) {
        for item in items {
            match item {
                SyscallItem::Default {
                    keyword,
                    action,
                    span,
                } => {
                    if scope.is_some() {
                        self.diags.push(
                            Diagnostic::new(Code::MisplacedSyscallItem, file, keyword.to(*span), "`default` inside an `arch` block")
                                .with_help("the default action applies to every architecture; move it out of the block"),
                        );
                        continue;
                    }
                    let Some(action) = self.action(file, action) else {
                        continue;
                    };
                    if let Some((_, first)) = &self.out.default {
                        self.diags.push(
                            Diagnostic::new(
                                Code::DuplicateDefault,
                                file,
                                *span,
                                "the default action is given twice",
                            )
                            .with_secondary(
                                first.file,
                                first.span,
                                "first given here",
                            ),
                        );
                        continue;
                    }
                    self.out.default = Some((action, Origin { file, span: *span }));
                }
                SyscallItem::Set { .. } | SyscallItem::Error(_) => {}
                SyscallItem::Arch {
                    keyword,
                    arch,
                    items,
                    span,
                } => {
                    if scope.is_some() {
                        self.diags.push(Diagnostic::new(
                            Code::MisplacedSyscallItem,
                            file,
                            keyword.to(*span),
                            "`arch` blocks do not nest",
                        ));
                        continue;
                    }
                    match Arch::from_name(&arch.name) {
                        Some(a) => self.block(file, items, Some(a)),
                        None => self.diags.push(
                            Diagnostic::new(
                                Code::UnknownArch,
                                file,
                                arch.span,
                                format!("unknown architecture `{}`", arch.name),
                            )
                            .with_suggestion(
                                closest(&arch.name, Arch::ALL.iter().map(|a| a.name())).or_else(
                                    || {
                                        // Family names: `x86`, `amd64`, `arm`, `arm64`.
                                        let lower = arch.name.to_ascii_lowercase();
                                        if lower.starts_with("x86")
                                            || lower.starts_with("amd")
                                            || lower.starts_with("i386")
                                        {
                                            Some("x86_64")
                                        } else if lower.starts_with("arm")
                                            || lower.starts_with("aarch")
                                        {
                                            Some("aarch64")
                                        } else {
                                            None
                                        }
                                    },
                                ),
                            )
                            .with_note("policies compile for x86_64 and aarch64"),
                        ),
                    }
                }
                SyscallItem::Rule(rule) => self.rule(file, rule, scope),
            }
        }
    }

    pub fn action(&mut self, file: FileId, action: &ast::Action) -> Option<Action> {
        match action {
            ast::Action::Named(ident) => {
                let action = match ident.name.as_str() {
                    "allow" => Action::Allow,
                    "deny" => Action::Errno(1),
                    "kill" | "kill-process" => Action::Kill,
                    "kill-thread" => Action::KillThread,
                    "trap" => Action::Trap,
                    "log" => Action::Log,
                    "notify" => Action::Notify,
                    "errno" => {
                        self.diags.push(
                            Diagnostic::new(
                                Code::UnknownAction,
                                file,
                                ident.span,
                                "`errno` needs a value",
                            )
                            .with_help("write `errno(EPERM)`, `errno(ENOSYS)` or `errno(NUMBER)`"),
                        );
                        return None;
                    }
                    other => {
                        let mut diag = Diagnostic::new(
                            Code::UnknownAction,
                            file,
                            ident.span,
                            format!("unknown action `{other}`"),
                        )
                        .with_suggestion(closest(other, ACTIONS));
                        if tables::exists_anywhere(other) {
                            diag = diag.with_label("a syscall, not an action").with_help(
                                "a `,` is probably missing after the previous rule's last target",
                            );
                        }
                        diag = diag.with_note(
                            "actions: allow, deny, errno(E), kill, kill-thread, trap, log, notify",
                        );
                        self.diags.push(diag);
                        return None;
                    }
                };
                Some(action)
            }
            ast::Action::Errno { value, span, .. } => {
                let number = match value {
                    ErrnoValue::Name(name) => match tables::errno(&name.name) {
                        Some(n) => i128::from(n),
                        None => {
                            let names = tables::constant_names()
                                .filter(|n| n.starts_with('E') && tables::errno(n).is_some());
                            self.diags.push(
                                Diagnostic::new(
                                    Code::InvalidErrno,
                                    file,
                                    name.span,
                                    format!("unknown errno `{}`", name.name),
                                )
                                .with_suggestion(closest(&name.name, names)),
                            );
                            return None;
                        }
                    },
                    ErrnoValue::Number(n) => match parse_int(&n.text) {
                        Ok(v) => v,
                        Err(e) => {
                            self.diags.push(Diagnostic::new(
                                Code::InvalidErrno,
                                file,
                                n.span,
                                e.message,
                            ));
                            return None;
                        }
                    },
                };
                match u16::try_from(number) {
                    Ok(v) if v <= 4095 => Some(Action::Errno(v)),
                    _ => {
                        self.diags.push(
                            Diagnostic::new(
                                Code::InvalidErrno,
                                file,
                                *span,
                                format!("errno {number} is out of range"),
                            )
                            .with_note("the kernel accepts errno values from 0 to 4095"),
                        );
                        None
                    }
                }
            }
        }
    }

    fn rule(&mut self, file: FileId, rule: &ast::Rule, scope: Option<Arch>) {
        let action = self.action(file, &rule.action);
        // (canonical name, whether named directly, the target's params)
        let mut syscalls: Vec<(Member, bool, Option<&[ast::Ident]>)> = Vec::new();
        for target in &rule.targets {
            match target {
                Target::Set(ident) => {
                    if let Some(members) = self.sets.expand(file, ident, self.diags) {
                        syscalls.extend(members.iter().map(|m| (*m, false, None)));
                    }
                }
                Target::Syscall { name, params, .. } => {
                    let Some(canonical) = self.target_syscall(file, name, scope) else {
                        continue;
                    };
                    if let Some(params) = params {
                        self.check_params(file, canonical, params, scope);
                    }
                    if let Some(member) = lookup(canonical) {
                        syscalls.push((member, true, params.as_deref()));
                    }
                }
            }
        }
        let Some(action) = action else { return };
        let arches: &[Arch] = match &scope {
            Some(a) => std::slice::from_ref(a),
            None => &Arch::ALL,
        };
        for &arch in arches {
            for &((_, per_arch), direct, params) in &syscalls {
                let Some(syscall) = per_arch.get(arch.index()).copied().flatten() else {
                    continue;
                };
                let condition = match &rule.condition {
                    Some(c) => match self.condition(file, c, arch, syscall, params) {
                        Some(c) => Some(c),
                        None => continue,
                    },
                    None => None,
                };
                let origin = Origin {
                    file,
                    span: rule.span,
                };
                self.out
                    .rules
                    .entry((arch, syscall.nr))
                    .or_default()
                    .push(LayerRule {
                        rule: Rule {
                            action,
                            condition,
                            origin,
                        },
                        direct,
                    });
            }
        }
    }

    fn target_syscall(
        &mut self,
        file: FileId,
        name: &ast::Ident,
        scope: Option<Arch>,
    ) -> Option<&'static str> {
        match scope {
            None => {
                let found = lookup(&name.name).map(|(canonical, _)| canonical);
                if found.is_none() {
                    self.diags.push(unknown_syscall(file, name));
                }
                found
            }
            Some(arch) => {
                if let Some(syscall) = tables::syscall(arch, &name.name) {
                    return Some(syscall.name);
                }
                if tables::exists_anywhere(&name.name) {
                    let mut diag = Diagnostic::new(
                        Code::SyscallNotOnArch,
                        file,
                        name.span,
                        format!("`{}` does not exist on {}", name.name, arch.name()),
                    );
                    if let Some(replacement) = tables::replacement_on(arch, &name.name) {
                        diag = diag.with_help(format!("use `{replacement}` on {}", arch.name()));
                    }
                    self.diags.push(diag);
                } else {
                    self.diags.push(unknown_syscall(file, name));
                }
                None
            }
        }
    }

    fn check_params(
        &mut self,
        file: FileId,
        syscall: &str,
        params: &[ast::Ident],
        scope: Option<Arch>,
    ) {
        let arches: Vec<Arch> = match scope {
            Some(a) => vec![a],
            None => Arch::ALL.to_vec(),
        };
        for param in params {
            for &arch in &arches {
                let Some(sc) = tables::syscall(arch, syscall) else {
                    continue;
                };
                if !sc.args.iter().any(|a| a.name == param.name) {
                    self.diags
                        .push(unknown_argument(file, &param.name, param.span, sc));
                    break;
                }
            }
        }
    }

    fn condition(
        &mut self,
        file: FileId,
        cond: &ast::Condition,
        arch: Arch,
        syscall: &'static Syscall,
        params: Option<&[ast::Ident]>,
    ) -> Option<Condition> {
        Some(match &cond.kind {
            ConditionKind::Or(parts) => {
                Condition::Or(self.conditions(file, parts, arch, syscall, params)?)
            }
            ConditionKind::And(parts) => {
                Condition::And(self.conditions(file, parts, arch, syscall, params)?)
            }
            ConditionKind::Not(inner) => Condition::Not(Box::new(
                self.condition(file, inner, arch, syscall, params)?,
            )),
            ConditionKind::Compare(cmp) => {
                Condition::Test(self.comparison(file, cmp, arch, syscall, params)?)
            }
        })
    }

    /// Checks every operand (so each mistake is reported), then gives all or nothing.
    fn conditions(
        &mut self,
        file: FileId,
        parts: &[ast::Condition],
        arch: Arch,
        syscall: &'static Syscall,
        params: Option<&[ast::Ident]>,
    ) -> Option<Vec<Condition>> {
        let checked: Vec<Option<Condition>> = parts
            .iter()
            .map(|p| self.condition(file, p, arch, syscall, params))
            .collect();
        checked.into_iter().collect()
    }

    fn comparison(
        &mut self,
        file: FileId,
        cmp: &ast::Comparison,
        arch: Arch,
        syscall: &'static Syscall,
        params: Option<&[ast::Ident]>,
    ) -> Option<ArgTest> {
        let Some(index) = syscall.args.iter().position(|a| a.name == cmp.arg.name) else {
            self.diags
                .push(unknown_argument(file, &cmp.arg.name, cmp.arg.span, syscall));
            return None;
        };
        if let Some(params) = params {
            if !params.iter().any(|p| p.name == cmp.arg.name) {
                self.diags.push(
                    Diagnostic::new(
                        Code::UnknownArgument,
                        file,
                        cmp.arg.span,
                        format!(
                            "`{}` is not among the arguments listed for `{}`",
                            cmp.arg.name, syscall.name
                        ),
                    )
                    .with_help(format!(
                        "add it to the list: `{}(…, {})`",
                        syscall.name, cmp.arg.name
                    )),
                );
                return None;
            }
        }
        let arg = syscall.args.get(index)?;
        let mut values_ok = true;
        let mask = match &cmp.mask {
            Some(m) => match self.value(file, m, arch, arg.name, arg.ty, false) {
                Some(v) => Some(v),
                None => {
                    values_ok = false;
                    None
                }
            },
            None => None,
        };
        let test = match &cmp.test {
            ast::Test::Compare { op, value, .. } => {
                let ordering = !matches!(op, CmpOp::Eq | CmpOp::Ne);
                let value = self.value(file, value, arch, arg.name, arg.ty, ordering);
                value.map(|value| Test::Compare { op: *op, value })
            }
            ast::Test::In { negated, values } => {
                let mut out = Vec::with_capacity(values.len());
                for v in values {
                    match self.value(file, v, arch, arg.name, arg.ty, false) {
                        Some(v) => out.push(v),
                        None => values_ok = false,
                    }
                }
                out.sort_unstable();
                out.dedup();
                Some(Test::In {
                    negated: *negated,
                    values: out,
                })
            }
        };
        let test = test.filter(|_| values_ok)?;
        Some(ArgTest {
            index: u8::try_from(index).ok()?,
            name: arg.name,
            ty: arg.ty,
            mask,
            test,
        })
    }

    /// A value in a condition, fitted to the argument's width (see INVARIANT fits-width).
    fn value(
        &mut self,
        file: FileId,
        value: &ast::Value,
        arch: Arch,
        arg: &str,
        ty: ArgType,
        ordering: bool,
    ) -> Option<u64> {
        let raw = self.raw_value(file, value, arch)?;
        // Equality and masks compare bit patterns, so both the signed and the unsigned
        // spelling of a pattern are fine (`-1` and `0xffffffff`). An ordering compares
        // numbers, so the value must be a number of the argument's own type.
        let (min, max, what) = match (ty, ordering) {
            (ArgType::Int32 { .. }, false) => (
                i128::from(i32::MIN),
                i128::from(u32::MAX),
                "a 32-bit integer",
            ),
            (ArgType::Int32 { signed: true }, true) => (
                i128::from(i32::MIN),
                i128::from(i32::MAX),
                "a signed 32-bit `int`",
            ),
            (ArgType::Int32 { signed: false }, true) => {
                (0, i128::from(u32::MAX), "an unsigned 32-bit integer")
            }
            (ArgType::Int64 { .. } | ArgType::Pointer, false) => {
                (i128::from(i64::MIN), i128::from(u64::MAX), "64 bits wide")
            }
            (ArgType::Int64 { signed: true }, true) => (
                i128::from(i64::MIN),
                i128::from(i64::MAX),
                "a signed 64-bit integer",
            ),
            (ArgType::Int64 { signed: false } | ArgType::Pointer, true) => {
                (0, i128::from(u64::MAX), "an unsigned 64-bit integer")
            }
        };
        if raw < min || raw > max {
            let shown = if raw < 0 {
                raw.to_string()
            } else {
                format!("{raw:#x}")
            };
            let mut diag = Diagnostic::new(
                Code::ValueOutOfRange,
                file,
                value.span,
                format!("`{shown}` does not fit `{arg}`, which is {what}"),
            );
            diag = if ordering
                && raw >= i128::from(i32::MIN)
                && raw <= i128::from(u32::MAX)
                && matches!(ty, ArgType::Int32 { .. })
            {
                let as_signed = raw as u32 as i32;
                if matches!(ty, ArgType::Int32 { signed: true }) {
                    diag.with_note(format!("as an `int` this bit pattern is {as_signed}, so the comparison would not mean what it says"))
                        .with_help(format!("write `{as_signed}` if that is what you mean"))
                } else {
                    diag.with_note(format!("as an unsigned integer this is {}", raw as u32))
                        .with_help(format!(
                            "write `{:#x}` if that is what you mean",
                            raw as u32
                        ))
                }
            } else {
                diag.with_note("the kernel passes this argument truncated to its width, so the value could never match")
            };
            self.diags.push(diag);
            return None;
        }
        // Two's complement at the argument's width.
        let bits = raw as u64;
        Some(match ty {
            ArgType::Int32 { .. } => bits & 0xffff_ffff,
            _ => bits,
        })
    }

    fn raw_value(&mut self, file: FileId, value: &ast::Value, arch: Arch) -> Option<i128> {
        match &value.kind {
            ValueKind::Number(n) => match parse_int(&n.text) {
                Ok(v) => Some(v),
                Err(e) => {
                    let mut diag = Diagnostic::new(Code::InvalidNumber, file, n.span, e.message);
                    if let Some(help) = e.help {
                        diag = diag.with_help(help);
                    }
                    self.diags.push(diag);
                    None
                }
            },
            ValueKind::Constant(c) => match tables::constant(arch, &c.name)
                .or_else(|| tables::errno(&c.name).map(u64::from))
            {
                // Constants are stored sign-extended (AT_FDCWD is -100).
                Some(v) => Some(i128::from(v as i64)),
                None => {
                    self.diags.push(
                        Diagnostic::new(
                            Code::UnknownConstant,
                            file,
                            c.span,
                            format!("unknown constant `{}` on {}", c.name, arch.name()),
                        )
                        .with_suggestion(tables::suggest_constant(&c.name)),
                    );
                    None
                }
            },
            ValueKind::BitOr(parts) => {
                let mut acc: i128 = 0;
                let mut ok = true;
                for part in parts {
                    match self.raw_value(file, part, arch) {
                        Some(v) => acc |= v,
                        None => ok = false,
                    }
                }
                ok.then_some(acc)
            }
        }
    }
}

fn unknown_argument(file: FileId, name: &str, span: Span, syscall: &Syscall) -> Diagnostic {
    let names: Vec<&str> = syscall.args.iter().map(|a| a.name).collect();
    let signature = format!("{}({})", syscall.name, names.join(", "));
    Diagnostic::new(
        Code::UnknownArgument,
        file,
        span,
        format!("`{}` has no argument `{name}`", syscall.name),
    )
    .with_suggestion(closest(name, names.iter().copied()))
    .with_note(format!("its arguments: {signature}"))
}

/// Warns about rules of one layer that can never decide a verdict.
pub fn diagnose_shadowing(rules: &BTreeMap<(Arch, u32), Vec<LayerRule>>, diags: &mut Diagnostics) {
    for ((arch, nr), list) in rules {
        let name = || tables::syscall_by_nr(*arch, *nr).map_or("?", |s| s.name);
        let Some(strongest) = list
            .iter()
            .filter(|r| r.rule.condition.is_none())
            .max_by_key(|r| r.rule.action.rank())
        else {
            continue;
        };
        let winner = &strongest.rule;
        for other in list {
            let rule = &other.rule;
            if !other.direct || rule.origin == winner.origin {
                continue;
            }
            let weaker_or_equal = rule.action.rank() <= winner.action.rank();
            if rule.condition.is_none() && rule.action != winner.action {
                diags.push(
                    Diagnostic::new(
                        Code::ConflictingRules,
                        rule.origin.file,
                        rule.origin.span,
                        format!(
                            "`{}` is given both `{}` and `{}`",
                            name(),
                            rule.action.describe(),
                            winner.action.describe()
                        ),
                    )
                    .with_secondary(
                        winner.origin.file,
                        winner.origin.span,
                        format!("`{}` wins", winner.action.describe()),
                    )
                    .with_note("for one syscall the strictest action wins, whatever the order"),
                );
            } else if weaker_or_equal {
                diags.push(
                    Diagnostic::new(
                        Code::ShadowedRule,
                        rule.origin.file,
                        rule.origin.span,
                        format!("this rule never decides the verdict for `{}`", name()),
                    )
                    .with_secondary(
                        winner.origin.file,
                        winner.origin.span,
                        format!(
                            "`{}` is always `{}` because of this rule",
                            name(),
                            winner.action.describe()
                        ),
                    )
                    .with_help("remove one of the rules, or make the other one conditional"),
                );
            }
        }
    }
}
