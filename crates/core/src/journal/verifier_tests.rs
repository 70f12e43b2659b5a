use super::*;
use crate::journal::chain::{canonical, stored_hash, StoredEntry};
use crate::journal::checkpoint::{checkpoint_genesis, checkpoint_message, sign_checkpoint, CheckpointRef};
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

/// Numbered, chained checkpoints at `seqs` (increasing), as the store signs them.
fn checkpoints(key: &SigningKey, c: &[StoredEntry], seqs: &[i64]) -> Vec<CheckpointRef> {
    let mut link = checkpoint_genesis();
    let mut debut = 1;
    let mut out: Vec<CheckpointRef> = Vec::new();
    for (i, &seq) in seqs.iter().enumerate() {
        let list: Vec<u8> = c[(debut - 1) as usize..seq as usize]
            .iter()
            .flat_map(|e| e.hash.clone())
            .collect();
        let e = &c[(seq - 1) as usize];
        let cp = sign_checkpoint(key, i as i64 + 1, debut, seq, &e.hash, 5, &link, list);
        link = cp.link(&link);
        debut = seq + 1;
        out.push(cp);
    }
    out
}

/// A legacy (version 1) checkpoint, numbered `n` by the migration.
fn legacy(key: &SigningKey, e: &StoredEntry, n: i64) -> CheckpointRef {
    let sig = key.sign(&checkpoint_message(e.seq, &e.hash, 5));
    CheckpointRef {
        n: Some(n),
        version: 1,
        seq: e.seq,
        head_hash: e.hash.clone(),
        at: 5,
        key_id: crate::keys::key_id(&key.verifying_key()),
        signature: sig.to_bytes().to_vec(),
        ..Default::default()
    }
}

/// Rewrites entry `index` and recomputes every later hash (no key needed).
fn rewrite(c: &mut [StoredEntry], index: usize) {
    c[index].details = "{\"reecrit\":true}".into();
    rehash(c, index);
}

/// Entries `from..` hashed again after a change (no key needed).
fn rehash(c: &mut [StoredEntry], from: usize) {
    let mut buf = Vec::new();
    for i in from..c.len() {
        if i > 0 {
            c[i].prev_hash = c[i - 1].hash.clone();
        }
        c[i].hash = stored_hash(&c[i], &mut buf).to_vec();
    }
}

fn witness(cp: &CheckpointRef) -> Vec<(CheckpointRef, String)> {
    let mut w = cp.clone();
    w.entry_hashes = None;
    vec![(w, "le témoin".into())]
}

fn run(
    entries: &[StoredEntry],
    key: &SigningKey,
    local: Vec<CheckpointRef>,
    external: Vec<(CheckpointRef, String)>,
    batch: usize,
) -> Result<u64, Break> {
    let mut v = ChainVerifier::new(key.verifying_key(), local, external);
    for b in entries.chunks(batch) {
        v.feed(&RawBatch::from_entries(b))?;
    }
    v.finish()
}

#[test]
fn intact_chain_passes_in_any_batch_size() {
    let key = SigningKey::from_bytes(&[3; 32]);
    let c = chain(50);
    let cps = checkpoints(&key, &c, &[10, 50]);
    for batch in [1, 7, 50] {
        assert_eq!(run(&c, &key, cps.clone(), witness(&cps[1]), batch), Ok(50));
    }
    // Legacy checkpoints followed by chained ones.
    let mut mixed = vec![legacy(&key, &c[4], 1), legacy(&key, &c[9], 2)];
    let link = crate::journal::checkpoint::last_link(&mixed);
    let list: Vec<u8> = c[10..30].iter().flat_map(|e| e.hash.clone()).collect();
    mixed.push(sign_checkpoint(&key, 3, 11, 30, &c[29].hash, 5, &link, list));
    assert_eq!(run(&c, &key, mixed.clone(), vec![], 9), Ok(50));
    // Deleting a legacy checkpoint is caught by the link of the first chained one.
    mixed.remove(0);
    let b = run(&c, &key, mixed, vec![], 9).unwrap_err();
    assert!(b.reason.contains("disparu") || b.reason.contains("chaîne"), "{b}");
}

