//! Write-audit-publish. A run builds every model under `_runs/<run_id>/marts/`; only when all
//! its data tests pass is the run published, at once:
//! - `_published.json` (the pointer every Clearsight reader follows) is written last, and
//! - on a local warehouse, `marts` is a symlink to the run's folder, swapped by one rename, so BI
//!   tools reading `<warehouse>/marts/<model>/v<version>/` never see a mix of two runs.
//! A failed or killed run never touches either: the last published mart stays readable.

use std::collections::BTreeMap;
use std::fs::File;
use std::path::PathBuf;

use bytes::Bytes;
use datafusion::arrow::datatypes::DataType;
use object_store::ObjectStoreExt;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::warehouse::Warehouse;

pub const POINTER: &str = "_published.json";

/// One published version of a model (its `_SUCCESS.json`): what was built, from what, by which run.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ModelVersion {
    pub model: String,
    pub version: u32,
    pub run_id: String,
    /// The run whose build produced these files (older than `run_id` when carried over).
    pub built_by: String,
    pub fingerprint: String,
    /// SQL, header and settings only (no input data): an incremental model whose definition is
    /// unchanged may rebuild just the days of new files.
    #[serde(default)]
    pub definition_fingerprint: String,
    pub input_fingerprints: BTreeMap<String, String>,
    /// Files of the loaded tables the build read.
    #[serde(default)]
    pub input_files: BTreeMap<String, Vec<String>>,
    /// For an incremental build: the partitions rebuilt (None: all of them).
    #[serde(default)]
    pub partitions_rebuilt: Option<Vec<String>>,
    pub rows: u64,
    pub schema_hash: String,
    pub partition_by: Option<String>,
    /// Arrow type of the partition column, for reading the hive folders back.
    pub partition_type: Option<PartitionType>,
}

/// The Arrow type of a hive partition column (in `_SUCCESS.json` as `"Date32"`, `"Int64"` or
/// `"Utf8"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum PartitionType {
    Date32,
    Int64,
    Utf8,
}

impl PartitionType {
    /// Dates and integers keep their type; anything else is read back as text.
    pub fn of(data_type: &DataType) -> Self {
        match data_type {
            DataType::Date32 => PartitionType::Date32,
            DataType::Int64 => PartitionType::Int64,
            _ => PartitionType::Utf8,
        }
    }

    pub fn data_type(self) -> DataType {
        match self {
            PartitionType::Date32 => DataType::Date32,
            PartitionType::Int64 => DataType::Int64,
            PartitionType::Utf8 => DataType::Utf8,
        }
    }
}

/// What `_published.json` says: the run that is live and its models.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Published {
    pub run_id: String,
    pub published_at: String,
    /// `<model>/v<version>` -> its success record.
    pub models: BTreeMap<String, ModelVersion>,
}

impl Published {
    pub async fn read(warehouse: &Warehouse) -> Result<Option<Published>> {
        match warehouse.get(POINTER).await? {
            None => Ok(None),
            Some(bytes) => serde_json::from_slice(&bytes).map(Some).map_err(|e| {
                Error::warehouse(warehouse.url_of(POINTER), format!("corrupt pointer: {e}"))
            }),
        }
    }

    /// The highest published version of each model: (model, `<model>/v<n>` key, record).
    pub fn latest_versions(&self) -> Vec<(&str, &String, &ModelVersion)> {
        let mut latest: BTreeMap<&str, (&String, &ModelVersion)> = BTreeMap::new();
        for (key, s) in &self.models {
            if latest
                .get(s.model.as_str())
                .is_none_or(|(_, o)| o.version < s.version)
            {
                latest.insert(&s.model, (key, s));
            }
        }
        latest
            .into_iter()
            .map(|(name, (key, s))| (name, key, s))
            .collect()
    }

    /// Folder (relative to the warehouse) of a published model version.
    pub fn dir_of(&self, key: &str) -> String {
        model_dir(&self.run_id, key)
    }
}

/// Folder (relative to the warehouse) of model version `key` (`<model>/v<n>`) in run `run_id`.
pub fn model_dir(run_id: &str, key: &str) -> String {
    format!("_runs/{run_id}/marts/{key}")
}

