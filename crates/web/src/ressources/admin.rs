//! The opérateur's side of the resource centre (`/operateur/ressources…`):
//! list with drafts, write and edit in Markdown with a preview, publish or
//! unpublish, delete, attach and remove files. Every rule is
//! `passerelle_core::ressources`'s (authz inside).

use crate::forms::Path;
use askama::Template;
use axum::extract::{Multipart, State};
use axum::http::StatusCode;
use axum::response::{Redirect, Response};
use passerelle_core::ressources::edit::{self, FieldError};
use passerelle_core::ressources::model::{self, Input};
use passerelle_core::ressources::{self, Search};
use serde::Deserialize;

use crate::auth::{render, CurrentUser};
use crate::error::{refusal_message, WebError};
use crate::forms::{Form, Query};
use crate::ressources::pages::{card, file_rows, query_string, Card, FileRow};
use crate::templates::Layout;
use crate::AppState;

/// Largest upload body: one file and the form around it.
pub const UPLOAD_LIMIT: usize = model::MAX_FILE_BYTES + 64 * 1024;

fn see_other(path: &str) -> Response {
    axum::response::IntoResponse::into_response(Redirect::to(path))
}

#[derive(Template)]
#[template(path = "ressources/operateur-ressources.html")]
pub struct AdminListPage {
    pub l: Layout,
    pub message: Option<String>,
    pub q: String,
    pub cards: Vec<Card>,
    pub total: i64,
    pub prev: Option<String>,
    pub next: Option<String>,
}

#[derive(Debug, Deserialize, Default)]
pub struct AdminListQuery {
    #[serde(default)]
    pub q: String,
    pub page: Option<i64>,
    pub ok: Option<String>,
}

/// GET `/operateur/ressources`: every article, drafts included.
pub async fn list(
    State(state): State<AppState>,
    u: CurrentUser,
    Query(f): Query<AdminListQuery>,
) -> Result<Response, WebError> {
    let q: String = f.q.trim().chars().take(200).collect();
    let found = ressources::search_all(
        &state.core,
        &u.principal,
        &Search {
            q: q.clone(),
            tag: None,
            page: f.page.unwrap_or(1).clamp(1, 10_000),
        },
    )
    .await?;
    let page_href = |p: i64| {
        let p = p.to_string();
        query_string("/operateur/ressources", &[("q", &q), ("page", &p)])
    };
    render(
        StatusCode::OK,
        AdminListPage {
            l: u.layout("Centre de ressources : gestion", "/ressources"),
            message: f
                .ok
                .filter(|k| k == "suppression")
                .map(|_| "La ressource a été supprimée.".to_string()),
            cards: found.items.iter().map(|s| card(s, "")).collect(),
            total: found.total,
            prev: (found.page > 1).then(|| page_href(found.page - 1)),
            next: found.more.then(|| page_href(found.page + 1)),
            q,
        },
    )
}

/// The article being written, as the form shows it.
pub struct Editing {
    pub id: i64,
    pub slug: String,
    pub publie: bool,
    pub fichiers: Vec<(i64, FileRow)>,
}

#[derive(Template)]
#[template(path = "ressources/operateur-ressource.html")]
pub struct FormPage {
    pub l: Layout,
    pub action: String,
    pub editing: Option<Editing>,
    pub values: Input,
    pub errors: Vec<FieldError>,
    pub message: Option<String>,
    /// Sanitised HTML of the body, when the preview was asked.
    pub preview: Option<String>,
    pub max_mo: usize,
    pub types: String,
}

impl FormPage {
    pub fn err(&self, field: &str) -> Option<&str> {
        crate::templates::field_error(&self.errors, field)
    }
}

#[derive(Debug, Deserialize, Default)]
pub struct ArticleForm {
    #[serde(default)]
    pub titre: String,
    #[serde(default)]
    pub slug: String,
    #[serde(default)]
    pub resume: String,
    #[serde(default)]
    pub corps: String,
    #[serde(default)]
    pub tags: String,
    #[serde(default)]
    pub action: String,
}

impl ArticleForm {
    fn input(&self) -> Input {
        Input {
            slug: self.slug.clone(),
            titre: self.titre.clone(),
            resume: self.resume.clone(),
            corps: self.corps.clone(),
            tags: self.tags.clone(),
        }
    }
}

struct Shown {
    values: Input,
    errors: Vec<FieldError>,
    message: Option<String>,
    preview: Option<String>,
}

