//! Tables as Excel workbooks (rust_xlsxwriter): headers from the KPI
//! catalog in the report's language, percentages and thousands as Excel
//! number formats (the cells keep raw numbers), dates as dates, a frozen
//! header row and an autofilter. `motcua query --format xlsx` writes one
//! sheet; `motcua report --format xlsx` writes the report's tables.

use std::path::Path;
use std::sync::Arc;

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::{DataType, Date32Type, Field, Float64Type, Schema, SchemaRef, TimeUnit};
use chrono::{Datelike, NaiveDateTime, Timelike};
use rust_xlsxwriter::{DocProperties, ExcelDateTime, Format, Workbook, Worksheet};

use super::format::{Lang, Shown, header, shown};
use super::model::Report;
use crate::error::{Error, Result};
use crate::publish::dataset::Series;
use crate::spec::kpis::{self, KpiKind};
use crate::validate::time::Zone;

/// Excel's last row, less the header.
const MAX_ROWS: usize = 1_048_575;

/// One sheet of a workbook.
pub(crate) struct Sheet<'a> {
    pub name: &'a str,
    pub schema: SchemaRef,
    pub batches: &'a [RecordBatch],
}

/// The number formats cells take.
struct Formats {
    header: Format,
    percent: Format,
    whole: Format,
    decimal: Format,
    date: Format,
    datetime: Format,
}

impl Formats {
    fn new() -> Self {
        Formats {
            header: Format::new().set_bold().set_background_color("DDE6F0"),
            percent: Format::new().set_num_format("0.0%"),
            whole: Format::new().set_num_format("#,##0"),
            decimal: Format::new().set_num_format("#,##0.00"),
            date: Format::new().set_num_format("dd/mm/yyyy"),
            datetime: Format::new().set_num_format("dd/mm/yyyy hh:mm:ss"),
        }
    }

    /// A number's format as its column reads; `kpi` is the row's KPI.
    fn number(&self, shown: Shown, kpi: Option<&str>, whole_column: bool) -> &Format {
        let by_kind = |kind| match kind {
            KpiKind::Rate => &self.percent,
            KpiKind::Count => &self.whole,
            KpiKind::Median | KpiKind::Per1000 => &self.decimal,
        };
        match shown {
            Shown::Percent => &self.percent,
            Shown::Whole => &self.whole,
            Shown::PerKpi => kpi
                .and_then(kpis::find)
                .map_or(&self.decimal, |k| by_kind(k.kind)),
            Shown::Plain if whole_column => &self.whole,
            Shown::Plain => &self.decimal,
        }
    }
}

/// `sheets` as the bytes of one workbook. Timestamps are written in
/// `zone`'s local time (Excel has no zones).
pub(crate) fn workbook(sheets: &[Sheet], lang: Lang, zone: Option<&Zone>) -> Result<Vec<u8>> {
    let mut workbook = Workbook::new();
    // A fixed creation time: the same rows give the same bytes.
    let created = ExcelDateTime::from_ymd(2000, 1, 1)?;
    workbook.set_properties(&DocProperties::new().set_creation_datetime(&created));
    let formats = Formats::new();
    for sheet in sheets {
        check_rows(sheet.batches.iter().map(RecordBatch::num_rows).sum())?;
        let ws = workbook.add_worksheet();
        ws.set_name(sheet.name)?;
        write_sheet(ws, sheet, &formats, lang, zone)?;
    }
    Ok(workbook.save_to_buffer()?)
}

/// Refuses more rows than an Excel sheet holds.
pub(crate) fn check_rows(rows: usize) -> Result<()> {
    if rows > MAX_ROWS {
        return Err(Error::Usage(format!(
            "more than {MAX_ROWS} rows do not fit an Excel sheet; write csv or parquet instead, or narrow the query"
        )));
    }
    Ok(())
}

