//! Records the commit the binary is built from, for `passerelle --version`:
//! `PASSERELLE_COMMIT` when the builder sets it (a build from a source archive),
//! else `git rev-parse` of the checkout, else « inconnu ».

use std::process::Command;

fn main() {
    println!("cargo:rerun-if-env-changed=PASSERELLE_COMMIT");
    let git_dir = Command::new("git")
        .args(["rev-parse", "--git-dir"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string());
    if let Some(dir) = &git_dir {
        // A new commit moves HEAD or the branch it points to.
        println!("cargo:rerun-if-changed={dir}/HEAD");
        println!("cargo:rerun-if-changed={dir}/refs/heads");
        println!("cargo:rerun-if-changed={dir}/packed-refs");
    }
    let commit = std::env::var("PASSERELLE_COMMIT")
        .ok()
        .filter(|c| !c.trim().is_empty())
        .or_else(|| {
            git_dir.as_ref()?;
            Command::new("git")
                .args(["rev-parse", "--short=12", "HEAD"])
                .output()
                .ok()
                .filter(|o| o.status.success())
                .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        })
        .unwrap_or_else(|| "inconnu".to_string());
    println!("cargo:rustc-env=PASSERELLE_COMMIT={commit}");
}
