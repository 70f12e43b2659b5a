-- The intercommunalités (EPCI) of the official territories and each commune's EPCI, from
-- @etalab/decoupage-administratif: a search for a commune where no place is listed falls back
-- to the places of its EPCI, then of its département (no package ships commune positions).
CREATE TABLE territoires_epci (
    code TEXT PRIMARY KEY,
    nom  TEXT NOT NULL
);
ALTER TABLE territoires_communes ADD COLUMN epci TEXT NOT NULL DEFAULT '';
