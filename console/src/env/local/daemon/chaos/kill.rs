//! `POST /chaos/kill`: SIGKILL one instance's process group; the supervisor restarts it.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::{Extension, Json};
use chrono::Utc;
use rand::seq::IndexedRandom;

use super::super::super::supervisor::{
    InstanceSnapshot, InstanceState, Supervisor, SupervisorError, Workload,
};
use super::super::control_error::ControlError;
use super::super::state::DaemonState;
use super::board::ChaosBoard;
use super::parse_body;
use crate::chaos::{ChaosEvent, KillRequest, Killed};

/// The workloads an instance kill may name; dependencies have outages instead. A
/// random kill without a workload chooses among these too.
const KILLABLE: [Workload; 2] = [Workload::Api, Workload::Worker];

/// How long a kill waits for the supervisor to see the process exit.
const EXIT_NOTICED_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

pub async fn kill(
    State(state): State<Arc<DaemonState>>,
    Extension(board): Extension<Arc<ChaosBoard>>,
    body: Bytes,
) -> Result<Json<Killed>, ControlError> {
    let request: KillRequest = parse_body(&body)?;
    let workload = request.workload.as_deref().map(workload).transpose()?;
    let supervisor = state.running_supervisor()?;
    let instances = supervisor.snapshot();
    let target = choose(&instances, &request, workload)?;
    let pid = supervisor
        .kill(&target.name)
        .await
        .map_err(|error| match error {
            SupervisorError::UnknownInstance(_) => ControlError::not_found(error.to_string()),
            SupervisorError::NotRunning(_) => ControlError::conflict(format!(
                "{error} (it is {}); try again once it runs",
                target.state.as_str()
            )),
            other => ControlError::internal(&other.into()),
        })?;
    await_exit_noticed(supervisor, &target.name, pid).await;
    let killed = Killed {
        instance: target.name.clone(),
        workload: target.workload.to_string(),
        track: target.track,
        pid: Some(pid),
        at: Utc::now(),
    };
    tracing::warn!(instance = %killed.instance, pid, "chaos: instance killed");
    board.record(ChaosEvent {
        at: killed.at,
        kind: "kill".to_owned(),
        target: killed.instance.clone(),
        message: format!("SIGKILL to pid {pid}"),
    });
    Ok(Json(killed))
}

/// Waits until the supervisor has seen the killed process exit, so that what the caller
/// looks at next (the status, another kill) already reflects the kill. Bounded: a
/// process that ignores SIGKILL does not exist, but a stuck supervisor might.
async fn await_exit_noticed(supervisor: &Supervisor, name: &str, pid: u32) {
    let mut instances = supervisor.subscribe();
    let noticed = instances.wait_for(|all| {
        all.get(name).is_none_or(|instance| {
            instance.pid != Some(pid) || instance.state != InstanceState::Running
        })
    });
    if tokio::time::timeout(EXIT_NOTICED_TIMEOUT, noticed)
        .await
        .is_err()
    {
        tracing::warn!(
            instance = name,
            pid,
            "the supervisor has not noticed the kill yet"
        );
    }
}

fn workload(name: &str) -> Result<Workload, ControlError> {
    KILLABLE
        .into_iter()
        .find(|workload| workload.as_str() == name)
        .ok_or_else(|| {
            ControlError::invalid(format!(
                "unknown workload {name:?}; instances of `api` and `worker` can be killed \
                 (for PostgreSQL or Redis use an outage)"
            ))
        })
}

