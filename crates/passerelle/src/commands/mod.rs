//! One module per command family.

pub mod admin;
pub mod journal;
pub mod organisations;
pub mod serve;

use std::process::ExitCode;

use anyhow::Result;
use passerelle_core::{Core, Db, Keys};

use crate::config::DataArgs;

/// Opens the database (creating the data directory), applies migrations and loads the keys.
pub async fn open(data: &DataArgs) -> Result<Core> {
    let keys = Keys::load_or_create(&data.data_dir)?;
    let url = data.database_url();
    let db = Db::connect(&url).await?;
    db.migrate().await?;
    Ok(Core::new(db, keys))
}

pub async fn migrate(data: &DataArgs) -> Result<ExitCode> {
    let core = open(data).await?;
    println!(
        "Migrations appliquées ({}).",
        passerelle_core::db::redact_url(&data.database_url())
    );
    core.db.close().await;
    Ok(ExitCode::SUCCESS)
}
