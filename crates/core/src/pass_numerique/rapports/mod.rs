//! Reports for funders: for one order, the orders of one funder, or every
//! order (the opérateur), the cheques issued, handed out, redeemed, unused,
//! expired and cancelled, and the redemptions by month, place, commune,
//! département and public. Everything is counted by the database
//! (`queries`); this module decides who sees what and names the rows.
//! The joint statement of expired cheques is in [`expires`].

pub mod csv;
pub mod expires;
pub mod expires_pdf;
mod queries;

use serde::Serialize;

use super::authz::{authorize, Action};
use super::model::Public;
use super::orders;
use crate::accounts::Principal;
use crate::accounts::Role;
use crate::error::{CoreError, Result};
use crate::identifiants::Centimes;
use crate::Core;

/// Which orders a report covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "type", content = "id")]
pub enum Scope {
    Order(i64),
    /// Every order of this funder.
    Funder(i64),
    /// Every order of every funder.
    All,
}

impl Scope {
    /// The condition on `column` (an order id) and its one parameter `$1`.
    fn filter(&self, column: &str) -> (String, i64) {
        match self {
            Scope::Order(id) => (format!("{column} = $1"), *id),
            Scope::Funder(f) => (
                format!("{column} IN (SELECT id FROM commandes WHERE commanditaire_id = $1)"),
                *f,
            ),
            // Order ids start at 1: the whole index, still one code path.
            Scope::All => (format!("{column} >= $1"), 0),
        }
    }
}

/// A number of cheques and their face value.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Count {
    pub cheques: i64,
    pub valeur_centimes: Centimes,
}

impl Count {
    fn add(&mut self, other: Count) {
        self.cheques += other.cheques;
        self.valeur_centimes += other.valeur_centimes;
    }
}

/// Where the cheques of the scope stand.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Totals {
    pub commandes: i64,
    pub carnets_emis: i64,
    pub carnets_remis: i64,
    pub carnets_perdus: i64,
    pub emis: Count,
    /// Cheques of the booklets handed out to beneficiaries.
    pub remis: Count,
    pub encaisses: Count,
    /// Still usable, or waiting for the order's payment: neither redeemed, expired nor cancelled.
    pub non_utilises: Count,
    pub expires: Count,
    /// Cancelled (lost booklets, cancelled orders).
    pub annules: Count,
    /// Credit notes issued to the funder (face value of expired and cancelled cheques).
    pub avoirs_centimes: Centimes,
}

/// One line of a breakdown: redemptions (and, by month and public, booklets handed out).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Row {
    /// `AAAA-MM`, the place's id in the standard, an INSEE code, a public's key.
    pub cle: String,
    pub libelle: String,
    /// Booklets handed out (months and publics only).
    pub carnets_remis: Option<i64>,
    pub encaisses: i64,
    pub valeur_encaissee_centimes: Centimes,
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub perimetre: Scope,
    /// « Commande n° 3 », « Département de la Gironde : toutes ses commandes »…
    pub titre: String,
    pub totaux: Totals,
    pub par_mois: Vec<Row>,
    pub par_lieu: Vec<Row>,
    pub par_commune: Vec<Row>,
    pub par_departement: Vec<Row>,
    pub par_public: Vec<Row>,
}

/// The report of one order: the opérateur, or the order's funder.
pub async fn order_report(core: &Core, who: &Principal, id: i64) -> Result<Report> {
    let order = orders::get(core, id).await?;
    authorize(
        who,
        Action::ViewOrder {
            funder: order.commanditaire_id,
        },
    )?;
    build(core, Scope::Order(id), format!("Commande n° {id}")).await
}

/// The report of a funder's orders together. A funder sees its own (`asked`
/// may only name itself); the opérateur names a funder or sees every order.
pub async fn funders_report(core: &Core, who: &Principal, asked: Option<i64>) -> Result<Report> {
    let funder = if who.role == Role::Commanditaire {
        asked.or(Some(who.organisation_id))
    } else {
        asked
    };
    authorize(who, Action::ViewReports { funder })?;
    match funder {
        None => build(core, Scope::All, "Toutes les commandes".into()).await,
        Some(f) => {
            let name = match crate::accounts::store::organisation(&core.db, f).await? {
                Some(o) if o.kind == "commanditaire" => o.name,
                _ => return Err(CoreError::NotFound(format!("commanditaire {f}"))),
            };
            build(core, Scope::Funder(f), format!("{name} : toutes ses commandes")).await
        }
    }
}

/// The funders the caller may choose between on the report page, as (id, name):
/// every funder for the opérateur; `None` for a funder, who sees only his own.
pub async fn funder_choices(core: &Core, who: &Principal) -> Result<Option<Vec<(i64, String)>>> {
    if authorize(who, Action::ViewReports { funder: None }).is_err() {
        return Ok(None);
    }
    let orgs = crate::accounts::store::organisations(&core.db).await?;
    Ok(Some(
        orgs.into_iter()
            .filter(|o| o.kind == "commanditaire")
            .map(|o| (o.id, o.name))
            .collect(),
    ))
}

