//! Safe upgrades: each released version keeps, under `tests/fixtures/versions/<version>/`,
//! a database it made (SQLite and PostgreSQL) with its data folder. This test brings
//! each one to today's schema with the command line (`migrate --verifier`, `migrate`),
//! then runs `controle` and `journal verify` with that version's keys, and checks that
//! no table lost a row.
//!
//! `make_the_database_of_this_version` (ignored; `scripts/base-de-version`) makes
//! the databases of the current version.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use passerelle_core::{Backend, Pool};

use crate::support::{cli_at, engine_name, principal_of, TestApp, PASSWORD};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/versions");

fn engine() -> (Backend, Option<String>) {
    match std::env::var("PASSERELLE_TEST_DATABASE_URL") {
        Ok(s) if !s.is_empty() => (Backend::Postgres, Some(s)),
        _ => (Backend::Sqlite, None),
    }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
    }
}

/// Rows per table (`_sqlx_migrations` aside), read with `sql` returning the table names.
async fn counts(pool: &Pool) -> BTreeMap<String, i64> {
    let tables: Vec<String> = match pool {
        Pool::Sqlite(p) => sqlx::query_scalar(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name <> '_sqlx_migrations'",
        )
        .fetch_all(p)
        .await
        .unwrap(),
        Pool::Postgres(p) => sqlx::query_scalar(
            "SELECT tablename::text FROM pg_tables WHERE schemaname = 'public' AND tablename <> '_sqlx_migrations'",
        )
        .fetch_all(p)
        .await
        .unwrap(),
    };
    let mut out = BTreeMap::new();
    for t in tables {
        let sql = format!("SELECT COUNT(*) FROM \"{t}\"");
        let n: i64 = match pool {
            Pool::Sqlite(p) => sqlx::query_scalar(&sql).fetch_one(p).await.unwrap(),
            Pool::Postgres(p) => sqlx::query_scalar(&sql).fetch_one(p).await.unwrap(),
        };
        out.insert(t, n);
    }
    out
}

fn parse_counts(text: &str) -> BTreeMap<String, i64> {
    text.lines()
        .filter_map(|l| l.split_once(' '))
        .filter_map(|(t, n)| Some((t.to_string(), n.trim().parse().ok()?)))
        .collect()
}

/// A fresh database holding the fixture of `dir` for the engine under test: its URL.
async fn restore(dir: &Path, backend: Backend, server: Option<&str>, tmp: &Path) -> String {
    match backend {
        Backend::Sqlite => {
            let file = tmp.join("passerelle.db");
            std::fs::copy(dir.join("sqlite.db"), &file).expect("base SQLite de la version");
            format!("sqlite:{}?mode=rwc", file.display())
        }
        Backend::Postgres => {
            let url = crate::support::create_pg_database(server.unwrap_or_default()).await;
            let dump = std::fs::read_to_string(dir.join("postgres.sql")).expect("base PostgreSQL de la version");
            // psql meta-commands (`\restrict`) are not SQL.
            let sql: String = dump
                .lines()
                .filter(|l| !l.starts_with('\\'))
                .collect::<Vec<_>>()
                .join("\n");
            // One connection of its own: the dump empties its search_path.
            let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(&url).await.unwrap();
            sqlx::raw_sql(&sql)
                .execute(&mut conn)
                .await
                .expect("restauration du dump");
            sqlx::Connection::close(conn).await.unwrap();
            url
        }
    }
}

#[tokio::test]
async fn every_released_version_migrates_to_todays_schema_and_checks_out() {
    let (backend, server) = engine();
    let mut versions: Vec<PathBuf> = std::fs::read_dir(FIXTURES)
        .expect("tests/fixtures/versions")
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    versions.sort();
    assert!(!versions.is_empty(), "aucune base de version publiée");
    for dir in versions {
        let version = dir.file_name().unwrap().to_string_lossy().into_owned();
        let tmp = tempfile::tempdir().unwrap();
        let data = tmp.path().join("donnees");
        copy_dir(&dir.join(format!("donnees-{}", engine_name(backend))), &data);
        let url = restore(&dir, backend, server.as_deref(), tmp.path()).await;

        let (code, out) = cli_at(&url, &data, &["migrate", "--verifier"]);
        assert!(matches!(code, Some(0 | 1)), "{version} : {out}");
        let (code, out) = cli_at(&url, &data, &["migrate"]);
        assert_eq!(code, Some(0), "{version} : {out}");
        let (code, out) = cli_at(&url, &data, &["migrate", "--verifier"]);
        assert_eq!(code, Some(0), "{version} : {out}");
        let (code, out) = cli_at(&url, &data, &["controle"]);
        assert_eq!(code, Some(0), "{version} : controle : {out}");
        let (code, out) = cli_at(&url, &data, &["journal", "verify"]);
        assert_eq!(code, Some(0), "{version} : journal verify : {out}");
        assert!(out.contains("Journal intact"), "{version} : {out}");

        // No table lost a row in the migrations.
        let before =
            parse_counts(&std::fs::read_to_string(dir.join(format!("tables-{}.txt", engine_name(backend)))).unwrap());
        let db = passerelle_core::db::Db::connect(&url).await.unwrap();
        let after = counts(&db.pool).await;
        db.close().await;
        for (table, n) in &before {
            let now = after.get(table).copied().unwrap_or(0);
            assert!(now >= *n, "{version} : {table} avait {n} lignes, {now} après migration");
        }
        // The version's database holds most kinds of rows (listed in its LISEZMOI.md otherwise).
        let filled = before.values().filter(|n| **n > 0).count();
        assert!(
            filled * 10 >= before.len() * 7,
            "{version} : {filled} tables remplies sur {}",
            before.len()
        );
    }
}

