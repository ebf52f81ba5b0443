//! The canonical formatter behind `phantomc fmt`.
//!
//! It prints the syntax tree, not the tokens, so the output is in one style whatever
//! the input's layout: four-space indentation, one item per line, lists on one line.
//! Comments are carried over by position (each one before the node that follows it,
//! or at the end of its line), and a blank line the author left between two items
//! of a block is kept, collapsed to one. Printing is idempotent, and the printed file
//! parses to the same tree (spans aside); tests check both.

use crate::ast::*;
use crate::lexer::Comment;
use crate::{parse, Span, SyntaxError};

const INDENT: &str = "    ";

/// Formats a source text; a file with syntax errors is not formatted.
pub fn format(src: &str) -> Result<String, Vec<SyntaxError>> {
    let parsed = parse(src);
    if !parsed.errors.is_empty() {
        return Err(parsed.errors);
    }
    let mut printer = Printer {
        src,
        comments: &parsed.comments,
        next: 0,
        out: String::new(),
        depth: 0,
    };
    printer.file(&parsed.file);
    Ok(printer.out)
}

struct Printer<'a> {
    src: &'a str,
    comments: &'a [Comment],
    /// The first comment not yet printed.
    next: usize,
    out: String,
    depth: usize,
}

impl Printer<'_> {
    fn file(&mut self, file: &File) {
        let mut previous: Option<&Item> = None;
        for item in &file.items {
            if let Some(prev) = previous {
                // One-line items (the header) stay together; blocks stand apart.
                if is_block(prev)
                    || is_block(item)
                    || self.blank_line_between(prev.span().end, self.next_thing(item.span().start))
                {
                    self.out.push('\n');
                }
            }
            self.leading_comments(item.span().start);
            self.item(item);
            previous = Some(item);
        }
        self.leading_comments(self.src.len());
    }

    fn item(&mut self, item: &Item) {
        match item {
            Item::Policy { name, .. } => {
                self.line(&format!("policy {}", quote(&name.value)), item.span().end)
            }
            Item::Description { text, .. } => self.line(
                &format!("description {}", quote(&text.value)),
                item.span().end,
            ),
            Item::Extends { target, .. } => self.line(
                &format!("extends {}", quote(&target.value)),
                item.span().end,
            ),
            Item::Include { target, .. } => self.line(
                &format!("include {}", quote(&target.value)),
                item.span().end,
            ),
            Item::Syscalls(block) => self.block("syscalls", block, Self::syscall_item),
            Item::Filesystem(block) => self.block("filesystem", block, |p, entry| {
                let text = fs_entry(entry);
                p.line(&text, entry.span.end);
            }),
            Item::Resources(block) => self.block("resources", block, Self::property),
            Item::Process(block) => self.block("process", block, Self::property),
            Item::Network(network) => match &network.kind {
                NetworkKind::Mode(mode) => {
                    self.line(&format!("network {}", mode.name), network.span.end)
                }
                NetworkKind::Rules(rules) => {
                    let spans: Vec<Span> = rules.iter().map(|r| r.span).collect();
                    self.braced(
                        "network",
                        network.keyword.end,
                        network.span.end,
                        rules,
                        &spans,
                        Self::property,
                    )
                }
            },
            Item::Error(_) => {}
        }
    }

    fn block<T>(&mut self, keyword: &str, block: &Block<T>, print: impl Fn(&mut Self, &T))
    where
        T: Spanned,
    {
        let spans: Vec<Span> = block.items.iter().map(Spanned::span).collect();
        self.braced(
            keyword,
            block.keyword.end,
            block.span.end,
            &block.items,
            &spans,
            print,
        );
    }

    /// `HEAD {` items `}`, with comments and blank lines between items kept.
    fn braced<T>(
        &mut self,
        head: &str,
        head_end: usize,
        end: usize,
        items: &[T],
        spans: &[Span],
        print: impl Fn(&mut Self, &T),
    ) {
        if items.is_empty() && !self.has_comment_before(end) {
            self.line(&format!("{head} {{}}"), end);
            return;
        }
        let open = self
            .src
            .get(head_end..)
            .and_then(|rest| rest.find('{'))
            .map_or(head_end, |i| head_end + i + 1);
        self.line(&format!("{head} {{"), open);
        self.depth += 1;
        let mut previous_end = None;
        for (item, span) in items.iter().zip(spans) {
            if let Some(prev) = previous_end {
                if self.blank_line_between(prev, self.next_thing(span.start)) {
                    self.out.push('\n');
                }
            }
            self.leading_comments(span.start);
            print(self, item);
            previous_end = Some(span.end);
        }
        if let (Some(prev), Some(comment)) = (previous_end, self.comments.get(self.next)) {
            if comment.span.start < end && self.blank_line_between(prev, comment.span.start) {
                self.out.push('\n');
            }
        }
        self.leading_comments(end);
        self.depth -= 1;
        self.line("}", end);
    }

    fn syscall_item(&mut self, item: &SyscallItem) {
        match item {
            SyscallItem::Default {
                action: a, span, ..
            } => self.line(&format!("default {}", action(a)), span.end),
            SyscallItem::Set {
                name,
                targets,
                span,
                ..
            } => {
                let list: Vec<String> = targets.iter().map(target).collect();
                self.line(
                    &format!("set @{} = [{}]", name.name, list.join(", ")),
                    span.end,
                )
            }
            SyscallItem::Arch {
                arch, items, span, ..
            } => {
                let spans: Vec<Span> = items.iter().map(SyscallItem::span).collect();
                self.braced(
                    &format!("arch {}", arch.name),
                    arch.span.end,
                    span.end,
                    items,
                    &spans,
                    Self::syscall_item,
                )
            }
            SyscallItem::Rule(rule) => {
                let list: Vec<String> = rule.targets.iter().map(target).collect();
                let mut text = format!("{} {}", action(&rule.action), list.join(", "));
                if let Some(cond) = &rule.condition {
                    text.push_str(" if ");
                    text.push_str(&condition(cond, Prec::Or));
                }
                self.line(&text, rule.span.end)
            }
            SyscallItem::Error(_) => {}
        }
    }

    fn property(&mut self, property: &Property) {
        match &property.value.kind {
            PropValueKind::Map(entries) => {
                let spans: Vec<Span> = entries
                    .iter()
                    .map(|(key, value)| key.span.to(value.span))
                    .collect();
                self.braced(
                    &property.key.name,
                    property.key.span.end,
                    property.span.end,
                    entries,
                    &spans,
                    |p, (key, value)| {
                        p.line(
                            &format!("{} = {}", key.name, prop_value(value)),
                            value.span.end,
                        )
                    },
                )
            }
            _ => self.line(
                &format!("{} {}", property.key.name, prop_value(&property.value)),
                property.span.end,
            ),
        }
    }

    /// Prints one line; a comment after `end` on the same source line goes at its end.
    fn line(&mut self, text: &str, end: usize) {
        // Comments written inside a multi-line item (`allow read, # why` / `write`)
        // cannot stay inside the one line it becomes: they go right before it.
        self.comments_before(end, false);
        for _ in 0..self.depth {
            self.out.push_str(INDENT);
        }
        self.out.push_str(text);
        if let Some(comment) = self.comments.get(self.next) {
            let same_line = comment.span.start >= end
                && !comment.own_line
                && self
                    .src
                    .get(end..comment.span.start)
                    .is_some_and(|gap| gap.trim().is_empty());
            if same_line {
                self.out.push_str(" #");
                self.out.push_str(comment.text.trim_end());
                self.next += 1;
            }
        }
        self.out.push('\n');
    }

    /// Prints, each on its own line, the comments that come before `pos`.
    fn leading_comments(&mut self, pos: usize) {
        self.comments_before(pos, true);
    }

    /// Prints the comments before `pos`; `keep_blank_lines` keeps a blank line the
    /// author left after one (not wanted for comments lifted out of an item).
    fn comments_before(&mut self, pos: usize, keep_blank_lines: bool) {
        while let Some(comment) = self.comments.get(self.next) {
            if comment.span.start >= pos {
                break;
            }
            for _ in 0..self.depth {
                self.out.push_str(INDENT);
            }
            self.out.push('#');
            self.out.push_str(comment.text.trim_end());
            self.out.push('\n');
            self.next += 1;
            // A blank line after a comment block (say, a file header) is kept.
            let following = self
                .comments
                .get(self.next)
                .map_or(pos, |c| c.span.start.min(pos));
            if keep_blank_lines && self.blank_line_between(comment.span.end, following) {
                self.out.push('\n');
            }
        }
    }

    /// Where the next printed thing starts: a pending comment before `pos`, or `pos`.
    fn next_thing(&self, pos: usize) -> usize {
        self.comments
            .get(self.next)
            .map_or(pos, |c| c.span.start.min(pos))
    }

    fn has_comment_before(&self, pos: usize) -> bool {
        self.comments
            .get(self.next)
            .is_some_and(|c| c.span.start < pos)
    }

    /// Whether the source has an empty line between two offsets (comments aside).
    fn blank_line_between(&self, start: usize, end: usize) -> bool {
        let Some(gap) = self.src.get(start..end) else {
            return false;
        };
        let mut lines = gap.split('\n');
        lines.next(); // the rest of the line `start` is on
        let inner: Vec<&str> = lines.collect();
        // The last piece is the start of the line `end` is on, not a whole line.
        inner.len() > 1
            && inner
                .iter()
                .take(inner.len() - 1)
                .any(|l| l.trim().is_empty())
    }
}

