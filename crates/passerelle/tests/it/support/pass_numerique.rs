//! Pass Numérique fixtures shared by the tests of redemptions and settlement.

use axum::body::Body;
use axum::http::{header, Request};

use super::{cli_json, cli_ok, TestApp};

/// Valid bank details (IBAN with a right mod-97 key).
pub const IBAN_1: &str = "FR76 3000 6000 0112 3456 7890 189";
pub const IBAN_2: &str = "FR1420041010050500013M02606";

/// mednum-1 and mednum-2 with validated bank details (the takeover file of
/// `lieux qualifications importer`, SIRET with a right Luhn key) and the
/// opérateur's own account: what a settlement run needs besides redemptions.
pub fn payable_places(app: &TestApp) {
    let path = app.data_dir.parent().unwrap().join("qualifs.csv");
    std::fs::write(
        &path,
        format!(
            "lieu_id,siret,iban,bic,titulaire\nmednum-1,73282932000074,{IBAN_1},BNPAFRPP,Un\nmednum-2,35600000000047,{IBAN_2},CCBPFRPPBDX,Deux\n"
        ),
    )
    .unwrap();
    cli_ok(app, &["lieux", "qualifications", "importer", path.to_str().unwrap()]);
    cli_ok(
        app,
        &[
            "reglements",
            "compte",
            "--nom",
            "Opérateur",
            "--iban",
            IBAN_2,
            "--bic",
            "CCBPFRPPBDX",
        ],
    );
}

/// `commandes creer` for `funder`: `booklets` booklets (of 10 cheques of 10 €)
/// valid over `(debut, fin)` in `perimetre`, with these further options; the
/// command's JSON answer.
pub fn cli_order(
    app: &TestApp,
    funder: &str,
    booklets: i64,
    (debut, fin): (&str, &str),
    perimetre: &str,
    options: &[&str],
) -> serde_json::Value {
    let booklets = booklets.to_string();
    let mut args = vec![
        "commandes",
        "creer",
        "--commanditaire",
        funder,
        "--carnets",
        &booklets,
        "--debut",
        debut,
        "--fin",
        fin,
        "--perimetre",
        perimetre,
    ];
    args.extend_from_slice(options);
    cli_json(app, &args)
}

/// The API request that redeems `code` for `service` with the place's API key
/// and an idempotency key (for tests that send it through the router themselves).
pub fn redeem_request(key: &str, idempotency: &str, code: &str, service: &str) -> Request<Body> {
    let body = serde_json::json!({ "code": code, "service": service }).to_string();
    Request::post("/api/v1/cheques/encaisser")
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::AUTHORIZATION, format!("Bearer {key}"))
        .header("idempotency-key", idempotency)
        .body(Body::from(body))
        .unwrap()
}
