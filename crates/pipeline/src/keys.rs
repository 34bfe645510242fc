//! ed25519 keys for certification: generation, stable key ids, and the signed message.
//!
//! A signature covers a domain-separation prefix and the skill's content hash, so a key used
//! for skillgate cannot be tricked into signing anything else that verifies here.

use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use sha2::{Digest, Sha256};

const DOMAIN: &[u8] = b"skillgate-certify-v1\0";

/// A key file or key text that cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    #[error("a key must be 64 hex digits (32 bytes): {0}")]
    Malformed(String),
    #[error("not a valid ed25519 public key")]
    InvalidPublic,
}

fn bytes32(text: &str) -> Result<[u8; 32], KeyError> {
    let raw = hex::decode(text.trim()).map_err(|e| KeyError::Malformed(e.to_string()))?;
    raw.try_into()
        .map_err(|v: Vec<u8>| KeyError::Malformed(format!("{} bytes", v.len())))
}

/// A fresh signing key from the OS's randomness.
pub fn generate() -> SigningKey {
    SigningKey::generate(&mut rand::rngs::OsRng)
}

pub fn signing_key_from_hex(text: &str) -> Result<SigningKey, KeyError> {
    Ok(SigningKey::from_bytes(&bytes32(text)?))
}

pub fn public_key_from_hex(text: &str) -> Result<VerifyingKey, KeyError> {
    VerifyingKey::from_bytes(&bytes32(text)?).map_err(|_| KeyError::InvalidPublic)
}

/// The short, stable name of a public key: the first 16 hex digits of its SHA-256.
pub fn key_id(key: &VerifyingKey) -> String {
    hex::encode(&Sha256::digest(key.as_bytes())[..8])
}

fn message(content_hash: &str) -> Vec<u8> {
    [DOMAIN, content_hash.as_bytes()].concat()
}

/// Signs a skill's content hash; returns the signature as hex.
pub fn sign(key: &SigningKey, content_hash: &str) -> String {
    hex::encode(key.sign(&message(content_hash)).to_bytes())
}

/// Whether `signature_hex` is `key`'s signature over `content_hash`.
pub fn verify(key: &VerifyingKey, content_hash: &str, signature_hex: &str) -> bool {
    let Ok(raw) = hex::decode(signature_hex) else {
        return false;
    };
    let Ok(bytes) = <[u8; 64]>::try_from(raw.as_slice()) else {
        return false;
    };
    key.verify(&message(content_hash), &Signature::from_bytes(&bytes))
        .is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_bind_key_and_content() {
        let key = generate();
        let other = generate();
        let sig = sign(&key, "sha256:aa");
        assert!(verify(&key.verifying_key(), "sha256:aa", &sig));
        assert!(!verify(&key.verifying_key(), "sha256:ab", &sig));
        assert!(!verify(&other.verifying_key(), "sha256:aa", &sig));
        assert!(!verify(&key.verifying_key(), "sha256:aa", "zz"));
        let round = signing_key_from_hex(&hex::encode(key.to_bytes())).unwrap();
        assert_eq!(key_id(&round.verifying_key()), key_id(&key.verifying_key()));
        assert!(public_key_from_hex("abcd").is_err());
    }
}
