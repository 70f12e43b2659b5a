//! The web layer: thin axum handlers that extract input, call a domain function
//! of `passerelle-core` and render a DSFR page. Security (headers, CSRF, body
//! limits, request ids) is applied once, in [`router`].

mod account;
mod activite_pages;
mod aidants_auth;
mod aidants_habilitation;
mod aidants_referent;
mod aidants_review;
mod aidants_structure;
mod api;
mod auth;
mod charts;
mod cheques_api;
mod cheques_pages;
mod commandes_admin;
mod commandes_pages;
mod cookies;
mod corrections_pages;
mod deconnexion;
mod error;
mod espace_usager;
mod espace_usager_mandats;
mod fc_simulateur;
mod forms;
mod franceconnect;
mod indisponible;
mod journal;
mod lieux;
mod lieux_admin;
mod mandats_actions;
mod mandats_pages;
mod metriques;
mod oidc;
mod oidc_authorize;
mod opendata;
mod operator;
mod pages;
mod qualification_pages;
mod qualification_review;
mod rapports_pages;
mod recapitulatifs_pages;
mod reglements_pages;
mod rejets;
mod ressources_admin;
mod ressources_pages;
mod security;
mod service_demo;
mod tableau_de_bord;
mod tableau_de_bord_operateur;
mod templates;
mod territoire_pages;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderName, Request};
use axum::routing::{get, post};
use axum::Router;
use passerelle_core::Core;
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::services::ServeDir;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

pub use error::WebError;
pub use metriques::Metrics;

/// Largest request body accepted (forms). Uploads will get their own limit on their own routes.
pub const BODY_LIMIT: usize = 64 * 1024;

/// Settings of the web layer.
#[derive(Clone, Debug)]
pub struct WebConfig {
    /// Public URL of the deployment, e.g. `https://passerelle.example.gouv.fr`.
    pub base_url: url::Url,
    /// Folder holding the DSFR build (`node_modules/@gouvfr/dsfr/dist`).
    pub assets_dir: PathBuf,
    /// Folder of the DejaVu fonts (npm `dejavu-fonts-ttf`), for documents in PDF.
    pub fonts_dir: PathBuf,
    /// Behind a reverse proxy that appends the client's address to `X-Forwarded-For`.
    pub trust_proxy: bool,
    /// How long a search may use the directory snapshot before checking the
    /// database version again (zero: every request).
    pub search_max_age: Duration,
    /// How old the national dashboard's figures may be before one instance
    /// recomputes them in the background (zero: computed on every request).
    pub dashboard_max_age: Duration,
}

impl WebConfig {
    /// Cookies get `Secure` and the `__Host-` prefix when the public URL is https.
    pub fn secure(&self) -> bool {
        self.base_url.scheme() == "https"
    }

    /// The origin (`scheme://host[:port]`) that forms must come from.
    pub fn origin(&self) -> String {
        self.base_url.origin().ascii_serialization()
    }
}

/// Shared state of the handlers. Holds no mutable state: everything lives in the
/// database, so several instances can run behind a load balancer.
#[derive(Clone)]
pub struct AppState {
    pub core: Core,
    pub config: Arc<WebConfig>,
    /// Snapshot of the directory for searches, checked against the database version on each use.
    pub lieux: passerelle_core::lieux::search::Cache,
    /// FranceConnect (relying party), when configured; its discovery and keys
    /// are cached in memory with a TTL (nothing that two instances must share).
    pub franceconnect: Option<passerelle_core::aidants::franceconnect::FranceConnect>,
    /// The demonstration online service (`/service-demo`), only with `serve --demo`.
    pub service_demo: bool,
    /// Request counters and latencies of this instance, for `/metrics`.
    pub metrics: Arc<Metrics>,
    /// Bearer token of `/metrics` (`PASSERELLE_METRIQUES_JETON`); without it, no `/metrics`.
    pub metrics_token: Option<Arc<str>>,
}

impl AppState {
    pub fn new(core: Core, config: WebConfig) -> Self {
        let lieux = passerelle_core::lieux::search::Cache::new(config.search_max_age);
        AppState {
            core,
            config: Arc::new(config),
            lieux,
            franceconnect: None,
            service_demo: false,
            metrics: Arc::new(Metrics::new()),
            metrics_token: None,
        }
    }

    /// Turns FranceConnect on (and its simulator, when the settings say so).
    pub fn with_franceconnect(mut self, fc: Option<passerelle_core::aidants::franceconnect::FranceConnect>) -> Self {
        self.franceconnect = fc;
        self
    }

