//! Inline SVG charts, drawn on the server (no JavaScript, a few KB each). Every bar is a
//! `<g>` with `data-key` and `data-value` attributes, a `<title>` (a tooltip, read out by
//! screen readers) and its number as a text label, so people and tests read the same
//! figures. Charts scale with the page (`viewBox`, `width: 100%`).
//!
//! On a right-to-left page a chart is drawn mirrored ([`Look::rtl`]): bars grow from the
//! right, labels stand on the right, the months run from right to left. Every label is
//! isolated (FSI … PDI) so that a Latin user id or a date keeps its order in Farsi.

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

/// A group of a column chart (e.g. a month).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    /// Stable key (`data-key`), e.g. `2025-03`.
    pub key: String,
    /// Label shown (localised).
    pub label: String,
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

/// How a chart is drawn for a page: its direction and how numbers are written.
pub struct Look<'a> {
    /// Right to left: every x coordinate mirrored, `direction="rtl"`.
    pub rtl: bool,
    /// Writes a number in the page's digits (`data-value` keeps Latin digits).
    pub num: &'a dyn Fn(u32) -> String,
}

impl Look<'_> {
    /// A left-to-right look with Latin digits.
    #[cfg(test)]
    pub const LTR: Look<'static> = Look {
        rtl: false,
        num: &|n| n.to_string(),
    };

    /// The x of a box at `x` of width `w` (mirrored on a right-to-left page).
    fn x(&self, x: u32, w: u32) -> u32 {
        if self.rtl {
            W.saturating_sub(x + w)
        } else {
            x
        }
    }

    fn dir(&self) -> &'static str {
        if self.rtl {
            "rtl"
        } else {
            "ltr"
        }
    }
}

/// Isolates a label (first strong letter decides its direction, nothing leaks out).
fn iso(s: &str) -> String {
    format!("\u{2068}{}\u{2069}", esc(s))
}

const W: u32 = 360;
const LABEL_W: u32 = 118;
const BAR_W: u32 = 200;
const ROW_H: u32 = 26;

/// A horizontal bar chart (reads well on a narrow phone screen, with long labels).
pub fn bars(
    look: &Look<'_>,
    id: &str,
    title: &str,
    empty: &str,
    color: &str,
    bars: &[Bar],
) -> String {
    let max = bars.iter().map(|b| b.value).max().unwrap_or(0).max(1);
    let h = (bars.len() as u32).max(1) * ROW_H + 8;
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg class="chart" data-chart="{id}" data-dir="{d}" direction="{d}" viewBox="0 0 {W} {h}" role="img" aria-labelledby="{id}-t"><title id="{id}-t">{}</title>"#,
        esc(title),
        d = look.dir(),
    );
    if bars.is_empty() {
        let _ = write!(
            s,
            r#"<text x="{}" y="20">{}</text>"#,
            look.x(4, 0),
            esc(empty)
        );
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
            r#"<g class="bar" data-key="{k}" data-value="{v}"><title>{l}: {n}</title><text x="{lx}" y="{ty}" text-anchor="end">{l}</text><rect x="{bx}" y="{y}" width="{w}" height="{rh}" rx="2" fill="{color}"/><text class="v" x="{vx}" y="{ty}">{n}</text></g>"#,
            k = esc(&b.key),
            v = b.value,
            n = (look.num)(b.value),
            l = iso(&b.label),
            lx = look.x(LABEL_W - 6, 0),
            ty = y + 14,
            bx = look.x(LABEL_W, w),
            rh = ROW_H - 8,
            vx = look.x(LABEL_W + w + 4, 0),
        );
    }
    s.push_str("</svg>");
    s
}

