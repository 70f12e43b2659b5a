//! The two migration dialects (crates/core/migrations/sqlite and …/postgres)
//! describe the same schema: both are applied to empty databases and read back
//! as facts (`schema_lecture`), which must be equal but for the exceptions
//! below, each named and justified. Types are compared through the
//! equivalence table `schema_lecture::TYPES`.
//!
//! It needs both engines: it compares in the PostgreSQL run of the suite
//! (`PASSERELLE_TEST_DATABASE_URL`) and says that it did not in the SQLite run.

use std::collections::BTreeSet;

use passerelle_core::{Db, Pool};

use crate::schema_lecture::{self, Schema};
use crate::support::create_pg_database;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Engine {
    Sqlite,
    Postgres,
}

/// A difference the dialects are allowed: on `engine`, a fact matching
/// `pattern` is rewritten to `replacement` (dropped when `None`) before the
/// comparison. Every exception must still apply, or it is stale and the test fails.
struct Exception {
    name: &'static str,
    reason: &'static str,
    engine: Engine,
    pattern: &'static str,
    replacement: Option<&'static str>,
}

const EXCEPTIONS: &[Exception] = &[
    Exception {
        name: "cle_primaire_nullable_sqlite",
        reason: "SQLite laisse, par compatibilité historique, une clé primaire autre que INTEGER recevoir NULL \
                 (PostgreSQL l'interdit) ; le code n'écrit jamais de clé NULL, et le corriger demanderait de \
                 reconstruire ces tables pour rien",
        engine: Engine::Sqlite,
        pattern: r"^(colonne [^ ]+ : [^,]+), NULL permis \(clé primaire\), (.*)$",
        replacement: Some("$1, NOT NULL, $2"),
    },
    Exception {
        name: "truncate_postgresql",
        reason: "SQLite n'a pas d'instruction TRUNCATE (un DELETE sans WHERE y déclenche les déclencheurs DELETE) : \
                 seul PostgreSQL a besoin de refuser TRUNCATE sur le journal",
        engine: Engine::Postgres,
        pattern: r"^déclencheur (journal|journal_checkpoints) : BEFORE TRUNCATE$",
        replacement: None,
    },
];

/// Applies the exceptions of `engine`; returns the names of those that applied.
fn apply(engine: Engine, schema: &Schema) -> (BTreeSet<String>, BTreeSet<&'static str>) {
    let mut used = BTreeSet::new();
    let rules: Vec<(&Exception, regex::Regex)> = EXCEPTIONS
        .iter()
        .filter(|e| e.engine == engine)
        .map(|e| (e, regex::Regex::new(e.pattern).expect("motif d'exception")))
        .collect();
    let mut out = BTreeSet::new();
    'facts: for fact in &schema.facts {
        for (e, re) in &rules {
            if re.is_match(fact) {
                used.insert(e.name);
                if let Some(r) = e.replacement {
                    out.insert(re.replace(fact, r).into_owned());
                }
                continue 'facts;
            }
        }
        out.insert(fact.clone());
    }
    (out, used)
}

async fn migrated_sqlite() -> (tempfile::TempDir, Db) {
    let dir = tempfile::tempdir().expect("dossier temporaire");
    let url = format!("sqlite:{}/schema.db?mode=rwc", dir.path().display());
    let db = Db::connect(&url).await.expect("base SQLite");
    db.migrate().await.expect("migrations SQLite");
    (dir, db)
}

#[tokio::test]
async fn the_sqlite_and_postgresql_migrations_give_the_same_schema() {
    let server = match std::env::var("PASSERELLE_TEST_DATABASE_URL") {
        Ok(s) if !s.is_empty() => s,
        _ => {
            eprintln!(
                "IGNORÉ : la comparaison des schémas SQLite et PostgreSQL ne se fait que dans le volet PostgreSQL \
                 (PASSERELLE_TEST_DATABASE_URL)"
            );
            return;
        }
    };
    let (_dir, sqlite) = migrated_sqlite().await;
    let pg = Db::connect(&create_pg_database(&server).await)
        .await
        .expect("base PostgreSQL");
    pg.migrate().await.expect("migrations PostgreSQL");
    let (Pool::Sqlite(sqlite_pool), Pool::Postgres(pg_pool)) = (&sqlite.pool, &pg.pool) else {
        panic!("moteurs inattendus");
    };
    let s = schema_lecture::sqlite(sqlite_pool).await;
    let p = schema_lecture::postgres(pg_pool).await;
    let unreadable: Vec<&String> = s.unreadable.iter().chain(&p.unreadable).collect();
    let (s_facts, s_used) = apply(Engine::Sqlite, &s);
    let (p_facts, p_used) = apply(Engine::Postgres, &p);
    let stale: Vec<String> = EXCEPTIONS
        .iter()
        .filter(|e| !s_used.contains(e.name) && !p_used.contains(e.name))
        .map(|e| format!("{} ({})", e.name, e.reason))
        .collect();
    let only_sqlite: Vec<&String> = s_facts.difference(&p_facts).collect();
    let only_pg: Vec<&String> = p_facts.difference(&s_facts).collect();
    assert!(
        unreadable.is_empty() && only_sqlite.is_empty() && only_pg.is_empty(),
        "les deux dialectes divergent ; corrigez par une migration, ou ajoutez une exception justifiée.\n\
         Non lisible dans les termes communs :\n{unreadable:#?}\n\
         Seulement en SQLite :\n{}\nSeulement en PostgreSQL :\n{}",
        only_sqlite
            .iter()
            .map(|f| format!("  {f}"))
            .collect::<Vec<_>>()
            .join("\n"),
        only_pg.iter().map(|f| format!("  {f}")).collect::<Vec<_>>().join("\n"),
    );
    assert!(
        stale.is_empty(),
        "exceptions qui ne servent plus (à retirer) : {stale:?}"
    );
    // The reading itself saw the schema (a reader that returns nothing would pass).
    for fact in [
        "colonne cheques.etat : texte, NOT NULL, défaut aucun",
        "valeurs permises cheques.etat : actif, annule, en_attente, encaisse, expire",
        "valeurs permises aidants_invitations.statut : acceptee, en_attente, refusee",
        "clé étrangère encaissements (cheque_id) → cheques (id) ON DELETE NO ACTION",
        "index unique qualifications_active sur qualifications (lieu_id) où etatin'active','suspendue'",
        "unicité cheques (carnet_id, rang)",
        "numérotation automatique lieux.id",
    ] {
        assert!(s_facts.contains(fact), "fait attendu non lu : {fact}");
    }
    assert!(s_facts
        .iter()
        .any(|f| f.starts_with("déclencheur journal : BEFORE INSERT")));
    assert!(s_facts.len() > 500, "{} faits seulement", s_facts.len());
}

#[test]
fn expressions_of_both_dialects_read_the_same() {
    let sqlite = schema_lecture::expression("etat IN ('active', 'suspendue') AND siret IS NOT NULL");
    let pg =
        schema_lecture::expression("((etat = ANY (ARRAY['active'::text, 'suspendue'::text])) AND (siret IS NOT NULL))");
    assert_eq!(sqlite, pg);
    assert_ne!(
        sqlite,
        schema_lecture::expression("etat IN ('active') AND siret IS NOT NULL")
    );
    let (column, values) = schema_lecture::closed_set(&pg.replace("andsiretisnotnull", "")).expect("liste fermée");
    assert_eq!(column, "etat");
    assert_eq!(values.into_iter().collect::<Vec<_>>(), ["active", "suspendue"]);
}
