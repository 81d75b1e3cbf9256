//! `POST /chaos/outage`: take PostgreSQL or Redis away for a while, then bring it back.
//!
//! The timer runs here in the daemon, so the outage ends even when the `opsbox` that
//! asked for it is interrupted. When the daemon shuts down meanwhile, a stopped
//! dependency stays stopped (the daemon is stopping it anyway) and a frozen one is
//! thawed at once, so the daemon's own shutdown of it does not wait on a frozen process.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::{Extension, Json};
use chrono::Utc;
use opsbox_harness::Dependencies;

use super::super::control_error::ControlError;
use super::super::state::DaemonState;
use super::board::{Busy, ChaosBoard};
use super::parse_body;
use crate::chaos::{check_duration, ChaosEvent, Dependency, Outage, OutageMode, OutageRequest};

/// A failed restore is tried this many times in all, this far apart: a port in
/// TIME_WAIT or a slow start should not leave the dependency down.
const RESTORE_ATTEMPTS: u32 = 3;
const RESTORE_RETRY: Duration = Duration::from_secs(1);

pub async fn begin(
    State(state): State<Arc<DaemonState>>,
    Extension(board): Extension<Arc<ChaosBoard>>,
    body: Bytes,
) -> Result<Json<Outage>, ControlError> {
    let request: OutageRequest = parse_body(&body)?;
    let duration = Duration::from_millis(request.duration_ms);
    check_duration(duration).map_err(ControlError::invalid)?;
    let deps = state.running_deps()?.clone();
    ensure_private(&deps, request.dependency)?;
    if state.shutdown.is_cancelled() {
        return Err(ControlError::conflict("the environment is shutting down"));
    }
    board
        .reserve_outage(request.dependency)
        .map_err(|busy| busy_error(request.dependency, busy))?;
    if let Err(error) = take_down(&deps, request.dependency, request.mode).await {
        board.end_outage(request.dependency, None);
        return Err(ControlError::internal(&error));
    }
    let started_at = Utc::now();
    let outage = Outage {
        dependency: request.dependency,
        mode: request.mode,
        started_at,
        ends_at: started_at + duration,
    };
    board.activate_outage(&outage);
    tracing::warn!(dependency = %outage.dependency, mode = %outage.mode, ?duration, "chaos: outage began");
    tokio::spawn(restore_later(
        state.clone(),
        board.clone(),
        deps,
        outage.clone(),
        duration,
    ));
    Ok(Json(outage))
}

/// Only servers the daemon started can be taken away; an external one is someone else's.
fn ensure_private(deps: &Dependencies, dependency: Dependency) -> Result<(), ControlError> {
    let private = match dependency {
        Dependency::Postgres => deps.postgres().is_some(),
        Dependency::Redis => deps.redis().is_some(),
    };
    if private {
        return Ok(());
    }
    let variable = match dependency {
        Dependency::Postgres => "DATABASE_URL",
        Dependency::Redis => "REDIS_URL",
    };
    Err(ControlError::conflict(format!(
        "{dependency} is external ({variable} was set when the environment started): \
         opsbox only takes away servers it runs itself; start the environment without \
         {variable} to drill this"
    )))
}

fn busy_error(dependency: Dependency, busy: Busy) -> ControlError {
    match busy {
        Busy::Beginning => {
            ControlError::conflict(format!("an outage of {dependency} is beginning right now"))
        }
        Busy::Active(outage) => ControlError::conflict(format!(
            "an outage of {dependency} ({}) is already in progress until {}",
            outage.mode,
            outage.ends_at.format("%H:%M:%S")
        )),
    }
}

async fn take_down(
    deps: &Dependencies,
    dependency: Dependency,
    mode: OutageMode,
) -> anyhow::Result<()> {
    match (dependency, mode) {
        (Dependency::Postgres, OutageMode::Stop) => postgres(deps)?.stop().await?,
        (Dependency::Postgres, OutageMode::Freeze) => postgres(deps)?.pause().await?,
        (Dependency::Redis, OutageMode::Stop) => redis(deps)?.stop().await?,
        (Dependency::Redis, OutageMode::Freeze) => redis(deps)?.pause().await?,
    }
    Ok(())
}

