//! The directory in the data·inclusion schema v1 (PyPI package `data-inclusion-schema`): one
//! structure per place, one service per service of the standard that the place offers.
//!
//! The vocabularies differ: each standard service is mapped to data·inclusion thematiques and a
//! service type, publics, fees, access modes and national programmes to their nearest value;
//! what has none (« Gratuit sous condition », « Certification PIX ») is said in words or left out,
//! never forced into a wrong value. data·inclusion wants an update date in this century and not
//! in the future: a place whose `date_maj` is a placeholder (1970-01-01) or in the future is
//! published with the day Passerelle last received it, which is true of Passerelle's record.

use std::collections::BTreeSet;

use jiff::civil::Date;
use serde::Serialize;

use super::schema::standard;
use super::store::{self, Value};
use crate::db::Db;
use crate::error::Result;
use crate::on_db;

/// The producer's identifier in data·inclusion (`source`), and the prefix of every `id`.
pub const SOURCE: &str = "passerelle";

/// A structure of data·inclusion v1 (the fields Passerelle fills).
#[derive(Debug, Clone, Serialize)]
pub struct Structure {
    pub source: &'static str,
    pub id: String,
    pub nom: String,
    pub date_maj: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lien_source: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub siret: Option<String>,
    #[serde(flatten)]
    pub lieu: Localisation,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub site_web: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub accessibilite_lieu: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reseaux_porteurs: Option<BTreeSet<&'static str>>,
}

/// What a structure and its services share: where, how to reach, when.
#[derive(Debug, Clone, Serialize)]
pub struct Localisation {
    pub commune: String,
    pub code_postal: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code_insee: Option<String>,
    pub adresse: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub complement_adresse: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub longitude: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latitude: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub telephone: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub courriel: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub horaires_accueil: Option<String>,
}

/// A service of data·inclusion v1 (the fields Passerelle fills).
#[derive(Debug, Clone, Serialize)]
pub struct Service {
    pub source: &'static str,
    pub structure_id: String,
    pub id: String,
    pub nom: String,
    pub description: String,
    pub date_maj: String,
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub thematiques: BTreeSet<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub frais: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub frais_precisions: Option<String>,
    pub publics: BTreeSet<&'static str>,
    #[serde(flatten)]
    pub lieu: Localisation,
    pub modes_accueil: BTreeSet<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lien_mobilisation: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub modes_mobilisation: Option<BTreeSet<&'static str>>,
    pub mobilisable_par: BTreeSet<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lien_source: Option<String>,
}

/// The whole directory in data·inclusion v1.
#[derive(Debug, Default)]
pub struct Export {
    pub structures: Vec<Structure>,
    pub services: Vec<Service>,
    /// Places left out, with why (a name data·inclusion refuses).
    pub ecartes: Vec<(String, String)>,
}

/// A standard service → (data·inclusion service type, thematiques).
fn service_map(label: &str) -> Option<(&'static str, &'static [&'static str])> {
    Some(match label {
        "Aide aux démarches administratives" => (
            "accompagnement",
            &[
                "numerique--acceder-a-des-services-en-ligne",
                "difficultes-administratives-ou-juridiques--accompagnement-pour-lacces-aux-droits",
            ],
        ),
        "Maîtrise des outils numériques du quotidien" => {
            ("formation", &["numerique--maitriser-les-fondamentaux-du-numerique"])
        }
        "Insertion professionnelle via le numérique" => (
            "accompagnement",
            &[
                "preparer-sa-candidature--realiser-un-cv-et-ou-une-lettre-de-motivation",
                "trouver-un-emploi--repondre-a-des-offres-demploi",
            ],
        ),
        "Utilisation sécurisée du numérique" => {
            ("formation", &["numerique--maitriser-les-fondamentaux-du-numerique"])
        }
        "Parentalité et éducation avec le numérique" => {
            ("atelier", &["famille--soutien-a-la-parentalite-et-a-leducation"])
        }
        "Loisirs et créations numériques" => ("atelier", &["numerique--maitriser-les-fondamentaux-du-numerique"]),
        "Compréhension du monde numérique" => {
            ("information", &["numerique--maitriser-les-fondamentaux-du-numerique"])
        }
        "Accès internet et matériel informatique" => {
            ("aide-materielle", &["numerique--acceder-a-une-connexion-internet"])
        }
        "Acquisition de matériel informatique à prix solidaire" => {
            ("aide-materielle", &["numerique--acquerir-un-equipement"])
        }
        _ => return None,
    })
}

fn public_map(label: &str) -> Option<&'static str> {
    Some(match label {
        "Jeunes" => "jeunes",
        "Étudiants" => "etudiants",
        "Familles et/ou enfants" => "familles",
        "Seniors" => "seniors",
        "Femmes" => "femmes",
        _ => return None,
    })
}

