//! Checking one row of a file against the standard, after the normalisations
//! that are safe to make. Every problem names its line and field, in French.

use std::collections::BTreeMap;

use jiff::civil::Date;

use super::model::Lieu;
use super::normalise::{clean_spaces, commune_case, hours_error, phone};
use super::schema::{standard, FieldKind};
use super::vocabulaires::*;
use crate::identifiants::{CodeInsee, CodePostal};

/// Longest value accepted in any field (the standard sets no limit but `presentation_resume`).
pub const MAX_FIELD_CHARS: usize = 10_000;

/// A problem (or a change) on one field of one row.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Issue {
    pub ligne: usize,
    pub champ: String,
    pub message: String,
}

/// What normalisation changed, by kind (reported as counts).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
pub enum Normalisation {
    Espaces,
    Separateurs,
    CommuneMajuscules,
    Telephone,
    CodePostalZero,
    VirguleDecimale,
    DateFrancaise,
    CodeInseeDeduit,
    ValeursAnciennes,
    ValeursReecrites,
}

impl Normalisation {
    pub fn label(self) -> &'static str {
        match self {
            Normalisation::Espaces => "espaces en trop retirés",
            Normalisation::Separateurs => "séparateurs « ; » remplacés par « | »",
            Normalisation::CommuneMajuscules => "communes en majuscules remises en casse usuelle",
            Normalisation::Telephone => "téléphones mis au format international",
            Normalisation::CodePostalZero => "codes postaux ou INSEE complétés du zéro initial perdu",
            Normalisation::VirguleDecimale => "coordonnées à virgule décimale converties",
            Normalisation::DateFrancaise => "dates JJ/MM/AAAA converties en AAAA-MM-JJ",
            Normalisation::CodeInseeDeduit => "codes INSEE déduits du code postal et de la commune",
            Normalisation::ValeursAnciennes => "valeurs d'anciennes versions du standard traduites en v1",
            Normalisation::ValeursReecrites => {
                "valeurs de listes écrites autrement (casse, accents, explication) ramenées à celles du standard"
            }
        }
    }
}

/// A valid row: the place, its warnings and the normalisations applied.
#[derive(Debug, Clone)]
pub struct Checked {
    pub lieu: Lieu,
    pub warnings: Vec<Issue>,
    pub normalised: Vec<Normalisation>,
    /// Each value of a closed list translated (« field : « old » → « new » »).
    pub translations: Vec<String>,
}

/// Fields whose values are `|`-separated lists.
const MULTI: &[&str] = &[
    "typologie",
    "courriels",
    "site_web",
    "itinerance",
    "services",
    "publics_specifiquement_adresses",
    "prise_en_charge_specifique",
    "frais_a_charge",
    "dispositif_programmes_nationaux",
    "formations_labels",
    "modalites_acces",
    "modalites_accompagnement",
];

/// Centre of France: where failed geocoders put places.
const FRANCE_CENTRE: (f64, f64) = (46.227638, 2.213749);

struct Row {
    line: usize,
    /// Values in the schema's field order.
    values: Vec<String>,
    errors: Vec<Issue>,
    warnings: Vec<Issue>,
    normalised: Vec<Normalisation>,
    translations: Vec<String>,
}

impl Row {
    fn error(&mut self, field: &str, message: String) {
        self.errors.push(Issue {
            ligne: self.line,
            champ: field.to_string(),
            message,
        });
    }

    fn warn(&mut self, field: &str, message: String) {
        self.warnings.push(Issue {
            ligne: self.line,
            champ: field.to_string(),
            message,
        });
    }

    fn get(&self, field: &str) -> Option<&str> {
        super::vocabulaires::field_position(field)
            .map(|i| self.values[i].as_str())
            .filter(|v| !v.is_empty())
    }

    fn clear(&mut self, field: &str) {
        if let Some(i) = standard().position(field) {
            self.values[i].clear();
        }
    }

    /// Replaces a value (the change is reported by a warning, not as a normalisation).
    fn replace(&mut self, field: &str, value: String) {
        if let Some(v) = standard().position(field).map(|i| &mut self.values[i]) {
            *v = value;
        }
    }

