//! One line of a trial's `events.jsonl`, the one definition its writer
//! (`train::events::EventLog`) serialises and every reader (dashboard, report,
//! TensorBoard, export) parses. Lines are `{"t", "trial", "run", "event", ...}`.
//! Files written before the `event` tag was on every line (schema 2 still)
//! read the same: a line without it is a loss (`epoch`, `split`, `loss`), a
//! test summary (`"metric": "test"`) or a final status (`status`).

use serde::{Deserialize, Serialize};

use super::{TrialStatus, known_or_none};

/// An event with its envelope: when, which trial, which run of it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventRecord {
    /// Seconds since the epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub t: Option<f64>,
    /// The trial's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trial: Option<String>,
    /// The run the event belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run: Option<String>,
    #[serde(flatten)]
    /// What happened.
    pub event: Event,
}

/// What happened.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// A run of the trial starts (a new run of a folder resets its status).
    Start(Start),
    /// A run continues from its last checkpoint after `epoch` epochs.
    Resume {
        /// Epochs done before this run.
        epoch: usize,
        /// Epochs whose checkpoints failed their checksums and were skipped.
        #[serde(default)]
        damaged_checkpoints: Vec<usize>,
    },
    /// The mean loss of `split` (`train` or `valid`) after `epoch` (1-based).
    Loss {
        /// 1-based epoch.
        epoch: usize,
        /// `train` or `valid`.
        split: String,
        /// The mean loss.
        loss: f64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        /// The learning rate (train losses).
        lr: Option<f64>,
    },
    /// Training was stopped (by a sweep's rule) after `epoch`.
    Stopped {
        /// The last epoch trained.
        epoch: usize,
        /// The rule's reason.
        reason: String,
    },
    /// Training ended; the model kept is the one of `epoch`.
    Best {
        /// The epoch whose model is kept.
        epoch: usize,
        /// Its validation loss.
        valid_loss: f64,
        /// Whether patience ended training before the last epoch.
        stopped_early: bool,
    },
    /// A reference detector was fitted (EM iterations, whether it converged).
    Fitted {
        /// EM iterations run.
        iterations: usize,
        /// Whether the fit converged within them.
        converged: bool,
    },
    /// The trial's test figures.
    Test(TestFigures),
    /// The trial's final status; an unknown word reads as `None`.
    Status {
        #[serde(default, deserialize_with = "known_or_none")]
        /// How it ended.
        status: Option<TrialStatus>,
        #[serde(default)]
        /// Why it failed or stopped.
        reason: Option<String>,
    },
    /// An event of a later version, kept as a line but not understood.
    #[serde(other)]
    Other,
}

/// What a run starts on. Autoencoders count windows and what stays on the
/// device; reference detectors count clips.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Start {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    /// The run-record schema.
    pub schema_version: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    /// Training windows.
    pub train_windows: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    /// Validation windows.
    pub valid_windows: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    /// Whether the training windows stay on the device.
    pub windows_on_device: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    /// Bytes kept on the device.
    pub resident_bytes: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    /// Bytes uploaded once for them.
    pub resident_upload_bytes: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    /// Bytes uploaded each epoch.
    pub upload_bytes_per_epoch: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    /// Micro-batches a step is split into.
    pub micro_batches_per_step: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    /// Training clips (reference detectors).
    pub train_clips: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    /// Validation clips (reference detectors).
    pub valid_clips: Option<usize>,
}

/// A trial's test figures as its event log records them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TestFigures {
    /// Mean squared reconstruction error of the test normals.
    pub mse: Option<f64>,
    /// Its square root.
    pub rmse: Option<f64>,
    /// Mean absolute reconstruction error.
    pub mae: Option<f64>,
    /// ROC AUC.
    pub auc: Option<f64>,
    /// Partial AUC up to a false-positive rate of 0.1.
    pub pauc: Option<f64>,
    /// The decision threshold.
    pub threshold: Option<f64>,
}

impl TestFigures {
    /// The figures that are set, by name, in a fixed order.
    pub fn named(&self) -> Vec<(&'static str, f64)> {
        [
            ("auc", self.auc),
            ("pauc", self.pauc),
            ("threshold", self.threshold),
            ("mse", self.mse),
            ("rmse", self.rmse),
            ("mae", self.mae),
        ]
        .into_iter()
        .filter_map(|(name, v)| v.filter(|v| v.is_finite()).map(|v| (name, v)))
        .collect()
    }
}

