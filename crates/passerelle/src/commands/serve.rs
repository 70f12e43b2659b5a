//! `passerelle serve`: the web service.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result};
use passerelle_core::accounts::session;
use passerelle_core::{demo, journal, ratelimit, Core};
use passerelle_web::{router, AppState, WebConfig};

use crate::config::{base_url, check_assets, DataArgs, ServeArgs};

pub async fn run(data: &DataArgs, args: ServeArgs) -> Result<ExitCode> {
    let listen: SocketAddr = args.listen.parse().with_context(|| {
        format!(
            "adresse d'écoute invalide « {} » : attendu par exemple 127.0.0.1:8080",
            args.listen
        )
    })?;
    let base = base_url(&args, listen)?;
    check_assets(args.assets_dir.as_deref())?;
    crate::config::check_fonts(args.polices.as_deref())?;
    let mailer = match &args.smtp_url {
        Some(url) if !url.trim().is_empty() => {
            let from = args.courriel_expediteur.clone().unwrap_or_else(|| {
                format!(
                    "Passerelle <ne-pas-repondre@{}>",
                    base.host_str().unwrap_or("localhost")
                )
            });
            Some(passerelle_core::mail::Mailer::new(url.trim(), &from)?)
        }
        _ => None,
    };
    // Requests must fail fast (503) when the database is away, not wait for it.
    let pool = passerelle_core::db::PoolSettings {
        acquire_timeout: Duration::from_secs(args.delai_base),
    };
    let core = super::open_with(data, pool).await?.with_argon2(args.argon2.pool());
    tracing::info!(
        parallele = core.argon2.parallel(),
        attente = core.argon2.max_waiting(),
        memoire_max_mio = core.argon2.parallel() * passerelle_core::accounts::argon2_pool::MIB_PER_RUN,
        "calculs Argon2 bornés"
    );
    let franceconnect = crate::config::franceconnect(&args, &base, &core.keys)?;
    match &franceconnect {
        Some(fc) if fc.config().simulateur => {
            tracing::warn!("simulateur FranceConnect actif (identités fictives) : démonstration seulement");
            println!(
                "Simulateur FranceConnect actif : identités fictives, aucune donnée réelle ({base}fc-simulateur)."
            );
        }
        Some(_) => tracing::info!("FranceConnect configuré"),
        None => tracing::info!("FranceConnect non configuré"),
    }
    let proconnect = crate::config::proconnect(&args, &base, &core.keys)?;
    match &proconnect {
        Some(pc) if pc.config().simulateur => {
            tracing::warn!("simulateur ProConnect actif (toute adresse acceptée) : démonstration seulement");
            println!("Simulateur ProConnect actif : toute adresse est acceptée sans preuve ({base}pc-simulateur).");
        }
        Some(_) => tracing::info!("ProConnect configuré"),
        None => tracing::info!("ProConnect non configuré"),
    }

    // The official territories are loaded on first start, again after an upgrade that added to
    // what is kept of them (the EPCI), or with `passerelle territoires charger`.
    if passerelle_core::geographie::needs_load(&core.db).await? {
        match passerelle_core::geographie::load_embedded(&core.db).await {
            Ok((_, d, c)) => tracing::info!(departements = d, communes = c, "territoires officiels chargés"),
            Err(e) => {
                tracing::warn!(erreur = %e, "territoires officiels non chargés : les codes des lieux ne seront pas vérifiés")
            }
        }
    }

    if args.demo {
        match demo::load_if_empty(&core).await? {
            Some(d) => {
                print_demo(&base, &d);
                let fc_client = franceconnect
                    .as_ref()
                    .filter(|fc| fc.config().simulateur)
                    .map(|fc| fc.config().client_id.clone());
                let root = base.as_str().trim_end_matches('/');
                match passerelle_core::demo_aidants::load(&core, fc_client.as_deref(), root).await {
                    Ok(a) => print_demo_aidants(&base, &d, &a),
                    Err(e) => println!("Aidants Connect de démonstration non créé : {e}"),
                }
            }
            None => println!("Base déjà remplie : les données de démonstration ne sont pas rechargées (les accès ont été affichés au premier lancement)."),
        }
    }

    // Fictitious identities on a public address: only on a demonstration database,
    // never on a real one started with --demo by mistake.
    let simulated = franceconnect.as_ref().is_some_and(|fc| fc.config().simulateur)
        || proconnect.as_ref().is_some_and(|pc| pc.config().simulateur);
    let public = base.scheme() == "https" && !passerelle_core::aidants_connect::franceconnect::config::is_local(&base);
    if simulated && public && !demo::is_demo_database(&core).await? {
        anyhow::bail!(
            "les simulateurs FranceConnect et ProConnect (identités fictives) sont refusés sur {base} : cette base ne \
             contient pas les données de démonstration. Utilisez --demo sur une base neuve, ou configurez les vrais services."
        );
    }

    let state = AppState::new(
        core.clone(),
        WebConfig {
            base_url: base.clone(),
            assets_dir: args.assets_dir.clone(),
            fonts_dir: args.polices.clone(),
            trust_proxy: args.trust_proxy,
            // A change to the directory is served by every instance within 200 ms.
            search_max_age: std::time::Duration::from_millis(200),
            dashboard_max_age: std::time::Duration::from_secs(args.tableau_de_bord_age),
        },
    )
    .with_franceconnect(franceconnect)
    .with_proconnect(proconnect)
    .with_service_demo(args.demo)
    .with_metrics_token(args.metriques_jeton.as_deref());
    // Warm the dashboard's and the open data's figures (shared by the instances) in the background.
    {
        let (core, age) = (core.clone(), Duration::from_secs(args.tableau_de_bord_age.max(1)));
        tokio::spawn(async move {
            use passerelle_core::{indicateurs, tableau_de_bord::donnees};
            let results = [
                donnees::get(&core, age).await.map(|_| ()),
                indicateurs::published(&core, age).await.map(|_| ()),
                indicateurs::pass_numerique::published(&core, age).await.map(|_| ()),
                indicateurs::aidants_connect::published(&core, age).await.map(|_| ()),
            ];
            for e in results.into_iter().filter_map(Result::err) {
                tracing::warn!(erreur = %e, "préparation des chiffres du tableau de bord en échec");
            }
        });
    }
    let app = router(state);
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("impossible d'écouter sur {listen} (port déjà utilisé ?)"))?;
    tokio::spawn(housekeeping(core.clone(), base.to_string()));
    tokio::spawn(backchannel_sender(
        core.clone(),
        base.as_str().trim_end_matches('/').to_string(),
    ));
    match mailer {
        Some(m) => {
            tokio::spawn(mail_sender(core.clone(), m));
        }
        None => tracing::warn!("PASSERELLE_SMTP_URL absent : les courriels restent en file d'attente"),
    }
    tracing::info!(adresse = %listen, url = %base, moteur = ?core.db.backend(), "Passerelle est prêt");
    println!("Passerelle écoute sur {listen} — ouvrez {base}");
    crate::server::serve(listener, app, &args.limites, args.trust_proxy, shutdown())
        .await
        .context("arrêt inattendu du serveur")?;
    core.db.close().await;
    tracing::info!("arrêt propre");
    Ok(ExitCode::SUCCESS)
}

