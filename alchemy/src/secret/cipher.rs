//! Sealing secrets for state: XChaCha20-Poly1305 under a key from the environment.

use std::env::VarError;
use std::fmt;

use argon2::{Algorithm, Argon2, Params, Version};
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use serde_json::{Map, Value};

use super::json::{self, Marker};
use crate::error::{Error, Result};
use crate::state::SecretsHeader;

/// The environment variable holding a raw key: base64 of 32 bytes.
const KEY_VAR: &str = "ALCHEMY_SECRET_KEY";
/// The environment variable holding a passphrase.
const PASSPHRASE_VAR: &str = "ALCHEMY_PASSPHRASE";

/// `SecretsHeader::kdf` for a key derived from a passphrase with [`argon2_params`].
const KDF_ARGON2ID: &str = "argon2id";
/// `SecretsHeader::kdf` for a key given directly.
const KDF_RAW: &str = "raw";

const KEY_LEN: usize = 32;
const SALT_LEN: usize = 16;
const NONCE_LEN: usize = 24;
const TAG_LEN: usize = 16;

/// The known text sealed into `SecretsHeader::check`.
const CHECK_TEXT: &[u8] = b"alchemy secrets check";
/// The associated data of the check value, distinct from that of any secret.
const CHECK_AAD: &[u8] = b"alchemy/check/v1";
/// The associated data of a secret is this followed by its JSON pointer.
const SECRET_AAD_PREFIX: &str = "alchemy/secret/v1:";

/// The Argon2id parameters behind `kdf: "argon2id"`: the OWASP minimum that is also the
/// `argon2` crate's default (19 MiB, 2 passes, 1 lane). They are pinned here, not taken from the
/// crate, because a state sealed with them has to open with every later version of Alchemy;
/// different parameters would need a new `kdf` name.
fn argon2_params() -> Params {
    Params::new(19 * 1024, 2, 1, Some(KEY_LEN)).expect("the pinned Argon2 parameters are valid")
}

/// Seals and opens the secrets of one state.
///
/// A cipher is built once per process, from the environment with [`Cipher::from_env`] or from a
/// key or passphrase given directly. Building one from a passphrase runs Argon2id, which is
/// deliberately slow; clone the cipher rather than building another.
///
/// Each secret is sealed with XChaCha20-Poly1305 under a fresh random 24-byte nonce and stored
/// as `{"$sealed": "<base64 of nonce || ciphertext || tag>"}`. The secret's JSON pointer
/// relative to the value passed to [`Cipher::seal`] (`/env/0/value`) is the associated data,
/// so a sealed secret opens only where it was sealed: [`Cipher::open`] must be given the same
/// root (for example a resource's `props`) that `seal` was. Moving a sealed value to another
/// place fails to open, as tampering does.
///
/// Its `Debug` shows no key material.
#[derive(Clone)]
pub struct Cipher {
    aead: XChaCha20Poly1305,
    /// Whether the key was checked against an existing header. Only then can a secret that
    /// does not open be called damaged rather than sealed with another key.
    checked: bool,
}

impl fmt::Debug for Cipher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Cipher").finish_non_exhaustive()
    }
}

impl Cipher {
    /// The cipher for a state whose secrets header is `header` (`None` for a state without
    /// secrets yet), with the key from the environment, and the header to record.
    ///
    /// `ALCHEMY_SECRET_KEY` (base64 of 32 bytes) wins over `ALCHEMY_PASSPHRASE`; a variable set
    /// to the empty string counts as unset. See [`Cipher::from_key`] and
    /// [`Cipher::from_passphrase`] for what each does with `header`.
    ///
    /// # Errors
    /// [`Error::MissingSecretKey`] when neither is set, [`Error::InvalidSecretKey`] for a
    /// malformed key, [`Error::WrongSecretKey`] when the key does not open `header`.
    pub fn from_env(header: Option<&SecretsHeader>) -> Result<(Cipher, SecretsHeader)> {
        Self::from_lookup(header, |var| std::env::var(var))
    }

