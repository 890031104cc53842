//! The conformance suite: one set of tests that every [`BucketStore`](super::BucketStore)
//! implementation passes.
//!
//! Each test is a public `async fn` taking a [`BucketClient`]; it panics, naming the provider
//! and what was expected, when the store misbehaves. [`run_all`] runs every test that the
//! store's [`Capabilities`] allow and reports which ran and which were skipped for a missing
//! capability.
//!
//! The tests assume nothing about the provider beyond the neutral contract: every test writes
//! under its own random prefix (`conformance-<random>/<test>/`), so they can share a bucket
//! with other data and with concurrent runs, and each deletes what it wrote when it passes.
//! They need the bucket to be strongly consistent (read-after-write and list-after-write),
//! as S3, R2 and the local store are.
//!
//! ```
//! # #[cfg(feature = "deploy")]
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use alchemy::bucket::{conformance, BucketClient};
//! use alchemy::local::bucket::LocalBucket;
//!
//! # let dir = tempfile::tempdir()?;
//! let client = BucketClient::new(LocalBucket::open(dir.path()).await?);
//! let report = conformance::run_all(&client).await;
//! assert!(report.skipped.is_empty(), "{report}");
//! # Ok(())
//! # }
//! # #[cfg(not(feature = "deploy"))]
//! # fn main() {}
//! ```

mod conditional;
mod copying;
mod listing;
mod multipart;
mod objects;
mod ranges;

use std::fmt;

use alchemy_stream::{ByteStream, Bytes};
use futures::TryStreamExt;

pub use conditional::{
    concurrent_put_if_absent, conditional_get, conditional_put_create, conditional_put_update,
};
pub use copying::{copy_conditional, copy_object};
pub use listing::{list_basics, list_delimiter, list_pagination, list_start_after};
pub use multipart::{
    multipart_abort, multipart_conditional, multipart_invalid_parts, multipart_three_parts,
    upload_helper,
};
pub use objects::{
    content_type_and_metadata, delete_object, empty_object, failed_body_keeps_old_object,
    head_and_exists, invalid_keys, invalid_metadata, missing_object, overwrite, put_get_roundtrip,
    streamed_put, unusual_keys,
};
pub use ranges::range_reads;

use super::{BucketClient, Capabilities};

/// Which tests [`run_all`] ran, and which it skipped.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    /// The provider tested.
    pub provider: &'static str,
    /// The tests that ran and passed, in the order they ran.
    pub ran: Vec<&'static str>,
    /// The tests skipped, each with the capability the store lacks.
    pub skipped: Vec<Skipped>,
}

/// A test that [`run_all`] skipped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    /// The test's name.
    pub test: &'static str,
    /// The [`Capabilities`] field the store does not set.
    pub missing: &'static str,
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {} tests ran", self.provider, self.ran.len())?;
        if !self.skipped.is_empty() {
            let skipped: Vec<String> = self
                .skipped
                .iter()
                .map(|s| format!("{} (no {})", s.test, s.missing))
                .collect();
            write!(f, "; skipped: {}", skipped.join(", "))?;
        }
        Ok(())
    }
}

/// Runs every test that `client`'s capabilities allow, one after the other, and reports which
/// ran. Panics at the first test that fails.
pub async fn run_all(client: &BucketClient) -> Report {
    let capabilities = client.capabilities();
    let mut report = Report {
        provider: client.provider(),
        ..Report::default()
    };

    /// Runs `test` when every named capability flag is set, else records it as skipped.
    macro_rules! run {
        ($test:ident $(if $($flag:ident)&&+)?) => {{
            let missing: Option<&'static str> = None;
            $($(let missing = missing.or((!capabilities.$flag).then_some(stringify!($flag)));)+)?
            match missing {
                None => {
                    $test(client).await;
                    report.ran.push(stringify!($test));
                }
                Some(missing) => report.skipped.push(Skipped {
                    test: stringify!($test),
                    missing,
                }),
            }
        }};
    }

    run!(put_get_roundtrip);
    run!(streamed_put);
    run!(empty_object);
    run!(overwrite);
    run!(head_and_exists);
    run!(missing_object);
    run!(delete_object);
    run!(content_type_and_metadata if content_type && user_metadata);
    run!(failed_body_keeps_old_object);
    run!(invalid_keys);
    run!(invalid_metadata);
    run!(unusual_keys);
    run!(range_reads if range);
    run!(conditional_get if get_conditional);
    run!(conditional_put_create if put_create);
    run!(conditional_put_update if put_update);
    run!(concurrent_put_if_absent if put_create);
    run!(list_basics);
    run!(list_pagination);
    run!(list_delimiter if list_delimiter);
    run!(list_start_after if list_start_after);
    run!(copy_object if copy);
    run!(copy_conditional if copy && copy_conditional);
    run!(multipart_three_parts if multipart);
    run!(multipart_abort if multipart);
    run!(multipart_invalid_parts if multipart);
    run!(multipart_conditional if multipart && multipart_conditional);
    run!(upload_helper);
    report
}

