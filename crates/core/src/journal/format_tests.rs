//! The journal's format, pinned by known answers: journals and checkpoints
//! written by earlier versions (and the witnesses that keep their signed
//! heads) must still verify, so any change to what is hashed or signed must
//! fail here. The expected values were computed outside Rust, from the format
//! as the doc comments of `chain.rs` and `checkpoint.rs` describe it (Python's
//! hashlib and the `cryptography` package's Ed25519):
//!
//! ```text
//! genesis   = sha256("passerelle-journal-genesis-v1")
//! canonical = "PJ1\n" ‖ seq ‖ at ‖ (01 ‖ account | 00) ‖ (len u32 ‖ text) × 4   (big-endian)
//! hash      = sha256(prev ‖ canonical)
//! segment   = sha256("passerelle-journal-segment-v1\n" ‖ entry hashes)
//! v1        = "passerelle-journal-checkpoint-v1\n" ‖ seq ‖ head ‖ at
//! v2        = "passerelle-journal-checkpoint-v2\n" ‖ n ‖ debut ‖ seq ‖ head ‖ at ‖ segment ‖ prev
//! link      = sha256(previous link ‖ signed message), from sha256("passerelle-journal-checkpoint-genesis-v2")
//! ```

use ed25519_dalek::SigningKey;
use sha2::{Digest, Sha256};

use super::chain::{action_of, canonical, entry_hash, genesis, stored_hash, RawBatch, StoredEntry};
use super::checkpoint::{
    checkpoint_genesis, checkpoint_message, checkpoint_message_v2, last_link, segment_digest, sign_checkpoint,
    CheckpointRef,
};

const GENESIS: &str = "4ddbe4eff447daf4d92ee8c876235d89f16073c8ac007a1fc6bd4d38811ed1ba";
const CANONICAL_1: &str =
    "504a310a0000000000000007000000006553f10001000000000000002a000000096f70657261746575720000001170\
    6173732e656e6361697373656d656e74000000107b22636865717565223a22632d31227d000000107b226d6f6e74616e74223a313030307d";
const HASH_1: &str = "30d09712ab51e2aea9d8baa6133e76bd2a4bf4c3109a1ed240d3a41f1fe38f0e";
const HASH_2: &str = "bca5a18cceb6b1b7f7d38366b74ee7d4ba0d00412127b070a9ad5b1aceb01e3e";
const CHECKPOINT_GENESIS: &str = "97f6e5aa939c7ef0bb024b1ad25ed4445255ab579dfa61a2f500abb088d3bc9a";
/// sha256 of the 81 bytes a version 1 checkpoint of entry 2 signs.
const V1_DIGEST: &str = "452ace224f926fd061744c0d0eb386f80a375425a4214725dbbcb2d369afacac";
const SEGMENT: &str = "2c4e089566b014246610041c3e0b10a2b09498180cd43ba9a010a9fd9632962b";
/// sha256 of the 161 bytes the first version 2 checkpoint signs (entries 7 and 8).
const V2_DIGEST: &str = "6cd360467ce197237d89c638f8a5f3f93a036ba9b5006099de441873bb8ef63b";
const LINK: &str = "3fd5bf27d9ca8bf2c047b9801026760e71166d578ec036c8f31541ba371e2515";
/// Ed25519 (deterministic) with the secret key [7; 32] over that message.
const SIGNATURE: &str = "86f29961dbbf59da2cc759176ae03520d7160ce73b4a8600079b507bf426e2d0\
    0000059b61aa9ba50c1c83489525d9a1154213b5aab7d4abbea9f775c59c2a04";
const AT: i64 = 1_700_000_100;

