//! The figures of a digest, all counted by the database (the same SQL on both
//! engines). Funders: cheques of their orders issued, handed out, redeemed and
//! expired, in the month and since the beginning. Hubs: per département they
//! cover, places, qualified places, applications filed, accompaniments and
//! cheques redeemed there.

use std::collections::BTreeMap;

use super::mois::Mois;
use crate::db::Tx;
use crate::error::Result;
use crate::identifiants::Centimes;
use crate::on_tx;

/// A number of cheques and their face value (cents).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Compte {
    pub cheques: i64,
    pub centimes: Centimes,
}

/// One figure in the month and cumulated up to its end.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Ligne {
    pub mois: Compte,
    pub cumul: Compte,
}

/// A funder's digest.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Commanditaire {
    pub organisation: String,
    /// Orders issued by the end of the month.
    pub commandes: i64,
    pub emis: Ligne,
    /// Cheques of the booklets handed out to beneficiaries.
    pub distribues: Ligne,
    pub encaisses: Ligne,
    pub expires: Ligne,
}

impl Commanditaire {
    /// Redemption rate: cheques redeemed / cheques handed out, both cumulated,
    /// in tenths of a percent (`None` before any hand-out).
    pub fn taux_pour_mille(&self) -> Option<i64> {
        let d = self.distribues.cumul.cheques;
        (d > 0).then(|| (self.encaisses.cumul.cheques * 1000 + d / 2) / d)
    }
}

/// One département of a hub.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Departement {
    pub code: String,
    pub nom: String,
    pub lieux: i64,
    pub lieux_qualifies: i64,
    /// Qualification applications filed in the month.
    pub demandes: i64,
    /// Accompaniments recorded for the month, their minutes and the persons helped.
    pub accompagnements: i64,
    pub minutes: i64,
    pub personnes: i64,
    /// Cheques redeemed in the month at places of the département.
    pub encaisses: Compte,
}

/// A hub's digest: its départements, and their sum.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Hub {
    pub organisation: String,
    pub departements: Vec<Departement>,
    pub total: Departement,
}

async fn compte(tx: &mut Tx, sql: &str, org: i64, from: Bound<'_>, to: Bound<'_>) -> Result<Compte> {
    let (cheques, centimes): (i64, Centimes) = on_tx!(tx, c => {
        let q = sqlx::query_as(sql).bind(org);
        let q = match from { Bound::Micros(v) => q.bind(v), Bound::Jour(v) => q.bind(v) };
        let q = match to { Bound::Micros(v) => q.bind(v), Bound::Jour(v) => q.bind(v) };
        q.fetch_one(&mut *c).await?
    });
    Ok(Compte { cheques, centimes })
}

#[derive(Clone, Copy)]
enum Bound<'a> {
    Micros(i64),
    Jour(&'a str),
}

async fn ligne(tx: &mut Tx, sql: &str, org: i64, m: &Mois, days: bool) -> Result<Ligne> {
    let (from, start, end) = if days {
        (
            Bound::Jour(""),
            Bound::Jour(&m.premier_jour),
            Bound::Jour(&m.premier_jour_suivant),
        )
    } else {
        (
            Bound::Micros(i64::MIN),
            Bound::Micros(m.debut_micros),
            Bound::Micros(m.fin_micros),
        )
    };
    Ok(Ligne {
        mois: compte(tx, sql, org, start, end).await?,
        cumul: compte(tx, sql, org, from, end).await?,
    })
}

const SUM: &str = "CAST(COALESCE(SUM(ch.valeur_centimes), 0) AS BIGINT)";

async fn organisation_name(tx: &mut Tx, id: i64) -> Result<String> {
    let name: Option<String> = on_tx!(tx, c => {
        sqlx::query_scalar("SELECT name FROM organisations WHERE id = $1").bind(id).fetch_optional(&mut *c).await?
    });
    Ok(name.unwrap_or_default())
}

/// The digest of month `m` for the funder `org`.
pub async fn commanditaire(tx: &mut Tx, org: i64, m: &Mois) -> Result<Commanditaire> {
    let emis = format!(
        "SELECT COUNT(*), {SUM} FROM cheques ch JOIN commandes c ON c.id = ch.commande_id \
         WHERE c.commanditaire_id = $1 AND c.emise_at >= $2 AND c.emise_at < $3"
    );
    let distribues = format!(
        "SELECT COUNT(*), {SUM} FROM cheques ch JOIN carnets k ON k.numero = ch.carnet_id \
         JOIN commandes c ON c.id = k.commande_id \
         WHERE c.commanditaire_id = $1 AND k.remis_at >= $2 AND k.remis_at < $3"
    );
    let encaisses = "SELECT COUNT(*), CAST(COALESCE(SUM(e.valeur_centimes), 0) AS BIGINT) FROM encaissements e \
                     JOIN commandes c ON c.id = e.commande_id \
                     WHERE c.commanditaire_id = $1 AND e.annule_at IS NULL AND e.jour >= $2 AND e.jour < $3";
    let expires = format!(
        "SELECT COUNT(*), {SUM} FROM cheques ch JOIN commandes c ON c.id = ch.commande_id \
         WHERE c.commanditaire_id = $1 AND ch.etat = 'expire' AND ch.updated_at >= $2 AND ch.updated_at < $3"
    );
    let commandes: i64 = on_tx!(&mut *tx, c => {
        sqlx::query_scalar("SELECT COUNT(*) FROM commandes WHERE commanditaire_id = $1 AND emise_at < $2")
            .bind(org).bind(m.fin_micros).fetch_one(&mut *c).await?
    });
    Ok(Commanditaire {
        organisation: organisation_name(tx, org).await?,
        commandes,
        emis: ligne(tx, &emis, org, m, false).await?,
        distribues: ligne(tx, &distribues, org, m, false).await?,
        encaisses: ligne(tx, encaisses, org, m, true).await?,
        expires: ligne(tx, &expires, org, m, false).await?,
    })
}

