//! `earshot init`: inspect a dataset and write a starter experiment.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;
use earshot::data::inspect::inspect;
use earshot::experiment::Experiment;
use earshot::experiment::starter::starter_experiment;

#[derive(Debug, Args)]
pub struct InitArgs {
    /// The dataset folder (train/normal, test/normal, test/anomaly; or DCASE names).
    data_root: PathBuf,
    /// Where to write the experiment [default: <folder name>.toml here]; never overwritten.
    #[arg(long)]
    out: Option<PathBuf>,
}

pub fn run(args: InitArgs) -> anyhow::Result<ExitCode> {
    let summary = inspect(&args.data_root)
        .with_context(|| format!("inspecting {}", args.data_root.display()))?;
    // Every file unreadable (not audio, or broken): a starter would be written
    // for clips of length NaN. Say which files and stop.
    if summary.rates.is_empty() || !summary.median_seconds.is_finite() {
        let examples: Vec<String> = summary
            .unreadable
            .iter()
            .take(3)
            .map(|(p, why)| format!("{}: {why}", p.display()))
            .collect();
        anyhow::bail!(
            "{}: none of its {} file(s) could be read as audio{}; earshot reads WAV, FLAC, MP3 and Ogg Vorbis. \
             Point init at a folder of recordings (train/normal, test/normal, test/anomaly)",
            args.data_root.display(),
            summary.unreadable.len(),
            if examples.is_empty() {
                String::new()
            } else {
                format!(" (e.g. {})", examples.join("; "))
            }
        );
    }
    let folder = args
        .data_root
        .canonicalize()
        .ok()
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "experiment".into());
    let name: String = folder
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let out = args
        .out
        .unwrap_or_else(|| PathBuf::from(format!("{name}.toml")));
    anyhow::ensure!(
        !out.exists(),
        "{} exists; earshot does not overwrite it (choose another --out)",
        out.display()
    );
    let text = starter_experiment(&summary, &name, &out.display().to_string());
    // The starter must load as it is: the same check `earshot train` makes.
    Experiment::parse(&text, &out).context("the starter experiment does not load (a bug)")?;
    std::fs::write(&out, &text).with_context(|| format!("writing {}", out.display()))?;
    eprintln!(
        "{}: {:?} layout, {} training, {} normal and {} anomalous test clips; rates {:?}; median clip {:.2} s",
        summary.root.display(),
        summary.layout,
        summary.train,
        summary.test_normal,
        summary.test_anomaly,
        summary.rates,
        summary.median_seconds
    );
    for (path, reason) in &summary.unreadable {
        eprintln!("  {}: {reason}", path.display());
    }
    println!(
        "wrote {}; next: earshot train {}",
        out.display(),
        out.display()
    );
    Ok(ExitCode::SUCCESS)
}
