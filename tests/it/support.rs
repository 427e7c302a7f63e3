//! Helpers: temporary projects built from the repository's config and models, and queries
//! whose results come back as strings.

// The mart comparison and process helpers serve the Ballista tests only.
#![cfg_attr(not(feature = "ballista"), allow(dead_code))]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use clearsight::workspace::{Overrides, Workspace};
use datafusion::arrow::util::display::array_value_to_string;
use datafusion::prelude::SessionContext;

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn fixtures() -> PathBuf {
    repo().join("tests/fixtures")
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let path = entry.unwrap().path();
        let target = to.join(path.file_name().unwrap());
        if path.is_dir() {
            copy_dir(&path, &target);
        } else {
            std::fs::copy(&path, &target).unwrap();
        }
    }
}

/// A project in a temporary folder: the repository's config and models, with `sources_yaml`
/// as `config/sources.yaml`.
pub struct TestProject {
    pub dir: tempfile::TempDir,
}

impl TestProject {
    pub fn new(sources_yaml: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        copy_dir(&repo().join("config"), &dir.path().join("config"));
        copy_dir(&repo().join("queries"), &dir.path().join("queries"));
        std::fs::write(dir.path().join("config/sources.yaml"), sources_yaml).unwrap();
        TestProject { dir }
    }

    /// The repository's own sources.yaml (demo extracts under demo-data/).
    pub fn demo() -> Self {
        let yaml = std::fs::read_to_string(repo().join("config/sources.yaml")).unwrap();
        Self::new(&yaml)
    }