    /// [`Cipher::from_env`] with the environment read through `lookup`.
    fn from_lookup(
        header: Option<&SecretsHeader>,
        lookup: impl Fn(&str) -> Result<String, VarError>,
    ) -> Result<(Cipher, SecretsHeader)> {
        match lookup(KEY_VAR) {
            Ok(key) if !key.trim().is_empty() => return Self::from_key(parse_key(&key)?, header),
            Err(VarError::NotUnicode(_)) => return Err(Error::InvalidSecretKey),
            _ => {}
        }
        match lookup(PASSPHRASE_VAR) {
            Ok(passphrase) if !passphrase.is_empty() => Self::from_passphrase(&passphrase, header),
            Err(VarError::NotUnicode(_)) => Err(Error::Config(format!(
                "{PASSPHRASE_VAR} is not valid Unicode: use a passphrase made of text"
            ))),
            _ => Err(Error::MissingSecretKey),
        }
    }

    /// The cipher for the key `key`, and the header to record.
    ///
    /// Without `header`, a new one is made (`kdf: "raw"`, no salt). With one, whatever its
    /// `kdf`, the key must open its check value, and the header is returned as it is.
    ///
    /// # Errors
    /// [`Error::WrongSecretKey`] when `key` does not open `header`.
    pub fn from_key(
        key: [u8; KEY_LEN],
        header: Option<&SecretsHeader>,
    ) -> Result<(Cipher, SecretsHeader)> {
        Self::with_key(key, header, KDF_RAW, String::new())
    }

    /// The cipher for a key derived from `passphrase` with Argon2id, and the header to record.
    ///
    /// Without `header`, a random 16-byte salt is drawn and a new header made
    /// (`kdf: "argon2id"`). With one, its salt is used, the derived key must open its check
    /// value, and the header is returned as it is.
    ///
    /// # Errors
    /// [`Error::WrongSecretKey`] when the passphrase does not open `header`, or the header
    /// was made for a raw key; [`Error::Config`] for a header that is damaged or names a key
    /// derivation this version does not know.
    pub fn from_passphrase(
        passphrase: &str,
        header: Option<&SecretsHeader>,
    ) -> Result<(Cipher, SecretsHeader)> {
        let salt = match header {
            None => random::<SALT_LEN>()?.to_vec(),
            Some(header) => match header.kdf.as_str() {
                KDF_ARGON2ID => BASE64
                    .decode(&header.salt)
                    .map_err(|_| damaged_header("its salt is not base64"))?,
                KDF_RAW => return Err(Error::WrongSecretKey),
                other => {
                    return Err(Error::Config(format!(
                        "the secrets in state were sealed with a key derivation `{other}` that this version of Alchemy does not know: upgrade Alchemy"
                    )))
                }
            },
        };
        let mut key = [0; KEY_LEN];
        Argon2::new(Algorithm::Argon2id, Version::V0x13, argon2_params())
            .hash_password_into(passphrase.as_bytes(), &salt, &mut key)
            .map_err(|e| damaged_header(&format!("its salt does not suit Argon2id ({e})")))?;
        Self::with_key(key, header, KDF_ARGON2ID, BASE64.encode(&salt))
    }

    /// The cipher for `key`, checked against `header` if there is one, else with a new header
    /// made of `kdf`, `salt` and a fresh check value.
    fn with_key(
        key: [u8; KEY_LEN],
        header: Option<&SecretsHeader>,
        kdf: &str,
        salt: String,
    ) -> Result<(Cipher, SecretsHeader)> {
        let aead = XChaCha20Poly1305::new(&key.into());
        match header {
            Some(header) => {
                let cipher = Cipher {
                    aead,
                    checked: true,
                };
                let check = BASE64
                    .decode(&header.check)
                    .map_err(|_| damaged_header("its check value is not base64"))?;
                match cipher.decrypt(&check, CHECK_AAD) {
                    Some(text) if text == CHECK_TEXT => Ok((cipher, header.clone())),
                    _ => Err(Error::WrongSecretKey),
                }
            }
            None => {
                let cipher = Cipher {
                    aead,
                    checked: false,
                };
                let check = BASE64.encode(cipher.encrypt(CHECK_TEXT, CHECK_AAD)?);
                let header = SecretsHeader {
                    kdf: kdf.to_string(),
                    salt,
                    check,
                };
                Ok((cipher, header))
            }
        }
    }

