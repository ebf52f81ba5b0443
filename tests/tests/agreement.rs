//! The production parser (`pfp-syntax`) against the normative grammar (`pfp-grammar`,
//! `grammar/pfp.pest`).
//!
//! For every input: `pfp_grammar::accepts(src)` must equal
//! `pfp_syntax::parse(src).errors.is_empty()`, and when both accept, the production
//! tree's shape (computed here, format in `pfp-grammar`'s crate docs) must equal
//! `pfp_grammar::shape(src)`.
//!
//! Inputs: every `.pfp` file under `stdlib-profiles/`, `policies/` and `tests/ui/`; the
//! ```` ```pfp ```` examples of `docs/language.md`; inline snippets, valid and invalid,
//! and the nesting limit; and four property tests: random well-formed policies (whose
//! expected shape the generator knows, so the grammar is checked too), mutations of
//! them, random character soup in places where the token rules matter, and random
//! sequences of the language's words.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::path::{Path, PathBuf};

use pfp_grammar::quote;
use pfp_syntax::ast;
use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::Config;

// =====================================================================================
// The shape of the production tree
// =====================================================================================

/// `(HEAD PART PART ...)`
fn sexp(head: &str, parts: impl IntoIterator<Item = String>) -> String {
    let mut out = format!("({head}");
    for part in parts {
        out.push(' ');
        out.push_str(&part);
    }
    out.push(')');
    out
}

fn production_shape(file: &ast::File) -> String {
    file.items
        .iter()
        .map(item_shape)
        .collect::<Vec<_>>()
        .join("\n")
}

fn item_shape(item: &ast::Item) -> String {
    use ast::Item;
    match item {
        Item::Policy { name, .. } => sexp("policy", [quote(&name.value)]),
        Item::Description { text, .. } => sexp("description", [quote(&text.value)]),
        Item::Extends { target, .. } => sexp("extends", [quote(&target.value)]),
        Item::Include { target, .. } => sexp("include", [quote(&target.value)]),
        Item::Syscalls(block) => sexp("syscalls", block.items.iter().map(syscall_item_shape)),
        Item::Filesystem(block) => sexp("filesystem", block.items.iter().map(fs_entry_shape)),
        Item::Resources(block) => sexp("resources", block.items.iter().map(property_shape)),
        Item::Process(block) => sexp("process", block.items.iter().map(property_shape)),
        Item::Network(network) => match &network.kind {
            ast::NetworkKind::Mode(mode) => sexp("network", [mode.name.clone()]),
            ast::NetworkKind::Rules(rules) => {
                sexp("network", [sexp("rules", rules.iter().map(property_shape))])
            }
        },
        Item::Error(_) => "(error)".into(),
    }
}

fn set_name_shape(ident: &ast::Ident) -> String {
    format!("@{}", ident.name.trim_start_matches('@'))
}

fn syscall_item_shape(item: &ast::SyscallItem) -> String {
    use ast::SyscallItem;
    match item {
        SyscallItem::Default { action, .. } => sexp("default", [action_shape(action)]),
        SyscallItem::Set { name, targets, .. } => sexp(
            "set",
            std::iter::once(set_name_shape(name)).chain(targets.iter().map(target_shape)),
        ),
        SyscallItem::Arch { arch, items, .. } => sexp(
            "arch",
            std::iter::once(arch.name.clone()).chain(items.iter().map(syscall_item_shape)),
        ),
        SyscallItem::Rule(rule) => {
            let mut parts = vec![action_shape(&rule.action)];
            parts.extend(rule.targets.iter().map(target_shape));
            if let Some(condition) = &rule.condition {
                parts.push(sexp("if", [render_norm(&norm_condition(condition))]));
            }
            sexp("rule", parts)
        }
        SyscallItem::Error(_) => "(error)".into(),
    }
}

fn action_shape(action: &ast::Action) -> String {
    match action {
        ast::Action::Named(name) => name.name.clone(),
        ast::Action::Errno { value, .. } => sexp(
            "errno",
            [match value {
                ast::ErrnoValue::Name(name) => name.name.clone(),
                ast::ErrnoValue::Number(number) => number.text.clone(),
            }],
        ),
    }
}

fn target_shape(target: &ast::Target) -> String {
    match target {
        ast::Target::Set(name) => set_name_shape(name),
        ast::Target::Syscall {
            name, params: None, ..
        } => name.name.clone(),
        ast::Target::Syscall {
            name,
            params: Some(params),
            ..
        } => sexp(&name.name, params.iter().map(|p| p.name.clone())),
    }
}

/// A condition with `or` and `and` flattened; shared by the production tree's shape and
/// the generator's expected shape.
#[derive(Clone, Debug)]
enum Norm {
    Or(Vec<Norm>),
    And(Vec<Norm>),
    Not(Box<Norm>),
    Leaf(String),
}

fn join_or(parts: impl IntoIterator<Item = Norm>) -> Norm {
    let mut flat = Vec::new();
    for part in parts {
        match part {
            Norm::Or(more) => flat.extend(more),
            other => flat.push(other),
        }
    }
    if flat.len() == 1 {
        flat.pop().unwrap()
    } else {
        Norm::Or(flat)
    }
}

fn join_and(parts: impl IntoIterator<Item = Norm>) -> Norm {
    let mut flat = Vec::new();
    for part in parts {
        match part {
            Norm::And(more) => flat.extend(more),
            other => flat.push(other),
        }
    }
    if flat.len() == 1 {
        flat.pop().unwrap()
    } else {
        Norm::And(flat)
    }
}

fn render_norm(norm: &Norm) -> String {
    match norm {
        Norm::Or(parts) => sexp("or", parts.iter().map(render_norm)),
        Norm::And(parts) => sexp("and", parts.iter().map(render_norm)),
        Norm::Not(inner) => sexp("not", [render_norm(inner)]),
        Norm::Leaf(leaf) => leaf.clone(),
    }
}

fn norm_condition(condition: &ast::Condition) -> Norm {
    use ast::ConditionKind;
    match &condition.kind {
        ConditionKind::Or(parts) => join_or(parts.iter().map(norm_condition)),
        ConditionKind::And(parts) => join_and(parts.iter().map(norm_condition)),
        ConditionKind::Not(inner) => Norm::Not(Box::new(norm_condition(inner))),
        ConditionKind::Compare(comparison) => Norm::Leaf(comparison_shape(comparison)),
    }
}

fn comparison_shape(comparison: &ast::Comparison) -> String {
    let arg = match &comparison.mask {
        None => comparison.arg.name.clone(),
        Some(mask) => sexp("&", [comparison.arg.name.clone(), value_shape(mask)]),
    };
    match &comparison.test {
        ast::Test::Compare { op, value, .. } => sexp(op.as_str(), [arg, value_shape(value)]),
        ast::Test::In { negated, values } => sexp(
            if *negated { "not-in" } else { "in" },
            std::iter::once(arg).chain(values.iter().map(value_shape)),
        ),
    }
}

