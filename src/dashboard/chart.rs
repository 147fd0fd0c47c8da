//! The loss charts and the colours both the main view and the panels draw
//! with: series on a linear or log axis, downsampled to the terminal's width.

use ratatui::layout::Constraint;
use ratatui::style::{Color, Style};
use ratatui::symbols::Marker;
use ratatui::text::Span;
use ratatui::widgets::{Axis, Block, Borders, Chart, Dataset, GraphType};

use super::state::{Status, TrialView};

/// The colours of successive trials' curves.
pub(super) const PALETTE: [Color; 8] = [
    Color::Cyan,
    Color::Yellow,
    Color::Magenta,
    Color::Green,
    Color::LightRed,
    Color::LightBlue,
    Color::White,
    Color::LightGreen,
];

/// The colour of a trial's status.
pub(super) fn status_style(s: &Status) -> Style {
    Style::default().fg(match s {
        Status::Running => Color::Green,
        Status::Done => Color::Cyan,
        Status::Stopped(_) => Color::Yellow,
        Status::Failed(_) => Color::Red,
        Status::Stale => Color::DarkGray,
        Status::Interrupted => Color::Magenta,
    })
}

/// At most `max` points, keeping the first, the last and every k-th.
pub fn downsample(points: &[(f64, f64)], max: usize) -> Vec<(f64, f64)> {
    if points.len() <= max || max < 2 {
        return points.to_vec();
    }
    let step = points.len().div_ceil(max - 1);
    let mut out: Vec<(f64, f64)> = points.iter().step_by(step).copied().collect();
    if out.last() != points.last() {
        out.push(*points.last().expect("non-empty"));
    }
    out
}

fn transform(y: f64, log: bool) -> Option<f64> {
    if !y.is_finite() {
        return None;
    }
    if log {
        (y > 0.0).then(|| y.log10())
    } else {
        Some(y)
    }
}

/// Curve points of one series of a trial.
pub(super) fn series(
    t: &TrialView,
    pick: impl Fn(&super::state::EpochPoint) -> Option<f64>,
    log: bool,
    width: u16,
) -> Vec<(f64, f64)> {
    let pts: Vec<(f64, f64)> = t
        .epochs
        .iter()
        .filter_map(|e| {
            pick(e)
                .and_then(|v| transform(v, log))
                .map(|y| (e.epoch as f64, y))
        })
        .collect();
    downsample(&pts, (width as usize * 2).max(16))
}

pub(super) fn bounds(sets: &[&[(f64, f64)]]) -> ([f64; 2], [f64; 2]) {
    let (mut x, mut y) = (
        [f64::INFINITY, f64::NEG_INFINITY],
        [f64::INFINITY, f64::NEG_INFINITY],
    );
    for p in sets.iter().flat_map(|s| s.iter()) {
        x = [x[0].min(p.0), x[1].max(p.0)];
        y = [y[0].min(p.1), y[1].max(p.1)];
    }
    if !x[0].is_finite() {
        return ([0.0, 1.0], [0.0, 1.0]);
    }
    if x[1] - x[0] < 1.0 {
        x[1] = x[0] + 1.0;
    }
    let pad = ((y[1] - y[0]) * 0.05).max(1e-9);
    ([x[0], x[1]], [y[0] - pad, y[1] + pad])
}

pub(super) fn y_labels(b: [f64; 2], log: bool) -> Vec<Span<'static>> {
    let fmt = |v: f64| {
        if log {
            format!("{:.3}", 10f64.powf(v))
        } else {
            format!("{v:.3}")
        }
    };
    vec![
        Span::raw(fmt(b[0])),
        Span::raw(fmt((b[0] + b[1]) / 2.0)),
        Span::raw(fmt(b[1])),
    ]
}

pub(super) fn x_labels(b: [f64; 2]) -> Vec<Span<'static>> {
    vec![
        Span::raw(format!("{}", b[0] as usize)),
        Span::raw(format!("{}", b[1] as usize)),
    ]
}

/// A named, coloured curve.
pub(super) type Curve<'a> = (String, Color, &'a [(f64, f64)]);

pub(super) fn loss_chart<'a>(title: String, data: Vec<Curve<'a>>, log: bool) -> Chart<'a> {
    let sets: Vec<&[(f64, f64)]> = data.iter().map(|d| d.2).collect();
    let (xb, yb) = bounds(&sets);
    let datasets = data
        .into_iter()
        .map(|(name, colour, pts)| {
            Dataset::default()
                .name(name)
                .marker(Marker::Braille)
                .graph_type(GraphType::Line)
                .style(Style::default().fg(colour))
                .data(pts)
        })
        .collect();
    Chart::new(datasets)
        .hidden_legend_constraints((Constraint::Ratio(1, 2), Constraint::Ratio(1, 2)))
        .block(Block::default().borders(Borders::ALL).title(title))
        .x_axis(
            Axis::default()
                .title("epoch")
                .bounds(xb)
                .labels(x_labels(xb)),
        )
        .y_axis(
            Axis::default()
                .title(if log { "loss (log)" } else { "loss" })
                .bounds(yb)
                .labels(y_labels(yb, log)),
        )
}
