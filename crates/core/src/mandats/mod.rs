//! Mandates of Aidants Connect: an usager gives a structure the right to act
//! for him, for some démarches and a duration.

pub mod lookup;
pub mod model;
