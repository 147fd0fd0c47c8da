//! `--device auto|cpu|wgpu`: which burn device runs the work.

use anyhow::Context;
use burn::prelude::Device;
use burn::tensor::DeviceKind;
use clap::ValueEnum;
use earshot::features::gpu::{GpuExtractor, NO_ADAPTER, wgpu_adapters as adapters};
use earshot::features::{CpuExtractor, FeatureConfig, FeatureEngine};

/// Where computation runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DeviceChoice {
    /// A hardware GPU through wgpu when one is found, else the CPU (said on stderr).
    Auto,
    /// The CPU (features: rustfft + rayon; training: burn's flex backend).
    Cpu,
    /// The GPU through wgpu (Vulkan, Metal, DX12); software Vulkan (lavapipe) counts.
    Wgpu,
}

impl DeviceChoice {
    /// Whether training under this choice runs on the CPU (`auto` without a hardware adapter).
    pub fn trains_on_cpu(self) -> bool {
        match self {
            DeviceChoice::Cpu => true,
            DeviceChoice::Wgpu => false,
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
            DeviceChoice::Wgpu => Ok(FeatureEngine::Gpu(Box::new(
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
            DeviceChoice::Wgpu => match adapters().into_iter().next() {
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
