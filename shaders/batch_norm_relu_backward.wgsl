// The backward pass of batch_norm_relu.wgsl: one workgroup per channel
// recomputes the batch statistics of v = x + bias, then, with z the gradient
// past the ReLU (dy where y > 0) and xh the normalised v:
// dbeta = sum z, dgamma = sum z xh, dx = gamma / std * (z - mean(z) - xh mean(z xh)),
// and dbias = sum dx (zero but for rounding: the batch mean absorbs the bias).

const THREADS: u32 = {{ threads }}u;
const EPSILON: f32 = {{ epsilon }};

// binding 0: x, [rows, channels].
@group(0) @binding(0) var<storage, read_write> x: array<f32>;
// binding 1, 2: the Linear bias and gamma, one per channel.
@group(0) @binding(1) var<storage, read_write> bias: array<f32>;
@group(0) @binding(2) var<storage, read_write> gamma: array<f32>;
// binding 3: the forward output (its ReLU mask), [rows, channels].
@group(0) @binding(3) var<storage, read_write> y: array<f32>;
// binding 4: gradient by the output, [rows, channels].
@group(0) @binding(4) var<storage, read_write> grad_y: array<f32>;
// binding 5: output, gradient by x, [rows, channels].
@group(0) @binding(5) var<storage, read_write> grad_x: array<f32>;
// binding 6, 7, 8: output, gradients by gamma, beta and the bias.
@group(0) @binding(6) var<storage, read_write> grad_gamma: array<f32>;
@group(0) @binding(7) var<storage, read_write> grad_beta: array<f32>;
@group(0) @binding(8) var<storage, read_write> grad_bias: array<f32>;
// binding 9: [0] rows, [1] channels, [2] workgroups per row of the grid.
@group(0) @binding(9) var<storage, read_write> params: array<u32>;

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
        sum += x[r * channels + c] + shift;
    }
    let mean = workgroup_sum(sum, lid) / n;
    var squares = 0.0;
    for (var r = lid; r < rows; r += THREADS) {
        let d = x[r * channels + c] + shift - mean;
        squares += d * d;
    }
    let inv_std = 1.0 / sqrt(workgroup_sum(squares, lid) / n + EPSILON);

    var sum_z = 0.0;
    var sum_zx = 0.0;
    for (var r = lid; r < rows; r += THREADS) {
        let at = r * channels + c;
        let z = past_relu(at);
        sum_z += z;
        sum_zx += z * (x[at] + shift - mean) * inv_std;
    }
    let total_z = workgroup_sum(sum_z, lid);
    let total_zx = workgroup_sum(sum_zx, lid);
    let scale = gamma[c] * inv_std;
    var sum_dx = 0.0;
    for (var r = lid; r < rows; r += THREADS) {
        let at = r * channels + c;
        let xh = (x[at] + shift - mean) * inv_std;
        let dx = scale * (past_relu(at) - total_z / n - xh * total_zx / n);
        sum_dx += dx;
        if (in_range) {
            grad_x[at] = dx;
        }
    }
    let total_dx = workgroup_sum(sum_dx, lid);
    if (in_range && lid == 0u) {
        grad_gamma[c] = total_zx;
        grad_beta[c] = total_z;
        grad_bias[c] = total_dx;
    }
}
