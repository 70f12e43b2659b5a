//! Keys kept in the data directory, never in the database: the journal's Ed25519
//! checkpoint key and the secret used for keyed hashes (pseudonymisation).
//! Files are created on first start with 0600 permissions.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use base64::Engine;
use chacha20poly1305::aead::{Aead, AeadCore, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use ed25519_dalek::pkcs8::{DecodePrivateKey, EncodePrivateKey};
use ed25519_dalek::{SigningKey, VerifyingKey};
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::error::{CoreError, Result};

const JOURNAL_KEY_FILE: &str = "journal-ed25519.pem";
const SECRET_FILE: &str = "secret.key";

/// The deployment's keys.
#[derive(Clone)]
pub struct Keys {
    journal: SigningKey,
    secret: [u8; 32],
}

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keys")
            .field("journal_key_id", &self.journal_key_id())
            .finish_non_exhaustive()
    }
}

impl Keys {
    /// Loads the keys from `dir`, creating the directory and any missing key (0600).
    pub fn load_or_create(dir: &Path) -> Result<Keys> {
        fs::create_dir_all(dir).map_err(|e| {
            CoreError::Io(format!(
                "impossible de créer le dossier de données {} : {e}",
                dir.display()
            ))
        })?;
        let journal_path = dir.join(JOURNAL_KEY_FILE);
        let journal = if journal_path.exists() {
            let pem = read_private(&journal_path)?;
            SigningKey::from_pkcs8_pem(&pem)
                .map_err(|e| CoreError::Io(format!("clé du journal illisible ({}) : {e}", journal_path.display())))?
        } else {
            let key = SigningKey::generate(&mut rand::rngs::OsRng);
            let pem = key
                .to_pkcs8_pem(Default::default())
                .map_err(|e| CoreError::Io(format!("encodage de la clé du journal : {e}")))?;
            write_private(&journal_path, pem.as_bytes())?;
            key
        };
        let secret_path = dir.join(SECRET_FILE);
        let secret = if secret_path.exists() {
            let text = read_private(&secret_path)?;
            let bytes = hex::decode(text.trim()).map_err(|_| {
                CoreError::Io(format!(
                    "secret illisible ({}) : hexadécimal attendu",
                    secret_path.display()
                ))
            })?;
            bytes.try_into().map_err(|_| {
                CoreError::Io(format!(
                    "secret illisible ({}) : 32 octets attendus",
                    secret_path.display()
                ))
            })?
        } else {
            let mut s = [0u8; 32];
            rand::rngs::OsRng.fill_bytes(&mut s);
            write_private(&secret_path, hex::encode(s).as_bytes())?;
            s
        };
        Ok(Keys { journal, secret })
    }

    /// True when `dir` already holds the journal key.
    pub fn exist(dir: &Path) -> bool {
        dir.join(JOURNAL_KEY_FILE).exists()
    }

    /// Fresh keys held in memory only (tests, benchmarks).
    pub fn ephemeral() -> Keys {
        let mut secret = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut secret);
        Keys {
            journal: SigningKey::generate(&mut rand::rngs::OsRng),
            secret,
        }
    }

    pub fn journal_signing(&self) -> &SigningKey {
        &self.journal
    }

    pub fn journal_verifying(&self) -> VerifyingKey {
        self.journal.verifying_key()
    }

    /// Short identifier of the journal key: first 8 bytes of SHA-256 of the public key, in hex.
    pub fn journal_key_id(&self) -> String {
        key_id(&self.journal_verifying())
    }

    /// Keyed hash (HMAC-SHA-256) of `value` under a `purpose` label, as hex.
    /// Used to put references to personal data in the journal without the data itself.
    pub fn pseudonym(&self, purpose: &str, value: &str) -> String {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.secret).expect("HMAC accepts any key length");
        mac.update(purpose.as_bytes());
        mac.update(&[0]);
        mac.update(value.as_bytes());
        hex::encode(&mac.finalize().into_bytes()[..16])
    }
}

