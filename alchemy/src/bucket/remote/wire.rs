//! What client and server agree on: header names, key encoding and the JSON bodies.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::bucket::{BucketError, Capabilities, ListPage, ObjectMeta, PartInfo, PutResult};

/// The whole object's size, in bytes.
pub(crate) const SIZE: &str = "x-alchemy-size";
/// When the object was last written, in milliseconds since the Unix epoch.
pub(crate) const LAST_MODIFIED: &str = "x-alchemy-last-modified";
/// A failure's JSON, percent-encoded, for answers without a body.
pub(crate) const ERROR: &str = "x-alchemy-error";
/// The prefix of one header per user metadata entry.
pub(crate) const META_PREFIX: &str = "x-alchemy-meta-";

/// Percent-encodes `text`: every byte but ASCII letters, digits, `-`, `_` and `~`.
pub(crate) fn encode(text: &str) -> String {
    let mut encoded = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'~') {
            encoded.push(char::from(byte));
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    encoded
}

/// Decodes a percent-encoded string (also taking `+` as a space, as forms send it), or `None`
/// when an escape is malformed or the bytes are not UTF-8.
pub(crate) fn decode(text: &str) -> Option<String> {
    let mut bytes = Vec::with_capacity(text.len());
    let mut input = text.bytes();
    while let Some(byte) = input.next() {
        match byte {
            b'%' => {
                let high = char::from(input.next()?).to_digit(16)?;
                let low = char::from(input.next()?).to_digit(16)?;
                bytes.push(u8::try_from(high * 16 + low).ok()?);
            }
            b'+' => bytes.push(b' '),
            other => bytes.push(other),
        }
    }
    String::from_utf8(bytes).ok()
}

/// The pairs of a query string, decoded; `None` when one does not decode.
pub(crate) fn query_pairs(query: &str) -> Option<BTreeMap<String, String>> {
    query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            Some((decode(name)?, decode(value)?))
        })
        .collect()
}

/// An etag as a quoted header value.
pub(crate) fn quote(etag: &str) -> String {
    format!("\"{etag}\"")
}

/// An etag from a header value: [`quote`] undone, so that an etag that has quotes of its own
/// keeps them.
pub(crate) fn unquote(value: &str) -> &str {
    let value = value.trim();
    value
        .strip_prefix('"')
        .and_then(|rest| rest.strip_suffix('"'))
        .unwrap_or(value)
}

/// `GET /capabilities`.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct Described {
    pub provider: String,
    pub capabilities: WireCapabilities,
}

/// [`Capabilities`] as JSON. Flags a peer does not know default to "not supported".
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub(crate) struct WireCapabilities {
    put_create: bool,
    put_update: bool,
    get_conditional: bool,
    range: bool,
    multipart: bool,
    multipart_conditional: bool,
    copy: bool,
    copy_conditional: bool,
    list_delimiter: bool,
    list_start_after: bool,
    content_type: bool,
    user_metadata: bool,
    max_object_size: Option<u64>,
    max_put_size: Option<u64>,
    min_part_size: u64,
    max_part_size: Option<u64>,
    max_parts: Option<u32>,
}

impl From<Capabilities> for WireCapabilities {
    fn from(c: Capabilities) -> Self {
        WireCapabilities {
            put_create: c.put_create,
            put_update: c.put_update,
            get_conditional: c.get_conditional,
            range: c.range,
            multipart: c.multipart,
            multipart_conditional: c.multipart_conditional,
            copy: c.copy,
            copy_conditional: c.copy_conditional,
            list_delimiter: c.list_delimiter,
            list_start_after: c.list_start_after,
            content_type: c.content_type,
            user_metadata: c.user_metadata,
            max_object_size: c.max_object_size,
            max_put_size: c.max_put_size,
            min_part_size: c.min_part_size,
            max_part_size: c.max_part_size,
            max_parts: c.max_parts,
        }
    }
}