    /// [`TestProject::demo`] with about `events` GA events of demo extracts in demo-data/.
    pub fn demo_generated(events: u64) -> Self {
        let project = Self::demo();
        let options = clearsight::demo::DemoOptions {
            target_events: events,
            ..Default::default()
        };
        clearsight::demo::generate(&project.path().join("demo-data"), &options).unwrap();
        project
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// The project opened as the library opens it (no flags).
    pub fn workspace(&self) -> Workspace {
        Workspace::open(self.path(), &Overrides::default()).unwrap()
    }

    pub fn write(&self, relative: &str, text: &str) {
        let path = self.path().join(relative);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
}

/// Sources of every fixture file, by absolute path.
pub fn fixture_sources(warehouse: &str) -> String {
    let f = fixtures();
    let f = f.display();
    format!(
        r#"
warehouse: {warehouse}
reporting_currency: USD
currency_rates: {{EUR: 1.08}}
sources:
  - {{kind: ga4_json, path: {f}/ga4/events_*.json}}
  - kind: salesforce_leads
    path: {f}/crm/sf_leads.csv
    fields: {{ga_client_id: GA_Client_ID__c, gclid: GCLID__c, utm_source: UTM_Source__c, utm_medium: UTM_Medium__c, utm_campaign: UTM_Campaign__c, mql_date: MQL_Date__c, sql_date: SQL_Date__c}}
  - {{kind: salesforce_opportunities, path: {f}/crm/sf_opportunities.csv}}
  - kind: hubspot_contacts
    path: {f}/crm/hs_contacts.csv
    fields: {{ga_client_id: ga_client_id, lead_source: lead_source, utm_source: utm_source, utm_medium: utm_medium, utm_campaign: utm_campaign}}
  - {{kind: hubspot_deals, path: {f}/crm/hs_deals.csv}}
  - {{kind: google_ads, path: {f}/spend/google_ads.csv}}
  - {{kind: meta_ads, path: {f}/spend/meta_ads.csv}}
  - {{kind: linkedin_ads, path: {f}/spend/linkedin.csv}}
  - {{kind: generic_spend, path: {f}/spend/generic.csv}}
"#
    )
}

/// A local or remote session of `ctx`'s engine with the loaded tables registered by name.
pub async fn loaded_session(ctx: &Workspace) -> SessionContext {
    let session = ctx.session().await.unwrap();
    clearsight::run::tables::register_loaded(&session, &ctx.warehouse)
        .await
        .unwrap();
    session
}

/// Rows of a query, each cell as text (NULL as "NULL").
pub async fn rows(ctx: &SessionContext, sql: &str) -> Vec<Vec<String>> {
    let batches = ctx
        .sql(sql)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .collect()
        .await
        .unwrap();
    let mut out = Vec::new();
    for b in batches {
        for r in 0..b.num_rows() {
            out.push(
                b.columns()
                    .iter()
                    .map(|c| {
                        if c.is_null(r) {
                            "NULL".to_string()
                        } else {
                            array_value_to_string(c, r).unwrap()
                        }
                    })
                    .collect(),
            );
        }
    }
    out
}

/// One number from a query.
pub async fn number(ctx: &SessionContext, sql: &str) -> f64 {
    let r = rows(ctx, sql).await;
    r[0][0]
        .parse()
        .unwrap_or_else(|_| panic!("{sql}: not a number: {:?}", r[0][0]))
}

/// The real binary, the one helper every test runs it through; the environment's
/// `CLEARSIGHT_WAREHOUSE` and `CLEARSIGHT_PROJECT` (a developer's shell) do not leak in.
pub fn bin() -> std::process::Command {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_clearsight"));
    command
        .env_remove("CLEARSIGHT_WAREHOUSE")
        .env_remove("CLEARSIGHT_PROJECT");
    command
}

/// [`bin`] on the project in `dir`, without progress lines.
pub fn bin_in(dir: &Path) -> std::process::Command {
    let mut command = bin();
    command.arg("--project").arg(dir).arg("--quiet");
    command
}

/// Runs the real binary with `args`; asserts it exits 0 and returns its stdout.
pub fn clearsight_ok(args: &[&str]) -> String {
    let out = bin().args(args).output().unwrap();
    assert_ok(&out, &format!("clearsight {args:?}"))
}

/// `clearsight demo` in `project`: extracts from `seed`, built and published.
pub fn demo_run(project: &TestProject, seed: &str) {
    let p = project.path().to_str().unwrap();
    clearsight_ok(&[
        "--project",
        p,
        "--quiet",
        "demo",
        "--events",
        "6000",
        "--seed",
        seed,
    ]);
}

/// Asserts a finished process exited 0 (its stderr in the message) and returns its stdout.
pub fn assert_ok(out: &std::process::Output, what: &str) -> String {
    assert_eq!(
        out.status.code(),
        Some(0),
        "{what}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Every row of every published model (its latest version), sorted, numbers as `f64` so that
/// two builds can be compared within a tolerance.
pub async fn published_marts(project: &TestProject) -> BTreeMap<String, Vec<Vec<Cell>>> {
    let ctx = project.workspace();
    let session = ctx.query_session().await.unwrap();
    let published = clearsight::run::publish::Published::read(&ctx.warehouse)
        .await
        .unwrap()
        .expect("a published mart");
    let mut marts = BTreeMap::new();
    for (name, _, _) in published.latest_versions() {
        let batches = session
            .sql(&format!("SELECT * FROM \"{name}\""))
            .await
            .unwrap()
            .collect()
            .await
            .unwrap();
        let mut table = Vec::new();
        for b in &batches {
            for r in 0..b.num_rows() {
                table.push(
                    b.columns()
                        .iter()
                        .map(|c| Cell::of(c, r))
                        .collect::<Vec<_>>(),
                );
            }
        }
        table.sort_by_cached_key(|row| format!("{row:?}"));
        marts.insert(name.to_string(), table);
    }
    marts
}

/// A value of a published row.
#[derive(Clone, PartialEq)]
pub enum Cell {
    Null,
    Number(f64),
    Text(String),
}

impl Cell {
    fn of(column: &datafusion::arrow::array::ArrayRef, row: usize) -> Cell {
        use datafusion::arrow::datatypes::DataType;
        if column.is_null(row) {
            return Cell::Null;
        }
        let text = array_value_to_string(column, row).unwrap();
        match column.data_type() {
            DataType::Float64 | DataType::Float32 | DataType::Decimal128(..) => {
                Cell::Number(text.parse().unwrap())
            }
            _ => Cell::Text(text),
        }
    }

    /// Equal, numbers within `tolerance` (relative to the larger magnitude, absolute below 1).
    pub fn close_to(&self, other: &Cell, tolerance: f64) -> bool {
        match (self, other) {
            (Cell::Number(a), Cell::Number(b)) => {
                (a - b).abs() <= tolerance * a.abs().max(b.abs()).max(1.0)
            }
            _ => self == other,
        }
    }
}

impl std::fmt::Debug for Cell {
    // Rows sort by this text: numbers rounded so that float noise does not reorder them.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Cell::Null => write!(f, "NULL"),
            Cell::Number(v) => write!(f, "{v:.6}"),
            Cell::Text(t) => write!(f, "{t:?}"),
        }
    }
}

/// Asserts two builds published the same models with the same rows (numbers within 1e-9).
pub fn assert_same_marts(
    expected: &BTreeMap<String, Vec<Vec<Cell>>>,
    actual: &BTreeMap<String, Vec<Vec<Cell>>>,
) {
    assert_eq!(
        expected.keys().collect::<Vec<_>>(),
        actual.keys().collect::<Vec<_>>(),
        "published models"
    );
    assert!(
        !expected["pipeline_metrics"].is_empty(),
        "an empty mart proves nothing"
    );
    for (model, rows) in expected {
        let other = &actual[model];
        assert_eq!(rows.len(), other.len(), "{model}: row count");
        for (i, (a, b)) in rows.iter().zip(other).enumerate() {
            let same = a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.close_to(y, 1e-9));
            assert!(same, "{model} row {i}:\n  local    {a:?}\n  ballista {b:?}");
        }
    }
}

/// A TCP port on 127.0.0.1 that was free a moment ago.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Waits until something listens on 127.0.0.1:`port`; false after `seconds`.
pub fn wait_for_port(port: u16, seconds: u64) -> bool {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(seconds);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if std::time::Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    true
}

/// Child processes killed when the test ends, even when it fails.
#[derive(Default)]
pub struct Processes(pub Vec<std::process::Child>);

impl Drop for Processes {
    fn drop(&mut self) {
        for child in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Runs every model of `ctx`'s project on its engine and asserts the run was published.
pub async fn run_all_published(ctx: &Workspace) -> clearsight::run::RunReport {
    let report = ctx
        .runner(ctx.session().await.unwrap(), &clearsight::observe::Silent)
        .run(&clearsight::run::RunOptions::default())
        .await
        .unwrap();
    let failures: Vec<_> = report
        .nodes
        .iter()
        .filter(|n| {
            matches!(
                n.status,
                clearsight::run::NodeStatus::Error | clearsight::run::NodeStatus::Failed
            )
        })
        .collect();
    assert!(report.published, "{failures:#?}");
    report
}
