//! Journal storage: append inside the caller's transaction, checkpoints, and
//! verification streamed from the database.

use serde_json::Value;

use super::chain::{canonical, entry_hash, genesis, StoredEntry};
use super::checkpoint::{checkpoint_genesis, last_link, sign_checkpoint, CheckpointRef, CHECKPOINT_COLUMNS};
use super::reader;
use super::verifier::{Break, ChainVerifier};
use super::{actions, Actor, NewEntry};
use crate::db::{lock, Db, Tx};
use crate::error::{CoreError, Result};
use crate::keys::Keys;
use crate::{on_db, on_tx};

pub use super::chain::CHECKPOINT_EVERY;

/// Arbitrary constant for the PostgreSQL advisory lock that serialises appends.
const PG_APPEND_LOCK: i64 = 0x7061_7373_6a6f_7572; // "passjour"

/// Appends one entry in `tx` (the same transaction as the action it records)
/// and returns its sequence number. Appends are serialised: SQLite write
/// transactions hold the database lock (`BEGIN IMMEDIATE`); PostgreSQL takes a
/// transaction-scoped advisory lock. Checkpoints are numbered under the same
/// lock, so two instances never write the same checkpoint number.
pub async fn append(tx: &mut Tx, keys: &Keys, entry: NewEntry) -> Result<i64> {
    append_all(tx, keys, vec![entry])
        .await?
        .pop()
        .ok_or_else(|| CoreError::Io("journal : entrée non écrite".into()))
}

fn canonical_json(v: &Value) -> Result<String> {
    serde_json::to_string(v).map_err(|e| CoreError::invalid(e.to_string()))
}

/// Appends several entries in `tx`, in order, reading the chain's head once
/// and writing them in multi-row inserts (a group of redemptions committed
/// together); their sequence numbers.
pub async fn append_all(tx: &mut Tx, keys: &Keys, entries: Vec<NewEntry>) -> Result<Vec<i64>> {
    if entries.is_empty() {
        return Ok(Vec::new());
    }
    let mut head = head_locked(tx).await?;
    let at = tx.horloge.now_micros();
    let mut rows = Vec::with_capacity(entries.len());
    for entry in entries {
        let subjects = serde_json::to_string(&entry.subjects).map_err(|e| CoreError::invalid(e.to_string()))?;
        // serde_json's map is a BTreeMap (feature preserve_order is off): keys come out sorted.
        let details = canonical_json(&entry.details)?;
        let row = Row::next(head, at, &entry.actor, entry.action, subjects, details);
        head = Some((row.seq, row.hash.clone()));
        rows.push(row);
    }
    for chunk in rows.chunks(ROWS_PER_INSERT) {
        insert_rows(tx, chunk).await?;
    }
    for row in rows.iter().filter(|r| r.seq % CHECKPOINT_EVERY == 0) {
        insert_checkpoint(tx, keys, row.seq, &row.hash, row.at).await?;
    }
    Ok(rows.iter().map(|r| r.seq).collect())
}

/// Rows per multi-row insert (9 parameters each, well under both engines' limits).
const ROWS_PER_INSERT: usize = 100;

/// Takes the append lock and reads the chain's last entry.
async fn head_locked(tx: &mut Tx) -> Result<Option<(i64, Vec<u8>)>> {
    lock(tx, PG_APPEND_LOCK).await?;
    Ok(on_tx!(tx, c => {
        sqlx::query_as("SELECT seq, hash FROM journal ORDER BY seq DESC LIMIT 1").fetch_optional(&mut *c).await?
    }))
}

/// A journal row, hashed and chained, before it is written.
struct Row {
    seq: i64,
    at: i64,
    actor_account: Option<i64>,
    actor_role: String,
    action: String,
    subjects: String,
    details: String,
    prev: Vec<u8>,
    hash: Vec<u8>,
}

impl Row {
    /// The entry that follows `head` (the append lock is held).
    fn next(
        head: Option<(i64, Vec<u8>)>,
        at: i64,
        actor: &Actor,
        action: &str,
        subjects: String,
        details: String,
    ) -> Row {
        let (seq, prev) = match head {
            Some((seq, hash)) => (seq + 1, hash),
            None => (1, genesis().to_vec()),
        };
        let actor_account = actor.account_id();
        let mut buf = Vec::with_capacity(256);
        canonical(
            &mut buf,
            seq,
            at,
            actor_account,
            actor.role(),
            action,
            &subjects,
            &details,
        );
        let hash = entry_hash(&prev, &buf).to_vec();
        Row {
            seq,
            at,
            actor_account,
            actor_role: actor.role().to_string(),
            action: action.to_string(),
            subjects,
            details,
            prev,
            hash,
        }
    }
}

