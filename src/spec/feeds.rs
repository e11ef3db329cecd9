//! The five input feeds of SPEC §2 and §4, declared once as data.
//!
//! Validation (`validate`), the lake's Arrow schemas, the SQL tables (`sql`), the sample
//! generator and the tests all read these tables; nothing else spells out a
//! column, an enum value or an alias.

use std::sync::Arc;

use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};

use crate::error::Error;
use crate::spec::enums::APPLICANT_TYPE;
use crate::spec::enums::AUTH_METHOD;
use crate::spec::enums::CHANNEL;
use crate::spec::enums::EnumDef;
use crate::spec::enums::GRAIN;
use crate::spec::enums::ONLINE_LEVEL;
use crate::spec::enums::PAYMENT_METHOD;
use crate::spec::enums::PORTAL_EVENT_TYPE;
use crate::spec::enums::SATISFACTION;
use crate::spec::enums::SIGNATURE_EVENT_TYPE;
use crate::spec::enums::SIGNER_TYPE;
use crate::spec::enums::STATUS;
use crate::spec::enums::UNIT_LEVEL;
use crate::spec::token::normalize_token;

/// What a column holds, and so how its text is parsed and stored.
#[derive(Debug, Clone, Copy)]
pub(crate) enum ColumnType {
    /// Free text or an identifier, stored as is (trimmed).
    Text,
    Enum(&'static EnumDef),
    Bool,
    /// Whole number; `min` is the smallest accepted value.
    Int {
        min: Option<i64>,
    },
    /// A §3 timestamp. `deadline`: a date alone means the end of that day.
    Timestamp {
        deadline: bool,
    },
    /// A KPI target: a number, or a percentage with its sign (SPEC §4.4).
    Target,
    /// A local calendar date (a unit's validity, a change's first day).
    Date,
    /// A personal ID number: never stored; replaced by `<stored_as>` (SPEC §6).
    PersonalId {
        stored_as: &'static str,
    },
}

#[derive(Debug)]
pub struct ColumnDef {
    pub name: &'static str,
    pub(crate) ty: ColumnType,
    pub required: bool,
    /// The value an empty field takes, written as input text.
    pub default: Option<&'static str>,
    /// Export headers that also name the column (SPEC §4.5), matched like
    /// the name itself after normalizing (`Mã hồ sơ` ≡ `ma_ho_so`).
    pub headers: &'static [&'static str],
    /// Export headers that name a unit by its name instead of this column's
    /// code: the name is looked up in the units registry (SPEC §4.5).
    pub unit_name_headers: &'static [&'static str],
}

pub(crate) const fn col(name: &'static str, ty: ColumnType, required: bool) -> ColumnDef {
    ColumnDef {
        name,
        ty,
        required,
        default: None,
        headers: &[],
        unit_name_headers: &[],
    }
}

const fn opt(name: &'static str, ty: ColumnType, default: &'static str) -> ColumnDef {
    ColumnDef {
        name,
        ty,
        required: false,
        default: Some(default),
        headers: &[],
        unit_name_headers: &[],
    }
}

impl ColumnDef {
    /// The column, also named by these export headers.
    const fn or(self, headers: &'static [&'static str]) -> ColumnDef {
        ColumnDef { headers, ..self }
    }

    /// The unit code column, also given by the unit's name under these
    /// headers.
    const fn or_unit_named(self, unit_name_headers: &'static [&'static str]) -> ColumnDef {
        ColumnDef {
            unit_name_headers,
            ..self
        }
    }
}

/// Headers under which exports name the unit instead of giving its code.
const UNIT_NAME_HEADERS: &[&str] = &["Đơn vị", "Đơn vị tiếp nhận", "Cơ quan giải quyết"];

pub(crate) const TEXT: ColumnType = ColumnType::Text;
const BOOL: ColumnType = ColumnType::Bool;
const TS: ColumnType = ColumnType::Timestamp { deadline: false };
const NON_NEGATIVE: ColumnType = ColumnType::Int { min: Some(0) };

