//! The KPI job on a hand-built fixture: a province P with districts D1 and
//! D2, communes C1 and C2 under D1. Every expected number below was worked
//! out by hand from the rows in this file (the comments show the working).

mod common;

use std::path::Path;

use common::hand::{DOSSIERS_1, UNITS, fixture};
use common::*;
use motcua::kpi_job::{self, KpiJob};
use motcua::spec::feeds::Feed;
use motcua::sql::session::SessionOptions;
use motcua::sql::{self, QuerySource};

fn run_job(f: &Fixture, grain: &str, from: &str, to: &str) -> kpi_job::KpiReport {
    run_job_with(f, grain, from, to, SessionOptions::default())
}

fn run_job_with(
    f: &Fixture,
    grain: &str,
    from: &str,
    to: &str,
    session: SessionOptions,
) -> kpi_job::KpiReport {
    try_job(f, grain, from, to, session).unwrap()
}

fn try_job(
    f: &Fixture,
    grain: &str,
    from: &str,
    to: &str,
    session: SessionOptions,
) -> motcua::Result<kpi_job::KpiReport> {
    run(
        f,
        KpiJob {
            session,
            ..job(f, grain, from, to)
        },
    )
}

fn job(f: &Fixture, grain: &str, from: &str, to: &str) -> KpiJob {
    KpiJob {
        grain: grain.parse().expect("a grain"),
        from: from.parse().unwrap(),
        to: to.parse().unwrap(),
        out: f.dir.path().join("out").into(),
        queries: None,
        session: SessionOptions::default(),
        incremental: false,
        units_as_of: None,
    }
}

fn run(f: &Fixture, job: KpiJob) -> motcua::Result<kpi_job::KpiReport> {
    tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(kpi_job::run(&f.location(), &job))
}

/// The bytes of one published slice under `f.dir/OUT/kpi_values`.
fn published_slice(f: &Fixture, out: &str, grain: &str, start: &str) -> Vec<u8> {
    std::fs::read(f.dir.path().join(format!(
        "{out}/kpi_values/period_grain={grain}/{start}.parquet"
    )))
    .unwrap()
}

/// One output row as compared: numerator, denominator, value, target,
/// attainment, status, rank, rank change.
type Row = (
    Option<f64>,
    Option<f64>,
    Option<f64>,
    Option<f64>,
    Option<f64>,
    Option<&'static str>,
    Option<i64>,
    Option<i64>,
);

fn output(f: &Fixture, period: &str, unit: &str) -> Vec<(String, Vec<String>)> {
    let sql = format!(
        "SELECT kpi, numerator, denominator, value, target, attainment, status, rank, rank_change \
         FROM kpi_values WHERE period_grain = 'month' AND period_start = DATE '{period}' AND unit_code = '{unit}' ORDER BY kpi"
    );
    let result = tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(sql::run(
            &f.location(),
            &f.dir.path().join("out").into(),
            &QuerySource::Sql(sql),
            &[],
        ))
        .unwrap();
    rows(&result.batches)
        .into_iter()
        .map(|mut r| {
            let kpi = r.remove(0);
            (kpi, r)
        })
        .collect()
}

fn check(f: &Fixture, period: &str, unit: &str, expected: &[(&str, Row)]) {
    let got = output(f, period, unit);
    for (kpi, (num, den, value, target, attainment, status, rank, change)) in expected {
        let row = &got
            .iter()
            .find(|(k, _)| k == kpi)
            .unwrap_or_else(|| panic!("{period} {unit}: no row for {kpi}"))
            .1;
        let context = format!("{period} {unit} {kpi}: got {row:?}");
        let floats = [num, den, value, target, attainment];
        for (i, want) in floats.iter().enumerate() {
            match (want, row[i].as_str()) {
                (None, got) => assert_eq!(got, "∅", "{context} (column {i})"),
                (Some(w), got) => {
                    let g: f64 = got
                        .parse()
                        .unwrap_or_else(|_| panic!("{context} (column {i})"));
                    assert!((g - w).abs() < 1e-12, "{context} (column {i}: want {w})");
                }
            }
        }
        assert_eq!(row[5], status.unwrap_or("∅"), "{context} (status)");
        assert_eq!(
            row[6],
            rank.map_or("∅".to_string(), |r| r.to_string()),
            "{context} (rank)"
        );
        assert_eq!(
            row[7],
            change.map_or("∅".to_string(), |r| r.to_string()),
            "{context} (rank_change)"
        );
    }
}

