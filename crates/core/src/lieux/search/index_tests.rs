//! Tests of the search snapshot: the grid against a full scan, pages, JSON.

use super::super::distance_m;
use super::*;
use proptest::prelude::*;

fn row(i: usize, lat: Option<f64>, lon: Option<f64>) -> Row {
    Row {
        entry: Entry {
            ext_id: format!("l{i:04}"),
            nom: format!("Lieu {i}"),
            adresse: String::new(),
            code_postal: "33000".into(),
            commune: "Bordeaux".into(),
            code_insee: String::new(),
            latitude: lat.zip(lon).map(|p| p.0),
            longitude: lat.zip(lon).map(|p| p.1),
            services: (i % 7) as u32,
            dispositifs: 0,
            pass_numerique: i.is_multiple_of(2),
            hours: 0,
            zone: crate::lieux::fuseau::PARIS,
            services_json: 0,
            dispositifs_json: 0,
            telephone: String::new(),
            folded: String::new(),
            commune_folded: String::new(),
            json: None,
        },
        publics: 0,
        horaires: String::new(),
    }
}

/// What a scan of every place gives: those within the radius, nearest first.
fn brute_force(points: &[(Option<f64>, f64)], centre: (f64, f64), radius_km: f64) -> Vec<String> {
    let mut v: Vec<(f64, String)> = points
        .iter()
        .enumerate()
        .filter_map(|(i, (lat, lon))| Some((distance_m(centre.0, centre.1, (*lat)?, *lon), format!("l{i:04}"))))
        .filter(|(d, _)| *d <= radius_km * 1000.0)
        .collect();
    v.sort_by(|a, b| a.0.total_cmp(&b.0).then_with(|| a.1.cmp(&b.1)));
    v.into_iter().map(|(_, id)| id).collect()
}

fn check(points: &[(Option<f64>, f64)], centre: (f64, f64), radius: f64) -> Result<(), TestCaseError> {
    let expected = brute_force(points, centre, radius);
    let rows = points
        .iter()
        .enumerate()
        .map(|(i, (lat, lon))| row(i, *lat, Some(*lon)))
        .collect();
    let index = Index::new(None, rows);
    let q = Query {
        near: Some(centre),
        radius_km: Some(radius),
        page: 1,
        per_page: 100,
        ..Default::default()
    };
    let r = index.search(&q).results();
    prop_assert_eq!(r.total, expected.len());
    let got: Vec<String> = r.resultats.iter().map(|h| h.id.clone()).collect();
    prop_assert_eq!(&got[..], &expected[..expected.len().min(100)]);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    /// The grid gives exactly what a scan of every place within the radius gives, in the same order.
    #[test]
    fn grid_search_equals_brute_force_in_france(
        points in proptest::collection::vec((proptest::option::weighted(0.9, 41.0f64..51.5), -5.0f64..9.5), 1..300),
        centre in (41.0f64..51.5, -5.0f64..9.5),
        radius in 0.5f64..400.0,
    ) {
        check(&points, centre, radius)?;
    }

    /// Anywhere on Earth, across the antimeridian and around the poles, with wide radii.
    #[test]
    fn grid_search_equals_brute_force_worldwide(
        points in proptest::collection::vec((proptest::option::weighted(0.95, -90.0f64..=90.0), -180.0f64..=180.0), 1..300),
        centre in (-90.0f64..=90.0, -180.0f64..=180.0),
        radius in 0.5f64..8000.0,
    ) {
        check(&points, centre, radius)?;
    }
}

#[test]
fn pages_follow_each_other_without_gap_or_overlap() {
    let rows = (0..250)
        .map(|i| {
            row(
                i,
                Some(44.8 + (i % 17) as f64 * 0.01),
                Some(-0.6 + (i % 13) as f64 * 0.01),
            )
        })
        .collect();
    let index = Index::new(None, rows);
    let q = |page| Query {
        near: Some((44.84, -0.58)),
        radius_km: Some(50.0),
        page,
        per_page: 30,
        ..Default::default()
    };
    let all: Vec<String> = (1..=9)
        .flat_map(|p| index.search(&q(p)).results().resultats)
        .map(|h| h.id)
        .collect();
    let whole = Query { per_page: 100, ..q(1) };
    let first: Vec<String> = index
        .search(&whole)
        .results()
        .resultats
        .into_iter()
        .map(|h| h.id)
        .collect();
    assert_eq!(all.len(), 250);
    assert_eq!(&all[..100], &first[..]);
    let mut unique = all.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), 250);
}

