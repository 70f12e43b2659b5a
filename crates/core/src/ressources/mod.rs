//! Resource centre for collectivités: articles and documents (guides, model
//! deliberations to fund the Pass Numérique, hosting a conseiller numérique,
//! becoming an Aidants Connect structure…) written in Markdown by the opérateur,
//! rendered as sanitised HTML, tagged, searchable, with attached files kept in
//! the database. This file reads; `edit` writes (journaled).

pub mod authz;
pub mod demo;
pub mod edit;
pub mod markdown;
pub mod model;

use crate::accounts::Principal;
use crate::error::{CoreError, Result};
use crate::{on_db, Core};

/// Articles per page of a list.
pub const PAGE_SIZE: i64 = 10;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Article {
    pub id: i64,
    pub slug: String,
    pub titre: String,
    pub resume: String,
    /// Markdown source.
    pub corps: String,
    /// `None`: a draft.
    pub publie_at: Option<i64>,
    pub auteur_id: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

impl Article {
    pub fn is_published(&self) -> bool {
        self.publie_at.is_some()
    }
    /// The body as safe HTML.
    pub fn html(&self) -> String {
        markdown::to_html(&self.corps)
    }
}

/// An attached file, without its content.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct FileMeta {
    pub id: i64,
    pub ressource_id: i64,
    pub nom: String,
    pub type_mime: String,
    pub taille: i64,
    pub sha256: String,
    pub created_at: i64,
}

impl FileMeta {
    /// Extension and label of its type.
    pub fn kind(&self) -> model::Kind {
        model::KINDS
            .into_iter()
            .find(|k| k.0 == self.type_mime)
            .unwrap_or(model::PDF)
    }
    pub fn download_name(&self) -> String {
        model::download_name(&self.nom, self.kind().1)
    }
    pub fn size_label(&self) -> String {
        model::human_size(self.taille)
    }
}

/// An article with its tags and the number of its files (for lists).
#[derive(Debug, Clone)]
pub struct Summary {
    pub article: Article,
    pub tags: Vec<String>,
    pub fichiers: i64,
}

/// An article with its tags and files (for its page).
#[derive(Debug, Clone)]
pub struct Full {
    pub article: Article,
    pub tags: Vec<String>,
    pub fichiers: Vec<FileMeta>,
}

/// A search: words (title, summary, body, tags; accents and case ignored), a tag, a page.
#[derive(Debug, Clone, Default)]
pub struct Search {
    pub q: String,
    pub tag: Option<String>,
    pub page: i64,
}

#[derive(Debug, Clone, Default)]
pub struct Page {
    pub items: Vec<Summary>,
    pub total: i64,
    pub page: i64,
    pub more: bool,
}

/// Rows of a page: the articles, their count, and each one's tags and number of files.
type Found = (Vec<Article>, i64, Vec<(Vec<String>, i64)>);

const ARTICLE_COLUMNS: &str =
    "r.id, r.slug, r.titre, r.resume, r.corps, r.publie_at, r.auteur_id, r.created_at, r.updated_at";

/// Published articles matching the search (drafts too when `drafts`), most recent first.
async fn find(core: &Core, s: &Search, drafts: bool) -> Result<Page> {
    let page = s.page.max(1);
    let mut clauses: Vec<String> = Vec::new();
    let mut params: Vec<String> = Vec::new();
    if !drafts {
        clauses.push("r.publie_at IS NOT NULL".into());
    }
    if let Some(tag) = s.tag.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
        params.push(tag.to_lowercase());
        clauses.push(format!(
            "EXISTS (SELECT 1 FROM ressources_tags t WHERE t.ressource_id = r.id AND t.tag = ${})",
            params.len()
        ));
    }
    for w in model::search_words(&s.q) {
        // Only letters, digits: nothing for LIKE to interpret.
        params.push(format!("%{w}%"));
        clauses.push(format!("r.texte_recherche LIKE ${}", params.len()));
    }
    let filter = if clauses.is_empty() {
        String::new()
    } else {
        format!(" WHERE {}", clauses.join(" AND "))
    };
    let list_sql = format!(
        "SELECT {ARTICLE_COLUMNS} FROM ressources r{filter} \
         ORDER BY COALESCE(r.publie_at, r.updated_at) DESC, r.id DESC LIMIT {} OFFSET {}",
        PAGE_SIZE + 1,
        (page - 1) * PAGE_SIZE
    );
    let count_sql = format!("SELECT COUNT(*) FROM ressources r{filter}");
    let (mut rows, total, extras): Found = on_db!(&core.db, c => {
        let mut q = sqlx::query_as::<_, Article>(&list_sql);
        let mut n = sqlx::query_scalar::<_, i64>(&count_sql);
        for p in &params {
            q = q.bind(p);
            n = n.bind(p);
        }
        let rows: Vec<Article> = q.fetch_all(&mut *c).await?;
        let total = n.fetch_one(&mut *c).await?;
        let mut extras = Vec::with_capacity(rows.len());
        for a in rows.iter().take(PAGE_SIZE as usize) {
            let tags: Vec<String> = sqlx::query_scalar("SELECT tag FROM ressources_tags WHERE ressource_id = $1 ORDER BY tag")
                .bind(a.id).fetch_all(&mut *c).await?;
            let files: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM ressources_fichiers WHERE ressource_id = $1")
                .bind(a.id).fetch_one(&mut *c).await?;
            extras.push((tags, files));
        }
        (rows, total, extras)
    });
    let more = rows.len() as i64 > PAGE_SIZE;
    rows.truncate(PAGE_SIZE as usize);
    let items = rows
        .into_iter()
        .zip(extras)
        .map(|(article, (tags, fichiers))| Summary {
            article,
            tags,
            fichiers,
        })
        .collect();
    Ok(Page {
        items,
        total,
        page,
        more,
    })
}

