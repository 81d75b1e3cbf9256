//! The daemon as an SLO source: `GET /slo` on the local environment's control endpoint.

use super::ControlClient;
use crate::model::slo::{SloQuery, SloReport};

impl ControlClient {
    /// The SLO report the daemon computes (embedded) or reads (Prometheus).
    pub async fn slo(&self, query: SloQuery) -> anyhow::Result<SloReport> {
        self.get(&format!("/slo?{}", query.query_string())).await
    }
}