impl From<WireCapabilities> for Capabilities {
    fn from(w: WireCapabilities) -> Self {
        Capabilities {
            put_create: w.put_create,
            put_update: w.put_update,
            get_conditional: w.get_conditional,
            range: w.range,
            multipart: w.multipart,
            multipart_conditional: w.multipart_conditional,
            copy: w.copy,
            copy_conditional: w.copy_conditional,
            list_delimiter: w.list_delimiter,
            list_start_after: w.list_start_after,
            content_type: w.content_type,
            user_metadata: w.user_metadata,
            max_object_size: w.max_object_size,
            max_put_size: w.max_put_size,
            min_part_size: w.min_part_size,
            max_part_size: w.max_part_size,
            max_parts: w.max_parts,
        }
    }
}

/// [`ObjectMeta`] as JSON, in a list page.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct WireMeta {
    key: String,
    size: u64,
    etag: String,
    last_modified: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    content_type: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    metadata: BTreeMap<String, String>,
}

impl From<ObjectMeta> for WireMeta {
    fn from(m: ObjectMeta) -> Self {
        WireMeta {
            key: m.key,
            size: m.size,
            etag: m.etag,
            last_modified: m.last_modified,
            content_type: m.content_type,
            metadata: m.metadata,
        }
    }
}

impl From<WireMeta> for ObjectMeta {
    fn from(w: WireMeta) -> Self {
        ObjectMeta {
            key: w.key,
            size: w.size,
            etag: w.etag,
            last_modified: w.last_modified,
            content_type: w.content_type,
            metadata: w.metadata,
        }
    }
}

/// [`ListPage`] as JSON.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct WirePage {
    objects: Vec<WireMeta>,
    #[serde(default)]
    common_prefixes: Vec<String>,
    #[serde(default)]
    next: Option<String>,
}

impl From<ListPage> for WirePage {
    fn from(p: ListPage) -> Self {
        WirePage {
            objects: p.objects.into_iter().map(Into::into).collect(),
            common_prefixes: p.common_prefixes,
            next: p.next,
        }
    }
}

impl From<WirePage> for ListPage {
    fn from(w: WirePage) -> Self {
        ListPage {
            objects: w.objects.into_iter().map(Into::into).collect(),
            common_prefixes: w.common_prefixes,
            next: w.next,
        }
    }
}

/// [`PutResult`] as JSON.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct WirePut {
    etag: String,
    #[serde(default)]
    version: Option<String>,
}

impl From<PutResult> for WirePut {
    fn from(p: PutResult) -> Self {
        WirePut {
            etag: p.etag,
            version: p.version,
        }
    }
}

impl From<WirePut> for PutResult {
    fn from(w: WirePut) -> Self {
        PutResult {
            etag: w.etag,
            version: w.version,
        }
    }
}

/// [`PartInfo`] as JSON.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct WirePart {
    part_number: u32,
    etag: String,
    size: u64,
}

impl From<PartInfo> for WirePart {
    fn from(p: PartInfo) -> Self {
        WirePart {
            part_number: p.part_number,
            etag: p.etag,
            size: p.size,
        }
    }
}

impl From<WirePart> for PartInfo {
    fn from(w: WirePart) -> Self {
        PartInfo {
            part_number: w.part_number,
            etag: w.etag,
            size: w.size,
        }
    }
}

/// The answer to `POST /o/{key}?uploads`.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct Upload {
    pub upload_id: String,
}

/// A failure: its kind, its message, and the fields of its [`BucketError`] variant.
#[derive(Debug, Default, Serialize, Deserialize)]
pub(crate) struct WireError {
    pub error: String,
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub range: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub part_number: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upload_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operation: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub retryable: bool,
}

impl WireError {
    /// A failure of the protocol itself (not of the store), such as a bad token.
    pub fn protocol(kind: &str, message: impl Into<String>) -> Self {
        WireError {
            error: kind.to_owned(),
            message: message.into(),
            ..WireError::default()
        }
    }

