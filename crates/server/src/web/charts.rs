//! The reports page's charts, drawn on the server as SVG with `plotters`' SVG backend (no
//! script, no fonts of its own: the text is `<text>` in the page's font), in the
//! stylesheet's colours. Each chart comes with a sentence that says what it shows; the page
//! puts that in the chart's accessible name, and the tables below carry every figure.

use plotters::coord::ranged1d::SegmentValue;
use plotters::prelude::*;

use super::PageError;
use crate::reports::{Group, SlaFigures};

const SIZE: (u32, u32) = (560, 250);
const INK: RGBColor = RGBColor(0x1d, 0x23, 0x30);
const MUTED: RGBColor = RGBColor(0x5d, 0x66, 0x77);
const GRID: RGBColor = RGBColor(0xe4, 0xe7, 0xec);
const ACCENT: RGBColor = RGBColor(0x1f, 0x5f, 0xbf);
const LIGHT_ACCENT: RGBColor = RGBColor(0x8f, 0xb0, 0xe3);
const GREEN: RGBColor = RGBColor(0x2f, 0x8a, 0x52);
const RED: RGBColor = RGBColor(0xc0, 0x39, 0x2b);
const GREY: RGBColor = RGBColor(0xc9, 0xce, 0xd8);

type Drawn = Result<(), Box<dyn std::error::Error>>;

fn failed(what: &str, e: Box<dyn std::error::Error>) -> PageError {
    PageError::Api(crate::error::ApiError::Internal(anyhow::anyhow!(
        "drawing the {what} chart: {e}"
    )))
}

/// "2025-W23" → "W23".
fn short_week(key: &str) -> String {
    key.rsplit_once('-').map_or(key, |(_, w)| w).to_owned()
}

/// A round upper bound for an axis that starts at zero.
fn top(max: f64) -> f64 {
    if max <= 0.0 {
        return 1.0;
    }
    let step = 10f64.powf(max.log10().floor());
    (max / step).ceil() * step
}

/// Every how many weeks a label fits under the axis.
fn label_every(n: usize) -> usize {
    n.div_ceil(13).max(1)
}

fn style(size: u32, color: &RGBColor) -> TextStyle<'static> {
    ("sans-serif", size).into_font().color(color)
}

/// Escalations per 1,000 tickets, one bar per week.
pub fn rate_by_week(weeks: &[Group]) -> Result<(String, String), PageError> {
    let values: Vec<Option<f64>> = weeks
        .iter()
        .map(|g| g.figures.escalations_per_1000_tickets)
        .collect();
    let labels: Vec<String> = weeks.iter().map(|g| short_week(&g.key)).collect();
    let known: Vec<f64> = values.iter().flatten().copied().collect();
    let max = known.iter().copied().fold(0.0, f64::max);
    let mut svg = String::new();
    let draw = |svg: &mut String| -> Drawn {
        let root = SVGBackend::with_string(svg, SIZE).into_drawing_area();
        root.fill(&WHITE)?;
        let n = values.len().max(1) as i32;
        let mut chart = ChartBuilder::on(&root)
            .margin(10)
            .x_label_area_size(30)
            .y_label_area_size(56)
            .build_cartesian_2d((0..n).into_segmented(), 0f64..top(max))?;
        let every = label_every(values.len());
        chart
            .configure_mesh()
            .disable_x_mesh()
            .bold_line_style(GRID)
            .light_line_style(TRANSPARENT)
            .axis_style(MUTED)
            .label_style(style(14, &MUTED))
            .axis_desc_style(style(14, &INK))
            .y_desc("per 1,000 tickets")
            .x_labels(values.len())
            .x_label_formatter(&|v| match v {
                SegmentValue::CenterOf(i) if (*i as usize).is_multiple_of(every) => {
                    labels.get(*i as usize).cloned().unwrap_or_default()
                }
                _ => String::new(),
            })
            .y_labels(5)
            .draw()?;
        chart.draw_series(values.iter().enumerate().filter_map(|(i, v)| {
            let i = i as i32;
            v.map(|v| {
                let mut bar = Rectangle::new(
                    [
                        (SegmentValue::Exact(i), 0.0),
                        (SegmentValue::Exact(i + 1), v),
                    ],
                    ACCENT.filled(),
                );
                bar.set_margin(0, 0, 2, 2);
                bar
            })
        }))?;
        root.present()?;
        Ok(())
    };
    draw(&mut svg).map_err(|e| failed("escalation rate", e))?;
    let text = if known.is_empty() {
        "Escalations per 1,000 tickets by week: no tickets in this period.".to_owned()
    } else {
        let min = known.iter().copied().fold(f64::INFINITY, f64::min);
        format!(
            "Escalations per 1,000 tickets by week, {} weeks, from {min:.1} to {max:.1}.",
            values.len()
        )
    };
    Ok((svg, text))
}

