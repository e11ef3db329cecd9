//! The same SQL on a Ballista cluster (`--features distributed`): a
//! scheduler and two executors, each its own `motcua cluster` process on
//! loopback, compute `kpi_values` over a lake in a bucket (a real
//! S3-compatible server, `tests/common/s3.rs`) — the very rows the job
//! computes in one process.

#![cfg(feature = "distributed")]

mod common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use common::s3::{BUCKET, S3Server, ingest_sample, motcua, query, succeed};
use common::{Fixture, motcua_command};

/// A `motcua cluster …` process, killed when dropped.
struct Process(Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `motcua cluster ARGS`, its standard error in `log`, and returns
/// it with the line it announces itself by.
fn start(server: &S3Server, args: &[&str], log: &Path) -> (Process, String) {
    let mut command = motcua_command(Path::new("unused"));
    command
        .envs(server.env())
        .arg("cluster")
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(log).expect("a log file"));
    let mut child = command.spawn().expect("start motcua cluster");
    let stdout = child.stdout.take().expect("its standard output");
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .expect("its first line");
    assert!(
        !line.is_empty(),
        "{args:?} exited before announcing itself: {}",
        std::fs::read_to_string(log).unwrap_or_default()
    );
    (Process(child), line.trim().to_string())
}

/// The KPI job over the first half of 2025 into `out`, on the cluster at
/// `cluster` when there is one.
fn kpi(server: &S3Server, lake: &str, out: &str, cluster: Option<&str>) -> Command {
    let mut kpi = motcua(
        server,
        lake,
        &[
            "kpi",
            "--from",
            "2025-01-01",
            "--to",
            "2025-07-01",
            "--out",
            out,
        ],
    );
    if let Some(url) = cluster {
        kpi.args(["--cluster", url]);
    }
    kpi
}

/// Files under `dir`, at any depth.
fn files_under(dir: &Path) -> usize {
    common::all_files(dir).len()
}

#[test]
fn a_cluster_computes_the_rows_one_process_does() {
    let server = S3Server::start();
    let f = Fixture::new();
    let exports = f.dir.path().join("exports");
    motcua::sample::generate(&exports, 3_000, 7).unwrap();
    let lake = format!("s3://{BUCKET}/province");
    ingest_sample(&server, &lake, &exports);

    let scheduler_log = f.dir.path().join("scheduler.log");
    let args = ["scheduler", "--bind", "127.0.0.1:0"];
    let (_scheduler, announced) = start(&server, &args, &scheduler_log);
    let url = announced
        .strip_prefix("scheduler listening on ")
        .unwrap_or_else(|| panic!("{announced}"))
        .to_string();
    let work: Vec<_> = (0..2)
        .map(|i| f.dir.path().join(format!("executor-{i}")))
        .collect();
    let _executors: Vec<Process> = work
        .iter()
        .map(|dir| {
            std::fs::create_dir_all(dir).unwrap();
            let log = dir.with_extension("log");
            let dir = dir.display().to_string();
            let args = [
                "executor",
                "--scheduler",
                &url,
                "--vcores",
                "1",
                "--work-dir",
                &dir,
            ];
            let (process, announced) = start(&server, &args, &log);
            assert!(
                announced.ends_with(&format!("joining {url}")),
                "{announced}"
            );
            process
        })
        .collect();

    let local = format!("s3://{BUCKET}/local-out");
    let distributed = format!("s3://{BUCKET}/cluster-out");
    succeed(kpi(&server, &lake, &local, None));
    succeed(kpi(&server, &lake, &distributed, Some(&url)));

    let all = "SELECT * FROM kpi_values ORDER BY period_grain, period_start, unit_code, kpi";
    let expected = query(&server, &lake, &local, all);
    assert!(expected.lines().count() > 100, "{expected}");
    assert_eq!(query(&server, &lake, &distributed, all), expected);
    // Both executors ran tasks: each kept shuffle files of the job (the
    // scheduler deletes them 5 minutes after it).
    for dir in &work {
        assert!(files_under(dir) > 0, "{} ran no task", dir.display());
    }

    // An analyst's query on the cluster, with motcua's functions (the
    // current state is a filter by is_current_snapshot).
    let sql = "SELECT status, count(*) AS n, sum(fee_vnd) AS fees FROM dossiers GROUP BY status ORDER BY status";
    let mut on_cluster = motcua(&server, &lake, &["query", "--format", "csv", "--sql", sql]);
    on_cluster.args(["--published", &local, "--cluster", &url]);
    let answer = String::from_utf8(succeed(on_cluster).stdout).unwrap();
    assert_eq!(answer, query(&server, &lake, &local, sql));
    assert!(answer.lines().count() > 2, "{answer}");

    // A lake executors cannot find, and a scheduler that is not there: one
    // sentence each, and the published version stays.
    let refused = kpi(&server, "relative-lake", &local, Some(&url))
        .output()
        .unwrap();
    assert_eq!(refused.status.code(), Some(2));
    let said = String::from_utf8_lossy(&refused.stderr);
    assert!(said.contains("absolute path"), "{said}");
    // Outputs in a folder named relatively, which a query reads: refused
    // the same way; a query that does not read them runs.
    let mut relative = motcua(&server, &lake, &["query", "--format", "csv", "--sql", all]);
    relative.args(["--published", "relative-out", "--cluster", &url]);
    let refused = relative.output().unwrap();
    assert_eq!(refused.status.code(), Some(2));
    let said = String::from_utf8_lossy(&refused.stderr);
    assert!(said.contains("--published relative-out"), "{said}");
    let mut lake_only = motcua(&server, &lake, &["query", "--format", "csv", "--sql", sql]);
    lake_only.args(["--published", "relative-out", "--cluster", &url]);
    assert_eq!(
        String::from_utf8(succeed(lake_only).stdout).unwrap(),
        answer
    );
    let gone = kpi(&server, &lake, &distributed, Some("df://127.0.0.1:1"))
        .output()
        .unwrap();
    assert_eq!(gone.status.code(), Some(9));
    let said = String::from_utf8_lossy(&gone.stderr);
    assert!(said.contains("motcua cluster scheduler"), "{said}");
    assert_eq!(query(&server, &lake, &distributed, all), expected);
}
