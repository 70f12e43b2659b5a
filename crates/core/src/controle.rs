//! `passerelle controle`: the money rules of the brief, checked on the whole
//! database. Each rule is one query counting the rows that break it; a sound
//! database has zero everywhere. Two more rules are read in Rust: every stored
//! SIRET follows today's one rule ([`sirets_a_reprendre`]), and so does every
//! place's postcode and INSEE code ([`codes_lieux_a_reprendre`]).

use crate::accounts::{authorize, Action, Principal};
use crate::error::Result;
use crate::{Core, Pool};

/// One rule and how many rows break it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Check {
    pub cle: &'static str,
    pub regle: &'static str,
    pub ecarts: i64,
    /// Time the query took.
    pub duree_ms: u64,
}

const RULES: &[(&str, &str, &str)] = &[
    (
        "etat_connu",
        "chaque chèque est dans un des cinq états",
        "SELECT COUNT(*) FROM cheques WHERE etat NOT IN ('en_attente', 'actif', 'encaisse', 'expire', 'annule')",
    ),
    (
        "emission_complete",
        "une commande émise a tous ses chèques (carnets × chèques par carnet), à la valeur commandée",
        "SELECT COUNT(*) FROM commandes o WHERE o.emise_at IS NOT NULL AND \
         (SELECT COUNT(*) FROM cheques c WHERE c.commande_id = o.id AND c.valeur_centimes = o.valeur_centimes) \
         <> o.carnets * o.cheques_par_carnet",
    ),
    (
        "actifs_payes",
        "aucun chèque actif, encaissé ou expiré dans une commande non payée",
        "SELECT COUNT(*) FROM cheques c JOIN commandes o ON o.id = c.commande_id \
         WHERE c.etat IN ('actif', 'encaisse', 'expire') AND o.etat <> 'payee'",
    ),
    (
        "facture_couvre_actifs",
        "le montant facturé couvre la valeur des chèques activés",
        "SELECT COUNT(*) FROM commandes o WHERE \
         (SELECT COALESCE(SUM(c.valeur_centimes), 0) FROM cheques c WHERE c.commande_id = o.id AND c.etat IN ('actif', 'encaisse', 'expire')) \
         > (SELECT COALESCE(SUM(d.valeur_centimes), 0) FROM documents d WHERE d.commande_id = o.id AND d.type = 'facture')",
    ),
    (
        "encaisse_une_fois",
        "un chèque encaissé a exactement un encaissement non annulé",
        // Counted, not joined: as many encaissé cheques as cheques with a live redemption, none with two
        // (with `encaissement_coherent`, every live redemption's cheque is encaissé: a bijection).
        "SELECT ABS((SELECT COUNT(*) FROM cheques WHERE etat = 'encaisse') \
         - (SELECT COUNT(DISTINCT cheque_id) FROM encaissements WHERE annule_at IS NULL)) \
         + (SELECT COUNT(*) FROM (SELECT cheque_id FROM encaissements WHERE annule_at IS NULL \
         GROUP BY cheque_id HAVING COUNT(*) > 1) x)",
    ),
    (
        "encaissement_coherent",
        "un encaissement non annulé porte sur un chèque encaissé, à sa valeur",
        "SELECT COUNT(*) FROM encaissements e JOIN cheques c ON c.id = e.cheque_id \
         WHERE e.annule_at IS NULL AND (c.etat <> 'encaisse' OR c.valeur_centimes <> e.valeur_centimes)",
    ),
    (
        "plafond_journalier",
        "pas plus de chèques d'un carnet par lieu et par jour que le plafond de la commande",
        // Only the partial index is read; the few booklets with two redemptions or more find their order.
        "SELECT COUNT(*) FROM (SELECT carnet_id, lieu_id, jour, COUNT(*) AS n \
         FROM encaissements WHERE annule_at IS NULL GROUP BY carnet_id, lieu_id, jour HAVING COUNT(*) > 1) x \
         JOIN carnets k ON k.numero = x.carnet_id JOIN commandes o ON o.id = k.commande_id WHERE x.n > o.plafond_jour",
    ),
    (
        "avoirs_justifies",
        "les avoirs ne dépassent pas la valeur des chèques expirés ou annulés",
        "SELECT COUNT(*) FROM commandes o WHERE \
         (SELECT COALESCE(SUM(d.valeur_centimes), 0) FROM documents d WHERE d.commande_id = o.id AND d.type = 'avoir') \
         > (SELECT COALESCE(SUM(c.valeur_centimes), 0) FROM cheques c WHERE c.commande_id = o.id AND c.etat IN ('expire', 'annule'))",
    ),
    (
        "documents_totaux",
        "total d'un devis, d'une facture ou d'un avoir = valeur + frais",
        "SELECT COUNT(*) FROM documents WHERE total_centimes <> valeur_centimes + frais_centimes",
    ),
    (
        "documents_sans_trou",
        "numérotation sans trou des devis, factures et avoirs, par année",
        "SELECT COUNT(*) FROM (SELECT type, annee FROM documents GROUP BY type, annee HAVING MAX(rang) <> COUNT(*)) x",
    ),
    (
        "releves_sans_trou",
        "numérotation sans trou des relevés, par année",
        "SELECT COUNT(*) FROM (SELECT annee FROM releves GROUP BY annee HAVING MAX(rang) <> COUNT(*)) x",
    ),
    (
        "ligne_une_fois",
        "un encaissement figure sur un seul relevé non rejeté",
        "SELECT COUNT(*) FROM (SELECT encaissement_id FROM releve_lignes WHERE rejetee = 0 \
         GROUP BY encaissement_id HAVING COUNT(*) > 1) x",
    ),
    (
        "ligne_encaissement_valide",
        "une ligne de relevé renvoie à son relevé et à son encaissement ; non rejetée, à un encaissement non annulé, \
         du même lieu, à sa valeur",
        "SELECT COUNT(*) FROM releve_lignes l LEFT JOIN encaissements e ON e.id = l.encaissement_id \
         LEFT JOIN releves r ON r.id = l.releve_id WHERE e.id IS NULL OR r.id IS NULL OR (l.rejetee = 0 AND \
         (e.annule_at IS NOT NULL OR e.lieu_id <> r.lieu_id OR e.valeur_centimes <> l.valeur_centimes))",
    ),
    (
        "ligne_rejet_coherent",
        "les lignes d'un relevé rejeté, et elles seules, sont marquées à repayer",
        "SELECT COUNT(*) FROM releve_lignes l JOIN releves r ON r.id = l.releve_id \
         WHERE (r.etat = 'rejete') <> (l.rejetee <> 0)",
    ),
    (
        "releve_total",
        "total et nombre de lignes d'un relevé = somme de ses lignes",
        "SELECT COUNT(*) FROM releves r WHERE r.total_centimes <> \
         (SELECT COALESCE(SUM(l.valeur_centimes), 0) FROM releve_lignes l WHERE l.releve_id = r.id) \
         OR r.lignes <> (SELECT COUNT(*) FROM releve_lignes l WHERE l.releve_id = r.id)",
    ),
    (
        "lot_total",
        "somme de contrôle d'un fichier SEPA = somme des relevés qu'il paie",
        "SELECT COUNT(*) FROM lots_virements v WHERE v.total_centimes <> \
         (SELECT COALESCE(SUM(r.total_centimes), 0) FROM releves r WHERE r.lot_id = v.id) \
         OR v.virements <> (SELECT COUNT(*) FROM releves r WHERE r.lot_id = v.id)",
    ),
    (
        "regle_au_plus_encaisse",
        "par lieu, le montant réglé (relevés non rejetés) ne dépasse pas le montant encaissé",
        // Statements' totals stand for their lines (`releve_total`).
        "SELECT COUNT(*) FROM (SELECT lieu_id, SUM(total_centimes) AS regle FROM releves WHERE etat <> 'rejete' \
         GROUP BY lieu_id) s LEFT JOIN (SELECT lieu_id, SUM(valeur_centimes) AS encaisse FROM encaissements \
         WHERE annule_at IS NULL GROUP BY lieu_id) e ON e.lieu_id = s.lieu_id WHERE s.regle > COALESCE(e.encaisse, 0)",
    ),
];