#[test]
fn modified_deleted_reordered_entries_are_pinpointed() {
    let key = SigningKey::from_bytes(&[3; 32]);
    let c = chain(20);

    let mut m = c.clone();
    m[11].details = "{\"n\":999}".into();
    assert_eq!(run(&m, &key, vec![], vec![], 8).unwrap_err().seq, 12);

    let mut d = c.clone();
    d.remove(4);
    assert_eq!(run(&d, &key, vec![], vec![], 8).unwrap_err().seq, 5);

    let mut r = c.clone();
    r.swap(6, 7);
    assert_eq!(run(&r, &key, vec![], vec![], 3).unwrap_err().seq, 7);

    // A forged checkpoint (other key) is refused.
    let other = SigningKey::from_bytes(&[4; 32]);
    let mut forged = checkpoints(&other, &c, &[5]);
    forged[0].key_id = crate::keys::key_id(&key.verifying_key());
    assert_eq!(run(&c, &key, forged, vec![], 4).unwrap_err().seq, 1);
}

#[test]
fn a_rewrite_kept_under_a_checkpoint_names_the_first_rewritten_entry() {
    let key = SigningKey::from_bytes(&[3; 32]);
    let c = chain(30);
    let cps = checkpoints(&key, &c, &[10, 20]);
    let mut rw = c.clone();
    rewrite(&mut rw, 13);
    let b = run(&rw, &key, cps.clone(), vec![], 4).unwrap_err();
    assert_eq!((b.seq, b.last, b.proven_until), (14, 14, 13), "{b}");
    // After the last checkpoint, no signed hash: undetectable without a witness.
    let mut late = c.clone();
    rewrite(&mut late, 24);
    assert_eq!(run(&late, &key, cps, vec![], 4), Ok(30));
}

#[test]
fn deleted_or_reordered_checkpoints_are_caught() {
    let key = SigningKey::from_bytes(&[3; 32]);
    let c = chain(40);
    let cps = checkpoints(&key, &c, &[10, 20, 30]);

    // A deleted checkpoint in the middle: entries still proven by the next one.
    let mut gap = cps.clone();
    gap.remove(1);
    let b = run(&c, &key, gap.clone(), vec![], 7).unwrap_err();
    assert_eq!((b.seq, b.last), (20, 20), "{b}");
    assert!(b.reason.contains("n° 2 a disparu"), "{b}");

    // Deleted and entries rewritten in its segment: the first one cannot be
    // known, the report bounds it (after the last proven entry).
    let mut rw = c.clone();
    rewrite(&mut rw, 14);
    let b = run(&rw, &key, gap, vec![], 7).unwrap_err();
    assert_eq!((b.seq, b.proven_until), (11, 10), "{b}");
    assert!(!b.exact() && b.last <= 21, "{b}");

    // Swapped numbers or positions.
    let mut swapped = cps.clone();
    swapped[0].n = Some(2);
    swapped[1].n = Some(1);
    let b = run(&c, &key, swapped, vec![], 7).unwrap_err();
    assert_eq!(b.seq, 10, "{b}");
    let mut moved = cps.clone();
    let (a, b) = (moved[0].seq, moved[1].seq);
    moved[0].seq = b;
    moved[1].seq = a;
    moved.sort_by_key(|c| c.seq);
    let b = run(&c, &key, moved, vec![], 7).unwrap_err();
    assert_eq!(b.seq, 10, "{b}");
}

