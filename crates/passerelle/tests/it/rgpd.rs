//! Personal data (RGPD), through the command line: `passerelle rgpd exporter`
//! gives a person's data and nobody else's; `passerelle rgpd effacer` erases or
//! pseudonymises it (checked in the tables), keeps a mandate's proof, and the
//! journal still verifies. The retention job is tested in `rgpd_conservation`.

use passerelle_core::journal::{self, Actor, NewEntry};
use passerelle_core::Backend;
use serde_json::Value;

use crate::support::{cli, TestApp, PASSWORD};

pub(crate) const DAY: i64 = 86_400 * 1_000_000;

pub(crate) fn now() -> i64 {
    passerelle_core::horloge::Horloge::systeme().now_micros()
}

/// A BYTEA/BLOB literal for either engine.
pub(crate) fn bytes(app: &TestApp, hex: &str) -> String {
    match app.backend() {
        Backend::Sqlite => format!("X'{hex}'"),
        Backend::Postgres => format!("'\\x{hex}'::bytea"),
    }
}

pub(crate) fn ok(out: &std::process::Output) -> String {
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(out.status.success(), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    stdout
}

fn export(app: &TestApp, args: &[&str]) -> (Value, String) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("export.json");
    let mut all = vec!["rgpd", "exporter"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--sortie", file.to_str().unwrap()]);
    ok(&cli(app, &all));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&file).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "export readable by its owner only");
    }
    let text = std::fs::read_to_string(&file).unwrap();
    (serde_json::from_str(&text).unwrap(), text)
}

fn rows<'a>(doc: &'a Value, table: &str) -> &'a Vec<Value> {
    doc["tables"][table]
        .as_array()
        .unwrap_or_else(|| panic!("table {table} absente"))
}

