//! Small hand-made files for each encoding, gzip, the GA4 JSON array and Parquet shapes, and each
//! number form of SPEC section 8, with the rows a correct load gives.

use std::io::Write;
use std::sync::Arc;

use bytes::Bytes;
use clearsight::config::{DecimalSeparator, SourceKind};
use clearsight::load::{parse_file, Parsed};
use datafusion::datasource::MemTable;
use datafusion::prelude::SessionContext;

use crate::real_exports::{config, source};
use crate::support::{rows, TestProject};

fn parse(kind: SourceKind, bytes: Vec<u8>) -> Parsed {
    parse_file(&source(kind), &config(), "fixture", Bytes::from(bytes)).unwrap()
}

async fn query(parsed: &Parsed, sql: &str) -> Vec<Vec<String>> {
    let ctx = SessionContext::new();
    let t = MemTable::try_new(parsed.batches[0].schema(), vec![parsed.batches.clone()]).unwrap();
    ctx.register_table("t", Arc::new(t)).unwrap();
    rows(&ctx, sql).await
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(bytes).unwrap();
    gz.finish().unwrap()
}

const SPEND: &str = "date,platform,campaign,cost,impressions,clicks\n\
    2024-01-05,dv360,Café Brand,\"1,234.56\",\"12,000\",30\n\
    2024-01-06,dv360,Other,12.50,100,1\n";
const COLS: &str = "SELECT CAST(spend_date AS VARCHAR), campaign, cost_original, impressions, source_line FROM t ORDER BY source_line";

fn expected() -> Vec<Vec<String>> {
    [
        ["2024-01-05", "Café Brand", "1234.56", "12000", "2"],
        ["2024-01-06", "Other", "12.5", "100", "3"],
    ]
    .iter()
    .map(|r| r.iter().map(|c| c.to_string()).collect())
    .collect()
}

fn utf16(text: &str, big_endian: bool) -> Vec<u8> {
    let mut out = if big_endian {
        vec![0xFE, 0xFF]
    } else {
        vec![0xFF, 0xFE]
    };
    for unit in text.encode_utf16() {
        out.extend(if big_endian {
            unit.to_be_bytes()
        } else {
            unit.to_le_bytes()
        });
    }
    out
}

#[tokio::test]
async fn every_encoding_and_gzip_reads_the_same_rows() {
    let tabbed = "date\tplatform\tcampaign\tcost\timpressions\tclicks\n\
        2024-01-05\tdv360\tCafé Brand\t\"1,234.56\"\t\"12,000\"\t30\n\
        2024-01-06\tdv360\tOther\t12.50\t100\t1\n";
    // Every character of SPEND is Latin-1, so each is one Windows-1252 byte (é = 0xE9).
    let windows_1252: Vec<u8> = SPEND.chars().map(|c| c as u32 as u8).collect();
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("utf-8", SPEND.as_bytes().to_vec()),
        (
            "utf-8 with BOM",
            [&[0xEF, 0xBB, 0xBF][..], SPEND.as_bytes()].concat(),
        ),
        ("utf-16le tabs", utf16(tabbed, false)),
        ("utf-16be tabs", utf16(tabbed, true)),
        ("windows-1252", windows_1252.clone()),
        ("gzip utf-8", gzip(SPEND.as_bytes())),
        ("gzip utf-16le", gzip(&utf16(tabbed, false))),
        ("gzip windows-1252", gzip(&windows_1252)),
    ];
    for (what, bytes) in cases {
        let p = parse(SourceKind::GenericSpend, bytes);
        assert!(p.rejections.is_empty(), "{what}: {:?}", p.rejections);
        assert_eq!(query(&p, COLS).await, expected(), "{what}");
    }
}

#[tokio::test]
async fn a_comma_that_is_not_a_thousands_separator_is_quarantined_with_its_value() {
    let text = "date,platform,campaign,cost\n2024-01-05,x,a,\"12,50\"\n2024-01-05,x,b,\"1.234,56\"\n2024-01-05,x,c,\"1,234.56\"\n";
    let p = parse(SourceKind::GenericSpend, text.as_bytes().to_vec());
    assert_eq!(p.rows(), 1, "only 1,234.56 is a number");
    let got: Vec<(u64, &str, &str)> = p
        .rejections
        .iter()
        .map(|r| (r.line, r.field.as_str(), r.reason.as_str()))
        .collect();
    assert_eq!(
        got,
        vec![
            (2, "cost", "not a number: \"12,50\""),
            (3, "cost", "not a number: \"1.234,56\"")
        ]
    );
    // With decimal_separator ",", 1.234,56 is 1234.56 and 12,50 is 12.5.
    let mut comma = source(SourceKind::GenericSpend);
    comma.decimal_separator = DecimalSeparator::Comma;
    let text = "date,platform,campaign,cost\n2024-01-05,x,a,\"12,50\"\n2024-01-05,x,b,\"1.234,56\"\n2024-01-05,x,c,1 000\n";
    let p = parse_file(&comma, &config(), "f", Bytes::from(text)).unwrap();
    assert!(p.rejections.is_empty(), "{:?}", p.rejections);
    let got = query(&p, "SELECT cost_original FROM t ORDER BY source_line").await;
    assert_eq!(got, vec![vec!["12.5"], vec!["1234.56"], vec!["1000.0"]]);
}

