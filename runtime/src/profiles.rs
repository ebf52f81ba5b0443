//! `phantom run --profile NAME`: from a profile reference to a bundle.
//!
//! A reference is a stdlib profile name, a name found in the configured profile
//! directories, a path to a `.pfp` policy, or a path to a compiled `.pfb`. Policies are
//! compiled through the compiler library (the only place the runtime parses `.pfp`),
//! in the requested mode, and cached by content in the user's cache directory, so only
//! the first run of a profile pays for compilation.
//!
//! The cache is an optimisation, never a source of truth: an entry is used only if it
//! decodes with its integrity hash intact and every source file it was compiled from
//! still has the content it had; anything else is recompiled and replaced. A cache
//! directory that others could write to is not used at all.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use phantom_bundle::{Bundle, Mode};
use phantom_compiler::io::NativeFs;
use phantom_compiler::{modes, stdlib, Input};

/// Where a profile comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProfileRef {
    Stdlib(String),
    Policy(PathBuf),
    Bundle(PathBuf),
    /// A profile of the configuration file's `profiles:` section, converted to `.pfp`
    /// text; its relative paths are relative to `dir`, the configuration's directory.
    Config {
        name: String,
        text: String,
        dir: PathBuf,
    },
}

impl ProfileRef {
    pub fn describe(&self) -> String {
        match self {
            ProfileRef::Stdlib(name) => format!("stdlib profile `{name}`"),
            ProfileRef::Policy(path) => format!("policy `{}`", path.display()),
            ProfileRef::Bundle(path) => format!("bundle `{}`", path.display()),
            ProfileRef::Config { name, .. } => format!("configured profile `{name}`"),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    #[error("no profile `{name}`{hint}; `phantom profile list` shows the profiles, and a path to a .pfp or .pfb file works too")]
    Unknown { name: String, hint: String },
    // (`error`, not `source`: the message holds it, and a chain would say it twice.)
    #[error("cannot read `{path}`: {error}")]
    Unreadable {
        path: PathBuf,
        error: std::io::Error,
    },
    /// The rendered diagnostics.
    #[error("{rendered}the policy has errors; `phantomc check {path}` shows them again")]
    Policy { path: String, rendered: String },
    #[error("`{path}`: {error}")]
    Bundle {
        path: PathBuf,
        error: phantom_bundle::LoadError,
    },
    #[error("the bundle `{path}` was compiled for {found} mode, not {wanted}; recompile it with `phantomc compile --mode {wanted}` or pass the policy instead")]
    WrongMode {
        path: PathBuf,
        found: &'static str,
        wanted: &'static str,
    },
    #[error("internal compiler error: {0}; please report it with the policy")]
    Internal(String),
}

/// Finds what `name` refers to: a path, a stdlib profile, `NAME.pfp` in one of
/// `profile_dirs`, or one of `configured` (the configuration's own profiles), in that
/// order, so a user cannot shadow a stdlib profile by accident.
pub fn resolve(
    name: &str,
    profile_dirs: &[PathBuf],
    configured: &[ProfileRef],
) -> Result<ProfileRef, ProfileError> {
    if let Some(found) = resolve_path_or_stdlib(name)? {
        return Ok(found);
    }
    for dir in profile_dirs {
        let candidate = dir.join(format!("{name}.pfp"));
        if candidate.is_file() {
            return Ok(ProfileRef::Policy(candidate));
        }
    }
    if let Some(found) = configured
        .iter()
        .find(|c| matches!(c, ProfileRef::Config { name: n, .. } if n == name))
    {
        return Ok(found.clone());
    }
    let known = list(profile_dirs, configured);
    let hint = phantom_compiler::suggest::closest(name, known.iter().map(|p| p.name.as_str()))
        .map(|s| format!("; did you mean `{s}`?"))
        .unwrap_or_default();
    Err(ProfileError::Unknown {
        name: name.to_string(),
        hint,
    })
}

/// The first two steps of [`resolve`], which need no configuration: a path, or a
/// stdlib profile's name; `None` for any other name.
pub fn resolve_path_or_stdlib(name: &str) -> Result<Option<ProfileRef>, ProfileError> {
    let path = Path::new(name);
    let looks_like_path = name.contains('/') || name.ends_with(".pfp") || name.ends_with(".pfb");
    if looks_like_path {
        if !path.exists() {
            return Err(ProfileError::Unreadable {
                path: path.to_path_buf(),
                error: std::io::Error::new(std::io::ErrorKind::NotFound, "no such file"),
            });
        }
        let is_bundle = name.ends_with(".pfb")
            || std::fs::File::open(path)
                .and_then(|mut f| {
                    let mut magic = [0u8; 8];
                    std::io::Read::read_exact(&mut f, &mut magic).map(|()| magic)
                })
                .is_ok_and(|magic| magic == phantom_bundle::MAGIC);
        let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
        return Ok(Some(if is_bundle {
            ProfileRef::Bundle(absolute)
        } else {
            ProfileRef::Policy(absolute)
        }));
    }
    Ok(stdlib::profile(name).map(|_| ProfileRef::Stdlib(name.to_string())))
}

/// A profile `phantom profile list` shows.
#[derive(Clone, Debug)]
pub struct Listed {
    pub name: String,
    pub reference: ProfileRef,
}

/// The stdlib profiles, then those in `profile_dirs` (sorted by name, first directory
/// wins), then the configured ones; a name is listed once, as [`resolve`] finds it.
pub fn list(profile_dirs: &[PathBuf], configured: &[ProfileRef]) -> Vec<Listed> {
    let mut out: Vec<Listed> = stdlib::names()
        .map(|n| Listed {
            name: n.to_string(),
            reference: ProfileRef::Stdlib(n.to_string()),
        })
        .collect();
    for dir in profile_dirs {
        let Ok(entries) = std::fs::read_dir(dir) else {
            continue;
        };
        let mut found: Vec<Listed> = entries
            .flatten()
            .filter_map(|e| {
                let path = e.path();
                let name = path.file_stem()?.to_str()?.to_string();
                (path.extension()? == "pfp").then_some(Listed {
                    name,
                    reference: ProfileRef::Policy(path),
                })
            })
            .collect();
        found.sort_by(|a, b| a.name.cmp(&b.name));
        for f in found {
            if !out.iter().any(|o| o.name == f.name) {
                out.push(f);
            }
        }
    }
    for c in configured {
        if let ProfileRef::Config { name, .. } = c {
            if !out.iter().any(|o| &o.name == name) {
                out.push(Listed {
                    name: name.clone(),
                    reference: c.clone(),
                });
            }
        }
    }
    out
}

/// How a bundle was obtained, for `PHANTOM_DEBUG`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// Read as given (a `.pfb`).
    Given,
    /// A stdlib profile, compiled when this runtime was built (build.rs).
    BuiltIn,
    CacheHit,
    /// Compiled now (and cached if a cache directory is usable).
    Compiled,
}

impl Source {
    /// How the bundle was obtained, in the words of `PHANTOM_TIMING`'s line.
    pub fn describe(self) -> &'static str {
        match self {
            Source::Given => "read",
            Source::BuiltIn => "built in",
            Source::CacheHit => "from the cache",
            Source::Compiled => "compiled",
        }
    }
}

