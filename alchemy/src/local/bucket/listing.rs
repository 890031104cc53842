//! Listing: a walk of the object tree in key order, from a resume point, with pagination and
//! delimiters.

use std::io;
use std::path::{Path, PathBuf};

use crate::bucket::{ListOptions, ListPage, Result};

use super::layout::{self, Entry};
use super::object_file::{self, corrupt, io_error};

/// The most entries in one page, as on S3 and R2.
pub(super) const MAX_KEYS: u32 = 1000;

/// Where a listing resumes: after a key, or past every key with a prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Bound {
    /// Keys greater than this one.
    After(String),
    /// Keys greater than this prefix that do not start with it.
    PastPrefix(String),
}

impl Bound {
    /// Parses a continuation token made by [`Bound::token`].
    fn from_token(token: &str) -> Option<Bound> {
        if let Some(key) = token.strip_prefix("o:") {
            Some(Bound::After(key.to_owned()))
        } else {
            token
                .strip_prefix("p:")
                .map(|prefix| Bound::PastPrefix(prefix.to_owned()))
        }
    }

    /// The continuation token that resumes here.
    fn token(&self) -> String {
        match self {
            Bound::After(key) => format!("o:{key}"),
            Bound::PastPrefix(prefix) => format!("p:{prefix}"),
        }
    }

    /// Whether the key `key` comes after the bound.
    fn admits(&self, key: &str) -> bool {
        match self {
            Bound::After(after) => key > after.as_str(),
            Bound::PastPrefix(prefix) => key > prefix.as_str() && !key.starts_with(prefix.as_str()),
        }
    }

    /// Whether any key starting with `dir` (a directory's keys, ending in `/`) may come
    /// after the bound.
    fn may_admit_under(&self, dir: &str) -> bool {
        match self {
            Bound::After(after) => dir > after.as_str() || after.starts_with(dir),
            Bound::PastPrefix(prefix) => {
                prefix.starts_with(dir)
                    || (dir > prefix.as_str() && !dir.starts_with(prefix.as_str()))
            }
        }
    }
}

/// An object found by the walk.
struct Found {
    key: String,
    path: PathBuf,
}

/// One directory being walked.
struct Level {
    /// The keys of this directory start with this.
    key_prefix: String,
    entries: std::vec::IntoIter<Entry>,
}

/// A depth-first walk of the object tree that yields the keys with a prefix in ascending byte
/// order, lazily, past a bound that only grows.
struct KeyWalker {
    prefix: String,
    bound: Option<Bound>,
    stack: Vec<Level>,
}

impl KeyWalker {
    /// A walk of the keys under `root` that start with `prefix` and pass `bound`.
    fn new(root: &Path, prefix: &str, bound: Option<Bound>) -> io::Result<Self> {
        // Start in the deepest directory that holds every key with the prefix.
        let dir_prefix = &prefix[..prefix.rfind('/').map_or(0, |i| i + 1)];
        let segments: Vec<&str> = match dir_prefix.strip_suffix('/') {
            Some(dirs) => dirs.split('/').collect(),
            None => Vec::new(),
        };
        let dir = layout::dir_path(root, &segments);
        let mut walker = KeyWalker {
            prefix: prefix.to_owned(),
            bound,
            stack: Vec::new(),
        };
        walker.enter(&dir, dir_prefix.to_owned())?;
        Ok(walker)
    }

    fn enter(&mut self, dir: &Path, key_prefix: String) -> io::Result<()> {
        let entries = layout::read_entries(dir, |path| {
            Ok(object_file::read_meta(path)
                .ok()
                .flatten()
                .and_then(|trailer| trailer.key.rsplit('/').next().map(str::to_owned)))
        })?;
        self.stack.push(Level {
            key_prefix,
            entries: entries.into_iter(),
        });
        Ok(())
    }

    /// Skips every key that starts with `prefix` from here on.
    fn skip_past(&mut self, prefix: &str) {
        self.bound = Some(Bound::PastPrefix(prefix.to_owned()));
    }

