//! Every CSV file Passerelle writes goes through [`Csv`]: each cell that a
//! spreadsheet (Excel, LibreOffice Calc) would read as a formula is prefixed
//! with `'`, so that a value typed by a place or found in an imported file can
//! never run as a formula (« CSV injection », OWASP) on a funder's or an
//! agent's computer. `csv::Writer` itself is refused by clippy
//! (`clippy.toml`, `disallowed-types`) everywhere else.

use std::borrow::Cow;
use std::io::Write;

/// A cell is read as a formula when it starts (after any leading blanks or
/// line breaks, which some spreadsheets skip) with `=`, `+`, `-`, `@`, a tab, a
/// carriage return, or one of their full-width forms. A cell that is entirely
/// a plain number (`-0.58`, `+33180059880`, `12,50`) stays as it is: a
/// spreadsheet reads it as a number, never as a formula.
pub fn neutralise(cell: &str) -> Cow<'_, str> {
    let start = cell.trim_start_matches([' ', '\n']);
    let risky = matches!(
        start.chars().next(),
        Some('=' | '+' | '-' | '@' | '\t' | '\r' | '＝' | '＋' | '－' | '＠')
    );
    if risky && !plain_number(cell) {
        Cow::Owned(format!("'{cell}"))
    } else {
        Cow::Borrowed(cell)
    }
}

/// `[+-]?digits([.,]digits)?`, nothing else.
fn plain_number(cell: &str) -> bool {
    let body = cell.strip_prefix(['+', '-']).unwrap_or(cell);
    let (int, frac) = match body.split_once(['.', ',']) {
        Some((i, f)) => (i, Some(f)),
        None => (body, None),
    };
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    digits(int) && frac.is_none_or(digits)
}

/// A CSV writer whose every cell is [`neutralise`]d.
pub struct Csv<W: Write> {
    #[allow(clippy::disallowed_types)]
    inner: csv::Writer<W>,
}

#[allow(clippy::disallowed_types)]
impl<W: Write> Csv<W> {
    /// Comma-separated, as the `csv` crate writes by default.
    pub fn new(out: W) -> Self {
        Csv {
            inner: csv::Writer::from_writer(out),
        }
    }

    pub fn write_record<I, T>(&mut self, record: I) -> csv::Result<()>
    where
        I: IntoIterator<Item = T>,
        T: AsRef<str>,
    {
        let cells: Vec<String> = record
            .into_iter()
            .map(|c| neutralise(c.as_ref()).into_owned())
            .collect();
        self.inner.write_record(&cells)
    }

    pub fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }

    pub fn into_inner(self) -> Result<W, String> {
        self.inner.into_inner().map_err(|e| e.to_string())
    }
}

impl Csv<std::fs::File> {
    pub fn create(path: &std::path::Path) -> std::io::Result<Self> {
        Ok(Csv::new(std::fs::File::create(path)?))
    }
}

/// The byte-order mark by which Excel recognises a UTF-8 file.
pub const BOM: &str = "\u{feff}";

/// A decimal number as Passerelle writes it for machines (`12.50`, `-0.58`):
/// digits, one point, digits.
fn decimal_with_point(cell: &str) -> bool {
    let body = cell.strip_prefix(['+', '-']).unwrap_or(cell);
    match body.split_once('.') {
        Some((int, frac)) => {
            let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
            digits(int) && digits(frac)
        }
        None => false,
    }
}

