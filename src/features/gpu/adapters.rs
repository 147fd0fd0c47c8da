//! The wgpu adapters of this machine, as `earshot devices` lists them, and
//! which one `--device wgpu:N` means to burn.

use burn::tensor::DeviceKind;

/// The wgpu adapters this machine has: (name and backend, is a software rasteriser).
pub fn wgpu_adapters() -> Vec<(String, bool)> {
    wgpu_adapter_summaries()
        .into_iter()
        .map(|a| {
            (
                format!("{} ({})", a.name, a.backend),
                a.device_type == "Cpu",
            )
        })
        .collect()
}

/// One wgpu adapter, as `earshot devices` lists it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct AdapterSummary {
    /// The adapter's name.
    pub name: String,
    /// Vulkan, Metal, Dx12 or Gl.
    pub backend: String,
    /// DiscreteGpu, IntegratedGpu, VirtualGpu, Cpu (a software rasteriser) or Other.
    pub device_type: String,
    /// The driver and its version, where the backend says.
    pub driver: String,
    /// The largest buffer it allows, in bytes (wgpu reports no total memory).
    pub max_buffer_bytes: u64,
    /// Storage buffers one kernel may bind: burn's fusion puts as many
    /// tensors in one kernel as these allow (one less, which wgpu keeps), so
    /// with few (lavapipe: 32) an optimiser step takes more dispatches.
    pub storage_buffers_per_kernel: u32,
}

/// Every wgpu adapter, in wgpu's order.
pub fn wgpu_adapter_summaries() -> Vec<AdapterSummary> {
    let instance =
        wgpu::Instance::new(wgpu::InstanceDescriptor::new_without_display_handle_from_env());
    futures_lite::future::block_on(instance.enumerate_adapters(wgpu::Backends::all()))
        .into_iter()
        .map(|a| {
            let info = a.get_info();
            AdapterSummary {
                name: info.name,
                backend: format!("{:?}", info.backend),
                device_type: format!("{:?}", info.device_type),
                driver: format!("{} {}", info.driver, info.driver_info)
                    .trim()
                    .to_string(),
                max_buffer_bytes: a.limits().max_buffer_size,
                storage_buffers_per_kernel: a.limits().max_storage_buffers_per_shader_stage,
            }
        })
        .collect()
}

/// What to say when wgpu finds no adapter.
pub const NO_ADAPTER: &str = "no wgpu adapter found: install a Vulkan driver (on Debian: `apt-get install mesa-vulkan-drivers` \
     for the software driver lavapipe, or your GPU vendor's driver), or use --device cpu";

/// What `--device wgpu:N` selects: burn's name for the adapter and the same
/// as `CUBECL_WGPU_DEFAULT_DEVICE` spells it (so GPU features land there too).
#[derive(Debug, Clone, PartialEq)]
pub struct AdapterSelection {
    /// The index in `earshot devices`.
    pub index: usize,
    /// burn's device kind for it.
    pub kind: DeviceKind,
    /// The kind as `CUBECL_WGPU_DEFAULT_DEVICE` takes it.
    pub env_value: String,
    /// The adapter.
    pub summary: AdapterSummary,
}

/// The graphics API burn trains on here: the first of Vulkan, Metal, DX12,
/// GL with a hardware adapter, else the first with any (as burn settles it).
pub fn training_backend(adapters: &[AdapterSummary]) -> Option<String> {
    let order = ["Vulkan", "Metal", "Dx12", "Gl"];
    let has = |api: &str, hardware: bool| {
        adapters
            .iter()
            .any(|a| a.backend == api && (!hardware || a.device_type != "Cpu"))
    };
    order
        .iter()
        .find(|api| has(api, true))
        .or_else(|| order.iter().find(|api| has(api, false)))
        .map(|api| api.to_string())
}

