//! `--device auto|cpu|wgpu`: which burn device runs the work.

use burn::prelude::Device;
use burn::tensor::DeviceKind;
use clap::ValueEnum;

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

use earshot::features::gpu::{NO_ADAPTER, wgpu_adapters as adapters};

impl DeviceChoice {
    /// Resolves to the device the feature stage can use in this version.
    pub fn resolve_features(self) -> anyhow::Result<&'static str> {
        match self {
            DeviceChoice::Cpu => Ok("cpu"),
            DeviceChoice::Auto => {
                if adapters().iter().any(|(_, software)| !software) {
                    eprintln!(
                        "note: GPU feature kernels are not part of this version yet; features run on the CPU"
                    );
                }
                Ok("cpu")
            }
            DeviceChoice::Wgpu => anyhow::bail!(
                "--device wgpu: the WGSL feature kernels are not part of this version yet; use --device cpu"
            ),
        }
    }

    /// Resolves to a training device and its description. `auto` takes a
    /// hardware GPU only: on a software adapter the CPU backend is faster.
    pub fn resolve_training(self) -> anyhow::Result<(Device, String)> {
        let use_cpu = || {
            // burn materialises loaded optimiser state on its default device; keep that on the CPU too.
            // SAFETY: called from the single-threaded start of a command, before any worker thread.
            unsafe { std::env::set_var("BURN_DEVICE", "flex") };
            (Device::flex(), "cpu (burn flex)".to_string())
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
