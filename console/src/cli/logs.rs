//! `opsbox logs`: the services' log lines from whichever environment, merged and parsed
//! (level, instance, message and fields), recent lines then the end, or `--follow`.

use std::collections::BTreeSet;
use std::io::Write;

use clap::{Args, ValueEnum};
use tokio_util::sync::CancellationToken;

use super::runtime;
use crate::env::{AnyEnvironment, Environment};
use crate::model::logs::{LogLine, LogRequest};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum App {
    Api,
    Worker,
}

#[derive(Debug, Args)]
pub struct LogsArgs {
    /// Only this workload's lines (repeatable) [default: every workload].
    #[arg(long = "app", value_enum)]
    pub apps: Vec<App>,
    /// Keep printing new lines (and new instances') until Ctrl-C.
    #[arg(long, short)]
    pub follow: bool,
}

pub fn run(environment: &AnyEnvironment, args: &LogsArgs) -> anyhow::Result<()> {
    let request = LogRequest {
        workloads: args
            .apps
            .iter()
            .map(|app| match app {
                App::Api => "api".to_owned(),
                App::Worker => "worker".to_owned(),
            })
            .collect::<BTreeSet<_>>(),
        follow: args.follow,
    };
    runtime()?.block_on(async {
        let stop = CancellationToken::new();
        let mut batches = environment.logs(request, stop.clone());
        let mut stdout = std::io::stdout().lock();
        let mut failures = 0usize;
        loop {
            let batch = tokio::select! {
                batch = batches.recv() => batch,
                _ = tokio::signal::ctrl_c() => None,
            };
            let Some(batch) = batch else { break };
            for line in &batch.lines {
                writeln!(stdout, "{}", format_line(line))?;
            }
            for error in &batch.errors {
                eprintln!("opsbox logs: {error}");
                failures += 1;
            }
            stdout.flush()?;
        }
        stop.cancel();
        anyhow::ensure!(
            failures == 0 || args.follow,
            "some log sources could not be read (above)"
        );
        Ok(())
    })
}

/// `12:00:01.123 INFO  api-7f9c  message key=value`
pub fn format_line(line: &LogLine) -> String {
    let time = line
        .timestamp
        .map(|time| time.format("%H:%M:%S%.3f").to_string())
        .unwrap_or_else(|| "            ".to_owned());
    let level = line.level.map_or("", |level| level.as_str());
    format!("{time} {level:<5} {:<24} {}", line.instance, line.text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::logs::{LineSource, DEFAULT_MAX_TEXT_BYTES};

    #[test]
    fn a_json_line_shows_time_level_instance_and_text() {
        let source = LineSource::new("opsbox-api-1", "api");
        let line = LogLine::parse(
            r#"{"timestamp":"2026-12-07T12:00:01.123Z","level":"WARN","fields":{"message":"slow"},"target":"x"}"#,
            &source,
            DEFAULT_MAX_TEXT_BYTES,
        );
        let shown = format_line(&line);
        assert!(shown.starts_with("12:00:01.123 WARN"), "{shown}");
        assert!(shown.contains("opsbox-api-1"), "{shown}");
        assert!(shown.contains("slow"), "{shown}");
        let plain = format_line(&LogLine::plain(
            "panicked at x",
            &source,
            DEFAULT_MAX_TEXT_BYTES,
        ));
        assert!(plain.ends_with("panicked at x"), "{plain}");
    }
}
