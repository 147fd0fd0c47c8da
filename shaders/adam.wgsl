// One Adam step over up to five parameter tensors in a single dispatch
// (burn's Adam is several kernels per tensor, and its fusion groups only
// tensors of one shape). The same arithmetic, in the same order, as burn's
// Adam and the CPU FusedAdam (src/train/fused_adam.rs):
//   g += p * weight_decay (L2, when not 0)
//   m = m b1 + g (1 - b1),  v = v b2 + g g (1 - b2)
//   p -= (m factor) / (sqrt(v) + epsilon) lr
// with the bias corrections folded into factor and epsilon on the host.
// Each slot's moments are one buffer [m; v] of 2n values (zeros before the
// first step, which gives burn's first-step moments exactly). Workgroup w
// updates Value w B + t of every slot (B threads, t the thread) where the slot
// has it, so the slots run side by side with no branch between them (a
// software driver may run every side of a branch, taken or not). The host
// chunks tensors of similar sizes together, so few threads are idle.
// Value is vec4<f32> when every slot's length is a multiple of four (one
// 16-byte load per value, a quarter of the invocations: a software driver
// pays per invocation and per load) and f32 otherwise; lengths and offsets
// below count Values.

const THREADS: u32 = {{ threads }}u;
alias Value = {{ value }};

// Slot k (0..4) uses bindings 5k .. 5k+4: the parameter, its gradient, its
// moments [m; v]; outputs, the parameter and moments after the step.
@group(0) @binding(0) var<storage, read_write> param_0: array<Value>;
@group(0) @binding(1) var<storage, read_write> grad_0: array<Value>;
@group(0) @binding(2) var<storage, read_write> moments_0: array<Value>;
@group(0) @binding(3) var<storage, read_write> param_out_0: array<Value>;
@group(0) @binding(4) var<storage, read_write> moments_out_0: array<Value>;
@group(0) @binding(5) var<storage, read_write> param_1: array<Value>;
@group(0) @binding(6) var<storage, read_write> grad_1: array<Value>;
@group(0) @binding(7) var<storage, read_write> moments_1: array<Value>;
@group(0) @binding(8) var<storage, read_write> param_out_1: array<Value>;
@group(0) @binding(9) var<storage, read_write> moments_out_1: array<Value>;
@group(0) @binding(10) var<storage, read_write> param_2: array<Value>;
@group(0) @binding(11) var<storage, read_write> grad_2: array<Value>;
@group(0) @binding(12) var<storage, read_write> moments_2: array<Value>;
@group(0) @binding(13) var<storage, read_write> param_out_2: array<Value>;
@group(0) @binding(14) var<storage, read_write> moments_out_2: array<Value>;
@group(0) @binding(15) var<storage, read_write> param_3: array<Value>;
@group(0) @binding(16) var<storage, read_write> grad_3: array<Value>;
@group(0) @binding(17) var<storage, read_write> moments_3: array<Value>;
@group(0) @binding(18) var<storage, read_write> param_out_3: array<Value>;
@group(0) @binding(19) var<storage, read_write> moments_out_3: array<Value>;
@group(0) @binding(20) var<storage, read_write> param_4: array<Value>;
@group(0) @binding(21) var<storage, read_write> grad_4: array<Value>;
@group(0) @binding(22) var<storage, read_write> moments_4: array<Value>;
@group(0) @binding(23) var<storage, read_write> param_out_4: array<Value>;
@group(0) @binding(24) var<storage, read_write> moments_out_4: array<Value>;
// binding 25: [0] beta_1, [1] beta_2, [2] factor, [3] epsilon, [4] learning
// rate, [5] L2 weight decay (0: none), [6] workgroups per grid row; then
// [7 + k] slot k's length n in Values (u32 values as f32 bits; unused slots
// have n = 0).
@group(0) @binding(25) var<storage, read_write> settings: array<f32>;

fn setting_u32(at: u32) -> u32 {
    return bitcast<u32>(settings[at]);
}

// Adam's constants, read once per thread.
struct Constants {
    b1: f32,
    b2: f32,
    factor: f32,
    epsilon: f32,
    lr: f32,
    decay: f32,
}

struct Stepped {
    p: Value,
    m: Value,
    v: Value,
}

// The parameter, m and v after the step.
fn adam(c: Constants, p: Value, grad: Value, m: Value, v: Value) -> Stepped {
    // L2 decay as burn adds it (a zero decay adds nothing: p * 0 = 0).
    let g = grad + p * c.decay;
    let m_new = m * c.b1 + g * (1.0 - c.b1);
    let v_new = v * c.b2 + g * g * (1.0 - c.b2);
    let p_new = p - (m_new * c.factor) / (sqrt(v_new) + c.epsilon) * c.lr;
    return Stepped(p_new, m_new, v_new);
}

@compute @workgroup_size({{ threads }})
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let c = Constants(settings[0], settings[1], settings[2], settings[3], settings[4], settings[5]);
    // One Value of each slot per thread, and no loop: a software driver runs a
    // loop around a conditional update with every lane masked, a few times
    // slower than this (measured on lavapipe: 10-17 ms a step -> 2-6 ms for
    // the VAE's largest chunk).
    let i = (wg.x + wg.y * setting_u32(6u)) * THREADS + lid;
    let n_0 = setting_u32(7u);
    if (i < n_0) {
        let r = adam(c, param_0[i], grad_0[i], moments_0[i], moments_0[n_0 + i]);
        param_out_0[i] = r.p;
        moments_out_0[i] = r.m;
        moments_out_0[n_0 + i] = r.v;
    }
    let n_1 = setting_u32(8u);
    if (i < n_1) {
        let r = adam(c, param_1[i], grad_1[i], moments_1[i], moments_1[n_1 + i]);
        param_out_1[i] = r.p;
        moments_out_1[i] = r.m;
        moments_out_1[n_1 + i] = r.v;
    }
    let n_2 = setting_u32(9u);
    if (i < n_2) {
        let r = adam(c, param_2[i], grad_2[i], moments_2[i], moments_2[n_2 + i]);
        param_out_2[i] = r.p;
        moments_out_2[i] = r.m;
        moments_out_2[n_2 + i] = r.v;
    }
    let n_3 = setting_u32(10u);
    if (i < n_3) {
        let r = adam(c, param_3[i], grad_3[i], moments_3[i], moments_3[n_3 + i]);
        param_out_3[i] = r.p;
        moments_out_3[i] = r.m;
        moments_out_3[n_3 + i] = r.v;
    }
    let n_4 = setting_u32(11u);
    if (i < n_4) {
        let r = adam(c, param_4[i], grad_4[i], moments_4[i], moments_4[n_4 + i]);
        param_out_4[i] = r.p;
        moments_out_4[i] = r.m;
        moments_out_4[n_4 + i] = r.v;
    }
}
