//! The command line: raw flags (clap) are validated into a [`Context`] that builds the library
//! objects; each subcommand is a few lines over the library. Exit codes: see [`crate::error::exit`].

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::engine::{parse_scheduler, parse_size};
use crate::error::{exit, Result};
use crate::workspace::{Overrides, Workspace};
use output::say;
use progress::{Progress, ProgressFormat};

const EXIT_CODES: &str = "\
Exit codes:
  0  success
  1  a model failed to build or a data test failed (nothing was published)
  2  usage or configuration error (bad flag, bad YAML, unknown table, cycle between models,
     a model reading across its layer)
  3  another build holds the warehouse lock
  4  an input file could not be read at all (bad rows are quarantined, not fatal)
  5  warehouse or internal error
  6  the Ballista engine failed: scheduler unreachable or an executor died (nothing was published)
  7  serve could not start: the address is in use or not this machine's, or the TLS files are unusable";

#[derive(Debug, Parser)]
#[command(name = "clearsight", version, about = "Judge B2B marketing channels by pipeline and revenue, not cost per lead.",
    long_about = "Clearsight joins GA4 web analytics, CRM leads and opportunities, and ad spend, and builds a \
pipeline-metrics mart (Parquet) that judges every channel and campaign by pipeline and revenue.\n\n\
Typical nightly job:  clearsight build   (load + run + test + publish)\n\
First look:           clearsight demo\n\
New team project:     clearsight init marketing-mart\n\
Look at the numbers:  clearsight report --html mart.html   |   clearsight query \"SELECT ...\"\n\n\
Every flag can also be set in the environment: the variable is named after the flag \
(e.g. --memory-limit is CLEARSIGHT_MEMORY_LIMIT) and is shown in each command's --help.",
    after_help = EXIT_CODES)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Args)]
