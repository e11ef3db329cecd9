//! Lake files as DataFusion tables.

use std::sync::Arc;

use arrow::datatypes::{DataType, SchemaRef};

use crate::error::{Error, Result};
use crate::lake::{Manifest, QUARANTINE, quarantine_schema};
use crate::spec::feeds::Feed;
use crate::storage::Location;
use crate::storage::parquet::with_text_as;

/// Registers the committed lake in a DataFusion session: one table per feed
/// (named as the feed) over exactly the files the manifest lists, with the
/// declared schema, and `quarantine` over every quarantine file. A
/// bucket's client is registered for the tables' scans.
pub async fn register_tables(
    ctx: &datafusion::prelude::SessionContext,
    location: &Location,
    manifest: &Manifest,
) -> Result<()> {
    register_store(ctx, location)?;
    for def in crate::spec::feeds::ALL_FEEDS {
        let files: Vec<&str> = manifest
            .data_files(def.feed)
            .into_iter()
            .map(|f| f.path.as_str())
            .collect();
        register_parquet(ctx, location, def.name, &files, read_schema(def))?;
    }
    register_parquet(
        ctx,
        location,
        QUARANTINE,
        &manifest.quarantine_files(),
        quarantine_schema(),
    )?;
    Ok(())
}

/// Gives the session a client of its own for a bucket's files (a folder's
/// need none).
fn register_store(ctx: &datafusion::prelude::SessionContext, location: &Location) -> Result<()> {
    if let Location::Bucket(bucket) = location {
        let url = datafusion::execution::object_store::ObjectStoreUrl::parse(bucket.store_url())?;
        ctx.register_object_store(url.as_ref(), bucket.new_store()?);
    }
    Ok(())
}

/// A table over a fixed list of Parquet files; empty when there are none.
fn register_parquet(
    ctx: &datafusion::prelude::SessionContext,
    location: &Location,
    name: &str,
    files: &[&str],
    schema: arrow::datatypes::SchemaRef,
) -> Result<()> {
    ctx.deregister_table(name)?;
    ctx.register_table(name, parquet_table(location, files, schema)?)?;
    Ok(())
}

/// A table over Parquet files under `location`; empty when there are none.
/// A bucket's files are read through the store `session::open` registers.
pub(crate) fn parquet_table(
    location: &Location,
    files: &[&str],
    schema: arrow::datatypes::SchemaRef,
) -> Result<std::sync::Arc<dyn datafusion::catalog::TableProvider>> {
    use datafusion::datasource::MemTable;
    use datafusion::datasource::file_format::parquet::ParquetFormat;
    use datafusion::datasource::listing::{
        ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl,
    };
    use std::sync::Arc;

    if files.is_empty() {
        return Ok(Arc::new(MemTable::try_new(schema, vec![vec![]])?));
    }
    let urls = match location {
        Location::Folder(root) => {
            let root = root.canonicalize().map_err(|e| Error::io(root, e))?;
            files
                .iter()
                .map(|f| ListingTableUrl::parse(root.join(f).to_string_lossy()))
                .collect::<datafusion::error::Result<Vec<_>>>()?
        }
        Location::Bucket(bucket) => files
            .iter()
            .map(|f| ListingTableUrl::parse(bucket.url_of(f)))
            .collect::<datafusion::error::Result<Vec<_>>>()?,
    };
    let options =
        ListingOptions::new(Arc::new(ParquetFormat::default())).with_file_extension(".parquet");
    let config = ListingTableConfig::new_with_multi_paths(urls)
        .with_listing_options(options)
        .with_schema(schema);
    Ok(Arc::new(ListingTable::try_new(config)?))
}

/// The schema a feed's table is read with. Dossier text is read as
/// `Utf8View`: the Parquet reader then leaves short strings in place instead
/// of copying every value into one buffer per column (less CPU for the KPI
/// job; README "Design measurements"). The event logs keep `Utf8`: their ids
/// are hash-join keys, and a join's build side of filtered views would hold
/// every decoded buffer they point into — too much memory at 10 M dossiers.
/// Files motcua writes hold plain `Utf8` either way.
pub fn read_schema(def: &crate::spec::feeds::FeedDef) -> SchemaRef {
    let schema = def.lake_schema();
    if def.feed == Feed::Dossiers {
        with_text_as(&schema, &DataType::Utf8, &DataType::Utf8View)
    } else {
        schema
    }
}

