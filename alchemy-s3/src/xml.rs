//! The few S3 answers this client reads, with a small XML reader: elements found by name,
//! their text with entities decoded.
//!
//! S3's answers are flat documents whose element names say what they hold
//! (`ListBucketResult`, `InitiateMultipartUploadResult`, `CompleteMultipartUploadResult`,
//! `CopyObjectResult`, `Error`); none nests an element inside one of the same name, which is
//! what [`children`] relies on.

/// The contents of every element `name` in `xml` (not nested in one another), in order.
pub(crate) fn children<'a>(xml: &'a str, name: &str) -> Vec<&'a str> {
    let mut found = Vec::new();
    let mut rest = xml;
    while let Some((content, after)) = next_element(rest, name) {
        found.push(content);
        rest = after;
    }
    found
}

/// The contents of the first element `name`, if any.
pub(crate) fn child<'a>(xml: &'a str, name: &str) -> Option<&'a str> {
    next_element(xml, name).map(|(content, _)| content)
}

/// The text of the first element `name`, entities decoded.
pub(crate) fn text(xml: &str, name: &str) -> Option<String> {
    child(xml, name).map(decode)
}

/// The first element `name` in `xml`: its contents, and what follows it.
fn next_element<'a>(xml: &'a str, name: &str) -> Option<(&'a str, &'a str)> {
    let mut from = 0;
    loop {
        let at = from + xml[from..].find('<')?;
        let tag = &xml[at + 1..];
        from = at + 1;
        let Some(after_name) = tag.strip_prefix(name) else {
            continue;
        };
        let end = after_name.find('>')?;
        let attributes = &after_name[..end];
        if !(attributes.is_empty() || attributes.starts_with([' ', '\t', '\r', '\n', '/'])) {
            // Another element whose name starts with `name`.
            continue;
        }
        let content_start = at + 1 + name.len() + end + 1;
        if attributes.ends_with('/') {
            return Some(("", &xml[content_start..]));
        }
        let close = format!("</{name}>");
        let content_len = xml[content_start..].find(&close)?;
        let content = &xml[content_start..content_start + content_len];
        return Some((content, &xml[content_start + content_len + close.len()..]));
    }
}

/// XML text with its entities (`&amp;`, `&lt;`, `&#x41;`, …) and CDATA sections decoded.
pub(crate) fn decode(text: &str) -> String {
    let mut decoded = String::with_capacity(text.len());
    let mut rest = text;
    loop {
        let next = rest.find(['&', '<']);
        let Some(at) = next else {
            decoded.push_str(rest);
            return decoded;
        };
        decoded.push_str(&rest[..at]);
        rest = &rest[at..];
        if let Some(cdata) = rest.strip_prefix("<![CDATA[") {
            let end = cdata.find("]]>").unwrap_or(cdata.len());
            decoded.push_str(&cdata[..end]);
            rest = cdata.get(end + 3..).unwrap_or("");
            continue;
        }
        if rest.starts_with('<') {
            decoded.push('<');
            rest = &rest[1..];
            continue;
        }
        let entity_end = rest.find(';').filter(|end| *end <= 12);
        let character = entity_end.and_then(|end| match &rest[1..end] {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            entity => {
                let code = match entity.strip_prefix("#x").or(entity.strip_prefix("#X")) {
                    Some(hex) => u32::from_str_radix(hex, 16).ok(),
                    None => entity.strip_prefix('#').and_then(|n| n.parse().ok()),
                };
                code.and_then(char::from_u32)
            }
        });
        match (character, entity_end) {
            (Some(character), Some(end)) => {
                decoded.push(character);
                rest = &rest[end + 1..];
            }
            _ => {
                decoded.push('&');
                rest = &rest[1..];
            }
        }
    }
}

/// `text` with `&`, `<`, `>`, `"` and `'` escaped, for the XML this client sends.
pub(crate) fn escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for character in text.chars() {
        match character {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&apos;"),
            other => escaped.push(other),
        }
    }
    escaped
}

/// S3's `Error` answer: its code and message, when the document is one.
pub(crate) fn error(xml: &str) -> Option<(String, String)> {
    let error = child(xml, "Error")?;
    Some((
        text(error, "Code").unwrap_or_default(),
        text(error, "Message").unwrap_or_default(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    const LISTING: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>b</Name><Prefix>p/</Prefix>
<KeyCount>2</KeyCount><IsTruncated>true</IsTruncated>
<NextContinuationToken>1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=</NextContinuationToken>
<Contents><Key>p/a &amp; b &lt;c&gt;</Key><LastModified>2009-10-12T17:50:30.000Z</LastModified>
<ETag>&quot;fba9dede5f27731c9771645a39863328&quot;</ETag><Size>434234</Size></Contents>
<Contents><Key>p/&#x65E5;&#26412;</Key><Size>0</Size><ETag>"e"</ETag></Contents>
<CommonPrefixes><Prefix>p/dir/</Prefix></CommonPrefixes><CommonPrefixesX/></ListBucketResult>"#;

    #[test]
    fn listings_are_read_with_entities_decoded() {
        let result = child(LISTING, "ListBucketResult").expect("the result");
        let contents = children(result, "Contents");
        let keys: Vec<String> = contents.iter().map(|c| text(c, "Key").unwrap()).collect();
        assert_eq!(keys, ["p/a & b <c>", "p/日本"]);
        assert_eq!(
            text(contents[0], "ETag").as_deref(),
            Some("\"fba9dede5f27731c9771645a39863328\"")
        );
        assert_eq!(text(result, "IsTruncated").as_deref(), Some("true"));
        let prefixes: Vec<String> = children(result, "CommonPrefixes")
            .iter()
            .map(|p| text(p, "Prefix").unwrap())
            .collect();
        assert_eq!(prefixes, ["p/dir/"]);
        assert_eq!(
            text(result, "NextContinuationToken").as_deref(),
            Some("1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=")
        );
    }

    #[test]
    fn errors_give_code_and_message() {
        let xml = "<?xml version=\"1.0\"?><Error><Code>NoSuchKey</Code>\
                   <Message>The specified key does not exist.</Message><Key>a</Key></Error>";
        assert_eq!(
            error(xml),
            Some((
                "NoSuchKey".to_string(),
                "The specified key does not exist.".to_string()
            ))
        );
        assert_eq!(
            error("<CopyObjectResult><ETag>x</ETag></CopyObjectResult>"),
            None
        );
    }

    #[test]
    fn odd_text_survives() {
        assert_eq!(decode("a &unknown; & b"), "a &unknown; & b");
        assert_eq!(decode("<![CDATA[<x> & y]]>!"), "<x> & y!");
        assert_eq!(decode(&escape("a<b>&\"c'")), "a<b>&\"c'");
        assert_eq!(text("<A/>", "A").as_deref(), Some(""));
    }
}
