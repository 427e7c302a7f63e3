//! The subcommands, each a few lines over the library.

use super::output::say;
use std::collections::BTreeMap;

use super::{Context, DemoArgs, GlobalArgs};
use crate::demo::{generate, DemoOptions};
use crate::error::{exit, Result};
use crate::load::LoadReport;

/// Prints the load summary (or JSON) and returns the exit code: 4 when a file was unreadable.
pub fn report_load(ctx: &Context, report: &LoadReport) -> i32 {
    if ctx.json {
        say!(
            "{}",
            serde_json::to_string_pretty(report).expect("report serialises")
        );
    } else {
        let mut per_table: BTreeMap<&str, [u64; 5]> = BTreeMap::new();
        for f in &report.files {
            let t = per_table.entry(&f.table).or_default();
            t[0] += 1;
            if f.skipped {
                t[4] += 1;
            } else {
                t[1] += f.rows_read;
                t[2] += f.rows_loaded;
                t[3] += f.rows_quarantined;
            }
        }
        say!(
            "{:<20} {:>6} {:>12} {:>12} {:>12} {:>8}",
            "table",
            "files",
            "rows read",
            "loaded",
            "quarantined",
            "skipped"
        );
        for (table, [files, read, loaded, quarantined, skipped]) in &per_table {
            say!("{table:<20} {files:>6} {read:>12} {loaded:>12} {quarantined:>12} {skipped:>8}");
        }
        let bytes: u64 = report
            .files
            .iter()
            .filter(|f| !f.skipped)
            .map(|f| f.bytes)
            .sum();
        let rows = report.total(|f| f.rows_read);
        let secs = report.seconds.max(1e-9);
        say!(
            "loaded {rows} rows ({:.1} MB) in {:.2}s: {:.0} rows/s, {:.1} MB/s",
            bytes as f64 / 1e6,
            report.seconds,
            rows as f64 / secs,
            bytes as f64 / 1e6 / secs
        );
        if report.total(|f| f.rows_quarantined) > 0 {
            say!("quarantined rows are in the warehouse table `quarantine` (file, line, field, reason)");
        }
        for u in &report.unreadable {
            say!("UNREADABLE {}: {}", u.file, u.message);
        }
    }
    if report.unreadable.is_empty() {
        exit::OK
    } else {
        exit::UNREADABLE_INPUT
    }
}

pub async fn load(ctx: &Context) -> Result<i32> {
    let report = ctx.load(&ctx.progress).await?;
    Ok(report_load(ctx, &report))
}

/// Where `demo` works: the project folder when it has `config/`; otherwise a new demo project
/// (`./clearsight-demo/`, or the `--project` folder), which must not exist or be empty.
fn demo_project(global: &GlobalArgs) -> Result<Option<GlobalArgs>> {
    if global.project.join("config").is_dir() {
        return Ok(None);
    }
    let dir = if global.project == std::path::Path::new(".") {
        std::path::PathBuf::from("clearsight-demo")
    } else {
        global.project.clone()
    };
    super::init::init(&dir)?;
    if !global.quiet {
        eprintln!(
            "no config/ here: created the demo project {}",
            dir.display()
        );
    }
    Ok(Some(GlobalArgs {
        project: dir,
        ..global.clone()
    }))
}

pub async fn demo(global: &GlobalArgs, args: &DemoArgs) -> Result<i32> {
    let created = demo_project(global)?;
    let global = created.as_ref().unwrap_or(global);
    let out = global.project.join(&args.out);
    let options = DemoOptions {
        seed: args.seed,
        target_events: args.events,
        ..DemoOptions::default()
    };
    let summary = generate(&out, &options)?;
    if !global.quiet {
        eprintln!(
            "demo extracts in {}: {} GA events in {} daily files, {} leads, {} opportunities, {} spend rows, {} deliberately bad rows",
            out.display(),
            summary.ga_events,
            summary.ga_files,
            summary.leads,
            summary.opportunities,
            summary.spend_rows,
            summary.bad_rows
        );
    }
    if args.generate_only {
        return Ok(exit::OK);
    }
    let ctx = Context::from_args(global)?;
    let code = build(
        &ctx,
        &RunArgs {
            select: vec![],
            full_refresh: false,
            jobs: None,
        },
    )
    .await?;
    if code != exit::OK {
        return Ok(code);
    }
    headline(&ctx, &args.window).await?;
    if created.is_some() {
        let html = global.project.join("report.html");
        let report_args = ReportArgs {
            html: html.clone(),
            model: "data_driven".into(),
            window: args.window.clone(),
        };
        report(&ctx, &report_args).await?;
        say!(
            "\nThe demo project is {}; its report is {}. Next: cd {} && clearsight --help",
            global.project.display(),
            html.display(),
            global.project.display()
        );
    }
    Ok(exit::OK)
}

