//! Salesforce (Lead, Opportunity) and HubSpot (contacts, deals) CSV exports, read with their
//! API field names, into `crm_leads` and `crm_opportunities`.

use crate::config::{DecimalSeparator, FieldMap, Source, SourceKind, SourcesConfig};

use super::csv_reader::{read_csv, CsvRow};
use super::rows::{Rejection, RowCollector, Value};
use super::{values, Parsed};
use crate::warehouse::schema;

/// Salesforce's empty id (15- and 18-character forms), as its Data Export writes it.
fn is_null_id(s: &str) -> bool {
    s == "000000000000000" || s == "000000000000000AAA"
}

/// Typed access to one CSV row, each accessor rejecting the row on a bad value.
struct Cells<'a, 'r>(&'a CsvRow<'r>, DecimalSeparator);

impl Cells<'_, '_> {
    fn text(&self, col: &str) -> Value {
        values::text(self.0.get(col))
            .filter(|s| !is_null_id(s))
            .into()
    }
    /// The text of an optional field's column; NULL when the field has no column.
    fn optional(&self, col: Option<&str>) -> Value {
        col.map_or(Value::Null, |c| self.text(c))
    }
    /// The timestamp of an optional field's column; NULL when the field has no column.
    fn optional_timestamp(&self, col: Option<&str>) -> Result<Value, Rejection> {
        col.map_or(Ok(Value::Null), |c| self.timestamp(c, false))
    }
    fn required(&self, col: &str) -> Result<Value, Rejection> {
        match self.text(col) {
            Value::Null => Err(self.0.reject(col, "required value is empty")),
            v => Ok(v),
        }
    }
    fn timestamp(&self, col: &str, required: bool) -> Result<Value, Rejection> {
        let raw = self.0.get(col);
        if raw.is_empty() && !required {
            return Ok(Value::Null);
        }
        values::timestamp_micros(raw)
            .map(Value::Micros)
            .map_err(|reason| self.0.reject(col, reason))
    }
    fn boolean(&self, col: &str) -> Result<Value, Rejection> {
        values::boolean(self.0.get(col))
            .map(Value::Bool)
            .map_err(|reason| self.0.reject(col, reason))
    }
    fn date(&self, col: &str) -> Result<Value, Rejection> {
        let raw = self.0.get(col);
        if raw.is_empty() {
            return Ok(Value::Null);
        }
        values::date(raw)
            .map(|d| Value::Date(values::date32(d)))
            .or_else(|_| {
                values::timestamp_micros(raw).map(|t| Value::Date((t / 86_400_000_000) as i32))
            })
            .map_err(|reason| self.0.reject(col, reason))
    }
    /// Amount converted to the reporting currency: (converted, original, currency).
    fn money(
        &self,
        col: &str,
        currency_col: &str,
        cfg: &SourcesConfig,
    ) -> Result<[Value; 3], Rejection> {
        let original =
            values::amount(self.0.get(col), self.1).map_err(|r| self.0.reject(col, r))?;
        let currency = self.0.get(currency_col);
        let currency_value =
            values::text(currency).map_or(Value::Null, |c| Value::Text(c.to_ascii_uppercase()));
        let Some(original) = original else {
            return Ok([Value::Null, Value::Null, currency_value]);
        };
        let rate = cfg.rate(currency).ok_or_else(|| {
            self.0.reject(
                currency_col,
                format!(
                    "currency {currency:?} has no configured rate to {}",
                    cfg.reporting_currency
                ),
            )
        })?;
        Ok([
            Value::Float(original * rate),
            Value::Float(original),
            currency_value,
        ])
    }
    fn origin(&self, file: &str) -> [Cell; 2] {
        [
            ("source_file", Value::Text(file.to_string())),
            ("source_line", Value::Int(self.0.line as i64)),
        ]
    }
}

/// Where a CRM's lead export keeps each canonical field: the API field names of its export.
/// An optional field the source's `fields:` mapping names is read from that column instead.
struct LeadColumns {
    crm: &'static str,
    id: &'static str,
    created: &'static str,
    modified: &'static str,
    email: &'static str,
    status: &'static str,
    lead_source: Option<&'static str>,
    /// A converted flag; without one (HubSpot) a lead is converted when it has deals.
    is_converted: Option<&'static str>,
    converted_at: Option<&'static str>,
    opportunity_id: Option<&'static str>,
    deal_ids: Option<&'static str>,
    gclid: Option<&'static str>,
    mql: Option<&'static str>,
    sql: Option<&'static str>,
}

const SALESFORCE_LEADS: LeadColumns = LeadColumns {
    crm: "salesforce",
    id: "Id",
    created: "CreatedDate",
    modified: "LastModifiedDate",
    email: "Email",
    status: "Status",
    lead_source: Some("LeadSource"),
    is_converted: Some("IsConverted"),
    converted_at: Some("ConvertedDate"),
    opportunity_id: Some("ConvertedOpportunityId"),
    deal_ids: None,
    gclid: None,
    mql: None,
    sql: None,
};

const HUBSPOT_CONTACTS: LeadColumns = LeadColumns {
    crm: "hubspot",
    id: "hs_object_id",
    created: "createdate",
    modified: "lastmodifieddate",
    email: "email",
    status: "hs_lead_status",
    lead_source: None,
    is_converted: None,
    converted_at: None,
    opportunity_id: None,
    deal_ids: Some("Associated Deal IDs"),
    gclid: Some("hs_google_click_id"),
    mql: Some("hs_lifecyclestage_marketingqualifiedlead_date"),
    sql: Some("hs_lifecyclestage_salesqualifiedlead_date"),
};

