//! `opsbox-api healthcheck` and `opsbox-worker healthcheck` as a container
//! HEALTHCHECK runs them: no database or Redis settings, exit 0 on a 200
//! from /health, 1 otherwise, within the 2 s timeout.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

/// A server answering every request with `status` until the test ends.
fn serve(status: &'static str) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    std::thread::spawn(move || {
        for mut conn in listener.incoming().flatten() {
            let mut buf = [0_u8; 1024];
            let _ = conn.read(&mut buf);
            let _ = write!(conn, "HTTP/1.1 {status}\r\ncontent-length: 0\r\n\r\n");
        }
    });
    addr
}

fn healthcheck(binary: &str, args: &[String]) -> Output {
    Command::new(binary)
        .arg("healthcheck")
        .args(args)
        .env_remove("DATABASE_URL")
        .env_remove("REDIS_URL")
        .output()
        .expect("run healthcheck")
}

fn binaries() -> [(&'static str, &'static str); 2] {
    [
        (env!("CARGO_BIN_EXE_opsbox-api"), "--addr"),
        // The worker binary is built next to this one by `cargo build --workspace --bins`.
        (
            concat!(env!("CARGO_BIN_EXE_opsbox-api"), "/../opsbox-worker"),
            "--metrics-addr",
        ),
    ]
}

#[test]
fn healthy_exits_0_and_unhealthy_1_without_database_settings() {
    let healthy = serve("200 OK");
    let failing = serve("503 Service Unavailable");
    let closed = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port");
    for (binary, flag) in binaries() {
        let binary = std::path::Path::new(binary);
        if !binary.exists() {
            eprintln!("SKIP {}: not built", binary.display());
            continue;
        }
        let binary = binary.to_str().expect("utf-8 path");
        let out = healthcheck(binary, &[flag.into(), healthy.to_string()]);
        assert_eq!(out.status.code(), Some(0), "{binary}: {out:?}");
        for addr in [failing, closed] {
            let started = Instant::now();
            let out = healthcheck(binary, &[flag.into(), addr.to_string()]);
            assert_eq!(out.status.code(), Some(1), "{binary} {addr}: {out:?}");
            assert!(started.elapsed() < Duration::from_secs(3), "{binary}: slow");
            assert!(String::from_utf8_lossy(&out.stderr).contains("unhealthy"));
        }
    }
}

#[test]
fn a_url_probes_another_endpoint() {
    let healthy = serve("200 OK");
    let out = healthcheck(
        env!("CARGO_BIN_EXE_opsbox-api"),
        &["--url".into(), format!("http://{healthy}/ready")],
    );
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let out = healthcheck(
        env!("CARGO_BIN_EXE_opsbox-api"),
        &["--url".into(), "https://x/".into()],
    );
    assert_eq!(out.status.code(), Some(1), "{out:?}");
}
