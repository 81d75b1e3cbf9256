//! `healthcheck`: GET the process's own `/health` and exit 0 or 1, for a
//! container `HEALTHCHECK` on an image with no shell and no curl.
//!
//! One implementation for both services: `opsbox-worker` compiles this file
//! too (`#[path]`), until it moves into `opsbox-common`.

use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

/// The whole check, connect to last byte, fits in this.
pub const TIMEOUT: Duration = Duration::from_secs(2);

/// Where to send the probe: `http://host:port/path`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub host: String,
    pub port: u16,
    pub path: String,
}

impl Target {
    /// The service's own listen address; a wildcard address is probed on loopback.
    pub fn own(addr: SocketAddr, path: &str) -> Target {
        let ip = match addr.ip() {
            IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
            IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
            ip => ip,
        };
        Target {
            host: match ip {
                IpAddr::V6(v6) => format!("[{v6}]"),
                IpAddr::V4(v4) => v4.to_string(),
            },
            port: addr.port(),
            path: path.to_owned(),
        }
    }

    /// `http://host[:port][/path]` (plain HTTP only: probes stay inside the pod or cluster).
    pub fn parse(url: &str) -> Result<Target, String> {
        let rest = url
            .strip_prefix("http://")
            .ok_or_else(|| format!("{url}: only http:// URLs are probed"))?;
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/health"),
        };
        let (host, port) = match authority.rsplit_once(':') {
            Some((host, port)) if !port.contains(']') => (
                host,
                port.parse()
                    .map_err(|_| format!("{url}: bad port {port:?}"))?,
            ),
            _ => (authority, 80),
        };
        if host.is_empty() {
            return Err(format!("{url}: no host"));
        }
        Ok(Target {
            host: host.to_owned(),
            port,
            path: path.to_owned(),
        })
    }
}

/// GETs the target; Ok with the status line when it answers 200, else why not.
pub fn check(target: &Target, timeout: Duration) -> Result<String, String> {
    let deadline = Instant::now() + timeout;
    let host = target.host.trim_start_matches('[').trim_end_matches(']');
    let addrs: Vec<SocketAddr> = (host, target.port)
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve {}: {e}", target.host))?
        .collect();
    let addr = addrs
        .first()
        .ok_or_else(|| format!("{} has no address", target.host))?;
    let left = |deadline: Instant| {
        deadline
            .checked_duration_since(Instant::now())
            .filter(|d| !d.is_zero())
            .ok_or_else(|| format!("no answer within {timeout:?}"))
    };
    let mut stream = TcpStream::connect_timeout(addr, left(deadline)?)
        .map_err(|e| format!("cannot connect to {addr}: {e}"))?;
    stream
        .set_write_timeout(Some(left(deadline)?))
        .map_err(|e| e.to_string())?;
    let request = format!(
        "GET {} HTTP/1.1\r\nHost: {}:{}\r\nUser-Agent: opsbox-healthcheck\r\nConnection: close\r\n\r\n",
        target.path, target.host, target.port
    );
    stream
        .write_all(request.as_bytes())
        .map_err(|e| format!("cannot send to {addr}: {e}"))?;
    let mut head = Vec::new();
    let mut buf = [0_u8; 256];
    while !head.contains(&b'\n') {
        stream
            .set_read_timeout(Some(left(deadline)?))
            .map_err(|e| e.to_string())?;
        let n = stream
            .read(&mut buf)
            .map_err(|e| format!("no answer from {addr}: {e}"))?;
        if n == 0 {
            break;
        }
        head.extend_from_slice(&buf[..n]);
    }
    let text = String::from_utf8_lossy(&head);
    let status_line = text.lines().next().unwrap_or_default().trim().to_owned();
    match status_line.split_whitespace().nth(1) {
        Some("200") => Ok(status_line),
        _ => Err(format!("{addr}{} answered {status_line:?}", target.path)),
    }
}

/// Runs the check and prints one line; the process exit code (0 healthy, 1 not).
pub fn run(target: &Target) -> u8 {
    match check(target, TIMEOUT) {
        Ok(status) => {
            println!("healthy: {status}");
            0
        }
        Err(why) => {
            eprintln!("unhealthy: {why}");
            1
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    /// A one-request server answering `response`.
    fn serve_once(response: &'static str) -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr");
        std::thread::spawn(move || {
            if let Ok((mut conn, _)) = listener.accept() {
                let mut buf = [0_u8; 1024];
                let _ = conn.read(&mut buf);
                let _ = conn.write_all(response.as_bytes());
            }
        });
        addr
    }

    #[test]
    fn a_200_is_healthy() {
        let addr = serve_once("HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok");
        let target = Target::own(addr, "/health");
        assert_eq!(check(&target, TIMEOUT).as_deref(), Ok("HTTP/1.1 200 OK"));
    }

    #[test]
    fn a_503_is_not() {
        let addr = serve_once("HTTP/1.1 503 Service Unavailable\r\n\r\n");
        let err = check(&Target::own(addr, "/health"), TIMEOUT).unwrap_err();
        assert!(err.contains("503"), "{err}");
    }

    #[test]
    fn nothing_listening_fails_fast() {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let started = Instant::now();
        let target = Target::parse(&format!("http://127.0.0.1:{port}/health")).expect("url");
        assert!(check(&target, TIMEOUT).is_err());
        assert!(started.elapsed() < TIMEOUT);
    }

    #[test]
    fn a_silent_server_times_out() {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr");
        let started = Instant::now();
        let err = check(&Target::own(addr, "/health"), Duration::from_millis(300)).unwrap_err();
        assert!(started.elapsed() < Duration::from_secs(2), "{err}");
        drop(listener);
    }

    #[test]
    fn wildcard_addresses_are_probed_on_loopback() {
        let t = Target::own("0.0.0.0:8080".parse().expect("addr"), "/health");
        assert_eq!((t.host.as_str(), t.port), ("127.0.0.1", 8080));
        let t = Target::own("[::]:9091".parse().expect("addr"), "/health");
        assert_eq!(t.host, "[::1]");
    }

    #[test]
    fn urls_parse() {
        let t = Target::parse("http://opsbox-api:80/ready").expect("url");
        assert_eq!(
            t,
            Target {
                host: "opsbox-api".into(),
                port: 80,
                path: "/ready".into()
            }
        );
        assert_eq!(Target::parse("http://h").expect("url").path, "/health");
        assert!(Target::parse("https://h/").is_err());
        assert!(Target::parse("http://h:x/").is_err());
    }
}
