//! `passerelle-charge preparer`: fills a **new test database** with what the
//! load needs, through passerelle-core's own domain functions (the same rules,
//! journal entries and keys as the service): places of the directory,
//! qualified, with API keys; a paid order whose booklets are handed out
//! (valid codes); accounts with passwords; small orders for the scheduled
//! jobs' checks. Writes the keys, codes and passwords to a private file.

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use clap::Args;
use jiff::civil::Date;
use jiff::ToSpan;
use passerelle_core::accounts::Principal;
use passerelle_core::accounts::{self, NewAccount};
use passerelle_core::pass_numerique::booklets::{self, HandOut};
use passerelle_core::pass_numerique::model::Territory;
use passerelle_core::pass_numerique::orders::{self, NewOrder};
use passerelle_core::pass_numerique::{issue, places};
use passerelle_core::{on_db, Core};

use crate::jeu::{Cheque, Compte, Jeu, Lieu, Taches};

/// The service every prepared place offers (a label of the national standard).
pub const SERVICE: &str = "Aide aux démarches administratives";
/// Cheques in a booklet (the order's default).
const PAR_CARNET: usize = 10;
/// Centre of the prepared places (Bordeaux), all in département 33.
const CENTRE: (f64, f64) = (44.8378, -0.5792);

#[derive(Args, Debug)]
pub struct PreparerArgs {
    /// Base de données de test (`sqlite:chemin` ou `postgres://…`), neuve : migrations appliquées ici.
    #[arg(long = "base", env = "PASSERELLE_DATABASE_URL")]
    pub base: String,
    /// Dossier des clés, celui que les instances utiliseront (les codes des chèques en dérivent).
    #[arg(long = "dossier-donnees", env = "PASSERELLE_DATA_DIR")]
    pub dossier_donnees: PathBuf,
    /// Fichier à écrire (clés d'API, codes, mots de passe ; droits 0600).
    #[arg(long)]
    pub sortie: PathBuf,
    /// Lieux qualifiés avec une clé d'API (10 au moins : un carnet est encaissé dans 10 lieux).
    #[arg(long, default_value_t = 50)]
    pub lieux: usize,
    /// Carnets remis pour la charge (10 chèques chacun : 8 à encaisser, 2 à vérifier).
    #[arg(long, default_value_t = 200)]
    pub carnets: usize,
    /// Carnets dont chaque chèque est encaissé en même temps sur toutes les instances (`verifier`).
    #[arg(long = "carnets-course", default_value_t = 5)]
    pub carnets_course: usize,
    /// Comptes qui se connectent pendant la charge (mot de passe seul : rôle « lieu »).
    #[arg(long, default_value_t = 50)]
    pub comptes: usize,
    /// Jour où `passerelle taches quotidiennes --date` sera lancé (par défaut le 1er du mois prochain).
    #[arg(long = "jour-taches")]
    pub jour_taches: Option<String>,
    /// Référentiel des territoires (paquet npm @etalab/decoupage-administratif), chargé s'il manque.
    #[arg(long, default_value = passerelle_core::geographie::DEFAULT_DIR)]
    pub territoires: PathBuf,
}

