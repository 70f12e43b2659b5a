//! The checkpoint table checked on its own ([`check_local`]): numbers without
//! gaps, links, signatures, segments following each other; each fault at the
//! entry it concerns, with its French reason.

use ed25519_dalek::{Signer, SigningKey};

use super::*;

fn key() -> SigningKey {
    SigningKey::from_bytes(&[5; 32])
}

/// A version 2 checkpoint numbered `n` over `debut..=seq`, chained to `prev`.
fn v2(n: i64, debut: i64, seq: i64, prev: &[u8]) -> CheckpointRef {
    let list = vec![seq as u8; 32 * (seq - debut + 1) as usize];
    sign_checkpoint(&key(), n, debut, seq, &[seq as u8; 32], 5, prev, list)
}

/// A version 1 (legacy) checkpoint of entry `seq`, numbered `n` by the migration.
fn v1(n: i64, seq: i64) -> CheckpointRef {
    let head = [seq as u8; 32];
    CheckpointRef {
        n: Some(n),
        version: 1,
        seq,
        head_hash: head.to_vec(),
        at: 5,
        key_id: crate::keys::key_id(&key().verifying_key()),
        signature: key().sign(&checkpoint_message(seq, &head, 5)).to_bytes().to_vec(),
        ..Default::default()
    }
}

/// Checkpoints over `segments` (`(n, debut, seq)`), each chained to the one before.
fn chained(segments: &[(i64, i64, i64)]) -> Vec<CheckpointRef> {
    let mut link = checkpoint_genesis();
    segments
        .iter()
        .map(|&(n, debut, seq)| {
            let cp = v2(n, debut, seq, &link);
            link = cp.link(&link);
            cp
        })
        .collect()
}

fn faults(local: Vec<CheckpointRef>) -> Vec<(i64, String)> {
    let k = key().verifying_key();
    check_local(&k, &crate::keys::key_id(&k), local)
        .1
        .into_iter()
        .map(|f| (f.seq, f.reason))
        .collect()
}

#[test]
fn an_intact_table_is_trusted_whole() {
    let cps = chained(&[(1, 1, 10), (2, 11, 20), (3, 21, 30)]);
    let k = key().verifying_key();
    let (trusted, faults) = check_local(&k, &crate::keys::key_id(&k), cps.clone());
    assert_eq!((trusted, faults), (cps, vec![]));
    // Legacy checkpoints first, then version 2 chained after them.
    let legacy = [v1(1, 4), v1(2, 10)];
    let link = last_link(&legacy);
    let next = v2(3, 11, 20, &link);
    let after = v2(4, 21, 30, &next.link(&link));
    let table = vec![legacy[0].clone(), legacy[1].clone(), next, after];
    assert_eq!(self::faults(table), vec![]);
}

#[test]
fn a_deleted_checkpoint_is_named_at_its_entry() {
    let cps = chained(&[(1, 1, 10), (2, 11, 20), (3, 21, 30), (4, 31, 40)]);
    let missing_2 = "le point de contrôle n° 2 a disparu (numérotation interrompue avant le point n° 3 (entrée n° 30))";
    assert_eq!(faults(vec![cps[0].clone(), cps[2].clone()]), [(20, missing_2.into())]);
    // Every later link is broken too (it was chained through the deleted
    // one): reported as well; the verifier gives the earliest fault.
    assert_eq!(
        faults(vec![cps[0].clone(), cps[2].clone(), cps[3].clone()]),
        [
            (20, missing_2.into()),
            (
                40,
                "chaîne des points de contrôle rompue au point n° 4 (entrée n° 40) : le point précédent a été \
                 supprimé, modifié ou déplacé"
                    .into()
            )
        ]
    );
    assert_eq!(
        faults(vec![cps[0].clone(), cps[3].clone()]),
        [(
            30,
            "les points de contrôle n° 2 à 3 ont disparu (numérotation interrompue avant le point n° 4 (entrée n° 40))"
                .into()
        )]
    );
    // The first one deleted: its segment ended at entry 10.
    let found = faults(cps[1..].to_vec());
    assert_eq!(
        found[0],
        (
            10,
            "le point de contrôle n° 1 a disparu (numérotation interrompue avant le point n° 2 (entrée n° 20))".into()
        )
    );
    assert_eq!(found.iter().map(|f| f.0).collect::<Vec<_>>(), [10, 30, 40]);
}

