//! `earshot detect`: score new audio with a trained trial.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use earshot::audio::discover;
use earshot::experiment::Detector;

use super::DeviceChoice;

#[derive(Debug, Args)]
pub struct DetectArgs {
    /// A trained trial: runs/<experiment>/<model> (or its model/ folder).
    #[arg(long)]
    model: PathBuf,
    /// Audio files or folders (searched recursively).
    #[arg(required = true)]
    audio: Vec<PathBuf>,
    /// One JSON object per file, one per line, instead of a table.
    #[arg(long)]
    json: bool,
    /// Frames between scored windows [default: the training hop]. Larger is
    /// faster with coarser segments; the threshold was fitted at the training hop.
    #[arg(long)]
    hop: Option<usize>,
    /// Where to run the model.
    #[arg(long, default_value_t = DeviceChoice::Cpu, value_name = "DEVICE", long_help = super::device::DEVICE_HELP)]
    device: DeviceChoice,
}

pub fn run(args: DetectArgs) -> anyhow::Result<ExitCode> {
    let (device, _) = args.device.resolve_training()?;
    let mut detector = Detector::load(&args.model, device)?;
    if let Some(hop) = args.hop {
        detector = detector.with_hop(hop);
    }
    let threshold = detector.threshold();
    if threshold.is_none() {
        eprintln!(
            "note: the model has no stored threshold (no validation data in training); scores only"
        );
    }
    let (files, unlisted) = discover(&args.audio);
    let mut failures: Vec<String> = unlisted
        .iter()
        .map(|(p, r)| format!("{}: {r}", p.display()))
        .collect();
    if !args.json {
        println!(
            "{:<48} {:>10} {:>8} {:>9}  segments",
            "file", "score", "flag", "seconds"
        );
    }
    let mut scored = 0;
    for file in &files {
        match detector.score_file(&file.path) {
            Ok(d) => {
                scored += 1;
                if args.json {
                    println!("{}", serde_json::to_string(&d)?);
                    continue;
                }
                let flag = if threshold.is_none() {
                    "-"
                } else if d.flagged {
                    "ANOMALY"
                } else {
                    "normal"
                };
                let segments: Vec<String> = d
                    .segments
                    .iter()
                    .map(|s| format!("{:.1}-{:.1}s ({:.3})", s.start_s, s.end_s, s.score))
                    .collect();
                println!(
                    "{:<48} {:>10.4} {:>8} {:>9.1}  {}",
                    file.path.display(),
                    d.score,
                    flag,
                    d.duration_s,
                    segments.join(", ")
                );
                if let Some(note) = d.note {
                    println!("{:<48} note: {note}", "");
                }
            }
            Err(reason) => failures.push(format!("{}: {reason}", file.path.display())),
        }
    }
    if let (Some(t), false) = (threshold, args.json) {
        let how = if t.fitted_on.is_empty() {
            "percentile of validation normal clip scores".to_string()
        } else {
            t.fitted_on.clone()
        };
        println!("threshold {:.4} ({how})", t.value);
    }
    for f in &failures {
        eprintln!("  {f}");
    }
    if scored == 0 {
        eprintln!("error: no input file could be scored");
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}

impl DetectArgs {
    /// The device the command runs on.
    pub fn device(&self) -> DeviceChoice {
        self.device
    }
}
