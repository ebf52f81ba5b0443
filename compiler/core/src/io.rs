//! The compiler's only door to the outside: reading source files.
//!
//! The core never touches the filesystem itself; it asks a [`FileSystem`]. The CLI and
//! the runtime use [`NativeFs`]; tests use [`MemoryFs`], so composition (includes,
//! cycles, missing files) is tested without a disk.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

pub trait FileSystem {
    /// The file's bytes.
    fn read(&self, path: &Path) -> std::io::Result<Vec<u8>>;
}

/// The real filesystem.
#[derive(Debug, Default, Clone, Copy)]
pub struct NativeFs;

impl FileSystem for NativeFs {
    fn read(&self, path: &Path) -> std::io::Result<Vec<u8>> {
        // Bounded: a path naming /dev/zero or a FIFO is refused, not read forever.
        phantom_bundle::read_file(path, crate::resolve::MAX_FILE_SIZE)
    }
}

/// Files held in memory, for tests and for embedding the compiler.
#[derive(Debug, Default, Clone)]
pub struct MemoryFs {
    files: HashMap<PathBuf, Vec<u8>>,
}

impl MemoryFs {
    pub fn new() -> Self {
        MemoryFs::default()
    }

    pub fn with(mut self, path: impl Into<PathBuf>, contents: impl Into<Vec<u8>>) -> Self {
        self.files.insert(path.into(), contents.into());
        self
    }
}

impl FileSystem for MemoryFs {
    fn read(&self, path: &Path) -> std::io::Result<Vec<u8>> {
        self.files
            .get(path)
            .cloned()
            .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::NotFound, "no such file"))
    }
}
