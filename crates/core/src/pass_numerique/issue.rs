//! Issue of an order: booklets and cheques in bulk, in one transaction
//! (complete or nothing), and reprint of their codes.

use rand::RngCore;
use rayon::prelude::*;
use serde_json::json;

use super::authz::{authorize, Action};
use super::code::{Code, Derivation, Lookup};
use super::orders::{self, OrderState};
use crate::accounts::Principal;
use crate::db::{lock, Tx, TxConn};
use crate::error::{CoreError, Result};
use crate::identifiants::Centimes;
use crate::journal::{self, actions, NewEntry};
use crate::keys::Keys;
use crate::{on_db, on_tx, Core};

/// Lock key serialising issues (booklet and cheque numbers are allotted in order).
const ISSUE_LOCK: i64 = 0x5041_5353_0002;
/// Booklets computed, then written, together.
const CHUNK_BOOKLETS: usize = 10_000;
/// Rows per INSERT (4 bound values per cheque, 3 per booklet).
const CHEQUE_ROWS: usize = 8_000;
const BOOKLET_ROWS: usize = 10_000;

/// SQLite page cache during an issue, and the default one (KiB).
const ISSUE_CACHE_KIB: i64 = 256 * 1024;
const DEFAULT_CACHE_KIB: i64 = 2_000;

async fn set_cache(tx: &mut Tx, kib: i64) -> Result<()> {
    if let TxConn::Sqlite(t) = &mut tx.conn {
        // A pragma takes no bound parameter; `kib` is one of the constants above.
        sqlx::query(&format!("PRAGMA cache_size = -{kib}"))
            .execute(&mut **t)
            .await?;
    }
    Ok(())
}

/// The keys that derive codes and find cheques, from the data directory.
pub fn code_keys(keys: &Keys) -> (Derivation, Lookup) {
    (
        Derivation::new(&keys.subkey("pass-numerique/derivation-des-codes")),
        Lookup::new(&keys.subkey("pass-numerique/recherche-des-codes")),
    )
}

/// What an issue produced.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Issued {
    pub commande: i64,
    pub premier_carnet: i64,
    pub dernier_carnet: i64,
    pub carnets: i64,
    pub cheques: i64,
    /// `actif` when the order was already paid, `en_attente` otherwise.
    pub etat_des_cheques: &'static str,
}

struct Chunk {
    booklets: Vec<(i64, [u8; 16])>,
    /// (cheque id, booklet number, rank, keyed hash)
    cheques: Vec<(i64, i64, i64, [u8; 16])>,
}

