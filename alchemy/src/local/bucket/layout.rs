//! Where each key lives on disk.
//!
//! Keys are split at `/` into segments. Every segment but the last names a directory, the
//! last names the object's file. Names are encoded so that any valid key maps to exactly one
//! path inside the root, on any common file system:
//!
//! - `a`–`z`, `0`–`9` and `-_.+,=@()` stand for themselves;
//! - an uppercase letter is `!` and the letter in lowercase (`Cat` is `!cat`), so that keys
//!   differing only in case stay apart on case-insensitive file systems;
//! - every other byte is `%` and two lowercase hex digits (a space is `%20`, `é` is `%c3%a9`),
//!   so names are plain ASCII, safe from Unicode normalisation;
//! - an empty segment is `%` alone, and the segments `.` and `..` are always escaped;
//! - a directory's name ends in `~`, which no encoded segment contains, so the object `a` and
//!   the directory of `a/b` can both exist;
//! - a name whose encoding is longer than [`MAX_PLAIN_NAME`] bytes is cut and followed by `#`
//!   and a digest of the whole segment; such a directory holds the whole segment in a file
//!   named [`SEGMENT_FILE`].
//!
//! Names starting with `~` are the store's own: `~alchemy` at the root holds the lock, temp
//! files and multipart uploads.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

/// The longest encoded name kept whole; longer ones are cut and given a digest.
pub(super) const MAX_PLAIN_NAME: usize = 200;

/// How much of a long encoded name is kept before its digest.
const LONG_NAME_STEM: usize = 120;

/// The file in a directory with a long name that holds its whole segment.
pub(super) const SEGMENT_FILE: &str = "~segment";

/// The suffix of every directory name.
const DIR_SUFFIX: char = '~';

/// Bytes that stand for themselves in a name.
fn is_plain(byte: u8) -> bool {
    byte.is_ascii_lowercase() || byte.is_ascii_digit() || b"-_.+,=@()".contains(&byte)
}

/// The name of `segment`, before any cut for length.
fn encode_plain(segment: &str) -> String {
    if segment.is_empty() {
        return "%".to_owned();
    }
    let dots = segment == "." || segment == "..";
    let mut name = String::with_capacity(segment.len());
    for &byte in segment.as_bytes() {
        if byte.is_ascii_uppercase() {
            name.push('!');
            name.push(byte.to_ascii_lowercase() as char);
        } else if is_plain(byte) && !dots {
            name.push(byte as char);
        } else {
            name.push_str(&format!("%{byte:02x}"));
        }
    }
    name
}

/// The encoded name of `segment`: plain when short enough, else a cut stem, `#` and a digest.
fn encode_name(segment: &str) -> String {
    let plain = encode_plain(segment);
    if plain.len() <= MAX_PLAIN_NAME {
        return plain;
    }
    // Cut at a boundary that does not split an escape (`%xx` or `!x`).
    let mut cut = 0;
    let bytes = plain.as_bytes();
    while cut < bytes.len() {
        let width = match bytes[cut] {
            b'%' => 3,
            b'!' => 2,
            _ => 1,
        };
        if cut + width > LONG_NAME_STEM {
            break;
        }
        cut += width;
    }
    format!("{}#{:x}", &plain[..cut], md5::compute(segment.as_bytes()))
}

/// The segment a plain name stands for, or `None` when the name is not one this store wrote.
fn decode_plain(name: &str) -> Option<String> {
    if name == "%" {
        return Some(String::new());
    }
    let bytes = name.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'!' => {
                let letter = *bytes.get(i + 1).filter(|b| b.is_ascii_lowercase())?;
                out.push(letter.to_ascii_uppercase());
                i += 2;
            }
            b'%' => {
                let hex = name.get(i + 1..i + 3)?;
                if hex.bytes().any(|b| b.is_ascii_uppercase()) {
                    return None;
                }
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
            }
            byte if is_plain(byte) => {
                out.push(byte);
                i += 1;
            }
            _ => return None,
        }
    }
    let segment = String::from_utf8(out).ok()?;
    // Only the one canonical spelling of each segment counts.
    (encode_plain(&segment) == name).then_some(segment)
}

/// One entry of a directory of the object tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Entry {
    /// The segment it stands for.
    pub(super) segment: String,
    /// Whether it is a directory (of keys `segment/…`) rather than an object.
    pub(super) is_dir: bool,
    /// Its path.
    pub(super) path: PathBuf,
}

