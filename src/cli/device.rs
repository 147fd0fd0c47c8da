//! `--device auto|cpu|wgpu|wgpu:N`: which burn device runs the work.

use std::fmt;
use std::str::FromStr;

use anyhow::Context;
use burn::prelude::Device;
use burn::tensor::DeviceKind;
use earshot::features::gpu::{
    AdapterSelection, GpuExtractor, NO_ADAPTER, select_adapter, wgpu_adapter_summaries,
    wgpu_adapters as adapters,
};
use earshot::features::{CpuExtractor, FeatureConfig, FeatureEngine};

/// What `--device` takes, for every command's help.
pub const DEVICE_HELP: &str = "auto: a hardware GPU through wgpu when there is one, else the CPU; \
     cpu: burn's CPU backend (features: rustfft + rayon); \
     wgpu: wgpu's default adapter (lavapipe counts); \
     wgpu:N: adapter N of `earshot devices`";

/// Where computation runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceChoice {
    /// A hardware GPU through wgpu when one is found, else the CPU (said on stderr).
    Auto,
    /// The CPU (features: rustfft + rayon; training: burn's flex backend).
    Cpu,
    /// The GPU through wgpu (Vulkan, Metal, DX12); software Vulkan (lavapipe)
    /// counts. `Some(n)`: adapter n of `earshot devices`.
    Wgpu(Option<usize>),
}

impl FromStr for DeviceChoice {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "auto" => Ok(DeviceChoice::Auto),
            "cpu" => Ok(DeviceChoice::Cpu),
            "wgpu" => Ok(DeviceChoice::Wgpu(None)),
            _ => match s.strip_prefix("wgpu:").map(str::parse::<usize>) {
                Some(Ok(n)) => Ok(DeviceChoice::Wgpu(Some(n))),
                _ => Err(format!(
                    "{s:?} is not a device; use auto, cpu, wgpu or wgpu:N (N from `earshot devices`)"
                )),
            },
        }
    }
}

impl fmt::Display for DeviceChoice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DeviceChoice::Auto => f.write_str("auto"),
            DeviceChoice::Cpu => f.write_str("cpu"),
            DeviceChoice::Wgpu(None) => f.write_str("wgpu"),
            DeviceChoice::Wgpu(Some(n)) => write!(f, "wgpu:{n}"),
        }
    }
}

/// Adapter `index` of `earshot devices`, or why it cannot be used.
pub fn adapter(index: usize) -> anyhow::Result<AdapterSelection> {
    select_adapter(&wgpu_adapter_summaries(), index)
        .map_err(|e| anyhow::anyhow!("--device wgpu:{index}: {e}"))
}

/// A training device on adapter `index`, with its description.
pub fn adapter_device(index: usize) -> anyhow::Result<(Device, String)> {
    let chosen = adapter(index)?;
    // When `fix_process_settings` made this adapter wgpu's default device, the
    // feature kernels run on burn's default device: train on that same device,
    // not a second one on the same adapter, so their output stays for training.
    let is_default = std::env::var("CUBECL_WGPU_DEFAULT_DEVICE").ok() == Some(chosen.env_value);
    let kind = if is_default {
        DeviceKind::DefaultDevice
    } else {
        chosen.kind
    };
    Ok((
        Device::wgpu(kind),
        format!(
            "wgpu:{index}: {} ({})",
            chosen.summary.name, chosen.summary.backend
        ),
    ))
}

impl DeviceChoice {
    /// Whether training under this choice runs on the CPU (`auto` without a hardware adapter).
    pub fn trains_on_cpu(self) -> bool {
        match self {
            DeviceChoice::Cpu => true,
            DeviceChoice::Wgpu(_) => false,
            DeviceChoice::Auto => !adapters().iter().any(|(_, software)| !software),
        }
    }

    /// The feature extractor for this choice: our WGSL kernels on wgpu, or the
    /// CPU reference. `auto` takes a hardware adapter only (on the software
    /// driver lavapipe the CPU path is faster) and says so when it falls back.
    pub fn feature_engine(self, config: &FeatureConfig) -> anyhow::Result<FeatureEngine> {
        let cpu = || -> anyhow::Result<FeatureEngine> {
            Ok(FeatureEngine::Cpu(
                CpuExtractor::new(config).context("invalid feature options")?,
            ))
        };
        match self {
            DeviceChoice::Cpu => cpu(),
            // On `wgpu:N` the default device is that adapter (set at start, see
            // `fix_process_settings`), so the kernels run there.
            DeviceChoice::Wgpu(_) => Ok(FeatureEngine::Gpu(Box::new(
                GpuExtractor::new(config).context("--device wgpu")?,
            ))),
            DeviceChoice::Auto => {
                let adapters = adapters();
                if !adapters.iter().any(|(_, software)| !software) {
                    eprintln!(
                        "note: {}; features run on the CPU (--device wgpu forces the GPU kernels)",
                        if adapters.is_empty() {
                            "no wgpu adapter found"
                        } else {
                            "only a software wgpu adapter found"
                        }
                    );
                    return cpu();
                }
                let (engine, why_not_gpu) =
                    FeatureEngine::gpu_or_cpu(config).context("invalid feature options")?;
                if let Some(e) = why_not_gpu {
                    eprintln!("note: GPU features unavailable ({e}); features run on the CPU");
                }
                Ok(engine)
            }
        }
    }

    /// Resolves to a training device and its description. `auto` takes a
    /// hardware GPU only: on a software adapter the CPU backend is faster.
    pub fn resolve_training(self) -> anyhow::Result<(Device, String)> {
        let use_cpu = || {
            let device = Device::flex();
            // Recorded with every trial: kernels and burn's ops differ in the last bits.
            let with_kernels = earshot::models::cpu::supported(&device, burn::tensor::DType::F32);
            let name = if with_kernels {
                "cpu (burn flex + earshot CPU kernels)"
            } else {
                "cpu (burn flex, EARSHOT_CPU_KERNELS=off)"
            };
            (device, name.to_string())
        };
        match self {
            DeviceChoice::Cpu => Ok(use_cpu()),
            DeviceChoice::Wgpu(Some(index)) => adapter_device(index),
            DeviceChoice::Wgpu(None) => match adapters().into_iter().next() {
                Some((name, _)) => Ok((
                    Device::wgpu(DeviceKind::DefaultDevice),
                    format!("wgpu: {name}"),
                )),
                None => anyhow::bail!(NO_ADAPTER),
            },
            DeviceChoice::Auto => match adapters().into_iter().find(|(_, software)| !software) {
                Some((name, _)) => Ok((
                    Device::wgpu(DeviceKind::DefaultDevice),
                    format!("wgpu: {name}"),
                )),
                None => {
                    eprintln!("note: no hardware GPU adapter found; training on the CPU");
                    Ok(use_cpu())
                }
            },
        }
    }
}
