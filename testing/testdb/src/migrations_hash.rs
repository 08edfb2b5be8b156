//! The hash that names the template database: FNV-1a (128 bits, stable across Rust releases,
//! unlike `DefaultHasher`) over the path and contents of every file in every migration folder.
//! Shared by `build.rs`, which bakes it in as `BAZAAR_MIGRATIONS_HASH`, and the tests, which
//! check that the baked-in hash is the one of the files on disk.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

struct Fnv128(u128);

impl Fnv128 {
    const OFFSET: u128 = 0x6c62_272e_07bb_0142_62b8_2175_6295_c58d;
    const PRIME: u128 = 0x0000_0000_0100_0000_0000_0000_0000_013b;

    /// Hashes the length first, so that ("ab", "c") and ("a", "bc") differ.
    fn write(&mut self, bytes: &[u8]) {
        for byte in u64::try_from(bytes.len()).unwrap_or(u64::MAX).to_le_bytes() {
            self.byte(byte);
        }
        for &byte in bytes {
            self.byte(byte);
        }
    }

    fn byte(&mut self, byte: u8) {
        self.0 ^= u128::from(byte);
        self.0 = self.0.wrapping_mul(Self::PRIME);
    }
}

fn sorted_entries(dir: &Path, keep: impl Fn(&Path) -> bool) -> io::Result<Vec<PathBuf>> {
    let mut paths = fs::read_dir(dir)?
        .map(|entry| entry.map(|e| e.path()))
        .collect::<io::Result<Vec<_>>>()?;
    paths.retain(|path| keep(path));
    paths.sort();
    Ok(paths)
}

/// The hash of the migration folders under `root`, as 32 hex digits.
pub fn hash_migrations_dir(root: &Path) -> io::Result<String> {
    let mut hash = Fnv128(Fnv128::OFFSET);
    for dir in sorted_entries(root, Path::is_dir)? {
        for file in sorted_entries(&dir, Path::is_file)? {
            let relative = file
                .strip_prefix(root)
                .map_err(io::Error::other)?
                .to_string_lossy()
                .replace('\\', "/");
            hash.write(relative.as_bytes());
            hash.write(&fs::read(&file)?);
        }
    }
    Ok(format!("{:032x}", hash.0))
}
