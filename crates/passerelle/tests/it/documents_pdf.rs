//! Every PDF document, rendered from fixed data and read back as a person
//! would: its text (pdftotext) and its QR codes (pdftoppm + zbarimg). Booklets,
//! quotes, invoices, credit notes, statements of places, expiry statements,
//! attestations and revocation certificates. `PASSERELLE_PDF_DUMP=<dir>` also
//! writes them there, to look at them.

use std::path::Path;

use passerelle_core::aidants_connect::mandats::model::{Duration, State};
use passerelle_core::aidants_connect::mandats::queries::{Autorisation, Mandate, RevokedBy, Usager};
use passerelle_core::aidants_connect::mandats::{attestation_pdf, texts};
use passerelle_core::identifiants::{Bic, Centimes, Iban};
use passerelle_core::pass_numerique::code::Code;
use passerelle_core::pass_numerique::documents_pdf::{render, Parties};
use passerelle_core::pass_numerique::issue::Printed;
use passerelle_core::pass_numerique::model::Territory;
use passerelle_core::pass_numerique::orders::{Document, DocumentKind, Order, OrderState};
use passerelle_core::pass_numerique::print::{self, Face};
use passerelle_core::pass_numerique::rapports::expires::{BookletLine, CreditNote, Statement as Expired};
use passerelle_core::pass_numerique::rapports::{expires_pdf, Count};
use passerelle_core::pdf::Fonts;
use passerelle_core::reglements::batches::{Line, Statement, StatementState};
use passerelle_core::reglements::documents;

use crate::mandats_support::{qr_codes_of_page, text_of_pdf};
use crate::support::fonts_dir;

fn fonts() -> Fonts {
    Fonts::load(&fonts_dir()).expect("polices : lancez npm ci")
}

fn dump(name: &str, pdf: &[u8]) {
    if let Ok(dir) = std::env::var("PASSERELLE_PDF_DUMP") {
        std::fs::write(Path::new(&dir).join(name), pdf).unwrap();
    }
}

/// The pages' texts (pdftotext separates them with form feeds); `None` when
/// `PASSERELLE_TEST_SANS_QR=1` opts out of the external tools. pdftotext writes
/// the no-break space that groups the thousands of an amount as a space.
fn pages(pdf: &[u8]) -> Option<Vec<String>> {
    let text = text_of_pdf(pdf)?;
    let mut pages: Vec<String> = text.split('\u{c}').map(str::to_string).collect();
    // The text ends with a form feed after the last page.
    if pages.last().is_some_and(|p| p.trim().is_empty()) {
        pages.pop();
    }
    Some(pages)
}

fn has_all(page: &str, wanted: &[&str]) {
    for s in wanted {
        assert!(page.contains(s), "« {s} » absent de :\n{page}");
    }
}

fn has_none(page: &str, unwanted: &[&str]) {
    for s in unwanted {
        assert!(!page.contains(s), "« {s} » présent dans :\n{page}");
    }
}

fn order() -> Order {
    Order {
        id: 7,
        commanditaire_id: 2,
        carnets: 100,
        cheques_par_carnet: 10,
        valeur_centimes: Centimes::new(1000),
        frais_pour_dix_mille: 450,
        debut: "2026-01-01".into(),
        fin: "2026-12-31".into(),
        tolerance_jours: 30,
        perimetre: vec![Territory::Departement("33".into()), Territory::Commune("33318".into())].into(),
        publics: vec!["seniors".into()],
        services: Default::default(),
        prescripteurs: vec![],
        plafond_jour: 2,
        marque: String::new(),
        etat: OrderState::Payee,
        reference_paiement: Some("VIR-42".into()),
        emise: true,
        remises_arretees_at: None,
    }
}

fn document(kind: DocumentKind, numero: &str) -> Document {
    let a = order().amounts();
    Document {
        id: 1,
        kind,
        numero: numero.into(),
        commande_id: 7,
        valeur_centimes: a.valeur_centimes,
        frais_centimes: a.frais_centimes,
        total_centimes: a.total_centimes,
        // 2025-11-24T16:00:00Z
        created_at: 1_764_000_000_000_000,
    }
}

