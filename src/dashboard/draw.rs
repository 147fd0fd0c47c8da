//! Drawing: a pure function of [`App`] onto a ratatui frame.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::symbols::Marker;
use ratatui::text::{Line, Span};
use ratatui::widgets::{
    Axis, Block, Borders, Chart, Dataset, GraphType, List, ListItem, Paragraph, Wrap,
};

use super::app::{App, View};
use super::panels::{draw_compare, draw_help, draw_leaderboard, draw_scores};
use super::state::{Status, TrialView};

/// The smallest terminal the dashboard draws into.
pub const MIN_SIZE: (u16, u16) = (60, 15);

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

/// Draws the whole dashboard.
pub fn draw(frame: &mut Frame, app: &App) {
    let area = frame.area();
    if area.width < MIN_SIZE.0 || area.height < MIN_SIZE.1 {
        let text = format!(
            "terminal too small: {}x{} needed, {}x{} here (q quits)",
            MIN_SIZE.0, MIN_SIZE.1, area.width, area.height
        );
        frame.render_widget(Paragraph::new(text).wrap(Wrap { trim: true }), area);
        return;
    }
    let [main, footer] = Layout::vertical([Constraint::Min(0), Constraint::Length(1)]).areas(area);
    let list_width = (area.width / 3).clamp(26, 44);
    let [left, right] =
        Layout::horizontal([Constraint::Length(list_width), Constraint::Min(0)]).areas(main);
    draw_list(frame, app, left);
    match app.view {
        View::Trial => draw_trial(frame, app, right),
        View::Compare => draw_compare(frame, app, right),
        View::Leaderboard => draw_leaderboard(frame, app, right),
    }
    let keys = "↑↓ select  Tab view (1 trial 2 compare 3 leaderboard)  l log  space mark  s sort  ? help  q quit";
    frame.render_widget(
        Paragraph::new(keys).style(Style::default().fg(Color::DarkGray)),
        footer,
    );
    if app.help {
        draw_help(frame, area);
    }
}

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

fn draw_list(frame: &mut Frame, app: &App, area: Rect) {
    let items: Vec<ListItem> = app
        .state
        .trials
        .values()
        .enumerate()
        .map(|(i, t)| {
            let status = t.status(app.now);
            let mark = if app.marked.contains(&t.key) {
                "+"
            } else {
                " "
            };
            let best = t.best_valid().map_or("—".into(), |v| format!("{v:.4}"));
            let epoch = t.epochs.last().map_or(0, |e| e.epoch);
            let line = Line::from(vec![
                Span::raw(format!("{mark}{} ", t.key)),
                Span::styled(status.word(), status_style(&status)),
                Span::raw(format!(" e{epoch} {best}")),
            ]);
            let style = if i == app.selected {
                Style::default().add_modifier(Modifier::REVERSED)
            } else {
                Style::default()
            };
            ListItem::new(line).style(style)
        })
        .collect();
    let title = format!(
        " {} trial(s) in {} ",
        app.state.trials.len(),
        app.state.root.display()
    );
    let list = if items.is_empty() {
        List::new(vec![ListItem::new(
            "no trial yet: waiting for runs to appear",
        )])
    } else {
        List::new(items)
    };
    frame.render_widget(
        list.block(Block::default().borders(Borders::ALL).title(title)),
        area,
    );
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

fn bounds(sets: &[&[(f64, f64)]]) -> ([f64; 2], [f64; 2]) {
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

fn y_labels(b: [f64; 2], log: bool) -> Vec<Span<'static>> {
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

fn x_labels(b: [f64; 2]) -> Vec<Span<'static>> {
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

fn draw_trial(frame: &mut Frame, app: &App, area: Rect) {
    let Some(t) = app.selected_trial() else {
        frame.render_widget(
            Paragraph::new("no trial selected").block(Block::default().borders(Borders::ALL)),
            area,
        );
        return;
    };
    let [top, bottom] =
        Layout::vertical([Constraint::Percentage(60), Constraint::Percentage(40)]).areas(area);
    let train = series(t, |e| e.train, app.log_scale, top.width);
    let valid = series(t, |e| e.valid, app.log_scale, top.width);
    let status = t.status(app.now);
    let mut title = format!(" {} — {}", t.key, status.word());
    if let Status::Failed(r) | Status::Stopped(r) = &status {
        title.push_str(&format!(": {r}"));
    }
    if t.malformed > 0 {
        title.push_str(&format!(" ({} bad event lines skipped)", t.malformed));
    }
    title.push(' ');
    let chart = loss_chart(
        title,
        vec![
            ("train".into(), Color::Cyan, &train),
            ("valid".into(), Color::Yellow, &valid),
        ],
        app.log_scale,
    );
    frame.render_widget(chart, top);

    let [lr_area, hist_area] =
        Layout::horizontal([Constraint::Percentage(35), Constraint::Percentage(65)]).areas(bottom);
    let lr = series(t, |e| e.lr, false, lr_area.width);
    let (xb, yb) = bounds(&[&lr]);
    let lr_chart = Chart::new(vec![
        Dataset::default()
            .marker(Marker::Braille)
            .graph_type(GraphType::Line)
            .style(Style::default().fg(Color::Green))
            .data(&lr),
    ])
    .block(
        Block::default()
            .borders(Borders::ALL)
            .title(" learning rate "),
    )
    .x_axis(Axis::default().bounds(xb).labels(x_labels(xb)))
    .y_axis(Axis::default().bounds(yb).labels(vec![
        Span::raw(format!("{:.1e}", yb[0].max(0.0))),
        Span::raw(format!("{:.1e}", yb[1])),
    ]));
    frame.render_widget(lr_chart, lr_area);
    draw_scores(frame, t, hist_area);
}
