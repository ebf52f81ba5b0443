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

use crate::ast::*;
use crate::error::{SyntaxError, SyntaxErrorKind};
use crate::lexer::{unescape, Token};
use crate::span::Span as PSpan;

type Extra<'src> = extra::Err<Rich<'src, Token<'src>, SimpleSpan>>;

/// Identifiers that start a syscall item other than a rule; a rule's action can't be one.
const SYSCALL_ITEM_KEYWORDS: [&str; 3] = ["default", "set", "arch"];
/// Words of the condition syntax; never a syscall, argument or constant name.
const CONDITION_KEYWORDS: [&str; 5] = ["if", "and", "or", "not", "in"];
/// Words that introduce a filesystem entry's options; never an entry's kind.
const FS_OPTION_KEYWORDS: [&str; 5] = ["from", "to", "size", "mode", "optional"];

/// Parses a token stream (as produced by [`crate::lexer::lex`]).
pub(crate) fn parse_tokens(tokens: &[(Token<'_>, PSpan)], src_len: usize) -> (File, Vec<SyntaxError>) {
    let tokens: Vec<(Token<'_>, SimpleSpan)> =
        tokens.iter().map(|&(t, s)| (t, SimpleSpan::from(s))).collect();
    let input = tokens
        .as_slice()
        .map(SimpleSpan::from(src_len..src_len), |(t, s)| (t, s));
    let (file, errors) = file_parser().parse(input).into_output_errors();
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
        RichPattern::SomethingElse => None,
        RichPattern::EndOfInput => Some("the end of the file".into()),
    }
}
