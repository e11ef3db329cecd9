//! The KPI catalog of SPEC §5 and §7, declared once: id, family, kind, unit,
//! direction, the labels a Vietnamese or English report uses and the
//! definition in words. Targets are validated against it; the KPI job, the
//! published `kpi_catalog`, the report, the docs and the tests read it.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Higher is better.
    Up,
    /// Lower is better.
    Down,
}

impl Direction {
    pub fn name(self) -> &'static str {
        match self {
            Direction::Up => "up",
            Direction::Down => "down",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KpiKind {
    /// A count of things: value = numerator, no denominator.
    Count,
    /// A fraction in [0, 1]: numerator / denominator. Targets may be `95%`.
    Rate,
    /// A median, in the KPI's unit (days); no numerator or denominator.
    Median,
    /// 1000 × numerator / denominator.
    Per1000,
}

impl KpiKind {
    /// The name `kpi_catalog.kind` holds.
    pub fn name(self) -> &'static str {
        match self {
            KpiKind::Count => "count",
            KpiKind::Rate => "rate",
            KpiKind::Median => "median",
            KpiKind::Per1000 => "per_1000",
        }
    }
}

/// One KPI.
#[derive(Debug)]
pub struct KpiDef {
    pub id: &'static str,
    pub family: &'static str,
    pub kind: KpiKind,
    /// What the value counts or measures: `dossiers`, `fraction`, `days`, …
    pub unit: &'static str,
    /// What the numerator counts (a rate's value is a `fraction` of it):
    /// `dossiers`, `VND`, `applications`, …
    pub counts: &'static str,
    pub direction: Direction,
    pub label_vi: &'static str,
    pub label_en: &'static str,
    /// The formula in words.
    pub definition: &'static str,
    /// The same in Vietnamese.
    pub definition_vi: &'static str,
    /// One of the four KPIs a report leads with (on time, fully online,
    /// document signing, cashless).
    pub headline: bool,
}

impl KpiDef {
    /// The definition in a report's language.
    pub fn definition(&self, vietnamese: bool) -> &'static str {
        if vietnamese {
            self.definition_vi
        } else {
            self.definition
        }
    }

    /// The label in a report's language.
    pub fn label(&self, vietnamese: bool) -> &'static str {
        if vietnamese {
            self.label_vi
        } else {
            self.label_en
        }
    }
}

use Direction::{Down, Up};
use KpiKind::{Count, Median, Per1000, Rate};