fn value_shape(value: &ast::Value) -> String {
    fn terms(value: &ast::Value, out: &mut Vec<String>) {
        match &value.kind {
            ast::ValueKind::Number(number) => out.push(number.text.clone()),
            ast::ValueKind::Constant(name) => out.push(name.name.clone()),
            ast::ValueKind::BitOr(parts) => parts.iter().for_each(|p| terms(p, out)),
        }
    }
    let mut out = Vec::new();
    terms(value, &mut out);
    if out.len() == 1 {
        out.pop().unwrap()
    } else {
        sexp("|", out)
    }
}

fn path_shape(path: &ast::PathLit) -> String {
    if path.quoted {
        quote(&path.value)
    } else {
        path.value.clone()
    }
}

fn fs_entry_shape(entry: &ast::FsEntry) -> String {
    let options = entry.options.iter().map(|option| match &option.kind {
        ast::FsOptionKind::From(path) => sexp("from", [path_shape(path)]),
        ast::FsOptionKind::To(path) => sexp("to", [path_shape(path)]),
        ast::FsOptionKind::Size(scalar) => sexp("size", [scalar_shape(scalar)]),
        ast::FsOptionKind::Mode(number) => sexp("mode", [number.text.clone()]),
        ast::FsOptionKind::Optional => "optional".into(),
    });
    sexp(
        &entry.kind.name,
        std::iter::once(path_shape(&entry.target)).chain(options),
    )
}

fn scalar_shape(scalar: &ast::Scalar) -> String {
    match scalar {
        ast::Scalar::Number(number) => number.text.clone(),
        ast::Scalar::Quantity(quantity) => sexp("qty", [quantity.text.clone()]),
    }
}

fn property_shape(property: &ast::Property) -> String {
    sexp(&property.key.name, [prop_value_shape(&property.value)])
}

fn prop_value_shape(value: &ast::PropValue) -> String {
    use ast::PropValueKind;
    match &value.kind {
        PropValueKind::Str(s) => quote(s),
        PropValueKind::Path(s) | PropValueKind::Number(s) | PropValueKind::Ident(s) => s.clone(),
        PropValueKind::Quantity(s) => sexp("qty", [s.clone()]),
        PropValueKind::List(items) => sexp("list", items.iter().map(prop_value_shape)),
        PropValueKind::Map(entries) => sexp(
            "map",
            entries
                .iter()
                .map(|(key, value)| sexp(&key.name, [prop_value_shape(value)])),
        ),
        PropValueKind::Error => "(error)".into(),
    }
}

// =====================================================================================
// The comparison
// =====================================================================================

/// Whether the two parsers agree on `src`; if not, what they said.
fn agree(src: &str) -> Result<(), String> {
    let parsed = pfp_syntax::parse(src);
    let grammar_shape = pfp_grammar::shape(src);
    match (grammar_shape, parsed.errors.is_empty()) {
        (None, false) => Ok(()),
        (Some(expected), true) => {
            let actual = production_shape(&parsed.file);
            if actual == expected {
                Ok(())
            } else {
                Err(format!(
                    "both accept, shapes differ for {src:?}\n  grammar:    {expected}\n  production: {actual}"
                ))
            }
        }
        (Some(shape), false) => Err(format!(
            "the grammar accepts, the production parser rejects {src:?}\n  grammar shape: {shape}\n  production errors: {}",
            parsed
                .errors
                .iter()
                .map(|e| format!("{:?} {}", e.span.range(), e.message()))
                .collect::<Vec<_>>()
                .join("; ")
        )),
        (None, true) => Err(format!(
            "the production parser accepts, the grammar rejects {src:?}\n  production shape: {}\n  grammar error: {}",
            production_shape(&parsed.file),
            pfp_grammar::parse_error(src).unwrap_or_default().replace('\n', "\n    ")
        )),
    }
}

