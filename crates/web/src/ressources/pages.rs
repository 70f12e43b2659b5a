//! The public resource centre for collectivités (`/ressources…`): search and
//! tag filters, an article (sanitised HTML) with its files, file downloads.
//! Drafts are "not found" for everyone but the opérateur.

use crate::forms::Path;
use askama::Template;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use passerelle_core::ressources::{self, Full, Search, Summary};
use serde::Deserialize;

use crate::auth::{render, Visitor};
use crate::error::WebError;
use crate::forms::Query;
use crate::templates::Layout;
use crate::AppState;

/// A date in French, e.g. `1er décembre 2026`, `2 décembre 2026` (the day in Paris).
pub fn date_fr(micros: i64) -> String {
    let d = passerelle_core::horloge::paris_of(micros).date();
    let m = passerelle_core::dates_fr::mois(d.month().unsigned_abs().into()).unwrap_or_default();
    match d.day() {
        1 => format!("1er {m} {}", d.year()),
        n => format!("{n} {m} {}", d.year()),
    }
}

/// A query string from pairs, empty values left out.
pub fn query_string(path: &str, pairs: &[(&str, &str)]) -> String {
    let kept: Vec<&(&str, &str)> = pairs.iter().filter(|(_, v)| !v.is_empty()).collect();
    if kept.is_empty() {
        return path.to_string();
    }
    let mut s = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in kept {
        s.append_pair(k, v);
    }
    format!("{path}?{}", s.finish())
}

pub struct Card {
    pub id: i64,
    pub slug: String,
    pub titre: String,
    pub resume: String,
    pub date: String,
    pub publie: bool,
    pub tags: Vec<TagLink>,
    pub fichiers: i64,
}

pub struct TagLink {
    pub label: String,
    pub href: String,
    pub count: i64,
    pub current: bool,
}

fn tag_link(tag: &str, count: i64, current: &str) -> TagLink {
    TagLink {
        label: tag.to_string(),
        href: query_string("/ressources", &[("tag", tag)]),
        count,
        current: tag == current,
    }
}

pub fn card(s: &Summary, current_tag: &str) -> Card {
    let a = &s.article;
    Card {
        id: a.id,
        slug: a.slug.clone(),
        titre: a.titre.clone(),
        resume: a.resume.clone(),
        date: date_fr(a.publie_at.unwrap_or(a.updated_at)),
        publie: a.is_published(),
        tags: s.tags.iter().map(|t| tag_link(t, 0, current_tag)).collect(),
        fichiers: s.fichiers,
    }
}

#[derive(Template)]
#[template(path = "ressources/ressources.html")]
pub struct ListPage {
    pub l: Layout,
    pub q: String,
    pub tag: String,
    pub tags: Vec<TagLink>,
    pub cards: Vec<Card>,
    pub total: i64,
    pub page: i64,
    pub prev: Option<String>,
    pub next: Option<String>,
}

#[derive(Debug, Deserialize, Default)]
pub struct ListQuery {
    #[serde(default)]
    pub q: String,
    #[serde(default)]
    pub tag: String,
    pub page: Option<i64>,
}

/// GET `/ressources`: published articles, searched by words and filtered by tag.
pub async fn list(State(state): State<AppState>, v: Visitor, Query(f): Query<ListQuery>) -> Result<Response, WebError> {
    let q: String = f.q.trim().chars().take(200).collect();
    let tag: String = f.tag.trim().chars().take(60).collect::<String>().to_lowercase();
    let search = Search {
        q: q.clone(),
        tag: Some(tag.clone()).filter(|t| !t.is_empty()),
        page: f.page.unwrap_or(1).clamp(1, 10_000),
    };
    let found = ressources::search_published(&state.core, &search).await?;
    let tags = ressources::published_tags(&state.core)
        .await?
        .into_iter()
        .map(|(t, n)| tag_link(&t, n, &tag))
        .collect();
    let page_href = |p: i64| {
        let p = p.to_string();
        query_string("/ressources", &[("q", &q), ("tag", &tag), ("page", &p)])
    };
    render(
        StatusCode::OK,
        ListPage {
            l: v.layout("Centre de ressources pour les collectivités", "/ressources"),
            cards: found.items.iter().map(|s| card(s, &tag)).collect(),
            total: found.total,
            page: found.page,
            prev: (found.page > 1).then(|| page_href(found.page - 1)),
            next: found.more.then(|| page_href(found.page + 1)),
            q,
            tag,
            tags,
        },
    )
}

pub struct FileRow {
    pub href: String,
    pub nom: String,
    pub type_label: &'static str,
    pub taille: String,
}

#[derive(Template)]
#[template(path = "ressources/ressource.html")]
pub struct ArticlePage {
    pub l: Layout,
    pub titre: String,
    pub resume: String,
    pub publie: Option<String>,
    pub mis_a_jour: String,
    pub tags: Vec<TagLink>,
    /// Sanitised by `ressources::markdown` (ammonia).
    pub html: String,
    pub fichiers: Vec<FileRow>,
    pub edit_href: Option<String>,
}

pub fn file_rows(full: &Full) -> Vec<FileRow> {
    full.fichiers
        .iter()
        .map(|f| FileRow {
            href: format!("/ressources/{}/fichiers/{}", full.article.slug, f.id),
            nom: f.nom.clone(),
            type_label: f.kind().2,
            taille: f.size_label(),
        })
        .collect()
}

/// GET `/ressources/{slug}`: one article (a draft only for the opérateur).
pub async fn article(
    State(state): State<AppState>,
    v: Visitor,
    Path(slug): Path<String>,
) -> Result<Response, WebError> {
    let viewer = v.user.as_ref().map(|u| &u.principal);
    let full = ressources::by_slug(&state.core, viewer, &slug).await?;
    let a = &full.article;
    let manager = ressources::authz::sees_drafts(viewer);
    render(
        StatusCode::OK,
        ArticlePage {
            l: v.layout(&a.titre, "/ressources"),
            titre: a.titre.clone(),
            resume: a.resume.clone(),
            publie: a.publie_at.map(date_fr),
            mis_a_jour: date_fr(a.updated_at),
            tags: full.tags.iter().map(|t| tag_link(t, 0, "")).collect(),
            html: a.html(),
            fichiers: file_rows(&full),
            edit_href: manager.then(|| format!("/operateur/ressources/{}", a.id)),
        },
    )
}

/// GET `/ressources/{slug}/fichiers/{id}`: the file, as a download under a safe name.
pub async fn download(
    State(state): State<AppState>,
    v: Visitor,
    Path((slug, id)): Path<(String, i64)>,
) -> Result<Response, WebError> {
    let viewer = v.user.as_ref().map(|u| &u.principal);
    let (meta, bytes) = ressources::file(&state.core, viewer, &slug, id).await?;
    Ok((
        [
            (header::CONTENT_TYPE, meta.type_mime.clone()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{}\"", meta.download_name()),
            ),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff".to_string()),
            (header::CACHE_CONTROL, "no-store".to_string()),
        ],
        bytes,
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_day_is_written_in_french_in_paris_time() {
        // 2026-03-01T00:30:00Z and 2026-02-28T23:30:00Z: both 1 March in Paris (UTC+1).
        assert_eq!(super::date_fr(1_772_325_000_000_000), "1er mars 2026");
        assert_eq!(super::date_fr(1_772_321_400_000_000), "1er mars 2026");
        // 2026-02-28T22:30:00Z: still 28 February in Paris.
        assert_eq!(super::date_fr(1_772_317_800_000_000), "28 février 2026");
    }
}