/// The bundle for `reference` in `mode`. `mode` None: a `.pfb` keeps its own mode,
/// a policy is compiled for sandbox mode.
///
/// Also the files the bundle was read or compiled from (the `.pfb`; a policy and every
/// file it extends or includes), which a run must not let the sandbox write.
pub fn load(
    reference: &ProfileRef,
    mode: Option<Mode>,
    cache: &Cache,
) -> Result<(Bundle, Source, Vec<PathBuf>), ProfileError> {
    if let Some(found) = load_without_compiling(reference, mode, cache)? {
        return Ok(found);
    }
    let mode = mode.unwrap_or_default();
    let (bundle, bytes, inputs) = compile(reference, mode)?;
    cache.store(&cache_key(reference, mode), &bytes, &inputs);
    let files = inputs.into_iter().map(|(path, _)| path).collect();
    Ok((bundle, Source::Compiled, files))
}

/// [`load`] when no compiling is needed: a `.pfb` as given, a stdlib profile built in,
/// or a bundle from the cache; `None` when the policy would have to be compiled first. This and everything it
/// calls keep the compiler out of the small `phantom` binary, which runs profiles
/// found here and hands the rest to `phantom-full`.
pub fn load_without_compiling(
    reference: &ProfileRef,
    mode: Option<Mode>,
    cache: &Cache,
) -> Result<Option<(Bundle, Source, Vec<PathBuf>)>, ProfileError> {
    if let ProfileRef::Bundle(path) = reference {
        let bytes =
            phantom_bundle::read_file(path, phantom_bundle::MAX_BUNDLE_SIZE).map_err(|source| {
                ProfileError::Unreadable {
                    path: path.clone(),
                    error: source,
                }
            })?;
        let bundle =
            phantom_bundle::decode(&bytes, None).map_err(|error| ProfileError::Bundle {
                path: path.clone(),
                error,
            })?;
        if let Some(wanted) = mode.filter(|m| *m != bundle.mode) {
            return Err(ProfileError::WrongMode {
                path: path.clone(),
                found: bundle.mode.name(),
                wanted: wanted.name(),
            });
        }
        return Ok(Some((bundle, Source::Given, vec![path.clone()])));
    }
    if let ProfileRef::Stdlib(name) = reference {
        if let Some(bundle) = built_in(name, mode.unwrap_or_default()) {
            return Ok(Some((bundle, Source::BuiltIn, Vec::new())));
        }
    }
    let key = cache_key(reference, mode.unwrap_or_default());
    Ok(cache
        .lookup(&key)
        .map(|(bundle, files)| (bundle, Source::CacheHit, files)))
}