const OF_HUB: &str = "IN (SELECT departement FROM hub_departements WHERE organisation_id = $1)";

async fn per_departement(tx: &mut Tx, sql: &str, org: i64, m: Option<&Mois>) -> Result<BTreeMap<String, i64>> {
    let rows: Vec<(String, i64)> = on_tx!(tx, c => {
        let q = sqlx::query_as(sql).bind(org);
        let q = match m { Some(m) => q.bind(m.debut_micros).bind(m.fin_micros), None => q };
        q.fetch_all(&mut *c).await?
    });
    Ok(rows.into_iter().collect())
}

/// The digest of month `m` for the hub `org`, per département it covers (all
/// of them, zeros included).
pub async fn hub(tx: &mut Tx, org: i64, m: &Mois) -> Result<Hub> {
    let departements: Vec<(String, String)> = on_tx!(&mut *tx, c => {
        sqlx::query_as(
            "SELECT h.departement, COALESCE(t.nom, '') FROM hub_departements h \
             LEFT JOIN territoires_departements t ON t.code = h.departement \
             WHERE h.organisation_id = $1 ORDER BY h.departement",
        )
        .bind(org)
        .fetch_all(&mut *c)
        .await?
    });
    let lieux = per_departement(
        tx,
        &format!("SELECT departement, COUNT(*) FROM lieux WHERE departement {OF_HUB} GROUP BY departement"),
        org,
        None,
    )
    .await?;
    let qualifies = per_departement(
        tx,
        &format!(
            "SELECT l.departement, COUNT(DISTINCT q.lieu_id) FROM qualifications q JOIN lieux l ON l.id = q.lieu_id \
             WHERE q.etat = 'active' AND l.departement {OF_HUB} GROUP BY l.departement"
        ),
        org,
        None,
    )
    .await?;
    let demandes = per_departement(
        tx,
        &format!(
            "SELECT l.departement, COUNT(*) FROM demandes_qualification d JOIN lieux l ON l.id = d.lieu_id \
             WHERE d.deposee_at >= $2 AND d.deposee_at < $3 AND l.departement {OF_HUB} GROUP BY l.departement"
        ),
        org,
        Some(m),
    )
    .await?;
    let activite_sql = format!(
        "SELECT departement, COUNT(*), CAST(COALESCE(SUM(duree_minutes), 0) AS BIGINT), \
         CAST(COALESCE(SUM(participants), 0) AS BIGINT) FROM activites \
         WHERE mois = $2 AND departement {OF_HUB} GROUP BY departement"
    );
    let activites: Vec<(String, i64, i64, i64)> = on_tx!(&mut *tx, c => {
        sqlx::query_as(&activite_sql).bind(org).bind(&m.cle).fetch_all(&mut *c).await?
    });
    let encaisses_sql = format!(
        "SELECT l.departement, COUNT(*), CAST(COALESCE(SUM(e.valeur_centimes), 0) AS BIGINT) FROM encaissements e \
         JOIN lieux l ON l.id = e.lieu_id WHERE e.annule_at IS NULL AND e.jour >= $2 AND e.jour < $3 \
         AND l.departement {OF_HUB} GROUP BY l.departement"
    );
    let encaisses: Vec<(String, i64, Centimes)> = on_tx!(&mut *tx, c => {
        sqlx::query_as(&encaisses_sql)
            .bind(org).bind(&m.premier_jour).bind(&m.premier_jour_suivant)
            .fetch_all(&mut *c).await?
    });
    let activites: BTreeMap<_, _> = activites.into_iter().map(|(d, n, min, p)| (d, (n, min, p))).collect();
    let encaisses: BTreeMap<_, _> = encaisses.into_iter().map(|(d, n, v)| (d, (n, v))).collect();
    let mut out = Hub {
        organisation: organisation_name(tx, org).await?,
        ..Default::default()
    };
    out.total.nom = "Total".into();
    for (code, nom) in departements {
        let get = |m: &BTreeMap<String, i64>| m.get(&code).copied().unwrap_or(0);
        let (accompagnements, minutes, personnes) = activites.get(&code).copied().unwrap_or_default();
        let (cheques, centimes) = encaisses.get(&code).copied().unwrap_or_default();
        let d = Departement {
            lieux: get(&lieux),
            lieux_qualifies: get(&qualifies),
            demandes: get(&demandes),
            accompagnements,
            minutes,
            personnes,
            encaisses: Compte { cheques, centimes },
            code,
            nom,
        };
        let t = &mut out.total;
        t.lieux += d.lieux;
        t.lieux_qualifies += d.lieux_qualifies;
        t.demandes += d.demandes;
        t.accompagnements += d.accompagnements;
        t.minutes += d.minutes;
        t.personnes += d.personnes;
        t.encaisses.cheques += d.encaisses.cheques;
        t.encaisses.centimes += d.encaisses.centimes;
        out.departements.push(d);
    }
    Ok(out)
}
