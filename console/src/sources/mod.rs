//! Where the console's SLO numbers come from: its own scrapes of every instance's
//! `/metrics` (the embedded engine), Prometheus' HTTP API, or a daemon that has both.

pub mod capped;
pub mod control;
pub mod embedded;
pub mod prometheus;
pub mod scrape;
