//! Salesforce and HubSpot snapshot extracts of the simulated CRM.

use std::path::Path;

use super::simulate::{Identity, Lead, World, DAY};
use super::writers::{csv_line, day, iso, slug};
use super::{DemoOptions, DemoSummary};
use crate::error::Result;

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

pub(super) fn write_crm(
    dir: &Path,
    world: &World,
    options: &DemoOptions,
    summary: &mut DemoSummary,
) -> Result<()> {
    let mid = world.start_micros + (world.end_micros - world.start_micros) / 2;
    let snapshots = [("2024a", mid), ("2024b", world.end_micros + 60 * DAY)];
    for (n, (tag, snap)) in snapshots.iter().enumerate() {
        let last = n == snapshots.len() - 1;
        let write = |name: &str, text: String| {
            std::fs::write(dir.join(format!("crm/{name}_{tag}.csv")), text)
        };
        let (mut sf, hs) = lead_exports(world, *snap);
        let (mut sfo, hsd) = opportunity_exports(world, *snap);
        if last {
            summary.leads += world
                .leads
                .iter()
                .filter(|l| l.created_micros <= *snap)
                .count() as u64;
            summary.opportunities += (world
                .opportunities
                .iter()
                .filter(|o| o.created_micros <= *snap))
            .count() as u64;
        }
        if options.bad_rows && last {
            sf += "00Q999999999991,2024-02-30T10:00:00.000Z,2024-03-01T10:00:00.000Z,bad@date.example,Open - Not Contacted,Web,false,,,,,,,,,\n";
            sf += "00Q999999999992,2024-02-03T10:00:00.000Z,2024-03-01T10:00:00.000Z,bad@bool.example,Open - Not Contacted,Web,yes,,,,,,,,,\n";
            sfo += "006999999999991,2024-03-01T10:00:00.000Z,2024-03-02T10:00:00.000Z,2024-04-01,Closed Won,n/a,true,true,USD\n";
            summary.bad_rows += 3;
        }
        write("salesforce_leads", sf)?;
        write("hubspot_contacts", hs)?;
        write("salesforce_opportunities", sfo)?;
        write("hubspot_deals", hsd)?;
    }
    Ok(())
}

/// The Salesforce Lead and HubSpot contact exports as of `snap`.
fn lead_exports(world: &World, snap: i64) -> (String, String) {
    let mut sf = String::from("Id,CreatedDate,LastModifiedDate,Email,Status,LeadSource,IsConverted,ConvertedDate,ConvertedOpportunityId,GA_Client_ID__c,GCLID__c,UTM_Source__c,UTM_Medium__c,UTM_Campaign__c,MQL_Date__c,SQL_Date__c\n");
    let mut hs = String::from("hs_object_id,createdate,lastmodifieddate,email,hs_lead_status,lead_source,ga_client_id,hs_google_click_id,utm_source,utm_medium,utm_campaign,hs_lifecyclestage_marketingqualifiedlead_date,hs_lifecyclestage_salesqualifiedlead_date,hs_analytics_source,Associated Deal IDs\n");
    for lead in world.leads.iter().filter(|l| l.created_micros <= snap) {
        let (f, modified) = lead_fields(world, lead, snap);
        let opp = lead
            .opportunity
            .map(|o| &world.opportunities[o])
            .filter(|o| o.created_micros <= snap);
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
    }
    (sf, hs)
}

/// The Salesforce Opportunity and HubSpot deal exports as of `snap`.
fn opportunity_exports(world: &World, snap: i64) -> (String, String) {
    let mut sfo = String::from("Id,CreatedDate,LastModifiedDate,CloseDate,StageName,Amount,IsClosed,IsWon,CurrencyIsoCode\n");
    let mut hsd = String::from("hs_object_id,createdate,hs_lastmodifieddate,closedate,dealstage,amount,deal_currency_code,hs_is_closed,hs_is_closed_won\n");
    for o in world
        .opportunities
        .iter()
        .filter(|o| o.created_micros <= snap)
    {
        let closed = o.close_micros <= snap;
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
    }
    (sfo, hsd)
}
