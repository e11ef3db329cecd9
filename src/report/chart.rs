//! A headline KPI's trend over the report's periods against its target, as
//! SVG drawn by plotters (its text is left to the browser's fonts).

use plotters::prelude::*;

use super::format::Lang;
use super::model::Trend;
use crate::error::{Error, Result};
use crate::spec::grain::Grain;
use crate::spec::kpis::KpiKind;

const SIZE: (u32, u32) = (460, 230);
const VALUE: RGBColor = RGBColor(0x1f, 0x5f, 0xa8);
const TARGET: RGBColor = RGBColor(0xc0, 0x39, 0x2b);

fn drawing<E: std::fmt::Display>(e: E) -> Error {
    Error::Render(format!("drawing a trend chart: {e}"))
}

/// The chart of one trend: the value as a line with points (broken where a
/// period has none), the target as a dashed line.
pub(crate) fn trend_svg(
    trend: &Trend,
    grain: Grain,
    lang: Lang,
    words: [&str; 2],
) -> Result<String> {
    let kpi = trend.kpi;
    let points = &trend.points;
    let n = points.len();
    let highest = points
        .iter()
        .flat_map(|p| [p.value, p.target])
        .flatten()
        .fold(0.0_f64, f64::max);
    let top = match kpi.kind {
        KpiKind::Rate => 1.0,
        _ if highest > 0.0 => highest * 1.15,
        _ => 1.0,
    };
    let ticks: Vec<String> = points
        .iter()
        .map(|p| lang.period_tick(grain, p.period))
        .collect();
    let y_label = |y: &f64| match kpi.kind {
        KpiKind::Rate => lang.number(y * 100.0, 0) + if lang.is_vi() { " %" } else { "%" },
        KpiKind::Count => lang.number(*y, 0),
        _ => lang.number(*y, 1),
    };
    let x_label = |x: &f64| {
        let i = x.round();
        if (x - i).abs() < 1e-6 && i >= 0.0 && (i as usize) < n {
            ticks[i as usize].clone()
        } else {
            String::new()
        }
    };
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        root.fill(&WHITE).map_err(drawing)?;
        let mut chart = ChartBuilder::on(&root)
            .margin(10)
            .x_label_area_size(26)
            .y_label_area_size(52)
            .build_cartesian_2d(-0.5_f64..(n as f64 - 0.5), 0.0_f64..top)
            .map_err(drawing)?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(n)
            .x_label_formatter(&x_label)
            .y_labels(5)
            .y_label_formatter(&y_label)
            .light_line_style(RGBColor(0xee, 0xee, 0xee))
            .label_style(("sans-serif", 11))
            .draw()
            .map_err(drawing)?;
        let targets: Vec<(f64, f64)> = points
            .iter()
            .enumerate()
            .filter_map(|(i, p)| p.target.map(|t| (i as f64, t)))
            .collect();
        if !targets.is_empty() {
            chart
                .draw_series(DashedLineSeries::new(targets, 6, 4, TARGET.stroke_width(2)))
                .map_err(drawing)?
                .label(words[1])
                .legend(|(x, y)| PathElement::new([(x, y), (x + 16, y)], TARGET.stroke_width(2)));
        }
        // Runs of periods with a value: a gap breaks the line.
        let mut runs: Vec<Vec<(f64, f64)>> = vec![Vec::new()];
        for (i, p) in points.iter().enumerate() {
            match p.value {
                Some(v) => runs.last_mut().map_or((), |run| run.push((i as f64, v))),
                None => runs.push(Vec::new()),
            }
        }
        for (i, run) in runs.iter().filter(|r| !r.is_empty()).enumerate() {
            let line = chart
                .draw_series(LineSeries::new(run.clone(), VALUE.stroke_width(2)))
                .map_err(drawing)?;
            if i == 0 {
                line.label(words[0]).legend(|(x, y)| {
                    PathElement::new([(x, y), (x + 16, y)], VALUE.stroke_width(2))
                });
            }
            chart
                .draw_series(run.iter().map(|&p| Circle::new(p, 3, VALUE.filled())))
                .map_err(drawing)?;
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::LowerRight)
            .background_style(WHITE.mix(0.8))
            .border_style(RGBColor(0xcc, 0xcc, 0xcc))
            .label_font(("sans-serif", 11))
            .draw()
            .map_err(drawing)?;
        root.present().map_err(drawing)?;
    }
    Ok(svg)
}
