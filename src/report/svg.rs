//! Inline SVG charts: no scripts, no fonts or images to fetch.

use super::html::escape;

/// CPL rank (x, cheapest left) against ROI rank (y, best at the top); the myopia corner (better
/// half by CPL, worse half by ROI) is shaded.
pub fn rank_chart(points: &[(String, usize, usize, bool)]) -> String {
    let n = points.len().max(1);
    let (size, pad) = (360.0, 48.0);
    let step = (size - 2.0 * pad) / n as f64;
    let x = |rank: usize| pad + (rank as f64 - 0.5) * step;
    let y = |rank: usize| pad + (rank as f64 - 0.5) * step;
    let half = n / 2;
    let mut out = format!(
        r#"<svg class="chart" id="rank-chart" viewBox="0 0 {size} {size}" width="{size}" height="{size}" role="img" aria-label="CPL rank against ROI rank">"#
    );
    if half > 0 {
        out += &format!(
            r##"<rect x="{}" y="{}" width="{}" height="{}" fill="#fde2e1"/><text x="{}" y="{}" class="note">cheap leads, no money</text>"##,
            pad,
            pad + (n - half) as f64 * step,
            half as f64 * step,
            half as f64 * step,
            pad + 4.0,
            size - pad - 6.0
        );
    }
    out += &format!(
        r##"<rect x="{pad}" y="{pad}" width="{w}" height="{w}" fill="none" stroke="#999"/>"##,
        w = size - 2.0 * pad
    );
    out += &format!(
        r#"<text x="{}" y="{}" class="axis">CPL rank (1 = cheapest) →</text>"#,
        pad,
        size - 14.0
    );
    out += &format!(
        r#"<text x="14" y="{}" class="axis" transform="rotate(-90 14 {})">ROI rank (1 = best) →</text>"#,
        size - pad,
        size - pad
    );
    for (name, cpl, roi, flagged) in points {
        let color = if *flagged { "#c0392b" } else { "#2c7fb8" };
        out += &format!(
            r#"<g class="point" data-channel="{n}" data-cpl-rank="{cpl}" data-roi-rank="{roi}"><circle cx="{cx}" cy="{cy}" r="7" fill="{color}"/><text x="{tx}" y="{ty}" class="label">{n}</text></g>"#,
            n = escape(name),
            cx = x(*cpl),
            cy = y(*roi),
            tx = x(*cpl) + 10.0,
            ty = y(*roi) + 4.0
        );
    }
    out + "</svg>"
}

/// Monthly spend and attributed revenue as two lines.
pub fn trend_chart(months: &[(String, f64, f64)]) -> String {
    let (w, h, pad) = (640.0, 260.0, 56.0);
    let max = months
        .iter()
        .flat_map(|m| [m.1, m.2])
        .fold(0.0_f64, f64::max)
        .max(1.0);
    let n = months.len().max(2) - 1;
    let px = |i: usize| pad + i as f64 * (w - 2.0 * pad) / n as f64;
    let py = |v: f64| h - pad - v / max * (h - 2.0 * pad);
    let line = |pick: &dyn Fn(&(String, f64, f64)) -> f64| {
        months
            .iter()
            .enumerate()
            .map(|(i, m)| format!("{:.1},{:.1}", px(i), py(pick(m))))
            .collect::<Vec<_>>()
            .join(" ")
    };
    let mut out = format!(
        r#"<svg class="chart" id="trend-chart" viewBox="0 0 {w} {h}" width="{w}" height="{h}" role="img" aria-label="Monthly spend and attributed revenue">"#
    );
    out += &format!(
        r##"<line x1="{pad}" y1="{b}" x2="{r}" y2="{b}" stroke="#999"/><text x="4" y="{t}" class="axis">{max}</text><text x="4" y="{b}" class="axis">0</text>"##,
        b = h - pad,
        r = w - pad,
        t = pad,
        max = super::html::money(max)
    );
    out += &format!(
        r##"<polyline points="{}" fill="none" stroke="#7f8c8d" stroke-width="2"/>"##,
        line(&|m| m.1)
    );
    out += &format!(
        r##"<polyline points="{}" fill="none" stroke="#27ae60" stroke-width="3"/>"##,
        line(&|m| m.2)
    );
    for (i, m) in months.iter().enumerate() {
        out += &format!(
            r#"<text x="{}" y="{}" class="axis" text-anchor="middle">{}</text>"#,
            px(i),
            h - pad + 18.0,
            escape(&m.0[..7.min(m.0.len())])
        );
    }
    out += &format!(
        r##"<text x="{}" y="20" class="legend" fill="#7f8c8d">— spend</text><text x="{}" y="20" class="legend" fill="#27ae60">— attributed revenue</text>"##,
        pad,
        pad + 90.0
    );
    out + "</svg>"
}

/// Funnel bars per channel, each stage as a share of the channel's leads.
pub fn funnel_chart(rows: &[(String, [f64; 5])]) -> String {
    let stages = ["leads", "MQL", "SQL", "opps", "won"];
    let (row_h, label_w, bar_w) = (26.0, 130.0, 460.0);
    let h = row_h * (rows.len() as f64 + 1.0);
    let mut out = format!(
        r#"<svg class="chart" id="funnel-chart" viewBox="0 0 {w} {h}" width="{w}" height="{h}" role="img" aria-label="Funnel per channel">"#,
        w = label_w + bar_w + 20.0
    );
    for (s, stage) in stages.iter().enumerate() {
        out += &format!(
            r#"<text x="{}" y="14" class="axis">{stage}</text>"#,
            label_w + s as f64 * bar_w / 5.0
        );
    }
    for (i, (channel, values)) in rows.iter().enumerate() {
        let y = row_h * (i as f64 + 1.0);
        out += &format!(
            r#"<text x="0" y="{}" class="label">{}</text>"#,
            y + 15.0,
            escape(channel)
        );
        let leads = values[0].max(1e-12);
        for (s, v) in values.iter().enumerate() {
            let width = (bar_w / 5.0 - 6.0) * (v / leads).clamp(0.0, 1.0);
            out += &format!(
                r##"<rect x="{}" y="{}" width="{:.1}" height="18" fill="#2c7fb8" opacity="{}"><title>{}: {}</title></rect>"##,
                label_w + s as f64 * bar_w / 5.0,
                y + 2.0,
                width,
                1.0 - s as f64 * 0.15,
                stages[s],
                super::html::count(*v)
            );
        }
    }
    out + "</svg>"
}
