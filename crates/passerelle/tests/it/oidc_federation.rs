//! Aidants Connect as an identity provider of FranceConnect (profile
//! `franceconnect`), over real HTTP: the demonstration online service logs in
//! « with FranceConnect » (the simulator), the aidant picks Aidants Connect
//! there, the simulator sends him to Passerelle as FranceConnect does, then
//! checks Passerelle's answer and answers the service. And the profile itself:
//! the usager's stable `sub`, `rep_scope` as a list, nonce and state required,
//! the v1 signature (HS256 with the client's secret, JSON userinfo).

use axum::http::StatusCode;
use passerelle_core::aidants_connect::franceconnect::federation;
use serde_json::Value;

use crate::mandats_support::{serve, M};
use crate::oidc_support::{aidant_account, consent, hidden_fields, mandate, register_json, token_for, userinfo, BACK};
use crate::support::{totp_code, Browser, PASSWORD};

/// An aidant of a new structure signed in on the served application, with an
/// usager « Alice Durand » whose mandate covers `demarches`: (browser, account,
/// TOTP secret, usager).
async fn aidant_with_usager(m: &M, demarches: &[&str]) -> (Browser, i64, String, i64) {
    let (account, structure, secret) = aidant_account(&m.app, "aidant@exemple.fr").await;
    let mut b = Browser::on(m.router.clone());
    b.login("aidant@exemple.fr", PASSWORD).await;
    let r = b.post("/connexion/totp", &[("code", &totp_code(&secret, 0))]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let (usager, _, _) = mandate(&m.app, structure, account, ("Alice", "Durand"), demarches, 30).await;
    (b, account, secret, usager)
}

fn params(url: &str) -> std::collections::HashMap<String, String> {
    let u = url::Url::parse(url).unwrap();
    u.query_pairs().into_owned().collect()
}

/// The service's button, the simulator's page, « Aidants Connect »: where the
/// simulator sends the aidant (Passerelle's authorisation URL, absolute).
async fn to_aidants_connect(m: &M, b: &mut Browser) -> String {
    let r = b.get("/service-demo/fc/connexion").await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let simulator = m.local(r.location().unwrap()).to_string();
    assert!(simulator.starts_with("/fc-simulateur/authorize?"), "{simulator}");
    let page = b.get(&simulator).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("value=\"aidants-connect\""), "{}", page.body);
    let mut fields = hidden_fields(&page.body);
    fields.retain(|(k, _)| k != "csrf_token");
    fields.push(("identite".into(), federation::FI_KEY.into()));
    let f: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let r = b.post("/fc-simulateur/authorize", &f).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    r.location().unwrap().to_string()
}

