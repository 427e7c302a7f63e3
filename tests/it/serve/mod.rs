//! `clearsight serve` with real clients: the real server process on 127.0.0.1, Debian's `psql`
//! and psycopg (PyPI). The expected numbers are read from the published Parquet files with a
//! plain DataFusion session, not through the server or the product's session builder.

mod harness;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::{demo_run, rows, TestProject};
use harness::*;

fn numbers(rows: &[Vec<String>]) -> Vec<(String, f64, f64)> {
    rows.iter()
        .map(|r| (r[0].clone(), r[1].parse().unwrap(), r[2].parse().unwrap()))
        .collect()
}

fn assert_same_sums(got: &[(String, f64, f64)], want: &[(String, f64, f64)]) {
    assert_eq!(got.len(), want.len(), "{got:?} vs {want:?}");
    for (g, w) in got.iter().zip(want) {
        assert!(
            g.0 == w.0 && close(g.1, w.1) && close(g.2, w.2),
            "{g:?} vs {w:?}"
        );
    }
}

const SUMS: &str = "SELECT attribution_model, sum(spend), sum(revenue) FROM pipeline_metrics \
                    GROUP BY attribution_model ORDER BY attribution_model";

const PSYCOPG_TYPES: &str = r#"
import json, sys, psycopg
with psycopg.connect(sys.argv[1], password=sys.argv[2]) as conn:
    rows = conn.execute(
        "SELECT channel, sum(revenue) AS revenue, min(month) AS first_month, sum(sessions) AS sessions "
        "FROM pipeline_metrics WHERE attribution_model = %s GROUP BY channel ORDER BY channel",
        ("linear",)).fetchall()
    tables = [r[0] for r in conn.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = %s ORDER BY 1",
        ("public",))]
    types = [r[0] for r in conn.execute(
        "SELECT t.typname FROM pg_catalog.pg_attribute a "
        "JOIN pg_catalog.pg_class c ON a.attrelid = c.oid "
        "JOIN pg_catalog.pg_type t ON a.atttypid = t.oid "
        "WHERE c.relname = 'pipeline_metrics' AND a.attname IN ('month', 'spend') ORDER BY a.attname")]
print(json.dumps({
    "rows": [[r[0], r[1], r[2].isoformat(), r[3]] for r in rows],
    "python_types": [type(v).__name__ for v in rows[0]],
    "tables": tables, "catalog_types": types}))
"#;

const PSYCOPG_CROWD: &str = r#"
import json, sys, threading, psycopg
models = ["first_touch", "last_touch", "linear", "time_decay", "position_based", "w_shaped", "data_driven"]
results, errors = [], []
def client(i):
    try:
        with psycopg.connect(sys.argv[1], password=sys.argv[2]) as conn:
            for q in range(10):
                model = models[(i + q) % len(models)]
                row = conn.execute("SELECT sum(revenue) FROM pipeline_metrics WHERE attribution_model = %s",
                                   (model,)).fetchone()
                results.append([model, row[0]])
    except Exception as e:
        errors.append(repr(e))
threads = [threading.Thread(target=client, args=(i,)) for i in range(20)]
for t in threads: t.start()
for t in threads: t.join()
print(json.dumps({"results": results, "errors": errors}))
"#;

