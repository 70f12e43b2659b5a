//! Security issue 18, finding 1: a référent cannot take an aidant of another
//! structure (and with him the usagers' mandates). Joining needs the aidant's
//! own acceptance (after login, with a recent TOTP code; or the link for a
//! new address), the invite answer is the same whatever the address belongs
//! to, and the current structure is always an explicit choice: never picked
//! by name, never switched under an open session, shown on every page.

use axum::http::StatusCode;

use crate::mandats_support::{form, serve, Aidant, M};
use crate::support::{totp_code, Browser};

const X: &str = "Zèbre, CCAS de Xaintrailles";
const Z: &str = "Aardvark, association de Zuydcoote";

/// Léo's training and test are recorded (they are his own, as his device).
async fn trained(m: &M, email: &str) -> i64 {
    let id = m
        .count(&format!("SELECT id FROM accounts WHERE email = '{email}'"))
        .await;
    m.app
        .exec(&format!(
            "INSERT INTO aidants_formations (account_id, formee_at, test_reussi_at, updated_at) VALUES ({id}, 1, 1, 1) \
             ON CONFLICT (account_id) DO UPDATE SET formee_at = 1, test_reussi_at = 1"
        ))
        .await
        .unwrap();
    id
}

/// The invitation link in the last e-mail to `to`.
async fn invitation_link(m: &M, to: &str) -> String {
    // The body is stored sealed (a secret link): opened with the deployment's key.
    let body = crate::securite::last_mail_with(&m.app, to, "/aidants-connect/invitation?jeton=").await;
    let start = body.find("/aidants-connect/invitation?jeton=").unwrap();
    body[start..].split_whitespace().next().unwrap().to_string()
}

async fn invite(referent: &mut Aidant, email: &str) -> (StatusCode, Option<String>) {
    let r = referent
        .b
        .post(
            "/aidants-connect/referent/aidants",
            &[("nom", "Personne Invitée"), ("email", email)],
        )
        .await;
    (r.status, r.location().map(str::to_string))
}

fn activation(id: i64) -> String {
    format!("/aidants-connect/referent/aidants/{id}/activation")
}

