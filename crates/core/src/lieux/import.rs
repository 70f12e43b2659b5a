//! Import of a file in the standard: read, normalise, validate every row, then
//! write in one transaction (or nothing). Idempotent: rows are matched by `id`;
//! unchanged rows are left alone; the same place under another id is reported
//! as a likely duplicate, never merged silently.
//!
//! Edits made in Passerelle and later imports: a place edited in Passerelle
//! (by its staff or the opérateur) keeps the edit when a file brings a row
//! for it whose `date_maj` is not later than the edit's; the row is reported,
//! not applied. A row updated at the source after the edit replaces it.

use std::collections::{BTreeMap, HashMap};

use rayon::prelude::*;
use serde_json::json;

use super::read::{read, Format};
use super::store::{self, Extra};
use super::validate::{check_row, Checked, Issue, Normalisation};
use crate::error::CoreResult;
use crate::journal::{self, Actor, NewEntry};
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

/// Imports `bytes`. `progress(done, total)` is called while writing.
pub async fn import(
    core: &Core,
    actor: &Actor,
    bytes: &[u8],
    format: Format,
    options: &Options,
    mut progress: impl FnMut(u64, u64),
) -> CoreResult<Report> {
    let parsed = read(bytes, format)?;
    let mut report = Report {
        lignes: parsed.rows.len() + parsed.unreadable.len(),
        colonnes_renommees: parsed.renamed.clone(),
        colonnes_ignorees: parsed.unknown_columns.clone(),
        separateur: parsed.delimiter,
        ..Default::default()
    };
    report.erreurs.extend(parsed.unreadable.iter().cloned());
    let reference = super::geo::Reference::new(crate::territoires::communes(&core.db).await?);

    // Checking, digests and dedup keys in parallel.
    let checked: Vec<(usize, Result<Prepared, Vec<Issue>>)> = parsed
        .rows
        .par_iter()
        .map(|(line, row)| {
            let result = check_row(*line, row).map(|mut c| {
                reference.check(*line, &mut c);
                let digest = c.lieu.digest();
                let dedup = c.lieu.dedup_key();
                Prepared {
                    checked: c,
                    digest,
                    dedup,
                }
            });
            (*line, result)
        })
        .collect();
    let mut valid: Vec<(usize, Prepared)> = Vec::with_capacity(checked.len());
    let mut first_line_of_id: HashMap<String, usize> = HashMap::new();
    let mut counts: BTreeMap<Normalisation, usize> = BTreeMap::new();
    let mut invalid_lines = std::collections::BTreeSet::new();
    for issue in &parsed.unreadable {
        invalid_lines.insert(issue.ligne);
    }
    for (line, result) in checked {
        match result {
            Ok(p) => {
                let c = &p.checked;
                if let Some(first) = first_line_of_id.get(&c.lieu.id) {
                    report.erreurs.push(Issue {
                        ligne: line,
                        champ: "id".into(),
                        message: format!("identifiant « {} » déjà utilisé ligne {first}", c.lieu.id),
                    });
                    invalid_lines.insert(line);
                    continue;
                }
                first_line_of_id.insert(c.lieu.id.clone(), line);
                for n in &c.normalised {
                    *counts.entry(*n).or_default() += 1;
                }
                report.avertissements.extend(c.warnings.iter().cloned());
                valid.push((line, p));
            }
            Err(errors) => {
                invalid_lines.insert(line);
                report.erreurs.extend(errors);
            }
        }
    }
    report.erreurs.sort_by_key(|i| i.ligne);
    report.normalisations = counts.into_iter().map(|(k, v)| (k.label().to_string(), v)).collect();
    report.valides = valid.len();
    report.invalides = invalid_lines.len();
    if report.invalides > 0 && !options.ignore_invalid {
        return Ok(report);
    }

    let mut tx = core.db.begin().await?;
    let known = store::known(&mut tx).await?;
    let mut by_dedup: HashMap<&str, &str> = known
        .iter()
        .filter(|(_, k)| !k.dedup_key.is_empty())
        .map(|(ext, k)| (k.dedup_key.as_str(), ext.as_str()))
        .collect();
    let mut to_insert = Vec::new();
    let mut to_update = Vec::new();
    for (
        line,
        Prepared {
            checked: c,
            digest,
            dedup,
        },
    ) in &valid
    {
        match known.get(&c.lieu.id) {
            Some(k) if k.digest == *digest => report.inchanges += 1,
            Some(k) if k.edited && c.lieu.date_maj_text() <= k.date_maj => {
                report.modifications_conservees.push(KeptEdit {
                    ligne: *line,
                    id: c.lieu.id.clone(),
                    date_maj_fichier: c.lieu.date_maj_text(),
                    date_maj_passerelle: k.date_maj.clone(),
                })
            }
            Some(k) => to_update.push((*line, k.id, c, digest.as_str(), dedup.as_str())),
            None => {
                if let Some(other) = by_dedup.get(dedup.as_str()) {
                    report.doublons_probables.push(LikelyDuplicate {
                        ligne: *line,
                        id: c.lieu.id.clone(),
                        id_existant: other.to_string(),
                    });
                } else {
                    by_dedup.insert(dedup.as_str(), c.lieu.id.as_str());
                }
                to_insert.push((*line, c, digest.as_str(), dedup.as_str()));
            }
        }
    }
    report.crees = to_insert.len();
    report.mis_a_jour = to_update.len();
    if options.dry_run || (to_insert.is_empty() && to_update.is_empty()) {
        // Nothing to write: the database (journal included) stays exactly as it was.
        tx.rollback().await?;
        return Ok(report);
    }

    let total = (to_insert.len() + to_update.len()) as u64;
    let import_id = store::insert_import_run(
        &mut tx,
        &options.source,
        &options.file_name,
        report.lignes,
        report.crees,
        report.mis_a_jour,
    )
    .await?;
    let extra = |digest, dedup_key, line| Extra {
        digest,
        dedup_key,
        source: &options.source,
        import_id: Some(import_id),
        line,
    };
    let mut done = 0u64;
    for chunk in to_insert.chunks(5_000) {
        let batch: Vec<_> = chunk
            .iter()
            .map(|(line, c, digest, dedup)| (&c.lieu, extra(*digest, *dedup, *line)))
            .collect();
        store::insert_many(&mut tx, &batch).await?;
        done += chunk.len() as u64;
        progress(done, total);
    }
    for (line, id, c, digest, dedup) in &to_update {
        store::update(&mut tx, *id, &c.lieu, extra(digest, dedup, *line)).await?;
        done += 1;
        if done.is_multiple_of(500) {
            progress(done, total);
        }
    }
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
