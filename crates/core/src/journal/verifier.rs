//! The pure (database-free) verification of the journal: entries streamed in
//! sequence order against the chained checkpoints and any external ones
//! (exported files, witnesses).
//!
//! A signed hash that matches the stored hash of entry `s` proves entries
//! `1..=s` intact (each hash covers the previous one). Version 2 checkpoints
//! sign the hash of every entry of their segment, so the first rewritten entry
//! is named exactly whenever a signed hash of it survives; otherwise the report
//! gives the earliest entry that may have been rewritten (the one after the last
//! entry proven intact) and the entry where the rewrite is certain.

use ed25519_dalek::VerifyingKey;
use rayon::prelude::*;

use super::actions;
use super::chain::{action_of, entry_hash, genesis, RawBatch, CHECKPOINT_EVERY};
use super::checkpoint::{check_local, CheckpointFault, CheckpointRef};

/// Where the journal is broken.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Break {
    /// The first bad entry or, when it cannot be known exactly, the earliest
    /// entry that may be bad (the one after the last entry proven intact).
    pub seq: i64,
    /// The entry at which the fault is certain (equal to `seq` when exact).
    pub last: i64,
    pub reason: String,
    /// Entries `1..=proven_until` are proven intact by a signed hash.
    pub proven_until: i64,
}

impl Break {
    pub fn exact(&self) -> bool {
        self.seq == self.last
    }
}

impl std::fmt::Display for Break {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.exact() {
            write!(f, "entrée n° {} : {}", self.seq, self.reason)
        } else {
            write!(f, "entrée n° {} au plus tôt : {}", self.seq, self.reason)
        }
    }
}

/// Streams entries in sequence order through [`ChainVerifier::feed`]; it checks
/// continuity of sequence numbers, each link and each recomputed hash (in
/// parallel), every signed hash met on the way, and that every checkpoint that
/// existed is still there.
pub struct ChainVerifier {
    /// Local checkpoints with a valid signature, sorted by `seq`.
    local: Vec<CheckpointRef>,
    next_local: usize,
    /// `seq` of every stored checkpoint (valid or not), sorted.
    stored: Vec<i64>,
    next_stored: usize,
    /// Signed external checkpoints (exported files, witnesses) and their source, sorted by `seq`.
    external: Vec<(CheckpointRef, String)>,
    next_external: usize,
    faults: Vec<CheckpointFault>,
    expected_seq: i64,
    prev_hash: [u8; 32],
    proven: i64,
    checked: u64,
}

impl ChainVerifier {
    /// `local`: the checkpoint table, sorted by `seq`; `external`: checkpoints
    /// kept outside the database, each with its source (« le témoin t.json »).
    pub fn new(key: VerifyingKey, local: Vec<CheckpointRef>, mut external: Vec<(CheckpointRef, String)>) -> Self {
        let key_id = crate::keys::key_id(&key);
        let mut stored: Vec<i64> = local.iter().map(|c| c.seq).collect();
        stored.sort_unstable();
        let by_number: std::collections::HashMap<i64, &CheckpointRef> =
            local.iter().filter_map(|c| Some((c.n?, c))).collect();
        let mut faults = Vec::new();
        external.retain(|(ext, source)| {
            if let Err(e) = ext.check_signature(&key, &key_id) {
                faults.push(CheckpointFault {
                    seq: ext.seq,
                    reason: format!("{source} : {e}"),
                });
                return false;
            }
            let kept = match ext.n.filter(|_| ext.version == 2) {
                Some(n) => by_number.get(&n).is_some_and(|c| c.same_signed_content(ext)),
                None => stored.binary_search(&ext.seq).is_ok(),
            };
            if !kept {
                faults.push(CheckpointFault {
                    seq: ext.seq,
                    reason: format!(
                        "le point de contrôle {} attesté par {source} n'est plus dans la base (supprimé ou remplacé)",
                        ext.label()
                    ),
                });
            }
            true
        });
        external.sort_by_key(|(c, _)| c.seq);
        let (local, local_faults) = check_local(&key, &key_id, local);
        faults.extend(local_faults);
        ChainVerifier {
            local,
            next_local: 0,
            stored,
            next_stored: 0,
            external,
            next_external: 0,
            faults,
            expected_seq: 1,
            prev_hash: genesis(),
            proven: 0,
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
            let out_of_sequence = match r.seq.cmp(&self.expected_seq) {
                std::cmp::Ordering::Equal => None,
                std::cmp::Ordering::Greater => Some(format!(
                    "numéro attendu {}, trouvé {} : une ou plusieurs entrées ont été supprimées ou déplacées",
                    self.expected_seq, r.seq
                )),
                std::cmp::Ordering::Less => Some(format!(
                    "numéro {} en double ou hors d'ordre (attendu {})",
                    r.seq, self.expected_seq
                )),
            };
            if let Some(reason) = out_of_sequence {
                return Err(self.definite(self.expected_seq.min(r.seq), reason));
            }
            if !r.well_formed || r.prev != self.prev_hash {
                return Err(self.definite(
                    r.seq,
                    "le lien vers l'entrée précédente est rompu (empreinte précédente différente)".into(),
                ));
            }
            if first_bad_hash == Some(i) {
                return Err(self.definite(
                    r.seq,
                    "le contenu a été modifié (l'empreinte recalculée ne correspond pas)".into(),
                ));
            }
            self.check_signed_hashes(r.seq, &r.hash)?;
            self.check_checkpoint_exists(r.seq, action_of(&batch.buf[r.start..r.end]));
            self.prev_hash = r.hash;
            self.expected_seq += 1;
            self.checked += 1;
        }
        Ok(())
    }