/// `2026-10` → `octobre 2026`.
pub fn month_label(key: &str) -> String {
    crate::dates_fr::mois_annee(key)
}

fn public_label(key: &str) -> String {
    if key.is_empty() {
        return "Non renseigné".into();
    }
    Public::parse(key).map_or_else(|_| key.to_string(), |p| p.label().to_string())
}

/// Orders the publics as the vocabulary does; unknown keys last.
fn public_rank(key: &str) -> usize {
    Public::parse(key)
        .ok()
        .and_then(|p| Public::ALL.iter().position(|q| *q == p))
        .unwrap_or(Public::ALL.len())
}

async fn build(core: &Core, scope: Scope, titre: String) -> Result<Report> {
    let totaux = queries::totals(core, scope).await?;

    // By month: booklets handed out and redemptions, on the same months.
    let mut months: std::collections::BTreeMap<String, (i64, Count)> = Default::default();
    for (month, n) in queries::hand_outs_by_month(core, scope).await? {
        months.entry(month).or_default().0 += n;
    }
    for (month, c) in queries::redemptions_by_month(core, scope).await? {
        months.entry(month).or_default().1.add(c);
    }
    let par_mois = months
        .into_iter()
        .map(|(cle, (remis, c))| Row {
            libelle: month_label(&cle),
            cle,
            carnets_remis: Some(remis),
            encaisses: c.cheques,
            valeur_encaissee_centimes: c.valeur_centimes,
        })
        .collect();

    // By place; communes and départements regroup the places' sums (a few thousand rows at most).
    let places = queries::redemptions_by_place(core, scope).await?;
    let mut communes: std::collections::BTreeMap<(String, String), Count> = Default::default();
    let mut departements: std::collections::BTreeMap<(String, String), Count> = Default::default();
    let mut par_lieu = Vec::with_capacity(places.len());
    for p in places {
        communes
            .entry((p.code_insee.clone(), p.commune.clone()))
            .or_default()
            .add(p.count);
        departements
            .entry((p.departement.clone(), p.departement_nom.clone()))
            .or_default()
            .add(p.count);
        par_lieu.push(Row {
            cle: p.ext_id,
            libelle: p.nom,
            carnets_remis: None,
            encaisses: p.count.cheques,
            valeur_encaissee_centimes: p.count.valeur_centimes,
        });
    }
    let regroup = |m: std::collections::BTreeMap<(String, String), Count>| {
        let mut rows: Vec<Row> = m
            .into_iter()
            .map(|((cle, libelle), c)| Row {
                cle,
                libelle,
                carnets_remis: None,
                encaisses: c.cheques,
                valeur_encaissee_centimes: c.valeur_centimes,
            })
            .collect();
        rows.sort_by(|a, b| b.encaisses.cmp(&a.encaisses).then_with(|| a.cle.cmp(&b.cle)));
        rows
    };

    // By public: booklets handed out and redemptions of the booklets of each public.
    let mut publics: std::collections::BTreeMap<String, (i64, Count)> = Default::default();
    for (public, n) in queries::hand_outs_by_public(core, scope).await? {
        publics.entry(public).or_default().0 += n;
    }
    for (public, c) in queries::redemptions_by_public(core, scope).await? {
        publics.entry(public).or_default().1.add(c);
    }
    let mut par_public: Vec<Row> = publics
        .into_iter()
        .map(|(cle, (remis, c))| Row {
            libelle: public_label(&cle),
            cle,
            carnets_remis: Some(remis),
            encaisses: c.cheques,
            valeur_encaissee_centimes: c.valeur_centimes,
        })
        .collect();
    par_public.sort_by_key(|r| public_rank(&r.cle));

    Ok(Report {
        perimetre: scope,
        titre,
        totaux,
        par_mois,
        par_lieu,
        par_commune: regroup(communes),
        par_departement: regroup(departements),
        par_public,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_and_publics_read_in_french() {
        assert_eq!(month_label("2026-10"), "octobre 2026");
        assert_eq!(month_label("2027-01"), "janvier 2027");
        assert_eq!(month_label("2027-13"), "2027-13");
        assert_eq!(month_label("n'importe"), "n'importe");
        assert_eq!(public_label("seniors"), "Seniors");
        assert_eq!(public_label(""), "Non renseigné");
        assert!(public_rank("tout-public") < public_rank("minima-sociaux"));
        assert_eq!(public_rank("inconnu"), Public::ALL.len());
    }

    #[test]
    fn every_scope_binds_one_parameter() {
        assert_eq!(
            Scope::Order(3).filter("e.commande_id"),
            ("e.commande_id = $1".into(), 3)
        );
        assert_eq!(Scope::All.filter("id"), ("id >= $1".into(), 0));
        assert!(Scope::Funder(5).filter("id").0.contains("commanditaire_id = $1"));
    }
}
