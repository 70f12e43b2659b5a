//! Monthly digests to funders and hubs: figures equal direct recounts, one
//! e-mail per account and month whatever runs and however many at once,
//! opt-out from "Mon compte" (under CSRF) or from the e-mail's link (no login).

use axum::http::StatusCode;
use passerelle_core::journal::Actor;
use passerelle_core::money::Centimes;
use passerelle_core::recapitulatifs::{self, chiffres, texte::entier, Mois};
use passerelle_core::{hubs, Core};
use serde_json::json;

use crate::lieux::run;
use crate::pass::call;
use crate::support::{load_territories, TestApp, BASE, PASSWORD};

const HOUR: i64 = 3_600_000_000;

fn this_month() -> Mois {
    let today = passerelle_core::Horloge::systeme().today_paris();
    Mois::parse(&today.strftime("%Y-%m").to_string()).unwrap()
}

/// The digest e-mails queued, as (key, recipient, body), by key.
async fn queued(app: &TestApp) -> Vec<(String, String, String)> {
    let q = "SELECT cle, destinataire, corps FROM courriels WHERE cle LIKE 'recapitulatif:%' ORDER BY cle";
    match &app.core.db.pool {
        passerelle_core::Pool::Sqlite(p) => sqlx::query_as(q).fetch_all(p).await.unwrap(),
        passerelle_core::Pool::Postgres(p) => sqlx::query_as(q).fetch_all(p).await.unwrap(),
    }
}

/// The path of the unsubscribe link in an e-mail.
fn unsubscribe_path(body: &str) -> String {
    let start = body
        .find("/recapitulatifs/desabonnement/")
        .expect("lien de désabonnement");
    let end = body[start..]
        .find(char::is_whitespace)
        .map_or(body.len(), |e| start + e);
    body[start..end].to_string()
}

