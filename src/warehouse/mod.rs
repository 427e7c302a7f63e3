//! The warehouse: a local folder or any object store (file://, s3://, gs://, az://, memory://)
//! holding the loaded tables (`raw/`), the load manifest (`_loads/`) and the marts (`marts/`).
//! Every object is written whole (object_store's put is atomic: a local put writes a temporary
//! file and renames it), so a reader never sees half a file. [`schema`] holds the canonical
//! tables' schemas, written by the loader and read by the runner.

pub mod mapped;
pub mod schema;

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex};

use arrow::record_batch::RecordBatch;
use bytes::Bytes;
use futures::TryStreamExt;
use object_store::memory::InMemory;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::metadata::SortingColumn;
use parquet::file::properties::{EnabledStatistics, WriterProperties, WriterPropertiesBuilder};
use parquet::schema::types::ColumnPath;
use url::Url;

use crate::error::{Error, Result};

/// `memory://` stores live as long as the process, shared by every command in it.
static MEMORY_STORES: LazyLock<Mutex<HashMap<String, Arc<dyn ObjectStore>>>> =
    LazyLock::new(|| Mutex::new(HashMap::new()));

/// The object store and root path behind a location URL.
pub fn store_for(url: &str) -> Result<(Arc<dyn ObjectStore>, ObjectPath)> {
    let parsed = Url::parse(url).map_err(|e| Error::warehouse(url, format!("not a URL: {e}")))?;
    if parsed.scheme() == "memory" {
        let key = parsed.host_str().unwrap_or("").to_string();
        let store = MEMORY_STORES
            .lock()
            .unwrap()
            .entry(key)
            .or_insert_with(|| Arc::new(InMemory::new()))
            .clone();
        return Ok((store, ObjectPath::from(parsed.path())));
    }
    let (store, path) = object_store::parse_url_opts(&parsed, std::env::vars())
        .map_err(|e| Error::warehouse(url, e))?;
    if parsed.scheme() == "file" {
        return Ok((Arc::new(mapped::MappedLocalStore::new()), path));
    }
    Ok((Arc::from(store), path))
}

/// The URL of a store's root (scheme and authority), as DataFusion registers object stores.
pub fn store_root_url(url: &str) -> Result<Url> {
    let parsed = Url::parse(url).map_err(|e| Error::warehouse(url, format!("not a URL: {e}")))?;
    let root = format!("{}://{}", parsed.scheme(), parsed.host_str().unwrap_or(""));
    Url::parse(&root).map_err(|e| Error::warehouse(url, e))
}

#[derive(Debug, Clone)]
pub struct Warehouse {
    pub url: String,
    pub store: Arc<dyn ObjectStore>,
    root: ObjectPath,
}

impl Warehouse {
    /// Opens (and for a local folder, creates) the warehouse at `url`.
    pub fn open(url: &str) -> Result<Self> {
        if let Some(dir) = url.strip_prefix("file://") {
            std::fs::create_dir_all(dir).map_err(|e| Error::warehouse(url, e))?;
        }
        let (store, root) = store_for(url)?;
        Ok(Warehouse {
            url: url.trim_end_matches('/').to_string(),
            store,
            root,
        })
    }

    /// An object path under the warehouse root.
    pub fn path(&self, relative: &str) -> ObjectPath {
        let mut p = self.root.clone();
        for part in relative.split('/').filter(|s| !s.is_empty()) {
            p = p.clone().join(part);
        }
        p
    }

    /// The object path of a name as [`Warehouse::list`] gives it: already percent-encoded
    /// where a segment needed it, so not encoded again (as [`Warehouse::path`] would).
    pub fn listed_path(&self, relative: &str) -> Result<ObjectPath> {
        let root = self.root.as_ref();
        let full = if root.is_empty() {
            relative.to_string()
        } else {
            format!("{root}/{relative}")
        };
        ObjectPath::parse(full).map_err(|e| Error::warehouse(self.url_of(relative), e))
    }

    /// The URL of a folder under the warehouse, with a trailing slash (for listing tables).
    pub fn url_of(&self, relative: &str) -> String {
        format!("{}/{}/", self.url, relative.trim_matches('/'))
    }

