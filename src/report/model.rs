//! What a report says, before any language or format: the goal summary,
//! the scorecard, the trends of the headline KPIs and the children ranked
//! on them, from the published rows.

use std::collections::HashMap;

use chrono::NaiveDate;

use super::Request;
use super::data::{Row, Rows};
use crate::spec::kpis::{self, KpiDef, KpiKind};

/// Where a KPI stands against its target (SPEC §5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Status {
    Met,
    OnTrack,
    Behind,
    FarBehind,
}

impl Status {
    pub(crate) fn parse(text: &str) -> Option<Status> {
        match text {
            "met" => Some(Status::Met),
            "on_track" => Some(Status::OnTrack),
            "behind" => Some(Status::Behind),
            "far_behind" => Some(Status::FarBehind),
            _ => None,
        }
    }

    /// The name `kpi_values.status` holds (and the page's CSS class).
    pub(crate) fn name(self) -> &'static str {
        match self {
            Status::Met => "met",
            Status::OnTrack => "on_track",
            Status::Behind => "behind",
            Status::FarBehind => "far_behind",
        }
    }
}

/// The goal summary: how many KPIs with a target stand where.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Summary {
    pub goals: usize,
    pub met: usize,
    pub on_track: usize,
    pub behind: usize,
    pub far_behind: usize,
    /// A target, but no value to hold against it.
    pub no_value: usize,
}

/// One line of the scorecard.
pub(crate) struct Score {
    pub kpi: &'static KpiDef,
    pub now: Option<Row>,
    pub status: Option<Status>,
    pub previous: Option<f64>,
    pub year_ago: Option<f64>,
    /// Units of the unit's level ranked on the KPI in the period.
    pub ranked: Option<i64>,
}

/// One point of a trend.
pub(crate) struct Point {
    pub period: NaiveDate,
    pub value: Option<f64>,
    pub target: Option<f64>,
}

pub(crate) struct Trend {
    pub kpi: &'static KpiDef,
    pub points: Vec<Point>,
}

/// A child unit's standing on one headline KPI.
pub(crate) struct Cell {
    pub value: Option<f64>,
    pub rank: Option<i64>,
    pub rank_change: Option<i64>,
    /// Fewer dossiers (the KPI's denominator) than `--min-dossiers`: the
    /// rank says little.
    pub few: bool,
    pub estimated: bool,
    /// Units of the child's level ranked on the KPI in the period.
    pub ranked: Option<i64>,
}

pub(crate) struct Child {
    pub code: String,
    pub name: String,
    pub level: String,
    /// In the order of `Report::headline`.
    pub cells: Vec<Cell>,
}

pub(crate) struct Report {
    pub request: Request,
    pub unit_name: String,
    pub previous: NaiveDate,
    pub year_ago: NaiveDate,
    pub summary: Summary,
    pub scorecard: Vec<Score>,
    pub headline: Vec<&'static KpiDef>,
    pub trends: Vec<Trend>,
    pub children: Vec<Child>,
    /// Any value carried through a unit change with a share below one.
    pub estimated: bool,
    /// The unit an earlier period's rows of the code belong to, when it is
    /// another (a reused code): they are left out of trends and changes.
    pub earlier_unit: Option<String>,
    /// The published version read.
    pub version: String,
}

/// Periods a trend spans, the requested one last.
pub(crate) const TREND_PERIODS: usize = 12;

/// The periods of the trend, oldest first, and the first period to read
/// (the trend's first, or a year earlier when that comes before it).
pub(crate) fn periods(request: &Request) -> (Vec<NaiveDate>, NaiveDate) {
    let grain = request.grain;
    let mut trend = vec![request.period];
    while trend.len() < TREND_PERIODS {
        let before = grain.previous_period(trend[trend.len() - 1]);
        trend.push(before);
    }
    trend.reverse();
    let year_ago = grain.year_earlier(request.period);
    let first = trend[0].min(year_ago);
    (trend, first)
}

