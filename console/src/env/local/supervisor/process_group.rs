//! Signals to an instance's process group: the polite stop, the chaos kill, the cleanup.

use std::process::ExitStatus;
use std::time::Duration;

use nix::errno::Errno;
use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;
use tokio::process::Child;

/// The process group an instance leads. Dropping it SIGKILLs the group, so an instance
/// task that is cancelled (runtime shutdown) leaves no process behind.
pub(crate) struct ProcessGroup {
    pgid: Pid,
    /// Set once the group is known empty, so the drop does not signal a recycled id.
    cleaned: bool,
}

impl ProcessGroup {
    pub fn new(pid: u32) -> Option<Self> {
        let raw = i32::try_from(pid).ok()?;
        Some(Self {
            pgid: Pid::from_raw(raw),
            cleaned: false,
        })
    }

    pub fn signal(&self, signal: Signal) -> Result<(), Errno> {
        match killpg(self.pgid, signal) {
            // Nobody left in the group: what we wanted.
            Ok(()) | Err(Errno::ESRCH) => Ok(()),
            Err(errno) => Err(errno),
        }
    }

    /// SIGTERM to the group, SIGKILL after `grace`; returns once the leader is reaped
    /// and the rest of the group has been killed.
    pub async fn stop(
        &mut self,
        child: &mut Child,
        grace: Duration,
    ) -> std::io::Result<ExitStatus> {
        if let Err(errno) = self.signal(Signal::SIGTERM) {
            tracing::warn!(pgid = %self.pgid, %errno, "SIGTERM failed");
        }
        let status = match tokio::time::timeout(grace, child.wait()).await {
            Ok(status) => status,
            Err(_) => {
                tracing::info!(pgid = %self.pgid, ?grace, "no exit within the grace period; SIGKILL");
                if let Err(errno) = self.signal(Signal::SIGKILL) {
                    tracing::warn!(pgid = %self.pgid, %errno, "SIGKILL failed");
                }
                child.wait().await
            }
        };
        self.clean_up();
        status
    }

    /// After the leader exited: members that outlived it (ignored SIGTERM, or a crash
    /// left them) would pile up with every restart.
    pub fn clean_up(&mut self) {
        if let Err(errno) = self.signal(Signal::SIGKILL) {
            tracing::warn!(pgid = %self.pgid, %errno, "killing what is left of the group failed");
        }
        self.cleaned = true;
    }
}

impl Drop for ProcessGroup {
    fn drop(&mut self) {
        if !self.cleaned {
            let _ = self.signal(Signal::SIGKILL);
        }
    }
}