/// A rule that spans columns. Checked after every column parsed.
#[derive(Debug)]
pub enum RowRule {
    /// `later` ≥ `earlier` when both are set.
    NotBefore {
        later: &'static str,
        earlier: &'static str,
    },
    /// `column` must be set when `when` holds one of `values`.
    RequiredWhen {
        column: &'static str,
        when: &'static str,
        values: &'static [&'static str],
    },
    /// `column` must not be `forbidden` when `when` holds one of `values`.
    ForbiddenWhen {
        column: &'static str,
        forbidden: &'static str,
        when: &'static str,
        values: &'static [&'static str],
    },
    /// The `target` column must fit the kind of KPI named in `kpi`.
    TargetFitsKpi {
        target: &'static str,
        kpi: &'static str,
    },
    /// `column` is a share of a whole: more than 0, at most 1.
    Share { column: &'static str },
}

/// How repeated rows are recognised (SPEC §4.1–§4.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DedupRule {
    /// A row identical in every column to one already stored is skipped;
    /// identical rows share their partition, so the check stays partition-local.
    IdenticalRow,
    /// A repeated id is skipped, first wins, across files.
    UniqueId(&'static str),
    /// Every row is kept.
    None,
}

/// How a feed's ingests accumulate in the lake.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Retention {
    /// Each file adds rows.
    Append,
    /// Each file replaces the whole table (units, targets).
    Replace,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Feed {
    Dossiers,
    PortalEvents,
    Signatures,
    Units,
    Targets,
    UnitChanges,
}

#[derive(Debug)]
pub struct FeedDef {
    pub feed: Feed,
    pub name: &'static str,
    pub columns: &'static [ColumnDef],
    pub rules: &'static [RowRule],
    pub(crate) dedup: DedupRule,
    pub(crate) retention: Retention,
    /// The timestamp whose local month partitions the lake, if any.
    pub(crate) partition_by: Option<&'static str>,
    /// Timestamps whose local calendar date is stored beside them, as
    /// (timestamp column, date column): periods are then plain date
    /// arithmetic in SQL, computed once at ingest instead of in every query.
    pub(crate) local_dates: &'static [(&'static str, &'static str)],
    /// For a log of snapshots: (id column, version column) — the current
    /// state of an id is its snapshot with the greatest version (then the
    /// later ingest, then the later line), kept up to date at ingest.
    pub(crate) current_by: Option<(&'static str, &'static str)>,
}