/// The form of a CSV file for French spreadsheet software (Excel,
/// LibreOffice Calc with French settings): UTF-8 with a byte-order mark,
/// cells separated by `;`, decimal numbers with a comma (`12,50`). Every
/// other cell is kept as written, and is [`neutralise`]d again. `machine`:
/// a file in the machine form (UTF-8, `,`, decimal point).
pub fn pour_tableur(machine: &[u8]) -> Result<Vec<u8>, String> {
    let machine = machine.strip_prefix(BOM.as_bytes()).unwrap_or(machine);
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(machine);
    let mut out = BOM.as_bytes().to_vec();
    {
        #[allow(clippy::disallowed_types)]
        let mut w = csv::WriterBuilder::new()
            .delimiter(b';')
            .flexible(true)
            .from_writer(&mut out);
        for record in reader.records() {
            let record = record.map_err(|e| crate::format_fr::erreur_csv(&e))?;
            let cells: Vec<String> = record
                .iter()
                .map(|c| {
                    if decimal_with_point(c) {
                        c.replacen('.', ",", 1)
                    } else {
                        neutralise(c).into_owned()
                    }
                })
                .collect();
            w.write_record(&cells).map_err(|e| crate::format_fr::erreur_csv(&e))?;
        }
        w.flush().map_err(|e| e.to_string())?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_spreadsheet_form_has_a_bom_semicolons_and_decimal_commas() {
        let machine = "lieu,montant,latitude,code,date,texte\n\
                       Médiathèque,12.50,44.84,33063,2026-12-06,\"un, deux; trois\"\n\
                       Autre,-0.58,+1.5,1.2.3,v1.0,'=déjà neutralisé\n";
        let out = String::from_utf8(pour_tableur(machine.as_bytes()).unwrap()).unwrap();
        assert_eq!(
            out,
            "\u{feff}lieu;montant;latitude;code;date;texte\n\
             Médiathèque;12,50;44,84;33063;2026-12-06;\"un, deux; trois\"\n\
             Autre;-0,58;+1,5;1.2.3;v1.0;'=déjà neutralisé\n"
        );
        // A file that already has a BOM does not get a second one; a formula stays harmless.
        let again = String::from_utf8(pour_tableur("\u{feff}a,b\n=1+1,2\n".as_bytes()).unwrap()).unwrap();
        assert_eq!(again, "\u{feff}a;b\n'=1+1;2\n");
    }

    #[test]
    fn only_plain_decimals_with_a_point_change() {
        for yes in ["1.5", "-0.58", "+12.50", "0.0"] {
            assert!(decimal_with_point(yes), "{yes}");
        }
        for no in ["1", "1.", ".5", "1.2.3", "1,5", "a.5", "1.a", "", "-", "+.", "12 .5"] {
            assert!(!decimal_with_point(no), "{no}");
        }
    }

    #[test]
    fn formulas_are_neutralised_but_plain_numbers_are_not() {
        for risky in [
            "=cmd|' /C calc'!A0",
            "@SUM(A1)",
            "-x",
            "-1+1+cmd|' /C calc'!A0",
            "+1+cmd|' /C calc'!A0",
            "+ de numérique",
            "-2+3",
            "+33 1 23 45 67 89",
            "\t=1",
            "\r=1",
            "  =1+1",
            "\n-1+1",
            "＝1+1",
            "＋1",
            "－1",
            "＠A1",
            "-12.",
            "-.5",
            "+1.2.3",
            "-",
        ] {
            assert_eq!(neutralise(risky), format!("'{risky}"), "{risky:?}");
        }
        for safe in [
            "+33123456789",
            "-0.58",
            "44.84",
            "-12,50",
            "12",
            "Médiathèque",
            "",
            "'=déjà neutralisé",
            "1+1",
            "a=b",
            "2026-12-06",
        ] {
            assert_eq!(neutralise(safe), safe, "{safe:?}");
        }
    }

    #[test]
    fn the_writer_neutralises_every_cell() {
        let mut w = Csv::new(Vec::new());
        w.write_record(["nom", "valeur"]).unwrap();
        w.write_record(["-1+1+cmd|' /C calc'!A0", "-3"]).unwrap();
        let text = String::from_utf8(w.into_inner().unwrap()).unwrap();
        assert_eq!(text, "nom,valeur\n'-1+1+cmd|' /C calc'!A0,-3\n");
    }

    #[test]
    fn a_file_gets_every_row_once_flushed() {
        let dir = std::env::temp_dir().join(format!("passerelle-tableur-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("export.csv");
        let mut w = Csv::create(&path).unwrap();
        w.write_record(["=1", "2"]).unwrap();
        w.flush().unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "'=1,2\n");
        drop(w);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            /// Whatever the text, the neutralised cell never starts with a
            /// formula character unless it is a plain number, and stripping the
            /// added quote gives the original back.
            #[test]
            fn no_cell_comes_out_as_a_formula(cell in "\\PC{0,12}") {
                let out = neutralise(&cell);
                let first = out.trim_start_matches([' ', '\n']).chars().next();
                let formula = matches!(first, Some('=' | '+' | '-' | '@' | '\t' | '\r' | '＝' | '＋' | '－' | '＠'));
                prop_assert!(!formula || plain_number(&out));
                prop_assert_eq!(out.strip_prefix('\'').filter(|_| out != cell).unwrap_or(&out), cell.as_str());
            }
        }
    }
}
