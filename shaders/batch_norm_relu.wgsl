// A whole dense block in training: Linear (matmul and bias), batch
// normalisation with batch statistics, ReLU. One workgroup per output
// channel c computes its column z = x W[:, c] (one thread per row, saved for
// the backward pass), adds the bias, takes the batch mean and (biased)
// variance by tree reduction in workgroup memory, writes
// max((v - mean) / sqrt(var + eps) * gamma + beta, 0) with v = z + bias, and
// blends the batch statistics into the running ones as burn's BatchNorm does.
// burn runs this as a matmul and a score of separate kernels (its fusion
// leaves the training batch norm unfused), which made most of the dense
// autoencoder's dispatches.

const THREADS: u32 = {{ threads }}u;
const EPSILON: f32 = {{ epsilon }};
const MOMENTUM: f32 = {{ momentum }};

// binding 0: the block's input x, [rows, inputs].
@group(0) @binding(0) var<storage, read_write> x: array<f32>;
// binding 1: the Linear weight W, [inputs, channels].
@group(0) @binding(1) var<storage, read_write> weight: array<f32>;
// binding 2, 3, 4: the Linear bias, gamma and beta, one per channel.
@group(0) @binding(2) var<storage, read_write> bias: array<f32>;
@group(0) @binding(3) var<storage, read_write> gamma: array<f32>;
@group(0) @binding(4) var<storage, read_write> beta: array<f32>;
// binding 5, 6: the running mean and variance before this batch.
@group(0) @binding(5) var<storage, read_write> running_mean: array<f32>;
@group(0) @binding(6) var<storage, read_write> running_var: array<f32>;
// binding 7: output, z = x W, [rows, channels].
@group(0) @binding(7) var<storage, read_write> z: array<f32>;
// binding 8: output, the block's output, [rows, channels].
@group(0) @binding(8) var<storage, read_write> y: array<f32>;
// binding 9, 10: output, the running mean and variance after it.
@group(0) @binding(9) var<storage, read_write> new_running_mean: array<f32>;
@group(0) @binding(10) var<storage, read_write> new_running_var: array<f32>;
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

@compute @workgroup_size({{ threads }})
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let rows = params[0];
    let channels = params[1];
    let channel = wg.x + wg.y * params[2];
    // Idle workgroups of the last grid row still reach every barrier.
    let in_range = channel < channels;
    let c = min(channel, channels - 1u);
    let inputs = params[3];
    let n = f32(rows);
    let shift = bias[c];

    // Each thread owns its rows: it writes their z and reads them back.
    var sum = 0.0;
    for (var r = lid; r < rows; r += THREADS) {
        var dot = 0.0;
        for (var i = 0u; i < inputs; i++) {
            dot += x[r * inputs + i] * weight[i * channels + c];
        }
        if (in_range) {
            z[r * channels + c] = dot;
        }
        sum += dot + shift;
    }
    let mean = workgroup_sum(sum, lid) / n;
    var squares = 0.0;
    for (var r = lid; r < rows; r += THREADS) {
        let d = z[r * channels + c] + shift - mean;
        squares += d * d;
    }
    let variance = workgroup_sum(squares, lid) / n;
    let std_dev = sqrt(variance + EPSILON);
    let g = gamma[c];
    let b = beta[c];
    if (in_range) {
        for (var r = lid; r < rows; r += THREADS) {
            let v = (z[r * channels + c] + shift - mean) / std_dev * g + b;
            y[r * channels + c] = max(v, 0.0);
        }
        if (lid == 0u) {
            new_running_mean[c] = running_mean[c] * (1.0 - MOMENTUM) + mean * MOMENTUM;
            new_running_var[c] = running_var[c] * (1.0 - MOMENTUM) + variance * MOMENTUM;
        }
    }
}
