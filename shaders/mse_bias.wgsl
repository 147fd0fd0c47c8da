// A model's last Linear and its training loss in one pass: the mean over
// all values of (z + bias - target)^2, z = h W the Linear's matmul output
// [rows, columns], bias one per column. One workgroup sums by tree
// reduction in workgroup memory. burn runs the bias add, the difference, the
// square and a multi-stage mean as separate kernels. Without a bias (the
// loss alone, after a layer that is not a Linear) the bias is not read.

const THREADS: u32 = {{ threads }}u;
// Fixed per compiled kernel, so `% COLUMNS` is a multiply and a shift (a
// division by a runtime value is a scalar instruction per lane on lavapipe).
const COLUMNS: u32 = {{ columns }}u;
const WITH_BIAS: bool = {{ with_bias }};

// binding 0: z, [rows, columns].
@group(0) @binding(0) var<storage, read_write> z: array<f32>;
// binding 1: the bias, [columns] (unread without one).
@group(0) @binding(1) var<storage, read_write> bias: array<f32>;
// binding 2: the target (what the model should give), [rows, columns].
@group(0) @binding(2) var<storage, read_write> wanted: array<f32>;
// binding 3: output, the loss, [1].
@group(0) @binding(3) var<storage, read_write> loss: array<f32>;
// binding 4: [0] rows.
@group(0) @binding(4) var<storage, read_write> params: array<u32>;

var<workgroup> partial: array<f32, THREADS>;

@compute @workgroup_size({{ threads }})
fn main(@builtin(local_invocation_index) lid: u32) {
    let n = params[0] * COLUMNS;
    var sum = 0.0;
    for (var i = lid; i < n; i += THREADS) {
        var d = z[i] - wanted[i];
        if (WITH_BIAS) {
            d += bias[i % COLUMNS];
        }
        sum += d * d;
    }
    partial[lid] = sum;
    workgroupBarrier();
    for (var half = THREADS / 2u; half > 0u; half = half / 2u) {
        if (lid < half) {
            partial[lid] += partial[lid + half];
        }
        workgroupBarrier();
    }
    if (lid == 0u) {
        loss[0] = partial[0] / f32(n);
    }
}
