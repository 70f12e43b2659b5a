//! Searching by commune: every commune of the official list is understood, even where no place
//! is listed, and the page says which commune it understood and from where it measures.

use crate::lieux::report;
use crate::support::{load_territories, TestApp};

async fn directory() -> TestApp {
    let app = TestApp::new().await;
    load_territories(&app);
    let file = app.data_dir.parent().unwrap().join("communes.csv");
    std::fs::write(
        &file,
        "id,pivot,nom,commune,code_postal,code_insee,adresse,date_maj,latitude,longitude\n\
         bx-centre,W332001234,Médiathèque Mériadeck,Bordeaux,33000,33063,85 cours du Maréchal Juin,2024-01-01,44.8378,-0.5792\n\
         bx-bastide,W332001234,Espace numérique de la Bastide,Bordeaux,33100,33063,1 avenue Thiers,2024-01-01,44.8420,-0.5560\n\
         angouleme,W332001234,Atelier numérique d'Angoulême,Angoulême,16000,16015,1 place de l'Hôtel de Ville,2024-01-01,45.6484,0.1562\n\
         marseille-1,W332001234,Point numérique de la Canebière,Marseille,13001,13201,1 La Canebière,2024-01-01,43.2965,5.3698\n\
         saint-denis-974,W332001234,Case numérique de Saint-Denis,Saint-Denis,97400,97411,1 rue de Paris,2024-01-01,-20.8789,55.4481\n\
         noumea,W332001234,Case numérique de Nouméa,Nouméa,98800,98818,1 rue de Sébastopol,2024-01-01,-22.2758,166.4580\n",
    )
    .unwrap();
    let (code, r) = report(&app, &["lieux", "import", file.to_str().unwrap()]);
    assert_eq!(code, 0, "{r:#}");
    assert_eq!(r["crees"], 6, "{r:#}");
    app
}

/// The results of a search page: (place name, distance shown).
fn results(body: &str) -> Vec<(String, String)> {
    body.split("<h3 class=\"fr-card__title\">")
        .skip(1)
        .map(|card| {
            let name = card
                .split('>')
                .nth(1)
                .unwrap_or("")
                .split('<')
                .next()
                .unwrap_or("")
                .to_string();
            let distance = card
                .split(" — à ")
                .nth(1)
                .and_then(|d| d.split('<').next())
                .unwrap_or("")
                .to_string();
            (name, distance)
        })
        .collect()
}

fn heading(body: &str) -> &str {
    let h = &body[body.find("<h2 id=\"resultats\"").expect("résultats")..];
    let h = &h[h.find('>').unwrap() + 1..];
    &h[..h.find("</h2>").unwrap()]
}

#[tokio::test]
async fn a_commune_without_any_place_finds_the_nearest_with_their_distance() {
    let app = directory().await;
    let mut b = app.browser();
    // Talence: not one place, nor with its postcode; the places of Bordeaux Métropole.
    for q in ["Talence", "talence", "33400", "33522"] {
        let r = b.get(&format!("/lieux?q={q}")).await;
        assert_eq!(
            heading(&r.body),
            "2 lieux trouvés à moins de 30 km de Talence (Gironde)",
            "{q}"
        );
        assert!(
            r.body.contains(
                "Aucun lieu n&#39;est encore listé à Talence : les distances sont mesurées depuis le centre \
                 des lieux de son intercommunalité, Bordeaux Métropole."
            ),
            "{}",
            r.body
        );
        let found = results(&r.body);
        assert_eq!(found.len(), 2, "{found:?}");
        assert!(
            found.iter().all(|(_, d)| d.ends_with(" km") || d.ends_with(" m")),
            "{found:?}"
        );
    }
    // Fléac, postcode 16730: the places of the CA du Grand Angoulême, at a few km.
    let r = b.get("/lieux?q=Fl%C3%A9ac").await;
    assert_eq!(heading(&r.body), "1 lieu trouvé à moins de 30 km de Fléac (Charente)");
    assert!(r.body.contains("CA du Grand Angoulême"), "{}", r.body);
    assert_eq!(results(&r.body)[0].0, "Atelier numérique d&#39;Angoulême");
    // A place in the commune: no word on the reference point, the nearest first.
    let r = b.get("/lieux?q=BORDEAUX").await;
    assert_eq!(
        heading(&r.body),
        "2 lieux trouvés à moins de 30 km de Bordeaux (Gironde)"
    );
    assert!(!r.body.contains("Aucun lieu n&#39;est encore listé"), "{}", r.body);
}