    /// A copy of `value` with every `{"$secret": "<value>"}` replaced by
    /// `{"$sealed": "<base64>"}`, bound to its place in `value`. Sealed markers already in
    /// `value` are kept as they are.
    ///
    /// A value without secrets is only checked (no allocation) and cloned.
    ///
    /// # Errors
    /// [`Error::Config`] for a `$secret` marker that does not hold a string.
    pub fn seal(&self, value: &Value) -> Result<Value> {
        let mut value = value.clone();
        self.seal_in_place(&mut value)?;
        Ok(value)
    }

    /// [`Cipher::seal`] without the copy. On error, `value` may be partly sealed.
    ///
    /// # Errors
    /// As [`Cipher::seal`].
    pub fn seal_in_place(&self, value: &mut Value) -> Result<()> {
        if !json::has_secrets(value) {
            return Ok(());
        }
        json::rewrite(value, Marker::Secret, &mut |marker, pointer| {
            let Some(Value::String(secret)) = marker.get(Marker::Secret.key()) else {
                return Err(Error::Config(format!(
                    "the secret at `{}` is not a string: a secret marker is `{{\"$secret\": \"<value>\"}}`",
                    json::show(pointer)
                )));
            };
            let sealed = self.encrypt(secret.as_bytes(), aad(pointer).as_bytes())?;
            *marker = single(Marker::Sealed, BASE64.encode(sealed));
            Ok(())
        })
    }

    /// A copy of `value` with every `{"$sealed": "<base64>"}` opened back into
    /// `{"$secret": "<value>"}`. Secrets in the clear already in `value` are kept as they are.
    ///
    /// A value without sealed secrets is only checked (no allocation) and cloned.
    ///
    /// # Errors
    /// For a sealed value that does not open (tampered with, truncated, or moved from where it
    /// was sealed): [`Error::Config`] naming its place when this cipher was checked against the
    /// state's header, so the key is right and the value is damaged; [`Error::WrongSecretKey`]
    /// when it was built without a header and so cannot tell.
    pub fn open(&self, value: &Value) -> Result<Value> {
        let mut value = value.clone();
        self.open_in_place(&mut value)?;
        Ok(value)
    }

    /// [`Cipher::open`] without the copy. On error, `value` may be partly opened.
    ///
    /// # Errors
    /// As [`Cipher::open`].
    pub fn open_in_place(&self, value: &mut Value) -> Result<()> {
        if !json::has_sealed(value) {
            return Ok(());
        }
        json::rewrite(value, Marker::Sealed, &mut |marker, pointer| {
            let secret = marker
                .get(Marker::Sealed.key())
                .and_then(Value::as_str)
                .and_then(|text| BASE64.decode(text).ok())
                .and_then(|sealed| self.decrypt(&sealed, aad(pointer).as_bytes()))
                .and_then(|plain| String::from_utf8(plain).ok())
                .ok_or_else(|| self.unopenable(pointer))?;
            *marker = single(Marker::Secret, secret);
            Ok(())
        })
    }

    /// `nonce || ciphertext || tag` of `plain` under a fresh random nonce.
    fn encrypt(&self, plain: &[u8], aad: &[u8]) -> Result<Vec<u8>> {
        let nonce = random::<NONCE_LEN>()?;
        let sealed = self
            .aead
            .encrypt(XNonce::from_slice(&nonce), Payload { msg: plain, aad })
            .map_err(|_| {
                Error::Config("a secret is too long to seal (the limit is 256 GiB)".into())
            })?;
        Ok([nonce.as_slice(), &sealed].concat())
    }

    /// The plaintext of what [`Cipher::encrypt`] made, if it opens with this key and `aad`.
    fn decrypt(&self, sealed: &[u8], aad: &[u8]) -> Option<Vec<u8>> {
        if sealed.len() < NONCE_LEN + TAG_LEN {
            return None;
        }
        let (nonce, msg) = sealed.split_at(NONCE_LEN);
        self.aead
            .decrypt(XNonce::from_slice(nonce), Payload { msg, aad })
            .ok()
    }

