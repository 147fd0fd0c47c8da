//! The dashboard: state read from run folders (incremental, robust), every
//! view drawn into ratatui's TestBackend, and the real binary in tmux while a
//! training writes events.

use std::path::Path;
use std::time::{Duration, SystemTime};

use earshot::dashboard::draw::{downsample, draw};
use earshot::dashboard::{App, Key, RunsState, Status, View};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

fn event(epoch: usize, split: &str, loss: f64) -> String {
    format!(
        "{{\"epoch\":{epoch},\"split\":\"{split}\",\"loss\":{loss},\"lr\":0.001,\"t\":1.0,\"trial\":\"x\"}}\n"
    )
}

/// runs/exp/{rnn,cae}: rnn finished and evaluated, cae still running.
fn fixture(root: &Path) {
    let rnn = root.join("exp/rnn");
    let cae = root.join("exp/cae");
    std::fs::create_dir_all(&rnn).unwrap();
    std::fs::create_dir_all(&cae).unwrap();
    let mut ev = String::new();
    for e in 1..=5 {
        ev += &event(e, "train", 1.0 / e as f64);
        ev += &event(e, "valid", 1.2 / e as f64);
    }
    ev += "{\"status\":\"done\",\"reason\":null}\n";
    std::fs::write(rnn.join("events.jsonl"), ev).unwrap();
    std::fs::write(
        rnn.join("metrics.json"),
        r#"{"status":"done","auc":0.9,"pauc":0.7,"threshold":0.5,"mse":0.56}"#,
    )
    .unwrap();
    std::fs::write(
        rnn.join("scores.csv"),
        "file,score,label,flag\na.wav,0.2,normal,0\nb,c.wav,0.3,normal,0\nd.wav,0.8,anomaly,1\ne.wav,0.9,anomaly,1\n",
    )
    .unwrap();
    std::fs::write(
        cae.join("events.jsonl"),
        event(1, "train", 2.0) + &event(1, "valid", 2.5),
    )
    .unwrap();
}

fn render(app: &App, w: u16, h: u16) -> Vec<String> {
    let mut term = Terminal::new(TestBackend::new(w, h)).unwrap();
    term.draw(|f| draw(f, app)).unwrap();
    let buf = term.backend().buffer().clone();
    (0..h)
        .map(|y| {
            (0..w)
                .map(|x| buf[(x, y)].symbol().to_string())
                .collect::<String>()
        })
        .collect()
}

fn app(root: &Path) -> App {
    let mut app = App::new(RunsState::new(root));
    app.now = SystemTime::now();
    app
}

#[test]
fn state_reads_trials_incrementally_and_survives_bad_lines_and_deletions() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("runs");
    fixture(&root);
    let mut state = RunsState::new(&root);
    assert_eq!(
        state.trials.keys().collect::<Vec<_>>(),
        ["exp/cae", "exp/rnn"]
    );
    let rnn = &state.trials["exp/rnn"];
    assert_eq!(rnn.epochs.len(), 5);
    assert_eq!(rnn.status(SystemTime::now()), Status::Done);
    assert_eq!(
        rnn.scores,
        vec![(0.2, false), (0.3, false), (0.8, true), (0.9, true)],
        "a comma in a file name"
    );
    assert!((rnn.best_valid().unwrap() - 0.24).abs() < 1e-12);

    // Appended events are read from the last offset; a half line waits for its end.
    use std::io::Write;
    let path = root.join("exp/cae/events.jsonl");
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .unwrap();
    let line = event(2, "valid", 1.5);
    f.write_all(&line.as_bytes()[..10]).unwrap();
    state.refresh();
    assert_eq!(state.trials["exp/cae"].epochs.len(), 1);
    f.write_all(&line.as_bytes()[10..]).unwrap();
    f.write_all(b"{not json\n").unwrap();
    state.refresh();
    let cae = &state.trials["exp/cae"];
    assert_eq!(cae.epochs.len(), 2);
    assert_eq!(cae.malformed, 1);
    assert_eq!(cae.status(SystemTime::now()), Status::Running);
    assert_eq!(
        cae.status(SystemTime::now() + Duration::from_secs(600)),
        Status::Stale
    );
    // Its lock names a process of this machine that is gone: interrupted, at once.
    let mut child = std::process::Command::new("true").spawn().unwrap();
    let dead = child.id();
    child.wait().unwrap();
    let claims = root.join("exp/.claims");
    std::fs::create_dir_all(&claims).unwrap();
    std::fs::write(
        claims.join("cae.lock"),
        format!("{} {dead}\n", earshot::fsx::host()),
    )
    .unwrap();
    assert_eq!(cae.status(SystemTime::now()), Status::Interrupted);
    // A live holder (this process) keeps it running.
    std::fs::write(
        claims.join("cae.lock"),
        format!("{} {}\n", earshot::fsx::host(), std::process::id()),
    )
    .unwrap();
    assert_eq!(cae.status(SystemTime::now()), Status::Running);
    std::fs::remove_dir_all(&claims).unwrap();

    // A trial appearing, and one deleted while watched.
    std::fs::create_dir_all(root.join("exp2/gru")).unwrap();
    std::fs::write(root.join("exp2/gru/events.jsonl"), event(1, "train", 1.0)).unwrap();
    std::fs::remove_dir_all(root.join("exp/cae")).unwrap();
    state.refresh();
    assert_eq!(
        state.trials.keys().collect::<Vec<_>>(),
        ["exp/rnn", "exp2/gru"]
    );
}

