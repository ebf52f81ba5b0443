//! Stage 2: tokens → syntax tree, with error recovery.
//!
//! The grammar is `grammar/pfp.pest`; every production here has the same name and shape
//! there, and `tests/tests/agreement.rs` holds the two to the same language. Recovery
//! happens at two levels: a broken item inside a block is skipped up to the next item
//! (or the block's `}`), and a block with unbalanced contents is skipped as a whole. So
//! one run reports each independent mistake, and the tree keeps everything around them.

use chumsky::error::{Rich, RichPattern, RichReason};
use chumsky::input::{Input, ValueInput};
use chumsky::prelude::*;
use std::rc::Rc;

use crate::ast::*;
use crate::error::{SyntaxError, SyntaxErrorKind};
use crate::lexer::{unescape, Token};
use crate::span::Span as PSpan;

type Extra<'t, 'src> = extra::Err<Rich<'t, Token<'src>, SimpleSpan>>;

/// Identifiers that start a syscall item other than a rule; a rule's action can't be one.
const SYSCALL_ITEM_KEYWORDS: [&str; 3] = ["default", "set", "arch"];
/// Words of the condition syntax; never a syscall, argument or constant name.
const CONDITION_KEYWORDS: [&str; 5] = ["if", "and", "or", "not", "in"];
/// Words that introduce a filesystem entry's options; never an entry's kind.
const FS_OPTION_KEYWORDS: [&str; 5] = ["from", "to", "size", "mode", "optional"];

/// Parses a token stream (as produced by [`crate::lexer::lex`]).
pub(crate) fn parse_tokens(tokens: &[(Token<'_>, PSpan)], src: &str) -> (File, Vec<SyntaxError>) {
    let src_len = src.len();
    let tokens: Vec<(Token<'_>, SimpleSpan)> = tokens
        .iter()
        .map(|&(t, s)| (t, SimpleSpan::from(s)))
        .collect();
    let input = tokens
        .as_slice()
        .map(SimpleSpan::from(src_len..src_len), |(t, s)| (t, s));
    let starts = line_starts(&tokens, src);
    let (file, errors) = file_parser(starts).parse(input).into_output_errors();
    let errors = errors.into_iter().map(convert_error).collect();
    (file.unwrap_or_default(), errors)
}

fn convert_error(err: Rich<'_, Token<'_>, SimpleSpan>) -> SyntaxError {
    let span = PSpan::from(*err.span());
    let kind = match err.reason() {
        RichReason::ExpectedFound { expected, found } => {
            let mut expected: Vec<String> = expected.iter().filter_map(describe_pattern).collect();
            expected.sort();
            expected.dedup();
            SyntaxErrorKind::Unexpected {
                found: found.as_ref().map(|t| t.describe()),
                expected,
            }
        }
        RichReason::Custom(msg) => SyntaxErrorKind::Unexpected {
            found: Some(msg.clone()),
            expected: Vec::new(),
        },
    };
    SyntaxError::new(span, kind)
}

fn describe_pattern(pattern: &RichPattern<'_, Token<'_>>) -> Option<String> {
    match pattern {
        RichPattern::Token(tok) => Some(tok.describe()),
        RichPattern::Label(label) => Some(label.to_string()),
        RichPattern::Identifier(s) => Some(format!("`{s}`")),
        RichPattern::Any => Some("any token".into()),
        RichPattern::EndOfInput => Some("the end of the file".into()),
        _ => None,
    }
}

fn sp(span: SimpleSpan) -> PSpan {
    PSpan::from(span)
}

/// A keyword: an identifier with exactly this text.
fn kw<'t, 'src: 't, I>(word: &'static str) -> impl Parser<'t, I, PSpan, Extra<'t, 'src>> + Clone
where
    I: ValueInput<'t, Token = Token<'src>, Span = SimpleSpan>,
{
    just(Token::Ident(word)).map_with(|_, e| sp(e.span()))
}

/// An identifier that is not one of `reserved` (words that mean something in this place).
fn name<'t, 'src: 't, I>(
    reserved: &'static [&'static str],
) -> impl Parser<'t, I, Ident, Extra<'t, 'src>> + Clone
where
    I: ValueInput<'t, Token = Token<'src>, Span = SimpleSpan>,
{
    select! { Token::Ident(s) = e if !reserved.contains(&s) => Ident { name: s.to_string(), span: sp(e.span()) } }
        .labelled("a name")
}

