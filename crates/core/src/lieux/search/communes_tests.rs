//! Reading commune names, codes and postcodes, and the positions the listed places give.

use super::*;

fn commune(code: &str, nom: &str, dep: &str, cps: &[&str], population: i64, parente: &str, epci: &str) -> Commune {
    Commune {
        code: code.into(),
        nom: nom.into(),
        departement: dep.into(),
        departement_nom: format!("Département {dep}"),
        codes_postaux: cps.iter().map(|s| s.to_string()).collect(),
        population,
        parente: parente.into(),
        epci: epci.into(),
        epci_nom: format!("EPCI {epci}"),
    }
}

fn sample() -> Communes {
    Communes::new(vec![
        commune(
            "33063",
            "Bordeaux",
            "33",
            &["33000", "33100", "33200", "33300", "33800"],
            260_000,
            "",
            "243300316",
        ),
        commune("33522", "Talence", "33", &["33400"], 46_000, "", "243300316"),
        commune("33281", "Mérignac", "33", &["33700"], 72_000, "", "243300316"),
        commune("16138", "Fléac", "16", &["16730"], 3_800, "", "241600303"),
        commune("16187", "Linars", "16", &["16730"], 1_500, "", "241600303"),
        commune("16015", "Angoulême", "16", &["16000"], 41_000, "", "241600303"),
        commune(
            "93066",
            "Saint-Denis",
            "93",
            &["93200", "93210"],
            113_000,
            "",
            "200057867",
        ),
        commune(
            "97411",
            "Saint-Denis",
            "974",
            &["97400", "97490"],
            153_000,
            "",
            "249740119",
        ),
        commune("11339", "Saint-Denis", "11", &["11310"], 500, "", ""),
        commune("75056", "Paris", "75", &["75001", "75015"], 2_100_000, "", "200054781"),
        commune(
            "75115",
            "Paris 15e Arrondissement",
            "75",
            &["75015"],
            230_000,
            "75056",
            "200054781",
        ),
        commune(
            "75101",
            "Paris 1er Arrondissement",
            "75",
            &["75001"],
            16_000,
            "75056",
            "200054781",
        ),
        commune("98818", "Nouméa", "988", &["98800"], 94_000, "", ""),
        commune("94041", "L'Haÿ-les-Roses", "94", &["94240"], 31_000, "", "200054781"),
    ])
}

#[test]
fn names_are_read_without_accents_hyphens_or_abbreviations() {
    let c = sample();
    for typed in ["Mérignac", "merignac", "MERIGNAC", " Mérignac  "] {
        assert_eq!(
            c.comprendre(typed, None).map(|x| x.commune.code.as_str()),
            Some("33281"),
            "{typed}"
        );
    }
    for typed in ["St Denis 93", "saint denis (93)", "ST-DENIS 93"] {
        let x = c.comprendre(typed, None).expect(typed);
        assert_eq!(x.commune.code, "93066", "{typed}");
        assert!(x.autres.is_empty(), "{typed}: the département settles it");
    }
    assert_eq!(
        c.comprendre("l hay les roses", None).map(|x| x.commune.code.as_str()),
        Some("94041")
    );
    assert_eq!(
        c.comprendre("Nouméa", None).map(|x| x.commune.code.as_str()),
        Some("98818")
    );
    assert!(c.comprendre("médiathèque", None).is_none());
    assert!(c.comprendre("", None).is_none());
}

#[test]
fn homonyms_come_most_populous_first_and_a_link_can_pick_another() {
    let c = sample();
    let x = c.comprendre("Saint-Denis", None).expect("homonymes");
    assert_eq!(x.commune.code, "97411");
    let autres: Vec<&str> = x.autres.iter().map(|o| o.code.as_str()).collect();
    assert_eq!(autres, ["93066", "11339"]);
    assert_eq!(x.lecture, Lecture::Nom);
    let y = c.comprendre("Saint-Denis", Some("11339")).expect("choisie");
    assert_eq!(y.commune.code, "11339");
    assert_eq!(y.autres.len(), 2);
    // A choice that is not one of the homonyms changes nothing.
    assert_eq!(
        c.comprendre("Saint-Denis", Some("33063"))
            .map(|x| x.commune.code.as_str()),
        Some("97411")
    );
}

