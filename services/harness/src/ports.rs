//! Picks free loopback ports for the private servers.

use std::net::{Ipv4Addr, TcpListener};

use crate::error::{HarnessError, Result};

/// How many times a first start picks a new port after losing the one it picked.
///
/// A port is only free until someone else binds it: between releasing our probe
/// socket and the server binding, another process (often a parallel test) can
/// take it. A handful of retries makes that race practically impossible to lose.
pub(crate) const PORT_ATTEMPTS: u32 = 5;

/// Returns a loopback TCP port that was free a moment ago.
///
/// The kernel picks it from the ephemeral range, which keeps it away from
/// well-known ports and, in practice, from other recent picks.
pub fn free_port() -> Result<u16> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .map_err(HarnessError::io("bind a probe socket on 127.0.0.1:0"))?;
    let address = listener
        .local_addr()
        .map_err(HarnessError::io("read the probe socket's port"))?;
    Ok(address.port())
}

/// True when a log written by a server that failed to start says its port was taken.
///
/// PostgreSQL and Redis both report a clash with the operating system's
/// "Address already in use" text, which is the only stable signal they give.
pub(crate) fn log_reports_port_clash(log_tail: &str) -> bool {
    log_tail.contains("Address already in use")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn free_port_is_bindable() {
        let port = free_port().expect("pick a port");
        assert_ne!(port, 0);
        TcpListener::bind((Ipv4Addr::LOCALHOST, port)).expect("the picked port can be bound");
    }

    #[test]
    fn recognises_clash_messages_of_both_servers() {
        assert!(log_reports_port_clash(
            "LOG:  could not bind IPv4 address \"127.0.0.1\": Address already in use"
        ));
        assert!(log_reports_port_clash(
            "# Warning: Could not create server TCP listening socket 127.0.0.1:6379: bind: Address already in use"
        ));
        assert!(!log_reports_port_clash(
            "FATAL:  lock file \"postmaster.pid\" already exists"
        ));
    }
}
