//! A second, independent implementation of SPEC §5 and §2.1 written with
//! Polars and plain Rust, run against the KPI job on generated data whose
//! units change on 1 July 2025: every row of `kpi_values` (as reported) and
//! of `kpi_values_restated` must agree within 1e-9.
//!
//! Unlike motcua, which precomputes where each unit's activity goes per era
//! and joins on it, this walks the changes for every (unit code, day, as-of
//! day) the activity has, and joins on the day itself.

#[path = "../../common/mod.rs"]
mod common;

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::path::{Path, PathBuf};

use chrono::{Datelike, Months, NaiveDate};
use common::*;
use motcua::spec::feeds::Feed;
use motcua::spec::kpis::{self, Direction, KpiKind};
use polars::prelude::*;

const FROM: (i32, u32) = (2024, 1);
const TO: (i32, u32) = (2026, 6);
/// The as-of day of the restated series.
const RESTATED: (i32, u32, u32) = (2026, 6, 30);
/// Asia/Ho_Chi_Minh is UTC+7 all year.
const OFFSET_MICROS: i64 = 7 * 3600 * 1_000_000;
const DAY_MICROS: f64 = 86_400_000_000.0;

/// A month as a number: 12 × year + month index.
fn month_key(year: i32, month: u32) -> i32 {
    year * 12 + month as i32 - 1
}

fn month_start(key: i32) -> NaiveDate {
    NaiveDate::from_ymd_opt(key.div_euclid(12), key.rem_euclid(12) as u32 + 1, 1).unwrap()
}

/// The UTC instant (µs) of local midnight starting the month after `key`.
fn month_end_micros(key: i32) -> i64 {
    let next = month_start(key) + Months::new(1);
    next.and_hms_opt(0, 0, 0)
        .unwrap()
        .and_utc()
        .timestamp_micros()
        - OFFSET_MICROS
}

fn read_frame(root: &Path, files: &[String]) -> LazyFrame {
    let frames: Vec<LazyFrame> = files
        .iter()
        .map(|f| {
            ParquetReader::new(File::open(root.join(f)).unwrap())
                .finish()
                .unwrap()
                .lazy()
        })
        .collect();
    concat(frames, UnionArgs::default()).unwrap()
}

fn lake_files(f: &Fixture, feed: Feed) -> Vec<String> {
    f.manifest()
        .data_files(feed)
        .iter()
        .map(|d| d.path.clone())
        .collect()
}

/// Month key of a Date column.
fn month_of(column: &str) -> Expr {
    col(column).dt().year() * lit(12) + col(column).dt().month().cast(DataType::Int32) - lit(1)
}

fn count_if(condition: Expr) -> Expr {
    when(condition).then(lit(1i64)).otherwise(lit(0i64))
}

/// 1 for every row (a literal would be summed once per group, not per row).
fn each() -> Expr {
    count_if(col("ancestor").is_not_null())
}

fn flag(column: &str) -> Expr {
    col(column).eq(lit(true))
}

/// (month, ancestor unit, kpi) → (numerator, denominator, estimated)
type Counts = HashMap<(i32, String, String), (f64, Option<f64>, bool)>;

/// A share as motcua carries it: a decimal of 12 places, here in units of
/// 1e-12.
fn share_units(share: f64) -> i128 {
    (share * 1e12).round() as i128
}

/// An exact sum in units of 1e-12 as a double: the whole part and the
/// fraction converted apart, as motcua does (SPEC §2.1 restates with
/// fractional shares; equal sums must give equal values to rank alike).
fn to_f64(units: i128) -> f64 {
    let (whole, fraction) = (units / 1_000_000_000_000, units % 1_000_000_000_000);
    whole as f64 + fraction as f64 / 1e12
}

