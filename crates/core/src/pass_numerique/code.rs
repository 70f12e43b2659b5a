//! Cheque codes.
//!
//! A code is 16 symbols of Crockford's base32 (80 bits) followed by one check
//! symbol from the same alphabet, shown in groups: `ABCD-EFGH-JKMN-PQRST`.
//!
//! The check symbol is computed with a totally anti-symmetric quasigroup over
//! GF(32) (Damm's construction `x ∗ y = 2·x ⊕ y`): it catches every single
//! substitution and every transposition of two adjacent symbols, so a typo is
//! answered "code mal saisi" before the database is asked.
//!
//! Codes are accepted in any case, with or without spaces and dashes, with
//! Crockford's look-alikes (`O` → `0`, `I`/`L` → `1`).
//!
//! The database never holds a code: a cheque's code is derived from its
//! booklet's random seed and its rank with a key of the data directory
//! ([`Derivation`]), so booklets can be reprinted, and it is found by a keyed
//! hash ([`Lookup`]) of the code.

use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;

/// Crockford's base32 alphabet (no I, L, O, U).
pub const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
/// Random symbols in a code (16 × 5 = 80 bits).
pub const PAYLOAD: usize = 16;
/// Symbols in a code, check symbol included.
pub const LEN: usize = PAYLOAD + 1;

/// A well-formed code: its check symbol is right. Its `Debug` form hides it,
/// so that a code never reaches a log by accident.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Code([u8; LEN]);

impl std::fmt::Debug for Code {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Code(…)")
    }
}

/// Why a typed text is not a code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Malformed {
    /// A character that is not in the alphabet.
    Character,
    /// Too few or too many symbols.
    Length,
    /// The check symbol does not match (a typo or a transposition).
    Check,
}

/// `v` times 2 (the element x) in GF(32) modulo x⁵ + x² + 1: the only
/// product Damm's check needs. (A general multiplication was written before;
/// with 2 as its first factor, mutation testing showed part of it could never
/// change a result.)
fn double(v: u8) -> u8 {
    let shifted = v << 1;
    if shifted & 0x20 != 0 {
        shifted ^ 0x25
    } else {
        shifted
    }
}

/// Damm's interim digit after `symbols`.
fn interim(symbols: &[u8]) -> u8 {
    symbols.iter().fold(0, |i, &d| double(i) ^ d)
}

fn value_of(c: char) -> Option<u8> {
    let c = match c.to_ascii_uppercase() {
        'O' => '0',
        'I' | 'L' => '1',
        c => c,
    };
    ALPHABET.iter().position(|&a| a as char == c).map(|p| p as u8)
}

impl Code {
    /// A code from 80 bits (the first 10 bytes), with its check symbol.
    pub fn from_bits(bits: &[u8; 10]) -> Code {
        let mut symbols = [0u8; LEN];
        let mut wide = [0u8; 16];
        wide[6..].copy_from_slice(bits);
        let acc = u128::from_be_bytes(wide);
        for (i, s) in symbols.iter_mut().take(PAYLOAD).enumerate() {
            *s = ((acc >> (5 * (PAYLOAD - 1 - i))) & 0x1f) as u8;
        }
        symbols[PAYLOAD] = double(interim(&symbols[..PAYLOAD]));
        Code(symbols)
    }

    /// A code with 80 bits from the operating system's random generator.
    pub fn random() -> Code {
        let mut bits = [0u8; 10];
        rand::rngs::OsRng.fill_bytes(&mut bits);
        Code::from_bits(&bits)
    }

    /// Reads a code as a person or a scanner gives it.
    pub fn parse(input: &str) -> Result<Code, Malformed> {
        let mut symbols = [0u8; LEN];
        let mut n = 0;
        for c in input.chars() {
            if c.is_whitespace() || matches!(c, '-' | '‐' | '‑' | '–' | '.') {
                continue;
            }
            let v = value_of(c).ok_or(Malformed::Character)?;
            if n == LEN {
                return Err(Malformed::Length);
            }
            symbols[n] = v;
            n += 1;
        }
        if n != LEN {
            return Err(Malformed::Length);
        }
        if interim(&symbols) != 0 {
            return Err(Malformed::Check);
        }
        Ok(Code(symbols))
    }

    /// The 17 symbols without separators (for URLs and hashing).
    pub fn compact(&self) -> String {
        self.0.iter().map(|&s| ALPHABET[s as usize] as char).collect()
    }

    /// The code in groups for reading: `ABCD-EFGH-JKMN-PQRST`.
    pub fn grouped(&self) -> String {
        let c = self.compact();
        format!("{}-{}-{}-{}", &c[0..4], &c[4..8], &c[8..12], &c[12..])
    }
}

/// Derives the codes of a booklet from its seed (random, stored) and a key of
/// the data directory (never stored): the same booklet can be reprinted, a
/// copy of the database alone gives no code.
#[derive(Clone)]
pub struct Derivation(Hmac<Sha256>);

