// The backward pass of mse_bias.wgsl: one workgroup per column c writes
// dz = 2 / n (z + bias - target) dloss for each row and sums them into
// dbias[c] by tree reduction (n = rows x columns).

const THREADS: u32 = {{ threads }}u;

// binding 0: z, [rows, columns].
@group(0) @binding(0) var<storage, read_write> z: array<f32>;
// binding 1: the bias, [columns].
@group(0) @binding(1) var<storage, read_write> bias: array<f32>;
// binding 2: the target (what the model should give), [rows, columns].
@group(0) @binding(2) var<storage, read_write> wanted: array<f32>;
// binding 3: the loss's gradient, [1].
@group(0) @binding(3) var<storage, read_write> grad_loss: array<f32>;
// binding 4: output, gradient by z (and, negated, by the target), [rows, columns].
@group(0) @binding(4) var<storage, read_write> grad_z: array<f32>;
// binding 5: output, gradient by the bias, [columns].
@group(0) @binding(5) var<storage, read_write> grad_bias: array<f32>;
// binding 6: [0] rows, [1] columns, [2] workgroups per row of the grid.
@group(0) @binding(6) var<storage, read_write> params: array<u32>;

var<workgroup> partial: array<f32, THREADS>;

@compute @workgroup_size({{ threads }})
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let rows = params[0];
    let columns = params[1];
    let column = wg.x + wg.y * params[2];
    // Idle workgroups of the last grid row still reach every barrier.
    let in_range = column < columns;
    let c = min(column, columns - 1u);
    let scale = 2.0 / f32(rows * columns) * grad_loss[0];
    let shift = bias[c];
    var sum = 0.0;
    for (var r = lid; r < rows; r += THREADS) {
        let at = r * columns + c;
        let g = (z[at] + shift - wanted[at]) * scale;
        sum += g;
        if (in_range) {
            grad_z[at] = g;
        }
    }
    partial[lid] = sum;
    workgroupBarrier();
    for (var half = THREADS / 2u; half > 0u; half = half / 2u) {
        if (lid < half) {
            partial[lid] += partial[lid + half];
        }
        workgroupBarrier();
    }
    if (in_range && lid == 0u) {
        grad_bias[c] = partial[0];
    }
}
