//! The CSV reader every CSV loader uses: it finds the header after a report's preamble, keeps
//! each row's line number, skips totals and placeholders, and rejects malformed lines.

use foldhash::HashMap;

use super::rows::Rejection;

/// A CSV data line, with its header, for field lookups by (case-insensitive) column name.
pub struct CsvRow<'a> {
    pub line: u64,
    record: &'a csv::StringRecord,
    index: &'a HashMap<String, usize>,
    headers: &'a [String],
    preamble: &'a [String],
}

impl CsvRow<'_> {
    /// The header line's column names, as written.
    pub fn headers(&self) -> &[String] {
        self.headers
    }

    /// The lines before the header (a report's title, its date range), cells joined by `,`.
    pub fn preamble(&self) -> &[String] {
        self.preamble
    }

    /// The position of a column, by its name in any case.
    fn position(&self, column: &str) -> Option<usize> {
        // Lower-cased on the stack: this runs for every field of every row.
        let mut buf = [0u8; 64];
        let key = match column.len() <= buf.len() {
            true => {
                let b = &mut buf[..column.len()];
                b.copy_from_slice(column.as_bytes());
                b.make_ascii_lowercase();
                std::str::from_utf8(b).expect("ASCII case changes keep UTF-8")
            }
            false => &column.to_ascii_lowercase(),
        };
        self.index.get(key).copied()
    }

    /// The trimmed value of a column; `""` when the file has no such column.
    pub fn get(&self, column: &str) -> &str {
        self.position(column)
            .and_then(|i| self.record.get(i))
            .map(str::trim)
            .unwrap_or("")
    }

    pub fn has(&self, column: &str) -> bool {
        self.position(column).is_some()
    }

    /// A rejection of this row for `field`.
    pub fn reject(&self, field: &str, reason: impl Into<String>) -> Rejection {
        Rejection {
            line: self.line,
            field: field.to_string(),
            reason: reason.into(),
            raw: raw_line(self.record),
        }
    }
}

fn raw_line(record: &csv::StringRecord) -> String {
    record.iter().collect::<Vec<_>>().join(",")
}

/// What reading one CSV file gave: data rows read, and the rows rejected.
#[derive(Debug, Default)]
pub struct CsvOutcome {
    pub rows_read: u64,
    pub rejections: Vec<Rejection>,
    /// Empty for an export that holds no data and no header (a preamble alone).
    pub headers: Vec<String>,
    pub preamble: Vec<String>,
}

/// A report's summary line: `Total: …` in its first non-empty cell (Google Ads writes some
/// with empty leading cells), or a bare `Total`.
fn is_total_line(record: &csv::StringRecord) -> bool {
    record
        .iter()
        .map(str::trim)
        .find(|f| !f.is_empty())
        .is_some_and(|f| f == "Total" || f.starts_with("Total:"))
}

/// Meta's placeholder line of an empty export.
fn is_no_data_line(record: &csv::StringRecord) -> bool {
    let mut cells = record.iter().map(str::trim).filter(|f| !f.is_empty());
    let first = cells
        .next()
        .map(|f| f.trim_end_matches('.').to_ascii_lowercase());
    cells.next().is_none() && first.as_deref() == Some("no data available")
}

/// Reads CSV `text`. The header is the first line for which `is_header` holds (lines before it
/// are preamble); every later line is a data row handed to `on_row`, except blank lines,
/// report totals and Meta's `No data available.`. A line that repeats the header or has the
/// wrong field count is rejected here; `on_row` rejects on values. A file without a header
/// whose lines each hold at most one cell (LinkedIn's preamble of an empty export) is an empty
/// export: zero rows, no error.
pub fn read_csv(
    text: &str,
    is_header: impl Fn(&[String]) -> bool,
    mut on_row: impl FnMut(&CsvRow) -> Result<(), Rejection>,
) -> Result<CsvOutcome, String> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(delimiter(text))
        .from_reader(text.as_bytes());
    let mut reading = Reading {
        out: CsvOutcome::default(),
        index: None,
        only_single_cells: true,
    };
    let mut record = csv::StringRecord::new();
    loop {
        match reader.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => {
                let line = e.position().map_or(0, |p| p.line());
                if reading.index.is_none() {
                    return Err(format!("line {line}: {e}"));
                }
                reading.out.rows_read += 1;
                reading.out.rejections.push(Rejection {
                    line,
                    field: String::new(),
                    reason: format!("unreadable CSV line: {e}"),
                    raw: String::new(),
                });
                continue;
            }
        }
        if record.iter().all(|f| f.trim().is_empty()) {
            continue;
        }
        if reading.index.is_none() {
            reading.before_data(&record, &is_header);
        } else {
            let line = record.position().map_or(0, |p| start_line(text, p));
            reading.data_line(line, &record, &mut on_row);
        }
    }
    if reading.index.is_none() && !reading.only_single_cells {
        return Err("no header line found".into());
    }
    Ok(reading.out)
}

