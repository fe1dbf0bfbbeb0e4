//! The datasource passwords' cipher: what `datasource.password` holds is never the
//! password, but AES-256-GCM ciphertext under a key the database does not have
//! (`SYNC_ENCRYPTION_KEY` locally, a Secrets Manager secret in AWS).
//!
//! # Stored form
//! `version (1 byte, = 1) ‖ nonce (12 random bytes) ‖ ciphertext ‖ tag (16 bytes)`, so a
//! stored password is [`OVERHEAD`] bytes longer than the password. The nonce is fresh for
//! every encryption (two encryptions of one password differ), and GCM's tag makes any
//! changed byte, or another key, fail to decrypt rather than yield garbage.
//!
//! The associated data is a fixed context ([`PASSWORD_CONTEXT`]), not a column of the row:
//! renaming a datasource must not make its password unreadable. It still binds the
//! ciphertext to its purpose (a value encrypted for something else under the same key does
//! not decrypt as a password). The version byte leaves room for another layout or key.
//!
//! Nothing here formats a key or a password: errors name what is wrong, never the value,
//! and [`PasswordCipher`]'s `Debug` shows nothing of its key.

use std::fmt;

use aes_gcm::{
    Aes256Gcm, Key, KeyInit, Nonce,
    aead::{Aead, AeadCore, OsRng, Payload},
};
use base64::Engine as _;
use secrecy::{ExposeSecret, SecretString, zeroize::Zeroize};

/// The layout version written as the first byte.
pub const VERSION: u8 = 1;

/// The associated data of every datasource password.
pub const PASSWORD_CONTEXT: &[u8] = b"datasource.password";

const NONCE_BYTES: usize = 12;
const TAG_BYTES: usize = 16;

/// How many bytes the stored form adds to the password (version, nonce, tag): 29.
pub const OVERHEAD: usize = 1 + NONCE_BYTES + TAG_BYTES;

/// The key's length: AES-256.
pub const KEY_BYTES: usize = 32;

/// Why a key could not be used or a stored password could not be read. Never holds a key,
/// a password or a stored value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VaultError {
    #[error(
        "the encryption key must be {KEY_BYTES} bytes written as 64 hex characters or 44 characters of base64: {0}"
    )]
    BadKey(String),
    #[error("the stored password is {0} bytes, too short to be a ciphertext")]
    TooShort(usize),
    #[error("the stored password has layout version {0}; this build reads version {VERSION}")]
    UnknownVersion(u8),
    #[error(
        "the stored password does not decrypt: another key, or the value was altered (GCM tag mismatch)"
    )]
    Undecryptable,
    #[error("the decrypted password is not UTF-8")]
    NotUtf8,
}

/// Encrypts and decrypts datasource passwords with one AES-256-GCM key.
#[derive(Clone)]
pub struct PasswordCipher {
    cipher: Aes256Gcm,
}

impl fmt::Debug for PasswordCipher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PasswordCipher").finish_non_exhaustive()
    }
}

impl PasswordCipher {
    /// The cipher of a 32-byte key.
    pub fn from_key_bytes(key: &[u8; KEY_BYTES]) -> Self {
        Self {
            cipher: Aes256Gcm::new(&Key::<Aes256Gcm>::from(*key)),
        }
    }

    /// The cipher of a key written as 64 hex characters or as 44 characters of (standard,
    /// padded) base64, surrounding white space ignored.
    ///
    /// # Errors
    /// [`VaultError::BadKey`] saying what is wrong with the text (its length, an invalid
    /// character), never the text itself.
    pub fn from_key_text(text: &SecretString) -> Result<Self, VaultError> {
        let text = text.expose_secret().trim();
        let mut bytes = match text.len() {
            64 => hex::decode(text)
                .map_err(|_| VaultError::BadKey("64 characters, but not all hex digits".into()))?,
            44 => base64::engine::general_purpose::STANDARD
                .decode(text)
                .map_err(|_| VaultError::BadKey("44 characters, but not valid base64".into()))?,
            other => {
                return Err(VaultError::BadKey(format!("got {other} characters")));
            }
        };
        let key: Result<[u8; KEY_BYTES], _> = bytes.as_slice().try_into();
        let cipher = key.map(|mut key| {
            let cipher = Self::from_key_bytes(&key);
            key.zeroize();
            cipher
        });
        let decoded_len = bytes.len();
        // The decoded key is wiped whatever happens; the cipher keeps its own expanded copy.
        bytes.zeroize();
        cipher.map_err(|_| {
            VaultError::BadKey(format!(
                "it decodes to {decoded_len} bytes, not {KEY_BYTES}"
            ))
        })
    }

    /// A new random key as 64 hex characters (for set-up scripts and tests).
    pub fn generate_key_hex() -> SecretString {
        let key = Aes256Gcm::generate_key(OsRng);
        SecretString::from(hex::encode(&key[..]))
    }

    /// The stored form of `plain`, with a fresh random nonce.
    pub fn encrypt(&self, plain: &str) -> Vec<u8> {
        let nonce = Aes256Gcm::generate_nonce(&mut OsRng);
        let sealed = self
            .cipher
            .encrypt(
                &nonce,
                Payload {
                    msg: plain.as_bytes(),
                    aad: PASSWORD_CONTEXT,
                },
            )
            // AES-GCM refuses only messages over 64 GiB; a password is not one.
            .expect("AES-256-GCM encrypts any message shorter than 64 GiB");
        let mut stored = Vec::with_capacity(1 + NONCE_BYTES + sealed.len());
        stored.push(VERSION);
        stored.extend_from_slice(&nonce[..]);
        stored.extend_from_slice(&sealed);
        stored
    }

