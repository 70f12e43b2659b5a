//! One settlement run, in one transaction: statements for every place with
//! redemptions before the cut-off and not yet in a live statement, their lines,
//! and the SEPA file. A crash at any point leaves either all of it or nothing;
//! a second run finds nothing new.

use std::collections::HashMap;

use jiff::civil::Date;
use serde_json::json;

use super::sepa::{self, Batch, Transfer};
use super::SETTLEMENT_LOCK;
use crate::accounts::Principal;
use crate::db::{lock, Tx, TxConn};
use crate::error::{CoreError, Result};
use crate::identifiants::{Bic, Centimes, Iban};
use crate::journal::{self, actions, NewEntry};
use crate::qualification::bank_details::BankDetailsState;
use crate::{on_tx, Core};

/// Statements written per INSERT (12 bound values each).
const STATEMENT_ROWS: usize = 1_000;

/// The default cut-off: the first day of the current month (Europe/Paris).
pub fn default_cutoff(today: Date) -> Date {
    today.first_of_month()
}

/// Reads a cut-off date typed as `AAAA-MM-JJ`.
pub fn parse_day(text: &str, what: &str) -> Result<Date> {
    Date::strptime("%Y-%m-%d", text.trim())
        .map_err(|_| CoreError::invalid(format!("{what} : date AAAA-MM-JJ attendue, « {} » reçu", text.trim())))
}

/// A place whose redemptions wait for the next run, and why.
#[derive(Debug, Clone, serde::Serialize)]
pub struct HeldBack {
    pub lieu_id: i64,
    pub lieu: String,
    pub encaissements: i64,
    pub total_centimes: Centimes,
    pub motif: String,
}

/// A statement of this run.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Stated {
    pub numero: String,
    pub lieu_id: i64,
    pub lieu: String,
    pub lignes: i64,
    pub total_centimes: Centimes,
}

/// What a run did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Outcome {
    pub jusqu_au: String,
    /// The batch created, if anything was to pay.
    pub lot: Option<i64>,
    pub msg_id: Option<String>,
    pub total_centimes: Centimes,
    pub releves: Vec<Stated>,
    pub en_attente: Vec<HeldBack>,
}

struct Group {
    lieu_id: i64,
    lieu: String,
    count: i64,
    total: Centimes,
    first: String,
    last: String,
}

struct Bank {
    id: i64,
    iban: Iban,
    bic: Bic,
    holder: String,
}

/// The redemptions a run pays (`$1` is the cut-off): live, before the cut-off, in no live statement.
const UNSTATED: &str = "e.annule_at IS NULL AND e.jour < $1 \
     AND NOT EXISTS (SELECT 1 FROM releve_lignes l WHERE l.encaissement_id = e.id AND l.rejetee = 0)";

async fn groups(tx: &mut Tx, cutoff: &str) -> Result<Vec<Group>> {
    let rows: Vec<(i64, String, i64, Centimes, String, String)> = on_tx!(tx, c => {
        sqlx::query_as(&format!(
            "SELECT e.lieu_id, p.nom, COUNT(*), CAST(SUM(e.valeur_centimes) AS BIGINT), MIN(e.jour), MAX(e.jour) \
             FROM encaissements e JOIN lieux p ON p.id = e.lieu_id WHERE {UNSTATED} \
             GROUP BY e.lieu_id, p.nom ORDER BY e.lieu_id"
        ))
        .bind(cutoff)
        .fetch_all(&mut *c)
        .await?
    });
    Ok(rows
        .into_iter()
        .map(|(lieu_id, lieu, count, total, first, last)| Group {
            lieu_id,
            lieu,
            count,
            total,
            first,
            last,
        })
        .collect())
}

async fn banks(tx: &mut Tx) -> Result<HashMap<i64, Bank>> {
    let rows: Vec<(i64, i64, Iban, Bic, String)> = on_tx!(tx, c => {
        sqlx::query_as("SELECT lieu_id, id, iban, bic, titulaire FROM coordonnees_bancaires WHERE etat = $1")
            .bind(BankDetailsState::Validees)
            .fetch_all(&mut *c)
            .await?
    });
    Ok(rows
        .into_iter()
        .map(|(lieu, id, iban, bic, holder)| (lieu, Bank { id, iban, bic, holder }))
        .collect())
}

async fn pending_bank_details(tx: &mut Tx) -> Result<Vec<i64>> {
    Ok(on_tx!(tx, c => {
        sqlx::query_scalar("SELECT DISTINCT lieu_id FROM coordonnees_bancaires WHERE etat = $1")
            .bind(BankDetailsState::AValider)
            .fetch_all(&mut *c)
            .await?
    }))
}

/// Test hook for the crash tests: pause inside the transaction, after the
/// statements and their lines are written and before the commit.
async fn pause_for_crash_test() {
    if let Some(ms) = std::env::var("PASSERELLE_TEST_PAUSE_REGLEMENT_MS")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
    {
        eprintln!("pause de test avant validation du règlement");
        tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
    }
}

