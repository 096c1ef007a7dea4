//! Embeds the dashboard's locales: every folder `locales/<lang>/` with its `*.ftl` files
//! becomes an entry of `LOCALE_SOURCES` (in `$OUT_DIR/locales.rs`, included by
//! `src/web/i18n.rs`). Adding a language is adding a folder; no Rust changes.

use std::fmt::Write;
use std::path::Path;

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("locales");
    println!("cargo:rerun-if-changed={}", root.display());
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
        println!("cargo:rerun-if-changed={}", dir.display());
        let mut files: Vec<_> = std::fs::read_dir(&dir)
            .expect("locale folder readable")
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "ftl"))
            .collect();
        files.sort();
        let name = lang.file_name().to_string_lossy().into_owned();
        let _ = write!(out, "    ({name:?}, &[");
        for f in files {
            println!("cargo:rerun-if-changed={}", f.display());
            let file = f.file_name().map(|n| n.to_string_lossy().into_owned());
            let _ = write!(
                out,
                "({:?}, include_str!({:?})), ",
                file.unwrap_or_default(),
                f.display().to_string()
            );
        }
        out.push_str("]),\n");
    }
    out.push_str("];\n");
    let dest = Path::new(&std::env::var("OUT_DIR").expect("OUT_DIR")).join("locales.rs");
    std::fs::write(dest, out).expect("write locales.rs");
}
