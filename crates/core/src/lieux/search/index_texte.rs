//! The text index of a snapshot: for every three bytes of the folded texts of
//! the places (name, commune, postcode), the places that contain them. A `q=`
//! search reads the shortest lists and intersects them, then checks the
//! remaining few places, instead of reading the text of every place.

use std::collections::HashMap;

use super::Entry;

/// A sequence of three bytes of a folded text.
type Trigram = [u8; 3];

#[derive(Debug, Default)]
pub(super) struct TextIndex {
    /// By trigram, the indexes of the places whose folded text holds it, in order.
    lists: HashMap<Trigram, Vec<u32>>,
}

fn trigrams(text: &str) -> impl Iterator<Item = Trigram> + '_ {
    text.as_bytes().windows(3).map(|w| [w[0], w[1], w[2]])
}

impl TextIndex {
    pub(super) fn build(entries: &[Entry]) -> TextIndex {
        let mut lists: HashMap<Trigram, Vec<u32>> = HashMap::new();
        let mut seen: Vec<Trigram> = Vec::new();
        for (i, e) in entries.iter().enumerate() {
            let Ok(i) = u32::try_from(i) else { break };
            seen.clear();
            seen.extend(trigrams(&e.folded));
            seen.sort_unstable();
            seen.dedup();
            for t in &seen {
                lists.entry(*t).or_default().push(i);
            }
        }
        TextIndex { lists }
    }

    /// The places that may contain `folded` (every one that does, in order), or `None` when
    /// the text is too short for the index (fewer than three bytes: read every place).
    pub(super) fn candidates(&self, folded: &str) -> Option<Vec<u32>> {
        if folded.len() < 3 {
            return None;
        }
        let mut lists: Vec<&Vec<u32>> = Vec::new();
        for t in trigrams(folded) {
            match self.lists.get(&t) {
                Some(l) => lists.push(l),
                // A trigram no place has: no place can contain the text.
                None => return Some(Vec::new()),
            }
        }
        lists.sort_by_key(|l| l.len());
        lists.dedup_by(|a, b| std::ptr::eq(*a, *b));
        let mut out = lists.first().map(|l| (*l).clone()).unwrap_or_default();
        for l in lists.iter().skip(1) {
            if out.is_empty() {
                break;
            }
            out.retain(|i| l.binary_search(i).is_ok());
        }
        Some(out)
    }
}
