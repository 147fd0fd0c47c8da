//! The dashboard's other panels: score histograms with the threshold, the
//! comparison of validation curves, the leaderboard and the help overlay.

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::symbols::Marker;
use ratatui::text::{Line, Span};
use ratatui::widgets::{
    Axis, Block, Borders, Cell, Chart, Clear, Dataset, GraphType, Paragraph, Row, Table, Wrap,
};

use super::app::App;
use super::chart::{PALETTE, loss_chart, series, status_style};
use super::state::TrialView;

/// Score histograms of normal vs anomaly clips around the threshold.
pub(super) fn draw_scores(frame: &mut Frame, t: &TrialView, area: Rect) {
    let threshold = t.metric("threshold");
    let auc = t.metric("auc").map_or("n/a".into(), |v| format!("{v:.3}"));
    let pauc = t.metric("pauc").map_or("n/a".into(), |v| format!("{v:.3}"));
    let thr = threshold.map_or("n/a".into(), |v| format!("{v:.4}"));
    let title = format!(" threshold {thr}  AUC {auc}  pAUC {pauc} ");
    if t.scores.is_empty() {
        let text = if t.metrics.is_some() {
            "no scored test clips"
        } else {
            "scores appear when evaluation has run"
        };
        frame.render_widget(
            Paragraph::new(text).block(Block::default().borders(Borders::ALL).title(title)),
            area,
        );
        return;
    }
    let bins = ((area.width as usize).saturating_sub(10) / 2).clamp(8, 40);
    let values = t.scores.iter().map(|s| s.0).chain(threshold);
    let (lo, hi) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), v| {
        (l.min(v), h.max(v))
    });
    let width = ((hi - lo) / bins as f64).max(1e-12);
    let mut counts = vec![[0u32; 2]; bins];
    for &(s, anomaly) in &t.scores {
        counts[(((s - lo) / width) as usize).min(bins - 1)][usize::from(anomaly)] += 1;
    }
    let top = counts.iter().flatten().copied().max().unwrap_or(1).max(1) as f64;
    let bars = |class: usize| -> Vec<(f64, f64)> {
        counts
            .iter()
            .enumerate()
            .filter(|(_, c)| c[class] > 0)
            .map(|(b, c)| (lo + (b as f64 + 0.5) * width, c[class] as f64))
            .collect()
    };
    let (normal, anomaly) = (bars(0), bars(1));
    let line: Vec<(f64, f64)> = threshold
        .map(|v| vec![(v, 0.0), (v, top)])
        .unwrap_or_default();
    let mut sets = vec![
        Dataset::default()
            .name("normal")
            .marker(Marker::Block)
            .graph_type(GraphType::Bar)
            .style(Style::default().fg(Color::Cyan))
            .data(&normal),
        Dataset::default()
            .name("anomaly")
            .marker(Marker::Block)
            .graph_type(GraphType::Bar)
            .style(Style::default().fg(Color::Red))
            .data(&anomaly),
    ];
    if !line.is_empty() {
        sets.push(
            Dataset::default()
                .name("threshold")
                .marker(Marker::Braille)
                .graph_type(GraphType::Line)
                .style(Style::default().fg(Color::Yellow))
                .data(&line),
        );
    }
    let xb = [lo - width, lo + width * (bins as f64 + 1.0)];
    // The legend rarely fits this panel: the colour key goes in its bottom border.
    let key = Line::from(vec![
        Span::styled(" █ normal ", Style::default().fg(Color::Cyan)),
        Span::styled("█ anomaly ", Style::default().fg(Color::Red)),
        Span::styled("│ threshold ", Style::default().fg(Color::Yellow)),
    ]);
    let chart = Chart::new(sets)
        .hidden_legend_constraints((Constraint::Ratio(0, 1), Constraint::Ratio(0, 1)))
        .block(
            Block::default()
                .borders(Borders::ALL)
                .title(title)
                .title_bottom(key),
        )
        .x_axis(Axis::default().title("clip score").bounds(xb).labels(vec![
            Span::raw(format!("{:.3}", xb[0])),
            Span::raw(format!("{:.3}", xb[1])),
        ]))
        .y_axis(
            Axis::default()
                .bounds([0.0, top])
                .labels(vec![Span::raw("0"), Span::raw(format!("{top}"))]),
        );
    frame.render_widget(chart, area);
}

