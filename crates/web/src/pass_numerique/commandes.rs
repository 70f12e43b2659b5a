//! Pass Numérique pages of funders, the opérateur and prescribers: orders and
//! their progress, hand-out of booklets.

use crate::forms::Path;
use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use passerelle_core::dates_fr::jour_fr;

use passerelle_core::pass_numerique::booklets::{self, HandOut};
use passerelle_core::pass_numerique::model::{ChequeState, Public};
use passerelle_core::pass_numerique::orders::{self, DocumentKind};
use passerelle_core::pass_numerique::reports;
use serde::Deserialize;

use crate::auth::{render, CurrentUser};
use crate::error::WebError;
use crate::forms::{Form, Query};
use crate::templates::{CounterResult, HandOutPage, HandOutTyped, OrderPage, OrderRow, OrdersPage};
use crate::AppState;

fn cheque_label(key: &str) -> &'static str {
    match ChequeState::from_key(key) {
        Some(ChequeState::EnAttente) => "en attente du paiement",
        Some(ChequeState::Actif) => "actifs",
        Some(ChequeState::Encaisse) => "encaissés",
        Some(ChequeState::Expire) => "expirés",
        Some(ChequeState::Annule) => "annulés",
        None => "inconnus",
    }
}

/// `/commandes`: every order for the opérateur, its own for a funder.
pub async fn list(State(state): State<AppState>, u: CurrentUser) -> Result<Response, WebError> {
    let list = reports::list(&state.core, &u.principal).await?;
    let orders = list
        .orders
        .into_iter()
        .map(|o| OrderRow {
            id: o.id,
            commanditaire: o.commanditaire,
            carnets: o.carnets,
            cheques_par_carnet: o.cheques_par_carnet,
            valeur: o.valeur_centimes.euros(),
            debut: jour_fr(&o.debut),
            fin: jour_fr(&o.fin),
            etat: o.etat.label(),
        })
        .collect();
    render(
        StatusCode::OK,
        OrdersPage {
            l: u.layout("Commandes du Pass Numérique", "/commandes"),
            may_create: list.may_create,
            orders,
        },
    )
}

#[derive(Debug, Deserialize)]
pub struct Done {
    ok: Option<String>,
    n: Option<u64>,
}

/// `/commandes/{id}`: an order, its documents and where its booklets and cheques stand.
pub async fn one(
    State(state): State<AppState>,
    u: CurrentUser,
    Path(id): Path<i64>,
    Query(q): Query<Done>,
) -> Result<Response, WebError> {
    let message = match q.ok.as_deref() {
        Some("creee") => Some("La commande et son devis sont enregistrés.".to_string()),
        Some("acceptee") => Some("Le devis est accepté. La commande attend maintenant son paiement.".to_string()),
        Some("payee") => Some(
            "Le paiement est enregistré : la facture est émise et les chèques de la commande sont actifs.".to_string(),
        ),
        Some("emise") => Some("Les carnets et les chèques de la commande sont émis.".to_string()),
        Some("remises-arretees") => Some("La remise des carnets de cette commande est arrêtée.".to_string()),
        Some("remises-reprises") => Some("La remise des carnets de cette commande reprend.".to_string()),
        Some("attribution") => Some(match q.n.unwrap_or(0) {
            0 => {
                "Aucun carnet attribué au prescripteur (les carnets déjà remis ou perdus ne changent pas).".to_string()
            }
            1 => "1 carnet attribué au prescripteur (les carnets déjà remis ou perdus ne changent pas).".to_string(),
            n => format!("{n} carnets attribués au prescripteur (les carnets déjà remis ou perdus ne changent pas)."),
        }),
        _ => None,
    };
    view(&state, &u, id, message, None).await
}

