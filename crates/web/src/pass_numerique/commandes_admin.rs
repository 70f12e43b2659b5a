//! The opérateur's pages for the bulk work on orders: create an order, issue
//! it, print its booklets (PDF by range, CSV for the print house) and allot
//! booklet ranges to prescribers. Access is decided by each domain call
//! (`pass_numerique::authz`, the opérateur only).

use crate::forms::Path;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use passerelle_core::lieux::model::ListeServices;
use passerelle_core::lieux::vocabulaires::Services;
use passerelle_core::money::{parse_percent, Centimes};
use passerelle_core::pass_numerique::issue::{self, Support};
use passerelle_core::pass_numerique::model::{Perimetre, Public};
use passerelle_core::pass_numerique::orders::{self, parse_date, NewOrder};
use passerelle_core::pass_numerique::{booklets, print, reports};
use passerelle_core::pdf::Fonts;
use passerelle_core::CoreError;
use serde::Deserialize;

use crate::auth::{render, CurrentUser};
use crate::error::{refusal_message, WebError};
use crate::forms::{Form, Query};
use crate::templates::{NewOrderPage, NewOrderValues};
use crate::AppState;

/// Booklets per PDF downloaded from a page (two pages each); larger prints go through the command line.
pub const PDF_MAX_BOOKLETS: i64 = 500;
/// Cheques issued from a page; a larger order is issued with `passerelle commandes emettre`.
pub const WEB_ISSUE_MAX_CHEQUES: i64 = 1_000_000;

async fn form_page(
    state: &AppState,
    u: &CurrentUser,
    mut values: NewOrderValues,
    error: Option<String>,
) -> Result<Response, WebError> {
    let (funders, prescribers) = reports::new_order_choices(&state.core, &u.principal).await?;
    // A funder orders for itself: its name is the only choice, chosen already.
    if let [(only, _)] = funders.as_slice() {
        values.commanditaire = *only;
    }
    let status = if error.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    render(
        status,
        NewOrderPage {
            l: u.layout("Nouvelle commande", "/commandes"),
            funders,
            prescribers,
            publics: Public::ALL.iter().map(|p| (p.key(), p.label())).collect(),
            services: Services::ALL.iter().map(|s| s.label()).collect(),
            values,
            error,
            operateur: is_operator(u),
        },
    )
}

fn is_operator(u: &CurrentUser) -> bool {
    u.principal.role == passerelle_core::accounts::Role::Operateur
}

/// `GET /commandes/nouvelle`
/// Validity preset to a year from today, so that a first order needs only its quantity and
/// its territory.
pub async fn new_form(State(state): State<AppState>, u: CurrentUser) -> Result<Response, WebError> {
    let today = state.core.db.horloge().today_paris();
    let year_after = today
        .checked_add(jiff::Span::new().years(1))
        .and_then(|d| d.checked_sub(jiff::Span::new().days(1)))
        .unwrap_or(today);
    let values = NewOrderValues {
        debut: today.to_string(),
        fin: year_after.to_string(),
        ..NewOrderValues::default()
    };
    form_page(&state, &u, values, None).await
}

/// The fields of the form as sent; checkboxes repeat their name.
pub struct Fields(Vec<(String, String)>);

impl Fields {
    fn one(&self, name: &str) -> &str {
        self.0.iter().find(|(k, _)| k == name).map_or("", |(_, v)| v.as_str())
    }

    fn all(&self, name: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .collect()
    }

    fn values(&self) -> NewOrderValues {
        NewOrderValues {
            commanditaire: self.one("commanditaire").parse().unwrap_or(0),
            carnets: self.one("carnets").to_string(),
            cheques_par_carnet: self.one("cheques_par_carnet").to_string(),
            valeur: self.one("valeur").to_string(),
            debut: self.one("debut").to_string(),
            fin: self.one("fin").to_string(),
            tolerance: self.one("tolerance").to_string(),
            perimetre: self.one("perimetre").to_string(),
            publics: self.all("publics"),
            services: self.all("services"),
            prescripteurs: self
                .all("prescripteurs")
                .iter()
                .filter_map(|p| p.parse().ok())
                .collect(),
            plafond: self.one("plafond").to_string(),
            marque: self.one("marque").to_string(),
            frais: self.one("frais").to_string(),
        }
    }
}

fn whole(text: &str, what: &str) -> passerelle_core::Result<i64> {
    text.trim()
        .parse()
        .map_err(|_| CoreError::invalid(format!("{what} : nombre entier attendu, « {} » reçu", text.trim())))
}

/// Reads the form into an order; the first mistake is reported in French.
fn new_order(v: &NewOrderValues) -> passerelle_core::Result<NewOrder> {
    if v.commanditaire == 0 {
        return Err(CoreError::invalid("choisissez le commanditaire"));
    }
    let mut new = NewOrder::new(
        v.commanditaire,
        whole(&v.carnets, "nombre de carnets")?,
        parse_date(&v.debut, "début de validité")?,
        parse_date(&v.fin, "fin de validité")?,
    );
    new.cheques_par_carnet = whole(&v.cheques_par_carnet, "chèques par carnet")?;
    new.valeur_centimes = Centimes::parse_euros(&v.valeur, "valeur d'un chèque")?;
    new.tolerance_jours = whole(&v.tolerance, "jours de tolérance")?;
    new.perimetre = Perimetre::parse(&v.perimetre)?;
    new.publics = v
        .publics
        .iter()
        .map(|p| Public::parse(p))
        .collect::<passerelle_core::Result<_>>()?;
    new.services = ListeServices::parse(&v.services.join("|"))?;
    new.prescripteurs = v.prescripteurs.clone();
    new.plafond_jour = whole(&v.plafond, "plafond par carnet, lieu et jour")?;
    new.marque = v.marque.trim().to_string();
    new.frais_pour_dix_mille = parse_percent(&v.frais, "frais de l'opérateur")?;
    Ok(new)
}

