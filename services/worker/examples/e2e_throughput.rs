//! End-to-end throughput for `make bench`: creates and runs `--tasks` io
//! tasks of 0 ms through the API with `--concurrency` clients, and reports
//! jobs per second from the first create to the last task DONE (read from the
//! database, the source of truth).
//!
//! Usage: e2e_throughput --api URL --database-url URL [--tasks N] [--concurrency C]

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use clap::Parser;
use serde_json::{json, Value};
use tokio::sync::Semaphore;

#[derive(Parser)]
struct Args {
    #[arg(long)]
    api: String,
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    database_url: String,
    #[arg(long, default_value_t = 2000)]
    tasks: usize,
    #[arg(long, default_value_t = 32)]
    concurrency: usize,
    /// Give up after this long.
    #[arg(long, default_value = "120s", value_parser = opsbox_common::duration::parse)]
    timeout: Duration,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let db = sqlx::PgPool::connect(&args.database_url)
        .await
        .context("connect")?;
    sqlx::query("TRUNCATE tasks CASCADE").execute(&db).await?;
    let http = reqwest::Client::new();
    let slots = Arc::new(Semaphore::new(args.concurrency));

    let started = Instant::now();
    let mut clients = tokio::task::JoinSet::new();
    for i in 0..args.tasks {
        let permit = slots.clone().acquire_owned().await?;
        let (http, api) = (http.clone(), args.api.clone());
        clients.spawn(async move {
            let _permit = permit;
            create_and_run(&http, &api, i).await
        });
    }
    while let Some(outcome) = clients.join_next().await {
        outcome??;
    }
    let submitted = started.elapsed();

    let expected = i64::try_from(args.tasks)?;
    loop {
        let done: i64 = sqlx::query_scalar("SELECT count(*) FROM tasks WHERE status = 'DONE'")
            .fetch_one(&db)
            .await?;
        if done == expected {
            break;
        }
        if started.elapsed() > args.timeout {
            bail!(
                "only {done} of {expected} tasks DONE after {:?}",
                args.timeout
            );
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let elapsed = started.elapsed();
    println!(
        "tasks={} concurrency={} submitted_in={:.2}s all_done_in={:.2}s jobs_per_sec={:.0}",
        args.tasks,
        args.concurrency,
        submitted.as_secs_f64(),
        elapsed.as_secs_f64(),
        args.tasks as f64 / elapsed.as_secs_f64()
    );
    Ok(())
}

async fn create_and_run(http: &reqwest::Client, api: &str, i: usize) -> anyhow::Result<()> {
    let created = http
        .post(format!("{api}/tasks"))
        .json(&json!({"title": format!("bench {i}"), "kind": "io", "payload": {"ms": 0}}))
        .send()
        .await?;
    if created.status() != 201 {
        bail!("create answered {}", created.status());
    }
    let task: Value = created.json().await?;
    let id = task["id"].as_str().context("task id")?;
    let run = http.post(format!("{api}/tasks/{id}/run")).send().await?;
    if run.status() != 202 {
        bail!("run answered {}", run.status());
    }
    Ok(())
}
