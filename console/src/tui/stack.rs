//! Starting the environment from the console: its progress lines shown on the "no
//! environment" screen, its failure shown with the last of them.

use std::collections::VecDeque;

use tokio::sync::mpsc;

use super::collect::Update;
use super::store::StackStart;
use crate::env::{AnyEnvironment, Environment};

/// Output lines of the start kept for the failure message.
const KEPT_LINES: usize = 12;

/// The longest output line kept.
const MAX_LINE: usize = 300;

/// Progress lines waiting for the app.
const PROGRESS_QUEUE: usize = 64;

/// Starts the environment and reports progress. The status collector notices the
/// environment once it answers.
pub async fn start_stack(environment: AnyEnvironment, updates: mpsc::Sender<Update>) {
    // `opsbox up` writes its own audit entry; the console adds none.
    let (progress, mut lines) = mpsc::channel::<String>(PROGRESS_QUEUE);
    let start = tokio::spawn(async move { environment.bring_up(progress).await });
    let mut kept: VecDeque<String> = VecDeque::with_capacity(KEPT_LINES);
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
    let progress = match start.await {
        Ok(Ok(())) => StackStart::Running("ready; connecting…".to_owned()),
        Ok(Err(error)) => StackStart::Failed(format!("{error:#}: {}", Vec::from(kept).join(" | "))),
        Err(error) => StackStart::Failed(format!("the start failed: {error}")),
    };
    let _ = updates.send(Update::StackStart(progress)).await;
}