static DOSSIERS: FeedDef = FeedDef {
    feed: Feed::Dossiers,
    name: "dossiers",
    columns: &[
        col("dossier_id", TEXT, true).or(&["Mã hồ sơ", "Số hồ sơ"]),
        col("procedure_code", TEXT, true).or(&["Mã thủ tục", "Mã TTHC"]),
        col("unit_code", TEXT, true)
            .or(&["Mã đơn vị", "Mã cơ quan"])
            .or_unit_named(UNIT_NAME_HEADERS),
        col("channel", ColumnType::Enum(&CHANNEL), true).or(&["Hình thức nộp", "Kênh nộp"]),
        opt("online_level", ColumnType::Enum(&ONLINE_LEVEL), "none").or(&["Mức độ", "Mức độ DVC"]),
        col("status", ColumnType::Enum(&STATUS), true).or(&["Trạng thái", "Tình trạng"]),
        col("received_at", TS, true).or(&["Ngày tiếp nhận", "Ngày nhận", "Ngày nộp"]),
        col("due_at", ColumnType::Timestamp { deadline: true }, false).or(&[
            "Hạn xử lý",
            "Ngày hẹn trả",
            "Hẹn trả kết quả",
        ]),
        col("completed_at", TS, false).or(&["Ngày có kết quả", "Ngày hoàn thành"]),
        col("returned_at", TS, false).or(&["Ngày trả kết quả"]),
        col("updated_at", TS, true).or(&["Ngày cập nhật"]),
        opt("processed_online", BOOL, "false").or(&["Xử lý trên môi trường mạng"]),
        opt("digitized", BOOL, "false").or(&["Số hóa"]),
        opt("e_result", BOOL, "false").or(&["Kết quả điện tử"]),
        opt("applicant_signed", BOOL, "false").or(&["Hồ sơ có ký số"]),
        opt("result_signed", BOOL, "false").or(&["Kết quả có ký số"]),
        opt("fee_vnd", NON_NEGATIVE, "0").or(&["Phí, lệ phí", "Lệ phí"]),
        col("payment_method", ColumnType::Enum(&PAYMENT_METHOD), false)
            .or(&["Hình thức thanh toán"]),
        opt("paid_online", BOOL, "false").or(&["Thanh toán trực tuyến"]),
        col("satisfaction", ColumnType::Enum(&SATISFACTION), false).or(&["Mức độ hài lòng"]),
        col(
            "applicant_id",
            ColumnType::PersonalId {
                stored_as: "applicant_key",
            },
            false,
        )
        .or(&["Số CCCD", "Số định danh", "CCCD/CMND"]),
        col("applicant_type", ColumnType::Enum(&APPLICANT_TYPE), false).or(&["Loại đối tượng"]),
    ],
    rules: &[
        RowRule::ForbiddenWhen {
            column: "online_level",
            forbidden: "none",
            when: "channel",
            values: &["online"],
        },
        RowRule::RequiredWhen {
            column: "completed_at",
            when: "status",
            values: &["resolved", "returned"],
        },
        RowRule::NotBefore {
            later: "due_at",
            earlier: "received_at",
        },
        RowRule::NotBefore {
            later: "completed_at",
            earlier: "received_at",
        },
        RowRule::NotBefore {
            later: "returned_at",
            earlier: "completed_at",
        },
        RowRule::NotBefore {
            later: "updated_at",
            earlier: "received_at",
        },
    ],
    dedup: DedupRule::IdenticalRow,
    retention: Retention::Append,
    partition_by: Some("received_at"),
    local_dates: &[
        ("received_at", "received_on"),
        ("completed_at", "completed_on"),
    ],
    current_by: Some(("dossier_id", "updated_at")),
};

static PORTAL_EVENTS: FeedDef = FeedDef {
    feed: Feed::PortalEvents,
    name: "portal_events",
    columns: &[
        col("event_id", TEXT, true),
        col("occurred_at", TS, true),
        col("application_id", TEXT, true),
        col("procedure_code", TEXT, true).or(&["Mã thủ tục", "Mã TTHC"]),
        col("unit_code", TEXT, true)
            .or(&["Mã đơn vị", "Mã cơ quan"])
            .or_unit_named(UNIT_NAME_HEADERS),
        col("event_type", ColumnType::Enum(&PORTAL_EVENT_TYPE), true),
        col("auth_method", ColumnType::Enum(&AUTH_METHOD), false),
        col("payment_method", ColumnType::Enum(&PAYMENT_METHOD), false),
        col("amount_vnd", NON_NEGATIVE, false),
        col("dossier_id", TEXT, false).or(&["Mã hồ sơ", "Số hồ sơ"]),
    ],
    rules: &[
        RowRule::RequiredWhen {
            column: "payment_method",
            when: "event_type",
            values: &["payment_succeeded", "payment_failed"],
        },
        RowRule::RequiredWhen {
            column: "amount_vnd",
            when: "event_type",
            values: &["payment_succeeded", "payment_failed"],
        },
    ],
    dedup: DedupRule::UniqueId("event_id"),
    retention: Retention::Append,
    partition_by: Some("occurred_at"),
    local_dates: &[("occurred_at", "occurred_on")],
    current_by: None,
};

pub(crate) static SIGNATURES: FeedDef = FeedDef {
    feed: Feed::Signatures,
    name: "signatures",
    columns: &[
        col("event_id", TEXT, true),
        col("occurred_at", TS, true),
        col("unit_code", TEXT, true)
            .or(&["Mã đơn vị", "Mã cơ quan"])
            .or_unit_named(UNIT_NAME_HEADERS),
        col("event_type", ColumnType::Enum(&SIGNATURE_EVENT_TYPE), true),
        opt("signed", BOOL, "false"),
        col("signer_type", ColumnType::Enum(&SIGNER_TYPE), false),
        col("provider", TEXT, false),
        opt("free_of_charge", BOOL, "false"),
    ],
    rules: &[],
    dedup: DedupRule::UniqueId("event_id"),
    retention: Retention::Append,
    partition_by: Some("occurred_at"),
    local_dates: &[("occurred_at", "occurred_on")],
    current_by: None,
};

