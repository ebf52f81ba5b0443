//! The normative grammar of `.pfp` ([`pfp.pest`](../pfp.pest)) as a parser that tests
//! hold the production parser (`pfp-syntax`) to.
//!
//! * [`accepts`] says whether a text is a `.pfp` file: the grammar matches it, and its
//!   brackets and `not`s nest at most [`MAX_NESTING`] deep (the limit at the end of
//!   `pfp.pest`).
//! * [`parse_error`] says why not.
//! * [`shape`] gives the structure of an accepted file as one string, in a form that is
//!   easy to produce from the production syntax tree too, so that the agreement test
//!   (`tests/tests/agreement.rs`) can compare the two parsers' trees.
//!
//! # The shape format
//!
//! An s-expression per top-level item, one item per line (`\n` between items, none
//! after the last). Inside an item, the parts of a list are separated by one space.
//! Spans, comments and whitespace are not part of the shape; parentheses that only
//! group are dropped.
//!
//! ```text
//! ITEM    = (policy STR) | (description STR) | (extends STR) | (include STR)
//!         | (syscalls SITEM*) | (filesystem ENTRY*) | (resources PROP*)
//!         | (process PROP*) | (network NAME) | (network (rules PROP*))
//! SITEM   = (default ACTION) | (set @NAME TARGET*) | (arch NAME SITEM*)
//!         | (rule ACTION TARGET+) | (rule ACTION TARGET+ (if COND))
//! ACTION  = NAME | (errno NAME) | (errno NUMBER)
//! TARGET  = @NAME | NAME | (NAME PARAM+)          -- `socket(domain)` is (socket domain)
//! COND    = (or COND COND+) | (and COND COND+) | (not COND)
//!         | (OP ARG VALUE)                        -- OP is one of == != < <= > >=
//!         | (in ARG VALUE+) | (not-in ARG VALUE+)
//! ARG     = NAME | (& NAME VALUE)                 -- `a & M == 0` is (== (& a M) 0)
//! VALUE   = NUMBER | NAME | (| VALUE VALUE+)
//! ENTRY   = (KIND PATH OPTION*)
//! PATH    = a bare path as written (/usr, ${workspace}/x) | STR for a quoted one
//! OPTION  = (from PATH) | (to PATH) | (size SIZE) | (mode NUMBER) | optional
//! SIZE    = NUMBER | (qty QUANTITY)
//! PROP    = (KEY PVALUE)
//! PVALUE  = SVALUE | (list SVALUE*) | (map (KEY SVALUE)*)
//! SVALUE  = STR | PATH | NUMBER | (qty QUANTITY) | NAME
//! ```
//!
//! * `NAME`, `KEY`, `KIND`, `PARAM`: the identifier as written; `@NAME` the set name
//!   with its `@`.
//! * `NUMBER`, `QUANTITY`: the literal as written (`0x7f`, `1_000`, `-1`, `512MiB`).
//! * `STR`: the string's value (escapes resolved) printed by [`quote`]: in `"`, with
//!   `\` `"` newline and tab escaped as `\\` `\"` `\n` `\t`, everything else as is.
//! * `or`, `and` and `|` are flattened: `a == 1 or (b == 2 or c == 3)` and
//!   `(a == 1 or b == 2) or c == 3` both give `(or (== a 1) (== b 2) (== c 3))`, since
//!   the grouping of one operator does not change the meaning. `not` is never flattened.
//!
//! For example
//!
//! ```text
//! policy "x"
//! syscalls {
//!     default kill
//!     allow read, @file-io
//!     allow socket(domain) if domain in [AF_UNIX, AF_INET] and not type & SOCK_RAW == 0
//! }
//! resources { memory 512MiB swap unlimited }
//! ```
//!
//! has the shape
//!
//! ```text
//! (policy "x")
//! (syscalls (default kill) (rule allow read @file-io) (rule allow (socket domain) (if (and (in domain AF_UNIX AF_INET) (not (== (& type SOCK_RAW) 0))))))
//! (resources (memory (qty 512MiB)) (swap unlimited))
//! ```

use pest::error::{Error, ErrorVariant};
use pest::iterators::{Pair, Pairs};
use pest::{Parser, Position};