/// Where a CRM's opportunity (deal) export keeps each canonical field.
struct OpportunityColumns {
    crm: &'static str,
    id: &'static str,
    created: &'static str,
    modified: &'static str,
    close_date: &'static str,
    stage: &'static str,
    amount: &'static str,
    currency: &'static str,
    is_closed: &'static str,
    is_won: &'static str,
}

const SALESFORCE_OPPORTUNITIES: OpportunityColumns = OpportunityColumns {
    crm: "salesforce",
    id: "Id",
    created: "CreatedDate",
    modified: "LastModifiedDate",
    close_date: "CloseDate",
    stage: "StageName",
    amount: "Amount",
    currency: "CurrencyIsoCode",
    is_closed: "IsClosed",
    is_won: "IsWon",
};

const HUBSPOT_DEALS: OpportunityColumns = OpportunityColumns {
    crm: "hubspot",
    id: "hs_object_id",
    created: "createdate",
    modified: "hs_lastmodifieddate",
    close_date: "closedate",
    stage: "dealstage",
    amount: "amount",
    currency: "deal_currency_code",
    is_closed: "hs_is_closed",
    is_won: "hs_is_closed_won",
};

type Cell = (&'static str, Value);

/// The column of an optional field: the source's mapping, else the CRM's own column.
fn column<'a>(mapped: &'a Option<String>, own: Option<&'a str>) -> Option<&'a str> {
    mapped.as_deref().or(own)
}

fn lead_row(cols: &LeadColumns, f: &FieldMap, c: &Cells) -> Result<Vec<Cell>, Rejection> {
    let raw_email = c.0.get(cols.email);
    let client_id = (f.ga_client_id.as_deref()).and_then(|col| values::ga_client_id(c.0.get(col)));
    let deals = c.optional(cols.deal_ids);
    let is_converted = match cols.is_converted {
        Some(col) => c.boolean(col)?,
        None => Value::Bool(deals != Value::Null),
    };
    Ok(vec![
        ("lead_id", c.required(cols.id)?),
        ("crm", Value::Text(cols.crm.into())),
        ("created_at", c.timestamp(cols.created, true)?),
        ("last_modified_at", c.timestamp(cols.modified, true)?),
        ("email", values::text(raw_email).into()),
        ("email_sha256", values::email_sha256(raw_email).into()),
        ("status", c.text(cols.status)),
        (
            "lead_source",
            c.optional(column(&f.lead_source, cols.lead_source)),
        ),
        ("is_converted", is_converted),
        ("converted_at", c.optional_timestamp(cols.converted_at)?),
        ("opportunity_id", c.optional(cols.opportunity_id)),
        ("associated_deal_ids", deals),
        ("ga_client_id", client_id.into()),
        ("gclid", c.optional(column(&f.gclid, cols.gclid))),
        ("utm_source", c.optional(f.utm_source.as_deref())),
        ("utm_medium", c.optional(f.utm_medium.as_deref())),
        ("utm_campaign", c.optional(f.utm_campaign.as_deref())),
        (
            "mql_at",
            c.optional_timestamp(column(&f.mql_date, cols.mql))?,
        ),
        (
            "sql_at",
            c.optional_timestamp(column(&f.sql_date, cols.sql))?,
        ),
    ])
}

fn opportunity_row(
    cols: &OpportunityColumns,
    cfg: &SourcesConfig,
    c: &Cells,
) -> Result<Vec<Cell>, Rejection> {
    let [amount, amount_original, currency] = c.money(cols.amount, cols.currency, cfg)?;
    Ok(vec![
        ("opportunity_id", c.required(cols.id)?),
        ("crm", Value::Text(cols.crm.into())),
        ("created_at", c.timestamp(cols.created, true)?),
        ("last_modified_at", c.timestamp(cols.modified, true)?),
        ("close_date", c.date(cols.close_date)?),
        ("stage", c.text(cols.stage)),
        ("amount", amount),
        ("amount_original", amount_original),
        ("currency", currency),
        ("is_closed", c.boolean(cols.is_closed)?),
        ("is_won", c.boolean(cols.is_won)?),
    ])
}

/// Parses one CRM extract of `kind`.
pub fn parse(
    source: &Source,
    cfg: &SourcesConfig,
    file: &str,
    text: &str,
) -> Result<Parsed, String> {
    #[derive(Clone, Copy)]
    enum Columns {
        Leads(&'static LeadColumns),
        Opportunities(&'static OpportunityColumns),
    }
    let columns = match source.kind {
        SourceKind::SalesforceLeads => Columns::Leads(&SALESFORCE_LEADS),
        SourceKind::HubspotContacts => Columns::Leads(&HUBSPOT_CONTACTS),
        SourceKind::SalesforceOpportunities => Columns::Opportunities(&SALESFORCE_OPPORTUNITIES),
        SourceKind::HubspotDeals => Columns::Opportunities(&HUBSPOT_DEALS),
        other => return Err(format!("{other:?} is not a CRM export")),
    };
    let (table, id_col) = match columns {
        Columns::Leads(c) => (schema::CRM_LEADS.clone(), c.id),
        Columns::Opportunities(c) => (schema::CRM_OPPORTUNITIES.clone(), c.id),
    };
    let mut rows = RowCollector::new(table);
    let outcome = read_csv(
        text,
        |header| header.iter().any(|h| h.eq_ignore_ascii_case(id_col)),
        |row| {
            let cells = Cells(row, source.decimal_separator);
            let values = match columns {
                Columns::Leads(cols) => lead_row(cols, &source.fields, &cells)?,
                Columns::Opportunities(cols) => opportunity_row(cols, cfg, &cells)?,
            };
            rows.push(values.into_iter().chain(cells.origin(file)));
            Ok(())
        },
    )?;
    Parsed::new(rows, outcome)
}
