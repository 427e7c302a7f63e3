//! The one place the CLI writes what it produces: files written whole, and standard output
//! that tolerates a reader which closed the pipe.

use std::io::Write;
use std::path::Path;

use futures::StreamExt;

/// Writes `bytes` to `path` whole: a temporary file beside it, then one rename, so a reader
/// never sees half a file.
pub fn write_whole(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, path)
}

/// Writes `bytes` to standard output; `clearsight query ... | head -1` closing the pipe early
/// is not an error.
pub fn write_stdout(bytes: &[u8]) -> std::io::Result<()> {
    let result = std::io::stdout().write_all(bytes);
    if broken_pipe(&result) {
        return Ok(());
    }
    result
}

/// Whether `result` failed because the reader closed the pipe.
fn broken_pipe<T>(result: &std::io::Result<T>) -> bool {
    matches!(result, Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe)
}

/// Standard output for results written as they come (`query --format csv|json`), buffered.
/// Once the reader closes the pipe (`| head`), the rest is dropped, not an error, and
/// [`closed_flag`](Self::closed_flag) tells the writer to stop producing it.
pub struct StdoutStream {
    out: std::io::BufWriter<std::io::Stdout>,
    closed: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl Default for StdoutStream {
    fn default() -> Self {
        Self {
            out: std::io::BufWriter::with_capacity(1 << 20, std::io::stdout()),
            closed: Default::default(),
        }
    }
}

impl StdoutStream {
    /// Set once the reader has closed the pipe (read it while a writer owns the stream).
    pub fn closed_flag(&self) -> std::sync::Arc<std::sync::atomic::AtomicBool> {
        self.closed.clone()
    }

    fn is_closed(&self) -> bool {
        self.closed.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// `result`, unless the reader closed the pipe: then the stream is closed and `dropped`
    /// stands for what was not written.
    fn unless_closed<T>(&self, result: std::io::Result<T>, dropped: T) -> std::io::Result<T> {
        if broken_pipe(&result) {
            self.closed
                .store(true, std::sync::atomic::Ordering::Relaxed);
            return Ok(dropped);
        }
        result
    }
}

impl Write for StdoutStream {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.is_closed() {
            return Ok(buf.len());
        }
        let result = self.out.write(buf);
        self.unless_closed(result, buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if self.is_closed() {
            return Ok(());
        }
        let result = self.out.flush();
        self.unless_closed(result, ())
    }
}

/// Writes one line of text to standard output (see [`write_stdout`]); any other write error is
/// reported on stderr once per line, never a panic.
pub fn say_line(text: &str) {
    let mut line = String::with_capacity(text.len() + 1);
    line.push_str(text);
    line.push('\n');
    if let Err(e) = write_stdout(line.as_bytes()) {
        eprintln!("error: cannot write to standard output: {e}");
    }
}

/// `println!` for the CLI's output, through [`say_line`]: `clearsight … | head -1` ends quietly.
macro_rules! say {
    () => {
        $crate::cli::output::say_line("")
    };
    ($($arg:tt)*) => {
        $crate::cli::output::say_line(&format!($($arg)*))
    };
}
pub(crate) use say;

/// CSV or a JSON array, written batch by batch as the query produces them: a large result
/// (the touchpoints mart, 6M rows at 10M events) is never held whole. An empty result still
/// has its CSV header (or is `[]`).
pub async fn stream_rows(
    batches: &mut datafusion::physical_plan::SendableRecordBatchStream,
    schema: arrow::datatypes::SchemaRef,
    format: super::OutputFormat,
) -> crate::error::Result<()> {
    let out = StdoutStream::default();
    let closed = out.closed_flag();
    let mut out = if let super::OutputFormat::Csv = format {
        let mut w = arrow::csv::WriterBuilder::new()
            .with_header(true)
            .build(out);
        if each_batch(batches, &closed, |b| w.write(b)).await? == 0 {
            w.write(&arrow::array::RecordBatch::new_empty(schema))?;
        }
        w.into_inner()
    } else {
        let mut w = arrow::json::ArrayWriter::new(out);
        each_batch(batches, &closed, |b| w.write(b)).await?;
        w.finish()?;
        let mut out = w.into_inner();
        out.write_all(b"\n")?;
        out
    };
    out.flush()?;
    Ok(())
}

/// Passes each batch of the stream to `write`, until it ends or the reader closes the pipe:
/// how many batches it passed.
async fn each_batch(
    batches: &mut datafusion::physical_plan::SendableRecordBatchStream,
    closed: &std::sync::atomic::AtomicBool,
    mut write: impl FnMut(
        &arrow::array::RecordBatch,
    ) -> std::result::Result<(), arrow::error::ArrowError>,
) -> crate::error::Result<usize> {
    let mut n = 0;
    while let Some(batch) = batches.next().await {
        write(&batch?)?;
        n += 1;
        if closed.load(std::sync::atomic::Ordering::Relaxed) {
            break;
        }
    }
    Ok(n)
}