/// The parser generated from `pfp.pest`; [`Rule::file`] is a whole file.
#[derive(pest_derive::Parser, Debug)]
#[grammar = "pfp.pest"]
pub struct PfpParser;

/// How deep brackets (`{ [ (`) and pending `not`s may nest; the same limit as the
/// production lexer's (see the end of `pfp.pest`).
pub const MAX_NESTING: usize = 64;

/// Parses a whole file, or says why it is not one.
pub fn parse(src: &str) -> Result<Pairs<'_, Rule>, Box<Error<Rule>>> {
    if let Some(offset) = too_deep(src) {
        let message = format!("brackets and `not`s nest deeper than {MAX_NESTING} levels");
        let variant = ErrorVariant::CustomError { message };
        return Err(Box::new(match Position::new(src, offset) {
            Some(pos) => Error::new_from_pos(variant, pos),
            None => Error::new_from_pos(variant, Position::from_start(src)),
        }));
    }
    PfpParser::parse(Rule::file, src).map_err(|e| Box::new(e.renamed_rules(describe_rule)))
}

/// Whether `src` is a `.pfp` file.
pub fn accepts(src: &str) -> bool {
    parse(src).is_ok()
}

/// Why `src` is not a `.pfp` file (pest's message, with the position), or `None` if it is.
pub fn parse_error(src: &str) -> Option<String> {
    parse(src).err().map(|e| e.to_string())
}

/// The shape of an accepted file (see the crate docs), or `None` if `src` is not one.
pub fn shape(src: &str) -> Option<String> {
    let file = parse(src).ok()?.next()?;
    let items = file
        .into_inner()
        .filter(|p| p.as_rule() != Rule::EOI)
        .map(item)
        .collect::<Option<Vec<_>>>()?;
    Some(items.join("\n"))
}

