//! Crash while concluding mandates: an aidant signed in and an usager
//! identified with FranceConnect (simulator), the last step of the mandate is
//! posted to a real `passerelle serve` on the same database, killed (SIGKILL)
//! 0 to 300 milliseconds later (nine times, four usagers in turn: a new
//! mandate supersedes the usager's previous one). Each mandate is whole (its démarches, its
//! journal entry, its identification used) or absent; sending the same form
//! again never gives the usager a second mandate.

use std::time::Duration;

use axum::http::StatusCode;

use crate::mandats_support::{form, query, recap_structure, recap_usager, serve};
use crate::pannes::{client, invariants_hold, Server};

const DEMARCHES: [&str; 2] = ["social", "logement"];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_killed_while_concluding_a_mandate_leaves_it_whole_or_absent() {
    let m = serve().await;
    let structure = m.structure("France Services de Cenon", &DEMARCHES).await;
    let mut a = m.aidant(structure, "aidant@exemple.fr").await;
    let http = client();
    let mut committed_before_answer = 0;
    // The kill falls before, during or after the commit, depending on the delay and the machine.
    let delays = [0u64, 5, 10, 15, 20, 40, 80, 150, 300];
    let personas = ["angela", "pierre", "fatou", "jean"];
    for (i, delay_ms) in delays.into_iter().enumerate() {
        let identite = personas[i % personas.len()];
        m.identify(&mut a.b, identite).await;
        let r =
            a.b.get(&format!(
                "/aidants-connect/mandats/recapitulatif?{}",
                query(&DEMARCHES, "MONTH")
            ))
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        let usager = recap_usager(&r.body);
        let shown_structure = recap_structure(&r.body);
        let of_usager = format!("SELECT COUNT(*) FROM mandats WHERE usager_id = {usager}");
        let before = m.count(&of_usager).await;
        let token = a.b.cookie("passerelle_csrf").cloned().unwrap_or_default();
        let mut fields = vec![("csrf_token", token.as_str())];
        fields.extend(form(&DEMARCHES, "MONTH", true));
        fields.push(("usager", &usager));
        fields.push(("structure", &shown_structure));
        let body = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(&fields)
            .finish();
        let cookies = a.b.cookie_header();

        // The same session, on another instance: the real binary, killed while it works.
        let mut server = Server::start(&m.app, &[("PASSERELLE_FC_SIMULATEUR", "1")]).await;
        let post = http
            .post(format!("{}/aidants-connect/mandats", server.base))
            .header("cookie", cookies)
            .header("sec-fetch-site", "same-origin")
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send();
        let sent = tokio::spawn(post);
        tokio::time::sleep(Duration::from_millis(delay_ms)).await;
        server.kill();
        let answered = match sent.await.expect("envoi") {
            Ok(res) => {
                assert_eq!(res.status(), StatusCode::SEE_OTHER, "{:?}", res.text().await);
                true
            }
            Err(_) => false,
        };

        // Whole or absent.
        let mandates = m.count(&of_usager).await - before;
        assert!(mandates <= 1, "{mandates} mandats");
        assert!(mandates == 1 || !answered, "a mandate answered 303 is in the database");
        let whole = [
            "SELECT COUNT(*) FROM mandats m WHERE (SELECT COUNT(*) FROM autorisations a WHERE a.mandat_id = m.id) <> 2",
            "SELECT (SELECT COUNT(*) FROM mandats) - (SELECT COUNT(*) FROM journal WHERE action = 'mandat.cree')",
            "SELECT (SELECT COUNT(*) FROM mandats) - (SELECT COUNT(*) FROM franceconnect_etats WHERE mandat_id IS NOT NULL)",
        ];
        for sql in whole {
            assert_eq!(m.count(sql).await, 0, "{sql}");
        }
        if mandates == 1 && !answered {
            committed_before_answer += 1;
        }
        eprintln!(
            "{identite}, arrêt à {delay_ms} ms : réponse reçue {answered}, mandat en base {}",
            mandates == 1
        );

        // The aidant sends the form again (to the in-process instance): one mandate in the end.
        let again = a.b.post_raw("/aidants-connect/mandats", &fields).await;
        let after = m.count(&of_usager).await - before;
        assert_eq!(after, 1, "{identite} : {} {}", again.status, again.body);
        if mandates == 1 {
            assert_ne!(again.status, StatusCode::SEE_OTHER, "the identification is used once");
        }
    }
    eprintln!(
        "mandats validés sans réponse avant l'arrêt brutal : {committed_before_answer} sur {}",
        delays.len()
    );
    assert_eq!(m.count("SELECT COUNT(*) FROM mandats").await, delays.len() as i64);
    invariants_hold(&m.app);
}
