//! A hand-made world for the attribution tests: GA4 sessions, leads, opportunities and spend
//! whose numbers are worked out by hand in `attribution.rs`.

use crate::support::TestProject;

pub const DAY: i64 = 86_400_000_000;
/// Every lead is created at 2024-03-10T12:00:00Z.
pub const T: i64 = 1_710_072_000_000_000;

fn iso(micros: i64) -> String {
    chrono::DateTime::from_timestamp_micros(micros)
        .unwrap()
        .format("%Y-%m-%dT%H:%M:%S%.3fZ")
        .to_string()
}

/// One GA session of one event.
fn session(
    user: &str,
    at: i64,
    url_query: &str,
    referrer: Option<&str>,
    user_id: Option<&str>,
) -> String {
    event(user, at / 1_000_000, at, url_query, referrer, user_id)
}

/// One GA event of session `session_id`.
pub fn event(
    user: &str,
    session_id: i64,
    at: i64,
    url_query: &str,
    referrer: Option<&str>,
    user_id: Option<&str>,
) -> String {
    let mut params = vec![
        format!(r#"{{"key":"ga_session_id","value":{{"int_value":"{session_id}"}}}}"#),
        format!(
            r#"{{"key":"page_location","value":{{"string_value":"https://www.acme-analytics.example/{url_query}"}}}}"#
        ),
    ];
    if let Some(r) = referrer {
        params.push(format!(
            r#"{{"key":"page_referrer","value":{{"string_value":"{r}"}}}}"#
        ));
    }
    let uid = user_id
        .map(|u| format!(r#","user_id":"{u}""#))
        .unwrap_or_default();
    format!(
        r#"{{"event_timestamp":"{at}","event_name":"session_start","event_params":[{}],"user_pseudo_id":"{user}"{uid}}}"#,
        params.join(",")
    ) + "\n"
}

const LINKEDIN: &str = "?utm_source=linkedin&utm_medium=cpc&utm_campaign=ABM+Q1";
const FACEBOOK: &str = "?utm_source=facebook&utm_medium=paid_social&utm_campaign=Ebook";
const EMAIL: &str = "?utm_source=newsletter&utm_medium=email&utm_campaign=Digest";
const DISPLAY: &str = "?utm_source=dv360&utm_medium=display&utm_campaign=Prospecting";
const GOOGLE: Option<&str> = Some("https://www.google.com/");

pub fn world() -> TestProject {
    let project = TestProject::new(
        "warehouse: warehouse\nsources:\n  - {kind: ga4_json, path: data/events_*.json}\n  - kind: salesforce_leads\n    path: data/leads.csv\n    fields: {ga_client_id: GA__c, gclid: GCLID__c, utm_source: UTM_Source__c, utm_medium: UTM_Medium__c, utm_campaign: UTM_Campaign__c}\n  - {kind: salesforce_opportunities, path: data/opportunities.csv}\n  - {kind: generic_spend, path: data/spend.csv}\n",
    );
    let sha = clearsight::load::values::email_sha256("eve@example.com").unwrap();
    let mut ga = String::new();
    // L5: touches on days 0, 5, 12, 30 and 38 of a timeline where the lead is created on day 38
    // (38, 33, 26, 8 and 0 days before creation): Paid Social, direct, Organic Search, Email, direct.
    ga += &session("5.5", T - 38 * DAY, LINKEDIN, None, None);
    ga += &session("5.5", T - 33 * DAY, "", None, None);
    ga += &session("5.5", T - 26 * DAY, "", GOOGLE, None);
    ga += &session("5.5", T - 8 * DAY, EMAIL, None, None);
    ga += &session("5.5", T, "", None, None);
    ga += &session("5.5", T - 91 * DAY, FACEBOOK, None, None); // outside the 90-day lookback
                                                               // L1: one touch.
    ga += &session("1.1", T - 2 * DAY, "", GOOGLE, None);
    // L2: Paid Social 10 days before, direct 1 day before; a session 3 days after (before its opportunity).
    ga += &session("2.2", T - 10 * DAY, FACEBOOK, None, None);
    ga += &session("2.2", T - DAY, "", None, None);
    ga += &session("2.2", T + 3 * DAY, EMAIL, None, None);
    // L3 (shares O3 with L4): Paid Social, Email, Organic Search.
    ga += &session("3.3", T - 20 * DAY, LINKEDIN, None, None);
    ga += &session("3.3", T - 10 * DAY, EMAIL, None, None);
    ga += &session("3.3", T - DAY / 2, "", GOOGLE, None);
    ga += &session("4.4", T - DAY, "", None, None);
    // L6 spam from display; L10 matched by gclid; L11 by hashed email.
    ga += &session("6.6", T - DAY, DISPLAY, None, None);
    ga += &session(
        "10.10",
        T - 2 * DAY,
        "?gclid=GCLID-10&utm_campaign=Brand",
        None,
        None,
    );
    ga += &session("11.11", T - 3 * DAY, "", GOOGLE, Some(&sha));
    // Session rules on visitors who are not leads (session id 77):
    // the site's own referrer is not a source; the first external referrer is (yahoo: organic).
    ga += &event(
        "s1",
        77,
        T - 50 * DAY,
        "",
        Some("https://www.acme-analytics.example/pricing"),
        None,
    );
    ga += &event(
        "s1",
        77,
        T - 50 * DAY + 1,
        "",
        Some("https://search.yahoo.com/search?p=kpi"),
        None,
    );
    // the earliest tagged event decides; an empty utm_medium is (none).
    ga += &event("s2", 77, T - 50 * DAY, "", None, None);
    ga += &event(
        "s2",
        77,
        T - 50 * DAY + 1,
        "?utm_source=Partner&utm_medium=&utm_campaign=Spring",
        None,
        None,
    );
    // a gclid on any event makes the session google / cpc, campaign from the first event carrying one.
    ga += &event(
        "s3",
        77,
        T - 50 * DAY,
        "?utm_source=newsletter&utm_medium=email",
        None,
        None,
    );
    ga += &event(
        "s3",
        77,
        T - 50 * DAY + 1,
        "?utm_campaign=Retarget",
        None,
        None,
    );
    ga += &event("s3", 77, T - 50 * DAY + 2, "?gclid=XYZ", None, None);
    // A visitor who never became a lead, in February.
    ga += &session("99.99", T - 20 * DAY - 5 * DAY, FACEBOOK, None, None);
    project.write("data/events_20240310.json", &ga);

    let t = iso(T);
    let lead = |id: &str,
                status: &str,
                opp: &str,
                ga_id: &str,
                gclid: &str,
                utm: [&str; 3],
                source: &str,
                email: &str| {
        format!(
            "{id},{t},{t},{email},{status},{source},{},,{opp},{ga_id},{gclid},{},{},{}\n",
            !opp.is_empty(),
            utm[0],
            utm[1],
            utm[2]
        )
    };
    let none = ["", "", ""];
    let mut leads = String::from("Id,CreatedDate,LastModifiedDate,Email,Status,LeadSource,IsConverted,ConvertedDate,ConvertedOpportunityId,GA__c,GCLID__c,UTM_Source__c,UTM_Medium__c,UTM_Campaign__c\n");
    leads += &lead("L1", "Open", "", "GA1.1.1.1", "", none, "Web", "a@x.com");
    leads += &lead("L2", "Converted", "O2", "2.2", "", none, "Web", "b@x.com");
    leads += &lead(
        "L3",
        "Converted",
        "O3",
        "GA1.2.3.3",
        "",
        none,
        "Web",
        "c@x.com",
    );
    leads += &lead("L4", "Converted", "O3", "4.4", "", none, "Web", "d@x.com");
    leads += &lead("L5", "Converted", "O5", "5.5", "", none, "Web", "e@x.com");
    leads += &lead("L6", "Spam", "", "6.6", "", none, "Web", "f@x.com");
    leads += &lead(
        "L7",
        "Open",
        "",
        "",
        "",
        ["LinkedIn", "CPC", "ABM Q1"],
        "Web",
        "g@x.com",
    );
    leads += &lead("L8", "Open", "", "", "", none, "Trade Show", "h@x.com");
    leads += &lead("L9", "Open", "", "", "", none, "Web", "i@x.com");
    leads += &lead("L10", "Open", "", "", "GCLID-10", none, "Web", "j@x.com");
    leads += &lead("L11", "Open", "", "", "", none, "Web", "Eve@Example.com");
    project.write("data/leads.csv", &leads);

    let opp = |id: &str, created: i64, amount: &str, won: bool| {
        format!(
            "{id},{},{},2024-06-01,{},{amount},{won},{won},USD\n",
            iso(created),
            iso(created),
            if won { "Closed Won" } else { "Proposal" }
        )
    };
    let mut opps = String::from("Id,CreatedDate,LastModifiedDate,CloseDate,StageName,Amount,IsClosed,IsWon,CurrencyIsoCode\n");
    opps += &opp("O2", T + 5 * DAY, "5000", false);
    opps += &opp("O3", T + 2 * DAY, "9000", true);
    opps += &opp("O5", T + 10 * DAY, "12000", true);
    opps += &opp("O9", T + 3 * DAY, "3000", true); // no lead converted to it
    project.write("data/opportunities.csv", &opps);
    project.write("data/spend.csv", "date,platform,campaign,cost,impressions,clicks\n2024-03-01,linkedin_ads,ABM Q1 ,1000,1,1\n2024-03-02,meta_ads,Unknown Campaign,500,1,1\n2024-02-15,meta_ads,Ebook,250,1,1\n");
    project
}