/// The demo (funder with an issued order, hub, places in Gironde), the hub
/// covering Gironde and Dordogne, a redemption, expiries and accompaniments.
async fn seed(app: &TestApp, m: &Mois) -> (i64, i64) {
    load_territories(app);
    let d = passerelle_core::demo::load_if_empty(&app.core).await.unwrap().unwrap();
    let pass = d.pass.expect("Pass Numérique de démonstration");
    let funder = app
        .scalar_i64("SELECT id FROM organisations WHERE kind = 'commanditaire'")
        .await;
    let hub = app.scalar_i64("SELECT id FROM organisations WHERE kind = 'hub'").await;
    hubs::set_departements(&app.core, &Actor::System, hub, &["33".into(), "24".into()])
        .await
        .unwrap();
    let body = json!({ "code": pass.codes[0], "service": "Accès internet et matériel informatique" }).to_string();
    let (status, r) = call(
        app,
        "/api/v1/cheques/encaisser",
        Some(&pass.api_key),
        Some("recap-1"),
        body,
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{r}");
    // The third booklet was handed out last month; two cheques of the last
    // booklet expired this month, a third one last month.
    let last_month = m.debut_micros - HOUR;
    let now = m.debut_micros + HOUR;
    for sql in [
        // The demo is dated some days back (for its place's statement): its issue, its
        // hand-outs, its two redemptions and its qualification request are brought into this month first, so that these
        // figures do not depend on the day of the month the test runs.
        format!("UPDATE commandes SET emise_at = {now} WHERE emise_at IS NOT NULL"),
        format!("UPDATE carnets SET remis_at = {now} WHERE remis_at IS NOT NULL"),
        format!("UPDATE encaissements SET jour = '{}-01', at = {now}", m.cle),
        format!("UPDATE demandes_qualification SET deposee_at = {now} WHERE deposee_at IS NOT NULL"),
        format!(
            "UPDATE carnets SET remis_at = {last_month} WHERE numero = (SELECT MAX(numero) FROM carnets WHERE remis_at IS NOT NULL)"
        ),
        format!(
            "UPDATE cheques SET etat = 'expire', updated_at = {now} WHERE carnet_id = (SELECT MAX(numero) FROM carnets) AND rang <= 2"
        ),
        format!(
            "UPDATE cheques SET etat = 'expire', updated_at = {last_month} WHERE carnet_id = (SELECT MAX(numero) FROM carnets) AND rang = 3"
        ),
    ] {
        assert!(app.exec(&sql).await.unwrap() >= 1, "{sql}");
    }
    // Accompaniments: two in Gironde this month, one in Dordogne, one in
    // Gironde a year before, one elsewhere.
    let author = app.scalar_i64("SELECT MIN(id) FROM accounts").await;
    let org = app
        .scalar_i64(&format!("SELECT organisation_id FROM accounts WHERE id = {author}"))
        .await;
    let before = Mois::of(
        m.cle[..4].parse::<i16>().unwrap() - 1,
        m.cle[5..].parse::<i8>().unwrap(),
    )
    .unwrap();
    for (mois, dep, minutes, people) in [
        (&m.cle, "33", 90, 1),
        (&m.cle, "33", 120, 6),
        (&m.cle, "24", 60, 1),
        (&before.cle, "33", 45, 1),
        (&m.cle, "75", 30, 1),
    ] {
        let nature = if people > 1 { "atelier" } else { "individuel" };
        app.exec(&format!(
            "INSERT INTO activites (compte_id, organisation_id, jour, mois, duree_minutes, nature, participants, \
             thematiques, tranche_age, departement, statut, created_at, updated_at) VALUES \
             ({author}, {org}, '{mois}-01', '{mois}', {minutes}, '{nature}', {people}, 'aide-aux-demarches-administratives', \
             '65-74', '{dep}', 'retraite', {now}, {now})"
        ))
        .await
        .unwrap();
    }
    (funder, hub)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn digest_figures_equal_direct_recounts_and_the_command_queues_each_once() {
    let app = TestApp::new().await;
    let m = this_month();
    let (funder, hub) = seed(&app, &m).await;
    let (start, end) = (m.debut_micros, m.fin_micros);
    let orders = format!("SELECT id FROM commandes WHERE commanditaire_id = {funder}");

    let mut tx = app.core.db.begin().await.unwrap();
    let f = chiffres::commanditaire(&mut tx, funder, &m).await.unwrap();
    let h = chiffres::hub(&mut tx, hub, &m).await.unwrap();
    tx.rollback().await.unwrap();

    // Funder: direct recounts, in the month and up to its end.
    let issued = app
        .scalar_i64(&format!(
            "SELECT CAST(SUM(carnets * cheques_par_carnet) AS BIGINT) FROM commandes WHERE commanditaire_id = {funder} \
             AND emise_at >= {start} AND emise_at < {end}"
        ))
        .await;
    let handed = |from: i64| {
        format!(
            "SELECT CAST(COALESCE(SUM(c.cheques_par_carnet), 0) AS BIGINT) FROM carnets k JOIN commandes c ON c.id = k.commande_id \
             WHERE c.commanditaire_id = {funder} AND k.remis_at >= {from} AND k.remis_at < {end}"
        )
    };
    let expired = |from: i64| {
        format!(
            "SELECT COUNT(*) FROM cheques WHERE etat = 'expire' AND commande_id IN ({orders}) \
             AND updated_at >= {from} AND updated_at < {end}"
        )
    };
    let redeemed = app
        .scalar_i64(&format!(
            "SELECT COUNT(*) FROM encaissements WHERE annule_at IS NULL AND commande_id IN ({orders}) \
             AND jour LIKE '{}-%'",
            m.cle
        ))
        .await;
    assert_eq!((f.emis.mois.cheques, f.emis.cumul.cheques), (issued, issued));
    assert_eq!(f.emis.mois.centimes.centimes(), issued * 1000);
    assert_eq!(f.distribues.mois.cheques, app.scalar_i64(&handed(start)).await);
    assert_eq!(f.distribues.cumul.cheques, app.scalar_i64(&handed(0)).await);
    assert_eq!(f.encaisses.mois.cheques, redeemed);
    assert_eq!(f.expires.mois.cheques, app.scalar_i64(&expired(start)).await);
    assert_eq!(f.expires.cumul.cheques, app.scalar_i64(&expired(0)).await);
    // …which are, on this seed:
    assert_eq!(
        (issued, f.distribues.mois.cheques, f.distribues.cumul.cheques),
        (200, 20, 30)
    );
    // One through the API, two by the demo's place.
    assert_eq!((redeemed, f.encaisses.cumul.centimes), (3, Centimes::new(3000)));
    assert_eq!((f.expires.mois.cheques, f.expires.cumul.cheques), (2, 3));
    assert_eq!(f.taux_pour_mille(), Some(100), "3 encaissés sur 30 distribués");

    // Hub: every département it covers, zeros included, and their sum.
    assert_eq!(
        h.departements.iter().map(|d| d.code.as_str()).collect::<Vec<_>>(),
        ["24", "33"]
    );
    let gironde = &h.departements[1];
    assert_eq!(gironde.nom, "Gironde");
    let count = |sql: String| {
        let app = &app;
        async move { app.scalar_i64(&sql).await }
    };
    assert_eq!(
        gironde.lieux,
        count("SELECT COUNT(*) FROM lieux WHERE departement = '33'".into()).await
    );
    assert_eq!(
        gironde.lieux_qualifies,
        count(
            "SELECT COUNT(*) FROM qualifications q JOIN lieux l ON l.id = q.lieu_id \
             WHERE q.etat = 'active' AND l.departement = '33'"
                .into()
        )
        .await
    );
    assert_eq!(
        gironde.demandes,
        count(format!(
            "SELECT COUNT(*) FROM demandes_qualification WHERE deposee_at >= {start} AND deposee_at < {end}"
        ))
        .await
    );
    assert_eq!((gironde.lieux_qualifies, gironde.demandes), (2, 1));
    assert_eq!(
        (gironde.accompagnements, gironde.minutes, gironde.personnes),
        (2, 210, 7)
    );
    assert_eq!(
        (gironde.encaisses.cheques, gironde.encaisses.centimes),
        (3, Centimes::new(3000))
    );
    let dordogne = &h.departements[0];
    assert_eq!((dordogne.lieux, dordogne.accompagnements, dordogne.minutes), (0, 1, 60));
    assert_eq!(h.total.accompagnements, 3);
    assert_eq!(h.total.lieux, gironde.lieux);

    // The command: one e-mail per subscribed account of a funder or a hub.
    let args = ["recapitulatifs", "envoyer", "--mois", &m.cle, "--url-base", BASE];
    let (code, out, err) = run(&app, &args);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("2 courriels mis en file, 0 déjà en file (2 destinataires abonnés)"),
        "{out}"
    );
    let mails = queued(&app).await;
    assert_eq!(mails.len(), 2);
    let (_, to, body) = mails
        .iter()
        .find(|(_, to, _)| to == "commanditaire@demo.passerelle.fr")
        .unwrap();
    let account = app
        .scalar_i64(&format!("SELECT id FROM accounts WHERE email = '{to}'"))
        .await;
    assert!(mails.iter().any(|(k, _, _)| *k == recapitulatifs::cle(account, &m)));
    let line = format!(
        "- chèques distribués (carnets remis) : {} chèques ({}\u{a0}€) ; depuis le début : {} chèques ({}\u{a0}€)",
        entier(f.distribues.mois.cheques),
        f.distribues.mois.centimes.euros(),
        entier(f.distribues.cumul.cheques),
        f.distribues.cumul.centimes.euros()
    );
    assert!(body.contains(&line), "{line}\n{body}");
    assert!(
        body.contains("- chèques émis : 200 chèques (2\u{a0}000\u{a0}€)"),
        "{body}"
    );
    assert!(body.contains(": 10,0\u{a0}%"), "3 encaissés sur 30 distribués: {body}");
    assert!(body.contains(&format!("{BASE}/rapports")), "{body}");
    let link = unsubscribe_path(body);
    assert_eq!(
        recapitulatifs::lire_jeton(&app.core.keys, link.rsplit('/').next().unwrap()),
        Some(account),
        "lien personnel"
    );
    let (_, _, hub_body) = mails.iter().find(|(_, to, _)| to == "hub@demo.passerelle.fr").unwrap();
    let expected = format!(
        "- accompagnements enregistrés en {} : 2 (3\u{a0}h\u{a0}30 ; 7 personnes accompagnées)",
        m.libelle()
    );
    assert!(hub_body.contains("33 — Gironde"), "{hub_body}");
    assert!(hub_body.contains(&expected), "{hub_body}");
    assert!(hub_body.contains("Ensemble de vos 2 départements"), "{hub_body}");

    // Again: nothing new.
    let (code, out, _) = run(&app, &args);
    assert_eq!(code, 0);
    assert!(
        out.contains("0 courriel mis en file, 2 déjà en file (2 destinataires abonnés)"),
        "{out}"
    );
    assert_eq!(queued(&app).await.len(), 2);
    let (code, _, err) = run(&app, &["recapitulatifs", "envoyer", "--mois", "2026-13"]);
    assert_ne!(code, 0);
    assert!(err.contains("mois invalide"), "{err}");
}

/// A funder's and a hub's accounts, plus accounts that never get the digest.
async fn accounts(app: &TestApp) -> (i64, i64, i64) {
    let (funder, _) = app
        .account("commanditaire", "commanditaire", "f@exemple.fr", false)
        .await;
    let (opted_out, _) = app
        .account("commanditaire", "commanditaire", "g@exemple.fr", false)
        .await;
    let (hub, _) = app.account("hub", "hub", "h@exemple.fr", false).await;
    app.account("lieu", "lieu", "l@exemple.fr", false).await;
    let (inactive, _) = app.account("hub", "hub", "i@exemple.fr", false).await;
    app.exec(&format!("UPDATE accounts SET active = FALSE WHERE id = {inactive}"))
        .await
        .unwrap();
    recapitulatifs::set_abonne(&app.core.db, opted_out, false)
        .await
        .unwrap();
    (funder, hub, opted_out)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_runs_queue_each_digest_once_and_opted_out_accounts_get_nothing() {
    let app = TestApp::new().await;
    let (funder, hub, opted_out) = accounts(&app).await;
    let other = Core::open(&app.db_url, &app.data_dir).await.unwrap();
    let day = |s: &str| jiff::civil::Date::strptime("%Y-%m-%d", s).unwrap();
    let m = Mois::parse("2026-11").unwrap();

    // Late in the month: not the time.
    assert_eq!(
        recapitulatifs::run_scheduled(&app.core, day("2026-12-08"), BASE)
            .await
            .unwrap(),
        None
    );
    // The funder's November digest is already queued (say, by an earlier run
    // whose claim was lost): the key keeps it from being queued again.
    let mut tx = app.core.db.begin().await.unwrap();
    passerelle_core::mail::enqueue(
        &mut tx,
        &recapitulatifs::cle(funder, &m),
        "f@exemple.fr",
        "déjà",
        "déjà",
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    // Two instances at once, early in December: one of them queues November's.
    let (a, b) = tokio::join!(
        recapitulatifs::run_scheduled(&app.core, day("2026-12-01"), BASE),
        recapitulatifs::run_scheduled(&other, day("2026-12-01"), BASE),
    );
    let runs: Vec<_> = [a.unwrap(), b.unwrap()].into_iter().flatten().collect();
    assert_eq!(runs.len(), 1, "une seule instance fait la tâche");
    assert_eq!(
        (runs[0].mis_en_file, runs[0].deja_en_file, runs[0].destinataires),
        (1, 1, 2)
    );
    // Later that day, or the next: already done.
    assert_eq!(
        recapitulatifs::run_scheduled(&other, day("2026-12-02"), BASE)
            .await
            .unwrap(),
        None
    );
    let mails = queued(&app).await;
    let keys: Vec<&str> = mails.iter().map(|(k, _, _)| k.as_str()).collect();
    assert_eq!(keys, [recapitulatifs::cle(funder, &m), recapitulatifs::cle(hub, &m)]);
    assert!(!mails.iter().any(|(_, to, _)| to == "g@exemple.fr"));
    assert!(!keys.contains(&recapitulatifs::cle(opted_out, &m).as_str()));

    // Two operators' commands at once for October: each e-mail queued once.
    let october = Mois::parse("2026-10").unwrap();
    let (a, b) = tokio::join!(
        recapitulatifs::envoyer(&app.core, &october, BASE),
        recapitulatifs::envoyer(&other, &october, BASE),
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(a.mis_en_file + b.mis_en_file, 2);
    assert_eq!(a.deja_en_file + b.deja_en_file, 2);
    assert_eq!(queued(&app).await.len(), 4);
    let per_key = app
        .scalar_i64("SELECT COUNT(*) FROM courriels WHERE cle LIKE 'recapitulatif:%' GROUP BY cle ORDER BY COUNT(*) DESC LIMIT 1")
        .await;
    assert_eq!(per_key, 1);
    other.db.close().await;
}

#[tokio::test]
async fn the_unsubscribe_link_works_without_login_by_its_button_and_bad_tokens_are_refused() {
    let app = TestApp::new().await;
    let (funder, hub, _) = accounts(&app).await;
    let m = Mois::parse("2026-11").unwrap();
    recapitulatifs::envoyer(&app.core, &m, BASE).await.unwrap();
    let mails = queued(&app).await;
    let (_, _, body) = mails.iter().find(|(_, to, _)| to == "f@exemple.fr").unwrap();
    let path = unsubscribe_path(body);
    let token = path.rsplit('/').next().unwrap().to_string();

    // Refused: another account's number with this signature, garbage, another key.
    let mut b = app.browser();
    let forged = token.replacen(&format!("{funder}-"), &format!("{hub}-"), 1);
    let foreign = recapitulatifs::jeton(&passerelle_core::keys::Keys::ephemeral(), hub);
    for bad in [forged.as_str(), "n-importe-quoi", "0-00", foreign.as_str()] {
        let r = b.get(&format!("/recapitulatifs/desabonnement/{bad}")).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{bad}");
        assert!(r.body.contains("Lien non reconnu"));
        let r = b
            .post(&format!("/recapitulatifs/desabonnement/{bad}/reabonnement"), &[])
            .await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{bad}");
        let r = b.post(&format!("/recapitulatifs/desabonnement/{bad}"), &[]).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{bad}");
    }
    assert!(recapitulatifs::abonne(&app.core.db, hub).await.unwrap());

    // The real link, without logging in: opening it changes nothing (mail
    // scanners open links); its button unsubscribes (twice is harmless).
    let r = b.get(&path).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(
        r.body.contains("Ne plus recevoir le récapitulatif mensuel"),
        "{}",
        r.body
    );
    assert!(recapitulatifs::abonne(&app.core.db, funder).await.unwrap());
    let r = b.post_raw(&path, &[]).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "sans jeton anti-falsification");
    assert!(recapitulatifs::abonne(&app.core.db, funder).await.unwrap());
    for _ in 0..2 {
        let r = b.post(&path, &[]).await;
        assert_eq!(r.status, StatusCode::OK);
        assert!(r.body.contains("Désabonnement pris en compte"), "{}", r.body);
        assert!(r.body.contains("f@exemple.fr"));
    }
    let r = b.get(&path).await;
    assert!(r.body.contains("Vous êtes désabonné"), "{}", r.body);
    assert!(!recapitulatifs::abonne(&app.core.db, funder).await.unwrap());
    assert!(
        recapitulatifs::abonne(&app.core.db, hub).await.unwrap(),
        "les autres comptes restent abonnés"
    );

    // The next month, the funder's account gets nothing.
    let december = Mois::parse("2026-12").unwrap();
    let e = recapitulatifs::envoyer(&app.core, &december, BASE).await.unwrap();
    assert_eq!(e.mis_en_file, 1);
    assert!(!queued(&app)
        .await
        .iter()
        .any(|(k, _, _)| *k == recapitulatifs::cle(funder, &december)));

    // Subscribing again is a form under CSRF.
    let again = format!("{path}/reabonnement");
    let r = b.post_raw(&again, &[]).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "sans jeton anti-falsification");
    let mut foreign_site = app.browser();
    foreign_site.same_origin = false;
    let r = foreign_site.post(&again, &[]).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "depuis un autre site");
    assert!(!recapitulatifs::abonne(&app.core.db, funder).await.unwrap());
    let r = b.post(&again, &[]).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.contains("Abonnement rétabli"), "{}", r.body);
    assert!(recapitulatifs::abonne(&app.core.db, funder).await.unwrap());
}

