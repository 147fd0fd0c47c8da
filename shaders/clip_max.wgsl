// Each clip's loudest log-mel value, for power_to_db's top_db floor:
// one workgroup per clip, a strided scan then a tree reduction in workgroup memory.

const N_MELS: u32 = {{ n_mels }}u;
const THREADS: u32 = {{ threads }}u;
const LOWEST: f32 = -3.0e38;

// binding 0: the batch's log-mel energies in dB, N_MELS per row (mel_db.wgsl).
@group(0) @binding(0) var<storage, read_write> mel_db: array<f32>;
// binding 1: per clip: x = its first row in `mel_db`, y = its row count,
// z, w unused.
@group(0) @binding(1) var<storage, read_write> clips: array<vec4<u32>>;
// binding 2: output, one maximum per clip.
@group(0) @binding(2) var<storage, read_write> clip_max: array<f32>;
// binding 3: [0] clips in the batch, [1] workgroups per row of the grid.
@group(0) @binding(3) var<storage, read_write> params: array<u32>;

var<workgroup> partial: array<f32, THREADS>;

@compute @workgroup_size({{ threads }})
fn main(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let count = params[0];
    let clip = wg.x + wg.y * params[1];
    let in_range = clip < count;
    let info = clips[min(clip, count - 1u)];
    let first = info.x * N_MELS;
    let values = info.y * N_MELS;
    var peak = LOWEST;
    for (var i = lid; i < values; i += THREADS) {
        peak = max(peak, mel_db[first + i]);
    }
    partial[lid] = peak;
    workgroupBarrier();
    for (var width = THREADS / 2u; width > 0u; width /= 2u) {
        if (lid < width) {
            partial[lid] = max(partial[lid], partial[lid + width]);
        }
        workgroupBarrier();
    }
    if (in_range && lid == 0u) {
        clip_max[clip] = partial[0];
    }
}