fn print_demo(base: &url::Url, d: &demo::Demo) {
    println!();
    println!("Données de démonstration créées. Accès (affichés une seule fois) :");
    for l in &d.logins {
        println!("  {:<26} {:<34} mot de passe : {}", l.role_label, l.email, l.password);
        if l.totp_at_first_login {
            println!(
                "  {:<26} → double authentification à activer à la première connexion (application TOTP)",
                ""
            );
        }
    }
    println!("Connexion : {}connexion", base);
    println!(
        "  ou « S'identifier avec ProConnect » (simulateur : saisissez l'adresse d'un compte ci-dessus ; \
         la première fois, le mot de passe confirme la liaison)"
    );
    match (&d.pass, &d.pass_skipped) {
        (Some(p), _) => {
            println!();
            println!(
                "Pass Numérique : chèques valables d'un carnet remis (lieu « {} ») :",
                p.place
            );
            for c in &p.codes {
                println!("  {c}   page du chèque : {base}c/{}", c.replace('-', ""));
            }
            println!("  Encaisser : connectez-vous avec epn-pessac@demo.passerelle.fr puis {base}encaisser");
            for r in &p.releves {
                println!(
                    "  Relevé de remboursement du lieu (deux chèques encaissés il y a {} jours, règlement lancé au démarrage) : {base}releves/{r}",
                    passerelle_core::demo_releve::DAYS_BACK
                );
            }
            println!("  ou par l'API, avec la clé du lieu (affichée une seule fois) :");
            println!(
                "  curl -X POST {base}api/v1/cheques/encaisser -H 'Authorization: Bearer {}' -H 'Idempotency-Key: essai-1' \\",
                p.api_key
            );
            println!(
                "       -H 'Content-Type: application/json' -d '{{\"code\": \"{}\", \"service\": \"Accès internet et matériel informatique\"}}'",
                p.codes.first().map(String::as_str).unwrap_or_default()
            );
        }
        (None, Some(why)) => println!("Pass Numérique de démonstration non créé : {why}"),
        (None, None) => {}
    }
    println!();
}

