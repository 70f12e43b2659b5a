//! Canonical serialisation, hashing and the pure (database-free) chain check.

use ed25519_dalek::{Signature, Verifier, VerifyingKey};
use rayon::prelude::*;
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

#[cfg(test)]
fn stored_hash(e: &StoredEntry, buf: &mut Vec<u8>) -> [u8; 32] {
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
    buf: Vec<u8>,
    rows: Vec<RawRow>,
}

#[derive(Debug, Clone)]
struct RawRow {
    seq: i64,
    start: usize,
    end: usize,
    prev: [u8; 32],
    hash: [u8; 32],
    /// False when a stored hash is not 32 bytes long (tampered with).
    well_formed: bool,
}

impl RawBatch {
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

/// The bytes a checkpoint signs.
pub fn checkpoint_message(seq: i64, head_hash: &[u8], at: i64) -> Vec<u8> {
    let mut m = Vec::with_capacity(80);
    m.extend_from_slice(b"passerelle-journal-checkpoint-v1\n");
    m.extend_from_slice(&seq.to_be_bytes());
    m.extend_from_slice(head_hash);
    m.extend_from_slice(&at.to_be_bytes());
    m
}

/// The first place where the journal is broken.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Break {
    /// Sequence number of the first bad entry (or of the bad checkpoint).
    pub seq: i64,
    pub reason: String,
}

impl std::fmt::Display for Break {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "entrée n° {} : {}", self.seq, self.reason)
    }
}

/// A signed checkpoint, as stored.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct CheckpointRef {
    pub seq: i64,
    pub head_hash: Vec<u8>,
    pub at: i64,
    pub key_id: String,
    pub signature: Vec<u8>,
}

/// Streams entries in sequence order through [`ChainVerifier::feed`]; it checks
/// continuity of sequence numbers, each link and each recomputed hash, and each
/// checkpoint met on the way. Hashes of a batch are recomputed in parallel.
pub struct ChainVerifier {
    key: VerifyingKey,
    key_id: String,
    checkpoints: Vec<CheckpointRef>,
    next_checkpoint: usize,
    expected_seq: i64,
    prev_hash: [u8; 32],
    checked: u64,
}

impl ChainVerifier {
    /// `checkpoints` must be sorted by `seq`.
    pub fn new(key: VerifyingKey, checkpoints: Vec<CheckpointRef>) -> Self {
        let key_id = crate::keys::key_id(&key);
        ChainVerifier {
            key,
            key_id,
            checkpoints,
            next_checkpoint: 0,
            expected_seq: 1,
            prev_hash: genesis(),
            checked: 0,
        }
    }

    pub fn checked(&self) -> u64 {
        self.checked
    }

    /// Checks the next batch of entries (in sequence order).
    pub fn feed(&mut self, batch: &RawBatch) -> Result<(), Break> {
        // Recompute every hash in parallel; keep the first mismatch by position.
        let first_bad_hash = batch
            .rows
            .par_iter()
            .enumerate()
            .with_min_len(1024)
            .filter(|(_, r)| !r.well_formed || entry_hash(&r.prev, &batch.buf[r.start..r.end]) != r.hash)
            .map(|(i, _)| i)
            .min();

        for (i, r) in batch.rows.iter().enumerate() {
            if r.seq != self.expected_seq {
                let reason = if r.seq > self.expected_seq {
                    format!(
                        "numéro attendu {}, trouvé {} : une ou plusieurs entrées ont été supprimées ou déplacées",
                        self.expected_seq, r.seq
                    )
                } else {
                    format!(
                        "numéro {} en double ou hors d'ordre (attendu {})",
                        r.seq, self.expected_seq
                    )
                };
                return Err(Break {
                    seq: self.expected_seq.min(r.seq),
                    reason,
                });
            }
            if !r.well_formed || r.prev != self.prev_hash {
                return Err(Break {
                    seq: r.seq,
                    reason: "le lien vers l'entrée précédente est rompu (empreinte précédente différente)".into(),
                });
            }
            if first_bad_hash == Some(i) {
                return Err(Break {
                    seq: r.seq,
                    reason: "le contenu a été modifié (l'empreinte recalculée ne correspond pas)".into(),
                });
            }
            self.check_checkpoints_up_to(r.seq, &r.hash)?;
            self.prev_hash = r.hash;
            self.expected_seq += 1;
            self.checked += 1;
        }
        Ok(())
    }