pub(crate) fn build(request: Request, rows: Rows) -> Report {
    let grain = request.grain;
    let (trend_periods, _) = periods(&request);
    let previous = grain.previous_period(request.period);
    let year_ago = grain.year_earlier(request.period);
    let unit = &request.unit;
    let (unit_name, unit_level) = rows
        .rows
        .iter()
        .find(|r| &r.unit_code == unit && r.period_start == request.period)
        .map(|r| (r.unit_name.clone(), r.unit_level.clone()))
        .unwrap_or_default();
    // A code can name another unit in earlier periods (codes were reused in
    // July 2025): those rows are not this unit's past. (kpi_values does
    // not carry the version, so a unit that changed its name or level is
    // left out too; the restated series compares one unit throughout.)
    let same_unit = |r: &Row| r.unit_name == unit_name && r.unit_level == unit_level;
    let earlier_unit = rows
        .rows
        .iter()
        .find(|r| &r.unit_code == unit && !same_unit(r))
        .map(|r| r.unit_name.clone());
    // The unit's own rows by (period, kpi).
    let own: HashMap<(NaiveDate, &str), &Row> = rows
        .rows
        .iter()
        .filter(|r| &r.unit_code == unit && same_unit(r))
        .map(|r| ((r.period_start, r.kpi.as_str()), r))
        .collect();
    let at = |period: NaiveDate, kpi: &KpiDef| own.get(&(period, kpi.id)).copied();
    let value_at = |period, kpi| at(period, kpi).and_then(|r| r.value);
    let scorecard: Vec<Score> = kpis::CATALOG
        .iter()
        .map(|kpi| {
            let now = at(request.period, kpi).cloned();
            Score {
                kpi,
                status: now
                    .as_ref()
                    .and_then(|r| r.status.as_deref())
                    .and_then(Status::parse),
                ranked: rows
                    .ranked
                    .get(&(kpi.id.to_string(), unit_level.clone()))
                    .copied(),
                now,
                previous: value_at(previous, kpi),
                year_ago: value_at(year_ago, kpi),
            }
        })
        .collect();
    let summary = summarize(&scorecard);
    let headline: Vec<&'static KpiDef> = kpis::CATALOG.iter().filter(|k| k.headline).collect();
    let trends = headline
        .iter()
        .map(|kpi| Trend {
            kpi,
            points: trend_periods
                .iter()
                .map(|&period| Point {
                    period,
                    value: value_at(period, kpi),
                    target: at(period, kpi).and_then(|r| r.target),
                })
                .collect(),
        })
        .collect();
    let children = children(&request, &rows, &headline);
    let estimated = scorecard
        .iter()
        .any(|s| s.now.as_ref().is_some_and(|r| r.estimated))
        || children.iter().any(|c| c.cells.iter().any(|c| c.estimated));
    Report {
        request,
        unit_name,
        previous,
        year_ago,
        summary,
        scorecard,
        headline,
        trends,
        children,
        estimated,
        earlier_unit,
        version: rows.version,
    }
}

fn summarize(scorecard: &[Score]) -> Summary {
    let mut summary = Summary::default();
    for score in scorecard {
        let Some(now) = &score.now else { continue };
        if now.target.is_none() {
            continue;
        }
        summary.goals += 1;
        match score.status {
            Some(Status::Met) => summary.met += 1,
            Some(Status::OnTrack) => summary.on_track += 1,
            Some(Status::Behind) => summary.behind += 1,
            Some(Status::FarBehind) => summary.far_behind += 1,
            None => summary.no_value += 1,
        }
    }
    summary
}

