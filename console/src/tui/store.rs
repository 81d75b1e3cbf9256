//! Everything the console currently knows, in one place the views read from: one
//! [`Feed`] per source, and the capped histories the charts and sparklines draw.
//!
//! The app applies each collector's update here; views hold a [`SharedStore`] and read
//! it when they draw. The event loop runs on one thread, so a `RefCell` is enough.

use crate::env::Permissions;
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::rc::Rc;

use chrono::{DateTime, Utc};

use super::feed::{Capped, Feed};
use super::nav::UiRequest;
use super::theme::Theme;
use super::view::Action;
use crate::audit::AuditEntry;
use crate::chaos::ChaosStatus;
use crate::drill::{Drill, DrillReport};
use crate::model::slo::SloReport;
use crate::model::{EnvironmentStatus, QueueStatus, RolloutStatus};

/// Queue depth samples kept for the sparkline: ten minutes at one per second.
pub const QUEUE_HISTORY: usize = 600;

/// Budget samples kept per SLO for the SLO chart: one hour at one per two seconds.
pub const BUDGET_HISTORY: usize = 1_800;

/// Action results kept for the footer and the Audit view's "this session" list.
pub const ACTION_RESULTS: usize = 50;

/// The store as the views share it.
pub type SharedStore = Rc<RefCell<Store>>;

/// Whether the console reaches an environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Connection {
    /// No answer yet.
    Unknown,
    /// No environment runs; the message says where the console looked.
    NotRunning(String),
    Connected,
}

/// A stack being started from the console (`opsbox up`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StackStart {
    Idle,
    /// Running; the newest progress line.
    Running(String),
    Failed(String),
}

/// Queue depth at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueSample {
    pub at: DateTime<Utc>,
    pub depth: QueueStatus,
}

/// One SLO's remaining budget at one moment.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BudgetSample {
    pub at: DateTime<Utc>,
    /// `None` when the source had no number (no traffic, window not covered).
    pub remaining: Option<f64>,
}

/// The result of an operation the operator confirmed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActionResult {
    pub at: DateTime<Utc>,
    pub action: Action,
    /// What was done, e.g. `kill api-2`.
    pub summary: String,
    /// What came back: the environment's answer, or the error text.
    pub outcome: Result<String, String>,
}

/// A warning or error line from the services' logs, for the Overview.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProblemLine {
    /// The newest occurrence.
    pub at: Option<DateTime<Utc>>,
    pub level: &'static str,
    pub instance: String,
    /// The newest occurrence's whole text; only its message when it repeats.
    pub text: String,
    /// How many lines of this kind (level, instance, message) were seen: 1 for one.
    pub repeats: usize,
    /// The oldest occurrence, when it repeats.
    pub first_at: Option<DateTime<Utc>>,
}

/// The drills the console can run, and the newest report of each.
#[derive(Debug, Clone, Default)]
pub struct DrillBoard {
    /// Where the catalogue was read from (a directory, or the built-in drills).
    pub source: String,
    /// Sorted by name.
    pub drills: Vec<Drill>,
    /// The newest saved report per drill, by name.
    pub last_reports: BTreeMap<String, DrillReport>,
}

/// A drill started from this console and not finished yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunningDrill {
    pub name: String,
    pub started_at: DateTime<Utc>,
    /// Its steps so far (actions and hypothesis checks), newest last, at most
    /// [`MAX_LIVE_DRILL_STEPS`].
    pub steps: Vec<crate::drill::report::StepRecord>,
}

/// Steps of a running drill kept for the live view; a drill's method is a few dozen.
pub const MAX_LIVE_DRILL_STEPS: usize = 200;

