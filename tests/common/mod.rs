//! Helpers shared by the integration tests: a temporary lake, files written
//! from literal text, and SQL over the committed lake.

#![allow(dead_code)]

pub mod hand;
pub mod s3;

use std::path::{Path, PathBuf};

use arrow::record_batch::RecordBatch;
use arrow::util::display::{ArrayFormatter, FormatOptions};
use datafusion::prelude::SessionContext;
use motcua::ingest::{self, FileReport, IngestOptions};
use motcua::spec::feeds::Feed;
use motcua::validate::privacy::PiiKey;
use motcua::{Result, lake};

pub const TEST_KEY: &[u8] = b"motcua-test-key-0123456789";

/// The `motcua` binary over `lake`, with the test key and no key file taken
/// from the environment; callers add the command and its output handling.
pub fn motcua_command(lake: &Path) -> std::process::Command {
    // `option_env!`: this file is also compiled into the oracle package,
    // which has no motcua binary (and never calls this); motcua's own tests
    // always have it.
    let binary = option_env!("CARGO_BIN_EXE_motcua").unwrap_or("motcua");
    let mut command = std::process::Command::new(binary);
    command
        .env("MOTCUA_LAKE", lake)
        .env(
            "MOTCUA_PII_KEY",
            std::str::from_utf8(TEST_KEY).expect("an ASCII key"),
        )
        .env_remove("MOTCUA_PII_KEY_FILE");
    command
}

pub struct Fixture {
    pub dir: tempfile::TempDir,
    pub lake: PathBuf,
}

impl Fixture {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let lake = dir.path().join("lake");
        Fixture { dir, lake }
    }

    /// Writes an input file outside the lake.
    pub fn write(&self, name: &str, bytes: impl AsRef<[u8]>) -> PathBuf {
        let path = self.dir.path().join("in").join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, bytes).unwrap();
        path
    }

    pub fn options(&self) -> IngestOptions {
        IngestOptions {
            pii_key: Some(PiiKey::new(TEST_KEY, "test").unwrap()),
            ..Default::default()
        }
    }

    pub fn ingest(&self, feed: Feed, paths: &[PathBuf]) -> Result<Vec<FileReport>> {
        self.ingest_with(feed, paths, &self.options())
    }

    pub fn ingest_with(
        &self,
        feed: Feed,
        paths: &[PathBuf],
        options: &IngestOptions,
    ) -> Result<Vec<FileReport>> {
        ingest::ingest_files(&self.location(), feed, paths, options, &mut |_| {})
    }

    /// Writes `text` as `name` and ingests it, expecting success.
    pub fn ingest_text(&self, feed: Feed, name: &str, text: &str) -> FileReport {
        let path = self.write(name, text);
        let mut reports = self.ingest(feed, &[path]).expect("ingest succeeds");
        reports.remove(0)
    }

    /// Generates `dossiers` sample dossiers with `seed` and ingests all five
    /// feeds; returns what the generator wrote.
    pub fn ingest_sample(&self, dossiers: u64, seed: u64) -> motcua::sample::SampleReport {
        let exports = self.dir.path().join("exports");
        let generated = motcua::sample::generate(&exports, dossiers, seed).expect("sample");
        for (feed, file) in motcua::sample::FILES {
            self.ingest(feed, &[exports.join(file)])
                .expect("ingest sample");
        }
        generated
    }

    /// The file of the lake's manifest: the highest version in `_manifest/`
    /// (format 4), else `_manifest.json` (formats 1–3).
    pub fn manifest_file(&self) -> PathBuf {
        let versions = std::fs::read_dir(self.lake.join("_manifest"))
            .map(|entries| entries.flatten().map(|e| e.path()).collect::<Vec<_>>())
            .unwrap_or_default();
        versions
            .into_iter()
            .filter(|p| p.extension().is_some_and(|e| e == "json"))
            .max()
            .unwrap_or_else(|| self.lake.join("_manifest.json"))
    }

    /// The lake, as the library takes it.
    pub fn location(&self) -> motcua::Location {
        motcua::Location::Folder(self.lake.clone())
    }

    pub fn manifest(&self) -> lake::Manifest {
        lake::read_manifest(&self.location()).expect("manifest")
    }

    /// Runs SQL over the committed lake; every value rendered as text, NULL as "∅".
    pub fn sql(&self, sql: &str) -> Vec<Vec<String>> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let ctx = SessionContext::new();
            motcua::sql::tables::register_tables(&ctx, &self.location(), &self.manifest())
                .await
                .expect("register");
            let batches = ctx
                .sql(sql)
                .await
                .expect("plan")
                .collect()
                .await
                .expect("run");
            rows(&batches)
        })
    }
}

pub fn rows(batches: &[RecordBatch]) -> Vec<Vec<String>> {
    let options = FormatOptions::default().with_null("∅");
    let mut out = Vec::new();
    for batch in batches {
        let formatters: Vec<ArrayFormatter> = batch
            .columns()
            .iter()
            .map(|c| ArrayFormatter::try_new(c.as_ref(), &options).unwrap())
            .collect();
        for row in 0..batch.num_rows() {
            out.push(
                formatters
                    .iter()
                    .map(|f| f.value(row).to_string())
                    .collect(),
            );
        }
    }
    out
}

