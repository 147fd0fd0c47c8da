//! `earshot eval`: score trained trials again on their test split.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;
use earshot::experiment::{evaluate_trial, trial_dirs};
use indicatif::{ProgressBar, ProgressStyle};

use super::DeviceChoice;

#[derive(Debug, Args)]
pub struct EvalArgs {
    /// A trial folder (runs/<experiment>/<model>) or an experiment's run folder (every trial in it).
    run_dir: PathBuf,
    /// The dataset root to evaluate on, in the trial's layout [default: the root it trained on].
    #[arg(long)]
    data: Option<PathBuf>,
    /// Where to run the models.
    #[arg(long, default_value_t = DeviceChoice::Cpu, value_name = "DEVICE", long_help = super::device::DEVICE_HELP)]
    device: DeviceChoice,
}

pub fn run(args: EvalArgs) -> anyhow::Result<ExitCode> {
    let trials = trial_dirs(&args.run_dir);
    anyhow::ensure!(
        !trials.is_empty(),
        "{}: no trained trial here (a trial folder holds model/config.toml; try runs/<experiment> or runs/<experiment>/<model>)",
        args.run_dir.display()
    );
    let (device, device_name) = args.device.resolve_training()?;
    eprintln!("evaluating {} trial(s) on {device_name}", trials.len());
    let opt = |v: Option<f64>| v.map_or_else(|| "n/a".into(), |v| format!("{v:.3}"));
    let mut rows = Vec::new();
    let mut failed = 0;
    for trial in &trials {
        let bar = ProgressBar::new(0);
        bar.set_style(
            ProgressStyle::with_template("{msg} [{bar:30}] {pos}/{len} files")
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
        );
        bar.set_message(trial.display().to_string());
        let result = evaluate_trial(
            trial,
            args.data.as_deref(),
            device.clone(),
            &mut |done, total| {
                bar.set_length(total as u64);
                bar.set_position(done as u64);
            },
        )
        .with_context(|| format!("evaluating {}", trial.display()));
        bar.finish_and_clear();
        match result {
            Ok(e) => {
                for f in &e.failures {
                    eprintln!("  {}: {}", f.path.display(), f.reason);
                }
                let m = &e.metrics;
                rows.push(format!(
                    "{:<16} {:>6} {:>8} {:>7} {:>7} {:>9} {:>9} {:>7} {:>6}",
                    m.trial,
                    m.evaluated_files.unwrap_or(0),
                    opt(m.number("mse")),
                    opt(m.number("auc")),
                    opt(m.number("pauc")),
                    opt(m.number("threshold")),
                    opt(m.number("precision")),
                    opt(m.number("recall")),
                    opt(m.number("f1")),
                ));
                if let Some(note) = &m.note {
                    rows.push(format!("{:<16} {note}", ""));
                }
            }
            Err(e) => {
                failed += 1;
                eprintln!("error: {e:#}");
            }
        }
    }
    if !rows.is_empty() {
        println!(
            "{:<16} {:>6} {:>8} {:>7} {:>7} {:>9} {:>9} {:>7} {:>6}",
            "trial", "files", "MSE", "AUC", "pAUC", "threshold", "precision", "recall", "F1"
        );
        for r in rows {
            println!("{r}");
        }
        println!(
            "per trial: scores.csv, metrics.json, report.md and plots/ in {}",
            args.run_dir.display()
        );
    }
    Ok(if failed == trials.len() {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

impl EvalArgs {
    /// The device the command runs on.
    pub fn device(&self) -> DeviceChoice {
        self.device
    }
}
