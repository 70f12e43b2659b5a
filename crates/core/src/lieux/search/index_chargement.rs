//! Loading a snapshot from the database: the places, streamed, and the
//! official communes.

use sqlx::Row as _;

use super::super::communes::Commune;
use super::super::Communes;
use super::{mask, Entry, Index, Row};
use crate::db::Db;
use crate::error::Result;
use crate::lieux::fuseau;
use crate::lieux::model::fold;
use crate::lieux::vocabulaires::{DispositifProgrammesNationaux, PublicsSpecifiquementAdresses, Services};
use crate::on_db;

impl Index {
    pub(in crate::lieux::search) async fn load(db: &Db, version: Option<String>) -> Result<Index> {
        let sql = "SELECT ext_id, nom, adresse, code_postal, commune, latitude, longitude, services, \
                   publics_specifiquement_adresses, dispositif_programmes_nationaux, pass_numerique, horaires, telephone, \
                   code_insee FROM lieux";
        let rows = on_db!(db, c => {
            // Streamed, so that the database rows are never all held at once.
            let mut rows = sqlx::query(sql).fetch(&mut *c);
            let mut out = Vec::new();
            while let Some(r) = futures_util::TryStreamExt::try_next(&mut rows).await? {
                let nom: String = r.try_get(1)?;
                let code_postal: String = r.try_get(3)?;
                let commune: String = r.try_get(4)?;
                let (latitude, longitude): (Option<f64>, Option<f64>) = (r.try_get(5)?, r.try_get(6)?);
                let located = latitude.is_some() && longitude.is_some();
                out.push(Row {
                    entry: Entry {
                        ext_id: r.try_get(0)?,
                        adresse: r.try_get(2)?,
                        latitude: latitude.filter(|_| located),
                        longitude: longitude.filter(|_| located),
                        services: mask(Services::ALL, &r.try_get::<String, _>(7)?, Services::from_label),
                        dispositifs: mask(DispositifProgrammesNationaux::ALL, &r.try_get::<String, _>(9)?, DispositifProgrammesNationaux::from_label),
                        pass_numerique: r.try_get(10)?,
                        hours: 0,
                        zone: fuseau::of_place(None, &code_postal),
                        services_json: 0,
                        dispositifs_json: 0,
                        telephone: r.try_get(12)?,
                        code_insee: r.try_get(13)?,
                        folded: format!("{} {} {}", fold(&nom), fold(&commune), code_postal),
                        commune_folded: fold(&commune),
                        json: None,
                        nom,
                        code_postal,
                        commune,
                    },
                    publics: mask(PublicsSpecifiquementAdresses::ALL, &r.try_get::<String, _>(8)?, PublicsSpecifiquementAdresses::from_label),
                    horaires: r.try_get(11)?,
                });
            }
            out
        });
        Ok(Index::new(version, rows).with_communes(load_communes(db).await?))
    }
}

/// The official communes (empty until the territories are loaded).
async fn load_communes(db: &Db) -> Result<Communes> {
    let sql = "SELECT c.code, c.nom, c.departement, COALESCE(d.nom, ''), c.codes_postaux, COALESCE(c.population, 0), \
               c.commune_parente, c.epci, COALESCE(e.nom, '') FROM territoires_communes c \
               LEFT JOIN territoires_departements d ON d.code = c.departement \
               LEFT JOIN territoires_epci e ON e.code = c.epci";
    type Raw = (String, String, String, String, String, i64, String, String, String);
    let rows: Vec<Raw> = on_db!(db, c => sqlx::query_as(sql).fetch_all(&mut *c).await?);
    Ok(Communes::new(
        rows.into_iter()
            .map(
                |(code, nom, departement, departement_nom, cps, population, parente, epci, epci_nom)| Commune {
                    code,
                    nom,
                    departement,
                    departement_nom,
                    codes_postaux: cps.split('|').filter(|s| !s.is_empty()).map(str::to_string).collect(),
                    population,
                    parente,
                    epci,
                    epci_nom,
                },
            )
            .collect(),
    ))
}
