//! The code layout the README's table describes: each folder of `src/`
//! depends only on those listed before it, so that no cycle can form.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// In the README's order; `cli`, `fuzz` and `hot` sit on top of everything.
const ORDER: &[&str] = &[
    "spec", "storage", "read", "validate", "lake", "dedupe", "stage", "current", "ingest",
    "publish", "sql", "kpi_job", "report", "serve", "cluster", "sample", "cli", "fuzz", "hot",
];
/// Used throughout; they name nothing but each other.
const EVERYWHERE: &[&str] = &["error", "interrupt"];

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn sources(dir: &Path, into: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read src") {
        let path = entry.expect("an entry").path();
        if path.is_dir() {
            sources(&path, into);
        } else if path.extension().is_some_and(|e| e == "rs") {
            into.push(path);
        }
    }
}

/// A file's code without its inline test module (`#[cfg(test)] mod tests {`,
/// which ends the file by convention); a `mod tests;` line is kept out too.
fn without_tests(text: &str) -> String {
    let code = match text.find("#[cfg(test)]\nmod tests {") {
        Some(at) => &text[..at],
        None => text,
    };
    code.replace("#[cfg(test)]\nmod tests;", "")
}

/// The top-level modules named by `crate::…` (grouped `crate::{a, b::C}`
/// too) and by `super::…` chains that climb to the crate root from a file
/// `depth` modules below it.
fn named_modules(code: &str, depth: usize) -> BTreeSet<String> {
    let mut named = BTreeSet::new();
    let ident = |s: &str| -> String {
        s.trim_start()
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect()
    };
    for (i, _) in code.match_indices("crate::") {
        let rest = &code[i + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let group = &group[..group.find('}').unwrap_or(group.len())];
            named.extend(group.split(',').map(ident));
        } else {
            named.insert(ident(rest));
        }
    }
    for (i, _) in code.match_indices("super::") {
        if code[..i].ends_with("super::") {
            continue;
        }
        let mut rest = &code[i..];
        let mut climbs = 0;
        while let Some(r) = rest.strip_prefix("super::") {
            rest = r;
            climbs += 1;
        }
        if climbs >= depth {
            named.insert(ident(rest));
        }
    }
    named.retain(|m| !m.is_empty() && m.chars().all(|c| c.is_ascii_lowercase() || c == '_'));
    named
}

/// The top-level module of a file under `src/` and how deep the file's
/// module is (`x.rs`, `x/mod.rs`: 1; `x/y.rs`: 2).
fn module_of(rel: &Path) -> (String, usize) {
    let parts: Vec<&str> = rel.iter().filter_map(|p| p.to_str()).collect();
    let top = parts[0].trim_end_matches(".rs").to_string();
    let depth = parts.len() - usize::from(parts.last() == Some(&"mod.rs"));
    (top, depth)
}

#[test]
fn the_scanner_sees_every_way_a_module_is_named() {
    let code = "use crate::{lake::Manifest, spec::feeds::Feed};\nuse crate::Error;\n\
                fn f() { super::super::sql::run(); super::sibling(); crate::current::key(); }";
    let names = |depth| named_modules(code, depth).into_iter().collect::<Vec<_>>();
    assert_eq!(names(2), ["current", "lake", "spec", "sql"]);
    assert_eq!(names(1), ["current", "lake", "sibling", "spec", "sql"]);
    let with_tests = "use crate::lake;\n#[cfg(test)]\nmod tests;\nuse crate::sql;\n\
                      #[cfg(test)]\nmod tests {\n use crate::cli;\n}";
    assert_eq!(
        named_modules(&without_tests(with_tests), 1)
            .into_iter()
            .collect::<Vec<_>>(),
        ["lake", "sql"]
    );
}

#[test]
fn each_folder_depends_only_on_those_before_it() {
    let src = src();
    let mut files = Vec::new();
    sources(&src, &mut files);
    let mut wrong = Vec::new();
    let mut seen = BTreeSet::new();
    for file in &files {
        let rel = file.strip_prefix(&src).expect("under src");
        let (module, depth) = module_of(rel);
        let code = without_tests(&std::fs::read_to_string(file).expect("read a source file"));
        let named = named_modules(&code, depth);
        let allowed = |other: &str| -> bool {
            if module == "lib" {
                // The crate root re-exports only the error type.
                return !code.contains("pub use ") || other == "error";
            }
            if module == "main" || other == module {
                return true;
            }
            if EVERYWHERE.contains(&module.as_str()) {
                return EVERYWHERE.contains(&other);
            }
            if EVERYWHERE.contains(&other) {
                return true;
            }
            let rank = |m: &str| ORDER.iter().position(|o| *o == m);
            let mine = rank(&module)
                .unwrap_or_else(|| panic!("src/{module} is not in ORDER (and the README's table)"));
            rank(other).is_some_and(|theirs| theirs < mine)
        };
        for other in named {
            seen.insert((module.clone(), other.clone()));
            if !allowed(&other) {
                wrong.push(format!("{} names {other}", rel.display()));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "dependencies against the layout: {wrong:#?}"
    );
    for known in [("ingest", "lake"), ("sql", "current"), ("cli", "kpi_job")] {
        let known = (known.0.to_string(), known.1.to_string());
        assert!(seen.contains(&known), "the scan missed {known:?}");
    }
}

#[test]
fn the_readme_table_lists_every_folder_in_that_order() {
    let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md"))
        .expect("read README.md");
    let mut listed: Vec<String> = Vec::new();
    for row in readme.lines().filter(|l| l.starts_with("| `src/")) {
        let first_cell = row.split(" | ").next().unwrap_or_default();
        for (i, _) in first_cell.match_indices("src/") {
            let name: String = first_cell[i + 4..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            if ORDER.contains(&name.as_str()) {
                listed.push(name);
            }
        }
    }
    assert_eq!(listed, ORDER);
}