/// `prompt=login`: the aidant enters a code again; returns the request to go on with.
async fn reauthenticate(m: &M, b: &mut Browser, account: i64, secret: &str, authorize: &str) -> String {
    m.app
        .exec(&format!(
            "UPDATE accounts SET totp_last_step = NULL WHERE id = {account}"
        ))
        .await
        .unwrap();
    let r = b.get(m.local(authorize)).await;
    let to = r.location().unwrap().to_string();
    assert!(to.starts_with("/connexion/totp-recent?suivant="), "{to}");
    let next = params(&format!("http://x{to}"))["suivant"].clone();
    let r = b
        .post(
            "/connexion/totp-recent",
            &[("code", &totp_code(secret, 1)), ("suivant", &next)],
        )
        .await;
    assert_eq!(r.location(), Some(next.as_str()), "{}", r.body);
    next
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_online_service_logs_in_with_franceconnect_and_the_aidant_picks_aidants_connect() {
    let m = serve().await;
    federation::register_fi(&m.app.core, &m.base).await.unwrap();
    let (mut b, account, secret, usager) = aidant_with_usager(&m, &["social"]).await;

    let authorize = to_aidants_connect(&m, &mut b).await;
    // What FranceConnect sends an identity provider.
    assert!(
        authorize.starts_with(&format!("{}/oidc/authorize?", m.base)),
        "{authorize}"
    );
    let q = params(&authorize);
    assert_eq!(q["client_id"], federation::FI_CLIENT_ID);
    assert_eq!(q["prompt"], "login");
    assert_eq!(q["acr_values"], "eidas1");
    assert_eq!(q["scope"], "openid profile email birth");
    for k in ["state", "nonce"] {
        assert!(q[k].len() == 64 && q[k].chars().all(|c| c.is_ascii_hexdigit()), "{k}");
    }
    assert!(!q.contains_key("code_challenge"));
    let claims: Value = serde_json::from_str(&q["claims"]).unwrap();
    assert_eq!(claims["id_token"]["rep_scope"]["essential"], true);
    assert_eq!(
        claims["id_token"]["rep_scope"]["values"],
        serde_json::json!(federation::FS_REP_SCOPE)
    );

    let next = reauthenticate(&m, &mut b, account, &secret, &authorize).await;
    let fi_back = consent(&mut b, &next, "Durand", None).await;
    assert!(
        fi_back.starts_with(&format!("{}{}?", m.base, federation::FI_CALLBACK_PATH)),
        "{fi_back}"
    );
    // The simulator exchanges the code and reads userinfo over HTTP, then answers the service.
    let r = b.get(m.local(&fi_back)).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let fs_back = m.local(r.location().unwrap()).to_string();
    assert!(fs_back.starts_with("/service-demo/fc/retour?code="), "{fs_back}");
    let page = b.get(&fs_back).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    for shown in [
        "Connecté avec FranceConnect",
        "Durand",
        "Alice",
        "24/08/1962",
        "rep_scope",
        "social",
        "(idp)</th><td>aidants-connect</td>",
    ] {
        assert!(page.body.contains(shown), "{shown}: {}", page.body);
    }
    // Passerelle gave the usager's stable identifier; FranceConnect computed its own for the service.
    let sub_hash: String = m
        .app
        .scalar_text(&format!("SELECT sub_hash FROM usagers WHERE id = {usager}"))
        .await;
    assert!(!page.body.contains(&sub_hash));
    // One use of the mandate, by FranceConnect, journaled.
    assert_eq!(
        m.count(&format!(
            "SELECT COUNT(*) FROM mandats_utilisations WHERE client_id = '{}' AND usager_id = {usager} AND demarche = 'social'",
            federation::FI_CLIENT_ID
        ))
        .await,
        1
    );
    // The identity provider's answer cannot be played twice.
    let again = b.get(m.local(&fi_back)).await;
    assert_eq!(again.status, StatusCode::BAD_REQUEST);
    assert!(again.body.contains("déjà traitée"), "{}", again.body);
    let out = crate::support::cli(&m.app, &["journal", "verify"]);
    assert_eq!(out.status.code(), Some(0));
}

/// The usager's data reaches no one when the mandate covers none of the
/// démarches the online service accepts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_personal_data_reaches_a_service_the_mandate_does_not_cover() {
    let m = serve().await;
    federation::register_fi(&m.app.core, &m.base).await.unwrap();
    // The service accepts social, logement, papiers; the mandate covers famille only.
    let (mut b, account, secret, usager) = aidant_with_usager(&m, &["famille"]).await;
    let authorize = to_aidants_connect(&m, &mut b).await;
    let next = reauthenticate(&m, &mut b, account, &secret, &authorize).await;
    let query = next.split_once('?').unwrap().1;
    let r = b
        .get(&format!("/oidc/authorize/demarche?{query}&usager={usager}"))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.contains("Aucune démarche possible"), "{}", r.body);
    // A forged POST for the famille autorisation is refused too.
    let famille = m
        .count(&format!(
            "SELECT a.id FROM autorisations a JOIN mandats md ON md.id = a.mandat_id WHERE md.usager_id = {usager}"
        ))
        .await;
    let mut fields = hidden_fields(&r.body);
    fields.retain(|(k, _)| k != "csrf_token");
    fields.push(("autorisation".into(), famille.to_string()));
    fields.push(("action".into(), "continuer".into()));
    let f: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let forged = b.post("/oidc/authorize/demarche", &f).await;
    assert_ne!(forged.status, StatusCode::SEE_OTHER, "{}", forged.body);
    // The aidant gives up: FranceConnect tells the service, which learns nothing.
    let mut fields = hidden_fields(&r.body);
    fields.retain(|(k, _)| k != "csrf_token");
    fields.push(("action".into(), "annuler".into()));
    let f: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let r = b.post("/oidc/authorize/demarche", &f).await;
    let fi_back = r.location().unwrap().to_string();
    assert!(fi_back.contains("error=access_denied"), "{fi_back}");
    let r = b.get(m.local(&fi_back)).await;
    let fs_back = m.local(r.location().unwrap()).to_string();
    assert!(
        fs_back.starts_with("/service-demo/fc/retour?error=access_denied"),
        "{fs_back}"
    );
    let page = b.get(&fs_back).await;
    for personal in ["Durand", "Alice", "1962", "75107", "alice@exemple.fr"] {
        assert!(!page.body.contains(personal), "{personal} sent to the service");
    }
    assert_eq!(m.count("SELECT COUNT(*) FROM oidc_codes").await, 0);
    assert_eq!(m.count("SELECT COUNT(*) FROM oidc_jetons").await, 0);
    assert_eq!(m.count("SELECT COUNT(*) FROM mandats_utilisations").await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_simulator_refuses_an_expired_request_a_revoked_mandate_and_a_wrong_profile() {
    let m = serve().await;
    federation::register_fi(&m.app.core, &m.base).await.unwrap();
    let (mut b, account, secret, usager) = aidant_with_usager(&m, &["social"]).await;
    let round = |b: &mut Browser| {
        let m = &m;
        let secret = secret.clone();
        let mut b2 = Browser::on(m.router.clone());
        b2.cookies = b.cookies.clone();
        async move {
            let authorize = to_aidants_connect(m, &mut b2).await;
            let next = reauthenticate(m, &mut b2, account, &secret, &authorize).await;
            let fi_back = consent(&mut b2, &next, "Durand", None).await;
            (b2, fi_back)
        }
    };

    // Expired: the simulator waited more than 10 minutes.
    let (mut b2, fi_back) = round(&mut b).await;
    m.app
        .exec("UPDATE fc_simulateur_federation SET expires_at = expires_at - 601000000")
        .await
        .unwrap();
    let r = b2.get(m.local(&fi_back)).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.body.contains("demande expirée"), "{}", r.body);
    // Unknown state.
    let r = b2.get("/fc-simulateur/fi/retour?code=abc&state=inconnu").await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.body.contains("demande inconnue"), "{}", r.body);

    // A sub no mandate backs any more: revoked between the code and the exchange.
    let (mut b2, fi_back) = round(&mut b).await;
    let now = m.app.core.db.now_micros();
    m.app
        .exec(&format!(
            "UPDATE autorisations SET revoquee_at = {now}, revoquee_par = 'usager' WHERE mandat_id IN \
             (SELECT id FROM mandats WHERE usager_id = {usager})"
        ))
        .await
        .unwrap();
    let r = b2.get(m.local(&fi_back)).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.body.contains("invalid_grant"), "{}", r.body);
    m.app
        .exec("UPDATE autorisations SET revoquee_at = NULL, revoquee_par = NULL")
        .await
        .unwrap();

    // A client registered with the wrong profile: pairwise sub and rep_scope as a text, refused.
    m.app
        .exec(&format!(
            "UPDATE oidc_clients SET profil = 'standard', userinfo_alg = NULL WHERE client_id = '{}'",
            federation::FI_CLIENT_ID
        ))
        .await
        .unwrap();
    let (mut b2, fi_back) = round(&mut b).await;
    let r = b2.get(m.local(&fi_back)).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.body.contains("rep_scope"), "{}", r.body);
}