#[test]
fn a_number_skipped_without_a_gap_in_the_entries_is_named_after_the_last_segment() {
    // Numbers 1 then 3, segments 1..=10 then 11..=20, correctly chained: the
    // missing checkpoint could only have been at entry 11 or later.
    assert_eq!(
        faults(chained(&[(1, 1, 10), (3, 11, 20)])),
        [(
            11,
            "le point de contrôle n° 2 a disparu (numérotation interrompue avant le point n° 3 (entrée n° 20))".into()
        )]
    );
    // After legacy checkpoints (no segment), the entry after the last one.
    let legacy = [v1(1, 10)];
    let jump = v2(3, 11, 20, &last_link(&legacy));
    assert_eq!(
        faults(vec![legacy[0].clone(), jump]),
        [(
            11,
            "le point de contrôle n° 2 a disparu (numérotation interrompue avant le point n° 3 (entrée n° 20))".into()
        )]
    );
}

#[test]
fn a_number_met_twice_is_out_of_order() {
    let first = v2(1, 1, 10, &checkpoint_genesis());
    let again = v2(1, 11, 20, &first.link(&checkpoint_genesis()));
    let third = v2(2, 21, 30, &again.link(&first.link(&checkpoint_genesis())));
    assert_eq!(
        faults(vec![first, again, third]),
        [(
            20,
            "point de contrôle n° 1 (entrée n° 20) hors d'ordre : numéro 2 attendu (points de contrôle déplacés ou \
             renumérotés)"
                .into()
        )]
    );
}

#[test]
fn links_segments_versions_and_signatures_are_each_checked() {
    let cps = chained(&[(1, 1, 10), (2, 11, 20), (3, 21, 30)]);
    let link1 = cps[0].link(&checkpoint_genesis());

    let unchained = v2(2, 11, 20, &checkpoint_genesis());
    let next = v2(3, 21, 30, &unchained.link(&link1));
    assert_eq!(
        faults(vec![cps[0].clone(), unchained, next]),
        [(
            20,
            "chaîne des points de contrôle rompue au point n° 2 (entrée n° 20) : le point précédent a été supprimé, \
             modifié ou déplacé"
                .into()
        )]
    );

    let gap = v2(2, 12, 20, &link1);
    let next = v2(3, 21, 30, &gap.link(&link1));
    assert_eq!(
        faults(vec![cps[0].clone(), gap, next]),
        [(
            20,
            "le segment du point de contrôle n° 2 (entrée n° 20) ne suit pas le point précédent".into()
        )]
    );

    let late_legacy = v1(2, 20);
    let next = v2(3, 21, 30, &late_legacy.link(&link1));
    assert_eq!(
        faults(vec![cps[0].clone(), late_legacy, next]),
        [(
            20,
            "point de contrôle n° 2 (entrée n° 20) de version 1 après un point de version 2".into()
        )]
    );

    let mut forged = cps.clone();
    forged[1].signature[0] ^= 1;
    let k = key().verifying_key();
    let (trusted, found) = check_local(&k, &crate::keys::key_id(&k), forged);
    assert_eq!(
        trusted,
        vec![cps[0].clone(), cps[2].clone()],
        "a forged checkpoint is not trusted"
    );
    assert_eq!(
        found,
        [CheckpointFault {
            seq: 20,
            reason: "point de contrôle n° 2 (entrée n° 20) altéré : signature du point de contrôle invalide".into()
        }]
    );

    let other = SigningKey::from_bytes(&[6; 32]);
    let (trusted, found) = check_local(&other.verifying_key(), "autre-cle", cps);
    assert!(trusted.is_empty());
    assert_eq!(found.len(), 3);
    assert!(
        found[0].reason.contains("signé par une clé inconnue"),
        "{}",
        found[0].reason
    );
}

#[test]
fn an_unnumbered_checkpoint_is_out_of_order_and_counts_as_one() {
    let mut unnumbered = v1(1, 10);
    unnumbered.n = None;
    let next = v2(2, 11, 20, &unnumbered.link(&checkpoint_genesis()));
    assert_eq!(
        faults(vec![unnumbered, next]),
        [(
            10,
            "point de contrôle de l'entrée n° 10 hors d'ordre : numéro 1 attendu (points de contrôle déplacés ou \
             renumérotés)"
                .into()
        )]
    );
}