fn assert_all_agree<'a>(inputs: impl IntoIterator<Item = (String, &'a str)>) -> usize {
    let mut count = 0;
    let mut failures = Vec::new();
    for (origin, src) in inputs {
        count += 1;
        if let Err(why) = agree(src) {
            failures.push(format!("{origin}: {why}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {count} inputs disagree:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
    count
}

// =====================================================================================
// Files and snippets
// =====================================================================================

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn pfp_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            pfp_files(&path, out);
        } else if path.extension().is_some_and(|ext| ext == "pfp") {
            out.push(path);
        }
    }
}

#[test]
fn corpus_files_agree() {
    let root = workspace_root();
    let mut files = Vec::new();
    for dir in ["stdlib-profiles", "policies", "tests/ui"] {
        pfp_files(&root.join(dir), &mut files);
    }
    let mut sources: Vec<(String, String)> = Vec::new();
    for path in &files {
        let bytes =
            std::fs::read(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
        let name = path
            .strip_prefix(&root)
            .unwrap_or(path)
            .display()
            .to_string();
        // Both parsers take text; a file that is not UTF-8 never reaches them.
        match String::from_utf8(bytes) {
            Ok(src) => sources.push((name, src)),
            Err(_) => eprintln!("{name}: not UTF-8, skipped"),
        }
    }
    let count = assert_all_agree(
        sources
            .iter()
            .map(|(name, src)| (name.clone(), src.as_str())),
    );
    eprintln!("{count} .pfp files agree");
}

#[test]
fn doc_examples_agree() {
    let doc = std::fs::read_to_string(workspace_root().join("docs/language.md")).unwrap();
    let mut examples = Vec::new();
    let mut current: Option<String> = None;
    for line in doc.lines() {
        match &mut current {
            None if line.trim() == "```pfp" => current = Some(String::new()),
            None => {}
            Some(_) if line.trim() == "```" => examples.extend(current.take()),
            Some(block) => {
                block.push_str(line);
                block.push('\n');
            }
        }
    }
    assert!(!examples.is_empty());
    for example in &examples {
        assert!(pfp_grammar::accepts(example), "{example}");
    }
    assert_all_agree(
        examples
            .iter()
            .enumerate()
            .map(|(i, src)| (format!("docs/language.md example {}", i + 1), src.as_str())),
    );
}

/// Valid `.pfp` texts: every construct, and the corners of the token rules.
const VALID: &[&str] = &[
    "",
    "# only a comment",
    "policy \"x\"",
    "policy \"a\\\"b\\\\c\\nd\\te\"",
    "policy \"ünï ✓ # not a comment {[(\"",
    "description \"d\" extends \"python-dev\" include \"frag.pfp\"",
    "policy#c\n\"p\"",
    "network none",
    "network host",
    "network { connect [443, 80] bind [8080] }",
    "network {}",
    "syscalls {}",
    "syscalls { default kill }",
    "syscalls { default errno(ENOSYS) }",
    "syscalls { default errno(38) }",
    "syscalls { default errno }",
    "syscalls { errno read }",
    "syscalls { errno(in) read }",
    "syscalls { allow read, write, @file-io }",
    "syscalls{allow@x,read(a)if a==1 kill@y}",
    "syscalls { kill-thread a-1, _x, x86_64, log(log) if log == log }",
    "syscalls { allow policy, syscalls, default-x, sets, arch-y, errno }",
    "syscalls { set-x read }",
    "syscalls { if read }",
    "syscalls { default allow if read }",
    "syscalls { allow x if a == 1 or b }",
    "syscalls { set @x = [] set @y = [a, @x,] set @z = [b] }",
    "syscalls { arch x86_64 { allow arch_prctl } arch aarch64 {} }",
    "syscalls { arch x { arch y { allow z } } }",
    "syscalls { allow socket(domain, type) if domain in [AF_UNIX, AF_INET] and type & SOCK_RAW != SOCK_RAW }",
    "syscalls { allow open(flags) if flags & (O_WRONLY | O_RDWR) == 0 }",
    "syscalls { allow x if a == 1 or not b == 2 and c == 3 }",
    "syscalls { allow x if (a == 1 or b == 2) or c == 3 }",
    "syscalls { allow x if a == 1 or (b == 2 or c == 3) }",
    "syscalls { allow x if (a == 1 and b == 2) or c == 3 }",
    "syscalls { allow x if a == 1 and (b == 2 or c == 3) }",
    "syscalls { allow x if not not (a < 1) }",
    "syscalls { allow x if ((a >= -1)) }",
    "syscalls { allow x if a & (X | (Y | Z)) != X | Y }",
    "syscalls { allow x if a & M not in [1, 2,] }",
    "syscalls { allow x if a in [(1)] }",
    "syscalls { allow x if a<=0x7f }",
    "syscalls { allow x if a > 1 and b <= 2 }",
    "syscalls { allow x if order == android }",
    "syscalls { allow x if in-x in [not-y] }",
    "syscalls { allow x if a == -0x1_0 }",
    "syscalls { allow x if a == 0x1F }",
    "syscalls { allow x if a == 0xff }",
    "syscalls { allow x if a == 0xFFFF_FFFF }",
    "syscalls { errno(EPERM) ptrace kill process_vm_readv }",
    "filesystem { ro /usr ro /etc/ssl }",
    "filesystem { ro /opt/tools from /srv/tools optional }",
    "filesystem { tmpfs /tmp size 64MiB mode 0o1777 tmpfs /t2 size 1024 }",
    "filesystem { symlink /bin to \"usr/bin\" }",
    "filesystem { ro \"/with space\" from \"/x\\ty\" }",
    "filesystem { rw ${home}/x-1 from ${cwd} }",
    "filesystem { from-x /a proc /proc mode-y /b mode 0o1 }",
    "filesystem { ro/usr rw/x }",
    "resources { memory 512MiB pids 128 swap unlimited timeout 30s cpu 1.5 }",
    "resources { a 42 b 1_000 c -1 d 0x7f e 0o755 f 0b1010 g 0755 h 0x_ }",
    "resources { a 1.5G b -1k c 1__k d 0x }",
    "resources { a 0x1fg 1 }",
    "resources { a 0b1x 1 }",
    "resources { a 0o x 8 }",
    "resources { a 0xff }",
    "resources { a 0xffMiB b 0xfg c 0xg d 0x e -0xffk f 0xff_ }",
    "resources { a 0xa1g 1 }",
    "process { command [\"python3\", \"-I\",] cwd /workspace env { PATH = \"/usr/bin\" LANG=\"C.UTF-8\" } pass [TERM, COLORTERM] }",
    "process { empty [] mixed [1, 2k, /p, x, \"s\"] uid 1000 }",
    "process { a / b /usr/lib c ${workspace}/out d /a+b@1:2~x=y%z_.-q e ${x}${y} }",
    "process { a /x y/z }",
    "process { env {} }",
    "resources { if 1 not 2 policy 3 }",
    "process { env { A = B C = /x D = 1 E = 1k F = \"f\" } }",
    "policy \"carriage\rreturn\"",
    "policy \"x\"\r\n\tnetwork\r\nnone",
    "syscalls { allow x if a == 1 and b == 2 or c == 3 and not d == 4 }",
    "syscalls { allow x if a == 1 kill y if b == 2 }",
    "syscalls { allow x if a == 1 not y }",
    "syscalls { allow x if a == 1 and b in [1] in z }",
    "syscalls { set @x = [socket(domain), @y] }",
    "syscalls { default errno(-1) }",
    "syscalls { allow x if a == -0 }",
    "filesystem { ro /a optional from /b optional size 1 to \"c\" mode 0b1 }",
    "network in",
    "network {} network none",
];

/// Texts that are not `.pfp`.
const INVALID: &[&str] = &[
    "syscalls {",
    "syscalls { allow read",
    "syscalls { allow read }}",
    "}",
    "syscalls { allow }",
    "syscalls { allow, read }",
    "syscalls { allow read, }",
    "syscalls { allow read if }",
    "syscalls { allow read if a == }",
    "syscalls { allow read if == 1 }",
    "syscalls { allow read if a = 1 }",
    "syscalls { allow read if a == 1 and }",
    "syscalls { allow read if (a == 1 }",
    "syscalls { allow read if a in [] }",
    "syscalls { allow read if a in 1 }",
    "syscalls { allow read if a not == 1 }",
    "syscalls { allow read if a & == 1 }",
    "syscalls { allow read if a == 1 | }",
    "syscalls { allow read if a == \"x\" }",
    "syscalls { allow read if a == 5k }",
    "syscalls { allow read if a < = 1 }",
    "syscalls { allow read() }",
    "syscalls { allow read(a,) }",
    "syscalls { allow read(@x) }",
    "syscalls { allow if }",
    "syscalls { allow x(in) }",
    "syscalls { allow x if not == 1 }",
    "syscalls { allow x if a == or }",
    "syscalls { allow x if a in [and] }",
    "syscalls { errno() read }",
    "syscalls { errno(EPERM read }",
    "syscalls { errno(EPERM, 1) read }",
    "syscalls { default }",
    "syscalls { default errno() }",
    "syscalls { default read, write }",
    "syscalls { set read }",
    "syscalls { arch read }",
    "syscalls { set @x = [a b] }",
    "syscalls { set @x = [,] }",
    "syscalls { set x = [a] }",
    "syscalls { set @x [a] }",
    "syscalls { set @x == [a] }",
    "syscalls { set @x = a }",
    "syscalls { arch { allow read } }",
    "syscalls { arch x86_64 allow read }",
    "syscalls { @x read }",
    "syscalls { allow a- }",
    "syscalls { allow a--b }",
    "syscalls { allow -a }",
    "syscalls { allow read ~ }",
    "syscalls { allow read ; }",
    "policy",
    "policy x",
    "policy /x",
    "Policy \"x\"",
    "policy-x \"x\"",
    "policy \"a\\qb\"",
    "policy \"abc",
    "policy \"ab\nc\"",
    "policy \"ab\\",
    "policy\u{a0}\"x\"",
    "extends",
    "include ./x.pfp",
    "unknown { }",
    "filesystem { ro }",
    "filesystem { ro usr }",
    "filesystem { /usr ro }",
    "filesystem { ro /usr from }",
    "filesystem { ro /usr size }",
    "filesystem { from /a }",
    "filesystem { optional /a }",
    "filesystem { tmpfs /tmp mode 0o1777k }",
    "filesystem { tmpfs /tmp mode 1k }",
    "filesystem { tmpfs /tmp mode \"x\" }",
    "filesystem { ro /usr optional optional x }",
    "resources { memory }",
    "resources { memory pids 128 }",
    "resources { memory 512MiB, pids 1 }",
    "resources { 5 memory }",
    "resources { x = 1 }",
    "resources { a [a b] }",
    "resources { a [[a]] }",
    "resources { a [a,,] }",
    "resources { a [0o8] }",
    "resources { a 0o8 }",
    "resources { a 1e5 }",
    "resources { a 1. }",
    "resources { a 1.x }",
    "resources { a .5 }",
    "resources { a - }",
    "resources { a --1 }",
    "resources { a 1.5.5 }",
    "process { env { A \"x\" } }",
    "process { env { A = \"x\", B = \"y\" } }",
    "process { a /x${y }",
    "process { a ${y }",
    "process { a $y }",
    "process { a ${} }",
    "process { a /x\\y }",
    "process { a /a{ } }",
    "network",
    "network \"none\"",
    "network { connect }",
    "network none host",
    "syscalls { allow read if a }",
    "syscalls { allow read if read }",
    "syscalls { allow read if if a == 1 }",
    "process { env { A = [\"x\"] } }",
    "process { env { A = {} } }",
    "policy \"x\" \u{0}",
    "policy \"x\" é",
    "syscalls { allow x if a == 1 and }",
    "syscalls { allow x if a == 1 or not }",
    "syscalls { allow x if a == 1 and in y }",
    "syscalls { allow x if (a == 1) == 2 }",
    "syscalls { allow x if a == (1 }",
    "syscalls { allow x if a & 5k == 1 }",
    "syscalls { allow x if a & == 1 }",
    "syscalls { allow x if a in [1] [2] }",
    "syscalls { allow x if a not not in [1] }",
    "syscalls { allow x if a in not [1] }",
    "syscalls { arch x86_64 { allow x }",
    "filesystem { ro /a size 1 size }",
    "filesystem { ro /a from optional }",
];

#[test]
fn valid_snippets_agree() {
    for src in VALID {
        assert!(
            pfp_grammar::accepts(src),
            "{src:?} is listed as valid: {}",
            pfp_grammar::parse_error(src).unwrap_or_default()
        );
    }
    assert_all_agree(VALID.iter().map(|src| ("valid snippet".to_string(), *src)));
}

#[test]
fn invalid_snippets_agree() {
    for src in INVALID {
        assert!(!pfp_grammar::accepts(src), "{src:?} is listed as invalid");
    }
    assert_all_agree(
        INVALID
            .iter()
            .map(|src| ("invalid snippet".to_string(), *src)),
    );
}

#[test]
fn nesting_limit_agrees() {
    let limit = pfp_grammar::MAX_NESTING;
    let nested = |depth: usize| {
        format!(
            "syscalls {{ allow x if {}a == 1{} }}",
            "(".repeat(depth - 1),
            ")".repeat(depth - 1)
        )
    };
    let nots = |n: usize| format!("syscalls {{ allow x if {}a == 1 }}", "not ".repeat(n));
    let mixed = |n: usize| {
        format!(
            "syscalls {{ allow x if {}a == 1{} }}",
            "not (".repeat(n),
            ")".repeat(n)
        )
    };
    let deep = "(".repeat(100);
    let flat = (0..200)
        .map(|_| "not a == 1")
        .collect::<Vec<_>>()
        .join(" and ");
    let inputs = [
        nested(limit),
        nested(limit + 1),
        nots(limit - 1),
        nots(limit),
        mixed(limit / 2 - 1),
        mixed(limit / 2),
        format!("syscalls {{ allow x if {flat} }}"),
        format!("resources {{ {} }}", "not ".repeat(limit)),
        format!("resources {{ {} }}", "not 1 ".repeat(limit)),
        format!("resources {{ a [{}] }}", "not, ".repeat(limit)),
        format!("policy \"{deep}\" # {deep}\nfilesystem {{ ro /x${{a}}${{b}} }}"),
        "(".repeat(10_000),
        nots(10_000),
    ];
    assert_all_agree(
        inputs
            .iter()
            .map(|src| ("nesting".to_string(), src.as_str())),
    );
}

// =====================================================================================
// Generated policies
// =====================================================================================

/// A piece of generated policy: its tokens and its expected shape.
#[derive(Clone, Debug)]
struct Piece {
    tokens: Vec<String>,
    shape: String,
}

fn toks(parts: &[&str]) -> Vec<String> {
    parts.iter().map(|s| s.to_string()).collect()
}

/// `a , b , c` (with an optional trailing comma).
fn comma_separated(items: &[Vec<String>], trailing: bool) -> Vec<String> {
    let mut out = Vec::new();
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push(",".into());
        }
        out.extend(item.iter().cloned());
    }
    if trailing && !items.is_empty() {
        out.push(",".into());
    }
    out
}

