//! `clearsight export conversions` (SPEC section 9): the published `conversions` mart written as
//! the ad platforms' offline-conversion upload files, so that bidding optimises for pipeline
//! and revenue instead of form fills.

use chrono::{NaiveDate, TimeZone};
use datafusion::arrow::array::{Array, AsArray};
use datafusion::arrow::datatypes::{DataType, Float64Type, Int64Type};
use datafusion::prelude::SessionContext;

use crate::error::{Error, Result};

/// Which platform's upload file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Platform {
    /// Google Ads offline conversion import (click ids).
    #[value(name = "google_ads")]
    GoogleAds,
    /// Meta offline events (hashed emails).
    Meta,
}

/// A funnel stage exported as a conversion.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, clap::ValueEnum)]
pub enum Stage {
    Sql,
    Opportunity,
    Won,
}

impl Stage {
    fn name(self) -> &'static str {
        match self {
            Stage::Sql => "sql",
            Stage::Opportunity => "opportunity",
            Stage::Won => "won",
        }
    }
}

/// What to export.
#[derive(Debug, Clone)]
pub struct ExportOptions {
    pub platform: Platform,
    pub stages: Vec<Stage>,
    /// Keep conversions at or after this local day (daily uploads).
    pub since: Option<NaiveDate>,
    /// The reporting time zone (times in the file, `since`, Google's `TimeZone` parameter).
    pub zone: String,
    /// The reporting currency (money in the mart is in it).
    pub currency: String,
}

/// One row of the `conversions` mart.
struct Conversion {
    stage: String,
    name: String,
    micros: i64,
    value: f64,
    gclid: Option<String>,
    email_sha256: Option<String>,
}

async fn read(session: &SessionContext) -> Result<Vec<Conversion>> {
    let sql = "SELECT stage, conversion_name, CAST(converted_at AS BIGINT) AS micros, value, gclid, email_sha256
               FROM conversions ORDER BY converted_at, lead_id, stage";
    let batches = session.sql(sql).await?.collect().await?;
    let mut out = Vec::new();
    for b in &batches {
        // Strings may come back as views from Parquet: read them as plain UTF-8.
        let text = |i: usize| -> Result<datafusion::arrow::array::StringArray> {
            let plain = datafusion::arrow::compute::cast(b.column(i), &DataType::Utf8)?;
            Ok(plain.as_string::<i32>().clone())
        };
        let (stage, name, gclid, email) = (text(0)?, text(1)?, text(4)?, text(5)?);
        let micros = b.column(2).as_primitive::<Int64Type>();
        let value = b.column(3).as_primitive::<Float64Type>();
        let opt = |a: &datafusion::arrow::array::StringArray, r: usize| {
            a.is_valid(r).then(|| a.value(r).to_string())
        };
        for r in 0..b.num_rows() {
            out.push(Conversion {
                stage: stage.value(r).to_string(),
                name: name.value(r).to_string(),
                micros: micros.value(r),
                value: value.value(r),
                gclid: opt(&gclid, r),
                email_sha256: opt(&email, r),
            });
        }
    }
    Ok(out)
}

fn csv_error(e: impl std::fmt::Display) -> Error {
    Error::Query(format!("writing the upload file: {e}"))
}

/// The upload file's text for the published conversions of `session`.
pub async fn conversions(session: &SessionContext, options: &ExportOptions) -> Result<String> {
    let tz = crate::udf::time::zone(&options.zone)
        .map_err(|e| Error::config("config/mart.yaml", format!("reporting_timezone: {e}")))?;
    let local = |micros: i64| {
        tz.timestamp_micros(micros)
            .single()
            .map(|t| t.naive_local())
    };
    let kept: Vec<Conversion> = read(session)
        .await?
        .into_iter()
        .filter(|c| options.stages.iter().any(|s| s.name() == c.stage))
        .filter(|c| match (options.since, local(c.micros)) {
            (Some(since), Some(at)) => at.date() >= since,
            (Some(_), None) => false,
            (None, _) => true,
        })
        .collect();
    let mut w = csv::WriterBuilder::new()
        .flexible(true)
        .from_writer(Vec::new());
    let money = |v: f64| format!("{v:.2}");
    match options.platform {
        Platform::GoogleAds => {
            w.write_record([format!("Parameters:TimeZone={}", options.zone)])
                .map_err(csv_error)?;
            w.write_record([
                "Google Click ID",
                "Conversion Name",
                "Conversion Time",
                "Conversion Value",
                "Conversion Currency",
            ])
            .map_err(csv_error)?;
            for c in &kept {
                let (Some(gclid), Some(at)) = (&c.gclid, local(c.micros)) else {
                    continue;
                };
                let time = at.format("%Y-%m-%d %H:%M:%S").to_string();
                w.write_record([gclid, &c.name, &time, &money(c.value), &options.currency])
                    .map_err(csv_error)?;
            }
        }
        Platform::Meta => {
            w.write_record(["email", "event_name", "event_time", "value", "currency"])
                .map_err(csv_error)?;
            for c in &kept {
                let Some(email) = &c.email_sha256 else {
                    continue;
                };
                let seconds = c.micros.div_euclid(1_000_000).to_string();
                w.write_record([email, &c.name, &seconds, &money(c.value), &options.currency])
                    .map_err(csv_error)?;
            }
        }
    }
    let bytes = w.into_inner().map_err(csv_error)?;
    String::from_utf8(bytes).map_err(csv_error)
}
