//! The S3 client's SigV4 signatures against the AWS SDK's own signer (`aws-sigv4`), over
//! requests with tricky keys, queries and headers, and against the example in AWS's S3
//! documentation.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use alchemy_s3::sigv4::{self, Credentials, Payload, Scope};
use aws_sigv4::http_request::{
    PayloadChecksumKind, PercentEncodingMode, SignableBody, SignableRequest, SigningSettings,
    UriPathNormalizationMode,
};
use aws_sigv4::sign::v4;
use http::Request;

/// 2026-12-04T16:20:10Z.
const TIME: u64 = 1_796_401_210;

/// A request to sign: method, URI, headers and body.
struct Case {
    method: &'static str,
    uri: String,
    headers: Vec<(&'static str, &'static str)>,
    body: Option<&'static [u8]>,
}

fn request(case: &Case) -> Request<()> {
    let mut builder = Request::builder().method(case.method).uri(&case.uri);
    for (name, value) in &case.headers {
        builder = builder.header(*name, *value);
    }
    builder.body(()).expect("a valid request")
}

/// The request signed by this crate.
fn ours(case: &Case, credentials: &Credentials, region: &str) -> Request<()> {
    let mut request = request(case);
    let payload = case.body.map_or(Payload::Unsigned, Payload::Bytes);
    let scope = Scope {
        region,
        service: "s3",
        time: TIME,
    };
    sigv4::sign(&mut request, credentials, scope, payload);
    request
}

/// The request signed by the SDK's signer, with the settings the S3 client of the SDK uses.
fn theirs(case: &Case, credentials: &Credentials, region: &str) -> Request<()> {
    let mut request = request(case);
    let identity = aws_credential_types::Credentials::new(
        &credentials.access_key_id,
        &credentials.secret_access_key,
        credentials.session_token.clone(),
        None,
        "test",
    )
    .into();
    let mut settings = SigningSettings::default();
    settings.percent_encoding_mode = PercentEncodingMode::Single;
    settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
    settings.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name("s3")
        .time(UNIX_EPOCH + Duration::from_secs(TIME))
        .settings(settings)
        .build()
        .expect("signing parameters")
        .into();
    let headers: Vec<(String, String)> = request
        .headers()
        .iter()
        .map(|(name, value)| {
            (
                name.as_str().to_string(),
                value.to_str().expect("text").to_string(),
            )
        })
        .collect();
    let body = match case.body {
        Some(bytes) => SignableBody::Bytes(bytes),
        None => SignableBody::UnsignedPayload,
    };
    let signable = SignableRequest::new(
        case.method,
        case.uri.clone(),
        headers.iter().map(|(n, v)| (n.as_str(), v.as_str())),
        body,
    )
    .expect("a signable request");
    let (instructions, _) = aws_sigv4::http_request::sign(signable, &params)
        .expect("the SDK signs")
        .into_parts();
    instructions.apply_to_request_http1x(&mut request);
    request
}

fn header<'a>(request: &'a Request<()>, name: &str) -> &'a str {
    request
        .headers()
        .get(name)
        .unwrap_or_else(|| panic!("no {name} header"))
        .to_str()
        .expect("text")
}