const N: Option<f64> = None;
fn v(x: f64) -> Option<f64> {
    Some(x)
}

#[test]
#[rustfmt::skip]
fn every_kpi_of_the_province_in_march_matches_the_hand_computation() {
    let f = fixture();
    let report = run_job(&f, "month", "2024-02-01", "2024-05-01");
    assert_eq!(report.periods, 4);
    // 4 periods × 5 units × 25 KPIs.
    assert_eq!(report.rows, 500);
    // March, P = everything. Resolved in March: A1, A2 (C1), B2 (D1), E1 (D2);
    // received in March: A2, A3 (C1), B1, B2 (D1), E1, E2 (D2); X1 (ZZ) counts nowhere.
    check(
        &f,
        "2024-03-01",
        "P",
        &[
            ("received", (v(6.0), N, v(6.0), N, N, None, Some(1), Some(0))),
            ("resolved", (v(4.0), N, v(4.0), N, N, None, Some(1), Some(0))),
            // On time: A1 (Mar 4 ≤ end of Mar 5), B2 (no deadline), E1; A2 late.
            // Target: `*` for month (0.5) beats `*` for every grain (90%).
            ("on_time_rate", (v(3.0), v(4.0), v(0.75), v(0.5), v(1.5), Some("met"), Some(1), None)),
            ("processed_online_rate", (v(2.0), v(4.0), v(0.5), N, N, None, Some(1), None)),
            ("e_result_rate", (v(3.0), v(4.0), v(0.75), N, N, None, Some(1), None)),
            ("result_signed_rate", (v(3.0), v(4.0), v(0.75), N, N, None, Some(1), None)),
            // Days: B2 2, E1 3, A1 13 1/24, A2 21 15.5/24 → (3 + 13.041666…)/2.
            ("median_processing_days", (N, N, v(8.020833333333334), v(10.0), v(1.2467532467532467), Some("met"), Some(1), None)),
            // At Apr 1 00:00: A3 (due Mar 25, open) and E2 (due Mar 29, closed Apr 2).
            ("overdue_open", (v(2.0), N, v(2.0), v(1.0), v(0.5), Some("behind"), Some(1), Some(0))),
            // Online: A2, A3, E1 of those offered online: A2, A3, B1 (full,
            // at the counter), B2 (partial, by post), E1.
            ("online_rate", (v(3.0), v(5.0), v(0.6), N, N, None, Some(1), None)),
            // Full online: A2, E1 of A2, B1 (full, at the counter), E1.
            ("full_online_rate", (v(2.0), v(3.0), v(2.0 / 3.0), N, N, None, Some(1), None)),
            // Digitized: A2, E1, E2 (A3 re-sent as not digitized, later ingest wins).
            ("digitized_rate", (v(3.0), v(6.0), v(0.5), N, N, None, Some(1), Some(0))),
            ("applicant_signed_rate", (v(1.0), v(3.0), v(1.0 / 3.0), N, N, None, Some(1), None)),
            // Fees: A2 20 000 (paid online), B1 30 000 (unpaid), B2 100 000, E2 15 000.
            ("online_payment_rate", (v(1.0), v(4.0), v(0.25), N, N, None, Some(1), Some(0))),
            ("cashless_rate", (v(2.0), v(3.0), v(2.0 / 3.0), N, N, None, Some(1), Some(0))),
            ("cashless_value_rate", (v(120000.0), v(135000.0), v(120000.0 / 135000.0), N, N, None, Some(1), Some(0))),
            ("satisfaction_rate", (v(2.0), v(4.0), v(0.5), N, N, None, Some(1), None)),
            // First starts in March: app2 (C1), app3 (D2, Mar 31 23:55), app5 (P5a, D2,
            // the smaller id of two starts at one instant); app1 started in February.
            ("portal_started", (v(3.0), N, v(3.0), N, N, None, Some(1), Some(0))),
            ("portal_completion_rate", (v(2.0), v(3.0), v(2.0 / 3.0), N, N, None, Some(1), Some(0))),
            ("vneid_share", (v(1.0), v(3.0), v(1.0 / 3.0), N, N, None, Some(1), Some(0))),
            ("payment_success_rate", (v(1.0), v(3.0), v(1.0 / 3.0), N, N, None, Some(1), None)),
            // S1, S2, S3 (Mar 31 23:30 local); S4 is April 00:00 local.
            ("documents_issued", (v(3.0), N, v(3.0), N, N, None, Some(1), Some(0))),
            ("document_signing_rate", (v(2.0), v(3.0), v(2.0 / 3.0), v(1.0), v(2.0 / 3.0), Some("behind"), Some(1), None)),
            ("certificates_issued", (v(4.0), N, v(4.0), N, N, None, Some(1), Some(0))),
            ("free_certificates", (v(3.0), N, v(3.0), N, N, None, Some(1), Some(0))),
            ("certificates_per_1000_adults", (v(4000.0), v(10000.0), v(0.4), N, N, None, Some(1), Some(0))),
        ],
    );
}

