//! Activity log pages (`/activite…`): record an accompaniment from a phone,
//! one's own list and statistics, edit within 7 days, CSV export, the
//! structure's statistics. Every decision is `activite::authz`'s.

use crate::forms::Path;
use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use passerelle_core::accounts::Role;
use passerelle_core::activite::{self, model, stats::Stats, Entry, FieldError, FormChoices, Input};
use serde::Deserialize;

use crate::auth::{render, CurrentUser};
use crate::error::WebError;
use crate::forms::{Form, Query};
use crate::templates::Layout;
use crate::AppState;

/// A statistics table row: (label, value).
pub struct StatRow {
    pub label: String,
    pub value: i64,
}

pub struct StatsView {
    pub accompagnements: i64,
    pub heures: String,
    pub personnes: i64,
    pub par_mois: Vec<StatRow>,
    pub par_nature: Vec<StatRow>,
    pub par_thematique: Vec<StatRow>,
}

fn month_label(ym: &str) -> String {
    passerelle_core::dates_fr::mois_annee(ym)
}

fn view(s: &Stats) -> StatsView {
    StatsView {
        accompagnements: s.accompagnements,
        heures: s.heures(),
        personnes: s.personnes,
        par_mois: s
            .par_mois
            .iter()
            .map(|(m, n)| StatRow {
                label: month_label(m),
                value: *n,
            })
            .collect(),
        par_nature: s
            .par_nature
            .iter()
            .map(|(k, n)| StatRow {
                label: model::label_of(model::NATURES, k).to_string(),
                value: *n,
            })
            .collect(),
        par_thematique: s
            .par_thematique
            .iter()
            .map(|(k, n)| StatRow {
                label: model::theme_label(k),
                value: *n,
            })
            .collect(),
    }
}

pub struct EntryRow {
    pub id: i64,
    pub jour: String,
    pub lieu: String,
    pub nature: &'static str,
    pub participants: i64,
    pub duree: i64,
    pub thematiques: String,
    pub suivi: String,
    pub modifiable: bool,
}

fn row(e: &Entry, now: i64) -> EntryRow {
    EntryRow {
        id: e.id,
        jour: passerelle_core::dates_fr::jour_fr(&e.jour),
        lieu: e.lieu_nom.clone().unwrap_or_default(),
        nature: model::label_of(model::NATURES, &e.nature),
        participants: e.participants,
        duree: e.duree_minutes,
        thematiques: e
            .themes()
            .into_iter()
            .map(model::theme_label)
            .collect::<Vec<_>>()
            .join(", "),
        suivi: e.suivi.clone().unwrap_or_default(),
        modifiable: e.editable_at(now),
    }
}

#[derive(Template)]
#[template(path = "activite/activite.html")]
pub struct ListPage {
    pub l: Layout,
    pub message: Option<String>,
    pub entries: Vec<EntryRow>,
    pub page: i64,
    pub more: bool,
    /// The follow-up code whose sessions are listed ("" for all).
    pub suivi: String,
    pub stats: StatsView,
}

#[derive(Template)]
#[template(path = "activite/activite-structure.html")]
pub struct StructurePage {
    pub l: Layout,
    pub organisation: i64,
    pub is_operator: bool,
    pub stats: StatsView,
}

/// The form's values as strings, to show them back.
pub struct Values {
    pub jour: String,
    pub lieu_id: Option<i64>,
    pub duree_minutes: String,
    pub nature: String,
    pub participants: String,
    pub thematiques: Vec<String>,
    pub tranche_age: String,
    pub commune_insee: String,
    pub statut: String,
    pub suivi: String,
    pub cheque_id: Option<i64>,
    pub mandat_utilisation_id: Option<i64>,
}

impl From<&Input> for Values {
    fn from(i: &Input) -> Self {
        Values {
            jour: i.jour.clone(),
            lieu_id: i.lieu_id,
            duree_minutes: i.duree_minutes.clone(),
            nature: i.nature.clone(),
            participants: i.participants.clone(),
            thematiques: i.thematiques.clone(),
            tranche_age: i.tranche_age.clone(),
            commune_insee: i.commune_insee.clone(),
            statut: i.statut.clone(),
            suivi: i.suivi.clone(),
            cheque_id: i.cheque_id,
            mandat_utilisation_id: i.mandat_utilisation_id,
        }
    }
}

