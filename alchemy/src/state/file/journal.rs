//! The journal's line format.
//!
//! Every checkpoint is one line of JSON, written with one `write`:
//!
//! ```text
//! {"base":7,"entry":{"op":"remove","id":"photos"},"crc":2160120011}
//! ```
//!
//! `base` is the serial of the snapshot the entry applies on, and `crc` is the CRC-32 of `base`
//! (eight little-endian bytes) followed by the exact bytes of `entry`. Compact JSON escapes every
//! newline inside strings, so the only newline of a line is the one that ends it.

use serde::Deserialize;
use serde_json::value::RawValue;

use crate::state::JournalEntry;

/// One intact line of a journal.
#[derive(Debug)]
pub(super) struct Record<'a> {
    /// Its line number, from 1.
    pub line: usize,
    /// The serial of the snapshot it applies on.
    pub base: u64,
    /// The entry's JSON, as written.
    pub entry: &'a str,
}

/// A journal as read back.
#[derive(Debug)]
pub(super) struct Parsed<'a> {
    /// Its intact lines, in order.
    pub records: Vec<Record<'a>>,
    /// How many bytes from the start are intact lines; anything after is a damaged last line.
    pub intact_len: usize,
}

/// The on-disk shape of a line.
#[derive(Deserialize)]
struct Line<'a> {
    base: u64,
    #[serde(borrow)]
    entry: &'a RawValue,
    crc: u32,
}

fn checksum(base: u64, entry: &[u8]) -> u32 {
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(&base.to_le_bytes());
    hasher.update(entry);
    hasher.finalize()
}

/// Appends the line for `entry`, applying on snapshot serial `base`, to `buf`.
pub(super) fn encode(buf: &mut Vec<u8>, base: u64, entry: &JournalEntry) -> serde_json::Result<()> {
    buf.extend_from_slice(br#"{"base":"#);
    serde_json::to_writer(&mut *buf, &base)?;
    buf.extend_from_slice(br#","entry":"#);
    let start = buf.len();
    serde_json::to_writer(&mut *buf, entry)?;
    let crc = checksum(base, &buf[start..]);
    buf.extend_from_slice(br#","crc":"#);
    serde_json::to_writer(&mut *buf, &crc)?;
    buf.extend_from_slice(b"}\n");
    Ok(())
}

/// Splits a journal into its intact lines.
///
/// A process killed in the middle of an append leaves a damaged last line: cut short (no
/// newline) or failing its checksum. That line is left out. A damaged line with another line
/// after it cannot come from a kill, so it is corruption, described in the `Err`.
pub(super) fn parse(bytes: &[u8]) -> Result<Parsed<'_>, String> {
    let mut records = Vec::new();
    let mut pos = 0;
    while pos < bytes.len() {
        let number = records.len() + 1;
        let Some(len) = bytes[pos..].iter().position(|&b| b == b'\n') else {
            break; // cut short
        };
        let next = pos + len + 1;
        match decode(&bytes[pos..pos + len]) {
            Ok((base, entry)) => records.push(Record {
                line: number,
                base,
                entry,
            }),
            Err(why) if next < bytes.len() => {
                return Err(format!(
                    "line {number} {why}, and more entries follow it, so it was not cut short by an interrupted write"
                ));
            }
            Err(_) => break,
        }
        pos = next;
    }
    Ok(Parsed {
        records,
        intact_len: pos,
    })
}

fn decode(line: &[u8]) -> Result<(u64, &str), String> {
    let line: Line<'_> = serde_json::from_slice(line)
        .map_err(|e| format!("is not a journal entry (column {}: {e})", e.column()))?;
    let entry = line.entry.get();
    if checksum(line.base, entry.as_bytes()) != line.crc {
        return Err("fails its checksum".to_string());
    }
    Ok((line.base, entry))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(base: u64, id: &str) -> Vec<u8> {
        let mut buf = Vec::new();
        encode(&mut buf, base, &JournalEntry::Remove { id: id.into() }).unwrap();
        buf
    }

    #[test]
    fn encodes_one_json_line_per_entry() {
        let bytes = line(3, "a\nb");
        assert_eq!(bytes.iter().filter(|&&b| b == b'\n').count(), 1);
        assert_eq!(bytes.last(), Some(&b'\n'));
        let value: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(value["base"], 3);
        assert_eq!(value["entry"]["id"], "a\nb");
    }

    #[test]
    fn parses_what_it_encodes() {
        let mut bytes = line(1, "a");
        bytes.extend(line(2, "b"));
        let parsed = parse(&bytes).unwrap();
        assert_eq!(parsed.intact_len, bytes.len());
        let bases: Vec<_> = parsed.records.iter().map(|r| (r.line, r.base)).collect();
        assert_eq!(bases, [(1, 1), (2, 2)]);
        assert_eq!(parsed.records[1].entry, r#"{"op":"remove","id":"b"}"#);
    }

    #[test]
    fn drops_a_damaged_last_line_only() {
        let good = line(1, "a");
        let mut bytes = good.clone();
        bytes.extend(&line(1, "b")[..10]);
        let parsed = parse(&bytes).unwrap();
        assert_eq!((parsed.records.len(), parsed.intact_len), (1, good.len()));

        let mut flipped = line(1, "b");
        flipped[30] ^= 1;
        let mut bytes = good.clone();
        bytes.extend(&flipped);
        let parsed = parse(&bytes).unwrap();
        assert_eq!((parsed.records.len(), parsed.intact_len), (1, good.len()));

        bytes.extend(&good);
        let err = parse(&bytes).unwrap_err();
        assert!(err.starts_with("line 2 "), "{err}");
    }
}
