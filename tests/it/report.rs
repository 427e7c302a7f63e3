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

/// The part of the DOM inside the element that opens with `start` (to its matching `</div>`
/// for a view: views hold no nested `<div class="view`).
fn active_view<'a>(dom: &'a str, class: &str) -> &'a str {
    let at = dom
        .find(&format!(r#"<div class="{class} active""#))
        .unwrap_or_else(|| panic!("no active {class}"));
    let rest = &dom[at..];
    let end = rest[10..]
        .find(&format!(r#"<div class="{class}""#))
        .map_or(rest.len(), |e| e + 10);
    &rest[..end]
}

/// The `data-value` of column `col` in the row keyed `key` of the first table of class `table`.
fn shown(dom: &str, table: &str, key: &str, col: &str) -> Option<f64> {
    let t = &dom[dom.find(&format!(r#"<table class="{table} sortable""#))?..];
    let t = &t[..t.find("</table>")?];
    let row = &t[t.find(&format!(r#"<tr data-key="{key}">"#))?..];
    let row = &row[..row.find("</tr>")?];
    let re = regex::Regex::new(&format!(r#"data-col="{col}" data-value="([^"]+)""#)).unwrap();
    re.captures(row)?.get(1)?.as_str().parse().ok()
}

/// The page as headless Chromium leaves it after its script ran, with `#fragment`; also writes
/// a screenshot under target/ for a person to look at.
fn render(
    browser: &str,
    html: &std::path::Path,
    fragment: &str,
    screenshot: Option<&std::path::Path>,
) -> (String, String) {
    let profile = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(browser);
    cmd.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
    ])
    .args([
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
    ])
    .args([
        "--enable-logging=stderr",
        "--v=0",
        "--window-size=1280,2400",
    ])
    .arg(format!("--user-data-dir={}", profile.path().display()));
    match screenshot {
        Some(png) => cmd.arg(format!("--screenshot={}", png.display())),
        None => cmd.arg("--dump-dom"),
    };
    let out = cmd
        .arg(format!("file://{}#{fragment}", html.display()))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn close(got: f64, want: f64, what: &str) {
    assert!(
        (got - want).abs() <= 1e-9 * want.abs().max(1.0),
        "{what}: page {got}, mart {want}"
    );
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
        !page.contains("http://") && !page.contains("https://") && !page.contains("<script src"),
        "self-contained"
    );

    let shot = crate::support::repo().join("target/report-screenshot.png");
    std::fs::create_dir_all(shot.parent().unwrap()).unwrap();
    render(browser, &html, "model=data_driven&window=all", Some(&shot));
    assert!(
        std::fs::metadata(&shot).unwrap().len() > 10_000,
        "a screenshot of the page"
    );

    let ctx = project.workspace();
    let s = ctx.query_session().await.unwrap();
    // The model picker (set through the page's #fragment, as a click would) switches the
    // channel table to that model's numbers; compare two models with the mart.
    for model in ["linear", "first_touch"] {
        let (dom, log) = render(browser, &html, &format!("model={model}&window=all"), None);
        assert!(
            !log.lines()
                .any(|l| l.contains("CONSOLE") && l.to_lowercase().contains("error")),
            "console errors: {log}"
        );
        assert!(dom.contains(&format!(r#"data-model="{model}""#)) && dom.contains("rank-chart"));
        let view = active_view(&dom, "view");
        assert!(
            view.contains(&format!(r#"data-model="{model}" data-window="all""#)),
            "the chosen view is shown"
        );
        let channels = rows(&s, &format!("SELECT channel, revenue, spend, leads FROM myopia WHERE \"window\" = 'all' AND attribution_model = '{model}' AND level = 'channel'")).await;
        assert!(channels.len() >= 5);
        for r in &channels {
            for (i, col) in [(1, "revenue"), (2, "spend"), (3, "leads")] {
                let got = shown(view, "channels", &r[0], col)
                    .unwrap_or_else(|| panic!("{} {col} not shown", r[0]));
                close(
                    got,
                    r[i].parse().unwrap(),
                    &format!("{model} {} {col}", r[0]),
                );
            }
        }
        // Every campaign of the mart, with its CPL, in the campaign tables of the view.
        let campaigns = rows(&s, &format!("SELECT channel, campaign, cpl FROM myopia WHERE \"window\" = 'all' AND attribution_model = '{model}' AND level = 'campaign' AND cpl IS NOT NULL")).await;
        assert!(!campaigns.is_empty());
        for r in &campaigns {
            let table = &view[view
                .find(&format!(
                    r#"<div class="campaigns" data-channel="{}">"#,
                    r[0]
                ))
                .unwrap()..];
            let got = shown(table, "campaigns", &r[1], "cpl")
                .unwrap_or_else(|| panic!("{:?} not shown", r));
            close(got, r[2].parse().unwrap(), &format!("{model} {} cpl", r[1]));
        }
        let flagged = rows(&s, &format!("SELECT channel FROM myopia WHERE \"window\" = 'all' AND attribution_model = '{model}' AND level = 'channel' AND myopia_flag")).await;
        for f in flagged {
            assert!(
                view.contains(&format!(r#"data-name="{}""#, f[0])),
                "flagged channel in the rank chart"
            );
        }
        let model_view = active_view(&dom, "model-view");
        assert!(model_view.contains("spend-chart") && model_view.contains("revenue-chart"));
    }
    let (dom, _) = render(browser, &html, "model=data_driven&window=all", None);
    let linear = rows(&s, "SELECT channel, SUM(revenue) FROM pipeline_metrics WHERE attribution_model = 'linear' GROUP BY channel").await;
    for r in &linear {
        close(
            shown(&dom, "models", &r[0], "linear").unwrap(),
            r[1].parse().unwrap(),
            &r[0],
        );
    }
    let kpi = rows(&s, "SELECT CAST(month AS VARCHAR) AS m, metric, kind, better, attainment FROM kpi_attainment WHERE metric = 'revenue' ORDER BY m LIMIT 1").await;
    let key = format!("{}|{}|{}|{}", kpi[0][0], kpi[0][1], kpi[0][2], kpi[0][3]);
    close(
        shown(&dom, "kpis", &key, "attainment").unwrap(),
        kpi[0][4].parse().unwrap(),
        "attainment",
    );
}
