//! Stage 3: composition. Reads the root file, splices its includes, follows `extends`
//! to its bases, and returns the layers, base first, each a flat list of items.
//!
//! Invariants: every file read is added to the [`SourceMap`] (so every diagnostic can
//! show its source); a file is never read twice in one chain (cycles are reported,
//! not followed); nesting is bounded by [`MAX_DEPTH`]; a file that cannot be used is a
//! diagnostic at the `include`/`extends` that named it, and the rest goes on.

use std::path::{Component, Path, PathBuf};

use pfp_syntax::ast::{File, Item, Str};
use pfp_syntax::{Span, SyntaxError, SyntaxErrorKind};

use crate::codes::Code;
use crate::diagnostic::{Diagnostic, Diagnostics};
use crate::io::FileSystem;
use crate::source::{FileId, SourceMap};
use crate::stdlib;
use crate::suggest::closest;

/// Includes and bases nest at most this deep.
pub const MAX_DEPTH: usize = 16;
/// Larger files are refused before they are parsed.
pub const MAX_FILE_SIZE: usize = 16 << 20;

/// What to compile.
#[derive(Clone, Debug)]
pub enum Input {
    /// A `.pfp` file.
    File(PathBuf),
    /// A stdlib profile by name.
    Stdlib(String),
    /// Source text that is not on disk (tests, editors, the MCP server); `includes`
    /// and `extends` paths are relative to `dir`.
    Text {
        name: String,
        text: String,
        dir: PathBuf,
    },
}

/// The root could not be read at all; there is nothing to point a diagnostic at.
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    #[error("cannot read `{path}`: {source}")]
    Unreadable {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("`{path}` is not UTF-8 text (first invalid byte at offset {offset})")]
    NotUtf8 { path: PathBuf, offset: usize },
    #[error("`{path}` is {size} bytes; policy files are limited to {limit} bytes")]
    TooLarge {
        path: PathBuf,
        size: usize,
        limit: usize,
    },
    #[error("no stdlib profile `{name}`{hint}")]
    UnknownProfile { name: String, hint: String },
}

impl InputError {
    /// The diagnostic code this failure is reported under.
    pub fn code(&self) -> Code {
        match self {
            InputError::Unreadable { source, .. }
                if source.kind() == std::io::ErrorKind::FileTooLarge =>
            {
                Code::FileTooLarge
            }
            InputError::Unreadable { .. } | InputError::UnknownProfile { .. } => {
                Code::FileUnreadable
            }
            InputError::NotUtf8 { .. } => Code::FileNotUtf8,
            InputError::TooLarge { .. } => Code::FileTooLarge,
        }
    }
}

/// One layer: a file with its includes spliced in.
#[derive(Clone, Debug)]
pub struct Layer {
    /// The file that makes the layer (not a fragment).
    pub file: FileId,
    pub items: Vec<(FileId, Item)>,
    /// A mode's overlay: its syscall rules are added to the inherited ones instead of
    /// replacing them, and it may not allow anything, so it can only make the policy
    /// stricter (see `check/mod.rs`).
    pub restrict_only: bool,
}

