-- Closed sets of values (issue 19): every column that holds a state or a
-- value of a closed list accepts only the values the code writes. The lists
-- are those of the Rust code named beside each one; change both together
-- (the test `etats_contraintes` compares them with the Rust lists where the
-- code names them, and checks that an unknown value is refused).
-- Already constrained: aidants_invitations.statut (0023). Without a state
-- column: booklets, the e-mail queue and mandates, whose state is derived
-- from dates (attribue_at/remis_at/perdu_at, envoye_at, expires_at and the
-- autorisations' revoquee_at).
--
-- SQLite cannot add a CHECK to an existing table. The documented alternative,
-- rebuilding each table (create a copy with the CHECK, copy the rows, drop,
-- rename, recreate indexes and triggers), is not used here: these are 15 tables,
-- among them `cheques` and `commandes` that every redemption and settlement
-- row refers to and that may hold millions of rows; the rebuild must run
-- outside the migration's transaction with foreign keys off (a failure
-- halfway would leave a half-migrated database), and restates every column
-- and index by hand. Instead, a pair of triggers per column refuses an
-- unknown value on INSERT and on UPDATE, inside the migration's transaction,
-- without copying anything: the same writes are refused as on PostgreSQL
-- (the test `schema_dialectes` reads these triggers as the CHECK constraints
-- of the other dialect, by their names `<table>_<colonne>_valeurs_insert`
-- and `_update`).
-- The existing rows are checked as PostgreSQL does: each column's rows that
-- hold an unknown value are rewritten to themselves, which fires the new
-- UPDATE trigger, so the migration fails (and is rolled back) on such data.

-- OrderState (pass_numerique::orders)
CREATE TRIGGER commandes_etat_valeurs_insert BEFORE INSERT ON commandes
WHEN NEW.etat NOT IN ('devis', 'acceptee', 'facturee', 'payee', 'annulee')
BEGIN SELECT RAISE(ABORT, 'commandes.etat : valeur inconnue, écriture refusée'); END;
CREATE TRIGGER commandes_etat_valeurs_update BEFORE UPDATE OF etat ON commandes
WHEN NEW.etat NOT IN ('devis', 'acceptee', 'facturee', 'payee', 'annulee')
BEGIN SELECT RAISE(ABORT, 'commandes.etat : valeur inconnue, écriture refusée'); END;
UPDATE commandes SET etat = etat WHERE etat NOT IN ('devis', 'acceptee', 'facturee', 'payee', 'annulee');

-- pass_numerique::orders::add_document
CREATE TRIGGER documents_type_valeurs_insert BEFORE INSERT ON documents
WHEN NEW.type NOT IN ('devis', 'facture', 'avoir')
BEGIN SELECT RAISE(ABORT, 'documents.type : valeur inconnue, écriture refusée'); END;
CREATE TRIGGER documents_type_valeurs_update BEFORE UPDATE OF type ON documents
WHEN NEW.type NOT IN ('devis', 'facture', 'avoir')
BEGIN SELECT RAISE(ABORT, 'documents.type : valeur inconnue, écriture refusée'); END;
UPDATE documents SET type = type WHERE type NOT IN ('devis', 'facture', 'avoir');

-- ChequeState (pass_numerique::model)
CREATE TRIGGER cheques_etat_valeurs_insert BEFORE INSERT ON cheques
WHEN NEW.etat NOT IN ('en_attente', 'actif', 'encaisse', 'expire', 'annule')
BEGIN SELECT RAISE(ABORT, 'cheques.etat : valeur inconnue, écriture refusée'); END;
CREATE TRIGGER cheques_etat_valeurs_update BEFORE UPDATE OF etat ON cheques
WHEN NEW.etat NOT IN ('en_attente', 'actif', 'encaisse', 'expire', 'annule')
BEGIN SELECT RAISE(ABORT, 'cheques.etat : valeur inconnue, écriture refusée'); END;
UPDATE cheques SET etat = etat WHERE etat NOT IN ('en_attente', 'actif', 'encaisse', 'expire', 'annule');

-- qualification::decisions
CREATE TRIGGER qualifications_etat_valeurs_insert BEFORE INSERT ON qualifications
WHEN NEW.etat NOT IN ('active', 'suspendue', 'retiree')
BEGIN SELECT RAISE(ABORT, 'qualifications.etat : valeur inconnue, écriture refusée'); END;
CREATE TRIGGER qualifications_etat_valeurs_update BEFORE UPDATE OF etat ON qualifications
WHEN NEW.etat NOT IN ('active', 'suspendue', 'retiree')
BEGIN SELECT RAISE(ABORT, 'qualifications.etat : valeur inconnue, écriture refusée'); END;
UPDATE qualifications SET etat = etat WHERE etat NOT IN ('active', 'suspendue', 'retiree');

