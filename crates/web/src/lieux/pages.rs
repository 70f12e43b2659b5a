//! Public pages of the directory: « Trouver un lieu près de chez moi » and the
//! page of a place. They work without JavaScript; geolocation is an enhancement.

use crate::forms::Path;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use passerelle_core::lieux::horaires::{self, Horaires};
use passerelle_core::lieux::schema::standard;
use passerelle_core::lieux::search::{Hit, Query};
use passerelle_core::lieux::store::{self, Value};
use passerelle_core::lieux::vocabulaires::{DispositifProgrammesNationaux, Services};

use crate::auth::{render, Visitor};
use crate::error::WebError;
use crate::templates::{Choice, LieuPage, LieuxPage};
use crate::AppState;

const PER_PAGE: usize = 20;
/// Around a commune or a position, places within this distance (the nearest beyond it when
/// there is none).
const RADIUS_KM: f64 = 30.0;

/// The search form's values, echoed back into the page.
#[derive(Default)]
struct Form {
    q: String,
    services: Vec<Services>,
    dispositifs: Vec<DispositifProgrammesNationaux>,
    ouvert: bool,
    pass: bool,
    lat: Option<f64>,
    lon: Option<f64>,
    /// The INSEE code of the commune picked among homonyms.
    commune: Option<String>,
    page: usize,
}

fn parse_form(raw: Option<&str>) -> Form {
    let mut f = Form {
        page: 1,
        ..Default::default()
    };
    for (k, v) in url::form_urlencoded::parse(raw.unwrap_or_default().as_bytes()) {
        match k.as_ref() {
            "q" => f.q = v.chars().take(200).collect(),
            "services" => f.services.extend(Services::from_label(&v)),
            "dispositif" => f.dispositifs.extend(DispositifProgrammesNationaux::from_label(&v)),
            "ouvert_maintenant" => f.ouvert = !v.is_empty(),
            "pass_numerique" => f.pass = !v.is_empty(),
            "lat" => f.lat = v.parse().ok().filter(|x: &f64| (-90.0..=90.0).contains(x)),
            "lon" => f.lon = v.parse().ok().filter(|x: &f64| (-180.0..=180.0).contains(x)),
            "commune" => f.commune = Some(v.chars().take(5).collect()).filter(|c: &String| !c.is_empty()),
            "page" => f.page = v.parse().ok().filter(|p| *p >= 1 && *p <= 10_000).unwrap_or(1),
            _ => {}
        }
    }
    f
}

/// « 850 m », « 12,4 km ».
fn distance(m: u64) -> String {
    if m < 1000 {
        format!("{m} m")
    } else {
        format!("{:.1} km", m as f64 / 1000.0).replace('.', ",")
    }
}