/// `POST /commandes/nouvelle`: creates the order and its quote, or shows the form again with the reason.
pub async fn create(
    State(state): State<AppState>,
    u: CurrentUser,
    Form(fields): Form<Vec<(String, String)>>,
) -> Result<Response, WebError> {
    let mut values = Fields(fields).values();
    if !is_operator(&u) {
        // Not a field of a funder's form: the usual fee.
        values.frais = NewOrderValues::default().frais;
    }
    let created = match new_order(&values) {
        Ok(new) => orders::create(&state.core, &u.principal, &new).await,
        Err(e) => Err(e),
    };
    match created {
        Ok((order, _)) => Ok(Redirect::to(&format!("/commandes/{}?ok=creee", order.id)).into_response()),
        Err(e) => form_page(&state, &u, values, Some(refusal_message(e)?)).await,
    }
}

/// `POST /commandes/{id}/emettre`: issues every booklet and cheque of the order (all or nothing).
pub async fn issue_order(
    State(state): State<AppState>,
    u: CurrentUser,
    Path(id): Path<i64>,
) -> Result<Response, WebError> {
    let order = orders::one(&state.core, &u.principal, id).await?;
    if order.carnets.saturating_mul(order.cheques_par_carnet) > WEB_ISSUE_MAX_CHEQUES {
        return Err(WebError::BadRequest(format!(
            "cette commande compte plus de {WEB_ISSUE_MAX_CHEQUES} chèques : émettez-la en ligne de commande \
             (passerelle commandes emettre {id}), qui affiche sa progression"
        )));
    }
    issue::issue(&state.core, &u.principal, id, |_, _| {}).await?;
    Ok(Redirect::to(&format!("/commandes/{id}?ok=emise")).into_response())
}

/// `GET /commandes/{id}/codes.csv`: the print house's file (`carnet,rang,code,url`), journaled.
pub async fn codes_csv(
    State(state): State<AppState>,
    u: CurrentUser,
    Path(id): Path<i64>,
) -> Result<Response, WebError> {
    let printed = issue::codes_for_print(&state.core, &u.principal, id, None, Support::Csv).await?;
    let mut bytes = Vec::new();
    issue::codes_csv(state.config.base_url.as_str(), &printed, &mut bytes)?;
    Ok(crate::pages::download(
        "text/csv; charset=utf-8",
        &format!("commande-{id}-codes.csv"),
        bytes,
    ))
}

#[derive(Debug, Deserialize)]
pub struct Range {
    de: String,
    a: String,
    /// Crop marks at the corners of each cheque (checkbox).
    #[serde(default)]
    traits_de_coupe: Option<String>,
}

/// `GET /commandes/{id}/carnets.pdf?de=N&a=M`: booklets N to M to print, journaled.
pub async fn booklets_pdf(
    State(state): State<AppState>,
    u: CurrentUser,
    Path(id): Path<i64>,
    Query(r): Query<Range>,
) -> Result<Response, WebError> {
    let from = whole(&r.de, "premier carnet")?;
    let to = whole(&r.a, "dernier carnet")?;
    if to < from {
        return Err(WebError::BadRequest(format!("plage de carnets vide : {from} > {to}")));
    }
    if to - from >= PDF_MAX_BOOKLETS {
        return Err(WebError::BadRequest(format!(
            "au plus {PDF_MAX_BOOKLETS} carnets par fichier depuis cette page ; pour plus, \
             passerelle commandes codes {id} --pdf FICHIER --de {from} --a {to}"
        )));
    }
    // The order's funder may read it, but only the opérateur gets its codes (refused below).
    let order = orders::one(&state.core, &u.principal, id).await?;
    let fonts = Fonts::of(state.config.fonts_dir.as_deref())?;
    let base = state.config.base_url.as_str().trim_end_matches('/');
    let mut face = print::face_of(&state.core, &order, base).await?;
    face.traits_de_coupe = r.traits_de_coupe.is_some_and(|v| !v.is_empty());
    let printed = issue::codes_for_print(&state.core, &u.principal, id, Some((from, to)), Support::Pdf).await?;
    let bytes = tokio::task::spawn_blocking(move || print::booklets(&fonts, &face, &printed))
        .await
        .map_err(|e| WebError::Internal(format!("impression : {e}")))??;
    Ok(crate::pages::download(
        "application/pdf",
        &format!("commande-{id}-carnets-{from}-{to}.pdf"),
        bytes,
    ))
}

#[derive(Debug, Deserialize)]
pub struct AllotForm {
    prescripteur: String,
    de: String,
    a: String,
}

/// `POST /commandes/{id}/attribuer`: booklets N to M go to a prescriber.
pub async fn allot(
    State(state): State<AppState>,
    u: CurrentUser,
    Path(id): Path<i64>,
    Form(f): Form<AllotForm>,
) -> Result<Response, WebError> {
    let outcome = async {
        let prescriber = whole(&f.prescripteur, "prescripteur")?;
        let from = whole(&f.de, "premier carnet")?;
        let to = whole(&f.a, "dernier carnet")?;
        booklets::allot(&state.core, &u.principal, id, prescriber, from, to).await
    }
    .await;
    match outcome {
        Ok(n) => Ok(Redirect::to(&format!("/commandes/{id}?ok=attribution&n={n}")).into_response()),
        Err(e) => crate::pass_numerique::commandes::view(&state, &u, id, None, Some(refusal_message(e)?)).await,
    }
}