async fn form_page(
    state: &AppState,
    u: &CurrentUser,
    id: Option<i64>,
    shown: Shown,
    status: StatusCode,
) -> Result<Response, WebError> {
    let (editing, values) = match id {
        None => (None, shown.values),
        Some(id) => {
            let full = ressources::by_id(&state.core, &u.principal, id).await?;
            let a = &full.article;
            let rows = file_rows(&full);
            let stored = Input {
                slug: a.slug.clone(),
                titre: a.titre.clone(),
                resume: a.resume.clone(),
                corps: a.corps.clone(),
                tags: full.tags.join(", "),
            };
            let editing = Editing {
                id,
                slug: a.slug.clone(),
                publie: a.is_published(),
                fichiers: full.fichiers.iter().map(|f| f.id).zip(rows).collect(),
            };
            let values = if shown.values == Input::default() {
                stored
            } else {
                shown.values
            };
            (Some(editing), values)
        }
    };
    let title = if editing.is_some() {
        "Modifier une ressource"
    } else {
        "Nouvelle ressource"
    };
    render(
        status,
        FormPage {
            l: u.layout(title, "/ressources"),
            action: match id {
                Some(id) => format!("/operateur/ressources/{id}"),
                None => "/operateur/ressources/nouvelle".into(),
            },
            editing,
            values,
            errors: shown.errors,
            message: shown.message,
            preview: shown.preview,
            max_mo: model::MAX_FILE_BYTES >> 20,
            types: model::KINDS.iter().map(|k| k.2).collect::<Vec<_>>().join(", "),
        },
    )
}

fn plain(message: Option<String>) -> Shown {
    Shown {
        values: Input::default(),
        errors: Vec::new(),
        message,
        preview: None,
    }
}

/// GET `/operateur/ressources/nouvelle`.
pub async fn new_form(State(state): State<AppState>, u: CurrentUser) -> Result<Response, WebError> {
    let blank = Shown {
        values: edit::blank(&u.principal)?,
        ..plain(None)
    };
    form_page(&state, &u, None, blank, StatusCode::OK).await
}

/// POST `/operateur/ressources/nouvelle` (or preview).
pub async fn create(
    State(state): State<AppState>,
    u: CurrentUser,
    Form(f): Form<ArticleForm>,
) -> Result<Response, WebError> {
    if f.action == "apercu" {
        return preview(&state, &u, None, &f).await;
    }
    match edit::create(&state.core, &u.principal, &f.input()).await? {
        Ok(id) => Ok(see_other(&format!("/operateur/ressources/{id}?ok=creation"))),
        Err(errors) => {
            let shown = Shown {
                values: f.input(),
                errors,
                message: None,
                preview: None,
            };
            form_page(&state, &u, None, shown, StatusCode::BAD_REQUEST).await
        }
    }
}

async fn preview(state: &AppState, u: &CurrentUser, id: Option<i64>, f: &ArticleForm) -> Result<Response, WebError> {
    let shown = Shown {
        values: f.input(),
        errors: Vec::new(),
        message: None,
        preview: Some(edit::preview(&u.principal, &f.corps)?),
    };
    form_page(state, u, id, shown, StatusCode::OK).await
}

#[derive(Debug, Deserialize, Default)]
pub struct EditQuery {
    pub ok: Option<String>,
}

fn done_message(key: &str) -> Option<String> {
    Some(
        match key {
            "creation" => "La ressource a été créée comme brouillon : publiez-la quand elle est prête.",
            "enregistree" => "Les modifications ont été enregistrées.",
            "publiee" => "La ressource est publiée : tout le monde peut la lire.",
            "depubliee" => "La ressource est redevenue un brouillon : elle n’est plus visible du public.",
            "fichier" => "Le fichier a été joint.",
            "retrait" => "Le fichier a été retiré.",
            _ => return None,
        }
        .to_string(),
    )
}

/// GET `/operateur/ressources/{id}`.
pub async fn edit_form(
    State(state): State<AppState>,
    u: CurrentUser,
    Path(id): Path<i64>,
    Query(q): Query<EditQuery>,
) -> Result<Response, WebError> {
    let message = q.ok.as_deref().and_then(done_message);
    form_page(&state, &u, Some(id), plain(message), StatusCode::OK).await
}