    pub async fn put(&self, relative: &str, bytes: Bytes) -> Result<()> {
        let path = self.path(relative);
        self.store
            .put(&path, PutPayload::from(bytes))
            .await
            .map_err(|e| Error::warehouse(self.url_of(relative), e))?;
        Ok(())
    }

    pub async fn get(&self, relative: &str) -> Result<Option<Bytes>> {
        match self.store.get(&self.path(relative)).await {
            Ok(r) => Ok(Some(r.bytes().await?)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(Error::warehouse(self.url_of(relative), e)),
        }
    }

    pub async fn exists(&self, relative: &str) -> Result<bool> {
        match self.store.head(&self.path(relative)).await {
            Ok(_) => Ok(true),
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(e) => Err(Error::warehouse(self.url_of(relative), e)),
        }
    }

    /// Relative paths of every object under `prefix`, sorted.
    pub async fn list(&self, prefix: &str) -> Result<Vec<String>> {
        let base = self.path(prefix);
        let metas: Vec<_> = self
            .store
            .list(Some(&base))
            .try_collect()
            .await
            .map_err(|e| Error::warehouse(self.url_of(prefix), e))?;
        let root = self.root.as_ref();
        let mut out: Vec<String> = metas
            .into_iter()
            .map(|m| {
                let full = m.location.as_ref().to_string();
                full.strip_prefix(root)
                    .unwrap_or(&full)
                    .trim_start_matches('/')
                    .to_string()
            })
            .collect();
        out.sort();
        Ok(out)
    }

    pub async fn delete_prefix(&self, prefix: &str) -> Result<()> {
        for p in self.list(prefix).await? {
            self.store
                .delete(&self.listed_path(&p)?)
                .await
                .map_err(|e| Error::warehouse(self.url_of(&p), e))?;
        }
        Ok(())
    }
}

const COMPRESSION_VARIABLE: &str = "CLEARSIGHT_PARQUET_COMPRESSION";
const WORKING_COMPRESSION_VARIABLE: &str = "CLEARSIGHT_WORKING_COMPRESSION";

/// The Parquet compression of everything Clearsight writes, in DataFusion's spelling: `snappy`
/// (DuckDB's default too), or what `CLEARSIGHT_PARQUET_COMPRESSION` names (`zstd(1)`,
/// `lz4_raw`, `uncompressed`, ...; a knob for benchmarks, see docs/performance.md). It was
/// zstd(1) until the 1M build measured about 5% faster with snappy: parquet-rs makes a zstd
/// context per column chunk, and the warehouse has many small files (one per export day).
pub fn compression_setting() -> String {
    std::env::var(COMPRESSION_VARIABLE).unwrap_or_else(|_| "snappy".into())
}

/// The compression of the staging and intermediate models: the build's working files, each read
/// back by the models after it and by nobody else. `uncompressed`, unless
/// `CLEARSIGHT_WORKING_COMPRESSION` names another: at 10M events snappy's compression and
/// decompression were 8% of the models' CPU, for files about 1.6 times smaller
/// (docs/performance-issue13-s12-14.md, session 13). The marts, which BI tools read, keep
/// [`compression_setting`].
pub fn working_compression_setting() -> String {
    std::env::var(WORKING_COMPRESSION_VARIABLE).unwrap_or_else(|_| "uncompressed".into())
}

/// The codec `value` of the environment variable `variable` names: a usage error naming the
/// variable when the Parquet writer knows no such codec.
fn parse_compression(variable: &str, value: &str) -> Result<Compression> {
    value.parse::<Compression>().map_err(|e| Error::Config {
        file: format!("environment ({variable})"),
        message: format!("{value:?} is not a Parquet compression: {e}"),
    })
}

/// Both compression variables name a codec the Parquet writer knows: a usage error naming the
/// variable otherwise. Checked before a load or a session starts: a bad one failed the first
/// model's write, and the loader used snappy instead.
pub fn check_compression_settings() -> Result<()> {
    parse_compression(COMPRESSION_VARIABLE, &compression_setting())?;
    parse_compression(WORKING_COMPRESSION_VARIABLE, &working_compression_setting())?;
    Ok(())
}

/// Writer settings for everything Clearsight writes: [`compression_setting`], page statistics,
/// big row groups.
fn writer_properties_builder() -> Result<WriterPropertiesBuilder> {
    let compression = parse_compression(COMPRESSION_VARIABLE, &compression_setting())?;
    Ok(WriterProperties::builder()
        .set_compression(compression)
        .set_statistics_enabled(EnabledStatistics::Page)
        .set_max_row_group_row_count(Some(1_048_576)))
}

/// Encodes batches as one Parquet file in memory.
pub fn parquet_bytes(
    schema: arrow::datatypes::SchemaRef,
    batches: &[RecordBatch],
) -> Result<Bytes> {
    parquet_bytes_laid_out(schema, batches, &Layout::default())
}

/// How a loaded file's rows are laid out in its Parquet file.
#[derive(Debug, Clone, Copy, Default)]
pub struct Layout {
    /// The columns the rows are sorted by (ascending, nulls first), declared in the file's
    /// `sorting_columns`, which DataFusion reads back as the file's order.
    pub sorted_by: &'static [&'static str],
    /// Columns whose values are (nearly) all distinct, such as a line number: written plain.
    /// A dictionary of them costs an interning per value and saves nothing.
    pub distinct: &'static [&'static str],
    /// The only columns with statistics (min, max, nulls), when not every column: those a
    /// reader prunes or orders files by. The others' statistics cost a comparison per value.
    pub summarized: Option<&'static [&'static str]>,
}

