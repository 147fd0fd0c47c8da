//! What of a run TensorBoard shows: event lines of `events.jsonl` become
//! scalars (`loss/train`, `loss/valid`, `lr` per epoch; `test/auc`,
//! `test/pauc`, `test/threshold`, `test/mse` at the end) and HParams
//! session records; the trial's resolved `config.toml` its hyperparameters.
//! Live writing and `earshot export tensorboard` share this mapping.

use crate::records::{Event, EventRecord, TrialStatus};

use super::proto::{HParam, SummaryValue};

/// The summaries one event line maps to, with their step.
pub fn summaries_of(
    record: &EventRecord,
    hparams: &[(String, HParam)],
) -> Vec<(i64, Vec<SummaryValue>)> {
    let t = record.t.unwrap_or(0.0);
    let scalar = |tag: &str, value: f64| SummaryValue::Scalar {
        tag: tag.to_string(),
        value: value as f32,
    };
    match &record.event {
        Event::Loss {
            epoch,
            split,
            loss,
            lr,
        } => {
            let mut values = vec![scalar(&format!("loss/{split}"), *loss)];
            if split == "train"
                && let Some(lr) = lr
            {
                values.push(scalar("lr", *lr));
            }
            vec![(*epoch as i64, values)]
        }
        Event::Test(figures) => {
            let values: Vec<SummaryValue> = figures
                .named()
                .into_iter()
                .map(|(name, v)| scalar(&format!("test/{name}"), v))
                .collect();
            if values.is_empty() {
                Vec::new()
            } else {
                vec![(0, values)]
            }
        }
        Event::Start(_) | Event::Fitted { .. } => vec![(
            0,
            vec![SummaryValue::SessionStart {
                hparams: hparams.to_vec(),
                start_time: t,
            }],
        )],
        Event::Status { status, .. } => vec![(
            0,
            vec![SummaryValue::SessionEnd {
                status: if *status == Some(TrialStatus::Done) {
                    1
                } else {
                    2
                },
                end_time: t,
            }],
        )],
        _ => Vec::new(),
    }
}

/// The hyperparameters of a trial from its resolved `config.toml`: the trial's
/// own model entry as `model.*`, and `data.*`, `features.*`, `train.*`,
/// `eval.*`, `seed`, sorted by name. Lists are shown as text.
pub fn hparams_of(config_toml: &str) -> Vec<(String, HParam)> {
    let single = crate::records::from_trial_record(config_toml);
    let Ok(table) = toml::from_str::<toml::Table>(&single) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (key, value) in &table {
        match (key.as_str(), value) {
            ("model", toml::Value::Array(models)) => {
                if let Some(model) = models.first() {
                    flatten("model", model, &mut out);
                }
            }
            ("name" | "ensemble", _) => {}
            _ => flatten(key, value, &mut out),
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

fn flatten(prefix: &str, value: &toml::Value, out: &mut Vec<(String, HParam)>) {
    let hparam = match value {
        toml::Value::Table(table) => {
            for (key, inner) in table {
                flatten(&format!("{prefix}.{key}"), inner, out);
            }
            return;
        }
        toml::Value::Integer(i) => HParam::Number(*i as f64),
        toml::Value::Float(f) => HParam::Number(*f),
        toml::Value::Boolean(b) => HParam::Flag(*b),
        toml::Value::String(s) => HParam::Text(s.clone()),
        other => HParam::Text(other.to_string()),
    };
    out.push((prefix.to_string(), hparam));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json(text: &str) -> EventRecord {
        EventRecord::parse(text.as_bytes()).unwrap()
    }

    #[test]
    fn losses_tests_and_statuses_map_to_their_tags() {
        let train = json(r#"{"epoch": 3, "split": "train", "loss": 0.5, "lr": 0.001, "t": 10.0}"#);
        let got = summaries_of(&train, &[]);
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].0, 3);
        assert_eq!(
            got[0].1,
            vec![
                SummaryValue::Scalar {
                    tag: "loss/train".into(),
                    value: 0.5
                },
                SummaryValue::Scalar {
                    tag: "lr".into(),
                    value: 0.001
                }
            ]
        );
        let test = json(r#"{"metric": "test", "auc": 0.9, "pauc": null, "mse": 1.5}"#);
        let tags: Vec<String> = summaries_of(&test, &[])[0]
            .1
            .iter()
            .map(|v| match v {
                SummaryValue::Scalar { tag, .. } => tag.clone(),
                _ => String::new(),
            })
            .collect();
        assert_eq!(tags, ["test/auc", "test/mse"]);
        let failed = json(r#"{"status": "failed", "t": 5.0}"#);
        assert_eq!(
            summaries_of(&failed, &[])[0].1,
            vec![SummaryValue::SessionEnd {
                status: 2,
                end_time: 5.0
            }]
        );
        assert!(
            summaries_of(
                &json(
                    r#"{"event": "best", "epoch": 2, "valid_loss": 0.1, "stopped_early": false}"#
                ),
                &[]
            )
            .is_empty()
        );
    }

    #[test]
    fn hparams_are_the_trials_own_model_and_settings() {
        let config = "trial = \"lstm\"\nseed = 7\n[experiment]\nname = \"x\"\n[experiment.data]\nframes = 16\n[[experiment.model]]\nkind = \"rnn\"\nname = \"lstm\"\nhidden = 32\n[[experiment.model]]\nkind = \"dense\"\nhidden = [8, 4]\n[experiment.train]\nlearning_rate = 0.01\n";
        let hparams = hparams_of(config);
        let names: Vec<&str> = hparams.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            [
                "data.frames",
                "model.hidden",
                "model.kind",
                "model.name",
                "train.learning_rate"
            ]
        );
        assert_eq!(hparams[1].1, HParam::Number(32.0));
    }
}
