//! Inline SVG charts, drawn on the server (no JavaScript, a few KB each). Every bar is a
//! `<g>` with `data-key` and `data-value` attributes, a `<title>` (a tooltip, read out by
//! screen readers) and its number as a text label, so people and tests read the same
//! figures. Charts scale with the page (`viewBox`, `width: 100%`).

use std::fmt::Write;

/// Escapes text for HTML and SVG content and attributes.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// One bar.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bar {
    /// Stable key (`data-key`), e.g. a stage name or a user id.
    pub key: String,
    /// Label shown (localised).
    pub label: String,
    /// The number.
    pub value: u32,
}

/// A series of a column chart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Series {
    /// Stable key (`data-series`).
    pub key: &'static str,
    /// Legend label (localised).
    pub label: String,
    /// Fill colour.
    pub color: &'static str,
    /// One value per group.
    pub values: Vec<u32>,
}

const W: u32 = 360;
const LABEL_W: u32 = 118;
const BAR_W: u32 = 200;
const ROW_H: u32 = 26;

/// A horizontal bar chart (reads well on a narrow phone screen, with long labels).
pub fn bars(id: &str, title: &str, empty: &str, color: &str, bars: &[Bar]) -> String {
    let max = bars.iter().map(|b| b.value).max().unwrap_or(0).max(1);
    let h = (bars.len() as u32).max(1) * ROW_H + 8;
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg class="chart" data-chart="{id}" viewBox="0 0 {W} {h}" role="img" aria-labelledby="{id}-t"><title id="{id}-t">{}</title>"#,
        esc(title)
    );
    if bars.is_empty() {
        let _ = write!(s, r#"<text x="4" y="20">{}</text>"#, esc(empty));
    }
    for (i, b) in bars.iter().enumerate() {
        let y = 4 + i as u32 * ROW_H;
        let w = if b.value == 0 {
            0
        } else {
            (b.value * BAR_W / max).max(2)
        };
        let _ = write!(
            s,
            r#"<g class="bar" data-key="{k}" data-value="{v}"><title>{l}: {v}</title><text x="{lx}" y="{ty}" text-anchor="end">{l}</text><rect x="{bx}" y="{y}" width="{w}" height="{rh}" rx="2" fill="{color}"/><text class="v" x="{vx}" y="{ty}">{v}</text></g>"#,
            k = esc(&b.key),
            v = b.value,
            l = esc(&b.label),
            lx = LABEL_W - 6,
            ty = y + 14,
            bx = LABEL_W,
            rh = ROW_H - 8,
            vx = LABEL_W + w + 4,
        );
    }
    s.push_str("</svg>");
    s
}

/// A grouped column chart: one group per label (e.g. a month), one column per series.
pub fn columns(id: &str, title: &str, groups: &[String], series: &[Series]) -> String {
    let max = series
        .iter()
        .flat_map(|s| s.values.iter().copied())
        .max()
        .unwrap_or(0)
        .max(1);
    let (top, plot_h, left) = (30u32, 120u32, 8u32);
    let h = top + plot_h + 22;
    let group_w = (W - left) / (groups.len() as u32).max(1);
    let col_w = (group_w.saturating_sub(10) / (series.len() as u32).max(1)).max(4);
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg class="chart" data-chart="{id}" viewBox="0 0 {W} {h}" role="img" aria-labelledby="{id}-t"><title id="{id}-t">{}</title>"#,
        esc(title)
    );
    for (i, se) in series.iter().enumerate() {
        let x = left + i as u32 * 90;
        let _ = write!(
            s,
            r#"<rect x="{x}" y="6" width="12" height="12" fill="{}"/><text x="{}" y="16">{}</text>"#,
            se.color,
            x + 16,
            esc(&se.label)
        );
    }
    let base = top + plot_h;
    let _ = write!(
        s,
        r##"<line x1="{left}" y1="{base}" x2="{W}" y2="{base}" stroke="#999"/>"##
    );
    for (g, label) in groups.iter().enumerate() {
        let gx = left + g as u32 * group_w + 5;
        for (i, se) in series.iter().enumerate() {
            let v = se.values.get(g).copied().unwrap_or(0);
            let ch = v * (plot_h - 14) / max;
            let x = gx + i as u32 * col_w;
            let _ = write!(
                s,
                r#"<g class="bar" data-series="{sk}" data-key="{k}" data-value="{v}"><title>{sl} {l}: {v}</title><rect x="{x}" y="{y}" width="{cw}" height="{ch}" fill="{c}"/><text class="v" x="{tx}" y="{ty}" text-anchor="middle">{v}</text></g>"#,
                sk = se.key,
                k = esc(label),
                sl = esc(&se.label),
                l = esc(label),
                y = base - ch,
                cw = col_w.saturating_sub(2),
                c = se.color,
                tx = x + col_w / 2,
                ty = base - ch - 3,
            );
        }
        let _ = write!(
            s,
            r#"<text x="{}" y="{}" text-anchor="middle">{}</text>"#,
            gx + group_w.saturating_sub(10) / 2,
            base + 16,
            esc(label)
        );
    }
    s.push_str("</svg>");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_carry_their_numbers_and_escape_labels() {
        let svg = bars(
            "stage",
            "Cases <by> stage",
            "none",
            "#2a6f97",
            &[
                Bar {
                    key: "intake".into(),
                    label: "গ্রহণ".into(),
                    value: 12,
                },
                Bar {
                    key: "x\"y".into(),
                    label: "<script>".into(),
                    value: 0,
                },
            ],
        );
        assert!(svg.contains(r#"data-key="intake" data-value="12""#));
        assert!(svg.contains("<title>গ্রহণ: 12</title>"));
        assert!(svg.contains("Cases &lt;by&gt; stage"));
        assert!(!svg.contains("<script>"));
        assert!(svg.contains(r#"data-key="x&quot;y" data-value="0""#));
        let cols = columns(
            "months",
            "New and closed",
            &["2025-01".into(), "2025-02".into()],
            &[Series {
                key: "new",
                label: "New".into(),
                color: "#000",
                values: vec![3, 5],
            }],
        );
        assert!(cols.contains(r#"data-series="new" data-key="2025-02" data-value="5""#));
    }
}