async fn insert_rows(tx: &mut Tx, rows: &[Row]) -> Result<()> {
    let values: Vec<String> = (0..rows.len())
        .map(|i| {
            let p: Vec<String> = (1..=9).map(|k| format!("${}", i * 9 + k)).collect();
            format!("({})", p.join(", "))
        })
        .collect();
    let sql = format!(
        "INSERT INTO journal (seq, at, actor_account, actor_role, action, subjects, details, prev_hash, hash) VALUES {}",
        values.join(", ")
    );
    on_tx!(tx, c => {
        let mut q = sqlx::query(&sql);
        for r in rows {
            q = q
                .bind(r.seq)
                .bind(r.at)
                .bind(r.actor_account)
                .bind(&r.actor_role)
                .bind(&r.action)
                .bind(&r.subjects)
                .bind(&r.details)
                .bind(&r.prev)
                .bind(&r.hash);
        }
        q.execute(&mut *c).await?;
    });
    Ok(())
}

/// Signs checkpoint `seq` (whose entry has `head` and `at`): the next number,
/// the segment since the previous checkpoint, chained to it. The caller holds
/// the append lock.
async fn insert_checkpoint(tx: &mut Tx, keys: &Keys, seq: i64, head: &[u8], at: i64) -> Result<()> {
    let last: Option<CheckpointRef> = on_tx!(tx, c => {
        sqlx::query_as(&format!("SELECT {CHECKPOINT_COLUMNS} FROM journal_checkpoints ORDER BY seq DESC LIMIT 1"))
            .fetch_optional(&mut *c)
            .await?
    });
    let (n, debut, prev_link) = match last {
        None => (1, 1, checkpoint_genesis()),
        Some(cp) => {
            let link = match (&cp.prev_checkpoint_hash, cp.version) {
                // A shortcut: on a consistent table, folding every checkpoint (the
                // arm below) gives this same link, only by reading them all; its
                // deletion is an excluded mutant (.cargo/mutants.toml).
                (Some(prev), 2) => cp.link(prev),
                // The first version 2 checkpoint folds every legacy one into its link.
                _ => {
                    let all: Vec<CheckpointRef> = on_tx!(tx, c => {
                        sqlx::query_as(&format!("SELECT {CHECKPOINT_COLUMNS} FROM journal_checkpoints ORDER BY seq"))
                            .fetch_all(&mut *c)
                            .await?
                    });
                    last_link(&all)
                }
            };
            let count: i64 = on_tx!(tx, c => {
                sqlx::query_scalar("SELECT COUNT(*) FROM journal_checkpoints").fetch_one(&mut *c).await?
            });
            (cp.n.unwrap_or(count) + 1, cp.seq + 1, link)
        }
    };
    let hashes: Vec<Vec<u8>> = on_tx!(tx, c => {
        sqlx::query_scalar("SELECT hash FROM journal WHERE seq >= $1 AND seq <= $2 ORDER BY seq")
            .bind(debut)
            .bind(seq)
            .fetch_all(&mut *c)
            .await?
    });
    if hashes.len() as i64 != seq - debut + 1 || hashes.iter().any(|h| h.len() != 32) {
        return Err(CoreError::invalid(format!(
            "journal incohérent entre les entrées n° {debut} et n° {seq} : point de contrôle refusé, lancez « passerelle journal verify »"
        )));
    }
    let cp = sign_checkpoint(
        keys.journal_signing(),
        n,
        debut,
        seq,
        head,
        at,
        &prev_link,
        hashes.concat(),
    );
    on_tx!(tx, c => {
        sqlx::query(&format!(
            "INSERT INTO journal_checkpoints ({CHECKPOINT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
        ))
        .bind(cp.n)
        .bind(cp.version)
        .bind(cp.seq)
        .bind(cp.debut)
        .bind(&cp.head_hash)
        .bind(cp.at)
        .bind(&cp.prev_checkpoint_hash)
        .bind(&cp.segment_hash)
        .bind(&cp.entry_hashes)
        .bind(&cp.key_id)
        .bind(&cp.signature)
        .execute(&mut *c)
        .await?;
    });
    Ok(())
}

