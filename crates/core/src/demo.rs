//! Demonstration data for `passerelle serve --demo`: a few realistic
//! organisations and one account per role, three places of the directory,
//! and a paid Pass Numérique order whose first booklets are handed out, so
//! that a new user can redeem a cheque within a minute. Created only in an
//! empty database.

use serde_json::json;

use crate::accounts::{self, store, NewAccount, Principal};
use crate::error::Result;
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
    /// For Aidants Connect accounts: the TOTP secret, set already (printed once).
    pub totp_secret: Option<String>,
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
    demo(
        "structure_habilitee",
        "France Services de Lormont (démo)",
        "aidant",
        "aidante@demo.passerelle.fr",
        "Sophie Aidante",
    ),
];

/// What a demonstration prints once: logins, and what is needed to redeem.
#[derive(Debug, Clone, Default)]
pub struct Demo {
    pub logins: Vec<DemoLogin>,
    /// The place's name, its API key, and valid codes of a handed-out booklet.
    pub pass: Option<DemoPass>,
    /// Why the Pass Numérique part was skipped, if it was.
    pub pass_skipped: Option<String>,
}

#[derive(Debug, Clone)]
pub struct DemoPass {
    pub place: String,
    pub api_key: String,
    pub codes: Vec<String>,
    /// The statements of the settlement run at the end of the demonstration.
    pub releves: Vec<String>,
}

/// Whether this database holds demonstration data (loaded once by `--demo`).
pub async fn is_demo_database(core: &Core) -> Result<bool> {
    let n: i64 = crate::on_db!(&core.db, c => {
        sqlx::query_scalar("SELECT COUNT(*) FROM journal WHERE action = $1")
            .bind(actions::DEMO_LOADED)
            .fetch_one(&mut *c)
            .await?
    });
    Ok(n > 0)
}

/// Fills an empty database. Returns `None` (and changes nothing) if the
/// database already has organisations.
pub async fn load_if_empty(core: &Core) -> Result<Option<Demo>> {
    // Dated some days back, so that the settlement run now pays the demo's redemptions.
    let past = crate::demo_releve::in_the_past(core);
    let Some(logins) = load_accounts(&past).await? else {
        return Ok(None);
    };
    let mut demo = Demo {
        logins,
        ..Default::default()
    };
    load_ressources(&past).await?;
    match load_pass(&past).await {
        Ok(mut p) => {
            match crate::demo_releve::settle(core).await {
                Ok(numbers) => p.releves = numbers,
                Err(e) => demo.pass_skipped = Some(format!("relevé de démonstration non créé : {e}")),
            }
            demo.pass = Some(p);
        }
        Err(e) => demo.pass_skipped = Some(e.to_string()),
    }
    Ok(Some(demo))
}

/// Places, a qualified place with an API key, a paid and issued order with handed-out booklets.
async fn load_pass(core: &Core) -> Result<DemoPass> {
    use crate::lieux::import::{import, Options};
    use crate::pass_numerique::booklets::{self, HandOut};
    use crate::pass_numerique::model::{Public, Territory};
    use crate::pass_numerique::orders::{self, NewOrder};
    use crate::pass_numerique::{issue, places};

    let options = Options {
        source: "démonstration".into(),
        file_name: "demo-lieux.csv".into(),
        ignore_invalid: false,
        dry_run: false,
    };
    let csv = include_bytes!("../data/demo-lieux.csv");
    import(
        core,
        &Principal::SYSTEME,
        csv,
        crate::lieux::read::Format::Csv,
        &options,
        |_, _| {},
    )
    .await?;
    let org = |name: &'static str| async move {
        let orgs = store::organisations(&core.db).await?;
        orgs.into_iter()
            .find(|o| o.name == name)
            .map(|o| o.id)
            .ok_or_else(|| crate::CoreError::NotFound(name.to_string()))
    };
    for (place, owner) in [
        ("demo-1", "Médiathèque de Mériadeck, Bordeaux (démo)"),
        ("demo-2", "Espace public numérique de Pessac (démo)"),
    ] {
        let owner = org(owner).await?;
        crate::on_db!(&core.db, c => {
            sqlx::query("UPDATE lieux SET organisation_id = $1 WHERE ext_id = $2").bind(owner).bind(place).execute(&mut *c).await?;
        });
        places::qualify(core, &Principal::SYSTEME, place).await?;
    }
    // The hub's territory (the former Aquitaine): its places to check are the demo places.
    let hub = org("Hub France Connectée Nouvelle-Aquitaine (démo)").await?;
    let aquitaine: Vec<String> = ["24", "33", "40", "47", "64"].map(String::from).to_vec();
    crate::hubs::set_departements(core, &Actor::System, hub, &aquitaine).await?;
    let (place, _, api_key) = places::new_api_key(core, &Principal::SYSTEME, "demo-2").await?;
    demo_application(core, org("Espace public numérique de Pessac (démo)").await?).await?;
    let funder = org("Département de la Gironde (démo)").await?;
    let prescriber = org("CCAS de Bordeaux (démo)").await?;
    let today = core.db.horloge().today_paris();
    let mut new = NewOrder::new(
        funder,
        20,
        today.saturating_sub(jiff::Span::new().days(30)),
        today.saturating_add(jiff::Span::new().days(365)),
    );
    new.perimetre = vec![Territory::Departement("33".into())].into();
    new.publics = vec![Public::Seniors, Public::DemandeursEmploi];
    new.prescripteurs = vec![prescriber];
    new.marque = "Département de la Gironde".into();
    let (order, _) = orders::create(core, &Principal::SYSTEME, &new).await?;
    let issued = issue::issue(core, &Principal::SYSTEME, order.id, |_, _| {}).await?;
    orders::pay(core, &Principal::SYSTEME, order.id, "DEMO-VIREMENT-1").await?;
    let first = issued.premier_carnet;
    booklets::allot(core, &Principal::SYSTEME, order.id, prescriber, first, first + 9).await?;
    for (i, public) in ["seniors", "demandeurs-emploi", "seniors"].iter().enumerate() {
        let h = HandOut {
            public: public.to_string(),
            commune: "33318".into(),
            tranche_age: Some("65-74".into()),
            ..Default::default()
        };
        booklets::hand_out(core, &Principal::SYSTEME, first + i as i64, &h).await?;
    }
    // The second booklet's first two cheques, redeemed at the place (for its statement).
    crate::demo_releve::redeem(core, order.id, first + 1).await?;
    let codes = issue::codes(core, order.id, Some((first, first)))
        .await?
        .into_iter()
        .take(3)
        .map(|p| p.code.grouped())
        .collect();
    Ok(DemoPass {
        place: place.nom,
        api_key,
        codes,
        releves: Vec::new(),
    })
}

