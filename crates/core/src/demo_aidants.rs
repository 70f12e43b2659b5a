//! Demonstration data of Aidants Connect (with `serve --demo`, on a fresh
//! database, after [`crate::demo::load_if_empty`]): the demo structure's
//! allowed démarches, its two aidants trained and active, two usagers of the
//! FranceConnect simulator with mandates (Angela DUBOIS: social and
//! logement, six months; Pierre MERCIER: travail, one month), three TOTP
//! cards in stock for the référent to give, and the demonstration online
//! service registered with the OpenID Connect provider.

use serde_json::json;

use crate::accounts::{self, totp};
use crate::aidants_connect::demarches;
use crate::aidants_connect::franceconnect::simulateur::{persona, sub_of};
use crate::aidants_connect::franceconnect::{flow, Identity};
use crate::aidants_connect::mandats::{self, Duration};
use crate::aidants_connect::oidc_provider::service_demo;
use crate::error::{CoreError, Result};
use crate::journal::{self, actions, Actor, NewEntry};
use crate::{on_db, on_tx, Core};

pub const STRUCTURE: &str = "France Services de Lormont (démo)";
const DEMARCHES: [&str; 7] = [
    "papiers",
    "famille",
    "social",
    "travail",
    "logement",
    "argent",
    "transports",
];

/// What the demonstration prints about Aidants Connect.
#[derive(Debug, Clone, Default)]
pub struct DemoAidants {
    /// (usager's name, simulator identity to pick, démarches of his mandate).
    pub usagers: Vec<(String, &'static str, String)>,
    pub service: String,
    /// (serial number, base32 seed) of the TOTP cards in stock: the seed
    /// stands for the card in the référent's hand (printed once).
    pub cartes: Vec<(String, String)>,
}

/// How many TOTP cards the demo puts in stock.
pub const CARDS: usize = 3;

/// Loads it. `fc_client_id`: the simulator's client id, so that the usagers
/// are the ones the simulator identifies (None: no usagers, no mandates).
/// `base`: the public URL without its trailing slash.
pub async fn load(core: &Core, fc_client_id: Option<&str>, base: &str) -> Result<DemoAidants> {
    let structure: i64 = on_db!(&core.db, c => {
        sqlx::query_scalar("SELECT id FROM organisations WHERE name = $1")
            .bind(STRUCTURE)
            .fetch_optional(&mut *c)
            .await?
    })
    .ok_or_else(|| CoreError::NotFound("structure de démonstration".into()))?;
    let aidants: Vec<i64> = on_db!(&core.db, c => {
        sqlx::query_scalar("SELECT id FROM accounts WHERE organisation_id = $1 AND role = 'aidant' ORDER BY id")
            .bind(structure)
            .fetch_all(&mut *c)
            .await?
    });
    let now = core.db.now_micros();
    let mut tx = core.db.begin().await?;
    for d in DEMARCHES {
        on_tx!(&mut tx, c => {
            sqlx::query("INSERT INTO structures_demarches (organisation_id, demarche) VALUES ($1, $2) ON CONFLICT DO NOTHING")
                .bind(structure).bind(d).execute(&mut *c).await?;
        });
    }
    for a in &aidants {
        on_tx!(&mut tx, c => {
            sqlx::query(
                "INSERT INTO aidants_membres (account_id, organisation_id, actif, created_at, updated_at) VALUES ($1, $2, TRUE, $3, $3) \
                 ON CONFLICT (account_id, organisation_id) DO UPDATE SET actif = TRUE",
            )
            .bind(a).bind(structure).bind(now).execute(&mut *c).await?;
            sqlx::query(
                "INSERT INTO aidants_formations (account_id, formee_at, test_reussi_at, updated_at) VALUES ($1, $2, $2, $2) \
                 ON CONFLICT (account_id) DO NOTHING",
            )
            .bind(a).bind(now).execute(&mut *c).await?;
        });
    }
    let mut out = DemoAidants {
        service: service_demo::NAME.to_string(),
        ..Default::default()
    };
    for i in 1..=CARDS {
        let (serial, seed) = (format!("DEMO-CARTE-{i:02}"), totp::new_secret());
        let sealed = totp::seal(core, &seed)?;
        on_tx!(&mut tx, c => {
            sqlx::query("INSERT INTO cartes_totp (numero_serie, graine, duree, created_at) VALUES ($1, $2, 30, $3)")
                .bind(&serial).bind(&sealed).bind(now).execute(&mut *c).await?;
        });
        out.cartes.push((serial, seed));
    }
    let mut usagers = Vec::new();
    if let Some(client_id) = fc_client_id {
        for key in ["angela", "pierre"] {
            let Some(p) = persona(key) else { continue };
            let identity = Identity {
                sub: sub_of(&core.keys, client_id, p.key),
                given_name: p.given_name.into(),
                family_name: p.family_name.into(),
                birthdate: p.birthdate.into(),
                birthplace: p.birthplace.into(),
                birthcountry: p.birthcountry.into(),
                gender: p.gender.into(),
                email: Some(p.email.into()),
                preferred_username: p.preferred_username.map(str::to_string),
            };
            let (id, _) = flow::store_usager(&mut tx, &core.keys, &identity).await?;
            usagers.push((id, key, format!("{} {}", p.given_name, p.family_name)));
        }
    }
    journal::append(
        &mut tx,
        &core.keys,
        NewEntry::new(Actor::System, actions::DEMO_LOADED)
            .subject("organisation", structure)
            .details(json!({ "aidants_connect": true, "aidants": aidants.len(), "usagers": usagers.len(), "cartes_totp": CARDS })),
    )
    .await?;
    tx.commit().await?;
    service_demo::register(core, base).await?;
    // FranceConnect's simulator as a client of the provider (federation mode).
    crate::aidants_connect::franceconnect::federation::register_fi(core, base).await?;
    // Mandates concluded by the first aidant (as if after a FranceConnect step).
    let Some(aidant) = aidants.first() else {
        return Ok(out);
    };
    let (who, _) = accounts::principal(core, *aidant)
        .await?
        .ok_or_else(|| CoreError::NotFound("aidant de démonstration".into()))?;
    mandats::texts::ensure(&core.db).await?;
    for (id, key, name) in usagers {
        let (demarches, duree): (&[&'static str], Duration) = match key {
            "angela" => (&["social", "logement"], Duration::Semester),
            _ => (&["travail"], Duration::Month),
        };
        mandats::conclude::create(
            core,
            &who,
            structure,
            id,
            demarches,
            duree,
            mandats::conclude::Origin::Demo,
        )
        .await?;
        let labels: Vec<&str> = demarches.iter().map(|d| demarches::label(d)).collect();
        out.usagers
            .push((name, key, format!("{} ({})", labels.join(", "), duree.label())));
    }
    Ok(out)
}