    fn set(&mut self, field: &str, value: String, kind: Normalisation) {
        if let Some(v) = standard().position(field).map(|i| &mut self.values[i]) {
            if *v != value {
                *v = value;
                self.normalised.push(kind);
            }
        }
    }
}

/// Checks one row given as (standard field name → raw value). Unknown names must
/// already have been mapped or dropped by the reader.
/// [`check_row`] for a row given as (field name → value).
pub fn check_map(line: usize, raw: &BTreeMap<String, String>, today: Date) -> Result<Checked, Vec<Issue>> {
    let std = standard();
    let row: Vec<String> = std
        .fields
        .iter()
        .map(|f| raw.get(&f.name).cloned().unwrap_or_default())
        .collect();
    check_row(line, &row, today)
}

/// Checks one row given as its values in the schema's field order (missing
/// trailing values count as empty). `today` (UTC) bounds `date_maj`.
pub fn check_row(line: usize, raw: &[String], today: Date) -> Result<Checked, Vec<Issue>> {
    let std = standard();
    let mut row = Row {
        line,
        values: Vec::with_capacity(std.fields.len()),
        errors: Vec::new(),
        warnings: Vec::new(),
        normalised: Vec::new(),
        translations: Vec::new(),
    };
    for (i, f) in std.fields.iter().enumerate() {
        let value = raw.get(i).cloned().unwrap_or_default();
        row.values.push(String::new());
        if value.chars().count() > MAX_FIELD_CHARS {
            row.error(
                &f.name,
                format!(
                    "valeur trop longue ({} caractères, {MAX_FIELD_CHARS} au plus)",
                    value.chars().count()
                ),
            );
            continue;
        }
        let cleaned = clean_spaces(&value, f.name == "presentation_detail");
        if cleaned != value {
            row.normalised.push(Normalisation::Espaces);
        }
        row.values[i] = cleaned;
    }
    normalise(&mut row);
    for f in &std.fields {
        let name = f.name.as_str();
        let Some(value) = row.get(name).map(str::to_string) else {
            if f.required {
                row.error(name, "champ obligatoire manquant".into());
            }
            continue;
        };
        // A leading `=`, `+`, `-` or `@` is data (« @telier connecté », « - Espace jeunes ») :
        // every CSV Passerelle writes neutralises it (`tableur::neutralise`).
        if let Some(max) = f.max_length {
            let n = value.chars().count();
            if n > max {
                row.error(name, format!("{n} caractères, {max} au plus"));
            }
        }
        if f.vocabulary {
            // Closed lists: a membership test gives the same verdict as the schema's
            // pattern, names the unknown values, and is much cheaper.
            if let Some(msg) = vocabulary_message(name, &value) {
                row.error(name, msg);
            }
        } else if let Some(p) = &f.pattern {
            if !p.is_match(&value) {
                row.error(
                    name,
                    format!("valeur « {} » non conforme au format attendu", shorten(&value)),
                );
            }
        }
        if f.kind == FieldKind::Number && value.parse::<f64>().is_err() {
            row.error(name, format!("nombre attendu, reçu « {} »", shorten(&value)));
        }
    }
    check_specific(&mut row, today);
    if !row.errors.is_empty() {
        return Err(row.errors);
    }
    let lieu = build(&mut row);
    match lieu {
        Some(lieu) if row.errors.is_empty() => {
            let mut normalised = row.normalised;
            normalised.sort();
            normalised.dedup();
            Ok(Checked {
                lieu,
                warnings: row.warnings,
                normalised,
                translations: row.translations,
            })
        }
        _ => Err(row.errors),
    }
}

fn shorten(v: &str) -> String {
    if v.chars().count() > 60 {
        format!("{}…", v.chars().take(60).collect::<String>())
    } else {
        v.to_string()
    }
}

