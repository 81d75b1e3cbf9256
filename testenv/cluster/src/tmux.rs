//! A terminal for the console: a tmux server of its own (killed when dropped), keys sent
//! as a person types them, and the screen read back.

use std::process::{Command, Output, Stdio};
use std::time::Duration;

use anyhow::{ensure, Context, Result};

use crate::wait_until;

pub struct Tmux {
    socket: String,
}

impl Tmux {
    /// Runs `command` in a detached `width`×`height` session named `console`.
    pub fn start(name: &str, width: u16, height: u16, command: &str) -> Result<Tmux> {
        let tmux = Tmux {
            socket: format!("{name}-{}", std::process::id()),
        };
        let (width, height) = (width.to_string(), height.to_string());
        let out = tmux.tmux(&[
            "-f",
            "/dev/null",
            "new-session",
            "-d",
            "-s",
            "console",
            "-x",
            &width,
            "-y",
            &height,
            command,
        ])?;
        ensure!(
            out.status.success(),
            "tmux new-session: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Ok(tmux)
    }

    fn tmux(&self, args: &[&str]) -> Result<Output> {
        Command::new("tmux")
            .args(["-L", &self.socket])
            .args(args)
            .stdin(Stdio::null())
            .output()
            .context("tmux runs (make test installs it: scripts/deps.sh)")
    }

    pub fn press(&self, key: &str) -> Result<()> {
        let out = self.tmux(&["send-keys", "-t", "console", key])?;
        ensure!(out.status.success(), "send-keys {key}");
        Ok(())
    }

    pub fn screen(&self) -> Result<String> {
        Ok(String::from_utf8(
            self.tmux(&["capture-pane", "-p", "-t", "console"])?.stdout,
        )?)
    }

    /// The process the session runs.
    pub fn pid(&self) -> Result<u32> {
        let out = self.tmux(&["list-panes", "-t", "console", "-F", "#{pane_pid}"])?;
        String::from_utf8(out.stdout)?
            .trim()
            .parse()
            .context("the pane's pid")
    }

    /// Waits until a line of the screen has every one of `words`.
    pub fn await_line(&self, what: &str, words: &[&str], deadline: Duration) -> Result<()> {
        wait_until(what, deadline, || {
            let screen = self.screen()?;
            Ok(
                if screen
                    .lines()
                    .any(|line| words.iter().all(|word| line.contains(word)))
                {
                    Ok(())
                } else {
                    Err(screen)
                },
            )
        })
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.tmux(&["kill-server"]);
    }
}
