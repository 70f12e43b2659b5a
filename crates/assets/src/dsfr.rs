//! The part of the DSFR (`@gouvfr/dsfr/dist`) that the pages use: the style
//! sheet and scripts, the icon utility classes, and every file those reach by
//! `url()` (icons, fonts), plus the favicons.

use rust_embed::RustEmbed;

#[derive(RustEmbed)]
#[folder = "../../node_modules/@gouvfr/dsfr/dist/"]
#[include = "dsfr.min.css"]
#[include = "dsfr.module.min.js"]
#[include = "dsfr.nomodule.min.js"]
#[include = "utility/icons/icons.min.css"]
#[include = "icons/**/*.svg"]
#[include = "fonts/*"]
#[include = "favicon/*"]
struct Dist;

/// One embedded file, ready to serve.
pub struct Fichier {
    pub contenu: std::borrow::Cow<'static, [u8]>,
    /// Media type guessed from the name (`text/css`, `font/woff2`…).
    pub type_mime: String,
    /// Hex SHA-256 of the content, for `ETag`.
    pub empreinte: String,
}

/// The file at `path` (relative to `dist/`, without a leading slash), if embedded.
pub fn fichier(path: &str) -> Option<Fichier> {
    let f = Dist::get(path)?;
    Some(Fichier {
        contenu: f.data,
        type_mime: f.metadata.mimetype().to_string(),
        empreinte: f.metadata.sha256_hash().iter().map(|b| format!("{b:02x}")).collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_url_of_the_embedded_style_sheets_is_embedded() {
        for sheet in ["dsfr.min.css", "utility/icons/icons.min.css"] {
            let f = fichier(sheet).expect(sheet);
            let css = std::str::from_utf8(&f.contenu).expect("UTF-8");
            let base = sheet.rsplit_once('/').map_or("", |(d, _)| d);
            let mut checked = 0;
            for part in css.split("url(").skip(1) {
                let target = part.split(')').next().unwrap_or("").trim_matches(['"', '\'']);
                if target.starts_with("data:") {
                    continue;
                }
                let target = target.split(['?', '#']).next().unwrap_or("");
                let mut path: Vec<&str> = if base.is_empty() {
                    vec![]
                } else {
                    base.split('/').collect()
                };
                for seg in target.split('/') {
                    match seg {
                        ".." => {
                            path.pop();
                        }
                        "." | "" => {}
                        s => path.push(s),
                    }
                }
                let resolved = path.join("/");
                assert!(
                    fichier(&resolved).is_some(),
                    "{sheet} cite {target} ({resolved}), absent du binaire"
                );
                checked += 1;
            }
            assert!(checked > 10, "{sheet} : {checked} url() seulement");
        }
    }

    #[test]
    fn types_and_digests() {
        let css = fichier("dsfr.min.css").expect("css");
        assert_eq!(css.type_mime, "text/css");
        assert_eq!(css.empreinte.len(), 64);
        assert!(
            fichier("dsfr.css.map").is_none(),
            "les cartes de sources ne sont pas embarquées"
        );
        assert!(fichier("../package.json").is_none());
    }
}
