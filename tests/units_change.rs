//! Units that change (SPEC §2.1): the KPI job on a hand-built registry that
//! changes on 1 July 2025, as reported and restated. Every expected number
//! below was worked out by hand from the rows in this file; the comments
//! show the working.
//!
//! Before 1 July 2025 (Hà Nội's Quận Hoàn Kiếm, two provinces):
//!
//! ```text
//! 01 Hà Nội ── 002 Quận Hoàn Kiếm ─┬ 00070 Hàng Trống   → 00070 Hoàn Kiếm (the code is reused)
//!                                  ├ 00073 Cửa Nam      → 00004 (0.2), 00070 (0.3), 00082 (0.5)
//!                                  ├ 00076 Lý Thái Tổ   → 00070 (a merge)
//!                                  └ 00100 Phúc Xá      → 00100 Hồng Hà (renamed, now under 01)
//! 10 Lào Cai → 15 (merged into 15, which keeps its code and identity)
//! 15 Yên Bái
//! ```
//!
//! From 1 July 2025 the district is abolished (no successor: its own
//! dossiers count toward no unit of a later day) and the communes 00004,
//! 00070, 00082 and 00100 sit under 01.

mod common;

use common::*;
use motcua::kpi_job::{self, KpiJob};
use motcua::spec::feeds::Feed;
use motcua::sql::session::SessionOptions;
use motcua::sql::{self, QuerySource};

const UNITS: &str = "unit_code,name,level,parent_code,adult_population,valid_from,valid_to
01,Thành phố Hà Nội,province,,,,
10,Tỉnh Lào Cai,province,,,,2025-07-01
15,Tỉnh Yên Bái,province,,,,
002,Quận Hoàn Kiếm,district,01,,,2025-07-01
00070,Phường Hàng Trống,commune,002,,,2025-07-01
00073,Phường Cửa Nam,commune,002,,,2025-07-01
00076,Phường Lý Thái Tổ,commune,002,,,2025-07-01
00100,Phường Phúc Xá,commune,002,,,2025-07-01
00004,Phường Ba Đình,commune,01,,2025-07-01,
00070,Phường Hoàn Kiếm,commune,01,,2025-07-01,
00082,Phường Cửa Nam,commune,01,,2025-07-01,
00100,Phường Hồng Hà,commune,01,,2025-07-01,
";

const CHANGES: &str = "old_code,new_code,effective_on,share,basis,legal_ref
00073,00004,2025-07-01,0.2,population,1656/NQ-UBTVQH15
00073,00070,2025-07-01,0.3,population,1656/NQ-UBTVQH15
00073,00082,2025-07-01,0.5,population,1656/NQ-UBTVQH15
00070,00070,2025-07-01,,,1656/NQ-UBTVQH15
00076,00070,2025-07-01,,,1656/NQ-UBTVQH15
00100,00100,2025-07-01,,,1656/NQ-UBTVQH15
10,15,2025-07-01,1,,202/2025/QH15
";

