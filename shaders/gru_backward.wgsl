// The backward pass of gru_forward.wgsl: one workgroup per sequence walks the
// steps in reverse. Per step, from dh (the output's gradient plus what flows
// back from step t + 1):
//   dn = dh (1 - z), dz = dh (h_prev - n), d(pre_n) = dn (1 - n^2),
//   da = [dz z (1 - z), dr r (1 - r), d(pre_n)] with dr = d(pre_n) q_n,
//   dq = [da_z, da_r, d(pre_n) r], dh_prev = dh z + dq U^T.
// The caller turns da and dq into the weight, bias and input gradients
// (matmuls and sums over all steps); this kernel also writes h_{t-1}.

const HIDDEN: u32 = {{ hidden }}u;
const GATES: u32 = 3u * HIDDEN;
const TIME: u32 = {{ time }}u;
const THREADS: u32 = {{ threads }}u;

// binding 0: the hidden weight U, [HIDDEN, GATES] row-major.
@group(0) @binding(0) var<storage, read_write> weight_hidden: array<f32>;
// binding 1: hidden states of the forward pass, [batch, TIME, HIDDEN].
@group(0) @binding(1) var<storage, read_write> hidden: array<f32>;
// binding 2: z, r, n, q_n of the forward pass, [batch, TIME, 4 HIDDEN].
@group(0) @binding(2) var<storage, read_write> trace: array<f32>;
// binding 3: gradient of the loss by the hidden states, [batch, TIME, HIDDEN].
@group(0) @binding(3) var<storage, read_write> grad_hidden: array<f32>;
// binding 4: output, gradient by the input part a, [batch, TIME, GATES].
@group(0) @binding(4) var<storage, read_write> grad_input_part: array<f32>;
// binding 5: output, gradient by the hidden part q, [batch, TIME, GATES].
@group(0) @binding(5) var<storage, read_write> grad_hidden_part: array<f32>;
// binding 6: output, h_{t-1} per step, [batch, TIME, HIDDEN].
@group(0) @binding(6) var<storage, read_write> previous: array<f32>;
// binding 7: [0] sequences in the batch, [1] workgroups per row of the grid.
@group(0) @binding(7) var<storage, read_write> params: array<u32>;

// Gradient reaching h_t from step t + 1.
var<workgroup> dh_next: array<f32, HIDDEN>;
var<workgroup> dq: array<f32, GATES>;

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
    }
    workgroupBarrier();

    for (var step = 0u; step < TIME; step++) {
        let t = TIME - 1u - step;
        let row = b * TIME + t;
        // Each thread keeps, for its units, the direct path dh z to h_{t-1}.
        for (var k = lid; k < HIDDEN; k += THREADS) {
            let s = row * 4u * HIDDEN;
            let z = trace[s + k];
            let r = trace[s + HIDDEN + k];
            let n = trace[s + 2u * HIDDEN + k];
            let q_n = trace[s + 3u * HIDDEN + k];
            var h_before = 0.0;
            if (t > 0u) {
                h_before = hidden[(row - 1u) * HIDDEN + k];
            }
            let dh = grad_hidden[row * HIDDEN + k] + dh_next[k];
            let dn = dh * (1.0 - z);
            let dz = dh * (h_before - n);
            let dpre_n = dn * (1.0 - n * n);
            let dpre_r = dpre_n * q_n * r * (1.0 - r);
            let dpre_z = dz * z * (1.0 - z);
            dq[k] = dpre_z;
            dq[HIDDEN + k] = dpre_r;
            dq[2u * HIDDEN + k] = dpre_n * r;
            // The direct path; the recurrent part is added after the barrier.
            dh_next[k] = dh * z;
            if (in_range) {
                let a = row * GATES;
                grad_input_part[a + k] = dpre_z;
                grad_input_part[a + HIDDEN + k] = dpre_r;
                grad_input_part[a + 2u * HIDDEN + k] = dpre_n;
                grad_hidden_part[a + k] = dpre_z;
                grad_hidden_part[a + HIDDEN + k] = dpre_r;
                grad_hidden_part[a + 2u * HIDDEN + k] = dpre_n * r;
                previous[row * HIDDEN + k] = h_before;
            }
        }
        workgroupBarrier();
        for (var k = lid; k < HIDDEN; k += THREADS) {
            var acc = dh_next[k];
            for (var j = 0u; j < GATES; j++) {
                acc += dq[j] * weight_hidden[k * GATES + j];
            }
            dh_next[k] = acc;
        }
        workgroupBarrier();
    }
}