#[test]
#[rustfmt::skip]
fn roll_ups_targets_ranks_and_rank_changes_below_the_province() {
    let f = fixture();
    run_job(&f, "month", "2024-02-01", "2024-05-01");
    // D1 covers D1, C1, C2. Target: D1's own rows beat `*` for month; of two
    // D1 rows for every grain, the later one (0.85) wins.
    check(
        &f,
        "2024-03-01",
        "D1",
        &[
            ("received", (v(4.0), N, v(4.0), N, N, None, Some(1), Some(0))),
            ("on_time_rate", (v(2.0), v(3.0), v(2.0 / 3.0), v(0.85), v(0.7843137254901961), Some("on_track"), Some(2), None)),
            ("median_processing_days", (N, N, v(13.041666666666666), v(10.0), v(0.7667731629392972), Some("on_track"), Some(2), None)),
            // Tied with D2 at one each, in March and (at zero) in February.
            ("overdue_open", (v(1.0), N, v(1.0), v(1.0), v(1.0), Some("met"), Some(1), Some(0))),
            // Up from second to first place among districts.
            ("certificates_issued", (v(4.0), N, v(4.0), v(3.0), v(4.0 / 3.0), Some("met"), Some(1), Some(1))),
            ("certificates_per_1000_adults", (v(4000.0), v(4000.0), v(1.0), N, N, None, Some(1), Some(0))),
            ("cashless_value_rate", (v(120000.0), v(120000.0), v(1.0), N, N, None, Some(1), Some(0))),
            ("document_signing_rate", (v(2.0), v(3.0), v(2.0 / 3.0), N, N, None, Some(1), None)),
        ],
    );
    check(
        &f,
        "2024-03-01",
        "D2",
        &[
            ("on_time_rate", (v(1.0), v(1.0), v(1.0), v(0.5), v(2.0), Some("met"), Some(1), None)),
            ("median_processing_days", (N, N, v(3.0), v(10.0), v(10.0 / 3.0), Some("met"), Some(1), None)),
            ("overdue_open", (v(1.0), N, v(1.0), v(1.0), v(1.0), Some("met"), Some(1), Some(0))),
            ("certificates_issued", (v(0.0), N, v(0.0), N, N, None, Some(2), Some(-1))),
            // No adult population: no per-capita value.
            ("certificates_per_1000_adults", (v(0.0), N, N, N, N, None, None, None)),
            ("cashless_value_rate", (v(0.0), v(15000.0), v(0.0), N, N, None, Some(2), None)),
            ("document_signing_rate", (v(0.0), v(0.0), N, N, N, None, None, None)),
            ("portal_started", (v(2.0), N, v(2.0), N, N, None, Some(1), Some(1))),
            ("vneid_share", (v(1.0), v(2.0), v(0.5), N, N, None, Some(1), None)),
            ("payment_success_rate", (v(0.0), v(1.0), v(0.0), N, N, None, Some(2), None)),
        ],
    );
    check(
        &f,
        "2024-03-01",
        "C1",
        &[
            ("received", (v(2.0), N, v(2.0), N, N, None, Some(1), Some(0))),
            ("on_time_rate", (v(1.0), v(2.0), v(0.5), v(0.5), v(1.0), Some("met"), Some(1), None)),
            ("median_processing_days", (N, N, v(17.34375), v(10.0), v(0.5765765765765766), Some("behind"), Some(1), None)),
            // Tied first with C2 in February (both 0); second in March.
            ("overdue_open", (v(1.0), N, v(1.0), v(1.0), v(1.0), Some("met"), Some(2), Some(-1))),
            ("certificates_per_1000_adults", (v(2000.0), v(2000.0), v(1.0), N, N, None, Some(1), Some(0))),
            ("payment_success_rate", (v(1.0), v(2.0), v(0.5), N, N, None, Some(1), None)),
            ("portal_completion_rate", (v(1.0), v(1.0), v(1.0), N, N, None, Some(1), Some(0))),
        ],
    );
    // C2: a unit with no dossier activity still has its rows.
    check(
        &f,
        "2024-03-01",
        "C2",
        &[
            ("received", (v(0.0), N, v(0.0), N, N, None, Some(2), Some(0))),
            ("on_time_rate", (v(0.0), v(0.0), N, v(0.5), N, None, None, None)),
            ("median_processing_days", (N, N, N, v(10.0), N, None, None, None)),
            // A down KPI at zero against a target is met, with no attainment.
            ("overdue_open", (v(0.0), N, v(0.0), v(1.0), N, Some("met"), Some(1), Some(0))),
            // An adult population of 0 gives no per-capita value.
            ("certificates_per_1000_adults", (v(1000.0), v(0.0), N, N, N, None, None, None)),
            ("free_certificates", (v(1.0), N, v(1.0), N, N, None, Some(1), Some(0))),
        ],
    );
}

