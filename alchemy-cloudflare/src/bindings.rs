//! How logical ids become the names of a Worker's bindings.

/// The name of the binding under which a Worker reaches the resource with the logical id `id`:
/// the id upper-cased, with every character other than a letter or digit as `_`, as on every
/// platform (`user-photos` is bound as `USER_PHOTOS`).
///
/// ```
/// assert_eq!(alchemy_cloudflare::binding_name("user-photos"), "USER_PHOTOS");
/// ```
pub fn binding_name(id: &str) -> String {
    id.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect()
}
