//! The closed sets of values of migrations 0027 and 0028: the database itself refuses
//! a state the code does not know (on INSERT and on UPDATE, on both engines),
//! the lists are those of the Rust code, and the demonstration data passes
//! the constraints when the migration is applied to a database that holds it.

use passerelle_core::aidants_connect::mandats;
use passerelle_core::pass_numerique::model::ChequeState;
use passerelle_core::{qualification, Backend, Pool};

use crate::journal::blob;
use crate::support::TestApp;

/// (table, column, a value the code writes, an INSERT of a valid row with `{v}` for the value).
/// The parents come from the demonstration data, or from a row inserted just before.
const COLUMNS: &[(&str, &str, &str, &str)] = &[
    ("commandes", "etat", "devis",
     "INSERT INTO commandes (commanditaire_id, carnets, cheques_par_carnet, valeur_centimes, frais_pour_dix_mille, debut, fin, \
      tolerance_jours, perimetre, publics, services, plafond_jour, marque, etat, created_at, updated_at) \
      VALUES ((SELECT MIN(id) FROM organisations), 1, 1, 500, 0, '2026-01-01', '2026-12-31', 0, '', '', '', 1, '', {v}, 0, 0)"),
    ("documents", "type", "avoir",
     "INSERT INTO documents (type, annee, rang, numero, commande_id, valeur_centimes, frais_centimes, total_centimes, created_at) \
      VALUES ({v}, 1999, {n}, 'T-{n}', (SELECT MIN(id) FROM commandes), 0, 0, 0, 0)"),
    ("cheques", "etat", "annule",
     "INSERT INTO cheques (id, carnet_id, rang, commande_id, empreinte, valeur_centimes, etat, updated_at) \
      VALUES (900000 + {n}, 999999, {n}, (SELECT MIN(id) FROM commandes), {blob}, 500, {v}, 0)"),
    ("qualifications", "etat", "retiree",
     "INSERT INTO qualifications (lieu_id, etat, motif, created_at, updated_at) VALUES ((SELECT MIN(id) FROM lieux), {v}, '', 0, 0)"),
    ("coordonnees_bancaires", "etat", "refusees",
     "INSERT INTO coordonnees_bancaires (lieu_id, iban, bic, titulaire, etat, created_at) \
      VALUES ((SELECT MIN(id) FROM lieux), 'FR76', 'BIC', 'Titulaire', {v}, 0)"),
    ("lots_virements", "etat", "genere",
     "INSERT INTO lots_virements (msg_id, jusqu_au, virements, total_centimes, xml, etat, created_at) \
      VALUES ('T-{n}', '2026-01-01', 0, 0, '', {v}, 0)"),
    ("releves", "etat", "emis",
     "INSERT INTO releves (numero, annee, rang, lieu_id, lot_id, coordonnees_id, jusqu_au, premier_jour, dernier_jour, lignes, \
      total_centimes, etat, created_at) VALUES ('R-{n}', 1999, {n}, (SELECT MIN(id) FROM lieux), (SELECT MAX(id) FROM lots_virements), \
      (SELECT MAX(id) FROM coordonnees_bancaires), '2026-01-01', '2026-01-01', '2026-01-01', 0, 0, {v}, 0)"),
    ("demandes_qualification", "etat", "refusee",
     "INSERT INTO demandes_qualification (lieu_id, organisation_id, etat, created_at, updated_at) \
      VALUES ((SELECT MIN(id) FROM lieux), (SELECT MIN(id) FROM organisations), {v}, 0, 0)"),
    ("demandes_historique", "etat", "brouillon",
     "INSERT INTO demandes_historique (demande_id, etat, at) VALUES ((SELECT MAX(id) FROM demandes_qualification), {v}, 0)"),
    ("habilitations", "etat", "deposee",
     "INSERT INTO habilitations (jeton_hash, etat, siret, nom, type_structure, adresse, contact_courriel, referent_nom, \
      referent_courriel, created_at, updated_at) VALUES ({blob}, {v}, '', '', '', '', '', '', '', 0, 0)"),
    ("habilitations_historique", "etat", "a_modifier",
     "INSERT INTO habilitations_historique (habilitation_id, etat, at) VALUES ((SELECT MAX(id) FROM habilitations), {v}, 0)"),
    ("oidc_cles", "etat", "retiree",
     "INSERT INTO oidc_cles (kid, cle_scellee, jwk_publique, etat, created_at) VALUES ('k-{n}', '', '', {v}, 0)"),
    ("corrections_lieux", "etat", "proposee",
     "INSERT INTO corrections_lieux (lieu_id, hub_id, auteur_id, changements, valeurs_avant, commentaire, etat, created_at) \
      VALUES ((SELECT MIN(id) FROM lieux), (SELECT MIN(id) FROM organisations), (SELECT MIN(id) FROM accounts), '{}', '{}', '', {v}, 0)"),
    ("mandats", "duree", "SHORT",
     "INSERT INTO mandats (organisation_id, usager_id, aidant_id, duree, texte_version, created_at, expires_at) \
      VALUES ((SELECT MIN(id) FROM organisations), (SELECT MAX(id) FROM usagers), (SELECT MIN(id) FROM accounts), {v}, \
      (SELECT MAX(version) FROM mandats_textes), 0, 0)"),
    ("autorisations", "revoquee_par", "remplacement",
     "INSERT INTO autorisations (mandat_id, demarche, revoquee_par) VALUES ((SELECT MAX(id) FROM mandats), 'd-{n}', {v})"),
];