#[test]
#[rustfmt::skip]
fn february_april_and_an_empty_may() {
    let f = fixture();
    run_job(&f, "month", "2024-02-01", "2024-05-01");
    // February: A1 received at C1, app1's first start (Feb 29 23:50), S9 at D2.
    check(
        &f,
        "2024-02-01",
        "C1",
        &[
            ("received", (v(1.0), N, v(1.0), N, N, None, Some(1), N_I)),
            ("resolved", (v(0.0), N, v(0.0), N, N, None, Some(1), N_I)),
            ("on_time_rate", (v(0.0), v(0.0), N, v(0.5), N, None, None, None)),
            ("online_rate", (v(0.0), v(0.0), N, N, N, None, None, None)),
            ("cashless_rate", (v(0.0), v(1.0), v(0.0), N, N, None, Some(1), None)),
            ("portal_started", (v(1.0), N, v(1.0), N, N, None, Some(1), N_I)),
            ("vneid_share", (v(1.0), v(1.0), v(1.0), N, N, None, Some(1), None)),
        ],
    );
    // April: F1 at P; at Apr 2 10:00 (the newest snapshot) only A3 is overdue,
    // E2 having closed at 09:00. app4 started at 00:30 local; S4 at 00:00 local.
    check(
        &f,
        "2024-04-01",
        "P",
        &[
            ("received", (v(1.0), N, v(1.0), N, N, None, Some(1), Some(0))),
            ("overdue_open", (v(1.0), N, v(1.0), v(1.0), v(1.0), Some("met"), Some(1), Some(0))),
            ("portal_started", (v(1.0), N, v(1.0), N, N, None, Some(1), Some(0))),
            ("documents_issued", (v(1.0), N, v(1.0), N, N, None, Some(1), Some(0))),
            ("document_signing_rate", (v(1.0), v(1.0), v(1.0), v(1.0), v(1.0), Some("met"), Some(1), Some(0))),
        ],
    );
    // May: no activity. Counts are 0, rates and the median null; the
    // deadline count still holds A3, evaluated at the newest snapshot.
    check(
        &f,
        "2024-05-01",
        "P",
        &[
            ("received", (v(0.0), N, v(0.0), N, N, None, Some(1), Some(0))),
            ("on_time_rate", (v(0.0), v(0.0), N, v(0.5), N, None, None, None)),
            ("median_processing_days", (N, N, N, v(10.0), N, None, None, None)),
            ("digitized_rate", (v(0.0), v(0.0), N, N, N, None, None, None)),
            ("overdue_open", (v(1.0), N, v(1.0), v(1.0), v(1.0), Some("met"), Some(1), Some(0))),
            ("certificates_per_1000_adults", (v(0.0), v(10000.0), v(0.0), N, N, None, Some(1), Some(0))),
        ],
    );
}

