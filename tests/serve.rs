//! `motcua serve` with a real Flight SQL client: Python's ADBC driver
//! (`adbc-driver-flightsql`, in the venv `.ci/run` makes and names in
//! `MOTCUA_PYTHON`), on loopback, over the hand fixture of `tests/kpi.rs`.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use common::hand::fixture;
use common::*;
use motcua::spec::feeds::Feed;

const TOKEN: &str = "a-test-token-0123456789";

/// A running server, stopped when dropped.
struct Server {
    child: Child,
    /// `grpc://127.0.0.1:PORT` (`grpc+tls://` with TLS)
    uri: String,
    /// `http://127.0.0.1:PORT` (`https://` with TLS)
    http: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(f: &Fixture, token: Option<&str>) -> Server {
    serve_with(f, token, &[])
}

/// `motcua serve` on free loopback ports with `args` besides.
fn serve_command(f: &Fixture, args: &[&str]) -> Command {
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
        .args(args);
    command
}

/// The server `serve_command` starts, once it says where it listens.
fn serve_with(f: &Fixture, token: Option<&str>, args: &[&str]) -> Server {
    let mut command = serve_command(f, args);
    command.stdout(Stdio::piped()).stderr(Stdio::inherit());
    match token {
        Some(token) => command.env("MOTCUA_SERVE_TOKEN", token),
        None => command.env_remove("MOTCUA_SERVE_TOKEN"),
    };
    let mut child = command.spawn().expect("start motcua serve");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("its stdout"))
        .read_line(&mut line)
        .expect("the line that says where it listens");
    // "serving Flight SQL on URI and HTTP on URI (…)"
    let words: Vec<&str> = line.split_whitespace().collect();
    let mut addresses = words
        .windows(2)
        .filter(|w| w[0] == "on")
        .map(|w| w[1].to_string());
    let (Some(uri), Some(http)) = (addresses.next(), addresses.next()) else {
        panic!("no addresses in {line:?}");
    };
    Server { uri, http, child }
}

/// The test venv's Python (`.ci/run` makes it and names it in
/// `MOTCUA_PYTHON`), running `program` with `args`.
fn python(program: &str) -> Command {
    let python = std::env::var("MOTCUA_PYTHON").unwrap_or_else(|_| "python3".into());
    let mut command = Command::new(python);
    command.args(["-c", program]);
    command
}

/// What a Python client printed; it must succeed.
fn printed(mut command: Command) -> String {
    let run = command.output().unwrap_or_else(|e| {
        panic!("{e}; set MOTCUA_PYTHON to the test venv's Python, or run `bash .ci/run`")
    });
    assert!(
        run.status.success(),
        "the client failed (set MOTCUA_PYTHON to the test venv's Python, or run `bash .ci/run`): {}",
        String::from_utf8_lossy(&run.stderr)
    );
    String::from_utf8(run.stdout).unwrap()
}

/// A Python program with ADBC connected to `server` (with `token`, if
/// any) as `conn`, and `rows(sql, params)`, then `script`.
fn adbc_program(server: &Server, token: Option<&str>, script: &str) -> String {
    let header = token.map_or(String::new(), |t| format!("Bearer {t}"));
    format!(
        r#"
import json, sys, time, warnings
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
    )
}