/// Starts a stopped server again (on its port, from the daemon's runtime threads, which
/// live as long as the daemon) or thaws a frozen one.
async fn bring_back(
    deps: &Dependencies,
    dependency: Dependency,
    mode: OutageMode,
) -> anyhow::Result<()> {
    match (dependency, mode) {
        (Dependency::Postgres, OutageMode::Stop) => postgres(deps)?.start().await?,
        (Dependency::Postgres, OutageMode::Freeze) => postgres(deps)?.resume().await?,
        (Dependency::Redis, OutageMode::Stop) => redis(deps)?.start().await?,
        (Dependency::Redis, OutageMode::Freeze) => redis(deps)?.resume().await?,
    }
    Ok(())
}

fn postgres(deps: &Dependencies) -> anyhow::Result<&opsbox_harness::PostgresServer> {
    deps.postgres()
        .ok_or_else(|| anyhow::anyhow!("PostgreSQL is external"))
}

fn redis(deps: &Dependencies) -> anyhow::Result<&opsbox_harness::RedisServer> {
    deps.redis()
        .ok_or_else(|| anyhow::anyhow!("Redis is external"))
}

async fn restore_later(
    state: Arc<DaemonState>,
    board: Arc<ChaosBoard>,
    deps: Arc<Dependencies>,
    outage: Outage,
    duration: Duration,
) {
    let dependency = outage.dependency;
    tokio::select! {
        // Shutdown first: when both are ready, the daemon's stop wins over a restart.
        biased;
        () = state.shutdown.cancelled() => {
            end_for_shutdown(&deps, &outage).await;
            board.end_outage(dependency, Some(event(&outage, "outage-end", "the daemon is shutting down; it stops the dependency itself")));
            return;
        }
        () = tokio::time::sleep(duration) => {}
    }
    let mut attempt = 1;
    let ended = loop {
        match bring_back(&deps, dependency, outage.mode).await {
            Ok(()) => break Ok(()),
            Err(error) if attempt < RESTORE_ATTEMPTS && !state.shutdown.is_cancelled() => {
                tracing::warn!(%dependency, attempt, error = %format!("{error:#}"), "chaos: restore failed; trying again");
                attempt += 1;
                tokio::time::sleep(RESTORE_RETRY).await;
            }
            Err(error) => break Err(error),
        }
    };
    // The daemon may have begun to stop its dependencies while this one was starting;
    // stopping it again here keeps the restart from outliving the daemon's shutdown.
    if state.shutdown.is_cancelled() && outage.mode == OutageMode::Stop {
        if let Err(error) = take_down(&deps, dependency, OutageMode::Stop).await {
            tracing::warn!(%dependency, error = %format!("{error:#}"), "chaos: cannot stop the dependency restarted during shutdown");
        }
    }
    let ended_event = match ended {
        Ok(()) => {
            tracing::info!(%dependency, "chaos: outage over, dependency restored");
            event(&outage, "outage-end", "restored")
        }
        Err(error) => {
            tracing::error!(%dependency, error = %format!("{error:#}"), "chaos: cannot restore the dependency");
            event(
                &outage,
                "outage-restore-failed",
                &format!(
                    "cannot restore it: {error:#}; `opsbox down` and `opsbox up` start it afresh"
                ),
            )
        }
    };
    board.end_outage(dependency, Some(ended_event));
}

async fn end_for_shutdown(deps: &Dependencies, outage: &Outage) {
    if outage.mode == OutageMode::Freeze {
        if let Err(error) = bring_back(deps, outage.dependency, outage.mode).await {
            tracing::warn!(dependency = %outage.dependency, error = %format!("{error:#}"), "chaos: cannot thaw the dependency on shutdown");
        }
    }
}

fn event(outage: &Outage, kind: &str, message: &str) -> ChaosEvent {
    ChaosEvent {
        at: Utc::now(),
        kind: kind.to_owned(),
        target: outage.dependency.to_string(),
        message: message.to_owned(),
    }
}
