//! The `ouvert_maintenant` filter of a search: decided once per distinct
//! hours text and time zone, then read per place from its compact key.

use jiff::civil::DateTime;
use jiff::Timestamp;

use super::{Index, Key};

/// Whether places are open at one instant, decided once per distinct hours
/// text and time zone (a search around Paris meets thousands of places and
/// a few dozen distinct hours), then read per place from its compact key.
pub(super) struct OpenNow {
    /// The local time of the instant in each zone of the index.
    local: Vec<DateTime>,
    /// By `zone * hours + hours index`: 0 not decided yet, 1 open, 2 closed.
    decided: Vec<u8>,
    hours: usize,
}

impl OpenNow {
    pub(super) fn new(index: &Index, at: Timestamp) -> OpenNow {
        let hours = index.hours.len();
        OpenNow {
            local: index.zones.iter().map(|z| z.local(at)).collect(),
            decided: vec![0; hours * index.zones.len()],
            hours,
        }
    }

    pub(super) fn is_open(&mut self, index: &Index, k: &Key) -> bool {
        let (h, z) = (k.hours as usize, usize::from(k.zone));
        let Some(slot) = self.decided.get_mut(z * self.hours + h) else {
            return false;
        };
        if *slot == 0 {
            let open = match (index.hours.get(h).and_then(|x| x.2.as_ref()), self.local.get(z)) {
                (Some(opening), Some(t)) => opening.is_open(*t),
                _ => false,
            };
            *slot = if open { 1 } else { 2 };
        }
        *slot == 1
    }
}