#[test]
fn json_is_the_serialised_results() {
    let mut rows: Vec<Row> = (0..40)
        .map(|i| row(i, Some(44.8 + i as f64 * 0.001), Some(-0.6)))
        .collect();
    rows[3].entry.nom = "« Le \"Quai\" » <b>&</b>".into();
    rows[3].entry.services = 0b101;
    rows[3].entry.dispositifs = 0b11;
    rows[3].entry.telephone = "+33556000000".into();
    rows[3].horaires = "Mo-Fr 09:00-18:00".into();
    let index = Index::new(None, rows);
    let q = Query {
        near: Some((44.8, -0.6)),
        radius_km: Some(20.0),
        now: Some("2026-11-23T09:00:00Z".parse().unwrap()),
        page: 1,
        per_page: 10,
        ..Default::default()
    };
    let page = index.search(&q);
    let fast: serde_json::Value = serde_json::from_slice(&page.to_json().unwrap()).unwrap();
    let slow = serde_json::to_value(page.results()).unwrap();
    assert_eq!(fast, slow);
    assert_eq!(slow["resultats"][3]["etat"], "Ouvert maintenant, ferme à 18 h");
    assert_eq!(slow["resultats"][3]["services"].as_array().unwrap().len(), 2);
}

#[test]
fn haversine_paris_lyon() {
    // Paris (48.8566, 2.3522) – Lyon (45.7640, 4.8357): ~391.5 km.
    let d = distance_m(48.8566, 2.3522, 45.7640, 4.8357);
    assert!((d - 391_500.0).abs() < 1_500.0, "{d}");
    assert_eq!(distance_m(44.0, -0.5, 44.0, -0.5), 0.0);
}

proptest! {
    /// The `ouvert_maintenant` filter, decided once per distinct hours text and time zone,
    /// keeps exactly the places that a direct reading of each one's hours in its own zone
    /// finds open, at any instant (Paris and Réunion, hours shared by many places).
    #[test]
    fn open_now_equals_each_place_read_in_its_own_zone(
        minutes in 0i64..(60 * 24 * 14),
        picks in proptest::collection::vec((0usize..5, any::<bool>()), 1..60),
    ) {
        const HOURS: [&str; 5] = ["Mo-Fr 09:00-12:00,14:00-17:30", "Tu-Sa 10:00-18:00; PH off", "24/7", "", "Mo-Su 20:00-02:00"];
        let rows: Vec<Row> = picks
            .iter()
            .enumerate()
            .map(|(i, (h, reunion))| {
                let mut r = row(i, Some(44.8), Some(-0.6));
                r.horaires = HOURS[*h].to_string();
                if *reunion {
                    r.entry.code_postal = "97400".into();
                    r.entry.zone = crate::lieux::fuseau::of_place(None, "97400");
                }
                r
            })
            .collect();
        let at: Timestamp = "2026-12-07T00:00:00Z".parse::<Timestamp>().unwrap()
            + jiff::SignedDuration::from_mins(minutes);
        let mut expected: Vec<String> = picks
            .iter()
            .enumerate()
            .filter(|(_, (h, reunion))| {
                let zone = if *reunion { crate::lieux::fuseau::of_place(None, "97400") } else { crate::lieux::fuseau::PARIS };
                Horaires::parse(HOURS[*h]).ok().is_some_and(|o| o.is_open(zone.local(at)))
            })
            .map(|(i, _)| format!("l{i:04}"))
            .collect();
        expected.sort();
        let index = Index::new(None, rows);
        let q = Query { open_at: Some(at), page: 1, per_page: 100, ..Default::default() };
        let page = index.search(&q);
        let mut got: Vec<String> = page.shown.iter().map(|s| index.entry(s.entry).ext_id.clone()).collect();
        got.sort();
        prop_assert_eq!(got, expected);
    }
}

