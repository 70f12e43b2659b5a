//! Page templates (askama, escaped by default). Markup follows the DSFR.

use askama::Template;
use passerelle_core::accounts::{Account, Organisation};

/// The signed-in person, as the header shows them.
#[derive(Clone, Debug)]
pub struct NavUser {
    pub name: String,
    pub role_label: &'static str,
    pub is_operator: bool,
    /// Place staff: the counter page is in the menu.
    pub is_place: bool,
    /// Funders (and the opérateur): the orders are in the menu.
    pub sees_orders: bool,
    /// Prescribers: the hand-out page is in the menu.
    pub is_prescriber: bool,
    /// Hub staff: the qualification of their territory is in the menu.
    pub is_hub: bool,
    /// Aidants Connect: the référent's space, or the aidant's structures.
    pub is_referent: bool,
    pub is_aidant: bool,
    /// An aidant's current structure (shown on every page), or « à choisir ».
    pub structure: Option<String>,
}

/// What every page's frame needs.
#[derive(Clone, Debug)]
pub struct Layout {
    pub title: String,
    pub user: Option<NavUser>,
    pub csrf: String,
    /// Path of the current section, to mark the menu entry (`aria-current`).
    pub current: &'static str,
    /// An usager signed in with FranceConnect (his own space): the header
    /// offers his space and his sign-out, not the professionals' sign-in.
    pub usager: bool,
}

impl Layout {
    pub fn anonymous(title: &str) -> Self {
        Layout {
            title: title.to_string(),
            user: None,
            csrf: String::new(),
            current: "",
            usager: false,
        }
    }
}

#[derive(Template)]
#[template(path = "error.html")]
pub struct ErrorPage {
    pub l: Layout,
    pub status: u16,
    pub title: String,
    pub message: String,
}

#[derive(Template)]
#[template(path = "home.html")]
pub struct HomePage {
    pub l: Layout,
}

#[derive(Template)]
#[template(path = "accessibilite.html")]
pub struct AccessibilityPage {
    pub l: Layout,
}

#[derive(Template)]
#[template(path = "aider-un-proche.html")]
pub struct HelpingPage {
    pub l: Layout,
}

#[derive(Template)]
#[template(path = "mentions-legales.html")]
pub struct LegalPage {
    pub l: Layout,
}

#[derive(Template)]
#[template(path = "donnees-personnelles.html")]
pub struct PrivacyPage {
    pub l: Layout,
}

#[derive(Template)]
#[template(path = "accounts/connexion.html")]
pub struct LoginPage {
    pub l: Layout,
    pub error: Option<String>,
    pub info: Option<String>,
    pub email: String,
    /// The « S'identifier avec ProConnect » button.
    pub proconnect: bool,
}

#[derive(Template)]
#[template(path = "accounts/connexion-totp.html")]
pub struct TotpPage {
    pub l: Layout,
    pub error: Option<String>,
}

/// TOTP enrolment, at first login (`action` = /connexion/activation-totp) or from
/// "Mon compte" (`action` = /mon-compte/totp).
#[derive(Template)]
#[template(path = "accounts/totp-activation.html")]
pub struct EnrolPage {
    pub l: Layout,
    pub error: Option<String>,
    pub action: &'static str,
    pub at_login: bool,
    /// Replacing a device asks for the current password.
    pub ask_password: bool,
    pub qr_png_base64: String,
    pub secret_grouped: String,
}

#[derive(Template)]
#[template(path = "accounts/mon-compte.html")]
pub struct AccountPage {
    pub l: Layout,
    pub account: Account,
    pub message: Option<String>,
    pub error: Option<String>,
    /// Funders and hubs: whether the monthly digest is sent (`None`: not offered).
    pub recapitulatif: Option<bool>,
    /// Open sessions of the account, this one included.
    pub sessions: i64,
    /// The page of the role's work (where signing in leads).
    pub travail: &'static str,
}

/// A created account's one-time secrets, shown to the opérateur.
#[derive(Clone, Debug)]
pub struct CreatedNotice {
    pub email: String,
    pub password: String,
}

