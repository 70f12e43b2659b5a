//! The text index of a snapshot: for every three bytes of the folded texts of
//! the places (name, commune, postcode), the places that contain them. A `q=`
//! search checks only the places of its rarest trigram, instead of reading
//! the text of every place.

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

    /// The places that may contain `folded` (every one that does, in order): the list of its
    /// rarest trigram, each place of which the search then checks (reading a few thousand
    /// short texts costs less than intersecting the lists of every trigram, measured in
    /// `scripts/bench-lieux-http`). `None` when the text is too short for the index (fewer
    /// than three bytes: read every place).
    pub(super) fn candidates(&self, folded: &str) -> Option<&[u32]> {
        if folded.len() < 3 {
            return None;
        }
        let mut rarest: Option<&[u32]> = None;
        for t in trigrams(folded) {
            match self.lists.get(&t) {
                Some(l) if rarest.is_none_or(|r| l.len() < r.len()) => rarest = Some(l),
                Some(_) => {}
                // A trigram no place has: no place can contain the text.
                None => return Some(&[]),
            }
        }
        rarest
    }
}
