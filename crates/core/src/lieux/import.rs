//! Import of a file in the standard: read, normalise, validate every row, then
//! write in one transaction (or nothing). Idempotent: rows are matched by `id`;
//! unchanged rows are left alone; the same place under another id is reported
//! as a likely duplicate, never merged silently.
//!
//! Edits made in Passerelle and later imports: a place edited in Passerelle
//! (by its staff or the opérateur) keeps the edit when a file brings a row
//! for it whose `date_maj` is not later than the edit's; the row is reported,
//! not applied. A row updated at the source after the edit replaces it.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use rayon::prelude::*;
use serde_json::json;

use super::authz::{authorize, Action};
use super::geo::Reference;
use super::read::{read, Format};
use super::store::{self, Extra};
use super::validate::{check_row, Checked, Issue, Normalisation};
use crate::accounts::Principal;
use crate::error::Result;
use crate::journal::{self, NewEntry};
use crate::Core;

#[derive(Debug, Clone)]
pub struct Options {
    /// Name of the source recorded in the provenance of each record.
    pub source: String,
    /// File name, for the provenance and the report.
    pub file_name: String,
    /// Import the valid rows even if some are invalid.
    pub ignore_invalid: bool,
    /// Check and count, write nothing.
    pub dry_run: bool,
}

/// A place that looks like one already known under another id.
#[derive(Debug, Clone, serde::Serialize)]
pub struct LikelyDuplicate {
    pub ligne: usize,
    pub id: String,
    pub id_existant: String,
}

/// A place edited in Passerelle that the file would have overwritten with
/// older data: the edit is kept.
#[derive(Debug, Clone, serde::Serialize)]
pub struct KeptEdit {
    pub ligne: usize,
    pub id: String,
    /// `date_maj` of the row in the file.
    pub date_maj_fichier: String,
    /// `date_maj` of the edit in Passerelle.
    pub date_maj_passerelle: String,
}

impl KeptEdit {
    /// The two dates as people read them (`JJ/MM/AAAA`): (the edit's, the file's).
    pub fn dates_fr(&self) -> (String, String) {
        (
            crate::dates_fr::jour_fr(&self.date_maj_passerelle),
            crate::dates_fr::jour_fr(&self.date_maj_fichier),
        )
    }
}

/// Everything the import did, or would do.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Report {
    pub lignes: usize,
    pub valides: usize,
    pub invalides: usize,
    pub crees: usize,
    pub mis_a_jour: usize,
    pub inchanges: usize,
    /// True when the database was changed.
    pub applique: bool,
    pub colonnes_renommees: Vec<(String, String)>,
    pub colonnes_ignorees: Vec<String>,
    pub separateur: Option<char>,
    /// Normalisation → number of rows concerned.
    pub normalisations: BTreeMap<String, usize>,
    /// Each value of a closed list translated (an earlier version's, or the standard's written
    /// otherwise) → number of values translated so, in the rows kept.
    pub valeurs_traduites: BTreeMap<String, usize>,
    pub erreurs: Vec<Issue>,
    pub avertissements: Vec<Issue>,
    pub doublons_probables: Vec<LikelyDuplicate>,
    /// Rows not applied because the place was edited in Passerelle since the
    /// source's last update (see `import`).
    pub modifications_conservees: Vec<KeptEdit>,
}

/// A valid row with what matching needs.
struct Prepared {
    checked: Checked,
    digest: String,
    dedup: String,
}

/// Rows checked together, then written together while the next ones are checked.
const CHUNK: usize = 5_000;

type CheckedRow = (usize, Result<Prepared, Vec<Issue>>);

fn prepare(
    line: usize,
    row: &[String],
    reference: &Reference,
    today: jiff::civil::Date,
) -> Result<Prepared, Vec<Issue>> {
    check_row(line, row, today).map(|mut c| {
        reference.check(line, &mut c);
        let digest = c.lieu.digest();
        let dedup = c.lieu.dedup_key();
        Prepared {
            checked: c,
            digest,
            dedup,
        }
    })
}

/// What matching decided for the rows of one chunk.
#[derive(Default)]
struct Decisions {
    insert: Vec<(usize, Prepared)>,
    update: Vec<(usize, i64, Prepared)>,
    /// Rows of a source of a merged record (see `fusion::apply`).
    merged: Vec<(usize, i64, Prepared)>,
}

