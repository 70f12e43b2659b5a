//! What an import report says to a person: one sentence that tells exactly what happened, and
//! its problems grouped by (field, message) with their lines, so that a thousand rows with the
//! same mistake read as one line to fix.

use super::import::Report;
use super::validate::Issue;

/// The same problem on several rows.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Group {
    pub champ: String,
    pub message: String,
    pub nombre: usize,
    /// Every line concerned, in increasing order.
    pub lignes: Vec<usize>,
}

/// `issues` grouped by (field, message), in the order of each group's first line.
pub fn group(issues: &[Issue]) -> Vec<Group> {
    let mut groups: Vec<Group> = Vec::new();
    let mut index: std::collections::HashMap<(&str, &str), usize> = std::collections::HashMap::new();
    for i in issues {
        match index.get(&(i.champ.as_str(), i.message.as_str())) {
            Some(&g) => {
                groups[g].nombre += 1;
                groups[g].lignes.push(i.ligne);
            }
            None => {
                index.insert((&i.champ, &i.message), groups.len());
                groups.push(Group {
                    champ: i.champ.clone(),
                    message: i.message.clone(),
                    nombre: 1,
                    lignes: vec![i.ligne],
                });
            }
        }
    }
    for g in &mut groups {
        g.lignes.sort_unstable();
        g.lignes.dedup();
    }
    groups.sort_by_key(|g| g.lignes.first().copied().unwrap_or_default());
    groups
}

/// « 1 ligne », « 2 lignes » (see [`crate::format_fr::nombre`]).
pub fn count(n: usize, singular: &str, plural: &str) -> String {
    crate::format_fr::nombre(i64::try_from(n).unwrap_or(i64::MAX), singular, plural)
}

impl Report {
    /// Lines read and their verdict: « 12 lignes lues : 10 valides, 2 invalides. »
    pub fn lecture(&self) -> String {
        format!(
            "{} : {}, {}.",
            count(self.lignes, "ligne lue", "lignes lues"),
            count(self.valides, "valide", "valides"),
            count(self.invalides, "invalide", "invalides"),
        )
    }

    /// What was written, or why nothing was and what would have been.
    pub fn resume(&self) -> String {
        let effects = format!(
            "{}, {}, {}",
            count(self.crees, "lieu créé", "lieux créés"),
            count(self.mis_a_jour, "mis à jour", "mis à jour"),
            count(self.inchanges, "inchangé", "inchangés"),
        );
        if self.applique {
            format!("Import terminé : {effects}.")
        } else if self.invalides > 0 {
            format!(
                "Rien n'a été importé : {} sur {}. Sans {}, l'import aurait donné : {effects}.",
                count(self.invalides, "ligne est invalide", "lignes sont invalides"),
                self.lignes,
                if self.invalides > 1 { "elles" } else { "elle" },
            )
        } else if self.crees + self.mis_a_jour == 0 {
            format!("Rien n'a été écrit : le fichier ne change rien ({effects}).")
        } else {
            format!("Rien n'a été écrit (essai) : l'import donnerait {effects}.")
        }
    }

    /// The errors grouped by (field, message).
    pub fn erreurs_groupees(&self) -> Vec<Group> {
        group(&self.erreurs)
    }

    /// The warnings grouped by (field, message).
    pub fn avertissements_groupes(&self) -> Vec<Group> {
        group(&self.avertissements)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn issue(ligne: usize, champ: &str, message: &str) -> Issue {
        Issue {
            ligne,
            champ: champ.into(),
            message: message.into(),
        }
    }

    #[test]
    fn the_same_problem_on_many_rows_reads_as_one_group() {
        let issues = [
            issue(9, "services", "valeur inconnue « X »"),
            issue(3, "code_postal", "code postal inconnu"),
            issue(4, "services", "valeur inconnue « X »"),
            issue(12, "services", "valeur inconnue « Y »"),
            issue(4, "code_postal", "code postal inconnu"),
        ];
        let g = group(&issues);
        assert_eq!(
            g.iter()
                .map(|g| (g.champ.as_str(), g.nombre, g.lignes.clone()))
                .collect::<Vec<_>>(),
            [
                ("code_postal", 2, vec![3, 4]),
                ("services", 2, vec![4, 9]),
                ("services", 1, vec![12])
            ]
        );
    }

    #[test]
    fn the_summary_says_what_happened_in_french_plurals() {
        let mut r = Report {
            lignes: 1,
            valides: 1,
            crees: 1,
            applique: true,
            ..Report::default()
        };
        assert_eq!(r.lecture(), "1 ligne lue : 1 valide, 0 invalide.");
        assert_eq!(r.resume(), "Import terminé : 1 lieu créé, 0 mis à jour, 0 inchangé.");
        r = Report {
            lignes: 60,
            valides: 58,
            invalides: 2,
            crees: 56,
            inchanges: 2,
            ..Report::default()
        };
        assert_eq!(r.lecture(), "60 lignes lues : 58 valides, 2 invalides.");
        assert_eq!(
            r.resume(),
            "Rien n'a été importé : 2 lignes sont invalides sur 60. Sans elles, l'import aurait donné : 56 lieux créés, 0 mis à jour, 2 inchangés."
        );
        r.invalides = 0;
        assert_eq!(
            r.resume(),
            "Rien n'a été écrit (essai) : l'import donnerait 56 lieux créés, 0 mis à jour, 2 inchangés."
        );
        r.crees = 0;
        assert_eq!(
            r.resume(),
            "Rien n'a été écrit : le fichier ne change rien (0 lieu créé, 0 mis à jour, 2 inchangés)."
        );
    }
}
