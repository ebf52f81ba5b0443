//! The static build's global allocator: dlmalloc behind a spin lock.
//!
//! `dlmalloc::GlobalDlmalloc` takes a pthread mutex around every call; musl's
//! lock and unlock are some forty instructions each, and a cold start makes a few
//! thousand allocations (`docs/benchmarks.md`, "Cold start"). phantom is
//! single-threaded but for short-lived helper threads, so the lock is nearly never
//! contended: an atomic swap to take it, a store to give it back.
//!
//! Like the mutex it replaces, the lock has no `fork` handler: a process forks only
//! while no other thread of it allocates (the runtime forks before it starts any).

use std::alloc::{GlobalAlloc, Layout};
use std::cell::UnsafeCell;
use std::sync::atomic::{AtomicBool, Ordering};

/// dlmalloc and the flag that guards it.
pub struct SpinDlmalloc {
    locked: AtomicBool,
    heap: UnsafeCell<dlmalloc::Dlmalloc>,
}

impl std::fmt::Debug for SpinDlmalloc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SpinDlmalloc")
    }
}

// SAFETY: `heap` is only reached through `with_heap`, which holds `locked`.
#[allow(unsafe_code, reason = "the heap is reached only under the lock")]
unsafe impl Sync for SpinDlmalloc {}

impl SpinDlmalloc {
    pub const fn new() -> SpinDlmalloc {
        SpinDlmalloc {
            locked: AtomicBool::new(false),
            heap: UnsafeCell::new(dlmalloc::Dlmalloc::new()),
        }
    }

    fn with_heap<T>(&self, f: impl FnOnce(&mut dlmalloc::Dlmalloc) -> T) -> T {
        let mut spins = 0u32;
        while self
            .locked
            .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            // Held by another thread (rare): spin a little, then let it run.
            spins += 1;
            if spins < 64 {
                std::hint::spin_loop();
            } else {
                std::thread::yield_now();
            }
        }
        // dlmalloc asserts its heap's consistency: should it panic (a corrupted heap, a
        // wrong layout), the process ends here rather than spinning for ever on a lock
        // no one will give back (the panic itself allocates) or going on with the heap
        // half changed.
        let abort_on_unwind = AbortOnUnwind;
        // SAFETY: `locked` is held, so no other reference to the heap exists.
        #[allow(unsafe_code, reason = "exclusive access under the lock")]
        let out = f(unsafe { &mut *self.heap.get() });
        std::mem::forget(abort_on_unwind);
        self.locked.store(false, Ordering::Release);
        out
    }
}

/// Dropped only while unwinding out of the heap's lock: ends the process.
struct AbortOnUnwind;

impl Drop for AbortOnUnwind {
    fn drop(&mut self) {
        std::process::abort();
    }
}

impl Default for SpinDlmalloc {
    fn default() -> Self {
        SpinDlmalloc::new()
    }
}

// SAFETY: each call is forwarded to dlmalloc, with its layout, under the lock;
// dlmalloc honours size and alignment as `GlobalAlloc` requires.
#[allow(unsafe_code, reason = "a global allocator is unsafe by definition")]
unsafe impl GlobalAlloc for SpinDlmalloc {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as the trait's caller promises: a non-zero size.
        self.with_heap(|heap| unsafe { heap.malloc(layout.size(), layout.align()) })
    }

    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from this allocator with `layout`, as the caller promises.
        self.with_heap(|heap| unsafe { heap.free(ptr, layout.size(), layout.align()) })
    }

    #[inline]
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as for `alloc`.
        self.with_heap(|heap| unsafe { heap.calloc(layout.size(), layout.align()) })
    }

    #[inline]
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: `ptr` came from this allocator with `layout`; `new_size` is non-zero.
        self.with_heap(|heap| unsafe { heap.realloc(ptr, layout.size(), layout.align(), new_size) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    static HEAP: SpinDlmalloc = SpinDlmalloc::new();

    #[test]
    #[allow(unsafe_code, reason = "calls the allocator directly")]
    fn allocations_from_threads_do_not_overlap() {
        let workers: Vec<_> = (0..4u8)
            .map(|t| {
                std::thread::spawn(move || {
                    let layout = Layout::from_size_align(64, 16).unwrap();
                    for _ in 0..2000 {
                        // SAFETY: a non-zero layout; freed with the same one.
                        unsafe {
                            let p = HEAP.alloc(layout);
                            assert!(!p.is_null());
                            assert_eq!(p as usize % 16, 0);
                            std::ptr::write_bytes(p, t, 64);
                            std::thread::yield_now();
                            assert!(std::slice::from_raw_parts(p, 64).iter().all(|b| *b == t));
                            HEAP.dealloc(p, layout);
                        }
                    }
                })
            })
            .collect();
        for w in workers {
            w.join().unwrap();
        }
    }
}
