//! The SQL of the reports: every figure is a `GROUP BY` of the database, the
//! same text for SQLite and PostgreSQL. Live redemptions are read from the
//! covering index `encaissements_rapports` (migration 0010); cheques are
//! counted per order and state from `cheques_commande_etat` alone (a cheque's
//! value is its order's, written by the issue); booklets by `carnets_commande`.

use super::{Count, Scope, Totals};
use crate::error::{CoreError, Result};
use crate::identifiants::Centimes;
use crate::{on_db, Core};

/// Booklets handed out and redemptions of one place.
pub(super) struct PlaceSums {
    pub ext_id: String,
    pub nom: String,
    pub code_insee: String,
    pub commune: String,
    pub departement: String,
    pub departement_nom: String,
    pub count: Count,
}

pub(super) async fn totals(core: &Core, scope: Scope) -> Result<Totals> {
    let (f, p) = scope.filter("commande_id");
    let states_sql = format!(
        "SELECT x.etat, CAST(SUM(x.n) AS BIGINT), CAST(SUM(x.n * c.valeur_centimes) AS BIGINT) \
         FROM (SELECT commande_id, etat, COUNT(*) AS n FROM cheques WHERE {f} GROUP BY commande_id, etat) x \
         JOIN commandes c ON c.id = x.commande_id GROUP BY x.etat"
    );
    let states: Vec<(String, i64, Centimes)> =
        on_db!(&core.db, c => sqlx::query_as(&states_sql).bind(p).fetch_all(&mut *c).await?);

    let (fk, _) = scope.filter("k.commande_id");
    let booklets_sql = format!(
        "SELECT COUNT(*), COUNT(k.remis_at), COUNT(k.perdu_at), \
         CAST(COALESCE(SUM(CASE WHEN k.remis_at IS NOT NULL THEN c.cheques_par_carnet ELSE 0 END), 0) AS BIGINT), \
         CAST(COALESCE(SUM(CASE WHEN k.remis_at IS NOT NULL THEN c.cheques_par_carnet * c.valeur_centimes ELSE 0 END), 0) AS BIGINT) \
         FROM carnets k JOIN commandes c ON c.id = k.commande_id WHERE {fk}"
    );
    let (emis, remis, perdus, cheques_remis, valeur_remise): (i64, i64, i64, i64, Centimes) =
        on_db!(&core.db, c => sqlx::query_as(&booklets_sql).bind(p).fetch_one(&mut *c).await?);

    let (fo, _) = scope.filter("id");
    let orders_sql = format!("SELECT COUNT(*) FROM commandes WHERE {fo}");
    let commandes: i64 = on_db!(&core.db, c => sqlx::query_scalar(&orders_sql).bind(p).fetch_one(&mut *c).await?);
    let credit_sql =
        format!("SELECT CAST(COALESCE(SUM(valeur_centimes), 0) AS BIGINT) FROM documents WHERE type = 'avoir' AND {f}");
    let avoirs: Centimes = on_db!(&core.db, c => sqlx::query_scalar(&credit_sql).bind(p).fetch_one(&mut *c).await?);

    let mut t = Totals {
        commandes,
        carnets_emis: emis,
        carnets_remis: remis,
        carnets_perdus: perdus,
        remis: Count {
            cheques: cheques_remis,
            valeur_centimes: valeur_remise,
        },
        avoirs_centimes: avoirs,
        ..Totals::default()
    };
    for (state, n, v) in states {
        let c = Count {
            cheques: n,
            valeur_centimes: v,
        };
        t.emis.add(c);
        match state.as_str() {
            "encaisse" => t.encaisses.add(c),
            "expire" => t.expires.add(c),
            "annule" => t.annules.add(c),
            "actif" | "en_attente" => t.non_utilises.add(c),
            other => return Err(CoreError::Io(format!("état de chèque inconnu en base : {other}"))),
        }
    }
    Ok(t)
}

/// Live redemptions by month (`AAAA-MM` of their day, Europe/Paris).
pub(super) async fn redemptions_by_month(core: &Core, scope: Scope) -> Result<Vec<(String, Count)>> {
    let (f, p) = scope.filter("commande_id");
    let sql = format!(
        "SELECT substr(jour, 1, 7), COUNT(*), CAST(SUM(valeur_centimes) AS BIGINT) FROM encaissements \
         WHERE annule_at IS NULL AND {f} GROUP BY substr(jour, 1, 7) ORDER BY 1"
    );
    let rows: Vec<(String, i64, Centimes)> =
        on_db!(&core.db, c => sqlx::query_as(&sql).bind(p).fetch_all(&mut *c).await?);
    Ok(rows
        .into_iter()
        .map(|(m, n, v)| {
            (
                m,
                Count {
                    cheques: n,
                    valeur_centimes: v,
                },
            )
        })
        .collect())
}

