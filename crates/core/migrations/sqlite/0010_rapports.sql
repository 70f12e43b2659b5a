-- Funders' reports (pass_numerique::rapports): the live redemptions of an order
-- are grouped by month, place and booklet from this index alone, without
-- reading the table (a covering index: one order of a million redemptions is
-- read in one range scan).
CREATE INDEX encaissements_rapports ON encaissements (commande_id, lieu_id, carnet_id, jour, valeur_centimes) WHERE annule_at IS NULL;
