//! The lake on S3-compatible storage, against a real server on loopback
//! (`tests/common/s3.rs`): what the commit relies on (the server lets
//! exactly one conditional write win), then motcua itself — the same rows as
//! a folder, one commit per version between racing writers, and writers
//! killed mid-commit.

mod common;

use std::collections::BTreeSet;
use std::path::Path as FsPath;
use std::process::{Command, Output, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::Fixture;
use common::s3::{ACCESS_KEY, BUCKET, S3Server, SECRET_KEY, ingest_sample, motcua, query, succeed};
use object_store::aws::AmazonS3Builder;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutMode, PutPayload, UpdateVersion};

fn client(server: &S3Server, secret: &str) -> Arc<dyn ObjectStore> {
    Arc::new(
        AmazonS3Builder::new()
            .with_endpoint(&server.endpoint)
            .with_allow_http(true)
            .with_bucket_name(BUCKET)
            .with_region("us-east-1")
            .with_access_key_id(ACCESS_KEY)
            .with_secret_access_key(secret)
            .build()
            .expect("an S3 client"),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_test_server_lets_exactly_one_conditional_write_win() {
    let server = S3Server::start();
    let store = client(&server, SECRET_KEY);
    for round in 0..5 {
        // Eight writers create the same manifest version at once.
        let key = Path::from(format!("_manifest/{round:020}.json"));
        let writers = (0..8).map(|w| {
            let (store, key) = (store.clone(), key.clone());
            tokio::spawn(async move {
                let body = PutPayload::from(format!("writer {w}"));
                store.put_opts(&key, body, PutMode::Create.into()).await
            })
        });
        let results: Vec<_> = futures::future::join_all(writers)
            .await
            .into_iter()
            .map(|joined| joined.expect("a writer task"))
            .collect();
        let won: Vec<usize> = (0..results.len()).filter(|&w| results[w].is_ok()).collect();
        assert_eq!(won.len(), 1, "round {round}: {results:?}");
        for result in &results {
            if let Err(e) = result {
                assert!(
                    matches!(e, object_store::Error::AlreadyExists { .. }),
                    "round {round}: {e}"
                );
            }
        }
        let stored = store.get(&key).await.unwrap().bytes().await.unwrap();
        assert_eq!(stored, format!("writer {}", won[0]).as_bytes());
    }

    // An update from a version that is no longer the latest loses.
    let key = Path::from("_manifest/latest.json");
    let first = store.put(&key, PutPayload::from("one")).await.unwrap();
    let from = |e_tag: &Option<String>| {
        PutMode::Update(UpdateVersion {
            e_tag: e_tag.clone(),
            version: None,
        })
    };
    store
        .put_opts(&key, PutPayload::from("two"), from(&first.e_tag).into())
        .await
        .expect("an update from the latest version");
    let stale = store
        .put_opts(&key, PutPayload::from("three"), from(&first.e_tag).into())
        .await;
    assert!(
        matches!(stale, Err(object_store::Error::Precondition { .. })),
        "{stale:?}"
    );
    let stored = store.get(&key).await.unwrap().bytes().await.unwrap();
    assert_eq!(stored, "two".as_bytes());

    // The server checks signatures: a wrong secret reads nothing.
    let intruder = client(&server, "not-the-secret");
    assert!(intruder.get(&key).await.is_err());
}

/// Every object under `prefix/` in the test bucket.
fn objects(server: &S3Server, prefix: &str) -> BTreeSet<String> {
    use futures::TryStreamExt;
    let store = client(server, SECRET_KEY);
    let prefix = Path::from(prefix);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let listed: Vec<_> = runtime
        .block_on(store.list(Some(&prefix)).try_collect())
        .expect("list the bucket");
    listed
        .into_iter()
        .map(|o| o.location.as_ref()[prefix.as_ref().len() + 1..].to_string())
        .collect()
}

/// The folder a pointer object names (`.kpi_values/v000007-TAG`), by its
/// folder name.
fn pointer(server: &S3Server, key: &str) -> String {
    let store = client(server, SECRET_KEY);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let bytes = runtime
        .block_on(async { store.get(&Path::from(key)).await?.bytes().await })
        .expect("read the pointer");
    let text = String::from_utf8(bytes.to_vec()).expect("utf-8");
    text.trim().rsplit('/').next().unwrap().to_string()
}

/// The lake's manifest in the bucket (its highest version), as JSON.
fn manifest(server: &S3Server, prefix: &str) -> serde_json::Value {
    let versions: Vec<String> = objects(server, prefix)
        .into_iter()
        .filter(|o| o.starts_with("_manifest/"))
        .collect();
    let latest = versions.last().expect("a manifest version");
    let store = client(server, SECRET_KEY);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let bytes = runtime
        .block_on(async {
            store
                .get(&Path::from(format!("{prefix}/{latest}")))
                .await?
                .bytes()
                .await
        })
        .expect("read the manifest");
    serde_json::from_slice(&bytes).expect("a whole manifest")
}

/// Every file the manifest names: data, quarantine and the index.
fn named(manifest: &serde_json::Value) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for entry in manifest["ingests"].as_array().into_iter().flatten() {
        for file in entry["data_files"].as_array().into_iter().flatten() {
            names.insert(file["path"].as_str().unwrap().to_string());
        }
        if let Some(q) = entry["quarantine_file"].as_str() {
            names.insert(q.to_string());
        }
    }
    for key in ["dossier_index", "dossier_index_delta"] {
        if let Some(index) = manifest[key].as_str() {
            names.insert(index.to_string());
        }
    }
    names
}

/// The KPI job over the first half of 2025, published to `out`.
fn publish(server: &S3Server, lake: &str, out: &str) {
    let months = [
        "--grain",
        "month",
        "--from",
        "2025-01-01",
        "--to",
        "2025-07-01",
    ];
    let mut kpi = motcua(server, lake, &["kpi"]);
    kpi.args(months).args(["--out", out]);
    succeed(kpi);
}

/// Every published row, in order.
fn sqls_last() -> &'static str {
    "SELECT * FROM kpi_values ORDER BY period_grain, period_start, unit_code, kpi"
}

