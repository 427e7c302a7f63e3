//! The simulated business behind the demo: visitors, sessions, leads, opportunities, spend.

use super::{DemoOptions, Rng};

/// How one acquisition channel behaves: traffic, lead quality and cost.
#[derive(Debug, Clone)]
pub struct Profile {
    pub source: &'static str,
    pub medium: &'static str,
    pub campaigns: &'static [&'static str],
    /// Google Ads auto-tagging: `gclid` on the landing URL and in collected_traffic_source.
    pub gclid: bool,
    /// UTM parameters on the landing URL.
    pub utm: bool,
    pub referrer: Option<&'static str>,
    pub weight: f64,
    pub lead_rate: f64,
    pub spam_rate: f64,
    pub mql_rate: f64,
    pub sql_rate: f64,
    pub opp_rate: f64,
    pub win_rate: f64,
    pub deal_size: f64,
    /// Spend platform and cost per session, for paid channels.
    pub platform: Option<&'static str>,
    pub cost_per_session: f64,
}

macro_rules! profile {
    ($s:expr, $m:expr, $c:expr, $gclid:expr, $utm:expr, $ref:expr, $w:expr, $lead:expr, $spam:expr,
     $mql:expr, $sql:expr, $opp:expr, $win:expr, $deal:expr, $plat:expr, $cps:expr) => {
        Profile {
            source: $s,
            medium: $m,
            campaigns: $c,
            gclid: $gclid,
            utm: $utm,
            referrer: $ref,
            weight: $w,
            lead_rate: $lead,
            spam_rate: $spam,
            mql_rate: $mql,
            sql_rate: $sql,
            opp_rate: $opp,
            win_rate: $win,
            deal_size: $deal,
            platform: $plat,
            cost_per_session: $cps,
        }
    };
}

/// The demo's channels, one per line. Meta and display: cheapest leads, least revenue.
#[rustfmt::skip]
pub fn profiles() -> Vec<Profile> {
    vec![
        // source, medium, campaigns, gclid, utm, referrer,
        //   weight, lead, spam, mql, sql, opp, win, deal size, platform, cost per session
        profile!("google", "cpc", &["Brand Search", "Generic Search"], true, false, None, 0.18, 0.09, 0.02, 0.6, 0.5, 0.6, 0.35, 18000.0, Some("google_ads"), 24.0),
        profile!("dv360", "display", &["Display Prospecting"], false, true, None, 0.15, 0.10, 0.60, 0.2, 0.2, 0.3, 0.10, 8000.0, Some("dv360"), 3.5),
        profile!("facebook", "paid_social", &["Ebook Lead Gen", "Retargeting Q1"], false, true, None, 0.17, 0.12, 0.25, 0.3, 0.2, 0.3, 0.12, 9000.0, Some("meta_ads"), 7.0),
        profile!("linkedin", "cpc", &["ABM Enterprise"], false, true, None, 0.08, 0.08, 0.03, 0.7, 0.55, 0.6, 0.35, 30000.0, Some("linkedin_ads"), 55.0),
        profile!("", "", &[], false, false, Some("https://www.google.com/"), 0.16, 0.05, 0.05, 0.5, 0.4, 0.5, 0.3, 15000.0, None, 0.0),
        profile!("", "", &[], false, false, None, 0.12, 0.04, 0.05, 0.5, 0.4, 0.5, 0.3, 15000.0, None, 0.0),
        profile!("newsletter", "email", &["Monthly Digest"], false, true, None, 0.07, 0.06, 0.01, 0.6, 0.4, 0.5, 0.3, 14000.0, None, 0.0),
        profile!("", "", &[], false, false, Some("https://www.g2.com/products/acme/reviews"), 0.07, 0.06, 0.02, 0.6, 0.45, 0.5, 0.3, 16000.0, None, 0.0),
    ]
}

pub const DIRECT: usize = 5;
pub const ORGANIC: usize = 4;
pub const EMAIL: usize = 6;

#[derive(Debug, Clone)]
pub struct Session {
    pub user: u32,
    pub profile: usize,
    pub campaign: usize,
    pub id: i64,
    pub start_micros: i64,
    pub events: u8,
    pub gclid: Option<String>,
    /// Events of this session carry the user's hashed email as `user_id`.
    pub logged_in: bool,
}

