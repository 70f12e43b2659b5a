//! Import of a places file by the opérateur (upload), and editing a place.

use std::collections::BTreeMap;

use crate::forms::Path;
use axum::extract::{Multipart, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use passerelle_core::lieux::edit::{self, EditForm, EDITABLE};
use passerelle_core::lieux::import::{self, Options};
use passerelle_core::lieux::model::ListeServices;
use passerelle_core::lieux::read::Format;
use passerelle_core::lieux::vocabulaires::Services;

use crate::auth::{render, CurrentUser};
use crate::error::WebError;
use crate::templates::{Choice, ImportPage, LieuEditPage, OrgChoice};
use crate::AppState;

/// Largest file accepted by the upload (the CLI has no limit).
pub const UPLOAD_LIMIT: usize = 64 * 1024 * 1024;

pub async fn import_page(u: CurrentUser) -> Result<Response, WebError> {
    import::may_import(&u.principal)?;
    render(
        StatusCode::OK,
        ImportPage {
            l: u.layout("Importer des lieux", "/operateur"),
            report: None,
            error: None,
        },
    )
}

/// The fields of the import form: (file, its name, source, ignore invalid rows, dry run).
type ImportForm = (Option<axum::body::Bytes>, String, String, bool, bool);

async fn read_import_form(form: &mut Multipart) -> Result<ImportForm, WebError> {
    let (mut file, mut name, mut source, mut ignore, mut dry) = (None, String::new(), String::new(), false, false);
    loop {
        let field = match form.next_field().await {
            Ok(Some(f)) => f,
            Ok(None) => break,
            Err(e) if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE => {
                return Err(WebError::PayloadTooLarge);
            }
            Err(e) => {
                tracing::info!(raison = %e, "envoi de fichier refusé");
                return Err(WebError::BadRequest(format!(
                    "envoi illisible ou trop volumineux ({} Mo au plus)",
                    UPLOAD_LIMIT >> 20
                )));
            }
        };
        match field.name().unwrap_or_default() {
            "fichier" => {
                name = field.file_name().unwrap_or("fichier").chars().take(200).collect();
                file = Some(field.bytes().await.map_err(|e| {
                    if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                        return WebError::PayloadTooLarge;
                    }
                    WebError::BadRequest(format!(
                        "fichier illisible ou trop volumineux ({} Mo au plus)",
                        UPLOAD_LIMIT >> 20
                    ))
                })?);
            }
            "source" => source = field.text().await.unwrap_or_default().chars().take(200).collect(),
            "ignorer_invalides" => ignore = true,
            "dry_run" => dry = true,
            _ => {}
        }
    }
    Ok((file, name, source, ignore, dry))
}

pub async fn import_submit(
    State(state): State<AppState>,
    u: CurrentUser,
    mut form: Multipart,
) -> Result<Response, WebError> {
    // Refused before the upload is read; `import::import` checks again.
    import::may_import(&u.principal)?;
    let page = |report, error| ImportPage {
        l: u.layout("Importer des lieux", "/operateur"),
        report,
        error,
    };
    let (file, name, source, ignore, dry) = match read_import_form(&mut form).await {
        Ok(fields) => fields,
        // The form again, with the limit and the way round it.
        Err(WebError::PayloadTooLarge) => {
            let message = format!(
                "Fichier trop volumineux : {} Mo au plus par envoi. Découpez-le, ou importez-le avec la commande « passerelle lieux import », qui n'a pas de limite.",
                UPLOAD_LIMIT >> 20
            );
            return render(StatusCode::PAYLOAD_TOO_LARGE, page(None, Some(message)));
        }
        Err(e) => return Err(e),
    };
    let Some(bytes) = file.filter(|b| !b.is_empty()) else {
        return render(
            StatusCode::BAD_REQUEST,
            page(None, Some("Choisissez un fichier CSV ou JSON.".into())),
        );
    };
    let options = Options {
        source: if source.trim().is_empty() {
            name.clone()
        } else {
            source.trim().to_string()
        },
        file_name: name.clone(),
        ignore_invalid: ignore,
        dry_run: dry,
    };
    match import::import(
        &state.core,
        &u.principal,
        &bytes,
        Format::guess(&name),
        &options,
        |_, _| {},
    )
    .await
    {
        Ok(report) => render(StatusCode::OK, page(Some(report), None)),
        Err(passerelle_core::CoreError::Invalid(m)) => render(StatusCode::BAD_REQUEST, page(None, Some(m))),
        Err(e) => Err(e.into()),
    }
}

fn edit_view(
    u: &CurrentUser,
    id: &str,
    form: EditForm,
    errors: Vec<String>,
    status: StatusCode,
) -> Result<Response, WebError> {
    let EditForm { values, owner, owners } = form;
    let operator = owners.is_some();
    // The stored list, as read from the database (nothing checked if unreadable).
    let selected = values
        .get("services")
        .and_then(|s| ListeServices::parse(s).ok())
        .unwrap_or_default();
    let orgs = owners
        .unwrap_or_default()
        .into_iter()
        .map(|(id, name)| OrgChoice {
            id,
            name,
            selected: Some(id) == owner,
        })
        .collect();
    let get = |k: &str| values.get(k).cloned().unwrap_or_default();
    render(
        status,
        LieuEditPage {
            l: u.layout("Modifier un lieu", "/lieux"),
            id: id.to_string(),
            nom: get("nom"),
            horaires: get("horaires"),
            telephone: passerelle_core::format_fr::telephone(&get("telephone")),
            courriels: get("courriels"),
            site_web: get("site_web"),
            presentation_resume: get("presentation_resume"),
            prise_rdv: get("prise_rdv"),
            services: Services::ALL
                .iter()
                .enumerate()
                .map(|(i, s)| Choice {
                    id: format!("service-{i}"),
                    label: s.label(),
                    checked: selected.contains(*s),
                })
                .collect(),
            operator,
            orgs,
            errors,
        },
    )
}

pub async fn edit_page(
    State(state): State<AppState>,
    u: CurrentUser,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    let form = edit::form(&state.core, &u.principal, &id).await?;
    edit_view(&u, &id, form, Vec::new(), StatusCode::OK)
}

pub async fn edit_submit(
    State(state): State<AppState>,
    u: CurrentUser,
    Path(id): Path<String>,
    axum::extract::RawForm(body): axum::extract::RawForm,
) -> Result<Response, WebError> {
    let mut changes: BTreeMap<String, String> = BTreeMap::new();
    let mut services: Vec<String> = Vec::new();
    let mut owner: Option<Option<i64>> = None;
    for (k, v) in url::form_urlencoded::parse(&body) {
        match k.as_ref() {
            "services" => services.push(v.into_owned()),
            "organisation" => owner = Some(v.parse().ok()),
            k if EDITABLE.contains(&k) => {
                changes.insert(k.to_string(), edit::form_value(k, &v));
            }
            _ => {}
        }
    }
    changes.insert("services".into(), services.join("|"));
    match edit::edit(&state.core, &u.principal, &id, &changes, owner).await? {
        Ok(_) => Ok(Redirect::to(&format!(
            "/lieux/{}?ok=modifie",
            url::form_urlencoded::byte_serialize(id.as_bytes()).collect::<String>()
        ))
        .into_response()),
        Err(issues) => {
            let mut form = edit::form(&state.core, &u.principal, &id).await?;
            form.values.extend(changes);
            let errors = issues
                .into_iter()
                .map(|i| format!("{} : {}", i.champ, i.message))
                .collect();
            edit_view(&u, &id, form, errors, StatusCode::BAD_REQUEST)
        }
    }
}
