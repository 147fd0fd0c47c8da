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