fn normalise(row: &mut Row) {
    for field in MULTI {
        if let Some(v) = row.get(field) {
            if v.contains(';') || v.contains(" | ") || v.contains("| ") || v.contains(" |") {
                let fixed = v
                    .split([';', '|'])
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .collect::<Vec<_>>()
                    .join("|");
                row.set(field, fixed, Normalisation::Separateurs);
            }
        }
    }
    let translated = super::anciennes_valeurs::translate_row(&mut row.values);
    if translated.legacy {
        row.normalised.push(Normalisation::ValeursAnciennes);
    }
    if translated.spelling {
        row.normalised.push(Normalisation::ValeursReecrites);
    }
    for (field, value) in translated.dropped {
        row.warn(
            field,
            format!(
                "« {} » (ancienne version du standard) n'a pas d'équivalent en v1 : valeur retirée",
                shorten(&value)
            ),
        );
    }
    row.translations = translated.translations;
    if let Some(c) = row.get("commune") {
        if c.chars().any(char::is_alphabetic) && !c.chars().any(char::is_lowercase) {
            let fixed = commune_case(c);
            row.set("commune", fixed, Normalisation::CommuneMajuscules);
        }
    }
    for field in ["code_postal", "code_insee"] {
        if let Some(v) = row.get(field) {
            if v.len() == 4 && v.bytes().all(|b| b.is_ascii_digit()) {
                let fixed = format!("0{v}");
                row.set(field, fixed, Normalisation::CodePostalZero);
            }
        }
    }
    if let Some(t) = row.get("telephone") {
        if let Some(fixed) = phone(t) {
            row.set("telephone", fixed, Normalisation::Telephone);
        }
    }
    for field in ["latitude", "longitude"] {
        if let Some(v) = row.get(field) {
            if v.contains(',') && !v.contains('.') {
                let fixed = v.replace(',', ".");
                row.set(field, fixed, Normalisation::VirguleDecimale);
            }
        }
    }
    if let Some(d) = row.get("date_maj") {
        let parts: Vec<&str> = d.split('/').collect();
        if let [dd, mm, yyyy] = parts.as_slice() {
            if dd.len() <= 2 && mm.len() <= 2 && yyyy.len() == 4 {
                let fixed = format!("{yyyy}-{mm:0>2}-{dd:0>2}");
                row.set("date_maj", fixed, Normalisation::DateFrancaise);
            }
        }
    }
}

/// None when every `|`-separated value belongs to the field's closed list (or the
/// field has none); otherwise the French message naming the unknown values.
fn vocabulary_message(field: &str, value: &str) -> Option<String> {
    let labels = super::vocabulaires::labels(field)?;
    let unknown: Vec<&str> = value.split('|').filter(|v| !labels.contains(v)).collect();
    if unknown.is_empty() {
        return None;
    }
    Some(format!(
        "valeur{} inconnue{} : {} ; valeurs possibles : {}",
        if unknown.len() > 1 { "s" } else { "" },
        if unknown.len() > 1 { "s" } else { "" },
        unknown
            .iter()
            .map(|u| format!("« {} »", shorten(u)))
            .collect::<Vec<_>>()
            .join(", "),
        labels.join(", ")
    ))
}

