//! Framing of a GA4 JSON export into records, each with the line it starts on: one object per
//! line (BigQuery's export), or one JSON array (the console's download); gzip is decompressed
//! as a stream, whole lines at a time, so a large `.json.gz` day needs no copy of itself. A
//! record that is not an event object is rejected at its line; the others load.

use std::io::Read;

use bytes::Bytes;
use serde_json::value::RawValue;

use super::event::ExportEvent;
use super::Flattener;
use crate::load::{text, Parsed};

/// Decompressed bytes read at a time from a gzip export.
const BLOCK: usize = 16 << 20;

/// Compressed files up to this size are decompressed whole (a few times this in memory).
const SMALL_GZIP: usize = 2 << 20;

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
            Ok(event) => self.flat.push(event.into_row(), line),
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
            feed_plain(&mut records, &plain)?;
        } else {
            feed_stream(&mut records, text::reader(bytes))?;
        }
    } else if bytes.starts_with(&[0xFF, 0xFE]) || bytes.starts_with(&[0xFE, 0xFF]) {
        let utf8 = text::decode(&bytes, None);
        feed_plain(&mut records, utf8.as_bytes())?;
    } else {
        feed_plain(&mut records, &bytes)?;
    }
    Ok(records.finish())
}

fn feed_plain(records: &mut Records, bytes: &[u8]) -> Result<(), String> {
    let body = strip_bom(bytes);
    if is_array(body) {
        records.feed_array(body)
    } else {
        records.feed_lines(body);
        Ok(())
    }
}
