//! What `table` output shows: counts whole, rates as percentages with one
//! decimal, timestamps in the lake's zone. Only the terminal view changes;
//! csv, json, parquet and xlsx keep the raw values.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Float64Type, Schema, SchemaRef, TimeUnit};
use arrow::util::display::{ArrayFormatter, FormatOptions};

use crate::error::Result;
use crate::report::format::{Shown, shown};
use crate::spec::kpis::{self, KpiKind};
use crate::validate::time::Zone;

/// `batch` as text columns, each value written as a reader expects it.
pub(crate) fn readable(batch: &RecordBatch, zone: Option<&Zone>) -> Result<RecordBatch> {
    let schema = batch.schema();
    let has_kpi = schema.field_with_name("kpi").is_ok();
    let kpis: Option<Vec<Option<String>>> = match batch.column_by_name("kpi") {
        Some(k) => {
            let k = arrow::compute::cast(k, &DataType::Utf8)?;
            Some(
                k.as_string::<i32>()
                    .iter()
                    .map(|v| v.map(str::to_string))
                    .collect(),
            )
        }
        None => None,
    };
    let columns = schema
        .fields()
        .iter()
        .zip(batch.columns())
        .map(|(field, column)| {
            let texts = match field.data_type() {
                DataType::Float16 | DataType::Float32 | DataType::Float64 => {
                    numbers(column, shown(field.name(), has_kpi), kpis.as_deref())?
                }
                DataType::Timestamp(_, Some(_)) if zone.is_some() => local_times(column, zone)?,
                _ => as_shown(column)?,
            };
            Ok(Arc::new(StringArray::from(texts)) as ArrayRef)
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(RecordBatch::try_new(text_schema(&schema), columns)?)
}

/// The same columns, as text.
pub(crate) fn text_schema(schema: &SchemaRef) -> SchemaRef {
    Arc::new(Schema::new(
        schema
            .fields()
            .iter()
            .map(|f| Field::new(f.name(), DataType::Utf8, true))
            .collect::<Vec<_>>(),
    ))
}

fn numbers(
    column: &ArrayRef,
    shown: Shown,
    kpis: Option<&[Option<String>]>,
) -> Result<Vec<Option<String>>> {
    let values = arrow::compute::cast(column, &DataType::Float64)?;
    let values = values.as_primitive::<Float64Type>();
    Ok((0..values.len())
        .map(|i| {
            values.is_valid(i).then(|| {
                let v = values.value(i);
                let kind = match shown {
                    Shown::Percent => Some(KpiKind::Rate),
                    Shown::Whole => Some(KpiKind::Count),
                    Shown::PerKpi => kpis
                        .and_then(|k| k[i].as_deref())
                        .and_then(kpis::find)
                        .map(|k| k.kind),
                    Shown::Plain => None,
                };
                number(v, kind)
            })
        })
        .collect())
}

/// One number: a rate `83.3%`, a count `12`, anything else whole when it
/// is, else to three decimals.
fn number(v: f64, kind: Option<KpiKind>) -> String {
    match kind {
        _ if !v.is_finite() => v.to_string(),
        Some(KpiKind::Rate) => format!("{:.1}%", v * 100.0),
        Some(KpiKind::Count) if v.fract() == 0.0 => format!("{v:.0}"),
        _ if v.fract() == 0.0 => format!("{v:.0}"),
        _ => {
            let text = format!("{v:.3}");
            text.trim_end_matches('0').trim_end_matches('.').to_string()
        }
    }
}

fn local_times(column: &ArrayRef, zone: Option<&Zone>) -> Result<Vec<Option<String>>> {
    let micros = arrow::compute::cast(column, &DataType::Timestamp(TimeUnit::Microsecond, None))?;
    let micros = micros.as_primitive::<arrow::datatypes::TimestampMicrosecondType>();
    Ok((0..micros.len())
        .map(|i| {
            micros.is_valid(i).then(|| {
                let m = micros.value(i);
                match zone {
                    Some(zone) => zone.to_local(m).format("%Y-%m-%d %H:%M:%S").to_string(),
                    None => m.to_string(),
                }
            })
        })
        .collect())
}

fn as_shown(column: &ArrayRef) -> Result<Vec<Option<String>>> {
    let formatter = ArrayFormatter::try_new(column.as_ref(), &FormatOptions::default())?;
    Ok((0..column.len())
        .map(|i| column.is_valid(i).then(|| formatter.value(i).to_string()))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::number;
    use crate::spec::kpis::KpiKind;

    #[test]
    fn numbers_read_as_their_kind() {
        assert_eq!(number(0.8333333333333334, Some(KpiKind::Rate)), "83.3%");
        assert_eq!(number(12.0, Some(KpiKind::Count)), "12");
        assert_eq!(number(12.0, None), "12");
        assert_eq!(number(3.25, None), "3.25");
        assert_eq!(number(1.0 / 3.0, None), "0.333");
        assert_eq!(number(2.5, Some(KpiKind::Count)), "2.5");
    }
}
