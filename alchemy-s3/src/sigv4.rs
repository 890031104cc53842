//! AWS Signature Version 4 for S3 requests, in plain Rust (`hmac` and `sha2`), so that it
//! runs in a Worker as well as natively.
//!
//! [`sign`] adds `x-amz-date`, `x-amz-content-sha256`, `x-amz-security-token` (with a session
//! token) and `authorization` to a request. The canonical request follows S3's rules: the path
//! is taken as sent (S3 paths are encoded once and never normalised, see [`encode_path`]), the
//! query is decoded and re-encoded strictly and sorted, and every header but `authorization`,
//! `user-agent`, `x-amzn-trace-id` and `transfer-encoding` is signed.

use std::fmt::Write as _;

use hmac::{Hmac, KeyInit, Mac};
use http::header::{HeaderName, HeaderValue, AUTHORIZATION, HOST};
use sha2::{Digest, Sha256};

/// The `x-amz-content-sha256` of a body that is not hashed (S3 accepts it on every request).
pub const UNSIGNED_PAYLOAD: &str = "UNSIGNED-PAYLOAD";

/// Headers that are never signed: the signature itself, and what proxies change.
const UNSIGNED_HEADERS: [&str; 4] = [
    "authorization",
    "user-agent",
    "x-amzn-trace-id",
    "transfer-encoding",
];

/// AWS credentials: an access key and, for temporary credentials, a session token.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// The access key id, such as `AKIAIOSFODNN7EXAMPLE`.
    pub access_key_id: String,
    /// The secret access key.
    pub secret_access_key: String,
    /// The session token of temporary credentials.
    pub session_token: Option<String>,
}

impl Credentials {
    /// Long-term credentials: an access key without a session token.
    pub fn new(access_key_id: impl Into<String>, secret_access_key: impl Into<String>) -> Self {
        Credentials {
            access_key_id: access_key_id.into(),
            secret_access_key: secret_access_key.into(),
            session_token: None,
        }
    }

    /// The same credentials with a session token.
    pub fn with_session_token(mut self, token: impl Into<String>) -> Self {
        self.session_token = Some(token.into());
        self
    }
}

/// Shows the access key id only.
impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"[secret]")
            .field(
                "session_token",
                &self.session_token.as_ref().map(|_| "[secret]"),
            )
            .finish()
    }
}

/// What the signature says about the body.
#[derive(Debug, Clone, Copy)]
pub enum Payload<'a> {
    /// The body is not hashed ([`UNSIGNED_PAYLOAD`]): for streamed bodies.
    Unsigned,
    /// The body is these bytes, whose SHA-256 is signed.
    Bytes(&'a [u8]),
}

impl Payload<'_> {
    /// The value of `x-amz-content-sha256`.
    fn hash(self) -> String {
        match self {
            Payload::Unsigned => UNSIGNED_PAYLOAD.to_string(),
            Payload::Bytes(bytes) => hex(&Sha256::digest(bytes)),
        }
    }
}

/// Where and when a request is signed.
#[derive(Debug, Clone, Copy)]
pub struct Scope<'a> {
    /// The region, such as `us-east-1`.
    pub region: &'a str,
    /// The service, `s3` for S3.
    pub service: &'a str,
    /// The time of signing, in seconds since the Unix epoch.
    pub time: u64,
}

/// Signs `request` in place: adds `host` (when missing), `x-amz-date`,
/// `x-amz-content-sha256`, `x-amz-security-token` (with a session token) and
/// `authorization`.
///
/// The request's URI must be absolute, with its path encoded as S3 expects (see
/// [`encode_path`]). Headers added after signing (such as a transport's `content-length` of the
/// same value) do not break the signature; headers changed after signing do.
pub fn sign<B>(
    request: &mut http::Request<B>,
    credentials: &Credentials,
    scope: Scope<'_>,
    payload: Payload<'_>,
) {
    let date_time = format_date_time(scope.time);
    let payload_hash = payload.hash();
    let headers = request.headers_mut();
    headers.remove(AUTHORIZATION);
    let mut set = |name: &'static str, value: &str| {
        if let Ok(value) = HeaderValue::from_str(value) {
            headers.insert(HeaderName::from_static(name), value);
        }
    };
    set("x-amz-date", &date_time);
    set("x-amz-content-sha256", &payload_hash);
    if let Some(token) = &credentials.session_token {
        set("x-amz-security-token", token);
    }
    if !request.headers().contains_key(HOST) {
        if let Some(host) = host_of(request.uri()) {
            if let Ok(value) = HeaderValue::from_str(&host) {
                request.headers_mut().insert(HOST, value);
            }
        }
    }
    let authorization = authorization(request, credentials, scope, &date_time, &payload_hash);
    if let Ok(value) = HeaderValue::from_str(&authorization) {
        request.headers_mut().insert(AUTHORIZATION, value);
    }
}