#[derive(Debug, Clone)]
pub struct User {
    pub pseudo_id: String,
    pub email: String,
}

/// How the CRM can recognise the lead's visitor.
#[derive(Debug, Clone, PartialEq)]
pub enum Identity {
    /// `_ga` cookie (raw when `raw_cookie`).
    ClientId {
        raw_cookie: bool,
    },
    Gclid(String),
    Email,
    /// UTM fields only (no web identity).
    UtmOnly,
    /// Offline: only a LeadSource.
    Offline(&'static str),
}

#[derive(Debug, Clone)]
pub struct Lead {
    pub id: u64,
    pub user: Option<u32>,
    pub profile: usize,
    pub campaign: usize,
    pub identity: Identity,
    pub created_micros: i64,
    pub spam: bool,
    pub mql_micros: Option<i64>,
    pub sql_micros: Option<i64>,
    pub opportunity: Option<usize>,
    pub hubspot: bool,
}

#[derive(Debug, Clone)]
pub struct Opportunity {
    pub id: u64,
    pub created_micros: i64,
    pub close_micros: i64,
    pub amount: Option<f64>,
    pub won: bool,
    pub hubspot: bool,
}

pub struct World {
    pub start_micros: i64,
    pub end_micros: i64,
    pub profiles: Vec<Profile>,
    pub users: Vec<User>,
    pub sessions: Vec<Session>,
    pub leads: Vec<Lead>,
    pub opportunities: Vec<Opportunity>,
    pub events: u64,
}

pub const DAY: i64 = 86_400_000_000;

pub fn month_start_micros(year: i32, month: u32) -> i64 {
    let d = chrono::NaiveDate::from_ymd_opt(year, month, 1).expect("valid month");
    d.and_hms_opt(0, 0, 0).unwrap().and_utc().timestamp_micros()
}

fn add_months(year: i32, month: u32, n: u32) -> (i32, u32) {
    let m = month - 1 + n;
    (year + (m / 12) as i32, m % 12 + 1)
}

/// Runs the simulation.
pub fn simulate(options: &DemoOptions) -> World {
    let mut rng = Rng::new(options.seed);
    let (y, m) = options.start_month;
    let start = month_start_micros(y, m);
    let (ey, em) = add_months(y, m, options.months);
    let end = month_start_micros(ey, em);
    let profiles = profiles();
    let weights: Vec<f64> = profiles.iter().map(|p| p.weight).collect();
    let mut world = World {
        start_micros: start,
        end_micros: end,
        profiles,
        users: Vec::new(),
        sessions: Vec::new(),
        leads: Vec::new(),
        opportunities: Vec::new(),
        events: 0,
    };
    while world.events < options.target_events {
        add_user(&mut world, &mut rng, &weights);
    }
    // A few offline leads (trade shows, partners): no web journey at all.
    let offline = (world.leads.len() / 25).max(2);
    for i in 0..offline {
        let created =
            start + rng.below(((end - start) / DAY) as u64 - 1) as i64 * DAY + 36_000_000_000;
        let source = if i % 2 == 0 {
            "Trade Show"
        } else {
            "Partner Referral"
        };
        add_lead(
            &mut world,
            &mut rng,
            None,
            DIRECT,
            0,
            Identity::Offline(source),
            created,
        );
    }
    world
}

fn add_user(world: &mut World, rng: &mut Rng, weights: &[f64]) {
    let span_days = ((world.end_micros - world.start_micros) / DAY) as u64;
    let first = world.start_micros
        + rng.below(span_days.max(2) - 1) as i64 * DAY
        + rng.below(DAY as u64) as i64;
    let user = world.users.len() as u32;
    world.users.push(User {
        pseudo_id: format!(
            "{}.{}",
            100_000_000 + rng.below(1_900_000_000),
            first / 1_000_000
        ),
        email: format!("user{user}@company{}.example", rng.below(5000)),
    });
    let acquisition = rng.weighted(weights);
    let n_sessions = 1 + rng.weighted(&[0.45, 0.3, 0.15, 0.1]);
    let mut at = first;
    let mut user_sessions = Vec::new();
    for k in 0..n_sessions {
        if at >= world.end_micros {
            break;
        }
        let profile = if k == 0 {
            acquisition
        } else {
            *rng.pick(&[DIRECT, DIRECT, ORGANIC, EMAIL, acquisition])
        };
        let p = &world.profiles[profile];
        let campaign = rng.below(p.campaigns.len().max(1) as u64) as usize;
        let events = 2 + rng.below(5) as u8;
        let gclid = p
            .gclid
            .then(|| format!("Cj0KCQ{:012x}", rng.next_u64() >> 16));
        world.sessions.push(Session {
            user,
            profile,
            campaign,
            id: at / 1_000_000,
            start_micros: at,
            events,
            gclid,
            logged_in: false,
        });
        world.events += events as u64;
        user_sessions.push(world.sessions.len() - 1);
        at += (DAY as f64 * (0.3 + rng.unit() * 12.0)) as i64;
    }
    let p = &world.profiles[acquisition];
    // About one lead per 20 GA events, as in the 10M-event / 500k-lead benchmark.
    if !rng.chance(p.lead_rate * 4.5) {
        return;
    }
    // The lead converts on the user's last session, a minute after it starts.
    let last = *user_sessions.last().expect("a user has a session");
    let created = world.sessions[last].start_micros + 60_000_000;
    let gclid = user_sessions
        .iter()
        .find_map(|&s| world.sessions[s].gclid.clone());
    let identity = match rng.weighted(&[0.65, 0.15, 0.12, 0.08]) {
        0 => Identity::ClientId {
            raw_cookie: rng.chance(0.5),
        },
        1 if gclid.is_some() => Identity::Gclid(gclid.unwrap()),
        2 | 1 => {
            world.sessions[last].logged_in = true;
            Identity::Email
        }
        _ => Identity::UtmOnly,
    };
    let campaign = world.sessions[user_sessions[0]].campaign;
    add_lead(
        world,
        rng,
        Some(user),
        acquisition,
        campaign,
        identity,
        created,
    );
}

fn add_lead(
    world: &mut World,
    rng: &mut Rng,
    user: Option<u32>,
    profile: usize,
    campaign: usize,
    identity: Identity,
    created: i64,
) {
    let p = world.profiles[profile].clone();
    let id = world.leads.len() as u64 + 1;
    let spam = rng.chance(p.spam_rate);
    let mut lead = Lead {
        id,
        user,
        profile,
        campaign,
        identity,
        created_micros: created,
        spam,
        mql_micros: None,
        sql_micros: None,
        opportunity: None,
        hubspot: rng.chance(0.12),
    };
    if !spam && rng.chance(p.mql_rate) {
        let mql = created + (DAY as f64 * (0.5 + rng.unit() * 4.0)) as i64;
        lead.mql_micros = Some(mql);
        if rng.chance(p.sql_rate) {
            let sql = mql + (DAY as f64 * (2.0 + rng.unit() * 8.0)) as i64;
            lead.sql_micros = Some(sql);
            if rng.chance(p.opp_rate) {
                lead.opportunity = Some(opportunity_for(world, rng, &p, sql, lead.hubspot));
            }
        }
    }
    world.leads.push(lead);
}

/// A new opportunity, or (8% of the time) the recent one of a colleague: a shared opportunity.
fn opportunity_for(
    world: &mut World,
    rng: &mut Rng,
    p: &Profile,
    sql: i64,
    hubspot: bool,
) -> usize {
    if rng.chance(0.08) {
        if let Some(i) = world
            .opportunities
            .iter()
            .rposition(|o| o.hubspot == hubspot)
        {
            return i;
        }
    }
    let created = sql + (DAY as f64 * (1.0 + rng.unit() * 10.0)) as i64;
    let amount = (p.deal_size * (0.5 + rng.unit()) / 100.0).round() * 100.0;
    world.opportunities.push(Opportunity {
        id: world.opportunities.len() as u64 + 1,
        created_micros: created,
        close_micros: created + (DAY as f64 * (20.0 + rng.unit() * 50.0)) as i64,
        amount: (!rng.chance(0.03)).then_some(amount),
        won: rng.chance(p.win_rate),
        hubspot,
    });
    world.opportunities.len() - 1
}