// ---- condition values -------------------------------------------------------------

#[derive(Clone, Debug)]
enum Val {
    Atom(String),
    BitOr(Vec<Val>),
    Paren(Box<Val>),
}

impl Val {
    fn tokens(&self) -> Vec<String> {
        match self {
            Val::Atom(atom) => vec![atom.clone()],
            Val::BitOr(parts) => {
                let mut out = Vec::new();
                for (i, part) in parts.iter().enumerate() {
                    if i > 0 {
                        out.push("|".into());
                    }
                    out.extend(part.tokens());
                }
                out
            }
            Val::Paren(inner) => {
                let mut out = vec!["(".to_string()];
                out.extend(inner.tokens());
                out.push(")".into());
                out
            }
        }
    }

    fn shape(&self) -> String {
        fn terms(val: &Val, out: &mut Vec<String>) {
            match val {
                Val::Atom(atom) => out.push(atom.clone()),
                Val::BitOr(parts) => parts.iter().for_each(|p| terms(p, out)),
                Val::Paren(inner) => terms(inner, out),
            }
        }
        let mut out = Vec::new();
        terms(self, &mut out);
        if out.len() == 1 {
            out.pop().unwrap()
        } else {
            sexp("|", out)
        }
    }
}

/// Syscall, argument and constant names: never a condition word, sometimes another
/// keyword.
const NAMES: &[&str] = &[
    "read",
    "write",
    "openat",
    "socket",
    "clone",
    "flags",
    "domain",
    "O_RDWR",
    "AF_INET",
    "x86_64",
    "_priv",
    "a-1",
    "kill-thread",
    "log",
    "policy",
    "default",
    "set",
    "arch",
    "errno",
    "from",
    "optional",
    "in-x",
    "notx",
    "android",
    "orange",
    "iffy",
];

