-- Personal data (RGPD): when a person asked for erasure, and when their
-- identity was pseudonymised (by `passerelle rgpd effacer` or by the daily
-- retention job once nothing requires it any more, e.g. the proof of a
-- mandate for its legal period).
ALTER TABLE usagers ADD COLUMN effacement_demande_at BIGINT;
ALTER TABLE usagers ADD COLUMN efface_at BIGINT;
ALTER TABLE accounts ADD COLUMN effacement_demande_at BIGINT;
ALTER TABLE accounts ADD COLUMN efface_at BIGINT;
