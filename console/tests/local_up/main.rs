//! `opsbox up` / `status` / `down` end to end, with the real `opsbox-api` and `opsbox-worker`.
//!
//! Those binaries must sit next to `opsbox` in the target directory: run
//! `cargo build --workspace` first (`make test` does). DATABASE_URL / REDIS_URL are
//! honoured when set (each test then gets a database and queue prefix of its own);
//! otherwise the daemon starts private PostgreSQL and Redis in the test's state dir.

mod cli_errors;
mod console_tmux;
mod harness;
mod lifecycle;
mod rollback;
mod rollout;
mod smoke;