#[test]
fn a_lake_in_a_bucket_holds_and_answers_what_a_folder_does() {
    let server = S3Server::start();
    let f = Fixture::new();
    let exports = f.dir.path().join("exports");
    motcua::sample::generate(&exports, 3_000, 7).unwrap();
    // A second night of dossiers: the index gets a delta, read back from
    // the bucket.
    let later = f.dir.path().join("later");
    motcua::sample::generate(&later, 400, 8).unwrap();
    let folder = f.lake.display().to_string();
    let bucket = format!("s3://{BUCKET}/province");
    let mut answers = Vec::new();
    for (i, lake) in [folder.as_str(), bucket.as_str()].into_iter().enumerate() {
        ingest_sample(&server, lake, &exports);
        let mut again = motcua(&server, lake, &["ingest", "dossiers"]);
        again.arg(later.join("dossiers.csv"));
        succeed(again);
        // The folder lake publishes to a folder, the bucket lake to the bucket.
        let out = match i {
            0 => f.dir.path().join("out").display().to_string(),
            _ => format!("s3://{BUCKET}/province-out"),
        };
        publish(&server, lake, &out);
        let sqls = [
            "SELECT count(*) AS n FROM dossier_snapshots",
            "SELECT count(*) AS n, count(DISTINCT dossier_id) AS d FROM dossiers",
            "SELECT count(*) AS n FROM portal_events",
            "SELECT count(*) AS n FROM signatures",
            "SELECT feed, count(*) AS n FROM quarantine GROUP BY feed ORDER BY feed",
            "SELECT status, count(*) AS n, sum(fee_vnd) AS fees FROM dossiers GROUP BY status ORDER BY status",
            sqls_last(),
        ];
        answers.push(
            sqls.iter()
                .map(|sql| query(&server, lake, &out, sql))
                .collect::<Vec<_>>(),
        );
    }
    assert!(answers[0][6].lines().count() > 100, "{}", answers[0][6]);
    assert_eq!(answers[0], answers[1]);

    // Published twice more over the same range: each run a new version, the
    // one before kept for readers still on it, older ones deleted.
    let out = format!("s3://{BUCKET}/province-out");
    for _ in 0..2 {
        publish(&server, &bucket, &out);
    }
    assert_eq!(query(&server, &bucket, &out, sqls_last()), answers[0][6]);
    let published = objects(&server, "province-out");
    let pointer: Vec<&String> = published
        .iter()
        .filter(|o| o.ends_with(".version"))
        .collect();
    assert_eq!(pointer, ["kpi_values.version"]);
    let versions: BTreeSet<&str> = published
        .iter()
        .filter_map(|o| o.strip_prefix(".kpi_values/")?.split('/').next())
        .filter(|v| !v.ends_with(".json"))
        .collect();
    assert_eq!(versions.len(), 2, "{published:?}");
    assert!(published.contains("kpi_catalog.parquet"));

    // A second range, then an incremental run over both: each keeps the
    // slices it does not compute (in a bucket copied on the server, their
    // columns checked from their footers), and the bucket's output stays
    // the folder's.
    let folder_out = f.dir.path().join("out").display().to_string();
    for (lake, out) in [(&folder, &folder_out), (&bucket, &out)] {
        for (from, to, incremental) in [
            ("2024-01-01", "2024-04-01", false),
            ("2024-01-01", "2025-07-01", true),
        ] {
            let mut kpi = motcua(&server, lake, &["kpi", "--grain", "month"]);
            kpi.args(["--from", from, "--to", to, "--out", out]);
            if incremental {
                kpi.arg("--incremental");
            }
            succeed(kpi);
        }
    }
    let periods = "SELECT count(DISTINCT period_start) AS n FROM kpi_values";
    assert_eq!(query(&server, &bucket, &out, periods), "n\n19\n");
    assert_eq!(
        query(&server, &bucket, &out, sqls_last()),
        query(&server, &folder, &folder_out, sqls_last())
    );

    // The bucket holds the lake: a manifest naming files that are there,
    // and nothing else beside them.
    let manifest = manifest(&server, "province");
    assert_eq!(manifest["format_version"], 4);
    let held = objects(&server, "province");
    let named = named(&manifest);
    assert!(named.is_subset(&held), "{named:?} ⊄ {held:?}");
    let others: Vec<&String> = held
        .iter()
        .filter(|o| !named.contains(*o) && !o.starts_with("_manifest"))
        .collect();
    assert!(others.is_empty(), "unnamed objects: {others:?}");
    // A folder lake is not changed by the format: its files carry no tag.
    assert!(
        std::fs::read_dir(f.lake.join("units")).unwrap().all(|e| e
            .unwrap()
            .file_name()
            .to_string_lossy()
            .len()
            == "f000001.parquet".len())
    );
}

