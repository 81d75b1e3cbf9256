//! Integration tests: the real `opsbox-worker` binary against real Postgres
//! and Redis processes.

mod cleanup;
mod delivery;
mod helpers;
mod kinds;
mod probes;
mod recovery;
mod retries;
mod shutdown;
mod trace;
mod trace_export;
