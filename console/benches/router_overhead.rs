//! Throughput and latency through the local router vs. straight to one upstream, measured with wrk.
//!
//! ```text
//! cargo bench -p opsbox --bench router_overhead -- [--duration 10] [--connections 64] \
//!     [--rounds 3] [--upstream-delay-ms 0] [--upstream 127.0.0.1:PORT --path /tasks/ID]
//! ```
//!
//! One process serves an in-process axum upstream (a small JSON answer, optionally after
//! a delay that stands in for the API's database work) and a router in front of it, on
//! one two-worker tokio runtime; `--upstream` measures a running instance (e.g. a real
//! `opsbox-api`) instead, at `--path`; `wrk` (one thread) loads the upstream directly, then
//! through the router, alternating for `--rounds` rounds. It prints requests/s and p50/p99
//! latency of each, the router's share of direct throughput, and the added latency.
//! Everything shares the machine's cores, as in `opsbox up`. Without `--bench` (as
//! `cargo test --all-targets` runs it) it only checks that one request gets through.

use std::net::SocketAddr;
use std::time::Duration;

use axum::routing::get;
use opsbox::env::local::router::{Router, RouterConfig, UpstreamTarget};
use opsbox_common::config::Track;
use tokio::net::TcpListener;

struct Options {
    measure: bool,
    duration_secs: u64,
    connections: u32,
    rounds: u32,
    upstream_delay: Duration,
    upstream: Option<SocketAddr>,
    path: String,
}

fn options() -> Result<Options, String> {
    let mut options = Options {
        measure: false,
        duration_secs: 10,
        connections: 64,
        rounds: 3,
        upstream_delay: Duration::ZERO,
        upstream: None,
        path: "/".to_owned(),
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |name: &str| -> Result<u64, String> {
            args.next()
                .and_then(|v| v.parse().ok())
                .ok_or_else(|| format!("{name} needs a number"))
        };
        match arg.as_str() {
            "--bench" => options.measure = true,
            // A test runner asking for the list of tests: there are none here.
            "--list" => std::process::exit(0),
            "--duration" => options.duration_secs = value("--duration")?,
            "--connections" => {
                options.connections =
                    u32::try_from(value("--connections")?).map_err(|e| e.to_string())?
            }
            "--rounds" => {
                options.rounds = u32::try_from(value("--rounds")?).map_err(|e| e.to_string())?
            }
            "--upstream-delay-ms" => {
                options.upstream_delay = Duration::from_millis(value("--upstream-delay-ms")?)
            }
            "--upstream" => {
                let addr = args.next().ok_or("--upstream needs HOST:PORT")?;
                options.upstream = Some(addr.parse().map_err(|e| format!("--upstream: {e}"))?);
            }
            "--path" => options.path = args.next().ok_or("--path needs a path")?,
            // libtest-style flags from cargo and nextest (e.g. --list): nothing to list here.
            _ => {}
        }
    }
    Ok(options)
}

/// What wrk measured in one run.
#[derive(Debug, Clone, Copy)]
struct Run {
    requests_per_sec: f64,
    p50_ms: f64,
    p99_ms: f64,
}

async fn wrk(url: &str, options: &Options) -> Result<Run, String> {
    let output = tokio::process::Command::new("wrk")
        .args(["-t1", &format!("-c{}", options.connections)])
        .args([&format!("-d{}s", options.duration_secs), "--latency", url])
        .output()
        .await
        .map_err(|e| format!("cannot run wrk (is it installed?): {e}"))?;
    let text = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        return Err(format!("wrk failed: {text}"));
    }
    if text.contains("Non-2xx") || text.contains("Socket errors") {
        return Err(format!("wrk saw errors:\n{text}"));
    }
    let field = |prefix: &str| -> Result<&str, String> {
        text.lines()
            .map(str::trim)
            .find_map(|line| line.strip_prefix(prefix))
            .map(str::trim)
            .ok_or_else(|| format!("no {prefix:?} in wrk output:\n{text}"))
    };
    let requests_per_sec = field("Requests/sec:")?
        .parse()
        .map_err(|e| format!("requests/sec: {e}"))?;
    Ok(Run {
        requests_per_sec,
        p50_ms: latency_ms(field("50%")?)?,
        p99_ms: latency_ms(field("99%")?)?,
    })
}