#[test]
fn a_witness_catches_truncation_and_deleted_last_checkpoints() {
    let key = SigningKey::from_bytes(&[3; 32]);
    let c = chain(40);
    let cps = checkpoints(&key, &c, &[10, 20, 30]);
    let seen = witness(&cps[2]);
    // Without a witness, deleting the last checkpoint and the end verifies.
    let truncated = c[..25].to_vec();
    assert_eq!(run(&truncated, &key, cps[..2].to_vec(), vec![], 6), Ok(25));
    // With it, it does not.
    let b = run(&truncated, &key, cps[..2].to_vec(), seen.clone(), 6).unwrap_err();
    assert_eq!((b.seq, b.proven_until), (21, 20), "{b}");
    assert!(
        b.reason.starts_with(
            "des entrées finales ont été supprimées : le point de contrôle signé n° 3 (entrée n° 30) (le témoin) \
             dépasse la dernière entrée (25) ; les entrées n° 21 à 25 ne sont garanties par aucun point de contrôle"
        ),
        "{b}"
    );
    // Rewritten after the last local checkpoint, that checkpoint deleted.
    let mut rw = c.clone();
    rewrite(&mut rw, 24);
    let b = run(&rw, &key, cps[..2].to_vec(), seen, 6).unwrap_err();
    assert_eq!((b.seq, b.last), (21, 30), "{b}");
    // Named by the witness's signed head, not only by its absence from the base.
    assert!(
        b.reason.starts_with(
            "la chaîne a été réécrite entre les entrées n° 21 et n° 30 : l'empreinte de l'entrée n° 30 diffère de \
             celle signée au point de contrôle n° 3 (entrée n° 30) de le témoin"
        ),
        "{b}"
    );
    assert!(b.reason.ends_with(" (et 1 autre anomalie)"), "{b}");
}

/// Each break, as `journal verify` prints it.
#[test]
fn each_break_says_where_and_why() {
    let key = SigningKey::from_bytes(&[3; 32]);
    let c = chain(20);
    let said = |entries: &[StoredEntry]| run(entries, &key, vec![], vec![], 8).unwrap_err().to_string();

    let mut m = c.clone();
    m[11].details = "{\"n\":999}".into();
    assert_eq!(
        said(&m),
        "entrée n° 12 : le contenu a été modifié (l'empreinte recalculée ne correspond pas)"
    );
    let mut d = c.clone();
    d.remove(4);
    assert_eq!(
        said(&d),
        "entrée n° 5 : numéro attendu 5, trouvé 6 : une ou plusieurs entrées ont été supprimées ou déplacées"
    );
    let mut twice = c.clone();
    twice.insert(5, c[4].clone());
    assert_eq!(
        said(&twice),
        "entrée n° 5 : numéro 5 en double ou hors d'ordre (attendu 6)"
    );
    let mut unlinked = c.clone();
    unlinked[9].prev_hash = vec![0; 32];
    assert_eq!(
        said(&unlinked),
        "entrée n° 10 : le lien vers l'entrée précédente est rompu (empreinte précédente différente)"
    );
    // A stored hash cut short is a broken link, whatever else is right.
    let mut cut = c.clone();
    cut[9].hash.truncate(31);
    assert_eq!(
        said(&cut),
        "entrée n° 10 : le lien vers l'entrée précédente est rompu (empreinte précédente différente)"
    );
    let b = run(&m, &key, vec![], vec![], 8).unwrap_err();
    assert!(b.exact());

    // A rewrite that a checkpoint can only bound: « au plus tôt ».
    let cps = checkpoints(&key, &c, &[10, 20]);
    let mut gap = cps.clone();
    gap.remove(0);
    let mut rw = c.clone();
    rewrite(&mut rw, 4);
    let mut nolist = gap.clone();
    nolist[0].entry_hashes = None;
    let b = run(&rw, &key, nolist, vec![], 8).unwrap_err();
    assert!(!b.exact(), "{b}");
    assert!(
        b.to_string()
            .starts_with(&format!("entrée n° {} au plus tôt : ", b.seq)),
        "{b}"
    );
}

#[test]
fn the_verifier_counts_the_entries_it_checked() {
    let key = SigningKey::from_bytes(&[3; 32]);
    let c = chain(12);
    let mut v = ChainVerifier::new(key.verifying_key(), vec![], vec![]);
    assert_eq!(v.checked(), 0);
    v.feed(&RawBatch::from_entries(&c[..5])).unwrap();
    assert_eq!(v.checked(), 5);
    v.feed(&RawBatch::from_entries(&c[5..])).unwrap();
    assert_eq!(v.checked(), 12);
    assert_eq!(v.finish(), Ok(12));
}

