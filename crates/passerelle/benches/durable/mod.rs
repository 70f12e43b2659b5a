//! Benchmarks measure durable servers: a PostgreSQL figure is only printed for a
//! server that writes each commit to disk before answering (`fsync` and
//! `synchronous_commit` on), as a deployment does. `scripts/pg-test-server`
//! starts one with `PG_DURABLE=1`; the test suite's own cluster is not durable.

/// Checks the server at `url` and prints its settings; exits (code 2) when it is not durable,
/// unless `BENCH_PG_NON_DURABLE=1` (then the output says so on every figure's line).
pub async fn check_pg(url: &str) -> &'static str {
    let pool = match sqlx::PgPool::connect(url).await {
        Ok(p) => p,
        Err(e) => {
            eprintln!("PostgreSQL injoignable ({url}) : {e}");
            std::process::exit(2);
        }
    };
    let show = |name: &'static str| {
        let pool = pool.clone();
        async move {
            sqlx::query_scalar::<_, String>(&format!("SHOW {name}"))
                .fetch_one(&pool)
                .await
                .unwrap_or_else(|_| "inconnu".into())
        }
    };
    let (fsync, sync) = (show("fsync").await, show("synchronous_commit").await);
    pool.close().await;
    println!("PostgreSQL : fsync={fsync}, synchronous_commit={sync}");
    if fsync == "on" && sync == "on" {
        return "PostgreSQL (durable)";
    }
    if std::env::var("BENCH_PG_NON_DURABLE").is_ok_and(|v| v == "1") {
        println!("ATTENTION : serveur non durable, chiffres non comparables à un déploiement");
        return "PostgreSQL (NON DURABLE)";
    }
    eprintln!(
        "serveur PostgreSQL non durable (fsync={fsync}, synchronous_commit={sync}) : \
         démarrez-le avec PG_DURABLE=1 scripts/pg-test-server start (ou BENCH_PG_NON_DURABLE=1 pour passer outre)"
    );
    std::process::exit(2);
}

/// A fresh database on the durable server at `server`, for one bench run: the engine's label
/// (from [`check_pg`]), the new database's URL, the server's pool and the database's name.
// Not every bench that includes this module makes its own database.
#[allow(dead_code)]
pub async fn fresh_database(server: &str, prefix: &str) -> (&'static str, String, sqlx::PgPool, String) {
    let name = format!("{prefix}_{}", std::process::id());
    let engine = check_pg(server).await;
    let admin = sqlx::PgPool::connect(server).await.expect("PostgreSQL");
    sqlx::raw_sql(&format!("CREATE DATABASE {name}"))
        .execute(&admin)
        .await
        .expect("CREATE DATABASE");
    let mut u = url::Url::parse(server).expect("URL");
    u.set_path(&format!("/{name}"));
    (engine, u.to_string(), admin, name)
}

/// Drops a database made by [`fresh_database`] (connections left open are closed by force).
#[allow(dead_code)]
pub async fn drop_database(admin: &sqlx::PgPool, name: &str) {
    sqlx::raw_sql(&format!("DROP DATABASE {name} WITH (FORCE)"))
        .execute(admin)
        .await
        .ok();
}
