//! The OpsBox job worker: takes task runs off the Redis queue, executes
//! them, records each outcome in Postgres, and keeps the queue honest
//! (retries, dead workers, lost jobs, old tasks).

pub mod backoff;
pub mod config;
pub mod consumer;
pub mod context;
pub mod executor;
pub mod http;
pub mod maintenance;
pub mod metrics;
pub mod runner;
pub mod startup;
pub mod store;
