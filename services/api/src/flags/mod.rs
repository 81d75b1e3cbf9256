//! Feature flags: read from a file at start and again whenever its content
//! changes, shown at `GET /flags` and as the `opsbox_feature_flag` gauge. A
//! file that cannot be read or parsed never replaces the last good flags.

pub mod file;
mod watch;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::RwLock;

use chrono::{DateTime, Utc};
use prometheus::{IntCounter, IntGaugeVec};
use serde::Serialize;
use utoipa::ToSchema;

pub use file::FlagSet;
pub use watch::{spawn_watch, WatchHandle};

/// The flags the API acts on. Other names in the file are shown and exported
/// but gate nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flag {
    /// `POST /tasks/bulk`: create up to 100 tasks in one request.
    BulkTasks,
}

impl Flag {
    pub const ALL: [Flag; 1] = [Flag::BulkTasks];

    /// The name in `flags.json`, as the chart's `featureFlags` spells it.
    pub fn name(self) -> &'static str {
        match self {
            Flag::BulkTasks => "bulkTasks",
        }
    }
}

/// The flags in force, shared by every request.
pub struct FeatureFlags {
    source: Option<PathBuf>,
    state: RwLock<State>,
    gauge: IntGaugeVec,
    refused: IntCounter,
}

#[derive(Default)]
struct State {
    flags: FlagSet,
    loaded_at: Option<DateTime<Utc>>,
    last_error: Option<String>,
    /// The last thing read from the file, good or bad: an unchanged file is
    /// not parsed again, nor its error logged again on every poll.
    seen: Option<Result<Vec<u8>, String>>,
}

/// What `GET /flags` shows.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize, ToSchema)]
pub struct FlagsView {
    /// Every flag in force: the file's, and the API's own flags (off unless the file turns them on).
    pub flags: BTreeMap<String, bool>,
    /// The flags file, when one is configured.
    pub source: Option<String>,
    /// When the flags in force were read.
    pub loaded_at: Option<DateTime<Utc>>,
    /// Why the file's latest content was refused; the last good flags stay in force.
    pub last_error: Option<String>,
}

impl FeatureFlags {
    /// `gauge` is labelled by `flag`; `refused` counts contents of the file that were refused.
    pub fn new(source: Option<PathBuf>, gauge: IntGaugeVec, refused: IntCounter) -> Self {
        let flags = Self {
            source,
            state: RwLock::new(State::default()),
            gauge,
            refused,
        };
        flags.export(&FlagSet::new());
        flags
    }

    pub fn source(&self) -> Option<&Path> {
        self.source.as_deref()
    }

    pub fn is_on(&self, flag: Flag) -> bool {
        self.read().flags.get(flag.name()).copied().unwrap_or(false)
    }

    pub fn view(&self) -> FlagsView {
        let state = self.read();
        FlagsView {
            flags: effective(&state.flags),
            source: self.source.as_ref().map(|p| p.display().to_string()),
            loaded_at: state.loaded_at,
            last_error: state.last_error.clone(),
        }
    }

    /// Reads the file (when one is configured) and applies it if it changed.
    pub async fn reload(&self) {
        if let Some(path) = &self.source {
            let read = file::read_bounded(path).await;
            self.observe(read);
        }
    }

    /// Applies one reading of the file: new valid content replaces the
    /// flags; anything else is recorded and the last good flags stay.
    fn observe(&self, read: Result<Vec<u8>, String>) {
        let mut state = self.write();
        if state.seen.as_ref() == Some(&read) {
            return;
        }
        let outcome = read.as_ref().map_err(String::clone).and_then(|bytes| {
            file::parse(bytes).map_err(|why| format!("{}: {why}", self.source_name()))
        });
        state.seen = Some(read);
        match outcome {
            Ok(flags) => {
                tracing::info!(flags = ?flags, source = %self.source_name(), "feature flags loaded");
                self.export(&flags);
                state.flags = flags;
                state.loaded_at = Some(Utc::now());
                state.last_error = None;
            }
            Err(why) => {
                tracing::error!(error = %why, kept = ?state.flags, "flags file refused; the last good flags stay in force");
                self.refused.inc();
                state.last_error = Some(why);
            }
        }
    }

