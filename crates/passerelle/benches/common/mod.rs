//! Data shared by the benchmarks: generated places in the national standard.

use std::fmt::Write;

use passerelle_core::lieux::vocabulaires::Services;

/// A SIRET with a valid Luhn key from a 13-digit prefix.
pub fn siret(prefix: u64) -> String {
    let base = format!("{:013}", prefix % 10_000_000_000_000);
    for d in 0..10 {
        let s = format!("{base}{d}");
        let sum: u32 = s
            .bytes()
            .rev()
            .enumerate()
            .map(|(i, b)| {
                let v = u32::from(b - b'0');
                if i % 2 == 1 {
                    let x = v * 2;
                    if x > 9 {
                        x - 9
                    } else {
                        x
                    }
                } else {
                    v
                }
            })
            .sum();
        if sum.is_multiple_of(10) {
            return s;
        }
    }
    unreachable!("a Luhn digit always exists")
}

/// Places spread over metropolitan France, deterministic.
pub fn generate(n: usize) -> String {
    let mut out = String::from("id,pivot,nom,commune,code_postal,code_insee,adresse,latitude,longitude,telephone,horaires,date_maj,services,frais_a_charge,modalites_acces\n");
    let kinds = [
        "Médiathèque",
        "Espace public numérique",
        "France Services",
        "Tiers-lieu",
        "CCAS",
        "Association",
    ];
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    for i in 0..n {
        let dep = 1 + (next() % 95) as u32;
        let dep = if dep == 20 { 21 } else { dep };
        let lat = 42.5 + (next() % 8_000) as f64 / 1000.0;
        let lon = -4.5 + (next() % 12_500) as f64 / 1000.0;
        let services: Vec<&str> = Services::ALL
            .iter()
            .filter(|_| next() % 3 == 0)
            .map(|s| s.label())
            .collect();
        let services = if services.is_empty() {
            Services::AideAuxDemarchesAdministratives.label().to_string()
        } else {
            services.join("|")
        };
        let _ = writeln!(
            out,
            "lieu-{i},{},{} n° {i},Commune {dep}-{},{dep:02}{:03},{dep:02}{:03},{} rue de la République,{lat:.5},{lon:.5},+3314{:07},\"Mo-Fr 09:00-12:00,14:00-17:30\",2024-0{}-1{},{services},Gratuit,Se présenter|Téléphoner",
            siret(next()),
            kinds[i % kinds.len()],
            i % 500,
            (i % 900) + 100,
            (i % 900) + 1,
            1 + i % 200,
            i % 10_000_000,
            1 + i % 9,
            i % 10,
        );
    }
    out
}

/// The values a pipe-separated column of the standard accepts, read from its
/// pattern in the official Table Schema (`(?:(?:^|\|)(A|B|C))+$`).
// Only the import bench uses the full-width file; the others include this module too.
#[allow(dead_code)]
fn enumerated(schema: &serde_json::Value, column: &str) -> Vec<String> {
    let pattern = schema["fields"]
        .as_array()
        .and_then(|f| f.iter().find(|f| f["name"] == column))
        .and_then(|f| f["constraints"]["pattern"].as_str())
        .unwrap_or_default();
    let Some(start) = pattern.find("(?:^|\\|)(").map(|i| i + "(?:^|\\|)(".len()) else {
        return Vec::new();
    };
    let (mut values, mut current, mut escaped) = (Vec::new(), String::new(), false);
    for ch in pattern[start..].chars() {
        match (escaped, ch) {
            (true, c) => {
                current.push(c);
                escaped = false;
            }
            (false, '\\') => escaped = true,
            (false, '|') => values.push(std::mem::take(&mut current)),
            (false, ')') => break,
            (false, c) => current.push(c),
        }
    }
    values.push(current);
    values
}