impl Entry {
    /// What the entry sorts by among its siblings: its segment, with a `/` for a directory,
    /// so that walking entries in this order yields keys in byte order.
    pub(super) fn sort_key(&self) -> String {
        if self.is_dir {
            format!("{}/", self.segment)
        } else {
            self.segment.clone()
        }
    }
}

/// The entries of a directory of the object tree, in key order.
///
/// Skips the store's own files and anything it did not write. A long file name is resolved
/// with `full_segment_of_file`, which reads the object's stored key.
pub(super) fn read_entries(
    dir: &Path,
    full_segment_of_file: impl Fn(&Path) -> io::Result<Option<String>>,
) -> io::Result<Vec<Entry>> {
    let mut entries = Vec::new();
    let listing = match fs::read_dir(dir) {
        Ok(listing) => listing,
        // Removed since it was found (a concurrent delete emptied it), or never made.
        Err(error)
            if matches!(
                error.kind(),
                io::ErrorKind::NotFound | io::ErrorKind::NotADirectory
            ) =>
        {
            return Ok(entries)
        }
        Err(error) => return Err(error),
    };
    for entry in listing {
        let entry = entry?;
        let Ok(name) = entry.file_name().into_string() else {
            continue;
        };
        if name.starts_with('~') {
            continue;
        }
        let path = entry.path();
        let (stem, is_dir) = match name.strip_suffix(DIR_SUFFIX) {
            Some(stem) => (stem, true),
            None => (name.as_str(), false),
        };
        // A directory named like an object, or the reverse, was not made by this store.
        if entry.file_type()?.is_dir() != is_dir {
            continue;
        }
        let segment = if stem.contains('#') {
            let full = if is_dir {
                match fs::read_to_string(path.join(SEGMENT_FILE)) {
                    Ok(segment) => Some(segment),
                    Err(error) if error.kind() == io::ErrorKind::NotFound => None,
                    Err(error) => return Err(error),
                }
            } else {
                full_segment_of_file(&path)?
            };
            full.filter(|segment| encode_name(segment) == stem)
        } else {
            decode_plain(stem)
        };
        if let Some(segment) = segment {
            entries.push(Entry {
                segment,
                is_dir,
                path,
            });
        }
    }
    entries.sort_by_cached_key(Entry::sort_key);
    Ok(entries)
}

/// The path of the object `key` under `root`.
pub(super) fn object_path(root: &Path, key: &str) -> PathBuf {
    let mut segments: Vec<&str> = key.split('/').collect();
    let file = segments.pop().unwrap_or_default();
    let mut path = dir_path(root, &segments);
    path.push(encode_name(file));
    path
}

/// The directory that holds the keys starting with `segments`, each followed by `/`.
pub(super) fn dir_path(root: &Path, segments: &[&str]) -> PathBuf {
    let mut path = root.to_path_buf();
    for segment in segments {
        path.push(format!("{}{DIR_SUFFIX}", encode_name(segment)));
    }
    path
}

/// Creates the directories that the object `key` lives in, with the segment files of long
/// names. Callers hold the commit lock, so no delete removes them meanwhile.
pub(super) fn create_dirs(root: &Path, key: &str) -> io::Result<()> {
    let mut path = root.to_path_buf();
    let segments: Vec<&str> = key.split('/').collect();
    for segment in &segments[..segments.len() - 1] {
        let name = encode_name(segment);
        path.push(format!("{name}{DIR_SUFFIX}"));
        match fs::create_dir(&path) {
            Ok(()) => {
                if name.contains('#') {
                    fs::write(path.join(SEGMENT_FILE), segment)?;
                }
            }
            Err(error) if error.kind() == io::ErrorKind::AlreadyExists => {}
            Err(error) => return Err(error),
        }
    }
    Ok(())
}