/// Live redemptions by place, most first, with the place's commune and département (official names).
pub(super) async fn redemptions_by_place(core: &Core, scope: Scope) -> Result<Vec<PlaceSums>> {
    let (f, p) = scope.filter("commande_id");
    let sql = format!(
        "SELECT l.ext_id, l.nom, l.code_insee, COALESCE(tc.nom, l.commune), l.departement, COALESCE(td.nom, l.departement), a.n, a.v \
         FROM (SELECT lieu_id, COUNT(*) AS n, CAST(SUM(valeur_centimes) AS BIGINT) AS v FROM encaissements \
               WHERE annule_at IS NULL AND {f} GROUP BY lieu_id) a \
         JOIN lieux l ON l.id = a.lieu_id \
         LEFT JOIN territoires_communes tc ON tc.code = l.code_insee \
         LEFT JOIN territoires_departements td ON td.code = l.departement \
         ORDER BY a.n DESC, l.nom, l.ext_id"
    );
    #[allow(clippy::type_complexity)]
    let rows: Vec<(String, String, String, String, String, String, i64, Centimes)> =
        on_db!(&core.db, c => sqlx::query_as(&sql).bind(p).fetch_all(&mut *c).await?);
    Ok(rows
        .into_iter()
        .map(
            |(ext_id, nom, code_insee, commune, departement, departement_nom, n, v)| PlaceSums {
                ext_id,
                nom,
                code_insee,
                commune,
                departement,
                departement_nom,
                count: Count {
                    cheques: n,
                    valeur_centimes: v,
                },
            },
        )
        .collect())
}

/// Live redemptions by the public recorded when their booklet was handed out (`''`: none recorded).
pub(super) async fn redemptions_by_public(core: &Core, scope: Scope) -> Result<Vec<(String, Count)>> {
    let (f, p) = scope.filter("commande_id");
    let sql = format!(
        "SELECT COALESCE(k.public, ''), CAST(SUM(a.n) AS BIGINT), CAST(SUM(a.v) AS BIGINT) \
         FROM (SELECT carnet_id, COUNT(*) AS n, SUM(valeur_centimes) AS v FROM encaissements \
               WHERE annule_at IS NULL AND {f} GROUP BY carnet_id) a \
         JOIN carnets k ON k.numero = a.carnet_id GROUP BY k.public"
    );
    let rows: Vec<(String, i64, Centimes)> =
        on_db!(&core.db, c => sqlx::query_as(&sql).bind(p).fetch_all(&mut *c).await?);
    Ok(rows
        .into_iter()
        .map(|(k, n, v)| {
            (
                k,
                Count {
                    cheques: n,
                    valeur_centimes: v,
                },
            )
        })
        .collect())
}

/// Booklets handed out, by public.
pub(super) async fn hand_outs_by_public(core: &Core, scope: Scope) -> Result<Vec<(String, i64)>> {
    let (f, p) = scope.filter("commande_id");
    let sql = format!(
        "SELECT COALESCE(public, ''), COUNT(*) FROM carnets WHERE remis_at IS NOT NULL AND {f} GROUP BY public"
    );
    Ok(on_db!(&core.db, c => sqlx::query_as(&sql).bind(p).fetch_all(&mut *c).await?))
}

const MICROS_PER_HOUR: i64 = 3_600_000_000;

/// Booklets handed out, by month in Europe/Paris. The database groups them by
/// hour (UTC); Paris is a whole number of hours away from UTC, so each hour
/// lies in one Paris month, which is named here.
pub(super) async fn hand_outs_by_month(core: &Core, scope: Scope) -> Result<Vec<(String, i64)>> {
    let (f, p) = scope.filter("commande_id");
    let sql = format!(
        "SELECT remis_at / {MICROS_PER_HOUR}, COUNT(*) FROM carnets WHERE remis_at IS NOT NULL AND {f} \
         GROUP BY remis_at / {MICROS_PER_HOUR}"
    );
    let hours: Vec<(i64, i64)> = on_db!(&core.db, c => sqlx::query_as(&sql).bind(p).fetch_all(&mut *c).await?);
    let mut months: std::collections::BTreeMap<String, i64> = Default::default();
    for (hour, n) in hours {
        *months.entry(paris_month(hour * 3600)?).or_default() += n;
    }
    Ok(months.into_iter().collect())
}

/// `AAAA-MM` of an instant (seconds since 1970, UTC) in Europe/Paris.
fn paris_month(seconds: i64) -> Result<String> {
    let z = jiff::Timestamp::from_second(seconds)
        .and_then(|t| t.in_tz("Europe/Paris"))
        .map_err(|e| CoreError::Io(format!("date de remise illisible : {e}")))?;
    Ok(format!("{:04}-{:02}", z.year(), z.month()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_hour_is_named_by_its_month_in_paris() {
        // 2026-10-31 23:30 UTC is 2026-11-01 00:30 in Paris (winter time, UTC+1).
        assert_eq!(paris_month(1_793_489_400).unwrap(), "2026-11");
        // 2026-10-31 22:30 UTC is still October in Paris.
        assert_eq!(paris_month(1_793_485_800).unwrap(), "2026-10");
        // 2026-06-30 22:30 UTC is 2026-07-01 00:30 in Paris (summer time, UTC+2).
        assert_eq!(paris_month(1_782_858_600).unwrap(), "2026-07");
    }
}
