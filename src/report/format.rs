//! How a report writes numbers, periods and changes in its language:
//! `97,0 %`, `1.500.000 đ`, `06/2025` in Vietnamese; `97.0%`, `1,500,000
//! VND`, `06/2025` in English.

use chrono::{Datelike, NaiveDate};

use crate::error::Error;
use crate::spec::grain::Grain;
use crate::spec::kpis::{KpiDef, KpiKind};

/// The language of a report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lang {
    #[default]
    Vi,
    En,
}

impl Lang {
    pub fn name(self) -> &'static str {
        match self {
            Lang::Vi => "vi",
            Lang::En => "en",
        }
    }

    pub(crate) fn is_vi(self) -> bool {
        self == Lang::Vi
    }

    /// Thousands and decimal separators.
    fn separators(self) -> (char, char) {
        match self {
            Lang::Vi => ('.', ','),
            Lang::En => (',', '.'),
        }
    }

    /// `x` with `decimals` places and grouped thousands: `1.500.000`,
    /// `97,0` (vi); `1,500,000`, `97.0` (en). A minus sign is `−`.
    pub fn number(self, x: f64, decimals: usize) -> String {
        let (thousands, decimal) = self.separators();
        let text = format!("{:.*}", decimals, x.abs());
        let (whole, fraction) = text.split_once('.').unwrap_or((&text, ""));
        let mut grouped = String::new();
        for (i, c) in whole.chars().enumerate() {
            if i > 0 && (whole.len() - i) % 3 == 0 {
                grouped.push(thousands);
            }
            grouped.push(c);
        }
        let negative = x < 0.0 && text.chars().any(|c| c.is_ascii_digit() && c != '0');
        let sign = if negative { "−" } else { "" };
        if fraction.is_empty() {
            format!("{sign}{grouped}")
        } else {
            format!("{sign}{grouped}{decimal}{fraction}")
        }
    }

    /// A fraction as a percentage with one decimal: `97,0 %` / `97.0%`.
    pub fn percent(self, fraction: f64) -> String {
        let n = self.number(fraction * 100.0, 1);
        match self {
            Lang::Vi => format!("{n} %"),
            Lang::En => format!("{n}%"),
        }
    }

    /// An amount of đồng: `1.500.000 đ` / `1,500,000 VND`.
    pub fn vnd(self, amount: f64) -> String {
        let n = self.number(amount, 0);
        match self {
            Lang::Vi => format!("{n} đ"),
            Lang::En => format!("{n} VND"),
        }
    }

    /// A KPI's value as its kind reads: a count whole, a rate as a
    /// percentage, a median in days, a ratio with one decimal.
    pub fn value(self, kpi: &KpiDef, value: f64) -> String {
        match kpi.kind {
            KpiKind::Count => self.number(value, 0),
            KpiKind::Rate => self.percent(value),
            KpiKind::Median => match self {
                Lang::Vi => format!("{} ngày", self.number(value, 1)),
                Lang::En => format!("{} days", self.number(value, 1)),
            },
            KpiKind::Per1000 => self.number(value, 2),
        }
    }

    /// A change of a KPI's value, signed: percentage points for a rate.
    pub fn change(self, kpi: &KpiDef, delta: f64) -> String {
        let text = match (kpi.kind, self) {
            (KpiKind::Rate, Lang::Vi) => format!("{} điểm %", self.number(delta * 100.0, 1)),
            (KpiKind::Rate, Lang::En) => format!("{} pp", self.number(delta * 100.0, 1)),
            _ => self.value(kpi, delta),
        };
        // No sign on a change that rounds to nothing.
        if delta > 0.0 && text.chars().any(|c| ('1'..='9').contains(&c)) {
            format!("+{text}")
        } else {
            text
        }
    }

    /// A numerator or denominator: whole, or đồng for a value in VND.
    /// A ratio per 1,000 shows what it counts (its numerator is 1000 ×).
    pub fn amount(self, kpi: &KpiDef, x: f64, numerator: bool) -> String {
        if kpi.counts == "VND" {
            self.vnd(x)
        } else if kpi.kind == KpiKind::Per1000 && numerator {
            self.number(x / 1000.0, 0)
        } else {
            self.number(x, 0)
        }
    }

    /// A period as a report names it: `15/06/2025`, `Tuần 24/2025`,
    /// `06/2025`, `Quý 2/2025`, `2025` (en: `Week 24, 2025`, `Q2 2025`).
    pub fn period(self, grain: Grain, start: NaiveDate) -> String {
        match (grain, self) {
            (Grain::Day, _) => start.format("%d/%m/%Y").to_string(),
            (Grain::Week, Lang::Vi) => {
                format!(
                    "Tuần {}/{}",
                    start.iso_week().week(),
                    start.iso_week().year()
                )
            }
            (Grain::Week, Lang::En) => {
                format!(
                    "Week {}, {}",
                    start.iso_week().week(),
                    start.iso_week().year()
                )
            }
            (Grain::Month, _) => start.format("%m/%Y").to_string(),
            (Grain::Quarter, Lang::Vi) => {
                format!("Quý {}/{}", start.month0() / 3 + 1, start.year())
            }
            (Grain::Quarter, Lang::En) => format!("Q{} {}", start.month0() / 3 + 1, start.year()),
            (Grain::Year, _) => start.year().to_string(),
        }
    }

    /// A short period label for a chart's axis: `06/25`, `Q2/25`, `W24`.
    pub fn period_tick(self, grain: Grain, start: NaiveDate) -> String {
        match grain {
            Grain::Day => start.format("%d/%m").to_string(),
            Grain::Week => format!("W{}", start.iso_week().week()),
            Grain::Month => start.format("%m/%y").to_string(),
            Grain::Quarter => format!("Q{}/{}", start.month0() / 3 + 1, start.format("%y")),
            Grain::Year => start.year().to_string(),
        }
    }

    /// A date: `30/06/2026`.
    pub fn date(self, day: NaiveDate) -> String {
        day.format("%d/%m/%Y").to_string()
    }
}

