//! `runs/<experiment>/leaderboard.{csv,md}`: every sweep trial folder (those
//! with a `sweep.json`) ranked by the sweep's metric. Read from the run folders
//! only, so any shard or machine can write it and the dashboard shows the same.

use std::path::{Path, PathBuf};

use super::{Goal, SweepMetric};
use crate::records::{SweepMarker, TrialMetrics};

/// One ranked trial folder.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// The folder name (`<model>-tNNN`).
    pub folder: String,
    /// The sweep trial (`tNNN`).
    pub trial: String,
    /// Its index in the expansion.
    pub index: usize,
    /// done, stopped, failed, running or pending.
    pub status: String,
    /// The metric, when the trial has it.
    pub metric: Option<f64>,
    /// (dotted path, value) as written in the sweep.
    pub params: Vec<(String, String)>,
    /// Why it failed or stopped.
    pub reason: Option<String>,
}

/// The metrics.json key a sweep metric reads (`valid_loss` is the best validation loss).
pub fn metric_key(name: &str) -> &str {
    if name == "valid_loss" {
        "best_valid_loss"
    } else {
        name
    }
}

/// Every sweep trial folder under `exp_dir`, ranked best first.
pub fn collect(exp_dir: &Path, metric: &SweepMetric) -> Vec<Row> {
    let mut rows = Vec::new();
    let Ok(entries) = std::fs::read_dir(exp_dir) else {
        return rows;
    };
    for dir in entries
        .flatten()
        .map(|e| e.path())
        .filter(|d| !crate::fsx::is_set_aside(d))
    {
        let Some(sweep) = SweepMarker::read(&dir.join("sweep.json")) else {
            continue;
        };
        let metrics = TrialMetrics::read(&dir.join("metrics.json"));
        let status = match &metrics {
            Some(m) => m.status.word().to_string(),
            None if dir.join("events.jsonl").exists() => "running".into(),
            None => "pending".into(),
        };
        let metric_value = metrics
            .as_ref()
            .and_then(|m| m.number(metric_key(&metric.name)));
        let params = sweep
            .params
            .iter()
            .map(|(k, v)| (k.clone(), v.to_string()))
            .collect();
        rows.push(Row {
            folder: dir
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            trial: sweep.trial,
            index: sweep.index,
            status,
            metric: metric_value,
            params,
            reason: metrics.and_then(|m| m.reason),
        });
    }
    rank(&mut rows, metric.goal);
    rows
}

/// Best first: trials with the metric by goal, then the rest by index.
pub fn rank(rows: &mut [Row], goal: Goal) {
    rows.sort_by(|a, b| match (a.metric, b.metric) {
        (Some(x), Some(y)) => {
            let order = if goal == Goal::Maximize {
                y.total_cmp(&x)
            } else {
                x.total_cmp(&y)
            };
            order
                .then(a.index.cmp(&b.index))
                .then(a.folder.cmp(&b.folder))
        }
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => a.index.cmp(&b.index).then(a.folder.cmp(&b.folder)),
    });
}

fn param_names(rows: &[Row]) -> Vec<String> {
    let mut names: Vec<String> = rows
        .iter()
        .flat_map(|r| r.params.iter().map(|p| p.0.clone()))
        .collect();
    names.sort();
    names.dedup();
    names
}

fn cell(row: &Row, name: &str) -> String {
    row.params
        .iter()
        .find(|p| p.0 == name)
        .map(|p| p.1.clone())
        .unwrap_or_default()
}

/// Writes leaderboard.csv and leaderboard.md; returns their paths.
pub fn write(
    exp_dir: &Path,
    metric: &SweepMetric,
    rows: &[Row],
) -> std::io::Result<(PathBuf, PathBuf)> {
    let names = param_names(rows);
    let metric_text = |r: &Row| r.metric.map(|v| format!("{v:.6}")).unwrap_or_default();
    let mut header = vec!["rank", "trial", "folder", "status", metric.name.as_str()];
    header.extend(names.iter().map(String::as_str));
    header.push("reason");
    let csv = crate::csvx::to_string(
        &header,
        rows.iter().enumerate().map(|(i, r)| {
            let mut fields = vec![
                (i + 1).to_string(),
                r.trial.clone(),
                r.folder.clone(),
                r.status.clone(),
                metric_text(r),
            ];
            fields.extend(names.iter().map(|n| cell(r, n)));
            fields.push(r.reason.clone().unwrap_or_default());
            fields
        }),
    );
    let md = render(metric, rows);
    let csv_path = exp_dir.join("leaderboard.csv");
    let md_path = exp_dir.join("leaderboard.md");
    crate::fsx::write_atomic(&csv_path, csv.as_bytes())?;
    crate::fsx::write_atomic(&md_path, md.as_bytes())?;
    Ok((csv_path, md_path))
}

/// The leaderboard as a Markdown table (also what `earshot sweep --report` prints).
pub fn render(metric: &SweepMetric, rows: &[Row]) -> String {
    let names = param_names(rows);
    let goal = if metric.goal == Goal::Maximize {
        "higher is better"
    } else {
        "lower is better"
    };
    let mut md = format!(
        "| rank | trial | folder | status | {} ({goal}) |{}\n|---|---|---|---|---|{}\n",
        metric.name,
        names.iter().map(|n| format!(" {n} |")).collect::<String>(),
        "---|".repeat(names.len())
    );
    for (i, r) in rows.iter().enumerate() {
        md.push_str(&format!(
            "| {} | {} | {} | {} | {} |{}\n",
            i + 1,
            r.trial,
            r.folder,
            r.status,
            r.metric
                .map(|v| format!("{v:.4}"))
                .unwrap_or_else(|| "—".into()),
            names
                .iter()
                .map(|n| format!(" {} |", cell(r, n)))
                .collect::<String>()
        ));
    }
    md
}
