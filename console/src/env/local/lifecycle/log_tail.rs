//! The end of a log file, quoted in errors so the operator sees why without opening it.

use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

/// At most this much of the file is read, however large it is.
const TAIL_BYTES: u64 = 8 * 1024;

/// The last `lines` lines of `path`, or a note saying it cannot be read.
pub fn tail(path: &Path, lines: usize) -> String {
    let Ok(mut file) = std::fs::File::open(path) else {
        return format!("({} cannot be read)", path.display());
    };
    let length = file.metadata().map(|meta| meta.len()).unwrap_or(0);
    if file
        .seek(SeekFrom::Start(length.saturating_sub(TAIL_BYTES)))
        .is_err()
    {
        return format!("({} cannot be read)", path.display());
    }
    let mut bytes = Vec::new();
    if file.take(TAIL_BYTES).read_to_end(&mut bytes).is_err() {
        return format!("({} cannot be read)", path.display());
    }
    let text = String::from_utf8_lossy(&bytes);
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_last_lines_only() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("x.log");
        std::fs::write(&path, "a\nb\nc\n").expect("writes");
        assert_eq!(tail(&path, 2), "b\nc");
        assert!(tail(&dir.path().join("missing"), 2).contains("cannot be read"));
    }
}
