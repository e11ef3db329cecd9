//! Saved queries and ad-hoc SQL: typed parameters, read-only, and the list.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::*;
use motcua::Error;
use motcua::spec::feeds::Feed;
use motcua::sql::{self, QuerySource, SavedQuery};
use motcua::validate::time::Zone;

fn queries_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("queries")
}

fn small_lake() -> Fixture {
    let f = Fixture::new();
    f.ingest_text(
        Feed::Units,
        "units.csv",
        "unit_code,name,level,parent_code\nP,Tỉnh,province,\nD1,Huyện,district,P\n",
    );
    f.ingest_text(
        Feed::Signatures,
        "s.csv",
        "event_id,occurred_at,unit_code,event_type,signed\nS1,2024-03-05,D1,document_issued,true\nS2,2024-04-05,D1,document_issued,false\nS3,2024-04-06,ZZ,document_issued,false\n",
    );
    f
}

fn run(
    f: &Fixture,
    source: QuerySource,
    params: &[(&str, &str)],
) -> motcua::Result<Vec<Vec<String>>> {
    let params: Vec<(String, String)> = params
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let result = tokio::runtime::Runtime::new().unwrap().block_on(sql::run(
        &f.location(),
        &f.dir.path().join("out").into(),
        &source,
        &params,
    ))?;
    Ok(rows(&result.batches))
}

#[test]
fn saved_query_headers_give_description_and_typed_parameters() {
    let q = SavedQuery::parse(
        "t",
        None,
        "-- Documents of one unit.\n-- Second line.\n-- @param unit text D1   The unit\n-- @param day date required   First day\nSELECT 1",
    )
    .unwrap();
    assert_eq!(q.description, "Documents of one unit. Second line.");
    assert_eq!(q.params.len(), 2);
    assert_eq!(q.params[0].default.as_deref(), Some("D1"));
    assert_eq!(q.params[1].default, None);
    assert_eq!(q.params[1].description, "First day");
    let err = q.bind(&[], &Zone::default()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "bad argument: query t needs --param day=<date>"
    );
    let err = q
        .bind(&[("day".into(), "2024-02-30".into())], &Zone::default())
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "bad argument: parameter day: '2024-02-30' is not a date (YYYY-MM-DD)"
    );
    let err = q
        .bind(&[("month".into(), "x".into())], &Zone::default())
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "bad argument: query t has no parameter 'month'; its parameters are: unit, day"
    );
    assert!(SavedQuery::parse("t", None, "-- @param x decimal 1\nSELECT 1").is_err());
}

#[test]
fn parameters_are_bound_as_typed_values_not_pasted_into_sql() {
    let f = small_lake();
    let saved = SavedQuery::parse(
        "docs",
        None,
        "-- @param unit text D1\n-- @param from date required\nSELECT event_id FROM signatures WHERE unit_code = $unit AND occurred_on >= $from ORDER BY event_id",
    )
    .unwrap();
    assert_eq!(
        run(
            &f,
            QuerySource::Saved(saved.clone()),
            &[("from", "2024-04-01")]
        )
        .unwrap(),
        vec![vec!["S2"]]
    );
    // A value that would break out of a pasted string is just a value.
    assert_eq!(
        run(
            &f,
            QuerySource::Saved(saved),
            &[("from", "2024-01-01"), ("unit", "D1' OR '1'='1")]
        )
        .unwrap(),
        Vec::<Vec<String>>::new()
    );
    // Ad-hoc SQL takes the type its context gives the placeholder.
    assert_eq!(
        run(
            &f,
            QuerySource::Sql(
                "SELECT count(*) FROM signatures WHERE occurred_on < $d AND signed = $s".into()
            ),
            &[("d", "2024-04-01"), ("s", "true")]
        )
        .unwrap(),
        vec![vec!["1"]]
    );
    let err = run(
        &f,
        QuerySource::Sql("SELECT count(*) FROM signatures WHERE occurred_on < $d".into()),
        &[("d", "soon")],
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "bad argument: parameter d: 'soon' is not a date (YYYY-MM-DD)"
    );
    let err = run(&f, QuerySource::Sql("SELECT $d".into()), &[]).unwrap_err();
    assert!(
        err.to_string().contains("uses $d but no value was given"),
        "{err}"
    );
}

#[test]
fn analyst_sql_cannot_change_anything() {
    let f = small_lake();
    let attempts = [
        "CREATE TABLE t AS SELECT 1",
        "CREATE VIEW v AS SELECT 1",
        "DROP TABLE signatures",
        "INSERT INTO signatures SELECT * FROM signatures",
        "COPY signatures TO '/tmp/motcua-copy.parquet'",
        "CREATE EXTERNAL TABLE secrets STORED AS CSV LOCATION '/etc/passwd'",
        "SET datafusion.execution.batch_size = 1",
    ];
    for sql in attempts {
        match run(&f, QuerySource::Sql(sql.into()), &[]) {
            Err(e @ Error::Sql(_)) => assert_eq!(e.exit_code(), 5, "{sql}"),
            other => panic!("{sql}: expected a refusal, got {other:?}"),
        }
    }
    assert!(!Path::new("/tmp/motcua-copy.parquet").exists());
    assert_eq!(
        run(
            &f,
            QuerySource::Sql("SELECT count(*) FROM signatures".into()),
            &[]
        )
        .unwrap(),
        vec![vec!["3"]]
    );
    let err = run(&f, QuerySource::Sql("SELECT * FROM nowhere".into()), &[]).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("SQL: table 'datafusion.public.nowhere' not found"),
        "{err}"
    );
}