/// Carries `frame`'s activity (its `unit_code` on the day `day`) to the
/// ancestors of the units it counts toward in each month (`carry_frame`),
/// and sums each KPI's numerator and denominator expressions times the
/// share, exactly: Polars sums the counts per share, Rust the products.
fn rolled_up(
    frame: LazyFrame,
    registry: &Registry,
    as_of: AsOf,
    (month, day): (Expr, Expr),
    kpis: Vec<(&str, Expr, Option<Expr>)>,
    into: &mut Counts,
) {
    let frame = frame.with_columns([month.alias("month"), day.cast(DataType::Int32).alias("day")]);
    let carry = carry_frame(registry, as_of, &frame);
    let mut aggs = Vec::new();
    for (i, (_, num, den)) in kpis.iter().enumerate() {
        aggs.push(
            num.clone()
                .cast(DataType::Int64)
                .sum()
                .alias(format!("n{i}")),
        );
        if let Some(den) = den {
            aggs.push(
                den.clone()
                    .cast(DataType::Int64)
                    .sum()
                    .alias(format!("d{i}")),
            );
        }
    }
    let df = frame
        .join(
            carry,
            [col("unit_code"), col("day"), col("month")],
            [col("unit_code"), col("day"), col("month")],
            JoinArgs::new(JoinType::Inner),
        )
        .group_by([col("month"), col("ancestor"), col("share")])
        .agg(aggs)
        .collect()
        .unwrap();
    let months = ints(&df, "month");
    let units = strings(&df, "ancestor");
    let shares = floats(&df, "share");
    for (i, (kpi, _, den)) in kpis.iter().enumerate() {
        let nums = ints(&df, &format!("n{i}"));
        let dens = den.as_ref().map(|_| ints(&df, &format!("d{i}")));
        let mut exact: HashMap<(i32, String), (i128, Option<i128>, bool)> = HashMap::new();
        for row in 0..df.height() {
            let share = shares[row].unwrap();
            let num = i128::from(nums[row].unwrap_or(0));
            let den = dens.as_ref().map(|d| i128::from(d[row].unwrap_or(0)));
            let entry = exact
                .entry((months[row].unwrap() as i32, units[row].clone().unwrap()))
                .or_insert((0, den.map(|_| 0), false));
            entry.0 += num * share_units(share);
            if let (Some(total), Some(den)) = (entry.1.as_mut(), den) {
                *total += den * share_units(share);
            }
            entry.2 |= share < 1.0 && (num != 0 || den.is_some_and(|d| d != 0));
        }
        for ((month, unit), (num, den, estimated)) in exact {
            into.insert(
                (month, unit, kpi.to_string()),
                (to_f64(num), den.map(to_f64), estimated),
            );
        }
    }
}

/// Each month's as-of day: its own last day (as reported) or one day for all.
#[derive(Debug, Clone, Copy)]
enum AsOf {
    Reported,
    Restated(NaiveDate),
}

impl AsOf {
    fn day(self, month: i32) -> NaiveDate {
        match self {
            AsOf::Reported => month_start(month + 1).pred_opt().unwrap(),
            AsOf::Restated(day) => day,
        }
    }
}

/// One version of a unit: the days [from, to) it exists, None unbounded.
struct Version {
    code: String,
    level: String,
    parent: Option<String>,
    adults: Option<f64>,
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
}

impl Version {
    fn valid(&self, day: NaiveDate) -> bool {
        self.from.is_none_or(|f| f <= day) && self.to.is_none_or(|t| day < t)
    }
}

struct Change {
    old: String,
    new: String,
    on: NaiveDate,
    share: f64,
}

struct Registry {
    versions: Vec<Version>,
    changes: Vec<Change>,
}

impl Registry {
    fn version_on(&self, code: &str, day: NaiveDate) -> Option<usize> {
        self.versions
            .iter()
            .position(|v| v.code == code && v.valid(day))
    }

    /// SPEC §2.1: the units activity of `code` on `day` counts toward on
    /// `as_of`, with the product of the shares (summed over paths).
    fn carry(&self, code: &str, day: NaiveDate, as_of: NaiveDate) -> BTreeMap<usize, f64> {
        let mut out = BTreeMap::new();
        if let Some(v) = self.version_on(code, day) {
            self.walk(v, day, as_of, 1.0, &mut out);
        }
        out
    }

    /// From unit `v` as of `day`: through its first change after `day` and
    /// on or before `as_of`, if any, else it stays (when it exists then).
    fn walk(
        &self,
        v: usize,
        day: NaiveDate,
        as_of: NaiveDate,
        share: f64,
        out: &mut BTreeMap<usize, f64>,
    ) {
        let code = &self.versions[v].code;
        let out_of_v = |c: &&Change| {
            &c.old == code && self.version_on(&c.old, c.on.pred_opt().unwrap()) == Some(v)
        };
        let next = self
            .changes
            .iter()
            .filter(out_of_v)
            .filter(|c| c.on > day && c.on <= as_of)
            .map(|c| c.on)
            .min();
        match next {
            None => {
                if self.versions[v].valid(as_of) {
                    *out.entry(v).or_default() += share;
                }
            }
            Some(on) => {
                for c in self.changes.iter().filter(out_of_v).filter(|c| c.on == on) {
                    let w = self.version_on(&c.new, on).expect("a change's new unit");
                    self.walk(w, on, as_of, share * c.share, out);
                }
            }
        }
    }

