//! Qualification of places for the Pass Numérique: a place's application
//! (legal identity, legal representative, eligibility questionnaire, service
//! catalogue, supporting documents, bank details), its review by the opérateur
//! or a delegated hub, suspension and withdrawal, changes of bank details;
//! and the takeover of places qualified under a former operator.

pub mod applications;
pub mod authz;
pub mod bank_details;
pub mod decisions;
pub mod import;
pub mod model;
mod notify;
