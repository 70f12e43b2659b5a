//! Reads the schema of a migrated database as a set of facts, one line each
//! (« colonne cheques.etat : texte, NOT NULL »), in words that do not depend
//! on the engine: SQLite through `sqlite_master` and its pragmas, PostgreSQL
//! through `information_schema` and `pg_catalog`. The equivalences between the
//! two dialects are in [`TYPES`] and the rules of `schema_dialectes`; the
//! comparison itself is there.

use std::collections::{BTreeMap, BTreeSet};

use sqlx::{PgPool, SqlitePool};

/// The declared types of each dialect and the family they are compared as.
/// A type missing here fails the comparison (say what it is before using it).
/// PostgreSQL's 32-bit `integer` is deliberately absent: the code reads every
/// integer as `i64`, which a PostgreSQL `integer` column refuses.
pub const TYPES: &[(&str, &str, &str)] = &[
    // (SQLite, PostgreSQL, family)
    ("INTEGER", "bigint", "entier"),
    // SQLite ignores the width: BIGINT is INTEGER affinity (migration 0022 writes it).
    ("BIGINT", "bigint", "entier"),
    ("TEXT", "text", "texte"),
    // SQLite's REAL is an 8-byte float, PostgreSQL's is DOUBLE PRECISION.
    ("REAL", "double precision", "réel"),
    ("BLOB", "bytea", "octets"),
    // SQLite stores BOOLEAN as 0/1 (NUMERIC affinity); sqlx reads both as bool.
    ("BOOLEAN", "boolean", "booléen"),
];

/// One engine's schema: the facts, and the columns of each table's primary key.
#[derive(Debug, Default)]
pub struct Schema {
    pub facts: BTreeSet<String>,
    /// Facts that could not be read in the common words (unknown type, trigger shape…).
    pub unreadable: Vec<String>,
}

fn family(sqlite: bool, declared: &str) -> Option<&'static str> {
    TYPES.iter().find_map(|(s, p, f)| {
        let name = if sqlite { s } else { p };
        name.eq_ignore_ascii_case(declared.trim()).then_some(*f)
    })
}

/// An expression in a comparable form: casts dropped, `= ANY (ARRAY[…])` read
/// as `IN (…)`, keywords in lower case, no blanks nor parentheses outside
/// strings. (Dropping parentheses ignores precedence: good enough to see that
/// two dialects wrote the same condition, not to evaluate it.)
pub fn expression(raw: &str) -> String {
    let casts = regex::Regex::new(r"::[a-z]+( [a-z]+)?(\[\])?").expect("motif des conversions");
    let any = regex::Regex::new(r"(?i)=\s*ANY\s*\(\s*\(?\s*ARRAY\[(.*?)\]\s*\)?\s*\)").expect("motif ANY");
    let without_casts = casts.replace_all(raw, "");
    let as_in = any.replace_all(&without_casts, " IN ($1)");
    let mut out = String::new();
    let mut in_string = false;
    for c in as_in.chars() {
        if c == '\'' {
            in_string = !in_string;
            out.push(c);
        } else if in_string {
            out.push(c);
        } else if !(c.is_whitespace() || c == '(' || c == ')') {
            out.extend(c.to_lowercase());
        }
    }
    out
}

/// `col IN ('a', 'b')` (in [`expression`] form) as the column and its sorted values.
pub fn closed_set(normalised: &str) -> Option<(String, BTreeSet<String>)> {
    let re = regex::Regex::new(r"^([a-z_]+)in('[^']*'(?:,'[^']*')*)$").expect("motif IN");
    let caps = re.captures(normalised)?;
    let values = caps[2].split(',').map(|v| v.trim_matches('\'').to_string()).collect();
    Some((caps[1].to_string(), values))
}

fn fact_closed_set(table: &str, column: &str, values: &BTreeSet<String>) -> String {
    let list: Vec<&str> = values.iter().map(String::as_str).collect();
    format!("valeurs permises {table}.{column} : {}", list.join(", "))
}

