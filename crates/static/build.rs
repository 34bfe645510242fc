//! Embeds every data rule under `rules/` in the library, so the binary needs no rules folder.

use std::fmt::Write;
use std::path::{Path, PathBuf};

fn collect(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<_> = entries.flatten().map(|e| e.path()).collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            if path.file_name().is_some_and(|n| n == "data") {
                continue;
            }
            collect(&path, out);
        } else if path.extension().is_some_and(|e| e == "yaml") {
            out.push(path);
        }
    }
}

fn main() {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap());
    let rules = manifest
        .join("../../rules")
        .canonicalize()
        .expect("rules/ beside the workspace root");
    println!("cargo:rerun-if-changed={}", rules.display());
    let mut files = Vec::new();
    collect(&rules, &mut files);
    let mut code = String::from("pub(crate) const DATA_RULES: &[(&str, &str)] = &[\n");
    for f in &files {
        println!("cargo:rerun-if-changed={}", f.display());
        let rel = f.strip_prefix(&rules).unwrap().display().to_string();
        writeln!(
            code,
            "    ({rel:?}, include_str!({:?})),",
            f.display().to_string()
        )
        .unwrap();
    }
    code.push_str("];\n");
    let data = rules.join("data");
    for (name, file) in [
        ("POPULAR_PYPI", "popular/pypi.txt"),
        ("POPULAR_NPM", "popular/npm.txt"),
        ("PACKAGE_SOURCES", "package-sources.txt"),
    ] {
        let path = data.join(file);
        println!("cargo:rerun-if-changed={}", path.display());
        if path.exists() {
            writeln!(
                code,
                "pub(crate) const {name}: &str = include_str!({:?});",
                path.display().to_string()
            )
            .unwrap();
        } else {
            writeln!(code, "pub(crate) const {name}: &str = \"\";").unwrap();
        }
    }
    let out = PathBuf::from(std::env::var("OUT_DIR").unwrap()).join("embedded_rules.rs");
    std::fs::write(out, code).unwrap();
}
