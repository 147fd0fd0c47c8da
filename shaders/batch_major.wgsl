// A matmul's result over a whole batch, [C, batch * P] (channels first, as
// the convolutions compute it), to the batch-major [batch, C, P] (NCHW) that
// the layers around them take, plus a per-channel bias where the layer has
// one: the layout change and the bias add in one pass, and the output is
// contiguous, so no later kernel has to copy it.

const THREADS: u32 = 256u;
// The shape, fixed per compiled kernel: the divisions below are by constants.
const BATCH: u32 = {{ batch }}u;
const C: u32 = {{ channels }}u;
const P: u32 = {{ positions }}u;
const WITH_BIAS: bool = {{ with_bias }};

// binding 0: the input, [C, BATCH * P].
@group(0) @binding(0) var<storage, read_write> channels_first: array<f32>;
// binding 1: the bias, [C] (unread without one).
@group(0) @binding(1) var<storage, read_write> bias: array<f32>;
// binding 2: output, [BATCH, C, P].
@group(0) @binding(2) var<storage, read_write> batch_major: array<f32>;
// binding 3: [0] workgroups per row of the grid.
@group(0) @binding(3) var<storage, read_write> params: array<u32>;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let i = (wg.x + wg.y * params[0]) * THREADS + lid;
    if (i >= BATCH * C * P) {
        return;
    }
    let p = i % P;
    let c = (i / P) % C;
    let b = i / (P * C);
    var value = channels_first[(c * BATCH + b) * P + p];
    if (WITH_BIAS) {
        value += bias[c];
    }
    batch_major[i] = value;
}
