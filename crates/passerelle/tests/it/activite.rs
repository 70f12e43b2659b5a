//! Activity log of conseillers numériques and médiateurs, through HTTP: record
//! (each bad field reported), list, edit within 7 days only, another person's
//! entry refused on every route, anonymous refused, CSV export, statistics
//! equal to a direct SQL recount (also on random data, property test).

use axum::http::StatusCode;
use passerelle_core::accounts::{Principal, Role};
use passerelle_core::activite::{self, model, stats::Stats, Input};
use proptest::prelude::*;

use crate::lieux::{copy, run};
use crate::lieux_pages::signed_in;
use crate::support::TestApp;

const ACCES: &str = "acces_internet_et_materiel_informatique";
const AIDE: &str = "aide_aux_demarches_administratives";

/// Imports the fixture's places; returns the id of `ext_id`.
async fn place(app: &TestApp, ext_id: &str, org: i64) -> i64 {
    if app.scalar_i64("SELECT COUNT(*) FROM lieux").await == 0 {
        let (code, _, err) = run(app, &["lieux", "import", &copy(app, "propre.csv")]);
        assert_eq!(code, 0, "{err}");
    }
    app.exec(&format!(
        "UPDATE lieux SET organisation_id = {org} WHERE ext_id = '{ext_id}'"
    ))
    .await
    .unwrap();
    app.scalar_i64(&format!("SELECT id FROM lieux WHERE ext_id = '{ext_id}'"))
        .await
}

pub(crate) fn form<'a>(day: &'a str, lieu: &'a str, extra: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut f = vec![
        ("jour", day),
        ("lieu_id", lieu),
        ("duree_minutes", "45"),
        ("nature", "individuel"),
        ("participants", ""),
        ("thematiques", AIDE),
        ("thematiques", ACCES),
        ("tranche_age", "60_69"),
        ("commune_insee", "33318"),
        ("statut", "retraite"),
        ("suivi", "ab12cd"),
    ];
    for (k, v) in extra {
        f.retain(|(fk, _)| fk != k || *k == "thematiques");
        f.push((k, v));
    }
    f
}

/// Statistics recounted with SQL over the rows matching `filter`.
async fn recount(app: &TestApp, filter: &str) -> Stats {
    let n = app
        .scalar_i64(&format!("SELECT COUNT(*) FROM activites WHERE {filter}"))
        .await;
    let minutes = app
        .scalar_i64(&format!(
            "SELECT CAST(COALESCE(SUM(duree_minutes), 0) AS BIGINT) FROM activites WHERE {filter}"
        ))
        .await;
    let people = app
        .scalar_i64(&format!(
            "SELECT CAST(COALESCE(SUM(participants), 0) AS BIGINT) FROM activites WHERE {filter}"
        ))
        .await;
    let mut months = Vec::new();
    let distinct: Vec<String> = match &app.core.db.pool {
        passerelle_core::Pool::Sqlite(p) => sqlx::query_scalar(&format!(
            "SELECT DISTINCT mois FROM activites WHERE {filter} ORDER BY mois"
        ))
        .fetch_all(p)
        .await
        .unwrap(),
        passerelle_core::Pool::Postgres(p) => sqlx::query_scalar(&format!(
            "SELECT DISTINCT mois FROM activites WHERE {filter} ORDER BY mois"
        ))
        .fetch_all(p)
        .await
        .unwrap(),
    };
    for m in distinct {
        let c = app
            .scalar_i64(&format!(
                "SELECT COUNT(*) FROM activites WHERE {filter} AND mois = '{m}'"
            ))
            .await;
        months.push((m, c));
    }
    let mut kinds = Vec::new();
    for (k, _) in model::NATURES {
        let c = app
            .scalar_i64(&format!(
                "SELECT COUNT(*) FROM activites WHERE {filter} AND nature = '{k}'"
            ))
            .await;
        kinds.push((k.to_string(), c));
    }
    let mut themes = Vec::new();
    for (k, _) in model::themes() {
        let c = app
            .scalar_i64(&format!(
                "SELECT COUNT(*) FROM activites WHERE {filter} AND (',' || thematiques || ',') LIKE '%,{k},%'"
            ))
            .await;
        if c > 0 {
            themes.push((k, c));
        }
    }
    Stats {
        accompagnements: n,
        minutes,
        personnes: people,
        par_mois: months,
        par_nature: kinds,
        par_thematique: themes,
    }
}

