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

/// A file's module path under `root` (`methods/kd.rs` → `["methods", "kd"]`, `methods/mod.rs`
/// → `["methods"]`).
fn module_of(root: &Path, file: &Path) -> Vec<String> {
    let relative = file.strip_prefix(root).unwrap().with_extension("");
    let mut path: Vec<String> = relative.iter().map(|p| p.to_string_lossy().into_owned()).collect();
    if path.last().is_some_and(|last| last == "mod") {
        path.pop();
    }
    path
}

/// The files of `root` a file refers to (`super::x`, `crate::<folder>::x`, a child `x::`),
/// resolved to the longest module path that is a file.
fn references(root: &Path, folder: &str, file: &Path, modules: &[Vec<String>]) -> Vec<Vec<String>> {
    let here = module_of(root, file);
    let is_module_file = file.file_name().is_some_and(|n| n == "mod.rs");
    let children: Vec<String> = code(file)
        .iter()
        .filter_map(|(_, l)| l.trim().strip_prefix("mod ").or(l.trim().strip_prefix("pub mod ")).map(str::to_string))
        .map(|m| m.trim_end_matches(';').trim().to_string())
        .collect();
    let mut found = Vec::new();
    // A file's own test module (at its end) is not part of how the files depend on each other.
    let lines = code(file);
    let end = lines.iter().position(|(_, l)| l.trim() == "#[cfg(test)]").unwrap_or(lines.len());
    for (_, text) in &lines[..end] {
        let words: Vec<&str> = text.split(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':')).collect();
        for word in words.into_iter().filter(|w| w.contains("::")) {
            let parts: Vec<&str> = word.split("::").filter(|p| !p.is_empty()).collect();
            let mut path: Vec<String> = match parts.as_slice() {
                ["crate", top, rest @ ..] if *top == folder => rest.iter().map(|p| p.to_string()).collect(),
                ["super", ..] => {
                    let ups = parts.iter().take_while(|p| **p == "super").count();
                    // A module path already leaves `mod` out: each `super` drops one segment.
                    let mut base = here.clone();
                    for _ in 0..ups {
                        base.pop();
                    }
                    base.extend(parts[ups..].iter().map(|p| p.to_string()));
                    base
                }
                [first, ..] if is_module_file && children.iter().any(|c| c == first) => {
                    let mut base = here.clone();
                    base.extend(parts.iter().map(|p| p.to_string()));
                    base
                }
                _ => continue,
            };
            while !path.is_empty() && !modules.contains(&path) {
                path.pop();
            }
            if !path.is_empty() && path != here && !found.contains(&path) {
                found.push(path);
            }
        }
    }
    found
}

/// Groups of files that refer to each other in a circle (Tarjan's strongly connected
/// components of more than one file).
fn circles(folder: &str) -> Vec<Vec<String>> {
    circles_in(&src(folder), folder)
}

/// [`circles`] of the files under `root`, a folder the crate names `crate::folder`.
fn circles_in(root: &Path, folder: &str) -> Vec<Vec<String>> {
    let root = root.to_path_buf();
    let files = rust_files(&root);
    let modules: Vec<Vec<String>> = files.iter().map(|f| module_of(&root, f)).collect();
    let edges: Vec<Vec<usize>> = files
        .iter()
        .map(|f| {
            references(&root, folder, f, &modules)
                .iter()
                .filter_map(|target| modules.iter().position(|m| m == target))
                .collect()
        })
        .collect();
    // Tarjan, iteratively small enough to be recursive here.
    struct State {
        index: Vec<Option<usize>>,
        low: Vec<usize>,
        on_stack: Vec<bool>,
        stack: Vec<usize>,
        next: usize,
        groups: Vec<Vec<usize>>,
    }
    fn visit(v: usize, edges: &[Vec<usize>], s: &mut State) {
        s.index[v] = Some(s.next);
        s.low[v] = s.next;
        s.next += 1;
        s.stack.push(v);
        s.on_stack[v] = true;
        for &w in &edges[v] {
            match s.index[w] {
                None => {
                    visit(w, edges, s);
                    s.low[v] = s.low[v].min(s.low[w]);
                }
                Some(index) if s.on_stack[w] => s.low[v] = s.low[v].min(index),
                Some(_) => {}
            }
        }
        if Some(s.low[v]) == s.index[v] {
            let mut group = Vec::new();
            while let Some(w) = s.stack.pop() {
                s.on_stack[w] = false;
                group.push(w);
                if w == v {
                    break;
                }
            }
            s.groups.push(group);
        }
    }
    let n = files.len();
    let mut state = State {
        index: vec![None; n],
        low: vec![0; n],
        on_stack: vec![false; n],
        stack: Vec::new(),
        next: 0,
        groups: Vec::new(),
    };
    for v in 0..n {
        if state.index[v].is_none() {
            visit(v, &edges, &mut state);
        }
    }
    state
        .groups
        .into_iter()
        .filter(|g| g.len() > 1)
        .map(|g| g.iter().map(|&i| modules[i].join("/")).collect())
        .collect()
}

#[test]
fn no_files_of_the_engine_import_each_other_in_a_circle() {
    let found = circles("train");
    assert!(found.is_empty(), "files of src/train import each other in a circle: {found:?}");
}

/// The circle finder finds one: two files that name each other, a registry and its children
/// (which is no circle when the children name a declarations file instead).
#[test]
fn the_circle_finder_sees_a_circle() {
    let root = Path::new(env!("CARGO_TARGET_TMPDIR")).join("layers_circle/train");
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(root.join("methods")).unwrap();
    let write = |path: &str, text: &str| std::fs::write(root.join(path), text).unwrap();
    write("a.rs", "use super::b::B;\n");
    write("b.rs", "use crate::train::a::A;\n");
    write("c.rs", "use super::methods::Method;\n");
    write("methods/mod.rs", "mod kd;\nmod spec;\npub static ALL: &[&str] = &[kd::NAME];\n");
    write("methods/kd.rs", "use super::spec::Spec;\n");
    write("methods/spec.rs", "pub struct Spec;\n");
    let found = circles_in(&root, "train");
    assert_eq!(found.len(), 1, "{found:?}");
    let mut circle = found[0].clone();
    circle.sort();
    assert_eq!(circle, ["a", "b"]);
    write("methods/kd.rs", "use super::ALL;\n");
    assert_eq!(circles_in(&root, "train").len(), 2, "a child naming its registry");
}
