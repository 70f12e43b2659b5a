//! The retention job through the command line (`passerelle taches
//! conservation`): what is past its period is deleted or pseudonymised, what
//! isn't stays, and a second run the same day does nothing (claimed).

use serde_json::Value;

use crate::rgpd::{bytes, journal_verifies, now, ok, DAY};
use crate::support::{cli, TestApp, PASSWORD};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_retention_job_deletes_what_is_past_its_period_once_a_day() {
    let app = TestApp::new().await;
    let t = now();
    let old = t - 3 * DAY;
    for (key, start) in [("connexion-ip:192.0.2.1", old), ("connexion-ip:192.0.2.2", t)] {
        app.exec(&format!(
            "INSERT INTO rate_limits (key, window_start, hits) VALUES ('{key}', {start}, 1)"
        ))
        .await
        .unwrap();
    }
    for (key, created) in [("vieux", t - 100 * DAY), ("recent", t - 10 * DAY)] {
        app.exec(&format!(
            "INSERT INTO courriels (cle, destinataire, sujet, corps, created_at, prochain_essai_at, envoye_at) \
             VALUES ('{key}', '{key}@exemple.fr', 'S', 'C', {created}, {created}, {created})"
        ))
        .await
        .unwrap();
    }
    // Usagers without mandate: identified 100 days ago (past), 10 days ago (kept).
    for (id, updated) in [(701, t - 100 * DAY), (702, t - 10 * DAY)] {
        app.exec(&format!(
            "INSERT INTO usagers (id, sub_hash, given_name, family_name, birthdate, birthplace, birthcountry, gender, \
             email, created_at, updated_at) VALUES ({id}, 's{id}', 'Prenom{id}', 'Nom{id}', '1970-01-01', '75107', \
             '99100', 'male', 'u{id}@exemple.fr', {updated}, {updated})"
        ))
        .await
        .unwrap();
    }
    // Accounts deactivated 3 years ago (past) and yesterday (kept); a live session and an expired one.
    let (gone, _) = app.account("lieu", "lieu", "ancien@exemple.fr", false).await;
    let (recent, _) = app.account("lieu", "lieu", "recent@exemple.fr", false).await;
    let (active, _) = app.account("lieu", "lieu", "actif@exemple.fr", false).await;
    app.exec(&format!(
        "UPDATE accounts SET active = FALSE, updated_at = {} WHERE id = {gone}",
        t - 3 * 365 * DAY
    ))
    .await
    .unwrap();
    app.exec(&format!(
        "UPDATE accounts SET active = FALSE, updated_at = {} WHERE id = {recent}",
        t - DAY
    ))
    .await
    .unwrap();
    app.browser().login("actif@exemple.fr", PASSWORD).await;
    app.exec(&format!(
        "INSERT INTO sessions (id_hash, account_id, stage, created_at, last_seen_at, expires_at) \
         VALUES ({}, {active}, 'active', {old}, {old}, {})",
        bytes(&app, "dead"),
        old + 3600 * 1_000_000
    ))
    .await
    .unwrap();
    assert_eq!(
        app.scalar_i64(&format!("SELECT COUNT(*) FROM sessions WHERE account_id = {active}"))
            .await,
        2
    );

    let out = ok(&cli(
        &app,
        &["taches", "conservation", "--date", "2026-12-01", "--json"],
    ));
    let report: Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(report["fait"], true, "{report}");
    assert_eq!(report["rapport"]["usagers_effaces"], 1, "{report}");
    assert_eq!(report["rapport"]["comptes_effaces"], 1, "{report}");
    assert_eq!(report["rapport"]["supprime"]["rate_limits"], 1, "{report}");
    assert_eq!(report["rapport"]["supprime"]["courriels"], 1, "{report}");

    assert_eq!(
        app.scalar_i64("SELECT COUNT(*) FROM rate_limits WHERE key = 'connexion-ip:192.0.2.1'")
            .await,
        0
    );
    assert_eq!(
        app.scalar_i64("SELECT COUNT(*) FROM rate_limits WHERE key = 'connexion-ip:192.0.2.2'")
            .await,
        1
    );
    assert_eq!(
        app.scalar_i64("SELECT COUNT(*) FROM courriels WHERE cle = 'vieux'")
            .await,
        0
    );
    assert_eq!(
        app.scalar_i64("SELECT COUNT(*) FROM courriels WHERE cle = 'recent'")
            .await,
        1
    );
    assert_eq!(
        app.scalar_text("SELECT family_name FROM usagers WHERE id = 701").await,
        "(effacé)"
    );
    assert_eq!(
        app.scalar_i64("SELECT COUNT(*) FROM usagers WHERE id = 701 AND email IS NULL AND efface_at IS NOT NULL")
            .await,
        1
    );
    assert_eq!(
        app.scalar_text("SELECT family_name FROM usagers WHERE id = 702").await,
        "Nom702"
    );
    assert_eq!(
        app.scalar_text(&format!("SELECT display_name FROM accounts WHERE id = {gone}"))
            .await,
        "Compte effacé"
    );
    assert_eq!(
        app.scalar_text(&format!("SELECT email FROM accounts WHERE id = {recent}"))
            .await,
        "recent@exemple.fr"
    );
    assert_eq!(
        app.scalar_i64(&format!("SELECT COUNT(*) FROM sessions WHERE account_id = {active}"))
            .await,
        1,
        "only the expired session goes"
    );

    // Same day again: claimed, nothing done, even for something new past its period.
    app.exec(&format!(
        "INSERT INTO rate_limits (key, window_start, hits) VALUES ('connexion-ip:192.0.2.3', {old}, 1)"
    ))
    .await
    .unwrap();
    let again = ok(&cli(&app, &["taches", "conservation", "--date", "2026-12-01"]));
    assert!(again.contains("déjà faite"), "{again}");
    assert_eq!(
        app.scalar_i64("SELECT COUNT(*) FROM rate_limits WHERE key = 'connexion-ip:192.0.2.3'")
            .await,
        1
    );
    let runs = app
        .journal_actions()
        .await
        .iter()
        .filter(|a| *a == "rgpd.conservation")
        .count();
    assert_eq!(runs, 1);
    let details = app
        .scalar_text("SELECT details FROM journal WHERE action = 'rgpd.conservation'")
        .await;
    for personal in ["192.0.2", "exemple.fr", "Nom701"] {
        assert!(!details.contains(personal), "{details}");
    }
    // The next day runs again.
    ok(&cli(&app, &["taches", "conservation", "--date", "2026-12-02"]));
    assert_eq!(
        app.scalar_i64("SELECT COUNT(*) FROM rate_limits WHERE key = 'connexion-ip:192.0.2.3'")
            .await,
        0
    );
    journal_verifies(&app);
}