#[test]
fn quotes_invoices_and_credit_notes_read_as_before() {
    let fonts = fonts();
    let parties = Parties {
        operator: "Opérateur national".into(),
        funder: "Département de la Gironde".into(),
    };
    let common = [
        "Date : 24/11/2025",
        "Émetteur",
        "Opérateur national",
        "Destinataire",
        "Département de la Gironde",
        "Commande n° 7 — Pass Numérique",
        "100 carnets de 10 chèques de 10 €",
        "10 000 €",
        "Frais de l'opérateur (4,50 %)",
        "450 €",
        "Total",
        "10 450 €",
        "Montants en euros, hors taxes.",
        "Validité des chèques : du 01/01/2026 au 31/12/2026 ; périmètre : 33, 33318.",
    ];
    let paid = "Payée, référence du virement : VIR-42.";
    let to_pay = "À régler par virement ; les chèques sont activés à réception du paiement.";

    let quote = render(
        &fonts,
        &document(DocumentKind::Devis, "DEV-2025-000001"),
        &order(),
        &parties,
    )
    .unwrap();
    dump("devis.pdf", &quote);
    let invoice = render(
        &fonts,
        &document(DocumentKind::Facture, "FAC-2025-000001"),
        &order(),
        &parties,
    )
    .unwrap();
    dump("facture.pdf", &invoice);
    let mut unpaid = order();
    unpaid.reference_paiement = None;
    unpaid.etat = OrderState::Facturee;
    let invoice_to_pay = render(
        &fonts,
        &document(DocumentKind::Facture, "FAC-2025-000002"),
        &unpaid,
        &parties,
    )
    .unwrap();
    let credit = render(
        &fonts,
        &document(DocumentKind::Avoir, "AVO-2025-000001"),
        &order(),
        &parties,
    )
    .unwrap();
    dump("avoir.pdf", &credit);

    let Some(quote) = pages(&quote) else { return };
    assert_eq!(quote.len(), 1);
    has_all(&quote[0], &common);
    has_all(&quote[0], &["Devis n° DEV-2025-000001"]);
    has_none(&quote[0], &[paid, to_pay, "Facture", "Avoir"]);

    let invoice = pages(&invoice).unwrap();
    assert_eq!(invoice.len(), 1);
    has_all(&invoice[0], &common);
    has_all(&invoice[0], &["Facture n° FAC-2025-000001", paid]);
    has_none(&invoice[0], &[to_pay]);
    let invoice_to_pay = pages(&invoice_to_pay).unwrap();
    has_all(&invoice_to_pay[0], &["Facture n° FAC-2025-000002", to_pay]);
    has_none(&invoice_to_pay[0], &[paid]);

    let credit = pages(&credit).unwrap();
    assert_eq!(credit.len(), 1);
    has_all(&credit[0], &common);
    has_all(&credit[0], &["Avoir n° AVO-2025-000001"]);
    has_none(&credit[0], &[paid, to_pay, "Facture"]);
}

fn printed(carnet: i64, rang: i64) -> Printed {
    let mut bits = [0u8; 10];
    bits[..8].copy_from_slice(&carnet.to_be_bytes());
    bits[9] = rang as u8;
    Printed {
        carnet,
        rang,
        code: Code::from_bits(&bits),
    }
}