#[test]
fn a_record_with_an_embedded_newline_is_quarantined_at_its_first_line() {
    let text = "Id,CreatedDate,LastModifiedDate,Status,IsConverted\n\
        L1,2024-01-05 10:00:00,2024-01-05 10:00:00,\"Open\nstill open\",1\n\
        L2,2024-01-05 10:00:00,2024-01-05 10:00:00,\"two\nline\nstatus\",maybe\n";
    let p = parse(SourceKind::SalesforceLeads, text.as_bytes().to_vec());
    assert_eq!(p.rows(), 1);
    assert_eq!(p.rejections.len(), 1);
    assert_eq!(
        (p.rejections[0].line, p.rejections[0].field.as_str()),
        (4, "IsConverted")
    );
}

#[tokio::test]
async fn salesforce_null_ids_are_empty_and_ones_and_zeros_are_booleans() {
    let text =
        "\"Id\",\"CreatedDate\",\"LastModifiedDate\",\"IsConverted\",\"ConvertedOpportunityId\"\n\
        \"L1\",\"2023-05-11 00:00:00\",\"2023-05-11 21:24:33\",\"1\",\"000000000000000AAA\"\n\
        \"L2\",\"2023-05-11 00:00:00\",\"2023-05-11 21:24:33\",\"0\",\"006000000000001\"\n\
        \"L3\",\"2023-05-11 00:00:00\",\"2023-05-11 21:24:33\",\"yes\",\"\"\n";
    let p = parse(SourceKind::SalesforceLeads, text.as_bytes().to_vec());
    assert_eq!(p.rejections.len(), 1, "yes is not a boolean");
    assert_eq!(p.rejections[0].line, 4);
    let got = query(&p, "SELECT lead_id, is_converted, opportunity_id, CAST(created_at AS BIGINT) FROM t ORDER BY lead_id").await;
    // 2023-05-11T00:00:00Z = 1683763200 s
    assert_eq!(
        got,
        vec![
            vec!["L1", "true", "NULL", "1683763200000000"],
            vec!["L2", "false", "006000000000001", "1683763200000000"],
        ]
    );
}

const EVENT_1: &str = r#"{"event_timestamp":"1704412800123456","event_name":"page_view","event_params":[{"key":"ga_session_id","value":{"int_value":"1704412800","string_value":null}}],"user_pseudo_id":"u1"}"#;
const EVENT_2: &str = r#"{"event_timestamp":1704412860000000,"event_name":"generate_lead","event_params":[{"key":"ga_session_id","value":{"int_value":1704412800}}],"user_pseudo_id":"u2"}"#;
const GA_COLS: &str = "SELECT CAST(event_at AS BIGINT), event_name, user_pseudo_id, ga_session_id, source_line FROM t ORDER BY source_line";

fn ga_rows(lines: [u64; 2]) -> Vec<Vec<String>> {
    vec![
        vec![
            "1704412800123456".into(),
            "page_view".into(),
            "u1".into(),
            "1704412800".into(),
            lines[0].to_string(),
        ],
        vec![
            "1704412860000000".into(),
            "generate_lead".into(),
            "u2".into(),
            "1704412800".into(),
            lines[1].to_string(),
        ],
    ]
}

#[tokio::test]
async fn ga4_json_lines_array_and_gzip_give_the_same_events() {
    let ndjson = format!("{EVENT_1}\n\n{EVENT_2}\n");
    let array = format!("[\n  {EVENT_1},\n\n  {EVENT_2}\n]\n");
    for (what, bytes, lines) in [
        ("ndjson", ndjson.clone().into_bytes(), [1, 3]),
        ("ndjson.gz", gzip(ndjson.as_bytes()), [1, 3]),
        ("array", array.clone().into_bytes(), [2, 4]),
        ("array.gz", gzip(array.as_bytes()), [2, 4]),
        (
            "bom ndjson",
            [&[0xEF, 0xBB, 0xBF][..], ndjson.as_bytes()].concat(),
            [1, 3],
        ),
    ] {
        let p = parse(SourceKind::Ga4Json, bytes);
        assert!(p.rejections.is_empty(), "{what}: {:?}", p.rejections);
        assert_eq!(query(&p, GA_COLS).await, ga_rows(lines), "{what}");
    }
    // An array element without user_pseudo_id is quarantined at its line; the rest loads.
    let bad = format!("[{EVENT_1},\n{{\"event_timestamp\":\"1\"}}]");
    let p = parse(SourceKind::Ga4Json, bad.into_bytes());
    assert_eq!(
        (p.rows(), p.rejections.len(), p.rejections[0].line),
        (1, 1, 2)
    );
}

