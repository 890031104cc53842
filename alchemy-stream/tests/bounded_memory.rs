//! One GiB through `from_async_read` → `copy_to`, with the bytes in flight counted by the
//! suite and the heap measured by a counting allocator. Alone in its binary, so no other test
//! allocates while it measures.

use alchemy_stream::conformance::CountingAllocator;

use alchemy_stream::conformance;
use alchemy_stream::ByteStream;
use futures::executor::block_on;

#[global_allocator]
static HEAP: CountingAllocator = CountingAllocator::new();

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
    let peak = HEAP.peak_above(baseline);
    // One read buffer, the pattern tables of the reader and writer (128 KiB each) and small
    // bookkeeping: far below a MiB, against a GiB moved.
    assert!(
        peak < 1 << 20,
        "moving 1 GiB allocated up to {peak} bytes at once"
    );
}