/// Numbers of every form (as the grammar defines them).
const NUMBERS: &[&str] = &[
    "0",
    "1",
    "-1",
    "42",
    "1_000",
    "0755",
    "4095",
    "0x7f",
    "0x1F",
    "0o755",
    "0b1010",
    "0x_1",
    "-0x10",
    "1.5",
    "0xff",
    "0xdead_beef",
    "0xFFFF",
];

fn pick(pool: &'static [&'static str]) -> impl Strategy<Value = String> + Clone {
    proptest::sample::select(pool).prop_map(str::to_string)
}

fn number() -> impl Strategy<Value = String> + Clone {
    pick(NUMBERS)
}

fn val() -> impl Strategy<Value = Val> {
    let atom = prop_oneof![number(), pick(NAMES)].prop_map(Val::Atom);
    atom.prop_recursive(3, 12, 3, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 2..4).prop_map(Val::BitOr),
            inner.prop_map(|v| Val::Paren(Box::new(v))),
        ]
    })
}

// ---- conditions -------------------------------------------------------------------

#[derive(Clone, Debug)]
enum Cond {
    Test {
        arg: String,
        mask: Option<Val>,
        test: TestKind,
    },
    Or(Vec<Cond>),
    And(Vec<Cond>),
    Not(Box<Cond>),
    Paren(Box<Cond>),
}

#[derive(Clone, Debug)]
enum TestKind {
    Compare(String, Val),
    In {
        negated: bool,
        values: Vec<Val>,
        trailing: bool,
    },
}

impl Cond {
    /// Tokens, with the parentheses that precedence needs: `level` 0 takes anything, 1
    /// is an operand of `and`, 2 an operand of `not`.
    fn tokens(&self, level: u8) -> Vec<String> {
        let paren = |mut inner: Vec<String>| {
            inner.insert(0, "(".into());
            inner.push(")".into());
            inner
        };
        match self {
            Cond::Test { arg, mask, test } => {
                let mut out = vec![arg.clone()];
                if let Some(mask) = mask {
                    out.push("&".into());
                    out.extend(mask.tokens());
                }
                match test {
                    TestKind::Compare(op, value) => {
                        out.push(op.clone());
                        out.extend(value.tokens());
                    }
                    TestKind::In {
                        negated,
                        values,
                        trailing,
                    } => {
                        if *negated {
                            out.push("not".into());
                        }
                        out.push("in".into());
                        out.push("[".into());
                        let values: Vec<_> = values.iter().map(Val::tokens).collect();
                        out.extend(comma_separated(&values, *trailing));
                        out.push("]".into());
                    }
                }
                out
            }
            Cond::Or(parts) => {
                let mut out = Vec::new();
                for (i, part) in parts.iter().enumerate() {
                    if i > 0 {
                        out.push("or".into());
                    }
                    out.extend(part.tokens(0));
                }
                if level > 0 {
                    paren(out)
                } else {
                    out
                }
            }
            Cond::And(parts) => {
                let mut out = Vec::new();
                for (i, part) in parts.iter().enumerate() {
                    if i > 0 {
                        out.push("and".into());
                    }
                    out.extend(part.tokens(1));
                }
                if level > 1 {
                    paren(out)
                } else {
                    out
                }
            }
            Cond::Not(inner) => {
                let mut out = vec!["not".to_string()];
                out.extend(inner.tokens(2));
                out
            }
            Cond::Paren(inner) => paren(inner.tokens(0)),
        }
    }

    fn norm(&self) -> Norm {
        match self {
            Cond::Test { arg, mask, test } => {
                let arg = match mask {
                    None => arg.clone(),
                    Some(mask) => sexp("&", [arg.clone(), mask.shape()]),
                };
                Norm::Leaf(match test {
                    TestKind::Compare(op, value) => sexp(op, [arg, value.shape()]),
                    TestKind::In {
                        negated, values, ..
                    } => sexp(
                        if *negated { "not-in" } else { "in" },
                        std::iter::once(arg).chain(values.iter().map(Val::shape)),
                    ),
                })
            }
            Cond::Or(parts) => join_or(parts.iter().map(Cond::norm)),
            Cond::And(parts) => join_and(parts.iter().map(Cond::norm)),
            Cond::Not(inner) => Norm::Not(Box::new(inner.norm())),
            Cond::Paren(inner) => inner.norm(),
        }
    }
}

fn cond() -> impl Strategy<Value = Cond> {
    let op = pick(&["==", "!=", "<", "<=", ">", ">="]);
    let test = prop_oneof![
        (op, val()).prop_map(|(op, v)| TestKind::Compare(op, v)),
        (
            any::<bool>(),
            proptest::collection::vec(val(), 1..4),
            any::<bool>()
        )
            .prop_map(|(negated, values, trailing)| TestKind::In {
                negated,
                values,
                trailing
            }),
    ];
    let leaf = (pick(NAMES), proptest::option::weighted(0.3, val()), test)
        .prop_map(|(arg, mask, test)| Cond::Test { arg, mask, test });
    leaf.prop_recursive(4, 16, 3, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 2..4).prop_map(Cond::Or),
            proptest::collection::vec(inner.clone(), 2..4).prop_map(Cond::And),
            inner.clone().prop_map(|c| Cond::Not(Box::new(c))),
            inner.prop_map(|c| Cond::Paren(Box::new(c))),
        ]
    })
}

// ---- syscall items ----------------------------------------------------------------

/// Actions: every named one, condition words (an action may be one; not `if`, which
/// after a rule would start its condition), and `errno(...)`.
fn action() -> impl Strategy<Value = Piece> {
    let named = pick(&[
        "allow",
        "deny",
        "kill",
        "kill-thread",
        "trap",
        "log",
        "notify",
        "errno",
        "or",
        "and",
        "not",
        "in",
        "allow-x",
    ])
    .prop_map(|a| Piece {
        tokens: vec![a.clone()],
        shape: a,
    });
    let errno = prop_oneof![
        pick(&["EPERM", "ENOSYS", "in", "x-1"]),
        number().prop_filter("errno takes a number", |n| !n.contains('.'))
    ]
    .prop_map(|v| Piece {
        tokens: toks(&["errno", "(", &v, ")"]),
        shape: sexp("errno", [v]),
    });
    prop_oneof![3 => named, 1 => errno]
}