/// (id, unit, received, due, completed): each resolved; the days each took
/// and whether on time are in the comments.
const DOSSIERS: &[(&str, &str, &str, &str, &str)] = &[
    // June 2025, on the old units.
    (
        "d1",
        "00073",
        "2025-06-10 08:00",
        "2025-06-15 17:00",
        "2025-06-12 08:00",
    ), // 2 d, on time
    (
        "d2",
        "00073",
        "2025-06-11 08:00",
        "2025-06-15 17:00",
        "2025-06-20 08:00",
    ), // 9 d, late
    (
        "d3",
        "00070",
        "2025-06-05 08:00",
        "2025-06-10 17:00",
        "2025-06-06 08:00",
    ), // 1 d, on time
    (
        "d4",
        "00076",
        "2025-06-02 08:00",
        "2025-06-04 08:00",
        "2025-06-05 08:00",
    ), // 3 d, late
    (
        "d5",
        "00100",
        "2025-06-03 08:00",
        "2025-06-10 17:00",
        "2025-06-04 20:00",
    ), // 1.5 d, on time
    (
        "d6",
        "10",
        "2025-06-09 08:00",
        "2025-06-12 17:00",
        "2025-06-10 08:00",
    ), // 1 d, on time
    (
        "d7",
        "15",
        "2025-06-09 08:00",
        "2025-06-10 08:00",
        "2025-06-11 08:00",
    ), // 2 d, late
    (
        "d8",
        "002",
        "2025-06-16 08:00",
        "2025-06-20 17:00",
        "2025-06-17 08:00",
    ), // 1 d, on time
    (
        "d9",
        "01",
        "2025-06-20 08:00",
        "2025-06-25 17:00",
        "2025-06-22 08:00",
    ), // 2 d, on time
    // Received on the last day of the old units, resolved under the new.
    (
        "d10",
        "00073",
        "2025-06-30 08:00",
        "2025-07-05 17:00",
        "2025-07-02 08:00",
    ), // 2 d, on time
    // July 2025, on the new units.
    (
        "d11",
        "00070",
        "2025-07-03 08:00",
        "2025-07-08 17:00",
        "2025-07-04 08:00",
    ), // 1 d, on time
    (
        "d12",
        "00082",
        "2025-07-08 08:00",
        "2025-07-09 08:00",
        "2025-07-10 08:00",
    ), // 2 d, late
    (
        "d13",
        "00100",
        "2025-07-07 08:00",
        "2025-07-10 17:00",
        "2025-07-08 08:00",
    ), // 1 d, on time
    (
        "d14",
        "15",
        "2025-07-10 08:00",
        "2025-07-15 17:00",
        "2025-07-13 08:00",
    ), // 3 d, on time
    // Code 10 names no unit in July: this one counts toward no unit.
    (
        "d15",
        "10",
        "2025-07-15 08:00",
        "2025-07-20 17:00",
        "2025-07-16 08:00",
    ),
    (
        "d16",
        "00004",
        "2025-07-01 08:00",
        "2025-07-03 17:00",
        "2025-07-01 20:00",
    ), // 0.5 d, on time
    // The first quarter of 2025.
    (
        "d17",
        "00073",
        "2025-02-10 08:00",
        "2025-02-14 17:00",
        "2025-02-11 08:00",
    ), // 1 d, on time
    (
        "d18",
        "00076",
        "2025-03-05 08:00",
        "2025-03-06 08:00",
        "2025-03-07 08:00",
    ), // 2 d, late
    (
        "d19",
        "10",
        "2025-01-15 08:00",
        "2025-01-20 17:00",
        "2025-01-16 08:00",
    ), // 1 d, on time
];

fn dossiers_csv() -> String {
    let mut csv = format!("{DOSSIER_HEADER}\n");
    for (id, unit, received, due, completed) in DOSSIERS {
        csv.push_str(&format!(
            "{id},PR,{unit},counter,none,resolved,{received},{due},{completed},,{completed},0,0,0,0,0,0,,0,,,citizen\n"
        ));
    }
    csv
}

/// The day every period of the restated series is computed on.
const AS_OF: &str = "2025-12-31";

fn fixture() -> Fixture {
    let f = Fixture::new();
    f.ingest_text(Feed::Units, "units.csv", UNITS);
    f.ingest_text(Feed::UnitChanges, "unit_changes.csv", CHANGES);
    let report = f.ingest_text(Feed::Dossiers, "dossiers.csv", &dossiers_csv());
    assert_eq!(report_counts(&report), (19, 19, 0, 0));
    f
}

fn run_job(f: &Fixture, grain: &str, from: &str, to: &str, units_as_of: Option<&str>) {
    let job = KpiJob {
        grain: grain.parse().expect("a grain"),
        from: from.parse().unwrap(),
        to: to.parse().unwrap(),
        out: f.dir.path().join("out").into(),
        queries: None,
        session: SessionOptions::default(),
        incremental: false,
        units_as_of: units_as_of.map(|d| d.parse().unwrap()),
    };
    tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(kpi_job::run(&f.location(), &job))
        .unwrap();
}

fn query(f: &Fixture, sql: &str) -> Vec<Vec<String>> {
    run_query(f, QuerySource::Sql(sql.to_string()), &[])
}

/// A saved query's rows, with parameters as name=value.
fn saved(f: &Fixture, name: &str, params: &[(&str, &str)]) -> Vec<Vec<String>> {
    let params: Vec<(String, String)> = params
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    run_query(
        f,
        QuerySource::Saved(sql::find(None, name).unwrap()),
        &params,
    )
}