/// Rules run at once on this many connections (each rule is one query, hence
/// one consistent snapshot of its own).
const PARALLEL: usize = 2;
/// SQLite reads through a memory map while checking (bytes), then as before.
const CHECK_MMAP: i64 = 4 << 30;

async fn one(core: &Core, sql: &str) -> Result<(i64, u64)> {
    let sql = format!("SELECT CAST(({sql}) AS BIGINT)");
    let started = std::time::Instant::now();
    let ecarts: i64 = match &core.db.pool {
        Pool::Sqlite(pool) => {
            let mut conn = pool.acquire().await?;
            // Constants, not user input: a pragma takes no bound parameter.
            sqlx::query(&format!("PRAGMA mmap_size = {CHECK_MMAP}"))
                .execute(&mut *conn)
                .await?;
            let result = sqlx::query_scalar(&sql).fetch_one(&mut *conn).await;
            sqlx::query("PRAGMA mmap_size = 0").execute(&mut *conn).await?;
            result?
        }
        Pool::Postgres(pool) => sqlx::query_scalar(&sql).fetch_one(pool).await?,
    };
    Ok((ecarts, started.elapsed().as_millis() as u64))
}

/// A stored SIRET that today's rule ([`crate::identifiants::Siret`]) refuses:
/// written before the validators were one (an older one accepted the
/// placeholder `00000000000000`). Nothing is changed; the opérateur corrects it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SiretARevoir {
    /// What holds it, in words.
    pub objet: &'static str,
    pub table: &'static str,
    pub id: i64,
    /// The name of what holds it (organisation, place, structure).
    pub nom: String,
    /// The place concerned, by its id in the standard (qualifications and their requests).
    pub lieu_ext_id: Option<String>,
    pub siret: String,
    pub motif: String,
}