/// POST `/operateur/ressources/{id}` (or preview).
pub async fn update(
    State(state): State<AppState>,
    u: CurrentUser,
    Path(id): Path<i64>,
    Form(f): Form<ArticleForm>,
) -> Result<Response, WebError> {
    if f.action == "apercu" {
        return preview(&state, &u, Some(id), &f).await;
    }
    match edit::update(&state.core, &u.principal, id, &f.input()).await? {
        Ok(_) => Ok(see_other(&format!("/operateur/ressources/{id}?ok=enregistree"))),
        Err(errors) => {
            let shown = Shown {
                values: f.input(),
                errors,
                message: None,
                preview: None,
            };
            form_page(&state, &u, Some(id), shown, StatusCode::BAD_REQUEST).await
        }
    }
}

#[derive(Debug, Deserialize)]
pub struct PublishForm {
    pub publier: String,
}

/// POST `/operateur/ressources/{id}/publication` (`publier` = `oui` or `non`).
pub async fn publish(
    State(state): State<AppState>,
    u: CurrentUser,
    Path(id): Path<i64>,
    Form(f): Form<PublishForm>,
) -> Result<Response, WebError> {
    let on = match f.publier.as_str() {
        "oui" => true,
        "non" => false,
        _ => return Err(WebError::BadRequest("choix de publication inconnu".into())),
    };
    edit::set_published(&state.core, &u.principal, id, on).await?;
    let key = if on { "publiee" } else { "depubliee" };
    Ok(see_other(&format!("/operateur/ressources/{id}?ok={key}")))
}

/// POST `/operateur/ressources/{id}/suppression`.
pub async fn delete(State(state): State<AppState>, u: CurrentUser, Path(id): Path<i64>) -> Result<Response, WebError> {
    edit::delete(&state.core, &u.principal, id).await?;
    Ok(see_other("/operateur/ressources?ok=suppression"))
}

fn file_error(message: String) -> Shown {
    Shown {
        values: Input::default(),
        errors: vec![("fichier", message)],
        message: None,
        preview: None,
    }
}

/// POST `/operateur/ressources/{id}/fichiers` (multipart; the CSRF token is in the URL).
pub async fn attach(
    State(state): State<AppState>,
    u: CurrentUser,
    Path(id): Path<i64>,
    mut form: Multipart,
) -> Result<Response, WebError> {
    // A broken or too large upload: the form again, with the reason.
    let unreadable = |status: StatusCode| {
        let m = if status == StatusCode::PAYLOAD_TOO_LARGE {
            format!("Fichier trop volumineux : {} Mo au plus.", model::MAX_FILE_BYTES >> 20)
        } else {
            "Envoi illisible : recommencez.".into()
        };
        (file_error(m), status)
    };
    let (mut name, mut bytes) = (String::new(), None);
    loop {
        let field = match form.next_field().await {
            Ok(Some(f)) => f,
            Ok(None) => break,
            Err(e) => {
                let (shown, status) = unreadable(e.status());
                return form_page(&state, &u, Some(id), shown, status).await;
            }
        };
        if field.name() == Some("fichier") {
            name = field.file_name().unwrap_or("document").chars().take(300).collect();
            match field.bytes().await {
                Ok(b) => bytes = Some(b),
                Err(e) => {
                    let (shown, status) = unreadable(e.status());
                    return form_page(&state, &u, Some(id), shown, status).await;
                }
            }
        }
    }
    let bytes = bytes.unwrap_or_default();
    match edit::attach(&state.core, &u.principal, id, &name, &bytes).await {
        Ok(_) => Ok(see_other(&format!("/operateur/ressources/{id}?ok=fichier"))),
        Err(e) => {
            let m = refusal_message(e)?;
            let status = if bytes.len() > model::MAX_FILE_BYTES {
                StatusCode::PAYLOAD_TOO_LARGE
            } else {
                StatusCode::BAD_REQUEST
            };
            form_page(&state, &u, Some(id), file_error(m), status).await
        }
    }
}

/// POST `/operateur/ressources/{id}/fichiers/{fichier}/suppression`.
pub async fn detach(
    State(state): State<AppState>,
    u: CurrentUser,
    Path((id, file)): Path<(i64, i64)>,
) -> Result<Response, WebError> {
    edit::detach(&state.core, &u.principal, id, file).await?;
    Ok(see_other(&format!("/operateur/ressources/{id}?ok=retrait")))
}
