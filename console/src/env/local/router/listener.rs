//! Accepts connections on one port and serves HTTP/1.1 on each, bounded and stoppable.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use http::{Request, Response};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::responses::RouterBody;

/// A client that has not sent its request headers by then is dropped (slowloris).
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);

/// After a failed accept (e.g. out of file descriptors), wait before the next one
/// instead of spinning on the error.
const ACCEPT_RETRY_DELAY: Duration = Duration::from_millis(50);

/// When the listener stops: `draining` ends accepting and asks connections to finish
/// their request; `closing` drops whatever is left.
#[derive(Clone)]
pub(crate) struct Stop {
    pub draining: CancellationToken,
    pub closing: CancellationToken,
}

/// Serves `service` on every connection of `listener` until `stop.draining`, holding a
/// permit of `connections` per open connection.
pub(crate) async fn serve<S, F>(
    listener: TcpListener,
    service: S,
    connections: Arc<Semaphore>,
    stop: Stop,
    tracker: TaskTracker,
) where
    S: Fn(Request<Incoming>, SocketAddr) -> F + Clone + Send + Sync + 'static,
    F: Future<Output = Response<RouterBody>> + Send + 'static,
{
    loop {
        let permit = tokio::select! {
            _ = stop.draining.cancelled() => return,
            permit = connections.clone().acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => return,
            },
        };
        let (stream, client) = tokio::select! {
            _ = stop.draining.cancelled() => return,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    tracing::warn!(%error, "accepting a connection failed");
                    tokio::time::sleep(ACCEPT_RETRY_DELAY).await;
                    continue;
                }
            },
        };
        // Small request/response exchanges: Nagle's delay would dominate their latency.
        if let Err(error) = stream.set_nodelay(true) {
            tracing::debug!(%error, "TCP_NODELAY not set");
        }
        let service = service.clone();
        let stop = stop.clone();
        tracker.spawn(async move {
            let _permit = permit;
            let per_request = service_fn(move |request| {
                let answer = service(request, client);
                async move { Ok::<_, Infallible>(answer.await) }
            });
            let connection = http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(HEADER_READ_TIMEOUT)
                .serve_connection(TokioIo::new(stream), per_request);
            tokio::pin!(connection);
            let finished = tokio::select! {
                result = connection.as_mut() => Some(result),
                _ = stop.draining.cancelled() => None,
            };
            let result = match finished {
                Some(result) => result,
                None => {
                    connection.as_mut().graceful_shutdown();
                    tokio::select! {
                        result = connection.as_mut() => result,
                        _ = stop.closing.cancelled() => Ok(()),
                    }
                }
            };
            if let Err(error) = result {
                tracing::debug!(%client, %error, "connection ended with an error");
            }
        });
    }
}
