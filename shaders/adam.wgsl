// One Adam step over one parameter tensor: moments and parameter updated in
// a single dispatch (burn's Adam is about ten tensor operations, each a
// dispatch). The same arithmetic, in the same order, as burn's Adam and the
// CPU FusedAdam (src/train/fused_adam.rs).

const THREADS: u32 = {{ threads }}u;

// binding 0: the parameter.
@group(0) @binding(0) var<storage, read_write> param: array<f32>;
// binding 1: its gradient.
@group(0) @binding(1) var<storage, read_write> grad: array<f32>;
// binding 2, 3: first and second moments (ignored on the first step).
@group(0) @binding(2) var<storage, read_write> moment_1: array<f32>;
@group(0) @binding(3) var<storage, read_write> moment_2: array<f32>;
// binding 4, 5, 6: outputs, the parameter and moments after the step.
@group(0) @binding(4) var<storage, read_write> param_out: array<f32>;
@group(0) @binding(5) var<storage, read_write> moment_1_out: array<f32>;
@group(0) @binding(6) var<storage, read_write> moment_2_out: array<f32>;
// binding 7: [0] beta_1, [1] beta_2, [2] bias-correction factor, [3] epsilon
// (already scaled by the second moment's correction), [4] learning rate,
// [5] L2 weight decay (0: none), [6] 1 on the first step, [7] elements
// (f32 bits of a u32), [8] threads per grid row (f32 bits of a u32).
@group(0) @binding(7) var<storage, read_write> settings: array<f32>;

@compute @workgroup_size({{ threads }})
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let n = bitcast<u32>(settings[7]);
    let i = (wg.x + wg.y * bitcast<u32>(settings[8])) * THREADS + lid;
    if (i >= n) {
        return;
    }
    let b1 = settings[0];
    let b2 = settings[1];
    let p = param[i];
    var g = grad[i];
    if (settings[5] != 0.0) {
        g = g + p * settings[5];
    }
    var m: f32;
    var v: f32;
    if (settings[6] != 0.0) {
        m = g * (1.0 - b1);
        v = g * g * (1.0 - b2);
    } else {
        m = moment_1[i] * b1 + g * (1.0 - b1);
        v = moment_2[i] * b2 + g * g * (1.0 - b2);
    }
    moment_1_out[i] = m;
    moment_2_out[i] = v;
    param_out[i] = p - (m * settings[2]) / (sqrt(v) + settings[3]) * settings[4];
}