#[derive(Template)]
#[template(path = "accounts/operateur.html")]
pub struct OperatorPage {
    pub l: Layout,
    pub organisations: Vec<Organisation>,
    pub accounts: Vec<Account>,
    pub kinds: Vec<(&'static str, &'static str)>,
    pub roles: Vec<(&'static str, &'static str)>,
    pub message: Option<String>,
    pub error: Option<String>,
    pub created: Option<CreatedNotice>,
    /// Stored SIRETs that today's rule refuses (`passerelle controle`, rule `sirets_valides`).
    pub sirets: Vec<SiretRow>,
}

/// A stored SIRET to take up again, and where to look at what holds it.
#[derive(Clone, Debug)]
pub struct SiretRow {
    pub objet: &'static str,
    pub id: i64,
    pub nom: String,
    pub siret: String,
    pub motif: String,
    /// (address, words of the link)
    pub lien: Option<(String, &'static str)>,
}

/// One journal line for display.
#[derive(Clone, Debug)]
pub struct JournalRow {
    pub seq: i64,
    pub at: String,
    pub actor: String,
    pub action: String,
    pub subjects: String,
    pub details: String,
}

#[derive(Template)]
#[template(path = "journal/journal.html")]
pub struct JournalPage {
    pub l: Layout,
    pub rows: Vec<JournalRow>,
    pub older: Option<i64>,
}

/// An instant on a page: « 06/12/2026 à 14 h 05 », Paris time (see `format_fr::horodatage`).
pub use passerelle_core::format_fr::horodatage;

/// A checkbox of the search form.
#[derive(Clone, Debug)]
pub struct Choice {
    pub id: String,
    pub label: &'static str,
    pub checked: bool,
}

/// One result of the search page.
#[derive(Clone, Debug)]
pub struct LieuHit {
    pub nom: String,
    pub url: String,
    pub adresse: String,
    pub distance: Option<String>,
    pub etat: Option<String>,
    pub ouvert: bool,
    pub services: String,
    pub labels: String,
    pub pass_numerique: bool,
}

#[derive(Template)]
#[template(path = "lieux/lieux-recherche.html")]
pub struct LieuxPage {
    pub l: Layout,
    pub q: String,
    pub services: Vec<Choice>,
    pub dispositifs: Vec<Choice>,
    pub ouvert: bool,
    pub pass: bool,
    pub near: bool,
    /// Nothing within the radius: the nearest places, however far.
    pub elargi: bool,
    /// The commune or postcode searched around, if the text was one.
    pub autour_de: Option<String>,
    /// The commune understood, when the official territories are loaded.
    pub autour: Option<crate::lieux::autour::Autour>,
    /// The INSEE code of the commune picked among homonyms, kept by the form.
    pub commune: String,
    pub lat: String,
    pub lon: String,
    pub searched: bool,
    pub total: usize,
    pub hits: Vec<LieuHit>,
    pub page: usize,
    pub pages: usize,
    pub prev: Option<String>,
    pub next: Option<String>,
}

#[derive(Template)]
#[template(path = "lieux/lieu.html")]
pub struct LieuPage {
    pub l: Layout,
    /// What was just done (after an edit).
    pub message: Option<String>,
    /// The hub territorial whose territory holds the place.
    pub hub: Option<String>,
    pub nom: String,
    pub adresse: String,
    pub complement: String,
    pub code_postal: String,
    pub commune: String,
    pub telephone: String,
    /// « 05 57 02 00 00 » (the link keeps the number as stored).
    pub telephone_lisible: String,
    pub courriels: Vec<String>,
    pub sites: Vec<String>,
    pub presentation: String,
    pub detail: String,
    pub services: Vec<String>,
    pub publics: Vec<String>,
    pub prise_en_charge: Vec<String>,
    pub frais: Vec<String>,
    pub dispositifs: Vec<String>,
    pub modalites_acces: Vec<String>,
    pub modalites_accompagnement: Vec<String>,
    pub fiche_acces_libre: Option<String>,
    pub prise_rdv: Option<String>,
    pub horaires_brutes: String,
    pub horaires_lisibles: bool,
    pub etat: Option<String>,
    pub semaine: Vec<(String, String)>,
    /// « heure de Paris », « heure de la Nouvelle-Calédonie »: the zone the hours are read in.
    pub fuseau: &'static str,
    pub carte: Option<String>,
    pub coordonnees: Option<String>,
    pub pass_numerique: bool,
    pub date_maj: String,
    pub source: String,
    /// The signed-in person may edit this place.
    pub modifiable: bool,
    /// The viewer is staff of the hub of this place's territory (may propose a correction).
    pub corrigeable: bool,
    pub id_url: String,
}

#[derive(Template)]
#[template(path = "lieux/lieux-import.html")]
pub struct ImportPage {
    pub l: Layout,
    pub report: Option<passerelle_core::lieux::import::Report>,
    pub error: Option<String>,
}

#[derive(Clone, Debug)]
pub struct OrgChoice {
    pub id: i64,
    pub name: String,
    pub selected: bool,
}

#[derive(Template)]
#[template(path = "lieux/lieu-modifier.html")]
pub struct LieuEditPage {
    pub l: Layout,
    pub id: String,
    pub nom: String,
    pub horaires: String,
    pub telephone: String,
    pub courriels: String,
    pub site_web: String,
    pub presentation_resume: String,
    pub prise_rdv: String,
    pub services: Vec<Choice>,
    pub operator: bool,
    pub orgs: Vec<OrgChoice>,
    pub errors: Vec<String>,
}

#[derive(Template)]
#[template(path = "pass_numerique/cheque.html")]
pub struct ChequePage {
    pub l: Layout,
    pub valide: bool,
    pub message: String,
    /// (id in the standard, name, address with postcode and commune)
    pub lieux: Vec<(String, String, String)>,
    /// For signed-in place staff: the code, to offer the redemption.
    pub redeem_code: Option<String>,
    /// Never set here: the form to type the code again shares its field with the entry page.
    pub erreur: Option<String>,
}

/// `/c`: where a holder types the code of his cheque.
#[derive(Template)]
#[template(path = "pass_numerique/cheque-saisie.html")]
pub struct ChequeEntryPage {
    pub l: Layout,
    pub erreur: Option<String>,
}

/// The outcome shown at the counter.
pub struct CounterResult {
    pub ok: bool,
    pub title: String,
    pub message: String,
    /// (place, redemption) that the place may still cancel (within 24 hours).
    pub cancellable: Option<(i64, i64)>,
}

/// A place in the counter form.
#[derive(Clone, Debug)]
pub struct CounterPlace {
    pub id: i64,
    pub nom: String,
    pub selected: bool,
    /// Only a qualified place redeems; the others are shown, not chosen.
    pub qualified: bool,
    /// The services it offers, `|`-separated (for the script that follows the chosen place).
    pub services: String,
}

#[derive(Template)]
#[template(path = "pass_numerique/encaisser.html")]
pub struct CounterPage {
    pub l: Layout,
    pub places: Vec<CounterPlace>,
    /// Not one of the places is qualified for the Pass Numérique.
    pub none_qualified: bool,
    /// (service, selected)
    pub services: Vec<(&'static str, bool)>,
    /// « A, B »: the only services the checked cheque's order pays for.
    pub autorises: Option<String>,
    pub code: String,
    /// A fresh idempotency key per form: a double submission redeems once.
    pub request_id: String,
    pub result: Option<CounterResult>,
}

pub struct OrderRow {
    pub id: i64,
    pub commanditaire: String,
    pub carnets: i64,
    pub cheques_par_carnet: i64,
    pub valeur: String,
    pub debut: String,
    pub fin: String,
    pub etat: &'static str,
}

#[derive(Template)]
#[template(path = "pass_numerique/commandes.html")]
pub struct OrdersPage {
    pub l: Layout,
    pub may_create: bool,
    pub orders: Vec<OrderRow>,
}

#[derive(Template)]
#[template(path = "pass_numerique/commande.html")]
pub struct OrderPage {
    pub l: Layout,
    /// The quote may be accepted by this user.
    pub may_accept: bool,
    /// The payment may be recorded by this user (the opérateur).
    pub may_pay: bool,
    pub id: i64,
    pub etat: &'static str,
    pub commanditaire: String,
    pub carnets: i64,
    /// « 1 carnet », « 12 000 carnets ».
    pub carnets_texte: String,
    pub cheques_par_carnet: i64,
    pub valeur: String,
    pub debut: String,
    pub fin: String,
    pub tolerance: i64,
    /// The last day a cheque of the order is accepted (end of validity plus the tolerance).
    pub dernier_jour: String,
    pub perimetre: String,
    pub publics: String,
    pub services: String,
    pub plafond: i64,
    /// (number, face value, fee, total) in euros
    /// (number, cheques, fee, total, credit note: the joint statement of expired cheques is linked).
    pub documents: Vec<(String, String, String, String, bool)>,
    pub carnets_emis: i64,
    pub carnets_attribues: i64,
    pub carnets_remis: i64,
    pub carnets_perdus: i64,
    /// (state in words, count)
    pub cheques: Vec<(&'static str, i64)>,
    /// The opérateur's tools: issue, print, allot.
    pub operator: bool,
    pub may_issue: bool,
    /// First and last booklet numbers, once issued.
    pub plage: Option<(i64, i64)>,
    /// Last booklet of the default PDF range.
    pub pdf_to: i64,
    pub pdf_max: i64,
    /// Prescribers booklets may be allotted to: (id, name).
    pub prescribers: Vec<(i64, String)>,
    pub message: Option<String>,
    pub error: Option<String>,
    /// The end of validity is near (30 days or less).
    pub alerte: Option<passerelle_core::pass_numerique::alerts::EndAlert>,
    /// The hand-out of the booklets is stopped.
    pub remises_arretees: bool,
    /// This user may stop or resume the hand-out (the funder, the opérateur).
    pub may_stop: bool,
}

/// What the new-order form holds, as typed (shown again after a refusal).
#[derive(Debug, Clone)]
pub struct NewOrderValues {
    pub commanditaire: i64,
    pub carnets: String,
    pub cheques_par_carnet: String,
    pub valeur: String,
    pub debut: String,
    pub fin: String,
    pub tolerance: String,
    pub perimetre: String,
    pub publics: Vec<String>,
    pub services: Vec<String>,
    pub prescripteurs: Vec<i64>,
    pub plafond: String,
    pub marque: String,
    pub frais: String,
}

impl Default for NewOrderValues {
    /// The brief's defaults: 10 cheques of 10 € per booklet, 30 days of tolerance, 2 per day, 4 % fee.
    fn default() -> Self {
        NewOrderValues {
            commanditaire: 0,
            carnets: String::new(),
            cheques_par_carnet: "10".into(),
            valeur: "10".into(),
            debut: String::new(),
            fin: String::new(),
            tolerance: "30".into(),
            perimetre: String::new(),
            publics: vec!["tout-public".into()],
            services: Vec::new(),
            prescripteurs: Vec::new(),
            plafond: "2".into(),
            marque: String::new(),
            frais: "4".into(),
        }
    }
}

#[derive(Template)]
#[template(path = "pass_numerique/commande-nouvelle.html")]
pub struct NewOrderPage {
    pub l: Layout,
    pub funders: Vec<(i64, String)>,
    pub prescribers: Vec<(i64, String)>,
    /// (key, label)
    pub publics: Vec<(&'static str, &'static str)>,
    pub services: Vec<&'static str>,
    pub values: NewOrderValues,
    pub error: Option<String>,
    /// The opérateur sets his fee; a funder orders at the usual one.
    pub operateur: bool,
}

#[derive(Template)]
#[template(path = "pass_numerique/remettre.html")]
pub struct HandOutPage {
    pub l: Layout,
    /// What was typed, shown again after a refusal (empty after a success: the next person).
    pub saisie: HandOutTyped,
    /// « n° 4 à 10 (commande n° 1) », the booklets left to hand out.
    pub a_remettre: Vec<String>,
    /// The first of them, preset in the form.
    pub prochain: Option<i64>,
    /// (key, label)
    pub publics: Vec<(&'static str, &'static str)>,
    pub bands: Vec<&'static str>,
    pub result: Option<CounterResult>,
}

/// The hand-out form as typed.
#[derive(Debug, Clone, Default)]
pub struct HandOutTyped {
    pub carnet: String,
    pub public: String,
    pub commune: String,
    pub tranche_age: String,
    pub contact: String,
    pub consentement: bool,
}

impl HandOutTyped {
    pub fn public_is(&self, key: &str) -> bool {
        self.public == key
    }