#[tokio::test]
async fn a_conseiller_records_lists_edits_and_exports_only_his_own_activity() {
    let app = TestApp::new().await;
    let (mut staff, org) = signed_in(&app, "lieu", "lieu", "mediateur@pessac.fr").await;
    let (mut other, other_org) = signed_in(&app, "lieu", "lieu", "accueil@bordeaux.fr").await;
    let (mut op, _) = signed_in(&app, "operateur", "operateur", "op@exemple.fr").await;
    let (mut funder, _) = signed_in(&app, "commanditaire", "commanditaire", "fin@gironde.fr").await;
    let lieu = place(&app, "mednum-2", org).await.to_string();
    let foreign = place(&app, "mednum-1", other_org).await.to_string();
    let today = passerelle_core::Horloge::systeme().today_paris().to_string();
    let mut anon = app.browser();

    // The form: defaults for the fewest taps, every input labelled, CSRF field.
    let page = staff.get("/activite/nouvelle").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("name=\"csrf_token\""));
    assert!(page.body.contains(&format!("value=\"{today}\"")));
    assert!(page
        .body
        .contains("id=\"nature-individuel\" name=\"nature\" value=\"individuel\" checked"));
    assert!(page.body.contains("name=\"duree_minutes\" value=\"30\""));
    assert!(
        page.body.contains(&format!("<option value=\"{lieu}\" selected>")),
        "only place preselected"
    );
    for id in [
        "jour",
        "duree_minutes",
        "participants",
        "lieu_id",
        "tranche_age",
        "statut",
        "commune_insee",
        "suivi",
    ] {
        assert!(page.body.contains(&format!("for=\"{id}\"")), "label of {id}");
    }

    // A valid record.
    let r = staff.post("/activite/nouvelle", &form(&today, &lieu, &[])).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(r.location(), Some("/activite?ok=enregistre"));
    let id = app.scalar_i64("SELECT MAX(id) FROM activites").await;
    assert_eq!(
        app.scalar_text(&format!(
            "SELECT thematiques || '|' || departement || '|' || suivi || '|' || mois FROM activites WHERE id = {id}"
        ))
        .await,
        format!("{AIDE},{ACCES}|33|AB12CD|{}", &today[..7])
    );
    // A workshop of 12.
    let r = staff
        .post(
            "/activite/nouvelle",
            &form(
                &today,
                "",
                &[
                    ("nature", "atelier"),
                    ("participants", "12"),
                    ("duree_minutes", "90"),
                    ("suivi", ""),
                ],
            ),
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);

    // Every bad field is reported at once.
    let bad = staff
        .post(
            "/activite/nouvelle",
            &[
                ("jour", "2999-01-01"),
                ("lieu_id", foreign.as_str()),
                ("duree_minutes", "0"),
                ("nature", "atelier"),
                ("participants", "0"),
                ("thematiques", "inconnue"),
                ("tranche_age", "?"),
                ("commune_insee", "123"),
                ("statut", "?"),
                ("suivi", "Martin"),
                ("cheque_id", "999"),
                ("mandat_utilisation_id", "999"),
            ],
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    for msg in [
        "La date ne peut pas être dans le futur.",
        "La durée est un nombre de minutes entre 1 et 480.",
        "Pour un atelier, indiquez le nombre de participants",
        "Thématique inconnue : « inconnue ».",
        "Choisissez une tranche d’âge",
        "Choisissez une situation",
        "Le code INSEE de la commune a 5 caractères",
        "Le code de suivi a 4 à 12 lettres et chiffres",
        "Ce lieu n’est pas un lieu de votre structure.",
        "Ce chèque n’a pas été encaissé dans un lieu de votre structure.",
        "Cette utilisation d’Aidants Connect n’est pas la vôtre.",
    ] {
        assert!(bad.body.contains(msg), "{msg} missing");
    }
    assert!(bad.body.contains("Le formulaire contient 11 erreurs"));
    let r = staff
        .post("/activite/nouvelle", &form(&today, &lieu, &[("jour", "hier")]))
        .await;
    assert!(r.body.contains("Indiquez la date au format AAAA-MM-JJ."));
    let r = staff
        .post(
            "/activite/nouvelle",
            &[
                ("jour", today.as_str()),
                ("duree_minutes", "30"),
                ("nature", "individuel"),
                ("tranche_age", "non_renseigne"),
                ("statut", "non_renseigne"),
            ],
        )
        .await;
    assert!(r.body.contains("Choisissez au moins une thématique."));
    assert_eq!(app.scalar_i64("SELECT COUNT(*) FROM activites").await, 2);

    // The list and the statistics.
    let list = staff.get("/activite").await;
    assert_eq!(list.status, StatusCode::OK);
    assert!(list.body.contains(&format!("href=\"/activite/{id}\"")));
    assert!(list.body.contains("2 h 15"), "45 + 90 minutes");
    assert!(list.body.contains(">13</p>"), "1 + 12 people");
    // The pseudonymous follow-up: the sessions of one code only.
    let followed = staff.get("/activite?suivi=ab12cd").await;
    assert_eq!(followed.status, StatusCode::OK);
    assert!(followed.body.contains(&format!("href=\"/activite/{id}\"")));
    assert!(
        !followed.body.contains("<td>90 min</td>"),
        "the workshop has no follow-up code"
    );
    assert!(list.body.contains("<td>90 min</td>"));

    // Edit within 7 days.
    assert_eq!(staff.get(&format!("/activite/{id}")).await.status, StatusCode::OK);
    let r = staff
        .post(
            &format!("/activite/{id}"),
            &form(&today, &lieu, &[("duree_minutes", "60")]),
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(
        app.scalar_i64(&format!("SELECT duree_minutes FROM activites WHERE id = {id}"))
            .await,
        60
    );
    let r = staff
        .post(
            &format!("/activite/{id}"),
            &form(&today, &lieu, &[("duree_minutes", "x")]),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);

    // Another person's entry: not found on every route; no change.
    assert_eq!(
        other.get(&format!("/activite/{id}")).await.status,
        StatusCode::NOT_FOUND
    );
    let r = other
        .post(&format!("/activite/{id}"), &form(&today, "", &[("duree_minutes", "5")]))
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = other.post(&format!("/activite/{id}/supprimer"), &[]).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert!(!other.get("/activite").await.body.contains(&format!("/activite/{id}\"")));
    assert!(!other.get("/activite.csv").await.body.contains("AB12CD"));
    // Another structure's statistics: refused.
    assert_eq!(
        other
            .get(&format!("/activite/structure?organisation={org}"))
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    // Roles that do not log activity.
    for b in [&mut op, &mut funder] {
        for path in [
            "/activite",
            "/activite/nouvelle",
            "/activite.csv",
            &format!("/activite/{id}"),
        ] {
            assert_eq!(b.get(path).await.status, StatusCode::FORBIDDEN, "{path}");
        }
        assert_eq!(
            b.post("/activite/nouvelle", &form(&today, "", &[])).await.status,
            StatusCode::FORBIDDEN
        );
        assert_eq!(
            b.post(&format!("/activite/{id}/supprimer"), &[]).await.status,
            StatusCode::FORBIDDEN
        );
    }
    assert_eq!(funder.get("/activite/structure").await.status, StatusCode::FORBIDDEN);
    // The opérateur reads any structure's statistics.
    let s = op.get(&format!("/activite/structure?organisation={org}")).await;
    assert_eq!(s.status, StatusCode::OK);
    assert!(s.body.contains("2 h 30"));
    // Anonymous: to the login page, or 401 for a form post.
    for path in [
        "/activite",
        "/activite/nouvelle",
        "/activite.csv",
        "/activite/structure",
        &format!("/activite/{id}"),
    ] {
        let r = anon.get(path).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{path}");
        assert_eq!(r.location(), Some("/connexion"));
    }
    // A form post without a session is refused (403: not signed in).
    assert_eq!(
        anon.post("/activite/nouvelle", &form(&today, "", &[])).await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        anon.post(&format!("/activite/{id}/supprimer"), &[]).await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        app.scalar_i64(&format!("SELECT duree_minutes FROM activites WHERE id = {id}"))
            .await,
        60
    );

    // The CSV export.
    let csv = staff.get("/activite.csv").await;
    assert_eq!(csv.status, StatusCode::OK);
    let mut lines = csv.body.lines();
    assert_eq!(
        lines.next().unwrap(),
        "date,lieu,durée (minutes),type,participants,thématiques,tranche d’âge,commune (code INSEE),département,situation,code de suivi,chèque lié,utilisation Aidants Connect liée"
    );
    let rows: Vec<&str> = lines.collect();
    assert_eq!(rows.len(), 2);
    assert!(rows.contains(&format!(
        "{today},Espace public numérique de Pessac,60,Accompagnement individuel,1,Aide aux démarches administratives ; Accès internet et matériel informatique,60 à 69 ans,33318,33,Retraité,AB12CD,,"
    ).as_str()), "{rows:?}");
    assert!(rows.iter().any(|r| r.contains(",90,Atelier collectif,12,")));
    // A place name imported as written (« =… » is data) comes out neutralised for spreadsheets.
    app.exec("UPDATE lieux SET nom = '=HYPERLINK(\"http://x\")' WHERE ext_id = 'mednum-2'")
        .await
        .unwrap();
    let csv = staff.get("/activite.csv").await.body;
    assert!(
        csv.contains(&format!("{today},\"'=HYPERLINK(\"\"http://x\"\")\",60,")),
        "{csv}"
    );

    // Statistics equal a direct recount, own and structure's.
    let who = Principal {
        account_id: app
            .scalar_i64("SELECT id FROM accounts WHERE email = 'mediateur@pessac.fr'")
            .await,
        role: Role::Lieu,
        organisation_id: org,
    };
    let own = activite::own_stats(&app.core, &who).await.unwrap();
    assert_eq!(own, recount(&app, &format!("compte_id = {}", who.account_id)).await);
    assert_eq!((own.accompagnements, own.minutes, own.personnes), (2, 150, 13));
    let st = activite::structure_stats(&app.core, &who, org).await.unwrap();
    assert_eq!(st, recount(&app, &format!("organisation_id = {org}")).await);
    let page = staff.get("/activite/structure").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("2 h 30") && page.body.contains(">13</p>"));

    // After 7 days: refused, unchanged.
    app.exec(&format!(
        "UPDATE activites SET created_at = created_at - {} WHERE id = {id}",
        8i64 * 24 * 3600 * 1_000_000
    ))
    .await
    .unwrap();
    assert!(!staff
        .get("/activite")
        .await
        .body
        .contains(&format!("href=\"/activite/{id}\"")));
    let r = staff.get(&format!("/activite/{id}")).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.body.contains("plus de 7 jours"));
    let r = staff
        .post(
            &format!("/activite/{id}"),
            &form(&today, &lieu, &[("duree_minutes", "5")]),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let r = staff.post(&format!("/activite/{id}/supprimer"), &[]).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        app.scalar_i64(&format!("SELECT duree_minutes FROM activites WHERE id = {id}"))
            .await,
        60
    );

    // Delete the other one (within 7 days).
    let second = app
        .scalar_i64(&format!("SELECT id FROM activites WHERE id <> {id}"))
        .await;
    let r = staff.post(&format!("/activite/{second}/supprimer"), &[]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(app.scalar_i64("SELECT COUNT(*) FROM activites").await, 1);

    // The journal: one entry per change, without personal data.
    let actions = app.journal_actions().await;
    assert_eq!(actions.iter().filter(|a| *a == "activite.creation").count(), 2);
    assert_eq!(actions.iter().filter(|a| *a == "activite.modification").count(), 1);
    assert_eq!(actions.iter().filter(|a| *a == "activite.suppression").count(), 1);
    let leaks = app
        .scalar_i64(
            "SELECT COUNT(*) FROM journal WHERE action LIKE 'activite.%' \
             AND (details LIKE '%AB12CD%' OR details LIKE '%33318%' OR details LIKE '%retraite%')",
        )
        .await;
    assert_eq!(leaks, 0);
}

#[tokio::test]
async fn the_commune_is_checked_against_the_loaded_referentiel() {
    let app = TestApp::new().await;
    let (mut staff, org) = signed_in(&app, "lieu", "lieu", "mediateur@pessac.fr").await;
    let lieu = place(&app, "mednum-2", org).await;
    // A loaded référentiel: an unknown commune is refused, a known one gives its département.
    app.exec(
        "INSERT INTO territoires_communes (code, nom, departement, region, codes_postaux, population) \
         VALUES ('2A004', 'Ajaccio', '2A', '94', '20000', 70000)",
    )
    .await
    .unwrap();
    let today = passerelle_core::Horloge::systeme().today_paris().to_string();
    let r = staff
        .post("/activite/nouvelle", &form(&today, "", &[("commune_insee", "33318")]))
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.body.contains("Aucune commune n’a le code INSEE 33318."));
    let ok = staff
        .post(
            "/activite/nouvelle",
            &form(&today, &lieu.to_string(), &[("commune_insee", "2a004")]),
        )
        .await;
    assert_eq!(ok.status, StatusCode::SEE_OTHER, "{}", ok.body);
    assert_eq!(
        app.scalar_text("SELECT commune_insee || '|' || departement FROM activites")
            .await,
        "2A004|2A"
    );
}