impl Derivation {
    pub fn new(key: &[u8; 32]) -> Derivation {
        Derivation(<Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC accepts any key length"))
    }

    /// The code of the cheque of rank `rank` (1-based) in the booklet with this seed.
    pub fn code(&self, seed: &[u8], rank: u32) -> Code {
        let mut mac = self.0.clone();
        mac.update(seed);
        mac.update(&rank.to_be_bytes());
        let out = mac.finalize().into_bytes();
        let mut bits = [0u8; 10];
        bits.copy_from_slice(&out[..10]);
        Code::from_bits(&bits)
    }
}

/// The keyed hash under which a cheque is found from its code.
#[derive(Clone)]
pub struct Lookup(Hmac<Sha256>);

impl Lookup {
    pub fn new(key: &[u8; 32]) -> Lookup {
        Lookup(<Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC accepts any key length"))
    }

    /// 16 bytes of HMAC-SHA-256 of the compact code.
    pub fn hash(&self, code: &Code) -> Vec<u8> {
        let mut mac = self.0.clone();
        mac.update(code.compact().as_bytes());
        mac.finalize().into_bytes()[..16].to_vec()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn symbols_to_text(s: &[u8]) -> String {
        s.iter().map(|&v| ALPHABET[v as usize] as char).collect()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]
        /// Every single substitution of one symbol by another is caught.
        #[test]
        fn every_single_substitution_is_caught(bits in any::<[u8; 10]>()) {
            let code = Code::from_bits(&bits);
            for pos in 0..LEN {
                for v in 0..32u8 {
                    if v == code.0[pos] { continue; }
                    let mut s = code.0;
                    s[pos] = v;
                    prop_assert_eq!(Code::parse(&symbols_to_text(&s)), Err(Malformed::Check));
                }
            }
        }

        /// Every transposition of two different adjacent symbols is caught.
        #[test]
        fn every_adjacent_transposition_is_caught(bits in any::<[u8; 10]>()) {
            let code = Code::from_bits(&bits);
            for pos in 0..LEN - 1 {
                if code.0[pos] == code.0[pos + 1] { continue; }
                let mut s = code.0;
                s.swap(pos, pos + 1);
                prop_assert_eq!(Code::parse(&symbols_to_text(&s)), Err(Malformed::Check));
            }
        }

        /// A code reads back from its grouped form, in lower case, with spaces or look-alikes.
        #[test]
        fn codes_read_back_however_they_are_typed(bits in any::<[u8; 10]>()) {
            let code = Code::from_bits(&bits);
            let grouped = code.grouped();
            prop_assert_eq!(Code::parse(&grouped), Ok(code.clone()));
            prop_assert_eq!(Code::parse(&grouped.to_lowercase().replace('-', " ")), Ok(code.clone()));
            let lookalikes = code.compact().replace('0', "O").replace('1', "l");
            prop_assert_eq!(Code::parse(&lookalikes), Ok(code));
        }
    }

    #[test]
    fn bad_texts_are_told_apart() {
        assert_eq!(Code::parse(""), Err(Malformed::Length));
        assert_eq!(Code::parse("ABCD"), Err(Malformed::Length));
        assert_eq!(Code::parse("ABCD-EFGH-JKMN-PQRS-TV"), Err(Malformed::Length));
        assert_eq!(Code::parse("ABCD-EFGH-JKMN-PQRU"), Err(Malformed::Character));
        assert_eq!(Code::parse("'; DROP TABLE cheques; --"), Err(Malformed::Character));
        assert_eq!(Code::parse(&"A".repeat(10_000)), Err(Malformed::Length));
    }

    #[test]
    fn codes_are_derived_again_and_hashed_with_a_key() {
        let d = Derivation::new(&[7; 32]);
        let seed = [1u8; 16];
        assert_eq!(d.code(&seed, 3), d.code(&seed, 3));
        assert_ne!(d.code(&seed, 3), d.code(&seed, 4));
        assert_ne!(Derivation::new(&[8; 32]).code(&seed, 3), d.code(&seed, 3));
        let l = Lookup::new(&[9; 32]);
        assert_eq!(l.hash(&d.code(&seed, 3)).len(), 16);
        assert_ne!(
            l.hash(&d.code(&seed, 3)),
            Lookup::new(&[10; 32]).hash(&d.code(&seed, 3))
        );
        assert_eq!(format!("{:?}", d.code(&seed, 3)), "Code(…)");
        let random = Code::random();
        assert_eq!(Code::parse(&random.grouped()), Ok(random));
    }

    /// Printed booklets are reprinted and their codes looked up for years: the
    /// derivation, the check symbol and the lookup hash must never change. The
    /// expected values were computed outside Rust (Python's hmac and a
    /// separate GF(32) multiplication modulo x⁵ + x² + 1).
    #[test]
    fn codes_keep_their_known_values() {
        assert_eq!(Code::from_bits(&[0; 10]).compact(), "00000000000000000");
        assert_eq!(Code::from_bits(&[0xff; 10]).compact(), "ZZZZZZZZZZZZZZZZM");
        assert_eq!(
            Code::from_bits(&[1, 2, 3, 4, 5, 6, 7, 8, 9, 10]).compact(),
            "041061050R3GG28AB"
        );
        // Payload 0…0X: the check symbol is 2·X in GF(32), for each of the 32 X
        // (computed in Python as a carry-less product reduced by x⁵ + x² + 1).
        let checks: String = (0..32u8)
            .map(|x| {
                let mut bits = [0u8; 10];
                bits[9] = x;
                let c = Code::from_bits(&bits).compact();
                assert_eq!(c.as_bytes()[15], ALPHABET[usize::from(x)]);
                c[16..].to_string()
            })
            .collect();
        assert_eq!(checks, "02468ACEGJMPRTWY5713DF9BNQHKXZSV");
        let d = Derivation::new(&[7; 32]);
        let code = d.code(&[1; 16], 3);
        assert_eq!(code.grouped(), "CJWW-7FF3-FS1P-ANN87");
        assert_eq!(d.code(&[1; 16], 1).compact(), "WPPPVSARCGXYBHCHG");
        assert_eq!(
            hex::encode(Lookup::new(&[9; 32]).hash(&code)),
            "d76446ac6e142d4a457d2b8ceed42a72"
        );
    }
}