/// Asserts that a result is the error variant `pattern`, naming the provider otherwise.
macro_rules! assert_err {
    ($provider:expr, $result:expr, $pattern:pat $(if $guard:expr)?, $($what:tt)+) => {
        match $result {
            Err($pattern) $(if $guard)? => {}
            Err(other) => panic!(
                "{}: {}: expected {}, got the error {other:?} ({other})",
                $provider,
                format_args!($($what)+),
                stringify!($pattern),
            ),
            Ok(value) => panic!(
                "{}: {}: expected {}, got Ok({value:?})",
                $provider,
                format_args!($($what)+),
                stringify!($pattern),
            ),
        }
    };
}
pub(crate) use assert_err;

/// A test's private corner of the bucket: keys under a random prefix, deleted when done.
struct Scratch<'a> {
    client: &'a BucketClient,
    prefix: String,
}

impl<'a> Scratch<'a> {
    fn new(client: &'a BucketClient, test: &str) -> Self {
        let mut random = [0u8; 8];
        getrandom::getrandom(&mut random).expect("the conformance suite needs a random source");
        let random: String = random.iter().map(|b| format!("{b:02x}")).collect();
        Scratch {
            client,
            prefix: format!("conformance-{random}/{test}/"),
        }
    }

    /// The key `name` under this test's prefix.
    fn key(&self, name: &str) -> String {
        format!("{}{name}", self.prefix)
    }

    /// The provider, for failure messages.
    fn provider(&self) -> &'static str {
        self.client.provider()
    }

    /// Deletes everything under the prefix.
    async fn cleanup(self) {
        let keys: Vec<String> = self
            .client
            .list_all(self.prefix.clone())
            .map_ok(|meta| meta.key)
            .try_collect()
            .await
            .unwrap_or_else(|error| panic!("{}: listing for cleanup: {error}", self.provider()));
        for key in keys {
            self.client
                .delete(&key)
                .await
                .unwrap_or_else(|error| panic!("{}: deleting {key:?}: {error}", self.provider()));
        }
    }
}

/// `len` pseudo-random bytes (xorshift), different for every `seed`, so that misplaced,
/// repeated or missing bytes show.
fn pattern(len: usize, seed: u8) -> Bytes {
    let mut state = u32::from(seed).wrapping_mul(2_654_435_761) | 1;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            state.to_le_bytes()[0]
        })
        .collect::<Vec<u8>>()
        .into()
}

/// Reads a whole object, panicking with the provider's name when it cannot.
async fn read(client: &BucketClient, key: &str) -> Bytes {
    client
        .get_bytes(key, usize::MAX)
        .await
        .unwrap_or_else(|error| panic!("{}: reading {key:?}: {error}", client.provider()))
}

/// A body of `data` in chunks of `chunk` bytes, of unknown length.
fn chunked(data: &Bytes, chunk: usize) -> ByteStream {
    let chunks: Vec<Result<Bytes, alchemy_stream::StreamError>> = (0..data.len())
        .step_by(chunk.max(1))
        .map(|start| Ok(data.slice(start..(start + chunk).min(data.len()))))
        .collect();
    ByteStream::from_stream(futures::stream::iter(chunks))
}

/// The part size the multipart tests use: the provider's minimum, or 64 KiB without one.
fn test_part_size(capabilities: &Capabilities) -> usize {
    usize::try_from(capabilities.min_part_size.max(64 * 1024)).unwrap_or(usize::MAX)
}
