//! `clearsight load`: every configured source to canonical Parquet tables in the warehouse.
//!
//! Each input file is hashed (xxh3-128 of its bytes). A file whose hash is already in the load
//! manifest (`_loads/<hash>.json`) is skipped, so loading twice adds nothing. Otherwise its
//! rows go to `raw/<table>/<hash>.parquet` and its rejected rows to
//! `raw/quarantine/<hash>.parquet`, then the manifest entry is written last.

pub mod crm;
pub mod csv_reader;
pub mod ga4;
pub mod numbers;
pub mod rows;
pub mod seen;
pub mod spend;
pub mod text;
pub mod values;

use std::time::Instant;

use arrow::array::RecordBatch;
use bytes::Bytes;
use futures::StreamExt;
use serde::{Deserialize, Serialize};

use crate::config::{Project, Source, SourceKind, SourcesConfig};
use crate::error::{Error, Result};
use crate::observe::{Event, Observer};
use crate::sources::{expand, read_input, InputFile};
use crate::warehouse::{parquet_bytes, parquet_bytes_laid_out, schema, Layout, Warehouse};
use csv_reader::CsvOutcome;
use rows::{Rejection, RowCollector};

/// One input file parsed: its canonical rows and its rejected rows.
pub struct Parsed {
    /// The canonical rows, in file order unless `layout.sorted_by` says otherwise.
    pub batches: Vec<RecordBatch>,
    pub rows_read: u64,
    pub rejections: Vec<Rejection>,
    /// The rows' order and encoding in the Parquet file.
    pub layout: Layout,
}

impl Parsed {
    /// Rows loaded.
    pub fn rows(&self) -> usize {
        self.batches.iter().map(RecordBatch::num_rows).sum()
    }

    fn new(rows: RowCollector, outcome: CsvOutcome) -> Result<Self, String> {
        Ok(Parsed {
            batches: vec![rows.finish().map_err(|e| e.to_string())?],
            rows_read: outcome.rows_read,
            rejections: outcome.rejections,
            layout: Layout::default(),
        })
    }
}

/// What loading one file did; also the manifest entry.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct FileLoad {
    pub file: String,
    pub kind: SourceKind,
    pub table: String,
    pub content_hash: String,
    pub bytes: u64,
    pub rows_read: u64,
    pub rows_loaded: u64,
    pub rows_quarantined: u64,
    /// Already in the manifest: nothing was written.
    pub skipped: bool,
    pub seconds: f64,
    /// The table's [`table_format`] the file was loaded in; a file loaded in an older one is
    /// read again (entries written before formats were numbered are format 1).
    #[serde(default = "first_format")]
    pub format: u32,
}

fn first_format() -> u32 {
    1
}

