//! A global allocator that counts the bytes on the heap, for memory-bound tests and benchmarks.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

/// Forwards to the system allocator and tracks the bytes allocated now and the most allocated at
/// once since the last [`reset_peak`](Self::reset_peak).
///
/// Install it in a test or bench binary of its own:
///
/// ```
/// use alchemy_stream::conformance::CountingAllocator;
///
/// #[global_allocator]
/// static HEAP: CountingAllocator = CountingAllocator::new();
///
/// let baseline = HEAP.reset_peak();
/// let buffer = vec![0u8; 1 << 20];
/// assert!(HEAP.peak_above(baseline) >= buffer.len());
/// ```
#[derive(Debug)]
pub struct CountingAllocator {
    current: AtomicUsize,
    peak: AtomicUsize,
}

impl CountingAllocator {
    /// A counter at zero.
    pub const fn new() -> Self {
        CountingAllocator {
            current: AtomicUsize::new(0),
            peak: AtomicUsize::new(0),
        }
    }

    fn add(&self, size: usize) {
        let now = self.current.fetch_add(size, Ordering::SeqCst) + size;
        self.peak.fetch_max(now, Ordering::SeqCst);
    }

    fn remove(&self, size: usize) {
        self.current.fetch_sub(size, Ordering::SeqCst);
    }

    /// The bytes allocated now.
    pub fn current(&self) -> usize {
        self.current.load(Ordering::SeqCst)
    }

    /// The most bytes allocated at once since the last reset.
    pub fn peak(&self) -> usize {
        self.peak.load(Ordering::SeqCst)
    }

    /// Starts a measurement; returns the baseline: what is allocated already.
    pub fn reset_peak(&self) -> usize {
        let now = self.current();
        self.peak.store(now, Ordering::SeqCst);
        now
    }

    /// The most allocated at once since `reset_peak` returned `baseline`, above it.
    pub fn peak_above(&self, baseline: usize) -> usize {
        self.peak().saturating_sub(baseline)
    }
}

impl Default for CountingAllocator {
    fn default() -> Self {
        Self::new()
    }
}

// SAFETY: every call is forwarded to the system allocator unchanged; the counters only
// observe sizes.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's contract for `alloc` is passed on as is.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            self.add(layout.size());
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's contract for `alloc_zeroed` is passed on as is.
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            self.add(layout.size());
        }
        p
    }

    unsafe fn dealloc(&self, p: *mut u8, layout: Layout) {
        // SAFETY: the caller's contract for `dealloc` is passed on as is.
        unsafe { System.dealloc(p, layout) };
        self.remove(layout.size());
    }

    unsafe fn realloc(&self, p: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: the caller's contract for `realloc` is passed on as is.
        let moved = unsafe { System.realloc(p, layout, new_size) };
        if !moved.is_null() {
            self.remove(layout.size());
            self.add(new_size);
        }
        moved
    }
}