/// The myopia rows of one level (`channel` or `campaign`) with spend, data-driven model, in
/// one window.
fn myopia_sql(level: &str, window: &str) -> String {
    let window = window.replace('\'', "''");
    let campaign = if level == "campaign" { "campaign," } else { "" };
    format!(
        "SELECT channel, {campaign} ROUND(spend, 0) AS spend, ROUND(leads, 1) AS leads, ROUND(cpl, 2) AS cpl,
                ROUND(cost_per_sql, 2) AS cost_per_sql, ROUND(cac, 0) AS cac, ROUND(revenue, 0) AS revenue,
                ROUND(roi, 2) AS roi, cpl_rank, roi_rank,
                CASE WHEN myopia_flag THEN '<< cheap leads, no money' ELSE '' END AS myopia
         FROM myopia
         WHERE \"window\" = '{window}' AND attribution_model = 'data_driven' AND level = '{level}' AND spend > 0
         ORDER BY cpl_rank"
    )
}

/// The first screen: per channel, CPL next to cost per SQL, CAC and ROI, with the myopia flags;
/// then the campaigns.
pub async fn headline(ctx: &Context, window: &str) -> Result<()> {
    let session = ctx.query_session().await?;
    let mut flagged = Vec::new();
    for (level, title) in [("channel", "Paid channels"), ("campaign", "Paid campaigns")] {
        let sql = myopia_sql(level, window);
        let batches = session.sql(&sql).await?.collect().await?;
        let span = if window == "all" {
            "all months".to_string()
        } else {
            format!("window {window}")
        };
        say!("\n{title}, {span}, data-driven attribution (CPL rank 1 = cheapest, ROI rank 1 = best):");
        say!("{}", arrow::util::pretty::pretty_format_batches(&batches)?);
        let rows = crate::report::table(&session, &sql).await?;
        let (myopia, name) = (
            rows.col("myopia"),
            if level == "campaign" {
                rows.col("campaign")
            } else {
                rows.col("channel")
            },
        );
        flagged.extend(
            rows.rows
                .iter()
                .filter(|r| !r[myopia].text().is_empty())
                .map(|r| r[name].text()),
        );
    }
    if flagged.is_empty() {
        say!("No channel or campaign is cheap by CPL and poor by ROI.");
    } else {
        say!(
            "KPI myopia: {} rank in the cheaper half by cost per lead but the worse half by ROI.",
            flagged.join(", ")
        );
    }
    say!(
        "\nMarts: {}/marts/<model>/v<version>/  |  try: clearsight report --html mart.html",
        ctx.warehouse.url.trim_start_matches("file://")
    );
    Ok(())
}

use super::{OutputFormat, QueryArgs, ReportArgs, RunArgs};
use crate::run::publish::{BuildLock, Published};
use crate::run::{RunOptions, RunReport};
use datafusion::prelude::SessionContext;

fn report_run(ctx: &Context, report: &RunReport) -> i32 {
    if ctx.json {
        say!(
            "{}",
            serde_json::to_string_pretty(report).expect("report serialises")
        );
    } else if report.published {
        say!(
            "run {} published: {} nodes in {:.2}s",
            report.run_id,
            report.nodes.len(),
            report.seconds
        );
    } else {
        say!(
            "run {} NOT published: {} failure(s); the last published mart is unchanged",
            report.run_id,
            report.failures()
        );
    }
    if report.published {
        exit::OK
    } else {
        exit::MODEL_FAILURE
    }
}

/// Reports a run; a run that failed because the Ballista cluster failed is an engine error
/// (exit 6) naming the scheduler.
async fn finish_run(ctx: &Context, report: &RunReport) -> Result<i32> {
    let code = report_run(ctx, report);
    #[cfg(feature = "ballista")]
    if let (false, crate::engine::EngineKind::Ballista { scheduler }) =
        (report.published, &ctx.engine.kind)
    {
        if let Some(e) = crate::cluster::cluster_failure(scheduler, report).await {
            return Err(e);
        }
    }
    Ok(code)
}

/// Builds the models on `session`; the caller holds the build lock.
async fn run_models(
    ctx: &Context,
    session: SessionContext,
    args: &RunArgs,
    _lock: &BuildLock,
) -> Result<RunReport> {
    let runner = ctx.runner(session, &ctx.progress);
    let options = RunOptions {
        select: args.select.clone(),
        full_refresh: args.full_refresh,
        jobs: args.jobs.map(usize::from),
    };
    #[cfg(feature = "ballista")]
    if let crate::engine::EngineKind::Ballista { scheduler } = &ctx.engine.kind {
        return tokio::select! {
            report = runner.run(&options) => report,
            lost = crate::cluster::executors_lost(scheduler) => Err(lost),
        };
    }
    runner.run(&options).await
}

pub async fn run(ctx: &Context, args: &RunArgs) -> Result<i32> {
    super::check::check_first(ctx).await?;
    let lock = BuildLock::acquire(&ctx.warehouse, &ctx.project.dir)?;
    let session = ctx.session().await?;
    let report = run_models(ctx, session, args, &lock).await?;
    finish_run(ctx, &report).await
}

/// load + run under one lock, so a second build is refused before it loads anything.
pub async fn build(ctx: &Context, args: &RunArgs) -> Result<i32> {
    super::check::check_first(ctx).await?;
    let lock = BuildLock::acquire(&ctx.warehouse, &ctx.project.dir)?;
    // Connect first: an unreachable scheduler fails the build before anything is loaded.
    let session = ctx.session().await?;
    let loaded = ctx.load(&ctx.progress).await?;
    let code = report_load(ctx, &loaded);
    if code != exit::OK {
        return Ok(code);
    }
    let report = run_models(ctx, session, args, &lock).await?;
    finish_run(ctx, &report).await
}

