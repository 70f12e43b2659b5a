//! Crash under redeem load: many places' software redeem cheques concurrently
//! over the API of a real `passerelle serve`, which is killed (SIGKILL) in the
//! middle. Every redemption answered 201 is in the database, none twice; after
//! a restart the same requests (same idempotency keys) return the same receipts,
//! and the rest of the cheques are redeemed exactly once. And a redemption
//! whose row the database refuses is an error that changes nothing.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use passerelle_core::accounts::Principal;
use passerelle_core::pass_numerique::booklets::{self, HandOut};
use serde_json::{json, Value};

use crate::lieux::copy;
use crate::pannes::{client, file_path, invariants_hold, Server};
use crate::pass::ACCES;
use crate::support::pass_numerique::{cli_order, redeem_request};
use crate::support::{cli_json as json_ok, cli_ok as ok, cli_organisation, load_territories};
use crate::support::{TestApp, BASE};

const AIDE: &str = "Aide aux démarches administratives";

/// Cheques ready to be redeemed at two qualified places.
pub struct Redeemable {
    pub order: i64,
    /// (booklet, grouped code)
    pub codes: Vec<(i64, String)>,
    /// API keys of mednum-1 (offers AIDE) and mednum-2 (offers ACCES).
    pub keys: [String; 2],
}

impl Redeemable {
    /// The place (0 or 1) that redeems the cheques of `booklet`, and the service it names.
    pub fn place_of(&self, booklet: i64) -> (&str, &'static str) {
        if booklet % 2 == 0 {
            (&self.keys[0], AIDE)
        } else {
            (&self.keys[1], ACCES)
        }
    }
}

/// Places imported and two qualified with API keys; an order of `booklets`
/// booklets of 10 cheques of 10 €, paid, issued, allotted and all handed out;
/// a booklet may be used entirely at one place in a day.
pub async fn redeemable(app: &TestApp, booklets: i64) -> Redeemable {
    load_territories(app);
    let funder = cli_organisation(app, "commanditaire", "Département de la Gironde");
    let prescriber = cli_organisation(app, "prescripteur", "CCAS de Pessac");
    ok(app, &["lieux", "import", &copy(app, "propre.csv")]);
    let order = cli_order(
        app,
        &funder,
        booklets,
        ("2020-01-01", "2099-12-31"),
        "33063,33318",
        &["--prescripteurs", &prescriber, "--plafond-jour", "10"],
    )["id"]
        .as_i64()
        .expect("numéro de commande");
    let id = order.to_string();
    ok(app, &["commandes", "payer", &id, "--reference", "VIR-PANNES"]);
    let codes_file = file_path(app, "codes.csv");
    let issued = json_ok(
        app,
        &[
            "commandes",
            "emettre",
            &id,
            "--codes",
            codes_file.to_str().expect("chemin"),
            "--url-base",
            BASE,
        ],
    );
    let first = issued["emission"]["premier_carnet"].as_i64().expect("premier carnet");
    let last = first + booklets - 1;
    ok(
        app,
        &[
            "carnets",
            "attribuer",
            "--commande",
            &id,
            "--prescripteur",
            &prescriber,
            "--de",
            &first.to_string(),
            "--a",
            &last.to_string(),
        ],
    );
    for n in first..=last {
        let h = HandOut {
            public: "seniors".into(),
            commune: "33318".into(),
            ..Default::default()
        };
        booklets::hand_out(&app.core, &Principal::SYSTEME, n, &h)
            .await
            .expect("remise du carnet");
    }
    let text = std::fs::read_to_string(&codes_file).expect("fichier des codes");
    let codes: Vec<(i64, String)> = text
        .lines()
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            (f[0].parse().expect("carnet"), f[2].to_string())
        })
        .collect();
    assert_eq!(codes.len() as i64, booklets * 10);
    let mut keys = Vec::new();
    for place in ["mednum-1", "mednum-2"] {
        ok(app, &["lieux", "qualifier", place]);
        keys.push(
            json_ok(app, &["lieux", "cle-api", place])["cle"]
                .as_str()
                .expect("clé")
                .to_string(),
        );
    }
    Redeemable {
        order,
        codes,
        keys: [keys[0].clone(), keys[1].clone()],
    }
}

/// What one redemption request got.
#[derive(Debug, Clone)]
enum Answer {
    /// 201 with the receipt's redemption id.
    Redeemed(i64),
    /// Another status (a refusal): never expected here.
    Other(String),
    /// No answer (the server died): the redemption may or may not have been committed.
    Lost,
}

