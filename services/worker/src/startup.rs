//! Builds a worker from its configuration and runs it until told to stop,
//! then drains: stop taking jobs, finish or give back in-flight ones, leave.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use opsbox_common::db;
use opsbox_common::queue::{JobQueue, QueueKeys};
use opsbox_common::redis_conn::{Redis, RedisError};
use tokio::net::TcpListener;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::consumer;
use crate::context::WorkerContext;
use crate::http;
use crate::maintenance;
use crate::metrics::WorkerMetrics;

/// Connections beyond one per consumer: readiness checks and chores.
const SPARE_DB_CONNECTIONS: u32 = 4;

/// After the shutdown deadline, how long consumers get to give their jobs
/// back (each give-back retries for a few seconds at most).
const GIVE_BACK_GRACE: Duration = Duration::from_secs(10);

/// How long the chores get to notice the stop (one in-flight pass).
const CHORES_GRACE: Duration = Duration::from_secs(5);

pub struct Application {
    ctx: Arc<WorkerContext>,
    listener: TcpListener,
}

impl Application {
    /// Opens the pools lazily (a worker starts while its dependencies are
    /// still down) and binds the probe address (port 0 picks a free one).
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        let pool = db::connect_lazy(
            config.stack.database_url.expose(),
            u32::from(config.concurrency) + SPARE_DB_CONNECTIONS,
        )
        .context("DATABASE_URL is not a usable Postgres URL")?;
        let redis = Redis::new(config.stack.redis_url.expose())
            .context("REDIS_URL is not a usable Redis URL")?;
        let queue = JobQueue::new(redis, QueueKeys::new(config.stack.queue_prefix.clone()));
        let metrics = WorkerMetrics::new(config.stack.track.as_str(), &config.stack.release)?;
        let listener = TcpListener::bind(config.metrics_addr)
            .await
            .with_context(|| format!("cannot listen on {}", config.metrics_addr))?;
        tracing::info!(
            database_url = %db::redact_url(config.stack.database_url.expose()),
            redis_url = %db::redact_url(config.stack.redis_url.expose()),
            queue_prefix = %config.stack.queue_prefix,
            concurrency = config.concurrency,
            release = %config.stack.release,
            track = config.stack.track.as_str(),
            "worker configured"
        );
        Ok(Self {
            ctx: Arc::new(WorkerContext::new(config, pool, queue, metrics)),
            listener,
        })
    }

    /// Where the probes and metrics are served.
    pub fn metrics_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    pub fn worker_id(&self) -> &str {
        &self.ctx.worker_id
    }

    /// Works until `shutdown` resolves, then drains and returns.
    pub async fn run_until_stopped(self, shutdown: impl Future<Output = ()>) -> anyhow::Result<()> {
        let Self { ctx, listener } = self;
        let stop = CancellationToken::new();
        let abandon = CancellationToken::new();
        let finished = CancellationToken::new();

        let server = axum::serve(listener, http::router(ctx.clone()))
            .with_graceful_shutdown(finished.clone().cancelled_owned());
        let server = tokio::spawn(async move { server.await });

        // Registered before the first take: a worker that dies holding a job
        // before its first heartbeat would otherwise never be reaped.
        if let Err(e) = ctx.queue.heartbeat(&ctx.worker_id).await {
            tracing::warn!(error = %e, "first heartbeat failed; retrying in the background");
        }
        let heartbeat = tokio::spawn(maintenance::heartbeat(ctx.clone(), finished.clone()));
        let mut chores = JoinSet::new();
        chores.spawn(maintenance::promoter(ctx.clone(), stop.clone()));
        chores.spawn(maintenance::reaper(ctx.clone(), stop.clone()));
        chores.spawn(maintenance::reconciler(ctx.clone(), stop.clone()));
        chores.spawn(maintenance::cleanup(ctx.clone(), stop.clone()));
        let mut consumers = JoinSet::new();
        for index in 0..ctx.config.concurrency {
            let (ctx, stop, abandon) = (ctx.clone(), stop.clone(), abandon.clone());
            consumers.spawn(async move { consumer::consume(&ctx, index, stop, abandon).await });
        }
        tracing::info!(worker_id = %ctx.worker_id, "worker started");

        shutdown.await;
        ctx.begin_shutdown();
        stop.cancel();
        tracing::info!(
            inflight = ctx.metrics.inflight().get(),
            timeout_s = ctx.config.shutdown_timeout.as_secs_f64(),
            "draining: no new jobs; waiting for in-flight ones"
        );
        if !join_within(&mut consumers, ctx.config.shutdown_timeout).await {
            tracing::warn!(
                inflight = ctx.metrics.inflight().get(),
                "shutdown timeout reached: giving the remaining jobs back to the queue"
            );
            abandon.cancel();
            if !join_within(&mut consumers, GIVE_BACK_GRACE).await {
                consumers.abort_all();
            }
        }
        if !join_within(&mut chores, CHORES_GRACE).await {
            chores.abort_all();
        }
        finished.cancel();
        if let Err(e) = heartbeat.await {
            tracing::warn!(error = %e, "heartbeat task ended abnormally");
        }
        leave_the_fleet(&ctx).await;
        server.await??;
        tracing::info!("worker stopped");
        Ok(())
    }
}

/// Waits for every task of `set`; false if `within` elapsed first.
async fn join_within(set: &mut JoinSet<()>, within: Duration) -> bool {
    let all = async {
        while let Some(joined) = set.join_next().await {
            if let Err(e) = joined {
                tracing::error!(error = %e, "worker task ended abnormally");
            }
        }
    };
    tokio::time::timeout(within, all).await.is_ok()
}

/// Gives back any job still in this worker's processing list (one whose
/// outcome or release could not reach Redis), then deregisters. If that
/// fails, the worker stays registered: its heartbeat lapses and the reaper
/// returns the jobs, which is slower but loses nothing.
async fn leave_the_fleet(ctx: &WorkerContext) {
    match give_back_orphans(ctx).await {
        Ok(0) => {}
        Ok(n) => tracing::warn!(released = n, "jobs left in the processing list given back"),
        Err(e) => {
            tracing::warn!(error = %e, "cannot empty the processing list; leaving it to the reaper");
            return;
        }
    }
    if let Err(e) = ctx.queue.deregister(&ctx.worker_id).await {
        tracing::warn!(error = %e, "cannot deregister; the reaper will forget this worker");
    }
}

async fn give_back_orphans(ctx: &WorkerContext) -> Result<usize, RedisError> {
    let held = ctx.queue.keys().processing(&ctx.worker_id);
    let orphans: Vec<String> = ctx
        .queue
        .redis()
        .run(|mut c| async move {
            redis::cmd("LRANGE")
                .arg(held)
                .arg(0)
                .arg(-1)
                .query_async(&mut c)
                .await
        })
        .await?;
    for raw in &orphans {
        ctx.queue.release(&ctx.worker_id, raw).await?;
    }
    Ok(orphans.len())
}
