//! The ProConnect login of professionals, over real HTTP against the bundled
//! simulator: the first login links an existing account only after the
//! person confirms (password, or a link sent to the address); later logins go
//! straight in; the second factor is still asked unless ProConnect's `amr`
//! proves several factors; and each refusal (address not verified, no
//! account, another organisation, replayed or foreign state, an error from
//! ProConnect) says why, in French.

use axum::http::StatusCode;
use passerelle_core::accounts::proconnect::{PcSettings, ProConnect};
use passerelle_web::{router, AppState};

use crate::support::{serveur, totp_code, Browser, TestApp, PASSWORD};

struct Pc {
    app: TestApp,
    base: String,
    router: axum::Router,
}

async fn serve() -> Pc {
    let app = TestApp::new().await;
    let (listener, base) = serveur::loopback().await;
    let settings = PcSettings {
        simulateur: true,
        ..Default::default()
    };
    let pc = ProConnect::resolve(&settings, &url::Url::parse(&base).unwrap(), false, &app.core.keys)
        .unwrap()
        .unwrap();
    let state = AppState::new(app.core.clone(), serveur::web_config_at(&base)).with_proconnect(Some(pc));
    let router = router(state);
    serveur::spawn(listener, router.clone());
    Pc { app, base, router }
}

/// What the agent says on the simulator's page.
#[derive(Clone, Copy, Default)]
struct Agent<'a> {
    email: &'a str,
    siret: &'a str,
    mfa: bool,
    unverified: bool,
}