/// Encodes batches as one Parquet file in memory, laid out as `layout` says (the batches are
/// already in its order).
pub fn parquet_bytes_laid_out(
    schema: arrow::datatypes::SchemaRef,
    batches: &[RecordBatch],
    layout: &Layout,
) -> Result<Bytes> {
    let sorting = layout
        .sorted_by
        .iter()
        .map(|name| {
            Ok(SortingColumn {
                column_idx: schema.index_of(name)? as i32,
                descending: false,
                nulls_first: true,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let mut properties = writer_properties_builder()?;
    for name in layout.distinct {
        properties = properties.set_column_dictionary_enabled(ColumnPath::from(*name), false);
    }
    if let Some(summarized) = layout.summarized {
        properties = properties.set_statistics_enabled(EnabledStatistics::None);
        for name in summarized {
            properties = properties
                .set_column_statistics_enabled(ColumnPath::from(*name), EnabledStatistics::Page);
        }
    }
    let properties = properties
        .set_sorting_columns((!sorting.is_empty()).then_some(sorting))
        .build();
    let mut buf = Vec::new();
    let mut writer = ArrowWriter::try_new(&mut buf, schema, Some(properties))?;
    for b in batches {
        writer.write(b)?;
    }
    writer.close()?;
    Ok(Bytes::from(buf))
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Int64Array, StringArray};
    use parquet::basic::Encoding;
    use parquet::file::reader::{FileReader, SerializedFileReader};

    #[test]
    fn a_layout_declares_its_order_and_writes_distinct_columns_without_a_dictionary_or_summary() {
        let batch = RecordBatch::try_from_iter([
            (
                "user",
                Arc::new(StringArray::from(vec!["a", "a", "b"])) as _,
            ),
            ("line", Arc::new(Int64Array::from(vec![3, 1, 2])) as _),
        ])
        .unwrap();
        let layout = Layout {
            sorted_by: &["user"],
            distinct: &["line"],
            summarized: Some(&["user"]),
        };
        let bytes = parquet_bytes_laid_out(batch.schema(), &[batch], &layout).unwrap();
        let file = SerializedFileReader::new(bytes).unwrap();
        let group = file.metadata().row_group(0);
        let encodings = |i: usize| group.column(i).encodings().collect::<Vec<_>>();
        assert!(encodings(0).contains(&Encoding::RLE_DICTIONARY));
        assert!(!encodings(1).contains(&Encoding::RLE_DICTIONARY));
        let sorting = group.sorting_columns().unwrap();
        assert_eq!(sorting.len(), 1);
        assert_eq!(sorting[0].column_idx, 0);
        let user = group
            .column(0)
            .statistics()
            .expect("the sort key's statistics");
        assert_eq!(user.min_bytes_opt(), Some(&b"a"[..]));
        assert_eq!(user.max_bytes_opt(), Some(&b"b"[..]));
        assert!(
            group.column(1).statistics().is_none(),
            "line is not summarized"
        );
    }
}
