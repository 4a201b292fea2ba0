//! The house rules of DESIGN.md's layout, checked from the sources: the
//! top-level modules of `src/` import each other without cycles, and no
//! file outside a platform's folder (`src/chat/<platform>/`) and the
//! registry (`src/chat/registry.rs`) names a platform's module or types.
//!
//! A reference is any `crate::NAME` in code (grouped `crate::{a, b}` too)
//! outside comments; `src/main.rs` and `src/lib.rs` are the roots and not
//! modules of their own.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Every `.rs` file under `dir`.
fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read src") {
        let path = entry.expect("a dir entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The code of a line without its `//` comment (good enough for this
/// source tree: no `//` inside string literals next to `crate::`).
fn code_of(line: &str) -> &str {
    line.find("//").map_or(line, |i| &line[..i])
}

/// The top-level modules a piece of code names through `crate::`.
fn referenced(code: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut rest = code;
    while let Some(i) = rest.find("crate::") {
        rest = &rest[i + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            // `crate::{a::X, b}`: the first segment of each item.
            let end = group.find('}').unwrap_or(group.len());
            for item in group[..end].split(',') {
                let name: String = item
                    .trim()
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                if !name.is_empty() {
                    out.insert(name);
                }
            }
        } else {
            let name: String = rest
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            if !name.is_empty() {
                out.insert(name);
            }
        }
    }
    out
}

/// module → (module it names → the first `file:line` that does).
fn module_graph() -> BTreeMap<String, BTreeMap<String, String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut graph: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    for file in files {
        let rel = file.strip_prefix(&src).expect("under src");
        let first = rel.components().next().expect("a component");
        let module = first
            .as_os_str()
            .to_string_lossy()
            .trim_end_matches(".rs")
            .to_owned();
        if module == "main" || module == "lib" {
            continue;
        }
        let text = std::fs::read_to_string(&file).expect("read a source file");
        let edges = graph.entry(module.clone()).or_default();
        for (n, line) in text.lines().enumerate() {
            for to in referenced(code_of(line)) {
                if to != module {
                    edges
                        .entry(to)
                        .or_insert_with(|| format!("src/{}:{}", rel.display(), n + 1));
                }
            }
        }
    }
    graph
}

/// A cycle through `start`, if any, as the list of modules walked.
fn cycle_from(
    graph: &BTreeMap<String, BTreeMap<String, String>>,
    start: &str,
) -> Option<Vec<String>> {
    fn walk(
        graph: &BTreeMap<String, BTreeMap<String, String>>,
        start: &str,
        at: &str,
        path: &mut Vec<String>,
        seen: &mut BTreeSet<String>,
    ) -> bool {
        for next in graph.get(at).into_iter().flat_map(|e| e.keys()) {
            if next == start {
                path.push(next.clone());
                return true;
            }
            if seen.insert(next.clone()) {
                path.push(next.clone());
                if walk(graph, start, next, path, seen) {
                    return true;
                }
                path.pop();
            }
        }
        false
    }
    let mut path = vec![start.to_owned()];
    let mut seen = BTreeSet::new();
    walk(graph, start, start, &mut path, &mut seen).then_some(path)
}

#[test]
fn the_reference_reader_sees_plain_and_grouped_paths() {
    assert_eq!(
        referenced("use crate::{store::Store, telemetry};"),
        ["store", "telemetry"].map(String::from).into()
    );
    assert_eq!(
        referenced("let x = crate::clock::now_secs() + crate::text::f(1);"),
        ["clock", "text"].map(String::from).into()
    );
    assert!(referenced(code_of("// see crate::app")).is_empty());
}

#[test]
fn top_level_modules_import_each_other_without_cycles() {
    let graph = module_graph();
    assert!(graph.len() > 10, "the sources were read: {graph:?}");
    let mut cycles = Vec::new();
    for module in graph.keys() {
        if let Some(path) = cycle_from(&graph, module) {
            let arrows: Vec<String> = path
                .windows(2)
                .map(|w| format!("{} -> {} ({})", w[0], w[1], graph[&w[0]][&w[1]]))
                .collect();
            cycles.push(arrows.join(", "));
        }
    }
    assert!(
        cycles.is_empty(),
        "import cycles between top-level modules of src/ (DESIGN.md, Layout):\n{}",
        cycles.join("\n")
    );
}

/// The platform folders: every folder under `src/chat/`.
fn platform_folders() -> Vec<String> {
    let chat = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/chat");
    let mut names: Vec<String> = std::fs::read_dir(chat)
        .expect("read src/chat")
        .filter_map(Result::ok)
        .filter(|e| e.path().is_dir())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// `code` without the contents of its string literals (user-facing text
/// may say "Telegram"; only code names types).
fn without_strings(code: &str) -> String {
    let mut out = String::new();
    let mut in_string = false;
    let mut escaped = false;
    for c in code.chars() {
        if in_string {
            match (escaped, c) {
                (false, '\\') => escaped = true,
                (false, '"') => in_string = false,
                _ => escaped = false,
            }
        } else if c == '"' {
            in_string = true;
            out.push_str("\"\"");
        } else {
            out.push(c);
        }
    }
    out
}

/// What in `code` names the platform `folder` (`telegram`): its module
/// path (`telegram::…`) or a type whose name starts with `Telegram`.
/// String literals are not read.
fn names_platform(code: &str, folder: &str) -> Option<String> {
    let code = without_strings(code);
    let camel: String = folder
        .chars()
        .take(1)
        .flat_map(char::to_uppercase)
        .chain(folder.chars().skip(1))
        .collect();
    let is_ident = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let words = code.split(|c: char| !is_ident(c) && c != ':');
    for word in words {
        for segment in word.split("::") {
            if segment == camel
                || (segment.starts_with(&camel)
                    && segment[camel.len()..].starts_with(|c: char| c.is_ascii_uppercase()))
            {
                return Some(segment.to_owned());
            }
        }
        if word
            .split("::")
            .collect::<Vec<_>>()
            .windows(2)
            .any(|w| w[0] == folder)
        {
            return Some(word.to_owned());
        }
    }
    None
}

#[test]
fn the_platform_reader_sees_modules_and_types() {
    assert_eq!(
        names_platform("use crate::chat::telegram::TelegramAdapter;", "telegram").as_deref(),
        Some("TelegramAdapter")
    );
    assert!(names_platform("let x = telegram::pacer();", "telegram").is_some());
    assert!(names_platform("let p = registry::find(name);", "telegram").is_none());
    assert!(names_platform("fn telegrams() {}", "telegram").is_none());
    assert!(names_platform(r#"about = "to Telegram chats","#, "telegram").is_none());
}

#[test]
fn only_a_platforms_folder_and_the_registry_name_it() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let folders = platform_folders();
    assert!(folders.len() >= 2, "platform folders found: {folders:?}");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut found = Vec::new();
    for file in files {
        let rel = file.strip_prefix(&src).expect("under src");
        let rel_s = rel.to_string_lossy().replace('\\', "/");
        if rel_s == "chat/registry.rs" {
            continue;
        }
        let text = std::fs::read_to_string(&file).expect("read a source file");
        for folder in &folders {
            if rel_s.starts_with(&format!("chat/{folder}/")) {
                continue;
            }
            for (n, line) in text.lines().enumerate() {
                if let Some(what) = names_platform(code_of(line), folder) {
                    found.push(format!("src/{rel_s}:{}: {what}", n + 1));
                }
            }
        }
    }
    assert!(
        found.is_empty(),
        "files outside src/chat/<platform>/ and src/chat/registry.rs name a platform (DESIGN.md, Layout):\n{}",
        found.join("\n")
    );
}