#[test]
fn a_checkpoint_that_an_entry_records_must_still_be_there() {
    let key = SigningKey::from_bytes(&[3; 32]);
    let mut c = chain(12);
    c[4].action = actions::CHECKPOINT.into();
    c[9].action = actions::CHECKPOINT.into();
    rehash(&mut c, 4);
    let cps = checkpoints(&key, &c, &[3, 5, 10]);
    assert_eq!(run(&c, &key, cps.clone(), vec![], 4), Ok(12));
    let mut gone = cps.clone();
    gone.remove(2);
    let b = run(&c, &key, gone, vec![], 4).unwrap_err();
    assert_eq!((b.seq, b.last), (6, 10), "{b}");
    assert!(
        b.reason.starts_with(
            "entrée n° 10 : cette entrée inscrit un point de contrôle qui a disparu : points de contrôle supprimés ; \
             les entrées n° 6 à 10 ne sont plus garanties"
        ),
        "{b}"
    );
}

#[test]
fn the_other_anomalies_are_counted_in_french() {
    let key = SigningKey::from_bytes(&[3; 32]);
    let mut c = chain(12);
    for i in [3, 6, 9] {
        c[i].action = actions::CHECKPOINT.into();
    }
    rehash(&mut c, 3);
    // The three checkpoints that entries 4, 7 and 10 record are all gone: the first is reported,
    // the two others counted.
    let b = run(&c, &key, vec![], vec![], 5).unwrap_err();
    assert_eq!((b.seq, b.last), (1, 4), "{b}");
    assert!(
        b.reason
            .starts_with("entrée n° 4 : cette entrée inscrit un point de contrôle qui a disparu"),
        "{b}"
    );
    assert!(b.reason.ends_with(" (et 2 autres anomalies)"), "{b}");
    // Two gone: one other anomaly, in the singular.
    let cps = checkpoints(&key, &c, &[4]);
    let b = run(&c, &key, cps, vec![], 5).unwrap_err();
    assert!(
        b.reason
            .starts_with("entrée n° 7 : cette entrée inscrit un point de contrôle qui a disparu"),
        "{b}"
    );
    assert!(b.reason.ends_with(" (et 1 autre anomalie)"), "{b}");
}

#[test]
fn every_thousandth_entry_has_its_checkpoint() {
    let key = SigningKey::from_bytes(&[3; 32]);
    let c = chain(1001);
    let b = run(&c, &key, vec![], vec![], 300).unwrap_err();
    assert_eq!((b.seq, b.last), (1, 1000), "{b}");
    assert!(
        b.reason
            .starts_with("entrée n° 1000 : le point de contrôle automatique de cette entrée a disparu"),
        "{b}"
    );
    let cps = checkpoints(&key, &c, &[999, 1000]);
    assert_eq!(run(&c, &key, cps, vec![], 300), Ok(1001));
}

#[test]
fn a_rewritten_entry_under_its_own_signed_hash_is_named_exactly() {
    let key = SigningKey::from_bytes(&[3; 32]);
    let c = chain(20);
    let cps = checkpoints(&key, &c, &[10, 20]);
    let mut rw = c.clone();
    rewrite(&mut rw, 10);
    let b = run(&rw, &key, cps.clone(), vec![], 5).unwrap_err();
    assert_eq!(
        b.to_string(),
        "entrée n° 11 : l'entrée a été réécrite : son empreinte diffère de celle signée au point de contrôle n° 2 \
         (entrée n° 20)"
    );
    // The end cut off, its checkpoint kept: the signed list still proves the
    // entries left; without it, the report says which ones nothing proves.
    let b = run(&c[..15], &key, cps.clone(), vec![], 5).unwrap_err();
    assert_eq!(
        b.to_string(),
        "entrée n° 16 : des entrées finales ont été supprimées : le point de contrôle signé n° 2 (entrée n° 20) \
         (dans la base) dépasse la dernière entrée (15)"
    );
    let mut without_list = cps;
    without_list[1].entry_hashes = None;
    let b = run(&c[..15], &key, without_list, vec![], 5).unwrap_err();
    assert!(
        b.reason.ends_with(
            "dépasse la dernière entrée (15) ; les entrées n° 11 à 15 ne sont garanties par aucun point de contrôle"
        ),
        "{b}"
    );
    assert_eq!((b.seq, b.last), (11, 16), "{b}");
}