mod built_in {
    include!(concat!(env!("OUT_DIR"), "/stdlib_bundles.rs"));
}

/// The stdlib profile `name` in `mode` as build.rs compiled it; `None` for no such
/// profile (or, which the tests rule out, a bundle that does not decode).
pub fn built_in(name: &str, mode: Mode) -> Option<Bundle> {
    let (_, _, bytes) = built_in::STDLIB_BUNDLES
        .iter()
        .find(|(n, m, _)| *n == name && *m == mode.name())?;
    phantom_bundle::decode(bytes, None).ok()
}

/// Compiles a policy: the bundle, its encoding, and the files it was read from.
/// One source file of a compiled policy: its path and the blake3 of the text compiled.
pub type SourceInput = (PathBuf, [u8; 32]);

pub fn compile(
    reference: &ProfileRef,
    mode: Mode,
) -> Result<(Bundle, Vec<u8>, Vec<SourceInput>), ProfileError> {
    let input = match reference {
        ProfileRef::Stdlib(name) => Input::Stdlib(name.clone()),
        ProfileRef::Policy(path) => Input::File(path.clone()),
        ProfileRef::Config { name, text, dir } => Input::Text {
            name: format!("{name}.pfp (from the configuration)"),
            text: text.clone(),
            dir: dir.clone(),
        },
        ProfileRef::Bundle(path) => {
            return Err(ProfileError::Internal(format!(
                "`{}` is already compiled",
                path.display()
            )))
        }
    };
    let display = match reference {
        ProfileRef::Stdlib(name) => name.clone(),
        ProfileRef::Policy(path) | ProfileRef::Bundle(path) => path.display().to_string(),
        ProfileRef::Config { name, .. } => name.clone(),
    };
    let checked = modes::check(&input, &NativeFs, mode).map_err(|e| match e {
        phantom_compiler::InputError::Unreadable { path, source } => ProfileError::Unreadable {
            path,
            error: source,
        },
        other => ProfileError::Policy {
            path: display.clone(),
            rendered: format!("{other}\n"),
        },
    })?;
    let render = |diags: &[phantom_compiler::Diagnostic]| {
        phantom_compiler::render::to_string(&checked.sources, diags)
    };
    let Some(policy) = checked.policy.as_ref() else {
        return Err(ProfileError::Policy {
            path: display,
            rendered: render(&checked.diagnostics),
        });
    };
    let built = phantom_compiler::bundle::build_for(policy, &checked.sources, mode)
        .and_then(|b| phantom_compiler::bundle::encode(&b).map(|bytes| (b, bytes)));
    let (bundle, bytes) = match built {
        Ok(pair) => pair,
        Err(phantom_compiler::bundle::BuildError::Policy(diags)) => {
            return Err(ProfileError::Policy {
                path: display,
                rendered: render(&diags),
            })
        }
        Err(phantom_compiler::bundle::BuildError::Internal(msg)) => {
            return Err(ProfileError::Internal(msg))
        }
    };
    // The hash of the text that was compiled, not of the file as it is now: an edit
    // while compiling must make the entry stale, not valid.
    let inputs = checked
        .sources
        .files()
        .filter_map(|(_, f)| {
            f.path
                .clone()
                .map(|p| (p, *blake3::hash(f.text.as_bytes()).as_bytes()))
        })
        .collect();
    Ok((bundle, bytes, inputs))
}