/// A signatures export of `rows` events.
fn signatures(f: &Fixture, name: &str, first: usize, rows: usize) -> std::path::PathBuf {
    let mut text = String::from("event_id,occurred_at,unit_code,event_type,signed\n");
    for i in first..first + rows {
        text.push_str(&format!(
            "E{i:08},2024-03-01 08:{:02}:00,001,document_issued,true\n",
            i % 60
        ));
    }
    f.write(name, text)
}

#[test]
fn of_two_writers_racing_for_one_version_one_commits_and_the_other_leaves_nothing() {
    let server = S3Server::start();
    let f = Fixture::new();
    let lake = format!("s3://{BUCKET}/race");
    let units = f.write(
        "units.csv",
        "unit_code,name,level,parent_code\n001,Tỉnh Một,province,\n",
    );
    let mut first = motcua(&server, &lake, &["ingest", "units"]);
    first.arg(&units);
    succeed(first);
    let big = signatures(&f, "big.csv", 0, 150_000);
    let small = signatures(&f, "small.csv", 500_000, 10);

    // The slow writer opens the lake, then the quick one commits first.
    let mut slow = motcua(&server, &lake, &["ingest", "signatures"]);
    slow.arg(&big);
    let mut quick = motcua(&server, &lake, &["ingest", "signatures"]);
    quick.arg(&small);
    let lost = race(&f, slow, || {
        succeed(quick);
    });
    let stderr = String::from_utf8_lossy(&lost.stderr);
    assert_eq!(lost.status.code(), Some(8), "{stderr}");
    assert!(
        stderr.contains("another writer committed version 2 while this command ran; nothing of this command was committed; run it again"),
        "{stderr}"
    );

    // Exactly the quick writer's commit, and nothing of the slow one's.
    let manifest = manifest(&server, "race");
    let ingests = manifest["ingests"].as_array().unwrap();
    assert_eq!(ingests.len(), 2);
    assert_eq!(ingests[1]["accepted"], 10);
    let held: BTreeSet<String> = objects(&server, "race")
        .into_iter()
        .filter(|o| !o.starts_with("_manifest"))
        .collect();
    assert_eq!(held, named(&manifest));
    let out = f.dir.path().join("out");
    assert_eq!(
        query(&server, &lake, &out, "SELECT count(*) AS n FROM signatures"),
        "n\n10\n"
    );
    // Run again, it commits.
    let mut again = motcua(&server, &lake, &["ingest", "signatures"]);
    again.arg(&big);
    succeed(again);
    assert_eq!(
        query(&server, &lake, &out, "SELECT count(*) AS n FROM signatures"),
        "n\n150010\n"
    );
}