    pub fn tranche_is(&self, band: &str) -> bool {
        self.tranche_age == band
    }
}

/// A statement in a table.
#[derive(Debug, Clone)]
pub struct StatementRow {
    pub numero: String,
    pub lieu: String,
    pub periode: String,
    pub lignes: i64,
    pub total: String,
    /// Holder and IBAN (masked for the place's staff).
    pub compte: String,
    pub etat: &'static str,
    pub motif_rejet: Option<String>,
    /// The opérateur may record the bank's rejection of this transfer.
    pub rejetable: bool,
}

#[derive(Debug, Clone)]
pub struct LotRow {
    pub id: i64,
    pub msg_id: String,
    pub jusqu_au: String,
    pub virements: i64,
    pub total: String,
    pub etat: &'static str,
}

#[derive(Template)]
#[template(path = "reglements/reglements.html")]
pub struct SettlementPage {
    pub l: Layout,
    /// (holder, grouped IBAN, BIC) of the opérateur's account.
    pub compte: Option<(String, String, String)>,
    /// Default cut-off, AAAA-MM-JJ.
    pub jusqu_au: String,
    /// Statements of the run just made: (number, place, lines, total).
    pub created: Vec<(String, String, i64, String)>,
    /// Places held back: (place, redemptions, total, reason).
    pub held_back: Vec<(String, i64, String, String)>,
    pub lots: Vec<LotRow>,
    pub message: Option<String>,
    pub error: Option<String>,
}

#[derive(Template)]
#[template(path = "reglements/lot.html")]
pub struct LotPage {
    pub l: Layout,
    pub id: i64,
    pub msg_id: String,
    pub jusqu_au: String,
    pub virements: i64,
    pub total: String,
    pub etat: &'static str,
    pub may_send: bool,
    pub may_execute: bool,
    pub statements: Vec<StatementRow>,
    pub message: Option<String>,
    pub error: Option<String>,
}

#[derive(Template)]
#[template(path = "reglements/releves.html")]
pub struct StatementsPage {
    pub l: Layout,
    pub statements: Vec<StatementRow>,
}

#[derive(Template)]
#[template(path = "reglements/releve.html")]
pub struct StatementPage {
    pub l: Layout,
    pub s: StatementRow,
    pub jusqu_au: String,
    /// (day, booklet / rank, service, amount)
    pub lines: Vec<(String, String, String, String)>,
}

/// The message of a form's field among its errors, (field id, message) pairs:
/// what the templates mark the field with.
pub fn field_error<'a>(errors: &'a [(&'static str, String)], field: &str) -> Option<&'a str> {
    errors.iter().find(|(f, _)| *f == field).map(|(_, m)| m.as_str())
}

#[cfg(test)]
mod tests {
    #[test]
    fn instants_are_shown_in_utc_as_before() {
        // 2026-02-28T23:30:00.123456Z.
        assert_eq!(super::horodatage(1_772_321_400_123_456), "01/03/2026 à 0 h 30");
        assert_eq!(super::horodatage(0), "01/01/1970 à 1 h 00");
    }
}
