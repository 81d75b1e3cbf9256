//! Plain-text views of the status: the `status` table and the summary `up` prints.

use std::fmt::Write;

use chrono::{DateTime, Utc};

use crate::env::local::StateDir;
use crate::model::{EnvironmentStatus, InstanceStatus};

/// The table `opsbox status` prints.
pub fn render(status: &EnvironmentStatus, now: DateTime<Utc>) -> String {
    let mut out = String::new();
    let age = (now - status.started_at).to_std().unwrap_or_default();
    let _ = writeln!(
        out,
        "environment {} ({:?}), up {}",
        status.environment,
        status.phase,
        human_duration(age.as_secs())
    );
    let _ = writeln!(
        out,
        "\n{:<12} {:<8} {:<7} {:<9} {:>8} {:<9} {:>8} {:>8}  ADDRESS",
        "NAME", "WORKLOAD", "TRACK", "REVISION", "PID", "STATE", "RESTARTS", "UPTIME"
    );
    for instance in &status.instances {
        let _ = writeln!(out, "{}", instance_row(instance));
    }
    match &status.router {
        Some(router) => {
            let _ = writeln!(
                out,
                "\nrouter {}: stable {}% -> [{}], canary {}% -> [{}]",
                router.url,
                100u8.saturating_sub(router.canary_weight),
                router.stable_upstreams.join(", "),
                router.canary_weight,
                router.canary_upstreams.join(", ")
            );
        }
        None => out.push_str("\nrouter: not listening yet\n"),
    }
    match &status.queue {
        Some(queue) => {
            let _ = writeln!(
                out,
                "queue: ready {}, delayed {}, processing {}, dead {}",
                queue.ready, queue.delayed, queue.processing, queue.dead
            );
        }
        None => out.push_str("queue: unknown (Redis does not answer)\n"),
    }
    out
}

fn instance_row(instance: &InstanceStatus) -> String {
    format!(
        "{:<12} {:<8} {:<7} {:<9} {:>8} {:<9} {:>8} {:>8}  {}",
        instance.name,
        instance.workload,
        instance.track.as_str(),
        instance.revision,
        instance
            .pid
            .map_or_else(|| "-".to_owned(), |pid| pid.to_string()),
        instance.state.as_str(),
        instance.restarts,
        instance
            .uptime_secs
            .map_or_else(|| "-".to_owned(), human_duration),
        instance.address.as_deref().unwrap_or("-")
    )
}

/// `42s`, `3m07s`, `2h05m`: short enough for a table column.
fn human_duration(secs: u64) -> String {
    match secs {
        0..=59 => format!("{secs}s"),
        60..=3599 => format!("{}m{:02}s", secs / 60, secs % 60),
        _ => format!("{}h{:02}m", secs / 3600, (secs % 3600) / 60),
    }
}

/// What `opsbox up` prints once the stack is ready: where everything is.
pub fn ready_summary(status: &EnvironmentStatus, state: &StateDir) -> String {
    let mut out = String::from("the local environment is ready\n");
    if let Some(router) = &status.router {
        let _ = writeln!(out, "  router        {}", router.url);
        if let Some(metrics) = &router.metrics_url {
            let _ = writeln!(out, "  router metrics {metrics}");
        }
    }
    for instance in &status.instances {
        let what = match instance.workload.as_str() {
            "worker" => "metrics ",
            _ => "",
        };
        let _ = writeln!(
            out,
            "  {:<13} {what}http://{}  log {}",
            instance.name,
            instance.address.as_deref().unwrap_or("-"),
            instance
                .log_file
                .as_ref()
                .map_or_else(|| "-".to_owned(), |path| path.display().to_string())
        );
    }
    if let Some(prometheus) = &status.prometheus_url {
        let _ = writeln!(out, "  prometheus    {prometheus}  (SLOs: `opsbox slo`)");
    }
    let _ = writeln!(out, "  state dir     {}", state.root().display());
    let _ = writeln!(out, "  daemon log    {}", state.daemon_log().display());
    out.push_str("see `opsbox status`; stop with `opsbox down`\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::env::Track;
    use crate::model::{EnvironmentPhase, InstanceState, QueueStatus, RouterStatus};

    #[test]
    fn the_table_shows_instances_split_and_queue() {
        let started_at = Utc::now();
        let status = EnvironmentStatus {
            environment: "local".to_owned(),
            phase: EnvironmentPhase::Ready,
            started_at,
            state_dir: None,
            instances: vec![InstanceStatus {
                name: "api-1".to_owned(),
                workload: "api".to_owned(),
                track: Track::Stable,
                revision: "v1".to_owned(),
                pid: Some(4242),
                state: InstanceState::Running,
                restarts: 3,
                uptime_secs: Some(125),
                address: Some("127.0.0.1:5000".to_owned()),
                log_file: None,
                last_exit: None,
                last_error: None,
            }],
            queue: Some(QueueStatus {
                ready: 1,
                delayed: 0,
                processing: 2,
                dead: 0,
            }),
            router: Some(RouterStatus {
                url: "http://127.0.0.1:8080".to_owned(),
                metrics_url: None,
                canary_weight: 10,
                stable_upstreams: vec!["api-1".to_owned()],
                canary_upstreams: vec![],
            }),
            rollout: None,
            prometheus_url: None,
        };
        let table = render(&status, started_at + chrono::Duration::seconds(3700));
        assert!(table.contains("up 1h01m"), "{table}");
        assert!(table.contains("api-1"), "{table}");
        assert!(table.contains("4242"), "{table}");
        assert!(table.contains("running"), "{table}");
        assert!(table.contains("2m05s"), "{table}");
        assert!(
            table.contains("stable 90% -> [api-1], canary 10% -> []"),
            "{table}"
        );
        assert!(
            table.contains("ready 1, delayed 0, processing 2, dead 0"),
            "{table}"
        );
    }
}
