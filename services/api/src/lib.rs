//! The OpsBox task API: create, list, run and delete tasks; probes, metrics,
//! an OpenAPI document, feature flags and fault injection for drills.

pub mod config;
pub mod context;
pub mod error;
pub mod extract;
pub mod faults;
pub mod flags;
pub mod healthcheck;
pub mod metrics;
pub mod observe;
pub mod openapi;
pub mod routes;
pub mod startup;
pub mod tasks;
