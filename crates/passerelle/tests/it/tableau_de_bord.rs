//! `/tableau-de-bord`: every national figure equals a direct recount of the
//! database, with the plan's targets; the monthly chart has its table.

use axum::http::StatusCode;
use serde_json::json;

use crate::mandats_support::serve;
use crate::pass::call;
use crate::support::load_territories;

fn fr(n: i64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push('\u{202f}');
        }
        out.push(c);
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_shows_direct_recounts_against_the_targets() {
    let m = serve().await;
    load_territories(&m.app);
    let d = passerelle_core::demo::load_if_empty(&m.app.core)
        .await
        .unwrap()
        .unwrap();
    passerelle_core::demo_aidants::load(&m.app.core, Some(&m.fc_client_id), &m.base)
        .await
        .unwrap();
    let pass = d.pass.unwrap();
    let body = json!({ "code": pass.codes[0], "service": "Accès internet et matériel informatique" }).to_string();
    let (status, r) = call(
        &m.app,
        "/api/v1/cheques/encaisser",
        Some(&pass.api_key),
        Some("tdb-1"),
        body,
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{r}");

    // Accompaniments: two recent ones by one person (90 + 45 min), an old one by another.
    let (p1, p2) = (
        m.app
            .scalar_i64("SELECT id FROM accounts WHERE email = 'aidant@demo.passerelle.fr'")
            .await,
        m.app
            .scalar_i64("SELECT id FROM accounts WHERE email = 'lieu@demo.passerelle.fr'")
            .await,
    );
    let today = passerelle_core::Horloge::systeme().today_paris();
    for (who, day, minutes) in [
        (p1, today.strftime("%Y-%m-%d").to_string(), 90),
        (p1, today.strftime("%Y-%m-%d").to_string(), 45),
        (p2, "2020-01-15".to_string(), 60),
    ] {
        m.app
            .exec(&format!(
                "INSERT INTO activites (compte_id, organisation_id, jour, mois, duree_minutes, nature, participants, thematiques, \
                 tranche_age, statut, created_at, updated_at) SELECT id, organisation_id, '{day}', '{}', {minutes}, 'individuel', 1, \
                 '', '26-59', 'autre', 0, 0 FROM accounts WHERE id = {who}",
                &day[..7]
            ))
            .await
            .unwrap();
    }
    let r = crate::support::Browser::on(m.router.clone())
        .get("/tableau-de-bord")
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let checks = [
        (
            "Lieux de médiation numérique dans l&#39;annuaire",
            "SELECT COUNT(*) FROM lieux",
        ),
        (
            "Lieux qualifiés pour le Pass Numérique",
            "SELECT COUNT(*) FROM qualifications WHERE etat = 'active'",
        ),
        ("Chèques Pass Numérique émis", "SELECT COUNT(*) FROM cheques"),
        (
            "Chèques Pass Numérique encaissés",
            "SELECT COUNT(*) FROM encaissements WHERE annule_at IS NULL",
        ),
        (
            "Structures habilitées Aidants Connect",
            "SELECT COUNT(*) FROM organisations WHERE kind = 'structure_habilitee'",
        ),
        (
            "Aidants actifs",
            "SELECT COUNT(DISTINCT m.account_id) FROM aidants_membres m JOIN accounts a ON a.id = m.account_id \
             WHERE m.actif = TRUE AND a.active = TRUE",
        ),
        ("Mandats actifs", "SELECT COUNT(*) FROM mandats"),
    ];
    assert!(
        r.body
            .contains("<th scope=\"row\">Heures d&#39;accompagnement enregistrées</th><td>3</td>"),
        "195 min → 3 h: {}",
        r.body
    );
    assert!(
        r.body
            .contains("(accompagnement ces 90 derniers jours)</th><td>1</td><td>4\u{202f}000</td>"),
        "{}",
        r.body
    );
    for (label, sql) in checks {
        let n = m.app.scalar_i64(sql).await;
        let expected = format!("<th scope=\"row\">{label}</th><td>{}</td>", fr(n));
        assert!(r.body.contains(&expected), "{expected}\n{}", r.body);
    }
    // This test's one, and the two of the demo's place (its statement).
    assert_eq!(m.app.scalar_i64("SELECT COUNT(*) FROM encaissements").await, 3);
    assert_eq!(
        m.app.scalar_i64("SELECT COUNT(*) FROM mandats").await,
        2,
        "the demo's mandates, both active"
    );
    // The map: every département of the official list, with the class of its recounted value.
    let mut values = std::collections::BTreeMap::new();
    let n_deps = m.app.scalar_i64("SELECT COUNT(*) FROM territoires_departements").await;
    for i in 0..n_deps {
        let code = m
            .app
            .scalar_text(&format!(
                "SELECT code FROM territoires_departements ORDER BY code LIMIT 1 OFFSET {i}"
            ))
            .await;
        let n = m
            .app
            .scalar_i64(&format!("SELECT COUNT(*) FROM lieux WHERE departement = '{code}'"))
            .await;
        values.insert(code, n);
    }
    assert!(values.len() >= 101 && values.values().any(|v| *v > 0));
    let (_, classes) = passerelle_core::carte::classes(&values);
    assert!(r.body.contains("<svg") && r.body.contains("aria-labelledby=\"carte-titre carte-desc\""));
    for (code, class) in &classes {
        let metro = format!("id=\"dep-{code}\" class=\"classe-{class}\"");
        let overseas = format!("<g id=\"dep-{code}\"><rect class=\"classe-{class}\"");
        assert!(
            r.body.contains(&metro) || r.body.contains(&overseas),
            "{code} ({}) not drawn with classe-{class}",
            values[code]
        );
        assert!(
            r.body.contains(&format!("({code})</th><td>{}</td>", fr(values[code]))),
            "{code} in the table"
        );
    }
    // Targets of the plan, and the monthly chart with its table.
    assert!(r.body.contains("<td>1\u{202f}000</td>") && r.body.contains("<td>2\u{202f}000\u{202f}000</td>"));
    assert!(r.body.contains("<svg") && r.body.contains("Chèques Pass Numérique encaissés par mois"));
    let month = passerelle_core::indicateurs::current_month(&passerelle_core::Horloge::systeme());
    let (y, mo) = month.split_once('-').unwrap();
    assert!(
        r.body.contains(&format!("<th scope=\"row\">{mo}/{y}</th><td>1</td>")),
        "{}",
        r.body
    );
}
