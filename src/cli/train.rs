//! `earshot train`: every model of an experiment file, side by side.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::Context;
use clap::Args;
use earshot::experiment::{Experiment, Progress, Reuse, RunOptions, RunSummary, run_experiment};
use earshot::features::cache::FeatureCache;
use earshot::records::TrialStatus;
use indicatif::{ProgressBar, ProgressStyle};

use super::DeviceChoice;

#[derive(Debug, Args)]
pub struct TrainArgs {
    /// The experiment file (see experiments/*.toml), or a trial's
    /// runs/<experiment>/<trial>/config.toml to rerun exactly that trial.
    experiment: PathBuf,
    #[command(flatten)]
    overrides: super::overrides::OverrideArgs,
    /// Folder that receives runs/<experiment>/<model>/.
    #[arg(long, default_value = "runs")]
    runs_dir: PathBuf,
    /// Where to train.
    #[arg(long, default_value_t = DeviceChoice::Auto, value_name = "DEVICE", long_help = super::device::DEVICE_HELP)]
    device: DeviceChoice,
    /// Continue every trial's run from its newest checkpoint (same seed, same result).
    #[arg(long, conflicts_with = "overwrite")]
    resume: bool,
    /// Move trial folders that already hold a run aside (to <trial>.prev-<time>) and start anew.
    ///
    /// Without --resume or --overwrite, a trial folder that holds a run is refused:
    /// two runs never mix in one folder, and nothing is deleted.
    #[arg(long)]
    overwrite: bool,
    /// Neither read nor write the feature cache.
    #[arg(long)]
    no_cache: bool,
    /// Open the live dashboard on this run; closing it (q) leaves training running.
    #[arg(long)]
    tui: bool,
}

/// While the dashboard owns the terminal, training prints nothing.
static QUIET: AtomicBool = AtomicBool::new(false);

fn quiet() -> bool {
    QUIET.load(Ordering::SeqCst)
}

impl TrainArgs {
    fn reuse(&self) -> Reuse {
        match (self.resume, self.overwrite) {
            (true, _) => Reuse::Resume,
            (false, true) => Reuse::Overwrite,
            (false, false) => Reuse::Refuse,
        }
    }
}

pub fn run(args: TrainArgs) -> anyhow::Result<ExitCode> {
    let (overrides, data_dir) = (args.overrides.overrides(), args.overrides.data_dir());
    let experiment = Experiment::load_with(
        &args.experiment,
        &overrides,
        args.overrides.seed,
        data_dir.as_deref(),
    )?;
    let reuse = args.reuse();
    let context = format!("experiment {}", args.experiment.display());
    if !args.tui {
        return train_and_report(
            &experiment,
            args.runs_dir,
            args.device,
            reuse,
            !args.no_cache,
            Some(args.experiment.clone()),
        )
        .context(context);
    }
    anyhow::ensure!(
        std::io::stdout().is_terminal(),
        "--tui needs a terminal; without it training prints one line per epoch"
    );
    let watch = args.runs_dir.join(&experiment.name);
    QUIET.store(true, Ordering::SeqCst);
    let training = std::thread::spawn(move || {
        train_and_report(
            &experiment,
            args.runs_dir,
            args.device,
            reuse,
            !args.no_cache,
            Some(args.experiment.clone()),
        )
    });
    let shown = earshot::dashboard::run(&watch);
    QUIET.store(false, Ordering::SeqCst);
    if let Err(e) = shown {
        eprintln!("dashboard: {e}");
    }
    if !training.is_finished() {
        eprintln!(
            "dashboard closed; training goes on (earshot dashboard {} reopens it)",
            watch.display()
        );
    }
    training
        .join()
        .map_err(|_| anyhow::anyhow!("the training thread panicked"))?
        .context(context)
}

