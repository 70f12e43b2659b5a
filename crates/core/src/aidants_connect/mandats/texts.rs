//! The versioned texts of the mandate. Each text is compiled in, stored in
//! `mandats_textes` at migration (idempotent, safe with several instances),
//! and fingerprinted (SHA-256, hex) on the attestation. A mandate keeps the
//! version it was concluded under.

use sha2::{Digest, Sha256};

use crate::db::Db;
use crate::error::{CoreError, Result};
use crate::on_db;

/// The version new mandates are concluded under.
pub const CURRENT: i64 = 1;

/// Every version, oldest first (a version is never changed once published).
pub const ALL: [(i64, &str); 1] = [(1, include_str!("../../../data/mandat-v1.txt"))];

/// A text as stored.
#[derive(Debug, Clone)]
pub struct Text {
    pub version: i64,
    pub texte: String,
    pub empreinte: String,
}

pub fn fingerprint(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

/// Stores the compiled-in texts that are missing.
pub async fn ensure(db: &Db) -> Result<()> {
    let now = db.now_micros();
    for (version, text) in ALL {
        on_db!(db, c => {
            sqlx::query(
                "INSERT INTO mandats_textes (version, texte, empreinte, created_at) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (version) DO NOTHING",
            )
            .bind(version)
            .bind(text)
            .bind(fingerprint(text))
            .bind(now)
            .execute(&mut *c)
            .await?;
        });
    }
    Ok(())
}

/// One version of the text.
pub async fn get(db: &Db, version: i64) -> Result<Text> {
    let row: Option<(String, String)> = on_db!(db, c => {
        sqlx::query_as("SELECT texte, empreinte FROM mandats_textes WHERE version = $1")
            .bind(version)
            .fetch_optional(&mut *c)
            .await?
    });
    let (texte, empreinte) = row.ok_or_else(|| CoreError::NotFound(format!("texte du mandat, version {version}")))?;
    Ok(Text {
        version,
        texte,
        empreinte,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_in_order_and_fingerprinted() {
        assert_eq!(ALL.last().map(|(v, _)| *v), Some(CURRENT));
        assert!(ALL[0].1.contains("texte version 1"));
        assert_eq!(fingerprint("abc").len(), 64);
        assert_eq!(
            fingerprint("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
