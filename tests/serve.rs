//! `motcua serve` with a real Flight SQL client: Python's ADBC driver
//! (`adbc-driver-flightsql`, in the venv `.ci/run` makes and names in
//! `MOTCUA_PYTHON`), on loopback, over the hand fixture of `tests/kpi.rs`.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use common::hand::fixture;
use common::*;

const TOKEN: &str = "a-test-token-0123456789";

/// A running server, stopped when dropped.
struct Server {
    child: Child,
    /// `grpc://127.0.0.1:PORT`
    uri: String,
    /// `http://127.0.0.1:PORT`
    http: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(f: &Fixture, token: Option<&str>) -> Server {
    let mut command = motcua_command(&f.lake);
    command
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--http",
            "127.0.0.1:0",
            "--published",
        ])
        .arg(f.dir.path().join("out"))
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    match token {
        Some(token) => command.env("MOTCUA_SERVE_TOKEN", token),
        None => command.env_remove("MOTCUA_SERVE_TOKEN"),
    };
    let mut child = command.spawn().expect("start motcua serve");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("its stdout"))
        .read_line(&mut line)
        .expect("the line that says where it listens");
    let address = |scheme: &str| {
        line.split(scheme)
            .nth(1)
            .and_then(|rest| rest.split_whitespace().next())
            .map(|a| format!("{scheme}{a}"))
            .unwrap_or_else(|| panic!("no {scheme} address in {line:?}"))
    };
    Server {
        uri: address("grpc://"),
        http: address("http://"),
        child,
    }
}

/// Runs `script` with ADBC connected to `server` (with `token`, if any) as
/// `conn`; what it prints.
fn client(server: &Server, token: Option<&str>, script: &str) -> String {
    let python = std::env::var("MOTCUA_PYTHON").unwrap_or_else(|_| "python3".into());
    let header = token.map_or(String::new(), |t| format!("Bearer {t}"));
    let program = format!(
        r#"
import json, warnings
warnings.simplefilter("ignore")
import adbc_driver_flightsql.dbapi as flight
from adbc_driver_flightsql import DatabaseOptions
kwargs = {{DatabaseOptions.AUTHORIZATION_HEADER.value: "{header}"}} if "{header}" else {{}}
conn = flight.connect("{uri}", db_kwargs=kwargs)
def rows(sql, params=None):
    cur = conn.cursor()
    cur.execute(sql, parameters=params)
    return [list(map(str, r)) for r in cur.fetchall()]
{script}
"#,
        uri = server.uri
    );
    let run = Command::new(&python)
        .args(["-c", &program])
        .output()
        .unwrap_or_else(|e| panic!("{python}: {e}; set MOTCUA_PYTHON to a Python with adbc-driver-flightsql, or run `bash .ci/run`"));
    assert!(
        run.status.success(),
        "the ADBC client failed (set MOTCUA_PYTHON to a Python with adbc-driver-flightsql, or run `bash .ci/run`): {}",
        String::from_utf8_lossy(&run.stderr)
    );
    String::from_utf8(run.stdout).unwrap()
}

/// What `motcua query --format csv` answers, as rows of text.
fn query_csv(f: &Fixture, sql: &str) -> Vec<Vec<String>> {
    let run = motcua_command(&f.lake)
        .args(["query", "--format", "csv", "--sql", sql, "--published"])
        .arg(f.dir.path().join("out"))
        .output()
        .unwrap();
    stdout_of(run)
        .lines()
        .skip(1)
        .map(|l| l.split(',').map(str::to_string).collect())
        .collect()
}

fn published() -> Fixture {
    let f = fixture();
    let day = |text: &str| text.parse().unwrap();
    publish_months(
        &f,
        &f.dir.path().join("out"),
        day("2024-02-01"),
        day("2024-05-01"),
        None,
    );
    f
}

