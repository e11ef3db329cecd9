//! Typed rows → Arrow batches laid out as a feed's lake schema.

use std::sync::Arc;

use arrow::array::{
    ArrayBuilder, ArrayRef, BooleanBuilder, Date32Builder, FixedSizeBinaryBuilder, Float64Builder,
    Int64Builder, StringBuilder, TimestampMicrosecondBuilder,
};
use arrow::datatypes::{DataType, SchemaRef};
use arrow::record_batch::RecordBatch;

use crate::dedupe::row_hash;
use crate::error::Result;
use crate::spec::feeds::{ColumnType, DedupRule, FeedDef};
use crate::validate::row::Cell;
use crate::validate::time::Zone;

/// Appends rows to Arrow builders laid out as the feed's lake schema.
pub(crate) struct BatchBuilder {
    pub(crate) schema: SchemaRef,
    pub(crate) columns: Vec<ColumnBuilder>,
    with_hash: bool,
    /// Feed column index of each stored local date.
    pub(crate) local_dates: Vec<usize>,
    pub(crate) zone: Zone,
}

pub(crate) enum ColumnBuilder {
    Str(StringBuilder),
    Bool(BooleanBuilder),
    Int(Int64Builder),
    Ts(TimestampMicrosecondBuilder),
    Float(Float64Builder),
    Date(Date32Builder),
    Hash(FixedSizeBinaryBuilder),
}

impl ColumnBuilder {
    /// A builder with room for `rows` values (and `bytes` of text).
    fn for_type(data_type: &DataType, rows: usize, bytes: usize) -> Self {
        match data_type {
            DataType::Utf8 => ColumnBuilder::Str(StringBuilder::with_capacity(rows, bytes)),
            DataType::Boolean => ColumnBuilder::Bool(BooleanBuilder::with_capacity(rows)),
            DataType::Int64 => ColumnBuilder::Int(Int64Builder::with_capacity(rows)),
            DataType::Timestamp(_, _) => ColumnBuilder::Ts(
                TimestampMicrosecondBuilder::with_capacity(rows).with_timezone("UTC"),
            ),
            DataType::Float64 => ColumnBuilder::Float(Float64Builder::with_capacity(rows)),
            DataType::Date32 => ColumnBuilder::Date(Date32Builder::with_capacity(rows)),
            DataType::FixedSizeBinary(n) => {
                ColumnBuilder::Hash(FixedSizeBinaryBuilder::with_capacity(rows, *n))
            }
            other => unreachable!("lake schemas use no {other}"),
        }
    }

    /// Bytes of text held.
    fn text_bytes(&self) -> usize {
        match self {
            ColumnBuilder::Str(b) => b.values_slice().len(),
            _ => 0,
        }
    }

    pub(crate) fn finish(&mut self) -> ArrayRef {
        match self {
            ColumnBuilder::Str(b) => Arc::new(b.finish()),
            ColumnBuilder::Bool(b) => Arc::new(b.finish()),
            ColumnBuilder::Int(b) => Arc::new(b.finish()),
            ColumnBuilder::Ts(b) => Arc::new(b.finish()),
            ColumnBuilder::Float(b) => Arc::new(b.finish()),
            ColumnBuilder::Date(b) => Arc::new(b.finish()),
            ColumnBuilder::Hash(b) => Arc::new(b.finish()),
        }
    }

    pub(crate) fn len(&self) -> usize {
        match self {
            ColumnBuilder::Str(b) => b.len(),
            ColumnBuilder::Bool(b) => b.len(),
            ColumnBuilder::Int(b) => b.len(),
            ColumnBuilder::Ts(b) => b.len(),
            ColumnBuilder::Float(b) => b.len(),
            ColumnBuilder::Date(b) => b.len(),
            ColumnBuilder::Hash(b) => b.len(),
        }
    }
}

