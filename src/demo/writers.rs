//! Writes the simulated world in the formats users download: GA4 BigQuery NDJSON, Salesforce
//! and HubSpot CSV exports, and the ad platforms' spend reports.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

use chrono::{DateTime, Utc};

use super::simulate::{World, DAY};
use super::{DemoOptions, DemoSummary, Rng};
use crate::error::Result;
use crate::load::values::email_sha256;

const SITE: &str = "https://www.acme-analytics.example";

pub(super) fn iso(micros: i64) -> String {
    DateTime::<Utc>::from_timestamp_micros(micros)
        .unwrap()
        .format("%Y-%m-%dT%H:%M:%S.000Z")
        .to_string()
}
pub(super) fn day(micros: i64) -> String {
    DateTime::<Utc>::from_timestamp_micros(micros)
        .unwrap()
        .format("%Y-%m-%d")
        .to_string()
}
fn us_day(micros: i64) -> String {
    DateTime::<Utc>::from_timestamp_micros(micros)
        .unwrap()
        .format("%-m/%-d/%Y")
        .to_string()
}
pub(super) fn slug(s: &str) -> String {
    s.to_lowercase().replace(' ', "_")
}
fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}
pub(super) fn csv_line(fields: &[String]) -> String {
    fields
        .iter()
        .map(|f| csv_field(f))
        .collect::<Vec<_>>()
        .join(",")
        + "\n"
}

pub fn write_all(dir: &Path, world: &World, options: &DemoOptions) -> Result<DemoSummary> {
    for sub in ["ga4", "crm", "spend"] {
        std::fs::create_dir_all(dir.join(sub))?;
    }
    let mut summary = DemoSummary::default();
    let spend = write_ga4(dir, world, options, &mut summary)?;
    super::crm_export::write_crm(dir, world, options, &mut summary)?;
    write_spend(dir, world, &spend, options, &mut summary)?;
    Ok(summary)
}

/// Sessions per (platform, campaign, day), the base of the spend reports.
type SessionCounts = BTreeMap<(&'static str, &'static str, String), u64>;

