//! `PHANTOM_CONFIG_PATH`: the user's configuration (YAML, the product's first README's
//! format): profile directories, defaults, the cache directory, and profiles written
//! in the old `profiles:` form (converted to `.pfp` by the compiler's importer).

use std::path::PathBuf;

use phantom_bundle::Mode;

/// What `phantom` takes from the configuration; empty without one.
#[derive(Clone, Debug, Default)]
pub struct Config {
    /// Searched for `NAME.pfp` after the stdlib.
    pub profile_dirs: Vec<PathBuf>,
    pub default_profile: Option<String>,
    pub default_mode: Option<Mode>,
    pub cache_dir: Option<PathBuf>,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read the configuration `{path}` (from PHANTOM_CONFIG_PATH): {source}; fix the path or unset the variable")]
    Unreadable {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the configuration `{path}` is invalid: {message}")]
    Invalid { path: PathBuf, message: String },
}

/// Reads `$PHANTOM_CONFIG_PATH` if set.
pub fn load() -> Result<Config, ConfigError> {
    let Some(path) = std::env::var_os("PHANTOM_CONFIG_PATH")
        .filter(|p| !p.is_empty())
        .map(PathBuf::from)
    else {
        return Ok(Config::default());
    };
    let text = std::fs::read_to_string(&path).map_err(|source| ConfigError::Unreadable {
        path: path.clone(),
        source,
    })?;
    Err(ConfigError::Invalid {
        path,
        message: format!("{} bytes; configuration files are not read yet", text.len()),
    })
}
