//! The layers hold, read from the source: the workbench names of the engine only the protocol
//! and the engine handle (never burn, the models, the losses or the engine's runtime), and the
//! engine knows neither the run folders nor the workbench.

// A test fails loudly: unwrap and expect say where.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

/// Every `.rs` file under `dir`.
fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(rust_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
    files
}

/// The code of a file, comments left out.
fn code(path: &Path) -> Vec<(usize, String)> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .enumerate()
        .map(|(i, line)| (i + 1, line.split("//").next().unwrap_or_default().to_string()))
        .collect()
}

/// The crate modules a file names (`crate::x`), with where.
fn crate_modules(path: &Path) -> Vec<(usize, String)> {
    let mut named = Vec::new();
    for (line, text) in code(path) {
        for part in text.split("crate::").skip(1) {
            let module: String = part.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
            named.push((line, module));
        }
    }
    named
}

fn src(folder: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src").join(folder)
}

#[test]
fn the_workbench_names_only_the_protocol_and_the_engine_handle() {
    // Of the crate, the UI may use the protocol, the handle, itself, and the burn-free helpers
    // (the run folders, exports, statistics, arithmetic on logits).
    let allowed = ["protocol", "engine", "ui", "record", "export", "stats", "logits"];
    let mut found = Vec::new();
    for file in rust_files(&src("ui")) {
        for (line, module) in crate_modules(&file) {
            if !allowed.contains(&module.as_str()) {
                found.push(format!("{}:{line}: crate::{module}", file.display()));
            }
        }
        for (line, text) in code(&file) {
            if text.contains("burn") {
                found.push(format!("{}:{line}: names burn", file.display()));
            }
        }
    }
    assert!(found.is_empty(), "the workbench reaches past the protocol and the handle:\n{}", found.join("\n"));
}

#[test]
fn the_engine_names_neither_the_run_folders_nor_the_workbench() {
    let mut found = Vec::new();
    for file in rust_files(&src("train")) {
        for (line, module) in crate_modules(&file) {
            if ["record", "ui", "engine", "bench"].contains(&module.as_str()) {
                found.push(format!("{}:{line}: crate::{module}", file.display()));
            }
        }
    }
    assert!(found.is_empty(), "the engine names what sits above it:\n{}", found.join("\n"));
}

#[test]
fn the_protocol_names_nothing_of_the_engine() {
    let mut found = Vec::new();
    for file in rust_files(&src("protocol")) {
        for (line, module) in crate_modules(&file) {
            if !["protocol", "logits"].contains(&module.as_str()) {
                found.push(format!("{}:{line}: crate::{module}", file.display()));
            }
        }
        for (line, text) in code(&file) {
            if text.contains("burn") {
                found.push(format!("{}:{line}: names burn", file.display()));
            }
        }
    }
    assert!(found.is_empty(), "the protocol depends on more than itself:\n{}", found.join("\n"));
}