fn reseau_map(label: &str) -> Option<&'static str> {
    Some(match label {
        "Aidants Connect" => "aidants-connect",
        "Conseillers numériques" => "conseillers-numeriques",
        "France Services" => "france-service",
        "Grande école du numérique" => "grandes-ecoles-du-numerique",
        "La Croix Rouge" => "croix-rouge",
        "Point d'accès numérique CAF" => "caf",
        "Emmaüs Connect" | "Relais numérique (Emmaüs Connect)" => "emmaus",
        _ => return None,
    })
}

fn mobilisation_map(label: &str) -> Option<&'static str> {
    Some(match label {
        "Se présenter" => "se-presenter",
        "Téléphoner" => "telephoner",
        "Contacter par mail" | "Envoyer un mail avec une fiche de prescription" => "envoyer-un-courriel",
        "Prendre un RDV en ligne" => "utiliser-lien-mobilisation",
        _ => return None,
    })
}

/// One place's standard values, by field name.
struct Fields<'a>(&'a [Value]);

impl Fields<'_> {
    fn text(&self, name: &str) -> &str {
        match standard().position(name).and_then(|i| self.0.get(i)) {
            Some(Value::Text(t)) => t.trim(),
            _ => "",
        }
    }

    fn opt(&self, name: &str) -> Option<String> {
        Some(self.text(name)).filter(|t| !t.is_empty()).map(str::to_string)
    }

    fn number(&self, name: &str) -> Option<f64> {
        match standard().position(name).and_then(|i| self.0.get(i)) {
            Some(Value::Number(n)) => *n,
            _ => None,
        }
    }

    fn list(&self, name: &str) -> Vec<&str> {
        self.text(name)
            .split('|')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .collect()
    }
}

/// A name as data·inclusion takes it: 3 to 150 characters (a longer one is cut with « … »).
fn nom(text: &str) -> Option<String> {
    let n = text.chars().count();
    if n < 3 {
        return None;
    }
    Some(if n > 150 {
        format!("{}…", text.chars().take(149).collect::<String>().trim_end())
    } else {
        text.to_string()
    })
}

/// The latest `date_maj` data·inclusion accepts: today, for a validator whose clock may be on
/// UTC. From midnight in Paris to midnight UTC (one or two hours a day), Paris is already on
/// the next day: a place updated then gets the UTC date, the day before, rather than a date
/// data·inclusion refuses as « dans le futur ».
pub fn latest_day(h: &crate::horloge::Horloge) -> Date {
    h.today_paris().min(h.today_utc())
}

/// The update date data·inclusion accepts (from 2000-01-01 to today), else the day Passerelle
/// last received the place.
fn date_maj(given: &str, received: Date, today: Date) -> String {
    let ok = crate::dates_fr::jour_iso(given).filter(|d| d.year() >= 2000 && *d <= today);
    crate::dates_fr::iso(ok.unwrap_or(received.min(today)))
}