fn string<'t, 'src: 't, I>() -> impl Parser<'t, I, Str, Extra<'t, 'src>> + Clone
where
    I: ValueInput<'t, Token = Token<'src>, Span = SimpleSpan>,
{
    select! { Token::Str(s) = e => Str { value: unescape(s), span: sp(e.span()) } }
        .labelled("a string")
}

fn number<'t, 'src: 't, I>() -> impl Parser<'t, I, Number, Extra<'t, 'src>> + Clone
where
    I: ValueInput<'t, Token = Token<'src>, Span = SimpleSpan>,
{
    select! { Token::Number(s) = e => Number { text: s.to_string(), span: sp(e.span()) } }
        .labelled("a number")
}

fn scalar<'t, 'src: 't, I>() -> impl Parser<'t, I, Scalar, Extra<'t, 'src>> + Clone
where
    I: ValueInput<'t, Token = Token<'src>, Span = SimpleSpan>,
{
    select! {
        Token::Number(s) = e => Scalar::Number(Number { text: s.to_string(), span: sp(e.span()) }),
        Token::Quantity(s) = e => Scalar::Quantity(Number { text: s.to_string(), span: sp(e.span()) }),
    }
    .labelled("a size")
}

fn path<'t, 'src: 't, I>() -> impl Parser<'t, I, PathLit, Extra<'t, 'src>> + Clone
where
    I: ValueInput<'t, Token = Token<'src>, Span = SimpleSpan>,
{
    select! {
        Token::Path(s) = e => PathLit { value: s.to_string(), quoted: false, span: sp(e.span()) },
        Token::Str(s) = e => PathLit { value: unescape(s), quoted: true, span: sp(e.span()) },
    }
    .labelled("a path")
}

fn set_name<'t, 'src: 't, I>() -> impl Parser<'t, I, Ident, Extra<'t, 'src>> + Clone
where
    I: ValueInput<'t, Token = Token<'src>, Span = SimpleSpan>,
{
    select! {
        Token::SetName(s) = e => Ident { name: s.get(1..).unwrap_or_default().to_string(), span: sp(e.span()) },
    }
    .labelled("a set name")
}

/// Skips one token, or one balanced bracketed group, during recovery; never a closer.
fn skip_one<'t, 'src: 't, I>() -> impl Parser<'t, I, (), Extra<'t, 'src>> + Clone
where
    I: ValueInput<'t, Token = Token<'src>, Span = SimpleSpan>,
{
    let others = [
        (Token::LBracket, Token::RBracket),
        (Token::LParen, Token::RParen),
    ];
    nested_delimiters(Token::LBrace, Token::RBrace, others, |_| ())
        .or(nested_delimiters(
            Token::LBracket,
            Token::RBracket,
            [
                (Token::LBrace, Token::RBrace),
                (Token::LParen, Token::RParen),
            ],
            |_| (),
        ))
        .or(nested_delimiters(
            Token::LParen,
            Token::RParen,
            [
                (Token::LBrace, Token::RBrace),
                (Token::LBracket, Token::RBracket),
            ],
            |_| (),
        ))
        .or(none_of([Token::RBrace, Token::RBracket, Token::RParen]).ignored())
}

/// Start offsets of the tokens that begin a line, sorted.
///
/// The grammar ignores newlines, but people write one item per line; so after an error
/// the parser resumes at the next token that begins a line, which is almost always
/// where the next item starts.
type LineStarts = Rc<[usize]>;