const SIRET_COLUMNS: &[(&str, &str, &str)] = &[
    (
        "organisation",
        "organisations",
        "SELECT id, siret, name, CAST(NULL AS TEXT) FROM organisations WHERE siret IS NOT NULL",
    ),
    (
        "qualification d'un lieu",
        "qualifications",
        "SELECT q.id, q.siret, l.nom, l.ext_id FROM qualifications q JOIN lieux l ON l.id = q.lieu_id \
         WHERE q.siret IS NOT NULL",
    ),
    (
        "demande de qualification",
        "demandes_qualification",
        "SELECT d.id, d.siret, l.nom, l.ext_id FROM demandes_qualification d JOIN lieux l ON l.id = d.lieu_id \
         WHERE d.siret <> ''",
    ),
    (
        "demande d'habilitation Aidants Connect",
        "habilitations",
        "SELECT id, siret, nom, CAST(NULL AS TEXT) FROM habilitations",
    ),
];

/// Every stored SIRET that today's rule refuses, table by table: for the
/// opérateur (or the platform itself) only.
pub async fn sirets_a_reprendre(core: &Core, who: &Principal) -> Result<Vec<SiretARevoir>> {
    authorize(who, Action::Administer)?;
    let mut found = Vec::new();
    for (objet, table, sql) in SIRET_COLUMNS {
        let rows: Vec<(i64, String, String, Option<String>)> =
            crate::on_db!(&core.db, c => sqlx::query_as(sql).fetch_all(&mut *c).await?);
        for (id, siret, nom, lieu_ext_id) in rows {
            if let Err(e) = crate::identifiants::Siret::parse(&siret) {
                found.push(SiretARevoir {
                    objet,
                    table,
                    id,
                    nom,
                    lieu_ext_id,
                    siret,
                    motif: e.to_string(),
                });
            }
        }
    }
    Ok(found)
}