-- qualification::bank_details
CREATE TRIGGER coordonnees_bancaires_etat_valeurs_insert BEFORE INSERT ON coordonnees_bancaires
WHEN NEW.etat NOT IN ('a_valider', 'validees', 'refusees', 'remplacees')
BEGIN SELECT RAISE(ABORT, 'coordonnees_bancaires.etat : valeur inconnue, écriture refusée'); END;
CREATE TRIGGER coordonnees_bancaires_etat_valeurs_update BEFORE UPDATE OF etat ON coordonnees_bancaires
WHEN NEW.etat NOT IN ('a_valider', 'validees', 'refusees', 'remplacees')
BEGIN SELECT RAISE(ABORT, 'coordonnees_bancaires.etat : valeur inconnue, écriture refusée'); END;
UPDATE coordonnees_bancaires SET etat = etat WHERE etat NOT IN ('a_valider', 'validees', 'refusees', 'remplacees');

-- settlement::batches
CREATE TRIGGER lots_virements_etat_valeurs_insert BEFORE INSERT ON lots_virements
WHEN NEW.etat NOT IN ('genere', 'envoye', 'execute')
BEGIN SELECT RAISE(ABORT, 'lots_virements.etat : valeur inconnue, écriture refusée'); END;
CREATE TRIGGER lots_virements_etat_valeurs_update BEFORE UPDATE OF etat ON lots_virements
WHEN NEW.etat NOT IN ('genere', 'envoye', 'execute')
BEGIN SELECT RAISE(ABORT, 'lots_virements.etat : valeur inconnue, écriture refusée'); END;
UPDATE lots_virements SET etat = etat WHERE etat NOT IN ('genere', 'envoye', 'execute');

-- settlement::batches
CREATE TRIGGER releves_etat_valeurs_insert BEFORE INSERT ON releves
WHEN NEW.etat NOT IN ('emis', 'envoye', 'paye', 'rejete')
BEGIN SELECT RAISE(ABORT, 'releves.etat : valeur inconnue, écriture refusée'); END;
CREATE TRIGGER releves_etat_valeurs_update BEFORE UPDATE OF etat ON releves
WHEN NEW.etat NOT IN ('emis', 'envoye', 'paye', 'rejete')
BEGIN SELECT RAISE(ABORT, 'releves.etat : valeur inconnue, écriture refusée'); END;
UPDATE releves SET etat = etat WHERE etat NOT IN ('emis', 'envoye', 'paye', 'rejete');

-- qualification::model
CREATE TRIGGER demandes_qualification_etat_valeurs_insert BEFORE INSERT ON demandes_qualification
WHEN NEW.etat NOT IN ('brouillon', 'deposee', 'a_modifier', 'approuvee', 'refusee')
BEGIN SELECT RAISE(ABORT, 'demandes_qualification.etat : valeur inconnue, écriture refusée'); END;
CREATE TRIGGER demandes_qualification_etat_valeurs_update BEFORE UPDATE OF etat ON demandes_qualification
WHEN NEW.etat NOT IN ('brouillon', 'deposee', 'a_modifier', 'approuvee', 'refusee')
BEGIN SELECT RAISE(ABORT, 'demandes_qualification.etat : valeur inconnue, écriture refusée'); END;
UPDATE demandes_qualification SET etat = etat WHERE etat NOT IN ('brouillon', 'deposee', 'a_modifier', 'approuvee', 'refusee');

-- qualification::model
CREATE TRIGGER demandes_historique_etat_valeurs_insert BEFORE INSERT ON demandes_historique
WHEN NEW.etat NOT IN ('brouillon', 'deposee', 'a_modifier', 'approuvee', 'refusee')
BEGIN SELECT RAISE(ABORT, 'demandes_historique.etat : valeur inconnue, écriture refusée'); END;
CREATE TRIGGER demandes_historique_etat_valeurs_update BEFORE UPDATE OF etat ON demandes_historique
WHEN NEW.etat NOT IN ('brouillon', 'deposee', 'a_modifier', 'approuvee', 'refusee')
BEGIN SELECT RAISE(ABORT, 'demandes_historique.etat : valeur inconnue, écriture refusée'); END;
UPDATE demandes_historique SET etat = etat WHERE etat NOT IN ('brouillon', 'deposee', 'a_modifier', 'approuvee', 'refusee');

