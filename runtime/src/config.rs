//! `PHANTOM_CONFIG_PATH`: the user's configuration (YAML, in the form the product's
//! first README showed): profile directories, the default profile and mode, the cache
//! directory, and profiles in the old `profiles:` form, which the compiler's importer
//! turns into `.pfp` text (`phantomc import config-yaml` writes the same text to files).

use std::path::{Path, PathBuf};

use phantom_bundle::Mode;
use phantom_compiler::import::config_yaml;

use crate::profiles::ProfileRef;

/// What `phantom` takes from the configuration; empty without one.
#[derive(Clone, Debug, Default)]
pub struct Config {
    /// Searched for `NAME.pfp` after the stdlib.
    pub profile_dirs: Vec<PathBuf>,
    pub default_profile: Option<String>,
    pub default_mode: Option<Mode>,
    pub cache_dir: Option<PathBuf>,
    /// The `profiles:` section, converted.
    pub profiles: Vec<ProfileRef>,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    // (`error`, not `source`: the message holds it, and a chain would say it twice.)
    #[error("cannot read the configuration `{path}` (PHANTOM_CONFIG_PATH): {error}; fix the path or unset the variable")]
    Unreadable {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("the configuration `{path}` (PHANTOM_CONFIG_PATH): {error}")]
    Invalid {
        path: PathBuf,
        error: config_yaml::ConfigError,
    },
}

/// Reads `$PHANTOM_CONFIG_PATH` if set.
pub fn load() -> Result<Config, ConfigError> {
    match std::env::var_os("PHANTOM_CONFIG_PATH").filter(|p| !p.is_empty()) {
        Some(path) => load_from(Path::new(&path)),
        None => Ok(Config::default()),
    }
}

pub fn load_from(path: &Path) -> Result<Config, ConfigError> {
    let path = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let unreadable = |error| ConfigError::Unreadable {
        path: path.clone(),
        error,
    };
    // A configuration is a page or two: a path naming /dev/zero must not be read whole.
    let bytes = phantom_bundle::read_file(&path, 1 << 20).map_err(unreadable)?;
    let text = String::from_utf8(bytes).map_err(|e| {
        unreadable(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            e.to_string(),
        ))
    })?;
    let invalid = |error| ConfigError::Invalid {
        path: path.clone(),
        error,
    };
    let parsed = config_yaml::parse(&text).map_err(invalid)?;
    let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
    let home = std::env::var_os("HOME").map(PathBuf::from);
    // Relative directories are relative to the configuration, `~/` to the home.
    let place = |written: &str| -> PathBuf {
        match (written.strip_prefix("~/"), &home) {
            (Some(rest), Some(home)) => home.join(rest),
            _ => dir.join(written),
        }
    };
    let mut profiles = Vec::new();
    for spec in &parsed.profiles {
        let text = config_yaml::to_pfp(spec, &path).map_err(invalid)?;
        profiles.push(ProfileRef::Config {
            name: spec.name.clone(),
            text,
            dir: dir.clone(),
        });
    }
    Ok(Config {
        profile_dirs: parsed.profile_dirs.iter().map(|d| place(d)).collect(),
        default_profile: parsed.default_profile,
        default_mode: parsed.default_mode,
        cache_dir: parsed.cache_dir.as_deref().map(place),
        profiles,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, reason = "test code")]
    use super::*;

    #[test]
    fn the_readme_form_gives_a_runnable_profile() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.yaml");
        std::fs::write(
            &path,
            "default_profile: my-custom-profile\nprofile_dirs: [profiles]\nprofiles:\n  my-custom-profile:\n    name: \"my-custom-profile\"\n    driver: \"bwrap\"\n    cpu: \"1\"\n    memory: \"512m\"\n    network:\n      enabled: false\n    mounts:\n      - source: \"./workspace\"\n        target: \"/workspace\"\n        mode: \"rw\"\n",
        )
        .unwrap();
        let config = load_from(&path).unwrap();
        assert_eq!(config.default_profile.as_deref(), Some("my-custom-profile"));
        assert_eq!(config.profile_dirs, [dir.path().join("profiles")]);
        let r = crate::profiles::resolve("my-custom-profile", &[], &config.profiles).unwrap();
        let (bundle, _, _) =
            crate::profiles::load(&r, None, &crate::profiles::Cache::disabled()).unwrap();
        assert_eq!(bundle.cgroup.memory_max, Some(512 << 20));
        assert_eq!(
            bundle.cgroup.cpu.map(|c| c.quota_us * 1000 / c.period_us),
            Some(1000)
        );
    }

    #[test]
    fn an_invalid_configuration_names_the_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.yaml");
        std::fs::write(&path, "profiles:\n  x:\n    memroy: 1g\n").unwrap();
        let e = load_from(&path).unwrap_err().to_string();
        assert!(
            e.contains("config.yaml") && e.contains('3') && e.contains("memory"),
            "{e}"
        );
    }
}
