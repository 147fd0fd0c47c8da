// One LSTM layer over whole sequences: one workgroup per sequence walks all
// TIME steps (a persistent kernel), so a layer is one dispatch, not several
// per step. The input projection x · W_x for every step comes precomputed
// (one matmul before this kernel); per step each thread computes gate
// pre-activations from the previous hidden state kept in workgroup memory,
// then the cell update. Gates in the order input, forget, cell, output.

const INPUT: u32 = {{ input }}u;
const HIDDEN: u32 = {{ hidden }}u;
const GATES: u32 = 4u * HIDDEN;
const TIME: u32 = {{ time }}u;
const THREADS: u32 = {{ threads }}u;

// binding 0: x · W_x, [batch, TIME, GATES] (no bias).
@group(0) @binding(0) var<storage, read_write> projected: array<f32>;
// binding 1: the gate weight [INPUT + HIDDEN, GATES] row-major: W_x, then U.
@group(0) @binding(1) var<storage, read_write> weight: array<f32>;
// binding 2: gate biases, GATES values.
@group(0) @binding(2) var<storage, read_write> bias: array<f32>;
// binding 3: output, hidden states [batch, TIME, HIDDEN].
@group(0) @binding(3) var<storage, read_write> hidden: array<f32>;
// binding 4: output, gate activations [batch, TIME, GATES] (for the backward pass).
@group(0) @binding(4) var<storage, read_write> gates: array<f32>;
// binding 5: output, cell states [batch, TIME, HIDDEN] (for the backward pass).
@group(0) @binding(5) var<storage, read_write> cells: array<f32>;
// binding 6: [0] sequences in the batch, [1] workgroups per row of the grid.
@group(0) @binding(6) var<storage, read_write> params: array<u32>;

var<workgroup> h_prev: array<f32, HIDDEN>;
var<workgroup> c_prev: array<f32, HIDDEN>;
var<workgroup> pre: array<f32, GATES>;

// Written through exp so large inputs saturate instead of giving inf / inf.
fn sigmoid(x: f32) -> f32 {
    return 1.0 / (1.0 + exp(-x));
}

fn tanh_(x: f32) -> f32 {
    return 2.0 / (1.0 + exp(-2.0 * x)) - 1.0;
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
        c_prev[k] = 0.0;
    }
    workgroupBarrier();

    for (var t = 0u; t < TIME; t++) {
        let row = b * TIME + t;
        for (var j = lid; j < GATES; j += THREADS) {
            var acc = projected[row * GATES + j] + bias[j];
            for (var k = 0u; k < HIDDEN; k++) {
                acc += h_prev[k] * weight[(INPUT + k) * GATES + j];
            }
            pre[j] = acc;
        }
        workgroupBarrier();
        for (var k = lid; k < HIDDEN; k += THREADS) {
            let i = sigmoid(pre[k]);
            let f = sigmoid(pre[HIDDEN + k]);
            let g = tanh_(pre[2u * HIDDEN + k]);
            let o = sigmoid(pre[3u * HIDDEN + k]);
            let c = f * c_prev[k] + i * g;
            let h = o * tanh_(c);
            c_prev[k] = c;
            h_prev[k] = h;
            if (in_range) {
                hidden[row * HIDDEN + k] = h;
                cells[row * HIDDEN + k] = c;
                gates[row * GATES + k] = i;
                gates[row * GATES + HIDDEN + k] = f;
                gates[row * GATES + 2u * HIDDEN + k] = g;
                gates[row * GATES + 3u * HIDDEN + k] = o;
            }
        }
        workgroupBarrier();
    }
}
