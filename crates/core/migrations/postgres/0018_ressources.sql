-- Resource centre for collectivités: articles written in Markdown by the
-- opérateur (rendered and sanitised at display), tags, attached files kept in
-- the database (several instances share them).
CREATE TABLE ressources (
    id              BIGSERIAL PRIMARY KEY,
    slug            TEXT    NOT NULL UNIQUE,
    titre           TEXT    NOT NULL,
    resume          TEXT    NOT NULL,
    -- Markdown source, as typed by the opérateur.
    corps           TEXT    NOT NULL,
    -- Title, summary, body and tags, lower case without accents nor punctuation
    -- (filled by the application at each save): searched with LIKE on both engines.
    texte_recherche TEXT    NOT NULL,
    -- NULL: draft; otherwise when it was published.
    publie_at       BIGINT,
    auteur_id       BIGINT NOT NULL REFERENCES accounts (id),
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL
);
CREATE INDEX ressources_publie ON ressources (publie_at);

CREATE TABLE ressources_tags (
    ressource_id    BIGINT NOT NULL REFERENCES ressources (id) ON DELETE CASCADE,
    tag             TEXT    NOT NULL,
    PRIMARY KEY (ressource_id, tag)
);
CREATE INDEX ressources_tags_tag ON ressources_tags (tag);

CREATE TABLE ressources_fichiers (
    id              BIGSERIAL PRIMARY KEY,
    ressource_id    BIGINT NOT NULL REFERENCES ressources (id) ON DELETE CASCADE,
    -- Cleaned file name, for display.
    nom             TEXT    NOT NULL,
    -- Type read from the content (never from the name or the browser).
    type_mime       TEXT    NOT NULL,
    taille          BIGINT NOT NULL,
    sha256          TEXT    NOT NULL,
    contenu         BYTEA   NOT NULL,
    created_at      BIGINT NOT NULL
);
CREATE INDEX ressources_fichiers_ressource ON ressources_fichiers (ressource_id);