impl Pc {
    fn local<'a>(&self, url: &'a str) -> &'a str {
        url.strip_prefix(self.base.as_str()).unwrap_or(url)
    }

    fn browser(&self) -> Browser {
        Browser::on(self.router.clone())
    }

    /// The button, the simulator's page and its form: the callback URL (local).
    async fn through_simulator(&self, b: &mut Browser, agent: Agent<'_>) -> String {
        let r = b.get("/proconnect/connexion").await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
        let authorize = self.local(r.location().unwrap()).to_string();
        assert!(authorize.starts_with("/pc-simulateur/authorize?"), "{authorize}");
        let q: std::collections::HashMap<String, String> = url::Url::parse(&format!("{}{authorize}", self.base))
            .unwrap()
            .query_pairs()
            .into_owned()
            .collect();
        assert!(q["state"].len() >= 32 && q["nonce"].len() >= 32);
        assert!(q["claims"].contains("\"amr\""), "amr asked in claims");
        assert!(q["scope"].split(' ').any(|s| s == "siret"));
        let page = b.get(&authorize).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        let mut f = vec![
            ("state", q["state"].as_str()),
            ("nonce", q["nonce"].as_str()),
            ("amr_asked", "1"),
            ("courriel", agent.email),
            ("siret", agent.siret),
        ];
        if agent.mfa {
            f.push(("mfa", "1"));
        }
        if agent.unverified {
            f.push(("non_verifiee", "1"));
        }
        let r = b.post("/pc-simulateur/authorize", &f).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
        self.local(r.location().unwrap()).to_string()
    }

    /// A whole ProConnect login: where the callback sends the browser.
    async fn login(&self, b: &mut Browser, agent: Agent<'_>) -> (StatusCode, String, String) {
        let back = self.through_simulator(b, agent).await;
        assert!(back.starts_with("/proconnect/retour?code="), "{back}");
        let r = b.get(&back).await;
        (r.status, r.location().unwrap_or_default().to_string(), r.body)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_first_login_links_the_account_only_after_the_password_then_goes_straight_in() {
    let pc = serve().await;
    let (account, secret) = pc
        .app
        .account("structure_habilitee", "aidant", "marie@exemple.fr", true)
        .await;
    let secret = secret.unwrap();
    let mut b = pc.browser();
    let page = b.get("/connexion").await;
    assert!(page.body.contains("S'identifier avec ProConnect"), "{}", page.body);

    let agent = Agent {
        email: "Marie@Exemple.fr",
        ..Default::default()
    };
    let (status, to, _) = pc.login(&mut b, agent).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert!(to.starts_with("/proconnect/lier?jeton="), "{to}");
    let page = b.get(&to).await;
    assert!(page.body.contains("marie@exemple.fr"), "{}", page.body);
    let jeton = to.split_once("jeton=").unwrap().1.to_string();
    // Not linked before the confirmation, and not with a wrong password.
    assert_eq!(pc.app.scalar_i64("SELECT COUNT(*) FROM proconnect_comptes").await, 0);
    let r = b
        .post(
            "/proconnect/lier",
            &[
                ("jeton", &jeton),
                ("mot_de_passe", "pas le bon"),
                ("action", "mot_de_passe"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.body);
    assert_eq!(pc.app.scalar_i64("SELECT COUNT(*) FROM proconnect_comptes").await, 0);
    let r = b
        .post(
            "/proconnect/lier",
            &[
                ("jeton", &jeton),
                ("mot_de_passe", PASSWORD),
                ("action", "mot_de_passe"),
            ],
        )
        .await;
    // Linked; without several factors from ProConnect, the account's own TOTP code is asked.
    assert_eq!(r.location(), Some("/connexion/totp"), "{}", r.body);
    assert_eq!(
        pc.app
            .scalar_i64(&format!(
                "SELECT COUNT(*) FROM proconnect_comptes WHERE account_id = {account}"
            ))
            .await,
        1
    );
    assert!(pc
        .app
        .journal_actions()
        .await
        .iter()
        .any(|a| a == "compte.proconnect_lie"));
    let r = b.post("/connexion/totp", &[("code", &totp_code(&secret, 0))]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(b.get("/mon-compte").await.status, StatusCode::OK);
    // The proposal served once.
    let r = b
        .post(
            "/proconnect/lier",
            &[
                ("jeton", &jeton),
                ("mot_de_passe", PASSWORD),
                ("action", "mot_de_passe"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);

    // Later: straight to the TOTP code, no link to confirm.
    let mut again = pc.browser();
    let (_, to, _) = pc.login(&mut again, agent).await;
    assert_eq!(to, "/connexion/totp");
    // With several factors proved by ProConnect: signed in, and the fresh second factor counts.
    let mut mfa = pc.browser();
    let (_, to, _) = pc.login(&mut mfa, Agent { mfa: true, ..agent }).await;
    assert_eq!(to, "/aidants-connect/mandats", "the aidant's home");
    let fresh = pc
        .app
        .scalar_i64(&format!(
            "SELECT COUNT(*) FROM sessions WHERE account_id = {account} AND stage = 'active' AND totp_verified_at IS NOT NULL"
        ))
        .await;
    assert!(fresh >= 2, "{fresh}");
    let login = pc
        .app
        .scalar_text("SELECT details FROM journal WHERE action = 'connexion' ORDER BY seq DESC LIMIT 1")
        .await;
    assert!(
        login.contains("\"mfa_proconnect\":true") && login.contains("proconnect"),
        "{login}"
    );
    let out = crate::support::cli(&pc.app, &["journal", "verify"]);
    assert_eq!(out.status.code(), Some(0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_link_may_be_confirmed_from_the_mailbox_instead() {
    let pc = serve().await;
    let (account, _) = pc
        .app
        .account("prescripteur", "prescripteur", "paul@exemple.fr", false)
        .await;
    let mut b = pc.browser();
    let (_, to, _) = pc
        .login(
            &mut b,
            Agent {
                email: "paul@exemple.fr",
                ..Default::default()
            },
        )
        .await;
    let jeton = to.split_once("jeton=").unwrap().1.to_string();
    let r = b
        .post("/proconnect/lier", &[("jeton", &jeton), ("action", "courriel")])
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.contains("Un lien a été envoyé à paul@exemple.fr"), "{}", r.body);
    let (stored, sealed): (String, bool) = {
        let body = pc
            .app
            .scalar_text("SELECT corps FROM courriels WHERE destinataire = 'paul@exemple.fr' ORDER BY id DESC LIMIT 1")
            .await;
        (body, true)
    };
    let body = passerelle_core::mail::body_of(&pc.app.core.keys, &stored, sealed).unwrap();
    let link = body
        .lines()
        .find(|l| l.contains("/proconnect/lier/"))
        .unwrap()
        .trim()
        .to_string();
    assert!(
        !link.contains(&jeton),
        "the e-mailed link is another secret than the page's"
    );
    // The page's token alone does not make the link.
    assert_eq!(
        b.get(&format!("/proconnect/lier/{jeton}")).await.status,
        StatusCode::BAD_REQUEST
    );
    let r = b.get(pc.local(&link)).await;
    // A role without a second factor: signed in.
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(r.location(), Some("/remettre"));
    assert_eq!(
        pc.app
            .scalar_i64(&format!(
                "SELECT COUNT(*) FROM proconnect_comptes WHERE account_id = {account}"
            ))
            .await,
        1
    );
    assert_eq!(b.get(pc.local(&link)).await.status, StatusCode::BAD_REQUEST, "once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_refusal_says_why() {
    let pc = serve().await;
    let (account, _) = pc
        .app
        .account("prescripteur", "prescripteur", "paul@exemple.fr", false)
        .await;
    pc.app
        .exec(&format!(
            "UPDATE organisations SET siret = '73282932000074' WHERE id = (SELECT organisation_id FROM accounts WHERE id = {account})"
        ))
        .await
        .unwrap();
    let refused = |r: (StatusCode, String, String), why: &str| {
        assert_eq!(r.0, StatusCode::BAD_REQUEST, "{why}");
        assert!(r.2.contains(why), "{why}: {}", r.2);
    };
    let paul = Agent {
        email: "paul@exemple.fr",
        ..Default::default()
    };
    // An address its identity provider does not vouch for.
    let mut b = pc.browser();
    refused(
        pc.login(
            &mut b,
            Agent {
                unverified: true,
                ..paul
            },
        )
        .await,
        "pas d&#39;adresse électronique vérifiée",
    );
    // No account with that address (its organisation's SIRET is known: said).
    refused(
        pc.login(
            &mut b,
            Agent {
                email: "inconnu@exemple.fr",
                siret: "73282932000074",
                ..Default::default()
            },
        )
        .await,
        "Aucun compte Passerelle actif",
    );
    let r = pc
        .login(
            &mut b,
            Agent {
                email: "inconnu@exemple.fr",
                siret: "73282932000074",
                ..Default::default()
            },
        )
        .await;
    assert!(r.2.contains("Organisation de paul@exemple.fr"), "{}", r.2);
    // Another organisation than the account's.
    refused(
        pc.login(
            &mut b,
            Agent {
                siret: "13002526500013",
                ..paul
            },
        )
        .await,
        "SIRET 13002526500013",
    );
    // The callback played twice, or in another browser.
    let back = pc
        .through_simulator(
            &mut b,
            Agent {
                siret: "73282932000074",
                ..paul
            },
        )
        .await;
    let mut other = pc.browser();
    let r = other.get(&back).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.body.contains("commencée dans un autre navigateur"), "{}", r.body);
    let saved = b.cookies.clone();
    let r = b.get(&back).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    // Replayed by the same browser (its cookie kept).
    let mut replay = pc.browser();
    replay.cookies = saved;
    let r = replay.get(&back).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.body.contains("déjà été utilisée"), "{}", r.body);
    // ProConnect answers with an error.
    let r = b
        .get("/proconnect/retour?error=access_denied&error_description=annul%C3%A9&state=x")
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.body.contains("interrompue"), "{}", r.body);
    // Every refusal is journaled with its reason's key only.
    let failures = pc
        .app
        .scalar_i64("SELECT COUNT(*) FROM journal WHERE action = 'connexion.echec' AND details LIKE '%proconnect%'")
        .await;
    assert!(failures >= 6, "{failures}");
    assert_eq!(pc.app.scalar_i64("SELECT COUNT(*) FROM proconnect_comptes").await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proconnect_starts_are_counted_with_the_logins_of_the_address() {
    let pc = serve().await;
    let mut b = pc.browser();
    for _ in 0..60 {
        assert_eq!(b.get("/proconnect/connexion").await.status, StatusCode::SEE_OTHER);
    }
    let r = b.get("/proconnect/connexion").await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(r.body.contains("Trop de tentatives de connexion"), "{}", r.body);
    assert_eq!(pc.app.scalar_i64("SELECT COUNT(*) FROM proconnect_etats").await, 60);
}

#[tokio::test]
async fn without_settings_there_is_no_proconnect() {
    let app = TestApp::new().await;
    let mut b = app.browser();
    assert!(!b.get("/connexion").await.body.contains("ProConnect"));
    for path in [
        "/proconnect/connexion",
        "/proconnect/retour?code=a&state=b",
        "/pc-simulateur/authorize",
        "/pc-simulateur/jwks",
    ] {
        assert_eq!(b.get(path).await.status, StatusCode::NOT_FOUND, "{path}");
    }
}
