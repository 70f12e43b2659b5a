//! Qualification pages, the place's side: its places and their qualification,
//! the application form, supporting documents, a change of bank details.
//! Every rule is asked of `passerelle_core::qualification` (authz inside).

use crate::forms::Path;
use askama::Template;
use axum::extract::{Multipart, State};
use axum::http::StatusCode;
use axum::response::{Redirect, Response};
use passerelle_core::accounts::Role;
use passerelle_core::identifiants::Iban;
use passerelle_core::lieux::vocabulaires::{PublicsSpecifiquementAdresses, Services};
use passerelle_core::qualification::bank_details::BankDetailsState;
use passerelle_core::qualification::model::{
    self, ApplicationState, Draft, QualificationState, Questionnaire, ServiceOffer,
};
use passerelle_core::qualification::{applications, authz, bank_details};
use serde::Deserialize;

use crate::auth::{render, CurrentUser};
use crate::error::{refusal_message, WebError};
use crate::forms::{Form, Query};
use crate::templates::{horodatage, Layout};
use crate::AppState;

/// Largest upload body: one document and the form fields around it.
pub const UPLOAD_LIMIT: usize = model::MAX_DOCUMENT_BYTES + 64 * 1024;

pub struct PlaceRow {
    pub ext_id: String,
    pub nom: String,
    pub commune: String,
    pub qualification: &'static str,
    pub motif: String,
    pub demande: Option<(i64, &'static str)>,
    pub demande_en_cours: bool,
    pub can_apply: bool,
}

pub struct BankBlock {
    pub ext_id: String,
    pub nom: String,
    pub details: Vec<String>,
}

#[derive(Template)]
#[template(path = "qualification/qualification-lieu.html")]
pub struct PlaceHome {
    pub l: Layout,
    pub message: Option<String>,
    pub error: Option<String>,
    pub places: Vec<PlaceRow>,
    pub banks: Vec<BankBlock>,
}

#[derive(Debug, Deserialize, Default)]
pub struct HomeQuery {
    pub etat: Option<String>,
    pub ok: Option<String>,
}

/// `/qualification`: a place's staff see their places; reviewers the applications.
pub async fn home(
    State(state): State<AppState>,
    u: CurrentUser,
    Query(q): Query<HomeQuery>,
) -> Result<Response, WebError> {
    if authz::home(&u.principal) == authz::Home::Review {
        return crate::qualification::instruction::page(&state, &u, q, None).await;
    }
    let message = match q.ok.as_deref() {
        Some("coordonnees") => Some(
            "Votre demande de changement de coordonnées bancaires est enregistrée ; l'opérateur va la vérifier."
                .to_string(),
        ),
        _ => None,
    };
    place_home(&state, &u, message, None, StatusCode::OK).await
}

async fn place_home(
    state: &AppState,
    u: &CurrentUser,
    message: Option<String>,
    error: Option<String>,
    status: StatusCode,
) -> Result<Response, WebError> {
    let places = applications::places_of(&state.core, &u.principal).await?;
    let mut banks = Vec::new();
    for p in places.iter().filter(|p| p.qualification.is_some()) {
        let details = bank_details::of_place(&state.core.db, p.id)
            .await?
            .into_iter()
            .map(|d| {
                let state = match d.etat {
                    BankDetailsState::Validees => "compte validé".to_string(),
                    BankDetailsState::AValider => "changement en attente de validation par l'opérateur".to_string(),
                    // `of_place` reads only these three states.
                    BankDetailsState::Refusees | BankDetailsState::Remplacees => {
                        format!("changement refusé : {}", d.motif)
                    }
                };
                format!("{} — {} ({}) : {state}", d.titulaire, d.iban.masked(), d.bic)
            })
            .collect();
        banks.push(BankBlock {
            ext_id: p.ext_id.clone(),
            nom: p.nom.clone(),
            details,
        });
    }
    let places = places
        .into_iter()
        .map(|p| {
            let in_progress = p.demande_etat.is_some_and(ApplicationState::in_progress);
            PlaceRow {
                qualification: p.qualification.map_or("Non qualifié", QualificationState::label),
                motif: if p.qualification == Some(QualificationState::Suspendue) {
                    p.motif.unwrap_or_default()
                } else {
                    String::new()
                },
                demande: p.demande_id.zip(p.demande_etat.map(ApplicationState::label)),
                demande_en_cours: in_progress,
                can_apply: p.qualification.is_none(),
                ext_id: p.ext_id,
                nom: p.nom,
                commune: p.commune,
            }
        })
        .collect();
    render(
        status,
        PlaceHome {
            l: u.layout("Qualification au Pass Numérique", "/qualification"),
            message,
            error,
            places,
            banks,
        },
    )
}

#[derive(Debug, Deserialize)]
pub struct StartForm {
    lieu: String,
}

/// POST `/qualification/demandes`: opens (or resumes) the application of a place.
pub async fn start(
    State(state): State<AppState>,
    u: CurrentUser,
    Form(f): Form<StartForm>,
) -> Result<Response, WebError> {
    match applications::start(&state.core, &u.principal, &f.lieu).await {
        Ok(id) => Ok(see_other(&format!("/qualification/demandes/{id}"))),
        Err(e) => {
            let m = refusal_message(e)?;
            place_home(&state, &u, None, Some(m), StatusCode::CONFLICT).await
        }
    }
}

fn see_other(to: &str) -> Response {
    axum::response::IntoResponse::into_response(Redirect::to(to))
}

pub struct ServiceRow {
    pub n: usize,
    pub options: Vec<(&'static str, bool)>,
    pub publics: String,
    pub duree: String,
    pub cheques: String,
}

pub struct DocumentRow {
    pub id: i64,
    pub nature: &'static str,
    pub nom: String,
    pub taille: String,
}

#[derive(Template)]
#[template(path = "qualification/qualification-demande.html")]
pub struct ApplicationPage {
    pub l: Layout,
    pub message: Option<String>,
    pub error: Option<String>,
    pub id: i64,
    pub lieu_nom: String,
    pub lieu_ext_id: String,
    pub commune: String,
    pub departement: String,
    /// Refused (the instructor's message is the reason of the refusal).
    pub refusee: bool,
    pub etat_label: &'static str,
    pub reviewer_message: String,
    pub missing: Vec<String>,
    pub editable: bool,
    pub can_review: bool,
    pub reviewer_is_operator: bool,
    pub d: Draft,
    pub structure_kinds: Vec<(&'static str, bool)>,
    pub publics: Vec<(usize, &'static str, bool)>,
    pub publics_text: String,
    pub service_rows: Vec<ServiceRow>,
    pub compte: String,
    pub documents: Vec<DocumentRow>,
    pub document_kinds: Vec<(&'static str, &'static str, bool)>,
    pub history: Vec<(String, &'static str, String, String)>,
}

fn size_text(bytes: i64) -> String {
    if bytes >= 1024 * 1024 {
        format!("{:.1} Mo", bytes as f64 / 1_048_576.0).replace('.', ",")
    } else {
        format!("{} ko", (bytes + 1023) / 1024)
    }
}

/// The application page, with `draft` in place of the stored one when a
/// submitted form is shown again with its errors.
pub(crate) async fn application_page(
    state: &AppState,
    u: &CurrentUser,
    id: i64,
    draft: Option<Draft>,
    message: Option<String>,
    error: Option<String>,
    status: StatusCode,
) -> Result<Response, WebError> {
    let (a, rights) = applications::get(&state.core, &u.principal, id).await?;
    let (editable, can_review) = (rights.edit, rights.review);
    let missing = if editable && error.is_none() {
        applications::missing(&state.core, &a).await?
    } else {
        Vec::new()
    };
    let d = draft.unwrap_or_else(|| a.draft());
    let mut rows = d.services.clone();
    rows.extend(std::iter::repeat_n(
        ServiceOffer::default(),
        if editable { 2 } else { 0 },
    ));
    let service_rows = rows
        .into_iter()
        .take(model::MAX_SERVICES)
        .enumerate()
        .map(|(i, s)| ServiceRow {
            n: i + 1,
            options: Services::ALL
                .iter()
                .map(|v| (v.label(), v.label() == s.service))
                .collect(),
            publics: s.publics,
            duree: s.duree_minutes,
            cheques: s.cheques,
        })
        .collect();
    let documents = applications::documents(&state.core.db, id)
        .await?
        .into_iter()
        .map(|p| DocumentRow {
            id: p.id,
            nature: model::document_label(&p.nature),
            nom: p.nom_fichier,
            taille: size_text(p.taille),
        })
        .collect();
    let history = applications::history(&state.core.db, id)
        .await?
        .into_iter()
        .map(|e| {
            (
                horodatage(e.at),
                e.etat.label(),
                e.auteur.unwrap_or_default(),
                e.message,
            )
        })
        .collect();
    let compte = if d.iban.is_empty() {
        String::new()
    } else {
        // A draft holds the IBAN as typed: masked once read, never shown in clear.
        let iban = Iban::parse(&d.iban).map_or_else(|_| "IBAN à corriger".to_string(), |i| i.masked());
        format!("{} — {iban} ({})", d.titulaire, d.bic)
    };
    render(
        status,
        ApplicationPage {
            l: u.layout(&format!("Demande de qualification n° {id}"), "/qualification"),
            message,
            error,
            id,
            lieu_nom: a.lieu_nom.clone(),
            lieu_ext_id: a.lieu_ext_id.clone(),
            commune: a.commune.clone(),
            departement: a.departement.clone(),
            etat_label: a.etat.label(),
            reviewer_message: if matches!(a.etat, ApplicationState::AModifier | ApplicationState::Refusee) {
                a.message.clone()
            } else {
                String::new()
            },
            refusee: a.etat == ApplicationState::Refusee,
            missing,
            editable,
            can_review,
            reviewer_is_operator: u.principal.role == Role::Operateur,
            structure_kinds: model::STRUCTURE_KINDS
                .iter()
                .map(|k| (*k, *k == d.questionnaire.type_structure))
                .collect(),
            publics: PublicsSpecifiquementAdresses::ALL
                .iter()
                .enumerate()
                .map(|(i, p)| (i, p.label(), d.questionnaire.publics.iter().any(|x| x == p.label())))
                .collect(),
            publics_text: d.questionnaire.publics.join(", "),
            service_rows,
            compte,
            documents,
            document_kinds: model::DOCUMENT_KINDS.to_vec(),
            history,
            d,
        },
    )
}

#[derive(Debug, Deserialize, Default)]
pub struct Done {
    ok: Option<String>,
}

/// GET `/qualification/demandes/{id}`.
pub async fn application(
    State(state): State<AppState>,
    u: CurrentUser,
    Path(id): Path<i64>,
    Query(q): Query<Done>,
) -> Result<Response, WebError> {
    let message = match q.ok.as_deref() {
        Some("enregistree") => Some("Le brouillon est enregistré.".to_string()),
        Some("deposee") => Some(
            "La demande est déposée : elle va être instruite, et vous serez prévenu de la décision par courriel."
                .to_string(),
        ),
        Some("piece") => Some("La pièce est jointe à la demande.".to_string()),
        Some("retrait") => Some("La pièce est retirée.".to_string()),
        Some("decision") => Some("La décision est enregistrée et le lieu en est prévenu.".to_string()),
        _ => None,
    };
    application_page(&state, &u, id, None, message, None, StatusCode::OK).await
}

/// The draft in a submitted form. Catalogue lines come as repeated fields,
/// in order; publics as repeated checkboxes.
fn draft_of(pairs: &[(String, String)]) -> (Draft, String) {
    let mut d = Draft::default();
    let mut q = Questionnaire::default();
    let (mut services, mut publics, mut durations, mut cheques) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut action = String::new();
    for (k, v) in pairs {
        let v = v.clone();
        match k.as_str() {
            "siret" => d.siret = v,
            "raison_sociale" => d.raison_sociale = v,
            "forme_juridique" => d.forme_juridique = v,
            "adresse" => d.adresse = v,
            "representant_nom" => d.representant_nom = v,
            "representant_qualite" => d.representant_qualite = v,
            "representant_courriel" => d.representant_courriel = v,
            "charte" => d.charte = v == "oui",
            "type_structure" => q.type_structure = v,
            "activite" => q.activite = v,
            "mediateurs" => q.mediateurs = v,
            "horaires" => q.horaires = v,
            "accessibilite" => q.accessibilite = v,
            "publics" => q.publics.push(v),
            "service" => services.push(v),
            "service_publics" => publics.push(v),
            "service_duree" => durations.push(v),
            "service_cheques" => cheques.push(v),
            "iban" => d.iban = v,
            "bic" => d.bic = v,
            "titulaire" => d.titulaire = v,
            "action" => action = v,
            _ => {}
        }
    }
    let at = |list: &Vec<String>, i: usize| list.get(i).cloned().unwrap_or_default();
    d.services = (0..services.len().min(model::MAX_SERVICES * 2))
        .map(|i| ServiceOffer {
            service: at(&services, i),
            publics: at(&publics, i),
            duree_minutes: at(&durations, i),
            cheques: at(&cheques, i),
        })
        .collect();
    d.questionnaire = q;
    (d.tidy(), action)
}

/// POST `/qualification/demandes/{id}`: saves the draft, and files it when asked.
pub async fn save(
    State(state): State<AppState>,
    u: CurrentUser,
    Path(id): Path<i64>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Result<Response, WebError> {
    let (draft, action) = draft_of(&pairs);
    if let Err(e) = applications::save(&state.core, &u.principal, id, draft.clone()).await {
        let m = refusal_message(e)?;
        return application_page(&state, &u, id, Some(draft), None, Some(m), StatusCode::BAD_REQUEST).await;
    }
    if action != "deposer" {
        return Ok(see_other(&format!("/qualification/demandes/{id}?ok=enregistree")));
    }
    match applications::file(&state.core, &u.principal, id).await {
        Ok(()) => Ok(see_other(&format!("/qualification/demandes/{id}?ok=deposee"))),
        Err(e) => {
            let m = refusal_message(e)?;
            application_page(&state, &u, id, None, None, Some(m), StatusCode::BAD_REQUEST).await
        }
    }
}

/// POST `/qualification/demandes/{id}/pieces` (multipart): attaches a document.
pub async fn attach(
    State(state): State<AppState>,
    u: CurrentUser,
    Path(id): Path<i64>,
    mut form: Multipart,
) -> Result<Response, WebError> {
    let (mut nature, mut name, mut bytes) = (String::new(), String::new(), None);
    let too_big = || {
        WebError::BadRequest(format!(
            "envoi illisible ou trop volumineux ({} Mo au plus)",
            model::MAX_DOCUMENT_BYTES >> 20
        ))
    };
    loop {
        let field = match form.next_field().await {
            Ok(Some(f)) => f,
            Ok(None) => break,
            Err(_) => return Err(too_big()),
        };
        match field.name().unwrap_or_default() {
            "nature" => nature = field.text().await.unwrap_or_default().chars().take(50).collect(),
            "fichier" => {
                name = field.file_name().unwrap_or("piece").chars().take(300).collect();
                bytes = Some(field.bytes().await.map_err(|_| too_big())?);
            }
            _ => {}
        }
    }
    let bytes = bytes.unwrap_or_default();
    match applications::attach(&state.core, &u.principal, id, &nature, &name, &bytes).await {
        Ok(_) => Ok(see_other(&format!("/qualification/demandes/{id}?ok=piece"))),
        Err(e) => {
            let m = refusal_message(e)?;
            application_page(&state, &u, id, None, None, Some(m), StatusCode::BAD_REQUEST).await
        }
    }
}

/// GET `/qualification/demandes/{id}/pieces/{piece}`: the document, as a download.
pub async fn document(
    State(state): State<AppState>,
    u: CurrentUser,
    Path((id, piece)): Path<(i64, i64)>,
) -> Result<Response, WebError> {
    let (meta, bytes) = applications::document(&state.core, &u.principal, id, piece).await?;
    let ext = match meta.type_mime.as_str() {
        "application/pdf" => "pdf",
        "image/png" => "png",
        _ => "jpg",
    };
    Ok(crate::pages::download(
        &meta.type_mime,
        &format!("demande-{id}-piece-{piece}.{ext}"),
        bytes,
    ))
}

/// POST `/qualification/demandes/{id}/pieces/{piece}/retrait`.
pub async fn detach(
    State(state): State<AppState>,
    u: CurrentUser,
    Path((id, piece)): Path<(i64, i64)>,
) -> Result<Response, WebError> {
    match applications::detach(&state.core, &u.principal, id, piece).await {
        Ok(()) => Ok(see_other(&format!("/qualification/demandes/{id}?ok=retrait"))),
        Err(e) => {
            let m = refusal_message(e)?;
            application_page(&state, &u, id, None, None, Some(m), StatusCode::BAD_REQUEST).await
        }
    }
}

#[derive(Debug, Deserialize)]
pub struct BankForm {
    iban: String,
    bic: String,
    titulaire: String,
}

/// POST `/qualification/lieux/{ext_id}/coordonnees`: a qualified place asks to be paid on another account.
pub async fn change_bank(
    State(state): State<AppState>,
    u: CurrentUser,
    Path(ext_id): Path<String>,
    Form(f): Form<BankForm>,
) -> Result<Response, WebError> {
    match bank_details::submit(&state.core, &u.principal, &ext_id, &f.iban, &f.bic, &f.titulaire).await {
        Ok(_) => Ok(see_other("/qualification?ok=coordonnees")),
        Err(e) => {
            let m = refusal_message(e)?;
            place_home(&state, &u, None, Some(m), StatusCode::BAD_REQUEST).await
        }
    }
}