    fn check_checkpoints_up_to(&mut self, seq: i64, hash: &[u8; 32]) -> Result<(), Break> {
        let mut signed_here = false;
        while let Some(cp) = self.checkpoints.get(self.next_checkpoint) {
            if cp.seq > seq {
                break;
            }
            self.next_checkpoint += 1;
            if cp.seq < seq {
                // Only reachable if the checkpoint's entry is missing, which the
                // sequence check reports first; keep the check for completeness.
                return Err(Break {
                    seq: cp.seq,
                    reason: "point de contrôle sans entrée correspondante".into(),
                });
            }
            self.check_signature(cp)?;
            if cp.head_hash.as_slice() != hash.as_slice() {
                return Err(Break {
                    seq,
                    reason: "l'empreinte ne correspond pas au point de contrôle signé : la chaîne a été réécrite"
                        .into(),
                });
            }
            signed_here = true;
        }
        // Every CHECKPOINT_EVERY-th entry is signed in the transaction that wrote
        // it: a missing one means checkpoints were removed.
        if !signed_here && seq % CHECKPOINT_EVERY == 0 {
            return Err(Break {
                seq,
                reason: "le point de contrôle automatique de cette entrée a disparu : points de contrôle supprimés"
                    .into(),
            });
        }
        Ok(())
    }

    fn check_signature(&self, cp: &CheckpointRef) -> Result<(), Break> {
        if cp.key_id != self.key_id {
            return Err(Break {
                seq: cp.seq,
                reason: format!(
                    "point de contrôle signé par une clé inconnue ({}), clé actuelle {}",
                    cp.key_id, self.key_id
                ),
            });
        }
        let sig = Signature::from_slice(&cp.signature).map_err(|_| Break {
            seq: cp.seq,
            reason: "signature du point de contrôle illisible".into(),
        })?;
        self.key
            .verify(&checkpoint_message(cp.seq, &cp.head_hash, cp.at), &sig)
            .map_err(|_| Break {
                seq: cp.seq,
                reason: "signature du point de contrôle invalide".into(),
            })
    }