#[derive(Clone, Debug)]
pub struct Resolved {
    /// The stdlib prelude; only its syscall sets are used.
    pub prelude: Layer,
    /// Base first, the root file last.
    pub layers: Vec<Layer>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Key {
    Stdlib(String),
    Path(PathBuf),
    Text(String),
}

impl Key {
    fn display(&self) -> String {
        match self {
            Key::Stdlib(name) => stdlib::display_name(name),
            Key::Path(path) => path.display().to_string(),
            Key::Text(name) => name.clone(),
        }
    }
}

struct Loaded {
    id: FileId,
    file: File,
    dir: Option<PathBuf>,
}

pub fn resolve(
    input: &Input,
    fs: &dyn FileSystem,
    sources: &mut SourceMap,
    diags: &mut Diagnostics,
) -> Result<Resolved, InputError> {
    resolve_with_overlay(input, None, fs, sources, diags)
}

/// An embedded layer laid on top of the root, as if the root were its base: a mode's
/// overlay (see `modes.rs`). Its `extends`, if it had one, would be ignored.
#[derive(Clone, Copy, Debug)]
pub struct Overlay {
    /// As shown in diagnostics (`<stdlib>/modes/hardened.pfp`).
    pub name: &'static str,
    pub text: &'static str,
}

/// [`resolve`], then `overlay` as the top layer.
pub fn resolve_with_overlay(
    input: &Input,
    overlay: Option<Overlay>,
    fs: &dyn FileSystem,
    sources: &mut SourceMap,
    diags: &mut Diagnostics,
) -> Result<Resolved, InputError> {
    let mut resolver = Resolver {
        fs,
        sources,
        diags,
        open: Vec::new(),
        included: Default::default(),
    };

    let (key, root) = match input {
        Input::File(path) => {
            let bytes = fs.read(path).map_err(|source| InputError::Unreadable {
                path: path.clone(),
                source,
            })?;
            if bytes.len() > MAX_FILE_SIZE {
                return Err(InputError::TooLarge {
                    path: path.clone(),
                    size: bytes.len(),
                    limit: MAX_FILE_SIZE,
                });
            }
            let text = String::from_utf8(bytes).map_err(|e| InputError::NotUtf8 {
                path: path.clone(),
                offset: e.utf8_error().valid_up_to(),
            })?;
            let dir = path.parent().map(Path::to_path_buf);
            let key = Key::Path(normalize(path));
            (
                key,
                resolver.parse_source(path.display().to_string(), Some(path.clone()), text, dir),
            )
        }
        Input::Stdlib(name) => {
            let text = stdlib::profile(name).ok_or_else(|| InputError::UnknownProfile {
                name: name.clone(),
                hint: closest(name, stdlib::names())
                    .map(|s| format!("; did you mean `{s}`?"))
                    .unwrap_or_default(),
            })?;
            (
                Key::Stdlib(name.clone()),
                resolver.parse_source(stdlib::display_name(name), None, text.into(), None),
            )
        }
        Input::Text { name, text, dir } => (
            Key::Text(name.clone()),
            resolver.parse_source(name.clone(), None, text.clone(), Some(dir.clone())),
        ),
    };

    // The prelude's sets are visible everywhere, except when the prelude itself is
    // being checked: then it would define each of its sets twice.
    let is_prelude = resolver
        .sources
        .get(root.id)
        .is_some_and(|f| f.text == stdlib::PRELUDE);
    let prelude = if is_prelude {
        Layer {
            file: root.id,
            items: Vec::new(),
            restrict_only: false,
        }
    } else {
        let loaded = resolver.parse_source(
            stdlib::PRELUDE_NAME.into(),
            None,
            stdlib::PRELUDE.into(),
            None,
        );
        Layer {
            file: loaded.id,
            items: loaded
                .file
                .items
                .into_iter()
                .map(|i| (loaded.id, i))
                .collect(),
            restrict_only: false,
        }
    };

    let mut layers = Vec::new();
    let mut chain = vec![key];
    let mut current = root;
    loop {
        resolver.included.clear();
        resolver.open = vec![chain.last().cloned().unwrap_or(Key::Text(String::new()))];
        let LayerOut {
            layer,
            dir,
            extends,
        } = resolver.layer(current);
        layers.push(layer);
        let Some((from, target)) = extends else { break };
        let Some(next) = resolver.base(from, &target, dir.as_deref(), &mut chain) else {
            break;
        };
        current = next;
    }
    layers.reverse();
    if let Some(overlay) = overlay {
        let loaded = resolver.parse_source(overlay.name.into(), None, overlay.text.into(), None);
        resolver.included.clear();
        resolver.open = vec![Key::Stdlib(overlay.name.into())];
        let mut layer = resolver.layer(loaded).layer;
        layer.restrict_only = true;
        layers.push(layer);
    }
    Ok(Resolved { prelude, layers })
}

/// A layer with its includes spliced, the directory its paths are relative to, and
/// the `extends` it names (with the file it is written in).
struct LayerOut {
    layer: Layer,
    dir: Option<PathBuf>,
    extends: Option<(FileId, Str)>,
}

struct Resolver<'a> {
    fs: &'a dyn FileSystem,
    sources: &'a mut SourceMap,
    diags: &'a mut Diagnostics,
    /// The files being spliced, outermost first, for cycle detection.
    open: Vec<Key>,
    /// The fragments included in the current layer, with where.
    included: std::collections::HashMap<PathBuf, (FileId, Span)>,
}