/// Rank change of February: January had no activity, but counts are 0 there,
/// so they rank (and change by 0 at the top).
const N_I: Option<i64> = Some(0);

#[test]
fn an_incremental_run_gives_the_rows_of_a_full_run_and_keeps_other_slices() {
    let f = fixture();
    run_job(&f, "month", "2024-02-01", "2024-05-01");
    let full = output(&f, "2024-03-01", "D1");
    let feb = output(&f, "2024-02-01", "C1");
    let first_version = std::fs::read_link(f.dir.path().join("out/kpi_values")).unwrap();
    // Recompute March alone: same rows; February's slice kept as it was.
    let report = run_job(&f, "month", "2024-03-01", "2024-03-01");
    assert_eq!(report.periods, 1);
    assert_eq!(report.rows, 125);
    assert_eq!(output(&f, "2024-03-01", "D1"), full);
    assert_eq!(output(&f, "2024-02-01", "C1"), feb);
    let second_version = std::fs::read_link(f.dir.path().join("out/kpi_values")).unwrap();
    assert_ne!(first_version, second_version);
    // Same inputs, same bytes.
    let read = |v: &Path| {
        std::fs::read(
            f.dir
                .path()
                .join("out")
                .join(v)
                .join("period_grain=month/2024-03-01.parquet"),
        )
        .unwrap()
    };
    assert_eq!(read(&first_version), read(&second_version));
    assert!(f.dir.path().join("out/kpi_values/_SUCCESS").exists());
}

#[test]
fn a_day_run_alone_gives_the_bytes_of_a_run_over_many_days() {
    // Runs of one day read only that day and the one before it: app1, first
    // started on Feb 29 and again on Mar 1, must stay out of Mar 1 even when
    // Feb 29 is outside what a run reads (Mar 1 ranks feed Mar 2's change).
    let f = fixture();
    let slice = |day: &str| published_slice(&f, "out", "day", day);
    run_job(&f, "day", "2024-02-28", "2024-04-02");
    let days = [
        "2024-02-29",
        "2024-03-01",
        "2024-03-02",
        "2024-03-15",
        "2024-03-31",
        "2024-04-01",
    ];
    let full: Vec<Vec<u8>> = days.iter().map(|d| slice(d)).collect();
    for (day, expected) in days.iter().zip(&full) {
        run_job(&f, "day", day, day);
        assert!(slice(day) == *expected, "{day} alone differs");
    }
}