/// Issues every booklet and cheque of an order: the opérateur only. `progress(done, total)` counts cheques.
pub async fn issue(core: &Core, who: &Principal, order_id: i64, mut progress: impl FnMut(u64, u64)) -> Result<Issued> {
    authorize(who, Action::Administer)?;
    let actor = &who.actor();
    let order = orders::get(core, order_id).await?;
    if order.etat == OrderState::Annulee {
        return Err(CoreError::Conflict(format!("la commande {order_id} est annulée")));
    }
    if order.emise {
        return Err(CoreError::Conflict(format!("la commande {order_id} est déjà émise")));
    }
    let state = if order.etat == OrderState::Payee {
        "actif"
    } else {
        "en_attente"
    };
    let (derive, lookup) = code_keys(&core.keys);
    let mut tx = core.db.begin().await?;
    lock(&mut tx, ISSUE_LOCK).await?;
    // The index of the cheques' hashes takes its rows in random order: a page
    // cache that holds it avoids re-reading its pages (SQLite; PostgreSQL has shared buffers).
    set_cache(&mut tx, ISSUE_CACHE_KIB).await?;
    let (first_booklet, first_cheque): (i64, i64) = on_tx!(&mut tx, c => {
        (
            sqlx::query_scalar("SELECT COALESCE(MAX(numero), 0) + 1 FROM carnets").fetch_one(&mut *c).await?,
            sqlx::query_scalar("SELECT COALESCE(MAX(id), 0) + 1 FROM cheques").fetch_one(&mut *c).await?,
        )
    });
    let (booklets, per) = (order.carnets, order.cheques_par_carnet);
    let total = (booklets * per) as u64;

    // Codes are computed on rayon's threads, chunk by chunk, while the chunks already computed are written.
    let (sender, mut chunks) = tokio::sync::mpsc::channel::<Chunk>(2);
    let computer = tokio::task::spawn_blocking(move || {
        let mut start = 0i64;
        while start < booklets {
            let n = (booklets - start).min(CHUNK_BOOKLETS as i64);
            let seeds: Vec<(i64, [u8; 16])> = (0..n)
                .map(|i| {
                    let mut seed = [0u8; 16];
                    rand::rngs::OsRng.fill_bytes(&mut seed);
                    (first_booklet + start + i, seed)
                })
                .collect();
            let mut cheques: Vec<(i64, i64, i64, [u8; 16])> = seeds
                .par_iter()
                .flat_map_iter(|(number, seed)| {
                    let (derive, lookup) = (&derive, &lookup);
                    (1..=per).map(move |rank| {
                        let code = derive.code(seed, rank as u32);
                        let mut hash = [0u8; 16];
                        hash.copy_from_slice(&lookup.hash(&code));
                        (0, *number, rank, hash)
                    })
                })
                .collect();
            // Written in the order of their hashes, so that the hash index is
            // filled page after page; ids follow that order.
            cheques.par_sort_unstable_by_key(|c| c.3);
            let offset = first_cheque + start * per;
            for (i, c) in cheques.iter_mut().enumerate() {
                c.0 = offset + i as i64;
            }
            if sender
                .blocking_send(Chunk {
                    booklets: seeds,
                    cheques,
                })
                .is_err()
            {
                break;
            }
            start += n;
        }
    });
    let now = tx.horloge.now_micros();
    let mut done = 0u64;
    while let Some(chunk) = chunks.recv().await {
        write_chunk(&mut tx, order_id, order.valeur_centimes, state, now, &chunk).await?;
        done += chunk.cheques.len() as u64;
        progress(done, total);
    }
    computer
        .await
        .map_err(|e| CoreError::Io(format!("calcul des codes interrompu : {e}")))?;
    if done != total {
        return Err(CoreError::Io(format!("{done} chèques calculés sur {total}")));
    }
    set_cache(&mut tx, DEFAULT_CACHE_KIB).await?;
    // The references that foreign keys would check row by row, checked at once.
    let orphans: i64 = on_tx!(&mut tx, c => {
        sqlx::query_scalar(
            "SELECT COUNT(*) FROM cheques c LEFT JOIN carnets k ON k.numero = c.carnet_id \
             WHERE c.commande_id = $1 AND (k.numero IS NULL OR k.commande_id <> c.commande_id)",
        )
        .bind(order_id)
        .fetch_one(&mut *c)
        .await?
    });
    if orphans != 0 {
        return Err(CoreError::Io(format!(
            "émission incohérente : {orphans} chèques sans leur carnet"
        )));
    }
    let marked = on_tx!(&mut tx, c => {
        sqlx::query("UPDATE commandes SET emise_at = $2, updated_at = $2 WHERE id = $1 AND emise_at IS NULL")
            .bind(order_id)
            .bind(now)
            .execute(&mut *c)
            .await?
            .rows_affected()
    });
    if marked != 1 {
        return Err(CoreError::Conflict(format!("la commande {order_id} est déjà émise")));
    }
    let issued = Issued {
        commande: order_id,
        premier_carnet: first_booklet,
        dernier_carnet: first_booklet + booklets - 1,
        carnets: booklets,
        cheques: booklets * per,
        etat_des_cheques: state,
    };
    journal::append(
        &mut tx,
        &core.keys,
        NewEntry::new(actor.clone(), actions::ORDER_ISSUED)
            .subject("commande", order_id)
            .details(json!({
                "premier_carnet": issued.premier_carnet,
                "dernier_carnet": issued.dernier_carnet,
                "cheques": issued.cheques,
                "etat": state,
            })),
    )
    .await?;
    tx.commit().await?;
    Ok(issued)
}

async fn write_chunk(tx: &mut Tx, order_id: i64, value: Centimes, state: &str, now: i64, chunk: &Chunk) -> Result<()> {
    if let TxConn::Postgres(t) = &mut tx.conn {
        return copy_chunk(t, order_id, value, state, now, chunk).await;
    }
    // Constants of the whole order are written as literals (integers and a fixed key, never user text).
    let booklet_head = "INSERT INTO carnets (numero, graine, commande_id) ";
    for rows in chunk.booklets.chunks(BOOKLET_ROWS) {
        on_tx!(tx, c => {
            let mut qb = sqlx::QueryBuilder::new(booklet_head);
            qb.push_values(rows, |mut b, (number, seed)| {
                b.push_bind(*number).push_bind(seed.to_vec()).push(order_id.to_string());
            });
            qb.build().execute(&mut *c).await?;
        });
    }
    let cheque_head =
        "INSERT INTO cheques (id, carnet_id, rang, empreinte, commande_id, valeur_centimes, etat, updated_at) ";
    let constants = format!("{order_id}, {}, '{state}', {now}", value.centimes());
    for rows in chunk.cheques.chunks(CHEQUE_ROWS) {
        on_tx!(tx, c => {
            let mut qb = sqlx::QueryBuilder::new(cheque_head);
            qb.push_values(rows, |mut b, (id, booklet, rank, hash)| {
                b.push_bind(*id)
                    .push_bind(*booklet)
                    .push_bind(*rank)
                    .push_bind(hash.to_vec())
                    .push(&constants);
            });
            qb.build().execute(&mut *c).await?;
        });
    }
    Ok(())
}