fn print_demo_aidants(base: &url::Url, d: &demo::Demo, a: &passerelle_core::demo_aidants::DemoAidants) {
    println!("Aidants Connect ({}) :", passerelle_core::demo_aidants::STRUCTURE);
    for l in d.logins.iter().filter(|l| l.totp_secret.is_some()) {
        let secret = l.totp_secret.as_deref().unwrap_or_default();
        println!("  {:<34} secret TOTP : {secret}", l.email);
        println!(
            "  {:<34} (à saisir dans une application d'authentification, ou : oathtool --totp -b {secret})",
            ""
        );
    }
    if !a.cartes.is_empty() {
        println!("  Cartes TOTP en stock, à associer à un aidant par le référent (la graine tient lieu de la carte) :");
        for (serial, seed) in &a.cartes {
            println!("  {serial:<34} graine : {seed}   (code affiché : oathtool --totp -b {seed})");
        }
    }
    for (name, key, demarches) in &a.usagers {
        println!("  Usager « {name} » (simulateur FranceConnect : identité « {key} ») — mandat : {demarches}");
    }
    println!("  1. Connectez-vous comme aidant : {base}connexion");
    println!("  2. Identifiez un usager et concluez un mandat : {base}aidants-connect/mandats");
    println!(
        "  3. Service en ligne de démonstration (« {} ») : {base}service-demo",
        a.service
    );
    println!(
        "     ou par FranceConnect, comme en production : {base}service-demo → « S'identifier avec FranceConnect », \
         puis « Aidants Connect » sur la page du simulateur"
    );
    println!("  4. L'usager voit ses mandats et leurs utilisations : {base}espace-usager");
    println!();
}

/// Hourly: expired sessions and old counters are removed; once per day across
/// all instances (a claimed job), unused cheques past their validity expire and
/// funders are alerted of orders nearing their end; the journal head is signed
/// when it has moved since the last checkpoint (at most once a day).
async fn housekeeping(core: Core, base_url: String) {
    let mut tick = tokio::time::interval(Duration::from_secs(3600));
    let mut hours = 0u32;
    loop {
        tick.tick().await;
        if let Err(e) = session::purge_expired(&core.db).await {
            tracing::warn!(erreur = %e, "purge des sessions impossible");
        }
        if let Err(e) = passerelle_core::aidants_connect::magic_link::purge(&core).await {
            tracing::warn!(erreur = %e, "purge des liens de connexion impossible");
        }
        if let Err(e) = passerelle_core::aidants_connect::invitations::purge(&core, 30).await {
            tracing::warn!(erreur = %e, "purge des invitations d'aidants impossible");
        }
        if let Err(e) = ratelimit::purge(&core.db, 86_400).await {
            tracing::warn!(erreur = %e, "purge des compteurs impossible");
        }
        if let Err(e) = passerelle_core::aidants_connect::usagers::signin::purge(&core).await {
            tracing::warn!(erreur = %e, "purge des sessions des usagers impossible");
        }
        if let Err(e) = passerelle_core::aidants_connect::franceconnect::flow::purge(&core).await {
            tracing::warn!(erreur = %e, "purge des identifications FranceConnect impossible");
        }
        let purged = [
            passerelle_core::accounts::proconnect::flow::purge(&core).await,
            passerelle_core::accounts::proconnect::simulateur::purge(&core).await,
        ];
        for e in purged.into_iter().filter_map(Result::err) {
            tracing::warn!(erreur = %e, "purge des connexions ProConnect impossible");
        }
        daily_jobs(&core, &base_url, core.db.horloge().today_paris()).await;
        if hours.is_multiple_of(24) {
            match journal::checkpoint_head(&core.db, &core.keys).await {
                Ok(Some(seq)) => tracing::info!(entree = seq, "point de contrôle du journal signé"),
                Ok(None) => {}
                Err(e) => tracing::warn!(erreur = %e, "point de contrôle du journal impossible"),
            }
        }
        hours = hours.wrapping_add(1);
    }
}

