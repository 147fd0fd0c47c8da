//! `earshot devices`: the wgpu adapters this machine has, and what `--device auto` takes.

use std::process::ExitCode;

use clap::Args;
use earshot::features::gpu::{NO_ADAPTER, wgpu_adapter_summaries};

#[derive(Debug, Args)]
pub struct DevicesArgs {
    /// One JSON object per adapter instead of a table.
    #[arg(long)]
    json: bool,
}

pub fn run(args: DevicesArgs) -> anyhow::Result<ExitCode> {
    let adapters = wgpu_adapter_summaries();
    if args.json {
        for a in &adapters {
            println!("{}", serde_json::to_string(a)?);
        }
        return Ok(ExitCode::SUCCESS);
    }
    if adapters.is_empty() {
        println!("{NO_ADAPTER}");
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "{:<3} {:<36} {:<8} {:<14} {:>12}  driver",
        "#", "adapter", "backend", "type", "max buffer"
    );
    for (i, a) in adapters.iter().enumerate() {
        println!(
            "{i:<3} {:<36} {:<8} {:<14} {:>9} MiB  {}",
            a.name,
            a.backend,
            a.device_type,
            a.max_buffer_bytes >> 20,
            a.driver
        );
    }
    let hardware = adapters.iter().find(|a| a.device_type != "Cpu");
    println!(
        "--device auto trains on {}; --device wgpu uses wgpu's default adapter ({})",
        hardware.map_or("the CPU (no hardware GPU adapter)".to_string(), |a| a
            .name
            .clone()),
        adapters[0].name
    );
    Ok(ExitCode::SUCCESS)
}