impl Resolver<'_> {
    fn parse_source(
        &mut self,
        name: String,
        path: Option<PathBuf>,
        text: String,
        dir: Option<PathBuf>,
    ) -> Loaded {
        let parsed = pfp_syntax::parse(&text);
        let id = self.sources.add(name, path, text);
        for error in parsed.errors {
            self.diags.push(syntax_diagnostic(id, error));
        }
        Loaded {
            id,
            file: parsed.file,
            dir,
        }
    }

    /// Splices the includes of a layer's root file; returns the layer, its directory,
    /// and its `extends` if any.
    fn layer(&mut self, root: Loaded) -> LayerOut {
        let mut items = Vec::new();
        let mut extends: Option<(FileId, Str)> = None;
        for item in root.file.items {
            match item {
                Item::Extends { target, .. } => {
                    if let Some((_, first)) = &extends {
                        self.diags.push(
                            Diagnostic::new(
                                Code::DuplicateItem,
                                root.id,
                                target.span,
                                "a policy extends one base only",
                            )
                            .with_secondary(
                                root.id,
                                first.span,
                                "the first `extends`",
                            ),
                        );
                    } else {
                        extends = Some((root.id, target));
                    }
                }
                Item::Include { target, .. } => {
                    self.include(root.id, root.dir.as_deref(), &target, &mut items)
                }
                other => items.push((root.id, other)),
            }
        }
        LayerOut {
            layer: Layer {
                file: root.id,
                items,
                restrict_only: false,
            },
            dir: root.dir,
            extends,
        }
    }

    fn include(
        &mut self,
        from: FileId,
        dir: Option<&Path>,
        target: &Str,
        items: &mut Vec<(FileId, Item)>,
    ) {
        let Some(path) = self.relative_path(from, dir, target, "include") else {
            return;
        };
        let key = Key::Path(path.clone());
        if self.cycle_check(from, target.span, &key, &self.open.clone(), "includes") {
            return;
        }
        if let Some((first_file, first_span)) = self.included.get(&path).copied() {
            self.diags.push(
                Diagnostic::new(
                    Code::IncludedTwice,
                    from,
                    target.span,
                    format!("`{}` is already included in this layer", path.display()),
                )
                .with_secondary(first_file, first_span, "first included here")
                .with_help("include it once"),
            );
            return;
        }
        self.included.insert(path.clone(), (from, target.span));
        if self.open.len() >= MAX_DEPTH {
            self.diags.push(
                Diagnostic::new(
                    Code::IncludeTooDeep,
                    from,
                    target.span,
                    format!("includes nest deeper than {MAX_DEPTH} files"),
                )
                .with_note(format!("the chain: {}", chain_text(&self.open))),
            );
            return;
        }
        let Some(loaded) = self.read(from, target.span, &path, Code::FileUnreadable) else {
            return;
        };
        self.open.push(key);
        for item in loaded.file.items {
            match item {
                Item::Include { target, .. } => {
                    self.include(loaded.id, loaded.dir.as_deref(), &target, items)
                }
                Item::Policy { keyword, .. } | Item::Extends { keyword, .. } => {
                    let word = if matches!(item, Item::Policy { .. }) {
                        "policy"
                    } else {
                        "extends"
                    };
                    self.diags.push(
                        Diagnostic::new(
                            Code::NotInFragment,
                            loaded.id,
                            keyword.to(item.span()),
                            format!("`{word}` in an included fragment"),
                        )
                        .with_secondary(from, target.span, "included here")
                        .with_help(format!("move `{word}` to the file that includes this one")),
                    );
                }
                other => items.push((loaded.id, other)),
            }
        }
        self.open.pop();
    }

    /// Loads the base named by `extends`.
    fn base(
        &mut self,
        from: FileId,
        target: &Str,
        dir: Option<&Path>,
        chain: &mut Vec<Key>,
    ) -> Option<Loaded> {
        if stdlib::is_stdlib_reference(&target.value) {
            let key = Key::Stdlib(target.value.clone());
            if self.cycle_check(from, target.span, &key, chain, "extends") {
                return None;
            }
            let Some(text) = stdlib::profile(&target.value) else {
                self.diags.push(
                    Diagnostic::new(
                        Code::ExtendsNotFound,
                        from,
                        target.span,
                        format!("no stdlib profile `{}`", target.value),
                    )
                    .with_label("not a stdlib profile")
                    .with_suggestion(closest(&target.value, stdlib::names()))
                    .with_note(format!(
                        "the stdlib profiles: {}",
                        stdlib::names().collect::<Vec<_>>().join(", ")
                    ))
                    .with_note(
                        "a file path needs a `/` or the `.pfp` extension, e.g. `./base.pfp`",
                    ),
                );
                return None;
            };
            if !self.depth_ok(from, target.span, chain) {
                return None;
            }
            chain.push(key);
            return Some(self.parse_source(
                stdlib::display_name(&target.value),
                None,
                text.into(),
                None,
            ));
        }
        let path = self.relative_path(from, dir, target, "extends")?;
        let key = Key::Path(path.clone());
        if self.cycle_check(from, target.span, &key, chain, "extends")
            || !self.depth_ok(from, target.span, chain)
        {
            return None;
        }
        let loaded = self.read(from, target.span, &path, Code::ExtendsNotFound)?;
        chain.push(key);
        Some(loaded)
    }

    fn depth_ok(&mut self, from: FileId, span: Span, chain: &[Key]) -> bool {
        if chain.len() >= MAX_DEPTH {
            self.diags.push(
                Diagnostic::new(
                    Code::IncludeTooDeep,
                    from,
                    span,
                    format!("bases nest deeper than {MAX_DEPTH} files"),
                )
                .with_note(format!("the chain: {}", chain_text(chain))),
            );
            return false;
        }
        true
    }

    /// Reports a cycle if `key` is already open; returns whether it did.
    fn cycle_check(
        &mut self,
        from: FileId,
        span: Span,
        key: &Key,
        open: &[Key],
        verb: &str,
    ) -> bool {
        let Some(pos) = open.iter().position(|k| k == key) else {
            return false;
        };
        let mut cycle: Vec<String> = open.iter().skip(pos).map(Key::display).collect();
        cycle.push(key.display());
        self.diags.push(
            Diagnostic::new(
                Code::CompositionCycle,
                from,
                span,
                format!("`{}` {verb} itself", key.display()),
            )
            .with_label("this closes the cycle")
            .with_note(format!("the cycle: {}", cycle.join(" → "))),
        );
        true
    }

    fn relative_path(
        &mut self,
        from: FileId,
        dir: Option<&Path>,
        target: &Str,
        verb: &str,
    ) -> Option<PathBuf> {
        let path = Path::new(&target.value);
        if path.is_absolute() {
            return Some(normalize(path));
        }
        match dir {
            Some(dir) => Some(normalize(&dir.join(path))),
            None => {
                self.diags.push(Diagnostic::new(
                    Code::FileUnreadable,
                    from,
                    target.span,
                    format!(
                        "a stdlib profile cannot `{verb}` the file `{}`",
                        target.value
                    ),
                ));
                None
            }
        }
    }

    /// Reads and parses a file named at `span`; `missing` is the code for a missing file.
    fn read(&mut self, from: FileId, span: Span, path: &Path, missing: Code) -> Option<Loaded> {
        let bytes = match self.fs.read(path) {
            Ok(bytes) => bytes,
            Err(e) => {
                let code = if e.kind() == std::io::ErrorKind::NotFound {
                    missing
                } else {
                    Code::FileUnreadable
                };
                self.diags.push(
                    Diagnostic::new(
                        code,
                        from,
                        span,
                        format!("cannot read `{}`: {e}", path.display()),
                    )
                    .with_note("paths are relative to the directory of the file that names them"),
                );
                return None;
            }
        };
        if bytes.len() > MAX_FILE_SIZE {
            self.diags.push(Diagnostic::new(
                Code::FileTooLarge,
                from,
                span,
                format!(
                    "`{}` is {} bytes; policy files are limited to {MAX_FILE_SIZE}",
                    path.display(),
                    bytes.len()
                ),
            ));
            return None;
        }
        let text = match String::from_utf8(bytes) {
            Ok(text) => text,
            Err(e) => {
                self.diags.push(Diagnostic::new(
                    Code::FileNotUtf8,
                    from,
                    span,
                    format!(
                        "`{}` is not UTF-8 text (first invalid byte at offset {})",
                        path.display(),
                        e.utf8_error().valid_up_to()
                    ),
                ));
                return None;
            }
        };
        Some(self.parse_source(
            path.display().to_string(),
            Some(path.to_path_buf()),
            text,
            path.parent().map(Path::to_path_buf),
        ))
    }
}

