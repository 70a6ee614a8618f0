//! The shape of the house, checked from the sources: no two modules of `crates/server/src` or
//! `crates/xmpp/src` import each other, directly or in a loop, and services, webhooks and the
//! HTTP surfaces never reach into the router (`../shared/DESIGN.md`).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// One module per file; a `#[path]` test file belongs to the module that declares it.
struct Module {
    path: String,
    /// Source with comments and string literals blanked out.
    code: String,
    /// Child modules it declares (`mod x;`).
    children: Vec<String>,
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Blanks comments, string and char literals, so that prose and test data are not imports.
fn strip(src: &str) -> String {
    let b = src.as_bytes();
    let mut out = String::with_capacity(src.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'/' if b.get(i + 1) == Some(&b'/') => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                i += 2;
                while i + 1 < b.len() && !(b[i] == b'*' && b[i + 1] == b'/') {
                    i += 1;
                }
                i += 2;
            }
            b'r' if b.get(i + 1) == Some(&b'#') || b.get(i + 1) == Some(&b'"') => {
                // Raw strings: r"…", r#"…"#, r##"…"##.
                let start = i;
                let mut j = i + 1;
                let mut hashes = 0;
                while b.get(j) == Some(&b'#') {
                    hashes += 1;
                    j += 1;
                }
                if b.get(j) != Some(&b'"') || (start > 0 && is_ident(b[start - 1])) {
                    out.push('r');
                    i += 1;
                    continue;
                }
                j += 1;
                let closing: Vec<u8> = std::iter::once(b'"')
                    .chain(std::iter::repeat_n(b'#', hashes))
                    .collect();
                while j < b.len() && !b[j..].starts_with(&closing) {
                    j += 1;
                }
                i = j + closing.len();
                out.push_str("\"\"");
            }
            b'"' => {
                i += 1;
                while i < b.len() && b[i] != b'"' {
                    if b[i] == b'\\' {
                        i += 1;
                    }
                    i += 1;
                }
                i += 1;
                out.push_str("\"\"");
            }
            b'\'' if b.get(i + 2) == Some(&b'\'') || b.get(i + 1) == Some(&b'\\') => {
                // A char literal ('x', '\n', '\''); lifetimes have no closing quote.
                i += 1;
                while i < b.len() && b[i] != b'\'' {
                    if b[i] == b'\\' {
                        i += 1;
                    }
                    i += 1;
                }
                i += 1;
            }
            c => {
                out.push(c as char);
                i += 1;
            }
        }
    }
    out
}

/// Removes `#[cfg(test)]` items (inline test modules, test-only imports and helpers) and
/// returns the names of test-only child module files (`#[cfg(test)] mod x;`): the rule is about
/// the code that ships, and tests may share helpers across the modules they test.
fn without_test_code(code: &str) -> (String, Vec<String>) {
    let mut out = String::with_capacity(code.len());
    let mut test_children = Vec::new();
    let mut rest = code;
    while let Some(pos) = rest.find("#[cfg(test)]") {
        out.push_str(&rest[..pos]);
        let after = rest[pos + "#[cfg(test)]".len()..].trim_start();
        // Further attributes (`#[path = …]`) belong to the same item.
        let mut item = after;
        while item.starts_with("#[") {
            let end = item.find(']').map_or(item.len(), |e| e + 1);
            item = item[end..].trim_start();
        }
        let semicolon = item.find(';');
        let brace = item.find('{');
        let end = match (semicolon, brace) {
            (Some(sc), Some(b)) if sc < b => sc + 1,
            (_, Some(b)) => {
                let mut depth = 0;
                let mut end = item.len();
                for (i, c) in item[b..].char_indices() {
                    match c {
                        '{' => depth += 1,
                        '}' => {
                            depth -= 1;
                            if depth == 0 {
                                end = b + i + 1;
                                break;
                            }
                        }
                        _ => {}
                    }
                }
                end
            }
            (Some(sc), None) => sc + 1,
            (None, None) => item.len(),
        };
        let declared = item[..end].trim();
        let declared = declared.strip_prefix("pub ").unwrap_or(declared);
        if let Some(name) = declared
            .strip_prefix("mod ")
            .and_then(|r| r.strip_suffix(';'))
        {
            test_children.push(name.trim().to_owned());
        }
        rest = &item[end..];
    }
    out.push_str(rest);
    (out, test_children)
}

