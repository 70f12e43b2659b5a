//! The filters of a snapshot as bitsets: for each value of a filter (a service, a public, a
//! national programme), one bit per place. A `q=` search with filters ANDs the bitsets of the
//! wanted values once, then keeps only the text index's candidates whose bit is set, instead of
//! reading the packed key of each candidate.

use super::Key;

/// One bitset per value of each filter, over the places of the snapshot (in its order).
#[derive(Debug, Default)]
pub(super) struct FilterBits {
    services: Vec<Vec<u64>>,
    publics: Vec<Vec<u64>>,
    dispositifs: Vec<Vec<u64>>,
}

fn bitsets(keys: &[Key], of: fn(&Key) -> u32) -> Vec<Vec<u64>> {
    let words = keys.len().div_ceil(64);
    let mut sets = vec![vec![0u64; words]; 32];
    for (i, k) in keys.iter().enumerate() {
        let mut m = of(k);
        while m != 0 {
            let b = m.trailing_zeros() as usize;
            sets[b][i / 64] |= 1 << (i % 64);
            m &= m - 1;
        }
    }
    // Values no place has keep an empty set, so that wanting them finds nothing.
    sets
}

impl FilterBits {
    pub(super) fn build(keys: &[Key]) -> FilterBits {
        FilterBits {
            services: bitsets(keys, |k| k.services),
            publics: bitsets(keys, |k| k.publics),
            dispositifs: bitsets(keys, |k| k.dispositifs),
        }
    }

    /// The places that have every wanted value (bit `i` for place `i`); `None` when no filter
    /// is wanted.
    pub(super) fn required(&self, services: u32, publics: u32, dispositifs: u32) -> Option<Vec<u64>> {
        let mut out: Option<Vec<u64>> = None;
        for (sets, mut m) in [
            (&self.services, services),
            (&self.publics, publics),
            (&self.dispositifs, dispositifs),
        ] {
            while m != 0 {
                let b = m.trailing_zeros() as usize;
                m &= m - 1;
                let Some(set) = sets.get(b) else { continue };
                match &mut out {
                    None => out = Some(set.clone()),
                    Some(acc) => acc.iter_mut().zip(set).for_each(|(a, s)| *a &= s),
                }
            }
        }
        out
    }
}

/// Whether place `i` is in `bits`.
pub(super) fn has(bits: &[u64], i: usize) -> bool {
    bits.get(i / 64).is_some_and(|w| w >> (i % 64) & 1 == 1)
}
