//! `passerelle lieux qualifications importer FICHIER.csv`: places qualified
//! under a former operator, with their validated bank details. Every row is
//! checked (Luhn, mod-97, BIC, unique SIRET); one bad row and nothing is
//! written, with the list of every bad row.

use std::collections::HashMap;

use serde_json::json;

use super::bank_details::BankDetailsState;
use crate::db::{is_unique_violation, Tx};
use crate::error::{CoreError, Result};
use crate::identifiants::{Bic, Iban, Siret};
use crate::journal::{self, actions, Actor, NewEntry};
use crate::lieux::validate::Issue;
use crate::reglements::bank;
use crate::{on_tx, Core};

const COLUMNS: [&str; 5] = ["lieu_id", "siret", "iban", "bic", "titulaire"];
/// Rows in one file.
const MAX_ROWS: usize = 100_000;

/// One checked row.
#[derive(Debug, Clone)]
struct Row {
    line: usize,
    ext_id: String,
    place: i64,
    siret: Siret,
    iban: Iban,
    bic: Bic,
    holder: String,
}

/// What the import did.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Report {
    pub lignes: usize,
    /// Places newly qualified.
    pub qualifies: usize,
    /// Places already qualified (their SIRET is recorded if it was missing).
    pub deja_qualifies: usize,
    /// Bank details recorded as validated (new or changed).
    pub coordonnees_enregistrees: usize,
    /// Bank details identical to the validated ones.
    pub coordonnees_inchangees: usize,
}

/// The value read from a cell, or `None` and the cell's French message in `issues`.
fn kept<T>(issues: &mut Vec<Issue>, line: usize, field: &str, read: Result<T>) -> Option<T> {
    read.map_err(|e| issues.push(issue(line, field, e.to_string()))).ok()
}

fn issue(line: usize, field: &str, message: impl Into<String>) -> Issue {
    Issue {
        ligne: line,
        champ: field.into(),
        message: message.into(),
    }
}

/// Reads the CSV (comma or semicolon, optional BOM) into raw rows with their line numbers.
fn read(bytes: &[u8]) -> Result<Vec<(usize, Vec<String>)>> {
    let text = std::str::from_utf8(bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes))
        .map_err(|_| CoreError::invalid("le fichier n'est pas en UTF-8"))?;
    let first = text.lines().next().unwrap_or("");
    let delimiter = if first.matches(';').count() > first.matches(',').count() {
        b';'
    } else {
        b','
    };
    let mut r = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .flexible(true)
        .from_reader(text.as_bytes());
    let headers: Vec<String> = r
        .headers()
        .map_err(|e| CoreError::invalid(format!("en-tête illisible ({})", crate::format_fr::erreur_csv(&e))))?
        .iter()
        .map(|h| h.trim().to_lowercase())
        .collect();
    if headers != COLUMNS {
        return Err(CoreError::invalid(format!(
            "colonnes attendues, dans cet ordre : {} ; reçues : {}",
            COLUMNS.join(","),
            headers.join(",")
        )));
    }
    let mut rows = Vec::new();
    for (i, record) in r.records().enumerate() {
        let line = i + 2;
        if rows.len() >= MAX_ROWS {
            return Err(CoreError::invalid(format!(
                "plus de {MAX_ROWS} lignes : découpez le fichier"
            )));
        }
        let record = record.map_err(|e| {
            CoreError::invalid(format!("ligne {line} illisible ({})", crate::format_fr::erreur_csv(&e)))
        })?;
        rows.push((line, record.iter().map(|f| f.trim().to_string()).collect()));
    }
    if rows.is_empty() {
        return Err(CoreError::invalid(
            "le fichier ne contient aucune ligne après l'en-tête",
        ));
    }
    Ok(rows)
}