fn is_ident(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_'
}

fn modules(src: &Path) -> BTreeMap<String, Module> {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    let mut by_file: BTreeMap<PathBuf, String> = BTreeMap::new();
    for file in &files {
        let rel = file.strip_prefix(src).unwrap().with_extension("");
        let mut parts: Vec<String> = rel
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect();
        if parts.last().is_some_and(|p| p == "mod" || p == "lib") {
            parts.pop();
        }
        by_file.insert(file.clone(), parts.join("::"));
    }
    // A `#[path = "x.rs"] mod tests;` file is part of the module that declares it.
    let sources: BTreeMap<PathBuf, String> = files
        .iter()
        .map(|f| (f.clone(), std::fs::read_to_string(f).unwrap()))
        .collect();
    for (file, text) in &sources {
        for line in text.lines() {
            if let Some(rest) = line.trim().strip_prefix("#[path = \"") {
                let name = rest.split('"').next().unwrap();
                let target = file.parent().unwrap().join(name);
                let owner = by_file[file].clone();
                by_file.insert(target, owner);
            }
        }
    }
    // Files declared `#[cfg(test)] mod x;` are left out with everything under them.
    let mut test_only: BTreeSet<String> = BTreeSet::new();
    for (file, text) in &sources {
        let (_, children) = without_test_code(&strip(text));
        for child in children {
            test_only.insert(join(&by_file[file], &child));
        }
    }
    let mut out: BTreeMap<String, Module> = BTreeMap::new();
    for (file, path) in &by_file {
        if test_only
            .iter()
            .any(|t| path == t || path.starts_with(&format!("{t}::")))
        {
            continue;
        }
        let (code, _) = without_test_code(&strip(&sources[file]));
        let children = code
            .lines()
            .filter_map(|l| {
                let l = l.trim();
                let l = l.strip_prefix("pub ").unwrap_or(l);
                let l = l.strip_prefix("pub(crate) ").unwrap_or(l);
                l.strip_prefix("mod ")
                    .and_then(|r| r.strip_suffix(';'))
                    .map(str::to_owned)
            })
            .collect();
        let module = out.entry(path.clone()).or_insert(Module {
            path: path.clone(),
            code: String::new(),
            children: Vec::new(),
        });
        module.code.push_str(&code);
        module.code.push('\n');
        module.children.extend::<Vec<String>>(children);
    }
    out
}

fn join(prefix: &str, rest: &str) -> String {
    match (prefix.is_empty(), rest.is_empty()) {
        (true, _) => rest.to_owned(),
        (_, true) => prefix.to_owned(),
        _ => format!("{prefix}::{rest}"),
    }
}

fn parent(path: &str) -> String {
    path.rsplit_once("::")
        .map_or(String::new(), |(p, _)| p.to_owned())
}

/// The paths that follow `anchor` in `code` (`crate::a::b`, `super::{x, y::z}`…).
fn paths_after(code: &str, anchor: &str) -> Vec<String> {
    located_paths(code, anchor)
        .into_iter()
        .map(|(_, p)| p)
        .collect()
}