/// A CHECK constraint as a fact: a closed set of values when it is one.
fn fact_check(table: &str, raw: &str) -> String {
    let e = expression(raw);
    match closed_set(&e) {
        Some((column, values)) => fact_closed_set(table, &column, &values),
        None => format!("contrôle {table} : {e}"),
    }
}

fn default_value(fam: &str, raw: Option<&str>) -> String {
    let Some(raw) = raw else { return "aucun".into() };
    let casts = regex::Regex::new(r"::[a-z]+( [a-z]+)?$").expect("motif des conversions");
    let v = casts.replace(raw.trim(), "").to_string();
    if fam == "booléen" {
        // The equivalence of the two dialects' boolean literals (SQLite also accepts 1/0).
        return match v.to_ascii_lowercase().as_str() {
            "1" | "true" => "TRUE".into(),
            "0" | "false" => "FALSE".into(),
            other => other.to_string(),
        };
    }
    v
}

/// The bodies of the `CHECK (…)` clauses of a CREATE TABLE statement.
fn check_clauses(sql: &str) -> Vec<String> {
    let keyword = regex::Regex::new(r"(?i)\bCHECK\s*\(").expect("motif CHECK");
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(m) = keyword.find_at(sql, from) {
        let open = m.end() - 1;
        let mut depth = 0;
        let mut end = open;
        for (i, c) in sql[open..].char_indices() {
            match c {
                '(' => depth += 1,
                ')' => {
                    depth -= 1;
                    if depth == 0 {
                        end = open + i;
                        break;
                    }
                }
                _ => {}
            }
        }
        out.push(sql[open + 1..end].to_string());
        from = end;
    }
    out
}

type SqliteColumn = (String, String, bool, Option<String>, i64);
/// (referenced table, columns, referenced columns, ON DELETE)
type SqliteForeignKey = (String, Vec<String>, Vec<Option<String>>, String);

