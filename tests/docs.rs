//! The README's reference tables are generated from the declarations; this
//! keeps the copy in the README current.

fn between<'a>(text: &'a str, name: &str) -> &'a str {
    let begin = format!("<!-- {name}:begin -->\n");
    let end = format!("<!-- {name}:end -->");
    let start = text.find(&begin).expect("begin marker") + begin.len();
    let stop = text.find(&end).expect("end marker");
    &text[start..stop]
}

#[test]
fn readme_reference_tables_match_the_declarations() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    assert_eq!(
        between(&readme, "feeds"),
        motcua::spec::feeds::render_markdown(),
        "README feed tables are stale: paste the output of `motcua feeds`"
    );
    assert_eq!(
        between(&readme, "kpis"),
        motcua::spec::kpis::render_markdown(),
        "README KPI table is stale: paste the output of `motcua kpis`"
    );
}