/// Time to first response by week: the median and the 90th percentile, in hours.
pub fn response_by_week(weeks: &[Group]) -> Result<(String, String), PageError> {
    let hours = |s: Option<i64>| s.map(|s| s as f64 / 3_600.0);
    let p50: Vec<Option<f64>> = weeks
        .iter()
        .map(|g| hours(g.figures.time_to_first_response.p50_s))
        .collect();
    let p90: Vec<Option<f64>> = weeks
        .iter()
        .map(|g| hours(g.figures.time_to_first_response.p90_s))
        .collect();
    let labels: Vec<String> = weeks.iter().map(|g| short_week(&g.key)).collect();
    let max = p90
        .iter()
        .chain(&p50)
        .flatten()
        .copied()
        .fold(0.0, f64::max);
    let mut svg = String::new();
    let draw = |svg: &mut String| -> Drawn {
        let root = SVGBackend::with_string(svg, SIZE).into_drawing_area();
        root.fill(&WHITE)?;
        let n = p50.len().max(1);
        let mut chart = ChartBuilder::on(&root)
            .margin(10)
            .x_label_area_size(30)
            .y_label_area_size(56)
            .build_cartesian_2d(-0.5f64..(n as f64 - 0.5), 0f64..top(max))?;
        let every = label_every(n);
        chart
            .configure_mesh()
            .disable_x_mesh()
            .bold_line_style(GRID)
            .light_line_style(TRANSPARENT)
            .axis_style(MUTED)
            .label_style(style(14, &MUTED))
            .axis_desc_style(style(14, &INK))
            .y_desc("hours")
            .x_labels(n.div_ceil(every))
            .x_label_formatter(&|x| {
                let i = x.round();
                if (x - i).abs() < 1e-6 && i >= 0.0 && (i as usize).is_multiple_of(every) {
                    labels.get(i as usize).cloned().unwrap_or_default()
                } else {
                    String::new()
                }
            })
            .y_labels(5)
            .draw()?;
        // The key is the figure's caption on the page.
        for (series, color) in [(&p90, LIGHT_ACCENT), (&p50, ACCENT)] {
            // A week without a response is a gap in the line, not a bridge over it.
            let mut runs: Vec<Vec<(f64, f64)>> = vec![Vec::new()];
            for (i, v) in series.iter().enumerate() {
                match v {
                    Some(v) => runs.last_mut().map_or((), |r| r.push((i as f64, *v))),
                    None => runs.push(Vec::new()),
                }
            }
            for run in runs.into_iter().filter(|r| !r.is_empty()) {
                chart.draw_series(LineSeries::new(run.clone(), color.stroke_width(2)))?;
                chart.draw_series(run.into_iter().map(|p| Circle::new(p, 3, color.filled())))?;
            }
        }
        root.present()?;
        Ok(())
    };
    draw(&mut svg).map_err(|e| failed("first response", e))?;
    let known: Vec<f64> = p50.iter().flatten().copied().collect();
    let text = if known.is_empty() {
        "Time to first response by week: no responses in this period.".to_owned()
    } else {
        let lo = known.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = known.iter().copied().fold(0.0, f64::max);
        format!(
            "Time to first response by week, median and 90th percentile in hours; \
             the weekly median runs from {lo:.1} to {hi:.1} hours."
        )
    };
    Ok((svg, text))
}

/// SLA compliance: one bar per clock, split into met, breached and still running.
pub fn sla_by_clock(sla: &SlaFigures) -> Result<(String, String), PageError> {
    let clocks = [
        ("Acknowledge", &sla.acknowledge),
        ("Update", &sla.update),
        ("Resolve", &sla.resolve),
    ];
    let mut svg = String::new();
    let draw = |svg: &mut String| -> Drawn {
        let root = SVGBackend::with_string(svg, (SIZE.0, 170)).into_drawing_area();
        root.fill(&WHITE)?;
        let mut chart = ChartBuilder::on(&root)
            .margin(10)
            .x_label_area_size(30)
            .y_label_area_size(100)
            .build_cartesian_2d(0f64..100f64, (0..3i32).into_segmented())?;
        chart
            .configure_mesh()
            .disable_y_mesh()
            .bold_line_style(GRID)
            .light_line_style(TRANSPARENT)
            .axis_style(MUTED)
            .label_style(style(14, &INK))
            .x_labels(6)
            .x_label_formatter(&|v| format!("{v:.0}%"))
            .y_labels(3)
            .y_label_formatter(&|v| match v {
                SegmentValue::CenterOf(i) => clocks
                    .get(*i as usize)
                    .map_or_else(String::new, |(name, _)| (*name).to_owned()),
                _ => String::new(),
            })
            .draw()?;
        for (i, (_, c)) in clocks.iter().enumerate() {
            let total = (c.met + c.breached + c.running) as f64;
            if total == 0.0 {
                continue;
            }
            let i = i as i32;
            let mut at = 0.0;
            for (count, color) in [(c.met, GREEN), (c.breached, RED), (c.running, GREY)] {
                let width = count as f64 * 100.0 / total;
                if width > 0.0 {
                    let mut bar = Rectangle::new(
                        [
                            (at, SegmentValue::Exact(i)),
                            (at + width, SegmentValue::Exact(i + 1)),
                        ],
                        color.filled(),
                    );
                    bar.set_margin(6, 6, 0, 0);
                    chart.draw_series(std::iter::once(bar))?;
                }
                at += width;
            }
        }
        root.present()?;
        Ok(())
    };
    draw(&mut svg).map_err(|e| failed("SLA", e))?;
    let said: Vec<String> = clocks
        .iter()
        .map(|(name, c)| match c.met_share {
            Some(s) => format!(
                "{name} {:.0}% met, {} breached, {} running",
                s * 100.0,
                c.breached,
                c.running
            ),
            None => format!("{name}: no escalations"),
        })
        .collect();
    Ok((
        svg,
        format!(
            "SLA compliance per clock (met green, breached red, running grey): {}.",
            said.join("; ")
        ),
    ))
}