/// Checks every row; returns the good rows and every problem.
async fn check(core: &Core, raw: Vec<(usize, Vec<String>)>) -> Result<(Vec<Row>, Vec<Issue>)> {
    let places: HashMap<String, i64> = crate::on_db!(&core.db, c => {
        sqlx::query_as::<_, (String, i64)>("SELECT ext_id, id FROM lieux").fetch_all(&mut *c).await?
    })
    .into_iter()
    .collect();
    // SIRET → place, of the active qualifications. Read as text: a
    // qualification recorded before the strict rule may hold a SIRET it now
    // refuses (see `controle::sirets_a_reprendre`), which must not stop every import.
    let taken: HashMap<String, i64> = crate::on_db!(&core.db, c => {
        sqlx::query_as::<_, (String, i64)>("SELECT siret, lieu_id FROM qualifications WHERE etat = 'active' AND siret IS NOT NULL")
            .fetch_all(&mut *c)
            .await?
    })
    .into_iter()
    .collect();
    let mut rows = Vec::new();
    let mut issues = Vec::new();
    let mut siret_lines: HashMap<String, usize> = HashMap::new();
    let mut place_lines: HashMap<String, usize> = HashMap::new();
    for (line, fields) in raw {
        if fields.len() != COLUMNS.len() {
            issues.push(issue(
                line,
                "",
                format!("{} champs attendus, {} reçus", COLUMNS.len(), fields.len()),
            ));
            continue;
        }
        let before = issues.len();
        let ext_id = fields[0].clone();
        let place = places.get(&ext_id).copied();
        if place.is_none() {
            issues.push(issue(
                line,
                "lieu_id",
                format!("aucun lieu « {ext_id} » dans l'annuaire"),
            ));
        }
        if let Some(first) = place_lines.insert(ext_id.clone(), line) {
            issues.push(issue(
                line,
                "lieu_id",
                format!("lieu « {ext_id} » déjà présent ligne {first}"),
            ));
        }
        let siret = kept(&mut issues, line, "siret", Siret::parse(&fields[1]));
        let iban = kept(&mut issues, line, "iban", Iban::parse(&fields[2]));
        let bic = kept(&mut issues, line, "bic", Bic::parse(&fields[3]));
        let holder = kept(&mut issues, line, "titulaire", bank::parse_holder(&fields[4])).unwrap_or_default();
        if let Some(siret) = &siret {
            if let Some(first) = siret_lines.insert(siret.to_string(), line) {
                issues.push(issue(
                    line,
                    "siret",
                    format!("SIRET {siret} déjà présent ligne {first} : un SIRET pour un seul lieu qualifié"),
                ));
            }
            if let (Some(owner), Some(p)) = (taken.get(siret.as_str()), place) {
                if *owner != p {
                    issues.push(issue(
                        line,
                        "siret",
                        format!("SIRET {siret} déjà qualifié pour un autre lieu"),
                    ));
                }
            }
        }
        if issues.len() == before {
            if let (Some(place), Some(siret), Some(iban), Some(bic)) = (place, siret, iban, bic) {
                rows.push(Row {
                    line,
                    ext_id,
                    place,
                    siret,
                    iban,
                    bic,
                    holder,
                });
            }
        }
    }
    Ok((rows, issues))
}

/// Writes one row; returns (newly qualified, bank details recorded).
async fn apply(tx: &mut Tx, core: &Core, actor: &Actor, row: &Row, now: i64) -> Result<(bool, bool)> {
    // The SIRET read as text, like `taken` in `check`.
    let active: Option<(i64, Option<String>)> = on_tx!(tx, c => {
        sqlx::query_as("SELECT id, siret FROM qualifications WHERE lieu_id = $1 AND etat = 'active'")
            .bind(row.place)
            .fetch_optional(&mut *c)
            .await?
    });
    let newly = match active {
        Some((_, Some(s))) if s != row.siret.as_str() => {
            return Err(CoreError::invalid(format!(
                "ligne {} : le lieu « {} » est déjà qualifié sous le SIRET {s}",
                row.line, row.ext_id
            )))
        }
        Some((id, _)) => {
            on_tx!(tx, c => {
                sqlx::query("UPDATE qualifications SET siret = $2, updated_at = $3 WHERE id = $1")
                    .bind(id).bind(&row.siret).bind(now).execute(&mut *c).await?;
            });
            false
        }
        None => {
            on_tx!(tx, c => {
                sqlx::query(
                    "INSERT INTO qualifications (lieu_id, etat, motif, siret, created_at, updated_at) \
                     VALUES ($1, 'active', 'reprise d''un ancien opérateur', $2, $3, $3)",
                )
                .bind(row.place).bind(&row.siret).bind(now).execute(&mut *c).await?;
                sqlx::query("UPDATE lieux SET pass_numerique = TRUE, updated_at = $2 WHERE id = $1")
                    .bind(row.place).bind(now).execute(&mut *c).await?;
            });
            journal::append(
                tx,
                &core.keys,
                NewEntry::new(actor.clone(), actions::PLACE_QUALIFIED)
                    .subject("lieu", row.place)
                    .details(json!({ "id": row.ext_id, "siret": row.siret, "motif": "reprise d'un ancien opérateur" })),
            )
            .await?;
            true
        }
    };
    let current: Option<(i64, Iban, Bic, String)> = on_tx!(tx, c => {
        sqlx::query_as("SELECT id, iban, bic, titulaire FROM coordonnees_bancaires WHERE lieu_id = $1 AND etat = $2")
            .bind(row.place)
            .bind(BankDetailsState::Validees)
            .fetch_optional(&mut *c)
            .await?
    });
    if let Some((_, iban, bic, holder)) = &current {
        if *iban == row.iban && *bic == row.bic && *holder == row.holder {
            return Ok((newly, false));
        }
    }
    on_tx!(tx, c => {
        sqlx::query("UPDATE coordonnees_bancaires SET etat = $3, fin_at = $2 WHERE lieu_id = $1 AND etat IN ($4, $5)")
            .bind(row.place).bind(now).bind(BankDetailsState::Remplacees)
            .bind(BankDetailsState::Validees).bind(BankDetailsState::AValider)
            .execute(&mut *c).await?;
        sqlx::query(
            "INSERT INTO coordonnees_bancaires (lieu_id, iban, bic, titulaire, etat, created_at, valide_at) \
             VALUES ($1, $2, $3, $4, $6, $5, $5)",
        )
        .bind(row.place).bind(&row.iban).bind(&row.bic).bind(&row.holder).bind(now).bind(BankDetailsState::Validees).execute(&mut *c).await?;
    });
    journal::append(
        tx,
        &core.keys,
        NewEntry::new(actor.clone(), actions::BANK_DETAILS_VALIDATED)
            .subject("lieu", row.place)
            .details(json!({
                "iban": row.iban.masked(),
                "bic": row.bic,
                "titulaire": core.keys.pseudonym("titulaire", &row.holder),
                "precedent": current.map(|(id, ..)| id),
                "origine": "import des qualifications",
            })),
    )
    .await?;
    Ok((newly, true))
}

