//! The resource centre for collectivités through HTTP: the opérateur writes in
//! Markdown, previews, publishes; the public searches (accents and case
//! ignored), filters by tag, never sees drafts; the HTML is sanitised; files
//! are checked by content and downloaded as sent; every other role and the
//! anonymous visitor are refused on every route of the opérateur.

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use http_body_util::BodyExt;
use tower::ServiceExt;

use crate::lieux_pages::{multipart, signed_in};
use crate::support::{Browser, Response, TestApp};

const PDF: &[u8] = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n";
const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0\x1f\x15\xc4\x89\xff\xfe";

const BODY: &str = "Une trame **à adapter** par votre conseil.\n\n\
## Les étapes\n\n\
1. Voter la délibération\n2. Commander les carnets\n\n\
[Service public](https://www.service-public.fr) et [piège](javascript:alert(1))\n\n\
<script>alert('xss')</script>\n\n<img src=x onerror=\"alert(2)\">\n\n\
<p style=\"color:red\" onclick=\"alert(3)\">Paragraphe</p>\n";

fn article<'a>(titre: &'a str, tags: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("titre", titre),
        ("slug", ""),
        (
            "resume",
            "Une trame de délibération pour financer des carnets de chèques.",
        ),
        ("corps", BODY),
        ("tags", tags),
        ("action", "enregistrer"),
    ]
}

/// Creates an article through the form; returns its number.
async fn create(op: &mut Browser, titre: &str, tags: &str) -> i64 {
    let r = op.post("/operateur/ressources/nouvelle", &article(titre, tags)).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let loc = r.location().unwrap().to_string();
    let id = loc
        .trim_start_matches("/operateur/ressources/")
        .split('?')
        .next()
        .unwrap();
    id.parse().unwrap()
}