/// A grouped column chart: one group per label (e.g. a month), one column per series.
pub fn columns(
    look: &Look<'_>,
    id: &str,
    title: &str,
    groups: &[Group],
    series: &[Series],
) -> String {
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
        r#"<svg class="chart" data-chart="{id}" data-dir="{d}" direction="{d}" viewBox="0 0 {W} {h}" role="img" aria-labelledby="{id}-t"><title id="{id}-t">{}</title>"#,
        esc(title),
        d = look.dir(),
    );
    for (i, se) in series.iter().enumerate() {
        let x = left + i as u32 * 90;
        let _ = write!(
            s,
            r#"<rect x="{}" y="6" width="12" height="12" fill="{}"/><text x="{}" y="16">{}</text>"#,
            look.x(x, 12),
            se.color,
            look.x(x + 16, 0),
            iso(&se.label)
        );
    }
    let base = top + plot_h;
    let _ = write!(
        s,
        r##"<line x1="{}" y1="{base}" x2="{}" y2="{base}" stroke="#999"/>"##,
        look.x(left, 0),
        look.x(W, 0)
    );
    for (g, group) in groups.iter().enumerate() {
        let gx = left + g as u32 * group_w + 5;
        for (i, se) in series.iter().enumerate() {
            let v = se.values.get(g).copied().unwrap_or(0);
            let ch = v * (plot_h - 14) / max;
            let x = gx + i as u32 * col_w;
            let cw = col_w.saturating_sub(2);
            let _ = write!(
                s,
                r#"<g class="bar" data-series="{sk}" data-key="{k}" data-value="{v}"><title>{sl} {l}: {n}</title><rect x="{x}" y="{y}" width="{cw}" height="{ch}" fill="{c}"/><text class="v" x="{tx}" y="{ty}" text-anchor="middle">{n}</text></g>"#,
                sk = se.key,
                k = esc(&group.key),
                sl = iso(&se.label),
                l = iso(&group.label),
                n = (look.num)(v),
                x = look.x(x, cw),
                y = base - ch,
                c = se.color,
                tx = look.x(x + col_w / 2, 0),
                ty = base - ch - 3,
            );
        }
        let _ = write!(
            s,
            r#"<text class="m" x="{}" y="{}" text-anchor="middle">{}</text>"#,
            look.x(gx + group_w.saturating_sub(10) / 2, 0),
            base + 16,
            iso(&group.label)
        );
    }
    s.push_str("</svg>");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attr(svg: &str, after: &str, name: &str) -> u32 {
        let rest = &svg[svg.find(after).expect(after)..];
        let at = rest.find(&format!(" {name}=\"")).expect(name) + name.len() + 3;
        rest[at..rest[at..].find('"').expect("end") + at]
            .parse()
            .expect("number")
    }

    fn stage_bars() -> Vec<Bar> {
        vec![
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
            Bar {
                key: "closed".into(),
                label: "chw1".into(),
                value: 6,
            },
        ]
    }

    #[test]
    fn bars_carry_their_numbers_and_escape_labels() {
        let svg = bars(
            &Look::LTR,
            "stage",
            "Cases <by> stage",
            "none",
            "#2a6f97",
            &stage_bars(),
        );
        assert!(svg.contains(r#"data-key="intake" data-value="12""#));
        assert!(svg.contains("<title>\u{2068}গ্রহণ\u{2069}: 12</title>"));
        assert!(svg.contains("Cases &lt;by&gt; stage"));
        assert!(!svg.contains("<script>"));
        assert!(svg.contains(r#"data-key="x&quot;y" data-value="0""#));
        assert!(svg.contains(r#"direction="ltr""#));
        let cols = columns(
            &Look::LTR,
            "months",
            "New and closed",
            &[
                Group {
                    key: "2025-01".into(),
                    label: "Jan".into(),
                },
                Group {
                    key: "2025-02".into(),
                    label: "Feb".into(),
                },
            ],
            &[Series {
                key: "new",
                label: "New".into(),
                color: "#000",
                values: vec![3, 5],
            }],
        );
        assert!(cols.contains(r#"data-series="new" data-key="2025-02" data-value="5""#));
    }

    #[test]
    fn right_to_left_charts_are_mirrored_with_native_digits() {
        let persian = |n: u32| {
            n.to_string()
                .chars()
                .map(|c| char::from_u32(c as u32 - '0' as u32 + 0x06F0).unwrap_or(c))
                .collect::<String>()
        };
        let rtl = Look {
            rtl: true,
            num: &persian,
        };
        let l = bars(&Look::LTR, "s", "t", "-", "#000", &stage_bars());
        let r = bars(&rtl, "s", "t", "-", "#000", &stage_bars());
        assert!(r.contains(r#"direction="rtl""#));
        // Left to right: every bar starts at the label column and grows to the right.
        let (lx, lw) = (
            attr(&l, "data-key=\"intake\"", "x"),
            attr(&l, "<rect x", "width"),
        );
        assert_eq!(lx, 112);
        assert_eq!(attr(&l, "<rect", "x"), LABEL_W);
        assert!(lw > 100);
        // Right to left: every bar ends at the label column and grows to the left.
        for key in ["intake", "closed"] {
            let g = &r[r.find(&format!("data-key=\"{key}\"")).expect(key)..];
            let (x, w) = (attr(g, "<rect", "x"), attr(g, "<rect", "width"));
            assert_eq!(x + w, W - LABEL_W, "{key}");
            // Its label stands right of the bars, its number left of the bar.
            assert!(attr(g, "<text", "x") > W - LABEL_W, "{key}");
            assert!(attr(g, "<text class=\"v\"", "x") < x, "{key}");
        }
        let wide = &r[r.find("data-key=\"intake\"").expect("intake")..];
        let narrow = &r[r.find("data-key=\"closed\"").expect("closed")..];
        assert!(attr(wide, "<rect", "x") < attr(narrow, "<rect", "x"));
        // Numbers in Persian digits, data-value in Latin; labels isolated.
        assert!(r.contains("data-value=\"12\"><title>\u{2068}গ্রহণ\u{2069}: ۱۲</title>"));
        assert!(r.contains(">\u{2068}chw1\u{2069}</text>"));
        // Months run right to left.
        let groups: Vec<Group> = ["2025-01", "2025-02", "2025-03"]
            .iter()
            .map(|k| Group {
                key: (*k).into(),
                label: (*k).into(),
            })
            .collect();
        let se = [Series {
            key: "new",
            label: "جدید".into(),
            color: "#000",
            values: vec![1, 2, 3],
        }];
        let c = columns(&rtl, "m", "t", &groups, &se);
        let x_of = |k: &str| {
            let g = &c[c.find(&format!("data-key=\"{k}\"")).expect(k)..];
            attr(g, "<rect", "x")
        };
        assert!(x_of("2025-01") > x_of("2025-02") && x_of("2025-02") > x_of("2025-03"));
        let lc = columns(&Look::LTR, "m", "t", &groups, &se);
        let lx_of = |k: &str| {
            let g = &lc[lc.find(&format!("data-key=\"{k}\"")).expect(k)..];
            attr(g, "<rect", "x")
        };
        assert!(lx_of("2025-01") < lx_of("2025-02"));
    }
}
