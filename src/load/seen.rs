//! The files the loader has seen, by location: size, modification time and content hash, kept
//! in `_loads/seen.json`. A file listed again with the same size and modification time is taken
//! to hold the same bytes, so a nightly load skips the whole history without reading it (git's
//! index and rsync's quick check trust a file's stat the same way). Without it a nightly load at
//! 10M events hashed 12.9 GB of old exports to find one new day (3 s from the page cache,
//! minutes from disk).
//!
//! Two guards. A file modified less than [`RACY_SECONDS`] before it was recorded is not trusted
//! (it may have been written again within the same timestamp: git's "racy" entries), and
//! `--rehash` ignores the record and hashes every file.

use std::collections::BTreeMap;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::sources::{InputFile, Listed};
use crate::warehouse::Warehouse;

const SEEN_PATH: &str = "_loads/seen.json";

/// Seconds between a file's modification and its recording below which the record is not
/// trusted.
pub const RACY_SECONDS: i64 = 2;

/// What was seen of one file: its listing (size, modification time, and the store's entity
/// tag when it gives one: object stores; inode, time and size locally), and its content.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Seen {
    #[serde(flatten)]
    pub listed: Listed,
    pub content_hash: String,
    pub recorded_at: DateTime<Utc>,
}

/// Every file seen, by URL.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct SeenFiles {
    files: BTreeMap<String, Seen>,
}

impl SeenFiles {
    /// The record in `warehouse`; none yet (or one that no longer parses) is an empty record,
    /// which only means every file is hashed once more.
    pub async fn read(warehouse: &Warehouse) -> Result<SeenFiles> {
        Ok(match warehouse.get(SEEN_PATH).await? {
            Some(bytes) => serde_json::from_slice(&bytes).unwrap_or_default(),
            None => SeenFiles::default(),
        })
    }

    pub async fn write(&self, warehouse: &Warehouse) -> Result<()> {
        let body = serde_json::to_vec_pretty(self)
            .map_err(|e| Error::warehouse(warehouse.url_of(SEEN_PATH), e))?;
        warehouse.put(SEEN_PATH, Bytes::from(body)).await
    }

    /// The content hash recorded for `input`, when its listing matches the record and the
    /// record is not racy.
    pub fn unchanged_hash(&self, input: &InputFile) -> Option<&str> {
        let seen = self.files.get(&input.url)?;
        let same = input.listed.as_ref() == Some(&seen.listed);
        let settled = (seen.recorded_at - seen.listed.modified).num_seconds() >= RACY_SECONDS;
        (same && settled).then_some(seen.content_hash.as_str())
    }

    /// Forgets the files not among `listed` (removed from the inputs, or no longer matched), so
    /// the record holds what the sources list today.
    pub fn keep_only<'a>(&mut self, listed: impl IntoIterator<Item = &'a InputFile>) {
        let urls: std::collections::BTreeSet<&str> =
            listed.into_iter().map(|i| i.url.as_str()).collect();
        self.files.retain(|url, _| urls.contains(url.as_str()));
    }

    /// Records `input` as holding the bytes of `content_hash`, as listed now.
    pub fn record(&mut self, input: &InputFile, content_hash: &str) {
        if let Some(listed) = &input.listed {
            self.files.insert(
                input.url.clone(),
                Seen {
                    listed: listed.clone(),
                    content_hash: content_hash.to_string(),
                    recorded_at: Utc::now(),
                },
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(size: u64, modified: DateTime<Utc>) -> InputFile {
        InputFile {
            url: "file:///exports/events_20240101.json".into(),
            display: "exports/events_20240101.json".into(),
            name: "events_20240101.json".into(),
            listed: Some(Listed {
                size,
                modified,
                e_tag: Some("tag".into()),
            }),
        }
    }

    #[test]
    fn a_file_listed_as_recorded_keeps_its_hash_and_any_change_drops_it() {
        let day_ago = Utc::now() - chrono::Duration::days(1);
        let mut seen = SeenFiles::default();
        seen.record(&input(100, day_ago), "abc");
        assert_eq!(seen.unchanged_hash(&input(100, day_ago)), Some("abc"));
        assert_eq!(seen.unchanged_hash(&input(101, day_ago)), None, "size");
        let later = day_ago + chrono::Duration::seconds(1);
        assert_eq!(seen.unchanged_hash(&input(100, later)), None, "time");
        let mut other_tag = input(100, day_ago);
        other_tag.listed.as_mut().unwrap().e_tag = Some("other".into());
        assert_eq!(seen.unchanged_hash(&other_tag), None, "entity tag");
        let mut elsewhere = input(100, day_ago);
        elsewhere.url = "file:///exports/copy/events_20240101.json".into();
        assert_eq!(seen.unchanged_hash(&elsewhere), None, "another location");
    }

    #[test]
    fn a_file_recorded_within_seconds_of_its_modification_is_hashed_again() {
        // Written, loaded, then written again in the same timestamp: the record cannot tell.
        let just_now = Utc::now();
        let mut seen = SeenFiles::default();
        seen.record(&input(100, just_now), "abc");
        assert_eq!(seen.unchanged_hash(&input(100, just_now)), None);
    }

    #[test]
    fn a_file_listed_without_its_metadata_is_never_trusted() {
        let mut seen = SeenFiles::default();
        let mut bare = input(100, Utc::now() - chrono::Duration::days(1));
        seen.record(&bare, "abc");
        bare.listed = None;
        assert_eq!(seen.unchanged_hash(&bare), None);
    }

    #[test]
    fn files_no_longer_listed_are_forgotten() {
        let day_ago = Utc::now() - chrono::Duration::days(1);
        let (kept, gone) = (input(100, day_ago), {
            let mut i = input(100, day_ago);
            i.url = "file:///exports/events_20231231.json".into();
            i
        });
        let mut seen = SeenFiles::default();
        seen.record(&kept, "abc");
        seen.record(&gone, "def");
        seen.keep_only([&kept]);
        assert_eq!(seen.unchanged_hash(&kept), Some("abc"));
        assert_eq!(seen.unchanged_hash(&gone), None);
    }
}
