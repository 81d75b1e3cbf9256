//! Where the operator can go: the views in Tab order, and what a view may ask the app
//! for besides an action (switch to another view, open a runbook).

/// The views, in the order Tab visits them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ViewId {
    Overview,
    Slo,
    Rollout,
    Queue,
    Instances,
    Logs,
    Drills,
    Audit,
}

impl ViewId {
    pub const ALL: [ViewId; 8] = [
        ViewId::Overview,
        ViewId::Slo,
        ViewId::Rollout,
        ViewId::Queue,
        ViewId::Instances,
        ViewId::Logs,
        ViewId::Drills,
        ViewId::Audit,
    ];

    /// The palette command that shows it.
    pub fn command(self) -> &'static str {
        match self {
            ViewId::Overview => "overview",
            ViewId::Slo => "slo",
            ViewId::Rollout => "rollout",
            ViewId::Queue => "queue",
            ViewId::Instances => "instances",
            ViewId::Logs => "logs",
            ViewId::Drills => "drills",
            ViewId::Audit => "audit",
        }
    }

    pub fn index(self) -> usize {
        ViewId::ALL
            .iter()
            .position(|view| *view == self)
            .unwrap_or(0)
    }

    pub fn next(self) -> Self {
        ViewId::ALL[(self.index() + 1) % ViewId::ALL.len()]
    }

    pub fn previous(self) -> Self {
        ViewId::ALL[(self.index() + ViewId::ALL.len() - 1) % ViewId::ALL.len()]
    }
}

/// What a view asks the app for that is not an operation on the environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UiRequest {
    Show(ViewId),
    /// The runbook of this SLO, in a pane over the view.
    OpenRunbook(String),
    /// Show and act on this Rollout of the several in the namespace.
    ChooseRollout(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tab_order_wraps_both_ways() {
        assert_eq!(ViewId::Audit.next(), ViewId::Overview);
        assert_eq!(ViewId::Overview.previous(), ViewId::Audit);
        assert_eq!(ViewId::Slo.next(), ViewId::Rollout);
        assert_eq!(ViewId::Logs.index(), 5);
    }
}
