//! The command-line overrides `train` and `sweep` share.

use std::path::PathBuf;

use clap::Args;
use earshot::experiment::overrides::Override;

/// `--set`, `--seed`, `--data`, `--data-dir`.
#[derive(Debug, Args)]
pub struct OverrideArgs {
    /// Override a setting of the experiment, by dotted path: train.epochs=10,
    /// data.root=/data/fsdd, model.latent=8 (every model), 'model[lstm].hidden=128'
    /// (one model). Values are TOML (numbers, [lists], "strings"); repeatable.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    overrides: Vec<Override>,
    /// Override the experiment's seed (0 to 9223372036854775807: experiment
    /// files are TOML, whose integers are 64-bit signed).
    #[arg(long, value_parser = clap::value_parser!(u64).range(..=i64::MAX as u64))]
    pub seed: Option<u64>,
    /// Use this dataset folder instead of the experiment's `[data] root`.
    #[arg(long, value_name = "ROOT")]
    data: Option<PathBuf>,
    /// Where relative `[data] root`s are looked up when not found from here or
    /// beside the experiment file [default: $EARSHOT_DATA, else ~/.cache/earshot/data].
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
}

impl OverrideArgs {
    /// Every override, `--data` as the last `data.root`.
    pub fn overrides(&self) -> Vec<Override> {
        let mut all = self.overrides.clone();
        if let Some(root) = &self.data {
            all.push(Override {
                key: "data.root".into(),
                value: toml::Value::String(root.display().to_string()),
            });
        }
        all
    }

    /// The folder relative roots are looked up under.
    pub fn data_dir(&self) -> Option<PathBuf> {
        earshot::datasets::data_dir_of(self.data_dir.as_deref())
    }
}
