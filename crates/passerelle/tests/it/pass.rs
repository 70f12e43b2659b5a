//! Pass Numérique through the command line and the cheque API: order, issue,
//! payment, hand-out, check and redeem exactly once.

use std::path::Path;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use serde_json::{json, Value};

use crate::lieux::{copy, run};
use crate::support::pass_numerique::{cli_order, redeem_request};
use crate::support::{cli_json as json_of, cli_ok as ok};
use crate::support::{cli_organisation, load_territories, Response, TestApp, BASE};

const AIDE: &str = "Aide aux démarches administratives";
pub const ACCES: &str = "Accès internet et matériel informatique";

/// Everything a place needs to redeem: territories, organisations, places, a
/// paid and issued order of 3 booklets of 10 cheques, booklet 1 handed out,
/// mednum-1 and mednum-2 qualified with an API key each.
pub struct Scene {
    pub order: i64,
    pub first_booklet: i64,
    /// (booklet, rank, grouped code), in order.
    pub codes: Vec<(i64, i64, String)>,
    pub key1: String,
    pub key2: String,
    pub prescriber: String,
}

pub async fn scene(app: &TestApp) -> Scene {
    load_territories(app);
    let funder = cli_organisation(app, "commanditaire", "Département de la Gironde");
    let prescriber = cli_organisation(app, "prescripteur", "CCAS de Pessac");
    let file = copy(app, "propre.csv");
    ok(app, &["lieux", "import", &file]);

    let order = cli_order(
        app,
        &funder,
        3,
        ("2020-01-01", "2099-12-31"),
        "33063,33318",
        &["--prescripteurs", &prescriber, "--publics", "seniors,demandeurs-emploi"],
    );
    let id = order["id"].as_i64().unwrap();
    assert_eq!(order["devis"]["total_centimes"], 31_200, "3 × 10 × 10 € + 4 %");
    let codes_file = app.data_dir.parent().unwrap().join("codes.csv");
    let pdf = app.data_dir.parent().unwrap().join("carnets.pdf");
    let fonts = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../node_modules/dejavu-fonts-ttf/ttf");
    let issued = json_of(
        app,
        &[
            "commandes",
            "emettre",
            &id.to_string(),
            "--codes",
            codes_file.to_str().unwrap(),
            "--pdf",
            pdf.to_str().unwrap(),
            "--polices",
            fonts.to_str().unwrap(),
            "--url-base",
            BASE,
            "--traits-de-coupe",
        ],
    );
    // The booklets' PDF (with crop marks): a cover and a page of cheques for each of the 3 booklets.
    let bytes = std::fs::read(&pdf).unwrap();
    assert!(bytes.starts_with(b"%PDF-"));
    let pages = bytes
        .windows(9)
        .any(|w| w.starts_with(b"/Count 6") && !w[8].is_ascii_digit());
    assert!(pages, "6 pages attendues");
    assert_eq!(issued["emission"]["cheques"], 30);
    assert_eq!(issued["emission"]["etat_des_cheques"], "en_attente");
    let first = issued["emission"]["premier_carnet"].as_i64().unwrap();
    let text = std::fs::read_to_string(&codes_file).unwrap();
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("carnet,rang,code,url"));
    let codes: Vec<(i64, i64, String)> = lines
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            assert_eq!(f[3], format!("{BASE}/c/{}", f[2].replace('-', "")));
            (f[0].parse().unwrap(), f[1].parse().unwrap(), f[2].to_string())
        })
        .collect();
    assert_eq!(codes.len(), 30);

    Scene {
        order: id,
        first_booklet: first,
        codes,
        key1: String::new(),
        key2: String::new(),
        prescriber,
    }
}