#[tokio::test]
async fn the_franceconnect_profile_gives_the_stable_sub_and_rep_scope_as_a_list() {
    let m = serve().await;
    let (mut b, account, _, usager) = aidant_with_usager(&m, &["social"]).await;
    let fc = register_json(&m.app, &["--profil", "franceconnect"]);
    assert_eq!(fc["profil"], "franceconnect");
    assert_eq!(fc["userinfo_signed_response_alg"], "ES256");
    let v1 = register_json(
        &m.app,
        &[
            "--profil",
            "franceconnect",
            "--signature",
            "HS256",
            "--userinfo-signee",
            "non",
        ],
    );
    let client_of = |v: &Value| {
        (
            v["client_id"].as_str().unwrap().to_string(),
            v["client_secret"].as_str().unwrap().to_string(),
        )
    };
    let (fc, v1) = (client_of(&fc), client_of(&v1));
    // Nonce and state required, even with PKCE.
    let c43 = "c".repeat(43);
    for (drop, extra) in [
        ("nonce", vec![]),
        (
            "state",
            vec![("code_challenge", c43.as_str()), ("code_challenge_method", "S256")],
        ),
    ] {
        let mut q: Vec<(String, String)> = params(&format!(
            "http://x/?{}",
            crate::oidc_support::authorize_query(&fc.0, &[])
        ))
        .into_iter()
        .filter(|(k, _)| k != drop)
        .collect();
        q.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        let query = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(q)
            .finish();
        let r = b.get(&format!("/oidc/authorize?{query}")).await;
        let to = r.location().unwrap();
        assert!(to.starts_with(&format!("{BACK}?error=invalid_request")), "{drop}: {to}");
        assert!(to.contains("FranceConnect"), "{to}");
    }
    let sub_hash = m
        .app
        .scalar_text(&format!("SELECT sub_hash FROM usagers WHERE id = {usager}"))
        .await;
    let mut subs = Vec::new();
    for client in [&fc, &v1] {
        m.app
            .exec(&format!(
                "UPDATE sessions SET totp_verified_at = {} WHERE account_id = {account}",
                m.app.core.db.now_micros()
            ))
            .await
            .unwrap();
        let start = format!(
            "/oidc/authorize?{}",
            crate::oidc_support::authorize_query(&client.0, &[])
        );
        let back = consent(&mut b, &start, "Durand", None).await;
        let t = token_for(&m.app, client, &back).await;
        let id_token = t["id_token"].as_str().unwrap();
        let claims = if client == &fc {
            crate::oidc_support::verify_es256(&m.app, id_token, &client.0).await
        } else {
            assert_eq!(
                jsonwebtoken::decode_header(id_token).unwrap().alg,
                jsonwebtoken::Algorithm::HS256
            );
            let mut v = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::HS256);
            v.set_audience(&[client.0.as_str()]);
            v.set_issuer(&[crate::support::BASE]);
            let key = jsonwebtoken::DecodingKey::from_secret(client.1.as_bytes());
            jsonwebtoken::decode::<Value>(id_token, &key, &v).unwrap().claims
        };
        assert_eq!(claims["rep_scope"], serde_json::json!(["social"]));
        assert_eq!(claims["acr"], "eidas1");
        subs.push(claims["sub"].as_str().unwrap().to_string());
        let (status, _, info) = userinfo(&m.app, t["access_token"].as_str().unwrap()).await;
        assert_eq!(status, StatusCode::OK);
        if client == &v1 {
            // v1: plain JSON.
            assert_eq!(info["sub"], claims["sub"]);
            assert_eq!(info["rep_scope"], serde_json::json!(["social"]));
        }
        // RP-initiated logout with this ID token as hint (HS256 for v1), on the
        // application that issued it (token_for: the test application's own address).
        let r = m
            .app
            .browser()
            .get(&format!(
                "/oidc/logout?id_token_hint={id_token}&post_logout_redirect_uri={}&state=fin",
                url::form_urlencoded::byte_serialize(crate::oidc_support::AFTER_LOGOUT.as_bytes()).collect::<String>()
            ))
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
        assert_eq!(
            userinfo(&m.app, t["access_token"].as_str().unwrap()).await.0,
            StatusCode::UNAUTHORIZED
        );
    }
    // Never pairwise: the same for both clients, the usager's own identifier.
    assert_eq!(subs, [sub_hash.clone(), sub_hash]);
}