#[tokio::test]
async fn a_referent_of_another_structure_cannot_take_an_aidant_without_his_consent() {
    let m = serve().await;
    let x = m.structure(X, &["papiers"]).await;
    let z = m.structure(Z, &["social"]).await;
    let mut leo = m.aidant(x, "leo@exemple.fr").await;
    let leo_id = trained(&m, "leo@exemple.fr").await;
    let mut ref_x = m.member(x, "ref-x@exemple.fr", "referent").await;
    let mut ref_z = m.member(z, "ref-z@exemple.fr", "referent").await;
    let _ines = m.aidant(z, "ines@exemple.fr").await;

    // Léo's open session acts for X, and every page says so.
    let r = leo.b.get("/aidants-connect/mandats").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(r.body.contains(&format!("Structure : {X}")), "{}", r.body);

    // The invite answer is the same whatever the address belongs to: an aidant
    // of another structure, a new address, a référent's account, a member.
    let first = invite(&mut ref_z, "leo@exemple.fr").await;
    assert_eq!(
        first,
        (
            StatusCode::SEE_OTHER,
            Some("/aidants-connect/referent?ok=invitation".to_string())
        )
    );
    for email in [
        "nouvelle@exemple.fr",
        "ref-x@exemple.fr",
        "ines@exemple.fr",
        "leo@exemple.fr",
    ] {
        assert_eq!(invite(&mut ref_z, email).await, first, "{email}");
    }
    let page = ref_z.b.get("/aidants-connect/referent").await;
    assert!(page.body.contains("Invitations en attente"), "{}", page.body);
    assert!(
        !page.body.contains("Aidant leo@exemple.fr"),
        "nothing of Léo's account is shown"
    );
    assert!(!page.body.contains("Aidant ref-x@exemple.fr"));

    // Z cannot activate Léo: he has not accepted, he is not a member.
    assert_eq!(
        ref_z.b.post(&activation(leo_id), &[("action", "activer")]).await.status,
        StatusCode::NOT_FOUND
    );
    let in_z = format!("SELECT COUNT(*) FROM aidants_membres WHERE account_id = {leo_id} AND organisation_id = {z}");
    assert_eq!(m.count(&in_z).await, 0);
    assert!(leo
        .b
        .get("/aidants-connect/mandats")
        .await
        .body
        .contains(&format!("Structure : {X}")));

    // Léo sees the invitation; nobody else can answer it for him.
    let invitation = m
        .count(&format!(
            "SELECT id FROM aidants_invitations WHERE courriel = 'leo@exemple.fr' AND organisation_id = {z} AND statut = 'en_attente'"
        ))
        .await;
    let page = leo.b.get("/aidants-connect/structure").await;
    assert!(
        page.body.contains(&format!("Accepter l'invitation de {Z}")),
        "{}",
        page.body
    );
    let accept = format!("/aidants-connect/invitations/{invitation}/accepter");
    assert_eq!(ref_x.b.post(&accept, &[]).await.status, StatusCode::FORBIDDEN);
    assert_eq!(ref_z.b.post(&accept, &[]).await.status, StatusCode::FORBIDDEN);

    // Accepting needs a TOTP code of less than 15 minutes.
    m.app
        .exec(&format!(
            "UPDATE sessions SET totp_verified_at = 1 WHERE account_id = {leo_id}"
        ))
        .await
        .unwrap();
    let r = leo.b.post(&accept, &[]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert!(
        r.location().unwrap().starts_with("/connexion/totp-recent"),
        "{:?}",
        r.location()
    );
    assert_eq!(m.count(&in_z).await, 0);
    let r = leo
        .b
        .post(
            "/connexion/totp-recent",
            &[
                ("code", &totp_code(&leo.secret, 1)),
                ("suivant", "/aidants-connect/structure"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let r = leo.b.post(&accept, &[]).await;
    assert_eq!(r.location(), Some("/aidants-connect/structure?ok=acceptation"));
    assert_eq!(m.count(&format!("{in_z} AND actif = FALSE")).await, 1);
    assert_eq!(leo.b.post(&accept, &[]).await.status, StatusCode::FORBIDDEN, "once");

    // Z now activates him (trained, with his own device)…
    let r = ref_z.b.post(&activation(leo_id), &[("action", "activer")]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    // …but his open session still acts for X, although Z sorts first by name.
    let r = leo.b.get("/aidants-connect/structure").await;
    assert!(r.body.contains(&format!("id=\"structure-choisie\">{X}")), "{}", r.body);

    // A new session acts for no structure until he chooses one.
    m.app
        .exec(&format!(
            "UPDATE accounts SET totp_last_step = NULL WHERE id = {leo_id}"
        ))
        .await
        .unwrap();
    let mut leo2 = m.sign_in("leo@exemple.fr", &leo.secret, 0).await;
    let r = leo2.get("/aidants-connect/mandats").await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(
        r.location(),
        Some("/aidants-connect/structure?suivant=%2Faidants-connect%2Fmandats")
    );
    let r = leo2
        .post("/aidants-connect/mandats", &form(&["papiers"], "MONTH", true))
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = leo2.get("/aidants-connect/structure").await;
    assert!(r.body.contains("Choisissez votre structure"), "{}", r.body);
    assert!(r.body.contains("Structure : à choisir"), "{}", r.body);
    let r = leo2
        .post(
            "/aidants-connect/structure",
            &[("structure", &x.to_string()), ("suivant", "/aidants-connect/mandats")],
        )
        .await;
    assert_eq!(r.location(), Some("/aidants-connect/mandats"));
    assert!(leo2
        .get("/aidants-connect/mandats")
        .await
        .body
        .contains(&format!("Structure : {X}")));

    // Deactivated in his chosen structure, he is not moved to another one.
    let r = ref_x.b.post(&activation(leo_id), &[("action", "desactiver")]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let r = leo2.get("/aidants-connect/mandats").await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert!(leo2
        .get("/aidants-connect/structure")
        .await
        .body
        .contains("Choisissez votre structure"));

    let actions = m.app.journal_actions().await;
    for a in [
        "aidant.invitation",
        "aidant.acceptation",
        "aidant.activation",
        "aidant.structure_courante",
        "aidant.desactivation",
    ] {
        assert!(actions.iter().any(|x| x == a), "{a} missing");
    }
    assert_eq!(m.actions("aidant.invitation").await, 5);
}

#[tokio::test]
async fn a_new_address_accepts_or_declines_with_its_link_and_an_existing_account_must_sign_in() {
    let m = serve().await;
    let x = m.structure(X, &["papiers"]).await;
    let z = m.structure(Z, &["social"]).await;
    let leo = m.aidant(x, "leo@exemple.fr").await;
    let mut ref_z = m.member(z, "ref-z@exemple.fr", "referent").await;
    for email in ["nouvelle@exemple.fr", "autre@exemple.fr", "leo@exemple.fr"] {
        invite(&mut ref_z, email).await;
    }
    let mut anon = Browser::on(m.router.clone());

    // A new address: the link accepts, creates the (inactive) account once.
    let link = invitation_link(&m, "nouvelle@exemple.fr").await;
    let r = anon.get(&link).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(
        r.body.contains(Z) && r.body.contains("Accepter l'invitation"),
        "{}",
        r.body
    );
    let jeton = link.split("jeton=").nth(1).unwrap().to_string();
    let r = anon
        .post(
            "/aidants-connect/invitation",
            &[("jeton", &jeton), ("reponse", "accepter")],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(r.body.contains("Invitation acceptée"), "{}", r.body);
    assert_eq!(
        m.count(&format!(
            "SELECT COUNT(*) FROM accounts a JOIN aidants_membres m ON m.account_id = a.id \
             WHERE a.email = 'nouvelle@exemple.fr' AND a.active = FALSE AND m.organisation_id = {z} AND m.actif = FALSE"
        ))
        .await,
        1
    );
    assert!(ref_z
        .b
        .get("/aidants-connect/referent")
        .await
        .body
        .contains("Personne Invitée"));
    let r = anon
        .post(
            "/aidants-connect/invitation",
            &[("jeton", &jeton), ("reponse", "accepter")],
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "a link serves once");

    // Declined with the link: nothing is created.
    let link = invitation_link(&m, "autre@exemple.fr").await;
    let jeton = link.split("jeton=").nth(1).unwrap().to_string();
    let r = anon
        .post(
            "/aidants-connect/invitation",
            &[("jeton", &jeton), ("reponse", "refuser")],
        )
        .await;
    assert!(r.body.contains("Invitation refusée"), "{}", r.body);
    assert_eq!(
        m.count("SELECT COUNT(*) FROM accounts WHERE email = 'autre@exemple.fr'")
            .await,
        0
    );

    // An existing account: the link alone never accepts; he must sign in.
    let link = invitation_link(&m, "leo@exemple.fr").await;
    let jeton = link.split("jeton=").nth(1).unwrap().to_string();
    let r = anon.get(&link).await;
    assert!(r.body.contains("connectez-vous"), "{}", r.body);
    assert!(!r.body.contains("Accepter l'invitation"), "{}", r.body);
    let r = anon
        .post(
            "/aidants-connect/invitation",
            &[("jeton", &jeton), ("reponse", "accepter")],
        )
        .await;
    assert!(r.body.contains("connectez-vous"), "{}", r.body);
    let leo_id = m.count("SELECT id FROM accounts WHERE email = 'leo@exemple.fr'").await;
    assert_eq!(
        m.count(&format!(
            "SELECT COUNT(*) FROM aidants_membres WHERE account_id = {leo_id} AND organisation_id = {z}"
        ))
        .await,
        0
    );
    drop(leo);
    let actions = m.app.journal_actions().await;
    assert!(actions.iter().any(|a| a == "aidant.refus"));
    assert_eq!(m.actions("aidant.acceptation").await, 1);
}

#[tokio::test]
async fn the_mandate_is_concluded_for_the_structure_shown_on_the_recap() {
    let m = serve().await;
    let x = m.structure(X, &["papiers"]).await;
    let mut leo = m.aidant(x, "leo@exemple.fr").await;
    m.identify(&mut leo.b, "angela").await;
    let r = leo
        .b
        .get(&format!(
            "/aidants-connect/mandats/recapitulatif?{}",
            crate::mandats_support::query(&["papiers"], "MONTH")
        ))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(r.body.contains(X), "{}", r.body);
    let usager = crate::mandats_support::recap_usager(&r.body);
    let mut fields = form(&["papiers"], "MONTH", true);
    fields.push(("usager", &usager));
    let other = (x + 1000).to_string();
    fields.push(("structure", &other));
    let r = leo.b.post("/aidants-connect/mandats", &fields).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    assert!(
        r.body.contains("structure pour laquelle vous agissez a changé"),
        "{}",
        r.body
    );
    assert_eq!(m.count("SELECT COUNT(*) FROM mandats").await, 0);
}
