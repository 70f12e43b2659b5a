//! TOTP devices of aidants, given by the référent: a physical card (imported
//! with its seed from the maker's CSV) or an authenticator app enrolled in
//! front of the référent. Seeds are sealed like account TOTP secrets.

use serde_json::json;

use super::actions;
use super::aidants::check_member;
use crate::accounts::{self, session, store as accounts_store, totp, Principal, TotpEnrolment};
use crate::db::{is_unique_violation, Tx, TxConn};
use crate::error::{CoreError, Result};
use crate::journal::{self, NewEntry};
use crate::{on_db, on_tx, Core};

/// Most cards in one file.
pub const MAX_CARDS: usize = 100_000;

/// What an import did (or would have done, with its errors).
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct ImportReport {
    pub importees: usize,
    /// (line of the file, message) of every refused row.
    pub erreurs: Vec<(usize, String)>,
}

fn serial_ok(s: &str) -> bool {
    !s.is_empty() && s.len() <= 64 && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

/// Reads the maker's file: columns `numero_serie,graine` (base32) and an
/// optional `duree` (30 seconds: the only step supported). Every row is
/// checked; any error and nothing is written. The opérateur only.
pub async fn import(core: &Core, who: &Principal, data: &[u8]) -> Result<ImportReport> {
    super::authz::authorize(who, super::authz::Action::Review)?;
    let actor = &who.actor();
    let mut reader = csv::ReaderBuilder::new().trim(csv::Trim::All).from_reader(data);
    let headers = reader
        .headers()
        .map_err(|e| CoreError::invalid(format!("fichier illisible ({})", crate::format_fr::erreur_csv(&e))))?
        .clone();
    let col = |name: &str| headers.iter().position(|h| h.trim_start_matches('\u{feff}') == name);
    let (Some(serial_col), Some(seed_col)) = (col("numero_serie"), col("graine")) else {
        return Err(CoreError::invalid("colonnes attendues : numero_serie,graine[,duree]"));
    };
    let step_col = col("duree");
    let mut report = ImportReport::default();
    let mut rows: Vec<(String, String)> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for (i, rec) in reader.records().enumerate() {
        let line = i + 2;
        let rec = match rec {
            Ok(r) => r,
            Err(e) => {
                report
                    .erreurs
                    .push((line, format!("ligne illisible ({})", crate::format_fr::erreur_csv(&e))));
                continue;
            }
        };
        let serial = rec.get(serial_col).unwrap_or_default().to_string();
        let seed: String = rec
            .get(seed_col)
            .unwrap_or_default()
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect::<String>()
            .to_uppercase();
        let step = step_col.and_then(|c| rec.get(c)).unwrap_or_default();
        if !serial_ok(&serial) {
            report.erreurs.push((
                line,
                "numéro de série invalide (lettres, chiffres et tirets, 64 au plus)".into(),
            ));
            continue;
        }
        if !seen.insert(serial.clone()) {
            report
                .erreurs
                .push((line, format!("numéro de série {serial} en double dans le fichier")));
            continue;
        }
        let bytes = totp_rs::Secret::Encoded(seed.clone()).to_bytes();
        if !matches!(&bytes, Ok(b) if b.len() >= 16) {
            report.erreurs.push((
                line,
                format!("carte {serial} : graine invalide (base32, 128 bits au moins)"),
            ));
            continue;
        }
        if !(step.is_empty() || step == "30") {
            report.erreurs.push((
                line,
                format!("carte {serial} : durée {step} non prise en charge (30 secondes)"),
            ));
            continue;
        }
        rows.push((serial, seed));
        if rows.len() > MAX_CARDS {
            return Err(CoreError::invalid(format!("{MAX_CARDS} cartes au plus par fichier")));
        }
    }
    if rows.is_empty() && report.erreurs.is_empty() {
        return Err(CoreError::invalid("le fichier ne contient aucune carte"));
    }
    if !report.erreurs.is_empty() {
        return Ok(report);
    }
    let mut sealed = Vec::with_capacity(rows.len());
    for (serial, seed) in &rows {
        sealed.push((serial, totp::seal(core, seed)?));
    }
    let mut tx = core.db.begin().await?;
    let now = tx.horloge.now_micros();
    for (i, (serial, seed)) in sealed.iter().enumerate() {
        let r = on_tx!(&mut tx, c => {
            sqlx::query("INSERT INTO cartes_totp (numero_serie, graine, duree, created_at) VALUES ($1, $2, 30, $3)")
                .bind(serial).bind(seed).bind(now).execute(&mut *c).await.map(|r| r.rows_affected())
        });
        match r {
            Ok(_) => {}
            Err(e) if is_unique_violation(&e) => report
                .erreurs
                .push((i + 2, format!("la carte {serial} est déjà enregistrée"))),
            Err(e) => return Err(e.into()),
        }
        if !report.erreurs.is_empty() && matches!(tx.conn, TxConn::Postgres(_)) {
            // The PostgreSQL transaction is aborted after an error: report what was found.
            break;
        }
    }
    if !report.erreurs.is_empty() {
        tx.rollback().await?;
        return Ok(report);
    }
    journal::append(
        &mut tx,
        &core.keys,
        NewEntry::new(actor.clone(), actions::CARDS_IMPORTED).details(json!({ "cartes": sealed.len() })),
    )
    .await?;
    tx.commit().await?;
    report.importees = sealed.len();
    Ok(report)
}

/// Serial numbers of the cards not given to anyone.
pub async fn free_cards(core: &Core, limit: i64) -> Result<Vec<String>> {
    Ok(on_db!(&core.db, c => {
        sqlx::query_scalar("SELECT numero_serie FROM cartes_totp WHERE account_id IS NULL ORDER BY numero_serie LIMIT $1")
            .bind(limit).fetch_all(&mut *c).await?
    }))
}

/// The référent may change an aidant's device (card or app) unless the
/// aidant already has one and also acts for another structure: his device is
/// his own, and a référent of one structure must not take it from the others.
async fn check_device_change(core: &Core, who: &Principal, account: i64) -> Result<()> {
    check_member(core, who, account).await?;
    let (has_device, others): (bool, i64) = on_db!(&core.db, c => {
        sqlx::query_as(
            "SELECT a.totp_secret IS NOT NULL, (SELECT COUNT(*) FROM aidants_membres m WHERE m.account_id = a.id \
             AND m.actif = TRUE AND m.organisation_id <> $2) FROM accounts a WHERE a.id = $1",
        )
        .bind(account).bind(who.organisation_id).fetch_one(&mut *c).await?
    });
    if has_device && others > 0 {
        return Err(CoreError::Conflict(
            "cet aidant agit aussi pour une autre structure avec son appareil actuel : seul l'opérateur peut le remplacer".into(),
        ));
    }
    Ok(())
}

/// Makes `sealed` the aidant's TOTP device, releasing a previous card; ends his sessions.
async fn replace_device(tx: &mut Tx, account: i64, sealed: &str, step: i64) -> Result<()> {
    on_tx!(&mut *tx, c => {
        sqlx::query("UPDATE cartes_totp SET account_id = NULL, associee_at = NULL WHERE account_id = $1")
            .bind(account).execute(&mut *c).await?;
    });
    accounts_store::set_totp(tx, account, Some(sealed), Some(step)).await?;
    session::delete_others(tx, account, None).await?;
    Ok(())
}

/// The référent gives a free card to an aidant of his structure, confirmed by
/// a code read on the card now. Returns false when the code is wrong.
pub async fn assign(core: &Core, who: &Principal, account: i64, serial: &str, code: &str, unix: u64) -> Result<bool> {
    check_device_change(core, who, account).await?;
    let serial = serial.trim();
    let mut tx = core.db.begin().await?;
    let card: Option<(i64, String, Option<i64>)> = on_tx!(&mut tx, c => {
        sqlx::query_as("SELECT id, graine, account_id FROM cartes_totp WHERE numero_serie = $1")
            .bind(serial).fetch_optional(&mut *c).await?
    });
    let Some((card_id, sealed, owner)) = card else {
        return Err(CoreError::invalid(format!(
            "aucune carte n'a le numéro de série « {} »",
            serial.chars().take(64).collect::<String>()
        )));
    };
    if owner.is_some() {
        return Err(CoreError::Conflict("cette carte est déjà associée à un aidant".into()));
    }
    let Some(step) = totp::check(&totp::open(core, &sealed)?, code, unix, None)? else {
        tx.rollback().await?;
        return Ok(false);
    };
    replace_device(&mut tx, account, &sealed, step).await?;
    on_tx!(&mut tx, c => {
        sqlx::query("UPDATE cartes_totp SET account_id = $2, associee_at = $3 WHERE id = $1 AND account_id IS NULL")
            .bind(card_id).bind(account).bind(tx.horloge.now_micros()).execute(&mut *c).await?;
    });
    journal::append(
        &mut tx,
        &core.keys,
        NewEntry::new(who.actor(), actions::CARD_ASSIGNED)
            .subject("compte", account)
            .subject("carte_totp", card_id)
            .details(json!({ "numero_serie": serial })),
    )
    .await?;
    tx.commit().await?;
    Ok(true)
}

/// Starts (or shows again) the enrolment of an app for an aidant of the référent's structure.
pub async fn start_app(core: &Core, who: &Principal, account: i64, renew: bool) -> Result<TotpEnrolment> {
    check_device_change(core, who, account).await?;
    accounts::start_totp_enrolment(core, account, renew).await
}

/// Confirms the app with a code shown on the aidant's phone. False when wrong.
pub async fn confirm_app(core: &Core, who: &Principal, account: i64, code: &str, unix: u64) -> Result<bool> {
    check_device_change(core, who, account).await?;
    let mut tx = core.db.begin().await?;
    let creds = accounts_store::credentials_by_id(&mut tx, account)
        .await?
        .ok_or_else(|| CoreError::NotFound("aidant".into()))?;
    let Some(pending) = creds.totp_pending_secret else {
        return Err(CoreError::invalid("aucune association d'application n'est en cours"));
    };
    let Some(step) = totp::check(&totp::open(core, &pending)?, code, unix, None)? else {
        tx.rollback().await?;
        return Ok(false);
    };
    replace_device(&mut tx, account, &pending, step).await?;
    journal::append(
        &mut tx,
        &core.keys,
        NewEntry::new(who.actor(), actions::APP_ENROLLED).subject("compte", account),
    )
    .await?;
    tx.commit().await?;
    Ok(true)
}
