//! The commune of birth by the name it bore on the birth date: FranceConnect
//! certifies the INSEE code of that day, often of a commune merged since
//! (history of the COG from npm, loaded with the territories).

use passerelle_core::communes_historiques::name_on;

use crate::support::{load_territories, TestApp};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_birthplace_is_named_as_it_was_on_the_birth_date() {
    let app = TestApp::new().await;
    load_territories(&app);
    let db = &app.core.db;
    let rows = app
        .scalar_i64("SELECT COUNT(*) FROM territoires_communes_historique")
        .await;
    assert!(rows > 49_000, "{rows}");
    for (code, day, name) in [
        // Associated with Lille in 1977: still its own name and code.
        ("59298", "1950-03-02", "Hellemmes-Lille"),
        ("59298", "1990-03-02", "Hellemmes-Lille"),
        // Became a delegated commune of a new commune with the same code in 2016.
        ("01015", "1960-01-01", "Arbignieu"),
        ("01015", "2017-06-01", "Arboys en Bugey"),
        ("01015", "2024-06-01", "Arboys en Bugey"),
        // Merged into Tessy-Bocage (Manche) in 2018; its code kept for the history.
        ("14513", "1948-07-14", "Pont-Farcy"),
        // A commune of today.
        ("59350", "2001-01-01", "Lille"),
        ("33063", "1948-03-12", "Bordeaux"),
        ("99999", "1970-01-01", ""),
        ("", "1970-01-01", ""),
    ] {
        assert_eq!(name_on(db, code, day).await.unwrap(), name, "{code} on {day}");
    }
}