/// [`paths_after`] with the byte offset of each occurrence.
fn located_paths(code: &str, anchor: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let b = code.as_bytes();
    let mut from = 0;
    while let Some(pos) = code[from..].find(anchor) {
        let start = from + pos;
        from = start + anchor.len();
        if start > 0 && (is_ident(b[start - 1]) || b[start - 1] == b':') {
            continue;
        }
        if b.get(from) == Some(&b'{') {
            let mut depth = 0;
            let mut end = from;
            for (i, c) in code[from..].char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' => {
                        depth -= 1;
                        if depth == 0 {
                            end = from + i;
                            break;
                        }
                    }
                    _ => {}
                }
            }
            let inner = &code[from + 1..end];
            let mut depth = 0;
            let mut item = String::new();
            for c in inner.chars() {
                match c {
                    '{' => depth += 1,
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        out.push((start, std::mem::take(&mut item)));
                        continue;
                    }
                    _ => {}
                }
                item.push(c);
            }
            out.push((start, item));
        } else {
            let item: String = code[from..]
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':')
                .collect();
            out.push((start, item));
        }
    }
    out.into_iter()
        .map(|(at, p)| {
            let p = p
                .trim_start()
                .split(['{', ' ', '\n', '\t'])
                .next()
                .unwrap_or_default()
                .trim_end_matches("::")
                .trim()
                .to_owned();
            (at, p)
        })
        .filter(|(_, p)| !p.is_empty())
        .collect()
}

/// Byte ranges of inline module blocks (`mod tests { … }`): `super` inside one of them names
/// the file's own module, not its parent.
fn inline_modules(code: &str) -> Vec<std::ops::Range<usize>> {
    let mut ranges = Vec::new();
    let mut from = 0;
    while let Some(pos) = code[from..].find("mod ") {
        let start = from + pos;
        from = start + 4;
        if start > 0 && is_ident(code.as_bytes()[start - 1]) {
            continue;
        }
        let rest = &code[from..];
        let name_len = rest.bytes().take_while(|b| is_ident(*b)).count();
        let after = rest[name_len..].trim_start();
        if name_len == 0 || !after.starts_with('{') {
            continue;
        }
        let open = code.len() - after.len();
        let mut depth = 0;
        for (i, c) in code[open..].char_indices() {
            match c {
                '{' => depth += 1,
                '}' => {
                    depth -= 1;
                    if depth == 0 {
                        ranges.push(open..open + i);
                        break;
                    }
                }
                _ => {}
            }
        }
    }
    ranges
}

/// The module a path inside `known` names: its longest module prefix.
fn resolve(path: &str, known: &BTreeSet<String>) -> Option<String> {
    let parts: Vec<&str> = path.split("::").filter(|p| !p.is_empty()).collect();
    (0..=parts.len())
        .rev()
        .map(|n| parts[..n].join("::"))
        .find(|candidate| known.contains(candidate))
}

fn edges(modules: &BTreeMap<String, Module>) -> BTreeMap<String, BTreeSet<String>> {
    let known: BTreeSet<String> = modules.keys().cloned().collect();
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for m in modules.values() {
        let mut targets = Vec::new();
        for p in paths_after(&m.code, "crate::") {
            targets.push(p);
        }
        let inline = inline_modules(&m.code);
        for (at, p) in located_paths(&m.code, "super::") {
            let nested = inline.iter().filter(|r| r.contains(&at)).count();
            // Inside `mod tests { … }`, the first `super` is the file's module itself.
            let mut base = if nested > 0 {
                m.path.clone()
            } else {
                parent(&m.path)
            };
            let mut rest = p.as_str();
            while let Some(r) = rest.strip_prefix("super::") {
                base = parent(&base);
                rest = r;
            }
            targets.push(join(&base, rest));
        }
        for p in paths_after(&m.code, "self::") {
            targets.push(join(&m.path, &p));
        }
        for child in &m.children {
            for p in paths_after(&m.code, &format!("{child}::")) {
                targets.push(join(&m.path, &join(child, &p)));
            }
        }
        let deps = graph.entry(m.path.clone()).or_default();
        for t in targets {
            if let Some(target) = resolve(&t, &known)
                && target != m.path
                && !target.is_empty()
            {
                deps.insert(target);
            }
        }
    }
    graph
}

