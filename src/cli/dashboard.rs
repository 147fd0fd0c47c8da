//! `earshot dashboard`: follow run folders live in the terminal.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

#[derive(Debug, Args)]
pub struct DashboardArgs {
    /// A runs folder (every experiment in it) or one experiment's folder.
    #[arg(default_value = "runs")]
    runs_dir: PathBuf,
}

pub fn run(args: DashboardArgs) -> anyhow::Result<ExitCode> {
    anyhow::ensure!(
        std::io::stdout().is_terminal(),
        "the dashboard needs a terminal; for scripts read {}/<experiment>/<trial>/events.jsonl and metrics.json",
        args.runs_dir.display()
    );
    if !args.runs_dir.is_dir() {
        eprintln!(
            "note: {} does not exist yet; the dashboard waits for runs to appear",
            args.runs_dir.display()
        );
    }
    earshot::dashboard::run(&args.runs_dir)?;
    Ok(ExitCode::SUCCESS)
}
