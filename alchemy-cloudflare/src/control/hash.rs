//! Content hashes, as lower-case hex.

use blake2::{Blake2s256, Digest};

/// The BLAKE2s-256 digest of `bytes`, in hex.
pub(crate) fn hex_digest(bytes: &[u8]) -> String {
    hex(&Blake2s256::digest(bytes))
}

/// A running digest over several named pieces; names are part of it, so moving bytes from one
/// piece to the next changes it.
#[derive(Default)]
pub(crate) struct Hasher(Blake2s256);

impl Hasher {
    pub(crate) fn piece(&mut self, name: &str, bytes: &[u8]) {
        for field in [name.as_bytes(), bytes] {
            self.0.update((field.len() as u64).to_le_bytes());
            self.0.update(field);
        }
    }

    pub(crate) fn finish(self) -> String {
        hex(&self.0.finalize())
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