fn target() -> impl Strategy<Value = Piece> {
    let set = pick(&["@file-io", "@x", "@a_b-c", "@if", "@set"]).prop_map(|s| Piece {
        tokens: vec![s.clone()],
        shape: s,
    });
    let syscall = (
        pick(NAMES),
        proptest::option::weighted(0.3, proptest::collection::vec(pick(NAMES), 1..3)),
    )
        .prop_map(|(name, params)| match params {
            None => Piece {
                tokens: vec![name.clone()],
                shape: name,
            },
            Some(params) => {
                let mut tokens = vec![name.clone(), "(".into()];
                let items: Vec<Vec<String>> = params.iter().map(|p| vec![p.clone()]).collect();
                tokens.extend(comma_separated(&items, false));
                tokens.push(")".into());
                Piece {
                    tokens,
                    shape: sexp(&name, params),
                }
            }
        });
    prop_oneof![1 => set, 3 => syscall]
}

fn rule() -> impl Strategy<Value = Piece> {
    (
        action(),
        proptest::collection::vec(target(), 1..4),
        proptest::option::weighted(0.5, cond()),
    )
        .prop_map(|(action, targets, condition)| {
            let mut tokens = action.tokens;
            let items: Vec<Vec<String>> = targets.iter().map(|t| t.tokens.clone()).collect();
            tokens.extend(comma_separated(&items, false));
            let mut shape = vec![action.shape];
            shape.extend(targets.into_iter().map(|t| t.shape));
            if let Some(condition) = condition {
                tokens.push("if".into());
                tokens.extend(condition.tokens(0));
                shape.push(sexp("if", [render_norm(&condition.norm())]));
            }
            Piece {
                tokens,
                shape: sexp("rule", shape),
            }
        })
}

fn syscall_item() -> impl Strategy<Value = Piece> {
    let default = action().prop_map(|a| {
        let mut tokens = vec!["default".to_string()];
        tokens.extend(a.tokens);
        Piece {
            tokens,
            shape: sexp("default", [a.shape]),
        }
    });
    let set = (
        pick(&["@x", "@my-set", "@file-io"]),
        proptest::collection::vec(target(), 0..4),
        any::<bool>(),
    )
        .prop_map(|(name, targets, trailing)| {
            let mut tokens = toks(&["set", &name, "=", "["]);
            let items: Vec<Vec<String>> = targets.iter().map(|t| t.tokens.clone()).collect();
            tokens.extend(comma_separated(&items, trailing));
            tokens.push("]".into());
            Piece {
                tokens,
                shape: sexp(
                    "set",
                    std::iter::once(name).chain(targets.into_iter().map(|t| t.shape)),
                ),
            }
        });
    let simple = prop_oneof![1 => default, 1 => set, 4 => rule()];
    simple.prop_recursive(2, 12, 4, |inner| {
        (
            pick(&["x86_64", "aarch64", "arch"]),
            proptest::collection::vec(inner, 0..4),
        )
            .prop_map(|(arch, items)| {
                let mut tokens = toks(&["arch", &arch, "{"]);
                let mut shape = vec![arch];
                for item in items {
                    tokens.extend(item.tokens);
                    shape.push(item.shape);
                }
                tokens.push("}".into());
                Piece {
                    tokens,
                    shape: sexp("arch", shape),
                }
            })
    })
}

// ---- filesystem -------------------------------------------------------------------

/// Bare paths as written, and values of quoted ones.
const BARE_PATHS: &[&str] = &[
    "/",
    "/usr",
    "/usr/lib",
    "/a/b.c",
    "/x-y+z@1:2~=%_",
    "${workspace}",
    "${workspace}/out",
    "/home/${home}/x",
    "${a-b}${c}",
];
const QUOTED_PATHS: &[&str] = &["/with space", "usr/bin", "", "/q\"uote", "/tab\tx", "/{x}"];

fn fs_path() -> impl Strategy<Value = Piece> {
    prop_oneof![
        pick(BARE_PATHS).prop_map(|p| Piece {
            tokens: vec![p.clone()],
            shape: p,
        }),
        pick(QUOTED_PATHS).prop_map(|p| Piece {
            tokens: vec![quote(&p)],
            shape: quote(&p),
        }),
    ]
}

const QUANTITIES: &[&str] = &[
    "64MiB", "1GiB", "512m", "30s", "500ms", "1.5G", "-1k", "1_024K", "0xfg", "0xffMiB", "0x",
];

fn quantity() -> impl Strategy<Value = String> {
    pick(QUANTITIES)
}

fn fs_entry() -> impl Strategy<Value = Piece> {
    let option = prop_oneof![
        fs_path().prop_map(|p| Piece {
            tokens: [vec!["from".to_string()], p.tokens].concat(),
            shape: sexp("from", [p.shape]),
        }),
        fs_path().prop_map(|p| Piece {
            tokens: [vec!["to".to_string()], p.tokens].concat(),
            shape: sexp("to", [p.shape]),
        }),
        number().prop_map(|n| Piece {
            tokens: toks(&["size", &n]),
            shape: sexp("size", [n]),
        }),
        quantity().prop_map(|q| Piece {
            tokens: toks(&["size", &q]),
            shape: sexp("size", [sexp("qty", [q])]),
        }),
        number().prop_map(|n| Piece {
            tokens: toks(&["mode", &n]),
            shape: sexp("mode", [n]),
        }),
        Just(Piece {
            tokens: toks(&["optional"]),
            shape: "optional".into(),
        }),
    ];
    (
        pick(&[
            "ro", "rw", "tmpfs", "proc", "dev", "dir", "symlink", "mask", "policy", "if", "from-x",
            "sizes",
        ]),
        fs_path(),
        proptest::collection::vec(option, 0..4),
    )
        .prop_map(|(kind, target, options)| {
            let mut tokens = vec![kind.clone()];
            tokens.extend(target.tokens);
            let mut shape = vec![target.shape];
            for option in options {
                tokens.extend(option.tokens);
                shape.push(option.shape);
            }
            Piece {
                tokens,
                shape: sexp(&kind, shape),
            }
        })
}

// ---- properties -------------------------------------------------------------------

/// Keys: any identifier, keywords included.
const KEYS: &[&str] = &[
    "memory", "swap", "cpu", "pids", "timeout", "cpu-time", "command", "cwd", "env", "pass", "uid",
    "connect", "bind", "policy", "if", "not", "from", "network", "x_1",
];
/// Identifier values.
const WORDS: &[&str] = &["unlimited", "none", "host", "TERM", "in", "syscalls", "a-b"];
const STRINGS: &[&str] = &[
    "python3",
    "-I",
    "",
    "C.UTF-8",
    "/usr/bin:/bin",
    "a\"b",
    "back\\slash",
    "tab\there",
    "nl\nx",
    "ünï ✓",
    "# not a comment",
    "{[(",
];