#[tokio::test]
async fn ga4_gzip_of_many_blocks_keeps_line_numbers() {
    // More than one 16 MiB block decompressed: every line still carries its own number.
    // Random-looking user ids keep the gzip large (over the 2 MiB read whole), so it streams.
    let mut text = String::new();
    let n = 70_000u64;
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    for _ in 0..n {
        let id: String = (0..25)
            .map(|_| {
                state = state
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                format!("{:08x}", state >> 32)
            })
            .collect();
        text.push_str(&EVENT_1.replace("\"u1\"", &format!("\"{id}\"")));
        text.push('\n');
    }
    assert!(text.len() > 16 << 20);
    let compressed = gzip(text.as_bytes());
    assert!(compressed.len() > 2 << 20, "{}", compressed.len());
    let p = parse(SourceKind::Ga4Json, compressed);
    assert_eq!(
        (p.rows_read, p.rows() as u64, p.rejections.len()),
        (n, n, 0)
    );
    let got = query(
        &p,
        "SELECT MIN(source_line), MAX(source_line), COUNT(DISTINCT source_line) FROM t",
    )
    .await;
    assert_eq!(
        got[0],
        ["1", n.to_string().as_str(), n.to_string().as_str()]
    );
}

#[tokio::test]
async fn ga4_parquet_with_real_integers_and_large_list_params() {
    use datafusion::arrow::array::{
        Int64Array, LargeListArray, RecordBatch, StringArray, StructArray,
    };
    use datafusion::arrow::datatypes::{DataType, Field, Fields};
    let value_fields = Fields::from(vec![
        Field::new("string_value", DataType::Utf8, true),
        Field::new("int_value", DataType::Int64, true),
    ]);
    let value = StructArray::new(
        value_fields.clone(),
        vec![
            Arc::new(StringArray::from(vec![None::<&str>])),
            Arc::new(Int64Array::from(vec![1704412800])),
        ],
        None,
    );
    let param_fields = Fields::from(vec![
        Field::new("key", DataType::Utf8, true),
        Field::new("value", DataType::Struct(value_fields), true),
    ]);
    let params = StructArray::new(
        param_fields.clone(),
        vec![
            Arc::new(StringArray::from(vec!["ga_session_id"])),
            Arc::new(value),
        ],
        None,
    );
    let item = Arc::new(Field::new("element", DataType::Struct(param_fields), true));
    let list = LargeListArray::new(
        item,
        datafusion::arrow::buffer::OffsetBuffer::from_lengths([1]),
        Arc::new(params),
        None,
    );
    let batch = RecordBatch::try_from_iter(vec![
        (
            "event_timestamp",
            Arc::new(Int64Array::from(vec![1704412800123456])) as _,
        ),
        (
            "event_name",
            Arc::new(StringArray::from(vec!["page_view"])) as _,
        ),
        (
            "user_pseudo_id",
            Arc::new(StringArray::from(vec!["u1"])) as _,
        ),
        ("event_params", Arc::new(list) as _),
    ])
    .unwrap();
    let bytes = clearsight::warehouse::parquet_bytes(batch.schema(), &[batch]).unwrap();
    for (what, bytes) in [("parquet", bytes.to_vec()), ("parquet.gz", gzip(&bytes))] {
        let p = parse(SourceKind::Ga4Parquet, bytes);
        assert!(p.rejections.is_empty(), "{what}: {:?}", p.rejections);
        let got = query(&p, GA_COLS).await;
        assert_eq!(
            got,
            vec![vec![
                "1704412800123456",
                "page_view",
                "u1",
                "1704412800",
                "1"
            ]],
            "{what}"
        );
    }
}

#[test]
fn an_unknown_encoding_is_a_configuration_error_naming_the_file() {
    let project = TestProject::demo();
    let yaml = std::fs::read_to_string(project.path().join("config/sources.yaml")).unwrap();
    let yaml = yaml.replacen(
        "path: demo-data/spend/other_spend.csv",
        "path: demo-data/spend/other_spend.csv\n    encoding: klingon",
        1,
    );
    project.write("config/sources.yaml", &yaml);
    let err = clearsight::config::Project::open(project.path()).unwrap_err();
    let message = err.to_string();
    assert!(
        message.contains("sources.yaml") && message.contains("klingon"),
        "{message}"
    );
    assert_eq!(err.exit_code(), 2);
}