/// Pays, allots, hands out booklet 1, qualifies two places and gives them keys.
pub async fn ready(app: &TestApp, mut s: Scene) -> Scene {
    let id = s.order.to_string();
    ok(app, &["commandes", "payer", &id, "--reference", "VIR-2026-0042"]);
    let (first, last) = (s.first_booklet.to_string(), (s.first_booklet + 2).to_string());
    ok(
        app,
        &[
            "carnets",
            "attribuer",
            "--commande",
            &id,
            "--prescripteur",
            &s.prescriber,
            "--de",
            &first,
            "--a",
            &last,
        ],
    );
    ok(
        app,
        &[
            "carnets",
            "remettre",
            &first,
            "--public",
            "seniors",
            "--commune",
            "33318",
            "--tranche-age",
            "65-74",
        ],
    );
    for p in ["mednum-1", "mednum-2", "mednum-3"] {
        ok(app, &["lieux", "qualifier", p]);
    }
    s.key1 = json_of(app, &["lieux", "cle-api", "mednum-1"])["cle"]
        .as_str()
        .unwrap()
        .to_string();
    s.key2 = json_of(app, &["lieux", "cle-api", "mednum-2"])["cle"]
        .as_str()
        .unwrap()
        .to_string();
    s
}

pub async fn call(
    app: &TestApp,
    path: &str,
    key: Option<&str>,
    idem: Option<&str>,
    body: String,
) -> (StatusCode, Value) {
    let mut req = Request::post(path).header(header::CONTENT_TYPE, "application/json");
    if let Some(k) = key {
        req = req.header(header::AUTHORIZATION, format!("Bearer {k}"));
    }
    if let Some(i) = idem {
        req = req.header("idempotency-key", i);
    }
    let Response { status, body, .. } = app.browser().send(req.body(Body::from(body)).unwrap()).await;
    (
        status,
        serde_json::from_str(&body).unwrap_or_else(|_| json!({ "brut": body })),
    )
}

