// The backward pass of vae_sample.wgsl, a thread per value, with the KL
// term's gradient included (the term enters the loss once, unscaled):
// by the mean dz + 2 mean scale; by the raw log-variance
// dz noise exp(lv / 2) / 2 + (exp(lv) - 1) scale where the clamp passed it
// (-20 <= raw <= 20, as burn's clamp), else 0.

const THREADS: u32 = 256u;

// binding 0: the posterior mean, [batch, latent].
@group(0) @binding(0) var<storage, read_write> mean: array<f32>;
// binding 1: the log-variance before the clamp, [batch, latent].
@group(0) @binding(1) var<storage, read_write> raw: array<f32>;
// binding 2: the noise, [batch, latent].
@group(0) @binding(2) var<storage, read_write> noise: array<f32>;
// binding 3: the gradient by z, [batch, latent].
@group(0) @binding(3) var<storage, read_write> grad_z: array<f32>;
// binding 4: output, the gradient by the mean, [batch, latent].
@group(0) @binding(4) var<storage, read_write> grad_mean: array<f32>;
// binding 5: output, the gradient by raw, [batch, latent].
@group(0) @binding(5) var<storage, read_write> grad_raw: array<f32>;
// binding 6: [0] values, [1] workgroups per row of the grid.
@group(0) @binding(6) var<storage, read_write> params: array<u32>;
// binding 7: [0] scale.
@group(0) @binding(7) var<storage, read_write> scale: array<f32>;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let i = (wg.x + wg.y * params[1]) * THREADS + lid;
    if (i >= params[0]) {
        return;
    }
    let dz = grad_z[i];
    let s = scale[0];
    grad_mean[i] = dz + 2.0 * mean[i] * s;
    let r = raw[i];
    var g = 0.0;
    if (r >= -20.0 && r <= 20.0) {
        g = dz * noise[i] * 0.5 * exp(r * 0.5) + (exp(r) - 1.0) * s;
    }
    grad_raw[i] = g;
}