pub(crate) static UNITS: FeedDef = FeedDef {
    feed: Feed::Units,
    name: "units",
    columns: &[
        col("unit_code", TEXT, true).or(&["Mã đơn vị"]),
        col("name", TEXT, true).or(&["Tên đơn vị"]),
        col("level", ColumnType::Enum(&UNIT_LEVEL), true).or(&["Cấp"]),
        col("parent_code", TEXT, false).or(&["Mã đơn vị cấp trên"]),
        col("adult_population", NON_NEGATIVE, false).or(&["Dân số trưởng thành"]),
        // SPEC §2.1: the days a unit exists, valid_to exclusive; empty =
        // unbounded. A unit is (unit_code, valid_from): codes are reused.
        col("valid_from", ColumnType::Date, false).or(&["Hiệu lực từ", "Ngày hiệu lực"]),
        col("valid_to", ColumnType::Date, false).or(&["Hiệu lực đến", "Hết hiệu lực từ"]),
    ],
    rules: &[],
    dedup: DedupRule::None,
    retention: Retention::Replace,
    partition_by: None,
    local_dates: &[],
    current_by: None,
};

pub(crate) static TARGETS: FeedDef = FeedDef {
    feed: Feed::Targets,
    name: "targets",
    columns: &[
        col("kpi", TEXT, true),
        col("unit_code", TEXT, true)
            .or(&["Mã đơn vị", "Mã cơ quan"])
            .or_unit_named(UNIT_NAME_HEADERS),
        col("year", ColumnType::Int { min: Some(1900) }, true),
        col("target", ColumnType::Target, true),
        col("grain", ColumnType::Enum(&GRAIN), false),
    ],
    rules: &[RowRule::TargetFitsKpi {
        target: "target",
        kpi: "kpi",
    }],
    dedup: DedupRule::None,
    retention: Retention::Replace,
    partition_by: None,
    local_dates: &[],
    current_by: None,
};

/// SPEC §2.1: how units became others — merged, split, renamed — each
/// change from its first day, with the share of the old unit's activity
/// the new one takes.
pub(crate) static UNIT_CHANGES: FeedDef = FeedDef {
    feed: Feed::UnitChanges,
    name: "unit_changes",
    columns: &[
        col("old_code", TEXT, true).or(&["Mã đơn vị cũ"]),
        col("new_code", TEXT, true).or(&["Mã đơn vị mới"]),
        col("effective_on", ColumnType::Date, true).or(&["Ngày hiệu lực", "Hiệu lực từ"]),
        opt("share", ColumnType::Target, "1").or(&["Tỷ lệ"]),
        col("basis", TEXT, false).or(&["Cơ sở"]),
        col("legal_ref", TEXT, false).or(&["Căn cứ", "Nghị quyết"]),
    ],
    rules: &[RowRule::Share { column: "share" }],
    dedup: DedupRule::None,
    retention: Retention::Replace,
    partition_by: None,
    local_dates: &[],
    current_by: None,
};

pub static ALL_FEEDS: [&FeedDef; 6] = [
    &DOSSIERS,
    &PORTAL_EVENTS,
    &SIGNATURES,
    &UNITS,
    &TARGETS,
    &UNIT_CHANGES,
];

/// Columns every lake table carries after the feed's own and its local
/// dates: lineage, and SPEC §4.1's "ingested later" tie-break.
/// A target's `unit_code` that stands for every unit (SPEC §4.4).
pub(crate) const EVERY_UNIT: &str = "*";
pub(crate) const INGEST_SEQ: &str = "ingest_seq";
pub(crate) const SOURCE_LINE: &str = "source_line";
/// 128-bit hash of a row's stored values, for `DedupRule::IdenticalRow`.
pub(crate) const ROW_HASH: &str = "row_hash";