/// The schema of a migrated SQLite database.
pub async fn sqlite(pool: &SqlitePool) -> Schema {
    let mut s = Schema::default();
    let tables: Vec<(String, String)> = sqlx::query_as(
        "SELECT name, sql FROM sqlite_master WHERE type = 'table' \
         AND name NOT LIKE 'sqlite_%' AND name <> '_sqlx_migrations' ORDER BY name",
    )
    .fetch_all(pool)
    .await
    .expect("tables SQLite");
    let mut closed: BTreeMap<(String, String), BTreeMap<&str, BTreeSet<String>>> = BTreeMap::new();
    for (table, sql) in &tables {
        s.facts.insert(format!("table {table}"));
        let columns: Vec<SqliteColumn> =
            sqlx::query_as("SELECT name, type, \"notnull\", dflt_value, pk FROM pragma_table_info($1) ORDER BY cid")
                .bind(table)
                .fetch_all(pool)
                .await
                .expect("colonnes SQLite");
        let mut pk: Vec<(i64, String)> = Vec::new();
        for (name, declared, not_null, default, pk_rank) in &columns {
            let Some(fam) = family(true, declared) else {
                s.unreadable
                    .push(format!("type SQLite « {declared} » de {table}.{name} absent de TYPES"));
                continue;
            };
            if *pk_rank > 0 {
                pk.push((*pk_rank, name.clone()));
            }
            // A rowid alias (INTEGER PRIMARY KEY) cannot be NULL, whatever the pragma says.
            let rowid_alias = *pk_rank > 0
                && declared.eq_ignore_ascii_case("INTEGER")
                && columns.iter().filter(|c| c.4 > 0).count() == 1;
            let null = if *not_null || rowid_alias {
                "NOT NULL"
            } else if *pk_rank > 0 {
                "NULL permis (clé primaire)"
            } else {
                "NULL permis"
            };
            let default = default_value(fam, default.as_deref());
            s.facts
                .insert(format!("colonne {table}.{name} : {fam}, {null}, défaut {default}"));
        }
        pk.sort();
        let pk: Vec<String> = pk.into_iter().map(|(_, n)| n).collect();
        if !pk.is_empty() {
            s.facts.insert(format!("clé primaire {table} ({})", pk.join(", ")));
        }
        if sql.to_ascii_uppercase().contains("AUTOINCREMENT") {
            s.facts
                .insert(format!("numérotation automatique {table}.{}", pk.join(", ")));
        }
        for check in check_clauses(sql) {
            s.facts.insert(fact_check(table, &check));
        }
        sqlite_indexes(pool, table, &mut s).await;
        let fks: Vec<(i64, i64, String, String, Option<String>, String)> = sqlx::query_as(
            "SELECT id, seq, \"table\", \"from\", \"to\", on_delete FROM pragma_foreign_key_list($1) ORDER BY id, seq",
        )
        .bind(table)
        .fetch_all(pool)
        .await
        .expect("clés étrangères SQLite");
        let mut by_id: BTreeMap<i64, SqliteForeignKey> = BTreeMap::new();
        for (id, _, target, from, to, on_delete) in fks {
            let e = by_id
                .entry(id)
                .or_insert_with(|| (target, Vec::new(), Vec::new(), on_delete));
            e.1.push(from);
            e.2.push(to);
        }
        for (target, from, to, on_delete) in by_id.into_values() {
            // `REFERENCES t` without columns names t's primary key.
            let to: Vec<String> = if to.iter().all(Option::is_none) {
                sqlx::query_scalar("SELECT name FROM pragma_table_info($1) WHERE pk > 0 ORDER BY pk")
                    .bind(&target)
                    .fetch_all(pool)
                    .await
                    .expect("clé primaire référencée")
            } else {
                to.into_iter().map(Option::unwrap_or_default).collect()
            };
            s.facts.insert(format!(
                "clé étrangère {table} ({}) → {target} ({}) ON DELETE {on_delete}",
                from.join(", "),
                to.join(", ")
            ));
        }
    }
    let triggers: Vec<(String, String, String)> =
        sqlx::query_as("SELECT name, tbl_name, sql FROM sqlite_master WHERE type = 'trigger' ORDER BY name")
            .fetch_all(pool)
            .await
            .expect("déclencheurs SQLite");
    let head = regex::Regex::new(r"(?is)^CREATE\s+TRIGGER\s+\w+\s+(BEFORE|AFTER|INSTEAD\s+OF)\s+(INSERT|DELETE|UPDATE(?:\s+OF\s+\w+)?)\s+ON\s+\w+")
        .expect("motif des déclencheurs");
    let values =
        regex::Regex::new(r"(?is)WHEN\s+NEW\.(\w+)\s+NOT\s+IN\s*\(([^)]*)\)\s*BEGIN").expect("motif des valeurs");
    for (name, table, sql) in triggers {
        let Some(h) = head.captures(&sql) else {
            s.unreadable
                .push(format!("déclencheur SQLite {name} de forme inconnue"));
            continue;
        };
        let event = h[2].split_whitespace().next().unwrap_or_default().to_ascii_uppercase();
        // A closed set of values held by a pair of triggers (migration 0027): compared as a CHECK.
        if let (Some(kind), Some(v)) = (
            name.strip_suffix("_insert").or(name.strip_suffix("_update")),
            values.captures(&sql),
        ) {
            if kind.ends_with("_valeurs") {
                let set = closed_set(&expression(&format!("{} IN ({})", &v[1], &v[2])))
                    .map(|(_, set)| set)
                    .unwrap_or_default();
                let slot = if event == "INSERT" { "insert" } else { "update" };
                closed
                    .entry((table.clone(), v[1].to_string()))
                    .or_default()
                    .insert(slot, set);
                continue;
            }
        }
        let timing = h[1]
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
            .to_ascii_uppercase();
        s.facts.insert(format!("déclencheur {table} : {timing} {event}"));
    }
    for ((table, column), by_event) in closed {
        match (by_event.get("insert"), by_event.get("update")) {
            (Some(i), Some(u)) if i == u => {
                s.facts.insert(fact_closed_set(&table, &column, i));
            }
            _ => s.unreadable.push(format!(
                "valeurs permises {table}.{column} : il faut un déclencheur _insert et un _update avec la même liste"
            )),
        }
    }
    s
}

