//! `clearsight export conversions`: the CLI side of [`crate::export`].

use super::{Context, ConversionArgs};
use crate::error::{exit, Result};
use crate::run::publish::Published;

/// `clearsight export conversions`: the upload file, to `--out` (written whole) or stdout.
pub async fn export_conversions(ctx: &Context, args: &ConversionArgs) -> Result<i32> {
    if Published::read(&ctx.warehouse).await?.is_none() {
        return Err(crate::Error::Usage(
            "nothing is published yet: run `clearsight build` first".into(),
        ));
    }
    let session = ctx.query_session().await?;
    if !session.table_exist("conversions")? {
        return Err(crate::Error::Usage(
            "the published mart has no `conversions` model: run `clearsight build` with queries/marts/conversions.sql".into(),
        ));
    }
    let mart: crate::run::settings::MartSettings = ctx.project.settings("mart.yaml")?;
    let options = crate::export::ExportOptions {
        platform: args.platform,
        stages: args.stage.clone(),
        since: args.since,
        zone: mart.reporting_timezone,
        currency: ctx.project.sources.reporting_currency.clone(),
    };
    let text = crate::export::conversions(&session, &options).await?;
    let rows = text.lines().count().saturating_sub(match args.platform {
        crate::export::Platform::GoogleAds => 2,
        crate::export::Platform::Meta => 1,
    });
    match &args.out {
        Some(path) => {
            super::output::write_whole(path, text.as_bytes())?;
            ctx.progress
                .line(&format!("{rows} conversions written to {}", path.display()));
        }
        None => super::output::write_stdout(text.as_bytes())?,
    }
    Ok(exit::OK)
}
