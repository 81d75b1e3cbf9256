//! Where the operator's own records live, whichever environment is operated: the audit
//! log and the drill reports stay on the operator's machine.

use std::path::{Path, PathBuf};

use crate::audit::AuditLog;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Records {
    root: PathBuf,
    audit_log: PathBuf,
    drill_reports: PathBuf,
}

impl Records {
    pub fn new(root: PathBuf, audit_log: PathBuf, drill_reports: PathBuf) -> Self {
        Self {
            root,
            audit_log,
            drill_reports,
        }
    }

    /// The directory that holds them.
    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn audit_log(&self) -> AuditLog {
        AuditLog::new(self.audit_log.clone())
    }

    pub fn audit_log_path(&self) -> &Path {
        &self.audit_log
    }

    pub fn drill_reports(&self) -> &Path {
        &self.drill_reports
    }
}