pub async fn search(State(state): State<AppState>, v: Visitor, RawQuery(raw): RawQuery) -> Result<Response, WebError> {
    let f = parse_form(raw.as_deref());
    let now = state.core.db.horloge().now();
    let searched = raw.as_deref().is_some_and(|r| !r.is_empty());
    let index = if searched {
        Some(state.lieux.get(&state.core.db).await?)
    } else {
        None
    };
    // A commune, a postcode or an INSEE code: search around it, so that neighbouring communes
    // show too, even when none is listed in the commune itself.
    let compris = match (&index, f.lat.zip(f.lon)) {
        (Some(i), None) if !f.q.trim().is_empty() => i.comprendre(&f.q, f.commune.as_deref()),
        _ => None,
    };
    // Without the official territories (not loaded), a commune is still found by its places;
    // with them, a text that names no commune is searched in the places' names, without a scan
    // of every place for a position first.
    let around = match (&compris, &index, f.lat.zip(f.lon)) {
        (Some(c), _, _) => c.position.map(|p| p.0),
        (None, Some(i), None) if !f.q.trim().is_empty() && !i.knows_communes() => i.centre_of(&f.q),
        _ => None,
    };
    let near = f.lat.zip(f.lon).or(around);
    let mut q = Query {
        near,
        radius_km: near.map(|_| RADIUS_KM),
        services: f.services.clone(),
        dispositifs: f.dispositifs.clone(),
        pass_numerique: f.pass.then_some(true),
        text: Some(f.q.clone()).filter(|t| !t.trim().is_empty() && around.is_none() && compris.is_none()),
        open_at: f.ouvert.then_some(now),
        now: Some(now),
        page: f.page,
        per_page: PER_PAGE,
        ..Default::default()
    };
    // A commune understood in a département where not one place is listed: nothing to show.
    let nowhere = compris.as_ref().is_some_and(|c| c.position.is_none());
    let mut results = match &index {
        Some(i) if !nowhere => Some(i.search(&q).results()),
        _ => None,
    };
    // Nothing within the radius: the nearest places, however far.
    let mut elargi = false;
    if let (Some(i), Some(r)) = (&index, &results) {
        if r.total == 0 && near.is_some() {
            q.radius_km = None;
            results = Some(i.search(&q).results());
            elargi = results.as_ref().is_some_and(|r| r.total > 0);
        }
    }
    let autour = compris.as_ref().map(|c| super::autour::Autour::of(c, raw.as_deref()));
    let (total, hits): (usize, Vec<Hit>) = results.map(|r| (r.total, r.resultats)).unwrap_or_default();
    let pages = total.div_ceil(PER_PAGE).max(1);
    // Links to other pages keep every criterion but the page number.
    let base: String = url::form_urlencoded::parse(raw.as_deref().unwrap_or_default().as_bytes())
        .filter(|(k, _)| k != "page")
        .fold(url::form_urlencoded::Serializer::new(String::new()), |mut s, (k, v)| {
            s.append_pair(&k, &v);
            s
        })
        .finish();
    let page = LieuxPage {
        l: v.layout("Trouver un lieu près de chez moi", "/lieux"),
        q: f.q.clone(),
        services: Services::ALL
            .iter()
            .enumerate()
            .map(|(i, s)| Choice {
                id: format!("service-{i}"),
                label: s.label(),
                checked: f.services.contains(s),
            })
            .collect(),
        dispositifs: [
            DispositifProgrammesNationaux::AidantsConnect,
            DispositifProgrammesNationaux::FranceServices,
            DispositifProgrammesNationaux::ConseillersNumeriques,
        ]
        .iter()
        .enumerate()
        .map(|(i, d)| Choice {
            id: format!("dispositif-{i}"),
            label: d.label(),
            checked: f.dispositifs.contains(d),
        })
        .collect(),
        ouvert: f.ouvert,
        pass: f.pass,
        near: near.is_some(),
        elargi,
        autour_de: match (&autour, around) {
            (Some(a), _) => Some(a.de.clone()),
            (None, Some(_)) => Some(super::autour::de(f.q.trim())),
            (None, None) => None,
        },
        autour,
        commune: compris
            .as_ref()
            .filter(|_| f.commune.is_some())
            .map(|c| c.commune.code.clone())
            .unwrap_or_default(),
        lat: f.lat.map(|x| format!("{x:.5}")).unwrap_or_default(),
        lon: f.lon.map(|x| format!("{x:.5}")).unwrap_or_default(),
        searched,
        total,
        hits: hits
            .into_iter()
            .map(|h| crate::templates::LieuHit {
                distance: h.distance_m.map(distance),
                url: format!("/lieux/{}", urlencode(&h.id)),
                nom: h.nom,
                adresse: format!("{}, {} {}", h.adresse, h.code_postal, h.commune),
                etat: h.etat,
                ouvert: h.ouvert_maintenant.unwrap_or(false),
                services: h.services.join(", "),
                labels: h.dispositif_programmes_nationaux.join(", "),
                pass_numerique: h.pass_numerique,
            })
            .collect(),
        page: f.page,
        pages,
        prev: (f.page > 1).then(|| format!("/lieux?{base}&page={}#resultats", f.page - 1)),
        next: (f.page < pages).then(|| format!("/lieux?{base}&page={}#resultats", f.page + 1)),
    };
    render(StatusCode::OK, page)
}

fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