    /// Call after the last batch: checkpoints beyond the last entry mean the end
    /// of the journal was removed.
    pub fn finish(self) -> Result<u64, Break> {
        if let Some(cp) = self.checkpoints.get(self.next_checkpoint) {
            self.check_signature(cp)?;
            return Err(Break {
                seq: self.expected_seq,
                reason: format!(
                    "le point de contrôle signé n° {} dépasse la dernière entrée ({}) : des entrées finales ont été supprimées",
                    cp.seq,
                    self.expected_seq - 1
                ),
            });
        }
        Ok(self.checked)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::{Signer, SigningKey};

    fn chain(n: i64) -> Vec<StoredEntry> {
        let mut prev = genesis();
        let mut buf = Vec::new();
        (1..=n)
            .map(|seq| {
                let details = format!("{{\"n\":{seq}}}");
                canonical(
                    &mut buf,
                    seq,
                    1_700_000_000_000_000 + seq,
                    Some(7),
                    "operateur",
                    "test",
                    "[]",
                    &details,
                );
                let hash = entry_hash(&prev, &buf);
                let e = StoredEntry {
                    seq,
                    at: 1_700_000_000_000_000 + seq,
                    actor_account: Some(7),
                    actor_role: "operateur".into(),
                    action: "test".into(),
                    subjects: "[]".into(),
                    details,
                    prev_hash: prev.to_vec(),
                    hash: hash.to_vec(),
                };
                prev = hash;
                e
            })
            .collect()
    }

    fn sign(key: &SigningKey, e: &StoredEntry) -> CheckpointRef {
        let sig = key.sign(&checkpoint_message(e.seq, &e.hash, 5));
        CheckpointRef {
            seq: e.seq,
            head_hash: e.hash.clone(),
            at: 5,
            key_id: crate::keys::key_id(&key.verifying_key()),
            signature: sig.to_bytes().to_vec(),
        }
    }

    fn run(entries: &[StoredEntry], key: &SigningKey, cps: Vec<CheckpointRef>, batch: usize) -> Result<u64, Break> {
        let mut v = ChainVerifier::new(key.verifying_key(), cps);
        for b in entries.chunks(batch) {
            v.feed(&RawBatch::from_entries(b))?;
        }
        v.finish()
    }

    #[test]
    fn intact_chain_passes_in_any_batch_size() {
        let key = SigningKey::from_bytes(&[3; 32]);
        let c = chain(50);
        let cps = vec![sign(&key, &c[9]), sign(&key, &c[49])];
        for batch in [1, 7, 50] {
            assert_eq!(run(&c, &key, cps.clone(), batch), Ok(50));
        }
    }

    #[test]
    fn modified_deleted_reordered_entries_are_pinpointed() {
        let key = SigningKey::from_bytes(&[3; 32]);
        let c = chain(20);

        let mut m = c.clone();
        m[11].details = "{\"n\":999}".into();
        assert_eq!(run(&m, &key, vec![], 8).unwrap_err().seq, 12);

        let mut d = c.clone();
        d.remove(4);
        assert_eq!(run(&d, &key, vec![], 8).unwrap_err().seq, 5);

        let mut r = c.clone();
        r.swap(6, 7);
        assert_eq!(run(&r, &key, vec![], 3).unwrap_err().seq, 7);

        // Rewriting from entry 3 on with consistent hashes is caught by the checkpoint at 10.
        let mut rewritten = c.clone();
        rewritten[2].details = "{\"n\":-3}".into();
        let mut buf = Vec::new();
        for i in 2..rewritten.len() {
            let prev = rewritten[i - 1].hash.clone();
            rewritten[i].prev_hash = prev.clone();
            let h = stored_hash(&rewritten[i], &mut buf);
            rewritten[i].hash = h.to_vec();
        }
        assert_eq!(run(&rewritten, &key, vec![], 4), Ok(20));
        assert_eq!(run(&rewritten, &key, vec![sign(&key, &c[9])], 4).unwrap_err().seq, 10);

        // Truncating the end is caught by a checkpoint past the end.
        let truncated = c[..15].to_vec();
        assert_eq!(run(&truncated, &key, vec![sign(&key, &c[17])], 4).unwrap_err().seq, 16);

        // A forged checkpoint (other key) is refused.
        let other = SigningKey::from_bytes(&[4; 32]);
        let mut forged = sign(&other, &c[4]);
        forged.key_id = crate::keys::key_id(&key.verifying_key());
        assert_eq!(run(&c, &key, vec![forged], 4).unwrap_err().seq, 5);
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        #[derive(Debug, Clone)]
        enum Tamper {
            Details(usize),
            Actor(usize),
            Delete(usize),
            Swap(usize),
        }

        fn tamper() -> impl Strategy<Value = Tamper> {
            prop_oneof![
                any::<usize>().prop_map(Tamper::Details),
                any::<usize>().prop_map(Tamper::Actor),
                any::<usize>().prop_map(Tamper::Delete),
                any::<usize>().prop_map(Tamper::Swap),
            ]
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(200))]

            /// Any single modification, deletion (not of the last entry) or swap of
            /// adjacent entries is reported at the first affected sequence number,
            /// whatever the batch size.
            #[test]
            fn any_single_tamper_is_pinpointed(n in 2i64..60, t in tamper(), batch in 1usize..40) {
                let key = SigningKey::from_bytes(&[9; 32]);
                let mut c = chain(n);
                let len = c.len();
                let expected = match t {
                    Tamper::Details(i) => { let i = i % len; c[i].details.push(' '); c[i].seq }
                    Tamper::Actor(i) => { let i = i % len; c[i].actor_account = Some(-1); c[i].seq }
                    Tamper::Delete(i) => { let i = i % (len - 1); let seq = c[i].seq; c.remove(i); seq }
                    Tamper::Swap(i) => { let i = i % (len - 1); let seq = c[i].seq; c.swap(i, i + 1); seq }
                };
                prop_assert_eq!(run(&c, &key, vec![], batch).unwrap_err().seq, expected);
                prop_assert_eq!(run(&chain(n), &key, vec![], batch), Ok(n as u64));
            }
        }
    }
}