/// Registers the published outputs under OUT as tables: `kpi_values`, with
/// `period_grain` read back from its Hive folders, and
/// `kpi_values_restated`, with `units_as_of` too. Returns which of them are
/// published.
pub(crate) async fn register_outputs(
    ctx: &datafusion::prelude::SessionContext,
    out: &Location,
) -> Result<Published> {
    use crate::publish::dataset::{DATASET, RESTATED};
    register_store(ctx, out)?;
    let grain = ("period_grain".to_string(), DataType::Utf8);
    let as_of = ("units_as_of".to_string(), DataType::Date32);
    Ok(Published {
        kpi_values: register_dataset(ctx, out, DATASET, vec![grain.clone()]).await?,
        restated: register_dataset(ctx, out, RESTATED, vec![as_of, grain]).await?,
    })
}

/// Which output datasets are published: the version folder each table
/// reads (the one `OUT/<name>` pointed at when it was registered).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Published {
    pub(crate) kpi_values: Option<std::path::PathBuf>,
    pub(crate) restated: Option<std::path::PathBuf>,
}

impl Published {
    /// The versions `OUT` points at now, without registering anything.
    pub(crate) fn now(out: &Location) -> Result<Published> {
        use crate::publish::dataset::{DATASET, RESTATED};
        Ok(Published {
            kpi_values: published_version(out, DATASET)?.map(|v| v.shown),
            restated: published_version(out, RESTATED)?.map(|v| v.shown),
        })
    }
}

/// A published version of an output: how messages name it, and the URL
/// its table reads.
struct PublishedVersion {
    shown: std::path::PathBuf,
    url: String,
}

/// The version `OUT/<name>` points at; None when nothing complete is
/// published there.
fn published_version(out: &Location, name: &str) -> Result<Option<PublishedVersion>> {
    match out {
        // Through the symlink, or a folder copied whole in its place.
        Location::Folder(root) => {
            let dataset = root.join(name);
            if !dataset.join("_SUCCESS").exists() {
                return Ok(None);
            }
            let dir = dataset.canonicalize().map_err(|e| Error::io(&dataset, e))?;
            Ok(Some(PublishedVersion {
                url: format!("{}/", dir.display()),
                shown: dir,
            }))
        }
        Location::Bucket(bucket) => {
            let Some(version) = crate::publish::dataset::current_version(out, name)? else {
                return Ok(None);
            };
            if out.read(&format!("{version}/_SUCCESS"))?.is_none() {
                return Ok(None);
            }
            Ok(Some(PublishedVersion {
                shown: out.shown(&version),
                url: format!("{}/", bucket.url_of(&version)),
            }))
        }
    }
}

/// Registers `OUT/<name>` as table `<name>`, with its Hive partition
/// columns; the version it reads, None when nothing is published there.
async fn register_dataset(
    ctx: &datafusion::prelude::SessionContext,
    out: &Location,
    name: &str,
    partitions: Vec<(String, DataType)>,
) -> Result<Option<std::path::PathBuf>> {
    use datafusion::datasource::file_format::parquet::ParquetFormat;
    use datafusion::datasource::listing::{
        ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl,
    };
    let Some(version) = published_version(out, name)? else {
        return Ok(None);
    };
    let url = ListingTableUrl::parse(&version.url)?;
    let options = ListingOptions::new(Arc::new(ParquetFormat::default()))
        .with_file_extension(".parquet")
        .with_table_partition_cols(partitions);
    let schema = options.infer_schema(&ctx.state(), &url).await?;
    let config = ListingTableConfig::new(url)
        .with_listing_options(options)
        .with_schema(schema);
    ctx.register_table(name, Arc::new(ListingTable::try_new(config)?))?;
    Ok(Some(version.shown))
}
