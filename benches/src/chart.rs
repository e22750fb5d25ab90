//! PNG bar charts of a [`Report`]: speedup over CuPy and percent of ceiling, one bar per kernel.
//!
//! Text is drawn with plotters' `ab_glyph` backend from the DejaVu Sans font embedded in the
//! binary (the `dejavu` crate), so charts render the same without system fonts or fontconfig.
use super::report::Report;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::FontStyle;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use std::path::Path;

/// One bar.
#[derive(Clone, Debug, PartialEq)]
pub struct Bar {
    pub label: String,
    pub value: f64,
}

fn register_fonts() -> Result<(), String> {
    use std::sync::OnceLock;
    static DONE: OnceLock<Result<(), String>> = OnceLock::new();
    DONE.get_or_init(|| {
        plotters::style::register_font("sans-serif", FontStyle::Normal, dejavu::sans::regular())
            .map_err(|_| "the embedded DejaVu Sans font did not load".to_string())?;
        plotters::style::register_font("sans-serif", FontStyle::Bold, dejavu::sans::bold())
            .map_err(|_| "the embedded DejaVu Sans Bold font did not load".to_string())
    })
    .clone()
}

const ROW_PX: u32 = 26;
const WIDTH: u32 = 1200;

/// A horizontal bar chart written to `path` (PNG): bars top to bottom in the order given, each
/// labelled with `fmt(value)`; bars at or above `reference` are green, below it orange, and the
/// reference is drawn as a vertical line.
pub fn bar_chart(
    path: &Path,
    title: &str,
    x_desc: &str,
    bars: &[Bar],
    reference: f64,
    fmt: impl Fn(f64) -> String,
) -> Result<(), String> {
    register_fonts()?;
    if bars.is_empty() {
        return Err("no bars to draw".into());
    }
    let height = 130 + ROW_PX * bars.len() as u32;
    let root = BitMapBackend::new(path, (WIDTH, height)).into_drawing_area();
    draw(&root, title, x_desc, bars, reference, &fmt).map_err(|e| format!("chart: {e}"))?;
    root.present()
        .map_err(|e| format!("cannot write {}: {e}", path.display()))
}

fn draw<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    x_desc: &str,
    bars: &[Bar],
    reference: f64,
    fmt: &dyn Fn(f64) -> String,
) -> Result<(), Box<dyn std::error::Error + 'static>>
where
    DB::ErrorType: 'static,
{
    root.fill(&WHITE)?;
    let n = bars.len();
    let finite_max = bars
        .iter()
        .map(|b| b.value)
        .filter(|v| v.is_finite())
        .fold(reference, f64::max);
    let x_max = finite_max * 1.18;
    let longest = bars
        .iter()
        .map(|b| b.label.chars().count())
        .max()
        .unwrap_or(8);
    let label_px = (longest as u32 * 9 + 20).clamp(80, 420);
    // Bar i (from the top) sits in segment n-1-i, since the y axis grows upwards.
    let label_of = |seg: usize| {
        (n - 1)
            .checked_sub(seg)
            .and_then(|i| bars.get(i))
            .map(|b| b.label.clone())
    };
    let mut chart = ChartBuilder::on(root)
        .caption(title, ("sans-serif", 22).into_font().style(FontStyle::Bold))
        .margin(16)
        .x_label_area_size(44)
        .y_label_area_size(label_px)
        .build_cartesian_2d(0f64..x_max, (0..n).into_segmented())?;
    chart
        .configure_mesh()
        .disable_y_mesh()
        .x_desc(x_desc)
        .x_label_style(("sans-serif", 15))
        .y_label_style(("sans-serif", 15))
        .y_labels(n)
        .y_label_formatter(&|v| match v {
            SegmentValue::CenterOf(i) => label_of(*i).unwrap_or_default(),
            _ => String::new(),
        })
        .x_label_formatter(&|v| fmt(*v))
        .draw()?;
    let good = RGBColor(46, 139, 87);
    let bad = RGBColor(230, 126, 34);
    chart.draw_series(
        bars.iter()
            .enumerate()
            .filter(|(_, b)| b.value.is_finite())
            .map(|(i, b)| {
                let seg = n - 1 - i;
                let color = if b.value >= reference { good } else { bad };
                let mut r = Rectangle::new(
                    [
                        (0.0, SegmentValue::Exact(seg)),
                        (b.value, SegmentValue::Exact(seg + 1)),
                    ],
                    color.filled(),
                );
                r.set_margin(3, 3, 0, 0);
                r
            }),
    )?;
    let value_style = ("sans-serif", 14)
        .into_font()
        .color(&BLACK)
        .pos(Pos::new(HPos::Left, VPos::Center));
    chart.draw_series(
        bars.iter()
            .enumerate()
            .filter(|(_, b)| b.value.is_finite())
            .map(|(i, b)| {
                Text::new(
                    format!(" {}", fmt(b.value)),
                    (b.value, SegmentValue::CenterOf(n - 1 - i)),
                    value_style.clone(),
                )
            }),
    )?;
    chart.draw_series(std::iter::once(PathElement::new(
        vec![
            (reference, SegmentValue::Exact(0)),
            (reference, SegmentValue::Exact(n)),
        ],
        BLACK.stroke_width(2),
    )))?;
    Ok(())
}

