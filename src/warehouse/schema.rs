//! The canonical warehouse tables the loader writes (under `raw/<table>/`).

use std::sync::{Arc, LazyLock};

use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};

fn ts() -> DataType {
    DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
}

fn schema(fields: &[(&str, DataType, bool)]) -> SchemaRef {
    Arc::new(Schema::new(
        fields
            .iter()
            .map(|(n, t, nullable)| Field::new(*n, t.clone(), *nullable))
            .collect::<Vec<_>>(),
    ))
}

use DataType::{Boolean, Date32, Float64, Int64, Utf8};

/// One row per GA4 event, flattened from the BigQuery export, with the traffic fields of its
/// URLs: `page_gclid` and `utm_*` (decoded query parameters of `page_location`) and
/// `referrer_host` (`page_referrer`'s host, lower case, without `www.`).
pub static GA_EVENTS: LazyLock<SchemaRef> = LazyLock::new(|| {
    schema(&[
        ("event_at", ts(), false),
        ("event_name", Utf8, true),
        ("user_pseudo_id", Utf8, false),
        ("user_id", Utf8, true),
        ("ga_session_id", Int64, false),
        ("page_location", Utf8, true),
        ("page_referrer", Utf8, true),
        ("manual_source", Utf8, true),
        ("manual_medium", Utf8, true),
        ("manual_campaign_name", Utf8, true),
        ("manual_term", Utf8, true),
        ("manual_content", Utf8, true),
        ("gclid", Utf8, true),
        // Read out of the raw URLs once, at load (crate::page_url).
        ("page_gclid", Utf8, true),
        ("utm_source", Utf8, true),
        ("utm_medium", Utf8, true),
        ("utm_campaign", Utf8, true),
        ("referrer_host", Utf8, true),
        ("source_file", Utf8, false),
        ("source_line", Int64, false),
    ])
});

/// One row per lead version (Salesforce Lead or HubSpot contact) as extracted.
pub static CRM_LEADS: LazyLock<SchemaRef> = LazyLock::new(|| {
    schema(&[
        ("lead_id", Utf8, false),
        ("crm", Utf8, false),
        ("created_at", ts(), false),
        ("last_modified_at", ts(), false),
        ("email", Utf8, true),
        ("email_sha256", Utf8, true),
        ("status", Utf8, true),
        ("lead_source", Utf8, true),
        ("is_converted", Boolean, true),
        ("converted_at", ts(), true),
        ("opportunity_id", Utf8, true),
        ("associated_deal_ids", Utf8, true),
        ("ga_client_id", Utf8, true),
        ("gclid", Utf8, true),
        ("utm_source", Utf8, true),
        ("utm_medium", Utf8, true),
        ("utm_campaign", Utf8, true),
        ("mql_at", ts(), true),
        ("sql_at", ts(), true),
        ("source_file", Utf8, false),
        ("source_line", Int64, false),
    ])
});

/// One row per opportunity version (Salesforce Opportunity or HubSpot deal) as extracted.
/// `amount` is in the reporting currency.
pub static CRM_OPPORTUNITIES: LazyLock<SchemaRef> = LazyLock::new(|| {
    schema(&[
        ("opportunity_id", Utf8, false),
        ("crm", Utf8, false),
        ("created_at", ts(), false),
        ("last_modified_at", ts(), false),
        ("close_date", Date32, true),
        ("stage", Utf8, true),
        ("amount", Float64, true),
        ("amount_original", Float64, true),
        ("currency", Utf8, true),
        ("is_closed", Boolean, false),
        ("is_won", Boolean, false),
        ("source_file", Utf8, false),
        ("source_line", Int64, false),
    ])
});

/// One row per day, platform and campaign of ad spend; `cost` is in the reporting currency.
pub static AD_SPEND: LazyLock<SchemaRef> = LazyLock::new(|| {
    schema(&[
        ("spend_date", Date32, false),
        ("platform", Utf8, false),
        ("campaign", Utf8, true),
        ("cost", Float64, false),
        ("cost_original", Float64, false),
        ("currency", Utf8, true),
        ("impressions", Int64, true),
        ("clicks", Int64, true),
        // `day`: the export's own day; `range`: an undated report's line spread evenly over
        // the days of its date range.
        ("date_precision", Utf8, false),
        ("source_file", Utf8, false),
        ("source_line", Int64, false),
    ])
});

/// Every rejected input row, with where it was and why.
pub static QUARANTINE: LazyLock<SchemaRef> = LazyLock::new(|| {
    schema(&[
        ("source_file", Utf8, false),
        ("target_table", Utf8, false),
        ("line", Int64, false),
        ("field", Utf8, false),
        ("reason", Utf8, false),
        ("raw", Utf8, false),
        ("content_hash", Utf8, false),
    ])
});

/// The schema a loaded table is written with.
pub fn for_table(table: &str) -> SchemaRef {
    match table {
        "ga_events" => GA_EVENTS.clone(),
        "crm_leads" => CRM_LEADS.clone(),
        "crm_opportunities" => CRM_OPPORTUNITIES.clone(),
        "ad_spend" => AD_SPEND.clone(),
        _ => QUARANTINE.clone(),
    }
}

/// The schema models read a loaded table with: its strings as string views. The Parquet reader
/// then points into its decoded pages instead of copying each value into one buffer, and
/// `clean_text` of a clean label keeps the input's bytes (the models' own outputs are read as
/// views already, DataFusion's default).
pub fn as_read(table: &str) -> SchemaRef {
    let fields = for_table(table)
        .fields()
        .iter()
        .map(|f| match f.data_type() {
            Utf8 => Arc::new(f.as_ref().clone().with_data_type(DataType::Utf8View)),
            _ => f.clone(),
        })
        .collect::<Vec<_>>();
    Arc::new(Schema::new(fields))
}

/// Every canonical table name, quarantine included.
pub const TABLES: [&str; 5] = [
    "ga_events",
    "crm_leads",
    "crm_opportunities",
    "ad_spend",
    "quarantine",
];

#[cfg(test)]
mod tests {
    use super::*;

    /// Models read every loaded string column as a view; other columns, names, order and
    /// nullability stay as written.
    #[test]
    fn loaded_tables_are_read_with_strings_as_views() {
        for table in TABLES {
            let (written, read) = (for_table(table), as_read(table));
            assert_eq!(written.fields().len(), read.fields().len(), "{table}");
            for (w, r) in written.fields().iter().zip(read.fields()) {
                assert_eq!((w.name(), w.is_nullable()), (r.name(), r.is_nullable()));
                let expected = match w.data_type() {
                    Utf8 => &DataType::Utf8View,
                    other => other,
                };
                assert_eq!(r.data_type(), expected, "{table}.{}", w.name());
            }
        }
        assert_eq!(
            as_read("ga_events")
                .field_with_name("manual_source")
                .unwrap()
                .data_type(),
            &DataType::Utf8View
        );
        assert_eq!(
            as_read("ga_events")
                .field_with_name("event_at")
                .unwrap()
                .data_type(),
            &ts()
        );
    }
}