/// Modules that import each other directly or through a loop (Tarjan's strongly connected
/// components of more than one module).
fn loops(graph: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    struct State<'a> {
        graph: &'a BTreeMap<String, BTreeSet<String>>,
        index: BTreeMap<&'a str, usize>,
        low: BTreeMap<&'a str, usize>,
        stack: Vec<&'a str>,
        on_stack: BTreeSet<&'a str>,
        next: usize,
        found: Vec<Vec<String>>,
    }
    fn visit<'a>(s: &mut State<'a>, v: &'a str) {
        s.index.insert(v, s.next);
        s.low.insert(v, s.next);
        s.next += 1;
        s.stack.push(v);
        s.on_stack.insert(v);
        let graph = s.graph;
        for w in graph.get(v).into_iter().flatten() {
            let w = w.as_str();
            if !s.index.contains_key(w) {
                visit(s, w);
                let low = s.low[v].min(s.low[w]);
                s.low.insert(v, low);
            } else if s.on_stack.contains(w) {
                let low = s.low[v].min(s.index[w]);
                s.low.insert(v, low);
            }
        }
        if s.low[v] == s.index[v] {
            let mut component = Vec::new();
            while let Some(w) = s.stack.pop() {
                s.on_stack.remove(w);
                component.push(w.to_owned());
                if w == v {
                    break;
                }
            }
            if component.len() > 1 {
                component.sort();
                s.found.push(component);
            }
        }
    }
    let mut state = State {
        graph,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        next: 0,
        found: Vec::new(),
    };
    for v in graph.keys() {
        if !state.index.contains_key(v.as_str()) {
            visit(&mut state, v);
        }
    }
    state.found
}

fn graph_of(krate: &str) -> BTreeMap<String, BTreeSet<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(krate)
        .join("src");
    edges(&modules(&src))
}

fn assert_acyclic(krate: &str) {
    let found = loops(&graph_of(krate));
    assert!(
        found.is_empty(),
        "{krate}: modules importing each other (directly or in a loop): {found:#?}"
    );
}

#[test]
fn server_modules_never_import_each_other() {
    assert_acyclic("crates/server");
}

#[test]
fn services_webhooks_and_http_never_reach_into_the_router() {
    let graph = graph_of("crates/server");
    for (module, deps) in &graph {
        let surface = ["services", "webhook", "http"]
            .iter()
            .any(|s| module == s || module.starts_with(&format!("{s}::")));
        if surface {
            let into_router: Vec<&String> = deps
                .iter()
                .filter(|d| *d == "router" || d.starts_with("router::"))
                .collect();
            assert!(into_router.is_empty(), "{module} imports {into_router:?}");
        }
    }
}

#[test]
fn the_checker_sees_loops() {
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    graph.insert("a".into(), ["b".to_owned()].into());
    graph.insert("b".into(), ["c".to_owned()].into());
    graph.insert("c".into(), ["a".to_owned()].into());
    graph.insert("d".into(), ["a".to_owned()].into());
    assert_eq!(loops(&graph), vec![vec!["a", "b", "c"]]);
    let code = strip("use super::{x, y::z};\n// crate::ignored\nlet s = \"crate::nope\";\n");
    assert_eq!(paths_after(&code, "super::"), vec!["x", "y::z"]);
    assert!(paths_after(&code, "crate::").is_empty());
    let (code, children) = without_test_code(
        "use crate::a;\n#[cfg(test)]\nuse crate::b;\n#[cfg(test)]\n#[path = \"t.rs\"]\nmod t;\n#[cfg(test)]\nmod tests {\n    use crate::c;\n}\n",
    );
    assert_eq!(paths_after(&code, "crate::"), vec!["a"]);
    assert_eq!(children, vec!["t"]);
}

#[test]
fn xmpp_modules_never_import_each_other() {
    assert_acyclic("crates/xmpp");
}