fn entry() -> impl Strategy<Value = (usize, i64, usize, i64, i64, Vec<bool>)> {
    (
        0..3usize,                                                   // author
        0..200i64,                                                   // days ago
        0..3usize,                                                   // kind
        1..=480i64,                                                  // minutes
        1..=40i64,                                                   // participants (workshops)
        proptest::collection::vec(proptest::bool::weighted(0.3), 9), // themes
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 8, max_shrink_iters: 32, ..ProptestConfig::default() })]
    #[test]
    fn statistics_equal_a_direct_recount(entries in proptest::collection::vec(entry(), 0..25)) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async {
            let app = TestApp::new().await;
            let mut who: Vec<Principal> = Vec::new();
            for (i, email) in ["a@lieu.fr", "b@lieu.fr", "c@autre.fr"].iter().enumerate() {
                let (id, _) = app.account("lieu", "lieu", email, false).await;
                let org = app.scalar_i64(&format!("SELECT organisation_id FROM accounts WHERE id = {id}")).await;
                // a and b share one organisation.
                let org = if i == 1 {
                    app.exec(&format!("UPDATE accounts SET organisation_id = {} WHERE id = {id}", who[0].organisation_id)).await.unwrap();
                    who[0].organisation_id
                } else { org };
                who.push(Principal { account_id: id, role: Role::Lieu, organisation_id: org });
            }
            let themes = model::themes();
            let today = passerelle_core::Horloge::systeme().today_paris();
            for (author, ago, kind, minutes, participants, picks) in &entries {
                let mut t: Vec<String> = themes.iter().zip(picks).filter(|(_, p)| **p).map(|((k, _), _)| k.clone()).collect();
                if t.is_empty() { t.push(themes[0].0.clone()); }
                let input = Input {
                    jour: today.saturating_sub(jiff::Span::new().days(*ago)).to_string(),
                    duree_minutes: minutes.to_string(),
                    nature: model::NATURES[*kind].0.to_string(),
                    participants: participants.to_string(),
                    thematiques: t,
                    tranche_age: "non_renseigne".into(),
                    statut: "non_renseigne".into(),
                    ..Input::default()
                };
                activite::record(&app.core, &who[*author], &input).await.unwrap().unwrap();
            }
            for p in &who {
                let own = activite::own_stats(&app.core, p).await.unwrap();
                prop_assert_eq!(own, recount(&app, &format!("compte_id = {}", p.account_id)).await);
                let st = activite::structure_stats(&app.core, p, p.organisation_id).await.unwrap();
                prop_assert_eq!(st, recount(&app, &format!("organisation_id = {}", p.organisation_id)).await);
            }
            Ok::<(), TestCaseError>(())
        })?;
    }
}

