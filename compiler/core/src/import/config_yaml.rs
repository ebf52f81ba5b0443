//! The runtime's YAML configuration to `.pfp`: `phantomc import config-yaml`.
//!
//! The configuration file (the one `PHANTOM_CONFIG_PATH` points to) holds a few runtime
//! settings and a map of named profiles:
//!
//! ```yaml
//! default_profile: my-custom-profile   # runtime settings: read, kept, not converted
//! default_mode: sandbox
//! profiles:
//!   my-custom-profile:
//!     name: "my-custom-profile"
//!     driver: "bwrap"
//!     cpu: "1"
//!     memory: "512m"
//!     network:
//!       enabled: false
//!     mounts:
//!       - source: "./workspace"
//!         target: "/workspace"
//!         mode: "rw"
//! ```
//!
//! [`parse`] reads and validates the whole file: every unknown key, malformed value or
//! impossible mount is an error with its line and a way to fix it, so a profile that
//! parses always converts. [`to_pfp`] writes one profile as a canonical `.pfp` policy
//! that `extends "base"` (the stdlib profile) and states the profile's resources,
//! network and mounts; `phantomc check` accepts it. Both are pure: no file is read,
//! paths are resolved as text. docs/language.md ("Importing a YAML configuration")
//! states the mapping for users.

use std::collections::HashMap;
use std::fmt;
use std::path::Path;

use serde::de::{Deserializer, MapAccess, Visitor};
use serde::Deserialize;
use serde_saphyr::{Location, MessageFormatter, Spanned};

use crate::check::values::{parse_millis, scale, split_quantity};
use crate::modes::Mode;
use crate::suggest::closest;

// ---------------------------------------------------------------------------------
// The public model.

/// A parsed configuration file: the runtime settings and the profiles, in file order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Config {
    /// `profile_dirs`: directories the runtime searches for `.pfp` profiles, as written.
    pub profile_dirs: Vec<String>,
    /// `default_profile`: the profile the runtime uses when none is named.
    pub default_profile: Option<String>,
    /// `default_mode`: `direct`, `sandbox` or `hardened`.
    pub default_mode: Option<Mode>,
    /// `cache_dir`: where the runtime keeps compiled bundles, as written.
    pub cache_dir: Option<String>,
    /// `profiles`, in the order of the file.
    pub profiles: Vec<ProfileSpec>,
}

impl Config {
    /// The profile named `name` (its key under `profiles:`).
    pub fn profile(&self, name: &str) -> Option<&ProfileSpec> {
        self.profiles.iter().find(|p| p.name == name)
    }

    /// The profiles' names, in file order.
    pub fn profile_names(&self) -> impl Iterator<Item = &str> {
        self.profiles.iter().map(|p| p.name.as_str())
    }
}

/// One profile of the configuration, validated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProfileSpec {
    /// The profile's key under `profiles:` (its `name:`, if given, is the same); the
    /// policy's name and, for `phantomc import config-yaml -o DIR`, its file name.
    pub name: String,
    /// The 1-based line of the profile's key.
    pub line: u64,
    /// `driver`; accepted for compatibility, phantom always runs the profile itself.
    pub driver: Driver,
    /// `cpu` in thousandths of a CPU (`1.5` is 1500).
    pub cpu_millis: Option<u64>,
    /// `memory`.
    pub memory: Option<Memory>,
    /// `network.enabled`: `true` shares the host's network, otherwise none.
    pub network: bool,
    /// `mounts`, in file order; no two have the same target.
    pub mounts: Vec<MountSpec>,
}

/// The execution driver a profile names. The phantom runtime runs every profile
/// natively, so the driver only changes a comment in the output.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Driver {
    /// No `driver` key.
    #[default]
    Unspecified,
    /// `bwrap`: Bubblewrap, which phantom replaces.
    Bwrap,
    /// `phantom`
    Phantom,
    /// `native`
    Native,
    /// `auto`
    Auto,
}

impl Driver {
    /// The accepted spellings.
    pub const NAMES: [&'static str; 4] = ["bwrap", "phantom", "native", "auto"];

    pub fn from_name(name: &str) -> Option<Driver> {
        Some(match name {
            "bwrap" => Driver::Bwrap,
            "phantom" => Driver::Phantom,
            "native" => Driver::Native,
            "auto" => Driver::Auto,
            _ => return None,
        })
    }

    /// The name as written in the configuration; `None` when there was none.
    pub fn name(self) -> Option<&'static str> {
        match self {
            Driver::Unspecified => None,
            Driver::Bwrap => Some("bwrap"),
            Driver::Phantom => Some("phantom"),
            Driver::Native => Some("native"),
            Driver::Auto => Some("auto"),
        }
    }
}

/// A memory limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Memory {
    /// Bytes, at least 1 MiB.
    Bytes(u64),
    /// `unlimited`.
    Unlimited,
}

/// A bind mount of a host path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MountSpec {
    /// The host path as written (trimmed): absolute, relative to the configuration
    /// file's directory, `~/…`, or starting with `${workspace}`, `${cwd}` or `${home}`.
    pub source: String,
    /// The path inside the sandbox: absolute and normalized.
    pub target: String,
    /// `mode: rw`; `ro` (the default) is false.
    pub writable: bool,
    /// The 1-based line of the mount.
    pub line: u64,
}

/// Why a configuration cannot be converted: what is wrong, where, and how to fix it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError {
    /// 1-based line of the offending key or value; 0 when the error has no place in
    /// the file.
    pub line: u64,
    /// 1-based column; 0 when unknown.
    pub column: u64,
    /// What is wrong.
    pub message: String,
    /// How to fix it.
    pub help: Option<String>,
}

impl ConfigError {
    fn new(location: Location, message: impl Into<String>, help: impl Into<String>) -> Self {
        ConfigError {
            line: location.line(),
            column: location.column(),
            message: message.into(),
            help: Some(help.into()),
        }
    }

    fn unplaced(message: impl Into<String>) -> Self {
        ConfigError {
            line: 0,
            column: 0,
            message: message.into(),
            help: None,
        }
    }

    /// The error as a compiler would print it: `FILE:LINE:COLUMN: MESSAGE`, then the
    /// help on a line of its own.
    pub fn render(&self, file: &str) -> String {
        let mut out = match (self.line, self.column) {
            (0, _) => format!("{file}: {}", self.message),
            (line, 0) => format!("{file}:{line}: {}", self.message),
            (line, column) => format!("{file}:{line}:{column}: {}", self.message),
        };
        if let Some(help) = &self.help {
            out.push_str("\n  help: ");
            out.push_str(help);
        }
        out
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.line, self.column) {
            (0, _) => write!(f, "{}", self.message)?,
            (line, 0) => write!(f, "line {line}: {}", self.message)?,
            (line, column) => write!(f, "line {line}, column {column}: {}", self.message)?,
        }
        if let Some(help) = &self.help {
            write!(f, " (help: {help})")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigError {}

// ---------------------------------------------------------------------------------
// The YAML, as written. Every struct refuses unknown keys; values that need checking
// keep their location.

const TOP_KEYS: &[&str] = &[
    "profiles",
    "profile_dirs",
    "default_profile",
    "default_mode",
    "cache_dir",
];
const PROFILE_KEYS: &[&str] = &["name", "driver", "cpu", "memory", "network", "mounts"];
const NETWORK_KEYS: &[&str] = &["enabled"];
const MOUNT_KEYS: &[&str] = &["source", "target", "mode"];

const SHAPE: &str = "the file holds `profiles:` (a mapping from names to profiles with \
    `name`, `driver`, `cpu`, `memory`, `network: {enabled: BOOL}` and `mounts: [{source, \
    target, mode}]`) and the runtime settings `profile_dirs`, `default_profile`, \
    `default_mode` and `cache_dir`";

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename = "configuration")]
struct RawConfig {
    profiles: Option<RawProfiles>,
    profile_dirs: Option<Vec<Spanned<String>>>,
    default_profile: Option<Spanned<String>>,
    default_mode: Option<Spanned<String>>,
    cache_dir: Option<Spanned<String>>,
}