#[test]
fn adbc_runs_sql_prepared_statements_and_lists_tables_as_motcua_query_answers() {
    let f = published();
    let server = serve(&f, Some(TOKEN));
    let sql = "SELECT unit_code, kpi, numerator, value FROM kpi_values WHERE period_start = DATE '2024-03-01' AND kpi IN ('received', 'on_time_rate') ORDER BY unit_code, kpi";
    let out = client(
        &server,
        Some(TOKEN),
        &format!(
            r#"
print(json.dumps(rows("{sql}")))
print(json.dumps(rows("SELECT value FROM kpi_values WHERE unit_code = ? AND kpi = ? AND period_start = DATE '2024-03-01'", ("P", "on_time_rate"))))
print(json.dumps(rows("SELECT count(*) FROM dossiers WHERE unit_code = $1", ("C1",))))
objects = conn.adbc_get_objects(depth="columns").read_all().to_pylist()
tables = {{t["table_name"]: [c["column_name"] for c in t["table_columns"]]
          for c in objects for s in c["catalog_db_schemas"] for t in s["db_schema_tables"]}}
print(json.dumps(tables["kpi_values"][:4]))
print(json.dumps(sorted(t for t in tables if t in ("dossiers", "units", "kpi_catalog", "kpi_values", "calendar"))))
print(json.dumps(conn.adbc_get_info()["vendor_name"]))
"#
        ),
    );
    let lines: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    // The same rows as `motcua query` (floats written alike by both).
    let expected: Vec<Vec<String>> = query_csv(&f, sql)
        .into_iter()
        .map(|r| {
            r.into_iter()
                .map(|v| if v.is_empty() { "None".into() } else { v })
                .collect()
        })
        .collect();
    let got: Vec<Vec<String>> = serde_json::from_value(lines[0].clone()).unwrap();
    assert_eq!(got.len(), 10, "5 units × 2 KPIs");
    assert_eq!(got, expected);
    // Bound parameters: on-time in March at P (3 of 4, tests/kpi.rs), C1's dossiers.
    assert_eq!(lines[1], serde_json::json!([["0.75"]]));
    assert_eq!(lines[2], serde_json::json!([["3"]]));
    assert_eq!(
        lines[3],
        serde_json::json!(["period_start", "period_end", "unit_code", "unit_name"])
    );
    assert_eq!(
        lines[4],
        serde_json::json!(["calendar", "dossiers", "kpi_catalog", "kpi_values", "units"])
    );
    assert_eq!(lines[5], "motcua");
}

#[test]
fn no_token_no_answer_and_forbidden_sql_is_refused() {
    let f = published();
    let server = serve(&f, Some(TOKEN));
    let out = client(
        &server,
        None,
        r#"
try:
    rows("SELECT 1")
    print("answered")
except Exception as e:
    print(type(e).__name__, str(e).splitlines()[0])
"#,
    );
    assert!(out.contains("UNAUTHENTICATED"), "{out}");
    assert!(out.contains("needs a bearer token"), "{out}");
    assert!(!out.contains("answered"));
    let out = client(
        &server,
        Some("a-wrong-token-0123456789"),
        "try:\n    rows('SELECT 1')\nexcept Exception as e:\n    print(str(e).splitlines()[0])",
    );
    assert!(out.contains("UNAUTHENTICATED"), "{out}");
    let out = client(
        &server,
        Some(TOKEN),
        r#"
for sql in ["DROP TABLE units", "CREATE TABLE x AS SELECT 1", "COPY units TO '/tmp/x.csv'", "SET datafusion.execution.batch_size = 1", "CREATE EXTERNAL TABLE e STORED AS CSV LOCATION '/etc/passwd'"]:
    try:
        rows(sql)
        print("ran", sql)
    except Exception as e:
        print("refused")
"#,
    );
    assert_eq!(out, "refused\n".repeat(5), "{out}");
    drop(server);

    // Beyond loopback only with a token.
    let run = motcua_command(&f.lake)
        .args(["serve", "--listen", "0.0.0.0:0"])
        .env_remove("MOTCUA_SERVE_TOKEN")
        .output()
        .unwrap();
    assert_eq!(run.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&run.stderr).contains("serving beyond this machine needs a token")
    );
}

