//! The web layer: thin axum handlers that extract input, call a domain function
//! of `passerelle-core` and render a DSFR page. Security (headers, CSRF, body
//! limits, request ids) is applied once, in [`router`].

mod accounts;
mod activite;
mod aidants_connect;
mod auth;
mod cookies;
mod dsfr;
mod error;
mod forms;
mod indisponible;
mod journal;
mod lieux;
mod metriques;
mod pages;
mod pass_numerique;
mod qualification;
mod recapitulatifs;
mod reglements;
mod rejets;
mod ressources;
mod security;
mod service_demo;
mod tableau_de_bord;
mod tableur;
mod templates;
mod territoire;

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
    /// Folder of a DSFR build (`@gouvfr/dsfr/dist`) to serve instead of the one in the binary.
    pub assets_dir: Option<PathBuf>,
    /// Folder of DejaVu fonts (`dejavu-fonts-ttf/ttf`) for PDFs instead of those in the binary.
    pub fonts_dir: Option<PathBuf>,
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
    pub franceconnect: Option<passerelle_core::aidants_connect::franceconnect::FranceConnect>,
    /// ProConnect (relying party) for the professionals' login, when configured.
    pub proconnect: Option<passerelle_core::accounts::proconnect::ProConnect>,
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
            proconnect: None,
            service_demo: false,
            metrics: Arc::new(Metrics::new()),
            metrics_token: None,
        }
    }

    /// Turns FranceConnect on (and its simulator, when the settings say so).
    pub fn with_franceconnect(
        mut self,
        fc: Option<passerelle_core::aidants_connect::franceconnect::FranceConnect>,
    ) -> Self {
        self.franceconnect = fc;
        self
    }

    /// Turns the ProConnect login on (and its simulator, when the settings say so).
    pub fn with_proconnect(mut self, pc: Option<passerelle_core::accounts::proconnect::ProConnect>) -> Self {
        self.proconnect = pc;
        self
    }

    pub(crate) fn pc_simulateur_on(&self) -> bool {
        self.proconnect.as_ref().is_some_and(|p| p.config().simulateur)
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

    pub(crate) fn simulateur_on(&self) -> bool {
        self.franceconnect.as_ref().is_some_and(|f| f.config().simulateur)
    }
}

