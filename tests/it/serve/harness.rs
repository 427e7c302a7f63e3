//! The real server process and real clients for the serve tests: `clearsight serve` on
//! 127.0.0.1, psql, psycopg scripts, and the published Parquet read by plain DataFusion.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use datafusion::prelude::{ParquetReadOptions, SessionContext};

use crate::support::{demo_run, free_port, rows, wait_for_port, Processes, TestProject};

pub(super) const PASSWORD: &str = "s3cret-for-tests";

/// psql and psycopg, or None (the test is skipped) unless CI says they must be there.
pub(super) fn clients() -> Option<()> {
    let psql = Command::new("psql").arg("--version").output().is_ok();
    let psycopg = Command::new("python3")
        .args(["-c", "import psycopg"])
        .status()
        .is_ok_and(|s| s.success());
    if psql && psycopg {
        return Some(());
    }
    assert!(
        std::env::var_os("CLEARSIGHT_REQUIRE_PG_CLIENTS").is_none(),
        "psql and psycopg are required here (CLEARSIGHT_REQUIRE_PG_CLIENTS is set)"
    );
    eprintln!("skipped: psql or psycopg missing");
    None
}

/// A demo project whose mart is built.
pub(super) fn built_demo(seed: &str) -> TestProject {
    let project = TestProject::demo();
    demo_run(&project, seed);
    project
}

/// A running `clearsight serve`, its stderr in a file.
pub(super) struct Server {
    pub(super) port: u16,
    log: PathBuf,
    processes: Processes,
}

impl Server {
    pub(super) fn start(project: &TestProject, password: Option<&str>, extra: &[&str]) -> Server {
        let port = free_port();
        let log = project.path().join(format!("serve-{port}.log"));
        let mut command = crate::support::bin();
        command
            .args(["--project", project.path().to_str().unwrap(), "serve"])
            .args(["--bind", &format!("127.0.0.1:{port}")])
            .args(extra)
            .env_remove("CLEARSIGHT_SERVE_PASSWORD")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap());
        if let Some(p) = password {
            command.env("CLEARSIGHT_SERVE_PASSWORD", p);
        }
        let child = command.spawn().unwrap();
        let server = Server {
            port,
            log,
            processes: Processes(vec![child]),
        };
        assert!(
            wait_for_port(port, 60),
            "serve did not listen: {}",
            server.log()
        );
        server
    }

    pub(super) fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub(super) fn dsn(&self, extra: &str) -> String {
        format!(
            "host=127.0.0.1 port={} user=clearsight dbname=clearsight connect_timeout=10 {extra}",
            self.port
        )
    }

    fn child(&mut self) -> &mut Child {
        &mut self.processes.0[0]
    }

    /// Sends SIGTERM and returns the exit code (None: still running after 20 s).
    pub(super) fn terminate(&mut self) -> Option<i32> {
        let pid = self.child().id().to_string();
        Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Some(status) = self.child().try_wait().unwrap() {
                return status.code();
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        None
    }
}

/// psql with `sql`, unaligned and tuples only.
pub(super) fn psql(server: &Server, password: &str, sql: &str) -> Output {
    Command::new("psql")
        .arg(server.dsn(""))
        .args([
            "-X",
            "-A",
            "-t",
            "-F",
            "|",
            "-v",
            "ON_ERROR_STOP=1",
            "-c",
            sql,
        ])
        .env("PGPASSWORD", password)
        .output()
        .unwrap()
}

pub(super) fn psql_ok(server: &Server, sql: &str) -> Vec<Vec<String>> {
    let out = psql(server, PASSWORD, sql);
    let stdout = crate::support::assert_ok(&out, &format!("psql -c {sql:?}"));
    stdout
        .lines()
        .filter(|l| !l.is_empty())
        .map(|l| l.split('|').map(str::to_string).collect())
        .collect()
}

/// Runs a Python script with psycopg; its stdout parsed as JSON.
pub(super) fn python(script: &str, args: &[&str]) -> serde_json::Value {
    let out = Command::new("python3")
        .arg("-c")
        .arg(script)
        .args(args)
        .output()
        .unwrap();
    let stdout = crate::support::assert_ok(&out, "python3 psycopg script");
    serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"))
}

/// The published files of `model`, read by a plain DataFusion session.
pub(super) async fn parquet_of(project: &TestProject, model: &str) -> SessionContext {
    let dir = project.path().join("warehouse/marts").join(model);
    let version = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .max()
        .unwrap();
    let ctx = SessionContext::new();
    let url = format!("{}/", version.display());
    ctx.register_parquet(model, &url, ParquetReadOptions::default())
        .await
        .unwrap();
    ctx
}

pub(super) fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0)
}

/// A self-signed certificate for 127.0.0.1 (Debian's openssl).
pub(super) fn self_signed(dir: &Path) -> (PathBuf, PathBuf) {
    let (cert, key) = (dir.join("server.crt"), dir.join("server.key"));
    let status = Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj",
        ])
        .args(["/CN=127.0.0.1", "-keyout", key.to_str().unwrap()])
        .args(["-out", cert.to_str().unwrap()])
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    (cert, key)
}

/// One value of `aggregate` over a published model's files.
pub(super) async fn published_value<T: std::str::FromStr>(
    project: &TestProject,
    model: &str,
    aggregate: &str,
) -> T
where
    T::Err: std::fmt::Debug,
{
    let sql = format!("SELECT {aggregate} FROM {model}");
    rows(&parquet_of(project, model).await, &sql).await[0][0]
        .parse()
        .unwrap()
}
