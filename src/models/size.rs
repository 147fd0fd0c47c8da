//! How big a model will be, worked out from its config before anything is
//! allocated, so an impossible size is refused with the figure instead of
//! aborting the process in the allocator.

use super::{ModelConfig, VaeEncoder};

/// Bytes per parameter while training: the weight, its gradient and Adam's two
/// moments, all `f32`.
pub const TRAINING_BYTES_PER_PARAMETER: f64 = 16.0;

fn dense_stack(input: f64, widths: &[usize], bottleneck: f64) -> f64 {
    // Encoder input -> widths -> bottleneck, and the mirror back; weights,
    // biases and batch-norm scale, shift and running statistics.
    let mut sizes = vec![input];
    sizes.extend(widths.iter().map(|&w| w as f64));
    sizes.push(bottleneck);
    let one_way: f64 = sizes.windows(2).map(|p| p[0] * p[1] + 5.0 * p[1]).sum();
    2.0 * one_way + input
}

fn conv_stack(
    channels: &[usize],
    kernel: usize,
    stride: usize,
    input: [f64; 2],
    latent: f64,
) -> f64 {
    let k2 = (kernel * kernel) as f64;
    let mut sizes = vec![1.0];
    sizes.extend(channels.iter().map(|&c| c as f64));
    let convs: f64 = sizes
        .windows(2)
        .map(|p| p[0] * p[1] * k2 + 5.0 * p[1])
        .sum();
    let last = sizes.last().copied().unwrap_or(1.0);
    // Each strided layer shrinks both axes (rounding up, as padding does).
    let shrink = (stride.max(1) as f64).powi(channels.len() as i32);
    let area = (input[0] / shrink).ceil().max(1.0) * (input[1] / shrink).ceil().max(1.0);
    2.0 * convs + 2.0 * (latent * last * area + latent + last * area)
}

impl ModelConfig {
    /// Trainable parameters this model will have for `[frames, coeffs]`
    /// windows: an upper estimate in `f64`, so absurd configs do not overflow.
    pub fn parameter_estimate(&self, frames: usize, coeffs: usize) -> f64 {
        let (f, c) = (frames as f64, coeffs as f64);
        match self {
            ModelConfig::Dense(d) => dense_stack(f * c, &d.hidden, d.bottleneck as f64),
            ModelConfig::Cae(m) => conv_stack(
                &m.channels,
                m.kernel,
                m.stride,
                [f, c],
                m.latent.unwrap_or(0) as f64,
            ),
            ModelConfig::Rnn(r) => {
                let h = r.hidden as f64;
                let gates = 4.0; // LSTM; a GRU has 3, so this bounds both.
                let dirs = if r.bidirectional { 2.0 } else { 1.0 };
                let layer = |input: f64| gates * h * (input + h + 2.0) * dirs;
                let encoder = layer(c) + (r.layers.max(1) as f64 - 1.0) * layer(h * dirs);
                let decoder = layer(r.latent as f64) + (r.layers.max(1) as f64 - 1.0) * layer(h);
                encoder + decoder + 2.0 * (h * dirs + 1.0) * (r.latent as f64 + c)
            }
            // Reference detectors hold data, not trained parameters.
            ModelConfig::Gmm(_) | ModelConfig::Knn(_) => 0.0,
            ModelConfig::Vae(v) => match v.encoder {
                VaeEncoder::Dense => dense_stack(f * c, &v.hidden, 2.0 * v.latent as f64),
                VaeEncoder::Conv => conv_stack(
                    &v.channels,
                    v.kernel,
                    v.stride,
                    [f, c],
                    2.0 * v.latent as f64,
                ),
            },
        }
    }

    /// Refuses a model whose training state would not fit in `memory_bytes`.
    pub fn check_fits(
        &self,
        frames: usize,
        coeffs: usize,
        memory_bytes: f64,
    ) -> Result<(), String> {
        let params = self.parameter_estimate(frames, coeffs);
        let needed = params * TRAINING_BYTES_PER_PARAMETER;
        if needed > memory_bytes {
            return Err(format!(
                "model {} would have about {params:.3e} parameters: {:.1} GB for weights, gradients and Adam state, more than this machine's {:.1} GB of memory; make its layers smaller",
                self.name(),
                needed / 1e9,
                memory_bytes / 1e9
            ));
        }
        Ok(())
    }
}

/// Physical memory of this machine in bytes (`None` where it cannot be asked).
pub fn physical_memory() -> Option<f64> {
    #[cfg(unix)]
    {
        // SAFETY: sysconf only reads system constants.
        let (pages, page) = unsafe {
            (
                libc::sysconf(libc::_SC_PHYS_PAGES),
                libc::sysconf(libc::_SC_PAGESIZE),
            )
        };
        (pages > 0 && page > 0).then_some(pages as f64 * page as f64)
    }
    #[cfg(not(unix))]
    {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::prelude::Device;

    fn parse(text: &str) -> ModelConfig {
        toml::from_str(text).unwrap()
    }

    #[test]
    fn estimates_bound_the_real_parameter_counts() {
        let device = Device::flex();
        for text in [
            "kind = \"dense\"\nhidden = [64, 32]",
            "kind = \"cae\"",
            "kind = \"cae\"\nlatent = 16",
            "kind = \"rnn\"\nhidden = 16\nlatent = 8",
            "kind = \"rnn\"\nhidden = 16\nlatent = 8\nlayers = 2\nbidirectional = true",
            "kind = \"vae\"\nhidden = [32]\nlatent = 4",
            "kind = \"vae\"\nencoder = \"conv\"\nlatent = 4",
        ] {
            let model = parse(text);
            let real =
                burn::module::Module::num_params(&model.init(32, 20, &device).unwrap()) as f64;
            let estimate = model.parameter_estimate(32, 20);
            assert!(
                estimate >= real && estimate < 20.0 * real,
                "{text}: estimate {estimate}, real {real}"
            );
        }
    }

    #[test]
    fn an_impossible_model_is_refused_with_its_size() {
        let huge = parse("kind = \"dense\"\nhidden = [100000000, 100000000]");
        let err = huge.check_fits(32, 20, 24e9).unwrap_err();
        assert!(
            err.contains("e16 parameters") && err.contains("GB"),
            "{err}"
        );
        parse("kind = \"dense\"\nhidden = [64]")
            .check_fits(32, 20, 24e9)
            .unwrap();
    }
}