    /// Mounts the demonstration online service (a client of the OIDC provider).
    pub fn with_service_demo(mut self, on: bool) -> Self {
        self.service_demo = on;
        self
    }

    /// Opens `/metrics` to the holder of `token` (ignored when empty).
    pub fn with_metrics_token(mut self, token: Option<&str>) -> Self {
        self.metrics_token = token.map(str::trim).filter(|t| !t.is_empty()).map(Arc::from);
        self
    }

    fn simulateur_on(&self) -> bool {
        self.franceconnect.as_ref().is_some_and(|f| f.config().simulateur)
    }
}

/// Builds the whole application.
pub fn router(state: AppState) -> Router {
    let request_id = HeaderName::from_static("x-request-id");
    let assets = ServeDir::new(&state.config.assets_dir);
    let app = Router::new()
        .route("/", get(pages::home))
        .route("/healthz", get(pages::healthz))
        .route("/metrics", get(metriques::scrape))
        .route("/accessibilite", get(pages::accessibility))
        .route("/mentions-legales", get(pages::legal))
        .route("/aider-un-proche", get(pages::helping))
        .route("/donnees-personnelles", get(pages::privacy))
        .route("/lieux", get(lieux::search))
        .route("/lieux/{id}", get(lieux::place))
        .route(
            "/lieux/{id}/modifier",
            get(lieux_admin::edit_page).post(lieux_admin::edit_submit),
        )
        .route(
            "/operateur/lieux/import",
            get(lieux_admin::import_page)
                .post(lieux_admin::import_submit)
                .layer(DefaultBodyLimit::max(lieux_admin::UPLOAD_LIMIT)),
        )
        .route("/c/{code}", get(cheques_pages::holder))
        .route(
            "/encaisser",
            get(cheques_pages::counter_page).post(cheques_pages::counter_submit),
        )
        .route("/encaisser/annuler", post(cheques_pages::cancel_submit))
        .route("/commandes", get(commandes_pages::list))
        .route(
            "/commandes/nouvelle",
            get(commandes_admin::new_form).post(commandes_admin::create),
        )
        .route("/commandes/{id}", get(commandes_pages::one))
        .route("/commandes/{id}/emettre", post(commandes_admin::issue_order))
        .route("/commandes/{id}/codes.csv", get(commandes_admin::codes_csv))
        .route("/commandes/{id}/carnets.pdf", get(commandes_admin::booklets_pdf))
        .route("/commandes/{id}/attribuer", post(commandes_admin::allot))
        .route("/commandes/{id}/documents/{numero}", get(commandes_pages::document_pdf))
        .route("/commandes/{id}/accepter", post(commandes_pages::accept))
        .route("/commandes/{id}/paiement", post(commandes_pages::pay))
        .route("/commandes/{id}/remises", post(commandes_pages::stop_hand_outs))
        .route("/commandes/{id}/rapport", get(rapports_pages::order))
        .route("/commandes/{id}/rapport.csv", get(rapports_pages::order_csv))
        .route("/commandes/{id}/expires.pdf", get(rapports_pages::expired_pdf))
        .route("/commandes/{id}/expires.csv", get(rapports_pages::expired_csv))
        .route("/rapports", get(rapports_pages::funders))
        .route("/rapports.csv", get(rapports_pages::funders_csv))
        .route(
            "/remettre",
            get(commandes_pages::hand_out_form).post(commandes_pages::hand_out_submit),
        )
        .route("/remettre/perte", post(commandes_pages::lost_submit))
        .route("/reglements", get(reglements_pages::page))
        .route("/reglements/generer", post(reglements_pages::generate))
        .route("/reglements/compte", post(reglements_pages::set_account))
        .route("/reglements/lots/{id}", get(reglements_pages::lot))
        .route("/reglements/lots/{id}/sepa.xml", get(reglements_pages::sepa))
        .route("/reglements/lots/{id}/envoye", post(reglements_pages::mark_sent))
        .route("/reglements/lots/{id}/execute", post(reglements_pages::mark_executed))
        .route("/reglements/releves/{numero}/rejet", post(reglements_pages::reject))
        .route("/reglements/coordonnees", get(qualification_review::bank_list))
        .route("/reglements/coordonnees/{id}", post(qualification_review::bank_review))
        .route("/qualification", get(qualification_pages::home))
        .route("/qualification/demandes", post(qualification_pages::start))
        .route(
            "/qualification/demandes/{id}",
            get(qualification_pages::application).post(qualification_pages::save),
        )
        .route(
            "/qualification/demandes/{id}/pieces",
            post(qualification_pages::attach).layer(DefaultBodyLimit::max(qualification_pages::UPLOAD_LIMIT)),
        )
        .route(
            "/qualification/demandes/{id}/pieces/{piece}",
            get(qualification_pages::document),
        )
        .route(
            "/qualification/demandes/{id}/pieces/{piece}/retrait",
            post(qualification_pages::detach),
        )
        .route(
            "/qualification/demandes/{id}/decision",
            post(qualification_review::decide),
        )
        .route("/qualification/lieux/{ext_id}/etat", post(qualification_review::change))
        .route(
            "/qualification/lieux/{ext_id}/coordonnees",
            post(qualification_pages::change_bank),
        )
        .route("/hub/territoire", get(territoire_pages::page))
        .route("/hub/territoire/lieux-a-verifier", get(territoire_pages::to_check))
        .route("/hub/corrections", get(corrections_pages::hub_list))
        .route(
            "/hub/lieux/{id}/correction",
            get(corrections_pages::propose_page).post(corrections_pages::propose_submit),
        )
        .route("/lieu/corrections", get(corrections_pages::place_list))
        .route("/operateur/corrections", get(corrections_pages::operator_list))
        .route("/corrections/{id}/accepter", post(corrections_pages::accept))
        .route("/corrections/{id}/refuser", post(corrections_pages::refuse))
        .route("/ressources", get(ressources_pages::list))
        .route("/ressources/{slug}", get(ressources_pages::article))
        .route("/ressources/{slug}/fichiers/{id}", get(ressources_pages::download))
        .route("/operateur/ressources", get(ressources_admin::list))
        .route(
            "/operateur/ressources/nouvelle",
            get(ressources_admin::new_form).post(ressources_admin::create),
        )
        .route(
            "/operateur/ressources/{id}",
            get(ressources_admin::edit_form).post(ressources_admin::update),
        )
        .route(
            "/operateur/ressources/{id}/publication",
            post(ressources_admin::publish),
        )
        .route("/operateur/ressources/{id}/suppression", post(ressources_admin::delete))
        .route(
            "/operateur/ressources/{id}/fichiers",
            post(ressources_admin::attach).layer(DefaultBodyLimit::max(ressources_admin::UPLOAD_LIMIT)),
        )
        .route(
            "/operateur/ressources/{id}/fichiers/{fichier}/suppression",
            post(ressources_admin::detach),
        )
        .route("/activite", get(activite_pages::list))
        .route("/activite.csv", get(activite_pages::csv))
        .route(
            "/activite/nouvelle",
            get(activite_pages::new_form).post(activite_pages::create),
        )
        .route("/activite/structure", get(activite_pages::structure))
        .route(
            "/activite/{id}",
            get(activite_pages::edit_form).post(activite_pages::edit),
        )
        .route("/activite/{id}/supprimer", post(activite_pages::delete))
        .route("/releves", get(reglements_pages::statements))
        .route("/releves/{numero}", get(reglements_pages::statement))
        .route("/releves/{numero}/csv", get(reglements_pages::statement_csv))
        .route("/releves/{numero}/pdf", get(reglements_pages::statement_pdf))
        .route("/static/app/geolocalisation.js", get(pages::geolocation_js))
        .route("/static/app/scan.js", get(pages::scan_js))
        .route("/api/v1/version", get(api::version))
        .route("/api/v1/lieux", get(api::search))
        .route("/api/v1/lieux/{id}", get(api::one))
        .route("/api/openapi.json", get(api::openapi))
        .route("/tableau-de-bord", get(tableau_de_bord::page))
        .route("/open-data/", get(opendata::index))
        .route(
            "/open-data",
            get(|| async { axum::response::Redirect::permanent("/open-data/") }),
        )
        .route(
            "/open-data/indicateurs-departements.csv",
            get(opendata::indicateurs_csv),
        )
        .route(
            "/open-data/indicateurs-departements.json",
            get(opendata::indicateurs_json),
        )
        .route(
            "/open-data/pass-numerique-departements-publics.csv",
            get(opendata::pass_csv),
        )
        .route(
            "/open-data/pass-numerique-departements-publics.json",
            get(opendata::pass_json),
        )
        .route("/open-data/aidants-connect.csv", get(opendata::aidants_csv))
        .route("/open-data/aidants-connect.json", get(opendata::aidants_json))
        .route("/open-data/lieux.csv", get(opendata::lieux_csv))
        .route("/open-data/lieux.json", get(opendata::lieux_json))
        .route("/open-data/journal-tete.json", get(opendata::journal_tete))
        .route("/connexion", get(auth::login_page).post(auth::login_submit))
        .route("/connexion/totp", get(auth::totp_page).post(auth::totp_submit))
        .route(
            "/connexion/activation-totp",
            get(auth::enrol_page).post(auth::enrol_submit),
        )
        .route(
            "/connexion/lien",
            get(aidants_auth::link_page).post(aidants_auth::link_submit),
        )
        .route(
            "/connexion/lien/ouvrir",
            get(aidants_auth::link_open).post(aidants_auth::link_use),
        )
        .route(
            "/connexion/totp-recent",
            get(aidants_auth::recent_page).post(aidants_auth::recent_submit),
        )
        .route(
            "/aidants-connect/habilitation",
            get(aidants_habilitation::form).post(aidants_habilitation::submit),
        )
        .route("/aidants-connect/habilitation/envoyee", get(aidants_habilitation::sent))
        .route(
            "/aidants-connect/habilitation/suivi",
            get(aidants_habilitation::follow).post(aidants_habilitation::follow_submit),
        )
        .route("/aidants-connect/referent", get(aidants_referent::home))
        .route("/aidants-connect/referent/aidants", post(aidants_referent::invite))
        .route(
            "/aidants-connect/referent/aidants/{id}/activation",
            post(aidants_referent::activation),
        )
        .route(
            "/aidants-connect/referent/aidants/{id}/carte",
            post(aidants_referent::card),
        )
        .route(
            "/aidants-connect/referent/aidants/{id}/application",
            get(aidants_referent::app_form).post(aidants_referent::app_confirm),
        )
        .route(
            "/aidants-connect/structure",
            get(aidants_structure::structure).post(aidants_structure::switch),
        )
        .route(
            "/aidants-connect/invitations/{id}/accepter",
            post(aidants_structure::accept),
        )
        .route(
            "/aidants-connect/invitations/{id}/refuser",
            post(aidants_structure::decline),
        )
        .route(
            "/aidants-connect/invitation",
            get(aidants_structure::link_open).post(aidants_structure::link_answer),
        )
        .route("/operateur/habilitations", get(aidants_review::list))
        .route("/operateur/habilitations/{id}", get(aidants_review::detail))
        .route("/operateur/habilitations/{id}/decision", post(aidants_review::decide))
        .route("/operateur/aidants", get(aidants_review::training))
        .route(
            "/operateur/aidants/{id}/formation",
            post(aidants_review::record_training),
        )
        .route("/deconnexion", post(deconnexion::logout))
        .route("/mon-compte", get(account::page))
        .route("/mon-compte/mot-de-passe", post(account::change_password))
        .route("/mon-compte/totp", get(account::totp_page).post(account::totp_confirm))
        .route("/mon-compte/totp/retrait", post(account::totp_remove))
        .route("/mon-compte/recapitulatifs", post(account::set_digest))
        .route("/mon-compte/deconnexion-partout", post(deconnexion::logout_everywhere))
        .route(
            "/recapitulatifs/desabonnement/{jeton}",
            get(recapitulatifs_pages::show).post(recapitulatifs_pages::unsubscribe),
        )
        .route(
            "/recapitulatifs/desabonnement/{jeton}/reabonnement",
            post(recapitulatifs_pages::resubscribe),
        )
        .route("/operateur", get(operator::page))
        .route("/operateur/tableau-de-bord", get(tableau_de_bord_operateur::page))
        .route(
            "/operateur/tableau-de-bord/recalculer",
            post(tableau_de_bord_operateur::recompute),
        )
        .route("/operateur/organisations", post(operator::create_organisation))
        .route("/operateur/comptes", post(operator::create_account))
        .route("/operateur/comptes/{id}/mot-de-passe", post(operator::reset_password))
        .route("/operateur/comptes/{id}/totp", post(operator::reset_totp))
        .route("/operateur/comptes/{id}/activation", post(operator::set_active))
        .route("/operateur/journal", get(journal::page))
        .route(
            "/aidants-connect/mandats",
            get(mandats_pages::list).post(mandats_pages::create),
        )
        .route("/aidants-connect/mandats/nouveau", get(mandats_pages::new_form))
        .route("/aidants-connect/mandats/recapitulatif", get(mandats_pages::recap_new))
        .route("/aidants-connect/mandats/{id}", get(mandats_pages::detail))
        .route(
            "/aidants-connect/mandats/{id}/renouveler",
            get(mandats_pages::renew_form).post(mandats_pages::renew),
        )
        .route(
            "/aidants-connect/mandats/{id}/renouveler/recapitulatif",
            get(mandats_pages::renew_recap),
        )
        .route(
            "/aidants-connect/mandats/{id}/revoquer",
            get(mandats_actions::confirm).post(mandats_actions::submit),
        )
        .route("/aidants-connect/mandats/{id}/revoque", get(mandats_actions::done))
        .route(
            "/aidants-connect/mandats/{id}/attestation.pdf",
            get(mandats_actions::attestation),
        )
        .route(
            "/aidants-connect/mandats/{id}/revocation.pdf",
            get(mandats_actions::revocation),
        )
        .route("/mandats/verifier/{token}", get(mandats_actions::verify))
        .route("/oidc/authorize", get(oidc_authorize::start))
        .route("/oidc/authorize/usagers", get(oidc_authorize::search))
        .route(
            "/oidc/authorize/demarche",
            get(oidc_authorize::demarche).post(oidc_authorize::choose),
        )
        .route("/franceconnect", get(franceconnect::home))
        .route("/franceconnect/connexion", get(franceconnect::start))
        .route("/franceconnect/retour", get(franceconnect::callback))
        .route("/franceconnect/deconnexion", get(franceconnect::logout))
        .route("/franceconnect/deconnexion/retour", get(franceconnect::logout_return))
        .route("/service-demo", get(service_demo::home))
        .route("/service-demo/connexion", get(service_demo::start))
        .route("/service-demo/retour", get(service_demo::callback))
        .route("/espace-usager", get(espace_usager::home))
        .route("/espace-usager/connexion", get(espace_usager::start))
        .route("/espace-usager/deconnexion", post(espace_usager::sign_out))
        .route("/espace-usager/deconnecte", get(espace_usager::signed_out))
        .route(
            "/espace-usager/mandats/{id}/revoquer",
            get(espace_usager_mandats::confirm).post(espace_usager_mandats::revoke_submit),
        )
        .route("/espace-usager/mandats/{id}/recu", get(espace_usager_mandats::receipt))
        .route(
            "/espace-usager/mandats/{id}/attestation.pdf",
            get(espace_usager_mandats::attestation),
        )
        .route(
            "/espace-usager/mandats/{id}/revocation.pdf",
            get(espace_usager_mandats::certificate),
        )
        .merge(fc_simulateur::pages(state.simulateur_on()))
        .nest_service("/static/dsfr", assets)
        .fallback(pages::not_found)
        .method_not_allowed_fallback(pages::method_not_allowed)
        .layer(axum::middleware::from_fn_with_state(state.clone(), security::csrf))
        .with_state(state.clone())
        // Authenticated by an API key in a header, never by a cookie: no CSRF to fear.
        .merge(cheques_api::router(state.clone()))
        // Clients of the OpenID Connect provider authenticate with their secret: no cookie.
        .merge(oidc::router(state.clone()))
        // The simulator's provider endpoints are called server to server (no cookie):
        // outside the CSRF layer, and mounted only when the simulator is on.
        .merge(fc_simulateur::api(state.clone()))
        // After routing: hands the matched route template to `metriques::track`.
        .route_layer(axum::middleware::from_fn(metriques::route_template));

    app.layer(
        ServiceBuilder::new()
            .layer(axum::middleware::from_fn_with_state(
                state.metrics.clone(),
                metriques::track,
            ))
            .layer(SetRequestIdLayer::new(request_id.clone(), MakeRequestUuid))
            .layer(TraceLayer::new_for_http().make_span_with(|req: &Request<_>| {
                let id = req
                    .headers()
                    .get("x-request-id")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("-");
                // Only the path (query strings may carry codes or tokens), and not even
                // the path of a cheque's page: it holds the cheque's code.
                let path = req.uri().path();
                let path = if path.starts_with("/c/") { "/c/…" } else { path };
                tracing::info_span!("requete", id = %id, methode = %req.method(), chemin = %path)
            }))
            .layer(PropagateRequestIdLayer::new(request_id))
            .layer(CatchPanicLayer::custom(error::panic_response))
            .layer(TimeoutLayer::with_status_code(
                axum::http::StatusCode::REQUEST_TIMEOUT,
                Duration::from_secs(30),
            ))
            .layer(DefaultBodyLimit::max(BODY_LIMIT)),
    )
    // No English text from the framework's extractors: French pages, or JSON on the JSON routes.
    .layer(axum::middleware::from_fn(rejets::layer))
    // Every 503 (database away) with `Retry-After`, and JSON on the JSON routes.
    .layer(axum::middleware::from_fn(indisponible::layer))
    // Outermost, so that every response gets the headers, including a panic's 500 and a timeout's 408.
    .layer(axum::middleware::from_fn_with_state(state, security::headers))
}
