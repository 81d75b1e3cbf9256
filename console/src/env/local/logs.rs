//! Follows the instances' log files by polling their size, like `tail -F`: new files are
//! picked up as instances appear, a truncated file (the supervisor's copytruncate rotation)
//! is read again from the start after the rest of its `.1` copy, a replaced file (new
//! inode) from its start, and a line still being written waits for its newline.
//!
//! Polling rather than inotify: a handful of files looked at a few times a second costs
//! next to nothing, works on every filesystem, and has no event queue to overflow.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

use crate::model::logs::{
    LineSource, LogBatch, LogLine, DEFAULT_MAX_TEXT_BYTES, LOG_STREAM_CAPACITY,
};
use crate::model::EnvironmentStatus;

/// How often the files are looked at when nothing new was found.
pub const DEFAULT_POLL_INTERVAL: Duration = Duration::from_millis(250);

/// One file to follow, and whose lines it holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogSource {
    pub instance: String,
    pub workload: String,
    pub path: PathBuf,
}

impl LogSource {
    /// The log files of the instances in a status (an instance without one is skipped).
    pub fn from_status(status: &EnvironmentStatus) -> Vec<LogSource> {
        status
            .instances
            .iter()
            .filter_map(|instance| {
                Some(LogSource {
                    instance: instance.name.clone(),
                    workload: instance.workload.clone(),
                    path: instance.log_file.clone()?,
                })
            })
            .collect()
    }
}

/// Limits of the tailer.
#[derive(Debug, Clone)]
pub struct TailerConfig {
    /// How much of an existing file is read when it is first seen: recent history, not all.
    pub initial_tail_bytes: u64,
    /// The most read from one file in one poll, so one chatty file cannot starve the others.
    pub read_chunk: usize,
    /// Longer raw lines are cut here (and are then plain text, their JSON being incomplete).
    pub max_line_bytes: usize,
    /// The most text kept of a parsed line.
    pub max_text_bytes: usize,
}

impl Default for TailerConfig {
    fn default() -> Self {
        Self {
            initial_tail_bytes: 256 * 1024,
            read_chunk: 1024 * 1024,
            max_line_bytes: 16 * 1024,
            max_text_bytes: DEFAULT_MAX_TEXT_BYTES,
        }
    }
}

/// The files followed, and where each was read up to.
#[derive(Debug)]
pub struct Tailer {
    config: TailerConfig,
    files: BTreeMap<PathBuf, TailedFile>,
}

#[derive(Debug)]
struct TailedFile {
    source: LineSource,
    offset: u64,
    /// (device, inode) of the file read so far: a different one means it was replaced.
    identity: Option<(u64, u64)>,
    /// Size and modification time of `<file>.1` at the last poll: when they change, the
    /// file was rotated, even if it has grown past our offset again since.
    rotated: Option<(u64, SystemTime)>,
    /// The start of a line whose newline has not been written yet.
    partial: Vec<u8>,
    /// Dropping the rest of an over-long line, up to its newline.
    skipping: bool,
    /// True until the first read, which starts near the end instead of at 0.
    fresh: bool,
    error: Option<String>,
}

impl Tailer {
    pub fn new(config: TailerConfig) -> Self {
        Self {
            config,
            files: BTreeMap::new(),
        }
    }

    /// Follows exactly these files from now on. A file already followed keeps its place;
    /// a new one is read from near its end; files no longer listed are dropped.
    pub fn set_sources(&mut self, sources: &[LogSource]) {
        self.files
            .retain(|path, _| sources.iter().any(|source| &source.path == path));
        for source in sources {
            self.files
                .entry(source.path.clone())
                .or_insert_with(|| TailedFile {
                    source: LineSource::new(&source.instance, &source.workload),
                    offset: 0,
                    identity: None,
                    rotated: None,
                    partial: Vec::new(),
                    skipping: false,
                    fresh: true,
                    error: None,
                });
        }
    }