/// `profiles:`, in file order (a struct field of a map type would lose the order).
struct RawProfiles(Vec<(Spanned<String>, Option<RawProfile>)>);

impl<'de> Deserialize<'de> for RawProfiles {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Entries;
        impl<'de> Visitor<'de> for Entries {
            type Value = RawProfiles;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a mapping from profile names to profiles")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawProfiles, A::Error> {
                let mut entries = Vec::new();
                while let Some(key) = map.next_key::<Spanned<String>>()? {
                    let profile = map.next_value::<Option<RawProfile>>()?;
                    entries.push((key, profile));
                }
                Ok(RawProfiles(entries))
            }
        }
        deserializer.deserialize_map(Entries)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename = "profile")]
struct RawProfile {
    name: Option<Spanned<String>>,
    driver: Option<Spanned<String>>,
    cpu: Option<Spanned<String>>,
    memory: Option<Spanned<String>>,
    network: Option<RawNetwork>,
    mounts: Option<Vec<Spanned<RawMount>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename = "network")]
struct RawNetwork {
    enabled: Option<bool>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename = "mount")]
struct RawMount {
    source: Option<Spanned<String>>,
    target: Option<Spanned<String>>,
    mode: Option<Spanned<String>>,
}

// ---------------------------------------------------------------------------------
// Parsing and validation.

/// Reads a configuration file's text and validates every profile in it.
///
/// Fails on the first problem: YAML syntax, an unknown key (with a did-you-mean), a
/// value of the wrong type, a memory size or CPU count that is not one, an unknown
/// driver, a mount without a source or with a relative target, two mounts on one
/// target. The runtime settings are read and returned, not interpreted further.
pub fn parse(text: &str) -> Result<Config, ConfigError> {
    let raw: RawConfig = serde_saphyr::from_str(text).map_err(|e| yaml_error(&e, text))?;
    let mut config = Config::default();
    for dir in raw.profile_dirs.into_iter().flatten() {
        config
            .profile_dirs
            .push(plain_text(&dir, "a `profile_dirs` entry")?);
    }
    if let Some(name) = &raw.default_profile {
        config.default_profile = Some(plain_text(name, "`default_profile`")?);
    }
    if let Some(dir) = &raw.cache_dir {
        config.cache_dir = Some(plain_text(dir, "`cache_dir`")?);
    }
    if let Some(mode) = &raw.default_mode {
        let value = mode.value.trim();
        let names = Mode::ALL.map(Mode::name);
        config.default_mode = Some(Mode::from_name(value).ok_or_else(|| {
            ConfigError::new(
                mode.referenced,
                format!("`default_mode: {value}` is not a mode"),
                with_suggestion(value, &names, "the modes are direct, sandbox and hardened"),
            )
        })?);
    }
    // A profile name given twice is a duplicate key, which the YAML reader refuses.
    for (key, profile) in raw.profiles.map(|p| p.0).unwrap_or_default() {
        config.profiles.push(profile_spec(&key, profile)?);
    }
    Ok(config)
}

/// What each key takes, for errors about a value of the wrong shape.
const KEY_SHAPES: &[(&str, &str)] = &[
    (
        "profiles",
        "`profiles` is a mapping from profile names to profiles",
    ),
    (
        "profile_dirs",
        "`profile_dirs` is a list of directories, such as `[/etc/phantom/profiles]`",
    ),
    ("default_profile", "`default_profile` is a profile name"),
    (
        "default_mode",
        "`default_mode` is `direct`, `sandbox` or `hardened`",
    ),
    ("cache_dir", "`cache_dir` is a directory"),
    ("name", "`name` is the profile's name, the same as its key"),
    (
        "driver",
        "`driver` is `bwrap`, `phantom`, `native` or `auto`",
    ),
    ("cpu", "`cpu` is a number of CPUs, such as `1` or `0.5`"),
    ("memory", "`memory` is a size, such as `512m` or `2g`"),
    (
        "network",
        "`network` is a mapping: `network: {enabled: true}`",
    ),
    ("enabled", "`enabled` is `true` or `false`"),
    (
        "mounts",
        "`mounts` is a list of mappings: `- {source: ./data, target: /data, mode: ro}`",
    ),
    ("source", "`source` is a host path"),
    ("target", "`target` is an absolute path inside the sandbox"),
    ("mode", "`mode` is `ro` or `rw`"),
];

/// The key whose value is at `line`:`column` of `text`, if it is one of ours: the key
/// before the value on its line (`key: value`), or else the key of the nearest line
/// above that is indented less (the value is an item of that key's list or mapping).
fn key_at(text: &str, line: u64, column: u64) -> Option<&'static str> {
    fn key_of(line: &str) -> Option<&str> {
        let (key, _) = line.split_once(':')?;
        let key = key.trim().trim_start_matches('-').trim();
        Some(key.trim_matches(|c| c == '"' || c == '\''))
    }
    fn ours(key: &str) -> Option<&'static str> {
        KEY_SHAPES.iter().find(|(k, _)| *k == key).map(|(k, _)| *k)
    }
    let index = usize::try_from(line.checked_sub(1)?).ok()?;
    let lines: Vec<&str> = text.lines().collect();
    let here = lines.get(index)?;
    let before: String = here
        .chars()
        .take(usize::try_from(column.saturating_sub(1)).ok()?)
        .collect();
    // `key: value`, also inside a flow mapping (`{a: 1, key: value}`).
    if let Some(key) = before.trim_end().strip_suffix(':') {
        let key = key.rsplit(['{', ',']).next().unwrap_or(key);
        return key_of(&format!("{key}:")).and_then(ours);
    }
    let indent = |l: &str| l.len() - l.trim_start().len();
    let own = indent(here);
    lines
        .get(..index)?
        .iter()
        .rev()
        .filter(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
        .find(|l| indent(l) < own)
        .and_then(|l| key_of(l))
        .and_then(ours)
}

/// A saphyr error as ours: the location, and for an unknown key the key, where it was
/// and what was probably meant; for a value of the wrong shape, what its key takes.
fn yaml_error(error: &serde_saphyr::Error, text: &str) -> ConfigError {
    let location = error.location().unwrap_or(Location::UNKNOWN);
    let inner = error.without_snippet();
    match inner {
        serde_saphyr::Error::SerdeUnknownField {
            field, expected, ..
        } => return unknown_key(field, expected, location),
        serde_saphyr::Error::DuplicateMappingKey { .. } => {
            let message = serde_saphyr::UserMessageFormatter
                .format_message(inner)
                .into_owned();
            return ConfigError::new(
                location,
                message,
                "a key appears once in its mapping (and a profile name once under \
                 `profiles:`); remove or rename one",
            );
        }
        _ => {}
    }
    let message = serde_saphyr::UserMessageFormatter
        .format_message(inner)
        .into_owned();
    match key_at(text, location.line(), location.column()) {
        Some(key) => {
            let shape = KEY_SHAPES
                .iter()
                .find(|(k, _)| *k == key)
                .map_or(SHAPE, |(_, shape)| shape);
            ConfigError::new(location, format!("`{key}`: {message}"), shape)
        }
        None => ConfigError::new(location, message, SHAPE),
    }
}

