//! The units registry and its changes as `motcua units` shows them (SPEC
//! §2.1): every version of every unit, and every change.

use arrow::array::{Array, AsArray};
use chrono::NaiveDate;

use crate::error::{Error, Result};

/// One version of a unit: the days it exists are [from, to), None unbounded.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct UnitVersion {
    pub(crate) code: String,
    pub(crate) name: String,
    pub(crate) level: String,
    pub(crate) parent: Option<String>,
    pub(crate) from: Option<NaiveDate>,
    pub(crate) to: Option<NaiveDate>,
}

impl UnitVersion {
    pub(crate) fn valid_on(&self, day: NaiveDate) -> bool {
        self.from.is_none_or(|from| from <= day) && self.to.is_none_or(|to| day < to)
    }
}

/// One row of `unit_changes`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct UnitChange {
    pub(crate) old: String,
    pub(crate) new: String,
    pub(crate) on: NaiveDate,
    pub(crate) share: f64,
    pub(crate) basis: Option<String>,
    pub(crate) legal_ref: Option<String>,
}

/// The lake's unit versions (by code, then first day) and changes (by day,
/// then codes).
pub(crate) async fn read(root: &crate::Location) -> Result<(Vec<UnitVersion>, Vec<UnitChange>)> {
    let (ctx, _) = crate::sql::session::open(root, &Default::default()).await?;
    read_from(&ctx).await
}

/// The unit versions and changes of a session's tables `unit_versions` and
/// `unit_changes`.
pub(crate) async fn read_from(
    ctx: &datafusion::prelude::SessionContext,
) -> Result<(Vec<UnitVersion>, Vec<UnitChange>)> {
    // Text comes as Utf8 or Utf8View, as the session reads each table.
    let text = |batch: &arrow::record_batch::RecordBatch, i: usize, row: usize| {
        let column = batch.column(i);
        if column.is_null(row) {
            return None;
        }
        match column.as_string_view_opt() {
            Some(view) => Some(view.value(row).to_string()),
            None => Some(column.as_string_opt::<i32>()?.value(row).to_string()),
        }
    };
    let date = |value: Option<String>| -> Result<Option<NaiveDate>> {
        value
            .map(|v| {
                v.parse()
                    .map_err(|_| Error::Sql(format!("not a date: {v}")))
            })
            .transpose()
    };
    let mut versions = Vec::new();
    let units = ctx
        .sql(
            "SELECT unit_code, name, level, parent_code, CAST(valid_from AS VARCHAR) AS f, \
             CAST(valid_to AS VARCHAR) AS t FROM unit_versions \
             ORDER BY unit_code, unit_versions.valid_from NULLS FIRST",
        )
        .await?
        .collect()
        .await
        .map_err(crate::sql::plan::sql_error)?;
    for batch in &units {
        for row in 0..batch.num_rows() {
            versions.push(UnitVersion {
                code: text(batch, 0, row).unwrap_or_default(),
                name: text(batch, 1, row).unwrap_or_default(),
                level: text(batch, 2, row).unwrap_or_default(),
                parent: text(batch, 3, row),
                from: date(text(batch, 4, row))?,
                to: date(text(batch, 5, row))?,
            });
        }
    }
    let mut changes = Vec::new();
    let rows = ctx
        .sql(
            "SELECT old_code, new_code, CAST(effective_on AS VARCHAR) AS d, share, basis, legal_ref \
             FROM unit_changes ORDER BY unit_changes.effective_on, old_code, new_code",
        )
        .await?
        .collect()
        .await
        .map_err(crate::sql::plan::sql_error)?;
    for batch in &rows {
        let shares = batch
            .column(3)
            .as_primitive_opt::<arrow::datatypes::Float64Type>()
            .ok_or_else(|| Error::Sql("unit_changes.share must be a number".into()))?;
        for row in 0..batch.num_rows() {
            changes.push(UnitChange {
                old: text(batch, 0, row).unwrap_or_default(),
                new: text(batch, 1, row).unwrap_or_default(),
                on: date(text(batch, 2, row))?
                    .ok_or_else(|| Error::Sql("unit_changes.effective_on is null".into()))?,
                share: shares.value(row),
                basis: text(batch, 4, row),
                legal_ref: text(batch, 5, row),
            });
        }
    }
    Ok((versions, changes))
}