async fn sqlite_indexes(pool: &SqlitePool, table: &str, s: &mut Schema) {
    let indexes: Vec<(String, bool, String)> =
        sqlx::query_as("SELECT name, \"unique\", origin FROM pragma_index_list($1) ORDER BY name")
            .bind(table)
            .fetch_all(pool)
            .await
            .expect("index SQLite");
    for (name, unique, origin) in indexes {
        let columns: Vec<String> = sqlx::query_scalar("SELECT name FROM pragma_index_info($1) ORDER BY seqno")
            .bind(&name)
            .fetch_all(pool)
            .await
            .expect("colonnes d'index SQLite");
        match origin.as_str() {
            "pk" => {}
            "u" => {
                s.facts.insert(format!("unicité {table} ({})", columns.join(", ")));
            }
            _ => {
                let sql: String =
                    sqlx::query_scalar("SELECT sql FROM sqlite_master WHERE type = 'index' AND name = $1")
                        .bind(&name)
                        .fetch_one(pool)
                        .await
                        .expect("définition d'index SQLite");
                let upper = sql.to_ascii_uppercase();
                let predicate = upper.rfind(" WHERE ").map(|at| expression(&sql[at + 7..]));
                s.facts.insert(index_fact(&name, table, &columns, unique, predicate));
            }
        }
    }
}

fn index_fact(name: &str, table: &str, columns: &[String], unique: bool, predicate: Option<String>) -> String {
    format!(
        "index {}{name} sur {table} ({}){}",
        if unique { "unique " } else { "" },
        columns.join(", "),
        predicate.map(|p| format!(" où {p}")).unwrap_or_default()
    )
}

type PgColumn = (String, String, String, String, Option<String>, String);
/// (table, kind, definition, columns, referenced table, referenced columns, ON DELETE)
type PgConstraint = (
    String,
    String,
    String,
    Vec<String>,
    Option<String>,
    Option<Vec<String>>,
    String,
);
type PgIndex = (String, String, bool, bool, Option<String>, Vec<String>, bool);