/// Removes the directories of `key` that no longer hold anything, deepest first. Callers hold
/// the commit lock.
pub(super) fn remove_empty_dirs(root: &Path, key: &str) -> io::Result<()> {
    let segments: Vec<&str> = key.split('/').collect();
    for depth in (1..segments.len()).rev() {
        let dir = dir_path(root, &segments[..depth]);
        let mut only_own_files = true;
        match fs::read_dir(&dir) {
            Ok(listing) => {
                for entry in listing {
                    if entry?.file_name() != SEGMENT_FILE {
                        only_own_files = false;
                        break;
                    }
                }
            }
            Err(error) if error.kind() == io::ErrorKind::NotFound => continue,
            Err(error) => return Err(error),
        }
        if !only_own_files {
            break;
        }
        match fs::remove_file(dir.join(SEGMENT_FILE)) {
            Ok(()) => {}
            Err(error) if error.kind() == io::ErrorKind::NotFound => {}
            Err(error) => return Err(error),
        }
        fs::remove_dir(&dir)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_readable_for_ordinary_keys() {
        assert_eq!(encode_name("cat.jpg"), "cat.jpg");
        assert_eq!(encode_name("Cat.JPG"), "!cat.!j!p!g");
        assert_eq!(encode_name("with space"), "with%20space");
        assert_eq!(encode_name("é"), "%c3%a9");
        assert_eq!(encode_name(""), "%");
        assert_eq!(encode_name("."), "%2e");
        assert_eq!(encode_name(".."), "%2e%2e");
        assert_eq!(encode_name("..."), "...");
        assert_eq!(encode_name("~x~"), "%7ex%7e");
    }

    #[test]
    fn names_decode_to_their_segment() {
        let segments = [
            "cat.jpg",
            "Cat",
            "CASE",
            "",
            ".",
            "..",
            "...",
            "%",
            "%41",
            "!",
            "!a",
            "~",
            "a b",
            "日本語",
            "🦀",
            "tab\there",
            "#hash",
            "(1)+2=3,@",
        ];
        for segment in segments {
            let name = encode_plain(segment);
            assert_eq!(decode_plain(&name).as_deref(), Some(segment), "{name}");
            assert!(!name.contains('~') && !name.contains('#') && !name.contains('/'));
            assert!(name.bytes().all(|b| !b.is_ascii_uppercase()), "{name}");
        }
    }

    #[test]
    fn foreign_and_non_canonical_names_are_not_objects() {
        for name in [
            "Upper", "%41", "%4", "%zz", "!", "!A", "a b", "%C3%A9", "%ff", "x#y",
        ] {
            assert_eq!(decode_plain(name), None, "{name}");
        }
    }

    #[test]
    fn long_names_are_cut_and_distinct() {
        let long_a = "a".repeat(1000);
        let long_b = format!("{}b", "a".repeat(999));
        let (a, b) = (encode_name(&long_a), encode_name(&long_b));
        assert_ne!(a, b);
        assert!(a.len() < MAX_PLAIN_NAME && a.contains('#'), "{a}");
        let escapes = "é".repeat(300);
        let name = encode_name(&escapes);
        let stem = name.split('#').next().unwrap();
        assert_eq!(stem.len() % 3, 0, "an escape was split: {name}");
        assert_eq!(decode_plain(stem).map(|s| s.len()), Some(stem.len() / 3));
    }

    #[test]
    fn paths_stay_inside_the_root() {
        let root = Path::new("/bucket");
        assert_eq!(object_path(root, "a/b/c"), Path::new("/bucket/a~/b~/c"));
        assert_eq!(object_path(root, "folder/"), Path::new("/bucket/folder~/%"));
        assert_eq!(object_path(root, "a//b"), Path::new("/bucket/a~/%~/b"));
        for key in ["...", "a/.../b", "~alchemy", "-rf"] {
            let path = object_path(root, key);
            assert!(path.starts_with(root));
            assert!(path.components().all(|c| matches!(
                c,
                std::path::Component::RootDir | std::path::Component::Normal(_)
            )));
        }
    }

    #[test]
    fn entries_sort_in_key_order() {
        let dir = tempfile::tempdir().unwrap();
        for key in ["a", "a-c", "a/b", "ab", "a0", "B", "b"] {
            create_dirs(dir.path(), key).unwrap();
            fs::write(object_path(dir.path(), key), b"").unwrap();
        }
        let entries = read_entries(dir.path(), |_| Ok(None)).unwrap();
        let keys: Vec<String> = entries.iter().map(Entry::sort_key).collect();
        assert_eq!(keys, ["B", "a", "a-c", "a/", "a0", "ab", "b"]);
    }

    #[test]
    fn empty_dirs_are_removed_up_to_the_first_non_empty_one() {
        let dir = tempfile::tempdir().unwrap();
        let long = "x".repeat(300);
        let deep = format!("keep/{long}/c/d");
        for key in ["keep/other", deep.as_str()] {
            create_dirs(dir.path(), key).unwrap();
            fs::write(object_path(dir.path(), key), b"").unwrap();
        }
        let long_dir = dir_path(dir.path(), &["keep", &long]);
        assert_eq!(
            fs::read_to_string(long_dir.join(SEGMENT_FILE)).unwrap(),
            long
        );
        fs::remove_file(object_path(dir.path(), &deep)).unwrap();
        remove_empty_dirs(dir.path(), &deep).unwrap();
        assert!(!long_dir.exists());
        assert!(dir_path(dir.path(), &["keep"]).exists());
    }
}