/// Passerelle's own checks, beyond the standard's Table Schema. The standard is the bar for
/// rejection: what it accepts is kept, and these checks give warnings (dropping a value only
/// where it cannot be used: an invalid e-mail or web address, impossible coordinates). The one
/// exception is a postcode starting with 00, which [`CodePostal`] refuses: no place has one,
/// and a place must have a postcode to be attached to a département.
fn check_specific(row: &mut Row, today: Date) {
    if let Some(message) = row
        .get("code_postal")
        .filter(|_| !row.errors.iter().any(|e| e.champ == "code_postal"))
        .and_then(code_refused::<CodePostal>)
    {
        row.error("code_postal", message);
    }
    // The pattern admits codes no commune has (INSEE `99100`, a foreign country): the field is
    // optional, so the code is dropped and the place kept.
    if let Some(message) = row
        .get("code_insee")
        .filter(|_| !row.errors.iter().any(|e| e.champ == "code_insee"))
        .and_then(code_refused::<CodeInsee>)
    {
        row.warn("code_insee", format!("{message} : retiré"));
        row.clear("code_insee");
    }
    if let Some(p) = row.get("pivot").map(str::to_string) {
        match crate::identifiants::Pivot::parse(&p) {
            Ok(crate::identifiants::Pivot::Inconnu) => row.warn(
                "pivot",
                "pivot fictif (que des zéros) : conservé, mais ignoré pour repérer les doublons".into(),
            ),
            Ok(_) => {}
            Err(e) => row.warn("pivot", format!("{e} : conservé tel quel, à vérifier")),
        }
    }
    check_coordinates(row);
    if let Some(list) = row.get("courriels").map(str::to_string) {
        let (good, bad): (Vec<&str>, Vec<&str>) =
            list.split('|').partition(|e| crate::accounts::Email::parse(e).is_ok());
        for e in &bad {
            row.warn(
                "courriels",
                format!("adresse électronique invalide « {} » : retirée", shorten(e)),
            );
        }
        if !bad.is_empty() {
            row.replace("courriels", good.join("|"));
        }
    }
    for field in ["site_web", "fiche_acces_libre", "prise_rdv"] {
        if let Some(list) = row.get(field).map(str::to_string) {
            let (good, bad): (Vec<&str>, Vec<&str>) = list.split('|').partition(|u| {
                url::Url::parse(u).is_ok_and(|p| matches!(p.scheme(), "http" | "https") && p.host().is_some())
            });
            for u in &bad {
                row.warn(
                    field,
                    format!(
                        "adresse web invalide « {} » : retirée (elle doit commencer par https://)",
                        shorten(u)
                    ),
                );
            }
            if !bad.is_empty() {
                row.replace(field, good.join("|"));
            }
        }
    }
    if let Some(h) = row.get("horaires").map(str::to_string) {
        if let Some(e) = hours_error(&h) {
            row.warn(
                "horaires",
                format!("{e} : conservées telles quelles, « ouvert maintenant » ne pourra pas être calculé"),
            );
        }
    }
    if let Some(d) = row.get("date_maj").map(str::to_string) {
        match crate::dates_fr::jour_iso(&d).ok_or(()) {
            Ok(date) if date.year() <= 1970 => {
                row.warn(
                    "date_maj",
                    format!(
                        "date fictive ({}) : la date de mise à jour est inconnue",
                        crate::dates_fr::jj_mm_aaaa(date)
                    ),
                );
            }
            Ok(date) if crate::dates_fr::plus_jours(today, 1).is_some_and(|limit| date > limit) => {
                row.warn(
                    "date_maj",
                    format!(
                        "date {} dans le futur : conservée, à vérifier",
                        crate::dates_fr::jj_mm_aaaa(date)
                    ),
                );
            }
            Ok(_) => {}
            Err(_) => row.error(
                "date_maj",
                format!("date « {} » invalide : AAAA-MM-JJ attendu", shorten(&d)),
            ),
        }
    }
}

/// Coordinates: impossible or placeholder ones are dropped, those outside the place's territory
/// are kept with a warning (see [`super::emprise`]).
fn check_coordinates(row: &mut Row) {
    let lat = row.get("latitude").and_then(|v| v.parse::<f64>().ok());
    let lon = row.get("longitude").and_then(|v| v.parse::<f64>().ok());
    let drop = |row: &mut Row, message: String| {
        row.warn("latitude", message);
        row.clear("latitude");
        row.clear("longitude");
    };
    match (lat, lon) {
        (Some(la), Some(lo)) => {
            if !(-90.0..=90.0).contains(&la) || !(-180.0..=180.0).contains(&lo) || !la.is_finite() || !lo.is_finite() {
                drop(row, format!("coordonnées ({la}, {lo}) impossibles : retirées"));
            } else if (la == 0.0 && lo == 0.0)
                || ((la - FRANCE_CENTRE.0).abs() < 0.01 && (lo - FRANCE_CENTRE.1).abs() < 0.01)
            {
                drop(
                    row,
                    format!("coordonnées ({la}, {lo}) d'un géocodage manqué : retirées"),
                );
            } else {
                let departement = departement_of(row);
                if let Some(message) = super::emprise::hors_territoire(&departement, la, lo) {
                    row.warn("latitude", format!("{message} : conservées, à vérifier"));
                }
            }
        }
        (Some(_), None) | (None, Some(_)) => {
            drop(
                row,
                "latitude sans longitude (ou l'inverse) : coordonnées retirées".into(),
            );
        }
        (None, None) => {}
    }
}

