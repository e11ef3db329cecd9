//! The registry as SQL (SPEC §2, §2.1): `unit_versions` (every version of
//! every unit, as ingested), `units` (the units valid today),
//! `unit_closure`, `unit_lineage` and the function `unit_era(day)` (see
//! `lineage.rs` for what they hold).

use std::sync::Arc;

use arrow::array::{
    ArrayRef, AsArray, BooleanArray, Date32Array, Float64Array, Int64Array, RecordBatch,
    StringArray,
};
use arrow::datatypes::{DataType, Date32Type, Field, Schema};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};
use datafusion::prelude::SessionContext;

use crate::error::Result;
use crate::sql::lineage::Registry;
use crate::sql::registry::UnitVersion;
use crate::validate::time::{Zone, days_since_epoch};

/// Renames the lake's `units` table to `unit_versions` and registers the
/// views and tables derived from it.
pub(crate) async fn register(ctx: &SessionContext, zone: &Zone) -> Result<()> {
    let versions_table = ctx.table_provider("units").await?;
    ctx.deregister_table("units")?;
    ctx.register_table("unit_versions", versions_table)?;
    let now = chrono::Utc::now().timestamp_micros();
    let today = zone.local_days(now);
    let units = ctx
        .sql(&format!(
            "SELECT * FROM unit_versions \
             WHERE (valid_from IS NULL OR valid_from <= CAST({today} AS DATE)) \
               AND (valid_to IS NULL OR CAST({today} AS DATE) < valid_to)"
        ))
        .await?;
    ctx.register_table("units", units.into_view())?;

    let (versions, changes) = crate::sql::registry::read_from(ctx).await?;
    let registry = Registry::new(&versions, &changes)?;
    ctx.register_batch("unit_closure", closure_batch(&registry)?)?;
    ctx.register_batch("unit_lineage", lineage_batch(&registry)?)?;
    ctx.register_udf(ScalarUDF::new_from_impl(UnitEra::new(
        registry.eras().to_vec(),
    )));
    // Kept in memory rather than a view: a table whose size the planner
    // knows is the side of a join it builds a hash table on, once.
    let rollup = ctx.sql(UNIT_ROLLUP).await?;
    let schema = Arc::new(rollup.schema().as_arrow().clone());
    let rollup = rollup
        .collect()
        .await
        .map_err(crate::sql::plan::sql_error)?;
    ctx.register_table(
        "unit_rollup",
        Arc::new(datafusion::datasource::MemTable::try_new(
            schema,
            vec![rollup],
        )?),
    )?;
    Ok(())
}

/// `unit_rollup`: `unit_lineage` joined to `unit_closure` on the as-of day —
/// activity of `unit_code` in the era starting `active_from` counts toward
/// `ancestor` with `share` on an as-of day in [as_of_from, as_of_to). The
/// KPI job rolls activity up with one join on it.
const UNIT_ROLLUP: &str = "SELECT l.unit_code, l.valid_from, l.active_from, l.active_to,
       greatest(l.as_of_from, c.days_from) AS as_of_from,
       least(l.as_of_to, c.days_to) AS as_of_to,
       l.as_of_code, l.as_of_valid_from, c.ancestor, c.ancestor_valid_from, c.depth,
       l.share, l.whole
FROM unit_lineage l
JOIN unit_closure c
  ON c.descendant = l.as_of_code
 AND (c.descendant_valid_from IS NOT DISTINCT FROM l.as_of_valid_from)
 AND c.days_from < l.as_of_to AND l.as_of_from < c.days_to";

/// A version's first day as the registry gives it (null: unbounded).
fn valid_from(version: &UnitVersion) -> Option<i32> {
    version.from.map(days_since_epoch)
}

fn closure_batch(registry: &Registry) -> Result<RecordBatch> {
    let versions = registry.versions;
    let mut rows = registry.closure();
    rows.sort_by(|a, b| {
        let key = |r: &crate::sql::lineage::ClosureRow| {
            (
                &versions[r.descendant].code,
                valid_from(&versions[r.descendant]),
                r.from,
                r.depth,
            )
        };
        key(a).cmp(&key(b))
    });
    let code = |unit: usize| versions[unit].code.as_str();
    let schema = Schema::new(vec![
        Field::new("ancestor", DataType::Utf8, false),
        Field::new("descendant", DataType::Utf8, false),
        Field::new("depth", DataType::Int64, false),
        Field::new("ancestor_valid_from", DataType::Date32, true),
        Field::new("descendant_valid_from", DataType::Date32, true),
        Field::new("days_from", DataType::Date32, false),
        Field::new("days_to", DataType::Date32, false),
    ]);
    Ok(RecordBatch::try_new(
        Arc::new(schema),
        vec![
            Arc::new(StringArray::from_iter_values(
                rows.iter().map(|r| code(r.ancestor)),
            )) as ArrayRef,
            Arc::new(StringArray::from_iter_values(
                rows.iter().map(|r| code(r.descendant)),
            )),
            Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.depth))),
            Arc::new(Date32Array::from_iter(
                rows.iter().map(|r| valid_from(&versions[r.ancestor])),
            )),
            Arc::new(Date32Array::from_iter(
                rows.iter().map(|r| valid_from(&versions[r.descendant])),
            )),
            Arc::new(Date32Array::from_iter_values(rows.iter().map(|r| r.from))),
            Arc::new(Date32Array::from_iter_values(rows.iter().map(|r| r.to))),
        ],
    )?)
}

