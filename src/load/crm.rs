//! Salesforce (Lead, Opportunity) and HubSpot (contacts, deals) CSV exports, read with their
//! API field names, into `crm_leads` and `crm_opportunities`.

use crate::config::{DecimalSeparator, FieldMap, Source, SourceKind, SourcesConfig};

use super::rows::{read_csv, CsvRow, Rejection, RowCollector, Value};
use super::{schema, values, Parsed};

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
    fn mapped(&self, col: &Option<String>) -> Value {
        col.as_deref().map_or(Value::Null, |c| self.text(c))
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
    fn mapped_timestamp(&self, col: &Option<String>) -> Result<Value, Rejection> {
        col.as_deref()
            .map_or(Ok(Value::Null), |c| self.timestamp(c, false))
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
    fn origin(&self, file: &str) -> [Value; 2] {
        [
            Value::Text(file.to_string()),
            Value::Int(self.0.line as i64),
        ]
    }
}

fn lead_row(
    kind: SourceKind,
    f: &FieldMap,
    c: &Cells,
    file: &str,
) -> Result<Vec<Value>, Rejection> {
    let salesforce = kind == SourceKind::SalesforceLeads;
    let (id, created, modified, email, status) = if salesforce {
        ("Id", "CreatedDate", "LastModifiedDate", "Email", "Status")
    } else {
        (
            "hs_object_id",
            "createdate",
            "lastmodifieddate",
            "email",
            "hs_lead_status",
        )
    };
    let raw_email = c.0.get(email);
    let client_id = f
        .ga_client_id
        .as_deref()
        .and_then(|col| values::ga_client_id(c.0.get(col)));
    let mut row = vec![
        c.required(id)?,
        Value::Text(if salesforce { "salesforce" } else { "hubspot" }.into()),
        c.timestamp(created, true)?,
        c.timestamp(modified, true)?,
        values::text(raw_email).into(),
        values::email_sha256(raw_email).into(),
        c.text(status),
    ];
    if salesforce {
        row.extend([
            match &f.lead_source {
                Some(col) => c.text(col),
                None => c.text("LeadSource"),
            },
            c.boolean("IsConverted")?,
            c.timestamp("ConvertedDate", false)?,
            c.text("ConvertedOpportunityId"),
            Value::Null,
            client_id.into(),
            match &f.gclid {
                Some(col) => c.text(col),
                None => Value::Null,
            },
        ]);
    } else {
        let deals = c.text("Associated Deal IDs");
        row.extend([
            c.mapped(&f.lead_source),
            Value::Bool(deals != Value::Null),
            Value::Null,
            Value::Null,
            deals,
            client_id.into(),
            match &f.gclid {
                Some(col) => c.text(col),
                None => c.text("hs_google_click_id"),
            },
        ]);
    }
    let (mql, sql) = if salesforce {
        (
            c.mapped_timestamp(&f.mql_date)?,
            c.mapped_timestamp(&f.sql_date)?,
        )
    } else {
        let mql_col = f
            .mql_date
            .as_deref()
            .unwrap_or("hs_lifecyclestage_marketingqualifiedlead_date");
        let sql_col = f
            .sql_date
            .as_deref()
            .unwrap_or("hs_lifecyclestage_salesqualifiedlead_date");
        (c.timestamp(mql_col, false)?, c.timestamp(sql_col, false)?)
    };
    row.extend([
        c.mapped(&f.utm_source),
        c.mapped(&f.utm_medium),
        c.mapped(&f.utm_campaign),
        mql,
        sql,
    ]);
    row.extend(c.origin(file));
    Ok(row)
}

fn opportunity_row(
    kind: SourceKind,
    cfg: &SourcesConfig,
    c: &Cells,
    file: &str,
) -> Result<Vec<Value>, Rejection> {
    let salesforce = kind == SourceKind::SalesforceOpportunities;
    let cols = if salesforce {
        [
            "Id",
            "CreatedDate",
            "LastModifiedDate",
            "CloseDate",
            "StageName",
            "Amount",
            "CurrencyIsoCode",
            "IsClosed",
            "IsWon",
        ]
    } else {
        [
            "hs_object_id",
            "createdate",
            "hs_lastmodifieddate",
            "closedate",
            "dealstage",
            "amount",
            "deal_currency_code",
            "hs_is_closed",
            "hs_is_closed_won",
        ]
    };
    let mut row = vec![
        c.required(cols[0])?,
        Value::Text(if salesforce { "salesforce" } else { "hubspot" }.into()),
        c.timestamp(cols[1], true)?,
        c.timestamp(cols[2], true)?,
        c.date(cols[3])?,
        c.text(cols[4]),
    ];
    row.extend(c.money(cols[5], cols[6], cfg)?);
    row.extend([c.boolean(cols[7])?, c.boolean(cols[8])?]);
    row.extend(c.origin(file));
    Ok(row)
}

/// Parses one CRM extract of `kind`.
pub fn parse(
    source: &Source,
    cfg: &SourcesConfig,
    file: &str,
    text: &str,
) -> Result<Parsed, String> {
    let (kind, fields) = (source.kind, &source.fields);
    let is_lead = matches!(
        kind,
        SourceKind::SalesforceLeads | SourceKind::HubspotContacts
    );
    let id_col = if matches!(
        kind,
        SourceKind::SalesforceLeads | SourceKind::SalesforceOpportunities
    ) {
        "id"
    } else {
        "hs_object_id"
    };
    let mut rows = RowCollector::new(if is_lead {
        schema::CRM_LEADS.clone()
    } else {
        schema::CRM_OPPORTUNITIES.clone()
    });
    let outcome = read_csv(
        text,
        |header| header.iter().any(|h| h.eq_ignore_ascii_case(id_col)),
        |row| {
            let cells = Cells(row, source.decimal_separator);
            let values = if is_lead {
                lead_row(kind, fields, &cells, file)?
            } else {
                opportunity_row(kind, cfg, &cells, file)?
            };
            rows.push(values);
            Ok(())
        },
    )?;
    Parsed::new(rows, outcome)
}
