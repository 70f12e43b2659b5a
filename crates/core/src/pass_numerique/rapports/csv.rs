//! A report as one CSV (UTF-8, comma, as the project's other CSV files):
//! `dimension,cle,libelle,carnets_remis,cheques,valeur_centimes,valeur_euros`.
//!
//! - `dimension` = `total`: one row per total, `cle` names it (`emis`, `remis`,
//!   `encaisses`, `non_utilises`, `expires`, `annules`, `carnets_perdus`,
//!   `avoirs`), `cheques` and `valeur_centimes` are its count and face value;
//! - `dimension` = `mois`, `lieu`, `commune`, `departement`, `public`: `cheques` and
//!   `valeur_centimes` are the **redeemed** cheques of the row, `carnets_remis` the
//!   booklets handed out (months and publics only; empty elsewhere).
//!
//! The rows of each dimension add up to the `encaisses` total.

use super::{Count, Report, Row};
use crate::error::{CoreError, Result};
use crate::identifiants::Centimes;

pub const HEADER: [&str; 7] = [
    "dimension",
    "cle",
    "libelle",
    "carnets_remis",
    "cheques",
    "valeur_centimes",
    "valeur_euros",
];

fn record(
    dimension: &str,
    cle: &str,
    libelle: &str,
    carnets: Option<i64>,
    cheques: Option<i64>,
    valeur: Option<Centimes>,
) -> [String; 7] {
    let text = |n: Option<i64>| n.map(|n| n.to_string()).unwrap_or_default();
    [
        dimension.to_string(),
        cle.to_string(),
        libelle.to_string(),
        text(carnets),
        text(cheques),
        text(valeur.map(Centimes::centimes)),
        valeur.map(Centimes::decimal).unwrap_or_default(),
    ]
}

pub fn csv(r: &Report) -> Result<Vec<u8>> {
    let io = |e: csv::Error| CoreError::Io(format!("rapport en CSV : {e}"));
    let mut w = crate::tableur::Csv::new(Vec::new());
    w.write_record(HEADER).map_err(io)?;
    let t = &r.totaux;
    let count = |c: Count| (Some(c.cheques), Some(c.valeur_centimes));
    let totals = [
        ("emis", "Chèques émis", Some(t.carnets_emis), count(t.emis)),
        (
            "remis",
            "Chèques remis aux bénéficiaires",
            Some(t.carnets_remis),
            count(t.remis),
        ),
        ("encaisses", "Chèques encaissés", None, count(t.encaisses)),
        ("non_utilises", "Chèques non utilisés", None, count(t.non_utilises)),
        ("expires", "Chèques expirés", None, count(t.expires)),
        ("annules", "Chèques annulés", None, count(t.annules)),
        (
            "carnets_perdus",
            "Carnets déclarés perdus",
            Some(t.carnets_perdus),
            (None, None),
        ),
        ("avoirs", "Avoirs émis", None, (None, Some(t.avoirs_centimes))),
    ];
    for (cle, libelle, carnets, (cheques, valeur)) in totals {
        w.write_record(record("total", cle, libelle, carnets, cheques, valeur))
            .map_err(io)?;
    }
    let dims: [(&str, &[Row]); 5] = [
        ("mois", &r.par_mois),
        ("lieu", &r.par_lieu),
        ("commune", &r.par_commune),
        ("departement", &r.par_departement),
        ("public", &r.par_public),
    ];
    for (dimension, rows) in dims {
        for row in rows {
            let rec = record(
                dimension,
                &row.cle,
                &row.libelle,
                row.carnets_remis,
                Some(row.encaisses),
                Some(row.valeur_encaissee_centimes),
            );
            w.write_record(rec).map_err(io)?;
        }
    }
    w.into_inner()
        .map_err(|e| CoreError::Io(format!("rapport en CSV : {e}")))
}

#[cfg(test)]
mod tests {
    use super::super::{Scope, Totals};
    use super::*;

    /// A place's id and name come from imported files, where « = », « - » or « @ » at the start
    /// is data: the funder's spreadsheet must not run them.
    #[test]
    fn place_ids_and_names_never_come_out_as_formulas() {
        let row = Row {
            cle: "-lieu".into(),
            libelle: "=HYPERLINK(\"http://x\")".into(),
            carnets_remis: None,
            encaisses: 1,
            valeur_encaissee_centimes: Centimes::new(1000),
        };
        let r = Report {
            perimetre: Scope::All,
            titre: "Toutes les commandes".into(),
            totaux: Totals::default(),
            par_mois: vec![],
            par_lieu: vec![row],
            par_commune: vec![],
            par_departement: vec![],
            par_public: vec![],
        };
        let text = String::from_utf8(csv(&r).unwrap()).unwrap();
        assert!(
            text.contains("\nlieu,'-lieu,\"'=HYPERLINK(\"\"http://x\"\")\",,1,1000,10.00\n"),
            "{text}"
        );
    }
}