#[test]
fn an_incremental_run_recomputes_what_new_ingests_touch_and_gives_the_bytes_of_a_full_run() {
    let f = fixture();
    let incremental = |from: &str, to: &str| {
        let report = run(
            &f,
            KpiJob {
                incremental: true,
                units_as_of: None,
                ..job(&f, "month", from, to)
            },
        )
        .unwrap();
        (report.from.to_string(), report.periods)
    };
    // Nothing published yet: everything; then nothing is left to do.
    assert_eq!(
        incremental("2024-02-01", "2024-05-01"),
        ("2024-02-01".into(), 4)
    );
    assert_eq!(incremental("2024-02-01", "2024-05-01").1, 0);

    // F1 (received Apr 2) resolved on Apr 20: April and May.
    f.ingest_text(
        Feed::Dossiers,
        "d3.csv",
        &format!(
            "{DOSSIER_HEADER}\nF1,PR,P,counter,none,resolved,2024-04-02 10:00,,2024-04-20 10:00,,2024-04-20 10:00,0,0,0,0,0,0,,0,,,citizen"
        ),
    );
    assert_eq!(
        incremental("2024-02-01", "2024-05-01"),
        ("2024-04-01".into(), 2)
    );

    // A signature in May: May alone.
    f.ingest_text(
        Feed::Signatures,
        "s2.csv",
        "event_id,occurred_at,unit_code,event_type,signed,signer_type,provider,free_of_charge\nS99,2024-05-03 10:00,C1,document_issued,true,official,,",
    );
    assert_eq!(
        incremental("2024-02-01", "2024-05-01"),
        ("2024-05-01".into(), 1)
    );

    // app3, first started on Mar 31, submitted in May: completed in March.
    f.ingest_text(
        Feed::PortalEvents,
        "p2.ndjson",
        r#"{"event_id":"P3z","occurred_at":"2024-05-05T10:00:00+07:00","application_id":"app3","procedure_code":"PR","unit_code":"D2","event_type":"submitted","dossier_id":"E9"}"#,
    );
    assert_eq!(
        incremental("2024-02-01", "2024-05-01"),
        ("2024-03-01".into(), 3)
    );

    // A longer range: only the period not held yet.
    assert_eq!(
        incremental("2024-02-01", "2024-06-01"),
        ("2024-06-01".into(), 1)
    );

    // Every slice as a full recompute over the same lake writes it.
    run(
        &f,
        KpiJob {
            out: f.dir.path().join("full").into(),
            ..job(&f, "month", "2024-02-01", "2024-06-01")
        },
    )
    .unwrap();
    for month in ["02", "03", "04", "05", "06"] {
        let start = format!("2024-{month}-01");
        let slice = |out: &str| published_slice(&f, out, "month", &start);
        assert!(slice("out") == slice("full"), "{start} differs");
    }

    // A new unit registry can change every period.
    f.ingest_text(Feed::Units, "units2.csv", &UNITS.replace("4000", "4100"));
    assert_eq!(
        incremental("2024-02-01", "2024-06-01"),
        ("2024-02-01".into(), 5)
    );
}

/// Rewrites the lake's manifest with `change`, as a lake of formats 1–3
/// keeps it: whole in `_manifest.json`, with no `_manifest/`.
fn edit_manifest(
    f: &Fixture,
    change: impl FnOnce(&mut serde_json::Map<String, serde_json::Value>),
) {
    let mut manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(f.manifest_file()).unwrap()).unwrap();
    change(manifest.as_object_mut().unwrap());
    let _ = std::fs::remove_dir_all(f.lake.join("_manifest"));
    std::fs::write(
        f.lake.join("_manifest.json"),
        serde_json::to_vec(&manifest).unwrap(),
    )
    .unwrap();
}

/// Drops the index of current dossiers from the manifest: the lake as motcua
/// wrote it before it kept one (manifest format 1).
fn forget_the_index(f: &Fixture) {
    edit_manifest(f, |manifest| {
        assert!(manifest["dossier_index"].is_string());
        manifest.remove("dossier_index");
        manifest.remove("dossier_index_delta");
        manifest.insert("format_version".into(), 1.into());
    });
}

