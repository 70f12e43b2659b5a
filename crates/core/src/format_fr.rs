//! French formats for people, in one place: counts with their plural, phone numbers and
//! instants (« 06/12/2026 à 14 h 05 », Paris time). Days are written by `dates_fr`, amounts by
//! `money` (`10,50 €`).

/// « 0 jour », « 1 jour », « 20 jours », « 12 345 chèques » (French puts 0 and 1 in the
/// singular, and groups thousands with a no-break space).
pub fn nombre(n: i64, singulier: &str, pluriel: &str) -> String {
    format!("{} {}", entier(n), if n.abs() > 1 { pluriel } else { singulier })
}

/// « 12 345 », « -1 000 000 »: an integer of any type, thousands grouped with a no-break space
/// (U+00A0, as amounts: every font of the PDFs has it).
pub fn entier(n: impl std::fmt::Display) -> String {
    let text = n.to_string();
    let (sign, digits) = match text.strip_prefix('-') {
        Some(d) => ("-", d),
        None => ("", text.as_str()),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return text;
    }
    let mut out = String::with_capacity(text.len() + digits.len() / 3 * 2);
    out.push_str(sign);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push('\u{a0}');
        }
        out.push(c);
    }
    out
}

/// A French phone number as people read it: `+33557020000` or `0557020000` →
/// `05 57 02 00 00`; an overseas number (`+590590…`, `+262262…`) → `0590 …` kept in pairs;
/// a number of another country is kept international, spaced (`+32 2 555 12 12` as given).
/// Anything else is returned as written.
pub fn telephone(raw: &str) -> String {
    let compact: String = raw
        .chars()
        .filter(|c| !matches!(c, ' ' | '.' | '-' | '(' | ')'))
        .collect();
    let national = if let Some(rest) = compact.strip_prefix("+33") {
        Some(format!("0{}", rest.strip_prefix('0').unwrap_or(rest)))
    } else if let Some(rest) = ["+590", "+594", "+596", "+262", "+508"]
        .iter()
        .find_map(|p| compact.strip_prefix(p))
    {
        // The French overseas departments: the national number is 0 and the nine digits.
        Some(format!("0{rest}"))
    } else if compact.starts_with('0') {
        Some(compact.clone())
    } else {
        None
    };
    match national {
        Some(n) if n.len() == 10 && n.bytes().all(|b| b.is_ascii_digit()) => n
            .as_bytes()
            .chunks(2)
            .map(|pair| String::from_utf8_lossy(pair).into_owned())
            .collect::<Vec<_>>()
            .join(" "),
        _ => raw.trim().to_string(),
    }
}

/// An instant (µs since the epoch) as people in France read it: « 06/12/2026 à 14 h 05 »,
/// in Paris time.
pub fn horodatage(micros: i64) -> String {
    let t = crate::horloge::paris_of(micros);
    format!("{} à {} h {:02}", t.strftime("%d/%m/%Y"), t.hour(), t.minute())
}

/// The same to the second, where it matters (the journal): « 06/12/2026 à 14 h 05 min 03 s ».
pub fn horodatage_secondes(micros: i64) -> String {
    let t = crate::horloge::paris_of(micros);
    format!(
        "{} à {} h {:02} min {:02} s",
        t.strftime("%d/%m/%Y"),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// What the CSV reader found wrong, in French for the person who fixes the file (the csv
/// crate's own text is English): told by the error's kind, never by its text. Every import of
/// a CSV file says it so (places, qualification applications, the aidants' cards).
pub fn erreur_csv(e: &csv::Error) -> String {
    match e.kind() {
        csv::ErrorKind::UnequalLengths { expected_len, len, .. } => format!(
            "nombre de champs inattendu : {}, l'en-tête en compte {}",
            nombre(i64::try_from(*len).unwrap_or(i64::MAX), "champ", "champs"),
            entier(i64::try_from(*expected_len).unwrap_or(i64::MAX))
        ),
        csv::ErrorKind::Utf8 { err, .. } => format!(
            "encodage invalide dans le champ n° {} : le fichier doit être enregistré en UTF-8",
            err.field() + 1
        ),
        csv::ErrorKind::Io(_) => "lecture du fichier interrompue".to_string(),
        _ => "format CSV invalide".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plurals_the_french_way() {
        assert_eq!(nombre(0, "jour", "jours"), "0 jour");
        assert_eq!(nombre(1, "ligne lue", "lignes lues"), "1 ligne lue");
        assert_eq!(nombre(2, "ligne lue", "lignes lues"), "2 lignes lues");
        assert_eq!(nombre(20, "jour", "jours"), "20 jours");
        assert_eq!(nombre(12_345, "chèque", "chèques"), "12\u{a0}345 chèques");
    }

    #[test]
    fn thousands_grouped() {
        assert_eq!(entier(0), "0");
        assert_eq!(entier(12_345_usize), "12\u{a0}345");
        assert_eq!(entier("n/a"), "n/a");
        assert_eq!(entier(999), "999");
        assert_eq!(entier(1000), "1\u{a0}000");
        assert_eq!(entier(-1_234_567), "-1\u{a0}234\u{a0}567");
        assert_eq!(
            entier(i64::MIN),
            "-9\u{a0}223\u{a0}372\u{a0}036\u{a0}854\u{a0}775\u{a0}808"
        );
    }

    #[test]
    fn instants_in_paris_time() {
        // 28/02/2026 23:30 UTC is 1 March 00:30 in Paris (winter time).
        assert_eq!(horodatage(1_772_321_400_123_456), "01/03/2026 à 0 h 30");
        // 6 July 2026 12:05:03 UTC is 14 h 05 in Paris (summer time).
        assert_eq!(
            horodatage_secondes(1_783_339_503_000_000),
            "06/07/2026 à 14 h 05 min 03 s"
        );
    }

    #[test]
    fn phone_numbers_in_pairs() {
        assert_eq!(telephone("+33557020000"), "05 57 02 00 00");
        assert_eq!(telephone("+33 (0)5 57 02 00 00"), "05 57 02 00 00");
        assert_eq!(telephone("05.57.02.00.00"), "05 57 02 00 00");
        assert_eq!(telephone("0557020000"), "05 57 02 00 00");
        assert_eq!(telephone("+262262123456"), "02 62 12 34 56");
        assert_eq!(telephone("+590590123456"), "05 90 12 34 56");
        // Another country's number stays international; what is not a number stays as written.
        assert_eq!(telephone("+3225551212"), "+3225551212");
        assert_eq!(telephone("+687 25 12 34"), "+687 25 12 34");
        assert_eq!(telephone("3939"), "3939");
        assert_eq!(telephone(""), "");
    }

    fn first_error(data: &[u8]) -> String {
        let mut reader = csv::ReaderBuilder::new().trim(csv::Trim::All).from_reader(data);
        let e = reader.records().find_map(|r| r.err()).expect("an unreadable row");
        erreur_csv(&e)
    }

    #[test]
    fn unreadable_rows_are_told_in_french() {
        assert_eq!(
            first_error(b"numero_serie,graine\nC-1,JBSWY3DPEHPK3PXP,30,x\n"),
            "nombre de champs inattendu : 4 champs, l'en-tête en compte 2"
        );
        assert_eq!(
            first_error(b"numero_serie,graine,duree\nC-1\n"),
            "nombre de champs inattendu : 1 champ, l'en-tête en compte 3"
        );
        assert_eq!(
            first_error(b"numero_serie,graine\nC-1,\xe9t\xe9\n"),
            "encodage invalide dans le champ n° 2 : le fichier doit être enregistré en UTF-8"
        );
    }
}