    /// `v` and the units above it on `day`.
    fn ancestors(&self, v: usize, day: NaiveDate) -> Vec<usize> {
        let mut chain = vec![v];
        let mut current = v;
        while let Some(parent) = &self.versions[current].parent {
            current = self.version_on(parent, day).expect("a parent on the day");
            chain.push(current);
        }
        chain
    }
}

/// An ancestor an activity counts toward, its share, and whether whole.
type Carried = (String, f64, bool);

/// For every (unit_code, day, month) of `frame`: the ancestors, on the
/// month's as-of day, of each unit the activity counts toward, with its
/// share and whether it is the unit with the largest share (on a tie the
/// smaller code): the one a dossier's processing time counts for whole.
fn carry_frame(registry: &Registry, as_of: AsOf, frame: &LazyFrame) -> LazyFrame {
    let keys = frame
        .clone()
        .select([col("unit_code"), col("day"), col("month")])
        .unique(None, UniqueKeepStrategy::Any)
        .collect()
        .unwrap();
    let codes = strings(&keys, "unit_code");
    let days = ints(&keys, "day");
    let months = ints(&keys, "month");
    let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).unwrap();
    let mut cache: HashMap<(String, i64, NaiveDate), Vec<Carried>> = HashMap::new();
    let (mut c_code, mut c_day, mut c_month, mut c_up, mut c_share, mut c_whole) =
        (vec![], vec![], vec![], vec![], vec![], vec![]);
    for i in 0..keys.height() {
        let (code, day, month) = (
            codes[i].clone().unwrap(),
            days[i].unwrap(),
            months[i].unwrap() as i32,
        );
        let at = as_of.day(month);
        let rows = cache.entry((code.clone(), day, at)).or_insert_with(|| {
            let on = epoch + chrono::Days::new(day as u64);
            let shares = registry.carry(&code, on, at);
            let whole = shares
                .iter()
                .max_by(|(a, x), (b, y)| {
                    share_units(**x).cmp(&share_units(**y)).then_with(|| {
                        registry.versions[**b]
                            .code
                            .cmp(&registry.versions[**a].code)
                    })
                })
                .map(|(v, _)| *v);
            let mut rows = Vec::new();
            for (&v, &share) in &shares {
                for up in registry.ancestors(v, at) {
                    rows.push((registry.versions[up].code.clone(), share, Some(v) == whole));
                }
            }
            rows
        });
        for (up, share, whole) in rows.iter() {
            c_code.push(code.clone());
            c_day.push(day as i32);
            c_month.push(month);
            c_up.push(up.clone());
            c_share.push(*share);
            c_whole.push(*whole);
        }
    }
    df!(
        "unit_code" => c_code,
        "day" => c_day,
        "month" => c_month,
        "ancestor" => c_up,
        "share" => c_share,
        "whole" => c_whole,
    )
    .unwrap()
    .lazy()
}

struct Target {
    kpi: String,
    unit: String,
    year: i64,
    value: f64,
    grain: Option<String>,
    order: (i64, i64),
}

struct Expected {
    rows: BTreeMap<(NaiveDate, String, String), ExpectedRow>,
}

#[derive(Debug, Clone, PartialEq)]
struct ExpectedRow {
    estimated: bool,
    numerator: Option<f64>,
    denominator: Option<f64>,
    value: Option<f64>,
    target: Option<f64>,
    attainment: Option<f64>,
    status: Option<String>,
    rank: Option<i64>,
    rank_change: Option<i64>,
}

fn strings(df: &DataFrame, name: &str) -> Vec<Option<String>> {
    let column = df.column(name).unwrap().str().unwrap().clone();
    (0..column.len())
        .map(|i| column.get(i).map(str::to_string))
        .collect()
}

fn floats(df: &DataFrame, name: &str) -> Vec<Option<f64>> {
    let column = df.column(name).unwrap().cast(&DataType::Float64).unwrap();
    let column = column.f64().unwrap();
    (0..column.len()).map(|i| column.get(i)).collect()
}