impl BatchBuilder {
    pub(crate) fn new(def: &FeedDef, zone: Zone) -> Self {
        let schema = def.lake_schema();
        let columns = schema
            .fields()
            .iter()
            .map(|f| ColumnBuilder::for_type(f.data_type(), 0, 0))
            .collect();
        BatchBuilder {
            schema,
            columns,
            with_hash: def.dedup == DedupRule::IdenticalRow,
            local_dates: def
                .local_dates
                .iter()
                .map(|(ts, _)| {
                    def.column_index(ts)
                        .expect("local dates name declared columns")
                })
                .collect(),
            zone,
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.columns.last().map_or(0, ColumnBuilder::len)
    }

    /// `hash`: the row's hash when the caller has it already.
    pub(crate) fn append(
        &mut self,
        def: &FeedDef,
        row: &[Cell],
        seq: u64,
        line: u64,
        hash: Option<u128>,
    ) {
        for (i, (cell, builder)) in row.iter().zip(self.columns.iter_mut()).enumerate() {
            match (builder, cell) {
                (ColumnBuilder::Str(b), Cell::Text(s)) => b.append_value(s),
                (ColumnBuilder::Str(b), Cell::Key(k)) => b.append_value(&*k.hex()),
                (ColumnBuilder::Str(b), Cell::Enum(v)) => {
                    let ColumnType::Enum(e) = def.columns[i].ty else {
                        unreachable!("enum cell in a non-enum column")
                    };
                    b.append_value(e.canonical(*v))
                }
                (ColumnBuilder::Str(b), Cell::Null) => b.append_null(),
                (ColumnBuilder::Bool(b), Cell::Bool(v)) => b.append_value(*v),
                (ColumnBuilder::Bool(b), Cell::Null) => b.append_null(),
                (ColumnBuilder::Int(b), Cell::Int(v)) => b.append_value(*v),
                (ColumnBuilder::Int(b), Cell::Null) => b.append_null(),
                (ColumnBuilder::Ts(b), Cell::Ts(v)) => b.append_value(*v),
                (ColumnBuilder::Ts(b), Cell::Null) => b.append_null(),
                (ColumnBuilder::Float(b), Cell::Target(v, _)) => b.append_value(*v),
                (ColumnBuilder::Float(b), Cell::Null) => b.append_null(),
                (ColumnBuilder::Date(b), Cell::Date(d)) => b.append_value(*d),
                (ColumnBuilder::Date(b), Cell::Null) => b.append_null(),
                (_, cell) => unreachable!("cell {cell:?} does not fit column {i}"),
            }
        }
        let mut rest = self.columns[row.len()..].iter_mut();
        for column in &self.local_dates {
            if let Some(ColumnBuilder::Date(b)) = rest.next() {
                match row[*column] {
                    Cell::Ts(t) => b.append_value(self.zone.local_days(t)),
                    _ => b.append_null(),
                }
            }
        }
        if self.with_hash
            && let Some(ColumnBuilder::Hash(b)) = rest.next()
        {
            let hash = hash.unwrap_or_else(|| row_hash(row));
            b.append_value(hash.to_le_bytes())
                .expect("a 16-byte hash fits FixedSizeBinary(16)");
        }
        if let Some(ColumnBuilder::Int(b)) = rest.next() {
            b.append_value(seq as i64);
        }
        if let Some(ColumnBuilder::Int(b)) = rest.next() {
            b.append_value(line as i64);
        }
    }

    /// The rows appended since the last batch, as one; the builders start
    /// again with room for a batch as large (growing them row by row
    /// copies every buffer several times).
    pub(crate) fn finish(&mut self) -> Result<RecordBatch> {
        let rows = self.len();
        let fields = self.schema.fields();
        let arrays = self
            .columns
            .iter_mut()
            .zip(fields.iter())
            .map(|(column, field)| {
                let bytes = column.text_bytes();
                let array = column.finish();
                *column = ColumnBuilder::for_type(field.data_type(), rows, bytes);
                array
            })
            .collect();
        Ok(RecordBatch::try_new(self.schema.clone(), arrays)?)
    }
}