    /// One series per flag in force; flags gone from the file go from the metric too.
    fn export(&self, flags: &FlagSet) {
        self.gauge.reset();
        for (name, on) in effective(flags) {
            self.gauge.with_label_values(&[&name]).set(i64::from(on));
        }
    }

    fn source_name(&self) -> String {
        self.source
            .as_ref()
            .map_or_else(|| "(no flags file)".to_owned(), |p| p.display().to_string())
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, State> {
        // Plain data, valid even if a writer panicked.
        self.state
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, State> {
        self.state
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// The file's flags over the API's own, which are off unless the file says otherwise.
fn effective(flags: &FlagSet) -> BTreeMap<String, bool> {
    let mut all: BTreeMap<String, bool> = Flag::ALL
        .iter()
        .map(|f| (f.name().to_owned(), false))
        .collect();
    all.extend(flags.iter().map(|(k, v)| (k.clone(), *v)));
    all
}

#[cfg(test)]
mod tests {
    use prometheus::core::Collector;
    use prometheus::Opts;

    use super::*;

    fn flags() -> FeatureFlags {
        let gauge = IntGaugeVec::new(Opts::new("f", "f"), &["flag"]).expect("gauge");
        let refused = IntCounter::new("r", "r").expect("counter");
        FeatureFlags::new(
            Some(PathBuf::from("/etc/opsbox/flags.json")),
            gauge,
            refused,
        )
    }

    fn gauge(flags: &FeatureFlags, name: &str) -> i64 {
        flags.gauge.with_label_values(&[name]).get()
    }

    #[test]
    fn own_flags_are_off_until_the_file_turns_them_on() {
        let flags = flags();
        assert!(!flags.is_on(Flag::BulkTasks));
        assert_eq!(flags.view().flags.get("bulkTasks"), Some(&false));
        flags.observe(Ok(br#"{"bulkTasks":true,"darkMode":false}"#.to_vec()));
        assert!(flags.is_on(Flag::BulkTasks));
        assert_eq!(gauge(&flags, "bulkTasks"), 1);
        assert_eq!(flags.view().flags.get("darkMode"), Some(&false));
        assert!(flags.view().loaded_at.is_some());
    }

    #[test]
    fn a_bad_file_keeps_the_last_good_flags_and_is_counted_once() {
        let flags = flags();
        flags.observe(Ok(br#"{"bulkTasks":true}"#.to_vec()));
        for _ in 0..3 {
            flags.observe(Ok(br#"{"bulkTasks":"yes"}"#.to_vec()));
        }
        assert!(flags.is_on(Flag::BulkTasks));
        assert_eq!(flags.refused.get(), 1);
        let error = flags.view().last_error.expect("error shown");
        assert!(error.contains("/etc/opsbox/flags.json"), "{error}");
        flags.observe(Err("cannot open: gone".to_owned()));
        assert!(flags.is_on(Flag::BulkTasks));
        assert_eq!(flags.refused.get(), 2);

        flags.observe(Ok(br#"{"bulkTasks":false}"#.to_vec()));
        assert!(!flags.is_on(Flag::BulkTasks));
        assert_eq!(flags.view().last_error, None);
        assert_eq!(gauge(&flags, "bulkTasks"), 0);
    }

    #[test]
    fn a_flag_removed_from_the_file_leaves_the_metric() {
        let flags = flags();
        flags.observe(Ok(br#"{"darkMode":true}"#.to_vec()));
        assert_eq!(gauge(&flags, "darkMode"), 1);
        flags.observe(Ok(b"{}".to_vec()));
        let families = flags.gauge.collect();
        let labels: Vec<_> = families[0]
            .get_metric()
            .iter()
            .map(|m| m.get_label()[0].value().to_owned())
            .collect();
        assert_eq!(labels, vec!["bulkTasks".to_owned()]);
    }
}
