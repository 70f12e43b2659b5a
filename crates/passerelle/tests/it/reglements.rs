//! Settlement of places through the command line: qualifications import,
//! statements, the SEPA file (validated against the official XSD), batches
//! sent, executed and rejected, idempotence, crash and restart, `controle`.

use std::path::PathBuf;

use axum::http::StatusCode;
use serde_json::{json, Value};

use crate::lieux::run;
use crate::pass::{call, ready, scene, Scene, ACCES};
use crate::support::pass_numerique::{payable_places, IBAN_1, IBAN_2};
use crate::support::TestApp;
use crate::support::{cli_json as json_of, cli_ok as ok};

const AIDE: &str = "Aide aux démarches administratives";

fn file(app: &TestApp, name: &str, content: &str) -> String {
    let path = app.data_dir.parent().unwrap().join(name);
    std::fs::write(&path, content).unwrap();
    path.to_string_lossy().into_owned()
}

async fn redeem(app: &TestApp, key: &str, idem: &str, code: &str, service: &str) {
    let body = json!({ "code": code, "service": service }).to_string();
    let (status, v) = call(app, "/api/v1/cheques/encaisser", Some(key), Some(idem), body).await;
    assert_eq!(status, StatusCode::CREATED, "{v}");
}

/// Two redemptions at mednum-1 and two at mednum-2, dated in October (before the default cut-off).
async fn redeemed(app: &TestApp) -> Scene {
    let s = ready(app, scene(app).await).await;
    redeem(app, &s.key1, "a", &s.codes[0].2, AIDE).await;
    redeem(app, &s.key1, "b", &s.codes[1].2, AIDE).await;
    redeem(app, &s.key2, "c", &s.codes[2].2, ACCES).await;
    redeem(app, &s.key2, "d", &s.codes[3].2, ACCES).await;
    app.exec("UPDATE encaissements SET jour = '2026-10-15'").await.unwrap();
    s
}

fn controle_ok(app: &TestApp) {
    let v = json_of(app, &["controle"]);
    assert_eq!(v["ok"], true, "{v}");
}