fn unknown_key(field: &str, expected: &[&str], location: Location) -> ConfigError {
    let levels: [(&[&str], &str, &str); 4] = [
        (TOP_KEYS, "at the top level", "a top-level setting"),
        (
            PROFILE_KEYS,
            "in a profile",
            "a profile setting (under `profiles: NAME:`)",
        ),
        (NETWORK_KEYS, "in `network`", "a `network` setting"),
        (
            MOUNT_KEYS,
            "in a mount",
            "a mount setting (in a `mounts:` item)",
        ),
    ];
    let here = levels
        .iter()
        .find(|(keys, _, _)| expected.first().is_some_and(|k| keys.contains(k)))
        .map_or("here", |(_, place, _)| place);
    let help = if let Some(suggestion) = closest(field, expected.iter().copied()) {
        format!("did you mean `{suggestion}`?")
    } else if let Some((_, _, what)) = levels
        .iter()
        .find(|(keys, _, _)| keys.contains(&field) && !expected.contains(&field))
    {
        format!(
            "`{field}` is {what}; move it there (keys allowed here: {})",
            expected.join(", ")
        )
    } else {
        format!(
            "the keys allowed here are {}; remove `{field}`",
            expected.join(", ")
        )
    };
    ConfigError::new(location, format!("unknown key `{field}` {here}"), help)
}

fn with_suggestion(word: &str, candidates: &[&str], otherwise: &str) -> String {
    match closest(word, candidates.iter().copied()) {
        Some(suggestion) => format!("did you mean `{suggestion}`? {otherwise}"),
        None => otherwise.to_string(),
    }
}

/// A string setting: not empty, no control characters.
fn plain_text(value: &Spanned<String>, what: &str) -> Result<String, ConfigError> {
    let text = value.value.trim();
    if text.is_empty() {
        return Err(ConfigError::new(
            value.referenced,
            format!("{what} is empty"),
            "give a value, or remove the key",
        ));
    }
    if let Some(c) = text.chars().find(|c| c.is_control()) {
        return Err(ConfigError::new(
            value.referenced,
            format!("{what} contains the control character {c:?}"),
            "remove it",
        ));
    }
    Ok(text.to_string())
}

/// A profile name becomes a policy name and a file name (`NAME.pfp`).
fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

fn profile_spec(
    key: &Spanned<String>,
    raw: Option<RawProfile>,
) -> Result<ProfileSpec, ConfigError> {
    let name = key.value.clone();
    if !valid_name(&name) {
        return Err(ConfigError::new(
            key.referenced,
            format!("profile name `{name}` cannot be a policy's file name"),
            "use letters, digits, `_`, `-` and `.` (not first), such as `my-profile`",
        ));
    }
    let mut spec = ProfileSpec {
        name,
        line: key.referenced.line(),
        driver: Driver::Unspecified,
        cpu_millis: None,
        memory: None,
        network: false,
        mounts: Vec::new(),
    };
    // `my-profile:` with nothing under it is a profile that sets nothing.
    let Some(raw) = raw else {
        return Ok(spec);
    };
    if let Some(given) = &raw.name {
        if given.value.trim() != spec.name {
            return Err(ConfigError::new(
                given.referenced,
                format!(
                    "profile `{}` has `name: {}`; the name must be the profile's key",
                    spec.name,
                    given.value.trim()
                ),
                format!(
                    "write `name: \"{}\"`, or remove `name:` (the key names the profile)",
                    spec.name
                ),
            ));
        }
    }
    if let Some(driver) = &raw.driver {
        let value = driver.value.trim();
        spec.driver = Driver::from_name(value).ok_or_else(|| {
            ConfigError::new(
                driver.referenced,
                format!("unknown driver `{value}`"),
                with_suggestion(
                    value,
                    &Driver::NAMES,
                    "phantom runs every profile itself; write `bwrap`, `phantom`, `native` \
                     or `auto`, or remove `driver:`",
                ),
            )
        })?;
    }
    if let Some(cpu) = &raw.cpu {
        spec.cpu_millis = Some(cpu_millis(cpu)?);
    }
    if let Some(memory) = &raw.memory {
        spec.memory = Some(memory_limit(memory)?);
    }
    spec.network = raw.network.and_then(|n| n.enabled).unwrap_or(false);
    let mut targets: HashMap<String, u64> = HashMap::new();
    for mount in raw.mounts.into_iter().flatten() {
        let mount = mount_spec(&mount)?;
        if let Some(first) = targets.get(&mount.target) {
            return Err(ConfigError {
                line: mount.line,
                column: 0,
                message: format!(
                    "two mounts on `{}` in profile `{}` (lines {first} and {})",
                    mount.target, spec.name, mount.line
                ),
                help: Some("keep one of them".into()),
            });
        }
        targets.insert(mount.target.clone(), mount.line);
        spec.mounts.push(mount);
    }
    Ok(spec)
}

fn cpu_millis(cpu: &Spanned<String>) -> Result<u64, ConfigError> {
    let text = cpu.value.trim();
    match parse_millis(text) {
        Ok(0) => Err(ConfigError::new(
            cpu.referenced,
            "`cpu: 0`: the workload could never run",
            "give a number of CPUs such as `1` or `0.5`, or remove `cpu:` for no limit",
        )),
        Ok(millis) => Ok(millis),
        Err(e) => Err(ConfigError::new(
            cpu.referenced,
            format!("`cpu: {text}` is not a number of CPUs ({})", e.message),
            "give a number of CPUs such as `1`, `2` or `0.5` (at most three decimals)",
        )),
    }
}

const MEMORY_UNITS_HELP: &str = "write a number with k, m, g or t (also Ki, Mi, Gi, Ti or \
    KiB, MiB, GiB, TiB; all powers of 1024), such as `512m`, or bytes without a unit, or \
    `unlimited`";

/// The multiplier of a memory unit; all powers of 1024, as in `.pfp` and as Docker reads
/// `512m`.
fn memory_unit(unit: &str) -> Option<u64> {
    Some(match unit {
        "" | "b" | "B" => 1,
        "k" | "K" | "Ki" | "KiB" => 1 << 10,
        "m" | "M" | "Mi" | "MiB" => 1 << 20,
        "g" | "G" | "Gi" | "GiB" => 1 << 30,
        "t" | "T" | "Ti" | "TiB" => 1 << 40,
        _ => return None,
    })
}

fn memory_limit(memory: &Spanned<String>) -> Result<Memory, ConfigError> {
    let text = memory.value.trim();
    if text == "unlimited" {
        return Ok(Memory::Unlimited);
    }
    let (number, unit) = split_quantity(text);
    let number = number.trim_end();
    let fail =
        |message: String, help: &str| Err(ConfigError::new(memory.referenced, message, help));
    if number.is_empty() {
        return fail(format!("`memory: {text}` is not a size"), MEMORY_UNITS_HELP);
    }
    let Some(multiplier) = memory_unit(unit) else {
        let lower = unit.to_ascii_lowercase();
        if matches!(lower.as_str(), "kb" | "mb" | "gb" | "tb") {
            let upper = lower.chars().next().unwrap_or('m').to_ascii_uppercase();
            return fail(
                format!("`memory: {text}`: `{unit}` is ambiguous (1000- or 1024-based)"),
                &format!(
                    "write `{number}{upper}iB` or `{number}{}` (1024-based, which is what \
                     Docker makes of `{text}`)",
                    upper.to_ascii_lowercase()
                ),
            );
        }
        return fail(
            format!("`memory: {text}`: `{unit}` is not a size unit"),
            MEMORY_UNITS_HELP,
        );
    };
    let bytes = match scale(number, multiplier) {
        Ok(bytes) => bytes,
        Err(e) => {
            return fail(
                format!("`memory: {text}` is not a size ({})", e.message),
                e.help.as_deref().unwrap_or(MEMORY_UNITS_HELP),
            )
        }
    };
    if bytes < 1 << 20 {
        return fail(
            format!("`memory: {text}` is below 1 MiB: no program can start"),
            "give at least `1m` (a few hundred MiB for most programs), or `unlimited` for no limit",
        );
    }
    Ok(Memory::Bytes(bytes))
}