#[test]
fn a_witness_numbered_before_the_first_entry_is_only_reported_absent() {
    let key = SigningKey::from_bytes(&[3; 32]);
    let c = chain(12);
    let cps = checkpoints(&key, &c, &[10]);
    let early = sign_checkpoint(&key, 1, 0, 0, &[9; 32], 5, &checkpoint_genesis(), vec![9; 32]);
    let b = run(&c, &key, cps, witness(&early), 4).unwrap_err();
    assert_eq!(
        b.to_string(),
        "entrée n° 0 : le point de contrôle n° 1 (entrée n° 0) attesté par le témoin n'est plus dans la \
         base (supprimé ou remplacé) ; les entrées restent garanties jusqu'à n° 10 par les points de contrôle suivants"
    );
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
            prop_assert_eq!(run(&c, &key, vec![], vec![], batch).unwrap_err().seq, expected);
            prop_assert_eq!(run(&chain(n), &key, vec![], vec![], batch), Ok(n as u64));
        }

        /// An attacker without the key rewrites an entry (recomputing the hashes),
        /// deletes checkpoints and truncates the end, in any combination. With a
        /// witness of the last checkpoint, every such change is caught; the report
        /// never blames an entry after the first one that differs, nor claims
        /// intact an entry that differs; and when a signed hash of the first
        /// rewritten entry survives, it is named exactly.
        #[test]
        fn rewrites_deletions_and_truncations_are_caught_and_bounded(
            n in 12i64..80,
            gaps in proptest::collection::vec(1i64..15, 1..8),
            rewrite_at in proptest::option::of(any::<usize>()),
            deleted in any::<u8>(),
            truncate in proptest::option::of(any::<usize>()),
            with_witness in any::<bool>(),
            batch in 1usize..30,
        ) {
            let key = SigningKey::from_bytes(&[9; 32]);
            let original = chain(n);
            let mut seqs = Vec::new();
            let mut s = 0;
            for g in gaps {
                s += g;
                if s >= n { break; }
                seqs.push(s);
            }
            prop_assume!(!seqs.is_empty());
            let cps = checkpoints(&key, &original, &seqs);
            let external = if with_witness { witness(&cps[cps.len() - 1]) } else { vec![] };

            let mut c = original.clone();
            let mut first_diff: Option<i64> = None;
            if let Some(i) = rewrite_at {
                let i = i % c.len();
                rewrite(&mut c, i);
                first_diff = Some(i as i64 + 1);
            }
            let mut local: Vec<CheckpointRef> = cps
                .iter()
                .enumerate()
                .filter(|(i, _)| deleted & (1 << (i % 8)) == 0)
                .map(|(_, c)| c.clone())
                .collect();
            if let Some(t) = truncate {
                let keep = t % c.len() + 1;
                if keep < c.len() {
                    c.truncate(keep);
                    local.retain(|cp| cp.seq <= keep as i64);
                    let cut = keep as i64 + 1;
                    first_diff = Some(first_diff.map_or(cut, |d| d.min(cut)));
                }
            }
            let checkpoints_deleted = local.len() != cps.len();
            let outcome = run(&c, &key, local.clone(), external.clone(), batch);

            if first_diff.is_none() && !checkpoints_deleted {
                prop_assert_eq!(outcome, Ok(c.len() as u64));
                return Ok(());
            }
            let witness_seq = external.first().map(|(w, _)| w.seq);
            if let Some(ws) = witness_seq {
                let must_catch = checkpoints_deleted || first_diff.is_some_and(|d| d <= ws);
                if must_catch {
                    prop_assert!(outcome.is_err(), "not caught: {:?}", outcome);
                }
            }
            if let (Err(b), Some(d)) = (&outcome, first_diff) {
                prop_assert!(b.proven_until < d, "{:?} proves the changed entry {}", b, d);
                prop_assert!(b.seq <= d, "{:?} names an entry after the first change {}", b, d);
                // Exact when the segment holding the first change is still signed
                // and nothing before it was touched.
                let covering = cps.iter().position(|cp| cp.debut.unwrap_or(0) <= d && d <= cp.seq);
                if let Some(k) = covering {
                    let intact_before = (0..=k).all(|j| local.iter().any(|l| l.n == cps[j].n));
                    if intact_before && rewrite_at.is_some() && d <= c.len() as i64 {
                        prop_assert_eq!((b.seq, b.last), (d, d), "{:?}", b);
                    }
                }
            }
        }
    }
}