/// What a cache entry is for: the compiler (a fingerprint of its sources and the
/// stdlib, made by build.rs, so a rebuilt binary never reads an entry an older
/// compiler wrote), the mode, and the root of the policy.
fn cache_key(reference: &ProfileRef, mode: Mode) -> String {
    let mut h = blake3::Hasher::new();
    h.update(b"phantom bundle cache 2\0");
    h.update(env!("PHANTOM_COMPILER_FINGERPRINT").as_bytes());
    h.update(&phantom_bundle::FORMAT_VERSION.to_le_bytes());
    h.update(mode.name().as_bytes());
    h.update(b"\0");
    match reference {
        ProfileRef::Stdlib(name) => {
            h.update(b"stdlib\0");
            h.update(name.as_bytes());
        }
        ProfileRef::Policy(path) | ProfileRef::Bundle(path) => {
            h.update(b"file\0");
            h.update(path.as_os_str().as_encoded_bytes());
        }
        ProfileRef::Config { name, text, dir } => {
            h.update(b"config\0");
            for part in [
                name.as_bytes(),
                text.as_bytes(),
                dir.as_os_str().as_encoded_bytes(),
            ] {
                h.update(&(part.len() as u64).to_le_bytes());
                h.update(part);
            }
        }
    }
    h.finalize().to_hex().to_string()
}

/// Compiled bundles by key, one file each (`KEY.entry`): the length of a listing (8
/// bytes, little-endian), the listing (a line per source file the bundle was compiled
/// from: `BLAKE3 PATH`), then the bundle. One file,
/// written to a temporary name and renamed, so a reader sees a whole entry or none.
#[derive(Clone, Debug, Default)]
pub struct Cache {
    dir: Option<PathBuf>,
}

impl Cache {
    /// No caching.
    pub fn disabled() -> Cache {
        Cache { dir: None }
    }

    /// `dir` if given, else `$XDG_CACHE_HOME/phantom/bundles`, else
    /// `$HOME/.cache/phantom/bundles`; none if it cannot be made private to this user.
    pub fn at(dir: Option<PathBuf>) -> Cache {
        let dir = dir.or_else(|| {
            std::env::var_os("XDG_CACHE_HOME")
                .map(PathBuf::from)
                .filter(|p| p.is_absolute())
                .or_else(|| {
                    std::env::var_os("HOME")
                        .map(PathBuf::from)
                        .filter(|p| p.is_absolute())
                        .map(|h| h.join(".cache"))
                })
                .map(|base| base.join("phantom").join("bundles"))
        });
        Cache {
            dir: dir.filter(|d| private_dir(d)),
        }
    }

    pub fn dir(&self) -> Option<&Path> {
        self.dir.as_deref()
    }

