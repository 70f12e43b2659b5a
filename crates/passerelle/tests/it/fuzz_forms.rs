//! Fuzzing of the HTML forms through the router: random url-encoded bodies
//! (and other content types) POSTed with a valid session and CSRF token, as
//! the opérateur, a place's staff, a prescriber and an anonymous visitor.
//! Never a 5xx.

use proptest::prelude::*;

use crate::fuzz_support::{encode, not_5xx, pairs, post_bytes, raw_body, runner};
use crate::lieux_pages::signed_in;
use crate::support::TestApp;

/// Form routes; `{id}` is replaced by a random identifier. Routes that end the
/// session or change the signed-in account are left out (they would end the run).
const ROUTES: &[&str] = &[
    "/connexion",
    "/connexion/totp",
    "/lieux/{id}/modifier",
    "/encaisser",
    "/encaisser/annuler",
    "/commandes/nouvelle",
    "/commandes/{id}/emettre",
    "/commandes/{id}/attribuer",
    "/commandes/{id}/accepter",
    "/commandes/{id}/paiement",
    "/commandes/{id}/remises",
    "/remettre",
    "/remettre/perte",
    "/reglements/generer",
    "/reglements/compte",
    "/reglements/lots/{id}/envoye",
    "/reglements/releves/{id}/rejet",
    "/reglements/coordonnees/{id}",
    "/qualification/demandes",
    "/qualification/demandes/{id}",
    "/qualification/demandes/{id}/decision",
    "/qualification/lieux/{id}/etat",
    "/hub/lieux/{id}/correction",
    "/corrections/{id}/accepter",
    "/corrections/{id}/refuser",
    "/operateur/ressources/nouvelle",
    "/operateur/ressources/{id}",
    "/operateur/ressources/{id}/publication",
    "/activite/nouvelle",
    "/activite/{id}",
    "/activite/{id}/supprimer",
    "/aidants-connect/habilitation",
    "/aidants-connect/habilitation/suivi",
    "/aidants-connect/referent/aidants",
    "/operateur/habilitations/{id}/decision",
    "/mon-compte/recapitulatifs",
    "/operateur/tableau-de-bord/recalculer",
    "/operateur/organisations",
    "/operateur/comptes",
    "/aidants-connect/mandats",
    "/oidc/authorize/demarche",
    "/recapitulatifs/desabonnement/{id}",
];

/// Field names the forms use, so that random bodies reach their checks.
const FIELDS: &[&str] = &[
    "email",
    "mot_de_passe",
    "code",
    "service",
    "lieu",
    "encaissement",
    "commanditaire",
    "carnets",
    "cheques_par_carnet",
    "valeur",
    "debut",
    "fin",
    "perimetre",
    "prescripteurs",
    "publics",
    "services",
    "tolerance_jours",
    "plafond_jour",
    "marque",
    "de",
    "a",
    "prescripteur",
    "numero",
    "public",
    "commune",
    "tranche_age",
    "jusqu_au",
    "nom",
    "iban",
    "bic",
    "titulaire",
    "motif",
    "decision",
    "etat",
    "champ",
    "valeur_proposee",
    "titre",
    "resume",
    "texte",
    "mots_cles",
    "date",
    "type",
    "duree_minutes",
    "personnes",
    "thematiques",
    "siret",
    "type_organisation",
    "role",
    "organisation",
    "horaires",
    "adresse",
    "code_postal",
    "latitude",
    "longitude",
    "telephone",
    "courriels",
    "site_web",
    "abonne",
    "demarches",
    "usager",
    "declaration",
    "structure",
];

fn identifier() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => (1i64..5).prop_map(|i| i.to_string()),
        1 => prop::sample::select(vec!["0", "-1", "abc", "99999999999999999999", "%00", "%C3%28", "1e3", "REL-2026-000001"])
            .prop_map(str::to_string),
    ]
}

fn content_type() -> impl Strategy<Value = &'static str> {
    prop_oneof![
        6 => Just("application/x-www-form-urlencoded"),
        1 => Just("application/x-www-form-urlencoded; charset=ISO-8859-1"),
        1 => Just("text/plain"),
        1 => Just("multipart/form-data"),
        1 => Just("multipart/form-data; boundary=xyz"),
        1 => Just("application/json"),
    ]
}

#[test]
fn forms_never_fail() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (app, people) = rt.block_on(async {
        let app = TestApp::new().await;
        let (op, _) = signed_in(&app, "operateur", "operateur", "op.fuzz@exemple.fr").await;
        let (staff, _) = signed_in(&app, "lieu", "lieu", "lieu.fuzz@exemple.fr").await;
        let (prescriber, _) = signed_in(&app, "prescripteur", "prescripteur", "presc.fuzz@exemple.fr").await;
        let visitor = app.browser();
        (app, tokio::sync::Mutex::new([op, staff, prescriber, visitor]))
    });
    let strategy = (
        prop::sample::select(ROUTES),
        identifier(),
        0usize..4,
        pairs(FIELDS),
        raw_body(),
        any::<bool>(),
        content_type(),
    );
    runner(160)
        .run(&strategy, |(route, id, who, form, raw, use_raw, ct)| {
            rt.block_on(async {
                let path = route.replace("{id}", &id);
                // Signing in again would replace the session of the signed-in profiles.
                let who = if path.starts_with("/connexion") { 3 } else { who };
                let body = if use_raw {
                    raw.clone()
                } else {
                    encode(&form).into_bytes()
                };
                let r = post_bytes(&mut people.lock().await[who], &path, ct, body).await;
                not_5xx(&r, &format!("POST {path} ({ct}) par le profil {who}"))
            })
        })
        .unwrap();
    // The sessions were still alive at the end: the run did test signed-in forms.
    let r = rt.block_on(async { people.lock().await[0].get("/operateur").await });
    assert_eq!(r.status, axum::http::StatusCode::OK, "{}", r.body);
    drop(app);
}
