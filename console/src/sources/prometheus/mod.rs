//! Prometheus as an SLO source: its HTTP query API, and the SLO numbers read from the
//! recording rules that `opsbox slo rules` generates.

mod client;
mod service_proxy;
mod slo;

pub use client::{PrometheusClient, PrometheusError, Sample};
pub use service_proxy::ServiceRef;
pub use slo::{
    alerts_query, period_query, read_slos, window_query, PrometheusSloError, PrometheusSlos,
    COVERAGE_QUERY, RULES_LOADED_QUERY,
};

#[cfg(test)]
mod promql_semantics;
#[cfg(test)]
mod proxy_tests;
#[cfg(test)]
mod tests;