/// Places with every one of the 32 columns of the standard filled, in real
/// communes (name, postcode and INSEE code from `@etalab/decoupage-administratif`),
/// the pipe-separated columns drawn from the values of the official schema;
/// deterministic.
#[allow(dead_code)]
pub fn generate_full(n: usize) -> String {
    let schema: serde_json::Value =
        serde_json::from_str(passerelle_core::lieux::schema::SCHEMA_JSON).expect("schéma officiel");
    let columns: Vec<String> = schema["fields"]
        .as_array()
        .expect("champs")
        .iter()
        .filter_map(|f| f["name"].as_str().map(str::to_string))
        .collect();
    assert_eq!(columns.len(), 32, "le standard a 32 colonnes");
    let communes_path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../node_modules/@etalab/decoupage-administratif/data/communes.json"
    );
    let communes: Vec<serde_json::Value> =
        serde_json::from_str(&std::fs::read_to_string(communes_path).expect("communes.json")).expect("communes");
    let communes: Vec<(String, String, String)> = communes
        .iter()
        .filter(|c| c["type"] == "commune-actuelle" && c["zone"] == "metro")
        .filter_map(|c| {
            Some((
                c["nom"].as_str()?.to_string(),
                c["codesPostaux"].as_array()?.first()?.as_str()?.to_string(),
                c["code"].as_str()?.to_string(),
            ))
        })
        .collect();
    let lists: Vec<(&str, Vec<String>)> = [
        "itinerance",
        "services",
        "publics_specifiquement_adresses",
        "prise_en_charge_specifique",
        "frais_a_charge",
        "dispositif_programmes_nationaux",
        "formations_labels",
        "modalites_acces",
        "modalites_accompagnement",
    ]
    .into_iter()
    .map(|c| (c, enumerated(&schema, c)))
    .collect();
    for (c, v) in &lists {
        assert!(v.len() >= 2, "valeurs de {c} introuvables dans le schéma");
    }
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let mut out = columns.join(",");
    out.push('\n');
    let quote = |s: &str| format!("\"{}\"", s.replace('"', "\"\""));
    for i in 0..n {
        let (nom, cp, insee) = &communes[(next() % communes.len() as u64) as usize];
        let mut row: Vec<String> = Vec::with_capacity(32);
        for column in &columns {
            let value = match column.as_str() {
                "id" => format!("lieu-{i}"),
                "pivot" => siret(next()),
                "nom" => format!("Espace numérique {nom} n° {i}"),
                "commune" => nom.clone(),
                "code_postal" => cp.clone(),
                "code_insee" => insee.clone(),
                "adresse" => format!("{} rue de la République", 1 + i % 200),
                "complement_adresse" => format!("Bâtiment {}", (b'A' + (i % 6) as u8) as char),
                "latitude" => format!("{:.5}", 42.5 + (next() % 8_000) as f64 / 1000.0),
                "longitude" => format!("{:.5}", -1.5 + (next() % 8_500) as f64 / 1000.0),
                "typologie" => ["TIERS_LIEUX|ASSO", "BIB", "CCAS", "FRANCE_SERVICES|MAIRIE"][i % 4].to_string(),
                "telephone" => format!("+3314{:07}", i % 10_000_000),
                "courriels" => format!("contact{i}@lieu-exemple.fr|accueil{i}@lieu-exemple.fr"),
                "site_web" => format!("https://lieu-{i}.exemple.fr/"),
                "horaires" => "Mo-Fr 09:00-12:00,14:00-18:30; Sa 08:30-12:00".to_string(),
                "presentation_resume" => {
                    "Accompagnement aux démarches en ligne et ateliers d'initiation au numérique.".into()
                }
                "presentation_detail" => {
                    "Un parcours d'initiation pour acquérir les bases : ordinateur, tablette, courriel, démarches."
                        .into()
                }
                "source" => "Banc".into(),
                "structure_parente" => siret(next()),
                "date_maj" => format!("2024-0{}-1{}", 1 + i % 9, i % 10),
                "autres_formations_labels" => "Label et la bête".into(),
                "fiche_acces_libre" => format!("https://acceslibre.beta.gouv.fr/app/lieu-{i}/"),
                "prise_rdv" => format!("https://rdv.exemple.fr/lieu-{i}"),
                other => match lists.iter().find(|(c, _)| *c == other) {
                    Some((_, values)) => {
                        let picked: Vec<&str> = values.iter().filter(|_| next() % 3 == 0).map(String::as_str).collect();
                        if picked.is_empty() {
                            values[i % values.len()].clone()
                        } else {
                            picked.join("|")
                        }
                    }
                    None => panic!("colonne {other} sans générateur"),
                },
            };
            row.push(quote(&value));
        }
        out.push_str(&row.join(","));
        out.push('\n');
    }
    out
}
