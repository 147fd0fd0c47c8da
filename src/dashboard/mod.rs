//! `earshot dashboard`: a live terminal view of run folders — trials and their
//! status, loss curves, learning rate, thresholds and score histograms, a
//! comparison of validation curves and a leaderboard. State ([`state`]),
//! input ([`app`]) and drawing ([`draw`]) are apart; drawing is a pure
//! function of the state, tested with ratatui's `TestBackend`.

pub mod app;
mod chart;
pub mod draw;
mod panels;
pub mod state;

use std::path::Path;
use std::time::{Duration, Instant, SystemTime};

use ratatui::crossterm::event::{self, Event, KeyCode, KeyEventKind};

pub use app::{App, Key, SortKey, View};
pub use state::{RunsState, Status, TrialView};

/// How often run folders are re-read.
const REFRESH: Duration = Duration::from_millis(500);

fn key_of(code: KeyCode) -> Option<Key> {
    Some(match code {
        KeyCode::Char(c) => Key::Char(c),
        KeyCode::Up => Key::Up,
        KeyCode::Down => Key::Down,
        KeyCode::Tab => Key::Tab,
        KeyCode::Esc => Key::Esc,
        _ => return None,
    })
}

/// Runs the dashboard on `root` until `q`; `keep_going` says whether to keep
/// refreshing (always true for a plain dashboard). The terminal is restored on
/// exit, also after a panic (ratatui's hook).
pub fn run(root: &Path) -> std::io::Result<()> {
    let mut terminal = ratatui::try_init()?;
    let result = (|| {
        let mut app = App::new(RunsState::new(root));
        let mut last_refresh = Instant::now();
        loop {
            app.now = SystemTime::now();
            terminal.draw(|f| draw::draw(f, &app))?;
            // Block on input up to the next refresh: idle costs a wake-up per 0.5 s.
            let wait = REFRESH.saturating_sub(last_refresh.elapsed());
            if event::poll(wait)? {
                if let Event::Key(k) = event::read()?
                    && k.kind == KeyEventKind::Press
                    && let Some(key) = key_of(k.code)
                {
                    app.on_key(key);
                }
                if app.quit {
                    return Ok(());
                }
            }
            if last_refresh.elapsed() >= REFRESH {
                app.state.refresh();
                app.clamp_selection();
                last_refresh = Instant::now();
            }
        }
    })();
    ratatui::restore();
    result
}
