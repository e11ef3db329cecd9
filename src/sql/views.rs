//! Views computed in memory: the calendar.

use std::sync::Arc;

use arrow::array::{
    ArrayRef, Date32Array, Int64Array, RecordBatch, StringArray, TimestampMicrosecondArray,
};
use arrow::datatypes::{DataType, Field, Schema};
use chrono::{Datelike, NaiveDate, NaiveTime};

use crate::error::{Error, Result};
use crate::spec::feeds::timestamp_type;
use crate::spec::grain::Grain;
use crate::validate::time::{Zone, days_since_epoch};

/// `calendar`: one row per period of every grain, with its bounds as local
/// dates and as UTC instants, and the start of the period before it.
pub fn calendar(zone: &Zone) -> Result<RecordBatch> {
    let first =
        NaiveDate::from_ymd_opt(crate::validate::time::FIRST_YEAR, 1, 1).unwrap_or_default();
    let last =
        NaiveDate::from_ymd_opt(crate::validate::time::LAST_YEAR + 1, 1, 1).unwrap_or_default();
    let instant = |d: NaiveDate| -> Result<i64> {
        zone.local_to_utc(d.and_time(NaiveTime::MIN))
            .map_err(|e| Error::Usage(format!("calendar: {e}")))
    };
    let (mut grains, mut starts, mut ends, mut years, mut start_at, mut end_at, mut prevs) =
        (vec![], vec![], vec![], vec![], vec![], vec![], vec![]);
    for grain in Grain::ALL {
        let mut start = grain.period_start(first);
        let mut prev = grain.period_start(start - chrono::Days::new(1));
        while start < last {
            let end = grain.next_period(start);
            grains.push(grain.name());
            starts.push(days_since_epoch(start));
            ends.push(days_since_epoch(end));
            years.push(i64::from(start.year()));
            start_at.push(instant(start)?);
            end_at.push(instant(end)?);
            prevs.push(days_since_epoch(prev));
            prev = start;
            start = end;
        }
    }
    let schema = Arc::new(Schema::new(vec![
        Field::new("period_grain", DataType::Utf8, false),
        Field::new("period_start", DataType::Date32, false),
        Field::new("period_end", DataType::Date32, false),
        Field::new("period_year", DataType::Int64, false),
        Field::new("start_at", timestamp_type(), false),
        Field::new("end_at", timestamp_type(), false),
        Field::new("prev_start", DataType::Date32, false),
    ]));
    Ok(RecordBatch::try_new(
        schema,
        vec![
            Arc::new(StringArray::from(grains)) as ArrayRef,
            Arc::new(Date32Array::from(starts)),
            Arc::new(Date32Array::from(ends)),
            Arc::new(Int64Array::from(years)),
            Arc::new(TimestampMicrosecondArray::from(start_at).with_timezone("UTC")),
            Arc::new(TimestampMicrosecondArray::from(end_at).with_timezone("UTC")),
            Arc::new(Date32Array::from(prevs)),
        ],
    )?)
}