/// The jobs of a day, each run by one instance only.
pub async fn daily_jobs(core: &Core, base_url: &str, today: jiff::civil::Date) {
    use passerelle_core::jobs;
    use passerelle_core::pass_numerique::{alerts, expiry};
    let period = today.strftime("%Y-%m-%d").to_string();
    match jobs::claim(&core.db, "expiration-des-cheques", &period).await {
        Ok(true) => match expiry::expire_due(core, &journal::Actor::System, today).await {
            Ok(n) => tracing::info!(cheques = n, "expiration des chèques faite"),
            Err(e) => tracing::warn!(erreur = %e, "expiration des chèques impossible"),
        },
        Ok(false) => {}
        Err(e) => tracing::warn!(erreur = %e, "tâche d'expiration non réservée"),
    }
    match passerelle_core::aidants_connect::inactivity::run_daily(core, &period).await {
        Ok(Some(o)) => tracing::info!(
            avertis = o.avertis,
            desactives = o.desactives,
            "inactivité des aidants traitée"
        ),
        Ok(None) => {}
        Err(e) => tracing::warn!(erreur = %e, "inactivité des aidants impossible"),
    }
    // Early in a month, the previous month's digests (claimed with the e-mails, in one transaction).
    match passerelle_core::recapitulatifs::run_scheduled(core, today, base_url).await {
        Ok(Some(e)) => tracing::info!(
            courriels = e.mis_en_file,
            deja = e.deja_en_file,
            "récapitulatifs mensuels mis en file"
        ),
        Ok(None) => {}
        Err(e) => tracing::warn!(erreur = %e, "récapitulatifs mensuels impossibles"),
    }
    // Retention of personal data (claimed in its own transaction, with its journal entry).
    match passerelle_core::rgpd::conservation::run_claimed(core, &period, core.db.now_micros()).await {
        Ok(Some(r)) => tracing::info!(
            lignes = r.total(),
            usagers = r.usagers_effaces,
            comptes = r.comptes_effaces,
            "conservation des données personnelles faite"
        ),
        Ok(None) => {}
        Err(e) => tracing::warn!(erreur = %e, "conservation des données personnelles impossible"),
    }
    match jobs::claim(&core.db, "alertes-fin-de-validite", &period).await {
        Ok(true) => match alerts::queue_due(core, today, base_url).await {
            Ok(n) => tracing::info!(courriels = n, "alertes de fin de validité mises en file"),
            Err(e) => tracing::warn!(erreur = %e, "alertes de fin de validité impossibles"),
        },
        Ok(false) => {}
        Err(e) => tracing::warn!(erreur = %e, "tâche d'alertes non réservée"),
    }
}

/// Every 15 seconds, sends the queued e-mails that are due (any instance; a
/// message is claimed before it is sent).
async fn mail_sender(core: Core, mailer: passerelle_core::mail::Mailer) {
    let mut tick = tokio::time::interval(Duration::from_secs(15));
    loop {
        tick.tick().await;
        match passerelle_core::mail::send_due(&core, &mailer, 50).await {
            Ok(s) if s.envoyes + s.echecs > 0 => {
                tracing::info!(envoyes = s.envoyes, echecs = s.echecs, "courriels")
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(erreur = %e, "envoi des courriels impossible"),
        }
    }
}

/// Every 3 s: the logout tokens of ended sessions go to the services that
/// registered a back-channel logout URI (any instance; see `backchannel`).
async fn backchannel_sender(core: Core, issuer: String) {
    use passerelle_core::aidants_connect::oidc_provider::backchannel;
    let http = match backchannel::http_client() {
        Ok(h) => h,
        Err(e) => {
            tracing::warn!(erreur = %e, "déconnexions par canal direct désactivées");
            return;
        }
    };
    let mut tick = tokio::time::interval(Duration::from_secs(3));
    loop {
        tick.tick().await;
        match backchannel::send_due(&core, &http, &issuer, 20).await {
            Ok(s) if s.envoyes + s.echecs > 0 => {
                tracing::info!(envoyes = s.envoyes, echecs = s.echecs, "déconnexions par canal direct")
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(erreur = %e, "déconnexions par canal direct impossibles"),
        }
    }
}

async fn shutdown() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("signal d'arrêt reçu : fin des requêtes en cours");
}