#[derive(Template)]
#[template(path = "activite/activite-formulaire.html")]
pub struct FormPage {
    pub l: Layout,
    pub action: String,
    pub editing: Option<i64>,
    pub values: Values,
    pub errors: Vec<FieldError>,
    pub choices: FormChoices,
    pub natures: &'static [(&'static str, &'static str)],
    pub tranches: &'static [(&'static str, &'static str)],
    pub statuts: &'static [(&'static str, &'static str)],
    pub themes: Vec<(String, &'static str)>,
    pub code_suggere: String,
}

impl FormPage {
    pub fn err(&self, field: &str) -> Option<&str> {
        crate::templates::field_error(&self.errors, field)
    }
}

/// A random follow-up code suggestion: 6 characters, letters and digits, at least one digit.
fn suggested_code() -> String {
    use rand::RngCore;
    const ALPHABET: &[u8] = b"ABCDEFGHJKMNPQRSTUVWXYZ23456789";
    let mut b = [0u8; 6];
    rand::rngs::OsRng.fill_bytes(&mut b);
    let mut s: String = b[..5]
        .iter()
        .map(|x| ALPHABET[*x as usize % ALPHABET.len()] as char)
        .collect();
    s.push((b'2' + b[5] % 8) as char);
    s
}

fn parse_id(v: &str) -> Option<i64> {
    let v = v.trim();
    if v.is_empty() {
        None
    } else {
        // A tampered value becomes an id that no link check accepts.
        Some(v.parse().unwrap_or(-1))
    }
}

fn input_of(fields: &[(String, String)]) -> Input {
    let mut i = Input::default();
    for (k, v) in fields {
        match k.as_str() {
            "jour" => i.jour = v.clone(),
            "lieu_id" => i.lieu_id = parse_id(v),
            "duree_minutes" => i.duree_minutes = v.clone(),
            "nature" => i.nature = v.clone(),
            "participants" => i.participants = v.clone(),
            "thematiques" => i.thematiques.push(v.clone()),
            "tranche_age" => i.tranche_age = v.clone(),
            "commune_insee" => i.commune_insee = v.clone(),
            "statut" => i.statut = v.clone(),
            "suivi" => i.suivi = v.clone(),
            "cheque_id" => i.cheque_id = parse_id(v),
            "mandat_utilisation_id" => i.mandat_utilisation_id = parse_id(v),
            _ => {}
        }
    }
    i
}

async fn form_page(
    state: &AppState,
    u: &CurrentUser,
    editing: Option<i64>,
    input: &Input,
    errors: Vec<FieldError>,
) -> Result<Response, WebError> {
    let mut choices = activite::form_choices(&state.core, &u.principal).await?;
    // A value sent back (e.g. a refused one) stays selectable, to be seen and changed.
    if let Some(c) = input.cheque_id.filter(|c| !choices.cheques.iter().any(|x| x.0 == *c)) {
        choices.cheques.push((c, format!("Chèque n° {c}")));
    }
    if let Some(c) = input
        .mandat_utilisation_id
        .filter(|c| !choices.utilisations.iter().any(|x| x.0 == *c))
    {
        choices.utilisations.push((c, format!("Utilisation n° {c}")));
    }
    let (title, action) = match editing {
        Some(id) => ("Modifier un accompagnement".to_string(), format!("/activite/{id}")),
        None => ("Nouvel accompagnement".to_string(), "/activite/nouvelle".to_string()),
    };
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    render(
        status,
        FormPage {
            l: u.layout(&title, "/activite"),
            action,
            editing,
            values: Values::from(input),
            errors,
            choices,
            natures: model::NATURES,
            tranches: model::TRANCHES_AGE,
            statuts: model::STATUTS,
            themes: model::themes(),
            code_suggere: suggested_code(),
        },
    )
}

#[derive(Debug, Deserialize)]
pub struct ListQuery {
    page: Option<i64>,
    suivi: Option<String>,
    ok: Option<String>,
}

/// `GET /activite`: one's own entries and statistics.
pub async fn list(
    State(state): State<AppState>,
    u: CurrentUser,
    Query(q): Query<ListQuery>,
) -> Result<Response, WebError> {
    let page = q.page.unwrap_or(1).max(1);
    let suivi = q.suivi.clone().unwrap_or_default().trim().to_ascii_uppercase();
    let (entries, more) = activite::list_own(&state.core, &u.principal, Some(suivi.as_str()), page).await?;
    let stats = activite::own_stats(&state.core, &u.principal).await?;
    let now = state.core.db.now_micros();
    let message = match q.ok.as_deref() {
        Some("enregistre") => Some("L’accompagnement est enregistré.".to_string()),
        Some("modifie") => Some("L’accompagnement est modifié.".to_string()),
        Some("supprime") => Some("L’accompagnement est supprimé.".to_string()),
        _ => None,
    };
    render(
        StatusCode::OK,
        ListPage {
            l: u.layout("Mon activité", "/activite"),
            message,
            entries: entries.iter().map(|e| row(e, now)).collect(),
            page,
            more,
            suivi,
            stats: view(&stats),
        },
    )
}

/// `GET /activite/nouvelle`: the form with sensible defaults (today, last place, 30 min, individual).
pub async fn new_form(State(state): State<AppState>, u: CurrentUser) -> Result<Response, WebError> {
    let choices = activite::form_choices(&state.core, &u.principal).await?;
    let input = Input {
        jour: state.core.db.horloge().today_paris().to_string(),
        lieu_id: choices
            .dernier_lieu
            .or_else(|| (choices.lieux.len() == 1).then(|| choices.lieux[0].0)),
        duree_minutes: "30".into(),
        nature: "individuel".into(),
        participants: String::new(),
        tranche_age: "non_renseigne".into(),
        statut: "non_renseigne".into(),
        ..Input::default()
    };
    form_page(&state, &u, None, &input, Vec::new()).await
}

/// `POST /activite/nouvelle`
pub async fn create(
    State(state): State<AppState>,
    u: CurrentUser,
    Form(fields): Form<Vec<(String, String)>>,
) -> Result<Response, WebError> {
    let input = input_of(&fields);
    match activite::record(&state.core, &u.principal, &input).await? {
        Ok(_) => Ok(Redirect::to("/activite?ok=enregistre").into_response()),
        Err(errors) => form_page(&state, &u, None, &input, errors).await,
    }
}

/// `GET /activite/{id}`: the edit form of one's own entry, within 7 days.
pub async fn edit_form(
    State(state): State<AppState>,
    u: CurrentUser,
    Path(id): Path<i64>,
) -> Result<Response, WebError> {
    let e = activite::own(&state.core, &u.principal, id).await?;
    if !e.editable_at(state.core.db.now_micros()) {
        return Err(WebError::BadRequest(
            "cet accompagnement a été saisi il y a plus de 7 jours : il ne peut plus être modifié".into(),
        ));
    }
    form_page(&state, &u, Some(id), &e.input(), Vec::new()).await
}

/// `POST /activite/{id}`
pub async fn edit(
    State(state): State<AppState>,
    u: CurrentUser,
    Path(id): Path<i64>,
    Form(fields): Form<Vec<(String, String)>>,
) -> Result<Response, WebError> {
    let input = input_of(&fields);
    match activite::edit(&state.core, &u.principal, id, &input).await? {
        Ok(_) => Ok(Redirect::to("/activite?ok=modifie").into_response()),
        Err(errors) => form_page(&state, &u, Some(id), &input, errors).await,
    }
}

#[derive(Debug, Deserialize)]
pub struct CsrfOnly {
    #[allow(dead_code)]
    csrf_token: Option<String>,
}

/// `POST /activite/{id}/supprimer`
pub async fn delete(
    State(state): State<AppState>,
    u: CurrentUser,
    Path(id): Path<i64>,
    Form(_): Form<CsrfOnly>,
) -> Result<Response, WebError> {
    activite::delete(&state.core, &u.principal, id).await?;
    Ok(Redirect::to("/activite?ok=supprime").into_response())
}

/// `GET /activite.csv`: one's own activity.
pub async fn csv(State(state): State<AppState>, u: CurrentUser) -> Result<Response, WebError> {
    let bytes = activite::export_csv(&state.core, &u.principal).await?;
    Ok(crate::pages::download(
        "text/csv; charset=utf-8",
        &format!("activite-{}.csv", state.core.db.horloge().today_paris()),
        bytes,
    ))
}

#[derive(Debug, Deserialize)]
pub struct StructureQuery {
    organisation: Option<i64>,
}

/// `GET /activite/structure`: the statistics of one's organisation (the
/// opérateur may name any organisation).
pub async fn structure(
    State(state): State<AppState>,
    u: CurrentUser,
    Query(q): Query<StructureQuery>,
) -> Result<Response, WebError> {
    let organisation = q.organisation.unwrap_or(u.principal.organisation_id);
    let stats = activite::structure_stats(&state.core, &u.principal, organisation).await?;
    render(
        StatusCode::OK,
        StructurePage {
            l: u.layout("Activité de la structure", "/activite/structure"),
            organisation,
            is_operator: u.principal.role == Role::Operateur,
            stats: view(&stats),
        },
    )
}
