//! Paths that used to lose, double or hide data while exiting 0 (issue 12),
//! each pinned by a test named after the behaviour it guarantees.

mod common;

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::*;
use motcua::Error;
use motcua::ingest::IngestOptions;
use motcua::spec::feeds::Feed;
use motcua::validate::privacy::PiiKey;

const UNITS: &str = "unit_code,name,level,parent_code,adult_population
P,Tỉnh Thử Nghiệm,province,,10000
D1,Huyện Một,district,P,4000
D2,Huyện Hai,district,P,3000
";

/// One dossier snapshot of unit D1, received on `day` of March 2024 and
/// exported at `updated` (hour of that day) with `status`.
fn snapshot(id: &str, day: u32, updated: u32, status: &str) -> String {
    let completed = if status == "resolved" {
        format!("2024-03-{day:02} {updated:02}:00")
    } else {
        String::new()
    };
    format!(
        "{id},PR,D1,counter,none,{status},2024-03-{day:02} 08:00,2024-04-30,{completed},,2024-03-{day:02} {updated:02}:00,0,0,0,0,0,0,,0,,,citizen"
    )
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The CLI over the fixture's lake, from `cwd`.
fn cli(f: &Fixture, cwd: &Path, args: &[&str]) -> Output {
    motcua_command(&f.lake)
        .current_dir(cwd)
        .env_remove("MOTCUA_QUERIES")
        .args(args)
        .output()
        .expect("run motcua")
}

/// `motcua kpi ARGS --out OUT` over the fixture's lake, from `cwd`.
fn kpi(f: &Fixture, cwd: &Path, out: &str, args: &[&str]) -> Output {
    let mut all = vec!["kpi"];
    all.extend(args);
    all.extend(["--out", out]);
    cli(f, cwd, &all)
}

/// SQL over the session `motcua query` opens (where `dossiers` is the
/// current state, one row per dossier).
fn session_sql(lake: &Path, sql: &str) -> Vec<Vec<String>> {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let (ctx, _) = motcua::sql::session::open(
            &motcua::Location::Folder(lake.to_path_buf()),
            &Default::default(),
        )
        .await
        .unwrap();
        rows(&ctx.sql(sql).await.unwrap().collect().await.unwrap())
    })
}

// 1 ------------------------------------------------------------------------

#[test]
fn a_strict_ingest_of_several_files_keeps_every_dossier_when_its_runs_spill() {
    // Three files; the later ones re-send some dossiers of the earlier ones
    // with a later state. A run of 7 snapshots makes every file spill.
    let mut files = Vec::new();
    for file in 0..3u32 {
        let mut text = format!("{DOSSIER_HEADER}\n");
        for i in 0..40u32 {
            text.push_str(&snapshot(
                &format!("F{file}-{i}"),
                1 + i % 20,
                9,
                "received",
            ));
            text.push('\n');
        }
        if file > 0 {
            for i in 0..10u32 {
                let earlier = format!("F{}-{i}", file - 1);
                text.push_str(&snapshot(&earlier, 1 + i % 20, 10 + file, "resolved"));
                text.push('\n');
            }
        }
        files.push(text);
    }
    let current = |strict: bool| {
        let f = Fixture::new();
        let paths: Vec<PathBuf> = files
            .iter()
            .enumerate()
            .map(|(i, t)| f.write(&format!("d{i}.csv"), t))
            .collect();
        let options = IngestOptions {
            strict,
            run_records: Some(7),
            ..f.options()
        };
        f.ingest_with(Feed::Dossiers, &paths, &options).unwrap();
        session_sql(
            &f.lake,
            "SELECT dossier_id, status, CAST(updated_at AS VARCHAR) FROM dossiers ORDER BY dossier_id",
        )
    };
    let strict = current(true);
    assert_eq!(strict.len(), 120, "every dossier once");
    let resolved = strict.iter().filter(|r| r[1] == "resolved").count();
    assert_eq!(resolved, 20, "the later snapshot of each re-sent dossier");
    assert_eq!(
        strict,
        current(false),
        "--strict and per-file commits agree"
    );
}

// 2 ------------------------------------------------------------------------

