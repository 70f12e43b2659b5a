//! `passerelle rgpd exporter`: everything held about one person, as JSON
//! grouped by table (the tables' own column names), with the journal entries
//! that name them. The export is itself journaled (`rgpd.export`, with the
//! person's reference only), in the transaction that read the data.

use serde_json::{json, Map, Value};

use super::rows::{fetch, Bind};
use super::{Personne, ResolveInput, ACTION_EXPORT};
use crate::db::Tx;
use crate::error::Result;
use crate::journal::{self, Actor, NewEntry};
use crate::{on_tx, Core};

/// Format identifier written at the top of every export.
pub const FORMAT: &str = "passerelle-rgpd-export-v1";

/// One table of an export: its name and the SQL selecting the person's rows.
struct Part {
    table: &'static str,
    sql: &'static str,
    bind: Binding,
}

enum Binding {
    Id,
    Email,
}

const USAGER: &[Part] = &[
    part("usagers", "SELECT * FROM usagers WHERE id = $1"),
    part("mandats", "SELECT * FROM mandats WHERE usager_id = $1 ORDER BY id"),
    part(
        "autorisations",
        "SELECT * FROM autorisations WHERE mandat_id IN (SELECT id FROM mandats WHERE usager_id = $1) ORDER BY id",
    ),
    part(
        "mandats_utilisations",
        "SELECT * FROM mandats_utilisations WHERE usager_id = $1 ORDER BY id",
    ),
    part(
        "usagers_sessions",
        "SELECT * FROM usagers_sessions WHERE usager_id = $1",
    ),
    part(
        "franceconnect_etats",
        "SELECT * FROM franceconnect_etats WHERE usager_id = $1 ORDER BY id",
    ),
    part("oidc_codes", "SELECT * FROM oidc_codes WHERE usager_id = $1"),
    part(
        "oidc_deconnexions",
        "SELECT * FROM oidc_deconnexions WHERE usager_id = $1 ORDER BY id",
    ),
    part("oidc_jetons", "SELECT * FROM oidc_jetons WHERE usager_id = $1"),
];

const BENEFICIAIRE: &[Part] = &[
    part("carnets", "SELECT * FROM carnets WHERE numero = $1"),
    part("cheques", "SELECT * FROM cheques WHERE carnet_id = $1 ORDER BY rang"),
    part(
        "encaissements",
        "SELECT * FROM encaissements WHERE carnet_id = $1 ORDER BY id",
    ),
    part(
        "activites",
        "SELECT * FROM activites WHERE cheque_id IN (SELECT id FROM cheques WHERE carnet_id = $1) ORDER BY id",
    ),
];

const COMPTE: &[Part] = &[
    part("accounts", "SELECT * FROM accounts WHERE id = $1"),
    part("sessions", "SELECT * FROM sessions WHERE account_id = $1"),
    part("liens_connexion", "SELECT * FROM liens_connexion WHERE account_id = $1"),
    part(
        "proconnect_comptes",
        "SELECT * FROM proconnect_comptes WHERE account_id = $1",
    ),
    part(
        "proconnect_liaisons",
        "SELECT * FROM proconnect_liaisons WHERE account_id = $1",
    ),
    part(
        "preferences_courriels",
        "SELECT * FROM preferences_courriels WHERE account_id = $1",
    ),
    part(
        "aidants_formations",
        "SELECT * FROM aidants_formations WHERE account_id = $1",
    ),
    part("aidants_membres", "SELECT * FROM aidants_membres WHERE account_id = $1"),
    part("cartes_totp", "SELECT * FROM cartes_totp WHERE account_id = $1"),
    Part {
        table: "aidants_invitations",
        sql: "SELECT id, organisation_id, courriel, nom, statut, account_id, created_at, expires_at, decided_at \
              FROM aidants_invitations WHERE courriel = $1 ORDER BY id",
        bind: Binding::Email,
    },
    Part {
        table: "courriels",
        sql: "SELECT * FROM courriels WHERE destinataire = $1 ORDER BY id",
        bind: Binding::Email,
    },
    part("activites", "SELECT * FROM activites WHERE compte_id = $1 ORDER BY id"),
    part(
        "mandats",
        "SELECT id, organisation_id, usager_id, aidant_id, duree, created_at, expires_at FROM mandats \
         WHERE aidant_id = $1 ORDER BY id",
    ),
    part(
        "mandats_utilisations",
        "SELECT * FROM mandats_utilisations WHERE aidant_id = $1 ORDER BY id",
    ),
    part(
        "franceconnect_etats",
        "SELECT id, nature, account_id, created_at, expires_at, used_at, mandat_id FROM franceconnect_etats \
         WHERE account_id = $1 ORDER BY id",
    ),
    part(
        "carnets",
        "SELECT numero, commande_id, remis_at, remis_par FROM carnets WHERE remis_par = $1 ORDER BY numero",
    ),
    part(
        "encaissements",
        "SELECT * FROM encaissements WHERE compte_id = $1 ORDER BY id",
    ),
    part(
        "ressources",
        "SELECT id, slug, titre, auteur_id, publie_at, created_at, updated_at FROM ressources WHERE auteur_id = $1",
    ),
    part(
        "corrections_lieux",
        "SELECT * FROM corrections_lieux WHERE auteur_id = $1 OR decideur_id = $1 ORDER BY id",
    ),
    part(
        "demandes_historique",
        "SELECT * FROM demandes_historique WHERE compte_id = $1 ORDER BY id",
    ),
    part(
        "habilitations_historique",
        "SELECT * FROM habilitations_historique WHERE compte_id = $1 ORDER BY id",
    ),
];

const fn part(table: &'static str, sql: &'static str) -> Part {
    Part {
        table,
        sql,
        bind: Binding::Id,
    }
}