#[derive(Debug)]
pub struct Store {
    /// The time views measure ages against; set by the app before each draw.
    pub now: DateTime<Utc>,
    /// `local` or `kubernetes`.
    pub environment: String,
    pub state_dir: PathBuf,
    pub audit_path: PathBuf,
    /// Every action refused (`--read-only`): the header says so.
    pub read_only: bool,
    /// What the operator may do here; a refused key says why before any confirmation.
    pub permissions: Permissions,
    pub theme: Theme,
    pub connection: Connection,
    pub stack_start: StackStart,
    pub status: Feed<EnvironmentStatus>,
    pub slo: Feed<SloReport>,
    pub audit: Feed<Vec<AuditEntry>>,
    pub drills: Feed<DrillBoard>,
    /// What chaos is in force and lately happened (`GET /chaos`): drills watch it.
    pub chaos: Feed<ChaosStatus>,
    pub running_drill: Option<RunningDrill>,
    pub queue_history: Capped<QueueSample>,
    budget_history: BTreeMap<String, Capped<BudgetSample>>,
    pub results: Capped<ActionResult>,
    /// Set when an action is sent and cleared when its result comes back.
    pub pending_action: Option<String>,
    /// The Rollout the operator switched to (or the first shown) where the namespace
    /// has several; verbs wait until the readings show it.
    pub chosen_rollout: Option<String>,
    /// Newest last; filled from the Logs view's buffer.
    pub problems: Vec<ProblemLine>,
    /// The SLO the Overview and the SLO view point at.
    pub selected_slo: Option<String>,
    /// Asked for by a view while it handled a key; the app takes them right after.
    pub requests: Vec<UiRequest>,
}

impl Store {
    pub fn new(environment: &str, state_dir: PathBuf, read_only: bool, theme: Theme) -> Self {
        Self {
            now: Utc::now(),
            environment: environment.to_owned(),
            audit_path: state_dir.join("audit.jsonl"),
            state_dir,
            read_only,
            permissions: if read_only {
                Permissions::read_only()
            } else {
                Permissions::all()
            },
            theme,
            connection: Connection::Unknown,
            stack_start: StackStart::Idle,
            status: Feed::default(),
            slo: Feed::default(),
            audit: Feed::default(),
            drills: Feed::default(),
            chaos: Feed::default(),
            running_drill: None,
            queue_history: Capped::new(QUEUE_HISTORY),
            budget_history: BTreeMap::new(),
            results: Capped::new(ACTION_RESULTS),
            pending_action: None,
            chosen_rollout: None,
            problems: Vec::new(),
            selected_slo: None,
            requests: Vec::new(),
        }
    }

    pub fn shared(self) -> SharedStore {
        Rc::new(RefCell::new(self))
    }

    /// A status answer: also samples the queue depth for the sparkline.
    pub fn accept_status(&mut self, result: Result<EnvironmentStatus, String>, at: DateTime<Utc>) {
        if let Ok(status) = &result {
            self.connection = Connection::Connected;
            if matches!(self.stack_start, StackStart::Running(_)) {
                self.stack_start = StackStart::Idle;
            }
            if let Some(depth) = status.queue {
                self.queue_history.push(QueueSample { at, depth });
            }
        }
        self.status.accept(result, at);
    }

    /// No environment answers: what was known of it is dropped, not shown as current.
    pub fn accept_not_running(&mut self, message: String) {
        self.connection = Connection::NotRunning(message);
        self.status = Feed::default();
        self.slo = Feed::default();
    }

    /// An SLO report: also samples every SLO's remaining budget for the chart. SLOs no
    /// longer in the spec lose their history, so the map stays as small as the spec.
    pub fn accept_slo(&mut self, result: Result<SloReport, String>, at: DateTime<Utc>) {
        if let Ok(report) = &result {
            self.budget_history
                .retain(|name, _| report.slos.iter().any(|slo| &slo.name == name));
            for slo in &report.slos {
                self.budget_history
                    .entry(slo.name.clone())
                    .or_insert_with(|| Capped::new(BUDGET_HISTORY))
                    .push(BudgetSample {
                        at: report.evaluated_at,
                        remaining: slo.error_budget_remaining.over_available_data().copied(),
                    });
            }
        }
        self.slo.accept(result, at);
    }

    pub fn budget_history(&self, slo: &str) -> Option<&Capped<BudgetSample>> {
        self.budget_history.get(slo)
    }

    pub fn rollout(&self) -> Option<&RolloutStatus> {
        self.status.value()?.rollout.as_ref()
    }

    /// Names of the SLOs in the current report, in spec order.
    pub fn slo_names(&self) -> Vec<String> {
        self.slo
            .value()
            .map(|report| report.slos.iter().map(|slo| slo.name.clone()).collect())
            .unwrap_or_default()
    }

    pub fn instance_names(&self) -> Vec<String> {
        self.status
            .value()
            .map(|status| status.instances.iter().map(|i| i.name.clone()).collect())
            .unwrap_or_default()
    }
}