/// The order's page, with a message after an action or the reason of a refusal.
pub(crate) async fn view(
    state: &AppState,
    u: &CurrentUser,
    id: i64,
    message: Option<String>,
    error: Option<String>,
) -> Result<Response, WebError> {
    let reports::OrderFile {
        order,
        funder,
        documents,
        progress: p,
        end_alert,
        rights,
        prescribers,
    } = reports::order_file(&state.core, &u.principal, id).await?;
    let documents = documents
        .into_iter()
        .map(|d| {
            (
                d.numero,
                d.valeur_centimes.euros(),
                d.frais_centimes.euros(),
                d.total_centimes.euros(),
                d.kind == DocumentKind::Avoir,
            )
        })
        .collect();
    let publics = order
        .publics
        .iter()
        .filter_map(|k| Public::parse(k).ok())
        .map(|p| p.label())
        .collect::<Vec<_>>()
        .join(", ");
    let status = if error.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    render(
        status,
        OrderPage {
            alerte: end_alert.map(|mut a| {
                a.fin = jour_fr(&a.fin);
                a
            }),
            remises_arretees: order.remises_arretees_at.is_some(),
            may_stop: rights.stop_hand_outs,
            l: u.layout(&format!("Commande n° {id}"), "/commandes"),
            may_accept: rights.accept_quote,
            may_pay: rights.record_payment,
            operator: rights.operator,
            may_issue: rights.issue,
            pdf_to: p.plage.map_or(0, |(a, b)| b.min(a + 9)),
            pdf_max: crate::pass_numerique::commandes_admin::PDF_MAX_BOOKLETS,
            plage: p.plage,
            prescribers,
            message,
            error,
            id,
            etat: order.etat.label(),
            commanditaire: funder,
            carnets: order.carnets,
            carnets_texte: passerelle_core::format_fr::nombre(order.carnets, "carnet", "carnets"),
            cheques_par_carnet: order.cheques_par_carnet,
            valeur: order.valeur_centimes.euros(),
            debut: jour_fr(&order.debut),
            fin: jour_fr(&order.fin),
            tolerance: order.tolerance_jours,
            dernier_jour: passerelle_core::dates_fr::jour_iso(&order.fin)
                .and_then(|d| passerelle_core::dates_fr::plus_jours(d, order.tolerance_jours))
                .map(passerelle_core::dates_fr::jj_mm_aaaa)
                .unwrap_or_default(),
            perimetre: order.perimetre.codes().join(", "),
            publics,
            services: if order.services.is_empty() {
                "tous".into()
            } else {
                order.services.labels().join(", ")
            },
            plafond: order.plafond_jour,
            documents,
            carnets_emis: p.carnets_emis,
            carnets_attribues: p.carnets_attribues,
            carnets_remis: p.carnets_remis,
            carnets_perdus: p.carnets_perdus,
            cheques: p.cheques.iter().map(|(k, n)| (cheque_label(k), *n)).collect(),
        },
    )
}

async fn hand_out_page(
    state: &AppState,
    u: &CurrentUser,
    result: Option<CounterResult>,
    saisie: HandOutTyped,
) -> Result<HandOutPage, WebError> {
    let desk = booklets::desk(&state.core, &u.principal).await?;
    Ok(HandOutPage {
        l: u.layout("Remettre un carnet", "/remettre"),
        saisie,
        a_remettre: desk
            .a_remettre
            .iter()
            .map(|s| match s.dernier - s.premier {
                0 => format!("n° {} (commande n° {})", s.premier, s.commande),
                _ => format!("n° {} à {} (commande n° {})", s.premier, s.dernier, s.commande),
            })
            .collect(),
        prochain: desk.a_remettre.first().map(|s| s.premier),
        publics: desk.publics,
        bands: desk.bands,
        result,
    })
}

pub async fn hand_out_form(State(state): State<AppState>, u: CurrentUser) -> Result<Response, WebError> {
    render(
        StatusCode::OK,
        hand_out_page(&state, &u, None, HandOutTyped::default()).await?,
    )
}

#[derive(Debug, Deserialize)]
pub struct HandOutForm {
    carnet: String,
    public: String,
    commune: String,
    tranche_age: Option<String>,
    contact: Option<String>,
    consentement: Option<String>,
}

impl HandOutForm {
    fn typed(&self) -> HandOutTyped {
        HandOutTyped {
            carnet: self.carnet.chars().take(12).collect(),
            public: self.public.clone(),
            commune: self.commune.chars().take(100).collect(),
            tranche_age: self.tranche_age.clone().unwrap_or_default(),
            contact: self.contact.as_deref().unwrap_or_default().chars().take(200).collect(),
            consentement: self.consentement.as_deref() == Some("oui"),
        }
    }
}

fn refused(title: &str, message: String) -> CounterResult {
    CounterResult {
        ok: false,
        title: title.into(),
        message,
        cancellable: None,
    }
}