/// The unit's children in the requested period, by level (a province's
/// communes apart from its departments: each is ranked among its own), then
/// by their rank on the first headline KPI (unranked last), then by code.
fn children(request: &Request, rows: &Rows, headline: &[&'static KpiDef]) -> Vec<Child> {
    let mut by_code: HashMap<&str, HashMap<&str, &Row>> = HashMap::new();
    for r in rows.rows.iter().filter(|r| {
        r.period_start == request.period && r.parent_code.as_deref() == Some(&request.unit)
    }) {
        by_code.entry(&r.unit_code).or_default().insert(&r.kpi, r);
    }
    let mut children: Vec<Child> = by_code
        .into_values()
        .filter_map(|kpis| {
            let any = kpis.values().next()?;
            Some(Child {
                code: any.unit_code.clone(),
                name: any.unit_name.clone(),
                level: any.unit_level.clone(),
                cells: headline
                    .iter()
                    .map(|kpi| {
                        let row = kpis.get(kpi.id);
                        let denominator = row.and_then(|r| r.denominator).unwrap_or(0.0);
                        Cell {
                            value: row.and_then(|r| r.value),
                            rank: row.and_then(|r| r.rank),
                            rank_change: row.and_then(|r| r.rank_change),
                            few: kpi.kind == KpiKind::Rate
                                && denominator < request.min_dossiers as f64,
                            estimated: row.is_some_and(|r| r.estimated),
                            ranked: rows
                                .ranked
                                .get(&(kpi.id.to_string(), any.unit_level.clone()))
                                .copied(),
                        }
                    })
                    .collect(),
            })
        })
        .collect();
    children.sort_by(|a, b| {
        let rank = |c: &Child| c.cells.first().and_then(|c| c.rank).unwrap_or(i64::MAX);
        a.level
            .cmp(&b.level)
            .then_with(|| rank(a).cmp(&rank(b)))
            .then_with(|| a.code.cmp(&b.code))
    });
    children
}

#[cfg(test)]
mod tests {
    use super::{Request, build};
    use crate::publish::dataset::Series;
    use crate::report::data::{Row, Rows};
    use crate::report::format::Lang;
    use crate::spec::grain::Grain;

    fn row(period: &str, name: &str, kpi: &str, value: f64) -> Row {
        Row {
            period_start: period.parse().unwrap(),
            unit_code: "00070".into(),
            unit_name: name.into(),
            unit_level: "commune".into(),
            parent_code: Some("01".into()),
            kpi: kpi.into(),
            numerator: Some(value),
            denominator: None,
            value: Some(value),
            target: None,
            attainment: None,
            status: None,
            rank: None,
            rank_change: None,
            estimated: false,
        }
    }

    #[test]
    fn a_reused_code_is_not_the_new_units_past() {
        let request = Request {
            unit: "00070".into(),
            grain: Grain::Month,
            period: "2025-07-01".parse().unwrap(),
            lang: Lang::Vi,
            series: Series::AsReported,
            min_dossiers: 30,
        };
        let rows = Rows {
            rows: vec![
                row("2025-06-01", "Phường Hàng Trống", "received", 1.0),
                row("2025-07-01", "Phường Hoàn Kiếm", "received", 2.0),
                row("2025-06-01", "Phường Hàng Trống", "on_time_rate", 0.5),
                row("2025-07-01", "Phường Hoàn Kiếm", "on_time_rate", 0.9),
            ],
            ranked: Default::default(),
            version: "v000001".into(),
        };
        let report = build(request, rows);
        assert_eq!(report.unit_name, "Phường Hoàn Kiếm");
        assert_eq!(report.earlier_unit.as_deref(), Some("Phường Hàng Trống"));
        let received = &report.scorecard[0];
        assert_eq!(received.kpi.id, "received");
        assert_eq!(received.now.as_ref().and_then(|r| r.value), Some(2.0));
        assert_eq!(received.previous, None);
        assert_eq!(report.trends[0].kpi.id, "on_time_rate");
        let values: Vec<Option<f64>> = report.trends[0].points[10..]
            .iter()
            .map(|p| p.value)
            .collect();
        assert_eq!(values, [None, Some(0.9)]);
    }
}
