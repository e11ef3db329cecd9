//! Crash safety: `motcua ingest` and `motcua kpi` killed with SIGKILL at many
//! points leave the lake and the output exactly as before or as after, and a
//! rerun completes with the same result as an uninterrupted run.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::*;

fn motcua(lake: &Path, args: &[&str]) -> Command {
    let mut command = motcua_command(lake);
    command
        .arg("-q")
        .args(args)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    command
}

/// Runs to the end; returns how long it took.
fn run(mut command: Command) -> Duration {
    let start = Instant::now();
    let status = command.status().expect("run motcua");
    assert!(status.success(), "{command:?} failed");
    start.elapsed()
}

/// Starts the command and kills it with SIGKILL after `delay` (unless it
/// finished first). True when the kill landed.
fn kill_after(mut command: Command, delay: Duration) -> bool {
    let mut child = command.spawn().expect("spawn motcua");
    std::thread::sleep(delay);
    let killed = matches!(child.try_wait(), Ok(None));
    let _ = child.kill();
    let _ = child.wait();
    killed
}

fn exports(f: &Fixture) -> PathBuf {
    let dir = f.dir.path().join("exports");
    motcua::sample::generate(&dir, 4_000, 5).unwrap();
    dir
}

/// Every committed file exists and the tables hold exactly what the manifest
/// says; returns the committed (feed, accepted) pairs.
fn check_lake(lake: &Path) -> Vec<(String, u64)> {
    let Ok(manifest) = motcua::lake::read_manifest(&motcua::Location::Folder(lake.to_path_buf()))
    else {
        return Vec::new();
    };
    let f = Fixture {
        dir: tempfile::tempdir().unwrap(),
        lake: lake.to_path_buf(),
    };
    let mut committed = Vec::new();
    for entry in &manifest.ingests {
        for file in &entry.data_files {
            assert!(
                lake.join(&file.path).exists(),
                "{} is committed but missing",
                file.path
            );
        }
        committed.push((entry.feed.name().to_string(), entry.accepted));
    }
    // The index of current dossiers names one snapshot per dossier.
    if let Some(index) = manifest.current_index() {
        let current = motcua::current::CurrentSet::load(&f.location(), &index).unwrap();
        assert_eq!(
            f.sql("SELECT count(DISTINCT dossier_id) FROM dossiers"),
            vec![vec![current.len().to_string()]],
            "{index:?}"
        );
    }
    for feed in ["dossiers", "portal_events"] {
        let expected: u64 = committed
            .iter()
            .filter(|(f, _)| f == feed)
            .map(|(_, n)| n)
            .sum();
        assert_eq!(
            f.sql(&format!("SELECT count(*) FROM {feed}")),
            vec![vec![expected.to_string()]],
            "{feed}"
        );
    }
    committed
}

#[test]
fn killed_ingests_leave_the_previous_or_the_next_lake() {
    let f = Fixture::new();
    let exports = exports(&f);
    let dossiers = exports.join("dossiers.csv");
    let portal = exports.join("portal_events.ndjson");
    let args = |lake: &Path| {
        let mut c = motcua(lake, &["ingest", "dossiers"]);
        c.arg(&dossiers);
        let mut p = motcua(lake, &["ingest", "portal_events"]);
        p.arg(&portal);
        (c, p)
    };
    // The uninterrupted reference.
    let reference_lake = f.dir.path().join("reference");
    let (c, p) = args(&reference_lake);
    let took = run(c) + run(p);
    let reference = check_lake(&reference_lake);
    assert_eq!(reference.len(), 2);

    let mut kills = 0;
    let points = 12;
    for i in 0..points {
        let lake = f.dir.path().join(format!("lake{i}"));
        let delay = took.mul_f64(i as f64 / points as f64);
        let (c, p) = args(&lake);
        // Kill the first ingest, or the second after the first completed.
        let (target, before) = if i % 2 == 0 { (c, None) } else { (p, Some(c)) };
        if let Some(before) = before {
            run(before);
        }
        let before_kill = check_lake(&lake);
        if kill_after(target, delay / 2) {
            kills += 1;
        }
        let after_kill = check_lake(&lake);
        assert!(
            after_kill == before_kill || after_kill.len() == before_kill.len() + 1,
            "kill point {i}: {before_kill:?} → {after_kill:?}"
        );
        // Rerunning everything completes and gives the reference lake.
        let (c, p) = args(&lake);
        run(c);
        run(p);
        assert_eq!(check_lake(&lake), reference, "kill point {i}");
    }
    assert!(
        kills >= points / 2,
        "only {kills} of {points} kills landed mid-run"
    );
}

fn slices(out: &Path) -> Vec<(String, Vec<u8>)> {
    let dir = out.join("kpi_values/period_grain=month");
    let mut files: Vec<PathBuf> = match std::fs::read_dir(&dir) {
        Ok(entries) => entries.map(|e| e.unwrap().path()).collect(),
        Err(_) => return Vec::new(),
    };
    files.sort();
    files
        .into_iter()
        .map(|p| {
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                std::fs::read(&p).unwrap(),
            )
        })
        .collect()
}

#[test]
fn killed_kpi_jobs_leave_the_previous_or_the_next_output() {
    let f = Fixture::new();
    let exports = exports(&f);
    for (feed, file) in motcua::sample::FILES {
        let mut c = motcua(&f.lake, &["ingest", feed.name()]);
        c.arg(exports.join(file));
        run(c);
    }
    let job = |out: &Path, to: &str| {
        let mut c = motcua(
            &f.lake,
            &[
                "kpi",
                "--grain",
                "month",
                "--from",
                "2024-01-01",
                "--to",
                to,
                "--queries",
            ],
        );
        c.arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("queries"))
            .arg("--out")
            .arg(out);
        c
    };
    let reference_out = f.dir.path().join("reference-out");
    run(job(&reference_out, "2024-03-01"));
    let first = slices(&reference_out);
    // The shorter of two runs: one slowed by a busy machine would put the
    // kill points after the later runs had finished.
    let took = run(job(&reference_out, "2024-06-01")).min(run(job(&reference_out, "2024-06-01")));
    let full = slices(&reference_out);
    assert_eq!((first.len(), full.len()), (3, 6));

    let points = 8;
    let mut kills = 0;
    for i in 0..points {
        let out = f.dir.path().join(format!("out{i}"));
        run(job(&out, "2024-03-01"));
        if kill_after(
            job(&out, "2024-06-01"),
            took.mul_f64((i as f64 + 0.5) / points as f64),
        ) {
            kills += 1;
        }
        // Readers see the old complete output or the new one.
        let seen = slices(&out);
        assert!(
            seen == first || seen == full,
            "kill point {i}: {} slices",
            seen.len()
        );
        assert!(out.join("kpi_values/_SUCCESS").exists());
        run(job(&out, "2024-06-01"));
        assert_eq!(slices(&out), full, "kill point {i}");
    }
    assert!(
        kills >= points / 2,
        "only {kills} of {points} kills landed mid-run"
    );
}