/// A string's value as the shape format prints it: in `"`, with `\`, `"`, newline and
/// tab escaped as in `.pfp`, every other character as is.
pub fn quote(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The value of a string literal as the grammar matched it (quotes included).
pub fn unescape(literal: &str) -> String {
    let inner = literal.strip_prefix('"').unwrap_or(literal);
    let inner = inner.strip_suffix('"').unwrap_or(inner);
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some('n') => out.push('\n'),
                Some('t') => out.push('\t'),
                Some(other) => out.push(other),
                None => {}
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Where the nesting limit is first exceeded (a byte offset), by the rule at the end of
/// `pfp.pest`. Checked on the token sequence before the file is parsed, so that the
/// parser never recurses deeper than the limit. `None` also for a text that is not a
/// token sequence: the parser rejects that anyway.
fn too_deep(src: &str) -> Option<usize> {
    let tokens = PfpParser::parse(Rule::tokens, src).ok()?.next()?;
    let mut open = 0usize;
    // per open bracket (and the file itself), the `not`s read since the last other token
    let mut nots: Vec<usize> = vec![0];
    let mut pending = 0usize;
    for token in tokens.into_inner() {
        match token.as_rule() {
            Rule::open => {
                open += 1;
                nots.push(0);
            }
            Rule::close => {
                open = open.saturating_sub(1);
                pending = pending.saturating_sub(nots.pop().unwrap_or(0));
                if nots.is_empty() {
                    nots.push(0);
                }
            }
            Rule::ident if token.as_str() == "not" => {
                if let Some(level) = nots.last_mut() {
                    *level += 1;
                    pending += 1;
                }
            }
            Rule::EOI => {}
            _ => {
                if let Some(level) = nots.last_mut() {
                    pending = pending.saturating_sub(*level);
                    *level = 0;
                }
            }
        }
        if open + pending > MAX_NESTING {
            return Some(token.as_span().start());
        }
    }
    None
}

/// Names of rules in error messages.
fn describe_rule(r: &Rule) -> String {
    let keyword = |word: &str| format!("`{word}`");
    match r {
        Rule::EOI => "the end of the file".into(),
        Rule::ident => "an identifier".into(),
        Rule::set_name => "a set name (`@name`)".into(),
        Rule::number => "a number".into(),
        Rule::quantity => "a quantity (`512MiB`)".into(),
        Rule::string => "a string".into(),
        Rule::path => "a path".into(),
        Rule::cmp_op => "a comparison (`==`, `!=`, `<`, `<=`, `>`, `>=`)".into(),
        Rule::list => "a list (`[...]`)".into(),
        Rule::map => "a map (`{ NAME = \"VALUE\" ... }`)".into(),
        Rule::network_mode => "a network mode (`none`, `host`)".into(),
        Rule::network_rules => "network rules (`{ ... }`)".into(),
        Rule::action => "an action".into(),
        Rule::errno => "`errno(...)`".into(),
        Rule::syscall => "a syscall".into(),
        Rule::params => "argument names (`(...)`)".into(),
        Rule::condition | Rule::conjunction | Rule::negation => "a condition".into(),
        Rule::comparison => "a comparison".into(),
        Rule::mask => "a mask (`& VALUE`)".into(),
        Rule::compare => "a comparison".into(),
        Rule::membership => "`in [...]`".into(),
        Rule::value => "a value".into(),
        Rule::fs_entry => "a filesystem entry".into(),
        Rule::fs_option => "a filesystem option".into(),
        Rule::property => "a setting".into(),
        Rule::map_entry => "`NAME = \"VALUE\"`".into(),
        Rule::kw_policy => keyword("policy"),
        Rule::kw_description => keyword("description"),
        Rule::kw_extends => keyword("extends"),
        Rule::kw_include => keyword("include"),
        Rule::kw_syscalls => keyword("syscalls"),
        Rule::kw_filesystem => keyword("filesystem"),
        Rule::kw_resources => keyword("resources"),
        Rule::kw_process => keyword("process"),
        Rule::kw_network => keyword("network"),
        Rule::kw_default => keyword("default"),
        Rule::kw_set => keyword("set"),
        Rule::kw_arch => keyword("arch"),
        Rule::kw_errno => keyword("errno"),
        Rule::kw_if => keyword("if"),
        Rule::kw_and => keyword("and"),
        Rule::kw_or => keyword("or"),
        Rule::kw_not => keyword("not"),
        Rule::kw_in => keyword("in"),
        Rule::kw_from => keyword("from"),
        Rule::kw_to => keyword("to"),
        Rule::kw_size => keyword("size"),
        Rule::kw_mode => keyword("mode"),
        Rule::kw_optional => keyword("optional"),
        other => format!("{other:?}").replace('_', " "),
    }
}

fn is_keyword(r: Rule) -> bool {
    matches!(
        r,
        Rule::kw_policy
            | Rule::kw_description
            | Rule::kw_extends
            | Rule::kw_include
            | Rule::kw_syscalls
            | Rule::kw_filesystem
            | Rule::kw_resources
            | Rule::kw_process
            | Rule::kw_network
            | Rule::kw_default
            | Rule::kw_set
            | Rule::kw_arch
            | Rule::kw_errno
            | Rule::kw_if
            | Rule::kw_and
            | Rule::kw_or
            | Rule::kw_not
            | Rule::kw_in
            | Rule::kw_from
            | Rule::kw_to
            | Rule::kw_size
            | Rule::kw_mode
            | Rule::kw_optional
    )
}

/// A pair's children without the keywords.
fn parts(pair: Pair<'_, Rule>) -> impl Iterator<Item = Pair<'_, Rule>> {
    pair.into_inner().filter(|p| !is_keyword(p.as_rule()))
}

/// `(HEAD PART PART ...)`
fn list(head: &str, parts: impl IntoIterator<Item = String>) -> String {
    let mut out = format!("({head}");
    for part in parts {
        out.push(' ');
        out.push_str(&part);
    }
    out.push(')');
    out
}

/// Shapes every child of `pair` (keywords left out) with `f`.
fn all<'a>(
    pair: Pair<'a, Rule>,
    f: impl Fn(Pair<'a, Rule>) -> Option<String>,
) -> Option<Vec<String>> {
    parts(pair).map(f).collect()
}

fn only_part(pair: Pair<'_, Rule>) -> Option<Pair<'_, Rule>> {
    parts(pair).next()
}

fn item(pair: Pair<'_, Rule>) -> Option<String> {
    match pair.as_rule() {
        Rule::policy => Some(list("policy", [string(only_part(pair)?)])),
        Rule::description => Some(list("description", [string(only_part(pair)?)])),
        Rule::extends => Some(list("extends", [string(only_part(pair)?)])),
        Rule::include => Some(list("include", [string(only_part(pair)?)])),
        Rule::syscalls => Some(list("syscalls", all(pair, syscall_item)?)),
        Rule::filesystem => Some(list("filesystem", all(pair, fs_entry)?)),
        Rule::resources => Some(list("resources", all(pair, property)?)),
        Rule::process => Some(list("process", all(pair, property)?)),
        Rule::network => {
            let inner = only_part(pair)?;
            match inner.as_rule() {
                Rule::network_mode => Some(list("network", [only_part(inner)?.as_str().into()])),
                Rule::network_rules => {
                    Some(list("network", [list("rules", all(inner, property)?)]))
                }
                _ => None,
            }
        }
        _ => None,
    }
}

fn string(pair: Pair<'_, Rule>) -> String {
    quote(&unescape(pair.as_str()))
}

fn syscall_item(pair: Pair<'_, Rule>) -> Option<String> {
    match pair.as_rule() {
        Rule::default => Some(list("default", [action(only_part(pair)?)?])),
        Rule::set => {
            let mut inner = parts(pair);
            let name = inner.next()?.as_str().to_string();
            let targets = inner.map(target).collect::<Option<Vec<_>>>()?;
            Some(list("set", std::iter::once(name).chain(targets)))
        }
        Rule::arch => {
            let mut inner = parts(pair);
            let name = inner.next()?.as_str().to_string();
            let items = inner.map(syscall_item).collect::<Option<Vec<_>>>()?;
            Some(list("arch", std::iter::once(name).chain(items)))
        }
        Rule::rule => {
            let mut inner = parts(pair);
            let action = action(inner.next()?)?;
            let mut rest = Vec::new();
            for part in inner {
                rest.push(match part.as_rule() {
                    Rule::condition => list("if", [render_condition(&condition(part)?)]),
                    _ => target(part)?,
                });
            }
            Some(list("rule", std::iter::once(action).chain(rest)))
        }
        _ => None,
    }
}

fn action(pair: Pair<'_, Rule>) -> Option<String> {
    let inner = only_part(pair)?;
    match inner.as_rule() {
        Rule::errno => Some(list("errno", [only_part(inner)?.as_str().into()])),
        Rule::ident => Some(inner.as_str().into()),
        _ => None,
    }
}

fn target(pair: Pair<'_, Rule>) -> Option<String> {
    match pair.as_rule() {
        Rule::set_name => Some(pair.as_str().into()),
        Rule::syscall => {
            let mut inner = parts(pair);
            let name = inner.next()?.as_str().to_string();
            match inner.next() {
                None => Some(name),
                Some(params) => {
                    let params = parts(params).map(|p| p.as_str().to_string());
                    Some(list(&name, params))
                }
            }
        }
        _ => None,
    }
}

/// A condition before rendering, so that `or`, `and` can be flattened.
enum Cond {
    Or(Vec<Cond>),
    And(Vec<Cond>),
    Not(Box<Cond>),
    Test(String),
}

fn condition(pair: Pair<'_, Rule>) -> Option<Cond> {
    match pair.as_rule() {
        Rule::condition => {
            let mut flat = Vec::new();
            for part in parts(pair) {
                match condition(part)? {
                    Cond::Or(more) => flat.extend(more),
                    other => flat.push(other),
                }
            }
            single_or(flat, Cond::Or)
        }
        Rule::conjunction => {
            let mut flat = Vec::new();
            for part in parts(pair) {
                match condition(part)? {
                    Cond::And(more) => flat.extend(more),
                    other => flat.push(other),
                }
            }
            single_or(flat, Cond::And)
        }
        Rule::negation => Some(Cond::Not(Box::new(condition(only_part(pair)?)?))),
        Rule::comparison => comparison(pair).map(Cond::Test),
        _ => None,
    }
}

/// The one condition, or all of them joined with `join`.
fn single_or(mut conds: Vec<Cond>, join: fn(Vec<Cond>) -> Cond) -> Option<Cond> {
    match conds.len() {
        0 => None,
        1 => conds.pop(),
        _ => Some(join(conds)),
    }
}

fn render_condition(cond: &Cond) -> String {
    match cond {
        Cond::Or(parts) => list("or", parts.iter().map(render_condition)),
        Cond::And(parts) => list("and", parts.iter().map(render_condition)),
        Cond::Not(inner) => list("not", [render_condition(inner)]),
        Cond::Test(test) => test.clone(),
    }
}

fn comparison(pair: Pair<'_, Rule>) -> Option<String> {
    let mut arg = String::new();
    for part in parts(pair) {
        match part.as_rule() {
            Rule::ident => arg = part.as_str().into(),
            Rule::mask => arg = list("&", [arg, value(only_part(part)?)?]),
            Rule::compare => {
                let mut inner = parts(part);
                let op = inner.next()?.as_str().to_string();
                let value = value(inner.next()?)?;
                return Some(list(&op, [arg, value]));
            }
            Rule::membership => {
                let negated = part
                    .clone()
                    .into_inner()
                    .any(|p| p.as_rule() == Rule::kw_not);
                let values = all(part, value)?;
                let head = if negated { "not-in" } else { "in" };
                return Some(list(head, std::iter::once(arg).chain(values)));
            }
            _ => return None,
        }
    }
    None
}

/// A condition value, `|` flattened.
fn value(pair: Pair<'_, Rule>) -> Option<String> {
    let mut terms = Vec::new();
    value_terms(pair, &mut terms)?;
    if terms.len() == 1 {
        terms.pop()
    } else {
        Some(list("|", terms))
    }
}

fn value_terms(pair: Pair<'_, Rule>, out: &mut Vec<String>) -> Option<()> {
    for term in parts(pair) {
        match term.as_rule() {
            Rule::number | Rule::ident => out.push(term.as_str().into()),
            Rule::value => value_terms(term, out)?,
            _ => return None,
        }
    }
    Some(())
}

fn fs_entry(pair: Pair<'_, Rule>) -> Option<String> {
    let mut inner = parts(pair);
    let kind = inner.next()?.as_str().to_string();
    let target = fs_path(inner.next()?)?;
    let options = inner.map(fs_option).collect::<Option<Vec<_>>>()?;
    Some(list(&kind, std::iter::once(target).chain(options)))
}

fn fs_path(pair: Pair<'_, Rule>) -> Option<String> {
    match pair.as_rule() {
        Rule::path => Some(pair.as_str().into()),
        Rule::string => Some(string(pair)),
        _ => None,
    }
}

fn fs_option(pair: Pair<'_, Rule>) -> Option<String> {
    let mut inner = pair.into_inner();
    let keyword = inner.next()?;
    let arg = inner.next();
    match keyword.as_rule() {
        Rule::kw_optional => Some("optional".into()),
        Rule::kw_from => Some(list("from", [fs_path(arg?)?])),
        Rule::kw_to => Some(list("to", [fs_path(arg?)?])),
        Rule::kw_size => Some(list("size", [scalar(arg?)?])),
        Rule::kw_mode => Some(list("mode", [scalar(arg?)?])),
        _ => None,
    }
}

fn scalar(pair: Pair<'_, Rule>) -> Option<String> {
    match pair.as_rule() {
        Rule::number => Some(pair.as_str().into()),
        Rule::quantity => Some(list("qty", [pair.as_str().to_string()])),
        _ => None,
    }
}

fn property(pair: Pair<'_, Rule>) -> Option<String> {
    let mut inner = parts(pair);
    let key = inner.next()?.as_str().to_string();
    let value = prop_value(inner.next()?)?;
    Some(list(&key, [value]))
}

fn prop_value(pair: Pair<'_, Rule>) -> Option<String> {
    match pair.as_rule() {
        Rule::string => Some(string(pair)),
        Rule::path | Rule::number | Rule::ident => Some(pair.as_str().into()),
        Rule::quantity => scalar(pair),
        Rule::list => Some(list("list", all(pair, prop_value)?)),
        Rule::map => Some(list("map", all(pair, map_entry)?)),
        _ => None,
    }
}

fn map_entry(pair: Pair<'_, Rule>) -> Option<String> {
    let mut inner = parts(pair);
    let key = inner.next()?.as_str().to_string();
    let value = prop_value(inner.next()?)?;
    Some(list(&key, [value]))
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
mod tests;