#[tokio::test]
async fn an_accompaniment_links_a_cheque_redeemed_at_a_place_of_the_structure_only() {
    use crate::pass::{call, ready, scene, ACCES as ACCES_LABEL};
    let app = TestApp::new().await;
    let s = ready(&app, scene(&app).await).await;
    let body = serde_json::json!({ "code": s.codes[0].2, "service": ACCES_LABEL }).to_string();
    let (st, v) = call(&app, "/api/v1/cheques/encaisser", Some(&s.key2), Some("a"), body).await;
    assert_eq!(st, StatusCode::CREATED, "{v}");
    let (mut staff, org) = signed_in(&app, "lieu", "lieu", "mediateur@pessac.fr").await;
    let (mut other, _) = signed_in(&app, "lieu", "lieu", "accueil@bordeaux.fr").await;
    let lieu = place(&app, "mednum-2", org).await.to_string();
    let cheque = app.scalar_i64("SELECT cheque_id FROM encaissements").await.to_string();
    let today = passerelle_core::Horloge::systeme().today_paris().to_string();

    // Offered in the form of the place's structure only.
    let page = staff.get("/activite/nouvelle").await;
    assert!(
        page.body.contains(&format!("<option value=\"{cheque}\" >Carnet ")),
        "cheque offered"
    );
    assert!(!other.get("/activite/nouvelle").await.body.contains("Carnet "));
    let r = other
        .post(
            "/activite/nouvelle",
            &form(&today, "", &[("cheque_id", cheque.as_str())]),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r
        .body
        .contains("Ce chèque n’a pas été encaissé dans un lieu de votre structure."));
    let r = staff
        .post(
            "/activite/nouvelle",
            &form(&today, &lieu, &[("cheque_id", cheque.as_str())]),
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(
        app.scalar_i64("SELECT COUNT(*) FROM activites WHERE cheque_id IS NOT NULL")
            .await,
        1
    );
    // The référentiel is loaded: the commune's département comes from it.
    assert_eq!(app.scalar_text("SELECT departement FROM activites").await, "33");
    let csv = staff.get("/activite.csv").await;
    assert!(csv.body.lines().nth(1).unwrap().ends_with(&format!(",{cheque},")));
}