/// Whether `who` may import places files: the opérateur only (checked again by [`import`]).
pub fn may_import(who: &Principal) -> Result<()> {
    authorize(who, Action::Administer)
}

/// Imports `bytes`: the opérateur only (`Principal::SYSTEME` from the command line).
/// `progress(done, total)` is called as rows are checked and written.
///
/// Rows are checked in parallel, chunk by chunk, on rayon's threads while the
/// chunks already checked are written in the import's single transaction. An
/// invalid row (without `ignore_invalid`), a dry run or an error rolls the
/// whole transaction back: the database is changed by all the file or not at all.
pub async fn import(
    core: &Core,
    who: &Principal,
    bytes: &[u8],
    format: Format,
    options: &Options,
    mut progress: impl FnMut(u64, u64),
) -> Result<Report> {
    may_import(who)?;
    let actor = &who.actor();
    let parsed = read(bytes, format)?;
    let mut report = Report {
        lignes: parsed.rows.len() + parsed.unreadable.len(),
        colonnes_renommees: parsed.renamed.clone(),
        colonnes_ignorees: parsed.unknown_columns.clone(),
        separateur: parsed.delimiter,
        ..Default::default()
    };
    report.erreurs.extend(parsed.unreadable.iter().cloned());
    let mut invalid_lines: BTreeSet<usize> = parsed.unreadable.iter().map(|i| i.ligne).collect();
    let reference = Arc::new(Reference::new(crate::geographie::communes(&core.db).await?));
    let today = core.db.horloge().today_utc();
    let rows = Arc::new(parsed.rows);
    let total = rows.len() as u64;

    let (sender, mut checked) = tokio::sync::mpsc::channel::<Vec<CheckedRow>>(2);
    let checker = {
        let rows = rows.clone();
        tokio::task::spawn_blocking(move || {
            for chunk in rows.chunks(CHUNK) {
                let results: Vec<CheckedRow> = chunk
                    .par_iter()
                    .map(|(line, row)| (*line, prepare(*line, row, &reference, today)))
                    .collect();
                if sender.blocking_send(results).is_err() {
                    // The import stopped (database error): nobody waits for the rest.
                    break;
                }
            }
        })
    };

    let mut tx = core.db.begin().await?;
    let known = store::known(&mut tx).await?;
    let mut by_dedup: HashMap<String, String> = known
        .iter()
        .filter(|(_, k)| !k.dedup_key.is_empty())
        .map(|(ext, k)| (k.dedup_key.clone(), ext.clone()))
        .collect();
    let mut first_line_of_id: HashMap<String, usize> = HashMap::new();
    let mut counts: BTreeMap<Normalisation, usize> = BTreeMap::new();
    let mut import_id: Option<i64> = None;
    let mut done = 0u64;
    while let Some(chunk) = checked.recv().await {
        done += chunk.len() as u64;
        let mut decisions = Decisions::default();
        for (line, result) in chunk {
            let p = match result {
                Ok(p) => p,
                Err(errors) => {
                    invalid_lines.insert(line);
                    report.erreurs.extend(errors);
                    continue;
                }
            };
            let id = &p.checked.lieu.id;
            if let Some(first) = first_line_of_id.get(id) {
                report.erreurs.push(Issue {
                    ligne: line,
                    champ: "id".into(),
                    message: format!("identifiant « {id} » déjà utilisé ligne {first}"),
                });
                invalid_lines.insert(line);
                continue;
            }
            first_line_of_id.insert(id.clone(), line);
            for n in &p.checked.normalised {
                *counts.entry(*n).or_default() += 1;
            }
            for t in &p.checked.translations {
                *report.valeurs_traduites.entry(t.clone()).or_default() += 1;
            }
            report.avertissements.extend(p.checked.warnings.iter().cloned());
            report.valides += 1;
            decide(&mut report, &known, &mut by_dedup, &mut decisions, line, p);
        }
        let doomed = !invalid_lines.is_empty() && !options.ignore_invalid;
        let something = !decisions.insert.is_empty() || !decisions.update.is_empty() || !decisions.merged.is_empty();
        if something && !options.dry_run && !doomed {
            let id = match import_id {
                Some(id) => id,
                None => {
                    let id =
                        store::insert_import_run(&mut tx, &options.source, &options.file_name, report.lignes, 0, 0)
                            .await?;
                    import_id = Some(id);
                    id
                }
            };
            write(&mut tx, id, options, &decisions).await?;
        }
        progress(done, total);
    }
    checker
        .await
        .map_err(|e| crate::CoreError::Io(format!("vérification des lignes interrompue : {e}")))?;
    report.erreurs.sort_by_key(|i| i.ligne);
    report.normalisations = counts.into_iter().map(|(k, v)| (k.label().to_string(), v)).collect();
    report.invalides = invalid_lines.len();
    let import_id = match import_id {
        Some(id) if !options.dry_run && (report.invalides == 0 || options.ignore_invalid) => id,
        // Nothing to keep: the database (journal included) stays exactly as it was.
        _ => {
            tx.rollback().await?;
            return Ok(report);
        }
    };
    store::finish_import_run(&mut tx, import_id, report.crees, report.mis_a_jour).await?;
    super::search::bump_version(&mut tx).await?;
    journal::append(
        &mut tx,
        &core.keys,
        NewEntry::new(actor.clone(), journal::actions::LIEUX_IMPORT)
            .subject("import_lieux", import_id)
            .details(json!({
                "source": options.source,
                "fichier": options.file_name,
                "lignes": report.lignes,
                "crees": report.crees,
                "mis_a_jour": report.mis_a_jour,
                "inchanges": report.inchanges,
                "invalides": report.invalides,
                "doublons_probables": report.doublons_probables.len(),
                "modifications_conservees": report.modifications_conservees.len(),
            })),
    )
    .await?;
    tx.commit().await?;
    progress(total, total);
    report.applique = true;
    Ok(report)
}