const UNKNOWN: &str = "inconnu";

/// Whether `e` is the refusal of `table.column`'s closed set (and not another error).
fn is_refusal(app: &TestApp, e: &sqlx::Error, table: &str, column: &str) -> bool {
    let text = e.to_string();
    match app.backend() {
        Backend::Sqlite => text.contains(&format!("{table}.{column} : valeur inconnue, écriture refusée")),
        Backend::Postgres => text.contains(&format!("{table}_{column}_valeurs")),
    }
}

fn insert(app: &TestApp, template: &str, value: &str, n: usize) -> String {
    template
        .replace("{v}", &format!("'{value}'"))
        .replace("{n}", &n.to_string())
        .replace("{blob}", &blob(app, &n.to_be_bytes()))
}

/// The demonstration data: Pass Numérique (orders, cheques, a filed
/// application…) and Aidants Connect (structures, the online service).
async fn demo(app: &TestApp) {
    app.load_demo().await;
    passerelle_core::demo_aidants::load(&app.core, None, crate::support::BASE)
        .await
        .expect("démonstration Aidants Connect");
}

#[tokio::test]
async fn the_database_refuses_a_state_the_code_does_not_know() {
    let app = TestApp::new().await;
    demo(&app).await;
    app.exec(
        "INSERT INTO usagers (sub_hash, given_name, family_name, birthdate, birthplace, birthcountry, gender, created_at, updated_at) \
         VALUES ('essai', 'Angela', 'Dubois', '1962-08-24', '75107', '99100', 'female', 0, 0)",
    )
    .await
    .expect("usager");
    for (n, (table, column, valid, template)) in COLUMNS.iter().enumerate() {
        let refused = app.exec(&insert(&app, template, UNKNOWN, 2 * n)).await;
        match refused {
            Err(e) => assert!(
                is_refusal(&app, &e, table, column),
                "{table}.{column} : INSERT refusé pour une autre raison : {e}"
            ),
            Ok(_) => panic!("{table}.{column} : la valeur « {UNKNOWN} » est acceptée à l'INSERT"),
        }
        // The same row with a value the code writes is accepted: the refusal was the value's.
        app.exec(&insert(&app, template, valid, 2 * n + 1))
            .await
            .unwrap_or_else(|e| panic!("{table}.{column} : la valeur « {valid} » est refusée : {e}"));
        let before = app
            .scalar_i64(&format!("SELECT COUNT(*) FROM {table} WHERE {column} = '{valid}'"))
            .await;
        match app.exec(&format!("UPDATE {table} SET {column} = '{UNKNOWN}'")).await {
            Err(e) => assert!(
                is_refusal(&app, &e, table, column),
                "{table}.{column} : UPDATE refusé pour une autre raison : {e}"
            ),
            Ok(_) => panic!("{table}.{column} : la valeur « {UNKNOWN} » est acceptée à l'UPDATE"),
        }
        let after = app
            .scalar_i64(&format!("SELECT COUNT(*) FROM {table} WHERE {column} = '{valid}'"))
            .await;
        assert_eq!(before, after, "{table}.{column} : l'UPDATE refusé a changé des lignes");
    }
}

