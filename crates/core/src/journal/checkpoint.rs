//! Signed checkpoints: numbered without gaps and chained.
//!
//! A checkpoint of version 2 signs
//! `"passerelle-journal-checkpoint-v2\n" ‖ n ‖ debut ‖ seq ‖ head ‖ at ‖ segment ‖ prev`
//! (integers as i64 big-endian, hashes as 32 bytes) where
//! - `n` is its number (1, 2, 3… without gaps, in the order of `seq`);
//! - `debut..=seq` is its segment, the entries written since the previous checkpoint;
//! - `head` is the hash of entry `seq`;
//! - `segment` is SHA-256 over the hashes of every entry of the segment, which
//!   the checkpoint row stores too (`entry_hashes`), so that verification can
//!   name the first rewritten entry;
//! - `prev` is the link of the previous checkpoint.
//!
//! The link of a checkpoint is `SHA-256(link of the previous ‖ its signed message)`,
//! starting from [`checkpoint_genesis`]. Version 1 checkpoints (written before
//! migration 0024) sign `"passerelle-journal-checkpoint-v1\n" ‖ seq ‖ head ‖ at`
//! only: they are kept as they are, verifiable, and folded into the links, so
//! that the first version 2 checkpoint pins every version 1 checkpoint that
//! existed when it was signed.

use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use sha2::{Digest, Sha256};

/// A signed checkpoint, as stored (or read from an exported file / a witness).
#[derive(Debug, Clone, Default, PartialEq, Eq, sqlx::FromRow)]
pub struct CheckpointRef {
    /// Number (1, 2, 3…); derived, not signed, for version 1 checkpoints.
    pub n: Option<i64>,
    /// 1 (legacy) or 2 (numbered and chained).
    pub version: i64,
    pub seq: i64,
    /// First entry of the segment (version 2).
    pub debut: Option<i64>,
    pub head_hash: Vec<u8>,
    pub at: i64,
    /// Link of the previous checkpoint (version 2).
    pub prev_checkpoint_hash: Option<Vec<u8>>,
    /// SHA-256 over the segment's entry hashes (version 2).
    pub segment_hash: Option<Vec<u8>>,
    /// The segment's entry hashes, 32 bytes each (version 2, in the database only).
    pub entry_hashes: Option<Vec<u8>>,
    pub key_id: String,
    pub signature: Vec<u8>,
}

/// Columns of `journal_checkpoints`, in the order of [`CheckpointRef`].
pub const CHECKPOINT_COLUMNS: &str =
    "n, version, seq, debut, head_hash, at, prev_checkpoint_hash, segment_hash, entry_hashes, key_id, signature";

/// The link the first checkpoint chains to.
pub fn checkpoint_genesis() -> [u8; 32] {
    Sha256::digest(b"passerelle-journal-checkpoint-genesis-v2").into()
}

/// The bytes a version 1 checkpoint signs.
pub fn checkpoint_message(seq: i64, head_hash: &[u8], at: i64) -> Vec<u8> {
    let mut m = Vec::with_capacity(80);
    m.extend_from_slice(b"passerelle-journal-checkpoint-v1\n");
    m.extend_from_slice(&seq.to_be_bytes());
    m.extend_from_slice(head_hash);
    m.extend_from_slice(&at.to_be_bytes());
    m
}

/// The bytes a version 2 checkpoint signs.
pub fn checkpoint_message_v2(
    n: i64,
    debut: i64,
    seq: i64,
    head: &[u8],
    at: i64,
    segment: &[u8],
    prev: &[u8],
) -> Vec<u8> {
    let mut m = Vec::with_capacity(160);
    m.extend_from_slice(b"passerelle-journal-checkpoint-v2\n");
    for v in [n, debut, seq] {
        m.extend_from_slice(&v.to_be_bytes());
    }
    m.extend_from_slice(head);
    m.extend_from_slice(&at.to_be_bytes());
    m.extend_from_slice(segment);
    m.extend_from_slice(prev);
    m
}

