//! Ties a child process's life to its parent's, with the one `unsafe` block that takes.

use std::io;
use std::os::unix::process::CommandExt;
use std::process::Command;

use nix::errno::Errno;
use nix::sys::signal::Signal;

/// Has the kernel SIGKILL the child `command` starts when its parent dies
/// (PR_SET_PDEATHSIG), so a crashed or killed parent leaves no children behind.
///
/// The kernel ties this to the spawning *thread*, not the process: spawn from
/// a thread that lives as long as the child should (the main thread, a
/// dedicated spawning thread, or a runtime worker of a runtime that outlives
/// the child; never `spawn_blocking`, whose threads exit when idle).
///
/// If the parent is already gone by the time the child has set this up, no
/// signal would ever come, so the spawn fails (ESRCH) rather than leave an
/// orphan running.
pub fn die_with_parent(command: &mut Command) {
    let parent = nix::unistd::getpid();
    // SAFETY: between fork and exec the closure only makes async-signal-safe
    // system calls (prctl, getppid); it does not allocate or take a lock. std
    // runs it after any setuid/setgid of `Command::uid`/`gid`, which matters:
    // changing credentials clears the death signal.
    unsafe {
        command.pre_exec(move || {
            nix::sys::prctl::set_pdeathsig(Signal::SIGKILL).map_err(io::Error::from)?;
            // The parent may have died between fork and prctl; then no signal
            // will ever come, so refuse to run orphaned.
            if nix::unistd::getppid() != parent {
                return Err(io::Error::from(Errno::ESRCH));
            }
            Ok(())
        });
    }
}
