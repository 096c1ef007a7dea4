//! Embeds the dashboard's locales: every folder `locales/<lang>/` with its `*.ftl` files
//! becomes an entry of `LOCALE_SOURCES` (in `$OUT_DIR/locales.rs`, included by
//! `src/web/i18n.rs`). Adding a language is adding a folder; no Rust changes.
//!
//! No absolute path is written down: `rerun-if-changed` gets paths relative to the
//! package, and the generated `include_str!`s start from `CARGO_MANIFEST_DIR` when the
//! crate compiles. With absolute paths, a `target/` copied to another checkout (a
//! worktree, a CI clone) kept reading the first checkout's `.ftl` files, and a key added
//! in the second was "missing".

use std::fmt::Write;
use std::path::Path;

fn main() {
    // Read when the script runs (cargo sets it), not when it was compiled.
    let manifest = std::env::var("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR");
    let root = Path::new(&manifest).join("locales");
    println!("cargo:rerun-if-changed=locales");
    let mut langs: Vec<_> = std::fs::read_dir(&root)
        .expect("server/locales exists")
        .filter_map(Result::ok)
        .filter(|e| e.path().is_dir())
        .collect();
    langs.sort_by_key(|e| e.file_name());
    let mut out = String::from(
        "/// Every locale folder: its name and its `.ftl` files (name, source), sorted.\n\
         pub(crate) static LOCALE_SOURCES: &[(&str, &[(&str, &str)])] = &[\n",
    );
    for lang in langs {
        let dir = lang.path();
        let name = lang.file_name().to_string_lossy().into_owned();
        println!("cargo:rerun-if-changed=locales/{name}");
        let mut files: Vec<_> = std::fs::read_dir(&dir)
            .expect("locale folder readable")
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "ftl"))
            .collect();
        files.sort();
        let _ = write!(out, "    ({name:?}, &[");
        for f in files {
            let file = f
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let rel = format!("locales/{name}/{file}");
            println!("cargo:rerun-if-changed={rel}");
            let _ = write!(
                out,
                "({file:?}, include_str!(concat!(env!(\"CARGO_MANIFEST_DIR\"), {:?}))), ",
                format!("/{rel}")
            );
        }
        out.push_str("]),\n");
    }
    out.push_str("];\n");
    let dest = Path::new(&std::env::var("OUT_DIR").expect("OUT_DIR")).join("locales.rs");
    std::fs::write(dest, out).expect("write locales.rs");
}
