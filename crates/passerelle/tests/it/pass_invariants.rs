//! The money rules of the brief hold after any sequence of operations:
//! random sequences of issue / pay / hand-out / redeem / cancel / lose /
//! expire / settle / reject a transfer, with every invariant checked after
//! each step (here and by `passerelle controle`'s rules), on the database
//! under test (SQLite, or PostgreSQL in CI).

use std::collections::HashMap;

use jiff::civil::Date;
use passerelle_core::accounts::Principal;
use passerelle_core::journal::Actor;
use passerelle_core::lieux::import::{import, Options};
use passerelle_core::lieux::read::Format;

use passerelle_core::pass_numerique::booklets::{self, HandOut};
use passerelle_core::pass_numerique::model::{ChequeState, Territory};
use passerelle_core::pass_numerique::orders::{self, NewOrder};
use passerelle_core::pass_numerique::places::{self, Place};
use passerelle_core::pass_numerique::redeem::{self, Counter, Outcome};
use passerelle_core::pass_numerique::{code::Code, expiry, issue};
use passerelle_core::reglements::{batches, run};
use proptest::prelude::*;

use crate::support::TestApp;

#[derive(Debug, Clone)]
enum Op {
    Issue(usize),
    Pay(usize),
    HandOut(usize, i64),
    Redeem {
        order: usize,
        booklet: i64,
        rank: i64,
        place: usize,
        day: i64,
    },
    Cancel(usize),
    Lose(usize, i64),
    Expire(i64),
    Settle(i64),
    Reject(usize),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        1 => (0..2usize).prop_map(Op::Issue),
        1 => (0..2usize).prop_map(Op::Pay),
        1 => (0..2usize, 0..2i64).prop_map(|(o, b)| Op::HandOut(o, b)),
        5 => (prop_oneof![3 => Just(0usize), 1 => Just(1usize)], 0..2i64, 1..=3i64, 0..2usize, 0..240i64)
            .prop_map(|(order, booklet, rank, place, day)| Op::Redeem { order, booklet, rank, place, day }),
        1 => (0..8usize).prop_map(Op::Cancel),
        1 => (0..2usize, 0..2i64).prop_map(|(o, b)| Op::Lose(o, b)),
        1 => (150..260i64).prop_map(Op::Expire),
        2 => (0..260i64).prop_map(Op::Settle),
        2 => (0..2usize).prop_map(Op::Reject),
    ]
}

struct World {
    app: TestApp,
    orders: Vec<i64>,
    places: Vec<(Place, i64)>,
    codes: HashMap<usize, Vec<(i64, i64, Code)>>,
    redemptions: Vec<(i64, usize)>,
    states: HashMap<i64, String>,
    redemption_rows: i64,
}

fn start() -> Date {
    Date::new(2026, 1, 1).unwrap()
}