#[test]
fn booklets_read_as_before_and_their_qr_codes_open_the_cheques() {
    let face = Face {
        marque: "Département de la Gironde — Direction de l'inclusion".into(),
        valeur_centimes: Centimes::new(1050),
        cheques_par_carnet: 3,
        validite: "du 01/01/2026 au 31/12/2026".into(),
        perimetre: "Gironde (33), Pessac (33318)".into(),
        base_url: "https://passerelle.exemple.fr".into(),
        traits_de_coupe: false,
    };
    let cheques: Vec<Printed> = [1001, 1002]
        .into_iter()
        .flat_map(|c| (1..=3).map(move |r| printed(c, r)))
        .collect();
    let pdf = print::booklets(&fonts(), &face, &cheques).unwrap();
    dump("carnets.pdf", &pdf);
    let Some(pages) = pages(&pdf) else { return };
    assert_eq!(pages.len(), 4, "a cover and a page of cheques per booklet");
    for (i, carnet) in [1001, 1002].into_iter().enumerate() {
        let (cover, sheet) = (&pages[2 * i], &pages[2 * i + 1]);
        has_all(
            cover,
            &[
                "Pass Numérique",
                &format!("Carnet n° {carnet}"),
                "3 chèques de 10,50 € pour apprendre le numérique",
                "Offert par : Département de la Gironde — Direction de l'inclusion",
                "Valable du 01/01/2026 au 31/12/2026",
                "Dans : Gironde (33), Pessac (33318)",
                "Comment l'utiliser ?",
                "1. Trouvez un lieu qui accepte le Pass Numérique près de chez vous :",
                "https://passerelle.exemple.fr/lieux",
                "2. Présentez un chèque à l'accueil : une séance d'environ une heure.",
                "3. Chaque chèque ne sert qu'une fois. Gardez votre carnet.",
                "Vous pouvez aussi scanner le QR code d'un chèque avec un téléphone.",
            ],
        );
        for rang in 1..=3 {
            let p = printed(carnet, rang);
            has_all(
                sheet,
                &[
                    "10,50 €",
                    "Valable du 01/01/2026",
                    "au 31/12/2026",
                    // The funder's text is whole on a cheque (issue 22: it used to be cut at 30
                    // characters), wrapped in the column left of the QR code.
                    "Département de la Gironde —",
                    "Direction de l'inclusion",
                    &format!("Carnet n° {carnet} · chèque {rang}/3"),
                    &p.code.grouped(),
                ],
            );
        }
        has_none(sheet, &["Comment l'utiliser"]);
        let Some(mut codes) = qr_codes_of_page(&pdf, 2 * i + 2) else {
            return;
        };
        codes.sort();
        let mut expected: Vec<String> = (1..=3)
            .map(|r| format!("https://passerelle.exemple.fr/c/{}", printed(carnet, r).code.compact()))
            .collect();
        expected.sort();
        assert_eq!(codes, expected, "one QR code per cheque, its own");
    }
}

#[test]
fn a_statement_of_a_place_reads_as_before() {
    let s = Statement {
        id: 3,
        numero: "REL-2026-000003".into(),
        lieu_id: 9,
        lieu: "Médiathèque de Pessac".into(),
        lieu_ext_id: "lieu-pessac-1".into(),
        lieu_organisation_id: Some(4),
        lot_id: 2,
        jusqu_au: "2026-04-01".into(),
        premier_jour: "2026-03-02".into(),
        dernier_jour: "2026-03-31".into(),
        lignes: 30,
        total_centimes: Centimes::new(30_000),
        etat: StatementState::Emis,
        motif_rejet: None,
        iban: Iban::parse("FR7630006000011234567890189").expect("IBAN"),
        bic: Bic::parse("AGRIFRPP").expect("BIC"),
        titulaire: "Ville de Pessac".into(),
        created_at: 1_775_000_000_000_000,
    };
    let lines: Vec<Line> = (1..=30)
        .map(|i| Line {
            encaissement_id: i,
            jour: format!("2026-03-{:02}", i + 1),
            carnet: 1000 + i,
            rang: i % 10 + 1,
            service: if i == 1 {
                "Accompagnement aux démarches en ligne des usagers éloignés du numérique".into()
            } else {
                "Prendre en main un ordinateur".into()
            },
            valeur_centimes: Centimes::new(1000),
            commande_id: 7,
        })
        .collect();
    let pdf = documents::pdf(&fonts(), "Opérateur national", &s, &lines).unwrap();
    dump("releve.pdf", &pdf);
    let Some(pages) = pages(&pdf) else { return };
    assert_eq!(pages.len(), 2, "28 lines on the first page, 2 on the second");
    has_all(
        &pages[0],
        &[
            "Relevé n° REL-2026-000003",
            "Pass Numérique — remboursement des chèques encaissés",
            "Émetteur",
            "Lieu",
            "Opérateur national",
            "Médiathèque de Pessac",
            "Identifiant : lieu-pessac-1",
            "Encaissements du 02/03/2026 au 31/03/2026 (réglés jusqu'au 01/04/2026 exclu)",
            "Virement à Ville de Pessac — FR76 •••• 0189 — BIC AGRIFRPP",
            "État : émis, virement à envoyer",
            "Total : 300 € pour 30 chèques",
            "02/03/2026",
            "1001 / 2",
            // A service is cut at 48 characters.
            "Accompagnement aux démarches en ligne des usager",
            "29/03/2026",
            "1028 / 9",
            "Prendre en main un ordinateur",
            "10 €",
            "Relevé REL-2026-000003 — page 1 sur 2",
        ],
    );
    has_none(&pages[0], &["éloignés", "30/03/2026", "1029 / 10", "page 2 sur 2"]);
    has_all(
        &pages[1],
        &[
            "Date",
            "Carnet / chèque",
            "Service",
            "Montant",
            "30/03/2026",
            "1029 / 10",
            "31/03/2026",
            "1030 / 1",
            "Relevé REL-2026-000003 — page 2 sur 2",
        ],
    );
    has_none(&pages[1], &["Émetteur", "Total :", "29/03/2026"]);
    for header in ["Date", "Carnet / chèque", "Service", "Montant"] {
        assert!(pages[0].contains(header), "{header}");
    }
}

