//! Framing of a GA4 JSON export into records, each with the line it starts on: one object per
//! line (BigQuery's export), or one JSON array (the console's download); gzip is decompressed
//! as a stream, whole lines at a time, so a large `.json.gz` day needs no copy of itself. A
//! record that is not an event object is rejected at its line; the others load.

use std::io::Read;

use bytes::Bytes;
use serde_json::value::RawValue;
use twox_hash::XxHash3_128;

use super::event::ExportEvent;
use super::Flattener;
use crate::load::{text, Parsed};

/// Decompressed bytes read at a time from a gzip export.
const BLOCK: usize = 16 << 20;

/// Compressed files up to this size are decompressed whole (a few times this in memory).
const SMALL_GZIP: usize = 2 << 20;

/// Bytes of a plain export parsed at a time (whole lines), each block hashed just before when
/// the hash is wanted: small enough that the parse finds them in the cache the hash brought
/// them into.
const HASH_BLOCK: usize = 256 << 10;

/// Whether the first non-blank byte opens a JSON array.
fn is_array(bytes: &[u8]) -> bool {
    bytes.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'[')
}

struct Records {
    flat: Flattener,
    rows_read: u64,
    /// The line number of the next line fed.
    next_line: u64,
}

impl Records {
    fn new(file: &str) -> Self {
        Records {
            flat: Flattener::new(file),
            rows_read: 0,
            next_line: 1,
        }
    }

    /// One JSON object starting on `line`: an event, or a rejection saying why not.
    fn record(&mut self, bytes: &[u8], line: u64) {
        self.rows_read += 1;
        match ExportEvent::decode(bytes) {
            Ok(event) => self.flat.push(&event.into_row(), line),
            Err(err) => self
                .flat
                .reject(line, format!("not valid JSON: {err}"), bytes),
        }
    }

    /// Decodes whole lines (`buf` ends at a line end or at the end of the file).
    fn feed_lines(&mut self, buf: &[u8]) {
        let mut start = 0usize;
        while start < buf.len() {
            let end = memchr::memchr(b'\n', &buf[start..]).map_or(buf.len(), |i| start + i);
            let line = &buf[start..end];
            if line.iter().any(|b| !b.is_ascii_whitespace()) {
                self.record(line, self.next_line);
            }
            self.next_line += 1;
            start = end + 1;
        }
    }

    /// Decodes one JSON array: each element is a record on the line where it starts.
    fn feed_array(&mut self, body: &[u8]) -> Result<(), String> {
        let elements: Vec<&RawValue> = serde_json::from_slice(body)
            .map_err(|e| format!("not a valid JSON array of events: {e}"))?;
        let (mut counted_to, mut line) = (0usize, 1u64);
        for element in elements {
            let offset = element.get().as_ptr() as usize - body.as_ptr() as usize;
            line += memchr::memchr_iter(b'\n', &body[counted_to..offset]).count() as u64;
            counted_to = offset;
            self.record(element.get().as_bytes(), line);
        }
        Ok(())
    }

    fn finish(self) -> Parsed {
        self.flat.finish(self.rows_read)
    }
}

/// Feeds a decompressed stream block by block, cutting each block at its last line end.
fn feed_stream(records: &mut Records, mut reader: impl Read) -> Result<(), String> {
    let mut buf: Vec<u8> = Vec::with_capacity(BLOCK);
    let mut first = true;
    loop {
        let filled = buf.len();
        buf.resize(filled + BLOCK, 0);
        let n = read_full(&mut reader, &mut buf[filled..])?;
        buf.truncate(filled + n);
        let eof = n == 0;
        if first && is_array(&buf) {
            reader
                .read_to_end(&mut buf)
                .map_err(|e| format!("not a readable gzip file: {e}"))?;
            return records.feed_array(strip_bom(&buf));
        }
        first = false;
        let cut = if eof {
            buf.len()
        } else {
            match memchr::memrchr(b'\n', &buf) {
                Some(i) => i + 1,
                None => continue, // a line longer than a block: read more
            }
        };
        let skip = if records.next_line == 1 {
            bom_len(&buf)
        } else {
            0
        };
        records.feed_lines(&buf[skip..cut]);
        buf.drain(..cut);
        if eof {
            return Ok(());
        }
    }
}

