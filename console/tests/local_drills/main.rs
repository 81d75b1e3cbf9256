//! Chaos primitives and drills end to end: the real `opsbox`, `opsbox-api` and
//! `opsbox-worker` against real PostgreSQL and Redis.
//!
//! Run `cargo build --workspace` first (`make test` does). Kills and faults run on
//! whatever dependencies the environment gives (DATABASE_URL / REDIS_URL when set);
//! outages and the drills need servers the daemon owns, so those tests start
//! `opsbox up` with DATABASE_URL / REDIS_URL removed (`LocalEnv::private`).

mod chaos_kill_fault;
mod chaos_outage;
mod drills;
// Shared with the local_up tests; not every helper is used here.
#[allow(dead_code)]
#[path = "../local_up/harness.rs"]
mod harness;
