//! `opsbox load`: synthetic traffic through the router, a live summary on stderr
//! and the final report on stdout. It reports; it does not judge: the exit code
//! is 0 whenever the load could run, whatever the server answered.

use std::io::{IsTerminal, Write};
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use tokio::signal::unix::{signal, Signal, SignalKind};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::env::{EnvArgs, EnvKind, Environment};
use crate::load::{
    self, KindMix, LoadConfig, LoadProgress, Mix, MAX_DURATION, MAX_IN_FLIGHT, MAX_RPS,
};

/// How often the live summary is redrawn on a terminal.
const TERMINAL_REFRESH: Duration = Duration::from_secs(1);
/// How often a summary line is printed when stderr is a file or pipe: often
/// enough to follow, rare enough that a long run does not flood a log.
const LOG_REFRESH: Duration = Duration::from_secs(5);

#[derive(Debug, Args)]
pub struct LoadArgs {
    /// Requests per second, sent on schedule whatever the answers (open loop).
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..=i64::from(MAX_RPS)))]
    pub rps: u32,
    /// How long to send, e.g. 30s, 5m, 2h (at most 24h).
    #[arg(long = "for", value_name = "DURATION", default_value = "30s", value_parser = parse_run_duration)]
    pub duration: Duration,
    /// Operation weights: create (POST /tasks), run (POST /tasks/{id}/run of a task
    /// created here), read (GET /tasks/{id}), list (GET /tasks).
    #[arg(long, value_name = "OP=WEIGHT,...", default_value_t = Mix::default())]
    pub mix: Mix,
    /// Weights of the task kinds created: io, cpu, fail, flaky.
    #[arg(long, value_name = "KIND=WEIGHT,...", default_value_t = KindMix::default())]
    pub kinds: KindMix,
    /// Requests outstanding at most; schedule slots beyond are skipped and counted.
    #[arg(long, default_value_t = LoadConfig::default().max_in_flight,
          value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=MAX_IN_FLIGHT as u64))]
    pub max_in_flight: usize,
    /// Base URL of the task API [default: the running local environment's router].
    #[arg(long)]
    pub url: Option<String>,
    /// Print the final report as JSON.
    #[arg(long)]
    pub json: bool,
    /// No live summary on stderr; only the final report.
    #[arg(long)]
    pub quiet: bool,
}

/// A duration above zero and at most [`MAX_DURATION`].
fn parse_run_duration(text: &str) -> Result<Duration, String> {
    let duration = opsbox_common::duration::parse(text)?;
    if duration.is_zero() {
        return Err("the load needs a duration above 0, e.g. 30s".to_owned());
    }
    if duration > MAX_DURATION {
        return Err(format!(
            "at most {}h: a load ends by itself",
            MAX_DURATION.as_secs() / 3600
        ));
    }
    Ok(duration)
}

pub fn load(env: &EnvArgs, args: &LoadArgs) -> anyhow::Result<()> {
    let config = LoadConfig {
        rps: args.rps,
        duration: args.duration,
        mix: args.mix.clone(),
        kinds: args.kinds.clone(),
        max_in_flight: args.max_in_flight,
        ..LoadConfig::default()
    };
    let runtime = super::runtime()?;
    let report = runtime.block_on(async {
        let base_url = match &args.url {
            Some(url) => url.clone(),
            None => router_url(env).await?,
        };
        let stop = CancellationToken::new();
        let signals = tokio::spawn(cancel_on_signal(stop.clone()));
        let (progress, watcher) = watch::channel(LoadProgress::default());
        let summary = (!args.quiet).then(|| tokio::spawn(live_summary(watcher)));
        let report = load::run(&base_url, &config, stop, Some(progress)).await;
        signals.abort();
        if let Some(summary) = summary {
            summary.abort();
            finish_summary();
        }
        report
    })?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", report.render());
    }
    Ok(())
}

/// The environment's ingress (the local router); `opsbox smoke` checks it too.
pub(super) async fn router_url(env: &EnvArgs) -> anyhow::Result<String> {
    let environment = env
        .connect()
        .context("no --url given and no running environment to find the API in")?;
    let status = environment.status().await?;
    let missing = match env.kind {
        EnvKind::Local => "the environment's router is not listening yet; wait for `opsbox up` to finish",
        EnvKind::Kubernetes => "no path to the release's API: pass --url, or --api-url with a port-forward (scripts/port-forward.sh --background) or an ingress",
    };
    let router = status.router.context(missing)?;
    Ok(router.url)
}

