// The backward pass of batch_norm_relu.wgsl: one workgroup per channel c
// recomputes the batch statistics of v = z + bias from the saved z = x W,
// then, with g the gradient past the ReLU (dy where y > 0) and vh the
// normalised v: dbeta = sum g, dgamma = sum g vh,
// dz = gamma / std * (g - mean(g) - vh mean(g vh)), dbias = sum dz (zero but
// for rounding: the batch mean absorbs the bias), and the weight's column
// dW[:, c] = x^T dz[:, c] (one thread per input). The input's gradient
// dz W^T mixes channels, so it is a matmul after this kernel.

const THREADS: u32 = {{ threads }}u;
const EPSILON: f32 = {{ epsilon }};

// binding 0: the block's input x, [rows, inputs].
@group(0) @binding(0) var<storage, read_write> x: array<f32>;
// binding 1: the forward pass's z = x W, [rows, channels].
@group(0) @binding(1) var<storage, read_write> z: array<f32>;
// binding 2, 3: the Linear bias and gamma, one per channel.
@group(0) @binding(2) var<storage, read_write> bias: array<f32>;
@group(0) @binding(3) var<storage, read_write> gamma: array<f32>;
// binding 4: the forward output (its ReLU mask), [rows, channels].
@group(0) @binding(4) var<storage, read_write> y: array<f32>;
// binding 5: gradient by the output, [rows, channels].
@group(0) @binding(5) var<storage, read_write> grad_y: array<f32>;
// binding 6: output, gradient by z, [rows, channels].
@group(0) @binding(6) var<storage, read_write> grad_z: array<f32>;
// binding 7: output, gradient by the weight, [inputs, channels].
@group(0) @binding(7) var<storage, read_write> grad_weight: array<f32>;
// binding 8, 9, 10: output, gradients by gamma, beta and the bias.
@group(0) @binding(8) var<storage, read_write> grad_gamma: array<f32>;
@group(0) @binding(9) var<storage, read_write> grad_beta: array<f32>;
@group(0) @binding(10) var<storage, read_write> grad_bias: array<f32>;
// binding 11: [0] rows, [1] channels, [2] workgroups per row of the grid,
// [3] inputs.
@group(0) @binding(11) var<storage, read_write> params: array<u32>;

var<workgroup> partial: array<f32, THREADS>;

fn workgroup_sum(value: f32, lid: u32) -> f32 {
    partial[lid] = value;
    workgroupBarrier();
    for (var half = THREADS / 2u; half > 0u; half = half / 2u) {
        if (lid < half) {
            partial[lid] += partial[lid + half];
        }
        workgroupBarrier();
    }
    let total = partial[0];
    workgroupBarrier();
    return total;
}

fn past_relu(at: u32) -> f32 {
    if (y[at] > 0.0) {
        return grad_y[at];
    }
    return 0.0;
}

@compute @workgroup_size({{ threads }})
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let rows = params[0];
    let channels = params[1];
    let channel = wg.x + wg.y * params[2];
    let in_range = channel < channels;
    let c = min(channel, channels - 1u);
    let n = f32(rows);
    let shift = bias[c];

    var sum = 0.0;
    for (var r = lid; r < rows; r += THREADS) {
        sum += z[r * channels + c] + shift;
    }
    let mean = workgroup_sum(sum, lid) / n;
    var squares = 0.0;
    for (var r = lid; r < rows; r += THREADS) {
        let d = z[r * channels + c] + shift - mean;
        squares += d * d;
    }
    let inv_std = 1.0 / sqrt(workgroup_sum(squares, lid) / n + EPSILON);

    var sum_g = 0.0;
    var sum_gv = 0.0;
    for (var r = lid; r < rows; r += THREADS) {
        let at = r * channels + c;
        let g = past_relu(at);
        sum_g += g;
        sum_gv += g * (z[at] + shift - mean) * inv_std;
    }
    let total_g = workgroup_sum(sum_g, lid);
    let total_gv = workgroup_sum(sum_gv, lid);
    let scale = gamma[c] * inv_std;
    var sum_dz = 0.0;
    for (var r = lid; r < rows; r += THREADS) {
        let at = r * channels + c;
        let vh = (z[at] + shift - mean) * inv_std;
        let dz = scale * (past_relu(at) - total_g / n - vh * total_gv / n);
        sum_dz += dz;
        if (in_range) {
            grad_z[at] = dz;
        }
    }
    let total_dz = workgroup_sum(sum_dz, lid);
    if (in_range && lid == 0u) {
        grad_gamma[c] = total_gv;
        grad_beta[c] = total_g;
        grad_bias[c] = total_dz;
    }
    // The column of dz written above by the whole workgroup, read by all.
    storageBarrier();
    if (in_range) {
        let inputs = params[3];
        for (var i = lid; i < inputs; i += THREADS) {
            var acc = 0.0;
            for (var r = 0u; r < rows; r++) {
                acc += x[r * inputs + i] * grad_z[r * channels + c];
            }
            grad_weight[i * channels + c] = acc;
        }
    }
}