fn booklet_number(text: &str) -> Result<i64, CounterResult> {
    text.trim().parse::<i64>().map_err(|_| {
        refused(
            "Numéro de carnet illisible",
            format!(
                "« {} » n'est pas un numéro de carnet (des chiffres seulement).",
                text.trim()
            ),
        )
    })
}

/// The hand-out page after an action: a success in `title` / `message` (the form empty again,
/// for the next person), or a refusal of the domain as a message with what was typed kept (a
/// denial stays a 403, other errors stay errors).
async fn after(
    state: &AppState,
    u: &CurrentUser,
    outcome: Result<String, passerelle_core::CoreError>,
    title: &str,
    typed: HandOutTyped,
) -> Result<Response, WebError> {
    let (status, result, saisie) = match outcome {
        Ok(message) => (
            StatusCode::OK,
            CounterResult {
                ok: true,
                title: title.into(),
                message,
                cancellable: None,
            },
            HandOutTyped::default(),
        ),
        Err(e) => (
            StatusCode::BAD_REQUEST,
            refused(
                if title == "Carnet remis" {
                    "Remise refusée"
                } else {
                    "Déclaration refusée"
                },
                crate::error::refusal_message(e)?,
            ),
            typed,
        ),
    };
    render(status, hand_out_page(state, u, Some(result), saisie).await?)
}

/// The INSEE code of the commune the prescriber typed: its name as the person says it, its
/// postcode or its code. A name or a postcode of several communes asks which one; without the
/// official communes loaded, the text goes as it is (an INSEE code is then expected).
async fn commune_code(state: &AppState, typed: &str) -> Result<Result<(String, String), CounterResult>, WebError> {
    let index = state.lieux.get(&state.core.db).await?;
    let Some(c) = index.comprendre(typed, None) else {
        return Ok(Ok((typed.trim().to_string(), typed.trim().to_string())));
    };
    if c.autres.is_empty() || c.lecture == passerelle_core::lieux::search::communes::Lecture::CodeInsee {
        return Ok(Ok((c.commune.code.clone(), c.commune.nom.clone())));
    }
    let choices: Vec<String> = std::iter::once(c.commune)
        .chain(c.autres.iter().copied())
        .take(6)
        .map(|k| format!("{} ({}, code {})", k.nom, k.codes_postaux.join(", "), k.code))
        .collect();
    Ok(Err(refused(
        "Quelle commune ?",
        format!(
            "« {} » désigne plusieurs communes : saisissez le code INSEE de la bonne, parmi {}.",
            typed.trim(),
            choices.join(" ; ")
        ),
    )))
}

pub async fn hand_out_submit(
    State(state): State<AppState>,
    u: CurrentUser,
    Form(f): Form<HandOutForm>,
) -> Result<Response, WebError> {
    let typed = f.typed();
    let numero = match booklet_number(&f.carnet) {
        Ok(n) => n,
        Err(r) => {
            return render(
                StatusCode::BAD_REQUEST,
                hand_out_page(&state, &u, Some(r), typed).await?,
            )
        }
    };
    let (commune, commune_nom) = match commune_code(&state, &f.commune).await? {
        Ok(c) => c,
        Err(r) => {
            return render(
                StatusCode::BAD_REQUEST,
                hand_out_page(&state, &u, Some(r), typed).await?,
            )
        }
    };
    let public = Public::parse(&f.public).map(|p| p.label()).unwrap_or_default();
    let h = HandOut {
        public: f.public,
        commune,
        tranche_age: f.tranche_age,
        contact: f.contact,
        consentement: f.consentement.as_deref() == Some("oui"),
    };
    let outcome = match booklets::hand_out(&state.core, &u.principal, numero, &h).await {
        // What was recorded, and until when the person may use the cheques.
        Ok(_) => {
            let until = booklets::last_day(&state.core, numero)
                .await?
                .map(|d| {
                    format!(
                        " Ses chèques sont valables jusqu'au {}.",
                        passerelle_core::dates_fr::jj_mm_aaaa(d)
                    )
                })
                .unwrap_or_default();
            Ok(format!(
                "La remise du carnet n° {numero} est enregistrée ({public}, {commune_nom}).{until}"
            ))
        }
        Err(e) => Err(e),
    };
    after(&state, &u, outcome, "Carnet remis", typed).await
}