#[test]
fn a_units_or_targets_file_with_a_rejected_row_is_refused_whole_and_the_old_version_kept() {
    let f = Fixture::new();
    f.ingest_text(Feed::Units, "units.csv", UNITS);
    let targets = "kpi,unit_code,year,target\non_time_rate,*,2024,95%\nreceived,*,2024,100\n";
    f.ingest_text(Feed::Targets, "targets.csv", targets);
    let count = |table: &str| f.sql(&format!("SELECT count(*) FROM {table}"))[0][0].clone();
    assert_eq!((count("units"), count("targets")), ("3".into(), "2".into()));

    // Both rows rejected (a rate written as 95; not a number).
    let bad = f.write(
        "bad.csv",
        "kpi,unit_code,year,target\non_time_rate,*,2025,95\nfull_online_rate,*,2025,eighty%\n",
    );
    let out = cli(
        &f,
        f.dir.path(),
        &["ingest", "targets", bad.to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    let stderr = text(&out.stderr);
    assert!(
        stderr.starts_with(&format!(
            "error: {}: targets file refused whole; the lake keeps its targets as they were: 2 of 2 row(s) rejected (line 2: target: on_time_rate is a rate",
            bad.display()
        )),
        "{stderr}"
    );
    // A half-bad one too, and an empty one.
    let half = f.write(
        "half.csv",
        "kpi,unit_code,year,target\nreceived,*,2025,90\nreceived,D1,2025,-1\n",
    );
    let empty = f.write("empty.csv", "kpi,unit_code,year,target\n");
    for path in [&half, &empty] {
        match f.ingest(Feed::Targets, std::slice::from_ref(path)) {
            Err(e @ Error::Refused { .. }) => assert_eq!(e.exit_code(), 3),
            other => panic!("{}: expected a refusal, got {other:?}", path.display()),
        }
    }
    // A units file with a level the registry does not know.
    let units = f.write("u.csv", format!("{UNITS}X,Xã Mới,thon,D1,\n"));
    let out = cli(
        &f,
        f.dir.path(),
        &["ingest", "units", units.to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(3));
    assert!(
        text(&out.stderr).contains("1 of 4 row(s) rejected (line 5: level: 'thon' is not a level"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!((count("units"), count("targets")), ("3".into(), "2".into()));
    // The dry run says the same.
    match motcua::ingest::dry_run(
        &f.location(),
        Feed::Targets,
        &[half],
        &f.options(),
        &mut |_| {},
    ) {
        Err(Error::Refused { .. }) => {}
        other => panic!("the dry run must refuse it too, got {other:?}"),
    }
}

// 3 ------------------------------------------------------------------------

#[test]
fn an_ingest_under_another_pii_key_is_refused_and_the_lake_is_not_doubled() {
    let f = Fixture::new();
    let rows = format!(
        "{DOSSIER_HEADER}\nA1,PR,D1,counter,none,received,2024-03-01 08:00,,,,2024-03-01 08:00,,,,,,,,,,001203004567,citizen\n"
    );
    f.ingest_text(Feed::Dossiers, "d.csv", &rows);
    let check = f
        .manifest()
        .pii_key_check
        .expect("the key's fingerprint is recorded");
    let manifest_text = std::fs::read_to_string(f.manifest_file()).unwrap();
    assert!(!manifest_text.contains(std::str::from_utf8(TEST_KEY).unwrap()));
    assert_eq!(check, PiiKey::new(TEST_KEY, "t").unwrap().fingerprint());

    // The same rows, one more newline, under another key.
    let again = f.write("again.csv", format!("{rows}\n"));
    let other = IngestOptions {
        pii_key: Some(PiiKey::new(b"another-key-another-key-0123", "other").unwrap()),
        ..f.options()
    };
    for dry in [true, false] {
        let result = if dry {
            motcua::ingest::dry_run(
                &f.location(),
                Feed::Dossiers,
                std::slice::from_ref(&again),
                &other,
                &mut |_| {},
            )
        } else {
            f.ingest_with(Feed::Dossiers, std::slice::from_ref(&again), &other)
        };
        match result {
            Err(e @ Error::PiiKey(_)) => {
                assert_eq!(e.exit_code(), 6);
                assert!(
                    e.to_string()
                        .contains("is not the key this lake's applicant keys were made with"),
                    "{e}"
                );
            }
            other => panic!("expected the key refused (dry run {dry}), got {other:?}"),
        }
    }
    assert_eq!(f.sql("SELECT count(*) FROM dossiers"), vec![vec!["1"]]);
    // Under its own key the copy is a duplicate, as it should be.
    let report = f
        .ingest(Feed::Dossiers, std::slice::from_ref(&again))
        .unwrap()
        .remove(0);
    assert_eq!(report_counts(&report), (1, 0, 0, 1));

    // A lake from before the fingerprint: no key is taken on trust; the
    // operator records the lake's key once. (Such a lake keeps its manifest
    // whole in _manifest.json, format 2.)
    let mut manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(f.manifest_file()).unwrap()).unwrap();
    manifest.as_object_mut().unwrap().remove("pii_key_check");
    manifest["format_version"] = 2.into();
    std::fs::remove_dir_all(f.lake.join("_manifest")).unwrap();
    std::fs::write(
        f.lake.join("_manifest.json"),
        serde_json::to_vec(&manifest).unwrap(),
    )
    .unwrap();
    let third = f.write("third.csv", format!("{rows}\n\n"));
    let third = third.to_str().unwrap();
    let refused = cli(&f, f.dir.path(), &["ingest", "dossiers", third]);
    assert_eq!(refused.status.code(), Some(6));
    assert!(text(&refused.stderr).contains("holds dossiers from before motcua recorded which PII key made their applicant keys; if the key from $MOTCUA_PII_KEY is that key, record it once with `motcua lake --record-pii-key`"), "{}", text(&refused.stderr));
    let record = cli(&f, f.dir.path(), &["lake", "--record-pii-key"]);
    assert_eq!(record.status.code(), Some(0), "{}", text(&record.stderr));
    assert_eq!(f.manifest().pii_key_check, Some(check));
    let after = cli(&f, f.dir.path(), &["ingest", "dossiers", third]);
    assert_eq!(after.status.code(), Some(0), "{}", text(&after.stderr));
    assert_eq!(f.sql("SELECT count(*) FROM dossiers"), vec![vec!["1"]]);
}

// 4 ------------------------------------------------------------------------

/// What an strace of one command shows: the files (by path) synced before
/// the last manifest version linked into `_manifest/`, following renames and
/// links of synced files.
fn synced_before_last_manifest(trace: &str) -> BTreeSet<String> {
    let mut fds: HashMap<i64, String> = HashMap::new();
    let mut synced: BTreeSet<String> = BTreeSet::new();
    let mut at_manifest = BTreeSet::new();
    let mut pending: HashMap<String, String> = HashMap::new();
    for line in trace.lines() {
        let Some((pid, call)) = line.split_once(' ') else {
            continue;
        };
        let call = call.trim_start();
        // Calls interrupted by another thread's are printed in two parts.
        let call = if let Some(head) = call.strip_suffix("<unfinished ...>") {
            pending.insert(pid.to_string(), head.to_string());
            continue;
        } else if call.starts_with("<...") {
            let rest = call.split_once("resumed>").map_or("", |(_, r)| r);
            format!("{}{rest}", pending.remove(pid).unwrap_or_default())
        } else {
            call.to_string()
        };
        let quoted: Vec<&str> = call.split('"').skip(1).step_by(2).collect();
        let result = call
            .rsplit_once("= ")
            .and_then(|(_, r)| r.split_whitespace().next()?.parse::<i64>().ok());
        let first_arg = call
            .split_once('(')
            .and_then(|(_, a)| a.split([',', ')']).next()?.trim().parse::<i64>().ok());
        if call.starts_with("openat(") {
            if let (Some(fd), Some(path)) = (result.filter(|r| *r >= 0), quoted.first()) {
                fds.insert(fd, path.to_string());
            }
        } else if call.starts_with("fsync(") || call.starts_with("fdatasync(") {
            if let Some(path) = first_arg.and_then(|fd| fds.get(&fd)) {
                synced.insert(path.clone());
            }
        } else if (call.starts_with("rename") || call.starts_with("link"))
            && result == Some(0)
            && quoted.len() == 2
        {
            let (from, to) = (quoted[0], quoted[1]);
            if synced.contains(from) {
                synced.insert(to.to_string());
            }
            if to.contains("/_manifest/") && synced.contains(to) {
                at_manifest = synced.clone();
            }
        }
    }
    at_manifest
}

/// Every path a manifest names: data, quarantine and the current-state index.
fn named_paths(manifest: &motcua::lake::Manifest) -> BTreeSet<String> {
    let mut paths: BTreeSet<String> = manifest
        .ingests
        .iter()
        .flat_map(|e| {
            e.data_files
                .iter()
                .map(|f| f.path.clone())
                .chain(e.quarantine_file.clone())
        })
        .collect();
    paths.extend(manifest.dossier_index.clone());
    paths.extend(manifest.dossier_index_delta.clone());
    paths
}

#[test]
fn every_file_a_manifest_names_is_synced_before_the_manifest_that_names_it() {
    let f = Fixture::new();
    let lake = f.lake.canonicalize().unwrap_or_else(|_| {
        std::fs::create_dir_all(&f.lake).unwrap();
        f.lake.canonicalize().unwrap()
    });
    let units = f.write("units.csv", UNITS);
    let mut first = format!("{DOSSIER_HEADER}\n");
    for i in 0..20 {
        first.push_str(&format!(
            "{}\n",
            snapshot(&format!("A{i}"), 1 + i, 9, "received")
        ));
    }
    first.push_str("BAD,PR,D1,fax,none,received,2024-03-01 08:00,,,,2024-03-01 08:00,,,,,,,,,,,\n");
    let first = f.write("first.csv", first);
    // A nightly file: a delta of the index, not a new base.
    let second = f.write(
        "second.csv",
        format!("{DOSSIER_HEADER}\n{}\n", snapshot("A1", 2, 15, "resolved")),
    );
    let mut before = BTreeSet::new();
    for (feed, path, strict) in [
        ("units", &units, false),
        ("dossiers", &first, false),
        ("dossiers", &second, true),
    ] {
        let trace = f.dir.path().join("trace.txt");
        let mut command = Command::new("strace");
        command
            .args([
                "-f",
                "-qq",
                "-s",
                "4096",
                "-e",
                "trace=openat,fsync,fdatasync,rename,renameat,renameat2,link,linkat",
                "-o",
            ])
            .arg(&trace)
            .arg(env!("CARGO_BIN_EXE_motcua"))
            .args(["ingest", feed])
            .arg("--lake")
            .arg(&lake)
            .arg(path)
            .env("MOTCUA_PII_KEY", std::str::from_utf8(TEST_KEY).unwrap());
        if strict {
            command.arg("--strict");
        }
        let out = command.output().expect(
            "strace runs (install Debian's strace: .ci/run does, `apt-get install strace`)",
        );
        assert!(
            out.status.code().is_some_and(|c| c == 0 || c == 7),
            "{}",
            text(&out.stderr)
        );
        let synced = synced_before_last_manifest(&std::fs::read_to_string(&trace).unwrap());
        let named = named_paths(&f.manifest());
        let new: Vec<&String> = named.difference(&before).collect();
        assert!(!new.is_empty(), "{feed}: the commit named no new file");
        for rel in new {
            let path = lake.join(rel).display().to_string();
            assert!(
                synced.contains(&path),
                "{feed}: {rel} was not synced before the manifest named it"
            );
        }
        before = named;
    }
    let manifest = f.manifest();
    assert!(
        manifest.dossier_index_delta.is_some(),
        "the second dossier file made a delta"
    );
    assert!(manifest.ingests.iter().any(|e| e.quarantine_file.is_some()));
}

// 5 ------------------------------------------------------------------------

#[test]
fn a_file_with_every_row_rejected_exits_7_and_max_rejected_fails_a_file_whole() {
    let f = Fixture::new();
    let header = "event_id,occurred_at,unit_code,event_type\n";
    let all_bad = f.write(
        "bad.csv",
        format!("{header}E1,2024-03-01,D1,nope\nE2,yesterday,D1,document_issued\n"),
    );
    let out = cli(
        &f,
        f.dir.path(),
        &["ingest", "signatures", all_bad.to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(7), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains(&format!(
        "error: {}: all 2 row(s) were rejected, none reached the lake",
        all_bad.display()
    )));
    // One of four rejected: 25%, a warning; over --max-rejected 10%, refused.
    let some_bad = f.write(
        "some.csv",
        format!("{header}S1,2024-03-01,D1,document_issued\nS2,2024-03-02,D1,document_issued\nS3,2024-03-03,D1,document_issued\nS4,2024-03-04,D1,nope\n"),
    );
    let before = f.manifest().ingests.len();
    let some_bad = some_bad.to_str().unwrap();
    let with_limit = |extra: &[&str]| {
        let mut args = vec!["ingest", "signatures", some_bad];
        args.extend(extra);
        cli(&f, f.dir.path(), &args)
    };
    let out = with_limit(&["--max-rejected", "10%"]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(7), "{stderr}");
    assert!(text(&out.stdout).contains(
        "read 4 · accepted 3 · quarantined 1 · duplicates 0 → refused, nothing committed"
    ));
    assert!(
        stderr.contains("1 of 4 row(s) rejected (25.0%), more than --max-rejected 10%; nothing of this file was committed"),
        "{stderr}"
    );
    assert_eq!(
        f.manifest().ingests.len(),
        before,
        "nothing of it committed"
    );
    let dry = with_limit(&["--dry-run", "--max-rejected", "0.1"]);
    assert_eq!(dry.status.code(), Some(7));
    let out = with_limit(&["--max-rejected", "30%"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("warning: 25.0% of the rows were rejected"));
    assert_eq!(
        with_limit(&["--max-rejected", "150%"]).status.code(),
        Some(2)
    );

    // A re-sent file: its old rows duplicates, every new one rejected.
    let resent = f.write(
        "resent.csv",
        format!("{header}S1,2024-03-01,D1,document_issued\nS9,2024-03-09,D1,nope\n"),
    );
    let out = cli(
        &f,
        f.dir.path(),
        &["ingest", "signatures", resent.to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(7), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("read 2 · accepted 0 · quarantined 1 · duplicates 1"));

    // A refused file leaves the others to go on; the command fails at the end.
    let good = f.write(
        "good.csv",
        format!("{header}G1,2024-03-05,D1,document_issued\n"),
    );
    let worse = f.write(
        "worse.csv",
        format!("{header}W1,2024-03-05,D1,nope\nW2,2024-03-06,D1,document_issued\n"),
    );
    let at_5_percent = |files: &[&PathBuf]| {
        let mut args = vec!["ingest", "signatures", "--max-rejected", "5%"];
        args.extend(files.iter().map(|p| p.to_str().unwrap()));
        cli(&f, f.dir.path(), &args)
    };
    let out = at_5_percent(&[&worse, &good]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(7), "{stderr}");
    let expected = format!(
        "error: {}: 1 of 2 row(s) rejected (50.0%), more than --max-rejected 5%",
        worse.display()
    );
    assert!(stderr.contains(&expected), "{stderr}");
    let ids =
        f.sql("SELECT event_id FROM signatures WHERE event_id IN ('G1', 'W2') ORDER BY event_id");
    assert_eq!(
        ids,
        vec![vec!["G1"]],
        "the good file committed, nothing of the refused one"
    );
    // A refused file is not named among those committed when a later one fails.
    let broken = f.write("broken.csv", "no,header,here\n1,2,3\n");
    let out = at_5_percent(&[&worse, &broken]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(
        stderr
            .trim_end()
            .ends_with("; no file of this command was committed"),
        "{stderr}"
    );
}

// 6 ------------------------------------------------------------------------

#[test]
fn unknown_unit_codes_are_named_at_ingest_and_counted_by_motcua_lake() {
    let f = Fixture::new();
    let signatures = f.write(
        "s.csv",
        "event_id,occurred_at,unit_code,event_type\nS1,2024-03-01,D1,document_issued\nS2,2024-03-01,3,document_issued\nS3,2024-03-02,3,document_issued\nS4,2024-03-02,ZZ,document_issued\n",
    );
    let out = cli(
        &f,
        f.dir.path(),
        &["ingest", "signatures", signatures.to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(0));
    assert!(
        text(&out.stderr)
            .contains("note: the lake has no units registry yet, so unit codes were not checked")
    );
    let lake = cli(&f, f.dir.path(), &["lake"]);
    assert!(
        text(&lake.stdout).contains("unit codes: not checked, the lake has no units registry yet")
    );

    f.ingest_text(Feed::Units, "units.csv", UNITS);
    let again = f.write(
        "s2.csv",
        format!(
            "{}S5,2024-03-03,3,document_issued\n",
            std::fs::read_to_string(&signatures)
                .unwrap()
                .replace("S1,", "T1,")
                .replace("S2,", "T2,")
                .replace("S3,", "T3,")
                .replace("S4,", "T4,")
        ),
    );
    let out = cli(
        &f,
        f.dir.path(),
        &["ingest", "signatures", again.to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("warning: 4 row(s) name unit codes the units registry does not hold (3, ZZ); they are kept"),
        "{}",
        text(&out.stderr)
    );
    let lake = cli(&f, f.dir.path(), &["lake"]);
    assert!(
        text(&lake.stdout)
            .contains("unit codes: 7 row(s) name units the registry does not hold (signatures 7)"),
        "{}",
        text(&lake.stdout)
    );
    // A target for `*` means every unit; one for a code the registry lacks is named.
    let targets = f.write(
        "t.csv",
        "kpi,unit_code,year,target\nreceived,*,2024,10\nreceived,D9,2024,5\n",
    );
    let out = cli(
        &f,
        f.dir.path(),
        &["ingest", "targets", targets.to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr)
            .contains("warning: 1 row(s) name unit codes the units registry does not hold (D9)"),
        "{}",
        text(&out.stderr)
    );
}

// 7, 9, 10 -------------------------------------------------------------------

/// A lake with the sample's feeds and January–March 2024 published, as
/// reported and restated on the units of 1 February 2024.
fn published_sample() -> (Fixture, PathBuf) {
    let f = Fixture::new();
    f.ingest_sample(400, 3);
    let out = f.dir.path().join("out");
    let run = kpi(
        &f,
        f.dir.path(),
        out.to_str().unwrap(),
        &["--from", "2024-01-01", "--to", "2024-03-01"],
    );
    assert_eq!(run.status.code(), Some(0), "{}", text(&run.stderr));
    let restated = kpi(
        &f,
        f.dir.path(),
        out.to_str().unwrap(),
        &[
            "--from",
            "2024-01-01",
            "--to",
            "2024-03-01",
            "--units-as-of",
            "2024-02-01",
        ],
    );
    assert_eq!(
        restated.status.code(),
        Some(0),
        "{}",
        text(&restated.stderr)
    );
    (f, out)
}

#[test]
fn every_saved_query_and_the_kpi_job_run_from_any_folder() {
    let (f, out) = published_sample();
    let elsewhere = tempfile::tempdir().unwrap();
    let out_arg = out.to_str().unwrap();
    let incremental = kpi(
        &f,
        elsewhere.path(),
        out_arg,
        &[
            "--incremental",
            "--from",
            "2024-01-01",
            "--to",
            "2024-04-01",
        ],
    );
    assert_eq!(
        incremental.status.code(),
        Some(0),
        "{}",
        text(&incremental.stderr)
    );
    for (name, _) in motcua::sql::saved::SHIPPED {
        let saved = motcua::sql::saved::find(None, name).unwrap();
        let mut args = vec![
            "query".to_string(),
            name.to_string(),
            "--out".into(),
            out_arg.into(),
            "--format".into(),
            "csv".into(),
        ];
        for p in saved.params.iter().filter(|p| p.default.is_none()) {
            let value = match p.name.as_str() {
                "after" => "0",
                "to" => "2024-03-01",
                "unit" => "01",
                _ => "2024-02-01",
            };
            args.extend(["--param".into(), format!("{}={value}", p.name)]);
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let run = cli(&f, elsewhere.path(), &args);
        assert_eq!(run.status.code(), Some(0), "{name}: {}", text(&run.stderr));
        assert!(!text(&run.stdout).is_empty(), "{name}: no header");
    }
    let demo_hint = cli(
        &f,
        elsewhere.path(),
        &[
            "query",
            "ranking",
            "--param",
            "kpi=full_online_rate",
            "--param",
            "period=2024-03-01",
            "--out",
            out_arg,
        ],
    );
    assert_eq!(
        demo_hint.status.code(),
        Some(0),
        "{}",
        text(&demo_hint.stderr)
    );
}

#[test]
fn wrong_query_parameters_are_refused_saying_what_is_valid() {
    let (f, out) = published_sample();
    let out_arg = out.to_str().unwrap();
    let cases: [(&[&str], &str); 5] = [
        (
            &["kpi=ontime_rate", "period=2024-02-01"],
            "parameter kpi: 'ontime_rate' is not a KPI; the KPIs are ",
        ),
        (
            &["level=thon", "period=2024-02-01"],
            "parameter level: 'thon' is not a level (expected one of: province, district, commune, department)",
        ),
        (
            &["grain=fortnight", "period=2024-02-01"],
            "parameter grain: 'fortnight' is not a grain",
        ),
        (
            &["period=2024-02-15"],
            "parameter period: 2024-02-15 does not start a month; the month holding it starts on 2024-02-01",
        ),
        (
            &["period=2023-06-01"],
            "parameter period: the month starting 2023-06-01 is not published in ",
        ),
    ];
    let ranking = |params: &[&str]| {
        let mut args = vec!["query", "ranking", "--out", out_arg];
        for p in params {
            args.extend(["--param", p]);
        }
        cli(&f, f.dir.path(), &args)
    };
    for (params, expected) in cases {
        let run = ranking(params);
        let stderr = text(&run.stderr);
        assert_eq!(run.status.code(), Some(2), "{params:?}: {stderr}");
        let expected = format!("error: bad argument: {expected}");
        assert!(stderr.starts_with(&expected), "{params:?}: {stderr}");
    }
    let quarter = ranking(&["grain=quarter", "period=2024-01-01"]);
    let stderr = text(&quarter.stderr);
    assert!(stderr.contains("holds no quarter periods"), "{stderr}");
    // Aliases of declared values are accepted.
    let alias = ranking(&["level=District", "period=2024-02-01"]);
    assert_eq!(alias.status.code(), Some(0), "{}", text(&alias.stderr));
}

#[test]
fn kpi_runs_that_would_compute_nothing_fail_in_one_sentence() {
    let f = Fixture::new();
    f.ingest_text(
        Feed::Signatures,
        "s.csv",
        "event_id,occurred_at,unit_code,event_type\nS1,2024-03-01,D1,document_issued\n",
    );
    let out_dir = f.dir.path().join("out");
    let out_arg = out_dir.to_str().unwrap();
    let run = kpi(
        &f,
        f.dir.path(),
        out_arg,
        &["--from", "2024-01-01", "--to", "2024-03-01"],
    );
    assert_eq!(run.status.code(), Some(4));
    assert!(
        text(&run.stderr).contains(
            "holds no units registry, and every KPI is computed per unit; ingest one first"
        )
    );
    f.ingest_text(Feed::Units, "units.csv", UNITS);
    let run = kpi(
        &f,
        f.dir.path(),
        out_arg,
        &[
            "--grain",
            "quarter",
            "--from",
            "2024-02-15",
            "--to",
            "2024-03-31",
        ],
    );
    assert_eq!(run.status.code(), Some(2));
    assert_eq!(
        text(&run.stderr).trim_end(),
        "error: bad argument: no quarter starts between --from 2024-02-15 and --to 2024-03-31: a quarter is computed when its first day is in the range; the quarters around it start on 2024-01-01 and 2024-04-01"
    );
    assert!(!out_dir.join("kpi_values").exists(), "nothing published");
}

// 8 ------------------------------------------------------------------------

#[test]
fn query_output_takes_its_format_from_the_file_name_and_others_can_read_it() {
    use std::os::unix::fs::PermissionsExt;
    let f = Fixture::new();
    f.ingest_text(Feed::Units, "units.csv", UNITS);
    let cwd = tempfile::tempdir().unwrap();
    let mode = |name: &str| {
        std::fs::metadata(cwd.path().join(name))
            .unwrap()
            .permissions()
            .mode()
            & 0o777
    };
    for (name, extra) in [
        ("r2.csv", vec![]),
        ("r2.parquet", vec![]),
        ("r2.json", vec![]),
        (
            "empty.csv",
            vec!["--sql", "SELECT unit_code, name FROM units WHERE false"],
        ),
    ] {
        let mut args = vec!["query"];
        if extra.is_empty() {
            args.extend(["--sql", "SELECT unit_code FROM units ORDER BY unit_code"]);
        } else {
            args.extend(extra);
        }
        args.extend(["--output", name]);
        let run = cli(&f, cwd.path(), &args);
        assert_eq!(run.status.code(), Some(0), "{name}: {}", text(&run.stderr));
        assert!(text(&run.stdout).is_empty(), "{name}: nothing on stdout");
        assert_eq!(mode(name), 0o644, "{name}");
    }
    let read = |name: &str| std::fs::read_to_string(cwd.path().join(name)).unwrap();
    assert_eq!(read("r2.csv"), "unit_code\nD1\nD2\nP\n");
    assert_eq!(
        read("r2.json").lines().next(),
        Some(r#"{"unit_code":"D1"}"#)
    );
    assert_eq!(
        read("empty.csv"),
        "unit_code,name\n",
        "an empty result keeps its header"
    );
    assert!(
        std::fs::read(cwd.path().join("r2.parquet"))
            .unwrap()
            .starts_with(b"PAR1")
    );
    // An empty Parquet result keeps its schema.
    let run = cli(
        &f,
        cwd.path(),
        &[
            "query",
            "--sql",
            "SELECT unit_code, level FROM units WHERE false",
            "--output",
            "e.parquet",
        ],
    );
    assert_eq!(run.status.code(), Some(0));
    let file = std::fs::File::open(cwd.path().join("e.parquet")).unwrap();
    let reader =
        parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file).unwrap();
    let names: Vec<String> = reader
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect();
    assert_eq!(names, ["unit_code", "level"]);
    let unknown = cli(
        &f,
        cwd.path(),
        &["query", "--sql", "SELECT 1", "--output", "r2.xls"],
    );
    assert_eq!(unknown.status.code(), Some(2));
    assert!(text(&unknown.stderr).contains("cannot tell the format from the name"));
}

// 11 -----------------------------------------------------------------------

#[test]
fn a_dry_run_refuses_the_zone_the_real_ingest_refuses_and_aliases_are_one_zone() {
    let f = Fixture::new();
    f.ingest_text(Feed::Units, "units.csv", UNITS);
    let s = f.write(
        "s.csv",
        "event_id,occurred_at,unit_code,event_type\nS1,2024-03-01,D1,document_issued\n",
    );
    let s = s.to_str().unwrap();
    for dry in [true, false] {
        let mut args = vec!["ingest", "--tz", "Asia/Bangkok", "signatures", s];
        if dry {
            args.push("--dry-run");
        }
        let run = cli(&f, f.dir.path(), &args);
        assert_eq!(run.status.code(), Some(4), "dry run {dry}");
        assert!(
            text(&run.stderr)
                .contains("this lake keeps local times in Asia/Ho_Chi_Minh, not Asia/Bangkok")
        );
    }
    for args in [
        vec![
            "ingest",
            "--tz",
            "Asia/Saigon",
            "signatures",
            s,
            "--dry-run",
        ],
        vec!["ingest", "--tz", "Asia/Saigon", "signatures", s],
    ] {
        let run = cli(&f, f.dir.path(), &args);
        assert_eq!(
            run.status.code(),
            Some(0),
            "{args:?}: {}",
            text(&run.stderr)
        );
    }
    assert_eq!(f.sql("SELECT count(*) FROM signatures"), vec![vec!["1"]]);
}

// 12 -----------------------------------------------------------------------

#[test]
fn exit_codes_match_the_readme_and_a_stopped_ingest_names_the_files_it_did_not_ingest() {
    let f = Fixture::new();
    let with_id = f.write(
        "ids.csv",
        format!("{DOSSIER_HEADER}\nA1,PR,D1,counter,none,received,2024-03-01 08:00,,,,2024-03-01 08:00,,,,,,,,,,001203004567,citizen\n"),
    );
    let no_key = Command::new(env!("CARGO_BIN_EXE_motcua"))
        .args(["ingest", "dossiers"])
        .arg("--lake")
        .arg(&f.lake)
        .arg(&with_id)
        .env_remove("MOTCUA_PII_KEY")
        .env_remove("MOTCUA_PII_KEY_FILE")
        .output()
        .unwrap();
    assert_eq!(no_key.status.code(), Some(6), "{}", text(&no_key.stderr));

    let header = "event_id,occurred_at,unit_code,event_type\n";
    let a = f.write(
        "a.csv",
        format!("{header}S1,2024-03-01,D1,document_issued\n"),
    );
    let b = f.write("b.csv", "no,header,here\n1,2,3\n");
    let c = f.write(
        "c.csv",
        format!("{header}S3,2024-03-01,D1,document_issued\n"),
    );
    let run = cli(
        &f,
        f.dir.path(),
        &[
            "ingest",
            "signatures",
            a.to_str().unwrap(),
            b.to_str().unwrap(),
            c.to_str().unwrap(),
        ],
    );
    assert_eq!(run.status.code(), Some(3));
    let stderr = text(&run.stderr);
    assert!(
        stderr.trim_end().ends_with(&format!(
            "; committed before it: {}; not ingested: {}",
            a.display(),
            c.display()
        )),
        "{stderr}"
    );
    let strict = cli(
        &f,
        f.dir.path(),
        &[
            "ingest",
            "signatures",
            "--strict",
            c.to_str().unwrap(),
            b.to_str().unwrap(),
        ],
    );
    assert!(
        text(&strict.stderr)
            .trim_end()
            .ends_with("; no file of this command was committed"),
        "{}",
        text(&strict.stderr)
    );
    assert_eq!(f.sql("SELECT event_id FROM signatures"), vec![vec!["S1"]]);
}

// 13 -----------------------------------------------------------------------

/// A Python with DuckDB, Polars and pyarrow, installed on first use into a
/// venv beside the build cache (pinned versions; PyPI is reachable).
fn python_with_readers() -> PathBuf {
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(std::env::temp_dir);
    let venv = home.join(".cache/motcua/py-readers");
    let python = venv.join("bin/python");
    let ready = venv.join("ready-1");
    if !ready.exists() {
        let made = Command::new("python3")
            .args(["-m", "venv"])
            .arg(&venv)
            .status()
            .unwrap();
        assert!(made.success(), "python3 -m venv failed");
        let pip = Command::new(venv.join("bin/pip"))
            .args([
                "install",
                "--quiet",
                "duckdb==2.0.0",
                "polars==2.1.0",
                "pyarrow==26.0.1",
            ])
            .status()
            .unwrap();
        assert!(pip.success(), "pip install of the readers failed");
        std::fs::write(&ready, "").unwrap();
    }
    python
}

#[test]
fn duckdb_polars_and_pyarrow_open_the_published_dataset_by_its_folder_name() {
    let (_f, out) = published_sample();
    let script = r#"
import sys, duckdb, polars as pl, pyarrow.dataset as ds
path = sys.argv[1]
counts = {}
counts["polars"] = pl.scan_parquet(path).filter(pl.col("period_grain") == "month").select(pl.len()).collect().item()
counts["duckdb"] = duckdb.sql(f"SELECT count(*) FROM read_parquet('{path}') WHERE period_grain = 'month'").fetchall()[0][0]
counts["pyarrow"] = ds.dataset(path, format="parquet", partitioning="hive").to_table().num_rows
print(counts["polars"], counts["duckdb"], counts["pyarrow"])
"#;
    let run = Command::new(python_with_readers())
        .arg("-c")
        .arg(script)
        .arg(out.join("kpi_values"))
        .output()
        .unwrap();
    assert!(run.status.success(), "{}", text(&run.stderr));
    let counts: Vec<u64> = text(&run.stdout)
        .split_whitespace()
        .map(|n| n.parse().unwrap())
        .collect();
    assert_eq!(counts.len(), 3);
    assert!(
        counts[0] > 0 && counts.iter().all(|c| *c == counts[0]),
        "{counts:?}"
    );
}

// 14 -----------------------------------------------------------------------

/// A dossier file big enough that a debug build reads it for seconds.
fn big_file(f: &Fixture, name: &str, rows: u32) -> PathBuf {
    let mut text = format!("{DOSSIER_HEADER}\n");
    for i in 0..rows {
        text.push_str(&snapshot(&format!("{name}-{i}"), 1 + i % 28, 9, "received"));
        text.push('\n');
    }
    f.write(name, text)
}

fn signal(pid: u32, name: &str) {
    let sent = Command::new("kill")
        .args(["-s", name, &pid.to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
}

/// Waits until `ready` holds, at most 60 s.
fn wait_for(what: &str, mut ready: impl FnMut() -> bool) {
    let start = Instant::now();
    while !ready() {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "gave up waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn sigint_and_sigterm_stop_an_ingest_saying_what_was_committed_and_exit_130() {
    let f = Fixture::new();
    let small = f.write(
        "small.csv",
        format!("{DOSSIER_HEADER}\n{}\n", snapshot("S1", 1, 9, "received")),
    );
    let big = big_file(&f, "big.csv", 300_000);
    let last = f.write(
        "last.csv",
        format!("{DOSSIER_HEADER}\n{}\n", snapshot("L1", 1, 9, "received")),
    );
    let child = motcua_command(&f.lake)
        .args(["ingest", "dossiers"])
        .args([&small, &big, &last])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let committed = || {
        std::fs::read(f.manifest_file())
            .ok()
            .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
            .is_some_and(|m| m["ingests"].as_array().is_some_and(|i| i.len() == 1))
    };
    wait_for("the first file's commit", committed);
    std::thread::sleep(Duration::from_millis(300));
    signal(child.id(), "INT");
    let out = child.wait_with_output().unwrap();
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "error: interrupted; {} was being read at line ",
            big.display()
        )),
        "{stderr}"
    );
    assert!(
        stderr.trim_end().ends_with(&format!(
            "nothing of it was committed; committed before it: {}; not ingested: {}",
            small.display(),
            last.display()
        )),
        "{stderr}"
    );
    assert_eq!(f.manifest().ingests.len(), 1);
    assert!(!f.lake.join("_staging").exists(), "staging cleaned");

    // SIGTERM, as a service manager stops a job, on a single file.
    let child = motcua_command(&f.lake)
        .args(["ingest", "dossiers"])
        .arg(&big)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_for("staging", || f.lake.join("_staging").exists());
    std::thread::sleep(Duration::from_millis(300));
    signal(child.id(), "TERM");
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(130), "{}", text(&out.stderr));
    assert_eq!(f.manifest().ingests.len(), 1);
    assert!(!f.lake.join("_staging").exists());
    assert_eq!(f.sql("SELECT count(*) FROM dossiers"), vec![vec!["1"]]);
}

#[test]
fn sigterm_stops_a_kpi_run_publishing_nothing_and_leaving_no_version_behind() {
    let f = Fixture::new();
    f.ingest_sample(3000, 5);
    let out = f.dir.path().join("out");
    let child = motcua_command(&f.lake)
        .args([
            "kpi",
            "--grain",
            "day",
            "--from",
            "2024-01-01",
            "--to",
            "2024-12-31",
            "--out",
        ])
        .arg(&out)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let versions = out.join(".kpi_values");
    wait_for("the version being built", || {
        std::fs::read_dir(&versions).is_ok_and(|mut d| d.next().is_some())
    });
    signal(child.id(), "TERM");
    let started = Instant::now();
    let done = child.wait_with_output().unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "the run stopped late"
    );
    assert_eq!(done.status.code(), Some(130), "{}", text(&done.stderr));
    assert!(
        text(&done.stderr)
            .contains("error: interrupted; the KPI run was stopped; nothing was published"),
        "{}",
        text(&done.stderr)
    );
    assert!(std::fs::symlink_metadata(out.join("kpi_values")).is_err());
    assert_eq!(
        std::fs::read_dir(&versions).unwrap().count(),
        0,
        "the unfinished version was removed"
    );
}

// 15 -----------------------------------------------------------------------

#[test]
fn timestamp_parameters_are_local_times_of_the_lakes_zone() {
    let q = motcua::sql::saved::SavedQuery::parse(
        "t",
        None,
        "-- T.\n-- @param at timestamp required   An instant\nSELECT $at",
    )
    .unwrap();
    let tokyo: motcua::validate::time::Zone = "Asia/Tokyo".parse().unwrap();
    let bound = q
        .bind(&[("at".into(), "2024-03-01 09:00".into())], &tokyo)
        .unwrap();
    let expected = chrono::DateTime::parse_from_rfc3339("2024-03-01T00:00:00Z")
        .unwrap()
        .timestamp_micros();
    match &bound[0].1 {
        datafusion::scalar::ScalarValue::TimestampMicrosecond(Some(micros), _) => {
            assert_eq!(*micros, expected)
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_damaged_row_hash_column_fails_the_ingest_instead_of_becoming_key_zero() {
    use std::sync::Arc;
    let f = Fixture::new();
    f.ingest_text(
        Feed::Dossiers,
        "d.csv",
        &format!("{DOSSIER_HEADER}\n{}\n", snapshot("A1", 1, 9, "received")),
    );
    let file = f
        .lake
        .join(&f.manifest().data_files(Feed::Dossiers)[0].path);
    // The same column, 8 bytes wide.
    let schema = Arc::new(arrow::datatypes::Schema::new(vec![
        arrow::datatypes::Field::new(
            "row_hash",
            arrow::datatypes::DataType::FixedSizeBinary(8),
            false,
        ),
    ]));
    let hashes = arrow::array::FixedSizeBinaryArray::try_from_iter([[0u8; 8]].into_iter()).unwrap();
    let batch =
        arrow::record_batch::RecordBatch::try_new(schema.clone(), vec![Arc::new(hashes)]).unwrap();
    let mut writer =
        parquet::arrow::ArrowWriter::try_new(std::fs::File::create(&file).unwrap(), schema, None)
            .unwrap();
    writer.write(&batch).unwrap();
    writer.close().unwrap();
    let path = f.write(
        "e.csv",
        format!("{DOSSIER_HEADER}\n{}\n", snapshot("A2", 2, 9, "received")),
    );
    match f.ingest(Feed::Dossiers, &[path]) {
        Err(e @ Error::Lake { .. }) => {
            assert_eq!(e.exit_code(), 4);
            assert!(
                e.to_string()
                    .contains("its row_hash column is not 16-byte hashes: the file is damaged"),
                "{e}"
            );
        }
        other => panic!("expected the damage reported, got {other:?}"),
    }
}

#[test]
fn a_run_manifest_with_a_renamed_field_is_a_warning_and_a_full_run_not_a_silent_one() {
    let (f, out) = published_sample();
    let manifest = std::fs::read_dir(out.join(".kpi_values"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "json"))
        .unwrap();
    let text_before = std::fs::read_to_string(&manifest).unwrap();
    assert!(text_before.contains("\"coverage\""));
    std::fs::write(
        &manifest,
        text_before.replace("\"coverage\"", "\"coverages\""),
    )
    .unwrap();
    let out_arg = out.to_str().unwrap();
    let run = kpi(
        &f,
        f.dir.path(),
        out_arg,
        &[
            "--incremental",
            "--from",
            "2024-01-01",
            "--to",
            "2024-03-01",
        ],
    );
    assert_eq!(run.status.code(), Some(0), "{}", text(&run.stderr));
    let stderr = text(&run.stderr);
    assert!(
        stderr.contains("missing field `coverage`")
            && stderr.contains("recomputing the whole range"),
        "{stderr}"
    );
    assert!(
        text(&run.stdout).contains("3 month period(s) from 2024-01-01"),
        "{}",
        text(&run.stdout)
    );
}
