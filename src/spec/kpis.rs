//! The KPI catalog of SPEC §5, declared once: id, direction, kind and family.
//! Targets are validated against it; the KPI job and the docs read it.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Higher is better.
    Up,
    /// Lower is better.
    Down,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KpiKind {
    /// A count of things: value = numerator, no denominator.
    Count,
    /// A fraction in [0, 1]: numerator / denominator. Targets may be `95%`.
    Rate,
    /// Any other number (a median in days, a per-1000 ratio).
    Number,
}

#[derive(Debug)]
pub struct KpiDef {
    pub id: &'static str,
    pub direction: Direction,
    pub kind: KpiKind,
    pub family: &'static str,
}

pub(crate) const fn kpi(
    id: &'static str,
    direction: Direction,
    kind: KpiKind,
    family: &'static str,
) -> KpiDef {
    KpiDef {
        id,
        direction,
        kind,
        family,
    }
}

use Direction::{Down, Up};
use KpiKind::{Count, Number, Rate};

pub static CATALOG: &[KpiDef] = &[
    kpi("received", Up, Count, "processing"),
    kpi("resolved", Up, Count, "processing"),
    kpi("on_time_rate", Up, Rate, "processing"),
    kpi("processed_online_rate", Up, Rate, "online"),
    kpi("e_result_rate", Up, Rate, "online"),
    kpi("result_signed_rate", Up, Rate, "signatures"),
    kpi("median_processing_days", Down, Number, "processing"),
    kpi("overdue_open", Down, Count, "processing"),
    kpi("online_rate", Up, Rate, "online"),
    kpi("full_online_rate", Up, Rate, "online"),
    kpi("digitized_rate", Up, Rate, "online"),
    kpi("applicant_signed_rate", Up, Rate, "signatures"),
    kpi("online_payment_rate", Up, Rate, "payments"),
    kpi("cashless_rate", Up, Rate, "payments"),
    kpi("cashless_value_rate", Up, Rate, "payments"),
    kpi("satisfaction_rate", Up, Rate, "satisfaction"),
    kpi("portal_started", Up, Count, "portal"),
    kpi("portal_completion_rate", Up, Rate, "portal"),
    kpi("vneid_share", Up, Rate, "portal"),
    kpi("payment_success_rate", Up, Rate, "payments"),
    kpi("documents_issued", Up, Count, "signatures"),
    kpi("document_signing_rate", Up, Rate, "signatures"),
    kpi("certificates_issued", Up, Count, "signatures"),
    kpi("free_certificates", Up, Count, "signatures"),
    kpi("certificates_per_1000_adults", Up, Number, "signatures"),
];

pub fn find(id: &str) -> Option<&'static KpiDef> {
    CATALOG.iter().find(|k| k.id == id)
}

/// The catalog as Markdown, for `motcua kpis` and the README.
pub fn render_markdown() -> String {
    let mut out = String::from("| kpi | family | kind | direction |\n|---|---|---|---|\n");
    for k in CATALOG {
        out.push_str(&format!(
            "| `{}` | {} | {} | {} |\n",
            k.id,
            k.family,
            match k.kind {
                KpiKind::Count => "count",
                KpiKind::Rate => "rate",
                KpiKind::Number => "number",
            },
            match k.direction {
                Direction::Up => "up",
                Direction::Down => "down",
            }
        ));
    }
    out
}