fn run_query(f: &Fixture, source: QuerySource, params: &[(String, String)]) -> Vec<Vec<String>> {
    let result = tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(sql::run(
            &f.location(),
            &f.dir.path().join("out").into(),
            &source,
            params,
        ))
        .unwrap();
    rows(&result.batches)
}

fn strings<const N: usize>(rows: &[[&str; N]]) -> Vec<Vec<String>> {
    rows.iter()
        .map(|r| r.iter().map(|c| c.to_string()).collect())
        .collect()
}

/// Which series a row is read from.
#[derive(Clone, Copy, Debug)]
enum Series {
    Reported,
    Restated,
}

/// numerator, denominator, value, estimated, rank, rank_change
type Row = (
    Option<f64>,
    Option<f64>,
    Option<f64>,
    bool,
    Option<i64>,
    Option<i64>,
);

/// The table of a series and the start of a WHERE clause.
fn source(series: Series) -> String {
    match series {
        Series::Reported => "kpi_values WHERE".to_string(),
        Series::Restated => format!("kpi_values_restated WHERE units_as_of = DATE '{AS_OF}' AND"),
    }
}

fn row(f: &Fixture, series: Series, grain: &str, period: &str, unit: &str, kpi: &str) -> Row {
    let rows = query(
        f,
        &format!(
            "SELECT numerator, denominator, value, estimated, rank, rank_change FROM {} \
             period_grain = '{grain}' AND period_start = DATE '{period}' AND unit_code = '{unit}' AND kpi = '{kpi}'",
            source(series)
        ),
    );
    assert_eq!(
        rows.len(),
        1,
        "{series:?} {grain} {period} {unit} {kpi}: {rows:?}"
    );
    let r = &rows[0];
    let number = |s: &str| (s != "∅").then(|| s.parse::<f64>().unwrap());
    let int = |s: &str| (s != "∅").then(|| s.parse::<i64>().unwrap());
    (
        number(&r[0]),
        number(&r[1]),
        number(&r[2]),
        r[3] == "true",
        int(&r[4]),
        int(&r[5]),
    )
}

fn units_of(f: &Fixture, series: Series, grain: &str, period: &str) -> Vec<String> {
    query(
        f,
        &format!(
            "SELECT DISTINCT unit_code || ' ' || unit_name FROM {} \
             period_grain = '{grain}' AND period_start = DATE '{period}' ORDER BY 1",
            source(series)
        ),
    )
    .into_iter()
    .map(|r| r[0].clone())
    .collect()
}

fn check(f: &Fixture, series: Series, grain: &str, period: &str, expected: &[(&str, &str, Row)]) {
    for (unit, kpi, want) in expected {
        assert_eq!(
            row(f, series, grain, period, unit, kpi),
            *want,
            "{series:?} {grain} {period} {unit} {kpi}"
        );
    }
}

const N: Option<f64> = None;