pub async fn run(a: PreparerArgs) -> Result<()> {
    if a.lieux < PAR_CARNET + 2 {
        bail!("--lieux : {} au moins (un carnet est encaissé dans {PAR_CARNET} lieux, et deux lieux sont réservés aux limites)", PAR_CARNET + 2);
    }
    let today = passerelle_core::Horloge::systeme().today_paris();
    let jour = match &a.jour_taches {
        Some(d) => {
            Date::strptime("%Y-%m-%d", d).with_context(|| format!("--jour-taches « {d} » : AAAA-MM-JJ attendu"))?
        }
        None => first_of_next_month(today),
    };
    if jour <= today {
        bail!("--jour-taches doit être postérieur à aujourd'hui ({today})");
    }
    passerelle_core::Backend::from_url(&a.base)?;
    std::fs::create_dir_all(&a.dossier_donnees)
        .with_context(|| format!("création du dossier de données « {} »", a.dossier_donnees.display()))?;
    let core = Core::open(&a.base, &a.dossier_donnees).await?;
    if accounts::store::count_organisations(&core.db).await? > 0 {
        bail!("la base contient déjà des organisations : le jeu de charge se prépare sur une base neuve");
    }
    if passerelle_core::geographie::count(&core.db).await? == 0 {
        passerelle_core::geographie::load(&core.db, &a.territoires)
            .await
            .with_context(|| format!("chargement des territoires depuis « {} »", a.territoires.display()))?;
    }
    let started = std::time::Instant::now();

    let lieux = prepare_places(&core, a.lieux).await?;
    println!("{} lieux qualifiés, chacun avec sa clé d'API.", lieux.len());
    let org = |kind: &'static str, name: &'static str| {
        let core = core.clone();
        async move { accounts::create_organisation(&core, &Principal::SYSTEME, kind, name, None).await }
    };
    let funder = org("commanditaire", "Commanditaire de la charge").await?;
    let prescriber = org("prescripteur", "Prescripteur de la charge").await?;
    let team = org("lieu", "Équipe des lieux de la charge").await?;
    // The funder receives the end-of-validity alerts and the monthly digest.
    accounts::create_account(
        &core,
        &Principal::SYSTEME,
        NewAccount {
            organisation_id: funder.id,
            email: "commanditaire@charge.passerelle.fr",
            display_name: "Commanditaire de la charge",
            role: None,
            password: None,
            with_totp: false,
        },
    )
    .await?;

    let mut jeu = Jeu {
        centre: CENTRE,
        limites: vec![lieux.len() - 2, lieux.len() - 1],
        ..Default::default()
    };
    // Places used by the load and the race: all but the two reserved for the limits.
    let usable = lieux.len() - 2;
    let total = a.carnets + a.carnets_course;
    let mut new = NewOrder::new(funder.id, total.max(1) as i64, days(today, -30)?, days(today, 365)?);
    new.perimetre = vec![Territory::Departement("33".into())].into();
    new.prescripteurs = vec![prescriber.id];
    let (order, _) = orders::create(&core, &Principal::SYSTEME, &new).await?;
    let issued = issue::issue(&core, &Principal::SYSTEME, order.id, |_, _| {}).await?;
    orders::pay(&core, &Principal::SYSTEME, order.id, "CHARGE-1").await?;
    booklets::allot(
        &core,
        &Principal::SYSTEME,
        order.id,
        prescriber.id,
        issued.premier_carnet,
        issued.dernier_carnet,
    )
    .await?;
    let hand = HandOut {
        public: "tout-public".into(),
        commune: "33063".into(),
        ..Default::default()
    };
    for numero in issued.premier_carnet..=issued.dernier_carnet {
        booklets::hand_out(&core, &Principal::SYSTEME, numero, &hand).await?;
    }
    for p in issue::codes(&core, order.id, None).await? {
        let k = (p.carnet - issued.premier_carnet) as usize;
        let rang = (p.rang.max(1) - 1) as usize;
        // Cheque `rang` of booklet `k` goes to its own place: one cheque of a
        // booklet per place, far below the daily cap per booklet and place.
        let cheque = Cheque {
            code: p.code.compact(),
            lieu: (k + rang) % usable,
        };
        if k < a.carnets_course {
            jeu.course.push(cheque);
        } else if rang < 8 {
            jeu.encaissements.push(cheque);
        } else {
            jeu.verifications.push(cheque);
        }
    }
    println!(
        "Commande n° {} : {} carnets remis, {} chèques à encaisser, {} à vérifier, {} pour la course entre instances.",
        order.id,
        total,
        jeu.encaissements.len(),
        jeu.verifications.len(),
        jeu.course.len()
    );

    for i in 0..a.comptes + 2 {
        let email = format!("compte-{i}@charge.passerelle.fr");
        let created = accounts::create_account(
            &core,
            &Principal::SYSTEME,
            NewAccount {
                organisation_id: team.id,
                email: &email,
                display_name: &format!("Compte de charge {i}"),
                role: None,
                password: None,
                with_totp: false,
            },
        )
        .await?;
        let c = Compte {
            email,
            mot_de_passe: created.generated_password.unwrap_or_default(),
        };
        if i < a.comptes {
            jeu.comptes.push(c);
        } else {
            jeu.verrouillage.push(c);
        }
    }
    println!("{} comptes à mot de passe, 2 réservés au verrouillage.", a.comptes);

    jeu.taches = prepare_jobs(&core, funder.id, prescriber.id, today, jour).await?;
    println!(
        "Commandes des tâches planifiées : n° {} et {} (expiration), n° {} et {} (alertes) ; jour des tâches : {}.",
        jeu.taches.expiree_au_demarrage,
        jeu.taches.expire_le_jour,
        jeu.taches.alerte_au_demarrage,
        jeu.taches.alerte_le_jour,
        jeu.taches.jour
    );
    jeu.lieux = lieux;
    jeu.write(&a.sortie)?;
    core.db.close().await;
    println!(
        "Jeu de données écrit dans {} en {:.1} s (clés et codes de test : ne pas diffuser).",
        a.sortie.display(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Imports `n` places of the national standard around Bordeaux, qualifies
/// them and gives each an API key.
async fn prepare_places(core: &Core, n: usize) -> Result<Vec<Lieu>> {
    use passerelle_core::lieux::import::{import, Options};
    let mut csv = String::from(
        "id,pivot,nom,commune,code_postal,code_insee,adresse,latitude,longitude,horaires,date_maj,services\n",
    );
    for i in 0..n {
        // A spiral around the centre, about 15 km across.
        let (lat, lon) = spiral(i);
        csv.push_str(&format!(
            "charge-{i},W{:09},Lieu de charge {i},Bordeaux,33000,33063,{} rue de la Charge,{lat:.5},{lon:.5},\"Mo-Sa 08:00-20:00\",2026-01-15,{SERVICE}\n",
            100_000_000 + i,
            i + 1
        ));
    }
    let options = Options {
        source: "passerelle-charge".into(),
        file_name: "charge-lieux.csv".into(),
        ignore_invalid: false,
        dry_run: false,
    };
    import(
        core,
        &Principal::SYSTEME,
        csv.as_bytes(),
        passerelle_core::lieux::read::Format::Csv,
        &options,
        |_, _| {},
    )
    .await?;
    let mut lieux = Vec::with_capacity(n);
    for i in 0..n {
        let ext_id = format!("charge-{i}");
        places::qualify(core, &Principal::SYSTEME, &ext_id).await?;
        let (_, _, cle_api) = places::new_api_key(core, &Principal::SYSTEME, &ext_id).await?;
        lieux.push(Lieu {
            ext_id,
            cle_api,
            service: SERVICE.into(),
        });
    }
    Ok(lieux)
}

/// Point `i` of a spiral around [`CENTRE`].
pub fn spiral(i: usize) -> (f64, f64) {
    let t = i as f64 * 0.7;
    let r = 0.002 * (i as f64).sqrt();
    (CENTRE.0 + r * t.sin(), CENTRE.1 + r * 1.4 * t.cos())
}

/// Four small orders (one booklet each) whose expiry or end alert falls at the
/// service's start or on `jour`, so that each job has work to do exactly once.
async fn prepare_jobs(core: &Core, funder: i64, prescriber: i64, today: Date, jour: Date) -> Result<Taches> {
    let eve = jour.yesterday().context("jour des tâches invalide")?;
    let order = |debut: Date, fin: Date| async move {
        let mut new = NewOrder::new(funder, 1, debut, fin);
        new.perimetre = vec![Territory::Departement("33".into())].into();
        new.prescripteurs = vec![prescriber];
        new.tolerance_jours = 0;
        let (o, _) = orders::create(core, &Principal::SYSTEME, &new).await?;
        issue::issue(core, &Principal::SYSTEME, o.id, |_, _| {}).await?;
        orders::pay(core, &Principal::SYSTEME, o.id, &format!("CHARGE-TACHES-{}", o.id)).await?;
        anyhow::Ok(o.id)
    };
    let before = |d: Date, n: i64| d.saturating_sub(n.days());
    let t = Taches {
        jour: jour.strftime("%Y-%m-%d").to_string(),
        expiree_au_demarrage: order(before(today, 60), before(today, 2)).await?,
        expire_le_jour: order(before(eve, 60), eve).await?,
        alerte_au_demarrage: order(before(today, 30), today.saturating_add(7.days())).await?,
        alerte_le_jour: order(before(today, 30), jour.saturating_add(30.days())).await?,
    };
    // Sanity: nothing the jobs of `jour` must do is already due today.
    let n: i64 = on_db!(&core.db, c => {
        sqlx::query_scalar("SELECT COUNT(*) FROM taches_planifiees").fetch_one(&mut *c).await?
    });
    if n > 0 {
        bail!("des tâches planifiées ont déjà tourné sur cette base : elle n'est pas neuve");
    }
    Ok(t)
}

fn first_of_next_month(d: Date) -> Date {
    let (y, m) = if d.month() == 12 {
        (d.year() + 1, 1)
    } else {
        (d.year(), d.month() + 1)
    };
    Date::new(y, m, 1).unwrap_or(d)
}

fn days(d: Date, n: i64) -> Result<Date> {
    passerelle_core::dates_fr::plus_jours(d, n).context("date hors du calendrier")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_month_wraps_the_year() {
        let d = |y, m, j| Date::new(y, m, j).unwrap();
        assert_eq!(first_of_next_month(d(2026, 12, 1)), d(2027, 1, 1));
        assert_eq!(first_of_next_month(d(2026, 1, 31)), d(2026, 2, 1));
        assert_eq!(days(d(2026, 2, 28), 1).unwrap().to_string(), "2026-03-01");
    }

    #[test]
    fn places_stay_near_the_centre() {
        for i in 0..1000 {
            let (lat, lon) = spiral(i);
            assert!((lat - CENTRE.0).abs() < 0.1 && (lon - CENTRE.1).abs() < 0.1, "{i}");
        }
    }
}