/// The schema of a migrated PostgreSQL database (schema `public`).
pub async fn postgres(pool: &PgPool) -> Schema {
    let mut s = Schema::default();
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT table_name::text FROM information_schema.tables WHERE table_schema = 'public' \
         AND table_type = 'BASE TABLE' AND table_name <> '_sqlx_migrations'",
    )
    .fetch_all(pool)
    .await
    .expect("tables PostgreSQL");
    for t in &tables {
        s.facts.insert(format!("table {t}"));
    }
    let columns: Vec<PgColumn> = sqlx::query_as(
        "SELECT table_name::text, column_name::text, data_type::text, is_nullable::text, column_default::text, is_identity::text \
         FROM information_schema.columns WHERE table_schema = 'public' AND table_name <> '_sqlx_migrations'",
    )
    .fetch_all(pool)
    .await
    .expect("colonnes PostgreSQL");
    for (table, name, declared, nullable, default, identity) in columns {
        let Some(fam) = family(false, &declared) else {
            s.unreadable.push(format!(
                "type PostgreSQL « {declared} » de {table}.{name} absent de TYPES"
            ));
            continue;
        };
        let null = if nullable == "NO" { "NOT NULL" } else { "NULL permis" };
        // BIGSERIAL (a sequence's nextval as default) numbers rows like IDENTITY and
        // like SQLite's AUTOINCREMENT: the same « numérotation automatique ».
        let serial = default.as_deref().is_some_and(|d| d.starts_with("nextval("));
        let default = if serial {
            "aucun".into()
        } else {
            default_value(fam, default.as_deref())
        };
        s.facts
            .insert(format!("colonne {table}.{name} : {fam}, {null}, défaut {default}"));
        if identity == "YES" || serial {
            s.facts.insert(format!("numérotation automatique {table}.{name}"));
        }
    }
    let key_columns =
        "(SELECT array_agg(a.attname::text ORDER BY k.ord) FROM unnest(c.conkey) WITH ORDINALITY AS k(num, ord) \
                        JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.num)";
    let constraints: Vec<PgConstraint> = sqlx::query_as(&format!(
        "SELECT t.relname::text, c.contype::text, pg_get_constraintdef(c.oid), {key_columns}, f.relname::text, \
         (SELECT array_agg(a.attname::text ORDER BY k.ord) FROM unnest(c.confkey) WITH ORDINALITY AS k(num, ord) \
          JOIN pg_attribute a ON a.attrelid = c.confrelid AND a.attnum = k.num), c.confdeltype::text \
         FROM pg_constraint c JOIN pg_class t ON t.oid = c.conrelid JOIN pg_namespace n ON n.oid = t.relnamespace \
         LEFT JOIN pg_class f ON f.oid = c.confrelid \
         WHERE n.nspname = 'public' AND t.relname <> '_sqlx_migrations'"
    ))
    .fetch_all(pool)
    .await
    .expect("contraintes PostgreSQL");
    for (table, kind, def, columns, target, target_columns, on_delete) in constraints {
        match kind.as_str() {
            "p" => {
                s.facts.insert(format!("clé primaire {table} ({})", columns.join(", ")));
            }
            "u" => {
                s.facts.insert(format!("unicité {table} ({})", columns.join(", ")));
            }
            "c" => {
                let body = def.strip_prefix("CHECK ").unwrap_or(&def);
                s.facts.insert(fact_check(&table, body));
            }
            "f" => {
                let on_delete = match on_delete.as_str() {
                    "a" => "NO ACTION",
                    "r" => "RESTRICT",
                    "c" => "CASCADE",
                    "n" => "SET NULL",
                    "d" => "SET DEFAULT",
                    other => other,
                };
                s.facts.insert(format!(
                    "clé étrangère {table} ({}) → {} ({}) ON DELETE {on_delete}",
                    columns.join(", "),
                    target.unwrap_or_default(),
                    target_columns.unwrap_or_default().join(", ")
                ));
            }
            other => s
                .unreadable
                .push(format!("contrainte PostgreSQL de type « {other} » sur {table} : {def}")),
        }
    }
    let indexes: Vec<PgIndex> = sqlx::query_as(
        "SELECT i.relname::text, t.relname::text, ix.indisunique, ix.indisprimary, pg_get_expr(ix.indpred, ix.indrelid), \
         (SELECT array_agg(a.attname::text ORDER BY k.ord) FROM unnest(ix.indkey) WITH ORDINALITY AS k(num, ord) \
          JOIN pg_attribute a ON a.attrelid = ix.indrelid AND a.attnum = k.num), \
         EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = ix.indexrelid AND c.contype IN ('p', 'u')) \
         FROM pg_index ix JOIN pg_class i ON i.oid = ix.indexrelid JOIN pg_class t ON t.oid = ix.indrelid \
         JOIN pg_namespace n ON n.oid = t.relnamespace WHERE n.nspname = 'public' AND t.relname <> '_sqlx_migrations'",
    )
    .fetch_all(pool)
    .await
    .expect("index PostgreSQL");
    for (name, table, unique, _primary, predicate, columns, of_constraint) in indexes {
        if !of_constraint {
            s.facts.insert(index_fact(
                &name,
                &table,
                &columns,
                unique,
                predicate.as_deref().map(expression),
            ));
        }
    }
    let triggers: Vec<(String, i16)> = sqlx::query_as(
        "SELECT t.relname::text, g.tgtype FROM pg_trigger g JOIN pg_class t ON t.oid = g.tgrelid \
         JOIN pg_namespace n ON n.oid = t.relnamespace WHERE n.nspname = 'public' AND NOT g.tgisinternal",
    )
    .fetch_all(pool)
    .await
    .expect("déclencheurs PostgreSQL");
    for (table, tgtype) in triggers {
        // pg_trigger.tgtype: 2 BEFORE, 64 INSTEAD OF; 4 INSERT, 8 DELETE, 16 UPDATE, 32 TRUNCATE.
        let timing = if tgtype & 2 != 0 {
            "BEFORE"
        } else if tgtype & 64 != 0 {
            "INSTEAD OF"
        } else {
            "AFTER"
        };
        for (bit, event) in [(4, "INSERT"), (8, "DELETE"), (16, "UPDATE"), (32, "TRUNCATE")] {
            if tgtype & bit != 0 {
                s.facts.insert(format!("déclencheur {table} : {timing} {event}"));
            }
        }
    }
    s
}