fn ints(df: &DataFrame, name: &str) -> Vec<Option<i64>> {
    let column = df.column(name).unwrap().cast(&DataType::Int64).unwrap();
    let column = column.i64().unwrap();
    (0..column.len()).map(|i| column.get(i)).collect()
}

/// The registry's versions and changes, read from the lake's files.
fn registry(f: &Fixture) -> Registry {
    let root = &f.lake;
    let dates = |df: &DataFrame, name: &str| -> Vec<Option<NaiveDate>> {
        let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).unwrap();
        let column = df.column(name).unwrap().cast(&DataType::Int32).unwrap();
        let column = column.i32().unwrap();
        (0..column.len())
            .map(|i| {
                column
                    .get(i)
                    .map(|d| epoch + chrono::Duration::days(i64::from(d)))
            })
            .collect()
    };
    let units = read_frame(root, &lake_files(f, Feed::Units))
        .collect()
        .unwrap();
    let (codes, levels, parents) = (
        strings(&units, "unit_code"),
        strings(&units, "level"),
        strings(&units, "parent_code"),
    );
    let (adults, froms, tos) = (
        floats(&units, "adult_population"),
        dates(&units, "valid_from"),
        dates(&units, "valid_to"),
    );
    let versions = (0..units.height())
        .map(|i| Version {
            code: codes[i].clone().unwrap(),
            level: levels[i].clone().unwrap(),
            parent: parents[i].clone(),
            adults: adults[i],
            from: froms[i],
            to: tos[i],
        })
        .collect();
    let changes_df = read_frame(root, &lake_files(f, Feed::UnitChanges))
        .collect()
        .unwrap();
    let (olds, news, ons, shares) = (
        strings(&changes_df, "old_code"),
        strings(&changes_df, "new_code"),
        dates(&changes_df, "effective_on"),
        floats(&changes_df, "share"),
    );
    let changes = (0..changes_df.height())
        .map(|i| Change {
            old: olds[i].clone().unwrap(),
            new: news[i].clone().unwrap(),
            on: ons[i].unwrap(),
            share: shares[i].unwrap(),
        })
        .collect();
    Registry { versions, changes }
}