async fn redeem(http: &reqwest::Client, base: &str, key: &str, service: &str, code: &str) -> Answer {
    let res = http
        .post(format!("{base}/api/v1/cheques/encaisser"))
        .bearer_auth(key)
        .header("idempotency-key", format!("pannes-{code}"))
        .header("content-type", "application/json")
        .body(json!({ "code": code, "service": service }).to_string())
        .send()
        .await;
    let Ok(res) = res else { return Answer::Lost };
    let status = res.status().as_u16();
    let Ok(body) = res.text().await else {
        return Answer::Lost;
    };
    match (status, serde_json::from_str::<Value>(&body)) {
        (201, Ok(v)) => match v["encaissement"].as_i64() {
            Some(id) => Answer::Redeemed(id),
            None => Answer::Other(format!("{status} {body}")),
        },
        _ => Answer::Other(format!("{status} {body}")),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_killed_under_redeem_load_loses_and_duplicates_nothing() {
    let app = TestApp::new().await;
    let r = Arc::new(redeemable(&app, 40).await);
    let total = r.codes.len();
    let mut server = Server::start(&app, &[]).await;
    let http = client();

    // 12 concurrent clients take cheques from one queue until the server dies.
    let queue = Arc::new(Mutex::new(r.codes.iter().cloned().collect::<VecDeque<_>>()));
    let answers: Arc<Mutex<BTreeMap<String, Answer>>> = Arc::default();
    let mut workers = Vec::new();
    for _ in 0..12 {
        let (queue, answers, r, http, base) = (
            queue.clone(),
            answers.clone(),
            r.clone(),
            http.clone(),
            server.base.clone(),
        );
        workers.push(tokio::spawn(async move {
            loop {
                let next = queue.lock().expect("file").pop_front();
                let Some((booklet, code)) = next else { break };
                let (key, service) = r.place_of(booklet);
                let answer = redeem(&http, &base, key, service, &code).await;
                let dead = matches!(answer, Answer::Lost);
                answers.lock().expect("réponses").insert(code, answer);
                if dead {
                    break;
                }
            }
        }));
    }
    // Killed once a fifth of the cheques are redeemed, while the clients keep sending.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let redeemed = answers
            .lock()
            .expect("réponses")
            .values()
            .filter(|a| matches!(a, Answer::Redeemed(_)))
            .count();
        if redeemed >= total / 5 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "charge trop lente : {redeemed} encaissements en 60 s"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    server.kill();
    for w in workers {
        w.await.expect("client");
    }
    let answers = answers.lock().expect("réponses").clone();
    let others: Vec<&String> = answers
        .values()
        .filter_map(|a| match a {
            Answer::Other(what) => Some(what),
            _ => None,
        })
        .collect();
    assert!(others.is_empty(), "refus ou erreurs inattendus : {others:?}");
    let acknowledged: BTreeMap<&String, i64> = answers
        .iter()
        .filter_map(|(c, a)| match a {
            Answer::Redeemed(id) => Some((c, *id)),
            _ => None,
        })
        .collect();
    assert!(
        acknowledged.len() < total,
        "le service a été tué pendant la charge, pas après"
    );
    assert!(
        answers.values().any(|a| matches!(a, Answer::Lost)),
        "des demandes étaient en cours au moment de l'arrêt brutal"
    );

    // Nothing acknowledged is lost, nothing is there twice.
    let ids: Vec<String> = acknowledged.values().map(|id| id.to_string()).collect();
    let found = app
        .scalar_i64(&format!(
            "SELECT COUNT(*) FROM encaissements WHERE annule_at IS NULL AND id IN ({})",
            ids.join(",")
        ))
        .await;
    assert_eq!(
        found as usize,
        acknowledged.len(),
        "un encaissement confirmé (201) est perdu"
    );
    let no_duplicates = "SELECT COUNT(*) - COUNT(DISTINCT cheque_id) FROM encaissements WHERE annule_at IS NULL";
    assert_eq!(app.scalar_i64(no_duplicates).await, 0);
    let committed = app.scalar_i64("SELECT COUNT(*) FROM encaissements").await as usize;
    assert!(
        committed >= acknowledged.len() && committed <= answers.len(),
        "{committed}"
    );
    invariants_hold(&app);
    eprintln!(
        "arrêt brutal : {} demandes envoyées, {} confirmées (201), {} sans réponse, {committed} encaissements validés en base",
        answers.len(),
        acknowledged.len(),
        answers.len() - acknowledged.len()
    );

    // Restarted: the same requests get the same receipts; the others are redeemed once.
    let server = Server::start(&app, &[]).await;
    for (booklet, code) in &r.codes {
        let (key, service) = r.place_of(*booklet);
        match redeem(&http, &server.base, key, service, code).await {
            Answer::Redeemed(id) => {
                if let Some(first) = acknowledged.get(code) {
                    assert_eq!(id, *first, "même clé d'idempotence, même reçu");
                }
            }
            other => panic!("après redémarrage : {other:?}"),
        }
    }
    assert_eq!(
        app.scalar_i64("SELECT COUNT(*) FROM encaissements").await as usize,
        total
    );
    assert_eq!(app.scalar_i64(no_duplicates).await, 0);
    assert_eq!(
        app.scalar_i64("SELECT COUNT(*) FROM journal WHERE action = 'cheque.encaissement'")
            .await as usize,
        total,
        "une entrée de journal par encaissement"
    );
    assert_eq!(
        app.scalar_i64(&format!(
            "SELECT CAST(COALESCE(SUM(valeur_centimes), 0) AS BIGINT) FROM encaissements WHERE commande_id = {}",
            r.order
        ))
        .await,
        total as i64 * 1000
    );
    invariants_hold(&app);
}

/// The database refuses the redemption's row for a reason other than a
/// duplicate (here a trigger): the counter gets an error at once, not a retry
/// loop, and nothing is half-written. Once the fault is gone, the same request
/// (same idempotency key) redeems the cheque, which was still active.
#[tokio::test]
async fn a_redemption_the_database_refuses_is_an_error_and_changes_nothing() {
    let app = TestApp::new().await;
    let s = crate::pass::ready(&app, crate::pass::scene(&app).await).await;
    let code = s.codes[3].2.clone();
    let attempt = || {
        let body = json!({ "code": code, "service": AIDE }).to_string();
        crate::pass::call(&app, "/api/v1/cheques/encaisser", Some(&s.key1), Some("panne-1"), body)
    };
    let repair = app
        .inject_fault(
            "panne_encaissement",
            "encaissements",
            "BEFORE INSERT ON encaissements BEGIN SELECT RAISE(ABORT, 'panne simulée'); END",
            "RAISE EXCEPTION 'panne simulée';",
        )
        .await;
    let (status, body) = tokio::time::timeout(Duration::from_secs(60), attempt())
        .await
        .expect("an error, not a retry loop");
    assert_eq!(status, axum::http::StatusCode::INTERNAL_SERVER_ERROR, "{body}");
    assert_eq!(app.scalar_i64("SELECT COUNT(*) FROM encaissements").await, 0);
    assert_eq!(
        app.scalar_i64("SELECT COUNT(*) FROM cheques WHERE etat = 'encaisse'")
            .await,
        0
    );
    app.exec(&repair).await.unwrap();
    let (status, body) = attempt().await;
    assert_eq!(status, axum::http::StatusCode::CREATED, "{body}");
    assert_eq!(app.scalar_i64("SELECT COUNT(*) FROM encaissements").await, 1);
}

/// Eight cheques sent at the same moment to one place under one idempotency
/// key: one is redeemed and every other request is told the key is taken,
/// never a server error. On PostgreSQL the losers reach the unique index on
/// (place, key) after having marked their own cheque, and must start over.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_key_raced_by_eight_cheques_redeems_one() {
    use axum::http::StatusCode;
    use tower::ServiceExt;

    let app = TestApp::new().await;
    let s = crate::pass::ready(&app, crate::pass::scene(&app).await).await;
    // Booklet 1, the one handed out.
    let mut left: Vec<String> = s.codes[..10].iter().map(|c| c.2.clone()).collect();
    for round in 0..3i64 {
        let tasks: Vec<_> = left
            .iter()
            .take(8)
            .map(|code| {
                let (router, code) = (app.router.clone(), code.clone());
                let req = redeem_request(&s.key1, &format!("meme-cle-{round}"), &code, AIDE);
                tokio::spawn(async move {
                    let r = router.oneshot(req).await.unwrap();
                    let status = r.status();
                    let bytes = axum::body::to_bytes(r.into_body(), 1 << 20).await.unwrap();
                    (code, status, serde_json::from_slice::<Value>(&bytes).unwrap())
                })
            })
            .collect();
        let mut created = Vec::new();
        for t in tasks {
            match t.await.unwrap() {
                (code, StatusCode::CREATED, _) => created.push(code),
                (_, StatusCode::UNPROCESSABLE_ENTITY, v) => {
                    assert_eq!(v["motif"], "cle_idempotence_reutilisee", "{v}")
                }
                (_, status, v) => panic!("tour {round} : {status} {v}"),
            }
        }
        assert_eq!(created.len(), 1, "tour {round}");
        left.retain(|c| !created.contains(c));
        assert_eq!(app.scalar_i64("SELECT COUNT(*) FROM encaissements").await, round + 1);
        // Another day: the rule of two cheques of a booklet per place and day stays out of the way.
        app.set_now(&format!("+{}h", 24 * (round + 1)));
    }
}