fn sha(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Two entries: n° 7 by account 42, n° 8 by the system (no account).
fn entries() -> [StoredEntry; 2] {
    let first = StoredEntry {
        seq: 7,
        at: 1_700_000_000,
        actor_account: Some(42),
        actor_role: "operateur".into(),
        action: "pass.encaissement".into(),
        subjects: r#"{"cheque":"c-1"}"#.into(),
        details: r#"{"montant":1000}"#.into(),
        prev_hash: genesis().to_vec(),
        hash: hex::decode(HASH_1).unwrap_or_default(),
    };
    let second = StoredEntry {
        seq: 8,
        at: 1_700_000_060,
        actor_account: None,
        actor_role: "systeme".into(),
        action: "journal.point".into(),
        subjects: "{}".into(),
        details: "{}".into(),
        prev_hash: first.hash.clone(),
        hash: hex::decode(HASH_2).unwrap_or_default(),
    };
    [first, second]
}

/// The entry hashes of the segment 7..=8.
fn segment_list() -> Vec<u8> {
    entries().iter().flat_map(|e| e.hash.clone()).collect()
}

/// The first version 2 checkpoint, over entries 7 and 8, signed with the key [7; 32].
fn signed() -> (SigningKey, CheckpointRef) {
    let key = SigningKey::from_bytes(&[7; 32]);
    let [_, second] = entries();
    let cp = sign_checkpoint(&key, 1, 7, 8, &second.hash, AT, &checkpoint_genesis(), segment_list());
    (key, cp)
}

#[test]
fn entries_hash_as_the_format_says() {
    assert_eq!(hex::encode(genesis()), GENESIS);
    let [first, second] = entries();
    let mut buf = Vec::new();
    canonical(
        &mut buf,
        first.seq,
        first.at,
        first.actor_account,
        &first.actor_role,
        &first.action,
        &first.subjects,
        &first.details,
    );
    assert_eq!(hex::encode(&buf), CANONICAL_1.replace(' ', ""));
    assert_eq!(hex::encode(entry_hash(&genesis(), &buf)), HASH_1);
    assert_eq!(hex::encode(stored_hash(&first, &mut buf)), HASH_1);
    // The buffer is reused: the second entry's serialisation replaces the first.
    assert_eq!(hex::encode(stored_hash(&second, &mut buf)), HASH_2);
    assert_eq!(&buf[..4], b"PJ1\n");
    assert_eq!(buf[20], 0, "no account: one zero byte");
}

#[test]
fn the_action_is_read_back_from_the_serialisation() {
    let batch = RawBatch::from_entries(&entries());
    assert_eq!(batch.len(), 2);
    assert!(!batch.is_empty());
    assert!(RawBatch::default().is_empty());
    let actions: Vec<Option<&[u8]>> = batch
        .rows
        .iter()
        .map(|r| action_of(&batch.buf[r.start..r.end]))
        .collect();
    assert_eq!(actions, [Some(&b"pass.encaissement"[..]), Some(&b"journal.point"[..])]);
    assert_eq!(action_of(b"PJ1\n"), None, "a cut serialisation has no action");
}

#[test]
fn a_stored_hash_of_the_wrong_length_is_not_well_formed() {
    let [first, ..] = entries();
    let texts = [&b"r"[..], b"a", b"{}", b"{}"];
    let mut batch = RawBatch::with_capacity(4);
    batch.push(1, 0, None, texts, &first.prev_hash, &first.hash);
    batch.push(2, 0, None, texts, &first.prev_hash, &first.hash[..31]);
    batch.push(3, 0, None, texts, &first.prev_hash[..31], &first.hash);
    batch.push(4, 0, None, texts, b"", b"");
    let formed: Vec<bool> = batch.rows.iter().map(|r| r.well_formed).collect();
    assert_eq!(formed, [true, false, false, false]);
    assert_eq!(batch.rows[0].hash.as_slice(), first.hash.as_slice());
    assert_eq!(batch.rows[0].prev.as_slice(), first.prev_hash.as_slice());
    assert_eq!(batch.rows[1].hash, [0; 32], "a malformed hash is not copied");
}

#[test]
fn checkpoints_sign_what_the_format_says() {
    let [_, second] = entries();
    assert_eq!(hex::encode(checkpoint_genesis()), CHECKPOINT_GENESIS);

    let v1 = checkpoint_message(second.seq, &second.hash, AT);
    assert_eq!(v1.len(), 81);
    assert_eq!(sha(&v1), V1_DIGEST);

    let list = segment_list();
    assert_eq!(hex::encode(segment_digest(&list)), SEGMENT);
    let v2 = checkpoint_message_v2(1, 7, 8, &second.hash, AT, &segment_digest(&list), &checkpoint_genesis());
    assert_eq!(v2.len(), 161);
    assert_eq!(sha(&v2), V2_DIGEST);

    let (key, cp) = signed();
    assert_eq!(cp.message(), Some(v2));
    assert_eq!(hex::encode(&cp.signature), SIGNATURE.replace(' ', ""));
    assert_eq!(cp.segment_hash.as_deref(), Some(&segment_digest(&list)[..]));
    assert_eq!(hex::encode(cp.link(&checkpoint_genesis())), LINK);
    assert_eq!(hex::encode(last_link(std::slice::from_ref(&cp))), LINK);
    assert_eq!(hex::encode(last_link(&[])), CHECKPOINT_GENESIS);
    assert!(cp.list_is_signed());
    let key_id = crate::keys::key_id(&key.verifying_key());
    assert_eq!(cp.check_signature(&key.verifying_key(), &key_id), Ok(()));

    // A version 1 checkpoint's message covers seq, head and time only.
    let legacy = CheckpointRef {
        version: 1,
        seq: second.seq,
        head_hash: second.hash.clone(),
        at: AT,
        ..Default::default()
    };
    assert_eq!(legacy.message().map(|m| sha(&m)), Some(V1_DIGEST.to_string()));
}

#[test]
fn every_signed_field_changes_the_message() {
    let [_, second] = entries();
    let (key, cp) = signed();
    let key_id = crate::keys::key_id(&key.verifying_key());
    type Alteration = (&'static str, fn(&mut CheckpointRef));
    let altered: [Alteration; 7] = [
        ("n", |c| c.n = Some(2)),
        ("debut", |c| c.debut = Some(6)),
        ("seq", |c| c.seq = 9),
        ("head", |c| c.head_hash[0] ^= 1),
        ("at", |c| c.at += 1),
        ("segment", |c| {
            if let Some(s) = c.segment_hash.as_mut() {
                s[0] ^= 1
            }
        }),
        ("prev", |c| {
            if let Some(p) = c.prev_checkpoint_hash.as_mut() {
                p[31] ^= 1
            }
        }),
    ];
    for (field, alter) in altered {
        let mut c = cp.clone();
        alter(&mut c);
        assert_ne!(c.message(), cp.message(), "{field}");
        assert_ne!(c.link(&checkpoint_genesis()), cp.link(&checkpoint_genesis()), "{field}");
        assert_eq!(
            c.check_signature(&key.verifying_key(), &key_id),
            Err("signature du point de contrôle invalide".to_string()),
            "{field}"
        );
        assert!(!c.same_signed_content(&cp), "{field}");
    }
    let v1 = checkpoint_message(8, &second.hash, AT);
    for other in [
        checkpoint_message(9, &second.hash, AT),
        checkpoint_message(8, &[0; 32], AT),
        checkpoint_message(8, &second.hash, AT + 1),
    ] {
        assert_ne!(other, v1);
    }
}

#[test]
fn a_checkpoint_gives_the_signed_hash_of_each_entry_of_its_segment_only() {
    let [first, second] = entries();
    let (_, cp) = signed();
    let at = |c: &CheckpointRef, seq| c.entry_hash_at(seq).map(<[u8]>::to_vec);
    assert_eq!(at(&cp, 6), None);
    assert_eq!(at(&cp, 7), Some(first.hash.clone()));
    assert_eq!(at(&cp, 8), Some(second.hash.clone()));
    assert_eq!(at(&cp, 9), None);
    // A stored list of the wrong length is ignored, whatever the entry.
    for len in [32, 96] {
        let mut cut = cp.clone();
        cut.entry_hashes = Some(vec![1; len]);
        assert_eq!((at(&cut, 7), at(&cut, 8)), (None, None), "{len} octets");
    }
    let mut none = cp.clone();
    none.debut = None;
    assert_eq!(at(&none, 7), None);
}

#[test]
fn a_checkpoint_knows_whether_its_stored_list_is_the_signed_one() {
    let (_, cp) = signed();
    assert!(cp.list_is_signed());
    let mut changed = cp.clone();
    if let Some(l) = changed.entry_hashes.as_mut() {
        l[40] ^= 1;
    }
    assert!(!changed.list_is_signed());
    let mut without = cp.clone();
    without.entry_hashes = None;
    assert!(!without.list_is_signed(), "a witness keeps no list");
    let mut unsigned = cp.clone();
    unsigned.segment_hash = None;
    assert!(!unsigned.list_is_signed());

    // What a witness compares: the signed content and the signature, not the list.
    assert!(cp.same_signed_content(&without));
    assert!(
        !unsigned.same_signed_content(&unsigned.clone()),
        "no message, nothing to compare"
    );
    let mut other_signature = cp.clone();
    other_signature.signature[0] ^= 1;
    assert!(!cp.same_signed_content(&other_signature));

    assert_eq!(cp.label(), "n° 1 (entrée n° 8)");
    let legacy = CheckpointRef {
        version: 1,
        seq: 8,
        ..Default::default()
    };
    assert_eq!(legacy.label(), "de l'entrée n° 8");
}

/// The signed head that witnesses keep (`journal-tete.json`): its fields are a
/// published format, read back by `journal verify --temoin` years later.
#[test]
fn the_signed_head_keeps_its_published_fields() {
    let (key, cp) = signed();
    let public = key.verifying_key();
    let doc = super::tete::tete_json(&cp, &public);
    let expected = serde_json::json!({
        "format": "passerelle-tete-journal-v1",
        "date": "1970-01-01T00:28:20.0001Z",
        "empreinte_point": LINK,
        "cle_publique": hex::encode(public.as_bytes()),
        "version": 2,
        "numero": 1,
        "seq": 8,
        "debut": 7,
        "empreinte": HASH_2,
        "at": AT,
        "empreinte_segment": SEGMENT,
        "precedent": CHECKPOINT_GENESIS,
        "cle": crate::keys::key_id(&public),
        "signature": SIGNATURE,
    });
    assert_eq!(doc, expected);
    let text = doc.to_string();
    let back = super::tete::parse_tete(&text, &public, "témoin").unwrap();
    assert_eq!(
        back,
        CheckpointRef {
            entry_hashes: None,
            ..cp
        }
    );
}

#[test]
fn a_point_of_a_version_1_file_reads_with_its_defaults() {
    let (_, cp) = signed();
    let v1 = serde_json::json!({
        "seq": 8, "empreinte": HASH_2, "at": AT, "cle": cp.key_id, "signature": SIGNATURE,
    });
    let p = super::tete::parse_point(&v1).unwrap();
    assert_eq!((p.version, p.n, p.debut), (1, None, None));
    assert_eq!((p.prev_checkpoint_hash, p.segment_hash), (None, None));
    assert_eq!((p.seq, p.at, hex::encode(&p.head_hash)), (8, AT, HASH_2.to_string()));
    assert_eq!(hex::encode(p.signature), SIGNATURE);
    // A field of the wrong type, or hex that is not hex, makes the point unreadable.
    for (field, bad) in [
        ("numero", serde_json::json!("1")),
        ("debut", serde_json::json!(7.5)),
        ("version", serde_json::json!("2")),
        ("precedent", serde_json::json!("zz")),
        ("empreinte_segment", serde_json::json!(12)),
        ("empreinte", serde_json::json!("0")),
        ("signature", serde_json::json!(null)),
        ("cle", serde_json::json!(3)),
        ("seq", serde_json::json!("8")),
        ("at", serde_json::json!(null)),
    ] {
        let mut doc = super::tete::point_json(&cp);
        doc[field] = bad;
        assert_eq!(super::tete::parse_point(&doc), None, "{field}");
    }
}

#[test]
fn a_signed_head_that_cannot_be_trusted_says_why() {
    let (key, cp) = signed();
    let public = key.verifying_key();
    let good = super::tete::tete_json(&cp, &public);
    let err = |doc: serde_json::Value| super::tete::parse_tete(&doc.to_string(), &public, "t.json").unwrap_err();
    assert_eq!(
        super::tete::parse_tete("{", &public, "t.json").unwrap_err(),
        "t.json : JSON illisible"
    );
    let mut d = good.clone();
    d["format"] = "passerelle-tete-journal-v0".into();
    assert!(err(d).starts_with("t.json : ce n'est pas une tête signée du journal"));
    let mut d = good.clone();
    d["cle_publique"] = serde_json::Value::Null;
    assert_eq!(err(d), "t.json : clé publique absente ou illisible");
    let mut d = good.clone();
    d["cle_publique"] = hex::encode(SigningKey::from_bytes(&[8; 32]).verifying_key().as_bytes()).into();
    assert!(err(d).starts_with("t.json est signé par une autre clé"));
    let mut d = good.clone();
    d["version"] = 1.into();
    assert_eq!(err(d), "t.json : tête signée incomplète");
    let mut d = good.clone();
    d["seq"] = 9.into();
    assert!(err(d).starts_with("t.json : "), "signature d'un autre point acceptée");
    assert!(super::tete::parse_tete(&good.to_string(), &public, "t.json").is_ok());
}
