//! What each task kind does when it runs, and how its payload is read.
//!
//! Payloads (all fields optional):
//! - `io`: `{"ms": 100}` sleeps `ms` milliseconds, at most 60 000;
//! - `cpu`: `{"iterations": 100000}` hashes that many times, at most 100 000 000;
//! - `fail`: ignores its payload and always fails (retried, then dead-lettered);
//! - `flaky`: `{"p": 0.5, "fail_first": 0}` fails the first `fail_first`
//!   attempts of a run for sure, then each attempt with probability `p`. With
//!   `fail_first` a test or a demo gets a retry that succeeds, without luck.
//!
//! A payload that does not fit (a field of the wrong type, out of range) is a
//! permanent failure: retrying cannot fix it.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use opsbox_common::model::TaskKind;
use serde_json::{json, Value};

pub const IO_DEFAULT_MS: u64 = 100;
pub const IO_MAX_MS: u64 = 60_000;
pub const CPU_DEFAULT_ITERATIONS: u64 = 100_000;
pub const CPU_MAX_ITERATIONS: u64 = 100_000_000;
pub const FLAKY_DEFAULT_P: f64 = 0.5;

/// How many hash rounds run between two looks at the cancel flag: small
/// enough to stop within a millisecond or so, large enough to cost nothing.
const CPU_CANCEL_CHECK_EVERY: u64 = 10_000;

/// How an execution ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Execution {
    /// The task's result, stored as its `result`.
    Succeeded(Value),
    /// Worth another attempt.
    Failed(String),
    /// No attempt can succeed (bad payload).
    Rejected(String),
}

/// Lets a shutdown stop a CPU job that runs on a blocking thread, which a
/// cancelled future cannot reach.
#[derive(Debug, Clone, Default)]
pub struct CancelFlag(Arc<AtomicBool>);