fn write_ga4(
    dir: &Path,
    world: &World,
    options: &DemoOptions,
    summary: &mut DemoSummary,
) -> Result<SessionCounts> {
    let mut files: BTreeMap<String, BufWriter<File>> = BTreeMap::new();
    let mut counts = SessionCounts::new();
    for (index, s) in world.sessions.iter().enumerate() {
        let mut rng = Rng::new(options.seed ^ (index as u64).wrapping_mul(0x2545_F491_4F6C_DD1D));
        let p = &world.profiles[s.profile];
        let user = &world.users[s.user as usize];
        let campaign = p.campaigns.get(s.campaign).copied().unwrap_or("");
        if let Some(platform) = p.platform {
            *counts
                .entry((platform, campaign, day(s.start_micros)))
                .or_default() += 1;
        }
        let mut landing = format!(
            "{SITE}/{}",
            ["", "pricing", "blog/kpi-myopia", "demo"][rng.below(4) as usize]
        );
        if p.utm {
            landing += &format!(
                "?utm_source={}&utm_medium={}&utm_campaign={}",
                p.source,
                p.medium,
                campaign.replace(' ', "+")
            );
        }
        if let Some(g) = &s.gclid {
            landing += &format!("?gclid={g}");
        }
        let user_id = s.logged_in.then(|| email_sha256(&user.email).unwrap());
        let mut at = s.start_micros;
        for e in 0..s.events {
            let first = e == 0;
            let (name, page, referrer) = if first {
                (
                    "session_start",
                    landing.clone(),
                    p.referrer.map(str::to_string),
                )
            } else {
                let name = if e + 1 == s.events && s.logged_in {
                    "form_submit"
                } else {
                    "page_view"
                };
                (
                    name,
                    format!(
                        "{SITE}/{}",
                        ["features", "pricing", "customers", "contact"][rng.below(4) as usize]
                    ),
                    Some(format!("{SITE}/")),
                )
            };
            let mut params = vec![
                format!(
                    r#"{{"key":"ga_session_id","value":{{"int_value":"{}"}}}}"#,
                    s.id
                ),
                format!(r#"{{"key":"page_location","value":{{"string_value":"{page}"}}}}"#),
                format!(
                    r#"{{"key":"engagement_time_msec","value":{{"int_value":{}}}}}"#,
                    rng.below(60_000)
                ),
            ];
            if let Some(r) = referrer {
                params.push(format!(
                    r#"{{"key":"page_referrer","value":{{"string_value":"{r}"}}}}"#
                ));
            }
            let mut line = format!(
                r#"{{"event_date":"{}","event_timestamp":"{at}","event_name":"{name}","event_params":[{}],"user_pseudo_id":"{}""#,
                day(at).replace('-', ""),
                params.join(","),
                user.pseudo_id
            );
            if let Some(uid) = &user_id {
                line += &format!(r#","user_id":"{uid}""#);
            }
            if first && (p.utm || s.gclid.is_some()) {
                let mut cts = format!(
                    r#""manual_source":"{}","manual_medium":"{}","manual_campaign_name":"{campaign}""#,
                    p.source, p.medium
                );
                if let Some(g) = &s.gclid {
                    cts += &format!(r#","gclid":"{g}""#);
                }
                line += &format!(r#","collected_traffic_source":{{{cts}}}"#);
            }
            line += r#","device":{"category":"desktop"},"geo":{"country":"United States"}}"#;
            line.push('\n');
            let file_day = day(at).replace('-', "");
            let w = match files.get_mut(&file_day) {
                Some(w) => w,
                None => {
                    let f = File::create(dir.join("ga4").join(format!("events_{file_day}.json")))?;
                    files
                        .entry(file_day.clone())
                        .or_insert(BufWriter::with_capacity(1 << 20, f))
                }
            };
            w.write_all(line.as_bytes())?;
            summary.ga_events += 1;
            at += 5_000_000 + rng.below(120_000_000) as i64;
        }
    }
    if options.bad_rows {
        if let Some(w) = files.values_mut().next() {
            w.write_all(b"{\"event_timestamp\":\"1704100000000000\",\"event_name\":\"page_view\",\"user_pseudo_id\":\"1.2\"\n")?;
            w.write_all(b"{\"event_timestamp\":\"1704100000000000\",\"event_name\":\"page_view\",\"user_pseudo_id\":\"1.2\",\"event_params\":[]}\n")?;
            summary.bad_rows += 2;
        }
    }
    summary.ga_files = files.len() as u64;
    for (_, mut w) in files {
        w.flush()?;
    }
    Ok(counts)
}

fn write_spend(
    dir: &Path,
    world: &World,
    counts: &SessionCounts,
    options: &DemoOptions,
    summary: &mut DemoSummary,
) -> Result<()> {
    let cost_of = |platform: &str| {
        world
            .profiles
            .iter()
            .find(|p| p.platform == Some(platform))
            .map_or(0.0, |p| p.cost_per_session)
    };
    let range = format!(
        "{} - {}",
        day(world.start_micros),
        day(world.end_micros - DAY)
    );
    let mut google = format!(
        "Campaign performance report\n{range}\nDay,Campaign,Currency code,Cost,Impr.,Clicks\n"
    );
    let mut meta = String::from("Reporting starts,Reporting ends,Campaign name,Amount spent (USD),Impressions,Link clicks\n");
    // LinkedIn bills this account in EUR.
    let mut linkedin = format!("Campaign Performance Report\nReport Start: {range}\nStart Date (in UTC),Campaign Name,Currency,Total Spent,Impressions,Clicks\n");
    let mut generic = String::from("date,platform,campaign,cost,impressions,clicks\n");
    for ((platform, campaign, d), sessions) in counts {
        let cost = (*sessions as f64 * cost_of(platform) * 100.0).round() / 100.0;
        let clicks = sessions + sessions / 10;
        let impressions = clicks * 40;
        summary.spend_rows += 1;
        match *platform {
            "google_ads" => {
                google += &csv_line(&[
                    d.clone(),
                    campaign.to_string(),
                    "USD".into(),
                    fmt_thousands(cost),
                    fmt_thousands(impressions as f64)
                        .trim_end_matches(".00")
                        .into(),
                    clicks.to_string(),
                ])
            }
            "meta_ads" => {
                meta += &csv_line(&[
                    d.clone(),
                    d.clone(),
                    campaign.to_string(),
                    format!("{cost:.2}"),
                    impressions.to_string(),
                    clicks.to_string(),
                ])
            }
            "linkedin_ads" => {
                linkedin += &csv_line(&[
                    us_from_iso(d),
                    campaign.to_string(),
                    "EUR".into(),
                    format!("{:.2}", cost / 1.08),
                    impressions.to_string(),
                    clicks.to_string(),
                ])
            }
            _ => {
                generic += &csv_line(&[
                    d.clone(),
                    platform.to_string(),
                    campaign.to_string(),
                    format!("{cost:.2}"),
                    impressions.to_string(),
                    clicks.to_string(),
                ])
            }
        }
    }
    google += "Total: Account,,,--,,\n";
    if options.bad_rows {
        google += "Day,Campaign,Currency code,Cost,Impr.,Clicks\n";
        meta += &format!(
            "{},{},Ebook Lead Gen,12.00,100\n",
            day(world.start_micros),
            day(world.start_micros)
        );
        linkedin += &format!(
            "{},ABM Enterprise,JPY,5000,100,3\n",
            us_day(world.start_micros)
        );
        summary.bad_rows += 3;
    }
    std::fs::write(dir.join("spend/google_ads_campaigns.csv"), google)?;
    std::fs::write(dir.join("spend/meta_ads_export.csv"), meta)?;
    std::fs::write(dir.join("spend/linkedin_campaign_manager.csv"), linkedin)?;
    std::fs::write(dir.join("spend/other_spend.csv"), generic)?;
    Ok(())
}

fn us_from_iso(d: &str) -> String {
    let parts: Vec<&str> = d.split('-').collect();
    format!(
        "{}/{}/{}",
        parts[1].trim_start_matches('0'),
        parts[2].trim_start_matches('0'),
        parts[0]
    )
}

/// `1234.5` -> `1,234.50`, as Google Ads writes costs.
fn fmt_thousands(v: f64) -> String {
    let s = format!("{v:.2}");
    let (int, frac) = s.split_once('.').unwrap();
    let mut out = String::new();
    for (i, c) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    format!("{out}.{frac}")
}