fn line_starts(tokens: &[(Token<'_>, SimpleSpan)], src: &str) -> LineStarts {
    let mut starts = Vec::new();
    let mut previous_end = 0;
    for (_, span) in tokens {
        let gap = src.get(previous_end..span.start).unwrap_or_default();
        if previous_end == 0 || gap.contains('\n') {
            starts.push(span.start);
        }
        previous_end = span.end;
    }
    starts.into()
}

fn at_line_start<'t, 'src: 't, I>(
    starts: LineStarts,
) -> impl Parser<'t, I, (), Extra<'t, 'src>> + Clone
where
    I: ValueInput<'t, Token = Token<'src>, Span = SimpleSpan>,
{
    any().try_map(move |_, span: SimpleSpan| {
        if starts.binary_search(&span.start).is_ok() {
            Ok(())
        } else {
            Err(Rich::custom(span, "not at the start of a line"))
        }
    })
}

/// Recovery for a broken item: skip it, up to the next line's first token (or a closer).
fn skip_item<'t, 'src: 't, I, T>(
    starts: LineStarts,
    skip: impl Parser<'t, I, (), Extra<'t, 'src>> + Clone,
) -> impl Parser<'t, I, Option<T>, Extra<'t, 'src>> + Clone
where
    I: ValueInput<'t, Token = Token<'src>, Span = SimpleSpan>,
{
    skip.clone()
        .then(skip.and_is(at_line_start(starts).not()).repeated())
        .map(|_| None)
}

/// `{ ITEM* }`: a broken item is skipped up to the next line or the closing brace.
fn braced<'t, 'src: 't, I, T>(
    item: impl Parser<'t, I, T, Extra<'t, 'src>> + Clone,
    starts: LineStarts,
) -> impl Parser<'t, I, Vec<T>, Extra<'t, 'src>> + Clone
where
    I: ValueInput<'t, Token = Token<'src>, Span = SimpleSpan>,
{
    item.map(Some)
        .recover_with(via_parser(skip_item(starts, skip_one())))
        .repeated()
        .collect::<Vec<Option<T>>>()
        .map(|items| items.into_iter().flatten().collect())
        .delimited_by(just(Token::LBrace), just(Token::RBrace))
}

/// `KEYWORD { ITEM* }`
fn block<'t, 'src: 't, I, T>(
    keyword: &'static str,
    item: impl Parser<'t, I, T, Extra<'t, 'src>> + Clone,
    starts: LineStarts,
) -> impl Parser<'t, I, Block<T>, Extra<'t, 'src>> + Clone
where
    I: ValueInput<'t, Token = Token<'src>, Span = SimpleSpan>,
{
    kw(keyword)
        .then(braced(item, starts))
        .map_with(|(keyword, items), e| Block {
            keyword,
            items,
            span: sp(e.span()),
        })
}

fn value<'t, 'src: 't, I>() -> impl Parser<'t, I, Value, Extra<'t, 'src>> + Clone
where
    I: ValueInput<'t, Token = Token<'src>, Span = SimpleSpan>,
{
    recursive(|value| {
        let term = number()
            .map(|n| Value {
                span: n.span,
                kind: ValueKind::Number(n),
            })
            .or(name(&CONDITION_KEYWORDS).map(|c| Value {
                span: c.span,
                kind: ValueKind::Constant(c),
            }))
            .or(value.delimited_by(just(Token::LParen), just(Token::RParen)))
            .labelled("a value");
        term.separated_by(just(Token::Pipe))
            .at_least(1)
            .collect::<Vec<Value>>()
            .map_with(|mut parts, e| {
                if parts.len() == 1 {
                    if let Some(only) = parts.pop() {
                        return only;
                    }
                }
                Value {
                    kind: ValueKind::BitOr(parts),
                    span: sp(e.span()),
                }
            })
    })
}