/// SPEC §5 and §2.1 from the lake, with Polars and plain Rust: each month on
/// the units of its `as_of` day.
fn polars_kpis(f: &Fixture, as_of: AsOf) -> Expected {
    let root = &f.lake;
    let registry = registry(f);
    let registry = &registry;

    // Current state: the greatest updated_at, then the later ingest, then the later line.
    let snapshots = read_frame(root, &lake_files(f, Feed::Dossiers)).with_columns([
        col("received_at").cast(DataType::Int64),
        col("due_at").cast(DataType::Int64),
        col("completed_at").cast(DataType::Int64),
        col("updated_at").cast(DataType::Int64),
    ]);
    let newest_update = snapshots
        .clone()
        .select([col("updated_at").max()])
        .collect()
        .unwrap()
        .column("updated_at")
        .unwrap()
        .i64()
        .unwrap()
        .get(0)
        .unwrap();
    let current = snapshots
        .sort(
            ["dossier_id", "updated_at", "ingest_seq", "source_line"],
            SortMultipleOptions::default()
                .with_order_descending_multi([false, true, true, true])
                .with_maintain_order(true),
        )
        .unique_stable_generic(Some(vec![col("dossier_id")]), UniqueKeepStrategy::First);

    let mut counts: Counts = HashMap::new();
    let online = col("channel").eq(lit("online"));
    let fee = col("fee_vnd").gt(lit(0i64));
    let paid = col("payment_method").is_not_null();
    let cashless = fee
        .clone()
        .and(paid.clone())
        .and(col("payment_method").neq(lit("cash")));
    rolled_up(
        current.clone(),
        registry,
        as_of,
        (month_of("received_on"), col("received_on")),
        vec![
            ("received", each(), None),
            (
                "online_rate",
                count_if(online.clone()),
                Some(count_if(col("online_level").neq(lit("none")))),
            ),
            (
                "full_online_rate",
                count_if(online.clone().and(col("online_level").eq(lit("full")))),
                Some(count_if(col("online_level").eq(lit("full")))),
            ),
            ("digitized_rate", count_if(flag("digitized")), Some(each())),
            (
                "applicant_signed_rate",
                count_if(online.clone().and(flag("applicant_signed"))),
                Some(count_if(online.clone())),
            ),
            (
                "online_payment_rate",
                count_if(fee.clone().and(flag("paid_online"))),
                Some(count_if(fee.clone())),
            ),
            (
                "cashless_rate",
                count_if(cashless.clone()),
                Some(count_if(fee.clone().and(paid.clone()))),
            ),
            (
                "cashless_value_rate",
                when(cashless.clone())
                    .then(col("fee_vnd"))
                    .otherwise(lit(0i64)),
                Some(
                    when(fee.clone().and(paid.clone()))
                        .then(col("fee_vnd"))
                        .otherwise(lit(0i64)),
                ),
            ),
        ],
        &mut counts,
    );
    let resolved = current.clone().filter(
        col("status")
            .eq(lit("resolved"))
            .or(col("status").eq(lit("returned"))),
    );
    let one = || Some(each());
    rolled_up(
        resolved.clone(),
        registry,
        as_of,
        (month_of("completed_on"), col("received_on")),
        vec![
            ("resolved", each(), None),
            (
                "on_time_rate",
                count_if(
                    col("due_at")
                        .is_null()
                        .or(col("completed_at").lt_eq(col("due_at"))),
                ),
                one(),
            ),
            (
                "processed_online_rate",
                count_if(flag("processed_online")),
                one(),
            ),
            ("e_result_rate", count_if(flag("e_result")), one()),
            ("result_signed_rate", count_if(flag("result_signed")), one()),
            (
                "satisfaction_rate",
                count_if(
                    col("satisfaction")
                        .eq(lit("very_satisfied"))
                        .or(col("satisfaction").eq(lit("satisfied"))),
                ),
                Some(count_if(col("satisfaction").is_not_null())),
            ),
        ],
        &mut counts,
    );

    // Medians over the unit and everything below it.
    let mut medians: HashMap<(i32, String), f64> = HashMap::new();
    let resolved = resolved.with_columns([
        month_of("completed_on").alias("month"),
        col("received_on").cast(DataType::Int32).alias("day"),
        ((col("completed_at") - col("received_at")).cast(DataType::Float64) / lit(DAY_MICROS))
            .alias("days"),
    ]);
    let whole = carry_frame(registry, as_of, &resolved).filter(col("whole"));
    let df = resolved
        .join(
            whole,
            [col("unit_code"), col("day"), col("month")],
            [col("unit_code"), col("day"), col("month")],
            JoinArgs::new(JoinType::Inner),
        )
        .group_by([col("month"), col("ancestor")])
        .agg([col("days").median().alias("median")])
        .collect()
        .unwrap();
    let months = ints(&df, "month");
    let owners = strings(&df, "ancestor");
    let values = floats(&df, "median");
    for i in 0..df.height() {
        medians.insert(
            (months[i].unwrap() as i32, owners[i].clone().unwrap()),
            values[i].unwrap(),
        );
    }

    // Overdue at min(end, as-of), for every month wanted and the one before.
    let first = month_key(FROM.0, FROM.1) - 1;
    let last = month_key(TO.0, TO.1);
    let closed_at = when(
        col("status")
            .eq(lit("resolved"))
            .or(col("status").eq(lit("returned"))),
    )
    .then(col("completed_at"))
    .otherwise(
        when(
            col("status")
                .eq(lit("withdrawn"))
                .or(col("status").eq(lit("rejected"))),
        )
        .then(col("updated_at"))
        .otherwise(lit(NULL).cast(DataType::Int64)),
    );
    for month in first..=last {
        let at = month_end_micros(month).min(newest_update);
        let overdue = current
            .clone()
            .with_column(closed_at.clone().alias("closed_at"))
            .filter(
                col("received_at")
                    .lt(lit(at))
                    .and(col("due_at").lt(lit(at)))
                    .and(
                        col("closed_at")
                            .is_null()
                            .or(col("closed_at").gt_eq(lit(at))),
                    ),
            );
        rolled_up(
            overdue,
            registry,
            as_of,
            (lit(month), col("received_on")),
            vec![("overdue_open", each(), None)],
            &mut counts,
        );
    }

    // Portal: an application's first start gives its unit, month and sign-in.
    let events = read_frame(root, &lake_files(f, Feed::PortalEvents));
    let submitted = events
        .clone()
        .filter(col("event_type").eq(lit("submitted")))
        .select([col("application_id")])
        .unique(None, UniqueKeepStrategy::Any)
        .with_column(lit(true).alias("completed"));
    let first_starts = events
        .clone()
        .filter(col("event_type").eq(lit("started")))
        .sort(
            ["application_id", "occurred_at", "event_id"],
            SortMultipleOptions::default().with_maintain_order(true),
        )
        .unique_stable_generic(Some(vec![col("application_id")]), UniqueKeepStrategy::First)
        .join(
            submitted,
            [col("application_id")],
            [col("application_id")],
            JoinArgs::new(JoinType::Left),
        );
    rolled_up(
        first_starts,
        registry,
        as_of,
        (month_of("occurred_on"), col("occurred_on")),
        vec![
            ("portal_started", each(), None),
            (
                "portal_completion_rate",
                count_if(col("completed").eq(lit(true))),
                one(),
            ),
            (
                "vneid_share",
                count_if(col("auth_method").eq(lit("vneid"))),
                one(),
            ),
        ],
        &mut counts,
    );
    rolled_up(
        events.filter(
            col("event_type")
                .eq(lit("payment_succeeded"))
                .or(col("event_type").eq(lit("payment_failed"))),
        ),
        registry,
        as_of,
        (month_of("occurred_on"), col("occurred_on")),
        vec![(
            "payment_success_rate",
            count_if(col("event_type").eq(lit("payment_succeeded"))),
            one(),
        )],
        &mut counts,
    );
    let signatures = read_frame(root, &lake_files(f, Feed::Signatures));
    let document = col("event_type").eq(lit("document_issued"));
    let certificate = col("event_type").eq(lit("certificate_issued"));
    rolled_up(
        signatures,
        registry,
        as_of,
        (month_of("occurred_on"), col("occurred_on")),
        vec![
            ("documents_issued", count_if(document.clone()), None),
            (
                "document_signing_rate",
                count_if(document.clone().and(flag("signed"))),
                Some(count_if(document)),
            ),
            ("certificates_issued", count_if(certificate.clone()), None),
            (
                "free_certificates",
                count_if(certificate.clone().and(flag("free_of_charge"))),
                None,
            ),
        ],
        &mut counts,
    );

    // Targets, in file order.
    let targets_df = read_frame(root, &lake_files(f, Feed::Targets))
        .collect()
        .unwrap();
    let targets: Vec<Target> = {
        let kpis = strings(&targets_df, "kpi");
        let units = strings(&targets_df, "unit_code");
        let years = ints(&targets_df, "year");
        let values = floats(&targets_df, "target");
        let grains = strings(&targets_df, "grain");
        let seqs = ints(&targets_df, "ingest_seq");
        let lines = ints(&targets_df, "source_line");
        (0..targets_df.height())
            .map(|i| Target {
                kpi: kpis[i].clone().unwrap(),
                unit: units[i].clone().unwrap(),
                year: years[i].unwrap(),
                value: values[i].unwrap(),
                grain: grains[i].clone(),
                order: (seqs[i].unwrap(), lines[i].unwrap()),
            })
            .collect()
    };
    let target_for = |kpi: &str, unit: &str, year: i64| -> Option<f64> {
        targets
            .iter()
            .filter(|t| t.kpi == kpi && t.year == year && (t.unit == unit || t.unit == "*"))
            .filter(|t| t.grain.is_none() || t.grain.as_deref() == Some("month"))
            .max_by_key(|t| (t.unit != "*", t.grain.is_some(), t.order))
            .map(|t| t.value)
    };

    // Values, then ranks within (month, kpi, level), then rank changes. A
    // month's units are those of its as-of day; a unit is its code and its
    // first day.
    let mut rows: BTreeMap<(i32, String, String), ExpectedRow> = BTreeMap::new();
    let mut identity: HashMap<(i32, String), (Option<NaiveDate>, String)> = HashMap::new();
    for month in first..=last {
        let at = as_of.day(month);
        for u in registry.versions.iter().filter(|u| u.valid(at)) {
            identity.insert((month, u.code.clone()), (u.from, u.level.clone()));
            for k in kpis::CATALOG {
                let key = (month, u.code.clone(), k.id.to_string());
                let (num, den) = match k.id {
                    "median_processing_days" => (None, None),
                    "certificates_per_1000_adults" => {
                        let certificates = counts
                            .get(&(month, u.code.clone(), "certificates_issued".into()))
                            .map_or(0.0, |c| c.0);
                        (Some(1000.0 * certificates), u.adults)
                    }
                    _ => {
                        let found = counts.get(&key).cloned();
                        let num = found.as_ref().map_or(0.0, |c| c.0);
                        let den = match k.kind {
                            KpiKind::Rate => Some(found.and_then(|c| c.1).unwrap_or(0.0)),
                            _ => None,
                        };
                        (Some(num), den)
                    }
                };
                let value = match (k.id, k.kind) {
                    ("median_processing_days", _) => medians.get(&(month, u.code.clone())).copied(),
                    (_, KpiKind::Count) => num,
                    _ => match (num, den) {
                        (Some(n), Some(d)) if d != 0.0 => Some(n / d),
                        _ => None,
                    },
                };
                let target = target_for(k.id, &u.code, i64::from(month_start(month).year()));
                let attainment = match (value, target) {
                    (Some(v), Some(t)) => match k.direction {
                        Direction::Up if t != 0.0 => Some(v / t),
                        Direction::Down if v != 0.0 => Some(t / v),
                        _ => None,
                    },
                    _ => None,
                };
                let status = match attainment {
                    Some(a) if a >= 1.0 => Some("met"),
                    Some(a) if a >= 0.7 => Some("on_track"),
                    Some(a) if a >= 0.5 => Some("behind"),
                    Some(_) => Some("far_behind"),
                    None if k.direction == Direction::Down
                        && value == Some(0.0)
                        && target.is_some() =>
                    {
                        Some("met")
                    }
                    None => None,
                };
                let estimated = !matches!(k.id, "median_processing_days")
                    && counts
                        .get(&(
                            month,
                            u.code.clone(),
                            if k.id == "certificates_per_1000_adults" {
                                "certificates_issued".into()
                            } else {
                                k.id.to_string()
                            },
                        ))
                        .is_some_and(|c| c.2);
                rows.insert(
                    key,
                    ExpectedRow {
                        estimated,
                        numerator: num,
                        denominator: den,
                        value,
                        target,
                        attainment,
                        status: status.map(str::to_string),
                        rank: None,
                        rank_change: None,
                    },
                );
            }
        }
    }
    let mut groups: HashMap<(i32, String, String), Vec<(String, f64)>> = HashMap::new();
    for ((month, unit, kpi_id), row) in &rows {
        if let Some(v) = row.value {
            let better = if kpis::find(kpi_id).unwrap().direction == Direction::Up {
                -v
            } else {
                v
            };
            groups
                .entry((
                    *month,
                    kpi_id.clone(),
                    identity[&(*month, unit.clone())].1.clone(),
                ))
                .or_default()
                .push((unit.clone(), better));
        }
    }
    for ((month, kpi_id, _), members) in groups {
        for (unit, score) in &members {
            let rank = 1 + members.iter().filter(|(_, s)| s < score).count() as i64;
            rows.get_mut(&(month, unit.clone(), kpi_id.clone()))
                .unwrap()
                .rank = Some(rank);
        }
    }
    let ranks: HashMap<(i32, String, String), Option<i64>> =
        rows.iter().map(|(k, r)| (k.clone(), r.rank)).collect();
    for ((month, unit, kpi_id), row) in rows.iter_mut() {
        // The same unit: the same code with the same first day.
        let same_unit = identity.get(&(month - 1, unit.clone())).map(|i| &i.0)
            == Some(&identity[&(*month, unit.clone())].0);
        let previous = ranks
            .get(&(month - 1, unit.clone(), kpi_id.clone()))
            .copied()
            .flatten()
            .filter(|_| same_unit);
        row.rank_change = match (previous, row.rank) {
            (Some(p), Some(r)) => Some(p - r),
            _ => None,
        };
    }
    Expected {
        rows: rows
            .into_iter()
            .filter(|((month, _, _), _)| *month > first)
            .map(|((month, unit, kpi_id), row)| ((month_start(month), unit, kpi_id), row))
            .collect(),
    }
}

