//! The layout's rules (docs/architecture.md): modules depend downward only, no import cycles
//! between the endpoints' modules, no source file over 700 lines, a README under 400, and every
//! file SECURITY.md names as a defence present.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// The crate's top-level modules, from the top (the runtime) down. A module may use only
/// modules of a larger rank.
const LAYERS: &[(&str, u8)] = &[
    ("platform", 0),
    ("protocol", 1),
    ("pages", 2),
    ("config", 3),
    ("brand", 4),
    ("store", 5),
    ("objects", 6),
    ("model", 7),
    ("audit", 8),
    ("i18n", 8),
    ("keys", 8),
    ("crypto", 9),
    ("html", 9),
    ("http", 9),
    ("error", 10),
];

fn files(dir: &Path, exts: &[&str], out: &mut Vec<PathBuf>) {
    let Ok(entries) = fs::read_dir(dir) else { return };
    for e in entries.flatten() {
        let p = e.path();
        let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if p.is_dir() {
            if !matches!(name, "target" | "node_modules" | ".git" | "build" | ".bench" | ".wrangler") {
                files(&p, exts, out);
            }
        } else if exts.iter().any(|x| name.ends_with(x)) {
            out.push(p);
        }
    }
}

fn rel(p: &Path) -> String {
    p.strip_prefix(ROOT).unwrap_or(p).to_string_lossy().replace('\\', "/")
}

/// The names that follow `prefix` in `src`: `prefix::name` and each first segment of
/// `prefix::{a, b::c}`.
fn uses_after(src: &str, prefix: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let word = |s: &str| s.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect::<String>();
    let pat = format!("{prefix}::");
    let mut rest = src;
    while let Some(i) = rest.find(&pat) {
        let before = rest[..i].chars().last();
        rest = &rest[i + pat.len()..];
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':') {
            continue;
        }
        if let Some(group) = rest.strip_prefix('{') {
            let end = group.find('}').unwrap_or(group.len());
            for item in group[..end].split(',') {
                let w = word(item.trim());
                if !w.is_empty() {
                    out.insert(w);
                }
            }
        } else {
            let w = word(rest);
            if !w.is_empty() {
                out.insert(w);
            }
        }
    }
    out
}

/// A cycle in `graph`, if there is one.
fn cycle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        n: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        state: &mut BTreeMap<String, u8>,
        path: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        match state.get(n) {
            Some(2) => return None,
            Some(1) => {
                let start = path.iter().position(|p| p == n).unwrap_or(0);
                let mut c = path[start..].to_vec();
                c.push(n.to_string());
                return Some(c);
            }
            _ => {}
        }
        state.insert(n.to_string(), 1);
        path.push(n.to_string());
        for m in graph.get(n).into_iter().flatten() {
            if let Some(c) = visit(m, graph, state, path) {
                return Some(c);
            }
        }
        path.pop();
        state.insert(n.to_string(), 2);
        None
    }
    let mut state = BTreeMap::new();
    graph.keys().find_map(|n| visit(n, graph, &mut state, &mut vec![]))
}

/// The source without its comments (a doc link is not a dependency).
fn code_of(src: &str) -> String {
    src.lines().map(|l| l.split("//").next().unwrap_or("")).collect::<Vec<_>>().join("\n")
}

fn library_sources() -> Vec<(String, String)> {
    let mut paths = vec![];
    files(&Path::new(ROOT).join("src"), &[".rs"], &mut paths);
    paths
        .into_iter()
        .map(|p| (rel(&p), code_of(&fs::read_to_string(&p).unwrap())))
        .filter(|(r, _)| !r.starts_with("src/bin/") && r != "src/lib.rs")
        .collect()
}

#[test]
fn modules_depend_downward_only() {
    let rank: BTreeMap<&str, u8> = LAYERS.iter().copied().collect();
    let mut offences = vec![];
    for (path, src) in library_sources() {
        let top = path.trim_start_matches("src/").split(['/', '.']).next().unwrap_or("").to_string();
        let Some(&own) = rank.get(top.as_str()) else {
            offences.push(format!("{path}: module `{top}` is not in tests/layout.rs LAYERS"));
            continue;
        };
        for used in uses_after(&src, "crate") {
            if used == top {
                continue;
            }
            match rank.get(used.as_str()) {
                Some(&r) if r > own => {}
                Some(_) => offences.push(format!("{path} ({top}) uses crate::{used}, which is not below it")),
                None => {}
            }
        }
    }
    assert!(offences.is_empty(), "{}", offences.join("\n"));
}

