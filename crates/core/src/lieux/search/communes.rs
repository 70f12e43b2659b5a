//! Which commune a person typed in the search box, and where to search around it.
//!
//! Every commune of the official list is recognised, even where no place is listed: by name
//! (without accents, hyphens or apostrophes, « St »/« Ste » read as « Saint »/« Sainte »,
//! optionally followed by its département: « Saint-Denis 974 »), by postcode, by INSEE code,
//! the municipal arrondissements of Paris, Lyon and Marseille (« Paris 15 », « Lyon 3e »), and
//! the overseas communes. Homonyms are all returned, the most populous first.
//!
//! No package of an allowed registry ships a position for every commune
//! (`@etalab/decoupage-administratif` and `codes-postaux` have none), so a commune's position is
//! the mean position of the places listed in it; where there is none, of the places that share
//! its postcode, then of those of its intercommunalité (EPCI), then of its département. The
//! [`Repere`] says which, and the page says it in words.

use std::collections::HashMap;

use crate::lieux::model::fold;

/// A commune of the official list, as the search needs it.
#[derive(Debug, Clone, Default)]
pub struct Commune {
    pub code: String,
    pub nom: String,
    pub departement: String,
    pub departement_nom: String,
    pub codes_postaux: Vec<String>,
    pub population: i64,
    /// The commune of a municipal arrondissement (empty otherwise).
    pub parente: String,
    pub epci: String,
    pub epci_nom: String,
}

/// How the searched text was read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Lecture {
    Nom,
    CodePostal,
    CodeInsee,
}

/// What the distances are measured from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Repere {
    /// The places listed in the commune.
    Commune,
    /// The places that share its postcode.
    CodePostal,
    /// The places of its EPCI.
    Epci,
    /// The places of its département.
    Departement,
}

/// A commune understood from the searched text.
#[derive(Debug, Clone)]
pub struct Compris<'a> {
    pub commune: &'a Commune,
    /// Other communes the text may mean (homonyms, or the other communes of a postcode), most
    /// populous first.
    pub autres: Vec<&'a Commune>,
    pub lecture: Lecture,
    /// Where to search around, and what that point is; `None` when not one place is listed in
    /// the whole département.
    pub position: Option<((f64, f64), Repere)>,
}

/// Sums of positions, for means.
#[derive(Debug, Default, Clone, Copy)]
struct Sum {
    lat: f64,
    lon: f64,
    n: u32,
}

impl Sum {
    fn add(&mut self, lat: f64, lon: f64) {
        self.lat += lat;
        self.lon += lon;
        self.n += 1;
    }

    fn mean(&self) -> Option<(f64, f64)> {
        (self.n > 0).then(|| (self.lat / f64::from(self.n), self.lon / f64::from(self.n)))
    }
}

/// The official communes, with the positions the listed places give them.
#[derive(Debug, Default)]
pub struct Communes {
    list: Vec<Commune>,
    by_name: HashMap<String, Vec<usize>>,
    by_code: HashMap<String, usize>,
    by_postcode: HashMap<String, Vec<usize>>,
    of_commune: HashMap<usize, Sum>,
    of_postcode: HashMap<String, Sum>,
    of_epci: HashMap<String, Sum>,
    of_departement: HashMap<String, Sum>,
}

