//! Editing a place from its page: the fields its staff keep up to date. The
//! whole record is checked against the standard again, then written with its
//! journal entry in one transaction.

use std::collections::BTreeMap;

use serde_json::json;

use super::authz::{authorize, Action};
use super::schema::standard;
use super::store::{self, Extra, Value};
use super::validate::{check_map, Issue};
use crate::accounts::Principal;
use crate::error::{CoreError, CoreResult};
use crate::journal::{self, NewEntry};
use crate::Core;

/// Fields editable from the place page.
pub const EDITABLE: &[&str] = &[
    "horaires",
    "telephone",
    "courriels",
    "site_web",
    "presentation_resume",
    "services",
    "prise_rdv",
];

/// The current standard values of a place, by field name, and its responsible organisation.
pub async fn current(core: &Core, ext_id: &str) -> CoreResult<Option<(BTreeMap<String, String>, store::Own)>> {
    let Some((values, own)) = store::by_ext_id(&core.db, ext_id).await? else {
        return Ok(None);
    };
    let map = standard()
        .names()
        .zip(values)
        .map(|(n, v)| {
            let text = match v {
                Value::Text(t) => t,
                Value::Number(n) => n.map(|x| x.to_string()).unwrap_or_default(),
            };
            (n.to_string(), text)
        })
        .collect();
    Ok(Some((map, own)))
}

/// Applies `changes` (editable fields only) and, for the opérateur, the
/// responsible organisation. Returns the problems found, or the changed fields.
pub async fn edit(
    core: &Core,
    who: &Principal,
    ext_id: &str,
    changes: &BTreeMap<String, String>,
    owner: Option<Option<i64>>,
) -> CoreResult<Result<Vec<String>, Vec<Issue>>> {
    let (mut values, own) = current(core, ext_id)
        .await?
        .ok_or_else(|| CoreError::NotFound(format!("lieu « {ext_id} »")))?;
    authorize(
        who,
        Action::Edit {
            owner: own.organisation_id,
        },
    )?;
    if owner.is_some() {
        authorize(who, Action::Administer)?;
    }
    let mut changed = Vec::new();
    for (k, v) in changes {
        if !EDITABLE.contains(&k.as_str()) {
            return Err(CoreError::invalid(format!("le champ « {k} » ne se modifie pas ici")));
        }
        if values.get(k) != Some(v) {
            values.insert(k.clone(), v.clone());
            changed.push(k.clone());
        }
    }
    let today = time::OffsetDateTime::now_utc().date();
    values.insert(
        "date_maj".into(),
        today
            .format(&time::macros::format_description!("[year]-[month]-[day]"))
            .unwrap_or_default(),
    );
    let checked = match check_map(1, &values) {
        Ok(c) => c,
        Err(issues) => return Ok(Err(issues)),
    };
    let owner_changed = owner.is_some_and(|o| o != own.organisation_id);
    if changed.is_empty() && !owner_changed {
        return Ok(Ok(changed));
    }
    let digest = checked.lieu.digest();
    let dedup = checked.lieu.dedup_key();
    let mut tx = core.db.begin().await?;
    store::update(
        &mut tx,
        own.id,
        &checked.lieu,
        Extra {
            digest: &digest,
            dedup_key: &dedup,
            source: store::EDIT_SOURCE,
            import_id: None,
            line: 0,
        },
    )
    .await?;
    if let Some(o) = owner.filter(|_| owner_changed) {
        store::set_owner(&mut tx, own.id, o).await?;
        changed.push("organisation".into());
    }
    super::search::bump_version(&mut tx).await?;
    journal::append(
        &mut tx,
        &core.keys,
        NewEntry::new(who.actor(), journal::actions::LIEUX_EDIT)
            .subject("lieu", own.id)
            .details(json!({ "id": ext_id, "champs": changed })),
    )
    .await?;
    tx.commit().await?;
    Ok(Ok(changed))
}
