//! `earshot demo`: generate a small household-sound dataset, train the RNN and
//! convolutional autoencoders on it, and show how well each flags anomalies.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;
use earshot::data::synth::{SynthCounts, write_dataset};
use earshot::experiment::{Experiment, Reuse};

use super::DeviceChoice;

/// The demo's experiment, embedded so the binary needs no file.
const DEMO_EXPERIMENT: &str = include_str!("../../experiments/demo.toml");

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Folder for the generated data (`data/`) and the runs (`runs/`).
    #[arg(long, default_value = "demo")]
    out: PathBuf,
    /// Where to train (auto: a hardware GPU if found, else the CPU).
    #[arg(long, default_value_t = DeviceChoice::Auto, value_name = "DEVICE", long_help = super::device::DEVICE_HELP)]
    device: DeviceChoice,
}

pub fn run(args: DemoArgs) -> anyhow::Result<ExitCode> {
    let mut experiment = Experiment::parse(DEMO_EXPERIMENT, "experiments/demo.toml".as_ref())?;
    let data = args.out.join("data");
    let counts = SynthCounts {
        train: 60,
        test_normal: 20,
        test_anomaly: 20,
        seconds: 2.0,
    };
    let files = write_dataset(&data, counts, experiment.seed)
        .with_context(|| format!("cannot write the demo dataset to {}", data.display()))?;
    eprintln!(
        "demo: generated {files} clips of {} s in {} (normal: noise, hum, voice-like bursts; anomalies: chirps, coughs)",
        counts.seconds,
        data.display()
    );
    experiment.data.root = data;
    // A demo run again moves the previous demo's runs aside rather than mixing them.
    super::train::train_and_report(
        &experiment,
        args.out.join("runs"),
        args.device,
        Reuse::Overwrite,
        true,
        None,
    )
}

impl DemoArgs {
    /// The device the command runs on.
    pub fn device(&self) -> DeviceChoice {
        self.device
    }
}