#[tokio::test]
async fn the_account_page_toggles_the_digest_under_csrf_for_funders_and_hubs_only() {
    let app = TestApp::new().await;
    let (hub, _) = app.account("hub", "hub", "h@exemple.fr", false).await;
    app.account("lieu", "lieu", "l@exemple.fr", false).await;

    // Not signed in: refused.
    let mut anonymous = app.browser();
    let r = anonymous.post("/mon-compte/recapitulatifs", &[]).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);

    let mut b = app.browser();
    b.login("h@exemple.fr", PASSWORD).await;
    let page = b.get("/mon-compte").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("Récapitulatif mensuel"));
    assert!(
        page.body.contains(r#"name="recapitulatif" value="oui" checked"#),
        "abonné par défaut"
    );

    // Without the CSRF token, nothing changes.
    let r = b.post_raw("/mon-compte/recapitulatifs", &[]).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(recapitulatifs::abonne(&app.core.db, hub).await.unwrap());

    // Unticked: unsubscribed.
    let r = b.post("/mon-compte/recapitulatifs", &[]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(r.location(), Some("/mon-compte?ok=recapitulatif-non"));
    assert!(!recapitulatifs::abonne(&app.core.db, hub).await.unwrap());
    let page = b.get("/mon-compte?ok=recapitulatif-non").await;
    assert!(page.body.contains("Vous ne recevrez plus le récapitulatif mensuel"));
    assert!(
        page.body.contains(r#"name="recapitulatif" value="oui">"#),
        "case décochée"
    );
    let e = recapitulatifs::envoyer(&app.core, &Mois::parse("2026-11").unwrap(), BASE)
        .await
        .unwrap();
    assert_eq!(e.destinataires, 0);

    // Ticked: subscribed again.
    let r = b.post("/mon-compte/recapitulatifs", &[("recapitulatif", "oui")]).await;
    assert_eq!(r.location(), Some("/mon-compte?ok=recapitulatif-oui"));
    assert!(recapitulatifs::abonne(&app.core.db, hub).await.unwrap());

    // A place's account has no such choice.
    let mut place = app.browser();
    place.login("l@exemple.fr", PASSWORD).await;
    let page = place.get("/mon-compte").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(!page.body.contains("Récapitulatif mensuel"));
    let r = place
        .post("/mon-compte/recapitulatifs", &[("recapitulatif", "oui")])
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
}