#[test]
fn postcodes_insee_codes_and_arrondissements() {
    let c = sample();
    let x = c.comprendre("16730", None).expect("code postal");
    assert_eq!((x.commune.code.as_str(), x.lecture), ("16138", Lecture::CodePostal));
    assert_eq!(x.autres.iter().map(|o| o.code.as_str()).collect::<Vec<_>>(), ["16187"]);
    let x = c.comprendre("33 400", None).expect("code postal espacé");
    assert_eq!(x.commune.code, "33522");
    let x = c.comprendre("16187", None).expect("code INSEE");
    assert_eq!((x.commune.code.as_str(), x.lecture), ("16187", Lecture::CodeInsee));
    // A postcode of Paris names its arrondissement, and Paris is not offered as « another » commune.
    let x = c.comprendre("75015", None).expect("arrondissement");
    assert_eq!(x.commune.code, "75115");
    assert!(x.autres.is_empty());
    for typed in ["Paris 15", "paris 15e", "Paris 15ème", "PARIS 15E ARRONDISSEMENT"] {
        assert_eq!(
            c.comprendre(typed, None).map(|x| x.commune.code.as_str()),
            Some("75115"),
            "{typed}"
        );
    }
    for typed in ["Paris 1er", "paris 1"] {
        assert_eq!(
            c.comprendre(typed, None).map(|x| x.commune.code.as_str()),
            Some("75101"),
            "{typed}"
        );
    }
    assert_eq!(
        c.comprendre("Paris", None).map(|x| x.commune.code.as_str()),
        Some("75056")
    );
}

#[test]
fn positions_fall_back_from_the_commune_to_its_postcode_epci_and_departement() {
    let mut c = sample();
    // Places in Bordeaux (by INSEE code) and in Angoulême (by name and postcode only).
    c.locate("33063", "Bordeaux", "33000", 44.84, -0.58);
    c.locate("33063", "Bordeaux", "33000", 44.86, -0.56);
    c.locate("", "ANGOULEME", "16000", 45.65, 0.16);
    // A place whose commune is misspelt still counts for its postcode.
    c.locate("", "Linar", "16730", 45.65, 0.10);
    // In an arrondissement: counts for Paris too.
    c.locate("75115", "Paris", "75015", 48.84, 2.29);

    let bordeaux = c.comprendre("Bordeaux", None).expect("Bordeaux");
    let ((lat, lon), repere) = bordeaux.position.expect("position");
    assert_eq!(repere, Repere::Commune);
    assert!((lat - 44.85).abs() < 1e-9 && (lon + 0.57).abs() < 1e-9);

    // Talence: no place, no place with its postcode: the places of its EPCI (Bordeaux's two).
    let talence = c.comprendre("Talence", None).expect("Talence");
    assert_eq!(talence.position.map(|p| p.1), Some(Repere::Epci));

    // Fléac: no place listed in it, but one with its postcode.
    let fleac = c.comprendre("Fléac", None).expect("Fléac");
    assert_eq!(fleac.position, Some(((45.65, 0.10), Repere::CodePostal)));

    // Saint-Denis (Aude): no EPCI in the sample and no place in the département.
    let aude = c.comprendre("Saint-Denis 11", None).expect("Aude");
    assert_eq!(aude.position, None);

    assert_eq!(
        c.comprendre("Paris", None).and_then(|x| x.position).map(|p| p.1),
        Some(Repere::Commune)
    );
    assert_eq!(
        c.comprendre("Paris 1er", None).and_then(|x| x.position).map(|p| p.1),
        Some(Repere::Epci)
    );
}

#[test]
fn departement_fallback() {
    let mut c = Communes::new(vec![
        commune("33063", "Bordeaux", "33", &["33000"], 260_000, "", ""),
        commune("33522", "Talence", "33", &["33400"], 46_000, "", ""),
    ]);
    c.locate("33063", "Bordeaux", "33000", 44.84, -0.58);
    let t = c.comprendre("Talence", None).expect("Talence");
    assert_eq!(t.position, Some(((44.84, -0.58), Repere::Departement)));
}
