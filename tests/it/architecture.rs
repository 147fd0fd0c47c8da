//! The floors of ARCHITECTURE.md, checked on the source: a room of `src/` uses
//! only rooms on a lower floor, and inside a room no files import each other
//! in a circle. Only code outside `#[cfg(test)]` modules and comments counts.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use crate::common;

/// ARCHITECTURE.md's table.
const FLOORS: &[(&str, u8)] = &[
    ("fsx", 0),
    ("csvx", 0),
    ("safetensors", 0),
    ("gpu", 0),
    ("audio", 1),
    ("records", 1),
    ("interrupt", 1),
    ("features", 2),
    ("tensorboard", 2),
    ("data", 3),
    ("models", 4),
    ("eval", 4),
    ("datasets", 4),
    ("train", 5),
    ("report", 6),
    ("experiment", 7),
    ("dashboard", 8),
];

fn floor(room: &str) -> Option<u8> {
    FLOORS.iter().find(|(r, _)| *r == room).map(|(_, f)| *f)
}

/// Every `.rs` file under `dir`.
fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The file's code without comments and without its test module.
fn code(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap();
    let text = text.split("#[cfg(test)]").next().unwrap_or("");
    text.lines()
        .map(|l| l.split("//").next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The module path of a file under `src/`: `experiment::run`, `models::ops`.
fn module_of(src: &Path, path: &Path) -> Vec<String> {
    let rel = path.strip_prefix(src).unwrap().with_extension("");
    let mut parts: Vec<String> = rel
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    if parts.last().is_some_and(|p| p == "mod") {
        parts.pop();
    }
    parts
}

/// Identifiers following `prefix` (`crate::`, `super::`) in `code`, as paths.
fn paths_after<'a>(code: &'a str, prefix: &'a str) -> impl Iterator<Item = Vec<&'a str>> + 'a {
    code.match_indices(prefix).map(move |(i, _)| {
        let rest = &code[i + prefix.len()..];
        let end = rest
            .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
            .unwrap_or(rest.len());
        rest[..end].split("::").filter(|s| !s.is_empty()).collect()
    })
}

#[test]
fn no_room_uses_a_room_on_its_floor_or_above() {
    let src = common::repo().join("src");
    let mut files = Vec::new();
    sources(&src, &mut files);
    let mut wrong = BTreeSet::new();
    for path in &files {
        let module = module_of(&src, path);
        let Some(room) = module.first() else { continue };
        let Some(own) = floor(room) else { continue }; // lib.rs, main.rs, cli/
        let text = code(path);
        // `crate::a::b` and each item of `use crate::{a::b, c}`.
        let mut used: Vec<String> = paths_after(&text, "crate::")
            .filter_map(|p| p.first().map(|s| s.to_string()))
            .collect();
        for (i, _) in text.match_indices("crate::{") {
            let rest = &text[i + "crate::{".len()..];
            let items = &rest[..rest.find('}').unwrap_or(0)];
            used.extend(items.split(',').filter_map(|item| {
                let first = item.trim().split("::").next()?;
                (!first.is_empty()).then(|| first.to_string())
            }));
        }
        for target in &used {
            if target == room {
                continue;
            }
            if let Some(f) = floor(target)
                && f >= own
            {
                wrong.insert(format!("{} uses crate::{target}", path.display()));
            }
        }
    }
    assert!(wrong.is_empty(), "imports against the floors:\n{wrong:#?}");
    // Every room is on the map.
    for entry in std::fs::read_dir(&src).unwrap().flatten() {
        let name = entry.path().with_extension("");
        let name = name.file_name().unwrap().to_string_lossy().into_owned();
        if !["lib", "main", "cli"].contains(&name.as_str()) {
            assert!(floor(&name).is_some(), "{name} is missing from the floors");
        }
    }
}

#[test]
fn no_two_files_of_a_room_import_each_other_in_a_circle() {
    let src = common::repo().join("src");
    let mut files = Vec::new();
    sources(&src, &mut files);
    let modules: BTreeMap<Vec<String>, PathBuf> = files
        .iter()
        .map(|p| (module_of(&src, p), p.clone()))
        .collect();
    // The longest module path that `base` + `rest` starts with.
    let resolve = |base: &[String], rest: &[&str]| -> Option<Vec<String>> {
        (0..=rest.len()).rev().find_map(|k| {
            let mut m = base.to_vec();
            m.extend(rest[..k].iter().map(|s| s.to_string()));
            modules.contains_key(&m).then_some(m)
        })
    };
    let mut edges: BTreeMap<Vec<String>, BTreeSet<Vec<String>>> = BTreeMap::new();
    for (module, path) in &modules {
        let text = code(path);
        // `super` of `a::b` (a file `a/b.rs`, or a folder `a/b/mod.rs`) is `a`.
        let parent: Vec<String> = module[..module.len().saturating_sub(1)].to_vec();
        let mut targets = Vec::new();
        for used in paths_after(&text, "crate::") {
            targets.extend(resolve(&[], &used));
        }
        for used in paths_after(&text, "super::") {
            targets.extend(resolve(&parent, &used));
        }
        // `use super::{a, b::C}` and `use crate::x::{a, b}`: each item.
        for (prefix, base) in [
            ("use super::{", parent.clone()),
            ("use crate::{", Vec::new()),
        ] {
            for (i, _) in text.match_indices(prefix) {
                let rest = &text[i + prefix.len()..];
                let items = &rest[..rest.find('}').unwrap_or(0)];
                for item in items.split(',') {
                    let item: Vec<&str> = item.trim().split("::").collect();
                    targets.extend(resolve(&base, &item));
                }
            }
        }
        for t in targets {
            // A folder and its own files are one unit.
            if t != *module && !t.starts_with(module) && !module.starts_with(&t) {
                edges.entry(module.clone()).or_default().insert(t);
            }
        }
    }
    // A circle is a module that reaches itself.
    let mut circles = BTreeSet::new();
    for start in edges.keys() {
        let mut seen = BTreeSet::new();
        let mut stack: Vec<Vec<String>> = edges[start].iter().cloned().collect();
        while let Some(m) = stack.pop() {
            if &m == start {
                circles.insert(start.join("::"));
                break;
            }
            if seen.insert(m.clone())
                && let Some(next) = edges.get(&m)
            {
                stack.extend(next.iter().cloned());
            }
        }
    }
    assert!(
        circles.is_empty(),
        "files in a circle of imports: {circles:#?}"
    );
}