fn scalar_value() -> impl Strategy<Value = Piece> {
    prop_oneof![
        pick(STRINGS).prop_map(|s| Piece {
            tokens: vec![quote(&s)],
            shape: quote(&s),
        }),
        pick(BARE_PATHS).prop_map(|p| Piece {
            tokens: vec![p.clone()],
            shape: p,
        }),
        number().prop_map(|n| Piece {
            tokens: vec![n.clone()],
            shape: n,
        }),
        quantity().prop_map(|q| Piece {
            tokens: vec![q.clone()],
            shape: sexp("qty", [q]),
        }),
        pick(WORDS).prop_map(|w| Piece {
            tokens: vec![w.clone()],
            shape: w,
        }),
    ]
}

fn prop_value() -> impl Strategy<Value = Piece> {
    let list = (
        proptest::collection::vec(scalar_value(), 0..4),
        any::<bool>(),
    )
        .prop_map(|(items, trailing)| {
            let mut tokens = vec!["[".to_string()];
            let parts: Vec<Vec<String>> = items.iter().map(|i| i.tokens.clone()).collect();
            tokens.extend(comma_separated(&parts, trailing));
            tokens.push("]".into());
            Piece {
                tokens,
                shape: sexp("list", items.into_iter().map(|i| i.shape)),
            }
        });
    let map = proptest::collection::vec((pick(KEYS), scalar_value()), 0..4).prop_map(|entries| {
        let mut tokens = vec!["{".to_string()];
        let mut shape = Vec::new();
        for (key, value) in entries {
            tokens.push(key.clone());
            tokens.push("=".into());
            tokens.extend(value.tokens);
            shape.push(sexp(&key, [value.shape]));
        }
        tokens.push("}".into());
        Piece {
            tokens,
            shape: sexp("map", shape),
        }
    });
    prop_oneof![4 => scalar_value(), 1 => list, 1 => map]
}

fn property() -> impl Strategy<Value = Piece> {
    (pick(KEYS), prop_value()).prop_map(|(key, value)| Piece {
        tokens: [vec![key.clone()], value.tokens].concat(),
        shape: sexp(&key, [value.shape]),
    })
}

// ---- items and files --------------------------------------------------------------

fn block(
    keyword: &'static str,
    items: impl Strategy<Value = Piece>,
) -> impl Strategy<Value = Piece> {
    proptest::collection::vec(items, 0..5).prop_map(move |items| {
        let mut tokens = toks(&[keyword, "{"]);
        let mut shape = Vec::new();
        for item in items {
            tokens.extend(item.tokens);
            shape.push(item.shape);
        }
        tokens.push("}".into());
        Piece {
            tokens,
            shape: sexp(keyword, shape),
        }
    })
}

fn item() -> impl Strategy<Value = Piece> {
    let string_item = (
        pick(&["policy", "description", "extends", "include"]),
        pick(STRINGS),
    )
        .prop_map(|(keyword, value)| Piece {
            tokens: vec![keyword.clone(), quote(&value)],
            shape: sexp(&keyword, [quote(&value)]),
        });
    let network_mode = pick(&["none", "host", "in", "policy"]).prop_map(|mode| Piece {
        tokens: toks(&["network", &mode]),
        shape: sexp("network", [mode]),
    });
    let network_rules = proptest::collection::vec(property(), 0..3).prop_map(|props| {
        let mut tokens = toks(&["network", "{"]);
        let mut shape = Vec::new();
        for prop in props {
            tokens.extend(prop.tokens);
            shape.push(prop.shape);
        }
        tokens.push("}".into());
        Piece {
            tokens,
            shape: sexp("network", [sexp("rules", shape)]),
        }
    });
    prop_oneof![
        2 => string_item,
        4 => block("syscalls", syscall_item()),
        2 => block("filesystem", fs_entry()),
        2 => block("resources", property()),
        2 => block("process", property()),
        1 => network_mode,
        1 => network_rules,
    ]
}

/// A generated file: its tokens and expected shape, and choices of separators.
#[derive(Clone, Debug)]
struct Generated {
    tokens: Vec<String>,
    shape: String,
    separators: Vec<u8>,
}

fn generated() -> impl Strategy<Value = Generated> {
    (
        proptest::collection::vec(item(), 0..5),
        proptest::collection::vec(any::<u8>(), 1..32),
    )
        .prop_map(|(items, separators)| {
            let mut tokens = Vec::new();
            let mut shapes = Vec::new();
            for item in items {
                tokens.extend(item.tokens);
                shapes.push(item.shape);
            }
            Generated {
                tokens,
                shape: shapes.join("\n"),
                separators,
            }
        })
}

/// Tokens that may touch any neighbour without changing how it is read.
fn is_self_delimiting(token: &str) -> bool {
    matches!(token, "{" | "}" | "[" | "]" | "(" | ")" | "," | "&" | "|")
}

/// Joins tokens with whitespace and comments picked by `choices`.
fn render(tokens: &[String], choices: &[u8]) -> String {
    const SEPARATORS: &[&str] = &[
        " ",
        "\n",
        "",
        " ",
        "\t",
        "\n    ",
        "  # a comment\n",
        "#\n",
        "\r\n",
        "\n\n# own line\n",
    ];
    let first = choices.first().copied().unwrap_or(0);
    let mut out = String::new();
    if first % 4 == 1 {
        out.push_str("# leading comment\n\n");
    } else if first % 4 == 2 {
        out.push_str(" \n");
    }
    for (i, token) in tokens.iter().enumerate() {
        if i > 0 {
            let choice = choices.get(i % choices.len().max(1)).copied().unwrap_or(0);
            let mut separator = SEPARATORS[usize::from(choice) % SEPARATORS.len()];
            if separator.is_empty()
                && !is_self_delimiting(&tokens[i - 1])
                && !is_self_delimiting(token)
            {
                separator = " ";
            }
            out.push_str(separator);
        }
        out.push_str(token);
    }
    match first % 3 {
        1 => out.push('\n'),
        2 => out.push_str("\n# trailing comment"),
        _ => {}
    }
    out
}

fn config(cases: u32) -> Config {
    Config {
        cases,
        // a failure is reported with its minimal input; nothing is written to the tree
        failure_persistence: None,
        ..Config::default()
    }
}

