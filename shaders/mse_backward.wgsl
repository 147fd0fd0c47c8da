// The backward pass of mse_bias.wgsl without a bias: a thread per value,
// dz = 2 / n (z - target) dloss, and nothing to reduce (with a bias,
// mse_bias_backward.wgsl also sums each column for the bias gradient).

const THREADS: u32 = 256u;

// binding 0: z, [rows, columns].
@group(0) @binding(0) var<storage, read_write> z: array<f32>;
// binding 1: the target, [rows, columns].
@group(0) @binding(1) var<storage, read_write> wanted: array<f32>;
// binding 2: the loss's gradient, [1].
@group(0) @binding(2) var<storage, read_write> grad_loss: array<f32>;
// binding 3: output, gradient by z (and, negated, by the target), [rows, columns].
@group(0) @binding(3) var<storage, read_write> grad_z: array<f32>;
// binding 4: [0] values (rows x columns), [1] workgroups per row of the grid.
@group(0) @binding(4) var<storage, read_write> params: array<u32>;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let n = params[0];
    let i = (wg.x + wg.y * params[1]) * THREADS + lid;
    if (i >= n) {
        return;
    }
    grad_z[i] = (z[i] - wanted[i]) * (2.0 / f32(n) * grad_loss[0]);
}