impl Feed {
    pub(crate) fn def(self) -> &'static FeedDef {
        match self {
            Feed::Dossiers => &DOSSIERS,
            Feed::PortalEvents => &PORTAL_EVENTS,
            Feed::Signatures => &SIGNATURES,
            Feed::Units => &UNITS,
            Feed::Targets => &TARGETS,
            Feed::UnitChanges => &UNIT_CHANGES,
        }
    }

    pub fn name(self) -> &'static str {
        self.def().name
    }
}

impl std::str::FromStr for Feed {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        ALL_FEEDS
            .iter()
            .find(|def| def.name.eq_ignore_ascii_case(s.trim()))
            .map(|def| def.feed)
            .ok_or_else(|| Error::UnknownFeed(s.to_string()))
    }
}

impl std::fmt::Display for Feed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl ColumnDef {
    /// The name of this column in the lake.
    fn stored_name(&self) -> &'static str {
        match self.ty {
            ColumnType::PersonalId { stored_as } => stored_as,
            _ => self.name,
        }
    }

    fn arrow_type(&self) -> DataType {
        match self.ty {
            ColumnType::Text | ColumnType::Enum(_) | ColumnType::PersonalId { .. } => {
                DataType::Utf8
            }
            ColumnType::Bool => DataType::Boolean,
            ColumnType::Int { .. } => DataType::Int64,
            ColumnType::Timestamp { .. } => timestamp_type(),
            ColumnType::Target => DataType::Float64,
            ColumnType::Date => DataType::Date32,
        }
    }

    /// Stored values are null only where the column is optional and has no default.
    fn nullable(&self) -> bool {
        !self.required && self.default.is_none()
    }
}

/// UTC instants in microseconds: Parquet `TIMESTAMP(MICROS, isAdjustedToUTC=true)`.
pub(crate) fn timestamp_type() -> DataType {
    DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
}

impl FeedDef {
    pub(crate) fn column_index(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c.name == name)
    }

    /// The column whose unit an export header names by the unit's name.
    pub(crate) fn unit_name_column(&self, header: &str) -> Option<usize> {
        let wanted = normalize_token(header.trim());
        self.columns.iter().position(|c| {
            c.unit_name_headers
                .iter()
                .any(|h| normalize_token(h) == wanted)
        })
    }

    /// The column an export header names: the column's own name or one of
    /// its headers, compared after normalizing (SPEC §4.5).
    pub(crate) fn column_for_header(&self, header: &str) -> Option<usize> {
        let wanted = normalize_token(header.trim());
        self.columns.iter().position(|c| {
            normalize_token(c.name) == wanted
                || c.headers.iter().any(|h| normalize_token(h) == wanted)
        })
    }

    /// The lake schema: the feed's columns as stored, their local dates, then
    /// the row hash and lineage columns.
    pub(crate) fn lake_schema(&self) -> SchemaRef {
        let mut fields: Vec<Field> = self
            .columns
            .iter()
            .map(|c| Field::new(c.stored_name(), c.arrow_type(), c.nullable()))
            .collect();
        for (timestamp, date) in self.local_dates {
            let nullable = self
                .column_index(timestamp)
                .is_none_or(|i| self.columns[i].nullable());
            fields.push(Field::new(*date, DataType::Date32, nullable));
        }
        if self.dedup == DedupRule::IdenticalRow {
            fields.push(Field::new(ROW_HASH, DataType::FixedSizeBinary(16), false));
        }
        fields.push(Field::new(INGEST_SEQ, DataType::Int64, false));
        fields.push(Field::new(SOURCE_LINE, DataType::Int64, false));
        Arc::new(Schema::new(fields))
    }

    pub(crate) fn has_personal_id(&self) -> bool {
        self.columns
            .iter()
            .any(|c| matches!(c.ty, ColumnType::PersonalId { .. }))
    }
}