/// Adapter `index` of `adapters` (the list `earshot devices` prints) as burn
/// addresses it: the nth adapter of its type on the graphics API burn uses.
pub fn select_adapter(
    adapters: &[AdapterSummary],
    index: usize,
) -> Result<AdapterSelection, String> {
    if adapters.is_empty() {
        return Err(NO_ADAPTER.to_string());
    }
    let listing = || {
        adapters
            .iter()
            .enumerate()
            .map(|(i, a)| format!("{i}: {} ({}, {})", a.name, a.backend, a.device_type))
            .collect::<Vec<_>>()
            .join("; ")
    };
    let summary = adapters.get(index).ok_or_else(|| {
        format!(
            "there is no adapter {index}; `earshot devices` lists {}",
            listing()
        )
    })?;
    let backend = training_backend(adapters).unwrap_or_default();
    if summary.backend != backend {
        return Err(format!(
            "adapter {index} ({}) is on {}, but burn trains on {backend} here (one graphics API per process); choose one on {backend}: {}",
            summary.name,
            summary.backend,
            listing()
        ));
    }
    let nth = adapters[..index]
        .iter()
        .filter(|a| a.backend == summary.backend && a.device_type == summary.device_type)
        .count();
    let (kind, env_value) = match summary.device_type.as_str() {
        "DiscreteGpu" => (DeviceKind::DiscreteGpu(nth), format!("DiscreteGpu({nth})")),
        "IntegratedGpu" => (
            DeviceKind::IntegratedGpu(nth),
            format!("IntegratedGpu({nth})"),
        ),
        "VirtualGpu" => (DeviceKind::VirtualGpu(nth), format!("VirtualGpu({nth})")),
        "Cpu" if nth == 0 => (DeviceKind::Cpu, "Cpu".to_string()),
        other => {
            return Err(format!(
                "adapter {index} ({}, type {other}) cannot be addressed by burn; choose another: {}",
                summary.name,
                listing()
            ));
        }
    };
    Ok(AdapterSelection {
        index,
        kind,
        env_value,
        summary: summary.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn adapter(name: &str, backend: &str, device_type: &str) -> AdapterSummary {
        AdapterSummary {
            name: name.into(),
            backend: backend.into(),
            device_type: device_type.into(),
            driver: String::new(),
            max_buffer_bytes: 1 << 30,
            storage_buffers_per_kernel: 16,
        }
    }

    #[test]
    fn indexes_count_per_type_on_the_api_burn_uses() {
        let list = vec![
            adapter("llvmpipe", "Vulkan", "Cpu"),
            adapter("RTX A", "Vulkan", "DiscreteGpu"),
            adapter("Intel", "Vulkan", "IntegratedGpu"),
            adapter("RTX B", "Vulkan", "DiscreteGpu"),
            adapter("RTX A", "Gl", "DiscreteGpu"),
        ];
        assert_eq!(training_backend(&list).as_deref(), Some("Vulkan"));
        let pick = |i| select_adapter(&list, i).map(|s| (s.kind, s.env_value));
        assert_eq!(pick(0), Ok((DeviceKind::Cpu, "Cpu".into())));
        assert_eq!(
            pick(3),
            Ok((DeviceKind::DiscreteGpu(1), "DiscreteGpu(1)".into()))
        );
        assert_eq!(
            pick(2),
            Ok((DeviceKind::IntegratedGpu(0), "IntegratedGpu(0)".into()))
        );
        let gl = select_adapter(&list, 4).unwrap_err();
        assert!(
            gl.contains("on Gl") && gl.contains("trains on Vulkan"),
            "{gl}"
        );
        let missing = select_adapter(&list, 9).unwrap_err();
        assert!(
            missing.contains("no adapter 9") && missing.contains("3: RTX B"),
            "{missing}"
        );
        // Only software on Vulkan but a GPU on GL: burn takes GL.
        let gl_only = vec![
            adapter("lavapipe", "Vulkan", "Cpu"),
            adapter("GPU", "Gl", "Other"),
        ];
        assert_eq!(training_backend(&gl_only).as_deref(), Some("Gl"));
        assert!(
            select_adapter(&[], 0)
                .unwrap_err()
                .contains("no wgpu adapter")
        );
    }
}
