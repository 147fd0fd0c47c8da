//! `earshot completions SHELL`: a completion script generated from the same
//! clap definitions as the commands, so it never drifts from them.

use std::process::ExitCode;

use clap::{Args, CommandFactory};
use clap_complete::Shell;

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell: bash, zsh, fish, elvish or powershell.
    shell: Shell,
}

pub fn run(args: CompletionsArgs) -> anyhow::Result<ExitCode> {
    let mut command = super::Cli::command();
    clap_complete::generate(args.shell, &mut command, "earshot", &mut std::io::stdout());
    Ok(ExitCode::SUCCESS)
}