async fn world() -> World {
    let app = TestApp::new().await;
    for sql in [
        "INSERT INTO territoires_regions (code, nom) VALUES ('75', 'Nouvelle-Aquitaine')",
        "INSERT INTO territoires_departements (code, nom, region) VALUES ('33', 'Gironde', '75')",
        "INSERT INTO territoires_communes (code, nom, departement, region, codes_postaux) VALUES ('33318', 'Pessac', '33', '75', '33600')",
        "INSERT INTO territoires_communes (code, nom, departement, region, codes_postaux) VALUES ('33063', 'Bordeaux', '33', '75', '33000')",
    ] {
        app.exec(sql).await.unwrap();
    }
    let core = &app.core;
    let funder =
        passerelle_core::accounts::create_organisation(core, &Principal::SYSTEME, "commanditaire", "Financeur", None)
            .await
            .unwrap();
    let bytes = std::fs::read(crate::lieux::fixture("propre.csv")).unwrap();
    let options = Options {
        source: "test".into(),
        file_name: "propre.csv".into(),
        ignore_invalid: true,
        dry_run: false,
    };
    import(core, &Principal::SYSTEME, &bytes, Format::Csv, &options, |_, _| {})
        .await
        .unwrap();
    let mut places_ = Vec::new();
    for p in ["mednum-1", "mednum-2"] {
        let place = places::qualify(core, &Principal::SYSTEME, p).await.unwrap();
        let (_, _, key) = places::new_api_key(core, &Principal::SYSTEME, p).await.unwrap();
        let (key_id, _) = places::authenticate(&core.db, &key).await.unwrap().unwrap();
        places_.push((place, key_id));
    }
    // Both places can be paid.
    let csv = "lieu_id,siret,iban,bic,titulaire\n\
               mednum-1,73282932000074,FR7630006000011234567890189,BNPAFRPP,Un\n\
               mednum-2,35600000000047,FR1420041010050500013M02606,PSSTFRPPBOR,Deux\n";
    passerelle_core::qualification::import::import(core, &Principal::SYSTEME, csv.as_bytes())
        .await
        .unwrap();
    passerelle_core::reglements::set_debtor(
        core,
        &Principal::SYSTEME,
        "Opérateur",
        "FR1420041010050500013M02606",
        "PSSTFRPPBOR",
    )
    .await
    .unwrap();
    let mut ids = Vec::new();
    for _ in 0..2 {
        let mut new = NewOrder::new(
            funder.id,
            2,
            jiff::civil::date(2026, 1, 1),
            jiff::civil::date(2026, 6, 30),
        );
        new.cheques_par_carnet = 3;
        new.valeur_centimes = passerelle_core::identifiants::Centimes::new(1_250);
        new.perimetre = vec![Territory::Commune("33318".into()), Territory::Commune("33063".into())].into();
        ids.push(orders::create(core, &Principal::SYSTEME, &new).await.unwrap().0.id);
    }
    World {
        app,
        orders: ids,
        places: places_,
        codes: HashMap::new(),
        redemptions: Vec::new(),
        states: HashMap::new(),
        redemption_rows: 0,
    }
}

async fn apply(w: &mut World, op: &Op) {
    let core = &w.app.core;
    // Operations may be refused (pay twice, hand out before issue…): only the invariants matter.
    match op {
        Op::Issue(o) => {
            if issue::issue(core, &Principal::SYSTEME, w.orders[*o], |_, _| {})
                .await
                .is_ok()
            {
                let codes = issue::codes(core, w.orders[*o], None).await.unwrap();
                w.codes
                    .insert(*o, codes.into_iter().map(|p| (p.carnet, p.rang, p.code)).collect());
            }
        }
        Op::Pay(o) => {
            let _ = orders::pay(core, &Principal::SYSTEME, w.orders[*o], "VIR").await;
        }
        Op::HandOut(o, b) => {
            if let Some(&(numero, _, _)) = w.codes.get(o).and_then(|c| c.get((*b * 3) as usize)) {
                let h = HandOut {
                    public: "tout-public".into(),
                    commune: "33318".into(),
                    ..Default::default()
                };
                let _ = booklets::hand_out(core, &Principal::SYSTEME, numero, &h).await;
            }
        }
        Op::Redeem {
            order,
            booklet,
            rank,
            place,
            day,
        } => {
            let Some((_, _, code)) = w
                .codes
                .get(order)
                .and_then(|c| c.get((*booklet * 3 + *rank - 1) as usize))
            else {
                return;
            };
            let (p, key) = &w.places[*place];
            let service = if *place == 0 {
                "Aide aux démarches administratives"
            } else {
                "Accès internet et matériel informatique"
            };
            let today = start().saturating_add(jiff::Span::new().days(*day));
            if let Outcome::Redeemed(r) =
                redeem::redeem(core, Counter::ApiKey(*key), p, &code.compact(), service, None, today)
                    .await
                    .unwrap()
            {
                w.redemptions.push((r.encaissement, *place));
            }
        }
        Op::Cancel(i) => {
            if let Some(&(id, place)) = w.redemptions.get(*i) {
                let (p, key) = &w.places[place];
                let _ = redeem::cancel(core, Counter::ApiKey(*key), p, id).await;
            }
        }
        Op::Lose(o, b) => {
            if let Some(&(numero, _, _)) = w.codes.get(o).and_then(|c| c.get((*b * 3) as usize)) {
                let _ = booklets::declare_lost(core, &Principal::SYSTEME, numero).await;
            }
        }
        Op::Expire(day) => {
            expiry::expire_due(
                core,
                &Actor::System,
                start().saturating_add(jiff::Span::new().days(*day)),
            )
            .await
            .unwrap();
        }
        Op::Settle(day) => {
            let date = start().saturating_add(jiff::Span::new().days(*day));
            run::generate(core, &Principal::SYSTEME, date, date, "2026-01-01T00:00:00")
                .await
                .unwrap();
        }
        Op::Reject(i) => {
            let lots = batches::lots(core, &Principal::SYSTEME).await.unwrap();
            let statements: Vec<_> = {
                let mut all = Vec::new();
                for l in &lots {
                    all.extend(
                        batches::statements_of_lot(core, &Principal::SYSTEME, l.id)
                            .await
                            .unwrap(),
                    );
                }
                all
            };
            if let Some(s) = statements.get(*i) {
                let _ = batches::mark_sent(core, &Principal::SYSTEME, s.lot_id).await;
                let _ = batches::reject(core, &Principal::SYSTEME, &s.numero, "rejet de la banque").await;
            }
        }
    }
}

