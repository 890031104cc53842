//! A `multipart/form-data` reader, strict enough to catch a malformed body.

/// One part of a multipart body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FormPart {
    pub name: String,
    pub filename: Option<String>,
    pub content_type: Option<String>,
    pub bytes: Vec<u8>,
}

/// The boundary of a `multipart/form-data` content type.
pub(crate) fn boundary(content_type: &str) -> Option<String> {
    content_type.split(';').skip(1).find_map(|param| {
        let (key, value) = param.split_once('=')?;
        (key.trim().eq_ignore_ascii_case("boundary"))
            .then(|| value.trim().trim_matches('"').to_owned())
    })
}

fn find(haystack: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    haystack
        .get(from..)?
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|i| i + from)
}

/// The parts of `body`, or what is wrong with it.
pub(crate) fn parse(body: &[u8], boundary: &str) -> Result<Vec<FormPart>, String> {
    let delimiter = format!("--{boundary}");
    let mut at = find(body, delimiter.as_bytes(), 0)
        .ok_or_else(|| format!("the body has no boundary line `{delimiter}`"))?;
    let mut parts = Vec::new();
    loop {
        at += delimiter.len();
        if body.get(at..at + 2) == Some(b"--") {
            return Ok(parts);
        }
        if body.get(at..at + 2) != Some(b"\r\n") {
            return Err("a boundary line is not followed by CRLF".into());
        }
        at += 2;
        let head_end = find(body, b"\r\n\r\n", at)
            .ok_or_else(|| "a part's headers do not end with an empty line".to_owned())?;
        let head = std::str::from_utf8(&body[at..head_end])
            .map_err(|_| "a part's headers are not UTF-8".to_owned())?;
        let next = find(body, format!("\r\n{delimiter}").as_bytes(), head_end + 4)
            .ok_or_else(|| "the body ends without its closing boundary".to_owned())?;
        let mut part = FormPart {
            name: String::new(),
            filename: None,
            content_type: None,
            bytes: body[head_end + 4..next].to_vec(),
        };
        let mut named = false;
        for line in head.split("\r\n") {
            let (key, value) = line
                .split_once(':')
                .ok_or_else(|| format!("a part header without a colon: {line:?}"))?;
            match key.trim().to_ascii_lowercase().as_str() {
                "content-disposition" => {
                    let mut params = value.split(';');
                    if params.next().map(str::trim) != Some("form-data") {
                        return Err(format!("a part's disposition is not form-data: {value:?}"));
                    }
                    for param in params {
                        let Some((k, v)) = param.split_once('=') else {
                            continue;
                        };
                        let v = v.trim().trim_matches('"').to_owned();
                        match k.trim() {
                            "name" => {
                                part.name = v;
                                named = true;
                            }
                            "filename" => part.filename = Some(v),
                            _ => {}
                        }
                    }
                }
                "content-type" => part.content_type = Some(value.trim().to_owned()),
                _ => {}
            }
        }
        if !named {
            return Err("a part has no name in its Content-Disposition".into());
        }
        parts.push(part);
        at = next + 2;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_parts_and_rejects_a_truncated_body() {
        let body = b"--xyz\r\nContent-Disposition: form-data; name=\"metadata\"\r\nContent-Type: application/json\r\n\r\n{}\r\n--xyz\r\nContent-Disposition: form-data; name=\"a.wasm\"; filename=\"a.wasm\"\r\nContent-Type: application/wasm\r\n\r\n\0asm\r\n--xyz--\r\n";
        let parts = parse(body, "xyz").unwrap();
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[0].name, "metadata");
        assert_eq!(parts[0].bytes, b"{}");
        assert_eq!(parts[1].filename.as_deref(), Some("a.wasm"));
        assert_eq!(parts[1].content_type.as_deref(), Some("application/wasm"));
        assert_eq!(parts[1].bytes, b"\0asm");
        assert!(parse(&body[..body.len() - 12], "xyz").is_err());
        assert_eq!(
            boundary("multipart/form-data; boundary=\"abc\""),
            Some("abc".into())
        );
    }
}
