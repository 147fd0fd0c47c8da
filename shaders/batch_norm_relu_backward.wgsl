// The backward pass of batch_norm_relu.wgsl: one workgroup per channel.
// With z the gradient past the ReLU (dy where y > 0) and xh the normalised
// input: dbeta = sum z, dgamma = sum z xh, and
// dx = gamma / std * (z - mean(z) - xh * mean(z xh)).

const THREADS: u32 = {{ threads }}u;
const EPSILON: f32 = {{ epsilon }};

// binding 0: x, [rows, channels].
@group(0) @binding(0) var<storage, read_write> x: array<f32>;
// binding 1: gamma, one per channel.
@group(0) @binding(1) var<storage, read_write> gamma: array<f32>;
// binding 2, 3: the batch mean and biased variance of the forward pass.
@group(0) @binding(2) var<storage, read_write> batch_mean: array<f32>;
@group(0) @binding(3) var<storage, read_write> batch_var: array<f32>;
// binding 4: the forward output (its ReLU mask), [rows, channels].
@group(0) @binding(4) var<storage, read_write> y: array<f32>;
// binding 5: gradient by the output, [rows, channels].
@group(0) @binding(5) var<storage, read_write> grad_y: array<f32>;
// binding 6: output, gradient by x, [rows, channels].
@group(0) @binding(6) var<storage, read_write> grad_x: array<f32>;
// binding 7, 8: output, gradients by gamma and by beta.
@group(0) @binding(7) var<storage, read_write> grad_gamma: array<f32>;
@group(0) @binding(8) var<storage, read_write> grad_beta: array<f32>;
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
    let mean = batch_mean[c];
    let inv_std = 1.0 / sqrt(batch_var[c] + EPSILON);

    var sum_z = 0.0;
    var sum_zx = 0.0;
    for (var r = lid; r < rows; r += THREADS) {
        let at = r * channels + c;
        let z = past_relu(at);
        sum_z += z;
        sum_zx += z * (x[at] - mean) * inv_std;
    }
    let total_z = workgroup_sum(sum_z, lid);
    let total_zx = workgroup_sum(sum_zx, lid);
    if (in_range) {
        let scale = gamma[c] * inv_std;
        for (var r = lid; r < rows; r += THREADS) {
            let at = r * channels + c;
            let xh = (x[at] - mean) * inv_std;
            grad_x[at] = scale * (past_relu(at) - total_z / n - xh * total_zx / n);
        }
        if (lid == 0u) {
            grad_gamma[c] = total_zx;
            grad_beta[c] = total_z;
        }
    }
}
