//! Gives the memory freed after large lists back to the system.
//!
//! The first list of thousands of pods passes through tens of megabytes of JSON pages
//! and decoded objects, freed once the stores hold their trimmed copies. glibc keeps
//! freed memory in the arena of the thread that freed it, so how much stayed resident
//! depended on which worker thread decoded which page: 118 to 158 MiB from run to run
//! at 5,000 pods. `malloc_trim` hands the free pages of every arena back.

use std::time::Duration;

/// At most this often while the watches run: a re-list (a watch that expired) frees as
/// much as the first list did.
pub const TRIM_EVERY: Duration = Duration::from_secs(60);

/// Returns the allocator's free pages to the system, off the async workers (it walks
/// every arena).
pub async fn return_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    let _ = tokio::task::spawn_blocking(|| {
        // SAFETY: malloc_trim only walks glibc's own free lists and releases whole free
        // pages; with 0 it keeps no padding at the top of the heap.
        unsafe { libc::malloc_trim(0) };
    })
    .await;
}
