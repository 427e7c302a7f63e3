//! A local warehouse whose reads are memory-mapped. object_store's `LocalFileSystem` reads every
//! requested range into a fresh buffer: for the Parquet column chunks the models read (megabytes
//! each), the kernel zeroes new pages for that buffer and then copies the page cache into it;
//! in the 1M-event build that zeroing alone (`clear_page_erms` under
//! `object_store::local::read_range`) was 7.7% of the models' CPU samples. Mapped, the reader
//! decodes the page cache's own pages. Everything but reads is `LocalFileSystem`'s.
//!
//! Warehouse files are written whole to a temporary name and renamed (never truncated in
//! place), so a mapped file stays what it was while it is read, even if a later run replaces
//! or deletes it.

use std::fmt;
use std::fs::File;
use std::ops::Range;
use std::path::Path as FsPath;

use bytes::Bytes;
use futures::stream::BoxStream;
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::{
    CopyOptions, GetOptions, GetResult, GetResultPayload, ListResult, MultipartUpload, ObjectMeta,
    ObjectStore, PutMultipartOptions, PutOptions, PutPayload, PutResult, RenameOptions, Result,
};

/// [`LocalFileSystem`] with memory-mapped reads.
#[derive(Debug, Default)]
pub struct MappedLocalStore {
    inner: LocalFileSystem,
}

impl MappedLocalStore {
    pub fn new() -> Self {
        MappedLocalStore {
            inner: LocalFileSystem::new(),
        }
    }
}

impl fmt::Display for MappedLocalStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MappedLocalStore({})", self.inner)
    }
}

/// An error of this store about the file at `path`.
fn error(path: &FsPath, message: impl fmt::Display) -> object_store::Error {
    object_store::Error::Generic {
        store: "MappedLocalStore",
        source: format!("{}: {message}", path.display()).into(),
    }
}

/// The bytes of `ranges` of `file` (at `path`, for errors; `len` bytes long), as slices of one
/// mapping.
fn map_ranges(file: &File, path: &FsPath, len: u64, ranges: &[Range<u64>]) -> Result<Vec<Bytes>> {
    if let Some(r) = ranges.iter().find(|r| r.end > len || r.start > r.end) {
        return Err(error(
            path,
            format!("range {r:?} outside a file of {len} bytes"),
        ));
    }
    if len == 0 {
        return Ok(ranges.iter().map(|_| Bytes::new()).collect());
    }
    // SAFETY: read-only, of a file written whole and renamed into place (see the module doc).
    let map = unsafe { memmap2::Mmap::map(file) }.map_err(|e| error(path, e))?;
    let all = Bytes::from_owner(map);
    Ok(ranges
        .iter()
        .map(|r| all.slice(r.start as usize..r.end as usize))
        .collect())
}

#[async_trait::async_trait]
impl ObjectStore for MappedLocalStore {
    async fn put_opts(
        &self,
        location: &Path,
        payload: PutPayload,
        opts: PutOptions,
    ) -> Result<PutResult> {
        self.inner.put_opts(location, payload, opts).await
    }

    async fn put_multipart_opts(
        &self,
        location: &Path,
        opts: PutMultipartOptions,
    ) -> Result<Box<dyn MultipartUpload>> {
        self.inner.put_multipart_opts(location, opts).await
    }

    async fn get_opts(&self, location: &Path, options: GetOptions) -> Result<GetResult> {
        let head = options.head;
        let got = self.inner.get_opts(location, options).await?;
        match got.payload {
            GetResultPayload::File(file, path) if !head => {
                // The inner store has opened and measured the file and checked the range.
                let range = got.range.clone();
                let bytes = map_ranges(&file, &path, got.meta.size, std::slice::from_ref(&range))?
                    .remove(0);
                let stream = futures::stream::once(async move { Ok(bytes) });
                Ok(GetResult {
                    payload: GetResultPayload::Stream(Box::pin(stream)),
                    ..got
                })
            }
            payload => Ok(GetResult { payload, ..got }),
        }
    }

    async fn get_ranges(&self, location: &Path, ranges: &[Range<u64>]) -> Result<Vec<Bytes>> {
        let path = self.inner.path_to_filesystem(location)?;
        let file = File::open(&path).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => object_store::Error::NotFound {
                path: path.display().to_string(),
                source: e.into(),
            },
            _ => error(&path, e),
        })?;
        let len = file.metadata().map_err(|e| error(&path, e))?.len();
        map_ranges(&file, &path, len, ranges)
    }

    fn delete_stream(
        &self,
        locations: BoxStream<'static, Result<Path>>,
    ) -> BoxStream<'static, Result<Path>> {
        self.inner.delete_stream(locations)
    }

    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, Result<ObjectMeta>> {
        self.inner.list(prefix)
    }

    fn list_with_offset(
        &self,
        prefix: Option<&Path>,
        offset: &Path,
    ) -> BoxStream<'static, Result<ObjectMeta>> {
        self.inner.list_with_offset(prefix, offset)
    }

    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> Result<ListResult> {
        self.inner.list_with_delimiter(prefix).await
    }

    async fn copy_opts(&self, from: &Path, to: &Path, options: CopyOptions) -> Result<()> {
        self.inner.copy_opts(from, to, options).await
    }

    async fn rename_opts(&self, from: &Path, to: &Path, options: RenameOptions) -> Result<()> {
        self.inner.rename_opts(from, to, options).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use object_store::{ObjectStoreExt, PutPayload};

    #[tokio::test]
    async fn mapped_reads_are_the_bytes_written() {
        let dir = tempfile::tempdir().unwrap();
        let store = MappedLocalStore::new();
        let file = dir.path().join("a.bin");
        let location = Path::from_absolute_path(&file).unwrap();
        let body: Vec<u8> = (0..10_000u32).map(|i| (i % 251) as u8).collect();
        store
            .put(&location, PutPayload::from(body.clone()))
            .await
            .unwrap();
        let whole = store.get(&location).await.unwrap().bytes().await.unwrap();
        assert_eq!(whole.as_ref(), body.as_slice());
        let part = store.get_range(&location, 17..4_117).await.unwrap();
        assert_eq!(part.as_ref(), &body[17..4_117]);
        let parts = store
            .get_ranges(&location, &[0..1, 9_999..10_000, 5..5])
            .await
            .unwrap();
        assert_eq!(parts[0].as_ref(), &body[0..1]);
        assert_eq!(parts[1].as_ref(), &body[9_999..10_000]);
        assert!(parts[2].is_empty());
        let meta = store.head(&location).await.unwrap();
        assert_eq!(meta.size, 10_000);
    }

    #[tokio::test]
    async fn a_range_past_the_end_and_a_missing_file_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        let store = MappedLocalStore::new();
        let location = Path::from_absolute_path(dir.path().join("b.bin")).unwrap();
        let missing = store.get_ranges(&location, &[0..1]).await.unwrap_err();
        assert!(
            matches!(missing, object_store::Error::NotFound { .. }),
            "{missing}"
        );
        store
            .put(&location, PutPayload::from(vec![1u8; 10]))
            .await
            .unwrap();
        let past = store.get_ranges(&location, &[5..11]).await.unwrap_err();
        assert!(
            past.to_string().contains("outside a file of 10 bytes"),
            "{past}"
        );
        let empty = Path::from_absolute_path(dir.path().join("c.bin")).unwrap();
        store
            .put(&empty, PutPayload::from(Vec::<u8>::new()))
            .await
            .unwrap();
        assert!(store
            .get(&empty)
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap()
            .is_empty());
    }
}