    /// Compares the entry's hash with every signed hash of it: the local
    /// checkpoint's list and head, external heads.
    fn check_signed_hashes(&mut self, seq: i64, hash: &[u8; 32]) -> Result<(), Break> {
        while self.local.get(self.next_local).is_some_and(|c| c.seq < seq) {
            self.next_local += 1;
        }
        if let Some(cp) = self.local.get_mut(self.next_local) {
            if let Some(signed) = cp.entry_hash_at(seq) {
                if signed == hash.as_slice() {
                    self.proven = seq;
                } else if cp.list_is_signed() {
                    let what = format!("au point de contrôle {}", cp.label());
                    return Err(self.rewritten(seq, &what));
                } else {
                    // The stored list is not the signed one: ignore it, report it.
                    cp.entry_hashes = None;
                    let reason = format!(
                        "la liste des empreintes du point de contrôle {} a été modifiée",
                        cp.label()
                    );
                    self.faults.push(CheckpointFault { seq, reason });
                }
            }
            if cp.seq == seq {
                if cp.head_hash.as_slice() == hash.as_slice() {
                    self.proven = seq;
                } else {
                    let what = format!("au point de contrôle {}", cp.label());
                    return Err(self.rewritten(seq, &what));
                }
            }
        }
        while let Some((ext, source)) = self.external.get(self.next_external) {
            if ext.seq > seq {
                break;
            }
            self.next_external += 1;
            if ext.seq < seq {
                continue; // its entry is missing: the sequence check reported it
            }
            if ext.head_hash.as_slice() == hash.as_slice() {
                self.proven = seq;
            } else {
                let what = format!("au point de contrôle {} de {source}", ext.label());
                return Err(self.rewritten(seq, &what));
            }
        }
        Ok(())
    }

    /// Every `CHECKPOINT_EVERY`-th entry is signed in the transaction that wrote
    /// it, and every `journal.point_de_controle` entry is signed with it: a
    /// missing checkpoint there means it was deleted.
    fn check_checkpoint_exists(&mut self, seq: i64, action: Option<&[u8]>) {
        while self.stored.get(self.next_stored).is_some_and(|&s| s < seq) {
            self.next_stored += 1;
        }
        if self.stored.get(self.next_stored) == Some(&seq) {
            return;
        }
        let reason = if seq % CHECKPOINT_EVERY == 0 {
            "le point de contrôle automatique de cette entrée a disparu : points de contrôle supprimés"
        } else if action == Some(actions::CHECKPOINT.as_bytes()) {
            "cette entrée inscrit un point de contrôle qui a disparu : points de contrôle supprimés"
        } else {
            return;
        };
        self.faults.push(CheckpointFault {
            seq,
            reason: format!("entrée n° {seq} : {reason}"),
        });
    }

