//! Bakes the hash of `migrations/` into the crate as `BAZAAR_MIGRATIONS_HASH`, so that every
//! change to a migration gives the test template database a new name.

#[path = "src/migrations_hash.rs"]
mod migrations_hash;

use std::path::PathBuf;

fn main() -> std::io::Result<()> {
    let manifest_dir = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default());
    let root = manifest_dir.join("../../migrations");
    // A directory is scanned recursively for changes.
    println!("cargo::rerun-if-changed={}", root.display());
    println!(
        "cargo::rustc-env=BAZAAR_MIGRATIONS_HASH={}",
        migrations_hash::hash_migrations_dir(&root)?
    );
    Ok(())
}