#[test]
fn a_lake_without_the_index_gives_the_same_bytes_in_memory_spilled_and_once_rebuilt() {
    let f = fixture();
    let slice = |f: &Fixture| published_slice(f, "out", "month", "2024-03-01");
    run_job(&f, "month", "2024-02-01", "2024-04-01");
    let from_index = slice(&f);

    // Without the index the session computes the current state itself.
    forget_the_index(&f);
    run_job(&f, "month", "2024-02-01", "2024-04-01");
    assert_eq!(slice(&f), from_index);
    let on_disk = SessionOptions {
        cache_budget: Some(0),
        ..Default::default()
    };
    run_job_with(&f, "month", "2024-02-01", "2024-04-01", on_disk.clone());
    assert_eq!(slice(&f), from_index);

    // And the budget did send it to disk.
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let (ctx, _) = motcua::sql::session::open(&f.location(), &on_disk)
            .await
            .unwrap();
        let n = ctx
            .sql("SELECT count(*) FROM dossiers")
            .await
            .unwrap()
            .collect()
            .await
            .unwrap();
        assert_eq!(rows(&n), vec![vec!["9"]]);
        let table = ctx.table_provider("dossiers").await.unwrap();
        let view = table
            .downcast_ref::<motcua::sql::cache::CachedView>()
            .unwrap();
        let spilled = view.spill_dir().expect("spilled to disk");
        assert!(spilled.join("current.parquet").exists());
        // The file goes with the session.
        drop(table);
        drop(ctx);
        assert!(!spilled.exists());
    });

    // The next dossier ingest (here one duplicate: nothing new) builds the
    // index from every committed snapshot.
    let first_row = DOSSIERS_1.lines().next().unwrap();
    let report = f.ingest_text(
        Feed::Dossiers,
        "again.csv",
        &format!("{DOSSIER_HEADER}\n{first_row}"),
    );
    assert_eq!(report_counts(&report), (1, 0, 0, 1));
    assert!(f.manifest().dossier_index.is_some());
    assert_eq!(f.manifest().format_version, motcua::lake::FORMAT_VERSION);
    run_job(&f, "month", "2024-02-01", "2024-04-01");
    assert_eq!(slice(&f), from_index);

    // A manifest from a newer motcua is refused, not half understood.
    edit_manifest(&f, |manifest| {
        manifest.insert(
            "format_version".into(),
            (motcua::lake::FORMAT_VERSION + 1).into(),
        );
    });
    let err = try_job(
        &f,
        "month",
        "2024-02-01",
        "2024-04-01",
        SessionOptions::default(),
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("manifest format 5 is not one this motcua reads (1 to 4)"),
        "{err}"
    );
}

#[test]
fn a_memory_limit_too_small_fails_in_one_sentence_and_publishes_nothing() {
    let f = fixture();
    let tiny = SessionOptions {
        memory_limit: Some(1),
        ..Default::default()
    };
    let err = try_job(&f, "month", "2024-03-01", "2024-03-01", tiny).unwrap_err();
    let message = err.to_string();
    assert!(
        message.starts_with("SQL: the query needs more memory than --memory-limit allows ("),
        "{message}"
    );
    assert!(message.ends_with("); raise the limit"), "{message}");
    assert!(!message.contains('\n'), "{message}");
    assert_eq!(err.exit_code(), 5);
    assert!(!f.dir.path().join("out/kpi_values").exists());
}

/// A published slice written with other columns (an older motcua, before
/// `estimated`) is not kept beside new ones: readers that take one file's
/// schema for all would break. The run says so and publishes nothing.
#[test]
fn a_run_refuses_to_keep_slices_published_with_other_columns() {
    let f = fixture();
    run_job(&f, "month", "2024-02-01", "2024-03-01");
    let slice = std::fs::canonicalize(f.dir.path().join("out/kpi_values"))
        .unwrap()
        .join("period_grain=month/2024-02-01.parquet");
    // The slice as an older motcua wrote it: without `estimated`.
    let file = std::fs::File::open(&slice).unwrap();
    let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)
        .unwrap()
        .build()
        .unwrap();
    let batches: Vec<arrow::record_batch::RecordBatch> = reader.map(Result::unwrap).collect();
    let keep: Vec<usize> = (0..batches[0].num_columns() - 1).collect();
    let older: Vec<_> = batches.iter().map(|b| b.project(&keep).unwrap()).collect();
    std::fs::remove_file(&slice).unwrap();
    let mut writer = parquet::arrow::ArrowWriter::try_new(
        std::fs::File::create(&slice).unwrap(),
        older[0].schema(),
        None,
    )
    .unwrap();
    for batch in &older {
        writer.write(batch).unwrap();
    }
    writer.close().unwrap();
    let before = std::fs::read_link(f.dir.path().join("out/kpi_values")).unwrap();
    let err = try_job(
        &f,
        "month",
        "2024-03-01",
        "2024-03-01",
        SessionOptions::default(),
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("2024-02-01.parquet: was published with other columns (missing: estimated; not computed now: none), and one output must not mix them; compute into a new --out"),
        "{err}"
    );
    assert_eq!(
        std::fs::read_link(f.dir.path().join("out/kpi_values")).unwrap(),
        before
    );
}