/// The lists of the migration are those of the Rust code, where the code names them.
#[tokio::test]
async fn the_allowed_values_are_the_ones_the_code_writes() {
    let app = TestApp::new().await;
    let schema = match &app.core.db.pool {
        Pool::Sqlite(p) => crate::schema_lecture::sqlite(p).await,
        Pool::Postgres(p) => crate::schema_lecture::postgres(p).await,
    };
    let allowed = |table: &str, column: &str| -> Vec<String> {
        let prefix = format!("valeurs permises {table}.{column} : ");
        let fact = schema.facts.iter().find_map(|f| f.strip_prefix(&prefix));
        let fact = fact.unwrap_or_else(|| panic!("pas de liste de valeurs pour {table}.{column}"));
        fact.split(", ").map(String::from).collect()
    };
    let sorted = |v: Vec<&str>| {
        let mut v: Vec<String> = v.into_iter().map(String::from).collect();
        v.sort();
        v
    };
    assert_eq!(
        allowed("cheques", "etat"),
        sorted(ChequeState::ALL.iter().map(|s| s.key()).collect())
    );
    assert_eq!(
        allowed("mandats", "duree"),
        sorted(mandats::Duration::ALL.iter().map(|d| d.key()).collect())
    );
    let application: Vec<&str> = qualification::model::ApplicationState::ALL
        .iter()
        .map(|s| s.key())
        .collect();
    assert_eq!(allowed("demandes_qualification", "etat"), sorted(application.clone()));
    assert_eq!(allowed("demandes_historique", "etat"), sorted(application));
    use passerelle_core::aidants_connect::structures::HabilitationState;
    let habilitation: Vec<&str> = HabilitationState::ALL.iter().map(|s| s.key()).collect();
    assert_eq!(allowed("habilitations", "etat"), sorted(habilitation.clone()));
    assert_eq!(allowed("habilitations_historique", "etat"), sorted(habilitation));
    use passerelle_core::qualification::bank_details::BankDetailsState;
    assert_eq!(
        allowed("coordonnees_bancaires", "etat"),
        sorted(BankDetailsState::ALL.iter().map(|s| s.key()).collect())
    );
    use passerelle_core::territoire::corrections::CorrectionState;
    assert_eq!(
        allowed("corrections_lieux", "etat"),
        sorted(CorrectionState::ALL.iter().map(|s| s.key()).collect())
    );
    use passerelle_core::aidants_connect::oidc_provider::keys::KeyState;
    assert_eq!(
        allowed("oidc_cles", "etat"),
        sorted(KeyState::ALL.iter().map(|s| s.key()).collect())
    );
    use passerelle_core::aidants_connect::invitations::InvitationStatus;
    assert_eq!(
        allowed("aidants_invitations", "statut"),
        sorted(InvitationStatus::ALL.iter().map(|s| s.key()).collect())
    );
    use passerelle_core::pass_numerique::orders::OrderState;
    let orders = [
        OrderState::Devis,
        OrderState::Acceptee,
        OrderState::Facturee,
        OrderState::Payee,
        OrderState::Annulee,
    ];
    assert_eq!(
        allowed("commandes", "etat"),
        sorted(orders.iter().map(|s| s.key()).collect())
    );
}

/// Removes what migration 0027 added and forgets that it ran (as if the
/// database had been filled by the previous version).
async fn without_0027(app: &TestApp) {
    for (table, column, _, _) in COLUMNS {
        let sql = match app.backend() {
            Backend::Sqlite => {
                format!("DROP TRIGGER {table}_{column}_valeurs_insert; DROP TRIGGER {table}_{column}_valeurs_update;")
            }
            Backend::Postgres => format!("ALTER TABLE {table} DROP CONSTRAINT {table}_{column}_valeurs"),
        };
        app.exec(&sql).await.unwrap_or_else(|e| panic!("{sql} : {e}"));
    }
    app.exec("DELETE FROM _sqlx_migrations WHERE version = 27")
        .await
        .expect("oubli de 0027");
}

async fn counts(app: &TestApp) -> Vec<(String, i64)> {
    let mut out = Vec::new();
    for (table, column, _, _) in COLUMNS {
        let sql = format!("SELECT COUNT(*) FROM {table}");
        let fingerprint = format!("SELECT COUNT(DISTINCT {column}) FROM {table}");
        out.push((
            format!("{table} {}", app.scalar_i64(&fingerprint).await),
            app.scalar_i64(&sql).await,
        ));
    }
    out
}