/// Makes `tests/fixtures/versions/<version>/` for the engine under test (run twice:
/// SQLite, then with `PASSERELLE_TEST_DATABASE_URL`); what it holds is listed in
/// `tests/fixtures/versions/LISEZMOI.md`. The territories are trimmed to the Gironde
/// and what the data cites (the binary reloads its own).
#[tokio::test]
#[ignore = "fabrique la base de la version courante : scripts/base-de-version"]
async fn make_the_database_of_this_version() {
    let (backend, server) = engine();
    let out = PathBuf::from(FIXTURES).join(env!("CARGO_PKG_VERSION"));
    std::fs::create_dir_all(&out).unwrap();
    let app = TestApp::new().await;
    app.load_demo().await;
    // Aidants Connect as `serve --demo` adds it (structure, démarches, trainings, TOTP cards).
    let client_fc = Some("client-fc-demo");
    passerelle_core::demo_aidants::load(&app.core, client_fc, crate::support::BASE)
        .await
        .expect("démonstration Aidants Connect");
    // A sign-in link asked by an aidant; a funder who no longer wants the monthly summary.
    passerelle_core::aidants_connect::magic_link::request(&app.core, "aidant@demo.passerelle.fr", crate::support::BASE)
        .await
        .expect("lien de connexion");
    let funder = app
        .scalar_i64("SELECT id FROM accounts WHERE email = 'commanditaire@demo.passerelle.fr'")
        .await;
    passerelle_core::recapitulatifs::set_abonne(&app.core.db, funder, false)
        .await
        .expect("désabonnement");

    // Sessions, and a failed sign-in (throttling rows).
    let mut b = app.browser();
    b.login("prescripteur@demo.passerelle.fr", "pas le bon mot de passe")
        .await;
    app.account("prescripteur", "prescripteur", "prescripteur-version@exemple.fr", false)
        .await;
    b.login("prescripteur-version@exemple.fr", PASSWORD).await;

    // An OpenID Connect login by an aidant for an usager, with its userinfo call.
    let client = crate::oidc_support::register(&app, "");
    let (mut aidant, aidant_id, structure, _) = crate::oidc_support::aidant(&app, "aidant-version@exemple.fr").await;
    let (_, _, autorisations) =
        crate::oidc_support::mandate(&app, structure, aidant_id, ("Angela", "Dubois"), &["social"], 30).await;
    let q = format!(
        "/oidc/authorize?{}",
        crate::oidc_support::authorize_query(&client.0, &[])
    );
    let back =
        crate::oidc_support::consent(&mut aidant, &q, "Angela Dubois", Some(&autorisations[0].to_string())).await;
    let t = crate::oidc_support::token_for(&app, &client, &back).await;
    let (status, _, _) = crate::oidc_support::userinfo(&app, t["access_token"].as_str().unwrap()).await;
    assert_eq!(status, 200);

    // A structure asks to be habilitated; the demo's référent invites an aidant.
    let form = passerelle_core::aidants_connect::structures::RequestForm {
        siret: "44306184100047".into(),
        nom: "France Services de Pessac".into(),
        type_structure: "france_services".into(),
        adresse: "Pessac".into(),
        contact_courriel: "contact@pessac.fr".into(),
        referent_nom: "Bruno".into(),
        referent_courriel: "referent-version@exemple.fr".into(),
        aidants: vec![("Léo Martin".into(), "leo-version@exemple.fr".into())],
        demarches: vec!["logement".into()],
    };
    passerelle_core::aidants_connect::structures::submit(&app.core, &form, crate::support::BASE)
        .await
        .expect("demande d'habilitation");
    let who = principal_of(&app, "referent@demo.passerelle.fr").await;
    passerelle_core::aidants_connect::invitations::invite(
        &app.core,
        &who,
        "Inès Version",
        "ines-version@exemple.fr",
        crate::support::BASE,
    )
    .await
    .expect("invitation");

    // Two places merged; a hub instructs the qualification requests of its territory.
    // One place published by two sources, then merged.
    let header = "id,pivot,nom,commune,code_postal,code_insee,adresse,date_maj,latitude,longitude,horaires,source";
    for (source, row) in [
        ("cartographie", "v-1,21330063500017,Médiathèque Mériadeck,Bordeaux,33000,33063,85 cours du Maréchal Juin,2026-10-01,44.8378,-0.5885,Mo-Fr 10:00-18:00,Cartographie nationale"),
        ("hub", "v-2,21330063500017,MEDIATHEQUE MERIADECK,Bordeaux,33000,33063,\"85, Cours du Maréchal-Juin\",2026-11-01,44.83795,-0.5886,Mo-Sa 10:00-19:00,Hub Nouvelle-Aquitaine"),
    ] {
        let file = app.data_dir.parent().unwrap().join(format!("{source}.csv"));
        std::fs::write(&file, format!("{header}\n{row}\n")).unwrap();
        crate::support::cli_ok(&app, &["lieux", "import", &file.display().to_string(), "--source", source]);
    }
    crate::support::cli_ok(&app, &["lieux", "fusionner", "v-1", "v-2"]);

    // The demo's hub proposes a correction to that place (in its territory).
    let hub_principal = principal_of(&app, "hub@demo.passerelle.fr").await;
    let proposed = [("telephone".to_string(), "+33556000000".to_string())]
        .into_iter()
        .collect();
    passerelle_core::territoire::corrections::propose(
        &app.core,
        &hub_principal,
        "v-1",
        &proposed,
        "Standard de la médiathèque",
    )
    .await
    .expect("correction")
    .expect("correction valide");

    // A médiateur of that place records an accompaniment.
    let (mut mediateur, org) =
        crate::lieux_pages::signed_in(&app, "lieu", "lieu", "mediateur-version@exemple.fr").await;
    app.exec(&format!(
        "UPDATE lieux SET organisation_id = {org} WHERE ext_id = 'v-1'"
    ))
    .await
    .unwrap();
    let lieu = app
        .scalar_i64("SELECT id FROM lieux WHERE ext_id = 'v-1'")
        .await
        .to_string();
    let today = passerelle_core::Horloge::systeme().today_paris().to_string();
    let r = mediateur
        .post("/activite/nouvelle", &crate::activite::form(&today, &lieu, &[]))
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    let hub = app
        .scalar_i64("SELECT MIN(id) FROM organisations WHERE kind = 'hub'")
        .await;
    crate::support::cli_ok(
        &app,
        &[
            "organisations",
            "instruction",
            "--organisation",
            &hub.to_string(),
            "--deleguer",
        ],
    );

    // The daily tasks, the dashboard's shared figures, a signed checkpoint of the journal.
    crate::support::cli_ok(&app, &["taches", "quotidiennes"]);
    passerelle_core::tableau_de_bord::donnees::get(&app.core, std::time::Duration::ZERO)
        .await
        .expect("chiffres du tableau de bord");
    crate::support::cli_ok(&app, &["journal", "checkpoint"]);

    // The official territories: the Gironde and what the data cites.
    for sql in [
        "DELETE FROM territoires_communes WHERE departement <> '33' AND code NOT IN (SELECT code_insee FROM lieux)",
        "DELETE FROM territoires_communes_historique WHERE code NOT LIKE '33%' AND code NOT IN (SELECT birthplace FROM usagers WHERE birthplace IS NOT NULL)",
        "DELETE FROM territoires_epci WHERE code NOT IN (SELECT epci FROM territoires_communes)",
    ] {
        app.exec(sql).await.expect(sql);
    }

    let engine = engine_name(backend);
    let data_out = out.join(format!("donnees-{engine}"));
    let _ = std::fs::remove_dir_all(&data_out);
    copy_dir(&app.data_dir, &data_out);
    let rows = counts(&app.core.db.pool).await;
    let text: String = rows.iter().map(|(t, n)| format!("{t} {n}\n")).collect();
    std::fs::write(out.join(format!("tables-{engine}.txt")), text).unwrap();
    match backend {
        Backend::Sqlite => {
            let file = out.join("sqlite.db");
            let _ = std::fs::remove_file(&file);
            app.exec(&format!("VACUUM INTO '{}'", file.display())).await.unwrap();
        }
        Backend::Postgres => {
            let pg_dump = std::env::var("PG_DUMP").unwrap_or_else(|_| "pg_dump".into());
            let dump = Command::new(pg_dump)
                .args([
                    "--inserts",
                    "--no-owner",
                    "--no-privileges",
                    "--no-comments",
                    &app.db_url,
                ])
                .output()
                .expect("pg_dump (PG_DUMP=/usr/lib/postgresql/NN/bin/pg_dump)");
            assert!(dump.status.success(), "{}", String::from_utf8_lossy(&dump.stderr));
            std::fs::write(out.join("postgres.sql"), dump.stdout).unwrap();
        }
    }
    let _ = server;
    let empty: Vec<&String> = rows.iter().filter(|(_, n)| **n == 0).map(|(t, _)| t).collect();
    println!("{engine} : {} tables, vides : {empty:?}", rows.len());
}