#[tokio::test(flavor = "multi_thread")]
async fn serve_answers_psql_and_psycopg_read_only_with_the_published_numbers() {
    if clients().is_none() {
        return;
    }
    let project = built_demo("42");
    let mut server = Server::start(&project, Some(PASSWORD), &[]);

    // What the Parquet files say, read without the server.
    let parquet = parquet_of(&project, "pipeline_metrics").await;
    let want = numbers(&rows(&parquet, SUMS).await);
    assert_eq!(want.len(), 7, "one row per attribution model");
    assert!(
        want.iter().all(|(_, _, revenue)| *revenue > 0.0),
        "{want:?}"
    );

    // psql: tables through information_schema, sums equal to the files'.
    let tables: Vec<String> = psql_ok(
        &server,
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY 1",
    )
    .into_iter()
    .map(|r| r[0].clone())
    .collect();
    for t in [
        "pipeline_metrics",
        "attribution_touchpoints",
        "ga_events",
        "crm_leads",
        "ad_spend",
    ] {
        assert!(tables.iter().any(|x| x == t), "{t} not listed: {tables:?}");
    }
    assert_same_sums(&numbers(&psql_ok(&server, SUMS)), &want);
    assert_eq!(
        psql_ok(&server, "DISCARD ALL"),
        vec![vec!["DISCARD ALL".to_string()]]
    );

    // A wrong password is refused; writes are refused and the server stays up.
    let wrong = psql(&server, "not-the-password", "SELECT 1");
    assert_ne!(wrong.status.code(), Some(0));
    let stderr = String::from_utf8_lossy(&wrong.stderr);
    assert!(
        stderr
            .to_lowercase()
            .contains("password authentication failed"),
        "{stderr}"
    );
    for sql in [
        "DROP TABLE pipeline_metrics",
        "CREATE TABLE t AS SELECT 1",
        "SET datafusion.execution.target_partitions = 1",
    ] {
        let out = psql(&server, PASSWORD, sql);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{sql}: {stderr}");
        assert!(stderr.contains("read-only"), "{sql}: {stderr}");
    }
    assert_same_sums(&numbers(&psql_ok(&server, SUMS)), &want);

    // psycopg: a parameterised query (extended protocol), Postgres types, the catalog.
    let dsn = server.dsn("");
    let typed = python(PSYCOPG_TYPES, &[&dsn, PASSWORD]);
    assert_eq!(
        typed["python_types"],
        serde_json::json!(["str", "float", "date", "int"])
    );
    assert_eq!(
        typed["catalog_types"],
        serde_json::json!(["date", "float8"])
    );
    assert!(typed["tables"]
        .as_array()
        .unwrap()
        .iter()
        .any(|t| t == "pipeline_metrics"));
    let linear: Vec<(String, f64, f64)> = typed["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r[0].as_str().unwrap().to_string(),
                r[1].as_f64().unwrap(),
                0.0,
            )
        })
        .collect();
    let linear_want: Vec<(String, f64, f64)> = rows(
        &parquet,
        "SELECT channel, sum(revenue), 0.0 FROM pipeline_metrics \
         WHERE attribution_model = 'linear' GROUP BY channel ORDER BY channel",
    )
    .await
    .iter()
    .map(|r| (r[0].clone(), r[1].parse().unwrap(), 0.0))
    .collect();
    assert_same_sums(&linear, &linear_want);

    // 20 clients at once, 10 queries each.
    let crowd = python(PSYCOPG_CROWD, &[&dsn, PASSWORD]);
    assert_eq!(crowd["errors"], serde_json::json!([]));
    let results = crowd["results"].as_array().unwrap();
    assert_eq!(results.len(), 200);
    for r in results {
        let model = r[0].as_str().unwrap();
        let expected = want.iter().find(|w| w.0 == model).unwrap().2;
        assert!(
            close(r[1].as_f64().unwrap(), expected),
            "{r:?} vs {expected}"
        );
    }

    // SIGTERM: a clean stop, and the log tells what happened.
    assert_eq!(server.terminate(), Some(0), "{}", server.log());
    let log = server.log();
    assert!(log.contains("listening on 127.0.0.1:"), "{log}");
    assert!(log.contains(": connected"), "{log}");
    assert!(log.contains("cannot execute DROP TABLE"), "{log}");
    assert!(log.contains("stopped"), "{log}");
}

