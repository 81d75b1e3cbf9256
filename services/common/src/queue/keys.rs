//! The Redis key names of the queue, all under one prefix.

/// Where the queue's keys live.
#[derive(Debug, Clone)]
pub struct QueueKeys {
    prefix: String,
}

impl QueueKeys {
    pub fn new(prefix: impl Into<String>) -> Self {
        Self {
            prefix: prefix.into(),
        }
    }
    pub fn prefix(&self) -> &str {
        &self.prefix
    }
    pub fn ready(&self) -> String {
        format!("{}:queue:ready", self.prefix)
    }
    pub fn delayed(&self) -> String {
        format!("{}:queue:delayed", self.prefix)
    }
    pub fn dead(&self) -> String {
        format!("{}:queue:dead", self.prefix)
    }
    pub fn processing(&self, worker: &str) -> String {
        format!("{}:queue:processing:{worker}", self.prefix)
    }
    pub fn workers(&self) -> String {
        format!("{}:workers", self.prefix)
    }
    pub fn live(&self) -> String {
        format!("{}:jobs:live", self.prefix)
    }
    pub fn lock(&self, name: &str) -> String {
        format!("{}:lock:{name}", self.prefix)
    }
}