/// Builds the whole application.
pub fn router(state: AppState) -> Router {
    let request_id = HeaderName::from_static("x-request-id");
    let assets = dsfr::service(state.config.assets_dir.as_deref());
    let app = Router::new()
        .route("/", get(pages::home))
        .route("/healthz", get(pages::healthz))
        .route("/metrics", get(metriques::scrape))
        .route("/accessibilite", get(pages::accessibility))
        .route("/mentions-legales", get(pages::legal))
        .route("/aider-un-proche", get(pages::helping))
        .route("/donnees-personnelles", get(pages::privacy))
        .route("/lieux", get(lieux::pages::search))
        .route("/lieux/{id}", get(lieux::pages::place))
        .route(
            "/lieux/{id}/modifier",
            get(lieux::admin::edit_page).post(lieux::admin::edit_submit),
        )
        .route("/operateur/lieux/doublons", get(lieux::doublons::list))
        .route("/operateur/lieux/fusionner", post(lieux::doublons::merge))
        .route(
            "/operateur/lieux/import",
            get(lieux::admin::import_page)
                .post(lieux::admin::import_submit)
                .layer(DefaultBodyLimit::max(lieux::admin::UPLOAD_LIMIT)),
        )
        .route("/c", get(pass_numerique::cheques::entry))
        .route("/c/{code}", get(pass_numerique::cheques::holder))
        .route(
            "/encaisser",
            get(pass_numerique::cheques::counter_page).post(pass_numerique::cheques::counter_submit),
        )
        .route("/encaisser/annuler", post(pass_numerique::cheques::cancel_submit))
        .route("/commandes", get(pass_numerique::commandes::list))
        .route(
            "/commandes/nouvelle",
            get(pass_numerique::commandes_admin::new_form).post(pass_numerique::commandes_admin::create),
        )
        .route("/commandes/{id}", get(pass_numerique::commandes::one))
        .route(
            "/commandes/{id}/emettre",
            post(pass_numerique::commandes_admin::issue_order),
        )
        .route(
            "/commandes/{id}/codes.csv",
            get(pass_numerique::commandes_admin::codes_csv),
        )
        .route(
            "/commandes/{id}/carnets.pdf",
            get(pass_numerique::commandes_admin::booklets_pdf),
        )
        .route(
            "/commandes/{id}/attribuer",
            post(pass_numerique::commandes_admin::allot),
        )
        .route(
            "/commandes/{id}/documents/{numero}",
            get(pass_numerique::commandes::document_pdf),
        )
        .route("/commandes/{id}/accepter", post(pass_numerique::commandes::accept))
        .route("/commandes/{id}/paiement", post(pass_numerique::commandes::pay))
        .route(
            "/commandes/{id}/remises",
            get(pass_numerique::commandes::stop_page).post(pass_numerique::commandes::stop_hand_outs),
        )
        .route("/commandes/{id}/rapport", get(pass_numerique::rapports::order))
        .route("/commandes/{id}/rapport.csv", get(pass_numerique::rapports::order_csv))
        .route(
            "/commandes/{id}/expires.pdf",
            get(pass_numerique::rapports::expired_pdf),
        )
        .route(
            "/commandes/{id}/expires.csv",
            get(pass_numerique::rapports::expired_csv),
        )
        .route("/rapports", get(pass_numerique::rapports::funders))
        .route("/rapports.csv", get(pass_numerique::rapports::funders_csv))
        .route(
            "/remettre",
            get(pass_numerique::commandes::hand_out_form).post(pass_numerique::commandes::hand_out_submit),
        )
        .route("/remettre/perte", post(pass_numerique::commandes::lost_submit))
        .route("/reglements", get(reglements::pages::page))
        .route("/reglements/generer", post(reglements::pages::generate))
        .route("/reglements/compte", post(reglements::pages::set_account))
        .route("/reglements/lots/{id}", get(reglements::pages::lot))
        .route("/reglements/lots/{id}/sepa.xml", get(reglements::pages::sepa))
        .route("/reglements/lots/{id}/envoye", post(reglements::pages::mark_sent))
        .route("/reglements/lots/{id}/execute", post(reglements::pages::mark_executed))
        .route("/reglements/releves/{numero}/rejet", post(reglements::pages::reject))
        .route("/reglements/coordonnees", get(qualification::instruction::bank_list))
        .route(
            "/reglements/coordonnees/{id}",
            post(qualification::instruction::bank_review),
        )
        .route("/qualification", get(qualification::pages::home))
        .route("/qualification/demandes", post(qualification::pages::start))
        .route(
            "/qualification/demandes/{id}",
            get(qualification::pages::application).post(qualification::pages::save),
        )
        .route(
            "/qualification/demandes/{id}/pieces",
            post(qualification::pages::attach).layer(DefaultBodyLimit::max(qualification::pages::UPLOAD_LIMIT)),
        )
        .route(
            "/qualification/demandes/{id}/pieces/{piece}",
            get(qualification::pages::document),
        )
        .route(
            "/qualification/demandes/{id}/pieces/{piece}/retrait",
            post(qualification::pages::detach),
        )
        .route(
            "/qualification/demandes/{id}/decision",
            post(qualification::instruction::decide),
        )
        .route(
            "/qualification/lieux/{ext_id}/etat",
            post(qualification::instruction::change),
        )
        .route(
            "/qualification/lieux/{ext_id}/coordonnees",
            post(qualification::pages::change_bank),
        )
        .route("/hub/territoire", get(territoire::pages::page))
        .route("/hub/territoire/lieux-a-verifier", get(territoire::pages::to_check))
        .route("/hub/corrections", get(territoire::corrections::hub_list))
        .route(
            "/hub/lieux/{id}/correction",
            get(territoire::corrections::propose_page).post(territoire::corrections::propose_submit),
        )
        .route("/lieu/corrections", get(territoire::corrections::place_list))
        .route("/operateur/corrections", get(territoire::corrections::operator_list))
        .route("/corrections/{id}/accepter", post(territoire::corrections::accept))
        .route("/corrections/{id}/refuser", post(territoire::corrections::refuse))
        .route("/ressources", get(ressources::pages::list))
        .route("/ressources/{slug}", get(ressources::pages::article))
        .route("/ressources/{slug}/fichiers/{id}", get(ressources::pages::download))
        .route("/operateur/ressources", get(ressources::admin::list))
        .route(
            "/operateur/ressources/nouvelle",
            get(ressources::admin::new_form).post(ressources::admin::create),
        )
        .route(
            "/operateur/ressources/{id}",
            get(ressources::admin::edit_form).post(ressources::admin::update),
        )
        .route(
            "/operateur/ressources/{id}/publication",
            post(ressources::admin::publish),
        )
        .route(
            "/operateur/ressources/{id}/suppression",
            post(ressources::admin::delete),
        )
        .route(
            "/operateur/ressources/{id}/fichiers",
            post(ressources::admin::attach).layer(DefaultBodyLimit::max(ressources::admin::UPLOAD_LIMIT)),
        )
        .route(
            "/operateur/ressources/{id}/fichiers/{fichier}/suppression",
            post(ressources::admin::detach),
        )
        .route("/activite", get(activite::pages::list))
        .route("/activite.csv", get(activite::pages::csv))
        .route(
            "/activite/nouvelle",
            get(activite::pages::new_form).post(activite::pages::create),
        )
        .route("/activite/structure", get(activite::pages::structure))
        .route(
            "/activite/{id}",
            get(activite::pages::edit_form).post(activite::pages::edit),
        )
        .route("/activite/{id}/supprimer", post(activite::pages::delete))
        .route("/releves", get(reglements::pages::statements))
        .route("/releves/{numero}", get(reglements::pages::statement))
        .route("/releves/{numero}/csv", get(reglements::pages::statement_csv))
        .route("/releves/{numero}/pdf", get(reglements::pages::statement_pdf))
        .route("/static/app/geolocalisation.js", get(pages::geolocation_js))
        .route("/static/app/scan.js", get(pages::scan_js))
        .route("/static/app/encaisser.js", get(pages::encaisser_js))
        .route("/static/app/passerelle.css", get(pages::passerelle_css))
        .route("/static/app/passerelle.js", get(pages::passerelle_js))
        .route("/api/v1/version", get(lieux::api::version))
        .route("/api/v1/lieux", get(lieux::api::search))
        .route("/api/v1/lieux/{id}", get(lieux::api::one))
        .route("/api/openapi.json", get(lieux::api::openapi))
        .route("/tableau-de-bord", get(tableau_de_bord::pages::page))
        .route("/open-data/", get(tableau_de_bord::opendata::index))
        .route(
            "/open-data",
            get(|| async { axum::response::Redirect::permanent("/open-data/") }),
        )
        .route(
            "/open-data/indicateurs-departements.csv",
            get(tableau_de_bord::opendata::indicateurs_csv),
        )
        .route(
            "/open-data/indicateurs-departements.json",
            get(tableau_de_bord::opendata::indicateurs_json),
        )
        .route(
            "/open-data/pass-numerique-departements-publics.csv",
            get(tableau_de_bord::opendata::pass_csv),
        )
        .route(
            "/open-data/pass-numerique-departements-publics.json",
            get(tableau_de_bord::opendata::pass_json),
        )
        .route(
            "/open-data/aidants-connect.csv",
            get(tableau_de_bord::opendata::aidants_csv),
        )
        .route(
            "/open-data/aidants-connect.json",
            get(tableau_de_bord::opendata::aidants_json),
        )
        .route("/open-data/lieux.csv", get(tableau_de_bord::opendata::lieux_csv))
        .route("/open-data/lieux.json", get(tableau_de_bord::opendata::lieux_json))
        .route(
            "/open-data/data-inclusion/{fichier}",
            get(tableau_de_bord::opendata::data_inclusion),
        )
        .route(
            "/open-data/journal-tete.json",
            get(tableau_de_bord::opendata::journal_tete),
        )
        .route("/connexion", get(auth::login_page).post(auth::login_submit))
        .route("/proconnect/connexion", get(accounts::proconnect::start))
        .route("/proconnect/retour", get(accounts::proconnect::callback))
        .route(
            "/proconnect/lier",
            get(accounts::proconnect::link).post(accounts::proconnect::link_submit),
        )
        .route("/proconnect/lier/{jeton}", get(accounts::proconnect::link_by_mail))
        .route("/connexion/totp", get(auth::totp_page).post(auth::totp_submit))
        .route(
            "/connexion/activation-totp",
            get(auth::enrol_page).post(auth::enrol_submit),
        )
        .route(
            "/connexion/lien",
            get(aidants_connect::connexion::link_page).post(aidants_connect::connexion::link_submit),
        )
        .route(
            "/connexion/lien/ouvrir",
            get(aidants_connect::connexion::link_open).post(aidants_connect::connexion::link_use),
        )
        .route(
            "/connexion/totp-recent",
            get(aidants_connect::connexion::recent_page).post(aidants_connect::connexion::recent_submit),
        )
        .route(
            "/aidants-connect/habilitation",
            get(aidants_connect::habilitation::form).post(aidants_connect::habilitation::submit),
        )
        .route(
            "/aidants-connect/habilitation/envoyee",
            get(aidants_connect::habilitation::sent),
        )
        .route(
            "/aidants-connect/habilitation/suivi",
            get(aidants_connect::habilitation::follow).post(aidants_connect::habilitation::follow_submit),
        )
        .route("/aidants-connect/referent", get(aidants_connect::referent::home))
        .route(
            "/aidants-connect/referent/aidants",
            post(aidants_connect::referent::invite),
        )
        .route(
            "/aidants-connect/referent/aidants/{id}/activation",
            post(aidants_connect::referent::activation),
        )
        .route(
            "/aidants-connect/referent/aidants/{id}/carte",
            post(aidants_connect::referent::card),
        )
        .route(
            "/aidants-connect/referent/aidants/{id}/application",
            get(aidants_connect::referent::app_form).post(aidants_connect::referent::app_confirm),
        )
        .route(
            "/aidants-connect/structure",
            get(aidants_connect::structure::structure).post(aidants_connect::structure::switch),
        )
        .route(
            "/aidants-connect/invitations/{id}/accepter",
            post(aidants_connect::structure::accept),
        )
        .route(
            "/aidants-connect/invitations/{id}/refuser",
            post(aidants_connect::structure::decline),
        )
        .route(
            "/aidants-connect/invitation",
            get(aidants_connect::structure::link_open).post(aidants_connect::structure::link_answer),
        )
        .route("/operateur/habilitations", get(aidants_connect::instruction::list))
        .route(
            "/operateur/habilitations/{id}",
            get(aidants_connect::instruction::detail),
        )
        .route(
            "/operateur/habilitations/{id}/decision",
            post(aidants_connect::instruction::decide),
        )
        .route("/operateur/aidants", get(aidants_connect::instruction::training))
        .route(
            "/operateur/aidants/{id}/formation",
            post(aidants_connect::instruction::record_training),
        )
        .route("/deconnexion", post(accounts::deconnexion::logout))
        .route("/mon-compte", get(accounts::compte::page))
        .route("/mon-compte/mot-de-passe", post(accounts::compte::change_password))
        .route(
            "/mon-compte/totp",
            get(accounts::compte::totp_page).post(accounts::compte::totp_confirm),
        )
        .route("/mon-compte/totp/retrait", post(accounts::compte::totp_remove))
        .route("/mon-compte/recapitulatifs", post(accounts::compte::set_digest))
        .route(
            "/mon-compte/deconnexion-partout",
            post(accounts::deconnexion::logout_everywhere),
        )
        .route(
            "/recapitulatifs/desabonnement/{jeton}",
            get(recapitulatifs::pages::show).post(recapitulatifs::pages::unsubscribe),
        )
        .route(
            "/recapitulatifs/desabonnement/{jeton}/reabonnement",
            post(recapitulatifs::pages::resubscribe),
        )
        .route("/operateur", get(accounts::operateur::page))
        .route("/operateur/tableau-de-bord", get(tableau_de_bord::operateur::page))
        .route(
            "/operateur/tableau-de-bord/recalculer",
            post(tableau_de_bord::operateur::recompute),
        )
        .route(
            "/operateur/organisations",
            post(accounts::operateur::create_organisation),
        )
        .route("/operateur/comptes", post(accounts::operateur::create_account))
        .route(
            "/operateur/comptes/{id}/mot-de-passe",
            post(accounts::operateur::reset_password),
        )
        .route("/operateur/comptes/{id}/totp", post(accounts::operateur::reset_totp))
        .route(
            "/operateur/comptes/{id}/activation",
            post(accounts::operateur::set_active),
        )
        .route("/operateur/journal", get(journal::pages::page))
        .route(
            "/aidants-connect/mandats",
            get(aidants_connect::mandats::list).post(aidants_connect::mandats::create),
        )
        .route(
            "/aidants-connect/mandats/nouveau",
            get(aidants_connect::mandats::new_form),
        )
        .route(
            "/aidants-connect/mandats/recapitulatif",
            get(aidants_connect::mandats::recap_new),
        )
        .route("/aidants-connect/mandats/{id}", get(aidants_connect::mandats::detail))
        .route(
            "/aidants-connect/mandats/{id}/renouveler",
            get(aidants_connect::mandats::renew_form).post(aidants_connect::mandats::renew),
        )
        .route(
            "/aidants-connect/mandats/{id}/renouveler/recapitulatif",
            get(aidants_connect::mandats::renew_recap),
        )
        .route(
            "/aidants-connect/mandats/{id}/revoquer",
            get(aidants_connect::mandats_actions::confirm).post(aidants_connect::mandats_actions::submit),
        )
        .route(
            "/aidants-connect/mandats/{id}/revoque",
            get(aidants_connect::mandats_actions::done),
        )
        .route(
            "/aidants-connect/mandats/{id}/attestation.pdf",
            get(aidants_connect::mandats_actions::attestation),
        )
        .route(
            "/aidants-connect/mandats/{id}/revocation.pdf",
            get(aidants_connect::mandats_actions::revocation),
        )
        .route(
            "/mandats/verifier/{token}",
            get(aidants_connect::mandats_actions::verify),
        )
        .route("/oidc/authorize", get(aidants_connect::oidc_authorize::start))
        .route("/oidc/authorize/usagers", get(aidants_connect::oidc_authorize::search))
        .route(
            "/oidc/authorize/demarche",
            get(aidants_connect::oidc_authorize::demarche).post(aidants_connect::oidc_authorize::choose),
        )
        .route("/franceconnect", get(aidants_connect::franceconnect::home))
        .route("/franceconnect/connexion", get(aidants_connect::franceconnect::start))
        .route("/franceconnect/retour", get(aidants_connect::franceconnect::callback))
        .route(
            "/franceconnect/deconnexion",
            get(aidants_connect::franceconnect::logout),
        )
        .route(
            "/franceconnect/deconnexion/retour",
            get(aidants_connect::franceconnect::logout_return),
        )
        .route("/service-demo", get(service_demo::home))
        .route("/service-demo/connexion", get(service_demo::start))
        .route("/service-demo/retour", get(service_demo::callback))
        .route("/service-demo/fc/connexion", get(service_demo::start_fc))
        .route("/service-demo/fc/retour", get(service_demo::callback_fc))
        .route("/espace-usager", get(aidants_connect::espace_usager::home))
        .route("/espace-usager/connexion", get(aidants_connect::espace_usager::start))
        .route(
            "/espace-usager/deconnexion",
            post(aidants_connect::espace_usager::sign_out),
        )
        .route(
            "/espace-usager/deconnecte",
            get(aidants_connect::espace_usager::signed_out),
        )
        .route(
            "/espace-usager/mandats/{id}/revoquer",
            get(aidants_connect::espace_usager_mandats::confirm)
                .post(aidants_connect::espace_usager_mandats::revoke_submit),
        )
        .route(
            "/espace-usager/mandats/{id}/recu",
            get(aidants_connect::espace_usager_mandats::receipt),
        )
        .route(
            "/espace-usager/mandats/{id}/attestation.pdf",
            get(aidants_connect::espace_usager_mandats::attestation),
        )
        .route(
            "/espace-usager/mandats/{id}/revocation.pdf",
            get(aidants_connect::espace_usager_mandats::certificate),
        )
        .merge(aidants_connect::fc_simulateur::pages(state.simulateur_on()))
        .merge(accounts::pc_simulateur::pages(state.pc_simulateur_on()))
        .nest_service("/static/dsfr", assets)
        .fallback(pages::not_found)
        .method_not_allowed_fallback(pages::method_not_allowed)
        .layer(axum::middleware::from_fn_with_state(state.clone(), security::csrf))
        .with_state(state.clone())
        // Authenticated by an API key in a header, never by a cookie: no CSRF to fear.
        .merge(pass_numerique::cheques_api::router(state.clone()))
        // Clients of the OpenID Connect provider authenticate with their secret: no cookie.
        .merge(aidants_connect::oidc::router(state.clone()))
        // The simulator's provider endpoints are called server to server (no cookie):
        // outside the CSRF layer, and mounted only when the simulator is on.
        .merge(aidants_connect::fc_simulateur::api(state.clone()))
        .merge(accounts::pc_simulateur::api(state.clone()))
        // After routing: hands the matched route template to `metriques::track`.
        .route_layer(axum::middleware::from_fn(metriques::route_template))
        // Every CSV download also in the form French spreadsheet software opens (`?format=tableur`).
        .layer(axum::middleware::from_fn(tableur::layer));

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