fn write_sheet(
    ws: &mut Worksheet,
    sheet: &Sheet,
    formats: &Formats,
    lang: Lang,
    zone: Option<&Zone>,
) -> Result<()> {
    let fields = sheet.schema.fields();
    let has_kpi = sheet.schema.field_with_name("kpi").is_ok();
    for (c, field) in fields.iter().enumerate() {
        ws.write_string_with_format(0, col(c)?, header(field.name(), lang), &formats.header)?;
    }
    let whole_columns: Vec<bool> = (0..fields.len())
        .map(|c| whole_column(sheet.batches, c))
        .collect();
    let mut row = 1_u32;
    for batch in sheet.batches {
        let kpi_names = match batch.column_by_name("kpi") {
            Some(k) => Some(arrow::compute::cast(k, &DataType::Utf8)?),
            None => None,
        };
        let kpi_names = kpi_names.as_ref().map(|k| k.as_string::<i32>());
        for (c, field) in fields.iter().enumerate() {
            let shown = shown(field.name(), has_kpi);
            let cells = Cells::of(batch.column(c), field)?;
            for i in 0..batch.num_rows() {
                let r = row + i as u32;
                let kpi = kpi_names.filter(|k| k.is_valid(i)).map(|k| k.value(i));
                let format = || formats.number(shown, kpi, whole_columns[c]);
                cells.write(ws, r, col(c)?, i, format, formats, zone)?;
            }
        }
        row += batch.num_rows() as u32;
    }
    ws.set_freeze_panes(1, 0)?;
    if !fields.is_empty() {
        ws.autofilter(0, 0, row.saturating_sub(1), col(fields.len() - 1)?)?;
    }
    ws.autofit();
    Ok(())
}

fn col(c: usize) -> Result<u16> {
    u16::try_from(c).map_err(|_| Error::Usage("too many columns for an Excel sheet".into()))
}

/// Whether every number of column `c` is whole (a count held as a float).
fn whole_column(batches: &[RecordBatch], c: usize) -> bool {
    batches.iter().all(|b| {
        let column = b.column(c);
        if !column.data_type().is_floating() {
            return true;
        }
        arrow::compute::cast(column, &DataType::Float64).is_ok_and(|f| {
            f.as_primitive::<Float64Type>()
                .iter()
                .flatten()
                .all(|v| v.fract() == 0.0)
        })
    })
}

/// A column read as the kind of cell it fills.
enum Cells {
    Number(arrow::array::ArrayRef),
    Date(arrow::array::ArrayRef),
    /// With whether the values are instants (UTC) or local times.
    Timestamp(arrow::array::ArrayRef, bool),
    Bool(arrow::array::ArrayRef),
    Text(arrow::array::ArrayRef),
}

impl Cells {
    fn of(column: &arrow::array::ArrayRef, field: &Field) -> Result<Cells> {
        let ty = field.data_type();
        Ok(if ty.is_numeric() {
            Cells::Number(arrow::compute::cast(column, &DataType::Float64)?)
        } else {
            match ty {
                DataType::Date32 | DataType::Date64 => {
                    Cells::Date(arrow::compute::cast(column, &DataType::Date32)?)
                }
                DataType::Timestamp(_, zone) => Cells::Timestamp(
                    arrow::compute::cast(
                        column,
                        &DataType::Timestamp(TimeUnit::Microsecond, None),
                    )?,
                    // An instant is shown in the lake's zone; a timestamp
                    // without a zone is already a local time.
                    zone.is_some(),
                ),
                DataType::Boolean => Cells::Bool(column.clone()),
                _ => Cells::Text(arrow::compute::cast(column, &DataType::Utf8)?),
            }
        })
    }

    #[allow(clippy::too_many_arguments)]
    fn write<'f>(
        &self,
        ws: &mut Worksheet,
        r: u32,
        c: u16,
        i: usize,
        number_format: impl Fn() -> &'f Format,
        formats: &Formats,
        zone: Option<&Zone>,
    ) -> Result<()> {
        let array = match self {
            Cells::Number(a)
            | Cells::Date(a)
            | Cells::Timestamp(a, _)
            | Cells::Bool(a)
            | Cells::Text(a) => a,
        };
        if array.is_null(i) {
            return Ok(());
        }
        match self {
            Cells::Number(a) => {
                let v = a.as_primitive::<Float64Type>().value(i);
                if v.is_finite() {
                    ws.write_number_with_format(r, c, v, number_format())?;
                }
            }
            Cells::Date(a) => {
                if let Some(day) = a.as_primitive::<Date32Type>().value_as_date(i) {
                    ws.write_datetime_with_format(
                        r,
                        c,
                        excel_time(day.and_time(chrono::NaiveTime::MIN))?,
                        &formats.date,
                    )?;
                }
            }
            Cells::Timestamp(a, instant) => {
                let micros = a
                    .as_primitive::<arrow::datatypes::TimestampMicrosecondType>()
                    .value(i);
                let local = match zone.filter(|_| *instant) {
                    Some(zone) => zone.to_local(micros),
                    None => chrono::DateTime::from_timestamp_micros(micros)
                        .map(|t| t.naive_utc())
                        .unwrap_or_default(),
                };
                ws.write_datetime_with_format(r, c, excel_time(local)?, &formats.datetime)?;
            }
            Cells::Bool(a) => {
                ws.write_boolean(r, c, a.as_boolean().value(i))?;
            }
            Cells::Text(a) => {
                ws.write_string(r, c, a.as_string::<i32>().value(i))?;
            }
        }
        Ok(())
    }
}

