//! What the dashboard knows, read from run folders only (never from the
//! training code): experiments and trials found by scanning, each trial's
//! `events.jsonl` tailed incrementally from its last offset, `metrics.json`
//! and `scores.csv` reloaded when they change.

use std::collections::BTreeMap;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use crate::records::{Event, EventRecord, TrialMetrics, TrialStatus};

/// A trial's state as the dashboard shows it.
#[derive(Debug, Clone, PartialEq)]
pub enum Status {
    /// Events are arriving.
    Running,
    /// Finished.
    Done,
    /// Stopped early by a sweep's rule.
    Stopped(String),
    /// Failed, with the reason.
    Failed(String),
    /// No event for a while and no final status: probably killed.
    Stale,
    /// The process that held the trial's lock on this machine is gone
    /// without a final status: killed, or crashed.
    Interrupted,
}

impl Status {
    /// The status a record (metrics.json or a final event) gives.
    fn from_record(status: TrialStatus, reason: Option<&str>) -> Self {
        let reason = reason.unwrap_or("").to_string();
        match status {
            TrialStatus::Done => Status::Done,
            TrialStatus::Stopped => Status::Stopped(reason),
            TrialStatus::Failed => Status::Failed(reason),
        }
    }

    /// A short word for lists.
    pub fn word(&self) -> &'static str {
        match self {
            Status::Running => "running",
            Status::Done => "done",
            Status::Stopped(_) => "stopped",
            Status::Failed(_) => "failed",
            Status::Stale => "stale",
            Status::Interrupted => "interrupted",
        }
    }
}

/// One epoch's numbers.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EpochPoint {
    /// 1-based epoch.
    pub epoch: usize,
    /// Training loss.
    pub train: Option<f64>,
    /// Validation loss.
    pub valid: Option<f64>,
    /// Learning rate.
    pub lr: Option<f64>,
}

/// One trial folder.
#[derive(Debug, Clone, PartialEq)]
pub struct TrialView {
    /// `<experiment>/<trial>`.
    pub key: String,
    /// The trial folder.
    pub dir: PathBuf,
    /// Epochs in order (a resumed epoch keeps its last values).
    pub epochs: Vec<EpochPoint>,
    /// The final status event, if any.
    pub final_status: Option<Status>,
    /// metrics.json, once written.
    pub metrics: Option<TrialMetrics>,
    /// (score, is an anomaly) from scores.csv.
    pub scores: Vec<(f64, bool)>,
    /// Event lines that were not valid JSON (skipped).
    pub malformed: usize,
    /// When the last event arrived (file modification time).
    pub last_event: Option<SystemTime>,
    offset: u64,
    partial: Vec<u8>,
    metrics_stamp: Option<SystemTime>,
    scores_stamp: Option<SystemTime>,
}

/// No event for this long (and no final status) reads as stale.
pub const STALE_AFTER: Duration = Duration::from_secs(120);

impl TrialView {
    fn new(key: String, dir: PathBuf) -> Self {
        Self {
            key,
            dir,
            epochs: Vec::new(),
            final_status: None,
            metrics: None,
            scores: Vec::new(),
            malformed: 0,
            last_event: None,
            offset: 0,
            partial: Vec::new(),
            metrics_stamp: None,
            scores_stamp: None,
        }
    }

    /// Status now.
    pub fn status(&self, now: SystemTime) -> Status {
        if let Some(s) = &self.final_status {
            return s.clone();
        }
        if let Some(m) = &self.metrics {
            return Status::from_record(m.status, m.reason.as_deref());
        }
        if self.holder_is_gone() {
            return Status::Interrupted;
        }
        match self.last_event {
            Some(t) if now.duration_since(t).unwrap_or_default() > STALE_AFTER => Status::Stale,
            _ => Status::Running,
        }
    }

    /// The trial's run lock (`<experiment>/.claims/<trial>.lock`; a sweep's
    /// `<model>-tNNN` folder is claimed as `tNNN`).
    fn lock_path(&self) -> Option<PathBuf> {
        let name = self.dir.file_name()?.to_str()?;
        let claims = self.dir.parent()?.join(".claims");
        let sweep_id = name.rsplit_once('-').map(|(_, id)| id).filter(|id| {
            id.len() > 1 && id.starts_with('t') && id[1..].chars().all(|c| c.is_ascii_digit())
        });
        [Some(name), sweep_id]
            .into_iter()
            .flatten()
            .map(|n| claims.join(format!("{n}.lock")))
            .find(|p| p.is_file())
    }

    /// Whether the lock names a process of this machine that no longer runs
    /// (a lock of another machine cannot be judged from here).
    fn holder_is_gone(&self) -> bool {
        let Some(text) = self
            .lock_path()
            .and_then(|p| std::fs::read_to_string(p).ok())
        else {
            return false;
        };
        crate::fsx::lock_holder(&text)
            .is_some_and(|(host, pid)| host == crate::fsx::host() && crate::fsx::process_gone(pid))
    }

    /// The best validation loss so far.
    pub fn best_valid(&self) -> Option<f64> {
        self.epochs
            .iter()
            .filter_map(|e| e.valid)
            .filter(|v| v.is_finite())
            .reduce(f64::min)
    }

