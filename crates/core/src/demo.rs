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

/// One demonstration account and its organisation.
struct DemoAccount {
    kind: &'static str,
    organisation: &'static str,
    role: &'static str,
    email: &'static str,
    name: &'static str,
}

const fn demo(
    kind: &'static str,
    organisation: &'static str,
    role: &'static str,
    email: &'static str,
    name: &'static str,
) -> DemoAccount {
    DemoAccount {
        kind,
        organisation,
        role,
        email,
        name,
    }
}

const DEMO: &[DemoAccount] = &[
    demo(
        "operateur",
        "Opérateur national Passerelle (démo)",
        "operateur",
        "operateur@demo.passerelle.fr",
        "Camille Opérateur",
    ),
    demo(
        "commanditaire",
        "Département de la Gironde (démo)",
        "commanditaire",
        "commanditaire@demo.passerelle.fr",
        "Jean Financeur",
    ),
    demo(
        "prescripteur",
        "CCAS de Bordeaux (démo)",
        "prescripteur",
        "prescripteur@demo.passerelle.fr",
        "Awa Prescriptrice",
    ),
    demo(
        "lieu",
        "Médiathèque de Mériadeck, Bordeaux (démo)",
        "lieu",
        "lieu@demo.passerelle.fr",
        "Lucas Médiateur",
    ),
    demo(
        "lieu",
        "Espace public numérique de Pessac (démo)",
        "lieu",
        "epn-pessac@demo.passerelle.fr",
        "Inès Conseillère numérique",
    ),
    demo(
        "hub",
        "Hub France Connectée Nouvelle-Aquitaine (démo)",
        "hub",
        "hub@demo.passerelle.fr",
        "Hugo Hub",
    ),
    demo(
        "structure_habilitee",
        "France Services de Lormont (démo)",
        "referent",
        "referent@demo.passerelle.fr",
        "Nadia Référente",
    ),
    demo(
        "structure_habilitee",
        "France Services de Lormont (démo)",
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
    for d in DEMO {
        let org_id = match org_ids.iter().find(|(n, _)| *n == d.organisation) {
            Some((_, id)) => *id,
            None => {
                let org = accounts::create_organisation(core, &Actor::System, d.kind, d.organisation, None).await?;
                org_ids.push((d.organisation, org.id));
                org.id
            }
        };
        let created = accounts::create_account(
            core,
            &Actor::System,
            NewAccount {
                organisation_id: org_id,
                email: d.email,
                display_name: d.name,
                role: Some(d.role),
                password: None,
                with_totp: false,
            },
        )
        .await?;
        logins.push(DemoLogin {
            role_label: accounts::Role::parse(d.role)?.label(),
            organisation: d.organisation.to_string(),
            email: d.email.to_string(),
            password: created.generated_password.unwrap_or_default(),
            totp_at_first_login: created.account.requires_totp(),
        });
    }
    let mut tx = core.db.begin().await?;
    journal::append(
        &mut tx,
        &core.keys,
        NewEntry::new(Actor::System, actions::DEMO_LOADED).details(json!({ "comptes": logins.len() })),
    )
    .await?;
    tx.commit().await?;
    Ok(Some(logins))
}