    /// Reads what was appended since the last poll; true in the second value when some file
    /// has more than one chunk waiting (poll again at once).
    pub fn poll(&mut self) -> (LogBatch, bool) {
        let mut batch = LogBatch::default();
        let mut more = false;
        for (path, file) in &mut self.files {
            match file.read_new(path, &self.config, &mut batch.lines) {
                Ok(pending) => {
                    file.error = None;
                    more |= pending;
                }
                Err(error) => {
                    let message = format!("cannot read {}: {error}", path.display());
                    file.error = Some(message);
                }
            }
        }
        batch.errors = self
            .files
            .values()
            .filter_map(|f| f.error.clone())
            .collect();
        (batch, more)
    }
}

impl TailedFile {
    /// Appends the complete lines written since the last read; true when more is waiting.
    fn read_new(
        &mut self,
        path: &Path,
        config: &TailerConfig,
        out: &mut Vec<LogLine>,
    ) -> io::Result<bool> {
        let metadata = match std::fs::metadata(path) {
            Ok(metadata) => metadata,
            Err(error) if error.kind() == io::ErrorKind::NotFound => {
                // Not written yet, or removed: when it appears it is new, read from its start.
                self.restart();
                return Ok(false);
            }
            Err(error) => return Err(error),
        };
        let identity = (metadata.dev(), metadata.ino());
        let len = metadata.len();
        let rotated_path = rotated_path(path);
        let rotated = rotation_stamp(&rotated_path);
        let was_rotated = std::mem::replace(&mut self.rotated, rotated) != rotated;
        if self.fresh {
            self.fresh = false;
            self.identity = Some(identity);
            self.offset = len.saturating_sub(config.initial_tail_bytes);
            // Starting inside a line: drop it up to its newline.
            self.skipping = self.offset > 0;
        } else if self.identity != Some(identity) {
            self.flush_partial(config, out);
            self.restart();
            self.identity = Some(identity);
        } else if len < self.offset || (was_rotated && rotated.is_some()) {
            // copytruncate: the lines written between our last read and the copy are at
            // the end of `<file>.1`; read them before starting again at zero.
            self.read_rotated_rest(&rotated_path, config, out);
            self.flush_partial(config, out);
            self.restart();
            self.identity = Some(identity);
        }
        if len == self.offset {
            return Ok(false);
        }
        let want = (len - self.offset).min(config.read_chunk as u64);
        let chunk = read_range(path, self.offset, want)?;
        self.offset += chunk.len() as u64;
        self.split_lines(&chunk, config, out);
        Ok(self.offset < len)
    }

    /// Forgets the file read so far: whatever is found next is read from its start.
    fn restart(&mut self) {
        self.offset = 0;
        self.identity = None;
        self.partial.clear();
        self.skipping = false;
        self.fresh = false;
    }

    fn read_rotated_rest(&mut self, rotated: &Path, config: &TailerConfig, out: &mut Vec<LogLine>) {
        let Ok(metadata) = std::fs::metadata(rotated) else {
            return;
        };
        if metadata.len() <= self.offset {
            return;
        }
        // Bounded like any read: a rest bigger than a chunk is mostly lost, which a size
        // cap on the logs accepts.
        let want = (metadata.len() - self.offset).min(config.read_chunk as u64);
        if let Ok(rest) = read_range(rotated, self.offset, want) {
            self.split_lines(&rest, config, out);
        }
    }

    /// Cuts `bytes` (continuing `partial`) into lines; keeps an unfinished last one.
    fn split_lines(&mut self, bytes: &[u8], config: &TailerConfig, out: &mut Vec<LogLine>) {
        let mut rest = bytes;
        while let Some(newline) = rest.iter().position(|&b| b == b'\n') {
            let (segment, after) = rest.split_at(newline);
            rest = &after[1..];
            if std::mem::take(&mut self.skipping) {
                self.partial.clear();
                continue;
            }
            self.take_into_partial(segment, config);
            self.emit_partial(config, out);
        }
        if !self.skipping && !rest.is_empty() {
            self.take_into_partial(rest, config);
            if self.partial.len() >= config.max_line_bytes {
                // Never ending line: show what we have, drop the rest up to its newline.
                self.emit_partial(config, out);
                self.skipping = true;
            }
        }
    }