/// SHA-256 over the concatenated entry hashes of a segment.
pub fn segment_digest(entry_hashes: &[u8]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(b"passerelle-journal-segment-v1\n");
    h.update(entry_hashes);
    h.finalize().into()
}

impl CheckpointRef {
    /// The signed message, or `None` when a version 2 field is missing.
    pub fn message(&self) -> Option<Vec<u8>> {
        match self.version {
            1 => Some(checkpoint_message(self.seq, &self.head_hash, self.at)),
            2 => Some(checkpoint_message_v2(
                self.n?,
                self.debut?,
                self.seq,
                &self.head_hash,
                self.at,
                self.segment_hash.as_deref()?,
                self.prev_checkpoint_hash.as_deref()?,
            )),
            _ => None,
        }
    }

    /// This checkpoint's link, given the previous one's.
    pub fn link(&self, prev_link: &[u8]) -> [u8; 32] {
        let mut h = Sha256::new();
        h.update(prev_link);
        h.update(self.message().unwrap_or_default());
        h.finalize().into()
    }

    /// Checks the signature with `key` (whose id is `key_id`); the reason in French otherwise.
    pub fn check_signature(&self, key: &VerifyingKey, key_id: &str) -> Result<(), String> {
        if self.key_id != key_id {
            return Err(format!(
                "point de contrôle signé par une clé inconnue ({}), clé actuelle {key_id}",
                self.key_id
            ));
        }
        let message = self
            .message()
            .ok_or_else(|| "point de contrôle incomplet (champ signé manquant)".to_string())?;
        let sig = Signature::from_slice(&self.signature)
            .map_err(|_| "signature du point de contrôle illisible".to_string())?;
        key.verify(&message, &sig)
            .map_err(|_| "signature du point de contrôle invalide".to_string())
    }

    /// The stored entry hash of `seq`, when this checkpoint's list is well formed and covers it.
    pub fn entry_hash_at(&self, seq: i64) -> Option<&[u8]> {
        let debut = self.debut?;
        let list = self.entry_hashes.as_deref()?;
        // Past `self.seq` the index falls beyond the end of a list of the right length.
        if seq < debut || list.len() as i64 != 32 * (self.seq - debut + 1) {
            return None;
        }
        let i = ((seq - debut) * 32) as usize;
        list.get(i..i + 32)
    }

    /// True when the stored list of entry hashes is the one the signature covers.
    pub fn list_is_signed(&self) -> bool {
        match (&self.entry_hashes, &self.segment_hash) {
            (Some(list), Some(seg)) => segment_digest(list).as_slice() == seg.as_slice(),
            _ => false,
        }
    }

    /// Same signed content (what a witness compares with the local checkpoint).
    pub fn same_signed_content(&self, other: &CheckpointRef) -> bool {
        self.message().is_some() && self.message() == other.message() && self.signature == other.signature
    }

    /// Short description for messages: « n° 3 (entrée n° 42) ».
    pub fn label(&self) -> String {
        match self.n {
            Some(n) => format!("n° {n} (entrée n° {})", self.seq),
            None => format!("de l'entrée n° {}", self.seq),
        }
    }
}

/// Signs a version 2 checkpoint over `entry_hashes` (the segment `debut..=seq`).
#[allow(clippy::too_many_arguments)]
pub fn sign_checkpoint(
    key: &SigningKey,
    n: i64,
    debut: i64,
    seq: i64,
    head: &[u8],
    at: i64,
    prev_link: &[u8],
    entry_hashes: Vec<u8>,
) -> CheckpointRef {
    let segment = segment_digest(&entry_hashes);
    let signature = key.sign(&checkpoint_message_v2(n, debut, seq, head, at, &segment, prev_link));
    CheckpointRef {
        n: Some(n),
        version: 2,
        seq,
        debut: Some(debut),
        head_hash: head.to_vec(),
        at,
        prev_checkpoint_hash: Some(prev_link.to_vec()),
        segment_hash: Some(segment.to_vec()),
        entry_hashes: Some(entry_hashes),
        key_id: crate::keys::key_id(&key.verifying_key()),
        signature: signature.to_bytes().to_vec(),
    }
}