const VARIABLES: [&str; 3] = ["workspace", "cwd", "home"];

/// The `${…}` names in a path, or an error for an unterminated one.
fn variables(path: &str) -> Result<Vec<&str>, ()> {
    let mut names = Vec::new();
    let mut rest = path;
    while let Some(start) = rest.find("${") {
        let after = rest.get(start + 2..).unwrap_or_default();
        let end = after.find('}').ok_or(())?;
        names.push(after.get(..end).unwrap_or_default());
        rest = after.get(end + 1..).unwrap_or_default();
    }
    Ok(names)
}

/// Checks a path's characters and variables.
fn check_path_text(value: &Spanned<String>, what: &str) -> Result<String, ConfigError> {
    let text = plain_text(value, what)?;
    let names = variables(&text).map_err(|()| {
        ConfigError::new(
            value.referenced,
            format!("{what} `{text}` has an unterminated `${{`"),
            "variables are `${workspace}`, `${cwd}` and `${home}`",
        )
    })?;
    for name in names {
        if !VARIABLES.contains(&name) {
            return Err(ConfigError::new(
                value.referenced,
                format!("{what} `{text}` uses the unknown variable `${{{name}}}`"),
                match closest(name, VARIABLES) {
                    Some(v) => format!("did you mean `${{{v}}}`?"),
                    None => "variables are `${workspace}`, `${cwd}` and `${home}`".into(),
                },
            ));
        }
    }
    Ok(text)
}

fn mount_spec(mount: &Spanned<RawMount>) -> Result<MountSpec, ConfigError> {
    let at = mount.referenced;
    let raw = &mount.value;
    let source = raw.source.as_ref().ok_or_else(|| {
        ConfigError::new(
            at,
            "a mount without `source`",
            "add `source:` with the host path to mount (relative paths start at the \
             configuration file's directory)",
        )
    })?;
    let target = raw.target.as_ref().ok_or_else(|| {
        ConfigError::new(
            at,
            "a mount without `target`",
            "add `target:` with the absolute path inside the sandbox, such as `/data`",
        )
    })?;
    let source_text = check_path_text(source, "the source")?;
    if source_text.starts_with('~') && source_text != "~" && !source_text.starts_with("~/") {
        return Err(ConfigError::new(
            source.referenced,
            format!("the source `{source_text}` names another user's home"),
            "write the absolute path",
        ));
    }
    if source_text.starts_with("${") && source_text.split('/').any(|c| c == "..") {
        return Err(ConfigError::new(
            source.referenced,
            format!("the source `{source_text}` goes up with `..` from a variable"),
            "write the absolute path",
        ));
    }
    let target_text = check_path_text(target, "the target")?;
    if target_text.contains("${") {
        return Err(ConfigError::new(
            target.referenced,
            format!("the target `{target_text}` uses a variable"),
            "a target is a path inside the sandbox, such as `/workspace`; variables are \
             for host paths (`source`)",
        ));
    }
    if !target_text.starts_with('/') {
        return Err(ConfigError::new(
            target.referenced,
            format!("the target `{target_text}` is not an absolute path"),
            format!(
                "write `/{}`",
                target_text.trim_start_matches("./").trim_start_matches('/')
            ),
        ));
    }
    if target_text.split('/').any(|c| c == "..") {
        return Err(ConfigError::new(
            target.referenced,
            format!("the target `{target_text}` contains `..`"),
            "write the path without `..`",
        ));
    }
    let normalized = normalize_absolute(&target_text);
    if normalized == "/" {
        return Err(ConfigError::new(
            target.referenced,
            "a mount cannot replace the sandbox's root `/`",
            "mount at a directory such as `/data`",
        ));
    }
    let writable = match raw.mode.as_ref() {
        None => false,
        Some(mode) => match mode.value.trim() {
            "ro" => false,
            "rw" => true,
            other => {
                return Err(ConfigError::new(
                    mode.referenced,
                    format!("unknown mount mode `{other}`"),
                    with_suggestion(
                        other,
                        &["ro", "rw"],
                        "write `ro` (read-only, the default) or `rw` (read-write)",
                    ),
                ))
            }
        },
    };
    Ok(MountSpec {
        source: source_text,
        target: normalized,
        writable,
        line: at.line(),
    })
}

/// `/a//b/./c/` as `/a/b/c`; `..` goes up, and stops at the root.
fn normalize_absolute(path: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for component in path.split('/') {
        match component {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            c => parts.push(c),
        }
    }
    format!("/{}", parts.join("/"))
}

/// A path that starts with a variable, normalized after it (`..` was refused).
fn normalize_variable_path(path: &str) -> String {
    let mut parts = path.split('/');
    let head = parts.next().unwrap_or_default();
    let rest: Vec<&str> = parts.filter(|c| !c.is_empty() && *c != ".").collect();
    if rest.is_empty() {
        head.to_string()
    } else {
        format!("{head}/{}", rest.join("/"))
    }
}

// ---------------------------------------------------------------------------------
// Writing `.pfp`.

/// Where a mount's source ends up on the host.
enum Source {
    /// A path or a variable path, as `.pfp` takes it.
    Path(String),
    /// `./workspace` (or `${workspace}`) at `/workspace`: the per-run workspace. The
    /// string is what the configuration's relative path meant, when it was one.
    Workspace(Option<String>),
}

fn resolve_source(mount: &MountSpec, config_dir: &Path) -> Result<Source, ConfigError> {
    let source = mount.source.as_str();
    if source.starts_with("${") {
        let path = normalize_variable_path(source);
        if path == "${workspace}" && mount.target == "/workspace" {
            return Ok(Source::Workspace(None));
        }
        return Ok(Source::Path(path));
    }
    if source == "~" || source.starts_with("~/") {
        let rest = source.trim_start_matches('~');
        return Ok(Source::Path(normalize_variable_path(&format!(
            "${{home}}{rest}"
        ))));
    }
    if source.starts_with('/') {
        return Ok(Source::Path(normalize_absolute(source)));
    }
    // Relative: to the configuration file's directory.
    let Some(dir) = config_dir.to_str() else {
        return Err(ConfigError::unplaced(format!(
            "the configuration's directory `{}` is not UTF-8; the mount on line {} needs it",
            config_dir.display(),
            mount.line
        )));
    };
    if !config_dir.is_absolute() {
        return Err(ConfigError::unplaced(format!(
            "the configuration's directory `{dir}` is not absolute; the relative source \
             `{source}` (line {}) needs an absolute one",
            mount.line
        )));
    }
    let dir_text = dir.trim_end_matches('/');
    let joined = normalize_absolute(&format!("{dir_text}/{source}"));
    let relative = normalize_absolute(&format!("/{source}"));
    if relative == "/workspace" && mount.target == "/workspace" && !source.contains("..") {
        return Ok(Source::Workspace(Some(joined)));
    }
    Ok(Source::Path(joined))
}