/// Runs `script` with ADBC connected to `server` (with `token`, if any) as
/// `conn`; what it prints.
fn client(server: &Server, token: Option<&str>, script: &str) -> String {
    printed(python(&adbc_program(server, token, script)))
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
print(json.dumps(sorted(conn.adbc_get_table_types())))
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
    assert_eq!(lines[6], serde_json::json!(["TABLE", "VIEW"]));
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

    // A user name and the token as password, as JDBC tools log in: the
    // handshake answers the bearer token; a wrong password gets nothing.
    let script = r#"
import sys, warnings
warnings.simplefilter("ignore")
import adbc_driver_flightsql.dbapi as flight
for password in (sys.argv[2], "a-wrong-token-0123456789"):
    try:
        with flight.connect(sys.argv[1], db_kwargs={"username": "motcua", "password": password}) as conn, conn.cursor() as cur:
            cur.execute("SELECT count(*) FROM units")
            print(cur.fetchall()[0][0])
    except Exception as e:
        print("refused", "UNAUTHENTICATED" in str(e) or "Unauthenticated" in str(e))
"#;
    let mut command = python(script);
    command.args([&server.uri, TOKEN]);
    assert_eq!(printed(command), "5\nrefused True\n");
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
    let mut command = python(script);
    command
        .args([&format!("{}{path}", server.http), method, body])
        .arg(serde_json::Value::Object(headers).to_string());
    let out = printed(command);
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
    // A name, never a path (`find` would open a `.sql` file).
    for path in ["/queries/..%2F..%2Fetc%2Fx", "/queries/%2Ftmp%2Fx.sql"] {
        let (status, _, body) = http(&server, "GET", path, "", &auth);
        assert_eq!(status, 404, "{path}: {body}");
        assert!(body.contains("letters, digits"), "{body}");
    }
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
        ("GET", "/no/such/route"),
        ("GET", "/sql"),
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

#[test]
fn sqlalchemy_connects_through_flightsql_dbapi_as_superset_does() {
    let f = published();
    let server = serve(&f, Some(TOKEN));
    let address = server.uri.trim_start_matches("grpc://");
    assert!(!address.contains("://"));
    // The SQLAlchemy URI the README gives for Superset.
    let uri = format!("datafusion://{address}?insecure=true&token={TOKEN}");
    let script = r#"
import json, sys, warnings
warnings.simplefilter("ignore")
import sqlalchemy
engine = sqlalchemy.create_engine(sys.argv[1])
with engine.connect() as c:
    rows = c.execute(sqlalchemy.text(sys.argv[2])).fetchall()
    print(json.dumps([[str(v) for v in r] for r in rows]))
inspector = sqlalchemy.inspect(engine)
print(json.dumps(sorted(t for t in inspector.get_table_names() if t in ("dossiers", "kpi_values", "units"))))
print(json.dumps([c["name"] for c in inspector.get_columns("kpi_catalog")][:3]))
"#;
    let sql = "SELECT kpi, value FROM kpi_values WHERE unit_code = 'P' AND period_start = DATE '2024-03-01' AND kpi IN ('received', 'on_time_rate') ORDER BY kpi";
    let mut command = python(script);
    command.args([&uri, sql]);
    let out = printed(command);
    let lines: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    // On-time in March at P: 3 of 4; 6 received (tests/kpi.rs).
    assert_eq!(
        lines[0],
        serde_json::json!([["on_time_rate", "0.75"], ["received", "6.0"]])
    );
    assert_eq!(
        lines[1],
        serde_json::json!(["dossiers", "kpi_values", "units"])
    );
    assert_eq!(lines[2], serde_json::json!(["kpi", "family", "kind"]));

    // Two clients that prepare the same SQL and bind before either reads
    // (flightsql-dbapi keeps the handle it was first given): each gets its own.
    let same_sql = r#"
import sys, warnings
warnings.simplefilter("ignore")
from flightsql import FlightSQLClient
from flightsql.dbapi import ParameterRecordBuilder
host, port = sys.argv[1].split(":")
def client():
    return FlightSQLClient(host=host, port=int(port), token=sys.argv[2], insecure=True)
a, b = client(), client()
sql = "SELECT count(*) FROM dossiers WHERE unit_code = ?"
with a.prepare(sql) as first, b.prepare(sql) as second:
    first_info = first.execute(ParameterRecordBuilder(("C1",)).build_record())
    second_info = second.execute(ParameterRecordBuilder(("D2",)).build_record())
    for c, info in ((a, first_info), (b, second_info)):
        print(c.do_get(info.endpoints[0].ticket).read_all().column(0)[0].as_py())
"#;
    let mut command = python(same_sql);
    command.args([address, TOKEN]);
    // C1 holds A1, A2, A3; D2 holds E1, E2 (tests/kpi.rs).
    assert_eq!(printed(command), "3\n2\n");

    // Without the token flightsql-dbapi sends `Bearer None`: refused.
    let mut command = python(script);
    command.args([&format!("datafusion://{address}?insecure=true"), sql]);
    let run = command.output().unwrap();
    assert!(!run.status.success());
    assert!(
        String::from_utf8_lossy(&run.stderr).contains("needs a bearer token"),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
}

/// A query that runs for minutes unless stopped.
const LONG: &str = "SELECT count(*) FROM generate_series(1, 100000000000)";

/// Python: `post(sql)` to the server's HTTP side → (status, body, seconds);
/// `health()` → its JSON.
const HTTP_CLIENT: &str = r#"
import json, socket, sys, threading, time, urllib.request, urllib.error
base = sys.argv[1]
def post(sql, timeout=120):
    req = urllib.request.Request(base + "/sql", data=sql.encode(), method="POST")
    t = time.time()
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read().decode(), round(time.time() - t, 1)
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode(), round(time.time() - t, 1)
def health():
    return json.loads(urllib.request.urlopen(base + "/health").read())
def running_within(n, seconds):
    end = time.time() + seconds
    while time.time() < end:
        if health()["running"] == n:
            return True
        time.sleep(0.1)
    return False
def held_within(seconds):
    """A query holds a slot, and still does a moment later (Flight takes one
    to plan, frees it, then takes one to run)."""
    end = time.time() + seconds
    while time.time() < end:
        if running_within(1, 1):
            time.sleep(0.3)
            if health()["running"] == 1:
                return True
    return False
"#;

#[test]
fn a_busy_server_refuses_in_time_and_a_query_stops_at_its_deadline() {
    let f = published();
    let server = serve_with(
        &f,
        None,
        &[
            "--max-queries",
            "1",
            "--queue-timeout",
            "1s",
            "--query-timeout",
            "3s",
        ],
    );
    let script = format!(
        r#"{HTTP_CLIENT}
out = {{}}
long = threading.Thread(target=lambda: out.__setitem__("long", post("{LONG}")))
long.start()
out["held"] = held_within(10)
out["during"] = health()
out["second"] = post("SELECT 1")
long.join()
out["idle"] = running_within(0, 2)
out["after"] = post("SELECT 1")
print(json.dumps(out))
"#
    );
    let mut command = python(&script);
    command.arg(&server.http);
    let out: serde_json::Value = serde_json::from_str(&printed(command)).unwrap();
    assert_eq!(out["held"], true, "{out}");
    assert_eq!(out["during"]["running"], 1, "{out}");
    // The second query waited its second in the queue, then was refused.
    assert_eq!(out["second"][0], 503, "{out}");
    assert!(
        out["second"][1]
            .as_str()
            .unwrap()
            .contains("the server is busy"),
        "{out}"
    );
    let waited = out["second"][2].as_f64().unwrap();
    assert!((0.9..2.5).contains(&waited), "{out}");
    // The long one was stopped at its deadline, with a sentence saying so.
    assert_eq!(out["long"][0], 504, "{out}");
    assert!(
        out["long"][1]
            .as_str()
            .unwrap()
            .contains("ran past --query-timeout 3s"),
        "{out}"
    );
    assert!(out["long"][2].as_f64().unwrap() < 6.0, "{out}");
    assert_eq!(out["idle"], true, "{out}");
    assert_eq!(out["after"][0], 200, "{out}");

    // Over Flight SQL: the same refusal as a gRPC status.
    let script = format!(
        r#"{HTTP_CLIENT}
def long():
    try:
        rows("{LONG}")
    except Exception as e:
        print("long:", str(e).splitlines()[0])
t = threading.Thread(target=long)
t.start()
assert held_within(10)
try:
    rows("SELECT 1")
except Exception as e:
    print("second:", str(e).splitlines()[0])
t.join()
"#
    );
    let mut command = python(&adbc_program(&server, None, &script));
    command.arg(&server.http);
    let out = printed(command);
    assert!(
        out.contains("second:") && out.contains("ResourceExhausted") && out.contains("busy"),
        "{out}"
    );
    assert!(
        out.contains("long:")
            && out.contains("DeadlineExceeded")
            && out.contains("--query-timeout 3s"),
        "{out}"
    );
}

#[test]
fn a_query_whose_client_goes_away_is_stopped_and_frees_its_slot() {
    let f = published();
    let server = serve_with(&f, None, &["--max-queries", "1", "--query-timeout", "5m"]);
    // HTTP: the client sends the query and hangs up.
    let script = format!(
        r#"{HTTP_CLIENT}
host, port = base.removeprefix("http://").split(":")
s = socket.create_connection((host, int(port)))
body = "{LONG}".encode()
s.sendall(b"POST /sql HTTP/1.1\r\nHost: x\r\nContent-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
time.sleep(1)
busy = health()["running"]
s.close()
print(json.dumps({{"busy": busy, "idle": running_within(0, 10)}}))
"#
    );
    let mut command = python(&script);
    command.arg(&server.http);
    let out: serde_json::Value = serde_json::from_str(&printed(command)).unwrap();
    assert_eq!(out, serde_json::json!({"busy": 1, "idle": true}));

    // Flight SQL: the client process dies mid-query.
    let mut dying = python(&adbc_program(&server, None, &format!("rows(\"{LONG}\")")))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let script = format!("{HTTP_CLIENT}\nprint(json.dumps(running_within(1, 10)))");
    let mut command = python(&script);
    command.arg(&server.http);
    assert_eq!(printed(command).trim(), "true", "the query runs");
    dying.kill().unwrap();
    dying.wait().unwrap();
    let script = format!("{HTTP_CLIENT}\nprint(json.dumps(running_within(0, 10)))");
    let mut command = python(&script);
    command.arg(&server.http);
    assert_eq!(printed(command).trim(), "true", "the slot is free again");
}

#[test]
fn a_commit_while_serving_is_seen_by_the_next_query_and_never_half() {
    let f = published();
    let server = serve(&f, None);
    let pair = "SELECT (SELECT count(*) FROM dossiers) AS current, (SELECT count(*) FROM dossier_snapshots) AS snapshots";
    // A query planned before the commit that runs on past it.
    let slow = "SELECT (SELECT count(*) FROM dossiers) AS current, (SELECT count(*) FROM generate_series(1, 100000000)) AS spin, (SELECT count(*) FROM dossier_snapshots) AS snapshots";
    // Both protocols in turn, until the answer has changed 10 times (or 60 s).
    let script = format!(
        r#"{HTTP_CLIENT}
out = {{}}
def slow():
    status, body, _ = post("{slow}")
    out["slow"], out["ended"] = json.loads(body)[0], time.time()
spinning = threading.Thread(target=slow)
spinning.start()
assert running_within(1, 10)
first, changed, end = None, 0, time.time() + 60
while changed < 10 and time.time() < end:
    for answer in (rows("{pair}")[0], json.loads(post("{pair}")[1])[0]):
        answer = [int(v) for v in (answer.values() if isinstance(answer, dict) else answer)]
        first = first or answer
        changed += answer != first
        print(json.dumps(answer), flush=True)
spinning.join()
print(json.dumps(out))
"#
    );
    let mut command = python(&adbc_program(&server, None, &script));
    command.arg(&server.http).stdout(Stdio::piped());
    let mut child = command.spawn().unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next().expect("a first answer").unwrap();
    // Two new dossiers and a third one's newer snapshot.
    let report = f.ingest_text(
        Feed::Dossiers,
        "d3.csv",
        &format!("{DOSSIER_HEADER}\n{NEW_DOSSIERS}"),
    );
    let committed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    assert_eq!(report_counts(&report), (3, 3, 0, 0));
    let mut seen: Vec<String> = vec![first];
    seen.extend(lines.map(Result::unwrap));
    assert!(child.wait().unwrap().success());
    let slow: serde_json::Value = serde_json::from_str(&seen.pop().unwrap()).unwrap();
    let before = "[9, 12]";
    let after = "[11, 15]";
    assert_eq!(seen[0], before);
    let switch = seen
        .iter()
        .position(|a| a != before)
        .expect("the commit is seen");
    assert!(
        seen[switch..].iter().all(|a| a == after),
        "each answer is the before or the after snapshot, and after once after: {seen:?}"
    );
    assert!(seen.len() - switch >= 10);
    // The query that ran across the commit answered from the snapshot it
    // started on, whole.
    assert_eq!(
        slow["slow"],
        serde_json::json!({"current": 9, "spin": 100000000, "snapshots": 12})
    );
    assert!(
        slow["ended"].as_f64().unwrap() > committed,
        "the slow query ended after the commit: {slow}, committed at {committed}"
    );
}

const NEW_DOSSIERS: &str = "G1,PR,C2,counter,none,received,2024-04-05 09:00,,,,2024-04-05 09:00,0,1,0,0,0,0,,0,,,citizen
G2,PR,C2,online,full,received,2024-04-06 09:00,,,,2024-04-06 09:00,0,1,0,0,0,0,,0,,,citizen
A3,PR,C1,online,partial,resolved,2024-03-20 14:00,2024-03-25,2024-04-07 10:00,,2024-04-07 10:00,0,1,1,0,0,0,,0,,,citizen
";

#[test]
fn with_a_certificate_both_protocols_answer_over_tls_only() {
    let f = published();
    let (cert, key) = (f.dir.path().join("cert.pem"), f.dir.path().join("key.pem"));
    let made = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
        ])
        .args(["-nodes", "-days", "2", "-subj", "/CN=localhost"])
        .args(["-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .expect("openssl, to make a test certificate");
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    let server = serve_with(
        &f,
        Some(TOKEN),
        &[
            "--tls-cert",
            cert.to_str().unwrap(),
            "--tls-key",
            key.to_str().unwrap(),
        ],
    );
    assert!(server.uri.starts_with("grpc+tls://"), "{}", server.uri);
    assert!(server.http.starts_with("https://"), "{}", server.http);
    let script = format!(
        r#"
import json, ssl, sys, urllib.request, warnings
warnings.simplefilter("ignore")
import adbc_driver_flightsql.dbapi as flight
from adbc_driver_flightsql import DatabaseOptions
uri, http, cert = sys.argv[1], sys.argv[2], sys.argv[3]
auth = "Bearer {TOKEN}"
def adbc(uri, roots):
    kwargs = {{DatabaseOptions.AUTHORIZATION_HEADER.value: auth}}
    if roots:
        kwargs[DatabaseOptions.TLS_ROOT_CERTS.value] = open(cert).read()
    try:
        with flight.connect(uri, db_kwargs=kwargs) as conn, conn.cursor() as cur:
            cur.execute("SELECT value FROM kpi_values WHERE unit_code = 'P' AND kpi = 'on_time_rate' AND period_start = DATE '2024-03-01'")
            return cur.fetchall()[0][0]
    except Exception as e:
        return "refused"
def https(url, context):
    try:
        request = urllib.request.Request(url + "/health", headers={{"Authorization": auth}})
        return json.loads(urllib.request.urlopen(request, context=context, timeout=10).read())["status"]
    except Exception as e:
        return "refused"
print(json.dumps({{
    "tls": adbc(uri, True),
    "plain": adbc(uri.replace("grpc+tls://", "grpc://"), False),
    "https": https(http, ssl.create_default_context(cafile=cert)),
    "http": https(http.replace("https://", "http://"), None),
}}))
"#
    );
    let mut command = python(&script);
    command.args([&server.uri, &server.http]).arg(&cert);
    let out: serde_json::Value = serde_json::from_str(&printed(command)).unwrap();
    assert_eq!(
        out,
        serde_json::json!({"tls": 0.75, "plain": "refused", "https": "ok", "http": "refused"})
    );

    // A key that is not the certificate's: one sentence, before listening.
    let other = f.dir.path().join("other.pem");
    let made = Command::new("openssl")
        .args([
            "genpkey",
            "-algorithm",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-out",
        ])
        .arg(&other)
        .output()
        .unwrap();
    assert!(made.status.success());
    let run = serve_command(
        &f,
        &[
            "--tls-cert",
            cert.to_str().unwrap(),
            "--tls-key",
            other.to_str().unwrap(),
        ],
    )
    .output()
    .unwrap();
    assert_eq!(run.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(stderr.contains("do not make a usable pair"), "{stderr}");
}
