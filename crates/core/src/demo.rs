//! Demonstration data for `passerelle serve --demo`: a few realistic
//! organisations and one account per role, created only in an empty database.

use serde_json::json;

use crate::accounts::{self, store, NewAccount};
use crate::error::CoreResult;
use crate::journal::{self, actions, Actor, NewEntry};
use crate::Core;

/// How to log in as one demonstration account (printed once).
#[derive(Debug, Clone)]
pub struct DemoLogin {
    pub role_label: &'static str,
    pub organisation: String,
    pub email: String,
    pub password: String,
    pub totp_at_first_login: bool,
}

/// (organisation kind, organisation name, SIRET, account role, e-mail, name)
const DEMO: &[(&str, &str, Option<&str>, &str, &str, &str)] = &[
    (
        "operateur",
        "Opérateur national Passerelle (démo)",
        None,
        "operateur",
        "operateur@demo.passerelle.fr",
        "Camille Opérateur",
    ),
    (
        "commanditaire",
        "Département de la Gironde (démo)",
        None,
        "commanditaire",
        "commanditaire@demo.passerelle.fr",
        "Jean Financeur",
    ),
    (
        "prescripteur",
        "CCAS de Bordeaux (démo)",
        None,
        "prescripteur",
        "prescripteur@demo.passerelle.fr",
        "Awa Prescriptrice",
    ),
    (
        "lieu",
        "Médiathèque de Mériadeck, Bordeaux (démo)",
        None,
        "lieu",
        "lieu@demo.passerelle.fr",
        "Lucas Médiateur",
    ),
    (
        "lieu",
        "Espace public numérique de Pessac (démo)",
        None,
        "lieu",
        "epn-pessac@demo.passerelle.fr",
        "Inès Conseillère numérique",
    ),
    (
        "hub",
        "Hub France Connectée Nouvelle-Aquitaine (démo)",
        None,
        "hub",
        "hub@demo.passerelle.fr",
        "Hugo Hub",
    ),
    (
        "structure_habilitee",
        "France Services de Lormont (démo)",
        None,
        "referent",
        "referent@demo.passerelle.fr",
        "Nadia Référente",
    ),
    (
        "structure_habilitee",
        "France Services de Lormont (démo)",
        None,
        "aidant",
        "aidant@demo.passerelle.fr",
        "Paul Aidant",
    ),
];

/// Fills an empty database. Returns `None` (and changes nothing) if the
/// database already has organisations.
pub async fn load_if_empty(core: &Core) -> CoreResult<Option<Vec<DemoLogin>>> {
    if store::count_organisations(&core.db).await? > 0 {
        return Ok(None);
    }
    let mut logins = Vec::new();
    let mut org_ids: Vec<(&str, i64)> = Vec::new();
    for (kind, org_name, siret, role, email, name) in DEMO {
        let org_id = match org_ids.iter().find(|(n, _)| n == org_name) {
            Some((_, id)) => *id,
            None => {
                let org =
                    accounts::create_organisation(core, &Actor::System, kind, org_name, *siret)
                        .await?;
                org_ids.push((org_name, org.id));
                org.id
            }
        };
        let created = accounts::create_account(
            core,
            &Actor::System,
            NewAccount {
                organisation_id: org_id,
                email,
                display_name: name,
                role: Some(role),
                password: None,
                with_totp: false,
            },
        )
        .await?;
        logins.push(DemoLogin {
            role_label: accounts::Role::parse(role)?.label(),
            organisation: org_name.to_string(),
            email: email.to_string(),
            password: created.generated_password.unwrap_or_default(),
            totp_at_first_login: created.account.requires_totp(),
        });
    }
    let mut tx = core.db.begin().await?;
    journal::append(
        &mut tx,
        &core.keys,
        NewEntry::new(Actor::System, actions::DEMO_LOADED)
            .details(json!({ "comptes": logins.len() })),
    )
    .await?;
    tx.commit().await?;
    Ok(Some(logins))
}
