// One GRU layer over whole sequences (burn's equations, reset after the
// product, gates in the order update, reset, new): one workgroup per sequence
// walks all TIME steps. The input part a = x W (every step, one matmul) comes
// precomputed; per step each thread computes hidden-part columns
// q = h U + c from the previous state in workgroup memory, then
// z = σ(a_z + b_z + q_z), r = σ(a_r + b_r + q_r), n = tanh(a_n + b_n + r q_n),
// h' = (1 - z) n + z h.

const HIDDEN: u32 = {{ hidden }}u;
const GATES: u32 = 3u * HIDDEN;
const TIME: u32 = {{ time }}u;
const THREADS: u32 = {{ threads }}u;

// binding 0: x W, [batch, TIME, GATES] (no bias).
@group(0) @binding(0) var<storage, read_write> projected: array<f32>;
// binding 1: the input bias b, GATES values.
@group(0) @binding(1) var<storage, read_write> bias_input: array<f32>;
// binding 2: the hidden weight U, [HIDDEN, GATES] row-major.
@group(0) @binding(2) var<storage, read_write> weight_hidden: array<f32>;
// binding 3: the hidden bias c, GATES values.
@group(0) @binding(3) var<storage, read_write> bias_hidden: array<f32>;
// binding 4: output, hidden states [batch, TIME, HIDDEN].
@group(0) @binding(4) var<storage, read_write> hidden: array<f32>;
// binding 5: output, z, r, n and q_n per step [batch, TIME, 4 HIDDEN] (for the backward pass).
@group(0) @binding(5) var<storage, read_write> trace: array<f32>;
// binding 6: [0] sequences in the batch, [1] workgroups per row of the grid.
@group(0) @binding(6) var<storage, read_write> params: array<u32>;

var<workgroup> h_prev: array<f32, HIDDEN>;
var<workgroup> q: array<f32, GATES>;

fn sigmoid(x: f32) -> f32 {
    return 1.0 / (1.0 + exp(-x));
}

@compute @workgroup_size({{ threads }})
fn main(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let batch = params[0];
    let sequence = wg.x + wg.y * params[1];
    // Idle workgroups of the last grid row still reach every barrier.
    let in_range = sequence < batch;
    let b = min(sequence, batch - 1u);

    for (var k = lid; k < HIDDEN; k += THREADS) {
        h_prev[k] = 0.0;
    }
    workgroupBarrier();

    for (var t = 0u; t < TIME; t++) {
        let row = b * TIME + t;
        for (var j = lid; j < GATES; j += THREADS) {
            var acc = bias_hidden[j];
            for (var k = 0u; k < HIDDEN; k++) {
                acc += h_prev[k] * weight_hidden[k * GATES + j];
            }
            q[j] = acc;
        }
        workgroupBarrier();
        for (var k = lid; k < HIDDEN; k += THREADS) {
            let a = row * GATES;
            let z = sigmoid(projected[a + k] + bias_input[k] + q[k]);
            let r = sigmoid(projected[a + HIDDEN + k] + bias_input[HIDDEN + k] + q[HIDDEN + k]);
            let q_n = q[2u * HIDDEN + k];
            let pre_n = projected[a + 2u * HIDDEN + k] + bias_input[2u * HIDDEN + k] + r * q_n;
            let n = 2.0 / (1.0 + exp(-2.0 * pre_n)) - 1.0;
            let h = (1.0 - z) * n + z * h_prev[k];
            h_prev[k] = h;
            if (in_range) {
                hidden[row * HIDDEN + k] = h;
                let s = row * 4u * HIDDEN;
                trace[s + k] = z;
                trace[s + HIDDEN + k] = r;
                trace[s + 2u * HIDDEN + k] = n;
                trace[s + 3u * HIDDEN + k] = q_n;
            }
        }
        workgroupBarrier();
    }
}