fn bar_label(r: &super::report::Row) -> String {
    let fail = if r.verified { "" } else { " (FAILED)" };
    format!("{} {}{fail}", r.kernel, r.dtype)
}

/// Speedup over CuPy (CuPy time / gpukit time) per kernel; `Ok(false)` (nothing written) when
/// no row has a CuPy time.
pub fn speedup_chart(report: &Report, path: &Path) -> Result<bool, String> {
    let bars: Vec<Bar> = report
        .rows
        .iter()
        .filter_map(|r| {
            r.speedup.map(|s| Bar {
                label: bar_label(r),
                value: s,
            })
        })
        .collect();
    if bars.is_empty() {
        return Ok(false);
    }
    let title = format!(
        "gpukit vs CuPy {} on {}: speedup (CuPy time / gpukit time)",
        report
            .cupy
            .as_ref()
            .map(|c| c.version.as_str())
            .unwrap_or(""),
        report.device.name
    );
    bar_chart(
        path,
        &title,
        "speedup (x), 1 = as fast as CuPy",
        &bars,
        1.0,
        |v| format!("{v:.2}x"),
    )?;
    Ok(true)
}

/// Percent of the ceiling (copy bandwidth or arithmetic peak) per kernel; `Ok(false)` when no
/// row has one.
pub fn ceiling_chart(report: &Report, path: &Path) -> Result<bool, String> {
    let bars: Vec<Bar> = report
        .rows
        .iter()
        .filter_map(|r| {
            r.pct_of_ceiling.map(|p| Bar {
                label: bar_label(r),
                value: p,
            })
        })
        .collect();
    if bars.is_empty() {
        return Ok(false);
    }
    let title = format!(
        "gpukit on {}: percent of ceiling (copy bandwidth or arithmetic peak)",
        report.device.name
    );
    bar_chart(path, &title, "% of ceiling", &bars, 100.0, |v| {
        format!("{v:.0}%")
    })?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::tests::sample_report;

    #[test]
    fn writes_png_charts_with_text() {
        let dir = tempfile::tempdir().unwrap();
        let report = sample_report();
        let p = dir.path().join("speedup.png");
        assert!(speedup_chart(&report, &p).unwrap());
        let bytes = std::fs::read(&p).unwrap();
        assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");
        let c = dir.path().join("ceiling.png");
        assert!(ceiling_chart(&report, &c).unwrap());
        // Labels are drawn: the chart differs from the same chart with empty labels.
        let bars = vec![
            Bar {
                label: "vector_add f32".into(),
                value: 1.5,
            },
            Bar {
                label: "gemm bf16".into(),
                value: 0.8,
            },
        ];
        let a = dir.path().join("a.png");
        let b = dir.path().join("b.png");
        bar_chart(&a, "t", "x", &bars, 1.0, |v| format!("{v}")).unwrap();
        let blank: Vec<Bar> = bars
            .iter()
            .map(|b| Bar {
                label: String::new(),
                value: b.value,
            })
            .collect();
        bar_chart(&b, "t", "x", &blank, 1.0, |v| format!("{v}")).unwrap();
        assert_ne!(std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap());
        let mut none = report.clone();
        none.rows.iter_mut().for_each(|r| r.speedup = None);
        assert!(!speedup_chart(&none, &dir.path().join("n.png")).unwrap());
        assert!(bar_chart(&a, "t", "x", &[], 1.0, |v| format!("{v}")).is_err());
    }
}
