//! A place, typed, with every field of the standard and what Passerelle adds.

use super::schema::standard;
use super::vocabulaires::*;
use crate::identifiants::{CodeInsee, CodePostal};
use std::borrow::Cow;

/// The standard's fields of a place, typed. Multi-valued fields are vectors of
/// the generated vocabulary enums (joined with `|` in the standard).
#[derive(Debug, Clone, PartialEq)]
pub struct Lieu {
    pub id: String,
    pub pivot: String,
    pub nom: String,
    pub commune: String,
    pub code_postal: CodePostal,
    pub code_insee: Option<CodeInsee>,
    pub adresse: String,
    pub complement_adresse: Option<String>,
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
    pub typologie: Vec<String>,
    pub telephone: Option<String>,
    pub courriels: Vec<String>,
    pub site_web: Vec<String>,
    pub horaires: Option<String>,
    pub presentation_resume: Option<String>,
    pub presentation_detail: Option<String>,
    pub source: Option<String>,
    pub itinerance: Vec<Itinerance>,
    pub structure_parente: Option<String>,
    pub date_maj: jiff::civil::Date,
    pub services: Vec<Services>,
    pub publics_specifiquement_adresses: Vec<PublicsSpecifiquementAdresses>,
    pub prise_en_charge_specifique: Vec<PriseEnChargeSpecifique>,
    pub frais_a_charge: Vec<FraisACharge>,
    pub dispositif_programmes_nationaux: Vec<DispositifProgrammesNationaux>,
    pub formations_labels: Vec<FormationsLabels>,
    pub autres_formations_labels: Option<String>,
    pub modalites_acces: Vec<ModalitesAcces>,
    pub modalites_accompagnement: Vec<ModalitesAccompagnement>,
    pub fiche_acces_libre: Option<String>,
    pub prise_rdv: Option<String>,
}

fn join<T: Copy>(v: &[T], label: fn(T) -> &'static str) -> Cow<'static, str> {
    match v {
        [] => Cow::Borrowed(""),
        [one] => Cow::Borrowed(label(*one)),
        _ => Cow::Owned(v.iter().map(|x| label(*x)).collect::<Vec<_>>().join("|")),
    }
}

fn opt(v: &Option<String>) -> Cow<'_, str> {
    Cow::Borrowed(v.as_deref().unwrap_or_default())
}

fn strings(v: &[String]) -> Cow<'_, str> {
    match v {
        [] => Cow::Borrowed(""),
        [one] => Cow::Borrowed(one.as_str()),
        _ => Cow::Owned(v.join("|")),
    }
}

fn number(v: Option<f64>) -> Cow<'static, str> {
    v.map(|x| Cow::Owned(format!("{x}"))).unwrap_or_default()
}

impl Lieu {
    /// The standard's values of this place, in the schema's field order, as text
    /// (`|`-joined lists, empty string for an absent value).
    /// `date_maj` as the standard writes it (`AAAA-MM-JJ`).
    pub fn date_maj_text(&self) -> String {
        crate::dates_fr::iso(self.date_maj)
    }

    pub fn standard_values(&self) -> Vec<(&'static str, Cow<'_, str>)> {
        let date = self.date_maj_text();
        let values: Vec<(&'static str, Cow<'_, str>)> = vec![
            ("id", Cow::Borrowed(self.id.as_str())),
            ("pivot", Cow::Borrowed(self.pivot.as_str())),
            ("nom", Cow::Borrowed(self.nom.as_str())),
            ("commune", Cow::Borrowed(self.commune.as_str())),
            ("code_postal", Cow::Borrowed(self.code_postal.as_str())),
            (
                "code_insee",
                Cow::Borrowed(self.code_insee.as_ref().map_or("", CodeInsee::as_str)),
            ),
            ("adresse", Cow::Borrowed(self.adresse.as_str())),
            ("complement_adresse", opt(&self.complement_adresse)),
            ("latitude", number(self.latitude)),
            ("longitude", number(self.longitude)),
            ("typologie", strings(&self.typologie)),
            ("telephone", opt(&self.telephone)),
            ("courriels", strings(&self.courriels)),
            ("site_web", strings(&self.site_web)),
            ("horaires", opt(&self.horaires)),
            ("presentation_resume", opt(&self.presentation_resume)),
            ("presentation_detail", opt(&self.presentation_detail)),
            ("source", opt(&self.source)),
            ("itinerance", join(&self.itinerance, Itinerance::label)),
            ("structure_parente", opt(&self.structure_parente)),
            ("date_maj", Cow::Owned(date)),
            ("services", join(&self.services, Services::label)),
            (
                "publics_specifiquement_adresses",
                join(
                    &self.publics_specifiquement_adresses,
                    PublicsSpecifiquementAdresses::label,
                ),
            ),
            (
                "prise_en_charge_specifique",
                join(&self.prise_en_charge_specifique, PriseEnChargeSpecifique::label),
            ),
            ("frais_a_charge", join(&self.frais_a_charge, FraisACharge::label)),
            (
                "dispositif_programmes_nationaux",
                join(
                    &self.dispositif_programmes_nationaux,
                    DispositifProgrammesNationaux::label,
                ),
            ),
            (
                "formations_labels",
                join(&self.formations_labels, FormationsLabels::label),
            ),
            ("autres_formations_labels", opt(&self.autres_formations_labels)),
            ("modalites_acces", join(&self.modalites_acces, ModalitesAcces::label)),
            (
                "modalites_accompagnement",
                join(&self.modalites_accompagnement, ModalitesAccompagnement::label),
            ),
            ("fiche_acces_libre", opt(&self.fiche_acces_libre)),
            ("prise_rdv", opt(&self.prise_rdv)),
        ];
        debug_assert!(values.iter().map(|(n, _)| *n).eq(standard().names()));
        values
    }

