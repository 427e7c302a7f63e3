//! Files as people download them (SPEC section 8, Loading): gzip detected by its magic bytes,
//! text in UTF-8 (with or without BOM), UTF-16 LE/BE with a BOM, or Windows-1252 when it is
//! not valid UTF-8, unless the source names its `encoding`.

use std::io::Read;

use bytes::Bytes;
use encoding_rs::{Encoding, UTF_8, WINDOWS_1252};

/// The two bytes every gzip member starts with.
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// Whether `bytes` are gzip-compressed (by content, not by file name).
pub fn is_gzip(bytes: &[u8]) -> bool {
    bytes.starts_with(&GZIP_MAGIC)
}

/// A reader of the file's content, decompressing gzip (every member of a multi-member file).
pub fn reader(bytes: Bytes) -> Box<dyn Read + Send> {
    if is_gzip(&bytes) {
        Box::new(flate2::read::MultiGzDecoder::new(std::io::Cursor::new(
            bytes,
        )))
    } else {
        Box::new(std::io::Cursor::new(bytes))
    }
}

/// The whole decompressed content: the bytes themselves when they are not gzip.
pub fn decompress(bytes: Bytes) -> Result<Bytes, String> {
    if !is_gzip(&bytes) {
        return Ok(bytes);
    }
    let mut out = Vec::with_capacity(bytes.len() * 4);
    reader(bytes)
        .read_to_end(&mut out)
        .map_err(|e| format!("not a readable gzip file: {e}"))?;
    Ok(Bytes::from(out))
}

/// The encoding a source names (`encoding: windows-1252`), by its WHATWG label.
pub fn named_encoding(label: &str) -> Result<&'static Encoding, String> {
    Encoding::for_label(label.trim().as_bytes()).ok_or_else(|| {
        format!("unknown encoding {label:?} (use a label such as utf-8, utf-16le, windows-1252)")
    })
}

/// Decodes (already decompressed) text. A BOM decides first; then the source's `encoding`;
/// then UTF-8 when the bytes are valid UTF-8, else Windows-1252 (which maps every byte).
pub fn decode(bytes: &[u8], encoding: Option<&'static Encoding>) -> String {
    if let Some((bom_encoding, bom_len)) = Encoding::for_bom(bytes) {
        return decode_with(bom_encoding, &bytes[bom_len..]);
    }
    match encoding {
        Some(e) => decode_with(e, bytes),
        None => match std::str::from_utf8(bytes) {
            Ok(text) => text.to_string(),
            Err(_) => decode_with(WINDOWS_1252, bytes),
        },
    }
}

fn decode_with(encoding: &'static Encoding, bytes: &[u8]) -> String {
    if encoding == UTF_8 {
        if let Ok(text) = std::str::from_utf8(bytes) {
            return text.to_string();
        }
    }
    // Malformed sequences become U+FFFD: a number holding one is then not numeric and its row
    // is quarantined, never read as another number.
    encoding.decode_without_bom_handling(bytes).0.into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bom_decides_the_encoding() {
        assert_eq!(decode(&[0xEF, 0xBB, 0xBF, b'a'], None), "a");
        assert_eq!(decode(&[0xFF, 0xFE, b'a', 0, b'b', 0], None), "ab");
        assert_eq!(decode(&[0xFE, 0xFF, 0, b'a', 0, b'b'], None), "ab");
    }

    #[test]
    fn invalid_utf8_is_windows_1252() {
        // "Negociación" in Windows-1252: ó is 0xF3.
        let bytes = b"Negociaci\xf3n";
        assert_eq!(decode(bytes, None), "Negociación");
        assert_eq!(decode("Negociación".as_bytes(), None), "Negociación");
    }

    #[test]
    fn named_encoding_is_used_without_bom() {
        let latin1 = named_encoding("iso-8859-1").unwrap();
        // 0xE9 is é in Latin-1 (WHATWG maps it to windows-1252).
        assert_eq!(decode(b"caf\xe9", Some(latin1)), "café");
        assert!(named_encoding("klingon").is_err());
    }

    #[test]
    fn gzip_is_detected_by_content() {
        use std::io::Write;
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(b"hello").unwrap();
        let bytes = Bytes::from(gz.finish().unwrap());
        assert!(is_gzip(&bytes));
        assert_eq!(&decompress(bytes).unwrap()[..], b"hello");
        assert_eq!(
            &decompress(Bytes::from_static(b"plain")).unwrap()[..],
            b"plain"
        );
        assert!(decompress(Bytes::from_static(&[0x1f, 0x8b, 0, 1])).is_err());
    }
}