/// motcua's published rows of one dataset folder, read back with Polars.
fn published(dir: &Path) -> BTreeMap<(NaiveDate, String, String), ExpectedRow> {
    let dir = dir.join("period_grain=month");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    let mut rows = BTreeMap::new();
    for file in files {
        let df = ParquetReader::new(File::open(&file).unwrap())
            .finish()
            .unwrap();
        let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).unwrap();
        let starts = ints(
            &df.clone()
                .lazy()
                .select([col("period_start").cast(DataType::Int32)])
                .collect()
                .unwrap(),
            "period_start",
        );
        let units = strings(&df, "unit_code");
        let kpis = strings(&df, "kpi");
        let (nums, dens, values, targets, attainments) = (
            floats(&df, "numerator"),
            floats(&df, "denominator"),
            floats(&df, "value"),
            floats(&df, "target"),
            floats(&df, "attainment"),
        );
        let statuses = strings(&df, "status");
        let (ranks, changes) = (ints(&df, "rank"), ints(&df, "rank_change"));
        let estimated = df.column("estimated").unwrap().bool().unwrap().clone();
        for i in 0..df.height() {
            let start = epoch + chrono::Days::new(starts[i].unwrap() as u64);
            rows.insert(
                (start, units[i].clone().unwrap(), kpis[i].clone().unwrap()),
                ExpectedRow {
                    estimated: estimated.get(i) == Some(true),
                    numerator: nums[i],
                    denominator: dens[i],
                    value: values[i],
                    target: targets[i],
                    attainment: attainments[i],
                    status: statuses[i].clone(),
                    rank: ranks[i],
                    rank_change: changes[i],
                },
            );
        }
    }
    rows
}