#[test]
fn an_expiry_statement_reads_as_before() {
    let count = |cheques: i64| Count {
        cheques,
        valeur_centimes: Centimes::new(cheques * 1000),
    };
    let s = Expired {
        commande: 7,
        commanditaire: "Département de la Gironde".into(),
        valeur_cheque_centimes: Centimes::new(1000),
        fin: "2026-12-31".into(),
        expiration_apres: "2027-01-30".into(),
        carnets: (1..=61)
            .map(|n| BookletLine {
                carnet: 1000 + n,
                perdu: n == 2,
                expires: if n == 2 { Count::default() } else { count(10) },
                annules: if n == 2 { count(10) } else { Count::default() },
            })
            .collect(),
        expires: count(600),
        annules: count(10),
        total_centimes: Centimes::new(610_000),
        avoirs: vec![CreditNote {
            numero: "AVO-2027-000001".into(),
            valeur_centimes: Centimes::new(600_000),
            // 2025-11-24T16:00:00Z
            created_at: 1_764_000_000_000_000,
        }],
        avoirs_centimes: Centimes::new(600_000),
    };
    let pdf = expires_pdf::pdf(&fonts(), "Opérateur national", &s).unwrap();
    dump("expires.pdf", &pdf);
    let Some(pages) = pages(&pdf) else { return };
    assert_eq!(pages.len(), 3, "22 booklets, then 38, then 1");
    has_all(
        &pages[0],
        &[
            "État des chèques expirés",
            "Commande n° 7 — Pass Numérique — joint à l'avoir (valeur faciale des chèques non utilisés)",
            "Émetteur",
            "Commanditaire",
            "Opérateur national",
            "Département de la Gironde",
            "Fin de validité : 31/12/2026 ; chèques non utilisés expirés après le 30/01/2027 (tolérance comprise).",
            "Chèques expirés : 600 pour 6 000 € ; chèques annulés (carnets perdus) : 10 pour 100 €.",
            "Total des chèques non utilisés : 6 100 €",
            "Avoir n° AVO-2027-000001 du 24/11/2025 : 6 000 €",
            "Total des avoirs : 6 000 € ; reste à couvrir : 100 € (à la prochaine expiration).",
            "Carnet",
            "Chèques expirés",
            "Valeur",
            "Chèques annulés",
            "Carnet perdu",
            "1001",
            "1002",
            "1022",
            "oui",
            "non",
            "100 €",
            "État des chèques expirés — commande n° 7 — page 1 sur 3",
        ],
    );
    has_none(&pages[0], &["1023", "Aucun avoir"]);
    has_all(
        &pages[1],
        &[
            "Carnet perdu",
            "1023",
            "1060",
            "État des chèques expirés — commande n° 7 — page 2 sur 3",
        ],
    );
    has_none(&pages[1], &["1022", "1061", "Total des avoirs", "oui"]);
    has_all(
        &pages[2],
        &["1061", "État des chèques expirés — commande n° 7 — page 3 sur 3"],
    );

    let mut none = s.clone();
    none.avoirs.clear();
    none.avoirs_centimes = Centimes::ZERO;
    none.carnets.truncate(1);
    let pdf = expires_pdf::pdf(&fonts(), "Opérateur national", &none).unwrap();
    let pages = self::pages(&pdf).unwrap();
    assert_eq!(pages.len(), 1);
    has_all(
        &pages[0],
        &[
            "Aucun avoir n'est encore émis pour cette commande.",
            "Total des avoirs : 0 € ; reste à couvrir : 6 100 € (à la prochaine expiration).",
            "page 1 sur 1",
        ],
    );
    let mut balanced = s.clone();
    balanced.avoirs[0].valeur_centimes = Centimes::new(610_000);
    balanced.avoirs_centimes = Centimes::new(610_000);
    let pdf = expires_pdf::pdf(&fonts(), "Opérateur national", &balanced).unwrap();
    has_all(
        &self::pages(&pdf).unwrap()[0],
        &["Total des avoirs : 6 100 €, égal au total des chèques non utilisés."],
    );
}

