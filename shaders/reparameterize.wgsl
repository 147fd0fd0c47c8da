// The VAE's reparameterised sample, a thread per value:
// z = mean + exp(log_var / 2) * noise, log_var = clamp(raw, -20, 20) (the
// clamp keeps exp() finite early in training). burn runs the clamp's
// compares and fills, the exp, the products and the sum as separate kernels
// unless its fusion catches them, and again for the backward pass.

const THREADS: u32 = 256u;

// binding 0: the posterior mean, [batch, latent].
@group(0) @binding(0) var<storage, read_write> mean: array<f32>;
// binding 1: the log-variance before the clamp, [batch, latent].
@group(0) @binding(1) var<storage, read_write> raw: array<f32>;
// binding 2: standard normal noise, [batch, latent].
@group(0) @binding(2) var<storage, read_write> noise: array<f32>;
// binding 3: output, the sample z, [batch, latent].
@group(0) @binding(3) var<storage, read_write> z: array<f32>;
// binding 4: [0] values, [1] threads per row of the grid.
@group(0) @binding(4) var<storage, read_write> params: array<u32>;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let i = (wg.x + wg.y * params[1]) * THREADS + lid;
    if (i >= params[0]) {
        return;
    }
    z[i] = mean[i] + exp(clamp(raw[i], -20.0, 20.0) * 0.5) * noise[i];
}