/// Signs the current head if it has no checkpoint yet (daily job, `journal checkpoint`).
/// The checkpoint is itself journaled, so the signed head is that new entry.
/// Returns the checkpointed sequence number, or `None` when the journal is empty
/// or its head is already signed.
pub async fn checkpoint_head(db: &Db, keys: &Keys) -> Result<Option<i64>> {
    let mut tx = db.begin().await?;
    // Under the append lock, so that two instances do not both sign.
    lock(&mut tx, PG_APPEND_LOCK).await?;
    let head: Option<i64> = on_tx!(&mut tx, c => {
        sqlx::query_scalar("SELECT MAX(seq) FROM journal").fetch_one(&mut *c).await?
    });
    let last_cp: Option<i64> = on_tx!(&mut tx, c => {
        sqlx::query_scalar("SELECT MAX(seq) FROM journal_checkpoints").fetch_one(&mut *c).await?
    });
    let Some(head) = head else {
        tx.rollback().await?;
        return Ok(None);
    };
    if last_cp == Some(head) {
        tx.rollback().await?;
        return Ok(None);
    }
    let entry = NewEntry::new(Actor::System, actions::CHECKPOINT)
        .details(serde_json::json!({ "tete_precedente": head, "cle": keys.journal_key_id() }));
    let seq = append(&mut tx, keys, entry).await?;
    if seq % CHECKPOINT_EVERY != 0 {
        let (hash, at): (Vec<u8>, i64) = on_tx!(&mut tx, c => {
            sqlx::query_as("SELECT hash, at FROM journal WHERE seq = $1").bind(seq).fetch_one(&mut *c).await?
        });
        insert_checkpoint(&mut tx, keys, seq, &hash, at).await?;
    }
    tx.commit().await?;
    Ok(Some(seq))
}

/// The last `limit` entries, newest first: the opérateur's journal page (the
/// opérateur only; every entry names people and actions).
pub async fn entries(
    db: &Db,
    who: &crate::accounts::Principal,
    before: Option<i64>,
    limit: i64,
) -> Result<Vec<StoredEntry>> {
    crate::accounts::authorize(who, crate::accounts::Action::Administer)?;
    let before = before.unwrap_or(i64::MAX);
    Ok(on_db!(db, c => {
        sqlx::query_as::<_, StoredEntry>(
            "SELECT seq, at, actor_account, actor_role, action, subjects, details, prev_hash, hash \
             FROM journal WHERE seq < $1 ORDER BY seq DESC LIMIT $2",
        )
        .bind(before)
        .bind(limit)
        .fetch_all(&mut *c)
        .await?
    }))
}

/// Outcome of [`verify`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VerifyReport {
    Intact { entries: u64, checkpoints: u64 },
    Broken(Break),
}

/// Recomputes the whole chain and checks every checkpoint against `key`, from
/// one consistent snapshot. `external` checkpoints (exported earlier, or the
/// signed heads kept by witnesses), each with its source for messages, are
/// checked as well: the local journal must still hold each of them and extend
/// it. `progress` is called after each batch with the number of entries checked so far.
pub async fn verify(
    db: &Db,
    key: ed25519_dalek::VerifyingKey,
    external: Vec<(CheckpointRef, String)>,
    mut progress: impl FnMut(u64) + Send + 'static,
) -> Result<VerifyReport> {
    let (tx, mut rx) = tokio::sync::mpsc::channel::<reader::Batch>(4);
    let checkpoints = reader::start(db, tx).await?;
    let n_checkpoints = checkpoints.len() as u64;
    let outcome = tokio::task::spawn_blocking(move || -> Result<Result<u64, Break>> {
        let mut verifier = ChainVerifier::new(key, checkpoints, external);
        loop {
            match rx.blocking_recv() {
                Some(Ok(Some(batch))) => {
                    if let Err(b) = verifier.feed(&batch) {
                        return Ok(Err(b));
                    }
                    progress(verifier.checked());
                }
                Some(Ok(None)) => return Ok(verifier.finish()),
                Some(Err(e)) => return Err(e),
                None => return Err(CoreError::Io("lecture du journal interrompue avant la fin".into())),
            }
        }
    })
    .await
    .map_err(|e| CoreError::Io(format!("vérification interrompue : {e}")))??;
    Ok(match outcome {
        Ok(entries) => VerifyReport::Intact {
            entries,
            checkpoints: n_checkpoints,
        },
        Err(b) => VerifyReport::Broken(b),
    })
}

/// Every checkpoint, to be exported and kept outside the database.
pub async fn checkpoints(db: &Db) -> Result<Vec<CheckpointRef>> {
    Ok(on_db!(db, c => {
        sqlx::query_as::<_, CheckpointRef>(&format!("SELECT {CHECKPOINT_COLUMNS} FROM journal_checkpoints ORDER BY seq"))
            .fetch_all(&mut *c)
            .await?
    }))
}

/// The latest numbered (version 2) checkpoint: the signed head that is published.
pub async fn latest_checkpoint(db: &Db) -> Result<Option<CheckpointRef>> {
    Ok(on_db!(db, c => {
        sqlx::query_as::<_, CheckpointRef>(&format!(
            "SELECT {CHECKPOINT_COLUMNS} FROM journal_checkpoints WHERE version = 2 ORDER BY seq DESC LIMIT 1"
        ))
        .fetch_optional(&mut *c)
        .await?
    }))
}