async fn check(w: &mut World, after: &Op) -> Result<(), TestCaseError> {
    let app = &w.app;
    let ctx = format!("après {after:?}");
    for rule in passerelle_core::controle::run(&app.core).await.unwrap() {
        prop_assert_eq!(rule.ecarts, 0, "{} ({}) {}", rule.cle, rule.regle, ctx);
    }
    // Every cheque is in exactly one known state.
    prop_assert_eq!(
        app.scalar_i64(
            "SELECT COUNT(*) FROM cheques WHERE etat NOT IN ('en_attente', 'actif', 'encaisse', 'expire', 'annule')"
        )
        .await,
        0,
        "{}",
        ctx
    );
    for &order in &w.orders {
        let o = orders::one(&app.core, &Principal::SYSTEME, order).await.unwrap();
        // Credit notes never exceed the face value of the unused cheques (expired or cancelled),
        // and cover all of it once the order has expired.
        let unused = app
            .scalar_i64(&format!(
                "SELECT COUNT(*) FROM cheques WHERE commande_id = {order} AND etat IN ('expire', 'annule')"
            ))
            .await;
        let credited = app
            .scalar_i64(&format!(
                "SELECT CAST(COALESCE(SUM(valeur_centimes), 0) AS BIGINT) FROM documents WHERE commande_id = {order} AND type = 'avoir'"
            ))
            .await;
        prop_assert!(credited <= unused * o.valeur_centimes.centimes(), "{}", ctx);
        if matches!(after, Op::Expire(day) if *day > 210) && o.reference_paiement.is_some() && o.emise {
            prop_assert_eq!(credited, unused * o.valeur_centimes.centimes(), "{}", ctx);
        }
        // Issued = pending + active + redeemed + expired + cancelled, in counts and cents.
        let (count, cents) = (
            app.scalar_i64(&format!("SELECT COUNT(*) FROM cheques WHERE commande_id = {order}"))
                .await,
            app.scalar_i64(&format!(
                "SELECT CAST(COALESCE(SUM(valeur_centimes), 0) AS BIGINT) FROM cheques WHERE commande_id = {order}"
            ))
            .await,
        );
        let issued = if o.emise { o.carnets * o.cheques_par_carnet } else { 0 };
        prop_assert_eq!(count, issued, "{}", ctx);
        prop_assert_eq!(cents, issued * o.valeur_centimes.centimes(), "{}", ctx);
        let by_state: i64 = {
            let mut n = 0;
            for s in ChequeState::ALL {
                n += app
                    .scalar_i64(&format!(
                        "SELECT COUNT(*) FROM cheques WHERE commande_id = {order} AND etat = '{}'",
                        s.key()
                    ))
                    .await;
            }
            n
        };
        prop_assert_eq!(by_state, issued, "{}", ctx);
        // No cheque is active, redeemed or expired without the money received;
        // the money received covers the face value of every issued cheque.
        let live = app
            .scalar_i64(&format!(
                "SELECT COUNT(*) FROM cheques WHERE commande_id = {order} AND etat IN ('actif', 'encaisse', 'expire')"
            ))
            .await;
        let invoiced = app
            .scalar_i64(&format!("SELECT CAST(COALESCE(SUM(valeur_centimes), 0) AS BIGINT) FROM documents WHERE commande_id = {order} AND type = 'facture'"))
            .await;
        if o.reference_paiement.is_none() {
            prop_assert_eq!(live, 0, "{}", ctx);
        } else {
            prop_assert!(invoiced >= cents, "{}", ctx);
            prop_assert_eq!(
                app.scalar_i64(&format!(
                    "SELECT COUNT(*) FROM cheques WHERE commande_id = {order} AND etat = 'en_attente'"
                ))
                .await,
                0,
                "{}",
                ctx
            );
        }
    }
    // One live redemption per redeemed cheque, none for others, same value.
    let live_redemptions = app
        .scalar_i64("SELECT COUNT(*) FROM encaissements WHERE annule_at IS NULL")
        .await;
    prop_assert_eq!(
        live_redemptions,
        app.scalar_i64("SELECT COUNT(*) FROM cheques WHERE etat = 'encaisse'")
            .await,
        "{}",
        ctx
    );
    prop_assert_eq!(
        app.scalar_i64(
            "SELECT COUNT(*) FROM encaissements e JOIN cheques c ON c.id = e.cheque_id WHERE e.annule_at IS NULL AND c.etat <> 'encaisse'"
        )
        .await,
        0,
        "{}",
        ctx
    );
    prop_assert_eq!(
        app.scalar_i64(
            "SELECT CAST(COALESCE(SUM(valeur_centimes), 0) AS BIGINT) FROM encaissements WHERE annule_at IS NULL"
        )
        .await,
        app.scalar_i64("SELECT CAST(COALESCE(SUM(valeur_centimes), 0) AS BIGINT) FROM cheques WHERE etat = 'encaisse'")
            .await,
        "{}",
        ctx
    );
    // The daily cap per booklet and place holds.
    prop_assert_eq!(
        app.scalar_i64(
            "SELECT COUNT(*) FROM (SELECT carnet_id, lieu_id, jour FROM encaissements WHERE annule_at IS NULL \
             GROUP BY carnet_id, lieu_id, jour HAVING COUNT(*) > 2) x"
        )
        .await,
        0,
        "{}",
        ctx
    );
    // Documents are numbered 1..n per kind and year; a document's total is its value plus the fee.
    prop_assert_eq!(
        app.scalar_i64(
            "SELECT COUNT(*) FROM (SELECT type, annee FROM documents GROUP BY type, annee HAVING MAX(rang) <> COUNT(*)) x"
        )
        .await,
        0,
        "{}",
        ctx
    );
    prop_assert_eq!(
        app.scalar_i64("SELECT COUNT(*) FROM documents WHERE total_centimes <> valeur_centimes + frais_centimes")
            .await,
        0,
        "{}",
        ctx
    );
    // Nothing is deleted, and states only go forward (a cancelled redemption is the one way back).
    let rows = app.scalar_i64("SELECT COUNT(*) FROM encaissements").await;
    prop_assert!(rows >= w.redemption_rows, "{}", ctx);
    w.redemption_rows = rows;
    let now: Vec<(i64, String)> = match &app.core.db.pool {
        passerelle_core::Pool::Sqlite(p) => sqlx::query_as("SELECT id, etat FROM cheques")
            .fetch_all(p)
            .await
            .unwrap(),
        passerelle_core::Pool::Postgres(p) => sqlx::query_as("SELECT id, etat FROM cheques")
            .fetch_all(p)
            .await
            .unwrap(),
    };
    let now: HashMap<i64, String> = now.into_iter().collect();
    for (id, before) in &w.states {
        let after_state = now.get(id);
        prop_assert!(after_state.is_some(), "chèque {} disparu {}", id, ctx);
        let (b, a) = (
            ChequeState::from_key(before).unwrap(),
            ChequeState::from_key(after_state.unwrap()).unwrap(),
        );
        prop_assert!(a == b || b.may_become(a), "{:?} → {:?} {}", b, a, ctx);
    }
    w.states = now;
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, max_shrink_iters: 64, ..ProptestConfig::default() })]
    #[test]
    fn money_rules_hold_after_every_operation(ready in proptest::bool::weighted(0.75), ops in proptest::collection::vec(op(), 1..30)) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async {
            let mut w = world().await;
            // Half of the time, start where cheques can be redeemed: order 0 issued,
            // paid and handed out, order 1 issued but not paid.
            let prefix = [Op::Issue(0), Op::Pay(0), Op::HandOut(0, 0), Op::HandOut(0, 1), Op::Issue(1), Op::HandOut(1, 0)];
            for op in prefix.iter().filter(|_| ready).chain(&ops) {
                apply(&mut w, op).await;
                check(&mut w, op).await?;
            }
            Ok::<(), TestCaseError>(())
        })?;
    }
}