/// `GET` or `POST` to the server's HTTP side with Python's urllib: status,
/// content type and body.
fn http(
    server: &Server,
    method: &str,
    path: &str,
    body: &str,
    headers: &[(&str, &str)],
) -> (u16, String, String) {
    let python = std::env::var("MOTCUA_PYTHON").unwrap_or_else(|_| "python3".into());
    let script = r#"
import json, sys, urllib.request, urllib.error
url, method, body, headers = sys.argv[1], sys.argv[2], sys.argv[3], json.loads(sys.argv[4])
request = urllib.request.Request(url, method=method, data=body.encode() if method == "POST" else None, headers=headers)
try:
    with urllib.request.urlopen(request) as r:
        status, kind, data = r.status, r.headers.get("content-type"), r.read()
except urllib.error.HTTPError as e:
    status, kind, data = e.code, e.headers.get("content-type"), e.read()
print(status); print(kind); sys.stdout.write(data.hex())
"#;
    let headers: serde_json::Map<String, serde_json::Value> = headers
        .iter()
        .map(|(k, v)| (k.to_string(), serde_json::Value::from(*v)))
        .collect();
    let run = Command::new(python)
        .args([
            "-c",
            script,
            &format!("{}{path}", server.http),
            method,
            body,
        ])
        .arg(serde_json::Value::Object(headers).to_string())
        .output()
        .unwrap();
    let out = stdout_of(run);
    let mut lines = out.splitn(3, '\n');
    let status = lines.next().unwrap().parse().unwrap();
    let kind = lines.next().unwrap().to_string();
    let bytes = hex::decode(lines.next().unwrap_or_default()).unwrap();
    (status, kind, String::from_utf8_lossy(&bytes).into_owned())
}

#[test]
fn http_answers_sql_and_saved_queries_in_json_csv_and_arrow() {
    let f = published();
    let server = serve(&f, Some(TOKEN));
    let bearer = format!("Bearer {TOKEN}");
    let auth = [("Authorization", bearer.as_str())];
    let sql = "SELECT kpi, value FROM kpi_values WHERE unit_code = 'P' AND period_start = DATE '2024-03-01' AND kpi IN ('received', 'on_time_rate') ORDER BY kpi";
    let (status, kind, body) = http(&server, "POST", "/sql", sql, &auth);
    assert_eq!((status, kind.as_str()), (200, "application/json"));
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&body).unwrap(),
        serde_json::json!([{"kpi": "on_time_rate", "value": 0.75}, {"kpi": "received", "value": 6.0}])
    );
    let csv = [("Authorization", bearer.as_str()), ("Accept", "text/csv")];
    let (status, kind, body) = http(&server, "POST", "/sql", sql, &csv);
    assert_eq!((status, kind.as_str()), (200, "text/csv; charset=utf-8"));
    assert_eq!(body, "kpi,value\non_time_rate,0.75\nreceived,6.0\n");
    let arrow = [
        ("Authorization", bearer.as_str()),
        ("Accept", "application/vnd.apache.arrow.stream"),
    ];
    let (status, kind, body) = http(&server, "POST", "/sql", sql, &arrow);
    assert_eq!(
        (status, kind.as_str()),
        (200, "application/vnd.apache.arrow.stream")
    );
    assert!(
        body.contains("on_time_rate") && body.len() > 200,
        "{body:?}"
    );

    // A saved query by name, its parameters typed as in `motcua query`.
    let (status, _, body) = http(
        &server,
        "GET",
        "/queries/goal_summary?period=2024-03-01&level=province",
        "",
        &auth,
    );
    assert_eq!(status, 200, "{body}");
    let goals: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        (
            &goals[0]["unit_code"],
            &goals[0]["goals"],
            &goals[0]["met"],
            &goals[0]["behind"]
        ),
        (
            &serde_json::json!("P"),
            &serde_json::json!(4),
            &serde_json::json!(2),
            &serde_json::json!(2)
        )
    );
    let (status, _, body) = http(
        &server,
        "GET",
        "/queries/goal_summary?period=2024-03-02",
        "",
        &auth,
    );
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("period"), "{body}");
    let (status, _, _) = http(&server, "GET", "/queries/no_such_query", "", &auth);
    assert_eq!(status, 404);
    let (status, _, body) = http(&server, "POST", "/sql", "DROP TABLE units", &auth);
    assert_eq!(status, 400, "{body}");
    let (status, _, body) = http(&server, "GET", "/health", "", &auth);
    assert_eq!(status, 200);
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&body).unwrap()["status"],
        "ok"
    );
    // Without the token: 401 and nothing else, on every endpoint.
    for (method, path) in [
        ("GET", "/health"),
        ("POST", "/sql"),
        ("GET", "/queries/goal_summary?period=2024-03-01"),
    ] {
        let (status, _, body) = http(&server, method, path, "SELECT 1", &[]);
        assert_eq!(status, 401, "{path}");
        assert!(
            body.contains("needs a bearer token")
                && !body.contains("status")
                && !body.contains("goals"),
            "{body}"
        );
    }
}
