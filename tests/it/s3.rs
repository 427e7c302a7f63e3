//! Raw inputs and the warehouse on S3: a local S3-compatible server (moto's, from PyPI) on
//! 127.0.0.1, then load, build, publish and read back through the real binary; a build killed
//! just before it publishes leaves the previous mart readable.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};

use crate::support::{assert_ok, free_port, wait_for_port, TestProject};

struct Moto {
    child: Child,
    port: u16,
}

impl Moto {
    fn start() -> Option<Moto> {
        let port = free_port();
        let child = Command::new("python3")
            .args([
                "-m",
                "moto.server",
                "-H",
                "127.0.0.1",
                "-p",
                &port.to_string(),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .ok()?;
        let moto = Moto { child, port };
        wait_for_port(port, 30).then_some(moto)
    }

    /// The server, or `None` (the test then skips) when moto is not installed and
    /// `CLEARSIGHT_REQUIRE_MOTO` is not set.
    fn start_or_skip() -> Option<Moto> {
        let moto = Moto::start();
        if moto.is_none() {
            assert!(
                std::env::var("CLEARSIGHT_REQUIRE_MOTO").is_err(),
                "moto (python3 -m moto.server) is required but did not start"
            );
            eprintln!("SKIPPED: moto is not installed (.ci/run installs it)");
        }
        moto
    }

    /// An unsigned HTTP PUT (moto accepts it): creates a bucket or writes an object.
    fn put(&self, path: &str, body: &[u8]) {
        let mut s = TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        let head = format!("PUT {path} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", self.port, body.len());
        s.write_all(head.as_bytes()).unwrap();
        s.write_all(body).unwrap();
        let mut reply = String::new();
        s.read_to_string(&mut reply).unwrap();
        assert!(reply.starts_with("HTTP/1.1 200"), "PUT {path}: {reply}");
    }

    /// A signed PUT through boto3 (installed with moto): moto refuses unsigned writes once
    /// signed requests have come.
    fn put_signed(&self, bucket: &str, key: &str, body: &str) {
        let script = "import boto3, sys; boto3.client('s3', endpoint_url=sys.argv[1], \
            region_name='us-east-1', aws_access_key_id='test', aws_secret_access_key='test')\
            .put_object(Bucket=sys.argv[2], Key=sys.argv[3], Body=sys.argv[4].encode())";
        let endpoint = format!("http://127.0.0.1:{}", self.port);
        let out = Command::new("python3")
            .args(["-c", script, &endpoint, bucket, key, body])
            .output()
            .unwrap();
        assert_ok(&out, "boto3 put_object");
    }

    fn env(&self, cmd: &mut Command) {
        cmd.env("AWS_ENDPOINT", format!("http://127.0.0.1:{}", self.port))
            .env("AWS_ALLOW_HTTP", "true")
            .env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test")
            .env("AWS_REGION", "us-east-1");
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn clearsight(
    moto: &Moto,
    project: &TestProject,
    args: &[&str],
    extra_env: &[(&str, &str)],
) -> std::process::Output {
    let mut cmd = crate::support::bin_in(project.path());
    cmd.args(args);
    moto.env(&mut cmd);
    for (k, v) in extra_env {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

fn ok(out: std::process::Output) -> String {
    assert_ok(&out, "clearsight")
}

#[test]
fn load_build_publish_and_read_back_on_s3() {
    let Some(moto) = Moto::start_or_skip() else {
        return;
    };
    moto.put("/clearsight", b"");
    // The demo extracts, uploaded to s3://clearsight/inputs/...
    let local = TestProject::demo_generated(3_000);
    for sub in ["ga4", "crm", "spend"] {
        for entry in std::fs::read_dir(local.path().join("demo-data").join(sub)).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            moto.put(
                &format!("/clearsight/inputs/{sub}/{name}"),
                &std::fs::read(&path).unwrap(),
            );
        }
    }
    let yaml = std::fs::read_to_string(crate::support::repo().join("config/sources.yaml"))
        .unwrap()
        .replace("path: demo-data/", "path: s3://clearsight/inputs/")
        .replace("warehouse: warehouse", "warehouse: s3://clearsight/wh");
    let project = TestProject::new(&yaml);

    let load = ok(clearsight(&moto, &project, &["--json", "load"], &[]));
    let summary: serde_json::Value = serde_json::from_str(&load).unwrap();
    assert!(
        summary["unreadable"].as_array().unwrap().is_empty(),
        "{load}"
    );
    ok(clearsight(&moto, &project, &["run"], &[]));
    assert!(
        !project.path().join("wh").exists() && !project.path().join("warehouse").exists(),
        "nothing local"
    );
    let sql = "SELECT ROUND(SUM(revenue), 6) AS revenue, ROUND(SUM(spend), 6) AS spend FROM pipeline_metrics WHERE attribution_model = 'linear'";
    let on_s3 = ok(clearsight(
        &moto,
        &project,
        &["query", "--format", "csv", sql],
        &[],
    ));

    // The same mart built from the same files on the local disk.
    local.write(
        "config/sources.yaml",
        &std::fs::read_to_string(crate::support::repo().join("config/sources.yaml")).unwrap(),
    );
    ok(clearsight(&moto, &local, &["build"], &[]));
    let on_disk = ok(clearsight(
        &moto,
        &local,
        &["query", "--format", "csv", sql],
        &[],
    ));
    assert_eq!(on_s3, on_disk);

    // A build killed before it publishes: readers keep the previous run.
    project.write(
        "queries/marts/kpi_attainment.sql",
        &std::fs::read_to_string(crate::support::repo().join("queries/marts/kpi_attainment.sql"))
            .unwrap()
            .replace("AS attainment", "AS attainment, 1 AS changed")
            .replace(
                "-- columns:\n",
                "-- columns:\n--   - {name: changed, type: BIGINT, description: a new column}\n",
            ),
    );
    let killed = clearsight(
        &moto,
        &project,
        &["run"],
        &[("CLEARSIGHT_FAILPOINT_BEFORE_PUBLISH", "1")],
    );
    assert_ne!(
        killed.status.code(),
        Some(0),
        "the failpoint kills the build"
    );
    let after = ok(clearsight(
        &moto,
        &project,
        &["query", "--format", "csv", sql],
        &[],
    ));
    assert_eq!(after, on_s3, "the previous mart is still what readers see");
    let kpi_header = || {
        let csv = ok(clearsight(
            &moto,
            &project,
            &[
                "query",
                "--format",
                "csv",
                "SELECT * FROM kpi_attainment LIMIT 1",
            ],
            &[],
        ));
        csv.lines().next().unwrap_or_default().to_string()
    };
    let columns = kpi_header();
    assert!(
        !columns.contains("changed"),
        "the killed run is not visible: {columns}"
    );
    // The next build publishes.
    ok(clearsight(&moto, &project, &["run"], &[]));
    let columns = kpi_header();
    assert!(columns.contains("changed"), "{columns}");
}

/// The loader's quick check on an object store (`src/load/seen.rs`): an object listed as it was
/// loaded is skipped; one written again, even with as many bytes, has another time and entity
/// tag and is read again.
#[test]
fn a_rewritten_object_is_read_again_and_an_unchanged_one_is_skipped() {
    let Some(moto) = Moto::start_or_skip() else {
        return;
    };
    let costs = |cost: &str| {
        format!("date,platform,campaign,cost,impressions,clicks\n2024-01-05,dv360,Display,{cost},40000,30\n")
    };
    moto.put("/clearsight", b"");
    moto.put("/clearsight/in/costs.csv", costs("20.5").as_bytes());
    let project = TestProject::new(
        "warehouse: s3://clearsight/wh\nreporting_currency: USD\nsources:\n  - {kind: generic_spend, path: s3://clearsight/in/costs.csv}\n",
    );
    let load = || {
        let out = ok(clearsight(&moto, &project, &["--json", "load"], &[]));
        let summary: serde_json::Value = serde_json::from_str(&out).unwrap();
        let file = &summary["files"][0];
        (
            file["skipped"].as_bool().unwrap(),
            file["content_hash"].to_string(),
        )
    };
    // Past the two seconds in which a record is not trusted (the store's times are in seconds).
    std::thread::sleep(std::time::Duration::from_millis(2_200));
    let (skipped, first) = load();
    assert!(!skipped);
    assert_eq!(load(), (true, first.clone()), "unchanged: skipped");
    std::thread::sleep(std::time::Duration::from_millis(1_100));
    moto.put_signed("clearsight", "in/costs.csv", &costs("30.5"));
    let (skipped, second) = load();
    assert!(!skipped, "same size, other bytes: read again");
    assert_ne!(second, first);
}
