// A whole dense block in training: Linear (matmul and bias), batch
// normalisation with batch statistics, ReLU. One thread per output channel c
// computes its column z = x W[:, c] (saved for the backward pass), adds the
// bias, takes the batch mean and (biased) variance over the column, writes
// max((v - mean) / sqrt(var + eps) * gamma + beta, 0) with v = z + bias, and
// blends the batch statistics into the running ones as burn's BatchNorm does.
// burn runs this as a matmul and a score of separate kernels (its fusion
// leaves the training batch norm unfused), which made most of the dense
// autoencoder's dispatches.
//
// The product goes sixteen rows at a time: the rows' values of x are the same
// for every thread (one load each, shared by the workgroup) and each thread
// loads one weight per input for sixteen products. Neighbouring threads read
// neighbouring weights and write neighbouring values; a thread needs no other
// thread's results, so there is no barrier.

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

// Writes the column's values for rows r0..r0+3 that exist.
fn store_z(r0: u32, rows: u32, channels: u32, c: u32, values: vec4<f32>) {
    for (var j = 0u; j < min(4u, rows - min(r0, rows)); j++) {
        z[(r0 + j) * channels + c] = values[j];
    }
}

@compute @workgroup_size({{ threads }})
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let rows = params[0];
    let channels = params[1];
    let inputs = params[3];
    let channel = (wg.x + wg.y * params[2]) * THREADS + lid;
    // Threads past the last channel compute its column again and write nothing.
    let valid = channel < channels;
    let c = min(channel, channels - 1u);
    let last_row = rows - 1u;

    for (var r0 = 0u; r0 < rows; r0 += 16u) {
        // Rows past the last repeat it; their values are not written.
        let ra = min(vec4<u32>(r0, r0 + 1u, r0 + 2u, r0 + 3u), vec4<u32>(last_row)) * inputs;
        let rb = min(vec4<u32>(r0 + 4u, r0 + 5u, r0 + 6u, r0 + 7u), vec4<u32>(last_row)) * inputs;
        let rc = min(vec4<u32>(r0 + 8u, r0 + 9u, r0 + 10u, r0 + 11u), vec4<u32>(last_row)) * inputs;
        let rd = min(vec4<u32>(r0 + 12u, r0 + 13u, r0 + 14u, r0 + 15u), vec4<u32>(last_row)) * inputs;
        var a = vec4<f32>(0.0);
        var b = vec4<f32>(0.0);
        var e = vec4<f32>(0.0);
        var d = vec4<f32>(0.0);
        for (var i = 0u; i < inputs; i++) {
            let w = weight[i * channels + c];
            a += vec4<f32>(x[ra.x + i], x[ra.y + i], x[ra.z + i], x[ra.w + i]) * w;
            b += vec4<f32>(x[rb.x + i], x[rb.y + i], x[rb.z + i], x[rb.w + i]) * w;
            e += vec4<f32>(x[rc.x + i], x[rc.y + i], x[rc.z + i], x[rc.w + i]) * w;
            d += vec4<f32>(x[rd.x + i], x[rd.y + i], x[rd.z + i], x[rd.w + i]) * w;
        }
        if (valid) {
            store_z(r0, rows, channels, c, a);
            store_z(r0 + 4u, rows, channels, c, b);
            store_z(r0 + 8u, rows, channels, c, e);
            store_z(r0 + 12u, rows, channels, c, d);
        }
    }

    // The column's statistics, from the values this thread wrote (an invalid
    // thread reads the last channel's, and writes nothing).
    let n = f32(rows);
    let shift = bias[c];
    var sum = 0.0;
    for (var r = 0u; r < rows; r++) {
        sum += z[r * channels + c] + shift;
    }
    let mean = sum / n;
    var squares = 0.0;
    for (var r = 0u; r < rows; r++) {
        let dv = z[r * channels + c] + shift - mean;
        squares += dv * dv;
    }
    let variance = squares / n;
    let std_dev = sqrt(variance + EPSILON);
    let g = gamma[c];
    let bt = beta[c];
    if (valid) {
        for (var r = 0u; r < rows; r++) {
            let at = r * channels + c;
            y[at] = max((z[at] + shift - mean) / std_dev * g + bt, 0.0);
        }
        new_running_mean[c] = running_mean[c] * (1.0 - MOMENTUM) + mean * MOMENTUM;
        new_running_var[c] = running_var[c] * (1.0 - MOMENTUM) + variance * MOMENTUM;
    }
}
