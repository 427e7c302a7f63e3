//! Inline SVG charts: no scripts, no fonts or images to fetch.

use super::html::escape;

/// CPL rank (x, cheapest left) against ROI rank (y, best at the top); the myopia corner (better
/// half by CPL, worse half by ROI) is shaded.
pub fn rank_chart(class: &str, points: &[(String, usize, usize, bool)]) -> String {
    let n = points.len().max(1);
    let (size, pad) = (360.0, 48.0);
    let step = (size - 2.0 * pad) / n as f64;
    let x = |rank: usize| pad + (rank as f64 - 0.5) * step;
    let y = |rank: usize| pad + (rank as f64 - 0.5) * step;
    let half = n / 2;
    let mut out = format!(
        r#"<svg class="chart {class}" viewBox="0 0 {wide} {size}" width="{wide}" height="{size}" role="img" aria-label="CPL rank against ROI rank">"#,
        wide = size + 200.0
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
    let labels = label_positions(
        points
            .iter()
            .map(|p| (x(p.1) + 10.0, y(p.2) + 4.0, p.0.len())),
    );
    for ((name, cpl, roi, flagged), (tx, ty)) in points.iter().zip(labels) {
        let color = if *flagged { "#c0392b" } else { "#2c7fb8" };
        out += &format!(
            r#"<g class="point" data-name="{n}" data-cpl-rank="{cpl}" data-roi-rank="{roi}"><circle cx="{cx}" cy="{cy}" r="6" fill="{color}"/><text x="{tx:.1}" y="{ty:.1}" class="label">{n}</text></g>"#,
            n = escape(name),
            cx = x(*cpl),
            cy = y(*roi),
        );
    }
    out + "</svg>"
}

/// Label anchors moved down, one line at a time, until no two labels' boxes overlap (about
/// 6 px a character, 12 px a line).
pub fn label_positions(wanted: impl Iterator<Item = (f64, f64, usize)>) -> Vec<(f64, f64)> {
    let mut placed: Vec<(f64, f64, f64)> = Vec::new();
    wanted
        .map(|(x, mut y, chars)| {
            let w = chars as f64 * 6.0;
            while placed
                .iter()
                .any(|&(px, py, pw)| (py - y).abs() < 12.0 && x < px + pw && px < x + w)
            {
                y += 12.0;
            }
            placed.push((x, y, w));
            (x, y)
        })
        .collect()
}

/// One monthly series as a line on its own scale; `maturing` months are drawn dashed.
pub fn month_chart(
    class: &str,
    label: &str,
    color: &str,
    months: &[(String, f64, bool)],
    sign: &str,
) -> String {
    let (w, h, pad) = (560.0, 200.0, 64.0);
    let max = months.iter().map(|m| m.1).fold(0.0_f64, f64::max).max(1.0);
    let n = months.len().max(2) - 1;
    let px = |i: usize| pad + i as f64 * (w - 2.0 * pad) / n as f64;
    let py = |v: f64| h - pad + 20.0 - v / max * (h - 2.0 * pad);
    let mut out = format!(
        r#"<svg class="chart {class}" viewBox="0 0 {w} {h}" width="{w}" height="{h}" role="img" aria-label="{label} by month">"#
    );
    out += &format!(
        r##"<line x1="{pad}" y1="{b}" x2="{r}" y2="{b}" stroke="#999"/><text x="4" y="{t}" class="axis">{max}</text><text x="4" y="{b}" class="axis">0</text>"##,
        b = py(0.0),
        r = w - pad,
        t = py(max) + 4.0,
        max = super::html::money(max, sign)
    );
    for (i, pair) in months.windows(2).enumerate() {
        let dash = if pair[1].2 {
            r#" stroke-dasharray="5 4""#
        } else {
            ""
        };
        out += &format!(
            r#"<line x1="{:.1}" y1="{:.1}" x2="{:.1}" y2="{:.1}" stroke="{color}" stroke-width="2.5"{dash}/>"#,
            px(i),
            py(pair[0].1),
            px(i + 1),
            py(pair[1].1)
        );
    }
    for (i, m) in months.iter().enumerate() {
        out += &format!(
            r#"<circle cx="{:.1}" cy="{:.1}" r="3" fill="{color}"><title>{}: {}</title></circle><text x="{:.1}" y="{}" class="axis" text-anchor="middle">{}</text>"#,
            px(i),
            py(m.1),
            escape(&m.0),
            super::html::money(m.1, sign),
            px(i),
            h - 8.0,
            escape(&m.0[..7.min(m.0.len())])
        );
    }
    out += &format!(r#"<text x="{pad}" y="16" class="legend" fill="{color}">— {label}</text>"#);
    out + "</svg>"
}

/// Funnel bars per channel, each stage as a share of the channel's leads.
pub fn funnel_chart(rows: &[(String, [f64; 5])]) -> String {
    let stages = ["leads", "MQL", "SQL", "opps", "won"];
    let (row_h, label_w, bar_w) = (26.0, 130.0, 460.0);
    let h = row_h * (rows.len() as f64 + 1.0);
    let mut out = format!(
        r#"<svg class="chart funnel-chart" viewBox="0 0 {w} {h}" width="{w}" height="{h}" role="img" aria-label="Funnel per channel">"#,
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
