//! The code layout the README's table describes: each folder of `src/`
//! depends only on those listed before it, so that no cycle can form.

use std::collections::BTreeSet;
use std::path::Path;

/// In the README's order; `error` and `interrupt` are used throughout, and
/// `cli`, `sample`, `fuzz` and `hot` sit on top of everything.
const ORDER: &[&str] = &[
    "spec", "storage", "read", "validate", "lake", "dedupe", "stage", "current", "ingest",
    "publish", "sql", "kpi_job", "sample", "cli", "fuzz", "hot",
];
const EVERYWHERE: &[&str] = &["error", "interrupt"];

fn sources(dir: &Path, into: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read src") {
        let path = entry.expect("an entry").path();
        if path.is_dir() {
            sources(&path, into);
        } else if path.extension().is_some_and(|e| e == "rs") {
            into.push(path);
        }
    }
}

/// The top-level modules a file names as `crate::X`, outside its tests.
fn named_modules(text: &str) -> BTreeSet<String> {
    let code = text.split("#[cfg(test)]").next().unwrap_or_default();
    code.match_indices("crate::")
        .map(|(i, _)| {
            code[i + 7..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect::<String>()
        })
        .filter(|m| !m.is_empty() && m.chars().all(|c| c.is_ascii_lowercase() || c == '_'))
        .collect()
}

#[test]
fn each_folder_depends_only_on_those_before_it() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&src, &mut files);
    let mut wrong = Vec::new();
    for file in &files {
        let rel = file.strip_prefix(&src).expect("under src");
        let module = rel
            .components()
            .next()
            .and_then(|c| c.as_os_str().to_str())
            .map(|m| m.trim_end_matches(".rs").to_string())
            .expect("a module");
        if ["lib", "main"].contains(&module.as_str()) || EVERYWHERE.contains(&module.as_str()) {
            continue;
        }
        let rank = ORDER
            .iter()
            .position(|m| *m == module)
            .unwrap_or_else(|| panic!("src/{module} is not in ORDER (and the README's table)"));
        let text = std::fs::read_to_string(file).expect("read a source file");
        for named in named_modules(&text) {
            if named == module || EVERYWHERE.contains(&named.as_str()) {
                continue;
            }
            match ORDER.iter().position(|m| *m == named) {
                Some(r) if r < rank => {}
                _ => wrong.push(format!("{} names crate::{named}", rel.display())),
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "dependencies against the layout: {wrong:#?}"
    );
}

#[test]
fn the_readme_table_lists_the_folders_in_that_order() {
    let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md"))
        .expect("read README.md");
    let listed: Vec<&str> = readme
        .lines()
        .filter_map(|l| l.strip_prefix("| `src/"))
        .filter_map(|l| l.split(['/', '.', '`']).next())
        .filter(|m| ORDER.contains(m))
        .collect();
    let expected: Vec<&str> = ORDER
        .iter()
        .copied()
        .filter(|m| listed.contains(m))
        .collect();
    assert_eq!(listed, expected);
    assert!(listed.len() >= 12, "{listed:?}");
}