fn lineage_batch(registry: &Registry) -> Result<RecordBatch> {
    let versions = registry.versions;
    let mut rows = registry.lineage();
    rows.sort_by(|a, b| {
        let key = |r: &crate::sql::lineage::LineageRow| {
            (
                &versions[r.unit].code,
                valid_from(&versions[r.unit]),
                r.active_from,
                r.as_of_from,
                &versions[r.as_of_unit].code,
            )
        };
        key(a).cmp(&key(b))
    });
    let code = |unit: usize| versions[unit].code.as_str();
    let schema = Schema::new(vec![
        Field::new("unit_code", DataType::Utf8, false),
        Field::new("valid_from", DataType::Date32, true),
        Field::new("active_from", DataType::Date32, false),
        Field::new("active_to", DataType::Date32, false),
        Field::new("as_of_from", DataType::Date32, false),
        Field::new("as_of_to", DataType::Date32, false),
        Field::new("as_of_code", DataType::Utf8, false),
        Field::new("as_of_valid_from", DataType::Date32, true),
        Field::new("share", DataType::Float64, false),
        Field::new("whole", DataType::Boolean, false),
    ]);
    Ok(RecordBatch::try_new(
        Arc::new(schema),
        vec![
            Arc::new(StringArray::from_iter_values(
                rows.iter().map(|r| code(r.unit)),
            )) as ArrayRef,
            Arc::new(Date32Array::from_iter(
                rows.iter().map(|r| valid_from(&versions[r.unit])),
            )),
            Arc::new(Date32Array::from_iter_values(
                rows.iter().map(|r| r.active_from),
            )),
            Arc::new(Date32Array::from_iter_values(
                rows.iter().map(|r| r.active_to),
            )),
            Arc::new(Date32Array::from_iter_values(
                rows.iter().map(|r| r.as_of_from),
            )),
            Arc::new(Date32Array::from_iter_values(
                rows.iter().map(|r| r.as_of_to),
            )),
            Arc::new(StringArray::from_iter_values(
                rows.iter().map(|r| code(r.as_of_unit)),
            )),
            Arc::new(Date32Array::from_iter(
                rows.iter().map(|r| valid_from(&versions[r.as_of_unit])),
            )),
            Arc::new(Float64Array::from_iter_values(rows.iter().map(|r| r.share))),
            Arc::new(BooleanArray::from_iter(rows.iter().map(|r| Some(r.whole)))),
        ],
    )?)
}

/// `unit_era(day)`: the first day of the era `day` falls in, the key of
/// `unit_lineage.active_from`. A lookup, so that grouping activity by era
/// costs no join: the KPI job calls it once per row.
#[derive(Debug)]
pub(crate) struct UnitEra {
    /// The first day of every era, ascending; the first is the calendar's.
    starts: Arc<Vec<i32>>,
    signature: Signature,
}

impl UnitEra {
    pub(crate) fn new(starts: Vec<i32>) -> Self {
        UnitEra {
            starts: Arc::new(starts),
            signature: Signature::exact(vec![DataType::Date32], Volatility::Immutable),
        }
    }

    /// The first day of every era: what the function is rebuilt from on a
    /// cluster's machines.
    #[cfg(feature = "distributed")]
    pub(crate) fn starts(&self) -> &[i32] {
        &self.starts
    }

    fn era_of(&self, day: i32) -> i32 {
        let after = self.starts.partition_point(|&start| start <= day);
        match after.checked_sub(1) {
            Some(i) => self.starts[i],
            // Before the calendar: no era (ingest keeps such days out).
            None => day,
        }
    }
}

impl PartialEq for UnitEra {
    fn eq(&self, other: &Self) -> bool {
        self.starts == other.starts
    }
}

impl Eq for UnitEra {}

impl std::hash::Hash for UnitEra {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.starts.hash(state);
    }
}

impl ScalarUDFImpl for UnitEra {
    fn name(&self) -> &str {
        "unit_era"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _: &[DataType]) -> datafusion::error::Result<DataType> {
        Ok(DataType::Date32)
    }

    fn invoke_with_args(
        &self,
        args: ScalarFunctionArgs,
    ) -> datafusion::error::Result<ColumnarValue> {
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let Some(days) = arrays
            .first()
            .and_then(|a| a.as_primitive_opt::<Date32Type>())
        else {
            return Err(datafusion::error::DataFusionError::Execution(
                "unit_era takes a DATE".into(),
            ));
        };
        // `unary` keeps the nulls.
        let eras: Date32Array = if self.starts.len() == 1 {
            // One era (a registry without changes): every day is in it.
            let first = self.starts[0];
            days.unary(|day| if day < first { day } else { first })
        } else {
            days.unary(|day| self.era_of(day))
        };
        Ok(ColumnarValue::Array(Arc::new(eras)))
    }
}