/// Matches a valid row with the known places: unchanged, kept edit, update or insert.
fn decide(
    report: &mut Report,
    known: &HashMap<String, store::Known>,
    by_dedup: &mut HashMap<String, String>,
    decisions: &mut Decisions,
    line: usize,
    p: Prepared,
) {
    let lieu = &p.checked.lieu;
    match known.get(&lieu.id) {
        Some(k) if k.digest == p.digest => report.inchanges += 1,
        Some(k) if k.edited && lieu.date_maj_text() <= k.date_maj => report.modifications_conservees.push(KeptEdit {
            ligne: line,
            id: lieu.id.clone(),
            date_maj_fichier: lieu.date_maj_text(),
            date_maj_passerelle: k.date_maj.clone(),
        }),
        Some(k) if k.fusion => {
            report.mis_a_jour += 1;
            decisions.merged.push((line, k.id, p));
        }
        Some(k) => {
            report.mis_a_jour += 1;
            decisions.update.push((line, k.id, p));
        }
        None => {
            if let Some(other) = by_dedup.get(&p.dedup) {
                report.doublons_probables.push(LikelyDuplicate {
                    ligne: line,
                    id: lieu.id.clone(),
                    id_existant: other.clone(),
                });
            } else {
                by_dedup.insert(p.dedup.clone(), lieu.id.clone());
            }
            report.crees += 1;
            decisions.insert.push((line, p));
        }
    }
}

/// Writes the decisions of one chunk.
async fn write(tx: &mut crate::db::Tx, import_id: i64, options: &Options, d: &Decisions) -> Result<()> {
    fn extra<'a>(p: &'a Prepared, source: &'a str, import_id: i64, line: usize) -> Extra<'a> {
        Extra {
            digest: &p.digest,
            dedup_key: &p.dedup,
            source,
            import_id: Some(import_id),
            line,
        }
    }
    let batch: Vec<_> = d
        .insert
        .iter()
        .map(|(line, p)| (&p.checked.lieu, extra(p, &options.source, import_id, *line)))
        .collect();
    if !batch.is_empty() {
        store::insert_many(tx, &batch).await?;
    }
    for (line, id, p) in &d.update {
        store::update(tx, *id, &p.checked.lieu, extra(p, &options.source, import_id, *line)).await?;
    }
    let today = tx.horloge.today_utc();
    for (line, id, p) in &d.merged {
        super::fusion::apply(
            tx,
            *id,
            &p.checked.lieu,
            &p.digest,
            &options.source,
            (import_id, *line),
            today,
        )
        .await?;
    }
    Ok(())
}