    /// A number from metrics.json.
    pub fn metric(&self, key: &str) -> Option<f64> {
        self.metrics.as_ref().and_then(|m| m.number(key))
    }

    /// Reads what was appended to events.jsonl since the last call.
    fn tail_events(&mut self) {
        let path = self.dir.join("events.jsonl");
        let Ok(mut file) = std::fs::File::open(&path) else {
            return;
        };
        let len = file.metadata().map(|m| m.len()).unwrap_or(0);
        if len < self.offset {
            // Truncated or replaced: start over.
            *self = TrialView::new(self.key.clone(), self.dir.clone());
        }
        if len == self.offset {
            return;
        }
        if file.seek(SeekFrom::Start(self.offset)).is_err() {
            return;
        }
        let mut bytes = Vec::new();
        if file.read_to_end(&mut bytes).is_err() {
            return;
        }
        self.offset += bytes.len() as u64;
        self.last_event = file.metadata().and_then(|m| m.modified()).ok();
        self.partial.extend_from_slice(&bytes);
        // Only complete lines; a half-written last line waits for its end.
        let Some(end) = self.partial.iter().rposition(|&b| b == b'\n') else {
            return;
        };
        let complete: Vec<u8> = self.partial.drain(..=end).collect();
        for line in complete.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
            match EventRecord::parse(line) {
                Some(event) => self.apply(&event),
                None => self.malformed += 1,
            }
        }
    }

    fn apply(&mut self, record: &EventRecord) {
        let (epoch, split, loss, lr) = match &record.event {
            Event::Status {
                status: Some(status),
                reason,
            } => {
                self.final_status = Some(Status::from_record(*status, reason.as_deref()));
                return;
            }
            Event::Loss {
                epoch,
                split,
                loss,
                lr,
            } => (*epoch, split.as_str(), *loss, *lr),
            _ => return,
        };
        let at = match self.epochs.iter().position(|e| e.epoch == epoch) {
            Some(i) => i,
            None => {
                self.epochs.push(EpochPoint {
                    epoch,
                    train: None,
                    valid: None,
                    lr: None,
                });
                self.epochs.sort_by_key(|e| e.epoch);
                self.epochs
                    .iter()
                    .position(|e| e.epoch == epoch)
                    .expect("just pushed")
            }
        };
        let point = &mut self.epochs[at];
        match split {
            "train" => point.train = Some(loss),
            "valid" => point.valid = Some(loss),
            _ => {}
        }
        if let Some(lr) = lr {
            point.lr = Some(lr);
        }
    }

    fn reload_results(&mut self) {
        let stamp = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
        let metrics_path = self.dir.join("metrics.json");
        let s = stamp(&metrics_path);
        if s != self.metrics_stamp {
            self.metrics_stamp = s;
            self.metrics = TrialMetrics::read(&metrics_path);
        }
        let scores_path = self.dir.join("scores.csv");
        let s = stamp(&scores_path);
        if s != self.scores_stamp {
            self.scores_stamp = s;
            self.scores = std::fs::read_to_string(&scores_path)
                .map(|t| {
                    crate::report::read_scores_csv(&t)
                        .into_iter()
                        .map(|(_, score, anomaly)| (score, anomaly))
                        .collect()
                })
                .unwrap_or_default();
        }
    }
}

/// Every trial under a runs folder (or one experiment's folder).
#[derive(Debug, Clone, Default)]
pub struct RunsState {
    /// The folder watched.
    pub root: PathBuf,
    /// Trials by key, sorted.
    pub trials: BTreeMap<String, TrialView>,
}

fn is_trial(dir: &Path) -> bool {
    dir.join("events.jsonl").is_file() || dir.join("config.toml").is_file()
}

fn subdirs(dir: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .map(|e| e.path())
                .filter(|p| p.is_dir() && !crate::fsx::is_set_aside(p))
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}

impl RunsState {
    /// Watches `root`: `runs/` (experiments of trials) or `runs/<experiment>/`.
    pub fn new(root: &Path) -> Self {
        let mut s = Self {
            root: root.to_path_buf(),
            trials: BTreeMap::new(),
        };
        s.refresh();
        s
    }

    /// Finds new and deleted trials and reads what changed.
    pub fn refresh(&mut self) {
        let mut found: Vec<(String, PathBuf)> = Vec::new();
        let name = |p: &Path| {
            p.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default()
        };
        let root_name = name(&self.root);
        for dir in subdirs(&self.root) {
            if is_trial(&dir) {
                found.push((format!("{root_name}/{}", name(&dir)), dir));
            } else {
                for trial in subdirs(&dir).into_iter().filter(|d| is_trial(d)) {
                    found.push((format!("{}/{}", name(&dir), name(&trial)), trial));
                }
            }
        }
        let keep: std::collections::HashSet<&String> = found.iter().map(|(k, _)| k).collect();
        self.trials.retain(|k, _| keep.contains(k));
        for (key, dir) in found {
            let view = self
                .trials
                .entry(key.clone())
                .or_insert_with(|| TrialView::new(key, dir));
            view.tail_events();
            view.reload_results();
        }
    }
}