fn mandate() -> Mandate {
    let aut = |id: i64, d: &str, revoked: bool| Autorisation {
        id,
        demarche: d.into(),
        revoquee_at: revoked.then_some(1_700_000_000_000_000),
        revoquee_par: revoked.then_some(RevokedBy::Usager),
        revoquee_par_aidant: None,
        remplacee_par_mandat: None,
    };
    Mandate {
        id: 12,
        organisation_id: 3,
        structure: "France Services de Pessac".into(),
        usager: Usager {
            id: 4,
            given_name: "Angela Claire Louise".into(),
            family_name: "DUBOIS".into(),
            birthdate: "1962-08-24".into(),
            birthplace: "75107".into(),
            birthplace_nom: "Paris 7e Arrondissement".into(),
            birthcountry: "99100".into(),
            nom_usage: None,
        },
        aidant_id: 5,
        aidant: "Léo Aidant".into(),
        duree: Duration::Semester,
        texte_version: 1,
        created_at: 1_690_000_000_000_000,
        expires_at: 1_705_000_000_000_000,
        renouvelle: Some(11),
        renouvele_par: None,
        autorisations: vec![aut(1, "papiers", false), aut(2, "argent", true)],
        state: State::PartlyRevoked,
    }
}

const URL: &str = "http://localhost:8080/mandats/verifier/AAAAAAAAAAwxxxxxxxxxxxxxxxxxxxxx";

