//! What a port-forward to the release's API would reach, on the cluster tier: kwok's
//! pods run no containers, so the real `opsbox-api` and `opsbox-worker` run here on
//! 127.0.0.1 over private PostgreSQL and Redis, with the release's admin token. The
//! console is pointed at it with `--api-url` while it acts on the cluster's objects.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{ensure, Context, Result};
use opsbox_harness::{free_port, Dependencies};

use crate::wait_until;

/// How long the API may take to answer `/ready` after it starts.
const READY_DEADLINE: Duration = Duration::from_secs(60);

/// The API and a worker, stopped (and their servers with them) when dropped.
pub struct ApiStandIn {
    api: Child,
    worker: Child,
    url: String,
    // Dropped after the processes that use them, inside the runtime they were made in.
    dependencies: Option<Dependencies>,
    runtime: tokio::runtime::Runtime,
}

impl ApiStandIn {
    /// Starts both next to `opsbox` (the workspace's build of every binary), migrates,
    /// and waits until the API is ready. Their logs go to `logs`.
    pub fn start(opsbox: &Path, admin_token: &str, logs: &Path) -> Result<Self> {
        let bin = opsbox.parent().context("the opsbox binary's directory")?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let dependencies = runtime
            .block_on(Dependencies::private())
            .context("private PostgreSQL and Redis")?;
        let env = dependencies.env_vars();
        let log = |name: &str| -> Result<Stdio> {
            Ok(std::fs::File::create(logs.join(format!("{name}.log")))?.into())
        };
        let migrated = Command::new(bin.join("opsbox-api"))
            .arg("migrate")
            .envs(env)
            .stdout(log("migrate")?)
            .stderr(log("migrate.err")?)
            .status()
            .context("opsbox-api migrate")?;
        ensure!(migrated.success(), "opsbox-api migrate: {migrated}");
        let port = free_port().context("a port for the API")?;
        let api = Command::new(bin.join("opsbox-api"))
            .envs(env)
            .env("OPSBOX_API_ADDR", format!("127.0.0.1:{port}"))
            .env("OPSBOX_ADMIN_TOKEN", admin_token)
            .stdout(log("api")?)
            .stderr(log("api.err")?)
            .spawn()
            .context("opsbox-api")?;
        let metrics = free_port().context("a port for the worker's metrics")?;
        let worker = Command::new(bin.join("opsbox-worker"))
            .envs(env)
            .env("OPSBOX_WORKER_METRICS_ADDR", format!("127.0.0.1:{metrics}"))
            .stdout(log("worker")?)
            .stderr(log("worker.err")?)
            .spawn()
            .context("opsbox-worker")?;
        let stand_in = Self {
            api,
            worker,
            url: format!("http://127.0.0.1:{port}"),
            dependencies: Some(dependencies),
            runtime,
        };
        wait_until("the API ready", READY_DEADLINE, || {
            Ok(match http_status(port, "/ready") {
                Ok(200) => Ok(()),
                Ok(code) => Err(format!("/ready answered {code}")),
                Err(error) => Err(format!("{error:#}")),
            })
        })?;
        Ok(stand_in)
    }

    /// `http://127.0.0.1:PORT`, as `scripts/port-forward.sh` would print it.
    pub fn url(&self) -> &str {
        &self.url
    }
}

impl Drop for ApiStandIn {
    fn drop(&mut self) {
        for child in [&mut self.api, &mut self.worker] {
            let _ = child.kill();
            let _ = child.wait();
        }
        let dependencies = self.dependencies.take();
        self.runtime.block_on(async move { drop(dependencies) });
    }
}

/// The status code of a GET on loopback, with a short deadline.
fn http_status(port: u16, path: &str) -> Result<u16> {
    let mut stream = TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(Duration::from_secs(2)))?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )?;
    let mut head = [0_u8; 12];
    stream.read_exact(&mut head)?;
    let line = std::str::from_utf8(&head)?;
    line.get(9..12)
        .and_then(|code| code.parse().ok())
        .with_context(|| format!("not an HTTP answer: {line:?}"))
}