    /// The failure `error`, with the HTTP status it is answered with.
    pub fn from_bucket(error: &BucketError) -> (u16, Self) {
        let mut wire = WireError {
            message: error.to_string(),
            ..WireError::default()
        };
        let (status, kind) = match error {
            BucketError::NotFound { key } => {
                wire.key = Some(key.clone());
                (404, "not_found")
            }
            BucketError::AlreadyExists { key } => {
                wire.key = Some(key.clone());
                (412, "already_exists")
            }
            BucketError::Precondition { key, detail } => {
                wire.key = Some(key.clone());
                wire.detail = Some(detail.clone());
                (412, "precondition")
            }
            BucketError::NotModified { key } => {
                // A 304 has no body: the client knows the key it asked for.
                wire.key = Some(key.clone());
                (304, "not_modified")
            }
            BucketError::InvalidKey { key, reason } => {
                wire.key = Some(key.clone());
                wire.reason = Some(reason.clone());
                (400, "invalid_key")
            }
            BucketError::InvalidMetadata { name, reason } => {
                wire.name = Some(name.clone());
                wire.reason = Some(reason.clone());
                (400, "invalid_metadata")
            }
            BucketError::InvalidRange { key, range, size } => {
                wire.key = Some(key.clone());
                wire.range = Some(range.clone());
                wire.size = Some(*size);
                (416, "invalid_range")
            }
            BucketError::InvalidPart {
                key,
                part_number,
                reason,
            } => {
                wire.key = Some(key.clone());
                wire.part_number = Some(*part_number);
                wire.reason = Some(reason.clone());
                (400, "invalid_part")
            }
            BucketError::NoSuchUpload { key, upload_id } => {
                wire.key = Some(key.clone());
                wire.upload_id = Some(upload_id.clone());
                (404, "no_such_upload")
            }
            BucketError::NotSupported {
                operation,
                provider,
            } => {
                wire.operation = Some((*operation).to_owned());
                wire.provider = Some((*provider).to_owned());
                (501, "not_supported")
            }
            BucketError::TooLarge { limit } => {
                wire.limit = Some(*limit);
                (413, "too_large")
            }
            BucketError::Stream(_) => (400, "stream"),
            BucketError::Backend {
                provider,
                message,
                retryable,
            } => {
                wire.provider = Some((*provider).to_owned());
                wire.message = message.clone();
                wire.retryable = *retryable;
                (if *retryable { 503 } else { 502 }, "backend")
            }
        };
        wire.error = kind.to_owned();
        (status, wire)
    }
}

/// The names a provider or an operation has on this side of the wire: the ones this crate
/// knows keep their name, any other is `unknown`, since the error variants hold `&'static str`.
#[cfg(feature = "deploy")]
pub(crate) fn known(name: &str, unknown: &'static str) -> &'static str {
    const NAMES: &[&str] = &[
        "local",
        "s3",
        "r2",
        "memory",
        "mock",
        "remote",
        "copy",
        "multipart uploads",
        "conditional multipart uploads",
        "conditional copy",
        "conditional put (PutMode::Create)",
        "conditional put (PutMode::Update)",
        "conditional get",
        "byte ranges",
        "list delimiters",
        "list start_after",
    ];
    NAMES
        .iter()
        .find(|known| **known == name)
        .copied()
        .unwrap_or(unknown)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip_through_the_encoding() {
        for key in [
            "a",
            "photos/cat 1.jpg",
            "a//b",
            "Großbuchstaben/日本語",
            "%2F+&=?#",
        ] {
            let encoded = encode(key);
            assert!(
                encoded
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_~%".contains(&b)),
                "{encoded}"
            );
            assert_eq!(decode(&encoded).as_deref(), Some(key));
        }
        assert_eq!(decode("%zz"), None);
        assert_eq!(decode("%C3"), None);
        assert_eq!(decode("a+b"), Some("a b".into()));
    }

    #[test]
    fn etags_lose_their_quotes() {
        assert_eq!(unquote(&quote("abc")), "abc");
        assert_eq!(unquote(&quote("\"abc\"")), "\"abc\"");
        assert_eq!(unquote("abc"), "abc");
    }

    #[test]
    fn queries_decode_to_pairs() {
        let pairs = query_pairs("prefix=a%2Fb&uploads&max_keys=3").unwrap();
        assert_eq!(pairs["prefix"], "a/b");
        assert_eq!(pairs["uploads"], "");
        assert_eq!(pairs["max_keys"], "3");
    }
}
