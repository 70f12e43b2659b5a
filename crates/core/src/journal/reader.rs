//! Bulk readers for `journal verify`, one per engine, each taking one
//! consistent snapshot of checkpoints and entries:
//! - SQLite: a read-only rusqlite connection on the same file (same
//!   libsqlite3 as sqlx), in a read transaction;
//! - PostgreSQL: `COPY … TO STDOUT (FORMAT binary)` in a REPEATABLE READ,
//!   READ ONLY transaction, parsed as it streams.
//!
//! sqlx's row-by-row streaming costs ~6 µs per row on SQLite here (measured,
//! see BENCHMARKS.md), which would make verification 20× slower than hashing.
//! Readers send batches to the verifier over a bounded channel, so reading and
//! hashing overlap.

use futures_util::TryStreamExt;
use rusqlite::types::ValueRef;
use tokio::sync::mpsc::Sender;

use super::chain::RawBatch;
use super::checkpoint::{CheckpointRef, CHECKPOINT_COLUMNS};
use crate::db::{Db, Pool};
use crate::error::{CoreError, Result};

/// Entries per batch sent to the verifier. Its value changes memory use and
/// speed, never what is verified. (Mutation testing: turned into `!=`, the two
/// `batch.len() == BATCH` flush tests below send each entry in a batch of its
/// own, with the same result; those mutants are excluded in .cargo/mutants.toml.)
pub const BATCH: usize = 16_384;

/// What a reader sends: batches of entries in sequence order, then `None` once
/// the whole journal was read (so a reader that dies early is not taken for the end).
pub type Batch = Result<Option<RawBatch>>;

const ENTRY_COLUMNS: &str = "seq, at, actor_account, actor_role, action, subjects, details, prev_hash, hash";

/// Starts reading; returns the checkpoints (same snapshot as the entries) once
/// they are read, while entries keep flowing into `tx`.
pub async fn start(db: &Db, tx: Sender<Batch>) -> Result<Vec<CheckpointRef>> {
    match &db.pool {
        Pool::Sqlite(pool) => {
            // SQLite names the file it opened ("" for a database in memory,
            // whatever the address said: `:memory:` becomes a shared
            // `file:sqlx-in-memory-N` in sqlx, `mode=memory` keeps any name).
            let file: String = sqlx::query_scalar("SELECT file FROM pragma_database_list WHERE name = 'main'")
                .fetch_one(pool)
                .await?;
            if file.is_empty() {
                return Err(CoreError::invalid(
                    "une base SQLite en mémoire ne peut pas être vérifiée depuis un autre processus",
                ));
            }
            let path = std::path::PathBuf::from(file);
            let (cp_tx, cp_rx) = tokio::sync::oneshot::channel();
            std::thread::Builder::new()
                .name("journal-lecture".into())
                .spawn(move || sqlite_read(&path, cp_tx, tx))
                .map_err(|e| CoreError::Io(format!("fil de lecture du journal : {e}")))?;
            cp_rx
                .await
                .map_err(|_| CoreError::Io("lecture du journal interrompue".into()))?
        }
        Pool::Postgres(pool) => {
            let pool = pool.clone();
            let (cp_tx, cp_rx) = tokio::sync::oneshot::channel();
            tokio::spawn(async move {
                let mut cp_tx = Some(cp_tx);
                if let Err(e) = pg_read(&pool, &mut cp_tx, &tx).await {
                    match cp_tx.take() {
                        Some(c) => {
                            let _ = c.send(Err(e));
                        }
                        None => {
                            let _ = tx.send(Err(e)).await;
                        }
                    }
                }
            });
            cp_rx
                .await
                .map_err(|_| CoreError::Io("lecture du journal interrompue".into()))?
        }
    }
}

fn sqlite_err(e: rusqlite::Error) -> CoreError {
    CoreError::Unavailable(format!("lecture SQLite du journal : {e}"))
}

