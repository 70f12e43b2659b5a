-- Closed sets of values (issue 19): every column that holds a state or a
-- value of a closed list accepts only the values the code writes. The lists
-- are those of the Rust code named beside each one; change both together
-- (the test `etats_contraintes` compares them with the Rust lists where the
-- code names them, and checks that an unknown value is refused).
-- Already constrained: aidants_invitations.statut (0023). Without a state
-- column: booklets, the e-mail queue and mandates, whose state is derived
-- from dates (attribue_at/remis_at/perdu_at, envoye_at, expires_at and the
-- autorisations' revoquee_at).
-- PostgreSQL checks the existing rows when the constraint is added: the
-- migration fails, and changes nothing, if a row holds an unknown value.

-- The version of a mandate's text was the only 32-bit integer of the schema
-- (SQLite's INTEGER, read as i64 by the code, which had to CAST it): BIGINT
-- like every other integer (found by the test `schema_dialectes`).
ALTER TABLE mandats_textes ALTER COLUMN version TYPE BIGINT;
ALTER TABLE mandats ALTER COLUMN texte_version TYPE BIGINT;

-- OrderState (pass_numerique::orders)
ALTER TABLE commandes ADD CONSTRAINT commandes_etat_valeurs CHECK (etat IN ('devis', 'acceptee', 'facturee', 'payee', 'annulee'));

-- pass_numerique::orders::add_document
ALTER TABLE documents ADD CONSTRAINT documents_type_valeurs CHECK (type IN ('devis', 'facture', 'avoir'));

-- ChequeState (pass_numerique::model)
ALTER TABLE cheques ADD CONSTRAINT cheques_etat_valeurs CHECK (etat IN ('en_attente', 'actif', 'encaisse', 'expire', 'annule'));

-- qualification::decisions
ALTER TABLE qualifications ADD CONSTRAINT qualifications_etat_valeurs CHECK (etat IN ('active', 'suspendue', 'retiree'));

-- qualification::bank_details
ALTER TABLE coordonnees_bancaires ADD CONSTRAINT coordonnees_bancaires_etat_valeurs CHECK (etat IN ('a_valider', 'validees', 'refusees', 'remplacees'));

-- settlement::batches
ALTER TABLE lots_virements ADD CONSTRAINT lots_virements_etat_valeurs CHECK (etat IN ('genere', 'envoye', 'execute'));

-- settlement::batches
ALTER TABLE releves ADD CONSTRAINT releves_etat_valeurs CHECK (etat IN ('emis', 'envoye', 'paye', 'rejete'));

-- qualification::model
ALTER TABLE demandes_qualification ADD CONSTRAINT demandes_qualification_etat_valeurs CHECK (etat IN ('brouillon', 'deposee', 'a_modifier', 'approuvee', 'refusee'));

-- qualification::model
ALTER TABLE demandes_historique ADD CONSTRAINT demandes_historique_etat_valeurs CHECK (etat IN ('brouillon', 'deposee', 'a_modifier', 'approuvee', 'refusee'));

-- aidants_connect::structures
ALTER TABLE habilitations ADD CONSTRAINT habilitations_etat_valeurs CHECK (etat IN ('deposee', 'a_modifier', 'acceptee', 'refusee'));

-- aidants_connect::structures
ALTER TABLE habilitations_historique ADD CONSTRAINT habilitations_historique_etat_valeurs CHECK (etat IN ('deposee', 'a_modifier', 'acceptee', 'refusee'));

-- oidc_provider::keys
ALTER TABLE oidc_cles ADD CONSTRAINT oidc_cles_etat_valeurs CHECK (etat IN ('active', 'publiee', 'retiree'));

-- territoire::corrections
ALTER TABLE corrections_lieux ADD CONSTRAINT corrections_lieux_etat_valeurs CHECK (etat IN ('proposee', 'acceptee', 'refusee'));

-- mandats::model::Duration
ALTER TABLE mandats ADD CONSTRAINT mandats_duree_valeurs CHECK (duree IN ('SHORT', 'MONTH', 'SEMESTER', 'LONG'));

-- mandats::queries::RevokedBy
ALTER TABLE autorisations ADD CONSTRAINT autorisations_revoquee_par_valeurs CHECK (revoquee_par IN ('aidant', 'usager', 'remplacement'));
