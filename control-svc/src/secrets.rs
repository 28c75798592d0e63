//! Secrets: API key generation and digests, encryption of keys at rest, password hashing, and the
//! generated-on-first-start secrets kept in the data directory.

use std::path::Path;

use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use base64::Engine;
use rand::Rng;
use sha2::{Digest, Sha256};

use crate::error::ControlError;

const KEY_ALPHABET: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";

/// 48 random characters from `[0-9a-zA-Z]`, as Veloera generates (shown to users with an `sk-` prefix).
pub fn generate_token_key() -> String {
    random_string(48)
}

pub fn random_string(len: usize) -> String {
    let mut rng = rand::rng();
    (0..len).map(|_| KEY_ALPHABET[rng.random_range(0..KEY_ALPHABET.len())] as char).collect()
}

/// SHA-256 of the key without `sk-`: what the database indexes and what relays send to `Authorize`.
pub fn key_digest(key: &str) -> [u8; 32] {
    Sha256::digest(key.as_bytes()).into()
}

/// `sk-abcd**********wxyz`: enough to recognise a key, useless to an attacker.
pub fn mask_token_key(key: &str) -> String {
    format!("sk-{}", mask(key))
}

/// Masks any secret: first and last four characters kept when it is long enough.
pub fn mask(secret: &str) -> String {
    let chars: Vec<char> = secret.chars().collect();
    if chars.len() < 12 {
        return "*".repeat(chars.len().max(4));
    }
    let head: String = chars[..4].iter().collect();
    let tail: String = chars[chars.len() - 4..].iter().collect();
    format!("{head}**********{tail}")
}

/// AES-256-GCM with a key derived from `CRYPTO_SECRET`; output is base64(nonce ‖ ciphertext).
#[derive(Clone)]
pub struct Cipher {
    aead: Aes256Gcm,
}

impl Cipher {
    pub fn new(secret: &str) -> Self {
        let key: [u8; 32] = Sha256::digest(secret.as_bytes()).into();
        Cipher { aead: Aes256Gcm::new(&key.into()) }
    }

    #[allow(
        clippy::expect_used,
        reason = "AES-GCM fails only on buffers over 64 GiB; a stored secret is a few hundred bytes"
    )]
    pub fn encrypt(&self, plaintext: &str) -> String {
        let nonce_bytes: [u8; 12] = rand::rng().random();
        let ct = self
            .aead
            .encrypt(Nonce::from_slice(&nonce_bytes), plaintext.as_bytes())
            .expect("AES-GCM encryption of an in-memory buffer cannot fail");
        let mut out = nonce_bytes.to_vec();
        out.extend_from_slice(&ct);
        base64::engine::general_purpose::STANDARD.encode(out)
    }

    pub fn decrypt(&self, encoded: &str) -> Result<String, ControlError> {
        let raw = base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .map_err(|_| ControlError::Internal("stored secret is not base64".into()))?;
        if raw.len() < 12 {
            return Err(ControlError::Internal("stored secret is truncated".into()));
        }
        let (nonce, ct) = raw.split_at(12);
        let pt = self
            .aead
            .decrypt(Nonce::from_slice(nonce), ct)
            .map_err(|_| ControlError::Internal("cannot decrypt a stored secret: was CRYPTO_SECRET changed?".into()))?;
        String::from_utf8(pt).map_err(|_| ControlError::Internal("stored secret is not UTF-8".into()))
    }
}

/// Argon2id with OWASP's 7 MiB / 5 passes setting, equivalent in strength to the crate's 19 MiB / 2 passes
/// default but with a third of the memory per login, so a burst of sign-ins cannot balloon control's memory.
/// Verification reads the parameters from the stored hash, so older hashes keep working.
#[allow(clippy::expect_used, reason = "constant parameters within argon2's documented bounds")]
fn argon2() -> Argon2<'static> {
    let params = argon2::Params::new(7 * 1024, 5, 1, None).expect("valid argon2 parameters");
    Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params)
}

pub fn hash_password(password: &str) -> Result<String, ControlError> {
    let salt = SaltString::encode_b64(&rand::rng().random::<[u8; 16]>())
        .map_err(|e| ControlError::Internal(format!("salt: {e}")))?;
    argon2()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| ControlError::Internal(format!("password hashing failed: {e}")))
}

