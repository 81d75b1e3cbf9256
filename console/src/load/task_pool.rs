//! The tasks this run created, remembered (boundedly) so `run` and `read` have targets.

use std::collections::VecDeque;

/// How many task ids each list keeps; older ones are forgotten. A run at the
/// highest rate creates thousands a second, and no target needs to be older.
pub(super) const REMEMBERED_TASKS: usize = 1024;

#[derive(Debug, Default)]
pub(super) struct TaskPool {
    /// Created and not yet asked to run, oldest first.
    not_run: VecDeque<String>,
    /// Created recently, whatever their state.
    recent: VecDeque<String>,
}

impl TaskPool {
    pub(super) fn created(&mut self, id: String) {
        push_bounded(&mut self.not_run, id.clone());
        push_bounded(&mut self.recent, id);
    }

    /// A task to run, each at most once (a second run of an active task is a 409).
    pub(super) fn take_to_run(&mut self) -> Option<String> {
        self.not_run.pop_front()
    }

    /// A recently created task to read, picked at random among the remembered ones.
    pub(super) fn pick_to_read(&self) -> Option<String> {
        if self.recent.is_empty() {
            return None;
        }
        let index = rand::random_range(0..self.recent.len());
        self.recent.get(index).cloned()
    }
}

fn push_bounded(ids: &mut VecDeque<String>, id: String) {
    if ids.len() == REMEMBERED_TASKS {
        ids.pop_front();
    }
    ids.push_back(id);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tasks_are_run_once_in_order_and_read_among_the_recent() {
        let mut pool = TaskPool::default();
        assert_eq!(pool.take_to_run(), None);
        assert_eq!(pool.pick_to_read(), None);
        pool.created("a".to_owned());
        pool.created("b".to_owned());
        assert_eq!(pool.take_to_run().as_deref(), Some("a"));
        assert_eq!(pool.take_to_run().as_deref(), Some("b"));
        assert_eq!(pool.take_to_run(), None);
        let read = pool.pick_to_read().expect("a task to read");
        assert!(read == "a" || read == "b");
    }

    #[test]
    fn the_pool_forgets_the_oldest_beyond_its_bound() {
        let mut pool = TaskPool::default();
        for i in 0..REMEMBERED_TASKS + 10 {
            pool.created(i.to_string());
        }
        assert_eq!(pool.not_run.len(), REMEMBERED_TASKS);
        assert_eq!(pool.recent.len(), REMEMBERED_TASKS);
        assert_eq!(pool.take_to_run().as_deref(), Some("10"));
    }
}
