//! Plain-text views of the status: the `status` table and the summary `up` prints.

use std::fmt::Write;

use chrono::{DateTime, Utc};

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
        crate::durations::precise(age)
    );
    out.push('\n');
    out.push_str(&instance_table(&status.instances));
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
        // A cluster's status has no state directory and an ingress only with --api-url.
        None if status.state_dir.is_none() => {
            out.push_str("\napi url: none given (--api-url: a port-forward or an ingress)\n");
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
        None if status.state_dir.is_none() => {
            out.push_str("queue: not read here (opsbox queue; or give --api-url)\n");
        }
        None => out.push_str("queue: unknown (Redis does not answer)\n"),
    }
    if let Some(rollout) = &status.rollout {
        let _ = writeln!(out, "rollout: {}", rollout_line(rollout));
    }
    for scaler in &status.scalers {
        let _ = writeln!(out, "autoscaler: {}", scaler.summary(now));
    }
    out
}

/// One line: stable revision, and the canary's step, phase and weight when one exists.
fn rollout_line(rollout: &crate::model::RolloutStatus) -> String {
    let mut line = format!("stable {}", rollout.stable_revision);
    if let Some(canary) = &rollout.canary_revision {
        let step = rollout.current_step_index.map_or_else(
            || "starting".to_owned(),
            |index| {
                format!(
                    "step {}/{}",
                    (index + 1).min(rollout.steps.len()),
                    rollout.steps.len()
                )
            },
        );
        let _ = write!(
            line,
            ", canary {canary} {} at {step}, weight {}%",
            rollout.phase.as_str(),
            rollout.canary_weight
        );
        if rollout.aborted {
            line.push_str(" (aborted)");
        }
    }
    if let Some(message) = &rollout.message {
        let _ = write!(line, ": {message}");
    }
    line.push_str(" (opsbox rollout status)");
    line
}

/// How a column lines up its cells: text to the left, numbers to the right.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Align {
    Left,
    Right,
}

/// The instance table's columns. `ADDRESS` comes last and is not padded.
const COLUMNS: [(&str, Align); 9] = [
    ("NAME", Align::Left),
    ("WORKLOAD", Align::Left),
    ("TRACK", Align::Left),
    ("REVISION", Align::Left),
    ("PID", Align::Right),
    ("STATE", Align::Left),
    ("RESTARTS", Align::Right),
    ("UPTIME", Align::Right),
    ("ADDRESS", Align::Left),
];

/// Header and one row per instance, each column as wide as its widest cell:
/// fixed widths let a long name or workload (`prometheus`) push the rest of
/// its row out of line.
fn instance_table(instances: &[InstanceStatus]) -> String {
    let header = COLUMNS.map(|(title, _)| title.to_owned());
    let rows: Vec<[String; COLUMNS.len()]> = std::iter::once(header)
        .chain(instances.iter().map(instance_cells))
        .collect();
    let mut widths = [0; COLUMNS.len()];
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for row in &rows {
        let mut line = String::new();
        for (index, ((cell, width), (_, align))) in row.iter().zip(widths).zip(COLUMNS).enumerate()
        {
            let separator = match index {
                0 => "",
                // Two spaces set the free-form address apart from the numbers.
                _ if index == COLUMNS.len() - 1 => "  ",
                _ => " ",
            };
            line.push_str(separator);
            if index == COLUMNS.len() - 1 {
                line.push_str(cell);
            } else if align == Align::Left {
                let _ = write!(line, "{cell:<width$}");
            } else {
                let _ = write!(line, "{cell:>width$}");
            }
        }
        let _ = writeln!(out, "{}", line.trim_end());
    }
    out
}

fn instance_cells(instance: &InstanceStatus) -> [String; COLUMNS.len()] {
    let or_dash = |text: &str| {
        if text.is_empty() {
            "-".to_owned()
        } else {
            text.to_owned()
        }
    };
    [
        instance.name.clone(),
        instance.workload.clone(),
        instance.track.as_str().to_owned(),
        // Prometheus has no revision of ours.
        or_dash(&instance.revision),
        instance
            .pid
            .map_or_else(|| "-".to_owned(), |pid| pid.to_string()),
        instance.state.as_str().to_owned(),
        instance.restarts.to_string(),
        instance.uptime_secs.map_or_else(
            || "-".to_owned(),
            |secs| crate::durations::precise(std::time::Duration::from_secs(secs)),
        ),
        or_dash(instance.address.as_deref().unwrap_or_default()),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{EnvironmentPhase, InstanceState, QueueStatus, RouterStatus};
    use opsbox_common::config::Track;

    #[test]
    fn the_table_shows_instances_split_and_queue() {
        let started_at = Utc::now();
        let status = EnvironmentStatus {
            environment: "local".to_owned(),
            phase: EnvironmentPhase::Ready,
            started_at,
            state_dir: None,
            instances: vec![
                InstanceStatus {
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
                },
                // Longer than the other names and workloads, without a revision.
                InstanceStatus {
                    name: "prometheus".to_owned(),
                    workload: "prometheus".to_owned(),
                    track: Track::Stable,
                    revision: String::new(),
                    pid: Some(77),
                    state: InstanceState::Running,
                    restarts: 0,
                    uptime_secs: Some(7),
                    address: Some("127.0.0.1:9090".to_owned()),
                    log_file: None,
                    last_exit: None,
                    last_error: None,
                },
            ],
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
            scalers: Vec::new(),
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

        // Every row keeps its cells under their headers.
        let line = |start: &str| {
            table
                .lines()
                .find(|line| line.starts_with(start))
                .unwrap_or_else(|| panic!("no line starting with {start}:\n{table}"))
        };
        let column = |line: &str, text: &str| {
            line.find(text)
                .unwrap_or_else(|| panic!("{text} not in {line:?}"))
        };
        let header = line("NAME ");
        for (row, address) in [
            (line("api-1 "), "127.0.0.1:5000"),
            (line("prometheus "), "127.0.0.1:9090"),
        ] {
            assert_eq!(column(row, address), column(header, "ADDRESS"), "{table}");
            assert_eq!(column(row, "running"), column(header, "STATE"), "{table}");
            assert_eq!(column(row, "stable"), column(header, "TRACK"), "{table}");
            // Numbers end where their header ends.
            let restarts_end = column(header, "RESTARTS") + "RESTARTS".len();
            assert!(
                row[..restarts_end].ends_with(['3', '0']),
                "{row:?} in\n{table}"
            );
        }
        assert!(
            line("prometheus ").starts_with("prometheus prometheus stable -"),
            "{table}"
        );
    }

    #[test]
    fn a_missing_router_and_queue_say_why_in_each_environment() {
        let cluster = EnvironmentStatus {
            environment: "kind-opsbox/opsbox".to_owned(),
            phase: EnvironmentPhase::Ready,
            started_at: Utc::now(),
            state_dir: None,
            instances: Vec::new(),
            queue: None,
            router: None,
            rollout: None,
            prometheus_url: None,
            scalers: Vec::new(),
        };
        let table = render(&cluster, Utc::now());
        assert!(table.contains("api url: none given (--api-url"), "{table}");
        assert!(table.contains("queue: not read here"), "{table}");
        let local = EnvironmentStatus {
            environment: "local".to_owned(),
            state_dir: Some("/tmp/opsbox".into()),
            ..cluster
        };
        let table = render(&local, Utc::now());
        assert!(table.contains("router: not listening yet"), "{table}");
        assert!(table.contains("Redis does not answer"), "{table}");
    }
}
