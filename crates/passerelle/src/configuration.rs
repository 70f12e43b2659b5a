//! The installed service's configuration file (`/etc/passerelle/passerelle.env`,
//! a file of `NOM=valeur` lines, the one systemd's `EnvironmentFile=` reads), read
//! by every command too, so that `passerelle journal verify` run by an operator
//! on the server sees the same database and data folder as the service.
//!
//! `PASSERELLE_CONFIG` names another file. Variables already set win over the file.

use std::path::{Path, PathBuf};

/// The file the Debian package installs.
pub const DEFAULT_FILE: &str = "/etc/passerelle/passerelle.env";

/// Loads the configuration file into the environment; a warning on standard error
/// when it exists but cannot be read (run as `passerelle` or root).
pub fn load() {
    let (path, explicit) = match std::env::var_os("PASSERELLE_CONFIG") {
        Some(p) if !p.is_empty() => (PathBuf::from(p), true),
        _ => (PathBuf::from(DEFAULT_FILE), false),
    };
    if !explicit && !path.exists() {
        return;
    }
    if let Err(e) = load_file(&path) {
        eprintln!("attention : {e}");
    }
}

fn load_file(path: &Path) -> Result<(), String> {
    match dotenvy::from_path(path) {
        Ok(()) => Ok(()),
        Err(dotenvy::Error::Io(e)) if e.kind() == std::io::ErrorKind::PermissionDenied => Err(format!(
            "configuration « {} » illisible pour cet utilisateur : lancez la commande en tant que \
             passerelle (sudo -u passerelle passerelle …) ou root",
            path.display()
        )),
        Err(dotenvy::Error::LineParse(line, at)) => Err(format!(
            "configuration « {} » : ligne illisible (position {at}) : {line}",
            path.display()
        )),
        Err(e) => Err(format!("configuration « {} » non lue : {e}", path.display())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bad_line_is_reported_with_the_file() {
        let dir = std::env::temp_dir().join(format!("passerelle-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("passerelle.env");
        std::fs::write(&f, "PASSERELLE_ESSAI_CONFIG='pas fermé\n").unwrap();
        let err = load_file(&f).unwrap_err();
        assert!(
            err.contains("passerelle.env") && err.contains("ligne illisible"),
            "{err}"
        );
        assert!(load_file(&dir.join("absent.env")).unwrap_err().contains("non lue"));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
