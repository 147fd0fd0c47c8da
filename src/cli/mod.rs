//! Subcommands and their arguments.

mod bench;
mod bench_detectors;
mod bench_train;
mod completions;
mod dashboard;
mod data;
mod demo;
mod detect;
mod device;
mod devices;
mod eval;
mod export;
mod features;
mod init;
mod overrides;
mod sweep;
mod train;

pub use device::DeviceChoice;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// earshot — learn what normal audio sounds like, flag what deviates.
///
/// Audio decoding and librosa-compatible MFCC / log-mel features, an
/// autoencoder zoo trained on the CPU or a GPU (wgpu), and anomaly scoring
/// with AUC. Start with `earshot demo`.
#[derive(Debug, Parser)]
#[command(name = "earshot", version, about, long_about, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
    /// More log messages from earshot and its libraries (burn, cubecl, wgpu,
    /// symphonia) on stderr: -v warnings, -vv info, -vvv debug. RUST_LOG
    /// (e.g. RUST_LOG=wgpu=info) takes precedence. Progress output is unchanged.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,
    /// No log messages at all, not even errors from libraries.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    quiet: bool,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Generate a small dataset, train an RNN and a convolutional autoencoder, compare them.
    ///
    /// Runs in a few minutes on 2 CPU cores; writes demo/data and demo/runs.
    Demo(demo::DemoArgs),
    /// Print a shell completion script.
    ///
    /// Install, e.g.:
    ///   bash: earshot completions bash > ~/.local/share/bash-completion/completions/earshot
    ///   zsh:  earshot completions zsh > ~/.zfunc/_earshot   (with fpath+=~/.zfunc before compinit)
    ///   fish: earshot completions fish > ~/.config/fish/completions/earshot.fish
    #[command(verbatim_doc_comment)]
    Completions(completions::CompletionsArgs),
    /// Download and lay out the public datasets the experiments use (FSDD, DCASE 2020-2025).
    ///
    /// Examples:
    ///   earshot data list
    ///   earshot data prepare fsdd
    ///   earshot data prepare dcase2023-task2 --machine fan
    #[command(subcommand, verbatim_doc_comment)]
    Data(data::DataCommand),
    /// Watch training live: loss curves, thresholds and a leaderboard of every trial in a runs folder.
    ///
    /// Example: earshot dashboard runs/      (in a second terminal while `earshot train` runs)
    Dashboard(dashboard::DashboardArgs),
    /// List the GPU adapters wgpu finds (name, backend, type, limits) and what --device auto takes.
    Devices(devices::DevicesArgs),
    /// Score new audio with a trained model: per file the score, the flag and anomalous segments.
    ///
    /// Example: earshot detect --model runs/rnn_vs_cae/rnn recording.wav
    Detect(detect::DetectArgs),
    /// Score trained models again on their test split: scores.csv, metrics.json, report.md, plots/.
    ///
    /// Examples:
    ///   earshot eval runs/rnn_vs_cae                     (every trial)
    ///   earshot eval runs/rnn_vs_cae/rnn --data other/dataset/root
    #[command(verbatim_doc_comment)]
    Eval(eval::EvalArgs),
    /// Export runs for other tools: TensorBoard event files, safetensors models.
    ///
    /// Examples:
    ///   earshot export tensorboard runs/ && tensorboard --logdir runs/
    ///   earshot export model runs/rnn_vs_cae/rnn --out rnn.safetensors
    #[command(subcommand, verbatim_doc_comment)]
    Export(export::ExportCommand),
    /// Compute MFCC or log-mel features of audio files into .npy arrays.
    ///
    /// Example: earshot features recordings/ --out feats/ --kind logmel
    Features(features::FeaturesArgs),
    /// Inspect a dataset folder and write a commented starter experiment for it.
    ///
    /// Example: earshot init data/fsdd --out fsdd.toml && earshot train fsdd.toml
    Init(init::InitArgs),
    /// Train every model of an experiment file and compare them.
    ///
    /// Example: earshot train experiments/rnn_vs_cae.toml --device cpu
    #[command(after_help = train::EXIT_CODES)]
    Train(train::TrainArgs),
    /// Run a hyperparameter sweep ([sweep] in the experiment): resumable, parallel, shardable.
    ///
    /// Examples:
    ///   earshot sweep experiments/sweep_dense.toml --parallel 2
    ///   earshot sweep exp.toml --shard $SLURM_ARRAY_TASK_ID/$SLURM_ARRAY_TASK_COUNT
    ///   earshot sweep exp.toml --report
    #[command(verbatim_doc_comment, after_help = train::EXIT_CODES)]
    Sweep(sweep::SweepArgs),
    /// Measure throughput (compare with the peers in shared/bench).
    #[command(subcommand)]
    Bench(bench::BenchCommand),
}

