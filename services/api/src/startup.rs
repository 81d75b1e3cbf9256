//! Building and running the server: bind, serve, drain on shutdown.

use std::future::{Future, IntoFuture};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::serve::ListenerExt;
use axum::Router;
use opsbox_common::db;
use opsbox_common::queue::{JobQueue, QueueKeys};
use opsbox_common::redis_conn::Redis;
use tokio::net::TcpListener;

use crate::config::Config;
use crate::context::AppContext;
use crate::faults::Faults;
use crate::flags::{self, FeatureFlags};
use crate::metrics::ApiMetrics;
use crate::routes;

pub struct Application {
    listener: TcpListener,
    router: Router,
    ctx: AppContext,
    shutdown_delay: Duration,
    drain_timeout: Duration,
    flags_poll_interval: Duration,
}

impl Application {
    /// Connects lazily (the API starts even while a dependency is down) and
    /// binds the listener; port 0 picks a free port, as tests do.
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        let pool = db::connect_lazy(
            config.stack.database_url.expose(),
            config.db_max_connections,
        )?;
        let redis = Redis::new(config.stack.redis_url.expose())?;
        let queue = JobQueue::new(redis, QueueKeys::new(config.stack.queue_prefix.clone()));
        let metrics = ApiMetrics::new(config.stack.track.as_str(), &config.stack.release)?;
        let faults = Faults::new(config.fault_error_rate, config.fault_latency_ms);
        let admin_token = config.admin_token.as_ref().map(|t| Box::from(t.expose()));
        let flags = Arc::new(FeatureFlags::new(
            config.flags_file.clone(),
            metrics.feature_flag.clone(),
            metrics.flags_refused.clone(),
        ));
        // Read at start: a missing or bad file is logged and leaves every flag off.
        flags.reload().await;
        let ctx = AppContext::new(pool, queue, metrics, faults, flags, admin_token);
        let listener = TcpListener::bind(config.addr).await?;
        tracing::info!(
            database = %db::redact_url(config.stack.database_url.expose()),
            redis = %db::redact_url(config.stack.redis_url.expose()),
            release = %config.stack.release,
            track = config.stack.track.as_str(),
            "configured"
        );
        Ok(Self {
            router: routes::router(ctx.clone()),
            listener,
            ctx,
            shutdown_delay: config.shutdown_delay,
            drain_timeout: config.drain_timeout,
            flags_poll_interval: config.flags_poll_interval,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)))
    }

    pub fn context(&self) -> &AppContext {
        &self.ctx
    }

    /// Serves until `shutdown` resolves, then: readiness fails at once, the
    /// listener stays open for `shutdown_delay` (so load balancers notice),
    /// and in-flight requests get `drain_timeout` to finish.
    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        // Polls until the server stops (dropped at the end of this function).
        let _flags_watch = flags::spawn_watch(self.ctx.flags.clone(), self.flags_poll_interval);
        let ctx = self.ctx.clone();
        let delay = self.shutdown_delay;
        let (draining_tx, draining_rx) = tokio::sync::oneshot::channel::<()>();
        let graceful = async move {
            shutdown.await;
            ctx.start_draining();
            tracing::info!(
                delay_ms = delay.as_millis() as u64,
                "shutting down: readiness now fails"
            );
            tokio::time::sleep(delay).await;
            tracing::info!("draining in-flight requests");
            let _ = draining_tx.send(());
        };
        // Responses are small and written whole: Nagle's algorithm would only
        // hold them back waiting for the client's delayed ACK.
        let listener = self.listener.tap_io(|tcp| {
            if let Err(e) = tcp.set_nodelay(true) {
                tracing::warn!(error = %e, "cannot set TCP_NODELAY");
            }
        });
        let server = axum::serve(listener, self.router)
            .with_graceful_shutdown(graceful)
            .into_future();
        let deadline = async {
            if draining_rx.await.is_err() {
                std::future::pending::<()>().await;
            }
            tokio::time::sleep(self.drain_timeout).await;
        };
        tokio::select! {
            served = server => served?,
            () = deadline => tracing::warn!(timeout_ms = self.drain_timeout.as_millis() as u64, "drain deadline passed; closing with requests in flight"),
        }
        self.ctx.db.close().await;
        tracing::info!("stopped");
        Ok(())
    }
}