#[test]
fn the_lake_tables_and_views_are_there() {
    let f = small_lake();
    assert_eq!(
        run(
            &f,
            QuerySource::Sql(
                "SELECT ancestor, descendant, depth FROM unit_closure ORDER BY descendant, depth"
                    .into()
            ),
            &[]
        )
        .unwrap(),
        vec![
            vec!["D1", "D1", "0"],
            vec!["P", "D1", "1"],
            vec!["P", "P", "0"]
        ]
    );
    assert_eq!(
        run(
            &f,
            QuerySource::Saved(sql::find(None, "dq_unknown_units").unwrap()),
            &[]
        )
        .unwrap()
        .into_iter()
        .map(|r| r[..3].to_vec())
        .collect::<Vec<_>>(),
        vec![vec!["signatures", "ZZ", "1"]]
    );
    assert_eq!(
        run(&f, QuerySource::Sql("SELECT period_start, period_end, prev_start FROM calendar WHERE period_grain = 'week' AND period_start <= DATE '2024-03-31' ORDER BY period_start DESC LIMIT 1".into()), &[]).unwrap(),
        vec![vec!["2024-03-25", "2024-04-01", "2024-03-18"]]
    );
}

fn motcua(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_motcua"))
        .args(args)
        .output()
        .expect("run motcua")
}

#[test]
fn saved_queries_ship_in_the_binary_and_a_user_folder_adds_and_overrides() {
    // From a folder with no queries/ in it: every file of queries/ is there.
    let elsewhere = tempfile::tempdir().unwrap();
    let list = |extra: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_motcua"))
            .current_dir(elsewhere.path())
            .env_remove("MOTCUA_QUERIES")
            .args(["query", "--list"])
            .args(extra)
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let text = list(&[]);
    let mut files: Vec<String> = Vec::new();
    for entry in std::fs::read_dir(queries_dir()).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "sql") {
            let name = path.file_stem().unwrap().to_string_lossy().to_string();
            assert!(
                text.lines().any(|l| l == format!("{name} (shipped)")),
                "{name} missing from --list:\n{text}"
            );
            let saved = SavedQuery::load(&path).unwrap();
            assert!(!saved.description.is_empty(), "{name} has no description");
            files.push(name);
        }
    }
    files.sort();
    let shipped: Vec<&str> = sql::SHIPPED.iter().map(|(name, _)| *name).collect();
    assert_eq!(
        shipped, files,
        "sql::SHIPPED must list every file of queries/"
    );
    assert!(text.contains("--param from=<date> (default: required)"));

    // A user folder adds a query and replaces a shipped one by name.
    let mine = tempfile::tempdir().unwrap();
    std::fs::write(mine.path().join("mine.sql"), "-- Mine.\nSELECT 1 AS one").unwrap();
    std::fs::write(
        mine.path().join("ranking.sql"),
        "-- My ranking.\nSELECT 2 AS two",
    )
    .unwrap();
    let text = list(&["--queries", mine.path().to_str().unwrap()]);
    let origin = |name: &str| mine.path().join(name).display().to_string();
    assert!(
        text.contains(&format!("mine ({})\n    Mine.", origin("mine.sql"))),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "ranking ({})\n    My ranking.",
            origin("ranking.sql")
        )),
        "{text}"
    );
    assert!(text.contains("kpi_values (shipped)"), "{text}");
}

#[test]
fn query_results_can_be_written_but_never_into_the_lake() {
    let f = small_lake();
    let lake = f.lake.to_str().unwrap();
    let inside = f.lake.join("x.csv");
    let out = motcua(&[
        "query",
        "--lake",
        lake,
        "--sql",
        "SELECT 1 AS one",
        "--output",
        inside.to_str().unwrap(),
        "--format",
        "csv",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("is inside the lake"));
    assert!(!inside.exists());
    let outside = f.dir.path().join("one.csv");
    let out = motcua(&[
        "query",
        "--lake",
        lake,
        "--sql",
        "SELECT 1 AS one",
        "--output",
        outside.to_str().unwrap(),
        "--format",
        "csv",
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(std::fs::read_to_string(&outside).unwrap(), "one\n1\n");
    let out = motcua(&["query", "--lake", lake, "--sql", "SELEC 1"]);
    assert_eq!(out.status.code(), Some(5));
    assert!(String::from_utf8_lossy(&out.stderr).starts_with("error: SQL: "));
}
