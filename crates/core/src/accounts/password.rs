//! Passwords: Argon2id hashes (PHC strings) and the password policy.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use rand::Rng;

use crate::error::{CoreError, Result};

pub const MIN_LEN: usize = 12;
pub const MAX_LEN: usize = 256;

/// Passwords that are refused whatever their length (compared case-insensitively,
/// after removing spaces). Short on purpose: the length rule already refuses most.
const COMMON: &[&str] = &[
    "123456789012",
    "1234567890123",
    "12345678901234",
    "azertyuiopqs",
    "azertyuiopqsdf",
    "azertyuiop123",
    "qwertyuiop123",
    "motdepasse123",
    "motdepasse1234",
    "motdepassemotdepasse",
    "password1234",
    "password12345",
    "passwordpassword",
    "administrateur",
    "administrator1",
    "bonjourbonjour",
    "soleil123456",
    "passerelle123",
    "passerelle2026",
    "passnumerique",
    "aidantsconnect",
    "franceconnect",
    "azerty123456",
    "qwerty123456",
    "000000000000",
    "111111111111",
    "iloveyou1234",
    "jetaime123456",
    "marseille1234",
    "doudou123456",
    "chouchou1234",
    "loulou123456",
    "princesse123",
    "nicolas12345",
    "changeme1234",
    "welcome12345",
    "bienvenue123",
    "bienvenue1234",
    "motdepasse!!",
    "abcdefghijkl",
];

/// Checks the policy: 12 to 256 characters, not a common password, not the e-mail.
pub fn check_policy(password: &str, email: &str) -> Result<()> {
    let n = password.chars().count();
    if n < MIN_LEN {
        return Err(CoreError::invalid(format!(
            "le mot de passe doit contenir au moins {MIN_LEN} caractères (une phrase de passe convient très bien)"
        )));
    }
    if n > MAX_LEN {
        return Err(CoreError::invalid(format!(
            "le mot de passe ne doit pas dépasser {MAX_LEN} caractères"
        )));
    }
    let folded: String = password
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect::<String>()
        .to_lowercase();
    if COMMON.contains(&folded.as_str()) || folded.chars().all(|c| folded.starts_with(c)) {
        return Err(CoreError::invalid(
            "ce mot de passe est trop courant ; choisissez-en un autre",
        ));
    }
    let email = email.trim().to_lowercase();
    if !email.is_empty() && (folded == email || folded == email.split('@').next().unwrap_or_default()) {
        return Err(CoreError::invalid(
            "le mot de passe ne doit pas reprendre l'adresse électronique",
        ));
    }
    Ok(())
}

/// Hashes with Argon2id (the crate's defaults: 19 MiB, 2 passes, 1 lane). Blocks
/// for tens of milliseconds: from async code, use [`super::argon2_pool::Argon2Pool::hash`].
pub fn hash(password: &str) -> Result<String> {
    let salt = SaltString::generate(&mut rand::rngs::OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| CoreError::invalid(format!("hachage du mot de passe impossible : {e}")))
}

/// Verifies in constant time. A malformed stored hash verifies as false. Blocks:
/// from async code, use [`super::argon2_pool::Argon2Permit::verify`].
pub fn verify(password: &str, stored: &str) -> bool {
    match PasswordHash::new(stored) {
        Ok(parsed) => Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok(),
        Err(_) => false,
    }
}

/// A hash of a random password, verified against when the e-mail is unknown so
/// that an unknown account takes as long to refuse as a wrong password.
pub fn dummy_hash() -> &'static str {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY.get_or_init(|| hash(&generate()).unwrap_or_default())
}

/// A random password for a new account, shown once: 4 groups of 5 characters
/// from an alphabet without look-alikes (~ 110 bits).
pub fn generate() -> String {
    const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyzABCDEFGHJKMNPQRSTUVWXYZ23456789";
    let mut rng = rand::rngs::OsRng;
    (0..4)
        .map(|_| {
            (0..5)
                .map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char)
                .collect::<String>()
        })
        .collect::<Vec<_>>()
        .join("-")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argon2id_round_trip() {
        let h = hash("une phrase de passe correcte").unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify("une phrase de passe correcte", &h));
        assert!(!verify("une phrase de passe incorrecte", &h));
        assert!(!verify("x", "pas un hachage"));
    }

    #[test]
    fn policy() {
        assert!(check_policy("court", "a@b.fr").is_err());
        assert!(check_policy("Azerty 123456", "a@b.fr").is_err());
        assert!(check_policy("aaaaaaaaaaaaaaa", "a@b.fr").is_err());
        assert!(check_policy("marie.dupont@exemple.fr", "marie.dupont@exemple.fr").is_err());
        assert!(check_policy(&"x".repeat(300), "a@b.fr").is_err());
        assert!(check_policy("cheval agrafe pile correcte", "a@b.fr").is_ok());
        let g = generate();
        assert_eq!(g.len(), 23);
        assert!(check_policy(&g, "a@b.fr").is_ok());
    }
}
