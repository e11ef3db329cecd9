//! The report as one self-contained HTML page: the model's figures written
//! in the report's language, filled into `page.html` by minijinja, with
//! the charts inline as SVG. Nothing on the page is fetched: no script,
//! font, style sheet or image comes from elsewhere.

use serde::Serialize;

use super::chart;
use super::format::Lang;
use super::model::{Report, Status};
use crate::error::{Error, Result};
use crate::publish::dataset::Series;

const TEMPLATE: &str = include_str!("page.html");

/// The words of the page, in one language.
#[derive(Serialize)]
struct Words {
    title: &'static str,
    unit: &'static str,
    period: &'static str,
    goals: &'static str,
    /// The goal summary, in the seeds' words.
    sentence: &'static str,
    no_value_part: &'static str,
    scorecard: &'static str,
    kpi: &'static str,
    value: &'static str,
    of: &'static str,
    definitions: &'static str,
    target: &'static str,
    attainment: &'static str,
    status: &'static str,
    previous: &'static str,
    year_ago: &'static str,
    rank: &'static str,
    trends: &'static str,
    children: &'static str,
    child_unit: &'static str,
    few: &'static str,
    estimated: &'static str,
    no_children: &'static str,
    earlier_unit: &'static str,
    source: &'static str,
    legend: [&'static str; 2],
    met: &'static str,
    on_track: &'static str,
    behind: &'static str,
    far_behind: &'static str,
    no_value: &'static str,
}

const VI: Words = Words {
    title: "Báo cáo chuyển đổi số — dịch vụ công",
    unit: "Đơn vị",
    period: "Kỳ báo cáo",
    goals: "Chỉ tiêu",
    sentence: "Trong {goals} chỉ tiêu có mục tiêu: {met} đạt, {on_track} trên 70%, {behind} từ 50–70%, {far_behind} dưới 50%{no_value}.",
    no_value_part: ", {n} chưa có số liệu",
    scorecard: "Bảng chỉ tiêu",
    kpi: "Chỉ tiêu",
    value: "Kết quả",
    of: "Tử số / mẫu số",
    definitions: "Định nghĩa chỉ tiêu",
    target: "Mục tiêu",
    attainment: "Mức đạt",
    status: "Đánh giá",
    previous: "Kỳ trước",
    year_ago: "Cùng kỳ",
    rank: "Xếp hạng",
    trends: "Diễn biến 12 kỳ gần nhất",
    children: "Xếp hạng các đơn vị trực thuộc",
    child_unit: "Đơn vị trực thuộc",
    few: "Dưới {n} hồ sơ (hoặc văn bản) ở mẫu số: thứ hạng ít ý nghĩa",
    estimated: "≈ ước tính: số liệu chia theo tỷ lệ khi đơn vị thay đổi",
    no_children: "Đơn vị không có đơn vị trực thuộc trong kỳ này.",
    earlier_unit: "Trong các kỳ trước, mã {code} là của {other}: số liệu các kỳ đó không được so sánh ở đây; xem số liệu quy đổi (--units-as-of).",
    source: "Nguồn",
    legend: ["Kết quả", "Mục tiêu"],
    met: "Đạt",
    on_track: "Trên 70%",
    behind: "Từ 50–70%",
    far_behind: "Dưới 50%",
    no_value: "Chưa có số liệu",
};

const EN: Words = Words {
    title: "Digital transformation of public services",
    unit: "Unit",
    period: "Period",
    goals: "Goals",
    sentence: "Of {goals} goals, {met} met, {on_track} above 70%, {behind} at 50–70%, {far_behind} below 50%{no_value}.",
    no_value_part: ", {n} with no value",
    scorecard: "Scorecard",
    kpi: "KPI",
    value: "Value",
    of: "Numerator / denominator",
    definitions: "What each KPI counts",
    target: "Target",
    attainment: "Attainment",
    status: "Status",
    previous: "Change since",
    year_ago: "Change since",
    rank: "Rank",
    trends: "The last 12 periods",
    children: "Units below, ranked",
    child_unit: "Unit",
    few: "Fewer than {n} dossiers (or documents) behind the rate: the rank says little",
    estimated: "≈ estimated: shared out when units changed",
    no_children: "The unit has no units below it in this period.",
    earlier_unit: "In earlier periods the code {code} named {other}: those periods are left out of the trends and changes here; see the restated series (--units-as-of).",
    source: "Source",
    legend: ["Value", "Target"],
    met: "Met",
    on_track: "Above 70%",
    behind: "At 50–70%",
    far_behind: "Below 50%",
    no_value: "No value",
};

#[derive(Serialize)]
struct Page {
    lang: &'static str,
    t: &'static Words,
    unit_code: String,
    unit_name: String,
    period: String,
    previous_period: String,
    year_ago_period: String,
    restated: Option<String>,
    summary: SummaryView,
    scores: Vec<ScoreView>,
    charts: Vec<ChartView>,
    headline: Vec<&'static str>,
    children: Vec<ChildView>,
    few_note: String,
    estimated: bool,
    earlier_unit: Option<String>,
    source: String,
}

#[derive(Serialize)]
struct SummaryView {
    sentence: String,
    buckets: Vec<Bucket>,
}

#[derive(Serialize)]
struct Bucket {
    class: &'static str,
    label: &'static str,
    count: usize,
}

#[derive(Serialize)]
struct ScoreView {
    id: &'static str,
    label: &'static str,
    definition: &'static str,
    value: String,
    of: String,
    target: String,
    attainment: String,
    status: Option<&'static str>,
    status_label: String,
    previous: String,
    year_ago: String,
    rank: String,
}

#[derive(Serialize)]
struct ChartView {
    id: &'static str,
    label: &'static str,
    svg: String,
}

#[derive(Serialize)]
struct ChildView {
    code: String,
    name: String,
    cells: Vec<CellView>,
}

#[derive(Serialize)]
struct CellView {
    value: String,
    rank: String,
    /// `up` or `down`: the rank's colour.
    moved: &'static str,
    few: bool,
}

/// The page of `report`.
pub(crate) fn render(report: &Report) -> Result<String> {
    let lang = report.request.lang;
    let t = if lang.is_vi() { &VI } else { &EN };
    let mut env = minijinja::Environment::new();
    env.add_template("page.html", TEMPLATE)
        .map_err(|e| Error::Render(e.to_string()))?;
    let page = page(report, lang, t)?;
    env.get_template("page.html")
        .and_then(|tpl| tpl.render(minijinja::value::Serde(&page)))
        .map_err(|e| Error::Render(e.to_string()))
}

fn page(report: &Report, lang: Lang, t: &'static Words) -> Result<Page> {
    let request = &report.request;
    let vi = lang.is_vi();
    let status_label = |s: Status| match s {
        Status::Met => t.met,
        Status::OnTrack => t.on_track,
        Status::Behind => t.behind,
        Status::FarBehind => t.far_behind,
    };
    let s = &report.summary;
    let no_value = if s.no_value > 0 {
        t.no_value_part.replace("{n}", &s.no_value.to_string())
    } else {
        String::new()
    };
    let sentence = [
        ("{goals}", s.goals.to_string()),
        ("{met}", s.met.to_string()),
        ("{on_track}", s.on_track.to_string()),
        ("{behind}", s.behind.to_string()),
        ("{far_behind}", s.far_behind.to_string()),
        ("{no_value}", no_value),
    ]
    .iter()
    .fold(t.sentence.to_string(), |text, (slot, n)| {
        text.replace(slot, n)
    });
    let buckets = vec![
        Bucket {
            class: "met",
            label: t.met,
            count: s.met,
        },
        Bucket {
            class: "on_track",
            label: t.on_track,
            count: s.on_track,
        },
        Bucket {
            class: "behind",
            label: t.behind,
            count: s.behind,
        },
        Bucket {
            class: "far_behind",
            label: t.far_behind,
            count: s.far_behind,
        },
        Bucket {
            class: "none",
            label: t.no_value,
            count: s.no_value,
        },
    ];
    let dash = || "–".to_string();
    let scores = report
        .scorecard
        .iter()
        .map(|score| {
            let kpi = score.kpi;
            let now = score.now.as_ref();
            let value = now.and_then(|r| r.value);
            let of = match (
                now.and_then(|r| r.numerator),
                now.and_then(|r| r.denominator),
            ) {
                (Some(n), Some(d)) if kpi.kind != crate::spec::kpis::KpiKind::Count => {
                    format!(
                        "{} / {}",
                        lang.amount(kpi, n, true),
                        lang.amount(kpi, d, false)
                    )
                }
                _ => String::new(),
            };
            let approx = if now.is_some_and(|r| r.estimated) {
                "≈ "
            } else {
                ""
            };
            let change = |then: Option<f64>| match (value, then) {
                (Some(v), Some(p)) => lang.change(kpi, v - p),
                _ => dash(),
            };
            ScoreView {
                id: kpi.id,
                label: kpi.label(vi),
                definition: kpi.definition(vi),
                value: value.map_or_else(dash, |v| format!("{approx}{}", lang.value(kpi, v))),
                of,
                target: now
                    .and_then(|r| r.target)
                    .map_or_else(String::new, |v| lang.value(kpi, v)),
                attainment: now
                    .and_then(|r| r.attainment)
                    .map_or_else(String::new, |a| lang.percent(a)),
                status: score.status.map(Status::name),
                status_label: score
                    .status
                    .map_or_else(String::new, |s| status_label(s).to_string()),
                previous: change(score.previous),
                year_ago: change(score.year_ago),
                rank: rank(
                    lang,
                    now.and_then(|r| r.rank),
                    score.ranked,
                    now.and_then(|r| r.rank_change),
                ),
            }
        })
        .collect();
    let charts = report
        .trends
        .iter()
        .map(|trend| {
            Ok(ChartView {
                id: trend.kpi.id,
                label: trend.kpi.label(vi),
                svg: chart::trend_svg(trend, request.grain, lang, t.legend)?,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let children = report
        .children
        .iter()
        .map(|child| ChildView {
            code: child.code.clone(),
            name: child.name.clone(),
            cells: child
                .cells
                .iter()
                .zip(&report.headline)
                .map(|(cell, kpi)| CellView {
                    value: cell.value.map_or_else(dash, |v| {
                        let approx = if cell.estimated { "≈ " } else { "" };
                        format!("{approx}{}", lang.value(kpi, v))
                    }),
                    rank: rank(lang, cell.rank, cell.ranked, cell.rank_change),
                    moved: moved(cell.rank_change),
                    few: cell.few,
                })
                .collect(),
        })
        .collect();
    let restated = match request.series {
        Series::AsReported => None,
        Series::Restated { units_as_of } => Some(if vi {
            format!(
                "Số liệu quy đổi theo đơn vị hành chính ngày {}",
                lang.date(units_as_of)
            )
        } else {
            format!("Restated on the units of {}", lang.date(units_as_of))
        }),
    };
    Ok(Page {
        lang: lang.name(),
        t,
        unit_code: request.unit.clone(),
        unit_name: report.unit_name.clone(),
        period: lang.period(request.grain, request.period),
        previous_period: lang.period(request.grain, report.previous),
        year_ago_period: lang.period(request.grain, report.year_ago),
        restated,
        summary: SummaryView { sentence, buckets },
        scores,
        charts,
        headline: report.headline.iter().map(|k| k.label(vi)).collect(),
        children,
        few_note: t.few.replace("{n}", &request.min_dossiers.to_string()),
        estimated: report.estimated,
        earlier_unit: report.earlier_unit.as_ref().map(|other| {
            t.earlier_unit
                .replace("{code}", &request.unit)
                .replace("{other}", other)
        }),
        source: format!(
            "{}/{} {}",
            request.series.dataset(),
            report.version,
            request.grain
        ),
    })
}

/// `24/63 ▲16`: the rank among the ranked units, and how it moved.
fn rank(lang: Lang, rank: Option<i64>, ranked: Option<i64>, change: Option<i64>) -> String {
    let Some(rank) = rank else {
        return String::new();
    };
    let of = ranked.map_or(String::new(), |n| format!("/{n}"));
    let moved = match change {
        Some(0) => format!(" {}", arrow(change)),
        Some(c) => format!(" {}{}", arrow(change), lang.number(c.abs() as f64, 0)),
        None => String::new(),
    };
    format!("{rank}{of}{moved}")
}

fn moved(change: Option<i64>) -> &'static str {
    match change {
        Some(c) if c > 0 => "up",
        Some(c) if c < 0 => "down",
        _ => "",
    }
}

/// ▲ up, ▼ down, = the same; nothing when there is no earlier rank.
fn arrow(change: Option<i64>) -> &'static str {
    match change {
        Some(c) if c > 0 => "▲",
        Some(c) if c < 0 => "▼",
        Some(_) => "=",
        None => "",
    }
}
