//! The command line: summary lines on stdout, one sentence per failure on
//! stderr, and the documented exit codes.

mod common;

use std::process::Output;

use common::*;

fn motcua(f: &Fixture, args: &[&str]) -> Output {
    motcua_command(&f.lake)
        .args(args)
        .output()
        .expect("run motcua")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn ingest_prints_one_summary_line_per_file() {
    let f = Fixture::new();
    let a = f.write("a.csv", "event_id,occurred_at,unit_code,event_type\nE1,2024-03-01,U1,document_issued\nE2,bad,U1,document_issued\n");
    let out = motcua(&f, &["ingest", "signatures", a.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert_eq!(
        stdout.trim_end(),
        format!(
            "{}: read 2 · accepted 1 · quarantined 1 · duplicates 0 → ingest #1 (1 data file(s))",
            a.display()
        )
    );
    assert!(text(&out.stderr).contains("line 3: occurred_at: 'bad' is not a date"));
    let again = motcua(&f, &["ingest", "signatures", a.to_str().unwrap()]);
    assert!(text(&again.stdout).contains("already ingested (ingest #1); nothing to do"));
    let lake = motcua(&f, &["lake"]);
    assert_eq!(lake.status.code(), Some(0));
    assert!(text(&lake.stdout).contains("signatures"));
}

#[test]
fn failures_get_one_sentence_and_their_exit_code() {
    let f = Fixture::new();
    let good = f.write(
        "g.csv",
        "event_id,occurred_at,unit_code,event_type\nE1,2024-03-01,U1,document_issued\n",
    );
    let bad = f.write(
        "b.csv",
        "event_id,occurred_at,unit_code,event_type\nE1,2024-03-01,U1,nope\n",
    );
    let missing = f.dir.path().join("missing.csv");
    let cases: Vec<(Vec<&str>, i32, &str)> = vec![
        (vec!["lake"], 4, "no lake here"),
        (
            vec!["ingest", "parcels", good.to_str().unwrap()],
            2,
            "error: unknown feed 'parcels'",
        ),
        (
            vec!["ingest", "signatures", missing.to_str().unwrap()],
            4,
            "No such file or directory",
        ),
        (
            vec!["ingest", "signatures", "--strict", bad.to_str().unwrap()],
            7,
            "error: 1 row(s) rejected under --strict; nothing was committed",
        ),
        (
            vec![
                "ingest",
                "signatures",
                "--format",
                "xml",
                good.to_str().unwrap(),
            ],
            2,
            "error: bad argument: unknown format 'xml'",
        ),
        (
            vec!["lake", "--tz", "Mars/Olympus"],
            2,
            "error: bad argument: unknown time zone 'Mars/Olympus'",
        ),
    ];
    for (args, code, message) in cases {
        let out = motcua(&f, &args);
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(code), "{args:?}: {stderr}");
        assert!(stderr.contains(message), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
        assert_eq!(
            stderr.lines().filter(|l| l.starts_with("error:")).count(),
            1,
            "{args:?}: {stderr}"
        );
    }
}

#[test]
fn dry_run_counts_like_ingest_and_writes_nothing() {
    let f = Fixture::new();
    let header = "event_id,occurred_at,unit_code,event_type\n";
    let first = f.write(
        "first.csv",
        format!("{header}E1,2024-03-01,U1,document_issued\n"),
    );
    // E1 is in the lake once `first` is ingested; E2 twice in this file; one bad row.
    let second = f.write(
        "second.csv",
        format!(
            "{header}E1,2024-03-01,U1,document_issued\nE2,2024-03-02,U1,certificate_issued\nE2,2024-03-02,U1,certificate_issued\nE3,soon,U1,certificate_issued\n"
        ),
    );
    let (first, second) = (first.to_str().unwrap(), second.to_str().unwrap());

    // Into a lake that does not exist yet: nothing is created.
    let out = motcua(&f, &["ingest", "signatures", first, "--dry-run"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout).trim_end(),
        format!(
            "{first}: read 1 · would accept 1 · would quarantine 0 · duplicates 0 (dry run: nothing written)"
        )
    );
    assert!(!f.lake.exists());

    assert_eq!(
        motcua(&f, &["ingest", "signatures", first]).status.code(),
        Some(0)
    );
    let before = all_files(&f.lake);
    let out = motcua(&f, &["ingest", "signatures", second, "--dry-run"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout).trim_end(),
        format!(
            "{second}: read 4 · would accept 1 · would quarantine 1 · duplicates 2 (dry run: nothing written)"
        )
    );
    assert!(text(&out.stderr).contains("line 5: occurred_at:"));
    assert_eq!(all_files(&f.lake), before);

    // Content already in the lake, or earlier in the same run, would be skipped.
    let out = motcua(
        &f,
        &["ingest", "signatures", first, second, second, "--dry-run"],
    );
    let stdout = text(&out.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(
        lines[0],
        format!("{first}: same content as ingest #1; would be skipped (dry run: nothing written)")
    );
    assert!(lines[1].contains("read 4 · would accept 1"), "{stdout}");
    assert_eq!(
        lines[2],
        format!("{second}: same content as ingest #2; would be skipped (dry run: nothing written)")
    );

    // --strict turns a rejected row into exit code 7, still writing nothing.
    let out = motcua(
        &f,
        &["ingest", "signatures", second, "--dry-run", "--strict"],
    );
    assert_eq!(out.status.code(), Some(7), "{}", text(&out.stderr));
    assert_eq!(all_files(&f.lake), before);

    // The real ingest agrees with the dry run.
    let out = motcua(&f, &["ingest", "signatures", second]);
    assert!(
        text(&out.stdout).contains("read 4 · accepted 1 · quarantined 1 · duplicates 2"),
        "{}",
        text(&out.stdout)
    );
}