fn condition<'t, 'src: 't, I>() -> impl Parser<'t, I, Condition, Extra<'t, 'src>> + Clone
where
    I: ValueInput<'t, Token = Token<'src>, Span = SimpleSpan>,
{
    let cmp_op = select! {
        Token::Eq = e => (CmpOp::Eq, sp(e.span())),
        Token::Ne = e => (CmpOp::Ne, sp(e.span())),
        Token::Lt = e => (CmpOp::Lt, sp(e.span())),
        Token::Le = e => (CmpOp::Le, sp(e.span())),
        Token::Gt = e => (CmpOp::Gt, sp(e.span())),
        Token::Ge = e => (CmpOp::Ge, sp(e.span())),
    }
    .labelled("a comparison (`==`, `!=`, `<`, `<=`, `>`, `>=`)");
    let list = value()
        .separated_by(just(Token::Comma))
        .allow_trailing()
        .at_least(1)
        .collect::<Vec<_>>()
        .delimited_by(just(Token::LBracket), just(Token::RBracket));
    let test = cmp_op
        .then(value())
        .map(|((op, op_span), value)| Test::Compare { op, op_span, value })
        .or(kw("not")
            .or_not()
            .then_ignore(kw("in"))
            .then(list)
            .map(|(not, values)| Test::In {
                negated: not.is_some(),
                values,
            }));
    let comparison = name(&CONDITION_KEYWORDS)
        .labelled("an argument name")
        .then(just(Token::Amp).ignore_then(value()).or_not())
        .then(test)
        .map_with(|((arg, mask), test), e| Condition {
            kind: ConditionKind::Compare(Comparison { arg, mask, test }),
            span: sp(e.span()),
        });
    recursive(|cond| {
        let unary = recursive(|unary| {
            kw("not")
                .ignore_then(unary)
                .map_with(|inner, e| Condition {
                    kind: ConditionKind::Not(Box::new(inner)),
                    span: sp(e.span()),
                })
                .or(cond.delimited_by(just(Token::LParen), just(Token::RParen)))
                .or(comparison)
        });
        let and = unary
            .separated_by(kw("and"))
            .at_least(1)
            .collect::<Vec<_>>()
            .map_with(|parts, e| flat(parts, ConditionKind::And, sp(e.span())));
        and.separated_by(kw("or"))
            .at_least(1)
            .collect::<Vec<_>>()
            .map_with(|parts, e| flat(parts, ConditionKind::Or, sp(e.span())))
    })
}

/// One operand as itself, several as an `and`/`or` node.
fn flat(
    mut parts: Vec<Condition>,
    node: fn(Vec<Condition>) -> ConditionKind,
    span: PSpan,
) -> Condition {
    if parts.len() == 1 {
        if let Some(only) = parts.pop() {
            return only;
        }
    }
    Condition {
        kind: node(parts),
        span,
    }
}

