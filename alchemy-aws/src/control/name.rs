//! AWS-valid names (S3 buckets, IAM roles and users, Lambda functions) from physical names.

/// The bucket name for `physical_name`: lower-cased, every character S3 does not allow made a
/// `-`, runs of `-` and `.` collapsed, trimmed to start and end with a letter or digit, and
/// 3 to 63 characters long. A name that had to be cut (or padded) ends in `-` and eight hex
/// digits of a hash of the whole physical name, so two long names that share a prefix still
/// differ, and the same physical name always gives the same bucket name.
pub fn bucket_name(physical_name: &str) -> String {
    const MAX: usize = 63;
    const MIN: usize = 3;
    let mut name = String::with_capacity(physical_name.len());
    for c in physical_name.chars() {
        let c = c.to_ascii_lowercase();
        let c = if c.is_ascii_lowercase() || c.is_ascii_digit() {
            c
        } else {
            '-'
        };
        if c == '-' && name.ends_with('-') {
            continue;
        }
        name.push(c);
    }
    let trimmed = name.trim_matches('-');
    if (MIN..=MAX).contains(&trimmed.len()) {
        return trimmed.to_owned();
    }
    let suffix = format!("{:08x}", fnv1a(physical_name.as_bytes()) & 0xffff_ffff);
    let keep = MAX - suffix.len() - 1;
    let head = trimmed[..trimmed.len().min(keep)].trim_end_matches('-');
    if head.is_empty() {
        format!("b-{suffix}")
    } else {
        format!("{head}-{suffix}")
    }
}

/// The IAM role name for `physical_name`: every character IAM does not allow (letters, digits
/// and `+=,.@_-` are allowed) made a `-`, at most 64 characters. A name that had to be cut
/// ends in `-` and eight hex digits of a hash of the whole physical name, so it is stable and
/// two long names that share a prefix still differ.
pub fn role_name(physical_name: &str) -> String {
    limited(physical_name, 64, |c| {
        c.is_ascii_alphanumeric() || "+=,.@_-".contains(c)
    })
}

/// The IAM user name for `physical_name`: the same rules as [`role_name`] (IAM allows the
/// same characters and length in both).
pub fn user_name(physical_name: &str) -> String {
    role_name(physical_name)
}

/// The Lambda function name for `physical_name`: every character Lambda does not allow
/// (letters, digits, `-` and `_` are allowed) made a `-`, at most 64 characters, cut and
/// suffixed with a hash like [`role_name`] when longer.
pub fn function_name(physical_name: &str) -> String {
    limited(physical_name, 64, |c| {
        c.is_ascii_alphanumeric() || c == '-' || c == '_'
    })
}

/// `physical_name` with every character `allowed` refuses made a `-`, cut to `max`
/// characters with a hash suffix when longer.
fn limited(physical_name: &str, max: usize, allowed: fn(char) -> bool) -> String {
    let name: String = physical_name
        .chars()
        .map(|c| if allowed(c) { c } else { '-' })
        .collect();
    if !name.is_empty() && name.len() <= max {
        return name;
    }
    let suffix = format!("{:08x}", fnv1a(physical_name.as_bytes()) & 0xffff_ffff);
    let head = &name[..name.len().min(max - suffix.len() - 1)];
    format!("{head}-{suffix}")
}

/// FNV-1a, 64 bits: a small stable hash (not for security, only to tell names apart).
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, b| {
        (hash ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::{bucket_name, function_name, role_name};

    fn valid(name: &str) -> bool {
        (3..=63).contains(&name.len())
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !name.starts_with('-')
            && !name.ends_with('-')
    }

    #[test]
    fn short_names_are_lower_cased_and_cleaned() {
        assert_eq!(
            bucket_name("photo-share-dev-photos"),
            "photo-share-dev-photos"
        );
        assert_eq!(
            bucket_name("Photo_Share-Dev-Photos"),
            "photo-share-dev-photos"
        );
        assert_eq!(bucket_name("app--stage__x"), "app-stage-x");
    }

    #[test]
    fn long_names_are_cut_and_suffixed_with_a_hash() {
        let long = format!("app-stage-{}", "a".repeat(80));
        let name = bucket_name(&long);
        assert!(valid(&name), "{name}");
        assert_eq!(name.len(), 63);
        assert!(name.starts_with("app-stage-aaaa"), "{name}");
        assert_eq!(name, bucket_name(&long), "the name is stable");
        let other = format!("app-stage-{}b", "a".repeat(80));
        assert_ne!(
            name,
            bucket_name(&other),
            "names sharing a prefix still differ"
        );
    }

    #[test]
    fn too_short_or_empty_names_are_padded() {
        let name = bucket_name("a");
        assert!(valid(&name), "{name}");
        assert!(name.starts_with("a-"), "{name}");
        let name = bucket_name("__");
        assert!(valid(&name), "{name}");
    }

    #[test]
    fn role_and_function_names_keep_short_names_and_cut_long_ones() {
        assert_eq!(
            role_name("photo-share-dev-api-role"),
            "photo-share-dev-api-role"
        );
        assert_eq!(function_name("photo-share-dev-api"), "photo-share-dev-api");
        assert_eq!(function_name("app.stage+x"), "app-stage-x");
        assert_eq!(role_name("app.stage+x"), "app.stage+x");
        let long = format!("app-stage-{}", "a".repeat(80));
        for name in [role_name(&long), function_name(&long)] {
            assert_eq!(name.len(), 64, "{name}");
            assert!(name.starts_with("app-stage-aaaa"), "{name}");
        }
        assert_eq!(role_name(&long), role_name(&long), "the name is stable");
        assert_ne!(role_name(&long), role_name(&format!("{long}b")));
    }
}
