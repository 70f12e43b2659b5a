//! `passerelle controle`: the money rules of the brief, checked on the whole
//! database. Each rule is one query counting the rows that break it; a sound
//! database has zero everywhere.

use crate::error::CoreResult;
use crate::{on_db, Core};

/// One rule and how many rows break it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Check {
    pub cle: &'static str,
    pub regle: &'static str,
    pub ecarts: i64,
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
        "SELECT COUNT(*) FROM cheques c WHERE c.etat = 'encaisse' AND \
         (SELECT COUNT(*) FROM encaissements e WHERE e.cheque_id = c.id AND e.annule_at IS NULL) <> 1",
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
        "SELECT COUNT(*) FROM (SELECT e.carnet_id, e.lieu_id, e.jour, COUNT(*) AS n, MAX(o.plafond_jour) AS plafond \
         FROM encaissements e JOIN commandes o ON o.id = e.commande_id WHERE e.annule_at IS NULL \
         GROUP BY e.carnet_id, e.lieu_id, e.jour) x WHERE x.n > x.plafond",
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
        "une ligne de relevé non rejetée porte sur un encaissement non annulé, du même lieu, à sa valeur",
        "SELECT COUNT(*) FROM releve_lignes l JOIN encaissements e ON e.id = l.encaissement_id \
         JOIN releves r ON r.id = l.releve_id WHERE l.rejetee = 0 AND \
         (e.annule_at IS NOT NULL OR e.lieu_id <> r.lieu_id OR e.valeur_centimes <> l.valeur_centimes)",
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
        "SELECT COUNT(*) FROM (SELECT r.lieu_id, SUM(l.valeur_centimes) AS regle FROM releve_lignes l \
         JOIN releves r ON r.id = l.releve_id WHERE l.rejetee = 0 GROUP BY r.lieu_id) s \
         WHERE s.regle > (SELECT COALESCE(SUM(e.valeur_centimes), 0) FROM encaissements e \
         WHERE e.lieu_id = s.lieu_id AND e.annule_at IS NULL)",
    ),
];

/// Runs every rule.
pub async fn run(core: &Core) -> CoreResult<Vec<Check>> {
    let mut out = Vec::with_capacity(RULES.len());
    for (cle, regle, sql) in RULES {
        let sql = format!("SELECT CAST(({sql}) AS BIGINT)");
        let ecarts: i64 = on_db!(&core.db, c => sqlx::query_scalar(&sql).fetch_one(&mut *c).await?);
        out.push(Check { cle, regle, ecarts });
    }
    Ok(out)
}