/// What the loader writes for a table, numbered: a new number when a table gains columns the
/// loader fills or a layout the models rely on, so older loads are redone (`ga_events` 2: the
/// URL traffic columns; 3: each file's events sorted by session, and that order declared).
pub fn table_format(table: &str) -> u32 {
    match table {
        "ga_events" => 3,
        _ => 1,
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct UnreadableFile {
    pub file: String,
    pub message: String,
}

/// The summary `clearsight load` prints (and `--json` emits).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct LoadReport {
    pub files: Vec<FileLoad>,
    pub unreadable: Vec<UnreadableFile>,
    pub seconds: f64,
}

impl LoadReport {
    pub fn total(&self, f: impl Fn(&FileLoad) -> u64) -> u64 {
        self.files.iter().filter(|l| !l.skipped).map(f).sum()
    }
}

/// Parses one file's bytes according to its source kind. Gzip is detected by its magic bytes
/// for every kind; CSV text by its BOM, the source's `encoding`, else UTF-8 or Windows-1252.
pub fn parse_file(
    source: &Source,
    cfg: &SourcesConfig,
    file_name: &str,
    bytes: Bytes,
) -> Result<Parsed, String> {
    match source.kind {
        SourceKind::Ga4Json => ga4::parse_json(file_name, bytes),
        SourceKind::Ga4Parquet => ga4::parse_parquet(file_name, text::decompress(bytes)?),
        kind => {
            let encoding = source
                .encoding
                .as_deref()
                .map(text::named_encoding)
                .transpose()?;
            let text = text::decode(&text::decompress(bytes)?, encoding);
            match kind {
                SourceKind::SalesforceLeads
                | SourceKind::SalesforceOpportunities
                | SourceKind::HubspotContacts
                | SourceKind::HubspotDeals => crm::parse(source, cfg, file_name, &text),
                _ => spend::parse(source, cfg, file_name, &text),
            }
        }
    }
}

fn quarantine_batch(
    file: &str,
    table: &str,
    hash: &str,
    rejections: &[Rejection],
) -> Result<RecordBatch> {
    use rows::Value::{Int, Text};
    let mut rows = RowCollector::new(schema::QUARANTINE.clone());
    for r in rejections {
        rows.push([
            ("source_file", Text(file.to_string())),
            ("target_table", Text(table.to_string())),
            ("line", Int(r.line as i64)),
            ("field", Text(r.field.clone())),
            ("reason", Text(r.reason.clone())),
            ("raw", Text(r.raw.clone())),
            ("content_hash", Text(hash.to_string())),
        ]);
    }
    Ok(rows.finish()?)
}

fn manifest_path(hash: &str) -> String {
    format!("_loads/{hash}.json")
}

async fn load_file(
    warehouse: &Warehouse,
    cfg: &SourcesConfig,
    source: &Source,
    input: &InputFile,
    known_hash: Option<&str>,
) -> Result<FileLoad> {
    let started = Instant::now();
    let table = source.kind.table();
    let entry = |hash: &str, bytes: u64| FileLoad {
        file: input.display.clone(),
        kind: source.kind,
        table: table.to_string(),
        content_hash: hash.to_string(),
        bytes,
        rows_read: 0,
        rows_loaded: 0,
        rows_quarantined: 0,
        skipped: false,
        // Reading (and hashing) so far; the whole file's time once written.
        seconds: started.elapsed().as_secs_f64(),
        format: table_format(table),
    };
    // Listed as when it was loaded: skipped without reading it (see `seen`).
    if let (Some(hash), Some(listed)) = (known_hash, &input.listed) {
        if let Loaded::Already(load) = loaded(warehouse, entry(hash, listed.size)).await? {
            return Ok(load);
        }
    }
    let bytes = read_input(input).await?;
    let size = bytes.len() as u64;
    // A GA4 day is hashed as it is parsed; its parse is wasted only when its content was
    // loaded before under another name or date. Any other file is hashed first.
    let (hash, parse) =
        match source.kind == SourceKind::Ga4Json && ga4::hashes_while_parsing(&bytes) {
            true => {
                let (encoded, hash) = parse_and_encode(cfg, source, input, bytes, None).await?;
                (hash, Parse::Done(encoded))
            }
            false => (
                content_hash(input, bytes.clone()).await?,
                Parse::ToDo(bytes),
            ),
        };
    let mut load = entry(&format!("{hash:032x}"), size);
    let reload = match loaded(warehouse, load.clone()).await? {
        Loaded::Already(load) => return Ok(load),
        Loaded::InOlderFormat => true,
        Loaded::Not => false,
    };
    let encoded = match parse {
        Parse::Done(encoded) => encoded,
        Parse::ToDo(bytes) => {
            let (encoded, _) = parse_and_encode(cfg, source, input, bytes, Some(hash)).await?;
            encoded
        }
    };
    write(warehouse, encoded, &mut load, reload).await?;
    load.seconds = started.elapsed().as_secs_f64();
    write_manifest_entry(warehouse, &load).await?;
    Ok(load)
}

/// A file's parse: done with its hash, or to do once the manifest says it is new.
enum Parse {
    Done(Encoded),
    ToDo(Bytes),
}

/// The xxh3-128 of a file's bytes, on the blocking pool.
async fn content_hash(input: &InputFile, bytes: Bytes) -> Result<u128> {
    tokio::task::spawn_blocking(move || twox_hash::XxHash3_128::oneshot(&bytes))
        .await
        .map_err(|e| Error::warehouse(&input.display, e))
}

/// Whether the content of a file was loaded before, by its manifest entry.
enum Loaded {
    /// Yes: `load` with the counts of then, skipped.
    Already(FileLoad),
    /// Yes, in an older [`table_format`]: to be loaded again.
    InOlderFormat,
    Not,
}

async fn loaded(warehouse: &Warehouse, mut load: FileLoad) -> Result<Loaded> {
    let path = manifest_path(&load.content_hash);
    let Some(previous) = warehouse.get(&path).await? else {
        return Ok(Loaded::Not);
    };
    let previous: FileLoad = serde_json::from_slice(&previous)
        .map_err(|e| Error::warehouse(warehouse.url_of(&path), e))?;
    if previous.format < load.format {
        return Ok(Loaded::InOlderFormat);
    }
    load.rows_read = previous.rows_read;
    load.rows_loaded = previous.rows_loaded;
    load.rows_quarantined = previous.rows_quarantined;
    load.skipped = true;
    Ok(Loaded::Already(load))
}

/// One file parsed and encoded: its counts and its Parquet files (none when empty).
struct Encoded {
    rows_read: u64,
    rows_loaded: u64,
    rows_quarantined: u64,
    rows: Option<Bytes>,
    quarantine: Option<Bytes>,
}

impl Encoded {
    /// Encodes `parsed` (rows and rejections of `file`, content `hash`) as Parquet files.
    fn of(parsed: Parsed, file: &str, table: &str, hash: &str) -> Result<Encoded> {
        let rows = match parsed.rows() {
            0 => None,
            _ => Some(parquet_bytes_laid_out(
                parsed.batches[0].schema(),
                &parsed.batches,
                &parsed.layout,
            )?),
        };
        let quarantine = match parsed.rejections.is_empty() {
            true => None,
            false => {
                let q = quarantine_batch(file, table, hash, &parsed.rejections)?;
                Some(parquet_bytes(q.schema(), &[q])?)
            }
        };
        Ok(Encoded {
            rows_read: parsed.rows_read,
            rows_loaded: parsed.rows() as u64,
            rows_quarantined: parsed.rejections.len() as u64,
            rows,
            quarantine,
        })
    }
}

/// Parses and encodes a file on the blocking pool: the two files loaded at once decode and
/// compress on both cores (the task that awaits them only writes). The file's content hash is
/// `hash`, or when `None` computed as it is parsed ([`ga4::parse_json_hashed`]).
async fn parse_and_encode(
    cfg: &SourcesConfig,
    source: &Source,
    input: &InputFile,
    bytes: Bytes,
    hash: Option<u128>,
) -> Result<(Encoded, u128)> {
    let (source, cfg, name) = (source.clone(), cfg.clone(), input.name.clone());
    tokio::task::spawn_blocking(move || {
        let (parsed, hash) = match hash {
            Some(hash) => (parse_file(&source, &cfg, &name, bytes)?, hash),
            None => ga4::parse_json_hashed(&name, &bytes)?,
        };
        let table = source.kind.table();
        Ok(Encoded::of(parsed, &name, table, &format!("{hash:032x}")).map(|e| (e, hash)))
    })
    .await
    .map_err(|e| Error::warehouse(&input.display, e))?
    .map_err(|message: String| Error::UnreadableInput {
        file: input.display.clone(),
        message,
    })?
}

/// Writes a parsed file's rows and quarantine and counts them in `load`. A `reload` (of a file
/// loaded in an older format) also removes what the new load no longer has.
async fn write(
    warehouse: &Warehouse,
    encoded: Encoded,
    load: &mut FileLoad,
    reload: bool,
) -> Result<()> {
    let (table, hash) = (&load.table, &load.content_hash);
    for (path, data) in [
        (format!("raw/{table}/{hash}.parquet"), encoded.rows),
        (format!("raw/quarantine/{hash}.parquet"), encoded.quarantine),
    ] {
        match data {
            Some(data) => warehouse.put(&path, data).await?,
            None if reload => warehouse.delete_prefix(&path).await?,
            None => {}
        }
    }
    load.rows_read = encoded.rows_read;
    load.rows_loaded = encoded.rows_loaded;
    load.rows_quarantined = encoded.rows_quarantined;
    Ok(())
}

/// The manifest entry of a loaded file, written after its rows: its presence says the load
/// is complete.
async fn write_manifest_entry(warehouse: &Warehouse, load: &FileLoad) -> Result<()> {
    let entry = serde_json::to_vec_pretty(load).expect("manifest entry serialises");
    warehouse
        .put(&manifest_path(&load.content_hash), Bytes::from(entry))
        .await
}

/// Every input file of every configured source; a source that matches none, or cannot be
/// listed, goes to the report's `unreadable`.
async fn list_inputs<'p>(
    project: &'p Project,
    report: &mut LoadReport,
) -> Vec<(&'p Source, InputFile)> {
    let mut work = Vec::new();
    for source in &project.sources.sources {
        match expand(&project.dir, &source.path).await {
            Ok(files) if files.is_empty() => report.unreadable.push(UnreadableFile {
                file: source.path.clone(),
                message: "no file matches this path".into(),
            }),
            Ok(files) => work.extend(files.into_iter().map(|f| (source, f))),
            Err(e) => report.unreadable.push(UnreadableFile {
                file: source.path.clone(),
                message: e.to_string(),
            }),
        }
    }
    work
}

