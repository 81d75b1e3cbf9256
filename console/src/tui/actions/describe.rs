//! The confirmation of an action: exactly what will happen to what, from what the console
//! knows right now, and what it cannot know (so the operator is never told more than is true).

use super::super::store::Store;
use super::super::view::Action;
use crate::model::{InstanceStatus, RolloutPhase, RolloutStatus, RolloutStep};

/// What the confirmation dialog shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Confirmation {
    /// `Promote the api rollout?`
    pub question: String,
    /// What will happen, one fact per line.
    pub effects: Vec<String>,
}

pub fn describe(action: &Action, store: &Store) -> Confirmation {
    let mut confirmation = confirmation(action, store);
    let rollout_verb = matches!(
        action,
        Action::Promote | Action::PromoteFull | Action::Abort | Action::Retry | Action::Undo
    );
    // Among several Rollouts, the one acted on is named first.
    let several = store
        .rollout()
        .filter(|rollout| rollout_verb && rollout.choices.len() > 1);
    if let Some(rollout) = several {
        if let Some(name) = &rollout.name {
            confirmation.effects.insert(
                0,
                format!(
                    "On the Rollout {name}, one of the namespace's {}.",
                    rollout.choices.len()
                ),
            );
        }
    }
    confirmation
}

fn confirmation(action: &Action, store: &Store) -> Confirmation {
    let rollout = store.rollout();
    match action {
        Action::Promote => promote(rollout),
        Action::PromoteFull => promote_full(rollout),
        Action::Abort => abort(rollout),
        Action::Retry => retry(rollout),
        Action::Undo => undo(rollout),
        Action::KillInstance(name) => kill(name, instance(store, name)),
        Action::RestartInstance(name) => restart(name, instance(store, name)),
        Action::RequeueDead(task) => Confirmation {
            question: format!("Requeue dead-lettered task {task}?"),
            effects: vec![
                format!("Task {task} gets a fresh run: its dead letter is removed and a job is made ready."),
                "A worker takes it like any new job; it can fail and be dead-lettered again.".to_owned(),
            ],
        },
        Action::RequeueAllDead => {
            let count = store
                .status
                .value()
                .and_then(|status| status.queue)
                .map_or_else(|| "every".to_owned(), |queue| queue.dead.to_string());
            Confirmation {
                question: format!("Requeue all {count} dead-lettered tasks?"),
                effects: vec![
                    "Every dead letter is removed and its task made ready again, in batches.".to_owned(),
                    "Letters whose task can never run again (deleted) are discarded and listed.".to_owned(),
                ],
            }
        }
        Action::RunDrill(name) => Confirmation {
            question: format!("Run drill {name}?"),
            effects: vec![
                format!("Drill {name} injects its faults into the running {} environment.", store.environment),
                "Its steps and hypothesis checks appear in the Drills view; the report is kept.".to_owned(),
            ],
        },
    }
}

fn instance<'a>(store: &'a Store, name: &str) -> Option<&'a InstanceStatus> {
    store
        .status
        .value()?
        .instances
        .iter()
        .find(|instance| instance.name == name)
}

fn step_label(steps: &[RolloutStep], index: usize) -> String {
    match steps.get(index) {
        Some(step) => format!("step {}/{} ({step})", index + 1, steps.len()),
        None => "the end of the steps".to_owned(),
    }
}

fn canary_name(rollout: &RolloutStatus) -> &str {
    rollout.canary_revision.as_deref().unwrap_or("(none)")
}

fn unknown_rollout(question: &str) -> Confirmation {
    Confirmation {
        question: question.to_owned(),
        effects: vec![
            "The console has no rollout status yet; the environment will refuse if there is nothing to act on."
                .to_owned(),
        ],
    }
}

fn promote(rollout: Option<&RolloutStatus>) -> Confirmation {
    let Some(rollout) = rollout else {
        return unknown_rollout("Promote the api rollout?");
    };
    let mut effects = Vec::new();
    match rollout.current_step_index {
        Some(index) if index < rollout.steps.len() => {
            effects.push(format!(
                "Canary {} leaves {} and goes on with {}.",
                canary_name(rollout),
                step_label(&rollout.steps, index),
                step_label(&rollout.steps, index + 1)
            ));
        }
        _ => effects.push(format!(
            "The rollout is {}; there is no step to leave, so the environment will likely refuse.",
            rollout.phase.as_str()
        )),
    }
    effects.push(format!(
        "Traffic to the canary is {}% now; later steps change it as they are reached.",
        rollout.canary_weight
    ));
    Confirmation {
        question: format!("Promote the api rollout of {}?", canary_name(rollout)),
        effects,
    }
}

