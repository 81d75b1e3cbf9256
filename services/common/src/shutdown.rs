//! The termination signal both services react to.

use tokio::signal::unix::{signal, SignalKind};

/// Resolves on the first SIGTERM (Kubernetes, the local supervisor) or SIGINT
/// (Ctrl-C in a terminal).
pub async fn terminate_signal() {
    let mut term = match signal(SignalKind::terminate()) {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(error = %e, "cannot listen for SIGTERM; only Ctrl-C will stop this process");
            let _ = tokio::signal::ctrl_c().await;
            return;
        }
    };
    tokio::select! {
        _ = term.recv() => tracing::info!(signal = "SIGTERM", "shutdown requested"),
        _ = tokio::signal::ctrl_c() => tracing::info!(signal = "SIGINT", "shutdown requested"),
    }
}
