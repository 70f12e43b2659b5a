-- One place, several sources (issue 21): when two records describe the same place, the
-- opérateur merges them. The kept record notes, field by field, which source id gave a value
-- it took from the other (`provenance`, JSON: field → source id; other fields are its own).
-- `lieux_fusions` maps every source id of a merged record (its own and the merged ones) to it,
-- with the digest of what that source last sent: a later import of either source updates the
-- merged record instead of recreating the duplicate.
ALTER TABLE lieux ADD COLUMN provenance TEXT NOT NULL DEFAULT '';
CREATE TABLE lieux_fusions (
    ext_id      TEXT    PRIMARY KEY,
    lieu_id     INTEGER NOT NULL REFERENCES lieux (id),
    digest      TEXT    NOT NULL,
    fusionne_le INTEGER NOT NULL
);
CREATE INDEX lieux_fusions_lieu ON lieux_fusions (lieu_id);