fn excel_time(t: NaiveDateTime) -> Result<ExcelDateTime> {
    let bad = || {
        Error::Usage(format!(
            "{t} cannot be written as an Excel date (years 1900 to 9999)"
        ))
    };
    let year = u16::try_from(t.year()).map_err(|_| bad())?;
    ExcelDateTime::from_ymd(year, t.month() as u8, t.day() as u8)
        .and_then(|d| d.and_hms(t.hour() as u16, t.minute() as u8, t.second()))
        .map_err(|_| bad())
}

/// The report's tables: the scorecard, the trends and the children ranked.
pub(crate) fn write_report(report: &Report, path: &Path) -> Result<()> {
    let lang = report.request.lang;
    let names = if lang.is_vi() {
        [
            "Bảng chỉ tiêu",
            "Diễn biến",
            "Đơn vị trực thuộc",
            "Thông tin",
        ]
    } else {
        ["Scorecard", "Trends", "Units below", "About"]
    };
    let tables = tables(report)?;
    let sheets: Vec<Sheet> = names
        .iter()
        .zip(&tables)
        .map(|(name, table)| Sheet {
            name,
            schema: table.schema(),
            batches: std::slice::from_ref(table),
        })
        .collect();
    crate::storage::write_atomic(path, &workbook(&sheets, lang, None)?)
}