impl Cli {
    /// The device the command trains or scores on, when it takes `--device`.
    fn device(&self) -> Option<DeviceChoice> {
        match &self.command {
            Command::Demo(a) => Some(a.device()),
            Command::Train(a) => Some(a.device()),
            Command::Sweep(a) => Some(a.device()),
            Command::Eval(a) => Some(a.device()),
            Command::Detect(a) => Some(a.device()),
            Command::Features(a) => Some(a.device()),
            _ => None,
        }
    }
}

/// Installs the log subscriber: `RUST_LOG` when set, else the level of
/// `-v`/`-q` (errors only by default), on stderr.
pub fn init_logging(cli: &Cli) {
    let level = match (cli.quiet, cli.verbose) {
        (true, _) => "off",
        (false, 0) => "error",
        (false, 1) => "warn",
        (false, 2) => "info",
        _ => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    // A second subscriber (a test harness) is not an error worth stopping for.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(true)
        .try_init();
}

/// Fixes process-wide settings once, at start, before any thread exists, so
/// nothing global changes mid-run:
/// - burn materialises loaded optimiser state on its default device, so a CPU
///   run pins that default to the CPU backend (`BURN_DEVICE=flex`) instead of
///   starting a GPU runtime for nothing;
/// - the CPU-kernel switch is read from `EARSHOT_CPU_KERNELS` here, once.
/// - `--device wgpu:N` makes adapter N wgpu's default device
///   (`CUBECL_WGPU_DEFAULT_DEVICE`), so the feature kernels and every tensor
///   burn places by default land on the adapter the model trains on.
pub fn fix_process_settings(cli: &Cli) {
    earshot::models::cpu::set_enabled(earshot::models::cpu::enabled_by_environment());
    let first_adapter = match &cli.command {
        Command::Sweep(a) => a.first_adapter(),
        _ => match cli.device() {
            Some(DeviceChoice::Wgpu(Some(n))) => Some(n),
            _ => None,
        },
    };
    if let Some(n) = first_adapter
        && std::env::var_os("CUBECL_WGPU_DEFAULT_DEVICE").is_none()
        && let Ok(chosen) = device::adapter(n)
    {
        // SAFETY: called first thing in main, while the process has one thread.
        unsafe { std::env::set_var("CUBECL_WGPU_DEFAULT_DEVICE", chosen.env_value) };
    }
    if std::env::var_os("BURN_DEVICE").is_some() {
        return;
    }
    if cli.device().is_some_and(DeviceChoice::trains_on_cpu) {
        // SAFETY: called first thing in main, while the process has one thread.
        unsafe { std::env::set_var("BURN_DEVICE", "flex") };
    }
}

/// Runs the parsed command.
pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Demo(args) => demo::run(args),
        Command::Completions(args) => completions::run(args),
        Command::Dashboard(args) => dashboard::run(args),
        Command::Data(cmd) => data::run(cmd),
        Command::Detect(args) => detect::run(args),
        Command::Devices(args) => devices::run(args),
        Command::Eval(args) => eval::run(args),
        Command::Export(cmd) => export::run(cmd),
        Command::Features(args) => features::run(args),
        Command::Init(args) => init::run(args),
        Command::Sweep(args) => sweep::run(args),
        Command::Train(args) => train::run(args),
        Command::Bench(cmd) => bench::run(cmd),
    }
}