fn syscall_item<'t, 'src: 't, I>(
    starts: LineStarts,
) -> impl Parser<'t, I, SyscallItem, Extra<'t, 'src>> + Clone
where
    I: ValueInput<'t, Token = Token<'src>, Span = SimpleSpan>,
{
    let errno_value = name(&[])
        .map(ErrnoValue::Name)
        .or(number().map(ErrnoValue::Number))
        .labelled("an errno name or number");
    let action = kw("errno")
        .then(errno_value.delimited_by(just(Token::LParen), just(Token::RParen)))
        .map_with(|(keyword, value), e| Action::Errno {
            keyword,
            value,
            span: sp(e.span()),
        })
        .or(name(&SYSCALL_ITEM_KEYWORDS).map(Action::Named))
        .labelled("an action");
    let params = name(&CONDITION_KEYWORDS)
        .separated_by(just(Token::Comma))
        .at_least(1)
        .collect::<Vec<_>>()
        .delimited_by(just(Token::LParen), just(Token::RParen));
    let target = set_name()
        .map(Target::Set)
        .or(name(&CONDITION_KEYWORDS)
            .then(params.or_not())
            .map_with(|(name, params), e| Target::Syscall {
                name,
                params,
                span: sp(e.span()),
            }))
        .labelled("a syscall or `@set`");
    let targets = target
        .clone()
        .separated_by(just(Token::Comma))
        .at_least(1)
        .collect::<Vec<_>>();
    let rule = action
        .clone()
        .then(targets)
        // Once `if` is written the condition is required, so its error is the one reported.
        .then(
            kw("if")
                .ignore_then(condition())
                .map(Some)
                .or(kw("if").not().to(None)),
        )
        .map_with(|((action, targets), condition), e| {
            SyscallItem::Rule(Box::new(Rule {
                action,
                targets,
                condition,
                span: sp(e.span()),
            }))
        });
    let default =
        kw("default")
            .then(action)
            .map_with(|(keyword, action), e| SyscallItem::Default {
                keyword,
                action,
                span: sp(e.span()),
            });
    let set = kw("set")
        .then(set_name())
        .then_ignore(just(Token::Assign))
        .then(
            target
                .separated_by(just(Token::Comma))
                .allow_trailing()
                .collect::<Vec<_>>()
                .delimited_by(just(Token::LBracket), just(Token::RBracket)),
        )
        .map_with(|((keyword, name), targets), e| SyscallItem::Set {
            keyword,
            name,
            targets,
            span: sp(e.span()),
        });
    recursive(|item| {
        let arch = kw("arch")
            .then(name(&[]))
            .then(braced(item, starts))
            .map_with(|((keyword, arch), items), e| SyscallItem::Arch {
                keyword,
                arch,
                items,
                span: sp(e.span()),
            });
        default.or(set).or(arch).or(rule)
    })
}

fn fs_entry<'t, 'src: 't, I>() -> impl Parser<'t, I, FsEntry, Extra<'t, 'src>> + Clone
where
    I: ValueInput<'t, Token = Token<'src>, Span = SimpleSpan>,
{
    let option = kw("from")
        .ignore_then(path())
        .map(FsOptionKind::From)
        .or(kw("to").ignore_then(path()).map(FsOptionKind::To))
        .or(kw("size").ignore_then(scalar()).map(FsOptionKind::Size))
        .or(kw("mode").ignore_then(number()).map(FsOptionKind::Mode))
        .or(kw("optional").to(FsOptionKind::Optional))
        .map_with(|kind, e| FsOption {
            kind,
            span: sp(e.span()),
        });
    name(&FS_OPTION_KEYWORDS)
        .labelled(
            "a filesystem entry (`ro`, `rw`, `tmpfs`, `proc`, `dev`, `dir`, `symlink`, `mask`)",
        )
        .then(path())
        .then(option.repeated().collect::<Vec<_>>())
        .map_with(|((kind, target), options), e| FsEntry {
            kind,
            target,
            options,
            span: sp(e.span()),
        })
}

fn property<'t, 'src: 't, I>(
    starts: LineStarts,
) -> impl Parser<'t, I, Property, Extra<'t, 'src>> + Clone
where
    I: ValueInput<'t, Token = Token<'src>, Span = SimpleSpan>,
{
    let scalar = select! {
        Token::Str(s) = e => PropValue { kind: PropValueKind::Str(unescape(s)), span: sp(e.span()) },
        Token::Path(s) = e => PropValue { kind: PropValueKind::Path(s.to_string()), span: sp(e.span()) },
        Token::Number(s) = e => PropValue { kind: PropValueKind::Number(s.to_string()), span: sp(e.span()) },
        Token::Quantity(s) = e => PropValue { kind: PropValueKind::Quantity(s.to_string()), span: sp(e.span()) },
        Token::Ident(s) = e => PropValue { kind: PropValueKind::Ident(s.to_string()), span: sp(e.span()) },
    }
    .labelled("a value");
    let list = scalar
        .separated_by(just(Token::Comma))
        .allow_trailing()
        .collect::<Vec<_>>()
        .delimited_by(just(Token::LBracket), just(Token::RBracket))
        .map_with(|items, e| PropValue {
            kind: PropValueKind::List(items),
            span: sp(e.span()),
        });
    let entry = name(&[]).then_ignore(just(Token::Assign)).then(scalar);
    let map = braced(entry, starts).map_with(|entries, e| PropValue {
        kind: PropValueKind::Map(entries),
        span: sp(e.span()),
    });
    name(&[])
        .labelled("a setting name")
        .then(scalar.or(list).or(map))
        .map_with(|(key, value), e| Property {
            key,
            value,
            span: sp(e.span()),
        })
}

