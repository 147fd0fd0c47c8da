//! `earshot export`: runs in other tools' formats.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use earshot::tensorboard::{self, Exported};

/// What to export.
#[derive(Debug, Subcommand)]
pub enum ExportCommand {
    /// Write TensorBoard event files for finished runs (every trial under RUNS_DIR).
    ///
    /// Each trial folder gets events.out.tfevents.<t>.earshot-export built from its
    /// events.jsonl: loss/train, loss/valid and lr per epoch, test/auc, test/pauc,
    /// test/threshold at the end, and the trial's settings in the HParams tab.
    /// Trials that wrote live event files ([train] tensorboard = true) are left as
    /// they are. Then: tensorboard --logdir RUNS_DIR
    ///
    /// Example: earshot export tensorboard runs/ && tensorboard --logdir runs/
    #[command(verbatim_doc_comment)]
    Tensorboard(TensorboardArgs),
    /// Write a trained model as safetensors, for PyTorch and other tools.
    ///
    /// Tensor names and shapes are burn's module paths (e.g. blocks.0.linear.weight,
    /// Linear weights as [in, out]); docs/pytorch_models.py rebuilds every kind as
    /// a torch.nn.Module that loads the file with load_state_dict. The header's
    /// metadata holds the model config, the feature settings, the normaliser and
    /// the threshold as JSON.
    ///
    /// Example: earshot export model runs/rnn_vs_cae/rnn --out rnn.safetensors
    #[command(verbatim_doc_comment)]
    Model(ModelArgs),
}

/// `export tensorboard` arguments.
#[derive(Debug, Args)]
pub struct TensorboardArgs {
    /// A runs folder, an experiment's folder or one trial folder.
    pub runs_dir: PathBuf,
}

/// `export model` arguments.
#[derive(Debug, Args)]
pub struct ModelArgs {
    /// The trial folder (holding model/).
    pub run_dir: PathBuf,
    /// The format; safetensors is the one there is (burn 0.22 has no ONNX export).
    #[arg(long, default_value = "safetensors")]
    pub format: ExportFormat,
    /// Output file, outside the trial folder [default: RUN_DIR/model/model.safetensors].
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Export a failed or unfinished (killed, still running) trial too; the
    /// metadata's `status` then says which.
    #[arg(long)]
    pub allow_unfinished: bool,
}

/// Model formats.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum ExportFormat {
    /// Hugging Face safetensors.
    Safetensors,
}

/// The lock file an export holds in the folder it reads.
const EXPORT_LOCK: &str = ".earshot-export.lock";

/// Runs `earshot export`.
pub fn run(cmd: ExportCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        ExportCommand::Tensorboard(args) => export_tensorboard(args),
        ExportCommand::Model(args) => export_model(args),
    }
}

fn export_tensorboard(args: TensorboardArgs) -> anyhow::Result<ExitCode> {
    if !args.runs_dir.is_dir() {
        bail!(
            "{} is not a folder; give a runs folder (e.g. runs/) or a trial folder",
            args.runs_dir.display()
        );
    }
    let trials = trial_folders(&args.runs_dir);
    if trials.is_empty() {
        bail!(
            "no trial folders (with events.jsonl) under {}",
            args.runs_dir.display()
        );
    }
    // Two exports into one runs folder at once take turns (both rewrite the same event files).
    let lock_path = args.runs_dir.join(EXPORT_LOCK);
    let _lock = earshot::fsx::lock_exclusive(&lock_path)
        .with_context(|| format!("locking {}", lock_path.display()))?;
    let (mut wrote, mut live) = (0, 0);
    for trial in &trials {
        match tensorboard::export_trial(trial)
            .with_context(|| format!("exporting {}", trial.display()))?
        {
            Exported::Wrote(path, records) => {
                wrote += 1;
                println!("{} ({records} records)", path.display());
            }
            Exported::HasLive => {
                live += 1;
                println!("{}: has live event files, left as is", trial.display());
            }
            Exported::NoEvents => {}
        }
    }
    println!(
        "exported {wrote} trial(s){}; view with: tensorboard --logdir {}",
        if live > 0 {
            format!(", {live} already live")
        } else {
            String::new()
        },
        args.runs_dir.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// Folders under `root` (itself included, three levels down: runs/experiment/trial,
/// plus per-machine folders) holding `events.jsonl`, set-aside runs skipped.
fn trial_folders(root: &std::path::Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = walkdir::WalkDir::new(root)
        .max_depth(4)
        .into_iter()
        .filter_entry(|e| !earshot::fsx::is_set_aside(e.path()))
        .flatten()
        .filter(|e| e.file_type().is_dir() && e.path().join("events.jsonl").is_file())
        .map(|e| e.into_path())
        .collect();
    out.sort();
    out
}

fn export_model(args: ModelArgs) -> anyhow::Result<ExitCode> {
    let ExportFormat::Safetensors = args.format;
    let out = args.out.clone().unwrap_or_else(|| {
        args.run_dir
            .join("model")
            .join(earshot::experiment::export::DEFAULT_EXPORT)
    });
    // Two exports of one trial at once take turns.
    let lock_path = args.run_dir.join(EXPORT_LOCK);
    let _lock = earshot::fsx::lock_exclusive(&lock_path)
        .with_context(|| format!("locking {}", lock_path.display()))?;
    let summary =
        earshot::experiment::export::export_safetensors(&args.run_dir, &out, args.allow_unfinished)
            .with_context(|| format!("exporting {}", args.run_dir.display()))?;
    println!(
        "{}: {} tensors, {} parameters ({})",
        out.display(),
        summary.tensors,
        summary.parameters,
        summary.kind
    );
    Ok(ExitCode::SUCCESS)
}