    /// The next key, in order.
    fn next(&mut self) -> io::Result<Option<Found>> {
        loop {
            let Some(level) = self.stack.last_mut() else {
                return Ok(None);
            };
            let Some(entry) = level.entries.next() else {
                self.stack.pop();
                continue;
            };
            let key = format!("{}{}", level.key_prefix, entry.sort_key());
            if entry.is_dir {
                let wanted = key.starts_with(&self.prefix) || self.prefix.starts_with(&key);
                if wanted
                    && self
                        .bound
                        .as_ref()
                        .is_none_or(|bound| bound.may_admit_under(&key))
                {
                    self.enter(&entry.path, key)?;
                }
            } else if key.starts_with(&self.prefix)
                && self.bound.as_ref().is_none_or(|bound| bound.admits(&key))
            {
                return Ok(Some(Found {
                    key,
                    path: entry.path,
                }));
            }
        }
    }
}

/// One page of the listing of the bucket at `root`.
pub(super) fn list(root: &Path, options: &ListOptions) -> Result<ListPage> {
    let prefix = options.prefix.as_deref().unwrap_or("");
    let delimiter = options.delimiter.as_deref().filter(|d| !d.is_empty());
    let max_keys = options.max_keys.unwrap_or(MAX_KEYS).clamp(1, MAX_KEYS) as usize;
    let bound = match &options.continuation {
        Some(token) => Some(Bound::from_token(token).ok_or_else(|| {
            crate::bucket::BucketError::backend(
                "local",
                format!(
                    "`{token}` is not a continuation token of a local bucket: \
                     pass `next` of the previous page as it was"
                ),
            )
        })?),
        None => options.start_after.clone().map(Bound::After),
    };
    let mut walker =
        KeyWalker::new(root, prefix, bound).map_err(|error| io_error("list", root, error))?;
    let mut page = ListPage::default();
    let mut last: Option<Bound> = None;
    let mut entries = 0;
    while let Some(found) = walker
        .next()
        .map_err(|error| io_error("list", root, error))?
    {
        if entries == max_keys {
            page.next = last.as_ref().map(Bound::token);
            break;
        }
        entries += 1;
        let rest = &found.key[prefix.len()..];
        if let Some(end) = delimiter.and_then(|d| rest.find(d).map(|i| i + d.len())) {
            let common = found.key[..prefix.len() + end].to_owned();
            walker.skip_past(&common);
            last = Some(Bound::PastPrefix(common.clone()));
            page.common_prefixes.push(common);
            continue;
        }
        // Deleted since the walk saw it: leave it out.
        let Some(trailer) = object_file::read_meta(&found.path)? else {
            entries -= 1;
            continue;
        };
        if trailer.key != found.key {
            return Err(corrupt(
                &found.path,
                io::Error::new(io::ErrorKind::InvalidData, "it holds another key"),
            ));
        }
        page.objects.push(trailer.meta());
        last = Some(Bound::After(found.key));
    }
    Ok(page)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_admit_what_comes_after_them() {
        let after = Bound::After("a/b".into());
        assert!(after.admits("a/c") && !after.admits("a/b") && !after.admits("a/a"));
        assert!(after.may_admit_under("a/") && after.may_admit_under("b/"));
        assert!(!after.may_admit_under("a/a/"));
        let past = Bound::PastPrefix("a/b/".into());
        assert!(!past.admits("a/b/z") && past.admits("a/c") && !past.admits("a/a"));
        assert!(past.may_admit_under("a/") && !past.may_admit_under("a/b/c/"));
        assert!(!past.may_admit_under("a/a/") && past.may_admit_under("a/bz/"));
    }

    #[test]
    fn tokens_round_trip() {
        for bound in [Bound::After("o:p:x".into()), Bound::PastPrefix("x/".into())] {
            assert_eq!(Bound::from_token(&bound.token()), Some(bound));
        }
        assert_eq!(Bound::from_token("garbage"), None);
    }
}
