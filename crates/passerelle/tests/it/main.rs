//! One integration-test binary: every test runs on the backend chosen by
//! `PASSERELLE_TEST_DATABASE_URL` (SQLite when unset).

mod support;

mod activite;
mod aidants_demo;
mod aidants_structures;
mod auth;
mod cli;
mod courriels;
mod demo;
mod espace_usager;
mod franceconnect;
mod hub_territoire;
mod hubs;
mod journal;
mod lieux;
mod lieux_pages;
mod mandats;
mod mandats_acces;
mod mandats_support;
mod oidc;
mod oidc_authlib;
mod oidc_authorize;
mod oidc_private_key_jwt;
mod oidc_support;
mod opendata_indicateurs;
mod opendata_pass_aidants;
mod operator;
mod pass;
mod pass_admin_pages;
mod pass_invariants;
mod pass_pages;
mod qualification;
mod rapports;
mod rapports_expires;
mod recapitulatifs;
mod reglements;
mod reglements_pages;
mod ressources;
mod rgpd;
mod rgpd_conservation;
mod sauvegarde;
mod smtp;
mod tableau_de_bord;
mod tableau_de_bord_agregats;
mod web;