    /// The entry's bundle and the source files it was compiled from, if every one of
    /// them is unchanged.
    fn lookup(&self, key: &str) -> Option<(Bundle, Vec<PathBuf>)> {
        let dir = self.dir.as_ref()?;
        let entry = std::fs::read(dir.join(format!("{key}.entry"))).ok()?;
        let len = u64::from_le_bytes(entry.get(..8)?.try_into().ok()?);
        let end = usize::try_from(len).ok()?.checked_add(8)?;
        let listing = entry.get(8..end)?;
        let bundle = phantom_bundle::decode(entry.get(end..)?, None).ok()?;
        let mut files = Vec::new();
        for line in std::str::from_utf8(listing).ok()?.lines() {
            let (hash, path) = line.split_once(' ')?;
            // (Bounded and regular only: a listed file since replaced by a FIFO must
            // not hang the run; a miss recompiles, which says what is wrong.)
            let now =
                phantom_bundle::read_file(Path::new(path), phantom_bundle::MAX_BUNDLE_SIZE).ok()?;
            if blake3::hash(&now).to_hex().as_str() != hash {
                return None;
            }
            files.push(PathBuf::from(path));
        }
        Some((bundle, files))
    }

    /// Best effort: a cache that cannot be written only costs the next run a compile.
    fn store(&self, key: &str, bytes: &[u8], inputs: &[SourceInput]) {
        let Some(dir) = &self.dir else { return };
        let mut listing = String::new();
        for (path, hash) in inputs {
            let Some(path) = path.to_str().filter(|p| !p.contains('\n')) else {
                return; // not representable in the listing: not cached
            };
            listing.push_str(&format!(
                "{} {path}\n",
                blake3::Hash::from_bytes(*hash).to_hex()
            ));
        }
        let mut entry = Vec::with_capacity(8 + listing.len() + bytes.len());
        entry.extend_from_slice(&(listing.len() as u64).to_le_bytes());
        entry.extend_from_slice(listing.as_bytes());
        entry.extend_from_slice(bytes);
        let _ = write_atomically(dir, &format!("{key}.entry"), &entry);
    }
}

fn write_atomically(dir: &Path, name: &str, bytes: &[u8]) -> std::io::Result<()> {
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
    tmp.write_all(bytes)?;
    tmp.persist(dir.join(name)).map_err(|e| e.error)?;
    Ok(())
}

/// Creates `dir` (mode 0700) if needed; true if it is ours and no one else can write it.
#[cfg(target_os = "linux")]
fn private_dir(dir: &Path) -> bool {
    use std::os::unix::fs::{DirBuilderExt, MetadataExt};
    let _ = std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir);
    let Ok(meta) = std::fs::symlink_metadata(dir) else {
        return false;
    };
    // SAFETY: geteuid has no preconditions and cannot fail.
    #[allow(unsafe_code, reason = "geteuid: no preconditions")]
    let euid = unsafe { libc::geteuid() };
    meta.is_dir() && meta.uid() == euid && meta.mode() & 0o022 == 0
}