fn read_full(reader: &mut impl Read, buf: &mut [u8]) -> Result<usize, String> {
    let mut filled = 0;
    while filled < buf.len() {
        match reader.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(format!("not a readable gzip file: {e}")),
        }
    }
    Ok(filled)
}

fn bom_len(bytes: &[u8]) -> usize {
    if bytes.starts_with(&[0xEF, 0xBB, 0xBF]) {
        3
    } else {
        0
    }
}

fn strip_bom(bytes: &[u8]) -> &[u8] {
    &bytes[bom_len(bytes)..]
}

/// Parses a GA4 JSON export: newline-delimited or one array, plain or gzip, UTF-8 (a UTF-16
/// file with a BOM is transcoded first).
pub fn parse_json(file: &str, bytes: Bytes) -> Result<Parsed, String> {
    let mut records = Records::new(file);
    if text::is_gzip(&bytes) {
        if bytes.len() <= SMALL_GZIP {
            // A small day: decompressed whole, like a plain file.
            let plain = text::decompress(bytes)?;
            feed_plain(&mut records, &plain, None)?;
        } else {
            feed_stream(&mut records, text::reader(bytes))?;
        }
    } else if is_utf16(&bytes) {
        let utf8 = text::decode(&bytes, None);
        feed_plain(&mut records, utf8.as_bytes(), None)?;
    } else {
        feed_plain(&mut records, &bytes, None)?;
    }
    Ok(records.finish())
}

/// Whether [`parse_json_hashed`] reads this file: plain UTF-8, not gzip or UTF-16, the shape
/// of nearly every day of a BigQuery export.
pub fn hashes_while_parsing(bytes: &[u8]) -> bool {
    !text::is_gzip(bytes) && !is_utf16(bytes)
}

fn is_utf16(bytes: &[u8]) -> bool {
    bytes.starts_with(&[0xFF, 0xFE]) || bytes.starts_with(&[0xFE, 0xFF])
}

/// Parses a plain GA4 JSON export ([`hashes_while_parsing`]) and returns its content hash
/// too, the xxh3-128 of all its bytes (as `xxh3_128(bytes)`).
pub fn parse_json_hashed(file: &str, bytes: &[u8]) -> Result<(Parsed, u128), String> {
    let mut records = Records::new(file);
    let mut hasher = XxHash3_128::new();
    feed_plain(&mut records, bytes, Some(&mut hasher))?;
    Ok((records.finish(), hasher.finish_128()))
}

