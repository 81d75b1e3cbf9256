//! What the app learns: collector updates, log batches (the Overview's warnings, repeats
//! collapsed) and queue readings.

use super::*;

impl App {
    /// Applies what a collector or a finished task reported.
    pub fn apply(&mut self, update: Update) {
        let mut store = self.store.borrow_mut();
        match update {
            Update::Status { at, result } => {
                store.accept_status(result.map(|status| *status), at);
                // Several Rollouts and none chosen: the one shown becomes the one the
                // verbs act on, so a key never acts on a guess.
                let first_shown = store
                    .rollout()
                    .filter(|rollout| !rollout.choices.is_empty())
                    .and_then(|rollout| rollout.name.clone())
                    .filter(|_| store.chosen_rollout.is_none());
                if let Some(name) = first_shown {
                    store.chosen_rollout = Some(name.clone());
                    self.effects.push(Effect::ChooseRollout(name));
                }
            }
            Update::NotRunning(message) => store.accept_not_running(message),
            Update::Slo { at, result } => store.accept_slo(result, at),
            Update::Audit {
                at,
                result: Ok(None),
            } => store.audit.touch(at),
            Update::Audit { at, result } => store
                .audit
                .accept(result.map(Option::unwrap_or_default), at),
            Update::Drills { at, result } => store.drills.accept(result, at),
            Update::Chaos { at, result } => store.chaos.accept(result, at),
            Update::StackStart(progress) => {
                if let StackStart::Failed(error) = &progress {
                    let text = format!("opsbox up failed: {error}");
                    drop(store);
                    self.note(NoticeKind::Failure, text);
                    self.store.borrow_mut().stack_start = progress;
                    return;
                }
                store.stack_start = progress;
            }
            Update::DrillStep(step) => {
                if let Some(running) = store.running_drill.as_mut() {
                    if running.steps.len() == MAX_LIVE_DRILL_STEPS {
                        running.steps.remove(0);
                    }
                    running.steps.push(step);
                }
            }
            Update::ActionDone(result) => {
                if let Action::RunDrill(_) = result.action {
                    store.running_drill = None;
                } else {
                    store.pending_action = None;
                }
                let (kind, text) = match &result.outcome {
                    Ok(answer) => (
                        NoticeKind::Success,
                        format!("✓ {}: {answer}", result.summary),
                    ),
                    Err(error) => (
                        NoticeKind::Failure,
                        format!("✗ {}: {error}", result.summary),
                    ),
                };
                let requeued = matches!(
                    result.action,
                    Action::RequeueDead(_) | Action::RequeueAllDead
                );
                store.results.push(result);
                drop(store);
                self.note(kind, text);
                if requeued {
                    self.effects.push(Effect::RefreshQueue);
                }
            }
        }
    }

    /// Lines the log tailer read; the Overview's warnings follow them.
    pub fn ingest_logs(&mut self, batch: LogBatch) {
        self.logs.ingest(batch);
        // Every indexed problem is looked at, so that a line repeated all shift is one
        // row and a new kind of warning still finds its place.
        let problems = collapse_repeats(&self.logs.latest_problems(usize::MAX), PROBLEM_LINES);
        self.store.borrow_mut().problems = problems;
    }

    pub fn apply_queue(&mut self, reading: QueueReading) {
        self.queue.apply(reading);
    }
}

/// The newest `keep` kinds of problem (level, instance and message), oldest first, each
/// with how often it was seen: the same retry warning every few seconds is one row.
fn collapse_repeats(lines: &[&crate::model::logs::LogLine], keep: usize) -> Vec<ProblemLine> {
    let mut kinds: Vec<ProblemLine> = Vec::new();
    let mut index: std::collections::HashMap<(&str, &str, &str), usize> =
        std::collections::HashMap::new();
    for line in lines.iter().rev() {
        let level = line.level.map_or("?", |level| level.as_str());
        match index.get(&(level, &*line.instance, line.message())) {
            Some(&at) => {
                let kind = &mut kinds[at];
                kind.repeats += 1;
                kind.first_at = line.timestamp;
                kind.text = line.message().to_owned();
            }
            None if kinds.len() < keep => {
                index.insert((level, &*line.instance, line.message()), kinds.len());
                kinds.push(ProblemLine {
                    at: line.timestamp,
                    level,
                    instance: line.instance.to_string(),
                    text: line.text.to_string(),
                    repeats: 1,
                    first_at: line.timestamp,
                });
            }
            None => {}
        }
    }
    kinds.reverse();
    kinds
}