/// Runs a settlement up to `cutoff` (exclusive; redemptions of days before it).
/// `today` and `created` (`AAAA-MM-JJThh:mm:ss`, Paris) date the file.
pub async fn generate(core: &Core, who: &Principal, cutoff: Date, today: Date, created: &str) -> Result<Outcome> {
    if cutoff > today {
        return Err(CoreError::invalid(format!(
            "date limite {} après aujourd'hui ({}) : seuls des jours terminés sont réglés",
            crate::dates_fr::jj_mm_aaaa(cutoff),
            crate::dates_fr::jj_mm_aaaa(today)
        )));
    }
    let cutoff_text = cutoff.strftime("%Y-%m-%d").to_string();
    super::authz::authorize(who, super::authz::Action::Settle)?;
    let debtor = super::stored_debtor(core).await?;
    let mut tx = core.db.begin().await?;
    lock(&mut tx, SETTLEMENT_LOCK).await?;
    let groups = groups(&mut tx, &cutoff_text).await?;
    let banks = banks(&mut tx).await?;
    let pending = pending_bank_details(&mut tx).await?;
    let mut outcome = Outcome {
        jusqu_au: cutoff_text.clone(),
        lot: None,
        msg_id: None,
        total_centimes: Centimes::ZERO,
        releves: Vec::new(),
        en_attente: Vec::new(),
    };
    let mut payable = Vec::new();
    for g in groups {
        match banks.get(&g.lieu_id) {
            Some(b) => payable.push((g, b)),
            None => outcome.en_attente.push(HeldBack {
                lieu_id: g.lieu_id,
                lieu: g.lieu.clone(),
                encaissements: g.count,
                total_centimes: g.total,
                motif: if pending.contains(&g.lieu_id) {
                    "coordonnées bancaires en attente de validation par l'opérateur".into()
                } else {
                    "aucune coordonnée bancaire validée".into()
                },
            }),
        }
    }
    if payable.is_empty() {
        // Nothing to pay: no statement, no batch, no journal entry.
        tx.rollback().await?;
        return Ok(outcome);
    }
    let Some(debtor) = debtor else {
        return Err(CoreError::invalid(
            "le compte de l'opérateur n'est pas renseigné : passerelle reglements compte --nom … --iban … --bic …",
        ));
    };
    let now = tx.horloge.now_micros();
    let placeholder = format!("en-cours-{now}");
    let lot: i64 = on_tx!(&mut tx, c => {
        sqlx::query_scalar(
            "INSERT INTO lots_virements (msg_id, jusqu_au, virements, total_centimes, xml, etat, created_at) \
             VALUES ($1, $2, 0, 0, '', 'genere', $3) RETURNING id",
        )
        .bind(&placeholder)
        .bind(&cutoff_text)
        .bind(now)
        .fetch_one(&mut *c)
        .await?
    });
    let year = i64::from(today.year());
    let last_rank: Option<i64> = on_tx!(&mut tx, c => {
        sqlx::query_scalar("SELECT MAX(rang) FROM releves WHERE annee = $1").bind(year).fetch_one(&mut *c).await?
    });
    let first_rank = last_rank.unwrap_or(0) + 1;
    let numbered: Vec<(String, i64, &Group, &Bank)> = payable
        .iter()
        .enumerate()
        .map(|(i, (g, b))| {
            let rank = first_rank + i as i64;
            (format!("REL-{year}-{rank:06}"), rank, g, *b)
        })
        .collect();
    for rows in numbered.chunks(STATEMENT_ROWS) {
        on_tx!(&mut tx, c => {
            let mut qb = sqlx::QueryBuilder::new(
                "INSERT INTO releves (numero, annee, rang, lieu_id, lot_id, coordonnees_id, jusqu_au, premier_jour, \
                 dernier_jour, lignes, total_centimes, etat, created_at) ",
            );
            qb.push_values(rows, |mut b, (numero, rank, g, bank)| {
                b.push_bind(numero.clone())
                    .push_bind(year)
                    .push_bind(*rank)
                    .push_bind(g.lieu_id)
                    .push_bind(lot)
                    .push_bind(bank.id)
                    .push_bind(cutoff_text.clone())
                    .push_bind(g.first.clone())
                    .push_bind(g.last.clone())
                    .push_bind(g.count)
                    .push_bind(g.total)
                    .push("'emis'")
                    .push_bind(now);
            });
            qb.build().execute(&mut *c).await?;
        });
    }
    if let TxConn::Postgres(t) = &mut tx.conn {
        // Measured on a million redemptions: the statistics know nothing of the statements just
        // written (ANALYZE inside the transaction counts them), and a nested-loop or merge
        // anti-join against the very table being filled re-reads its growing heap or index for
        // every row (minutes instead of seconds). Only a hash anti-join reads it once, before
        // the first line is written. JIT compilation costs more than it saves here.
        for setting in [
            "ANALYZE releves",
            "SET LOCAL enable_mergejoin = off",
            "SET LOCAL enable_nestloop = off",
            "SET LOCAL jit = off",
        ] {
            sqlx::query(setting).execute(&mut **t).await?;
        }
    }
    // Every line in one statement: the partial unique index refuses a redemption already in a live statement.
    let lines = on_tx!(&mut tx, c => {
        sqlx::query(&format!(
            "INSERT INTO releve_lignes (releve_id, encaissement_id, valeur_centimes) \
             SELECT r.id, e.id, e.valeur_centimes FROM encaissements e \
             JOIN releves r ON r.lieu_id = e.lieu_id AND r.lot_id = $2 WHERE {UNSTATED}"
        ))
        .bind(&cutoff_text)
        .bind(lot)
        .execute(&mut *c)
        .await?
        .rows_affected()
    });
    if let TxConn::Postgres(t) = &mut tx.conn {
        for setting in ["RESET enable_mergejoin", "RESET enable_nestloop", "RESET jit"] {
            sqlx::query(setting).execute(&mut **t).await?;
        }
    }
    // The statements' totals were read under the same lock: the lines must add up to them exactly.
    let mismatched: i64 = on_tx!(&mut tx, c => {
        sqlx::query_scalar(
            "SELECT COUNT(*) FROM releves r WHERE r.lot_id = $1 AND (r.lignes, r.total_centimes) <> \
             (SELECT COUNT(*), CAST(COALESCE(SUM(l.valeur_centimes), 0) AS BIGINT) FROM releve_lignes l WHERE l.releve_id = r.id)",
        )
        .bind(lot)
        .fetch_one(&mut *c)
        .await?
    });
    let expected: i64 = numbered.iter().map(|(_, _, g, _)| g.count).sum();
    if mismatched != 0 || lines as i64 != expected {
        return Err(CoreError::Io(format!(
            "règlement interrompu : {mismatched} relevé(s) dont les lignes ne font pas le total ({lines} lignes pour {expected} attendues) ; rien n'est enregistré"
        )));
    }
    let msg_id = format!("PN-{}-{lot:06}", today.strftime("%Y%m%d"));
    let batch = Batch {
        msg_id: msg_id.clone(),
        created: created.to_string(),
        execution: today.strftime("%Y-%m-%d").to_string(),
        debtor,
        transfers: numbered
            .iter()
            .map(|(numero, _, g, b)| Transfer {
                statement: numero.clone(),
                amount_cents: g.total,
                creditor: b.holder.clone(),
                iban: b.iban.clone(),
                bic: b.bic.clone(),
            })
            .collect(),
    };
    let xml = sepa::write(&batch)?;
    let total = batch.control_sum();
    on_tx!(&mut tx, c => {
        sqlx::query("UPDATE lots_virements SET msg_id = $2, virements = $3, total_centimes = $4, xml = $5 WHERE id = $1")
            .bind(lot)
            .bind(&msg_id)
            .bind(numbered.len() as i64)
            .bind(total)
            .bind(&xml)
            .execute(&mut *c)
            .await?;
    });
    journal::append(
        &mut tx,
        &core.keys,
        NewEntry::new(who.actor(), actions::SETTLEMENT_RUN)
            .subject("lot_virements", lot)
            .details(json!({
                "jusqu_au": cutoff_text,
                "msg_id": msg_id,
                "releves": numbered.len(),
                "lignes": lines,
                "total_centimes": total,
                "en_attente": outcome.en_attente.len(),
            })),
    )
    .await?;
    pause_for_crash_test().await;
    tx.commit().await?;
    outcome.lot = Some(lot);
    outcome.msg_id = Some(msg_id);
    outcome.total_centimes = total;
    outcome.releves = numbered
        .iter()
        .map(|(numero, _, g, _)| Stated {
            numero: numero.clone(),
            lieu_id: g.lieu_id,
            lieu: g.lieu.clone(),
            lignes: g.count,
            total_centimes: g.total,
        })
        .collect();
    Ok(outcome)
}

#[cfg(test)]
mod tests {
    use jiff::civil::date;

    use super::*;

    #[test]
    fn the_default_cut_off_is_the_first_of_the_month_and_days_read_as_typed() {
        assert_eq!(default_cutoff(date(2026, 12, 6)), date(2026, 12, 1));
        assert_eq!(default_cutoff(date(2027, 1, 1)), date(2027, 1, 1));
        assert_eq!(parse_day(" 2026-11-30 ", "jusqu'au").unwrap(), date(2026, 11, 30));
        let e = parse_day("30/11/2026", "jusqu'au").unwrap_err().to_string();
        assert!(
            e.contains("jusqu'au : date AAAA-MM-JJ attendue, « 30/11/2026 » reçu"),
            "{e}"
        );
    }
}
