//! The directory seen by people and scripts: search API, pages, edits, upload,
//! official territories.

use std::path::Path;

use axum::http::StatusCode;

use crate::lieux::{copy, fixture, report, run};
use crate::support::TestApp;

fn haversine(a: (f64, f64), b: (f64, f64)) -> f64 {
    let (p1, p2) = (a.0.to_radians(), b.0.to_radians());
    let h = ((p2 - p1) / 2.0).sin().powi(2) + p1.cos() * p2.cos() * ((b.1 - a.1).to_radians() / 2.0).sin().powi(2);
    2.0 * 6_371_008.8 * h.sqrt().asin()
}

async fn api(b: &mut crate::support::Browser, query: &str) -> (StatusCode, serde_json::Value) {
    let r = b.get(&format!("/api/v1/lieux{query}")).await;
    (
        r.status,
        serde_json::from_str(&r.body).unwrap_or_else(|e| panic!("{e}: {}", r.body)),
    )
}

fn ids(v: &serde_json::Value) -> Vec<String> {
    v["resultats"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["id"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn search_sorts_by_distance_and_combines_filters() {
    let app = TestApp::new().await;
    for f in ["propre.csv", "lieux.json"] {
        let file = copy(&app, f);
        assert_eq!(run(&app, &["lieux", "import", &file]).0, 0);
    }
    let mut b = app.browser();
    // Around Bordeaux's town hall.
    let here = (44.8378, -0.5792);
    let (status, v) = api(&mut b, "?lat=44.8378&lon=-0.5792&rayon_km=30").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(v["total"], 4, "the Mérignac point has no coordinates: {v}");
    let mut last = 0.0;
    for h in v["resultats"].as_array().unwrap() {
        let d = h["distance_m"].as_f64().unwrap();
        let expected = haversine(
            here,
            (h["latitude"].as_f64().unwrap(), h["longitude"].as_f64().unwrap()),
        );
        assert!((d - expected).abs() <= 1.0, "{d} vs {expected}");
        assert!(d >= last, "sorted by distance");
        last = d;
    }
    assert_eq!(ids(&v)[0], "mednum-1");
    // A smaller radius drops the farther places.
    let (_, v) = api(&mut b, "?lat=44.8378&lon=-0.5792&rayon_km=3").await;
    assert_eq!(ids(&v), ["mednum-1", "json-1"]);
    // Filters combine (AND).
    let (_, v) = api(&mut b, "?services=Aide%20aux%20d%C3%A9marches%20administratives").await;
    let mut found = ids(&v);
    found.sort();
    assert_eq!(found, ["json-2", "mednum-1", "mednum-3"]);
    let (_, v) = api(&mut b, "?services=Aide%20aux%20d%C3%A9marches%20administratives|Utilisation%20s%C3%A9curis%C3%A9e%20du%20num%C3%A9rique&dispositif=Aidants%20Connect").await;
    assert_eq!(ids(&v), ["mednum-3"]);
    let (_, v) = api(&mut b, "?q=PESSAC").await;
    assert_eq!(ids(&v), ["mednum-2"]);
    let (_, v) = api(&mut b, "?q=33800").await;
    assert_eq!(ids(&v), ["json-1"]);
    let (_, v) = api(&mut b, "?pass_numerique=true").await;
    assert_eq!(v["total"], 0);
    // Pagination.
    let (_, v) = api(&mut b, "?par_page=2&page=2").await;
    assert_eq!(
        (v["total"].as_u64(), v["page"].as_u64(), v["par_page"].as_u64()),
        (Some(5), Some(2), Some(2))
    );
    assert_eq!(v["resultats"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn search_parameters_are_checked_one_by_one() {
    let app = TestApp::new().await;
    let mut b = app.browser();
    for (query, parameter) in [
        ("?lat=44.8", "lon"),
        ("?lon=-0.5", "lat"),
        ("?lat=abc&lon=1", "lat"),
        ("?lat=95&lon=1", "lat"),
        ("?rayon_km=5", "rayon_km"),
        ("?lat=44&lon=1&rayon_km=-3", "rayon_km"),
        ("?services=Cours%20de%20cuisine", "services"),
        ("?dispositif=Inconnu", "dispositif"),
        ("?pass_numerique=peut-etre", "pass_numerique"),
        ("?par_page=1000", "par_page"),
        ("?page=0", "page"),
        ("?q=a&q=b", "q"),
        ("?ville=Paris", "?"),
    ] {
        let (status, v) = api(&mut b, query).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}");
        assert_eq!(v["erreur"]["parametre"], parameter, "{query}: {v}");
        assert!(!v["erreur"]["message"].as_str().unwrap().is_empty());
    }
}

#[tokio::test]
async fn a_place_by_id_and_the_openapi_document() {
    let app = TestApp::new().await;
    let file = copy(&app, "propre.csv");
    run(&app, &["lieux", "import", &file]);
    let mut b = app.browser();
    let r = b.get("/api/v1/lieux/mednum-3").await;
    assert_eq!(r.status, StatusCode::OK);
    let v: serde_json::Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(v["pivot"], "W332001234");
    assert_eq!(v["dispositif_programmes_nationaux"], "Aidants Connect|France Services");
    assert_eq!(v["passerelle"]["departement"], "33");
    assert_eq!(v["passerelle"]["pass_numerique"], false);
    let r = b.get("/api/v1/lieux/inconnu").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert!(r.body.contains("lieu introuvable"));
    let r = b.get("/api/openapi.json").await;
    let doc: serde_json::Value = serde_json::from_str(&r.body).unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    let params: Vec<&str> = doc["paths"]["/api/v1/lieux"]["get"]["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    for p in [
        "lat",
        "lon",
        "rayon_km",
        "services",
        "publics",
        "pass_numerique",
        "dispositif",
        "ouvert_maintenant",
        "q",
        "page",
        "par_page",
    ] {
        assert!(params.contains(&p), "{p} documented");
    }
    assert!(doc["paths"]["/api/v1/lieux/{id}"].is_object());
}

#[tokio::test]
async fn every_instance_sees_a_change_as_soon_as_it_commits() {
    let app = TestApp::new().await;
    let mut first = app.browser();
    let config = crate::support::web_config();
    let second_router = passerelle_web::router(passerelle_web::AppState::new(app.core.clone(), config));
    let (_, v) = api(&mut first, "").await;
    assert_eq!(v["total"], 0);
    let file = copy(&app, "propre.csv");
    run(&app, &["lieux", "import", &file]);
    let (_, v) = api(&mut first, "").await;
    assert_eq!(v["total"], 3);
    let res = tower::ServiceExt::oneshot(
        second_router,
        axum::http::Request::get("/api/v1/lieux")
            .body(axum::body::Body::empty())
            .unwrap(),
    )
    .await
    .unwrap();
    let body = http_body_util::BodyExt::collect(res.into_body())
        .await
        .unwrap()
        .to_bytes();
    let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(v["total"], 3);
}

#[tokio::test]
async fn open_now_uses_the_opening_hours() {
    let app = TestApp::new().await;
    let dir = app.data_dir.parent().unwrap().to_path_buf();
    let file = dir.join("horaires.csv");
    std::fs::write(
        &file,
        "id,pivot,nom,commune,code_postal,adresse,date_maj,horaires\n\
         toujours,W332001234,Toujours ouvert,Pau,64000,1 rue,2024-01-01,24/7\n\
         jamais,W332001234,Jamais ouvert,Pau,64000,2 rue,2024-01-01,closed\n\
         illisible,W332001234,Horaires illisibles,Pau,64000,3 rue,2024-01-01,le matin\n",
    )
    .unwrap();
    let (code, r) = report(&app, &["lieux", "import", file.to_str().unwrap()]);
    assert_eq!(code, 0, "{r}");
    assert_eq!(r["avertissements"][0]["champ"], "horaires");
    let mut b = app.browser();
    let (_, v) = api(&mut b, "?ouvert_maintenant=true").await;
    assert_eq!(ids(&v), ["toujours"]);
    assert_eq!(v["resultats"][0]["ouvert_maintenant"], true);
    assert_eq!(v["resultats"][0]["etat"], "Ouvert maintenant");
    let (_, v) = api(&mut b, "?q=jamais").await;
    assert_eq!(v["resultats"][0]["ouvert_maintenant"], false);
    let (_, v) = api(&mut b, "?q=illisibles").await;
    assert!(v["resultats"][0]["ouvert_maintenant"].is_null());
}

#[tokio::test]
async fn search_page_and_place_page_work_without_javascript_and_escape_data() {
    let app = TestApp::new().await;
    let messy = copy(&app, "desordonne.csv");
    run(&app, &["lieux", "import", &messy, "--ignorer-invalides"]);
    let clean = copy(&app, "propre.csv");
    run(&app, &["lieux", "import", &clean]);
    let mut b = app.browser();
    let empty = b.get("/lieux").await;
    assert_eq!(empty.status, StatusCode::OK);
    assert!(empty.body.contains("<h1>Trouver un lieu près de chez moi</h1>"));
    assert!(!empty.body.contains("trouvé"), "no results before a search");
    // A commune: places in it and around it (Pessac and Lormont are within 30 km of Bordeaux), nearest first.
    let r = b.get("/lieux?q=bordeaux").await;
    assert!(r.body.contains("à moins de 30 km de bordeaux"), "{}", r.body);
    assert!(r.body.contains("href=\"/lieux/mednum-2\"") && r.body.contains("href=\"/lieux/mednum-3\""));
    let first = r.body.find("href=\"/lieux/mednum-1\"").unwrap();
    assert!(first < r.body.find("href=\"/lieux/mednum-2\"").unwrap());
    // A postcode works the same way; a name that is no commune is a text search.
    assert!(b.get("/lieux?q=33600").await.body.contains("de 33600"));
    let r = b.get("/lieux?q=m%C3%A9diath%C3%A8que").await;
    assert!(
        r.body.contains("lieux trouvés") && !r.body.contains("à moins de"),
        "{}",
        r.body
    );
    let r = b.get("/lieux?q=lyon").await;
    assert!(
        r.body.contains("&#60;script&#62;") || r.body.contains("&lt;script&gt;"),
        "names are escaped"
    );
    assert!(!r.body.contains("<script>alert"));
    // Around a point, with the distance.
    let r = b
        .get("/lieux?lat=44.8378&lon=-0.5792&services=Aide+aux+d%C3%A9marches+administratives")
        .await;
    assert!(r.body.contains("— à "), "{}", r.body);
    // The place page.
    let r = b.get("/lieux/mednum-1").await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.contains("<h1>Médiathèque de Mériadeck</h1>"));
    assert!(r.body.contains("10 h – 18 h"), "hours in words: {}", r.body);
    assert!(r.body.contains("openstreetmap.org/?mlat=44.8378"));
    assert_eq!(r.body.matches("<h1").count(), 1);
    assert_eq!(b.get("/lieux/inconnu").await.status, StatusCode::NOT_FOUND);
    assert_eq!(b.get("/static/app/geolocalisation.js").await.status, StatusCode::OK);
}

pub(crate) fn multipart(fields: &[(&str, Option<&str>, &[u8])]) -> (String, Vec<u8>) {
    let boundary = "----passerelle-test-boundary";
    let mut body = Vec::new();
    for (name, file, data) in fields {
        body.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
        match file {
            Some(f) => body.extend_from_slice(
                format!("Content-Disposition: form-data; name=\"{name}\"; filename=\"{f}\"\r\nContent-Type: text/csv\r\n\r\n").as_bytes(),
            ),
            None => body.extend_from_slice(format!("Content-Disposition: form-data; name=\"{name}\"\r\n\r\n").as_bytes()),
        }
        body.extend_from_slice(data);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

async fn upload(b: &mut crate::support::Browser, token: Option<&str>, file: &[u8]) -> crate::support::Response {
    let mut fields: Vec<(&str, Option<&str>, &[u8])> =
        vec![("fichier", Some("propre.csv"), file), ("source", None, b"Test")];
    if let Some(t) = token {
        // First, as the page's hidden field.
        fields.insert(0, ("csrf_token", None, t.as_bytes()));
    }
    let (ct, body) = multipart(&fields);
    b.post_multipart("/operateur/lieux/import", &ct, body).await
}

pub(crate) async fn signed_in(app: &TestApp, kind: &str, role: &str, email: &str) -> (crate::support::Browser, i64) {
    let (id, secret) = app.account(kind, role, email, true).await;
    let mut b = app.browser();
    b.login(email, crate::support::PASSWORD).await;
    let r = b
        .post(
            "/connexion/totp",
            &[("code", &crate::support::totp_code(secret.as_ref().unwrap(), 0))],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let org = app
        .scalar_i64(&format!("SELECT organisation_id FROM accounts WHERE id = {id}"))
        .await;
    (b, org)
}

#[tokio::test]
async fn the_operator_imports_by_upload_and_others_cannot() {
    let app = TestApp::new().await;
    let file = std::fs::read(fixture("propre.csv")).unwrap();
    let (mut op, _) = signed_in(&app, "operateur", "operateur", "op@exemple.fr").await;
    let page = op.get("/operateur/lieux/import").await;
    assert_eq!(page.status, StatusCode::OK);
    let token = op.cookie("passerelle_csrf").cloned().unwrap();
    // The token is a hidden field, the form's first, never in the URL (logs, Referer).
    assert!(
        page.body
            .contains(r#"action="/operateur/lieux/import" enctype="multipart/form-data""#),
        "{}",
        page.body
    );
    assert!(!page.body.contains("csrf_token="), "{}", page.body);
    let (ct, body) = multipart(&[("fichier", Some("propre.csv"), &file)]);
    let in_url = op
        .post_multipart(&format!("/operateur/lieux/import?csrf_token={token}"), &ct, body)
        .await;
    assert_eq!(
        in_url.status,
        StatusCode::FORBIDDEN,
        "a token in the URL is not accepted"
    );
    assert_eq!(
        upload(&mut op, None, &file).await.status,
        StatusCode::FORBIDDEN,
        "token required"
    );
    let r = upload(&mut op, Some(&token), &file).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(r.body.contains("Import terminé"), "{}", r.body);
    assert_eq!(app.scalar_i64("SELECT COUNT(*) FROM lieux").await, 3);
    let r = upload(&mut op, Some(&token), &file).await;
    assert!(
        r.body.contains("3 lignes lues : 3 valides, 0 invalide. Rien n&#39;a été écrit : le fichier ne change rien (0 lieu créé, 0 mis à jour, 3 inchangés)."),
        "{}",
        r.body
    );
    // A refused file: the summary says nothing was written and what would have been; each
    // problem is said once, folded, with its lines.
    let messy = std::fs::read(fixture("desordonne.csv")).unwrap();
    let r = upload(&mut op, Some(&token), &messy).await;
    assert!(
        r.body.contains(
            "7 lignes lues : 5 valides, 2 invalides. Rien n&#39;a été importé : 2 lignes sont invalides sur 7."
        ),
        "{}",
        r.body
    );
    assert!(
        r.body.contains("<details class=\"fr-mb-1w\"><summary>[code_postal]"),
        "{}",
        r.body
    );
    assert!(r.body.contains("<p>Ligne 5</p>"), "{}", r.body);
    // A spreadsheet saved as .xlsx instead of CSV: the format is named, not a missing column.
    let r = upload(
        &mut op,
        Some(&token),
        b"PK\x03\x04\x14\x00\x06\x00 contenu d'un classeur",
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(
        r.body.contains("format non reconnu (CSV ou JSON en UTF-8 attendu) : le fichier est un classeur (.xlsx, .ods) ou une archive zip"),
        "{}",
        r.body
    );

    let (mut place_staff, _) = signed_in(&app, "lieu", "lieu", "lieu@exemple.fr").await;
    assert_eq!(
        place_staff.get("/operateur/lieux/import").await.status,
        StatusCode::FORBIDDEN
    );
    let token = place_staff.cookie("passerelle_csrf").cloned().unwrap();
    assert_eq!(
        upload(&mut place_staff, Some(&token), &file).await.status,
        StatusCode::FORBIDDEN
    );
    let mut anon = app.browser();
    anon.get("/").await;
    let token = anon.cookie("passerelle_csrf").cloned().unwrap();
    assert_eq!(
        upload(&mut anon, Some(&token), &file).await.status,
        StatusCode::FORBIDDEN
    );
}

#[tokio::test]
async fn a_place_is_edited_by_its_own_staff_or_the_operator_only() {
    let app = TestApp::new().await;
    let file = copy(&app, "propre.csv");
    run(&app, &["lieux", "import", &file]);
    let (mut op, _) = signed_in(&app, "operateur", "operateur", "op@exemple.fr").await;
    let (mut staff, staff_org) = signed_in(&app, "lieu", "lieu", "lieu@exemple.fr").await;
    let (mut other, _) = signed_in(&app, "lieu", "lieu", "autre@exemple.fr").await;
    let (mut hub, _) = signed_in(&app, "hub", "hub", "hub@exemple.fr").await;
    let mut anon = app.browser();

    // Nobody but the opérateur before a responsible organisation is set.
    assert_eq!(
        staff.get("/lieux/mednum-2/modifier").await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        anon.get("/lieux/mednum-2/modifier").await.location(),
        Some("/connexion")
    );
    assert_eq!(op.get("/lieux/mednum-2/modifier").await.status, StatusCode::OK);
    let base = [
        ("horaires", "Mo-Fr 09:00-12:00"),
        ("telephone", "05 57 02 00 00"),
        ("services", "Accès internet et matériel informatique"),
    ];
    let mut with_owner: Vec<(&str, &str)> = base.to_vec();
    let org = staff_org.to_string();
    with_owner.push(("organisation", &org));
    let r = op.post("/lieux/mednum-2/modifier", &with_owner).await;
    assert_eq!(r.location(), Some("/lieux/mednum-2?ok=modifie"), "{}", r.body);
    // Issue 22: the page says the change is saved.
    let saved = op.get("/lieux/mednum-2?ok=modifie").await.body;
    assert!(
        saved.contains("Les modifications du lieu sont enregistrées et publiées."),
        "{saved}"
    );
    assert!(!op.get("/lieux/mednum-2").await.body.contains("sont enregistrées"));

    // Its staff now can; others cannot, on the page or the form.
    assert!(staff.get("/lieux/mednum-2").await.body.contains("Modifier ce lieu"));
    assert!(!other.get("/lieux/mednum-2").await.body.contains("Modifier ce lieu"));
    let edit = [
        ("horaires", "Mo-Sa 10:00-18:00; PH off"),
        ("telephone", "05 57 02 00 00"),
        ("courriels", "epn@pessac.fr\ncontact@pessac.fr"),
        ("services", "Accès internet et matériel informatique"),
        ("services", "Loisirs et créations numériques"),
    ];
    for b in [&mut other, &mut hub] {
        assert_eq!(b.get("/lieux/mednum-2/modifier").await.status, StatusCode::FORBIDDEN);
        assert_eq!(
            b.post("/lieux/mednum-2/modifier", &edit).await.status,
            StatusCode::FORBIDDEN
        );
    }
    assert_eq!(
        anon.post("/lieux/mednum-2/modifier", &edit).await.status,
        StatusCode::FORBIDDEN
    );
    // Staff may not hand the place to another organisation.
    let mut steal = edit.to_vec();
    steal.push(("organisation", "1"));
    assert_eq!(
        staff.post("/lieux/mednum-2/modifier", &steal).await.status,
        StatusCode::FORBIDDEN
    );

    let r = staff.post("/lieux/mednum-2/modifier", &edit).await;
    assert_eq!(r.location(), Some("/lieux/mednum-2?ok=modifie"), "{}", r.body);
    let v: serde_json::Value = serde_json::from_str(&staff.get("/api/v1/lieux/mednum-2").await.body).unwrap();
    assert_eq!(v["courriels"], "epn@pessac.fr|contact@pessac.fr");
    assert_eq!(v["horaires"], "Mo-Sa 10:00-18:00; PH off");
    assert_eq!(v["telephone"], "+33557020000");
    // The form shows the number as people read it, and stores it back as it was.
    let form = staff.get("/lieux/mednum-2/modifier").await.body;
    assert!(form.contains("name=\"telephone\" value=\"05 57 02 00 00\""), "{form}");
    assert_eq!(
        v["services"],
        "Loisirs et créations numériques|Accès internet et matériel informatique"
            .split('|')
            .rev()
            .collect::<Vec<_>>()
            .join("|")
    );
    assert_eq!(
        app.scalar_i64("SELECT COUNT(*) FROM journal WHERE action = 'lieux.modification'")
            .await,
        2
    );

    // Invalid values are refused with the standard's message, nothing changes.
    let bad = [
        ("telephone", "12"),
        ("services", "Accès internet et matériel informatique"),
    ];
    let r = staff.post("/lieux/mednum-2/modifier", &bad).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.body.contains("telephone"), "{}", r.body);
    let v: serde_json::Value = serde_json::from_str(&staff.get("/api/v1/lieux/mednum-2").await.body).unwrap();
    assert_eq!(v["telephone"], "+33557020000");
    assert_eq!(staff.get("/lieux/inconnu/modifier").await.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn an_edit_in_passerelle_survives_an_older_import_not_a_newer_one() {
    let app = TestApp::new().await;
    let file = copy(&app, "propre.csv");
    run(&app, &["lieux", "import", &file]);
    let (mut op, _) = signed_in(&app, "operateur", "operateur", "op@exemple.fr").await;
    let edit = [
        ("horaires", "Mo-Sa 10:00-18:00"),
        ("telephone", "05 57 02 00 99"),
        ("services", "Accès internet et matériel informatique"),
    ];
    let r = op.post("/lieux/mednum-2/modifier", &edit).await;
    assert_eq!(r.location(), Some("/lieux/mednum-2?ok=modifie"), "{}", r.body);

    // The same file again: its row (date_maj 2024-02-01) is older than the edit, which is kept and reported.
    let (code, r) = report(&app, &["lieux", "import", &file]);
    assert_eq!(code, 0);
    let kept = r["modifications_conservees"].as_array().unwrap();
    assert_eq!(kept.len(), 1, "{r}");
    assert_eq!(kept[0]["id"], "mednum-2");
    assert_eq!(kept[0]["ligne"], 3);
    assert_eq!(kept[0]["date_maj_fichier"], "2024-02-01");
    assert_eq!(
        (r["mis_a_jour"].as_u64(), r["applique"].as_bool()),
        (Some(0), Some(false))
    );
    assert_eq!(
        app.scalar_text("SELECT telephone FROM lieux WHERE ext_id = 'mednum-2'")
            .await,
        "+33557020099"
    );
    let (_, out, _) = run(&app, &["lieux", "import", &file]);
    assert!(out.contains("modification est conservée"), "{out}");

    // An edit older than the source's last update is replaced by the file's row.
    app.exec("UPDATE lieux SET date_maj = '2024-01-15' WHERE ext_id = 'mednum-2'")
        .await
        .unwrap();
    let (_, r) = report(&app, &["lieux", "import", &file]);
    assert_eq!(r["modifications_conservees"], serde_json::json!([]));
    assert_eq!(r["mis_a_jour"], 1);
    assert_eq!(
        app.scalar_text("SELECT telephone FROM lieux WHERE ext_id = 'mednum-2'")
            .await,
        "+33557020000"
    );
    assert_eq!(
        app.scalar_text("SELECT import_source FROM lieux WHERE ext_id = 'mednum-2'")
            .await,
        "propre.csv"
    );
}

#[tokio::test]
async fn codes_are_checked_against_the_official_territories() {
    let app = TestApp::new().await;
    let dataset = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../node_modules/@etalab/decoupage-administratif/data");
    assert!(
        dataset.exists(),
        "référentiel absent : lancez `npm ci` (scripts/test le fait)"
    );
    let (code, out, err) = run(
        &app,
        &["territoires", "charger", "--dossier", dataset.to_str().unwrap()],
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("109 départements"), "{out}");
    let dir = app.data_dir.parent().unwrap().to_path_buf();
    let file = dir.join("communes.csv");
    std::fs::write(
        &file,
        "id,pivot,nom,commune,code_postal,code_insee,adresse,date_maj\n\
         a,W332001234,EPN,Pessac,33600,,1 rue,2024-01-01\n\
         b,W332001234,Maison France Services,Saint-Denis,97400,93066,1 rue,2024-01-01\n\
         c,W332001234,Médiathèque,Bordeaux,33000,33063,1 rue,2024-01-01\n\
         d,W332001234,Tiers-lieu,Marseille,13001,13201,1 rue,2024-01-01\n\
         e,W332001234,Espace,Bordeaux,33000,33318,1 rue,2024-01-01\n\
         f,W332001234,Inconnu,Nulle-Part,33000,33999,1 rue,2024-01-01\n",
    )
    .unwrap();
    let (code, r) = report(&app, &["lieux", "import", file.to_str().unwrap()]);
    assert_eq!(code, 0, "{r}");
    let warnings: Vec<(u64, String)> = r["avertissements"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| (w["ligne"].as_u64().unwrap(), w["champ"].as_str().unwrap().to_string()))
        .collect();
    // Homonym: Saint-Denis (93) is not at 97400 (Saint-Denis de La Réunion).
    assert!(warnings.contains(&(3, "code_postal".into())), "{r}");
    assert!(
        warnings.contains(&(6, "commune".into())) && warnings.contains(&(6, "code_postal".into())),
        "{r}"
    );
    assert!(warnings.contains(&(7, "code_insee".into())), "{r}");
    assert!(
        !warnings.iter().any(|(l, _)| *l == 4 || *l == 5),
        "Bordeaux and Marseille 1er are right: {r}"
    );
    assert_eq!(
        r["normalisations"]["codes INSEE déduits du code postal et de la commune"],
        1
    );
    assert_eq!(
        app.scalar_text("SELECT code_insee FROM lieux WHERE ext_id = 'a'").await,
        "33318"
    );
}