impl EventRecord {
    /// Parses one line; `None` for a line that is not an event object.
    pub fn parse(line: &[u8]) -> Option<Self> {
        let mut value: serde_json::Value = serde_json::from_slice(line).ok()?;
        let object = value.as_object_mut()?;
        if !object.contains_key("event") {
            // A line of a file written before every line carried its tag.
            let tag = if object.get("metric").and_then(|m| m.as_str()) == Some("test") {
                "test"
            } else if object.contains_key("status") {
                "status"
            } else if object.contains_key("split") {
                "loss"
            } else {
                return None;
            };
            object.insert("event".into(), tag.into());
        }
        serde_json::from_value(value).ok()
    }

    /// The line as written (without its newline).
    pub fn to_line(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("events serialise")
    }

    /// The (epoch, split, loss) of a loss line.
    pub fn loss_point(&self) -> Option<(usize, &str, f64)> {
        match &self.event {
            Event::Loss {
                epoch, split, loss, ..
            } => Some((*epoch, split.as_str(), *loss)),
            _ => None,
        }
    }

    /// The last final status in a trial folder's `events.jsonl` and its
    /// reason; `None` when the run never ended (still running, or killed).
    pub fn final_status(trial_dir: &std::path::Path) -> Option<(TrialStatus, Option<String>)> {
        let text = std::fs::read(trial_dir.join("events.jsonl")).ok()?;
        let mut last = None;
        for line in text.split(|&b| b == b'\n') {
            match Self::parse(line).map(|r| r.event) {
                // A new run of the folder starts without a status.
                Some(Event::Start(_)) => last = None,
                Some(Event::Status {
                    status: Some(status),
                    reason,
                }) => last = Some((status, reason)),
                _ => {}
            }
        }
        last
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_of_either_form_read_as_the_same_events() {
        let legacy =
            EventRecord::parse(br#"{"epoch":3,"split":"valid","loss":0.25,"extra":1}"#).unwrap();
        assert_eq!(legacy.loss_point(), Some((3, "valid", 0.25)));
        let tagged = EventRecord::parse(
            br#"{"t":1.5,"trial":"dense","run":"r1","event":"loss","epoch":3,"split":"valid","loss":0.25}"#,
        )
        .unwrap();
        assert_eq!(tagged.event, legacy.event);
        assert_eq!((tagged.t, tagged.run.as_deref()), (Some(1.5), Some("r1")));
        let status = EventRecord::parse(br#"{"status":"exploded","reason":null}"#).unwrap();
        assert_eq!(
            status.event,
            Event::Status {
                status: None,
                reason: None
            }
        );
        let test = EventRecord::parse(br#"{"metric":"test","auc":0.9,"mse":null}"#).unwrap();
        match test.event {
            Event::Test(f) => assert_eq!(f.named(), vec![("auc", 0.9)]),
            other => panic!("{other:?}"),
        }
        assert!(EventRecord::parse(b"[1, 2]").is_none());
        assert!(EventRecord::parse(b"{\"something\": 1}").is_none());
        let later = EventRecord::parse(br#"{"event":"checkpointed","epoch":2}"#).unwrap();
        assert_eq!(later.event, Event::Other);
    }

    #[test]
    fn written_lines_read_back_to_the_same_event() {
        let events = [
            Event::Start(Start {
                schema_version: Some(2),
                train_windows: Some(10),
                windows_on_device: Some(true),
                ..Start::default()
            }),
            Event::Resume {
                epoch: 4,
                damaged_checkpoints: vec![3],
            },
            Event::Loss {
                epoch: 1,
                split: "train".into(),
                loss: 0.5,
                lr: Some(1e-3),
            },
            Event::Stopped {
                epoch: 2,
                reason: "median rule".into(),
            },
            Event::Best {
                epoch: 2,
                valid_loss: 0.25,
                stopped_early: false,
            },
            Event::Fitted {
                iterations: 12,
                converged: true,
            },
            Event::Test(TestFigures {
                auc: Some(0.75),
                ..TestFigures::default()
            }),
            Event::Status {
                status: Some(TrialStatus::Done),
                reason: None,
            },
        ];
        for event in events {
            let record = EventRecord {
                t: Some(1.0),
                trial: Some("dense".into()),
                run: Some("r".into()),
                event,
            };
            let line = record.to_line();
            assert_eq!(
                EventRecord::parse(&line).as_ref(),
                Some(&record),
                "{line:?}"
            );
        }
    }
}