#[test]
fn months_on_both_sides_of_the_change_as_reported_and_restated() {
    let f = fixture();
    run_job(&f, "month", "2025-05-01", "2025-07-01", None);
    run_job(&f, "month", "2025-05-01", "2025-07-01", Some(AS_OF));
    use Series::*;

    // June as reported: the units of 30 June, nothing carried.
    assert_eq!(
        units_of(&f, Reported, "month", "2025-06-01"),
        [
            "00070 Phường Hàng Trống",
            "00073 Phường Cửa Nam",
            "00076 Phường Lý Thái Tổ",
            "00100 Phường Phúc Xá",
            "002 Quận Hoàn Kiếm",
            "01 Thành phố Hà Nội",
            "10 Tỉnh Lào Cai",
            "15 Tỉnh Yên Bái",
        ]
    );
    check(
        &f,
        Reported,
        "month",
        "2025-06-01",
        &[
            // 01: d1–d5, d8, d9 resolved; on time d1 d3 d5 d8 d9. Provinces:
            // 10 (1.0) first, 01 (5/7) second, 15 (0/1) third.
            (
                "01",
                "on_time_rate",
                (Some(5.0), Some(7.0), Some(5.0 / 7.0), false, Some(2), None),
            ),
            (
                "10",
                "on_time_rate",
                (Some(1.0), Some(1.0), Some(1.0), false, Some(1), None),
            ),
            (
                "15",
                "on_time_rate",
                (Some(0.0), Some(1.0), Some(0.0), false, Some(3), None),
            ),
            // 002: d1–d5, d8; on time d1 d3 d5 d8.
            (
                "002",
                "on_time_rate",
                (Some(4.0), Some(6.0), Some(4.0 / 6.0), false, Some(1), None),
            ),
            (
                "00070",
                "on_time_rate",
                (Some(1.0), Some(1.0), Some(1.0), false, Some(1), None),
            ),
            (
                "00073",
                "on_time_rate",
                (Some(1.0), Some(2.0), Some(0.5), false, Some(3), None),
            ),
            (
                "00076",
                "on_time_rate",
                (Some(0.0), Some(1.0), Some(0.0), false, Some(4), None),
            ),
            (
                "00100",
                "on_time_rate",
                (Some(1.0), Some(1.0), Some(1.0), false, Some(1), None),
            ),
            // Received in June under 01: d1–d5, d8, d9, d10.
            // (Counts are 0, not null, without activity: in May every unit
            // ranked first.)
            (
                "01",
                "received",
                (Some(8.0), N, Some(8.0), false, Some(1), Some(0)),
            ),
            (
                "00073",
                "received",
                (Some(3.0), N, Some(3.0), false, Some(1), Some(0)),
            ),
            // 1, 1, 1.5, 2, 2, 3, 9 days.
            (
                "01",
                "median_processing_days",
                (N, N, Some(2.0), false, Some(2), None),
            ),
            (
                "00073",
                "median_processing_days",
                (N, N, Some(5.5), false, Some(4), None),
            ),
        ],
    );

    // July as reported: the units of 31 July. d10 (received 30 June under
    // 00073) is carried through the split: 0.2 to 00004, 0.3 to 00070,
    // 0.5 to 00082; d15 (code 10, gone) counts toward no unit.
    let july = [
        "00004 Phường Ba Đình",
        "00070 Phường Hoàn Kiếm",
        "00082 Phường Cửa Nam",
        "00100 Phường Hồng Hà",
        "01 Thành phố Hà Nội",
        "15 Tỉnh Yên Bái",
    ];
    assert_eq!(units_of(&f, Reported, "month", "2025-07-01"), july);
    // The same values in both series: no change falls after a July day.
    // Ranks: provinces 15 (1.0), 01 (0.8); communes 00004, 00070, 00100
    // (1.0) tie first, 00082 fourth.
    let july_rows = |changes: [Option<i64>; 6]| {
        [
            // 01: d11 d12 d13 d16 and d10 whole (0.2 + 0.3 + 0.5): 5 resolved,
            // 4 on time (d12 late).
            (
                "01",
                "on_time_rate",
                (Some(4.0), Some(5.0), Some(0.8), true, Some(2), changes[0]),
            ),
            (
                "15",
                "on_time_rate",
                (Some(1.0), Some(1.0), Some(1.0), false, Some(1), changes[1]),
            ),
            // 00004: d16 + 0.2 of d10.
            (
                "00004",
                "on_time_rate",
                (Some(1.2), Some(1.2), Some(1.0), true, Some(1), changes[2]),
            ),
            // 00070: d11 + 0.3 of d10.
            (
                "00070",
                "on_time_rate",
                (Some(1.3), Some(1.3), Some(1.0), true, Some(1), changes[3]),
            ),
            // 00082: d12 (late) + 0.5 of d10.
            (
                "00082",
                "on_time_rate",
                (
                    Some(0.5),
                    Some(1.5),
                    Some(0.5 / 1.5),
                    true,
                    Some(4),
                    changes[4],
                ),
            ),
            (
                "00100",
                "on_time_rate",
                (Some(1.0), Some(1.0), Some(1.0), false, Some(1), changes[5]),
            ),
        ]
    };
    // As reported: 01 second in June and July; 15 third then first; every
    // commune of July is a unit June did not have (00070 is another unit
    // under the same code), so it has no rank change.
    check(
        &f,
        Reported,
        "month",
        "2025-07-01",
        &july_rows([Some(0), Some(2), None, None, None, None]),
    );
    check(
        &f,
        Reported,
        "month",
        "2025-07-01",
        &[
            // Received in July: d11 d12 d13 d16 (d10 was received in June).
            (
                "01",
                "received",
                (Some(4.0), N, Some(4.0), false, Some(1), Some(0)),
            ),
            // d10 counts whole for 00082, its largest share: 0.5, 1, 1, 2, 2 days.
            (
                "01",
                "median_processing_days",
                (N, N, Some(1.0), false, Some(1), Some(1)),
            ),
            (
                "00082",
                "median_processing_days",
                (N, N, Some(2.0), false, Some(4), None),
            ),
            (
                "00004",
                "median_processing_days",
                (N, N, Some(0.5), false, Some(1), None),
            ),
        ],
    );

    // June restated on the units of 31 December 2025: the old units'
    // activity is carried to the new ones; d8 (the district's own) counts
    // toward no unit.
    assert_eq!(units_of(&f, Restated, "month", "2025-06-01"), july);
    check(
        &f,
        Restated,
        "month",
        "2025-06-01",
        &[
            // 01: d3 d4 d5 d9 whole, d1 and d2 whole through their parts: 6
            // resolved; on time d3 d5 d9 and d1: 4.
            (
                "01",
                "on_time_rate",
                (Some(4.0), Some(6.0), Some(4.0 / 6.0), true, Some(1), None),
            ),
            // 15: d6 (from 10) and d7 (late).
            (
                "15",
                "on_time_rate",
                (Some(1.0), Some(2.0), Some(0.5), false, Some(2), None),
            ),
            // 00004: 0.2 of d1 (on time) and of d2 (late).
            (
                "00004",
                "on_time_rate",
                (Some(0.2), Some(0.4), Some(0.5), true, Some(2), None),
            ),
            // 00070: d3 (on time), d4 (late, merged in), 0.3 of d1 and d2.
            (
                "00070",
                "on_time_rate",
                (Some(1.3), Some(2.6), Some(0.5), true, Some(2), None),
            ),
            (
                "00082",
                "on_time_rate",
                (Some(0.5), Some(1.0), Some(0.5), true, Some(2), None),
            ),
            (
                "00100",
                "on_time_rate",
                (Some(1.0), Some(1.0), Some(1.0), false, Some(1), None),
            ),
            // Received: d3 d4 d5 d9 whole, d1 d2 d10 through the split.
            // Communes: 00070 2.9, 00082 1.5, 00100 1, 00004 0.6; each
            // ranked first in May, without activity.
            (
                "01",
                "received",
                (Some(7.0), N, Some(7.0), true, Some(1), Some(0)),
            ),
            (
                "00070",
                "received",
                (Some(2.9), N, Some(2.9), true, Some(1), Some(0)),
            ),
            (
                "00004",
                "received",
                (Some(0.6), N, Some(0.6), true, Some(4), Some(-3)),
            ),
            (
                "15",
                "received",
                (Some(2.0), N, Some(2.0), false, Some(2), Some(-1)),
            ),
            // Whole for their largest share: d1 (2) and d2 (9) to 00082, d3
            // (1) and d4 (3) to 00070; 01: 1, 1.5, 2, 2, 3, 9.
            (
                "01",
                "median_processing_days",
                (N, N, Some(2.0), false, Some(2), None),
            ),
            (
                "00082",
                "median_processing_days",
                (N, N, Some(5.5), false, Some(3), None),
            ),
            (
                "00070",
                "median_processing_days",
                (N, N, Some(2.0), false, Some(2), None),
            ),
            (
                "00004",
                "median_processing_days",
                (N, N, N, false, None, None),
            ),
            (
                "15",
                "median_processing_days",
                (N, N, Some(1.5), false, Some(1), None),
            ),
        ],
    );
    // July restated: as reported, with rank changes against restated June.
    check(
        &f,
        Restated,
        "month",
        "2025-07-01",
        &july_rows([Some(-1), Some(1), Some(1), Some(1), Some(-2), Some(0)]),
    );

    // Phường Hoàn Kiếm's series: as reported, June is Phường Hàng Trống's.
    assert_eq!(
        saved(
            &f,
            "restated_series",
            &[
                ("unit", "00070"),
                ("kpi", "on_time_rate"),
                ("units_as_of", AS_OF)
            ]
        ),
        strings(&[
            [
                "2025-05-01",
                "Phường Hàng Trống",
                "∅",
                "∅",
                "0.0",
                "0.0",
                "false",
                "∅",
                "∅"
            ],
            [
                "2025-06-01",
                "Phường Hàng Trống",
                "1.0",
                "0.5",
                "1.3",
                "2.6",
                "true",
                "1",
                "2"
            ],
            [
                "2025-07-01",
                "Phường Hoàn Kiếm",
                "1.0",
                "1.0",
                "1.3",
                "1.3",
                "true",
                "1",
                "1"
            ],
        ])
    );
    // What restating leaves out: the abolished district's own dossier.
    assert_eq!(
        saved(&f, "dq_unmapped_units", &[("units_as_of", AS_OF)]),
        strings(&[[
            "2025-06-01",
            "dossiers",
            "002",
            "Quận Hoàn Kiếm",
            "1",
            "1.0"
        ]])
    );
    // Restated on 30 June 2025, July's activity is of units that did not
    // exist yet: all of it counts toward no unit (d11–d14, d16; d15's code
    // named no unit on its day).
    assert_eq!(
        saved(&f, "dq_unmapped_units", &[("units_as_of", "2025-06-30")]),
        strings(&[
            [
                "2025-07-01",
                "dossiers",
                "00004",
                "Phường Ba Đình",
                "1",
                "1.0"
            ],
            [
                "2025-07-01",
                "dossiers",
                "00070",
                "Phường Hoàn Kiếm",
                "1",
                "1.0"
            ],
            [
                "2025-07-01",
                "dossiers",
                "00082",
                "Phường Cửa Nam",
                "1",
                "1.0"
            ],
            [
                "2025-07-01",
                "dossiers",
                "00100",
                "Phường Hồng Hà",
                "1",
                "1.0"
            ],
        ])
    );
    // And a code used after its unit ended.
    let unknown = saved(&f, "dq_unknown_units", &[]);
    assert_eq!(
        unknown.iter().map(|r| r[..3].to_vec()).collect::<Vec<_>>(),
        strings(&[["dossiers", "10", "1"]])
    );
}