/// Trains every model of `experiment` and prints the comparison table.
pub fn train_and_report(
    experiment: &Experiment,
    runs_dir: PathBuf,
    device: DeviceChoice,
    reuse: Reuse,
    use_cache: bool,
    experiment_file: Option<PathBuf>,
) -> anyhow::Result<ExitCode> {
    let (device, device_name) = device.resolve_training()?;
    let options = RunOptions {
        experiment_file,
        runs_dir: runs_dir.clone(),
        device,
        device_name: device_name.clone(),
        reuse,
        stale_after: earshot::experiment::sweep::STALE_AFTER,
        cache: use_cache.then(|| FeatureCache::new(FeatureCache::default_dir())),
        // Training on wgpu: the features come from our WGSL kernels on the same device.
        gpu_features: device_name.starts_with("wgpu"),
        pruner: None,
    };
    if !quiet() {
        eprintln!(
            "training {} ({} model(s)) on {device_name}, seed {}, into {}",
            experiment.name,
            experiment.model.len(),
            experiment.seed,
            runs_dir.join(&experiment.name).display()
        );
    }
    let bar = ProgressBar::hidden();
    let mut on_progress = |p: Progress| match p {
        _ if quiet() => {}
        Progress::Features => {
            bar.set_draw_target(indicatif::ProgressDrawTarget::stderr());
            bar.set_style(
                ProgressStyle::with_template("features [{bar:30}] {pos}/{len} files, eta {eta}")
                    .unwrap_or_else(|_| ProgressStyle::default_bar())
                    .progress_chars("=> "),
            );
        }
        Progress::Trial(trial) => {
            bar.finish_and_clear();
            eprintln!("== {trial}");
        }
        Progress::MovedAside(from, to) => eprintln!(
            "moved the previous run in {} to {}",
            from.display(),
            to.display()
        ),
        Progress::Files(done, total) => {
            bar.set_length(total as u64);
            bar.set_position(done as u64);
        }
        Progress::Epoch(trial, r) => eprintln!(
            "{trial:>8} epoch {:>3}/{}  train {:.4}  valid {:.4}  lr {:.1e}{}",
            r.epoch,
            r.epochs,
            r.train_loss,
            r.valid_loss,
            r.lr,
            if r.improved { "  *" } else { "" }
        ),
    };
    let summary = run_experiment(experiment, &options, &mut on_progress)?;
    bar.finish_and_clear();
    // The table waits until the dashboard gives the terminal back.
    while quiet() {
        std::thread::sleep(std::time::Duration::from_millis(100));
    }

    print_summary(&summary);
    Ok(exit_code(
        summary
            .trials
            .iter()
            .filter(|t| t.status == TrialStatus::Failed)
            .map(|t| t.trial.as_str()),
    ))
}

/// The files that could not be used, then the comparison table.
fn print_summary(summary: &RunSummary) {
    if !summary.failures.is_empty() {
        eprintln!("{} file(s) could not be used:", summary.failures.len());
        for f in &summary.failures {
            eprintln!("  {}: {}", f.path.display(), f.reason);
        }
    }
    println!();
    println!(
        "reconstruction of held-out normal data (features as [data] normalization leaves them) and detection on the test split"
    );
    // The name column fits the longest trial name.
    let w = summary
        .trials
        .iter()
        .map(|t| t.trial.len())
        .max()
        .unwrap_or(0)
        .max(12);
    println!(
        "{:<w$} {:<8} {:<7} {:>8} {:>8} {:>8} {:>7} {:>7} {:>6} {:>9}",
        "model", "kind", "status", "MSE", "RMSE", "MAE", "AUC", "pAUC", "best", "params"
    );
    let opt = |v: Option<f64>| v.map_or_else(|| "n/a".to_string(), |v| format!("{v:.3}"));
    // Reference detectors and ensembles reconstruct nothing: their MSE is n/a.
    let num = |v: f64| opt(v.is_finite().then_some(v));
    for t in &summary.trials {
        println!(
            "{:<w$} {:<8} {:<7} {:>8} {:>8} {:>8} {:>7} {:>7} {:>6} {:>9}",
            t.trial,
            t.kind,
            t.status,
            num(t.mse),
            num(t.rmse),
            num(t.mae),
            opt(t.auc),
            opt(t.pauc),
            t.best_epoch,
            t.parameters
        );
        if let Some(reason) = &t.reason {
            println!("{:<w$} {reason}", "");
        }
    }
    if let Some(t) = summary.trials.first() {
        // Trials that failed before evaluating have no held-out windows to name.
        match summary.trials.iter().find(|t| t.windows > 0) {
            Some(w) => println!(
                "({} windows of {}; run folders under {})",
                w.windows,
                w.held_out,
                summary.dir.display()
            ),
            None => println!("(run folders under {})", summary.dir.display()),
        }
        println!(
            "per trial: scores.csv (file,score,label,flag), metrics.json, report.md and plots/ in {}/<model>/",
            summary.dir.display()
        );
        if t.auc.is_none() && t.status == TrialStatus::Done {
            println!(
                "(AUC needs both normal and anomalous test files; this test split has one class or none)"
            );
        }
    }
}

/// Exit status of `train` and `sweep`, as their `--help` documents: 0 when
/// every trial finished (done, or stopped by a sweep's rule), [`TRIAL_FAILED`]
/// when any failed (named on stderr).
pub fn exit_code<'a>(failed: impl Iterator<Item = &'a str>) -> ExitCode {
    let failed: Vec<&str> = failed.collect();
    if failed.is_empty() {
        return ExitCode::SUCCESS;
    }
    eprintln!("{} trial(s) failed: {}", failed.len(), failed.join(", "));
    ExitCode::from(TRIAL_FAILED)
}

/// Exit status when the command ran but some trial failed.
pub const TRIAL_FAILED: u8 = 3;

/// The exit statuses, for `--help` of `train` and `sweep`.
pub const EXIT_CODES: &str = "Exit status: 0 every trial finished; 1 an error stopped the command \
(bad experiment file, unusable data, a folder holding another run, I/O); 2 bad command-line \
arguments; 3 the command ran but at least one trial failed (named on stderr).";

impl TrainArgs {
    /// The device the command runs on.
    pub fn device(&self) -> DeviceChoice {
        self.device
    }
}