pub(crate) fn journal_verifies(app: &TestApp) {
    let out = cli(app, &["journal", "verify"]);
    assert!(
        out.status.success(),
        "journal verify : {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

async fn note(app: &TestApp, action: &'static str, subjects: &[(&str, i64)]) {
    let mut entry = NewEntry::new(Actor::System, action);
    for (k, v) in subjects {
        entry = entry.subject(k, v);
    }
    let mut tx = app.core.db.begin().await.unwrap();
    journal::append(&mut tx, &app.core.keys, entry).await.unwrap();
    tx.commit().await.unwrap();
}

/// Two usagers (501: Angela Martin, 502: Bernard Durand), each with a mandate of
/// structure `org` concluded by `aidant`, expiring in 30 days; sessions and uses.
async fn two_usagers(app: &TestApp) -> (i64, i64) {
    let (aidant, _) = app
        .account("structure_habilitee", "aidant", "aidant@exemple.fr", false)
        .await;
    let org = app
        .scalar_i64(&format!("SELECT organisation_id FROM accounts WHERE id = {aidant}"))
        .await;
    let t = now();
    let end = t + 30 * DAY;
    for (id, given, family, email, sub) in [
        (501, "Angela", "Martin", "angela.martin@courriel.fr", "aa"),
        (502, "Bernard", "Durand", "bernard.durand@courriel.fr", "bb"),
    ] {
        app.exec(&format!(
            "INSERT INTO usagers (id, sub_hash, given_name, family_name, preferred_username, birthdate, birthplace, \
             birthcountry, gender, email, created_at, updated_at) VALUES ({id}, 'empreinte-{sub}', '{given}', '{family}', \
             NULL, '1962-08-24', '75107', '99100', 'female', '{email}', {t}, {t})"
        ))
        .await
        .unwrap();
        let m = id + 100;
        app.exec(&format!(
            "INSERT INTO mandats (id, organisation_id, usager_id, aidant_id, duree, texte_version, created_at, expires_at) \
             VALUES ({m}, {org}, {id}, {aidant}, 'MONTH', 1, {t}, {end})"
        ))
        .await
        .unwrap();
        let a = id + 200;
        app.exec(&format!(
            "INSERT INTO autorisations (id, mandat_id, demarche) VALUES ({a}, {m}, 'social')"
        ))
        .await
        .unwrap();
        app.exec(&format!(
            "INSERT INTO mandats_utilisations (autorisation_id, mandat_id, usager_id, aidant_id, structure_id, client_id, \
             demarche, at, journal_seq) VALUES ({a}, {m}, {id}, {aidant}, {org}, 'service-{id}', 'social', {t}, 1)"
        ))
        .await
        .unwrap();
        app.exec(&format!(
            "INSERT INTO usagers_sessions (id_hash, usager_id, created_at, last_seen_at, expires_at) \
             VALUES ({}, {id}, {t}, {t}, {})",
            bytes(app, &format!("{id:04x}")),
            t + DAY
        ))
        .await
        .unwrap();
        note(app, "mandat.cree", &[("mandat", m), ("usager", id)]).await;
    }
    (aidant, org)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_usager_is_exported_alone_then_erased_with_the_proof_of_his_mandate_kept() {
    let app = TestApp::new().await;
    let (aidant, _) = two_usagers(&app).await;

    let (doc, text) = export(&app, &["--usager", "501"]);
    assert_eq!(doc["format"], "passerelle-rgpd-export-v1");
    assert_eq!(doc["personne"]["reference"], "usager:501");
    assert_eq!(rows(&doc, "usagers")[0]["given_name"], "Angela");
    assert_eq!(rows(&doc, "usagers")[0]["email"], "angela.martin@courriel.fr");
    assert_eq!(rows(&doc, "mandats").len(), 1);
    assert_eq!(rows(&doc, "mandats")[0]["id"], 601);
    assert_eq!(rows(&doc, "autorisations").len(), 1);
    assert_eq!(rows(&doc, "mandats_utilisations").len(), 1);
    assert_eq!(rows(&doc, "usagers_sessions").len(), 1);
    assert!(text.contains("Martin"));
    for other in [
        "Bernard",
        "Durand",
        "bernard.durand",
        "service-502",
        "usager:502",
        "mandat:602",
    ] {
        assert!(!text.contains(other), "l'export de 501 contient « {other} »");
    }
    // Secrets are said to be present, never given.
    assert!(!text.contains("empreinte-aa"), "{text}");
    assert_eq!(rows(&doc, "usagers")[0]["sub_hash"], "(présent, non communiqué)");
    let journal = doc["journal"].as_array().unwrap();
    assert_eq!(journal.len(), 1, "{journal:?}");
    assert_eq!(journal[0]["action"], "mandat.cree");
    assert!(app.journal_actions().await.contains(&"rgpd.export".to_string()));

    // Without --confirmer nothing changes.
    let dry = ok(&cli(&app, &["rgpd", "effacer", "--usager", "501"]));
    assert!(dry.contains("Simulation"), "{dry}");
    assert!(dry.contains("- à supprimer : usagers_sessions (1)"), "{dry}");
    assert_eq!(
        app.scalar_i64("SELECT COUNT(*) FROM usagers_sessions WHERE usager_id = 501")
            .await,
        1
    );
    assert!(!app.journal_actions().await.contains(&"rgpd.effacement".to_string()));

    let out = ok(&cli(&app, &["rgpd", "effacer", "--usager", "501", "--confirmer"]));
    assert!(out.contains("effacées"), "{out}");
    // The mandate ends in 30 days: its proof is kept 5 years after that.
    let until = passerelle_core::rgpd::day_of(now() + 30 * DAY + passerelle_core::rgpd::durees::PREUVE_MANDAT * DAY);
    let until = passerelle_core::dates_fr::jour_fr(&until);
    assert!(out.contains(&format!("Conservé jusqu'au {until}")), "{out}");
    assert_eq!(
        app.scalar_i64("SELECT COUNT(*) FROM usagers_sessions WHERE usager_id = 501")
            .await,
        0
    );
    assert_eq!(
        app.scalar_text("SELECT sub_hash FROM usagers WHERE id = 501").await,
        "efface:501"
    );
    assert_eq!(
        app.scalar_i64("SELECT COUNT(*) FROM usagers WHERE id = 501 AND email IS NULL")
            .await,
        1
    );
    assert_eq!(
        app.scalar_text("SELECT given_name FROM usagers WHERE id = 501").await,
        "Angela",
        "proof kept"
    );
    assert_eq!(
        app.scalar_i64("SELECT COUNT(*) FROM mandats_utilisations WHERE usager_id = 501")
            .await,
        1
    );
    assert_eq!(
        app.scalar_i64("SELECT COUNT(*) FROM autorisations WHERE mandat_id = 601 AND revoquee_at IS NOT NULL")
            .await,
        1,
        "the active autorisation is revoked"
    );
    // The other usager is untouched.
    assert_eq!(
        app.scalar_i64("SELECT COUNT(*) FROM usagers_sessions WHERE usager_id = 502")
            .await,
        1
    );
    assert_eq!(
        app.scalar_text("SELECT sub_hash FROM usagers WHERE id = 502").await,
        "empreinte-bb"
    );
    assert_eq!(
        app.scalar_i64("SELECT COUNT(*) FROM autorisations WHERE mandat_id = 602 AND revoquee_at IS NULL")
            .await,
        1
    );
    // Journaled without personal data; the chain still verifies.
    let details = app
        .scalar_text("SELECT details FROM journal WHERE action = 'rgpd.effacement'")
        .await;
    assert!(!details.contains("Angela") && !details.contains("angela"), "{details}");
    journal_verifies(&app);

    let (doc, text) = export(&app, &["--usager", "501"]);
    assert!(!text.contains("angela.martin@courriel.fr"));
    assert!(rows(&doc, "usagers_sessions").is_empty());

    // Five years after the mandate's end, the retention job pseudonymises the identity.
    app.exec(&format!(
        "UPDATE mandats SET expires_at = {} WHERE id = 601",
        now() - 6 * 365 * DAY
    ))
    .await
    .unwrap();
    ok(&cli(&app, &["taches", "conservation", "--date", "2031-01-01"]));
    let (_, text) = export(&app, &["--usager", "501"]);
    assert!(!text.contains("Angela") && !text.contains("Martin"), "{text}");
    assert_eq!(
        app.scalar_text("SELECT family_name FROM usagers WHERE id = 501").await,
        "(effacé)"
    );
    assert_eq!(
        app.scalar_text("SELECT given_name FROM usagers WHERE id = 502").await,
        "Bernard"
    );
    journal_verifies(&app);

    // The aidant's name stays on the mandate still to prove (602), the rest goes.
    let out = ok(&cli(
        &app,
        &["rgpd", "effacer", "--compte", "aidant@exemple.fr", "--confirmer"],
    ));
    assert!(out.contains("nom de l'aidant"), "{out}");
    assert_eq!(
        app.scalar_text(&format!("SELECT display_name FROM accounts WHERE id = {aidant}"))
            .await,
        "Personne aidant@exemple.fr"
    );
    assert_eq!(
        app.scalar_text(&format!("SELECT email FROM accounts WHERE id = {aidant}"))
            .await,
        format!("efface-{aidant}@efface.invalid")
    );
    journal_verifies(&app);

    let out = cli(&app, &["rgpd", "effacer", "--usager", "9999", "--confirmer"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("aucun usager n° 9999"));
}

/// Booklets 1001 and 1002 handed out with a contact each; an accompaniment
/// paid with a cheque of 1001 has a follow-up code.
async fn two_beneficiaries(app: &TestApp) {
    let (account, _) = app
        .account("commanditaire", "commanditaire", "funder@exemple.fr", false)
        .await;
    let org = app
        .scalar_i64(&format!("SELECT organisation_id FROM accounts WHERE id = {account}"))
        .await;
    let t = now();
    app.exec(&format!(
        "INSERT INTO commandes (id, commanditaire_id, carnets, cheques_par_carnet, valeur_centimes, frais_pour_dix_mille, \
         debut, fin, tolerance_jours, perimetre, publics, services, plafond_jour, marque, etat, created_at, updated_at) \
         VALUES (77, {org}, 2, 2, 1000, 0, '2026-01-01', '2099-12-31', 30, '33', 'tout-public', '', 2, '', 'payee', {t}, {t})"
    ))
    .await
    .unwrap();
    for (numero, contact, suivi) in [
        (1001, "06 12 34 56 78", "SUIVI-AAA"),
        (1002, "07 98 76 54 32", "SUIVI-BBB"),
    ] {
        let sealed = app.core.keys.seal("contact-beneficiaire", contact).unwrap();
        app.exec(&format!(
            "INSERT INTO carnets (numero, commande_id, graine, remis_at, public, commune, tranche_age, contact) \
             VALUES ({numero}, 77, {}, {t}, 'seniors', '33063', '60-69', '{sealed}')",
            bytes(app, &format!("{numero:04x}"))
        ))
        .await
        .unwrap();
        for rang in 1..=2 {
            let id = numero * 10 + rang;
            app.exec(&format!(
                "INSERT INTO cheques (id, carnet_id, rang, commande_id, empreinte, valeur_centimes, etat, updated_at) \
                 VALUES ({id}, {numero}, {rang}, 77, {}, 1000, 'actif', {t})",
                bytes(app, &format!("{id:08x}"))
            ))
            .await
            .unwrap();
        }
        app.exec(&format!(
            "INSERT INTO activites (compte_id, organisation_id, jour, mois, duree_minutes, nature, participants, \
             thematiques, tranche_age, statut, suivi, cheque_id, created_at, updated_at) VALUES ({account}, {org}, \
             '2026-11-02', '2026-11', 30, 'individuel', 1, 'x', '60-69', 'retraite', '{suivi}', {}, {t}, {t})",
            numero * 10 + 1
        ))
        .await
        .unwrap();
        note(app, "carnet.remise", &[("carnet", numero)]).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_beneficiary_is_known_by_his_booklet_and_loses_his_contact() {
    let app = TestApp::new().await;
    two_beneficiaries(&app).await;

    let (doc, text) = export(&app, &["--beneficiaire", "1001"]);
    assert_eq!(
        rows(&doc, "carnets")[0]["contact"],
        "06 12 34 56 78",
        "contact given in clear"
    );
    assert_eq!(rows(&doc, "carnets")[0]["graine"], "(présent, non communiqué)");
    assert_eq!(rows(&doc, "cheques").len(), 2);
    assert_eq!(rows(&doc, "activites")[0]["suivi"], "SUIVI-AAA");
    assert_eq!(doc["journal"].as_array().unwrap().len(), 1);
    for other in ["07 98 76 54 32", "SUIVI-BBB", "carnet:1002", "10021"] {
        assert!(!text.contains(other), "l'export de 1001 contient « {other} »");
    }

    let out = ok(&cli(
        &app,
        &["rgpd", "effacer", "--beneficiaire", "1001", "--confirmer"],
    ));
    assert!(out.contains("carnets.contact (1)"), "{out}");
    assert_eq!(
        app.scalar_i64("SELECT COUNT(*) FROM carnets WHERE numero = 1001 AND contact IS NULL")
            .await,
        1
    );
    assert_eq!(
        app.scalar_i64("SELECT COUNT(*) FROM carnets WHERE numero = 1002 AND contact IS NULL")
            .await,
        0
    );
    assert_eq!(
        app.scalar_i64("SELECT COUNT(*) FROM activites WHERE suivi IS NULL")
            .await,
        1
    );
    assert_eq!(
        app.scalar_text("SELECT public FROM carnets WHERE numero = 1001").await,
        "seniors",
        "kept"
    );
    assert_eq!(
        app.scalar_i64("SELECT COUNT(*) FROM cheques WHERE carnet_id = 1001")
            .await,
        2,
        "kept"
    );
    journal_verifies(&app);

    let (_, text) = export(&app, &["--beneficiaire", "1001"]);
    assert!(
        !text.contains("06 12 34 56 78") && !text.contains("SUIVI-AAA"),
        "{text}"
    );

    for (number, message) in [("9999", "aucun carnet n° 9999"), ("abc", "invalid value")] {
        let out = cli(&app, &["rgpd", "exporter", "--beneficiaire", number]);
        assert!(!out.status.success());
        assert!(String::from_utf8_lossy(&out.stderr).contains(message), "{out:?}");
    }
    // Two people at once is refused.
    let out = cli(&app, &["rgpd", "effacer", "--beneficiaire", "1001", "--usager", "1"]);
    assert!(!out.status.success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_account_is_exported_by_its_address_and_erased() {
    let app = TestApp::new().await;
    let (marie, _) = app.account("lieu", "lieu", "marie@exemple.fr", false).await;
    let (paul, _) = app.account("lieu", "lieu", "paul@exemple.fr", false).await;
    let mut b = app.browser();
    b.login("marie@exemple.fr", PASSWORD).await;
    app.browser().login("paul@exemple.fr", PASSWORD).await;
    assert_eq!(
        app.scalar_i64(&format!("SELECT COUNT(*) FROM sessions WHERE account_id = {marie}"))
            .await,
        1
    );
    let t = now();
    for (who, email) in [("m", "marie@exemple.fr"), ("p", "paul@exemple.fr")] {
        app.exec(&format!(
            "INSERT INTO courriels (cle, destinataire, sujet, corps, created_at, prochain_essai_at) \
             VALUES ('essai:{who}', '{email}', 'Bonjour', 'Corps', {t}, {t})"
        ))
        .await
        .unwrap();
    }

    let (doc, text) = export(&app, &["--compte", "marie@exemple.fr"]);
    assert_eq!(doc["personne"]["reference"], format!("compte:{marie}"));
    assert_eq!(rows(&doc, "accounts")[0]["email"], "marie@exemple.fr");
    assert_eq!(rows(&doc, "accounts")[0]["password_hash"], "(présent, non communiqué)");
    assert_eq!(
        rows(&doc, "accounts")[0]["active"],
        true,
        "booleans are booleans on both engines"
    );
    assert_eq!(rows(&doc, "sessions").len(), 1);
    assert_eq!(rows(&doc, "courriels").len(), 1);
    assert!(!text.contains("$argon2"), "no password hash");
    assert!(!text.contains("paul@exemple.fr"));
    let actions: Vec<&str> = doc["journal"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["action"].as_str())
        .collect();
    assert!(actions.contains(&"compte.creation"), "{actions:?}");

    ok(&cli(
        &app,
        &["rgpd", "effacer", "--compte", &marie.to_string(), "--confirmer"],
    ));
    assert_eq!(
        app.scalar_text(&format!("SELECT email FROM accounts WHERE id = {marie}"))
            .await,
        format!("efface-{marie}@efface.invalid")
    );
    assert_eq!(
        app.scalar_text(&format!("SELECT display_name FROM accounts WHERE id = {marie}"))
            .await,
        "Compte effacé"
    );
    assert_eq!(
        app.scalar_i64(&format!(
            "SELECT COUNT(*) FROM accounts WHERE id = {marie} AND efface_at IS NOT NULL AND active = FALSE"
        ))
        .await,
        1
    );
    assert_eq!(
        app.scalar_i64(&format!("SELECT COUNT(*) FROM sessions WHERE account_id = {marie}"))
            .await,
        0
    );
    assert_eq!(
        app.scalar_i64("SELECT COUNT(*) FROM courriels WHERE destinataire = 'marie@exemple.fr'")
            .await,
        0
    );
    // Paul is untouched.
    assert_eq!(
        app.scalar_i64(&format!("SELECT COUNT(*) FROM sessions WHERE account_id = {paul}"))
            .await,
        1
    );
    assert_eq!(
        app.scalar_i64("SELECT COUNT(*) FROM courriels WHERE destinataire = 'paul@exemple.fr'")
            .await,
        1
    );
    // The old address and password no longer sign in.
    let r = app.browser().login("marie@exemple.fr", PASSWORD).await;
    assert_eq!(
        app.scalar_i64(&format!("SELECT COUNT(*) FROM sessions WHERE account_id = {marie}"))
            .await,
        0,
        "{}",
        r.status
    );
    journal_verifies(&app);

    let out = cli(&app, &["rgpd", "exporter", "--compte", "marie@exemple.fr"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("aucun compte"));
    let (_, text) = export(&app, &["--compte", &marie.to_string()]);
    assert!(
        !text.contains("marie@exemple.fr") && !text.contains("Personne marie"),
        "{text}"
    );
}