pub struct GlobalArgs {
    /// Project folder: holds config/, queries/ and (by default) the warehouse.
    #[arg(
        long,
        short = 'C',
        global = true,
        env = "CLEARSIGHT_PROJECT",
        default_value = "."
    )]
    pub project: PathBuf,
    /// Warehouse location, overriding config/sources.yaml: a folder or a URL (s3://, gs://, az://, memory://).
    #[arg(long, global = true, env = "CLEARSIGHT_WAREHOUSE")]
    pub warehouse: Option<String>,
    /// Memory the query engine may use before it spills to disk, e.g. 4G or 512M.
    #[arg(long, global = true, env = "CLEARSIGHT_MEMORY_LIMIT", value_parser = parse_size)]
    pub memory_limit: Option<usize>,
    /// Folder for spill files (default: the system temp folder).
    #[arg(long, global = true, env = "CLEARSIGHT_SPILL_DIR")]
    pub spill_dir: Option<PathBuf>,
    /// Where the models run: `local` (DataFusion in this process, the default) or `ballista`
    /// (a cluster; needs --scheduler). Overrides `engine.kind` in config/sources.yaml.
    #[arg(long, global = true, env = "CLEARSIGHT_ENGINE", value_parser = ["local", "ballista"])]
    pub engine: Option<String>,
    /// The Ballista scheduler, df://HOST:PORT. Overrides `engine.scheduler` in config/sources.yaml.
    #[arg(long, global = true, env = "CLEARSIGHT_SCHEDULER", value_parser = parse_scheduler)]
    pub scheduler: Option<String>,
    /// Hash every input file again. By default `load` and `build` skip a file listed with the
    /// size and modification time it had when it was loaded, without reading it (as git and
    /// rsync trust a file's stat); a file changed without either changing needs this flag.
    #[arg(long, global = true, env = "CLEARSIGHT_REHASH")]
    pub rehash: bool,
    /// No progress lines on stderr.
    #[arg(long, short, global = true, env = "CLEARSIGHT_QUIET")]
    pub quiet: bool,
    /// How progress is written on stderr: `auto` (bars on a terminal, lines elsewhere),
    /// `plain` (lines) or `json` (one JSON object per file loaded and model run).
    #[arg(
        long,
        global = true,
        env = "CLEARSIGHT_PROGRESS",
        value_enum,
        default_value_t
    )]
    pub progress: ProgressFormat,
    /// Print the command's summary as JSON on stdout (for schedulers).
    #[arg(long, global = true, env = "CLEARSIGHT_JSON")]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Read every source in config/sources.yaml into the warehouse's canonical tables.
    /// Rejected rows go to the quarantine table with file, line, field and reason.
    Load,
    /// Build the SQL models of queries/, test them, and publish the marts (all or nothing).
    Run(RunArgs),
    /// Run the data tests of the published marts (no build).
    Test,
    /// Plan every model against the canonical schemas and check its column contract; reads no
    /// data, works on an empty warehouse. Exit 1 when a model does not check.
    Check,
    /// Column lineage from the models' logical plans: the loaded and settings columns a model
    /// column is computed from, and those that only filter, join or group it.
    Lineage(LineageArgs),
    /// Write the models' data dictionary as one self-contained HTML page: the graph, every
    /// model's description, columns (types, descriptions, lineage) and tests.
    Docs {
        /// The HTML file to write.
        #[arg(long, env = "CLEARSIGHT_DOCS_HTML")]
        html: PathBuf,
    },
    /// load + run: the nightly job.
    Build(RunArgs),
    /// Run SQL over the published marts and the loaded tables.
    Query(QueryArgs),
    /// Write a self-contained HTML report of the published marts (opens without network).
    Report(ReportArgs),
    /// Create a new project: commented config, the default models, a README for the team.
    Init {
        /// The new project's folder (must not exist or be empty).
        #[arg(env = "CLEARSIGHT_INIT_DIR")]
        dir: PathBuf,
    },
    /// Generate demo extracts (GA4, Salesforce, HubSpot, ad platforms) and build the mart from them.
    Demo(DemoArgs),
    /// Serve the published marts and the loaded tables as a read-only PostgreSQL endpoint for
    /// BI tools (psql, Metabase, Power BI, Tableau, Looker Studio). Stops on SIGTERM.
    Serve(serve::ServeArgs),
    /// Write files for other systems from the published mart.
    #[command(subcommand)]
    Export(ExportCommand),
    /// Start a Ballista scheduler with Clearsight's functions (for `--engine ballista`).
    #[cfg(feature = "ballista")]
    Scheduler(cluster::SchedulerArgs),
    /// Start a Ballista executor with Clearsight's functions; it registers with the scheduler.
    #[cfg(feature = "ballista")]
    Executor(cluster::ExecutorArgs),
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Models to build, dbt-style: `model`, `+model` (with its ancestors), `model+` (with its
    /// descendants). Repeat or separate with commas. Default: every model.
    #[arg(long, short, env = "CLEARSIGHT_SELECT", value_delimiter = ',')]
    pub select: Vec<String>,
    /// Rebuild models even when their SQL, settings and inputs are unchanged.
    #[arg(long, env = "CLEARSIGHT_FULL_REFRESH")]
    pub full_refresh: bool,
    /// How many models may build at once, each after the models it reads (default: one per
    /// core; 1 under --memory-limit, so one model has the whole pool). `--jobs 1` builds one
    /// model at a time, in graph order.
    #[arg(long, short, env = "CLEARSIGHT_JOBS", value_parser = clap::value_parser!(u16).range(1..))]
    pub jobs: Option<u16>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputFormat {
    Table,
    Csv,
    Json,
}

#[derive(Debug, Args)]
pub struct QueryArgs {
    /// The SQL. Tables: every published mart by model name (pipeline_metrics, ...) and the
    /// loaded tables (ga_events, crm_leads, crm_opportunities, ad_spend, quarantine).
    #[arg(required_unless_present = "duckdb", env = "CLEARSIGHT_SQL")]
    pub sql: Option<String>,
    /// Print a DuckDB snippet that reads the published marts instead of running SQL.
    #[arg(long, env = "CLEARSIGHT_DUCKDB")]
    pub duckdb: bool,
    /// Output format.
    #[arg(
        long,
        short,
        env = "CLEARSIGHT_FORMAT",
        value_enum,
        default_value = "table"
    )]
    pub format: OutputFormat,
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// The HTML file to write.
    #[arg(long, env = "CLEARSIGHT_REPORT_HTML")]
    pub html: PathBuf,
    /// Attribution model of the channel table, charts and funnel.
    #[arg(long, env = "CLEARSIGHT_MODEL", default_value = "data_driven",
          value_parser = crate::ATTRIBUTION_MODELS)]
    pub model: String,
    /// Myopia window of the channel table: `all`, a month (`2024-03`) or a named window of
    /// config/mart.yaml.
    #[arg(long, env = "CLEARSIGHT_WINDOW", default_value = "all")]
    pub window: String,
}

#[derive(Debug, Args)]
pub struct LineageArgs {
    /// MODEL.COLUMN (or, with --downstream, any TABLE.COLUMN).
    #[arg(env = "CLEARSIGHT_LINEAGE_COLUMN")]
    pub column: String,
    /// The model columns computed or filtered from this column instead.
    #[arg(long, env = "CLEARSIGHT_LINEAGE_DOWNSTREAM")]
    pub downstream: bool,
}

#[derive(Debug, Subcommand)]
pub enum ExportCommand {
    /// The CRM's SQLs, opportunities and won deals as Google Ads' or Meta's offline-conversion
    /// upload file (SPEC section 9), valued by pipeline and revenue.
    Conversions(ConversionArgs),
}