/// The public list: published articles only.
pub async fn search_published(core: &Core, s: &Search) -> Result<Page> {
    find(core, s, false).await
}

/// The opérateur's list: drafts included.
pub async fn search_all(core: &Core, who: &Principal, s: &Search) -> Result<Page> {
    authz::authorize(who, authz::Action::Manage)?;
    find(core, s, true).await
}

/// Tags of published articles, with how many articles carry each.
pub async fn published_tags(core: &Core) -> Result<Vec<(String, i64)>> {
    Ok(on_db!(&core.db, c => sqlx::query_as(
        "SELECT t.tag, COUNT(*) FROM ressources_tags t JOIN ressources r ON r.id = t.ressource_id \
         WHERE r.publie_at IS NOT NULL GROUP BY t.tag ORDER BY t.tag",
    )
    .fetch_all(&mut *c)
    .await?))
}

async fn full_where(core: &Core, column: &str, key: &str) -> Result<Option<Full>> {
    let sql = format!("SELECT {ARTICLE_COLUMNS} FROM ressources r WHERE r.{column} = $1");
    let found: Option<(Article, Vec<String>, Vec<FileMeta>)> = on_db!(&core.db, c => {
        let a: Option<Article> = match column {
            "id" => sqlx::query_as(&sql).bind(key.parse::<i64>().unwrap_or(-1)).fetch_optional(&mut *c).await?,
            _ => sqlx::query_as(&sql).bind(key).fetch_optional(&mut *c).await?,
        };
        match a {
            None => None,
            Some(a) => {
                let tags = sqlx::query_scalar("SELECT tag FROM ressources_tags WHERE ressource_id = $1 ORDER BY tag")
                    .bind(a.id).fetch_all(&mut *c).await?;
                let files = sqlx::query_as(
                    "SELECT id, ressource_id, nom, type_mime, taille, sha256, created_at FROM ressources_fichiers \
                     WHERE ressource_id = $1 ORDER BY id",
                )
                .bind(a.id).fetch_all(&mut *c).await?;
                Some((a, tags, files))
            }
        }
    });
    Ok(found.map(|(article, tags, fichiers)| Full {
        article,
        tags,
        fichiers,
    }))
}

fn not_found() -> CoreError {
    CoreError::NotFound("ressource".into())
}

/// An article by its address: published, or a draft for the opérateur; else not found.
pub async fn by_slug(core: &Core, viewer: Option<&Principal>, slug: &str) -> Result<Full> {
    let full = full_where(core, "slug", slug).await?.ok_or_else(not_found)?;
    if full.article.is_published() || authz::sees_drafts(viewer) {
        Ok(full)
    } else {
        Err(not_found())
    }
}

/// An article by its number, for the opérateur's form.
pub async fn by_id(core: &Core, who: &Principal, id: i64) -> Result<Full> {
    authz::authorize(who, authz::Action::Manage)?;
    full_where(core, "id", &id.to_string()).await?.ok_or_else(not_found)
}

/// A file of a visible article, with its content.
pub async fn file(core: &Core, viewer: Option<&Principal>, slug: &str, file_id: i64) -> Result<(FileMeta, Vec<u8>)> {
    let full = by_slug(core, viewer, slug).await?;
    let meta = full
        .fichiers
        .into_iter()
        .find(|f| f.id == file_id)
        .ok_or_else(|| CoreError::NotFound("fichier".into()))?;
    let bytes: Vec<u8> = on_db!(&core.db, c => sqlx::query_scalar(
        "SELECT contenu FROM ressources_fichiers WHERE id = $1 AND ressource_id = $2",
    )
    .bind(meta.id)
    .bind(meta.ressource_id)
    .fetch_optional(&mut *c)
    .await?)
    .ok_or_else(|| CoreError::NotFound("fichier".into()))?;
    Ok((meta, bytes))
}