#[test]
fn a_quarter_before_the_change_and_a_week_across_it() {
    let f = fixture();
    run_job(&f, "quarter", "2025-01-01", "2025-01-01", None);
    run_job(&f, "quarter", "2025-01-01", "2025-01-01", Some(AS_OF));
    run_job(&f, "week", "2025-06-30", "2025-06-30", None);
    use Series::*;
    // A kpi_values.sql of one's own from before units could change is
    // refused on this registry rather than count 00070 twice.
    let old_query = f.dir.path().join("old-queries");
    std::fs::create_dir_all(&old_query).unwrap();
    std::fs::write(
        old_query.join("kpi_values.sql"),
        "-- @param grain grain month  g\n-- @param from date required  f\n-- @param to date required  t\n\
         SELECT * FROM units",
    )
    .unwrap();
    let refused = tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(kpi_job::run(
            &f.location(),
            &KpiJob {
                grain: "month".parse().unwrap(),
                from: "2025-06-01".parse().unwrap(),
                to: "2025-06-01".parse().unwrap(),
                out: f.dir.path().join("out-old").into(),
                queries: Some(old_query),
                session: SessionOptions::default(),
                incremental: false,
                units_as_of: None,
            },
        ))
        .unwrap_err()
        .to_string();
    assert!(
        refused.contains("has no units_as_of parameter: it was written before units could change, and the registry has 10 unit(s) with validity dates"),
        "{refused}"
    );
    // The first quarter of 2025 on its own units: d17 (00073, on time), d18
    // (00076, late), d19 (10, on time); 15 had no activity and no rank.
    check(
        &f,
        Reported,
        "quarter",
        "2025-01-01",
        &[
            (
                "01",
                "on_time_rate",
                (Some(1.0), Some(2.0), Some(0.5), false, Some(2), None),
            ),
            (
                "10",
                "on_time_rate",
                (Some(1.0), Some(1.0), Some(1.0), false, Some(1), None),
            ),
            (
                "15",
                "on_time_rate",
                (Some(0.0), Some(0.0), N, false, None, None),
            ),
            (
                "002",
                "on_time_rate",
                (Some(1.0), Some(2.0), Some(0.5), false, Some(1), None),
            ),
            (
                "00073",
                "on_time_rate",
                (Some(1.0), Some(1.0), Some(1.0), false, Some(1), None),
            ),
            (
                "00076",
                "on_time_rate",
                (Some(0.0), Some(1.0), Some(0.0), false, Some(2), None),
            ),
        ],
    );
    // Restated: d17 split, d18 merged into 00070, d19 to 15.
    check(
        &f,
        Restated,
        "quarter",
        "2025-01-01",
        &[
            (
                "01",
                "on_time_rate",
                (Some(1.0), Some(2.0), Some(0.5), true, Some(2), None),
            ),
            (
                "15",
                "on_time_rate",
                (Some(1.0), Some(1.0), Some(1.0), false, Some(1), None),
            ),
            (
                "00004",
                "on_time_rate",
                (Some(0.2), Some(0.2), Some(1.0), true, Some(1), None),
            ),
            (
                "00070",
                "on_time_rate",
                (Some(0.3), Some(1.3), Some(0.3 / 1.3), true, Some(3), None),
            ),
            (
                "00082",
                "on_time_rate",
                (Some(0.5), Some(0.5), Some(1.0), true, Some(1), None),
            ),
            (
                "00100",
                "on_time_rate",
                (Some(0.0), Some(0.0), N, false, None, None),
            ),
            // d17 (1 day) whole to 00082, d18 (2 days) to 00070.
            (
                "01",
                "median_processing_days",
                (N, N, Some(1.5), false, Some(2), None),
            ),
            (
                "00082",
                "median_processing_days",
                (N, N, Some(1.0), false, Some(1), None),
            ),
        ],
    );
    // The week of Monday 30 June on the units of Sunday 6 July: d10
    // (received on the Monday under 00073) is carried; d11 and d16 are the
    // new units' own. The week before was on other units, but for 01
    // (first among the provinces with 0 received).
    check(
        &f,
        Reported,
        "week",
        "2025-06-30",
        &[
            (
                "01",
                "received",
                (Some(3.0), N, Some(3.0), true, Some(1), Some(0)),
            ),
            (
                "00004",
                "received",
                (Some(1.2), N, Some(1.2), true, Some(2), None),
            ),
            (
                "00070",
                "received",
                (Some(1.3), N, Some(1.3), true, Some(1), None),
            ),
            (
                "00082",
                "received",
                (Some(0.5), N, Some(0.5), true, Some(3), None),
            ),
            (
                "01",
                "on_time_rate",
                (Some(3.0), Some(3.0), Some(1.0), true, Some(1), None),
            ),
            (
                "00082",
                "on_time_rate",
                (Some(0.5), Some(0.5), Some(1.0), true, Some(1), None),
            ),
        ],
    );
}

