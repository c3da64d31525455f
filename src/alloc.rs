//! Giving back to the system the memory that parked sockets free (see [`crate::park`]).
//!
//! A parked socket frees its task and its reactor registration, small blocks scattered among
//! live ones. Neither allocator returns such memory on its own while a server is idle:
//! mimalloc purges emptied pages only after a delay, on a thread's later allocations (which an
//! idle thread never makes), and glibc's malloc trims only the top of its heaps. So after a
//! batch of parks the connector asks the allocator once ([`purge`]), never on a busy path.

/// [`purge`] reaches only the calling thread's memory (mimalloc keeps emptied pages per
/// thread), so it must run on every thread that freed some; glibc's reaches every arena.
pub(crate) const PURGE_IS_PER_THREAD: bool = cfg!(feature = "mimalloc-purge");

/// Returns the free memory of the allocator the library knows to the system: mimalloc's
/// (feature `mimalloc-purge`: this thread's emptied pages, then every arena's free pages at
/// once), else, on Linux with glibc, the free whole pages of glibc's malloc arenas.
pub(crate) fn purge() {
    #[cfg(feature = "mimalloc-purge")]
    // SAFETY: takes no pointer; mimalloc may be called from any thread.
    unsafe {
        libmimalloc_sys::mi_collect(true)
    };
    #[cfg(all(
        not(feature = "mimalloc-purge"),
        target_os = "linux",
        target_env = "gnu"
    ))]
    // SAFETY: takes no pointer; glibc's malloc_trim locks each arena it trims.
    unsafe {
        libc::malloc_trim(0)
    };
}
