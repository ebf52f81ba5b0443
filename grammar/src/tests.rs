use super::*;

const LANGUAGE_DOC: &str = include_str!("../../docs/language.md");

/// The ```pfp code blocks of docs/language.md.
fn doc_examples() -> Vec<String> {
    let mut blocks = Vec::new();
    let mut current: Option<String> = None;
    for line in LANGUAGE_DOC.lines() {
        match &mut current {
            None if line.trim() == "```pfp" => current = Some(String::new()),
            None => {}
            Some(_) if line.trim() == "```" => blocks.extend(current.take()),
            Some(block) => {
                block.push_str(line);
                block.push('\n');
            }
        }
    }
    assert!(current.is_none(), "unclosed code block in docs/language.md");
    blocks
}

#[track_caller]
fn assert_accepts(src: &str) {
    if let Some(err) = parse_error(src) {
        panic!("rejected:\n{src}\n{err}");
    }
}

#[track_caller]
fn assert_rejects(src: &str) {
    assert!(!accepts(src), "accepted:\n{src}\nshape: {:?}", shape(src));
}

#[track_caller]
fn assert_shape(src: &str, expected: &str) {
    assert_accepts(src);
    assert_eq!(shape(src).as_deref(), Some(expected), "for:\n{src}");
}

#[test]
fn every_doc_example_parses() {
    let examples = doc_examples();
    assert!(
        examples.len() >= 5,
        "found only {} ```pfp blocks",
        examples.len()
    );
    for example in &examples {
        assert_accepts(example);
        assert!(shape(example).is_some());
    }
}

#[test]
fn inline_doc_snippets_parse() {
    // Forms the doc shows in prose and tables rather than in code blocks.
    for src in [
        "network none",
        "network host",
        "network { connect [443, 80]  bind [8080] }",
        r#"extends "./base.pfp""#,
        r#"include "fragments/net.pfp""#,
        r#"description "one line""#,
        "syscalls { allow clone(flags) if flags & CLONE_NEWUSER == 0 }",
        "syscalls { deny read kill-thread write trap a log b notify c errno(1) d }",
        "syscalls { allow socket(domain) if domain not in [AF_INET6] }",
        "resources { swap unlimited pids 128 }",
    ] {
        assert_accepts(src);
    }
}

#[test]
fn crate_doc_example_shape() {
    let src = r#"policy "x"
syscalls {
    default kill
    allow read, @file-io
    allow socket(domain) if domain in [AF_UNIX, AF_INET] and not type & SOCK_RAW == 0
}
resources { memory 512MiB swap unlimited }
"#;
    assert_shape(
        src,
        "(policy \"x\")\n\
         (syscalls (default kill) (rule allow read @file-io) (rule allow (socket domain) \
         (if (and (in domain AF_UNIX AF_INET) (not (== (& type SOCK_RAW) 0))))))\n\
         (resources (memory (qty 512MiB)) (swap unlimited))",
    );
}

#[test]
fn first_doc_example_shape() {
    let examples = doc_examples();
    assert_eq!(
        shape(&examples[0]).unwrap(),
        "(policy \"my-tool\")\n\
         (extends \"python-dev\")\n\
         (syscalls (default kill) (rule allow @file-io @memory @time) \
         (rule allow (socket domain) (if (in domain AF_UNIX AF_INET AF_INET6))) \
         (rule allow (clone flags) (if (== (& flags CLONE_NEWUSER) 0))) \
         (rule (errno EPERM) ptrace))\n\
         (filesystem (ro /usr) (rw /workspace (from ${workspace})) (tmpfs /tmp (size (qty 64MiB))))\n\
         (resources (memory (qty 512MiB)) (pids 128) (timeout (qty 30s)))\n\
         (network none)\n\
         (process (command (list \"python3\")) (cwd /workspace))"
    );
}

