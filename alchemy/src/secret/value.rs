//! The [`Secret`] type: a string that never shows itself.

use std::env::VarError;
use std::fmt;

use serde::de::{self, Deserializer, MapAccess, Unexpected, Visitor};
use serde::ser::{SerializeMap, Serializer};
use serde::{Deserialize, Serialize};

use super::{REDACTED, SEALED_MARKER, SECRET_MARKER};
use crate::error::{Error, Result};

/// A secret string: a password, an API token, a signing key.
///
/// `Debug` and `Display` print `[secret]`; the value is reached only through
/// [`Secret::expose`]. Serialized it is the marker `{"$secret": "<value>"}`, which the engine
/// seals before it reaches state and redacts before it reaches any output (see the
/// [module docs](crate::secret)).
///
/// Deserializing reads that marker back and nothing else: a plain string is refused, so that a
/// redacted `"[secret]"` can never come back as the value of a secret, and a sealed marker is
/// refused with a pointer to [`Cipher::open`](crate::secret::Cipher::open). No deserialization
/// error ever contains the value. It needs a self-describing format such as JSON.
///
/// ```
/// use alchemy::secret::Secret;
///
/// let token = Secret::new("s3cr3t");
/// assert_eq!(token.to_string(), "[secret]");
/// assert_eq!(format!("{token:?}"), "[secret]");
/// assert_eq!(token.expose(), "s3cr3t");
/// assert_eq!(serde_json::to_string(&token).unwrap(), r#"{"$secret":"s3cr3t"}"#);
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// A secret with this value.
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The value of the environment variable `var`, as a secret.
    ///
    /// Fails with [`Error::Config`] naming the variable when it is unset or not Unicode.
    pub fn from_env(var: &str) -> Result<Self> {
        from_var(var, std::env::var(var))
    }

    /// The value itself. Everything else about a `Secret` keeps it hidden.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

/// The secret for `var` from what [`std::env::var`] returned for it.
///
/// The error never formats `found` itself: `VarError::NotUnicode` carries the value.
fn from_var(var: &str, found: Result<String, VarError>) -> Result<Secret> {
    match found {
        Ok(value) => Ok(Secret(value)),
        Err(VarError::NotPresent) => Err(Error::Config(format!(
            "the environment variable `{var}` is not set: set it to the secret's value"
        ))),
        Err(VarError::NotUnicode(_)) => Err(Error::Config(format!(
            "the environment variable `{var}` is not valid Unicode: a secret must be text"
        ))),
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl Serialize for Secret {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(1))?;
        map.serialize_entry(SECRET_MARKER, &self.0)?;
        map.end()
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // `deserialize_any`, not `deserialize_map`: a deserializer refusing a non-map itself
        // would quote what it found, and what it found may be the secret.
        d.deserialize_any(MarkerVisitor)
    }
}

/// What a [`Secret`] is deserialized from, for error messages.
const EXPECTED_MARKER: &str = r#"a secret marker `{"$secret": "<value>"}`"#;

/// Reads `{"$secret": "<value>"}`. Every other input is refused by its type only, never with
/// its value (serde's default messages quote the value they did not expect).
struct MarkerVisitor;