fn promote_full(rollout: Option<&RolloutStatus>) -> Confirmation {
    let Some(rollout) = rollout else {
        return unknown_rollout("Promote the api rollout fully?");
    };
    let remaining = rollout
        .current_step_index
        .map_or(0, |index| rollout.steps.len().saturating_sub(index));
    Confirmation {
        question: format!("Promote {} fully?", canary_name(rollout)),
        effects: vec![
            format!("The {remaining} remaining steps are skipped, analysis included."),
            format!(
                "{} becomes the stable revision and gets 100% of traffic (now {}%); {} is replaced.",
                canary_name(rollout),
                rollout.canary_weight,
                rollout.stable_revision
            ),
        ],
    }
}

fn abort(rollout: Option<&RolloutStatus>) -> Confirmation {
    let Some(rollout) = rollout else {
        return unknown_rollout("Abort the api rollout?");
    };
    Confirmation {
        question: format!("Abort the rollout of {}?", canary_name(rollout)),
        effects: vec![
            format!(
                "All traffic goes back to stable {} at once (the canary has {}% now).",
                rollout.stable_revision, rollout.canary_weight
            ),
            format!(
                "The canary instances of {} are stopped; `retry` starts the rollout again.",
                canary_name(rollout)
            ),
        ],
    }
}

fn retry(rollout: Option<&RolloutStatus>) -> Confirmation {
    let Some(rollout) = rollout else {
        return unknown_rollout("Retry the api rollout?");
    };
    let mut effects = vec![format!(
        "Canary {} starts again from {}.",
        canary_name(rollout),
        step_label(&rollout.steps, 0)
    )];
    if !(rollout.aborted || rollout.phase == RolloutPhase::Degraded) {
        effects.push(format!(
            "The rollout is {} and not aborted; the environment will likely refuse.",
            rollout.phase.as_str()
        ));
    }
    Confirmation {
        question: format!("Retry the rollout of {}?", canary_name(rollout)),
        effects,
    }
}

/// The revision `undo` goes back to: the one that was stable before the current one.
pub fn previous_stable(rollout: &RolloutStatus) -> Option<&str> {
    let mut stable: Vec<_> = rollout
        .revisions
        .iter()
        .filter(|revision| revision.name != rollout.stable_revision)
        .filter_map(|revision| Some((revision.last_stable_at?, revision.name.as_str())))
        .collect();
    stable.sort();
    stable.last().map(|(_, name)| *name)
}

fn undo(rollout: Option<&RolloutStatus>) -> Confirmation {
    let Some(rollout) = rollout else {
        return unknown_rollout("Undo the last api rollout?");
    };
    let effects = match previous_stable(rollout) {
        Some(previous) => vec![
            format!(
                "{previous} becomes the stable revision again, replacing {}.",
                rollout.stable_revision
            ),
            format!("The stable API instances are replaced by instances of {previous}."),
        ],
        None => vec![format!(
            "No earlier stable revision is known besides {}; the environment will likely refuse.",
            rollout.stable_revision
        )],
    };
    Confirmation {
        question: "Undo the last api rollout?".to_owned(),
        effects,
    }
}

fn instance_line(instance: Option<&InstanceStatus>) -> String {
    match instance {
        Some(instance) => format!(
            "{}: workload {}, {} track, revision {}, {}{}, {} restarts so far.",
            instance.name,
            instance.workload,
            instance.track,
            instance.revision,
            instance.state.as_str(),
            instance
                .pid
                .map_or(String::new(), |pid| format!(" as pid {pid}")),
            instance.restarts
        ),
        None => {
            "The console does not list it; the environment will refuse an unknown name.".to_owned()
        }
    }
}

fn kill(name: &str, instance: Option<&InstanceStatus>) -> Confirmation {
    Confirmation {
        question: format!("Kill instance {name}?"),
        effects: vec![
            instance_line(instance),
            "Its process group gets SIGKILL: requests and jobs in flight there are cut off."
                .to_owned(),
            "The supervisor restarts it after its backoff delay; its restart count goes up by one."
                .to_owned(),
        ],
    }
}

fn restart(name: &str, instance: Option<&InstanceStatus>) -> Confirmation {
    Confirmation {
        question: format!("Restart instance {name}?"),
        effects: vec![
            instance_line(instance),
            "It gets SIGTERM and drains (SIGKILL after the grace period), then starts again at once.".to_owned(),
            "A requested restart does not count as a crash restart.".to_owned(),
        ],
    }
}