    fn take_into_partial(&mut self, segment: &[u8], config: &TailerConfig) {
        let room = config.max_line_bytes.saturating_sub(self.partial.len());
        self.partial
            .extend_from_slice(&segment[..segment.len().min(room)]);
    }

    fn emit_partial(&mut self, config: &TailerConfig, out: &mut Vec<LogLine>) {
        let raw = String::from_utf8_lossy(&self.partial);
        if !raw.trim().is_empty() {
            out.push(LogLine::parse(&raw, &self.source, config.max_text_bytes));
        }
        self.partial.clear();
    }

    /// A file that ended or was replaced: its unfinished last line is all there will be.
    fn flush_partial(&mut self, config: &TailerConfig, out: &mut Vec<LogLine>) {
        if !self.skipping && !self.partial.is_empty() {
            self.emit_partial(config, out);
        }
        self.partial.clear();
    }
}

/// Where the supervisor's rotation copies a log: `<file>.1`.
fn rotated_path(path: &Path) -> PathBuf {
    let mut rotated = path.as_os_str().to_owned();
    rotated.push(".1");
    PathBuf::from(rotated)
}

fn rotation_stamp(rotated: &Path) -> Option<(u64, SystemTime)> {
    let metadata = std::fs::metadata(rotated).ok()?;
    Some((metadata.len(), metadata.modified().ok()?))
}

fn read_range(path: &Path, offset: u64, len: u64) -> io::Result<Vec<u8>> {
    let mut file = File::open(path)?;
    file.seek(SeekFrom::Start(offset))?;
    let mut bytes = Vec::with_capacity(usize::try_from(len).unwrap_or(0));
    file.take(len).read_to_end(&mut bytes)?;
    Ok(bytes)
}

