//! Statistics of a set of accompaniments, computed in one pass.

use std::collections::BTreeMap;

use super::Entry;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    pub accompagnements: i64,
    pub minutes: i64,
    /// Individuals and quick helps count one person; a workshop its participants.
    pub personnes: i64,
    /// (YYYY-MM, count), oldest first.
    pub par_mois: Vec<(String, i64)>,
    /// (kind key, count), in the order of `model::NATURES`, zeros included.
    pub par_nature: Vec<(String, i64)>,
    /// (theme key, count of accompaniments with that theme), in the standard's order, zeros left out.
    pub par_thematique: Vec<(String, i64)>,
}

impl Stats {
    /// Total duration as « 12 h 30 ».
    pub fn heures(&self) -> String {
        format!("{} h {:02}", self.minutes / 60, self.minutes % 60)
    }
}

pub fn compute(entries: &[Entry]) -> Stats {
    let mut months: BTreeMap<String, i64> = BTreeMap::new();
    let mut kinds: BTreeMap<&str, i64> = BTreeMap::new();
    let mut themes: BTreeMap<&str, i64> = BTreeMap::new();
    let mut s = Stats::default();
    for e in entries {
        s.accompagnements += 1;
        s.minutes += e.duree_minutes;
        s.personnes += e.participants;
        *months.entry(e.jour.get(..7).unwrap_or("").to_string()).or_default() += 1;
        *kinds.entry(e.nature.as_str()).or_default() += 1;
        for t in e.themes() {
            *themes.entry(t).or_default() += 1;
        }
    }
    s.par_mois = months.into_iter().collect();
    s.par_nature = super::model::NATURES
        .iter()
        .map(|(k, _)| (k.to_string(), kinds.get(k).copied().unwrap_or(0)))
        .collect();
    s.par_thematique = super::model::themes()
        .into_iter()
        .filter_map(|(k, _)| themes.get(k.as_str()).map(|n| (k.clone(), *n)))
        .collect();
    s
}
