//! What a plan carries to the scheduler and the executors beyond what
//! DataFusion and Ballista serialize themselves: motcua's functions, as
//! what each is rebuilt from, and in-memory tables (the calendar, the KPI
//! catalog, the unit roll-up), as Arrow IPC. Everything else goes to
//! Ballista's codecs.

use std::sync::Arc;

use datafusion::catalog::TableProvider;
use datafusion::common::TableReference;
use datafusion::datasource::MemTable;
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::TaskContext;
use datafusion::logical_expr::{Extension, LogicalPlan, ScalarUDF};
use datafusion::physical_plan::ExecutionPlan;
use datafusion_proto::logical_plan::LogicalExtensionCodec;
use datafusion_proto::physical_plan::{PhysicalExtensionCodec, PhysicalProtoConverterExtension};

use ballista_core::serde::{BallistaLogicalExtensionCodec, BallistaPhysicalExtensionCodec};

use crate::sql::session::{IndexSource, IsCurrentSnapshot};
use crate::sql::unit_tables::UnitEra;

/// Whether `udf` is one of motcua's functions (which Ballista's session
/// set-up drops from a session).
pub(crate) fn is_motcua_function(udf: &ScalarUDF) -> bool {
    udf.inner().downcast_ref::<IsCurrentSnapshot>().is_some()
        || udf.inner().downcast_ref::<UnitEra>().is_some()
}

/// A motcua function as it travels.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
enum Function {
    IsCurrentSnapshot(IndexSource),
    UnitEra(Vec<i32>),
}

/// Writes what `udf` is rebuilt from; nothing for DataFusion's own
/// functions, which travel by name.
fn encode_function(udf: &ScalarUDF, buf: &mut Vec<u8>) -> Result<()> {
    let function = if let Some(f) = udf.inner().downcast_ref::<IsCurrentSnapshot>() {
        Function::IsCurrentSnapshot(f.source().clone())
    } else if let Some(f) = udf.inner().downcast_ref::<UnitEra>() {
        Function::UnitEra(f.starts().to_vec())
    } else {
        return Ok(());
    };
    serde_json::to_writer(buf, &function).map_err(|e| DataFusionError::External(Box::new(e)))
}

/// The function `encode_function` wrote; None when `buf` is empty (a
/// function that travels by name).
fn decode_function(name: &str, buf: &[u8]) -> Result<Option<Arc<ScalarUDF>>> {
    if buf.is_empty() {
        return Ok(None);
    }
    let function: Function = serde_json::from_slice(buf).map_err(|e| {
        DataFusionError::Internal(format!("function {name} arrived unreadable: {e}"))
    })?;
    Ok(Some(Arc::new(match function {
        Function::IsCurrentSnapshot(source) => {
            ScalarUDF::new_from_impl(IsCurrentSnapshot::from_source(source))
        }
        Function::UnitEra(starts) => ScalarUDF::new_from_impl(UnitEra::new(starts)),
    })))
}

/// An in-memory table's rows as one Arrow IPC stream; false for any
/// other table.
fn encode_memory_table(table: &dyn TableProvider, buf: &mut Vec<u8>) -> Result<bool> {
    let Some(table) = table.downcast_ref::<MemTable>() else {
        return Ok(false);
    };
    let schema = table.schema();
    let mut writer = arrow::ipc::writer::StreamWriter::try_new(buf, &schema)?;
    for partition in &table.batches {
        let batches = partition.try_read().map_err(|_| {
            DataFusionError::Internal("an in-memory table is being written to".into())
        })?;
        for batch in batches.iter() {
            writer.write(batch)?;
        }
    }
    writer.finish()?;
    Ok(true)
}

fn decode_memory_table(buf: &[u8], schema: arrow::datatypes::SchemaRef) -> Result<MemTable> {
    let reader = arrow::ipc::reader::StreamReader::try_new(buf, None)?;
    let batches = reader.collect::<std::result::Result<Vec<_>, _>>()?;
    MemTable::try_new(schema, vec![batches])
}

/// Logical plans, from a client to the scheduler.
#[derive(Debug, Default)]
pub(crate) struct LogicalCodec {
    ballista: BallistaLogicalExtensionCodec,
}

impl LogicalExtensionCodec for LogicalCodec {
    fn try_decode(
        &self,
        buf: &[u8],
        inputs: &[LogicalPlan],
        ctx: &TaskContext,
    ) -> Result<Extension> {
        self.ballista.try_decode(buf, inputs, ctx)
    }

    fn try_encode(&self, node: &Extension, buf: &mut Vec<u8>) -> Result<()> {
        self.ballista.try_encode(node, buf)
    }

    fn try_decode_table_provider(
        &self,
        buf: &[u8],
        table_ref: &TableReference,
        schema: arrow::datatypes::SchemaRef,
        _ctx: &TaskContext,
    ) -> Result<Arc<dyn TableProvider>> {
        decode_memory_table(buf, schema)
            .map(|t| Arc::new(t) as Arc<dyn TableProvider>)
            .map_err(|e| e.context(format!("table {table_ref}")))
    }

    fn try_encode_table_provider(
        &self,
        table_ref: &TableReference,
        node: Arc<dyn TableProvider>,
        buf: &mut Vec<u8>,
    ) -> Result<()> {
        if encode_memory_table(node.as_ref(), buf)? {
            return Ok(());
        }
        self.ballista
            .try_encode_table_provider(table_ref, node, buf)
    }

    fn try_decode_file_format(
        &self,
        buf: &[u8],
        ctx: &TaskContext,
    ) -> Result<Arc<dyn datafusion::datasource::file_format::FileFormatFactory>> {
        self.ballista.try_decode_file_format(buf, ctx)
    }

    fn try_encode_file_format(
        &self,
        buf: &mut Vec<u8>,
        node: Arc<dyn datafusion::datasource::file_format::FileFormatFactory>,
    ) -> Result<()> {
        self.ballista.try_encode_file_format(buf, node)
    }

    fn try_decode_udf(&self, name: &str, buf: &[u8]) -> Result<Arc<ScalarUDF>> {
        decode_function(name, buf)?.map_or_else(|| self.ballista.try_decode_udf(name, buf), Ok)
    }

    fn try_encode_udf(&self, node: &ScalarUDF, buf: &mut Vec<u8>) -> Result<()> {
        encode_function(node, buf)
    }
}

/// Physical plans, from the scheduler to the executors.
#[derive(Debug, Default)]
pub(crate) struct PhysicalCodec {
    ballista: BallistaPhysicalExtensionCodec,
}

impl PhysicalExtensionCodec for PhysicalCodec {
    fn try_decode(
        &self,
        buf: &[u8],
        inputs: &[Arc<dyn ExecutionPlan>],
        ctx: &TaskContext,
        proto_converter: &dyn PhysicalProtoConverterExtension,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        self.ballista.try_decode(buf, inputs, ctx, proto_converter)
    }

    fn try_encode(
        &self,
        node: Arc<dyn ExecutionPlan>,
        buf: &mut Vec<u8>,
        proto_converter: &dyn PhysicalProtoConverterExtension,
    ) -> Result<()> {
        self.ballista.try_encode(node, buf, proto_converter)
    }

    fn try_decode_udf(&self, name: &str, buf: &[u8]) -> Result<Arc<ScalarUDF>> {
        decode_function(name, buf)?.map_or_else(|| self.ballista.try_decode_udf(name, buf), Ok)
    }

    fn try_encode_udf(&self, node: &ScalarUDF, buf: &mut Vec<u8>) -> Result<()> {
        encode_function(node, buf)
    }
}