proptest! {
    #![proptest_config(config(512))]

    /// Generated policies: the grammar gives the generator's shape, and so does the
    /// production parser.
    #[test]
    fn generated_policies_agree(generated in generated()) {
        let src = render(&generated.tokens, &generated.separators);
        let grammar_shape = pfp_grammar::shape(&src);
        prop_assert_eq!(
            grammar_shape.as_deref(),
            Some(generated.shape.as_str()),
            "the grammar on {:?}: {}",
            src,
            pfp_grammar::parse_error(&src).unwrap_or_default()
        );
        if let Err(why) = agree(&src) {
            prop_assert!(false, "{}", why);
        }
    }
}

/// What a mutation does to a generated policy.
#[derive(Clone, Debug)]
enum Mutation {
    DeleteChars(Index, usize),
    InsertChar(Index, char),
    DeleteToken(Index),
    DuplicateToken(Index),
    SwapTokens(Index),
    InsertToken(Index, String),
}

/// Tokens and characters that mutations insert.
const INSERTED_TOKENS: &[&str] = &[
    "{", "}", "[", "]", "(", ")", ",", "=", "==", "&", "|", "<", "not", "in", "if", "and", "or",
    "allow", "default", "set", "arch", "errno", "read", "@x", "0", "0x", "1k", "\"s\"", "/p",
    "from", "optional", "size", "mode", "policy", "syscalls", "network", "-", "#",
];
const INSERTED_CHARS: &[char] = &[
    ' ', '\n', '{', '}', '[', ']', '(', ')', ',', '=', '&', '|', '<', '>', '!', '#', '"', '\\',
    '@', '$', '/', '-', '_', '.', '0', '1', 'a', 'x', 'B', 'é', ';',
];

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<Index>(), 1usize..4).prop_map(|(i, n)| Mutation::DeleteChars(i, n)),
        (any::<Index>(), proptest::sample::select(INSERTED_CHARS))
            .prop_map(|(i, c)| Mutation::InsertChar(i, c)),
        any::<Index>().prop_map(Mutation::DeleteToken),
        any::<Index>().prop_map(Mutation::DuplicateToken),
        any::<Index>().prop_map(Mutation::SwapTokens),
        (any::<Index>(), pick(INSERTED_TOKENS)).prop_map(|(i, t)| Mutation::InsertToken(i, t)),
    ]
}

/// Applies a mutation to a policy's tokens; a character mutation leaves one "token",
/// the whole text.
fn mutate(mut tokens: Vec<String>, separators: &[u8], mutation: &Mutation) -> Vec<String> {
    let text = |tokens: &[String]| render(tokens, separators);
    let chars_of = |tokens: &[String]| text(tokens).chars().collect::<Vec<char>>();
    let one = |chars: Vec<char>| vec![chars.into_iter().collect::<String>()];
    match mutation {
        Mutation::DeleteChars(at, n) => {
            let mut chars = chars_of(&tokens);
            if !chars.is_empty() {
                let start = at.index(chars.len());
                let end = (start + n).min(chars.len());
                chars.drain(start..end);
            }
            one(chars)
        }
        Mutation::InsertChar(at, c) => {
            let mut chars = chars_of(&tokens);
            let at = at.index(chars.len() + 1);
            chars.insert(at, *c);
            one(chars)
        }
        Mutation::DeleteToken(at) => {
            if !tokens.is_empty() {
                tokens.remove(at.index(tokens.len()));
            }
            tokens
        }
        Mutation::DuplicateToken(at) => {
            if !tokens.is_empty() {
                let i = at.index(tokens.len());
                let token = tokens[i].clone();
                tokens.insert(i, token);
            }
            tokens
        }
        Mutation::SwapTokens(at) => {
            if tokens.len() >= 2 {
                let i = at.index(tokens.len() - 1);
                tokens.swap(i, i + 1);
            }
            tokens
        }
        Mutation::InsertToken(at, token) => {
            let i = at.index(tokens.len() + 1);
            tokens.insert(i, token.clone());
            tokens
        }
    }
}

proptest! {
    #![proptest_config(config(1024))]

    /// Broken (and sometimes still valid) variants of generated policies: the parsers
    /// accept the same ones, with the same shapes.
    #[test]
    fn mutated_policies_agree(generated in generated(), mutations in proptest::collection::vec(mutation(), 1..3)) {
        let mut tokens = generated.tokens.clone();
        for mutation in &mutations {
            tokens = mutate(tokens, &generated.separators, mutation);
        }
        let src = render(&tokens, &generated.separators);
        if let Err(why) = agree(&src) {
            prop_assert!(false, "{}", why);
        }
    }
}

/// Places where a token's exact extent decides what the text means.
const LEXICAL_CONTEXTS: &[&str] = &[
    "resources { k @ }",
    "resources { k [@] }",
    "resources { k @ j 1 }",
    "process { env { A = @ } }",
    "syscalls { allow x if a == @ }",
    "syscalls { allow x if a & @ in [@] }",
    "syscalls { errno(@) x }",
    "syscalls { @ x }",
    "syscalls { allow @ }",
    "filesystem { ro @ }",
    "filesystem { tmpfs /t size @ mode @ }",
    "policy @",
    "network @",
];

proptest! {
    #![proptest_config(config(2048))]

    /// Short runs of token characters in every kind of place: numbers and quantities,
    /// identifiers with `-`, paths and variables, strings and escapes, comments.
    #[test]
    fn token_soup_agrees(
        context in proptest::sample::select(LEXICAL_CONTEXTS),
        soup in "[0-9a-fxobMiBkK_.\\-/${}\"\\\\#@=+ ntq]{0,8}",
    ) {
        let src = context.replace('@', &soup);
        if let Err(why) = agree(&src) {
            prop_assert!(false, "{}", why);
        }
    }
}

/// Words and punctuation that conditions, rules and entries are made of.
const WORD_SOUP: &[&str] = &[
    "allow", "kill", "x", "read", "a", "@s", "if", "if", "and", "or", "not", "not", "in", "in",
    "==", "<", "&", "|", "(", ")", "[", "]", ",", ",", "1", "0x1f", "1k", "default", "set", "=",
    "arch", "{", "}", "errno", "/p", "\"s\"", "from", "size", "mode", "optional", "ro", "network",
    "none", "policy",
];
const WORD_CONTEXTS: &[&str] = &[
    "syscalls { @ }",
    "syscalls { allow x if @ }",
    "syscalls { allow x if a == 1 @ }",
    "filesystem { @ }",
    "resources { @ }",
    "@",
];

proptest! {
    #![proptest_config(config(2048))]

    /// Random sequences of the language's words: whatever they make, both parsers
    /// accept it or neither does.
    #[test]
    fn word_soup_agrees(
        context in proptest::sample::select(WORD_CONTEXTS),
        words in proptest::collection::vec(proptest::sample::select(WORD_SOUP), 0..14),
    ) {
        let src = context.replace('@', &words.join(" "));
        if let Err(why) = agree(&src) {
            prop_assert!(false, "{}", why);
        }
    }
}