/// wrk prints latencies as `812.00us`, `1.23ms` or `1.01s`.
fn latency_ms(text: &str) -> Result<f64, String> {
    let (number, scale) = if let Some(n) = text.strip_suffix("us") {
        (n, 0.001)
    } else if let Some(n) = text.strip_suffix("ms") {
        (n, 1.0)
    } else if let Some(n) = text.strip_suffix('s') {
        (n, 1000.0)
    } else {
        return Err(format!("unknown latency {text:?}"));
    };
    number
        .parse::<f64>()
        .map(|n| n * scale)
        .map_err(|e| format!("latency {text:?}: {e}"))
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or(f64::NAN)
}

async fn start_upstream(delay: Duration) -> Result<SocketAddr, String> {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| e.to_string())?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let app = axum::Router::new().route(
        "/",
        get(move || async move {
            if !delay.is_zero() {
                tokio::time::sleep(delay).await;
            }
            axum::Json(serde_json::json!({ "status": "ok", "instance": "api-1" }))
        }),
    );
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok(addr)
}

async fn run(options: Options) -> Result<(), String> {
    let upstream = match options.upstream {
        Some(addr) => addr,
        None => start_upstream(options.upstream_delay).await?,
    };
    let router = Router::bind(RouterConfig {
        listen: "127.0.0.1:0".parse().map_err(|e| format!("{e}"))?,
        ..RouterConfig::default()
    })
    .await
    .map_err(|e| e.to_string())?;
    router
        .control()
        .set_upstreams(Track::Stable, vec![UpstreamTarget::new("api-1", upstream)])
        .map_err(|e| e.to_string())?;
    let path = if options.upstream.is_some() {
        options.path.as_str()
    } else {
        "/"
    };
    let direct_url = format!("http://{upstream}{path}");
    let routed_url = format!("http://{}{path}", router.public_addr());

    if !options.measure {
        let client = reqwest::Client::builder()
            .no_proxy()
            .build()
            .map_err(|e| e.to_string())?;
        let response = client
            .get(&routed_url)
            .send()
            .await
            .map_err(|e| e.to_string())?;
        if !response.status().is_success() {
            return Err(format!("router answered {}", response.status()));
        }
        println!("router_overhead: smoke run ok (pass --bench to measure)");
        return Ok(());
    }

    println!(
        "wrk -t1 -c{} -d{}s, {} rounds, {}",
        options.connections,
        options.duration_secs,
        options.rounds,
        match options.upstream {
            Some(addr) => format!("upstream {addr}{path}"),
            None => format!("in-process upstream, delay {:?}", options.upstream_delay),
        }
    );
    let mut direct = Vec::new();
    let mut routed = Vec::new();
    for round in 1..=options.rounds {
        let d = wrk(&direct_url, &options).await?;
        let r = wrk(&routed_url, &options).await?;
        println!(
            "round {round}: direct {:>9.0} req/s p50 {:.3} ms p99 {:.3} ms | router {:>9.0} req/s p50 {:.3} ms p99 {:.3} ms",
            d.requests_per_sec, d.p50_ms, d.p99_ms, r.requests_per_sec, r.p50_ms, r.p99_ms
        );
        direct.push(d);
        routed.push(r);
    }
    let pick = |runs: &[Run], f: fn(&Run) -> f64| median(runs.iter().map(f).collect());
    let direct_rps = pick(&direct, |r| r.requests_per_sec);
    let routed_rps = pick(&routed, |r| r.requests_per_sec);
    let (direct_p50, routed_p50) = (pick(&direct, |r| r.p50_ms), pick(&routed, |r| r.p50_ms));
    let (direct_p99, routed_p99) = (pick(&direct, |r| r.p99_ms), pick(&routed, |r| r.p99_ms));
    println!(
        "median  direct {direct_rps:.0} req/s, router {routed_rps:.0} req/s = {:.1}% of direct",
        100.0 * routed_rps / direct_rps
    );
    println!(
        "added latency: p50 +{:.3} ms ({direct_p50:.3} -> {routed_p50:.3}), p99 +{:.3} ms ({direct_p99:.3} -> {routed_p99:.3})",
        routed_p50 - direct_p50,
        routed_p99 - direct_p99
    );
    router.shutdown().await;
    Ok(())
}

fn main() {
    let outcome = options().and_then(|options| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .map_err(|e| e.to_string())?
            .block_on(run(options))
    });
    if let Err(error) = outcome {
        eprintln!("router_overhead: {error}");
        std::process::exit(1);
    }
}