#[test]
fn syscall_items_shape() {
    assert_shape(
        "syscalls {
            default errno(ENOSYS)
            set @my-tools = [read, write, @time]
            set @none = []
            set @trail = [a, b,]
            kill ptrace, process_vm_readv
            arch x86_64 {
                allow arch_prctl
                allow open(flags) if flags & (O_WRONLY | O_RDWR) == 0
            }
            arch aarch64 {}
        }",
        "(syscalls (default (errno ENOSYS)) (set @my-tools read write @time) (set @none) \
         (set @trail a b) (rule kill ptrace process_vm_readv) \
         (arch x86_64 (rule allow arch_prctl) \
         (rule allow (open flags) (if (== (& flags (| O_WRONLY O_RDWR)) 0)))) (arch aarch64))",
    );
}

#[test]
fn condition_precedence_and_flattening() {
    let rule = |cond: &str| shape(&format!("syscalls {{ allow x if {cond} }}"));
    let wrap = |s: &str| format!("(syscalls (rule allow x (if {s})))");
    assert_eq!(
        rule("a == 1 or not b == 2 and c == 3"),
        Some(wrap("(or (== a 1) (and (not (== b 2)) (== c 3)))"))
    );
    assert_eq!(
        rule("(a == 1 or b == 2) or c == 3"),
        Some(wrap("(or (== a 1) (== b 2) (== c 3))"))
    );
    assert_eq!(
        rule("a == 1 or (b == 2 or c == 3)"),
        Some(wrap("(or (== a 1) (== b 2) (== c 3))"))
    );
    assert_eq!(
        rule("(a == 1 and b == 2) or c == 3"),
        Some(wrap("(or (and (== a 1) (== b 2)) (== c 3))"))
    );
    assert_eq!(
        rule("a == 1 and (b == 2 or c == 3)"),
        Some(wrap("(and (== a 1) (or (== b 2) (== c 3)))"))
    );
    assert_eq!(rule("not not (a < 1)"), Some(wrap("(not (not (< a 1)))")));
    assert_eq!(rule("((a >= -1))"), Some(wrap("(>= a -1)")));
    assert_eq!(
        rule("a & (X | (Y | Z)) != X | Y"),
        Some(wrap("(!= (& a (| X Y Z)) (| X Y))"))
    );
    assert_eq!(
        rule("a & M not in [1, 2,]"),
        Some(wrap("(not-in (& a M) 1 2)"))
    );
    assert_eq!(rule("a in [(1)]"), Some(wrap("(in a 1)")));
    assert_eq!(rule("a<=0x7f"), Some(wrap("(<= a 0x7f)")));
    assert_eq!(rule("a>1"), Some(wrap("(> a 1)")));
    // keywords are whole words only
    assert_eq!(rule("order == android"), Some(wrap("(== order android)")));
    assert_eq!(rule("in-x in [not-y]"), Some(wrap("(in in-x not-y)")));
}

#[test]
fn filesystem_shape() {
    assert_shape(
        r#"filesystem {
            ro /opt/tools from /srv/tools optional
            tmpfs /tmp size 64MiB mode 0o1777
            tmpfs /t2 size 1024
            symlink /bin to "usr/bin"
            ro "/with space" from "/x\ty"
            rw ${home}/x-1 from ${cwd}
        }"#,
        "(filesystem (ro /opt/tools (from /srv/tools) optional) \
         (tmpfs /tmp (size (qty 64MiB)) (mode 0o1777)) (tmpfs /t2 (size 1024)) \
         (symlink /bin (to \"usr/bin\")) (ro \"/with space\" (from \"/x\\ty\")) \
         (rw ${home}/x-1 (from ${cwd})))",
    );
}

#[test]
fn properties_shape() {
    assert_shape(
        r#"process {
            command ["python3", "-I",]
            cwd /workspace
            env { PATH = "/usr/bin" LANG="C.UTF-8" N = 1 P = /x I = x Q = 1k }
            pass [TERM, COLORTERM]
            empty []
            mixed [1, 2k, /p, x, "s"]
            uid 1000
            cpu 1.5
            neg -1
        }
        network { connect [443, 80] bind [] }"#,
        "(process (command (list \"python3\" \"-I\")) (cwd /workspace) \
         (env (map (PATH \"/usr/bin\") (LANG \"C.UTF-8\") (N 1) (P /x) (I x) (Q (qty 1k)))) (pass (list TERM COLORTERM)) \
         (empty (list)) (mixed (list 1 (qty 2k) /p x \"s\")) (uid 1000) (cpu 1.5) (neg -1))\n\
         (network (rules (connect (list 443 80)) (bind (list))))",
    );
}

