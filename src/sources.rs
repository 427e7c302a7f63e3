//! Finding and reading input files: a local path or a URL, with `*` wildcards in the file name.

use std::path::Path;

use bytes::Bytes;
use object_store::path::Path as ObjectPath;
use object_store::ObjectStoreExt;

use crate::config::resolve_location;
use crate::error::{Error, Result};
use crate::warehouse::store_for;

/// One input file found for a source.
#[derive(Debug, Clone)]
pub struct InputFile {
    /// Full URL of the file.
    pub url: String,
    /// What messages show: the path as the user knows it.
    pub display: String,
    /// The file name alone; recorded in every row as `source_file`.
    pub name: String,
    /// Size, modification time and entity tag as the store listed them (see
    /// [`crate::load::seen`]).
    pub listed: Option<Listed>,
}

/// A file's size, modification time and entity tag, as listed.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Listed {
    pub size: u64,
    pub modified: chrono::DateTime<chrono::Utc>,
    pub e_tag: Option<String>,
}

/// `*` matches any run of characters, `?` one character.
pub fn wildcard_match(pattern: &str, name: &str) -> bool {
    fn go(p: &[char], n: &[char]) -> bool {
        match (p.first(), n.first()) {
            (None, None) => true,
            (Some('*'), _) => go(&p[1..], n) || (!n.is_empty() && go(p, &n[1..])),
            (Some('?'), Some(_)) => go(&p[1..], &n[1..]),
            (Some(a), Some(b)) if a == b => go(&p[1..], &n[1..]),
            _ => false,
        }
    }
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    go(&p, &n)
}

/// Every file matching a configured path, in file-name order (the order snapshots merge in).
pub async fn expand(project_dir: &Path, path: &str) -> Result<Vec<InputFile>> {
    let url = resolve_location(project_dir, path);
    let (dir_url, pattern) = url.rsplit_once('/').expect("a URL has a slash");
    let (store, dir) = store_for(dir_url)?;
    let listed: Vec<_> = store
        .list_with_delimiter(Some(&dir))
        .await
        .map(|l| l.objects)
        .map_err(|e| Error::UnreadableInput {
            file: path.to_string(),
            message: e.to_string(),
        })?;
    let mut files: Vec<InputFile> = listed
        .into_iter()
        .filter_map(|m| {
            let name = m.location.filename()?.to_string();
            wildcard_match(pattern, &name).then(|| InputFile {
                url: format!("{dir_url}/{name}"),
                display: if path.contains("://") {
                    format!("{dir_url}/{name}")
                } else {
                    Path::new(path).with_file_name(&name).display().to_string()
                },
                name,
                listed: Some(Listed {
                    size: m.size,
                    modified: m.last_modified,
                    e_tag: m.e_tag.clone(),
                }),
            })
        })
        .collect();
    files.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(files)
}

/// The whole content of an input file.
pub async fn read_input(input: &InputFile) -> Result<Bytes> {
    let unreadable = |message: String| Error::UnreadableInput {
        file: input.display.clone(),
        message,
    };
    if let Some(local) = input.url.strip_prefix("file://") {
        // Mapping populates the pages: off the async workers, like the parse.
        let path = Path::new(local).to_path_buf();
        return tokio::task::spawn_blocking(move || read_local(&path))
            .await
            .map_err(|e| unreadable(e.to_string()))?
            .map_err(|e| unreadable(e.to_string()));
    }
    let (dir_url, name) = input.url.rsplit_once('/').expect("a URL has a slash");
    let (store, dir) = store_for(dir_url)?;
    let path: ObjectPath = dir.join(name);
    let got = store
        .get(&path)
        .await
        .map_err(|e| unreadable(e.to_string()))?;
    got.bytes().await.map_err(|e| unreadable(e.to_string()))
}

/// Files from this size on are memory-mapped rather than read.
const MAP_FROM: u64 = 1 << 20;

/// A local file's bytes. A file of a megabyte or more is mapped: the loader parses the page
/// cache's own pages instead of a copy in a fresh buffer (that the kernel must first zero),
/// which for a day of GA4 events is hundreds of megabytes per file. Smaller files are read.
fn read_local(path: &Path) -> std::io::Result<Bytes> {
    let file = std::fs::File::open(path)?;
    if file.metadata()?.len() < MAP_FROM {
        return std::fs::read(path).map(Bytes::from);
    }
    // SAFETY: the map is read-only. As for every reader that maps files (ripgrep), a file
    // truncated by another process while it is being loaded would fault the loader; export
    // files are written once, then read.
    let map = unsafe { memmap2::MmapOptions::new().populate().map(&file)? };
    Ok(Bytes::from_owner(map))
}

#[cfg(test)]
mod tests {
    use super::wildcard_match;

    #[test]
    fn star_matches_any_run_and_question_mark_one_character() {
        assert!(wildcard_match("events_*.json", "events_20240301.json"));
        assert!(wildcard_match("events_*.json", "events_.json"));
        assert!(!wildcard_match("events_*.json", "events_20240301.json.gz"));
        assert!(wildcard_match("sf_leads_202?.csv", "sf_leads_2024.csv"));
        assert!(!wildcard_match("sf_leads_202?.csv", "sf_leads_20245.csv"));
        assert!(wildcard_match("*", ""));
        assert!(wildcard_match("a*b*c", "a-b-x-c"));
        assert!(!wildcard_match("a*b*c", "a-c-b"));
    }
}