/// The line a record starts on. After blank lines the csv crate's position is that of the
/// first blank line (the blank lines are skipped as part of the record): count them in.
fn start_line(text: &str, position: &csv::Position) -> u64 {
    let rest = text
        .as_bytes()
        .get(position.byte() as usize..)
        .unwrap_or_default();
    let blank = rest.iter().take_while(|b| matches!(b, b'\n' | b'\r'));
    position.line() + blank.filter(|&&b| b == b'\n').count() as u64
}

/// Tab-separated when the first lines hold more tabs than commas (Excel-style downloads).
fn delimiter(text: &str) -> u8 {
    let head = text.lines().take(10);
    let (tabs, commas) = head.fold((0, 0), |(t, c), l| {
        (t + l.matches('\t').count(), c + l.matches(',').count())
    });
    if tabs > commas {
        b'\t'
    } else {
        b','
    }
}

/// The state of [`read_csv`]: the header's column index once found, and what was read.
struct Reading {
    out: CsvOutcome,
    index: Option<HashMap<String, usize>>,
    /// Every line before the header held at most one cell (an empty export's preamble).
    only_single_cells: bool,
}

impl Reading {
    /// A line before the data: the header, or a preamble line.
    fn before_data(&mut self, record: &csv::StringRecord, is_header: impl Fn(&[String]) -> bool) {
        let fields: Vec<String> = record.iter().map(|f| f.trim().to_string()).collect();
        if is_header(&fields) {
            // A duplicated column name (Meta's second `Ad set name`) reads the first one.
            let mut first = HashMap::default();
            for (i, f) in fields.iter().enumerate() {
                first.entry(f.to_ascii_lowercase()).or_insert(i);
            }
            self.index = Some(first);
            self.out.headers = fields;
        } else {
            self.only_single_cells &= fields.iter().filter(|f| !f.is_empty()).count() <= 1;
            self.out.preamble.push(fields.join(","));
        }
    }

    /// A line after the header (so `index` is set): skipped (totals, Meta's `No data available.`), rejected for its
    /// shape, or handed to `on_row`.
    fn data_line(
        &mut self,
        line: u64,
        record: &csv::StringRecord,
        on_row: &mut impl FnMut(&CsvRow) -> Result<(), Rejection>,
    ) {
        if is_total_line(record) || is_no_data_line(record) {
            return;
        }
        let index = self
            .index
            .as_ref()
            .expect("data lines come after the header");
        let out = &mut self.out;
        out.rows_read += 1;
        let row = CsvRow {
            line,
            record,
            index,
            headers: &out.headers,
            preamble: &out.preamble,
        };
        let rejection = if record
            .iter()
            .map(str::trim)
            .eq(out.headers.iter().map(String::as_str))
        {
            Some(row.reject("", "line repeats the header"))
        } else if record.len() != out.headers.len() {
            let reason = format!(
                "expected {} fields, found {}",
                out.headers.len(),
                record.len()
            );
            Some(row.reject("", reason))
        } else {
            on_row(&row).err()
        };
        out.rejections.extend(rejection);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reads `text` with `id` as the header's marker, keeping each row's `id` and line.
    fn read(text: &str) -> (CsvOutcome, Vec<(u64, String)>) {
        let mut seen = Vec::new();
        let out = read_csv(
            text,
            |h| h.iter().any(|c| c == "id"),
            |row| {
                if row.get("n").is_empty() {
                    return Err(row.reject("n", "required value is empty"));
                }
                seen.push((row.line, row.get("ID").to_string()));
                Ok(())
            },
        )
        .unwrap();
        (out, seen)
    }

    #[test]
    fn preamble_totals_and_bad_lines_are_told_apart() {
        let text = "Campaign report\n2024-03-01 - 2024-03-31\nid,n\na,1\n\nb,\nid,n\nc,2,extra\nTotal: 3,\nd, 4 \n";
        let (out, seen) = read(text);
        assert_eq!(out.preamble, ["Campaign report", "2024-03-01 - 2024-03-31"]);
        assert_eq!(seen, [(4, "a".to_string()), (10, "d".to_string())]);
        let why: Vec<(u64, &str)> = out
            .rejections
            .iter()
            .map(|r| (r.line, r.reason.as_str()))
            .collect();
        assert_eq!(
            why,
            [
                (6, "required value is empty"),
                (7, "line repeats the header"),
                (8, "expected 2 fields, found 3")
            ]
        );
        assert_eq!(
            out.rows_read, 5,
            "a, b, the repeated header, c, d; not the total"
        );
    }

    #[test]
    fn tabs_are_the_delimiter_when_they_outnumber_commas() {
        let (_, seen) = read("id\tn\na,b\t1\n");
        assert_eq!(seen, [(2, "a,b".to_string())]);
    }

    #[test]
    fn an_export_of_one_cell_lines_is_empty_and_anything_else_needs_a_header() {
        let (out, seen) = read("Report\nNo rows\n");
        assert!(seen.is_empty() && out.headers.is_empty());
        let e = read_csv("a,b\nc,d\n", |h| h.iter().any(|c| c == "id"), |_| Ok(()));
        assert_eq!(e.unwrap_err(), "no header line found");
    }
}