#[test]
fn trial_view_shows_curves_threshold_auc_and_the_footer() {
    let tmp = tempfile::tempdir().unwrap();
    fixture(&tmp.path().join("runs"));
    let mut app = app(&tmp.path().join("runs"));
    app.on_key(Key::Down); // exp/rnn
    let lines = render(&app, 100, 30);
    let text = lines.join("\n");
    assert!(
        lines[1].starts_with("│ exp/cae running e1 2.5000"),
        "{}",
        lines[1]
    );
    assert!(
        lines[2].starts_with("│ exp/rnn done e5 0.2400"),
        "{}",
        lines[2]
    );
    assert!(text.contains("exp/rnn — done"), "{text}");
    assert!(
        text.contains("threshold 0.5000  AUC 0.900  pAUC 0.700"),
        "{text}"
    );
    assert!(
        text.contains("learning rate") && text.contains("loss (log)"),
        "{text}"
    );
    assert!(
        text.contains("normal") && text.contains("anomaly"),
        "legend: {text}"
    );
    assert!(
        lines[29].starts_with("↑↓ select  Tab view (1 trial 2 compare 3 leaderboard)"),
        "{}",
        lines[29]
    );
    app.on_key(Key::Char('l'));
    assert!(
        render(&app, 100, 30).join("\n").contains("loss "),
        "linear axis title"
    );
    // The running trial has no scores yet and says so.
    app.on_key(Key::Up);
    assert!(
        render(&app, 100, 30)
            .join("\n")
            .contains("scores appear when evaluation has run")
    );
}

#[test]
fn compare_leaderboard_help_and_too_small_views() {
    let tmp = tempfile::tempdir().unwrap();
    fixture(&tmp.path().join("runs"));
    let mut app = app(&tmp.path().join("runs"));
    app.on_key(Key::Tab);
    assert_eq!(app.view, View::Compare);
    let text = render(&app, 100, 30).join("\n");
    assert!(
        text.contains("validation loss: the selected experiment"),
        "{text}"
    );
    assert!(text.contains("rnn") && text.contains("cae"), "{text}");
    app.on_key(Key::Char(' '));
    assert!(
        render(&app, 100, 30)
            .join("\n")
            .contains("validation loss: marked trials")
    );

    app.on_key(Key::Char('3'));
    let lines = render(&app, 100, 30);
    let text = lines.join("\n");
    assert!(text.contains("leaderboard by AUC"), "{text}");
    let rnn_row = lines.iter().position(|l| l.contains("exp/rnn")).unwrap();
    let cae_row = lines.iter().rposition(|l| l.contains("exp/cae")).unwrap();
    assert!(lines[rnn_row].contains("0.9000"), "{}", lines[rnn_row]);
    let in_table = |row: usize| {
        lines[row].contains("│1 ") || lines[row].contains("│2 ") || lines[row].contains("1  ")
    };
    assert!(in_table(rnn_row));
    assert!(rnn_row < cae_row, "the trial with an AUC ranks first");
    app.on_key(Key::Char('s'));
    app.on_key(Key::Char('s'));
    assert!(
        render(&app, 100, 30)
            .join("\n")
            .contains("leaderboard by valid loss")
    );

    app.on_key(Key::Char('?'));
    assert!(
        render(&app, 100, 30)
            .join("\n")
            .contains("q            quit (training goes on)")
    );
    app.on_key(Key::Esc);
    assert!(!app.help);

    for (w, h) in [(60, 15), (61, 40), (200, 15)] {
        let text = render(&app, w, h).join("\n");
        assert!(!text.contains("too small"), "{w}x{h}");
    }
    let small = render(&app, 59, 14).join("");
    assert!(
        small.contains("terminal too small: 60x15 needed, 59x14 here"),
        "{small}"
    );
    app.on_key(Key::Char('q'));
    assert!(app.quit);
}

