//! The data set written by `preparer` and read by `charger` and `verifier`:
//! API keys, valid cheque codes and passwords of a **test** database. The
//! file is written with mode 0600 and never printed.

use std::path::Path;

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

/// A place of the directory, qualified, with an API key for its software.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Lieu {
    pub ext_id: String,
    pub cle_api: String,
    /// A service the place offers (to redeem for).
    pub service: String,
}

/// A valid cheque and the place (index in [`Jeu::lieux`]) that redeems it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Cheque {
    pub code: String,
    pub lieu: usize,
}

/// An account that signs in with a password only (no TOTP for its role).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Compte {
    pub email: String,
    pub mot_de_passe: String,
}

/// Orders prepared for the scheduled jobs' checks.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Taches {
    /// The day the jobs are run by hand (`passerelle taches quotidiennes --date`).
    pub jour: String,
    /// Expires at the service's start (its last day is before today).
    pub expiree_au_demarrage: i64,
    /// Its last day is the eve of [`Taches::jour`]: expires when the jobs run for that day.
    pub expire_le_jour: i64,
    /// Ends in 7 days: alerted at the service's start.
    pub alerte_au_demarrage: i64,
    /// Ends 30 days after [`Taches::jour`]: alerted when the jobs run for that day.
    pub alerte_le_jour: i64,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Jeu {
    pub lieux: Vec<Lieu>,
    /// Cheques redeemed by the load (each once).
    pub encaissements: Vec<Cheque>,
    /// Cheques only checked by the load (never redeemed).
    pub verifications: Vec<Cheque>,
    /// Cheques redeemed concurrently on every instance by `verifier` (exactly one success each).
    pub course: Vec<Cheque>,
    /// Accounts signing in under load.
    pub comptes: Vec<Compte>,
    /// Accounts reserved for the lockout checks (two: alternated, one instance).
    pub verrouillage: Vec<Compte>,
    /// Places reserved for the check rate-limit checks (two), by index in `lieux`.
    pub limites: Vec<usize>,
    /// Centre of the places, for directory searches (latitude, longitude).
    pub centre: (f64, f64),
    pub taches: Taches,
}

impl Jeu {
    pub fn read(path: &Path) -> Result<Jeu> {
        let bytes = std::fs::read(path).with_context(|| format!("lecture du jeu de données « {} »", path.display()))?;
        serde_json::from_slice(&bytes).with_context(|| format!("jeu de données « {} » illisible", path.display()))
    }

    /// Writes the file readable by its owner only (it holds keys and passwords).
    pub fn write(&self, path: &Path) -> Result<()> {
        use std::io::Write;
        let mut o = std::fs::OpenOptions::new();
        o.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            o.mode(0o600);
        }
        let mut f = o
            .open(path)
            .with_context(|| format!("écriture du jeu de données « {} »", path.display()))?;
        f.write_all(&serde_json::to_vec_pretty(self)?)?;
        f.write_all(b"\n")?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn written_file_reads_back_and_is_private() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("jeu.json");
        let jeu = Jeu {
            lieux: vec![Lieu {
                ext_id: "charge-1".into(),
                cle_api: "pn_x".into(),
                service: "s".into(),
            }],
            encaissements: vec![Cheque {
                code: "ABCD".into(),
                lieu: 0,
            }],
            centre: (44.8, -0.6),
            ..Default::default()
        };
        jeu.write(&path).unwrap();
        let back = Jeu::read(&path).unwrap();
        assert_eq!(back.lieux[0].cle_api, "pn_x");
        assert_eq!(back.encaissements[0].code, "ABCD");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        assert!(Jeu::read(&dir.path().join("absent.json"))
            .unwrap_err()
            .to_string()
            .contains("lecture du jeu"));
    }
}
