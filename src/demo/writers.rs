//! Writes the simulated world in the formats users download: GA4 BigQuery NDJSON, Salesforce
//! and HubSpot CSV exports, and the ad platforms' spend reports.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

use chrono::{DateTime, Utc};

use super::simulate::{Profile, Session, User, World, DAY};
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

/// The GA4 export's daily files, opened as events of each day arrive.
struct DayFiles<'a> {
    dir: &'a Path,
    files: BTreeMap<String, BufWriter<File>>,
}

impl DayFiles<'_> {
    fn of_day(&mut self, file_day: &str) -> Result<&mut BufWriter<File>> {
        if !self.files.contains_key(file_day) {
            let path = self.dir.join("ga4").join(format!("events_{file_day}.json"));
            let w = BufWriter::with_capacity(1 << 20, File::create(path)?);
            self.files.insert(file_day.to_string(), w);
        }
        Ok(self.files.get_mut(file_day).expect("just inserted"))
    }
}

/// The landing page of a session: UTM parameters for tagged channels, a gclid for Google Ads.
fn landing_url(p: &Profile, campaign: &str, gclid: Option<&str>, rng: &mut Rng) -> String {
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
    if let Some(g) = gclid {
        landing += &format!("?gclid={g}");
    }
    landing
}

/// One event of a session as a line of the BigQuery export (JSON, INT64 as strings).
struct Event<'a> {
    at: i64,
    name: &'a str,
    page: &'a str,
    referrer: Option<&'a str>,
    /// The session's `collected_traffic_source`, on its first event.
    traffic: Option<(&'a Profile, &'a str, Option<&'a str>)>,
}

