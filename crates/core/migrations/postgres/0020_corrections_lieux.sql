-- Corrections of a place's data proposed by the hub of its territory, accepted
-- (applied through the place edit, so checked and journaled) or refused by the
-- place's own staff or the opérateur.
CREATE TABLE corrections_lieux (
    id                  BIGSERIAL PRIMARY KEY,
    lieu_id             BIGINT  NOT NULL REFERENCES lieux (id),
    hub_id              BIGINT  NOT NULL REFERENCES organisations (id),
    auteur_id           BIGINT  NOT NULL REFERENCES accounts (id),
    -- JSON objects: field of the standard → proposed value, and the value
    -- the place had when the correction was proposed.
    changements         TEXT    NOT NULL,
    valeurs_avant       TEXT    NOT NULL,
    commentaire         TEXT    NOT NULL,
    -- proposee, acceptee, refusee
    etat                TEXT    NOT NULL,
    motif               TEXT    NOT NULL DEFAULT '',
    decideur_id         BIGINT  REFERENCES accounts (id),
    created_at          BIGINT  NOT NULL,
    decided_at          BIGINT
);
CREATE INDEX corrections_lieux_lieu ON corrections_lieux (lieu_id, etat);
CREATE INDEX corrections_lieux_hub ON corrections_lieux (hub_id, created_at);
CREATE INDEX corrections_lieux_etat ON corrections_lieux (etat, created_at);

-- Municipal arrondissements (Paris, Lyon, Marseille) are stored beside their
-- commune: their parent is recorded so that populations are not counted twice.
ALTER TABLE territoires_communes ADD COLUMN commune_parente TEXT NOT NULL DEFAULT '';
UPDATE territoires_communes SET commune_parente = '75056' WHERE code >= '75101' AND code <= '75120';
UPDATE territoires_communes SET commune_parente = '69123' WHERE code >= '69381' AND code <= '69389';
UPDATE territoires_communes SET commune_parente = '13055' WHERE code >= '13201' AND code <= '13216';