/// Imports the file (the opérateur only): all rows or none. A refusal lists every bad row.
pub async fn import(core: &Core, who: &crate::accounts::Principal, bytes: &[u8]) -> Result<Report> {
    super::authz::authorize(who, super::authz::Action::Administer)?;
    let actor = &who.actor();
    let raw = read(bytes)?;
    let lines = raw.len();
    let (rows, issues) = check(core, raw).await?;
    if !issues.is_empty() {
        let listed = issues
            .iter()
            .map(|i| {
                if i.champ.is_empty() {
                    format!("ligne {} : {}", i.ligne, i.message)
                } else {
                    format!("ligne {} ({}) : {}", i.ligne, i.champ, i.message)
                }
            })
            .collect::<Vec<_>>()
            .join("\n");
        let refused = issues
            .iter()
            .map(|i| i.ligne)
            .collect::<std::collections::BTreeSet<_>>()
            .len();
        return Err(CoreError::invalid(format!(
            "{} sur {lines} ; rien n'a été enregistré :\n{listed}",
            crate::format_fr::nombre(
                i64::try_from(refused).unwrap_or(i64::MAX),
                "ligne refusée",
                "lignes refusées"
            )
        )));
    }
    let mut report = Report {
        lignes: lines,
        ..Report::default()
    };
    let now = core.db.now_micros();
    let mut tx = core.db.begin().await?;
    for row in &rows {
        match apply(&mut tx, core, actor, row, now).await {
            Ok((newly, recorded)) => {
                if newly {
                    report.qualifies += 1;
                } else {
                    report.deja_qualifies += 1;
                }
                if recorded {
                    report.coordonnees_enregistrees += 1;
                } else {
                    report.coordonnees_inchangees += 1;
                }
            }
            Err(CoreError::Database(e)) if is_unique_violation(&e) => {
                return Err(CoreError::Conflict(format!(
                    "ligne {} : SIRET {} déjà qualifié pour un autre lieu (modifié pendant l'import) ; rien n'a été enregistré",
                    row.line, row.siret
                )))
            }
            Err(e) => return Err(e),
        }
    }
    crate::lieux::search::bump_version(&mut tx).await?;
    journal::append(
        &mut tx,
        &core.keys,
        NewEntry::new(actor.clone(), actions::QUALIFICATIONS_IMPORTED).details(json!({
            "lignes": report.lignes,
            "qualifies": report.qualifies,
            "deja_qualifies": report.deja_qualifies,
            "coordonnees_enregistrees": report.coordonnees_enregistrees,
        })),
    )
    .await?;
    tx.commit().await?;
    Ok(report)
}