fn sqlite_read(
    path: &std::path::Path,
    cp_tx: tokio::sync::oneshot::Sender<Result<Vec<CheckpointRef>>>,
    tx: Sender<Batch>,
) {
    let run = || -> Result<(rusqlite::Connection, Vec<CheckpointRef>)> {
        // NO_MUTEX and READ_ONLY are distinct bits: `^` would give the same flags
        // as `|` (mutation testing: excluded in .cargo/mutants.toml).
        let conn = rusqlite::Connection::open_with_flags(
            path,
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(sqlite_err)?;
        conn.busy_timeout(std::time::Duration::from_secs(10))
            .map_err(sqlite_err)?;
        conn.execute_batch("BEGIN").map_err(sqlite_err)?;
        let mut stmt = conn
            .prepare(&format!(
                "SELECT {CHECKPOINT_COLUMNS} FROM journal_checkpoints ORDER BY seq"
            ))
            .map_err(sqlite_err)?;
        let cps = stmt
            .query_map([], |r| {
                Ok(CheckpointRef {
                    n: r.get(0)?,
                    version: r.get(1)?,
                    seq: r.get(2)?,
                    debut: r.get(3)?,
                    head_hash: r.get(4)?,
                    at: r.get(5)?,
                    prev_checkpoint_hash: r.get(6)?,
                    segment_hash: r.get(7)?,
                    entry_hashes: r.get(8)?,
                    key_id: r.get(9)?,
                    signature: r.get(10)?,
                })
            })
            .map_err(sqlite_err)?
            .collect::<Result<Vec<_>, _>>()
            .map_err(sqlite_err)?;
        drop(stmt);
        Ok((conn, cps))
    };
    let conn = match run() {
        Ok((conn, cps)) => {
            let _ = cp_tx.send(Ok(cps));
            conn
        }
        Err(e) => {
            let _ = cp_tx.send(Err(e));
            return;
        }
    };
    let stream = || -> Result<()> {
        let mut stmt = conn
            .prepare(&format!("SELECT {ENTRY_COLUMNS} FROM journal ORDER BY seq"))
            .map_err(sqlite_err)?;
        let mut rows = stmt.query([]).map_err(sqlite_err)?;
        let mut batch = RawBatch::with_capacity(BATCH);
        while let Some(r) = rows.next().map_err(sqlite_err)? {
            let int = |i: usize| -> Result<Option<i64>> {
                match r.get_ref(i).map_err(sqlite_err)? {
                    ValueRef::Integer(v) => Ok(Some(v)),
                    ValueRef::Null => Ok(None),
                    _ => Err(CoreError::invalid(format!("journal : colonne {i} non entière"))),
                }
            };
            let bytes = |i: usize| -> Result<&[u8]> {
                match r.get_ref(i).map_err(sqlite_err)? {
                    ValueRef::Text(b) | ValueRef::Blob(b) => Ok(b),
                    ValueRef::Null => Ok(&[]),
                    _ => Err(CoreError::invalid(format!("journal : colonne {i} de type inattendu"))),
                }
            };
            let seq = int(0)?.unwrap_or_default();
            let at = int(1)?.unwrap_or_default();
            batch.push(
                seq,
                at,
                int(2)?,
                [bytes(3)?, bytes(4)?, bytes(5)?, bytes(6)?],
                bytes(7)?,
                bytes(8)?,
            );
            if batch.len() == BATCH {
                let full = std::mem::replace(&mut batch, RawBatch::with_capacity(BATCH));
                if tx.blocking_send(Ok(Some(full))).is_err() {
                    return Ok(()); // the verifier stopped (it found a break)
                }
            }
        }
        if !batch.is_empty() {
            let _ = tx.blocking_send(Ok(Some(batch)));
        }
        let _ = tx.blocking_send(Ok(None));
        Ok(())
    };
    if let Err(e) = stream() {
        let _ = tx.blocking_send(Err(e));
    }
}

async fn pg_read(
    pool: &sqlx::PgPool,
    cp_tx: &mut Option<tokio::sync::oneshot::Sender<Result<Vec<CheckpointRef>>>>,
    tx: &Sender<Batch>,
) -> Result<()> {
    let mut t = pool
        .begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        .await?;
    let cps: Vec<CheckpointRef> = sqlx::query_as(&format!(
        "SELECT {CHECKPOINT_COLUMNS} FROM journal_checkpoints ORDER BY seq"
    ))
    .fetch_all(&mut *t)
    .await?;
    if let Some(c) = cp_tx.take() {
        let _ = c.send(Ok(cps));
    }
    let sql = format!("COPY (SELECT {ENTRY_COLUMNS} FROM journal ORDER BY seq) TO STDOUT (FORMAT binary)");
    let mut parser = CopyParser::default();
    let mut batch = RawBatch::with_capacity(BATCH);
    {
        let mut stream = t.copy_out_raw(&sql).await?;
        while let Some(chunk) = stream.try_next().await? {
            parser.buf.extend_from_slice(&chunk);
            while parser.next_entry(&mut batch)? {
                if batch.len() == BATCH {
                    let full = std::mem::replace(&mut batch, RawBatch::with_capacity(BATCH));
                    if tx.send(Ok(Some(full))).await.is_err() {
                        return Ok(());
                    }
                }
            }
            parser.compact();
        }
    }
    if !parser.finished {
        return Err(CoreError::Io("flux COPY du journal incomplet".into()));
    }
    if !batch.is_empty() {
        let _ = tx.send(Ok(Some(batch))).await;
    }
    t.rollback().await?;
    let _ = tx.send(Ok(None)).await;
    Ok(())
}

/// Parser of PostgreSQL's binary COPY format for the nine journal columns.
#[derive(Default)]
pub(super) struct CopyParser {
    pub(super) buf: Vec<u8>,
    pub(super) pos: usize,
    pub(super) header_done: bool,
    pub(super) finished: bool,
}

const SIGNATURE: &[u8; 11] = b"PGCOPY\n\xff\r\n\0";

fn bad(what: &str) -> CoreError {
    CoreError::Io(format!("flux COPY du journal illisible : {what}"))
}

impl CopyParser {
    pub(super) fn compact(&mut self) {
        self.buf.drain(..self.pos);
        self.pos = 0;
    }

    fn take(&mut self, n: usize) -> Option<&[u8]> {
        let s = self.buf.get(self.pos..self.pos + n)?;
        self.pos += n;
        Some(s)
    }

    /// Parses the next complete tuple into `batch`; false if more bytes are
    /// needed (or the trailer was read).
    pub(super) fn next_entry(&mut self, batch: &mut RawBatch) -> Result<bool> {
        if self.finished {
            return Ok(false);
        }
        if !self.header_done {
            // Signature (11), flags (4), extension length (4), extension.
            let Some(head) = self.buf.get(self.pos..self.pos + 19) else {
                return Ok(false);
            };
            if &head[..11] != SIGNATURE {
                return Err(bad("signature"));
            }
            let ext = u32::from_be_bytes([head[15], head[16], head[17], head[18]]) as usize;
            if self.buf.len() < self.pos + 19 + ext {
                return Ok(false);
            }
            self.pos += 19 + ext;
            self.header_done = true;
        }
        self.tuple(batch)
    }

    fn tuple(&mut self, batch: &mut RawBatch) -> Result<bool> {
        let tuple_start = self.pos;
        let Some(n) = self.take(2).map(|b| i16::from_be_bytes([b[0], b[1]])) else {
            self.pos = tuple_start;
            return Ok(false);
        };
        if n == -1 {
            self.finished = true;
            return Ok(false);
        }
        if n != 9 {
            return Err(bad("nombre de colonnes"));
        }
        let mut fields: [Option<(usize, usize)>; 9] = [None; 9];
        for f in fields.iter_mut() {
            let Some(len) = self.take(4).map(|b| i32::from_be_bytes([b[0], b[1], b[2], b[3]])) else {
                self.pos = tuple_start;
                return Ok(false);
            };
            if len < 0 {
                continue;
            }
            let at = self.pos;
            if self.take(len as usize).is_none() {
                self.pos = tuple_start;
                return Ok(false);
            }
            *f = Some((at, len as usize));
        }
        let buf = &self.buf;
        let bytes = |i: usize| -> &[u8] { fields[i].map(|(at, len)| &buf[at..at + len]).unwrap_or(&[]) };
        let int = |i: usize| -> Result<Option<i64>> {
            match fields[i] {
                None => Ok(None),
                Some(_) => Ok(Some(i64::from_be_bytes(
                    bytes(i).try_into().map_err(|_| bad("entier"))?,
                ))),
            }
        };
        let seq = int(0)?.ok_or_else(|| bad("numéro nul"))?;
        let at = int(1)?.ok_or_else(|| bad("date nulle"))?;
        batch.push(
            seq,
            at,
            int(2)?,
            [bytes(3), bytes(4), bytes(5), bytes(6)],
            bytes(7),
            bytes(8),
        );
        Ok(true)
    }
}