#[cfg(not(target_os = "linux"))]
fn private_dir(_: &Path) -> bool {
    false
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, reason = "test code")]
    use super::*;

    #[test]
    fn names_paths_and_bundles_resolve() {
        assert_eq!(
            resolve("python-dev", &[], &[]).unwrap(),
            ProfileRef::Stdlib("python-dev".into())
        );
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("mine.pfp"), "extends \"base\"\n").unwrap();
        assert!(matches!(
            resolve("mine", &[dir.path().to_path_buf()], &[]).unwrap(),
            ProfileRef::Policy(_)
        ));
        let path = dir.path().join("mine.pfp");
        assert!(matches!(
            resolve(path.to_str().unwrap(), &[], &[]).unwrap(),
            ProfileRef::Policy(_)
        ));
    }

    /// build.rs's bundles are what compiling now makes, byte for byte, for every stdlib
    /// profile in every mode (and none is missing), and `load` takes them.
    #[test]
    fn built_in_bundles_are_the_stdlib_compiled() {
        for name in stdlib::names() {
            for mode in [Mode::Direct, Mode::Sandbox, Mode::Hardened] {
                let reference = ProfileRef::Stdlib(name.to_string());
                let (_, compiled, _) = compile(&reference, mode).unwrap();
                let built = built_in(name, mode).expect("built in");
                assert_eq!(
                    phantom_bundle::encode(&built).unwrap(),
                    compiled,
                    "{name} {mode:?}"
                );
                let (_, source, _) = load(&reference, Some(mode), &Cache::disabled()).unwrap();
                assert_eq!(source, Source::BuiltIn);
            }
        }
        assert!(built_in("no-such-profile", Mode::Sandbox).is_none());
    }

    #[test]
    fn an_unknown_name_suggests_the_closest() {
        let e = resolve("pyhton-dev", &[], &[]).unwrap_err().to_string();
        assert!(e.contains("did you mean `python-dev`"), "{e}");
    }

    #[test]
    fn the_cache_serves_a_second_load_and_notices_edits() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::at(Some(dir.path().join("cache")));
        assert!(cache.dir().is_some());
        let policy = dir.path().join("p.pfp");
        std::fs::write(&policy, "extends \"base\"\nresources { pids 100 }\n").unwrap();
        let r = ProfileRef::Policy(policy.clone());
        let (first, how, files) = load(&r, None, &cache).unwrap();
        assert_eq!(how, Source::Compiled);
        // The files it came from, for the run to keep out of the sandbox's reach.
        assert!(files.contains(&policy), "{files:?}");
        let (again, how, files) = load(&r, None, &cache).unwrap();
        assert_eq!((how, &again), (Source::CacheHit, &first));
        assert!(files.contains(&policy), "{files:?}");
        std::fs::write(&policy, "extends \"base\"\nresources { pids 99 }\n").unwrap();
        let (edited, how, _) = load(&r, None, &cache).unwrap();
        assert_eq!(how, Source::Compiled);
        assert_eq!(edited.cgroup.pids_max, Some(99));
        // Another mode is another entry.
        let (hardened, how, _) = load(&r, Some(Mode::Hardened), &cache).unwrap();
        assert_eq!((how, hardened.mode), (Source::Compiled, Mode::Hardened));
    }

    #[test]
    fn a_corrupted_cache_entry_is_recompiled() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::at(Some(dir.path().join("cache")));
        let policy = dir.path().join("mine.pfp");
        std::fs::write(&policy, "extends \"minimal\"\n").unwrap();
        let r = ProfileRef::Policy(policy);
        assert_eq!(load(&r, None, &cache).unwrap().1, Source::Compiled);
        for entry in std::fs::read_dir(dir.path().join("cache"))
            .unwrap()
            .flatten()
        {
            if entry.path().extension().is_some_and(|e| e == "entry") {
                let mut bytes = std::fs::read(entry.path()).unwrap();
                let last = bytes.len() - 1;
                bytes[last] ^= 1;
                std::fs::write(entry.path(), bytes).unwrap();
            }
        }
        assert_eq!(load(&r, None, &cache).unwrap().1, Source::Compiled);
        assert_eq!(load(&r, None, &cache).unwrap().1, Source::CacheHit);
    }

    #[test]
    fn a_cache_others_can_write_is_not_used() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
        assert!(Cache::at(Some(dir.path().to_path_buf())).dir().is_none());
    }

    #[test]
    fn a_broken_policy_reports_its_diagnostics() {
        let dir = tempfile::tempdir().unwrap();
        let policy = dir.path().join("bad.pfp");
        std::fs::write(&policy, "extends \"base\"\nresources { memroy 1GiB }\n").unwrap();
        let e = load(&ProfileRef::Policy(policy), None, &Cache::disabled())
            .unwrap_err()
            .to_string();
        assert!(e.contains("memroy") && e.contains("error"), "{e}");
    }

    #[test]
    fn a_bundle_for_another_mode_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let (_, bytes, _) = compile(&ProfileRef::Stdlib("minimal".into()), Mode::Sandbox).unwrap();
        let path = dir.path().join("m.pfb");
        std::fs::write(&path, bytes).unwrap();
        let r = resolve(path.to_str().unwrap(), &[], &[]).unwrap();
        assert!(matches!(r, ProfileRef::Bundle(_)));
        assert!(load(&r, None, &Cache::disabled()).is_ok());
        let e = load(&r, Some(Mode::Hardened), &Cache::disabled()).unwrap_err();
        assert!(
            e.to_string().contains("phantomc compile --mode hardened"),
            "{e}"
        );
    }
}
