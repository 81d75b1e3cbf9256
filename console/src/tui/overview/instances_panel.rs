//! Instances counted per workload and track, and the ones that are not running.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

use super::super::store::Store;
use super::super::widgets::panel;
use crate::model::{InstanceState, InstanceStatus};
use opsbox_common::config::Track;

/// Running, total and restarts of one workload, and how many of them are canaries.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct GroupCount {
    pub running: usize,
    pub total: usize,
    pub restarts: u64,
    pub canary_running: usize,
    pub canary_total: usize,
}

/// Counts by workload, in name order; one pass without allocating per instance,
/// whatever the fleet size.
pub fn count(instances: &[InstanceStatus]) -> BTreeMap<&str, GroupCount> {
    let mut groups: BTreeMap<&str, GroupCount> = BTreeMap::new();
    for instance in instances {
        let group = groups.entry(instance.workload.as_str()).or_default();
        let running = instance.state == InstanceState::Running;
        group.total += 1;
        group.restarts += u64::from(instance.restarts);
        group.running += usize::from(running);
        if instance.track == Track::Canary {
            group.canary_total += 1;
            group.canary_running += usize::from(running);
        }
    }
    groups
}

/// The counts of one status reading, kept until the next: frames come more often than
/// readings, and counting thousands of instances on every frame was most of what an
/// idle console did on a large cluster.
#[derive(Debug, Default)]
pub struct Counted {
    reading: Option<DateTime<Utc>>,
    groups: Vec<(String, GroupCount)>,
    not_running: Vec<String>,
}

impl Counted {
    fn update(&mut self, reading: Option<DateTime<Utc>>, instances: &[InstanceStatus]) {
        if reading.is_some() && reading == self.reading {
            return;
        }
        self.reading = reading;
        self.groups = count(instances)
            .into_iter()
            .map(|(workload, group)| (workload.to_owned(), group))
            .collect();
        self.not_running = instances
            .iter()
            .filter(|instance| instance.state != InstanceState::Running)
            .take(4)
            .map(|instance| format!("{} {}", instance.name, instance.state.as_str()))
            .collect();
    }
}

pub fn render(frame: &mut Frame<'_>, area: Rect, store: &Store, counted: &mut Counted) {
    let theme = store.theme;
    let Some((inner, status)) = panel::open_status(frame, area, "Instances", store) else {
        return;
    };
    if status.instances.is_empty() {
        frame.render_widget(
            Line::from(Span::styled(
                format!("no instances yet ({})", phase_name(status.phase)),
                theme.dim(),
            )),
            inner,
        );
        return;
    }
    counted.update(store.status.updated_at(), &status.instances);
    let width = counted
        .groups
        .iter()
        .map(|(workload, _)| workload.chars().count())
        .max()
        .unwrap_or(0);
    let mut lines: Vec<Line<'_>> = counted
        .groups
        .iter()
        .map(|(workload, group)| {
            let style = if group.running == group.total {
                theme.good()
            } else {
                theme.warn()
            };
            let mut spans = vec![
                Span::raw(format!("{workload:<width$} ")),
                Span::styled(format!("{}/{} up", group.running, group.total), style),
            ];
            if group.canary_total > 0 {
                spans.push(Span::styled(
                    format!(" (canary {}/{})", group.canary_running, group.canary_total),
                    theme.accent(),
                ));
            }
            spans.push(Span::styled(
                format!("  {} restarts", group.restarts),
                theme.dim(),
            ));
            Line::from(spans)
        })
        .collect();
    if !counted.not_running.is_empty() {
        lines.push(Line::from(Span::styled(
            counted.not_running.join(", "),
            theme.warn(),
        )));
    }
    frame.render_widget(Paragraph::new(lines), inner);
}

fn phase_name(phase: crate::model::EnvironmentPhase) -> &'static str {
    match phase {
        crate::model::EnvironmentPhase::Starting => "starting",
        crate::model::EnvironmentPhase::Ready => "ready",
        crate::model::EnvironmentPhase::Stopping => "stopping",
    }
}
