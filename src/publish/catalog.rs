//! `kpi_catalog` (SPEC §7): one row per KPI of `spec::kpis::CATALOG`, so a
//! dashboard can format and label every value of `kpi_values` without a
//! hand-made lookup. Published as one Parquet file, `OUT/kpi_catalog.parquet`,
//! replaced atomically (it changes only with motcua's version).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{ArrayRef, BooleanArray, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema};
use parquet::arrow::ArrowWriter;

use crate::error::Result;
use crate::spec::kpis;

/// The table's name, in SQL sessions and under OUT.
pub(crate) const CATALOG: &str = "kpi_catalog";

/// Where a run publishes the catalog.
pub fn path(out: &Path) -> PathBuf {
    out.join(format!("{CATALOG}.parquet"))
}

/// Writes `OUT/kpi_catalog.parquet` whole or not at all.
pub(crate) fn publish(out: &crate::Location) -> Result<()> {
    let batch = batch()?;
    let mut writer = ArrowWriter::try_new(
        Vec::new(),
        batch.schema(),
        Some(crate::storage::parquet::writer_properties()),
    )?;
    writer.write(&batch)?;
    let bytes = writer.into_inner()?;
    if let Some(folder) = out.folder() {
        std::fs::create_dir_all(folder).map_err(|e| crate::error::Error::io(folder, e))?;
    }
    out.put(&format!("{CATALOG}.parquet"), &bytes)
}

/// `kpi_catalog` (SPEC §7), from `kpis::CATALOG`: what the SQL session
/// holds and what `motcua kpi` publishes beside `kpi_values`.
pub fn batch() -> Result<RecordBatch> {
    let rows = kpis::CATALOG;
    let text = |name: &str, value: fn(&kpis::KpiDef) -> &'static str| {
        (
            Field::new(name, DataType::Utf8, false),
            Arc::new(StringArray::from_iter_values(rows.iter().map(value))) as ArrayRef,
        )
    };
    let (fields, columns): (Vec<Field>, Vec<ArrayRef>) = [
        text("kpi", |k| k.id),
        text("family", |k| k.family),
        text("kind", |k| k.kind.name()),
        text("unit", |k| k.unit),
        text("counts", |k| k.counts),
        text("direction", |k| k.direction.name()),
        text("label_vi", |k| k.label_vi),
        text("label_en", |k| k.label_en),
        text("definition", |k| k.definition),
        text("definition_vi", |k| k.definition_vi),
        (
            Field::new("headline", DataType::Boolean, false),
            Arc::new(BooleanArray::from_iter(
                rows.iter().map(|k| Some(k.headline)),
            )),
        ),
    ]
    .into_iter()
    .unzip();
    Ok(RecordBatch::try_new(
        Arc::new(Schema::new(fields)),
        columns,
    )?)
}
