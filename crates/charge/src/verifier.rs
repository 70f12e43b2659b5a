//! `passerelle-charge verifier`: what must hold when several instances serve
//! one database, checked through HTTP only, one French line per check:
//! a cheque redeemed at the same moment on every instance is redeemed once;
//! a session opened on one instance works on the others (and a logout on one
//! ends it everywhere); the lockout after failed logins and the limit on
//! failed cheque checks count the same whether the attempts are spread over
//! the instances or not.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Result};
use clap::Args;
use futures_util::future::join_all;
use serde_json::json;

use crate::cible::Cible;
use crate::client::{self, Reponse};
use crate::jeu::Jeu;

#[derive(Args, Debug)]
pub struct VerifierArgs {
    /// Instances (deux au moins), boucle locale seulement.
    #[arg(long = "instance", required = true)]
    pub instances: Vec<String>,
    /// Jeu de données écrit par `preparer`.
    #[arg(long)]
    pub jeu: PathBuf,
    /// Demandes d'encaissement simultanées d'un même chèque sur chaque instance.
    #[arg(long, default_value_t = 4)]
    pub essais: usize,
    /// Vérifications de codes erronés permises par clé d'API et par fenêtre (celle du service).
    #[arg(long = "limite-verifications", default_value_t = 30)]
    pub limite_verifications: usize,
}

/// One check's outcome, printed as it comes.
struct Bilan {
    ok: usize,
    failed: usize,
}

impl Bilan {
    fn check(&mut self, ok: bool, text: String) {
        if ok {
            self.ok += 1;
            println!("OK     {text}");
        } else {
            self.failed += 1;
            println!("ÉCHEC  {text}");
        }
    }
}

pub async fn run(a: VerifierArgs) -> Result<bool> {
    let cibles = a
        .instances
        .iter()
        .map(|s| Cible::parse(s))
        .collect::<Result<Vec<_>>>()?;
    if cibles.len() < 2 {
        bail!("--instance : deux instances au moins");
    }
    let jeu = Jeu::read(&a.jeu)?;
    let http = client::new(Duration::from_secs(20), 64)?;
    let mut b = Bilan { ok: 0, failed: 0 };
    race(&mut b, &http, &cibles, &jeu, a.essais).await?;
    session(&mut b, &http, &cibles, &jeu).await?;
    lockout(&mut b, &http, &cibles, &jeu).await?;
    check_limit(&mut b, &http, &cibles, &jeu, a.limite_verifications).await?;
    println!("{} vérification(s) réussie(s), {} en échec.", b.ok, b.failed);
    Ok(b.failed == 0)
}

fn motif(r: &Reponse) -> String {
    serde_json::from_str::<serde_json::Value>(&r.body)
        .ok()
        .and_then(|v| v.get("motif").and_then(|m| m.as_str()).map(str::to_string))
        .unwrap_or_default()
}

/// Every cheque of the race redeemed `essais` times at once on each instance
/// (distinct idempotency keys): exactly one 201 per cheque, the others « déjà encaissé ».
async fn race(b: &mut Bilan, http: &reqwest::Client, cibles: &[Cible], jeu: &Jeu, essais: usize) -> Result<()> {
    if jeu.course.is_empty() {
        bail!("le jeu de données n'a pas de chèques pour la course");
    }
    let mut attempts = Vec::new();
    for (n, c) in jeu.course.iter().enumerate() {
        let lieu = &jeu.lieux[c.lieu % jeu.lieux.len()];
        for k in 0..essais * cibles.len() {
            let cible = &cibles[k % cibles.len()];
            let body = json!({ "code": c.code, "service": lieu.service });
            let key = format!("course-{}-{n}-{k}", std::process::id());
            attempts.push(async move {
                let r = client::post_api(
                    http,
                    cible,
                    "/api/v1/cheques/encaisser",
                    &lieu.cle_api,
                    &body,
                    Some(&key),
                    (n * 64 + k) as u32,
                )
                .await;
                (n, r)
            });
        }
    }
    let results = join_all(attempts).await;
    let mut wins = vec![0usize; jeu.course.len()];
    let (mut already, mut other, mut errors) = (0, Vec::new(), 0);
    for (n, r) in results {
        match r {
            Ok(r) if r.status.as_u16() == 201 => wins[n] += 1,
            Ok(r) if r.status.as_u16() == 409 && motif(&r) == "deja_encaisse" => already += 1,
            Ok(r) => other.push(format!("{} {}", r.status.as_u16(), motif(&r))),
            Err(_) => errors += 1,
        }
    }
    let once = wins.iter().filter(|w| **w == 1).count();
    b.check(
        once == jeu.course.len() && other.is_empty() && errors == 0,
        format!(
            "encaissements simultanés : {} chèques × {} demandes réparties sur {} instances → {} encaissé(s) exactement une fois, {} refus « déjà encaissé », {} autre(s) réponse(s){}, {} erreur(s) de transport",
            jeu.course.len(),
            essais * cibles.len(),
            cibles.len(),
            once,
            already,
            other.len(),
            if other.is_empty() { String::new() } else { format!(" ({})", other.join(", ")) },
            errors
        ),
    );
    Ok(())
}

