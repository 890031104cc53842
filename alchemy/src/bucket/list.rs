//! Listing: [`ListOptions`] and [`ListPage`].

use super::ObjectMeta;

/// What to list, and from where.
///
/// Keys are listed in ascending order of their UTF-8 bytes, on every provider.
///
/// ```
/// use alchemy::bucket::ListOptions;
///
/// // The "folders" and files directly under `photos/`, 100 at a time.
/// let options = ListOptions {
///     prefix: Some("photos/".into()),
///     delimiter: Some("/".into()),
///     max_keys: Some(100),
///     ..ListOptions::default()
/// };
/// # let _ = options;
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListOptions {
    /// List only keys that start with this.
    pub prefix: Option<String>,
    /// Roll up keys that contain this after the prefix into
    /// [`common_prefixes`](ListPage::common_prefixes), like directories. `"/"` is the delimiter
    /// every provider supports.
    pub delimiter: Option<String>,
    /// List only keys that sort after this one.
    pub start_after: Option<String>,
    /// Resume from a previous page: its [`next`](ListPage::next) token. Takes precedence over
    /// `start_after`.
    pub continuation: Option<String>,
    /// The most entries (objects plus common prefixes) in one page. The provider may return
    /// fewer, and caps it at its own maximum (1000 for S3 and R2); `None` asks for that maximum
    /// and 0 counts as 1.
    pub max_keys: Option<u32>,
}

/// One page of a listing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListPage {
    /// The objects of this page, in key order.
    pub objects: Vec<ObjectMeta>,
    /// With a delimiter: the distinct key prefixes, each up to and including the first delimiter
    /// after the listed prefix, in order.
    pub common_prefixes: Vec<String>,
    /// The token for the next page, or `None` when this page is the last.
    pub next: Option<String>,
}