/// The resource centre's articles, written and published by the demo opérateur.
async fn load_ressources(core: &Core) -> Result<()> {
    let account: i64 = crate::on_db!(&core.db, c => {
        sqlx::query_scalar("SELECT id FROM accounts WHERE role = 'operateur' ORDER BY id LIMIT 1").fetch_one(&mut *c).await?
    });
    let (who, _) = crate::accounts::principal(core, account)
        .await?
        .ok_or_else(|| crate::CoreError::NotFound("opérateur de démonstration".into()))?;
    crate::ressources::demo::load(core, &who).await
}

/// A filed application for demo-3, so that the review pages have something to show.
async fn demo_application(core: &Core, owner: i64) -> Result<()> {
    use crate::qualification::applications;
    use crate::qualification::model::{Draft, Questionnaire, ServiceOffer};

    crate::on_db!(&core.db, c => {
        sqlx::query("UPDATE lieux SET organisation_id = $1 WHERE ext_id = 'demo-3'").bind(owner).execute(&mut *c).await?;
    });
    let account: i64 = crate::on_db!(&core.db, c => {
        sqlx::query_scalar("SELECT id FROM accounts WHERE organisation_id = $1 ORDER BY id LIMIT 1").bind(owner).fetch_one(&mut *c).await?
    });
    let (who, _) = crate::accounts::principal(core, account)
        .await?
        .ok_or_else(|| crate::CoreError::NotFound("compte de démonstration".into()))?;
    let id = applications::start(core, &who, "demo-3").await?;
    let draft = Draft {
        siret: "35600000000047".into(),
        raison_sociale: "Association Clic Solidaire".into(),
        forme_juridique: "Association loi 1901".into(),
        adresse: "12 rue Lavergne, 33310 Lormont".into(),
        representant_nom: "Marie Présidente".into(),
        representant_qualite: "Présidente".into(),
        representant_courriel: "presidence@demo.passerelle.fr".into(),
        charte: true,
        questionnaire: Questionnaire {
            type_structure: "Association".into(),
            activite: "Permanences d'aide aux démarches et ateliers d'initiation, depuis 2019.".into(),
            mediateurs: "2".into(),
            horaires: "Du lundi au vendredi, 9 h – 12 h et 14 h – 17 h".into(),
            accessibilite: "Accès de plain-pied, tram A arrêt Lormont Bourg".into(),
            publics: vec!["Seniors".into(), "Jeunes".into()],
        },
        services: vec![ServiceOffer {
            service: "Aide aux démarches administratives".into(),
            publics: "Tous publics".into(),
            duree_minutes: "60".into(),
            cheques: "1".into(),
        }],
        iban: "FR1420041010050500013M02606".into(),
        bic: "PSSTFRPPBOR".into(),
        titulaire: "Association Clic Solidaire".into(),
    };
    applications::save(core, &who, id, draft).await?;
    for (kind, name) in [
        ("kbis_statuts", "statuts.pdf"),
        ("assurance", "assurance.pdf"),
        ("rib", "rib.pdf"),
    ] {
        let pdf = format!("%PDF-1.4\n% Pièce de démonstration : {name}\n%%EOF\n");
        applications::attach(core, &who, id, kind, name, pdf.as_bytes()).await?;
    }
    applications::file(core, &who, id).await
}

/// Organisations and accounts; `None` if the database already has organisations.
async fn load_accounts(core: &Core) -> Result<Option<Vec<DemoLogin>>> {
    if store::count_organisations(&core.db).await? > 0 {
        return Ok(None);
    }
    let mut logins = Vec::new();
    let mut org_ids: Vec<(&str, i64)> = Vec::new();
    for d in DEMO {
        let org_id = match org_ids.iter().find(|(n, _)| *n == d.organisation) {
            Some((_, id)) => *id,
            None => {
                let org =
                    accounts::create_organisation(core, &Principal::SYSTEME, d.kind, d.organisation, None).await?;
                org_ids.push((d.organisation, org.id));
                org.id
            }
        };
        let created = accounts::create_account(
            core,
            &Principal::SYSTEME,
            NewAccount {
                organisation_id: org_id,
                email: d.email,
                display_name: d.name,
                role: Some(d.role),
                password: None,
                // Aidants Connect needs a second factor at every login: set
                // now and printed, so that a new user can sign in at once.
                with_totp: d.kind == "structure_habilitee",
            },
        )
        .await?;
        logins.push(DemoLogin {
            role_label: accounts::Role::parse(d.role)?.label(),
            organisation: d.organisation.to_string(),
            email: d.email.to_string(),
            password: created.generated_password.unwrap_or_default(),
            totp_at_first_login: created.account.requires_totp() && created.totp_secret.is_none(),
            totp_secret: created.totp_secret,
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
