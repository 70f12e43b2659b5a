//! `passerelle commandes rapport` (a funder's report of one order) and
//! `passerelle commandes expires` (the joint statement of its expired cheques).

use std::path::Path;

use anyhow::{Context, Result};
use passerelle_core::accounts::Principal;
use passerelle_core::dates_fr::jour_fr;
use passerelle_core::format_fr::nombre;
use passerelle_core::pass_numerique::rapports::{self, expires, expires_pdf, Count, Row};
use passerelle_core::pass_numerique::reports;
use passerelle_core::pdf::Fonts;
use passerelle_core::Core;

fn write(path: &Path, bytes: &[u8]) -> Result<()> {
    std::fs::write(path, bytes).with_context(|| format!("impossible d'écrire « {} »", path.display()))
}

fn count(label: &str, carnets: Option<i64>, c: Count) {
    let booklets = carnets.map(|n| format!(" ({n} carnets)")).unwrap_or_default();
    println!(
        "  {label:<14} {:>9} chèques {:>14} €{booklets}",
        c.cheques,
        c.valeur_centimes.euros()
    );
}

fn breakdown(title: &str, rows: &[Row], with_key: bool) {
    println!("\n{title}");
    if rows.is_empty() {
        println!("  aucun encaissement");
    }
    for r in rows {
        let name = if with_key && !r.cle.is_empty() {
            format!("{} ({})", r.libelle, r.cle)
        } else {
            r.libelle.clone()
        };
        let booklets = r
            .carnets_remis
            .map(|n| format!(" ; {}", nombre(n, "carnet remis", "carnets remis")))
            .unwrap_or_default();
        println!(
            "  {name} : {}, {} €{booklets}",
            nombre(r.encaisses, "encaissé", "encaissés"),
            r.valeur_encaissee_centimes.euros()
        );
    }
}

/// `passerelle commandes rapport ID [--csv F] [--json]`
pub async fn order(core: &Core, id: i64, csv: Option<&Path>, json: bool) -> Result<()> {
    let r = rapports::order_report(core, &Principal::SYSTEME, id).await?;
    if let Some(path) = csv {
        write(path, &rapports::csv::csv(&r)?)?;
    }
    if json {
        println!("{}", serde_json::to_string(&r)?);
        return Ok(());
    }
    let t = &r.totaux;
    println!("Rapport — {}", r.titre);
    count("émis", Some(t.carnets_emis), t.emis);
    count("remis", Some(t.carnets_remis), t.remis);
    count("encaissés", None, t.encaisses);
    count("non utilisés", None, t.non_utilises);
    count("expirés", None, t.expires);
    count("annulés", Some(t.carnets_perdus), t.annules);
    println!("  avoirs émis : {} €", t.avoirs_centimes.euros());
    breakdown("Par mois", &r.par_mois, false);
    breakdown("Par département", &r.par_departement, true);
    breakdown("Par commune", &r.par_commune, true);
    breakdown("Par lieu", &r.par_lieu, true);
    breakdown("Par public", &r.par_public, false);
    if let Some(path) = csv {
        println!("\nRapport en CSV : {}.", path.display());
    }
    Ok(())
}

/// Where `commandes expires` writes.
pub struct Files<'a> {
    pub pdf: Option<&'a Path>,
    pub csv: Option<&'a Path>,
    pub fonts: Option<&'a Path>,
}

/// `passerelle commandes expires ID [--pdf F] [--csv F] [--json]`
pub async fn expired(core: &Core, id: i64, files: Files<'_>, json: bool) -> Result<()> {
    let s = expires::statement(core, &Principal::SYSTEME, id).await?;
    if let Some(path) = files.csv {
        write(path, &expires::csv(&s)?)?;
    }
    if let Some(path) = files.pdf {
        let fonts = Fonts::of(files.fonts)?;
        let operator = reports::operator_name(core).await?;
        write(path, &expires_pdf::pdf(&fonts, &operator, &s)?)?;
    }
    if json {
        println!("{}", serde_json::to_string(&s)?);
        return Ok(());
    }
    println!(
        "État des chèques expirés — commande n° {} ({}), expiration après le {}",
        s.commande,
        s.commanditaire,
        jour_fr(&s.expiration_apres)
    );
    count("expirés", None, s.expires);
    count("annulés", None, s.annules);
    println!(
        "  {} ; total {} €",
        nombre(
            i64::try_from(s.carnets.len()).unwrap_or(i64::MAX),
            "carnet concerné",
            "carnets concernés"
        ),
        s.total_centimes.euros()
    );
    for a in &s.avoirs {
        println!("  avoir {} : {} €", a.numero, a.valeur_centimes.euros());
    }
    if s.balanced() {
        println!("Total des avoirs égal au total des chèques non utilisés.");
    } else {
        println!(
            "Reste à couvrir par un avoir : {} € (à la prochaine expiration).",
            (s.total_centimes - s.avoirs_centimes).euros()
        );
    }
    for (what, path) in [("PDF", files.pdf), ("CSV", files.csv)] {
        if let Some(p) = path {
            println!("{what} : {}.", p.display());
        }
    }
    Ok(())
}