#[tokio::test(flavor = "multi_thread")]
async fn serve_query_over_its_memory_gets_an_error_and_the_server_keeps_serving() {
    if clients().is_none() {
        return;
    }
    let project = built_demo("43");
    let server = Server::start(&project, Some(PASSWORD), &["--query-memory", "1M"]);
    // The join's build side holds every event's key, ~3 KB each: far over 1 MB.
    let heavy = "SELECT count(*) FROM ga_events a JOIN ga_events b \
                 ON repeat(a.page_location, 40) = repeat(b.page_location, 40)";
    let out = psql(&server, PASSWORD, heavy);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("Resources exhausted"), "{stderr}");
    let count = psql_ok(&server, "SELECT count(*) FROM pipeline_metrics");
    assert!(count[0][0].parse::<u64>().unwrap() > 0);
}

#[test]
fn serve_refuses_an_open_address_without_a_password() {
    let project = TestProject::demo();
    let out = crate::support::bin()
        .args([
            "--project",
            project.path().to_str().unwrap(),
            "serve",
            "--bind",
            "0.0.0.0:0",
        ])
        .env_remove("CLEARSIGHT_SERVE_PASSWORD")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("CLEARSIGHT_SERVE_PASSWORD"), "{stderr}");
}

const PSYCOPG_LOOP: &str = r#"
import json, os, sys, psycopg
dsn, ready, stop = sys.argv[1], sys.argv[2], sys.argv[3]
seen, after_stop = [], 0
with psycopg.connect(dsn) as conn:
    while after_stop < 15:
        row = conn.execute(
            "SELECT (SELECT sum(revenue) FROM pipeline_metrics), "
            "(SELECT count(*) FROM attribution_touchpoints)").fetchone()
        seen.append([row[0], row[1]])
        if len(seen) == 1:
            open(ready, "w").close()
        if os.path.exists(stop):
            after_stop += 1
print(json.dumps(seen))
"#;

/// The two numbers the query loop asks for, read from the files.
async fn run_totals(project: &TestProject) -> (f64, i64) {
    (
        published_value(project, "pipeline_metrics", "sum(revenue)").await,
        published_value(project, "attribution_touchpoints", "count(*)").await,
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn serve_switches_to_a_new_run_mid_loop_and_never_mixes_two() {
    if clients().is_none() {
        return;
    }
    let project = built_demo("44");
    let old = run_totals(&project).await;
    let (cert, key) = self_signed(project.path());
    let (cert, key) = (cert.to_str().unwrap(), key.to_str().unwrap());
    let server = Server::start(&project, None, &["--tls-cert", cert, "--tls-key", key]);

    let (ready, stop) = (project.path().join("ready"), project.path().join("stop"));
    let dsn = server.dsn("sslmode=require");
    let looping = Command::new("python3")
        .arg("-c")
        .arg(PSYCOPG_LOOP)
        .args([&dsn, ready.to_str().unwrap(), stop.to_str().unwrap()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while !ready.exists() {
        assert!(Instant::now() < deadline, "the query loop never answered");
        std::thread::sleep(Duration::from_millis(50));
    }
    // A new run, with other extracts, published while the loop queries.
    demo_run(&project, "45");
    std::fs::write(&stop, "").unwrap();
    let out = looping.wait_with_output().unwrap();
    let seen: Vec<(f64, i64)> =
        serde_json::from_str::<Vec<(f64, i64)>>(&crate::support::assert_ok(&out, "query loop"))
            .unwrap();
    let new = run_totals(&project).await;
    assert_ne!(old.1, new.1, "the second run should differ");
    let is = |a: &(f64, i64), b: &(f64, i64)| close(a.0, b.0) && a.1 == b.1;
    for s in &seen {
        assert!(
            is(s, &old) || is(s, &new),
            "{s:?} is neither run: {old:?} / {new:?}"
        );
    }
    assert!(is(&seen[0], &old), "first answer from the first run");
    assert!(
        is(seen.last().unwrap(), &new),
        "after the publish, the new run"
    );
    assert!(server.log().contains("with TLS"), "{}", server.log());
}
