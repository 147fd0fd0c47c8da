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
pub use super::chart::downsample;
use super::chart::{bounds, loss_chart, series, status_style, x_labels};
use super::panels::{draw_compare, draw_help, draw_leaderboard, draw_scores};
use super::state::Status;

/// The smallest terminal the dashboard draws into.
pub const MIN_SIZE: (u16, u16) = (60, 15);

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
