// top_db floor per clip, then the orthonormal DCT-II for MFCC (or a copy for
// log-mel), written into the padded output [clips, max_frames, COEFFS]:
// one invocation per output value, zero past a clip's last frame.

const N_MELS: u32 = {{ n_mels }}u;
const COEFFS: u32 = {{ coeffs }}u;
const MFCC: bool = {{ mfcc }};
// Dynamic range kept below each clip's maximum, in dB (a huge value when top_db is off).
const TOP_DB: f32 = {{ top_db }};

// binding 0: the batch's log-mel energies in dB, N_MELS per row (mel_db.wgsl).
@group(0) @binding(0) var<storage, read_write> mel_db: array<f32>;
// binding 1: per clip: x = first row in `mel_db`, y = rows, z, w unused.
@group(0) @binding(1) var<storage, read_write> clips: array<vec4<u32>>;
// binding 2: each clip's maximum in dB as order-preserving bits (clip_max.wgsl).
@group(0) @binding(2) var<storage, read_write> clip_max: array<u32>;
// binding 3: DCT-II basis, COEFFS rows of N_MELS (orthonormal); unread for log-mel.
@group(0) @binding(3) var<storage, read_write> dct: array<f32>;
// binding 4: output, clips x max_frames x COEFFS, from index params[3] on (the
// buffer may be a burn tensor holding several batches).
@group(0) @binding(4) var<storage, read_write> features: array<f32>;
// binding 5: [0] clips, [1] max_frames, [2] invocations per row of the grid,
// [3] index in `features` of this batch's first value.
@group(0) @binding(5) var<storage, read_write> params: array<u32>;

// The float behind clip_max.wgsl's `ordered_bits`.
fn from_ordered_bits(bits: u32) -> f32 {
    if ((bits & 0x80000000u) != 0u) {
        return bitcast<f32>(bits & 0x7fffffffu);
    }
    return bitcast<f32>(~bits);
}

@compute @workgroup_size({{ threads }})
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
    let id = gid.x + gid.y * params[2];
    let max_frames = params[1];
    if (id >= params[0] * max_frames * COEFFS) {
        return;
    }
    let clip = id / (max_frames * COEFFS);
    let t = (id / COEFFS) % max_frames;
    let c = id % COEFFS;
    let info = clips[clip];
    if (t >= info.y) {
        features[params[3] + id] = 0.0;
        return;
    }
    let floor_db = from_ordered_bits(clip_max[clip]) - TOP_DB;
    let row = (info.x + t) * N_MELS;
    if (MFCC) {
        var acc = 0.0;
        for (var m = 0u; m < N_MELS; m++) {
            acc += dct[c * N_MELS + m] * max(mel_db[row + m], floor_db);
        }
        features[params[3] + id] = acc;
    } else {
        features[params[3] + id] = max(mel_db[row + c], floor_db);
    }
}
