//! The tables models read besides other models: the loaded tables (`raw/<table>/`) and any
//! folder of Parquet files; the `cfg_*` settings tables are in [`super::settings`].

use std::collections::BTreeSet;
use std::sync::Arc;

use arrow::datatypes::{DataType, SchemaRef};
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::{
    ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl,
};
use datafusion::prelude::SessionContext;

use crate::error::Result;
use crate::warehouse::{schema, Warehouse};

/// Registers a folder of Parquet files (possibly hive-partitioned) as a table. `schema` fixes
/// the schema (loaded tables, readable even when empty); `None` infers it.
pub async fn register_parquet_dir(
    ctx: &SessionContext,
    name: &str,
    url: &str,
    schema: Option<SchemaRef>,
    partition_cols: Vec<(String, DataType)>,
) -> Result<()> {
    let table_url = ListingTableUrl::parse(url)?;
    let options = ListingOptions::new(Arc::new(ParquetFormat::default()))
        .with_file_extension(".parquet")
        .with_table_partition_cols(partition_cols);
    let state = ctx.state();
    let schema = match schema {
        Some(s) => s,
        None => options.infer_schema(&state, &table_url).await?,
    };
    let config = ListingTableConfig::new(table_url)
        .with_listing_options(options)
        .with_schema(schema);
    ctx.deregister_table(name)?;
    ctx.register_table(name, Arc::new(ListingTable::try_new(config)?))?;
    Ok(())
}

/// Registers the loaded tables; returns their names.
pub async fn register_loaded(
    ctx: &SessionContext,
    warehouse: &Warehouse,
) -> Result<BTreeSet<String>> {
    let mut names = BTreeSet::new();
    for table in schema::TABLES {
        // A folder with no files yet reads as an empty table of the fixed schema (and, unlike an
        // in-memory table, can be shipped to Ballista executors).
        register_parquet_dir(
            ctx,
            table,
            &warehouse.url_of(&format!("raw/{table}/")),
            Some(schema::as_read(table)),
            vec![],
        )
        .await?;
        names.insert(table.to_string());
    }
    Ok(names)
}