    /// The error for a sealed secret at `pointer` that does not open.
    fn unopenable(&self, pointer: &str) -> Error {
        if !self.checked {
            return Error::WrongSecretKey;
        }
        Error::Config(format!(
            "the sealed secret at `{}` is damaged or was moved from where it was sealed: it does not open, although the key opens the other secrets of this state. Restore the state from its backup, or set the secret again and deploy",
            json::show(pointer)
        ))
    }
}

/// The key in `ALCHEMY_SECRET_KEY`: base64 (standard alphabet) of exactly 32 bytes.
fn parse_key(text: &str) -> Result<[u8; KEY_LEN]> {
    BASE64
        .decode(text.trim())
        .ok()
        .and_then(|bytes| bytes.try_into().ok())
        .ok_or(Error::InvalidSecretKey)
}

/// The associated data that binds a secret to its JSON pointer.
fn aad(pointer: &str) -> String {
    format!("{SECRET_AAD_PREFIX}{pointer}")
}

/// The marker object `{"<kind>": "<text>"}`.
fn single(kind: Marker, text: String) -> Value {
    Value::Object(Map::from_iter([(
        kind.key().to_string(),
        Value::String(text),
    )]))
}

/// `N` bytes from the operating system's random number generator.
fn random<const N: usize>() -> Result<[u8; N]> {
    let mut bytes = [0; N];
    getrandom::getrandom(&mut bytes).map_err(|e| {
        Error::Config(format!(
            "the operating system's random number generator failed ({e}); secrets cannot be sealed without it"
        ))
    })?;
    Ok(bytes)
}