fn event_line(
    e: &Event,
    session: &Session,
    user: &User,
    user_id: Option<&str>,
    rng: &mut Rng,
) -> String {
    let mut params = vec![
        format!(
            r#"{{"key":"ga_session_id","value":{{"int_value":"{}"}}}}"#,
            session.id
        ),
        format!(
            r#"{{"key":"page_location","value":{{"string_value":"{}"}}}}"#,
            e.page
        ),
        format!(
            r#"{{"key":"engagement_time_msec","value":{{"int_value":{}}}}}"#,
            rng.below(60_000)
        ),
    ];
    if let Some(r) = e.referrer {
        params.push(format!(
            r#"{{"key":"page_referrer","value":{{"string_value":"{r}"}}}}"#
        ));
    }
    let mut line = format!(
        r#"{{"event_date":"{}","event_timestamp":"{}","event_name":"{}","event_params":[{}],"user_pseudo_id":"{}""#,
        day(e.at).replace('-', ""),
        e.at,
        e.name,
        params.join(","),
        user.pseudo_id
    );
    if let Some(uid) = user_id {
        line += &format!(r#","user_id":"{uid}""#);
    }
    if let Some((p, campaign, gclid)) = e.traffic {
        let mut cts = format!(
            r#""manual_source":"{}","manual_medium":"{}","manual_campaign_name":"{campaign}""#,
            p.source, p.medium
        );
        if let Some(g) = gclid {
            cts += &format!(r#","gclid":"{g}""#);
        }
        line += &format!(r#","collected_traffic_source":{{{cts}}}"#);
    }
    line += r#","device":{"category":"desktop"},"geo":{"country":"United States"}}"#;
    line.push('\n');
    line
}

fn write_ga4(
    dir: &Path,
    world: &World,
    options: &DemoOptions,
    summary: &mut DemoSummary,
) -> Result<SessionCounts> {
    let mut files = DayFiles {
        dir,
        files: BTreeMap::new(),
    };
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
        let landing = landing_url(p, campaign, s.gclid.as_deref(), &mut rng);
        let user_id = s.logged_in.then(|| email_sha256(&user.email).unwrap());
        let mut at = s.start_micros;
        for e in 0..s.events {
            let (name, page, referrer) = if e == 0 {
                (
                    "session_start",
                    landing.clone(),
                    p.referrer.map(str::to_string),
                )
            } else {
                let last = e + 1 == s.events && s.logged_in;
                let pages = ["features", "pricing", "customers", "contact"];
                let page = format!("{SITE}/{}", pages[rng.below(4) as usize]);
                let name = if last { "form_submit" } else { "page_view" };
                (name, page, Some(format!("{SITE}/")))
            };
            let tagged = e == 0 && (p.utm || s.gclid.is_some());
            let event = Event {
                at,
                name,
                page: &page,
                referrer: referrer.as_deref(),
                traffic: tagged.then_some((p, campaign, s.gclid.as_deref())),
            };
            let line = event_line(&event, s, user, user_id.as_deref(), &mut rng);
            files
                .of_day(&day(at).replace('-', ""))?
                .write_all(line.as_bytes())?;
            summary.ga_events += 1;
            at += 5_000_000 + rng.below(120_000_000) as i64;
        }
    }
    let mut files = files.files;
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

/// The four spend reports being written, each in its platform's own layout.
struct SpendReports {
    google: String,
    meta: String,
    linkedin: String,
    generic: String,
}

impl SpendReports {
    fn new(range: &str) -> Self {
        SpendReports {
            google: format!(
                "Campaign performance report\n{range}\nDay,Campaign,Currency code,Cost,Impr.,Clicks\n"
            ),
            meta: String::from("Reporting starts,Reporting ends,Campaign name,Amount spent (USD),Impressions,Link clicks\n"),
            // LinkedIn bills this account in EUR.
            linkedin: format!("Campaign Performance Report\nReport Start: {range}\nStart Date (in UTC),Campaign Name,Currency,Total Spent,Impressions,Clicks\n"),
            generic: String::from("date,platform,campaign,cost,impressions,clicks\n"),
        }
    }

    /// One day of one campaign, in USD, as its platform reports it.
    fn add(&mut self, platform: &str, campaign: &str, d: &str, cost: f64, sessions: u64) {
        let clicks = sessions + sessions / 10;
        let impressions = clicks * 40;
        let (report, cells) = match platform {
            "google_ads" => (
                &mut self.google,
                vec![
                    d.to_string(),
                    campaign.to_string(),
                    "USD".into(),
                    fmt_thousands(cost),
                    fmt_thousands(impressions as f64)
                        .trim_end_matches(".00")
                        .into(),
                    clicks.to_string(),
                ],
            ),
            "meta_ads" => (
                &mut self.meta,
                vec![
                    d.into(),
                    d.into(),
                    campaign.into(),
                    format!("{cost:.2}"),
                    impressions.to_string(),
                    clicks.to_string(),
                ],
            ),
            "linkedin_ads" => (
                &mut self.linkedin,
                vec![
                    us_from_iso(d),
                    campaign.into(),
                    "EUR".into(),
                    format!("{:.2}", cost / 1.08),
                    impressions.to_string(),
                    clicks.to_string(),
                ],
            ),
            _ => (
                &mut self.generic,
                vec![
                    d.into(),
                    platform.into(),
                    campaign.into(),
                    format!("{cost:.2}"),
                    impressions.to_string(),
                    clicks.to_string(),
                ],
            ),
        };
        *report += &csv_line(&cells);
    }
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
    let mut r = SpendReports::new(&range);
    for ((platform, campaign, d), sessions) in counts {
        let cost = (*sessions as f64 * cost_of(platform) * 100.0).round() / 100.0;
        r.add(platform, campaign, d, cost, *sessions);
        summary.spend_rows += 1;
    }
    r.google += "Total: Account,,,--,,\n";
    if options.bad_rows {
        r.google += "Day,Campaign,Currency code,Cost,Impr.,Clicks\n";
        let first = day(world.start_micros);
        r.meta += &format!("{first},{first},Ebook Lead Gen,12.00,100\n");
        r.linkedin += &format!(
            "{},ABM Enterprise,JPY,5000,100,3\n",
            us_day(world.start_micros)
        );
        summary.bad_rows += 3;
    }
    std::fs::write(dir.join("spend/google_ads_campaigns.csv"), r.google)?;
    std::fs::write(dir.join("spend/meta_ads_export.csv"), r.meta)?;
    std::fs::write(dir.join("spend/linkedin_campaign_manager.csv"), r.linkedin)?;
    std::fs::write(dir.join("spend/other_spend.csv"), r.generic)?;
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