/// Every file under `dir`, recursively.
pub fn all_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap().flatten() {
            let p = entry.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

pub const DOSSIER_HEADER: &str = "dossier_id,procedure_code,unit_code,channel,online_level,status,received_at,due_at,completed_at,returned_at,updated_at,processed_online,digitized,e_result,applicant_signed,result_signed,fee_vnd,payment_method,paid_online,satisfaction,applicant_id,applicant_type";

pub fn report_counts(r: &FileReport) -> (u64, u64, u64, u64) {
    (r.rows_read, r.accepted, r.quarantined, r.duplicates)
}

/// What a corpus file must get from `motcua ingest`.
pub enum Expect {
    /// Refused whole: exit 3, nothing committed, this reason.
    Refused(&'static str),
    /// Ingested: (read, accepted, quarantined, duplicates) and the
    /// quarantined rows as (line, column, reason).
    Ingested(
        (u64, u64, u64, u64),
        &'static [(u64, &'static str, &'static str)],
    ),
}

/// Ingests every file of the corpus `folder` (relative to the package) as
/// its case says, each into a lake of its own, and checks the exact outcome:
/// the exit code, the counts (read = accepted + quarantined + duplicates),
/// and every quarantined row's line, column and reason. A file without a
/// case fails the check. Returns the fixtures, by file, for more checks.
#[allow(dead_code)]
pub fn check_corpus(folder: &str, cases: &[(&str, &str, Expect)]) -> Vec<(String, Fixture)> {
    use Expect::{Ingested, Refused};
    let mut fixtures = Vec::new();
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join(folder);
    let listed: Vec<&str> = cases.iter().map(|(file, _, _)| *file).collect();
    for entry in std::fs::read_dir(&corpus).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        assert!(
            listed.contains(&name.as_str()),
            "{name} has no expected outcome"
        );
    }
    for (file, feed, expect) in cases {
        let f = Fixture::new();
        let path = corpus.join(file);
        let out = motcua_command(&f.lake)
            .args(["ingest", feed])
            .arg(&path)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!stderr.contains("panicked"), "{file}: {stderr}");
        match *expect {
            Refused(reason) => {
                assert_eq!(out.status.code(), Some(3), "{file}: {stderr}");
                // The one error line (warnings, such as columns left out, may precede it).
                let errors: Vec<&str> =
                    stderr.lines().filter(|l| l.starts_with("error:")).collect();
                assert_eq!(
                    errors,
                    [format!("error: {}: {reason}", path.display())],
                    "{file}"
                );
                assert!(
                    !f.lake.join("_manifest.json").exists() || f.manifest().ingests.is_empty(),
                    "{file}: something was committed"
                );
            }
            Ingested((read, accepted, quarantined, duplicates), rows) => {
                // A file whose every row was rejected is committed (its
                // quarantine) but fails the command: exit 7.
                let all_rejected = accepted == 0 && quarantined > 0 && duplicates == 0;
                let code = if all_rejected { 7 } else { 0 };
                assert_eq!(out.status.code(), Some(code), "{file}: {stderr}");
                assert_eq!(
                    read,
                    accepted + quarantined + duplicates,
                    "{file}: the case itself"
                );
                let summary = format!(
                    "read {read} · accepted {accepted} · quarantined {quarantined} · duplicates {duplicates}"
                );
                assert!(stdout.contains(&summary), "{file}: {stdout}");
                let got = f.sql(
                    "SELECT line, coalesce(\"column\", '∅'), reason FROM quarantine ORDER BY line",
                );
                let want: Vec<Vec<String>> = rows
                    .iter()
                    .map(|(l, c, r)| vec![l.to_string(), c.to_string(), r.to_string()])
                    .collect();
                assert_eq!(got, want, "{file}");
                let entry = &f.manifest().ingests[0];
                assert_eq!(
                    (
                        entry.rows_read,
                        entry.accepted,
                        entry.quarantined,
                        entry.duplicates
                    ),
                    (read, accepted, quarantined, duplicates)
                );
            }
        }
        fixtures.push((file.to_string(), f));
    }
    fixtures
}

/// Publishes the months `from` to `to` of `f`'s lake under `out`, as
/// reported or restated on `units_as_of`.
pub fn publish_months(
    f: &Fixture,
    out: &Path,
    from: chrono::NaiveDate,
    to: chrono::NaiveDate,
    units_as_of: Option<chrono::NaiveDate>,
) {
    let job = motcua::kpi_job::KpiJob {
        grain: motcua::spec::grain::Grain::Month,
        from,
        to,
        out: out.into(),
        queries: None,
        session: motcua::sql::session::SessionOptions::default(),
        incremental: false,
        units_as_of,
    };
    tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(motcua::kpi_job::run(&f.location(), &job))
        .expect("the KPI job");
}

/// What a command that must succeed printed on standard output.
pub fn stdout_of(run: std::process::Output) -> String {
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    String::from_utf8(run.stdout).expect("UTF-8 output")
}