fn close(a: Option<f64>, b: Option<f64>) -> bool {
    match (a, b) {
        (None, None) => true,
        (Some(x), Some(y)) => (x - y).abs() <= 1e-9 * x.abs().max(1.0),
        _ => false,
    }
}

/// Every row of `got` against `expected`: the differences, described.
fn compare(
    got: &BTreeMap<(NaiveDate, String, String), ExpectedRow>,
    expected: &BTreeMap<(NaiveDate, String, String), ExpectedRow>,
) -> Vec<String> {
    let mut mismatches = Vec::new();
    if got.len() != expected.len() {
        mismatches.push(format!("{} rows, expected {}", got.len(), expected.len()));
    }
    for (key, want) in expected {
        let Some(have) = got.get(key) else {
            mismatches.push(format!("{key:?}: missing"));
            continue;
        };
        let same = close(have.numerator, want.numerator)
            && close(have.denominator, want.denominator)
            && close(have.value, want.value)
            && close(have.target, want.target)
            && close(have.attainment, want.attainment)
            && have.status == want.status
            && have.rank == want.rank
            && have.rank_change == want.rank_change
            && have.estimated == want.estimated;
        if !same {
            mismatches.push(format!("{key:?}:\n   motcua {have:?}\n   polars {want:?}"));
        }
    }
    mismatches
}