    /// A stable digest of the standard's values: equal digests mean nothing to update.
    pub fn digest(&self) -> String {
        use sha2::{Digest, Sha256};
        let mut h = Sha256::new();
        for (name, value) in self.standard_values() {
            h.update(name.as_bytes());
            h.update([0]);
            h.update(value.as_bytes());
            h.update([0]);
        }
        hex::encode(&h.finalize()[..16])
    }

    /// Key used to spot the same place under two ids: normalised name, address and postcode.
    pub fn dedup_key(&self) -> String {
        format!("{}|{}|{}", fold(&self.nom), fold(&self.adresse), self.code_postal)
    }
}

/// Lower-case ASCII letters and digits only, single spaces (for comparisons).
pub fn fold(s: &str) -> String {
    let mapped: String = s
        .chars()
        .flat_map(|c| c.to_lowercase())
        .map(|c| match c {
            'à' | 'â' | 'ä' => 'a',
            'é' | 'è' | 'ê' | 'ë' => 'e',
            'î' | 'ï' => 'i',
            'ô' | 'ö' => 'o',
            'ù' | 'û' | 'ü' => 'u',
            'ç' => 'c',
            c if c.is_ascii_alphanumeric() => c,
            _ => ' ',
        })
        .collect();
    mapped.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Département code of a place: from its INSEE code, else from its postcode
/// (see [`CodePostal::departement`]).
pub fn departement<'a>(code_insee: Option<&'a CodeInsee>, code_postal: &'a CodePostal) -> &'a str {
    code_insee.map_or_else(|| code_postal.departement(), CodeInsee::departement)
}

/// A set of services of the standard, as a place offers them or an order
/// allows them: read once (import, form, command line, database) and checked
/// as this set; stored as the standard writes it, labels joined by `|`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListeServices(Vec<Services>);

crate::texte_lu_en_base!(ListeServices, ListeServices::parse);

impl ListeServices {
    /// Labels of the standard joined by `|` (blanks around each ignored);
    /// empty text gives an empty set; an unknown label is refused.
    pub fn parse(text: &str) -> crate::error::Result<ListeServices> {
        text.split('|')
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(|l| {
                Services::from_label(l)
                    .ok_or_else(|| crate::error::CoreError::invalid(format!("service inconnu du standard : « {l} »")))
            })
            .collect::<crate::error::Result<Vec<_>>>()
            .map(ListeServices)
    }

    pub fn iter(&self) -> impl Iterator<Item = Services> + '_ {
        self.0.iter().copied()
    }

    pub fn contains(&self, s: Services) -> bool {
        self.0.contains(&s)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The labels, in the order given.
    pub fn labels(&self) -> Vec<&'static str> {
        self.iter().map(Services::label).collect()
    }
}

impl From<Vec<Services>> for ListeServices {
    fn from(services: Vec<Services>) -> ListeServices {
        ListeServices(services)
    }
}

impl FromIterator<Services> for ListeServices {
    fn from_iter<I: IntoIterator<Item = Services>>(iter: I) -> ListeServices {
        ListeServices(iter.into_iter().collect())
    }
}