/// A path as `.pfp` text: bare when the lexer reads it as a path, quoted otherwise.
fn path_text(path: &str) -> String {
    let mut bare = path.starts_with('/') || path.starts_with("${");
    let mut rest = path;
    while bare && !rest.is_empty() {
        if let Some(after) = rest.strip_prefix("${") {
            match after.find('}') {
                Some(end) => rest = after.get(end + 1..).unwrap_or_default(),
                None => bare = false,
            }
        } else {
            let mut chars = rest.chars();
            let c = chars.next().unwrap_or(' ');
            bare = c.is_ascii_alphanumeric() || "_.-+@%:~=/".contains(c);
            rest = chars.as_str();
        }
    }
    if bare {
        path.to_string()
    } else {
        quote(path)
    }
}

fn quote(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Writes `text` as comment lines of at most 88 characters.
fn comment(out: &mut String, text: &str) {
    let mut line = String::from("#");
    for word in text.split_whitespace() {
        if line.len() > 1 && line.len() + 1 + word.len() > 88 {
            out.push_str(&line);
            out.push('\n');
            line = String::from("#");
        }
        line.push(' ');
        line.push_str(word);
    }
    out.push_str(&line);
    out.push('\n');
}

/// Text from the configuration made safe for a comment.
fn clean(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

fn millis_text(millis: u64) -> String {
    let whole = millis / 1000;
    let fraction = millis % 1000;
    if fraction == 0 {
        whole.to_string()
    } else {
        let digits = format!("{fraction:03}");
        format!("{whole}.{}", digits.trim_end_matches('0'))
    }
}

fn size_text(bytes: u64) -> String {
    for (unit, size) in [
        ("TiB", 1u64 << 40),
        ("GiB", 1 << 30),
        ("MiB", 1 << 20),
        ("KiB", 1 << 10),
    ] {
        if bytes.is_multiple_of(size) {
            return format!("{}{unit}", bytes / size);
        }
    }
    bytes.to_string()
}

/// Writes one profile as a canonical `.pfp` policy.
///
/// `config_path` is the configuration file's path: its file name goes into the header
/// comment and the description, and relative mount sources resolve against its
/// directory, which must then be absolute. The policy extends the stdlib profile
/// `base`, so what the profile does not say (the filesystem besides its mounts, system
/// calls, process settings, other limits) is `base`'s.
///
/// Fails only when a relative source meets a directory that is not absolute (or not
/// UTF-8), or on an internal error (the text does not format).
pub fn to_pfp(profile: &ProfileSpec, config_path: &Path) -> Result<String, ConfigError> {
    let file = config_path.file_name().map_or_else(
        || "the configuration".to_string(),
        |n| clean(&n.to_string_lossy()),
    );
    let config_dir = config_path.parent().unwrap_or(Path::new(""));

    let mut sources = Vec::with_capacity(profile.mounts.len());
    for mount in &profile.mounts {
        sources.push(resolve_source(mount, config_dir)?);
    }

    let mut out = String::new();
    comment(
        &mut out,
        &format!("Converted from {file}, profile `{}`,", profile.name),
    );
    out.push_str("# by `phantomc import config-yaml`.\n#\n");
    comment(
        &mut out,
        "What the profile does not say comes from the stdlib profile \"base\": the host's \
         /usr read-only, a fresh /proc and /dev, a private /tmp, the workspace read-write \
         at /workspace, ordinary system calls only, and base's limits where the profile \
         sets none (1 GiB of memory, 256 processes, 5 minutes of wall time).",
    );
    if let Some(driver) = profile.driver.name() {
        let how = if profile.driver == Driver::Bwrap {
            "phantom runs the profile natively (its own namespaces, mount plan, seccomp and \
             Landlock); Bubblewrap is not used"
        } else {
            "phantom runs the profile natively (its own namespaces, mount plan, seccomp and \
             Landlock)"
        };
        out.push_str("#\n");
        comment(&mut out, &format!("driver \"{driver}\": {how}."));
    }
    for source in &sources {
        if let Source::Workspace(meant) = source {
            let meant = match meant {
                Some(path) => format!(" (the configuration's ./workspace is {})", clean(path)),
                None => String::new(),
            };
            out.push_str("#\n");
            comment(
                &mut out,
                &format!(
                    "The mount at /workspace is the per-run workspace, ${{workspace}}: give \
                     the directory to `phantom` with `--workspace DIR`{meant}."
                ),
            );
        }
    }
    out.push('\n');
    out.push_str(&format!("policy {}\n", quote(&profile.name)));
    out.push_str(&format!(
        "description {}\n",
        quote(&format!("Converted from {file}, profile {}", profile.name))
    ));
    out.push_str("extends \"base\"\n");

    if !profile.mounts.is_empty() {
        out.push_str("\nfilesystem {\n");
        for (mount, source) in profile.mounts.iter().zip(&sources) {
            let kind = if mount.writable { "rw" } else { "ro" };
            let from = match source {
                Source::Path(path) => path_text(path),
                Source::Workspace(_) => "${workspace}".to_string(),
            };
            out.push_str(&format!(
                "    {kind} {} from {from}\n",
                path_text(&mount.target)
            ));
        }
        out.push_str("}\n");
    }

    if profile.cpu_millis.is_some() || profile.memory.is_some() {
        out.push_str("\nresources {\n");
        if let Some(millis) = profile.cpu_millis {
            out.push_str(&format!("    cpu {}\n", millis_text(millis)));
        }
        match profile.memory {
            Some(Memory::Bytes(bytes)) => {
                out.push_str(&format!("    memory {}\n", size_text(bytes)));
            }
            Some(Memory::Unlimited) => out.push_str("    memory unlimited\n"),
            None => {}
        }
        out.push_str("}\n");
    }

    out.push_str(if profile.network {
        "\nnetwork host\n"
    } else {
        "\nnetwork none\n"
    });

    pfp_syntax::format::format(&out).map_err(|errors| {
        ConfigError::unplaced(format!(
            "internal error: the converted policy does not parse ({}); please report it \
             with the configuration",
            errors
                .first()
                .map(pfp_syntax::SyntaxError::message)
                .unwrap_or_default()
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::{FsKind, Limit, Network, Policy};

    /// The profile of the product's first README, word for word.
    const README: &str = r#"profiles:
  my-custom-profile:
    name: "my-custom-profile"
    driver: "bwrap"  # The execution driver to use (Bubblewrap on Linux)
    cpu: "1"         # CPU core limit
    memory: "512m"   # Memory limit
    network:
      enabled: false # Disable network access for this profile
    mounts:
      - source: "./workspace" # Mount the local './workspace' directory...
        target: "/workspace"  # ...to '/workspace' inside the sandbox
        mode: "rw"            # with read-write permissions
"#;

    const CONFIG: &str = "/home/user/project/phantom.yaml";

    fn parsed(yaml: &str) -> Config {
        parse(yaml).unwrap_or_else(|e| panic!("{e}\n{yaml}"))
    }

    fn only(yaml: &str) -> ProfileSpec {
        let mut config = parsed(yaml);
        assert_eq!(config.profiles.len(), 1, "{yaml}");
        config.profiles.remove(0)
    }

    fn convert(profile: &ProfileSpec) -> String {
        to_pfp(profile, Path::new(CONFIG)).unwrap_or_else(|e| panic!("{e}"))
    }

    /// Checks converted text: no error, no warning, canonical style.
    fn checked(text: &str) -> Policy {
        super::super::checked_clean(text, "/home/user/project")
    }

    fn yaml_profile(body: &str) -> String {
        let mut yaml = String::from("profiles:\n  p:\n");
        for line in body.lines() {
            yaml.push_str("    ");
            yaml.push_str(line);
            yaml.push('\n');
        }
        yaml
    }

    fn bind<'a>(policy: &'a Policy, target: &str) -> (&'a str, bool) {
        let entry = policy
            .filesystem
            .iter()
            .find(|e| e.target.0 == target)
            .unwrap_or_else(|| panic!("no entry for {target}"));
        match &entry.kind {
            FsKind::Bind {
                source, writable, ..
            } => (source.0.as_str(), *writable),
            other => panic!("{target} is {other:?}"),
        }
    }

    fn error(yaml: &str) -> ConfigError {
        match parse(yaml) {
            Ok(config) => panic!("accepted:\n{yaml}\n{config:?}"),
            Err(e) => e,
        }
    }

    /// The error's line, and its message and help in one string.
    fn error_at(yaml: &str) -> (u64, String) {
        let e = error(yaml);
        (
            e.line,
            format!("{} | {}", e.message, e.help.unwrap_or_default()),
        )
    }

    #[test]
    fn readme_example_converts_and_checks() {
        let profile = only(README);
        assert_eq!(
            profile,
            ProfileSpec {
                name: "my-custom-profile".into(),
                line: 2,
                driver: Driver::Bwrap,
                cpu_millis: Some(1000),
                memory: Some(Memory::Bytes(512 << 20)),
                network: false,
                mounts: vec![MountSpec {
                    source: "./workspace".into(),
                    target: "/workspace".into(),
                    writable: true,
                    line: 10,
                }],
            }
        );
        let text = convert(&profile);
        insta::assert_snapshot!("readme_example", text);
        let policy = checked(&text);
        assert_eq!(policy.name, "my-custom-profile");
        assert_eq!(policy.resources.memory, Some(Limit::Value(512 << 20)));
        assert_eq!(policy.resources.cpu_millis, Some(Limit::Value(1000)));
        assert_eq!(policy.network, Network::None);
        assert_eq!(bind(&policy, "/workspace"), ("${workspace}", true));
        // Everything else is base's.
        assert_eq!(bind(&policy, "/usr"), ("/usr", false));
        assert!(text.contains("Bubblewrap is not used"), "{text}");
        assert!(
            text.contains("/home/user/project/workspace"),
            "the comment says what ./workspace meant\n{text}"
        );
    }

    #[test]
    fn no_mounts_no_limits_network_enabled() {
        let profile = only(&yaml_profile("network:\n  enabled: true"));
        let text = convert(&profile);
        assert!(!text.contains("filesystem {"), "{text}");
        assert!(!text.contains("resources {"), "{text}");
        assert!(!text.contains("driver"), "{text}");
        let policy = checked(&text);
        assert_eq!(policy.network, Network::Host);
        // base's limits and workspace stay.
        assert_eq!(policy.resources.memory, Some(Limit::Value(1 << 30)));
        assert_eq!(bind(&policy, "/workspace"), ("${workspace}", true));
    }

    #[test]
    fn empty_profile_and_network_without_enabled() {
        for yaml in [
            "profiles:\n  p:\n",
            "profiles:\n  p: {}\n",
            "profiles:\n  p:\n    network: {}\n",
        ] {
            let profile = only(yaml);
            assert!(!profile.network);
            let policy = checked(&convert(&profile));
            assert_eq!(policy.network, Network::None, "{yaml}");
        }
    }

    #[test]
    fn memory_in_every_unit_form() {
        let cases: &[(&str, u64, &str)] = &[
            ("512m", 512 << 20, "512MiB"),
            ("512M", 512 << 20, "512MiB"),
            ("512Mi", 512 << 20, "512MiB"),
            ("512MiB", 512 << 20, "512MiB"),
            ("512 MiB", 512 << 20, "512MiB"),
            ("2g", 2 << 30, "2GiB"),
            ("2G", 2 << 30, "2GiB"),
            ("2Gi", 2 << 30, "2GiB"),
            ("2GiB", 2 << 30, "2GiB"),
            ("1.5g", 3 << 29, "1536MiB"),
            ("1048576k", 1 << 30, "1GiB"),
            ("1536K", 1536 << 10, "1536KiB"),
            ("2000Ki", 2000 << 10, "2000KiB"),
            ("4096KiB", 4 << 20, "4MiB"),
            ("1t", 1 << 40, "1TiB"),
            ("1Ti", 1 << 40, "1TiB"),
            ("1TiB", 1 << 40, "1TiB"),
            ("536870912", 512 << 20, "512MiB"),
            ("536870912b", 512 << 20, "512MiB"),
            ("1048577", (1 << 20) + 1, "1048577"),
            ("1048577B", (1 << 20) + 1, "1048577"),
        ];
        for &(written, bytes, pfp) in cases {
            for quoted in [format!("\"{written}\""), written.to_string()] {
                let profile = only(&yaml_profile(&format!("memory: {quoted}")));
                assert_eq!(profile.memory, Some(Memory::Bytes(bytes)), "{written}");
                let text = convert(&profile);
                assert!(
                    text.contains(&format!("    memory {pfp}\n")),
                    "{written}\n{text}"
                );
                let policy = checked(&text);
                assert_eq!(
                    policy.resources.memory,
                    Some(Limit::Value(bytes)),
                    "{written}"
                );
            }
        }
        let profile = only(&yaml_profile("memory: unlimited"));
        assert_eq!(profile.memory, Some(Memory::Unlimited));
        let policy = checked(&convert(&profile));
        assert_eq!(policy.resources.memory, Some(Limit::Unlimited));
    }

    #[test]
    fn cpu_counts() {
        for (written, millis, pfp) in [
            ("1", 1000, "cpu 1"),
            ("\"2\"", 2000, "cpu 2"),
            ("0.5", 500, "cpu 0.5"),
            ("\"1.25\"", 1250, "cpu 1.25"),
            ("0.01", 10, "cpu 0.01"),
            ("16", 16_000, "cpu 16"),
        ] {
            let profile = only(&yaml_profile(&format!("cpu: {written}")));
            assert_eq!(profile.cpu_millis, Some(millis), "{written}");
            let text = convert(&profile);
            assert!(text.contains(&format!("    {pfp}\n")), "{written}\n{text}");
            let policy = checked(&text);
            assert_eq!(policy.resources.cpu_millis, Some(Limit::Value(millis)));
        }
    }

    #[test]
    fn mount_sources_resolve() {
        let yaml = yaml_profile(
            "mounts:
  - {source: ./data, target: /data}
  - {source: ../shared/, target: /shared/, mode: ro}
  - {source: /srv/tools, target: /opt/tools, mode: rw}
  - {source: \"~/.cache/pip\", target: /cache}
  - {source: \"~\", target: /home/me}
  - {source: \"${home}/.config//x/.\", target: /config}
  - {source: \"${cwd}\", target: /cwd, mode: rw}
  - {source: \"/srv/with space/it's\", target: \"/mnt/odd name\"}
  - {source: /srv/a/../b/./c, target: /mnt/b/c}
  - {source: out, target: /out, mode: rw}",
        );
        let profile = only(&yaml);
        assert!(!profile.mounts.iter().any(|m| m.line == 0));
        let text = convert(&profile);
        let policy = checked(&text);
        for (target, source, writable) in [
            ("/data", "/home/user/project/data", false),
            ("/shared", "/home/user/shared", false),
            ("/opt/tools", "/srv/tools", true),
            ("/cache", "${home}/.cache/pip", false),
            ("/home/me", "${home}", false),
            ("/config", "${home}/.config/x", false),
            ("/cwd", "${cwd}", true),
            ("/mnt/odd name", "/srv/with space/it's", false),
            ("/mnt/b/c", "/srv/b/c", false),
            ("/out", "/home/user/project/out", true),
        ] {
            assert_eq!(
                bind(&policy, target),
                (source, writable),
                "{target}\n{text}"
            );
        }
        assert!(
            text.contains("    ro \"/mnt/odd name\" from \"/srv/with space/it's\"\n"),
            "{text}"
        );
        // No workspace mount: no workspace comment.
        assert!(!text.contains("per-run workspace"), "{text}");
    }

    #[test]
    fn workspace_mounts() {
        for (source, mode) in [
            ("./workspace", "rw"),
            ("workspace", "ro"),
            ("./workspace/", "rw"),
            ("${workspace}", "ro"),
        ] {
            let profile = only(&yaml_profile(&format!(
                "mounts:\n  - source: \"{source}\"\n    target: /workspace\n    mode: {mode}"
            )));
            let text = convert(&profile);
            let policy = checked(&text);
            assert_eq!(
                bind(&policy, "/workspace"),
                ("${workspace}", mode == "rw"),
                "{source}\n{text}"
            );
            assert!(text.contains("--workspace DIR"), "{text}");
        }
        // ./workspace elsewhere is just a directory beside the configuration.
        let profile = only(&yaml_profile(
            "mounts:\n  - {source: ./workspace, target: /src}",
        ));
        let policy = checked(&convert(&profile));
        assert_eq!(
            bind(&policy, "/src"),
            ("/home/user/project/workspace", false)
        );
        // ${workspace} below /workspace keeps its path.
        let profile = only(&yaml_profile(
            "mounts:\n  - {source: \"${workspace}/out\", target: /out, mode: rw}",
        ));
        let policy = checked(&convert(&profile));
        assert_eq!(bind(&policy, "/out"), ("${workspace}/out", true));
    }

    #[test]
    fn drivers_are_accepted_and_noted() {
        for driver in Driver::NAMES {
            let profile = only(&yaml_profile(&format!("driver: {driver}")));
            assert_eq!(profile.driver.name(), Some(driver));
            let text = convert(&profile);
            assert!(
                text.contains(&format!(
                    "# driver \"{driver}\": phantom runs the profile natively"
                )),
                "{text}"
            );
            checked(&text);
        }
    }

    #[test]
    fn runtime_settings_are_read_and_profiles_keep_their_order() {
        let config = parsed(
            "profile_dirs: [/etc/phantom/profiles, ~/.config/phantom]
default_profile: zeta
default_mode: hardened
cache_dir: /var/cache/phantom
profiles:
  zeta: {memory: 1g}
  alpha:
    cpu: 2
  mid:
",
        );
        assert_eq!(
            config.profile_dirs,
            ["/etc/phantom/profiles", "~/.config/phantom"]
        );
        assert_eq!(config.default_profile.as_deref(), Some("zeta"));
        assert_eq!(config.default_mode, Some(Mode::Hardened));
        assert_eq!(config.cache_dir.as_deref(), Some("/var/cache/phantom"));
        assert_eq!(
            config.profile_names().collect::<Vec<_>>(),
            ["zeta", "alpha", "mid"]
        );
        assert_eq!(
            config.profiles.iter().map(|p| p.line).collect::<Vec<_>>(),
            [6, 7, 9]
        );
        assert_eq!(
            config.profile("alpha").map(|p| p.cpu_millis),
            Some(Some(2000))
        );
        assert!(config.profile("beta").is_none());
        for profile in &config.profiles {
            checked(&convert(profile));
        }
    }

    #[test]
    fn settings_alone_and_empty_files_have_no_profiles() {
        for yaml in [
            "",
            "# nothing\n",
            "profiles:\n",
            "profiles: {}\n",
            "default_mode: direct\n",
        ] {
            assert!(parsed(yaml).profiles.is_empty(), "{yaml}");
        }
    }

    #[test]
    fn output_is_canonical_and_stable() {
        let profile = only(README);
        let text = convert(&profile);
        assert_eq!(convert(&profile), text);
        assert!(text.starts_with(
            "# Converted from phantom.yaml, profile `my-custom-profile`,\n# by `phantomc import config-yaml`.\n"
        ));
        assert!(text.lines().all(|l| l.chars().count() <= 100), "{text}");
    }

    // --- Refused input ----------------------------------------------------------------

    #[test]
    fn unknown_key_is_refused_with_its_line() {
        let (line, message) = error_at(&README.replace("memory:", "memroy:"));
        assert_eq!(line, 6);
        assert!(
            message.contains("unknown key `memroy` in a profile"),
            "{message}"
        );
        assert!(message.contains("did you mean `memory`?"), "{message}");

        let (line, message) = error_at("profiles: {}\ndefault_profil: x\n");
        assert_eq!(line, 2);
        assert!(
            message.contains("unknown key `default_profil` at the top level"),
            "{message}"
        );
        assert!(
            message.contains("did you mean `default_profile`?"),
            "{message}"
        );

        let (line, message) = error_at(&README.replace("enabled:", "enable:"));
        assert_eq!(line, 8);
        assert!(
            message.contains("unknown key `enable` in `network`"),
            "{message}"
        );
        assert!(message.contains("did you mean `enabled`?"), "{message}");

        let (line, message) = error_at(&README.replace("target:", "tagret:"));
        assert_eq!(line, 11);
        assert!(
            message.contains("unknown key `tagret` in a mount"),
            "{message}"
        );
        assert!(message.contains("did you mean `target`?"), "{message}");

        let (line, message) = error_at(&README.replace("    cpu:", "    gpus:"));
        assert_eq!(line, 5);
        assert!(message.contains("unknown key `gpus`"), "{message}");
        assert!(
            message.contains("the keys allowed here are name, driver"),
            "{message}"
        );

        let e = error(&README.replace("memory:", "memroy:"));
        assert_eq!(e.column, 5);
        assert_eq!(
            e.render("phantom.yaml"),
            "phantom.yaml:6:5: unknown key `memroy` in a profile\n  help: did you mean `memory`?"
        );
    }

    #[test]
    fn misplaced_key_is_refused_with_where_it_belongs() {
        let (line, message) = error_at("memory: 512m\nprofiles: {}\n");
        assert_eq!(line, 1);
        assert!(
            message.contains("`memory` is a profile setting (under `profiles: NAME:`)"),
            "{message}"
        );
        let (line, message) = error_at(&yaml_profile("enabled: true"));
        assert_eq!(line, 3);
        assert!(
            message.contains("`enabled` is a `network` setting"),
            "{message}"
        );
        let (_, message) = error_at(&yaml_profile("default_mode: direct"));
        assert!(
            message.contains("`default_mode` is a top-level setting"),
            "{message}"
        );
    }

    #[test]
    fn bad_memory_unit_is_refused() {
        for (memory, needle) in [
            ("lots", "`memory: lots` is not a size"),
            ("512MB", "`MB` is ambiguous"),
            ("2gb", "write `2GiB` or `2g`"),
            ("512x", "`x` is not a size unit"),
            ("512mib", "`mib` is not a size unit"),
            ("1e9", "`e9` is not a size unit"),
            ("0.5b", "not a whole number"),
            ("-1g", "is negative"),
            ("512k", "below 1 MiB"),
            ("0", "below 1 MiB"),
            ("99999999999t", "too large"),
            ("\"\"", "not a size"),
        ] {
            let (line, message) = error_at(&yaml_profile(&format!("memory: {memory}")));
            assert_eq!(line, 3, "{memory}");
            assert!(message.contains(needle), "{memory}: {message}");
        }
    }

    #[test]
    fn bad_cpu_is_refused() {
        for (cpu, needle) in [
            ("two", "`cpu: two` is not a number of CPUs"),
            ("0", "could never run"),
            ("0.0", "could never run"),
            ("-1", "is negative"),
            ("1.2345", "more than three decimals"),
            ("500m", "not a number of CPUs"),
        ] {
            let (line, message) = error_at(&yaml_profile(&format!("cpu: {cpu}")));
            assert_eq!(line, 3, "{cpu}");
            assert!(message.contains(needle), "{cpu}: {message}");
        }
    }

    #[test]
    fn unknown_driver_is_refused() {
        let (line, message) = error_at(&README.replace("\"bwrap\"", "\"bwarp\""));
        assert_eq!(line, 4);
        assert!(message.contains("unknown driver `bwarp`"), "{message}");
        assert!(message.contains("did you mean `bwrap`?"), "{message}");
        let (_, message) = error_at(&yaml_profile("driver: docker"));
        assert!(message.contains("unknown driver `docker`"), "{message}");
        assert!(
            message.contains("phantom runs every profile itself"),
            "{message}"
        );
    }

    #[test]
    fn name_other_than_the_key_is_refused() {
        let (line, message) =
            error_at(&README.replace("name: \"my-custom-profile\"", "name: \"my-other-profile\""));
        assert_eq!(line, 3);
        assert!(
            message.contains("the name must be the profile's key"),
            "{message}"
        );
    }

    #[test]
    fn unusable_profile_name_is_refused() {
        for name in [
            "\"my profile\"",
            "\"../escape\"",
            "\".hidden\"",
            "\"a/b\"",
            "\"\"",
        ] {
            let (line, message) = error_at(&format!("profiles:\n  {name}:\n    cpu: 1\n"));
            assert_eq!(line, 2, "{name}");
            assert!(
                message.contains("cannot be a policy's file name"),
                "{name}: {message}"
            );
        }
    }

    #[test]
    fn duplicate_profile_or_key_is_refused() {
        let (line, message) = error_at("profiles:\n  a: {}\n  b: {}\n  a: {}\n");
        assert_eq!(line, 4);
        assert!(message.contains("duplicate mapping key `a`"), "{message}");
        assert!(message.contains("remove or rename one"), "{message}");
        let (line, message) = error_at(&yaml_profile("cpu: 1\ncpu: 2"));
        assert_eq!(line, 4);
        assert!(message.contains("duplicate mapping key `cpu`"), "{message}");
    }

    #[test]
    fn bad_default_mode_is_refused() {
        let (line, message) = error_at("default_mode: hardend\n");
        assert_eq!(line, 1);
        assert!(
            message.contains("`default_mode: hardend` is not a mode"),
            "{message}"
        );
        assert!(message.contains("did you mean `hardened`?"), "{message}");
    }

    #[test]
    fn bad_mounts_are_refused() {
        for (mount, line, needle) in [
            ("{target: /data}", 4, "a mount without `source`"),
            ("{source: /data}", 4, "a mount without `target`"),
            (
                "{source: /data, target: data}",
                4,
                "the target `data` is not an absolute path",
            ),
            ("{source: /data, target: /a/../b}", 4, "contains `..`"),
            (
                "{source: /data, target: /}",
                4,
                "cannot replace the sandbox's root",
            ),
            (
                "{source: /data, target: \"${home}/x\"}",
                4,
                "uses a variable",
            ),
            (
                "{source: \"${workspce}/x\", target: /x}",
                4,
                "did you mean `${workspace}`?",
            ),
            ("{source: \"${home\", target: /x}", 4, "unterminated"),
            (
                "{source: \"${home}/../x\", target: /x}",
                4,
                "goes up with `..`",
            ),
            (
                "{source: \"~root/x\", target: /x}",
                4,
                "another user's home",
            ),
            ("{source: \"\", target: /x}", 4, "is empty"),
            ("{source: \"/a\\tb\", target: /x}", 4, "control character"),
            (
                "{source: /data, target: /data, mode: rwx}",
                4,
                "unknown mount mode `rwx`",
            ),
            (
                "{source: /data, target: /data, mode: RW}",
                4,
                "did you mean `rw`?",
            ),
        ] {
            let (at, message) = error_at(&yaml_profile(&format!("mounts:\n  - {mount}")));
            assert_eq!(at, line, "{mount}: {message}");
            assert!(message.contains(needle), "{mount}: {message}");
        }
        let (line, message) = error_at(&yaml_profile(
            "mounts:\n  - {source: /a, target: /data}\n  - {source: /b, target: /data/}",
        ));
        assert_eq!(line, 5);
        assert!(message.contains("two mounts on `/data`"), "{message}");
        assert!(message.contains("lines 4 and 5"), "{message}");
    }

    #[test]
    fn wrong_types_and_broken_yaml_are_refused_with_their_line() {
        for (yaml, line, needle) in [
            (yaml_profile("network: true"), 3, "`network` is a mapping"),
            (
                yaml_profile("network:\n  enabled: maybe"),
                4,
                "`enabled` is `true` or `false`",
            ),
            (
                yaml_profile("network: {enabled: maybe}"),
                3,
                "`enabled` is `true` or `false`",
            ),
            (
                yaml_profile("mounts: [{source: /a, target: [/b]}]"),
                3,
                "`target` is an absolute path",
            ),
            (yaml_profile("mounts: /data"), 3, "`mounts` is a list"),
            (yaml_profile("mounts:\n  - /data"), 4, "`mounts` is a list"),
            (yaml_profile("cpu: [1, 2]"), 3, "`cpu` is a number of CPUs"),
            (
                "profiles: [a, b]\n".to_string(),
                1,
                "`profiles` is a mapping",
            ),
            ("profiles:\n  a: {\n".to_string(), 2, ""),
            ("profiles:\n  a:\n   - x\n  b: 1\n".to_string(), 3, ""),
            (
                "profile_dirs: /one\n".to_string(),
                1,
                "`profile_dirs` is a list",
            ),
            ("- a\n- b\n".to_string(), 1, ""),
        ] {
            let e = error(&yaml);
            assert_eq!(e.line, line, "{yaml}\n{e}");
            assert!(e.to_string().contains(needle), "{yaml}\n{e}");
            assert!(!e.message.is_empty());
            assert!(e.help.is_some(), "{yaml}\n{e}");
        }
    }

    #[test]
    fn relative_source_needs_an_absolute_config_directory() {
        let profile = only(README);
        let e = to_pfp(&profile, Path::new("phantom.yaml")).expect_err("relative directory");
        assert!(e.message.contains("is not absolute"), "{e}");
        // Absolute sources need no directory.
        let profile = only(&yaml_profile("mounts:\n  - {source: /srv, target: /srv}"));
        let text = to_pfp(&profile, Path::new("phantom.yaml")).expect("no relative source");
        checked(&text);
    }

    #[test]
    fn garbage_never_panics() {
        let inputs = [
            "\0",
            "{",
            "[",
            "- - -",
            "profiles: !!binary aGk=",
            "*a",
            "&a [*a]",
            "profiles:\n  a: &x {cpu: 1}\n  b: *x\n",
            "profiles:\n  a:\n    <<: {cpu: 1}\n",
            "---\nprofiles: {}\n---\nprofiles: {}\n",
            "profiles:\n\tbad: tab\n",
        ];
        for input in inputs {
            let _ = parse(input);
        }
        for cut in 0..README.len() {
            if let Some(prefix) = README.get(..cut) {
                if let Ok(config) = parse(prefix) {
                    for profile in &config.profiles {
                        checked(&convert(profile));
                    }
                }
            }
        }
    }
}