pub(super) fn draw_compare(frame: &mut Frame, app: &App, area: Rect) {
    let trials = app.compared();
    let curves: Vec<(String, Vec<(f64, f64)>)> = trials
        .iter()
        .map(|t| {
            (
                t.key.rsplit('/').next().unwrap_or(&t.key).to_string(),
                series(t, |e| e.valid, app.log_scale, area.width),
            )
        })
        .collect();
    let data = curves
        .iter()
        .enumerate()
        .map(|(i, (name, pts))| (name.clone(), PALETTE[i % PALETTE.len()], pts.as_slice()))
        .collect();
    let how = if app.marked.is_empty() {
        "the selected experiment (space marks trials)"
    } else {
        "marked trials"
    };
    frame.render_widget(
        loss_chart(format!(" validation loss: {how} "), data, app.log_scale),
        area,
    );
}

pub(super) fn draw_leaderboard(frame: &mut Frame, app: &App, area: Rect) {
    let fmt = |v: Option<f64>| v.map_or("—".into(), |v| format!("{v:.4}"));
    let rows: Vec<Row> = app
        .ranked()
        .into_iter()
        .enumerate()
        .map(|(i, t)| {
            let status = t.status(app.now);
            Row::new(vec![
                Cell::from(format!("{}", i + 1)),
                Cell::from(t.key.clone()),
                Cell::from(status.word()).style(status_style(&status)),
                Cell::from(fmt(t.metric("auc"))),
                Cell::from(fmt(t.metric("pauc"))),
                Cell::from(fmt(t.best_valid())),
                Cell::from(fmt(t.metric("threshold"))),
            ])
        })
        .collect();
    let header = Row::new([
        "#",
        "trial",
        "status",
        "AUC",
        "pAUC",
        "valid loss",
        "threshold",
    ])
    .style(Style::default().add_modifier(Modifier::BOLD));
    let table = Table::new(
        rows,
        [
            Constraint::Length(3),
            Constraint::Min(16),
            Constraint::Length(8),
            Constraint::Length(7),
            Constraint::Length(7),
            Constraint::Length(10),
            Constraint::Length(10),
        ],
    )
    .header(header)
    .block(
        Block::default()
            .borders(Borders::ALL)
            .title(format!(" leaderboard by {} (s changes) ", app.sort.title())),
    );
    frame.render_widget(table, area);
}

pub(super) fn draw_help(frame: &mut Frame, area: Rect) {
    let text = "earshot dashboard — follows run folders live\n\n\
        ↑/↓ or k/j   select a trial\n\
        Tab or v     next view; 1 trial, 2 compare, 3 leaderboard\n\
        l            log / linear loss axis\n\
        space        mark a trial for the comparison\n\
        s            leaderboard order: AUC, pAUC, valid loss\n\
        ?            this help (any of ? Esc q closes it)\n\
        q            quit (training goes on)\n\n\
        Status: running, done, stopped (sweep rule), failed (reason),\n\
        stale (no event for 2 minutes and no final status).";
    let w = area.width.min(66);
    let h = area.height.min(15);
    let rect = Rect::new(
        area.x + (area.width - w) / 2,
        area.y + (area.height - h) / 2,
        w,
        h,
    );
    frame.render_widget(Clear, rect);
    frame.render_widget(
        Paragraph::new(text)
            .block(Block::default().borders(Borders::ALL).title(" help "))
            .wrap(Wrap { trim: false }),
        rect,
    );
}