pub async fn place(
    State(state): State<AppState>,
    v: Visitor,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response, WebError> {
    // After an edit: say it is saved.
    let message = url::form_urlencoded::parse(raw.unwrap_or_default().as_bytes())
        .any(|(k, v)| k == "ok" && v == "modifie")
        .then(|| "Les modifications du lieu sont enregistrées et publiées.".to_string());
    let Some((values, own)) = store::by_ext_id(&state.core.db, &id).await? else {
        // A record merged into another: its old links lead to the kept one.
        return match passerelle_core::lieux::fusion::fusionne_dans(&state.core.db, &id).await? {
            Some(kept) => {
                Ok(axum::response::Redirect::permanent(&format!("/lieux/{}", urlencode(&kept))).into_response())
            }
            None => Err(WebError::NotFound),
        };
    };
    let get = |name: &str| -> String {
        standard()
            .names()
            .zip(&values)
            .find(|(n, _)| *n == name)
            .map(|(_, v)| match v {
                Value::Text(t) => t.clone(),
                Value::Number(n) => n.map(|x| x.to_string()).unwrap_or_default(),
            })
            .unwrap_or_default()
    };
    let list = |name: &str| -> Vec<String> {
        get(name)
            .split('|')
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect()
    };
    // Hours are local time: the state and the week are computed in the place's own zone.
    let fuseau = passerelle_core::lieux::fuseau::of_place(Some(get("code_insee").as_str()), &get("code_postal"));
    let now = fuseau.maintenant(state.core.db.horloge());
    let raw_hours = get("horaires");
    let parsed = Some(raw_hours.as_str()).filter(|h| !h.is_empty()).map(Horaires::parse);
    let (etat, semaine) = match &parsed {
        // The week starts today, so that « ouvre demain » is on the table.
        Some(Ok(h)) => (Some(horaires::en_clair(&h.etat(now), now)), h.semaine(now.date())),
        _ => (None, Vec::new()),
    };
    let (lat, lon) = (get("latitude"), get("longitude"));
    let carte = (!lat.is_empty() && !lon.is_empty())
        .then(|| format!("https://www.openstreetmap.org/?mlat={lat}&mlon={lon}#map=17/{lat}/{lon}"));
    let hub = passerelle_core::hubs::of_departement(&state.core.db, &own.departement).await?;
    let corrigeable = v
        .user
        .as_ref()
        .is_some_and(|u| passerelle_core::territoire::authz::may_propose(&u.principal, hub.as_ref().map(|h| h.id)));
    let page = LieuPage {
        l: v.layout(&get("nom"), "/lieux"),
        message,
        hub: hub.map(|h| h.nom),
        corrigeable,
        nom: get("nom"),
        adresse: get("adresse"),
        complement: get("complement_adresse"),
        code_postal: get("code_postal"),
        commune: get("commune"),
        telephone_lisible: passerelle_core::format_fr::telephone(&get("telephone")),
        telephone: get("telephone"),
        courriels: list("courriels"),
        sites: list("site_web")
            .into_iter()
            .filter(|u| u.starts_with("https://") || u.starts_with("http://"))
            .collect(),
        presentation: get("presentation_resume"),
        detail: get("presentation_detail"),
        services: list("services"),
        publics: list("publics_specifiquement_adresses"),
        prise_en_charge: list("prise_en_charge_specifique"),
        frais: list("frais_a_charge"),
        dispositifs: list("dispositif_programmes_nationaux"),
        modalites_acces: list("modalites_acces"),
        modalites_accompagnement: list("modalites_accompagnement"),
        fiche_acces_libre: Some(get("fiche_acces_libre")).filter(|u| u.starts_with("https://")),
        prise_rdv: Some(get("prise_rdv")).filter(|u| u.starts_with("https://")),
        horaires_brutes: raw_hours.clone(),
        horaires_lisibles: matches!(parsed, Some(Ok(_))),
        etat,
        semaine,
        fuseau: fuseau.nom,
        carte,
        coordonnees: (!lat.is_empty()).then(|| format!("{lat}, {lon}")),
        pass_numerique: own.pass_numerique,
        date_maj: passerelle_core::dates_fr::jour_fr(&get("date_maj")),
        source: get("source"),
        modifiable: v
            .user
            .as_ref()
            .is_some_and(|u| passerelle_core::lieux::authz::may_edit(&u.principal, own.organisation_id)),
        id_url: url::form_urlencoded::byte_serialize(id.as_bytes()).collect(),
    };
    render(StatusCode::OK, page)
}