/// A session opened on the first instance opens « Mon compte » on every
/// other; a logout on the last one ends it on the first.
async fn session(b: &mut Bilan, http: &reqwest::Client, cibles: &[Cible], jeu: &Jeu) -> Result<()> {
    let Some(compte) = jeu.comptes.first() else {
        bail!("le jeu de données n'a aucun compte");
    };
    let first = &cibles[0];
    let login = client::connexion(http, first, &compte.email, &compte.mot_de_passe, 9_001).await?;
    let Some(cookie) = login.session.clone() else {
        b.check(
            false,
            format!(
                "session : connexion refusée sur {first} (statut {})",
                login.reponse.status.as_u16()
            ),
        );
        return Ok(());
    };
    for other in &cibles[1..] {
        let with = client::get_with_cookie(http, other, "/mon-compte", &cookie, 9_002).await?;
        let without = client::get(http, other, "/mon-compte", 9_002).await?;
        b.check(
            with.status.as_u16() == 200 && with.body.contains(&compte.email) && without.status.is_redirection(),
            format!(
                "session ouverte sur {first}, « Mon compte » sur {other} : {} avec le cookie, {} sans",
                with.status.as_u16(),
                without.status.as_u16()
            ),
        );
    }
    // Logout on the last instance (form under CSRF: the token rotated at login).
    let last = &cibles[cibles.len() - 1];
    let csrf = client::set_cookie(&login.reponse.headers, "passerelle_csrf").unwrap_or_default();
    let out = http
        .post(last.url("/deconnexion"))
        .header("x-forwarded-for", client::client_address(9_003))
        .header("sec-fetch-site", "same-origin")
        .header(reqwest::header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(reqwest::header::COOKIE, format!("{cookie}; passerelle_csrf={csrf}"))
        .body(format!("csrf_token={csrf}"))
        .send()
        .await?;
    let after = client::get_with_cookie(http, first, "/mon-compte", &cookie, 9_004).await?;
    b.check(
        out.status().as_u16() == 200 && after.status.is_redirection(),
        format!(
            "déconnexion sur {last} ({}) : la session ne vaut plus sur {first} ({})",
            out.status().as_u16(),
            after.status.as_u16()
        ),
    );
    Ok(())
}

/// Failed logins until the account is locked (429, at the 5th failure): as
/// many spread over the instances as on one instance, and the lock holds on
/// every instance.
async fn lockout(b: &mut Bilan, http: &reqwest::Client, cibles: &[Cible], jeu: &Jeu) -> Result<()> {
    let [spread, single] = &jeu.verrouillage[..] else {
        bail!("le jeu de données doit avoir deux comptes de verrouillage");
    };
    // The failure that uses the last free try already answers « locked » (429).
    let expected = passerelle_core::accounts::throttle::FREE_FAILURES as usize;
    let until_locked = |email: String, spread_over: Vec<Cible>, base: u32| async move {
        for n in 0..expected + 5 {
            let cible = &spread_over[n % spread_over.len()];
            let r = client::connexion(http, cible, &email, "mauvais-mot-de-passe-0", base + n as u32).await?;
            match r.reponse.status.as_u16() {
                429 => return anyhow::Ok(Some(n + 1)),
                401 => {}
                s => bail!("connexion : statut inattendu {s} sur {cible}"),
            }
        }
        Ok(None)
    };
    let a = until_locked(spread.email.clone(), cibles.to_vec(), 10_000).await?;
    let s = until_locked(single.email.clone(), vec![cibles[0].clone()], 11_000).await?;
    b.check(
        a == Some(expected) && s == Some(expected),
        format!(
            "verrouillage après échecs de connexion : refus (429) à la tentative n° {} en alternant les instances, n° {} sur une seule (attendu : n° {expected})",
            a.map_or("—".into(), |n| n.to_string()),
            s.map_or("—".into(), |n| n.to_string())
        ),
    );
    let mut statuses = Vec::new();
    for (k, cible) in cibles.iter().enumerate() {
        let r = client::connexion(http, cible, &spread.email, &spread.mot_de_passe, 12_000 + k as u32).await?;
        statuses.push(r.reponse.status.as_u16());
    }
    b.check(
        statuses.iter().all(|s| *s == 429),
        format!(
            "compte verrouillé : le bon mot de passe est refusé sur chaque instance ({})",
            statuses.iter().map(u16::to_string).collect::<Vec<_>>().join(", ")
        ),
    );
    Ok(())
}

/// Malformed codes checked with one API key until the service answers 429:
/// the same count spread over the instances as on one instance.
async fn check_limit(b: &mut Bilan, http: &reqwest::Client, cibles: &[Cible], jeu: &Jeu, limit: usize) -> Result<()> {
    let [spread, single] = jeu.limites[..] else {
        bail!("le jeu de données doit réserver deux lieux aux limites");
    };
    let until_refused = |lieu: usize, spread_over: Vec<Cible>, base: u32| async move {
        let lieu = &jeu.lieux[lieu];
        for n in 0..limit + 5 {
            let cible = &spread_over[n % spread_over.len()];
            let body = json!({ "code": "0000-0000", "service": lieu.service });
            let r = client::post_api(
                http,
                cible,
                "/api/v1/cheques/verifier",
                &lieu.cle_api,
                &body,
                None,
                base + n as u32,
            )
            .await?;
            match (r.status.as_u16(), motif(&r).as_str()) {
                (429, "trop_de_tentatives") => return anyhow::Ok(Some(n + 1)),
                (200, "code_mal_saisi") => {}
                (s, m) => bail!("vérification : réponse inattendue {s} « {m} » sur {cible}"),
            }
        }
        Ok(None)
    };
    let a = until_refused(spread, cibles.to_vec(), 20_000).await?;
    let s = until_refused(single, vec![cibles[0].clone()], 21_000).await?;
    b.check(
        a == Some(limit + 1) && s == Some(limit + 1),
        format!(
            "limite des vérifications de codes erronés : refus (429) à la demande n° {} en alternant les instances, n° {} sur une seule (attendu : n° {})",
            a.map_or("—".into(), |n| n.to_string()),
            s.map_or("—".into(), |n| n.to_string()),
            limit + 1
        ),
    );
    Ok(())
}
