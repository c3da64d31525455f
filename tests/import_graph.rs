//! The core's modules import one another only downward: the graph of the `crate::` (and
//! `super::`, `self::`) paths between the modules of src/ has no cycle. src/lib.rs (the root,
//! which re-exports everything) and src/ffi (the C API, a layer above the core) are not nodes;
//! test code is left out. `make import-graph` prints the graph, lowest modules first.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Every module of the core by its path (`inbound::listener`), with its code: comments and
/// `#[cfg(test)]` items removed.
fn modules() -> BTreeMap<String, String> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut modules = BTreeMap::new();
    let mut dirs = vec![src.clone()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let relative = path
                .strip_prefix(&src)
                .unwrap()
                .to_str()
                .unwrap()
                .to_owned();
            if relative == "ffi" || relative == "lib.rs" {
                continue;
            }
            if path.is_dir() {
                dirs.push(path);
            } else if let Some(name) = relative.strip_suffix(".rs") {
                let name = name.strip_suffix("/mod").unwrap_or(name).replace('/', "::");
                modules.insert(name, code_of(&std::fs::read_to_string(&path).unwrap()));
            }
        }
    }
    modules
}

/// The code of a source file without comments and without its `#[cfg(test)]` items.
fn code_of(source: &str) -> String {
    let mut code = String::new();
    let mut skipping = false;
    let mut depth = 0i32;
    for line in source.lines() {
        let line = strip_comment(line);
        if line.trim() == "#[cfg(test)]" {
            skipping = true;
            depth = 0;
            continue;
        }
        if skipping {
            depth += line.matches('{').count() as i32 - line.matches('}').count() as i32;
            let ended = depth <= 0 && (line.contains('}') || line.trim_end().ends_with(';'));
            if ended {
                skipping = false;
            }
            continue;
        }
        code.push_str(line);
        code.push('\n');
    }
    code
}

/// A line without its `//` comment (a `//` after `:` is a URL in a string, not a comment).
fn strip_comment(line: &str) -> &str {
    let mut from = 0;
    while let Some(at) = line[from..].find("//") {
        let at = from + at;
        if at == 0 || !line[..at].ends_with(':') {
            return &line[..at];
        }
        from = at + 2;
    }
    line
}

/// The paths of a use tree that starts at `text` (after `crate::`): `a::b`, `{a::b, c}`...
fn use_paths(text: &str) -> Vec<Vec<String>> {
    fn tree(
        chars: &mut std::iter::Peekable<std::str::Chars<'_>>,
        prefix: &[String],
        out: &mut Vec<Vec<String>>,
    ) {
        skip_space(chars);
        if chars.peek() == Some(&'{') {
            chars.next();
            loop {
                tree(chars, prefix, out);
                skip_space(chars);
                match chars.next() {
                    Some(',') => {
                        skip_space(chars);
                        if chars.peek() == Some(&'}') {
                            chars.next();
                            return;
                        }
                    }
                    _ => return,
                }
            }
        }
        let mut segment = String::new();
        while let Some(&c) = chars.peek() {
            if c.is_alphanumeric() || c == '_' || c == '*' {
                segment.push(c);
                chars.next();
            } else {
                break;
            }
        }
        let mut path = prefix.to_vec();
        if !segment.is_empty() {
            path.push(segment);
        }
        let mut rest = chars.clone();
        if rest.next() == Some(':') && rest.next() == Some(':') {
            chars.next();
            chars.next();
            tree(chars, &path, out);
        } else {
            out.push(path);
        }
    }
    fn skip_space(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) {
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
    }
    let mut out = Vec::new();
    tree(&mut text.chars().peekable(), &[], &mut out);
    out
}

/// The module a path from the crate's root names: its longest prefix that is a module, or
/// the module an item re-exported at the root comes from.
fn resolve(
    path: &[String],
    modules: &BTreeMap<String, String>,
    reexports: &BTreeMap<String, String>,
) -> Option<String> {
    (1..=path.len())
        .rev()
        .map(|n| path[..n].join("::"))
        .find(|prefix| modules.contains_key(prefix))
        .or_else(|| reexports.get(path.first()?).cloned())
}