    fn definite(&self, seq: i64, reason: String) -> Break {
        self.conclude(Some(Break {
            seq,
            last: seq,
            reason,
            proven_until: self.proven,
        }))
    }

    /// The hash of `seq` differs from a signed one: the rewrite starts after
    /// the last entry proven intact.
    fn rewritten(&self, seq: i64, what: &str) -> Break {
        let first = self.proven + 1;
        let reason = if first == seq {
            format!("l'entrée a été réécrite : son empreinte diffère de celle signée {what}")
        } else {
            format!(
                "la chaîne a été réécrite entre les entrées n° {first} et n° {seq} : l'empreinte de l'entrée n° {seq} \
                 diffère de celle signée {what}, et aucune empreinte signée plus ancienne ne permet de situer \
                 plus précisément la première entrée réécrite"
            )
        };
        self.conclude(Some(Break {
            seq: first,
            last: seq,
            reason,
            proven_until: self.proven,
        }))
    }

    /// The earliest of `stop` and the checkpoint faults found.
    fn conclude(&self, stop: Option<Break>) -> Break {
        let proven = self.proven;
        let mut all: Vec<Break> = stop.into_iter().collect();
        all.extend(self.faults.iter().map(|f| {
            if proven >= f.seq {
                Break {
                    seq: f.seq,
                    last: f.seq,
                    reason: format!(
                        "{} ; les entrées restent garanties jusqu'à n° {proven} par les points de contrôle suivants",
                        f.reason
                    ),
                    proven_until: proven,
                }
            } else {
                Break {
                    seq: proven + 1,
                    last: f.seq,
                    reason: format!(
                        "{} ; les entrées n° {} à {} ne sont plus garanties : la première entrée réécrite éventuelle \
                         est au plus tôt n° {}",
                        f.reason,
                        proven + 1,
                        f.seq,
                        proven + 1
                    ),
                    proven_until: proven,
                }
            }
        }));
        all.sort_by_key(|b| (b.seq, b.last));
        let others = all.len().saturating_sub(1);
        let mut first = all.into_iter().next().unwrap_or(Break {
            seq: self.expected_seq,
            last: self.expected_seq,
            reason: "journal altéré".into(),
            proven_until: proven,
        });
        if others > 0 {
            first.reason.push_str(&format!(
                " (et {})",
                crate::format_fr::nombre(
                    i64::try_from(others).unwrap_or(i64::MAX),
                    "autre anomalie",
                    "autres anomalies"
                )
            ));
        }
        first
    }

    /// Call after the last batch: signed checkpoints beyond the last entry mean
    /// the end of the journal was removed.
    pub fn finish(self) -> Result<u64, Break> {
        let last = self.expected_seq - 1;
        let beyond = self.local[self.next_local.min(self.local.len())..]
            .iter()
            .filter(|c| c.seq > last)
            .map(|c| (c, "dans la base".to_string()))
            .chain(
                // Feeding passed every external checkpoint up to the last entry
                // included: those left are all beyond it.
                self.external[self.next_external.min(self.external.len())..]
                    .iter()
                    .map(|(c, s)| (c, s.clone())),
            )
            .min_by_key(|(c, _)| c.seq);
        if let Some((cp, source)) = beyond {
            let mut reason = format!(
                "des entrées finales ont été supprimées : le point de contrôle signé {} ({source}) dépasse la dernière \
                 entrée ({last})",
                cp.label()
            );
            if self.proven < last {
                reason.push_str(&format!(
                    " ; les entrées n° {} à {last} ne sont garanties par aucun point de contrôle",
                    self.proven + 1
                ));
            }
            return Err(self.conclude(Some(Break {
                seq: self.proven + 1,
                last: last + 1,
                reason,
                proven_until: self.proven,
            })));
        }
        if !self.faults.is_empty() {
            return Err(self.conclude(None));
        }
        Ok(self.checked)
    }
}

#[cfg(test)]
#[path = "verifier_tests.rs"]
mod tests;
