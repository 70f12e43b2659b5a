//! The dashboards' shared snapshot: its figures equal a direct recount on
//! random data; a stale snapshot is recomputed by one caller only; the
//! opérateur's dashboard is his alone, and the public map keeps small counts secret.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::http::StatusCode;
use passerelle_core::agregats;
use passerelle_core::tableau_de_bord::donnees;
use proptest::prelude::*;

use crate::lieux_pages::signed_in;
use crate::support::TestApp;

const DEPS: [&str; 5] = ["2A", "33", "971", "976", "75"];

/// (département index, months ago 0..30, minutes, participants)
fn activity() -> impl Strategy<Value = (usize, i32, i64, i64)> {
    (0..DEPS.len(), 0..30i32, 1..240i64, 1..15i64)
}

fn month_ago(current: &str, ago: i32) -> String {
    let (y, m) = current.split_once('-').unwrap();
    let i = y.parse::<i32>().unwrap() * 12 + m.parse::<i32>().unwrap() - 1 - ago;
    format!("{:04}-{:02}", i.div_euclid(12), i.rem_euclid(12) + 1)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 6, max_shrink_iters: 16, ..ProptestConfig::default() })]
    #[test]
    fn snapshot_figures_equal_a_direct_recount(rows in proptest::collection::vec(activity(), 0..40)) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async {
            let app = TestApp::new().await;
            let (who, _) = app.account("lieu", "lieu", "conseiller@lieu.fr", false).await;
            let current = passerelle_core::indicateurs::current_month(&passerelle_core::Horloge::systeme());
            let mut per_dep: BTreeMap<&str, (i64, i64)> = BTreeMap::new();
            let mut per_month: BTreeMap<String, (i64, i64, i64)> = BTreeMap::new();
            for (d, ago, minutes, people) in &rows {
                let mois = month_ago(&current, *ago);
                app.exec(&format!(
                    "INSERT INTO activites (compte_id, organisation_id, jour, mois, duree_minutes, nature, participants, \
                     thematiques, tranche_age, departement, statut, created_at, updated_at) \
                     SELECT id, organisation_id, '{mois}-10', '{mois}', {minutes}, 'atelier', {people}, '', '26-59', '{}', \
                     'autre', 0, 0 FROM accounts WHERE id = {who}", DEPS[*d]
                )).await.unwrap();
                let e = per_dep.entry(DEPS[*d]).or_default();
                e.0 += 1;
                e.1 += minutes;
                if *ago < donnees::MONTHS as i32 {
                    let e = per_month.entry(mois).or_default();
                    e.0 += 1;
                    e.1 += people;
                    e.2 += minutes;
                }
            }
            let data = donnees::compute(app.core.clone()).await.unwrap();
            assert_eq!(data.mois.len(), donnees::MONTHS);
            assert_eq!(data.mois.last().map(|m| m.mois.clone()), Some(current.clone()));
            for m in &data.mois {
                let (n, people, minutes) = per_month.get(&m.mois).copied().unwrap_or_default();
                assert_eq!((m.accompagnements, m.personnes_accompagnees, m.minutes_accompagnement), (n, people, minutes), "{}", m.mois);
            }
            for d in DEPS {
                let (n, minutes) = per_dep.get(d).copied().unwrap_or_default();
                let got = data.departements.get(d).map(|x| (x.accompagnements, x.minutes_accompagnement)).unwrap_or_default();
                assert_eq!(got, (n, minutes), "{d}");
            }
            let total: i64 = rows.iter().map(|r| r.2).sum();
            assert_eq!(data.national.minutes_accompagnement, total);
            // The stored snapshot carries the same figures.
            let stored = donnees::get(&app.core, Duration::from_secs(3600)).await.unwrap();
            assert_eq!(stored.data, data);
        });
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_snapshot_is_served_while_one_caller_recomputes_it() {
    let app = TestApp::new().await;
    let calls = Arc::new(AtomicUsize::new(0));
    let compute = |calls: Arc<AtomicUsize>| {
        move |_core| async move {
            let n = calls.fetch_add(1, Ordering::SeqCst) as i64 + 1;
            tokio::time::sleep(Duration::from_millis(200)).await;
            Ok::<i64, passerelle_core::CoreError>(n)
        }
    };
    // Missing: three concurrent callers, one computes, the others wait for it.
    let mut first = Vec::new();
    for _ in 0..3 {
        let (core, c) = (app.core.clone(), compute(calls.clone()));
        first.push(tokio::spawn(async move {
            agregats::get(&core, "essai", Duration::from_secs(60), c).await
        }));
    }
    for f in first {
        assert_eq!(f.await.unwrap().unwrap().data, 1);
    }
    assert_eq!(calls.load(Ordering::SeqCst), 1, "one computation for three callers");
    // Fresh: served as it is.
    let again = agregats::get(&app.core, "essai", Duration::from_secs(60), compute(calls.clone()))
        .await
        .unwrap();
    assert_eq!((again.data, calls.load(Ordering::SeqCst)), (1, 1));
    // Stale: four concurrent readers get the old figure at once; one recomputes.
    app.exec("UPDATE agregats SET calcule_at = 0 WHERE nom = 'essai'")
        .await
        .unwrap();
    let mut readers = Vec::new();
    for _ in 0..4 {
        let (core, c) = (app.core.clone(), compute(calls.clone()));
        readers.push(tokio::spawn(async move {
            agregats::get(&core, "essai", Duration::from_secs(60), c).await
        }));
    }
    for r in readers {
        assert_eq!(r.await.unwrap().unwrap().data, 1, "the stale figure, without waiting");
    }
    let mut waited = 0;
    while app
        .scalar_i64("SELECT calcule_at FROM agregats WHERE nom = 'essai'")
        .await
        == 0
        && waited < 100
    {
        tokio::time::sleep(Duration::from_millis(50)).await;
        waited += 1;
    }
    let now = agregats::get(&app.core, "essai", Duration::from_secs(60), compute(calls.clone()))
        .await
        .unwrap();
    assert_eq!(now.data, 2);
    assert_eq!(
        calls.load(Ordering::SeqCst),
        2,
        "one recomputation for four stale readers"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_operator_dashboard_is_his_alone_and_the_public_map_keeps_small_counts_secret() {
    let app = TestApp::new().await;
    let (who, _) = app.account("lieu", "lieu", "c@lieu.fr", false).await;
    // Gironde: 3 accompaniments (secret in public); Paris: 6.
    for (dep, n) in [("33", 3), ("75", 6)] {
        for _ in 0..n {
            app.exec(&format!(
                "INSERT INTO activites (compte_id, organisation_id, jour, mois, duree_minutes, nature, participants, \
                 thematiques, tranche_age, departement, statut, created_at, updated_at) \
                 SELECT id, organisation_id, '2026-01-10', '2026-01', 60, 'individuel', 1, '', '26-59', '{dep}', \
                 'autre', 0, 0 FROM accounts WHERE id = {who}"
            ))
            .await
            .unwrap();
        }
    }
    let mut anonymous = app.browser();
    let r = anonymous.get("/tableau-de-bord?carte=heures").await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(
        r.body.contains("(33)</th><td>secret statistique (1 à 4)</td>"),
        "{}",
        r.body
    );
    assert!(
        r.body.contains("(75)</th><td>10</td>"),
        "6 hours, rounded to the ten: {}",
        r.body
    );
    assert!(r.body.contains("arrondis à la dizaine"));
    assert!(r.body.contains("<option value=\"heures\" selected>"));
    let r = anonymous.get("/operateur/tableau-de-bord").await;
    assert_ne!(r.status, StatusCode::OK);
    assert!(!r.body.contains("Tableau de bord de l&#39;opérateur"));

    for (kind, role, email) in [
        ("lieu", "lieu", "l@lieu.fr"),
        ("hub", "hub", "h@hub.fr"),
        ("commanditaire", "commanditaire", "f@fin.fr"),
    ] {
        let (mut b, _) = signed_in(&app, kind, role, email).await;
        assert_eq!(
            b.get("/operateur/tableau-de-bord").await.status,
            StatusCode::FORBIDDEN,
            "{role}"
        );
        let r = b.post("/operateur/tableau-de-bord/recalculer", &[]).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{role}");
    }

    let (mut op, _) = signed_in(&app, "operateur", "operateur", "op@passerelle.fr").await;
    let r = op.get("/operateur/tableau-de-bord?carte=heures").await;
    assert_eq!(r.status, StatusCode::OK);
    // Unsuppressed for the opérateur: 3 hours in Gironde.
    assert!(r.body.contains("(33)</th><td>3</td>"), "{}", r.body);
    // Without its CSRF token the recomputation is refused; with it, done.
    let r = op.post_raw("/operateur/tableau-de-bord/recalculer", &[]).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = op.post("/operateur/tableau-de-bord/recalculer", &[]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(r.location(), Some("/operateur/tableau-de-bord?ok=recalcul"));
}