/// Nodes that know their span, for [`Printer::block`].
trait Spanned {
    fn span(&self) -> Span;
}

impl Spanned for SyscallItem {
    fn span(&self) -> Span {
        SyscallItem::span(self)
    }
}

impl Spanned for FsEntry {
    fn span(&self) -> Span {
        self.span
    }
}

impl Spanned for Property {
    fn span(&self) -> Span {
        self.span
    }
}

fn is_block(item: &Item) -> bool {
    matches!(
        item,
        Item::Syscalls(_)
            | Item::Filesystem(_)
            | Item::Resources(_)
            | Item::Process(_)
            | Item::Network(Network {
                kind: NetworkKind::Rules(_),
                ..
            })
    )
}

fn quote(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn action(action: &Action) -> String {
    match action {
        Action::Named(name) => name.name.clone(),
        Action::Errno {
            value: ErrnoValue::Name(name),
            ..
        } => format!("errno({})", name.name),
        Action::Errno {
            value: ErrnoValue::Number(n),
            ..
        } => format!("errno({})", n.text),
    }
}

fn target(target: &Target) -> String {
    match target {
        Target::Set(name) => format!("@{}", name.name),
        Target::Syscall {
            name, params: None, ..
        } => name.name.clone(),
        Target::Syscall {
            name,
            params: Some(params),
            ..
        } => {
            let params: Vec<&str> = params.iter().map(|p| p.name.as_str()).collect();
            format!("{}({})", name.name, params.join(", "))
        }
    }
}

/// Binding strength, loosest first: a sub-condition looser than its place needs parentheses.
#[derive(Clone, Copy, PartialEq, PartialOrd)]
enum Prec {
    Or,
    And,
    Not,
}

fn condition(cond: &Condition, place: Prec) -> String {
    let (text, prec) = match &cond.kind {
        // An operand of the same kind as its parent (from parentheses) keeps them.
        ConditionKind::Or(parts) => (
            parts
                .iter()
                .map(|p| condition(p, Prec::And))
                .collect::<Vec<_>>()
                .join(" or "),
            Prec::Or,
        ),
        ConditionKind::And(parts) => (
            parts
                .iter()
                .map(|p| condition(p, Prec::Not))
                .collect::<Vec<_>>()
                .join(" and "),
            Prec::And,
        ),
        ConditionKind::Not(inner) => (format!("not {}", condition(inner, Prec::Not)), Prec::Not),
        ConditionKind::Compare(cmp) => (comparison(cmp), Prec::Not),
    };
    if prec < place {
        format!("({text})")
    } else {
        text
    }
}

fn comparison(cmp: &Comparison) -> String {
    let mut out = cmp.arg.name.clone();
    if let Some(mask) = &cmp.mask {
        out.push_str(" & ");
        out.push_str(&value_in_parens(mask));
    }
    match &cmp.test {
        Test::Compare { op, value: v, .. } => {
            out.push_str(&format!(" {} {}", op.as_str(), value(v)));
        }
        Test::In { negated, values } => {
            let list: Vec<String> = values.iter().map(value).collect();
            let not = if *negated { "not " } else { "" };
            out.push_str(&format!(" {not}in [{}]", list.join(", ")));
        }
    }
    out
}

fn value(v: &Value) -> String {
    match &v.kind {
        ValueKind::Number(n) => n.text.clone(),
        ValueKind::Constant(c) => c.name.clone(),
        ValueKind::BitOr(parts) => {
            let parts: Vec<String> = parts.iter().map(value_in_parens).collect();
            parts.join(" | ")
        }
    }
}

/// A `|` combination in parentheses, so a mask or a nested combination reads unambiguously.
fn value_in_parens(v: &Value) -> String {
    match v.kind {
        ValueKind::BitOr(_) => format!("({})", value(v)),
        _ => value(v),
    }
}

fn path(p: &PathLit) -> String {
    if p.quoted {
        quote(&p.value)
    } else {
        p.value.clone()
    }
}

fn fs_entry(entry: &FsEntry) -> String {
    let mut out = format!("{} {}", entry.kind.name, path(&entry.target));
    for option in &entry.options {
        out.push(' ');
        match &option.kind {
            FsOptionKind::From(p) => out.push_str(&format!("from {}", path(p))),
            FsOptionKind::To(p) => out.push_str(&format!("to {}", path(p))),
            FsOptionKind::Size(Scalar::Number(n) | Scalar::Quantity(n)) => {
                out.push_str(&format!("size {}", n.text))
            }
            FsOptionKind::Mode(n) => out.push_str(&format!("mode {}", n.text)),
            FsOptionKind::Optional => out.push_str("optional"),
        }
    }
    out
}

fn prop_value(v: &PropValue) -> String {
    match &v.kind {
        PropValueKind::Str(s) => quote(s),
        PropValueKind::Path(s)
        | PropValueKind::Number(s)
        | PropValueKind::Quantity(s)
        | PropValueKind::Ident(s) => s.clone(),
        PropValueKind::List(items) => {
            let items: Vec<String> = items.iter().map(prop_value).collect();
            format!("[{}]", items.join(", "))
        }
        PropValueKind::Map(entries) => {
            let entries: Vec<String> = entries
                .iter()
                .map(|(k, v)| format!("{} = {}", k.name, prop_value(v)))
                .collect();
            format!("{{ {} }}", entries.join(" "))
        }
        PropValueKind::Error => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::format;

    fn check(input: &str, expected: &str) {
        let out = format(input).unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(out, expected);
        assert_eq!(
            format(&out).ok().as_deref(),
            Some(expected),
            "not idempotent"
        );
    }

    #[test]
    fn header_items_stay_together_and_blocks_stand_apart() {
        check(
            "policy \"a\" extends \"base\" syscalls { allow read,write } network none",
            "policy \"a\"\nextends \"base\"\n\nsyscalls {\n    allow read, write\n}\n\nnetwork none\n",
        );
    }

    #[test]
    fn comments_are_kept_in_place() {
        check(
            "# header\n\nsyscalls { # rules\n  # own line\n  allow read   # trailing\n\n\n  kill ptrace\n\n  # last\n}\n",
            "# header\n\nsyscalls { # rules\n    # own line\n    allow read # trailing\n\n    kill ptrace\n\n    # last\n}\n",
        );
    }

    #[test]
    fn conditions_get_parentheses_only_where_needed() {
        check(
            "syscalls { allow socket if (domain == 1 or domain == 2) and not (type & (SOCK_RAW|SOCK_PACKET) == 3) }",
            "syscalls {\n    allow socket if (domain == 1 or domain == 2) and not type & (SOCK_RAW | SOCK_PACKET) == 3\n}\n",
        );
    }

    #[test]
    fn nested_blocks_and_maps() {
        check(
            "syscalls{arch x86_64{allow arch_prctl}} process { env { A = \"x\" B = \"y\\n\" } pass [TERM,HOME] }",
            "syscalls {\n    arch x86_64 {\n        allow arch_prctl\n    }\n}\n\nprocess {\n    env {\n        A = \"x\"\n        B = \"y\\n\"\n    }\n    pass [TERM, HOME]\n}\n",
        );
    }

    #[test]
    fn comments_inside_an_item_go_before_it_and_stay_there() {
        check(
            "syscalls {\n    allow read, # c\n\n        write\n    kill ptrace\n}\n",
            "syscalls {\n    # c\n    allow read, write\n    kill ptrace\n}\n",
        );
        check(
            "syscalls {\n    allow socket if # why\n        domain == 1\n}\n",
            "syscalls {\n    # why\n    allow socket if domain == 1\n}\n",
        );
    }

    #[test]
    fn end_of_line_comments_do_not_jump_braces() {
        check(
            "syscalls { allow read } # a\n",
            "syscalls {\n    allow read\n} # a\n",
        );
        check(
            "process { env { A = \"1\" } # after\n}\n",
            "process {\n    env {\n        A = \"1\"\n    } # after\n}\n",
        );
    }

    #[test]
    fn a_comment_stays_with_the_item_below_it() {
        check(
            "process {\n    command [\"a\"]\n    # own\n\n    pass [TERM]\n}\n",
            "process {\n    command [\"a\"]\n    # own\n\n    pass [TERM]\n}\n",
        );
        check(
            "process {\n    command [\"a\"]\n\n    # own\n    pass [TERM]\n}\n",
            "process {\n    command [\"a\"]\n\n    # own\n    pass [TERM]\n}\n",
        );
    }

    #[test]
    fn empty_blocks() {
        check(
            "syscalls {}\nfilesystem {   }",
            "syscalls {}\n\nfilesystem {}\n",
        );
    }

    #[test]
    fn broken_input_is_not_formatted() {
        assert!(format("syscalls { allow }").is_err());
    }
}
