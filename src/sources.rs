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
        return std::fs::read(local)
            .map(Bytes::from)
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