/// The link of the last of `checkpoints` (sorted by `seq`), folded from the genesis.
pub fn last_link(checkpoints: &[CheckpointRef]) -> [u8; 32] {
    checkpoints.iter().fold(checkpoint_genesis(), |link, cp| cp.link(&link))
}

/// A problem found in the checkpoint table itself (deleted, reordered or altered
/// checkpoints), at the entry it concerns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckpointFault {
    pub seq: i64,
    pub reason: String,
}

/// Checks the local checkpoints (sorted by `seq`): numbers without gaps, links,
/// signatures, segments following each other. Returns the checkpoints that can
/// be trusted (valid signature) and the faults found.
pub fn check_local(
    key: &VerifyingKey,
    key_id: &str,
    local: Vec<CheckpointRef>,
) -> (Vec<CheckpointRef>, Vec<CheckpointFault>) {
    let mut trusted = Vec::with_capacity(local.len());
    let mut faults = Vec::new();
    let mut link = checkpoint_genesis();
    let mut expected_n = 1i64;
    let mut prev_seq = 0i64;
    let mut seen_v2 = false;
    for cp in local {
        let fault = |reason: String| CheckpointFault { seq: cp.seq, reason };
        let signed = cp.check_signature(key, key_id);
        let problem = match cp.n {
            _ if signed.is_err() => Some(fault(format!(
                "point de contrôle {} altéré : {}",
                cp.label(),
                signed.clone().err().unwrap_or_default()
            ))),
            Some(n) if n > expected_n => {
                let missing = if n == expected_n + 1 {
                    format!("le point de contrôle n° {expected_n} a disparu")
                } else {
                    format!("les points de contrôle n° {expected_n} à {} ont disparu", n - 1)
                };
                // The segment of the next checkpoint starts right after the deleted one.
                let at = match cp.debut {
                    Some(d) if cp.version == 2 && d - 1 > prev_seq => d - 1,
                    _ => prev_seq + 1,
                };
                Some(CheckpointFault {
                    seq: at,
                    reason: format!("{missing} (numérotation interrompue avant le point {})", cp.label()),
                })
            }
            Some(n) if n == expected_n => None,
            _ => Some(fault(format!(
                "point de contrôle {} hors d'ordre : numéro {} attendu (points de contrôle déplacés ou renumérotés)",
                cp.label(),
                expected_n
            ))),
        };
        let problem = problem.or_else(|| match cp.version {
            1 if seen_v2 => Some(fault(format!(
                "point de contrôle {} de version 1 après un point de version 2",
                cp.label()
            ))),
            2 if cp.prev_checkpoint_hash.as_deref() != Some(link.as_slice()) => Some(fault(format!(
                "chaîne des points de contrôle rompue au point {} : le point précédent a été supprimé, modifié ou déplacé",
                cp.label()
            ))),
            2 if cp.debut != Some(prev_seq + 1) => Some(fault(format!(
                "le segment du point de contrôle {} ne suit pas le point précédent",
                cp.label()
            ))),
            _ => None,
        });
        if let Some(f) = problem {
            faults.push(f);
        }
        link = cp.link(&link);
        expected_n = cp.n.map_or(expected_n + 1, |n| n.max(expected_n - 1) + 1);
        prev_seq = prev_seq.max(cp.seq);
        seen_v2 |= cp.version == 2;
        if signed.is_ok() {
            trusted.push(cp);
        }
    }
    (trusted, faults)
}

#[cfg(test)]
#[path = "checkpoint_tests.rs"]
mod tests;