#[tokio::test]
async fn the_demo_data_passes_the_constraints_and_survives_the_migration() {
    let app = TestApp::new().await;
    demo(&app).await;
    let before = counts(&app).await;
    assert!(
        app.scalar_i64("SELECT COUNT(*) FROM cheques").await > 0,
        "pas de chèques de démonstration"
    );
    without_0027(&app).await;
    app.core
        .db
        .migrate()
        .await
        .expect("la migration 0027 accepte les données de démonstration");
    assert_eq!(counts(&app).await, before, "les lignes ont survécu à la migration");
    assert_eq!(
        app.scalar_i64("SELECT COUNT(*) FROM _sqlx_migrations WHERE version = 27")
            .await,
        1
    );
    let e = app
        .exec("UPDATE cheques SET etat = 'inconnu'")
        .await
        .expect_err("contrainte rétablie");
    assert!(is_refusal(&app, &e, "cheques", "etat"), "{e}");

    // A row holding an unknown value: the migration fails and changes nothing.
    without_0027(&app).await;
    app.exec("UPDATE commandes SET etat = 'inconnu' WHERE id = (SELECT MIN(id) FROM commandes)")
        .await
        .expect("valeur inconnue sans contrainte");
    let e = app
        .core
        .db
        .migrate()
        .await
        .expect_err("la migration refuse une valeur inconnue");
    let text = e.to_string();
    assert!(text.contains("commandes"), "{text}");
    assert_eq!(
        app.scalar_i64("SELECT COUNT(*) FROM _sqlx_migrations WHERE version = 27")
            .await,
        0
    );
    assert_eq!(
        app.scalar_i64("SELECT COUNT(*) FROM commandes WHERE etat = 'inconnu'")
            .await,
        1
    );
    app.exec("UPDATE cheques SET etat = 'inconnu' WHERE id = (SELECT MIN(id) FROM cheques)")
        .await
        .expect("aucune contrainte ajoutée à moitié");
}

/// Migration 0028: the stage of a session, the one state column 0027 left
/// without a closed set. Refused on INSERT and UPDATE, the list is the code's,
/// and the migration checks the rows already there.
#[tokio::test]
async fn the_stage_of_a_session_is_a_closed_set_too() {
    use passerelle_core::accounts::session::Stage;
    let app = TestApp::new().await;
    app.load_demo().await;
    let insert = |value: &str, n: u8| {
        format!(
            "INSERT INTO sessions (id_hash, account_id, stage, created_at, last_seen_at, expires_at) \
             VALUES ({}, (SELECT MIN(id) FROM accounts), '{value}', 0, 0, 0)",
            blob(&app, &[0xE7, n])
        )
    };
    let e = app
        .exec(&insert(UNKNOWN, 1))
        .await
        .expect_err("INSERT d'une étape inconnue");
    assert!(is_refusal(&app, &e, "sessions", "stage"), "{e}");
    app.exec(&insert("active", 2))
        .await
        .expect("une étape que le code écrit");
    let active = app
        .scalar_i64("SELECT COUNT(*) FROM sessions WHERE stage = 'active'")
        .await;
    assert!(active >= 1);
    let e = app
        .exec(&format!("UPDATE sessions SET stage = '{UNKNOWN}'"))
        .await
        .expect_err("UPDATE vers une étape inconnue");
    assert!(is_refusal(&app, &e, "sessions", "stage"), "{e}");
    assert_eq!(
        app.scalar_i64("SELECT COUNT(*) FROM sessions WHERE stage = 'active'")
            .await,
        active,
        "l'UPDATE refusé n'a rien changé"
    );

    let schema = match &app.core.db.pool {
        Pool::Sqlite(p) => crate::schema_lecture::sqlite(p).await,
        Pool::Postgres(p) => crate::schema_lecture::postgres(p).await,
    };
    let mut keys: Vec<String> = Stage::ALL.iter().map(|s| s.key().to_string()).collect();
    keys.sort();
    assert!(
        schema
            .facts
            .contains(&format!("valeurs permises sessions.stage : {}", keys.join(", "))),
        "la liste de la migration 0028 est celle de Stage"
    );

    // The migration passes over valid rows, and fails, changing nothing, over an unknown one.
    let without_0028 = || async {
        let sql = match app.backend() {
            Backend::Sqlite => {
                "DROP TRIGGER sessions_stage_valeurs_insert; DROP TRIGGER sessions_stage_valeurs_update;"
            }
            Backend::Postgres => "ALTER TABLE sessions DROP CONSTRAINT sessions_stage_valeurs",
        };
        app.exec(sql).await.unwrap_or_else(|e| panic!("{sql} : {e}"));
        app.exec("DELETE FROM _sqlx_migrations WHERE version = 28")
            .await
            .expect("oubli de 0028");
    };
    without_0028().await;
    app.core
        .db
        .migrate()
        .await
        .expect("la migration 0028 accepte les sessions valides");
    assert_eq!(
        app.scalar_i64("SELECT COUNT(*) FROM sessions WHERE stage = 'active'")
            .await,
        active
    );
    without_0028().await;
    app.exec(&format!("UPDATE sessions SET stage = '{UNKNOWN}'"))
        .await
        .expect("étape inconnue sans contrainte");
    let e = app
        .core
        .db
        .migrate()
        .await
        .expect_err("la migration refuse une étape inconnue");
    assert!(e.to_string().contains("sessions"), "{e}");
    assert_eq!(
        app.scalar_i64("SELECT COUNT(*) FROM _sqlx_migrations WHERE version = 28")
            .await,
        0
    );
}