    /// The password of a stored form written by [`PasswordCipher::encrypt`] with this key.
    ///
    /// # Errors
    /// A value too short or of another layout version, one that does not authenticate
    /// (another key, an altered byte), or a plaintext that is not UTF-8.
    pub fn decrypt(&self, stored: &[u8]) -> Result<SecretString, VaultError> {
        if stored.len() < OVERHEAD {
            return Err(VaultError::TooShort(stored.len()));
        }
        let (version, rest) = stored.split_at(1);
        if version[0] != VERSION {
            return Err(VaultError::UnknownVersion(version[0]));
        }
        let (nonce, sealed) = rest.split_at(NONCE_BYTES);
        let nonce: [u8; NONCE_BYTES] = nonce
            .try_into()
            .map_err(|_| VaultError::TooShort(stored.len()))?;
        let mut plain = self
            .cipher
            .decrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: sealed,
                    aad: PASSWORD_CONTEXT,
                },
            )
            .map_err(|_| VaultError::Undecryptable)?;
        match String::from_utf8(std::mem::take(&mut plain)) {
            Ok(text) => Ok(SecretString::from(text)),
            Err(error) => {
                error.into_bytes().zeroize();
                Err(VaultError::NotUtf8)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cipher() -> PasswordCipher {
        PasswordCipher::from_key_text(&SecretString::from("11".repeat(32))).expect("a valid key")
    }

    #[test]
    fn a_password_round_trips_and_is_not_stored_in_the_clear() {
        let cipher = cipher();
        for plain in ["s3cret-Pa55word", "", "密码 with spaces and ünïcode"] {
            let stored = cipher.encrypt(plain);
            assert_eq!(stored.len(), plain.len() + OVERHEAD);
            assert_eq!(stored[0], VERSION);
            if !plain.is_empty() {
                assert!(
                    !stored.windows(plain.len()).any(|w| w == plain.as_bytes()),
                    "the plaintext shows through"
                );
            }
            let back = cipher.decrypt(&stored).expect("decrypts");
            assert_eq!(back.expose_secret(), plain);
        }
    }

    #[test]
    fn two_encryptions_of_one_password_differ() {
        let cipher = cipher();
        let (a, b) = (cipher.encrypt("same"), cipher.encrypt("same"));
        assert_ne!(a, b, "a fresh nonce each time");
        assert_ne!(a[1..1 + NONCE_BYTES], b[1..1 + NONCE_BYTES]);
    }

    #[test]
    fn any_flipped_byte_fails_to_decrypt() {
        let cipher = cipher();
        let stored = cipher.encrypt("s3cret");
        for index in 0..stored.len() {
            let mut altered = stored.clone();
            altered[index] ^= 0x01;
            let error = cipher.decrypt(&altered).expect_err("altered");
            if index == 0 {
                assert_eq!(error, VaultError::UnknownVersion(VERSION ^ 1));
            } else {
                assert_eq!(error, VaultError::Undecryptable, "byte {index}");
            }
        }
        assert_eq!(
            cipher.decrypt(&stored[..OVERHEAD - 1]).expect_err("short"),
            VaultError::TooShort(OVERHEAD - 1)
        );
    }

    #[test]
    fn another_key_fails_and_the_error_says_nothing_secret() {
        let stored = cipher().encrypt("s3cret");
        let other = PasswordCipher::from_key_text(&PasswordCipher::generate_key_hex())
            .expect("a generated key");
        let error = other.decrypt(&stored).expect_err("another key");
        assert_eq!(error, VaultError::Undecryptable);
        assert!(!error.to_string().contains("s3cret"));
        assert!(!format!("{error:?}").contains("s3cret"));
    }

    #[test]
    fn keys_are_hex_or_base64_of_32_bytes_and_never_echoed() {
        let hex_key = "0123456789abcdef".repeat(4);
        let base64_key =
            base64::engine::general_purpose::STANDARD.encode(hex::decode(&hex_key).expect("hex"));
        assert_eq!(base64_key.len(), 44);
        let from_hex =
            PasswordCipher::from_key_text(&SecretString::from(hex_key.clone())).expect("hex key");
        let from_base64 =
            PasswordCipher::from_key_text(&SecretString::from(format!(" {base64_key}\n")))
                .expect("base64 key");
        // One key, two spellings: each decrypts what the other encrypted.
        let stored = from_hex.encrypt("pw");
        assert_eq!(
            from_base64
                .decrypt(&stored)
                .expect("same key")
                .expose_secret(),
            "pw"
        );
        assert!(!format!("{from_hex:?}").contains("0123"));
        assert_eq!(format!("{from_hex:?}"), "PasswordCipher { .. }");

        let bad = [
            String::new(),
            "short".into(),
            "zz".repeat(32),
            "0123456789abcdef".repeat(3),
            "!".repeat(44),
            // 44 characters of base64 that decode to 31 bytes, not 32.
            format!("{}==", "A".repeat(42)),
        ];
        for text in bad {
            let error = PasswordCipher::from_key_text(&SecretString::from(text.clone()))
                .expect_err("refused");
            assert!(
                matches!(error, VaultError::BadKey(_)),
                "{text:?}: {error:?}"
            );
            if text.len() > 4 {
                assert!(!error.to_string().contains(&text), "{error}");
            }
        }
    }
}