/// Validates a SEPA file against the official pain.001.001.09 XSD (Python's xmlschema).
pub fn xsd_validate(path: &str) -> Result<(), String> {
    let python = std::env::var("PASSERELLE_PYTHON").expect("PASSERELLE_PYTHON absent : lancez scripts/test");
    let xsd = std::env::var("PASSERELLE_SEPA_XSD").expect("PASSERELLE_SEPA_XSD absent : lancez scripts/test");
    let out = std::process::Command::new(python)
        .args([
            "-c",
            "import sys, xmlschema; xmlschema.XMLSchema(sys.argv[1]).validate(sys.argv[2])",
            &xsd,
            path,
        ])
        .output()
        .expect("python");
    if out.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

#[tokio::test]
async fn places_are_paid_once_through_a_valid_sepa_file() {
    let app = TestApp::new().await;
    redeemed(&app).await;
    controle_ok(&app);

    // No validated bank details yet: everybody waits, nothing is created.
    let v = json_of(&app, &["reglements", "generer"]);
    assert_eq!(v["lot"], Value::Null);
    assert_eq!(v["jusqu_au"].as_str().unwrap().len(), 10);
    assert_eq!(v["en_attente"].as_array().unwrap().len(), 2, "{v}");
    assert!(v["en_attente"][0]["motif"]
        .as_str()
        .unwrap()
        .contains("aucune coordonnée bancaire"));

    // The takeover file: every bad row reported with its line, nothing written.
    let bad = file(
        &app,
        "qualifs-mauvais.csv",
        &format!(
            "lieu_id,siret,iban,bic,titulaire\n\
             mednum-1,73282932000074,{IBAN_1},BNPAFRPP,Centre social\n\
             mednum-2,73282932000075,FR7630006000011234567890188,BNPA,Médiathèque\n\
             inconnu,73282932000074,{IBAN_2},CCBPFRPPBDX,X\n"
        ),
    );
    let (code, _, err) = run(&app, &["lieux", "qualifications", "importer", &bad]);
    assert_eq!(code, 1, "{err}");
    for expected in [
        "2 lignes refusées sur 3",
        "ligne 3 (siret)",
        "ligne 3 (iban)",
        "ligne 3 (bic)",
        "ligne 4 (lieu_id)",
        "ligne 4 (siret) : SIRET 73282932000074 déjà présent ligne 2",
    ] {
        assert!(err.contains(expected), "« {expected} » absent de : {err}");
    }
    assert_eq!(app.scalar_i64("SELECT COUNT(*) FROM coordonnees_bancaires").await, 0);
    let good = file(
        &app,
        "qualifs.csv",
        &format!("lieu_id;siret;iban;bic;titulaire\nmednum-1;732 829 320 00074;{IBAN_1};bnpafrpp;Centre social Étoile & Cie\n"),
    );
    let v = json_of(&app, &["lieux", "qualifications", "importer", &good]);
    assert_eq!(v["rapport"]["deja_qualifies"], 1);
    assert_eq!(v["rapport"]["coordonnees_enregistrees"], 1);
    let again = json_of(&app, &["lieux", "qualifications", "importer", &good]);
    assert_eq!(again["rapport"]["coordonnees_inchangees"], 1, "idempotent");
    // The journal holds the bank details masked, never the IBAN nor the holder in clear.
    let logged = app
        .scalar_text("SELECT details FROM journal WHERE action = 'lieu.coordonnees_bancaires'")
        .await;
    assert!(!logged.contains("0112345678") && !logged.contains("Étoile"), "{logged}");

    // The opérateur's account is needed before anything is paid.
    let (code, _, err) = run(&app, &["reglements", "generer"]);
    assert_ne!(code, 0);
    assert!(err.contains("passerelle reglements compte"), "{err}");
    ok(
        &app,
        &[
            "reglements",
            "compte",
            "--nom",
            "Opérateur national du Pass",
            "--iban",
            IBAN_2,
            "--bic",
            "CCBPFRPPBDX",
        ],
    );

    let sepa = app.data_dir.parent().unwrap().join("virements.xml");
    let sepa_s = sepa.to_string_lossy().into_owned();
    let v = json_of(&app, &["reglements", "generer", "--sepa", &sepa_s]);
    assert_eq!(v["releves"].as_array().unwrap().len(), 1, "{v}");
    assert_eq!(v["releves"][0]["lignes"], 2);
    assert_eq!(v["total_centimes"], 2000);
    assert_eq!(
        v["en_attente"].as_array().unwrap().len(),
        1,
        "mednum-2 has no bank details"
    );
    let numero = v["releves"][0]["numero"].as_str().unwrap().to_string();
    assert!(numero.starts_with("REL-") && numero.ends_with("-000001"), "{numero}");
    let xml = std::fs::read_to_string(&sepa).unwrap();
    xsd_validate(&sepa_s).unwrap_or_else(|e| panic!("XSD : {e}\n{xml}"));
    for expected in [
        "<NbOfTxs>1</NbOfTxs>",
        "<CtrlSum>20.00</CtrlSum>",
        "<InstdAmt Ccy=\"EUR\">20.00</InstdAmt>",
        "<IBAN>FR7630006000011234567890189</IBAN>",
        "<Nm>Centre social Etoile + Cie</Nm>",
        "<Nm>Operateur national du Pass</Nm>",
        &format!("<EndToEndId>{numero}</EndToEndId>"),
        &format!("<Ustrd>{numero}</Ustrd>"),
    ] {
        assert!(xml.contains(expected), "« {expected} » absent :\n{xml}");
    }
    controle_ok(&app);

    // Idempotent: nothing new, nothing paid twice.
    let v = json_of(&app, &["reglements", "generer"]);
    assert_eq!(v["lot"], Value::Null);
    assert_eq!(app.scalar_i64("SELECT COUNT(*) FROM lots_virements").await, 1);
    assert_eq!(app.scalar_i64("SELECT COUNT(*) FROM releve_lignes").await, 2);

    // The statement for the place, in CSV and PDF.
    let csv = app.data_dir.parent().unwrap().join("releve.csv");
    let pdf = app.data_dir.parent().unwrap().join("releve.pdf");
    let fonts = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../node_modules/dejavu-fonts-ttf/ttf");
    ok(
        &app,
        &[
            "reglements",
            "releve",
            &numero,
            "--csv",
            csv.to_str().unwrap(),
            "--pdf",
            pdf.to_str().unwrap(),
            "--polices",
            fonts.to_str().unwrap(),
        ],
    );
    let text = std::fs::read_to_string(&csv).unwrap();
    assert!(text.starts_with("releve,lieu,jour,carnet,rang,service,commande,valeur_centimes,valeur_euros\n"));
    assert_eq!(text.lines().count(), 3);
    assert!(text.contains(&format!("{numero},mednum-1,2026-10-15,")), "{text}");
    assert!(std::fs::read(&pdf).unwrap().starts_with(b"%PDF-"));

    // A rejection needs the file to have been sent; its lines are then paid again, in a new statement.
    let lot = app.scalar_i64("SELECT id FROM lots_virements").await.to_string();
    let (code, _, err) = run(&app, &["reglements", "rejeter", &numero, "--motif", "compte clos"]);
    assert_ne!(code, 0);
    assert!(err.contains("pas encore envoyé"), "{err}");
    let (code, _, _) = run(&app, &["reglements", "execute", &lot]);
    assert_ne!(code, 0, "executed before sent");
    ok(&app, &["reglements", "envoye", &lot]);
    let marked = |column: &str, lot: &str| {
        let sql = format!("SELECT COUNT(*) FROM lots_virements WHERE id = {lot} AND {column} IS NOT NULL");
        let app = &app;
        async move { app.scalar_i64(&sql).await == 1 }
    };
    assert!(marked("envoye_at", &lot).await && !marked("execute_at", &lot).await);
    assert_eq!(
        app.journal_actions().await.last().map(String::as_str),
        Some("reglement.lot_envoye")
    );
    // The reason: 1 to 500 characters (not bytes).
    let (code, _, err) = run(&app, &["reglements", "rejeter", &numero, "--motif", &"é".repeat(501)]);
    assert_ne!(code, 0);
    assert!(err.contains("motif du rejet : 1 à 500 caractères attendus"), "{err}");
    ok(&app, &["reglements", "rejeter", &numero, "--motif", &"é".repeat(500)]);
    let (code, _, err) = run(&app, &["reglements", "rejeter", &numero, "--motif", "encore"]);
    assert_ne!(code, 0, "{err}");
    controle_ok(&app);
    let v = json_of(&app, &["reglements", "generer"]);
    assert_eq!(v["releves"][0]["lignes"], 2, "{v}");
    assert_eq!(v["total_centimes"], 2000);
    assert!(v["releves"][0]["numero"].as_str().unwrap().ends_with("-000002"));
    let second = v["lot"].as_i64().unwrap().to_string();
    assert_eq!(
        app.scalar_i64("SELECT COUNT(*) FROM releve_lignes WHERE rejetee = 0")
            .await,
        2,
        "each redemption in one live statement"
    );
    ok(&app, &["reglements", "envoye", &second]);
    ok(&app, &["reglements", "execute", &second]);
    assert!(marked("execute_at", &second).await);
    assert_eq!(
        app.journal_actions().await.last().map(String::as_str),
        Some("reglement.lot_execute")
    );
    assert_eq!(
        app.scalar_text(&format!("SELECT etat FROM releves WHERE lot_id = {second}"))
            .await,
        "paye"
    );
    controle_ok(&app);
    let lots = json_of(&app, &["reglements", "lots"]);
    assert_eq!(lots.as_array().unwrap().len(), 2);
    let actions = app.journal_actions().await;
    for a in [
        "lieux.import_qualifications",
        "lieu.coordonnees_bancaires",
        "reglement.compte_operateur",
        "reglement.generation",
        "reglement.lot_envoye",
        "reglement.lot_execute",
        "reglement.virement_rejete",
    ] {
        assert!(actions.iter().any(|x| x == a), "{a} absent du journal");
    }

    // `controle` notices a broken rule (a statement whose total no longer matches its lines).
    app.exec("UPDATE releves SET total_centimes = total_centimes + 1 WHERE rang = 1")
        .await
        .unwrap();
    let (code, out, _) = run(&app, &["controle"]);
    assert_eq!(code, 1);
    assert!(out.contains("ÉCART  releve_total"), "{out}");
}

#[tokio::test]
async fn a_crash_in_the_middle_of_a_settlement_pays_nobody_twice_and_forgets_nobody() {
    let app = TestApp::new().await;
    redeemed(&app).await;
    payable_places(&app);

    // Killed (SIGKILL) while its transaction is open, after writing the statements.
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_passerelle"))
        .args(["reglements", "generer"])
        .env("PASSERELLE_DATABASE_URL", &app.db_url)
        .env("PASSERELLE_DATA_DIR", &app.data_dir)
        .env("PASSERELLE_TEST_PAUSE_REGLEMENT_MS", "60000")
        .env("RUST_LOG", "warn")
        .stderr(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut stderr = std::io::BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    std::io::BufRead::read_line(&mut stderr, &mut line).unwrap();
    assert!(line.contains("pause de test"), "{line}");
    child.kill().unwrap();
    child.wait().unwrap();

    assert_eq!(app.scalar_i64("SELECT COUNT(*) FROM lots_virements").await, 0);
    assert_eq!(app.scalar_i64("SELECT COUNT(*) FROM releves").await, 0);
    assert_eq!(app.scalar_i64("SELECT COUNT(*) FROM releve_lignes").await, 0);
    controle_ok(&app);

    let v = json_of(&app, &["reglements", "generer"]);
    assert_eq!(v["releves"].as_array().unwrap().len(), 2, "{v}");
    assert_eq!(v["total_centimes"], 4000, "every redemption, once");
    assert!(
        v["releves"][0]["numero"].as_str().unwrap().ends_with("-000001"),
        "no gap after the crash"
    );
    let v = json_of(&app, &["reglements", "generer"]);
    assert_eq!(v["lot"], Value::Null);
    controle_ok(&app);
}

/// One SIRET rule everywhere: the placeholder of zeros (its Luhn sum is 0) is
/// refused by the qualification import, which an older validator accepted;
/// a row stored back then is listed by `controle`, not silently broken.
#[tokio::test]
async fn a_placeholder_siret_is_refused_and_old_ones_are_listed_by_controle() {
    let app = TestApp::new().await;
    redeemed(&app).await;
    let zeros = file(
        &app,
        "zeros.csv",
        &format!("lieu_id,siret,iban,bic,titulaire\nmednum-1,00000000000000,{IBAN_1},BNPAFRPP,Un\n"),
    );
    let (code, out, err) = run(&app, &["lieux", "qualifications", "importer", &zeros]);
    assert_ne!(code, 0, "{out}");
    assert!(format!("{out}{err}").contains("numéro fictif"), "{out}{err}");

    let good = file(
        &app,
        "qualifs.csv",
        &format!("lieu_id,siret,iban,bic,titulaire\nmednum-1,73282932000074,{IBAN_1},BNPAFRPP,Un\n"),
    );
    ok(&app, &["lieux", "qualifications", "importer", &good]);
    controle_ok(&app);
    // As an older validator stored it.
    app.exec("UPDATE qualifications SET siret = '00000000000000' WHERE siret = '73282932000074'")
        .await
        .unwrap();
    let (code, out, _) = run(&app, &["controle", "--json"]);
    assert_eq!(code, 1, "{out}");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["ok"], false, "{v}");
    let listed = v["sirets_a_reprendre"].as_array().unwrap();
    assert_eq!(listed.len(), 1, "{v}");
    assert_eq!(listed[0]["table"], "qualifications");
    assert_eq!(listed[0]["siret"], "00000000000000");
    let (code, out, _) = run(&app, &["controle"]);
    assert_eq!(code, 1);
    assert!(out.contains("ÉCART  sirets_valides"), "{out}");
    assert!(out.contains("SIRET à reprendre : qualification d'un lieu"), "{out}");
}

/// The cut-off may be today (the days before it are paid), not tomorrow. And a
/// statement whose lines do not add up to its total stops the run before
/// anything is written: here a trigger changes each line's amount as it is
/// written, so the number of lines is right and only the totals differ.
#[tokio::test]
async fn the_cut_off_is_today_at_most_and_lines_must_add_up() {
    let app = TestApp::new().await;
    redeemed(&app).await;
    app.set_now("2026-11-20T12:00:00+01:00[Europe/Paris]");
    payable_places(&app);

    let (code, _, err) = run(&app, &["reglements", "generer", "--jusqu-au", "2026-11-21"]);
    assert_ne!(code, 0);
    assert!(
        err.contains("date limite 21/11/2026 après aujourd'hui (20/11/2026)"),
        "{err}"
    );

    let repair = app
        .inject_fault(
            "ligne_faussee",
            "releve_lignes",
            "AFTER INSERT ON releve_lignes BEGIN UPDATE releve_lignes SET valeur_centimes = valeur_centimes + 1 \
             WHERE releve_id = NEW.releve_id AND encaissement_id = NEW.encaissement_id; END",
            "NEW.valeur_centimes := NEW.valeur_centimes + 1; RETURN NEW;",
        )
        .await;
    let (code, _, err) = run(&app, &["reglements", "generer", "--jusqu-au", "2026-11-20"]);
    assert_ne!(code, 0);
    assert!(
        err.contains(
            "règlement interrompu : 2 relevé(s) dont les lignes ne font pas le total (4 lignes pour 4 attendues)"
        ),
        "{err}"
    );
    for table in ["lots_virements", "releves", "releve_lignes"] {
        let n = app.scalar_i64(&format!("SELECT COUNT(*) FROM {table}")).await;
        assert_eq!(n, 0, "{table}");
    }
    app.exec(&repair).await.unwrap();
    let v = json_of(&app, &["reglements", "generer", "--jusqu-au", "2026-11-20"]);
    assert_eq!(
        (v["releves"].as_array().map(Vec::len), v["total_centimes"].as_i64()),
        (Some(2), Some(4000)),
        "{v}"
    );
}

#[tokio::test]
async fn a_place_held_back_is_told_whether_its_bank_details_wait_for_the_operator() {
    let app = TestApp::new().await;
    redeemed(&app).await;
    payable_places(&app);
    // mednum-1 changed its account and the opérateur has not decided yet; mednum-2 has none.
    app.exec(
        "UPDATE coordonnees_bancaires SET etat = 'a_valider' \
         WHERE lieu_id = (SELECT id FROM lieux WHERE ext_id = 'mednum-1')",
    )
    .await
    .unwrap();
    app.exec("DELETE FROM coordonnees_bancaires WHERE lieu_id = (SELECT id FROM lieux WHERE ext_id = 'mednum-2')")
        .await
        .unwrap();
    let v = json_of(&app, &["reglements", "generer"]);
    assert_eq!(v["lot"], Value::Null, "{v}");
    let held: Vec<(&str, &str)> = v["en_attente"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| (h["lieu"].as_str().unwrap(), h["motif"].as_str().unwrap()))
        .collect();
    assert_eq!(held.len(), 2, "{v}");
    assert!(held[0].1.contains("en attente de validation par l'opérateur"), "{v}");
    assert!(held[1].1.contains("aucune coordonnée bancaire validée"), "{v}");
}