/// PostgreSQL: the same rows through `COPY … FROM STDIN` (text format; only
/// integers, hex bytes and a fixed state key, nothing to escape).
async fn copy_chunk(
    t: &mut sqlx::Transaction<'static, sqlx::Postgres>,
    order_id: i64,
    value: Centimes,
    state: &str,
    now: i64,
    chunk: &Chunk,
) -> Result<()> {
    use std::fmt::Write as _;
    let cents = value.centimes();
    let mut booklets = String::with_capacity(chunk.booklets.len() * 64);
    for (number, seed) in &chunk.booklets {
        let _ = writeln!(booklets, "{number}\t\\\\x{}\t{order_id}", hex::encode(seed));
    }
    let mut copy = t
        .copy_in_raw("COPY carnets (numero, graine, commande_id) FROM STDIN")
        .await?;
    copy.send(booklets.into_bytes()).await?;
    copy.finish().await?;
    let mut cheques = String::with_capacity(chunk.cheques.len() * 96);
    for (id, booklet, rank, hash) in &chunk.cheques {
        let _ = writeln!(
            cheques,
            "{id}\t{booklet}\t{rank}\t\\\\x{}\t{order_id}\t{cents}\t{state}\t{now}",
            hex::encode(hash)
        );
    }
    let mut copy = t
        .copy_in_raw(
            "COPY cheques (id, carnet_id, rang, empreinte, commande_id, valeur_centimes, etat, updated_at) FROM STDIN",
        )
        .await?;
    copy.send(cheques.into_bytes()).await?;
    copy.finish().await?;
    Ok(())
}

/// Activates the issued cheques of a paid order (inside the payment's transaction).
pub(super) async fn activate(tx: &mut Tx, order_id: i64) -> Result<u64> {
    Ok(on_tx!(tx, c => {
        sqlx::query("UPDATE cheques SET etat = 'actif', updated_at = $2 WHERE commande_id = $1 AND etat = 'en_attente'")
            .bind(order_id)
            .bind(tx.horloge.now_micros())
            .execute(&mut *c)
            .await?
            .rows_affected()
    }))
}

/// A cheque to print.
#[derive(Debug, Clone)]
pub struct Printed {
    pub carnet: i64,
    pub rang: i64,
    pub code: Code,
}

/// The codes of an order's booklets `from..=to` (all when `None`), derived
/// again from the booklets' seeds: a booklet is reprinted identically.
pub async fn codes(core: &Core, order_id: i64, range: Option<(i64, i64)>) -> Result<Vec<Printed>> {
    let order = orders::get(core, order_id).await?;
    let (from, to) = range.unwrap_or((i64::MIN, i64::MAX));
    let rows: Vec<(i64, Vec<u8>)> = on_db!(&core.db, c => {
        sqlx::query_as("SELECT numero, graine FROM carnets WHERE commande_id = $1 AND numero BETWEEN $2 AND $3 ORDER BY numero")
            .bind(order_id)
            .bind(from)
            .bind(to)
            .fetch_all(&mut *c)
            .await?
    });
    let (derive, _) = code_keys(&core.keys);
    Ok(rows
        .into_iter()
        .flat_map(|(carnet, seed)| {
            let derive = derive.clone();
            (1..=order.cheques_par_carnet).map(move |rang| Printed {
                carnet,
                rang,
                code: derive.code(&seed, rang as u32),
            })
        })
        .collect())
}

/// What is printed: the print house's CSV or the booklets' PDF.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Support {
    Csv,
    Pdf,
}

/// [`codes`] for printing: usable codes leave Passerelle, so who took which
/// booklets, and in what form, is journaled first (no code in the entry).
pub async fn codes_for_print(
    core: &Core,
    who: &Principal,
    order_id: i64,
    range: Option<(i64, i64)>,
    support: Support,
) -> Result<Vec<Printed>> {
    authorize(who, Action::Administer)?;
    let actor = &who.actor();
    let printed = codes(core, order_id, range).await?;
    if printed.is_empty() {
        return Err(CoreError::invalid(match range {
            Some((from, to)) => format!("aucun carnet de la commande {order_id} entre {from} et {to}"),
            None => format!("la commande {order_id} n'est pas encore émise"),
        }));
    }
    let first = printed.first().map_or(0, |p| p.carnet);
    let last = printed.last().map_or(0, |p| p.carnet);
    let mut tx = core.db.begin().await?;
    journal::append(
        &mut tx,
        &core.keys,
        NewEntry::new(actor.clone(), actions::CODES_PRINTED)
            .subject("commande", order_id)
            .details(json!({
                "de": first,
                "a": last,
                "cheques": printed.len(),
                "support": match support { Support::Csv => "csv", Support::Pdf => "pdf" },
            })),
    )
    .await?;
    tx.commit().await?;
    Ok(printed)
}

/// The print house's file: one line per cheque, `carnet,rang,code,url`.
pub fn codes_csv(base_url: &str, printed: &[Printed], out: impl std::io::Write) -> Result<()> {
    let mut w = crate::tableur::Csv::new(out);
    let io = |e: csv::Error| CoreError::Io(format!("écriture du fichier des codes : {e}"));
    w.write_record(["carnet", "rang", "code", "url"]).map_err(io)?;
    let base = base_url.trim_end_matches('/');
    for p in printed {
        w.write_record([
            p.carnet.to_string(),
            p.rang.to_string(),
            p.code.grouped(),
            format!("{base}/c/{}", p.code.compact()),
        ])
        .map_err(io)?;
    }
    w.flush()
        .map_err(|e| CoreError::Io(format!("écriture du fichier des codes : {e}")))
}
