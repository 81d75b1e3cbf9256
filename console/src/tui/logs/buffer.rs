//! The ring buffer of log lines: a hard cap on lines, so a chatty service or a long shift
//! cannot grow the console's memory (k9s issues #1188 and #776).

use std::collections::VecDeque;

use crate::model::logs::LogLine;

/// Lines kept by default: at about 200 bytes a line, some 20-30 MB.
pub const DEFAULT_CAPACITY: usize = 100_000;

/// Warnings and errors remembered for [`LogBuffer::latest_problems`]; older ones are still
/// in the buffer, just not indexed.
const MAX_INDEXED_PROBLEMS: usize = 1024;

/// Log lines, oldest first, each numbered by a sequence that never repeats: a line's
/// number stays valid as older lines are dropped, so views can point at lines by number.
#[derive(Debug, Clone)]
pub struct LogBuffer {
    lines: VecDeque<LogLine>,
    capacity: usize,
    next_seq: u64,
    /// Sequence numbers of the newest warnings and errors, oldest first.
    problems: VecDeque<u64>,
}

impl Default for LogBuffer {
    fn default() -> Self {
        Self::new(DEFAULT_CAPACITY)
    }
}

impl LogBuffer {
    /// A buffer of at most `capacity` lines (at least one).
    pub fn new(capacity: usize) -> Self {
        let capacity = capacity.max(1);
        Self {
            // Grown as lines arrive: an idle console does not reserve the whole cap.
            lines: VecDeque::new(),
            capacity,
            next_seq: 1,
            problems: VecDeque::new(),
        }
    }

    pub fn capacity(&self) -> usize {
        self.capacity
    }

    pub fn len(&self) -> usize {
        self.lines.len()
    }

    pub fn is_empty(&self) -> bool {
        self.lines.is_empty()
    }

    /// The number of the oldest line held (equal to [`Self::next_seq`] when empty).
    pub fn first_seq(&self) -> u64 {
        self.lines.front().map_or(self.next_seq, |line| line.seq)
    }

    /// The number the next pushed line gets.
    pub fn next_seq(&self) -> u64 {
        self.next_seq
    }

    /// Appends a line, numbering it, and drops the oldest when full; the line's number.
    pub fn push(&mut self, mut line: LogLine) -> u64 {
        let seq = self.next_seq;
        self.next_seq += 1;
        line.seq = seq;
        if line.level.is_some_and(|level| level.is_problem()) {
            if self.problems.len() == MAX_INDEXED_PROBLEMS {
                self.problems.pop_front();
            }
            self.problems.push_back(seq);
        }
        if self.lines.len() == self.capacity {
            self.lines.pop_front();
        }
        self.lines.push_back(line);
        let first = self.first_seq();
        while self.problems.front().is_some_and(|&oldest| oldest < first) {
            self.problems.pop_front();
        }
        seq
    }

    /// The line numbered `seq`, if it is still held.
    pub fn get(&self, seq: u64) -> Option<&LogLine> {
        let index = seq.checked_sub(self.first_seq())?;
        self.lines.get(usize::try_from(index).ok()?)
    }

    /// Every line held, oldest first.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &LogLine> + ExactSizeIterator {
        self.lines.iter()
    }

    /// Lines numbered `seq` and later, oldest first.
    pub fn iter_from(&self, seq: u64) -> impl DoubleEndedIterator<Item = &LogLine> {
        let skip = seq.saturating_sub(self.first_seq());
        self.lines
            .iter()
            .skip(usize::try_from(skip).unwrap_or(usize::MAX))
    }

    /// The newest `n` warnings and errors still held, oldest first (so they read like a log).
    pub fn latest_problems(&self, n: usize) -> Vec<&LogLine> {
        let skip = self.problems.len().saturating_sub(n);
        self.problems
            .iter()
            .skip(skip)
            .filter_map(|&seq| self.get(seq))
            .collect()
    }

    /// Forgets every line; numbering goes on where it was.
    pub fn clear(&mut self) {
        self.lines.clear();
        self.problems.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::logs::{Level, LineSource};

    fn line(level: Option<Level>, text: &str) -> LogLine {
        let mut line = LogLine::plain(text, &LineSource::new("api-1", "api"), 100);
        line.level = level;
        line
    }

    #[test]
    fn the_buffer_never_holds_more_than_its_cap_and_keeps_the_newest() {
        let mut buffer = LogBuffer::new(3);
        for n in 1..=10 {
            let seq = buffer.push(line(Some(Level::Info), &format!("line {n}")));
            assert_eq!(seq, n);
            assert!(buffer.len() <= 3);
        }
        assert_eq!(buffer.len(), 3);
        assert_eq!(buffer.first_seq(), 8);
        assert_eq!(buffer.next_seq(), 11);
        let texts: Vec<&str> = buffer.iter().map(|l| &*l.text).collect();
        assert_eq!(texts, ["line 8", "line 9", "line 10"]);
        assert_eq!(buffer.get(7), None, "dropped");
        assert_eq!(buffer.get(9).map(|l| &*l.text), Some("line 9"));
        assert_eq!(buffer.get(11), None, "not yet pushed");
        let from: Vec<u64> = buffer.iter_from(9).map(|l| l.seq).collect();
        assert_eq!(from, [9, 10]);
        assert_eq!(buffer.iter_from(2).count(), 3, "older than held: all");
    }

    #[test]
    fn a_zero_cap_still_keeps_the_newest_line() {
        let mut buffer = LogBuffer::new(0);
        buffer.push(line(None, "a"));
        buffer.push(line(None, "b"));
        assert_eq!(buffer.capacity(), 1);
        assert_eq!(buffer.iter().map(|l| &*l.text).collect::<Vec<_>>(), ["b"]);
    }

    fn texts(buffer: &LogBuffer, n: usize) -> Vec<String> {
        buffer
            .latest_problems(n)
            .iter()
            .map(|l| l.text.to_string())
            .collect()
    }

    #[test]
    fn latest_problems_are_the_newest_warnings_and_errors_still_held() {
        let mut buffer = LogBuffer::new(5);
        buffer.push(line(Some(Level::Error), "old error"));
        buffer.push(line(Some(Level::Info), "info"));
        buffer.push(line(Some(Level::Warn), "warn 1"));
        buffer.push(line(None, "plain"));
        buffer.push(line(Some(Level::Error), "error 2"));
        assert_eq!(texts(&buffer, 2), ["warn 1", "error 2"]);
        assert_eq!(texts(&buffer, 10), ["old error", "warn 1", "error 2"]);
        buffer.push(line(Some(Level::Debug), "pushes the old error out"));
        assert_eq!(texts(&buffer, 10), ["warn 1", "error 2"]);
        assert!(buffer.latest_problems(0).is_empty());
        buffer.clear();
        assert!(buffer.is_empty() && buffer.latest_problems(5).is_empty());
        assert_eq!(buffer.push(line(None, "after clear")), 7);
    }
}