/// Ctrl-C or SIGTERM end the load early and the report is still printed, once
/// the requests in flight have had their few seconds; a second one exits at once.
async fn cancel_on_signal(stop: CancellationToken) {
    // Without a SIGTERM handler, Ctrl-C still works.
    let mut terminate = signal(SignalKind::terminate()).ok();
    interrupted(terminate.as_mut()).await;
    stop.cancel();
    interrupted(terminate.as_mut()).await;
    finish_summary();
    eprintln!("opsbox: interrupted again; exiting without the report");
    std::process::exit(130);
}

async fn interrupted(terminate: Option<&mut Signal>) {
    match terminate {
        Some(terminate) => tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = terminate.recv() => {}
        },
        None => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

/// One line on stderr, redrawn in place on a terminal, appended otherwise.
async fn live_summary(mut watcher: watch::Receiver<LoadProgress>) {
    let terminal = std::io::stderr().is_terminal();
    let mut tick = tokio::time::interval(if terminal {
        TERMINAL_REFRESH
    } else {
        LOG_REFRESH
    });
    tick.tick().await;
    loop {
        tick.tick().await;
        let line = watcher.borrow_and_update().summary_line();
        let mut stderr = std::io::stderr().lock();
        // A summary that cannot be written is not worth stopping the load for.
        let _ = if terminal {
            write!(stderr, "\r\x1b[2K{line}")
        } else {
            writeln!(stderr, "{line}")
        };
        let _ = stderr.flush();
    }
}

/// Clears the redrawn line so the report starts on a clean one.
fn finish_summary() {
    if std::io::stderr().is_terminal() {
        eprint!("\r\x1b[2K");
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use crate::cli::{Cli, Command};

    fn parse(args: &[&str]) -> Result<super::LoadArgs, clap::Error> {
        let cli = Cli::try_parse_from(std::iter::once("opsbox").chain(args.iter().copied()))?;
        match cli.command.expect("a subcommand") {
            Command::Load(args) => Ok(args),
            other => panic!("not load: {other:?}"),
        }
    }

    #[test]
    fn load_has_demo_defaults() {
        let args = parse(&["load"]).expect("parses");
        assert_eq!(args.rps, 20);
        assert_eq!(args.duration, std::time::Duration::from_secs(30));
        assert_eq!(args.mix.to_string(), "create=1,run=1,read=2");
        assert_eq!(args.kinds.to_string(), "io=6,cpu=1,flaky=2,fail=1");
        assert_eq!(args.max_in_flight, 64);
        assert!(args.url.is_none() && !args.json && !args.quiet);
        let args = parse(&[
            "load",
            "--rps",
            "200",
            "--for",
            "5m",
            "--mix",
            "read=1",
            "--kinds",
            "fail=1",
            "--max-in-flight",
            "8",
            "--url",
            "http://127.0.0.1:1",
            "--json",
            "--quiet",
        ])
        .expect("parses");
        assert_eq!((args.rps, args.max_in_flight), (200, 8));
        assert_eq!(args.duration, std::time::Duration::from_secs(300));
        assert_eq!(args.mix.to_string(), "read=1");
    }

    #[test]
    fn bad_load_arguments_are_usage_errors() {
        for (args, reason) in [
            (&["load", "--rps", "0"][..], "--rps"),
            (&["load", "--rps", "10001"], "--rps"),
            (&["load", "--for", "0s"], "above 0"),
            (&["load", "--for", "0"], "above 0"),
            (&["load", "--for", "25h"], "at most 24h"),
            (&["load", "--for", "soon"], "--for"),
            (&["load", "--mix", "create=1,delete=1"], "unknown operation"),
            (&["load", "--mix", "read=0"], "above 0"),
            (&["load", "--kinds", "io=x"], "whole number"),
            (&["load", "--max-in-flight", "0"], "--max-in-flight"),
        ] {
            let err = parse(args).expect_err(reason);
            assert_eq!(
                err.kind(),
                clap::error::ErrorKind::ValueValidation,
                "{args:?}"
            );
            let text = err.to_string();
            assert!(text.contains(reason), "{args:?}: {text}");
        }
    }
}
