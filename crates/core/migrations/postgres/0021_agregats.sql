-- Computed aggregates shared by every instance (the national dashboard): the
-- figures as JSON, when they were computed, and until when one instance holds
-- the right to recompute them (so that two instances never recompute at once).
CREATE TABLE agregats (
    nom              TEXT    PRIMARY KEY,
    contenu          TEXT    NOT NULL,
    calcule_at       BIGINT  NOT NULL,
    recalcul_jusqu_a BIGINT
);