-- aidants_connect::structures
CREATE TRIGGER habilitations_etat_valeurs_insert BEFORE INSERT ON habilitations
WHEN NEW.etat NOT IN ('deposee', 'a_modifier', 'acceptee', 'refusee')
BEGIN SELECT RAISE(ABORT, 'habilitations.etat : valeur inconnue, écriture refusée'); END;
CREATE TRIGGER habilitations_etat_valeurs_update BEFORE UPDATE OF etat ON habilitations
WHEN NEW.etat NOT IN ('deposee', 'a_modifier', 'acceptee', 'refusee')
BEGIN SELECT RAISE(ABORT, 'habilitations.etat : valeur inconnue, écriture refusée'); END;
UPDATE habilitations SET etat = etat WHERE etat NOT IN ('deposee', 'a_modifier', 'acceptee', 'refusee');

-- aidants_connect::structures
CREATE TRIGGER habilitations_historique_etat_valeurs_insert BEFORE INSERT ON habilitations_historique
WHEN NEW.etat NOT IN ('deposee', 'a_modifier', 'acceptee', 'refusee')
BEGIN SELECT RAISE(ABORT, 'habilitations_historique.etat : valeur inconnue, écriture refusée'); END;
CREATE TRIGGER habilitations_historique_etat_valeurs_update BEFORE UPDATE OF etat ON habilitations_historique
WHEN NEW.etat NOT IN ('deposee', 'a_modifier', 'acceptee', 'refusee')
BEGIN SELECT RAISE(ABORT, 'habilitations_historique.etat : valeur inconnue, écriture refusée'); END;
UPDATE habilitations_historique SET etat = etat WHERE etat NOT IN ('deposee', 'a_modifier', 'acceptee', 'refusee');

-- oidc_provider::keys
CREATE TRIGGER oidc_cles_etat_valeurs_insert BEFORE INSERT ON oidc_cles
WHEN NEW.etat NOT IN ('active', 'publiee', 'retiree')
BEGIN SELECT RAISE(ABORT, 'oidc_cles.etat : valeur inconnue, écriture refusée'); END;
CREATE TRIGGER oidc_cles_etat_valeurs_update BEFORE UPDATE OF etat ON oidc_cles
WHEN NEW.etat NOT IN ('active', 'publiee', 'retiree')
BEGIN SELECT RAISE(ABORT, 'oidc_cles.etat : valeur inconnue, écriture refusée'); END;
UPDATE oidc_cles SET etat = etat WHERE etat NOT IN ('active', 'publiee', 'retiree');

-- territoire::corrections
CREATE TRIGGER corrections_lieux_etat_valeurs_insert BEFORE INSERT ON corrections_lieux
WHEN NEW.etat NOT IN ('proposee', 'acceptee', 'refusee')
BEGIN SELECT RAISE(ABORT, 'corrections_lieux.etat : valeur inconnue, écriture refusée'); END;
CREATE TRIGGER corrections_lieux_etat_valeurs_update BEFORE UPDATE OF etat ON corrections_lieux
WHEN NEW.etat NOT IN ('proposee', 'acceptee', 'refusee')
BEGIN SELECT RAISE(ABORT, 'corrections_lieux.etat : valeur inconnue, écriture refusée'); END;
UPDATE corrections_lieux SET etat = etat WHERE etat NOT IN ('proposee', 'acceptee', 'refusee');

-- mandats::model::Duration
CREATE TRIGGER mandats_duree_valeurs_insert BEFORE INSERT ON mandats
WHEN NEW.duree NOT IN ('SHORT', 'MONTH', 'SEMESTER', 'LONG')
BEGIN SELECT RAISE(ABORT, 'mandats.duree : valeur inconnue, écriture refusée'); END;
CREATE TRIGGER mandats_duree_valeurs_update BEFORE UPDATE OF duree ON mandats
WHEN NEW.duree NOT IN ('SHORT', 'MONTH', 'SEMESTER', 'LONG')
BEGIN SELECT RAISE(ABORT, 'mandats.duree : valeur inconnue, écriture refusée'); END;
UPDATE mandats SET duree = duree WHERE duree NOT IN ('SHORT', 'MONTH', 'SEMESTER', 'LONG');

-- mandats::queries::RevokedBy
CREATE TRIGGER autorisations_revoquee_par_valeurs_insert BEFORE INSERT ON autorisations
WHEN NEW.revoquee_par NOT IN ('aidant', 'usager', 'remplacement')
BEGIN SELECT RAISE(ABORT, 'autorisations.revoquee_par : valeur inconnue, écriture refusée'); END;
CREATE TRIGGER autorisations_revoquee_par_valeurs_update BEFORE UPDATE OF revoquee_par ON autorisations
WHEN NEW.revoquee_par NOT IN ('aidant', 'usager', 'remplacement')
BEGIN SELECT RAISE(ABORT, 'autorisations.revoquee_par : valeur inconnue, écriture refusée'); END;
UPDATE autorisations SET revoquee_par = revoquee_par WHERE revoquee_par NOT IN ('aidant', 'usager', 'remplacement');