/// The `authorization` header of a request that already carries its `x-amz-*` headers.
fn authorization<B>(
    request: &http::Request<B>,
    credentials: &Credentials,
    scope: Scope<'_>,
    date_time: &str,
    payload_hash: &str,
) -> String {
    let (canonical, signed_headers) = canonical_request(request, payload_hash);
    let date = &date_time[..8];
    let credential_scope = format!("{date}/{}/{}/aws4_request", scope.region, scope.service);
    let string_to_sign = format!(
        "AWS4-HMAC-SHA256\n{date_time}\n{credential_scope}\n{}",
        hex(&Sha256::digest(canonical.as_bytes()))
    );
    let secret = format!("AWS4{}", credentials.secret_access_key);
    let key = hmac(secret.as_bytes(), date.as_bytes());
    let key = hmac(&key, scope.region.as_bytes());
    let key = hmac(&key, scope.service.as_bytes());
    let key = hmac(&key, b"aws4_request");
    let signature = hex(&hmac(&key, string_to_sign.as_bytes()));
    format!(
        "AWS4-HMAC-SHA256 Credential={}/{credential_scope}, SignedHeaders={signed_headers}, \
         Signature={signature}",
        credentials.access_key_id
    )
}

/// The canonical request and its signed header list.
fn canonical_request<B>(request: &http::Request<B>, payload_hash: &str) -> (String, String) {
    let uri = request.uri();
    let path = match uri.path() {
        "" => "/",
        path => path,
    };
    let mut headers: Vec<(String, String)> = Vec::new();
    for (name, value) in request.headers() {
        let name = name.as_str().to_ascii_lowercase();
        if UNSIGNED_HEADERS.contains(&name.as_str()) {
            continue;
        }
        let value = trim_all(&String::from_utf8_lossy(value.as_bytes()));
        match headers.iter_mut().find(|(known, _)| *known == name) {
            Some((_, values)) => {
                values.push(',');
                values.push_str(&value);
            }
            None => headers.push((name, value)),
        }
    }
    headers.sort_by(|a, b| a.0.cmp(&b.0));
    let mut canonical_headers = String::new();
    for (name, value) in &headers {
        let _ = writeln!(canonical_headers, "{name}:{value}");
    }
    let signed_headers = headers
        .iter()
        .map(|(name, _)| name.as_str())
        .collect::<Vec<_>>()
        .join(";");
    let canonical = format!(
        "{}\n{path}\n{}\n{canonical_headers}\n{signed_headers}\n{payload_hash}",
        request.method().as_str(),
        canonical_query(uri.query().unwrap_or("")),
    );
    (canonical, signed_headers)
}

/// The query decoded (`+` as a space, as forms do) and encoded again strictly, sorted by
/// encoded name and value; a parameter without `=` has an empty value.
fn canonical_query(query: &str) -> String {
    let mut pairs: Vec<(String, String)> = query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            (
                encode(&decode_query(name), true),
                encode(&decode_query(value), true),
            )
        })
        .collect();
    pairs.sort();
    pairs
        .iter()
        .map(|(name, value)| format!("{name}={value}"))
        .collect::<Vec<_>>()
        .join("&")
}

/// A query component percent-decoded, `+` as a space.
fn decode_query(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |at: usize| bytes.get(at).and_then(|b| char::from(*b).to_digit(16));
        match bytes[i] {
            b'%' => {
                if let (Some(high), Some(low)) = (hex(i + 1), hex(i + 2)) {
                    decoded.push((high * 16 + low) as u8);
                    i += 3;
                    continue;
                }
                decoded.push(b'%');
            }
            b'+' => decoded.push(b' '),
            byte => decoded.push(byte),
        }
        i += 1;
    }
    String::from_utf8_lossy(&decoded).into_owned()
}

