//! The command line: organisations, admin accounts, configuration errors.

use crate::support::{cli, TestApp};

#[tokio::test]
async fn organisations_creer_prints_the_id_or_json() {
    let app = TestApp::new().await;
    let out = cli(
        &app,
        &[
            "organisations",
            "creer",
            "--type",
            "structure habilitée",
            "--nom",
            "France Services de Cenon",
        ],
    );
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let id: i64 = String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .expect("un numéro sur la sortie standard");
    let out = cli(
        &app,
        &[
            "organisations",
            "creer",
            "--type",
            "lieu",
            "--nom",
            "EPN de Bègles",
            "--siret",
            "73282932000074",
            "--json",
        ],
    );
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["type"], "lieu");
    assert_eq!(v["nom"], "EPN de Bègles");
    assert_eq!(v["siret"], "73282932000074");
    assert!(v["id"].as_i64().unwrap() > id);
    assert_eq!(
        app.scalar_i64("SELECT COUNT(*) FROM journal WHERE action = 'organisation.creation'")
            .await,
        2
    );

    let bad = cli(&app, &["organisations", "creer", "--type", "banque", "--nom", "X"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("type d'organisation inconnu « banque »"));
    let bad = cli(
        &app,
        &[
            "organisations",
            "creer",
            "--type",
            "lieu",
            "--nom",
            "X",
            "--siret",
            "123",
        ],
    );
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("SIRET invalide"));
    assert_eq!(
        app.scalar_i64("SELECT COUNT(*) FROM organisations").await,
        2,
        "nothing written by refused commands"
    );
}

#[tokio::test]
async fn admin_create_prints_the_totp_uri_once_and_enforces_the_policy() {
    let app = TestApp::new().await;
    let run = |password: &str, email: &str, json: bool| {
        let mut args = vec!["admin", "create", "--email", email];
        if json {
            args.push("--json");
        }
        std::process::Command::new(env!("CARGO_BIN_EXE_passerelle"))
            .args(&args)
            .env("PASSERELLE_DATABASE_URL", &app.db_url)
            .env("PASSERELLE_DATA_DIR", &app.data_dir)
            .env("PASSERELLE_ADMIN_PASSWORD", password)
            .output()
            .unwrap()
    };
    let out = run("une phrase de passe solide", "admin@exemple.fr", false);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("otpauth://totp/Passerelle:admin%40exemple.fr?secret="),
        "{stdout}"
    );
    assert!(!stdout.contains("une phrase de passe solide"));

    let out = run("une autre phrase solide", "admin2@exemple.fr", true);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(v["otpauth_uri"].as_str().unwrap().starts_with("otpauth://totp/"));
    // Both admins belong to the single opérateur organisation.
    assert_eq!(
        app.scalar_i64("SELECT COUNT(*) FROM organisations WHERE kind = 'operateur'")
            .await,
        1
    );

    let weak = run("azerty", "admin3@exemple.fr", false);
    assert_eq!(weak.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&weak.stderr).contains("au moins 12 caractères"));
    let dup = run("une phrase de passe solide", "ADMIN@exemple.fr", false);
    assert_eq!(dup.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&dup.stderr).contains("existe déjà"));
    // The key files were created with private permissions.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(app.data_dir.join("journal-ed25519.pem"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}

#[tokio::test]
async fn serve_refuses_unsafe_or_invalid_settings_with_a_clear_message() {
    let app = TestApp::new().await;
    let serve = |extra: &[&str], base: Option<&str>| {
        let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_passerelle"));
        c.arg("serve")
            .args(extra)
            .env("PASSERELLE_DATABASE_URL", &app.db_url)
            .env("PASSERELLE_DATA_DIR", &app.data_dir);
        match base {
            Some(b) => c.env("PASSERELLE_BASE_URL", b),
            None => c.env_remove("PASSERELLE_BASE_URL"),
        };
        c.output().unwrap()
    };
    let out = serve(&[], Some("http://passerelle.exemple.gouv.fr"));
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("doit être en https"));
    let out = serve(&[], Some("pas une url"));
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("PASSERELLE_BASE_URL invalide"));
    let out = serve(&["--listen", "0.0.0.0:0"], None);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("PASSERELLE_BASE_URL est obligatoire"));
    let out = serve(&["--listen", "nulle-part"], None);
    assert!(String::from_utf8_lossy(&out.stderr).contains("adresse d'écoute invalide"));
    let out = serve(&["--assets-dir", "/nonexistent"], None);
    assert!(String::from_utf8_lossy(&out.stderr).contains("retirez ce réglage pour servir le DSFR du binaire"));
    // A real (non-demo) database started with --demo on a public address:
    // no fictitious FranceConnect identities there.
    app.account("operateur", "operateur", "op@exemple.fr", false).await;
    let assets = concat!(env!("CARGO_MANIFEST_DIR"), "/../../node_modules/@gouvfr/dsfr/dist");
    let fonts = concat!(env!("CARGO_MANIFEST_DIR"), "/../../node_modules/dejavu-fonts-ttf/ttf");
    let out = serve(
        &["--demo", "--assets-dir", assets, "--polices", fonts],
        Some("https://passerelle.exemple.gouv.fr"),
    );
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("ne contient pas les données de démonstration"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let scratch = app.data_dir.parent().unwrap().join("vide");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_passerelle"))
        .args([
            "migrate",
            "--database-url",
            "mysql://x",
            "--data-dir",
            scratch.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(!scratch.exists(), "nothing is created before the URL is checked");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("« sqlite: » ou « postgres: »"));
}

#[tokio::test]
async fn migrate_is_idempotent() {
    let app = TestApp::new().await;
    for _ in 0..2 {
        let out = cli(&app, &["migrate"]);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }
}
