//! `earshot sweep`: a hyperparameter sweep, resumable and shardable.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;
use earshot::experiment::sweep::{STALE_AFTER, Shard, Sweep, SweepOptions, leaderboard, run_sweep};
use earshot::features::cache::FeatureCache;

use super::DeviceChoice;

#[derive(Debug, Args)]
pub struct SweepArgs {
    /// An experiment file with a [sweep] table (see experiments/sweep_dense.toml).
    experiment: PathBuf,
    #[command(flatten)]
    overrides: super::overrides::OverrideArgs,
    /// Parent folder of the run folders.
    #[arg(long, default_value = "runs")]
    runs_dir: PathBuf,
    /// Trials trained at once by this process (they share the device).
    #[arg(long, default_value_t = 1)]
    parallel: usize,
    /// Take every N-th trial starting at i (0-based): split a sweep over
    /// processes or machines sharing the runs folder, e.g. a Slurm array with
    /// --shard $SLURM_ARRAY_TASK_ID/$SLURM_ARRAY_TASK_COUNT.
    #[arg(long, default_value = "0/1")]
    shard: Shard,
    /// Where to train.
    #[arg(long, default_value_t = DeviceChoice::Auto, value_name = "DEVICE", long_help = super::device::DEVICE_HELP)]
    device: DeviceChoice,
    /// Spread the parallel trials over these wgpu adapters (indexes of
    /// `earshot devices`), round robin: `--parallel 4 --devices 0,1` trains
    /// two trials on each. Implies --device wgpu.
    #[arg(
        long,
        value_delimiter = ',',
        value_name = "N,N,...",
        conflicts_with = "device"
    )]
    devices: Vec<usize>,
    /// Only list the trials the sweep expands to.
    #[arg(long)]
    dry_run: bool,
    /// Reprint the leaderboard from the run folders, train nothing.
    #[arg(long)]
    report: bool,
    /// Neither read nor write the feature cache.
    #[arg(long)]
    no_cache: bool,
    /// Minutes after which a trial locked by another machine, whose heartbeat
    /// (renewed every epoch) has stopped, is taken over. Set it above the
    /// longest epoch, or a slow live trial gets trained twice.
    #[arg(long, default_value_t = STALE_AFTER.as_secs() / 60, value_name = "MINUTES", value_parser = clap::value_parser!(u64).range(1..))]
    stale_after: u64,
    /// Retrain finished trials whose resolved config changed since they ran
    /// (their folders are moved aside to <trial>.prev-<time>). Without it
    /// such trials are refused and the sweep exits non-zero.
    #[arg(long)]
    rerun_changed: bool,
}

pub fn run(args: SweepArgs) -> anyhow::Result<ExitCode> {
    let (overrides, data_dir) = (args.overrides.overrides(), args.overrides.data_dir());
    let sweep = Sweep::load_with(
        &args.experiment,
        &overrides,
        args.overrides.seed,
        data_dir.as_deref(),
    )?;
    let exp_dir = args.runs_dir.join(&sweep.base.name);
    if args.report {
        let rows = leaderboard::collect(&exp_dir, &sweep.config.metric);
        anyhow::ensure!(
            !rows.is_empty(),
            "{}: no sweep trial has run yet (run `earshot sweep {}` first)",
            exp_dir.display(),
            args.experiment.display()
        );
        let files = leaderboard::write(&exp_dir, &sweep.config.metric, &rows)
            .with_context(|| format!("writing the leaderboard in {}", exp_dir.display()))?;
        print!("{}", leaderboard::render(&sweep.config.metric, &rows));
        eprintln!("written to {} and {}", files.0.display(), files.1.display());
        return Ok(ExitCode::SUCCESS);
    }
    if args.dry_run {
        for t in &sweep.trials {
            let params: Vec<String> = t.params.iter().map(|(k, v)| format!("{k}={v}")).collect();
            let mark = if t.index % args.shard.count == args.shard.index {
                ""
            } else {
                "  (other shard)"
            };
            println!("{} {}{mark}", t.id, params.join(" "));
        }
        return Ok(ExitCode::SUCCESS);
    }
    let devices: Vec<(burn::prelude::Device, String)> = if args.devices.is_empty() {
        vec![args.device.resolve_training()?]
    } else {
        args.devices
            .iter()
            .map(|&n| super::device::adapter_device(n))
            .collect::<anyhow::Result<_>>()?
    };
    let device_name = devices
        .iter()
        .map(|(_, name)| name.as_str())
        .collect::<Vec<_>>()
        .join(" + ");
    eprintln!(
        "sweep {}: {} trial(s) ({:?}), shard {}/{}, {} at a time, on {device_name}, into {}",
        sweep.base.name,
        sweep.trials.len(),
        sweep.config.method,
        args.shard.index,
        args.shard.count,
        args.parallel.max(1),
        exp_dir.display()
    );
    let opts = SweepOptions {
        runs_dir: args.runs_dir.clone(),
        devices,
        cache: (!args.no_cache).then(|| FeatureCache::new(FeatureCache::default_dir())),
        parallel: args.parallel,
        gpu_features: device_name.starts_with("wgpu"),
        shard: args.shard,
        stale_after: std::time::Duration::from_secs(60 * args.stale_after),
        rerun_changed: args.rerun_changed,
    };
    let outcome = run_sweep(&sweep, &opts, &|line| eprintln!("{line}"))?;
    print!(
        "{}",
        leaderboard::render(&sweep.config.metric, &outcome.rows)
    );
    eprintln!(
        "ran {} trial(s) here, {} finished before, {} held by other processes; leaderboard: {}",
        outcome.ran.len(),
        outcome.finished_before,
        outcome.held_elsewhere.len(),
        outcome.files.1.display()
    );
    if !outcome.changed.is_empty() {
        eprintln!(
            "{} finished trial(s) refused because their config changed: {} (--rerun-changed retrains them)",
            outcome.changed.len(),
            outcome.changed.join(", ")
        );
        if outcome.failed.is_empty() {
            return Ok(ExitCode::FAILURE);
        }
    }
    Ok(super::train::exit_code(
        outcome.failed.iter().map(String::as_str),
    ))
}

impl SweepArgs {
    /// The device the command runs on.
    pub fn device(&self) -> DeviceChoice {
        match self.devices.first() {
            Some(&n) => DeviceChoice::Wgpu(Some(n)),
            None => self.device,
        }
    }

    /// The adapter that becomes wgpu's default device (features run there).
    pub fn first_adapter(&self) -> Option<usize> {
        match self.device() {
            DeviceChoice::Wgpu(Some(n)) => Some(n),
            _ => None,
        }
    }
}