/// Every path after `marker` in `code`, from the crate's root (`base` is where `marker`
/// leads: the crate's root for `crate::`, the parent module for `super::`).
fn paths_after(code: &str, marker: &str, base: &[String]) -> Vec<Vec<String>> {
    let mut paths = Vec::new();
    let mut from = 0;
    while let Some(at) = code[from..].find(marker) {
        let at = from + at;
        from = at + marker.len();
        let before = code[..at].chars().last();
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':') {
            continue;
        }
        for tail in use_paths(&code[from..]) {
            paths.push(base.iter().cloned().chain(tail).collect());
        }
    }
    paths
}

/// The items lib.rs re-exports, each with the module it comes from.
fn reexports(modules: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    let lib = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/src/lib.rs")).unwrap();
    let lib = code_of(&lib);
    let mut items = BTreeMap::new();
    for path in paths_after(&lib, "pub use ", &[]) {
        if let (Some(item), Some(module)) = (path.last(), resolve(&path, modules, &BTreeMap::new()))
        {
            items.insert(item.clone(), module);
        }
    }
    items
}

/// The graph: each module with the modules it imports.
fn graph() -> BTreeMap<String, BTreeSet<String>> {
    let modules = modules();
    let reexports = reexports(&modules);
    let mut graph = BTreeMap::new();
    for (name, code) in &modules {
        let segments: Vec<String> = name.split("::").map(str::to_owned).collect();
        let parent = &segments[..segments.len() - 1];
        let mut paths = paths_after(code, "crate::", &[]);
        paths.extend(paths_after(code, "super::", parent));
        paths.extend(paths_after(code, "self::", &segments));
        let imports: BTreeSet<String> = paths
            .iter()
            .filter_map(|path| resolve(path, &modules, &reexports))
            .filter(|module| module != name)
            .collect();
        graph.insert(name.clone(), imports);
    }
    graph
}

/// The modules in an order where each comes after every module it imports, or a cycle.
fn layers(graph: &BTreeMap<String, BTreeSet<String>>) -> Result<Vec<String>, Vec<String>> {
    fn visit(
        module: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
        order: &mut Vec<String>,
    ) -> Result<(), Vec<String>> {
        if done.contains(module) {
            return Ok(());
        }
        if let Some(at) = path.iter().position(|m| m == module) {
            let mut cycle = path[at..].to_vec();
            cycle.push(module.to_owned());
            return Err(cycle);
        }
        path.push(module.to_owned());
        for import in &graph[module] {
            visit(import, graph, path, done, order)?;
        }
        path.pop();
        done.insert(module.to_owned());
        order.push(module.to_owned());
        Ok(())
    }
    let (mut done, mut order) = (BTreeSet::new(), Vec::new());
    for module in graph.keys() {
        visit(module, graph, &mut Vec::new(), &mut done, &mut order)?;
    }
    Ok(order)
}

#[test]
fn the_core_imports_only_downward() {
    let graph = graph();
    if std::env::var("DUMP").is_ok() {
        for (m, i) in &graph {
            eprintln!(
                "{m} -> {}",
                i.iter().cloned().collect::<Vec<_>>().join(", ")
            );
        }
    }
    match layers(&graph) {
        Ok(order) => {
            for module in order {
                let imports: Vec<&str> = graph[&module].iter().map(String::as_str).collect();
                println!("{module} -> {}", imports.join(", "));
            }
        }
        Err(cycle) => panic!("the core's imports go round: {}", cycle.join(" -> ")),
    }
}

#[test]
fn use_trees_are_read_whole() {
    let paths = use_paths("{config::{validate_groups, Config}, error::Error};");
    let want: Vec<Vec<String>> = [
        ["config", "validate_groups"],
        ["config", "Config"],
        ["error", "Error"],
    ]
    .iter()
    .map(|p| p.iter().map(|s| s.to_string()).collect())
    .collect();
    assert_eq!(paths, want);
    assert_eq!(
        strip_comment("let url = \"ws://x\"; // note"),
        "let url = \"ws://x\"; "
    );
    assert_eq!(
        code_of("use a;\n#[cfg(test)]\nmod tests {\n    use crate::b;\n}\nuse c;\n"),
        "use a;\nuse c;\n"
    );
}