/// Loads every configured source. Files that cannot be read at all are reported in
/// `unreadable`; rows that fail validation are quarantined and the rest of the file loads.
/// A file listed with the size and modification time it had when loaded is skipped without
/// being read, unless `rehash` ([`seen`]).
pub async fn load(
    project: &Project,
    warehouse: &Warehouse,
    observer: &dyn Observer,
    rehash: bool,
) -> Result<LoadReport> {
    crate::warehouse::check_compression_settings()?;
    let started = Instant::now();
    let mut seen = seen::SeenFiles::read(warehouse).await?;
    let mut report = LoadReport::default();
    let work = list_inputs(project, &mut report).await;
    let total = work.len();
    let cfg = &project.sources;
    let known: Vec<Option<String>> = (work.iter())
        .map(|(_, input)| match rehash {
            true => None,
            false => seen.unchanged_hash(input).map(str::to_string),
        })
        .collect();
    let mut results = futures::stream::iter(work.iter().zip(&known).map(
        |((source, input), hash)| async move {
            (
                input,
                load_file(warehouse, cfg, source, input, hash.as_deref()).await,
            )
        },
    ))
    .buffer_unordered(2);
    let mut done = 0;
    while let Some((input, result)) = results.next().await {
        done += 1;
        match result {
            Ok(load) => {
                if !load.skipped {
                    observer.event(&Event::FileLoaded {
                        done,
                        total,
                        load: &load,
                    });
                }
                seen.record(input, &load.content_hash);
                report.files.push(load);
            }
            Err(Error::UnreadableInput { file, message }) => {
                observer.event(&Event::FileUnreadable {
                    done,
                    total,
                    file: &file,
                    message: &message,
                });
                report.unreadable.push(UnreadableFile { file, message });
            }
            Err(other) => {
                observer.event(&Event::FileFailed {
                    done,
                    total,
                    file: &input.display,
                    message: &other.to_string(),
                });
                // The files loaded so far need not be read again on the next try.
                let _ = seen.write(warehouse).await;
                return Err(other);
            }
        }
    }
    // After every file's manifest entry, as those are; only the files listed today.
    seen.keep_only(work.iter().map(|(_, input)| input));
    seen.write(warehouse).await?;
    report.files.sort_by(|a, b| a.file.cmp(&b.file));
    let skipped = report.files.iter().filter(|f| f.skipped).count();
    if skipped > 0 {
        observer.event(&Event::FilesSkipped { skipped, total });
    }
    report.seconds = started.elapsed().as_secs_f64();
    Ok(report)
}
