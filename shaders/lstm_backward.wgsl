// The backward pass of lstm_forward.wgsl: one workgroup per sequence walks
// the steps in reverse, turning the gradient of the hidden states into the
// gradient of the gate pre-activations. Weight, bias and input gradients are
// then matmuls and a sum over these (done by the caller), so this kernel
// also writes, per step, the layer's input row [x_t, h_{t-1}] those need.

const HIDDEN: u32 = {{ hidden }}u;
const GATES: u32 = 4u * HIDDEN;
const INPUT: u32 = {{ input }}u;
const WIDTH: u32 = INPUT + HIDDEN;
const TIME: u32 = {{ time }}u;
const THREADS: u32 = {{ threads }}u;

// binding 0: the layer's input x, [batch, TIME, INPUT].
@group(0) @binding(0) var<storage, read_write> x: array<f32>;
// binding 1: the gate weight [INPUT + HIDDEN, GATES] row-major: W_x, then U.
@group(0) @binding(1) var<storage, read_write> weight: array<f32>;
// binding 2: hidden states of the forward pass, [batch, TIME, HIDDEN].
@group(0) @binding(2) var<storage, read_write> hidden: array<f32>;
// binding 3: gate activations of the forward pass, [batch, TIME, GATES].
@group(0) @binding(3) var<storage, read_write> gates: array<f32>;
// binding 4: cell states of the forward pass, [batch, TIME, HIDDEN].
@group(0) @binding(4) var<storage, read_write> cells: array<f32>;
// binding 5: gradient of the loss by the hidden states, [batch, TIME, HIDDEN].
@group(0) @binding(5) var<storage, read_write> grad_hidden: array<f32>;
// binding 6: output, gradient by the gate pre-activations, [batch, TIME, GATES].
@group(0) @binding(6) var<storage, read_write> grad_gates: array<f32>;
// binding 7: output, [x_t, h_{t-1}] per step, [batch, TIME, WIDTH].
@group(0) @binding(7) var<storage, read_write> inputs: array<f32>;
// binding 8: [0] sequences in the batch, [1] workgroups per row of the grid.
@group(0) @binding(8) var<storage, read_write> params: array<u32>;

// Gradient reaching h_t from step t + 1, and reaching c_t from step t + 1.
var<workgroup> dh_next: array<f32, HIDDEN>;
var<workgroup> dc_next: array<f32, HIDDEN>;
var<workgroup> dpre: array<f32, GATES>;

@compute @workgroup_size({{ threads }})
fn main(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let batch = params[0];
    let sequence = wg.x + wg.y * params[1];
    let in_range = sequence < batch;
    let b = min(sequence, batch - 1u);

    for (var k = lid; k < HIDDEN; k += THREADS) {
        dh_next[k] = 0.0;
        dc_next[k] = 0.0;
    }
    workgroupBarrier();

    for (var step = 0u; step < TIME; step++) {
        let t = TIME - 1u - step;
        let row = b * TIME + t;
        for (var k = lid; k < HIDDEN; k += THREADS) {
            let i = gates[row * GATES + k];
            let f = gates[row * GATES + HIDDEN + k];
            let g = gates[row * GATES + 2u * HIDDEN + k];
            let o = gates[row * GATES + 3u * HIDDEN + k];
            let tc = 2.0 / (1.0 + exp(-2.0 * cells[row * HIDDEN + k])) - 1.0;
            var c_before = 0.0;
            var h_before = 0.0;
            if (t > 0u) {
                c_before = cells[(row - 1u) * HIDDEN + k];
                h_before = hidden[(row - 1u) * HIDDEN + k];
            }
            let dh = grad_hidden[row * HIDDEN + k] + dh_next[k];
            let dc = dh * o * (1.0 - tc * tc) + dc_next[k];
            let di = dc * g * i * (1.0 - i);
            let df = dc * c_before * f * (1.0 - f);
            let dg = dc * i * (1.0 - g * g);
            let do_ = dh * tc * o * (1.0 - o);
            dc_next[k] = dc * f;
            dpre[k] = di;
            dpre[HIDDEN + k] = df;
            dpre[2u * HIDDEN + k] = dg;
            dpre[3u * HIDDEN + k] = do_;
            if (in_range) {
                grad_gates[row * GATES + k] = di;
                grad_gates[row * GATES + HIDDEN + k] = df;
                grad_gates[row * GATES + 2u * HIDDEN + k] = dg;
                grad_gates[row * GATES + 3u * HIDDEN + k] = do_;
                inputs[row * WIDTH + INPUT + k] = h_before;
            }
        }
        for (var j = lid; j < INPUT; j += THREADS) {
            if (in_range) {
                inputs[row * WIDTH + j] = x[row * INPUT + j];
            }
        }
        workgroupBarrier();
        // dh_{t-1} = dpre · U^T.
        for (var k = lid; k < HIDDEN; k += THREADS) {
            var acc = 0.0;
            for (var j = 0u; j < GATES; j++) {
                acc += dpre[j] * weight[(INPUT + k) * GATES + j];
            }
            dh_next[k] = acc;
        }
        workgroupBarrier();
    }
}