async fn publish(op: &mut Browser, id: i64, on: bool) {
    let r = op
        .post(
            &format!("/operateur/ressources/{id}/publication"),
            &[("publier", if on { "oui" } else { "non" })],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
}

async fn upload(b: &mut Browser, id: i64, name: &str, data: &[u8], with_token: bool) -> Response {
    let token = b.csrf_token().await;
    let mut fields: Vec<(&str, Option<&str>, &[u8])> = vec![("fichier", Some(name), data)];
    if with_token {
        fields.insert(0, ("csrf_token", None, token.as_bytes()));
    }
    let (ct, body) = multipart(&fields);
    b.post_multipart(&format!("/operateur/ressources/{id}/fichiers"), &ct, body)
        .await
}

/// A GET whose body is kept as bytes.
async fn get_bytes(app: &TestApp, b: &Browser, path: &str) -> (StatusCode, axum::http::HeaderMap, Vec<u8>) {
    let req = Request::get(path)
        .header(header::COOKIE, b.cookie_header())
        .body(Body::empty())
        .unwrap();
    let res = app.router.clone().oneshot(req).await.unwrap();
    let status = res.status();
    let headers = res.headers().clone();
    let bytes = res.into_body().collect().await.unwrap().to_bytes().to_vec();
    (status, headers, bytes)
}

#[tokio::test]
async fn the_operator_writes_previews_publishes_and_the_public_searches_and_filters() {
    let app = TestApp::new().await;
    let (mut op, _) = signed_in(&app, "operateur", "operateur", "op@exemple.fr").await;
    let mut public = app.browser();

    assert_eq!(op.get("/operateur/ressources").await.status, StatusCode::OK);
    let form = op.get("/operateur/ressources/nouvelle").await;
    assert_eq!(form.status, StatusCode::OK);
    assert!(form
        .body
        .contains("<label class=\"fr-label\" for=\"corps\">Texte, en Markdown"));

    // Preview: rendered and sanitised, nothing written.
    let mut fields = article("Délibération type : financer le Pass Numérique", "");
    fields.retain(|(k, _)| *k != "action");
    fields.push(("action", "apercu"));
    let r = op.post("/operateur/ressources/nouvelle", &fields).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(r.body.contains("Aperçu, non enregistré"));
    assert!(r.body.contains("<strong>à adapter</strong>"), "{}", r.body);
    let shown = &r.body[r.body.find("Aperçu, non enregistré").unwrap()..];
    assert!(!shown.contains("alert(") && !shown.contains("javascript:"), "{shown}");
    assert_eq!(app.scalar_i64("SELECT COUNT(*) FROM ressources").await, 0);

    // Every bad field at once.
    let r = op
        .post(
            "/operateur/ressources/nouvelle",
            &[("titre", ""), ("resume", ""), ("corps", ""), ("action", "enregistrer")],
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    for m in ["Indiquez un titre.", "Indiquez un résumé", "Écrivez le texte"] {
        assert!(r.body.contains(m), "{m}: {}", r.body);
    }

    let id = create(
        &mut op,
        "Délibération type : financer le Pass Numérique",
        "Pass Numérique, Délibération",
    )
    .await;
    let slug = "deliberation-type-financer-le-pass-numerique";
    assert_eq!(
        app.scalar_text(&format!("SELECT slug FROM ressources WHERE id = {id}"))
            .await,
        slug
    );
    // Same address twice: refused, in French.
    let r = op
        .post(
            "/operateur/ressources/nouvelle",
            &article("Délibération type : financer le Pass Numérique", ""),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(
        r.body.contains("Une autre ressource a déjà cette adresse"),
        "{}",
        r.body
    );

    // A draft: not found for the public, shown to the opérateur.
    assert_eq!(
        public.get(&format!("/ressources/{slug}")).await.status,
        StatusCode::NOT_FOUND
    );
    assert!(!public.get("/ressources").await.body.contains("Délibération type"));
    let r = op.get(&format!("/ressources/{slug}")).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.contains("Brouillon"));
    assert!(op.get("/operateur/ressources").await.body.contains("Délibération type"));

    publish(&mut op, id, true).await;
    let r = public.get(&format!("/ressources/{slug}")).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.contains("<h2>Les étapes</h2>"), "{}", r.body);
    assert!(
        r.body
            .contains(r#"<a href="https://www.service-public.fr" rel="noopener noreferrer">Service public</a>"#),
        "{}",
        r.body
    );
    for bad in [
        "alert(",
        "<script>alert",
        "onerror",
        "javascript:",
        "onclick",
        "style=\"color",
    ] {
        assert!(!r.body.contains(bad), "{bad} in {}", r.body);
    }
    assert!(r.body.contains("Paragraphe"));

    // Search: accents and case ignored, every word must match.
    let r = op
        .post(
            "/operateur/ressources/nouvelle",
            &[
                ("titre", "Devenir une structure Aidants Connect"),
                ("resume", "Les étapes de l’habilitation."),
                ("corps", "Former les **aidants**, puis conclure des mandats."),
                ("tags", "Aidants Connect"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let second = app.scalar_i64("SELECT MAX(id) FROM ressources").await;
    publish(&mut op, second, true).await;
    for q in [
        "DELIBERATION",
        "délibérâtion",
        "numerique%20financer",
        "carnets%20deliberation",
    ] {
        let r = public.get(&format!("/ressources?q={q}")).await;
        assert_eq!(r.status, StatusCode::OK);
        assert!(r.body.contains("Délibération type"), "{q}: {}", r.body);
        assert!(!r.body.contains("Devenir une structure"), "{q}");
    }
    let r = public.get("/ressources?q=aidants").await;
    assert!(r.body.contains("Devenir une structure") && !r.body.contains("Délibération type"));
    let r = public.get("/ressources?q=introuvable").await;
    assert!(r.body.contains("Aucune ressource ne correspond"));
    assert!(r
        .body
        .contains("<label class=\"fr-label\" for=\"recherche-ressources\">"));

    // Tags: listed with their counts, filter.
    let r = public.get("/ressources").await;
    assert!(r.body.contains("2 ressources"), "{}", r.body);
    assert!(r.body.contains("pass numérique (1)") && r.body.contains("aidants connect (1)"));
    let r = public.get("/ressources?tag=pass+num%C3%A9rique").await;
    assert!(
        r.body.contains("Délibération type") && !r.body.contains("Devenir une structure"),
        "{}",
        r.body
    );
    let r = public.get("/ressources?tag=aidants+connect&q=deliberation").await;
    assert!(r.body.contains("Aucune ressource ne correspond"));

    // Edit, unpublish, delete: each journaled.
    let mut edit = article("Modèle de délibération", "délibération");
    edit[1] = ("slug", "modele-deliberation");
    let r = op.post(&format!("/operateur/ressources/{id}"), &edit).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(
        public.get("/ressources/modele-deliberation").await.status,
        StatusCode::OK
    );
    assert_eq!(
        public.get(&format!("/ressources/{slug}")).await.status,
        StatusCode::NOT_FOUND
    );
    assert!(public
        .get("/ressources?q=modele")
        .await
        .body
        .contains("Modèle de délibération"));
    publish(&mut op, id, false).await;
    assert_eq!(
        public.get("/ressources/modele-deliberation").await.status,
        StatusCode::NOT_FOUND
    );
    assert!(!public
        .get("/ressources?q=modele")
        .await
        .body
        .contains("Modèle de délibération"));
    let r = op.post(&format!("/operateur/ressources/{id}/suppression"), &[]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(
        op.get(&format!("/operateur/ressources/{id}")).await.status,
        StatusCode::NOT_FOUND
    );
    let actions = app.journal_actions().await;
    for a in [
        "ressource.creation",
        "ressource.publication",
        "ressource.modification",
        "ressource.depublication",
        "ressource.suppression",
    ] {
        assert!(actions.iter().any(|x| x == a), "{a} in {actions:?}");
    }
}

#[tokio::test]
async fn files_are_checked_by_content_and_downloaded_as_sent() {
    let app = TestApp::new().await;
    let (mut op, _) = signed_in(&app, "operateur", "operateur", "op@exemple.fr").await;
    let mut public = app.browser();
    let id = create(&mut op, "Accueillir un conseiller numérique", "conseiller numérique").await;
    let slug = "accueillir-un-conseiller-numerique";
    publish(&mut op, id, true).await;

    assert_eq!(
        upload(&mut op, id, "guide.pdf", PDF, false).await.status,
        StatusCode::FORBIDDEN,
        "token required"
    );
    let r = upload(&mut op, id, "Guide d'accueil (version 2).pdf", PDF, true).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let r = upload(&mut op, id, "photo.png", PNG, true).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let csv = "commune;montant\n33063;1000\n".as_bytes();
    assert_eq!(
        upload(&mut op, id, "budget.csv", csv, true).await.status,
        StatusCode::SEE_OTHER
    );

    // Refused types, whatever the name says.
    for (name, data) in [
        ("page.pdf", &b"<html><script>alert(1)</script></html>"[..]),
        ("outil.exe", &b"MZ\x90\0\x03\0\0\0"[..]),
        ("page.csv", &b"<html><body>x</body></html>"[..]),
        ("notes.txt", &b"commune;montant\n"[..]),
    ] {
        let r = upload(&mut op, id, name, data, true).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{name}");
        assert!(r.body.contains("Type de fichier refusé"), "{name}: {}", r.body);
    }
    // Too large: by the domain, and by the route's body limit.
    let mut big = PDF.to_vec();
    big.resize(10 * 1024 * 1024 + 1, b' ');
    let r = upload(&mut op, id, "gros.pdf", &big, true).await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(
        r.body.contains("Fichier trop volumineux : 10 Mo au plus."),
        "{}",
        r.body
    );
    big.resize(11 * 1024 * 1024, b' ');
    let r = upload(&mut op, id, "tres-gros.pdf", &big, true).await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(r.body.contains("Fichier trop volumineux"), "{}", r.body);
    assert_eq!(app.scalar_i64("SELECT COUNT(*) FROM ressources_fichiers").await, 3);

    // The public page lists them with their sizes; downloads give the same bytes.
    let page = public.get(&format!("/ressources/{slug}")).await;
    assert!(page.body.contains("Documents à télécharger"));
    assert!(
        page.body.contains("Guide d&#39;accueil (version 2).pdf"),
        "{}",
        page.body
    );
    assert!(page.body.contains("PDF – 45 octets"), "{}", page.body);
    assert!(page.body.contains("CSV – 27 octets"), "{}", page.body);
    let ids: Vec<i64> = match &app.core.db.pool {
        passerelle_core::Pool::Sqlite(p) => sqlx::query_scalar("SELECT id FROM ressources_fichiers ORDER BY id")
            .fetch_all(p)
            .await
            .unwrap(),
        passerelle_core::Pool::Postgres(p) => sqlx::query_scalar("SELECT id FROM ressources_fichiers ORDER BY id")
            .fetch_all(p)
            .await
            .unwrap(),
    };
    let (pdf, png) = (ids[0], ids[1]);
    let (status, headers, bytes) = get_bytes(&app, &public, &format!("/ressources/{slug}/fichiers/{pdf}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(bytes, PDF);
    assert_eq!(headers[header::CONTENT_TYPE], "application/pdf");
    assert_eq!(
        headers[header::CONTENT_DISPOSITION],
        "attachment; filename=\"guide-d-accueil-version-2.pdf\""
    );
    assert_eq!(headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
    let (status, headers, bytes) = get_bytes(&app, &public, &format!("/ressources/{slug}/fichiers/{png}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(bytes, PNG);
    assert_eq!(headers[header::CONTENT_TYPE], "image/png");
    // A file of another article, or an unknown one: not found.
    let other = create(&mut op, "Autre ressource", "").await;
    publish(&mut op, other, true).await;
    assert_eq!(
        public
            .get(&format!("/ressources/autre-ressource/fichiers/{pdf}"))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        public.get(&format!("/ressources/{slug}/fichiers/999999")).await.status,
        StatusCode::NOT_FOUND
    );

    // A draft's files are hidden from the public, not from the opérateur.
    publish(&mut op, id, false).await;
    let path = format!("/ressources/{slug}/fichiers/{pdf}");
    assert_eq!(public.get(&path).await.status, StatusCode::NOT_FOUND);
    assert_eq!(op.get(&path).await.status, StatusCode::OK);

    let r = op
        .post(&format!("/operateur/ressources/{id}/fichiers/{pdf}/suppression"), &[])
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(op.get(&path).await.status, StatusCode::NOT_FOUND);
    let actions = app.journal_actions().await;
    assert_eq!(actions.iter().filter(|a| *a == "ressource.fichier_ajout").count(), 3);
    assert_eq!(actions.iter().filter(|a| *a == "ressource.fichier_retrait").count(), 1);
}

#[tokio::test]
async fn only_the_operator_manages_resources() {
    let app = TestApp::new().await;
    let (mut op, _) = signed_in(&app, "operateur", "operateur", "op@exemple.fr").await;
    let id = create(&mut op, "Brouillon secret", "interne").await;
    assert_eq!(
        upload(&mut op, id, "a.pdf", PDF, true).await.status,
        StatusCode::SEE_OTHER
    );
    let file: i64 = app.scalar_i64("SELECT MAX(id) FROM ressources_fichiers").await;

    let gets = [
        "/operateur/ressources".to_string(),
        "/operateur/ressources/nouvelle".to_string(),
        format!("/operateur/ressources/{id}"),
    ];
    let edit = article("Piraté", "");
    let posts: Vec<(String, Vec<(&str, &str)>)> = vec![
        ("/operateur/ressources/nouvelle".into(), article("Intrus", "")),
        (format!("/operateur/ressources/{id}"), edit),
        (
            format!("/operateur/ressources/{id}/publication"),
            vec![("publier", "oui")],
        ),
        (format!("/operateur/ressources/{id}/suppression"), vec![]),
        (
            format!("/operateur/ressources/{id}/fichiers/{file}/suppression"),
            vec![],
        ),
    ];
    let public_paths = [
        "/ressources/brouillon-secret".to_string(),
        format!("/ressources/brouillon-secret/fichiers/{file}"),
    ];
    for (n, (kind, role)) in [
        ("lieu", "lieu"),
        ("commanditaire", "commanditaire"),
        ("prescripteur", "prescripteur"),
        ("hub", "hub"),
    ]
    .into_iter()
    .enumerate()
    {
        let (mut other, _) = signed_in(&app, kind, role, &format!("autre{n}@exemple.fr")).await;
        for p in &gets {
            assert_eq!(other.get(p).await.status, StatusCode::FORBIDDEN, "{role} GET {p}");
        }
        for (p, f) in &posts {
            assert_eq!(other.post(p, f).await.status, StatusCode::FORBIDDEN, "{role} POST {p}");
        }
        assert_eq!(
            upload(&mut other, id, "b.pdf", PDF, true).await.status,
            StatusCode::FORBIDDEN,
            "{role} upload"
        );
        for p in &public_paths {
            assert_eq!(other.get(p).await.status, StatusCode::NOT_FOUND, "{role} GET {p}");
        }
    }
    let mut anonymous = app.browser();
    for p in &gets {
        let r = anonymous.get(p).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "anonymous GET {p}");
        assert_eq!(r.location(), Some("/connexion"));
    }
    for (p, f) in &posts {
        assert_eq!(
            anonymous.post(p, f).await.status,
            StatusCode::FORBIDDEN,
            "anonymous POST {p}"
        );
    }
    assert_eq!(
        upload(&mut anonymous, id, "b.pdf", PDF, true).await.status,
        StatusCode::FORBIDDEN
    );
    for p in &public_paths {
        assert_eq!(
            anonymous.get(p).await.status,
            StatusCode::NOT_FOUND,
            "anonymous GET {p}"
        );
    }
    // Nothing changed.
    assert_eq!(app.scalar_i64("SELECT COUNT(*) FROM ressources").await, 1);
    assert_eq!(app.scalar_i64("SELECT COUNT(*) FROM ressources_fichiers").await, 1);
    assert_eq!(
        app.scalar_i64("SELECT COUNT(*) FROM ressources WHERE publie_at IS NOT NULL")
            .await,
        0
    );
    assert_eq!(
        app.scalar_text("SELECT titre FROM ressources").await,
        "Brouillon secret"
    );
}

#[tokio::test]
async fn the_demo_publishes_four_articles_for_collectivites() {
    let app = TestApp::new().await;
    passerelle_core::demo::load_if_empty(&app.core).await.unwrap().unwrap();
    let mut public = app.browser();
    let r = public.get("/ressources").await;
    assert!(r.body.contains("4 ressources"), "{}", r.body);
    for t in [
        "Guide : financer des Pass Numérique",
        "Modèle de délibération pour financer le Pass Numérique",
        "Accueillir un conseiller numérique",
        "Devenir une structure habilitée Aidants Connect",
    ] {
        assert!(r.body.contains(t), "{t}");
    }
    assert!(r.body.contains("href=\"/ressources\""), "menu link");
    let r = public.get("/ressources/deliberation-type-pass-numerique").await;
    assert!(r.body.contains("budget-pass-numerique.csv"), "{}", r.body);
    assert!(public
        .get("/ressources?q=habilitation")
        .await
        .body
        .contains("Aidants Connect"));
}

#[tokio::test]
async fn the_public_list_is_paginated_newest_first() {
    use passerelle_core::accounts::{Principal, Role};
    use passerelle_core::ressources::{edit, model::Input};

    let app = TestApp::new().await;
    let (account, _) = app.account("operateur", "operateur", "op@exemple.fr", true).await;
    let org = app
        .scalar_i64(&format!("SELECT organisation_id FROM accounts WHERE id = {account}"))
        .await;
    let op = Principal {
        account_id: account,
        role: Role::Operateur,
        organisation_id: org,
    };
    for n in 1..=12 {
        let input = Input {
            titre: format!("Fiche pratique numéro {n:02}"),
            resume: "Une fiche.".into(),
            corps: "Du texte.".into(),
            tags: "fiche".into(),
            ..Default::default()
        };
        let id = edit::create(&app.core, &op, &input).await.unwrap().unwrap();
        edit::set_published(&app.core, &op, id, true).await.unwrap();
    }
    let mut public = app.browser();
    let first = public.get("/ressources?tag=fiche").await;
    assert!(first.body.contains("12 ressources"), "{}", first.body);
    assert_eq!(first.body.matches("class=\"fr-card__title\"").count(), 10);
    assert!(first.body.contains("Fiche pratique numéro 12") && !first.body.contains("Fiche pratique numéro 02"));
    assert!(
        first.body.contains("href=\"/ressources?tag=fiche&#38;page=2\""),
        "{}",
        first.body
    );
    let second = public.get("/ressources?tag=fiche&page=2").await;
    assert_eq!(second.body.matches("class=\"fr-card__title\"").count(), 2);
    assert!(second.body.contains("Fiche pratique numéro 01") && second.body.contains("Fiche pratique numéro 02"));
    assert!(second.body.contains("Page précédente") && !second.body.contains("Page suivante"));
}