#[tokio::test]
async fn homonyms_are_offered_and_the_choice_is_kept() {
    let app = directory().await;
    let mut b = app.browser();
    let r = b.get("/lieux?q=saint+denis&pass_numerique=").await;
    // The most populous first: Saint-Denis of La Réunion, where a place is listed.
    assert_eq!(
        heading(&r.body),
        "1 lieu trouvé à moins de 30 km de Saint-Denis (La Réunion)"
    );
    assert_eq!(results(&r.body)[0].0, "Case numérique de Saint-Denis");
    assert!(
        r.body.contains("Vous cherchiez une autre commune de ce nom ?"),
        "{}",
        r.body
    );
    for other in [
        "Saint-Denis (Seine-Saint-Denis)",
        "Saint-Denis (Aude)",
        "Saint-Denis (Gard)",
    ] {
        assert!(r.body.contains(other), "{other}: {}", r.body);
    }
    // The link keeps the search and names the commune.
    let link = "/lieux?q=saint+denis&#38;pass_numerique=&#38;commune=93066#resultats";
    assert!(r.body.contains(link), "{}", r.body);
    let r = b.get(&link.replace("&#38;", "&")).await;
    assert_eq!(
        heading(&r.body),
        "0 lieu trouvé autour de Saint-Denis (Seine-Saint-Denis)"
    );
    assert!(
        r.body
            .contains("Aucun lieu n&#39;est encore listé dans le département de Saint-Denis, Seine-Saint-Denis."),
        "{}",
        r.body
    );
    // The form keeps the choice, and offers La Réunion back.
    assert!(
        r.body.contains(r#"<input type="hidden" name="commune" value="93066">"#),
        "{}",
        r.body
    );
    assert!(r.body.contains("Saint-Denis (La Réunion)"), "{}", r.body);
    // « Saint-Denis 974 » settles it without a choice.
    let r = b.get("/lieux?q=St-Denis+974").await;
    assert_eq!(
        heading(&r.body),
        "1 lieu trouvé à moins de 30 km de Saint-Denis (La Réunion)"
    );
    assert!(!r.body.contains("Vous cherchiez une autre commune"), "{}", r.body);
}

#[tokio::test]
async fn arrondissements_and_overseas_communes() {
    let app = directory().await;
    let mut b = app.browser();
    let r = b.get("/lieux?q=Marseille+1er").await;
    assert_eq!(
        heading(&r.body),
        "1 lieu trouvé à moins de 30 km de Marseille 1er Arrondissement (Bouches-du-Rhône)"
    );
    // The 3rd arrondissement has no place: its EPCI is Marseille's.
    for q in ["Marseille+3e", "13003", "marseille+3"] {
        let r = b.get(&format!("/lieux?q={q}")).await;
        assert_eq!(
            heading(&r.body),
            "1 lieu trouvé à moins de 30 km de Marseille 3e Arrondissement (Bouches-du-Rhône)",
            "{q}"
        );
        assert!(
            r.body.contains("Métropole d&#39;Aix-Marseille-Provence"),
            "{q}: {}",
            r.body
        );
        // Marseille itself is not offered as « another commune » of the postcode.
        assert!(!r.body.contains("Ce code postal couvre aussi"), "{q}: {}", r.body);
    }
    let r = b.get("/lieux?q=noumea").await;
    assert_eq!(
        heading(&r.body),
        "1 lieu trouvé à moins de 30 km de Nouméa (Nouvelle-Calédonie)"
    );
    assert_eq!(
        results(&r.body),
        [("Case numérique de Nouméa".to_string(), "0 m".to_string())]
    );
    // Le Mont-Dore, beside Nouméa, has no EPCI: the places of Nouvelle-Calédonie.
    let r = b.get("/lieux?q=Le+Mont-Dore").await;
    assert_eq!(
        heading(&r.body),
        "1 lieu trouvé à moins de 30 km du Mont-Dore (Nouvelle-Calédonie)"
    );
    assert!(
        r.body.contains(
            "Aucun lieu n&#39;est encore listé au Mont-Dore : les distances sont mesurées depuis le centre des lieux \
             du département (Nouvelle-Calédonie)."
        ),
        "{}",
        r.body
    );
}

#[tokio::test]
async fn nothing_within_the_radius_shows_the_nearest_however_far() {
    let app = directory().await;
    let mut b = app.browser();
    // Near Bourges: nothing within 30 km; Angoulême is the nearest.
    let r = b.get("/lieux?lat=47.08&lon=2.40").await;
    assert!(heading(&r.body).starts_with("6 lieux trouvés"), "{}", heading(&r.body));
    assert!(
        r.body.contains("voici les plus proches, quelle que soit la distance"),
        "{}",
        r.body
    );
    assert_eq!(results(&r.body)[0].0, "Atelier numérique d&#39;Angoulême");
    // A name that is no commune is still searched in the places' names.
    let r = b.get("/lieux?q=canebiere").await;
    assert_eq!(heading(&r.body), "1 lieu trouvé");
}
