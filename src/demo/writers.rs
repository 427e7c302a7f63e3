//! Writes the simulated world in the formats users download: GA4 BigQuery NDJSON, Salesforce
//! and HubSpot CSV exports, and the ad platforms' spend reports.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

use chrono::{DateTime, Utc};

use super::simulate::{Identity, Lead, World, DAY};
use super::{DemoOptions, DemoSummary, Rng};
use crate::error::Result;
use crate::load::values::email_sha256;

const SITE: &str = "https://www.acme-analytics.example";

fn iso(micros: i64) -> String {
    DateTime::<Utc>::from_timestamp_micros(micros)
        .unwrap()
        .format("%Y-%m-%dT%H:%M:%S.000Z")
        .to_string()
}
fn day(micros: i64) -> String {
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
fn slug(s: &str) -> String {
    s.to_lowercase().replace(' ', "_")
}
fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}
fn csv_line(fields: &[String]) -> String {
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
    write_crm(dir, world, options, &mut summary)?;
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

/// A CRM record as known at `snapshot`: later milestones are not known yet.
fn known(at: Option<i64>, snapshot: i64) -> Option<i64> {
    at.filter(|t| *t <= snapshot)
}

fn lead_fields(world: &World, lead: &Lead, snapshot: i64) -> (Vec<String>, i64) {
    let p = &world.profiles[lead.profile];
    let user = lead.user.map(|u| &world.users[u as usize]);
    let email = user.map_or(format!("offline{}@prospect.example", lead.id), |u| {
        u.email.clone()
    });
    let mut client_id = String::new();
    let mut gclid = String::new();
    let (mut utm_source, mut utm_medium, mut utm_campaign, mut lead_source) = (
        String::new(),
        String::new(),
        String::new(),
        "Web".to_string(),
    );
    match &lead.identity {
        Identity::ClientId { raw_cookie } => {
            let id = &user.unwrap().pseudo_id;
            client_id = if *raw_cookie {
                format!("GA1.1.{id}")
            } else {
                id.clone()
            };
        }
        Identity::Gclid(g) => gclid = g.clone(),
        Identity::Email => {}
        Identity::UtmOnly => {
            if p.utm {
                utm_source = p.source.into();
                utm_medium = p.medium.into();
                utm_campaign = p.campaigns.get(lead.campaign).copied().unwrap_or("").into();
            }
        }
        Identity::Offline(source) => lead_source = source.to_string(),
    }
    let mql = known(lead.mql_micros, snapshot);
    let sql = known(lead.sql_micros, snapshot);
    let opp = lead
        .opportunity
        .map(|o| &world.opportunities[o])
        .filter(|o| o.created_micros <= snapshot);
    let status = if lead.spam {
        "Spam"
    } else if opp.is_some() {
        "Converted"
    } else if sql.is_some() {
        "Sales Qualified"
    } else if mql.is_some() {
        "Marketing Qualified"
    } else {
        "Open - Not Contacted"
    };
    let modified = [
        Some(lead.created_micros),
        mql,
        sql,
        opp.map(|o| o.created_micros),
    ]
    .into_iter()
    .flatten()
    .max()
    .unwrap();
    let fields = vec![
        email,
        status.to_string(),
        lead_source,
        client_id,
        gclid,
        utm_source,
        utm_medium,
        utm_campaign,
        mql.map(iso).unwrap_or_default(),
        sql.map(iso).unwrap_or_default(),
    ];
    (fields, modified + 1_000_000)
}

fn write_crm(
    dir: &Path,
    world: &World,
    options: &DemoOptions,
    summary: &mut DemoSummary,
) -> Result<()> {
    let mid = world.start_micros + (world.end_micros - world.start_micros) / 2;
    let snapshots = [("2024a", mid), ("2024b", world.end_micros + 60 * DAY)];
    for (n, (tag, snap)) in snapshots.iter().enumerate() {
        let last = n == snapshots.len() - 1;
        let mut sf = String::from("Id,CreatedDate,LastModifiedDate,Email,Status,LeadSource,IsConverted,ConvertedDate,ConvertedOpportunityId,GA_Client_ID__c,GCLID__c,UTM_Source__c,UTM_Medium__c,UTM_Campaign__c,MQL_Date__c,SQL_Date__c\n");
        let mut hs = String::from("hs_object_id,createdate,lastmodifieddate,email,hs_lead_status,lead_source,ga_client_id,hs_google_click_id,utm_source,utm_medium,utm_campaign,hs_lifecyclestage_marketingqualifiedlead_date,hs_lifecyclestage_salesqualifiedlead_date,hs_analytics_source,Associated Deal IDs\n");
        for lead in world.leads.iter().filter(|l| l.created_micros <= *snap) {
            let (f, modified) = lead_fields(world, lead, *snap);
            let opp = lead
                .opportunity
                .map(|o| &world.opportunities[o])
                .filter(|o| o.created_micros <= *snap);
            if lead.hubspot {
                let deal = opp
                    .map(|o| (9_000_000 + o.id).to_string())
                    .unwrap_or_default();
                let row = [
                    vec![
                        (5_000_000 + lead.id).to_string(),
                        iso(lead.created_micros),
                        iso(modified),
                        f[0].clone(),
                        f[1].to_uppercase().replace([' ', '-'], "_"),
                    ],
                    f[2..].to_vec(),
                ]
                .concat();
                let mut row: Vec<String> = row.into_iter().take(13).collect();
                row.extend(["ORGANIC_SEARCH".to_string(), deal]);
                hs += &csv_line(&row);
            } else {
                let mut row = vec![
                    format!("00Q{:012}", lead.id),
                    iso(lead.created_micros),
                    iso(modified),
                ];
                row.extend(f[0..3].iter().cloned());
                row.extend([
                    opp.is_some().to_string(),
                    opp.map(|o| iso(o.created_micros)).unwrap_or_default(),
                    opp.map(|o| format!("006{:012}", o.id)).unwrap_or_default(),
                ]);
                row.extend(f[3..].iter().cloned());
                sf += &csv_line(&row);
            }
            summary.leads += last as u64;
        }
        if options.bad_rows && last {
            sf += "00Q999999999991,2024-02-30T10:00:00.000Z,2024-03-01T10:00:00.000Z,bad@date.example,Open - Not Contacted,Web,false,,,,,,,,,\n";
            sf += "00Q999999999992,2024-02-03T10:00:00.000Z,2024-03-01T10:00:00.000Z,bad@bool.example,Open - Not Contacted,Web,1,,,,,,,,,\n";
            summary.bad_rows += 2;
        }
        std::fs::write(dir.join(format!("crm/salesforce_leads_{tag}.csv")), sf)?;
        std::fs::write(dir.join(format!("crm/hubspot_contacts_{tag}.csv")), hs)?;
        let mut sfo = String::from("Id,CreatedDate,LastModifiedDate,CloseDate,StageName,Amount,IsClosed,IsWon,CurrencyIsoCode\n");
        let mut hsd = String::from("hs_object_id,createdate,hs_lastmodifieddate,closedate,dealstage,amount,deal_currency_code,hs_is_closed,hs_is_closed_won\n");
        for o in world
            .opportunities
            .iter()
            .filter(|o| o.created_micros <= *snap)
        {
            let closed = o.close_micros <= *snap;
            let stage = match (closed, o.won) {
                (false, _) => "Proposal/Price Quote",
                (true, true) => "Closed Won",
                (true, false) => "Closed Lost",
            };
            let modified = iso(if closed {
                o.close_micros
            } else {
                o.created_micros
            } + 1_000_000);
            let amount = o.amount.map(|a| format!("{a:.2}")).unwrap_or_default();
            let (is_closed, is_won) = (closed.to_string(), (closed && o.won).to_string());
            if o.hubspot {
                hsd += &csv_line(&[
                    (9_000_000 + o.id).to_string(),
                    iso(o.created_micros),
                    modified,
                    day(o.close_micros),
                    slug(stage),
                    amount,
                    "USD".into(),
                    is_closed,
                    is_won,
                ]);
            } else {
                sfo += &csv_line(&[
                    format!("006{:012}", o.id),
                    iso(o.created_micros),
                    modified,
                    day(o.close_micros),
                    stage.into(),
                    amount,
                    is_closed,
                    is_won,
                    "USD".into(),
                ]);
            }
            summary.opportunities += last as u64;
        }
        if options.bad_rows && last {
            sfo += "006999999999991,2024-03-01T10:00:00.000Z,2024-03-02T10:00:00.000Z,2024-04-01,Closed Won,n/a,true,true,USD\n";
            summary.bad_rows += 1;
        }
        std::fs::write(
            dir.join(format!("crm/salesforce_opportunities_{tag}.csv")),
            sfo,
        )?;
        std::fs::write(dir.join(format!("crm/hubspot_deals_{tag}.csv")), hsd)?;
    }
    Ok(())
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