#[test]
fn one_value_per_property() {
    assert_shape(
        "resources { memory 512MiB pids 128 swap unlimited timeout 30s }",
        "(resources (memory (qty 512MiB)) (pids 128) (swap unlimited) (timeout (qty 30s)))",
    );
    // `memory` without a value takes `pids` as its value; `128` can't be a key
    assert_rejects("resources { memory pids 128 }");
}

#[test]
fn strings_and_escapes() {
    assert_shape(r#"policy "a\"b\\c\nd\te""#, r#"(policy "a\"b\\c\nd\te")"#);
    assert_shape(
        "policy \"ünï ✓ # not a comment\"",
        "(policy \"ünï ✓ # not a comment\")",
    );
    assert_rejects(r#"policy "a\qb""#);
    assert_rejects(r#"policy "a\'b""#);
    assert_rejects("policy \"abc");
    assert_rejects("policy \"ab\nc\"");
    assert_rejects(r#"policy "ab\"#);
}

#[test]
fn comments_and_whitespace() {
    assert_shape(
        "# head\npolicy#x\n\"p\"# tail\r\n\tsyscalls{allow read#c\n,write}",
        "(policy \"p\")\n(syscalls (rule allow read write))",
    );
    assert_shape("", "");
    assert_shape("# only a comment", "");
    assert_shape("   \n\t", "");
    // no space needed between tokens of different kinds
    assert_shape(
        "syscalls{allow@x,read(a)if a==1 kill@y}",
        "(syscalls (rule allow @x (read a) (if (== a 1))) (rule kill @y))",
    );
    assert_rejects("policy\u{a0}\"x\"");
    assert_rejects("policy \"x\"\u{c}");
}

#[test]
fn numbers_and_quantities() {
    let value = |v: &str| shape(&format!("resources {{ k {v} }}"));
    let one = |s: &str| Some(format!("(resources (k {s}))"));
    assert_eq!(value("42"), one("42"));
    assert_eq!(value("1_000"), one("1_000"));
    assert_eq!(value("-1"), one("-1"));
    assert_eq!(value("1.5"), one("1.5"));
    assert_eq!(value("0x7f"), one("0x7f"));
    assert_eq!(value("0xff"), one("0xff"));
    assert_eq!(value("0o755"), one("0o755"));
    assert_eq!(value("0b1010"), one("0b1010"));
    assert_eq!(value("0755"), one("0755"));
    assert_eq!(value("0x_"), one("0x_"));
    assert_eq!(value("512MiB"), one("(qty 512MiB)"));
    assert_eq!(value("1.5G"), one("(qty 1.5G)"));
    assert_eq!(value("-1k"), one("(qty -1k)"));
    assert_eq!(value("1__k"), one("(qty 1__k)"));
    // a number of another base ends where its digits end
    assert_eq!(
        shape("resources { a 0x1fg 1 }"),
        Some("(resources (a 0x1f) (g 1))".into())
    );
    assert_eq!(
        shape("resources { a 0b1x 1 }"),
        Some("(resources (a 0b1) (x 1))".into())
    );
    // longest first: `0x` then letters that are not all hex digits is a quantity
    assert_eq!(value("0xfg"), one("(qty 0xfg)"));
    assert_eq!(value("0xffMiB"), one("(qty 0xffMiB)"));
    assert_eq!(value("0xg"), one("(qty 0xg)"));
    assert_eq!(value("0xa1g"), None);
    assert_eq!(
        shape("resources { a 0xa1g 1 }"),
        Some("(resources (a 0xa1) (g 1))".into())
    );
    assert_eq!(value("-0xffk"), one("(qty -0xffk)"));
    assert_eq!(value("0xff_"), one("0xff_"));
    // `0o8` is the quantity `0o`, then the number `8`
    assert_eq!(shape("resources { a [0o8] }"), None);
    assert_eq!(
        shape("resources { a 0o x 8 }"),
        Some("(resources (a (qty 0o)) (x 8))".into())
    );
    assert_eq!(shape("resources { a 0o8 }"), None);
    assert_eq!(
        shape("resources { a 0x }"),
        Some("(resources (a (qty 0x)))".into())
    );
    assert_eq!(shape("resources { a 1e5 }"), None);
    assert_rejects("resources { a 1. }");
    assert_rejects("resources { a 1.x }");
    assert_rejects("resources { a .5 }");
    assert_rejects("resources { a - }");
    assert_rejects("resources { a --1 }");
    assert_rejects("resources { a 1.5.5 }");
    // a quantity is not a condition value
    assert_rejects("syscalls { allow x if a == 5k }");
    assert_accepts("syscalls { allow x if a == -0x1_0 }");
}

#[test]
fn identifiers_and_keywords() {
    assert_shape(
        "syscalls { kill-thread a-1, _x, x86_64, log(log) if log == log }",
        "(syscalls (rule kill-thread a-1 _x x86_64 (log log) (if (== log log))))",
    );
    assert_rejects("syscalls { allow a- }");
    assert_rejects("syscalls { allow a--b }");
    assert_rejects("syscalls { allow -a }");
    assert_rejects("Policy \"x\"");
    assert_rejects("policy-x \"x\"");
    assert_rejects("policy2 \"x\"");
    // item words are words only in item position
    assert_shape(
        "syscalls { allow policy, syscalls, default-x, sets, arch-y }",
        "(syscalls (rule allow policy syscalls default-x sets arch-y))",
    );
    assert_shape("syscalls { set-x read }", "(syscalls (rule set-x read))");
    assert_shape("syscalls { errno read }", "(syscalls (rule errno read))");
    assert_shape(
        "syscalls { errno(in) read }",
        "(syscalls (rule (errno in) read))",
    );
    assert_shape("syscalls { if read }", "(syscalls (rule if read))");
    // `default`, `set`, `arch` never are actions
    assert_shape("syscalls { default read }", "(syscalls (default read))");
    assert_rejects("syscalls { default read, write }");
    assert_rejects("syscalls { set read }");
    assert_rejects("syscalls { arch read }");
    // condition words are never names
    for word in ["if", "and", "or", "not", "in"] {
        assert_rejects(&format!("syscalls {{ allow {word} }}"));
        assert_rejects(&format!("syscalls {{ allow x({word}) }}"));
        assert_rejects(&format!("syscalls {{ allow x if {word} == 1 }}"));
        assert_rejects(&format!("syscalls {{ allow x if a == {word} }}"));
        assert_rejects(&format!("syscalls {{ allow x if a in [{word}] }}"));
    }
    // A condition word may be an action (the grammar only keeps it from being a name),
    // so a condition that stops early leaves a rule behind it; but an `if` after a
    // rule's targets always starts its condition.
    assert_rejects("syscalls { allow read if a }");
    assert_rejects("syscalls { allow read if read }");
    assert_shape("syscalls { if read }", "(syscalls (rule if read))");
    assert_shape(
        "syscalls { default allow if read }",
        "(syscalls (default allow) (rule if read))",
    );
    assert_shape(
        "syscalls { allow x if a == 1 or b }",
        "(syscalls (rule allow x (if (== a 1))) (rule or b))",
    );
    // fs option words are never kinds; other words are
    assert_shape(
        "filesystem { from-x /a proc /proc mode-y /b mode 0o1 }",
        "(filesystem (from-x /a) (proc /proc) (mode-y /b (mode 0o1)))",
    );
    assert_rejects("filesystem { from /a }");
    assert_rejects("filesystem { optional /a }");
}

#[test]
fn paths() {
    assert_shape(
        "process { a / b /usr/lib c ${workspace}/out d /a+b@1:2~x=y%z_.-q e ${x}${y} }",
        "(process (a /) (b /usr/lib) (c ${workspace}/out) (d /a+b@1:2~x=y%z_.-q) (e ${x}${y}))",
    );
    assert_rejects("process { a /x${y }");
    assert_rejects("process { a ${y }");
    assert_rejects("process { a $y }");
    assert_rejects("process { a ${} }");
    assert_shape("process { a /x y/z }", "(process (a /x) (y /z))");
    assert_rejects("process { a /x\\y }");
    // a path ends where its characters end: `/a` then `{` is a map
    assert_rejects("process { a /a{ } }");
}

#[test]
fn invalid_inputs() {
    for src in [
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
        "syscalls { allow read() }",
        "syscalls { allow read(a,) }",
        "syscalls { allow read(@x) }",
        "syscalls { errno() read }",
        "syscalls { errno(EPERM read }",
        "syscalls { errno(EPERM, 1) read }",
        "syscalls { default }",
        "syscalls { default errno() }",
        "syscalls { set @x = [a b] }",
        "syscalls { set @x = [,] }",
        "syscalls { set x = [a] }",
        "syscalls { set @x [a] }",
        "syscalls { set @x = a }",
        "syscalls { arch { allow read } }",
        "syscalls { arch x86_64 allow read }",
        "syscalls { @x read }",
        "policy",
        "policy x",
        "policy \"a\" \"b\"",
        "policy /x",
        "description \"a\\q\"",
        "extends",
        "include ./x.pfp",
        "unknown { }",
        "filesystem { ro }",
        "filesystem { ro usr }",
        "filesystem { /usr ro }",
        "filesystem { ro /usr from }",
        "filesystem { ro /usr size }",
        "filesystem { tmpfs /tmp mode 0o1777k }",
        "filesystem { tmpfs /tmp mode \"x\" }",
        "filesystem { ro /usr optional optional x }",
        "resources { memory }",
        "resources { memory 512MiB, pids 1 }",
        "resources { 5 memory }",
        "resources { x = 1 }",
        "resources { list [a b] }",
        "resources { list [[a]] }",
        "resources { list [a,,] }",
        "process { env { A \"x\" } }",
        "process { env { A = [\"x\"] } }",
        "process { env { A = { } } }",
        "process { env { A = \"x\", B = \"y\" } }",
        "network",
        "network \"none\"",
        "network { connect }",
        "network none host",
        "syscalls { allow read } }",
        "syscalls { allow read ~ }",
        "syscalls { allow read ; }",
    ] {
        assert_rejects(src);
        assert!(parse_error(src).is_some());
    }
}

#[test]
fn nesting_limit() {
    let nested = |depth: usize| {
        format!(
            "syscalls {{ allow x if {}a == 1{} }}",
            "(".repeat(depth - 1),
            ")".repeat(depth - 1)
        )
    };
    assert_accepts(&nested(super::MAX_NESTING));
    assert_rejects(&nested(super::MAX_NESTING + 1));
    assert!(parse_error(&nested(super::MAX_NESTING + 1))
        .unwrap()
        .contains("nest deeper"));
    // pending `not`s count as levels
    let nots = |n: usize| format!("syscalls {{ allow x if {}a == 1 }}", "not ".repeat(n));
    assert_accepts(&nots(super::MAX_NESTING - 1));
    assert_rejects(&nots(super::MAX_NESTING));
    let mixed = |n: usize| {
        format!(
            "syscalls {{ allow x if {}a == 1{} }}",
            "not (".repeat(n),
            ")".repeat(n)
        )
    };
    assert_accepts(&mixed(31));
    assert_rejects(&mixed(32));
    // a `not` stops counting at its operand's first token
    let flat = (0..200)
        .map(|_| "not a == 1")
        .collect::<Vec<_>>()
        .join(" and ");
    assert_accepts(&format!("syscalls {{ allow x if {flat} }}"));
    assert_rejects(&format!("resources {{ {} }}", "not ".repeat(64)));
    assert_accepts(&format!("resources {{ {} }}", "not 1 ".repeat(64)));
    // no stack overflow on absurd depth
    assert_rejects(&"(".repeat(100_000));
    assert_rejects(&nots(100_000));
    // brackets in strings, comments and variables don't count
    let deep = "(".repeat(100);
    assert_accepts(&format!(
        "policy \"{deep}\" # {deep}\nfilesystem {{ ro /x${{a}}${{b}} }}"
    ));
    assert_accepts(&format!("policy \"\\\"{deep}\""));
}

#[test]
fn quote_round_trips_through_unescape() {
    for value in ["", "plain", "a\"b", "back\\slash", "nl\nand\ttab", "ünï"] {
        assert_eq!(unescape(&quote(value)), value);
        assert!(accepts(&format!("policy {}", quote(value))));
    }
}