impl CancelFlag {
    pub fn cancel(&self) {
        self.0.store(true, Ordering::Relaxed);
    }
    fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

/// Runs one attempt (`attempt` counts from 1) of a task.
pub async fn execute(
    kind: TaskKind,
    payload: &Value,
    attempt: u32,
    cancel: CancelFlag,
) -> Execution {
    match kind {
        TaskKind::Io => match field_u64(payload, "ms", IO_DEFAULT_MS, IO_MAX_MS) {
            Ok(ms) => {
                tokio::time::sleep(Duration::from_millis(ms)).await;
                Execution::Succeeded(json!({ "slept_ms": ms }))
            }
            Err(reason) => Execution::Rejected(reason),
        },
        TaskKind::Cpu => {
            match field_u64(
                payload,
                "iterations",
                CPU_DEFAULT_ITERATIONS,
                CPU_MAX_ITERATIONS,
            ) {
                // Off the async threads: a long hash loop would stall every
                // other job and the probes.
                Ok(iterations) => {
                    match tokio::task::spawn_blocking(move || hash_loop(iterations, &cancel)).await
                    {
                        Ok(Some(digest)) => Execution::Succeeded(
                            json!({ "iterations": iterations, "digest": format!("{digest:016x}") }),
                        ),
                        Ok(None) => Execution::Failed("cancelled by shutdown".to_owned()),
                        Err(e) => Execution::Failed(format!("cpu job panicked: {e}")),
                    }
                }
                Err(reason) => Execution::Rejected(reason),
            }
        }
        TaskKind::Fail => Execution::Failed("fail: this kind always fails".to_owned()),
        TaskKind::Flaky => match flaky_settings(payload) {
            Ok((p, fail_first)) => {
                if attempt <= fail_first {
                    Execution::Failed(format!(
                        "flaky: attempt {attempt} of the first {fail_first} fails"
                    ))
                } else if rand::random_bool(p) {
                    Execution::Failed(format!("flaky: failed with probability {p}"))
                } else {
                    Execution::Succeeded(json!({ "attempt": attempt }))
                }
            }
            Err(reason) => Execution::Rejected(reason),
        },
    }
}

fn hash_loop(iterations: u64, cancel: &CancelFlag) -> Option<u64> {
    let mut digest = 0u64;
    for i in 0..iterations {
        if i % CPU_CANCEL_CHECK_EVERY == 0 && cancel.is_cancelled() {
            return None;
        }
        let mut hasher = DefaultHasher::new();
        (digest, i).hash(&mut hasher);
        digest = hasher.finish();
    }
    Some(digest)
}

fn flaky_settings(payload: &Value) -> Result<(f64, u32), String> {
    let p = match payload.get("p") {
        None | Some(Value::Null) => FLAKY_DEFAULT_P,
        Some(value) => match value.as_f64() {
            Some(p) if (0.0..=1.0).contains(&p) => p,
            _ => {
                return Err(format!(
                    "payload.p must be a number between 0 and 1, got {value}"
                ))
            }
        },
    };
    let fail_first = field_u64(payload, "fail_first", 0, u64::from(u32::MAX))?;
    Ok((p, u32::try_from(fail_first).unwrap_or(u32::MAX)))
}

/// An optional non-negative integer field, at most `max`.
fn field_u64(payload: &Value, name: &str, default: u64, max: u64) -> Result<u64, String> {
    match payload.get(name) {
        None | Some(Value::Null) => Ok(default),
        Some(value) => match value.as_u64() {
            Some(n) if n <= max => Ok(n),
            _ => Err(format!(
                "payload.{name} must be an integer between 0 and {max}, got {value}"
            )),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn run(kind: TaskKind, payload: Value, attempt: u32) -> Execution {
        execute(kind, &payload, attempt, CancelFlag::default()).await
    }

    #[tokio::test]
    async fn io_sleeps_and_reports_how_long() {
        assert_eq!(
            run(TaskKind::Io, json!({"ms": 1}), 1).await,
            Execution::Succeeded(json!({"slept_ms": 1}))
        );
    }

    #[tokio::test]
    async fn cpu_digest_is_deterministic() {
        let first = run(TaskKind::Cpu, json!({"iterations": 1000}), 1).await;
        let second = run(TaskKind::Cpu, json!({"iterations": 1000}), 1).await;
        assert!(matches!(first, Execution::Succeeded(_)), "{first:?}");
        assert_eq!(first, second);
    }

    #[tokio::test]
    async fn cancelled_cpu_work_stops() {
        let cancel = CancelFlag::default();
        cancel.cancel();
        let outcome = execute(
            TaskKind::Cpu,
            &json!({"iterations": CPU_MAX_ITERATIONS}),
            1,
            cancel,
        )
        .await;
        assert!(matches!(outcome, Execution::Failed(_)), "{outcome:?}");
    }

    #[tokio::test]
    async fn flaky_fails_its_first_attempts_then_follows_p() {
        let payload = json!({"p": 0.0, "fail_first": 2});
        assert!(matches!(
            run(TaskKind::Flaky, payload.clone(), 1).await,
            Execution::Failed(_)
        ));
        assert!(matches!(
            run(TaskKind::Flaky, payload.clone(), 2).await,
            Execution::Failed(_)
        ));
        assert_eq!(
            run(TaskKind::Flaky, payload, 3).await,
            Execution::Succeeded(json!({"attempt": 3}))
        );
        assert!(matches!(
            run(TaskKind::Flaky, json!({"p": 1.0}), 5).await,
            Execution::Failed(_)
        ));
    }

    #[tokio::test]
    async fn payloads_that_cannot_work_are_rejected() {
        for (kind, payload) in [
            (TaskKind::Io, json!({"ms": "soon"})),
            (TaskKind::Io, json!({"ms": -1})),
            (TaskKind::Io, json!({"ms": IO_MAX_MS + 1})),
            (TaskKind::Cpu, json!({"iterations": 1.5})),
            (TaskKind::Flaky, json!({"p": 1.5})),
            (TaskKind::Flaky, json!({"p": "half"})),
            (TaskKind::Flaky, json!({"fail_first": -2})),
        ] {
            let outcome = run(kind, payload.clone(), 1).await;
            assert!(
                matches!(outcome, Execution::Rejected(_)),
                "{kind:?} {payload}: {outcome:?}"
            );
        }
    }

    #[tokio::test]
    async fn fail_always_fails() {
        assert!(matches!(
            run(TaskKind::Fail, json!({}), 1).await,
            Execution::Failed(_)
        ));
    }
}