fn cases() -> Vec<Case> {
    let base = "https://s3.eu-west-1.amazonaws.com";
    let keys = [
        "plain.txt",
        "with space.txt",
        "plus+sign and=equals&amp",
        "unicode/日本語/🦀.png",
        "percent%20literal%",
        "tilde~star*quote'bang!paren()",
        "question?hash#colon:semi;at@comma,dollar$",
        "deep/nested//double/slash/",
        "tab\tnewline",
        "brackets[]{}<>|\\^`\"",
    ];
    let mut cases: Vec<Case> = keys
        .iter()
        .map(|key| Case {
            method: "GET",
            uri: format!("{base}{}", sigv4::encode_path("my.bucket", key)),
            headers: vec![("range", "bytes=0-9")],
            body: None,
        })
        .collect();
    let queries = [
        "list-type=2&prefix=a%20b%2Bc&delimiter=%2F&max-keys=7&encoding-type=url",
        "uploads",
        "partNumber=3&uploadId=VXBsb2FkIElE.ZWxldmVu_-~x%2Fy%3D",
        "continuation-token=1ueGcxLPRx1Tr%2FXYExHnhbYLgveDs2J%2Fwm36Hy4vbOwM%3D&list-type=2",
        "start-after=%E6%97%A5%F0%9F%A6%80&list-type=2&prefix=",
        "b=2&a=1&a=0&A=3",
    ];
    cases.extend(queries.iter().map(|query| Case {
        method: "GET",
        uri: format!("{base}/my-bucket?{query}"),
        headers: vec![],
        body: None,
    }));
    cases.push(Case {
        method: "PUT",
        uri: format!("http://127.0.0.1:4566{}", sigv4::encode_path("b", "k y")),
        headers: vec![
            ("content-type", "text/plain;  charset=utf-8"),
            ("x-amz-meta-owner", "  ada   lovelace  "),
            ("x-amz-meta-Mixed", "Case"),
            ("if-none-match", "*"),
            ("content-length", "11"),
            ("user-agent", "not signed"),
        ],
        body: None,
    });
    cases.push(Case {
        method: "PUT",
        uri: format!("{base}{}", sigv4::encode_path("b", "copy/to")),
        headers: vec![
            ("x-amz-copy-source", "b/copy/from%20here%2B"),
            ("if-match", "\"5d41402abc4b2a76b9719d911017c592\""),
            ("x-amz-meta-a", "1"),
            ("x-amz-meta-a", "2"),
        ],
        body: None,
    });
    cases.push(Case {
        method: "POST",
        uri: "http://localhost:8080/b/k?uploadId=abc".to_string(),
        headers: vec![("content-type", "application/xml")],
        body: Some(b"<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>&quot;e&quot;</ETag></Part></CompleteMultipartUpload>"),
    });
    cases.push(Case {
        method: "DELETE",
        uri: "https://s3.amazonaws.com:443/b/k".to_string(),
        headers: vec![],
        body: Some(b""),
    });
    cases
}

#[test]
fn signatures_match_the_sdk_signer() {
    let long_term = Credentials::new(
        "AKIAIOSFODNN7EXAMPLE",
        "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    );
    let temporary = long_term.clone().with_session_token(
        "IQoJb3JpZ2luX2VjEJr//////////wEaCXVzLWVhc3QtMSJHMEUCIQ+example/token==",
    );
    let mut compared = 0;
    for credentials in [&long_term, &temporary] {
        for region in ["us-east-1", "eu-west-1"] {
            for case in cases() {
                let ours = ours(&case, credentials, region);
                let theirs = theirs(&case, credentials, region);
                for name in [
                    "authorization",
                    "x-amz-date",
                    "x-amz-content-sha256",
                    "x-amz-security-token",
                ] {
                    assert_eq!(
                        ours.headers().get(name),
                        theirs.headers().get(name),
                        "{name} of {} {}",
                        case.method,
                        case.uri
                    );
                }
                compared += 1;
            }
        }
    }
    assert_eq!(compared, 4 * cases().len());
    println!("{compared} signatures equal to the SDK's");
}

/// The `GET /test.txt` example of "Signature Calculations for the Authorization Header:
/// Transferring Payload in a Single Chunk" in the S3 API reference.
#[test]
fn the_documented_get_object_example() {
    let case = Case {
        method: "GET",
        uri: "https://examplebucket.s3.amazonaws.com/test.txt".to_string(),
        headers: vec![("range", "bytes=0-9")],
        body: Some(b""),
    };
    let credentials = Credentials::new(
        "AKIAIOSFODNN7EXAMPLE",
        "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    );
    let mut request = request(&case);
    let time = SystemTime::UNIX_EPOCH + Duration::from_secs(1_369_353_600);
    let scope = Scope {
        region: "us-east-1",
        service: "s3",
        time: time.duration_since(UNIX_EPOCH).unwrap().as_secs(),
    };
    sigv4::sign(&mut request, &credentials, scope, Payload::Bytes(b""));
    assert_eq!(header(&request, "x-amz-date"), "20130524T000000Z");
    assert_eq!(
        header(&request, "authorization"),
        "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, \
         SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, \
         Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"
    );
}