/// How a number column of a result reads: what `table` prints and what
/// format an Excel cell gets. Raw values stay raw in csv, json and parquet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Shown {
    /// A fraction, as a percentage.
    Percent,
    /// A count, whole.
    Whole,
    /// A KPI's value or target: as the row's `kpi` reads.
    PerKpi,
    /// Any other number.
    Plain,
}

/// How the column `name` reads; `has_kpi` when the result has a `kpi`
/// column naming each row's KPI.
pub(crate) fn shown(name: &str, has_kpi: bool) -> Shown {
    if let Some(kpi) = crate::spec::kpis::find(name) {
        return match kpi.kind {
            KpiKind::Rate => Shown::Percent,
            KpiKind::Count => Shown::Whole,
            _ => Shown::Plain,
        };
    }
    match name {
        "attainment" => Shown::Percent,
        "value" | "target" | "previous_value" | "year_ago_value" if has_kpi => Shown::PerKpi,
        "numerator" | "denominator" => Shown::Whole,
        _ if name.ends_with("_rate") || name.ends_with("_share") => Shown::Percent,
        _ => Shown::Plain,
    }
}

/// The header a workbook gives a column: a KPI's or an output column's
/// label, a feed column's Vietnamese export header, else its name.
pub(crate) fn header(name: &str, lang: Lang) -> String {
    let vi = lang.is_vi();
    if let Some(kpi) = crate::spec::kpis::find(name) {
        return kpi.label(vi).to_string();
    }
    if let Some(c) = crate::spec::kpis::OUTPUT_COLUMNS
        .iter()
        .find(|c| c.name == name)
    {
        return if vi { c.label_vi } else { c.label_en }.to_string();
    }
    if vi {
        let vietnamese = crate::spec::feeds::ALL_FEEDS
            .iter()
            .flat_map(|f| f.columns)
            .filter(|c| c.name == name)
            .flat_map(|c| c.headers)
            .find(|h| !h.is_ascii());
        if let Some(h) = vietnamese {
            return h.to_string();
        }
    }
    name.to_string()
}

impl std::str::FromStr for Lang {
    type Err = Error;
    fn from_str(text: &str) -> Result<Self, Error> {
        match text.trim().to_ascii_lowercase().as_str() {
            "vi" | "vi-vn" => Ok(Lang::Vi),
            "en" => Ok(Lang::En),
            _ => Err(Error::Usage(format!(
                "--lang {text}: use vi (Vietnamese) or en (English)"
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Lang;
    use crate::spec::grain::Grain;
    use crate::spec::kpis::find;

    #[test]
    fn numbers_read_as_each_language_writes_them() {
        let rate = find("on_time_rate").unwrap();
        let count = find("received").unwrap();
        let median = find("median_processing_days").unwrap();
        assert_eq!(Lang::Vi.value(rate, 0.97), "97,0 %");
        assert_eq!(Lang::En.value(rate, 0.8333333333333334), "83.3%");
        assert_eq!(Lang::Vi.vnd(1_500_000.0), "1.500.000 đ");
        assert_eq!(Lang::En.vnd(1_500_000.0), "1,500,000 VND");
        assert_eq!(Lang::Vi.value(count, 12.0), "12");
        assert_eq!(Lang::Vi.value(count, 1234.0), "1.234");
        assert_eq!(Lang::En.value(median, 3.26), "3.3 days");
        assert_eq!(Lang::Vi.change(rate, 0.021), "+2,1 điểm %");
        assert_eq!(Lang::En.change(rate, -0.021), "−2.1 pp");
        assert_eq!(Lang::En.change(count, 0.0), "0");
        assert_eq!(Lang::Vi.change(count, -1500.0), "−1.500");
        assert_eq!(Lang::Vi.number(-0.04, 1), "0,0");
        let june = "2025-06-01".parse().unwrap();
        assert_eq!(Lang::Vi.period(Grain::Month, june), "06/2025");
        assert_eq!(
            Lang::Vi.period(Grain::Quarter, "2025-04-01".parse().unwrap()),
            "Quý 2/2025"
        );
        assert_eq!(
            Lang::En.period(Grain::Week, "2025-06-09".parse().unwrap()),
            "Week 24, 2025"
        );
    }
}
