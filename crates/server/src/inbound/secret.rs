//! Secrets kept at rest (an IMAP mailbox's password), sealed with ChaCha20-Poly1305 under the
//! server's key (`ladder serve --secret-key`, or `LADDER_SECRET_KEY`: 32 bytes as 64 hex
//! digits). Each sealing has a fresh random nonce, and the organisation's id is bound in as
//! associated data, so a sealed value copied to another organisation's row does not open.

use base64::Engine;
use chacha20poly1305::aead::{Aead, Payload};
use chacha20poly1305::{ChaCha20Poly1305, KeyInit, Nonce};
use rand::RngCore;
use secrecy::{ExposeSecret, SecretSlice, SecretString};

/// What a sealed value starts with: the format's version.
const PREFIX: &str = "v1:";

/// The server's key.
#[derive(Clone)]
pub struct SecretKey(SecretSlice<u8>);

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretKey(..)")
    }
}

impl SecretKey {
    /// A key from its 64 hex digits.
    pub fn from_hex(hex_digits: &str) -> Result<SecretKey, String> {
        let bytes = hex::decode(hex_digits.trim())
            .map_err(|e| format!("the secret key must be 64 hex digits: {e}"))?;
        if bytes.len() != 32 {
            return Err(format!(
                "the secret key must be 32 bytes (64 hex digits), not {}",
                bytes.len()
            ));
        }
        Ok(SecretKey(SecretSlice::from(bytes)))
    }

    fn cipher(&self) -> Result<ChaCha20Poly1305, String> {
        ChaCha20Poly1305::new_from_slice(self.0.expose_secret())
            .map_err(|e| format!("the secret key: {e}"))
    }

    /// Seals `plain` for the organisation `tenant`.
    pub fn seal(&self, tenant: &str, plain: &SecretString) -> Result<String, String> {
        let mut nonce = [0u8; 12];
        rand::thread_rng().fill_bytes(&mut nonce);
        let sealed = self
            .cipher()?
            .encrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: plain.expose_secret().as_bytes(),
                    aad: tenant.as_bytes(),
                },
            )
            .map_err(|e| format!("sealing a secret: {e}"))?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&sealed);
        Ok(format!(
            "{PREFIX}{}",
            base64::engine::general_purpose::STANDARD.encode(out)
        ))
    }

    /// Opens what [`SecretKey::seal`] sealed for `tenant`. Another key, another organisation
    /// or a changed byte is an error, never a wrong password.
    pub fn open(&self, tenant: &str, sealed: &str) -> Result<SecretString, String> {
        let body = sealed
            .strip_prefix(PREFIX)
            .ok_or_else(|| "a sealed secret of an unknown format".to_owned())?;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(body)
            .map_err(|e| format!("a sealed secret that is not base64: {e}"))?;
        if bytes.len() < 12 + 16 {
            return Err("a sealed secret too short to hold its nonce and tag".into());
        }
        let (nonce, sealed) = bytes.split_at(12);
        let nonce = Nonce::try_from(nonce).map_err(|e| format!("the sealed nonce: {e}"))?;
        let plain = self
            .cipher()?
            .decrypt(
                &nonce,
                Payload {
                    msg: sealed,
                    aad: tenant.as_bytes(),
                },
            )
            .map_err(|_| {
                "the sealed secret does not open with this server's key (another key, or changed)"
                    .to_owned()
            })?;
        String::from_utf8(plain)
            .map(SecretString::from)
            .map_err(|e| format!("the opened secret is not UTF-8: {e}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_secret_opens_only_with_its_key_and_organisation() {
        let key = SecretKey::from_hex(&"11".repeat(32)).expect("key");
        let other = SecretKey::from_hex(&"22".repeat(32)).expect("key");
        let sealed = key
            .seal("t1", &SecretString::from("hunter2"))
            .expect("seal");
        assert!(!sealed.contains("hunter2"));
        assert_eq!(
            key.open("t1", &sealed).expect("open").expose_secret(),
            "hunter2"
        );
        assert!(key.open("t2", &sealed).is_err());
        assert!(other.open("t1", &sealed).is_err());
        // Two sealings of one password differ (fresh nonces).
        assert_ne!(
            sealed,
            key.seal("t1", &SecretString::from("hunter2"))
                .expect("seal")
        );
        assert!(SecretKey::from_hex("abcd").is_err());
    }
}