#[test]
fn thousands_of_epochs_are_downsampled_for_drawing() {
    let points: Vec<(f64, f64)> = (1..=5000).map(|e| (e as f64, 1.0 / e as f64)).collect();
    let d = downsample(&points, 200);
    assert!(d.len() <= 201, "{}", d.len());
    assert_eq!(d.first(), points.first());
    assert_eq!(d.last(), points.last());
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("runs/big/dense");
    std::fs::create_dir_all(&dir).unwrap();
    let ev: String = (1..=5000)
        .map(|e| event(e, "train", 1.0 / e as f64) + &event(e, "valid", 1.1 / e as f64))
        .collect();
    std::fs::write(dir.join("events.jsonl"), ev).unwrap();
    let app = app(&tmp.path().join("runs"));
    let text = render(&app, 120, 40).join("\n");
    assert!(text.contains("big/dense running e5000"), "{text}");
}

/// tmux on a private socket, or `None` (a skip; CI installs tmux, so there it fails).
struct Tmux {
    socket: String,
    dir: std::path::PathBuf,
}

impl Tmux {
    fn start(dir: &Path, tag: &str) -> Option<Self> {
        let have = std::process::Command::new("tmux")
            .arg("-V")
            .output()
            .is_ok_and(|o| o.status.success());
        if !have {
            assert!(
                std::env::var_os("CI").is_none(),
                "CI needs tmux (installed by .ci/run)"
            );
            eprintln!("skipped: tmux not installed");
            return None;
        }
        Some(Self {
            socket: format!("earshot-{tag}-{}", std::process::id()),
            dir: dir.to_path_buf(),
        })
    }

    fn run(&self, args: &[&str]) -> std::process::Output {
        std::process::Command::new("tmux")
            .arg("-L")
            .arg(&self.socket)
            .args(args)
            .current_dir(&self.dir)
            .output()
            .unwrap()
    }