fn chain_text(chain: &[Key]) -> String {
    chain
        .iter()
        .map(Key::display)
        .collect::<Vec<_>>()
        .join(" → ")
}

/// Removes `.` and resolves `..` without touching the filesystem.
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    out.push("..");
                }
            }
            other => out.push(other.as_os_str()),
        }
    }
    out
}

/// A syntax error as a diagnostic, with a "did you mean" for misspelled keywords.
pub(crate) fn syntax_diagnostic(file: FileId, error: SyntaxError) -> Diagnostic {
    let message = error.message();
    match error.kind {
        SyntaxErrorKind::Unexpected { found, expected } => {
            let keywords = expected.iter().filter_map(|e| {
                let word = e.strip_prefix('`')?.strip_suffix('`')?;
                word.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
                    .then_some(word)
            });
            let found_word = found
                .as_deref()
                .and_then(|f| f.strip_prefix('`')?.strip_suffix('`'));
            let suggestion = found_word.and_then(|w| closest(w, keywords));
            let diag = Diagnostic::new(Code::UnexpectedToken, file, error.span, message)
                .with_suggestion(suggestion);
            match found_word {
                Some(word) if suggestion.is_none() && expected.iter().any(|e| e == "a path") => {
                    diag.with_help(format!("paths are absolute: write `/{word}`"))
                }
                _ => diag,
            }
        }
        SyntaxErrorKind::Unclosed { expected, .. } => {
            Diagnostic::new(Code::UnclosedDelimiter, file, error.span, message)
                .with_label("opened here")
                .with_help(format!("add the matching `{expected}`"))
        }
        SyntaxErrorKind::InvalidCharacter(_) => {
            Diagnostic::new(Code::InvalidCharacter, file, error.span, message).with_help(
                "paths with unusual characters can be written as strings: `\"/srv/a b\"`",
            )
        }
        SyntaxErrorKind::UnterminatedString => {
            Diagnostic::new(Code::UnterminatedString, file, error.span, message)
                .with_help("close the string with `\"` on the same line")
        }
        SyntaxErrorKind::InvalidEscape(_) => {
            Diagnostic::new(Code::InvalidEscape, file, error.span, message)
                .with_help("the escapes are `\\\"`, `\\\\`, `\\n` and `\\t`")
        }
        SyntaxErrorKind::NestingTooDeep => {
            Diagnostic::new(Code::NestingTooDeep, file, error.span, message)
        }
    }
}
