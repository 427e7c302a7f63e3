//! The one place the CLI writes what it produces: files written whole, and standard output
//! that tolerates a reader which closed the pipe.

use std::io::Write;
use std::path::Path;

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
    match std::io::stdout().write_all(bytes) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => other,
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
