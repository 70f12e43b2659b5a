//! Canonical serialisation, hashing and the pure (database-free) chain check.

use sha2::{Digest, Sha256};

/// A checkpoint is signed automatically every this many entries (and daily, by the service).
pub const CHECKPOINT_EVERY: i64 = 1000;

/// Version tag at the start of every canonical serialisation.
const FORMAT: &[u8; 4] = b"PJ1\n";

/// The hash the first entry links to.
pub fn genesis() -> [u8; 32] {
    Sha256::digest(b"passerelle-journal-genesis-v1").into()
}

/// An entry as stored in the database.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct StoredEntry {
    pub seq: i64,
    pub at: i64,
    pub actor_account: Option<i64>,
    pub actor_role: String,
    pub action: String,
    pub subjects: String,
    pub details: String,
    pub prev_hash: Vec<u8>,
    pub hash: Vec<u8>,
}

/// Canonical serialisation of an entry: the format tag, then the fixed-width
/// integers big-endian, then each text field prefixed by its length (u32
/// big-endian). `subjects` and `details` are stored as canonical JSON (keys
/// sorted, no spaces) so their text is hashed as is.
#[allow(clippy::too_many_arguments)]
pub fn canonical(
    out: &mut Vec<u8>,
    seq: i64,
    at: i64,
    actor_account: Option<i64>,
    actor_role: &str,
    action: &str,
    subjects: &str,
    details: &str,
) {
    out.clear();
    write_canonical(
        out,
        seq,
        at,
        actor_account,
        [
            actor_role.as_bytes(),
            action.as_bytes(),
            subjects.as_bytes(),
            details.as_bytes(),
        ],
    );
}

/// Appends the canonical serialisation to `out` (text fields as their UTF-8 bytes).
pub fn write_canonical(out: &mut Vec<u8>, seq: i64, at: i64, actor_account: Option<i64>, texts: [&[u8]; 4]) {
    out.extend_from_slice(FORMAT);
    out.extend_from_slice(&seq.to_be_bytes());
    out.extend_from_slice(&at.to_be_bytes());
    match actor_account {
        Some(id) => {
            out.push(1);
            out.extend_from_slice(&id.to_be_bytes());
        }
        None => out.push(0),
    }
    for field in texts {
        out.extend_from_slice(&(field.len() as u32).to_be_bytes());
        out.extend_from_slice(field);
    }
}

/// SHA-256(prev_hash ‖ canonical(entry)).
pub fn entry_hash(prev: &[u8], canonical: &[u8]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(prev);
    h.update(canonical);
    h.finalize().into()
}

/// The hash of a stored entry, recomputed from its fields.
pub fn stored_hash(e: &StoredEntry, buf: &mut Vec<u8>) -> [u8; 32] {
    canonical(
        buf,
        e.seq,
        e.at,
        e.actor_account,
        &e.actor_role,
        &e.action,
        &e.subjects,
        &e.details,
    );
    entry_hash(&e.prev_hash, buf)
}

/// Entries ready to verify: their canonical serialisations packed in one
/// buffer, with sequence numbers and stored hashes. Readers fill it straight
/// from the database's bytes, without one allocation per entry.
#[derive(Debug, Default, Clone)]
pub struct RawBatch {
    pub(super) buf: Vec<u8>,
    pub(super) rows: Vec<RawRow>,
}

#[derive(Debug, Clone)]
pub(super) struct RawRow {
    pub(super) seq: i64,
    pub(super) start: usize,
    pub(super) end: usize,
    pub(super) prev: [u8; 32],
    pub(super) hash: [u8; 32],
    /// False when a stored hash is not 32 bytes long (tampered with).
    pub(super) well_formed: bool,
}

impl RawBatch {
    /// Room for `entries` entries. (Mutation testing: an empty batch instead is
    /// the same batch, reserved differently; excluded in .cargo/mutants.toml.)
    pub fn with_capacity(entries: usize) -> Self {
        RawBatch {
            buf: Vec::with_capacity(entries * 192),
            rows: Vec::with_capacity(entries),
        }
    }

    pub fn len(&self) -> usize {
        self.rows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// Adds one entry as read from the database (texts as raw bytes).
    #[allow(clippy::too_many_arguments)]
    pub fn push(&mut self, seq: i64, at: i64, actor_account: Option<i64>, texts: [&[u8]; 4], prev: &[u8], hash: &[u8]) {
        let start = self.buf.len();
        write_canonical(&mut self.buf, seq, at, actor_account, texts);
        let end = self.buf.len();
        let mut row = RawRow {
            seq,
            start,
            end,
            prev: [0; 32],
            hash: [0; 32],
            well_formed: prev.len() == 32 && hash.len() == 32,
        };
        if row.well_formed {
            row.prev.copy_from_slice(prev);
            row.hash.copy_from_slice(hash);
        }
        self.rows.push(row);
    }

    pub fn from_entries(entries: &[StoredEntry]) -> Self {
        let mut b = RawBatch::with_capacity(entries.len());
        for e in entries {
            b.push(
                e.seq,
                e.at,
                e.actor_account,
                [
                    e.actor_role.as_bytes(),
                    e.action.as_bytes(),
                    e.subjects.as_bytes(),
                    e.details.as_bytes(),
                ],
                &e.prev_hash,
                &e.hash,
            );
        }
        b
    }
}

/// The action of an entry, read back from its canonical serialisation.
pub(super) fn action_of(canonical: &[u8]) -> Option<&[u8]> {
    let mut pos = FORMAT.len() + 16;
    pos += match canonical.get(pos)? {
        1 => 9,
        _ => 1,
    };
    // Skip actor_role, then read action (each prefixed by its length).
    let role_len = u32::from_be_bytes(canonical.get(pos..pos + 4)?.try_into().ok()?) as usize;
    pos += 4 + role_len;
    let len = u32::from_be_bytes(canonical.get(pos..pos + 4)?.try_into().ok()?) as usize;
    canonical.get(pos + 4..pos + 4 + len)
}