#[derive(Debug, Deserialize)]
pub struct LostForm {
    carnet: String,
}

pub async fn lost_submit(
    State(state): State<AppState>,
    u: CurrentUser,
    Form(f): Form<LostForm>,
) -> Result<Response, WebError> {
    let numero = match booklet_number(&f.carnet) {
        Ok(n) => n,
        Err(r) => {
            return render(
                StatusCode::BAD_REQUEST,
                hand_out_page(&state, &u, Some(r), HandOutTyped::default()).await?,
            )
        }
    };
    let outcome = booklets::declare_lost(&state.core, &u.principal, numero)
        .await
        .map(|n| {
            let n = i64::try_from(n).unwrap_or(i64::MAX);
            format!(
                "Carnet n° {numero} : {}.",
                passerelle_core::format_fr::nombre(n, "chèque non utilisé annulé", "chèques non utilisés annulés")
            )
        });
    after(&state, &u, outcome, "Carnet déclaré perdu", HandOutTyped::default()).await
}

/// `/commandes/{id}/documents/{numero}`: a quote or an invoice of the order, in PDF.
pub async fn document_pdf(
    State(state): State<AppState>,
    u: CurrentUser,
    Path((id, numero)): Path<(i64, String)>,
) -> Result<Response, WebError> {
    let (doc, order, parties) = reports::document(&state.core, &u.principal, id, &numero).await?;
    let fonts = passerelle_core::pdf::Fonts::of(state.config.fonts_dir.as_deref())?;
    let bytes = passerelle_core::pass_numerique::documents_pdf::render(&fonts, &doc, &order, &parties)?;
    Ok((
        [
            (axum::http::header::CONTENT_TYPE, "application/pdf".to_string()),
            (
                axum::http::header::CONTENT_DISPOSITION,
                format!("inline; filename=\"{}.pdf\"", doc.numero),
            ),
        ],
        bytes,
    )
        .into_response())
}

#[derive(Debug, Deserialize)]
pub struct PayForm {
    reference: String,
}

/// The funder (or the opérateur) accepts the quote.
pub async fn accept(State(state): State<AppState>, u: CurrentUser, Path(id): Path<i64>) -> Result<Response, WebError> {
    orders::accept(&state.core, &u.principal, id).await?;
    Ok(axum::response::Redirect::to(&format!("/commandes/{id}?ok=acceptee")).into_response())
}

/// The opérateur records the payment: the invoice is issued if needed and the cheques become active.
pub async fn pay(
    State(state): State<AppState>,
    u: CurrentUser,
    Path(id): Path<i64>,
    Form(f): Form<PayForm>,
) -> Result<Response, WebError> {
    orders::pay(&state.core, &u.principal, id, &f.reference).await?;
    Ok(axum::response::Redirect::to(&format!("/commandes/{id}?ok=payee")).into_response())
}

#[derive(Template)]
#[template(path = "pass_numerique/remises-arreter.html")]
pub struct StopPage {
    pub l: crate::templates::Layout,
    pub id: i64,
}

/// `GET /commandes/{id}/remises`: what stopping the hand-out does, and the button to confirm
/// it (whoever may see the order; the POST checks who may stop).
pub async fn stop_page(
    State(state): State<AppState>,
    u: CurrentUser,
    Path(id): Path<i64>,
) -> Result<Response, WebError> {
    let order = orders::one(&state.core, &u.principal, id).await?;
    render(
        StatusCode::OK,
        StopPage {
            l: u.layout("Arrêter la remise des carnets", "/commandes"),
            id: order.id,
        },
    )
}

#[derive(Debug, Deserialize)]
pub struct StopForm {
    arreter: String,
}

/// `POST /commandes/{id}/remises`: the funder (or the opérateur) stops or resumes the hand-out.
pub async fn stop_hand_outs(
    State(state): State<AppState>,
    u: CurrentUser,
    Path(id): Path<i64>,
    Form(f): Form<StopForm>,
) -> Result<Response, WebError> {
    let stop = f.arreter == "oui";
    passerelle_core::pass_numerique::alerts::set_hand_outs_stopped(&state.core, &u.principal, id, stop).await?;
    let ok = if stop { "remises-arretees" } else { "remises-reprises" };
    Ok(axum::response::Redirect::to(&format!("/commandes/{id}?ok={ok}")).into_response())
}