/// The directory in data·inclusion v1. `base_url` (the service's public address) gives each
/// structure and service its `lien_source`, the place's page.
pub async fn build(db: &Db, base_url: Option<&str>, today: Date) -> Result<Export> {
    let rows = store::standard_rows(db).await?;
    // When Passerelle last received each place (read apart: matched by id, not by position).
    let received: std::collections::HashMap<String, i64> = on_db!(db, c => {
        sqlx::query_as::<_, (String, i64)>("SELECT ext_id, updated_at FROM lieux").fetch_all(&mut *c).await?
    })
    .into_iter()
    .collect();
    let mut out = Export::default();
    for values in &rows {
        let f = Fields(values);
        let ext_id = f.text("id").to_string();
        let received_day = received
            .get(&ext_id)
            .map_or(today, |&us| crate::horloge::paris_of(us).date());
        let Some(nom_structure) = nom(f.text("nom")) else {
            out.ecartes.push((ext_id, "nom de moins de 3 caractères".into()));
            continue;
        };
        let id = format!("{SOURCE}--{ext_id}");
        let date = date_maj(f.text("date_maj"), received_day, today);
        let lien = base_url.map(|b| {
            let encoded: String = url::form_urlencoded::byte_serialize(ext_id.as_bytes()).collect();
            format!("{}/lieux/{encoded}", b.trim_end_matches('/'))
        });
        let description = [f.text("presentation_resume"), f.text("presentation_detail")]
            .into_iter()
            .find(|d| d.chars().count() >= 5)
            .map(|d| d.chars().take(10_000).collect::<String>());
        let lieu = Localisation {
            commune: f.text("commune").to_string(),
            code_postal: f.text("code_postal").to_string(),
            code_insee: f.opt("code_insee"),
            adresse: f.text("adresse").to_string(),
            complement_adresse: f.opt("complement_adresse"),
            longitude: f.number("longitude"),
            latitude: f.number("latitude"),
            telephone: f.opt("telephone"),
            courriel: f.list("courriels").first().map(|s| s.to_string()),
            horaires_accueil: f.opt("horaires"),
        };
        let siret = Some(f.text("pivot"))
            .filter(|p| crate::identifiants::Siret::parse(p).is_ok())
            .map(str::to_string);
        let reseaux: BTreeSet<&str> = f
            .list("dispositif_programmes_nationaux")
            .into_iter()
            .filter_map(reseau_map)
            .collect();
        out.structures.push(Structure {
            source: SOURCE,
            id: id.clone(),
            nom: nom_structure.clone(),
            date_maj: date.clone(),
            description: description.clone(),
            lien_source: lien.clone(),
            siret,
            lieu: lieu.clone(),
            site_web: f.list("site_web").first().map(|s| s.to_string()),
            accessibilite_lieu: f.opt("fiche_acces_libre"),
            reseaux_porteurs: (!reseaux.is_empty()).then_some(reseaux),
        });

        let publics: BTreeSet<&str> = f
            .list("publics_specifiquement_adresses")
            .into_iter()
            .filter_map(public_map)
            .collect();
        let publics = if publics.is_empty() {
            BTreeSet::from(["tous-publics"])
        } else {
            publics
        };
        let frais_list = f.list("frais_a_charge");
        let (frais, frais_precisions) = match frais_list.as_slice() {
            [] => (None, None),
            ["Gratuit"] => (Some("gratuit"), None),
            ["Payant"] => (Some("payant"), None),
            many => (many.contains(&"Payant").then_some("payant"), Some(many.join(", "))),
        };
        let acces = f.list("modalites_acces");
        let sans_public = acces.contains(&"Ce lieu n'accueille pas de public");
        let mut modes_accueil = BTreeSet::new();
        if !sans_public {
            modes_accueil.insert("en-presentiel");
        }
        if sans_public || f.list("modalites_accompagnement").contains(&"À distance") {
            modes_accueil.insert("a-distance");
        }
        let rdv = f.list("prise_rdv").first().map(|s| s.to_string());
        let mobilisation: BTreeSet<&str> = acces
            .iter()
            .filter_map(|a| mobilisation_map(a))
            .filter(|m| *m != "utiliser-lien-mobilisation" || rdv.is_some())
            .collect();
        let mut mobilisable_par = BTreeSet::from(["usagers"]);
        if acces.contains(&"Envoyer un mail avec une fiche de prescription") {
            mobilisable_par.insert("professionnels");
        }
        for label in f.list("services") {
            let Some((kind, thematiques)) = service_map(label) else {
                continue;
            };
            let slug = crate::lieux::model::fold(label).replace(' ', "-");
            out.services.push(Service {
                source: SOURCE,
                structure_id: id.clone(),
                id: format!("{id}--{slug}"),
                nom: nom(label).unwrap_or_else(|| label.to_string()),
                description: match &description {
                    Some(d) => format!("{label} à {nom_structure}. {d}"),
                    None => format!("{label} à {nom_structure}."),
                }
                .chars()
                .take(10_000)
                .collect(),
                date_maj: date.clone(),
                kind,
                thematiques: thematiques.iter().copied().collect(),
                frais,
                frais_precisions: frais_precisions.clone(),
                publics: publics.clone(),
                lieu: lieu.clone(),
                modes_accueil: modes_accueil.clone(),
                lien_mobilisation: rdv.clone(),
                modes_mobilisation: (!mobilisation.is_empty()).then(|| mobilisation.clone()),
                mobilisable_par: mobilisable_par.clone(),
                lien_source: lien.clone(),
            });
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_dates_as_data_inclusion_takes_them() {
        assert_eq!(nom("EPN"), Some("EPN".into()));
        assert_eq!(nom("La"), None);
        let long = "x".repeat(200);
        let cut = nom(&long).unwrap_or_default();
        assert_eq!(cut.chars().count(), 150);
        assert!(cut.ends_with('…'));
        let today = jiff::civil::date(2026, 12, 7);
        let received = jiff::civil::date(2026, 3, 2);
        assert_eq!(date_maj("2025-06-01", received, today), "2025-06-01");
        assert_eq!(date_maj("1970-01-01", received, today), "2026-03-02");
        assert_eq!(date_maj("2031-01-01", received, today), "2026-03-02");
        assert_eq!(date_maj("", received, today), "2026-03-02");
    }

    #[test]
    fn the_latest_day_is_never_ahead_of_utc() {
        use crate::horloge::{Horloge, Reglage};
        let at = |t: &str| Horloge::reglee(Reglage::Fixe(t.parse().unwrap()));
        // 23:45 UTC is 00:45 the next day in Paris (winter): the UTC day.
        assert_eq!(latest_day(&at("2026-12-07T23:45:00Z")), jiff::civil::date(2026, 12, 7));
        // 22:30 UTC in summer is 00:30 in Paris.
        assert_eq!(latest_day(&at("2026-07-14T22:30:00Z")), jiff::civil::date(2026, 7, 14));
        // The rest of the day, both agree.
        assert_eq!(latest_day(&at("2026-12-07T12:00:00Z")), jiff::civil::date(2026, 12, 7));
        assert_eq!(latest_day(&at("2026-12-08T00:30:00Z")), jiff::civil::date(2026, 12, 8));
    }

    #[test]
    fn every_value_of_the_standard_has_its_place_or_is_knowingly_left_out() {
        use crate::lieux::vocabulaires::{labels, Services};
        for s in Services::ALL {
            assert!(service_map(s.label()).is_some(), "{}", s.label());
        }
        for p in labels("publics_specifiquement_adresses").unwrap_or_default() {
            assert!(public_map(p).is_some(), "{p}");
        }
        // Programmes with no data·inclusion network: left out.
        let without = [
            "Bibliothèques numérique de référence",
            "Certification PIX",
            "Promeneurs du net",
        ];
        for d in labels("dispositif_programmes_nationaux").unwrap_or_default() {
            assert_eq!(reseau_map(d).is_none(), without.contains(d), "{d}");
        }
        let none = ["Ce lieu n'accueille pas de public"];
        for m in labels("modalites_acces").unwrap_or_default() {
            assert_eq!(mobilisation_map(m).is_none(), none.contains(m), "{m}");
        }
    }
}