/// The report's tables as record batches, in long form (one row per KPI),
/// so each takes the generic sheet's formats; last, what the report is of.
fn tables(report: &Report) -> Result<[RecordBatch; 4]> {
    use crate::validate::time::days_since_epoch;
    use arrow::array::{
        ArrayRef, BooleanArray, Date32Array, Float64Array, Int64Array, StringArray,
    };
    let vi = report.request.lang.is_vi();
    let batch = |columns: Vec<(&str, ArrayRef)>| -> Result<RecordBatch> {
        let fields: Vec<Field> = columns
            .iter()
            .map(|(name, a)| Field::new(*name, a.data_type().clone(), true))
            .collect();
        Ok(RecordBatch::try_new(
            Arc::new(Schema::new(fields)),
            columns.into_iter().map(|(_, a)| a).collect(),
        )?)
    };
    let text = |v: Vec<Option<String>>| Arc::new(StringArray::from(v)) as ArrayRef;
    let float = |v: Vec<Option<f64>>| Arc::new(Float64Array::from(v)) as ArrayRef;
    let int = |v: Vec<Option<i64>>| Arc::new(Int64Array::from(v)) as ArrayRef;
    let boolean = |v: Vec<bool>| Arc::new(BooleanArray::from(v)) as ArrayRef;

    let s = &report.scorecard;
    let now = |f: fn(&super::data::Row) -> Option<f64>| {
        float(s.iter().map(|x| x.now.as_ref().and_then(f)).collect())
    };
    let scorecard = batch(vec![
        (
            "kpi",
            text(s.iter().map(|x| Some(x.kpi.id.to_string())).collect()),
        ),
        (
            "label",
            text(
                s.iter()
                    .map(|x| Some(x.kpi.label(vi).to_string()))
                    .collect(),
            ),
        ),
        ("value", now(|r| r.value)),
        ("numerator", now(|r| r.numerator)),
        ("denominator", now(|r| r.denominator)),
        ("target", now(|r| r.target)),
        ("attainment", now(|r| r.attainment)),
        (
            "status",
            text(
                s.iter()
                    .map(|x| x.status.map(|st| st.name().to_string()))
                    .collect(),
            ),
        ),
        (
            "previous_value",
            float(s.iter().map(|x| x.previous).collect()),
        ),
        (
            "year_ago_value",
            float(s.iter().map(|x| x.year_ago).collect()),
        ),
        (
            "rank",
            int(s
                .iter()
                .map(|x| x.now.as_ref().and_then(|r| r.rank))
                .collect()),
        ),
        (
            "rank_change",
            int(s
                .iter()
                .map(|x| x.now.as_ref().and_then(|r| r.rank_change))
                .collect()),
        ),
        ("ranked_units", int(s.iter().map(|x| x.ranked).collect())),
        (
            "estimated",
            boolean(
                s.iter()
                    .map(|x| x.now.as_ref().is_some_and(|r| r.estimated))
                    .collect(),
            ),
        ),
    ])?;

    let points: Vec<(&str, &super::model::Point)> = report
        .trends
        .iter()
        .flat_map(|t| t.points.iter().map(move |p| (t.kpi.id, p)))
        .collect();
    let trends = batch(vec![
        (
            "period_start",
            Arc::new(Date32Array::from(
                points
                    .iter()
                    .map(|(_, p)| days_since_epoch(p.period))
                    .collect::<Vec<_>>(),
            )),
        ),
        (
            "kpi",
            text(points.iter().map(|(k, _)| Some(k.to_string())).collect()),
        ),
        (
            "value",
            float(points.iter().map(|(_, p)| p.value).collect()),
        ),
        (
            "target",
            float(points.iter().map(|(_, p)| p.target).collect()),
        ),
    ])?;

    let cells: Vec<(&super::model::Child, &str, &super::model::Cell)> = report
        .children
        .iter()
        .flat_map(|child| {
            report
                .headline
                .iter()
                .zip(&child.cells)
                .map(move |(kpi, cell)| (child, kpi.id, cell))
        })
        .collect();
    let children = batch(vec![
        (
            "unit_code",
            text(cells.iter().map(|(c, _, _)| Some(c.code.clone())).collect()),
        ),
        (
            "unit_name",
            text(cells.iter().map(|(c, _, _)| Some(c.name.clone())).collect()),
        ),
        (
            "kpi",
            text(cells.iter().map(|(_, k, _)| Some(k.to_string())).collect()),
        ),
        (
            "value",
            float(cells.iter().map(|(_, _, x)| x.value).collect()),
        ),
        ("rank", int(cells.iter().map(|(_, _, x)| x.rank).collect())),
        (
            "rank_change",
            int(cells.iter().map(|(_, _, x)| x.rank_change).collect()),
        ),
        (
            "ranked_units",
            int(cells.iter().map(|(_, _, x)| x.ranked).collect()),
        ),
        (
            "few_dossiers",
            boolean(cells.iter().map(|(_, _, x)| x.few).collect()),
        ),
        (
            "estimated",
            boolean(cells.iter().map(|(_, _, x)| x.estimated).collect()),
        ),
    ])?;

    let request = &report.request;
    let lang = request.lang;
    let series = match request.series {
        Series::AsReported if vi => "như báo cáo từng kỳ".to_string(),
        Series::AsReported => "as reported".to_string(),
        Series::Restated { units_as_of } if vi => {
            format!(
                "quy đổi theo đơn vị hành chính ngày {}",
                lang.date(units_as_of)
            )
        }
        Series::Restated { units_as_of } => {
            format!("restated on the units of {}", lang.date(units_as_of))
        }
    };
    let about: [(&str, String); 4] = [
        (
            "unit_name",
            format!("{} ({})", report.unit_name, request.unit),
        ),
        ("period", lang.period(request.grain, request.period)),
        ("series", series),
        (
            "source",
            format!("{}/{}", request.series.dataset(), report.version),
        ),
    ];
    let about = batch(vec![
        (
            "field",
            text(about.iter().map(|(f, _)| Some(header(f, lang))).collect()),
        ),
        (
            "value",
            text(about.iter().map(|(_, v)| Some(v.clone())).collect()),
        ),
    ])?;
    Ok([scorecard, trends, children, about])
}