impl Keys {
    /// A 32-byte key for one purpose, derived from the data directory's secret
    /// (e.g. the keys that derive and look up cheque codes).
    pub fn subkey(&self, purpose: &str) -> [u8; 32] {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.secret).expect("HMAC accepts any key length");
        mac.update(b"passerelle-sous-cle\0");
        mac.update(purpose.as_bytes());
        mac.finalize().into_bytes().into()
    }

    fn cipher(&self, purpose: &str) -> XChaCha20Poly1305 {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.secret).expect("HMAC accepts any key length");
        mac.update(b"passerelle-chiffrement\0");
        mac.update(purpose.as_bytes());
        XChaCha20Poly1305::new(&mac.finalize().into_bytes())
    }

    /// Encrypts a secret kept in the database (e.g. a TOTP seed) with a key
    /// derived from the data directory's secret, so that a copy of the database
    /// alone reveals nothing. Output: `v1:` + base64(nonce ‖ ciphertext).
    pub fn seal(&self, purpose: &str, plaintext: &str) -> Result<String> {
        let nonce = XChaCha20Poly1305::generate_nonce(&mut rand::rngs::OsRng);
        let ct = self
            .cipher(purpose)
            .encrypt(
                &nonce,
                Payload {
                    msg: plaintext.as_bytes(),
                    aad: purpose.as_bytes(),
                },
            )
            .map_err(|_| CoreError::Io("chiffrement impossible".into()))?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&ct);
        Ok(format!(
            "v1:{}",
            base64::engine::general_purpose::STANDARD_NO_PAD.encode(out)
        ))
    }

    /// Decrypts what [`Keys::seal`] produced with the same purpose.
    pub fn open(&self, purpose: &str, sealed: &str) -> Result<String> {
        let err = || {
            CoreError::Io(format!(
                "secret chiffré illisible ({purpose}) : mauvaise clé ou donnée altérée"
            ))
        };
        let raw = sealed.strip_prefix("v1:").ok_or_else(err)?;
        let bytes = base64::engine::general_purpose::STANDARD_NO_PAD
            .decode(raw)
            .map_err(|_| err())?;
        if bytes.len() < 24 {
            return Err(err());
        }
        let (nonce, ct) = bytes.split_at(24);
        let pt = self
            .cipher(purpose)
            .decrypt(
                XNonce::from_slice(nonce),
                Payload {
                    msg: ct,
                    aad: purpose.as_bytes(),
                },
            )
            .map_err(|_| err())?;
        String::from_utf8(pt).map_err(|_| err())
    }
}

pub fn key_id(key: &VerifyingKey) -> String {
    hex::encode(&Sha256::digest(key.as_bytes())[..8])
}

fn read_private(path: &PathBuf) -> Result<String> {
    fs::read_to_string(path).map_err(|e| CoreError::Io(format!("lecture de {} impossible : {e}", path.display())))
}

fn write_private(path: &PathBuf, bytes: &[u8]) -> Result<()> {
    let mut opts = fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts
        .open(path)
        .map_err(|e| CoreError::Io(format!("écriture de {} impossible : {e}", path.display())))?;
    f.write_all(bytes)
        .and_then(|_| f.sync_all())
        .map_err(|e| CoreError::Io(format!("écriture de {} impossible : {e}", path.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_created_once_with_private_permissions_and_reloaded() {
        let dir = std::env::temp_dir().join(format!("passerelle-keys-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        let a = Keys::load_or_create(&dir).unwrap();
        let b = Keys::load_or_create(&dir).unwrap();
        assert_eq!(a.journal_key_id(), b.journal_key_id());
        assert_eq!(a.pseudonym("email", "x@y.fr"), b.pseudonym("email", "x@y.fr"));
        assert_ne!(a.pseudonym("email", "x@y.fr"), a.pseudonym("email", "z@y.fr"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            for f in [JOURNAL_KEY_FILE, SECRET_FILE] {
                let mode = fs::metadata(dir.join(f)).unwrap().permissions().mode() & 0o777;
                assert_eq!(mode, 0o600, "{f}");
            }
        }
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn sealed_secrets_open_only_with_the_same_keys_and_purpose() {
        let k = Keys::ephemeral();
        let sealed = k.seal("totp", "JBSWY3DPEHPK3PXP").unwrap();
        assert!(sealed.starts_with("v1:") && !sealed.contains("JBSWY3DPEHPK3PXP"));
        assert_ne!(sealed, k.seal("totp", "JBSWY3DPEHPK3PXP").unwrap(), "random nonce");
        assert_eq!(k.open("totp", &sealed).unwrap(), "JBSWY3DPEHPK3PXP");
        assert!(k.open("autre", &sealed).is_err());
        assert!(Keys::ephemeral().open("totp", &sealed).is_err());
        let mut tampered = sealed.clone();
        tampered.pop();
        tampered.push(if sealed.ends_with('A') { 'B' } else { 'A' });
        assert!(k.open("totp", &tampered).is_err());
        assert!(k.open("totp", "JBSWY3DPEHPK3PXP").is_err());
    }
}