#[derive(Debug, Args)]
pub struct ConversionArgs {
    /// Whose upload format: google_ads (click ids) or meta (hashed emails).
    #[arg(long, env = "CLEARSIGHT_EXPORT_PLATFORM", value_enum)]
    pub platform: crate::export::Platform,
    /// Stages to export, comma-separated.
    #[arg(
        long,
        env = "CLEARSIGHT_EXPORT_STAGE",
        value_enum,
        value_delimiter = ',',
        default_value = "sql,opportunity,won"
    )]
    pub stage: Vec<crate::export::Stage>,
    /// Only conversions at or after this day (YYYY-MM-DD, in the reporting time zone).
    #[arg(long, env = "CLEARSIGHT_EXPORT_SINCE", value_parser = parse_day)]
    pub since: Option<chrono::NaiveDate>,
    /// The file to write (default: standard output).
    #[arg(long, env = "CLEARSIGHT_EXPORT_OUT")]
    pub out: Option<PathBuf>,
}

fn parse_day(s: &str) -> std::result::Result<chrono::NaiveDate, String> {
    chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .map_err(|_| format!("{s:?} is not a day (YYYY-MM-DD)"))
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Where the demo extracts are written (relative to the project).
    #[arg(long, env = "CLEARSIGHT_DEMO_DIR", default_value = "demo-data")]
    pub out: PathBuf,
    /// Roughly how many GA4 events to generate.
    #[arg(long, env = "CLEARSIGHT_DEMO_EVENTS", default_value_t = 60_000)]
    pub events: u64,
    /// Seed of the generator: the same seed gives the same extracts.
    #[arg(long, env = "CLEARSIGHT_DEMO_SEED", default_value_t = 42)]
    pub seed: u64,
    /// Only write the extracts; do not load or build.
    #[arg(long, env = "CLEARSIGHT_DEMO_GENERATE_ONLY")]
    pub generate_only: bool,
    /// Myopia window of the headline: `all`, a month (`2024-03`) or a named window.
    #[arg(long, env = "CLEARSIGHT_WINDOW", default_value = "all")]
    pub window: String,
}

/// Validated, high-level settings shared by the subcommands: the library's [`Workspace`] and
/// how the CLI prints.
pub struct Context {
    pub workspace: Workspace,
    pub progress: Progress,
    pub json: bool,
}

impl Context {
    pub fn from_args(args: &GlobalArgs) -> Result<Self> {
        let overrides = Overrides {
            warehouse: args.warehouse.clone(),
            engine: args.engine.clone(),
            scheduler: args.scheduler.clone(),
            memory_limit: args.memory_limit,
            spill_dir: args.spill_dir.clone(),
            rehash: args.rehash,
        };
        Ok(Context {
            workspace: Workspace::open(&args.project, &overrides)?,
            progress: Progress {
                quiet: args.quiet,
                format: args.progress,
            },
            json: args.json,
        })
    }
}

/// A command reads the workspace's project, warehouse and engine through its context.
impl std::ops::Deref for Context {
    type Target = Workspace;
    fn deref(&self) -> &Workspace {
        &self.workspace
    }
}

/// Parses the command line, runs the command, and returns the exit code.
pub fn main() -> i32 {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() {
                exit::USAGE
            } else {
                exit::OK
            };
            let _ = e.print();
            return code;
        }
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    match runtime.block_on(run_command(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e}");
            e.exit_code()
        }
    }
}

async fn run_command(cli: Cli) -> Result<i32> {
    match &cli.command {
        Command::Load => {
            let ctx = Context::from_args(&cli.global)?;
            commands::load(&ctx).await
        }
        Command::Demo(args) => commands::demo(&cli.global, args).await,
        Command::Export(ExportCommand::Conversions(args)) => {
            export::export_conversions(&Context::from_args(&cli.global)?, args).await
        }
        Command::Report(args) => commands::report(&Context::from_args(&cli.global)?, args).await,
        Command::Init { dir } => {
            let written = init::init(dir)?;
            say!(
                "created {} with {} files; next: cd {} && clearsight demo",
                dir.display(),
                written.len(),
                dir.display()
            );
            Ok(exit::OK)
        }
        Command::Run(args) => commands::run(&Context::from_args(&cli.global)?, args).await,
        Command::Build(args) => commands::build(&Context::from_args(&cli.global)?, args).await,
        Command::Test => commands::test(&Context::from_args(&cli.global)?).await,
        Command::Check => check::check(&Context::from_args(&cli.global)?).await,
        Command::Docs { html } => check::docs(&Context::from_args(&cli.global)?, html).await,
        Command::Lineage(args) => lineage::lineage(&Context::from_args(&cli.global)?, args).await,
        Command::Query(args) => commands::query(&Context::from_args(&cli.global)?, args).await,
        Command::Serve(args) => serve::serve(&Context::from_args(&cli.global)?, args).await,
        #[cfg(feature = "ballista")]
        Command::Scheduler(args) => {
            cluster::scheduler(&Context::from_args(&cli.global)?, args).await
        }
        #[cfg(feature = "ballista")]
        Command::Executor(args) => {
            let ctx = Context::from_args(&cli.global)?;
            let scheduler = cli.global.scheduler.clone();
            cluster::executor(&ctx, scheduler, args).await
        }
    }
}

pub mod check;
#[cfg(feature = "ballista")]
pub mod cluster;
pub mod commands;
pub mod export;
pub mod init;
pub mod lineage;
pub mod output;
pub mod progress;
pub mod serve;