#[test]
fn kpi_values_match_an_independent_polars_implementation() {
    let f = Fixture::new();
    f.ingest_sample(20_000, 11);
    let out = f.dir.path().join("out");
    let restated = NaiveDate::from_ymd_opt(RESTATED.0, RESTATED.1, RESTATED.2).unwrap();
    for units_as_of in [None, Some(restated)] {
        publish_months(
            &f,
            &out,
            NaiveDate::from_ymd_opt(FROM.0, FROM.1, 1).unwrap(),
            NaiveDate::from_ymd_opt(TO.0, TO.1, 1).unwrap(),
            units_as_of,
        );
    }
    let series = [
        ("as reported", AsOf::Reported, out.join("kpi_values")),
        (
            "restated",
            AsOf::Restated(restated),
            out.join(format!("kpi_values_restated/units_as_of={restated}")),
        ),
    ];
    for (name, as_of, dir) in series {
        let expected = polars_kpis(&f, as_of).rows;
        let got = published(&dir);
        let mismatches = compare(&got, &expected);
        assert!(
            mismatches.is_empty(),
            "{name}: {} of {} rows differ; first ones:\n{}",
            mismatches.len(),
            expected.len(),
            mismatches[..mismatches.len().min(10)].join("\n")
        );
        // Sanity: the data exercised what it should.
        let active = expected
            .values()
            .filter(|r| r.value.is_some_and(|v| v > 0.0))
            .count();
        assert!(active > expected.len() / 4, "{name}: {active} active rows");
        let estimated = expected.values().filter(|r| r.estimated).count();
        assert!(estimated > 0, "{name}: no row came through a share below 1");
    }
}
