//! One GiB through `from_async_read` → `copy_to`, with the bytes in flight counted by the
//! suite and the heap measured by a counting allocator. Alone in its binary, so no other test
//! allocates while it measures.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use alchemy_stream::conformance;
use alchemy_stream::ByteStream;
use futures::executor::block_on;

/// Tracks the bytes allocated now and the most allocated at once since the last reset.
struct CountingAllocator {
    current: AtomicUsize,
    peak: AtomicUsize,
}

impl CountingAllocator {
    fn add(&self, size: usize) {
        let now = self.current.fetch_add(size, Ordering::SeqCst) + size;
        self.peak.fetch_max(now, Ordering::SeqCst);
    }

    fn remove(&self, size: usize) {
        self.current.fetch_sub(size, Ordering::SeqCst);
    }

    /// Starts a measurement; the baseline is what is allocated already.
    fn reset_peak(&self) -> usize {
        let now = self.current.load(Ordering::SeqCst);
        self.peak.store(now, Ordering::SeqCst);
        now
    }
}

// SAFETY: every call is forwarded to the system allocator unchanged; the counters only
// observe sizes.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's contract for `alloc` is passed on as is.
        let pointer = unsafe { System.alloc(layout) };
        if !pointer.is_null() {
            self.add(layout.size());
        }
        pointer
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's contract for `alloc_zeroed` is passed on as is.
        let pointer = unsafe { System.alloc_zeroed(layout) };
        if !pointer.is_null() {
            self.add(layout.size());
        }
        pointer
    }

    unsafe fn dealloc(&self, pointer: *mut u8, layout: Layout) {
        // SAFETY: the caller's contract for `dealloc` is passed on as is.
        unsafe { System.dealloc(pointer, layout) };
        self.remove(layout.size());
    }

    unsafe fn realloc(&self, pointer: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: the caller's contract for `realloc` is passed on as is.
        let moved = unsafe { System.realloc(pointer, layout, new_size) };
        if !moved.is_null() {
            self.remove(layout.size());
            self.add(new_size);
        }
        moved
    }
}

#[global_allocator]
static HEAP: CountingAllocator = CountingAllocator {
    current: AtomicUsize::new(0),
    peak: AtomicUsize::new(0),
};

const GIB: u64 = 1 << 30;
const CHUNK: usize = 64 * 1024;

#[test]
fn one_gib_from_async_read_to_copy_to_holds_one_chunk() {
    let baseline = HEAP.reset_peak();
    block_on(conformance::copy_bounded_memory(
        GIB,
        CHUNK as u64,
        async |reader, writer| {
            ByteStream::from_async_read(reader, CHUNK)
                .copy_to(writer)
                .await
        },
    ));
    let peak = HEAP.peak.load(Ordering::SeqCst) - baseline;
    // One read buffer, the pattern tables of the reader and writer (128 KiB each) and small
    // bookkeeping: far below a MiB, against a GiB moved.
    assert!(
        peak < 1 << 20,
        "moving 1 GiB allocated up to {peak} bytes at once"
    );
}
