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
use crate::error::{CoreError, Result};
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

/// A value typed in a form field of the standard: several e-mail addresses or
/// web sites, one per line (or separated by `,`, `;` or `|`), become the
/// standard's `|` list; a French phone number its international form; any
/// other field is only trimmed.
pub fn form_value(field: &str, typed: &str) -> String {
    if matches!(field, "courriels" | "site_web") {
        typed
            .split(['\n', ',', ';', '|'])
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>()
            .join("|")
    } else if field == "telephone" {
        // Shown as people read it (05 56 10 30 00): stored in the standard's form.
        super::normalise::phone(typed.trim()).unwrap_or_else(|| typed.trim().to_string())
    } else {
        typed.trim().to_string()
    }
}

/// A place's edit form: its current values, its responsible organisation and,
/// for the opérateur only, the organisations that may be made responsible.
#[derive(Debug, Clone)]
pub struct EditForm {
    pub values: BTreeMap<String, String>,
    pub owner: Option<i64>,
    /// (id, name) of the places' organisations; `None` when the caller may not choose.
    pub owners: Option<Vec<(i64, String)>>,
}

/// The edit form of a place, for the opérateur or the place's own staff.
pub async fn form(core: &Core, who: &Principal, ext_id: &str) -> Result<EditForm> {
    let (values, own) = current(core, ext_id)
        .await?
        .ok_or_else(|| CoreError::NotFound(format!("lieu « {ext_id} »")))?;
    authorize(
        who,
        Action::Edit {
            owner: own.organisation_id,
        },
    )?;
    let owners = if authorize(who, Action::Administer).is_ok() {
        let orgs = crate::accounts::store::organisations(&core.db).await?;
        let lieu = crate::accounts::OrgKind::Lieu.key();
        Some(
            orgs.into_iter()
                .filter(|o| o.kind == lieu)
                .map(|o| (o.id, o.name))
                .collect(),
        )
    } else {
        None
    };
    Ok(EditForm {
        values,
        owner: own.organisation_id,
        owners,
    })
}

/// The current standard values of a place, by field name, and its responsible
/// organisation (no caller: see [`form`]).
pub(crate) async fn current(core: &Core, ext_id: &str) -> Result<Option<(BTreeMap<String, String>, store::Own)>> {
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
) -> Result<Result<Vec<String>, Vec<Issue>>> {
    let mut prepared = match prepare(core, who, ext_id, changes, EDITABLE).await? {
        Ok(p) => p,
        Err(issues) => return Ok(Err(issues)),
    };
    if owner.is_some() {
        authorize(who, Action::Administer)?;
    }
    let owner_changed = owner.is_some_and(|o| o != prepared.own.organisation_id);
    if prepared.changed.is_empty() && !owner_changed {
        return Ok(Ok(prepared.changed));
    }
    let mut tx = core.db.begin().await?;
    lock_unchanged(&mut tx, &prepared).await?;
    if let Some(o) = owner.filter(|_| owner_changed) {
        store::set_owner(&mut tx, prepared.own.id, o).await?;
        prepared.changed.push("organisation".into());
    }
    write(core, &mut tx, who, &prepared, json!({})).await?;
    tx.commit().await?;
    Ok(Ok(prepared.changed))
}

/// A checked change of a place, ready to be written.
#[derive(Debug, Clone)]
pub struct Prepared {
    pub ext_id: String,
    pub own: store::Own,
    pub lieu: super::Lieu,
    /// The fields whose value changes.
    pub changed: Vec<String>,
}

/// Checks that `who` may edit the place and that the record, with `changes`
/// (only fields of `allowed`) and today's `date_maj`, still meets the standard.
pub async fn prepare(
    core: &Core,
    who: &Principal,
    ext_id: &str,
    changes: &BTreeMap<String, String>,
    allowed: &[&str],
) -> Result<Result<Prepared, Vec<Issue>>> {
    let (mut values, own) = current(core, ext_id)
        .await?
        .ok_or_else(|| CoreError::NotFound(format!("lieu « {ext_id} »")))?;
    authorize(
        who,
        Action::Edit {
            owner: own.organisation_id,
        },
    )?;
    let mut changed = Vec::new();
    for (k, v) in changes {
        if !allowed.contains(&k.as_str()) {
            return Err(CoreError::invalid(format!("le champ « {k} » ne se modifie pas ici")));
        }
        if values.get(k) != Some(v) {
            values.insert(k.clone(), v.clone());
            changed.push(k.clone());
        }
    }
    let today = core.db.horloge().today_utc();
    values.insert("date_maj".into(), crate::dates_fr::iso(today));
    match check_map(1, &values, today) {
        Ok(c) => Ok(Ok(Prepared {
            ext_id: ext_id.to_string(),
            own,
            lieu: c.lieu,
            changed,
        })),
        Err(issues) => Ok(Err(issues)),
    }
}

/// Locks the place in `tx` and checks that nobody changed it since
/// [`prepare`] read it (otherwise the change, prepared from the older record,
/// would silently undo the other one): a conflict to retry.
pub async fn lock_unchanged(tx: &mut crate::db::Tx, p: &Prepared) -> Result<()> {
    let n = crate::on_tx!(tx, c => {
        sqlx::query("UPDATE lieux SET updated_at = updated_at WHERE id = $1 AND updated_at = $2")
            .bind(p.own.id)
            .bind(p.own.updated_at)
            .execute(&mut *c)
            .await?
            .rows_affected()
    });
    if n == 1 {
        Ok(())
    } else {
        Err(CoreError::Conflict(
            "la fiche du lieu a été modifiée entre-temps : rechargez la page et recommencez".into(),
        ))
    }
}

/// Writes a prepared change in `tx` with its journal entry (`extra` adds
/// details to it, e.g. the correction applied).
pub async fn write(
    core: &Core,
    tx: &mut crate::db::Tx,
    who: &Principal,
    p: &Prepared,
    extra: serde_json::Value,
) -> Result<()> {
    let digest = p.lieu.digest();
    let dedup = p.lieu.dedup_key();
    store::update(
        tx,
        p.own.id,
        &p.lieu,
        Extra {
            digest: &digest,
            dedup_key: &dedup,
            source: store::EDIT_SOURCE,
            import_id: None,
            line: 0,
        },
    )
    .await?;
    super::search::bump_version(tx).await?;
    let mut details = json!({ "id": p.ext_id, "champs": p.changed });
    if let (Some(d), serde_json::Value::Object(more)) = (details.as_object_mut(), extra) {
        d.extend(more);
    }
    journal::append(
        tx,
        &core.keys,
        NewEntry::new(who.actor(), journal::actions::LIEUX_EDIT)
            .subject("lieu", p.own.id)
            .details(details),
    )
    .await?;
    Ok(())
}
