//! Which lines the Logs view shows: a regex over the text, a lowest level, hidden workloads.

use std::collections::BTreeSet;

use regex::{Regex, RegexBuilder};

use super::buffer::LogBuffer;
use crate::model::logs::{Level, LogLine};

/// Compiled patterns bigger than this are refused, so a pasted monster cannot stall the UI.
const MAX_REGEX_BYTES: usize = 1 << 20;

/// The line filter of the Logs view.
#[derive(Debug, Clone, Default)]
pub struct LineFilter {
    pattern: Option<Regex>,
    min_level: Option<Level>,
    hidden_workloads: BTreeSet<String>,
}

impl LineFilter {
    /// The regex, as typed; `None` when lines are not filtered by text.
    pub fn pattern(&self) -> Option<&str> {
        self.pattern.as_ref().map(Regex::as_str)
    }

    /// Sets the text filter; an empty pattern clears it. An invalid one leaves the filter
    /// as it was and says why.
    pub fn set_pattern(&mut self, pattern: &str) -> Result<(), String> {
        self.pattern = compile(pattern)?;
        Ok(())
    }

    pub fn min_level(&self) -> Option<Level> {
        self.min_level
    }

    pub fn set_min_level(&mut self, level: Option<Level>) {
        self.min_level = level;
    }

    pub fn is_hidden(&self, workload: &str) -> bool {
        self.hidden_workloads.contains(workload)
    }

    /// Shows the workload's lines if hidden, hides them if shown.
    pub fn toggle_workload(&mut self, workload: &str) {
        if !self.hidden_workloads.remove(workload) {
            self.hidden_workloads.insert(workload.to_owned());
        }
    }

    /// True when nothing is filtered out.
    pub fn is_empty(&self) -> bool {
        self.pattern.is_none() && self.min_level.is_none() && self.hidden_workloads.is_empty()
    }

    pub fn clear(&mut self) {
        *self = Self::default();
    }

    /// Plain-text lines pass any level: they are often a panic or a crash on stderr.
    pub fn matches(&self, line: &LogLine) -> bool {
        let level_ok = match (self.min_level, line.level) {
            (Some(min), Some(level)) => level >= min,
            _ => true,
        };
        level_ok
            && !self.hidden_workloads.contains(&*line.workload)
            && self
                .pattern
                .as_ref()
                .is_none_or(|pattern| pattern.is_match(&line.text))
    }

    /// The numbers of the lines in `buffer` that pass, oldest first.
    pub fn select(&self, buffer: &LogBuffer) -> Vec<u64> {
        buffer
            .iter()
            .filter(|line| self.matches(line))
            .map(|line| line.seq)
            .collect()
    }
}

/// Compiles a user's pattern: smart case (case-insensitive unless it has a capital letter,
/// like ripgrep's `-S`), size-bounded. `None` for an empty pattern.
pub fn compile(pattern: &str) -> Result<Option<Regex>, String> {
    if pattern.is_empty() {
        return Ok(None);
    }
    let smart_case = !pattern.chars().any(char::is_uppercase);
    RegexBuilder::new(pattern)
        .case_insensitive(smart_case)
        .size_limit(MAX_REGEX_BYTES)
        .build()
        .map(Some)
        .map_err(|error| {
            format!(
                "invalid regex {pattern:?}: {}",
                first_line(&error.to_string())
            )
        })
}

/// The regex crate's errors draw the pattern with a caret over several lines; the status
/// line has room for the gist only.
fn first_line(message: &str) -> String {
    message
        .lines()
        .map(str::trim)
        .rfind(|line| line.starts_with("error:"))
        .map_or_else(
            || message.lines().next().unwrap_or_default().to_owned(),
            |line| line.trim_start_matches("error:").trim().to_owned(),
        )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::logs::LineSource;

    fn line(workload: &str, level: Option<Level>, text: &str) -> LogLine {
        let mut line = LogLine::plain(
            text,
            &LineSource::new(&format!("{workload}-1"), workload),
            200,
        );
        line.level = level;
        line
    }

    #[test]
    fn level_workload_and_pattern_all_have_to_pass() {
        let mut filter = LineFilter::default();
        let error = line("api", Some(Level::Error), "request failed status=503");
        let info = line("worker", Some(Level::Info), "job done");
        let plain = line("worker", None, "thread 'main' panicked");
        assert!(filter.is_empty());
        assert!([&error, &info, &plain].iter().all(|l| filter.matches(l)));

        filter.set_min_level(Some(Level::Warn));
        assert!(filter.matches(&error));
        assert!(!filter.matches(&info));
        assert!(filter.matches(&plain), "plain text passes any level");

        filter.toggle_workload("api");
        assert!(filter.is_hidden("api"));
        assert!(!filter.matches(&error));
        filter.toggle_workload("api");
        assert!(filter.matches(&error));

        filter.set_pattern("STATUS=5\\d\\d").expect("valid");
        assert!(
            !filter.matches(&error),
            "a capital letter makes it case-sensitive"
        );
        filter.set_pattern("status=5\\d\\d").expect("valid");
        assert!(filter.matches(&error));
        assert!(!filter.matches(&plain));
        filter.set_pattern("PANICKED|Status").expect("valid");
        assert!(!filter.matches(&plain));
        filter.set_pattern("").expect("clears");
        assert_eq!(filter.pattern(), None);
        filter.clear();
        assert!(filter.is_empty());
    }

    #[test]
    fn an_invalid_pattern_is_refused_with_a_reason_and_changes_nothing() {
        let mut filter = LineFilter::default();
        filter.set_pattern("timeout").expect("valid");
        let error = filter.set_pattern("(unclosed").expect_err("invalid");
        assert!(error.starts_with("invalid regex \"(unclosed\""), "{error}");
        assert!(!error.contains('\n'), "one line: {error}");
        assert_eq!(filter.pattern(), Some("timeout"));
        let error = filter.set_pattern("a{1000}{1000}").expect_err("too big");
        assert!(error.contains("invalid regex"), "{error}");
    }

    #[test]
    fn select_lists_the_passing_lines_oldest_first() {
        let mut buffer = LogBuffer::new(10);
        for n in 0..6 {
            buffer.push(line("api", Some(Level::Info), &format!("line {n}")));
        }
        let mut filter = LineFilter::default();
        filter.set_pattern("line [135]").expect("valid");
        assert_eq!(filter.select(&buffer), [2, 4, 6]);
    }
}