/// A session in this process with the loaded tables and every published mart registered by
/// model name (the highest version of each).
pub async fn test(ctx: &Context) -> Result<i32> {
    let session = ctx.query_session().await?;
    let models = crate::run::model::discover(&ctx.project.queries_dir())?;
    let mut failed = 0;
    for m in &models {
        let outcomes = if m.is_test {
            vec![crate::run::audit::run_assertion_file(&session, &m.name, &m.sql).await]
        } else if m.header.materialized == crate::run::model::Materialization::View
            || session.table_exist(m.name.as_str())?
        {
            if m.header.materialized == crate::run::model::Materialization::View {
                continue;
            }
            crate::run::audit::run_tests(&session, &m.name, &m.header.tests).await
        } else {
            ctx.progress
                .line(&format!("{}: not published, no tests run", m.name));
            continue;
        };
        for o in outcomes {
            let status = if o.passed { "PASS" } else { "FAIL" };
            failed += usize::from(!o.passed);
            say!(
                "{status} {}: {}{}",
                m.name,
                o.name,
                o.message
                    .map(|m| format!(" ({m})"))
                    .unwrap_or_else(|| if o.failing_rows > 0 {
                        format!(" ({} failing rows)", o.failing_rows)
                    } else {
                        String::new()
                    })
            );
        }
    }
    Ok(if failed == 0 {
        exit::OK
    } else {
        exit::MODEL_FAILURE
    })
}

/// DuckDB statements that read the published marts: one view per model (highest version).
pub async fn duckdb_snippet(ctx: &Context) -> Result<String> {
    let Some(published) = Published::read(&ctx.warehouse).await? else {
        return Err(crate::Error::Usage(
            "nothing is published yet: run `clearsight build` first".into(),
        ));
    };
    let local = ctx.warehouse.url.strip_prefix("file://");
    let mut out = format!(
        "-- DuckDB: the marts of run {} (published {})\n",
        published.run_id, published.published_at
    );
    if ctx.warehouse.url.starts_with("s3://") {
        out += "INSTALL httpfs; LOAD httpfs;  -- plus CREATE SECRET for your credentials\n";
    }
    for (name, key, s) in published.latest_versions() {
        // Locally the `marts` symlink always points at the live run; object stores use the run's folder.
        let dir = match local {
            Some(root) => format!("{root}/marts/{key}"),
            None => format!("{}/{}", ctx.warehouse.url, published.dir_of(key)),
        };
        let hive = if s.partition_by.is_some() {
            ", hive_partitioning = true"
        } else {
            ""
        };
        out += &format!("CREATE OR REPLACE VIEW {name} AS SELECT * FROM read_parquet('{dir}/**/*.parquet'{hive});\n");
    }
    Ok(out)
}

pub async fn query(ctx: &Context, args: &QueryArgs) -> Result<i32> {
    if args.duckdb {
        super::output::write_stdout(duckdb_snippet(ctx).await?.as_bytes())?;
        return Ok(exit::OK);
    }
    let session = ctx.query_session().await?;
    let df = session
        .sql(args.sql.as_deref().unwrap_or_default())
        .await
        .map_err(|e| crate::Error::Query(e.to_string()))?;
    let schema = std::sync::Arc::new(df.schema().as_arrow().clone());
    if !matches!(args.format, OutputFormat::Table) {
        let mut batches = df.execute_stream().await?;
        super::output::stream_rows(&mut batches, schema, args.format).await?;
        return Ok(exit::OK);
    }
    // A table's column widths need every row first.
    let mut batches = df.collect().await?;
    let rows: usize = batches.iter().map(|b| b.num_rows()).sum();
    if batches.is_empty() {
        // An empty result still has its columns: print the header.
        batches.push(arrow::array::RecordBatch::new_empty(schema));
    }
    let mut out = arrow::util::pretty::pretty_format_batches(&batches)?
        .to_string()
        .into_bytes();
    out.push(b'\n');
    if rows == 0 {
        out.extend_from_slice(b"(0 rows)\n");
    }
    super::output::write_stdout(&out)?;
    Ok(exit::OK)
}

pub async fn report(ctx: &Context, args: &ReportArgs) -> Result<i32> {
    let Some(published) = Published::read(&ctx.warehouse).await? else {
        return Err(crate::Error::Usage(
            "nothing is published yet: run `clearsight build` first".into(),
        ));
    };
    let session = ctx.query_session().await?;
    let currency = &ctx.project.sources.reporting_currency;
    let data = crate::report::gather(
        &session,
        &args.model,
        &args.window,
        &published.run_id,
        currency,
    )
    .await?;
    let page = crate::report::render(&data);
    super::output::write_whole(&args.html, page.as_bytes())?;
    ctx.progress
        .line(&format!("report written to {}", args.html.display()));
    Ok(exit::OK)
}