/// The named instance, or a random one with a process among those that match.
fn choose<'a>(
    instances: &'a [InstanceSnapshot],
    request: &KillRequest,
    workload: Option<Workload>,
) -> Result<&'a InstanceSnapshot, ControlError> {
    let matches = |instance: &InstanceSnapshot| {
        workload.is_none_or(|workload| instance.workload == workload)
            && request.track.is_none_or(|track| instance.track == track)
    };
    if let Some(name) = &request.instance {
        let instance = instances
            .iter()
            .find(|instance| &instance.name == name)
            .ok_or_else(|| {
                let known: Vec<&str> = instances.iter().map(|i| i.name.as_str()).collect();
                ControlError::not_found(format!(
                    "no instance named {name:?}; known: {}",
                    known.join(", ")
                ))
            })?;
        if !matches(instance) {
            return Err(ControlError::invalid(format!(
                "{name} is a {} instance of the {} track, not what --workload/--track ask for",
                instance.workload, instance.track
            )));
        }
        return Ok(instance);
    }
    let candidates: Vec<&InstanceSnapshot> = instances
        .iter()
        .filter(|instance| {
            matches(instance) && KILLABLE.contains(&instance.workload) && instance.pid.is_some()
        })
        .collect();
    candidates.choose(&mut rand::rng()).copied().ok_or_else(|| {
        ControlError::not_found(format!(
            "no instance with a running process matches{}{}",
            workload.map_or(String::new(), |w| format!(" workload {w}")),
            request
                .track
                .map_or(String::new(), |t| format!(" track {t}")),
        ))
    })
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use axum::http::StatusCode;

    use super::*;
    use opsbox_common::config::Track;

    fn instance(
        name: &str,
        workload: Workload,
        track: Track,
        pid: Option<u32>,
    ) -> InstanceSnapshot {
        InstanceSnapshot {
            name: name.to_owned(),
            workload,
            track,
            revision: "v1".to_owned(),
            pid,
            state: if pid.is_some() {
                InstanceState::Running
            } else {
                InstanceState::Backoff
            },
            restarts: 0,
            started_at: None,
            next_start_at: None,
            last_exit: None,
            last_error: None,
            log_file: PathBuf::from("x.log"),
        }
    }

    fn fleet() -> Vec<InstanceSnapshot> {
        vec![
            instance("api-1", Workload::Api, Track::Stable, Some(10)),
            instance("api-2", Workload::Api, Track::Stable, None),
            instance("canary-1", Workload::Api, Track::Canary, Some(12)),
            instance("worker-1", Workload::Worker, Track::Stable, Some(13)),
        ]
    }

    #[test]
    fn random_choice_stays_within_workload_and_track_and_skips_the_dead() {
        let fleet = fleet();
        let request = KillRequest {
            track: Some(Track::Stable),
            ..KillRequest::default()
        };
        for _ in 0..50 {
            let chosen = choose(&fleet, &request, Some(Workload::Api)).expect("one");
            assert_eq!(chosen.name, "api-1");
        }
        let canary = KillRequest {
            track: Some(Track::Canary),
            ..KillRequest::default()
        };
        assert_eq!(choose(&fleet, &canary, None).expect("one").name, "canary-1");
        let none = choose(&fleet, &canary, Some(Workload::Worker)).expect_err("none");
        assert_eq!(none.status, StatusCode::NOT_FOUND);
        assert!(
            none.message.contains("workload worker track canary"),
            "{}",
            none.message
        );
    }

    #[test]
    fn a_random_kill_without_a_workload_spares_prometheus() {
        let fleet = vec![
            instance("prometheus", Workload::Prometheus, Track::Stable, Some(9)),
            instance("worker-1", Workload::Worker, Track::Stable, Some(13)),
        ];
        for _ in 0..50 {
            let chosen = choose(&fleet, &KillRequest::default(), None).expect("one");
            assert_eq!(chosen.name, "worker-1");
        }
    }

    #[test]
    fn a_named_instance_must_exist_and_match_the_filters() {
        let fleet = fleet();
        let named = |name: &str| KillRequest {
            instance: Some(name.to_owned()),
            ..KillRequest::default()
        };
        assert_eq!(
            choose(&fleet, &named("api-2"), None).expect("found").name,
            "api-2"
        );
        let missing = choose(&fleet, &named("api-9"), None).expect_err("unknown");
        assert_eq!(missing.status, StatusCode::NOT_FOUND);
        assert!(
            missing.message.contains("api-1, api-2"),
            "{}",
            missing.message
        );
        let mismatch = choose(&fleet, &named("worker-1"), Some(Workload::Api)).expect_err("no");
        assert_eq!(mismatch.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(
            workload("redis").expect_err("not killable").status,
            StatusCode::UNPROCESSABLE_ENTITY
        );
    }
}