impl<'de> Visitor<'de> for MarkerVisitor {
    type Value = Secret;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(EXPECTED_MARKER)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Secret, A::Error> {
        let mut value = None;
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                SECRET_MARKER if value.is_some() => {
                    return Err(de::Error::duplicate_field(SECRET_MARKER));
                }
                SECRET_MARKER => value = Some(map.next_value::<MarkerValue>()?.0),
                SEALED_MARKER => {
                    return Err(de::Error::custom(
                        "this secret is still sealed: open the value with `Cipher::open` before deserializing it",
                    ));
                }
                _ => return Err(de::Error::unknown_field(&key, &[SECRET_MARKER])),
            }
        }
        value
            .map(Secret)
            .ok_or_else(|| de::Error::missing_field(SECRET_MARKER))
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<Secret, E> {
        Err(E::custom(format!(
            "a plain string is not read as a secret: expected {EXPECTED_MARKER}; in code, use `Secret::new`"
        )))
    }

    fn visit_bytes<E: de::Error>(self, _: &[u8]) -> Result<Secret, E> {
        Err(E::invalid_type(Unexpected::Other("bytes"), &self))
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Secret, E> {
        Err(E::invalid_type(Unexpected::Other("a boolean"), &self))
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Secret, E> {
        Err(E::invalid_type(Unexpected::Other("a number"), &self))
    }

    fn visit_i128<E: de::Error>(self, _: i128) -> Result<Secret, E> {
        Err(E::invalid_type(Unexpected::Other("a number"), &self))
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Secret, E> {
        Err(E::invalid_type(Unexpected::Other("a number"), &self))
    }

    fn visit_u128<E: de::Error>(self, _: u128) -> Result<Secret, E> {
        Err(E::invalid_type(Unexpected::Other("a number"), &self))
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Secret, E> {
        Err(E::invalid_type(Unexpected::Other("a number"), &self))
    }
}

/// The string inside a secret marker; anything else is refused without quoting it.
struct MarkerValue(String);

impl<'de> Deserialize<'de> for MarkerValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(MarkerValueVisitor)
    }
}

struct MarkerValueVisitor;

impl<'de> Visitor<'de> for MarkerValueVisitor {
    type Value = MarkerValue;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the secret's value as a string")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<MarkerValue, E> {
        Ok(MarkerValue(v.to_string()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<MarkerValue, E> {
        Ok(MarkerValue(v))
    }

    fn visit_bytes<E: de::Error>(self, _: &[u8]) -> Result<MarkerValue, E> {
        Err(E::invalid_type(Unexpected::Other("bytes"), &self))
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<MarkerValue, E> {
        Err(E::invalid_type(Unexpected::Other("a boolean"), &self))
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<MarkerValue, E> {
        Err(E::invalid_type(Unexpected::Other("a number"), &self))
    }

    fn visit_i128<E: de::Error>(self, _: i128) -> Result<MarkerValue, E> {
        Err(E::invalid_type(Unexpected::Other("a number"), &self))
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<MarkerValue, E> {
        Err(E::invalid_type(Unexpected::Other("a number"), &self))
    }

    fn visit_u128<E: de::Error>(self, _: u128) -> Result<MarkerValue, E> {
        Err(E::invalid_type(Unexpected::Other("a number"), &self))
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<MarkerValue, E> {
        Err(E::invalid_type(Unexpected::Other("a number"), &self))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const VALUE: &str = "correct horse battery staple";

    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    struct Props {
        name: String,
        password: Secret,
    }

    fn props() -> Props {
        Props {
            name: "db".into(),
            password: Secret::new(VALUE),
        }
    }

    #[test]
    fn debug_and_display_hide_the_value() {
        let secret = Secret::new(VALUE);
        assert_eq!(format!("{secret}"), "[secret]");
        assert_eq!(format!("{secret:?}"), "[secret]");
        assert_eq!(format!("{secret:#?}"), "[secret]");

        let debug = format!("{:?}", props());
        assert_eq!(debug, r#"Props { name: "db", password: [secret] }"#);
        assert!(!format!("{:#?}", props()).contains(VALUE));
    }

    #[test]
    fn expose_gives_the_value() {
        assert_eq!(Secret::new(VALUE).expose(), VALUE);
        assert_eq!(Secret::new(String::from("x")).expose(), "x");
    }

    #[test]
    fn serializes_to_the_marker_and_nowhere_else() {
        let text = serde_json::to_string(&props()).unwrap();
        assert_eq!(
            text,
            r#"{"name":"db","password":{"$secret":"correct horse battery staple"}}"#
        );
        assert_eq!(text.matches(VALUE).count(), 1);
        assert_eq!(
            serde_json::to_value(props()).unwrap()["password"],
            json!({ "$secret": VALUE })
        );
    }

    #[test]
    fn deserializes_the_marker_back() {
        let text = serde_json::to_string(&props()).unwrap();
        assert_eq!(serde_json::from_str::<Props>(&text).unwrap(), props());
        let value = serde_json::to_value(props()).unwrap();
        assert_eq!(serde_json::from_value::<Props>(value).unwrap(), props());
    }

    #[test]
    fn refuses_anything_but_the_marker_without_quoting_it() {
        let refused = [
            json!(VALUE),
            json!({ "$secret": 1234567 }),
            json!({ "$secret": [VALUE] }),
            json!({ "$secret": VALUE, "other": VALUE }),
            json!({ "$sealed": VALUE }),
            json!({ "other": VALUE }),
            json!({}),
            json!(1234567),
            json!(true),
            json!([VALUE]),
        ];
        for value in refused {
            let text = value.to_string();
            let from_value = serde_json::from_value::<Secret>(value)
                .unwrap_err()
                .to_string();
            let from_str = serde_json::from_str::<Secret>(&text)
                .unwrap_err()
                .to_string();
            for message in [from_value, from_str] {
                assert!(!message.contains(VALUE), "{message}");
                assert!(!message.contains("1234567"), "{message}");
            }
        }
    }

    #[test]
    fn refusals_say_what_to_do() {
        let plain = serde_json::from_value::<Secret>(json!("[secret]")).unwrap_err();
        assert!(plain.to_string().contains("plain string"), "{plain}");
        let sealed = serde_json::from_value::<Secret>(json!({ "$sealed": "AAAA" })).unwrap_err();
        assert!(sealed.to_string().contains("Cipher::open"), "{sealed}");
        let wrong = serde_json::from_value::<Secret>(json!({ "$secret": 5 })).unwrap_err();
        assert!(wrong.to_string().contains("a number"), "{wrong}");
    }

    #[test]
    fn clone_and_eq_compare_values() {
        let secret = Secret::new(VALUE);
        assert_eq!(secret.clone(), secret);
        assert_ne!(secret, Secret::new("other"));
    }

    #[test]
    fn from_env_reads_a_set_variable() {
        let secret = from_var("TOKEN", Ok(VALUE.to_string())).unwrap();
        assert_eq!(secret.expose(), VALUE);
    }

    #[test]
    fn from_env_names_an_unset_variable() {
        let err = Secret::from_env("ALCHEMY_TEST_SECRET_THAT_IS_NEVER_SET").unwrap_err();
        assert!(matches!(err, Error::Config(_)), "{err:?}");
        assert_eq!(
            err.to_string(),
            "the environment variable `ALCHEMY_TEST_SECRET_THAT_IS_NEVER_SET` is not set: set it to the secret's value"
        );
    }

    #[test]
    fn from_env_refuses_non_unicode_without_quoting_it() {
        let raw = std::ffi::OsString::from(VALUE);
        let err = from_var("TOKEN", Err(VarError::NotUnicode(raw))).unwrap_err();
        assert!(matches!(err, Error::Config(_)), "{err:?}");
        assert!(err.to_string().contains("`TOKEN`"));
        assert!(!err.to_string().contains(VALUE));
        assert!(!format!("{err:?}").contains(VALUE));
    }
}