/// `text` percent-encoded as SigV4 wants: everything but `A-Z a-z 0-9 - _ . ~` (and `/` when
/// `slash` is false) as `%XX`, upper-case.
pub fn encode(text: &str, slash: bool) -> String {
    let mut encoded = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-_.~".contains(&byte) || (byte == b'/' && !slash) {
            encoded.push(char::from(byte));
        } else {
            let _ = write!(encoded, "%{byte:02X}");
        }
    }
    encoded
}

/// The path of `key` in `bucket`, path-style (`/bucket/key`), encoded once as S3 expects (`/`
/// kept, everything else but the unreserved characters as `%XX`).
pub fn encode_path(bucket: &str, key: &str) -> String {
    format!("/{}/{}", encode(bucket, true), encode(key, false))
}

/// The `host` of a URI, without the port when it is the scheme's default.
fn host_of(uri: &http::Uri) -> Option<String> {
    let host = uri.host()?;
    let default = match uri.scheme_str() {
        Some("https") => 443,
        Some("http") => 80,
        _ => 0,
    };
    Some(match uri.port_u16() {
        Some(port) if port != default => format!("{host}:{port}"),
        _ => host.to_string(),
    })
}

/// A header value with its leading and trailing spaces trimmed and runs of spaces made one.
fn trim_all(value: &str) -> String {
    let mut trimmed = String::with_capacity(value.len());
    for (i, word) in value.split(' ').filter(|word| !word.is_empty()).enumerate() {
        if i > 0 {
            trimmed.push(' ');
        }
        trimmed.push_str(word);
    }
    trimmed
}

fn hmac(key: &[u8], data: &[u8]) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(data);
    mac.finalize().into_bytes().to_vec()
}

/// Lower-case hex.
pub(crate) fn hex(bytes: &[u8]) -> String {
    let mut text = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        let _ = write!(text, "{byte:02x}");
    }
    text
}

/// `time` (seconds since the epoch) as SigV4's `YYYYMMDDTHHMMSSZ`.
pub fn format_date_time(time: u64) -> String {
    let (year, month, day) = civil_from_days((time / 86_400) as i64);
    let seconds = time % 86_400;
    format!(
        "{year:04}{month:02}{day:02}T{:02}{:02}{:02}Z",
        seconds / 3600,
        seconds / 60 % 60,
        seconds % 60
    )
}

/// The date of a day number (days since 1970-01-01), after Howard Hinnant's algorithm.
pub(crate) fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// The day number (days since 1970-01-01) of a date, the inverse of [`civil_from_days`].
pub(crate) fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let yoe = year.rem_euclid(400);
    let month = i64::from(month);
    let mp = if month > 2 { month - 3 } else { month + 9 };
    let doy = (153 * mp + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_format_as_sigv4_wants() {
        assert_eq!(format_date_time(0), "19700101T000000Z");
        // 2013-05-24T00:00:00Z, the date of AWS's S3 examples.
        assert_eq!(format_date_time(1_369_353_600), "20130524T000000Z");
        assert_eq!(format_date_time(951_782_399), "20000228T235959Z");
        assert_eq!(format_date_time(951_868_800), "20000301T000000Z");
        for days in [-1000, 0, 10_957, 11_016, 20_000, 100_000] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
    }

    #[test]
    fn keys_are_encoded_once_with_slashes_kept() {
        assert_eq!(
            encode_path("b", "a b/c+d=e&f~g_h.i-j/日"),
            "/b/a%20b/c%2Bd%3De%26f~g_h.i-j/%E6%97%A5"
        );
        assert_eq!(encode("a/b c", true), "a%2Fb%20c");
    }

    #[test]
    fn queries_are_sorted_and_encoded_strictly() {
        assert_eq!(
            canonical_query("uploads&prefix=a%20b&list-type=2&max-keys=3"),
            "list-type=2&max-keys=3&prefix=a%20b&uploads="
        );
        assert_eq!(canonical_query("x=a+b&x=a%2Bb"), "x=a%20b&x=a%2Bb");
        assert_eq!(canonical_query(""), "");
    }

    #[test]
    fn header_values_are_trimmed() {
        assert_eq!(trim_all("  a   b  c "), "a b c");
        assert_eq!(trim_all("plain"), "plain");
    }

    #[test]
    fn credentials_debug_hides_the_secrets() {
        let credentials = Credentials::new("AKID", "SECRET").with_session_token("TOKEN");
        let shown = format!("{credentials:?}");
        assert!(shown.contains("AKID"), "{shown}");
        assert!(
            !shown.contains("SECRET") && !shown.contains("TOKEN"),
            "{shown}"
        );
    }
}
