//! Demonstration articles of the resource centre (`serve --demo`): four short
//! guides for collectivités, published, tagged, one with a file.

use super::edit;
use super::model::Input;
use crate::accounts::Principal;
use crate::error::{CoreError, Result};
use crate::Core;

/// (slug, title, summary, tags, Markdown body).
const ARTICLES: [(&str, &str, &str, &str, &str); 4] = [
    (
        "financer-le-pass-numerique",
        "Guide : financer des Pass Numérique pour vos habitants",
        "Public, territoire, prescripteurs, commande et suivi : les cinq étapes pour qu'une collectivité finance des carnets de Pass Numérique.",
        "Pass Numérique, guide, financement",
        include_str!("../../data/ressources/guide-pass-numerique.md"),
    ),
    (
        "deliberation-type-pass-numerique",
        "Modèle de délibération pour financer le Pass Numérique",
        "Une trame de délibération à adapter par le conseil municipal, départemental ou communautaire, avec un tableau de calcul du budget.",
        "Pass Numérique, délibération, modèle",
        include_str!("../../data/ressources/deliberation-type.md"),
    ),
    (
        "accueillir-un-conseiller-numerique",
        "Accueillir un conseiller numérique dans votre collectivité",
        "Poste de travail, lieu d'accueil, référent, premières semaines : préparer l'arrivée d'un conseiller numérique.",
        "conseiller numérique, guide, médiation",
        include_str!("../../data/ressources/conseiller-numerique.md"),
    ),
    (
        "devenir-structure-aidants-connect",
        "Devenir une structure habilitée Aidants Connect",
        "Qui peut être habilité, comment déposer la demande, former les aidants et conclure les premiers mandats.",
        "Aidants Connect, habilitation, guide",
        include_str!("../../data/ressources/aidants-connect-structure.md"),
    ),
];

const BUDGET_CSV: &str = "poste;quantite;valeur_unitaire_euros;total_euros\n\
carnets de 10 cheques de 10 euros;200;100;20000\n\
frais de gestion;1;0;0\n\
total;;;20000\n";

/// Writes and publishes the demonstration articles as the opérateur `who`.
pub async fn load(core: &Core, who: &Principal) -> Result<()> {
    for (slug, titre, resume, tags, corps) in ARTICLES {
        let input = Input {
            slug: slug.into(),
            titre: titre.into(),
            resume: resume.into(),
            corps: corps.into(),
            tags: tags.into(),
        };
        let id = edit::create(core, who, &input)
            .await?
            .map_err(|e| CoreError::invalid(format!("ressource de démonstration {slug} : {e:?}")))?;
        if slug == "deliberation-type-pass-numerique" {
            edit::attach(core, who, id, "budget-pass-numerique.csv", BUDGET_CSV.as_bytes()).await?;
        }
        edit::set_published(core, who, id, true).await?;
    }
    Ok(())
}
