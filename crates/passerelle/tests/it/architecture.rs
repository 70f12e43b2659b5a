//! docs/ARCHITECTURE.md, section « Où vit chaque règle »: every row names a
//! file that exists and a function (or, for a migration, a name) that it
//! contains. Whether that function really decides the rule is for review.

use std::path::{Path, PathBuf};

const SECTION: &str = "## Où vit chaque règle";

/// One row of the table: the rule, the file from the repository root, the function.
#[derive(Debug)]
struct Row {
    line: usize,
    regle: String,
    fichier: String,
    fonction: String,
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn cell(text: &str) -> String {
    text.trim().trim_matches('`').trim().to_string()
}

/// The rows of the table of the section (header and separator skipped).
fn rows(doc: &str) -> Vec<Row> {
    let mut lines = doc.lines().enumerate();
    assert!(
        lines.any(|(_, l)| l.trim() == SECTION),
        "docs/ARCHITECTURE.md n'a pas de section « {SECTION} »"
    );
    lines
        .take_while(|(_, l)| !l.starts_with("## "))
        .filter(|(_, l)| l.trim_start().starts_with('|'))
        .skip(2)
        .map(|(i, l)| {
            let cells: Vec<&str> = l.trim().trim_matches('|').split('|').collect();
            assert_eq!(
                cells.len(),
                3,
                "ARCHITECTURE.md ligne {} : trois colonnes attendues (Règle, Fichier, Fonction) : {l}",
                i + 1
            );
            Row {
                line: i + 1,
                regle: cell(cells[0]),
                fichier: cell(cells[1]),
                fonction: cell(cells[2]),
            }
        })
        .collect()
}

/// Whether `line` declares `fn name(` or `fn name<`, possibly `pub`,
/// `pub(crate)`, `pub(super)` and `async`.
fn declares(line: &str, name: &str) -> bool {
    let mut rest = line.trim_start();
    for prefix in ["pub(crate) ", "pub(super) ", "pub "] {
        if let Some(r) = rest.strip_prefix(prefix) {
            rest = r;
            break;
        }
    }
    let rest = rest.strip_prefix("async ").unwrap_or(rest);
    rest.strip_prefix("fn ")
        .and_then(|r| r.strip_prefix(name))
        .is_some_and(|r| r.starts_with('(') || r.starts_with('<'))
}

/// Ok when the row's file exists under `root` and holds its function (a
/// Rust file) or its text (any other file, e.g. an index of a migration).
fn check_row(root: &Path, row: &Row) -> Result<(), String> {
    let what = format!("ARCHITECTURE.md ligne {} (« {} ») : ", row.line, row.regle);
    if row.fonction.is_empty() {
        return Err(format!("{what}aucune fonction nommée"));
    }
    let path = root.join(&row.fichier);
    let text =
        std::fs::read_to_string(&path).map_err(|e| format!("{what}le fichier {} est illisible ({e})", row.fichier))?;
    let found = if row.fichier.ends_with(".rs") {
        text.lines().any(|l| declares(l, &row.fonction))
    } else {
        text.contains(&row.fonction)
    };
    if found {
        Ok(())
    } else if row.fichier.ends_with(".rs") {
        Err(format!("{what}pas de `fn {}` dans {}", row.fonction, row.fichier))
    } else {
        Err(format!(
            "{what}« {} » n'apparaît pas dans {}",
            row.fonction, row.fichier
        ))
    }
}

#[test]
fn where_each_rule_lives_is_true() {
    let root = repo_root();
    let doc = std::fs::read_to_string(root.join("docs/ARCHITECTURE.md")).expect("docs/ARCHITECTURE.md");
    let rows = rows(&doc);
    assert!(
        rows.len() >= 15,
        "« {SECTION} » : au moins 15 règles attendues, {} trouvées",
        rows.len()
    );
    let failures: Vec<String> = rows.iter().filter_map(|r| check_row(&root, r).err()).collect();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn a_row_naming_a_missing_function_or_file_is_reported() {
    let root = repo_root();
    let doc = format!(
        "# Titre\n\n{SECTION}\n\nIntroduction.\n\n| Règle | Fichier | Fonction |\n|---|---|---|\n\
         | Une règle inventée | `crates/core/src/pass_numerique/redeem.rs` | `aucune_fonction_de_ce_nom` |\n\
         | Une règle bien placée | `crates/core/src/pass_numerique/redeem.rs` | `redeem` |\n\
         | Un index inventé | `crates/core/migrations/postgres/0006_pass_numerique.sql` | `index_inexistant` |\n\
         | Un fichier absent | `crates/core/src/nulle_part.rs` | `redeem` |\n\n## Suite\n\n| a | b | c |\n|---|---|---|\n| x | y | z |\n"
    );
    let rows = rows(&doc);
    assert_eq!(rows.len(), 4, "les lignes après la section suivante ne comptent pas");
    let missing = check_row(&root, &rows[0]).unwrap_err();
    assert!(missing.contains("aucune_fonction_de_ce_nom"), "{missing}");
    assert!(missing.contains("ligne 9"), "{missing}");
    assert!(check_row(&root, &rows[1]).is_ok());
    assert!(check_row(&root, &rows[2]).unwrap_err().contains("index_inexistant"));
    assert!(check_row(&root, &rows[3]).unwrap_err().contains("nulle_part.rs"));
}

#[test]
fn declarations_are_recognised_and_prefixes_are_not_enough() {
    assert!(declares("pub async fn redeem(", "redeem"));
    assert!(declares("    pub fn parse(input: &str)", "parse"));
    assert!(declares("pub(crate) async fn create(", "create"));
    assert!(declares("fn rules(row: Option<&ChequeRow>)", "rules"));
    assert!(declares("pub fn parse_list<S: AsRef<str>>(keys: &[S])", "parse_list"));
    assert!(!declares("pub fn redeem_all(", "redeem"));
    assert!(!declares("let x = redeem(core)", "redeem"));
    assert!(!declares("// fn redeem(", "redeem"));
}