/// Without the territories, a commune is placed at the mean of its located places, by its
/// name (folded) or its postcode, from a table built with the snapshot (no scan per search).
#[test]
fn a_commune_without_territories_is_placed_by_its_places() {
    let mut rows: Vec<Row> = (0..6)
        .map(|i| row(i, Some(44.80 + i as f64 * 0.01), Some(-0.60)))
        .collect();
    for r in &mut rows[3..] {
        r.entry.commune = "Talence".into();
        r.entry.commune_folded = fold("Talence");
        r.entry.code_postal = "33400".into();
    }
    rows[0].entry.commune_folded = fold("Bordeaux");
    rows[1].entry.commune_folded = fold("Bordeaux");
    rows[2].entry.commune_folded = fold("Bordeaux");
    rows.push(row(6, None, None));
    let index = Index::new(None, rows);
    let close =
        |a: Option<(f64, f64)>, b: (f64, f64)| a.is_some_and(|a| (a.0 - b.0).abs() < 1e-9 && (a.1 - b.1).abs() < 1e-9);
    assert!(
        close(index.centre_of("BORDEAUX"), (44.81, -0.60)),
        "{:?}",
        index.centre_of("BORDEAUX")
    );
    assert!(close(index.centre_of("talence"), (44.84, -0.60)));
    assert!(close(index.centre_of("33400"), (44.84, -0.60)));
    assert!(close(index.centre_of("33000"), (44.81, -0.60)));
    assert_eq!(index.centre_of("Mérignac"), None);
    assert_eq!(index.centre_of("  "), None);
}

proptest! {
    /// A `q=` search through the text index (and the filters' bitsets) finds exactly the
    /// places whose folded text holds the folded query and that have the wanted services, as
    /// reading every place would (short texts included, read in full).
    #[test]
    fn text_search_by_index_equals_a_scan(
        names in proptest::collection::vec("[a-eé ]{0,12}", 1..80),
        query in "[a-eé ]{0,5}",
        near in any::<bool>(),
        seed in any::<u64>(),
        filters in proptest::collection::vec(0usize..3, 0..3),
    ) {
        let rows: Vec<Row> = names
            .iter()
            .enumerate()
            .map(|(i, n)| {
                let mut r = row(i, (i % 3 != 0).then_some(44.8 + (i as f64) * 0.001), Some(-0.6));
                r.entry.nom = n.clone();
                r.entry.folded = format!("{} {} {}", fold(n), fold(&r.entry.commune), r.entry.code_postal);
                // Three services, each held by about half the places.
                r.entry.services = ((seed >> (i % 61)) & 0b111) as u32;
                r
            })
            .collect();
        let wanted = fold(&query);
        let required = filters.iter().fold(0u32, |m, b| m | (1 << b));
        let mut expected: Vec<String> = rows
            .iter()
            .filter(|r| wanted.is_empty() || r.entry.folded.contains(wanted.as_str()))
            .filter(|r| r.entry.services & required == required)
            .filter(|r| !near || r.entry.latitude.is_some())
            .map(|r| r.entry.ext_id.clone())
            .collect();
        expected.sort();
        let index = Index::new(None, rows);
        let q = Query {
            text: Some(query.clone()),
            near: near.then_some((44.8, -0.6)),
            services: filters.iter().map(|b| Services::ALL[*b]).collect(),
            page: 1,
            per_page: 100,
            ..Default::default()
        };
        let page = index.search(&q);
        let mut got: Vec<String> = page.shown.iter().map(|s| index.entry(s.entry).ext_id.clone()).collect();
        got.sort();
        prop_assert_eq!(page.total, expected.len());
        prop_assert_eq!(got, expected);
    }
}

/// The snapshot of an empty directory (the cache's first one, before any import): a search
/// near a point, with or without a radius, finds nothing instead of indexing an empty grid
/// (found by `fuzz_api::directory_search_never_fails` on PostgreSQL).
#[test]
fn the_empty_snapshot_answers_a_search_near_a_point() {
    let index = Index::default();
    for radius_km in [None, Some(5.0), Some(30_000.0)] {
        let q = Query {
            near: Some((44.84, -0.58)),
            radius_km,
            page: 1,
            per_page: 20,
            ..Default::default()
        };
        assert_eq!(index.search(&q).results().total, 0, "{radius_km:?}");
    }
    let text = Query {
        text: Some("pessac".into()),
        page: 1,
        per_page: 20,
        ..Default::default()
    };
    assert_eq!(index.search(&text).results().total, 0);
}