/// The département of a row being checked, from its INSEE code else its postcode (empty when
/// neither reads).
fn departement_of(row: &Row) -> String {
    let insee = row.get("code_insee").and_then(|c| CodeInsee::parse(c).ok());
    let Some(cp) = row.get("code_postal").and_then(|c| CodePostal::parse(c).ok()) else {
        return insee.map(|c| c.departement().to_string()).unwrap_or_default();
    };
    super::model::departement(insee.as_ref(), &cp).to_string()
}

/// The type's French message when `value` is not a `T` (the message names the value).
fn code_refused<T: std::str::FromStr<Err = crate::error::CoreError>>(value: &str) -> Option<String> {
    value.parse::<T>().err().map(|e| e.to_string())
}

fn opt(row: &Row, field: &str) -> Option<String> {
    row.get(field).map(str::to_string)
}

fn list<T>(row: &mut Row, field: &str, parse: fn(&str) -> Option<T>) -> Vec<T> {
    let Some(v) = row.get(field).map(str::to_string) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for item in v.split('|') {
        match parse(item) {
            Some(x) => out.push(x),
            None => row.error(field, format!("valeur inconnue « {} »", shorten(item))),
        }
    }
    out
}

fn texts(row: &Row, field: &str) -> Vec<String> {
    row.get(field)
        .map(|v| v.split('|').map(str::to_string).collect())
        .unwrap_or_default()
}

fn build(row: &mut Row) -> Option<Lieu> {
    let date_maj = crate::dates_fr::jour_iso(row.get("date_maj")?)?;
    Some(Lieu {
        id: opt(row, "id")?,
        pivot: opt(row, "pivot")?,
        nom: opt(row, "nom")?,
        commune: opt(row, "commune")?,
        code_postal: row.get("code_postal")?.parse().ok()?,
        code_insee: match row.get("code_insee") {
            Some(code) => Some(code.parse().ok()?),
            None => None,
        },
        adresse: opt(row, "adresse")?,
        complement_adresse: opt(row, "complement_adresse"),
        latitude: row.get("latitude").and_then(|v| v.parse().ok()),
        longitude: row.get("longitude").and_then(|v| v.parse().ok()),
        typologie: texts(row, "typologie"),
        telephone: opt(row, "telephone"),
        courriels: texts(row, "courriels"),
        site_web: texts(row, "site_web"),
        horaires: opt(row, "horaires"),
        presentation_resume: opt(row, "presentation_resume"),
        presentation_detail: opt(row, "presentation_detail"),
        source: opt(row, "source"),
        itinerance: list(row, "itinerance", Itinerance::from_label),
        structure_parente: opt(row, "structure_parente"),
        date_maj,
        services: list(row, "services", Services::from_label),
        publics_specifiquement_adresses: list(
            row,
            "publics_specifiquement_adresses",
            PublicsSpecifiquementAdresses::from_label,
        ),
        prise_en_charge_specifique: list(row, "prise_en_charge_specifique", PriseEnChargeSpecifique::from_label),
        frais_a_charge: list(row, "frais_a_charge", FraisACharge::from_label),
        dispositif_programmes_nationaux: list(
            row,
            "dispositif_programmes_nationaux",
            DispositifProgrammesNationaux::from_label,
        ),
        formations_labels: list(row, "formations_labels", FormationsLabels::from_label),
        autres_formations_labels: opt(row, "autres_formations_labels"),
        modalites_acces: list(row, "modalites_acces", ModalitesAcces::from_label),
        modalites_accompagnement: list(row, "modalites_accompagnement", ModalitesAccompagnement::from_label),
        fiche_acces_libre: opt(row, "fiche_acces_libre"),
        prise_rdv: opt(row, "prise_rdv"),
    })
}

#[cfg(test)]
#[path = "validate_tests.rs"]
mod tests;