/// Runs `slow` until it has begun writing (its staging folder, under its own
/// TMPDIR, holds something), holds it still while `quick` runs, whatever the
/// machine's load, then lets it finish.
fn race(f: &Fixture, mut slow: Command, quick: impl FnOnce()) -> Output {
    let staging = f.dir.path().join("tmp-slow");
    std::fs::create_dir_all(&staging).unwrap();
    let slow = slow.env("TMPDIR", &staging).spawn().unwrap();
    let started = Instant::now();
    while !has_transaction(&staging) {
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "the slow writer never began"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    signal(slow.id(), "STOP");
    quick();
    signal(slow.id(), "CONT");
    slow.wait_with_output().unwrap()
}

/// Sends signal `name` (STOP, CONT) to process `pid`.
fn signal(pid: u32, name: &str) {
    let sent = Command::new("kill")
        .args(["-s", name, &pid.to_string()])
        .status()
        .expect("kill");
    assert!(sent.success());
}

/// Whether a writer with `TMPDIR=dir` has begun its transaction.
fn has_transaction(dir: &FsPath) -> bool {
    std::fs::read_dir(dir).is_ok_and(|entries| {
        entries
            .flatten()
            .any(|e| std::fs::read_dir(e.path()).is_ok_and(|mut inner| inner.next().is_some()))
    })
}

#[test]
fn writers_killed_mid_commit_leave_the_previous_or_the_next_lake() {
    let server = S3Server::start();
    let f = Fixture::new();
    let exports = f.dir.path().join("exports");
    motcua::sample::generate(&exports, 4_000, 5).unwrap();
    let dossiers = exports.join("dossiers.csv");
    let counts = |lake: &str| {
        query(
            &server,
            lake,
            f.dir.path().join("out"),
            "SELECT count(*) AS n FROM dossier_snapshots",
        )
    };
    let ingest = |lake: &str| {
        let mut c = motcua(&server, lake, &["-q", "ingest", "dossiers"]);
        c.arg(&dossiers).stdout(Stdio::null()).stderr(Stdio::null());
        c
    };
    let units = |lake: &str| {
        let mut c = motcua(&server, lake, &["-q", "ingest", "units"]);
        c.arg(exports.join("units.csv"));
        c
    };
    // The uninterrupted reference.
    let reference = format!("s3://{BUCKET}/reference");
    succeed(units(&reference));
    let before = counts(&reference);
    let start = Instant::now();
    succeed(ingest(&reference));
    let took = start.elapsed();
    let after = counts(&reference);
    assert_ne!(before, after);

    let points = 8;
    let mut kills = 0;
    for i in 0..points {
        let lake = format!("s3://{BUCKET}/killed{i}");
        succeed(units(&lake));
        let mut child = ingest(&lake).spawn().unwrap();
        std::thread::sleep(took.mul_f64((i as f64 + 0.5) / points as f64));
        if matches!(child.try_wait(), Ok(None)) {
            kills += 1;
        }
        let _ = child.kill();
        let _ = child.wait();
        // The lake reads as before or after, and names only files it holds.
        let seen = counts(&lake);
        assert!(seen == before || seen == after, "kill point {i}: {seen}");
        let prefix = format!("killed{i}");
        let manifest = manifest(&server, &prefix);
        let held = objects(&server, &prefix);
        assert!(named(&manifest).is_subset(&held), "kill point {i}");
        // Running it again completes the lake.
        succeed(ingest(&lake));
        assert_eq!(counts(&lake), after, "kill point {i}");
    }
    assert!(
        kills >= points / 2,
        "only {kills} of {points} kills landed mid-run"
    );
}

#[test]
fn of_two_kpi_runs_publishing_at_once_the_second_to_finish_fails_and_leaves_the_first() {
    let server = S3Server::start();
    let f = Fixture::new();
    let exports = f.dir.path().join("exports");
    motcua::sample::generate(&exports, 3_000, 7).unwrap();
    let lake = format!("s3://{BUCKET}/two-runs");
    ingest_sample(&server, &lake, &exports);
    let out = format!("s3://{BUCKET}/two-runs-out");
    let kpi = |from: &str, to: &str| {
        motcua(
            &server,
            &lake,
            &[
                "kpi", "--grain", "month", "--from", from, "--to", to, "--out", &out,
            ],
        )
    };
    // The slow run starts from no output; the quick one publishes first.
    let lost = race(&f, kpi("2024-01-01", "2026-06-01"), || {
        succeed(kpi("2025-01-01", "2025-02-01"));
    });
    let stderr = String::from_utf8_lossy(&lost.stderr);
    assert_eq!(lost.status.code(), Some(8), "{stderr}");
    assert!(
        stderr.contains("kpi_values.version: another writer committed version 1 while this command ran; nothing of this command was committed; run it again"),
        "{stderr}"
    );
    // The quick run's output, whole, and nothing of the slow one's.
    let periods = "SELECT count(DISTINCT period_start) AS n FROM kpi_values";
    assert_eq!(query(&server, &lake, &out, periods), "n\n2\n");
    let versions = || -> BTreeSet<String> {
        objects(&server, "two-runs-out")
            .into_iter()
            .filter_map(|o| {
                Some(
                    o.strip_prefix(".kpi_values/")?
                        .split('/')
                        .next()?
                        .to_string(),
                )
            })
            .filter(|v| !v.ends_with(".json"))
            .collect()
    };
    let current = || pointer(&server, "two-runs-out/kpi_values.version");
    let quick = current();
    // The slow run's version was never current; the next run deletes it.
    assert_eq!(versions().len(), 2, "{:?}", versions());
    // Run again, it publishes: its months beside the quick run's.
    succeed(kpi("2024-01-01", "2026-06-01"));
    let rerun = current();
    assert_eq!(versions(), BTreeSet::from([quick, rerun]));
    assert_eq!(query(&server, &lake, &out, periods), "n\n30\n");
}