/// The key a commune name is looked up by: folded, « œ » spelt out, « St »/« Ste » in full.
pub fn key(s: &str) -> String {
    let s = s
        .replace(['œ', 'Œ'], "oe")
        .replace(['æ', 'Æ'], "ae")
        .replace(['ÿ', 'Ÿ'], "y");
    fold(&s)
        .split(' ')
        .map(|w| match w {
            "st" => "saint",
            "ste" => "sainte",
            w => w,
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// The other ways to write the name of a municipal arrondissement: « Paris 15e Arrondissement »
/// is also « paris 15 », « paris 15e », « paris 15eme ».
fn arrondissement_keys(nom_key: &str) -> Vec<String> {
    let words: Vec<&str> = nom_key.split(' ').collect();
    let [city @ .., number, "arrondissement"] = words.as_slice() else {
        return Vec::new();
    };
    let digits: String = number.chars().take_while(char::is_ascii_digit).collect();
    if digits.is_empty() || city.is_empty() {
        return Vec::new();
    }
    let city = city.join(" ");
    let mut keys: Vec<String> = ["", "e", "eme", "er", "ere"]
        .iter()
        .map(|suffix| format!("{city} {digits}{suffix}"))
        .collect();
    keys.push(format!("{city} {digits} arrondissement"));
    keys
}

/// A département code written after a name: « 33 », « 2a », « 974 ».
fn is_departement(word: &str) -> bool {
    matches!(word.len(), 2 | 3) && (word.chars().all(|c| c.is_ascii_digit()) || matches!(word, "2a" | "2b"))
}

impl Communes {
    /// The list, indexed by name, code and postcode.
    pub fn new(list: Vec<Commune>) -> Communes {
        let mut c = Communes {
            list,
            ..Default::default()
        };
        for (i, co) in c.list.iter().enumerate() {
            let k = key(&co.nom);
            for alias in arrondissement_keys(&k) {
                c.by_name.entry(alias).or_default().push(i);
            }
            c.by_name.entry(k).or_default().push(i);
            c.by_code.insert(co.code.clone(), i);
            for cp in &co.codes_postaux {
                c.by_postcode.entry(cp.clone()).or_default().push(i);
            }
        }
        // An arrondissement before its commune (a postcode of Paris names one arrondissement),
        // then the most populous first.
        let list = &c.list;
        let order = |v: &mut Vec<usize>| {
            v.sort_by_key(|&i| (list[i].parente.is_empty(), std::cmp::Reverse(list[i].population)));
            v.dedup();
        };
        c.by_name.values_mut().for_each(order);
        c.by_postcode.values_mut().for_each(order);
        c
    }

    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// The commune of a listed place: by its INSEE code, else by its name and postcode.
    fn of_place(&self, code_insee: &str, commune: &str, code_postal: &str) -> Option<usize> {
        if let Some(&i) = self.by_code.get(code_insee) {
            return Some(i);
        }
        self.by_name
            .get(&key(commune))?
            .iter()
            .copied()
            .find(|&i| self.list[i].codes_postaux.iter().any(|cp| cp == code_postal))
    }

    /// Adds a listed place to the positions of its commune, postcode, EPCI and département.
    pub fn locate(&mut self, code_insee: &str, commune: &str, code_postal: &str, lat: f64, lon: f64) {
        if !code_postal.is_empty() {
            self.of_postcode
                .entry(code_postal.to_string())
                .or_default()
                .add(lat, lon);
        }
        let Some(i) = self.of_place(code_insee, commune, code_postal) else {
            return;
        };
        self.of_commune.entry(i).or_default().add(lat, lon);
        let co = &self.list[i];
        // An arrondissement's places are also its commune's (« Paris »).
        if let Some(&parent) = self.by_code.get(&co.parente) {
            self.of_commune.entry(parent).or_default().add(lat, lon);
        }
        if !co.epci.is_empty() {
            self.of_epci.entry(co.epci.clone()).or_default().add(lat, lon);
        }
        self.of_departement
            .entry(co.departement.clone())
            .or_default()
            .add(lat, lon);
    }

    /// Where to search around a commune (through `postcode` when it was typed).
    fn position(&self, i: usize, postcode: Option<&str>) -> Option<((f64, f64), Repere)> {
        let co = &self.list[i];
        if let Some(p) = self.of_commune.get(&i).and_then(Sum::mean) {
            return Some((p, Repere::Commune));
        }
        let mut shared = Sum::default();
        let postcodes: Vec<&str> = match postcode {
            Some(p) => vec![p],
            None => co.codes_postaux.iter().map(String::as_str).collect(),
        };
        for s in postcodes.iter().filter_map(|p| self.of_postcode.get(*p)) {
            shared.lat += s.lat;
            shared.lon += s.lon;
            shared.n += s.n;
        }
        if let Some(p) = shared.mean() {
            return Some((p, Repere::CodePostal));
        }
        if let Some(p) = self.of_epci.get(&co.epci).and_then(Sum::mean) {
            return Some((p, Repere::Epci));
        }
        self.of_departement
            .get(&co.departement)
            .and_then(Sum::mean)
            .map(|p| (p, Repere::Departement))
    }

    fn compris(&self, found: &[usize], lecture: Lecture, postcode: Option<&str>) -> Option<Compris<'_>> {
        let (&first, rest) = found.split_first()?;
        let commune = &self.list[first];
        Some(Compris {
            commune,
            // Not the commune of the arrondissement understood: it is not another choice.
            autres: rest
                .iter()
                .map(|&i| &self.list[i])
                .filter(|o| o.code != commune.parente)
                .collect(),
            lecture,
            position: self.position(first, postcode),
        })
    }

    /// The commune that `text` names, if it names one. `choisie` (an INSEE code, from a link
    /// that offered homonyms) picks one of several.
    pub fn comprendre(&self, text: &str, choisie: Option<&str>) -> Option<Compris<'_>> {
        let text = text.trim();
        let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
        let (mut found, lecture, postcode) = if let Some(v) = self.by_postcode.get(&compact) {
            (v.clone(), Lecture::CodePostal, Some(compact.as_str()))
        } else if let Some(&i) = self.by_code.get(&compact.to_uppercase()) {
            (vec![i], Lecture::CodeInsee, None)
        } else {
            (self.by_name(&key(text))?, Lecture::Nom, None)
        };
        if let Some(pos) = choisie.and_then(|c| found.iter().position(|&i| self.list[i].code == c)) {
            let chosen = found.remove(pos);
            found.insert(0, chosen);
        }
        self.compris(&found, lecture, postcode)
    }

    /// The communes of a name key, or of a name key followed by a département.
    fn by_name(&self, k: &str) -> Option<Vec<usize>> {
        if let Some(v) = self.by_name.get(k) {
            return Some(v.clone());
        }
        let (name, dep) = k.rsplit_once(' ')?;
        if !is_departement(dep) {
            return None;
        }
        let dep = dep.to_uppercase();
        let v: Vec<usize> = self
            .by_name
            .get(name)?
            .iter()
            .copied()
            .filter(|&i| self.list[i].departement == dep)
            .collect();
        (!v.is_empty()).then_some(v)
    }
}

#[cfg(test)]
#[path = "communes_tests.rs"]
mod tests;