/// Everything held about `who`, journaled as read by `actor`. Returns the
/// JSON document and the person it was about.
pub async fn export(core: &Core, actor: &Actor, who: ResolveInput) -> Result<(Value, Personne)> {
    let mut tx = core.db.begin().await?;
    let person = super::resolve(&mut tx, who).await?;
    let (doc, rows) = collect(&mut tx, core, person).await?;
    let (kind, id) = person.kind_subject();
    journal::append(
        &mut tx,
        &core.keys,
        NewEntry::new(actor.clone(), ACTION_EXPORT)
            .subject(kind, id)
            .details(json!({ "lignes": rows, "format": FORMAT })),
    )
    .await?;
    tx.commit().await?;
    Ok((doc, person))
}

async fn collect(tx: &mut Tx, core: &Core, person: Personne) -> Result<(Value, usize)> {
    let (parts, id) = match person {
        Personne::Usager(id) => (USAGER, id),
        Personne::Beneficiaire(n) => (BENEFICIAIRE, n),
        Personne::Compte(id) => (COMPTE, id),
    };
    let email: Option<String> = match person {
        Personne::Compte(id) => on_tx!(tx, c => {
            sqlx::query_scalar("SELECT email FROM accounts WHERE id = $1").bind(id).fetch_optional(&mut *c).await?
        }),
        _ => None,
    };
    let mut tables = Map::new();
    let mut rows = 0;
    for p in parts {
        let bind = match p.bind {
            Binding::Id => Bind::I(id),
            Binding::Email => Bind::T(email.clone().unwrap_or_default()),
        };
        let mut found = fetch(tx, p.sql, &[bind]).await?;
        if p.table == "carnets" {
            if let Personne::Beneficiaire(_) = person {
                open_contacts(core, &mut found);
            }
        }
        rows += found.len();
        tables.insert(
            p.table.to_string(),
            Value::Array(found.into_iter().map(Value::Object).collect()),
        );
    }
    let entries = journal_entries(tx, core, person, &tables, email.as_deref()).await?;
    let doc = json!({
        "format": FORMAT,
        "genere_le": super::date_of(tx.horloge.now_micros()),
        "personne": { "reference": person.reference(), "description": person.label() },
        "note": "Données détenues par Passerelle sur cette personne, groupées par table (noms des colonnes de la base). \
                 Les secrets (empreintes de jetons, mots de passe, graines TOTP) sont signalés sans être communiqués. \
                 Les dates sont en UTC.",
        "tables": tables,
        "journal": entries,
    });
    Ok((doc, rows))
}

/// The beneficiary's contact is sealed in the base: the export gives it in clear.
fn open_contacts(core: &Core, rows: &mut [Map<String, Value>]) {
    for row in rows {
        if let Some(Value::String(sealed)) = row.get("contact") {
            let clear = core
                .keys
                .open("contact-beneficiaire", sealed)
                .unwrap_or_else(|_| "(illisible avec les clés de ce déploiement)".into());
            row.insert("contact".into(), Value::String(clear));
        }
    }
}

/// Journal entries naming the person: their reference as subject (or actor,
/// for an account), the references of what is theirs (mandates, cheques,
/// redemptions), and for an account the keyed hash of its e-mail address.
async fn journal_entries(
    tx: &mut Tx,
    core: &Core,
    person: Personne,
    tables: &Map<String, Value>,
    email: Option<&str>,
) -> Result<Vec<Value>> {
    let ids = |table: &str, column: &str| -> Vec<i64> {
        tables
            .get(table)
            .and_then(Value::as_array)
            .map(|rows| {
                rows.iter()
                    .filter_map(|r| r.get(column).and_then(Value::as_i64))
                    .collect()
            })
            .unwrap_or_default()
    };
    let mut refs = vec![person.reference()];
    match person {
        Personne::Usager(_) => {
            refs.extend(ids("mandats", "id").into_iter().map(|i| format!("mandat:{i}")));
            refs.extend(
                ids("autorisations", "id")
                    .into_iter()
                    .map(|i| format!("autorisation:{i}")),
            );
        }
        Personne::Beneficiaire(_) => {
            refs.extend(ids("cheques", "id").into_iter().map(|i| format!("cheque:{i}")));
            refs.extend(
                ids("encaissements", "id")
                    .into_iter()
                    .map(|i| format!("encaissement:{i}")),
            );
        }
        Personne::Compte(_) => {}
    }
    let mut clauses: Vec<String> = Vec::new();
    let mut binds: Vec<Bind> = Vec::new();
    for r in &refs {
        binds.push(Bind::T(format!("%\"{r}\"%")));
        clauses.push(format!("subjects LIKE ${}", binds.len()));
    }
    if let Personne::Compte(id) = person {
        binds.push(Bind::I(id));
        clauses.push(format!("actor_account = ${}", binds.len()));
        if let Some(email) = email {
            binds.push(Bind::T(format!("%{}%", core.keys.pseudonym("courriel", email))));
            clauses.push(format!("details LIKE ${}", binds.len()));
        }
    }
    let sql = format!(
        "SELECT seq, at, actor_account, actor_role, action, subjects, details FROM journal WHERE {} ORDER BY seq",
        clauses.join(" OR ")
    );
    let rows = fetch(tx, &sql, &binds).await?;
    Ok(rows
        .into_iter()
        .map(|mut r| {
            for k in ["subjects", "details"] {
                if let Some(Value::String(s)) = r.get(k) {
                    let parsed = serde_json::from_str(s).unwrap_or_else(|_| Value::String(s.clone()));
                    r.insert(k.into(), parsed);
                }
            }
            Value::Object(r)
        })
        .collect())
}