    /// A detached session running `command` in the test's folder.
    fn session(&self, name: &str, command: &str) {
        let dir = self.dir.to_str().unwrap();
        let out = self.run(&[
            "new-session",
            "-d",
            "-x",
            "110",
            "-y",
            "34",
            "-s",
            name,
            "-c",
            dir,
            command,
        ]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn capture(&self, name: &str) -> String {
        String::from_utf8_lossy(&self.run(&["capture-pane", "-p", "-t", name]).stdout).into_owned()
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.run(&["kill-server"]);
    }
}

/// Generated data and an experiment `name` of `models` trained for `epochs`.
fn live_experiment(dir: &Path, name: &str, models: &str, epochs: usize) {
    let counts = earshot::data::synth::SynthCounts {
        train: 10,
        test_normal: 3,
        test_anomaly: 3,
        seconds: 1.0,
    };
    earshot::data::synth::write_dataset(&dir.join("data"), counts, 4).unwrap();
    std::fs::write(
        dir.join(format!("{name}.toml")),
        format!(
            "name = \"{name}\"\nseed = 2\n[data]\nlayout = \"folders\"\nroot = \"data\"\nframes = 8\nhop = 4\n\
             [features]\nn_mels = 32\nn_fft = 512\nhop_length = 256\n{models}\
             [train]\nepochs = {epochs}\nbatch_size = 16\npatience = 1000\n"
        ),
    )
    .unwrap();
}

/// Polls `what` until it holds or `secs` pass; returns the last value.
fn wait_for(secs: u64, mut what: impl FnMut() -> (bool, String)) -> String {
    let start = std::time::Instant::now();
    loop {
        let (done, value) = what();
        if done || start.elapsed().as_secs() > secs {
            return value;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// The real binary in tmux: curves appear while training writes events, then
/// the threshold and AUC once evaluation has run; `q` quits.
#[test]
fn the_dashboard_follows_a_live_training_in_a_terminal() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let Some(tmux) = Tmux::start(dir, "live") else {
        return;
    };
    let models = "[[model]]\nkind = \"rnn\"\nhidden = 16\nlatent = 8\n[[model]]\nkind = \"cae\"\nchannels = [4, 8]\n";
    live_experiment(dir, "live", models, 150);
    let bin = env!("CARGO_BIN_EXE_earshot");
    tmux.session("dash", &format!("{bin} dashboard runs"));
    let mut training = std::process::Command::new(bin)
        .current_dir(dir)
        .env("EARSHOT_CACHE_DIR", dir.join("cache"))
        .args(["train", "live.toml", "--device", "cpu"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // While training: the trials appear, running, with their loss curves.
    let screen = wait_for(120, || {
        let s = tmux.capture("dash");
        (
            s.contains("live/cae") && s.contains("live/rnn") && s.contains("running"),
            s,
        )
    });
    assert!(
        screen.contains("live/cae") && screen.contains("running"),
        "{screen}"
    );
    assert!(
        screen.contains("loss (log)") && screen.contains("train") && screen.contains("valid"),
        "{screen}"
    );
    assert!(training.wait().unwrap().success());
    // After evaluation: the selected trial's threshold and AUC.
    let evaluated = |s: &str| s.contains("AUC 0.") || s.contains("AUC 1.0");
    let screen = wait_for(30, || {
        let s = tmux.capture("dash");
        (evaluated(&s), s)
    });
    assert!(
        evaluated(&screen) && (screen.contains("threshold 0.") || screen.contains("threshold 1")),
        "{screen}"
    );
    tmux.run(&["send-keys", "-t", "dash", "q"]);
    let still_there = wait_for(10, || {
        let alive = tmux.run(&["has-session", "-t", "dash"]).status.success();
        (!alive, alive.to_string())
    });
    assert_eq!(still_there, "false", "q did not quit");
}

/// `earshot train --tui`: the dashboard opens on the run; closing it leaves the
/// training running, and the comparison table is printed when it ends.
#[test]
fn train_tui_opens_the_dashboard_and_closing_it_keeps_training() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let Some(tmux) = Tmux::start(dir, "tui") else {
        return;
    };
    live_experiment(
        dir,
        "tui",
        "[[model]]\nkind = \"rnn\"\nhidden = 16\nlatent = 8\n",
        400,
    );
    let bin = env!("CARGO_BIN_EXE_earshot");
    let log = dir.join("stderr.txt");
    tmux.session(
        "tui",
        &format!(
            "EARSHOT_CACHE_DIR=cache {bin} train tui.toml --device cpu --tui 2> {}; sleep 30",
            log.display()
        ),
    );
    let screen = wait_for(60, || {
        let s = tmux.capture("tui");
        (s.contains("tui/rnn") && s.contains("running"), s)
    });
    assert!(
        screen.contains("tui/rnn") && screen.contains("running"),
        "dashboard did not show the run: {screen}"
    );
    let events = dir.join("runs/tui/rnn/events.jsonl");
    let lines_when_closed = std::fs::read_to_string(&events).unwrap().lines().count();
    tmux.run(&["send-keys", "-t", "tui", "q"]);
    let screen = wait_for(180, || {
        let s = tmux.capture("tui");
        (s.contains("reconstruction of held-out normal data"), s)
    });
    assert!(
        screen.contains("reconstruction of held-out normal data"),
        "no table after closing: {screen}"
    );
    let stderr = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(
        stderr.contains("dashboard closed; training goes on") || lines_when_closed > 700,
        "{stderr}"
    );
    let events = std::fs::read_to_string(&events).unwrap();
    assert!(
        events.lines().count() > lines_when_closed,
        "training went on after q"
    );
    assert!(events.contains("\"status\":\"done\""));
}
