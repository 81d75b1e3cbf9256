//! In-process axum upstreams on free ports, a router in front of them, and a client that counts answers.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use opsbox::env::local::router::{Router, RouterConfig, UpstreamTarget};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// An API stand-in: echoes the request body and says who answered and which
/// `traceparent` it saw.
pub struct Upstream {
    pub name: String,
    pub addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    serving: JoinHandle<()>,
}

async fn echo(State(name): State<Arc<str>>, headers: HeaderMap, body: Bytes) -> Response {
    let mut response = body.into_response();
    let name = HeaderValue::from_str(&name).expect("test names are header-safe");
    response.headers_mut().insert("x-upstream", name);
    if let Some(traceparent) = headers.get("traceparent") {
        response
            .headers_mut()
            .insert("x-seen-traceparent", traceparent.clone());
    }
    response
}

impl Upstream {
    pub async fn start(name: &str) -> Upstream {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("free port");
        let addr = listener.local_addr().expect("bound address");
        let app = axum::Router::new()
            .fallback(echo)
            .with_state(Arc::<str>::from(name));
        let (stop, stopped) = oneshot::channel::<()>();
        let serving = tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await
                .expect("upstream serves");
        });
        Upstream {
            name: name.to_owned(),
            addr,
            stop: Some(stop),
            serving,
        }
    }

    pub fn target(&self) -> UpstreamTarget {
        UpstreamTarget::new(self.name.clone(), self.addr)
    }

    /// Stops accepting and closes every connection; returns once the port refuses.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        (&mut self.serving).await.expect("upstream task");
    }
}

/// A port nothing listens on: connections to it are refused.
pub async fn refused_target(name: &str) -> UpstreamTarget {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("free port");
    let addr = listener.local_addr().expect("bound address");
    drop(listener);
    UpstreamTarget::new(name, addr)
}

pub async fn start_router() -> Router {
    Router::bind(RouterConfig {
        listen: "127.0.0.1:0".parse().expect("address"),
        ..RouterConfig::default()
    })
    .await
    .expect("router binds")
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("http client")
}

pub fn url(router: &Router, path: &str) -> String {
    format!("http://{}{path}", router.public_addr())
}

/// What the router answered: who served how many requests.
#[derive(Debug, Default)]
pub struct Tally {
    pub by_track: HashMap<String, usize>,
    pub by_instance: HashMap<String, usize>,
    pub failures: Vec<String>,
}

impl Tally {
    pub fn track(&self, track: &str) -> usize {
        self.by_track.get(track).copied().unwrap_or(0)
    }

    pub fn instance(&self, name: &str) -> usize {
        self.by_instance.get(name).copied().unwrap_or(0)
    }
}

/// Sends `requests` GETs through the router from `concurrency` clients at once.
pub async fn send(router: &Router, requests: usize, concurrency: usize) -> Tally {
    let client = client();
    let target = url(router, "/tasks");
    let mut workers = Vec::with_capacity(concurrency);
    for worker in 0..concurrency {
        let share = requests / concurrency + usize::from(worker < requests % concurrency);
        let client = client.clone();
        let target = target.clone();
        workers.push(tokio::spawn(async move {
            let mut answers = Vec::with_capacity(share);
            for _ in 0..share {
                answers.push(answer(&client, &target).await);
            }
            answers
        }));
    }
    let mut tally = Tally::default();
    for worker in workers {
        for answer in worker.await.expect("client task") {
            match answer {
                Ok((track, instance)) => {
                    *tally.by_track.entry(track).or_default() += 1;
                    *tally.by_instance.entry(instance).or_default() += 1;
                }
                Err(failure) => tally.failures.push(failure),
            }
        }
    }
    tally
}

async fn answer(client: &reqwest::Client, target: &str) -> Result<(String, String), String> {
    let response = client.get(target).send().await.map_err(|e| e.to_string())?;
    if !response.status().is_success() {
        return Err(format!("status {}", response.status()));
    }
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
            .ok_or_else(|| format!("no {name} header"))
    };
    Ok((header("x-opsbox-track")?, header("x-opsbox-instance")?))
}