/// A count of `counts`.
const fn count(
    id: &'static str,
    family: &'static str,
    counts: &'static str,
    direction: Direction,
    labels: [&'static str; 2],
    // Vietnamese first, as the labels.
    definitions: [&'static str; 2],
) -> KpiDef {
    KpiDef {
        id,
        family,
        kind: Count,
        unit: counts,
        counts,
        direction,
        label_vi: labels[0],
        label_en: labels[1],
        definition: definitions[1],
        definition_vi: definitions[0],
        headline: false,
    }
}

/// A fraction of `counts`; higher is better.
const fn rate(
    id: &'static str,
    family: &'static str,
    counts: &'static str,
    labels: [&'static str; 2],
    definitions: [&'static str; 2],
) -> KpiDef {
    KpiDef {
        id,
        family,
        kind: Rate,
        unit: "fraction",
        counts,
        direction: Up,
        label_vi: labels[0],
        label_en: labels[1],
        definition: definitions[1],
        definition_vi: definitions[0],
        headline: false,
    }
}

/// A KPI a report leads with.
const fn headline(def: KpiDef) -> KpiDef {
    KpiDef {
        headline: true,
        ..def
    }
}

pub static CATALOG: &[KpiDef] = &[
    count(
        "received",
        "processing",
        "dossiers",
        Up,
        ["Hồ sơ tiếp nhận", "Dossiers received"],
        [
            "số hồ sơ tiếp nhận trong kỳ",
            "dossiers received in the period",
        ],
    ),
    count(
        "resolved",
        "processing",
        "dossiers",
        Up,
        ["Hồ sơ đã giải quyết", "Dossiers resolved"],
        [
            "số hồ sơ giải quyết xong (kể cả trả lại) trong kỳ",
            "dossiers resolved or returned with their completion in the period",
        ],
    ),
    headline(rate(
        "on_time_rate",
        "processing",
        "dossiers",
        ["Giải quyết đúng hạn", "Resolved on time"],
        [
            "trong số hồ sơ giải quyết xong trong kỳ, tỷ lệ hoàn thành đúng hoặc trước hạn (hoặc không có hạn)",
            "of the dossiers resolved in the period, those completed by their due time or with none",
        ],
    )),
    rate(
        "processed_online_rate",
        "online",
        "dossiers",
        ["Xử lý trực tuyến", "Processed online"],
        [
            "trong số hồ sơ giải quyết xong trong kỳ, tỷ lệ được xử lý trực tuyến",
            "of the dossiers resolved in the period, those processed online",
        ],
    ),
    rate(
        "e_result_rate",
        "online",
        "dossiers",
        ["Trả kết quả điện tử", "Results issued electronically"],
        [
            "trong số hồ sơ giải quyết xong trong kỳ, tỷ lệ trả kết quả bản điện tử",
            "of the dossiers resolved in the period, those whose result was issued electronically",
        ],
    ),
    rate(
        "result_signed_rate",
        "signatures",
        "dossiers",
        ["Kết quả được ký số", "Results digitally signed"],
        [
            "trong số hồ sơ giải quyết xong trong kỳ, tỷ lệ kết quả được ký số",
            "of the dossiers resolved in the period, those whose result was digitally signed",
        ],
    ),
    KpiDef {
        id: "median_processing_days",
        family: "processing",
        kind: Median,
        unit: "days",
        counts: "dossiers",
        direction: Down,
        label_vi: "Thời gian giải quyết (trung vị)",
        label_en: "Median processing time",
        definition_vi: "trung vị thời gian từ tiếp nhận đến hoàn thành, tính bằng ngày, của hồ sơ giải quyết xong trong kỳ",
        definition: "median of completion minus reception, in days, over the dossiers resolved in the period",
        headline: false,
    },
    count(
        "overdue_open",
        "processing",
        "dossiers",
        Down,
        ["Hồ sơ quá hạn chưa giải quyết", "Overdue open dossiers"],
        [
            "số hồ sơ tiếp nhận trước cuối kỳ, đến hạn trước cuối kỳ mà chưa giải quyết xong",
            "dossiers received before the period's end, due before it, and not closed by then",
        ],
    ),
    rate(
        "online_rate",
        "online",
        "dossiers",
        ["Nộp hồ sơ trực tuyến", "Filed online"],
        [
            "trong số hồ sơ tiếp nhận trong kỳ của thủ tục có cung cấp trực tuyến, tỷ lệ nộp trực tuyến",
            "of the dossiers received in the period for a procedure offered online, those filed online",
        ],
    ),
    headline(rate(
        "full_online_rate",
        "online",
        "dossiers",
        ["Trực tuyến toàn trình", "Fully online"],
        [
            "trong số hồ sơ tiếp nhận trong kỳ của thủ tục trực tuyến toàn trình, tỷ lệ nộp trực tuyến",
            "of the dossiers received in the period for a fully online procedure, those filed online",
        ],
    )),
    rate(
        "digitized_rate",
        "online",
        "dossiers",
        ["Số hóa hồ sơ", "Dossiers digitized"],
        [
            "trong số hồ sơ tiếp nhận trong kỳ, tỷ lệ được số hóa",
            "of the dossiers received in the period, those digitized",
        ],
    ),
    rate(
        "applicant_signed_rate",
        "signatures",
        "dossiers",
        ["Người nộp ký số", "Signed by the applicant"],
        [
            "trong số hồ sơ nộp trực tuyến trong kỳ, tỷ lệ người nộp ký số",
            "of the dossiers filed online in the period, those the applicant signed digitally",
        ],
    ),
    rate(
        "online_payment_rate",
        "payments",
        "dossiers",
        ["Thanh toán trực tuyến", "Fees paid online"],
        [
            "trong số hồ sơ tiếp nhận trong kỳ có phí, lệ phí, tỷ lệ thanh toán trực tuyến",
            "of the dossiers received in the period with a fee, those paid online",
        ],
    ),
    headline(rate(
        "cashless_rate",
        "payments",
        "dossiers",
        ["Thanh toán không dùng tiền mặt", "Paid cashless"],
        [
            "trong số hồ sơ tiếp nhận trong kỳ có phí và có hình thức thanh toán, tỷ lệ không dùng tiền mặt",
            "of the dossiers received in the period with a fee and a payment method, those not paid in cash",
        ],
    )),
    rate(
        "cashless_value_rate",
        "payments",
        "VND",
        [
            "Giá trị thanh toán không dùng tiền mặt",
            "Value paid cashless",
        ],
        [
            "trong tổng phí, lệ phí của hồ sơ tiếp nhận trong kỳ có hình thức thanh toán, tỷ lệ giá trị không dùng tiền mặt",
            "of the fees of dossiers received in the period with a payment method, the share not paid in cash",
        ],
    ),
    rate(
        "satisfaction_rate",
        "satisfaction",
        "dossiers",
        ["Mức độ hài lòng", "Satisfied applicants"],
        [
            "trong số hồ sơ giải quyết xong trong kỳ có đánh giá, tỷ lệ hài lòng hoặc rất hài lòng",
            "of the dossiers resolved in the period with a rating, those rated satisfied or very satisfied",
        ],
    ),
    count(
        "portal_started",
        "portal",
        "applications",
        Up,
        ["Hồ sơ bắt đầu trên Cổng DVC", "Portal applications started"],
        [
            "số hồ sơ bắt đầu khai trên Cổng dịch vụ công trong kỳ",
            "portal applications whose first start is in the period",
        ],
    ),
    rate(
        "portal_completion_rate",
        "portal",
        "applications",
        [
            "Hoàn thành nộp trên Cổng DVC",
            "Portal applications submitted",
        ],
        [
            "trong số hồ sơ bắt đầu khai trên Cổng trong kỳ, tỷ lệ đã nộp",
            "of the portal applications started in the period, those submitted",
        ],
    ),
    rate(
        "vneid_share",
        "portal",
        "applications",
        ["Đăng nhập bằng VNeID", "Signed in with VNeID"],
        [
            "trong số hồ sơ bắt đầu khai trên Cổng trong kỳ, tỷ lệ đăng nhập bằng VNeID",
            "of the portal applications started in the period, those started with VNeID",
        ],
    ),
    rate(
        "payment_success_rate",
        "payments",
        "payments",
        ["Thanh toán thành công", "Payments succeeded"],
        [
            "trong số giao dịch thanh toán trên Cổng trong kỳ, tỷ lệ thành công",
            "of the portal payments attempted in the period, those that succeeded",
        ],
    ),
    count(
        "documents_issued",
        "signatures",
        "documents",
        Up,
        ["Văn bản phát hành", "Documents issued"],
        [
            "số văn bản phát hành trong kỳ",
            "documents issued in the period",
        ],
    ),
    headline(rate(
        "document_signing_rate",
        "signatures",
        "documents",
        ["Văn bản được ký số", "Documents digitally signed"],
        [
            "trong số văn bản phát hành trong kỳ, tỷ lệ được ký số",
            "of the documents issued in the period, those digitally signed",
        ],
    )),
    count(
        "certificates_issued",
        "signatures",
        "certificates",
        Up,
        ["Chứng thư số cấp mới", "Signature certificates issued"],
        [
            "số chứng thư chữ ký số cấp trong kỳ",
            "digital-signature certificates issued in the period",
        ],
    ),
    count(
        "free_certificates",
        "signatures",
        "certificates",
        Up,
        ["Chứng thư số cấp miễn phí", "Free signature certificates"],
        [
            "số chứng thư chữ ký số cấp miễn phí trong kỳ",
            "digital-signature certificates issued free of charge in the period",
        ],
    ),
    KpiDef {
        id: "certificates_per_1000_adults",
        family: "signatures",
        kind: Per1000,
        unit: "certificates per 1,000 adults",
        counts: "certificates",
        direction: Up,
        label_vi: "Chứng thư số trên 1.000 người trưởng thành",
        label_en: "Certificates per 1,000 adults",
        definition_vi: "1.000 × số chứng thư số cấp trong kỳ / dân số trưởng thành của chính đơn vị",
        definition: "1,000 × certificates issued in the period / the unit's own adult population",
        headline: false,
    },
];

pub fn find(id: &str) -> Option<&'static KpiDef> {
    CATALOG.iter().find(|k| k.id == id)
}

/// The catalog as Markdown, for `motcua kpis` and the README: the columns
/// of the published `kpi_catalog`.
pub fn render_markdown() -> String {
    let mut out = String::from(
        "| kpi | family | kind | unit | counts | direction | label_vi | label_en | definition | definition_vi | headline |\n|---|---|---|---|---|---|---|---|---|---|---|\n",
    );
    for k in CATALOG {
        out.push_str(&format!(
            "| `{}` | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |\n",
            k.id,
            k.family,
            k.kind.name(),
            k.unit,
            k.counts,
            k.direction.name(),
            k.label_vi,
            k.label_en,
            k.definition,
            k.definition_vi,
            if k.headline { "yes" } else { "" }
        ));
    }
    out
}

/// A column of the outputs, with the headers a Vietnamese or English
/// workbook gives it.
#[derive(Debug)]
pub struct OutputColumn {
    pub name: &'static str,
    pub label_vi: &'static str,
    pub label_en: &'static str,
}

const fn output(
    name: &'static str,
    label_vi: &'static str,
    label_en: &'static str,
) -> OutputColumn {
    OutputColumn {
        name,
        label_vi,
        label_en,
    }
}

/// The columns of `kpi_values` (SPEC §7) and `kpi_catalog`.
pub static OUTPUT_COLUMNS: &[OutputColumn] = &[
    output("period_grain", "Loại kỳ", "Grain"),
    output("period_start", "Từ ngày", "Period start"),
    output("period_end", "Đến trước ngày", "Period end (exclusive)"),
    output("units_as_of", "Đơn vị hành chính ngày", "Units as of"),
    output("unit_code", "Mã đơn vị", "Unit code"),
    output("unit_name", "Tên đơn vị", "Unit"),
    output("unit_level", "Cấp", "Level"),
    output("parent_code", "Mã đơn vị cấp trên", "Parent code"),
    output("kpi", "Mã chỉ tiêu", "KPI"),
    output("numerator", "Tử số", "Numerator"),
    output("denominator", "Mẫu số", "Denominator"),
    output("value", "Giá trị", "Value"),
    output("target", "Mục tiêu", "Target"),
    output("attainment", "Mức đạt", "Attainment"),
    output("status", "Đánh giá", "Status"),
    output("rank", "Xếp hạng", "Rank"),
    output("rank_change", "Thay đổi thứ hạng", "Rank change"),
    output("estimated", "Ước tính", "Estimated"),
    output("label", "Chỉ tiêu", "KPI"),
    output("previous_value", "Kỳ trước", "Previous period"),
    output("year_ago_value", "Cùng kỳ năm trước", "A year earlier"),
    output("few_dossiers", "Ít hồ sơ", "Few dossiers"),
    output("ranked_units", "Số đơn vị xếp hạng", "Units ranked"),
    output("field", "Mục", "Item"),
    output("period", "Kỳ báo cáo", "Period"),
    output("series", "Chuỗi số liệu", "Series"),
    output("source", "Nguồn", "Source"),
    output("family", "Nhóm", "Family"),
    output("kind", "Loại", "Kind"),
    output("unit", "Đơn vị đo", "Unit of measure"),
    output("counts", "Tử số đếm", "Numerator counts"),
    output("direction", "Chiều tốt", "Direction"),
    output("label_vi", "Tên tiếng Việt", "Vietnamese label"),
    output("label_en", "Tên tiếng Anh", "English label"),
    output("definition", "Định nghĩa (tiếng Anh)", "Definition"),
    output("definition_vi", "Định nghĩa", "Definition in Vietnamese"),
    output("headline", "Chỉ tiêu chính", "Headline"),
];
