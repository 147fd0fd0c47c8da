//! `earshot devices`: the wgpu adapters this machine has, and what `--device auto` takes.

use std::process::ExitCode;

use clap::Args;
use earshot::features::gpu::{
    NO_ADAPTER, select_adapter, training_backend, wgpu_adapter_summaries,
};

#[derive(Debug, Args)]
pub struct DevicesArgs {
    /// One JSON object per adapter instead of a table.
    #[arg(long)]
    json: bool,
}

pub fn run(args: DevicesArgs) -> anyhow::Result<ExitCode> {
    let adapters = wgpu_adapter_summaries();
    // What --device spells each adapter as, where burn can train on it.
    let choice = |i: usize| {
        select_adapter(&adapters, i)
            .ok()
            .map(|_| format!("wgpu:{i}"))
    };
    if args.json {
        for (i, a) in adapters.iter().enumerate() {
            let mut value = serde_json::to_value(a)?;
            value["index"] = i.into();
            value["device"] = choice(i).into();
            println!("{value}");
        }
        return Ok(ExitCode::SUCCESS);
    }
    if adapters.is_empty() {
        println!("{NO_ADAPTER}");
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "{:<3} {:<9} {:<36} {:<8} {:<14} {:>12} {:>8}  driver",
        "#", "--device", "adapter", "backend", "type", "max buffer", "bindings"
    );
    for (i, a) in adapters.iter().enumerate() {
        println!(
            "{i:<3} {:<9} {:<36} {:<8} {:<14} {:>9} MiB {:>8}  {}",
            choice(i).unwrap_or_else(|| "-".into()),
            a.name,
            a.backend,
            a.device_type,
            a.max_buffer_bytes >> 20,
            a.storage_buffers_per_kernel,
            a.driver
        );
    }
    if let Some(api) = training_backend(&adapters) {
        println!("burn trains on {api} here; adapters marked - are on another graphics API");
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