/// Runs a tailer until `stop`: follows the files `sources` names (updated as instances come
/// and go) and sends what it reads through a bounded channel. When the app falls behind, the
/// tailer waits: the files, not the console, hold the backlog.
pub fn spawn(
    mut sources: watch::Receiver<Vec<LogSource>>,
    config: TailerConfig,
    interval: Duration,
    stop: CancellationToken,
) -> mpsc::Receiver<LogBatch> {
    let (sender, receiver) = mpsc::channel(LOG_STREAM_CAPACITY);
    tokio::spawn(async move {
        let mut tailer = Tailer::new(config);
        let mut last_errors: Vec<String> = Vec::new();
        loop {
            tailer.set_sources(&sources.borrow_and_update());
            // File reads block: off the async threads.
            let Ok((returned, (batch, more))) = tokio::task::spawn_blocking(move || {
                let polled = tailer.poll();
                (tailer, polled)
            })
            .await
            else {
                tracing::warn!("the log tailer's read panicked; logs stop here");
                return;
            };
            tailer = returned;
            if !batch.lines.is_empty() || batch.errors != last_errors {
                last_errors.clone_from(&batch.errors);
                tokio::select! {
                    sent = sender.send(batch) => if sent.is_err() { return },
                    () = stop.cancelled() => return,
                }
            }
            if more {
                continue;
            }
            tokio::select! {
                () = tokio::time::sleep(interval) => {}
                changed = sources.changed() => if changed.is_err() { return },
                () = stop.cancelled() => return,
            }
        }
    });
    receiver
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    struct Fixture {
        dir: tempfile::TempDir,
        tailer: Tailer,
    }

    impl Fixture {
        fn new(config: TailerConfig) -> Self {
            Self {
                dir: tempfile::tempdir().expect("temp dir"),
                tailer: Tailer::new(config),
            }
        }

        fn path(&self, name: &str) -> PathBuf {
            self.dir.path().join(name)
        }

        fn follow(&mut self, names: &[&str]) {
            let sources: Vec<LogSource> = names
                .iter()
                .map(|name| LogSource {
                    instance: (*name).to_owned(),
                    workload: name.split('-').next().unwrap_or_default().to_owned(),
                    path: self.path(&format!("{name}.log")),
                })
                .collect();
            self.tailer.set_sources(&sources);
        }

        fn append(&self, name: &str, text: &str) {
            let mut file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(self.path(&format!("{name}.log")))
                .expect("open");
            file.write_all(text.as_bytes()).expect("write");
        }

        /// The texts read by one poll, as `instance: text`.
        fn poll(&mut self) -> Vec<String> {
            let (batch, _) = self.tailer.poll();
            assert!(batch.errors.is_empty(), "{:?}", batch.errors);
            batch
                .lines
                .iter()
                .map(|line| format!("{}: {}", line.instance, line.text))
                .collect()
        }
    }

    #[test]
    fn a_line_is_emitted_only_once_its_newline_is_written() {
        let mut fx = Fixture::new(TailerConfig::default());
        fx.follow(&["api-1"]);
        assert!(fx.poll().is_empty(), "no file yet is no error");
        fx.append("api-1", "{\"level\":\"INFO\",\"message\":\"hel");
        assert!(fx.poll().is_empty());
        fx.append("api-1", "lo\"}\nsecond ");
        assert_eq!(fx.poll(), ["api-1: hello"]);
        fx.append("api-1", "half\n\n");
        assert_eq!(fx.poll(), ["api-1: second half"], "blank lines are skipped");
        assert!(fx.poll().is_empty());
    }

    #[test]
    fn an_existing_file_is_read_from_near_its_end_starting_at_a_whole_line() {
        let mut fx = Fixture::new(TailerConfig {
            initial_tail_bytes: 12,
            ..TailerConfig::default()
        });
        fx.append("api-1", "first line\nsecond\nthird\n");
        fx.follow(&["api-1"]);
        assert_eq!(fx.poll(), ["api-1: third"], "the cut 'second' is dropped");
    }

    #[test]
    fn a_truncated_file_is_read_again_from_the_start_after_the_rest_of_its_copy() {
        let mut fx = Fixture::new(TailerConfig::default());
        fx.follow(&["worker-1"]);
        fx.append("worker-1", "one\ntwo\n");
        assert_eq!(fx.poll(), ["worker-1: one", "worker-1: two"]);
        // What the supervisor's rotation does: copy, then truncate; "three" was written
        // after our last read and before the copy.
        fx.append("worker-1", "three\n");
        std::fs::copy(fx.path("worker-1.log"), fx.path("worker-1.log.1")).expect("copy");
        std::fs::OpenOptions::new()
            .write(true)
            .open(fx.path("worker-1.log"))
            .and_then(|file| file.set_len(0))
            .expect("truncate");
        fx.append("worker-1", "four\n");
        assert_eq!(fx.poll(), ["worker-1: three", "worker-1: four"]);
    }

    #[test]
    fn a_rotation_is_noticed_even_when_the_file_grew_past_where_we_were() {
        let mut fx = Fixture::new(TailerConfig::default());
        fx.follow(&["worker-1"]);
        fx.append("worker-1", "one\n");
        assert_eq!(fx.poll(), ["worker-1: one"]);
        fx.append("worker-1", "two\n");
        std::fs::copy(fx.path("worker-1.log"), fx.path("worker-1.log.1")).expect("copy");
        std::fs::OpenOptions::new()
            .write(true)
            .open(fx.path("worker-1.log"))
            .and_then(|file| file.set_len(0))
            .expect("truncate");
        fx.append("worker-1", "a line longer than the old file\n");
        assert_eq!(
            fx.poll(),
            ["worker-1: two", "worker-1: a line longer than the old file"]
        );
        fx.append("worker-1", "after\n");
        assert_eq!(
            fx.poll(),
            ["worker-1: after"],
            "the same copy is not read twice"
        );
    }

    #[test]
    fn a_replaced_file_is_read_from_its_start() {
        let mut fx = Fixture::new(TailerConfig::default());
        fx.follow(&["api-1"]);
        fx.append("api-1", "old line\nunfinished");
        assert_eq!(fx.poll(), ["api-1: old line"]);
        std::fs::rename(fx.path("api-1.log"), fx.path("api-1.old")).expect("rename");
        fx.append("api-1", "a much longer first line of the new file\n");
        assert_eq!(
            fx.poll(),
            [
                "api-1: unfinished",
                "api-1: a much longer first line of the new file"
            ]
        );
    }

    #[test]
    fn new_files_join_and_dropped_ones_leave() {
        let mut fx = Fixture::new(TailerConfig::default());
        fx.follow(&["api-1"]);
        fx.append("api-1", "from api\n");
        assert_eq!(fx.poll(), ["api-1: from api"]);
        // A canary appears; its file already has its first lines.
        fx.append("api-canary-1", "canary up\n");
        fx.follow(&["api-1", "api-canary-1"]);
        fx.append("api-1", "api again\n");
        assert_eq!(fx.poll(), ["api-1: api again", "api-canary-1: canary up"]);
        fx.follow(&["api-canary-1"]);
        fx.append("api-1", "not followed any more\n");
        fx.append("api-canary-1", "still here\n");
        assert_eq!(fx.poll(), ["api-canary-1: still here"]);
    }

    #[test]
    fn an_over_long_line_is_cut_and_reading_goes_on_bounded_by_chunks() {
        let mut fx = Fixture::new(TailerConfig {
            read_chunk: 16,
            max_line_bytes: 8,
            ..TailerConfig::default()
        });
        fx.follow(&["api-1"]);
        fx.append("api-1", "0123456789abcdefghij\nok\n");
        let (first, more) = fx.tailer.poll();
        assert!(more, "a chunk of 16 of 24 bytes leaves more");
        let texts: Vec<&str> = first.lines.iter().map(|l| &*l.text).collect();
        assert_eq!(texts, ["01234567"]);
        let (second, more) = fx.tailer.poll();
        assert!(!more);
        let texts: Vec<&str> = second.lines.iter().map(|l| &*l.text).collect();
        assert_eq!(texts, ["ok"], "the rest of the long line is dropped");
    }

    #[test]
    fn an_unreadable_file_is_reported_and_recovers() {
        let mut fx = Fixture::new(TailerConfig::default());
        fx.follow(&["api-1"]);
        // A directory where the log should be: it has a size, but reading it fails.
        std::fs::create_dir(fx.path("api-1.log")).expect("dir");
        let size = std::fs::metadata(fx.path("api-1.log")).expect("meta").len();
        assert!(size > 0, "directories have a size on Linux filesystems");
        let (batch, _) = fx.tailer.poll();
        assert_eq!(batch.errors.len(), 1, "{:?}", batch.errors);
        assert!(
            batch.errors[0].starts_with("cannot read ") && batch.errors[0].contains("api-1.log"),
            "{:?}",
            batch.errors
        );
        std::fs::remove_dir(fx.path("api-1.log")).expect("remove");
        fx.append("api-1", "back\n");
        assert_eq!(
            fx.poll(),
            ["api-1: back"],
            "the error is gone with its cause"
        );
    }

    #[tokio::test]
    async fn the_spawned_tailer_sends_lines_of_files_added_later() {
        let dir = tempfile::tempdir().expect("temp dir");
        let source = |name: &str| LogSource {
            instance: name.to_owned(),
            workload: "worker".to_owned(),
            path: dir.path().join(format!("{name}.log")),
        };
        let (update, sources) = watch::channel(vec![source("worker-1")]);
        let stop = CancellationToken::new();
        let mut batches = spawn(
            sources,
            TailerConfig::default(),
            Duration::from_millis(10),
            stop.clone(),
        );
        std::fs::write(dir.path().join("worker-2.log"), "").expect("create");
        update.send_replace(vec![source("worker-1"), source("worker-2")]);
        std::fs::write(dir.path().join("worker-2.log"), "hello from 2\n").expect("write");
        let batch = tokio::time::timeout(Duration::from_secs(10), batches.recv())
            .await
            .expect("a batch in time")
            .expect("open channel");
        assert_eq!(batch.lines.len(), 1);
        assert_eq!(&*batch.lines[0].instance, "worker-2");
        stop.cancel();
        let closed = tokio::time::timeout(Duration::from_secs(10), async {
            while batches.recv().await.is_some() {}
        })
        .await;
        assert!(closed.is_ok(), "the channel closes after stop");
    }
}
