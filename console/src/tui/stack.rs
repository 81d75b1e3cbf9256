//! Starting the local environment from the console: `opsbox up` run as a child process,
//! its progress lines shown on the "no environment" screen, its failure shown in full.

use std::collections::VecDeque;
use std::process::Stdio;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::sync::mpsc;

use super::collect::Update;
use super::store::StackStart;
use crate::env::local::StateDir;

/// Output lines of `opsbox up` kept for the failure message.
const KEPT_LINES: usize = 12;

/// The longest output line kept.
const MAX_LINE: usize = 300;

/// Runs `opsbox up --state-dir DIR` with the running executable and reports progress.
/// The status collector notices the environment once it answers.
pub async fn start_stack(state: StateDir, updates: mpsc::Sender<Update>) {
    // `opsbox up` writes its own audit entry; the console adds none.
    let progress = match run_up(&state, &updates).await {
        Ok(()) => StackStart::Running("ready; connecting…".to_owned()),
        Err(error) => StackStart::Failed(error),
    };
    let _ = updates.send(Update::StackStart(progress)).await;
}

async fn run_up(state: &StateDir, updates: &mpsc::Sender<Update>) -> Result<(), String> {
    let exe = std::env::current_exe()
        .map_err(|error| format!("cannot find the opsbox executable: {error}"))?;
    let mut child = tokio::process::Command::new(exe)
        .arg("up")
        .arg("--state-dir")
        .arg(state.root())
        // Its output would scribble over the console: it is read and shown instead.
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|error| format!("cannot run opsbox up: {error}"))?;
    let mut kept: VecDeque<String> = VecDeque::with_capacity(KEPT_LINES);
    let mut lines = match (child.stdout.take(), child.stderr.take()) {
        (Some(stdout), Some(stderr)) => {
            let (sender, receiver) = mpsc::channel::<String>(64);
            for stream in [
                Box::new(stdout) as Box<dyn tokio::io::AsyncRead + Unpin + Send>,
                Box::new(stderr),
            ] {
                let sender = sender.clone();
                tokio::spawn(async move {
                    let mut reader = BufReader::new(stream).lines();
                    while let Ok(Some(line)) = reader.next_line().await {
                        if sender.send(line).await.is_err() {
                            return;
                        }
                    }
                });
            }
            receiver
        }
        _ => return Err("cannot read the output of opsbox up".to_owned()),
    };
    while let Some(line) = lines.recv().await {
        let line: String = line.chars().take(MAX_LINE).collect();
        if kept.len() == KEPT_LINES {
            kept.pop_front();
        }
        kept.push_back(line.clone());
        let _ = updates
            .send(Update::StackStart(StackStart::Running(line)))
            .await;
    }
    let status = child
        .wait()
        .await
        .map_err(|error| format!("cannot wait for opsbox up: {error}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{status}: {}", Vec::from(kept).join(" | ")))
    }
}