/// The stored form: labels joined by `|`.
impl std::fmt::Display for ListeServices {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.labels().join("|"))
    }
}

/// In JSON, the list of labels.
impl serde::Serialize for ListeServices {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.labels())
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub fn sample() -> Lieu {
        Lieu {
            id: "lieu-1".into(),
            pivot: "73282932000074".into(),
            nom: "Médiathèque".into(),
            commune: "Bordeaux".into(),
            code_postal: CodePostal::parse("33000").unwrap(),
            code_insee: Some(CodeInsee::parse("33063").unwrap()),
            adresse: "1 rue de la Paix".into(),
            complement_adresse: None,
            latitude: Some(44.84),
            longitude: Some(-0.58),
            typologie: vec![],
            telephone: None,
            courriels: vec!["a@b.fr".into(), "c@d.fr".into()],
            site_web: vec![],
            horaires: None,
            presentation_resume: None,
            presentation_detail: None,
            source: None,
            itinerance: vec![],
            structure_parente: None,
            date_maj: jiff::civil::date(2024, 4, 2),
            services: vec![
                Services::AideAuxDemarchesAdministratives,
                Services::LoisirsEtCreationsNumeriques,
            ],
            publics_specifiquement_adresses: vec![],
            prise_en_charge_specifique: vec![],
            frais_a_charge: vec![],
            dispositif_programmes_nationaux: vec![],
            formations_labels: vec![],
            autres_formations_labels: None,
            modalites_acces: vec![],
            modalites_accompagnement: vec![],
            fiche_acces_libre: None,
            prise_rdv: None,
        }
    }

    #[test]
    fn the_model_has_every_field_of_the_standard_in_order() {
        let lieu = sample();
        let values = lieu.standard_values();
        let names: Vec<&str> = values.iter().map(|(n, _)| *n).collect();
        let expected: Vec<&str> = standard().names().collect();
        assert_eq!(names, expected);
        let get = |n: &str| values.iter().find(|(k, _)| *k == n).unwrap().1.clone();
        assert_eq!(
            get("services"),
            "Aide aux démarches administratives|Loisirs et créations numériques"
        );
        assert_eq!(get("courriels"), "a@b.fr|c@d.fr");
        assert_eq!(get("date_maj"), "2024-04-02");
        assert_eq!(get("latitude"), "44.84");
    }

    #[test]
    fn departement_from_insee_or_postcode() {
        let departement = |insee: Option<&str>, cp: &str| -> Option<String> {
            let insee = insee.map(CodeInsee::parse).transpose().ok()?;
            let cp = CodePostal::parse(cp).ok()?;
            Some(super::departement(insee.as_ref(), &cp).to_string())
        };
        assert_eq!(departement(Some("33063"), "33000").as_deref(), Some("33"));
        assert_eq!(departement(None, "06000").as_deref(), Some("06"));
        assert_eq!(departement(Some("2A004"), "20000").as_deref(), Some("2A"));
        assert_eq!(departement(None, "20000").as_deref(), Some("2A"));
        assert_eq!(departement(None, "20200").as_deref(), Some("2B"));
        assert_eq!(departement(Some("97411"), "97400").as_deref(), Some("974"));
        // A postcode that is not one has no département: it is not a `CodePostal`.
        assert_eq!(departement(None, "1234"), None);
    }

    #[test]
    fn dedup_key_ignores_case_accents_and_spacing() {
        let mut a = sample();
        let mut b = sample();
        a.nom = "MÉDIATHÈQUE  ".into();
        b.nom = "médiathèque".into();
        b.adresse = "1, Rue de la paix".into();
        assert_eq!(a.dedup_key(), b.dedup_key());
    }

    #[test]
    fn a_list_of_services_is_read_once_and_written_back_as_stored() {
        let stored = "Aide aux démarches administratives|Loisirs et créations numériques";
        let l = ListeServices::parse(stored).unwrap();
        assert_eq!(l.to_string(), stored);
        assert!(l.contains(Services::LoisirsEtCreationsNumeriques));
        assert!(!l.contains(Services::ALL.iter().copied().find(|s| !l.contains(*s)).unwrap()));
        assert!(ListeServices::parse("").unwrap().is_empty());
        assert!(ListeServices::parse("x|").unwrap_err().to_string().contains("« x »"));
        assert_eq!(
            serde_json::to_string(&l).unwrap(),
            r#"["Aide aux démarches administratives","Loisirs et créations numériques"]"#
        );
    }
}