/// Checks a password against a stored hash: ours (argon2id, any parameters) or an imported bcrypt hash
/// (`$2a$`/`$2b$`/`$2y$`, what Veloera, new-api and one-api store), so imported accounts keep their passwords.
pub fn verify_password(password: &str, hash: &str) -> bool {
    if is_bcrypt(hash) {
        return bcrypt::verify(password, hash).unwrap_or(false);
    }
    PasswordHash::new(hash).map(|h| argon2().verify_password(password.as_bytes(), &h).is_ok()).unwrap_or(false)
}

/// Whether a stored hash should be replaced by an argon2id hash after the next successful sign-in.
pub fn needs_rehash(hash: &str) -> bool {
    is_bcrypt(hash)
}

fn is_bcrypt(hash: &str) -> bool {
    ["$2a$", "$2b$", "$2y$", "$2x$"].iter().any(|prefix| hash.starts_with(prefix))
}

/// Returns the configured secret, or the one persisted in `dir/name`, creating it (mode 0600) on first start.
pub fn configured_or_persisted(configured: Option<&str>, dir: &Path, name: &str) -> Result<String, ControlError> {
    if let Some(s) = configured {
        return Ok(s.to_string());
    }
    let path = dir.join(name);
    if let Ok(existing) = std::fs::read_to_string(&path) {
        let existing = existing.trim();
        if !existing.is_empty() {
            return Ok(existing.to_string());
        }
    }
    std::fs::create_dir_all(dir)
        .map_err(|e| ControlError::Internal(format!("cannot create {}: {e}", dir.display())))?;
    let secret = random_string(48);
    write_private(&path, &secret)
        .map_err(|e| ControlError::Internal(format!("cannot write {}: {e}", path.display())))?;
    Ok(secret)
}

fn write_private(path: &Path, contents: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    opts.open(path)?.write_all(contents.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_are_48_alphanumerics() {
        let k = generate_token_key();
        assert_eq!(k.len(), 48);
        assert!(k.chars().all(|c| c.is_ascii_alphanumeric()));
        assert_ne!(k, generate_token_key());
    }

    #[test]
    fn cipher_round_trips_and_rejects_another_secret() {
        let c = Cipher::new("one");
        let enc = c.encrypt("sk-secret");
        assert_eq!(c.decrypt(&enc).unwrap(), "sk-secret");
        assert!(Cipher::new("two").decrypt(&enc).is_err());
    }

    #[test]
    fn masked_key_hides_the_middle() {
        let k = "abcdEFGHijklMNOPqrstUVWXyz0123456789abcdefghijkl";
        let m = mask_token_key(k);
        assert_eq!(m, "sk-abcd**********ijkl");
    }

    #[test]
    fn password_hash_verifies_only_the_right_password() {
        let h = hash_password("123456").unwrap();
        assert!(h.starts_with("$argon2id$v=19$m=7168,t=5,p=1$"), "{h}");
        assert!(verify_password("123456", &h));
        assert!(!verify_password("1234567", &h));
    }

    #[test]
    fn imported_bcrypt_hashes_verify_and_ask_for_a_rehash() {
        let imported = bcrypt::hash("old-password", 4).unwrap();
        assert!(verify_password("old-password", &imported));
        assert!(!verify_password("other-password", &imported));
        assert!(needs_rehash(&imported));
        assert!(!needs_rehash(&hash_password("old-password").unwrap()));
        // Go's bcrypt writes `$2a$`; the same hash under the other prefixes verifies too.
        let go_style = imported.replacen("$2b$", "$2a$", 1);
        assert!(verify_password("old-password", &go_style));
    }

    #[test]
    fn hashes_made_with_other_parameters_still_verify() {
        let salt = SaltString::encode_b64(&[7u8; 16]).unwrap();
        let old = Argon2::default().hash_password(b"secret-pass", &salt).unwrap().to_string();
        assert!(old.contains("m=19456,t=2"));
        assert!(verify_password("secret-pass", &old));
        assert!(!verify_password("other-pass", &old));
    }
}