/// A units file the lake's changes no longer fit is refused, naming the
/// change, and the lake keeps its registry; dropping the changes (a file
/// with only the header) lets it in.
#[test]
fn a_registry_the_changes_do_not_fit_waits_until_they_are_dropped() {
    let f = fixture();
    let moved = UNITS.replace(
        "00004,Phường Ba Đình,commune,01,,2025-07-01,",
        "00004,Phường Ba Đình,commune,01,,2025-07-02,",
    );
    assert_ne!(moved, UNITS);
    let units = f.write("units-moved.csv", &moved);
    let refused = f
        .ingest(Feed::Units, std::slice::from_ref(&units))
        .unwrap_err()
        .to_string();
    assert!(
        refused.contains("the lake's unit_changes do not fit it (new_code 00004 names no unit on 2025-07-01 (line 2)); ingest a unit_changes file with only its header first"),
        "{refused}"
    );
    // Nothing changed: the job runs on the registry the lake kept.
    run_job(&f, "month", "2025-07-01", "2025-07-01", None);
    let header = f.write(
        "no-changes.csv",
        "old_code,new_code,effective_on,share,basis,legal_ref\n",
    );
    f.ingest(Feed::UnitChanges, &[header]).unwrap();
    assert_eq!(query(&f, "SELECT count(*) FROM unit_changes"), [["0"]]);
    f.ingest(Feed::Units, &[units]).unwrap();
    assert_eq!(
        query(
            &f,
            "SELECT CAST(valid_from AS VARCHAR) FROM unit_versions WHERE unit_code = '00004'"
        ),
        [["2025-07-02"]]
    );
    run_job(&f, "month", "2025-07-01", "2025-07-01", None);
}