/// Feeds a whole plain file: lines, or one array. With a `hasher`, every byte is hashed too,
/// each block of lines just before it is parsed: the file crosses memory once instead of once
/// to hash it and once to parse it.
fn feed_plain(
    records: &mut Records,
    bytes: &[u8],
    mut hasher: Option<&mut XxHash3_128>,
) -> Result<(), String> {
    let mut hash = |part: &[u8]| {
        if let Some(hasher) = hasher.as_mut() {
            hasher.write(part);
        }
    };
    let body = strip_bom(bytes);
    hash(&bytes[..bytes.len() - body.len()]);
    if is_array(body) {
        hash(body);
        return records.feed_array(body);
    }
    let mut start = 0;
    while start < body.len() {
        let at = (start + HASH_BLOCK).min(body.len());
        let end = memchr::memchr(b'\n', &body[at..]).map_or(body.len(), |i| at + i + 1);
        hash(&body[start..end]);
        records.feed_lines(&body[start..end]);
        start = end;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use arrow::array::AsArray;

    use super::*;

    const DAY: &[u8] = include_bytes!("../../../tests/fixtures/ga4/events_20240105.json");

    /// `copies` of the fixture day (7 lines, one blank, line 4 not JSON) after a UTF-8 BOM,
    /// the last line without its line end.
    fn export(copies: usize) -> Vec<u8> {
        let mut bytes = vec![0xEF, 0xBB, 0xBF];
        for _ in 0..copies {
            bytes.extend_from_slice(DAY);
        }
        assert_eq!(bytes.pop(), Some(b'\n'));
        bytes
    }

    #[test]
    fn hashing_while_parsing_gives_the_files_xxh3_128_and_the_same_rows() {
        // 700 copies are 0.9 MB: blocks of 256 kB cut the file at line ends four times.
        let bytes = export(700);
        assert!(hashes_while_parsing(&bytes));
        let (parsed, hash) = parse_json_hashed("events_20240105.json", &bytes).unwrap();
        // The reference C library's xxh3-128 of these bytes (python-xxhash 3, xxh3_128_intdigest):
        // manifests written before keep matching.
        assert_eq!(hash, 0x8475a6c1afde21e104e8062e2a5f540f);
        assert_eq!(hash, XxHash3_128::oneshot(&bytes));
        assert_eq!(parsed.rows_read, 6 * 700, "six records in each copy");
        let bad: Vec<u64> = (parsed.rejections.iter())
            .filter(|r| r.reason.starts_with("not valid JSON"))
            .map(|r| r.line)
            .collect();
        assert_eq!(bad, (0..700).map(|k| 7 * k + 4).collect::<Vec<u64>>());
        let plain = parse_json("events_20240105.json", Bytes::from(bytes)).unwrap();
        assert_eq!(parsed.batches, plain.batches);
        let lines = |p: &Parsed| {
            p.rejections
                .iter()
                .map(|r| (r.line, r.field.clone()))
                .collect::<Vec<_>>()
        };
        assert_eq!(lines(&parsed), lines(&plain));
    }

    #[test]
    fn a_plain_file_and_the_same_file_streamed_give_the_same_rows_in_session_order() {
        // Users out of order, a session split by another, a line missing its session (5) and
        // one not JSON (6), then a second batch's worth of one session.
        let event = |user: &str, session: i64| {
            format!(
                r#"{{"event_timestamp":"1","user_pseudo_id":"{user}","event_params":[{{"key":"ga_session_id","value":{{"int_value":"{session}"}}}}]}}"#
            )
        };
        let mut lines = vec![
            event("b", 2),
            event("a", 7),
            event("b", 1),
            event("a", 7),
            r#"{"event_timestamp":"1","user_pseudo_id":"c"}"#.to_string(),
            "{oops".to_string(),
        ];
        lines.extend((0..BATCH_ROWS_FOR_TEST).map(|_| event("a0", 3)));
        let bytes = lines.join("\n").into_bytes();
        let mut plain = Records::new("events.json");
        feed_plain(&mut plain, &bytes, None).unwrap();
        let plain = plain.finish();
        let mut streamed = Records::new("events.json");
        feed_stream(&mut streamed, &bytes[..]).unwrap();
        let streamed = streamed.finish();
        assert_eq!(plain.batches, streamed.batches);
        let all =
            arrow::compute::concat_batches(&plain.batches[0].schema(), &plain.batches).unwrap();
        let line = all.column_by_name("source_line").unwrap();
        let line = line.as_primitive::<arrow::datatypes::Int64Type>().values();
        let first: Vec<i64> = line.iter().take(3).copied().collect();
        assert_eq!(first, [2, 4, 7], "a's session 7, then a0's from line 7 on");
        let last: Vec<i64> = line.iter().rev().take(2).copied().collect();
        assert_eq!(last, [1, 3], "b's sessions 2 then 1, read backwards");
        let rejected = |p: &Parsed| p.rejections.iter().map(|r| r.line).collect::<Vec<_>>();
        assert_eq!(rejected(&plain), [5, 6]);
        assert_eq!(rejected(&streamed), [5, 6]);
    }

    /// More events than one batch holds.
    const BATCH_ROWS_FOR_TEST: usize = super::super::BATCH_ROWS + 10;

    #[test]
    fn an_array_export_is_hashed_whole() {
        let bytes = br#"[{"event_timestamp":"1","user_pseudo_id":"u","event_params":[]}]"#;
        let (parsed, hash) = parse_json_hashed("events.json", bytes).unwrap();
        assert_eq!(
            hash, 0x239f76074510249e1e6fb92c9dd4ac9f,
            "the reference xxh3-128"
        );
        assert_eq!(hash, XxHash3_128::oneshot(bytes));
        assert_eq!(parsed.rows_read, 1);
    }

    #[test]
    fn gzip_and_utf16_files_are_hashed_before_they_are_parsed() {
        assert!(!hashes_while_parsing(&[0x1F, 0x8B, 8, 0]));
        assert!(!hashes_while_parsing(&[0xFF, 0xFE, b'{', 0]));
        assert!(hashes_while_parsing(b"{}\n"));
    }
}
