//! Stage 2: the syntax tree.
//!
//! It mirrors the source closely (every node keeps its span, literals keep their text)
//! and means nothing yet: `allow` is just an identifier in action position, numbers are
//! unparsed text. The checker in `phantom-compiler` gives it meaning. Nodes the parser
//! could not make sense of are `Error` nodes, so a tree exists even for broken input.

use crate::span::Span;

#[derive(Clone, Debug, PartialEq, Default)]
pub struct File {
    pub items: Vec<Item>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Ident {
    pub name: String,
    pub span: Span,
}

/// A string literal; `value` has its escapes resolved.
#[derive(Clone, Debug, PartialEq)]
pub struct Str {
    pub value: String,
    pub span: Span,
}

/// A number literal, kept as written (`0x7f`, `1_000`, `-1`, `1.5`).
#[derive(Clone, Debug, PartialEq)]
pub struct Number {
    pub text: String,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Item {
    /// `policy "NAME"`
    Policy {
        keyword: Span,
        name: Str,
    },
    /// `description "TEXT"`
    Description {
        keyword: Span,
        text: Str,
    },
    /// `extends "BASE"`
    Extends {
        keyword: Span,
        target: Str,
    },
    /// `include "FRAGMENT"`
    Include {
        keyword: Span,
        target: Str,
    },
    Syscalls(Block<SyscallItem>),
    Filesystem(Block<FsEntry>),
    Resources(Block<Property>),
    Process(Block<Property>),
    Network(Network),
    /// Text the parser skipped; an error was reported for it.
    Error(Span),
}

impl Item {
    pub fn span(&self) -> Span {
        match self {
            Item::Policy { keyword, name } => keyword.to(name.span),
            Item::Description { keyword, text } => keyword.to(text.span),
            Item::Extends { keyword, target } | Item::Include { keyword, target } => {
                keyword.to(target.span)
            }
            Item::Syscalls(b) => b.span,
            Item::Filesystem(b) => b.span,
            Item::Resources(b) | Item::Process(b) => b.span,
            Item::Network(n) => n.span,
            Item::Error(span) => *span,
        }
    }
}

/// `KEYWORD { ITEM* }`
#[derive(Clone, Debug, PartialEq)]
pub struct Block<T> {
    pub keyword: Span,
    pub items: Vec<T>,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub enum SyscallItem {
    /// `default ACTION`
    Default {
        keyword: Span,
        action: Action,
        span: Span,
    },
    /// `set @NAME = [TARGET, ...]`
    Set {
        keyword: Span,
        name: Ident,
        targets: Vec<Target>,
        span: Span,
    },
    /// `arch NAME { ... }`
    Arch {
        keyword: Span,
        arch: Ident,
        items: Vec<SyscallItem>,
        span: Span,
    },
    Rule(Box<Rule>),
    Error(Span),
}

impl SyscallItem {
    pub fn span(&self) -> Span {
        match self {
            SyscallItem::Default { span, .. }
            | SyscallItem::Set { span, .. }
            | SyscallItem::Arch { span, .. }
            | SyscallItem::Error(span) => *span,
            SyscallItem::Rule(rule) => rule.span,
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum Action {
    /// `allow`, `kill`, `kill-thread`, ... (checked later)
    Named(Ident),
    /// `errno(EPERM)` or `errno(1)`
    Errno {
        keyword: Span,
        value: ErrnoValue,
        span: Span,
    },
}

impl Action {
    pub fn span(&self) -> Span {
        match self {
            Action::Named(ident) => ident.span,
            Action::Errno { span, .. } => *span,
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum ErrnoValue {
    Name(Ident),
    Number(Number),
}

/// `ACTION TARGET, ... [if CONDITION]`
#[derive(Clone, Debug, PartialEq)]
pub struct Rule {
    pub action: Action,
    pub targets: Vec<Target>,
    pub condition: Option<Condition>,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Target {
    /// `@name`; the ident holds the name without `@`, its span includes it
    Set(Ident),
    /// `name` or `name(param, ...)`
    Syscall {
        name: Ident,
        params: Option<Vec<Ident>>,
        span: Span,
    },
}

impl Target {
    pub fn span(&self) -> Span {
        match self {
            Target::Set(ident) => ident.span,
            Target::Syscall { span, .. } => *span,
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Condition {
    pub kind: ConditionKind,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub enum ConditionKind {
    /// At least two operands. Chains are flat (not nested pairs), so a long condition
    /// is a wide tree, never a deep one.
    Or(Vec<Condition>),
    /// At least two operands.
    And(Vec<Condition>),
    Not(Box<Condition>),
    Compare(Comparison),
}

/// `ARG [& MASK] OP VALUE`, `ARG [& MASK] [not] in [VALUE, ...]`
#[derive(Clone, Debug, PartialEq)]
pub struct Comparison {
    pub arg: Ident,
    pub mask: Option<Value>,
    pub test: Test,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Test {
    Compare {
        op: CmpOp,
        op_span: Span,
        value: Value,
    },
    In {
        negated: bool,
        values: Vec<Value>,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CmpOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl CmpOp {
    pub fn as_str(self) -> &'static str {
        match self {
            CmpOp::Eq => "==",
            CmpOp::Ne => "!=",
            CmpOp::Lt => "<",
            CmpOp::Le => "<=",
            CmpOp::Gt => ">",
            CmpOp::Ge => ">=",
        }
    }
}

/// A value in a condition: numbers and constants, `|`-combined.
#[derive(Clone, Debug, PartialEq)]
pub struct Value {
    pub kind: ValueKind,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub enum ValueKind {
    Number(Number),
    Constant(Ident),
    /// `A | B | ...`, at least two parts
    BitOr(Vec<Value>),
}

/// `KIND TARGET OPTION*` in `filesystem { }`
#[derive(Clone, Debug, PartialEq)]
pub struct FsEntry {
    pub kind: Ident,
    pub target: PathLit,
    pub options: Vec<FsOption>,
    pub span: Span,
}

/// A path, bare (`/usr`, `${workspace}/x`) or quoted.
#[derive(Clone, Debug, PartialEq)]
pub struct PathLit {
    pub value: String,
    pub quoted: bool,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub struct FsOption {
    pub kind: FsOptionKind,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub enum FsOptionKind {
    From(PathLit),
    To(PathLit),
    Size(Scalar),
    Mode(Number),
    Optional,
}

/// A number or a number with a unit.
#[derive(Clone, Debug, PartialEq)]
pub enum Scalar {
    Number(Number),
    /// `512MiB`, `30s`: the text as written
    Quantity(Number),
}

/// `KEY VALUE` in `resources`, `process` and `network { }`
#[derive(Clone, Debug, PartialEq)]
pub struct Property {
    pub key: Ident,
    pub value: PropValue,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub struct PropValue {
    pub kind: PropValueKind,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub enum PropValueKind {
    Str(String),
    Path(String),
    Number(String),
    Quantity(String),
    Ident(String),
    List(Vec<PropValue>),
    Map(Vec<(Ident, PropValue)>),
    /// A value the parser skipped; an error was reported for it.
    Error,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Network {
    pub keyword: Span,
    pub kind: NetworkKind,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub enum NetworkKind {
    /// `network none`, `network host`
    Mode(Ident),
    /// `network { connect [...] bind [...] }`
    Rules(Vec<Property>),
}
