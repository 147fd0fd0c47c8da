// The backward pass of batch_norm_relu.wgsl: one thread per channel c
// recomputes the batch statistics of v = z + bias from the saved z = x W,
// then, with g the gradient past the ReLU (dy where y > 0) and vh the
// normalised v: dbeta = sum g, dgamma = sum g vh,
// dz = gamma / std * (g - mean(g) - vh mean(g vh)), dbias = sum dz (zero but
// for rounding: the batch mean absorbs the bias), and the weight's column
// dW[:, c] = x^T dz[:, c], sixteen inputs at a time (the inputs' values of x
// are the same for every thread; each thread loads one dz per row for sixteen
// products). A thread reads back only the dz it wrote (a thread past the last
// channel, whose own it did not write, writes nothing): no barrier. The input's
// gradient dz W^T mixes channels, so it is a matmul after this kernel.

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

fn past_relu(at: u32) -> f32 {
    if (y[at] > 0.0) {
        return grad_y[at];
    }
    return 0.0;
}

// Writes the column's weight gradients for inputs i0..i0+3 that exist.
fn store_grad_weight(i0: u32, inputs: u32, channels: u32, c: u32, values: vec4<f32>) {
    for (var j = 0u; j < min(4u, inputs - min(i0, inputs)); j++) {
        grad_weight[(i0 + j) * channels + c] = values[j];
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
    let inv_std = 1.0 / sqrt(squares / n + EPSILON);

    var total_g = 0.0;
    var total_gv = 0.0;
    for (var r = 0u; r < rows; r++) {
        let at = r * channels + c;
        let g = past_relu(at);
        total_g += g;
        total_gv += g * (z[at] + shift - mean) * inv_std;
    }
    let scale = gamma[c] * inv_std;
    var total_dz = 0.0;
    for (var r = 0u; r < rows; r++) {
        let at = r * channels + c;
        let vh = (z[at] + shift - mean) * inv_std;
        let dz = scale * (past_relu(at) - total_g / n - vh * total_gv / n);
        total_dz += dz;
        if (valid) {
            grad_z[at] = dz;
        }
    }
    if (valid) {
        grad_gamma[c] = total_gv;
        grad_beta[c] = total_g;
        grad_bias[c] = total_dz;
    }

    let last_input = inputs - 1u;
    for (var i0 = 0u; i0 < inputs; i0 += 16u) {
        // Inputs past the last repeat it; their values are not written.
        let ia = min(vec4<u32>(i0, i0 + 1u, i0 + 2u, i0 + 3u), vec4<u32>(last_input));
        let ib = min(vec4<u32>(i0 + 4u, i0 + 5u, i0 + 6u, i0 + 7u), vec4<u32>(last_input));
        let ic = min(vec4<u32>(i0 + 8u, i0 + 9u, i0 + 10u, i0 + 11u), vec4<u32>(last_input));
        let id = min(vec4<u32>(i0 + 12u, i0 + 13u, i0 + 14u, i0 + 15u), vec4<u32>(last_input));
        var a = vec4<f32>(0.0);
        var b = vec4<f32>(0.0);
        var e = vec4<f32>(0.0);
        var d = vec4<f32>(0.0);
        for (var r = 0u; r < rows; r++) {
            let dz = grad_z[r * channels + c];
            let row = r * inputs;
            a += vec4<f32>(x[row + ia.x], x[row + ia.y], x[row + ia.z], x[row + ia.w]) * dz;
            b += vec4<f32>(x[row + ib.x], x[row + ib.y], x[row + ib.z], x[row + ib.w]) * dz;
            e += vec4<f32>(x[row + ic.x], x[row + ic.y], x[row + ic.z], x[row + ic.w]) * dz;
            d += vec4<f32>(x[row + id.x], x[row + id.y], x[row + id.z], x[row + id.w]) * dz;
        }
        if (valid) {
            store_grad_weight(i0, inputs, channels, c, a);
            store_grad_weight(i0 + 4u, inputs, channels, c, b);
            store_grad_weight(i0 + 8u, inputs, channels, c, e);
            store_grad_weight(i0 + 12u, inputs, channels, c, d);
        }
    }
}
