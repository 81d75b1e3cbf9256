//! Whether a recorded pid still runs, and ending a recorded process group for good.

use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::sys::signal::{kill, killpg, Signal};
use nix::unistd::Pid;

/// How often a dying process is looked at again.
const POLL: Duration = Duration::from_millis(50);

/// True while a process with this pid exists and is not a zombie. A zombie runs nothing,
/// and whether PID 1 reaps orphans (in a container it may not) is not ours to wait for.
pub fn is_alive(pid: u32) -> bool {
    let Some(raw) = raw_pid(pid) else {
        return false;
    };
    match kill(raw, None) {
        Err(Errno::ESRCH) => false,
        Ok(()) | Err(_) => !is_zombie(pid),
    }
}

fn is_zombie(pid: u32) -> bool {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    // "pid (comm) S ...": comm may contain spaces, so the state follows the last ')'.
    stat.rsplit_once(')')
        .and_then(|(_, rest)| rest.split_whitespace().next())
        .is_some_and(|state| state == "Z")
}

fn raw_pid(pid: u32) -> Option<Pid> {
    // 0 and 1 would signal our own group or init: never a recorded instance.
    i32::try_from(pid)
        .ok()
        .filter(|raw| *raw > 1)
        .map(Pid::from_raw)
}

/// Polls until `pid` is gone; false when `deadline` passed first.
pub fn wait_gone(pid: u32, deadline: Duration) -> bool {
    let started = Instant::now();
    while is_alive(pid) {
        if started.elapsed() >= deadline {
            return false;
        }
        std::thread::sleep(POLL);
    }
    true
}

/// SIGTERM to the process group `pid` leads (and to `pid` itself), then SIGKILL after
/// `grace`. Returns whether it is gone.
pub fn terminate_group(pid: u32, grace: Duration) -> bool {
    let Some(raw) = raw_pid(pid) else {
        return true;
    };
    if !is_alive(pid) {
        return true;
    }
    signal_group(raw, Signal::SIGTERM);
    if wait_gone(pid, grace) {
        return true;
    }
    signal_group(raw, Signal::SIGKILL);
    wait_gone(pid, grace)
}

fn signal_group(pid: Pid, signal: Signal) {
    // The group may be gone already while the pid lingers, or the pid may not lead one;
    // both signals are best effort and the caller checks the outcome by pid.
    let _ = killpg(pid, signal);
    let _ = kill(pid, signal);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn our_own_pid_is_alive_and_init_is_never_signalled() {
        assert!(is_alive(std::process::id()));
        assert!(!is_alive(0));
        assert!(terminate_group(1, Duration::from_millis(1)));
    }
}
