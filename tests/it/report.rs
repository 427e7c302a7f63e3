//! The HTML report rendered by headless Chromium: it renders, logs no console error, loads
//! nothing from the network, and the numbers it shows are the mart's.

use std::process::Command;

use crate::support::{clearsight_ok, rows, TestProject};

fn chromium() -> Option<&'static str> {
    ["chromium", "chromium-browser", "google-chrome"]
        .into_iter()
        .find(|c| {
            Command::new(c)
                .arg("--version")
                .output()
                .is_ok_and(|o| o.status.success())
        })
}

/// The `data-value` of column `col` in the row keyed `key` of table `table`.
fn shown(dom: &str, table: &str, key: &str, col: &str) -> Option<f64> {
    let t = &dom[dom.find(&format!(r#"<table id="{table}""#))?..];
    let t = &t[..t.find("</table>")?];
    let row = &t[t.find(&format!(r#"<tr data-key="{key}">"#))?..];
    let row = &row[..row.find("</tr>")?];
    let re = regex::Regex::new(&format!(r#"data-col="{col}" data-value="([^"]+)""#)).unwrap();
    re.captures(row)?.get(1)?.as_str().parse().ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn report_renders_in_headless_chromium_with_the_marts_numbers() {
    let Some(browser) = chromium() else {
        assert!(
            std::env::var("CLEARSIGHT_REQUIRE_CHROMIUM").is_err(),
            "chromium is required but not installed"
        );
        eprintln!("SKIPPED: chromium is not installed (.ci/run installs it)");
        return;
    };
    let project = TestProject::demo();
    let p = project.path().to_str().unwrap();
    clearsight_ok(&["--project", p, "--quiet", "demo", "--events", "8000"]);
    let html = project.path().join("report.html");
    clearsight_ok(&["--project", p, "report", "--html", html.to_str().unwrap()]);
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(
        !page.contains("http://") && !page.contains("https://") && !page.contains("<script"),
        "self-contained"
    );

    let profile = tempfile::tempdir().unwrap();
    let rendered = Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
        ])
        .args([
            "--disable-component-update",
            "--disable-sync",
            "--enable-logging=stderr",
            "--v=0",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg("--dump-dom")
        .arg(format!("file://{}", html.display()))
        .output()
        .unwrap();
    assert!(
        rendered.status.success(),
        "{}",
        String::from_utf8_lossy(&rendered.stderr)
    );
    let dom = String::from_utf8_lossy(&rendered.stdout);
    let log = String::from_utf8_lossy(&rendered.stderr);
    assert!(
        !log.lines()
            .any(|l| l.contains("CONSOLE") && l.to_lowercase().contains("error")),
        "console errors: {log}"
    );
    assert!(
        dom.contains(r#"<svg class="chart" id="rank-chart""#)
            && dom.contains(r#"id="trend-chart""#)
            && dom.contains(r#"id="funnel-chart""#)
    );

    // The numbers shown are the mart's.
    let ctx = project.context();
    let s = clearsight::cli::commands::query_session(&ctx)
        .await
        .unwrap();
    let channels = rows(&s, "SELECT channel, revenue, spend, leads FROM myopia WHERE attribution_model = 'data_driven' AND level = 'channel'").await;
    assert!(channels.len() >= 5);
    for r in &channels {
        for (i, col) in [(1, "revenue"), (2, "spend"), (3, "leads")] {
            let want: f64 = r[i].parse().unwrap();
            let got = shown(&dom, "channels", &r[0], col)
                .unwrap_or_else(|| panic!("{} {col} not shown", r[0]));
            assert!(
                (got - want).abs() <= 1e-9 * want.abs().max(1.0),
                "{} {col}: page {got}, mart {want}",
                r[0]
            );
        }
    }
    let linear = rows(&s, "SELECT channel, SUM(revenue) FROM pipeline_metrics WHERE attribution_model = 'linear' GROUP BY channel").await;
    for r in &linear {
        let want: f64 = r[1].parse().unwrap();
        let got = shown(&dom, "models", &r[0], "linear").unwrap();
        assert!(
            (got - want).abs() <= 1e-9 * want.abs().max(1.0),
            "{}: {got} vs {want}",
            r[0]
        );
    }
    let kpi = rows(&s, "SELECT CAST(month AS VARCHAR) AS m, metric, kind, attainment FROM kpi_attainment WHERE metric = 'revenue' ORDER BY m LIMIT 1").await;
    let key = format!("{}|{}|{}", kpi[0][0], kpi[0][1], kpi[0][2]);
    assert!(
        (shown(&dom, "kpis", &key, "attainment").unwrap() - kpi[0][3].parse::<f64>().unwrap())
            .abs()
            < 1e-12
    );
    let flagged = rows(&s, "SELECT channel FROM myopia WHERE attribution_model = 'data_driven' AND level = 'channel' AND myopia_flag").await;
    for f in flagged {
        assert!(
            dom.contains(&format!(r#"data-channel="{}""#, f[0])),
            "flagged channel in the rank chart"
        );
    }
}
