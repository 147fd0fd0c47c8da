//! The dashboard's view state and what keys do to it (no drawing, no I/O).

use std::collections::BTreeSet;
use std::time::SystemTime;

use super::state::{RunsState, TrialView};

/// The right-hand view.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum View {
    /// The selected trial: losses, learning rate, threshold and score histograms.
    Trial,
    /// Validation curves of several trials overlaid.
    Compare,
    /// Trials ranked by a metric.
    Leaderboard,
}

/// What the leaderboard sorts by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortKey {
    /// ROC AUC, higher first.
    Auc,
    /// Partial AUC, higher first.
    Pauc,
    /// Best validation loss, lower first.
    ValidLoss,
}

impl SortKey {
    /// Its column title.
    pub fn title(self) -> &'static str {
        match self {
            SortKey::Auc => "AUC",
            SortKey::Pauc => "pAUC",
            SortKey::ValidLoss => "valid loss",
        }
    }

    /// The value of `t`, oriented so that larger sorts first.
    pub fn key(self, t: &TrialView) -> Option<f64> {
        match self {
            SortKey::Auc => t.metric("auc"),
            SortKey::Pauc => t.metric("pauc"),
            SortKey::ValidLoss => t.best_valid().map(|v| -v),
        }
    }
}

/// A key, independent of the terminal library.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Key {
    /// A character.
    Char(char),
    /// Arrow up.
    Up,
    /// Arrow down.
    Down,
    /// Tab.
    Tab,
    /// Escape.
    Esc,
}

/// Everything drawing needs.
#[derive(Debug, Clone)]
pub struct App {
    /// The run folders' contents.
    pub state: RunsState,
    /// Index of the selected trial in `state.trials`.
    pub selected: usize,
    /// The right-hand view.
    pub view: View,
    /// Losses on a log scale.
    pub log_scale: bool,
    /// The help overlay is open.
    pub help: bool,
    /// Trials marked for the comparison (empty: the selected trial's experiment).
    pub marked: BTreeSet<String>,
    /// The leaderboard's order.
    pub sort: SortKey,
    /// "Now", for staleness (set by the loop; fixed in tests).
    pub now: SystemTime,
    /// `q` was pressed.
    pub quit: bool,
}

impl App {
    /// A dashboard over `state`.
    pub fn new(state: RunsState) -> Self {
        Self {
            state,
            selected: 0,
            view: View::Trial,
            log_scale: true,
            help: false,
            marked: BTreeSet::new(),
            sort: SortKey::Auc,
            now: SystemTime::now(),
            quit: false,
        }
    }

    /// The selected trial.
    pub fn selected_trial(&self) -> Option<&TrialView> {
        self.state
            .trials
            .values()
            .nth(self.selected.min(self.state.trials.len().saturating_sub(1)))
    }

    /// The trials the comparison overlays.
    pub fn compared(&self) -> Vec<&TrialView> {
        if !self.marked.is_empty() {
            return self
                .state
                .trials
                .values()
                .filter(|t| self.marked.contains(&t.key))
                .collect();
        }
        let experiment = self
            .selected_trial()
            .and_then(|t| t.key.split('/').next())
            .unwrap_or("");
        self.state
            .trials
            .values()
            .filter(|t| t.key.split('/').next() == Some(experiment))
            .collect()
    }

    /// Trials in leaderboard order.
    pub fn ranked(&self) -> Vec<&TrialView> {
        let mut rows: Vec<&TrialView> = self.state.trials.values().collect();
        rows.sort_by(|a, b| match (self.sort.key(a), self.sort.key(b)) {
            (Some(x), Some(y)) => y.total_cmp(&x),
            (Some(_), None) => std::cmp::Ordering::Less,
            (None, Some(_)) => std::cmp::Ordering::Greater,
            (None, None) => a.key.cmp(&b.key),
        });
        rows
    }

    /// Keeps the selection inside the list after trials come and go.
    pub fn clamp_selection(&mut self) {
        self.selected = self.selected.min(self.state.trials.len().saturating_sub(1));
    }

    /// Applies a key press.
    pub fn on_key(&mut self, key: Key) {
        if self.help {
            if matches!(key, Key::Char('?') | Key::Esc | Key::Char('q')) {
                self.help = false;
            }
            return;
        }
        let count = self.state.trials.len();
        match key {
            Key::Char('q') => self.quit = true,
            Key::Esc => {}
            Key::Up | Key::Char('k') => self.selected = self.selected.saturating_sub(1),
            Key::Down | Key::Char('j') => {
                self.selected = (self.selected + 1).min(count.saturating_sub(1))
            }
            Key::Tab | Key::Char('v') => {
                self.view = match self.view {
                    View::Trial => View::Compare,
                    View::Compare => View::Leaderboard,
                    View::Leaderboard => View::Trial,
                }
            }
            Key::Char('1') => self.view = View::Trial,
            Key::Char('2') => self.view = View::Compare,
            Key::Char('3') => self.view = View::Leaderboard,
            Key::Char('l') => self.log_scale = !self.log_scale,
            Key::Char('?') => self.help = true,
            Key::Char(' ') => {
                if let Some(key) = self.selected_trial().map(|t| t.key.clone())
                    && !self.marked.remove(&key)
                {
                    self.marked.insert(key);
                }
            }
            Key::Char('s') => {
                self.sort = match self.sort {
                    SortKey::Auc => SortKey::Pauc,
                    SortKey::Pauc => SortKey::ValidLoss,
                    SortKey::ValidLoss => SortKey::Auc,
                }
            }
            Key::Char(_) => {}
        }
    }
}