/// The words of `s`, one space apart: the same text whatever its line breaks.
fn words(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[test]
fn an_attestation_reads_as_before() {
    let (version, texte) = texts::ALL[0];
    let text = texts::Text {
        version,
        texte: texte.into(),
        empreinte: texts::fingerprint(texte),
    };
    let pdf = attestation_pdf::attestation(&fonts(), &mandate(), &text, URL).unwrap();
    dump("attestation.pdf", &pdf);
    let Some(pages) = pages(&pdf) else { return };
    assert_eq!(pages.len(), 2, "the usager's copy and the structure's");
    for (page, copy) in pages
        .iter()
        .zip(["Exemplaire de l'usager", "Exemplaire de la structure"])
    {
        has_all(
            page,
            &[
                "Attestation de mandat n° 12",
                copy,
                &format!("Texte du mandat : version 1, SHA-256 {}", text.empreinte),
                "L'usager (identité certifiée par FranceConnect)",
                "Angela Claire Louise DUBOIS",
                "Date de naissance : 24/08/1962, Paris 7e Arrondissement (75107)",
                "La structure habilitée",
                "France Services de Pessac",
                "Aidant qui a conclu le mandat : Léo Aidant",
                "Démarches confiées",
                "Durée : ",
                "conclu le 22/07/2023 à 6 h 26 ; expire le 11/01/2024 à 20 h 06",
                "Renouvelle le mandat n° 11",
                "Signature de l'usager :",
                "Signature de l'aidant :",
                "Vérifier l'authenticité et l'état de ce mandat :",
                "scannez le QR code ou ouvrez l'adresse",
                URL,
                &format!("Aidants Connect — {copy} — mandat n° 12"),
            ],
        );
        assert!(
            words(page).contains(&words(texte)),
            "the whole text of the mandate, word for word:\n{page}"
        );
        let bullets = page.lines().filter(|l| l.starts_with("• ")).count();
        assert_eq!(bullets, 2, "one line per démarche:\n{page}");
    }
    if let Some(codes) = qr_codes_of_page(&pdf, 2) {
        assert_eq!(codes, vec![URL.to_string()]);
    }
}

#[test]
fn a_revocation_certificate_reads_as_before() {
    let pdf = attestation_pdf::revocation(&fonts(), &mandate(), URL).unwrap();
    dump("revocation.pdf", &pdf);
    let Some(pages) = pages(&pdf) else { return };
    assert_eq!(pages.len(), 1);
    has_all(
        &pages[0],
        &[
            "Certificat de révocation",
            "Mandat n° 12 du 22/07/2023 à 6 h 26",
            "État du mandat : ",
            "L'usager (identité certifiée par FranceConnect)",
            "Angela Claire Louise DUBOIS",
            "Date de naissance : 24/08/1962",
            "France Services de Pessac",
            "Aidant qui a conclu le mandat : Léo Aidant",
            "Démarches",
            " : révoquée le 14/11/2023 à 23 h 13 par ",
            " : toujours confiée (jusqu'au 11/01/2024 à 20 h 06)",
            "Une démarche révoquée ne peut plus être réalisée au nom de l'usager dans le cadre de ce mandat.",
            "Vérifier l'authenticité et l'état de ce mandat :",
            URL,
            "Aidants Connect — certificat de révocation — mandat n° 12",
        ],
    );
    // Paris time, as on the pages; never UTC, never « Né(e) ».
    has_none(&pages[0], &["UTC", "Né(e)"]);
    has_none(&pages[0], &["Signature", "Exemplaire"]);
    if let Some(codes) = qr_codes_of_page(&pdf, 1) {
        assert_eq!(codes, vec![URL.to_string()]);
    }
}

/// Issue 22: a full sheet of ten cheques with the longest funder's text an order accepts and
/// crop marks, rendered at 150 dpi as a print proof would be: every text whole, every QR code
/// decoded.
#[test]
fn a_full_sheet_with_the_longest_funder_name_prints_whole_and_every_qr_decodes_at_150_dpi() {
    let long: String = "Communauté d'agglomération du Pays Basque — Direction de l'inclusion numérique, \
                        de la cohésion sociale et de l'accès aux droits, avec le soutien de la Région Nouvelle-Aquitaine"
        .chars()
        .take(200)
        .collect();
    let face = Face {
        marque: long.clone(),
        valeur_centimes: Centimes::new(1000),
        cheques_par_carnet: 10,
        validite: "du 01/01/2026 au 31/12/2026".into(),
        perimetre: (1..=40)
            .map(|i| format!("Commune n° {i} (64{i:03})"))
            .collect::<Vec<_>>()
            .join(", "),
        base_url: "https://passerelle.agglomeration-pays-basque.exemple.gouv.fr".into(),
        traits_de_coupe: true,
    };
    let cheques: Vec<Printed> = (1..=10).map(|r| printed(123_456, r)).collect();
    let pdf = print::booklets(&fonts(), &face, &cheques).unwrap();
    dump("carnet-long.pdf", &pdf);
    let Some(pages) = pages(&pdf) else { return };
    assert_eq!(pages.len(), 2);
    // pdftotext gives each line of the wrapped texts: joined, they are the whole texts.
    let joined = |page: &str| page.split_whitespace().collect::<Vec<_>>().join(" ");
    let cover = joined(&pages[0]);
    assert!(cover.contains(&format!("Offert par : {long}")), "{cover}");
    assert!(cover.contains("Commune n° 40 (64040)"), "{cover}");
    let sheet = &pages[1];
    for rang in 1..=10 {
        assert!(sheet.contains(&printed(123_456, rang).code.grouped()), "{sheet}");
    }
    // Ten times the whole name, each wrapped the same way.
    let words: Vec<&str> = long.split_whitespace().collect();
    let last = words.last().copied().unwrap_or_default();
    assert_eq!(sheet.matches(last).count(), 10, "{sheet}");
    assert_eq!(sheet.matches("Communauté d'agglomération").count(), 10, "{sheet}");
    let Some(mut codes) = qr_codes_of_page(&pdf, 2) else {
        return;
    };
    codes.sort();
    let mut expected: Vec<String> = (1..=10)
        .map(|r| {
            format!(
                "https://passerelle.agglomeration-pays-basque.exemple.gouv.fr/c/{}",
                printed(123_456, r).code.compact()
            )
        })
        .collect();
    expected.sort();
    assert_eq!(
        codes, expected,
        "every QR code of the sheet decodes at 150 dpi, each its own"
    );
}
