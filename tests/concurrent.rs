//! Readers during a commit: `motcua kpi` and `motcua query` started while an
//! ingest commits each read one whole manifest snapshot — the result agrees
//! with the ingests the run says it read, never a mix of two states.

mod common;

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use arrow::array::{AsArray, RecordBatch};
use arrow::datatypes::Float64Type;
use common::*;
use motcua::spec::feeds::Feed;

const UNITS: &str = "unit_code,name,level,parent_code,adult_population
P,Tỉnh Thử Nghiệm,province,,10000
D1,Huyện Một,district,P,4000
";
/// Dossiers per ingested file, all received in March 2024.
const PER_FILE: u64 = 250;
const FILES: u64 = 6;

fn motcua(f: &Fixture, args: &[&str]) -> Command {
    let mut command = motcua_command(&f.lake);
    command
        .arg("-q")
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    command
}

fn dossiers(file: u64) -> String {
    let mut text = format!("{DOSSIER_HEADER}\n");
    for i in 0..PER_FILE {
        let day = 1 + (i % 28);
        text.push_str(&format!(
            "F{file}-{i},PR,D1,counter,none,received,2024-03-{day:02} 09:00,2024-04-30,,,2024-03-{day:02} 09:00,0,0,0,0,0,0,,0,,,citizen\n"
        ));
    }
    text
}

/// Seqs of the dossier ingests a finished KPI run lists in its run manifest,
/// and the `received` value it wrote for P in March 2024.
fn kpi_run(out: &Path) -> (Vec<u64>, f64) {
    let run: serde_json::Value = motcua::publish::dataset::run_manifest(&out.into(), "kpi_values")
        .unwrap()
        .unwrap();
    let seqs = run["lake_ingests"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["feed"] == "dossiers")
        .map(|e| e["seq"].as_u64().unwrap())
        .collect();
    let mut received = None;
    for file in all_files(&out.join("kpi_values")) {
        if file.extension().is_none_or(|e| e != "parquet") {
            continue;
        }
        let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(
            std::fs::File::open(&file).unwrap(),
        )
        .unwrap()
        .build()
        .unwrap();
        for batch in reader {
            let batch: RecordBatch = batch.unwrap();
            let column = |name: &str| batch.column_by_name(name).unwrap().clone();
            let (kpi, unit, value) = (column("kpi"), column("unit_code"), column("value"));
            for row in 0..batch.num_rows() {
                if kpi.as_string::<i32>().value(row) == "received"
                    && unit.as_string::<i32>().value(row) == "P"
                {
                    received = Some(value.as_primitive::<Float64Type>().value(row));
                }
            }
        }
    }
    (seqs, received.expect("a `received` row for P"))
}

fn finish(child: std::process::Child) -> Output {
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

#[test]
fn kpi_and_query_read_one_snapshot_while_ingests_commit() {
    let f = Fixture::new();
    f.ingest_text(Feed::Units, "units.csv", UNITS);
    let files: Vec<_> = (0..FILES)
        .map(|i| f.write(&format!("d{i}.csv"), dossiers(i)))
        .collect();
    f.ingest(Feed::Dossiers, &files[..1]).unwrap();
    let out = f.dir.path().join("out");
    let out_arg = out.to_str().unwrap();
    let mut kpi_states = std::collections::BTreeSet::new();
    let mut query_counts = std::collections::BTreeSet::new();
    for (k, file) in files.iter().enumerate().skip(1) {
        let kpi = motcua(
            &f,
            &[
                "kpi",
                "--grain",
                "month",
                "--from",
                "2024-03-01",
                "--to",
                "2024-03-31",
                "--out",
                out_arg,
            ],
        )
        .spawn()
        .unwrap();
        let query = motcua(
            &f,
            &[
                "query",
                "--sql",
                "SELECT count(*) AS n FROM dossier_snapshots",
                "--format",
                "csv",
            ],
        )
        .spawn()
        .unwrap();
        // Commit at a different moment of the readers' runs each time.
        std::thread::sleep(Duration::from_millis(30 * k as u64));
        f.ingest(Feed::Dossiers, std::slice::from_ref(file))
            .unwrap();

        finish(kpi);
        let (seqs, received) = kpi_run(&out);
        // The run read a prefix of the ingests (the units, then k or k+1
        // dossier files) and its numbers are those of exactly that prefix.
        let dossier_files = seqs.len() as u64;
        assert!(dossier_files == k as u64 || dossier_files == k as u64 + 1);
        assert_eq!(received, (dossier_files * PER_FILE) as f64, "{seqs:?}");
        kpi_states.insert(dossier_files);

        let text = String::from_utf8(finish(query).stdout).unwrap();
        let n: u64 = text.lines().nth(1).unwrap().trim().parse().unwrap();
        assert!(
            n == k as u64 * PER_FILE || n == (k as u64 + 1) * PER_FILE,
            "count {n} after {k} file(s) is no committed state"
        );
        query_counts.insert(n);
    }
    // Which side of the commit each reader landed on is up to the scheduler;
    // both sides are consistent states. Shown for the curious.
    eprintln!("KPI runs read {kpi_states:?} dossier file(s); queries counted {query_counts:?}");
}