/// A place whose stored postcode or INSEE code today's rule
/// ([`crate::identifiants::CodePostal`], [`crate::identifiants::CodeInsee`])
/// refuses: written by an older import that checked only the standard's
/// pattern (`00100`, INSEE `99100`). Reads of the whole directory (search,
/// export, reports) keep such a row as text; the opérateur corrects it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CodeARevoir {
    pub lieu_ext_id: String,
    pub nom: String,
    /// `code_postal` or `code_insee`.
    pub champ: &'static str,
    pub valeur: String,
    pub motif: String,
}

/// Every place's stored postcode and INSEE code that today's rule refuses
/// (an absent INSEE code, stored empty, is not one): for the opérateur only.
pub async fn codes_lieux_a_reprendre(core: &Core, who: &Principal) -> Result<Vec<CodeARevoir>> {
    use crate::identifiants::{CodeInsee, CodePostal};
    authorize(who, Action::Administer)?;
    let rows: Vec<(String, String, String, String)> = crate::on_db!(&core.db, c => {
        sqlx::query_as("SELECT ext_id, nom, code_postal, code_insee FROM lieux ORDER BY ext_id").fetch_all(&mut *c).await?
    });
    let mut found = Vec::new();
    for (lieu_ext_id, nom, code_postal, code_insee) in rows {
        let postal = CodePostal::parse(&code_postal)
            .err()
            .map(|e| ("code_postal", code_postal, e));
        let insee = (!code_insee.is_empty())
            .then(|| CodeInsee::parse(&code_insee).err())
            .flatten()
            .map(|e| ("code_insee", code_insee, e));
        for (champ, valeur, e) in postal.into_iter().chain(insee) {
            found.push(CodeARevoir {
                lieu_ext_id: lieu_ext_id.clone(),
                nom: nom.clone(),
                champ,
                valeur,
                motif: e.to_string(),
            });
        }
    }
    Ok(found)
}

/// Runs every rule.
pub async fn run(core: &Core) -> Result<Vec<Check>> {
    Ok(run_with_sirets(core).await?.0)
}

/// Runs every rule, and gives the stored SIRETs to take up again (read once,
/// counted by the rule `sirets_valides`).
pub async fn run_with_sirets(core: &Core) -> Result<(Vec<Check>, Vec<SiretARevoir>)> {
    use futures_util::StreamExt;
    let results: Vec<Result<(i64, u64)>> = futures_util::stream::iter(RULES.iter())
        .map(|(_, _, sql)| one(core, sql))
        .buffered(PARALLEL)
        .collect()
        .await;
    let mut checks: Vec<Check> = RULES
        .iter()
        .zip(results)
        .map(|((cle, regle, _), r)| {
            r.map(|(ecarts, duree_ms)| Check {
                cle,
                regle,
                ecarts,
                duree_ms,
            })
        })
        .collect::<Result<_>>()?;
    let started = std::time::Instant::now();
    let sirets = sirets_a_reprendre(core, &Principal::SYSTEME).await?;
    checks.push(Check {
        cle: "sirets_valides",
        regle:
            "chaque SIRET enregistré suit la règle commune (clé de contrôle, règle de La Poste, pas de numéro fictif)",
        ecarts: sirets.len() as i64,
        duree_ms: started.elapsed().as_millis() as u64,
    });
    let started = std::time::Instant::now();
    let codes = codes_lieux_a_reprendre(core, &Principal::SYSTEME).await?;
    checks.push(Check {
        cle: "codes_lieux_valides",
        regle: "chaque code postal et code INSEE de lieu suit la règle commune (pas de code 00…, département existant)",
        ecarts: codes.len() as i64,
        duree_ms: started.elapsed().as_millis() as u64,
    });
    Ok((checks, sirets))
}