/// The error for a secrets header that cannot be used.
fn damaged_header(detail: &str) -> Error {
    Error::Config(format!(
        "the secrets header in state is damaged: {detail}. Restore the state from its backup"
    ))
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use serde_json::json;

    use super::*;
    use crate::secret::{redact, Secret, SEALED_MARKER};

    const VALUE: &str = "correct horse battery staple";
    const PASSPHRASE: &str = "open sesame";
    const KEY: [u8; 32] = [7; 32];

    fn props() -> Value {
        json!({
            "name": "api",
            "env": [
                { "name": "TOKEN", "value": Secret::new(VALUE) },
                { "name": "MODE", "value": "prod" },
            ],
            "db": { "password": Secret::new("hunter2") },
        })
    }

    /// A fake environment holding `vars`.
    fn env(vars: &[(&str, &str)]) -> impl Fn(&str) -> Result<String, VarError> {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |name| vars.get(name).cloned().ok_or(VarError::NotPresent)
    }

    fn key_base64(key: [u8; 32]) -> String {
        BASE64.encode(key)
    }

    /// Every sealed string in `value`, in order.
    fn sealed_strings(value: &Value) -> Vec<String> {
        let mut out = Vec::new();
        let mut value = value.clone();
        json::rewrite::<()>(&mut value, Marker::Sealed, &mut |marker, _| {
            out.push(marker[SEALED_MARKER].as_str().unwrap().to_string());
            Ok(())
        })
        .unwrap();
        out
    }

    #[test]
    fn seal_then_open_round_trips() {
        let (cipher, _) = Cipher::from_key(KEY, None).unwrap();
        let sealed = cipher.seal(&props()).unwrap();
        assert!(has_sealed_only(&sealed));
        assert_eq!(sealed["name"], "api");
        assert_eq!(sealed["env"][1], json!({ "name": "MODE", "value": "prod" }));
        assert_eq!(cipher.open(&sealed).unwrap(), props());
    }

    fn has_sealed_only(value: &Value) -> bool {
        json::has_sealed(value) && !json::has_secrets(value)
    }

    #[test]
    fn sealed_json_does_not_contain_the_plaintext() {
        let (cipher, _) = Cipher::from_key(KEY, None).unwrap();
        let sealed = cipher.seal(&props()).unwrap().to_string();
        assert!(!sealed.contains(VALUE), "{sealed}");
        assert!(!sealed.contains("hunter2"), "{sealed}");
        assert!(!sealed.contains("$secret"), "{sealed}");
    }

    #[test]
    fn sealed_value_is_nonce_then_ciphertext_and_tag() {
        let (cipher, _) = Cipher::from_key(KEY, None).unwrap();
        let sealed = cipher.seal(&json!(Secret::new(VALUE))).unwrap();
        let bytes = BASE64
            .decode(sealed[SEALED_MARKER].as_str().unwrap())
            .unwrap();
        assert_eq!(bytes.len(), NONCE_LEN + VALUE.len() + TAG_LEN);
    }

    #[test]
    fn every_seal_uses_a_fresh_nonce() {
        let (cipher, _) = Cipher::from_key(KEY, None).unwrap();
        let same = json!([Secret::new(VALUE), Secret::new(VALUE)]);
        let once = sealed_strings(&cipher.seal(&same).unwrap());
        let twice = sealed_strings(&cipher.seal(&same).unwrap());
        assert_ne!(once[0], once[1]);
        assert_ne!(once[0], twice[0]);
        assert_ne!(once[0][..32], twice[0][..32]);
    }

    #[test]
    fn values_without_markers_pass_through_unchanged() {
        let (cipher, _) = Cipher::from_key(KEY, None).unwrap();
        let plain = json!({ "name": "api", "tags": ["a", { "b": null }], "size": 3 });
        assert_eq!(cipher.seal(&plain).unwrap(), plain);
        assert_eq!(cipher.open(&plain).unwrap(), plain);
        let mut in_place = plain.clone();
        cipher.seal_in_place(&mut in_place).unwrap();
        cipher.open_in_place(&mut in_place).unwrap();
        assert_eq!(in_place, plain);
    }

    #[test]
    fn seal_keeps_sealed_markers_and_open_keeps_clear_ones() {
        let (cipher, _) = Cipher::from_key(KEY, None).unwrap();
        let sealed = cipher.seal(&json!(Secret::new(VALUE))).unwrap();
        let mixed = json!({ "old": sealed, "new": Secret::new("fresh") });
        let resealed = cipher.seal(&mixed).unwrap();
        assert_eq!(resealed["old"], mixed["old"]);
        let opened = cipher
            .open(&json!({ "new": Secret::new("fresh") }))
            .unwrap();
        assert_eq!(opened, json!({ "new": Secret::new("fresh") }));
    }

    #[test]
    fn in_place_matches_the_copying_walkers() {
        let (cipher, _) = Cipher::from_key(KEY, None).unwrap();
        let mut value = props();
        cipher.seal_in_place(&mut value).unwrap();
        assert!(has_sealed_only(&value));
        cipher.open_in_place(&mut value).unwrap();
        assert_eq!(value, props());
    }

    #[test]
    fn seal_refuses_a_marker_without_a_string() {
        let (cipher, _) = Cipher::from_key(KEY, None).unwrap();
        let err = cipher
            .seal(&json!({ "port": { "$secret": 8080 } }))
            .unwrap_err();
        assert!(matches!(err, Error::Config(_)), "{err:?}");
        assert!(err.to_string().contains("`/port`"), "{err}");
        assert!(!err.to_string().contains("8080"), "{err}");
    }

    #[test]
    fn a_new_header_opens_again_with_the_same_key() {
        let (cipher, header) = Cipher::from_key(KEY, None).unwrap();
        assert_eq!(header.kdf, "raw");
        assert_eq!(header.salt, "");
        let sealed = cipher.seal(&props()).unwrap();

        let (again, same) = Cipher::from_key(KEY, Some(&header)).unwrap();
        assert_eq!(same, header);
        assert_eq!(again.open(&sealed).unwrap(), props());
    }

    #[test]
    fn wrong_key_is_refused_by_the_header() {
        let (_, header) = Cipher::from_key(KEY, None).unwrap();
        let err = Cipher::from_key([8; 32], Some(&header)).unwrap_err();
        assert!(matches!(err, Error::WrongSecretKey), "{err:?}");
    }

    #[test]
    fn same_passphrase_and_header_reproduce_the_key() {
        let (cipher, header) = Cipher::from_passphrase(PASSPHRASE, None).unwrap();
        assert_eq!(header.kdf, "argon2id");
        assert_eq!(BASE64.decode(&header.salt).unwrap().len(), SALT_LEN);
        let sealed = cipher.seal(&props()).unwrap();

        let (again, same) = Cipher::from_passphrase(PASSPHRASE, Some(&header)).unwrap();
        assert_eq!(same, header);
        assert_eq!(again.open(&sealed).unwrap(), props());

        let err = Cipher::from_passphrase("open sesame!", Some(&header)).unwrap_err();
        assert!(matches!(err, Error::WrongSecretKey), "{err:?}");
        assert!(!err.to_string().contains(PASSPHRASE), "{err}");
    }

    #[test]
    fn new_passphrase_headers_get_their_own_salt() {
        let (_, one) = Cipher::from_passphrase(PASSPHRASE, None).unwrap();
        let (_, two) = Cipher::from_passphrase(PASSPHRASE, None).unwrap();
        assert_ne!(one.salt, two.salt);
        assert_ne!(one.check, two.check);
    }

    #[test]
    fn argon2id_is_pinned_to_the_recorded_parameters() {
        // A header written with the parameters `kdf: "argon2id"` stands for must keep opening.
        let salt = [1; SALT_LEN];
        let mut key = [0; KEY_LEN];
        Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(19456, 2, 1, Some(32)).unwrap(),
        )
        .hash_password_into(PASSPHRASE.as_bytes(), &salt, &mut key)
        .unwrap();
        let (_, mut header) = Cipher::from_key(key, None).unwrap();
        header.kdf = KDF_ARGON2ID.into();
        header.salt = BASE64.encode(salt);
        assert!(Cipher::from_passphrase(PASSPHRASE, Some(&header)).is_ok());
    }

    #[test]
    fn a_raw_key_opens_a_passphrase_header_only_if_it_is_the_derived_key() {
        let (_, header) = Cipher::from_passphrase(PASSPHRASE, None).unwrap();
        let err = Cipher::from_key(KEY, Some(&header)).unwrap_err();
        assert!(matches!(err, Error::WrongSecretKey), "{err:?}");
    }

    #[test]
    fn a_passphrase_does_not_open_a_raw_key_header() {
        let (_, header) = Cipher::from_key(KEY, None).unwrap();
        let err = Cipher::from_passphrase(PASSPHRASE, Some(&header)).unwrap_err();
        assert!(matches!(err, Error::WrongSecretKey), "{err:?}");
    }

    #[test]
    fn an_unknown_kdf_asks_for_an_upgrade() {
        let (_, mut header) = Cipher::from_key(KEY, None).unwrap();
        header.kdf = "scrypt".into();
        let err = Cipher::from_passphrase(PASSPHRASE, Some(&header)).unwrap_err();
        assert!(matches!(err, Error::Config(_)), "{err:?}");
        assert!(err.to_string().contains("`scrypt`"), "{err}");
        assert!(err.to_string().contains("upgrade Alchemy"), "{err}");
    }

    #[test]
    fn a_damaged_header_is_reported_as_such() {
        let (_, header) = Cipher::from_key(KEY, None).unwrap();
        let bad_check = SecretsHeader {
            check: "not base64!".into(),
            ..header.clone()
        };
        let err = Cipher::from_key(KEY, Some(&bad_check)).unwrap_err();
        assert!(err.to_string().contains("check value"), "{err}");

        let bad_salt = SecretsHeader {
            kdf: KDF_ARGON2ID.into(),
            salt: "not base64!".into(),
            ..header.clone()
        };
        let err = Cipher::from_passphrase(PASSPHRASE, Some(&bad_salt)).unwrap_err();
        assert!(err.to_string().contains("salt"), "{err}");

        let short_salt = SecretsHeader {
            kdf: KDF_ARGON2ID.into(),
            salt: BASE64.encode([1; 4]),
            ..header
        };
        let err = Cipher::from_passphrase(PASSPHRASE, Some(&short_salt)).unwrap_err();
        assert!(matches!(err, Error::Config(_)), "{err:?}");
        assert!(err.to_string().contains("salt"), "{err}");
    }

    #[test]
    fn a_tampered_ciphertext_does_not_open() {
        let (cipher, header) = Cipher::from_key(KEY, None).unwrap();
        let (checked, _) = Cipher::from_key(KEY, Some(&header)).unwrap();
        let sealed = cipher
            .seal(&json!({ "token": Secret::new(VALUE) }))
            .unwrap();
        let mut bytes = BASE64.decode(sealed_strings(&sealed)[0].as_str()).unwrap();

        for index in [0, NONCE_LEN, bytes.len() - 1] {
            bytes[index] ^= 1;
            let tampered = json!({ "token": { "$sealed": BASE64.encode(&bytes) } });
            bytes[index] ^= 1;
            let err = checked.open(&tampered).unwrap_err();
            assert!(matches!(err, Error::Config(_)), "{err:?}");
            assert!(err.to_string().contains("`/token` is damaged"), "{err}");
            assert!(matches!(cipher.open(&tampered), Err(Error::WrongSecretKey)));
        }

        for broken in [
            json!("not base64!"),
            json!(BASE64.encode([0; 10])),
            json!(5),
        ] {
            let err = checked.open(&json!({ "token": { "$sealed": broken } }));
            assert!(matches!(err, Err(Error::Config(_))), "{err:?}");
        }
    }

    #[test]
    fn a_sealed_secret_opens_only_where_it_was_sealed() {
        let (cipher, header) = Cipher::from_key(KEY, None).unwrap();
        let (checked, _) = Cipher::from_key(KEY, Some(&header)).unwrap();
        let sealed = cipher
            .seal(&json!({ "public": "x", "private": Secret::new(VALUE) }))
            .unwrap();
        let moved = json!({ "public": sealed["private"].clone() });
        let err = checked.open(&moved).unwrap_err();
        assert!(err.to_string().contains("`/public`"), "{err}");
    }

    #[test]
    fn a_secret_sealed_with_another_key_does_not_open() {
        let (one, _) = Cipher::from_key(KEY, None).unwrap();
        let (two, _) = Cipher::from_key([8; 32], None).unwrap();
        let sealed = one.seal(&props()).unwrap();
        assert!(matches!(two.open(&sealed), Err(Error::WrongSecretKey)));
    }

    #[test]
    fn redact_removes_sealed_and_clear_secrets() {
        let (cipher, _) = Cipher::from_key(KEY, None).unwrap();
        let sealed = cipher.seal(&props()).unwrap();
        assert_eq!(redact(&sealed), redact(&props()));
        assert_eq!(redact(&sealed)["db"], json!({ "password": "[secret]" }));
    }

    #[test]
    fn errors_never_contain_the_secret() {
        let (cipher, header) = Cipher::from_key(KEY, None).unwrap();
        let (checked, _) = Cipher::from_key(KEY, Some(&header)).unwrap();
        let sealed = cipher.seal(&json!({ "a": Secret::new(VALUE) })).unwrap();
        let text = sealed_strings(&sealed)[0].clone();
        let moved = json!({ "b": { "$sealed": text } });
        let errors = [
            checked.open(&moved).unwrap_err(),
            cipher.open(&moved).unwrap_err(),
            Cipher::from_passphrase(VALUE, Some(&header)).unwrap_err(),
            Cipher::from_lookup(None, env(&[(KEY_VAR, VALUE)])).unwrap_err(),
            Cipher::from_key([8; 32], Some(&header)).unwrap_err(),
        ];
        for err in errors {
            for shown in [err.to_string(), format!("{err:?}")] {
                assert!(!shown.contains(VALUE), "{shown}");
                assert!(!shown.contains(&text), "{shown}");
            }
        }
    }

    #[test]
    fn debug_shows_no_key_material() {
        let (cipher, _) = Cipher::from_key([0xAB; 32], None).unwrap();
        let debug = format!("{cipher:?}");
        assert_eq!(debug, "Cipher { .. }");
        assert_eq!(format!("{cipher:#?}"), "Cipher { .. }");
    }

    #[test]
    fn env_missing_both_is_missing_secret_key() {
        let err = Cipher::from_lookup(None, env(&[])).unwrap_err();
        assert!(matches!(err, Error::MissingSecretKey), "{err:?}");
        assert_eq!(
            err.to_string(),
            "this stack has secrets but no key to encrypt them: set ALCHEMY_PASSPHRASE (any passphrase) or ALCHEMY_SECRET_KEY (32 bytes, base64)"
        );
        let empty = Cipher::from_lookup(None, env(&[(KEY_VAR, ""), (PASSPHRASE_VAR, "")]));
        assert!(matches!(empty, Err(Error::MissingSecretKey)));
    }

    #[test]
    fn env_key_is_used_and_wins_over_the_passphrase() {
        let (_, header) = Cipher::from_key(KEY, None).unwrap();
        let vars = [
            (KEY_VAR, key_base64(KEY)),
            (PASSPHRASE_VAR, "unused".into()),
        ];
        let vars: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let (cipher, same) = Cipher::from_lookup(Some(&header), env(&vars)).unwrap();
        assert_eq!(same, header);
        let (fresh, new_header) = Cipher::from_lookup(None, env(&vars)).unwrap();
        assert_eq!(new_header.kdf, "raw");
        let sealed = fresh.seal(&props()).unwrap();
        assert_eq!(cipher.open(&sealed).unwrap(), props());
    }

    #[test]
    fn env_key_may_carry_surrounding_whitespace() {
        let padded = format!(" {}\n", key_base64(KEY));
        let (_, header) = Cipher::from_key(KEY, None).unwrap();
        assert!(Cipher::from_lookup(Some(&header), env(&[(KEY_VAR, &padded)])).is_ok());
    }

    #[test]
    fn env_passphrase_is_used_without_a_key() {
        let (cipher, header) =
            Cipher::from_lookup(None, env(&[(PASSPHRASE_VAR, PASSPHRASE)])).unwrap();
        assert_eq!(header.kdf, "argon2id");
        let sealed = cipher.seal(&props()).unwrap();
        let (again, _) =
            Cipher::from_lookup(Some(&header), env(&[(PASSPHRASE_VAR, PASSPHRASE)])).unwrap();
        assert_eq!(again.open(&sealed).unwrap(), props());
        let wrong = Cipher::from_lookup(Some(&header), env(&[(PASSPHRASE_VAR, "nope")]));
        assert!(matches!(wrong, Err(Error::WrongSecretKey)));
    }

    #[test]
    fn env_key_must_be_base64_of_32_bytes() {
        for bad in [
            "not base64!".to_string(),
            BASE64.encode([1; 31]),
            BASE64.encode([1; 33]),
            key_base64(KEY).replace('=', ""),
        ] {
            let err = Cipher::from_lookup(None, env(&[(KEY_VAR, &bad)])).unwrap_err();
            assert!(matches!(err, Error::InvalidSecretKey), "{bad}: {err:?}");
            assert!(err.to_string().contains("openssl rand -base64 32"));
            assert!(!err.to_string().contains(&bad));
        }
        let not_unicode = Cipher::from_lookup(None, |_| {
            Err(VarError::NotUnicode(std::ffi::OsString::from("x")))
        });
        assert!(matches!(not_unicode, Err(Error::InvalidSecretKey)));
    }

    #[test]
    fn from_env_reads_the_process_environment() {
        // Reads only: no test sets these variables, so nothing races.
        let unset = |var| match std::env::var(var) {
            Ok(value) => value.trim().is_empty(),
            Err(VarError::NotPresent) => true,
            Err(VarError::NotUnicode(_)) => false,
        };
        let missing = matches!(Cipher::from_env(None), Err(Error::MissingSecretKey));
        assert_eq!(missing, unset(KEY_VAR) && unset(PASSPHRASE_VAR));
    }
}
