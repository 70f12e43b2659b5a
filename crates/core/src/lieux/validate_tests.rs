//! Tests of the row checks: the standard's rules reject, Passerelle's own checks warn.

use super::*;

/// The day these tests run on (UTC).
fn today() -> Date {
    jiff::civil::date(2026, 12, 6)
}

#[test]
fn an_update_date_after_tomorrow_is_kept_with_a_warning() {
    assert!(warnings(&[("date_maj", "2026-12-07")]).is_empty());
    assert_eq!(
        warnings(&[("date_maj", "2026-12-08")]),
        [(
            "date_maj".to_string(),
            "date 08/12/2026 dans le futur : conservée, à vérifier".to_string()
        )]
    );
    // Not a date: the standard's type refuses it.
    assert!(!errors(&[("date_maj", "2026-1-08")]).is_empty());
}

fn row(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    let mut m: BTreeMap<String, String> = [
        ("id", "lieu-1"),
        ("pivot", "73282932000074"),
        ("nom", "Médiathèque"),
        ("commune", "Bordeaux"),
        ("code_postal", "33000"),
        ("adresse", "1 rue de la Paix"),
        ("date_maj", "2024-04-02"),
        ("services", "Aide aux démarches administratives"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    for (k, v) in pairs {
        m.insert(k.to_string(), v.to_string());
    }
    m
}

/// The warnings of a row that must be kept.
fn warnings(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    let c = check_map(7, &row(pairs), today()).unwrap_or_else(|e| panic!("{pairs:?} refusée : {e:?}"));
    c.warnings.into_iter().map(|i| (i.champ, i.message)).collect()
}

fn errors(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    check_map(7, &row(pairs), today())
        .err()
        .unwrap_or_default()
        .into_iter()
        .map(|i| (i.champ, i.message))
        .collect()
}

#[test]
fn a_clean_row_passes() {
    let c = check_map(2, &row(&[]), today()).unwrap();
    assert_eq!(c.lieu.services, vec![Services::AideAuxDemarchesAdministratives]);
    assert!(c.warnings.is_empty() && c.normalised.is_empty());
}

#[test]
fn safe_normalisations_are_made_and_reported() {
    let c = check_map(
        2,
        &row(&[
            ("nom", "  Médiathèque   du   centre "),
            ("commune", "SAINT-ÉTIENNE-DU-ROUVRAY"),
            ("code_postal", "6000"),
            ("telephone", "01 23 45 67 89"),
            (
                "services",
                "Aide aux démarches administratives ; Loisirs et créations numériques",
            ),
            ("latitude", "44,84"),
            ("longitude", "-0,58"),
            ("date_maj", "2/4/2024"),
        ]),
        today(),
    )
    .unwrap();
    assert_eq!(c.lieu.nom, "Médiathèque du centre");
    assert_eq!(c.lieu.commune, "Saint-Étienne-du-Rouvray");
    assert_eq!(c.lieu.code_postal.as_str(), "06000");
    assert_eq!(c.lieu.telephone.as_deref(), Some("+33123456789"));
    assert_eq!(c.lieu.services.len(), 2);
    assert_eq!(c.lieu.latitude, Some(44.84));
    assert_eq!(c.lieu.date_maj, jiff::civil::date(2024, 4, 2));
    assert_eq!(c.normalised.len(), 7);
}

#[test]
fn every_rule_of_the_standard_is_checked() {
    assert!(errors(&[("nom", "")]).contains(&("nom".into(), "champ obligatoire manquant".into())));
    assert_eq!(errors(&[("code_postal", "330000")])[0].0, "code_postal");
    assert!(errors(&[("services", "Cours de cuisine")])[0]
        .1
        .contains("valeur inconnue : « Cours de cuisine »"));
    assert_eq!(
        errors(&[("presentation_resume", &"x".repeat(281))])[0].1,
        "281 caractères, 280 au plus"
    );
    assert!(errors(&[("date_maj", "hier")])[0].1.contains("AAAA-MM-JJ"));
    assert!(errors(&[("telephone", "12")])[0].0 == "telephone");
    assert!(errors(&[("nom", &"x".repeat(20_000))])[0].1.contains("trop longue"));
}

#[test]
fn values_a_spreadsheet_would_run_are_kept_as_data() {
    for name in [
        "@telier connecté",
        "- Espace jeunes",
        "+ de numérique",
        "=cmd|' /C calc'!A0",
    ] {
        let checked = check_map(1, &row(&[("nom", name)]), today()).unwrap_or_else(|e| panic!("{name} : {e:?}"));
        assert_eq!(checked.lieu.nom, name);
    }
}

#[test]
fn codes_follow_the_one_rule_of_their_type_beyond_the_pattern() {
    // The standard's pattern admits them; no commune has them.
    assert_eq!(
        errors(&[("code_postal", "00100")]),
        [(
            "code_postal".to_string(),
            "code postal invalide « 00100 » : aucun code postal ne commence par 00".to_string()
        )]
    );
    // The INSEE code is optional: dropped, the place kept.
    let w = warnings(&[("code_insee", "99100")]);
    assert_eq!(w.len(), 1, "{w:?}");
    assert_eq!(w[0].0, "code_insee");
    assert!(
        w[0].1.starts_with("code INSEE invalide « 99100 »") && w[0].1.ends_with(" : retiré"),
        "{w:?}"
    );
    let c = check_map(2, &row(&[("code_insee", "99100")]), today()).unwrap();
    assert_eq!(c.lieu.code_insee, None);
    // Refused by the pattern: one message per field, the pattern's.
    assert_eq!(errors(&[("code_postal", "330000")]).len(), 1);
    let c = check_map(2, &row(&[("code_insee", "2A004"), ("code_postal", "20000")]), today()).unwrap();
    assert_eq!(c.lieu.code_insee.map(String::from).as_deref(), Some("2A004"));
    assert_eq!(c.lieu.code_postal.departement(), "2A");
}

#[test]
fn placeholders_are_kept_with_a_warning_or_dropped() {
    let c = check_map(
        3,
        &row(&[
            ("pivot", "00000000000000"),
            ("date_maj", "1970-01-01"),
            ("latitude", "46.2276"),
            ("longitude", "2.2137"),
        ]),
        today(),
    )
    .unwrap();
    let fields: Vec<&str> = c.warnings.iter().map(|w| w.champ.as_str()).collect();
    assert_eq!(fields, ["pivot", "latitude", "date_maj"]);
    assert_eq!(c.lieu.latitude, None);
    assert!(c.warnings.iter().all(|w| w.ligne == 3));
}

#[test]
fn unreadable_opening_hours_are_kept_with_a_warning() {
    let c = check_map(4, &row(&[("horaires", "le matin")]), today()).unwrap();
    assert_eq!(c.lieu.horaires.as_deref(), Some("le matin"));
    assert_eq!(c.warnings[0].champ, "horaires");
    assert!(
        check_map(4, &row(&[("horaires", "Mo-Fr 09:00-12:00; PH off")]), today())
            .unwrap()
            .warnings
            .is_empty()
    );
}

#[test]
fn html_in_names_is_kept_as_text() {
    let c = check_map(2, &row(&[("nom", "<script>alert(1)</script>")]), today()).unwrap();
    assert_eq!(c.lieu.nom, "<script>alert(1)</script>");
}

#[test]
fn passerelle_s_own_checks_warn_and_keep_the_row() {
    // Accepted by the standard's Table Schema; refused by none of Passerelle's checks.
    let w = warnings(&[("pivot", "73282932000075")]);
    assert!(
        w[0].1.contains("clé de contrôle") && w[0].1.ends_with("conservé tel quel, à vérifier"),
        "{w:?}"
    );
    let c = check_map(2, &row(&[("pivot", "W12345678")]), today()).unwrap();
    assert_eq!(c.lieu.pivot, "W12345678");
    assert!(c.warnings[0].message.contains("RNA"), "{:?}", c.warnings);
    // Unusable values are dropped, the others kept.
    let c = check_map(
        2,
        &row(&[
            ("courriels", "pas-un-courriel|contact@mediatheque.fr"),
            ("site_web", "javascript:alert(1)|https://mediatheque.fr"),
        ]),
        today(),
    )
    .unwrap();
    assert_eq!(c.lieu.courriels, ["contact@mediatheque.fr"]);
    assert_eq!(c.lieu.site_web, ["https://mediatheque.fr"]);
    let fields: Vec<&str> = c.warnings.iter().map(|w| w.champ.as_str()).collect();
    assert_eq!(fields, ["courriels", "site_web"]);
    assert!(c.warnings[0]
        .message
        .contains("adresse électronique invalide « pas-un-courriel » : retirée"));
    // Impossible coordinates are dropped; coordinates outside the territory kept and named.
    let c = check_map(2, &row(&[("latitude", "123"), ("longitude", "2")]), today()).unwrap();
    assert_eq!((c.lieu.latitude, c.lieu.longitude), (None, None));
    assert_eq!(c.warnings[0].message, "coordonnées (123, 2) impossibles : retirées");
    let c = check_map(2, &row(&[("latitude", "-0.5792"), ("longitude", "44.8378")]), today()).unwrap();
    assert_eq!(c.lieu.latitude, Some(-0.5792));
    assert_eq!(
        c.warnings[0].message,
        "coordonnées (-0.5792, 44.8378) hors de la France métropolitaine (département 33) ; latitude et \
         longitude semblent inversées : conservées, à vérifier"
    );
    // The département comes from the INSEE code when there is one.
    let w = warnings(&[
        ("code_insee", "97411"),
        ("code_postal", "97400"),
        ("latitude", "44.84"),
        ("longitude", "-0.58"),
    ]);
    assert!(w[0].1.contains("hors de La Réunion (département 974)"), "{w:?}");
    assert!(warnings(&[("latitude", "44.84"), ("longitude", "-0.58")]).is_empty());
}