fn file_parser<'t, 'src: 't, I>(starts: LineStarts) -> impl Parser<'t, I, File, Extra<'t, 'src>>
where
    I: ValueInput<'t, Token = Token<'src>, Span = SimpleSpan>,
{
    let policy = kw("policy")
        .then(string())
        .map(|(keyword, name)| Item::Policy { keyword, name });
    let description = kw("description")
        .then(string())
        .map(|(keyword, text)| Item::Description { keyword, text });
    let extends = kw("extends")
        .then(string())
        .map(|(keyword, target)| Item::Extends { keyword, target });
    let include = kw("include")
        .then(string())
        .map(|(keyword, target)| Item::Include { keyword, target });
    let network = kw("network")
        .then(
            name(&[])
                .map(NetworkKind::Mode)
                .or(braced(property(starts.clone()), starts.clone()).map(NetworkKind::Rules))
                .labelled("`none`, `host` or `{ connect [...] bind [...] }`"),
        )
        .map_with(|(keyword, kind), e| {
            Item::Network(Network {
                keyword,
                kind,
                span: sp(e.span()),
            })
        });
    let item = choice((
        policy,
        description,
        extends,
        include,
        block("syscalls", syscall_item(starts.clone()), starts.clone()).map(Item::Syscalls),
        block("filesystem", fs_entry(), starts.clone()).map(Item::Filesystem),
        block("resources", property(starts.clone()), starts.clone()).map(Item::Resources),
        block("process", property(starts.clone()), starts.clone()).map(Item::Process),
        network,
    ));
    // At the top level a stray closer is skipped too.
    let skip = skip_one().or(any().ignored());
    item.map(Some)
        .recover_with(via_parser(skip_item(starts, skip)))
        .repeated()
        .collect::<Vec<Option<Item>>>()
        .then_ignore(end().recover_with(skip_until(any().ignored(), end(), || ())))
        .map(|items| File {
            items: items.into_iter().flatten().collect(),
        })
}

/// Brackets opened and never closed (or closed by the wrong kind), reported at the opener.
pub(crate) fn unclosed_delimiters(tokens: &[(Token<'_>, PSpan)]) -> Vec<SyntaxError> {
    let mut stack: Vec<(char, char, PSpan)> = Vec::new();
    let mut errors = Vec::new();
    for &(token, span) in tokens {
        match token {
            Token::LBrace => stack.push(('{', '}', span)),
            Token::LBracket => stack.push(('[', ']', span)),
            Token::LParen => stack.push(('(', ')', span)),
            Token::RBrace | Token::RBracket | Token::RParen => {
                let closer = match token {
                    Token::RBrace => '}',
                    Token::RBracket => ']',
                    _ => ')',
                };
                if stack
                    .last()
                    .is_some_and(|&(_, expected, _)| expected == closer)
                {
                    stack.pop();
                } else if let Some(pos) = stack.iter().rposition(|&(_, e, _)| e == closer) {
                    // Everything opened after the matching opener was left unclosed.
                    for (delimiter, expected, span) in stack.drain(pos + 1..) {
                        errors.push(SyntaxError::new(
                            span,
                            SyntaxErrorKind::Unclosed {
                                delimiter,
                                expected,
                            },
                        ));
                    }
                    stack.pop();
                }
                // A stray closer with no opener is the parser's to report.
            }
            _ => {}
        }
    }
    for (delimiter, expected, span) in stack {
        errors.push(SyntaxError::new(
            span,
            SyntaxErrorKind::Unclosed {
                delimiter,
                expected,
            },
        ));
    }
    errors
}
