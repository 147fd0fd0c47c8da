// The backward pass of reparameterize.wgsl, a thread per value: the
// gradient by the raw log-variance, dz * noise * exp(log_var / 2) / 2 where
// the clamp passed it (-20 <= raw <= 20, as burn's clamp), else 0. The
// mean's gradient is dz itself: no kernel.

const THREADS: u32 = 256u;

// binding 0: the log-variance before the clamp, [batch, latent].
@group(0) @binding(0) var<storage, read_write> raw: array<f32>;
// binding 1: the noise, [batch, latent].
@group(0) @binding(1) var<storage, read_write> noise: array<f32>;
// binding 2: the gradient by z, [batch, latent].
@group(0) @binding(2) var<storage, read_write> grad_z: array<f32>;
// binding 3: output, the gradient by raw, [batch, latent].
@group(0) @binding(3) var<storage, read_write> grad_raw: array<f32>;
// binding 4: [0] values, [1] threads per row of the grid.
@group(0) @binding(4) var<storage, read_write> params: array<u32>;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let i = (wg.x + wg.y * params[1]) * THREADS + lid;
    if (i >= params[0]) {
        return;
    }
    let r = raw[i];
    var g = 0.0;
    if (r >= -20.0 && r <= 20.0) {
        g = grad_z[i] * noise[i] * 0.5 * exp(r * 0.5);
    }
    grad_raw[i] = g;
}