/// A new run id: UTC time, sortable, plus the process id.
pub fn new_run_id() -> String {
    format!(
        "{}-{}",
        chrono::Utc::now().format("%Y%m%dT%H%M%S%3fZ"),
        std::process::id()
    )
}

/// Copies every object of a published model version into the new run (a hard link locally).
pub async fn carry_over(warehouse: &Warehouse, from_dir: &str, to_dir: &str) -> Result<()> {
    for path in warehouse.list(from_dir).await? {
        let rest = path
            .strip_prefix(from_dir)
            .unwrap_or(&path)
            .trim_start_matches('/');
        let target = warehouse.path(&format!("{to_dir}/{rest}"));
        warehouse
            .store
            .copy(&warehouse.path(&path), &target)
            .await?;
    }
    Ok(())
}

/// Makes the run live: writes the pointer, then (local warehouse) swaps the `marts` symlink.
pub async fn publish(warehouse: &Warehouse, published: &Published) -> Result<()> {
    let body = serde_json::to_vec_pretty(published).expect("pointer serialises");
    if let Some(root) = local_root(warehouse) {
        let link = root.join("marts");
        if link.exists() && !link.is_symlink() {
            return Err(Error::warehouse(
                link.display().to_string(),
                "is a real folder; Clearsight publishes `marts` as a symlink to the live run (move it away)",
            ));
        }
        let tmp = root.join(format!(".marts.{}", published.run_id));
        let _ = std::fs::remove_file(&tmp);
        std::os::unix::fs::symlink(format!("_runs/{}/marts", published.run_id), &tmp)?;
        warehouse.put(POINTER, Bytes::from(body)).await?;
        std::fs::rename(&tmp, &link)?;
    } else {
        warehouse.put(POINTER, Bytes::from(body)).await?;
    }
    Ok(())
}

/// Deletes the folders of runs that are neither live nor the one before it (readers that
/// started on the previous run can finish).
pub async fn collect_garbage(warehouse: &Warehouse, keep: &[&str]) -> Result<()> {
    let mut runs: Vec<String> = warehouse
        .list("_runs/")
        .await?
        .into_iter()
        .filter_map(|p| {
            p.strip_prefix("_runs/")
                .and_then(|r| r.split('/').next())
                .map(str::to_string)
        })
        .collect();
    runs.dedup();
    for run in runs.iter().filter(|r| !keep.contains(&r.as_str())) {
        warehouse.delete_prefix(&format!("_runs/{run}/")).await?;
        if let Some(root) = local_root(warehouse) {
            let _ = std::fs::remove_dir_all(root.join("_runs").join(run));
        }
    }
    Ok(())
}

pub fn local_root(warehouse: &Warehouse) -> Option<PathBuf> {
    warehouse.url.strip_prefix("file://").map(PathBuf::from)
}

/// An exclusive build lock, held until dropped (or the process dies).
pub struct BuildLock {
    _file: File,
}

impl BuildLock {
    /// Takes the lock of a warehouse: a lock file in the warehouse folder, or in the project's
    /// `.clearsight/` folder for an object-store warehouse.
    pub fn acquire(warehouse: &Warehouse, project_dir: &std::path::Path) -> Result<BuildLock> {
        let dir = local_root(warehouse).unwrap_or_else(|| project_dir.join(".clearsight"));
        std::fs::create_dir_all(&dir)?;
        let path = dir.join("_build.lock");
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(&path)?;
        match file.try_lock() {
            Ok(()) => {
                use std::io::{Seek, Write};
                file.set_len(0)?;
                file.seek(std::io::SeekFrom::Start(0))?;
                writeln!(
                    file,
                    "pid {} since {}",
                    std::process::id(),
                    chrono::Utc::now().to_rfc3339()
                )?;
                Ok(BuildLock { _file: file })
            }
            Err(std::fs::TryLockError::WouldBlock) => {
                let holder = std::fs::read_to_string(&path)
                    .unwrap_or_default()
                    .trim()
                    .to_string();
                Err(Error::LockHeld { path, holder })
            }
            Err(std::fs::TryLockError::Error(e)) => Err(e.into()),
        }
    }
}
