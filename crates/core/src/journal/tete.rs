//! The signed head of the journal (its latest numbered checkpoint) as JSON:
//! published at [`PATH`], written by `passerelle journal exporter-tete`, kept
//! by witnesses and read back by `journal verify --temoin`. The exported
//! checkpoint files (`journal export-checkpoints`) use the same fields per point.

use ed25519_dalek::VerifyingKey;
use serde_json::{json, Value};

use super::checkpoint::CheckpointRef;

/// Public address of the signed head (a stable URL, listed on the open-data page).
pub const PATH: &str = "/open-data/journal-tete.json";
/// Format tag of the signed head.
pub const FORMAT: &str = "passerelle-tete-journal-v1";

/// The signed fields of one checkpoint (its list of entry hashes stays in the database).
pub fn point_json(cp: &CheckpointRef) -> Value {
    let hex_opt = |b: &Option<Vec<u8>>| b.as_deref().map(hex::encode);
    json!({
        "version": cp.version,
        "numero": cp.n,
        "seq": cp.seq,
        "debut": cp.debut,
        "empreinte": hex::encode(&cp.head_hash),
        "at": cp.at,
        "empreinte_segment": hex_opt(&cp.segment_hash),
        "precedent": hex_opt(&cp.prev_checkpoint_hash),
        "cle": cp.key_id,
        "signature": hex::encode(&cp.signature),
    })
}

/// The signed head document: the checkpoint, its date, its link (what the next
/// checkpoint signs as `precedent`) and the public key to check it with.
pub fn tete_json(cp: &CheckpointRef, key: &VerifyingKey) -> Value {
    let mut doc = json!({
        "format": FORMAT,
        "date": crate::db::rfc3339_of(cp.at),
        "empreinte_point": cp
            .prev_checkpoint_hash
            .as_deref()
            .map(|prev| hex::encode(cp.link(prev))),
        "cle_publique": hex::encode(key.as_bytes()),
    });
    if let (Some(d), Value::Object(p)) = (doc.as_object_mut(), point_json(cp)) {
        d.extend(p);
    }
    doc
}

/// Reads one point (fields of [`point_json`]; files of format v1 have only
/// `seq`, `empreinte`, `at`, `cle` and `signature`).
pub fn parse_point(p: &Value) -> Option<CheckpointRef> {
    let hex_field = |k: &str| -> Option<Option<Vec<u8>>> {
        match &p[k] {
            Value::Null => Some(None),
            v => hex::decode(v.as_str()?).ok().map(Some),
        }
    };
    let int_field = |k: &str| -> Option<Option<i64>> {
        match &p[k] {
            Value::Null => Some(None),
            v => v.as_i64().map(Some),
        }
    };
    Some(CheckpointRef {
        n: int_field("numero")?,
        version: int_field("version")?.unwrap_or(1),
        seq: p["seq"].as_i64()?,
        debut: int_field("debut")?,
        head_hash: hex::decode(p["empreinte"].as_str()?).ok()?,
        at: p["at"].as_i64()?,
        prev_checkpoint_hash: hex_field("precedent")?,
        segment_hash: hex_field("empreinte_segment")?,
        entry_hashes: None,
        key_id: p["cle"].as_str()?.to_string(),
        signature: hex::decode(p["signature"].as_str()?).ok()?,
    })
}

/// Reads a signed head kept by a witness (`source` names it in messages); its
/// public key must be `key`, and its signature valid.
pub fn parse_tete(text: &str, key: &VerifyingKey, source: &str) -> Result<CheckpointRef, String> {
    let doc: Value = serde_json::from_str(text).map_err(|_| format!("{source} : JSON illisible"))?;
    if doc["format"].as_str() != Some(FORMAT) {
        return Err(format!(
            "{source} : ce n'est pas une tête signée du journal (format « {FORMAT} » attendu)"
        ));
    }
    check_public_key(&doc, key, source)?;
    let cp = parse_point(&doc)
        .filter(|c| c.version == 2)
        .ok_or_else(|| format!("{source} : tête signée incomplète"))?;
    cp.check_signature(key, &crate::keys::key_id(key))
        .map_err(|e| format!("{source} : {e}"))?;
    Ok(cp)
}

/// The document's `cle_publique` must be the deployment's key.
pub fn check_public_key(doc: &Value, key: &VerifyingKey, source: &str) -> Result<(), String> {
    let public = doc["cle_publique"].as_str().and_then(|h| hex::decode(h).ok());
    match public {
        None => Err(format!("{source} : clé publique absente ou illisible")),
        Some(p) if p.as_slice() != key.as_bytes() => Err(format!(
            "{source} est signé par une autre clé que celle du dossier de données : la clé du déploiement a été \
             remplacée, ou ce fichier vient d'un autre déploiement"
        )),
        Some(_) => Ok(()),
    }
}