async fn verify(app: &TestApp, key: &str, code: &str) -> Value {
    let (status, v) = call(
        app,
        "/api/v1/cheques/verifier",
        Some(key),
        None,
        json!({ "code": code }).to_string(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    v
}

async fn redeem(app: &TestApp, key: &str, idem: &str, code: &str, service: &str) -> (StatusCode, Value) {
    let body = json!({ "code": code, "service": service }).to_string();
    call(app, "/api/v1/cheques/encaisser", Some(key), Some(idem), body).await
}

#[tokio::test]
async fn a_cheque_goes_from_order_to_redemption_exactly_once() {
    let app = TestApp::new().await;
    let s = scene(&app).await;
    let code = s.codes[0].2.clone();

    // Before payment nothing is active; the places are not qualified either.
    let key0 = {
        ok(
            &app,
            &[
                "carnets",
                "remettre",
                &s.first_booklet.to_string(),
                "--public",
                "seniors",
                "--commune",
                "33318",
            ],
        );
        json_of(&app, &["lieux", "cle-api", "mednum-1"])["cle"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert_eq!(verify(&app, &key0, &code).await["motif"], "cheque_non_actif");
    let paid = json_of(
        &app,
        &["commandes", "payer", &s.order.to_string(), "--reference", "VIR-1"],
    );
    assert!(paid["facture"]["numero"].as_str().unwrap().starts_with("FAC-"));
    assert_eq!(verify(&app, &key0, &code).await["motif"], "lieu_non_qualifie");
    let (code_, _, err) = run(
        &app,
        &["commandes", "payer", &s.order.to_string(), "--reference", "VIR-2"],
    );
    assert_eq!(code_, 2);
    assert!(err.contains("déjà payée"), "{err}");
    for p in ["mednum-1", "mednum-2", "mednum-3"] {
        ok(&app, &["lieux", "qualifier", p]);
    }
    let key1 = key0;
    let key2 = json_of(&app, &["lieux", "cle-api", "mednum-2"])["cle"]
        .as_str()
        .unwrap()
        .to_string();
    let key3 = json_of(&app, &["lieux", "cle-api", "mednum-3"])["cle"]
        .as_str()
        .unwrap()
        .to_string();

    // Check: valid, with its value and last day (tolerance included); typed loosely.
    let v = verify(&app, &key1, &code.to_lowercase().replace('-', " ")).await;
    assert_eq!(
        (
            v["valide"].as_bool(),
            v["motif"].as_str(),
            v["valeur_centimes"].as_i64()
        ),
        (Some(true), Some("valide"), Some(1000))
    );
    assert_eq!(v["fin_validite"], "2100-01-30");
    // Outside the perimeter (Lormont), for a service the place does not offer, booklet not handed out.
    assert_eq!(verify(&app, &key3, &code).await["motif"], "hors_perimetre");
    let (st, v) = redeem(&app, &key2, "r-0", &code, AIDE).await;
    assert_eq!(
        (st, v["motif"].as_str()),
        (StatusCode::FORBIDDEN, Some("service_non_propose"))
    );
    let (st, v) = redeem(&app, &key2, "r-00", &code, "Cours de cuisine").await;
    assert_eq!(
        (st, v["motif"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("service_inconnu"))
    );
    assert_eq!(verify(&app, &key1, &s.codes[10].2).await["motif"], "carnet_non_remis");

    // Redeem: 201 with a receipt; the same request again gives the same receipt.
    let (st, r) = redeem(&app, &key2, "r-1", &code, ACCES).await;
    assert_eq!(st, StatusCode::CREATED, "{r}");
    assert_eq!(
        (r["valide"].as_bool(), r["valeur_centimes"].as_i64()),
        (Some(true), Some(1000))
    );
    assert_eq!(r["lieu"], "Espace public numérique de Pessac");
    assert!(r["cheque"].as_str().unwrap().ends_with(&code[code.len() - 5..]));
    assert!(
        !r.to_string().contains(&code.replace('-', "")),
        "le reçu ne montre pas le code entier"
    );
    let (st, again) = redeem(&app, &key2, "r-1", &code, ACCES).await;
    assert_eq!((st, &again), (StatusCode::CREATED, &r));
    // Another request, another place: already redeemed, with the date; the redeeming place sees more.
    let (st, v) = redeem(&app, &key1, "r-2", &code, AIDE).await;
    assert_eq!((st, v["motif"].as_str()), (StatusCode::CONFLICT, Some("deja_encaisse")));
    let today = passerelle_core::Horloge::systeme()
        .today_paris()
        .strftime("%d/%m/%Y")
        .to_string();
    assert_eq!(v["message"], format!("Chèque déjà encaissé le {today}"), "{v}");
    // The place that redeemed it reads the time too: « le 07/12/2026 à 11 h 18 dans votre lieu ».
    let mine = verify(&app, &key2, &code).await["message"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let rest = mine
        .strip_prefix(&format!("Chèque déjà encaissé le {today} à "))
        .unwrap_or_else(|| panic!("{mine}"));
    let (time, place) = rest.split_once(" dans ").unwrap_or_else(|| panic!("{mine}"));
    assert_eq!(place, "votre lieu", "{mine}");
    let (h, m) = time.split_once(" h ").unwrap_or_else(|| panic!("{mine}"));
    assert!(
        h.parse::<u8>().is_ok_and(|h| h < 24) && m.len() == 2 && m.parse::<u8>().is_ok_and(|m| m < 60),
        "{mine}"
    );
    // An idempotency key already used for another cheque.
    let (st, v) = redeem(&app, &key2, "r-1", &s.codes[1].2, ACCES).await;
    assert_eq!(
        (st, v["motif"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("cle_idempotence_reutilisee"))
    );
    // ... or for the same cheque and another service.
    let (st, v) = redeem(&app, &key2, "r-1", &code, AIDE).await;
    assert_eq!(
        (st, v["motif"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("cle_idempotence_reutilisee"))
    );

    // At most 2 cheques of one booklet per place and day.
    let (st, _) = redeem(&app, &key2, "r-3", &s.codes[1].2, ACCES).await;
    assert_eq!(st, StatusCode::CREATED);
    let (st, v) = redeem(&app, &key2, "r-4", &s.codes[2].2, ACCES).await;
    assert_eq!(
        (st, v["motif"].as_str()),
        (StatusCode::TOO_MANY_REQUESTS, Some("plafond_atteint"))
    );
    assert!(v["message"].as_str().unwrap().contains("pas plus de 2 chèques"), "{v}");
    let (st, _) = redeem(&app, &key1, "r-5", &s.codes[2].2, AIDE).await;
    assert_eq!(st, StatusCode::CREATED, "another place may");

    // A lost booklet: its unused cheques are cancelled, the redeemed ones stay.
    let lost = json_of(&app, &["carnets", "perdu", &s.first_booklet.to_string()]);
    assert_eq!(lost["cheques_annules"], 7);
    assert_eq!(verify(&app, &key1, &s.codes[3].2).await["motif"], "cheque_annule");
    assert_eq!(verify(&app, &key1, &code).await["motif"], "deja_encaisse");

    // Every step is in the journal.
    let actions = app.journal_actions().await;
    for a in [
        "commande.creation",
        "commande.acceptation",
        "commande.facturation",
        "commande.paiement",
        "commande.emission",
        "carnet.remise",
        "lieu.qualification",
        "cle_api.creation",
        "cheque.encaissement",
        "carnet.perte",
    ] {
        assert!(actions.iter().any(|x| x == a), "{a} absent du journal : {actions:?}");
    }
    assert_eq!(
        app.scalar_i64("SELECT COUNT(*) FROM journal WHERE action = 'cheque.encaissement'")
            .await,
        3
    );
    assert_eq!(app.scalar_i64("SELECT COUNT(*) FROM encaissements").await, 3);
}

#[tokio::test]
async fn bad_requests_get_their_documented_refusal() {
    let app = TestApp::new().await;
    let s = ready(&app, scene(&app).await).await;
    let code = &s.codes[0].2;
    let body = json!({ "code": code, "service": ACCES }).to_string();
    let path = "/api/v1/cheques/encaisser";
    // No key, an unknown key, a revoked key.
    for key in [
        None,
        Some("pn_ABCDEFGH_nimportequoi"),
        Some("'; DROP TABLE cles_api; --"),
    ] {
        let (st, v) = call(&app, path, key, Some("x"), body.clone()).await;
        assert_eq!(
            (st, v["motif"].as_str()),
            (StatusCode::UNAUTHORIZED, Some("cle_api_invalide"))
        );
    }
    let prefix = s.key2.split('_').nth(1).unwrap().to_string();
    ok(&app, &["lieux", "revoquer-cle", &prefix]);
    let (st, _) = call(&app, path, Some(&s.key2), Some("x"), body.clone()).await;
    assert_eq!(st, StatusCode::UNAUTHORIZED);
    let key = s.key1.as_str();
    // No idempotency key; not JSON; a huge body.
    let (st, v) = call(&app, path, Some(key), None, body.clone()).await;
    assert_eq!(
        (st, v["motif"].as_str()),
        (StatusCode::BAD_REQUEST, Some("cle_idempotence_absente"))
    );
    // 200 characters is the longest idempotency key: one more is refused before
    // anything is looked at, and the longest one redeems (core and web agree).
    let (st, v) = call(&app, path, Some(key), Some(&"k".repeat(201)), body.clone()).await;
    assert_eq!(
        (st, v["motif"].as_str()),
        (StatusCode::BAD_REQUEST, Some("cle_idempotence_absente"))
    );
    let (st, v) = redeem(&app, key, &"k".repeat(200), code, AIDE).await;
    assert_eq!(st, StatusCode::CREATED, "{v}");
    let (st, v) = call(&app, path, Some(key), Some("y"), "<html>".into()).await;
    assert_eq!(
        (st, v["motif"].as_str()),
        (StatusCode::BAD_REQUEST, Some("requete_invalide"))
    );
    let huge = json!({ "code": "A".repeat(10 * 1024 * 1024), "service": ACCES }).to_string();
    let (st, v) = call(&app, path, Some(key), Some("z"), huge).await;
    assert_eq!(
        (st, v["motif"].as_str()),
        (StatusCode::PAYLOAD_TOO_LARGE, Some("requete_invalide"))
    );
    // Garbage and well-formed unknown codes; then guessing is slowed down.
    let (st, v) = redeem(&app, key, "g-0", "<script>alert(1)</script>", AIDE).await;
    assert_eq!(
        (st, v["motif"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("code_mal_saisi"))
    );
    let unknown = passerelle_core::pass_numerique::code::Code::random().grouped();
    let (st, v) = redeem(&app, key, "g-1", &unknown, AIDE).await;
    assert_eq!(
        (st, v["motif"].as_str()),
        (StatusCode::NOT_FOUND, Some("cheque_inconnu"))
    );
    let mut last = StatusCode::OK;
    for i in 0..40 {
        let (st, _) = call(
            &app,
            "/api/v1/cheques/verifier",
            Some(key),
            None,
            json!({ "code": format!("X{i}") }).to_string(),
        )
        .await;
        last = st;
    }
    assert_eq!(last, StatusCode::TOO_MANY_REQUESTS);
    let (st, v) = call(
        &app,
        "/api/v1/cheques/verifier",
        Some(key),
        None,
        json!({ "code": code }).to_string(),
    )
    .await;
    assert_eq!(
        (st, v["motif"].as_str()),
        (StatusCode::TOO_MANY_REQUESTS, Some("trop_de_tentatives"))
    );
}

/// The failed guesses of an API key are counted over 15 minutes: still refused
/// 14 minutes later, forgiven after 16.
#[tokio::test]
async fn failed_guesses_are_forgiven_after_the_fifteen_minute_window() {
    let app = TestApp::new().await;
    let s = ready(&app, scene(&app).await).await;
    let key = s.key1.as_str();
    let check = |code: String| {
        let app = &app;
        async move {
            let body = json!({ "code": code }).to_string();
            call(app, "/api/v1/cheques/verifier", Some(key), None, body).await
        }
    };
    for i in 0..30 {
        let (st, _) = check(format!("X{i}")).await;
        assert_eq!(st, StatusCode::OK, "essai {i}");
    }
    let (st, v) = check(s.codes[0].2.clone()).await;
    assert_eq!(
        (st, v["motif"].as_str()),
        (StatusCode::TOO_MANY_REQUESTS, Some("trop_de_tentatives"))
    );
    app.set_now("+14m");
    let (st, _) = check(s.codes[0].2.clone()).await;
    assert_eq!(st, StatusCode::TOO_MANY_REQUESTS, "14 minutes après");
    app.set_now("+16m");
    let (st, v) = check(s.codes[0].2.clone()).await;
    assert_eq!((st, v["valide"].as_bool()), (StatusCode::OK, Some(true)), "{v}");
}

/// Only guesses count: a place that checks the same real cheque again and again
/// (a refused one included) is never slowed down.
#[tokio::test]
async fn checking_real_cheques_again_is_not_guessing() {
    let app = TestApp::new().await;
    let s = ready(&app, scene(&app).await).await;
    let (key, code) = (s.key1.as_str(), s.codes[1].2.as_str());
    let (st, _) = redeem(&app, key, "deja", code, AIDE).await;
    assert_eq!(st, StatusCode::CREATED);
    for i in 0..40 {
        let body = json!({ "code": code }).to_string();
        let (st, v) = call(&app, "/api/v1/cheques/verifier", Some(key), None, body).await;
        assert_eq!(
            (st, v["motif"].as_str()),
            (StatusCode::OK, Some("deja_encaisse")),
            "essai {i}"
        );
        let (st, v) = redeem(&app, key, &format!("r-{i}"), code, AIDE).await;
        assert_eq!(v["motif"].as_str(), Some("deja_encaisse"), "essai {i} : {st}");
    }
}

/// The counter's one door fails closed: a place's API key acts for its own
/// place only, and a holder cannot check nor redeem for a place.
#[tokio::test]
async fn an_api_key_acts_for_its_own_place_only() {
    use passerelle_core::error::CoreError;
    use passerelle_core::pass_numerique::guichet::{self, Presentateur, Tentative};
    let app = TestApp::new().await;
    let s = ready(&app, scene(&app).await).await;
    let core = &app.core;
    let mine = guichet::cle_api(core, &s.key1).await.unwrap().unwrap();
    let other = guichet::cle_api(core, &s.key2).await.unwrap().unwrap();
    assert_ne!(mine.lieu.id, other.lieu.id);
    let code = s.codes[0].2.as_str();
    let as_software = Presentateur::Logiciel {
        cle: &mine,
        ip: "192.0.2.1",
    };
    let holder = Presentateur::Porteur { ip: "192.0.2.1" };
    for p in [as_software, holder] {
        let checked = guichet::verifier(core, p, &other.lieu, code, None).await;
        assert!(matches!(checked, Err(CoreError::Forbidden)), "{checked:?}");
        let redeemed = guichet::encaisser(core, p, &other.lieu, code, AIDE, Some("autre-lieu")).await;
        assert!(matches!(redeemed, Err(CoreError::Forbidden)), "{redeemed:?}");
    }
    let own = guichet::verifier(core, as_software, &mine.lieu, code, None)
        .await
        .unwrap();
    assert!(matches!(own, Tentative::Faite(ref v) if v.valide), "{own:?}");
    assert_eq!(app.scalar_i64("SELECT COUNT(*) FROM encaissements").await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_thousand_concurrent_redeems_of_one_cheque_make_one_redemption() {
    let app = TestApp::new().await;
    let s = ready(&app, scene(&app).await).await;
    let code = s.codes[5].2.clone();
    let tasks: Vec<_> = (0..1000)
        .map(|i| {
            let router = app.router.clone();
            let (key, service) = if i % 2 == 0 {
                (s.key1.clone(), AIDE)
            } else {
                (s.key2.clone(), ACCES)
            };
            let req = redeem_request(&key, &format!("course-{i}"), &code, service);
            tokio::spawn(async move {
                use tower::ServiceExt;
                router.oneshot(req).await.unwrap().status()
            })
        })
        .collect();
    let (mut created, mut conflicts) = (0, 0);
    for t in tasks {
        match t.await.unwrap() {
            StatusCode::CREATED => created += 1,
            StatusCode::CONFLICT => conflicts += 1,
            // Each check is counted as a possible failure before it is made (then given
            // back): at most 30 per key are evaluated at once, the others wait for them
            // (5 s at most, then « trop de tentatives » on a very slow machine).
            StatusCode::TOO_MANY_REQUESTS => {}
            other => panic!("statut inattendu : {other}"),
        }
    }
    assert_eq!(created, 1);
    assert!(conflicts >= 1, "several redemptions raced");
    assert_eq!(app.scalar_i64("SELECT COUNT(*) FROM encaissements").await, 1);
    assert_eq!(
        app.scalar_i64("SELECT COUNT(*) FROM cheques WHERE etat = 'encaisse'")
            .await,
        1
    );
}

#[tokio::test]
async fn a_copy_of_the_database_holds_no_usable_code() {
    let app = TestApp::new().await;
    let s = scene(&app).await;
    if app.backend() != passerelle_core::Backend::Sqlite {
        // The same rows on PostgreSQL; the file-level check needs the SQLite file.
        return;
    }
    app.core.db.close().await;
    let dir = app.data_dir.parent().unwrap();
    let mut bytes = Vec::new();
    for f in ["test.db", "test.db-wal"] {
        if let Ok(b) = std::fs::read(dir.join(f)) {
            bytes.extend(b);
        }
    }
    assert!(bytes.len() > 10_000);
    let text = String::from_utf8_lossy(&bytes).to_uppercase();
    for (_, _, code) in &s.codes {
        assert!(!text.contains(code.as_str()), "code en clair dans la base");
        assert!(!text.contains(&code.replace('-', "")), "code en clair dans la base");
    }
}