impl ColumnType {
    /// How the type reads in docs.
    pub(crate) fn describe(&self) -> String {
        match self {
            ColumnType::Text => "text".into(),
            ColumnType::Enum(e) => e
                .values
                .iter()
                .map(|(name, aliases)| {
                    if aliases.is_empty() {
                        format!("`{name}`")
                    } else {
                        format!("`{name}` ({})", aliases.join(", "))
                    }
                })
                .collect::<Vec<_>>()
                .join(", "),
            ColumnType::Bool => "boolean".into(),
            ColumnType::Int { min: Some(min) } => format!("integer ≥ {min}"),
            ColumnType::Int { min: None } => "integer".into(),
            ColumnType::Timestamp { deadline: false } => "timestamp".into(),
            ColumnType::Timestamp { deadline: true } => {
                "timestamp (a date alone = end of that day)".into()
            }
            ColumnType::Target => "number, or percentage such as `95%`".into(),
            ColumnType::Date => "date (local)".into(),
            ColumnType::PersonalId { stored_as } => {
                format!("personal ID: never stored; becomes `{stored_as}` (keyed hash)")
            }
        }
    }
}

impl RowRule {
    pub(crate) fn describe(&self) -> String {
        match self {
            RowRule::NotBefore { later, earlier } => format!("`{later}` ≥ `{earlier}`"),
            RowRule::RequiredWhen {
                column,
                when,
                values,
            } => format!("`{column}` required when `{when}` is {}", values.join("/")),
            RowRule::ForbiddenWhen {
                column,
                forbidden,
                when,
                values,
            } => format!(
                "`{column}` ≠ `{forbidden}` when `{when}` is {}",
                values.join("/")
            ),
            RowRule::TargetFitsKpi { target, kpi } => format!(
                "`{kpi}` is a KPI id; a rate's `{target}` is a fraction ≤ 1 or a percentage, other KPIs' a plain number ≥ 0"
            ),
            RowRule::Share { column } => {
                format!("`{column}` is more than 0 and at most 1 (or a percentage up to 100%)")
            }
        }
    }
}

/// A column's other headers, for the reference: its aliases, and the
/// headers naming its unit by name.
fn also_headed(c: &ColumnDef) -> String {
    let mut all = c.headers.join(", ");
    if !c.unit_name_headers.is_empty() {
        if !all.is_empty() {
            all.push_str("; ");
        }
        all.push_str(&format!(
            "by the unit's name: {}",
            c.unit_name_headers.join(", ")
        ));
    }
    all
}

/// The feed reference as Markdown, generated from the declarations above:
/// printed by `motcua feeds`, and kept in the README (a test compares them).
pub fn render_markdown() -> String {
    let mut out = String::new();
    for def in ALL_FEEDS {
        out.push_str(&format!("#### `{}`\n\n", def.name));
        out.push_str(
            "| column | type | required | default | also headed |\n|---|---|---|---|---|\n",
        );
        for c in def.columns {
            out.push_str(&format!(
                "| `{}` | {} | {} | {} | {} |\n",
                c.name,
                c.ty.describe(),
                if c.required { "yes" } else { "no" },
                c.default.map(|d| format!("`{d}`")).unwrap_or_default(),
                also_headed(c)
            ));
        }
        let mut notes: Vec<String> = def.rules.iter().map(RowRule::describe).collect();
        notes.push(match def.dedup {
            DedupRule::IdenticalRow => {
                "a row identical in every column to a stored one is a duplicate".into()
            }
            DedupRule::UniqueId(id) => format!("a repeated `{id}` is a duplicate (first wins)"),
            DedupRule::None => "no duplicate rule".into(),
        });
        for (timestamp, date) in def.local_dates {
            notes.push(format!(
                "stores the local date of `{timestamp}` as `{date}`"
            ));
        }
        notes.push(match (def.retention, def.partition_by) {
            (Retention::Replace, _) => "each ingest replaces the whole table".into(),
            (Retention::Append, Some(column)) => {
                format!("appends; partitioned by the local month of `{column}`")
            }
            (Retention::Append, None) => "appends".into(),
        });
        out.push_str(&format!("\nRules: {}.\n\n", notes.join("; ")));
    }
    out
}