/// Within `protocol/` (and `objects/`), no two of the modules use each other, directly or
/// through others. The tests are left out: they use everything.
#[test]
fn no_import_cycles_between_submodules() {
    for parent in ["protocol", "objects"] {
        let sources = library_sources();
        let prefix = format!("src/{parent}/");
        let subs: BTreeSet<String> = sources
            .iter()
            .filter_map(|(p, _)| p.strip_prefix(&prefix))
            .map(|r| r.split(['/', '.']).next().unwrap_or("").to_string())
            .filter(|s| s != "tests" && s != "fuzz")
            .collect();
        let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for (path, src) in &sources {
            let Some(r) = path.strip_prefix(&prefix) else { continue };
            let own = r.split(['/', '.']).next().unwrap_or("").to_string();
            if !subs.contains(&own) {
                continue;
            }
            let mut used = uses_after(src, &format!("crate::{parent}"));
            // `super::` names the parent only from a file directly in it.
            if !r.contains('/') {
                used.extend(uses_after(src, "super"));
            }
            let edges = graph.entry(own.clone()).or_default();
            edges.extend(used.into_iter().filter(|u| *u != own && subs.contains(u)));
        }
        assert_eq!(cycle(&graph), None, "an import cycle in {parent}/");
    }
}

#[test]
fn no_source_file_over_700_lines() {
    let mut paths = vec![];
    for dir in ["src", "tests", "scripts", "bench", "static"] {
        files(&Path::new(ROOT).join(dir), &[".rs", ".mjs", ".js", ".sh", ".html", ".css"], &mut paths);
    }
    let long: Vec<String> = paths
        .iter()
        .filter_map(|p| {
            let n = fs::read_to_string(p).map(|s| s.lines().count()).unwrap_or(0);
            (n > 700).then(|| format!("{} ({n} lines)", rel(p)))
        })
        .collect();
    assert!(long.is_empty(), "files over 700 lines: {long:?}");
}

#[test]
fn the_readme_is_a_front_door() {
    let readme = fs::read_to_string(Path::new(ROOT).join("README.md")).unwrap();
    let n = readme.lines().count();
    assert!(n < 400, "README.md has {n} lines; details go in docs/");
    // Every relative link of the README leads somewhere.
    for part in readme.split("](").skip(1) {
        let target = part.split([')', '#']).next().unwrap_or("");
        if target.is_empty() || target.contains("://") || target.starts_with("mailto:") {
            continue;
        }
        assert!(Path::new(ROOT).join(target).exists(), "README.md links to {target}, which does not exist");
    }
}

#[test]
fn every_file_security_md_names_exists() {
    let security = fs::read_to_string(Path::new(ROOT).join("SECURITY.md")).unwrap();
    let places = ["", "src/", "tests/e2e/tests/", "src/protocol/tests/", "tests/browser/", "tests/mcp/"];
    let mut missing = vec![];
    for quoted in security.split('`').skip(1).step_by(2) {
        let named = quoted.ends_with(".rs") || quoted.ends_with(".mjs") || quoted.ends_with('/');
        // A path from the root ("/admin/") is an endpoint; files are named relative.
        if !named || quoted.contains([' ', ':']) || quoted.starts_with('/') {
            continue;
        }
        if !places.iter().any(|p| Path::new(ROOT).join(format!("{p}{quoted}")).exists()) {
            missing.push(quoted.to_string());
        }
    }
    assert!(missing.is_empty(), "SECURITY.md names files that do not exist: {missing:?}");
}

#[test]
fn the_rules_catch_what_they_are_for() {
    let src = "use crate::{store::X, objects};\nuse super::{a, b::c};\nfoo::crate::zzz";
    assert_eq!(uses_after(src, "crate"), ["objects", "store"].map(String::from).into());
    assert_eq!(uses_after(src, "super"), ["a", "b"].map(String::from).into());
    let g: BTreeMap<String, BTreeSet<String>> =
        [("a", "b"), ("b", "c"), ("c", "a")].iter().map(|(x, y)| (x.to_string(), [y.to_string()].into())).collect();
    assert!(cycle(&g).is_some());
    let g: BTreeMap<String, BTreeSet<String>> =
        [("a", "b"), ("b", "c")].iter().map(|(x, y)| (x.to_string(), [y.to_string()].into())).collect();
    assert_eq!(cycle(&g), None);
}
