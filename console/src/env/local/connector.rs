//! Finds the running environment's daemon and keeps a client to it, so collectors and
//! actions can tell "nothing runs" (offer to start one) from "it failed to answer".

use std::sync::{Mutex, PoisonError};

use super::{process, ControlClient, StateDir};
use crate::env::NotRunning;

/// The client to the daemon named in `daemon.json`, re-read when the daemon changes.
#[derive(Debug)]
pub struct Connector {
    state: StateDir,
    cached: Mutex<Option<ControlClient>>,
}

impl Connector {
    pub fn new(state: StateDir) -> Self {
        Self {
            state,
            cached: Mutex::new(None),
        }
    }

    pub fn state_dir(&self) -> &StateDir {
        &self.state
    }

    /// A client to the running daemon. The cached one is kept while its daemon lives;
    /// otherwise `daemon.json` is read again (a new `up` writes a new port and token).
    pub fn client(&self) -> Result<ControlClient, NotRunning> {
        let mut cached = self.cached.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(client) = cached.as_ref() {
            if process::is_alive(client.record().pid) {
                return Ok(client.clone());
            }
        }
        *cached = None;
        let root = self.state.root().display();
        let client = match ControlClient::from_state_dir(&self.state) {
            Ok(Some(client)) => client,
            Ok(None) => {
                return Err(NotRunning(format!(
                    "no local environment is running in {root}; start one with `opsbox up`"
                )))
            }
            Err(error) => {
                return Err(NotRunning(format!(
                    "no usable local environment in {root}: {error:#}"
                )))
            }
        };
        let pid = client.record().pid;
        if !process::is_alive(pid) {
            return Err(NotRunning(format!(
                "no local environment is running in {root}: its daemon (pid {pid}) is gone; \
                 `opsbox down` cleans up what it left, `opsbox up` starts a new one"
            )));
        }
        *cached = Some(client.clone());
        Ok(client)
    }

    /// Drops the cached client after a failed request, so the next one reads `daemon.json`.
    pub fn forget(&self) {
        *self.cached.lock().unwrap_or_else(PoisonError::into_inner) = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_state_dir_means_nothing_runs_and_says_where() {
        let dir = tempfile::tempdir().expect("tempdir");
        let state = StateDir::resolve(Some(dir.path())).expect("state dir");
        let connector = Connector::new(state);
        let NotRunning(message) = connector.client().expect_err("nothing runs");
        assert!(
            message.contains("no local environment is running"),
            "{message}"
        );
        assert!(
            message.contains(&dir.path().display().to_string()),
            "{message}"
        );
    }
}
